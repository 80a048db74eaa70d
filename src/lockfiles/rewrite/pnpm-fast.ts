/**
 * The fast way to find pnpm-lock.yaml's `packages.<key>.resolution.tarball` scalars and their
 * text: a scan of the lines, no yaml Document. The Document (pnpm.ts) costs 11.5-13 s and 1.7 GB
 * for 110,000 packages of which 36,667 carry a URL; pnpm-fast.ts's read of the same text and
 * this scan 2.0-2.4 s and 340 MB (`npm run bench -- --only lockfiles`).
 *
 * It answers only where it cannot differ from the Document, and undefined (read it with yaml)
 * everywhere else:
 *
 * - the text is one readPnpmFast accepts (pnpm-fast.ts): every line one of the single-line
 *   shapes pnpm writes, no comments, escapes, CR (but CR LF line ends), tabs, anchors or multi-line scalars, and
 *   yaml reads it without an error to the same data js-yaml gives;
 * - inside `packages`, each line is a key, at the indent of a mapping still open or one deeper
 *   right after a `key:` with no value: a `- item`, an indent no mapping has, or a line deeper
 *   than a `key: value` is declined;
 * - a tarball is the value of `tarball:` in a package's `resolution`, as `{…, tarball: x}` on
 *   the `resolution:` line (flow mappings hold scalars only) or as a line of its own under it;
 * - what the scan found must be, package for package, every string `resolution.tarball` of
 *   js-yaml's data, neither more nor fewer.
 *
 * test/unit/rewrite-pnpm-fast.test.ts rewrites seeded mutations of real lockfiles both ways.
 */
import { FLOW_PAIR, keyString, LINE, lfText, readPnpmFast, scalarValue } from '../pnpm-fast.js';
import { isRecord } from '../read.js';
import { lineCounter } from './types.js';

/** A tarball URL's scalar: its text is `text.slice(start, end)`, quotes included. */
export interface TarballSpot {
  start: number;
  end: number;
  value: string;
  style: 'plain' | 'single' | 'double';
}

/** Each `packages.<key>.resolution.tarball` string in text order, or undefined where only yaml's Document can tell. */
export function pnpmTarballsFast(crlfOrLf: string): TarballSpot[] | undefined {
  // CR LF line ends: found in the LF text, each spot then as far on as the CRs before its line
  const text = lfText(crlfOrLf);
  if (text === undefined) return undefined;
  const read = readPnpmFast(text);
  if (!read) return undefined;
  const packages = isRecord(read.data) ? read.data.packages : undefined;
  const wanted = new Map<string, string>();
  if (isRecord(packages)) {
    for (const [key, p] of Object.entries(packages)) {
      const tarball = isRecord(p) && isRecord(p.resolution) ? p.resolution.tarball : undefined;
      if (typeof tarball === 'string') wanted.set(key, tarball);
    }
  }
  // most lockfiles name only the default registry, whose packages carry no URL
  if (!wanted.size) return [];
  const found = scan(text);
  if (!found || found.size !== wanted.size) return undefined;
  for (const [key, spot] of found) if (wanted.get(key) !== spot.value) return undefined;
  if (text === crlfOrLf) return [...found.values()];
  const at = lineCounter(text);
  return [...found.values()].map((s) => ({ ...s, start: s.start + at(s.start) - 1, end: s.end + at(s.start) - 1 }));
}

/** The tarball scalars of `packages` by package key, as the lines say; undefined for lines outside what it follows. */
function scan(text: string): Map<string, TarballSpot> | undefined {
  const found = new Map<string, TarballSpot>();
  let inPackages = false;
  // the block collections open inside `packages`: each one's indent, and the key of its current
  // line (a mapping) or undefined (a list, `os:` then `- darwin`: pnpm writes scalars only in lists)
  const open: { indent: number; key: string | undefined }[] = [];
  // the line before was `key:` with no value: the next may be deeper, opening its collection
  let opens = false;
  for (let start = 0, first = true; start < text.length; first = false) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    const lineStart = start;
    start = end + 1;
    if (end === lineStart) continue;
    const indented = text.charCodeAt(lineStart) === 0x20;
    if (indented && !inPackages) continue;
    const line = text.slice(lineStart, end);
    if (first && line === '---') continue;
    const m = LINE.exec(line);
    if (!m) return undefined; // a line readPnpmFast would not take
    const indent = m[1]!.length;
    const rawKey = m[2];
    const key = rawKey === undefined ? undefined : keyString(rawKey);
    if (rawKey !== undefined && key === undefined) return undefined;
    if (!indented) {
      if (key === undefined) return undefined; // a top-level list
      inPackages = key === 'packages' && line.length === indent + rawKey!.length + 1;
      open.length = 0;
      opens = inPackages;
      continue;
    }
    const top = open.length ? open[open.length - 1]!.indent : 0;
    if (indent > top) {
      if (!opens) return undefined;
      open.push({ indent, key });
    } else {
      while (open.length && open[open.length - 1]!.indent > indent) open.pop();
      const at = open[open.length - 1];
      // an indent no collection has, a key in a list or an item in a mapping (`key:` then `- x` at its indent)
      if (!at || at.indent !== indent || (at.key === undefined) !== (key === undefined)) return undefined;
      at.key = key;
    }
    if (rawKey === undefined) {
      opens = false;
      continue;
    }
    const valueAt = indent + rawKey.length + 2;
    const value = line.length > valueAt ? line.slice(valueAt) : undefined;
    opens = value === undefined;
    if (value === undefined) continue;
    const at = lineStart + valueAt;
    const pkg = open[0]!.key!;
    if (open.length === 2 && key === 'resolution' && value[0] === '{') {
      if (!flowTarball(value, at, pkg, found)) return undefined;
    } else if (open.length === 3 && open[1]!.key === 'resolution' && key === 'tarball' && value[0] !== '{' && value[0] !== '[') {
      if (!add(found, pkg, value, at)) return undefined;
    }
  }
  return found;
}

/** The `tarball:` of a flow mapping `{…}` (LINE's grammar: scalars only) starting at offset `at`. */
function flowTarball(flow: string, at: number, pkg: string, found: Map<string, TarballSpot>): boolean {
  if (flow === '{}') return true;
  FLOW_PAIR.lastIndex = 1;
  while (FLOW_PAIR.lastIndex < flow.length) {
    const pair = FLOW_PAIR.exec(flow);
    if (!pair) return false;
    if (keyString(pair[1]!) === 'tarball' && !add(found, pkg, pair[2]!, at + pair.index + pair[1]!.length + 2)) return false;
  }
  return true;
}

/** Record the scalar `raw` at `at` as `pkg`'s tarball when yaml reads it as a string; false for a second one. */
function add(found: Map<string, TarballSpot>, pkg: string, raw: string, at: number): boolean {
  const value = scalarValue(raw);
  if (typeof value !== 'string') return true;
  if (found.has(pkg)) return false;
  found.set(pkg, { start: at, end: at + raw.length, value, style: raw[0] === "'" ? 'single' : raw[0] === '"' ? 'double' : 'plain' });
  return true;
}
