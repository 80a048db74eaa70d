/**
 * A folder for this machine's files (a report's --out, the --state-dir, the folder of a
 * ledger export's --out) that cannot be made, said as what it is. Node's recursive mkdir
 * answers ENOENT ("no such file or directory") both for a folder on a read-only file system
 * (the real error, EROFS, is lost) and for a symbolic link to a folder that is not there (a
 * share not mounted): a user told "ENOENT, free space" looks for space that is there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCommand, reportCommand } from '../src/cli/plan.js';
import { buildReport, reportInputFromState } from '../src/report/index.js';
import { writeReportFiles } from '../src/report/write.js';
import { StateDb } from '../src/state/db.js';
import { makeRealisticState, realisticJob } from './fixtures/report/realistic.js';
import { cliInMounts, readOnly } from './support/disk-mounts.js';
import { ROOT, TSX_LOADER } from './support/harness.js';

let dir: string;
let stateDir: string;
let jobFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-report-out-'));
  stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  makeRealisticState(stateDir).state.close();
  const job = realisticJob();
  jobFile = join(dir, 'acme.yaml');
  // JSON is YAML
  writeFileSync(jobFile, JSON.stringify({ name: job.name, ...job.config }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

function io() {
  let stdout = '';
  return { io: { stdout: { write: (s: string) => ((stdout += s), true), isTTY: false }, stderr: { write: () => true, isTTY: false } } as never, stdout: () => stdout };
}

describe('report --out that cannot be made', () => {
  it('a symbolic link to a folder that is not there (a share not mounted): ELOCAL saying so, naming where it points; nothing made there', async () => {
    const nowhere = join(dir, 'share', 'reports');
    const link = join(dir, 'reports-link');
    symlinkSync(nowhere, link);
    const out = io();
    expect(await reportCommand(jobFile, { stateDir, out: link, json: true }, out.io)).toBe(1);
    const error = (JSON.parse(out.stdout()) as { error: { code: string; message: string; hint: string } }).error;
    expect(error.code).toBe('ELOCAL');
    expect(error.message).toContain(link);
    expect(error.message).toContain(nowhere);
    expect(error.message).toMatch(/symbolic link/);
    expect(error.hint).not.toMatch(/free space/);
    // not made behind the link (on the disk under the mount point), the link kept
    expect(existsSync(join(dir, 'share'))).toBe(false);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('a folder to make on a read-only file system: ELOCAL saying read-only (EROFS), not "no such file or directory"', async () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    const out = join(ro, 'reports');
    // a read-only bind mount of the folder, in a mount namespace of the child's own
    const { code, stdout, stderr } = await cliInMounts(readOnly(ro), ['--state-dir', stateDir, 'report', jobFile, '--out', out, '--json'], { env: { ...process.env, CAM_LOCK_DIR: join(dir, 'locks') } });
    expect(code, stderr).toBe(1);
    expect(stderr).not.toMatch(STACK_LINE);
    const error = (JSON.parse(stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('ELOCAL');
    expect(error.message).toContain(out);
    expect(error.message).toMatch(/read-only \(EROFS\)/);
    expect(error.message).not.toMatch(/ENOENT/);
    // the namespace's mount is gone with it: the folder is writable again, and nothing was made in it
    expect(existsSync(out)).toBe(false);
    execFileSync('touch', [join(ro, 'writable')]);
  });
});

describe('plan --state-dir that cannot be made', () => {
  it('a symbolic link to a folder that is not there: ELOCAL naming the link and where it points, nothing made behind it', async () => {
    const nowhere = join(dir, 'unmounted', 'state');
    const link = join(dir, 'state-link');
    symlinkSync(nowhere, link);
    const out = io();
    expect(await planCommand(jobFile, { stateDir: link, noTarget: true, json: true, quiet: true, env: { ...process.env, CAM_LOCK_DIR: join(dir, 'locks') } }, out.io)).toBe(1);
    const error = (JSON.parse(out.stdout()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('ELOCAL');
    expect(error.message).toContain(link);
    expect(error.message).toContain(nowhere);
    expect(error.message).toMatch(/symbolic link/);
    expect(existsSync(join(dir, 'unmounted'))).toBe(false);
  });
});

describe('ledger export --out in a folder that cannot be made', () => {
  it('on a read-only file system: ELOCAL saying read-only (EROFS), not "no such file or directory"; nothing written', async () => {
    const ro = join(dir, 'ro-ledger');
    mkdirSync(ro);
    const out = join(ro, 'exports', 'ledger.jsonl');
    const { code, stdout, stderr } = await cliInMounts(readOnly(ro), ['--state-dir', stateDir, 'ledger', 'export', jobFile, '--out', out], { env: { ...process.env, CAM_LOCK_DIR: join(dir, 'locks') } });
    expect(code, stderr).toBe(1);
    expect(stderr).not.toMatch(STACK_LINE);
    const error = (JSON.parse(stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('ELOCAL');
    expect(error.message).toMatch(/read-only \(EROFS\)/);
    expect(error.message).not.toMatch(/ENOENT/);
    expect(existsSync(join(ro, 'exports'))).toBe(false);
  });
});

describe('the three report files taking their names', () => {
  function planReport() {
    const state = StateDb.open(join(stateDir, 'acme-migration.sqlite'));
    try {
      return buildReport({ ...reportInputFromState(state, realisticJob(), undefined, { kind: 'plan' }), generatedAt: '2026-11-29T09:00:00.000Z' });
    } finally {
      state.close();
    }
  }

  it('one that cannot take its name after another did: none is left under its name (a JSON report without its HTML is no report), nor a temporary file', () => {
    const out = join(dir, 'half');
    mkdirSync(out);
    // a tmpfs with room for its root, the three temporary files and one more name (tmpfs counts
    // each hard link as an inode): the JSON takes its name, the Markdown's fails (ENOSPC), as a
    // name fails on a disk that went read-only, or a full one whose folder must grow. What the
    // tmpfs holds is listed before the mount namespace goes.
    const shell = `mount -t tmpfs -o nr_inodes=5 tmpfs '${out}' && "$@"; echo "exit $?"; ls -A '${out}'`;
    const argv = [process.execPath, '--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), '--state-dir', stateDir, 'report', jobFile, '--out', out, '--json'];
    const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', shell, 'sh', ...argv], { env: { ...process.env, CAM_LOCK_DIR: join(dir, 'locks') }, encoding: 'utf8' });
    expect(r.stderr).not.toMatch(STACK_LINE);
    const [json, exit, ...left] = r.stdout.trimEnd().split('\n');
    const error = (JSON.parse(json!) as { error: { code: string; message: string } }).error;
    expect(error).toMatchObject({ code: 'ELOCAL', message: expect.stringMatching(/acme-migration-plan-\d{8}T\d{6}Z\.md/) });
    expect(exit).toBe('exit 1');
    expect(left).toEqual([]);
  });

  it('a name another file has (here a folder): all three take the next name, <time>-2, and the folder is left as it is', () => {
    const out = join(dir, 'taken');
    mkdirSync(join(out, 'acme-migration-plan-20261129T090000Z.md'), { recursive: true });
    const files = writeReportFiles(planReport(), 'acme-migration', out, 'plan');
    expect(files.json).toBe(join(out, 'acme-migration-plan-20261129T090000Z-2.json'));
    expect(readdirSync(out).sort()).toEqual(['acme-migration-plan-20261129T090000Z-2.html', 'acme-migration-plan-20261129T090000Z-2.json', 'acme-migration-plan-20261129T090000Z-2.md', 'acme-migration-plan-20261129T090000Z.md']);
    expect(lstatSync(join(out, 'acme-migration-plan-20261129T090000Z.md')).isDirectory()).toBe(true);
  });
});

describe('what a killed report writer left', () => {
  it('its temporary files (a kill -9, a power cut while the report was written) are removed by the next report written there; a live writer\'s are left', async () => {
    const out = join(dir, 'killed');
    mkdirSync(out);
    // a pid no process has any more
    const dead = spawnSync('true').pid!;
    const left = [`acme-migration-plan-20261128T101010Z.html.${dead}-0badc0de.tmp`, `other-job-run-20261127T000000Z.json.${dead}-12345678.tmp`];
    const live = `acme-migration-plan-20261128T101011Z.md.${process.pid}-abcdef01.tmp`;
    const mine = 'notes.txt.tmp';
    for (const f of [...left, live, mine]) writeFileSync(join(out, f), 'half a report');
    expect(await reportCommand(jobFile, { stateDir, out, json: true }, io().io)).toBe(1);
    const names = readdirSync(out);
    for (const f of left) expect(names).not.toContain(f);
    expect(names).toContain(live);
    expect(names).toContain(mine);
    expect(names.filter((f) => !f.endsWith('.tmp')).map((f) => f.split('.').pop()).sort()).toEqual(['html', 'json', 'md']);
  });
});
