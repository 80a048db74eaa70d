/**
 * `npm run demo` as a test: the demo's own code (runDemo) against a sandbox on random
 * ports, with jobs/demo.yaml rewritten to them (ports and the known_hosts path, nothing
 * else), so it can run beside a developer's `npm run demo` on the fixed ports. And the
 * sandbox's git host on its own: stable `/acme/<name>.git` URLs, read-only.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJob } from '../src/config/load.js';
import { DEMO_BROKEN_TAGS, DEMO_KNOWN_HOSTS, DEMO_PORTS } from './support/demo-data.js';
import { DEMO_JOB, rewriteJob, runDemo, type DemoResult } from './support/demo.js';
import { canConnect, fixtureBundle, run } from './support/git-server.js';
import { startSandbox, type Sandbox } from './support/sandbox.js';

/** Real go's hashes of these go-uuid tags (test/fixtures/git/SOURCES.md, matching public go.sum files). */
const UUID_H1: Record<string, string> = {
  'v1.0.0': 'h1:b4Gk+7WdP/d3HZH8EJsZpvV7EtDOgaZLtnaNGIu1adA=',
  'v1.3.0': 'h1:t6JiXgmwXMjEs8VusXIJk2BXHsn+wx8BZdTaoZ5fu7I=',
  'v1.6.0': 'h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=',
};

const listening = canConnect;

describe('jobs/demo.yaml', () => {
  it('names the sandbox by stable addresses only: fixed ports, /acme/<name>.git, a known_hosts file under state/', () => {
    const text = readFileSync(DEMO_JOB, 'utf8');
    const job = loadJob(DEMO_JOB);
    const git = job.config.sources.filter((s) => s.kind === 'git');
    expect(git.map((s) => s.url)).toEqual(['billing', 'crashtest', 'uuid'].map((n) => `git+ssh://127.0.0.1:${DEMO_PORTS.git}/acme/${n}.git`));
    // relative to the job file, where the sandbox writes it
    expect(git.every((s) => s.kind === 'git' && s.knownHostsFile === DEMO_KNOWN_HOSTS && s.sshKeyEnv === 'CAM_DEMO_GIT_KEY')).toBe(true);
    expect(job.config.sources.filter((s) => s.kind === 'npm-registry').map((s) => s.url)).toEqual([`http://127.0.0.1:${DEMO_PORTS.privateNpm}/`, `http://127.0.0.1:${DEMO_PORTS.github}/`]);
    expect(Object.keys(job.config.target.repositories).sort()).toEqual(['generic', 'npm', 'pypi']);
    // the two broken tags the job skips, with a versions: override each
    for (const b of DEMO_BROKEN_TAGS.filter((x) => x.skippedBy === 'job')) {
      const s = git.find((x) => x.id === b.source);
      expect(s?.kind === 'git' && s.versions[b.version]?.skip, b.tag).toBeTruthy();
    }
    expect(text).not.toMatch(/\/tmp\/|\/work\/|cam-test-/);
  });
});

describe('npm run demo (runDemo on random ports)', () => {
  let dir: string;
  let result: DemoResult;
  let printed = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cam-demo-test-'));
    const out = new PassThrough();
    out.on('data', (c: Buffer) => (printed += c.toString()));
    const err = new PassThrough();
    err.resume();
    result = await runDemo({ stateDir: join(dir, 'state'), sandboxDir: join(dir, 'sandbox'), ports: 'random', out, err });
  }, 600_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ends with exit code 0 and nothing unexpected', () => {
    expect(result.problems).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.first.exitCode).toBe(0);
    expect(result.first.failures).toEqual([]);
    expect(result.first.listErrors).toEqual([]);
  });

  it('ran the committed job, only its ports and known_hosts path changed', () => {
    const committed = readFileSync(DEMO_JOB, 'utf8');
    expect(readFileSync(result.jobFile, 'utf8')).toBe(rewriteJob(committed, result.descriptor));
    expect(result.descriptor.privateNpm.url).not.toContain(`:${DEMO_PORTS.privateNpm}/`);
  });

  it('puts all 7 packages on the target: 4 npm, 2 PyPI, 1 Go module', () => {
    const counts = Object.fromEntries(Object.entries(result.onTarget).map(([k, v]) => [k, v.length]));
    expect(counts).toEqual({ '@acme/core': 40, '@acme/utils': 24, '@acme-gh/feature-flags': 30, '@acme-gh/logger': 20, 'acme-billing': 3, crashtest: 4, 'github.com/google/uuid': 13 });
    expect(result.onTarget['acme-billing']).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    expect(result.onTarget.crashtest).toEqual(['0.3.0', '0.3.1', '0.4.0', '0.4.1']);
    expect(result.onTarget['github.com/google/uuid']).not.toContain('v2.0.0');
    expect(result.first.outcomes).toEqual({ published: 134 });
  });

  it('the broken tags end with their codes: EBUILD and EVERSION without the skips, and the v2 tag skipped because Go ignores it', () => {
    const skipped = new Map(result.first.skipped.map((k) => [`${k.package}@${k.version}`, k.reason]));
    for (const b of DEMO_BROKEN_TAGS) expect(skipped.has(`${b.package}@${b.version}`), b.tag).toBe(true);
    expect(skipped.get('github.com/google/uuid@v2.0.0')).toMatch(/\/v2/);
    // uuid's real junk tags: no Go versions
    expect([...skipped.keys()].filter((k) => k.startsWith('github.com/google/uuid@') && !k.endsWith('v2.0.0')).sort()).toEqual(['github.com/google/uuid@.1', 'github.com/google/uuid@.1.1.2', 'github.com/google/uuid@0', 'github.com/google/uuid@0.1']);
    const codes = Object.fromEntries(result.unskipped.failures.map((f) => [`${f.package}@${f.version}`, f.code]));
    expect(codes).toEqual({ 'acme-billing@0.9.0': 'EBUILD', 'crashtest@0.4.2': 'EVERSION' });
    expect(result.unskipped.dryRun).toBe(true);
    expect(result.unskipped.exitCode).toBe(1);
  });

  it('the rerun has nothing to do and sends CodeArtifact no request', () => {
    expect(result.rerunRequests).toBe(0);
    expect(result.rerun.outcomes).toEqual({});
    expect(result.rerun.exitCode).toBe(0);
    expect(printed).toContain('requests sent to CodeArtifact by the rerun: 0\n');
  });

  it('pip and go read back what was recorded, and go agrees with the public checksums', () => {
    expect(result.pip.map((c) => `${c.package}==${c.version}`)).toEqual(['acme-billing==1.0.0', 'acme-billing==1.1.0', 'acme-billing==1.2.0', 'crashtest==0.3.0', 'crashtest==0.3.1', 'crashtest==0.4.0', 'crashtest==0.4.1']);
    for (const c of result.pip) {
      expect(c.error, c.version).toBeUndefined();
      expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(c.sha256).toBe(c.recorded);
    }
    expect(result.go).toHaveLength(13);
    for (const c of result.go) {
      expect(c.error, c.version).toBeUndefined();
      expect(c.sum).toBe(c.recordedH1);
      expect(c.goModSum).toBe(c.recordedGoModH1);
    }
    for (const [v, h1] of Object.entries(UUID_H1)) expect(result.go.find((c) => c.version === v)?.sum).toBe(h1);
  });

  it('stopped every server it started', async () => {
    const d = result.descriptor;
    const ports = [d.git!.port, ...[d.privateNpm.url, d.github.url, d.codeartifact.endpoint].map((u) => Number(new URL(u).port))];
    for (const p of ports) expect(await listening(p), `port ${p}`).toBe(false);
  });
});

describe("the sandbox's git host", () => {
  let sandbox: Sandbox;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cam-sandbox-git-'));
    sandbox = await startSandbox({ dir: join(dir, 'sandbox'), git: true });
    await sandbox.git!.createRepoFromBundle('crashtest', fixtureBundle('py-crashtest'));
  });
  afterAll(async () => {
    await sandbox?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const git = (args: string[], cwd = dir) => run('git', ['-c', `core.sshCommand=${sandbox.descriptor.git!.sshCommand}`, ...args], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' } });

  it('serves /acme/<name>.git whatever folder holds it; the descriptor and env say how to reach it', async () => {
    const g = sandbox.descriptor.git!;
    expect(g.repositories).toEqual({ crashtest: `git+ssh://127.0.0.1:${g.port}/acme/crashtest.git` });
    expect(sandbox.descriptor.env[g.keyEnv]).toBe(g.keyPath);
    const r = await git(['ls-remote', '--tags', g.repositories.crashtest!]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('refs/tags/0.4.1');
  });

  it('is read-only: a push, another command, an unknown or escaping path are refused', async () => {
    const url = sandbox.descriptor.git!.repositories.crashtest!;
    const clone = await git(['clone', '-q', url, 'c']);
    expect(clone.code, clone.stderr).toBe(0);
    const before = await sandbox.git!.server.tags('crashtest');
    const push = await git(['push', 'origin', 'HEAD:refs/tags/pushed'], join(dir, 'c'));
    expect(push.code).not.toBe(0);
    expect(await sandbox.git!.server.tags('crashtest')).toEqual(before);
    const port = sandbox.descriptor.git!.port;
    for (const other of [`ssh://127.0.0.1:${port}/acme/nope.git`, `ssh://127.0.0.1:${port}/acme/../git/repos/crashtest.git`, `ssh://127.0.0.1:${port}${sandbox.git!.server.repoPath('crashtest')}`]) {
      const r = await git(['ls-remote', other]);
      expect(r.code, other).not.toBe(0);
      expect(r.stderr, other).toContain('does not appear to be a git repository');
    }
    const shell = await run('sh', ['-c', `${sandbox.descriptor.git!.sshCommand} -p ${port} 127.0.0.1 id`]);
    expect(shell.code).not.toBe(0);
    expect(shell.stdout).toBe('');
  });

  it('is off unless asked for', async () => {
    const plain = await startSandbox({ dir: join(dir, 'plain') });
    try {
      expect(plain.git).toBeUndefined();
      expect(plain.descriptor.git).toBeUndefined();
      expect(Object.keys(plain.descriptor.env)).not.toContain('CAM_DEMO_GIT_KEY');
    } finally {
      await plain.stop();
    }
  });
});
