/**
 * One target package's work in a run: its versions oldest first, downloads and
 * builds running ahead in their queues, each read-back beside the next
 * publishes, then the format's package metadata (npm: dist-tags, deprecations).
 */
import type PQueue from 'p-queue';
import { MigrateError, toError, unexpectedError } from '../errors.js';
import { Semaphore } from '../semaphore.js';
import { LISTED_ON_TARGET, type ItemRow, type StateDb } from '../state/db.js';
import type { TargetFormat } from '../targets/format.js';
import type { Format, ItemState } from '../types.js';
import type { RunOutcome, RunSummary } from './events.js';
import { checkListed, fetchItem, needsFetch } from './acquire.js';
import { settleItem, verifyItem, type ItemContext, type PackageContext } from './item.js';
import { isRetryable, withRetry } from './retry.js';

/** States in which a version is on the target with our bytes. */
export const ON_TARGET: ReadonlySet<ItemState> = new Set(['verified', 'present-identical']);

/** Errors about this machine, not about one version: they stop the run (every other version would fail the same way). */
export const FATAL_CODES: ReadonlySet<string> = new Set(['ELOCAL', 'ESTATE', 'EPROXYAUTH', 'ETARGETCREDENTIALS']);

export interface PackageRunContext extends ItemContext {
  /** Versions of one package worked on at once. */
  publishesPerPackage: number;
  /** A plan without AWS: list and check the sources, touch no target. */
  noTarget?: boolean;
  /** A plan that only lists: no download, the target's listing only. */
  noDownload?: boolean;
  /** Enabled source ids, in job order. */
  active: string[];
  /** Does the job still name this package on this source? A source's rows of a package it no longer names say nothing of its metadata. */
  named: (sourceId: string, name: string) => boolean;
  fetchQueue: PQueue;
  verifyQueue: PQueue;
  /** Strictly one step at a time (concurrency 1, fetchConcurrency 1). */
  sequential: boolean;
  /** dist-tags never replicated (filters.ignoreDistTags). */
  ignoreDistTags: ReadonlySet<string>;
  /** `accepted`: a failure after the target accepted the version's publish (its read-back failed). */
  report: (row: ItemRow, outcome: RunOutcome, accepted?: boolean) => void;
  metadata: RunSummary['metadata'];
  metadataOutOfSync: RunSummary['metadataOutOfSync'];
  /** `format/name` -> why nothing may be published into it (a publish BLOCK harden kept). */
  publishBlocked?: ReadonlyMap<string, string>;
}

/**
 * `ids` are the versions to work on, oldest first. Each row is read when its download
 * or its publish starts: a package in flight holds the few versions it works on, not
 * all of its history (a run holds dozens of packages in flight at a raised quota).
 */
export async function migratePackage(pc: PackageRunContext, format: Format, name: string, ids: readonly number[], metadataNeeded: boolean): Promise<void> {
  const { signal, state } = pc;
  if (signal.aborted) return;
  const target = pc.target(format);
  const coords = target.coordinates(name);
  let versions: ReturnType<PackageContext['targetVersions']> | undefined;
  const pkg: PackageContext = {
    name,
    target,
    coords,
    targetVersions: () => (versions ??= pc.ca().listVersions(coords)).catch((e: unknown) => ((versions = undefined), Promise.reject(e))),
    distTags: packageTags(state, format, name, pc),
    publishBlocked: pc.publishBlocked?.get(`${format}/${name}`),
    sent: new Map(),
  };

  const fetches = new Map<number, Promise<ItemRow>>();
  /** A dry run's versions it would publish: their tags and deprecations are the run's to set, not out of sync. */
  const wouldPublish = new Set<string>();
  const startFetch = (r: ItemRow) => {
    if (pc.noDownload || !needsFetch(r, state, pc.blobs)) return;
    const p = pc.fetchQueue.add(() => (signal.aborted ? Promise.reject(interrupted(r)) : fetchItem(pc, r))) as Promise<ItemRow>;
    p.catch(() => {}); // observed below, in order
    fetches.set(r.id, p);
  };
  // Downloads run ahead of the publishes, a bounded number of versions ahead: enough to keep
  // the fetch queue busy while this package publishes, without queueing (and holding in
  // memory) every download of every package in flight, which grew with the size of the job.
  // (sequential: each step downloads its own version, nothing ahead)
  const ahead = pc.fetchQueue.concurrency + 2 * pc.publishesPerPackage;
  let fetchStarted = 0;
  const fetchAhead = (from: number) => {
    if (pc.sequential) return;
    for (; fetchStarted < Math.min(ids.length, from + ahead); fetchStarted++) startFetch(state.item(ids[fetchStarted]!));
  };

  /**
   * Record a failure; false when it was the stop, which is not a failure. A
   * fatal error (this machine's disk or state) is recorded and thrown on: the
   * run stops.
   */
  const fail = (r: ItemRow, thrown: unknown, accepted = false): boolean => {
    const e = unexpectedError(thrown);
    // a retryable error once stopped is the stop cutting the version's retries short (the last
    // try's error, thrown as the wait for the next was cut off): no failure of the version, which
    // stands as it stood (a throttle storm's stop left every version in flight 'failed:ETHROTTLED')
    if (e.code === 'EINTERRUPTED' || pc.hardSignal.aborted || (signal.aborted && (!(thrown instanceof MigrateError) || isRetryable(e)))) return false;
    // credentials that expired mid-run, this machine's disk or state, the proxy refusing us: no
    // fault of this version. It stays as it stood (status and the report would list it failed),
    // the run stops, and the rerun takes it from there
    if (FATAL_CODES.has(e.code)) throw e;
    state.transition(r.id, 'failed', { error: { code: e.code, message: e.describe() + partOnTarget(state, r.id) } });
    pc.report(r, `failed:${e.code}`, accepted);
    return true;
  };

  // Up to `publishesPerPackage` versions of this package at once, started in version order:
  // a package with thousands of versions does not serialise the run. (dist-tags are set at
  // the end; `latest` is only ever sent with the source's latest version.)
  const window = new Semaphore(pc.sequential ? 1 : pc.publishesPerPackage);
  const verifications: Promise<void>[] = [];
  const steps: Promise<void>[] = [];
  let fatal: unknown;
  let stop = false;
  // each version's upload starts only once the one before it has started (or finished
  // without one): requests go out in version order even when several are in flight
  let previousStarted: Promise<void> = Promise.resolve();
  const step = async (r: ItemRow, after: Promise<void>, started: () => void) => {
    try {
      checkListed(r);
      if (pc.sequential) startFetch(r);
      const fetching = fetches.get(r.id);
      fetches.delete(r.id);
      const fetched = fetching ? await fetching : r;
      await after;
      if (pc.noTarget) {
        // a plan without AWS access: inventory and source checks only
        pc.report(r, 'would-publish');
        return;
      }
      if (pc.noDownload) {
        // a plan that only lists: the target's listing says whether the version is there (bytes not compared)
        const listed = (await pkg.targetVersions()).get(pkg.target.targetVersion(r.version));
        // recorded for the plan's report (state.listedOnTarget): a version already there is not one to publish
        if (listed) state.note(r.id, LISTED_ON_TARGET, listed.status);
        pc.report(r, listed ? 'on-target-unchecked' : 'would-publish');
        return;
      }
      const settled = await settleItem(pc, { ...pkg, onPublishStart: started }, fetched);
      if (typeof settled === 'string') {
        if (settled === 'would-publish') wouldPublish.add(r.version);
        pc.report(r, settled);
        return;
      }
      const verification = pc.verifyQueue.add(async () => {
        try {
          pc.report(r, await verifyItem(pc, pkg, settled.verify));
        } catch (e) {
          try {
            // its publish was accepted: a failed read-back is no throttle storm's (ThrottleBreaker)
            fail(r, e, true);
          } catch (f) {
            fatal ??= f;
          }
        }
      });
      verifications.push(verification);
      if (pc.sequential) await verification;
    } catch (thrown) {
      try {
        if (!fail(r, thrown)) stop = true;
      } catch (f) {
        fatal ??= f;
        stop = true;
      }
    } finally {
      started();
    }
  };
  for (const [i, id] of ids.entries()) {
    fetchAhead(i + 1);
    const release = await window.take();
    if (signal.aborted || stop || fatal !== undefined) {
      release();
      break;
    }
    let started!: () => void;
    const thisStarted = new Promise<void>((resolve) => (started = resolve));
    steps.push(step(state.item(id), previousStarted, started).finally(release));
    previousStarted = thisStarted;
  }
  await Promise.all(steps);
  await Promise.all(verifications);
  if (fatal !== undefined) throw fatal;
  if (signal.aborted || !metadataNeeded || pc.noTarget) return;
  if (target.syncMetadata) return syncPackageMetadata(pc, target, format, name, wouldPublish);
  // a format without package metadata is in sync once its versions are
  const items = state.itemsOf(format, name).filter((r) => asksFor(pc, r.source_id, name));
  if (!pc.dryRun && items.every((r) => r.state === 'excluded' || r.state === 'removed' || r.state === 'skipped' || ON_TARGET.has(r.state))) {
    for (const p of state.packagesNamed(format, name).filter((x) => asksFor(pc, x.source_id, name))) state.setPackageMeta(p.source_id, format, name, 'done', null);
  }
}

/**
 * A version that failed after some of its files went up (a PyPI sdist, then its wheel refused;
 * a Go `.zip`, then the `.mod` cut off): said with the failure, which status, the report and the
 * ledger show, since those files are on the target, half a version clients can see (PyPI) or an
 * Unfinished version (generic), whatever the error says of the file that failed.
 */
function partOnTarget(state: StateDb, id: number): string {
  const assets = state.assetsOf(id);
  const sent = assets.filter((a) => a.state === 'uploaded').map((a) => a.name);
  if (sent.length === 0 || sent.length === assets.length) return '';
  return ` (${sent.join(', ')} of ours ${sent.length === 1 ? 'is' : 'are'} already on the target, part of this version: a rerun uploads the rest; to leave nothing of it instead, delete the version on the target with aws codeartifact delete-package-versions)`;
}

function interrupted(r: ItemRow): MigrateError {
  return new MigrateError('EINTERRUPTED', 'interrupted before download', { subject: `${r.package}@${r.version}` });
}

/** Whether this run asks this source for this package: the source is enabled, and the job still names the package on it. */
function asksFor(pc: Pick<PackageRunContext, 'active' | 'named'>, sourceId: string, name: string): boolean {
  return pc.active.includes(sourceId) && pc.named(sourceId, name);
}

/** dist-tags of the first source (in job order) that lists the package and that the job still asks for it. */
function packageTags(state: StateDb, format: Format, name: string, pc: Pick<PackageRunContext, 'active' | 'named'>): Record<string, string> {
  const rows = state.packagesNamed(format, name).filter((p) => asksFor(pc, p.source_id, name) && !p.list_error_code);
  rows.sort((a, b) => pc.active.indexOf(a.source_id) - pc.active.indexOf(b.source_id));
  return rows[0] ? (JSON.parse(rows[0].dist_tags) as Record<string, string>) : {};
}

function describeFailure(e: unknown): string {
  const err = toError(e) as Error & { code?: string };
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

/** The format's package metadata; the package is `done` once everything selected is on the target and in sync. */
async function syncPackageMetadata(pc: PackageRunContext, target: TargetFormat, format: Format, name: string, wouldPublish: ReadonlySet<string>): Promise<void> {
  const { state } = pc;
  const items = state.itemsOf(format, name).filter((r) => asksFor(pc, r.source_id, name));
  const onTarget = items.filter((r) => ON_TARGET.has(r.state));
  // a dry run (a plan) says what the run will do: the versions it would publish are on the target by then
  const toPublish = pc.dryRun ? items.filter((r) => wouldPublish.has(r.version) && !ON_TARGET.has(r.state)) : [];
  const pkgRows = state.packagesNamed(format, name).filter((p) => asksFor(pc, p.source_id, name));
  if (onTarget.length === 0 && toPublish.length === 0) return;
  // a version on the target whose listing now has a problem (a deprecation message too long to
  // keep, say) has no deprecation in its row: its deprecation on the target is left as it is, and said
  const unlisted = onTarget.filter((r) => r.source_problem);
  const deprecations = new Map([...onTarget, ...toPublish].filter((r) => !r.source_problem).map((r) => [r.version, r.deprecated ?? '']));
  const distTags = Object.fromEntries(Object.entries(packageTags(state, format, name, pc)).filter(([tag]) => !pc.ignoreDistTags.has(tag)));
  try {
    const { changes, skipped: refused } = await target.syncMetadata!(
      name,
      { deprecations, distTags, onTarget: new Set(onTarget.map((r) => r.version)), toPublish: new Set(toPublish.map((r) => r.version)), ignore: pc.ignoreDistTags },
      { dryRun: pc.dryRun, retry: (fn) => withRetry(fn, { budget: pc.retries, signal: pc.signal }) },
    );
    const skipped = [...unlisted.map((r) => `deprecation of ${r.version}: left as the target has it, since ${r.source_problem}; repair it at the source`), ...refused];
    const complete = items.every((r) => r.state === 'excluded' || r.state === 'removed' || r.state === 'skipped' || ON_TARGET.has(r.state)) && skipped.length === 0;
    if (!pc.dryRun) for (const p of pkgRows) state.setPackageMeta(p.source_id, format, name, complete ? 'done' : 'pending', skipped.join('; ') || null);
    const all = [...changes, ...skipped.map((s) => `skipped ${s}`)];
    if (all.length) pc.metadata.push({ package: name, changes: all });
    for (const s of skipped) pc.metadataOutOfSync.push({ package: name, reason: s });
    pc.emit({ type: 'metadata', package: name, changes: all });
  } catch (e) {
    const error = describeFailure(e);
    if (e instanceof MigrateError && FATAL_CODES.has(e.code)) throw e;
    for (const p of pkgRows) state.setPackageMeta(p.source_id, format, name, 'failed', error);
    pc.metadata.push({ package: name, changes: [], error });
    pc.metadataOutOfSync.push({ package: name, reason: error });
    pc.emit({ type: 'metadata', package: name, changes: [], error });
  }
}
