/**
 * yarn.lock of yarn classic (v1; https://classic.yarnpkg.com/en/docs/yarn-lock),
 * read with yarn's own parser `@yarnpkg/lockfile`.
 *
 * One block per resolved package, keyed by every `name@range` that resolved to
 * it (`"a@^1.0.0", "a@^1.1.0":`). `resolved` is the tarball URL with the
 * tarball's sha1 as fragment; `integrity` (SRI) exists since yarn 1.10. Aliases
 * are `local@npm:real@range`; `file:`/`link:` keys are local; git deps resolve
 * to `git+…#sha` or a codeload.github.com tarball. Workspaces are not written.
 */
import { createRequire } from 'node:module';
import { toError } from '../errors.js';
import { isRecord, lockError, splitAt, str, yarnKeyLines } from './read.js';
import { kindOfResolved, parseAliasSpec } from './npm-spec.js';
import type { LockEntry, LockWarning, ParseOutput } from './types.js';

/**
 * Loaded with require: the package is a webpack bundle that sets `__esModule`
 * on its CommonJS exports, so an ESM default import means `parse` under Node
 * but yarn's internal `default` under bundlers' interop (vitest, tsx).
 */
const lockfile = createRequire(import.meta.url)('@yarnpkg/lockfile') as typeof import('@yarnpkg/lockfile');

export function parseYarnClassic(text: string, file: string): ParseOutput {
  let parsed: ReturnType<typeof lockfile.parse>;
  try {
    parsed = lockfile.parse(text, file);
  } catch (e) {
    // yarn's parser says "… 12:4 in lockfile", but its line is the last good token's (one
    // short after a blank line): find the first line that breaks the format ourselves.
    const m = /(\d+):(\d+) in /.exec(toError(e).message);
    const line = firstBadLine(text) ?? (m ? Number(m[1]) : undefined);
    throw lockError({ file, line }, `not a yarn.lock: ${toError(e).message.slice(0, 200)}`, { cause: e });
  }
  const warnings: LockWarning[] = [];
  if (parsed.type === 'conflict') throw lockError({ file }, 'unresolved git merge conflict', { hint: 'run yarn install to resolve it, then commit the lockfile' });
  if (parsed.type === 'merge') warnings.push({ file, message: 'git merge conflict markers: read the merged result as yarn would; run yarn install to clean the lockfile' });
  const lines = yarnKeyLines(text);
  const seen = new Set<unknown>();
  const entries: LockEntry[] = [];
  for (const [key, block] of Object.entries(parsed.object as Record<string, unknown>)) {
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

const VALUE = String.raw`(?:"(?:[^"\\]|\\.)*"|[^\s"{}\[\],]+)`;
/** `key value`, `key:` or `"a@1", b@2:` with an even indent, as yarn writes them. */
const LINE = new RegExp(String.raw`^(?:  )*(?:${VALUE}(?:, ${VALUE})*:|${VALUE}[ :]\s*${VALUE})$`);

/** The first line (1-based) that is neither blank, a comment, nor a line of the format; undefined if none. */
export function firstBadLine(text: string): number | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const l = (lines[i] ?? '').replace(/\s+$/, '');
    if (!l || /^\s*#/.test(l)) continue;
    if (!LINE.test(l)) return i + 1;
  }
  return undefined;
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
