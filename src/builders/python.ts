/**
 * Build one Python project version (an sdist and its wheels) from a clean
 * checkout of the tagged commit, and read back what was built.
 *
 * The build is the project's own PEP 517 backend driven by a frontend
 * (Debian's `python3 -m build` unless the job says otherwise), run without
 * isolation: the backend and its requirements come from the machine, so no
 * index is consulted and no network is needed. The environment is built from
 * nothing (no PIP_INDEX_URL, no ~/.pypirc, HOME and TMPDIR in a temporary
 * directory we remove), SOURCE_DATE_EPOCH is the commit time so backends
 * that honour it stamp files with that time rather than now.
 * https://build.pypa.io/en/stable/  https://reproducible-builds.org/specs/source-date-epoch/
 *
 * Then nothing is trusted: each file's name must follow the sdist/wheel naming
 * rules, and its PKG-INFO / METADATA must name the project the job names (PEP
 * 503 normalisation) at the version the tag gives (PEP 440 equality, so tag
 * `v1.0.0` and `Version: 1.0` agree). Metadata is read the way twine reads it
 * (a single top-level `<name>-<version>/PKG-INFO` in the sdist, the
 * `*.dist-info/METADATA` of a wheel), streamed and bounded.
 * https://packaging.python.org/en/latest/specifications/source-distribution-format/
 * https://packaging.python.org/en/latest/specifications/binary-distribution-format/
 * https://packaging.python.org/en/latest/specifications/core-metadata/
 *
 * The build writes into the checkout (build/, *.egg-info): a git work tree
 * that is not clean is refused, since setuptools would pack stale files left
 * by an earlier build. Give every build a fresh checkout. Its files' mtimes
 * are set to the commit time first (see pinMtimes).
 */
import { lstat, lutimes, mkdir, mkdtemp, readdir, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { diskFullError, MigrateError, toError, type ErrorCode } from '../errors.js';
import { AS_GO_READS, realChanges, WITHOUT_OPERATOR_CONFIG } from '../git-local.js';
import { refuseLinksOut } from './links-out.js';
import { notRegularFile } from './output-file.js';
import { buildPathMap, offlineHint, runProcess, toolVersion, type RunResult } from './process.js';
import { MAX_VERSION_KEY, shownKey } from '../sources/bounded.js';
import { isValidProjectName, normalizePep440, normalizeProjectName, parseCoreMetadata, parseWheelName, pep440Key, readSdistPkgInfo, readWheelMetadata, samePep440, splitSdistName, type CoreMetadata, type Fail } from './python-metadata.js';
import { BUILD_PLACEHOLDERS } from './placeholders.js';
import { clampSdistTimes } from './sdist-times.js';
import { BUILD_LOG_TAIL_MAX, printable, redact } from '../redact.js';

export { isValidProjectName, normalizePep440, normalizeProjectName, parseCoreMetadata, parseWheelName, samePep440, splitSdistName, type CoreMetadata } from './python-metadata.js';

/**
 * The build command, one argument per element; placeholders are replaced in
 * each argument (so paths with spaces stay one argument):
 *   {python}   the interpreter (`python` option, /usr/bin/python3 by default)
 *   {srcdir}   the project directory: the checkout, or its `subdir`
 *   {outdir}   where the files must be written (the `outDir` option)
 *   {checkout} the checkout's root
 *   {name}     the project name as the job gives it
 *   {version}  the tag's version, PEP 440-normalised (`v1.0.0` -> `1.0.0`)
 * A string command is split on whitespace (no shell, no quoting).
 */
export const DEFAULT_PYTHON_BUILD_COMMAND: readonly string[] = [
  '{python}', '-m', 'build', '--no-isolation', '--skip-dependency-check', '--sdist', '--wheel', '--outdir', '{outdir}', '{srcdir}',
];
export const DEFAULT_PYTHON = '/usr/bin/python3';
const PLACEHOLDERS = BUILD_PLACEHOLDERS.pypi;

/** When a caller gives none: the job file's default (build.timeoutSeconds: 1200), so a build outside a run gets as long as one in it. */
export const DEFAULT_BUILD_TIMEOUT_MS = 1200 * 1000;
/** A PKG-INFO/METADATA holds the README as its description; 8 MiB is far above any real one. */
export const DEFAULT_MAX_METADATA_BYTES = 8 * 1024 * 1024;
/** How many files' worth of that bound one version's files may hold together (64 MiB by default). */
const METADATA_FILES_PER_VERSION = 8;
/** Scanning an sdist stops here (a gzip bomb must not run forever). */
export const DEFAULT_MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024;
/** The largest file of a build when the caller gives no bound (the engine gives limits.maxArtifactBytes): the most CodeArtifact takes. */
export const DEFAULT_MAX_FILE_BYTES = 5 * 1024 ** 3;

export interface PythonBuildOptions {
  /** A clean checkout of the tagged commit: the repository root. */
  checkoutDir: string;
  /** Where the build's HOME and TMPDIR are made (`scratch-<pid>-…`, swept after a killed run); the system's temp folder unless told. */
  scratchDir?: string;
  /** The project's directory in the repository (monorepos), '' or absent for the root. */
  subdir?: string;
  /** The tagged commit's committer time: SOURCE_DATE_EPOCH and the checkout's file times (within ZIP's range: zipTime). */
  commitTime: Date;
  /** Where the build writes its files, outside the checkout; created if absent, and must be empty. */
  outDir: string;
  /** The project name the job gives (compared under PEP 503 normalisation). */
  name: string;
  /** The tag's version (`v1.0.0`, `1.0`, `2.0rc1`): must be PEP 440. */
  version: string;
  /** See DEFAULT_PYTHON_BUILD_COMMAND for the placeholders. */
  command?: string | readonly string[];
  /** The interpreter for {python}; /usr/bin/python3 by default. */
  python?: string;
  timeoutMs?: number;
  /** Let the command reach the network (default: none, where namespaces allow: see runProcess's `offline`). */
  network?: boolean;
  signal?: AbortSignal;
  /** How many sdists the build must produce: exactly this many (1 unless told; 0 for a wheel-only command). */
  expectSdists?: number;
  /** At least this many wheels (1 unless told). */
  minWheels?: number;
  /** Added to the build's clean environment (e.g. SETUPTOOLS_SCM_PRETEND_VERSION); PATH may be overridden here. */
  env?: Readonly<Record<string, string>>;
  /** How much of the build's output tail to keep (bytes). */
  maxOutputBytes?: number;
  maxMetadataBytes?: number;
  maxUnpackedBytes?: number;
  /**
   * The largest file the build may write (limits.maxArtifactBytes), looked at before any is read:
   * a setup.py can append a sparse hole of terabytes to a valid sdist (no disk used), which
   * gunzip reads through to its end, for hours, after the build's own timeout.
   */
  maxFileBytes?: number;
}

export type PythonFileType = 'sdist' | 'bdist_wheel';

export interface PythonDist {
  path: string;
  filename: string;
  filetype: PythonFileType;
  /** `source` for an sdist; a wheel's python tag (`py3`, `py2.py3`, `cp311`), as twine sends it. */
  pyversion: string;
  size: number;
  metadata: CoreMetadata;
  /** Fields the metadata holds that could not be parsed (unknown, repeated single fields, duplicate URL labels): not uploaded. */
  unparsed: Record<string, string[]>;
  /** A wheel's `Generator:` (WHEEL file): the backend that made it, with its version. */
  generator?: string;
}

export interface PythonBuildResult {
  /** The project name, PEP 503-normalised. */
  name: string;
  /** The tag's version, PEP 440-normalised. */
  version: string;
  /** The sdist first, then the wheels, by file name. */
  files: PythonDist[];
  /** The tail of the build's output. */
  output: string;
  durationMs: number;
  /**
   * What a rebuild needs to give the same bytes, as far as the files and the interpreter
   * say: the Python version, and each wheel's generator (its backend and version).
   */
  builtWith: { python: string | null; generators: string[] };
}

export async function buildPython(opts: PythonBuildOptions): Promise<PythonBuildResult> {
  const started = Date.now();
  if (!isValidProjectName(opts.name)) {
    throw new MigrateError('ECONFIG', `${JSON.stringify(opts.name)} is not a valid Python project name`, { subject: opts.name, hint: 'letters, digits, and . _ - inside' });
  }
  const version = normalizePep440(opts.version);
  const subject = `${opts.name}@${version ?? opts.version}`;
  if (version === undefined) {
    throw new MigrateError('EVERSION', `${opts.name}: the tag's version ${JSON.stringify(opts.version)} is not a PEP 440 version`, {
      subject,
      actual: opts.version,
      hint: 'exclude this tag, or map it to a version in the job file; pip could not install it anyway',
    });
  }
  if (Number.isNaN(opts.commitTime.getTime())) throw new MigrateError('ECONFIG', `${subject}: the commit time is not a date`, { subject });

  const checkout = resolve(opts.checkoutDir);
  const srcdir = await projectDir(checkout, opts.subdir ?? '', subject);
  const outDir = resolve(opts.outDir);
  const inside = relative(checkout, outDir);
  if (!inside.startsWith('..') && !isAbsolute(inside)) {
    throw new MigrateError('ECONFIG', `${subject}: the output directory ${outDir} is inside the checkout`, { subject, hint: 'write the build output outside the checkout: it must stay clean' });
  }
  await prepareOutDir(outDir, subject);
  await requireCleanCheckout(checkout, subject, opts.signal);
  await refuseLinksOut(checkout, srcdir, subject);
  const buildTime = zipTime(opts.commitTime);
  await pinMtimes(checkout, buildTime, subject);

  const python = opts.python ?? DEFAULT_PYTHON;
  const argv = expandCommand(opts.command ?? DEFAULT_PYTHON_BUILD_COMMAND, { python, srcdir, outdir: outDir, checkout, name: opts.name, version }, subject);
  const work = await mkdtemp(join(opts.scratchDir ?? tmpdir(), `scratch-${process.pid}-`));
  let run: RunResult;
  try {
    await mkdir(join(work, 'home'));
    await mkdir(join(work, 'tmp'));
    const env = buildEnv(python, work, checkout, buildTime, opts.env);
    try {
      run = await runProcess({ argv, cwd: srcdir, env, timeoutMs: opts.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS, signal: opts.signal, maxOutputBytes: opts.maxOutputBytes, offline: !opts.network, writable: [checkout, outDir] });
    } catch (e) {
      // this machine's (no temp folder to contain the build with): the run stops, the tag is not blamed
      if (e instanceof MigrateError) throw e;
      throw cannotStart(e, argv, python, env.PATH!, subject);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  if (run.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: the build was stopped`, { subject });
  if (run.timedOut || run.exitCode !== 0) {
    // a full disk under the state directory is this machine's, not the tag's: the run stops
    const full = run.timedOut ? undefined : diskFullError(run.output, run.signal, outDir, 'build into', subject);
    if (full) throw full;
    // `{python} -m build` with an interpreter that has no build module (a venv's, pyenv's): the job's, not the tag's
    if (!run.timedOut && argv[0] === python && argv[1] === '-m' && argv[2] === 'build' && /^.*: No module named build\s*$/m.test(run.output)) {
      throw new MigrateError('EBUILD', `${subject}: the build's interpreter ${JSON.stringify(printable(python))} has no build module`, {
        subject,
        expected: 'an interpreter with the build module and the backends (build.python)',
        actual: python,
        hint: 'set build.python in the job file to an interpreter that has the build tools (Debian: apt-get install python3-build python3-setuptools python3-wheel, then /usr/bin/python3), or install build and the backends into this one',
      });
    }
    const how = run.timedOut
      ? `timed out after ${Math.round((opts.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS) / 1000)}s and was killed`
      : run.exitCode === null ? `was killed by ${run.signal}` : `failed with exit code ${run.exitCode}`;
    throw new MigrateError('EBUILD', `${subject}: the build ${how}`, {
      subject,
      actual: outputTail(run.output),
      cause: new Error(run.output),
      hint: run.timedOut
        ? 'the build hangs or needs longer: raise build.timeoutSeconds in the job file, or exclude this tag'
        : `the output tail above says why; fix the build at the source, change the build command, or exclude this tag${offlineHint(opts.network)}`,
    });
  }

  const files = await readBuiltFiles(outDir, opts, version, subject);
  // the operator's interpreter (build.python), asked once per process
  const interpreter = await toolVersion([python, '-c', 'import platform; print(platform.python_version())'], { PATH: '/usr/bin:/bin', PYTHONNOUSERSITE: '1' });
  const builtWith = { python: interpreter, generators: [...new Set(files.flatMap((f) => (f.generator ? [f.generator] : [])))] };
  return { name: normalizeProjectName(opts.name), version, files, output: run.output, durationMs: Date.now() - started, builtWith };
}

/**
 * The build's program could not be started (no such file, not executable): the job's setting or
 * this machine's tools, never the tag's. Named with the setting to fix: the interpreter
 * (build.python) where the command starts with it, else the command's program, looked up on the
 * build's own PATH, which is not the operator's (a `pip install build` puts pyproject-build in
 * /usr/local/bin, where the build does not look).
 */
function cannotStart(e: unknown, argv: readonly string[], python: string, path: string, subject: string): MigrateError {
  const program = argv[0]!;
  const err = toError(e) as NodeJS.ErrnoException;
  if (err.code !== 'ENOENT' && err.code !== 'EACCES') {
    return new MigrateError('EBUILD', `${subject}: the build command cannot be started: ${err.message}`, {
      subject,
      actual: argv.join(' '),
      cause: e,
      hint: `install the build tools (Debian: apt-get install python3-build python3-setuptools python3-wheel) or fix the job's python/command`,
    });
  }
  const why = err.code === 'EACCES' ? 'is not executable' : program.includes('/') ? 'does not exist' : `is not on the build's PATH (${path})`;
  const isPython = program === python;
  return new MigrateError('EBUILD', `${subject}: the build's ${isPython ? 'interpreter' : 'program'} ${JSON.stringify(printable(program))} ${why}`, {
    subject,
    expected: program.includes('/') ? 'an executable file' : `an executable on ${path}`,
    actual: program,
    cause: e,
    hint: isPython
      ? `set build.python in the job file to an interpreter that has the build tools (Debian: apt-get install python3-build python3-setuptools python3-wheel, then /usr/bin/python3)`
      : `fix build.command (or the version's command) in the job file: give the program by its absolute path, or install it under /usr/bin`,
  });
}

/** The last lines of a build's output, for an error message. */
function outputTail(output: string, max = BUILD_LOG_TAIL_MAX): string {
  // redacted whole, then cut: a credential URL cut in two no longer looks like one
  const t = redact(output).trimEnd();
  return t.length <= max ? t : `…${t.slice(t.length - max)}`;
}

async function projectDir(checkout: string, subdir: string, subject: string): Promise<string> {
  const bad = () =>
    new MigrateError('ECONFIG', `${subject}: the project directory ${JSON.stringify(subdir)} is not a relative path inside the checkout`, {
      subject,
      hint: "give it like 'libs/client', or '' for the repository root",
    });
  if (isAbsolute(subdir) || subdir.split(/[\\/]/).includes('..')) throw bad();
  const dir = resolve(checkout, subdir);
  let real: string;
  try {
    real = await realpath(dir);
  } catch (e) {
    throw new MigrateError('EBUILD', `${subject}: the checkout has no directory ${JSON.stringify(subdir)}`, { subject, cause: e, hint: 'check the subdir in the job file against the tagged commit' });
  }
  const top = await realpath(checkout);
  const rel = relative(top, real);
  if (rel.startsWith('..') || isAbsolute(rel)) throw bad();
  const has = async (f: string) => (await stat(join(dir, f)).catch(() => undefined))?.isFile() ?? false;
  if (!(await has('pyproject.toml')) && !(await has('setup.py'))) {
    throw new MigrateError('EBUILD', `${subject}: ${subdir || 'the checkout'} has neither pyproject.toml nor setup.py`, {
      subject,
      hint: 'point subdir at the Python project in the job file, or exclude this tag',
    });
  }
  return dir;
}

async function prepareOutDir(outDir: string, subject: string): Promise<void> {
  try {
    await mkdir(outDir, { recursive: true });
    const present = await readdir(outDir);
    if (present.length > 0) throw new Error(`it already holds ${present.slice(0, 3).join(', ')}`);
  } catch (e) {
    throw new MigrateError('ELOCAL', `${subject}: the output directory ${outDir} cannot be used: ${toError(e).message}`, { subject, cause: e, hint: 'give each build an empty output directory' });
  }
}

/**
 * A git work tree must have no untracked or ignored files: a `build/` or
 * `*.egg-info` left by an earlier build would end up in the new files.
 * A checkout that is not a git work tree (an export) is taken as it is.
 */
async function requireCleanCheckout(checkout: string, subject: string, signal?: AbortSignal): Promise<void> {
  if (!(await stat(join(checkout, '.git')).catch(() => undefined))) return;
  // as the checkout was made (git-access.ts); no HOME, and no global config: with HOME the checkout, a
  // `.gitconfig` the tag commits was git's own config, and its core.fsmonitor a command git ran here,
  // outside the build's containment
  const git = { argv: ['git', '-c', `safe.directory=${checkout}`, ...AS_GO_READS], env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...WITHOUT_OPERATOR_CONFIG, LC_ALL: 'C' } };
  const run = await runProcess({
    argv: [...git.argv, 'status', '--porcelain', '-z', '--ignored', '--untracked-files=all'],
    cwd: checkout,
    env: git.env,
    timeoutMs: 60_000,
    signal,
    // our own git on our own checkout: nothing in it to contain, and a PID namespace costs a node start per tag
    containment: 'process-group',
  }).catch((e: unknown) => {
    throw new MigrateError('EBUILD', `${subject}: git cannot be run to check the checkout: ${toError(e).message}`, { subject, cause: e, hint: 'install git' });
  });
  if (run.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: stopped`, { subject });
  if (run.exitCode !== 0) {
    throw new MigrateError('EBUILD', `${subject}: git status failed in the checkout`, { subject, actual: outputTail(run.output) });
  }
  // a file git status merely suspects (racily clean, a CRLF blob under a `text` attribute) is compared with its blob
  const changed = await realChanges(checkout, run.output, git, 20);
  if (changed.length > 0) {
    throw new MigrateError('EBUILD', `${subject}: the checkout is not clean`, {
      subject,
      actual: outputTail(changed.join('\n'), 1000),
      hint: 'an earlier build or a stray file would end up in the artifacts; build from a fresh checkout of the tag',
    });
  }
}

/**
 * What every file a build writes can say: a ZIP entry (MS-DOS dates, read as UTC here:
 * the build has no TZ) from 1980-01-01, an sdist's gzip header (32 bits of seconds) to
 * 2106-02-07T06:28:15Z (an even second: DOS times count in twos).
 */
const ZIP_FIRST = Date.UTC(1980, 0, 1);
const ZIP_LAST = 4_294_967_294_000;

/**
 * The time a build is stamped with: the commit time, brought into what a wheel and an
 * sdist can hold. A commit dated before 1980 (an imported history, a faked date) or
 * after 2106 would otherwise fail every backend that does not clamp it itself
 * (hatchling: "ZIP does not support timestamps before 1980", or a gzip header that
 * overflows), and such a tag could never be migrated; the version's recorded commit
 * time stays the real one.
 */
export function zipTime(commitTime: Date): Date {
  return new Date(Math.min(ZIP_LAST, Math.max(ZIP_FIRST, commitTime.getTime())));
}

/**
 * Every file and directory of the checkout (but .git) gets the commit time as
 * its mtime. A clone stamps files with the time of the clone, and backends
 * that do not clamp to SOURCE_DATE_EPOCH copy mtimes into the sdist's tar
 * headers (poetry-core 1.4, setuptools 66): with this, poetry-core's sdist is
 * the same bytes on every rebuild of a tag, and setuptools' is closer to it.
 */
async function pinMtimes(checkout: string, commitTime: Date, subject: string): Promise<void> {
  try {
    // walked by hand: readdir's `recursive` follows symlinked directories, and a tag may
    // commit `docs -> /home` or `x -> ../..`; a link gets its own time, never its target's
    const folders = [checkout];
    for (let dir = folders.pop(); dir !== undefined; dir = folders.pop()) {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (dir === checkout && entry.name === '.git') continue;
        const path = join(dir, entry.name);
        await lutimes(path, commitTime, commitTime);
        if (entry.isDirectory()) folders.push(path);
      }
    }
    await lutimes(checkout, commitTime, commitTime);
  } catch (e) {
    throw new MigrateError('ELOCAL', `${subject}: cannot set the checkout's file times: ${toError(e).message}`, { subject, cause: e });
  }
}

function expandCommand(command: string | readonly string[], values: Record<(typeof PLACEHOLDERS)[number], string>, subject: string): string[] {
  const words = typeof command === 'string' ? command.trim().split(/\s+/) : [...command];
  if (words.length === 0 || words[0] === '') throw new MigrateError('ECONFIG', `${subject}: the build command is empty`, { subject });
  return words.map((w) =>
    w.replace(/\{([^{}]*)\}/g, (_m, key: string) => {
      if (!(PLACEHOLDERS as readonly string[]).includes(key)) {
        throw new MigrateError('ECONFIG', `${subject}: the build command has an unknown placeholder {${key}}`, {
          subject,
          hint: `placeholders are ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
        });
      }
      return values[key as (typeof PLACEHOLDERS)[number]];
    }),
  );
}

/**
 * The build's whole environment. Nothing is inherited: pip and the backends
 * read PIP_*, PYTHONPATH, ~/.pypirc, ~/.config/pip and friends, and none of
 * that must change what gets built or make it reach for an index. A C
 * extension's source path is mapped out of it (buildPathMap).
 */
function buildEnv(python: string, work: string, checkout: string, buildTime: Date, extra: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const pythonBin = isAbsolute(python) ? dirname(python) : undefined;
  return {
    PATH: [...(pythonBin && !['/usr/bin', '/bin'].includes(pythonBin) ? [pythonBin] : []), '/usr/bin', '/bin'].join(':'),
    HOME: join(work, 'home'),
    TMPDIR: join(work, 'tmp'),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    SOURCE_DATE_EPOCH: String(Math.floor(buildTime.getTime() / 1000)),
    // Reproducible-builds advice: a fixed hash seed keeps set/dict-order-dependent output stable.
    PYTHONHASHSEED: '0',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONNOUSERSITE: '1',
    ...buildPathMap(checkout),
    PIP_NO_INDEX: '1',
    PIP_NO_INPUT: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_CONFIG_FILE: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    NO_COLOR: '1',
    ...extra,
  };
}

// ---------------------------------------------------------------------------
// What was built

/** A file name's bytes with every one outside printable ASCII as `\xNN`: what a name that is no UTF-8 is shown as. */
const rawName = (name: Buffer): string => [...name].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');

async function readBuiltFiles(outDir: string, opts: PythonBuildOptions, version: string, subject: string): Promise<PythonDist[]> {
  // read as bytes: a name that is no UTF-8 comes back from a string readdir with U+FFFD in it, a path that
  // does not exist (lstat's ENOENT, which stops the run as this machine's fault); the build named it, so the build is refused
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const names: string[] = [];
  for (const raw of await readdir(outDir, { encoding: 'buffer' })) {
    let name: string;
    try {
      name = utf8.decode(raw);
    } catch {
      throw new MigrateError('EBADBUILD', `${subject}: ${rawName(raw)}: the build wrote a file whose name is not UTF-8`, {
        subject,
        actual: rawName(raw),
        hint: 'sdist and wheel names are ASCII (PEP 625, PEP 427); fix the build at the source or the build command, or exclude this tag',
      });
    }
    names.push(name);
  }
  names.sort();
  const sdists = names.filter((n) => n.endsWith('.tar.gz'));
  const wheels = names.filter((n) => n.endsWith('.whl'));
  const other = names.filter((n) => !n.endsWith('.tar.gz') && !n.endsWith('.whl'));
  const bad = (code: ErrorCode, message: string, init: { file?: string; expected?: string; actual?: string; hint?: string }) =>
    new MigrateError(code, `${subject}: ${init.file ? `${init.file}: ` : ''}${message}`, {
      subject,
      expected: init.expected,
      actual: init.actual,
      hint: init.hint ?? 'fix the project at the source or the build command, or exclude this tag',
    });
  if (other.length > 0) {
    throw bad('EBADBUILD', 'the build wrote files that are neither an sdist (.tar.gz) nor a wheel (.whl)', { actual: other.join(', '), hint: 'sdists must be .tar.gz (PEP 625); check the build command' });
  }
  // the build wrote the folder: a named pipe in it would hold the run for ever (no writer is left), a link would send what it points at
  for (const name of [...sdists, ...wheels]) {
    const kind = notRegularFile(join(outDir, name));
    if (kind) throw bad('EBADBUILD', `is not a regular file but ${kind}`, { file: name, hint: 'the build must write its files into {outdir}: check the build command and setup.py' });
  }
  // by its size alone, before a byte is read: the upload would refuse it after reading it all anyway
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  for (const name of [...sdists, ...wheels]) {
    const { size } = await lstat(join(outDir, name));
    if (size > maxFileBytes) {
      throw bad('ETOOLARGE', `the build wrote ${size} bytes, more than limits.maxArtifactBytes (${maxFileBytes} bytes)`, {
        file: name,
        expected: `at most ${maxFileBytes} bytes`,
        actual: `${size} bytes`,
        hint: 'if the file is real, raise limits.maxArtifactBytes in the job file; otherwise fix what the build writes at the source, or skip this version (versions: { "<version>": { skip: … } })',
      });
    }
  }
  const expectSdists = opts.expectSdists ?? 1;
  const minWheels = opts.minWheels ?? 1;
  if (sdists.length !== expectSdists) {
    throw bad('EBADBUILD', `the build made ${sdists.length} sdists`, { expected: `${expectSdists}`, actual: sdists.join(', ') || 'none' });
  }
  if (wheels.length < minWheels) {
    throw bad('EBADBUILD', `the build made ${wheels.length} wheels`, { expected: `at least ${minWheels}`, actual: wheels.join(', ') || 'none' });
  }

  const expectedName = normalizeProjectName(opts.name);
  // what the build wrote is quoted short: a setup.py can write a Name or Version of megabytes, and the
  // error is kept with the version (and once more in its events) on every run that builds it again
  const short = (text: string) => (text.length <= MAX_VERSION_KEY ? text : shownKey(text));
  const check = (file: string, what: string, name: string, ver: string) => {
    // a valid (ASCII) name, not only an equal normal form: lower() makes U+212A KELVIN SIGN a "k", and the
    // upload form's safe_name would turn that sign into "-", another project on the target
    if (!isValidProjectName(name) || normalizeProjectName(name) !== expectedName) {
      throw bad('EBADBUILD', `${what} names the project ${shownKey(name)}`, { file, expected: opts.name, actual: short(name), hint: 'the job names another project than the one this tag builds; fix the job file' });
    }
    if (!samePep440(ver, version)) {
      throw bad('EVERSION', `${what} says version ${shownKey(ver)}, the tag says ${version}`, {
        file,
        expected: version,
        actual: short(ver),
        hint: 'the version in the project files was not bumped with the tag (or is computed from something else); exclude this tag or fix it at the source',
      });
    }
  };

  const limits = { metadata: opts.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES, unpacked: opts.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES };
  const out: PythonDist[] = [];
  // every file's metadata is held (and recorded) at once: a build writing 150 wheels of 8 MiB of
  // metadata each would hold 1.2 GB; the version as a whole gets METADATA_FILES_PER_VERSION files' worth
  let metadataBytes = 0;
  /** The wheels by project, version and build tag as pip reads their names: their files and tag sets. */
  const wheelTags = new Map<string, { filename: string; tags: Set<string>[] }[]>();
  for (const filename of [...sdists, ...wheels]) {
    const path = join(outDir, filename);
    const fail: Fail = (m, init) => bad(init?.code ?? 'EBADBUILD', m, { file: filename, ...init });
    if (filename.endsWith('.tar.gz')) await clampSdistTimes(path, zipTime(opts.commitTime), limits.unpacked, fail, opts.signal);
    const size = (await stat(path)).size;
    let filetype: PythonFileType;
    let pyversion: string;
    let raw: Buffer;
    let generator: string | undefined;
    if (filename.endsWith('.tar.gz')) {
      const stem = filename.slice(0, -'.tar.gz'.length);
      const split = splitSdistName(stem, expectedName);
      if (!split) throw bad('EBADBUILD', 'the sdist is not named <name>-<version>.tar.gz for this project', { file: filename, expected: `${opts.name}-${version}.tar.gz` });
      check(filename, 'the sdist file name', split.name, split.version);
      filetype = 'sdist';
      pyversion = 'source';
      raw = await readSdistPkgInfo(path, stem, limits, fail);
    } else {
      const w = parseWheelName(filename);
      if (!w) {
        throw bad('EBADBUILD', 'the wheel is not named <name>-<version>[-<build>]-<python>-<abi>-<platform>.whl', { file: filename, hint: 'https://packaging.python.org/en/latest/specifications/binary-distribution-format/' });
      }
      check(filename, 'the wheel file name', w.name, w.version);
      // pip reads a wheel's name as a project, a version and tag sets (lower case, in any order): two files whose
      // tags meet are one wheel to it where they do, both uploaded (CodeArtifact takes another file name) and either installed
      const key = [normalizeProjectName(w.name), pep440Key(w.version), w.build ?? ''].join('-');
      const tags = [w.python, w.abi, w.platform].map((t) => new Set(t.toLowerCase().split('.')));
      const twin = (wheelTags.get(key) ?? []).find((o) => o.tags.every((set, i) => [...set].some((t) => tags[i]!.has(t))));
      if (twin) {
        throw bad('EBADBUILD', `the build made this wheel twice, also as ${twin.filename}: pip installs either`, {
          file: filename,
          actual: `${twin.filename}, ${filename}`,
          hint: 'the build must write each wheel once: fix the build command or setup.py, or skip this version (versions: { "<version>": { skip: … } })',
        });
      }
      wheelTags.set(key, [...(wheelTags.get(key) ?? []), { filename, tags }]);
      filetype = 'bdist_wheel';
      pyversion = w.python;
      const { dir, data, generator: wheelGenerator } = await readWheelMetadata(path, limits.metadata, fail);
      generator = wheelGenerator;
      const d = /^(.+)-([^-]+)\.dist-info$/.exec(dir);
      if (!d) throw bad('EBADBUILD', `the wheel's ${dir} is not named <name>-<version>.dist-info`, { file: filename });
      check(filename, `the wheel's ${dir} directory`, d[1]!, d[2]!);
      raw = data;
    }
    metadataBytes += raw.length;
    if (metadataBytes > limits.metadata * METADATA_FILES_PER_VERSION) {
      throw bad('ETOOLARGE', `the metadata of the version's ${sdists.length + wheels.length} files is over ${limits.metadata * METADATA_FILES_PER_VERSION} bytes together (${out.length + 1} read so far)`, {
        file: filename,
        hint: 'a build of this many files, or of this much metadata, is not a release to migrate as it is: fix the build command, or exclude this tag',
      });
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw bad('EBADBUILD', 'the metadata is not valid UTF-8', { file: filename });
    }
    const { metadata, unparsed } = parseCoreMetadata(text);
    for (const field of ['metadata_version', 'name', 'version'] as const) {
      if (typeof metadata[field] !== 'string' || metadata[field] === '') throw bad('EBADBUILD', `the metadata has no ${field.replace('_', '-')}`, { file: filename });
    }
    const full = metadata as CoreMetadata;
    check(filename, 'the metadata', full.name, full.version);
    out.push({ path, filename, filetype, pyversion, size, metadata: full, unparsed, ...(generator ? { generator } : {}) });
  }
  return out;
}
