/**
 * `ledger export` and `ledger verify` given what a careless operator or a hostile
 * file supplier hands them, without the sandbox: a state made here, chains built here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListPackageVersionAssetsCommand, ListPackageVersionsCommand } from '@aws-sdk/client-codeartifact';
import { ledgerExportCommand, ledgerVerifyCommand, verifyLedgerFile, type VerifyResult } from '../src/cli/ledger.js';
import type { Io } from '../src/cli/output.js';
import { loadJob } from '../src/config/load.js';
import { StateDb } from '../src/state/db.js';
import { chainHash, exportLine, GENESIS, ledgerContext } from '../src/state/ledger.js';
import { fakeClient } from './support/fake-client.js';
import { ROOT, TSX_LOADER } from './support/harness.js';

let dir: string;
let jobFile: string;
let stateDir: string;

function capture(): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stream = (add: (s: string) => void) => ({ write: (s: string | Uint8Array) => (add(String(s)), true), isTTY: false }) as unknown as NodeJS.WriteStream;
  return { io: { stdout: stream((s) => (out += s)), stderr: stream((s) => (err += s)) } as Io, out: () => out, err: () => err };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-ledger-hostile-'));
  jobFile = join(dir, 'job.yaml');
  writeFileSync(jobFile, readFileSync('jobs/example.yaml', 'utf8'));
  const job = loadJob(jobFile);
  stateDir = join(dir, 'state');
  const db = StateDb.open(join(stateDir, `${job.name}.sqlite`));
  db.ledger = ledgerContext(job, job.config.target, { arn: 'arn:aws:iam::123456789012:user/ops' }, {});
  for (let i = 0; i < 3; i++) db.appendLedger({ outcome: 'origin-configuration', format: 'npm', package: `p${i}`, target: { repository: 'npm-internal' }, detail: 'set' });
  db.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ledger export --out naming what is no export file', () => {
  it('the job file it reads: refused (exit 2), the job file untouched', async () => {
    // a copy of its own: the current code replaces it
    const own = join(dir, 'own-job.yaml');
    writeFileSync(own, readFileSync(jobFile));
    const before = readFileSync(own);
    const c = capture();
    expect(await ledgerExportCommand(own, { stateDir, out: own }, c.io)).toBe(2);
    expect(c.err()).toMatch(/ECONFIG.*job file/);
    expect(readFileSync(own)).toEqual(before);
  });

  // /dev/null or /dev/stdout as root: the rename would replace the device (or the link) for the whole machine
  it('a FIFO, or a link to one (/dev/stdout is a link to what fd 1 is): refused (exit 2), left as it was', async () => {
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const link = join(dir, 'stdout-like');
    symlinkSync(fifo, link);
    for (const out of [fifo, link]) {
      const c = capture();
      expect(await ledgerExportCommand(jobFile, { stateDir, out }, c.io), c.err()).toBe(2);
      expect(c.err()).toContain(out);
      expect(c.err()).toMatch(/--out -/);
    }
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  // /dev/stdout links to whatever fd 1 is, a regular file under `> file`: nothing in /dev is renamed over
  it('a name in /dev: refused (exit 2), nothing made there', async () => {
    const out = `/dev/cam-ledger-test-${process.pid}.jsonl`;
    try {
      const c = capture();
      expect(await ledgerExportCommand(jobFile, { stateDir, out }, c.io), c.err()).toBe(2);
      expect(c.err()).toMatch(/ECONFIG.*\/dev/);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(out, { force: true });
    }
  });

  it('a file in a folder under /dev (/dev/shm, a tmpfs) is a file like any other: written', async () => {
    if (!existsSync('/dev/shm')) return;
    const out = `/dev/shm/cam-ledger-test-${process.pid}.jsonl`;
    try {
      expect(await ledgerExportCommand(jobFile, { stateDir, out }, capture().io)).toBe(0);
      expect(readFileSync(out, 'utf8')).toMatch(/"trailer"/);
    } finally {
      rmSync(out, { force: true });
    }
  });

  it('a regular file, or a link to one, is still replaced (an export written again)', async () => {
    const file = join(dir, 'again.jsonl');
    writeFileSync(file, 'old');
    expect(await ledgerExportCommand(jobFile, { stateDir, out: file }, capture().io)).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/"trailer"/);
  });
});

/** An export of `entries` as `ledger export` writes it: the entry lines, then the trailer. */
function exportOf(entries: Record<string, unknown>[], job = 'acme-migration'): string[] {
  let prevHash = GENESIS;
  const lines = entries.map((entry, i) => {
    const hash = chainHash(prevHash, entry);
    const line = exportLine({ seq: i + 1, prevHash, hash, entry });
    prevHash = hash;
    return line;
  });
  lines.push(exportLine({ trailer: { entries: entries.length, head: entries.length ? prevHash : '', job, exportedAt: '2026-01-01T00:00:00.000Z' } }));
  return lines;
}
const someEntries = (job = 'acme-migration') => [1, 2, 3].map((i) => ({ at: '2026-01-01T00:00:00.000Z', job, outcome: 'origin-configuration', format: 'npm', package: `p${i}`, target: { repository: 'npm-internal' } }));

describe('ledger verify: what follows the trailer', () => {
  it('a line after the trailer (a blank one, or text appended) is named as that line, after the trailer, not the trailer as a bad entry', async () => {
    for (const tail of ['\n', 'appended\n']) {
      const file = join(dir, 'after-trailer.jsonl');
      writeFileSync(file, `${exportOf(someEntries()).join('\n')}\n${tail}`);
      const r = await verifyLedgerFile(file, {});
      expect(r.entries).toBe(3);
      expect(r.broken?.line, tail).toBe(5);
      expect(r.broken?.reason).toMatch(/after the trailer/);
    }
  });
});

describe('ledger verify: bytes that are not UTF-8 on a last line with no newline', () => {
  it('are named like on any other line, not read as U+FFFD (the trailer would verify with them)', async () => {
    const lines = exportOf(someEntries());
    const trailer = Buffer.from(lines.at(-1)!);
    const at = trailer.indexOf('2026-01-01');
    trailer[at] = 0xff;
    const file = join(dir, 'binary-last.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from(`${lines.slice(0, -1).join('\n')}\n`), trailer]));
    const r = await verifyLedgerFile(file, {});
    expect(r.broken).toMatchObject({ line: 4, reason: expect.stringMatching(/UTF-8/) });
  });

  it('a last line cut inside a character by a crash is still torn, the entries before it valid', async () => {
    const entries = someEntries();
    entries[2]!.package = 'p\u00e9\u00e9\u00e9';
    const lines = exportOf(entries);
    const last = Buffer.from(lines[2]!);
    const cut = last.subarray(0, last.indexOf(0xc3) + 1);
    const file = join(dir, 'torn-mid-char.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from(`${lines.slice(0, 2).join('\n')}\n`), cut]));
    const r = await verifyLedgerFile(file, {});
    expect(r).toMatchObject({ entries: 2, tornLastLine: true });
    expect(r.broken).toBeUndefined();
  });

  it('the first byte of a character after a whole trailer, no newline: torn, never the trailer whole', async () => {
    const file = join(dir, 'byte-after-trailer.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from(exportOf(someEntries()).join('\n')), Buffer.from([0xc3])]));
    const r = await verifyLedgerFile(file, {});
    expect(r.broken ?? r.tornLastLine).toBeTruthy();
  });
});

describe('ledger verify --job: entries no export holds', () => {
  it('a chain whose published entries name a package or version that is not text: each reported not checked (exit 1), never EUNEXPECTED', async () => {
    const job = loadJob(jobFile);
    const entry = (pkg: unknown, version: unknown) => ({
      at: '2026-01-01T00:00:00.000Z',
      job: job.name,
      outcome: 'published',
      format: 'npm',
      package: pkg,
      version,
      target: { ...job.config.target, repository: 'npm-internal' },
      hashes: { computed: { 'package.tgz': { sha512: 'ab' } } },
    });
    const file = join(dir, 'not-text.jsonl');
    // a chain computed whole (no --head): it holds, whatever its entries say
    writeFileSync(file, `${exportOf([entry(5, '1.0.0'), entry(6, '1.0.0'), entry({ a: 1 }, ['1'])], job.name).join('\n')}\n`);
    const client = fakeClient(() => Promise.reject(new Error('no target in this test')));
    const c = capture();
    const code = await ledgerVerifyCommand(file, { job: jobFile, json: true, codeartifactClient: client, targetTimeoutMs: 2000 }, c.io);
    expect(c.out()).not.toMatch(/EUNEXPECTED/);
    expect(code, c.out()).toBe(1);
    const r = JSON.parse(c.out()) as VerifyResult;
    expect(r.targetErrors.filter((e) => /not text/.test(e.error))).toHaveLength(3);
  });
});

describe('ledger verify: a file that is not the JSON Lines export', () => {
  it('the CSV export: refused by name (exit 2: it cannot be verified), not reported as a broken chain', async () => {
    const csv = join(dir, 'ledger.csv');
    expect(await ledgerExportCommand(jobFile, { stateDir, out: csv, format: 'csv' }, capture().io)).toBe(0);
    for (const text of [readFileSync(csv, 'utf8'), `\ufeff${readFileSync(csv, 'utf8')}`]) {
      writeFileSync(csv, text);
      const c = capture();
      expect(await ledgerVerifyCommand(csv, { json: false }, c.io)).toBe(2);
      expect(c.out()).not.toMatch(/BROKEN/);
      expect(c.err()).toContain(csv);
      expect(c.err()).toMatch(/ECONFIG.*CSV/);
    }
  });

  it('an export an editor saved with a byte order mark: line 1 says so, not "not a JSON ledger line"', async () => {
    const file = join(dir, 'bom.jsonl');
    writeFileSync(file, `\ufeff${exportOf(someEntries()).join('\n')}\n`);
    const r = await verifyLedgerFile(file, {});
    expect(r.broken).toMatchObject({ line: 1, reason: expect.stringMatching(/byte order mark/) });
  });
});

describe('ledger verify: JSON nested past any entry', () => {
  it('an entry (or the trailer) a million arrays deep, under the line limit: that line is named, not EUNEXPECTED (stack overflow)', async () => {
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    const entryLine = `{"entry":{"a":${deep}},"hash":"${'1'.repeat(64)}","prevHash":"${GENESIS}","seq":1}`;
    const trailerLine = `{"trailer":{"entries":0,"exportedAt":${deep},"head":"","job":"acme-migration"}}`;
    for (const [text, line] of [[`${entryLine}\n${entryLine}\n`, 1], [`${entryLine}\n`, 1], [`${trailerLine}\n`, 1]] as const) {
      const file = join(dir, 'deep.jsonl');
      writeFileSync(file, text);
      const c = capture();
      expect(await ledgerVerifyCommand(file, { json: true }, c.io)).toBe(1);
      expect(c.out()).not.toMatch(/EUNEXPECTED|call stack/);
      expect((JSON.parse(c.out()) as VerifyResult).broken).toMatchObject({ line, reason: expect.stringMatching(/nested/) });
    }
  });
});

/** An export of one `published` entry of npm p@1.0.0 into the job's npm-internal, with these files' computed hashes. */
function oneVersionLedger(name: string, computed: Record<string, Record<string, unknown>>): string {
  const job = loadJob(jobFile);
  const file = join(dir, name);
  const entry = { at: '2026-01-01T00:00:00.000Z', job: job.name, outcome: 'published', format: 'npm', package: 'p', version: '1.0.0', target: { ...job.config.target, repository: 'npm-internal' }, hashes: { computed } };
  writeFileSync(file, `${exportOf([entry], job.name).join('\n')}\n`);
  return file;
}

/** A client listing these assets for p@1.0.0, and the package's versions as given. */
function listingClient(assets: Record<string, unknown>[], versions: { version: string; status: string }[] = [{ version: '1.0.0', status: 'Published' }]) {
  return fakeClient(async (cmd) => {
    if (cmd instanceof ListPackageVersionAssetsCommand) return { assets };
    if (cmd instanceof ListPackageVersionsCommand) return { versions };
    throw new Error(`unexpected ${(cmd as object).constructor.name}`);
  });
}

describe('ledger verify --job: files the target lists', () => {
  it('a file added on the target under a name Object.prototype holds (constructor, toString, __proto__) is reported added, like any other name', async () => {
    const file = oneVersionLedger('added-proto-name.jsonl', { 'package.tgz': { sha512: 'ab' } });
    const listed = ['package.tgz', 'constructor', 'toString', '__proto__'];
    const client = listingClient(listed.map((name) => ({ name, hashes: { 'SHA-512': name === 'package.tgz' ? 'ab' : 'cd' } })));
    const c = capture();
    expect(await ledgerVerifyCommand(file, { job: jobFile, json: true, codeartifactClient: client }, c.io)).toBe(1);
    const r = JSON.parse(c.out()) as VerifyResult;
    expect(r.targetMismatches.map((m) => m.file).sort()).toEqual(['__proto__', 'constructor', 'toString']);
  });
});

describe('ledger verify --job: a listing that names a file twice', () => {
  it('once with the ledger\'s hash, once with another: never passed (which of the two a client gets is the target\'s choice)', async () => {
    const file = oneVersionLedger('listed-twice.jsonl', { 'package.tgz': { sha512: 'ab' } });
    for (const order of [['cd', 'ab'], ['ab', 'cd']]) {
      const client = listingClient(order.map((h) => ({ name: 'package.tgz', hashes: { 'SHA-512': h } })));
      const c = capture();
      const code = await ledgerVerifyCommand(file, { job: jobFile, json: true, codeartifactClient: client }, c.io);
      const r = JSON.parse(c.out()) as VerifyResult;
      expect(code, c.out()).toBe(1);
      expect(r.targetMismatches.length + r.targetErrors.length, c.out()).toBeGreaterThan(0);
    }
  });
});

describe('ledger verify --job: a listing that is not the service\'s answer (a 200 with other JSON: the SDK hands its values through as they are)', () => {
  // the ledger says package.tgz is ab; each listing below vouches for nothing, so none may pass
  const garbage: [string, unknown][] = [
    ['a SHA-512 that is a number', [{ name: 'package.tgz', hashes: { 'SHA-512': 5 } }]],
    ['a SHA-512 that is an object', [{ name: 'package.tgz', hashes: { 'SHA-512': { ab: true } } }]],
    ['a file added with a SHA-512 that is a number', [{ name: 'package.tgz', hashes: { 'SHA-512': 'ab' } }, { name: 'extra.tgz', hashes: { 'SHA-512': 5 } }]],
    ['the hashes a list', [{ name: 'package.tgz', hashes: ['ab'] }]],
    ['a file named by a number', [{ name: 'package.tgz', hashes: { 'SHA-512': 'ab' } }, { name: 7, hashes: { 'SHA-512': 'cd' } }]],
    ['a size that is text', [{ name: 'package.tgz', size: 'big', hashes: { 'SHA-512': 'ab' } }]],
    ['the assets an object', { 'package.tgz': { 'SHA-512': 'ab' } }],
    ['the assets text', 'package.tgz'],
  ];
  // the same job, its retries none: a proxy answering so is asked again (ETARGET), which would only make this wait
  let onceJob: string;
  beforeAll(() => {
    onceJob = join(dir, 'once-job.yaml');
    writeFileSync(onceJob, readFileSync(jobFile, 'utf8').replace(/^( +retries:) \d+/m, '$1 0'));
    expect(loadJob(onceJob).config.limits.retries).toBe(0);
  });
  for (const [what, assets] of garbage) {
    it(`${what}: the version is reported not checked (ETARGET, exit 1), never passed nor a crash`, async () => {
      const file = oneVersionLedger('garbage-listing.jsonl', { 'package.tgz': { sha512: 'ab' } });
      const client = listingClient(assets as Record<string, unknown>[]);
      const r = await verifyLedgerFile(file, { job: onceJob, codeartifactClient: client });
      expect(r.targetChecked, JSON.stringify(r)).toBe(0);
      expect(r.targetErrors, JSON.stringify(r)).toEqual([{ package: 'p', version: '1.0.0', error: expect.stringMatching(/^ETARGET: ListPackageVersionAssets of .* not an answer the service gives/) }]);
      const c = capture();
      expect(await ledgerVerifyCommand(file, { job: onceJob, json: true, codeartifactClient: client }, c.io)).toBe(1);
      expect(c.err()).not.toMatch(/TypeError|EUNEXPECTED/);
    });
  }
});

describe('ledger verify --job: every hash both sides have', () => {
  // the ledger records size, MD5, SHA-1, SHA-256 and SHA-512 per file; the listing gives its own
  const ours = { size: 3, md5: 'aa01', sha1: 'bb01', sha256: 'cc01', sha512: 'dd01' };
  const theirs = { size: 3, hashes: { MD5: 'AA01', 'SHA-1': 'bb01', 'SHA-256': 'CC01', 'SHA-512': 'dd01' } };
  /** `status` null: the package's version listing does not name the version. */
  const verifyAgainst = async (asset: { size?: number; hashes: Record<string, string> }, status: string | null = 'Published') => {
    const file = oneVersionLedger('every-hash.jsonl', { 'package.tgz': ours });
    const client = listingClient([{ name: 'package.tgz', ...asset }], status === null ? [{ version: '0.9.0', status: 'Published' }] : [{ version: '1.0.0', status }]);
    const c = capture();
    const code = await ledgerVerifyCommand(file, { job: jobFile, json: true, codeartifactClient: client }, c.io);
    return { code, r: JSON.parse(c.out()) as VerifyResult };
  };

  it('all alike (hex in either case): passes', async () => {
    const { code, r } = await verifyAgainst(theirs);
    expect(r.targetMismatches).toEqual([]);
    expect(code).toBe(0);
  });

  it('the SHA-512 the ledger\'s, another hash or the size not: exit 1, naming the one that differs', async () => {
    const lies: [string, { size?: number; hashes: Record<string, string> }, string, string][] = [
      ['sha256', { ...theirs, hashes: { ...theirs.hashes, 'SHA-256': 'cc02' } }, 'cc01', 'cc02'],
      ['sha1', { ...theirs, hashes: { ...theirs.hashes, 'SHA-1': 'bb02' } }, 'bb01', 'bb02'],
      ['md5', { ...theirs, hashes: { ...theirs.hashes, MD5: 'aa02' } }, 'aa01', 'aa02'],
      ['size', { ...theirs, size: 4 }, '3', '4'],
    ];
    for (const [hash, listed, ledger, target] of lies) {
      const { code, r } = await verifyAgainst(listed);
      expect(code, hash).toBe(1);
      expect(r.targetMismatches, hash).toEqual([{ package: 'p', version: '1.0.0', file: 'package.tgz', hash, ledger, target, via: 'listing' }]);
    }
  });

  it('a hash the listing leaves out is not compared (nothing to compare); the SHA-512 always is', async () => {
    expect((await verifyAgainst({ hashes: { 'SHA-512': 'dd01' } })).code).toBe(0);
    const { code, r } = await verifyAgainst({ hashes: { 'SHA-256': 'cc01' } });
    expect(code).toBe(1);
    expect(r.targetMismatches).toEqual([expect.objectContaining({ hash: 'sha512', target: '(no SHA-512)' })]);
  });

  it('files alike, the version Archived, or one the package listing does not name while its files are listed: exit 1, with its status', async () => {
    const archived = await verifyAgainst(theirs, 'Archived');
    expect(archived.code).toBe(1);
    expect(archived.r.targetNotPublished).toEqual([{ package: 'p', version: '1.0.0', status: 'Archived' }]);
    // a listing that leaves out a version it serves files of is not the service's answer either way
    const unnamed = await verifyAgainst(theirs, null);
    expect(unnamed.code).toBe(1);
    expect(unnamed.r.targetNotPublished).toEqual([{ package: 'p', version: '1.0.0', status: '(not listed)' }]);
  });
});

describe('ledger verify --head given what is no head hash', () => {
  it('empty (--head "$HEAD" with HEAD unset), or not 64 hex digits: refused (exit 2) before reading, not a HEAD MISMATCH (a tamper alarm)', async () => {
    const file = join(dir, 'for-head.jsonl');
    const lines = exportOf(someEntries());
    writeFileSync(file, `${lines.join('\n')}\n`);
    for (const head of ['', '   ', 'sha256:abc', '(empty)']) {
      const c = capture();
      expect(await ledgerVerifyCommand(file, { head, json: false }, c.io), head).toBe(2);
      expect(c.out()).not.toMatch(/MISMATCH/);
      expect(c.err()).toMatch(/ECONFIG.*--head/);
    }
    // the hash as kept, in capitals or with a newline from a file, still checks
    const kept = (JSON.parse(lines.at(-1)!) as { trailer: { head: string } }).trailer.head;
    for (const head of [kept, `${kept.toUpperCase()}\n`]) expect(await ledgerVerifyCommand(file, { head, json: false }, capture().io)).toBe(0);
    expect(await ledgerVerifyCommand(file, { head: 'f'.repeat(64), json: false }, capture().io)).toBe(1);
  });
});

describe('ledger export --format csv', () => {
  it("a git-built version's source cell shows what built it (builtWith), not [object Object]", async () => {
    const job = loadJob(jobFile);
    const own = join(dir, 'csv-state');
    const db = StateDb.open(join(own, `${job.name}.sqlite`));
    db.ledger = ledgerContext(job, job.config.target, { arn: 'arn:aws:iam::123456789012:user/ops' }, {});
    db.appendLedger({ outcome: 'published', format: 'npm', package: 'built', version: '1.0.0', target: { repository: 'npm-internal' }, source: { id: 'lib', git: 'https://git.example/lib.git', tag: 'v1.0.0', commit: 'abc', builtWith: { node: 'v20.19.0', npm: '10.8.2' } } });
    db.close();
    const c = capture();
    expect(await ledgerExportCommand(jobFile, { stateDir: own, format: 'csv' }, c.io)).toBe(0);
    expect(c.out()).not.toContain('[object Object]');
    expect(c.out()).toMatch(/builtWith=\{""node"":""v20\.19\.0"",""npm"":""10\.8\.2""\}/);
  });
});

describe('ledger export of a state whose ledger holds a row that is no entry', () => {
  // the triggers refuse UPDATE and DELETE; an INSERT by hand (sqlite3, a tool gone wrong) still goes in
  it('a row whose entry is not a JSON object: ESTATE naming that entry (exit 2), as for an edited one, never EUNEXPECTED; no export left', async () => {
    for (const [i, bad] of ['not json', '[1,2]', 'null'].entries()) {
      const own = join(dir, `inserted-${i}`);
      const db = StateDb.open(join(own, 'acme-migration.sqlite'));
      db.ledger = ledgerContext({ name: 'acme-migration', file: jobFile }, loadJob(jobFile).config.target, { arn: 'arn:aws:iam::123456789012:user/ops' }, {});
      db.appendLedger({ outcome: 'origin-configuration', format: 'npm', package: 'p', target: { repository: 'npm-internal' }, detail: 'set' });
      const head = (db.db.prepare('SELECT hash FROM ledger').get() as { hash: string }).hash;
      // the chain's own fields right: only the entry is wrong
      db.db.prepare('INSERT INTO ledger (at, prev_hash, hash, entry) VALUES (?, ?, ?, ?)').run('2026-01-01T00:00:00.000Z', head, createHash('sha256').update(`${head}\n${bad}`).digest('hex'), bad);
      db.close();
      for (const format of ['jsonl', 'csv'] as const) {
        const out = join(own, `export.${format}`);
        const c = capture();
        expect(await ledgerExportCommand(jobFile, { stateDir: own, out, format }, c.io), `${bad} ${format}: ${c.err()}`).toBe(2);
        expect(c.err()).toMatch(/ESTATE.*entry 2/);
        expect(c.err()).not.toMatch(/EUNEXPECTED/);
        expect(existsSync(out)).toBe(false);
      }
    }
  });
});

describe('ledger export to stdout that fails after some entries went out', () => {
  // stdout is the export itself (`cam ledger export job > ledger.jsonl`, `| verify`): an error JSON
  // document appended after the entries already written is a line of another shape in the JSON Lines,
  // and text that is no CSV in the CSV; the error goes to stderr, the exit code says the export failed
  it('an entry edited by hand (entry 2 of 3): exit 2, stdout holds entry 1 only, no error document after it; ESTATE on stderr', async () => {
    const own = join(dir, 'edited-mid-stdout');
    const job = loadJob(jobFile);
    const db = StateDb.open(join(own, `${job.name}.sqlite`));
    db.ledger = ledgerContext(job, job.config.target, { arn: 'arn:aws:iam::123456789012:user/ops' }, {});
    for (let i = 0; i < 3; i++) db.appendLedger({ outcome: 'origin-configuration', format: 'npm', package: `p${i}`, target: { repository: 'npm-internal' }, detail: 'set' });
    db.db.exec('DROP TRIGGER ledger_no_update');
    db.db.prepare("UPDATE ledger SET entry = json_set(entry, '$.detail', 'edited') WHERE seq = 2").run();
    db.close();
    for (const format of ['jsonl', 'csv'] as const) {
      const c = capture();
      // as main.ts calls it: json is always on for export (its errors are JSON on stdout when nothing else went there)
      expect(await ledgerExportCommand(jobFile, { stateDir: own, format, json: true }, c.io), `${format}: ${c.err()}`).toBe(2);
      expect(c.err()).toMatch(/ESTATE.*entry 2/);
      const lines = c.out().trimEnd().split('\n');
      expect(c.out(), format).not.toMatch(/"error"/);
      if (format === 'jsonl') {
        expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1]);
      } else {
        // the header and entry 1
        expect(lines).toHaveLength(2);
        expect(lines[1]).toMatch(/^"1",/);
      }
    }
  });

  it('an error before anything went to stdout is still the JSON error document there (as for an unreadable state)', async () => {
    const c = capture();
    expect(await ledgerExportCommand(jobFile, { stateDir: join(dir, 'no-state-here'), json: true }, c.io)).toBe(2);
    expect((JSON.parse(c.out()) as { error: { code: string } }).error.code).toBe('ESTATE');
  });
});

describe('ledger verify given the state database', () => {
  it('is refused by name (exit 2: export its ledger first), not reported as a broken chain', async () => {
    const database = join(stateDir, `${loadJob(jobFile).name}.sqlite`);
    const c = capture();
    expect(await ledgerVerifyCommand(database, { json: false }, c.io)).toBe(2);
    expect(c.out()).not.toMatch(/BROKEN/);
    expect(c.err()).toContain(database);
    expect(c.err()).toMatch(/ECONFIG.*SQLite.*ledger export/);
  });
});

describe('ledger verify, human form, of a file whose text says what verify says', () => {
  // the file is what is being checked: a job name in its trailer or its entries is its supplier's text
  it('no text from the file prints a line of its own: a forged "the chain holds" continues under the line quoting it', async () => {
    const file = join(dir, 'forged-verdict.jsonl');
    const forged = `acme-migration"\n${file}: 3 entries, the chain holds\n\u001b[2K`;
    const lines = exportOf(someEntries());
    lines[lines.length - 1] = exportLine({ trailer: { entries: 3, head: JSON.parse(lines[2]!).hash, job: forged, exportedAt: '2026-01-01T00:00:00.000Z' } });
    writeFileSync(file, `${lines.join('\n')}\n`);
    // a terminal: the human form
    const c = capture();
    (c.io.stdout as { isTTY?: boolean }).isTTY = true;
    expect(await ledgerVerifyCommand(file, {}, c.io)).toBe(1);
    const out = c.out().split('\n');
    expect(out[0]).toMatch(/^BROKEN .*the trailer names job "acme-migration"/);
    // the forged verdict is there, marked as the continuation of the BROKEN line, never at the margin
    expect(out).toContain(`    | ${file}: 3 entries, the chain holds`);
    expect(out.filter((l) => l.startsWith(file))).toEqual([]);
    expect(c.out()).not.toContain('\u001b');
    // the JSON form keeps the reason as it is
    const j = capture();
    expect(await ledgerVerifyCommand(file, { json: true }, j.io)).toBe(1);
    expect((JSON.parse(j.out()) as VerifyResult).broken?.reason).toContain(forged);
  });
});

describe('ledger verify of a big export, without --job', () => {
  // a ledger of a big migration runs to a GiB: what the chain check keeps must not grow with it (each
  // version's files were kept for a target reading that never came, and the verify died out of memory)
  it('keeps nothing per entry: 50 MB of entries verify in a heap far smaller than they are', async () => {
    const file = join(dir, 'big.jsonl');
    const fd = openSync(file, 'w');
    let prevHash = GENESIS;
    const hex = (s: string, n: number) => createHash('sha512').update(s).digest('hex').slice(0, n);
    const entries = 1500;
    for (let i = 1; i <= entries; i++) {
      const computed: Record<string, unknown> = {};
      for (let f = 0; f < 100; f++) computed[`p${i}-${f}-py3-none-any.whl`] = { size: 1000 + f, md5: hex(`${i}/${f}`, 32), sha1: hex(`${i}/${f}`, 40), sha256: hex(`${i}/${f}`, 64), sha512: hex(`${i}/${f}`, 128) };
      const entry = { at: '2026-01-01T00:00:00.000Z', job: 'acme-migration', outcome: 'published', format: 'pypi', package: `p${i}`, version: '1.0.0', target: { repository: 'pypi-internal' }, hashes: { computed } };
      const hash = chainHash(prevHash, entry);
      writeSync(fd, `${exportLine({ seq: i, prevHash, hash, entry })}\n`);
      prevHash = hash;
    }
    writeSync(fd, `${exportLine({ trailer: { entries, head: prevHash, job: 'acme-migration', exportedAt: '2026-01-01T00:00:00.000Z' } })}\n`);
    closeSync(fd);
    expect(statSync(file).size).toBeGreaterThan(50e6);
    const r = spawnSync(process.execPath, ['--max-old-space-size=96', '--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), 'ledger', 'verify', file, '--head', prevHash, '--json'], {
      env: { PATH: process.env.PATH, HOME: dir, CAM_LOCK_DIR: join(dir, 'locks') },
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    expect(r.stderr).not.toMatch(/heap/i);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ entries, trailer: { entries, head: prevHash } });
  }, 120_000);
});

describe('ledger verify --head with the head of an earlier export', () => {
  // the ledger only grows: each export's head is kept, and a later export must still pass through
  // every one of them; one that does not had its history rewritten (every hash recomputed after it)
  it('the kept head an entry of this chain: the mismatch says which (the entries up to it are those kept); one in no entry says so', async () => {
    const lines = exportOf(someEntries());
    const file = join(dir, 'grown.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const earlier = (JSON.parse(lines[1]!) as { hash: string }).hash;
    const c = capture();
    expect(await ledgerVerifyCommand(file, { head: earlier, json: true }, c.io)).toBe(1);
    expect((JSON.parse(c.out()) as VerifyResult).headMismatch).toMatchObject({ expected: earlier, keptAt: 2 });
    const words = capture();
    (words.io.stdout as { isTTY?: boolean }).isTTY = true;
    expect(await ledgerVerifyCommand(file, { head: earlier.toUpperCase(), json: false }, words.io)).toBe(1);
    expect(words.out()).toMatch(/HEAD MISMATCH.*entry 2 of 3/);
    // a history rewritten: entry 1 edited, every hash after it recomputed; the head kept before is in no entry
    const rewritten = exportOf(someEntries().map((e, i) => (i === 0 ? { ...e, package: 'other' } : e)));
    writeFileSync(file, `${rewritten.join('\n')}\n`);
    const r = capture();
    (r.io.stdout as { isTTY?: boolean }).isTTY = true;
    expect(await ledgerVerifyCommand(file, { head: earlier, json: false }, r.io)).toBe(1);
    expect(r.out()).toMatch(/HEAD MISMATCH.*no entry of this chain/);
  });

  it('the kept head past the end (entries cut off the end, the trailer written again): the mismatch names that, not only a rewrite or another ledger', async () => {
    const whole = exportOf(someEntries());
    const kept = (JSON.parse(whole.at(-1)!) as { trailer: { head: string } }).trailer.head;
    // the last entry (a publish someone wants forgotten) dropped, the trailer computed for the two left
    const file = join(dir, 'cut-off.jsonl');
    writeFileSync(file, `${exportOf(someEntries().slice(0, 2)).join('\n')}\n`);
    expect((await verifyLedgerFile(file, {})).broken).toBeUndefined();
    const c = capture();
    (c.io.stdout as { isTTY?: boolean }).isTTY = true;
    expect(await ledgerVerifyCommand(file, { head: kept, json: false }, c.io)).toBe(1);
    expect(c.out()).toMatch(/HEAD MISMATCH.*no entry of this chain.*cut off the end/);
  });
});

describe('ledger verify of an export whose line ends were converted to CR', () => {
  // the whole file one line with no newline: no crash cuts a line that way (export writes no raw CR)
  it('is named as line ends changed (exit 1), never "torn" with its entries said to verify', async () => {
    const file = join(dir, 'cr.jsonl');
    writeFileSync(file, `${exportOf(someEntries()).join('\r')}\r`);
    const r = await verifyLedgerFile(file, {});
    expect(r.tornLastLine).toBeUndefined();
    expect(r.broken).toMatchObject({ line: 1, reason: expect.stringMatching(/carriage return|CR/) });
  });
});
