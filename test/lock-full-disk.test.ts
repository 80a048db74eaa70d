/**
 * A job's lock on a full disk. Taking it writes (SQLite's BEGIN EXCLUSIVE makes its journal
 * even on an empty lock database), so a disk with no room refuses it with SQLITE_FULL. That
 * is this machine's disk (ELOCAL, exit 1, naming the lock's path and saying to free space
 * there), not a state database that cannot be used (ESTATE, exit 2, "check the state
 * directory is writable": for the per-target lock in CAM_LOCK_DIR, not even the folder that
 * is full). A full disk is a real one here: a small tmpfs filled up, mounted in a user and
 * mount namespace of the child's own (a file-size limit would not stop SQLite's small writes).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliInMounts, fullTmpfs } from './support/disk-mounts.js';

let dir: string;
let jobFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-lock-full-'));
  jobFile = join(dir, 'job.yaml');
  // no lockfiles, no repositories: rewrite-lockfiles --write takes the lock and has nothing else to do
  writeFileSync(
    jobFile,
    stringify({
      name: 'lockfull',
      target: { domain: 'acme', domainOwner: '111122223333', region: 'us-east-1', repositories: { npm: { internal: 'npm-internal' } } },
      sources: [{ id: 'web', kind: 'npm-registry', url: 'https://npm.acme.example/', packages: ['@acme/web'] }],
    }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

/** The CLI with `full` a filled-up 64 KiB tmpfs (in the child's namespaces only). */
async function onFullDisk(full: string, args: string[], env: Record<string, string>) {
  mkdirSync(full, { recursive: true });
  return cliInMounts(fullTmpfs(full), args, { cwd: dir, env: { ...process.env, ...env } });
}

describe("a job's lock on a full disk", () => {
  it('the per-target lock (CAM_LOCK_DIR) full: ELOCAL naming it and saying to free space there, exit 1, not ESTATE about the state directory', async () => {
    const locks = join(dir, 'locks-full');
    const r = await onFullDisk(locks, ['--state-dir', join(dir, 'state-a'), 'rewrite-lockfiles', jobFile, '--write', '--json'], { CAM_LOCK_DIR: locks });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(STACK_LINE);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error.code).toBe('ELOCAL');
    expect(error.message).toContain(join(locks, 'lockfull-'));
    expect(error.hint).toMatch(/free space/);
    expect(error.hint).toContain(locks);
  });

  it("the state directory's lock on a full disk (plan): ELOCAL naming it, exit 1", async () => {
    const state = join(dir, 'state-full');
    const r = await onFullDisk(state, ['--state-dir', state, 'plan', jobFile, '--no-target', '--json'], { CAM_LOCK_DIR: join(dir, 'locks') });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(STACK_LINE);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error.code).toBe('ELOCAL');
    expect(error.message).toContain(join(state, 'lockfull.lock.db'));
    expect(error.hint).toMatch(/free space/);
  });
});
