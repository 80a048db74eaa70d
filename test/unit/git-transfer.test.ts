/**
 * The record of a transfer's process group a killed run leaves beside its mirror: only
 * the git it names is stopped, never a process that got its pid later.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stopOrphanTransfer } from '../../src/sources/git-transfer.js';
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
});
