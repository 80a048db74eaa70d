/**
 * pip requirements files (https://pip.pypa.io/en/stable/reference/requirements-file-format/),
 * as pip-compile and `pip freeze` write them and people edit them.
 *
 * Read as pip reads them: a line ending in `\` continues on the next; `#`
 * at the start or after whitespace starts a comment; the first token that
 * starts with `-` starts the line's options (`--hash=sha256:…`, several per
 * requirement). Lines that are options: `-r`/`--requirement` (include, relative
 * to the including file), `-c`/`--constraint` (constraints: pins that apply only
 * if something requires the package), `-e`/`--editable`, and the global
 * options (`--index-url`, `--find-links`, `--require-hashes`, …), which say
 * nothing about what is pinned. Requirements are PEP 508
 * (https://peps.python.org/pep-0508/): `name[extras]==1.2.3 ; marker`,
 * `name @ url`, or a bare URL/path (`git+https://…#egg=name`, a wheel, `.`).
 *
 * Only `==`/`===` with one exact version is a pin; anything else is reported
 * as a warning (a lockfile entry needs an exact version).
 */
import { dirname, resolve } from 'node:path';
import { realpathSync, statSync } from 'node:fs';
import { isInside, lockError, pep503, readLockfileText, type ReadOptions } from './read.js';
import type { EntryKind, LockEntry, LockOrigin, LockWarning, ParseOutput } from './types.js';

/** More included files than this is a generated loop, not a project. */
export const MAX_INCLUDED_FILES = 1000;
/**
 * The most characters other than white space a logical line may hold (continuation lines
 * joined): a requirement with every hash of every file of its release (pip-compile
 * --generate-hashes, ~85 characters each) is some kilobytes, tens for the packages with most
 * wheels. Its options are split as shlex does, a character at a time with where each came from
 * (rewrite edits in place): 20 MB of them (the file's bound is 64 MiB) took 4 GB and died out
 * of memory. White space costs nothing there, and pip reads any amount of it.
 */
export const MAX_REQUIREMENTS_LINE = 256 * 1024;
/** The most physical lines one logical line is continued over (`\` at their ends): each is kept with where it stands. */
export const MAX_CONTINUED_LINES = 100_000;
/** Notes (warnings) kept of one file and its includes; past it they are counted: 64 MiB of unknown options made 16 million of them. */
export const MAX_REQUIREMENTS_NOTES = 1000;
/**
 * The most requirements a file and its includes may name: a large application's pip-compile output
 * is some hundreds, a monorepo's few thousands. Under the 64 MiB bound, `aN==1` lines made 5.6
 * million entries, 2.7 GB and half a minute, and warm would then have requested each.
 */
export const MAX_REQUIREMENTS_ENTRIES = 100_000;
/**
 * The most --find-links locations a file and its includes may name (each is said once, however
 * often it is written): a project names one or two. Each line was kept and noted: 1.7 million of
 * one location made as many notes at once, 2.4 GB and 11 s.
 */
export const MAX_FIND_LINKS = 1000;

/** Extra indexes that are no other registry: public PyPI itself, or a CodeArtifact repository. */
const PUBLIC_OR_CODEARTIFACT = /^(pypi\.org|pypi\.python\.org|files\.pythonhosted\.org|[a-z0-9-]+-\d{12}\.d\.codeartifact\.[a-z0-9-]+\.amazonaws\.com)$/i;

/**
 * pip's requirements-file options (req_file.py's SUPPORTED_OPTIONS and SUPPORTED_OPTIONS_REQ,
 * https://pip.pypa.io/en/stable/reference/requirements-file-format/#supported-options), long
 * name -> whether it takes a value. pip reads them with optparse, which takes any unambiguous
 * prefix of a long option: this table is what a prefix is matched against. Besides the
 * include, editable and index options, they configure pip and pin nothing.
 */
const LONG_OPTIONS: Readonly<Record<string, boolean>> = {
  'index-url': true, 'pypi-url': true, 'extra-index-url': true, 'no-index': false, 'find-links': true,
  requirement: true, constraint: true, editable: true, 'trusted-host': true, pre: false, 'prefer-binary': false,
  'require-hashes': false, 'only-binary': true, 'no-binary': true, 'use-feature': true, 'global-option': true,
  'config-settings': true, hash: true,
};
/** pip's short options: each takes a value, written after it (`-rbase.txt`) or as the next word. */
const SHORT_OPTIONS: Readonly<Record<string, string>> = { i: 'index-url', r: 'requirement', c: 'constraint', e: 'editable', f: 'find-links' };
/** Options older pips took (gone since pip 23.1): known, pinning nothing, never a prefix (`--i` is `--index-url`). */
const OLD_OPTIONS: ReadonlySet<string> = new Set(['install-option', 'build-option']);

/**
 * `--name` and every abbreviation of it down to `shortest` characters, as a regex alternation.
 * pip reads a requirements file's options with optparse, which takes any unambiguous prefix
 * of a long option: `--index`, `--i` and pip's alias `--pypi-url` (down to `--py`) all set
 * the index, `--extra` and `--ex` the extra one (`--e` is `--editable` too, `--p` `--pre`),
 * `--requirem` includes a file (`--require` is `--require-hashes` too). Unmatched, such a
 * line kept its index unseen, and the file was told it had no `--index-url`.
 */
export function longOption(name: string, shortest: number): string {
  const out: string[] = [];
  for (let n = name.length; n >= shortest; n--) out.push(name.slice(0, n).replace(/-/g, '\\-'));
  return `--(?:${out.join('|')})`;
}

/**
 * A word of an options line as pip's shlex reads it: its text, where it stands in the line
 * ([start, end)), and for each of its characters the offset it came from and the quote it
 * stood in ('' for none), so a value inside it (`--index-url="…"`) can be replaced in place.
 */
export interface ShellWord {
  value: string;
  start: number;
  end: number;
  src: number[];
  quote: string[];
}

/** shlex's white space (shlex.whitespace): a no-break space or a vertical tab is part of a word. */
const SHLEX_SPACE = ' \t\r\n';

/**
 * A line split into words as pip splits its options: `shlex.split`, POSIX mode
 * (https://docs.python.org/3/library/shlex.html#parsing-rules). Outside quotes `\x` is `x`;
 * in '…' nothing is special; in "…" a backslash escapes only `"` and `\`. `error` when shlex
 * raises (a quote left open, a line ending in a backslash): pip then refuses the whole file;
 * the words are still given, the open quote running to the line's end.
 */
export function shellTokens(line: string): { words: ShellWord[]; error?: string } {
  const words: ShellWord[] = [];
  let word: ShellWord | undefined;
  let quote = '';
  let error: string | undefined;
  const add = (c: string, at: number) => {
    word!.value += c;
    word!.src.push(at);
    word!.quote.push(quote);
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (!quote && SHLEX_SPACE.includes(c)) {
      if (word) words.push({ ...word, end: i });
      word = undefined;
      continue;
    }
    word ??= { value: '', start: i, end: i, src: [], quote: [] };
    if (quote === "'") {
      if (c === "'") quote = '';
      else add(c, i);
    } else if (c === '\\' && (!quote || line[i + 1] === '"' || line[i + 1] === '\\')) {
      if (i + 1 === line.length) {
        error = 'no escaped character';
        add(c, i);
      } else add(line[++i]!, i);
    } else if (c === '"' || (c === "'" && !quote)) quote = quote ? '' : c;
    else add(c, i);
  }
  if (quote) error = 'no closing quotation';
  if (word) words.push({ ...word, end: line.length });
  return error ? { words, error } : { words };
}

/**
 * The index a value names as pip reads it (its shell quoting already gone): pip expands
 * `${VAR}`, so a host from the environment is not known here, nor is an index that is no
 * http(s) URL (a local folder). Undefined for such an index: it is no public one we know,
 * and the shared repository or a store would answer for its projects with public ones of
 * the same names. warm and rewrite-lockfiles both judge an index by this.
 */
export function indexUrl(url: string): string | undefined {
  const authority = /^https?:\/\/([^/?#]*)/i.exec(url)?.[1];
  if (authority === undefined) return undefined;
  // credentials from the environment are as good as any (they go); a host from it is unknown
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  if (!host || host.includes('$')) return undefined;
  try {
    new URL(url);
  } catch {
    return undefined;
  }
  return url;
}

interface Logical {
  text: string;
  line: number;
  /** The physical lines it is joined from. */
  lines: number;
}

/** What ends a line for Python's str.splitlines (https://docs.python.org/3/library/stdtypes.html#str.splitlines). */
const PY_LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/**
 * pip's COMMENT_RE, `(^|\s+)#.*$`: matched at a line's start (re.match) it makes a
 * comment line, which never continues; searched in a joined line, it ends it.
 */
const COMMENT_LINE = /^\s*#/;

/**
 * A joined line up to its comment: `#` at the start or after whitespace. A scan, not
 * `replace(/(^|\s+)#.*$/)`, which is quadratic on a long run of spaces without a `#`.
 */
export function uncommented(l: string): string {
  for (let i = l.indexOf('#'); i !== -1; i = l.indexOf('#', i + 1)) if (i === 0 || /\s/.test(l[i - 1]!)) return l.slice(0, i);
  return l;
}

/** One of a logical line's physical pieces: its 1-based line, where its text starts in the file, and what it adds to the joined line. */
export interface Piece {
  line: number;
  start: number;
  text: string;
}

/**
 * The lines as pip joins them (req_file.join_lines), from `offset` (past a BOM): a line
 * ending in `\` continues on the next unless it is a comment line (only a line that STARTS
 * with a comment ends there, so `pkg==1 # note \` does continue); the `\`s at both ends of
 * a continued piece go, and a comment line that ends a continuation is joined with a space
 * before it. Each joined line keeps its pieces, so an offset in it maps back into the file
 * (the rewriter edits a URL where it stands). pip then cuts a joined line at its comment.
 *
 * A line ends where Python's str.splitlines ends it (pip splits the file's text so), not only
 * at `\n`: a lone CR, a vertical tab, a form feed, U+001C-U+001E, U+0085, U+2028 and U+2029 end
 * one too. Split at `\n` alone, `-i A<CR>-i B` was one line whose `-i B` pip reads and the
 * rewriter never saw. A piece's `line` is still counted in `\n`s: the line a diff and an
 * editor's line numbers show.
 */
export function* joinLines(text: string, offset = 0): Generator<{ joined: string; pieces: Piece[]; lines: number }> {
  // one logical line at a time: a file of millions of lines (64 MiB of blank lines) held as
  // objects, every physical line and then every logical one, took gigabytes and died
  let pieces: Piece[] = [];
  /** Physical lines of the logical line being joined; past MAX_CONTINUED_LINES its pieces are no longer kept (it is refused). */
  let lines = 0;
  let number = 1 + (text.slice(0, offset).match(/\n/g)?.length ?? 0);
  for (let at = offset; ; ) {
    PY_LINE_BREAK.lastIndex = at;
    const m = PY_LINE_BREAK.exec(text);
    const line = text.slice(at, m ? m.index : text.length);
    const i = number;
    const keep = ++lines <= MAX_CONTINUED_LINES;
    if (line.endsWith('\\') && !COMMENT_LINE.test(line)) {
      // pip's line.strip("\\"): leading backslashes go too
      const lead = /^\\*/.exec(line)![0].length;
      const body = line.replace(/\\+$/, '');
      if (keep) pieces.push({ line: i, start: at + lead, text: body.slice(lead) });
    } else {
      // pip puts a space before a comment line that ends a continuation: its `#` then starts a comment
      if (keep) pieces.push(COMMENT_LINE.test(line) ? { line: i, start: at - 1, text: ` ${line}` } : { line: i, start: at, text: line });
      yield { joined: pieces.map((p) => p.text).join(''), pieces, lines };
      pieces = [];
      lines = 0;
    }
    if (!m) break;
    if (m[0].endsWith('\n')) number++;
    at = m.index + m[0].length;
  }
  if (pieces.length) yield { joined: pieces.map((p) => p.text).join(''), pieces, lines };
}

/**
 * Logical lines as pip reads them (req_file.preprocess: join_lines, then ignore_comments),
 * each with its first line number and the physical lines it is joined from; blank ones dropped.
 */
export function* logicalLines(text: string): Generator<Logical> {
  for (const { joined, pieces, lines } of joinLines(text)) {
    const t = uncommented(joined).trim();
    if (t || lines > MAX_CONTINUED_LINES) yield { text: t, line: pieces[0]!.line, lines };
  }
}

/** Why a logical line joined from `lines` physical ones is not read (past MAX_CONTINUED_LINES), or undefined. */
export function tooManyLines(lines: number): string | undefined {
  if (lines <= MAX_CONTINUED_LINES) return undefined;
  return `a line continued over ${lines.toLocaleString('en-US')} lines (a \\ at their ends), more than the ${MAX_CONTINUED_LINES.toLocaleString('en-US')} any requirements file needs: not read`;
}

/** Why a line's options (`text`, split as shlex does) are not read (past MAX_REQUIREMENTS_LINE characters besides white space), or undefined. */
export function tooLongToSplit(text: string): string | undefined {
  if (text.length <= MAX_REQUIREMENTS_LINE) return undefined;
  let n = 0;
  for (let i = 0; i < text.length; i++) if (!SHLEX_SPACE.includes(text[i]!)) n++;
  if (n <= MAX_REQUIREMENTS_LINE) return undefined;
  return `options of ${n.toLocaleString('en-US')} characters besides white space, more than the ${MAX_REQUIREMENTS_LINE.toLocaleString('en-US')} any requirements file needs: not read`;
}

export function parseRequirements(text: string, file: string, opts: ReadOptions = {}): ParseOutput {
  const entries: LockEntry[] = [];
  const warnings: LockWarning[] = [];
  const done = new Set<string>();
  // pip's index: the last `--index-url` of the file or any it includes (without its credentials)
  let index: string | undefined;
  // `--no-index` (anywhere in the file or its includes): pip reads no index at all, only the
  // `--find-links` locations (a folder of wheels, a page of links), each with where it was written
  let noIndex = false;
  const findLinks: { value: string; at: LockOrigin }[] = [];
  const findLinkValues = new Set<string>();
  let notesLeftOut = 0;
  /** The notes past MAX_REQUIREMENTS_NOTES counted and dropped. */
  const capNotes = () => {
    if (warnings.length <= MAX_REQUIREMENTS_NOTES) return;
    notesLeftOut += warnings.length - MAX_REQUIREMENTS_NOTES;
    warnings.length = MAX_REQUIREMENTS_NOTES;
  };
  const add = (e: LockEntry, at: LockOrigin) => {
    if (entries.length >= MAX_REQUIREMENTS_ENTRIES) {
      throw lockError(at, `more than ${MAX_REQUIREMENTS_ENTRIES.toLocaleString('en-US')} requirements (with the files it includes): no requirements file names this many; not read`, {
        hint: 'check what wrote this file; warm the real requirements files of the project',
      });
    }
    entries.push(e);
  };
  const walk = (content: string, path: string, stack: readonly string[], constraint: boolean) => {
    for (const { text: l, line, lines } of logicalLines(content)) {
      const at: LockOrigin = { file: path, line };
      // a requirement's options are looked at in splitArgsOptions
      const long = tooManyLines(lines) ?? (l.startsWith('-') ? tooLongToSplit(l) : undefined);
      if (long) throw lockError(at, long);
      // the notes past the bound are counted (a line may add hundreds of thousands: an unknown option each)
      capNotes();
      if (l.startsWith('-')) {
        // every option of the line, abbreviated and quoted as pip reads them: `--index URL`,
        // `-i A --index-url B` (the last wins), `--requirem base.txt`, `-r "my base.txt"`. Only the
        // exact spellings were known: another one left a company index unseen, and its pins went
        // to a public store as PyPI packages of the same names.
        for (const { option, name, value } of lineOptions(l, at, warnings)) {
          if (name === 'requirement' || name === 'constraint') {
            if (!value) throw lockError(at, `${option} without a file`);
            if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
              warnings.push({ ...at, message: `${option} ${value}: a remote file is not read` });
              continue;
            }
            const target = resolve(dirname(path), value);
            let key: string;
            try {
              key = realpathSync(target);
            } catch (e) {
              throw lockError(at, `${option} ${value}: no such file (${target})`, { cause: e, hint: 'an included file is relative to the file that includes it' });
            }
            if (stack.includes(key)) throw lockError(at, `${option} ${value} includes itself: ${[...stack, key].join(' -> ')}`, { hint: 'remove the include that closes the cycle' });
            if (done.has(key)) continue; // included twice (a diamond): its entries are already in
            if (done.size >= MAX_INCLUDED_FILES) throw lockError(at, `more than ${MAX_INCLUDED_FILES} included files`);
            // An include is read like the lockfile itself: `-r /home/ci/.npmrc` or `-r ../../secrets`
            // in a repository we do not control would put another file's content into entry names.
            if (!isInside(realRoot, key)) {
              throw lockError(at, `${option} ${value}: leads outside the repository or folder being read (an absolute path, \`..\` or a symbolic link): not read`, { hint: 'include only files of the same repository or folder' });
            }
            let regular = false;
            try {
              regular = statSync(key).isFile();
            } catch {
              /* vanished since: refused below */
            }
            if (!regular) throw lockError(at, `${option} ${value}: not a regular file (a directory, device, FIFO or socket): not read`, { hint: 'include a requirements file' });
            done.add(key);
            walk(readLockfileText(target, { ...opts, root: realRoot }), target, [...stack, key], constraint || name === 'constraint');
          } else if (name === 'editable') {
            if (!value) throw lockError(at, `${option} without a path or URL`);
            const e = directEntry(value, undefined, at, true);
            if (constraint) e.constraint = true;
            add(e, at);
          } else if (name === 'index-url' || name === 'pypi-url') {
            // one we cannot tell (`${IDX}`, a folder) is kept as written: its pins are no public ones (warm/items.ts)
            const url = indexUrl(value ?? '');
            index = url !== undefined ? withoutCredentials(url) : value || '(empty)';
          } else if (name === 'no-index') {
            noIndex = true;
          } else if (name === 'find-links') {
            if (value && !findLinkValues.has(value)) {
              if (findLinks.length >= MAX_FIND_LINKS) {
                throw lockError(at, `more than ${MAX_FIND_LINKS.toLocaleString('en-US')} --find-links locations (with the files it includes): no requirements file names this many; not read`, {
                  hint: 'check what wrote this file; warm the real requirements files of the project',
                });
              }
              findLinks.push({ value, at });
              findLinkValues.add(value);
            }
          } else if (name === 'extra-index-url') {
            const url = indexUrl(value ?? '');
            const extra = url === undefined ? undefined : withoutCredentials(url);
            if (!extra || !PUBLIC_OR_CODEARTIFACT.test(new URL(extra).host)) {
              warnings.push({ ...at, message: `--extra-index-url ${extra ?? '(a URL not known here, such as an environment variable)'}: pip takes each name from whichever index offers it, so a pin of this file may come from there; the pins are warmed from public PyPI, and a name only that index serves must become a job source (after cutover it would be looked for publicly)` });
            }
          }
        }
        continue;
      }
      const e = requirementEntry(l, at, warnings);
      if (e) {
        if (constraint) e.constraint = true;
        add(e, at);
      }
    }
  };
  let self: string;
  try {
    self = realpathSync(file);
  } catch {
    self = resolve(file);
  }
  // Includes stay inside the folder being read (the checkout, the job's folder), else the file's own.
  const root = opts.root ?? dirname(self);
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    realRoot = resolve(root);
  }
  done.add(self);
  walk(text, file, [self], false);
  // where the pins come from, as uv's and poetry's entries say it: another team's index is not a public store's to ask
  if (noIndex) {
    // pip takes every pin from the --find-links locations (a company's folder or page of wheels), never
    // from PyPI: taken for PyPI, its pins were requested through the store by name, pulling in public
    // packages of the same names. The location named is one the warm cannot tell for public (a folder,
    // an environment variable), else another host's, else the first; `--no-index` alone names none.
    const located = findLinks.map((f) => f.value);
    const where = located.find((l) => indexUrl(l) === undefined) ?? located.map((l) => withoutCredentials(l)).find((l) => l !== undefined && !PUBLIC_OR_CODEARTIFACT.test(new URL(l).host)) ?? (located[0] !== undefined ? withoutCredentials(located[0]) : undefined) ?? '--no-index (no --find-links)';
    for (const e of entries) if (e.kind === 'registry') e.resolved = where;
  } else {
    if (index) for (const e of entries) if (e.kind === 'registry' && e.resolved === undefined) e.resolved = index;
    for (const { value, at } of findLinks) {
      const url = indexUrl(value);
      const shown = url === undefined ? value : withoutCredentials(url);
      if (shown !== undefined && url !== undefined && PUBLIC_OR_CODEARTIFACT.test(new URL(url).host)) continue;
      warnings.push({ ...at, message: `--find-links ${shown ?? '(a URL not known here)'}: pip takes each name from whichever of the index and these files offers it, so a pin of this file may come from there; the pins are warmed from public PyPI, and a name only found there must become a job source (after cutover it would be looked for publicly)` });
    }
  }
  capNotes();
  if (notesLeftOut) warnings.push({ file, message: `${notesLeftOut.toLocaleString('en-US')} more notes of this file left out (only the first ${MAX_REQUIREMENTS_NOTES.toLocaleString('en-US')} are kept): check it with pip` });
  return { entries, warnings };
}

/** An index URL without user and password (a token in an index URL never reaches an entry). */
function withoutCredentials(value: string): string | undefined {
  try {
    const u = new URL(value);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return undefined; // `${PIP_INDEX_URL}` and the like: not known here
  }
}

/** An option of an options line: as written, the long option it is, its value, and the word the value is in (from its `from`th character). */
export interface LineOption {
  option: string;
  name: string;
  value?: string;
  word?: ShellWord;
  from?: number;
}

/**
 * An options line's options as pip reads them (shlex, then optparse): `-rfile`, `-r file`,
 * `--requirement=file`, `--requirement file`, `--requirem file` (any unambiguous prefix),
 * several on one line, none after `--` (optparse's end of options). `option` as written,
 * `name` the long option it is. An unknown or ambiguous one is a warning (pip refuses the
 * file), words that are no option are ignored. rewrite-lockfiles finds a file's includes
 * and its index with it too: one reading of an options line.
 */
export function lineOptions(l: string, at?: LockOrigin, warnings: LockWarning[] = []): LineOption[] {
  const { words } = shellTokens(l);
  const out: LineOption[] = [];
  const valueAt = (i: number, from: number) => {
    const word = words[i];
    return word ? { value: word.value.slice(from), word, from } : {};
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!.value;
    if (w === '--') break;
    if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      const option = eq === -1 ? w : w.slice(0, eq);
      const given = option.slice(2);
      const names = given in LONG_OPTIONS ? [given] : Object.keys(LONG_OPTIONS).filter((n) => given && n.startsWith(given));
      if (names.length !== 1) {
        if (!OLD_OPTIONS.has(given)) warnings.push({ ...(at ?? { file: '' }), message: `${names.length ? `ambiguous option ${option} (${names.map((n) => `--${n}`).join(', ')})` : `unknown option ${option}`}: ignored` });
        continue;
      }
      const name = names[0]!;
      out.push({ option, name, ...(eq !== -1 ? valueAt(i, eq + 1) : LONG_OPTIONS[name] ? valueAt(++i, 0) : {}) });
    } else if (w.startsWith('-') && w.length > 1) {
      const option = w.slice(0, 2);
      const name = SHORT_OPTIONS[w[1]!];
      if (!name) {
        warnings.push({ ...(at ?? { file: '' }), message: `unknown option ${option}: ignored` });
        continue;
      }
      out.push({ option, name, ...(w.length > 2 ? valueAt(i, 2) : valueAt(++i, 0)) });
    }
  }
  return out;
}

/**
 * pip's split of a requirement line (req_file.break_args_options): options start at the first
 * whitespace-separated token that starts with `-`; they are then read as every options line is,
 * shlex and optparse (lineOptions): `--hash="sha256:…"`, `--hash 'sha256:…'`, `--has=…` are
 * hashes too. Split at white space and matched as `--hash=` alone, a quoted hash (which pip
 * takes) made the whole lockfile ELOCKFILE; a quote left open is pip's error too.
 */
function splitArgsOptions(l: string, at: LockOrigin, warnings: LockWarning[]): { req: string; hashes: string[]; bad?: string } {
  // the first word that starts with `-`, found without splitting the line into words first (a
  // requirement with megabytes of options made millions of them before any bound was looked at)
  const first = /(^|\s)-/.exec(l);
  const idx = first ? first.index + first[1]!.length : -1;
  const req = (idx === -1 ? l : l.slice(0, idx).replace(/\s+$/, '')).split(/\s+/).join(' ');
  const hashes: string[] = [];
  if (idx === -1) return { req, hashes };
  const raw = l.slice(idx);
  const long = tooLongToSplit(raw);
  if (long) return { req, hashes, bad: long };
  const options = raw.split(/\s+/).join(' ');
  const split = shellTokens(options).error;
  if (split) return { req, hashes, bad: `options ${JSON.stringify(options.slice(0, 120))}: ${split} (pip cannot split them)` };
  for (const { option, name, value } of lineOptions(options, at, warnings)) {
    if (name !== 'hash') continue;
    if (!value || !/^[a-z0-9]+:[0-9a-f]+$/i.test(value)) return { req, hashes, bad: `${option} ${value ?? ''}: not <algorithm>:<hex>` };
    hashes.push(value.toLowerCase());
  }
  return { req, hashes };
}

const NAME = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?\s*(.*)$/s;

function requirementEntry(l: string, at: LockOrigin, warnings: LockWarning[]): LockEntry | undefined {
  const { req, hashes, bad } = splitArgsOptions(l, at, warnings);
  if (bad) throw lockError(at, bad);
  if (!req) throw lockError(at, `options without a requirement: ${JSON.stringify(l.slice(0, 120))}`);
  if (looksLikeUrlOrPath(req)) {
    const { spec, marker } = splitMarker(req, true);
    const e = directEntry(spec, marker, at, false);
    if (hashes.length) e.hashes = hashes;
    return e;
  }
  const { spec, marker } = splitMarker(req, false);
  const m = NAME.exec(spec);
  if (!m?.[1]) throw lockError(at, `not a requirement: ${JSON.stringify(spec.slice(0, 120))}`);
  const name = m[1];
  const extras = m[2]?.split(',').map((x) => x.trim()).filter(Boolean);
  const rest = (m[3] ?? '').trim();
  let entry: LockEntry;
  if (rest.startsWith('@')) {
    // PEP 508 direct reference: `name @ url`.
    entry = directEntry(rest.slice(1).trim(), marker, at, false, name);
  } else {
    const clauses = rest.replace(/^\((.*)\)$/, '$1').split(',').map((c) => c.trim()).filter(Boolean);
    const pin = clauses.length === 1 ? /^(===?)\s*([^\s*]+)$/.exec(clauses[0] ?? '') : null;
    if (!pin?.[2]) {
      warnings.push({ ...at, message: `${name}${rest ? ` ${rest}` : ''}: not pinned to one version, left out` });
      return undefined;
    }
    entry = { ecosystem: 'pypi', name, normalizedName: pep503(name), version: pin[2], kind: 'registry', from: [at] };
    if (marker) entry.marker = marker;
  }
  if (extras?.length) entry.extras = extras;
  if (hashes.length) entry.hashes = hashes;
  return entry;
}

function looksLikeUrlOrPath(req: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(req) || /^(?:\.{1,2}(?:\/|$)|\/|~)/.test(req) || /\.(?:whl|tar\.gz|zip|tar\.bz2|tgz)(?:$|[\s;#])/i.test(req.split(/\s/)[0] ?? '');
}

/** Marker after `;`; for a URL pip needs whitespace before the `;`, since a URL may hold one. */
function splitMarker(req: string, url: boolean): { spec: string; marker?: string } {
  const m = url ? /^(.*?)\s+;\s*(.*)$/s.exec(req) : /^([^;]*);\s*(.*)$/s.exec(req);
  if (!m) return { spec: req.trim() };
  return { spec: (m[1] ?? '').trim(), marker: (m[2] ?? '').trim() || undefined };
}

/** A URL, VCS URL or local path requirement (bare, `-e`, or `name @ url`). */
function directEntry(ref: string, marker: string | undefined, at: LockOrigin, editable: boolean, declaredName?: string): LockEntry {
  // `#egg=name` or `#subdirectory=x&egg=name`: split, not /#(?:.*&)?egg=/, which is quadratic on a run of `#`.
  const hash = ref.indexOf('#');
  const egg = hash === -1 ? undefined : ref.slice(hash + 1).split(/[&#]/).reverse().map((p) => /^egg=([A-Za-z0-9._-]+)/.exec(p)?.[1]).find(Boolean);
  const bare = ref.replace(/#.*$/, '');
  let kind: EntryKind;
  let version = '';
  const vcs = /^(git|hg|svn|bzr)\+/i.exec(bare)?.[1]?.toLowerCase();
  if (vcs) {
    kind = vcs === 'git' ? 'git' : 'url';
    // `git+https://host/repo.git@v1.2#egg=x`: the ref after the last `@` of the path.
    version = /@([^/@]+)$/.exec(bare.replace(/^[a-z+]+:\/\/[^/]*/i, ''))?.[1] ?? '';
  } else if (/^https?:\/\//i.test(bare)) kind = 'url';
  else kind = editable ? 'link' : 'file';
  const file = /([^/]+)$/.exec(bare)?.[1] ?? '';
  const fromFile = distName(file);
  if (fromFile && !version && !vcs) version = fromFile[1];
  let name = declaredName ?? egg ?? fromFile?.[0];
  let extras: string[] | undefined;
  if (!name) {
    // `-e .[socks]`: a local project, known only by its path.
    const m = /^(.*?)(?:\[([^\]]*)\])?$/.exec(bare);
    name = m?.[1] || bare;
    extras = m?.[2]?.split(',').map((x) => x.trim()).filter(Boolean);
  }
  const e: LockEntry = { ecosystem: 'pypi', name, normalizedName: pep503(name), version, kind, resolved: ref, from: [at] };
  if (marker) e.marker = marker;
  if (extras?.length) e.extras = extras;
  return e;
}

/**
 * Name and version from a distribution's file name: a wheel is
 * `name-version(-build)?-py-abi-platform.whl` (https://packaging.python.org/en/latest/specifications/binary-distribution-format/),
 * an sdist `name-version.tar.gz`.
 */
function distName(file: string): [string, string] | undefined {
  const whl = /^([^-]+)-([^-]+)(?:-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$/i.exec(file);
  if (whl?.[1] && whl[2]) return [whl[1], whl[2]];
  const sdist = /^(.+)-(\d[^-]*)\.(?:tar\.gz|zip|tar\.bz2|tgz)$/i.exec(file);
  if (sdist?.[1] && sdist[2]) return [sdist[1], sdist[2]];
  return undefined;
}
