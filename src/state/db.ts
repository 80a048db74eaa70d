/**
 * The state database: one row per package version, an append-only event log of
 * every transition, per-package facts (dist-tags), and runs. WAL mode, so
 * `status` can read while `run` writes; every transition is one transaction.
 */
import { accessSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, lstatSync, mkdirSync, mkdtempSync, openSync, readlinkSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { localError, lowOnRoom, MigrateError, toError } from '../errors.js';
import { forStorage, forStorageDeep, redact } from '../redact.js';
import type { Format, Hashes, ItemState, PackageListing } from '../types.js';
import { sweepDeadWriters } from '../alive.js';
import { MIGRATIONS } from './migrations.js';
import { appendLedger, inContext, type LedgerContext, type LedgerEntry, type OwnEntry } from './ledger.js';
import type { TargetIdentity } from './target.js';

/** States whose arrival is a ledger entry (the rest are steps on the way). */
const LEDGERED: ReadonlySet<ItemState> = new Set(['verified', 'present-identical', 'conflict', 'failed']);

interface ListedBefore {
  id: number;
  version: string;
  state: ItemState;
  attempts: number;
  declared_integrity: string | null;
  declared_shasum: string | null;
  removed_at: string | null;
  source_commit: string | null;
  last_error_code: string | null;
  deprecated: string | null;
  source_problem: string | null;
  /** What its files were built with (git), when recorded. */
  recipe: string | null;
}

/**
 * Versions the job leaves out (a skip, a filter, its package no longer named) that a run of
 * ours started publishing (attempts are counted per target): set aside, yet the target may
 * hold some of their files (a PyPI version cut off after its sdist, whose rebuild then
 * conflicted). Said by the summary, `status` and the report, never taken for "not migrated".
 */
export const LEFT_OUT_ON_TARGET = "state IN ('excluded', 'skipped') AND attempts > 0";
/** What such a version means, in words: printed beside each one. */
export const LEFT_OUT_NOTE =
  'a run of ours started publishing it before the job left it out, so the target may hold some of its files (half a version, which clients can see); they stay there: delete the version on the target (aws codeartifact delete-package-versions) to leave nothing of it';

/**
 * The event code a `plan --no-download` notes on a version the target already lists (its
 * detail: the status listed), bytes not compared. Not an error: the report reads it
 * (listedOnTarget) so that a version already there is not counted to publish.
 */
export const LISTED_ON_TARGET = 'LISTEDONTARGET';

/**
 * The detail of the move to `published` of a version a run of ours began publishing and never
 * recorded as done (killed after the upload, or its state restored from a copy older than the
 * publish), found on the target with our bytes: nothing is uploaded then. Its ledger entry says so.
 */
export const FOUND_AFTER_INTERRUPTED = 'found on the target after an interrupted publish';

/** What the ledger entry of such a version says: the publish is ours, the upload not this run's (its principal and time are of the finding). */
const FOUND_AFTER_INTERRUPTED_ENTRY =
  "not uploaded by this run: found on the target with this tool's bytes after a publish of ours that was never recorded as done (a run killed after the upload, or the state restored from a copy older than the publish); the principal and time are this run's, the upload's are in the target's CloudTrail";

/** States in which a version no longer listed by its source is simply set aside: nothing of it reached the target. */
const SET_ASIDE_WHEN_REMOVED: ReadonlySet<ItemState> = new Set(['pending', 'fetched', 'failed', 'skipped']);

export interface ItemRow {
  id: number;
  source_id: string;
  format: Format;
  package: string;
  version: string;
  state: ItemState;
  attempts: number;
  last_error_code: string | null;
  last_error: string | null;
  declared_integrity: string | null;
  declared_shasum: string | null;
  integrity_weak: number;
  sha512: string | null;
  sha256: string | null;
  sha1: string | null;
  md5: string | null;
  size: number | null;
  target_sha512: string | null;
  /** The file of the version a conflict is about (target_sha512 is its hash on the target); null: the first file. */
  target_asset: string | null;
  registry_url: string;
  artifact_url: string;
  source_published_at: string | null;
  deprecated: string | null;
  ordinal: number;
  created_at: string;
  updated_at: string;
  last_listed_run: number | null;
  removed_at: string | null;
  source_problem: string | null;
  source_ref: string | null;
  source_commit: string | null;
  /** JSON: format facts about the whole version (Go: module path, h1 hashes). */
  facts: string | null;
  /** JSON: what the target reported per file when the row last moved to a state that read them (verified, present-identical); null otherwise. */
  target_hashes: string | null;
}

/** The columns a run plans its work from. */
export type WorkKey = Pick<ItemRow, 'id' | 'source_id' | 'format' | 'package' | 'version' | 'state' | 'last_listed_run' | 'last_error_code' | 'removed_at' | 'attempts'>;

/** One file of a version: stored in the blob store, then uploaded on its own. */
export interface AssetRow {
  id: number;
  item_id: number;
  name: string;
  ordinal: number;
  size: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  /** JSON: what the format needs to upload it. */
  facts: string;
  state: 'stored' | 'uploading' | 'uploaded';
  attempts: number;
  updated_at: string;
}

/** A file about to be recorded as one of a version's assets. */
export interface NewAsset {
  name: string;
  size: number;
  hashes: Hashes;
  facts?: Record<string, unknown>;
}

export interface PackageRow {
  source_id: string;
  format: Format;
  package: string;
  dist_tags: string;
  meta_state: 'pending' | 'done' | 'failed';
  last_error: string | null;
  list_error_code: string | null;
  list_error: string | null;
  updated_at: string;
}

/** Fields a transition may set besides the state. */
export interface TransitionFields {
  hashes?: Hashes;
  size?: number;
  integrityWeak?: boolean;
  targetSha512?: string | null;
  /** The file target_sha512 belongs to (recorded with a conflict). */
  targetAsset?: string | null;
  error?: { code: string; message: string } | null;
  countAttempt?: boolean;
  /** Take back the attempt the move to `publishing` counted (the target refused the publish and stored nothing). */
  uncountAttempt?: boolean;
  /** The version's files (replacing any earlier ones): recorded with the move to `fetched`. */
  assets?: NewAsset[];
  /** Format facts about the whole version (JSON-serialisable). */
  facts?: Record<string, unknown>;
  /**
   * The registry or repository the files were downloaded or built from (with the move to `fetched`): the source's
   * URL now, which a job edited since the version was first listed may have changed (the ledger's provenance).
   */
  registryUrl?: string;
  /** What the target reported for the version's files, for the ledger entry. */
  targetHashes?: Record<string, Record<string, unknown>>;
}

const now = () => new Date().toISOString();

/**
 * Our SHA-512 of the file a conflict is about, the one target_sha512 pairs with: the version's
 * first file's when the conflict names none (recorded before schema 8), or none of ours (the
 * target's version holds files that are none of ours).
 */
export function conflictSha512(row: Pick<ItemRow, 'sha512'> & { target_asset?: string | null }, assets: readonly Pick<AssetRow, 'name' | 'sha512'>[]): string | null {
  return (row.target_asset ? assets.find((a) => a.name === row.target_asset)?.sha512 : undefined) ?? row.sha512;
}

/** Which build settings differ, in words (`command`, `python`, `directory`). */
function describeRecipeChange(was: string, now_: string): string {
  try {
    const a = JSON.parse(was) as Record<string, unknown>;
    const b = JSON.parse(now_) as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    return keys.length ? keys.join(', ') : 'settings';
  } catch {
    return 'settings';
  }
}

/** A source as the state records it: its kind, URL and what else tells it from another source of that URL. */
export interface RecordedSource {
  id: string;
  kind: string;
  url: string;
  shape: Record<string, unknown>;
}

export class StateDb {
  readonly db: Database.Database;
  runId: number | null = null;
  /** Set by a run that writes to the target: its outcomes go into the provenance ledger. */
  ledger?: LedgerContext;
  private readonly statements = new Map<string, Database.Statement>();
  /** The file this connection opened: none, or another, at `path` later is a state deleted or replaced under the run. */
  private readonly file?: { dev: number; ino: number };
  /** Set once the file was found gone or replaced: every later write is refused with it. */
  private lost?: MigrateError;
  /** Whether anything was written through this connection (a read-only command's never is). */
  private wrote = false;

  private constructor(
    db: Database.Database,
    readonly path: string,
  ) {
    this.db = db;
    const st = statSync(path, { throwIfNoEntry: false });
    if (st) this.file = { dev: st.dev, ino: st.ino };
  }

  /** A prepared statement, prepared once: tens of thousands of packages each record a listing. */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) this.statements.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  /**
   * Run a write; a database that cannot take it becomes a coded error: a full
   * disk is ELOCAL naming the file, anything else ESTATE. SQLite rolls the
   * transaction back, so the recorded state stays what it was.
   */
  write<T>(fn: () => T): T {
    this.wrote = true;
    this.stillOurs();
    try {
      return fn();
    } catch (e) {
      throw stateError(e, this.path);
    }
  }

  /**
   * The file at `path` is still the one this connection writes (a stat, a few microseconds a
   * write). An operator who deletes the state directory under a running job (or restores an
   * old copy over it) would otherwise have every later step written into a file no one can
   * open again: the run would end "done" and its rows and ledger entries would be gone with
   * the process. Instead the run stops, and what it recorded is saved where the rerun finds it.
   */
  private stillOurs(): void {
    if (this.lost) throw this.lost;
    if (!this.file) return;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(this.path, { throwIfNoEntry: false });
    } catch {
      return; // a folder that cannot be searched now is told by the write itself
    }
    if (st && st.dev === this.file.dev && st.ino === this.file.ino) return;
    throw (this.lost = this.rescue(st === undefined));
  }

  /** The open database written out whole where the rerun looks for it (or beside the file that replaced it), and the error that stops the run. */
  private rescue(gone: boolean): MigrateError {
    const to = gone ? this.path : `${this.path}.rescued-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const what = `the state database ${this.path} was ${gone ? 'deleted (the state directory removed or emptied?)' : 'replaced by another file'} while this run used it: stopped`;
    try {
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      writeWhole(to, this.db.serialize());
    } catch (e) {
      return new MigrateError('ESTATE', what, {
        cause: e,
        hint: `what this run recorded could not be saved (${toError(e).message}). Rerun with the state directory in place: versions the target already holds are read back, never published again, but this run's ledger entries are lost`,
      });
    }
    return new MigrateError('ESTATE', what, {
      hint: gone
        ? `what this run had recorded is saved again at ${to}: rerun and it resumes from there (the blobs and git mirrors that went with the folder are fetched again)`
        : `what this run had recorded is saved in ${to}: keep whichever of the two holds the migration at ${this.path} (never both in turn), then rerun`,
    });
  }

  static open(path: string): StateDb {
    return StateDb.connect(path, 'write');
  }

  /**
   * `write`: the state as a command that writes it needs it, upgraded to this code's schema and
   * bound to its job. `read` (a read-only command's, in place): nothing is written; a state that
   * would need writing first (an older schema, not in WAL mode) throws WOULD_WRITE before
   * anything changes, and a job name not recorded yet is left unrecorded.
   */
  private static connect(path: string, mode: 'write' | 'read'): StateDb {
    let db: Database.Database;
    try {
      // as the lock makes it (state/lock.ts): the account's alone
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      refuseDangling(path);
      refuseEmpty(path);
      createWhole(path);
      refuseForeignLog(path);
      refuseNewer(path);
      db = new Database(path);
      // busy_timeout first: another process (a `status`, a second `run`) may be creating the file right now
      db.pragma('busy_timeout = 5000');
      // a database newer than this code is refused before anything (even the journal mode) touches it
      // (refuseNewer told it without a connection that writes; this is one upgraded since)
      // the schema number and the tables read in one snapshot: a process giving a new file its
      // schema (tables and number in one transaction) may commit between two separate reads
      const { version, foreign } = db.transaction(() => {
        const v = db.pragma('user_version', { simple: true }) as number;
        return { version: v, foreign: v > MIGRATIONS.length ? undefined : notOurs(db, v) };
      })();
      if (version > MIGRATIONS.length) {
        db.close();
        throw newerError(path, version);
      }
      if (foreign) {
        db.close();
        throw new MigrateError('ESTATE', `${path} is not a codeartifact-migrate state database: ${foreign}`, {
          hint: `was another file copied or renamed to this name? Put it back where it came from (nothing was written to it) and restore the job's state file from a copy; for a job never run, move it away and rerun`,
        });
      }
      if (mode === 'read' && db.pragma('journal_mode', { simple: true }) !== 'wal') {
        db.close();
        throw WOULD_WRITE;
      }
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
    } catch (e) {
      if (e instanceof MigrateError || e === WOULD_WRITE) throw e;
      const broken = damaged(toError(e), path);
      if (broken) throw broken;
      // a full disk (the new file, its -wal or its shared-memory index could not be written) is
      // this machine's: never "move the file away", which would lose what the state records
      const full = localFailure(e, path);
      if (full) throw full;
      // a state this user may read but not write beside is not broken: moving it away would lose what it records.
      // SQLite says only SQLITE_CANTOPEN when it cannot make the -wal beside it (a folder root may not write
      // either: read-only mount, immutable), so the folder and the file are asked too
      if (cannotWrite(e) || !writable(dirname(path)) || (existsSync(path) && !writable(path))) {
        throw new MigrateError('ESTATE', `cannot write the state database ${path} or its folder: ${toError(e).message}`, {
          cause: e,
          hint: NOT_WRITABLE,
        });
      }
      throw new MigrateError('ESTATE', `cannot open the state database ${path}`, {
        cause: e,
        hint: heldByAnother(e) ? `${toError(e).message}. ${HELD}` : `${toError(e).message}. Check the path is writable, or move the file away to start over`,
      });
    }
    const state = new StateDb(db, path);
    try {
      state.migrate(path, mode);
      state.bindJob(basename(path).replace(/\.sqlite$/, ''), mode);
    } catch (e) {
      // a refused or failed upgrade leaves no connection (and no -wal/-shm) behind
      db.close();
      throw e;
    }
    return state;
  }

  private migrate(path: string, mode: 'write' | 'read'): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) throw newerError(path, current);
    if (mode === 'read' && current < MIGRATIONS.length) throw WOULD_WRITE;
    MIGRATIONS.forEach((sql, i) => {
      const version = i + 1;
      if (version <= current) return;
      // IMMEDIATE takes the write lock before reading: a process that opened the file at the
      // same moment may have applied this migration since `current` was read
      try {
        this.db.transaction(() => {
          if ((this.db.pragma('user_version', { simple: true }) as number) >= version) return;
          this.db.exec(sql);
          this.db.pragma(`user_version = ${version}`);
        }).immediate();
      } catch (e) {
        const full = localFailure(e, path, `schema migration ${version} (rolled back: the database stays at the previous schema)`);
        if (full) throw full;
        throw new MigrateError('ESTATE', `${path}: schema migration ${version} failed: ${toError(e).message}`, {
          cause: e,
          // a sqlite3 shell or a DB browser holding the file is no fault of the disk
          hint: heldByAnother(e) ? `the database was left at the previous schema. ${HELD}` : 'the database was left at the previous schema; check the disk and permissions, then rerun',
        });
      }
    });
  }

  /**
   * For a command that only reads it (status, report, ledger export), which never changes the
   * state file, not even to upgrade it: the state read in place (WAL: beside a run writing it),
   * or a private copy of it, upgraded and deleted on close, where in place it would have to be
   * written or cannot be read:
   * - a state an older release wrote (an older schema), or one not in WAL mode: opened in
   *   place it would be upgraded, and that release (pinned in cron, another operator's
   *   machine), still running the migration, would then refuse it as "written by a newer
   *   codeartifact-migrate". Its first page says so, read without SQLite: a connection, even a
   *   read-only one, makes `-wal` and `-shm` files beside the file, and one that writes folds a
   *   killed run's log into it when it closes;
   * - a state this user may read but not write beside (a read-only mount, a state directory
   *   handed over for an audit): SQLite writes `-wal` and `-shm` files beside a WAL database
   *   even to read it.
   * The copy is taken again until the files did not change while it was taken (a run may be
   * writing): one moment's state.
   */
  static openToRead(path: string): StateDb {
    const head = firstPage(path);
    // a file that is no database (empty, garbled, unreadable) is left to `connect` to name
    const asItIs = !head || (head.version >= MIGRATIONS.length && head.wal);
    if (asItIs && writable(path) && writable(dirname(path))) {
      try {
        return StateDb.connect(path, 'read');
      } catch (e) {
        // WOULD_WRITE: it was upgraded or left WAL mode between the two looks (never by us): read a copy
        if (!(e === WOULD_WRITE || (e instanceof MigrateError && cannotWrite(e.cause)))) throw e;
      }
    }
    let dir: string;
    try {
      dir = mkdtempSync(join(tmpdir(), 'codeartifact-migrate-read-'));
    } catch (e) {
      throw localError(e, tmpdir(), 'make a private copy of the state in', { anyCode: true, hint: COPY_ROOM })!;
    }
    const copy = join(dir, basename(path));
    const drop = () => rmSync(dir, { recursive: true, force: true });
    process.once('exit', drop);
    try {
      for (let attempt = 1; ; attempt++) {
        const before = fingerprint(path);
        try {
          copyFileSync(path, copy);
          if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
          else rmSync(`${copy}-wal`, { force: true });
        } catch (e) {
          // the copy could not be written (a full temp folder): this machine's, not a permission on the state
          const full = NO_ROOM.has((e as NodeJS.ErrnoException).code ?? '') ? localError(e, dir, 'copy the state database into', { hint: COPY_ROOM }) : undefined;
          if (full) throw full;
          throw new MigrateError('ESTATE', `cannot read the state database ${path}: ${toError(e).message}`, {
            cause: e,
            hint: 'run as the user that owns the state directory, or give this user read access to it',
          });
        }
        if (fingerprint(path) === before) break;
        if (attempt === 5) throw new MigrateError('ESTATE', `the state database ${path} kept changing while it was read (a run is writing it)`, { hint: 'read it again when the run has ended' });
      }
      let state: StateDb;
      try {
        state = StateDb.open(copy);
      } catch (e) {
        // what is wrong is the state's: named by its path, not by the private copy's (deleted at once)
        if (!(e instanceof MigrateError)) throw e;
        throw new MigrateError(e.code, e.message.replaceAll(copy, path), { cause: e.cause, ...(e.hint ? { hint: e.hint.replaceAll(copy, path) } : {}) });
      }
      const close = state.close.bind(state);
      state.close = () => {
        close();
        drop();
        process.removeListener('exit', drop);
      };
      return state;
    } catch (e) {
      drop();
      process.removeListener('exit', drop);
      throw e;
    }
  }

  close(): void {
    if (!this.db.open) return;
    // a run that stopped for another reason (a blob gone with the folder) before writing again
    // still leaves what it recorded where the rerun finds it
    if (this.wrote) {
      try {
        this.stillOurs();
      } catch {
        // told by the error the run stopped with, or by its next write: saved either way when it could be
      }
    }
    this.db.close();
  }

  /**
   * Several reads as of one moment: one read transaction (WAL), so a run writing
   * beside `status` or `report` cannot make their counts, lists and last run
   * disagree (each read alone would see the database as it was at that read).
   */
  snapshot<T>(read: () => T): T {
    return this.db.transaction(read).deferred();
  }

  startRun(dryRun: boolean): number {
    const r = this.write(() => this.db.prepare('INSERT INTO runs (started_at, dry_run) VALUES (?, ?)').run(now(), dryRun ? 1 : 0));
    this.runId = Number(r.lastInsertRowid);
    return this.runId;
  }

  endRun(outcome: string, summary: unknown): void {
    if (this.runId === null) return;
    this.write(() => this.db.prepare('UPDATE runs SET ended_at = ?, outcome = ?, summary = ? WHERE id = ?').run(now(), outcome, redact(JSON.stringify(forStorageDeep(summary))), this.runId));
  }

  /**
   * The rates of the latest run that read the account's quotas (or ran at the job's own rates, or
   * measured a latency), with its quota note. A run with nothing to do reads no quotas and says
   * so (`ratesFrom`); one of an earlier release said CodeArtifact's defaults, every bucket, no
   * note, none measured: both are passed over.
   */
  lastReadRates(): { run: number; at: string; rates: Partial<Record<string, { rate: number; source: string; quota?: number; latencyMs?: number }>>; note: string | null } | undefined {
    const rows = this.db
      .prepare(
        `SELECT id, started_at, json_extract(summary, '$.rates') AS rates, json_extract(summary, '$.quotaNote') AS note FROM runs
         WHERE json_valid(summary) AND json_type(summary, '$.rates') = 'object' AND json_type(summary, '$.ratesFrom') IS NULL ORDER BY id DESC`,
      )
      .iterate() as Iterable<{ id: number; started_at: string; rates: string; note: string | null }>;
    for (const row of rows) {
      let rates: Record<string, { rate: number; source: string; quota?: number; latencyMs?: number }>;
      try {
        rates = JSON.parse(row.rates) as typeof rates;
      } catch {
        continue; // a summary that does not parse says nothing of the rates
      }
      if (row.note !== null || Object.values(rates).some((r) => r?.source !== 'default' || r?.latencyMs !== undefined)) return { run: row.id, at: row.started_at, rates, note: row.note };
    }
    return undefined;
  }

  /** Add fields to an ended run's stored summary (`plan`: the audit it made after its dry run, which `report` says again). */
  addToRunSummary(runId: number, fields: Record<string, unknown>): void {
    const row = this.db.prepare('SELECT summary FROM runs WHERE id = ?').get(runId) as { summary: string | null } | undefined;
    if (!row?.summary) return;
    const summary = { ...(JSON.parse(row.summary) as Record<string, unknown>), ...fields };
    this.write(() => this.db.prepare('UPDATE runs SET summary = ? WHERE id = ?').run(redact(JSON.stringify(forStorageDeep(summary))), runId));
  }

  /** Whether the ledger holds an origin configuration of each package, in a domain: `recorded(format, package, repository)`. */
  ledgeredOrigins(target: { region: string; domain: string; domainOwner: string }): (format: string, pkg: string, repository: string) => boolean {
    const rows = this.db
      .prepare(
        `SELECT json_extract(entry, '$.format') AS format, json_extract(entry, '$.package') AS package, json_extract(entry, '$.target.repository') AS repository FROM ledger
         WHERE json_extract(entry, '$.outcome') = 'origin-configuration' AND json_extract(entry, '$.target.region') = ? AND json_extract(entry, '$.target.domain') = ? AND json_extract(entry, '$.target.domainOwner') = ?`,
      )
      .all(target.region, target.domain, target.domainOwner) as { format: string; package: string; repository: string }[];
    const held = new Set(rows.map((r) => JSON.stringify([r.format, r.package, r.repository])));
    return (format, pkg, repository) => held.has(JSON.stringify([format, pkg, repository]));
  }

  /**
   * Versions of these sources standing `present-identical` or `conflict` whose last ledger entry (since the
   * last move to another target) is not that outcome: a plan's dry run found them so (it writes no ledger),
   * or the listing set them (a moved git tag) before the run knew as whom it writes. The run then settles
   * nothing about them (final states), so without `ledgerUnrecorded` the ledger would never name them.
   */
  private unledgeredSql = `WITH since AS (SELECT COALESCE(MAX(seq), 0) AS seq FROM ledger WHERE json_extract(entry, '$.outcome') = 'retarget'),
    last AS (SELECT json_extract(entry, '$.source.id') AS s, json_extract(entry, '$.format') AS f, json_extract(entry, '$.package') AS p, json_extract(entry, '$.version') AS v, json_extract(entry, '$.outcome') AS o, MAX(seq)
             FROM ledger WHERE seq > (SELECT seq FROM since) AND json_extract(entry, '$.version') IS NOT NULL GROUP BY s, f, p, v)
    SELECT i.* FROM items i LEFT JOIN last l ON l.s = i.source_id AND l.f = i.format AND l.p = i.package AND l.v = i.version
    WHERE i.state IN ('present-identical', 'conflict') AND i.source_id IN (SELECT value FROM json_each(?)) AND (l.o IS NULL OR l.o != i.state)
    ORDER BY i.format, i.package, i.ordinal`;

  unledgered(sourceIds: readonly string[]): ItemRow[] {
    return this.db.prepare(this.unledgeredSql).all(JSON.stringify(sourceIds)) as ItemRow[];
  }

  /** Append the entries `unledgered` found missing (with a ledger context: a run that writes), in one transaction. */
  ledgerUnrecorded(rows: readonly ItemRow[]): void {
    if (!this.ledger || rows.length === 0) return;
    this.write(() =>
      this.db.transaction(() => {
        const at = now();
        for (const row of rows) {
          const entry = this.ledgerEntry(row, at, {});
          appendLedger(this.db, row.state === 'present-identical' ? { ...entry, detail: 'found on the target with identical bytes before this run (by a plan, which writes no ledger); recorded by this run' } : entry);
        }
      }).immediate(),
    );
  }

  /** Every version the state holds for one package of one source, as it was spelled. */
  recordedVersions(sourceId: string, packageName: string): string[] {
    return (this.stmt('SELECT version FROM items WHERE source_id = ? AND package = ? ORDER BY id').all(sourceId, packageName) as { version: string }[]).map((r) => r.version);
  }

  /**
   * Record what a source lists now. New versions become `pending` items; known
   * ones keep their state and have their declared facts refreshed. The listing
   * decides: a version it no longer holds is set aside as `removed` when none of
   * it reached the target, and marked removed (its state kept) otherwise; a
   * removed version that is listed again starts over. A version the listing
   * says to skip (a tag that is no version, a job override) is `skipped`.
   * A git tag that now points at another commit than when it was first listed
   * is a conflict (ETAGMOVED), never a silent rebuild, unless the job accepts
   * the new commit for that version.
   */
  recordListing(sourceId: string, registryUrl: string, listing: PackageListing): void {
    const insert = this.stmt(`
      INSERT INTO items (source_id, format, package, version, state, declared_integrity, declared_shasum,
                         registry_url, artifact_url, source_published_at, deprecated, ordinal, created_at, updated_at,
                         last_listed_run, removed_at, source_problem, source_ref, source_commit, last_error_code, last_error)
      VALUES (@source_id, @format, @package, @version, @state, @integrity, @shasum,
              @registry_url, @artifact_url, @published_at, @deprecated, @ordinal, @now, @now, @run, NULL, @problem, @ref, @commit,
              @skip_code, @skip_reason)
      ON CONFLICT (source_id, format, package, version) DO UPDATE SET
        deprecated = excluded.deprecated,
        ordinal = excluded.ordinal,
        source_published_at = CASE WHEN items.source_commit IS NULL OR items.source_commit = excluded.source_commit THEN excluded.source_published_at ELSE items.source_published_at END,
        artifact_url = excluded.artifact_url,
        declared_integrity = excluded.declared_integrity,
        declared_shasum = excluded.declared_shasum,
        last_listed_run = excluded.last_listed_run,
        removed_at = NULL,
        source_problem = excluded.source_problem,
        source_ref = excluded.source_ref
      RETURNING id, state`);
    const pkg = this.stmt(`
      INSERT INTO packages (source_id, format, package, dist_tags, meta_state, updated_at)
      VALUES (@source_id, @format, @package, @dist_tags, 'pending', @now)
      ON CONFLICT (source_id, format, package) DO UPDATE SET
        meta_state = CASE WHEN @versions_same = 1 AND packages.dist_tags = excluded.dist_tags AND packages.meta_state = 'done' THEN 'done' ELSE 'pending' END,
        dist_tags = excluded.dist_tags,
        list_error_code = NULL,
        list_error = NULL,
        updated_at = excluded.updated_at`);
    const existing = this.stmt("SELECT id, version, state, attempts, declared_integrity, declared_shasum, removed_at, source_commit, last_error_code, deprecated, source_problem, json_extract(facts, '$.recipe') AS recipe FROM items WHERE source_id = ? AND format = ? AND package = ?");
    this.write(() =>
      this.db.transaction(() => {
        const at = now();
        const before = new Map((existing.all(sourceId, listing.format, listing.name) as ListedBefore[]).map((r) => [r.version, r]));
        // a deprecation changed at the source (or a version's listing now unusable) is package metadata to sync again
        let versionsSame = true;
        listing.versions.forEach((v, ordinal) => {
          const old = before.get(v.version);
          before.delete(v.version);
          if (old && (old.deprecated !== (v.deprecated ?? null) || old.source_problem !== (v.problem ?? null))) versionsSame = false;
          const row = insert.get({
            source_id: sourceId,
            format: listing.format,
            package: listing.name,
            version: v.version,
            state: v.skip ? 'skipped' : 'pending',
            integrity: v.integrity ?? null,
            shasum: v.shasum ?? null,
            registry_url: registryUrl,
            artifact_url: v.artifactUrl,
            published_at: v.publishedAt ?? null,
            deprecated: v.deprecated ?? null,
            ordinal,
            now: at,
            run: this.runId,
            problem: v.problem ?? null,
            ref: v.ref ?? null,
            commit: v.commit ?? null,
            skip_code: v.skip ? 'ESKIPPED' : null,
            skip_reason: v.skip ? forStorage(v.skip) : null,
          }) as { id: number; state: ItemState };
          // `old`, not RETURNING's created_at = now: two listings within one millisecond would both look fresh
          if (!old) return this.event(row.id, null, row.state, v.skip ? 'ESKIPPED' : null, v.skip ? `skipped: ${v.skip}` : `listed by ${registryUrl}`, at);
          if (old.state === 'removed') {
            this.setState(old.id, 'pending', at);
            this.event(old.id, 'removed', 'pending', 'ERELISTED', 'listed by the source again', at);
            old.state = 'pending';
          } else if (old.removed_at) {
            this.event(old.id, old.state, old.state, 'ERELISTED', 'listed by the source again', at);
          }
          if (this.skipOrUnskip(old, v.skip, at)) return;
          if (v.commit && old.source_commit && v.commit !== old.source_commit) return this.tagMoved(old, v, at);
          if (old.state === 'excluded' && old.last_error_code === 'ETAGMOVED') {
            // left out, and its tag points at the commit first listed again: nothing moved any more
            this.stmt('UPDATE items SET last_error_code = NULL, last_error = NULL WHERE id = ?').run(old.id);
            this.event(old.id, 'excluded', 'excluded', 'ETAGMOVED', `tag ${v.ref ?? ''} points at ${old.source_commit} again`, at);
            return;
          }
          if (old.state === 'conflict' && old.last_error_code === 'ETAGMOVED') {
            // the tag points at the commit first listed again
            this.setState(old.id, 'pending', at);
            this.event(old.id, 'conflict', 'pending', 'ETAGMOVED', `tag ${v.ref ?? ''} points at ${old.source_commit} again`, at);
            return;
          }
          // built, not on the target yet, and the job now builds it otherwise (a command or folder fixed after a plan): built again.
          // A conflict too: ours are not on the target, and a command changed to give the bytes it holds must be used
          const notOnTarget = old.state === 'fetched' || old.state === 'failed' || (old.state === 'conflict' && old.last_error_code !== 'ETAGMOVED');
          if (v.recipe && old.recipe && v.recipe !== old.recipe && notOnTarget) {
            this.setState(old.id, 'pending', at);
            this.event(old.id, old.state, 'pending', null, `the job's build settings for it changed since it was built (${describeRecipeChange(old.recipe, v.recipe)}): building it again`, at);
            return;
          }
          const redeclared = old.declared_integrity !== (v.integrity ?? null) || old.declared_shasum !== (v.shasum ?? null);
          if (!redeclared) return;
          // The source now declares other bytes for this version. Not yet published: start over
          // from a fresh download. Perhaps on the target already: keep it, and say so in the log
          // (an interrupted publish is settled by reading the target, and never sends stale bytes).
          if (old.state === 'fetched' || old.state === 'failed') {
            this.setState(old.id, 'pending', at);
            this.event(old.id, old.state, 'pending', 'EREDECLARED', 'the source declares a new hash: downloading again', at);
          } else if (old.state !== 'pending' && old.state !== 'excluded' && old.state !== 'skipped') {
            this.event(old.id, old.state, old.state, 'EREDECLARED', `the source now declares ${v.integrity ?? v.shasum ?? 'no hash'}; the target keeps what was migrated`, at);
          }
        });
        // what the source listed before and not now
        for (const gone of before.values()) this.markRemoved(gone, at, 'no longer listed by the source (unpublished, or its tag deleted)');
        pkg.run({ source_id: sourceId, format: listing.format, package: listing.name, dist_tags: JSON.stringify(sortKeys(listing.distTags)), versions_same: versionsSame ? 1 : 0, now: at });
      })(),
    );
  }

  /** Skipped <-> pending as the listing says; true when the row was handled. */
  private skipOrUnskip(old: ListedBefore, skip: string | undefined, at: string): boolean {
    // a conflict too: nothing of ours is on the target (theirs may be the right files, and stay)
    // and a version the filters leave out: the skip says why (with filters taken out in the same edit, nothing else would stop it)
    if (skip && (old.state === 'pending' || old.state === 'fetched' || old.state === 'failed' || old.state === 'conflict' || old.state === 'excluded')) {
      this.setState(old.id, 'skipped', at);
      this.stmt("UPDATE items SET last_error_code = 'ESKIPPED', last_error = ? WHERE id = ?").run(forStorage(skip), old.id);
      this.event(old.id, old.state, 'skipped', 'ESKIPPED', `skipped: ${skip}`, at);
      return true;
    }
    // an interrupted publish is settled by reading the target first (settleItem): the skip is kept on the
    // row, and the settling sets the version aside unless all of it is there (never completes it)
    if (skip && old.state === 'publishing' && old.last_error_code !== 'ESKIPPED') {
      this.stmt("UPDATE items SET last_error_code = 'ESKIPPED', last_error = ? WHERE id = ?").run(forStorage(skip), old.id);
      this.event(old.id, old.state, old.state, 'ESKIPPED', `skipped: ${skip}; its interrupted publish is settled first`, at);
      return false;
    }
    if (!skip && old.state === 'publishing' && old.last_error_code === 'ESKIPPED') {
      this.stmt('UPDATE items SET last_error_code = NULL, last_error = NULL WHERE id = ?').run(old.id);
      this.event(old.id, old.state, old.state, null, 'no longer skipped', at);
      return false;
    }
    if (!skip && old.state === 'skipped') {
      this.setState(old.id, 'pending', at);
      this.stmt('UPDATE items SET last_error_code = NULL, last_error = NULL WHERE id = ?').run(old.id);
      this.event(old.id, 'skipped', 'pending', null, 'no longer skipped', at);
      old.state = 'pending';
    }
    return false;
  }

  /**
   * The tag now names another commit. Accepted by the job (`versions.<v>.commit`)
   * and nothing of it on the target: rebuild from the new commit. Otherwise a
   * conflict, or, once migrated, a finding the summary reports.
   */
  private tagMoved(old: ListedBefore, v: PackageListing['versions'][number], at: string): void {
    const was = old.source_commit!;
    const now_ = v.commit!;
    const onTarget = ['publishing', 'published', 'verified', 'present-identical'].includes(old.state);
    if (v.acceptedCommit === was) {
      // the job keeps the commit first listed: a conflict over the move is settled
      if (old.state === 'conflict' && old.last_error_code === 'ETAGMOVED') {
        this.setState(old.id, 'pending', at);
        this.stmt('UPDATE items SET last_error_code = NULL, last_error = NULL WHERE id = ?').run(old.id);
        this.event(old.id, 'conflict', 'pending', 'ETAGMOVED', `tag ${v.ref} points at ${now_}; the job keeps ${was}, first listed: building that`, at);
      }
      return;
    }
    if (v.acceptedCommit === now_ && !onTarget) {
      this.stmt('UPDATE items SET source_commit = ?, source_published_at = ?, state = ?, sha512 = NULL, sha256 = NULL, sha1 = NULL, md5 = NULL, size = NULL, updated_at = ? WHERE id = ?').run(now_, v.publishedAt ?? null, 'pending', at, old.id);
      this.stmt('DELETE FROM assets WHERE item_id = ?').run(old.id);
      this.event(old.id, old.state, 'pending', 'ETAGMOVED', `tag ${v.ref} moved from ${was} to ${now_}; the job accepts ${now_}: building it`, at);
      return;
    }
    const message = `tag ${v.ref} now points at commit ${now_}, but it pointed at ${was} when first listed; a moved tag is never rebuilt silently`;
    if (onTarget || old.state === 'conflict') {
      this.event(old.id, old.state, old.state, 'ETAGMOVED', `${message}; the target keeps what was built from ${was}`, at);
      return;
    }
    // a version the job leaves out (filters, a skip) stays out: noted, never a conflict that fails the run.
    // Taken back in it is the conflict: an unskipped one here (skipOrUnskip makes it pending first),
    // one the filters select again by the code kept on it (applyFilters, after the listing)
    if (old.state === 'excluded' || old.state === 'skipped') {
      if (old.state === 'excluded') this.stmt("UPDATE items SET last_error_code = 'ETAGMOVED', last_error = ?, updated_at = ? WHERE id = ?").run(forStorage(`ETAGMOVED: ${message}`), at, old.id);
      this.event(old.id, old.state, old.state, 'ETAGMOVED', `${message}; the version is left out by the job`, at);
      return;
    }
    this.stmt("UPDATE items SET state = 'conflict', last_error_code = 'ETAGMOVED', last_error = ?, updated_at = ? WHERE id = ?").run(
      forStorage(`ETAGMOVED: ${message}; move the tag back, or name the commit to build in the job file: versions: { "${v.version}": { commit: ${now_} } } on the source (or commit: ${was} to keep what was first listed)`),
      at,
      old.id,
    );
    this.event(old.id, old.state, 'conflict', 'ETAGMOVED', message, at);
  }

  /**
   * A source enumerated its packages completely (no failed search) and these
   * packages, which it had before and the job still names, were not among them:
   * every version of them is gone from the source. A package the job no longer
   * names (`named` false) is not: its source was never asked for it
   * (recordPackagesDropped says what is left of it).
   */
  recordPackagesGone(sourceId: string, enumerated: ReadonlySet<string>, named: (name: string) => boolean): string[] {
    const known = this.stmt('SELECT DISTINCT format, package FROM items WHERE source_id = ?').all(sourceId) as { format: Format; package: string }[];
    const gone = known.filter((k) => !enumerated.has(k.package) && named(k.package));
    if (gone.length === 0) return [];
    const rows = this.stmt('SELECT id, version, state, attempts, removed_at FROM items WHERE source_id = ? AND format = ? AND package = ?');
    this.write(() =>
      this.db.transaction(() => {
        const at = now();
        for (const k of gone) for (const r of rows.all(sourceId, k.format, k.package) as { id: number; state: ItemState; attempts: number; removed_at: string | null }[]) this.markRemoved(r, at, 'the source no longer has this package');
      })(),
    );
    return gone.map((g) => g.package);
  }

  /**
   * Packages the job no longer names (its `packages` or `scopes` edited), of a source still
   * in the job: their versions that never reached the target (pending, fetched, failed, or
   * in conflict with it) are set aside as `excluded`, code ENOTINJOB, the state each was in
   * kept in its message (one a run of ours started publishing is said to be perhaps partly there); versions on the target, or whose publish the run could not settle,
   * stay as they are. Not "removed at the source": the source may well still serve them.
   * Named again, the filters select them again (applyFilters). Its package row (dist-tags,
   * list error) goes: nothing is synced for it, and listed again it is made anew. Returns
   * the rows set aside.
   */
  recordPackagesDropped(sourceId: string, names: Iterable<string>): number {
    const rows = this.stmt("SELECT id, version, state, attempts, last_error_code FROM items WHERE source_id = ? AND package = ? AND state IN ('pending', 'fetched', 'failed', 'conflict')");
    const set = this.stmt("UPDATE items SET state = 'excluded', last_error_code = 'ENOTINJOB', last_error = ?, updated_at = ? WHERE id = ?");
    return this.write(() =>
      this.db.transaction(() => {
        const at = now();
        let n = 0;
        for (const name of names) {
          this.stmt('DELETE FROM packages WHERE source_id = ? AND package = ?').run(sourceId, name);
          for (const r of rows.all(sourceId, name) as { id: number; state: ItemState; attempts: number; last_error_code: string | null }[]) {
            const was = r.state === 'pending' ? '' : ` (it was ${r.state}${r.last_error_code ? `, ${r.last_error_code}` : ''})`;
            // a run of ours started publishing it (LEFT_OUT_ON_TARGET): part of it may be on the target, never "not migrated"
            const what = r.attempts > 0 ? 'set aside after a run of ours started publishing it, so the target may hold part of it' : 'not migrated';
            const why = `no longer named by the job (not in the packages or scopes of source "${sourceId}"): ${what}${was}`;
            set.run(forStorage(why), at, r.id);
            this.event(r.id, r.state, 'excluded', 'ENOTINJOB', why, at);
            n++;
          }
        }
        return n;
      })(),
    );
  }

  /** The source ids the state holds versions of. */
  recordedSourceIds(): string[] {
    return (this.stmt('SELECT DISTINCT source_id FROM items').all() as { source_id: string }[]).map((r) => r.source_id);
  }

  /** One source's packages listed from `url`, with how many versions each has. */
  recordedPackages(sourceId: string, url: string): { source: string; package: string; format: Format; versions: number }[] {
    return this.stmt('SELECT source_id AS source, package, format, COUNT(*) AS versions FROM items WHERE source_id = ? AND registry_url = ? GROUP BY package, format').all(sourceId, url) as never;
  }

  /** The formats one source's versions are recorded under, with how many versions each (engine/job-edits.ts tells a changed format by them). */
  recordedFormats(sourceId: string): { format: Format; versions: number; packages: string[] }[] {
    const rows = this.stmt('SELECT format, package, COUNT(*) AS versions FROM items WHERE source_id = ? GROUP BY format, package ORDER BY format, package').all(sourceId) as { format: Format; package: string; versions: number }[];
    const out = new Map<Format, { format: Format; versions: number; packages: string[] }>();
    for (const r of rows) {
      const f = out.get(r.format) ?? { format: r.format, versions: 0, packages: [] };
      f.versions += r.versions;
      f.packages.push(r.package);
      out.set(r.format, f);
    }
    return [...out.values()];
  }

  /** What each of these sources is now (engine/job-edits.ts tells a renamed source by it); others keep what they had. */
  recordSources(sources: readonly RecordedSource[]): void {
    const upsert = this.stmt(
      `INSERT INTO sources (id, kind, url, shape, recorded_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, url = excluded.url, shape = excluded.shape, recorded_at = excluded.recorded_at`,
    );
    this.write(() =>
      this.db.transaction(() => {
        const at = now();
        for (const s of sources) upsert.run(s.id, s.kind, s.url, JSON.stringify(s.shape), at);
      })(),
    );
  }

  /** A source as the last run that had it recorded it; undefined when none did (or the state predates the record). */
  recordedSource(id: string): RecordedSource | undefined {
    const row = this.stmt('SELECT id, kind, url, shape FROM sources WHERE id = ?').get(id) as { id: string; kind: string; url: string; shape: string } | undefined;
    return row && { id: row.id, kind: row.kind, url: row.url, shape: JSON.parse(row.shape) as Record<string, unknown> };
  }

  /** The formats of one source's rows listed from `url`, and the build recipes of those built (facts.recipe, JSON). */
  recordedBuilds(sourceId: string, url: string): { format: string; recipe: string | null }[] {
    return this.stmt("SELECT DISTINCT format, json_extract(facts, '$.recipe') AS recipe FROM items WHERE source_id = ? AND registry_url = ?").all(sourceId, url) as never;
  }

  /** Every package of a source the state holds versions of, or a package row (dist-tags, a list error). */
  recordedPackageNames(sourceId: string): string[] {
    return (this.stmt('SELECT package FROM items WHERE source_id = ? UNION SELECT package FROM packages WHERE source_id = ?').all(sourceId, sourceId) as { package: string }[]).map((r) => r.package);
  }

  private markRemoved(row: { id: number; state: ItemState; attempts: number; removed_at: string | null }, at: string, why: string): void {
    if (row.removed_at || row.state === 'removed') return;
    this.stmt('UPDATE items SET removed_at = ?, updated_at = ? WHERE id = ?').run(at, at, row.id);
    // a run of ours started publishing it (a version cut off after its sdist, then failed): part of it may be
    // on the target, so it is not "nothing of it reached the target"; kept, and the run settles it by reading the target
    if (SET_ASIDE_WHEN_REMOVED.has(row.state) && row.attempts === 0) {
      this.setState(row.id, 'removed', at);
      this.event(row.id, row.state, 'removed', 'ESOURCEREMOVED', `${why}: not published`, at);
    } else if (row.state === 'excluded') {
      this.event(row.id, row.state, row.state, 'ESOURCEREMOVED', why, at);
    } else {
      // on the target (or perhaps, while publishing): kept, never deleted there; the run settles and reports it
      this.event(row.id, row.state, row.state, 'ESOURCEREMOVED', `${why}; the target keeps what was migrated`, at);
    }
  }

  private setState(id: number, state: ItemState, at: string): void {
    this.stmt('UPDATE items SET state = ?, updated_at = ? WHERE id = ?').run(state, at, id);
  }

  private event(itemId: number, from: ItemState | null, to: ItemState, code: string | null, detail: string | null, at: string): void {
    this.stmt('INSERT INTO events (item_id, run_id, from_state, to_state, code, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(itemId, this.runId, from, to, code, detail === null ? null : forStorage(detail), at);
  }

  /**
   * The state file is named after its job (`<job>.sqlite`): one that records another job's
   * name is a link to, or a copy of, that job's state. Written into, it would mix two jobs'
   * rows (and, a link, let both run on it at once: their locks are named after each job).
   */
  private bindJob(name: string, mode: 'write' | 'read'): void {
    const row = this.stmt('SELECT name FROM job WHERE id = 1').get() as { name: string } | undefined;
    if (row === undefined) {
      // a command that only reads never records it: the next one that writes does
      if (mode === 'read') return;
      this.write(() => this.stmt('INSERT OR IGNORE INTO job (id, name, recorded_at) VALUES (1, ?, ?)').run(name, now()));
      return;
    }
    if (row.name === name) return;
    throw new MigrateError('ESTATE', `${this.path} holds the state of job "${row.name}", not of "${name}": a link to, or a copy of, another job's state`, {
      hint: `give each job its own state: remove this file if it is a link or a copy; if the job was renamed, put its old name back in the job file (name: ${row.name})`,
    });
  }

  /** The target this state records work against; undefined before a run that read one. */
  recordedTarget(): TargetIdentity | undefined {
    return targetIn(this.db);
  }

  /** Record the target (a format named for the first time joins those recorded). */
  recordTarget(target: TargetIdentity): void {
    const was = this.recordedTarget();
    const repositories = { ...was?.repositories, ...target.repositories };
    if (was && JSON.stringify({ region: target.region, domainOwner: target.domainOwner, domain: target.domain, repositories }) === JSON.stringify(was)) return;
    this.write(() =>
      this.stmt(
        `INSERT INTO target (id, region, domain_owner, domain, repositories, recorded_at) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET region = excluded.region, domain_owner = excluded.domain_owner, domain = excluded.domain,
           repositories = excluded.repositories, recorded_at = excluded.recorded_at`,
      ).run(target.region, target.domainOwner, target.domain, JSON.stringify(repositories), now()),
    );
  }

  /**
   * Move the state to another target, in one transaction: every version whose state
   * said something about the old one (on it, publishing to it, in conflict with it)
   * goes back to `fetched` (its files kept: nothing is downloaded or built again) or
   * `pending`, each with an event; no upload counts as made; every package's
   * dist-tags and every warm entry are to be done again. The new target is recorded,
   * and with `ledger` the move is a ledger entry (outcome `retarget`) in the same transaction.
   */
  retarget(target: TargetIdentity, detail: string, ledger?: { context: LedgerContext; from: string }): { versions: number; warmEntries: number } {
    const at = now();
    // a moved git tag is a conflict with the source, not the target: it stays one
    const onOldTarget = `(state IN ('verified', 'present-identical', 'published', 'publishing') OR (state = 'conflict' AND last_error_code IS NOT 'ETAGMOVED'))`;
    const back = `CASE WHEN EXISTS (SELECT 1 FROM assets a WHERE a.item_id = items.id) THEN 'fetched' ELSE 'pending' END`;
    return this.write(() =>
      this.db.transaction(() => {
        this.db.prepare(`INSERT INTO events (item_id, run_id, from_state, to_state, code, detail, at) SELECT id, ?, state, ${back}, 'ETARGETCHANGED', ?, ? FROM items WHERE ${onOldTarget}`).run(this.runId, forStorage(detail), at);
        const versions = this.db.prepare(`UPDATE items SET state = ${back}, target_sha512 = NULL, target_asset = NULL, updated_at = ? WHERE ${onOldTarget}`).run(at).changes;
        // "ours if we ever tried to publish it" is about the old target
        this.db.prepare('UPDATE items SET attempts = 0 WHERE attempts > 0').run();
        this.db.prepare(`UPDATE assets SET state = 'stored', attempts = 0, updated_at = ? WHERE state != 'stored' OR attempts > 0`).run(at);
        this.db.prepare(`UPDATE packages SET meta_state = 'pending', last_error = NULL, updated_at = ?`).run(at);
        const warmEntries = this.db
          .prepare(`UPDATE warm_entries SET state = 'pending', outcome = NULL, repository = NULL, actual = NULL, checked = NULL, detail = NULL, attempts = 0, last_error_code = NULL, last_error = NULL, requested_at = NULL, decided_at = NULL, updated_at = ? WHERE state != 'pending' OR outcome IS NOT NULL`)
          .run(at).changes;
        this.db.prepare('DELETE FROM target').run();
        this.recordTarget(target);
        if (ledger) {
          appendLedger(
            this.db,
            inContext(ledger.context, at, {
              outcome: 'retarget',
              target: { repositories: target.repositories, from: ledger.from },
              detail: `${detail}: ${versions} version(s) and ${warmEntries} warm entry(ies) to check against it again`,
            }),
          );
        }
        return { versions, warmEntries };
      }).immediate(),
    );
  }

  /** Remember that a source could not list a package (no version rows can exist for it then). */
  recordListError(sourceId: string, format: Format, name: string, code: string, message: string): void {
    this.write(() =>
      this.stmt(
        `INSERT INTO packages (source_id, format, package, meta_state, list_error_code, list_error, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?)
         ON CONFLICT (source_id, format, package) DO UPDATE SET list_error_code = excluded.list_error_code, list_error = excluded.list_error, updated_at = excluded.updated_at`,
      ).run(sourceId, format, name, code, forStorage(message), now()),
    );
  }

  item(id: number): ItemRow {
    const row = this.stmt('SELECT * FROM items WHERE id = ?').get(id) as ItemRow | undefined;
    if (!row) throw new MigrateError('ESTATE', `item ${id} vanished from the state database`);
    return row;
  }

  items(where = '1 = 1', ...params: unknown[]): ItemRow[] {
    return this.db.prepare(`SELECT * FROM items WHERE ${where} ORDER BY format, package, ordinal`).all(...params) as ItemRow[];
  }

  /**
   * What a run needs to plan its work, without every row's columns: a job of
   * thousands of versions is planned from these, and each package's rows are
   * read when its turn comes.
   */
  workKeys(): WorkKey[] {
    return this.stmt('SELECT id, source_id, format, package, version, state, last_listed_run, last_error_code, removed_at, attempts FROM items ORDER BY format, package, ordinal').all() as WorkKey[];
  }

  /** Counts per state, of the given sources' versions. */
  stateCounts(sourceIds: readonly string[]): Record<string, number> {
    const rows = this.stmt('SELECT state, COUNT(*) AS n FROM items WHERE source_id IN (SELECT value FROM json_each(?)) GROUP BY state').all(JSON.stringify(sourceIds)) as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** The given sources' versions that match `where` (summaries list a few states, never every row). */
  itemsOfSources(sourceIds: readonly string[], where: string): ItemRow[] {
    return this.stmt(`SELECT * FROM items WHERE source_id IN (SELECT value FROM json_each(?)) AND (${where}) ORDER BY format, package, ordinal`).all(JSON.stringify(sourceIds)) as ItemRow[];
  }

  packages(): PackageRow[] {
    return this.stmt('SELECT * FROM packages ORDER BY format, package').all() as PackageRow[];
  }

  /** One package's rows, every source (indexed: never a scan per package). */
  packagesNamed(format: Format, name: string): PackageRow[] {
    return this.stmt('SELECT * FROM packages WHERE format = ? AND package = ?').all(format, name) as PackageRow[];
  }

  /** One package's versions from every source. */
  itemsOf(format: Format, name: string): ItemRow[] {
    return this.stmt('SELECT * FROM items WHERE format = ? AND package = ? ORDER BY ordinal').all(format, name) as ItemRow[];
  }

  setPackageMeta(sourceId: string, format: Format, name: string, state: PackageRow['meta_state'], error: string | null): void {
    this.write(() =>
      this.stmt('UPDATE packages SET meta_state = ?, last_error = ?, updated_at = ? WHERE source_id = ? AND format = ? AND package = ?').run(state, error === null ? null : forStorage(error), now(), sourceId, format, name),
    );
  }

  /** Move an item to a new state and append the event, in one transaction. */
  transition(id: number, to: ItemState, fields: TransitionFields = {}, detail?: string): ItemRow {
    const at = now();
    return this.write(() => this.db.transaction(() => {
      const before = this.item(id);
      const sets = ['state = @to', 'updated_at = @at'];
      const p: Record<string, unknown> = { id, to, at };
      if (fields.hashes) {
        sets.push('sha512 = @sha512', 'sha256 = @sha256', 'sha1 = @sha1', 'md5 = @md5');
        Object.assign(p, fields.hashes);
      }
      if (fields.size !== undefined) (sets.push('size = @size'), (p.size = fields.size));
      if (fields.integrityWeak !== undefined) (sets.push('integrity_weak = @weak'), (p.weak = fields.integrityWeak ? 1 : 0));
      if (fields.targetSha512 !== undefined) (sets.push('target_sha512 = @target'), (p.target = fields.targetSha512));
      if (fields.targetAsset !== undefined) (sets.push('target_asset = @targetAsset'), (p.targetAsset = fields.targetAsset));
      if (fields.error !== undefined) {
        sets.push('last_error_code = @code', 'last_error = @message');
        p.code = fields.error?.code ?? null;
        p.message = fields.error ? forStorage(fields.error.message) : null;
      }
      // exactly what the transition that set the state read on the target (none: none), so a
      // later ledger entry of that state (ledgerUnrecorded) never carries another state's reading
      sets.push('target_hashes = @targetHashes');
      p.targetHashes = fields.targetHashes ? JSON.stringify(fields.targetHashes) : null;
      if (fields.countAttempt) sets.push('attempts = attempts + 1');
      if (fields.uncountAttempt) sets.push('attempts = MAX(attempts - 1, 0)');
      if (fields.facts !== undefined) (sets.push('facts = @facts'), (p.facts = JSON.stringify(fields.facts)));
      if (fields.registryUrl !== undefined) (sets.push('registry_url = @registryUrl'), (p.registryUrl = fields.registryUrl));
      this.stmt(`UPDATE items SET ${sets.join(', ')} WHERE id = @id`).run(p);
      if (fields.assets) {
        this.stmt('DELETE FROM assets WHERE item_id = ?').run(id);
        fields.assets.forEach((a, ordinal) =>
          this.stmt(
            `INSERT INTO assets (item_id, name, ordinal, size, md5, sha1, sha256, sha512, facts, state, attempts, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'stored', 0, ?)`,
          ).run(id, a.name, ordinal, a.size, a.hashes.md5, a.hashes.sha1, a.hashes.sha256, a.hashes.sha512, JSON.stringify(a.facts ?? {}), at),
        );
      }
      this.event(id, before.state, to, fields.error?.code ?? null, detail ?? fields.error?.message ?? null, at);
      const after = this.item(id);
      if (this.ledger && LEDGERED.has(to)) appendLedger(this.db, this.ledgerEntry(after, at, fields));
      return after;
    })());
  }

  /** One item's ledger entry: who, from where (source and its declared hashes), what we and the target computed. */
  private ledgerEntry(row: ItemRow, at: string, fields: TransitionFields): LedgerEntry {
    const ctx = this.ledger!;
    const computed = Object.fromEntries(this.assetsOf(row.id).map((a) => [a.name, { size: a.size, md5: a.md5, sha1: a.sha1, sha256: a.sha256, sha512: a.sha512 }]));
    const outcome = row.state === 'verified' ? 'published' : row.state === 'failed' ? (`failed:${row.last_error_code ?? 'EUNKNOWN'}` as const) : (row.state as 'present-identical' | 'conflict');
    // an entry written later than the state it records (a plan's present-identical, entered by the
    // run: ledgerUnrecorded) carries what the target reported when that state was reached
    const targetHashes = fields.targetHashes ?? storedTargetHashes(row);
    return inContext(ctx, at, {
      outcome,
      format: row.format,
      package: row.package,
      version: row.version,
      target: { repository: ctx.repositories[row.format] ?? null, ...(row.target_sha512 ? { conflictingSha512: row.target_sha512, ...(row.target_asset ? { conflictingFile: row.target_asset } : {}) } : {}) },
      source: row.source_commit
        ? { id: row.source_id, git: row.registry_url, tag: row.source_ref, commit: row.source_commit, ...builtWithOf(row) }
        : { id: row.source_id, registry: row.registry_url, artifact: row.artifact_url },
      sourcePublishedAt: row.source_published_at,
      hashes: {
        declared: { integrity: row.declared_integrity, shasum: row.declared_shasum, ...(row.integrity_weak ? { weak: true } : {}) },
        computed,
        ...(targetHashes ? { target: targetHashes } : {}),
      },
      // stored through forStorage already, and appendLedger applies it to every detail
      ...(row.state === 'failed' || row.state === 'conflict' ? { detail: row.last_error ?? '' } : {}),
      ...(row.state === 'verified' && this.foundAfterInterrupted(row.id) ? { detail: FOUND_AFTER_INTERRUPTED_ENTRY } : {}),
    });
  }

  /** Whether the version's last move to `published` was finding it on the target after an interrupted publish (this run uploaded nothing of it). */
  private foundAfterInterrupted(itemId: number): boolean {
    const last = this.stmt("SELECT detail FROM events WHERE item_id = ? AND to_state = 'published' ORDER BY id DESC LIMIT 1").get(itemId) as { detail: string | null } | undefined;
    return last?.detail === FOUND_AFTER_INTERRUPTED;
  }

  /** An entry that records no item (an origin-configuration change, a warm result). */
  appendLedger(entry: OwnEntry): void {
    if (!this.ledger) return;
    const ctx = this.ledger;
    this.write(() => this.db.transaction(() => appendLedger(this.db, inContext(ctx, now(), entry)))());
  }

  /**
   * Versions already migrated whose source now declares another hash: the source's
   * bytes changed after the move (a republish, or tampering). This run's, or all.
   */
  sourceChanges(runId?: number): { source: string; package: string; version: string; state: string; sha512: string | null; detail: string | null; at: string }[] {
    return this.db
      .prepare(
        `SELECT i.source_id AS source, i.package, i.version, i.state, i.sha512, e.detail, e.at FROM events e JOIN items i ON i.id = e.item_id
         WHERE e.code = 'EREDECLARED' AND e.from_state = e.to_state AND e.to_state IN ('published', 'verified', 'present-identical', 'conflict')
         ${runId === undefined ? '' : 'AND e.run_id = ?'} ORDER BY e.id`,
      )
      .all(...(runId === undefined ? [] : [runId])) as never;
  }

  /** Our SHA-512 of the file a conflict is about (conflictSha512). */
  ourConflictSha512(row: Pick<ItemRow, 'id' | 'sha512' | 'target_asset'>): string | null {
    return row.target_asset ? conflictSha512(row, this.assetsOf(row.id)) : row.sha512;
  }

  /** A version's files, in upload order. */
  assetsOf(itemId: number): AssetRow[] {
    return this.stmt('SELECT * FROM assets WHERE item_id = ? ORDER BY ordinal').all(itemId) as AssetRow[];
  }

  /**
   * One asset's upload state, written before (`uploading`, an attempt counted)
   * and after (`uploaded`) the request, with an event on its item.
   */
  setAssetState(asset: AssetRow, state: AssetRow['state'], detail: string): AssetRow {
    const at = now();
    return this.write(() =>
      this.db.transaction(() => {
        this.stmt(`UPDATE assets SET state = ?, attempts = attempts + ?, updated_at = ? WHERE id = ?`).run(state, state === 'uploading' ? 1 : 0, at, asset.id);
        const item = this.item(asset.item_id);
        this.event(asset.item_id, item.state, item.state, null, `${asset.name}: ${detail}`, at);
        return this.stmt('SELECT * FROM assets WHERE id = ?').get(asset.id) as AssetRow;
      })(),
    );
  }

  /**
   * The given sources' versions whose files were fetched (they have assets) and that carry no
   * dependency check (facts.unresolvable): fetched by a release before the check, or their files
   * unreadable then. Left-out versions are not looked at; facts that are not a JSON object are
   * never rewritten.
   */
  uncheckedForDeps(sourceIds: readonly string[]): ItemRow[] {
    return this.stmt(
      `SELECT * FROM items WHERE source_id IN (SELECT value FROM json_each(?)) AND state NOT IN ('pending', 'excluded', 'skipped', 'removed')
       AND EXISTS (SELECT 1 FROM assets WHERE item_id = items.id)
       AND (CASE WHEN facts IS NULL THEN 1 WHEN NOT json_valid(facts) THEN 0 WHEN json_type(facts) IS NOT 'object' THEN 0 ELSE json_type(facts, '$.unresolvable') IS NOT 'array' END)
       ORDER BY id`,
    ).all(JSON.stringify(sourceIds)) as ItemRow[];
  }

  /**
   * Record dependency checks made from stored files (facts.unresolvable, [] when clean): a facts
   * update in one transaction, no transition, no event, updated_at unchanged (nothing happened to
   * the version). Only a row still without the record is written.
   */
  recordUnresolvable(checked: readonly { id: number; unresolvable: readonly unknown[] }[]): void {
    if (!checked.length) return;
    this.write(() =>
      this.db.transaction(() => {
        const set = this.stmt(
          "UPDATE items SET facts = json_set(COALESCE(facts, '{}'), '$.unresolvable', json(?)) WHERE id = ? AND (CASE WHEN facts IS NULL THEN 1 WHEN NOT json_valid(facts) THEN 0 WHEN json_type(facts) IS NOT 'object' THEN 0 ELSE json_type(facts, '$.unresolvable') IS NOT 'array' END)",
        );
        for (const c of checked) set.run(JSON.stringify(c.unresolvable), c.id);
      })(),
    );
  }

  /** Append an event that changes no state (something worth knowing about the item). */
  note(id: number, code: string, detail: string): void {
    this.write(() => {
      const row = this.item(id);
      this.event(id, row.state, row.state, code, detail, now());
    });
  }

  /**
   * The versions a run (a `plan --no-download`) found the target listing, without comparing
   * bytes: item id -> the status the target lists it with (Published, Archived, Unlisted, ...).
   */
  listedOnTarget(runId: number): Map<number, string> {
    const rows = this.db.prepare('SELECT item_id, detail FROM events WHERE code = ? AND run_id = ? ORDER BY id').all(LISTED_ON_TARGET, runId) as { item_id: number; detail: string | null }[];
    return new Map(rows.map((r) => [r.item_id, r.detail ?? 'Unknown']));
  }

  /**
   * Tags found pointing at another commit than when first listed, by this run; or, without
   * one, the tags that still do: once each, by the note of the run that last listed the version
   * (a listing notes a moved tag every run it stays moved, and nothing once it is moved back).
   */
  tagMoves(runId?: number): { source: string; package: string; version: string; state: string; detail: string | null; at: string }[] {
    const still = `AND e.id = (SELECT MAX(l.id) FROM events l WHERE l.item_id = e.item_id AND l.code = 'ETAGMOVED') AND e.run_id = i.last_listed_run`;
    return this.db
      .prepare(
        `SELECT i.source_id AS source, i.package, i.version, i.state, e.detail, e.at FROM events e JOIN items i ON i.id = e.item_id
         WHERE e.code = 'ETAGMOVED' AND (e.to_state = 'conflict' OR e.from_state = e.to_state) ${runId === undefined ? still : 'AND e.run_id = ?'} ORDER BY e.id`,
      )
      .all(...(runId === undefined ? [] : [runId])) as never;
  }

  /**
   * Versions the source stopped listing: this run's, or all; with the state each was left in.
   * Once each, by its last removal: a tag deleted, pushed again and deleted again is one version gone.
   */
  sourceRemovals(runId?: number): { source: string; package: string; version: string; state: string; detail: string | null; at: string }[] {
    return this.db
      .prepare(
        `SELECT i.source_id AS source, i.package, i.version, i.state, e.detail, e.at FROM events e JOIN items i ON i.id = e.item_id
         WHERE e.code = 'ESOURCEREMOVED' AND i.removed_at IS NOT NULL ${runId === undefined ? '' : 'AND e.run_id = ?'}
           AND e.id = (SELECT MAX(l.id) FROM events l WHERE l.item_id = e.item_id AND l.code = 'ESOURCEREMOVED')
         ORDER BY e.id`,
      )
      .all(...(runId === undefined ? [] : [runId])) as never;
  }

  counts(): Record<string, number> {
    const rows = this.db.prepare('SELECT state, count(*) AS n FROM items GROUP BY state').all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  events(itemId: number): { from_state: string | null; to_state: string; code: string | null; detail: string | null; at: string; run_id: number | null }[] {
    return this.db.prepare('SELECT * FROM events WHERE item_id = ? ORDER BY id').all(itemId) as never;
  }

  lastRun(): { id: number; started_at: string; ended_at: string | null; dry_run: number; outcome: string | null; summary: string | null } | undefined {
    return this.db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT 1').get() as never;
  }
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * A state file of 0 bytes is no new state: SQLite would take it for an empty database, and the
 * run would start over, every version found present-identical and the ledger's history gone
 * (a copy cut short, a restore that failed, a file truncated by hand); nor one of 1 byte, which
 * SQLite takes for an empty database as well. This code never leaves one (createWhole).
 * Refused, with what to do; a WAL beside it is left alone too.
 */
function refuseEmpty(path: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return refuseOrphanLog(path); // no file yet: a new state, unless a killed run's log is there
  }
  // SQLite takes a file of one byte for an empty database too (two bytes and up it finds no database)
  if (size > 1) return;
  throw new MigrateError('ESTATE', `the state database ${path} is ${size === 0 ? 'empty (0 bytes)' : 'only 1 byte long'}: it is no state this tool wrote`, {
    hint: `restore it from a copy if it held the state of earlier runs${existsSync(`${path}-wal`) ? ` (first move ${path}-wal and ${path}-shm aside with it: they belong to the file that was lost, and SQLite would lay them over the copy, garbling an older one)` : ''}; for a job never run, delete the file and rerun`,
  });
}

/**
 * No state file, but its write-ahead log beside it (a run killed, then `rm <job>.sqlite` to
 * start over, or the file moved away alone): SQLite would lay the log's pages over the new
 * state, giving back part of the old one, or a database it then finds damaged. Refused.
 */
function refuseOrphanLog(path: string): void {
  const wal = `${path}-wal`;
  const size = statSync(wal, { throwIfNoEntry: false })?.size ?? 0;
  if (size === 0) return;
  throw new MigrateError('ESTATE', `the state database ${path} is not there, but its write-ahead log ${wal} is (${size} bytes): the last transactions of a state whose file was deleted or moved away`, {
    hint: `put the state file back where it was (its log goes with it); to start over with no state, move ${wal} and ${path}-shm away too, then rerun`,
  });
}

/**
 * A state file that is a symbolic link to nothing (the state moved to a disk that is not
 * mounted now, a copy whose target was deleted) is no new state: createWhole would rename a
 * fresh database over the link, the run would start over, and the link to the real state
 * would be gone. Refused, naming where it points.
 */
function refuseDangling(path: string): void {
  let link: string;
  try {
    if (!lstatSync(path).isSymbolicLink()) return;
    link = readlinkSync(path);
  } catch {
    return; // no file yet: a new state
  }
  if (existsSync(path)) return;
  throw new MigrateError('ESTATE', `the state database ${path} is a link to ${link}, which does not exist`, {
    hint: `mount or restore what it points to (it may hold the state of earlier runs), then rerun; for a job never run, delete the link`,
  });
}

/**
 * A write-ahead log beside the state when it is opened is a run's that was killed (or one
 * running now, a `status` beside it). SQLite lays the log's pages over the file without asking
 * whether they belong to it: over a state restored from an older copy they garble it, and the
 * first connection to close folds them in for good. So the file is checked through a
 * read-only connection first (which never folds the log in): damaged is ESTATE naming the log,
 * with the file and the log left as they are. Anything else that stops the check (a lock, a
 * folder this user may not write) is left to the open to tell.
 */
function refuseForeignLog(path: string): void {
  const wal = `${path}-wal`;
  if (!(statSync(wal, { throwIfNoEntry: false })?.size ?? 0)) return;
  let found: string;
  try {
    const check = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
    try {
      found = String(check.pragma('quick_check(1)', { simple: true }));
    } finally {
      check.close();
    }
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code !== 'SQLITE_CORRUPT' && code !== 'SQLITE_NOTADB') return;
    found = `${toError(e).message} (${String(code)})`;
  }
  if (found === 'ok') return;
  throw new MigrateError('ESTATE', `the state database ${path} is damaged once the write-ahead log beside it, ${wal}, is laid over it: ${found}`, {
    hint: `if the file was restored from a copy after a run was killed, the log is that run's and belongs to the file that was replaced: move ${wal} and ${path}-shm away (keep them until the state is sound), then rerun. Otherwise restore it from a copy (or \`sqlite3 ${path} .recover | sqlite3 recovered.sqlite\`, then move that in its place)`,
  });
}

/** A state whose schema is newer than this code's: never guessed at, nor written. */
function newerError(path: string, version: number): MigrateError {
  return new MigrateError('ESTATE', `${path} was written by a newer codeartifact-migrate (schema ${version}, this one knows ${MIGRATIONS.length})`, {
    hint: 'upgrade codeartifact-migrate; never edit the database by hand',
  });
}

/**
 * A state a newer release wrote is refused before a connection that may write opens it: closing
 * one folds the write-ahead log a killed newer run left into the file (and opening one makes a
 * -wal and -shm beside a file that had none). The header says the schema; with a log beside it,
 * which may hold a later first page, a read-only connection (which never folds it in) reads it.
 * A file that cannot be read so is left to the open to tell.
 */
function refuseNewer(path: string): void {
  const head = firstPage(path);
  if (!head) return;
  let version = head.version;
  if (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size) {
    try {
      const check = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
      try {
        version = check.pragma('user_version', { simple: true }) as number;
      } finally {
        check.close();
      }
    } catch {
      return;
    }
  }
  if (version > MIGRATIONS.length) throw newerError(path, version);
}

/** The tables each schema version has: those its migrations and the ones before created (a migration that drops or renames a table must take it out here too). */
const TABLES_AT: readonly (readonly string[])[] = MIGRATIONS.reduce<string[][]>(
  (at, sql) => [...at, [...at.at(-1)!, ...[...sql.matchAll(/CREATE TABLE (\w+)/g)].map((m) => m[1]!)]],
  [[]],
);

/**
 * Why a database at schema `version` (at most this code's) is none this tool wrote, or undefined
 * when it is: another program's SQLite file copied or renamed to the state's name would have the
 * migrations applied to it (a schema 0 taken for a new state, or a schema number of its own taken
 * for ours and migrated half way), its journal mode changed, and the job started over in it.
 * A state of ours has every table of its schema, and none at schema 0 (a migration and its
 * version are one transaction).
 */
function notOurs(db: Database.Database, version: number): string | undefined {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
  const have = new Set(tables);
  const missing = TABLES_AT[version]!.filter((t) => !have.has(t));
  const holds = tables.length ? `it holds the tables ${tables.slice(0, 8).join(', ')}${tables.length > 8 ? ', …' : ''}` : 'it holds no table';
  if (version === 0 && tables.length) return `it records no schema of this tool's, and ${holds}`;
  if (missing.length) return `it says schema ${version}, but lacks the tables ${missing.join(', ')} that schema has (${holds})`;
  return undefined;
}

/**
 * A new state file appears whole: made beside its place (SQLite creates a file of 0 bytes and
 * writes its header only with the journal mode) and renamed there, so a kill -9 in between, or a
 * `status` looking meanwhile, never finds an empty file where the state goes. What a killed
 * creation left beside it (`<name>.new-<pid>-…`, its process gone) is removed.
 */
function createWhole(path: string): void {
  const prefix = `${basename(path)}.new-`;
  sweepDeadWriters(dirname(path), (f) => (f.startsWith(prefix) ? Number(f.slice(prefix.length).split('-')[0]) : undefined));
  if (existsSync(path)) return;
  const tmp = `${path}.new-${process.pid}-${Date.now()}`;
  try {
    const fresh = new Database(tmp);
    try {
      fresh.pragma('journal_mode = WAL');
    } finally {
      fresh.close();
    }
    renameSync(tmp, path);
  } finally {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  }
}

/** A read-only command's private copy of a state (one it may not write beside, or an older release's) lives in the temp folder: what to do when that cannot hold it. */
const COPY_ROOM =
  'status, report and ledger export read a private copy of this state in the temp folder (this user may not write beside it, or an older release wrote it, which they never upgrade): free space there, or set TMPDIR to a folder this user can write, then rerun. The state itself was not touched';

/** Thrown by a read-only open in place of a state it would have to write first (StateDb.openToRead reads a copy instead). */
const WOULD_WRITE = Symbol('the state would be written to be opened');

/**
 * The schema version and journal mode a SQLite file's first page records (its 100-byte header:
 * https://www.sqlite.org/fileformat2.html#the_database_header), read as bytes; undefined for a
 * file that is no database or cannot be read. With a run's log beside it the log may hold a later
 * first page: the version read is then at most the real one (an upgrade is never undone).
 */
function firstPage(path: string): { version: number; wal: boolean } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const header = Buffer.alloc(100);
    if (readSync(fd, header, 0, 100, 0) < 100 || header.toString('latin1', 0, 16) !== 'SQLite format 3\0') return undefined;
    // file format write and read versions: 2 is WAL
    return { version: header.readUInt32BE(60), wal: header[18] === 2 && header[19] === 2 };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** A write refused for want of room (a full disk, a quota, a file-size limit). */
const NO_ROOM: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** What to do about a state this user may not write: never what the other failures say (move it away). */
const NOT_WRITABLE =
  'run as the user that owns the state directory, or give this user write access to it (SQLite writes its -wal and -shm files beside the database). Keep the file: it records what was migrated. status, report and ledger export read such a state as it is';

/**
 * Another connection held the database's write lock past the busy timeout: no fault of the
 * file, and moving it away (or fixing permissions) would be the wrong cure. The job's own
 * lock keeps a second run out; this is a process that opened the file by itself.
 */
const HELD =
  'another process holds the database locked (a sqlite3 shell or a DB browser with an open transaction, a backup tool): close it, then rerun; nothing of the step that failed was recorded';

/** SQLITE_BUSY (and its extended codes), SQLITE_LOCKED: https://www.sqlite.org/rescode.html#busy */
function heldByAnother(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** Whether this user may write `path` (a read-only mount says EROFS even to root). */
function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** An open that failed because this user may not write the database or beside it. */
function cannotWrite(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_READONLY') || ['EACCES', 'EPERM', 'EROFS'].includes(code));
}

/** The database and its WAL as they stand: size and change time of each. */
function fingerprint(path: string): string {
  return [path, `${path}-wal`].map((f) => {
    try {
      const st = statSync(f);
      return `${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch {
      return '-';
    }
  }).join('/');
}

/** A database SQLite finds damaged (a garbled page, not a database at all): said so, with how to recover. */
function damaged(e: Error & { code?: string }, path: string): MigrateError | undefined {
  if (e.code !== 'SQLITE_CORRUPT' && e.code !== 'SQLITE_NOTADB') return undefined;
  return new MigrateError('ESTATE', `the state database ${path} is damaged: ${e.message} (${e.code})`, {
    cause: e,
    hint: `restore it from a copy (or \`sqlite3 ${path} .recover | sqlite3 recovered.sqlite\`, then move that in its place); a damaged state is never written to: what it records (and its ledger) would be lost`,
  });
}

/**
 * SQLite's full disk or I/O error on the state database as this machine's ELOCAL naming the
 * database (`doing`: what was being written); undefined for anything else. A full disk is
 * SQLITE_FULL, or an I/O error (a write, the -wal or the shared-memory index refused, as
 * ENOSPC, EDQUOT and EFBIG are) on a file system with (almost) no room left; an I/O error on
 * one with room is the disk's or the mount's (a failing disk, a network file system gone, the
 * file replaced under the run), and sending the operator to free space there would waste the rerun.
 */
function localFailure(thrown: unknown, path: string, doing?: string): MigrateError | undefined {
  const e = toError(thrown) as Error & { code?: string };
  const io = e.code?.startsWith('SQLITE_IOERR') ?? false;
  if (e.code !== 'SQLITE_FULL' && !io) return undefined;
  const full = !io || lowOnRoom(dirname(path));
  const reading = io && /_(SHORT_)?READ$/.test(e.code!);
  return new MigrateError('ELOCAL', `cannot ${reading ? 'read' : 'write'} the state database ${path}${doing ? `: ${doing}` : ''}: ${e.message} (${e.code})`, {
    cause: e,
    hint: full
      ? 'free space on that disk (or move the state with --state-dir), then rerun: the last step was rolled back and will be redone. Keep the file: it records what was migrated'
      : 'the disk holding it answered an I/O error though it has room: check that disk or mount (dmesg, a network file system that went away) and that nothing moved or replaced the file, then rerun: the last step was rolled back and will be redone. Keep the file: it records what was migrated',
  });
}

/** `bytes` as a new file at `path` (never over one that appeared meanwhile), on disk before this returns. */
function writeWhole(path: string, bytes: Buffer): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A failed SQLite write as a coded error (https://www.sqlite.org/rescode.html). */
function stateError(thrown: unknown, path: string): Error {
  if (thrown instanceof MigrateError) return thrown;
  const e = toError(thrown) as Error & { code?: string };
  const full = localFailure(e, path);
  if (full) return full;
  const broken = damaged(e, path);
  if (broken) return broken;
  if (e.code?.startsWith('SQLITE_')) {
    return new MigrateError('ESTATE', `the state database ${path} refused a write: ${e.message} (${e.code})`, {
      cause: e,
      hint: cannotWrite(e) ? NOT_WRITABLE : heldByAnother(e) ? HELD : 'check the file and its folder are writable; never edit the database by hand',
    });
  }
  return e;
}

/**
 * What a git-built version was built with (the builder's facts: Python and the wheels'
 * generators, or node and npm), for its ledger entry: with the commit, what a rebuild
 * needs to check the bytes. Nothing when the row has no such facts (not built yet, Go).
 */
function builtWithOf(row: ItemRow): { builtWith?: Record<string, unknown> } {
  try {
    const builtWith = (JSON.parse(row.facts ?? 'null') as { builtWith?: unknown } | null)?.builtWith;
    return builtWith && typeof builtWith === 'object' ? { builtWith: builtWith as Record<string, unknown> } : {};
  } catch {
    return {};
  }
}

/** The target hashes a row records (the transition to its state read them), for its ledger entry; undefined when none or unreadable. */
function storedTargetHashes(row: ItemRow): Record<string, Record<string, unknown>> | undefined {
  if (!row.target_hashes) return undefined;
  try {
    const h = JSON.parse(row.target_hashes) as unknown;
    return h !== null && typeof h === 'object' && !Array.isArray(h) ? (h as Record<string, Record<string, unknown>>) : undefined;
  } catch {
    return undefined;
  }
}

/** The target a state database records (its `target` row); undefined before a run that read one. */
function targetIn(db: Database.Database): TargetIdentity | undefined {
  const row = db.prepare('SELECT region, domain_owner, domain, repositories FROM target WHERE id = 1').get() as { region: string; domain_owner: string; domain: string; repositories: string } | undefined;
  return row && { region: row.region, domainOwner: row.domain_owner, domain: row.domain, repositories: JSON.parse(row.repositories) as TargetIdentity['repositories'] };
}

/** What another job's state records, read as it is (never migrated or written, its lock not taken). */
export interface PeekedState {
  /** Its job's name, as recorded; undefined in a state from before that record. */
  job?: string;
  target?: TargetIdentity;
  /** Per package of one source (its id and URL), the versions on the target: published, verified or found there. */
  onTarget(sourceId: string, url: string): { package: string; format: string; versions: number }[];
}

/**
 * Read another job's state file with `read`, read-only; undefined when it is none that can be
 * read (not a state of ours, one being made, a newer schema's).
 */
export function peekState<T>(path: string, read: (state: PeekedState) => T): T | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = db.prepare("SELECT package, format, COUNT(*) AS versions FROM items WHERE source_id = ? AND registry_url = ? AND state IN ('published', 'verified', 'present-identical') GROUP BY package, format");
    const job = (db.prepare('SELECT name FROM job WHERE id = 1').get() as { name: string } | undefined)?.name;
    const target = targetIn(db);
    return read({ ...(job !== undefined ? { job } : {}), ...(target ? { target } : {}), onTarget: (sourceId, url) => rows.all(sourceId, url) as never });
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}
