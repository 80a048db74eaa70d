/**
 * The report model (versioned, see schema.ts) built from what the tool has: the
 * job, the state rows and, when there is one, the summary a run returned.
 * Plan (dry run: what will happen) and run report (what did) are one model; the
 * renderers (JSON, Markdown, HTML) only present it.
 *
 *   const report = buildReport(reportInputFromState(state, job, summary));
 *   writeFileSync('plan.html', renderHtml(report));
 */
import type { JobConfig } from '../config/schema.js';
import type { RunSummary } from '../engine/events.js';
import { redact } from '../redact.js';
import { conflictSha512, LEFT_OUT_NOTE, type AssetRow, type ItemRow, type PackageRow } from '../state/db.js';
import type { Format } from '../types.js';
import { readToolVersion } from '../version.js';
import { estimateDuration, formatDuration, type EstimateOptions, type EstimateRates, type Throughput } from './estimate.js';
import { exclusionExplainer } from './exclusion.js';
import { checkedForUnresolvable, depLine, recordedUnresolvable } from '../engine/unresolvable.js';
import { collectFindings } from './findings.js';
import { hintFor } from './hints.js';
import { planOutcome, runOutcome } from './outcome.js';
import {
  type AuditFrom,
  exposureSchema,
  hardeningSchema,
  preflightSchema,
  REPORT_SCHEMA_VERSION,
  warmSchema,
  type ExposureInput,
  type FindingInput,
  type GoSumSection,
  type HardeningInput,
  type OutcomeKey,
  type PreflightInput,
  type Report,
  type ReportOutcome,
  type ReportPackage,
  type ReportVersion,
  type WarmInput,
} from './schema.js';

export * from './schema.js';

/** An item row as the report needs it (a whole `ItemRow` will do), with its files. */
export type ReportItem = Pick<
  ItemRow,
  | 'source_id'
  | 'format'
  | 'package'
  | 'version'
  | 'state'
  | 'attempts'
  | 'last_error_code'
  | 'last_error'
  | 'declared_integrity'
  | 'declared_shasum'
  | 'integrity_weak'
  | 'sha512'
  | 'target_sha512'
  | 'size'
  | 'registry_url'
  | 'artifact_url'
  | 'source_published_at'
  | 'deprecated'
  | 'ordinal'
  | 'updated_at'
  | 'removed_at'
  | 'source_problem'
  | 'source_ref'
  | 'source_commit'
  | 'facts'
> & {
  assets?: Pick<AssetRow, 'name' | 'size' | 'sha1' | 'sha256' | 'sha512' | 'state'>[];
  target_asset?: string | null;
  /** A plan --no-download's read of the target's listing: the status listed, null when not listed; absent when not read. */
  target_listed?: string | null;
};

export type ReportPackageRow = Pick<PackageRow, 'source_id' | 'format' | 'package' | 'dist_tags' | 'meta_state' | 'last_error' | 'list_error_code' | 'list_error'>;

/** What the report needs of the job (a `LoadedJob` will do). */
export interface ReportJob {
  name: string;
  file: string;
  /** SHA-256 of the job file's bytes as read (a `LoadedJob`'s); absent for a job not read from a file. */
  sha256?: string;
  config: Pick<JobConfig, 'target' | 'sources'> & {
    filters?: Pick<JobConfig['filters'], 'include' | 'exclude'>;
    limits?: { concurrency?: number; publishesPerPackage?: number; rates?: Partial<EstimateRates> };
  };
}

export interface ReportInput {
  kind: 'plan' | 'run';
  job: ReportJob;
  items: ReportItem[];
  packages?: ReportPackageRow[];
  /** The run the rows come from. */
  run?: { id: number; startedAt: string; endedAt: string | null; dryRun: boolean; outcome: string | null } | null;
  /** What that run returned (or stored in the runs table). */
  summary?: Partial<RunSummary> | null;
  /** Default: now. */
  generatedAt?: string | Date;
  /** Default: this package's version. */
  toolVersion?: string;
  /** Bytes/second for the estimate (measured by a run, or configured); default an assumption, stated. */
  throughput?: Throughput;
  latencySeconds?: number;
  /** Migrated versions whose git tag moved since they were built (every run; default: the summary's); those of a source the job does not enable are left out. */
  tagMoved?: { source?: string; package: string; version: string; state: string; detail: string }[];
  /** Migrated versions whose source later declared other bytes (every run; default: the summary's), as tagMoved. */
  sourceChanged?: { source?: string; package: string; version: string; detail: string }[];
  /** Sections other commands fill. */
  preflight?: PreflightInput | null;
  exposure?: ExposureInput | null;
  /** Set when preflight and exposure are an earlier plan's (its dry run and when it made them), carried into this report: said so, with their age. */
  auditFrom?: { runId: number; at: string; jobFile?: JobFileId | null } | null;
  /** Why the latest plan's audit is not carried (it audited other repositories than the job names now): said by ENOAUDIT. */
  auditNotCarried?: string | null;
  hardening?: HardeningInput | null;
  warm?: WarmInput | null;
  /** A `warm` of the job running now (its lock's owner): its entries not decided yet are its own to decide, not a warm that stopped. */
  warmRunning?: { pid: number; host: string; startedAt: string } | null;
  /** Default: the summary's go.sum check. */
  goSum?: GoSumSection | null;
  /** More findings from other commands (merged, critical first). */
  findings?: FindingInput[];
}

/** A job file as a plan or a run recorded it: its absolute path and the SHA-256 of its bytes. */
export interface JobFileId {
  path: string;
  sha256: string;
}

/** The target format a source's versions go to (as engine/run.ts's formatOf). */
function formatOfSource(s: JobConfig['sources'][number]): Format {
  return s.kind === 'npm-registry' ? 'npm' : s.format === 'go' ? 'generic' : s.format;
}

function parseJson<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** The row an outcome is read from: a conflict's "ours" is the hash of the file it is about (a wheel), as the target's is. */
function outcomeRow(r: ReportItem): ReportItem {
  return r.state === 'conflict' && r.target_asset ? { ...r, sha512: conflictSha512(r, r.assets ?? []) } : r;
}

/** States whose outcome stands whatever the job asks for now: already left out, or a publish the next run settles by reading the target. */
const STANDS: ReadonlySet<string> = new Set(['excluded', 'skipped', 'removed', 'publishing', 'published']);

/**
 * A version the job file no longer asks for (engine/job-edits.ts notAskedBy: its package no longer named
 * by its npm source, or left out by the filters now), as `status` and the run's summary leave it out of
 * their counts: excluded, with the reason and what is of it on the target. Null when the job asks for it,
 * or its state already says (left out; a publish to settle).
 */
function notAsked(r: ReportItem, named: (source: string, pkg: string) => boolean, explain: ReturnType<typeof exclusionExplainer>): Partial<ReportOutcome> | null {
  if (STANDS.has(r.state)) return null;
  const where = ON_TARGET_STATES.has(r.state) ? `; on the target (${r.state}), where it stays` : `; the next run sets it aside${r.attempts > 0 ? `; ${LEFT_OUT_NOTE}` : ''}`;
  if (!named(r.source_id, r.package)) return { code: 'ENOTINJOB', reason: `no longer named by the job (not in the packages or scopes of source "${r.source_id}")${where}` };
  const why = explain(r.package, r.version);
  return why ? { excludedBy: why.filter, reason: `${why.reason}${where}` } : null;
}

function versionEntry(r: ReportItem, kind: ReportInput['kind'], sourceKinds: Map<string, 'npm-registry' | 'git'>, explain: ReturnType<typeof exclusionExplainer>, named: (source: string, pkg: string) => boolean): ReportVersion {
  const sourceKind = sourceKinds.get(r.source_id) ?? (r.source_ref || r.source_commit ? 'git' : 'unknown');
  const facts = parseJson<{ module?: string; h1?: string; goModH1?: string; commit?: string; committedAt?: string; builtWith?: Record<string, unknown> }>(r.facts, {});
  const files = (r.assets ?? []).map((a) => ({ name: a.name, size: a.size, sha256: a.sha256, sha512: a.sha512, sha1: a.sha1, upload: a.state }));
  const size = files.length ? files.reduce((n, f) => n + f.size, 0) : r.size;
  return {
    version: r.version,
    source: r.source_id,
    sourceKind,
    provenance:
      sourceKind === 'git'
        ? { kind: 'git', url: r.registry_url, tag: r.source_ref, commit: r.source_commit ?? facts.commit ?? null, committedAt: r.source_published_at ?? facts.committedAt ?? null, builtWith: builtWithOf(facts.builtWith) }
        : { kind: 'registry', registryUrl: r.registry_url, artifactUrl: r.artifact_url, publishedAt: r.source_published_at },
    size,
    files,
    declared: { integrity: r.declared_integrity, shasum: r.declared_shasum, weak: r.integrity_weak === 1 },
    deprecated: r.deprecated,
    go: facts.module ? { module: facts.module, zipH1: facts.h1 ?? null, modH1: facts.goModH1 ?? null } : null,
    attempts: r.attempts,
    updatedAt: r.updated_at,
    outcome: outcomeOf(r, kind, explain, named),
  };
}

/**
 * A version a run set aside (excluded: the filters, or its package not named then) that the job file
 * asks for now: no run has looked at it since, and nothing of it is known to be on the target. A run
 * report counts it as not done, a plan as unchecked: never as excluded, which a verdict takes as fine.
 */
const ASKED_AGAIN = "excluded by an earlier run (its filters, or its package not named by the job then); the job file selects it now: not on the target, nothing of it checked; the next run picks it up";

function outcomeOf(r: ReportItem, kind: ReportInput['kind'], explain: ReturnType<typeof exclusionExplainer>, named: (source: string, pkg: string) => boolean): ReportOutcome {
  const out = notAsked(r, named, explain);
  const blank = { state: r.state, code: null, message: null, hint: null, reason: null, excludedBy: null, ourSha512: null, targetSha512: null, targetStatus: null };
  if (out) return { ...blank, ...out, key: 'excluded' };
  if (r.state === 'excluded' && named(r.source_id, r.package) && !explain(r.package, r.version)) return { ...blank, key: kind === 'plan' ? 'unchecked' : 'not-done', reason: ASKED_AGAIN };
  return kind === 'plan' ? planOutcome(outcomeRow(r), explain) : runOutcome(outcomeRow(r), explain);
}

const ON_TARGET_STATES: ReadonlySet<string> = new Set(['publishing', 'published', 'verified', 'present-identical']);
const int = (v: number) => v.toLocaleString('en-US');
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const META_RANK = { failed: 2, pending: 1, done: 0 } as const;

function buildPackages(input: ReportInput, items: ReportItem[], activeSources: Set<string>): ReportPackage[] {
  const sourceKinds = new Map(input.job.config.sources.map((s) => [s.id, s.kind]));
  const explain = exclusionExplainer(input.job.config.filters);
  // as engine/job-edits.ts jobNamesPackage (a report's job may come from a hand-written fixture: lists absent are empty)
  const configOf = new Map(input.job.config.sources.map((s) => [s.id, s]));
  const named = (source: string, pkg: string) => {
    const c = configOf.get(source);
    return c?.kind !== 'npm-registry' || (c.packages ?? []).includes(pkg) || (c.scopes ?? []).some((scope) => pkg.startsWith(`${scope}/`));
  };
  const pkgs = new Map<string, ReportPackage>();
  const entry = (format: Format, name: string): ReportPackage => {
    const key = `${format}\u0000${name}`;
    let p = pkgs.get(key);
    if (!p) pkgs.set(key, (p = { format, name, sources: [], distTags: {}, metadata: null, listErrors: [], versionCount: 0, bytes: 0, counts: {}, versions: [] }));
    return p;
  };
  const sorted = [...items].sort((a, b) => a.ordinal - b.ordinal || byText(a.source_id, b.source_id));
  for (const r of sorted) {
    const p = entry(r.format, r.package);
    const v = versionEntry(r, input.kind, sourceKinds, explain, named);
    p.versions.push(v);
    if (!p.sources.includes(r.source_id)) p.sources.push(r.source_id);
    p.versionCount++;
    p.bytes += v.size ?? 0;
    p.counts[v.outcome.key] = (p.counts[v.outcome.key] ?? 0) + 1;
  }
  for (const row of input.packages ?? []) {
    if (!activeSources.has(row.source_id)) continue;
    const p = entry(row.format, row.package);
    if (!p.sources.includes(row.source_id)) p.sources.push(row.source_id);
    const tags = parseJson<Record<string, string>>(row.dist_tags, {});
    if (Object.keys(p.distTags).length === 0) p.distTags = tags;
    if (row.list_error_code) {
      const message = row.list_error ?? '';
      const prefix = `${row.list_error_code}: `;
      p.listErrors.push({ source: row.source_id, code: row.list_error_code, message: message.startsWith(prefix) ? message.slice(prefix.length) : message, hint: hintFor(row.list_error_code) });
    }
    // npm has package metadata to sync; the other formats keep theirs in the files
    if (row.format === 'npm' && !row.list_error_code && (!p.metadata || META_RANK[row.meta_state] > META_RANK[p.metadata.state])) p.metadata = { state: row.meta_state, error: row.last_error };
  }
  return [...pkgs.values()].sort((a, b) => byText(a.format, b.format) || byText(a.name, b.name));
}

/** Unchecked, but the target lists it already (plan --no-download): not one to publish. */
const listedOnTarget = (v: ReportVersion) => v.outcome.key === 'unchecked' && typeof v.outcome.targetStatus === 'string';

function totals(pkgs: ReportPackage[]): Report['totals'] {
  const t: Report['totals'] = { packages: pkgs.length, versions: 0, files: 0, bytes: 0, byOutcome: {}, byFormat: {}, bySource: {}, uncheckedOnTarget: { versions: 0, files: 0, bytes: 0 } };
  for (const p of pkgs) {
    const f = (t.byFormat[p.format] ??= { packages: 0, versions: 0, files: 0, bytes: 0 });
    f.packages++;
    const seenIn = new Set<string>();
    for (const v of p.versions) {
      const size = v.size ?? 0;
      const files = v.files.length;
      t.versions++;
      t.files += files;
      t.bytes += size;
      const o = (t.byOutcome[v.outcome.key] ??= { versions: 0, files: 0, bytes: 0 });
      const s = (t.bySource[v.source] ??= { packages: 0, versions: 0, files: 0, bytes: 0 });
      for (const c of [o, f, s, ...(listedOnTarget(v) ? [t.uncheckedOnTarget!] : [])]) (c.versions++, (c.files += files), (c.bytes += size));
      if (!seenIn.has(v.source)) (seenIn.add(v.source), s.packages++);
    }
  }
  return t;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Keys of versions still to publish: planned, or left over by a run (failures are retried). */
const TO_PUBLISH: Record<ReportInput['kind'], ReadonlySet<OutcomeKey>> = {
  plan: new Set(['publish', 'unchecked', 'error']),
  run: new Set(['not-done', 'failed']),
};

function estimate(input: ReportInput, pkgs: ReportPackage[]): Report['estimate'] {
  const wanted = TO_PUBLISH[input.kind];
  let versions = 0;
  let files = 0;
  let bytes = 0;
  let unknown = 0;
  let largest = 0;
  const knownSizes: number[] = [];
  const knownFiles: number[] = [];
  for (const p of pkgs) {
    let inPackage = 0;
    for (const v of p.versions) {
      if (v.size !== null) (knownSizes.push(v.size), knownFiles.push(Math.max(1, v.files.length)));
      // already on the target by its listing (plan --no-download): nothing to publish
      if (!wanted.has(v.outcome.key) || listedOnTarget(v)) continue;
      versions++;
      inPackage++;
      if (v.size === null) unknown++;
      else (bytes += v.size), (files += Math.max(1, v.files.filter((f) => f.upload !== 'uploaded').length));
    }
    largest = Math.max(largest, inPackage);
  }
  if (versions === 0) return null;
  return estimateDuration(
    {
      versions,
      files,
      bytes,
      unknownSizeVersions: unknown,
      largestPackageVersions: largest,
      // none measured: nothing to stand in for the unknown sizes (the estimate says so)
      ...(knownSizes.length ? { typicalVersionBytes: median(knownSizes), typicalVersionFiles: median(knownFiles) || 1 } : {}),
    },
    { ...ratesOf(input), concurrency: input.job.config.limits?.concurrency, publishesPerPackage: input.job.config.limits?.publishesPerPackage, throughput: input.throughput, latencySeconds: input.latencySeconds },
  );
}

/**
 * The rates the estimate counts with: those the run (or the plan's dry run) ran at, as its
 * summary records them (the account's applied quotas where the job sets none), else the job's.
 * An account whose publish quota was raised to 100/s would otherwise be told 10/s.
 */
function ratesOf(input: ReportInput): Pick<EstimateOptions, 'rates' | 'origins'> {
  const ran = input.summary?.rates;
  if (!ran) return { rates: input.job.config.limits?.rates };
  const buckets: Record<keyof EstimateRates, string> = { publish: 'publish', getAsset: 'getAsset', list: 'listAssets', reads: 'reads', writes: 'writes' };
  const rates: Partial<EstimateRates> = {};
  const origins: EstimateOptions['origins'] = {};
  for (const [key, bucket] of Object.entries(buckets) as [keyof EstimateRates, string][]) {
    const r = ran[bucket];
    if (!r || !(r.rate > 0)) continue;
    rates[key] = r.rate;
    origins[key] = r.source;
  }
  return { rates: { ...input.job.config.limits?.rates, ...rates }, origins };
}

function verdict(kind: ReportInput['kind'], t: Report['totals'], findings: Report['findings'], est: Report['estimate'], targetRead: boolean): Report['verdict'] {
  const critical = findings.filter((f) => f.severity === 'critical').length;
  const warnings = findings.length - critical;
  const n = (k: OutcomeKey) => t.byOutcome[k]?.versions ?? 0;
  const status = critical > 0 ? 'no-go' : warnings > 0 ? 'review' : 'go';
  const word = { 'no-go': 'NO-GO', review: 'REVIEW', go: 'GO' }[status];
  let what: string;
  if (kind === 'plan') {
    const listed = t.uncheckedOnTarget?.versions ?? 0;
    const toPublish = n('publish') + n('unchecked') - listed;
    const eta = est ? `, estimated ${formatDuration(est.seconds)}` : '';
    // plan --no-target never read the target: what it holds is unknown, not none (earlier runs' records are still said)
    const known = n('migrated') + n('present-identical');
    const onTarget = targetRead ? `${int(known)} already on the target` : `target not read: what it already holds is unknown${known ? ` (${int(known)} on it by earlier runs)` : ''}`;
    what = `${int(toPublish)} version(s) to publish${eta}; ${onTarget}${listed ? `; ${int(listed)} listed on the target, bytes not compared` : ''}`;
  } else {
    const selected = t.versions - n('excluded') - n('skipped') - n('removed');
    what = `${int(n('verified') + n('present-identical'))} of ${int(selected)} selected version(s) on the target and verified`;
  }
  const why = status === 'no-go' ? `${critical} critical finding(s) block cutover` : status === 'review' ? `${warnings} warning(s) to read before cutover` : 'nothing blocks cutover';
  return { status, headline: `${word}: ${why}. ${what[0]!.toUpperCase()}${what.slice(1)}.`, critical, warnings };
}

/** How the run the report is of stopped early, or null when it finished (or none is recorded). */
function unfinishedRun(run: ReportInput['run'], summary: Partial<RunSummary> | null): { id: number; how: string } | null {
  if (!run) return null;
  if (run.endedAt === null) return { id: run.id, how: 'it has no end recorded (still running, or killed)' };
  if (run.outcome === 'interrupted' || summary?.interrupted) return { id: run.id, how: 'it was interrupted' };
  if (run.outcome === 'target-unusable') return { id: run.id, how: 'the target could not be used' };
  // a fatal error (refused credentials or proxy, the state or the disk) ends the listing and the work where they stood
  if (run.outcome === 'stopped-by-error') {
    const error = (summary as { error?: unknown } | null)?.error;
    return { id: run.id, how: `it was stopped by an error${typeof error === 'string' ? ` (${error})` : ''}` };
  }
  return null;
}

/**
 * The packages and scopes an npm source of the job names of which nothing is recorded (no version, no
 * package row: a listing, or its error): named in the job file after the run this report is of. A
 * whole source never listed is said by `unlisted`, and not again here.
 */
function unlistedNames(config: ReportJob['config'], active: Set<string>, unlistedSources: string[], items: ReportItem[], packages: ReportPackageRow[]): string[] {
  const seen = new Map<string, Set<string>>();
  for (const r of [...items.map((i) => ({ source_id: i.source_id, package: i.package })), ...packages]) (seen.get(r.source_id) ?? seen.set(r.source_id, new Set()).get(r.source_id)!).add(r.package);
  const out: string[] = [];
  for (const s of config.sources) {
    if (s.kind !== 'npm-registry' || !active.has(s.id) || unlistedSources.includes(s.id)) continue;
    const names = seen.get(s.id) ?? new Set<string>();
    for (const pkg of s.packages ?? []) if (!names.has(pkg)) out.push(`${s.id}: ${pkg}`);
    // a scope's listing leaves a row per package it finds, or its error under `<scope>/*`
    for (const scope of s.scopes ?? []) if (![...names].some((n) => n.startsWith(`${scope}/`))) out.push(`${s.id}: ${scope}/*`);
  }
  return out;
}

/** A version's key among the state's rows and the report's versions alike. */
const versionKey = (format: string, name: string, version: string, source: string) => `${format}\u0000${name}\u0000${version}\u0000${source}`;

/** What `found` holds (by versionKey) for the versions the job migrates (not left out), in the report's order. */
function ofMigratedVersions<T>(found: Map<string, T>, packages: ReportPackage[]): { subject: string; format: Format; value: T }[] {
  const out: { subject: string; format: Format; value: T }[] = [];
  if (!found.size) return out;
  for (const p of packages) {
    for (const v of p.versions) {
      if (v.outcome.key === 'excluded' || v.outcome.key === 'skipped' || v.outcome.key === 'removed') continue;
      const value = found.get(versionKey(p.format, p.name, v.version, v.source));
      if (value !== undefined) out.push({ subject: `${p.name}@${v.version}`, format: p.format, value });
    }
  }
  return out;
}

/** Versions the job migrates (not left out) whose metadata names dependencies a consumer of the target cannot resolve (facts.unresolvable), in the report's order. */
function unresolvableDeps(items: ReportItem[], packages: ReportPackage[]): { subject: string; format: Format; dependencies: string[] }[] {
  const found = new Map<string, string[]>();
  for (const r of items) {
    const deps = recordedUnresolvable(r.facts);
    if (deps.length) found.set(versionKey(r.format, r.package, r.version, r.source_id), deps.map(depLine));
  }
  return ofMigratedVersions(found, packages).map(({ subject, format, value }) => ({ subject, format, dependencies: value }));
}

/**
 * Versions the job migrates (not left out) whose files were fetched but whose dependencies were
 * never read (no facts.unresolvable): fetched by an earlier release, their files gone from the blob
 * store since. Unknown, never "clean". (Versions never downloaded are EUNCHECKED's.)
 */
function unresolvableUnchecked(items: ReportItem[], packages: ReportPackage[]): string[] {
  const unchecked = new Map<string, true>();
  for (const r of items) {
    if ((r.assets?.length ?? 0) > 0 && r.state !== 'pending' && !checkedForUnresolvable(r.facts)) unchecked.set(versionKey(r.format, r.package, r.version, r.source_id), true);
  }
  return ofMigratedVersions(unchecked, packages).map((v) => v.subject);
}

/** The enabled sources of which nothing is recorded: no version and no package row (a listing, or its error). */
function unlisted(active: Set<string>, items: ReportItem[], packages: ReportPackageRow[]): string[] {
  const seen = new Set([...items.map((r) => r.source_id), ...packages.map((p) => p.source_id)]);
  return [...active].filter((id) => !seen.has(id));
}

/** Every string through redact(): a report is a sink like the logs (sections come from other commands). */
function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map(redactDeep) as T;
  // keys too: a dist-tag name is a source's text like any other
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactDeep(v)])) as T;
  return value;
}

export function buildReport(input: ReportInput): Report {
  const config = input.job.config;
  const active = new Set(config.sources.filter((s) => s.enabled !== false).map((s) => s.id));
  const items = input.items.filter((r) => active.has(r.source_id));
  const ofActive = (r: { source?: string; package: string }) => r.source === undefined || active.has(r.source);
  const packages = buildPackages(input, items, active);
  const summary = input.summary ?? null;
  const goSum = input.goSum ?? (summary?.goSum && summary.goSum.files > 0 ? summary.goSum : null);
  const sections = {
    preflight: input.preflight ? preflightSchema.parse(input.preflight) : null,
    exposure: input.exposure ? exposureSchema.parse(input.exposure) : null,
    hardening: input.hardening ? hardeningSchema.parse(input.hardening) : null,
    warm: input.warm ? warmSchema.parse(input.warm) : null,
    goSum,
  };
  const unlistedSources = unlisted(active, items, input.packages ?? []);
  const generatedAt = input.generatedAt === undefined ? new Date().toISOString() : new Date(input.generatedAt).toISOString();
  const auditFrom = input.auditFrom && (sections.preflight || sections.exposure) ? auditAge(input.auditFrom, generatedAt) : null;
  const findings = collectFindings({
    kind: input.kind,
    jobFile: input.job.file,
    packages,
    hasRun: Boolean(input.run ?? summary),
    unfinished: unfinishedRun(input.run, summary),
    warmRunning: input.warmRunning ?? null,
    summary,
    // a moved tag not yet migrated is a conflict row already; these are the ones on the target
    // a switched-off source's versions are left out, and so is what happened to them
    tagMoved: (input.tagMoved ?? summary?.tagMoved ?? []).filter((t) => ON_TARGET_STATES.has(t.state) && ofActive(t)),
    sourceChanged: (input.sourceChanged ?? summary?.sourceChanged ?? []).filter(ofActive),
    ...sections,
    auditFrom,
    auditNotCarried: input.auditNotCarried ?? null,
    jobSha256: input.job.sha256 ?? null,
    runJobFile: input.run ? (summary?.jobFile ?? null) : null,
    notAudited: auditFrom && sections.exposure ? notAudited(sections.exposure, active, input.packages ?? []) : [],
    foreignVersions: input.items.length - items.length,
    unlistedSources,
    unlistedNames: unlistedNames(config, active, unlistedSources, items, input.packages ?? []),
    unresolvable: unresolvableDeps(items, packages),
    unresolvableUnchecked: unresolvableUnchecked(items, packages),
    extra: input.findings ?? [],
  });
  const t = totals(packages);
  const est = estimate(input, packages);
  const run = input.run
    ? {
        ...input.run,
        interrupted: summary?.interrupted ?? false,
        durationMs: summary?.durationMs ?? null,
        exitCode: summary?.exitCode ?? null,
        throttles: summary?.throttles ?? null,
      }
    : null;
  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: input.kind,
    generatedAt,
    tool: { name: 'codeartifact-migrate', version: input.toolVersion ?? readToolVersion() },
    job: { name: input.job.name, file: input.job.file, ...(input.job.sha256 ? { sha256: input.job.sha256 } : {}) },
    run,
    target: {
      region: config.target.region,
      domain: config.target.domain,
      domainOwner: config.target.domainOwner,
      repositories: Object.fromEntries(
        Object.entries(config.target.repositories)
          .filter(([, r]) => r)
          .map(([f, r]) => [f, { internal: r!.internal, store: r!.store ?? null, shared: r!.shared ?? null }]),
      ),
    },
    sources: config.sources.map((s) => ({ id: s.id, kind: s.kind, url: s.url, format: formatOfSource(s), enabled: s.enabled !== false })),
    verdict: verdict(input.kind, t, findings, est, !(input.kind === 'plan' && input.summary?.noTarget)),
    totals: t,
    estimate: est,
    findings,
    packages,
    ...sections,
    auditFrom,
  };
  return redactDeep(report);
}

/** A carried audit's age when the report is generated (null when its time does not parse; never negative: a clock set back). */
function auditAge(from: { runId: number; at: string; jobFile?: JobFileId | null }, generatedAt: string): AuditFrom {
  const ms = Date.parse(generatedAt) - Date.parse(from.at);
  return { runId: from.runId, at: from.at, ageSeconds: Number.isFinite(ms) ? Math.max(0, Math.round(ms / 1000)) : null, ...(from.jobFile !== undefined ? { jobFile: from.jobFile && { path: from.jobFile.path, sha256: from.jobFile.sha256 } } : {}) };
}

/**
 * The internal names the state knows (listed packages of the enabled sources, as the plan's audit
 * takes them) that a carried exposure check did not check: added to the job, or first listed, after
 * that plan. Neither their protection nor their public exposure is known.
 */
function notAudited(exposure: NonNullable<Report['exposure']>, active: Set<string>, packages: ReportPackageRow[]): string[] {
  const checked = new Set(exposure.names.map((n) => `${n.format}:${n.name}`));
  const out = new Set<string>();
  for (const p of packages) if (active.has(p.source_id) && !p.list_error_code && !checked.has(`${p.format}:${p.package}`)) out.add(p.package);
  return [...out].sort();
}

/** The builder's tool versions as the report's flat record of texts (`generators` joined); null when the version was not built. */
function builtWithOf(raw: unknown): Record<string, string | null> | null {
  if (!raw || typeof raw !== 'object') return null;
  return Object.fromEntries(
    Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? v.map(String).join(', ') || null : typeof v === 'string' ? v : null]),
  );
}
