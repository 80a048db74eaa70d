/**
 * What CodeArtifact itself refuses, found before anything is sent: values the service model
 * (botocore `codeartifact/2018-09-22/service-2.json`) does not accept would be refused by
 * real AWS with a ValidationException, after part of a version may already have landed.
 * Real runs against the sandbox (the stand-in enforces the model's constraints) over a real
 * git server.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitTestEnv, stopTestEnvWithGit, type TestEnv } from './support/harness.js';
import { gitSourceOn, type GitServer } from './support/git-server.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let git: GitServer;

/**
 * A Go version whose `.zip` and `.mod` asset names fit in 255 characters but whose `.info`
 * does not (model: PackageVersion and AssetName, at most 255 characters each).
 */
const LONG = `v1.0.1-${'a'.repeat(244)}`;
/** A Go version CodeArtifact holds (its `.info` is 245 characters), longer than the builder's temporary file names could be. */
const MID = `v1.0.2-${'c'.repeat(233)}`;
/** A v2 tag of a module without go.mod is `+incompatible` to go: 245 characters as tagged, 258 as a version. */
const LONG_V2 = `v2.0.0-${'b'.repeat(238)}`;

beforeAll(async () => {
  ({ te, git } = await startGitTestEnv());
  const dir = join(te.dir, 'longver-src');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'go.mod'), 'module git.acme.example/longver\n\ngo 1.19\n');
  writeFileSync(join(dir, 'longver.go'), 'package longver\n');
  const bare = await git.createRepoFromDir('longver', dir, { tags: ['v1.0.0', MID], date: '2024-05-01T10:00:00Z' });
  // a tag file name of 251 characters and `.lock` is more than a file name holds: packed-refs hold any (as a server's do)
  appendFileSync(join(bare, 'packed-refs'), `${await git.revParse('longver', 'v1.0.0')} refs/tags/${LONG}\n`);
  const v2 = join(te.dir, 'incompat-src');
  mkdirSync(v2, { recursive: true });
  writeFileSync(join(v2, 'incompat.go'), 'package incompat\n');
  await git.createRepoFromDir('incompat', v2, { tags: ['v1.0.0', LONG_V2], date: '2024-05-01T10:00:00Z' });
}, 120_000);
afterAll(() => stopTestEnvWithGit(git, te));

describe('a version longer than CodeArtifact holds', () => {
  it(`a Go tag of ${LONG.length} characters (its ${LONG.length + 5}-character .info asset name is more than the model's 255) is never sent: no half version is left Unfinished on the target, and the run says which version and why`, async () => {
    expect(LONG.length).toBe(251);
    const job = te.writeJob({
      name: 'go-longver',
      sources: [
        gitSourceOn(git, 'longver', 'longver', 'go', { tags: 'v{version}' }),
        gitSourceOn(git, 'incompat', 'incompat', 'go', { tags: 'v{version}', package: 'git.acme.example/incompat' }),
      ],
    });
    const s = await te.run(job);
    const publishes = te.sandbox.standIn.log.filter((e) => e.operation === 'PublishPackageVersion');
    // the short versions went up whole
    expect(publishes.filter((e) => e.query.version === 'v1.0.0' && e.status === 200)).toHaveLength(6);
    // so did the one of 240 characters, under its own asset names
    expect(publishes.filter((e) => e.query.version === MID && e.status === 200).map((e) => e.query.asset)).toEqual([`${MID}.zip`, `${MID}.mod`, `${MID}.info`]);
    expect(s.failures.filter((f) => f.version === MID || f.version === 'v1.0.0')).toEqual([]);
    // the long ones: not a byte of them, and nothing CodeArtifact refuses as invalid
    expect(publishes.filter((e) => e.query.version !== 'v1.0.0' && e.query.version !== MID).map((e) => `${e.query.asset} ${e.status}`)).toEqual([]);
    expect(te.sandbox.standIn.log.filter((e) => e.status === 400).map((e) => e.operation)).toEqual([]);
    for (const v of [LONG, `${LONG_V2}+incompatible`]) {
      const failure = s.failures.find((f) => f.version === v);
      expect(failure?.code, v.slice(0, 20)).toBe('EBADSOURCE');
      expect(failure?.message).toContain('255');
    }
  });
});

describe('an npm version longer than CodeArtifact holds', () => {
  it('a registry version of 256 characters (semver takes it, the model stops at 255) is never sent: EBADSOURCE naming it and the limit, the other versions migrate', async () => {
    const long = `1.0.1-${'d'.repeat(250)}`;
    expect(long.length).toBe(256);
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: 'aws-limit-npm', versions: ['1.0.0', long] }]);
    const s = await te.run(te.writeJob({ name: 'npm-longver', privateNpm: { packages: ['aws-limit-npm'] }, github: false }));
    const publishes = te.sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish' && e.package === 'aws-limit-npm');
    expect(publishes.map((e) => `${e.version} ${e.status}`)).toEqual(['1.0.0 200']);
    const failure = s.failures.find((f) => f.version === long);
    expect(failure?.code).toBe('EBADSOURCE');
    expect(failure?.message).toContain('255');
    expect(s.exitCode).toBe(1);
  });
});
