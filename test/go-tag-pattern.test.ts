/**
 * A Go git source whose `tags` is not the pattern go itself reads (`<directory>/v{version}`,
 * `v{version}` at the root: golang.org/x/mod, cmd/go's modfetch) builds its versions from
 * tags go never reads. In a monorepo whose `v1.0.0` and `billing/v1.0.0` are on different
 * commits, the h1: published is not what consumers' go.sum recorded when they fetched the
 * module directly. It may be deliberate, so it is a warning, never a refusal: in the run
 * summary (and on the terminal) and as a warning finding (EGOTAGPATTERN) of the plan.
 * Real runs against the sandbox, over a real git server.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanSummary } from '../src/cli/run.js';
import { statusCommand } from '../src/cli/status.js';
import { sourceSchema, type GitSourceConfig } from '../src/config/schema.js';
import type { RunSummary } from '../src/engine/events.js';
import { goTagPatternMismatch } from '../src/sources/git.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { gitSourceOn, type GitServer } from './support/git-server.js';

let te: TestEnv;
let git: GitServer;
/** The commits of the repository-wide tag v1.0.0 and of the module's own billing/v1.0.0. */
let repoWide: string;
let modules: string;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  const dir = join(te.dir, 'mono-src');
  mkdirSync(join(dir, 'billing'), { recursive: true });
  writeFileSync(join(dir, 'go.mod'), 'module git.acme.example/mono\n\ngo 1.19\n');
  writeFileSync(join(dir, 'mono.go'), 'package mono\n');
  writeFileSync(join(dir, 'billing', 'go.mod'), 'module git.acme.example/mono/billing\n\ngo 1.19\n');
  writeFileSync(join(dir, 'billing', 'billing.go'), 'package billing\n\nconst Rate = 1\n');
  await git.createRepoFromDir('mono', dir, { tags: ['v1.0.0', 'release-v1.0.0'], date: '2024-05-01T10:00:00Z' });
  repoWide = await git.revParse('mono', 'v1.0.0');
  // the module's own release, on a later commit: what go reads for git.acme.example/mono/billing@v1.0.0
  modules = await git.commit('mono', { files: { 'billing/billing.go': 'package billing\n\nconst Rate = 2\n' }, message: 'billing 1.0.0', date: '2024-05-02T10:00:00Z' });
  await git.tag('mono', 'billing/v1.0.0', modules);
}, 120_000);
afterAll(() => stopTestEnvWithGit(git, te));

const billing = (extra: Record<string, unknown> = {}) => gitSourceOn(git, 'billing', 'mono', 'go', { directory: 'billing', ...extra });
const json = <T>(r: { stdout: string }) => JSON.parse(r.stdout) as T;
interface PlanReport {
  verdict: { status: string };
  findings: { code: string; severity: string; section: string; title: string; detail: string; action: string; subjects: string[] }[];
}
const commitOf = (job: string, version: string) => {
  const state = te.openState(job);
  try {
    return state.items().find((r) => r.package === 'git.acme.example/mono/billing' && r.version === version)?.source_commit;
  } finally {
    state.close();
  }
};

describe('a Go source whose tags are the ones go reads says nothing', () => {
  it('the default pattern (billing/v{version} for directory billing), an explicit billing/v{version}, and v{version} or {version} at the root', async () => {
    const job = te.writeJob({
      name: 'go-ok',
      sources: [
        billing(),
        gitSourceOn(git, 'root', 'mono', 'go', { tags: 'v{version}' }),
      ],
    });
    const s = await te.run(job, { dryRun: true });
    expect(s.exitCode, JSON.stringify(s.failures)).toBe(0);
    expect(s.goTagPatterns).toEqual([]);
    expect(humanSummary(s)).not.toContain('WARNING');
    // the module is built from its own tag
    expect(commitOf('go-ok', 'v1.0.0')).toBe(modules);

    const explicit = te.writeJob({ name: 'go-ok-explicit', sources: [billing({ tags: 'billing/v{version}' }), gitSourceOn(git, 'root', 'mono', 'go', { tags: '{version}' })] });
    const e = await te.run(explicit, { dryRun: true });
    expect(e.exitCode, JSON.stringify(e.failures)).toBe(0);
    expect(e.goTagPatterns).toEqual([]);
    expect(humanSummary(e)).not.toContain('WARNING');

    const plan = await te.cli(['plan', explicit]);
    expect(json<PlanReport>(plan).findings.filter((f) => f.code === 'EGOTAGPATTERN')).toEqual([]);
  });
});

describe('a Go source whose tags are not the ones go reads is a warning', () => {
  it('directory billing with the repository-wide v{version}: the dry run, the terminal and the plan say what go reads and what to do; the exit code stays 0', async () => {
    const job = te.writeJob({ name: 'go-wide', sources: [billing({ tags: 'v{version}' })] });
    const s = await te.run(job, { dryRun: true });
    // built from the commit go never reads for this module: the hazard the warning is about
    expect(commitOf('go-wide', 'v1.0.0')).toBe(repoWide);
    expect(s.exitCode, JSON.stringify(s.failures)).toBe(0);
    expect(s.goTagPatterns).toEqual([{ source: 'billing', pattern: 'v{version}', goReads: 'billing/v{version}' }]);
    const line = humanSummary(s)
      .split('\n')
      .find((l) => l.includes('WARNING') && l.includes('"billing"'));
    expect(line).toBeDefined();
    expect(line).toContain('"v{version}"');
    expect(line).toContain('billing/v{version}');
    expect(line).toContain('goSum');

    const plan = await te.cli(['plan', job]);
    const report = json<PlanReport>(plan);
    expect(report.verdict.status).not.toBe('go');
    const found = report.findings.filter((f) => f.code === 'EGOTAGPATTERN');
    expect(found).toEqual([expect.objectContaining({ severity: 'warning', section: 'source', subjects: ['billing: v{version}'] })]);
    expect(found[0]!.detail).toContain('billing/v{version}');
    expect(found[0]!.action).toContain('billing/v{version}');
    expect(found[0]!.action).toContain('goSum');
  });

  it('release-v{version}: a real run publishes, says it, and exits 0', async () => {
    const job = te.writeJob({ name: 'go-release', sources: [billing({ tags: 'release-v{version}' })] });
    const s: RunSummary = await te.run(job);
    expect(s.exitCode, JSON.stringify(s.failures)).toBe(0);
    expect(s.states).toEqual({ verified: 1 });
    expect(s.goTagPatterns).toEqual([{ source: 'billing', pattern: 'release-v{version}', goReads: 'billing/v{version}' }]);
    expect(humanSummary(s)).toMatch(/WARNING .*"billing".*"release-v\{version\}"/);
    // the stored summary carries it too: a report of the run shows the finding
    const report = await te.cli(['report', job, '--json']);
    expect(json<PlanReport>(report).findings.filter((f) => f.code === 'EGOTAGPATTERN')).toEqual([expect.objectContaining({ severity: 'warning', subjects: ['billing: release-v{version}'] })]);
    // and status, read later by whoever looks at the job, says it in the same words (it is the job's, not a run's)
    const status = await te.cli(['status', job, '--json']);
    expect(status.code).toBe(0);
    expect(json<{ goTagPatterns: unknown }>(status).goTagPatterns).toEqual([{ source: 'billing', pattern: 'release-v{version}', goReads: 'billing/v{version}' }]);
    let words = '';
    const tty = Object.assign(new Writable({ write: (c: Buffer, _e, done) => ((words += c.toString()), done()) }), { isTTY: true });
    const saved = process.env.CAM_LOCK_DIR;
    process.env.CAM_LOCK_DIR = join(te.dir, 'locks');
    try {
      expect(statusCommand(job, { stateDir: te.stateDir }, { stdout: tty, stderr: new Writable({ write: (_c, _e, done) => done() }) })).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.CAM_LOCK_DIR;
      else process.env.CAM_LOCK_DIR = saved;
    }
    expect(words.split('\n').filter((l) => l.includes('WARNING'))).toEqual([humanSummary(s).split('\n').find((l) => l.includes('WARNING') && l.includes('"billing"'))]);
  });
});

describe('which patterns are the ones go reads (the rule alone)', () => {
  const mismatch = (config: Record<string, unknown>) => goTagPatternMismatch(sourceSchema.parse({ id: 's', kind: 'git', url: 'git+ssh://git@git.example.com/a/b.git', format: 'go', ...config }) as GitSourceConfig);
  it('<directory>/v{version} (the default), v{version} at the root, and {version} with the same prefix (its text must begin with v) are what go reads', () => {
    for (const c of [{}, { tags: 'v{version}' }, { tags: '{version}' }, { directory: 'billing' }, { directory: 'billing', tags: 'billing/v{version}' }, { directory: 'billing', tags: 'billing/{version}' }, { directory: 'tools/cli', tags: 'tools/cli/v{version}' }]) {
      expect(mismatch(c), JSON.stringify(c)).toBeUndefined();
    }
  });
  it('any other pattern is named with the tags go reads', () => {
    expect(mismatch({ directory: 'billing', tags: 'v{version}' })).toEqual({ source: 's', pattern: 'v{version}', goReads: 'billing/v{version}' });
    expect(mismatch({ tags: 'release-v{version}' })).toEqual({ source: 's', pattern: 'release-v{version}', goReads: 'v{version}' });
    expect(mismatch({ tags: 'billing/v{version}' })).toEqual({ source: 's', pattern: 'billing/v{version}', goReads: 'v{version}' });
    expect(mismatch({ directory: 'billing', tags: 'billing/v{version}-final' })).toEqual({ source: 's', pattern: 'billing/v{version}-final', goReads: 'billing/v{version}' });
    expect(mismatch({ directory: 'tools/cli', tags: 'cli/v{version}' })).toEqual({ source: 's', pattern: 'cli/v{version}', goReads: 'tools/cli/v{version}' });
  });
  it('npm and PyPI sources read whatever tags the job says: nothing to compare with', () => {
    expect(mismatch({ format: 'npm', directory: 'billing', tags: 'v{version}' })).toBeUndefined();
    expect(mismatch({ format: 'pypi', package: 'acme-billing', tags: 'release-{version}' })).toBeUndefined();
  });
});
