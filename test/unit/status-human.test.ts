/**
 * `status` on a terminal lists what `status --json` lists: a version set aside because the
 * job no longer names its package (ENOTINJOB) is in `notInJob`, and the human form names it
 * too (the README says status lists them), with those a run of ours had started publishing
 * apart from those never migrated.
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

/** `status` of `job` as a terminal (or, `tty` false, a pipe) gets it: its exit code and what it wrote; the record of where a job last ran is this test's own (`dir`), not the user's. */
function status(job: string, opts: { stateDir: string; json?: boolean }, dir: string, tty = true): { code: number; out: string } {
  let out = '';
  const stdout = Object.assign(new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) }), { isTTY: tty });
  const saved = process.env.CAM_LOCK_DIR;
  process.env.CAM_LOCK_DIR = join(dir, 'locks');
  try {
    return { code: statusCommand(job, opts, { stdout, stderr: new Writable({ write: (_c, _e, done) => done() }) }), out };
  } finally {
    if (saved === undefined) delete process.env.CAM_LOCK_DIR;
    else process.env.CAM_LOCK_DIR = saved;
  }
}

it('the human form names the packages no longer in the job, as --json does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cam-status-human-'));
  dirs.push(dir);
  const job = join(dir, 'dropping.yaml');
  writeFileSync(job, ['name: dropping', 'target: { region: us-east-1, domain: acme, domainOwner: "111122223333", repositories: { npm: { internal: npm-internal } } }', 'sources:', '  - { id: private-npm, kind: npm-registry, url: "https://npm.acme.example/", packages: ["@drop/a"] }', ''].join('\n'));
  const stateDir = join(dir, 'state');
  const state = StateDb.open(join(stateDir, 'dropping.sqlite'));
  try {
    state.recordListing('private-npm', 'https://npm.acme.example/', { format: 'npm', name: '@drop/c', distTags: {}, versions: ['1.0.0', '1.0.1'].map((version) => ({ version, artifactUrl: `https://npm.acme.example/@drop/c/-/c-${version}.tgz` })) });
    state.db.prepare("UPDATE items SET state = 'excluded', last_error_code = 'ENOTINJOB', last_error = 'no longer named by the job', attempts = CASE version WHEN '1.0.1' THEN 2 ELSE 0 END").run();
  } finally {
    state.close();
  }
  const { code, out: human } = status(job, { stateDir }, dir);
  expect(code).toBe(0);
  expect(human).toContain('NO LONGER IN THE JOB @drop/c (private-npm): 1 version(s) never migrated (1.0.0); publish of 1.0.1 begun by a run of ours: the target may hold part of it');
});

it("status --json stays JSON whatever a failure's error holds: a URL's query ending in \\\" is hidden, not cut inside its escape", () => {
  const dir = mkdtempSync(join(tmpdir(), 'cam-status-json-'));
  dirs.push(dir);
  const job = join(dir, 'hostile.yaml');
  writeFileSync(job, ['name: hostile', 'target: { region: us-east-1, domain: acme, domainOwner: "111122223333", repositories: { npm: { internal: npm-internal } } }', 'sources:', '  - { id: private-npm, kind: npm-registry, url: "https://npm.acme.example/", packages: ["@acme/a"] }', ''].join('\n'));
  const stateDir = join(dir, 'state');
  const state = StateDb.open(join(stateDir, 'hostile.sqlite'));
  // what a registry answered, as stored: its text is the registry's to choose
  const said = 'ESOURCE: GET https://npm.acme.example/@acme/a?token=s3cret\\"}],"total":0,"x":"y failed; see https://npm.acme.example/help#a\\" too';
  try {
    state.recordListing('private-npm', 'https://npm.acme.example/', { format: 'npm', name: '@acme/a', distTags: {}, versions: [{ version: '1.0.0', artifactUrl: 'https://npm.acme.example/@acme/a/-/a-1.0.0.tgz' }] });
    state.db.prepare("UPDATE items SET state = 'failed', last_error_code = 'ESOURCE', last_error = ?, attempts = 1").run(said);
  } finally {
    state.close();
  }
  const { code, out } = status(job, { stateDir, json: true }, dir, false);
  expect(code).toBe(1);
  const parsed = JSON.parse(out) as { total: number; failures: { error: string }[] };
  expect(parsed.total).toBe(1);
  expect(parsed.failures).toHaveLength(1);
  expect(parsed.failures[0]!.error).not.toContain('s3cret');
  expect(parsed.failures[0]!.error).toMatch(/^ESOURCE: GET https:\/\/npm\.acme\.example\/@acme\/a\?\*\*\*/);
});

it('a run killed -9, and a warm of another host holding the job now: the run "did not finish", the warm is named as what runs now', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cam-status-holder-'));
  dirs.push(dir);
  const job = join(dir, 'held.yaml');
  writeFileSync(job, ['name: held', 'target: { region: us-east-1, domain: acme, domainOwner: "111122223333", repositories: { npm: { internal: npm-internal } } }', 'sources:', '  - { id: private-npm, kind: npm-registry, url: "https://npm.acme.example/", packages: ["@acme/a"] }', ''].join('\n'));
  const stateDir = join(dir, 'state');
  const state = StateDb.open(join(stateDir, 'held.sqlite'));
  try {
    state.startRun(false);
  } finally {
    state.close();
  }
  // the warm's lock owner file, on a shared folder from another host (its pid cannot be checked from here)
  writeFileSync(join(stateDir, 'held.lock.owner'), JSON.stringify({ pid: 4242, host: 'build-02', startedAt: new Date(Date.now() + 60_000).toISOString(), token: 'x', command: 'warm' }));
  const { code, out: human } = status(job, { stateDir }, dir);
  expect(code).toBe(0);
  expect(human).toMatch(/last run #1: did not finish \(killed\?\)/);
  expect(human).toContain('in progress now: a `warm` of this job (pid 4242 on build-02');
});
