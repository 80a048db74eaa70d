/**
 * `rewrite-lockfiles JOB`: point the job's lockfiles at the shared repository
 * of their format (the endpoint GetRepositoryEndpoint gives: no credentials,
 * never a token). Registry URLs only; integrity, non-registry entries and
 * every other byte stay. A unified diff on stdout by default; `--write` edits
 * the local files in place (atomically, and only a file still as it was read).
 * Lockfiles found in the job's git repositories are shown as a diff to apply
 * there (`git apply` in a checkout).
 */
import { accessSync, constants, lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { AtomicFile } from '../atomic-file.js';
import { loadJob, type LoadedJob } from '../config/load.js';
import { Limiter } from '../engine/limiter.js';
import { fileSystemError, MigrateError, toError } from '../errors.js';
import { detect, parseLockfileText, type LockfileFormat } from '../lockfiles/index.js';
import { isInside, readLockfileBytes, refuseUtf16 } from '../lockfiles/read.js';
import { lineOptions, logicalLines, tooLongToSplit, tooManyLines, MAX_INCLUDED_FILES } from '../lockfiles/requirements.js';
import { rewriteLockfile, unifiedDiff, type RewriteChange, type RewriteTargets } from '../lockfiles/rewrite/index.js';
import { printable, publicUrl, redactUrlCredentials } from '../redact.js';
import { acquireJobLock, noStateError } from '../state/lock.js';
import { StateDb } from '../state/db.js';
import { checkTarget, targetOf } from '../state/target.js';
import { formatOf } from '../engine/run.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { findLockfiles, localLockfiles } from '../warm/inputs.js';
import { InternalNames } from '../warm/internal.js';
import { RegistryHosts } from '../warm/items.js';
import { LockfileRepository } from '../warm/git-lockfiles.js';
import { print, printEntries, reportError, type Io } from './output.js';
import { registerJobSecrets } from '../config/secrets.js';

export interface RewriteCommandOptions {
  write?: boolean;
  json?: boolean;
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  codeartifactClient?: CodeartifactClient;
  signal?: AbortSignal;
}

export interface RewrittenFile {
  path: string;
  format: LockfileFormat;
  /** The git repository (`<url>#<branch>`) it is in, or null for a local file. */
  repository: string | null;
  changes: RewriteChange[];
  /** Registry URLs already pointing at the shared repository: a file with these and no changes was rewritten before. */
  already: number;
  notes: string[];
  written: boolean;
  diff: string;
}

const PY_FORMATS: ReadonlySet<LockfileFormat> = new Set(['requirements', 'poetry', 'uv', 'pipfile']);
const NPM_FORMATS: ReadonlySet<LockfileFormat> = new Set(['npm', 'yarn-classic', 'yarn-berry', 'pnpm']);

export async function rewriteCommand(jobFile: string, opts: RewriteCommandOptions, io: Io): Promise<number> {
  // the diff is the default output whatever stdout is: it is made to be piped into `git apply`
  const json = opts.json === true;
  try {
    const job = loadJob(jobFile);
    const { files, errors, base, warnings } = await rewriteLockfiles(job, opts);
    // each change's URLs as provenance is recorded (publicUrl): without credentials, query or
    // fragment. Left to print()'s redaction, yarn's `#sha1` read `?***`: a secret that is not there
    const shown = files.map(({ diff: _d, ...f }) => ({ ...f, changes: f.changes.map((c) => ({ ...c, from: publicUrl(c.from), to: publicUrl(c.to) })) }));
    if (json) print(io.stdout, `${JSON.stringify({ files: shown, errors, warnings }, null, 2)}\n`);
    else {
      // Not through print(): a diff must be exact to apply (print() would hide yarn's `#sha1`
      // fragments as URL secrets). Its `+` lines are only our endpoint URLs, which carry no
      // credentials; its `-` and context lines are the lockfile's own text, and a lockfile may hold
      // a registry password or token in a URL (`resolved`, --index-url): stdout ends up in CI
      // logs, so those are shown as *** and the file's diff is said not to apply as it is.
      // On a terminal, that text (from a git repository: anyone's) could also carry escape
      // sequences or bidi overrides: shown as visible escapes there, lines kept.
      const shown = (t: string) => (io.stdout.isTTY ? printable(t, { keepLines: true }) : t);
      const masked = new Set<RewrittenFile>();
      for (const f of files) {
        if (!f.diff) continue;
        const diff = redactDiff(f.diff);
        if (diff !== f.diff) masked.add(f);
        io.stdout.write(shown(f.repository ? `# in ${f.repository}\n${diff}` : diff));
      }
      if (base !== dirname(resolve(jobFile)) && files.some((f) => f.diff && f.repository === null)) {
        print(io.stderr, `the diff's paths are relative to ${base} (lockfiles outside the job's folder): apply it there (cd ${base} && git apply)\n`);
      }
      // a lockfile's path and what its text made us say come from a repository (anyone's): one entry each
      printEntries(io.stderr, files.flatMap((f) => f.notes.map((n) => `${f.path}: ${n}`)));
      for (const f of masked) {
        const how = f.repository ? 'rewrite a checkout of it with --write' : 'use --write';
        print(io.stderr, `${f.path}: credentials in its URLs are shown as *** in the diff, which therefore will not apply as it is: ${how} (the rewritten URLs carry no credentials)\n`);
      }
      printEntries(io.stderr, warnings.map((w) => `warning: ${w}`));
      const changed = files.filter((f) => f.changes.length);
      const before = files.filter((f) => !f.changes.length && f.already).length;
      print(io.stderr, `${changed.length} of ${files.length} lockfile(s) ${opts.write ? 'rewritten' : 'to rewrite'}, ${changed.reduce((n, f) => n + f.changes.length, 0)} URL(s)${before ? `, ${before} rewritten already` : ''}${opts.write || !changed.length ? '' : ' (--write to apply)'}\n`);
    }
    printEntries(io.stderr, errors.map((e) => `error ${e.path}: ${e.message}`));
    return errors.length ? 1 : 0;
  } catch (e) {
    return reportError(e instanceof MigrateError ? e : toError(e), io, json);
  }
}

/**
 * Each quoted string of one line (`"…"` with backslash escapes, as JSON, yarn.lock, YAML and TOML
 * write one; its reader decodes `\/`, `\u0040`) through `fn`, in one pass. A string left open
 * ends the search on its line: the quotes after it, escaped or not, close no string either (a
 * scan from each is the scan from the first, in step once past it). The regex for it,
 * `"(?:[^"\\\n]|\\.)*"`, tried again from every `\"` of a hostile line: quadratic.
 */
function replaceQuoted(text: string, fn: (quoted: string) => string): string {
  let out = '';
  let last = 0;
  let i = text.indexOf('"');
  while (i !== -1) {
    let j = i + 1;
    while (j < text.length && text[j] !== '"' && text[j] !== '\n') j += text[j] === '\\' && j + 1 < text.length && text[j + 1] !== '\n' ? 2 : 1;
    if (text[j] === '"') {
      out += text.slice(last, i) + fn(text.slice(i, j + 1));
      last = j + 1;
      i = text.indexOf('"', last);
    } else {
      const nl = text.indexOf('\n', j);
      i = nl === -1 ? -1 : text.indexOf('"', nl + 1);
    }
  }
  return out + text.slice(last);
}

const LETTER_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '0': '\0' };

/** A quoted string's text as its reader sees it: JSON's, YAML's and TOML's escapes (`\uXXXX`, `\UXXXXXXXX`, `\xXX`, `\/`). */
function unescapeQuoted(body: string): string {
  return body.replace(/\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|x([0-9a-fA-F]{2})|([^]))/g, (_m, u?: string, U?: string, x?: string, c?: string) => {
    const hex = u ?? U ?? x;
    if (hex !== undefined) {
      const cp = parseInt(hex, 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    return LETTER_ESCAPES[c!] ?? c!;
  });
}

/**
 * A diff with the credentials of its URLs as `***` (redactUrlCredentials), those of a URL
 * written with escapes too: `"https:\/\/user:pw@…"` or `user:pw\u0040host` is the same URL
 * to npm, yarn and YAML, and no pattern over the raw text sees it (a lockfile a tool other than
 * npm wrote, PHP's json_encode escapes every `/`); nor pip's `https:\/\/user:pw@…` outside
 * quotes (shlex drops the backslashes). Such a URL is shown decoded, its credentials masked:
 * that file's diff then does not apply, which stderr says.
 */
function redactDiff(diff: string): string {
  return (
    replaceQuoted(redactUrlCredentials(diff), (quoted) => {
      if (!quoted.includes('\\')) return quoted;
      const decoded = unescapeQuoted(quoted.slice(1, -1));
      const masked = redactUrlCredentials(decoded);
      return masked === decoded ? quoted : JSON.stringify(masked);
    })
      // a word outside quotes as shlex reads it (pip's requirements): `\x` is `x`, so
      // `https:\/\/user:pw@…` and `h\ttps://…` are the URL to pip
      // (each word whole, then looked into: `[^\s"']*\\` would try every start of a long word, quadratic)
      .replace(/[^\s"']+/g, (word) => {
        if (!word.includes('\\')) return word;
        const decoded = word.replace(/\\([^])/g, '$1');
        const masked = redactUrlCredentials(decoded);
        return masked === decoded ? word : masked;
      })
      // a URL percent-encoded as a parameter's value (yarn berry's `::__archiveUrl=https%3A%2F%2Fuser%3Apw%40…`,
      // which yarn decodes to the URL): its credentials masked, shown encoded as it was
      .replace(/https?%3A%2F%2F[A-Za-z0-9%._~!$'()*+,;:=@-]*/gi, (encoded) => {
        let decoded: string;
        try {
          decoded = decodeURIComponent(encoded);
        } catch {
          return encoded;
        }
        const masked = redactUrlCredentials(decoded);
        return masked === decoded ? encoded : encodeURIComponent(masked).replace(/%2A/g, '*');
      })
  );
}

/** The endpoints to point at: the shared repository of each format the lockfiles need, without credentials. */
async function targetsFor(job: LoadedJob, formats: ReadonlySet<LockfileFormat>, opts: RewriteCommandOptions): Promise<RewriteTargets> {
  const needNpm = [...formats].some((f) => NPM_FORMATS.has(f));
  const needPypi = [...formats].some((f) => PY_FORMATS.has(f));
  const repos = job.config.target.repositories;
  // tarballs and indexes of a registry the shared repository does not serve stay where they are
  // (by host and path, as warm judges them: RegistryHosts)
  const registries = new RegistryHosts(job.config);
  // a source's tarball moves only for a package the job migrates from it (its packages, its
  // scopes), as warm asks a store for no other: the shared repository would answer any other
  // name with the public package of that name
  const internal = new InternalNames();
  for (const s of job.config.sources) if (s.kind === 'npm-registry') internal.addConfigured(s);
  const targets: RewriteTargets = {
    foreignNpmHost: (url) => registries.foreign('npm', url),
    foreignPypiHost: (url) => registries.foreign('pypi', url),
    notMigratedNpm: (url, name) => (internal.has('npm', name) ? undefined : registries.viaSource('npm', url)),
  };
  if (!(needNpm && repos.npm?.shared) && !(needPypi && repos.pypi?.shared)) return targets;
  const ca = new CodeArtifact(job.config.target, new Limiter(job.config.limits.rates), opts.codeartifactClient, opts.signal);
  try {
    for (const [format, shared] of [['npm', needNpm ? repos.npm?.shared : undefined], ['pypi', needPypi ? repos.pypi?.shared : undefined]] as const) {
      if (!shared) continue;
      const url = await ca.endpoint(format, shared);
      const u = new URL(url);
      // a lockfile is committed and shared: a credential in it would be a leak
      if (u.username || u.password || u.search) throw new MigrateError('ETARGET', `GetRepositoryEndpoint answered an endpoint with credentials or a query for ${shared}; not writing it into lockfiles`);
      targets[format] = url;
    }
  } finally {
    if (!opts.codeartifactClient) ca.client.destroy();
  }
  return targets;
}

/**
 * What the state says of the migration the rewritten lockfiles will lean on, for the formats that
 * move to a shared repository. The shared repository serves the job's internal packages only once
 * a run put them into its target: a job file edited to name another domain, owner, region or
 * internal repository than the state records its work in points the lockfiles at a repository
 * holding none of them (every internal package's install fails, or, without origin controls,
 * fetches a public package of its name), so that is refused, as run, plan, warm and report refuse
 * it (ETARGETCHANGED); a job with nothing on its target yet (no state here, no version migrated)
 * or with versions still to migrate is warned of. Without it the rewrite pointed builds at the
 * target named now, whatever had been migrated, and said nothing.
 */
function migratedInto(job: LoadedJob, stateDir: string, formats: ReadonlySet<LockfileFormat>, env: NodeJS.ProcessEnv): string[] {
  const repos = job.config.target.repositories;
  const moving = new Set<string>();
  if ([...formats].some((f) => NPM_FORMATS.has(f)) && repos.npm?.shared) moving.add('npm');
  if ([...formats].some((f) => PY_FORMATS.has(f)) && repos.pypi?.shared) moving.add('pypi');
  if (!moving.size) return [];
  // the job's own packages of those formats: what the shared repository must hold before a build reads it
  const sources = job.config.sources.filter((s) => s.enabled && moving.has(formatOf(s))).map((s) => s.id);
  const database = join(stateDir, `${job.name}.sqlite`);
  let existing: boolean;
  try {
    statSync(database);
    existing = true;
  } catch (e) {
    // one this user may not read is no missing state: opened below, it says why
    existing = (e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR';
  }
  if (!existing) {
    if (!sources.length) return [];
    const none = noStateError(job, stateDir, '', env);
    return [`nothing of job "${job.name}" is migrated yet (${none.message.replace(/^no state for job "[^"]*" at /, 'no state at ')}): the shared repository holds none of its ${sources.length === 1 ? "source's" : "sources'"} packages, so a build from the rewritten lockfiles fails for each of them (or, without origin controls, installs a public package of its name); ${none.hint?.startsWith('pass ') ? `${none.hint}, or ` : ''}cam run ${job.file} first`];
  }
  const state = StateDb.openToRead(database);
  try {
    // refused as run, plan, warm and report refuse it: before anything is rewritten
    checkTarget(state, targetOf(job.config.target), {});
    if (!sources.length) return [];
    const counts = state.stateCounts(sources);
    const n = (...states: string[]) => states.reduce((a, s) => a + (counts[s] ?? 0), 0);
    const on = n('verified', 'present-identical', 'published');
    const notYet = n('pending', 'fetched', 'publishing', 'failed');
    if (!on) return [`nothing of job "${job.name}" is migrated yet (${database} records no version on the target): the shared repository holds none of its sources' packages, so a build from the rewritten lockfiles fails for each of them (or, without origin controls, installs a public package of its name); cam run ${job.file} first`];
    if (notYet) return [`${notYet} version(s) of job "${job.name}" are not on the target yet (pending or failed: cam status ${job.file}): a lockfile pinning one of them fails to install from the shared repository until a run migrates it`];
    return [];
  } finally {
    state.close();
  }
}

/** A lockfile as read: `abs` is its real path (a link is written through), `bytes` what it held. */
interface Input {
  path: string;
  abs: string;
  repository: string | null;
  bytes: Buffer;
  text: string;
  format: LockfileFormat;
}

/**
 * A lockfile (or repository) that was not rewritten: its code as warm's errors carry one, so a
 * script tells this machine's disk (ELOCAL: free space, rerun) from a lockfile's own problem
 * (ELOCKFILE) or a repository's (ESOURCE...), which no rerun fixes.
 */
export interface RewriteError {
  path: string;
  code: string;
  message: string;
}

/** A lockfile's failure by its code; one thrown without one is the lockfile's. */
function codeOf(e: unknown): string {
  return e instanceof MigrateError ? e.code : 'ELOCKFILE';
}

/** The rewrite as a function: every lockfile of the job, rewritten in memory; written back when `write`. */
export async function rewriteLockfiles(job: LoadedJob, opts: RewriteCommandOptions): Promise<{ files: RewrittenFile[]; errors: RewriteError[]; base: string; warnings: string[] }> {
  const env = opts.env ?? process.env;
  registerJobSecrets(job.config, env);
  const jobDir = dirname(resolve(job.file));
  let base = jobDir;
  const errors: RewriteError[] = [];
  const inputs: Input[] = [];
  // by real path: a file listed and also included (or reached through a link) is one file,
  // and twice in the diff it would not apply
  const seen = new Set<string>();
  /**
   * Read one lockfile; a requirements file's includes too (`root`: the checkout they must stay in).
   * `includes` counts the files a top-level one includes, however deep: at most warm's
   * MAX_INCLUDED_FILES, as warm reads them. A chain thousands deep (a hostile repository) would
   * otherwise be read file after file until the stack ran out ("Maximum call stack size exceeded").
   */
  const read = (file: string, base: string, repository: string | null, root?: string, format?: LockfileFormat, included = { count: 0, top: file }) => {
    const path = relative(base, file).split(sep).join('/');
    try {
      const abs = realpathSync(file);
      if (seen.has(abs)) return;
      seen.add(abs);
      // as every lockfile is read: a regular file within the limit (never a FIFO or device an
      // include names), and in a repository never a link out of the checkout (`-> ~/.npmrc`)
      const bytes = readLockfileBytes(file, root ? { root } : {});
      refuseUtf16(path, bytes);
      const text = bytes.toString('utf8');
      const known = format ?? detect(file, text.slice(0, 64 * 1024));
      if (!known) throw new MigrateError('ELOCKFILE', 'not a lockfile format we know');
      // a lockfile its package manager cannot read is not rewritten: the rewrite would hide
      // that it is broken, and a rewriter reads its URLs as the format writes them. A
      // requirements file is checked line by line as it is rewritten, its includes read below.
      // A BOM is read past, as warm reads every lockfile (and npm, pip, the TOML and YAML readers
      // do); the rewriters keep it in the text they write.
      if (known !== 'requirements') parseLockfileText(known, text.replace(/^\uFEFF/, ''), path);
      inputs.push({ path, abs, repository, bytes, text, format: known });
      // a requirements file's includes may hold the index option, even one that holds nothing else
      if (known === 'requirements') {
        for (const inc of includes(text)) {
          const target = resolve(dirname(file), inc.value);
          let real: string;
          try {
            real = realpathSync(target);
          } catch {
            errors.push({ path, code: 'ELOCKFILE', message: `line ${inc.line}: ${inc.option} ${inc.value}: no such file (an included file is relative to the file that includes it)` });
            continue;
          }
          // a file names only its own folder's (its repository's) files: anything else of this machine stays out of the diff, and out of --write
          if (root && !isInside(root, real)) {
            errors.push({ path, code: 'ELOCKFILE', message: `line ${inc.line}: ${inc.option} ${inc.value} is outside ${repository ? 'the repository' : `the folder of the lockfiles (${root})`}; not read` });
            continue;
          }
          if (seen.has(real)) continue;
          if (++included.count > MAX_INCLUDED_FILES) {
            const top = relative(base, included.top).split(sep).join('/');
            errors.push({ path, code: 'ELOCKFILE', message: `line ${inc.line}: ${inc.option} ${inc.value}: more than ${MAX_INCLUDED_FILES} included files under ${top}, however deep (a generated loop, not a project; warm stops there too); the rest not read` });
            return;
          }
          read(target, base, repository, root, 'requirements', included);
        }
      }
    } catch (e) {
      errors.push({ path, code: codeOf(e), message: withoutFile(path, toError(e).message) });
    }
  };

  const cleanups: (() => void)[] = [];
  const stateDir = opts.stateDir ?? 'state';
  const repositories: LockfileRepository[] = [];
  try {
    // The job's lock, as run and warm take it: the git repositories' mirrors are the warm's
    // (state/git/), and --write edits lockfiles that a warm reads and a second rewrite writes.
    if (opts.write || job.config.warm.repositories.length) {
      cleanups.push(acquireJobLock(stateDir, job, env, 'rewrite-lockfiles'));
    }
    const { files: local, missing, roots } = localLockfiles(job.file, job.config.warm.lockfiles, stateDir);
    for (const m of missing) errors.push({ path: m.path, code: 'ELOCKFILE', message: m.why === 'no such file' ? missingMessage(resolve(jobDir, m.path)) : m.why });
    // the diff names a file relative to the job's folder, or (lockfiles outside it, as
    // `../services/**`) to the folder holding them all: `a/../x` is a path git apply refuses
    base = commonFolder([jobDir, ...local.map((f) => roots.get(f) ?? dirname(f))]);
    // inside the folder it was found in, as warm reads it: an include or a link never leads out of it
    for (const f of local) read(f, base, null, roots.get(f) ?? dirname(f));

    // the job's git repositories: a diff to apply there, never written from here
    for (const [i, r] of job.config.warm.repositories.entries()) repositories.push(new LockfileRepository(r, env, stateDir, job.name, job.config.limits, i));
    // as warm reads them (warm/inputs.ts): a stop ends the command, one branch's failure is that
    // branch's, and each failure keeps its code and hint (the key of the job file to fix). This
    // machine's own failure (a full disk under the mirror or the checkout, a file where
    // state/tmp should be) is no repository's: it stops the command, as it stops a warm,
    // rather than cloning every next repository onto the same full disk
    const failed = (path: string, e: unknown) => {
      if (opts.signal?.aborted) throw e;
      const err = e instanceof MigrateError ? e : (fileSystemError(e) ?? new MigrateError('ESOURCE', toError(e).message, { cause: e }));
      if (err.code === 'ELOCAL') throw err;
      errors.push({ path, code: err.code, message: err.describe() });
    };
    for (const repo of repositories) {
      let branches: string[];
      try {
        await repo.fetch(opts.signal);
        branches = await repo.branches(opts.signal);
      } catch (e) {
        failed(repo.url, e);
        continue;
      }
      for (const branch of branches) {
        try {
          const checkout = await repo.checkout(branch, opts.signal);
          cleanups.push(checkout.cleanup);
          const root = realpathSync(checkout.dir);
          for (const f of findLockfiles(checkout.dir)) read(f, checkout.dir, checkout.label, root);
        } catch (e) {
          failed(`${repo.url}#${branch}`, e);
        }
      }
    }
    // the shared repositories serve what the state records as migrated: not another target's, nor nothing
    const warnings = migratedInto(job, stateDir, new Set(inputs.map((i) => i.format)), env);
    const targets = await targetsFor(job, new Set(inputs.map((i) => i.format)), opts);
    const files: RewrittenFile[] = [];
    for (const i of inputs) {
      // one file's failure (a lockfile the rewriter cannot read, a file changed since it was
      // read) is that file's error: the others go on, none is left half done
      try {
        const r = rewriteLockfile(i.format, i.text, targets);
        const diff = unifiedDiff(i.path, i.text, r.text);
        let written = false;
        if (opts.write && r.changes.length && i.repository === null) {
          writeBack(i, r.text);
          written = true;
        }
        const notes = [...r.notes, ...(opts.write && r.changes.length && i.repository ? [`in ${i.repository}: apply the diff there (git apply), it is not written from here`] : [])];
        // its undecodable bytes show as U+FFFD in the diff: git apply finds no such context, and writeBack refuses it
        if (!opts.write && r.changes.length && !isUtf8(i)) notes.push(NOT_UTF8_DIFF);
        files.push({ path: i.path, format: i.format, repository: i.repository, changes: r.changes, already: r.already, notes, written, diff });
      } catch (e) {
        // with its hint (what to do), never a stack
        const hint = e instanceof MigrateError && e.hint ? `; ${e.hint}` : '';
        errors.push({ path: i.repository ? `${i.repository}: ${i.path}` : i.path, code: codeOf(e), message: `${toError(e).message}${hint}` });
      }
    }
    return { files, errors, base, warnings };
  } finally {
    for (const c of cleanups.reverse()) c();
    for (const r of repositories) r.close();
  }
}

/** Whether the lockfile's bytes are the UTF-8 of its text: else the text holds U+FFFD where they were not. */
function isUtf8(i: Input): boolean {
  return Buffer.from(i.text, 'utf8').equals(i.bytes);
}

const NOT_UTF8_DIFF = 'not valid UTF-8 (a byte of another encoding, such as cp1252): the diff shows those bytes as U+FFFD, so it will not apply where they are near a change, and --write refuses the file; save it as UTF-8 and run again';

/** Why a lockfile the job names is not there: a link that leads nowhere is not "no such file" (where it points is not said). */
function missingMessage(abs: string): string {
  try {
    if (!lstatSync(abs).isSymbolicLink()) return 'no such file';
  } catch {
    return 'no such file';
  }
  try {
    statSync(abs);
    return 'no such file';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `${code === 'ELOOP' ? 'a symbolic link loop' : 'a symbolic link to a missing file'} (${code ?? 'unresolvable'}): not read; fix the path in the job file, or the link`;
  }
}

/** The deepest folder holding every one of `folders` (absolute paths). */
function commonFolder(folders: readonly string[]): string {
  const split = folders.map((f) => resolve(f).split(sep));
  const first = split[0]!;
  let n = first.length;
  for (const parts of split.slice(1)) {
    let i = 0;
    while (i < n && i < parts.length && parts[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join(sep) || sep;
}

/** A parser's `file:line (where): message` as `line N (where): message`: the error is printed after the file already. */
function withoutFile(path: string, message: string): string {
  if (!message.startsWith(path)) return message;
  const rest = message.slice(path.length);
  const line = /^:(\d+)/.exec(rest);
  return line ? `line ${line[1]}${rest.slice(line[0].length)}` : rest.replace(/^:?\s*/, '');
}

/** A requirements file's `-r`/`-c` includes (remote ones are not read), as pip reads its lines. */
function includes(text: string): { option: string; value: string; line: number }[] {
  const out: { option: string; value: string; line: number }[] = [];
  // pip decodes a BOM away: `-r base.txt` on the first line is an include all the same
  for (const { text: l, line, lines } of logicalLines(text.replace(/^\uFEFF/, ''))) {
    if (!l.startsWith('-') && !tooManyLines(lines)) continue;
    const long = tooManyLines(lines) ?? tooLongToSplit(l);
    if (long) throw new MigrateError('ELOCKFILE', `line ${line}: ${long}`, { hint: 'regenerate the file, or leave it out of the job' });
    // every option of the line, as warm reads it (abbreviated, quoted, several on a line:
    // `-i URL -r base.txt`, `-r a.txt -r b.txt`): read only from the line's start, such an
    // include (and the index it may hold) was left out, or taken for one file `a.txt -r b.txt`
    for (const { option, name, value } of lineOptions(l)) {
      if ((name !== 'requirement' && name !== 'constraint') || !value) continue;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) continue;
      out.push({ option, value, line });
    }
  }
  return out;
}

/**
 * Whether the lockfile's real path still holds the bytes read: true, or what is there now
 * instead ('' for other bytes). Read as a lockfile is read (a regular file, opened without
 * waiting, never past the size read): replaced since by a FIFO it would wait for a writer
 * forever, by a link to /dev/zero it would read until memory runs out.
 */
function stillAsRead(i: Input): true | string {
  const st = stillAFile(i);
  if (typeof st === 'string') return st;
  if (st.size !== i.bytes.length) return '';
  try {
    return readLockfileBytes(i.abs, { maxBytes: i.bytes.length }).equals(i.bytes) || '';
  } catch {
    // swapped again since the lstat (a FIFO, a device, grown): not what was read either
    return '';
  }
}

/** The lockfile's real path as it is now: a regular file, or what is there instead (never read: see stillAsRead). */
function stillAFile(i: Input): Stats | string {
  let st: Stats;
  try {
    st = lstatSync(i.abs);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : `unreadable (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  if (st.isFile()) return st;
  return st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symbolic link' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'no regular file';
}

/**
 * A file-system error of the write as ELOCAL naming the lockfile (not the temporary file
 * beside it) and what to do. --write replaces the file with a new one made in its folder:
 * a user who may write the file but not the folder cannot, whatever the file's own mode.
 */
function writeError(i: Input, e: unknown): Error {
  if (e instanceof MigrateError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const folder = dirname(i.abs);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new MigrateError('ELOCAL', `${i.path}: cannot write in its folder ${folder} (${code}): --write replaces the file atomically, with a new file made beside it, so it must write the folder, not only the file; not written`, {
      subject: i.abs,
      cause: e,
      hint: 'run it as a user who may write that folder, or apply the diff there (rewrite-lockfiles without --write, then git apply)',
    });
  }
  return new MigrateError('ELOCAL', `${i.path}: cannot write ${i.abs}${code ? ` (${code})` : ''}: ${toError(e).message}; not written`, { subject: i.abs, cause: e, hint: 'free space or fix the folder there, then run again' });
}

function changedSinceRead(i: Input, now: string): MigrateError {
  return new MigrateError('ELOCKFILE', `${i.path} changed on disk since it was read (${now ? `now ${now}: ` : ''}${i.abs}); not written: run rewrite-lockfiles again`);
}

/**
 * Write a rewritten lockfile over the one read: atomically (a crash leaves the old file or
 * the new one), keeping its mode and its owner, through a link to the file it points at, and
 * only while it still holds what was read. An `npm install` or a `git checkout` since then
 * would otherwise be overwritten unseen, with a rewrite of the old content.
 */
function writeBack(i: Input, text: string): void {
  // bytes that are no UTF-8 read as U+FFFD: written back, they would change where no URL is
  if (!isUtf8(i)) throw new MigrateError('ELOCKFILE', 'not valid UTF-8 (a byte of another encoding, such as cp1252): writing it back would change more than its URLs; not written: save it as UTF-8 and run again, or change its URLs by hand (the diff shows those bytes as U+FFFD and does not apply)');
  // what is there first (a file replaced by a folder is changed, not "a file with 2 hard links"); its
  // bytes are compared once, just before the rename
  const st = stillAFile(i);
  if (typeof st === 'string') throw changedSinceRead(i, st);
  // A rename gives the name a new file: the file's other hard links would keep the old URLs,
  // two names of one file quietly becoming two files. Refused, said, rather than written in
  // place (which would give up the atomic replace).
  if (st.nlink > 1) {
    throw new MigrateError('ELOCKFILE', `${i.path} has ${st.nlink} hard links: replacing it would leave the other names with the old URLs; not written (apply the diff, or remove the other links first)`);
  }
  // A file this user may not write (chmod a-w: someone meant it to stay) is refused, as npm or
  // pip-compile writing it in place would be: the rename below needs only the folder, and would
  // replace it behind its mode. Root may write any file, as those tools may as root.
  try {
    accessSync(i.abs, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MigrateError('ELOCAL', `${i.path}: ${i.abs} is read-only ${code === 'EROFS' ? '(a read-only file system, EROFS)' : `for this user${code ? ` (${code})` : ''}`}: --write writes only a file its package manager could write; not written`, {
      subject: i.abs,
      cause: e,
      hint: 'make it writable (chmod u+w) if it is to be rewritten, or apply the diff there',
    });
  }
  // beside the real file (a rename stays on its file system), with its mode and owner
  const file = new AtomicFile(i.abs, (e) => writeError(i, e), { mode: st.mode & 0o7777, owner: { uid: st.uid, gid: st.gid } });
  try {
    file.write(text);
    // as late as can be, just before the rename: the file still holds what was read
    file.commit(() => {
      const now = stillAsRead(i);
      if (now !== true) throw changedSinceRead(i, now);
    });
  } finally {
    file.discard();
  }
}
