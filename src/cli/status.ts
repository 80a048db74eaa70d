/** `status JOB`: what the state database says, without touching any source or target. */
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { loadJob } from '../config/load.js';
import type { RunSummary } from '../engine/events.js';
import { jobNamesPackage, notAskedBy, splitByAsked } from '../engine/job-edits.js';
import { goTagPatternMismatches } from '../sources/git.js';
import { LEFT_OUT_NOTE, LEFT_OUT_ON_TARGET, StateDb } from '../state/db.js';
import { existingState, jobInProgress } from '../state/lock.js';
import { describeTarget, targetDifferences, targetOf, type TargetIdentity } from '../state/target.js';
import { ITEM_STATES } from '../types.js';
import { goTagPatternLine, notInJobLeft, print, printEntries, reportError, wantsJson, type Io } from './output.js';

export interface StatusReport {
  job: string;
  database: string;
  states: Record<string, number>;
  total: number;
  failures: { package: string; version: string; code: string | null; error: string | null; attempts: number }[];
  conflicts: { package: string; version: string; ourSha512: string | null; targetSha512: string | null }[];
  listErrors: { source: string; package: string; code: string | null; error: string | null }[];
  metadataPending: string[];
  /** Migrated versions whose source later declared other bytes (every run). */
  sourceChanged: { package: string; version: string; migratedSha512: string | null; detail: string | null; at: string }[];
  /** git tags that moved to another commit after they were first listed (every run). */
  tagMoved: { package: string; version: string; state: string; detail: string | null; at: string }[];
  /** Versions left out on purpose, with the reason. */
  skipped: { package: string; version: string; reason: string | null }[];
  /** Versions left out (skipped, excluded) that a run of ours started publishing: the target may hold some of their files. */
  leftOutOnTarget: { package: string; version: string; state: string; attempts: number }[];
  /** Versions their source no longer lists, with the state each is in (on the target, or set aside). */
  removedAtSource: { package: string; version: string; state: string; detail: string | null; at: string }[];
  /**
   * What the job file no longer asks for, per package, as the next run will take it (none of it is
   * counted in `states`, `total`, `failures`, `conflicts` or the exit code): `why` is `not-named` for a
   * package no longer in an npm source's `packages`/`scopes` (every version of it), `filters` for
   * versions the filters now leave out that are not yet recorded as left out (versions already
   * `excluded`, `skipped` or `removed` are counted as they stand). `onTarget` counts those on the target
   * (they stay there), `versions` those never migrated, `publishBegun` those a run of ours started
   * publishing (the target may hold part of them), `unsettled` publishes cut off and not yet settled.
   */
  notInJob: { source: string; package: string; why: 'not-named' | 'filters'; onTarget: number; versions: string[]; publishBegun: string[]; unsettled: string[] }[];
  /** Versions of sources the job no longer enables (or names): left out of everything above, as run and report leave them out. */
  otherSources: { source: string; versions: number }[];
  /**
   * `error`: what ended it, when an error did (stopped-by-error, target-unusable); `running`: the
   * process running it now (the lock's owner, which took the lock before it started the run).
   */
  lastRun?: { id: number; startedAt: string; endedAt: string | null; dryRun: boolean; outcome: string | null; error?: string; running?: InProgress };
  /** What holds the job from this state directory now (its lock's owner), when one does: a run, or a warm, harden, plan or rewrite. */
  inProgress?: InProgress;
  /** The target the state records its work in (what `verified` means here); absent before a run read one. */
  target?: TargetIdentity;
  /**
   * How the job file's target differs from `target` (edited since the last run): the versions counted are in
   * `target`, none of them in the one the job names now; run, plan and report refuse (ETARGETCHANGED) until --retarget.
   */
  targetChanged?: string[];
  /** Go sources of the job whose tags are not the ones go reads (a warning, as in run's summary and the plan). */
  goTagPatterns: RunSummary['goTagPatterns'];
  /** The rate each quota bucket ran at in the last run that recorded them, and where it came from. */
  rates?: Record<string, { rate: number; source: string; quota?: number; latencyMs?: number }>;
}

export function readStatus(jobFile: string, stateDir = 'state'): StatusReport {
  const job = loadJob(jobFile);
  const database = existingState(job, stateDir, `run it first: codeartifact-migrate run ${jobFile}`);
  const state = StateDb.openToRead(database);
  try {
    const enabled = job.config.sources.filter((s) => s.enabled).map((s) => s.id);
    const report: StatusReport = { ...state.snapshot(() => statusOf(job.name, database, state, enabled, job.config)), goTagPatterns: goTagPatternMismatches(job.config.sources) };
    // the job file's target edited since the last run: what is counted above is not in it
    const changed = report.target ? targetDifferences(report.target, targetOf(job.config.target)) : [];
    if (changed.length > 0) report.targetChanged = changed;
    const holder = jobInProgress(dirname(database), job.name);
    if (holder) report.inProgress = holder;
    // a run with no outcome yet is running, or was killed: the lock's owner tells which. Only a
    // holder that took the lock before the run started is running it: one that came after (a warm
    // or a harden, or the next run not yet at its start, beside a run killed -9) is not that run
    if (holder && report.lastRun && report.lastRun.outcome === null && isRunOf(holder, report.lastRun.startedAt)) report.lastRun = { ...report.lastRun, running: holder };
    return report;
  } finally {
    state.close();
  }
}

type InProgress = NonNullable<ReturnType<typeof jobInProgress>>;

/** Whether the lock's holder is the run that started at `runStartedAt`: a command that records runs (or an older release's, which named none), holding the lock since before it. */
function isRunOf(holder: InProgress, runStartedAt: string): boolean {
  if (holder.command !== undefined && holder.command !== 'run' && holder.command !== 'plan') return false;
  const took = Date.parse(holder.startedAt);
  const started = Date.parse(runStartedAt);
  // on another host (a shared folder) the two clocks differ: its start cannot be compared with ours
  return holder.host !== hostname() || !Number.isFinite(took) || !Number.isFinite(started) || took <= started;
}

/**
 * What the state says of the job's enabled sources (`active`): a source switched off is no longer the job's, as in
 * run's summary and the report. Of those, only the versions the job file asks for now are counted and listed: a
 * package it no longer names, or versions its filters now leave out, go to `notInJob` (the next run sets them aside).
 */
function statusOf(name: string, database: string, state: StateDb, active: string[], config: Parameters<typeof notAskedBy>[0]): Omit<StatusReport, 'goTagPatterns'> {
  const configOf = new Map(config.sources.map((c) => [c.id, c]));
  const named = (source: string, pkg: string) => jobNamesPackage(configOf.get(source)!, pkg);
  const notAsked = notAskedBy(config);
  // as the next run takes it: a package not named is set aside whole; versions the filters leave out, unless already left out
  const { counts, out: outIds, notAskedPackages } = splitByAsked(state, active, notAsked);
  const notInJob = notAskedPackages.map(({ never, ...d }) => ({ ...d, versions: never }));
  const inJob = <T extends { id: number }>(rows: T[]) => rows.filter((r) => !outIds.has(r.id));
  const states = Object.fromEntries(ITEM_STATES.map((s) => [s, counts[s] ?? 0]));
  const failed = inJob(state.itemsOfSources(active, "state = 'failed'"));
  const conflicts = inJob(state.itemsOfSources(active, "state = 'conflict'"));
  // a package the job no longer names has no listing or metadata of the job's (the next run drops its package row)
  const pkgs = state.packages().filter((p) => active.includes(p.source_id) && named(p.source_id, p.package));
  const run = state.lastRun();
  const target = state.recordedTarget();
  // what happened to a switched-off source's versions (a moved tag, a republish), or to versions the job no longer asks for, is no more the job's than they are
  const ofJob = <T extends { source: string; package: string; version: string; state: string }>(rows: T[]) => rows.filter((r) => active.includes(r.source) && notAsked({ source_id: r.source, package: r.package, version: r.version, state: r.state }) === undefined);
  return {
    job: name,
    database,
    states,
    total: Object.values(counts).reduce((a, b) => a + b, 0),
    failures: failed.map((r) => ({ package: r.package, version: r.version, code: r.last_error_code, error: r.last_error, attempts: r.attempts })),
    conflicts: conflicts.map((r) => ({ package: r.package, version: r.version, ourSha512: state.ourConflictSha512(r), targetSha512: r.target_sha512 })),
    listErrors: pkgs.filter((p) => p.list_error_code).map((p) => ({ source: p.source_id, package: p.package, code: p.list_error_code, error: p.list_error })),
    metadataPending: pkgs.filter((p) => p.meta_state !== 'done' && !p.list_error_code).map((p) => p.package),
    sourceChanged: ofJob(state.sourceChanges()).map((c) => ({ package: c.package, version: c.version, migratedSha512: c.sha512, detail: c.detail, at: c.at })),
    removedAtSource: ofJob(state.sourceRemovals()).map(({ source: _, ...r }) => r),
    notInJob,
    otherSources: state
      .recordedSourceIds()
      .filter((id) => !active.includes(id))
      .sort()
      .map((id) => ({ source: id, versions: Object.values(state.stateCounts([id])).reduce((a, b) => a + b, 0) })),
    tagMoved: ofJob(state.tagMoves()).map(({ source: _, ...t }) => t),
    skipped: inJob(state.itemsOfSources(active, "state = 'skipped'")).map((r) => ({ package: r.package, version: r.version, reason: r.last_error })),
    // every version left out that a run of ours started publishing, a package no longer named too (its `publishBegun`)
    leftOutOnTarget: state.itemsOfSources(active, LEFT_OUT_ON_TARGET).map((r) => ({ package: r.package, version: r.version, state: r.state, attempts: r.attempts })),
    lastRun: run && { id: run.id, startedAt: run.started_at, endedAt: run.ended_at, dryRun: run.dry_run === 1, outcome: run.outcome, ...errorOf(run.summary) },
    ...(target ? { target } : {}),
    ...lastRates(state),
  };
}

/**
 * The rates of the latest run that read them. A run with nothing to do (a rerun after completion,
 * a plan --no-target) reads no quotas and sends nothing: it is passed over (its summary says which
 * run's rates it repeats); when no run read any, the latest run's are said.
 */
function lastRates(state: StateDb): { rates?: StatusReport['rates'] } {
  const read = state.lastReadRates();
  if (read) return { rates: read.rates as StatusReport['rates'] };
  try {
    const row = state.db.prepare("SELECT json_extract(summary, '$.rates') AS rates FROM runs WHERE json_valid(summary) AND json_type(summary, '$.rates') = 'object' ORDER BY id DESC LIMIT 1").get() as { rates: string } | undefined;
    return row ? { rates: JSON.parse(row.rates) as StatusReport['rates'] } : {};
  } catch {
    return {}; // a summary that does not parse says nothing of the rates
  }
}

export function statusCommand(jobFile: string, opts: { json?: boolean; stateDir?: string }, io: Io): number {
  const json = wantsJson(opts.json, io);
  try {
    const report = readStatus(jobFile, opts.stateDir);
    if (json) print(io.stdout, `${JSON.stringify(report, null, 2)}\n`);
    else {
      const lines = [`${report.job}: ${report.total} versions known (${report.database})`];
      for (const [s, n] of Object.entries(report.states)) if (n) lines.push(`  ${s.padEnd(18)} ${n}`);
      if (report.rates) lines.push(`rates: ${Object.entries(report.rates).map(([b, r]) => `${b} ${r.rate}/s (${r.source}${r.quota !== undefined ? `, of a quota of ${r.quota}/s: one token carries no more` : ''})`).join(', ')}`);
      if (report.target) lines.push(`target: ${describeTarget(report.target)}`);
      if (report.targetChanged) lines.push(`  WARNING the job now names ${report.targetChanged.join(', ')}: the versions counted here are in the target above, none of them in the new one; run, plan and report refuse (ETARGETCHANGED) until run with --retarget (or the target is put back in the job file)`);
      const running = report.lastRun?.running;
      const unfinished = running ? `running now (${running.command ? `\`${running.command}\`, ` : ''}pid ${running.pid} on ${running.host})` : 'did not finish (killed?)';
      if (report.lastRun) lines.push(`last run #${report.lastRun.id}${report.lastRun.dryRun ? ' (dry run)' : ''}: ${report.lastRun.outcome ?? unfinished}, started ${report.lastRun.startedAt}`);
      const now = report.inProgress;
      if (now && !running) lines.push(`in progress now: ${now.command ? `a \`${now.command}\`` : 'another command'} of this job (pid ${now.pid} on ${now.host}, started ${now.startedAt})`);
      if (report.lastRun?.error) lines.push(`  stopped by ${report.lastRun.error}`);
      for (const f of report.failures) lines.push(`  FAILED ${f.package}@${f.version} after ${f.attempts} attempt(s): ${f.error}`);
      for (const c of report.conflicts) lines.push(`  CONFLICT ${c.package}@${c.version}: ours sha512 ${c.ourSha512}, target sha512 ${c.targetSha512}`);
      for (const l of report.listErrors) lines.push(`  NOT LISTED ${l.package} (${l.source}): ${l.error}`);
      for (const c of report.sourceChanged) lines.push(`  WARNING ${c.package}@${c.version} changed at the source after it was migrated (${c.at}): ${c.detail}`);
      for (const r of report.removedAtSource) lines.push(`  REMOVED AT SOURCE ${r.package}@${r.version} (${r.state}, ${r.at}): ${r.detail}`);
      for (const t of report.tagMoved) lines.push(`  TAG MOVED ${t.package}@${t.version} (${t.state}, ${t.at}): ${t.detail}`);
      for (const g of report.goTagPatterns) lines.push(goTagPatternLine(g));
      for (const k of report.skipped) lines.push(`  skipped ${k.package}@${k.version}: ${k.reason}`);
      for (const k of report.leftOutOnTarget) lines.push(`  LEFT OUT, ON THE TARGET ${k.package}@${k.version} (${k.state}): ${LEFT_OUT_NOTE}`);
      // as run's summary words them: what the job file no longer asks for, set aside by the next run
      for (const d of report.notInJob) {
        const left = [d.onTarget ? `${d.onTarget} version(s) on the target` : '', ...notInJobLeft(d.versions, d.publishBegun, d.unsettled)].filter(Boolean);
        lines.push(`  ${d.why === 'filters' ? 'LEFT OUT BY THE FILTERS' : 'NO LONGER IN THE JOB'} ${d.package} (${d.source}): ${left.join('; ')}`);
      }
      for (const o of report.otherSources) lines.push(`  left out: ${o.versions} version(s) of source "${o.source}", which the job no longer enables`);
      if (report.metadataPending.length) lines.push(`  dist-tags/deprecations still to sync: ${report.metadataPending.join(', ')}`);
      printEntries(io.stdout, lines);
    }
    return report.failures.length + report.conflicts.length + report.listErrors.length > 0 ? 1 : 0;
  } catch (e) {
    return reportError(e, io, json);
  }
}

/** The error a run's summary records, if one ended it. */
function errorOf(summary: string | null): { error?: string } {
  try {
    const error = (JSON.parse(summary ?? 'null') as { error?: unknown } | null)?.error;
    return typeof error === 'string' ? { error } : {};
  } catch {
    return {};
  }
}
