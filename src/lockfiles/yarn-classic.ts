/**
 * yarn.lock of yarn classic (v1; https://classic.yarnpkg.com/en/docs/yarn-lock),
 * read with yarn's own parser `@yarnpkg/lockfile`.
 *
 * One block per resolved package, keyed by every `name@range` that resolved to
 * it (`"a@^1.0.0", "a@^1.1.0":`). `resolved` is the tarball URL with the
 * tarball's sha1 as fragment; `integrity` (SRI) exists since yarn 1.10. Aliases
 * are `local@npm:real@range`; `file:`/`link:` keys are local; git deps resolve
 * to `git+…#sha` or a codeload.github.com tarball. Workspaces are not written.
 *
 * The text is read line by line where yarn-classic-fast.ts says that gives what yarn's parser
 * gives (the lockfiles yarn writes), else with yarn's parser, whose errors are the ones reported.
 */
import { createRequire } from 'node:module';
import { toError } from '../errors.js';
import { isRecord, lockError, splitAt, str, yarnKeyLines } from './read.js';
import { kindOfResolved, parseAliasSpec } from './npm-spec.js';
import { readYarnClassicFast } from './yarn-classic-fast.js';
import type { LockEntry, LockWarning, ParseOutput } from './types.js';

/**
 * Loaded with require: the package is a webpack bundle that sets `__esModule`
 * on its CommonJS exports, so an ESM default import means `parse` under Node
 * but yarn's internal `default` under bundlers' interop (vitest, tsx).
 */
const lockfile = createRequire(import.meta.url)('@yarnpkg/lockfile') as typeof import('@yarnpkg/lockfile');

/** How to read the text: `auto` (the default) line by line when yarn-classic-fast.ts can, else with yarn's parser; `yarn` always with yarn's parser. */
export type YarnClassicReader = 'auto' | 'yarn';

/** yarn's parse result, its object as it really is (its typings claim every block is well formed). */
type Parsed = { type: ReturnType<typeof lockfile.parse>['type']; object: Record<string, unknown> };

export function parseYarnClassic(text: string, file: string, opts: { reader?: YarnClassicReader } = {}): ParseOutput {
  const fast = opts.reader === 'yarn' ? undefined : readYarnClassicFast(text);
  const parsed: Parsed = fast ? { type: 'success', object: fast } : readWithYarn(text, file);
  const warnings: LockWarning[] = [];
  if (parsed.type === 'conflict') throw lockError({ file }, 'unresolved git merge conflict', { hint: 'run yarn install to resolve it, then commit the lockfile' });
  if (parsed.type === 'merge') warnings.push({ file, message: 'git merge conflict markers: read the merged result as yarn would; run yarn install to clean the lockfile' });
  const lines = yarnKeyLines(text);
  const seen = new Set<unknown>();
  const entries: LockEntry[] = [];
  for (const [key, block] of Object.entries(parsed.object)) {
    // Every descriptor of a block maps to the same object: one entry per block.
    if (seen.has(block)) continue;
    seen.add(block);
    const at = { file, line: lines.get(key), path: key };
    if (!isRecord(block)) throw lockError(at, 'not a block');
    const version = str(block.version);
    if (!version) throw lockError(at, 'no version');
    const spec = splitAt(key);
    if (!spec) throw lockError(at, `cannot read a package name from ${JSON.stringify(key)}`);
    const [name, range] = spec;
    const resolved = str(block.resolved);
    const entry: LockEntry = { ecosystem: 'npm', name, normalizedName: name, version, kind: 'registry', from: [at] };
    const alias = parseAliasSpec(range);
    if (alias) {
      entry.kind = 'alias';
      entry.aliasFor = alias[0];
    } else if (range.startsWith('link:')) entry.kind = 'link';
    else if (range.startsWith('file:')) entry.kind = 'file';
    else entry.kind = kindOfResolved(resolved) ?? kindOfResolved(range) ?? 'registry';
    if (resolved) entry.resolved = resolved;
    const integrity = str(block.integrity) ?? sha1FromFragment(resolved, entry.kind);
    if (integrity) entry.integrity = integrity;
    entries.push(entry);
  }
  return { formatVersion: '1', entries, warnings };
}

/** The text read with yarn's parser, its errors as ELOCKFILE at the first line that breaks the format. */
function readWithYarn(text: string, file: string): Parsed {
  try {
    // yarn's tokeniser reads a comment up to a `\n` and a string up to its closing `"`, past
    // line ends, and never checks for the end of the text: a last line `# x` without a newline,
    // or one unclosed `"`, loops forever. A last line `#"` ends both (a comment to yarn, or the
    // quote that closes a runaway string, which then is no valid string: an error, as it should).
    return lockfile.parse(`${text}\n#"\n`, file);
  } catch (e) {
    // yarn's parser says "… 12:4 in lockfile", but its line is the last good token's (one
    // short after a blank line): find the first line that breaks the format ourselves.
    const m = /(\d+):(\d+) in /.exec(toError(e).message);
    const line = firstBadLine(text) ?? (m ? Number(m[1]) : undefined);
    throw lockError({ file, line }, `not a yarn.lock: ${toError(e).message.slice(0, 200)}`, { cause: e });
  }
}

/** The first line (1-based) that is neither blank, a comment, nor a line of the format; undefined if none. */
export function firstBadLine(text: string): number | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    // trimEnd, not replace(/\s+$/): that regex is quadratic on a long run of inner spaces.
    const l = (lines[i] ?? '').trimEnd();
    if (!l || /^\s*#/.test(l)) continue;
    if (!isFormatLine(l)) return i + 1;
  }
  return undefined;
}

/** A character of an unquoted value: `[^\s"{}\[\],]` (a `:` is one: `a@npm:b@1`). */
const PLAIN = /[^\s"{}[\],]/;

/**
 * `key value`, `key:` or `"a@1", b@2:` with an even indent, as yarn writes them:
 *   ^(?:  )*(?:VALUE(?:, VALUE)*:|VALUE[ :]\s*VALUE)$
 * where VALUE is `"(?:[^"\\]|\\.)*"` or `[^\s"{}\[\],]+`. Scanned, not matched
 * with that regex: an unquoted value may hold `:`, so the regex tries every `:`
 * as the separator and rescans the rest each time, quadratic on `a:a:a:…`.
 * Each check below is O(1) but for one scan per alternative: linear.
 */
function isFormatLine(l: string): boolean {
  const n = l.length;
  let start = 0;
  while (l.startsWith('  ', start)) start += 2;
  /** The index after the closing quote of the quoted value at `p`, or -1. */
  const quotedEnd = (p: number): number => {
    for (let k = p + 1; k < n; k++) {
      const c = l[k];
      if (c === '"') return k + 1;
      if (c === '\\') {
        // `\\.`: any character but a line terminator
        if (k + 1 >= n || /[\r\u2028\u2029]/.test(l[k + 1] ?? '')) return -1;
        k++;
      }
    }
    return -1;
  };
  /** The end of the unquoted run at `p` (p itself when there is none). */
  const plainEnd = (p: number): number => {
    let e = p;
    while (e < n && PLAIN.test(l[e] ?? '')) e++;
    return e;
  };
  let lastNotPlain = -1;
  for (let k = 0; k < n; k++) if (!PLAIN.test(l[k] ?? '')) lastNotPlain = k;
  const skipWs = (p: number): number => {
    while (p < n && /\s/.test(l[p] ?? '')) p++;
    return p;
  };
  /** Whether `l.slice(p)` is exactly one VALUE. */
  const valueToEnd = (p: number): boolean => p < n && (l[p] === '"' ? quotedEnd(p) === n : p > lastNotPlain);

  // VALUE(?:, VALUE)*:$
  const list = (): boolean => {
    let p = start;
    for (;;) {
      if (l[p] === '"') {
        p = quotedEnd(p);
        if (p < 0) return false;
        if (p === n - 1 && l[p] === ':') return true;
      } else {
        const e = plainEnd(p);
        if (e === p) return false;
        // The run may end with the `:` that closes the key (a `,` or `"` stops it otherwise).
        if (e === n) return e - p >= 2 && l[n - 1] === ':';
        p = e;
      }
      if (!l.startsWith(', ', p)) return false;
      p += 2;
    }
  };
  // VALUE[ :]\s*VALUE$
  const pair = (): boolean => {
    if (l[start] === '"') {
      const e = quotedEnd(start);
      return e > 0 && (l[e] === ' ' || l[e] === ':') && valueToEnd(skipWs(e + 1));
    }
    const e = plainEnd(start);
    if (e === start) return false;
    // The separator is a `:` inside the run (the first value not empty), or the space after it.
    for (let j = start + 1; j < e; j++) if (l[j] === ':' && valueToEnd(j + 1 < e ? j + 1 : skipWs(j + 1))) return true;
    return l[e] === ' ' && valueToEnd(skipWs(e + 1));
  };
  return list() || pair();
}

/**
 * Before yarn 1.10 the only hash is the registry tarball's sha1 in the URL
 * fragment; as SRI it is what npm's `dist.shasum` would check (weak, but real).
 */
function sha1FromFragment(resolved: string | undefined, kind: LockEntry['kind']): string | undefined {
  if (!resolved || (kind !== 'registry' && kind !== 'alias')) return undefined;
  const m = /#([0-9a-f]{40})$/.exec(resolved);
  return m?.[1] ? `sha1-${Buffer.from(m[1], 'hex').toString('base64')}` : undefined;
}
