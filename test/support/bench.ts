/**
 * `npm run bench [-- --packages 20 --versions 50 --latency 100 --throttle 0.03 --sizes 1,16,64]`
 * `npm run bench -- --only sweep --sweep 100` runs some phases only
 * (lockfiles, warm, main, memory, sweep, rerun10k, scale, builds).
 *
 * Measures the built CLI (dist/) as a child process against the sandbox with
 * the stand-in enforcing CodeArtifact's default quotas, injected latency on
 * every request, and injected 429s (Retry-After: 1) on a share of publishes:
 *   00. lockfiles: parsing a monorepo's lockfile of each format (--lockfile-packages
 *      packages, 110,000 by default: 35-51 MB), MB/s and peak RSS, and warm's collect of
 *      them all (bench-lockfiles.ts);
 *   0. warm: `cam warm` over 1,200 lockfile entries against the read quotas,
 *      and a real `npm ci` through the store (bench-warm.ts);
 *   1. throughput: versions/s, its ratio to the publish-quota ceiling, and to
 *      a sequential one-at-a-time baseline measured in the same run;
 *   2. the time of a rerun after completion;
 *   3. peak RSS as tarball sizes grow (should stay flat: bytes are streamed);
 *   4. the quota sweep (10, 50, 100/s read from the stand-in's Service Quotas):
 *      end to end, and first publish to last; then a completed 10,000-version
 *      job run again, and `report` of it (seconds, peak RSS, each form's size);
 *   5. dry runs over thousands of packages (ms per package, peak RSS);
 *   6. Python and Go builds from real tagged repositories over git+ssh, and npm-in-git tags with a prepare script.
 * Prints a table and writes state/bench.json.
 *
 * CAM_BENCH_CPU_PROF=dir writes a V8 CPU profile of every run of the tool;
 * CAM_BENCH_NODE_FLAGS='--optimize-for-size' runs the tool with those V8 flags;
 * CAM_BENCH_TRACE=1 prints the stand-in's requests before each sweep run's first publish.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { RunSummary } from '../../src/engine/events.js';
import { startSandbox, type Sandbox } from './sandbox.js';
import { historyOf, seedPackages } from './npm-fixtures.js';
import { json, startHostileRegistry } from './hostile-registry.js';
import { npmTarball } from './tarballs.js';
import { fixtureBundle, startGitServer } from './git-server.js';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';

const { values } = parseArgs({
  options: {
    packages: { type: 'string', default: '20' },
    versions: { type: 'string', default: '50' },
    latency: { type: 'string', default: '100' },
    throttle: { type: 'string', default: '0.03' },
    sizes: { type: 'string', default: '1,16,64' },
    'baseline-packages': { type: 'string', default: '2' },
    scale: { type: 'string', default: '2000,8000' },
    'large-module-mb': { type: 'string', default: '256' },
    sweep: { type: 'string', default: '10,50,100' },
    'one-package-versions': { type: 'string', default: '1000' },
    // limits.publishesPerPackage values tried on the one-package case besides the default
    'per-package': { type: 'string', default: '8,16' },
    'rerun-versions': { type: 'string', default: '10000' },
    'lockfile-packages': { type: 'string', default: '110000' },
    // a subset of the phases, for working on one figure: lockfiles,warm,main,memory,sweep,rerun10k,scale,builds
    only: { type: 'string', default: 'lockfiles,warm,main,memory,sweep,rerun10k,scale,builds' },
  },
});
const ONLY = new Set(values.only.split(',').filter(Boolean));
const SCALE = values.scale.split(',').filter(Boolean).map(Number);
const SWEEP = values.sweep.split(',').filter(Boolean).map(Number);
const PER_PACKAGE = values['per-package'].split(',').filter(Boolean).map(Number);
const ONE_PACKAGE_VERSIONS = Number(values['one-package-versions']);
const RERUN_VERSIONS = Number(values['rerun-versions']);
let bigRerun: { versions: number; firstSeconds: number; rerunSeconds: number; rerunRequests: number; rerunExit: number; report?: ReportFigures } | undefined;

/** `report` of a job's state: seconds, peak RSS, and the size of each form it wrote. */
interface ReportFigures {
  seconds: number;
  peakRssBytes: number;
  bytes: Record<string, number>;
  exit: number;
}
const N = Number(values.packages);
const M = Number(values.versions);
const LATENCY = Number(values.latency);
const THROTTLE = Number(values.throttle);
const SIZES_MB = values.sizes.split(',').map(Number);
const BASELINE_PACKAGES = Number(values['baseline-packages']);
const PUBLISH_QUOTA = 10;

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'cam-bench-'));
const log = (s: string) => process.stderr.write(`${s}\n`);

/** A tiny deterministic PRNG, so the injected throttles hit the same versions every time. */
function prng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function writeJob(sandbox: Sandbox, name: string, scope: string, limits: Record<string, unknown> = {}, source?: Record<string, unknown>): string {
  const d = sandbox.descriptor;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      name,
      target: { region: d.codeartifact.region, domain: d.codeartifact.domain, domainOwner: d.codeartifact.domainOwner, repositories: { npm: { internal: 'npm-internal' } } },
      sources: [source ?? { id: 'private-npm', kind: 'npm-registry', url: d.privateNpm.url, tokenEnv: d.privateNpm.tokenEnv, scopes: [scope] }],
      limits, // CodeArtifact's default quotas: the point is to measure against them
    }),
  );
  return file;
}

function runCli(sandbox: Sandbox, job: string, extra: string[] = [], extraEnv: Record<string, string> = {}): Promise<RunSummary> {
  return new Promise((res, rej) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_')) env[k] = v;
    // CAM_BENCH_CPU_PROF=dir: a V8 CPU profile of every run of the tool, to see where its time goes;
    // CAM_BENCH_NODE_FLAGS='--optimize-for-size': V8 flags for the tool, to see what its memory costs in speed
    const profile = [...(process.env.CAM_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CAM_BENCH_CPU_PROF}`] : []), ...(process.env.CAM_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
    const child = spawn(process.execPath, [...profile, '--no-deprecation', join(ROOT, 'dist/src/cli/main.js'), '--state-dir', join(dir, 'state'), 'run', job, '--json', '--quiet', ...extra], {
      // the job locks and the record of where each job ran in the bench's own folder, not the user's home
      env: { ...env, ...sandbox.descriptor.env, CAM_LOCK_DIR: join(dir, 'locks'), ...extraEnv, AWS_EC2_METADATA_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', rej);
    child.on('close', (code) => {
      try {
        const summary = JSON.parse(out) as RunSummary;
        if (code !== 0) log(`run of ${job} exited ${code}: ${JSON.stringify(summary.failures.slice(0, 3))}`);
        res(summary);
      } catch {
        rej(new Error(`run of ${job} exited ${code} without a JSON summary: ${out.slice(0, 500)}`));
      }
    });
  });
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/**
 * `report JOB --out DIR` of what the state records, in a child whose peak RSS a preloaded
 * script writes to a file at exit (the CLI prints no figures of its own for a report).
 */
function reportCli(sandbox: Sandbox, job: string): Promise<ReportFigures> {
  const out = mkdtempSync(join(dir, 'report-'));
  const rssFile = join(out, 'rss');
  const preload = join(dir, 'rss-at-exit.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS * 1024)));\n`);
  const started = performance.now();
  return new Promise((res, rej) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_')) env[k] = v;
    const child = spawn(process.execPath, ['--no-deprecation', '--require', preload, join(ROOT, 'dist/src/cli/main.js'), '--state-dir', join(dir, 'state'), 'report', job, '--out', join(out, 'forms')], {
      env: { ...env, ...sandbox.descriptor.env, CAM_LOCK_DIR: join(dir, 'locks'), AWS_EC2_METADATA_DISABLED: 'true' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', rej);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const bytes: Record<string, number> = {};
      for (const f of existsSync(join(out, 'forms')) ? readdirSync(join(out, 'forms')) : []) bytes[f] = statSync(join(out, 'forms', f)).size;
      res({ seconds, peakRssBytes: existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : 0, bytes, exit: code ?? -1 });
    });
  });
}

log('building dist/ (the bench measures the built CLI)…');
execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });

// parsing big lockfiles needs no sandbox: children of their own, before it starts
const lockfiles = ONLY.has('lockfiles') ? (await import('./bench-lockfiles.js')).lockfilesBench({ packages: Number(values['lockfile-packages']), log }) : undefined;

const sandbox = await startSandbox({ dir: join(dir, 'sandbox'), standIn: { latencyMs: 0 } });
try {
  const { privateNpm, standIn } = sandbox;
  // warming the stores from lockfiles: prints its own lines, writes state/bench-warm.json
  if (ONLY.has('warm')) await (await import('./bench-warm.js')).warmBench(sandbox, { log });
  let mainPhase: { main: RunSummary; baseline: RunSummary; rerun: RunSummary; rerunRequests: number; injected: number; quota429: number } | undefined;
  if (ONLY.has('main')) {
    log(`seeding ${N} x ${M} versions (+ ${BASELINE_PACKAGES} x ${M} for the sequential baseline)…`);
    const history = historyOf(M);
    const names = Array.from({ length: N }, (_, i) => `@bench/pkg-${String(i).padStart(2, '0')}`);
    const baselineNames = Array.from({ length: BASELINE_PACKAGES }, (_, i) => `@bench-seq/pkg-${i}`);
    await seedPackages(privateNpm.url, privateNpm.token, [...names, ...baselineNames].map((name) => ({ name, versions: history })));

    // injected throttling: a share of the publishes answer 429 with Retry-After once
    const random = prng(42);
    let injected = 0;
    for (const name of [...names, ...baselineNames]) {
      for (const v of history) {
        if (random() < THROTTLE) {
          standIn.addFault({ operation: 'npm:Publish', package: name, version: v, status: 429, retryAfterSeconds: 1, times: 1 });
          injected++;
        }
      }
    }
    standIn.setLatency(LATENCY);
    log(`latency ${LATENCY} ms on every stand-in request, ${injected} injected 429s, stand-in enforcing the default quotas`);

    log(`sequential baseline: ${BASELINE_PACKAGES} x ${M} versions, one at a time…`);
    const baseline = await runCli(sandbox, writeJob(sandbox, 'bench-seq', '@bench-seq', { concurrency: 1, fetchConcurrency: 1 }));

    log(`concurrent run: ${N} x ${M} versions…`);
    const main = await runCli(sandbox, writeJob(sandbox, 'bench', '@bench'));
    const quota429 = standIn.log.filter((e) => e.status === 429).length;

    log('rerun after completion…');
    const rerunStart = standIn.log.length;
    const rerun = await runCli(sandbox, writeJob(sandbox, 'bench', '@bench'));
    const rerunRequests = standIn.log.length - rerunStart;
    mainPhase = { main, baseline, rerun, rerunRequests, injected, quota429 };
  }

  const memory: { sizeMb: number; peakRssBytes: number; versions: number; failed: number; recheck: RunSummary['blobRecheck'] }[] = [];
  if (ONLY.has('memory')) {
    log(`memory: tarballs of ${SIZES_MB.join(', ')} MB…`);
    standIn.setLatency(0);
    standIn.clearFaults();
    for (const size of SIZES_MB) {
      const scope = `@bench-mem${size}`;
      await seedPackages(privateNpm.url, privateNpm.token, [{ name: `${scope}/big`, versions: ['1.0.0', '1.0.1', '1.0.2'], padBytes: size * 2 ** 20 }]);
      const s = await runCli(sandbox, writeJob(sandbox, `bench-mem${size}`, scope));
      memory.push({ sizeMb: size, peakRssBytes: s.peakRssBytes, versions: s.complete, failed: s.failures.length, recheck: s.blobRecheck });
    }
  }

  // Quota sweep: the stand-in's publish quota (and what Service Quotas answers) at 10, 50
  // and 100/s, 100 ms latency, the job setting no rate: the tool must find the quota and
  // use >= 90% of it. Many packages, then one package of many versions at the default
  // within-package setting and at each --per-package value. Sources from an in-memory registry: seeding
  // thousands of versions into Verdaccio would take longer than the runs.
  const sweep: { quota: number; case: string; versions: number; seconds: number; perSecond: number; ratio: number; steadyPerSecond: number; steadyRatio: number; firstPublishSeconds: number; publishesPerPackage: number; peakPackages: number; peakRssBytes: number; peakLiveHeapBytes: number; quota429s: number; rateSource: string }[] = [];
  const sweepRegistry = await startHostileRegistry();
  try {
    const seedMemory = (scope: string, packages: number, versions: number) => {
      const names: string[] = [];
      for (let p = 0; p < packages; p++) {
        const name = `${scope}/p${p}`;
        names.push(name);
        sweepRegistry.setPackage(name, Array.from({ length: versions }, (_, v) => ({ version: `1.0.${v}`, tarball: npmTarball(name, `1.0.${v}`) })));
      }
      return names;
    };
    const memoryJob = (name: string, packages: string[], limits: Record<string, unknown> = {}) =>
      writeJob(sandbox, name, '', { retries: 8, ...limits }, { id: 'memory', kind: 'npm-registry', url: sweepRegistry.url, packages });
    for (const quota of ONLY.has('sweep') ? SWEEP : []) {
      // the account: every quota the default but publish (and the writes it needs) raised to `quota`
      standIn.setQuotas({ publish: quota, writes: Math.max(100, quota * 1.2) });
      standIn.setLatency(100);
      // many packages: about a minute of publishing at every quota (20 x 50 at 10/s as in the
      // main run; 60 x 50 at 50/s, 120 x 50 at 100/s), so what is measured is the rate held,
      // not the second or two every run spends starting, reading quotas and hardening
      const many = [Math.max(20, Math.round((quota * 60) / 50)), 50];
      const cases: [string, string[], Record<string, unknown>][] = [
        [`${many[0]}x${many[1]}`, seedMemory(`@sweep${quota}`, many[0]!, many[1]!), {}],
        [`1x${ONE_PACKAGE_VERSIONS} (default)`, seedMemory(`@one${quota}`, 1, ONE_PACKAGE_VERSIONS), {}],
        ...PER_PACKAGE.map((n): [string, string[], Record<string, unknown>] => [`1x${ONE_PACKAGE_VERSIONS} (${n} at once)`, seedMemory(`@at${n}q${quota}`, 1, ONE_PACKAGE_VERSIONS), { publishesPerPackage: n }]),
      ];
      for (const [label, pkgs, limits] of cases) {
        if (quota === 10 && label.startsWith('1x')) continue; // one package at 10/s is the main run's story; skip the 100 s wait
        log(`sweep: publish quota ${quota}/s, ${label}…`);
        const before = standIn.log.length;
        const started = Date.now();
        const s = await runCli(sandbox, memoryJob(`sweep-${quota}-${label.replace(/\W+/g, '-')}`, pkgs, limits));
        const published = s.outcomes.published ?? 0;
        const perSecond = published / (s.durationMs / 1000);
        const entries = standIn.log.slice(before);
        const quota429s = entries.filter((e) => e.status === 429 && e.throttledBy !== 'fault').length;
        // the publishing itself, first accepted publish to last: the rate the tool holds once
        // it runs, without the process start, the preflight and the last read-backs
        const publishes = entries.filter((e) => e.operation === 'npm:Publish' && e.status < 300).map((e) => e.at);
        const window = publishes.length > 1 ? (publishes[publishes.length - 1]! - publishes[0]!) / 1000 : 0;
        const steady = window > 0 ? (publishes.length - 1) / window : 0;
        const firstPublishSeconds = publishes.length > 0 ? (publishes[0]! - started) / 1000 : 0;
        if (process.env.CAM_BENCH_TRACE) for (const e of entries.filter((e) => publishes.length === 0 || e.at <= publishes[0]!)) log(`  +${e.at - started} ms ${e.operation} ${e.package ?? ''} ${e.status}`);
        sweep.push({ quota, case: label, versions: published, seconds: s.durationMs / 1000, perSecond, ratio: perSecond / quota, steadyPerSecond: steady, steadyRatio: steady / quota, firstPublishSeconds, publishesPerPackage: s.inFlight.publishesPerPackage, peakPackages: s.inFlight.peakPackages, peakRssBytes: s.peakRssBytes, peakLiveHeapBytes: s.peakLiveHeapBytes, quota429s, rateSource: s.rates.publish?.source ?? '?' });
      }
    }

    // a completed 10,000-version job, run again: seconds, and requests to the target
    if (ONLY.has('rerun10k')) {
      log(`rerun of a completed ${RERUN_VERSIONS}-version job…`);
      standIn.setQuotas(false);
      standIn.setLatency(0);
      const perPkg = 500;
      const bigNames = seedMemory('@big', Math.ceil(RERUN_VERSIONS / perPkg), perPkg);
      const bigJob = memoryJob('bench-big', bigNames, { rates: { publish: 2000, getAsset: 2000, list: 2000, reads: 4000, writes: 4000 }, publishesPerPackage: 8 });
      const first = await runCli(sandbox, bigJob);
      const beforeBig = standIn.log.length;
      const again = await runCli(sandbox, bigJob);
      // and the report people read of it: every version in each of the three forms
      const report = await reportCli(sandbox, bigJob);
      bigRerun = { versions: first.complete, firstSeconds: first.durationMs / 1000, rerunSeconds: again.durationMs / 1000, rerunRequests: standIn.log.length - beforeBig, rerunExit: again.exitCode, report };
    }
  } finally {
    await sweepRegistry.stop();
    standIn.setQuotas(undefined);
  }

  // Many packages: a dry run over P packages of one version each, from an in-memory
  // registry (Verdaccio would be the bottleneck), quotas off: what grows is the tool's
  // own work per package, which must stay flat as P grows (no per-package scans).
  log(`scale: dry runs over ${SCALE.join(', ')} packages…`);
  standIn.setQuotas(false);
  const registry = await startHostileRegistry();
  const scale: { packages: number; seconds: number; msPerPackage: number; peakRssBytes: number; listed: number }[] = [];
  try {
    for (const P of ONLY.has('scale') ? SCALE : []) {
      const scope = `@scale${P}`;
      const pkgNames = Array.from({ length: P }, (_, i) => `${scope}/p${i}`);
      for (const n of pkgNames) registry.setPackage(n, [{ version: '1.0.0', tarball: npmTarball(n, '1.0.0') }]);
      registry.search((req, res) => {
        const q = new URL(req.url ?? '/', registry.url).searchParams;
        const from = Number(q.get('from') ?? 0);
        const size = Number(q.get('size') ?? 20);
        json(res, 200, { objects: pkgNames.slice(from, from + size).map((name) => ({ package: { name } })), total: pkgNames.length });
      });
      const job = writeJob(sandbox, `bench-scale${P}`, scope, { concurrency: 16, fetchConcurrency: 16, rates: { publish: 10000, getAsset: 10000, list: 10000, reads: 10000, writes: 10000 } }, { id: 'memory', kind: 'npm-registry', url: registry.url, scopes: [scope] });
      const s = await runCli(sandbox, job, ['--dry-run']);
      scale.push({ packages: P, seconds: s.durationMs / 1000, msPerPackage: s.durationMs / P, peakRssBytes: s.peakRssBytes, listed: s.outcomes['would-publish'] ?? 0 });
    }
  } finally {
    await registry.stop();
  }

  // Builds: every tag of real repositories over a real sshd (Python: setuptools, hatchling,
  // poetry-core; Go: google/uuid and cespare/xxhash), target quotas off, so what is measured
  // is clone + build + store; then one large synthetic Go module for peak memory.
  let builds: { python: { tags: number; seconds: number; tagsPerSecond: number }; go: { tags: number; seconds: number; tagsPerSecond: number }; npm: { tags: number; seconds: number; tagsPerSecond: number }; largeModule: { mb: number; files: number; seconds: number; peakRssBytes: number }; cores: number } | undefined;
  if (ONLY.has('builds')) {
    log('builds: Python and Go tags over git+ssh…');
    const git = await startGitServer({ dir: join(dir, 'git') });
    try {
      for (const [repo, bundle] of [['userpath', 'py-userpath'], ['crashtest', 'py-crashtest'], ['uuid', 'go-uuid'], ['xxhash', 'go-xxhash']] as const) await git.createRepoFromBundle(repo, fixtureBundle(bundle));
      const gitEnv = { CAM_BENCH_GIT_KEY: git.clientKey };
      const src = (id: string, repo: string, format: string, extra: Record<string, unknown>) => ({ id, kind: 'git', url: git.gitPlusSshUrl(repo), format, sshKeyEnv: 'CAM_BENCH_GIT_KEY', knownHostsFile: git.knownHosts, ...extra });
      const fast = { rates: { publish: 10000, getAsset: 10000, list: 10000, reads: 10000, writes: 10000 } };
      const gitJob = (name: string, sources: Record<string, unknown>[]) => {
        const file = join(dir, `${name}.yaml`);
        const d = sandbox.descriptor;
        writeFileSync(file, stringify({ name, target: { region: d.codeartifact.region, domain: d.codeartifact.domain, domainOwner: d.codeartifact.domainOwner, repositories: { npm: { internal: 'npm-internal' }, pypi: { internal: 'pypi-internal' }, generic: { internal: 'go-internal' } } }, sources, limits: fast }));
        return file;
      };
      const py = await runCli(sandbox, gitJob('bench-py', [src('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' }), src('crashtest', 'crashtest', 'pypi', { package: 'crashtest', tags: '{version}' })]), [], gitEnv);
      const go = await runCli(sandbox, gitJob('bench-go', [src('uuid', 'uuid', 'go', { package: 'github.com/google/uuid' }), src('xxhash', 'xxhash', 'go', { package: 'github.com/cespare/xxhash' })]), [], gitEnv);
      // npm in git: a package whose prepare script builds it, so each tag is an install, a rebuild and a pack
      const npmSrc = join(dir, 'npm-in-git');
      mkdirSync(join(npmSrc, 'src'), { recursive: true });
      writeFileSync(join(npmSrc, 'package.json'), JSON.stringify({ name: '@acme/gitlib', version: '0.0.0', main: 'dist/index.js', files: ['dist'], license: 'MIT', scripts: { prepare: 'node build.js' } }, null, 2));
      writeFileSync(join(npmSrc, 'build.js'), "const fs = require('fs');\nfs.mkdirSync('dist', { recursive: true });\nfs.copyFileSync('src/index.js', 'dist/index.js');\n");
      writeFileSync(join(npmSrc, 'src', 'index.js'), 'module.exports = 1;\n');
      const npmTags = ['1.0.0', '1.0.1', '1.1.0', '1.2.0', '2.0.0', '2.1.0'];
      await git.createRepoFromDir('gitlib', npmSrc, { tags: [] });
      for (const v of npmTags) {
        const sha = await git.commit('gitlib', { files: { 'package.json': JSON.stringify({ name: '@acme/gitlib', version: v, main: 'dist/index.js', files: ['dist'], license: 'MIT', scripts: { prepare: 'node build.js' } }, null, 2) }, message: v });
        await git.tag('gitlib', `v${v}`, sha);
      }
      const npmRun = await runCli(sandbox, gitJob('bench-npm', [src('gitlib', 'gitlib', 'npm', {})]), [], gitEnv);

      // a large module: many files of incompressible data, three tags
      const MB = Number(values['large-module-mb']);
      const work = join(dir, 'large-module');
      mkdirSync(work, { recursive: true });
      writeFileSync(join(work, 'go.mod'), 'module example.com/large\n\ngo 1.19\n');
      const files = Math.max(1, MB * 4);
      for (let i = 0; i < files; i++) {
        mkdirSync(join(work, `pkg${i % 50}`), { recursive: true });
        writeFileSync(join(work, `pkg${i % 50}`, `data${i}.go`), `package pkg${i % 50}\n\nvar b${i} = ${JSON.stringify(randomBytes(192 * 1024).toString('base64'))}\n`);
      }
      await git.createRepoFromDir('large', work, { tags: ['v1.0.0', 'v1.0.1', 'v1.1.0'] });
      const large = await runCli(sandbox, gitJob('bench-large', [src('large', 'large', 'go', { package: 'example.com/large' })]), [], gitEnv);
      const rate = (s: RunSummary) => ({ tags: s.complete, seconds: s.durationMs / 1000, tagsPerSecond: s.complete / (s.durationMs / 1000) });
      builds = { python: rate(py), go: rate(go), npm: rate(npmRun), largeModule: { mb: MB, files, seconds: large.durationMs / 1000, peakRssBytes: large.peakRssBytes }, cores: availableParallelism() };
      if (py.failures.length + go.failures.length + npmRun.failures.length + large.failures.length) log(`build failures: ${JSON.stringify([...py.failures, ...go.failures, ...npmRun.failures, ...large.failures].slice(0, 3))}`);
    } finally {
      await git.stop();
    }
  }

  const m = mainPhase;
  const main = m && (() => {
    const published = m.main.outcomes.published ?? 0;
    const rate = published / (m.main.durationMs / 1000);
    const baselineRate = m.baseline.complete / (m.baseline.durationMs / 1000);
    return {
      versions: published,
      failed: m.main.failures.length,
      seconds: m.main.durationMs / 1000,
      versionsPerSecond: rate,
      ratioToPublishQuota: rate / PUBLISH_QUOTA,
      sequentialVersionsPerSecond: baselineRate,
      ratioToSequential: rate / baselineRate,
      throttlesSeen: m.main.throttles,
      all429sInLog: m.quota429,
      tokenFetches: m.main.tokenFetches,
      peakRssBytes: m.main.peakRssBytes,
      peakLiveHeapBytes: m.main.peakLiveHeapBytes,
    };
  })();
  const result = {
    packages: N,
    versionsPerPackage: M,
    latencyMs: LATENCY,
    injected429: m?.injected,
    throughput: main,
    rerun: m && { seconds: m.rerun.durationMs / 1000, requestsToTarget: m.rerunRequests, outcomes: m.rerun.outcomes },
    memory,
    blobRecheck: m?.main.blobRecheck,
    scale,
    builds,
    sweep,
    bigRerun,
    lockfiles,
  };
  writeFileSync(join(ROOT, 'state', 'bench.json'), `${JSON.stringify(result, null, 2)}\n`);
  const t = main;
  process.stdout.write(
    [
      `codeartifact-migrate bench (${[...ONLY].join(', ')})`,
      ...(t && m
        ? [
            `  main run          ${N} packages x ${M} versions, ${LATENCY} ms latency, ${m.injected} injected 429s, default quotas enforced`,
            `  throughput        ${t.versionsPerSecond.toFixed(2)} versions/s over ${t.seconds.toFixed(1)} s (${t.versions} published, ${t.failed} failed)`,
            `  publish quota     ${(t.ratioToPublishQuota * 100).toFixed(1)}% of the ${PUBLISH_QUOTA}/s ceiling`,
            `  vs sequential     ${t.ratioToSequential.toFixed(1)}x (one at a time: ${t.sequentialVersionsPerSecond.toFixed(2)} versions/s)`,
            `  throttles         ${t.throttlesSeen} seen by the tool, ${t.all429sInLog} 429s in the stand-in's log (all runs)`,
            `  rerun             ${(m.rerun.durationMs / 1000).toFixed(2)} s, ${m.rerunRequests} requests to the target`,
            `  peak RSS          ${mb(t.peakRssBytes)} (main run; live heap ${mb(t.peakLiveHeapBytes)})`,
            `  re-hash before publish  ${m.main.blobRecheck.ms.toFixed(0)} ms summed over ${t.versions} concurrent checks (${mb(m.main.blobRecheck.bytes)}) in the main run`,
          ]
        : []),
      ...memory.map((x) => `  peak RSS @ ${String(x.sizeMb).padStart(3)} MB tarballs  ${mb(x.peakRssBytes)} (${x.versions} versions, ${x.failed} failed; re-hash ${x.recheck.ms} ms for ${mb(x.recheck.bytes)})`),
      ...(builds
        ? [
            `  builds (${builds.cores} cores)  Python ${builds.python.tagsPerSecond.toFixed(2)} tags/s (${builds.python.tags} tags, ${builds.python.seconds.toFixed(1)} s), Go ${builds.go.tagsPerSecond.toFixed(2)} tags/s (${builds.go.tags} tags, ${builds.go.seconds.toFixed(1)} s), npm ${builds.npm.tagsPerSecond.toFixed(2)} tags/s (${builds.npm.tags} tags with a prepare script, ${builds.npm.seconds.toFixed(1)} s)`,
            `  large Go module  ${builds.largeModule.mb} MB in ${builds.largeModule.files} files x 3 tags: ${builds.largeModule.seconds.toFixed(1)} s, peak RSS ${mb(builds.largeModule.peakRssBytes)}`,
          ]
        : []),
      ...sweep.map(
        (x) =>
          `  sweep ${String(x.quota).padStart(3)}/s  ${x.case.padEnd(22)} ${x.perSecond.toFixed(1)}/s = ${(x.ratio * 100).toFixed(1)}% of the quota end to end; ${x.steadyPerSecond.toFixed(1)}/s = ${(x.steadyRatio * 100).toFixed(1)}% first publish to last (${x.versions} versions, ${x.seconds.toFixed(1)} s, first publish after ${x.firstPublishSeconds.toFixed(1)} s, ${x.peakPackages} packages in flight at most, rate from ${x.rateSource}, ${x.quota429s} quota 429s, peak RSS ${mb(x.peakRssBytes)}, live heap ${mb(x.peakLiveHeapBytes)})`,
      ),
      ...(bigRerun ? [`  rerun of a completed ${bigRerun.versions}-version job  ${bigRerun.rerunSeconds.toFixed(2)} s, ${bigRerun.rerunRequests} requests to the target (first run ${bigRerun.firstSeconds.toFixed(1)} s, exit ${bigRerun.rerunExit})`] : []),
      ...(bigRerun?.report
        ? [`  report of it       ${bigRerun.report.seconds.toFixed(1)} s, peak RSS ${mb(bigRerun.report.peakRssBytes)}, exit ${bigRerun.report.exit}; ${Object.entries(bigRerun.report.bytes).map(([f, b]) => `${f} ${mb(b)}`).join(', ')}`]
        : []),
      ...scale.map((x) => `  scale ${String(x.packages).padStart(6)} packages  dry run ${x.seconds.toFixed(1)} s = ${x.msPerPackage.toFixed(2)} ms/package, peak RSS ${mb(x.peakRssBytes)} (${x.listed} would-publish)`),
      '',
    ].join('\n'),
  );
  if ((t?.failed ?? 0) > 0 || memory.some((x) => x.failed > 0)) process.exitCode = 1;
} finally {
  await sandbox.stop();
  rmSync(dir, { recursive: true, force: true });
}
