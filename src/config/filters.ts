/**
 * Include/exclude filters from the job file. An entry is a name glob (`*`
 * matches any run of characters, `/` included: `@acme/*` is every package of
 * the scope, `*` every package) with an
 * optional semver range: `"@acme/core@>=2.0.0"` or `{ name, versions }`.
 * Ranges include prereleases: a migration moves history, not just releases.
 */
import semver from 'semver';
import type { JobConfig } from './schema.js';

type Entry = JobConfig['filters']['include'][number];

interface Matcher {
  name: (candidate: string) => boolean;
  range?: string;
}

/**
 * A `*` glob as a matcher that runs in time linear in the name: the pattern is
 * split at the stars, the first piece must start the name, the last must end
 * it, and the ones between are found left to right, each as early as possible
 * (greedy leftmost is exact for `*`-only globs). A regular expression such as
 * `^a.*a.*a.*b$` backtracks exponentially on a long name of `a`s.
 */
export function globMatcher(glob: string): (candidate: string) => boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return (c) => c === glob;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((p) => p !== '');
  const minLength = first.length + last.length;
  return (c) => {
    if (c.length < minLength || !c.startsWith(first) || !c.endsWith(last)) return false;
    let at = first.length;
    const end = c.length - last.length;
    for (const piece of middle) {
      const found = c.indexOf(piece, at);
      if (found < 0 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return true;
  };
}

function compile(entry: Entry): Matcher {
  let name: string;
  let range: string | undefined;
  if (typeof entry === 'string') {
    const at = entry.indexOf('@', 1);
    name = at > 0 ? entry.slice(0, at) : entry;
    range = at > 0 ? entry.slice(at + 1) : undefined;
  } else {
    name = entry.name;
    range = entry.versions;
  }
  return { name: globMatcher(name), range };
}

function matches(m: Matcher, name: string, version: string): boolean {
  if (!m.name(name)) return false;
  return m.range === undefined || semver.satisfies(version, m.range, { includePrerelease: true, loose: true });
}

export type VersionFilter = (name: string, version: string) => boolean;

export function compileFilters(filters: Pick<JobConfig['filters'], 'include' | 'exclude'>): VersionFilter {
  return filterUse(filters).select;
}

/**
 * The filters as `select`, which also counts which entries matched anything: an entry
 * that matches no listed version is a typo far more often than a precaution, and an
 * exclude with a typo lets through what it was written to keep out. `unmatched()` names them.
 */
export function filterUse(filters: Pick<JobConfig['filters'], 'include' | 'exclude'>): { select: VersionFilter; unmatched: () => { kind: 'include' | 'exclude'; entry: string }[] } {
  const entries = [...filters.include.map((e) => ({ kind: 'include' as const, e })), ...filters.exclude.map((e) => ({ kind: 'exclude' as const, e }))].map((x) => ({
    kind: x.kind,
    entry: typeof x.e === 'string' ? x.e : `${x.e.name}@${x.e.versions ?? '*'}`,
    m: compile(x.e),
    hit: false,
  }));
  return {
    select: (name, version) => {
      let included = filters.include.length === 0;
      let excluded = false;
      for (const x of entries) {
        if (!matches(x.m, name, version)) continue;
        x.hit = true;
        if (x.kind === 'include') included = true;
        else excluded = true;
      }
      return included && !excluded;
    },
    unmatched: () => entries.filter((x) => !x.hit).map(({ kind, entry }) => ({ kind, entry })),
  };
}

/** Filter entries whose range is not valid semver (string shorthand is not schema-checked). */
export function invalidFilterRanges(filters: Pick<JobConfig['filters'], 'include' | 'exclude'>): string[] {
  return [...filters.include, ...filters.exclude]
    .map(compile)
    .filter((m) => m.range !== undefined && semver.validRange(m.range) === null)
    .map((m) => String(m.range));
}
