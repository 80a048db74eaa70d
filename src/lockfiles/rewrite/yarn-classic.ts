/**
 * yarn.lock of yarn classic: each block's `resolved "<tarball url>#<sha1>"` that
 * is a registry tarball moves to the npm endpoint (the sha1 fragment is kept);
 * git and file resolutions and `integrity` lines stay.
 * https://classic.yarnpkg.com/en/docs/yarn-lock
 */
import { tarballMover } from './npm-url.js';
import { replaceAll, type RewriteResult, type RewriteTargets } from './types.js';

export function rewriteYarnClassic(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.npm) return { text, changes: [], notes: ['no shared npm repository in the job: nothing rewritten'], already: 0 };
  const mover = tarballMover({ ...targets, npm: targets.npm });
  const { text: out, changes } = replaceAll(text, /^([ \t]+resolved[ \t]+)("(?:[^"\\]|\\.)*"|[^\s"]+)(?=[ \t]*\r?$)/gm, (m) => {
    const quoted = m[2]!.startsWith('"');
    const from = quoted ? (JSON.parse(m[2]!) as string) : m[2]!;
    const to = mover.move(from);
    return to ? { from, to, replacement: `${m[1]}${quoted ? JSON.stringify(to) : to}` } : undefined;
  });
  return { text: out, changes, notes: mover.notes(changes.length), already: mover.already() };
}
