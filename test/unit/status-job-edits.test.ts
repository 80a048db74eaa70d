/**
 * `status` counts what the job file asks for now, as the next run will: a package taken out of
 * an npm source's `packages`/`scopes`, or versions the filters no longer select, are listed
 * apart (`notInJob`, with how many of them are on the target) and are not counted in `states`,
 * `total`, `failures` or the exit code, even before a run has set them aside.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { statusCommand } from '../../src/cli/status.js';
import { StateDb } from '../../src/state/db.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const TARGET = 'target: { region: us-east-1, domain: acme, domainOwner: "111122223333", repositories: { npm: { internal: npm-internal } } }';
const URL = 'https://npm.acme.example/';

/** A state of job `edited` whose rows are in the given states, and a job file as given. */
function setUp(source: string, filters: string[], rows: Record<string, Record<string, { state: string; attempts?: number; code?: string }>>): { job: string; stateDir: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cam-status-edits-'));
  dirs.push(dir);
  const job = join(dir, 'edited.yaml');
  writeFileSync(job, ['name: edited', TARGET, 'sources:', `  - { id: private-npm, kind: npm-registry, url: "${URL}", ${source} }`, ...filters, ''].join('\n'));
  const stateDir = join(dir, 'state');
  const state = StateDb.open(join(stateDir, 'edited.sqlite'));
  try {
    for (const [name, versions] of Object.entries(rows)) {
      state.recordListing('private-npm', URL, { format: 'npm', name, distTags: {}, versions: Object.keys(versions).map((version) => ({ version, artifactUrl: `${URL}${name}/-/x-${version}.tgz` })) });
      for (const [version, r] of Object.entries(versions)) {
        state.db
          .prepare('UPDATE items SET state = ?, attempts = ?, last_error_code = ?, last_error = ? WHERE package = ? AND version = ?')
          .run(r.state, r.attempts ?? 0, r.code ?? null, r.code ? `${r.code}: it went wrong` : null, name, version);
      }
    }
    state.db.prepare("UPDATE packages SET meta_state = 'done'").run();
  } finally {
    state.close();
  }
  return { job, stateDir, dir };
}

function status(job: string, stateDir: string, dir: string, json: boolean): { code: number; out: string } {
  let out = '';
  const stdout = Object.assign(new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) }), { isTTY: !json });
  const saved = process.env.CAM_LOCK_DIR;
  process.env.CAM_LOCK_DIR = join(dir, 'locks');
  try {
    const code = statusCommand(job, { stateDir, json }, { stdout, stderr: new Writable({ write: (_c, _e, done) => done() }) });
    return { code, out };
  } finally {
    if (saved === undefined) delete process.env.CAM_LOCK_DIR;
    else process.env.CAM_LOCK_DIR = saved;
  }
}

it('a package migrated in part, then taken out of the job file: not counted, not a failure, listed with what is on the target (before and after no run)', () => {
  const { job, stateDir, dir } = setUp('packages: ["@drop/a"]', [], {
    '@drop/a': { '1.0.0': { state: 'verified' } },
    '@drop/b': { '1.0.0': { state: 'verified' }, '1.0.1': { state: 'present-identical' }, '1.0.2': { state: 'failed', code: 'ETARGET', attempts: 1 }, '1.0.3': { state: 'failed', code: 'ESOURCE' } },
  });
  const { code, out } = status(job, stateDir, dir, true);
  const s = JSON.parse(out) as Record<string, unknown>;
  expect(s.states).toMatchObject({ verified: 1, 'present-identical': 0, failed: 0 });
  expect(s.total).toBe(1);
  expect(s.failures).toEqual([]);
  expect(s.notInJob).toEqual([{ source: 'private-npm', package: '@drop/b', why: 'not-named', onTarget: 2, versions: ['1.0.3'], publishBegun: ['1.0.2'], unsettled: [] }]);
  expect(code).toBe(0);
  const human = status(job, stateDir, dir, false);
  expect(human.out).toContain('edited: 1 versions known');
  expect(human.out).toContain('NO LONGER IN THE JOB @drop/b (private-npm): 2 version(s) on the target; 1 version(s) never migrated (1.0.3); publish of 1.0.2 begun by a run of ours');
  expect(human.out).not.toContain('FAILED');
});

it('filters narrowed: the versions they now leave out are not counted, not failures, and are listed with how many are on the target', () => {
  const { job, stateDir, dir } = setUp('scopes: ["@acme"]', ['filters:', '  exclude: ["@acme/x@>=2.0.0", "@acme/y"]'], {
    '@acme/x': { '1.0.0': { state: 'verified' }, '2.0.0': { state: 'verified' }, '2.1.0': { state: 'conflict', code: 'ECONFLICT' }, '2.2.0': { state: 'excluded' } },
    '@acme/y': { '1.0.0': { state: 'failed', code: 'ESOURCE' } },
  });
  const { code, out } = status(job, stateDir, dir, true);
  const s = JSON.parse(out) as Record<string, unknown>;
  // 2.2.0 was already left out by the filters (recorded as excluded): counted as it stands
  expect(s.states).toMatchObject({ verified: 1, conflict: 0, failed: 0, excluded: 1 });
  expect(s.total).toBe(2);
  expect(s.failures).toEqual([]);
  expect(s.conflicts).toEqual([]);
  expect(s.notInJob).toEqual([
    { source: 'private-npm', package: '@acme/x', why: 'filters', onTarget: 1, versions: ['2.1.0'], publishBegun: [], unsettled: [] },
    { source: 'private-npm', package: '@acme/y', why: 'filters', onTarget: 0, versions: ['1.0.0'], publishBegun: [], unsettled: [] },
  ]);
  expect(code).toBe(0);
  const human = status(job, stateDir, dir, false);
  expect(human.out).toContain('LEFT OUT BY THE FILTERS @acme/x (private-npm): 1 version(s) on the target; 1 version(s) never migrated (2.1.0)');
});
