/**
 * The record of a transfer's process group a killed run leaves beside its mirror: only
 * the git it names is stopped, never a process that got its pid later.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTransfer, stopOrphanTransfer } from '../../src/sources/git-transfer.js';
import { alive } from '../support/child.js';

const dir = mkdtempSync(join(tmpdir(), 'git-transfer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}
const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

describe('stopOrphanTransfer', () => {
  it('a record whose pid now leads a group that is not git (pid reuse), or names another start time or boot: nothing is signalled, the record is removed', async () => {
    const other = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    try {
      const pid = other.pid!;
      const file = join(dir, 'lib.git.pgid');
      for (const record of [`${pid} ${startTime(pid)} ${bootId()}`, `${pid} 1 ${bootId()}`, `${pid} ${startTime(pid)} another-boot`]) {
        writeFileSync(file, `${record}\n`);
        expect(await stopOrphanTransfer(file)).toBeUndefined();
        expect(existsSync(file)).toBe(false);
        expect(await alive(pid)).toBe(true);
      }
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('no record, or one naming a group that is gone: nothing to do', async () => {
    expect(await stopOrphanTransfer(join(dir, 'none.git.pgid'))).toBeUndefined();
    const file = join(dir, 'gone.git.pgid');
    writeFileSync(file, `999999999 1 ${bootId()}\n`);
    expect(await stopOrphanTransfer(file)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
  });

  it("a group whose git died first, leaving its members (ssh, index-pack) running: they are stopped", async () => {
    // the leader starts two members in its group and exits, as a git killed alone would leave them
    const leader = spawn('/bin/sh', ['-c', 'sleep 300 & sleep 300 & exit 0'], { detached: true, stdio: 'ignore' });
    const pgid = leader.pid!;
    const file = join(dir, 'left.git.pgid');
    writeFileSync(file, `${pgid} ${startTime(pgid)} ${bootId()}\n`);
    await new Promise((r) => leader.on('exit', r));
    const members = groupMembers(pgid);
    try {
      expect(members).toHaveLength(2);
      expect(await stopOrphanTransfer(file)).toBe(pgid);
      for (const m of members) expect(await alive(m)).toBe(false);
      expect(existsSync(file)).toBe(false);
    } finally {
      for (const m of members) killQuietly(m);
    }
  });
});

/** The living processes of process group `pgid`. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const rest = readFileSync(`/proc/${n}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return Number(rest[2]) === pgid && rest[0] !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

describe('runTransfer', () => {
  it('a server that counts objects for three idle periods before it sends a byte (a large repository without bitmaps) is waited for, not taken for a trickle', async () => {
    const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, stdio: 'pipe' });
    const src = join(dir, 'busy-src');
    const mirror = join(dir, 'busy-mirror.git');
    execFileSync('git', ['init', '-q', '-b', 'main', src]);
    writeFileSync(join(src, 'a.txt'), 'one\n');
    git(src, 'add', '.');
    git(src, 'commit', '-qm', 'one');
    execFileSync('git', ['clone', '-q', '--mirror', src, mirror]);
    writeFileSync(join(src, 'a.txt'), 'two\n');
    git(src, 'commit', '-qam', 'two');
    // upload-pack runs this instead of pack-objects: progress every half second for 3 s, then the pack
    const hook = join(dir, 'busy-hook.sh');
    writeFileSync(hook, '#!/bin/sh\nfor i in 1 2 3 4 5 6; do echo "Counting objects: $i" >&2; sleep 0.5; done\nexec "$@"\n', { mode: 0o755 });
    const config = join(dir, 'busy-gitconfig');
    writeFileSync(config, `[uploadpack]\n\tpackObjectsHook = ${hook}\n`);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, GIT_CONFIG_GLOBAL: config, GIT_CONFIG_NOSYSTEM: '1' };
    await runTransfer(['fetch', '--progress', 'origin'], { cwd: mirror, env, idleMs: 1000, watch: { dir: mirror, maxBytes: 1e9 } });
    expect(execFileSync('git', ['rev-parse', 'main'], { cwd: mirror }).toString()).toBe(execFileSync('git', ['rev-parse', 'main'], { cwd: src }).toString());
  });
});
