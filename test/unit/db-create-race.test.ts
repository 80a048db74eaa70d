/** state/db: a state opened at the moment another process gives a new file its schema. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { StateDb } from '../../src/state/db.js';
import { MIGRATIONS } from '../../src/state/migrations.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-db-race-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The other process, as `StateDb.open` migrates a new file: every schema in its own IMMEDIATE
 * transaction with its user_version. A worker thread, so that it runs truly beside this one; it
 * starts on file `i` when the shared counter says `i`, after a spin of a few microseconds that
 * differs each time (sweeping its commit across the window of the open beside it).
 */
const WRITER = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const turn = new Int32Array(workerData.shared);
for (let i = 0; i < workerData.files; i++) {
  while (Atomics.load(turn, 0) < i) Atomics.wait(turn, 0, Atomics.load(turn, 0), 1000);
  const until = process.hrtime.bigint() + BigInt((i * 37) % 400) * 1000n;
  while (process.hrtime.bigint() < until);
  const db = new Database(workerData.dir + '/s' + i + '.sqlite');
  db.pragma('busy_timeout = 5000');
  workerData.migrations.forEach((sql, n) => {
    db.transaction(() => {
      if (db.pragma('user_version', { simple: true }) >= n + 1) return;
      db.exec(sql);
      db.pragma('user_version = ' + (n + 1));
    }).immediate();
  });
  db.close();
  Atomics.store(turn, 1, i + 1);
}
`;

it('a state opened while another process gives the new file its schema is read as ours, never "not a codeartifact-migrate state database"', async () => {
  const files = 200;
  const shared = new SharedArrayBuffer(8);
  const turn = new Int32Array(shared);
  const worker = new Worker(WRITER, { eval: true, workerData: { shared, files, dir, migrations: MIGRATIONS, sqlite: require.resolve('better-sqlite3') } });
  const exited = new Promise((resolve, reject) => {
    worker.once('exit', resolve);
    worker.once('error', reject);
  });
  const refused: string[] = [];
  try {
    for (let i = 0; i < files; i++) {
      const path = join(dir, `s${i}.sqlite`);
      // the file as createWhole leaves it: a WAL database with no schema yet
      const fresh = new Database(path);
      fresh.pragma('journal_mode = WAL');
      fresh.close();
      Atomics.store(turn, 0, i);
      Atomics.notify(turn, 0);
      try {
        StateDb.open(path).close();
      } catch (e) {
        if (!(e instanceof MigrateError)) throw e;
        refused.push(`${i}: ${e.code} ${e.message}`);
      }
      const until = Date.now() + 10_000;
      while (Atomics.load(turn, 1) <= i) {
        if (Date.now() > until) throw new Error(`the writer did not finish file ${i} in 10 s`);
        Atomics.wait(turn, 1, Atomics.load(turn, 1), 100);
      }
    }
  } finally {
    Atomics.store(turn, 0, files);
    Atomics.notify(turn, 0);
    await exited;
  }
  expect(refused).toEqual([]);
  // and every file ends at this code's schema, opened again as any later command would
  const last = StateDb.open(join(dir, `s${files - 1}.sqlite`));
  try {
    expect(last.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  } finally {
    last.close();
  }
}, 60_000);
