/** `run JOB`: migrate (or, with --dry-run, everything but the target writes). */
import { loadJob, type LoadedJob } from '../config/load.js';
import { runJob } from '../engine/run.js';
import type { RunSummary } from '../engine/events.js';
import { LEFT_OUT_NOTE } from '../state/db.js';
import { continued, goTagPatternLine, notInJobLeft, print, progressRenderer, reportError, wantsJson, type Io } from './output.js';

export interface RunCommandOptions {
  dryRun?: boolean;
  retarget?: boolean;
  json?: boolean;
  stateDir?: string;
  concurrency?: number;
  quiet?: boolean;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Told the job once it is loaded (the CLI sizes its Ctrl-C backstop from it). */
  onJobLoaded?: (job: LoadedJob) => void;
}

export async function runCommand(jobFile: string, opts: RunCommandOptions, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  const progress = progressRenderer(io, opts.quiet ?? false);
  try {
    const job = loadJob(jobFile);
    opts.onJobLoaded?.(job);
    const summary = await runJob({
      job,
      dryRun: opts.dryRun,
      retarget: opts.retarget,
      stateDir: opts.stateDir,
      concurrency: opts.concurrency,
      signal: opts.signal,
      env: opts.env,
      onProgress: progress.onProgress,
    });
    progress.stop();
    if (json) print(io.stdout, `${JSON.stringify(summary, null, 2)}\n`);
    else print(io.stdout, humanSummary(summary));
    return summary.exitCode;
  } catch (e) {
    progress.stop();
    return reportError(e, io, json);
  }
}

export function humanSummary(s: RunSummary): string {
  const lines: string[] = [];
  const head = s.dryRun ? 'Dry run (nothing written to CodeArtifact)' : s.interrupted ? 'Interrupted: rerun to continue' : 'Run finished';
  lines.push(`${head}: ${s.complete}/${s.selected} selected versions are on the target (${(s.durationMs / 1000).toFixed(1)} s)`);
  if (s.retargeted) lines.push(`  moved from ${s.retargeted.from} to the job's target: ${s.retargeted.versions} versions checked again`);
  const outcomes = Object.entries(s.outcomes).map(([k, v]) => `${k} ${v}`);
  if (outcomes.length) lines.push(`  this run: ${outcomes.join(', ')}`);
  // one line each: a build's log tail is in `status --json` and the state, not on the terminal
  for (const f of s.failures) lines.push(`  FAILED ${f.package}@${f.version}: ${oneLine(f.message)}`);
  for (const c of s.conflicts) lines.push(c.code === 'ECONFLICT' ? `  CONFLICT ${c.package}@${c.version}: ours sha512 ${c.ourSha512}, target sha512 ${c.targetSha512}` : `  CONFLICT ${c.package}@${c.version}: ${c.message}`);
  for (const t of s.tagMoved.filter((m) => m.state !== 'conflict')) lines.push(`  TAG MOVED ${t.package}@${t.version} (${t.state}): ${t.detail}`);
  for (const m of s.goSum.mismatches) lines.push(`  CRITICAL go.sum ${m.file}:${m.line} says ${m.module} ${m.version}${m.kind === 'go.mod' ? '/go.mod' : ''} ${m.goSum}, the migrated module hashes ${m.built}`);
  for (const e of s.goSum.errors) lines.push(`  go.sum not read: ${e.message}`);
  // they make the run exit 1: said here, not only in --json
  for (const e of s.hardening?.errors ?? []) lines.push(`  ORIGIN CONTROLS NOT SET ${e.package} (${e.format}): ${oneLine(e.message)}`);
  if (s.goSum.files) lines.push(`  go.sum: ${s.goSum.checked} lines checked in ${s.goSum.files} files, ${s.goSum.mismatches.length} differ`);
  if (s.skipped.length) lines.push(`  skipped: ${s.skipped.map((k) => `${k.package}@${k.version} (${k.reason})`).join(', ')}`);
  for (const k of s.leftOutOnTarget ?? []) lines.push(`  LEFT OUT, ON THE TARGET ${k.package}@${k.version} (${k.state}): ${LEFT_OUT_NOTE}`);
  for (const l of s.listErrors) lines.push(`  NOT LISTED ${l.package} (${l.source}): ${l.message}`);
  for (const f of s.unmatchedFilters ?? []) lines.push(`  WARNING filters.${f.kind} ${JSON.stringify(f.entry)} matches no version of the job's sources${f.kind === 'exclude' ? ' (a typo lets through what it meant to keep out)' : ''}`);
  for (const g of s.goTagPatterns ?? []) lines.push(goTagPatternLine(g));
  for (const u of s.unresolvableDeps ?? []) {
    lines.push(`  WARNING ${u.package}@${u.version} depends on what a consumer installing from CodeArtifact cannot resolve there (EUNRESOLVABLEDEP): ${oneLine(u.dependencies.join('; '))}`);
  }
  if (s.unresolvableUnchecked) lines.push(`  WARNING ${s.unresolvableUnchecked} version(s) fetched by an earlier release not checked for dependencies a consumer installing from CodeArtifact cannot resolve (EUNRESOLVABLEDEP): their files are no longer in the blob store`);
  for (const o of s.otherJobs ?? []) {
    const packages = `${o.packages.slice(0, 3).join(', ')}${o.packages.length > 3 ? ` and ${o.packages.length - 3} more` : ''}`;
    lines.push(
      `  WARNING ${o.database} (job "${o.job}") records ${o.versions} version(s) of ${packages} from this job's sources on this target: if this job was "${o.job}" renamed, put name: ${o.job} back (its state and ledger go on there; here versions it published count as found on the target); two jobs over the same packages keep two histories`,
    );
  }
  for (const m of s.metadata) lines.push(`  metadata ${m.package}: ${m.error ?? m.changes.join(', ')}`);
  for (const c of s.sourceChanged) lines.push(`  WARNING ${c.package}@${c.version} changed at the source after it was migrated: ${c.detail} (migrated sha512 ${c.migratedSha512})`);
  for (const r of s.removedAtSource) lines.push(`  REMOVED AT SOURCE ${r.package}@${r.version} (${r.state}): ${r.detail}`);
  for (const r of s.removedPartlyOnTarget ?? []) lines.push(`  REMOVED AT SOURCE, PART ON THE TARGET ${r.package}@${r.version}: a run of ours began publishing it before its source dropped it, and no run publishes the rest; delete the version on the target (aws codeartifact delete-package-versions) to leave nothing of it`);
  for (const d of s.notInJob ?? []) {
    const left = notInJobLeft(d.notMigrated, d.publishBegun, d.unsettled);
    if (left.length) lines.push(`  ${d.why === 'filters' ? 'LEFT OUT BY THE FILTERS' : 'NO LONGER IN THE JOB'} ${d.package} (${d.source}): ${left.join('; ')}; ${d.onTarget} on the target, left as they are`);
  }
  // as status says them: what is on the target of what the job no longer asks for is not counted above
  const whole = (why: 'not-named' | 'filters') => (s.notInJob ?? []).filter((d) => (d.why ?? 'not-named') === why && d.notMigrated.length + d.publishBegun.length + d.unsettled.length === 0);
  const onTarget = (ds: RunSummary['notInJob']) => ds.reduce((n, d) => n + d.onTarget, 0);
  const named = whole('not-named');
  if (named.length) lines.push(`  no longer in the job: ${named.length} package(s) with nothing left unfinished (${onTarget(named)} version(s) on the target, left as they are, not counted above)`);
  const filtered = whole('filters');
  if (filtered.length) lines.push(`  left out by the filters: ${onTarget(filtered)} version(s) on the target of ${filtered.length} package(s), left as they are, not counted above`);
  for (const m of s.metadataOutOfSync) lines.push(`  NOT IN SYNC ${m.package}: ${m.reason}`);
  if (s.weakIntegrity.length) lines.push(`  weak integrity (sha1 only at the source): ${s.weakIntegrity.map((w) => `${w.package}@${w.version}`).join(', ')}`);
  return `${lines.map(continued).join('\n')}\n`;
}

function oneLine(text: string, max = 400): string {
  const flat = text.replace(/\s*\n\s*/g, ' | ');
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
