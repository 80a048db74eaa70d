/**
 * EUNRESOLVABLEDEP: migrated versions whose own metadata names dependencies a consumer installing
 * from CodeArtifact cannot resolve there. Real artifacts: an npm tarball served by Verdaccio with a
 * `file:` and a `git+ssh://` dependency, a Python tag built by hatchling with `name @ git+ssh://…`,
 * a Go tag whose go.mod replaces a module with `../x`. The plan JSON and the run summary name each
 * version and dependency, credentials masked; clean versions give nothing; bytes go as they are.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanSummary } from '../src/cli/run.js';
import type { RunSummary } from '../src/engine/events.js';
import type { Report } from '../src/report/model.js';
import { gitSourceOn, type GitServer } from './support/git-server.js';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { BlobStore } from '../src/state/blobs.js';
import { makeTarball, publishVersion } from './support/npm-fixtures.js';

let te: TestEnv;
let git: GitServer;

const SECRET = 'hunter2hunter2';

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  const d = te.sandbox.descriptor;
  const token = te.env[d.privateNpm.tokenEnv]!;
  const loose = {
    name: '@acme/loose',
    version: '1.0.0',
    main: 'index.js',
    license: 'MIT',
    dependencies: { 'local-lib': 'file:../local-lib', tooling: 'git+ssh://git@git.acme.example/acme/tooling.git#v1.2.0', lodash: '^4.17.21' },
    optionalDependencies: { secretive: `git+https://deploy:${SECRET}@git.acme.example/acme/secretive.git` },
    peerDependencies: { react: '^18' },
    devDependencies: { 'dev-only': 'file:../dev-only' },
  };
  await publishVersion(d.privateNpm.url, token, '@acme/loose', '1.0.0', await makeTarball('@acme/loose', '1.0.0', { extraFiles: { 'package.json': JSON.stringify(loose) } }));
  const clean = { name: '@acme/tidy', version: '1.0.0', main: 'index.js', license: 'MIT', dependencies: { lodash: '^4.17.21', '@acme/loose': '1.0.0' }, devDependencies: { x: 'file:../x' } };
  await publishVersion(d.privateNpm.url, token, '@acme/tidy', '1.0.0', await makeTarball('@acme/tidy', '1.0.0', { extraFiles: { 'package.json': JSON.stringify(clean) } }));
  // a version with a git dependency whose blob an operator deletes (not checked: never said clean, never said loose)
  const lost = { name: '@acme/lost', version: '1.0.0', main: 'index.js', license: 'MIT', dependencies: { gitty: 'github:acme/gitty' } };
  await publishVersion(d.privateNpm.url, token, '@acme/lost', '1.0.0', await makeTarball('@acme/lost', '1.0.0', { extraFiles: { 'package.json': JSON.stringify(lost) } }));

  // a Python tag whose pyproject depends on a git URL (hatchling needs to be told it may)
  const py = join(te.dir, 'src-pydirect');
  mkdirSync(join(py, 'pydirect'), { recursive: true });
  writeFileSync(
    join(py, 'pyproject.toml'),
    '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n[project]\nname = "pydirect"\nversion = "1.0.0"\ndescription = "fixture"\ndependencies = ["helper @ git+ssh://git@git.acme.example/acme/helper.git@v1", "requests>=2"]\n\n[tool.hatch.metadata]\nallow-direct-references = true\n\n[tool.hatch.build.targets.wheel]\npackages = ["pydirect"]\n',
  );
  writeFileSync(join(py, 'pydirect', '__init__.py'), 'VERSION = "1.0.0"\n');
  await git.createRepoFromDir('pydirect', py, { tags: ['v1.0.0'] });

  // a Go tag whose go.mod replaces a module with a folder beside it; another whose replace names a module version (resolvable)
  const go = join(te.dir, 'src-goreplace');
  mkdirSync(go, { recursive: true });
  writeFileSync(join(go, 'go.mod'), 'module example.com/goreplace\n\ngo 1.19\n\nrequire example.com/lib v1.0.0\n\nreplace example.com/lib => ../lib // the monorepo sibling\n\nreplace (\n\texample.com/other v1.0.0 => example.com/fork v1.1.0\n)\n');
  writeFileSync(join(go, 'goreplace.go'), 'package goreplace\n');
  await git.createRepoFromDir('goreplace', go, { tags: ['v1.0.0'] });
  const goClean = join(te.dir, 'src-goclean');
  mkdirSync(goClean, { recursive: true });
  writeFileSync(join(goClean, 'go.mod'), 'module example.com/goclean\n\ngo 1.19\n\nrequire example.com/goreplace v1.0.0\n\nreplace example.com/other v1.0.0 => example.com/fork v1.1.0\n');
  writeFileSync(join(goClean, 'goclean.go'), 'package goclean\n');
  await git.createRepoFromDir('goclean', goClean, { tags: ['v1.0.0'] });
}, 300_000);
afterAll(() => stopTestEnvWithGit(git, te));

const finding = (r: Report) => r.findings.find((f) => f.code === 'EUNRESOLVABLEDEP');

describe('an npm registry package whose package.json names a file: and a git+ssh dependency', () => {
  it('the plan JSON and the run summary name the version and each dependency (not devDependencies), credentials masked; the clean package gives none; the bytes go as they are', async () => {
    const job = te.writeJob({ name: 'npmdeps', privateNpm: { packages: ['@acme/loose', '@acme/tidy'] }, github: false });
    const plan = await te.cli(['plan', job, '--json']);
    const report = JSON.parse(plan.stdout) as Report;
    const f = finding(report);
    expect(f, plan.stdout.slice(0, 2000)).toMatchObject({ severity: 'warning', section: 'source', count: 1 });
    expect(f!.subjects).toHaveLength(1);
    const line = f!.subjects[0]!;
    expect(line.startsWith('@acme/loose@1.0.0: ')).toBe(true);
    expect(line).toContain('local-lib → file:../local-lib');
    expect(line).toContain('tooling → git+ssh://git@git.acme.example/acme/tooling.git#v1.2.0');
    expect(line).toContain('secretive → git+https://***@git.acme.example/acme/secretive.git (optionalDependencies)');
    expect(line).not.toContain('dev-only');
    expect(line).not.toContain('lodash');
    expect(line).not.toContain('react');
    expect(plan.stdout).not.toContain(SECRET);
    expect(f!.action).toContain('depends on it by version');
    expect(JSON.stringify(f)).not.toContain('@acme/tidy');
    expect(f!.detail).not.toContain('go ignores');
    expect(f!.detail).not.toMatch(/; ;/);

    const s = await te.run(job);
    expect(s.failures).toEqual([]);
    expect(s.exitCode).toBe(0);
    expect(s.unresolvableDeps).toEqual([{ package: '@acme/loose', version: '1.0.0', dependencies: ['local-lib → file:../local-lib', 'tooling → git+ssh://git@git.acme.example/acme/tooling.git#v1.2.0', 'secretive → git+https://***@git.acme.example/acme/secretive.git (optionalDependencies)'] }]);
    // never in the state either; both published as they are (verified against the source's hashes)
    const state = te.openState('npmdeps');
    try {
      expect(state.items().map((r) => [r.package, r.state])).toEqual([['@acme/loose', 'verified'], ['@acme/tidy', 'verified']]);
      expect(JSON.stringify(state.items())).not.toContain(SECRET);
    } finally {
      state.close();
    }
    // said on every run (the human summary of a rerun that does nothing), and in the run report
    const again = await te.cli(['run', job]);
    expect(again.code).toBe(0);
    const rerun = JSON.parse(again.stdout) as RunSummary;
    expect(rerun.outcomes).toEqual({});
    expect(rerun.unresolvableDeps).toEqual(s.unresolvableDeps);
    const human = humanSummary(rerun);
    expect(human).toContain('WARNING @acme/loose@1.0.0 depends on what a consumer installing from CodeArtifact cannot resolve there (EUNRESOLVABLEDEP): local-lib → file:../local-lib; tooling → git+ssh://');
    expect(human).not.toContain('@acme/tidy');
    const rep = await te.cli(['report', job, '--json']);
    expect(finding(JSON.parse(rep.stdout) as Report)?.subjects).toEqual([line]);
  });
});

describe('git tags: a Python direct reference, a Go replace with a local folder', () => {
  it('the plan JSON and the run summary name both; a replace naming a module version gives none', async () => {
    const job = te.writeJob({
      name: 'gitdeps',
      sources: [
        gitSourceOn(git, 'pydirect', 'pydirect', 'pypi', { package: 'pydirect', tags: 'v{version}' }),
        gitSourceOn(git, 'goreplace', 'goreplace', 'go', { package: 'example.com/goreplace', tags: 'v{version}' }),
        gitSourceOn(git, 'goclean', 'goclean', 'go', { package: 'example.com/goclean', tags: 'v{version}' }),
      ],
    });
    const plan = await te.cli(['plan', job, '--json']);
    const f = finding(JSON.parse(plan.stdout) as Report);
    expect(f, plan.stdout.slice(0, 3000)).toMatchObject({ severity: 'warning', code: 'EUNRESOLVABLEDEP', count: 2 });
    expect([...f!.subjects].sort()).toEqual(['example.com/goreplace@v1.0.0: replace example.com/lib => ../lib', 'pydirect@1.0.0: helper @ git+ssh://git@git.acme.example/acme/helper.git@v1']);
    expect(f!.detail).toContain('go ignores replace in a dependency');

    const s = await te.run(job);
    expect(s.failures).toEqual([]);
    expect(s.exitCode).toBe(0);
    expect([...s.unresolvableDeps].sort((a, b) => a.package.localeCompare(b.package))).toEqual([
      { package: 'example.com/goreplace', version: 'v1.0.0', dependencies: ['replace example.com/lib => ../lib'] },
      { package: 'pydirect', version: '1.0.0', dependencies: ['helper @ git+ssh://git@git.acme.example/acme/helper.git@v1'] },
    ]);
  });
});

describe('a state made by a release before the check (no facts.unresolvable on any row)', () => {
  it('a rerun checks the fetched versions from the blob store (the loose one said, the clean one recorded clean) and sends the target nothing; one whose blob is gone stays unchecked and is counted, in the summary and the report', async () => {
    const job = te.writeJob({ name: 'olddeps', privateNpm: { packages: ['@acme/loose', '@acme/tidy', '@acme/lost'] }, github: false });
    const first = await te.run(job);
    expect(first.failures).toEqual([]);
    expect(first.exitCode).toBe(0);
    expect(first.unresolvableUnchecked).toBe(0);
    let state = te.openState('olddeps');
    const facts = () => Object.fromEntries(state.items().map((r) => [r.package, r.facts === null ? null : (JSON.parse(r.facts) as { unresolvable?: unknown }).unresolvable ?? 'absent']));
    let lostSha512: string;
    let states: string[];
    try {
      states = state.items().map((r) => `${r.package} ${r.state} ${r.updated_at}`);
      // checked and clean is recorded as such, not as nothing
      expect(facts()).toMatchObject({ '@acme/tidy': [], '@acme/lost': [expect.objectContaining({ name: 'gitty', kind: 'git' })] });
      lostSha512 = state.items().find((r) => r.package === '@acme/lost')!.sha512!;
      // what an earlier release left: npm registry rows without facts, one with other facts and no record
      state.db.prepare("UPDATE items SET facts = NULL WHERE package IN ('@acme/loose', '@acme/lost')").run();
      state.db.prepare(`UPDATE items SET facts = '{"other":1}' WHERE package = '@acme/tidy'`).run();
    } finally {
      state.close();
    }
    // an operator cleared part of the blob store
    rmSync(new BlobStore(join(te.stateDir, 'blobs')).pathOf(lostSha512));
    const logBefore = te.sandbox.standIn.log.length;

    const again = await te.cli(['run', job]);
    expect(again.code, again.stderr).toBe(0);
    const rerun = JSON.parse(again.stdout) as RunSummary;
    expect(rerun.outcomes).toEqual({});
    // the target was sent nothing: the check reads the state's own files
    expect(te.sandbox.standIn.log.length).toBe(logBefore);
    expect(rerun.unresolvableDeps).toEqual(first.unresolvableDeps.filter((u) => u.package === '@acme/loose'));
    expect(rerun.unresolvableUnchecked).toBe(1);
    expect(humanSummary(rerun)).toContain('WARNING 1 version(s) fetched by an earlier release not checked for dependencies');
    state = te.openState('olddeps');
    try {
      expect(facts()).toEqual({ '@acme/loose': expect.arrayContaining([expect.objectContaining({ name: 'local-lib', kind: 'file' })]), '@acme/tidy': [], '@acme/lost': null });
      // the other facts kept; a facts update, not a transition: the rows' history and times unchanged
      expect(JSON.parse(state.items().find((r) => r.package === '@acme/tidy')!.facts!)).toEqual({ other: 1, unresolvable: [] });
      expect(state.items().map((r) => `${r.package} ${r.state} ${r.updated_at}`)).toEqual(states);
    } finally {
      state.close();
    }

    // the reports say what was not checked, and name only what was found
    for (const cmd of [['report', job, '--json'], ['plan', job, '--json']]) {
      const out = await te.cli(cmd);
      const r = JSON.parse(out.stdout) as Report;
      expect(finding(r)?.subjects, cmd[0]).toEqual([expect.stringMatching(/^@acme\/loose@1\.0\.0: /)]);
      expect(r.findings.find((f) => f.code === 'EDEPSUNCHECKED'), cmd[0]).toMatchObject({ severity: 'warning', count: 1, subjects: ['@acme/lost@1.0.0'] });
      expect(r.verdict.status, cmd[0]).not.toBe('go');
    }
  });
});
