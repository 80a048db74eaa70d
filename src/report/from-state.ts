/**
 * A report's input read from the state database, read-only: every row of the
 * job, their files, per-package facts, the last run (and the summary it stored),
 * and the findings every run recorded as events (moved tags, changed sources).
 */
import type { RunSummary } from '../engine/events.js';
import type { AssetRow, ItemRow, StateDb } from '../state/db.js';
import { ASSUMED_THROUGHPUT, formatBytes, type Throughput } from './estimate.js';
import type { ReportInput, ReportItem, ReportJob } from './model.js';

/** Below this, a run's bytes per second say more about its overheads than about the network. */
const MIN_MEASURED_BYTES = 50 * 1024 * 1024;

export type FromStateOptions = Partial<Pick<ReportInput, 'kind' | 'generatedAt' | 'toolVersion' | 'throughput' | 'latencySeconds' | 'preflight' | 'exposure' | 'auditFrom' | 'auditNotCarried' | 'hardening' | 'warm' | 'warmRunning' | 'goSum' | 'findings'>>;

type RunRow = NonNullable<ReturnType<StateDb['lastRun']>>;

/** A run's stored summary, or null when there is none or it does not parse (a hand edit): the rows still say what happened. */
export function parseSummary(text: string | null): Partial<RunSummary> | null {
  if (!text) return null;
  try {
    const s = JSON.parse(text) as unknown;
    return s && typeof s === 'object' ? (s as Partial<RunSummary>) : null;
  } catch {
    return null;
  }
}

/** The last entry per package@version (a tag may have moved on several runs). */
function lastPerVersion<T extends { package: string; version: string }>(rows: T[]): T[] {
  return [...new Map(rows.map((r) => [`${r.package}@${r.version}`, r])).values()];
}

/**
 * Bytes per second the last run moved: what it published if that is enough to
 * measure, else what it downloaded or built. Wall time includes listing,
 * building and comparing, so this errs on the slow side (a longer estimate).
 */
export function measureThroughput(state: StateDb, run: RunRow | undefined, durationMs?: number): Throughput {
  if (!run) return ASSUMED_THROUGHPUT;
  const ms = durationMs ?? (run.ended_at ? Date.parse(run.ended_at) - Date.parse(run.started_at) : NaN);
  if (!(ms > 0)) return { ...ASSUMED_THROUGHPUT, detail: `${ASSUMED_THROUGHPUT.detail}; run #${run.id} did not finish` };
  const moved = state.db.prepare('SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS n FROM items WHERE id IN (SELECT item_id FROM events WHERE run_id = ? AND to_state = ? AND from_state IS NOT to_state)');
  const seconds = ms / 1000;
  for (const [to, verb] of [
    ['published', 'published'],
    ['fetched', run.dry_run ? 'downloaded or built (dry run)' : 'downloaded or built'],
  ] as const) {
    const { bytes, n } = moved.get(run.id, to) as { bytes: number; n: number };
    if (bytes >= MIN_MEASURED_BYTES) {
      return { bytesPerSecond: bytes / seconds, source: 'measured', detail: `measured: run #${run.id} ${verb} ${n} version(s), ${formatBytes(bytes)} in ${Math.round(seconds)} s (wall time, so on the slow side)` };
    }
  }
  return { ...ASSUMED_THROUGHPUT, detail: `${ASSUMED_THROUGHPUT.detail}: run #${run.id} moved too little to measure` };
}

/**
 * Everything buildReport needs, from the state database (read-only) and the job.
 * `summary` is what runJob returned; without it, the summary the last run stored
 * is used. The kind defaults to what the last run was (dry run: plan).
 */
export function reportInputFromState(state: StateDb, job: ReportJob, summary?: RunSummary | null, options: FromStateOptions = {}): ReportInput {
  const rows = state.db.prepare('SELECT * FROM items ORDER BY format, package, ordinal').all() as ItemRow[];
  const assets = new Map<number, Pick<AssetRow, 'name' | 'size' | 'sha1' | 'sha256' | 'sha512' | 'state'>[]>();
  for (const a of state.db.prepare('SELECT item_id, name, size, sha1, sha256, sha512, state FROM assets ORDER BY item_id, ordinal').iterate() as Iterable<AssetRow>) {
    const list = assets.get(a.item_id);
    const file = { name: a.name, size: a.size, sha1: a.sha1, sha256: a.sha256, sha512: a.sha512, state: a.state };
    if (list) list.push(file);
    else assets.set(a.item_id, [file]);
  }
  const last = state.lastRun();
  const sum = summary ?? parseSummary(last?.summary ?? null);
  // a plan --no-download read the target's listings: the versions it lists are noted on the plan's run
  // (a version it did not get to, interrupted, is not said to be absent from the target)
  const listed = last && sum?.noDownload ? state.listedOnTarget(last.id) : null;
  const wholeListing = listed !== null && !sum?.interrupted && (last?.outcome === 'complete' || last?.outcome === 'incomplete');
  const listing = (r: ItemRow): Pick<ReportItem, 'target_listed'> => {
    // a version an earlier plan downloaded or built (fetched) was never compared with the target either
    if (!listed || (r.state !== 'pending' && r.state !== 'fetched')) return {};
    const status = listed.get(r.id);
    return status !== undefined ? { target_listed: status } : wholeListing ? { target_listed: null } : {};
  };
  const items: ReportItem[] = rows.map((r) => ({ ...r, assets: assets.get(r.id) ?? [], ...listing(r) }));
  const kind = options.kind ?? (sum?.dryRun !== undefined ? (sum.dryRun ? 'plan' : 'run') : last && !last.dry_run ? 'run' : 'plan');
  return {
    kind,
    job,
    items,
    packages: state.packages(),
    run: last ? { id: last.id, startedAt: last.started_at, endedAt: last.ended_at, dryRun: last.dry_run === 1, outcome: last.outcome } : null,
    summary: sum,
    throughput: options.throughput ?? measureThroughput(state, last, sum?.durationMs),
    tagMoved: lastPerVersion(state.tagMoves()).map((t) => ({ source: t.source, package: t.package, version: t.version, state: t.state, detail: t.detail ?? '' })),
    sourceChanged: lastPerVersion(state.sourceChanges()).map((c) => ({ source: c.source, package: c.package, version: c.version, detail: c.detail ?? '' })),
    // only what the caller set: an explicit `kind: undefined` must not undo the default
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
}
