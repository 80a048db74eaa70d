/**
 * The warm benchmark: `cam warm` over a lockfile of 1,000+ entries against the
 * sandbox's stand-in enforcing CodeArtifact's default quotas (read through
 * Service Quotas, as a real account's), with latency on every request, and in
 * the same run a real `npm ci` through the store repository over a lockfile of
 * the same shape (other packages, so the store is cold for both).
 *
 * What it reports:
 * - the warm's entries/s and its ratio to the read-quota ceiling that applies:
 *   per quota bucket, the requests the warm sent per entry (counted by the tool),
 *   so the ceiling is min over buckets of rate / requests-per-entry (the
 *   GetPackageVersionAsset quota, 50/s, for a tarball per entry);
 * - the same for npm ci, and the ratio of the two;
 * - a rerun: seconds, and requests that fetched artifacts (none expected).
 *
 * The public registry is an in-memory one (hostile-registry.ts, honest here):
 * seeding thousands of versions into Verdaccio would take longer than the runs.
 * bench.ts calls `warmBench(sandbox)`; `npx tsx test/support/bench-warm.ts`
 * runs it on a sandbox of its own.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GetAuthorizationTokenCommand, CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { stringify } from 'yaml';
import type { WarmSummary } from '../../src/warm/summary.js';
import { startHostileRegistry, sri512 } from './hostile-registry.js';
import { startSandbox, type Sandbox } from './sandbox.js';
import { npmTarball } from './tarballs.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface WarmBenchOptions {
  /** Lockfile entries (distinct packages, one version each); default 1200. */
  entries?: number;
  /** Latency added to every stand-in request, ms; default 100. */
  latencyMs?: number;
  /** Work folder (removed afterwards); default a new temp folder. */
  dir?: string;
  log?: (line: string) => void;
  /** Run the built CLI (dist/, as bench.ts builds it) or the sources through tsx; default dist when built. */
  cli?: 'dist' | 'tsx';
}

export interface WarmBenchResult {
  entries: number;
  latencyMs: number;
  warm: { seconds: number; entriesPerSecond: number; ceilingPerSecond: number; ratioToCeiling: number; bindingQuota: string; requestsPerEntry: Record<string, number>; rates: Record<string, number>; throttles: number; quota429s: number; outcomes: WarmSummary['outcomes'] };
  npmCi: { seconds: number; entriesPerSecond: number; exitCode: number; quota429s: number; stderr?: string };
  warmVsNpmCi: number;
  rerun: { seconds: number; artifactRequests: number; requestsToTarget: number };
}

function runNode(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? 1, stdout, stderr }));
  });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => res({ code: code ?? 1, stderr }));
  });
}

/** A package-lock.json (v3) of `names` at 1.0.0, resolved at `tarballBase` (a registry URL ending in '/'). */
function lockfile(names: string[], integrity: Map<string, string>, tarballBase: string): { packageJson: string; lock: string } {
  const dependencies = Object.fromEntries(names.map((n) => [n, '1.0.0']));
  const packages: Record<string, unknown> = { '': { name: 'bench-warm', version: '1.0.0', dependencies } };
  for (const n of names) packages[`node_modules/${n}`] = { version: '1.0.0', resolved: `${tarballBase}${n}/-/${n}-1.0.0.tgz`, integrity: integrity.get(n) };
  return {
    packageJson: `${JSON.stringify({ name: 'bench-warm', version: '1.0.0', private: true, dependencies }, null, 2)}\n`,
    lock: `${JSON.stringify({ name: 'bench-warm', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  };
}

export async function warmBench(sandbox: Sandbox, opts: WarmBenchOptions = {}): Promise<WarmBenchResult> {
  const N = opts.entries ?? 1200;
  const latency = opts.latencyMs ?? 100;
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'cam-bench-warm-'));
  const { standIn } = sandbox;
  const d = sandbox.descriptor;
  const useDist = opts.cli === 'dist' || (opts.cli === undefined && existsSync(join(ROOT, 'dist/src/cli/main.js')));
  const cliArgs = useDist ? ['--no-deprecation', join(ROOT, 'dist/src/cli/main.js')] : ['--no-deprecation', '--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_') && !k.toLowerCase().startsWith('npm_')) env[k] = v;
  // the job locks and the record of where each job ran in the bench's own folder, not the user's home
  Object.assign(env, d.env, { CAM_LOCK_DIR: join(dir, 'locks'), AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  const cam = (args: string[]) => runNode([...cliArgs, '--state-dir', join(dir, 'state'), ...args], env, ROOT);

  const registry = await startHostileRegistry();
  const client = new CodeartifactClient({ region: d.codeartifact.region, endpoint: d.codeartifact.endpoint, credentials: { accessKeyId: d.codeartifact.accessKeyId, secretAccessKey: d.codeartifact.secretAccessKey }, maxAttempts: 1 });
  try {
    // two sets of packages of the same shape: one warmed by cam, one installed by npm ci, both from a cold store
    log(`warm bench: seeding ${2 * N} public packages…`);
    const stamp = Date.now().toString(36);
    const setA = Array.from({ length: N }, (_, i) => `bw${stamp}-a-${String(i).padStart(5, '0')}`);
    const setB = Array.from({ length: N }, (_, i) => `bw${stamp}-b-${String(i).padStart(5, '0')}`);
    const integrity = new Map<string, string>();
    for (const name of [...setA, ...setB]) {
      const tarball = npmTarball(name, '1.0.0');
      integrity.set(name, sri512(tarball));
      registry.setPackage(name, [{ version: '1.0.0', tarball }]);
    }
    standIn.setExternalConnection('public:npmjs', registry.url);

    const project = (name: string, names: string[], base: string) => {
      const p = join(dir, name);
      mkdirSync(p, { recursive: true });
      const { packageJson, lock } = lockfile(names, integrity, base);
      writeFileSync(join(p, 'package.json'), packageJson);
      writeFileSync(join(p, 'package-lock.json'), lock);
      return p;
    };
    project('warm-project', setA, registry.url);
    const storeEndpoint = standIn.npmEndpoint('npm-store');
    const ciProject = project('ci-project', setB, storeEndpoint);
    const job = join(dir, 'bench-warm.yaml');
    writeFileSync(
      job,
      stringify({
        name: 'bench-warm',
        target: { region: d.codeartifact.region, domain: d.codeartifact.domain, domainOwner: d.codeartifact.domainOwner, repositories: { npm: { internal: 'npm-internal', store: 'npm-store', shared: 'npm-shared' } } },
        // one internal name, protected by harden below (warm refuses otherwise)
        sources: [{ id: 'internal', kind: 'npm-registry', url: registry.url, packages: [`@bw${stamp}/internal`] }],
        // the registry the lockfile resolves from is the public one here (a company registry that only
        // proxies it): said so, or warm would ask registry.npmjs.org whether each entry is public first
        publicRegistries: { npm: registry.url },
        // no rates: the account's quotas, read through Service Quotas
        warm: { lockfiles: ['warm-project/package-lock.json'] },
      }),
    );
    standIn.setQuotas(undefined);
    const harden = await cam(['harden', job, '--json']);
    if (harden.code !== 0) throw new Error(`harden failed: ${harden.stderr}`);

    standIn.setLatency(latency);
    log(`warm bench: cam warm over ${N} entries, ${latency} ms latency, default quotas enforced…`);
    const before = standIn.log.length;
    const w = await cam(['warm', job, '--json', '--quiet']);
    const warm = JSON.parse(w.stdout) as WarmSummary;
    if (w.code !== 0) log(`warm exited ${w.code}: ${w.stderr.slice(0, 500)}`);
    const warmLog = standIn.log.slice(before);
    const seconds = warm.durationMs / 1000;
    const requestsPerEntry: Record<string, number> = {};
    const rates: Record<string, number> = {};
    let ceiling = Infinity;
    let binding = '';
    for (const [bucket, n] of Object.entries(warm.requests)) {
      if (!n) continue;
      const rate = warm.rates[bucket as keyof WarmSummary['rates']].rate;
      requestsPerEntry[bucket] = n / N;
      rates[bucket] = rate;
      const c = rate / (n / N);
      if (c < ceiling) [ceiling, binding] = [c, bucket];
    }

    log('warm bench: rerun…');
    const rerunFrom = standIn.log.length;
    const again = await cam(['warm', job, '--json', '--quiet']);
    const rerun = JSON.parse(again.stdout) as WarmSummary;
    const rerunLog = standIn.log.slice(rerunFrom);

    log(`warm bench: npm ci of ${N} packages through npm-store, same latency and quotas…`);
    const token = (await client.send(new GetAuthorizationTokenCommand({ domain: d.codeartifact.domain, domainOwner: d.codeartifact.domainOwner }))).authorizationToken!;
    const npmrc = join(ciProject, '.npmrc-bench');
    // as `aws codeartifact login --tool npm` writes it; retries as a CI would configure them for a throttling registry
    writeFileSync(npmrc, [`registry=${storeEndpoint}`, `${storeEndpoint.replace(/^https?:/, '')}:_authToken=${token}`, 'audit=false', 'fund=false', 'update-notifier=false', 'fetch-retries=6', 'fetch-retry-mintimeout=1000', 'fetch-retry-maxtimeout=20000'].join('\n') + '\n');
    const npmEnv: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) npmEnv[k] = v;
    const ciFrom = standIn.log.length;
    const t0 = performance.now();
    const ci = await run('npm', ['ci', '--ignore-scripts', '--userconfig', npmrc, '--cache', join(ciProject, '.npm-cache'), '--loglevel', 'error'], npmEnv, ciProject);
    const ciSeconds = (performance.now() - t0) / 1000;
    const ciLog = standIn.log.slice(ciFrom);

    const quota429 = (l: typeof warmLog) => l.filter((e) => e.status === 429 && e.throttledBy === 'quota').length;
    const result: WarmBenchResult = {
      entries: N,
      latencyMs: latency,
      warm: { seconds, entriesPerSecond: N / seconds, ceilingPerSecond: ceiling, ratioToCeiling: N / seconds / ceiling, bindingQuota: binding, requestsPerEntry, rates, throttles: warm.throttles, quota429s: quota429(warmLog), outcomes: warm.outcomes },
      npmCi: { seconds: ciSeconds, entriesPerSecond: N / ciSeconds, exitCode: ci.code, quota429s: quota429(ciLog), ...(ci.code !== 0 ? { stderr: ci.stderr.slice(0, 1000) } : {}) },
      warmVsNpmCi: N / seconds / (N / ciSeconds),
      rerun: { seconds: rerun.durationMs / 1000, artifactRequests: rerunLog.filter((e) => e.operation === 'npm:GetTarball').length, requestsToTarget: rerunLog.length },
    };
    mkdirSync(join(ROOT, 'state'), { recursive: true });
    writeFileSync(join(ROOT, 'state', 'bench-warm.json'), `${JSON.stringify(result, null, 2)}\n`);
    const r = result;
    process.stdout.write(
      [
        `warm bench: ${N} lockfile entries, ${latency} ms latency, default quotas enforced (rates from ${warm.rates.getAsset.source})`,
        `  cam warm          ${r.warm.entriesPerSecond.toFixed(1)} entries/s over ${r.warm.seconds.toFixed(1)} s = ${(r.warm.ratioToCeiling * 100).toFixed(1)}% of the ${r.warm.ceilingPerSecond.toFixed(1)}/s ceiling (${r.warm.bindingQuota} ${rates[binding]}/s, ${requestsPerEntry[binding]?.toFixed(2)} per entry); ${r.warm.throttles} throttles, ${r.warm.quota429s} quota 429s`,
        `  requests/entry    ${Object.entries(requestsPerEntry).map(([b, n]) => `${b} ${n.toFixed(2)}`).join(', ')}`,
        `  npm ci (store)    ${r.npmCi.entriesPerSecond.toFixed(1)} packages/s over ${r.npmCi.seconds.toFixed(1)} s, exit ${r.npmCi.exitCode}, ${r.npmCi.quota429s} quota 429s`,
        `  warm / npm ci     ${r.warmVsNpmCi.toFixed(2)}x`,
        `  rerun             ${r.rerun.seconds.toFixed(2)} s, ${r.rerun.artifactRequests} artifact requests, ${r.rerun.requestsToTarget} requests to the target`,
        '',
      ].join('\n'),
    );
    return result;
  } finally {
    standIn.setLatency(0);
    standIn.setQuotas(undefined);
    standIn.setExternalConnection('public:npmjs', undefined);
    client.destroy();
    await registry.stop();
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  }
}

// `npx tsx test/support/bench-warm.ts [entries] [latencyMs]`: on a sandbox of its own
if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const dir = mkdtempSync(join(tmpdir(), 'cam-bench-warm-sandbox-'));
  const sandbox = await startSandbox({ dir: join(dir, 'sandbox'), standIn: { latencyMs: 0 } });
  try {
    await warmBench(sandbox, { entries: Number(process.argv[2] ?? 1200), latencyMs: Number(process.argv[3] ?? 100), cli: 'tsx' });
  } finally {
    await sandbox.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
