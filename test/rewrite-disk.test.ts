/**
 * `rewrite-lockfiles` reading the job's git repositories (warm.repositories) on a disk that
 * refuses writes: the mirror's clone under `<state>/git/` or the checkout under `<state>/tmp/`.
 * That is this machine's (ELOCAL naming the path), as `warm` reading the same repositories
 * says (test/warm-repository-stall.test.ts): never blamed on the repository (ESOURCE), and the
 * command stops there instead of cloning every next repository onto the same full disk. A
 * full disk is simulated as elsewhere here: a file-size limit (`ulimit -f`, RLIMIT_FSIZE: a
 * write past it fails with EFBIG as a full disk fails with ENOSPC), or a file where a folder
 * must be made (as a full disk refuses a folder).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewriteLockfiles } from '../src/cli/rewrite.js';
import { loadJob } from '../src/config/load.js';
import { cliAfter, cliInMounts, readOnly } from './support/disk-mounts.js';
import { ROOT, TSX_LOADER } from './support/harness.js';
import { failure } from './support/thrown.js';
import { localRepository as localRepoIn } from './support/local-repo.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-rewrite-disk-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

const localRepository = (name: string, files: Record<string, string | Buffer>) => localRepoIn(dir, name, files);

/** A job reading `repositories` (no shared repository: nothing is asked of CodeArtifact), its file in `folder`. */
function jobIn(folder: string, repositories: string[]): string {
  mkdirSync(folder, { recursive: true });
  const file = join(folder, 'job.yaml');
  writeFileSync(
    file,
    stringify({
      name: 'rwdisk',
      target: { domain: 'acme', domainOwner: '111122223333', region: 'us-east-1', repositories: { npm: { internal: 'npm-internal' } } },
      sources: [{ id: 'web', kind: 'npm-registry', url: 'https://npm.acme.example/', packages: ['@acme/web'] }],
      warm: { repositories: repositories.map((url) => ({ url })) },
    }),
  );
  return file;
}

/** The mirrors cloned for the job so far. */
const mirrors = (stateDir: string) => {
  const d = join(stateDir, 'git', 'rwdisk');
  return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.git')) : [];
};

describe('rewrite-lockfiles on a disk that refuses its writes', () => {
  it.each([
    { folder: 'tmp', what: 'the scratch folder (checkouts)' },
    { folder: 'git', what: 'the mirrors folder' },
  ])('$what ($folder) that cannot be made: ELOCAL naming it, not ESOURCE blamed on the repository; the next repository is not cloned', async ({ folder }) => {
    const first = localRepository(`blocked-${folder}-a`, { 'requirements.txt': 'requests==2.31.0\n' });
    const second = localRepository(`blocked-${folder}-b`, { 'requirements.txt': 'idna==3.6\n' });
    const here = join(dir, `blocked-${folder}`);
    const stateDir = join(here, 'state');
    mkdirSync(stateDir, { recursive: true });
    const blocked = join(stateDir, folder);
    writeFileSync(blocked, 'in the way\n');
    const job = loadJob(jobIn(here, [first, second]));
    const e = await failure(rewriteLockfiles(job, { stateDir, env: { ...process.env, CAM_LOCK_DIR: join(here, 'locks') } }));
    expect(e.code).toBe('ELOCAL');
    expect(e.message).toContain(blocked);
    expect(readFileSync(blocked, 'utf8')).toBe('in the way\n');
    // stopped at the first: the second repository was never cloned
    expect(mirrors(stateDir).length).toBeLessThanOrEqual(1);
  }, 60_000);

  it('a full disk while the mirror is cloned (a file-size limit): ELOCAL naming the state directory, exit 1, no stack; the second repository not cloned; with room again both are read', async () => {
    // 3 MiB of random bytes: its pack cannot be written under a 1 MiB limit
    const big = localRepository('big', { 'blob.bin': randomBytes(3 * 1024 * 1024), 'requirements.txt': 'requests==2.31.0\n' });
    const small = localRepository('small', { 'requirements.txt': 'idna==3.6\n' });
    const here = join(dir, 'full');
    const jobFile = jobIn(here, [big, small]);
    const stateDir = join(here, 'state');
    const cli = (shell: string) => cliAfter(shell, ['--state-dir', stateDir, 'rewrite-lockfiles', jobFile, '--json'], { cwd: here, env: { ...process.env, CAM_LOCK_DIR: join(here, 'locks') } });
    const r = await cli('ulimit -f 1024; ');
    expect(r.code, r.stderr).toBe(1);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(STACK_LINE);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/ESOURCE/);
    const error = (JSON.parse(r.stdout) as { error?: { code: string; message: string } }).error;
    expect(error, r.stdout).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(join(stateDir, 'git')) });
    // no half-cloned mirror, no checkout, no key left behind
    expect(readdirSync(join(stateDir, 'git', 'rwdisk'))).toEqual([]);
    expect(existsSync(join(stateDir, 'tmp')) ? readdirSync(join(stateDir, 'tmp')) : []).toEqual([]);
    const again = await cli('');
    expect(again.code, again.stderr).toBe(0);
    const out = JSON.parse(again.stdout) as { files: { path: string; repository: string }[]; errors: unknown[] };
    expect(out.errors).toEqual([]);
    expect(out.files.map((f) => f.repository).sort()).toEqual([`${big}#main`, `${small}#main`].sort());
    expect(mirrors(stateDir)).toHaveLength(2);
  }, 120_000);

  it('the mirrors folder on a read-only file system: ELOCAL saying read-only (EROFS), not "no such file or directory"', async () => {
    const repo = localRepository('ro-mirror', { 'requirements.txt': 'idna==3.6\n' });
    const here = join(dir, 'ro');
    const jobFile = jobIn(here, [repo]);
    const stateDir = join(here, 'state');
    const git = join(stateDir, 'git');
    mkdirSync(git, { recursive: true });
    // a read-only bind mount of state/git, in a mount namespace of the child's own
    const { code, stdout, stderr } = await cliInMounts(readOnly(git), ['--state-dir', stateDir, 'rewrite-lockfiles', jobFile, '--json'], { cwd: here, env: { ...process.env, CAM_LOCK_DIR: join(here, 'locks') } });
    expect(code, stderr).toBe(1);
    expect(stderr).not.toMatch(STACK_LINE);
    const error = (JSON.parse(stdout) as { error?: { code: string; message: string } }).error;
    expect(error, stdout).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(git) });
    expect(error!.message).toMatch(/read-only/);
    expect(error!.message).not.toMatch(/ENOENT/);
  }, 60_000);

  it('--write on a full disk (a file-size limit): that lockfile is ELOCAL (its code in the JSON), left whole with no temporary file beside it; the others are written; with room again it is', async () => {
    const PYPI = 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/pypi/pypi-shared/';
    const here = join(dir, 'write-full');
    mkdirSync(join(here, 'big'), { recursive: true });
    mkdirSync(join(here, 'small'), { recursive: true });
    // 3 MiB: its rewrite cannot be written under a 1 MiB limit
    const big = `-i https://pypi.org/simple\n${Array.from({ length: 40_000 }, (_, i) => `pkg${i}==1.0.0  # ${'x'.repeat(60)}\n`).join('')}`;
    writeFileSync(join(here, 'big', 'requirements.txt'), big);
    writeFileSync(join(here, 'small', 'requirements.txt'), '-i https://pypi.org/simple\nflask==3.0.0\n');
    const jobFile = join(here, 'job.yaml');
    writeFileSync(
      jobFile,
      stringify({
        name: 'rwfull',
        target: { domain: 'acme', domainOwner: '111122223333', region: 'us-east-1', repositories: { npm: { internal: 'npm-internal' }, pypi: { internal: 'pypi-internal', shared: 'pypi-shared' } } },
        sources: [{ id: 'web', kind: 'npm-registry', url: 'https://npm.acme.example/', packages: ['@acme/web'] }],
        warm: { lockfiles: ['big/requirements.txt', 'small/requirements.txt'] },
      }),
    );
    // GetRepositoryEndpoint answered by a stand-in client: nothing else is asked
    const script = join(here, 'rewrite.mjs');
    writeFileSync(
      script,
      [
        `import { rewriteCommand } from ${JSON.stringify(join(ROOT, 'src/cli/rewrite.ts'))};`,
        `const client = { send: async () => ({ repositoryEndpoint: ${JSON.stringify(PYPI)} }), destroy() {}, middlewareStack: { add() {} } };`,
        `process.exitCode = await rewriteCommand(${JSON.stringify(jobFile)}, { write: true, json: true, stateDir: ${JSON.stringify(join(here, 'state'))}, env: { CAM_LOCK_DIR: ${JSON.stringify(join(here, 'locks'))} }, codeartifactClient: client }, { stdout: process.stdout, stderr: process.stderr });`,
      ].join('\n'),
    );
    const rewrite = async (shell: string) => {
      const child = spawn('bash', ['-c', `${shell}exec "$0" "$@"`, process.execPath, '--import', TSX_LOADER, script], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const [code] = (await once(child, 'close')) as [number | null];
      return { code, stderr, out: JSON.parse(stdout) as { files: { path: string; written: boolean }[]; errors: { path: string; code: string; message: string }[] } };
    };
    const r = await rewrite('ulimit -f 1024; ');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.out.errors).toEqual([{ path: 'big/requirements.txt', code: 'ELOCAL', message: expect.stringContaining(join(here, 'big', 'requirements.txt')) }]);
    expect(r.out.files.map((f) => [f.path, f.written])).toEqual([['small/requirements.txt', true]]);
    expect(readFileSync(join(here, 'big', 'requirements.txt'), 'utf8')).toBe(big);
    expect(readdirSync(join(here, 'big'))).toEqual(['requirements.txt']);
    const again = await rewrite('');
    expect(again.code, again.stderr).toBe(0);
    expect(again.out.errors).toEqual([]);
    expect(readFileSync(join(here, 'big', 'requirements.txt'), 'utf8').split('\n')[0]).toBe(`-i ${PYPI}simple/`);
  }, 120_000);
  it.each([
    { at: 'write', what: 'half of the new file written beside it' },
    { at: 'rename', what: 'the new file whole and synced, not renamed yet' },
  ])('--write killed (SIGKILL) with $what: the lockfile keeps its old bytes, nothing half-written under its name; the rerun writes it and removes what the killed writer left', async ({ at }) => {
    const PYPI = 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/pypi/pypi-shared/';
    const here = join(dir, `write-killed-${at}`);
    mkdirSync(join(here, 'py'), { recursive: true });
    const old = `-i https://pypi.org/simple\n${Array.from({ length: 4000 }, (_, i) => `pkg${i}==1.0.0\n`).join('')}`;
    const lockfile = join(here, 'py', 'requirements.txt');
    writeFileSync(lockfile, old);
    const jobFile = join(here, 'job.yaml');
    writeFileSync(
      jobFile,
      stringify({
        name: 'rwkilled',
        target: { domain: 'acme', domainOwner: '111122223333', region: 'us-east-1', repositories: { npm: { internal: 'npm-internal' }, pypi: { internal: 'pypi-internal', shared: 'pypi-shared' } } },
        sources: [{ id: 'web', kind: 'npm-registry', url: 'https://npm.acme.example/', packages: ['@acme/web'] }],
        warm: { lockfiles: ['py/requirements.txt'] },
      }),
    );
    const marker = join(here, 'stalled');
    // the kill point, made exact: the file system calls of the write stall there (the marker says so) until the kill
    const script = join(here, 'rewrite.mjs');
    writeFileSync(
      script,
      [
        `import fs from 'node:fs';`,
        `import { syncBuiltinESMExports } from 'node:module';`,
        `const at = process.env.CAM_TEST_STALL_AT;`,
        `const stall = () => { fs.writeFileSync(${JSON.stringify(marker)}, String(process.pid)); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); };`,
        `const { writeSync, renameSync } = fs;`,
        `if (at === 'write') fs.writeSync = (fd, buf, off = 0, ...rest) => { if (Buffer.isBuffer(buf) && buf.length - off > 10000) { writeSync(fd, buf, off, (buf.length - off) >> 1); fs.fsyncSync(fd); stall(); } return writeSync(fd, buf, off, ...rest); };`,
        `if (at === 'rename') fs.renameSync = (from, to) => { if (String(to).endsWith('requirements.txt')) stall(); return renameSync(from, to); };`,
        `syncBuiltinESMExports();`,
        `const { rewriteCommand } = await import(${JSON.stringify(join(ROOT, 'src/cli/rewrite.ts'))});`,
        `const client = { send: async () => ({ repositoryEndpoint: ${JSON.stringify(PYPI)} }), destroy() {}, middlewareStack: { add() {} } };`,
        `process.exitCode = await rewriteCommand(${JSON.stringify(jobFile)}, { write: true, json: true, stateDir: ${JSON.stringify(join(here, 'state'))}, env: { CAM_LOCK_DIR: ${JSON.stringify(join(here, 'locks'))} }, codeartifactClient: client }, { stdout: process.stdout, stderr: process.stderr });`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', TSX_LOADER, script], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CAM_TEST_STALL_AT: at } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const closed = once(child, 'close');
    for (let i = 0; i < 600 && !existsSync(marker) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(marker), stderr).toBe(true);
    child.kill('SIGKILL');
    const [, signal] = (await closed) as [number | null, string | null];
    expect(signal).toBe('SIGKILL');
    // the name holds the old bytes; what the killed writer left is beside it, under a name of its own
    expect(readFileSync(lockfile, 'utf8')).toBe(old);
    const left = readdirSync(join(here, 'py')).filter((f) => f !== 'requirements.txt');
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^requirements\.txt\.\d+-[0-9a-f]{8}\.tmp$/);

    const again = spawn(process.execPath, ['--import', TSX_LOADER, script], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    again.stdout.on('data', (c: Buffer) => (out += c.toString()));
    again.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = (await once(again, 'close')) as [number | null];
    expect(code, err).toBe(0);
    expect((JSON.parse(out) as { files: { path: string; written: boolean }[] }).files.map((f) => [f.path, f.written])).toEqual([['py/requirements.txt', true]]);
    const now = readFileSync(lockfile, 'utf8');
    expect(now.split('\n')[0]).toBe(`-i ${PYPI}simple/`);
    expect(now.split('\n').slice(1)).toEqual(old.split('\n').slice(1));
    expect(readdirSync(join(here, 'py'))).toEqual(['requirements.txt']);
  }, 120_000);
});
