/**
 * The fast read of a pnpm-lock.yaml: js-yaml's loader, for the plain subset of YAML that pnpm
 * writes, with the `yaml` package's results. `yaml`'s parseDocument builds a Document with a
 * node and a range for every scalar: 1.9 GB and 14-26 s for a 35 MB lockfile of 110k packages,
 * where js-yaml builds the plain objects only.
 *
 * The two parsers must give the same data, or else the fast read must decline, so that pnpm.ts
 * reads the text with `yaml` as before and every error and its line stay what they were.
 * That is done three ways:
 *
 * - A line check first: every line must be one of the shapes pnpm writes (`key:`, `key: value`,
 *   `- value`, an empty line, a leading `---`), whose keys and values are single-line plain or
 *   quoted scalars, or flow collections of such (`{integrity: sha512-…}`, `[darwin]`). No
 *   anchors, aliases, tags, `?` keys, comments, directives, block scalars, multi-line scalars,
 *   tabs, a CR but in CR LF line ends (read as LF: lfText), BOM, control characters or escapes: anything where the parsers' rules differ, or
 *   where yaml gives an error that js-yaml does not (an implicit key over 1024 characters), is
 *   left to yaml.
 * - js-yaml reads with the scalar rules of yaml's YAML 1.2 core schema (YAML_CORE below), not
 *   js-yaml's own CORE_SCHEMA, which differs (`1_000`, `0b1`, `-0x1` are numbers there and
 *   strings in yaml). There are no timestamps, merge keys or custom tags in either.
 * - Any js-yaml error declines: yaml reads the text again, for its own message and line.
 *
 * A key that resolves to null is declined too: yaml makes it `""` and js-yaml `"null"`.
 * test/unit/lock-pnpm-fast.test.ts checks all of this against yaml on mutated fixtures.
 */
import { FAILSAFE_SCHEMA, Type, load } from 'js-yaml';

// yaml's core schema (node_modules/yaml/dist/schema/core/), test by test, in its order.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

function int(s: string): number {
  if (INT_OCT.test(s)) return parseInt(s.slice(2), 8);
  if (INT_HEX.test(s)) return parseInt(s.slice(2), 16);
  return parseInt(s, 10);
}

function float(s: string): number {
  if (!FLOAT_NAN.test(s)) return parseFloat(s);
  return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity;
}

/** js-yaml's failsafe schema (strings, sequences, mappings) with yaml's implicit core types for plain scalars. */
const YAML_CORE = FAILSAFE_SCHEMA.extend({
  implicit: [
    new Type('tag:yaml.org,2002:null', { kind: 'scalar', resolve: (s) => NULL.test(s), construct: () => null }),
    new Type('tag:yaml.org,2002:bool', { kind: 'scalar', resolve: (s) => BOOL.test(s), construct: (s) => s[0] === 't' || s[0] === 'T' }),
    new Type('tag:yaml.org,2002:int', { kind: 'scalar', resolve: (s) => INT_OCT.test(s) || INT.test(s) || INT_HEX.test(s), construct: int }),
    new Type('tag:yaml.org,2002:float', { kind: 'scalar', resolve: (s) => FLOAT_NAN.test(s) || FLOAT_EXP.test(s) || FLOAT.test(s), construct: float }),
  ],
});

/** A plain scalar's value as yaml's core schema resolves it (null excluded: such keys decline). */
function plainValue(s: string): unknown {
  if (BOOL.test(s)) return s[0] === 't' || s[0] === 'T';
  if (INT_OCT.test(s) || INT.test(s) || INT_HEX.test(s)) return int(s);
  if (FLOAT_NAN.test(s) || FLOAT_EXP.test(s) || FLOAT.test(s)) return float(s);
  return s;
}

// The line grammar. NB: a character that may stand in a scalar (no white space, no C0/C1
// controls, no U+FEFF/U+2028/U+2029/U+FFFE/U+FFFF); a plain scalar starts with none of YAML's
// indicators (https://yaml.org/spec/1.2.2/#53-indicator-characters), except `-` before a
// character, and has no `: `, ` #` or trailing `:`; in a flow collection, no `,[]{}` either.
const NB = String.raw`[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff]`;
const FIRST = String.raw`(?:[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff\-?:,\[\]{}#&*!|>'"%@\x60]|-(?=[^\s\-]))`;
const FIRST_FLOW = String.raw`(?:[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff\-?:,\[\]{}#&*!|>'"%@\x60]|-(?=[^\s\-,\[\]{}]))`;
const PLAIN_BLOCK = String.raw`${FIRST}(?:[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff:#]|#|:(?=${NB})| +(?=[^\s#:]))*`;
const FLOW_NB = String.raw`[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff,\[\]{}]`;
const PLAIN_FLOW = String.raw`${FIRST_FLOW}(?:[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff:#,\[\]{}]|#|:(?=${FLOW_NB})| +(?=[^\s#,\[\]{}:]))*`;
const PLAIN_FLOW_KEY = String.raw`${FIRST_FLOW}(?:[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff:#,\[\]{}]|#| +(?=[^\s#,\[\]{}:]))*`;
const QUOTED = String.raw`'(?:[^'\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]|'')*'|"[^"\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]*"`;
const FLOW_SCALAR = `(?:${PLAIN_FLOW}|${QUOTED})`;
const FLOW_KEY = `(?:${PLAIN_FLOW_KEY}|${QUOTED})`;
const FLOW = String.raw`\[\]|\[${FLOW_SCALAR}(?:, ${FLOW_SCALAR})*\]|\{\}|\{${FLOW_KEY}: ${FLOW_SCALAR}(?:, ${FLOW_KEY}: ${FLOW_SCALAR})*\}`;
const VALUE = `(?:${PLAIN_BLOCK}|${QUOTED}|${FLOW})`;
/** indent, then `key:` / `key: value` (key in group 2), or `- value`; an empty line matches too. */
export const LINE = new RegExp(`^( *)(?:(${PLAIN_BLOCK}|${QUOTED}):(?: ${VALUE})?|- ${VALUE})?$`);
/** One `key: value` of a flow mapping LINE accepted, from just after its `{` or `, ` (sticky): key, value. */
export const FLOW_PAIR = new RegExp(`(${FLOW_KEY}): (${FLOW_SCALAR})(?:, |\\}$)`, 'y');
const FLOW_NULL_KEY = /[{,] ?(?:~|[Nn]ull|NULL):/;

/** A single-line scalar's value as yaml reads it, its text one LINE accepted (quoted ones hold no escape). */
export function scalarValue(text: string): unknown {
  if (text[0] === "'") return text.slice(1, -1).replaceAll("''", "'");
  if (text[0] === '"') return text.slice(1, -1);
  return NULL.test(text) ? null : plainValue(text);
}

/** A key's text as the JS object has it: quotes removed, a plain key resolved and stringified; undefined for a key to decline. */
export function keyString(key: string): string | undefined {
  if (key.length > 1000) return undefined; // yaml: an implicit key is at most 1024 characters; js-yaml has no limit
  if (key[0] === "'") return key.slice(1, -1).replaceAll("''", "'");
  if (key[0] === '"') return key.slice(1, -1);
  if (NULL.test(key) || key === '<<' || key === '__proto__') return undefined; // null: `""` in yaml, `"null"` in js-yaml
  return String(plainValue(key));
}

export interface FastRead {
  data: unknown;
  /** The line of each key of the top-level `packages` mapping, as yaml's ranges give it. */
  packageLines: Map<string, number>;
}

/**
 * The text with CR LF line ends (a checkout with git's autocrlf) as LF, or as it is without a
 * CR; undefined for any other CR (a lone one, or LF and CR LF mixed). YAML reads CR LF as a line
 * break as it reads LF (https://yaml.org/spec/1.2.2/#54-line-break-characters), and the lines
 * the fast read takes hold no multi-line scalar: the same data, on the same lines. Left to yaml,
 * a 41 MB lockfile so checked out took 37 s and 2 GB to read, the rewrite as long again.
 */
export function lfText(text: string): string | undefined {
  if (!text.includes('\r')) return text;
  const lf = text.replaceAll('\r\n', '\n');
  if (lf.includes('\r')) return undefined;
  // every line but a last one without an end: one CR per LF
  let lines = 0;
  for (let i = lf.indexOf('\n'); i !== -1; i = lf.indexOf('\n', i + 1)) lines++;
  return text.length - lf.length === lines ? lf : undefined;
}

/** js-yaml's reading of `text`, or undefined when the text is outside the subset or js-yaml refuses it (yaml then decides). */
export function readPnpmFast(crlfOrLf: string): FastRead | undefined {
  const text = lfText(crlfOrLf);
  if (text === undefined) return undefined;
  const packageLines = new Map<string, number>();
  let inPackages = false;
  let childIndent = -1;
  let lineNo = 0;
  for (let start = 0; start <= text.length; ) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (line === '') continue;
    const m = LINE.exec(line);
    if (!m) {
      if (lineNo === 1 && line === '---') continue;
      return undefined;
    }
    const indent = m[1]!.length;
    if (indent === line.length) return undefined; // spaces only
    const key = m[2];
    const value = key === undefined ? line.slice(indent + 2) : line.slice(indent + key.length + 2);
    if (value[0] === '{' && (line.length > 1000 || FLOW_NULL_KEY.test(value))) return undefined; // the flow keys' length, as for block keys; null keys
    if (indent === 0 && (line.startsWith('---') || line.startsWith('...'))) return undefined; // document markers
    if (key === undefined) continue;
    const k = keyString(key);
    if (k === undefined) return undefined;
    if (indent === 0) {
      inPackages = k === 'packages';
      childIndent = -1;
    } else if (inPackages) {
      if (childIndent === -1) childIndent = indent;
      if (indent === childIndent) packageLines.set(k, lineNo);
    }
  }
  let data: unknown;
  try {
    data = load(text, { schema: YAML_CORE });
  } catch {
    return undefined; // not an error of ours to give: yaml reads the text again and gives its own
  }
  // Every `packages` key must have its line: a mapping written some other way is left to yaml.
  const packages = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>).packages : undefined;
  if (typeof packages === 'object' && packages !== null && !Array.isArray(packages)) {
    const keys = Object.keys(packages);
    if (keys.length !== packageLines.size || !keys.every((k) => packageLines.has(k))) return undefined;
  } else if (packageLines.size) return undefined;
  return { data, packageLines };
}
