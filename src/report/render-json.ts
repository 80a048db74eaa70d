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

/**
 * `indent: 0` for one line (a third smaller: 20,000 versions are about 21 MB instead of 31 MB).
 * A source's C1 controls and bidi overrides are written as escapes: `cat report.json` is safe.
 */
export function renderJson(report: Report, options: { indent?: number } = {}): string {
  return `${jsonForTerminals(JSON.stringify(ordered(report, true), null, options.indent ?? 2))}\n`;
}
