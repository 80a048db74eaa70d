/**
 * Test harness: a sandbox in a temp folder, a job file pointing at it, and
 * ways to run the tool in-process (runJob) or as a real child process (the CLI,
 * for kill -9 and Ctrl-C). Every test stops what it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodeartifactClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-codeartifact';
import { stringify } from 'yaml';
import { loadJob } from '../../src/config/load.js';
import { runJob, type RunOptions } from '../../src/engine/run.js';
import type { RunSummary } from '../../src/engine/events.js';
import { StateDb } from '../../src/state/db.js';
import { startGitServer, type GitServer } from './git-server.js';
import { startSandbox, type Sandbox, type SandboxOptions } from './sandbox.js';

export const ROOT = resolve(import.meta.dirname, '../..');
/** `--import tsx` resolves from the child's cwd (a temp folder): name the loader by its absolute URL instead. */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface JobOverrides {
  /** Sources to include; default both. */
  privateNpm?: { packages?: string[]; scopes?: string[]; tokenEnv?: string } | false;
  github?: { packages?: string[]; tokenEnv?: string } | false;
  limits?: Record<string, unknown>;
  filters?: Record<string, unknown>;
  tokenDurationSeconds?: number;
  name?: string;
  /** Sources of the test's own (a hostile registry), replacing the two sandbox registries. */
  sources?: Record<string, unknown>[];
}

export interface TestEnv {
  dir: string;
  sandbox: Sandbox;
  stateDir: string;
  /** Environment for a run: source tokens, AWS credentials, endpoint override. */
  env: Record<string, string>;
  writeJob(overrides?: JobOverrides): string;
  /** Run in-process with the sandbox's credentials. */
  run(jobFile: string, opts?: Partial<RunOptions>): Promise<RunSummary>;
  /**
   * Spawn the real CLI (`node --import tsx src/cli/main.ts …`); `wrap` runs it
   * under a shell prefix (e.g. `ulimit -f`), `nodeArgs` go to node first; `stdin: 'pipe'` to type into it.
   */
  spawnCli(args: string[], extraEnv?: Record<string, string>, opts?: { shell?: string; nodeArgs?: string[]; stdin?: 'pipe' }): ChildProcess;
  /** Run the CLI to completion. */
  cli(args: string[], extraEnv?: Record<string, string>, opts?: { shell?: string; nodeArgs?: string[] }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  openState(jobName?: string): StateDb;
  /** A CodeArtifact authorization token for the stand-in, as a package manager would get one. */
  targetToken(): Promise<string>;
  /** The SDK client pointed at the stand-in (for goproxy and direct API reads). */
  client: CodeartifactClient;
  stop(): Promise<void>;
}

/** Stops what startGitTestEnv started, the git server first (either missing when the set-up failed). */
export async function stopTestEnvWithGit(git: GitServer | undefined, te: TestEnv | undefined): Promise<void> {
  await git?.stop();
  await te?.stop();
}

export async function startTestEnv(opts: Partial<SandboxOptions> = {}): Promise<TestEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'cam-test-'));
  // quotas off unless a test is about them: then "one publish request per version" holds exactly
  const sandbox = await startSandbox({ dir: join(dir, 'sandbox'), ...opts, standIn: { quotas: false, ...opts.standIn } });
  const stateDir = join(dir, 'state');
  const d = sandbox.descriptor;
  // the per-target job locks of this sandbox's runs live with it (not in the user's temp folder)
  const env = { ...d.env, CAM_LOCK_DIR: join(dir, 'locks') };
  const client = new CodeartifactClient({
    region: d.codeartifact.region,
    endpoint: d.codeartifact.endpoint,
    credentials: { accessKeyId: d.codeartifact.accessKeyId, secretAccessKey: d.codeartifact.secretAccessKey },
    maxAttempts: 1,
  });

  // the CLI processes a test started: one a failed test left running (its assertion threw before
  // it waited for it) would go on writing into the folder stop() removes (a run whose state file
  // vanished saves it again), and on into the next test
  const spawned = new Set<ChildProcess>();

  const childEnv = (extra: Record<string, string> = {}) => {
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_') && !k.startsWith('npm_config_')) base[k] = v;
    return { ...base, ...env, ...extra, AWS_EC2_METADATA_DISABLED: 'true' };
  };

  const te: TestEnv = {
    dir,
    client,
    sandbox,
    stateDir,
    env,
    writeJob(o = {}) {
      const sources: Record<string, unknown>[] = [...(o.sources ?? [])];
      if (o.privateNpm !== false && !o.sources) {
        sources.push({
          id: 'private-npm',
          kind: 'npm-registry',
          url: d.privateNpm.url,
          tokenEnv: o.privateNpm?.tokenEnv ?? d.privateNpm.tokenEnv,
          packages: o.privateNpm?.packages ?? [],
          scopes: o.privateNpm?.scopes ?? (o.privateNpm?.packages ? [] : ['@acme']),
        });
      }
      if (o.github !== false && !o.sources) {
        sources.push({ id: 'github', kind: 'npm-registry', url: d.github.url, tokenEnv: o.github?.tokenEnv ?? d.github.tokenEnv, packages: o.github?.packages ?? ['@acme-gh/feature-flags'] });
      }
      const job = {
        name: o.name ?? 'test',
        target: {
          region: d.codeartifact.region,
          domain: d.codeartifact.domain,
          domainOwner: d.codeartifact.domainOwner,
          ...(o.tokenDurationSeconds !== undefined ? { tokenDurationSeconds: o.tokenDurationSeconds } : {}),
          repositories: { npm: { internal: 'npm-internal', store: 'npm-store', shared: 'npm-shared' }, pypi: { internal: 'pypi-internal', store: 'pypi-store', shared: 'pypi-shared' }, generic: { internal: 'go-internal' } },
        },
        sources,
        // tests are not about the quota: the throttling tests set their own rates
        limits: { concurrency: 4, retries: 6, rates: { publish: 1000, getAsset: 1000, list: 1000, reads: 2000, writes: 1000 }, ...o.limits },
        filters: o.filters ?? {},
        // the sandbox's public registries are the public ones: the exposure check asks them, and
        // lockfile entries resolved there may be warmed through the stores
        ...(sandbox.publicRegistries ? { publicRegistries: { npm: sandbox.publicRegistries.npm.url, pypi: sandbox.publicRegistries.pypi.url, go: 'http://127.0.0.1:9/' } } : {}),
      };
      const file = join(dir, `${job.name}.yaml`);
      writeFileSync(file, stringify(job));
      return file;
    },
    run(jobFile, runOpts = {}) {
      return runJob({ job: loadJob(jobFile), stateDir, env, codeartifactClient: client, ...runOpts });
    },
    spawnCli(args, extraEnv, opts = {}) {
      const argv = [...(opts.nodeArgs ?? []), '--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), '--state-dir', stateDir, ...args];
      const options = { cwd: dir, env: childEnv(extraEnv), stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[] };
      // `exec` keeps the pid: signals sent to the child reach node itself
      const child = opts.shell ? spawn('bash', ['-c', `${opts.shell}; exec "$0" "$@"`, process.execPath, ...argv], options) : spawn(process.execPath, argv, options);
      spawned.add(child);
      child.once('exit', () => spawned.delete(child));
      return child;
    },
    cli(args, extraEnv, opts) {
      const child = te.spawnCli(args, extraEnv, opts);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
    },
    async targetToken() {
      const out = await client.send(new GetAuthorizationTokenCommand({ domain: d.codeartifact.domain, domainOwner: d.codeartifact.domainOwner }));
      return out.authorizationToken!;
    },
    openState(jobName = 'test') {
      return StateDb.open(join(stateDir, `${jobName}.sqlite`));
    },
    async stop() {
      await Promise.all(
        [...spawned].map(
          (child) =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGKILL');
            }),
        ),
      );
      client.destroy();
      await sandbox.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return te;
}

/** A sandbox and a git server beside it, whose client key is in te.env as CAM_TEST_GIT_KEY (what gitSourceOn's sources name as sshKeyEnv). */
export async function startGitTestEnv(): Promise<{ te: TestEnv; git: GitServer }> {
  const te = await startTestEnv();
  try {
    const git = await startGitServer({ dir: join(te.dir, 'git') });
    te.env.CAM_TEST_GIT_KEY = git.clientKey;
    return { te, git };
  } catch (e) {
    await te.stop();
    throw e;
  }
}

/**
 * Publish requests per name@version in the stand-in's log, whatever their answer:
 * "published once" means exactly one PUT carried the version's tarball.
 */
export function publishRequests(sandbox: Sandbox, opts: { succeededOnly?: boolean } = {}): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of sandbox.standIn.log) {
    if (e.operation !== 'npm:Publish' || (opts.succeededOnly && e.status >= 300)) continue;
    const key = `${e.package}@${e.version}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Requests that change the target (publishes, tag and metadata writes). */
export function targetWrites(sandbox: Sandbox, since = 0) {
  return sandbox.standIn.log.filter((e) => e.seq > since && (e.method === 'PUT' || e.method === 'DELETE' || e.operation === 'PublishPackageVersion'));
}

/** Every file under `dir`, at any depth (none when it does not exist): what a secret scan reads. */
export function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Record every CodeArtifact authorization token the stand-in issues from now on into `into`. */
export function recordIssuedTokens(sandbox: Sandbox, into: string[]): void {
  // the stand-in's context calls the instance's issueToken
  const standIn = sandbox.standIn as unknown as { issueToken(seconds: number): { token: string; expiration: Date } };
  const issue = standIn.issueToken.bind(standIn);
  standIn.issueToken = (seconds) => {
    const t = issue(seconds);
    into.push(t.token);
    return t;
  };
}
