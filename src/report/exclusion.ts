/**
 * Which filter left a version out. The engine only records "excluded by the job
 * filters"; the plan has to say which one, so this repeats config/filters.ts's
 * matching (same globs, same ranges with prereleases) entry by entry.
 */
import semver from 'semver';
import { globMatcher } from '../config/filters.js';
import type { JobConfig } from '../config/schema.js';

type Entry = JobConfig['filters']['include'][number];

export interface Exclusion {
  /** The filter as written in the job file, e.g. `exclude: @acme/http-client@<1.0.0`. */
  filter: string;
  /** In words, for the report. */
  reason: string;
}

function parts(entry: Entry): { name: string; range?: string; label: string } {
  if (typeof entry !== 'string') return { name: entry.name, range: entry.versions, label: entry.versions ? `${entry.name}@${entry.versions}` : entry.name };
  const at = entry.indexOf('@', 1);
  return at > 0 ? { name: entry.slice(0, at), range: entry.slice(at + 1), label: entry } : { name: entry, label: entry };
}

function matcher(entry: Entry): { label: string; test: (name: string, version: string) => boolean } {
  const p = parts(entry);
  const name = globMatcher(p.name);
  return {
    label: p.label,
    test: (n, v) => name(n) && (p.range === undefined || semver.satisfies(v, p.range, { includePrerelease: true, loose: true })),
  };
}

/** A function naming the filter that excludes name@version, or null when the filters select it. */
export function exclusionExplainer(filters: Pick<JobConfig['filters'], 'include' | 'exclude'> | undefined): (name: string, version: string) => Exclusion | null {
  const include = (filters?.include ?? []).map(matcher);
  const exclude = (filters?.exclude ?? []).map(matcher);
  return (name, version) => {
    const hit = exclude.find((m) => m.test(name, version));
    if (hit) return { filter: `exclude: ${hit.label}`, reason: `excluded by the filter "${hit.label}"` };
    if (include.length > 0 && !include.some((m) => m.test(name, version))) {
      const list = include.map((m) => m.label).join(', ');
      return { filter: `include: ${list}`, reason: `matched by no include filter (${list})` };
    }
    return null;
  };
}
