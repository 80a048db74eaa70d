/**
 * `cam warm` and a company's registries it must not take for public ones: a requirements
 * file's company index written as pip reads it (abbreviated, quoted, the last of a line, in
 * an include, from the environment), and a company registry on the public registry's host
 * at another path (an Artifactory's npm-private beside its npm-remote). Each was taken for
 * public and its packages requested through a store by name: the store would pull in a
 * public package of that name (dependency confusion).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { throughStore, warmInProcess, writeWarmJob } from './support/warm-run.js';

let te: TestEnv;
const COMPANY = 'https://pypi.acme.example/simple';

/** A job whose warm reads `files` (path under the job's folder -> text); `lockfiles` are the warm's entries. */
const job = (name: string, files: Record<string, string>, lockfiles: string[], publicNpm?: string) => writeWarmJob(te, name, files, lockfiles, { publicNpm });

const warm = (file: string) => warmInProcess(file, { env: te.env, stateDir: te.stateDir, codeartifactClient: te.client });

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
  // the stores keep the job's internal name out first: warm refuses before
  const h = await te.cli(['harden', job('harden', {}, [])]);
  expect(h.code, h.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await te?.stop();
});

describe("warm and a company's registries written as their tools read them", () => {
  it("a requirements file's company index, abbreviated, quoted, last of a line, in an include or from the environment: its pins are private, never requested through pypi-store", async () => {
    const files = {
      'abbr/requirements.txt': `--index ${COMPANY}\ncorp-abbr==1.0.0\n`,
      'alias/requirements.txt': `--py=${COMPANY}\ncorp-alias==1.0.0\n`,
      'quoted/requirements.txt': `--index-url "${COMPANY}"\ncorp-quoted==1.0.0\n`,
      'last/requirements.txt': `-i https://pypi.org/simple --index-url ${COMPANY}\ncorp-last==1.0.0\n`,
      'include/requirements.txt': '--requirem "my base.txt"\ncorp-include==1.0.0\n',
      'include/my base.txt': `--index-url ${COMPANY}\n`,
      'env/requirements.txt': '--index-url ${IDX}/simple\ncorp-env==1.0.0\n',
      'public/requirements.txt': 'plain-public==1.0.0\n',
    };
    const lockfiles = Object.keys(files).filter((f) => f.endsWith('requirements.txt'));
    const since = te.sandbox.standIn.log.length;
    const r = await warm(job('pyidx', files, lockfiles));
    const log = te.sandbox.standIn.log.slice(since);
    if (!r.summary.nonRegistry) throw new Error(r.stdout + r.stderr);
    const listed = Object.fromEntries(r.summary.nonRegistry.map((e) => [e.name, e]));
    for (const name of ['corp-abbr', 'corp-alias', 'corp-quoted', 'corp-last', 'corp-include']) {
      expect(throughStore(log, name), name).toEqual([]);
      expect(listed[name], name).toMatchObject({ kind: 'private' });
      expect(listed[name]!.detail, name).toContain('pypi.acme.example');
    }
    expect(throughStore(log, 'corp-env')).toEqual([]);
    expect(listed['corp-env']).toMatchObject({ kind: 'private' });
    expect(listed['corp-env']!.detail).toContain('cannot be told from here');
    // the public one beside them is asked of the store: the log does show such requests
    expect(throughStore(log, 'plain-public').length).toBeGreaterThan(0);
  });

  it("a company npm registry on the public registry's host at another path: private, never requested through npm-store", async () => {
    const pub = te.sandbox.publicRegistries!.npm.url;
    const entry = (name: string, at: string) => [`node_modules/${name}`, { version: '1.0.0', resolved: `${pub}${at}${name}/-/${name}-1.0.0.tgz`, integrity: `sha512-${'A'.repeat(86)}==` }];
    const packages = { '': { name: 'app', dependencies: { 'corp-npm': '1.0.0', 'remote-npm': '1.0.0' } }, ...Object.fromEntries([entry('corp-npm', 'npm-private/'), entry('remote-npm', 'npm-remote/')]) };
    const lock = `${JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`;
    const since = te.sandbox.standIn.log.length;
    const r = await warm(job('npmpath', { 'package-lock.json': lock }, ['package-lock.json'], `${pub}npm-remote/`));
    const log = te.sandbox.standIn.log.slice(since);
    expect(throughStore(log, 'corp-npm')).toEqual([]);
    const listed = r.summary.nonRegistry.find((e) => e.name === 'corp-npm');
    expect(listed, r.stderr).toMatchObject({ kind: 'private' });
    expect(listed!.detail).toContain('outside /npm-remote/');
    // the public registry's own path stays public: asked of the store
    expect(throughStore(log, 'remote-npm').length).toBeGreaterThan(0);
  });
});
