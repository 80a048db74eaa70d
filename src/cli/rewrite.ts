/**
 * `rewrite-lockfiles JOB`: point the job's lockfiles at the shared repository
 * of their format (the endpoint GetRepositoryEndpoint gives: no credentials,
 * never a token). Registry URLs only; integrity, non-registry entries and
 * every other byte stay. A unified diff on stdout by default; `--write` edits
 * the local files in place (atomically). Lockfiles found in the job's git
 * repositories are shown as a diff to apply there (`git apply` in a checkout).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { loadJob, type LoadedJob } from '../config/load.js';
import { Limiter } from '../engine/limiter.js';
import { MigrateError, toError } from '../errors.js';
import { detect, parseLockfile, type LockfileFormat } from '../lockfiles/index.js';
import { rewriteLockfile, unifiedDiff, type RewriteChange, type RewriteTargets } from '../lockfiles/rewrite/index.js';
import { registerSecret } from '../redact.js';
import { acquireLock } from '../state/lock.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { findLockfiles, localLockfiles } from '../warm/inputs.js';
import { LockfileRepository } from '../warm/git-lockfiles.js';
import { print, reportError, type Io } from './output.js';

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
    const { files, errors } = await rewriteLockfiles(job, opts);
    if (json) print(io.stdout, `${JSON.stringify({ files: files.map(({ diff: _d, ...f }) => f), errors }, null, 2)}\n`);
    else {
      // Written as is, not through print(): a diff must be exact to apply (print() would hide
      // yarn's `#sha1` fragments as URL secrets). Its `-` lines are the lockfile's own committed
      // text, its `+` lines only our endpoint URLs, which carry no credentials.
      for (const f of files) if (f.diff) io.stdout.write(f.repository ? `# in ${f.repository}\n${f.diff}` : f.diff);
      for (const f of files) for (const n of f.notes) print(io.stderr, `${f.path}: ${n}\n`);
      const changed = files.filter((f) => f.changes.length);
      print(io.stderr, `${changed.length} of ${files.length} lockfile(s) ${opts.write ? 'rewritten' : 'to rewrite'}, ${changed.reduce((n, f) => n + f.changes.length, 0)} URL(s)${opts.write ? '' : ' (--write to apply)'}\n`);
    }
    for (const e of errors) print(io.stderr, `error ${e.path}: ${e.message}\n`);
    return errors.length ? 1 : 0;
  } catch (e) {
    return reportError(e instanceof MigrateError ? e : toError(e), io, json);
  }
}

/** The endpoints to point at: the shared repository of each format the lockfiles need, without credentials. */
async function targetsFor(job: LoadedJob, formats: ReadonlySet<LockfileFormat>, opts: RewriteCommandOptions): Promise<RewriteTargets> {
  const needNpm = [...formats].some((f) => NPM_FORMATS.has(f));
  const needPypi = [...formats].some((f) => PY_FORMATS.has(f));
  const repos = job.config.target.repositories;
  const targets: RewriteTargets = {};
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

/** The rewrite as a function: every lockfile of the job, rewritten in memory; written back when `write`. */
export async function rewriteLockfiles(job: LoadedJob, opts: RewriteCommandOptions): Promise<{ files: RewrittenFile[]; errors: { path: string; message: string }[] }> {
  const env = opts.env ?? process.env;
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) registerSecret(env[name]);
  const jobDir = dirname(resolve(job.file));
  const errors: { path: string; message: string }[] = [];
  const { files: local, missing } = localLockfiles(job.file, job.config.warm.lockfiles);
  for (const m of missing) errors.push({ path: m, message: 'no such file' });
  const inputs: { path: string; abs: string; repository: string | null; text: string; format: LockfileFormat }[] = [];
  const read = (abs: string, path: string, repository: string | null) => {
    try {
      const text = readFileSync(abs, 'utf8');
      const format = detect(abs, text.slice(0, 64 * 1024));
      if (!format) throw new MigrateError('ELOCKFILE', 'not a lockfile format we know');
      inputs.push({ path, abs, repository, text, format });
      // a requirements file's includes may hold the index option too
      if (format === 'requirements') {
        for (const e of parseLockfile(abs).entries) for (const o of e.from) if (resolve(o.file) !== abs && !inputs.some((i) => i.abs === resolve(o.file))) read(resolve(o.file), relative(jobDir, resolve(o.file)), repository);
      }
    } catch (e) {
      errors.push({ path, message: toError(e).message });
    }
  };
  for (const f of local) read(f, relative(jobDir, f), null);

  // the job's git repositories: a diff to apply there, never written from here. Their
  // mirrors are the warm's (state/git/): the job's lock keeps the two apart.
  const cleanups: (() => void)[] = [];
  const stateDir = opts.stateDir ?? 'state';
  const repositories = job.config.warm.repositories.map((r) => new LockfileRepository(r, env, stateDir));
  if (repositories.length) {
    mkdirSync(stateDir, { recursive: true });
    cleanups.push(acquireLock(join(stateDir, job.name)));
  }
  try {
    for (const repo of repositories) {
      try {
        await repo.fetch(opts.signal);
        for (const branch of await repo.branches(opts.signal)) {
          const checkout = await repo.checkout(branch, opts.signal);
          cleanups.push(checkout.cleanup);
          for (const f of findLockfiles(checkout.dir)) read(f, relative(checkout.dir, f).split(sep).join('/'), checkout.label);
        }
      } catch (e) {
        errors.push({ path: repo.url, message: toError(e).message });
      }
    }
    const targets = await targetsFor(job, new Set(inputs.map((i) => i.format)), opts);
    const files: RewrittenFile[] = [];
    for (const i of inputs) {
      const r = rewriteLockfile(i.format, i.text, targets);
      const diff = unifiedDiff(i.path, i.text, r.text);
      let written = false;
      if (opts.write && r.changes.length && i.repository === null) {
        // atomically, keeping the file's mode: a crash leaves the old file or the new one
        const tmp = `${i.abs}.cam-rewrite-${process.pid}`;
        writeFileSync(tmp, r.text, { mode: statSync(i.abs).mode });
        renameSync(tmp, i.abs);
        written = true;
      }
      const notes = [...r.notes, ...(opts.write && r.changes.length && i.repository ? [`in ${i.repository}: apply the diff there (git apply), it is not written from here`] : [])];
      files.push({ path: i.path, format: i.format, repository: i.repository, changes: r.changes, notes, written, diff });
    }
    return { files, errors };
  } finally {
    for (const c of cleanups.reverse()) c();
    for (const r of repositories) r.close();
  }
}
