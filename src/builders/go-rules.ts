/**
 * The rules a Go module version must satisfy, ported from golang.org/x/mod
 * (module/module.go, zip/zip.go, modfile) because nothing on npm implements
 * them. Pure functions, no I/O: `go.ts` lists files and writes the zip.
 *
 * Sources read (golang.org/x/mod at fe2ec04, 2026-06; Go 1.19's vendored copy
 * differs only in the vendor rules, see isVendoredPackage):
 *   https://cs.opensource.google/go/x/mod/+/master:zip/zip.go
 *   https://cs.opensource.google/go/x/mod/+/master:module/module.go
 *   https://go.dev/ref/mod#zip-files  https://go.dev/ref/mod#major-version-suffixes
 */

/** Largest module zip, and largest total of its uncompressed files (zip.MaxZipFile). */
export const MAX_ZIP_FILE = 500 << 20;
/** Largest go.mod (zip.MaxGoMod). */
export const MAX_GO_MOD = 16 << 20;
/** Largest LICENSE at the module root (zip.MaxLICENSE). */
export const MAX_LICENSE = 16 << 20;

// ---------------------------------------------------------------- versions

const NUM = '(?:0|[1-9][0-9]*)';
const PRE_ID = `(?:${NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)`;
/**
 * A canonical Go version (module.CanonicalVersion(v) == v): `vX.Y.Z`, an
 * optional prerelease, and no build metadata except `+incompatible`.
 * Go's semver accepts `v1.2` and `v1.2.3+meta` but they are not canonical, and
 * zip.Create refuses non-canonical versions.
 */
const CANONICAL = new RegExp(`^v(${NUM})\\.${NUM}\\.${NUM}(?:-${PRE_ID}(?:\\.${PRE_ID})*)?(\\+incompatible)?$`);

export function isCanonicalVersion(v: string): boolean {
  return CANONICAL.test(v);
}

/** `v2` for `v2.3.4`; only for canonical versions. */
export function semverMajor(v: string): string {
  return `v${CANONICAL.exec(v)?.[1] ?? ''}`;
}

/**
 * Go's semver order (golang.org/x/mod/semver.Compare) for canonical versions: numbers compared
 * as digit strings (by length, then by text: `v1.0.9007199254740993` is a version to Go, and
 * past what a JS number holds exactly), a release above its prereleases, prerelease identifiers
 * numeric below alphanumeric; build metadata (`+incompatible`) ignored.
 */
export function compareGoSemver(a: string, b: string): number {
  const parts = (v: string) => {
    const core = v.replace(/^v/, '').replace(/\+.*$/, '');
    const dash = core.indexOf('-');
    return { nums: (dash === -1 ? core : core.slice(0, dash)).split('.'), pre: dash === -1 ? '' : core.slice(dash + 1) };
  };
  const numeric = (x: string, y: string) => (x.length !== y.length ? Math.sign(x.length - y.length) : x < y ? -1 : x > y ? 1 : 0);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < 3; i++) {
    const c = numeric(pa.nums[i] ?? '0', pb.nums[i] ?? '0');
    if (c) return c;
  }
  if (pa.pre === pb.pre) return 0;
  if (pa.pre === '') return 1;
  if (pb.pre === '') return -1;
  const xs = pa.pre.split('.');
  const ys = pb.pre.split('.');
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const [x, y] = [xs[i]!, ys[i]!];
    if (x === y) continue;
    const [nx, ny] = [/^[0-9]+$/.test(x), /^[0-9]+$/.test(y)];
    if (nx !== ny) return nx ? -1 : 1;
    return nx ? numeric(x, y) : x < y ? -1 : 1;
  }
  return Math.sign(xs.length - ys.length);
}

/** Whether a canonical version is a prerelease (`v1.0.0-rc.1`, a pseudo-version). */
export function isPrerelease(v: string): boolean {
  return v.replace(/\+.*$/, '').includes('-');
}

export function isIncompatible(v: string): boolean {
  return v.endsWith('+incompatible');
}

/** module.IsPseudoVersion: v0.0.0-20191109021931-daa7c04131f5 and its two other forms. */
export function isPseudoVersion(v: string): boolean {
  return (v.match(/-/g)?.length ?? 0) >= 2 && /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/.test(v);
}

// ---------------------------------------------------------------- paths

const BAD_WINDOWS_NAMES = ['CON', 'PRN', 'AUX', 'NUL', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [`COM${n}`, `LPT${n}`])];

type PathKind = 'module' | 'file';

function modPathOK(c: string): boolean {
  return /^[-._~0-9A-Za-z]$/.test(c);
}

/** module.fileNameOK: ASCII letters, digits, space and `!#$%&()+,-.=@[]^_{}~`, or any Unicode letter. */
function fileNameOK(c: string): boolean {
  if (c.codePointAt(0)! < 0x80) return /^[0-9A-Za-z!#$%&()+,\-.=@[\]^_{}~ ]$/.test(c);
  return /^\p{L}$/u.test(c);
}

function checkElem(elem: string, kind: PathKind): string | undefined {
  if (elem === '') return 'empty path element';
  if (/^\.+$/.test(elem)) return `invalid path element ${JSON.stringify(elem)}`;
  if (elem.startsWith('.') && kind === 'module') return 'leading dot in path element';
  if (elem.endsWith('.')) return 'trailing dot in path element';
  for (const c of elem) {
    if (!(kind === 'module' ? modPathOK(c) : fileNameOK(c))) return `invalid char ${JSON.stringify(c)}`;
  }
  const short = elem.includes('.') ? elem.slice(0, elem.indexOf('.')) : elem;
  if (BAD_WINDOWS_NAMES.includes(short.toUpperCase())) return `${JSON.stringify(short)} disallowed as path element component on Windows`;
  if (kind === 'file') return undefined;
  // Windows short names (PROGRA~1) are refused in module and import paths.
  if (/~[0-9]+$/.test(short)) return 'trailing tilde and digits in path element';
  return undefined;
}

function checkPath(p: string, kind: PathKind): string | undefined {
  if (p.includes('\uFFFD')) return 'invalid UTF-8';
  if (p === '') return 'empty string';
  if (p.startsWith('-') && kind !== 'file') return 'leading dash';
  if (p.includes('//')) return 'double slash';
  if (p.endsWith('/')) return 'trailing slash';
  for (const elem of p.split('/')) {
    const why = checkElem(elem, kind);
    if (why) return why;
  }
  return undefined;
}

/** module.CheckFilePath: the reason `p` (relative to the module root) is not a valid file path, if it is not. */
export function checkFilePath(p: string): string | undefined {
  return checkPath(p, 'file');
}

/** module.CheckPath: the reason `p` is not a valid module path, if it is not. */
export function checkModulePath(p: string): string | undefined {
  const why = checkPath(p, 'module');
  if (why) return why;
  const first = p.split('/')[0]!;
  if (first === '') return 'leading slash';
  if (!first.includes('.')) return 'missing dot in first path element';
  if (p.startsWith('-')) return 'leading dash in first path element';
  for (const c of first) if (!/^[-.0-9a-z]$/.test(c)) return `invalid char ${JSON.stringify(c)} in first path element`;
  if (!splitPathVersion(p).ok) return 'invalid version';
  return undefined;
}

/** module.SplitPathVersion: `example.com/m/v2` → prefix `example.com/m`, pathMajor `/v2`; gopkg.in paths use `.vN`. */
export function splitPathVersion(p: string): { prefix: string; pathMajor: string; ok: boolean } {
  if (p.startsWith('gopkg.in/')) return splitGopkgIn(p);
  let i = p.length;
  let dot = false;
  while (i > 0 && /[0-9.]/.test(p[i - 1]!)) {
    if (p[i - 1] === '.') dot = true;
    i--;
  }
  if (i <= 1 || i === p.length || p[i - 1] !== 'v' || p[i - 2] !== '/') return { prefix: p, pathMajor: '', ok: true };
  const prefix = p.slice(0, i - 2);
  const pathMajor = p.slice(i - 2);
  if (dot || pathMajor.length <= 2 || pathMajor[2] === '0' || pathMajor === '/v1') return { prefix: p, pathMajor: '', ok: false };
  return { prefix, pathMajor, ok: true };
}

function splitGopkgIn(p: string): { prefix: string; pathMajor: string; ok: boolean } {
  let i = p.length;
  if (p.endsWith('-unstable')) i -= '-unstable'.length;
  while (i > 0 && /[0-9]/.test(p[i - 1]!)) i--;
  if (i <= 1 || p[i - 1] !== 'v' || p[i - 2] !== '.') return { prefix: p, pathMajor: '', ok: false };
  const prefix = p.slice(0, i - 2);
  const pathMajor = p.slice(i - 2);
  if (pathMajor.length <= 2 || (pathMajor[2] === '0' && pathMajor !== '.v0')) return { prefix: p, pathMajor: '', ok: false };
  return { prefix, pathMajor, ok: true };
}

/**
 * module.CheckPathMajor: why version `v` cannot belong to a module whose path
 * ends in `pathMajor` ('' | '/v2' | '.v1' …), if it cannot. A path without a
 * suffix takes v0, v1, and vN+incompatible.
 * https://go.dev/ref/mod#major-version-suffixes
 */
export function checkPathMajor(v: string, pathMajor: string): string | undefined {
  let pm = pathMajor;
  if (pm.startsWith('.v') && pm.endsWith('-unstable')) pm = pm.slice(0, -'-unstable'.length);
  if (v.startsWith('v0.0.0-') && pm === '.v1') return undefined;
  const m = semverMajor(v);
  if (pm === '') {
    if (m === 'v0' || m === 'v1' || isIncompatible(v)) return undefined;
    return `should be v0 or v1, not ${m}`;
  }
  if (m === pm.slice(1)) return undefined;
  return `should be ${pm.slice(1)}, not ${m}`;
}

/**
 * module.EscapePath / EscapeVersion, for GOPROXY URLs and cache paths: an
 * upper-case letter becomes `!` and its lower case (https://go.dev/ref/mod#goproxy-protocol).
 */
export function escapeModulePath(p: string): string {
  const why = checkModulePath(p);
  if (why) throw new Error(`invalid module path ${JSON.stringify(p)}: ${why}`);
  return p.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

export function escapeVersion(v: string): string {
  if (checkElem(v, 'file') || v.includes('!')) throw new Error(`disallowed version string ${JSON.stringify(v)}`);
  return v.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/**
 * The `.info` Time of a commit time (RFC 3339, UTC, whole seconds), or undefined when go could
 * neither write nor read it: Go's time.Time JSON is years 0 to 9999 only ("Time.MarshalJSON: year
 * outside of range [0,9999]"), where toISOString would write `+010000-…`, which go refuses to parse.
 */
export function goInfoTime(time: Date): string | undefined {
  if (goTimeProblem(time) !== undefined) return undefined;
  return new Date(Math.floor(time.getTime() / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** Why a commit time can be no version's `.info` Time (goInfoTime), said after "the commit time …"; undefined when it can. */
export function goTimeProblem(time: Date): string | undefined {
  if (Number.isNaN(time.getTime())) return 'is not a date';
  const year = time.getUTCFullYear();
  return year < 0 || year > 9999 ? `is in the year ${year}, and go writes and reads a version's time (.info) only from the year 0 to 9999` : undefined;
}

// ---------------------------------------------------------------- go.mod

/**
 * modfile.ModulePath: the path on the first `module` line, tolerant of
 * everything else in the file; '' when there is none.
 */
export function modulePathFromGoMod(mod: Buffer): string {
  for (const raw of mod.toString('utf8').split('\n')) {
    let line = raw;
    const comment = line.indexOf('//');
    if (comment >= 0) line = line.slice(0, comment);
    line = goTrimSpace(line);
    if (!line.startsWith('module')) continue;
    const rest = line.slice('module'.length);
    const trimmed = goTrimSpace(rest);
    if (trimmed.length === rest.length || trimmed === '') continue;
    if (trimmed.startsWith('"')) {
      try {
        const p: unknown = JSON.parse(trimmed);
        return typeof p === 'string' ? p : '';
      } catch {
        return '';
      }
    }
    if (trimmed.startsWith('`')) return trimmed.length > 1 && trimmed.endsWith('`') ? trimmed.slice(1, -1) : '';
    return trimmed;
  }
  return '';
}

/**
 * bytes.TrimSpace: Go's white space (unicode.IsSpace) is not JavaScript's. A
 * byte order mark is none to Go, so `\uFEFFmodule m` names no module there ("go.mod
 * is missing module path"); NEL (U+0085) is one to Go and not to String.trim.
 */
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]';
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');
function goTrimSpace(s: string): string {
  return s.replace(GO_TRIM, '');
}

/**
 * The go.mod the Go proxy serves for a version without one (modfetch.LegacyGoMod):
 * a module line and nothing else. Valid module paths never need quoting.
 */
export function legacyGoMod(modulePath: string): Buffer {
  return Buffer.from(`module ${modulePath}\n`, 'utf8');
}

const GO_VERSION = /^([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?$/;
const LAX_GO_VERSION = /^v?(([1-9][0-9]*)\.(0|[1-9][0-9]*))([^0-9].*)$/;

/**
 * Whether the module's go.mod declares `go 1.24` or later, which changes the
 * vendor rules of the module zip (x/mod CL 584635, Go 1.24). This reads the
 * go directive the way modfile.ParseLax does for the cases that occur
 * (a lax `go 1.21.x` is fixed to 1.21; a repeated go line makes the whole
 * parse fail, so the old rules apply); a go.mod with syntax errors elsewhere
 * that ParseLax would reject is not detected, and gets the new rules when it
 * says go ≥ 1.24.
 */
export function declaresGo124(mod: Buffer | undefined): boolean {
  if (!mod) return false;
  const versions: string[] = [];
  for (const raw of mod.toString('utf8').split('\n')) {
    const comment = raw.indexOf('//');
    const tokens = (comment >= 0 ? raw.slice(0, comment) : raw).trim().split(/[ \t\r]+/);
    if (tokens[0] === 'go' && tokens.length >= 2) {
      if (tokens.length !== 2) return false; // "go directive expects exactly one argument": ParseLax fails
      versions.push(tokens[1]!);
    }
  }
  if (versions.length !== 1) return false;
  let v = versions[0]!;
  if (!GO_VERSION.test(v)) {
    const lax = LAX_GO_VERSION.exec(v);
    if (!lax) return false;
    v = lax[1]!;
  }
  // go/version.Lang keeps major.minor; Compare(lang, "go1.24") >= 0. A prerelease
  // kind other than alpha/beta/rc makes the version invalid (less than any valid one).
  const m = /^([0-9]+)\.([0-9]+)(?:\.[0-9]+)?(?:(alpha|beta|rc)[0-9]+|([a-z]+[0-9]+))?$/.exec(v);
  if (!m || m[4] !== undefined) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 1 || (major === 1 && minor >= 24);
}

// ---------------------------------------------------------------- files

/**
 * zip.isVendoredPackage: whether a file belongs to a vendored package, which
 * the zip leaves out. Files directly in vendor/ (vendor/modules.txt) stay,
 * except for go ≥ 1.24 modules. Before 1.24 the offset for a nested
 * `x/vendor/` is taken from the start of the name, a bug Go keeps so that old
 * checksums hold (golang.org/issue/37397). Offsets are in bytes, as in Go.
 */
export function isVendoredPackage(name: string, go124: boolean): boolean {
  if (go124 && name === 'vendor/modules.txt') return true;
  const bytes = Buffer.from(name, 'utf8');
  let i: number;
  if (name.startsWith('vendor/')) {
    i = 'vendor/'.length;
  } else {
    const j = bytes.indexOf('/vendor/');
    if (j < 0) return false;
    i = go124 ? j + '/vendor/'.length : '/vendor/'.length;
  }
  return bytes.subarray(i).includes(0x2f);
}

/**
 * A key with fold(a) === fold(b) iff Go's strToFold would fold them alike
 * (Unicode simple case folding). JavaScript has no simple-fold table, so this
 * maps each character through its upper case, then its lower case, keeping a
 * character whose mapping is more than one character (ß, ligatures). İ (U+0130)
 * and ı (U+0131) stay as they are: their only folds to i are the Turkic and full
 * ones, and Go's unicode.SimpleFold maps each to itself (caseOrbit {0x130, 0x130},
 * {0x131, 0x131}), so `i.go`, `İ.go` and `ı.go` are three files to go.
 * Checked against go 1.19's strToFold on every letter it knows: the same classes.
 */
export function foldKey(p: string): string {
  let out = '';
  for (const c of p) {
    if (c === '\u0130' || c === '\u0131') {
      out += c;
      continue;
    }
    const up = c.toUpperCase();
    const u = [...up].length === 1 ? up : c;
    const low = u.toLowerCase();
    out += [...low].length === 1 ? low : u;
  }
  return out;
}

/** Go's path.Clean, to test path.Clean(p) === p. */
function cleanPath(p: string): string {
  const rooted = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg !== '..') parts.push(seg);
    else if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
    else if (!rooted) parts.push('..');
  }
  const out = (rooted ? '/' : '') + parts.join('/');
  return out === '' ? '.' : out;
}

export interface CandidateFile {
  /** Slash-separated, relative to the module root. */
  path: string;
  kind: 'file' | 'symlink' | 'other';
  size: number;
}

export interface FileProblem {
  path: string;
  reason: string;
  /** For invalid files: whether the problem is a size limit (ETOOLARGE rather than EBADSOURCE). */
  tooLarge?: boolean;
}

export interface CheckedFiles {
  valid: CandidateFile[];
  omitted: FileProblem[];
  invalid: FileProblem[];
  /** Set when the valid files add up to more than MAX_ZIP_FILE. */
  sizeError?: string;
}

/**
 * zip.checkFiles: which files go in the zip, which are left out (and why) and
 * which make the module invalid. Same checks, same order, since the order
 * decides which reason a file gets (and a file left out for one reason is not
 * checked for the next, e.g. a symlink is still checked for case collisions).
 */
export function checkFiles(files: readonly CandidateFile[], go124: boolean): CheckedFiles {
  const cf: CheckedFiles = { valid: [], omitted: [], invalid: [] };
  const reported = new Set<string>();
  const problem = (path: string, omitted: boolean, reason: string, tooLarge = false) => {
    if (reported.has(path)) return;
    reported.add(path);
    (omitted ? cf.omitted : cf.invalid).push({ path, reason, ...(tooLarge ? { tooLarge } : {}) });
  };

  // Directories holding a go.mod (any case, a regular file) are other modules.
  const haveGoMod = new Set<string>();
  for (const f of files) {
    const slash = f.path.lastIndexOf('/');
    if (f.path.slice(slash + 1).toLowerCase() === 'go.mod' && f.kind === 'file') haveGoMod.add(f.path.slice(0, slash + 1));
  }
  const inSubmodule = (p: string) => {
    for (let dir = p.slice(0, p.lastIndexOf('/') + 1); dir !== ''; dir = dir.slice(0, dir.slice(0, -1).lastIndexOf('/') + 1)) {
      if (haveGoMod.has(dir)) return true;
    }
    return false;
  };

  const collisions = new Map<string, { path: string; isDir: boolean }>();
  const collision = (p: string, isDir: boolean): string | undefined => {
    const fold = foldKey(p);
    const other = collisions.get(fold);
    if (other) {
      if (p !== other.path) return `case-insensitive file name collision: ${JSON.stringify(other.path)} and ${JSON.stringify(p)}`;
      if (isDir !== other.isDir) return `entry ${JSON.stringify(p)} is both a file and a directory`;
      if (!isDir) return `multiple entries for file ${JSON.stringify(p)}`;
    } else {
      collisions.set(fold, { path: p, isDir });
    }
    const slash = p.lastIndexOf('/');
    return slash > 0 ? collision(p.slice(0, slash), true) : undefined;
  };

  let room = MAX_ZIP_FILE;
  for (const f of files) {
    const p = f.path;
    if (cleanPath(p) !== p) {
      problem(p, false, 'file path is not clean');
      continue;
    }
    if (p.startsWith('/')) {
      problem(p, false, 'file path is not relative');
      continue;
    }
    if (isVendoredPackage(p, go124)) {
      problem(p, true, 'file is in vendor directory');
      continue;
    }
    if (inSubmodule(p)) {
      problem(p, true, 'file is in another module');
      continue;
    }
    if (p === '.hg_archival.txt') {
      problem(p, true, "file is inserted by 'hg archive' and is always omitted");
      continue;
    }
    const bad = checkFilePath(p);
    if (bad) {
      problem(p, false, `malformed file path ${JSON.stringify(p)}: ${bad}`);
      continue;
    }
    if (p.toLowerCase() === 'go.mod' && p !== 'go.mod') {
      problem(p, false, 'go.mod files must have lowercase names');
      continue;
    }
    const clash = collision(p, false);
    if (clash) {
      problem(p, false, clash);
      continue;
    }
    if (f.kind === 'symlink') {
      problem(p, true, 'file is a symbolic link'); // golang.org/issue/27093
      continue;
    }
    if (f.kind !== 'file') {
      problem(p, true, 'not a regular file');
      continue;
    }
    if (f.size >= 0 && f.size <= room) room -= f.size;
    else cf.sizeError ??= `module source tree too large (max size is ${MAX_ZIP_FILE} bytes)`;
    if (p === 'go.mod' && f.size > MAX_GO_MOD) {
      problem(p, false, `go.mod file too large (max size is ${MAX_GO_MOD} bytes)`, true);
      continue;
    }
    if (p === 'LICENSE' && f.size > MAX_LICENSE) {
      problem(p, false, `LICENSE file too large (max size is ${MAX_LICENSE} bytes)`, true);
      continue;
    }
    cf.valid.push(f);
  }
  return cf;
}
