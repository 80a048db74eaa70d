/**
 * One row's outcome in words a reviewer acts on: for a plan, what will happen
 * to the version; for a run report, what did. The row's state decides; the
 * error code says which side to blame and what to do.
 */
import { LEFT_OUT_NOTE, type ItemRow } from '../state/db.js';
import { hintFor, SOURCE_CODES } from './hints.js';
import type { Exclusion } from './exclusion.js';
import type { ReportOutcome } from './schema.js';

export type OutcomeRow = Pick<ItemRow, 'package' | 'version' | 'state' | 'attempts' | 'last_error_code' | 'last_error' | 'sha512' | 'target_sha512' | 'removed_at' | 'source_problem'> & {
  /** plan --no-download: the status the target lists the version with, null when it does not list it; absent when not read. */
  target_listed?: string | null;
};

const blank = (row: OutcomeRow): Omit<ReportOutcome, 'key'> => ({
  state: row.state,
  code: null,
  message: null,
  hint: null,
  reason: null,
  excludedBy: null,
  ourSha512: null,
  targetSha512: null,
  targetStatus: null,
});

/** A pending version as a plan --no-download saw it on the target's listing (bytes not compared), or null when it was not read. */
function listingOutcome(row: OutcomeRow, base: Omit<ReportOutcome, 'key'>): ReportOutcome | null {
  const status = row.target_listed;
  if (status === undefined) return null;
  if (status === null) return { ...base, key: 'unchecked', reason: 'not on the target (by its listing): to publish; not downloaded yet (plan --no-download)' };
  return {
    ...base,
    key: 'unchecked',
    targetStatus: status,
    reason: `listed on the target (${status}): already there, not to publish; bytes not compared (plan --no-download)`,
    // a run fails a version the target holds in another status (ETARGETSTATUS), as a full plan says
    hint: status === 'Published' ? 'plan without --no-download to compare its bytes with the target' : `a run fails it (ETARGETSTATUS): ${hintFor('ETARGETSTATUS')}`,
  };
}

/** `EINTEGRITY: the bytes...` as recorded by MigrateError.describe(): the message without its code prefix. */
function messageOf(row: OutcomeRow): string | null {
  const m = row.last_error;
  if (!m) return null;
  const code = row.last_error_code;
  return code && m.startsWith(`${code}: `) ? m.slice(code.length + 2) : m;
}

function errorFields(row: OutcomeRow, fallbackCode: string): Pick<ReportOutcome, 'code' | 'message' | 'hint'> {
  const code = row.last_error_code ?? fallbackCode;
  return { code, message: messageOf(row), hint: hintFor(code) };
}

const REMOVED_REASON = 'no longer listed by its source; nothing of it reached the target';
const KEPT_REASON = 'no longer listed by its source; the target keeps what was migrated';
/** A version removed at the source after a run of ours started publishing it (engine/item.ts settleItem puts it back to fetched). */
const REMOVED_PART_REASON = 'no longer listed by its source, and the target holds part of it (files a run of ours uploaded): not published';
const REMOVED_PART_HINT = 'delete the version on the target (aws codeartifact delete-package-versions) to leave nothing of it';

function leftOut(row: OutcomeRow, explain: (name: string, version: string) => Exclusion | null): Partial<ReportOutcome> | null {
  const out = setAside(row, explain);
  // left out after a publish of ours began: never read as "nothing of it on the target"
  if (out && row.state !== 'removed' && row.attempts > 0) return { ...out, reason: `${out.reason ?? row.state}; ${LEFT_OUT_NOTE}` };
  return out;
}

function setAside(row: OutcomeRow, explain: (name: string, version: string) => Exclusion | null): Partial<ReportOutcome> | null {
  switch (row.state) {
    case 'excluded': {
      // the filters as they are now (a package named again that the filters now leave out is theirs)
      const why = explain(row.package, row.version);
      if (why) return { excludedBy: why.filter, reason: why.reason };
      // its package is no longer named by the job: the row says so (the filters would select it)
      if (row.last_error_code === 'ENOTINJOB') return { code: 'ENOTINJOB', reason: row.last_error };
      // (the report model counts a version the job selects again as not done, or unchecked, before asking here)
      return { reason: "excluded by an earlier run's filters; the job's filters now select it, so the next run picks it up" };
    }
    case 'skipped':
      return { code: 'ESKIPPED', reason: row.last_error ?? 'skipped' };
    case 'removed':
      return { reason: REMOVED_REASON };
    default:
      return null;
  }
}

function conflictFields(row: OutcomeRow): Partial<ReportOutcome> {
  return { ...errorFields(row, 'ECONFLICT'), ourSha512: row.sha512, targetSha512: row.target_sha512 };
}

/** What the plan says will happen to this version. */
export function planOutcome(row: OutcomeRow, explain: (name: string, version: string) => Exclusion | null): ReportOutcome {
  const base = blank(row);
  const removedNote = row.removed_at ? { reason: KEPT_REASON } : {};
  const out = leftOut(row, explain);
  if (out) return { ...base, key: row.state as 'excluded' | 'skipped' | 'removed', ...out };
  // removed at the source after a run of ours began publishing it: the run publishes none of it, and part of it is on the target
  if (row.state === 'fetched' && row.removed_at && row.attempts > 0) return { ...base, key: 'removed', code: 'ESOURCEREMOVED', reason: REMOVED_PART_REASON, hint: REMOVED_PART_HINT };
  switch (row.state) {
    case 'pending':
      if (row.source_problem) return { ...base, key: 'source-error', code: 'EBADSOURCE', message: row.source_problem, hint: hintFor('EBADSOURCE') };
      return listingOutcome(row, base) ?? { ...base, key: 'unchecked', reason: 'listed; not downloaded and compared with the target yet' };
    case 'fetched':
      // downloaded or built by an earlier plan, its bytes never compared with the target: a plan
      // --no-download that finds it on the target's listing must not call it one to publish
      return (typeof row.target_listed === 'string' ? listingOutcome(row, base) : null) ?? { ...base, key: 'publish' };
    case 'publishing':
      return { ...base, key: 'publish', reason: 'a publish was interrupted: the next run settles it by reading the target, never by publishing blind' };
    case 'published':
      return { ...base, key: 'migrated', reason: 'published by an earlier run; the next run verifies it', ...removedNote };
    case 'verified':
      return { ...base, key: 'migrated', ...removedNote };
    case 'present-identical':
      return { ...base, key: 'present-identical', ...removedNote };
    case 'conflict':
      return { ...base, key: 'conflict', ...conflictFields(row) };
    case 'failed': {
      const f = errorFields(row, 'EUNKNOWN');
      return { ...base, key: SOURCE_CODES.has(f.code ?? '') ? 'source-error' : 'error', ...f };
    }
    default:
      return assertNever(row.state as never);
  }
}

/** What a run did with this version. */
export function runOutcome(row: OutcomeRow, explain: (name: string, version: string) => Exclusion | null): ReportOutcome {
  const base = blank(row);
  const removedNote = row.removed_at ? { reason: KEPT_REASON } : {};
  const out = leftOut(row, explain);
  if (out) return { ...base, key: row.state as 'excluded' | 'skipped' | 'removed', ...out };
  switch (row.state) {
    case 'verified':
    case 'published':
    case 'present-identical':
      return { ...base, key: row.state, ...removedNote };
    case 'conflict':
      return { ...base, key: 'conflict', ...conflictFields(row) };
    case 'failed':
      return { ...base, key: 'failed', ...errorFields(row, 'EUNKNOWN') };
    case 'pending':
    case 'fetched':
    case 'publishing':
      // not "the run did not get to it": it did, and the source no longer has it; rerunning publishes nothing
      if (row.state === 'fetched' && row.removed_at && row.attempts > 0) return { ...base, key: 'not-done', reason: REMOVED_PART_REASON, hint: REMOVED_PART_HINT };
      return { ...base, key: 'not-done', reason: row.state === 'publishing' ? 'a publish was interrupted: the next run settles it by reading the target' : 'the run did not get to it: rerun' };
    default:
      return assertNever(row.state as never);
  }
}

function assertNever(state: never): never {
  throw new Error(`unknown item state ${String(state)}`);
}
