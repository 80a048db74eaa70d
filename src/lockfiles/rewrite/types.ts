/**
 * Rewriting a lockfile's registry URLs to another registry (the shared
 * CodeArtifact repository of its format) by editing its text: only the URLs
 * change, every other byte (formatting, integrity, non-registry entries) stays
 * as the package manager wrote it. Never re-serialised.
 */

/** Where registry URLs should point, per format: an endpoint as GetRepositoryEndpoint gives it (ends with '/', no credentials). */
export interface RewriteTargets {
  npm?: string;
  pypi?: string;
  /**
   * The host of an npm tarball URL whose registry the shared repository does not serve (neither
   * the public registry nor a source of the job), undefined when it moves. Unset: every one moves.
   */
  foreignNpmHost?: (url: string) => string | undefined;
  /**
   * The host of an npm tarball URL from one of the job's sources whose package (`name`) the job
   * does not migrate, undefined when it moves: the shared repository holds only the migrated
   * packages of a source, and for any other name fetches the public package of that name
   * (dependency confusion), as warm never requests such a package through a store. Unset: every one moves.
   */
  notMigratedNpm?: (url: string, name: string) => string | undefined;
  /**
   * The same for a PyPI index URL (requirements' `--index-url`, a poetry legacy source, a uv
   * registry): the host of an index that is neither public PyPI nor the job's CodeArtifact
   * domain. The job migrates Python projects from git, never from an index, so the shared
   * repository does not hold such an index's projects. Unset: every index moves.
   */
  foreignPypiHost?: (url: string) => string | undefined;
}

/**
 * The note of a PyPI index left as it is (foreignPypiHost): moving it would make the shared
 * repository answer for the index's projects, and for any it does not hold it fetches the
 * public project of the same name (dependency confusion).
 */
export function foreignIndexNote(host: string, what: string): string {
  return `${what} left as it is: ${host} is neither public PyPI (publicRegistries.pypi) nor the job's CodeArtifact domain, so the shared repository does not hold its projects and would fetch public projects of the same names instead; if it only mirrors public PyPI, set publicRegistries.pypi to it and run again, otherwise migrate its projects first and then point at the shared repository by hand`;
}

export interface RewriteChange {
  /** 1-based line of the change. */
  line: number;
  from: string;
  to: string;
}

export interface RewriteResult {
  text: string;
  changes: RewriteChange[];
  /** What was left alone and why (no URL to rewrite in this format, an extra index, ...). */
  notes: string[];
  /**
   * Registry URLs that already point at the target (a file rewritten before): nothing to do
   * for them. A file with these and no changes is said to be rewritten already, never given
   * the advice for a file that names no registry URL at all.
   */
  already: number;
}

/** The note of a file whose registry URLs all point at the target already (a second run). */
export function alreadyNote(already: number): string {
  return `already rewritten: its ${already} registry URL(s) point at the shared repository; nothing to change`;
}

/** A rewriter edits one format's text; `at` turns an offset into its line. */
export type Rewriter = (text: string, targets: RewriteTargets) => RewriteResult;

/** 1-based line of each offset, for a text edited in one pass. */
export function lineCounter(text: string): (offset: number) => number {
  const starts: number[] = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** Replace every match of `re` (global) whose replacement `fn` gives, recording each change by line. */
export function replaceAll(text: string, re: RegExp, fn: (m: RegExpExecArray) => { from: string; to: string; replacement: string } | undefined): { text: string; changes: RewriteChange[] } {
  const at = lineCounter(text);
  const changes: RewriteChange[] = [];
  let out = '';
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const r = fn(m);
    if (!r) continue;
    out += text.slice(last, m.index) + r.replacement;
    last = m.index + m[0].length;
    changes.push({ line: at(m.index), from: r.from, to: r.to });
  }
  return { text: out + text.slice(last), changes };
}

/**
 * `text` with each edit's range replaced by its value, in one pass. Edits do not overlap. Applied
 * one at a time (`out.slice(0, start) + value + out.slice(end)`), each copied the whole text: 40,000
 * index lines of a 1 MB requirements file took 43 s, and a lock with tens of thousands of URLs minutes.
 */
export function applyEdits(text: string, edits: readonly { start: number; end: number; value: string }[]): string {
  const parts: string[] = [];
  let at = 0;
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    parts.push(text.slice(at, e.start), e.value);
    at = e.end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}
