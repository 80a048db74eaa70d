/**
 * The provenance ledger: one entry per publish, present-identical, conflict,
 * failure, origin-configuration change and warm result, each carrying the hash
 * of the one before (a hash chain), so that editing, deleting, inserting or
 * reordering any entry is detectable. It lives in the state database, written
 * in the same transaction as the state change it records, and only ever grows
 * (triggers refuse UPDATE and DELETE).
 *
 *   hash(n) = sha256( hash(n-1) + "\n" + canonical JSON of entry n )
 *
 * with hash(0) = 64 zeros and canonical JSON = keys sorted at every level, no
 * spaces. An export is JSON Lines: `{ seq, prevHash, hash, entry }` per line.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

export const GENESIS = '0'.repeat(64);

/** Who, where, from what: the same for every entry of a run. */
export interface LedgerContext {
  toolVersion: string;
  job: string;
  /** The AWS principal that ran it (sts:GetCallerIdentity), or why it is unknown. */
  principal: string;
  target: { region: string; domain: string; domainOwner: string };
  /** The `*-internal` repository of each format. */
  repositories: Partial<Record<string, string>>;
}

export type LedgerOutcome = 'published' | 'present-identical' | 'conflict' | `failed:${string}` | 'origin-configuration' | `warm:${string}`;

export interface LedgerEntry {
  at: string;
  toolVersion: string;
  job: string;
  principal: string;
  outcome: LedgerOutcome;
  format?: string;
  package?: string;
  version?: string;
  /** The target: region, domain, owner, repository (and, for an origin change, what it became). */
  target: Record<string, unknown>;
  /** Where the bytes came from: registry URL, or git URL + tag + commit. */
  source?: Record<string, unknown>;
  /** The source's original publish time (a registry's), or the tag's commit time. */
  sourcePublishedAt?: string | null;
  /** What the source declared, what we computed (per file), what the target reported (per file). */
  hashes?: { declared?: Record<string, unknown>; computed?: Record<string, unknown>; target?: Record<string, unknown> };
  detail?: string;
}

/** JSON with keys sorted at every level: the same entry always hashes the same. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

export function chainHash(prevHash: string, entry: LedgerEntry | Record<string, unknown>): string {
  return createHash('sha256').update(`${prevHash}\n${canonical(entry)}`).digest('hex');
}

/** The two statements an append runs, prepared once per connection (a run appends one per version). */
const appendStatements = new WeakMap<Database.Database, { head: Database.Statement; insert: Database.Statement }>();

/** Append one entry; call inside the transaction of the state change it records. */
export function appendLedger(db: Database.Database, entry: LedgerEntry): void {
  let st = appendStatements.get(db);
  if (!st) {
    st = { head: db.prepare('SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1'), insert: db.prepare('INSERT INTO ledger (at, prev_hash, hash, entry) VALUES (?, ?, ?, ?)') };
    appendStatements.set(db, st);
  }
  const last = st.head.get() as { hash: string } | undefined;
  const prevHash = last?.hash ?? GENESIS;
  const hash = chainHash(prevHash, entry);
  st.insert.run(entry.at, prevHash, hash, canonical(entry));
}

export interface LedgerLine {
  seq: number;
  prevHash: string;
  hash: string;
  entry: LedgerEntry;
}

export function* ledgerLines(db: Database.Database): Generator<LedgerLine> {
  for (const r of db.prepare('SELECT seq, prev_hash, hash, entry FROM ledger ORDER BY seq').iterate() as Iterable<{ seq: number; prev_hash: string; hash: string; entry: string }>) {
    yield { seq: r.seq, prevHash: r.prev_hash, hash: r.hash, entry: JSON.parse(r.entry) as LedgerEntry };
  }
}

export interface ChainCheck {
  entries: number;
  /** The first line where the chain breaks, and why (1-based line number). */
  broken?: { line: number; seq?: number; reason: string };
  /** A last line that is not whole JSON (a crash mid-write): reported; the lines before stay valid. */
  tornLastLine?: boolean;
}

/** Recompute the chain of an export (JSON Lines). Any edit, deletion, insertion or reordering breaks it. */
export function verifyChain(text: string): ChainCheck {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let prev = GENESIS;
  let expectedSeq: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    let parsed: LedgerLine;
    try {
      parsed = JSON.parse(lines[i]!) as LedgerLine;
    } catch {
      if (i === lines.length - 1 && !text.endsWith('\n')) return { entries: i, tornLastLine: true };
      return { entries: i, broken: { line: i + 1, reason: 'not a JSON ledger line' } };
    }
    const line = i + 1;
    if (typeof parsed?.seq !== 'number' || typeof parsed.hash !== 'string' || typeof parsed.prevHash !== 'string' || typeof parsed.entry !== 'object' || parsed.entry === null) {
      return { entries: i, broken: { line, reason: 'not a ledger line (seq, prevHash, hash, entry)' } };
    }
    if (expectedSeq !== undefined && parsed.seq !== expectedSeq) {
      return { entries: i, broken: { line, seq: parsed.seq, reason: `sequence ${parsed.seq} where ${expectedSeq} was expected (an entry deleted, inserted or moved)` } };
    }
    if (parsed.prevHash !== prev) return { entries: i, broken: { line, seq: parsed.seq, reason: 'prevHash is not the hash of the entry before (an entry deleted, inserted or moved)' } };
    if (chainHash(prev, parsed.entry) !== parsed.hash) return { entries: i, broken: { line, seq: parsed.seq, reason: 'the entry does not hash to its recorded hash (edited)' } };
    prev = parsed.hash;
    expectedSeq = parsed.seq + 1;
  }
  return { entries: lines.length };
}
