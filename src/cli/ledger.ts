/**
 * `ledger export JOB` writes the provenance ledger as JSON Lines (the hash
 * chain, verifiable anywhere, each line in its one spelling) or CSV (for a
 * spreadsheet, not verifiable); the JSON Lines end with a trailer holding the
 * entry count and the head hash, so entries cut off the end are detected too.
 *
 * `ledger verify FILE` reads the export as a stream, recomputes the chain and
 * names the first broken line; with `--job` it also lists the target's files
 * again and reports every version whose files no longer match what was
 * migrated (any hash, or the size, both sides have), every version no longer
 * Published there, and every version it could not ask about; and, with the job's state at hand,
 * compares the export with the state's own ledger (a file rewritten whole, or cut at an entry
 * boundary with its trailer written again, holds as a chain alone). Exit 1 on any of them.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { closeSync, constants, existsSync, lstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import PQueue from 'p-queue';
import { AtomicFile } from '../atomic-file.js';
import { loadJob, type LoadedJob } from '../config/load.js';
import { localError, MigrateError, toError } from '../errors.js';
import { Limiter } from '../engine/limiter.js';
import { withRetry } from '../engine/retry.js';
import { stopWhenStuck } from '../engine/stop.js';
import { forOutput } from '../redact.js';
import { StateDb } from '../state/db.js';
import { canonical, chainHash, exportLine, GENESIS, LedgerChecker, ledgerLines, MAX_LEDGER_LINE_BYTES, type LedgerLine, type LedgerTrailer } from '../state/ledger.js';
import { existingState, isLockFile } from '../state/lock.js';
import { CodeArtifact, type PackageCoordinates, type TargetAsset, type TargetVersion } from '../targets/codeartifact.js';
import { createTarget } from '../targets/index.js';
import type { Format } from '../types.js';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { countProgress, print, printEntries, reportError, wantsJson, type Io } from './output.js';

/** Entries exported between two looks at the stop: a long export (to a file, all synchronous) still hears Ctrl-C. */
const EXPORT_STOP_EVERY = 500;

export async function ledgerExportCommand(jobFile: string, opts: { stateDir?: string; out?: string; format?: 'jsonl' | 'csv'; json?: boolean; signal?: AbortSignal }, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  // stdout is the export itself: once part of it went there, an error is said on stderr only (a JSON
  // error document after the entries would be a line of another shape in the JSON Lines, text in the CSV)
  let exporting = false;
  try {
    const job = loadJob(jobFile);
    const database = existingState(job, opts.stateDir ?? 'state', `run it first: codeartifact-migrate run ${jobFile}`);
    // taken before the state is read: every entry recorded before it is in the export (but one whose
    // transaction was under way at that instant), so `verify --job` can tell entries cut off its end
    // (recorded before it) from entries added since
    const exportedAt = new Date().toISOString();
    const state = StateDb.openToRead(database);
    // written beside its name and renamed when whole: a partial export would read as "entries cut off"
    const outPath = opts.out && opts.out !== '-' ? resolve(opts.out) : undefined;
    if (outPath) refuseOverwritingState(outPath, database, jobFile);
    const out = outPath
      ? new AtomicFile(outPath, (e) =>
          localError(e, outPath, 'write the ledger export', { anyCode: true, hint: 'free space or fix permissions where the export goes, then export again; no partial export was left behind' })!,
        )
      : undefined;
    try {
      // The JSON lines go out byte for byte as verify reads them, to a file or to stdout alike: not
      // through print, whose redaction could rewrite hashed text (a URL's query inside an escaped
      // string). They hold nothing a terminal acts on (exportLine escapes it), and were redacted on
      // their way into the state. The CSV is not hashed: it is made safe for a terminal like any output.
      const write = async (text: string) => {
        if (out) return out.write(text);
        exporting = true;
        if (!io.stdout.write(text)) await drained(io.stdout, opts.signal);
      };
      // a stop (Ctrl-C, SIGTERM, the terminal closed) ends the export between two lines: the state (or the private
      // copy of it in the temp folder) is closed and the partial --out file removed, by the finally below
      const stopped = async (n: number) => {
        if (n % EXPORT_STOP_EVERY === 0) await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) throw new MigrateError('EINTERRUPTED', `the ledger export was stopped after ${n} entries${out ? `; nothing was written to ${opts.out}` : ': what stdout got is cut short'}`, { hint: 'export again' });
      };
      let n = 0;
      let head = '';
      let prev = GENESIS;
      if (opts.format === 'csv') await write(`${CSV_COLUMNS.join(',')}\n`);
      // one read transaction: a run writing meanwhile adds entries after the ones exported (WAL)
      for (const line of ledgerLines(state.db, database)) {
        await stopped(n);
        n++;
        // the stored chain is checked as it goes out: a state database changed by hand is not exported as if whole
        if (line.seq !== n || line.prevHash !== prev || chainHash(prev, line.entry) !== line.hash) {
          throw new MigrateError('ESTATE', `the ledger in ${database} is broken at entry ${line.seq}: it was changed outside codeartifact-migrate`, {
            hint: 'keep this database for investigation; an export made earlier and its head hash are the record',
          });
        }
        prev = head = line.hash;
        await write(opts.format === 'csv' ? `${csvRow(line)}\n` : `${exportLine({ seq: line.seq, prevHash: line.prevHash, hash: line.hash, entry: line.entry })}\n`);
      }
      await stopped(n);
      if (opts.format !== 'csv') await write(`${exportLine({ trailer: { entries: n, head, job: job.name, exportedAt } })}\n`);
      if (out) {
        out.commit();
        print(io.stderr, `${n} ledger entries written to ${opts.out}; head hash ${head || '(empty)'}: keep it apart from the file (ledger verify --head checks it)\n`);
      }
    } finally {
      out?.discard();
      state.close();
    }
    return 0;
  } catch (e) {
    return reportError(e, io, json && !exporting);
  }
}

/**
 * An export never goes where it would destroy state: the job's database or its -wal/-shm (the
 * export renamed over it, the state and its ledger are gone, with no way back), or any file that
 * is an SQLite database (another job's state, a copy kept as the record). What counts is the
 * file the rename would replace: the folder's links are followed, a link in the name's place is
 * replaced itself (what it points at is untouched). Nor over the job file it reads
 * (`--out jobs/example.yaml`): the job file is gone, replaced by its ledger. Nor over a file of
 * the job's locks (`state/<job>.lock.db`, one in the lock folder).
 */
function refuseOverwritingState(outPath: string, database: string, jobFile: string): void {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const target = join(real(dirname(outPath)), basename(outPath));
  const db = real(database);
  const refuse = (what: string) =>
    new MigrateError('ECONFIG', `--out ${outPath} is ${what}: the export would replace it`, {
      hint: 'write the export to a file of its own, e.g. --out ledger.jsonl',
    });
  if ([db, `${db}-wal`, `${db}-shm`, `${db}-journal`].includes(target)) throw refuse(`the state database of this job (${database})`);
  if ([real(jobFile), join(real(dirname(resolve(jobFile))), basename(jobFile))].includes(target)) throw refuse(`the job file it reads (${jobFile})`);
  if (isLockFile(target, dirname(database))) throw refuse("a file of the job's lock, which every later run, plan, warm and harden of it takes");
  // a device, FIFO or socket (or a link to one: /dev/stdout): the rename would replace it, for
  // every program on the machine (root may rename over /dev/null); no export goes there
  const special = (st: Stats | undefined) => st !== undefined && (st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice() || st.isSocket());
  const stat = (p: string, follow: boolean) => {
    try {
      return follow ? statSync(p) : lstatSync(p);
    } catch {
      return undefined;
    }
  };
  const here = stat(target, false);
  // /dev/stdout links to whatever fd 1 is, a regular file too (`> ledger.jsonl`): nothing in /dev itself
  // (or /proc: /dev/fd is a link there) is renamed over; a folder under /dev (/dev/shm, a tmpfs) is a folder
  const devices = dirname(target) === '/dev' || target.startsWith('/proc/');
  if (devices || special(here) || (here?.isSymbolicLink() && special(stat(target, true)))) {
    throw new MigrateError('ECONFIG', `--out ${outPath} ${devices ? `is in ${dirname(target)}, where devices are` : `is ${here?.isSymbolicLink() ? 'a link to ' : ''}a device, FIFO or socket`}, not a file: the export, renamed into place, would replace it`, {
      hint: 'to write to stdout, leave --out out or pass --out -; otherwise name a file of its own, e.g. --out ledger.jsonl',
    });
  }
  let head: Buffer;
  try {
    if (!lstatSync(target).isFile()) return;
    const fd = openSync(target, 'r');
    try {
      head = Buffer.alloc(16);
      readSync(fd, head, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return; // not there (or not readable: the write will say so)
  }
  if (head.toString('latin1') === 'SQLite format 3\0') throw refuse('an SQLite database (a state?)');
}

/**
 * Until a stream can take more; a stream that failed or closed meanwhile (the reader gone,
 * `| head`) never drains: the export stops there, an error, not a wait forever.
 */
async function drained(stream: NodeJS.WritableStream, signal?: AbortSignal): Promise<void> {
  const s = stream as NodeJS.WritableStream & { destroyed?: boolean };
  await new Promise<void>((resolve, reject) => {
    const done = (e?: Error) => {
      stream.off('drain', ok);
      stream.off('error', done);
      stream.off('close', closed);
      signal?.removeEventListener('abort', ok);
      if (e) reject(new MigrateError('ELOCAL', `the ledger export could not be written to stdout (${(e as NodeJS.ErrnoException).code ?? e.message}): it is cut short`, { hint: 'write it to a file with --out' }));
      else resolve();
    };
    const ok = () => done();
    const closed = () => done(new Error('stdout closed'));
    if (s.destroyed) return closed();
    // a reader that stalls (`| less` left open) must not keep a stop waiting: the caller looks at the signal
    if (signal?.aborted) return ok();
    signal?.addEventListener('abort', ok, { once: true });
    stream.once('drain', ok);
    stream.once('error', done);
    stream.once('close', closed);
  });
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
    // a git-built version's builtWith is an object: written as JSON, not [object Object]
    e.source ? Object.entries(e.source).map(([k, v]) => `${k}=${v !== null && typeof v === 'object' ? canonical(v) : String(v)}`).join(' ') : '',
    e.sourcePublishedAt ?? '',
    e.hashes?.declared ? Object.entries(e.hashes.declared).filter(([, v]) => v).map(([k, v]) => `${k}=${String(v)}`).join(' ') : '',
    sha256(e.hashes?.computed),
    sha256(e.hashes?.target),
    e.detail ?? '',
  ];
  // each cell made safe for output on its own (a redaction can never run across a cell's quotes),
  // then RFC 4180, and no cell may start a spreadsheet formula (=, +, -, @: CSV injection)
  return cells.map((c) => `"${forOutput(String(c)).replace(/^([=+\-@\t\r])/, "'$1").replace(/"/g, '""')}"`).join(',');
}

export interface VerifyResult {
  entries: number;
  broken?: { line: number; seq?: number; reason: string };
  tornLastLine?: boolean;
  trailer?: { entries: number; head: string };
  /**
   * The chain does not end in the `--head` kept. `keptAt`: the entry whose hash it is, when one
   * is (a head kept from an earlier export: the entries up to it are those kept, the ones after
   * it came since); absent, no entry of the chain has it (entries cut off the end, history rewritten, or another ledger).
   */
  headMismatch?: { expected: string; actual: string; keptAt?: number };
  /**
   * Files on the target that no longer hash as the ledger says: as listed, or (with download) as
   * served. `hash` names the value compared (the first that differs: SHA-512, then each other one
   * both the ledger and the listing have, then the size); a file missing or added is `sha512`.
   */
  targetMismatches: { package: string; version: string; file: string; hash: FileHash; ledger: string; target: string; via: 'listing' | 'download' }[];
  /**
   * Versions the target holds with another status than Published (Archived, Unlisted, Disposed, ...),
   * or whose files it lists while its package's version listing does not name it (`(not listed)`):
   * a lockfile pinning one no longer installs, whatever its files hash to.
   */
  targetNotPublished: { package: string; version: string; status: string }[];
  /** Versions the target could not be asked about (after retries): not checked, so not passed. */
  targetErrors: { package: string; version: string; error: string }[];
  /**
   * The target stopped answering (STUCK_AFTER reads in a row with no answer: ETARGETSILENT),
   * nothing answers at it (ETARGETUNREACHABLE), or it refused the credentials: the reading
   * stopped there, and `unread` versions were not read. Not checked, so not passed.
   */
  targetStopped?: { code: string; message: string; hint?: string; unread: number };
  targetChecked: number;
  /** Versions the ledger records in another domain than the job's (a job moved with --retarget): not read here; verify them with a job file for that domain. */
  otherDomains?: { domain: string; versions: number }[];
  /** Files downloaded and hashed (verify --download). */
  targetDownloaded?: number;
  /**
   * With `--since OLDER`: whether this export holds every entry of the older export, as its first
   * ones (`holds`). `forkedAt`: the first entry that differs (the entries before it are alike; the
   * older export's entries from it on are not here: the state restored from a copy older than it,
   * or run on a second copy). `missing`: the chain ends before the older export's last entry.
   */
  since?: { file: string; entries: number; head: string; holds: boolean; forkedAt?: number; missing?: number };
  /**
   * With `--job` and the job's state database at hand: the export compared with the state's own
   * ledger. `compared: false` with why when there is none to compare with (verified on another
   * machine: nothing is said of it). `differsAt`: the first entry whose hash is not the state's
   * (the file rewritten and every hash recomputed, another ledger's entries, or the state restored
   * from an older copy or run from a second copy since); an export longer than the state's ledger
   * differs at the first entry the state lacks. `heldBefore`: entries the state holds after this
   * export's last that it recorded before the export was written (its trailer's `exportedAt`):
   * cut off the end of this file and the trailer written again. `addedSince`: those recorded after.
   */
  state?: { database: string; compared: true; entries: number; differsAt?: number; heldBefore: number; addedSince: number } | { database: string; compared: false; reason: string };
}

export interface VerifyOptions {
  head?: string;
  /** An earlier export of the same ledger (kept by security): this one must hold all its entries, as its first ones. */
  since?: string;
  job?: string;
  codeartifactClient?: CodeartifactClient;
  /** How long one read of the target may take before the version counts as unread (for a download: the longest pause in its bytes). */
  targetTimeoutMs?: number;
  /**
   * With `job`: also download every file (GetPackageVersionAsset) and hash its bytes. The
   * listing's hashes are what the target says; a corrupted or lying store serves other bytes
   * under the same listing. Costs one download per file, at the job's getAsset rate.
   */
  download?: boolean;
  /**
   * With `job`: the state directory whose `<job>.sqlite` the export is compared with (the CLI's
   * --state-dir). The export must be the state's ledger, entry for entry, and hold every entry the
   * state held when it was exported: what an unkeyed chain cannot tell alone (a file rewritten
   * whole, or cut at an entry boundary with its trailer written again) the state's own copy can.
   */
  stateDir?: string;
  /** After each version read on the target (or given up on): how many of how many, so a long check is not a silent one. */
  onProgress?: (p: VerifyProgress) => void;
  /** Abort = stop reading the target (Ctrl-C, SIGTERM): what was read is reported, the rest counted unread (`targetStopped`: EINTERRUPTED). */
  signal?: AbortSignal;
}

/** How far `ledger verify --job` is: versions read of the ones to read, and what it found so far. */
export interface VerifyProgress {
  done: number;
  total: number;
  /** Files the target lists or serves otherwise than the ledger. */
  changed: number;
  /** Versions the target could not be asked about. */
  unread: number;
}

/** A target that answers nothing is not waited on forever. */
const TARGET_READ_TIMEOUT_MS = 60_000;
/** Versions read from the target at once. */
const TARGET_READ_CONCURRENCY = 8;

export async function ledgerVerifyCommand(file: string, opts: VerifyOptions & { json?: boolean }, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  try {
    if (opts.download && !opts.job) throw new MigrateError('ECONFIG', '--download reads the target: it needs --job <job file>', { hint: 'ledger verify FILE --job JOB --download' });
    // an unset variable (--head "$HEAD") or some other text would only ever be a HEAD MISMATCH: a tamper alarm for a typo
    if (opts.head !== undefined && !/^[0-9a-f]{64}$/i.test(opts.head.trim())) {
      throw new MigrateError('ECONFIG', `--head ${JSON.stringify(opts.head.slice(0, 100))} is not a head hash (64 hex digits, as ledger export printed it)`, {
        hint: 'pass the head hash kept when the file was exported (is the variable it came from unset?); an export of no entries has none: verify it without --head',
      });
    }
    // stderr only: stdout is the result, which scripts parse
    const progress = countProgress<VerifyProgress>(io, 'versions read on the target', verifyProgressLine);
    let result: VerifyResult;
    try {
      result = await verifyLedgerFile(file, {
        ...opts,
        onProgress: (p) => {
          opts.onProgress?.(p);
          progress.onProgress(p);
        },
      });
    } finally {
      progress.stop();
    }
    if (json) print(io.stdout, `${JSON.stringify({ file, ...result }, null, 2)}\n`);
    else printEntries(io.stdout, describeVerify(file, result, opts));
    return result.broken || result.tornLastLine || result.headMismatch || result.targetMismatches.length || result.targetNotPublished.length || result.targetErrors.length || result.targetStopped || !result.trailer || (result.since && !result.since.holds) || (result.state?.compared && (result.state.differsAt !== undefined || result.state.heldBefore > 0)) ? 1 : 0;
  } catch (e) {
    return reportError(e, io, json);
  }
}

/** What verify keeps of a migrated version to read the target again: one row per version, never the file. */
interface Migrated {
  format: string;
  package: string;
  version: string;
  /** The domain it went to, as `region/owner/domain` ('' when the entry does not say). */
  domain: string;
  repository: string;
  /** Per file, its hashes and size as computed when it was migrated (sha512 '' when the entry has none). */
  files: Record<string, LedgerFile>;
  /** Why it cannot be read on the target (an entry no export holds: its format, package or version not text). */
  unreadable?: string;
}

/** What a ledger entry computed of one file: the SHA-512 always ('' when it has none), the rest when recorded. */
interface LedgerFile {
  sha512: string;
  sha256?: string;
  sha1?: string;
  md5?: string;
  size?: number;
}

/** The values `ledger verify --job` compares a listing with, as the ledger names them. */
export type FileHash = 'sha512' | 'sha256' | 'sha1' | 'md5' | 'size';

/** The other hashes, as the ledger and as a CodeArtifact listing name them, in the order they are compared after the SHA-512. */
const OTHER_HASHES = [
  ['sha256', 'SHA-256'],
  ['sha1', 'SHA-1'],
  ['md5', 'MD5'],
] as const;

function ledgerFile(h: unknown): LedgerFile {
  const r = (h !== null && typeof h === 'object' ? h : {}) as Record<string, unknown>;
  const hex = (v: unknown) => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined);
  const size = typeof r['size'] === 'number' && Number.isFinite(r['size']) ? r['size'] : undefined;
  return {
    sha512: String(r['sha512'] ?? ''),
    ...Object.fromEntries(OTHER_HASHES.flatMap(([ours]) => (hex(r[ours]) ? [[ours, hex(r[ours])]] : []))),
    ...(size !== undefined ? { size } : {}),
  };
}

/**
 * The first value the ledger and the listing both have that differs: the SHA-512 (always
 * compared: a listing without one never passes), then each other hash, then the size.
 * A listing that vouches for the ledger's SHA-512 while lying about another is not passed.
 */
function listedDifference(ours: LedgerFile, theirs: TargetAsset): { hash: FileHash; ledger: string; target: string } | undefined {
  const sha512 = theirs.hashes['SHA-512']?.toLowerCase() ?? '(no SHA-512)';
  if (sha512 !== ours.sha512) return { hash: 'sha512', ledger: ours.sha512, target: sha512 };
  for (const [name, listed] of OTHER_HASHES) {
    const t = theirs.hashes[listed];
    const o = ours[name];
    if (o !== undefined && typeof t === 'string' && t !== '' && t.toLowerCase() !== o) return { hash: name, ledger: o, target: t.toLowerCase() };
  }
  if (ours.size !== undefined && typeof theirs.size === 'number' && theirs.size !== ours.size) return { hash: 'size', ledger: String(ours.size), target: String(theirs.size) };
  return undefined;
}

/** `region/owner/domain` of a ledger entry's target or a job's ('' when the entry names none). */
function domainKey(t: Record<string, unknown>): string {
  return t['domain'] === undefined ? '' : `${String(t['region'] ?? '')}/${String(t['domainOwner'] ?? '')}/${String(t['domain'])}`;
}

function collector(): { latest: Map<string, Migrated>; hashes: HashList; onEntry: (l: LedgerLine) => void } {
  const latest = new Map<string, Migrated>();
  const hashes = new HashList();
  return {
    latest,
    hashes,
    onEntry: ({ seq, hash, entry: e }) => {
      hashes.push(hash);
      if ((e.outcome !== 'published' && e.outcome !== 'present-identical') || !e.package || !e.version || !e.format) return;
      // a chain computed whole holds whatever its entries say (without --head): one naming a version
      // by anything but text is reported, never read (nor crashes the check)
      if (typeof e.package !== 'string' || typeof e.version !== 'string' || typeof e.format !== 'string') {
        const shown = (v: unknown) => (typeof v === 'string' ? v : canonical(v).slice(0, 200));
        latest.set(`entry ${seq}`, { format: shown(e.format), package: shown(e.package), version: shown(e.version), domain: '', repository: '', files: {}, unreadable: `entry ${seq}: its format, package or version is not text (no ledger export writes that): not checked` });
        return;
      }
      const files = Object.fromEntries(Object.entries(e.hashes?.computed ?? {}).map(([name, h]) => [name, ledgerFile(h)]));
      const domain = domainKey(e.target ?? {});
      // the latest per domain: a job moved to another domain (--retarget) migrated each version to both
      latest.set(`${domain} ${e.format}/${e.package}@${e.version}`, { format: e.format, package: e.package, version: e.version, domain, repository: String(e.target?.repository ?? ''), files });
    },
  };
}

/** Verify an export given as text (tests; the CLI streams the file). */
export async function verifyLedger(text: string, opts: VerifyOptions): Promise<VerifyResult> {
  const { latest, hashes, onEntry } = collector();
  // what each version's files hash to is kept only for the target's reading: a chain check keeps nothing per entry
  const checker = new LedgerChecker(opts.job ? onEntry : undefined, opts.head?.trim().toLowerCase());
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((l, i) => checker.push(l, i + 1));
  checker.end(text.endsWith('\n'));
  return finish(checker, latest, opts, hashes);
}

/**
 * Verify an export file, read as a stream of lines: a huge file is never held whole, a line
 * longer than any export writes (an endless one, /dev/zero's) stops the reading, and what is
 * not a regular file (a FIFO that would wait for a writer, a device) is refused before a read.
 */
export async function verifyLedgerFile(file: string, opts: VerifyOptions): Promise<VerifyResult> {
  const { latest, hashes, onEntry } = collector();
  const older = opts.since !== undefined ? await olderExport(opts.since) : undefined;
  let forkedAt: number | undefined;
  const against = older && ((l: LedgerLine) => {
    if (forkedAt === undefined && l.seq <= older.entries && older.hashes.at(l.seq) !== l.hash) forkedAt = l.seq;
  });
  // what each version's files hash to is kept only for the target's reading: a chain check keeps nothing per entry
  const each = opts.job && against ? (l: LedgerLine) => (against(l), onEntry(l)) : opts.job ? onEntry : against;
  const checker = new LedgerChecker(each, opts.head?.trim().toLowerCase());
  const result = await readExport(file, checker, opts, latest, hashes);
  if (older) {
    const c = checker.check;
    const missing = !c.broken && forkedAt === undefined && c.entries < older.entries ? older.entries - c.entries : undefined;
    result.since = { file: opts.since!, entries: older.entries, head: older.head, holds: !c.broken && forkedAt === undefined && missing === undefined, ...(forkedAt !== undefined ? { forkedAt } : {}), ...(missing !== undefined ? { missing } : {}) };
  }
  return result;
}

/**
 * An earlier export, read whole and verified itself (its chain, its trailer): the hash of each of
 * its entries in order (32 bytes each), its count and head. One that does not verify is no
 * reference to hold a later export to: ECONFIG naming why.
 */
async function olderExport(file: string): Promise<{ entries: number; head: string; hashes: HashList }> {
  const hashes = new HashList();
  const checker = new LedgerChecker((l) => hashes.push(l.hash));
  const r = await readExport(file, checker, {}, new Map(), hashes);
  const why = r.broken ? `line ${r.broken.line}: ${r.broken.reason}` : r.tornLastLine ? 'its last line is cut off' : !r.trailer ? 'it has no trailer (entries may have been cut off its end)' : undefined;
  if (why) {
    throw new MigrateError('ECONFIG', `--since ${file} does not verify itself (${why}): it cannot be the earlier export to compare with`, {
      hint: 'pass the earlier export as `ledger export` wrote it (check it alone: ledger verify FILE --head <its head>)',
    });
  }
  return { entries: hashes.length, head: hashes.length ? checker.head : '', hashes };
}

/** The hash of each verified entry in order, 32 bytes each: what an export is compared with, never its entries. */
class HashList {
  private buf = Buffer.alloc(32 * 1024);
  length = 0;
  push(hex: string): void {
    if ((this.length + 1) * 32 > this.buf.length) {
      const more = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(more);
      this.buf = more;
    }
    this.buf.write(hex, this.length * 32, 'hex');
    this.length++;
  }
  /** The hash of entry `seq` (1-based). */
  at(seq: number): string {
    return this.buf.toString('hex', (seq - 1) * 32, seq * 32);
  }
}

/** Read an export through `checker` (see verifyLedgerFile), then what the options ask of the result. */
async function readExport(file: string, checker: LedgerChecker, opts: VerifyOptions, latest: Map<string, Migrated>, hashes: HashList): Promise<VerifyResult> {
  const unreadable = (why: string, cause?: unknown) => new MigrateError('ECONFIG', `cannot read ${file}: ${why}`, { cause, hint: 'pass a file written by `ledger export` (JSON Lines)' });
  let fh;
  try {
    // O_NONBLOCK: a FIFO opens at once instead of waiting for a writer (it is refused below)
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw unreadable((e as NodeJS.ErrnoException).code ?? toError(e).message, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw unreadable(st.isDirectory() ? 'it is a directory' : 'not a regular file (a FIFO, device or socket): not read');
    const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const buf = Buffer.allocUnsafe(64 * 1024);
    let parts: Buffer[] = [];
    let partBytes = 0;
    let line = 0;
    let first = true;
    let endedWithNewline = true;
    const take = (bytes: Buffer, whole: boolean) => {
      line++;
      let text: string;
      try {
        // a last line with no newline may end cut inside a character by a crash (torn, which the
        // checker says): only a character cut at its very end is let through, never one inside it
        if (whole) text = utf8.decode(bytes);
        else {
          const cut = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
          text = cut.decode(bytes, { stream: true });
          try {
            cut.decode();
          } catch {
            text += '\ufffd'; // the character cut: never a whole line (a byte appended after a trailer is not one)
          }
        }
      } catch {
        return checker.fail(line, 'not UTF-8 text (a binary file, or one re-encoded since the export)');
      }
      checker.push(text, line);
    };
    read: for (;;) {
      let got: number;
      try {
        ({ bytesRead: got } = await fh.read(buf, 0, buf.length, null));
      } catch (e) {
        throw unreadable((e as NodeJS.ErrnoException).code ?? toError(e).message, e);
      }
      if (got === 0) break;
      const chunk = buf.subarray(0, got);
      if (first) {
        first = false;
        if (chunk[0] === 0x1f && chunk[1] === 0x8b) throw unreadable('it is gzip-compressed: gunzip it and verify the JSON Lines it holds');
        if (chunk.subarray(0, 16).toString('latin1') === 'SQLite format 3\0') {
          throw unreadable('it is an SQLite database (a state?), not an export: write its ledger out with `ledger export JOB --out FILE`, then verify that file');
        }
        // the CSV export (a spreadsheet's re-save may add a byte order mark): a copy for reading, no chain
        const start = chunk.subarray(0, 256).toString('utf8').replace(/^\ufeff/, '').replace(/"/g, '');
        if (start.startsWith(`${CSV_COLUMNS.slice(0, 4).join(',')},`)) {
          throw unreadable('it is the CSV export (ledger export --format csv), a copy for reading that holds no chain to verify: verify the JSON Lines export (ledger export without --format csv)');
        }
      }
      let from = 0;
      for (let nl = chunk.indexOf(0x0a, from); ; nl = chunk.indexOf(0x0a, from)) {
        const piece = chunk.subarray(from, nl === -1 ? chunk.length : nl);
        if (partBytes + piece.length > MAX_LEDGER_LINE_BYTES) {
          checker.fail(line + 1, `longer than ${MAX_LEDGER_LINE_BYTES} bytes: not a line ledger export writes (not read further)`);
          break read;
        }
        if (nl === -1) {
          if (piece.length) (parts.push(Buffer.from(piece)), (partBytes += piece.length));
          endedWithNewline = partBytes === 0;
          break;
        }
        take(parts.length ? Buffer.concat([...parts, piece]) : piece, true);
        parts = [];
        partBytes = 0;
        endedWithNewline = true;
        from = nl + 1;
        if (checker.done) break read;
      }
    }
    if (!checker.done && partBytes) take(Buffer.concat(parts), false);
    checker.end(endedWithNewline);
  } finally {
    await fh.close();
  }
  return finish(checker, latest, opts, hashes);
}

async function finish(checker: LedgerChecker, latest: Map<string, Migrated>, opts: VerifyOptions, hashes: HashList): Promise<VerifyResult> {
  const c = checker.check;
  const result: VerifyResult = {
    entries: c.entries,
    ...(c.broken ? { broken: c.broken } : {}),
    ...(c.tornLastLine ? { tornLastLine: true } : {}),
    ...(checker.trailer ? { trailer: { entries: checker.trailer.entries, head: checker.trailer.head } } : {}),
    targetMismatches: [],
    targetNotPublished: [],
    targetErrors: [],
    targetChecked: 0,
  };
  const head = c.entries ? checker.head : '';
  if (opts.head !== undefined && !c.broken && !c.tornLastLine && opts.head.trim().toLowerCase() !== head) {
    result.headMismatch = { expected: opts.head, actual: head, ...(checker.seekAt !== undefined ? { keptAt: checker.seekAt } : {}) };
  }
  // a torn last line leaves the entries before it valid: those are read again too
  if (opts.job && !c.broken) {
    const job = loadJob(opts.job);
    await checkTarget(latest, job, result, opts, checker.jobName);
    if (opts.stateDir !== undefined) result.state = againstState(job, opts.stateDir, hashes, c.tornLastLine ? undefined : checker.trailer);
  }
  return result;
}

/**
 * The export against the job's state database, when it is at hand: the state's ledger is the
 * record the export was written from, so a file rewritten whole (every hash and the trailer
 * computed again) or cut at an entry boundary (the trailer written again for the entries left)
 * is found without a head kept apart. Read-only (a private copy when the state cannot be opened
 * as it is, as every reading command does).
 */
function againstState(job: LoadedJob, stateDir: string, exported: HashList, trailer: LedgerTrailer | undefined): NonNullable<VerifyResult['state']> {
  const database = join(stateDir, `${job.name}.sqlite`);
  if (!existsSync(database)) return { database, compared: false, reason: `no state database of job "${job.name}" there (pass --state-dir to compare the export with the state's own ledger)` };
  let state: StateDb;
  try {
    state = StateDb.openToRead(database);
  } catch (e) {
    return { database, compared: false, reason: toError(e).message };
  }
  try {
    const exportedAt = trailer ? Date.parse(trailer.exportedAt) : NaN;
    let entries = 0;
    let differsAt: number | undefined;
    let heldBefore = 0;
    let addedSince = 0;
    for (const r of state.db.prepare('SELECT hash, at FROM ledger ORDER BY seq').iterate() as Iterable<{ hash: string; at: string }>) {
      entries++;
      if (entries <= exported.length) {
        if (differsAt === undefined && exported.at(entries) !== r.hash) differsAt = entries;
      } else if (Date.parse(r.at) < exportedAt) heldBefore++;
      else addedSince++;
    }
    // entries the state does not hold at all: another ledger's, or the state restored from an older copy since
    if (differsAt === undefined && entries < exported.length) differsAt = entries + 1;
    return { database, compared: true, entries, ...(differsAt !== undefined ? { differsAt } : {}), heldBefore: differsAt === undefined ? heldBefore : 0, addedSince: differsAt === undefined ? addedSince : 0 };
  } finally {
    state.close();
  }
}

/**
 * A job file whose domain holds none of the versions the ledger records (another domain's job
 * file of the same name: staging's for production's ledger, or the job file edited since) would
 * read nothing and count every version apart: a check that checked nothing, never a pass. A
 * ledger that holds versions of the job's domain and of others (a job moved with --retarget) is
 * read for the job's and counts the others apart, as before. Refused before any request.
 */
function refuseOtherTarget(latest: Map<string, Migrated>, target: Record<string, unknown>, jobFile: string): void {
  const here = domainKey(target);
  const elsewhere = new Map<string, number>();
  for (const m of latest.values()) {
    if (m.domain === '' || m.domain === here) return;
    elsewhere.set(m.domain, (elsewhere.get(m.domain) ?? 0) + 1);
  }
  if (!elsewhere.size) return;
  const named = (key: string) => {
    const [region, owner, ...domain] = key.split('/');
    return `domain ${domain.join('/')} (region ${region}, owner ${owner})`;
  };
  const versions = [...elsewhere.values()].reduce((a, b) => a + b, 0);
  const where = [...elsewhere].sort(([a], [b]) => a.localeCompare(b)).map(([d, n]) => `${n} version${n === 1 ? '' : 's'} in ${named(d)}`);
  throw new MigrateError(
    'ELEDGERTARGET',
    `${jobFile} names ${named(here)}, where the ledger records none of its ${versions} migrated version${versions === 1 ? '' : 's'}: ${where.join(', ')}; nothing was read from the target, so nothing of it was verified`,
    { hint: "pass --job the job file of the domain the ledger's versions went to (after a --retarget, the job file of each domain checks that domain's versions); to check the chain alone, leave --job out" },
  );
}

/** How long a row of requests nobody answered at lasts before the verify stops reading (a run's: UNREACHABLE_FOR_MS). */
const VERIFY_UNREACHABLE_FOR_MS = 5_000;

/**
 * Read every migrated version's file list on the target again: a file replaced, removed or added
 * since is a mismatch; and its status, from its package's version listing (read once per package,
 * a page per 1,000 versions, instead of a DescribePackageVersion per version): one no longer
 * Published is reported with its status.
 */
async function checkTarget(latest: Map<string, Migrated>, job: LoadedJob, result: VerifyResult, opts: VerifyOptions, ledgerJob: string | undefined): Promise<void> {
  if (ledgerJob !== undefined && ledgerJob !== job.name) {
    throw new MigrateError('ECONFIG', `the ledger is job "${ledgerJob}"'s; ${job.file} is job "${job.name}"`, { hint: 'pass the job file the ledger was exported from' });
  }
  refuseOtherTarget(latest, job.config.target, job.file);
  // a target that stopped answering ends the reading (each version would wait retries x the
  // timeout: hours over a big ledger); what was not read is counted, never passed. One nobody
  // answers at ends it after 5 s: a check a person waits for, rerun at once, rides out no blip
  const limiter = new Limiter(job.config.limits.rates, { unreachableForMs: VERIFY_UNREACHABLE_FOR_MS });
  const stuck = stopWhenStuck(limiter, opts.signal);
  // stuck, or stopped (Ctrl-C): a version not read by then is unread, never the target's error
  const stopped = () => stuck.stuck() || opts.signal?.aborted === true;
  // every read of the target: the job's retry budget, and stopped with the stuck-peer watch
  const retry = { budget: job.config.limits.retries, signal: stuck.signal };
  const ca = new CodeArtifact(job.config.target, limiter, opts.codeartifactClient, stuck.signal);
  ca.readOnly = true;
  const timeoutMs = opts.targetTimeoutMs ?? TARGET_READ_TIMEOUT_MS;
  // a read with no answer in time counts the version unread (and toward the stuck breaker)
  ca.callDeadlineMs = timeoutMs;
  const queue = new PQueue({ concurrency: TARGET_READ_CONCURRENCY });
  let unread = 0;
  const here = domainKey(job.config.target);
  const elsewhere = new Map<string, number>();
  let total = 0;
  for (const m of latest.values()) if (m.domain === '' || m.domain === here) total++;
  let done = 0;
  // a version's read is counted when it ends, however it ends (the queue reads versions only)
  const tick = () => opts.onProgress?.({ done: ++done, total, changed: result.targetMismatches.length, unread: result.targetErrors.length + unread });
  // each package's version listing, read once for all its versions (a failed one is read again by the next version)
  const listings = new Map<string, Promise<Map<string, TargetVersion>>>();
  const versionsOf = (c: PackageCoordinates): Promise<Map<string, TargetVersion>> => {
    const key = JSON.stringify([c.format, c.repository, c.namespace ?? null, c.package]);
    let p = listings.get(key);
    if (!p) {
      p = withRetry(() => ca.listVersions(c), retry);
      p.catch(() => listings.get(key) === p && listings.delete(key));
      listings.set(key, p);
    }
    return p;
  };
  queue.on('completed', tick);
  queue.on('error', tick);
  try {
    for (const m of latest.values()) {
      if (m.domain !== '' && m.domain !== here) {
        elsewhere.set(m.domain, (elsewhere.get(m.domain) ?? 0) + 1);
        continue;
      }
      // every failure is caught here: one version the target cannot answer for is reported, never a crash
      void queue.add(async () => {
        if (m.unreadable) return void result.targetErrors.push({ package: m.package, version: m.version, error: m.unreadable });
        if (stopped()) return void unread++;
        let assets: Awaited<ReturnType<CodeArtifact['versionAssets']>>;
        let listed: TargetVersion | undefined;
        // where the version is on the target (a format the ledger names but we do not know throws: reported below)
        let coordinates: PackageCoordinates;
        let version: string;
        try {
          const target = createTarget(m.format as Format, ca, m.repository || job.config.target.repositories[m.format as Format]?.internal || '');
          coordinates = target.coordinates(m.package);
          version = target.targetVersion(m.version);
          assets = await withRetry(() => ca.versionAssets(coordinates, version), retry);
          // after the files: a version the target cannot list the files of costs no listing
          listed = (await versionsOf(coordinates)).get(version);
        } catch (e) {
          if (stopped()) return void unread++;
          const err = toError(e);
          result.targetErrors.push({ package: m.package, version: m.version, error: `${err instanceof MigrateError ? err.code : 'EUNEXPECTED'}: ${err.message}` });
          return;
        }
        // what the listing says, weighed before any of it is recorded: a comparison that throws (an
        // answer of a shape no listing has) leaves this version not checked, never counted checked with
        // nothing found, nor a rejection the queue drops (the version would vanish from the result)
        const mismatches: VerifyResult['targetMismatches'] = [];
        let notPublished: string | undefined;
        const listedAlike: string[] = [];
        try {
          // Archived, Unlisted or Disposed since: whatever its files hash to, a lockfile pinning it no
          // longer installs (the run counts such a version as not done either). One the listing leaves
          // out while its files are listed is reported too; one gone whole (no files either) is
          // reported by its files, missing.
          if (listed ? listed.status !== 'Published' : assets !== undefined) notPublished = listed?.status ?? '(not listed)';
          // a version gone from the target (deleted, disposed) lists no files: each one is missing
          const theirs = new Map((assets ?? []).map((a) => [a.name, a]));
          for (const [file, ours] of Object.entries(m.files)) {
            const t = theirs.get(file);
            const differs = t ? listedDifference(ours, t) : { hash: 'sha512' as const, ledger: ours.sha512, target: '(missing)' };
            if (differs) mismatches.push({ package: m.package, version: m.version, file, ...differs, via: 'listing' });
            else listedAlike.push(file);
          }
          // a file added to the version since (another wheel of a PyPI release) was never migrated; own names
          // only: `in` would take an added file named constructor or toString for one the ledger holds
          for (const [file, t] of theirs) {
            if (!Object.hasOwn(m.files, file)) mismatches.push({ package: m.package, version: m.version, file, hash: 'sha512', ledger: '(not in the ledger)', target: t.hashes['SHA-512']?.toLowerCase() ?? '(no SHA-512)', via: 'listing' });
          }
        } catch (e) {
          const err = toError(e);
          result.targetErrors.push({ package: m.package, version: m.version, error: `${err instanceof MigrateError ? err.code : 'EUNEXPECTED'}: ${err.message}` });
          return;
        }
        result.targetChecked++;
        if (notPublished !== undefined) result.targetNotPublished.push({ package: m.package, version: m.version, status: notPublished });
        result.targetMismatches.push(...mismatches);
        // an Archived or Disposed version serves no bytes: its status, reported above, is the finding
        if (!opts.download || listed?.status === 'Archived' || listed?.status === 'Disposed') return;
        // what the listing vouches for, read byte for byte: the store may serve other bytes under it
        for (const file of listedAlike) {
          try {
            const served = await withRetry(() => servedSha512(ca, coordinates, version, file, job.config.limits.maxArtifactBytes, timeoutMs), retry);
            result.targetDownloaded = (result.targetDownloaded ?? 0) + 1;
            // the SHA-512 of the bytes themselves: bytes that hash to the ledger's are the bytes migrated
            if (served !== m.files[file]!.sha512) result.targetMismatches.push({ package: m.package, version: m.version, file, hash: 'sha512', ledger: m.files[file]!.sha512, target: served, via: 'download' });
          } catch (e) {
            if (stopped()) return void unread++;
            const err = toError(e);
            result.targetErrors.push({ package: m.package, version: m.version, error: `${file}: ${err instanceof MigrateError ? err.code : 'EUNEXPECTED'}: ${err.message}` });
          }
        }
      });
    }
    await queue.onIdle();
  } finally {
    if (!opts.codeartifactClient) ca.client.destroy();
  }
  if (stuck.stuck()) {
    const e = toError(stuck.reason(undefined));
    result.targetStopped = { code: e instanceof MigrateError ? e.code : 'ETARGETSILENT', message: e.message, ...(e instanceof MigrateError && e.hint ? { hint: e.hint } : {}), unread };
  } else if (opts.signal?.aborted) {
    result.targetStopped = { code: 'EINTERRUPTED', message: 'the reading of the target was stopped (Ctrl-C or SIGTERM)', hint: 'verify again to read the rest', unread };
  }
  const order = (a: { package: string; version: string }, b: { package: string; version: string }) => a.package.localeCompare(b.package) || a.version.localeCompare(b.version);
  result.targetMismatches.sort(order);
  result.targetNotPublished.sort(order);
  if (elsewhere.size) result.otherDomains = [...elsewhere].map(([domain, versions]) => ({ domain, versions })).sort((a, b) => a.domain.localeCompare(b.domain));
  result.targetErrors.sort(order);
}

/**
 * The sha512 of one asset as the target serves it, streamed (never held whole): a body
 * that pauses longer than `stallMs`, or grows past the job's largest artifact, is an error.
 */
async function servedSha512(ca: CodeArtifact, coordinates: PackageCoordinates, version: string, file: string, maxBytes: number, stallMs: number): Promise<string> {
  const abort = new AbortController();
  let stalled = false;
  let timer = setTimeout(() => ((stalled = true), abort.abort()), stallMs);
  let stream: Readable | undefined;
  try {
    ({ stream } = await ca.getAsset(coordinates, version, file, abort.signal));
    const hash = createHash('sha512');
    let bytes = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      clearTimeout(timer);
      timer = setTimeout(() => ((stalled = true), stream?.destroy(), abort.abort()), stallMs);
      bytes += chunk.length;
      if (bytes > maxBytes) throw new MigrateError('ETOOLARGE', `${file}: the target serves more than limits.maxArtifactBytes (${maxBytes} bytes)`);
      hash.update(chunk);
    }
    return hash.digest('hex');
  } catch (e) {
    if (stalled) throw new MigrateError('ETARGET', `${file}: no bytes for ${stallMs / 1000} s`, { cause: e });
    throw e;
  } finally {
    clearTimeout(timer);
    stream?.destroy();
  }
}

function verifyProgressLine(p: VerifyProgress): string {
  return `ledger verify: ${p.done} of ${p.total} versions read on the target, ${p.changed} file(s) changed, ${p.unread} unread`;
}

/** The human form, one entry per line (printEntries marks any line a text from the file or the target holds as that entry's continuation). */
function describeVerify(file: string, r: VerifyResult, opts: VerifyOptions): string[] {
  const lines: string[] = [];
  if (r.broken) lines.push(`BROKEN ${file}: line ${r.broken.line}${r.broken.seq !== undefined ? ` (entry ${r.broken.seq})` : ''}: ${r.broken.reason}`);
  else if (r.tornLastLine) lines.push(`TORN ${file}: the last line is cut off (a crash while writing?); the ${r.entries} entries before it verify`);
  else lines.push(`${file}: ${r.entries} entries, the chain holds`);
  if (!r.trailer && !r.broken && !r.tornLastLine) lines.push('  no trailer: entries may have been cut off the end (export again with `ledger export`)');
  if (r.headMismatch) {
    const m = r.headMismatch;
    lines.push(
      `  HEAD MISMATCH: the chain ends in ${m.actual || '(no entry)'}, not the ${m.expected} you kept; ${
        m.keptAt !== undefined
          ? `that is the hash of entry ${m.keptAt} of ${r.entries}: the entries up to it are the ones you kept, the ${r.entries - m.keptAt} after it were added since (a later export: check them, then keep its head)`
          : 'it is the hash of no entry of this chain: entries were cut off the end (the trailer written again for the ones left, or the state restored from an older copy since), or changed and every hash after them recomputed, or the head is another ledger\'s'
      }`,
    );
  }
  else if (opts.head === undefined && !r.broken) lines.push('  no --head given: a file rewritten whole (every hash and the trailer recomputed) would verify too; compare with the head hash kept apart');
  if (r.since) {
    const o = r.since;
    if (o.holds) lines.push(`  holds ${o.file}: its ${o.entries} entries (head ${o.head || '(none)'}) are the first ${o.entries} here, ${r.entries - o.entries} added since`);
    else if (o.forkedAt !== undefined) {
      lines.push(
        `  FORKED FROM ${o.file}: entries 1 to ${o.forkedAt - 1} are alike, entry ${o.forkedAt} differs: the ${o.entries - o.forkedAt + 1} entries ${o.file} holds from ${o.forkedAt} on are not in this export (the state restored from a copy older than that export, or run from a second copy, since); keep both exports`,
      );
    } else if (o.missing !== undefined) lines.push(`  CUT SHORT against ${o.file}: this export ends after entry ${r.entries}, the earlier one holds ${o.entries}: its last ${o.missing} are not here (the state restored from an older copy since, or entries cut off this file and the trailer written again)`);
  }
  if (r.state) {
    const st = r.state;
    if (!st.compared) lines.push(`  not compared with the state ${st.database}: ${st.reason}`);
    else if (st.differsAt !== undefined) {
      lines.push(
        `  NOT THE STATE'S LEDGER ${st.database}: entry ${st.differsAt} ${st.differsAt > st.entries ? `is not in the state, whose ledger holds ${st.entries}` : 'differs from the state\'s'} (this file rewritten with every hash and its trailer computed again, another ledger's entries, or the state restored from an older copy or run from a second copy since): keep both and compare them`,
      );
    } else if (st.heldBefore > 0) {
      lines.push(`  CUT OFF against the state ${st.database}: the state recorded ${st.heldBefore} entries after this export's last before the export was written (its trailer's exportedAt): they were cut off the end of this file and the trailer written again${st.addedSince ? `; ${st.addedSince} more were added since` : ''}`);
    } else lines.push(`  the state ${st.database} holds these ${r.entries} entries as its first${st.addedSince ? `, and ${st.addedSince} added since the export` : ', and no other'}`);
  }
  const notPublished = r.targetNotPublished.length ? `, ${r.targetNotPublished.length} not Published` : '';
  if (r.targetChecked || r.targetErrors.length || r.targetStopped) lines.push(`  target: ${r.targetChecked} versions read again${opts.download ? ` (${r.targetDownloaded ?? 0} files downloaded and hashed)` : ''}, ${new Set(r.targetMismatches.map((m) => `${m.package}@${m.version}`)).size} with other files${notPublished}, ${r.targetErrors.length + (r.targetStopped?.unread ?? 0)} unread`);
  for (const m of r.targetMismatches) lines.push(`  CHANGED ON THE TARGET ${m.package}@${m.version} ${m.file}: ledger ${m.hash} ${m.ledger}, target ${m.via === 'download' ? 'serves bytes of sha512' : 'lists'} ${m.target}${m.via === 'download' ? ' (its listing still shows the ledger\'s hash)' : ''}`);
  for (const m of r.targetNotPublished) lines.push(`  NOT PUBLISHED ON THE TARGET ${m.package}@${m.version}: status ${m.status}; lockfiles pinning it no longer install (aws codeartifact update-package-versions-status --target-status Published restores an Archived or Unlisted one)`);
  for (const m of r.targetErrors) lines.push(`  NOT CHECKED ${m.package}@${m.version}: ${m.error}`);
  for (const o of r.otherDomains ?? []) lines.push(`  not read here: ${o.versions} versions the ledger records in domain ${o.domain} (verify with a job file for that domain)`);
  if (r.targetStopped) {
    lines.push(`  STOPPED ${r.targetStopped.code}: ${r.targetStopped.message}; ${r.targetStopped.unread} versions not read (${r.targetStopped.code === 'EINTERRUPTED' ? 'verify again to read them' : 'verify again once the target answers'})`);
    if (r.targetStopped.hint) lines.push(`    what to do: ${r.targetStopped.hint}`);
  }
  return lines;
}
