/**
 * `npm run demo`: the mission's inventory in miniature, against the local sandbox,
 * with no AWS account. Start the sandbox on the ports jobs/demo.yaml names, seed
 * four TypeScript packages (two npm registries) and three git repositories served
 * over ssh (two Python libraries, one Go module, each with a broken tag), run the
 * job, rerun it (nothing to publish, zero requests), then let real clients read the
 * target: pip from pypi-internal's simple index, go through `cam goproxy`. The broken
 * tags jobs/demo.yaml skips are also run without their skips (a dry run, to show the
 * failures they keep out). Exit code 0 when everything happened as expected, else 1.
 * The tool runs as `cam run` would: AWS credentials and the endpoint from the
 * environment (the sandbox's), through the SDK's default chain.
 *
 * `runDemo` is also what test/demo.test.ts runs, on random ports with the job rewritten
 * to them.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CodeartifactClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-codeartifact';
import { normalizeProjectName } from '../../src/builders/python.js';
import { humanSummary } from '../../src/cli/run.js';
import { progressRenderer, type Io } from '../../src/cli/output.js';
import { loadJob, type LoadedJob } from '../../src/config/load.js';
import type { JobConfig } from '../../src/config/schema.js';
import type { ProgressEvent, RunSummary } from '../../src/engine/events.js';
import { runJob } from '../../src/engine/run.js';
import { startGoProxy } from '../../src/goproxy/server.js';
import { StateDb, type AssetRow, type ItemRow } from '../../src/state/db.js';
import { acquireLock } from '../../src/state/lock.js';
import { MigrateError } from '../../src/errors.js';
import { goModuleToGeneric } from '../../src/targets/go-mapping.js';
import { DEMO_BROKEN_TAGS, DEMO_KNOWN_HOSTS, DEMO_PORT_ROLES, DEMO_PORTS, githubPackages, privateNpmPackages, seedGitRepositories } from './demo-data.js';
import { seedPackages } from './npm-fixtures.js';
import { claimSandboxDir, startSandbox, type Sandbox, type SandboxDescriptor } from './sandbox.js';

const run = promisify(execFile);

const ROOT = resolve(import.meta.dirname, '../..');
export const DEMO_JOB = join(ROOT, 'jobs/demo.yaml');
/** How jobs/demo.yaml names DEMO_KNOWN_HOSTS: relative to itself. */
const DEMO_JOB_KNOWN_HOSTS = '../state/sandbox-known_hosts';
/** Debian's interpreter: it has pip; the `python3` first on PATH may be another one. */
const PIP_PYTHON = '/usr/bin/python3';

export interface DemoOptions {
  /** Folder for the job's state (`demo.sqlite`, blobs, git mirrors). */
  stateDir: string;
  /** Folder for the sandbox's servers (emptied first). */
  sandboxDir: string;
  /**
   * 'fixed': the ports and known_hosts path jobs/demo.yaml names, and the job file as
   * committed. 'random': free ports, and a copy of the job rewritten to them (tests).
   */
  ports: 'fixed' | 'random';
  /** The job file (default jobs/demo.yaml); with random ports its rewritten copy goes beside the sandbox. */
  jobFile?: string;
  out: NodeJS.WritableStream;
  /** Progress; a progress bar when it is a terminal. */
  err: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface PipCheck {
  package: string;
  version: string;
  file?: string;
  sha256?: string;
  recorded?: string;
  error?: string;
}

export interface GoCheck {
  module: string;
  version: string;
  sum?: string;
  goModSum?: string;
  recordedH1?: string;
  recordedGoModH1?: string;
  error?: string;
}

export interface DemoResult {
  exitCode: 0 | 1;
  /** What was not as expected (empty when exitCode is 0). */
  problems: string[];
  jobFile: string;
  first: RunSummary;
  rerun: RunSummary;
  /** The job's skipped broken tags without their skips (a dry run). */
  unskipped: RunSummary;
  rerunRequests: number;
  /** package → versions Published on the target */
  onTarget: Record<string, string[]>;
  pip: PipCheck[];
  go: GoCheck[];
  descriptor: SandboxDescriptor;
}

/** The seven packages of the inventory, where each lives on the target. */
const PACKAGES = [
  { name: '@acme/core', format: 'npm', repo: 'npm-internal' },
  { name: '@acme/utils', format: 'npm', repo: 'npm-internal' },
  { name: '@acme-gh/feature-flags', format: 'npm', repo: 'npm-internal' },
  { name: '@acme-gh/logger', format: 'npm', repo: 'npm-internal' },
  { name: 'acme-billing', format: 'pypi', repo: 'pypi-internal' },
  { name: 'crashtest', format: 'pypi', repo: 'pypi-internal' },
  { name: 'github.com/google/uuid', format: 'generic', repo: 'go-internal' },
] as const;

function coordinates(p: (typeof PACKAGES)[number]): { namespace: string | undefined; package: string } {
  switch (p.format) {
    case 'npm': {
      const m = /^@([^/]+)\/(.+)$/.exec(p.name);
      return m ? { namespace: m[1], package: m[2]! } : { namespace: undefined, package: p.name };
    }
    case 'pypi':
      return { namespace: undefined, package: normalizeProjectName(p.name) };
    case 'generic':
      return goModuleToGeneric(p.name);
  }
}

/** jobs/demo.yaml with the sandbox's ports and known_hosts file instead of the fixed ones, nothing else changed. */
export function rewriteJob(text: string, d: SandboxDescriptor): string {
  const port = (url: string) => new URL(url).port;
  const git = d.git;
  if (!git) throw new Error('rewriteJob: the sandbox has no git host');
  const swaps: [string, string][] = [
    [`127.0.0.1:${DEMO_PORTS.privateNpm}/`, `127.0.0.1:${port(d.privateNpm.url)}/`],
    [`127.0.0.1:${DEMO_PORTS.github}/`, `127.0.0.1:${port(d.github.url)}/`],
    [`127.0.0.1:${DEMO_PORTS.git}/`, `127.0.0.1:${git.port}/`],
    [`knownHostsFile: ${DEMO_JOB_KNOWN_HOSTS}`, `knownHostsFile: ${git.knownHostsFile}`],
  ];
  let out = text;
  for (const [from, to] of swaps) {
    if (!out.includes(from)) throw new Error(`rewriteJob: ${JSON.stringify(from)} is not in the job`);
    out = out.split(from).join(to);
  }
  return out;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const stateDir = resolve(opts.stateDir);
  const fixed = opts.ports === 'fixed';
  const jobName = loadJob(opts.jobFile ?? DEMO_JOB).name;
  // before anything is removed: a second demo (this checkout's or another's on the fixed ports) is
  // refused here, and a killed one's sshd stopped; the claim is held until the sandbox has stopped
  const releaseClaim = await claimSandboxDir(opts.sandboxDir, { what: 'demo', ports: fixed ? DEMO_PORT_ROLES : undefined });
  try {
    mkdirSync(stateDir, { recursive: true });
    // a run of the job on this state right now (`cam run jobs/demo.yaml` against `npm run sandbox`) keeps it
    acquireLock(join(stateDir, jobName), { command: 'demo' })();
    // a demo starts from nothing: a fresh sandbox needs fresh state (the git mirrors too: the first run clones over ssh)
    rmSync(opts.sandboxDir, { recursive: true, force: true });
    for (const f of [`${jobName}.sqlite`, `${jobName}.sqlite-wal`, `${jobName}.sqlite-shm`]) rmSync(join(stateDir, f), { force: true });
    for (const s of DEMO_BROKEN_TAGS) for (const mirror of [join(jobName, `${s.source}.git`), `${s.source}.git`]) rmSync(join(stateDir, 'git', mirror), { recursive: true, force: true });
    return await demoInSandbox(opts, stateDir, fixed);
  } finally {
    releaseClaim();
  }
}

/** The sandbox a demo (npm run demo) runs in, while it does: the signal handlers stop it. */
let running: Sandbox | undefined;

/** The demo's temp folders that exist now: a signal's handler removes them, as the `finally` that would have would. */
const temps = new Set<string>();

/** A new temp folder, removed by `drop` or by a signal that ends the demo first. */
function tempFolder(prefix: string): { dir: string; drop: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.add(dir);
  return {
    dir,
    drop: () => {
      rmSync(dir, { recursive: true, force: true });
      temps.delete(dir);
    },
  };
}

/** What a signal leaves: the temp folders still there (the module cache go makes read-only first made writable). */
function dropTemps(): void {
  for (const dir of temps) {
    try {
      execFileSync('chmod', ['-R', 'u+w', dir], { stdio: 'ignore' });
    } catch {
      // a folder already gone, or one chmod could not open: rmSync says what is left
    }
    rmSync(dir, { recursive: true, force: true });
  }
  temps.clear();
}

async function demoInSandbox(opts: DemoOptions, stateDir: string, fixed: boolean): Promise<DemoResult> {
  const { out } = opts;
  const say = (s = '') => out.write(`${s}\n`);
  const sandbox = await startSandbox({
    dir: opts.sandboxDir,
    ports: fixed ? DEMO_PORTS : undefined,
    git: { knownHostsFile: fixed ? DEMO_KNOWN_HOSTS : join(opts.sandboxDir, 'known_hosts') },
  });
  running = sandbox;
  try {
    const d = sandbox.descriptor;
    let jobFile = opts.jobFile ?? DEMO_JOB;
    if (!fixed) {
      const copy = join(opts.sandboxDir, 'demo.yaml');
      writeFileSync(copy, rewriteJob(readFileSync(jobFile, 'utf8'), d));
      jobFile = copy;
    }
    say('codeartifact-migrate demo: the local sandbox plays every part, no AWS account is used');
    say(`  private npm registry  ${d.privateNpm.url}  (Verdaccio)`);
    say(`  GitHub Packages       ${d.github.url}  (Verdaccio, reads need a token)`);
    say(`  git host, ssh         ${d.git!.urlPattern}  (sshd, read-only)`);
    say(`  CodeArtifact          ${d.codeartifact.endpoint}  (the stand-in)`);
    opts.err.write('seeding the sandbox: npm packages and git repositories…\n');
    const npm = [...privateNpmPackages(), ...githubPackages()];
    await seedPackages(sandbox.privateNpm.url, sandbox.privateNpm.token, privateNpmPackages());
    await seedPackages(sandbox.github.url, sandbox.github.token, githubPackages());
    const repos = await seedGitRepositories(sandbox);
    const tagCount = (await Promise.all(Object.keys(repos).map((r) => sandbox.git!.server.tags(r)))).reduce((n, t) => n + t.length, 0);
    say(`  seeded: ${npm.length} TypeScript packages (${npm.reduce((n, p) => n + p.versions.length, 0)} versions); git repositories ${Object.keys(repos).join(', ')} (${tagCount} tags, one broken in each)`);

    // the SDK reads credentials and AWS_ENDPOINT_URL_CODEARTIFACT from process.env: the sandbox's, for the demo only
    // the demo's locks, and the record of where its state is, belong to its sandbox: a demo in another checkout is another sandbox
    const restoreEnv = useEnv({ ...d.env, CAM_LOCK_DIR: join(opts.sandboxDir, 'locks'), AWS_EC2_METADATA_DISABLED: 'true', AWS_PROFILE: undefined, AWS_DEFAULT_PROFILE: undefined, AWS_SESSION_TOKEN: undefined, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' });
    const env = process.env;
    const job = loadJob(jobFile);
    const client = new CodeartifactClient({
      region: d.codeartifact.region,
      endpoint: d.codeartifact.endpoint,
      credentials: { accessKeyId: d.codeartifact.accessKeyId, secretAccessKey: d.codeartifact.secretAccessKey },
    });
    try {
      say(`\n== codeartifact-migrate run ${relative(process.cwd(), opts.jobFile ?? DEMO_JOB)}`);
      const first = await runWithProgress(opts.err, (onProgress) => runJob({ job, stateDir, env, onProgress }));
      out.write(humanSummary(first));
      say(`  exit code ${first.exitCode}`);

      say('\n== rerun: nothing left to do, nothing sent to CodeArtifact');
      const before = sandbox.standIn.log.length;
      const rerun = await runJob({ job, stateDir, env });
      const rerunRequests = sandbox.standIn.log.length - before;
      // the same skips as above, not repeated
      out.write(humanSummary(rerun).replace(/^ {2}skipped: .*\n/m, `  skipped: the same ${rerun.skipped.length} tags\n`));
      say(`  requests sent to CodeArtifact by the rerun: ${rerunRequests}`);

      say('\n== the broken tags without the job\'s skips (a dry run of those two versions, state in a temp folder)');
      const writesBefore = writes(sandbox);
      const unskipped = await runWithoutSkips(job, env);
      for (const f of unskipped.failures) say(`  FAILED ${f.package}@${f.version} ${f.code}: ${gist(f.message).replace(`${f.package}@${f.version}: `, '')}`);
      say(`  exit code ${unskipped.exitCode}; written to CodeArtifact: ${writes(sandbox) - writesBefore}`);

      const onTarget = Object.fromEntries(
        PACKAGES.map((p) => {
          const c = coordinates(p);
          return [p.name, sandbox.standIn.versions(p.repo, p.format, c.namespace, c.package).filter((v) => v.status === 'Published').map((v) => v.version)];
        }),
      );

      const state = StateDb.open(join(stateDir, `${job.name}.sqlite`));
      let items: ItemRow[];
      let assets: Map<number, AssetRow[]>;
      try {
        items = state.items();
        assets = new Map(items.map((r) => [r.id, state.assetsOf(r.id)]));
      } finally {
        state.close();
      }
      const verified = (format: string) => items.filter((r) => r.format === format && r.state === 'verified');

      say('\n== what real clients read back from CodeArtifact');
      const token = (await client.send(new GetAuthorizationTokenCommand({ domain: d.codeartifact.domain, domainOwner: d.codeartifact.domainOwner }))).authorizationToken!;
      say(`pip download --no-deps, index ${d.codeartifact.pypiEndpoint}simple/ (pypi-internal):`);
      const pip = await pipChecks(sandbox, token, verified('pypi'), assets);
      for (const c of pip) say(`  ${`${c.package}==${c.version}`.padEnd(20)} ${c.error ? `FAILED: ${c.error}` : `${c.file!.padEnd(36)} sha256 ${c.sha256 === c.recorded ? 'as recorded' : `${c.sha256}, recorded ${c.recorded}`}`}`);
      const proxy = await startGoProxy({ job, port: 0 });
      let go: GoCheck[];
      try {
        say(`go mod download -json, GOPROXY=${proxy.url} (cam goproxy over go-internal):`);
        go = await goChecks(proxy.url, verified('generic'));
      } finally {
        await proxy.stop();
      }
      say(`  ${'version'.padEnd(8)} ${'h1 go computed'.padEnd(47)}   recorded by the migration`);
      for (const c of go) say(`  ${c.version.padEnd(8)} ${c.error ? `FAILED: ${c.error}` : `${c.sum!.padEnd(47)} ${c.sum === c.recordedH1 && c.goModSum === c.recordedGoModH1 ? '=' : '≠'} ${c.recordedH1}`}`);

      const problems = check({ first, rerun, rerunRequests, unskipped, onTarget, pip, go, items });
      say('\n== result');
      const ofFormat = (f: string) => PACKAGES.filter((p) => p.format === f);
      const versions = (f: string) => ofFormat(f).reduce((n, p) => n + onTarget[p.name]!.length, 0);
      say(`  ${PACKAGES.filter((p) => onTarget[p.name]!.length > 0).length} of ${PACKAGES.length} packages on the target: ${ofFormat('npm').length} npm (${versions('npm')} versions), ${ofFormat('pypi').length} PyPI (${versions('pypi')} versions), ${ofFormat('generic').length} Go module (${versions('generic')} versions)`);
      for (const b of DEMO_BROKEN_TAGS) {
        const row = items.find((r) => r.source_id === b.source && r.version === b.version);
        const without = unskipped.failures.find((f) => f.package === b.package && f.version === b.version);
        say(`  broken tag ${`${b.source} ${b.tag}`.padEnd(24)} ${row?.state ?? 'not listed'} by the ${b.skippedBy}${without ? `; without the skip: failed ${without.code}` : ''}`);
      }
      if (problems.length === 0) say('  everything as expected');
      else {
        say('  NOT as expected:');
        for (const p of problems) say(`    ${p}`);
      }
      if (fixed) say(`\nTry: npm run cli -- status ${relative(process.cwd(), DEMO_JOB)}   (the state is in ${relative(process.cwd(), stateDir) || '.'}/)`);
      return { exitCode: problems.length ? 1 : 0, problems, jobFile, first, rerun, rerunRequests, unskipped, onTarget, pip, go, descriptor: d };
    } finally {
      client.destroy();
      restoreEnv();
    }
  } finally {
    await sandbox.stop();
    running = undefined;
  }
}

/** Set (or, for undefined, remove) environment variables; returns what puts them back. */
function useEnv(vars: Record<string, string | undefined>): () => void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  return () => apply(before);
}

/** Requests that change the target, so far. */
function writes(sandbox: Sandbox): number {
  return sandbox.standIn.log.filter((e) => /^(npm:(Publish|PutDistTag|DeleteDistTag|UpdateMetadata)|pypi:Upload|PublishPackageVersion|PutPackageOriginConfiguration|UpdatePackageVersionsStatus|DisposePackageVersions)$/.test(e.operation)).length;
}

/**
 * The job's git sources that skip a broken tag, without their `versions:` skips, limited
 * to those versions, as a dry run into a temp state folder: what the skips keep out.
 */
async function runWithoutSkips(job: LoadedJob, env: NodeJS.ProcessEnv): Promise<RunSummary> {
  const broken = DEMO_BROKEN_TAGS.filter((b) => b.skippedBy === 'job');
  const sources = job.config.sources.filter((s) => broken.some((b) => b.source === s.id)).map((s) => (s.kind === 'git' ? { ...s, versions: {} } : s));
  const config: JobConfig = { ...job.config, sources, filters: { ...job.config.filters, include: broken.map((b) => `${b.package}@${b.version}`) } };
  const { dir, drop } = tempFolder('cam-demo-unskipped-');
  try {
    return await runJob({ job: { file: job.file, name: `${job.name}-without-skips`, config }, stateDir: dir, env, dryRun: true });
  } finally {
    drop();
  }
}

/**
 * A failure in one line: the message up to the output tail a build failure carries
 * (`actual …`), and the tail's last line, which says why (`status` shows all of it).
 */
function gist(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const head = lines[0]!.replace(/; actual .*$/, '').replace(/^[A-Z]+: /, '');
  const why = lines.length > 1 ? lines.filter((l) => /^[\w.]+(Error|Exception)\b/.test(l)).at(-1) ?? lines.at(-2) : undefined;
  return why ? `${head}: ${why}` : head;
}

async function runWithProgress(err: DemoOptions['err'], go: (onProgress: (e: ProgressEvent) => void) => Promise<RunSummary>): Promise<RunSummary> {
  // a bar on a terminal; elsewhere one line per package listed and per failure, not one per version
  const io: Io = { stdout: err, stderr: err };
  const bar = err.isTTY ? progressRenderer(io, false) : undefined;
  const onProgress = (e: ProgressEvent) => {
    if (bar) return bar.onProgress(e);
    if (e.type === 'listed') err.write(`listed ${e.package}: ${e.versions} versions from ${e.source}\n`);
    else if (e.type === 'list-error') err.write(`cannot list ${e.package} from ${e.source}: ${e.code}\n`);
    else if (e.type === 'item' && e.outcome.startsWith('failed')) err.write(`${e.outcome} ${e.package}@${e.version}\n`);
  };
  try {
    return await go(onProgress);
  } finally {
    bar?.stop();
  }
}

/** Each verified Python version with pip, one at a time (a version pin each); the file pip picks against the one recorded. */
async function pipChecks(sandbox: Sandbox, token: string, rows: ItemRow[], assets: Map<number, AssetRow[]>): Promise<PipCheck[]> {
  const { dir, drop } = tempFolder('cam-demo-pip-');
  const out: PipCheck[] = [];
  try {
    const index = sandbox.standIn.pypiIndexUrl('pypi-internal', token);
    for (const r of rows) {
      const dest = join(dir, String(r.id));
      const check: PipCheck = { package: r.package, version: r.version };
      try {
        await run(PIP_PYTHON, ['-m', 'pip', 'download', '--no-deps', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--quiet', '--index-url', index, '--dest', dest, `${r.package}==${r.version}`], {
          env: { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8' },
        });
        const [file, ...more] = readdirSync(dest);
        if (!file || more.length) throw new Error(`pip left ${more.length + (file ? 1 : 0)} files`);
        check.file = file;
        check.sha256 = createHash('sha256').update(readFileSync(join(dest, file))).digest('hex');
        check.recorded = assets.get(r.id)?.find((a) => a.name === file)?.sha256 ?? 'nothing recorded under that name';
      } catch (e) {
        // pip's own last words say why (the index URL holds the token: never print the command)
        const stderr = (e as { stderr?: string }).stderr ?? '';
        check.error = stderr.trim().split('\n').at(-1) || (e instanceof Error ? e.message.split('\n')[0]! : String(e));
      }
      out.push(check);
    }
  } finally {
    drop();
  }
  return out;
}

/** Every verified Go version in one `go mod download -json` through the proxy: the h1 hashes go computes against the recorded ones. */
async function goChecks(proxyUrl: string, rows: ItemRow[]): Promise<GoCheck[]> {
  const { dir: gopath, drop } = tempFolder('cam-demo-gopath-');
  const recorded = new Map(rows.map((r) => [`${r.package}@${r.version}`, JSON.parse(r.facts ?? '{}') as { h1?: string; goModH1?: string }]));
  try {
    let stdout: string;
    try {
      ({ stdout } = await run('go', ['mod', 'download', '-json', ...recorded.keys()], {
        cwd: gopath,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: gopath, GOPATH: gopath, GOCACHE: join(gopath, 'cache'), GOPROXY: proxyUrl, GOSUMDB: 'off', GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
        maxBuffer: 1 << 24,
      }));
    } catch (e) {
      // go exits 1 when any version fails, and still prints every version's JSON (with Error)
      stdout = (e as { stdout?: string }).stdout ?? '';
      if (!stdout) return rows.map((r) => ({ module: r.package, version: r.version, error: e instanceof Error ? e.message.split('\n').slice(0, 3).join(' ') : String(e) }));
    }
    const reported = new Map<string, { Path: string; Version: string; Sum?: string; GoModSum?: string; Error?: string }>();
    for (const chunk of stdout.split(/\n(?=\{)/).filter((c) => c.trim())) {
      const d = JSON.parse(chunk) as { Path: string; Version: string; Sum?: string; GoModSum?: string; Error?: string };
      reported.set(`${d.Path}@${d.Version}`, d);
    }
    return rows.map((r) => {
      const key = `${r.package}@${r.version}`;
      const d = reported.get(key);
      const rec = recorded.get(key)!;
      const base = { module: r.package, version: r.version, recordedH1: rec.h1, recordedGoModH1: rec.goModH1 };
      if (!d) return { ...base, error: 'go reported nothing for it' };
      if (d.Error) return { ...base, error: d.Error };
      return { ...base, sum: d.Sum, goModSum: d.GoModSum };
    });
  } finally {
    // the module cache is read-only, as go makes it
    await run('chmod', ['-R', 'u+w', gopath]).catch(() => {});
    drop();
  }
}

/** Everything the demo promises, as a list of what did not hold. */
function check(r: { first: RunSummary; rerun: RunSummary; rerunRequests: number; unskipped: RunSummary; onTarget: Record<string, string[]>; pip: PipCheck[]; go: GoCheck[]; items: ItemRow[] }): string[] {
  const problems: string[] = [];
  for (const [name, s] of [['the run', r.first], ['the rerun', r.rerun]] as const) {
    if (s.exitCode !== 0) problems.push(`${name} exited ${s.exitCode}`);
    for (const f of s.failures) problems.push(`${name}: ${f.package}@${f.version} failed ${f.code}`);
    for (const l of s.listErrors) problems.push(`${name} could not list ${l.package} from ${l.source}: ${l.code} (${l.message})`);
    for (const c of s.conflicts) problems.push(`${name}: conflict ${c.package}@${c.version}`);
    if (s.interrupted) problems.push(`${name} was interrupted`);
  }
  const skipped = new Set(r.first.skipped.map((k) => `${k.package}@${k.version}`));
  for (const b of DEMO_BROKEN_TAGS) if (!skipped.has(`${b.package}@${b.version}`)) problems.push(`${b.package}@${b.version} (tag ${b.tag}) was not skipped`);
  if (Object.keys(r.rerun.outcomes).length) problems.push(`the rerun worked on something: ${JSON.stringify(r.rerun.outcomes)}`);
  if (r.rerunRequests !== 0) problems.push(`the rerun sent CodeArtifact ${r.rerunRequests} requests, expected none`);
  const want = DEMO_BROKEN_TAGS.filter((b) => b.code).map((b) => `${b.package}@${b.version} ${b.code}`).sort();
  const got = r.unskipped.failures.map((f) => `${f.package}@${f.version} ${f.code}`).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`without the skips: failed ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  for (const p of PACKAGES) {
    const migrated = r.items.filter((i) => i.package === p.name && (i.state === 'verified' || i.state === 'present-identical')).length;
    const published = r.onTarget[p.name]!.length;
    if (published === 0 || published !== migrated) problems.push(`${p.name}: ${published} versions Published on the target, ${migrated} migrated`);
  }
  if (r.pip.length === 0) problems.push('pip had nothing to read');
  for (const c of r.pip) if (c.error || c.sha256 !== c.recorded) problems.push(`pip ${c.package}==${c.version}: ${c.error ?? `sha256 ${c.sha256}, recorded ${c.recorded}`}`);
  if (r.go.length === 0) problems.push('go had nothing to read');
  for (const c of r.go) if (c.error || c.sum !== c.recordedH1 || c.goModSum !== c.recordedGoModH1) problems.push(`go ${c.module}@${c.version}: ${c.error ?? `h1 ${c.sum} / ${c.goModSum}, recorded ${c.recordedH1} / ${c.recordedGoModH1}`}`);
  return problems;
}

// `npm run demo` (tsx test/support/demo.ts); imported by the test, it runs nothing.
if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  // as the CLI does (src/cli/main.ts): the SDK's Node 22 notice is noise in the demo's output
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // stopped (Ctrl-C, kill, a closed terminal): stop the sandbox first, its sshd above all (a process
  // of its own, it outlived the demo holding its port); a second signal ends it at once
  let stopping = false;
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(128 + number);
      stopping = true;
      process.stderr.write(`\ndemo: ${signal}, stopping the sandbox…\n`);
      void Promise.resolve(running?.stop()).finally(() => {
        dropTemps();
        process.exit(128 + number);
      });
    });
  }
  try {
    const result = await runDemo({ stateDir: join(ROOT, 'state'), sandboxDir: join(ROOT, 'state', 'sandbox-demo'), ports: 'fixed', out: process.stdout, err: process.stderr });
    process.exitCode = result.exitCode;
  } catch (e) {
    // what went wrong and what to do (a missing sshd, a full disk), not a stack trace; kept for a bug in the demo itself
    if (e instanceof MigrateError) process.stderr.write(`demo: ${e.code}: ${e.message}\n${e.hint ? `  what to do: ${e.hint}\n` : ''}`);
    else if (e instanceof TypeError || e instanceof ReferenceError || e instanceof RangeError || !(e instanceof Error)) process.stderr.write(`demo: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    else {
      const hint = (e as NodeJS.ErrnoException).code === 'ENOSPC' ? `free space on that disk (the temp folder is ${tmpdir()}, the state ${join(ROOT, 'state')}), then run it again` : undefined;
      process.stderr.write(`demo: ${e.message.trim()}\n${hint ? `  what to do: ${hint}\n` : ''}`);
    }
    process.exitCode = 1;
  }
}
