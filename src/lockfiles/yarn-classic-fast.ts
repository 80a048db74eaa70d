/**
 * The fast read of a yarn.lock of yarn classic: the lines yarn writes, read line by line into
 * exactly the object `@yarnpkg/lockfile`'s parse gives, or undefined so that yarn-classic.ts
 * reads the text with yarn's parser as before and every error and its line stay what they were.
 * yarn's tokeniser builds each token a character at a time and its parser a generator step per
 * token: 4.7-5.1 s and 620-650 MB for a 46 MB yarn.lock of 110k packages.
 *
 * The lines read (node_modules/@yarnpkg/lockfile/index.js, `tokenise` and `Parser.parse`):
 *
 * - an empty line, or a `#` comment at column 0: either ends the block above (yarn's parser
 *   leaves a level at a newline not followed by that level's indent); a line indented after
 *   it would be dropped by yarn, with the rest of the file, so that declines. A comment
 *   `yarn lockfile vN` with N > 1 makes yarn refuse the file: that declines too.
 * - `KEY(, KEY)*:` at column 0: a block, one object shared by every key (yarn assigns the same
 *   object to each).
 * - `  KEY VALUE` or `  KEY:` in a block; `    KEY VALUE` under such a `  KEY:` (dependencies).
 * - KEY: `"…"` with no `\` or control character (JSON.parse of it is its inside), or an unquoted
 *   name as the tokeniser reads one: a letter, `/` or `-`, then printable ASCII up to a space,
 *   `:` or `,`; not starting with `true`/`false` (booleans to the tokeniser) and not empty (yarn
 *   asserts a key). VALUE: the same, `""` allowed, or `true`/`false` (booleans) or a run of
 *   digits (a number, `+digits`), the only non-strings yarn's tokeniser makes.
 * - A trailing `\r` of a line (CRLF) is a newline to yarn as to us; a leading BOM is stripped
 *   by yarn's parse as here.
 *
 * Anything else declines: other indents, tabs, trailing or doubled spaces, comments after
 * values or indented, escapes, a value on a header line, `a,b` without the space, and any text
 * holding a git conflict marker (yarn then parses both sides and merges them).
 * test/unit/lock-yarn-classic-fast.test.ts checks this against yarn's parser on mutated fixtures.
 */

type YarnObject = Record<string, unknown>;

/** yarn's parse makes every object with a null prototype (its `nullify`): so do we, for `__proto__` keys and deep equality. */
const newObject = (): YarnObject => Object.create(null) as YarnObject;

/** yarn's LOCKFILE_VERSION is 1: a `# yarn lockfile v2` comment makes its parser throw. */
const VERSION_COMMENT = /^yarn lockfile v(\d+)$/;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Where the last token read ended (one past it). */
let tokenEnd = 0;

/** A character the tokeniser starts a name with: `[a-zA-Z/-]`. */
function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2f || c === 0x2d;
}

/** A character of a name as we accept it: printable ASCII but `:` and `,` (where yarn's name ends, as at a space). */
function isNameChar(c: number): boolean {
  return c > SPACE && c < 0x7f && c !== COLON && c !== COMMA;
}

/** The string `"…"` at `p` (a quote), ending before `end`; undefined for an escape, a control character or no closing quote. */
function quotedAt(text: string, p: number, end: number): string | undefined {
  for (let q = p + 1; q < end; q++) {
    const c = text.charCodeAt(q);
    if (c === QUOTE) {
      tokenEnd = q + 1;
      return text.slice(p + 1, q);
    }
    // yarn ends a string at a `"` after a `\` that itself follows a `\`, then JSON.parse may refuse it: leave escapes to yarn
    if (c === BACKSLASH || c < SPACE) return undefined;
  }
  return undefined;
}

/**
 * The field names yarn writes in every block, as constants: a key sliced from the text must be
 * hashed and looked up to become a property name (V8 internalizes it), which for these half a
 * million keys of a big lockfile cost more than all the rest of the read.
 */
const FIELDS = ['version', 'resolved', 'integrity', 'dependencies', 'optionalDependencies', 'uid'];

/** The name at `p`, as the tokeniser reads it; undefined where the tokeniser reads something else (a boolean, a number). */
function nameAt(text: string, p: number, end: number): string | undefined {
  if (!isNameStart(text.charCodeAt(p)) || text.startsWith('true', p) || text.startsWith('false', p)) return undefined;
  let q = p + 1;
  while (q < end && isNameChar(text.charCodeAt(q))) q++;
  tokenEnd = q;
  for (const f of FIELDS) if (f.length === q - p && text.startsWith(f, p)) return f;
  return text.slice(p, q);
}

/** A key at `p`: a quoted string or a name, never empty. */
function keyAt(text: string, p: number, end: number): string | undefined {
  const key = text.charCodeAt(p) === QUOTE ? quotedAt(text, p, end) : nameAt(text, p, end);
  return key === '' ? undefined : key;
}

/** The value at `p` running to `end` exactly, typed as yarn's tokeniser types it; undefined to decline. */
function valueToEnd(text: string, p: number, end: number): string | number | boolean | undefined {
  const c = text.charCodeAt(p);
  let value: string | number | boolean | undefined;
  if (c === QUOTE) value = quotedAt(text, p, end);
  else if (c >= 0x30 && c <= 0x39) {
    let q = p + 1;
    while (q < end && text.charCodeAt(q) >= 0x30 && text.charCodeAt(q) <= 0x39) q++;
    tokenEnd = q;
    value = +text.slice(p, q);
  } else if (text.startsWith('true', p) || text.startsWith('false', p)) {
    value = c === 0x74;
    tokenEnd = p + (value ? 4 : 5);
  } else value = nameAt(text, p, end);
  return tokenEnd === end ? value : undefined;
}

/** What `lockfile.parse(text).object` is, when the text is a yarn.lock as yarn writes it; undefined for yarn's parser to read it. */
export function readYarnClassicFast(text: string): YarnObject | undefined {
  // yarn parses each side of a conflict and merges them (or says `conflict`): yarn-classic.ts reports either way
  if (text.includes('<<<<<<<') || text.includes('=======') || text.includes('>>>>>>>')) return undefined;
  const top = newObject();
  /** The object of the last header, while its block goes on. */
  let block: YarnObject | undefined;
  /** The object of the last `  KEY:` in that block, while its lines go on. */
  let nested: YarnObject | undefined;
  const n = text.length;
  for (let s = text.charCodeAt(0) === 0xfeff ? 1 : 0; s <= n; ) {
    let e = text.indexOf('\n', s);
    if (e === -1) e = n;
    const lineStart = s;
    s = e + 1;
    const end = e > lineStart && text.charCodeAt(e - 1) === 0x0d ? e - 1 : e;
    if (end === lineStart || text.charCodeAt(lineStart) === 0x23) {
      if (end !== lineStart) {
        const m = VERSION_COMMENT.exec(text.slice(lineStart + 1, e).trim());
        if (m && +m[1]! > 1) return undefined;
      }
      block = nested = undefined;
      continue;
    }
    let p = lineStart;
    while (p < end && text.charCodeAt(p) === SPACE) p++;
    const indent = p - lineStart;
    if (indent === 0) {
      // a header: KEY(, KEY)*:
      const object = newObject();
      for (;;) {
        const key = keyAt(text, p, end);
        if (key === undefined) return undefined;
        top[key] = object;
        const c = text.charCodeAt(tokenEnd);
        if (c === COLON && tokenEnd + 1 === end) break;
        if (c !== COMMA || text.charCodeAt(tokenEnd + 1) !== SPACE) return undefined;
        p = tokenEnd + 2;
      }
      block = object;
      nested = undefined;
      continue;
    }
    const into = indent === 2 ? block : indent === 4 ? nested : undefined;
    if (!into) return undefined;
    const key = keyAt(text, p, end);
    if (key === undefined) return undefined;
    const c = text.charCodeAt(tokenEnd);
    if (c === COLON && tokenEnd + 1 === end && indent === 2) {
      nested = newObject();
      into[key] = nested;
      continue;
    }
    if (c !== SPACE) return undefined;
    const value = valueToEnd(text, tokenEnd + 1, end);
    if (value === undefined) return undefined;
    into[key] = value;
    if (indent === 2) nested = undefined;
  }
  return top;
}
