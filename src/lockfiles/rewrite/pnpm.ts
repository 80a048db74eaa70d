/**
 * pnpm-lock.yaml: a `resolution` carries a `tarball:` URL only for packages
 * from a registry other than the default one (or remote tarballs); those that
 * are registry tarballs move to the npm endpoint. Packages from the default
 * registry carry no URL at all: pnpm asks the registry .npmrc names.
 */
import { tarballMover } from './npm-url.js';
import { replaceAll, type RewriteResult, type RewriteTargets } from './types.js';

export function rewritePnpm(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.npm) return { text, changes: [], notes: ['no shared npm repository in the job: nothing rewritten'], already: 0 };
  const mover = tarballMover({ ...targets, npm: targets.npm });
  const { text: out, changes } = replaceAll(text, /(\btarball:[ \t]*)("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s,}\]'"]+)/g, (m) => {
    const raw = m[2]!;
    const from = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.startsWith("'") ? raw.slice(1, -1).replace(/''/g, "'") : raw;
    const to = mover.move(from);
    if (!to) return undefined;
    const replacement = raw.startsWith('"') ? JSON.stringify(to) : raw.startsWith("'") ? `'${to.replace(/'/g, "''")}'` : to;
    return { from, to, replacement: `${m[1]}${replacement}` };
  });
  const notes = mover.notes(changes.length);
  if (!changes.length && !notes.length) notes.push('no tarball URLs (packages from the default registry carry none): point .npmrc `registry=` at the shared repository');
  return { text: out, changes, notes, already: mover.already() };
}
