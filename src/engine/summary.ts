/**
 * The end of a run: what the rows and the run's findings add up to (the
 * summary the CLI prints and the runs table keeps), and the job filters
 * applied to the rows before the work starts.
 */
import { readFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { filterUse } from '../config/filters.js';
import type { LoadedJob } from '../config/load.js';
import { LEFT_OUT_ON_TARGET, type StateDb } from '../state/db.js';
import type { Source } from '../sources/index.js';
import type { ItemState } from '../types.js';
import type { RunSummary } from './events.js';
import { splitByAsked, type notAskedBy } from './job-edits.js';
import { ON_TARGET } from './package.js';
import { summaryDependencies } from './unresolvable.js';

/**
 * This process's peak resident set. On Linux from VmHWM: getrusage's maxrss
 * survives exec, so a CLI started by a big parent would report the parent's peak.
 */
export function peakRss(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Watches the JS heap left after each full collection: what the run really holds,
 * as opposed to its peak RSS, which is V8's choice as much as ours (at a higher
 * allocation rate V8 lets the heap grow further before it collects, so the same
 * live data shows a higher RSS at 100 publishes/s than at 10). `peak()` is the
 * largest such heap, or the heap in use now when no full collection ran; `stop()`
 * ends the watch.
 */
export function watchLiveHeap(): { peak(): number; stop(): void } {
  let peak = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) peak = Math.max(peak, getHeapStatistics().used_heap_size);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { peak: () => peak || getHeapStatistics().used_heap_size, stop: () => observer.disconnect() };
}

/**
 * Excluded <-> pending as the filters say, for every version of the job's sources; versions
 * already on the target stay as they are. A version in conflict (other bytes on the target
 * under its name, or a tag that moved before it was published: ETAGMOVED) is not ours there,
 * so a filter sets it aside too, as a skip does: the operator who decides the target's file
 * is the right one, or that the moved tag's version is not wanted, leaves the version out.
 * Returns the filter entries that matched none.
 */
export function applyFilters(state: StateDb, job: LoadedJob, sources: Map<string, Source>, named: (sourceId: string, name: string) => boolean = () => true): RunSummary['unmatchedFilters'] {
  const use = filterUse(job.config.filters);
  state.db.transaction(() => {
    for (const r of state.workKeys()) {
      // a package the job no longer names stays as it was set aside (ENOTINJOB): named again, it is selected again
      if (!sources.has(r.source_id) || !named(r.source_id, r.package)) continue;
      const want = use.select(r.package, r.version);
      const notOnTarget = ['pending', 'fetched', 'failed', 'conflict'].includes(r.state);
      if (!want && notOnTarget) state.transition(r.id, 'excluded', {}, 'excluded by the job filters');
      else if (!want && r.state === 'excluded' && r.last_error_code === 'ENOTINJOB') state.transition(r.id, 'excluded', { error: null }, 'named by the job again, and excluded by the job filters');
      // the source stopped listing it while it was left out (StateDb.markRemoved keeps `excluded`): no run
      // lists it, so `pending` would never be worked on and the run would exit 1 for ever. What the source
      // dropping it means: nothing of it on the target, removed; a run of ours began publishing it, part of
      // it may be there, and no run publishes the rest (`fetched`, as settleItem leaves such a version)
      else if (want && r.state === 'excluded' && r.removed_at)
        state.transition(
          r.id,
          r.attempts > 0 ? 'fetched' : 'removed',
          r.last_error_code === 'ENOTINJOB' || r.last_error_code === 'ETAGMOVED' ? { error: null } : {},
          r.attempts > 0
            ? 'selected again, but the source no longer lists it, and the target may hold part of it (a run of ours began publishing it): not published; delete the version on the target (aws codeartifact delete-package-versions) to leave nothing of it'
            : 'selected again, but the source no longer lists it: not published',
        );
      // its tag moved while it was left out: the conflict it would have been (never built from either commit silently)
      else if (want && r.state === 'excluded' && r.last_error_code === 'ETAGMOVED') state.transition(r.id, 'conflict', {}, 'selected by the job filters; its tag moved while it was left out');
      else if (want && r.state === 'excluded') state.transition(r.id, 'pending', r.last_error_code === 'ENOTINJOB' ? { error: null } : {}, r.last_error_code === 'ENOTINJOB' ? 'named by the job again' : 'selected by the job filters');
    }
  })();
  return use.unmatched();
}

export function summarize(
  state: StateDb,
  job: string,
  dryRun: boolean,
  interruptedRun: boolean,
  outcomes: Record<string, number>,
  listErrors: RunSummary['listErrors'],
  metadata: RunSummary['metadata'],
  metadataOutOfSync: RunSummary['metadataOutOfSync'],
  goSum: RunSummary['goSum'],
  hardening: RunSummary['hardening'],
  active: string[],
  notAsked: ReturnType<typeof notAskedBy>,
  figures: Pick<RunSummary, 'jobFile' | 'rates' | 'quotaNote' | 'ratesFrom' | 'retargeted' | 'unmatchedFilters' | 'goTagPatterns' | 'otherJobs' | 'notInJob' | 'inFlight' | 'throttles' | 'tokenFetches' | 'blobRecheck' | 'durationMs' | 'peakLiveHeapBytes'>,
): RunSummary {
  // Counted from a few columns per version, and only the rows the summary lists are read whole:
  // a run of 10,000 versions does not end by holding every row (the peak RSS it reports is taken
  // below). Only what the job file asks for now is counted, as `status` and the report count it:
  // a package it no longer names, or versions on the target its filters now leave out, are listed
  // apart (notInJob), never counted as selected, nor as on the target.
  const { counts: states, out, notAskedPackages } = splitByAsked(state, active, notAsked);
  // a publish of a version the job no longer asks for, not settled: the target may hold a version nobody checked
  const unsettledOut = notAskedPackages.reduce((n, d) => n + d.unsettled.length, 0);
  // a package no longer named is said by setAsideDropped, which set it aside (figures.notInJob)
  const byFilters = notAskedPackages.filter((d) => d.why === 'filters').map(({ never, ...d }) => ({ ...d, notMigrated: never }));
  const notInJob = [...figures.notInJob, ...byFilters].sort((a, b) => a.source.localeCompare(b.source) || a.package.localeCompare(b.package));
  const count = (pick: (s: string) => boolean) => Object.entries(states).reduce((n, [s, k]) => n + (pick(s) ? k : 0), 0);
  const selected = count((s) => s !== 'excluded' && s !== 'removed' && s !== 'skipped');
  const complete = count((s) => ON_TARGET.has(s as ItemState));
  const listed = (where: string) => state.itemsOfSources(active, where).filter((r) => !out.has(r.id));
  // what happened to a version the job no longer asks for is no more the job's than the version is
  const ofJob = <T extends { source: string; package: string; version: string; state: string }>(rows: T[]) =>
    rows.filter((r) => !active.includes(r.source) || notAsked({ source_id: r.source, package: r.package, version: r.version, state: r.state }) === undefined);
  const failures = listed("state = 'failed'").map((r) => ({ package: r.package, version: r.version, code: r.last_error_code ?? 'EUNKNOWN', message: r.last_error ?? '' }));
  const conflicts = listed("state = 'conflict'").map((r) => ({ package: r.package, version: r.version, code: r.last_error_code ?? 'ECONFLICT', message: r.last_error ?? '', ourSha512: state.ourConflictSha512(r) ?? '', targetSha512: r.target_sha512 ?? '' }));
  const tagMoved = ofJob(state.tagMoves(state.runId ?? undefined)).map((t) => ({ package: t.package, version: t.version, state: t.state, detail: t.detail ?? '' }));
  // in sync means the versions AND the dist-tags/deprecations: a tag left behind is not a finished job
  const goSumBad = goSum.mismatches.length + goSum.errors.length > 0 || (hardening?.errors.length ?? 0) > 0;
  // a moved tag of a version the job leaves out (filters, a skip) is reported, and fails nothing
  const tagMovedInJob = tagMoved.filter((t) => t.state !== 'excluded' && t.state !== 'skipped').length;
  // a publish of a version the job no longer asks for that this run could not settle: the target may hold a version nobody checked
  const ok = complete === selected && unsettledOut === 0 && listErrors.length === 0 && metadataOutOfSync.length === 0 && tagMovedInJob === 0 && !goSumBad && !interruptedRun;
  return {
    job,
    dryRun,
    interrupted: interruptedRun,
    outcomes,
    states,
    selected,
    complete,
    failures,
    conflicts,
    // work runs concurrently: sort what the summary lists, so it reads the same every time
    listErrors: [...listErrors].sort((a, b) => a.source.localeCompare(b.source) || a.package.localeCompare(b.package)),
    metadata: [...metadata].sort((a, b) => a.package.localeCompare(b.package)),
    weakIntegrity: listed('integrity_weak != 0').map((r) => ({ package: r.package, version: r.version })),
    sourceChanged: ofJob(state.sourceChanges(state.runId ?? undefined)).map((c) => ({ package: c.package, version: c.version, migratedSha512: c.sha512 ?? '', detail: c.detail ?? '' })),
    removedAtSource: ofJob(state.sourceRemovals(state.runId ?? undefined)).map((c) => ({ package: c.package, version: c.version, state: c.state, detail: c.detail ?? '' })),
    tagMoved,
    goSum,
    ...(hardening ? { hardening } : {}),
    skipped: listed("state = 'skipped'").map((r) => ({ package: r.package, version: r.version, reason: r.last_error ?? '' })),
    // set aside by a skip or a filter after a publish of ours began: not "nothing of it on the target" (a package no longer named too, as status lists them)
    leftOutOnTarget: state.itemsOfSources(active, LEFT_OUT_ON_TARGET).map((r) => ({ package: r.package, version: r.version, state: r.state, attempts: r.attempts })),
    // a warning: the bytes go as they are, and a consumer installing from the target cannot resolve these
    unresolvableDeps: listed("json_array_length(facts, '$.unresolvable') > 0 AND state NOT IN ('excluded', 'skipped', 'removed')")
      .map((r) => ({ package: r.package, version: r.version, dependencies: summaryDependencies(r.facts) }))
      .filter((u) => u.dependencies.length > 0),
    // fetched, but their dependencies never read (an earlier release fetched them, and their files are gone from the blob store): not clean, unknown
    unresolvableUnchecked: state.uncheckedForDeps(active).filter((r) => !out.has(r.id)).length,
    removedPartlyOnTarget: listed("state = 'fetched' AND removed_at IS NOT NULL AND attempts > 0").map((r) => ({ package: r.package, version: r.version })),
    metadataOutOfSync: [...metadataOutOfSync].sort((a, b) => a.package.localeCompare(b.package) || a.reason.localeCompare(b.reason)),
    ...figures,
    notInJob,
    peakRssBytes: peakRss(),
    // an interrupted run exits 130 (cli/main.ts): the summary says the same number
    exitCode: interruptedRun ? 130 : dryRun ? (failures.length + conflicts.length + listErrors.length + tagMovedInJob > 0 || goSumBad ? 1 : 0) : ok ? 0 : 1,
  };
}
