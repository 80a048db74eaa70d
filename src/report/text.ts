/** Words and short forms the Markdown and HTML renderers share. */
import { printable, shorten } from '../redact.js';
import { formatBytes, formatDuration } from './estimate.js';
import type { OutcomeKey, Report, ReportVersion } from './schema.js';

export { formatBytes, formatDuration, shorten };

/** Display order: what happens first, then what needs a decision, then what is left out. */
export const OUTCOME_ORDER: readonly OutcomeKey[] = [
  'publish',
  'verified',
  'migrated',
  'published',
  'present-identical',
  'unchecked',
  'not-done',
  'conflict',
  'source-error',
  'error',
  'failed',
  'skipped',
  'excluded',
  'removed',
];

export const OUTCOME_MEANING: Readonly<Record<OutcomeKey, string>> = {
  publish: 'checked at the source, absent from the target: will be published',
  migrated: 'published by an earlier run',
  verified: 'published and read back: hashes equal, Published, origin INTERNAL',
  published: 'published, not verified yet',
  'present-identical': 'already on the target with the same bytes',
  conflict: 'on the target with other bytes (never overwritten), or its git tag moved',
  excluded: "left out by the job's filters",
  skipped: 'left out on purpose, with the reason',
  removed: 'no longer listed by its source; nothing of it on the target',
  'source-error': "the source's bytes or answer cannot be used",
  error: 'failed for another reason (target, throttling, this machine): rerun',
  failed: 'failed (see the code and what to do)',
  unchecked: 'listed, not yet downloaded and compared',
  'not-done': 'the run did not finish it',
};

/** Outcomes a reviewer must look at. */
/** The part of `unchecked` a plan --no-download found the target listing (totals.uncheckedOnTarget). */
export const LISTED_ON_TARGET_TEXT = { label: 'listed on the target', meaning: 'already on the target by its listing (plan --no-download): not to publish; bytes not compared' } as const;

export const PROBLEM_OUTCOMES: ReadonlySet<OutcomeKey> = new Set(['conflict', 'source-error', 'error', 'failed', 'not-done', 'unchecked']);

/** Text from a source on one line, control and bidi characters shown as \uXXXX (a name cannot reorder or hide what follows it). */
export function oneLine(s: string): string {
  return printable(s.replace(/[\r\n\t]+/g, ' '));
}

/** Formats in display order. Renderers iterate fixed lists, never an object's keys: a report read back from its JSON has its keys sorted. */
export const FORMATS = ['npm', 'pypi', 'generic'] as const;

/** The formats present in a per-format record, in display order. */
export function formatsIn<T>(record: Partial<Record<(typeof FORMATS)[number], T>>): [(typeof FORMATS)[number], T][] {
  return FORMATS.filter((f) => record[f] !== undefined).map((f) => [f, record[f]!]);
}

/** Warm counts in column order (never the object's key order: a report read back from its JSON has its keys sorted). */
export const WARM_COLUMNS = [
  ['warmed', 'warmed'],
  ['alreadyCached', 'already cached'],
  ['blocked', 'blocked'],
  ['missingUpstream', 'missing upstream'],
  ['integrityMismatch', 'integrity mismatch'],
  ['nonRegistry', 'non-registry'],
  ['pending', 'pending'],
  ['internalPresent', 'internal present'],
  ['internalMissing', 'internal missing'],
  ['noStore', 'no store'],
  ['failed', 'failed'],
  ['undecided', 'undecided'],
] as const;

export const int = (n: number) => n.toLocaleString('en-US');

export function title(report: Report): string {
  return `${report.kind === 'plan' ? 'Migration plan' : 'Migration report'}: ${report.job.name}`;
}

export const VERDICT_WORD = { go: 'GO', review: 'REVIEW', 'no-go': 'NO-GO' } as const;

/** "2021-03-04" from an ISO time; the full time stays in the JSON. */
export function day(iso: string | null): string {
  return iso ? iso.slice(0, 10) : '';
}

export function shortHash(hex: string | null, n = 12): string {
  return hex ? `${hex.slice(0, n)}…` : 'unknown';
}

/** Where a version comes from, in one short line. */
export function provenanceLine(v: ReportVersion): string {
  const p = v.provenance;
  if (p.kind === 'git') return `${p.tag ?? '?'} @ ${p.commit ? p.commit.slice(0, 10) : '?'}`;
  let host = p.registryUrl;
  try {
    host = new URL(p.registryUrl).host;
  } catch {
    // not a URL: show it as recorded
  }
  return host;
}

export function provenanceTime(v: ReportVersion): string | null {
  return v.provenance.kind === 'git' ? v.provenance.committedAt : v.provenance.publishedAt;
}

/** The one-line explanation shown beside an outcome. */
export function outcomeDetail(v: ReportVersion, max = 240): string {
  const o = v.outcome;
  let text: string;
  if (o.key === 'conflict' && o.code !== 'ETAGMOVED') text = `ours sha512 ${shortHash(o.ourSha512)}, target ${shortHash(o.targetSha512)}`;
  else if (o.excludedBy) text = o.excludedBy;
  else if (o.message) text = o.hint ? `${o.message} — ${o.hint}` : o.message;
  else if (o.reason && o.hint) text = `${o.reason} — ${o.hint}`;
  else text = o.reason ?? (v.deprecated ? `deprecated: ${v.deprecated}` : '');
  if (v.declared.weak) text = text ? `${text}; SHA-1 only` : 'checked against SHA-1 only';
  return shorten(text, max);
}

/** "publish 30, excluded 2" in display order. */
export function countsLine(counts: Partial<Record<OutcomeKey, number>>): string {
  return OUTCOME_ORDER.filter((k) => counts[k])
    .map((k) => `${k} ${int(counts[k]!)}`)
    .join(', ');
}

/**
 * Where a carried audit comes from, in words, after "plan #N" (each renderer writes the number its
 * own way): the preflight and exposure sections of a run's report are an earlier plan's, never a
 * check made for the report.
 */
export function auditFromText(a: NonNullable<Report['auditFrom']>, jobSha256?: string): string {
  const file =
    a.jobFile === undefined
      ? ''
      : a.jobFile === null
        ? '; the job file it was made from is not recorded'
        : a.jobFile.sha256 === jobSha256
          ? '; made from this same job file'
          : `; made from ANOTHER job file: ${a.jobFile.path} (sha256 ${a.jobFile.sha256})`;
  return `, audited ${a.at}${a.ageSeconds === null ? '' : ` (${formatDuration(a.ageSeconds)} before this report)`}: what that plan found then, not checked again for this report${file}`;
}
