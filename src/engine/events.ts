/** What a run tells the outside world as it goes (the CLI renders it). */
import type { ItemState, Outcome } from '../types.js';
import type { HardenResult } from './harden.js';

/**
 * `would-publish` only happens in a dry run; `removed`: the source no longer
 * lists it and nothing of it is on the target; `deferred`: its source could
 * not be listed this run, so it waits for one that can.
 */
export type RunOutcome = Outcome | 'would-publish' | 'removed' | 'skipped' | 'deferred' | 'on-target-unchecked';

export type ProgressEvent =
  | { type: 'listed'; source: string; package: string; versions: number }
  | { type: 'list-error'; source: string; package: string; code: string; message: string }
  | { type: 'planned'; total: number; alreadyDone: number }
  | { type: 'retargeted'; from: string; versions: number }
  | { type: 'item'; package: string; version: string; outcome: RunOutcome; state: ItemState; message?: string }
  | { type: 'retry'; subject: string; code: string; attempt: number; waitMs: number }
  | { type: 'metadata'; package: string; changes: string[]; error?: string }
  | { type: 'interrupting'; graceMs: number }
  | { type: 'cutting-off' };

export interface RunSummary {
  job: string;
  /** The job file this run was made from: its absolute path and the SHA-256 of its bytes (absent when the job was not read from a file, or recorded by an older release). */
  jobFile?: { path: string; sha256: string };
  dryRun: boolean;
  interrupted: boolean;
  /** Outcomes of the items this run worked on. */
  outcomes: Record<string, number>;
  /** Every item's state after the run. */
  states: Record<string, number>;
  /** Selected versions (not excluded) and how many of them are verified or present-identical. */
  selected: number;
  complete: number;
  failures: { package: string; version: string; code: string; message: string }[];
  conflicts: { package: string; version: string; code: string; message: string; ourSha512: string; targetSha512: string }[];
  listErrors: { source: string; package: string; code: string; message: string }[];
  metadata: { package: string; changes: string[]; error?: string }[];
  weakIntegrity: { package: string; version: string }[];
  /** Migrated versions whose source now declares other bytes (found by this run): the target keeps what was migrated. */
  sourceChanged: { package: string; version: string; migratedSha512: string; detail: string }[];
  /** Versions the source stopped listing (found by this run), with the state each was left in. */
  removedAtSource: { package: string; version: string; state: string; detail: string }[];
  /** git tags found pointing at another commit than when first listed (this run): never rebuilt silently. */
  tagMoved: { package: string; version: string; state: string; detail: string }[];
  /** Versions left out on purpose (a tag that is no version for its format, a job override), with the reason. */
  skipped: { package: string; version: string; reason: string }[];
  /**
   * Versions the job leaves out (`skipped`, `excluded`) that a run of ours started publishing
   * (attempts counted): the target may hold some of their files (half a version clients can
   * see, e.g. an sdist without its wheel), which stay there. Every run.
   */
  leftOutOnTarget: { package: string; version: string; state: string; attempts: number }[];
  /**
   * Versions the source no longer lists after a run of ours began publishing them (left `fetched`): part of
   * each may be on the target and no run publishes the rest, so every run exits 1 for them until the version
   * is deleted on the target (then the next run finds nothing of it: removed). Listed on every run, not only
   * the one that found the removal (`removedAtSource`).
   */
  removedPartlyOnTarget: { package: string; version: string }[];
  /**
   * Selected versions whose own metadata names dependencies a consumer installing from the target
   * cannot resolve there (npm `file:`, git and tarball URLs; Python `name @ url`; Go `replace` with a
   * local folder), each as a line: `name → spec`. Every run. A warning (EUNRESOLVABLEDEP): it changes
   * no exit code, and the bytes are published as they are.
   */
  unresolvableDeps: { package: string; version: string; dependencies: string[] }[];
  /**
   * Selected versions whose files were fetched but whose dependencies were never read for the
   * above: fetched by a release before the check, their files no longer in the blob store (a run
   * checks the others from there). Unknown, not clean: a warning (EDEPSUNCHECKED) in the reports.
   */
  unresolvableUnchecked: number;
  /**
   * Go versions against the go.sum files the job names: lines checked, and every
   * line whose hash differs from what was built (a critical finding), or files that
   * could not be read.
   */
  goSum: {
    files: number;
    checked: number;
    mismatches: { module: string; version: string; file: string; line: number; kind: 'zip' | 'go.mod'; goSum: string; built: string }[];
    errors: { file: string; message: string }[];
  };
  /** Origin controls set (or, in a dry run, to set) before publishing; errors make the run exit 1. */
  hardening?: HardenResult;
  /** Packages whose dist-tags or deprecations are not (yet) as the source has them, and why. */
  metadataOutOfSync: { package: string; reason: string }[];
  /**
   * The rate each quota bucket ran at, where it came from (job, account, default), and the latency
   * measured; `quota`: the account's quota when the rate is below it (reads past what one token carries).
   */
  rates: Record<string, { rate: number; source: 'job' | 'account' | 'default'; quota?: number; latencyMs?: number }>;
  /** Why the account's quotas are not in use, when they are not. */
  quotaNote?: string;
  /**
   * A run that sent nothing read no quotas: the account's rates are those this earlier run read,
   * null when no run read them yet (`quotaNote` says so either way).
   */
  ratesFrom?: { run: number; at: string } | null;
  /** Filter entries that match no version of the job's sources (a typo in an exclude lets through what it meant to keep out). */
  unmatchedFilters: { kind: 'include' | 'exclude'; entry: string }[];
  /**
   * Go git sources of this run whose tag pattern is not the one go reads (`<directory>/v{version}`,
   * at the root `v{version}`): their versions are built from tags go never reads, so the h1: published
   * may not be what consumers' go.sum recorded. A warning: it changes no exit code.
   */
  goTagPatterns: { source: string; pattern: string; goReads: string }[];
  /**
   * Packages of the job's sources that the job no longer names (taken out of `packages` or
   * `scopes`), whatever their source still holds: never written to again; per package, how
   * many versions are on the target, which were never migrated (set aside as `excluded`,
   * ENOTINJOB), which were set aside after a run of ours started publishing them (the target
   * may hold part of them: `publishBegun`), and which publishes were cut off and not settled
   * by reading the target. `why` is `not-named` for such a package (every version of it), `filters`
   * for versions on the target (or whose publish is unsettled) that the job's filters now leave out;
   * as in `status`, none of them is counted in `states`, `selected` or `complete`.
   */
  notInJob: { source: string; package: string; why: 'not-named' | 'filters'; onTarget: number; notMigrated: string[]; publishBegun: string[]; unsettled: string[] }[];
  /**
   * Other jobs' states in the state directory that record versions on this target (published,
   * verified or found there) from this job's sources, for packages this job reads (engine/job-edits.ts otherJobsOfThisWork): the job renamed
   * between runs (its history and ledger go on under the old name), or two jobs over the same
   * packages. A warning: it changes no exit code.
   */
  otherJobs: { job: string; database: string; versions: number; packages: string[] }[];
  /** This run moved the state to the job's new target (--retarget): from where, and how many versions it checks again. */
  retargeted?: { from: string; versions: number; warmEntries: number };
  /** A plan made without AWS access (--no-target): the target was not read, so nothing of it (versions there, conflicts, its setup) is known. */
  noTarget?: true;
  /** A plan that only listed (--no-download): nothing downloaded, the target compared by its listings (the versions it lists are noted per item: StateDb.listedOnTarget). */
  noDownload?: true;
  /** How much ran at once: packages at the end and at the most, versions of one package. */
  inFlight: { packages: number; peakPackages: number; publishesPerPackage: number };
  throttles: number;
  tokenFetches: number;
  /** Stored bytes re-hashed just before publishing, and what it cost. */
  blobRecheck: { bytes: number; ms: number };
  durationMs: number;
  peakRssBytes: number;
  /** The largest JS heap left after a full collection: what the run held, without the garbage V8 had not collected yet. */
  peakLiveHeapBytes: number;
  exitCode: 0 | 1 | 130;
}
