/**
 * The warm's rows (`warm_entries`, migration 5) in the job's state database:
 * one per item, written before (`requested`) and after (`fetched`, `done`)
 * every artifact request, so a warm that dies anywhere is run again and asks
 * only for what is not warmed yet. Every outcome decided is appended to the
 * provenance ledger in the same transaction as the row that records it.
 */
import { forStorage, forStorageDeep, redact } from '../redact.js';
import type { StateDb } from '../state/db.js';
import { ECOSYSTEM_FORMAT } from './internal.js';
import { itemKey, type FileHashes, type WarmItem, type WarmOutcome, type WarmState } from './types.js';

export interface WarmRow {
  id: number;
  ecosystem: WarmItem['ecosystem'];
  name: string;
  version: string;
  kind: WarmItem['kind'];
  internal: number;
  state: WarmState;
  outcome: WarmOutcome | null;
  repository: string | null;
  expected: string | null;
  actual: string | null;
  checked: number | null;
  detail: string | null;
  files: string;
  attempts: number;
  last_error_code: string | null;
  last_error: string | null;
  last_seen_run: number | null;
  created_at: string;
  updated_at: string;
  requested_at: string | null;
  decided_at: string | null;
}

export interface Decision {
  outcome: WarmOutcome;
  repository?: string | null;
  /** true: the bytes were checked against the lockfile; false: nothing to check them with. */
  checked?: boolean;
  actual?: readonly FileHashes[];
  detail?: string;
}

const now = () => new Date().toISOString();

export class WarmStore {
  runId: number | null = null;

  constructor(private readonly state: StateDb) {}

  private get db() {
    return this.state.db;
  }

  startRun(): number {
    const r = this.state.write(() => this.db.prepare('INSERT INTO warm_runs (started_at) VALUES (?)').run(now()));
    this.runId = Number(r.lastInsertRowid);
    return this.runId;
  }

  /**
   * The run's end, with its summary less the lists of items (`problems`, `nonRegistry`): each
   * names every lockfile that pins the item, and warm_entries holds them already (the report
   * rebuilds them from there). Kept, they made every run add items x lockfiles to the state:
   * 100 missing packages in 2000 lockfiles, 11 MB more per warm.
   */
  endRun(outcome: string, summary: object): void {
    if (this.runId === null) return;
    const { problems: _p, nonRegistry: _n, ...kept } = summary as { problems?: unknown; nonRegistry?: unknown };
    this.state.write(() => this.db.prepare('UPDATE warm_runs SET ended_at = ?, outcome = ?, summary = ? WHERE id = ?').run(now(), outcome, redact(JSON.stringify(forStorageDeep(kept))), this.runId));
  }

  lastRun(): { id: number; started_at: string; ended_at: string | null; outcome: string | null; summary: string | null } | undefined {
    return this.db.prepare('SELECT * FROM warm_runs ORDER BY id DESC LIMIT 1').get() as never;
  }

  /**
   * Record this run's items: new ones `pending`; known ones keep their state, unless
   * what the lockfiles pin changed (or the name became internal, or stopped being):
   * then they are looked at again from the start.
   */
  record(items: readonly WarmItem[]): Map<string, WarmRow> {
    const upsert = this.db.prepare(`
      INSERT INTO warm_entries (ecosystem, name, version, kind, internal, state, expected, files, last_seen_run, created_at, updated_at)
      VALUES (@ecosystem, @name, @version, @kind, @internal, 'pending', @expected, @files, @run, @now, @now)
      ON CONFLICT (ecosystem, name, version, kind) DO UPDATE SET
        state = CASE WHEN warm_entries.expected IS NOT excluded.expected OR warm_entries.internal <> excluded.internal THEN 'pending' ELSE warm_entries.state END,
        outcome = CASE WHEN warm_entries.expected IS NOT excluded.expected OR warm_entries.internal <> excluded.internal THEN NULL ELSE warm_entries.outcome END,
        expected = excluded.expected,
        internal = excluded.internal,
        files = excluded.files,
        last_seen_run = excluded.last_seen_run,
        updated_at = excluded.updated_at
      RETURNING *`);
    const out = new Map<string, WarmRow>();
    this.state.write(() =>
      this.db.transaction(() => {
        const at = now();
        for (const it of items) {
          const row = upsert.get({
            ecosystem: it.ecosystem,
            name: it.name,
            version: it.version,
            kind: it.kind,
            internal: it.internal ? 1 : 0,
            expected: expectedColumn(it),
            files: JSON.stringify(it.files),
            run: this.runId,
            now: at,
          }) as WarmRow;
          out.set(itemKey(it), row);
        }
      })(),
    );
    return out;
  }

  /** The row of an item as an earlier warm left it, if any (nothing is written). */
  find(it: Pick<WarmItem, 'ecosystem' | 'name' | 'version' | 'kind'>): WarmRow | undefined {
    return this.db.prepare('SELECT * FROM warm_entries WHERE ecosystem = ? AND name = ? AND version = ? AND kind = ?').get(it.ecosystem, it.name, it.version, it.kind) as WarmRow | undefined;
  }

  /** Written just before the first artifact request of an item: a crash after it is settled by reading the store. */
  requested(row: WarmRow, repository: string): void {
    const at = now();
    this.state.write(() => this.db.prepare("UPDATE warm_entries SET state = 'requested', repository = ?, attempts = attempts + 1, requested_at = ?, updated_at = ? WHERE id = ?").run(repository, at, at, row.id));
    row.state = 'requested';
    row.requested_at = at;
  }

  /** The bytes came back and passed the check; the store has still to list the version. */
  fetched(row: WarmRow, actual: readonly FileHashes[]): void {
    this.state.write(() => this.db.prepare("UPDATE warm_entries SET state = 'fetched', actual = ?, checked = NULL, updated_at = ? WHERE id = ?").run(JSON.stringify(actual), now(), row.id));
    row.state = 'fetched';
  }

  /** An outcome, with its ledger entry, in one transaction. `pending` keeps the row open for the next run. */
  decide(row: WarmRow, d: Decision): void {
    const at = now();
    // decided; a rerun looks again at what is not final (FINAL_OUTCOMES): blocked, missing, mismatched, pending
    const state: WarmState = d.outcome === 'pending' ? 'fetched' : 'done';
    const unchanged = row.outcome === d.outcome && row.state === state;
    const actual = d.actual ? JSON.stringify(d.actual) : row.actual;
    const detail = d.detail === undefined ? null : forStorage(d.detail);
    this.state.write(() =>
      this.db.transaction(() => {
        this.db
          .prepare('UPDATE warm_entries SET state = ?, outcome = ?, repository = COALESCE(?, repository), checked = ?, actual = ?, detail = ?, last_error_code = NULL, last_error = NULL, decided_at = ?, updated_at = ? WHERE id = ?')
          .run(state, d.outcome, d.repository ?? null, d.checked === undefined ? null : d.checked ? 1 : 0, actual, detail, at, at, row.id);
        // a rerun that finds the same again adds nothing to the ledger
        if (!unchanged) {
          this.state.appendLedger({
            outcome: `warm:${d.outcome}`,
            format: ECOSYSTEM_FORMAT[row.ecosystem],
            package: row.name,
            version: row.version,
            target: { repository: d.repository ?? row.repository },
            source: { lockfiles: JSON.parse(row.files) as string[], kind: row.kind },
            hashes: { declared: row.expected ? (JSON.parse(row.expected) as Record<string, unknown>) : {}, ...(actual ? { target: Object.fromEntries((JSON.parse(actual) as FileHashes[]).map(({ name, ...h }) => [name, h])) } : {}) },
            ...(detail ? { detail } : {}),
          });
        }
      })(),
    );
    row.state = state;
    row.outcome = d.outcome;
    row.checked = d.checked === undefined ? null : d.checked ? 1 : 0;
    row.detail = detail;
    row.actual = actual;
  }

  /** A request failed after its retries: retried by the next run. */
  failed(row: WarmRow, code: string, message: string): void {
    const stored = forStorage(message);
    this.state.write(() => this.db.prepare("UPDATE warm_entries SET state = 'failed', last_error_code = ?, last_error = ?, updated_at = ? WHERE id = ?").run(code, stored, now(), row.id));
    row.state = 'failed';
    row.last_error_code = code;
    row.last_error = stored;
  }

  /** The rows a run saw (its lockfiles named them). */
  rowsOfRun(runId: number): WarmRow[] {
    return this.db.prepare('SELECT * FROM warm_entries WHERE last_seen_run = ? ORDER BY ecosystem, name, version, kind').all(runId) as WarmRow[];
  }
}

/** What an item's `expected` column holds: its pins as JSON, or null when it pins nothing. */
export function expectedColumn(it: Pick<WarmItem, 'expected'>): string | null {
  return Object.keys(it.expected).length ? JSON.stringify(it.expected) : null;
}
