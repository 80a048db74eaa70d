/**
 * git sources against a careless operator and a hostile repository: a relative
 * state dir, an operator's `core.autocrlf=true`, a repository that moved, two
 * tags spelling one version, an override keyed by another spelling (or by
 * nothing), a committed symlink pointing out of the checkout, and the ssh key
 * left on disk. Real sshd, real builds, the CodeArtifact stand-in.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFile, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../src/engine/events.js';
import { StateDb, type ItemRow } from '../src/state/db.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { gitSourceOn, HATCH, pyProject, type GitServer } from './support/git-server.js';
import { goneSoon, pidOfCommand } from './support/child.js';

const run = promisify(execFile);

/** A bundle of every ref of a bare repository. */
async function bundleOf(repo: string): Promise<string> {
  const file = join(te.dir, `${repo.replace(/\W+/g, '-')}.bundle`);
  await run('git', ['-C', repo, 'bundle', 'create', file, '--all']);
  return file;
}

let te: TestEnv;
let git: GitServer;


beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  // one small Python repository several tests run against: made here so each test stands alone (-t)
  await git.createRepoFromDir('rel', pyProject(join(te.dir, 'src-rel'), 'rel-lib', '1.0.0'), { tags: ['v1.0.0'] });
});
afterAll(() => stopTestEnvWithGit(git, te));

const gitSource = (id: string, repo: string, format: 'npm' | 'pypi' | 'go', extra: Record<string, unknown> = {}) => gitSourceOn(git, id, repo, format, extra);

function rows(job: string, stateDir?: string): ItemRow[] {
  const state = stateDir === undefined ? te.openState(job) : StateDb.open(join(stateDir, `${job}.sqlite`));
  try {
    return state.items();
  } finally {
    state.close();
  }
}

describe('the operator', () => {
  it('a relative --state-dir (the default is `state`) works: the mirror and the checkouts land where git can find them', async () => {
    const job = te.writeJob({ name: 'rel', sources: [gitSource('rel', 'rel', 'pypi', { package: 'rel-lib' })] });
    // the CLI runs in te.dir: `relative-state` is te.dir/relative-state
    const r = await te.cli(['--state-dir', 'relative-state', 'run', job, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as RunSummary).outcomes).toEqual({ published: 1 });
    expect(rows('rel', join(te.dir, 'relative-state')).map((x) => `${x.version}:${x.state}`)).toEqual(['1.0.0:verified']);
    // no nested state/git/state/git, no clone left behind
    expect(readdirSync(join(te.dir, 'relative-state', 'git'))).toEqual(['rel']);
    expect(readdirSync(join(te.dir, 'relative-state', 'git', 'rel'))).toEqual(['rel.git']);
  });

  it("core.autocrlf=true in the operator's git config changes no byte: a Go module built under it is identical to one built without", async () => {
    const mod = join(te.dir, 'src-crlf');
    mkdirSync(mod, { recursive: true });
    writeFileSync(join(mod, 'go.mod'), 'module example.com/crlf\n\ngo 1.19\n');
    writeFileSync(join(mod, 'crlf.go'), 'package crlf\n\n// Answer is the answer.\nconst Answer = 42\n');
    await git.createRepoFromDir('crlf', mod, { tags: ['v1.0.0'] });
    const source = gitSource('crlf', 'crlf', 'go', { package: 'example.com/crlf' });
    const clean = te.writeJob({ name: 'crlf-clean', sources: [source] });
    const first = await te.cli(['run', clean, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as RunSummary).outcomes).toEqual({ published: 1 });

    const home = join(te.dir, 'home-autocrlf');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.gitconfig'), '[core]\n\tautocrlf = true\n');
    const careless = te.writeJob({ name: 'crlf-careless', sources: [source] });
    const second = await te.cli(['run', careless, '--json'], { HOME: home });
    // the same zip: already there, identical (with CRLF endings it would be a conflict)
    expect(second.code, second.stderr).toBe(0);
    expect((JSON.parse(second.stdout) as RunSummary).outcomes).toEqual({ 'present-identical': 1 });
  });

  it('a repository that moved: the mirror follows the url the job gives now, and finds the tags there', async () => {
    const a = pyProject(join(te.dir, 'src-moved-a'), 'moved-lib', '1.0.0');
    await git.createRepoFromDir('moved-old', a, { tags: ['v1.0.0'] });
    // moved: the same history (the same commits) served from another place
    await git.createRepoFromBundle('moved-new', await bundleOf(git.repoPath('moved-old')));
    const first = te.writeJob({ name: 'moved', sources: [gitSource('moved', 'moved-old', 'pypi', { package: 'moved-lib' })] });
    expect((await te.run(first)).exitCode).toBe(0);
    // the new home has one more release
    await git.commit('moved-new', { message: '1.1.0', files: { 'pyproject.toml': HATCH('moved-lib', '1.1.0') } });
    await git.tag('moved-new', 'v1.1.0', 'HEAD', { annotated: false });
    const second = te.writeJob({ name: 'moved', sources: [gitSource('moved', 'moved-new', 'pypi', { package: 'moved-lib' })] });
    const s = await te.run(second);
    expect(s.exitCode, JSON.stringify({ failures: s.failures, tagMoved: s.tagMoved, removed: s.removedAtSource })).toBe(0);
    const r = rows('moved').map((x) => `${x.version}:${x.state}:${x.artifact_url.replace(/.*\//, '')}`);
    expect(r.sort()).toEqual(['1.0.0:verified:moved-new.git#v1.0.0', '1.1.0:verified:moved-new.git#v1.1.0']);
  });

  it('two jobs in one state directory that give the id `lib` to two repositories, run at once: each migrates its own, nothing fails', async () => {
    await git.createRepoFromDir('two-a', pyProject(join(te.dir, 'src-two-a'), 'two-a-lib', '1.0.0'), { tags: ['v1.0.0'] });
    await git.commit('two-a', { message: '1.1.0', files: { 'pyproject.toml': HATCH('two-a-lib', '1.1.0') } });
    await git.tag('two-a', 'v1.1.0', 'HEAD');
    await git.createRepoFromDir('two-b', pyProject(join(te.dir, 'src-two-b'), 'two-b-lib', '2.0.0'), { tags: ['v2.0.0'] });
    const a = te.writeJob({ name: 'two-a', sources: [gitSource('lib', 'two-a', 'pypi', { package: 'two-a-lib' })] });
    const b = te.writeJob({ name: 'two-b', sources: [gitSource('lib', 'two-b', 'pypi', { package: 'two-b-lib' })] });
    // two processes, as two operators (or one CI pipeline with two jobs) would run them
    for (let round = 0; round < 2; round++) {
      const [ra, rb] = await Promise.all([te.cli(['run', a, '--json']), te.cli(['run', b, '--json'])]);
      const [sa, sb] = [JSON.parse(ra.stdout) as RunSummary, JSON.parse(rb.stdout) as RunSummary];
      expect([ra.code, rb.code], `${ra.stderr}\n${rb.stderr}`).toEqual([0, 0]);
      expect([sa.listErrors, sb.listErrors, sa.failures, sb.failures]).toEqual([[], [], [], []]);
      expect([sa.outcomes, sb.outcomes]).toEqual(round === 0 ? [{ published: 2 }, { published: 1 }] : [{}, {}]);
    }
    expect(rows('two-a').map((r) => `${r.package}@${r.version}:${r.state}`).sort()).toEqual(['two-a-lib@1.0.0:verified', 'two-a-lib@1.1.0:verified']);
    expect(rows('two-b').map((r) => `${r.package}@${r.version}:${r.state}`)).toEqual(['two-b-lib@2.0.0:verified']);
    // each job's mirror holds its own repository's tags
    const tags = async (job: string) => (await run('git', ['-C', join(te.stateDir, 'git', job, 'lib.git'), 'tag', '--list'])).stdout.trim().split('\n');
    expect([await tags('two-a'), await tags('two-b')]).toEqual([['v1.0.0', 'v1.1.0'], ['v2.0.0']]);
  });

  it("a mirror where release 0.1 kept it (state/git/<id>.git) is taken over by the job, not cloned again", async () => {
    await git.createRepoFromDir('legacy', pyProject(join(te.dir, 'src-legacy'), 'legacy-lib', '1.0.0'), { tags: ['v1.0.0'] });
    const legacy = join(te.stateDir, 'git', 'legacy.git');
    await run('git', ['clone', '--mirror', '--quiet', git.repoPath('legacy'), legacy]);
    // what only the old mirror has: it is the one the job goes on with (a file, not a config
    // key: a mirror's config is written anew before each fetch)
    writeFileSync(join(legacy, 'cam-test-marker'), 'adopted\n');
    const job = te.writeJob({ name: 'legacy', sources: [gitSource('legacy', 'legacy', 'pypi', { package: 'legacy-lib' })] });
    const s = await te.run(job);
    expect(s.exitCode, JSON.stringify(s.failures)).toBe(0);
    expect(existsSync(legacy)).toBe(false);
    const mirror = join(te.stateDir, 'git', 'legacy', 'legacy.git');
    expect(readFileSync(join(mirror, 'cam-test-marker'), 'utf8').trim()).toBe('adopted');
    // and it follows the job's url (the test clone named a local path)
    expect((await run('git', ['-C', mirror, 'remote', 'get-url', 'origin'])).stdout.trim()).toBe(git.gitPlusSshUrl('legacy'));
  });
});

describe('the repository', () => {
  it("a repository naming another source's package in its go.mod is refused (ENAMECLAIMED), nothing of it published; the job's `package` confirms a shared name", async () => {
    const mod = (path: string) => ({ 'go.mod': `module ${path}\n\ngo 1.19\n`, 'lib.go': 'package victim\n' });
    const victim = join(te.dir, 'src-victim');
    mkdirSync(victim, { recursive: true });
    for (const [f, text] of Object.entries(mod('example.com/victim'))) writeFileSync(join(victim, f), text);
    await git.createRepoFromDir('victim', victim, { tags: ['v1.0.0'] });
    // whoever can push a tag to another repository claims the name, at a higher version
    const evil = join(te.dir, 'src-evil');
    mkdirSync(evil, { recursive: true });
    for (const [f, text] of Object.entries({ ...mod('example.com/victim'), 'lib.go': 'package victim // not the real one\n' })) writeFileSync(join(evil, f), text);
    await git.createRepoFromDir('evil', evil, { tags: ['v1.9.0'] });
    // a third repository, also without `package`, with a name of its own: unaffected
    const own = join(te.dir, 'src-own');
    mkdirSync(own, { recursive: true });
    for (const [f, text] of Object.entries(mod('example.com/own'))) writeFileSync(join(own, f), text);
    await git.createRepoFromDir('own', own, { tags: ['v0.1.0'] });

    const job = te.writeJob({ name: 'claimed', sources: [gitSource('victim', 'victim', 'go', { package: 'example.com/victim' }), gitSource('evil', 'evil', 'go'), gitSource('own', 'own', 'go')] });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.listErrors).toEqual([expect.objectContaining({ source: 'evil', package: 'example.com/victim', code: 'ENAMECLAIMED' })]);
    expect(s.listErrors[0]!.message).toMatch(/source\(s\) "victim" also hold/);
    expect(rows('claimed').map((r) => `${r.source_id}:${r.package}@${r.version}:${r.state}`).sort()).toEqual(['own:example.com/own@v0.1.0:verified', 'victim:example.com/victim@v1.0.0:verified']);
    expect(te.sandbox.standIn.log.filter((e) => e.operation === 'PublishPackageVersion' && e.query.version === 'v1.9.0')).toEqual([]);

    // two repositories that both only read the name: neither is believed
    const both = te.writeJob({ name: 'claimed-twice', sources: [gitSource('victim', 'victim', 'go'), gitSource('evil', 'evil', 'go')] });
    const t = await te.run(both);
    expect(t.listErrors.map((e) => `${e.source}:${e.code}`).sort()).toEqual(['evil:ENAMECLAIMED', 'victim:ENAMECLAIMED']);

    // the job says the repository publishes that name: listed and migrated as one package
    const confirmed = te.writeJob({ name: 'claimed', sources: [gitSource('victim', 'victim', 'go', { package: 'example.com/victim' }), gitSource('evil', 'evil', 'go', { package: 'example.com/victim' }), gitSource('own', 'own', 'go')] });
    const u = await te.run(confirmed);
    expect(u.listErrors).toEqual([]);
    expect(rows('claimed').filter((r) => r.version === 'v1.9.0').map((r) => `${r.source_id}:${r.state}`)).toEqual(['evil:verified']);
    // (the request log's filter above sees a publish of v1.9.0 when there is one)
    expect(te.sandbox.standIn.log.filter((e) => e.operation === 'PublishPackageVersion' && e.query.version === 'v1.9.0').length).toBeGreaterThan(0);
  });

  it('two tags spelling one version at different commits: that version is a problem naming both tags, never one picked in silence', async () => {
    const dir = pyProject(join(te.dir, 'src-twins'), 'twins-lib', '1.0rc1');
    await git.createRepoFromDir('twins', dir, { tags: ['v1.0rc1'] });
    await git.commit('twins', { message: 'again', files: { 'twins_lib/extra.py': 'X = 2\n' } });
    await git.tag('twins', 'v1.0-rc1', 'HEAD', { annotated: false });
    const job = te.writeJob({ name: 'twins', sources: [gitSource('twins', 'twins', 'pypi', { package: 'twins-lib', tags: 'v{version}' })] });
    const s = await te.run(job);
    expect(s.failures).toEqual([expect.objectContaining({ package: 'twins-lib', version: '1.0rc1', code: 'EBADSOURCE' })]);
    expect(s.failures[0]!.message).toMatch(/tags v1\.0-rc1 \([0-9a-f]{12}\), v1\.0rc1 \([0-9a-f]{12}\) all give version 1\.0rc1 at different commits/);
    expect(te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === 'twins-lib')).toEqual([]);
  });

  it('a tag pattern no tag matches (the repository tags release-1.0.0, the job says v{version}) is ESOURCEEMPTY naming the pattern and the tags, exit 1; a repository with no tags says so', async () => {
    await git.createRepoFromDir('released', pyProject(join(te.dir, 'src-released'), 'released-lib', '1.0.0'), { tags: ['release-1.0.0'] });
    await git.createRepoFromDir('untagged', pyProject(join(te.dir, 'src-untagged'), 'untagged-lib', '1.0.0'), { tags: [] });
    const job = te.writeJob({ name: 'patterns', sources: [gitSource('released', 'released', 'pypi', { package: 'released-lib' }), gitSource('untagged', 'untagged', 'pypi', { package: 'untagged-lib' })] });
    const s = await te.run(job);
    expect(s.exitCode).toBe(1);
    expect(s.listErrors.map((e) => [e.source, e.package, e.code]).sort()).toEqual([
      ['released', 'released-lib', 'ESOURCEEMPTY'],
      ['untagged', 'untagged-lib', 'ESOURCEEMPTY'],
    ]);
    expect(s.listErrors.find((e) => e.source === 'released')!.message).toContain('matches "v{version}" (the repository has 1 tag(s), such as release-1.0.0)');
    expect(s.listErrors.find((e) => e.source === 'untagged')!.message).toContain('the repository has no tags');
    // the pattern fixed: the release migrates
    const fixed = te.writeJob({ name: 'patterns', sources: [gitSource('released', 'released', 'pypi', { package: 'released-lib', tags: 'release-{version}' })] });
    const again = await te.run(fixed);
    expect(again.exitCode).toBe(0);
    expect(rows('patterns').filter((r) => r.source_id === 'released').map((r) => [r.version, r.state])).toEqual([['1.0.0', 'verified']]);
  });

  it('a build command fixed after a plan built the versions: what is not on the target yet is built again with it, what is stays; never the old build published', async () => {
    await git.createRepoFromDir('recipe', pyProject(join(te.dir, 'src-recipe'), 'recipe-lib', '1.0.0'), { tags: ['v1.0.0'] });
    const source = (build: Record<string, unknown>) => gitSource('recipe', 'recipe', 'pypi', { package: 'recipe-lib', build });
    const hashes = () => {
      const state = te.openState('recipe');
      try {
        return Object.fromEntries(state.assetsOf(state.items()[0]!.id).map((a) => [a.name, a.sha256]));
      } finally {
        state.close();
      }
    };
    // the plan (a dry run) builds with the default command
    const planned = await te.run(te.writeJob({ name: 'recipe', sources: [source({})] }), { dryRun: true });
    expect(planned.outcomes).toEqual({ 'would-publish': 1 });
    expect(rows('recipe')[0]!.state).toBe('fetched');
    const fromPlan = hashes();
    // the reviewer wants a file in the package the default build leaves out
    const fixed = ['/bin/sh', '-c', 'echo fixed > {srcdir}/recipe_lib/FIXED.txt && exec {python} -m build --no-isolation --skip-dependency-check --sdist --wheel --outdir {outdir} {srcdir}'];
    const s = await te.run(te.writeJob({ name: 'recipe', sources: [source({ command: fixed })] }));
    expect(s.exitCode, JSON.stringify(s.failures)).toBe(0);
    const fromRun = hashes();
    expect(Object.keys(fromRun).sort()).toEqual(Object.keys(fromPlan).sort());
    for (const name of Object.keys(fromRun)) expect(fromRun[name], name).not.toBe(fromPlan[name]);
    // what reached the target is the new build
    const uploaded = te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === 'recipe-lib' && e.status < 300);
    expect(uploaded).toHaveLength(2);
    const state = te.openState('recipe');
    try {
      const row = state.items()[0]!;
      expect(row.state).toBe('verified');
      expect(state.events(row.id).map((e) => e.detail)).toContainEqual(expect.stringContaining("the job's build settings for it changed since it was built (command): building it again"));
    } finally {
      state.close();
    }
    // on the target now: another change of the command rebuilds nothing and sends nothing
    const before = te.sandbox.standIn.log.length;
    const again = await te.run(te.writeJob({ name: 'recipe', sources: [source({})] }));
    expect(again.exitCode).toBe(0);
    expect(te.sandbox.standIn.log.slice(before).filter((e) => e.operation === 'pypi:Upload')).toEqual([]);
    expect(hashes()).toEqual(fromRun);
  });

  it('an override keyed by another spelling of the version (1.0-rc1 for 1.0rc1) applies; a key naming no tag stops the run (ECONFIG) before anything is built', async () => {
    const dir = pyProject(join(te.dir, 'src-spell'), 'spell-lib', '1.0rc1');
    await git.createRepoFromDir('spell', dir, { tags: ['v1.0rc1'] });
    const skipped = te.writeJob({ name: 'spell', sources: [gitSource('spell', 'spell', 'pypi', { package: 'spell-lib', versions: { '1.0-rc1': { skip: 'held back' } } })] });
    const s = await te.run(skipped);
    expect(s.exitCode).toBe(0);
    expect(rows('spell').map((x) => `${x.version}:${x.state}`)).toEqual(['1.0rc1:skipped']);
    expect(te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === 'spell-lib')).toEqual([]);

    const typo = te.writeJob({ name: 'spell-typo', sources: [gitSource('spell', 'spell', 'pypi', { package: 'spell-lib', versions: { '1.0.0rc1-typo': { skip: true } } })] });
    const r = await te.cli(['run', typo, '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as RunSummary;
    expect(out.listErrors).toEqual([expect.objectContaining({ source: 'spell', code: 'ECONFIG', message: expect.stringContaining('versions "1.0.0rc1-typo" in the job match no tag') })]);
    expect(te.sandbox.standIn.log.filter((e) => e.operation === 'pypi:Upload' && e.package === 'spell-lib')).toEqual([]);
  });

  it("a setup.py that writes where the tool runs git next (a hook in the mirror) or rewrites its job: it can write only its own folders; the next fetch runs no code of the tag's", async () => {
    const loot = join(te.dir, 'hook-loot');
    // what a hostile setup.py does: walk up from its checkout, plant a hook in every git folder it finds
    // (git runs reference-transaction on the next fetch, outside the build's namespaces, with the tool's
    // environment), and rewrite the job file it finds beside the state
    const setupPy = (version: string) => `import glob, os
from setuptools import setup
planted = []
for up in range(1, 7):
    base = os.path.abspath(os.path.join(os.getcwd(), *([".."] * up)))
    for hooks in glob.glob(os.path.join(base, "git", "*.git", "hooks")):
        try:
            p = os.path.join(hooks, "reference-transaction")
            with open(p, "w") as f:
                f.write("#!/bin/sh\\nenv >> ${loot}\\n")
            os.chmod(p, 0o755)
            planted.append(p)
        except OSError:
            pass
    for job in glob.glob(os.path.join(base, "*.yaml")):
        try:
            with open(job, "a") as f:
                f.write("# rewritten by a setup.py\\n")
            planted.append(job)
        except OSError:
            pass
open("planted.py", "w").write("PLANTED = %r\\n" % planted)
setup(name="hooked", version="${version}", py_modules=["planted"])
`;
    const dir = join(te.dir, 'src-hooked');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'setup.py'), setupPy('1.0.0'));
    await git.createRepoFromDir('hooked', dir, { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'hooked', sources: [gitSource('hooked', 'hooked', 'pypi', { package: 'hooked' })] });
    const jobText = readFileSync(job, 'utf8');
    const first = await te.run(job);
    expect(first.failures).toEqual([]);
    expect(rows('hooked').map((r) => [r.version, r.state])).toEqual([['1.0.0', 'verified']]);
    // a new tag: the next run fetches, and git would run the hook
    const sha = await git.commit('hooked', { files: { 'setup.py': setupPy('1.1.0') }, message: '1.1.0' });
    await git.tag('hooked', 'v1.1.0', sha);
    const second = await te.run(job);
    expect(second.failures).toEqual([]);
    expect(rows('hooked').map((r) => [r.version, r.state])).toEqual([['1.0.0', 'verified'], ['1.1.0', 'verified']]);
    expect(existsSync(loot)).toBe(false);
    expect(existsSync(join(te.stateDir, 'git', 'hooked', 'hooked.git', 'HEAD'))).toBe(true);
    expect(existsSync(join(te.stateDir, 'git', 'hooked', 'hooked.git', 'hooks', 'reference-transaction'))).toBe(false);
    expect(readFileSync(job, 'utf8')).toBe(jobText);
  });

  it('a hook in the mirror (what a build where no mount namespace is allowed could leave): the next fetch runs none', async () => {
    const loot = join(te.dir, 'mirror-hook-loot');
    const dir = pyProject(join(te.dir, 'src-mirror-hook'), 'mirror-hook', '1.0.0');
    await git.createRepoFromDir('mirror-hook', dir, { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'mirror-hook', sources: [gitSource('mirror-hook', 'mirror-hook', 'pypi', { package: 'mirror-hook' })] });
    expect((await te.run(job)).failures).toEqual([]);
    const hooks = join(te.stateDir, 'git', 'mirror-hook', 'mirror-hook.git', 'hooks');
    expect(existsSync(join(hooks, '..', 'HEAD'))).toBe(true);
    mkdirSync(hooks, { recursive: true });
    for (const hook of ['reference-transaction', 'post-checkout', 'pre-auto-gc', 'post-merge']) writeFileSync(join(hooks, hook), `#!/bin/sh\necho ${hook} >> ${loot}\n`, { mode: 0o755 });
    const sha = await git.commit('mirror-hook', { files: { 'README.md': 'next\n' }, message: 'next' });
    await git.tag('mirror-hook', 'v1.0.1', sha);
    const s = await te.run(job);
    // v1.0.1 was listed (the fetch ran); its build says 1.0.0, as the commit did not bump it
    expect(rows('mirror-hook').map((r) => r.version)).toContain('1.0.1');
    expect(s.failures.map((f) => f.code)).toEqual(['EVERSION']);
    expect(existsSync(loot) ? readFileSync(loot, 'utf8') : '').toBe('');
  });

  it('a committed symlink pointing out of the checkout: refused before the build (EBADSOURCE), nothing outside is touched; the ssh key is gone after the run', async () => {
    const outside = join(te.dir, 'outside-the-checkout');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'precious.txt'), 'do not touch\n');
    const before = new Date('2020-02-02T02:02:02Z');
    utimesSync(join(outside, 'precious.txt'), before, before);
    const dir = pyProject(join(te.dir, 'src-link'), 'link-lib', '1.0.0');
    symlinkSync(outside, join(dir, 'docs'));
    await git.createRepoFromDir('link', dir, { tags: ['v1.0.0'] });
    // the key as text: written for ssh while fetching only
    te.env.CAM_TEST_GIT_KEY_TEXT = readFileSync(git.clientKey, 'utf8');
    const job = te.writeJob({ name: 'link', sources: [gitSource('link', 'link', 'pypi', { package: 'link-lib', sshKeyEnv: 'CAM_TEST_GIT_KEY_TEXT' })] });
    const s = await te.run(job);
    // a backend would pack what the link points at (test/git-repository-hostile.test.ts)
    expect(s.failures).toEqual([expect.objectContaining({ package: 'link-lib', code: 'EBADSOURCE' })]);
    expect(statSync(join(outside, 'precious.txt')).mtime.toISOString()).toBe(before.toISOString());
    // where it was written (the sealed folder), and where releases before wrote it
    for (const tmp of [join(te.stateDir, 'tmp'), join(te.stateDir, 'tmp', 'cam-sealed')]) expect(existsSync(tmp) ? readdirSync(tmp).filter((f) => f.startsWith('ssh-key-')) : []).toEqual([]);
  });

  it("another job's ssh key, on disk while its fetch runs, is not read by this job's build running meanwhile in the same state directory (a setup.py searching the state's tmp folder)", async () => {
    // where both sides meet: the system's temp folder, which a build may write
    const sync = mkdtempSync(join(tmpdir(), 'cam-keyholder-'));
    const stateTmp = join(te.stateDir, 'tmp');
    try {
      // job A: its key given as text (written for ssh while git fetches), and a git that holds its clone
      // until job B's build has searched (bounded: a B that never comes lets A go on after two minutes)
      const bin = join(sync, 'bin');
      mkdirSync(bin);
      writeFileSync(
        join(bin, 'git'),
        `#!/bin/sh\ncase " $* " in *" clone "*|*" fetch "*) touch '${sync}/a-fetching'; i=0; while [ ! -e '${sync}/b-done' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; find '${stateTmp}' -name 'ssh-key-*' >> '${sync}/a-keys';; esac\nexec /usr/bin/git "$@"\n`,
        { mode: 0o755 },
      );
      const jobA = te.writeJob({ name: 'keyholder', sources: [gitSource('keyholder', 'rel', 'pypi', { package: 'rel-lib', sshKeyEnv: 'CAM_TEST_GIT_KEY_TEXT' })] });
      const a = te.cli(['run', jobA, '--json'], { CAM_TEST_GIT_KEY_TEXT: readFileSync(git.clientKey, 'utf8'), PATH: `${bin}:${process.env.PATH ?? ''}` });
      // job B: a tag whose setup.py, once A fetches, searches every file under the state's tmp folder for a private key
      const setupPy = [
        'import os, time',
        'from setuptools import setup',
        `sync, state_tmp = ${JSON.stringify(sync)}, ${JSON.stringify(stateTmp)}`,
        'for _ in range(600):',
        '    if os.path.exists(os.path.join(sync, "a-fetching")): break',
        '    time.sleep(0.1)',
        'seen = ["searched, A fetching: %s" % os.path.exists(os.path.join(sync, "a-fetching"))]',
        'for root, dirs, files in os.walk(state_tmp):',
        '    for f in files:',
        '        p = os.path.join(root, f)',
        '        try:',
        '            with open(p, "rb") as fh: data = fh.read(1 << 20)',
        '        except OSError:',
        '            continue',
        // the words split here, so this file itself is not found
        '        if b"PRIVATE" + b" KEY" in data: seen.append("read a key in " + p)',
        'with open(os.path.join(sync, "b-saw"), "a") as out: out.write("\\n".join(seen) + "\\n")',
        'open(os.path.join(sync, "b-done"), "w").close()',
        'setup(name="meanwhile-b", version="1.0.0", py_modules=["meanwhile_b"], description="searches")',
      ].join('\n');
      const dir = join(te.dir, 'src-meanwhile-b');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'setup.py'), `${setupPy}\n`);
      writeFileSync(join(dir, 'meanwhile_b.py'), 'X = 1\n');
      await git.createRepoFromDir('meanwhile-b', dir, { tags: ['v1.0.0'] });
      const jobB = te.writeJob({ name: 'meanwhile-b', sources: [gitSource('meanwhile-b', 'meanwhile-b', 'pypi', { package: 'meanwhile-b' })] });
      const b = await te.run(jobB);
      const ra = await a;
      expect(ra.code, ra.stderr).toBe(0);
      expect(b.failures).toEqual([]);
      const saw = readFileSync(join(sync, 'b-saw'), 'utf8');
      // B searched while A's key was on disk (A's git found it there when B was done)
      expect(saw).toContain('searched, A fetching: True');
      expect(readFileSync(join(sync, 'a-keys'), 'utf8')).toMatch(/ssh-key-keyholder-/);
      expect(saw).not.toContain('read a key');
    } finally {
      rmSync(sync, { recursive: true, force: true });
    }
  });

  it('an ssh key named by a relative path (CAM_KEY=deploy_key, from the folder the tool runs in) is the key ssh uses: git runs in the mirror, where that path names nothing', async () => {
    const key = join(te.dir, 'relative_deploy_key');
    writeFileSync(key, readFileSync(git.clientKey), { mode: 0o600 });
    await git.createRepoFromDir('relative-key', pyProject(join(te.dir, 'src-relative-key'), 'relative-key-lib', '1.0.0'), { tags: ['v1.0.0'] });
    const job = te.writeJob({ name: 'relative-key', sources: [gitSource('relative-key', 'relative-key', 'pypi', { package: 'relative-key-lib', sshKeyEnv: 'CAM_TEST_RELATIVE_KEY' })] });
    // the CLI runs in te.dir
    const r = await te.cli(['run', job, '--json'], { CAM_TEST_RELATIVE_KEY: 'relative_deploy_key' });
    expect(r.code, r.stderr).toBe(0);
    expect(rows('relative-key').map((x) => `${x.version}:${x.state}`)).toEqual(['1.0.0:verified']);
  });

  it('rewrite-lockfiles over a repository whose lockfile is a link out of the checkout: that file is an error and nothing of its target is shown', async () => {
    const secret = join(te.dir, 'operator-npmrc');
    // an .npmrc's token line, put together at run time (this file holds nothing a secret scanner takes for one)
    writeFileSync(secret, `-i https://registry.example/simple\n//npm.acme.example/:${['_auth', 'Token'].join('')}=s3cr3tT0kenValue123\n`);
    const dir = join(te.dir, 'src-lockfile-link');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'requirements-dev.txt'), '--index-url https://pypi.org/simple\nsix==1.16.0\n');
    symlinkSync(secret, join(dir, 'requirements.txt'));
    await git.createRepoFromDir('lockfile-link', dir);
    const job = te.writeJob({ name: 'rewrite-link', sources: [gitSource('rel', 'rel', 'pypi', { package: 'rel-lib' })] });
    const doc = (await import('yaml')).parse(readFileSync(job, 'utf8')) as Record<string, unknown>;
    doc.warm = { repositories: [{ url: git.gitPlusSshUrl('lockfile-link'), sshKeyEnv: 'CAM_TEST_GIT_KEY', knownHostsFile: git.knownHosts }] };
    writeFileSync(job, (await import('yaml')).stringify(doc));
    const r = await te.cli(['rewrite-lockfiles', job, '--json']);
    expect(r.stdout + r.stderr).not.toContain('s3cr3t');
    const out = JSON.parse(r.stdout) as { errors: { path: string; message: string }[] };
    expect(out.errors).toEqual([expect.objectContaining({ message: expect.stringContaining('outside the repository') })]);
  });

  it('a build that hangs, then Ctrl-C twice (the tool exits at once): the build\'s process group dies with the tool', async () => {
    const dir = pyProject(join(te.dir, 'src-hang'), 'hang-lib', '1.0.0');
    await git.createRepoFromDir('hang', dir, { tags: ['v1.0.0'] });
    // a build command that never ends, in its own session as every build is: Ctrl-C never reaches it
    const job = te.writeJob({ name: 'hang', sources: [gitSource('hang', 'hang', 'pypi', { package: 'hang-lib', build: { command: '/bin/sleep 3171' } })] });
    const child = te.spawnCli(['run', job, '--json']);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    // found in this machine's /proc (the build has one of its own namespace); the run clones and checks out first
    const pid = await pidOfCommand(['/bin/sleep', '3171'], 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${stderr}`);
    });
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    // the exit handler's SIGKILL is synchronous; the kernel reaps it at once (a bounded wait, not a timing assertion)
    const gone = await goneSoon(pid);
    if (!gone) process.kill(pid, 'SIGKILL');
    expect(gone).toBe(true);
  });

  it("what a killed run left (its ssh key, checkouts, build folders and scratch, an npm install's sealed cache, a half-cloned mirror) is removed by the next run; a live process's is kept", async () => {
    const dead = await new Promise<number>((res) => {
      const p = spawn('/bin/true');
      p.on('exit', () => res(p.pid!));
    });
    const live = process.pid;
    const tmp = join(te.stateDir, 'tmp');
    const gitDir = join(te.stateDir, 'git');
    mkdirSync(tmp, { recursive: true });
    mkdirSync(gitDir, { recursive: true });
    mkdirSync(join(tmp, 'cam-sealed'), { recursive: true });
    const left = [join(tmp, `ssh-key-old-${dead}`), join(tmp, `ssh-key-warm-0123abcd-${dead}`), join(tmp, 'cam-sealed', `ssh-key-job-lib-${dead}`), join(tmp, 'cam-sealed', `ssh-key-warm-job-0123abcd-${dead}`)];
    for (const f of left) writeFileSync(f, 'a key file left behind\n', { mode: 0o600 });
    const folders = [join(tmp, `checkout-old-${dead}-abc123`), join(tmp, `build-${dead}-zz9`), join(tmp, `warm-checkout-${dead}-q1`), join(tmp, `scratch-${dead}-Ab3xYz`), join(tmp, 'cam-sealed', `install-${dead}-Zz9q`), join(gitDir, `old.git.partial-${dead}`), join(gitDir, 'a-job', `lib.git.partial-${dead}`)];
    for (const d of folders) mkdirSync(join(d, 'inner'), { recursive: true });
    const kept = [join(tmp, `ssh-key-busy-${live}`), join(tmp, 'cam-sealed', `ssh-key-busy-lib-${live}`), join(tmp, `checkout-busy-${live}-abc123`), join(tmp, `scratch-${live}-Qq7zzz`), join(tmp, 'cam-sealed', `install-${live}-Kk1`)];
    for (const k of kept) mkdirSync(k, { recursive: true });
    const job = te.writeJob({ name: 'rel-again', sources: [gitSource('rel', 'rel', 'pypi', { package: 'rel-lib' })] });
    const s = await te.run(job);
    expect(s.exitCode, JSON.stringify(s.failures)).toBe(0);
    expect([...left, ...folders].filter((f) => existsSync(f))).toEqual([]);
    expect(kept.filter((f) => existsSync(f))).toEqual(kept);
  });

  it("a state directory whose scratch folder cannot be made (a file in its place) stops the run as this machine's ELOCAL naming it, not a CodeArtifact failure per version", async () => {
    const job = te.writeJob({ name: 'no-scratch', sources: [gitSource('rel', 'rel', 'pypi', { package: 'rel-lib' })] });
    const scratch = join(te.stateDir, 'tmp');
    mkdirSync(te.stateDir, { recursive: true });
    rmSync(scratch, { recursive: true, force: true });
    writeFileSync(scratch, 'in the way\n');
    try {
      const r = await te.cli(['run', job, '--json'], {});
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`error ELOCAL: .*${scratch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      expect(r.stderr).not.toMatch(/ETARGET\b/);
      expect(readFileSync(scratch, 'utf8')).toBe('in the way\n');
    } finally {
      rmSync(scratch, { force: true });
    }
  });

  it('a full disk while git clones the mirror is a local error (ELOCAL), tried once, never blamed on the repository', async () => {
    const bin = join(te.dir, 'full-disk-bin');
    mkdirSync(bin, { recursive: true });
    const calls = join(bin, 'clones');
    // git as it answers when the state directory's disk is full
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\ncase " $* " in *" clone "*) echo clone >> '${calls}'; echo "fatal: write error: No space left on device" >&2; exit 128;; esac\nexec /usr/bin/git "$@"\n`,
      { mode: 0o755 },
    );
    const job = te.writeJob({ name: 'full-disk', sources: [gitSource('full', 'rel', 'pypi', { package: 'rel-lib' })] });
    const r = await te.cli(['run', job, '--json'], { PATH: `${bin}:${process.env.PATH ?? ''}` });
    // as the blob store's full disk: the run stops, exit 1, the local error named
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error ELOCAL: full: .*No space left on device/);
    expect(r.stderr).not.toMatch(/retry \d+ for full|ESOURCE/);
    expect(readFileSync(calls, 'utf8')).toBe('clone\n');
  });

  /** A git on PATH that answers `clone` with `said` on stderr and exit 128 (recording each call), and runs the real git otherwise. */
  function gitSaying(name: string, said: string): { PATH: string; calls: string } {
    const bin = join(te.dir, `${name}-bin`);
    mkdirSync(bin, { recursive: true });
    const calls = join(bin, 'clones');
    writeFileSync(join(bin, 'git'), `#!/bin/sh\ncase " $* " in *" clone "*) echo clone >> '${calls}'; ${said.split('\n').map((l) => `echo ${JSON.stringify(l)} >&2`).join('; ')}; exit 128;; esac\nexec /usr/bin/git "$@"\n`, { mode: 0o755 });
    return { PATH: `${bin}:${process.env.PATH ?? ''}`, calls };
  }

  it("the git server's own full disk (a `remote:` line) is the source's failure, not this machine's: no ELOCAL sending the operator to free space here", async () => {
    const { PATH } = gitSaying('server-full', 'remote: fatal: write error: No space left on device\nfatal: early EOF');
    const job = te.writeJob({ name: 'server-full', sources: [gitSource('server-full', 'rel', 'pypi', { package: 'rel-lib' })], limits: { retries: 0 } });
    const r = await te.cli(['run', job, '--json'], { PATH });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/ELOCAL|free space under the state directory/);
    const s = JSON.parse(r.stdout) as RunSummary;
    // the listing failed (the mirror could not be cloned): the source's, said so
    expect(s.listErrors).toEqual([expect.objectContaining({ source: 'server-full', code: 'ESOURCE', message: expect.stringMatching(/git server says its own disk is full.*tell the git server's owners/) })]);
  });

  it('a read-only state directory under git is ELOCAL that says read-only, not "free space"', async () => {
    const { PATH } = gitSaying('read-only', "fatal: could not create leading directories of 'x': Read-only file system");
    const job = te.writeJob({ name: 'read-only-git', sources: [gitSource('read-only-git', 'rel', 'pypi', { package: 'rel-lib' })] });
    const r = await te.cli(['run', job, '--json'], { PATH });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error ELOCAL: read-only-git: .*Read-only file system/);
    expect(r.stderr).toMatch(/read-only/i);
    expect(r.stderr).not.toMatch(/free space/);
  });
});
