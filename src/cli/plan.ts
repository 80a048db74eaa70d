/**
 * `plan JOB`: everything a run does except writing to CodeArtifact — enforced
 * by a read-only target, not by care — plus the preflight audit and the
 * dependency-confusion exposure, written as a report in three forms (JSON,
 * Markdown, one self-contained HTML file) for the people who sign off.
 * `report JOB` writes the same report for a finished or partial run.
 */
import { dirname, join, resolve } from 'node:path';
import { loadJob, type LoadedJob } from '../config/load.js';
import { exposure, preflightAudit } from '../engine/audit.js';
import type { RunSummary } from '../engine/events.js';
import { runJob } from '../engine/run.js';
import { Limiter } from '../engine/limiter.js';
import { buildReport, type JobFileId, type Report } from '../report/model.js';
import { exposureSchema, preflightSchema, type ExposureInput, type HardeningInput, type PreflightInput } from '../report/schema.js';
import { parseSummary, reportInputFromState } from '../report/from-state.js';
import { renderJsonParts } from '../report/render-json.js';
import { auditFromText } from '../report/text.js';
import { prepareReportDir, writeReportFiles } from '../report/write.js';
import { StateDb } from '../state/db.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { createTarget } from '../targets/index.js';
import type { Format } from '../types.js';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { print, printEntries, progressRenderer, reportError, wantsJson, type Io } from './output.js';
import { MigrateError } from '../errors.js';
import { acquireJobLock, existingState, jobInProgress } from '../state/lock.js';
import { shellWord } from '../shell-word.js';
import { checkTarget, targetOf } from '../state/target.js';
import { warmSectionFromState } from '../warm/summary.js';

export interface PlanOptions {
  json?: boolean;
  stateDir?: string;
  /** Where the report files go (default <stateDir>/reports). */
  out?: string;
  noDownload?: boolean;
  noTarget?: boolean;
  /** The job names another target than the state records: move the state to it. */
  retarget?: boolean;
  quiet?: boolean;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  codeartifactClient?: CodeartifactClient;
  onJobLoaded?: (job: LoadedJob) => void;
}

/** The report's JSON on stdout, part by part: a big report's is more than one string can hold. */
function printJson(io: Io, report: Report): void {
  for (const part of renderJsonParts(report)) print(io.stdout, part);
  print(io.stdout, '\n');
}

export interface WrittenReport {
  report: Report;
  files: { json: string; markdown: string; html: string };
}

export async function planCommand(jobFile: string, opts: PlanOptions, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  const progress = progressRenderer(io, opts.quiet ?? false);
  try {
    const job = loadJob(jobFile);
    opts.onJobLoaded?.(job);
    const written = await plan(job, { ...opts, onProgress: progress.onProgress });
    progress.stop();
    if (json) printJson(io, written.report);
    else printEntries(io.stdout, humanVerdict(written));
    return written.report.verdict.status === 'no-go' ? 1 : 0;
  } catch (e) {
    progress.stop();
    return reportError(e, io, json);
  }
}

/** The plan as a function: run read-only, audit, write the report files. */
export async function plan(job: LoadedJob, opts: PlanOptions & { onProgress?: Parameters<typeof runJob>[0]['onProgress'] }): Promise<WrittenReport> {
  // --retarget binds the state to the new target only once CodeArtifact has confirmed its
  // repositories exist (a typo is ETARGETSETUP, nothing moved); --no-target asks it nothing, so
  // together the state moved, unchecked, to whatever the job file names
  if (opts.retarget && opts.noTarget) {
    throw new MigrateError('ECONFIG', `--retarget with --no-target: the state of ${job.file} moves to the new target only after CodeArtifact confirms its repositories exist, and --no-target asks CodeArtifact nothing`, {
      hint: 'plan with --retarget and AWS access (without --no-target), or plan --no-target without --retarget once the state has been moved (cam run --retarget)',
    });
  }
  const stateDir = opts.stateDir ?? 'state';
  const env = opts.env ?? process.env;
  // The job's lock from the dry run to the last line of the report: released between them, a
  // `run` started meanwhile moved the rows the report reads, and the plan showed its half-done work.
  const release = acquireJobLock(stateDir, job, env, 'plan');
  try {
    prepareReportDir(opts.out ?? join(stateDir, 'reports'), opts.out !== undefined);
    return await planLocked(job, stateDir, env, opts);
  } finally {
    release();
  }
}

async function planLocked(job: LoadedJob, stateDir: string, env: NodeJS.ProcessEnv, opts: PlanOptions & { onProgress?: Parameters<typeof runJob>[0]['onProgress'] }): Promise<WrittenReport> {
  const summary = await runJob({
    job,
    stateDir,
    env,
    dryRun: true,
    readOnly: true,
    noDownload: opts.noDownload,
    noTarget: opts.noTarget,
    retarget: opts.retarget,
    signal: opts.signal,
    onProgress: opts.onProgress,
    codeartifactClient: opts.codeartifactClient,
    lockHeld: true,
  });
  const state = StateDb.open(join(stateDir, `${job.name}.sqlite`));
  try {
    const packages = internalPackages(state, job);
    let preflight = null;
    let protectedNames = new Set<string>();
    let storeOpenNames = new Map<string, string>();
    // not read without AWS access: no protection is taken as effective, no name as exposed on a guess
    let sharedOrderOk: boolean | undefined;
    const notRead = opts.noTarget ? 'not read (planned without AWS access: --no-target)' : 'not read: the plan was interrupted before the target was audited';
    let uncheckedNames = new Map(packages.map((p) => [`${p.format}:${p.name}`, notRead]));
    // a plan stopped (Ctrl-C) starts nothing new: the target is not audited, and the report says why
    if (!opts.noTarget && !opts.signal?.aborted) {
      // the stop cuts the audit off too (a stuck STS or CodeArtifact would otherwise hold the plan until the backstop)
      const ca = new CodeArtifact(job.config.target, new Limiter(job.config.limits.rates), opts.codeartifactClient, opts.signal);
      ca.readOnly = true;
      try {
        const audit = await preflightAudit(ca, job.config, (f) => createTarget(f, ca, job.config.target.repositories[f]?.internal ?? ''), packages, env, opts.signal);
        // an audit the stop cut off is not the target's answer: its checks would read as failures (the principal unknown, ...)
        if (!opts.signal?.aborted) {
          preflight = audit.preflight;
          protectedNames = audit.protectedNames;
          sharedOrderOk = audit.sharedOrderOk;
          uncheckedNames = audit.uncheckedNames;
          storeOpenNames = audit.storeOpenNames;
        }
      } finally {
        if (!opts.codeartifactClient) ca.client.destroy();
      }
    }
    const exposed = await exposure(job.config, packages, protectedNames, sharedOrderOk, opts.signal, { uncheckedNames, storeOpenNames, env });
    // kept with the dry run: `report` of this plan says what it found, not a verdict without it
    const dryRun = state.lastRun();
    // with the job file and the repositories it was made for: a later run's report tells whether it still covers them
    if (dryRun?.dry_run === 1) state.addToRunSummary(dryRun.id, { planAudit: { preflight, exposure: exposed, jobFile: jobFileOf(job), target: auditedTarget(job.config.target) } });
    const input = reportInputFromState(state, job, summary, { kind: 'plan', preflight, exposure: exposed, hardening: hardeningSection(summary, job), warm: warmSectionFromState(state) });
    try {
      return write(buildReport(input), job, opts.out ?? join(stateDir, 'reports'), 'plan');
    } catch (e) {
      // the plan itself is done and kept (the dry run's rows, the audit in its summary): after
      // a plan of an hour, "rerun" would download and check every version again for nothing
      if (!(e instanceof MigrateError) || e.code !== 'ELOCAL') throw e;
      throw new MigrateError('ELOCAL', e.message, {
        cause: e.cause ?? e,
        hint: `free space or fix permissions where the reports go, then write this plan's report from the state, without planning again: codeartifact-migrate${opts.stateDir ? ` --state-dir ${shellWord(stateDir)}` : ''} report ${shellWord(job.file)} --out <dir>; no partial report was left behind`,
      });
    }
  } finally {
    state.close();
  }
}

/** `report JOB`: the report of what the state records (the last run, finished or not). */
export async function reportCommand(jobFile: string, opts: { json?: boolean; stateDir?: string; out?: string }, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  try {
    const job = loadJob(jobFile);
    const stateDir = opts.stateDir ?? 'state';
    // a mistyped --state-dir must not leave an empty database behind
    const database = existingState(job, stateDir, `run it (or plan or warm it) first: codeartifact-migrate run ${jobFile}; or pass the --state-dir it ran with`);
    prepareReportDir(opts.out ?? join(stateDir, 'reports'), opts.out !== undefined);
    const state = StateDb.openToRead(database);
    let written: WrittenReport;
    try {
      // read as of one moment (a run may be writing beside it), then rendered and written
      const { report, kind } = state.snapshot(() => {
        // rows recorded against another target than the job names now would be reported as the new one's
        checkTarget(state, targetOf(job.config.target), {});
        const last = state.lastRun();
        const warm = warmSectionFromState(state);
        // a job that only warmed the stores so far is reported too: the warm section, nothing migrated yet
        if (!last && !warm) throw new MigrateError('ESTATE', `no run or warm of job "${job.name}" is recorded in ${database}`, { hint: `run it (or plan or warm it) first: codeartifact-migrate run ${jobFile}` });
        const summary = parseSummary(last?.summary ?? null) as RunSummary | null;
        const kind = last?.dry_run === 1 ? 'plan' : 'run';
        const own = kind === 'plan' ? planAuditOf(summary) : {};
        // a run (or a `run --dry-run`) audits nothing: the latest plan's audit, said to be that plan's, of its date
        const latest = own.preflight || own.exposure || !last ? null : latestPlanAudit(state, last.id, job);
        // one that audited other repositories (a store or shared renamed since) is not theirs: ENOAUDIT says why
        const audit = latest === null ? own : 'notCarried' in latest ? { auditNotCarried: latest.notCarried } : latest;
        // a warm holding the job now is deciding what the warm section finds undecided
        const holder = warm ? jobInProgress(dirname(database), job.name) : undefined;
        const warmRunning = holder?.command === 'warm' ? { pid: holder.pid, host: holder.host, startedAt: holder.startedAt } : undefined;
        return { kind, report: buildReport(reportInputFromState(state, job, summary, { kind, warm, warmRunning, ...audit, ...(summary?.hardening ? { hardening: hardeningSection(summary, job) } : {}) })) };
      });
      written = write(report, job, opts.out ?? join(stateDir, 'reports'), kind);
    } finally {
      state.close();
    }
    if (json) printJson(io, written.report);
    else printEntries(io.stdout, humanVerdict(written));
    return written.report.verdict.status === 'no-go' ? 1 : 0;
  } catch (e) {
    return reportError(e, io, json);
  }
}

/** The domain audit and exposure check a `plan` kept with its dry run (none when `run --dry-run` made it, or --no-target). */
function planAuditOf(summary: RunSummary | null): { preflight?: PreflightInput; exposure?: ExposureInput } {
  const audit = (summary as { planAudit?: { preflight?: unknown; exposure?: unknown } } | null)?.planAudit;
  const preflight = preflightSchema.safeParse(audit?.preflight);
  const exposed = exposureSchema.safeParse(audit?.exposure);
  return { ...(preflight.success ? { preflight: preflight.data } : {}), ...(exposed.success ? { exposure: exposed.data } : {}) };
}

/**
 * The audit the latest plan before run `before` kept with its dry run, with which run made it and
 * when; none when no plan made one, or when a later run moved the state to another target
 * (--retarget): that audit was of a domain the job no longer migrates into.
 */
function latestPlanAudit(state: StateDb, before: number, job: LoadedJob): { preflight?: PreflightInput; exposure?: ExposureInput; auditFrom: { runId: number; at: string; jobFile: JobFileId | null } } | { notCarried: string } | null {
  // newest first; a summary that does not parse (a hand edit) is no audit, the next older one may be
  const rows = state.db.prepare(`SELECT id, started_at, ended_at, summary FROM runs WHERE id < ? ORDER BY id DESC`).iterate(before) as Iterable<{ id: number; started_at: string; ended_at: string | null; summary: string | null }>;
  let moved = (parseSummary(state.db.prepare('SELECT summary FROM runs WHERE id = ?').pluck().get(before) as string | null) as { retargeted?: unknown } | null)?.retargeted !== undefined;
  for (const row of rows) {
    if (moved) return null;
    const summary = parseSummary(row.summary) as (RunSummary & { retargeted?: unknown }) | null;
    const audit = planAuditOf(summary);
    if (audit.preflight || audit.exposure) {
      const at = audit.exposure?.checkedAt ?? audit.preflight?.checkedAt ?? row.ended_at ?? row.started_at;
      const recorded = (summary as { planAudit?: { jobFile?: unknown; target?: unknown } } | null)?.planAudit;
      const other = targetDifference(recorded?.target, auditedTarget(job.config.target));
      if (other) return { notCarried: `the latest plan (#${row.id}) audited ${other}` };
      return { ...audit, auditFrom: { runId: row.id, at, jobFile: jobFileOf(recorded?.jobFile) } };
    }
    // a run that moved the state (--retarget): every plan before it audited the old target; a plan
    // --retarget audits the new one after moving, so its own move counts only for older plans
    moved = summary?.retargeted !== undefined;
  }
  return null;
}

/** The job file as a plan records it with its audit (absolute path, SHA-256): none for a job not read from a file. */
function jobFileOf(job: { file?: unknown; path?: unknown; sha256?: unknown } | unknown): JobFileId | null {
  if (!job || typeof job !== 'object') return null;
  const j = job as { file?: unknown; path?: unknown; sha256?: unknown };
  const path = typeof j.path === 'string' ? j.path : typeof j.file === 'string' ? resolve(j.file) : undefined;
  return path !== undefined && typeof j.sha256 === 'string' && /^[0-9a-f]{64}$/.test(j.sha256) ? { path, sha256: j.sha256 } : null;
}

type AuditedTarget = { region: string; domain: string; domainOwner: string; repositories: Record<string, { internal: string; store: string | null; shared: string | null }> };

/** What a plan's domain audit read: the domain, and every repository of each format (internal, store, shared). */
function auditedTarget(t: LoadedJob['config']['target']): AuditedTarget {
  const repositories: AuditedTarget['repositories'] = {};
  for (const [format, r] of Object.entries(t.repositories)) if (r) repositories[format] = { internal: r.internal, store: r.store ?? null, shared: r.shared ?? null };
  return { region: t.region, domain: t.domain, domainOwner: t.domainOwner, repositories };
}

/**
 * How the target a plan audited (as it recorded it) differs from the one the job names now, in
 * words; undefined when they are the same, or when the plan recorded none (an older release: its
 * job file is not recorded either, which EJOBCHANGED says).
 */
function targetDifference(recorded: unknown, now: AuditedTarget): string | undefined {
  if (!recorded || typeof recorded !== 'object') return undefined;
  const then = recorded as Partial<AuditedTarget>;
  const diffs: string[] = [];
  for (const key of ['region', 'domain', 'domainOwner'] as const) if (then[key] !== now[key]) diffs.push(`${key} ${String(then[key])} (now ${now[key]})`);
  const was = then.repositories && typeof then.repositories === 'object' ? then.repositories : {};
  for (const format of [...new Set([...Object.keys(was), ...Object.keys(now.repositories)])].sort()) {
    const a = was[format];
    const b = now.repositories[format];
    for (const role of ['internal', 'store', 'shared'] as const) {
      const x = a?.[role] ?? null;
      const y = b?.[role] ?? null;
      if (x !== y) diffs.push(`${format} ${role} ${x ?? '(none)'} (now ${y ?? 'none'})`);
    }
  }
  return diffs.length ? `other repositories: ${diffs.join(', ')}` : undefined;
}

/** Every internal package of the job the state knows (one per format and name). */
function internalPackages(state: StateDb, job: LoadedJob): { format: Format; name: string }[] {
  const active = new Set(job.config.sources.filter((s) => s.enabled).map((s) => s.id));
  const seen = new Map<string, { format: Format; name: string }>();
  for (const p of state.packages()) if (active.has(p.source_id) && !p.list_error_code) seen.set(`${p.format}/${p.package}`, { format: p.format, name: p.package });
  return [...seen.values()].sort((a, b) => a.format.localeCompare(b.format) || a.name.localeCompare(b.name));
}

/** A package group's error in HardenResult.errors: its pattern (`/npm/acme/*`) stands where a package name would; no package name starts with `/`. */
const isGroup = (name: string) => name.startsWith('/');

function hardeningSection(summary: RunSummary | null | undefined, job: LoadedJob): HardeningInput | null {
  const h = summary?.hardening;
  if (!h) return null;
  // what a failed change was to set: a store repository's names are blocked both ways (nobody publishes there)
  const stores = new Set(Object.values(job.config.target.repositories).map((r) => r?.store));
  const meant = (repository: string | undefined) => (repository && stores.has(repository) ? { publish: 'BLOCK' as const, upstream: 'BLOCK' as const } : { publish: 'ALLOW' as const, upstream: 'BLOCK' as const });
  // a summary recorded by an older release may lack groups, groupsLeft and kept
  const blocked = 'EXTERNAL_UPSTREAM BLOCK';
  return {
    changes: [
      ...h.changes.map((c) => ({ format: c.format, package: c.package, repository: c.repository, before: c.from === 'absent' ? null : c.from, after: c.to, status: c.applied ? ('done' as const) : ('planned' as const) })),
      ...h.errors.filter((e) => !isGroup(e.package)).map((e) => ({ format: e.format, package: e.package, repository: e.repository ?? '', after: meant(e.repository), status: 'failed' as const, error: e.message, code: e.code ?? null })),
    ],
    groups: [
      ...(h.groups ?? []).map((g) => ({ pattern: g.pattern, status: g.applied ? ('done' as const) : ('planned' as const), before: g.from === 'absent' ? null : g.from, after: blocked })),
      ...h.errors.filter((e) => isGroup(e.package)).map((e) => ({ pattern: e.package, status: 'failed' as const, after: blocked, reason: e.message })),
      ...(h.groupsLeft ?? []).map((g) => ({ pattern: g.pattern, status: 'left' as const, before: g.from ?? null, reason: g.reason })),
    ].sort((a, b) => a.pattern.localeCompare(b.pattern)),
    kept: (h.kept ?? []).map((k) => ({ format: k.format, package: k.package, repository: k.repository, publish: k.publish, reason: k.reason })),
  };
}

function write(report: Report, job: LoadedJob, outDir: string, kind: string): WrittenReport {
  return { report, files: writeReportFiles(report, job.name, outDir, kind) };
}

/** Critical findings the terminal names; the report files hold every one. */
const CRITICAL_SHOWN = 20;

function humanVerdict(w: WrittenReport): string[] {
  const r = w.report;
  const lines = [`${r.kind === 'plan' ? 'Plan' : 'Report'} for ${r.job.name}: ${r.verdict.status.toUpperCase()} — ${r.verdict.headline}`];
  const outcomes = Object.entries(r.totals.byOutcome).map(([k, v]) => `${k} ${(v as { versions?: number }).versions ?? v}`);
  if (outcomes.length) lines.push(`  versions: ${outcomes.join(', ')}`);
  if (r.auditFrom) lines.push(`  domain audit: from plan #${r.auditFrom.runId}${auditFromText(r.auditFrom, r.job.sha256)}`);
  const critical = r.findings.filter((x) => x.severity === 'critical');
  for (const f of critical.slice(0, CRITICAL_SHOWN)) lines.push(`  CRITICAL ${f.title}${f.action ? ` — ${f.action}` : ''}`);
  // the cut is said: the first 20 must not read as all of them
  if (critical.length > CRITICAL_SHOWN) lines.push(`  and ${critical.length - CRITICAL_SHOWN} more critical finding(s): see the report`);
  lines.push(`  written: ${w.files.html}`, `           ${w.files.markdown}`, `           ${w.files.json}`);
  return lines;
}
