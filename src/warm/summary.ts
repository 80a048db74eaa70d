/**
 * What a warm says it did: outcomes per item and per lockfile, the problems
 * with what to do, the lockfiles that did not parse, what was not checkable and
 * why, the requests sent per quota and the rates they ran at; and the report's
 * `warm` section (src/report/schema.ts), from a summary or from the state.
 */
import type { BucketName } from '../types.js';
import type { RateSource } from '../engine/rates.js';
import type { WarmInput } from '../report/schema.js';
import type { StateDb } from '../state/db.js';
import type { InputError } from './inputs.js';
import type { WarmRow } from './state.js';
import { WARM_OUTCOMES, type LockfileRef, type WarmOutcome } from './types.js';
import { capText } from '../redact.js';
import { detect } from '../lockfiles/index.js';

/** An item's standing in a summary: its outcome, `failed` (retried next time), or `undecided` (the warm was stopped first). */
export type Standing = WarmOutcome | 'failed' | 'undecided';

export interface WarmProblem {
  ecosystem: string;
  name: string;
  version: string;
  outcome: Standing;
  detail: string;
  lockfiles: string[];
}

/** A line the lockfile's parser left out or read with an assumption (not pinned, an unknown option or protocol, a merge conflict, another index). */
export interface LockfileNote {
  file: string;
  line?: number;
  message: string;
}

/** Notes kept per lockfile: a generated file can say the same thing on every line. */
export const MAX_NOTES_PER_LOCKFILE = 200;

export interface WarmSummary {
  job: string;
  runId: number;
  interrupted: boolean;
  /** Per distinct item named by this warm's lockfiles. */
  outcomes: Partial<Record<Standing, number>>;
  /** What this run decided (a rerun decides only what was not final). */
  decidedThisRun: Partial<Record<WarmOutcome, number>>;
  lockfiles: (LockfileRef & { entries: number; counts: Partial<Record<Standing, number>>; notes: LockfileNote[]; notesLeftOut?: number })[];
  /** Lockfiles that did not parse (file and line), repositories that could not be read; the others went on. */
  lockfileErrors: InputError[];
  /** Every item that is not warmed, cached, listed or present: what it is and why. */
  problems: WarmProblem[];
  /** Entries that are no registry package (git, file, link, workspace, patch, url, bundled): listed, never requested. */
  nonRegistry: { ecosystem: string; name: string; version: string; kind: string; detail: string; lockfiles: string[] }[];
  /** Items warmed or cached whose bytes the lockfile gives nothing to check with, by reason. */
  unchecked: { count: number; reasons: Record<string, number> };
  /** Requests sent, per quota bucket (retries included). */
  requests: Partial<Record<BucketName, number>>;
  /** Packuments asked of the public registry directly (one per name) for what a lockfile resolved from one of the job's npm sources. */
  publicLookups: number;
  rates: Record<BucketName, { rate: number; source: RateSource; quota?: number; latencyMs?: number }>;
  quotaNote?: string;
  /** This warm moved the state to the job's new target (--retarget): from where, and how many entries it decides again. */
  retargeted?: { from: string; versions: number; warmEntries: number };
  throttles: number;
  tokenFetches: number;
  durationMs: number;
  exitCode: number;
}

const PROBLEMS: ReadonlySet<Standing> = new Set(['blocked', 'missing-upstream', 'integrity-mismatch', 'pending', 'internal-missing', 'failed', 'undecided']);

export function standing(r: WarmRow): Standing {
  if (r.state === 'failed') return 'failed';
  return r.outcome ?? 'undecided';
}

export function count<K extends string>(into: Partial<Record<K, number>>, k: K): void {
  into[k] = (into[k] ?? 0) + 1;
}

/** Exit code: 1 for an integrity mismatch (critical), a lockfile that did not parse, or a request that failed; else 0. */
export function exitCodeOf(outcomes: Partial<Record<Standing, number>>, lockfileErrors: number): number {
  return (outcomes['integrity-mismatch'] ?? 0) > 0 || (outcomes.failed ?? 0) > 0 || lockfileErrors > 0 ? 1 : 0;
}

/**
 * A failed entry's detail: its code, then what went wrong. The stored error is MigrateError.describe(),
 * which starts with its code already: prefixed again, every failure read "ETARGET: ETARGET: …".
 */
function failedDetail(r: Pick<WarmRow, 'last_error_code' | 'last_error'>): string {
  const code = r.last_error_code ?? '';
  const error = r.last_error ?? '';
  return code && error.startsWith(`${code}: `) ? error : `${code}: ${error}`;
}

export function problemsOf(rows: readonly WarmRow[]): WarmProblem[] {
  return rows
    .filter((r) => PROBLEMS.has(standing(r)))
    .map((r) => ({
      ecosystem: r.ecosystem,
      name: r.name,
      version: r.version,
      outcome: standing(r),
      detail: r.state === 'failed' ? failedDetail(r) : (r.detail ?? ''),
      lockfiles: JSON.parse(r.files) as string[],
    }));
}

export function uncheckedOf(rows: readonly WarmRow[]): WarmSummary['unchecked'] {
  const reasons: Record<string, number> = {};
  let n = 0;
  for (const r of rows) {
    if (r.checked !== 0 || (r.outcome !== 'warmed' && r.outcome !== 'already-cached' && r.outcome !== 'pending')) continue;
    n++;
    const reason = r.detail ?? 'not checked';
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  return { count: n, reasons };
}

const REPORT_COUNTS: Partial<Record<WarmOutcome, keyof NonNullable<WarmInput['lockfiles']>[number]['counts']>> = {
  warmed: 'warmed',
  'already-cached': 'alreadyCached',
  blocked: 'blocked',
  'missing-upstream': 'missingUpstream',
  'integrity-mismatch': 'integrityMismatch',
  'non-registry': 'nonRegistry',
  pending: 'pending',
  'internal-present': 'internalPresent',
  'internal-missing': 'internalMissing',
  'no-store': 'noStore',
};
const REPORT_PROBLEMS: ReadonlySet<Standing> = new Set(['blocked', 'missing-upstream', 'integrity-mismatch', 'non-registry', 'pending', 'internal-missing', 'failed']);

/**
 * The most of a problem's detail the report repeats, start and end kept (the state keeps up to
 * STORED_TEXT_MAX, `warm` prints it whole): a problem is listed under every lockfile naming it,
 * and a store that failed 2,000 entries named by 101 lockfiles each, 4,000 characters apiece,
 * made a JSON text past what a string can hold, so no report was written at all.
 */
const PROBLEM_DETAIL_MAX = 500;

/** The report's `warm` section: per lockfile, its counts (every standing) and problems. */
export function warmSection(lockfiles: readonly (Omit<LockfileRef, 'format'> & { format: string; notes?: readonly LockfileNote[] })[], rows: readonly WarmRow[]): WarmInput {
  const byFile = new Map<string, WarmRow[]>();
  for (const r of rows) for (const f of JSON.parse(r.files) as string[]) (byFile.get(f) ?? byFile.set(f, []).get(f)!).push(r);
  return {
    lockfiles: lockfiles.map((l) => {
      const counts = { warmed: 0, alreadyCached: 0, blocked: 0, missingUpstream: 0, integrityMismatch: 0, nonRegistry: 0, pending: 0, internalPresent: 0, internalMissing: 0, noStore: 0, failed: 0, undecided: 0 };
      const problems: NonNullable<WarmInput['lockfiles']>[number]['problems'] = [];
      for (const r of byFile.get(l.path) ?? []) {
        const s = standing(r);
        const key = s === 'failed' || s === 'undecided' ? s : REPORT_COUNTS[s];
        if (key) counts[key]++;
        if (!REPORT_PROBLEMS.has(s)) continue;
        const detail = s === 'failed' ? failedDetail(r) : (r.detail ?? '');
        problems.push({ name: r.name, version: r.version, outcome: s as 'blocked', detail: capText(detail, PROBLEM_DETAIL_MAX) });
      }
      const notes = (l.notes ?? []).map((n) => ({ file: n.file, line: n.line ?? null, message: n.message }));
      return { path: l.path, kind: l.format, repository: l.repository, counts, problems, notes };
    }),
  };
}

/**
 * The `warm` section of the last warm the state records, or null when there was none.
 * Its entries are those that warm saw and any later one re-recorded: a warm killed after
 * recording its entries (no summary) moves them to its own run, and reading that warm's
 * run alone dropped them, an integrity mismatch it found included. A killed warm's entries
 * count whether or not a warm ever ended: the first warm of a job killed after it found a
 * mismatch is reported (no section at all read as "never warmed", and the report as GO), and a
 * lockfile only a killed warm read (added since the last warm that ended) is named from its entries.
 */
export function warmSectionFromState(state: StateDb): WarmInput | null {
  const last = state.db.prepare('SELECT id, summary FROM warm_runs WHERE summary IS NOT NULL ORDER BY id DESC LIMIT 1').get() as { id: number; summary: string } | undefined;
  const since = last?.id ?? (state.db.prepare('SELECT MIN(id) AS id FROM warm_runs').get() as { id: number | null }).id;
  if (since === null) return null;
  const summary = last ? (JSON.parse(last.summary) as Partial<WarmSummary>) : {};
  const rows = state.db.prepare('SELECT * FROM warm_entries WHERE last_seen_run >= ?').all(since) as WarmRow[];
  // only warms killed before they recorded an entry: nothing was warmed
  if (!last && rows.length === 0) return null;
  const lockfiles: (Omit<LockfileRef, 'format'> & { format: string; notes?: readonly LockfileNote[] })[] = [...(summary.lockfiles ?? [])];
  const named = new Set(lockfiles.map((l) => l.path));
  for (const r of rows) {
    for (const path of JSON.parse(r.files) as string[]) {
      if (named.has(path)) continue;
      named.add(path);
      lockfiles.push(lockfileOfPath(path));
    }
  }
  return warmSection(lockfiles, rows);
}

/**
 * A lockfile known only by the path its entries name (the warm that read it was killed before
 * its summary): `<git url>#<branch>:<path>` for one in a repository (a branch name holds no `:`),
 * its format from its name (no file is read: it may be gone, or in a repository).
 */
function lockfileOfPath(path: string): Omit<LockfileRef, 'format'> & { format: string } {
  const hash = path.indexOf('#');
  const colon = hash === -1 ? -1 : path.indexOf(':', hash);
  const repository = colon === -1 ? null : path.slice(0, colon);
  return { path, format: detect(colon === -1 ? path : path.slice(colon + 1), '') ?? 'unknown', repository };
}

export const ALL_STANDINGS: readonly Standing[] = [...WARM_OUTCOMES, 'failed', 'undecided'];
