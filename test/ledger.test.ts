/**
 * The provenance ledger: written with the state changes it records, hash
 * chained, append-only; exported as JSON Lines with a trailer; and verified:
 * editing, deleting, inserting or reordering any entry, cutting entries off
 * the end or tearing the last line is detected and named; a file replaced on
 * the target after the migration is found by reading the target again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../src/cli/ledger.js';
import { ledgerLines, verifyChain, type LedgerLine } from '../src/state/ledger.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { corruptStoredTarball, makeTarball, publishVersion, seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;
let exported: string;
const NAME = 'ledger-pkg';

beforeAll(async () => {
  te = await startTestEnv();
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [
    { name: NAME, versions: ['1.0.0', '1.1.0', '1.2.0', '1.3.0'] },
    { name: 'ledger-other', versions: ['2.0.0'] },
  ]);
  await corruptStoredTarball(te.sandbox.privateNpm.storageDir, NAME, '1.2.0');
  // 1.3.0 is already on the target with other bytes: a conflict
  const other = await makeTarball(NAME, '1.3.0', { extraFiles: { 'x.js': 'other' } });
  await publishVersion(te.sandbox.descriptor.codeartifact.npmEndpoint, await te.targetToken(), NAME, '1.3.0', other);
  job = te.writeJob({ name: 'ledger', privateNpm: { packages: [NAME, 'ledger-other'] }, github: false });
  const s = await te.run(job);
  expect(s.exitCode).toBe(1);
  const r = await te.cli(['ledger', 'export', job, '--out', join(te.dir, 'ledger.jsonl')]);
  expect(r.code, r.stderr).toBe(0);
  exported = readFileSync(join(te.dir, 'ledger.jsonl'), 'utf8');
});
afterAll(async () => {
  await te?.stop();
});

const chainLines = () => exported.trim().split('\n').slice(0, -1);
const trailerLine = () => exported.trim().split('\n').at(-1)!;
const rejoin = (lines: string[]) => `${lines.join('\n')}\n`;

describe('what the ledger records', () => {
  it('one entry per publish, conflict, failure and origin change, with provenance and hashes on every side', () => {
    const entries = chainLines().map((l) => (JSON.parse(l) as LedgerLine).entry);
    const by = (outcome: string) => entries.filter((e) => e.outcome === outcome).map((e) => `${e.package}@${e.version ?? ''}`);
    expect(by('published').sort()).toEqual(['ledger-other@2.0.0', `${NAME}@1.0.0`, `${NAME}@1.1.0`]);
    expect(by('conflict')).toEqual([`${NAME}@1.3.0`]);
    expect(by('failed:EINTEGRITY')).toEqual([`${NAME}@1.2.0`]);
    // ledger-pkg exists on the target already (1.3.0 was published there directly), and a
    // package first published internally is publish ALLOW / upstream BLOCK: nothing to change
    expect(by('origin-configuration')).toEqual(['ledger-other@']);
    const pub = entries.find((e) => e.outcome === 'published' && e.version === '1.0.0')!;
    expect(pub).toMatchObject({ job: 'ledger', format: 'npm', target: { domain: 'acme', domainOwner: '111122223333', repository: 'npm-internal' }, source: { id: 'private-npm', registry: te.sandbox.privateNpm.url } });
    expect(pub.principal).toBeTruthy();
    expect(pub.toolVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(pub.sourcePublishedAt).toMatch(/^\d{4}-/);
    const computed = pub.hashes!.computed!['package.tgz'] as Record<string, string>;
    const target = pub.hashes!.target!['package.tgz'] as Record<string, string>;
    expect(computed.sha512).toMatch(/^[0-9a-f]{128}$/);
    expect(target['SHA-512']).toBe(computed.sha512);
    expect(pub.hashes!.declared!.integrity).toBe(`sha512-${Buffer.from(computed.sha512!, 'hex').toString('base64')}`);
  });

  it('is append-only in the state database, and its chain holds', () => {
    const state = te.openState('ledger');
    try {
      expect(() => state.db.prepare("UPDATE ledger SET entry = '{}' WHERE seq = 1").run()).toThrow(/append-only/);
      expect(() => state.db.prepare('DELETE FROM ledger WHERE seq = 1').run()).toThrow(/append-only/);
      const lines = [...ledgerLines(state.db)];
      expect(verifyChain(rejoin(lines.map((l) => JSON.stringify(l))))).toEqual({ entries: lines.length });
    } finally {
      state.close();
    }
  });

  it('a rerun only adds entries (the failure again); the earlier ones are unchanged', async () => {
    await te.run(job);
    const state = te.openState('ledger');
    try {
      const now = [...ledgerLines(state.db)].map((l) => JSON.stringify({ seq: l.seq, hash: l.hash }));
      const before = chainLines().map((l) => JSON.parse(l) as LedgerLine).map((l) => JSON.stringify({ seq: l.seq, hash: l.hash }));
      expect(now.slice(0, before.length)).toEqual(before);
      expect(now.length).toBeGreaterThan(before.length);
    } finally {
      state.close();
    }
  });
});

describe('ledger verify', () => {
  it('an untouched export verifies (exit 0), and against the head hash kept apart', async () => {
    const file = join(te.dir, 'ok.jsonl');
    writeFileSync(file, exported);
    const head = (JSON.parse(trailerLine()) as { trailer: { head: string } }).trailer.head;
    const r = await te.cli(['ledger', 'verify', file, '--head', head]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await te.cli(['ledger', 'verify', file, '--head', 'f'.repeat(64)])).code).toBe(1);
  });

  const tampered: [string, (lines: string[]) => string[], number][] = [
    ['an edited entry', (l) => l.map((x, i) => (i === 2 ? JSON.stringify({ ...(JSON.parse(x) as object), entry: { ...(JSON.parse(x) as LedgerLine).entry, principal: 'someone else' } }) : x)), 3],
    ['a deleted entry', (l) => l.filter((_, i) => i !== 1), 2],
    ['an inserted entry', (l) => [...l.slice(0, 2), l[0]!, ...l.slice(2)], 3],
    ['two entries swapped', (l) => [l[0]!, l[2]!, l[1]!, ...l.slice(3)], 2],
    ['the first entry deleted', (l) => l.slice(1), 1],
  ];
  for (const [what, change, firstBroken] of tampered) {
    it(`${what}: exit 1, naming the first broken line (${firstBroken})`, async () => {
      const file = join(te.dir, `${what.replace(/\W+/g, '-')}.jsonl`);
      writeFileSync(file, rejoin([...change(chainLines()), trailerLine()]));
      const r = await te.cli(['ledger', 'verify', file, '--json']);
      expect(r.code).toBe(1);
      expect((JSON.parse(r.stdout) as { broken?: { line: number } }).broken?.line).toBe(firstBroken);
    });
  }

  it('entries cut off the end: the trailer no longer matches; no trailer at all is reported too', async () => {
    const lines = chainLines();
    const cut = await verifyLedger(rejoin([...lines.slice(0, -1), trailerLine()]), {});
    expect(cut.broken?.reason).toMatch(/trailer/);
    const noTrailer = await verifyLedger(rejoin(lines.slice(0, -1)), {});
    expect(noTrailer.trailer).toBeUndefined();
    const file = join(te.dir, 'no-trailer.jsonl');
    writeFileSync(file, rejoin(lines.slice(0, -1)));
    expect((await te.cli(['ledger', 'verify', file])).code).toBe(1);
  });

  it('a torn last line (a crash mid-write) is reported; the entries before it still verify', async () => {
    const lines = chainLines();
    const text = `${lines.join('\n')}\n${lines[lines.length - 1]!.slice(0, 40)}`;
    const r = await verifyLedger(text, {});
    expect(r.tornLastLine).toBe(true);
    expect(r.broken).toBeUndefined();
    expect(r.entries).toBe(lines.length);
  });

  it('a file replaced on the target after the migration is found by reading the target again', async () => {
    const file = join(te.dir, 'target.jsonl');
    writeFileSync(file, exported);
    expect((await verifyLedger(exported, { job, codeartifactClient: te.client })).targetMismatches).toEqual([]);
    te.sandbox.standIn.replaceAssetBytes('npm-internal', 'npm', undefined, NAME, '1.1.0', 'package.tgz', await makeTarball(NAME, '1.1.0', { extraFiles: { 'evil.js': 'x' } }));
    const r = await verifyLedger(exported, { job, codeartifactClient: te.client });
    expect(r.targetMismatches).toEqual([expect.objectContaining({ package: NAME, version: '1.1.0', file: 'package.tgz' })]);
  });
});
