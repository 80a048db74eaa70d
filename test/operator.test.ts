/**
 * The CLI as a careless operator uses it. The read-only commands (status, report, ledger export) as a careless operator ends them: Ctrl-C,
 * SIGTERM, or the terminal closed (SIGHUP) while they work. A state they may not read in place
 * (not in WAL mode, an older release's, a read-only mount) is read from a private copy in the temp
 * folder: the stop must not leave that copy of every internal package's record behind (nothing
 * else ever removes it), and the exit code says the command was interrupted (130).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startTestEnv, TSX_LOADER, type TestEnv } from './support/harness.js';
import { exitOf, watch } from './support/child.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;
/** A state directory holding a copy of the job's state in rollback-journal mode: read through a private copy. */
let copied: string;

beforeAll(async () => {
  te = await startTestEnv();
  // 600 versions: an export several times what the pipe and the reader's paused buffer hold (64 KiB each; with 120 it
  // once fitted, the export finished before the signal and exited 0), so it is still writing when stopped
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/many', versions: historyOf(600) }]);
  job = te.writeJob({ name: 'signals', privateNpm: { packages: ['@acme/many'] }, github: false });
  const r = await te.cli(['run', job, '--json']);
  expect(r.code, r.stderr).toBe(0);
  copied = join(te.dir, 'copied-state');
  mkdirSync(copied);
  copyFileSync(join(te.stateDir, 'signals.sqlite'), join(copied, 'signals.sqlite'));
  const db = new Database(join(copied, 'signals.sqlite'));
  db.pragma('journal_mode = DELETE');
  db.close();
}, 180_000);

afterAll(async () => {
  await te?.stop();
});

const privateCopies = (tmp: string) => readdirSync(tmp).filter((n) => n.startsWith('codeartifact-migrate-read-'));

describe('a stop while a read-only command reads a private copy of the state', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`ledger export to a reader that stalls, then ${signal}: exit 130, no stack trace, and the private copy in the temp folder is removed`, async () => {
      const tmp = join(te.dir, `tmp-${signal}`);
      mkdirSync(tmp);
      // stdout is a pipe nobody reads: the export (far more than a pipe holds) waits on it, its copy open
      const child = watch(te.spawnCli(['--state-dir', copied, 'ledger', 'export', job], { TMPDIR: tmp }));
      child.proc.stdout!.removeAllListeners('data');
      child.proc.stdout!.pause();
      while (privateCopies(tmp).length === 0 && !child.done()) await new Promise((r) => setTimeout(r, 20));
      expect(child.done(), child.stderr()).toBe(false);
      child.proc.kill(signal);
      const code = await exitOf(child);
      expect(privateCopies(tmp)).toEqual([]);
      expect(code, child.stderr()).toBe(130);
      expect(child.stderr()).not.toMatch(/^\s+at .+[(:]\d+/m);
    });
  }
});

describe('a path with a ~ the shell did not expand (`--state-dir=~/cam`, quoted, CAM_STATE_DIR in a unit file)', () => {
  it('--state-dir, CAM_STATE_DIR and --out starting with ~/ are in the home folder: no folder named ~ is made in the working folder', async () => {
    const home = join(te.dir, 'home');
    mkdirSync(home);
    const named = te.writeJob({ name: 'tilde', privateNpm: { packages: ['@acme/many'] }, github: false });
    // plan --no-target: nothing asked of AWS, the state and the report written all the same
    const flag = await te.cli(['--state-dir=~/cam-state', 'plan', named, '--no-target', '--no-download', '--json', '--out', '~/reports'], { HOME: home });
    expect(flag.code, flag.stderr).toBe(0);
    expect(existsSync(join(te.dir, '~')), 'a folder named ~ in the working folder').toBe(false);
    expect(existsSync(join(home, 'cam-state', 'tilde.sqlite'))).toBe(true);
    expect(readdirSync(join(home, 'reports')).filter((n) => n.endsWith('.json'))).toHaveLength(1);
    // the variable, as a systemd unit or an .env file sets it (no shell expands it there)
    const status = watch(
      spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), 'status', named, '--json'], {
        cwd: te.dir,
        env: { ...process.env, ...te.env, HOME: home, CAM_STATE_DIR: '~/cam-state' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    expect(await exitOf(status), status.stderr()).toBe(0);
    expect(JSON.parse(status.stdout())).toMatchObject({ job: 'tilde', database: join(home, 'cam-state', 'tilde.sqlite') });
    const exported = await te.cli(['--state-dir', '~/cam-state', 'ledger', 'export', named, '--out', '~/ledger.jsonl'], { HOME: home });
    expect(exported.code, exported.stderr).toBe(0);
    expect(existsSync(join(home, 'ledger.jsonl'))).toBe(true);
    expect(existsSync(join(te.dir, '~'))).toBe(false);
  });
});

describe('which release this is', () => {
  it('--version (and -V) prints the version the ledger records as toolVersion, exit 0', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await te.cli([flag]);
      expect(r.code, `${flag}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });
});
