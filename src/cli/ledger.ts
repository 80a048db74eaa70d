/**
 * `ledger export JOB` writes the provenance ledger as JSON Lines (the hash
 * chain, verifiable anywhere) or CSV (for a spreadsheet); the JSON Lines end
 * with a trailer holding the entry count and the head hash, so entries cut off
 * the end are detected too.
 *
 * `ledger verify FILE` recomputes the chain and names the first broken entry;
 * with `--job` it also reads the target's file hashes again and reports every
 * version whose bytes no longer match what was migrated. Exit 1 on any break.
 */
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import PQueue from 'p-queue';
import { loadJob } from '../config/load.js';
import { MigrateError } from '../errors.js';
import { Limiter } from '../engine/limiter.js';
import { StateDb } from '../state/db.js';
import { canonical, ledgerLines, verifyChain, type LedgerEntry, type LedgerLine } from '../state/ledger.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { createTarget } from '../targets/index.js';
import type { Format } from '../types.js';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { print, reportError, wantsJson, type Io } from './output.js';

export async function ledgerExportCommand(jobFile: string, opts: { stateDir?: string; out?: string; format?: 'jsonl' | 'csv'; json?: boolean }, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  try {
    const job = loadJob(jobFile);
    const database = join(opts.stateDir ?? 'state', `${job.name}.sqlite`);
    if (!existsSync(database)) throw new MigrateError('ESTATE', `no state for job "${job.name}" at ${database}`, { hint: `run it first: codeartifact-migrate run ${jobFile}` });
    const state = StateDb.open(database);
    try {
      const file = opts.out ? createWriteStream(opts.out) : undefined;
      // to a file as written (JSON escapes everything); to a terminal through print (control characters shown)
      const write = (text: string) => (file ? file.write(text) : print(io.stdout, text));
      let n = 0;
      let head = '';
      if (opts.format === 'csv') write(`${CSV_COLUMNS.join(',')}\n`);
      for (const line of ledgerLines(state.db)) {
        n++;
        head = line.hash;
        write(opts.format === 'csv' ? `${csvRow(line)}\n` : `${canonical({ seq: line.seq, prevHash: line.prevHash, hash: line.hash, entry: line.entry })}\n`);
      }
      if (opts.format !== 'csv') write(`${canonical({ trailer: { entries: n, head, job: job.name, exportedAt: new Date().toISOString() } })}\n`);
      if (file) {
        await new Promise<void>((resolve, reject) => {
          file.on('error', reject);
          file.end(resolve);
        });
        print(io.stderr, `${n} ledger entries written to ${opts.out}; head hash ${head || '(empty)'}: keep it apart from the file (ledger verify --head checks it)\n`);
      }
    } finally {
      state.close();
    }
    return 0;
  } catch (e) {
    return reportError(e, io, json);
  }
}

const CSV_COLUMNS = ['seq', 'at', 'hash', 'prev_hash', 'principal', 'outcome', 'format', 'package', 'version', 'repository', 'source', 'source_published_at', 'declared', 'computed_sha256', 'target_sha256', 'detail'];

function csvRow(l: LedgerLine): string {
  const e = l.entry;
  const sha256 = (files?: Record<string, unknown>) =>
    Object.entries(files ?? {})
      .map(([name, h]) => `${name}=${(h as Record<string, unknown>).sha256 ?? (h as Record<string, unknown>)['SHA-256'] ?? ''}`)
      .join(' ');
  const cells = [
    l.seq,
    e.at,
    l.hash,
    l.prevHash,
    e.principal,
    e.outcome,
    e.format ?? '',
    e.package ?? '',
    e.version ?? '',
    String(e.target.repository ?? ''),
    e.source ? Object.entries(e.source).map(([k, v]) => `${k}=${String(v)}`).join(' ') : '',
    e.sourcePublishedAt ?? '',
    e.hashes?.declared ? Object.entries(e.hashes.declared).filter(([, v]) => v).map(([k, v]) => `${k}=${String(v)}`).join(' ') : '',
    sha256(e.hashes?.computed),
    sha256(e.hashes?.target),
    e.detail ?? '',
  ];
  // RFC 4180, and no cell may start a spreadsheet formula (=, +, -, @: CSV injection)
  return cells.map((c) => `"${String(c).replace(/^([=+\-@\t\r])/, "'$1").replace(/"/g, '""')}"`).join(',');
}

export interface VerifyResult {
  entries: number;
  broken?: { line: number; seq?: number; reason: string };
  tornLastLine?: boolean;
  trailer?: { entries: number; head: string };
  headMismatch?: { expected: string; actual: string };
  /** Versions whose files on the target no longer hash as the ledger says. */
  targetMismatches: { package: string; version: string; file: string; ledger: string; target: string }[];
  targetChecked: number;
}

export async function ledgerVerifyCommand(file: string, opts: { json?: boolean; head?: string; job?: string; codeartifactClient?: CodeartifactClient }, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  try {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new MigrateError('ECONFIG', `cannot read ${file}: ${(e as Error).message}`, { hint: 'pass a file written by `ledger export`' });
    }
    const result = await verifyLedger(text, opts);
    if (json) print(io.stdout, `${JSON.stringify(result, null, 2)}\n`);
    else print(io.stdout, describeVerify(file, result));
    return result.broken || result.tornLastLine || result.headMismatch || result.targetMismatches.length || !result.trailer ? 1 : 0;
  } catch (e) {
    return reportError(e, io, json);
  }
}

export async function verifyLedger(text: string, opts: { head?: string; job?: string; codeartifactClient?: CodeartifactClient }): Promise<VerifyResult> {
  // the trailer is the last whole line; the chain is everything before it
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let trailer: VerifyResult['trailer'];
  const last = lines.at(-1);
  if (last !== undefined) {
    try {
      const t = (JSON.parse(last) as { trailer?: { entries: number; head: string } }).trailer;
      if (t) {
        trailer = { entries: t.entries, head: t.head };
        lines.pop();
      }
    } catch {
      // a torn last line: verifyChain says so
    }
  }
  const body = lines.length ? `${lines.join('\n')}${trailer || text.endsWith('\n') ? '\n' : ''}` : '';
  const chain = verifyChain(body);
  const result: VerifyResult = { ...chain, trailer, targetMismatches: [], targetChecked: 0 };
  const lastHash = chain.broken || chain.tornLastLine ? undefined : (JSON.parse(lines.at(-1) ?? 'null') as LedgerLine | null)?.hash ?? '';
  if (!chain.broken && !chain.tornLastLine && trailer && (trailer.entries !== chain.entries || trailer.head !== lastHash)) {
    result.broken = { line: lines.length + 1, reason: `the trailer says ${trailer.entries} entries ending in ${trailer.head}, the file holds ${chain.entries} ending in ${lastHash} (entries cut off or added at the end)` };
  }
  if (opts.head && lastHash !== undefined && opts.head !== lastHash) result.headMismatch = { expected: opts.head, actual: lastHash };
  if (opts.job && !result.broken) await checkTarget(lines, opts.job, result, opts.codeartifactClient);
  return result;
}

/** Read every migrated version's files on the target again: a file replaced since is a mismatch. */
async function checkTarget(lines: string[], jobFile: string, result: VerifyResult, client?: CodeartifactClient): Promise<void> {
  const job = loadJob(jobFile);
  const ca = new CodeArtifact(job.config.target, new Limiter(job.config.limits.rates), client);
  ca.readOnly = true;
  const queue = new PQueue({ concurrency: 8 });
  const latest = new Map<string, LedgerEntry>();
  for (const raw of lines) {
    const e = (JSON.parse(raw) as LedgerLine).entry;
    if ((e.outcome === 'published' || e.outcome === 'present-identical') && e.package && e.version && e.format) latest.set(`${e.format}/${e.package}@${e.version}`, e);
  }
  try {
    for (const e of latest.values()) {
      void queue.add(async () => {
        const format = e.format as Format;
        const repo = String(e.target.repository ?? job.config.target.repositories[format]?.internal ?? '');
        const target = createTarget(format, ca, repo);
        const assets = (await ca.versionAssets(target.coordinates(e.package!), target.targetVersion(e.version!))) ?? [];
        result.targetChecked++;
        for (const [file, h] of Object.entries(e.hashes?.computed ?? {})) {
          const ours = String((h as Record<string, unknown>).sha512 ?? '');
          const theirs = assets.find((a) => a.name === file)?.hashes['SHA-512']?.toLowerCase() ?? '(missing)';
          if (theirs !== ours) result.targetMismatches.push({ package: e.package!, version: e.version!, file, ledger: ours, target: theirs });
        }
      });
    }
    await queue.onIdle();
  } finally {
    if (!client) ca.client.destroy();
  }
  result.targetMismatches.sort((a, b) => a.package.localeCompare(b.package) || a.version.localeCompare(b.version));
}

function describeVerify(file: string, r: VerifyResult): string {
  const lines: string[] = [];
  if (r.broken) lines.push(`BROKEN ${file}: line ${r.broken.line}${r.broken.seq !== undefined ? ` (entry ${r.broken.seq})` : ''}: ${r.broken.reason}`);
  else if (r.tornLastLine) lines.push(`TORN ${file}: the last line is cut off (a crash while writing?); the ${r.entries} entries before it verify`);
  else lines.push(`${file}: ${r.entries} entries, the chain holds`);
  if (!r.trailer && !r.broken && !r.tornLastLine) lines.push('  no trailer: entries may have been cut off the end (export again with `ledger export`)');
  if (r.headMismatch) lines.push(`  HEAD MISMATCH: the chain ends in ${r.headMismatch.actual}, not the ${r.headMismatch.expected} you kept`);
  if (r.targetChecked) lines.push(`  target: ${r.targetChecked} versions read again, ${r.targetMismatches.length} with other bytes`);
  for (const m of r.targetMismatches) lines.push(`  CHANGED ON THE TARGET ${m.package}@${m.version} ${m.file}: ledger sha512 ${m.ledger}, target ${m.target}`);
  return `${lines.join('\n')}\n`;
}
