/**
 * `cam warm` of PyPI versions against the hashes their lockfiles pin.
 *
 * A version the store already lists, but only through a file the lockfile does not name: a
 * wheel uploaded after the lock was written (or another platform's), which a build on that
 * platform pulled through the store first. pip's hash checking passes over files it has no
 * hash for, so that file is no mismatch: the pinned files are still to fetch, and their bytes
 * decide.
 *
 * One version that two lockfiles pin with different hashes. The README: "Two lockfiles that
 * pin one version with different bytes are both checked (at most one can be right: the
 * mismatch names the lockfile that is wrong)". Merged into one set of allowed hashes, the
 * right lockfile's pin passed the version for both: the build installing from the wrong one
 * broke after cutover (pip refuses a file whose hash its lockfile does not pin), and the warm
 * had said `warmed`.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { makeWheel } from './support/pypi-public.js';
import { warmInProcess, writeWarmJob } from './support/warm-run.js';

let te: TestEnv;

beforeAll(async () => {
  te = await startTestEnv({ publicRegistries: true });
}, 300_000);

afterAll(async () => {
  await te?.stop();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A job warming `files` (written under `name/`), every one a lockfile. */
const job = (name: string, files: Record<string, string>) => writeWarmJob(te, name, files, Object.keys(files), { privateNpm: {} });

const warm = (file: string) => warmInProcess(file, { env: te.env, stateDir: te.stateDir, codeartifactClient: te.client });

/** What a build pulls through the store: one file, by the URL the project page gives. */
async function pullThroughStore(project: string, version: string, filename: string): Promise<void> {
  const page = `${te.sandbox.standIn.pypiEndpoint('pypi-store')}simple/${project}/`;
  const got = await fetch(new URL(`${version}/${filename}`, page), { headers: { authorization: `Basic ${Buffer.from(`aws:${await te.targetToken()}`).toString('base64')}` } });
  expect(got.status).toBe(200);
  await got.arrayBuffer();
}

const poetryLock = (name: string, files: { file: string; hash: string }[]) =>
  `[[package]]\nname = "${name}"\nversion = "1.0.0"\ndescription = ""\noptional = false\npython-versions = "*"\nfiles = [\n${files.map((f) => `    {file = "${f.file}", hash = "sha256:${f.hash}"},\n`).join('')}]\n\n[metadata]\nlock-version = "2.0"\npython-versions = "*"\ncontent-hash = "0"\n`;

describe('warm: a store holding only a file of the version the lockfile does not name', () => {
  it('is no integrity mismatch: the pinned file is requested, its bytes checked, the version warmed', async () => {
    const pub = te.sandbox.publicRegistries!.pypi;
    const pinned = await makeWheel('hp-later', '1.0.0');
    pub.addFile('hp-later', pinned.filename, pinned.bytes);
    // after the lock was written, a wheel for another platform; a build there pulled it through the store
    const later = await makeWheel('hp-later', '1.0.0', { value: 'linux build' });
    const laterName = 'hp_later-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl';
    pub.addFile('hp-later', laterName, later.bytes);
    await pullThroughStore('hp-later', '1.0.0', laterName);

    const file = job('held-later', { 'poetry.lock': poetryLock('hp-later', [{ file: pinned.filename, hash: sha256(pinned.bytes) }]) });
    const since = te.sandbox.standIn.log.length;
    const r = await warm(file);
    expect(r.summary.problems, r.stdout).toEqual([]);
    expect(r.summary.outcomes).toEqual({ warmed: 1 });
    expect(r.code, r.stderr).toBe(0);
    // the pinned wheel was requested through the store and its bytes decided
    expect(te.sandbox.standIn.log.slice(since).some((e) => (e.path ?? '').endsWith(`/${pinned.filename}`))).toBe(true);
  });

  it('a held file with other bytes than a sha512 pin is still an integrity mismatch, never already-cached', async () => {
    const pub = te.sandbox.publicRegistries!.pypi;
    const wheel = await makeWheel('hp-sha512', '1.0.0');
    pub.addFile('hp-sha512', wheel.filename, wheel.bytes);
    // the public file is replaced and a build pulls the replacement into the store
    pub.tamper(wheel.filename);
    await pullThroughStore('hp-sha512', '1.0.0', wheel.filename);
    const file = job('held-sha512', { 'requirements.txt': `hp-sha512==1.0.0 --hash=sha512:${createHash('sha512').update(wheel.bytes).digest('hex')}\n` });
    const r = await warm(file);
    expect(r.summary.outcomes, r.stdout).toEqual({ 'integrity-mismatch': 1 });
    expect(r.code).toBe(1);
  });
});

describe('warm: two lockfiles pinning one PyPI version with different hashes', () => {
  // the same lockfile twice, one right and one wrong about the wheel's hash, in each format that pins one
  it.each([
    ['two poetry.lock files naming the same wheel with other bytes: an integrity mismatch naming the lockfile that is wrong, never warmed', 'pd-named', 'poetry.lock', (name: string, file: string, hash: string) => poetryLock(name, [{ file, hash }])],
    ['two requirements files, one pinning a hash no file of the version has: an integrity mismatch naming it', 'pd-reqs', 'requirements.txt', (name: string, _file: string, hash: string) => `${name}==1.0.0 --hash=sha256:${hash}\n`],
  ] as const)('%s', async (_title, name, lockfile, pin) => {
    const pub = te.sandbox.publicRegistries!.pypi;
    const wheel = await makeWheel(name, '1.0.0');
    pub.addFile(name, wheel.filename, wheel.bytes);
    const file = job(name, {
      [`right/${lockfile}`]: pin(name, wheel.filename, sha256(wheel.bytes)),
      [`wrong/${lockfile}`]: pin(name, wheel.filename, 'e'.repeat(64)),
    });
    const r = await warm(file);
    expect(r.summary.outcomes, r.stdout).toEqual({ 'integrity-mismatch': 1 });
    expect(r.code).toBe(1);
    const p = r.summary.problems[0]!;
    expect(p.detail).toContain(`${name}/wrong/${lockfile}`);
    expect(p.detail).not.toContain(`${name}/right/${lockfile}`);
  });

  it('two lockfiles each pinning a different file of the version the index has: no mismatch, warmed', async () => {
    const pub = te.sandbox.publicRegistries!.pypi;
    const wheel = await makeWheel('pd-both', '1.0.0');
    pub.addFile('pd-both', wheel.filename, wheel.bytes);
    const linux = await makeWheel('pd-both', '1.0.0', { value: 'linux build' });
    const linuxName = 'pd_both-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl';
    pub.addFile('pd-both', linuxName, linux.bytes);
    const file = job('pd-both', {
      'any/requirements.txt': `pd-both==1.0.0 --hash=sha256:${sha256(wheel.bytes)}\n`,
      'linux/poetry.lock': poetryLock('pd-both', [{ file: linuxName, hash: sha256(linux.bytes) }]),
    });
    const r = await warm(file);
    expect(r.summary.problems, r.stdout).toEqual([]);
    expect(r.summary.outcomes).toEqual({ warmed: 1 });
    expect(r.code).toBe(0);
    // a rerun finds it done: nothing looked at again
    const again = await warm(file);
    expect(again.summary.outcomes).toEqual({ warmed: 1 });
    expect(again.summary.decidedThisRun).toEqual({});
  });
});
