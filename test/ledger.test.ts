/**
 * The provenance ledger: written with the state changes it records, hash
 * chained, append-only; exported as JSON Lines with a trailer; and verified:
 * editing, deleting, inserting or reordering any entry, cutting entries off
 * the end or tearing the last line is detected and named; a file replaced on
 * the target after the migration is found by reading the target again.
 */
import { CodeartifactClient, DisposePackageVersionsCommand, UpdatePackageVersionsStatusCommand } from '@aws-sdk/client-codeartifact';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerExportCommand, ledgerVerifyCommand, verifyLedger, type VerifyResult } from '../src/cli/ledger.js';
import type { Io } from '../src/cli/output.js';
import { registerSecret } from '../src/redact.js';
import { StateDb, type ItemRow } from '../src/state/db.js';
import { appendLedger, chainHash, exportLine, GENESIS, ledgerLines, verifyChain, type LedgerLine } from '../src/state/ledger.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { startHostileStore } from './support/hostile-store.js';
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
    // package first published internally is publish ALLOW / upstream BLOCK: nothing to change,
    // but the ledger names its protection once, as found; in npm-store each name gets upstream BLOCK
    // (the store would otherwise ingest a public package of the name): one entry each, naming the store
    const origin = (repository: string) => entries.filter((e) => e.outcome === 'origin-configuration' && e.target.repository === repository).map((e) => `${e.package}@${e.version ?? ''}`);
    expect(origin('npm-internal').sort()).toEqual(['ledger-other@', `${NAME}@`]);
    expect(origin('npm-store').sort()).toEqual(['ledger-other@', `${NAME}@`]);
    const found = entries.filter((e) => e.outcome === 'origin-configuration' && e.package === NAME && e.target.repository === 'npm-internal');
    expect(found.map((e) => e.detail)).toEqual([expect.stringContaining('recorded as found')]);
    const pub = entries.find((e) => e.outcome === 'published' && e.version === '1.0.0')!;
    expect(pub).toMatchObject({ job: 'ledger', format: 'npm', target: { domain: 'acme', domainOwner: '111122223333', repository: 'npm-internal' }, source: { id: 'private-npm', registry: te.sandbox.privateNpm.url } });
    expect(pub.principal).toBeTruthy();
    expect(pub.toolVersion).toMatch(/^\d+\.\d+\.\d+/);
    // which job file: two files of one job name, or one edited between runs, are told apart
    const jobSha = createHash('sha256').update(readFileSync(job)).digest('hex');
    for (const e of entries) expect(e.jobFile, `${e.outcome} ${e.package}@${e.version}`).toEqual({ path: resolve(job), sha256: jobSha });
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
      expect(verifyChain(rejoin(lines.map((l) => exportLine(l))))).toMatchObject({ entries: lines.length, head: lines.at(-1)!.hash });
      expect(verifyChain(rejoin(lines.map((l) => exportLine(l)))).broken).toBeUndefined();
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

describe("a target's enormous error body", () => {
  it('is kept cut to a bound, with a marker, in the state, the ledger and the summary; the version fails as before and the others migrate', async () => {
    const HUGE = 'ledger-huge';
    const versions = ['4.0.0', '4.0.1', '4.0.2'];
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: HUGE, versions }]);
    // a peer that answers a 1 MB error: a gateway's page, a service echoing the request back
    const body = `refused: ${'x'.repeat(2 ** 20)} the end`;
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersionAssets', package: HUGE, version: '4.0.1', status: 400, errorType: 'ValidationException', message: body });
    const hugeJob = te.writeJob({ name: 'huge-error', privateNpm: { packages: [HUGE] }, github: false });
    try {
      const summary = await te.run(hugeJob);
      expect(summary.exitCode).toBe(1);
      const state = te.openState('huge-error');
      let rows: ItemRow[];
      try {
        rows = state.items('package = ?', HUGE);
      } finally {
        state.close();
      }
      expect(Object.fromEntries(rows.map((r) => [r.version, [r.state, r.last_error_code]]))).toEqual({
        '4.0.0': ['verified', null],
        '4.0.1': ['failed', 'ETARGETREJECTED'],
        '4.0.2': ['verified', null],
      });
      const bounded = (text: string | null | undefined) => {
        expect(text).toMatch(/refused: x+… \(\d+ more characters\) …x+ the end/);
        expect(text!.length).toBeLessThanOrEqual(4000);
      };
      bounded(rows.find((r) => r.version === '4.0.1')!.last_error);
      expect(summary.failures.map((f) => [f.version, f.code])).toEqual([['4.0.1', 'ETARGETREJECTED']]);
      bounded(summary.failures[0]!.message);

      const out = join(te.dir, 'huge-error.jsonl');
      const r = await te.cli(['ledger', 'export', hugeJob, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      const failed = lines.map((l) => JSON.parse(l) as LedgerLine).find((l) => l.entry?.outcome === 'failed:ETARGETREJECTED')!;
      bounded(failed.entry.detail);
      for (const l of lines) expect(l.length).toBeLessThan(16_000);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });
});

describe("CodeArtifact's enormous refusal ending a command", () => {
  it("is printed cut, start and end kept, on stderr and in --json: the command's answer stays readable", async () => {
    const body = `User: arn:aws:iam::111122223333:user/mig is not authorized ${'y'.repeat(2 ** 20)} the end`;
    te.sandbox.standIn.addFault({ operation: 'GetRepositoryEndpoint', status: 403, errorType: 'AccessDeniedException', message: body });
    try {
      for (const args of [['run', job], ['run', job, '--json']]) {
        const r = await te.cli(args);
        expect(r.code, r.stderr).not.toBe(0);
        const said = r.stdout + r.stderr;
        expect(said).toMatch(/ETARGET(SETUP|AUTH)/);
        expect(said).toMatch(/User: arn:aws:iam::111122223333:user\/mig is not authorized y+… \(\d+ more characters\) …y+ the end/);
        expect(said.length).toBeLessThan(16_000);
        expect(said).not.toMatch(STACK);
      }
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });
});

describe("CodeArtifact's enormous refusal echoing a credential", () => {
  it('is redacted before it is cut: no part of the password reaches stderr, --json or the state', async () => {
    const body = `proxy refused https://deploy:${'Pw9'.repeat(400_000)}@artifacts.example/npm the end`;
    te.sandbox.standIn.addFault({ operation: 'GetRepositoryEndpoint', status: 403, errorType: 'AccessDeniedException', message: body });
    try {
      for (const args of [['run', job], ['run', job, '--json']]) {
        const r = await te.cli(args);
        expect(r.code, r.stderr).not.toBe(0);
        expect(r.stdout + r.stderr).toMatch(/proxy refused https:\/\/\*\*\*@artifacts\.example\/npm the end/);
        expect(r.stdout + r.stderr).not.toMatch(/Pw9/);
      }
    } finally {
      te.sandbox.standIn.clearFaults();
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

  it('the last entry written twice (as it is, renumbered, or with the trailer counted again): the copy is the broken line', async () => {
    const lines = chainLines();
    const last = JSON.parse(lines.at(-1)!) as LedgerLine;
    const renumbered = exportLine({ ...last, seq: lines.length + 1 });
    const recounted = exportLine({ trailer: { ...(JSON.parse(trailerLine()) as { trailer: object }).trailer, entries: lines.length + 1 } });
    for (const text of [rejoin([...lines, lines.at(-1)!, trailerLine()]), rejoin([...lines, renumbered, trailerLine()]), rejoin([...lines, renumbered, recounted])]) {
      const r = await verifyLedger(text, {});
      expect(r.broken?.line).toBe(lines.length + 1);
      expect(r.entries).toBe(lines.length);
    }
  });

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

  it('an export by a release that left U+061C raw still verifies (the same value and hash); a spelling no release wrote is refused', () => {
    const entries = [
      { outcome: 'published', package: 'bidi', version: '1.0.0', detail: 'tag v1.0\u061c.0' },
      // a backslash, then the text u061c: no character to unescape
      { outcome: 'published', package: 'bidi', version: '1.0.1', detail: 'a \\u061c path' },
    ];
    let prevHash = '0'.repeat(64);
    const lines = entries.map((entry, i) => {
      const hash = chainHash(prevHash, entry);
      const line = exportLine({ seq: i + 1, prevHash, hash, entry });
      prevHash = hash;
      return line;
    });
    const trailer = exportLine({ trailer: { entries: 2, head: prevHash, job: 'bidi', exportedAt: '2026-01-01T00:00:00.000Z' } });
    expect(lines[0]).toContain('\\u061c');
    const earlier = lines[0]!.replace('\\u061c', '\u061c');
    expect(verifyChain(rejoin([lines[0]!, lines[1]!, trailer])).broken).toBeUndefined();
    expect(verifyChain(rejoin([earlier, lines[1]!, trailer])).broken).toBeUndefined();
    // U+061C raw where the entry holds a backslash and the text u061c: another value, refused
    const forged = lines[1]!.replace('\\\\u061c', '\\\u061c');
    expect(forged).not.toBe(lines[1]);
    expect(verifyChain(rejoin([lines[0]!, forged, trailer])).broken?.line).toBe(2);
  });

  it('a torn last line (a crash mid-write) is reported; the entries before it still verify', async () => {
    const lines = chainLines();
    const text = `${lines.join('\n')}\n${lines[lines.length - 1]!.slice(0, 40)}`;
    const r = await verifyLedger(text, {});
    expect(r.tornLastLine).toBe(true);
    expect(r.broken).toBeUndefined();
    expect(r.entries).toBe(lines.length);
  });

  it('--job says how far it is on stderr, with counts: a line each tenth of the way when stderr is no terminal, a bar on one; stdout is the result alone, as before', async () => {
    const VERSIONS = 40;
    const file = join(te.dir, 'many.jsonl');
    // versions the target never had: each read answers, each is reported changed (its file missing)
    const entries = Array.from({ length: VERSIONS }, (_, i) => ({ format: 'npm', package: 'ledger-many', version: `9.0.${i}`, target: { repository: 'npm-internal' }, hashes: { computed: { 'package.tgz': { sha512: 'ab'.repeat(64) } } } }));
    writeFileSync(file, entriesExport(entries));
    const verify = async (json: boolean, tty: boolean) => {
      const stdout: string[] = [];
      const stderr: string[] = [];
      // words on stdout when it is a terminal, JSON otherwise
      const io = { stdout: { isTTY: !json, write: (t: string) => stdout.push(t) }, stderr: { isTTY: tty, columns: 200, write: (t: string) => stderr.push(t) } } as unknown as Io;
      const code = await ledgerVerifyCommand(file, { job, codeartifactClient: te.client, json }, io);
      return { code, stdout: stdout.join(''), stderr: stderr.join('') };
    };
    const plain = await verify(false, false);
    expect(plain.code).toBe(1);
    const progress = [...plain.stderr.matchAll(/^ledger verify: (\d+) of (\d+) versions read on the target, (\d+) file\(s\) changed, (\d+) unread$/gm)].map((m) => m.slice(1).map(Number));
    expect(progress.map(([done]) => done)).toEqual([4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    for (const [, total, changed, unread] of progress) expect([total, changed! <= VERSIONS, unread]).toEqual([VERSIONS, true, 0]);
    expect(progress.at(-1)).toEqual([VERSIONS, VERSIONS, VERSIONS, 0]);
    expect(plain.stderr.trim().split('\n')).toHaveLength(progress.length);
    // stdout: the words it always had, and nothing of the progress
    expect(plain.stdout).not.toMatch(/versions read on the target/);
    expect(plain.stdout).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${VERSIONS} entries, the chain holds\n`));
    expect(plain.stdout).toContain(`  target: ${VERSIONS} versions read again, ${VERSIONS} with other files, 0 unread\n`);

    const json = await verify(true, false);
    expect(JSON.parse(json.stdout)).toMatchObject({ file, entries: VERSIONS, targetChecked: VERSIONS, targetErrors: [] });
    expect(json.stderr).toMatch(/ledger verify: 40 of 40 versions read on the target/);

    // on a terminal: one bar, redrawn, that ends at the count; stdout the same as without one
    const tty = await verify(false, true);
    expect(tty.stdout).toBe(plain.stdout);
    expect(tty.stderr).toMatch(/40\/40 versions read on the target/);
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

/** Run the CLI; one that has not ended after `ms` is killed (by its pid) and reported with code null. */
async function cliWithin(args: string[], ms: number, opts?: { shell?: string }) {
  const child = te.spawnCli(args, {}, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const STACK = /^\s+at .+[(:]\d+/m;

/** An export of the test's own with these entries, chained, and its trailer. */
function entriesExport(entries: Record<string, unknown>[]): string {
  let prev = GENESIS;
  const lines = entries.map((entry, i) => {
    const e = { at: '2024-01-01T00:00:00.000Z', toolVersion: '0.0.0', job: 'ledger', principal: 'arn:aws:iam::111122223333:user/a', outcome: 'published', target: {}, ...entry };
    const hash = chainHash(prev, e);
    const line = exportLine({ seq: i + 1, prevHash: prev, hash, entry: e });
    prev = hash;
    return line;
  });
  return rejoin([...lines, exportLine({ trailer: { entries: entries.length, head: prev, job: 'ledger', exportedAt: '2024-01-01T00:00:00.000Z' } })]);
}

/** A one-entry export of the test's own: what a run could record, for what a run cannot easily be made to record. */
function oneEntryExport(entry: Record<string, unknown>): string {
  const e = { at: '2024-01-01T00:00:00.000Z', toolVersion: '0.0.0', job: 'ledger', principal: 'arn:aws:iam::111122223333:user/a', outcome: 'published', target: {}, ...entry };
  const hash = chainHash(GENESIS, e);
  return rejoin([exportLine({ seq: 1, prevHash: GENESIS, hash, entry: e }), exportLine({ trailer: { entries: 1, head: hash, job: 'ledger', exportedAt: '2024-01-01T00:00:00.000Z' } })]);
}

describe('ledger verify: one spelling per entry', () => {
  // Each of these parses to the entry that was hashed, so the chain alone holds; but the bytes
  // say something else to another reader (a first-key-wins parser, a person reading the file).
  const respelled: [string, (lines: string[]) => string[], number][] = [
    ['a duplicate key (another reader takes the first)', (l) => l.map((x, i) => (i === 2 ? x.replace('"principal":', '"principal":"someone else","principal":') : x)), 3],
    ['spaces added', (l) => l.map((x, i) => (i === 1 ? x.replace(/^\{"entry":/, '{ "entry": ') : x)), 2],
    ['a character written as a \\u escape', (l) => l.map((x, i) => (i === 3 ? x.replace('"entry":{"at"', '"entry":{"\\u0061t"') : x)), 4],
    ['a field added outside the hashed entry', (l) => l.map((x, i) => (i === 0 ? x.replace(/^\{/, '{"approvedBy":"security",') : x)), 1],
    ['every entry renumbered (seq is not hashed)', (l) => l.map((x) => x.replace(/"seq":(\d+)/, (_m, n: string) => `"seq":${Number(n) + 100}`)), 1],
  ];
  for (const [what, change, firstBroken] of respelled) {
    it(`${what}: exit 1, naming line ${firstBroken}`, async () => {
      const file = join(te.dir, `respelled-${what.replace(/\W+/g, '-')}.jsonl`);
      writeFileSync(file, rejoin([...change(chainLines()), trailerLine()]));
      const r = await te.cli(['ledger', 'verify', file, '--json']);
      expect(r.code, r.stdout).toBe(1);
      expect((JSON.parse(r.stdout) as { broken?: { line: number } }).broken?.line).toBe(firstBroken);
    });
  }

  it('a bidi override, a C1 control or U+2028 written raw where the export escapes it: the file would read (or drive a terminal) otherwise, so it does not verify', async () => {
    const text = oneEntryExport({ detail: 'tag v1 \u202Eevil\u202C, \u009b2J and \u2028 here' });
    expect(text).toContain('\\u202e');
    const good = join(te.dir, 'escaped.jsonl');
    writeFileSync(good, text);
    expect((await te.cli(['ledger', 'verify', good])).code).toBe(0);
    for (const [name, escaped, raw] of [['bidi', '\\u202e', '\u202E'], ['c1', '\\u009b', '\u009b'], ['ls', '\\u2028', '\u2028']] as const) {
      const bad = join(te.dir, `raw-${name}.jsonl`);
      writeFileSync(bad, text.replace(escaped, raw));
      const r = await te.cli(['ledger', 'verify', bad, '--json']);
      expect(r.code, name).toBe(1);
      expect((JSON.parse(r.stdout) as { broken?: { line: number } }).broken?.line, name).toBe(1);
    }
  });

  it('the trailer edited (another job named): exit 1 at the trailer', async () => {
    const file = join(te.dir, 'trailer-job.jsonl');
    writeFileSync(file, rejoin([...chainLines(), trailerLine().replace('"job":"ledger"', '"job":"payments"')]));
    const r = await te.cli(['ledger', 'verify', file, '--json']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { broken?: { line: number } }).broken?.line).toBe(chainLines().length + 1);
  });

  it('bytes that are not UTF-8 where the entry held U+FFFD: the file differs, so it does not verify', async () => {
    const text = oneEntryExport({ detail: 'unreadable \uFFFD byte' });
    const good = join(te.dir, 'fffd.jsonl');
    writeFileSync(good, text);
    expect((await te.cli(['ledger', 'verify', good])).code).toBe(0);
    const bad = join(te.dir, 'fffd-bad.jsonl');
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf(Buffer.from('\uFFFD', 'utf8'));
    writeFileSync(bad, Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]));
    const r = await te.cli(['ledger', 'verify', bad, '--json']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { broken?: { line: number } }).broken?.line).toBe(1);
  });
});

describe('ledger verify: hostile files end quickly, naming the file, without a stack trace', () => {
  const cases: [string, () => string][] = [
    ['/dev/zero', () => '/dev/zero'],
    [
      'a FIFO nobody writes to',
      () => {
        const f = join(te.dir, 'fifo.jsonl');
        execFileSync('mkfifo', [f]);
        return f;
      },
    ],
    ['a directory', () => te.dir],
    [
      'a gzip of an export',
      () => {
        const f = join(te.dir, 'ledger.jsonl.gz');
        writeFileSync(f, gzipSync(exported));
        return f;
      },
    ],
    [
      'one endless line (16 MiB, no newline)',
      () => {
        const f = join(te.dir, 'endless.jsonl');
        writeFileSync(f, Buffer.alloc(16 * 1024 * 1024, 0x7b));
        return f;
      },
    ],
    [
      'binary after a good first line',
      () => {
        const f = join(te.dir, 'binary.jsonl');
        writeFileSync(f, Buffer.concat([Buffer.from(`${chainLines()[0]!}\n`), Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x0a])]));
        return f;
      },
    ],
  ];
  for (const [what, make] of cases) {
    it(what, async () => {
      const file = make();
      const started = Date.now();
      const r = await cliWithin(['ledger', 'verify', file], 20_000);
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).not.toBeNull();
      expect([1, 2]).toContain(r.code);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(r.stdout + r.stderr).toContain(file);
      expect(r.stdout + r.stderr).not.toMatch(STACK);
    }, 30_000);
  }

  it('a bad line says which line; the lines before it verified', async () => {
    const r = await cliWithin(['ledger', 'verify', join(te.dir, 'binary.jsonl'), '--json'], 20_000);
    expect(JSON.parse(r.stdout)).toMatchObject({ entries: 1, broken: { line: 2, reason: expect.stringMatching(/UTF-8/) } });
  });
});

describe('ledger verify --job: the target read again', () => {
  const notReplaced = (r: VerifyResult) => r.targetMismatches.filter((m) => !(m.package === NAME && m.version === '1.1.0'));
  const published = () => new Set(chainLines().map((l) => (JSON.parse(l) as LedgerLine).entry).filter((e) => e.outcome === 'published' || e.outcome === 'present-identical').map((e) => `${e.package}@${e.version}`)).size;

  it('a version the ledger records in another domain (a job moved with --retarget) is not read in the job\'s: counted apart, never reported missing', async () => {
    // the run's own chain, then what a trial into another domain would have added
    const entries = chainLines().map((l) => (JSON.parse(l) as LedgerLine).entry);
    const trial = { ...entries.find((e) => e.outcome === 'published')!, version: '9.9.9', target: { ...entries[0]!.target, domain: 'acme-scratch', repository: 'npm-scratch' } };
    const lines: string[] = [];
    let prev = GENESIS;
    [...entries, trial].forEach((entry, i) => {
      const hash = chainHash(prev, entry);
      lines.push(exportLine({ seq: i + 1, prevHash: prev, hash, entry }));
      prev = hash;
    });
    lines.push(exportLine({ trailer: { entries: entries.length + 1, head: prev, job: 'ledger', exportedAt: '2024-01-01T00:00:00.000Z' } }));
    const r = await verifyLedger(rejoin(lines), { job, codeartifactClient: te.client });
    expect(r.broken).toBeUndefined();
    expect(r.otherDomains).toEqual([{ domain: expect.stringMatching(/\/acme-scratch$/), versions: 1 }]);
    expect([...r.targetErrors, ...r.targetMismatches].filter((m) => m.version === '9.9.9')).toEqual([]);
    expect(r.targetChecked).toBe(published());
  });

  it('a job file naming another domain than every version the ledger records (the wrong job file) is no pass: ELEDGERTARGET naming both, exit 1, nothing read', async () => {
    // the same job name (a staging copy of the job file): the trailer's job name cannot tell them apart
    const staging = join(te.dir, 'ledger-staging.yaml');
    writeFileSync(staging, readFileSync(job, 'utf8').replace(/domain: acme\b/, 'domain: acme-staging'));
    expect(readFileSync(staging, 'utf8')).toContain('domain: acme-staging');
    const file = join(te.dir, 'ledger-for-staging.jsonl');
    writeFileSync(file, exported);
    const before = te.sandbox.standIn.log.length;
    const r = await te.cli(['ledger', 'verify', file, '--job', staging, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } };
    expect(error.code).toBe('ELEDGERTARGET');
    // the job's target and the ledger's, and what to do
    expect(error.message).toContain('acme-staging');
    expect(error.message).toMatch(new RegExp(`${published()} versions? .*domain acme\\b`));
    expect(error.hint).toMatch(/--job/);
    expect(te.sandbox.standIn.log.slice(before).filter((e) => e.operation === 'ListPackageVersionAssets' || e.operation === 'ListPackageVersions')).toEqual([]);
  });

  it('a throttled read is retried, not a crash', async () => {
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersionAssets', status: 429, times: 2 });
    try {
      const r = await verifyLedger(exported, { job, codeartifactClient: te.client });
      expect(r.targetErrors).toEqual([]);
      expect(r.targetChecked).toBe(published());
      expect(notReplaced(r)).toEqual([]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('a version the target refuses to answer for is reported as not checked (exit 1), the others still read', async () => {
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersionAssets', package: 'ledger-other', status: 403 });
    try {
      const r = await verifyLedger(exported, { job, codeartifactClient: te.client });
      expect(r.targetErrors).toEqual([expect.objectContaining({ package: 'ledger-other', version: '2.0.0', error: expect.stringMatching(/^ETARGETAUTH/) })]);
      expect(r.targetChecked).toBe(published() - 1);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('a target that does not answer in time: every version not checked, and the verify ends', async () => {
    const noRetries = join(te.dir, 'ledger-no-retries.yaml');
    writeFileSync(noRetries, readFileSync(job, 'utf8').replace(/retries: \d+/, 'retries: 0'));
    te.sandbox.standIn.setLatency(3000);
    try {
      const r = await verifyLedger(exported, { job: noRetries, codeartifactClient: te.client, targetTimeoutMs: 300 });
      expect(r.targetChecked).toBe(0);
      expect(r.targetErrors).toHaveLength(published());
    } finally {
      te.sandbox.standIn.setLatency(0);
    }
  });

  it('credentials that expired: the reading stops at the first refusal (ETARGETCREDENTIALS, exit 1), every version counted unread, none reported as an error of its own', async () => {
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersionAssets', status: 403, errorType: 'ExpiredTokenException' });
    const file = join(te.dir, 'ledger-expired.jsonl');
    writeFileSync(file, exported);
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true } } as unknown as Io; // stdout alone: the progress goes to stderr
    try {
      expect(await ledgerVerifyCommand(file, { job, codeartifactClient: te.client, json: true }, io)).toBe(1);
      const r = JSON.parse(out.join('')) as VerifyResult;
      expect(r.targetStopped).toEqual({ code: 'ETARGETCREDENTIALS', message: expect.stringContaining('ExpiredTokenException'), hint: expect.stringContaining('renew'), unread: published() });
      expect(r.targetChecked).toBe(0);
      expect(r.targetErrors).toEqual([]);
      expect(r.targetMismatches).toEqual([]);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it('a target that stops answering: the reading stops after 8 reads in a row with no answer (ETARGETSILENT, exit 1), not every version x retries x the timeout', async () => {
    te.sandbox.standIn.addFault({ operation: 'ListPackageVersionAssets', status: 0, hang: true });
    const since = te.sandbox.standIn.log.length;
    const file = join(te.dir, 'ledger-stuck.jsonl');
    writeFileSync(file, exported);
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true } } as unknown as Io; // stdout alone: the progress goes to stderr
    try {
      expect(await ledgerVerifyCommand(file, { job, codeartifactClient: te.client, targetTimeoutMs: 300, json: true }, io)).toBe(1);
      const r = JSON.parse(out.join('')) as VerifyResult;
      expect(r.targetStopped).toEqual({ code: 'ETARGETSILENT', message: expect.stringContaining('answered none of the last 8'), hint: expect.stringContaining('rerun'), unread: published() });
      expect(r.targetChecked).toBe(0);
      expect(r.targetErrors).toEqual([]);
      // 8 reads at once: the 8th silence stops them, after at most 7 retries it let start
      // (without the stop: every version x 9 tries, a timeout and a back-off each)
      const asked = te.sandbox.standIn.log.slice(since).filter((e) => e.operation === 'ListPackageVersionAssets');
      expect(asked.length).toBeGreaterThanOrEqual(8);
      expect(asked.length).toBeLessThanOrEqual(8 + 7);
    } finally {
      te.sandbox.standIn.clearFaults();
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s while the target holds the reads open: the reading stops, what it read is printed with every version counted unread (EINTERRUPTED), exit 130', async (sig) => {
    // the child's reads alone go through this store: it holds each one open, and says when the first came
    const store = await startHostileStore(te.sandbox.descriptor.codeartifact.endpoint);
    let asked = false;
    store.route(/^\/v1\/package\/version\/assets/, () => void (asked = true));
    const file = join(te.dir, `ledger-stopped-${sig}.jsonl`);
    writeFileSync(file, exported);
    try {
      const child = te.spawnCli(['ledger', 'verify', file, '--job', job, '--json'], { AWS_ENDPOINT_URL_CODEARTIFACT: store.url });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | string>((res) => child.on('close', (code, signal) => res(code ?? signal ?? 'unknown')));
      const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      try {
        for (let i = 0; i < 600 && !asked; i++) await new Promise((r) => setTimeout(r, 50));
        expect(asked, stderr).toBe(true);
        child.kill(sig);
        expect(await exited, stderr).toBe(130);
      } finally {
        clearTimeout(guard);
      }
      expect(stderr).not.toMatch(STACK);
      const r = JSON.parse(stdout) as VerifyResult;
      // the chain was checked; the target was not: nothing passed, nothing reported as the target's fault
      expect(r.entries).toBeGreaterThan(0);
      expect(r.targetStopped).toMatchObject({ code: 'EINTERRUPTED', unread: published() });
      expect(r.targetChecked).toBe(0);
      expect(r.targetErrors).toEqual([]);
      expect(r.targetMismatches).toEqual([]);
    } finally {
      await store.stop();
    }
  }, 60_000);

  it('a target nobody answers at (connections refused): the reading stops within seconds (ETARGETUNREACHABLE, exit 1), every version counted unread, and versions past the first reads never asked for', async () => {
    // a port that was just listened on and closed: every connection to it is refused
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    // each connection attempt, and the version it was for
    const asked: string[] = [];
    class Counting extends NodeHttpHandler {
      override handle(...args: Parameters<NodeHttpHandler['handle']>): ReturnType<NodeHttpHandler['handle']> {
        asked.push(String(args[0].query?.['version']));
        return super.handle(...args);
      }
    }
    const refusing = new CodeartifactClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1, requestHandler: new Counting() });
    // one migrated version read as many: more versions than are read at once (8)
    const VERSIONS = 24;
    const entry = chainLines().map((l) => (JSON.parse(l) as LedgerLine).entry).find((e) => e.outcome === 'published')!;
    const lines: string[] = [];
    let prev = GENESIS;
    for (let i = 0; i < VERSIONS; i++) {
      const e = { ...entry, version: `7.0.${i}` };
      const hash = chainHash(prev, e);
      lines.push(exportLine({ seq: i + 1, prevHash: prev, hash, entry: e }));
      prev = hash;
    }
    lines.push(exportLine({ trailer: { entries: VERSIONS, head: prev, job: 'ledger', exportedAt: '2024-01-01T00:00:00.000Z' } }));
    const file = join(te.dir, 'ledger-refused.jsonl');
    writeFileSync(file, rejoin(lines));
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true } } as unknown as Io; // stdout alone: the progress goes to stderr
    try {
      expect(await ledgerVerifyCommand(file, { job, codeartifactClient: refusing, json: true }, io)).toBe(1);
    } finally {
      refusing.destroy();
    }
    const r = JSON.parse(out.join('')) as VerifyResult;
    expect(r.targetStopped).toEqual({ code: 'ETARGETUNREACHABLE', message: expect.stringContaining('ECONNREFUSED'), hint: expect.stringContaining('AWS_ENDPOINT_URL_CODEARTIFACT'), unread: VERSIONS });
    expect(r.targetChecked).toBe(0);
    expect(r.targetErrors).toEqual([]);
    // the 8 first reads were retried until the stop; the other versions were never asked for
    // (without the stop: every version, each with the job's 6 retries)
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((v) => v.startsWith('7.0.'))).toBe(true);
    expect(new Set(asked).size).toBeLessThanOrEqual(8);
    expect(asked.length).toBeLessThan(8 * 7);
  });

  it('--download hashes the bytes the target serves: a store that keeps the old listing over other bytes is found', async () => {
    const other = 'ledger-other';
    const good = (await verifyLedger(exported, { job, codeartifactClient: te.client, download: true }));
    expect(good.targetErrors).toEqual([]);
    expect(good.targetDownloaded).toBeGreaterThan(0);
    expect(notReplaced(good)).toEqual([]);
    // corrupted storage: the listing still shows the migrated hashes, the bytes are others
    te.sandbox.standIn.replaceAssetBytes('npm-internal', 'npm', undefined, other, '2.0.0', 'package.tgz', await makeTarball(other, '2.0.0', { extraFiles: { 'evil.js': 'x' } }), { keepHashes: true });
    const listed = await verifyLedger(exported, { job, codeartifactClient: te.client });
    expect(listed.targetMismatches.filter((m) => m.package === other)).toEqual([]); // the listing alone cannot tell
    const served = await verifyLedger(exported, { job, codeartifactClient: te.client, download: true });
    expect(served.targetMismatches.filter((m) => m.package === other)).toEqual([expect.objectContaining({ version: '2.0.0', file: 'package.tgz', via: 'download' })]);
    const file = join(te.dir, 'download.jsonl');
    writeFileSync(file, exported);
    const cli = await te.cli(['ledger', 'verify', file, '--job', job, '--download']);
    expect(cli.code).toBe(1);
    const out = JSON.parse(cli.stdout) as VerifyResult;
    expect(out.targetMismatches).toContainEqual(expect.objectContaining({ package: other, via: 'download', ledger: expect.stringMatching(/^[0-9a-f]{128}$/), target: expect.stringMatching(/^[0-9a-f]{128}$/) }));
    expect(out.targetDownloaded).toBe(good.targetDownloaded);
    // --download without a job to read the target with is a usage error
    const alone = await te.cli(['ledger', 'verify', file, '--download', '--json']);
    expect(alone.code).toBe(2);
    expect((JSON.parse(alone.stdout) as { error: { code: string } }).error.code).toBe('ECONFIG');
  });

  it('a torn last line: the entries before it are still read again (no crash)', async () => {
    const lines = chainLines();
    const r = await verifyLedger(`${lines.join('\n')}\n${lines.at(-1)!.slice(0, 40)}`, { job, codeartifactClient: te.client });
    expect(r.tornLastLine).toBe(true);
    expect(r.targetChecked).toBe(published());
  });

  it('the job file of another job is refused (exit 2), not read as a target full of missing versions', async () => {
    const other = join(te.dir, 'other-job.yaml');
    writeFileSync(other, readFileSync(job, 'utf8').replace(/^name: ledger$/m, 'name: other'));
    const file = join(te.dir, 'for-other.jsonl');
    writeFileSync(file, exported);
    const r = await te.cli(['ledger', 'verify', file, '--job', other, '--json']);
    expect(r.code).toBe(2);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ECONFIG');
  });

  it('a file added to a migrated version on the target is a mismatch', async () => {
    const store = (te.sandbox.standIn as unknown as { store: { getPackage(...a: unknown[]): { versions: Map<string, { assets: { name: string }[] }> } } }).store;
    const v = store.getPackage('npm-internal', 'npm', undefined, NAME).versions.get('1.0.0')!;
    v.assets.push({ ...v.assets[0]!, name: 'extra.tgz' });
    try {
      const r = await verifyLedger(exported, { job, codeartifactClient: te.client });
      expect(notReplaced(r)).toEqual([expect.objectContaining({ package: NAME, version: '1.0.0', file: 'extra.tgz', ledger: '(not in the ledger)' })]);
    } finally {
      v.assets.pop();
    }
  });

  it('a version Archived or Unlisted on the target since, its files listed as migrated: reported with its status (exit 1, --json and words), restored it passes again', async () => {
    // what security asks of the target: that it still serves what was migrated; a lockfile pinning
    // an Archived version no longer installs, and npm and pip no longer see an Unlisted one
    const coords = { domain: 'acme', domainOwner: '111122223333', repository: 'npm-internal', format: 'npm' as const, package: NAME };
    const file = join(te.dir, 'status.jsonl');
    writeFileSync(file, exported);
    const verify = async (json: boolean) => {
      const out: string[] = [];
      const io = { stdout: { isTTY: !json, write: (t: string) => out.push(t) }, stderr: { write: () => true } } as unknown as Io;
      const code = await ledgerVerifyCommand(file, { job, codeartifactClient: te.client, json }, io);
      return { code, out: out.join('') };
    };
    const downloaded = (await verifyLedger(exported, { job, codeartifactClient: te.client, download: true })).targetDownloaded!;
    const since = te.sandbox.standIn.log.length;
    try {
      for (const status of ['Archived', 'Unlisted'] as const) {
        await te.client.send(new UpdatePackageVersionsStatusCommand({ ...coords, versions: ['1.0.0'], targetStatus: status }));
        const json = await verify(true);
        expect(json.code, json.out).toBe(1);
        const r = await verifyLedger(exported, { job, codeartifactClient: te.client });
        expect(notReplaced(r)).toEqual([]); // its files still list the migrated hashes
        expect(r.targetNotPublished).toEqual([{ package: NAME, version: '1.0.0', status }]);
        expect((JSON.parse(json.out) as VerifyResult).targetNotPublished).toEqual([{ package: NAME, version: '1.0.0', status }]);
        const words = await verify(false);
        expect(words.code).toBe(1);
        expect(words.out).toContain(`  NOT PUBLISHED ON THE TARGET ${NAME}@1.0.0: status ${status}`);
        expect(words.out).toMatch(/with other files, 1 not Published, /);
        // --download: an Archived version serves no bytes (the status above says why), so it is not
        // also a version left unread; an Unlisted one still serves them, and they are read
        const read = await verifyLedger(exported, { job, codeartifactClient: te.client, download: true });
        expect(read.targetErrors).toEqual([]);
        expect(read.targetNotPublished).toEqual([{ package: NAME, version: '1.0.0', status }]);
        expect(read.targetMismatches.filter((m) => m.package === NAME && m.version === '1.0.0')).toEqual([]);
        expect(read.targetDownloaded).toBe(downloaded - (status === 'Archived' ? 1 : 0));
      }
    } finally {
      await te.client.send(new UpdatePackageVersionsStatusCommand({ ...coords, versions: ['1.0.0'], targetStatus: 'Published' }));
    }
    const r = await verifyLedger(exported, { job, codeartifactClient: te.client });
    expect(r.targetNotPublished).toEqual([]);
    expect(notReplaced(r)).toEqual([]);
    // the statuses come from one listing per package (two here, ledger-pkg with two versions), not a read per version
    const reads = te.sandbox.standIn.log.slice(since);
    expect(reads.filter((e) => e.operation === 'DescribePackageVersion')).toEqual([]);
    const verifies = 9; // 2 statuses x (1 + --json + words + --download), and the one restored
    expect(reads.filter((e) => e.operation === 'ListPackageVersions').length).toBe(verifies * 2);
  });

  it('a version disposed of on the target: its file is missing, and its status said', async () => {
    await te.client.send(new DisposePackageVersionsCommand({ domain: 'acme', domainOwner: '111122223333', repository: 'npm-internal', format: 'npm', package: 'ledger-other', versions: ['2.0.0'] }));
    const r = await verifyLedger(exported, { job, codeartifactClient: te.client });
    expect(notReplaced(r)).toEqual([expect.objectContaining({ package: 'ledger-other', version: '2.0.0', file: 'package.tgz', target: '(missing)' })]);
    expect(r.targetNotPublished).toEqual([{ package: 'ledger-other', version: '2.0.0', status: 'Disposed' }]);
  });
});

describe('ledger export', () => {
  it('to stdout and to a file: the same bytes, safe for a terminal, and both verify (text a redaction would rewrite included)', async () => {
    const state = te.openState('ledger');
    try {
      const last = [...ledgerLines(state.db)].at(-1)!.entry;
      // what a run may have recorded: a URL, then on the next line a '?' (the redaction of the
      // stored text left it alone: the newline ends the URL); C1 and bidi control characters
      appendLedger(state.db, { ...last, at: new Date().toISOString(), outcome: 'failed:ESOURCE', detail: 'GET https://registry.example/pkg\n?retry=1 \u009b2J \u202etxt.exe', package: '=HYPERLINK("http://x")', version: '+1', format: '@SUM(1)' });
    } finally {
      state.close();
    }
    const file = join(te.dir, 'exports', 'new-folder', 'ledger.jsonl');
    const toFile = await te.cli(['ledger', 'export', job, '--out', file]);
    expect(toFile.code, toFile.stderr).toBe(0);
    const toStdout = await te.cli(['ledger', 'export', job]);
    expect(toStdout.code, toStdout.stderr).toBe(0);
    const fileText = readFileSync(file, 'utf8');
    const withoutTime = (t: string) => t.replace(/"exportedAt":"[^"]+"/, '');
    expect(withoutTime(toStdout.stdout)).toBe(withoutTime(fileText));
    for (const text of [fileText, toStdout.stdout]) {
      expect(text).not.toMatch(/[\u009b\u202e]/);
      const r = await verifyLedger(text, {});
      expect(r.broken).toBeUndefined();
      expect(r.trailer).toBeDefined();
    }
    const csv = await te.cli(['ledger', 'export', job, '--format', 'csv']);
    expect(csv.code).toBe(0);
    expect(csv.stdout).not.toMatch(/[\u009b\u202e]/);
    // no cell a spreadsheet would take for a formula
    expect(csv.stdout).not.toMatch(/(^|,)"[=+\-@\t]/m);
    expect(csv.stdout).toContain(`"'=HYPERLINK(""http://x"")"`);
  });

  it('--out naming the state database (or its -wal, or any SQLite file): refused (exit 2), the state and its ledger untouched', async () => {
    const database = join(te.stateDir, 'ledger.sqlite');
    const before = readFileSync(database);
    const entries = (() => {
      const state = te.openState('ledger');
      try {
        return [...ledgerLines(state.db)].length;
      } finally {
        state.close();
      }
    })();
    // the same file by another spelling of its folder: a link to the state directory
    const viaLink = join(te.dir, 'state-link');
    symlinkSync(te.stateDir, viaLink);
    const other = join(te.dir, 'kept-copy.sqlite');
    writeFileSync(other, before);
    for (const out of [database, `${database}-wal`, join(viaLink, 'ledger.sqlite'), other]) {
      const r = await te.cli(['ledger', 'export', job, '--out', out]);
      expect(r.code, `${out}: ${r.stdout} ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('error ECONFIG: --out ');
      expect(r.stderr).toContain('the export would replace it');
      expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ECONFIG');
    }
    expect(readFileSync(other).equals(before)).toBe(true);
    const state = te.openState('ledger');
    try {
      expect([...ledgerLines(state.db)].length).toBe(entries);
    } finally {
      state.close();
    }
    // `-` is stdout, as for any one-file output; a report's folder cannot be `-`
    const dash = await te.cli(['ledger', 'export', job, '--out', '-']);
    expect(dash.code, dash.stderr).toBe(0);
    expect((await verifyLedger(dash.stdout, {})).broken).toBeUndefined();
    expect(existsSync(join(te.dir, '-'))).toBe(false);
    const report = await te.cli(['report', job, '--out', '-']);
    expect(report.code).toBe(2);
    expect(report.stderr).toContain('"-" (stdout) is no place for the report');
    expect(existsSync(join(te.dir, '-'))).toBe(false);
  });

  it('--out over a symbolic link replaces the link; the file it pointed at is untouched', async () => {
    const precious = join(te.dir, 'precious.txt');
    writeFileSync(precious, 'keep me\n');
    const link = join(te.dir, 'linked.jsonl');
    symlinkSync(precious, link);
    const r = await te.cli(['ledger', 'export', job, '--out', link]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(precious, 'utf8')).toBe('keep me\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(false);
    expect((await verifyLedger(readFileSync(link, 'utf8'), {})).broken).toBeUndefined();
  });

  it('what a killed export left beside its name (kill -9: nothing could clean up) is removed by the next export; a live writer\'s is left alone', async () => {
    const dir = join(te.dir, 'killed');
    mkdirSync(dir);
    const file = join(dir, 'ledger.jsonl');
    // a pid that was a process and is gone, as a killed export's
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const leftover = `ledger.jsonl.${gone}-0badf00d.tmp`;
    const live = `ledger.jsonl.${process.pid}-1234abcd.tmp`;
    writeFileSync(join(dir, leftover), 'half an export');
    writeFileSync(join(dir, live), 'being written');
    writeFileSync(join(dir, 'ledger.jsonl.notes.tmp'), 'not ours');
    const r = await te.cli(['ledger', 'export', job, '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['ledger.jsonl', 'ledger.jsonl.notes.tmp', live].sort());
  });

  it('a write that fails (file size limit): ELOCAL, and no partial export left under the name or beside it', async () => {
    // a ledger larger than the limit; the limit larger than what opening the state writes (its -shm)
    const state = te.openState('ledger');
    try {
      const last = [...ledgerLines(state.db)].at(-1)!.entry;
      state.db.transaction(() => {
        for (let i = 0; i < 100; i++) appendLedger(state.db, { ...last, at: new Date().toISOString(), detail: `filler ${i} ${'x'.repeat(2000)}` });
      })();
    } finally {
      state.close();
    }
    const dir = join(te.dir, 'small');
    mkdirSync(dir);
    const file = join(dir, 'ledger.jsonl');
    const r = await cliWithin(['ledger', 'export', job, '--out', file], 20_000, { shell: 'ulimit -f 128' });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ELOCAL');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a ledger changed by hand in the state database is not exported as if whole', async () => {
    const copyDir = join(te.dir, 'state-copy');
    mkdirSync(copyDir);
    const state = te.openState('ledger');
    try {
      state.db.exec(`VACUUM INTO '${join(copyDir, 'ledger.sqlite')}'`);
    } finally {
      state.close();
    }
    const copy = StateDb.open(join(copyDir, 'ledger.sqlite'));
    try {
      copy.db.exec('DROP TRIGGER ledger_no_update');
      copy.db.prepare("UPDATE ledger SET entry = json_set(entry, '$.principal', 'someone else') WHERE seq = 2").run();
    } finally {
      copy.close();
    }
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } } as unknown as Io;
    const file = join(te.dir, 'from-copy.jsonl');
    expect(await ledgerExportCommand(job, { stateDir: copyDir, out: file, json: true }, io)).toBe(2);
    expect(out.join('')).toMatch(/ESTATE/);
    expect(existsSync(file)).toBe(false);
  });

  it('no registered secret reaches a ledger entry, the principal included (an STS error can be its text)', () => {
    const planted = ['PLANTED', 'stsERROR', 'secret', '31337'].join('-');
    registerSecret(planted);
    const state = te.openState('ledger');
    try {
      const last = [...ledgerLines(state.db)].at(-1)!.entry;
      appendLedger(state.db, { ...last, at: new Date().toISOString(), principal: `unknown (InvalidClientTokenId: ${planted})`, detail: `token ${planted}` });
      const stored = state.db.prepare('SELECT entry FROM ledger ORDER BY seq DESC LIMIT 1').get() as { entry: string };
      expect(stored.entry).not.toContain(planted);
    } finally {
      state.close();
    }
  });
});

describe('ledger verify --job with the state at hand: what an unkeyed chain cannot tell alone', () => {
  const CUT = 'ledger-cut';
  let cutJob: string;
  let fresh: string;
  const linesOf = (text: string) => text.trim().split('\n');
  /** The entries the fresh export holds (a publish per version, and harden's origin changes). */
  const n = () => linesOf(fresh).length - 1;
  /** The export's entries from `lines` on, every hash and the trailer computed again: a chain that holds alone. */
  const rechain = (entries: LedgerLine['entry'][], exportedAt: string) => {
    let prev = GENESIS;
    const out = entries.map((entry, i) => {
      const hash = chainHash(prev, entry);
      const line = exportLine({ seq: i + 1, prevHash: prev, hash, entry });
      prev = hash;
      return line;
    });
    return rejoin([...out, exportLine({ trailer: { entries: entries.length, head: prev, job: CUT, exportedAt } })]);
  };
  const verifyFile = async (name: string, text: string) => {
    const file = join(te.dir, name);
    writeFileSync(file, text);
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true } } as unknown as Io;
    const code = await ledgerVerifyCommand(file, { job: cutJob, codeartifactClient: te.client, stateDir: te.stateDir, json: true }, io);
    const words: string[] = [];
    const wio = { stdout: { isTTY: true, write: (t: string) => words.push(t) }, stderr: { write: () => true } } as unknown as Io;
    await ledgerVerifyCommand(file, { job: cutJob, codeartifactClient: te.client, stateDir: te.stateDir, json: false }, wio);
    return { code, result: JSON.parse(out.join('')) as VerifyResult, words: words.join('') };
  };

  beforeAll(async () => {
    await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: CUT, versions: ['1.0.0', '1.0.1', '1.0.2'] }]);
    cutJob = te.writeJob({ name: CUT, privateNpm: { packages: [CUT] }, github: false });
    expect((await te.run(cutJob)).exitCode).toBe(0);
    const r = await te.cli(['ledger', 'export', cutJob, '--out', join(te.dir, 'cut-fresh.jsonl')]);
    expect(r.code, r.stderr).toBe(0);
    fresh = readFileSync(join(te.dir, 'cut-fresh.jsonl'), 'utf8');
  });

  it('the export as written: the state holds the same entries (exit 0)', async () => {
    const v = await verifyFile('cut-as-is.jsonl', fresh);
    expect(v.result.state).toMatchObject({ compared: true, entries: n(), heldBefore: 0, addedSince: 0 });
    expect(v.result.state).not.toHaveProperty('differsAt');
    expect(v.code).toBe(0);
    expect(v.words).toContain(`holds these ${n()} entries as its first, and no other`);
  });

  it('cut at an entry boundary, the trailer written again: the chain holds alone, the state names the cut (exit 1)', async () => {
    const lines = linesOf(fresh);
    const kept = lines.slice(0, -2).map((l) => JSON.parse(l) as LedgerLine);
    const trailer = (JSON.parse(lines.at(-1)!) as { trailer: { exportedAt: string } }).trailer;
    const cut = rejoin([...lines.slice(0, -2), exportLine({ trailer: { entries: kept.length, head: kept.at(-1)!.hash, job: CUT, exportedAt: trailer.exportedAt } })]);
    expect(verifyChain(cut).broken).toBeUndefined(); // alone, nothing to see
    const v = await verifyFile('cut-short.jsonl', cut);
    expect(v.result.broken).toBeUndefined();
    expect(v.result.state).toMatchObject({ compared: true, entries: n(), heldBefore: 1, addedSince: 0 });
    expect(v.code).toBe(1);
    expect(v.words).toMatch(/CUT OFF against the state .*ledger-cut\.sqlite: the state recorded 1 entries after this export's last before the export was written/);
    // the command line compares with the state of its --state-dir
    const cli = await te.cli(['ledger', 'verify', join(te.dir, 'cut-short.jsonl'), '--job', cutJob, '--json']);
    expect(cli.code).toBe(1);
    expect((JSON.parse(cli.stdout) as VerifyResult).state).toMatchObject({ compared: true, heldBefore: 1 });
  });

  it('cut, with a trailer whose exportedAt is no time (so no entry could be said recorded before it): the trailer is refused (exit 1)', async () => {
    const lines = linesOf(fresh);
    const kept = lines.slice(0, -2).map((l) => JSON.parse(l) as LedgerLine);
    for (const exportedAt of ['x', '', 1700000000000, null, '2024-01-01']) {
      const cut = rejoin([...lines.slice(0, -2), exportLine({ trailer: { entries: kept.length, head: kept.at(-1)!.hash, job: CUT, exportedAt } })]);
      const v = await verifyFile('cut-no-time.jsonl', cut);
      expect(v.result.broken, String(exportedAt)).toMatchObject({ line: lines.length - 1, reason: expect.stringContaining('trailer') });
      expect(v.code).toBe(1);
    }
  });

  it('rewritten whole (an entry changed, every hash and the trailer computed again): the state names the first entry that differs (exit 1)', async () => {
    const lines = linesOf(fresh);
    const entries = lines.slice(0, -1).map((l) => (JSON.parse(l) as LedgerLine).entry);
    const trailer = (JSON.parse(lines.at(-1)!) as { trailer: { exportedAt: string } }).trailer;
    entries[1] = { ...entries[1]!, principal: 'arn:aws:iam::111122223333:user/someone-else' };
    const forged = rechain(entries, trailer.exportedAt);
    expect(verifyChain(forged).broken).toBeUndefined();
    const v = await verifyFile('cut-forged.jsonl', forged);
    expect(v.result.state).toMatchObject({ compared: true, differsAt: 2 });
    expect(v.code).toBe(1);
    expect(v.words).toMatch(/NOT THE STATE'S LEDGER .*: entry 2 differs from the state's/);
    // an entry the state never held, appended with its hashes: not the state's either
    const longer = rechain([...(linesOf(fresh).slice(0, -1).map((l) => (JSON.parse(l) as LedgerLine).entry)), { ...entries[0]!, version: '9.9.9' }], trailer.exportedAt);
    const w = await verifyFile('cut-longer.jsonl', longer);
    expect(w.result.state).toMatchObject({ compared: true, entries: n(), differsAt: n() + 1 });
    expect(w.code).toBe(1);
  });

  it('entries the state recorded after the export are said, not a failure; with no state at hand, nothing is compared', async () => {
    const state = te.openState(CUT);
    try {
      const last = [...ledgerLines(state.db)].at(-1)!.entry;
      appendLedger(state.db, { ...last, at: new Date(Date.now() + 1000).toISOString(), outcome: 'origin-configuration', detail: 'later' });
    } finally {
      state.close();
    }
    const v = await verifyFile('cut-later.jsonl', fresh);
    expect(v.result.state).toMatchObject({ compared: true, entries: n() + 1, heldBefore: 0, addedSince: 1 });
    expect(v.code).toBe(0);
    expect(v.words).toContain('and 1 added since the export');
    const elsewhere = await verifyLedger(fresh, { job: cutJob, codeartifactClient: te.client, stateDir: join(te.dir, 'no-state-here') });
    expect(elsewhere.state).toMatchObject({ compared: false, reason: expect.stringContaining('no state database') });
    expect(elsewhere.targetErrors).toEqual([]);
  });
});
