/**
 * `cam warm` of Python lockfiles as pip, poetry, pipenv and uv read them, against the
 * pypi-store repository: where each pin may come from (an index the warm can ask, or a
 * folder of files, another team's index, a link), and what the bytes are checked against.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { makeWheel } from './support/pypi-public.js';
import { throughStore, warmInProcess, writeWarmJob } from './support/warm-run.js';

let te: TestEnv;

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
}, 300_000);

afterAll(async () => {
  await te?.stop();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const job = (name: string, files: Record<string, string>, lockfiles = Object.keys(files)) => writeWarmJob(te, name, files, lockfiles, { privateNpm: {} });
const warm = (file: string) => warmInProcess(file, { env: te.env, stateDir: te.stateDir, codeartifactClient: te.client });

/** A public project at 1.0.0 (one wheel), and its pin. */
async function publicProject(name: string, version = '1.0.0'): Promise<{ filename: string; hash: string }> {
  const wheel = await makeWheel(name, version);
  te.sandbox.publicRegistries!.pypi.addFile(name, wheel.filename, wheel.bytes);
  return { filename: wheel.filename, hash: sha256(wheel.bytes) };
}

describe('warm: a requirements file pip installs with --no-index', () => {
  it('its pins come from the --find-links folder or page only: never requested through the store (a public package of the same name would be pulled in), listed private; the credentials of a page URL nowhere', async () => {
    const secret = ['links', 'pass', String(Date.now())].join('-');
    // a public project of the same name as the company's wheel in the folder: what the store would pull in
    await publicProject('ni-folder');
    await publicProject('ni-page');
    const alone = await publicProject('ni-alone');
    const file = job('no-index', {
      'folder/requirements.txt': `--no-index\n--find-links ./wheels\nni-folder==1.0.0 --hash=sha256:${'a'.repeat(64)}\n`,
      // the option in an included file, the page on another host with its token
      'page/requirements.txt': `-r base.txt\nni-page==1.0.0\n`,
      'page/base.txt': `--find-links https://ci:${secret}@wheels.internal.example/acme/\n--no-index\n`,
      'alone/requirements.txt': `--no-index\nni-alone==1.0.0 --hash=sha256:${alone.hash}\n`,
    }, ['folder/requirements.txt', 'page/requirements.txt', 'alone/requirements.txt']);
    const since = te.sandbox.standIn.log.length;
    const r = await warm(file);
    const log = te.sandbox.standIn.log.slice(since);
    expect(throughStore(log, 'ni-folder')).toEqual([]);
    expect(throughStore(log, 'ni-page')).toEqual([]);
    expect(throughStore(log, 'ni-alone')).toEqual([]);
    expect(te.sandbox.standIn.versions('pypi-store', 'pypi', undefined, 'ni-folder')).toEqual([]);
    expect(r.summary.outcomes, r.stdout).toEqual({ 'non-registry': 3 });
    expect(r.code, r.stderr).toBe(0);
    const listed = Object.fromEntries(r.summary.nonRegistry.map((n) => [n.lockfiles.join(), n]));
    expect(listed['no-index/folder/requirements.txt']).toMatchObject({ name: 'ni-folder', kind: 'private', detail: expect.stringContaining('./wheels') });
    expect(listed['no-index/page/requirements.txt']).toMatchObject({ name: 'ni-page', kind: 'private', detail: expect.stringContaining('wheels.internal.example') });
    expect(listed['no-index/alone/requirements.txt']).toMatchObject({ name: 'ni-alone', kind: 'private', detail: expect.stringContaining('--no-index') });
    expect(JSON.stringify(r.summary)).not.toContain(secret);
    expect(r.stderr).not.toContain(secret);
    expect(readFileSync(join(te.stateDir, 'no-index.sqlite')).includes(secret)).toBe(false);
  });

  it('--find-links beside an index: the pins are warmed from public PyPI, and the folder is named as a note on its line', async () => {
    const p = await publicProject('fl-public');
    const secret = ['links', 'pass', String(Date.now())].join('-');
    // a page whose host comes from the environment, its password written out
    const file = job('find-links', { 'requirements.txt': `--find-links ./vendor\n--find-links https://ci:${secret}@\${WHEELS_HOST}/acme/\nfl-public==1.0.0 --hash=sha256:${p.hash}\n` });
    const r = await warm(file);
    expect(r.summary.outcomes, r.stdout).toEqual({ warmed: 1 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary.lockfiles[0]!.notes).toEqual([
      expect.objectContaining({ line: 1, message: expect.stringMatching(/^--find-links \.\/vendor: pip takes each name from whichever/) }),
      expect.objectContaining({ line: 2, message: expect.stringMatching(/^--find-links \S*WHEELS_HOST\S*: pip takes/) }),
    ]);
    expect(JSON.stringify(r.summary)).not.toContain(secret);
    expect(readFileSync(join(te.stateDir, 'find-links.sqlite')).includes(secret)).toBe(false);
  });
});

describe('warm: a Pipfile.lock whose package names an index its _meta.sources does not list', () => {
  it('the index cannot be told from the lockfile (pipenv takes it from the Pipfile): listed private, never requested through the store; one naming the listed PyPI source is warmed', async () => {
    const known = await publicProject('pf-known');
    await publicProject('pf-unlisted');
    const lock = {
      _meta: { hash: { sha256: '0'.repeat(64) }, 'pipfile-spec': 6, requires: {}, sources: [{ name: 'pypi', url: 'https://pypi.org/simple', verify_ssl: true }] },
      default: {
        'pf-known': { version: '==1.0.0', index: 'pypi', hashes: [`sha256:${known.hash}`] },
        'pf-unlisted': { version: '==1.0.0', index: 'acme-internal', hashes: [`sha256:${'a'.repeat(64)}`] },
      },
      develop: {},
    };
    const file = job('pipfile-index', { 'Pipfile.lock': `${JSON.stringify(lock, null, 4)}\n` });
    const since = te.sandbox.standIn.log.length;
    const r = await warm(file);
    expect(throughStore(te.sandbox.standIn.log.slice(since), 'pf-unlisted')).toEqual([]);
    expect(r.summary.outcomes, r.stdout).toEqual({ warmed: 1, 'non-registry': 1 });
    expect(r.summary.nonRegistry).toEqual([expect.objectContaining({ name: 'pf-unlisted', kind: 'private', detail: expect.stringContaining('from the index "acme-internal" (not in _meta.sources), which cannot be told') })]);
    expect(r.code, r.stderr).toBe(0);
  });
});
