/**
 * The warm section's problems by entry, for the findings and the renderers.
 *
 * The model keeps them per lockfile (`warm.lockfiles[].problems`, the JSON form's
 * full record), so a package locked by 101 lockfiles is there 101 times: listed
 * that way, 2,000 entries named by 101 lockfiles made a 10–49 MB HTML page. The
 * findings and the Markdown and HTML forms list each entry once, with the first
 * few lockfiles naming it and how many more; the lockfile table names each
 * lockfile once with its counts, and the JSON form has every lockfile of every entry.
 */
import type { Warm } from './schema.js';

export type WarmProblemOutcome = Warm['lockfiles'][number]['problems'][number]['outcome'];

export interface WarmEntry {
  name: string;
  version: string;
  outcome: WarmProblemOutcome;
  detail: string;
  /** Every lockfile naming it, in the section's order. */
  lockfiles: string[];
}

/** Most urgent first: what blocks cutover, then what a build would miss, then what a rerun settles. */
export const WARM_PROBLEM_ORDER: readonly WarmProblemOutcome[] = ['integrity-mismatch', 'blocked', 'missing-upstream', 'internal-missing', 'failed', 'pending', 'non-registry'];

/** Lockfiles shown per entry in the Markdown and HTML forms before "and N more". */
export const LOCKFILES_SHOWN = 3;

/** The ecosystem a lockfile's kind belongs to: `six@1.16.0` locked by an npm and by a Python lockfile is two packages. */
function ecosystemOf(kind: string): string {
  if (['npm', 'yarn-classic', 'yarn-berry', 'pnpm'].includes(kind)) return 'npm';
  if (['requirements', 'poetry', 'pipfile', 'uv'].includes(kind)) return 'pypi';
  return kind;
}

/** Each problem once, with every lockfile naming it; most urgent first, then in the order first met. */
export function warmEntries(w: Warm): WarmEntry[] {
  const byKey = new Map<string, WarmEntry>();
  for (const l of w.lockfiles) {
    for (const p of l.problems) {
      const key = JSON.stringify([ecosystemOf(l.kind), p.name, p.version, p.outcome, p.detail]);
      const e = byKey.get(key);
      if (e) e.lockfiles.push(l.path);
      else byKey.set(key, { name: p.name, version: p.version, outcome: p.outcome, detail: p.detail, lockfiles: [l.path] });
    }
  }
  const rank = (o: WarmProblemOutcome) => WARM_PROBLEM_ORDER.indexOf(o);
  return [...byKey.values()].map((e, i) => ({ e, i })).sort((a, b) => rank(a.e.outcome) - rank(b.e.outcome) || a.i - b.i).map(({ e }) => e);
}

/** How many entries of each outcome, most urgent first: `integrity-mismatch 3, pending 12`. */
export function outcomeCounts(entries: readonly WarmEntry[]): string {
  return WARM_PROBLEM_ORDER.flatMap((o) => {
    const n = entries.filter((e) => e.outcome === o).length;
    return n ? [`${o} ${n.toLocaleString('en-US')}`] : [];
  }).join(', ');
}

/** The first `shown` lockfiles and how many more. */
export function firstLockfiles(e: WarmEntry, shown = LOCKFILES_SHOWN): { shown: string[]; more: number } {
  return { shown: e.lockfiles.slice(0, shown), more: Math.max(0, e.lockfiles.length - shown) };
}

/** "path-a, path-b, path-c and 98 more". */
export function lockfilesLine(e: WarmEntry, shown = LOCKFILES_SHOWN): string {
  const f = firstLockfiles(e, shown);
  return `${f.shown.join(', ')}${f.more ? ` and ${f.more.toLocaleString('en-US')} more` : ''}`;
}
