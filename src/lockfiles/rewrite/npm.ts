/**
 * package-lock.json / npm-shrinkwrap.json (v1-v3): every `"resolved"` that is a
 * registry tarball moves to the npm endpoint; git, file, link and remote-tarball
 * `resolved` values and every `integrity` stay. npm downloads what `resolved`
 * names (https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json#packages),
 * sending the registry's token to URLs under the registry configured in .npmrc.
 */
import { tarballMover } from './npm-url.js';
import { replaceAll, type RewriteResult, type RewriteTargets } from './types.js';

export function rewriteNpmLock(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.npm) return { text, changes: [], notes: ['no shared npm repository in the job: nothing rewritten'], already: 0 };
  const mover = tarballMover({ ...targets, npm: targets.npm });
  const { text: out, changes } = replaceAll(text, /("resolved"\s*:\s*)("(?:[^"\\]|\\.)*")/g, (m) => {
    const from = JSON.parse(m[2]!) as string;
    const to = mover.move(from);
    return to ? { from, to, replacement: `${m[1]}${JSON.stringify(to)}` } : undefined;
  });
  const notes = mover.notes(changes.length);
  // (a file rewritten before has its notes already: it does name registry URLs)
  if (!changes.length && !notes.length) notes.push('no registry `resolved` URLs (npm --omit-lockfile-registry-resolved): npm asks the registry .npmrc names');
  return { text: out, changes, notes, already: mover.already() };
}
