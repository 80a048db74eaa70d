/**
 * What every lockfile parser shares: reading a file within a size limit, coded
 * errors that name the file and line (or the path inside the document), JSON
 * with the line of a syntax error, and small name helpers.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { MigrateError, toError } from '../errors.js';
import { JsonScan } from './json-scan.js';
import type { LockOrigin } from './types.js';

/**
 * The largest lockfile we read. Real ones reach a few MB (a big monorepo's
 * package-lock.json is 10-30 MB); past this it is not a lockfile we should
 * hold in memory three times (text, parsed tree, entries).
 */
export const MAX_LOCKFILE_BYTES = 64 * 1024 * 1024;

export interface ReadOptions {
  /** Refuse files larger than this (default MAX_LOCKFILE_BYTES). */
  maxBytes?: number;
  /**
   * The folder every file read must stay inside once symbolic links are
   * resolved (the checkout or folder being searched). A lockfile comes from a
   * repository we do not control: `requirements.txt -> /home/ci/.npmrc`, or
   * `-r /etc/passwd`, would otherwise put a secret into entry names, the
   * summary and the state database. Unset: only the file itself is checked
   * (a regular file, within the size limit); requirements includes then stay
   * inside the including file's folder.
   */
  root?: string;
}

/** `file:line (path): message`, code ELOCKFILE. */
export function lockError(where: LockOrigin, message: string, init: { hint?: string; cause?: unknown } = {}): MigrateError {
  const at = `${where.file}${where.line ? `:${where.line}` : ''}${where.path ? ` (${where.path})` : ''}`;
  return new MigrateError('ELOCKFILE', `${at}: ${message}`, { subject: where.file, hint: init.hint ?? 'regenerate the lockfile with its package manager, or leave it out of the job', cause: init.cause });
}

/** Whether `path` (already real) is `root` (already real) or below it. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}

/**
 * Where `file` really is, if that is inside `root` (both resolved through their
 * symbolic links); undefined when it leads outside, or cannot be resolved.
 */
export function realpathInside(root: string, file: string): string | undefined {
  let realRoot: string;
  let real: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(file);
  } catch {
    return undefined;
  }
  return isInside(realRoot, real) ? real : undefined;
}

/**
 * The file's text, refusing a file over the limit (ETOOLARGE), one that is not
 * a regular file, leads outside `opts.root`, or cannot be read (ELOCKFILE).
 * Never says what a refused file holds.
 */
export function readLockfileText(file: string, opts: ReadOptions = {}): string {
  const bytes = readLockfileBytes(file, opts);
  refuseUtf16(file, bytes);
  return stripBom(bytes.toString('utf8'));
}

/**
 * A file that starts with a UTF-16 or UTF-32 byte order mark is refused, naming its encoding.
 * pip reads such a requirements file (its auto_decode), and PowerShell 5's `pip freeze >
 * requirements.txt` writes one (UTF-16 LE); read as UTF-8 its every other byte is a NUL, no
 * line reads as the option it is, and its index went unnoticed ("no --index-url").
 */
export function refuseUtf16(file: string, bytes: Buffer): void {
  const encoding =
    bytes.length >= 4 && bytes.readUInt32LE(0) === 0x0000feff ? 'UTF-32 LE'
    : bytes.length >= 4 && bytes.readUInt32BE(0) === 0x0000feff ? 'UTF-32 BE'
    : bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe ? 'UTF-16 LE'
    : bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff ? 'UTF-16 BE'
    : undefined;
  if (!encoding) return;
  throw lockError({ file }, `is ${encoding} (it starts with that byte order mark; PowerShell's \`>\` writes one): lockfiles are read as UTF-8 only; not read: save it as UTF-8 and run again`, {
    hint: 'save it as UTF-8 (iconv -f UTF-16 -t UTF-8, or Out-File -Encoding utf8 in PowerShell), then run again',
  });
}

/** The file's bytes as they are on disk (a BOM kept), with readLockfileText's refusals but the encoding's (refuseUtf16: the caller's, on bytes it reads as text). */
export function readLockfileBytes(file: string, opts: ReadOptions = {}): Buffer {
  const max = opts.maxBytes ?? MAX_LOCKFILE_BYTES;
  let path = file;
  if (opts.root !== undefined) {
    let real: string;
    try {
      real = realpathSync(file);
    } catch (e) {
      // a dangling link says where it points in its error: show only the code
      throw lockError({ file }, `cannot read: ${(e as NodeJS.ErrnoException).code ?? 'unresolvable'}`, { cause: e });
    }
    if (realpathInside(opts.root, real) === undefined) {
      throw lockError({ file }, 'leads outside the repository or folder being read (a symbolic link, or a path that escapes it): not read', { hint: 'commit the lockfile itself, not a link to a file elsewhere' });
    }
    path = real;
  }
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever;
    // O_NOFOLLOW: the path checked above is the one opened, not a link swapped in since.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (opts.root !== undefined ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    throw lockError({ file }, `cannot read: ${toError(e).message}`, { hint: 'fix the path in the job file', cause: e });
  }
  try {
    const st = fstatSync(fd);
    // A FIFO, a device (/dev/zero, /dev/stdin) or a socket has no size to check and may never end.
    if (!st.isFile()) throw lockError({ file }, 'not a regular file (a device, FIFO or socket): not read', { hint: 'name the lockfile itself in the job file' });
    if (st.size > max) throw tooLarge(file, `${st.size} bytes`, max);
    // Read from the descriptor that was checked, and never more than the limit: the file may grow meanwhile.
    let buf = Buffer.allocUnsafe(Math.min(st.size, max) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > max) throw tooLarge(file, `more than ${max} bytes`, max);
        // It grew past its size at stat time, not yet past the limit: read on, still bounded.
        const more = Buffer.allocUnsafe(Math.min(max + 1, buf.length * 2));
        buf.copy(more, 0, 0, n);
        buf = more;
      }
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof MigrateError) throw e;
    throw lockError({ file }, `cannot read: ${toError(e).message}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}

function tooLarge(file: string, actual: string, max: number): MigrateError {
  return new MigrateError('ETOOLARGE', `${file}: ${actual}, over the ${max}-byte limit for a lockfile`, { subject: file, expected: `<= ${max} bytes`, actual, hint: 'no package manager writes a lockfile this large: leave this file out of warm.lockfiles (the limit is fixed)' });
}

/** A BOM is legal in these text formats' files as editors write them, but no parser below expects one. */
function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** 1-based line of a character offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** JSON.parse, with a syntax error turned into ELOCKFILE at the line where the text stops being JSON. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    // V8's messages carry the position only for some errors ("Unexpected token" has none), so find it ourselves.
    const offset = jsonErrorOffset(text);
    throw lockError({ file, line: lineAt(text, offset) }, `not valid JSON: ${toError(e).message.slice(0, 200)}`, { cause: e });
  }
}

/**
 * The 1-based line of the value at `path` (object keys, array indexes) in `text`,
 * JSON that JSON.parse already took; undefined when nothing is there. For errors
 * about a document that parses but is not the lockfile it claims: they name the
 * line whatever the file's indentation, not only the path. A key given twice is
 * found where JSON.parse took it from (the last one).
 */
export function jsonLine(text: string, path: readonly (string | number)[]): number | undefined {
  const j = new JsonScan(text);
  j.ws();
  for (const segment of path) {
    if (typeof segment === 'string' && j.ch() === '{') {
      let found: number | undefined;
      j.i++;
      for (j.ws(); j.i < text.length && j.ch() !== '}'; j.ws()) {
        if (j.key() === segment) found = j.i;
        j.value();
        j.ws();
        if (j.ch() === ',') j.i++;
      }
      if (found === undefined) return undefined;
      j.i = found;
    } else if (typeof segment === 'number' && j.ch() === '[') {
      j.i++;
      j.ws();
      for (let n = 0; n < segment; n++) {
        if (j.ch() === ']') return undefined;
        j.value();
        j.ws();
        if (j.ch() === ',') j.i++;
        j.ws();
      }
      if (j.ch() === ']') return undefined;
    } else return undefined;
  }
  return lineAt(text, j.i);
}

/** `at` with the line of `path` in JSON `text` (or of the nearest enclosing value that is there, for what is missing). */
export function atJson(at: LockOrigin, text: string, path: readonly (string | number)[]): LockOrigin {
  if (at.line) return at;
  for (let n = path.length; n >= 0; n--) {
    const line = jsonLine(text, path.slice(0, n));
    if (line !== undefined) return { ...at, line };
  }
  return at;
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/** Where a text first stops being JSON (RFC 8259), in one pass; `text.length` if it never does. */
export function jsonErrorOffset(text: string): number {
  const n = text.length;
  let i = 0;
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const string = () => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new JsonStop(i);
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new JsonStop(i);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new JsonStop(i);
      } else i++;
    }
    throw new JsonStop(n);
  };
  const value = (depth: number): void => {
    if (depth > 4096) throw new JsonStop(i);
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"') throw new JsonStop(i);
          string();
          ws();
          if (text[i] !== ':') throw new JsonStop(i);
          i++;
        }
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        throw new JsonStop(i);
      }
    }
    if (c === '"') return string();
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    number.lastIndex = i;
    if (number.exec(text)) {
      i = number.lastIndex;
      return;
    }
    throw new JsonStop(i);
  };
  try {
    value(0);
    ws();
    return i < n ? i : n;
  } catch (e) {
    if (e instanceof JsonStop) return e.offset;
    if (e instanceof RangeError) return i; // stack exhausted: too deep to be a lockfile anyway
    throw e;
  }
}

/** A JSON/YAML/TOML path for messages: `packages["node_modules/a"].version`. */
export function docPath(...segments: (string | number)[]): string {
  let out = '';
  for (const s of segments) out = docPathAppend(out, s);
  return out;
}

/** `docPath(...segments, segment)` given `docPath(...segments)`: one segment's work, however long the path. */
export function docPathAppend(path: string, s: string | number): string {
  if (typeof s === 'number') return `${path}[${s}]`;
  if (/^[A-Za-z_$][\w$-]*$/.test(s)) return path ? `${path}.${s}` : s;
  return `${path}[${JSON.stringify(s)}]`;
}

/** A plain object (not an array, not null), for walking parsed documents safely. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** PEP 503: lower case, runs of `-`, `_`, `.` become one `-` (https://peps.python.org/pep-0503/#normalized-names). */
export function pep503(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** `@scope/name@range` -> [`@scope/name`, `range`]; the name's own leading `@` is not the separator. */
export function splitAt(spec: string): [string, string] | undefined {
  const at = spec.indexOf('@', 1);
  if (at <= 0) return undefined;
  return [spec.slice(0, at), spec.slice(at + 1)];
}

/**
 * The lines at column 0 that open a top-level mapping key in a yarn.lock (classic
 * or berry): `"a@^1", a@^1.1:` -> each descriptor -> its line. One pass, so the
 * parsers can say where an entry is although the format's own parsers give no positions.
 */
export function yarnKeyLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const c = text[start];
    if (c !== undefined && c !== ' ' && c !== '\t' && c !== '#' && c !== '\n' && c !== '\r') {
      // trimEnd, not replace(/\s+$/): that regex is quadratic on a long run of inner spaces.
      const raw = text.slice(start, end).trimEnd();
      if (raw.endsWith(':')) {
        for (const part of raw.slice(0, -1).split(',')) {
          const d = part.trim().replace(/^"/, '').replace(/"$/, '');
          if (d && !out.has(d)) out.set(d, line);
        }
      }
    }
    start = end + 1;
  }
  return out;
}
