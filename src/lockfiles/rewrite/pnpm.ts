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
 */
import { isMap, isScalar, parseDocument, Scalar } from 'yaml';
import { readPnpmFast } from '../pnpm-fast.js';
import { isRecord } from '../read.js';
import { tarballMover } from './npm-url.js';
import { lineCounter, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

export function rewritePnpm(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.npm) return { text, changes: [], notes: ['no shared npm repository in the job: nothing rewritten'], already: 0 };
  const mover = tarballMover({ ...targets, npm: targets.npm });
  const at = lineCounter(text);
  const changes: RewriteChange[] = [];
  let out = '';
  let last = 0;
  for (const node of noTarballs(text) ? [] : resolutionTarballs(text)) {
    const [start, end] = node.range!;
    const from = node.value as string;
    // a block scalar, or a quoted one folded over lines: a rewrite changes no line count
    if (text.slice(start, end).includes('\n')) continue;
    const to = mover.move(from);
    if (!to) continue;
    const replacement = node.type === Scalar.QUOTE_DOUBLE ? JSON.stringify(to) : node.type === Scalar.QUOTE_SINGLE ? `'${to.replace(/'/g, "''")}'` : to;
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
 * Whether the lockfile surely has no `packages.<key>.resolution.tarball` string, told from
 * its fast read (pnpm-fast.ts: the same data yaml gives, or none): most lockfiles name only
 * the default registry, whose packages carry no URL, and then yaml's Document (1.6 GB and
 * 9 s for 110,000 packages) is not built at all.
 */
function noTarballs(text: string): boolean {
  // no key reads `tarball` without the word in the text, or an escape that spells it: nothing to read.
  // rewrite-lockfiles has read the text once already (parsePnpmLock), so this saves the second read
  if (!text.includes('tarball') && !text.includes('\\')) return true;
  const read = readPnpmFast(text);
  if (!read) return false;
  const packages = isRecord(read.data) ? read.data.packages : undefined;
  if (!isRecord(packages)) return true;
  return !Object.values(packages).some((p) => isRecord(p) && isRecord(p.resolution) && typeof p.resolution.tarball === 'string');
}

/** Each `packages.<key>.resolution.tarball` string scalar of a plain or quoted style, in text order. */
function resolutionTarballs(text: string): Scalar[] {
  // uniqueKeys: false: yaml's check of repeated keys is quadratic (384 s for the 39 MB pnpm-lock.yaml
  // of 110,000 packages with tarball URLs, 11.5 s without it), and rewrite-lockfiles has read
  // the text with parsePnpmLock first, which refuses a repeated key
  const doc = parseDocument(text, { prettyErrors: false, logLevel: 'silent', uniqueKeys: false });
  if (doc.errors.length || !isMap(doc.contents)) return [];
  const packages = doc.contents.get('packages', true);
  if (!isMap(packages)) return [];
  const out: Scalar[] = [];
  for (const pkg of packages.items) {
    if (!isMap(pkg.value)) continue;
    const resolution = pkg.value.get('resolution', true);
    if (!isMap(resolution)) continue;
    const tarball = resolution.get('tarball', true);
    if (!isScalar(tarball) || typeof tarball.value !== 'string' || !tarball.range) continue;
    if (tarball.type !== Scalar.PLAIN && tarball.type !== Scalar.QUOTE_DOUBLE && tarball.type !== Scalar.QUOTE_SINGLE) continue;
    out.push(tarball);
  }
  return out.sort((a, b) => a.range![0] - b.range![0]);
}
