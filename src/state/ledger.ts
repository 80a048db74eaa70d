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
 * spaces. An export is JSON Lines: `{ seq, prevHash, hash, entry }` per line, each in
 * exactly one spelling (`exportLine`), then a trailer with the count and the head hash.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { MigrateError } from '../errors.js';
import { forStorage, jsonForTerminals } from '../redact.js';
import { readToolVersion } from '../version.js';

export const GENESIS = '0'.repeat(64);

/** Which job file, as a run summary and a ledger entry name it: its absolute path and the SHA-256 of its bytes (none for a job not read from a file). */
export function jobFileOf(job: { file: string; sha256?: string }): { jobFile?: { path: string; sha256: string } } {
  return job.sha256 ? { jobFile: { path: resolve(job.file), sha256: job.sha256 } } : {};
}

/** Who, where, from what: the same for every entry of a run. */
export interface LedgerContext {
  toolVersion: string;
  job: string;
  /** The job file the command was run with: its absolute path and the SHA-256 of its bytes (none for a job not read from a file). */
  jobFile?: { path: string; sha256: string };
  /** The AWS principal that ran it (sts:GetCallerIdentity), or why it is unknown. */
  principal: string;
  target: { region: string; domain: string; domainOwner: string };
  /** The `*-internal` repository of each format. */
  repositories: Partial<Record<string, string>>;
}

export type LedgerOutcome = 'published' | 'present-identical' | 'conflict' | `failed:${string}` | 'origin-configuration' | `warm:${string}` | 'retarget';

/**
 * The context of a command's entries: this tool's version, the job, who ran it
 * (`callerIdentity`'s answer, or why it is unknown), the target's domain and the
 * repository each format's entries go to.
 */
export function ledgerContext(
  job: { name: string; file: string; sha256?: string },
  target: { region: string; domain: string; domainOwner: string },
  who: { arn?: string; error?: string },
  repositories: Partial<Record<string, string | undefined>>,
): LedgerContext {
  return {
    toolVersion: readToolVersion(),
    job: job.name,
    // which job file: two files of one job name (or one edited between runs) are told apart in the ledger
    ...jobFileOf(job),
    principal: who.arn ?? `unknown (${who.error ?? 'sts:GetCallerIdentity answered no ARN'})`,
    target: { region: target.region, domain: target.domain, domainOwner: target.domainOwner },
    repositories: Object.fromEntries(Object.entries(repositories).filter((e): e is [string, string] => e[1] !== undefined)),
  };
}

/** An entry's own fields: the rest (who, which tool and job, the target's domain) come from the context (`inContext`). */
export type OwnEntry = Omit<LedgerEntry, 'at' | 'toolVersion' | 'job' | 'jobFile' | 'principal' | 'target'> & { target?: Record<string, unknown> };

/** `entry` as of `at`, with the context's fields; its target on top of the context's domain. */
export function inContext(ctx: LedgerContext, at: string, entry: OwnEntry): LedgerEntry {
  return { ...entry, at, toolVersion: ctx.toolVersion, job: ctx.job, ...(ctx.jobFile ? { jobFile: ctx.jobFile } : {}), principal: ctx.principal, target: { ...ctx.target, ...entry.target } };
}

export interface LedgerEntry {
  at: string;
  toolVersion: string;
  job: string;
  /** The job file (absolute path, SHA-256 of its bytes); absent in entries of releases before it was recorded. */
  jobFile?: { path: string; sha256: string };
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
  // the free-text fields pass the same redaction and cap as every other write to the state: the
  // principal may be an STS error, a detail a harden or warm message or a peer's error body (redact.ts)
  const recorded: LedgerEntry = { ...entry, principal: forStorage(entry.principal), ...(entry.detail !== undefined ? { detail: forStorage(entry.detail) } : {}) };
  const hash = chainHash(prevHash, recorded);
  st.insert.run(recorded.at, prevHash, hash, canonical(recorded));
}

export interface LedgerLine {
  seq: number;
  prevHash: string;
  hash: string;
  entry: LedgerEntry;
}

/**
 * The stored entries in order. A row whose entry is not a JSON object was never written by
 * appendLedger (the triggers refuse UPDATE and DELETE, not an INSERT by hand): ESTATE naming it,
 * even when its hash was computed to match (it would be exported as a line no verify accepts).
 */
export function* ledgerLines(db: Database.Database, database = 'the state database'): Generator<LedgerLine> {
  for (const r of db.prepare('SELECT seq, prev_hash, hash, entry FROM ledger ORDER BY seq').iterate() as Iterable<{ seq: number; prev_hash: string; hash: string; entry: unknown }>) {
    let entry: unknown;
    try {
      entry = typeof r.entry === 'string' ? JSON.parse(r.entry) : undefined;
    } catch {
      entry = undefined;
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new MigrateError('ESTATE', `the ledger in ${database} is broken at entry ${r.seq}: its entry is not a JSON object, which codeartifact-migrate never writes: it was changed outside codeartifact-migrate`, {
        hint: 'keep this database for investigation; an export made earlier and its head hash are the record',
      });
    }
    yield { seq: r.seq, prevHash: r.prev_hash, hash: r.hash, entry: entry as LedgerEntry };
  }
}

/** An export line escapes what a terminal acts on (jsonForTerminals): the same JSON value, so the same hash. */
const escapeForExport = jsonForTerminals;

/**
 * The one form of an export line: canonical JSON with the characters above escaped. A line is
 * accepted only in this form, so one entry has one spelling: no duplicate key (which parsers
 * resolve differently), no reordered keys, spaces, `\u0041`-style escapes or `1.0` that
 * parse to the hashed value while the bytes say something else to another reader.
 */
export function exportLine(value: unknown): string {
  return escapeForExport(canonical(value));
}

/**
 * Whether `text` is `value`'s export line: the one form, or the form releases before U+061C
 * (a bidi control) was escaped wrote, that character raw. The same value and hash, so their
 * exports still verify; a `\\u061c` that is an escaped backslash and `u061c` is left alone.
 */
export function isExportLine(text: string, value: unknown): boolean {
  const line = exportLine(value);
  return text === line || (line.includes('\\u061c') && text === line.replace(/(?<!\\)((?:\\\\)*)\\u061c/g, '$1\u061c'));
}

/** A longer line is not one `ledger export` writes (an entry with hundreds of files is well under it). */
export const MAX_LEDGER_LINE_BYTES = 4 * 1024 * 1024;

export interface ChainCheck {
  entries: number;
  /** The first line where the chain breaks, and why (1-based line number). */
  broken?: { line: number; seq?: number; reason: string };
  /** A last line that is not whole JSON (a crash mid-write): reported; the lines before stay valid. */
  tornLastLine?: boolean;
}

export interface LedgerTrailer {
  entries: number;
  head: string;
  job: string;
  exportedAt: string;
}

const LINE_KEYS = 'entry,hash,prevHash,seq';
/** The trailer's exportedAt as export writes it (Date.prototype.toISOString). */
const EXPORTED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TRAILER_KEYS = 'entries,exportedAt,head,job';

/**
 * Checks an export line by line, as it is read (a file is never held whole): the chain, the
 * one spelling of each line, seq = line number (seq is not hashed; it must not be free to
 * edit), and a last line that is the trailer. `entry` is told each entry that verified.
 */
export class LedgerChecker {
  readonly check: ChainCheck = { entries: 0 };
  trailer?: LedgerTrailer;
  /** The hash of the last entry that verified (GENESIS before the first). */
  head = GENESIS;
  /** The entry whose hash is `seek` (a head kept from an earlier export), once one verified with it. */
  seekAt?: number;
  private job?: string;
  private pending?: { text: string; line: number };

  constructor(
    private readonly onEntry?: (l: LedgerLine) => void,
    private readonly seek?: string,
  ) {}

  /** The job the entries name (the first entry's). */
  get jobName(): string | undefined {
    return this.job;
  }

  get done(): boolean {
    return this.check.broken !== undefined;
  }

  /** One line, without its newline. Lines are checked one behind: only the last may be the trailer. */
  push(text: string, line: number): void {
    if (this.done) return;
    if (this.pending) this.entryLine(this.pending.text, this.pending.line, false);
    this.pending = { text, line };
  }

  /** A line that cannot be a ledger line whatever it holds (too long, not UTF-8). */
  fail(line: number, reason: string): void {
    if (this.pending && this.pending.line < line) {
      this.entryLine(this.pending.text, this.pending.line, false);
      this.pending = undefined;
    }
    if (!this.done) this.check.broken = { line, reason };
  }

  /** The end of the input; `endedWithNewline`: whether the last line was whole. */
  end(endedWithNewline: boolean): ChainCheck {
    const last = this.pending;
    this.pending = undefined;
    if (this.done || !last) return this.check;
    let parsed: unknown;
    try {
      parsed = JSON.parse(last.text);
    } catch {
      // a crash mid-write leaves a last line without its newline: the lines before stay valid. A raw
      // CR is never written (JSON escapes it): such a line is a file whose line ends were converted
      if (!endedWithNewline && !last.text.includes('\r')) this.check.tornLastLine = true;
      else this.fail(last.line, notJson(last.text, last.line));
      return this.check;
    }
    if (parsed !== null && typeof parsed === 'object' && 'trailer' in parsed) this.trailerLine(parsed as { trailer: unknown }, last.text, last.line);
    else this.entryLine(last.text, last.line, true);
    return this.check;
  }

  private entryLine(text: string, line: number, isLast: boolean): void {
    let parsed: LedgerLine;
    try {
      parsed = JSON.parse(text) as LedgerLine;
    } catch {
      return this.fail(line, notJson(text, line));
    }
    if (nestedPast(parsed, MAX_DEPTH)) return this.fail(line, TOO_DEEP);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && Object.keys(parsed).join(',') === 'trailer') {
      // the trailer, and a line after it (a blank line an editor added, text appended, two exports
      // joined): the trailer is checked as the last line would be, then the line after it is named
      this.trailerLine(parsed as unknown as { trailer: unknown }, text, line);
      if (!this.done) this.check.broken = { line: line + 1, reason: 'a line after the trailer: an export ends with its trailer (a line added, text appended, or exports joined)' };
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || Object.keys(parsed).sort().join(',') !== LINE_KEYS) {
      return this.fail(line, isLast ? 'not a ledger line (seq, prevHash, hash, entry) nor the trailer' : 'not a ledger line (seq, prevHash, hash, entry)');
    }
    const { seq } = parsed;
    if (typeof seq !== 'number' || typeof parsed.hash !== 'string' || typeof parsed.prevHash !== 'string' || typeof parsed.entry !== 'object' || parsed.entry === null || Array.isArray(parsed.entry)) {
      return this.fail(line, 'not a ledger line (seq, prevHash, hash, entry)');
    }
    const at = (reason: string) => void (this.check.broken = { line, seq, reason });
    // entries are numbered from 1 with no gap, so seq is the line number
    if (seq !== line) return at(`sequence ${seq} where ${line} was expected (an entry deleted, inserted or moved, or renumbered)`);
    if (parsed.prevHash !== this.head) return at('prevHash is not the hash of the entry before (an entry deleted, inserted or moved)');
    if (chainHash(this.head, parsed.entry) !== parsed.hash) return at('the entry does not hash to its recorded hash (edited)');
    if (!isExportLine(text, parsed)) return at('the line is not written the way ledger export writes it (a duplicate key, reordered keys, spaces, escapes or line endings changed): its bytes may read differently from what was hashed');
    if (typeof parsed.entry.job === 'string') this.job ??= parsed.entry.job;
    this.head = parsed.hash;
    this.check.entries++;
    if (parsed.hash === this.seek) this.seekAt ??= seq;
    this.onEntry?.(parsed);
  }

  private trailerLine(parsed: { trailer: unknown }, text: string, line: number): void {
    if (nestedPast(parsed, MAX_DEPTH)) return this.fail(line, TOO_DEEP);
    const t = parsed.trailer as Partial<LedgerTrailer> | null;
    if (t === null || typeof t !== 'object' || Object.keys(parsed).join(',') !== 'trailer' || Object.keys(t).sort().join(',') !== TRAILER_KEYS || !isExportLine(text, parsed)) {
      return this.fail(line, 'the trailer is not the one ledger export writes ({"trailer":{"entries","exportedAt","head","job"}}, canonical)');
    }
    // export writes the time it began (toISOString): `verify --job` tells entries cut off the end from
    // entries added since by it, so a trailer with no such time would hide a cut
    if (typeof t.exportedAt !== 'string' || !EXPORTED_AT.test(t.exportedAt) || !Number.isFinite(Date.parse(t.exportedAt))) {
      return this.fail(line, `the trailer's exportedAt ${JSON.stringify(t.exportedAt)?.slice(0, 60)} is not the time ledger export writes (such as 2026-01-31T12:00:00.000Z)`);
    }
    this.trailer = t as LedgerTrailer;
    const head = this.check.entries ? this.head : '';
    if (t.entries !== this.check.entries || t.head !== head) {
      return this.fail(line, `the trailer says ${String(t.entries)} entries ending in ${String(t.head) || '(none)'}, the file holds ${this.check.entries} ending in ${head || '(none)'} (entries cut off or added at the end)`);
    }
    if (this.job !== undefined && t.job !== this.job) this.fail(line, `the trailer names job "${String(t.job)}", the entries job "${this.job}"`);
  }
}

/**
 * How deep a line's JSON may nest: an entry is a few levels (entry.hashes.computed.<file>.sha512).
 * Hashing and re-spelling it recurse, so a line nested a million deep (a few MiB) would end the
 * verify in a stack overflow instead of naming the line.
 */
const MAX_DEPTH = 64;
const TOO_DEEP = `JSON nested more than ${MAX_DEPTH} levels deep: not a line ledger export writes`;

/** Whether `value` nests deeper than `max` (never recursing deeper than that itself). */
function nestedPast(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max === 0) return true;
  return Object.values(value).some((v) => nestedPast(v, max - 1));
}

/** Why a line is no ledger line: a byte order mark before line 1 (an editor's re-save) is named as such. */
function notJson(text: string, line: number): string {
  if (text.includes('\r')) return 'holds a carriage return (CR), which ledger export never writes: its line ends were converted since (CR or CRLF); verify the file as exported';
  if (line === 1 && text.startsWith('\ufeff')) return 'starts with a byte order mark (U+FEFF), which ledger export never writes: the file was saved again since (an editor?); verify the file as exported';
  return 'not a JSON ledger line';
}

/** Recompute the chain of an export (JSON Lines). Any edit, deletion, insertion or reordering breaks it. */
export function verifyChain(text: string): ChainCheck & { trailer?: LedgerTrailer; head: string } {
  const checker = new LedgerChecker();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((l, i) => checker.push(l, i + 1));
  const check = checker.end(text.endsWith('\n'));
  return { ...check, ...(checker.trailer ? { trailer: checker.trailer } : {}), head: check.entries ? checker.head : '' };
}
