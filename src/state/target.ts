/**
 * The target a job's state is bound to. A `verified` row means "in this domain's
 * repository, with our bytes": pointed at another domain or internal repository
 * (a trial into a scratch repository, then the real one), the same rows would say
 * every version is done while the new target holds none of them. So the state
 * records the target of its first run, and a run, plan or warm against another one
 * is refused (ETARGETCHANGED) until the operator says to move (`--retarget`): then
 * every version is checked against the new target again, from the files already
 * downloaded or built.
 */
import { MigrateError } from '../errors.js';
import type { Format } from '../types.js';
import type { StateDb } from './db.js';
import type { LedgerContext } from './ledger.js';

export interface TargetIdentity {
  region: string;
  domainOwner: string;
  domain: string;
  /** Each format's internal repository. */
  repositories: Partial<Record<Format, string>>;
}

/** The job's target as the state records it. */
export function targetOf(target: { region: string; domainOwner: string; domain: string; repositories: Partial<Record<Format, { internal: string } | undefined>> }): TargetIdentity {
  const repositories: Partial<Record<Format, string>> = {};
  for (const [format, r] of Object.entries(target.repositories) as [Format, { internal: string } | undefined][]) if (r?.internal) repositories[format] = r.internal;
  return { region: target.region, domainOwner: target.domainOwner, domain: target.domain, repositories };
}

/** How `now` differs from `was`, in words; empty when it is the same target (a format new to the job is no difference). */
export function targetDifferences(was: TargetIdentity, now: TargetIdentity): string[] {
  const out: string[] = [];
  if (was.region !== now.region) out.push(`region ${was.region} → ${now.region}`);
  if (was.domainOwner !== now.domainOwner) out.push(`domain owner ${was.domainOwner} → ${now.domainOwner}`);
  if (was.domain !== now.domain) out.push(`domain ${was.domain} → ${now.domain}`);
  for (const [format, repository] of Object.entries(now.repositories) as [Format, string][]) {
    const before = was.repositories[format];
    if (before !== undefined && before !== repository) out.push(`${format} repository ${before} → ${repository}`);
  }
  return out;
}

/** A target in words, as messages and the summary name it. */
export function describeTarget(t: TargetIdentity): string {
  const repos = Object.entries(t.repositories).map(([f, r]) => `${f} ${r}`);
  return `domain ${t.domain} (owner ${t.domainOwner}, ${t.region})${repos.length ? `, repositories ${repos.join(', ')}` : ''}`;
}

/**
 * Move the state to `now` (StateDb.retarget), for the summary: from where, and what is
 * done again. With a ledger context, the move is a provenance-ledger entry of its own.
 */
export function moveTarget(db: StateDb, now: TargetIdentity, differences: readonly string[], ledger?: LedgerContext): { from: string; versions: number; warmEntries: number } {
  const from = describeTarget(db.recordedTarget()!);
  return { from, ...db.retarget(now, `the target moved: ${differences.join(', ')}`, ledger && { context: ledger, from }) };
}

/**
 * The job's target against the one the state records: the differences when the
 * operator asked to move (`retarget`), none when it is the same target or none is
 * recorded yet; otherwise ETARGETCHANGED. Nothing is written here: the caller moves
 * the state (StateDb.retarget) or records the target once CodeArtifact has confirmed
 * it exists, so a mistyped repository never becomes what the state is bound to.
 */
export function checkTarget(db: StateDb, now: TargetIdentity, opts: { retarget?: boolean }): string[] {
  const was = db.recordedTarget();
  const differences = was ? targetDifferences(was, now) : [];
  if (was && differences.length > 0 && !opts.retarget) {
    throw new MigrateError('ETARGETCHANGED', `${db.path} records this job's work in ${describeTarget(was)}; the job now names ${differences.join(', ')}: the versions it records as migrated are not in the new target`, {
      hint: `to migrate into the new target, rerun with --retarget: every version is checked against it again and published where it is missing, from the files already downloaded or built; to go on with the old target, put it back in the job file; if both targets are meant to be migrated (two job files with one name), give each job its own name or --state-dir`,
    });
  }
  return differences;
}
