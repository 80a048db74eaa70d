/**
 * The JSON form: the model as it is, keys in a stable order (alphabetical,
 * `schemaVersion` and `kind` first), pretty-printed, so two reports diff well.
 * It validates against schema.json.
 */
import { jsonForTerminals } from '../redact.js';
import type { Report } from './schema.js';

const FIRST = ['schemaVersion', 'kind'];

function ordered(value: unknown, top = false): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v));
  if (!value || typeof value !== 'object') return value;
  const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const head = top ? FIRST.filter((k) => keys.includes(k)) : [];
  // fromEntries defines each key as its own property: an assignment would take a source's
  // dist-tag named "__proto__" for the object's prototype, and the JSON would drop it
  return Object.fromEntries([...head, ...keys.filter((k) => !head.includes(k))].map((k) => [k, ordered((value as Record<string, unknown>)[k])]));
}

/** Containers this deep and deeper (a version: report → packages → package → versions → version) are stringified whole. */
const WHOLE_DEPTH = 4;
/** Characters gathered into one part before it is handed out. */
const PART = 1024 * 1024;

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** JSON.stringify(value, null, indent), exactly, as pieces: the containers above WHOLE_DEPTH are written piece by piece. */
function* pieces(value: unknown, indent: number, depth: number): Generator<string> {
  const pad = (d: number) => (indent ? `\n${' '.repeat(indent * d)}` : '');
  if (depth >= WHOLE_DEPTH || value === null || typeof value !== 'object') {
    // its own newlines (never in a string: JSON writes those as \n) indented to where it stands
    const text = JSON.stringify(value, null, indent) ?? 'null';
    yield indent ? text.replace(/\n/g, pad(depth)) : text;
    return;
  }
  const array = Array.isArray(value);
  const entries: [string | null, unknown][] = array ? value.map((v) => [null, omitted(v) ? null : v]) : Object.entries(value).filter(([, v]) => !omitted(v));
  if (entries.length === 0) {
    yield array ? '[]' : '{}';
    return;
  }
  yield array ? '[' : '{';
  let first = true;
  for (const [key, v] of entries) {
    yield `${first ? '' : ','}${pad(depth + 1)}${key === null ? '' : `${JSON.stringify(key)}:${indent ? ' ' : ''}`}`;
    first = false;
    yield* pieces(v, indent, depth + 1);
  }
  yield `${pad(depth)}${array ? ']' : '}'}`;
}

/**
 * The JSON form in parts of about a mebibyte (a part ends after the version that takes it past one),
 * to write or print one after another: joined, they are renderJson's text. 20,000 versions are
 * 31 MB; some 350,000 would pass the longest string JavaScript holds (2^29 - 24 characters), and
 * the report could not be written at all, neither as one string nor after it.
 */
export function* renderJsonParts(report: Report, options: { indent?: number } = {}): Generator<string> {
  let gathered: string[] = [];
  let size = 0;
  for (const piece of pieces(ordered(report, true), options.indent ?? 2, 0)) {
    gathered.push(piece);
    size += piece.length;
    if (size >= PART) {
      yield jsonForTerminals(gathered.join(''));
      gathered = [];
      size = 0;
    }
  }
  gathered.push('\n');
  yield jsonForTerminals(gathered.join(''));
}

/**
 * `indent: 0` for one line (a third smaller: 20,000 versions are about 21 MB instead of 31 MB).
 * A source's C1 controls and bidi overrides are written as escapes: `cat report.json` is safe.
 * One string: a report of hundreds of thousands of versions is written with renderJsonParts.
 */
export function renderJson(report: Report, options: { indent?: number } = {}): string {
  return [...renderJsonParts(report, options)].join('');
}
