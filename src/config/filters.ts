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
  name: RegExp;
  range?: string;
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
  const pattern = name.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return { name: new RegExp(`^${pattern}$`), range };
}

function matches(m: Matcher, name: string, version: string): boolean {
  if (!m.name.test(name)) return false;
  return m.range === undefined || semver.satisfies(version, m.range, { includePrerelease: true, loose: true });
}

export type VersionFilter = (name: string, version: string) => boolean;

export function compileFilters(filters: JobConfig['filters']): VersionFilter {
  const include = filters.include.map(compile);
  const exclude = filters.exclude.map(compile);
  return (name, version) =>
    (include.length === 0 || include.some((m) => matches(m, name, version))) && !exclude.some((m) => matches(m, name, version));
}

/** Filter entries whose range is not valid semver (string shorthand is not schema-checked). */
export function invalidFilterRanges(filters: JobConfig['filters']): string[] {
  return [...filters.include, ...filters.exclude]
    .map(compile)
    .filter((m) => m.range !== undefined && semver.validRange(m.range) === null)
    .map((m) => String(m.range));
}
