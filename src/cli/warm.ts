/**
 * `warm JOB`: request every public package version the job's lockfiles pin
 * through its `*-store` repository, check the bytes against the lockfile, and
 * report what could not be cached. Internal names are never requested through
 * a store; the warm refuses to start (exit 2) while one lacks its origin
 * configuration. Exit 1 on an integrity mismatch, a lockfile that does not
 * parse, or a request that failed; 130 when interrupted.
 */
import cliProgress from 'cli-progress';
import { loadJob, type LoadedJob } from '../config/load.js';
import { MigrateError } from '../errors.js';
import { forOutput } from '../redact.js';
import { warmJob, type WarmOptions, type WarmProgress } from '../warm/engine.js';
import type { WarmSummary } from '../warm/summary.js';
import { COMPANY_PRIVATE } from '../warm/public-check.js';
import { print, printEntries, progressLines, reportError, wantsJson, type Io, type Progress } from './output.js';

export interface WarmCommandOptions extends Omit<WarmOptions, 'job' | 'onProgress'> {
  json?: boolean;
  quiet?: boolean;
  onJobLoaded?: (job: LoadedJob) => void;
}

export async function warmCommand(jobFile: string, opts: WarmCommandOptions, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  const progress = warmProgress(io, opts.quiet ?? false);
  try {
    const job = loadJob(jobFile);
    opts.onJobLoaded?.(job);
    const summary = await warmJob({ ...opts, job, onProgress: progress.onProgress });
    progress.stop();
    if (json) print(io.stdout, `${JSON.stringify(summary, null, 2)}\n`);
    else printEntries(io.stdout, humanSummary(summary));
    return summary.exitCode;
  } catch (e) {
    progress.stop();
    const code = reportError(e, io, json);
    // an unprotected internal name is a setup problem: fix it (cam harden) and warm again
    return e instanceof MigrateError && e.code === 'EUNPROTECTED' ? 2 : code;
  }
}

const ORDER = ['warmed', 'already-cached', 'non-registry', 'internal-present', 'no-store', 'pending', 'blocked', 'missing-upstream', 'internal-missing', 'integrity-mismatch', 'failed', 'undecided'] as const;

/** One entry per line: a detail is what a store or a lockfile said, and may hold line breaks. */
function humanSummary(s: WarmSummary): string[] {
  const lines: string[] = [];
  const counts = ORDER.filter((o) => s.outcomes[o]).map((o) => `${o} ${s.outcomes[o]}`);
  lines.push(`Warm of ${s.job}${s.interrupted ? ' (interrupted)' : ''}: ${counts.join(', ') || 'nothing to warm'}`);
  if (s.retargeted) lines.push(`  moved from ${s.retargeted.from} to the job's target: ${s.retargeted.warmEntries} entries decided again`);
  for (const l of s.lockfiles) {
    const c = ORDER.filter((o) => l.counts[o]).map((o) => `${o} ${l.counts[o]}`);
    lines.push(`  ${l.path} (${l.format}, ${l.entries} ${l.entries === 1 ? 'entry' : 'entries'}): ${c.join(', ') || 'nothing'}`);
  }
  for (const e of s.lockfileErrors) lines.push(`  ERROR ${e.path}${e.line ? `:${e.line}` : ''}: ${e.message}`);
  // lines a parser left out are not warmed: say so, or the counts read as complete
  const notes = s.lockfiles.flatMap((l) => l.notes ?? []);
  for (const n of notes.slice(0, 20)) lines.push(`  note ${n.file}${n.line ? `:${n.line}` : ''}: ${n.message}`);
  if (notes.length > 20) lines.push(`  … ${notes.length - 20} more note(s) (--json lists them)`);
  // critical first: bytes that differ from what a lockfile pins
  const problems = s.problems.filter((p) => p.outcome !== 'pending').sort((a, b) => Number(b.outcome === 'integrity-mismatch') - Number(a.outcome === 'integrity-mismatch'));
  for (const p of problems.slice(0, 50)) lines.push(`  ${p.outcome === 'integrity-mismatch' ? 'CRITICAL ' : ''}${p.outcome} ${p.ecosystem} ${p.name}@${p.version}: ${p.detail}`);
  if (problems.length > 50) lines.push(`  … ${problems.length - 50} more (--json lists them all)`);
  if (s.outcomes.pending) lines.push(`  ${s.outcomes.pending} requested and checked but not yet listed by the store: warm again later`);
  if (s.unchecked.count) lines.push(`  ${s.unchecked.count} warmed without a check of their bytes: ${Object.entries(s.unchecked.reasons).map(([r, n]) => `${n} × ${r}`).join('; ')}`);
  const sent = Object.entries(s.requests).map(([b, n]) => `${b} ${n}`).join(', ');
  lines.push(`  ${(s.durationMs / 1000).toFixed(1)} s; requests per quota: ${sent || 'none'}; ${s.throttles} throttle(s)${s.publicLookups ? `; ${s.publicLookups} package(s) asked of the public registry (resolved from a job source's host)` : ''}`);
  const companyOnly = s.nonRegistry.filter((n) => n.kind === 'private' && n.detail.includes(COMPANY_PRIVATE)).length;
  if (companyOnly) lines.push(`  ${companyOnly} entr${companyOnly === 1 ? 'y' : 'ies'} resolved from a job source's registry are not the public package of that name: listed as private, never requested (add them to the job to migrate them; --json names them)`);
  if (s.quotaNote) lines.push(`  note: ${s.quotaNote}`);
  return lines;
}

/** A bar on a terminal, one plain line per item otherwise (stderr). */
function warmProgress(io: Io, quiet: boolean): Progress<WarmProgress> {
  if (quiet) return { onProgress: () => {}, stop: () => {} };
  if (io.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({ stream: io.stderr, format: '{bar} {value}/{total} entries | {last}', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
    let done = 0;
    return {
      onProgress: (e) => {
        if (e.type === 'collected') bar.start(e.toDo, 0, { last: `${e.lockfiles} lockfile(s), ${e.items} entries` });
        else if (e.type === 'item') bar.update(++done, { last: forOutput(`${e.outcome} ${e.name}@${e.version}`).replace(/\n/g, ' ') });
        else if (e.type === 'interrupting') bar.update(done, { last: 'stopping after in-flight requests (Ctrl-C again to quit at once)' });
      },
      stop: () => bar.stop(),
    };
  }
  return progressLines(io, plainLine);
}

function plainLine(e: WarmProgress): string | undefined {
  switch (e.type) {
    case 'repository':
      return `reading lockfiles of ${e.label}`;
    case 'collected':
      return `${e.lockfiles} lockfile(s) read${e.errors ? `, ${e.errors} error(s)` : ''}: ${e.items} entries, ${e.toDo} to look at`;
    case 'item':
      return `${e.outcome} ${e.ecosystem} ${e.name}@${e.version}${e.detail && e.outcome !== 'warmed' && e.outcome !== 'already-cached' ? ` — ${e.detail}` : ''}`;
    case 'retry':
      return `retry ${e.attempt} for ${e.subject} after ${e.code}, waiting ${Math.round(e.waitMs)} ms`;
    case 'interrupting':
      return `interrupted: finishing in-flight requests for at most ${Math.round(e.graceMs / 1000)} s (Ctrl-C again to quit at once)`;
    default: {
      const never: never = e;
      return String(never);
    }
  }
}
