/**
 * What one entry may carry, checked once for every format after its parser ran:
 * a lockfile comes from a repository anyone can push to, and each value of an
 * entry travels on into the state database, the ledger, stderr, the summary,
 * the reports and the paths of requests to the store. The file's size is
 * bounded (read.ts); this bounds each value, and refuses what no package manager
 * writes and what would name another path than the entry's package:
 *
 * - a name, alias or version longer than any registry accepts (CodeArtifact:
 *   255 characters a package name, a namespace or a version,
 *   https://docs.aws.amazon.com/codeartifact/latest/APIReference/API_ListPackageVersions.html),
 *   an integrity or hash of megabytes (a sha512 SRI string is 95 characters);
 * - control or bidi characters in any of them (they drive terminals and
 *   reorder what a report shows);
 * - an npm name that is no path segment of its own: `..`, `.`, or a `/` other
 *   than a scope's. The store's npm endpoint is `<endpoint><name>`, and a URL
 *   parser resolves `<endpoint>..` to the endpoint's parent.
 */
import { printable, shorten } from '../redact.js';
import { lockError } from './read.js';
import type { LockEntry, ParseOutput } from './types.js';

/** Room for a scoped npm name (scope and name, 255 each) and anything a registry accepts. */
export const MAX_NAME_CHARS = 512;
/** A resolved URL: signed URLs carry long queries, nothing carries kilobytes of them. */
export const MAX_RESOLVED_CHARS = 8192;
/** An integrity (several SRI algorithms), a hash, a checksum, a marker. */
export const MAX_VALUE_CHARS = 1024;

/** `name` as npm installs it into node_modules: `@scope/name` or `name`, neither part `.` or `..`. */
function npmNameProblem(name: string): string | undefined {
  const parts = name.split('/');
  const scoped = name.startsWith('@');
  if (parts.length !== (scoped ? 2 : 1) || parts.some((p) => p === '' || p === '.' || p === '..' || p === '@' || p === '@.' || p === '@..')) {
    return 'no npm package name (a path segment of its own, or `@scope/` and one): it would name another path on the registry';
  }
  return undefined;
}

/**
 * Every entry within the bounds above (the first that is not is ELOCKFILE at its line), and
 * every warning cut to MAX_WARNING_CHARS: a warning quotes its line (`<requirement>: not pinned
 * to one version`), and 200 lines of 300 KB each put 58 MB into the summary, each run's stored
 * summary and the reports.
 */
export function checkEntries(out: ParseOutput, file: string): ParseOutput {
  for (const e of out.entries) checkEntry(e, file);
  for (const w of out.warnings) if (w.message.length > MAX_WARNING_CHARS) w.message = `${w.message.slice(0, MAX_WARNING_CHARS)}… (${w.message.length} characters)`;
  return out;
}

/** A warning's message: the start of the line it quotes, and why. */
export const MAX_WARNING_CHARS = 500;

function checkEntry(e: LockEntry, file: string): void {
  const at = e.from[0] ?? { file };
  const fail = (what: string, value: string, why: string) => {
    throw lockError(at, `${what} ${JSON.stringify(printable(shorten(value, 61)))}${value.length > 60 ? ` (${value.length} characters)` : ''}: ${why}`);
  };
  const bounded = (what: string, value: string | undefined, max: number) => {
    if (value === undefined) return;
    if (value.length > max) fail(what, value, `longer than ${max} characters: no package manager writes that`);
    // C0/C1 controls, DEL and the Unicode Bidi_Control set: what printable() escapes
    if (printable(value) !== value) fail(what, value, 'holds control or bidi characters: no package manager writes them');
  };
  bounded('the name', e.name, MAX_NAME_CHARS);
  bounded('the registry name', e.aliasFor, MAX_NAME_CHARS);
  bounded('the version', e.version, MAX_NAME_CHARS);
  bounded('the resolved URL', e.resolved, MAX_RESOLVED_CHARS);
  bounded('the integrity', e.integrity, MAX_VALUE_CHARS);
  for (const o of e.otherIntegrity ?? []) bounded('the integrity', o, MAX_VALUE_CHARS);
  bounded('the checksum', e.yarnChecksum, MAX_VALUE_CHARS);
  bounded('the h1 hash', e.h1, MAX_VALUE_CHARS);
  bounded('the go.mod h1 hash', e.goModH1, MAX_VALUE_CHARS);
  bounded('the marker', e.marker, MAX_VALUE_CHARS);
  for (const h of e.hashes ?? []) bounded('the hash', h, MAX_VALUE_CHARS);
  for (const [f, h] of Object.entries(e.fileHashes ?? {})) {
    bounded('the file name', f, MAX_NAME_CHARS);
    bounded('the hash', h, MAX_VALUE_CHARS);
  }
  for (const x of e.extras ?? []) bounded('the extra', x, MAX_NAME_CHARS);
  if (e.ecosystem === 'npm') {
    for (const [what, name] of [['the name', e.name], ['the registry name', e.aliasFor]] as const) {
      const why = name === undefined ? undefined : npmNameProblem(name);
      if (why) fail(what, name!, why);
    }
  }
}
