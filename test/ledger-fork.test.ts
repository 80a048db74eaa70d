/**
 * The ledger across operator mistakes with the state directory: a state restored from an older
 * copy (or copied to a second machine) after later runs published more, a copy taken while a
 * publish was under way, a plan that found versions already on the target. The rerun publishes
 * nothing twice and conflicts with none of its own bytes; the ledger says what happened (the
 * target's hashes too), and an export of the forked ledger is told from the one kept before.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishRequests, startTestEnv, type TestEnv } from './support/harness.js';
import { historyOf, seedPackages } from './support/npm-fixtures.js';
import { ledgerVerifyCommand, type VerifyResult } from '../src/cli/ledger.js';
import type { Io } from '../src/cli/output.js';

let te: TestEnv;
const V = historyOf(3);

beforeAll(async () => {
  te = await startTestEnv();
}, 120_000);
afterAll(async () => {
  await te?.stop();
});

interface Line {
  seq: number;
  hash: string;
  entry: { outcome: string; version?: string; detail?: string; hashes?: { computed?: Record<string, Record<string, unknown>>; target?: Record<string, Record<string, unknown>> } };
}
/** The entries of an export to stdout. */
const entriesOf = (out: string): Line[] => out.split('\n').filter((l) => l && !l.startsWith('{"trailer"')).map((l) => JSON.parse(l) as Line);

/** The state directory copied aside (a backup), and put back over the live one later. */
function backup(name: string): () => void {
  const copy = join(te.dir, `backup-${name}`);
  cpSync(te.stateDir, copy, { recursive: true });
  return () => {
    rmSync(te.stateDir, { recursive: true, force: true });
    cpSync(copy, te.stateDir, { recursive: true });
  };
}

/** Each present-identical or published entry's target hashes are the target's SHA-512 of our file. */
function expectTargetHashes(entries: Line[], versions: string[]): void {
  for (const v of versions) {
    const e = entries.findLast((l) => l.entry.version === v)!.entry;
    expect(e.hashes?.target, `${v}: ${e.outcome}`).toBeDefined();
    expect(e.hashes!.target!['package.tgz']!['SHA-512'], v).toBe(e.hashes!.computed!['package.tgz']!.sha512);
  }
}

describe('a state restored from an older copy after a later run published more', () => {
  it('the rerun finds what the lost run published present-identical (published once, never ECONFLICT), with the target\'s hashes; the new export verifies alone but not against the head kept from the lost one', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: 'fork-pkg', versions: V.slice(0, 2) }]);
    const job = te.writeJob({ name: 'fork', privateNpm: { packages: ['fork-pkg'] }, github: false });
    expect((await te.cli(['run', job, '--json'])).code).toBe(0);
    const early = await te.cli(['ledger', 'export', job, '--out', join(te.dir, 'fork-early.jsonl')]);
    const earlyHead = /head hash ([0-9a-f]{64})/.exec(early.stderr)![1]!;
    const restore = backup('fork');
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: 'fork-pkg', versions: V.slice(2) }]);
    expect((await te.cli(['run', job, '--json'])).code).toBe(0);
    // security keeps this export and its head: the run whose state is about to be lost
    const kept = await te.cli(['ledger', 'export', job, '--out', join(te.dir, 'fork-kept.jsonl')]);
    const keptHead = /head hash ([0-9a-f]{64})/.exec(kept.stderr)![1]!;

    restore();
    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const counts = publishRequests(te.sandbox, { succeededOnly: true });
    for (const v of V) expect(counts.get(`fork-pkg@${v}`), v).toBe(1);
    const exported = await te.cli(['ledger', 'export', job]);
    const entries = entriesOf(exported.stdout);
    expect(entries.findLast((l) => l.entry.version === V[2])!.entry.outcome).toBe('present-identical');
    expectTargetHashes(entries, V);

    const forked = join(te.dir, 'fork-later.jsonl');
    expect((await te.cli(['ledger', 'export', job, '--out', forked])).code).toBe(0);
    // alone, its chain holds: a fork is a whole chain
    expect((await te.cli(['ledger', 'verify', forked, '--json'])).code).toBe(0);
    // against the head kept from the lost run's export: no entry of it has that hash
    const vs = await te.cli(['ledger', 'verify', forked, '--head', keptHead, '--json']);
    expect(vs.code).toBe(1);
    const r = JSON.parse(vs.stdout) as VerifyResult;
    expect(r.headMismatch).toMatchObject({ expected: keptHead });
    expect(r.headMismatch!.keptAt).toBeUndefined();
    // --since the kept export: forked, at the first entry the lost run wrote (exit 1), in words too
    const since = await te.cli(['ledger', 'verify', forked, '--since', join(te.dir, 'fork-kept.jsonl'), '--json']);
    expect(since.code, since.stdout + since.stderr).toBe(1);
    const keptCount = entries.findIndex((l) => l.hash === earlyHead) + 1;
    expect((JSON.parse(since.stdout) as VerifyResult).since).toMatchObject({ holds: false, forkedAt: keptCount + 1, head: keptHead });
    // in words (stdout a terminal)
    const out: string[] = [];
    const io = { stdout: { isTTY: true, write: (t: string) => out.push(t) }, stderr: { write: () => true } } as unknown as Io;
    expect(await ledgerVerifyCommand(forked, { since: join(te.dir, 'fork-kept.jsonl') }, io)).toBe(1);
    expect(out.join('')).toMatch(new RegExp(`FORKED FROM .*fork-kept\\.jsonl: entries 1 to ${keptCount} are alike, entry ${keptCount + 1} differs`));
    // --since the export made before the copy was taken: held, exit 0
    const held = await te.cli(['ledger', 'verify', forked, '--since', join(te.dir, 'fork-early.jsonl'), '--json']);
    expect(held.code, held.stdout + held.stderr).toBe(0);
    expect((JSON.parse(held.stdout) as VerifyResult).since).toMatchObject({ holds: true, entries: keptCount });
    // the older copy put back again, nothing run since: what it exports is cut short against the kept export
    restore();
    const cut = join(te.dir, 'fork-cut.jsonl');
    expect((await te.cli(['ledger', 'export', job, '--out', cut])).code).toBe(0);
    const short = await te.cli(['ledger', 'verify', cut, '--since', forked, '--json']);
    expect(short.code).toBe(1);
    const cutCount = entriesOf(readFileSync(cut, 'utf8')).length;
    expect((JSON.parse(short.stdout) as VerifyResult).since).toMatchObject({ holds: false, missing: entriesOf(readFileSync(forked, 'utf8')).length - cutCount });
    // an earlier export that does not verify itself is no reference: ECONFIG naming it, exit 2
    const broken = join(te.dir, 'fork-broken.jsonl');
    writeFileSync(broken, readFileSync(forked, 'utf8').split('\n').slice(0, 2).join('\n') + '\n');
    const refused = await te.cli(['ledger', 'verify', forked, '--since', broken, '--json']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toMatch(/ECONFIG.*fork-broken\.jsonl does not verify itself/);
    expect(refused.stdout + refused.stderr).not.toMatch(/^\s+at /m);
    // the head of the export made before the copy was taken: the entries up to it are those
    const ve = JSON.parse((await te.cli(['ledger', 'verify', forked, '--head', earlyHead, '--json'])).stdout) as VerifyResult;
    expect(ve.headMismatch?.keptAt).toBe(keptCount);
  });
});

describe('a plan found the versions on the target (its dry run writes no ledger)', () => {
  it('the run that enters them records the target\'s hashes the plan read, as a run that finds them does', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: 'planfound-pkg', versions: V }]);
    expect((await te.cli(['run', te.writeJob({ name: 'planfound-first', privateNpm: { packages: ['planfound-pkg'] }, github: false }), '--json'])).code).toBe(0);
    // a second job of the same packages (a job renamed): its plan finds every version there
    const job = te.writeJob({ name: 'planfound', privateNpm: { packages: ['planfound-pkg'] }, github: false });
    expect((await te.cli(['plan', job, '--json'])).code).toBe(0);
    const r = await te.cli(['run', job, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const entries = entriesOf((await te.cli(['ledger', 'export', job])).stdout).filter((l) => l.entry.version);
    expect(entries.map((l) => [l.entry.version, l.entry.outcome])).toEqual(V.map((v) => [v, 'present-identical']));
    expectTargetHashes(entries, V);
  });
});

describe('a state copied while a publish was under way, the publish landing after the copy', () => {
  it('restored, the rerun publishes nothing again, and the entry says this run uploaded nothing of it', async () => {
    const { privateNpm } = te.sandbox;
    await seedPackages(privateNpm.url, privateNpm.token, [{ name: 'midcopy-pkg', versions: V }]);
    const job = te.writeJob({ name: 'midcopy', privateNpm: { packages: ['midcopy-pkg'] }, github: false });
    expect((await te.cli(['plan', job, '--json'])).code).toBe(0);
    // the copy as it would be taken mid-publish: the first version's publish begun (attempt counted, its file uploading)
    const s = te.openState('midcopy');
    const first = s.items()[0]!;
    s.db.prepare("UPDATE items SET state = 'publishing', attempts = 1 WHERE id = ?").run(first.id);
    s.db.prepare("UPDATE assets SET state = 'uploading' WHERE item_id = ?").run(first.id);
    s.close();
    const restore = backup('midcopy');
    expect((await te.cli(['run', job, '--json'])).code).toBe(0);
    restore();
    const rerun = await te.cli(['run', job, '--json']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const counts = publishRequests(te.sandbox, { succeededOnly: true });
    for (const v of V) expect(counts.get(`midcopy-pkg@${v}`), v).toBe(1);
    const entries = entriesOf((await te.cli(['ledger', 'export', job])).stdout).filter((l) => l.entry.version);
    const found = entries.find((l) => l.entry.version === first.version)!.entry;
    expect(found.outcome).toBe('published');
    expect(found.detail).toMatch(/^not uploaded by this run: found on the target with this tool's bytes/);
    // the versions this run found there and never began: present-identical, no such detail
    for (const l of entries.filter((e) => e.entry.version !== first.version)) expect(l.entry).toMatchObject({ outcome: 'present-identical' });
    expectTargetHashes(entries, V);
  });
});
