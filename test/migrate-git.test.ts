/**
 * git+ssh sources end to end, against a real sshd, real tagged repositories
 * (test/fixtures/git, see SOURCES.md), Debian's Python build tools and Go, the
 * CodeArtifact stand-in, and the real clients (pip, go, npm) reading back what
 * was migrated.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../src/engine/events.js';
import { startGoProxy } from '../src/goproxy/server.js';
import type { AssetRow, ItemRow } from '../src/state/db.js';
import { goModuleToGeneric } from '../src/targets/go-mapping.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { fixtureBundle, gitSourceOn, type GitServer } from './support/git-server.js';

const run = promisify(execFile);

let te: TestEnv;
let git: GitServer;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  await git.createRepoFromBundle('userpath', fixtureBundle('py-userpath'));
  await git.createRepoFromBundle('crashtest', fixtureBundle('py-crashtest'));
  await git.createRepoFromBundle('uuid', fixtureBundle('go-uuid'));
  await git.createRepoFromBundle('xxhash', fixtureBundle('go-xxhash'));
  await git.createRepoFromBundle('escape', fixtureBundle('npm-escape-string-regexp'));
  await git.createRepoFromBundle('monorepo', fixtureBundle('monorepo'));
});
afterAll(() => stopTestEnvWithGit(git, te));

const gitSource = (id: string, repo: string, format: 'npm' | 'pypi' | 'go', extra: Record<string, unknown> = {}) => gitSourceOn(git, id, repo, format, extra);

function withState<T>(job: string, fn: (rows: ItemRow[], assets: (id: number) => AssetRow[]) => T): T {
  const state = te.openState(job);
  try {
    return fn(state.items(), (id) => state.assetsOf(id));
  } finally {
    state.close();
  }
}

const statesOf = (job: string, pkg: string) => withState(job, (rows) => Object.fromEntries(rows.filter((r) => r.package === pkg).map((r) => [r.version, r.state])));

describe('Python libraries over git+ssh into pypi-internal', () => {
  it('every version tag is built once, uploaded (sdist + wheel), verified, and installable with pip', async () => {
    const job = te.writeJob({
      name: 'py',
      sources: [gitSource('userpath', 'userpath', 'pypi', { package: 'userpath', tags: '{version}' }), gitSource('crashtest', 'crashtest', 'pypi', { package: 'crashtest', tags: '{version}' })],
    });
    const s = await te.run(job);
    expect(s.failures).toEqual([]);
    expect(s.exitCode, JSON.stringify({ ...s, states: undefined, outcomes: undefined }, null, 1).slice(0, 3000)).toBe(0);
    const userpath = statesOf('py', 'userpath');
    expect(Object.values(userpath).every((st) => st === 'verified' || st === 'skipped')).toBe(true);
    expect(Object.keys(userpath).length).toBeGreaterThan(5);
    // each version has an sdist and a wheel, uploaded once
    withState('py', (rows, assets) => {
      for (const r of rows.filter((x) => x.state === 'verified')) {
        const a = assets(r.id);
        expect(a.map((x) => x.name.endsWith('.whl') || x.name.endsWith('.tar.gz'))).toEqual(a.map(() => true));
        expect(a.every((x) => x.state === 'uploaded' && x.attempts === 1)).toBe(true);
      }
    });
    const uploads = te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload');
    const names = uploads.map((e) => `${e.package}@${e.version}`);
    expect(uploads.every((e) => e.status === 200)).toBe(true);
    expect(names.length).toBeGreaterThan(10);

    // pip gets the same bytes from the target's simple index
    const token = await te.targetToken();
    const dir = mkdtempSync(join(tmpdir(), 'cam-pip-'));
    try {
      const verified = withState('py', (rows) => rows.filter((r) => r.state === 'verified'));
      for (const r of verified.slice(0, 3)) {
        await run('/usr/bin/python3', ['-m', 'pip', 'download', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-deps', '--index-url', te.sandbox.standIn.pypiIndexUrl('pypi-internal', token), `${r.package}==${r.version}`, '-d', dir], { env: { PATH: '/usr/bin:/bin', HOME: dir } });
      }
      const got = readdirSync(dir).filter((f) => f.endsWith('.whl'));
      expect(got.length).toBe(3);
      withState('py', (rows, assets) => {
        for (const f of got) {
          const a = rows.flatMap((r) => assets(r.id)).find((x) => x.name === f)!;
          expect(a, f).toBeDefined();
          expect(createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')).toBe(a.sha256);
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // a rerun sends the target nothing and builds nothing
    const since = te.sandbox.standIn.log.length;
    const again = await te.run(job);
    expect(again.exitCode).toBe(0);
    expect(te.sandbox.standIn.log.length).toBe(since);
    expect(again.outcomes).toEqual({});
  });
});

describe('the Go module over git+ssh into the generic repository, served by cam goproxy', () => {
  it('every tag builds to the h1 hashes public go.sum files record, and go mod download through goproxy agrees', async () => {
    const job = te.writeJob({ name: 'go', sources: [gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid' })] });
    const s: RunSummary = await te.run(job);
    expect(s.failures).toEqual([]);
    expect(s.exitCode, JSON.stringify({ ...s, states: undefined }, null, 1).slice(0, 3000)).toBe(0);
    // the junk tags that match v{version} are skipped with their reason, not failed ('0.2' and '1.0.0' do not match)
    expect(s.skipped.map((k) => k.reason.match(/tag (\S+)\)/)?.[1]).sort()).toEqual(['v.1', 'v.1.1.2', 'v0', 'v0.1']);
    const facts = withState('go', (rows) => Object.fromEntries(rows.filter((r) => r.state === 'verified').map((r) => [r.version, JSON.parse(r.facts ?? '{}') as { h1: string; goModH1: string }])));
    expect(facts['v1.0.0']?.h1).toBe('h1:b4Gk+7WdP/d3HZH8EJsZpvV7EtDOgaZLtnaNGIu1adA=');
    expect(facts['v1.3.0']?.h1).toBe('h1:t6JiXgmwXMjEs8VusXIJk2BXHsn+wx8BZdTaoZ5fu7I=');
    expect(facts['v1.6.0']?.h1).toBe('h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=');
    const coords = goModuleToGeneric('github.com/google/uuid');
    expect(te.sandbox.standIn.versions('go-internal', 'generic', coords.namespace, coords.package).map((v) => v.status)).toEqual(Array(13).fill('Published'));

    const proxy = await startGoProxy({ job, codeartifactClient: te.client, port: 0 });
    const gopath = mkdtempSync(join(tmpdir(), 'cam-gopath-'));
    try {
      for (const v of ['v1.0.0', 'v1.3.0', 'v1.6.0']) {
        const { stdout } = await run('go', ['mod', 'download', '-json', `github.com/google/uuid@${v}`], {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: gopath, GOPATH: gopath, GOCACHE: join(gopath, 'cache'), GOPROXY: proxy.url, GOSUMDB: 'off', GOFLAGS: '-mod=mod' },
          cwd: gopath,
        });
        const d = JSON.parse(stdout) as { Sum: string; GoModSum: string };
        expect(d.Sum).toBe(facts[v]!.h1);
        expect(d.GoModSum).toBe(facts[v]!.goModH1);
      }
    } finally {
      await proxy.stop();
      await run('chmod', ['-R', 'u+w', gopath]).catch(() => {});
      rmSync(gopath, { recursive: true, force: true });
    }
  });

  it('v2.0.0 without go.mod, then v2.1.0 whose go.mod names /v2: run publishes v2.0.0+incompatible and the /v2 module, and goproxy lists neither v2 +incompatible, as go lists the repository from git', async () => {
    // `go list -m -versions` of this repository straight from git (go 1.19, GOPROXY=direct): `m v1.0.0` and `m/v2 v2.0.0 v2.1.0`
    // (the /v2 list is the tags, v2.0.0 among them; go then refuses it, having no go.mod); m@latest is v1.0.0
    const m = 'git.acme.example/wentv2';
    const dir = join(te.dir, 'wentv2-src');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'w.go'), 'package wentv2\n');
    await git.createRepoFromDir('wentv2', dir, { tags: ['v1.0.0'], date: '2024-05-01T10:00:00Z' });
    await git.tag('wentv2', 'v2.0.0', await git.commit('wentv2', { files: { 'w.go': 'package wentv2\n\n// 2\n' }, message: '2', date: '2024-05-02T10:00:00Z' }));
    await git.tag('wentv2', 'v2.1.0', await git.commit('wentv2', { files: { 'go.mod': `module ${m}/v2\n\ngo 1.19\n` }, message: '2.1', date: '2024-05-03T10:00:00Z' }));
    const job = te.writeJob({ name: 'wentv2', sources: [gitSource('wentv2', 'wentv2', 'go', { package: m })] });
    const s = await te.run(job);
    expect(s.exitCode, JSON.stringify(s.failures)).toBe(0);
    expect(withState('wentv2', (rows) => rows.filter((r) => r.state === 'verified').map((r) => `${r.package}@${r.version}`).sort())).toEqual([`${m}/v2@v2.1.0`, `${m}@v1.0.0`, `${m}@v2.0.0+incompatible`]);

    const proxy = await startGoProxy({ job, codeartifactClient: te.client, port: 0 });
    try {
      const list = async (mod: string) => (await fetch(`${proxy.url}/${mod}/@v/list`)).text();
      expect(await list(m)).toBe('v1.0.0\n');
      expect(await list(`${m}/v2`)).toBe('v2.1.0\n');
      expect(JSON.parse(await (await fetch(`${proxy.url}/${m}/@latest`)).text())).toMatchObject({ Version: 'v1.0.0' });
      // still there for a build pinned to it
      expect((await fetch(`${proxy.url}/${m}/@v/v2.0.0+incompatible.zip`)).status).toBe(200);
    } finally {
      await proxy.stop();
    }
  });

  it('the migrated versions are checked against the consumers\' go.sum files: a line that differs is a critical finding', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cam-gosum-'));
    try {
      // lines as public go.sum files record them (test/fixtures/git/SOURCES.md)
      const good = [
        'github.com/google/uuid v1.0.0 h1:b4Gk+7WdP/d3HZH8EJsZpvV7EtDOgaZLtnaNGIu1adA=',
        'github.com/google/uuid v1.0.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=',
        'github.com/google/uuid v1.3.0 h1:t6JiXgmwXMjEs8VusXIJk2BXHsn+wx8BZdTaoZ5fu7I=',
        'github.com/google/uuid v1.3.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=',
        'golang.org/x/sys v0.1.0 h1:kunALQeHf1/185U1i0GOB/fy1IPRDDpuoOOqRReG57U=',
      ];
      writeFileSync(join(dir, 'go.sum'), `${good.join('\n')}\n`);
      mkdirSync(join(dir, 'svc'));
      writeFileSync(join(dir, 'svc', 'go.sum'), 'github.com/google/uuid v1.6.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n');
      const clean = te.writeJob({ name: 'go', sources: [gitSource('uuid', 'uuid', 'go', { package: 'github.com/google/uuid' })] });
      const withSums = (patterns: string[]) => {
        writeFileSync(clean, readFileSync(clean, 'utf8').replace(/^goSum:.*\n(  - .*\n)*/m, '') + `goSum:\n${patterns.map((p) => `  - ${JSON.stringify(p)}`).join('\n')}\n`);
        return clean;
      };
      const ok = await te.run(withSums([join(dir, 'go.sum')]));
      expect(ok.exitCode).toBe(0);
      expect(ok.goSum).toEqual({ files: 1, checked: 4, mismatches: [], errors: [] });

      const bad = await te.run(withSums([join(dir, '**/go.sum')]));
      expect(bad.exitCode).toBe(1);
      expect(bad.goSum.files).toBe(2);
      expect(bad.goSum.mismatches).toEqual([
        { module: 'github.com/google/uuid', version: 'v1.6.0', file: join(dir, 'svc', 'go.sum'), line: 1, kind: 'zip', goSum: 'h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', built: 'h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=' },
      ]);

      writeFileSync(join(dir, 'svc', 'go.sum'), 'not a go.sum line\n');
      const broken = await te.run(withSums([join(dir, '**/go.sum')]));
      expect(broken.goSum.errors).toEqual([{ file: join(dir, 'svc', 'go.sum'), message: expect.stringContaining(`${join(dir, 'svc', 'go.sum')}:1`) }]);
      expect(broken.goSum.checked).toBe(4);
      expect(broken.exitCode).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
