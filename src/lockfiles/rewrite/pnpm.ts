/**
 * pnpm-lock.yaml: a `resolution` carries a `tarball:` URL only for packages
 * from a registry other than the default one (or remote tarballs); those that
 * are registry tarballs move to the npm endpoint. Packages from the default
 * registry carry no URL at all: pnpm asks the registry .npmrc names.
 *
 * Only `packages.<key>.resolution.tarball` is one, found by reading the YAML (flow or
 * block mapping, any quoting, escapes decoded as YAML decodes them), never by searching
 * the text for `tarball:`: a package NAMED tarball (`my-tarball`) in lockfile 5.x/6.x
 * `specifiers` maps to the URL package.json gives, which must stay; a comment is no URL.
 * The scalar's own text is replaced, in its own quoting: every other byte stays.
 * Where they are is found by a scan of the lines for the YAML pnpm writes, by yaml's
 * Document (its ranges) for any other.
 */
import { isMap, isScalar, parseDocument, Scalar } from 'yaml';
import type { PnpmReader } from '../pnpm.js';
import { tarballMover } from './npm-url.js';
import { pnpmTarballsFast, type TarballSpot } from './pnpm-fast.js';
import { lineCounter, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

/** `reader: 'yaml'` finds the tarballs with yaml's Document only, as the tests compare with. */
export function rewritePnpm(text: string, targets: RewriteTargets, opts: { reader?: PnpmReader } = {}): RewriteResult {
  if (!targets.npm) return { text, changes: [], notes: ['no shared npm repository in the job: nothing rewritten'], already: 0 };
  const mover = tarballMover({ ...targets, npm: targets.npm });
  const at = lineCounter(text);
  const changes: RewriteChange[] = [];
  let out = '';
  let last = 0;
  for (const { start, end, value: from, style } of opts.reader === 'yaml' ? documentTarballs(text) : tarballs(text)) {
    // a block scalar, or a quoted one folded over lines: a rewrite changes no line count
    if (text.slice(start, end).includes('\n')) continue;
    const to = mover.move(from);
    if (!to) continue;
    const replacement = style === 'double' ? JSON.stringify(to) : style === 'single' ? `'${to.replace(/'/g, "''")}'` : to;
    out += text.slice(last, start) + replacement;
    last = end;
    changes.push({ line: at(start), from, to });
  }
  out += text.slice(last);
  const notes = mover.notes(changes.length);
  if (!changes.length && !notes.length) notes.push('no tarball URLs (packages from the default registry carry none): point .npmrc `registry=` at the shared repository');
  return { text: out, changes, notes, already: mover.already() };
}

/**
 * The tarballs found by a scan of the lines (./pnpm-fast.ts) where the text is the plain YAML
 * pnpm writes, by yaml's Document (11.5-13 s and 1.7 GB for 110,000 packages with 36,667
 * URLs) for anything else: the two give the same, test/unit/rewrite-pnpm-fast.test.ts.
 */
function tarballs(text: string): TarballSpot[] {
  // no key reads `tarball` without the word in the text, or an escape that spells it: nothing to read.
  // rewrite-lockfiles has read the text once already (parsePnpmLock), so this saves the second read
  if (!text.includes('tarball') && !text.includes('\\')) return [];
  return pnpmTarballsFast(text) ?? documentTarballs(text);
}

const STYLES = new Map<Scalar.Type | undefined, TarballSpot['style']>([
  [Scalar.PLAIN, 'plain'],
  [Scalar.QUOTE_SINGLE, 'single'],
  [Scalar.QUOTE_DOUBLE, 'double'],
]);

/** Each `packages.<key>.resolution.tarball` string scalar of a plain or quoted style, in text order, read with yaml's Document. */
function documentTarballs(text: string): TarballSpot[] {
  // uniqueKeys: false: yaml's check of repeated keys is quadratic (384 s for the 39 MB pnpm-lock.yaml
  // of 110,000 packages with tarball URLs, 11.5 s without it), and rewrite-lockfiles has read
  // the text with parsePnpmLock first, which refuses a repeated key
  const doc = parseDocument(text, { prettyErrors: false, logLevel: 'silent', uniqueKeys: false });
  if (doc.errors.length || !isMap(doc.contents)) return [];
  const packages = doc.contents.get('packages', true);
  if (!isMap(packages)) return [];
  const out: TarballSpot[] = [];
  for (const pkg of packages.items) {
    if (!isMap(pkg.value)) continue;
    const resolution = pkg.value.get('resolution', true);
    if (!isMap(resolution)) continue;
    const tarball = resolution.get('tarball', true);
    if (!isScalar(tarball) || typeof tarball.value !== 'string' || !tarball.range) continue;
    const style = STYLES.get(tarball.type);
    if (style) out.push({ start: tarball.range[0], end: tarball.range[1], value: tarball.value, style });
  }
  return out.sort((a, b) => a.start - b.start);
}
