/**
 * yarn.lock of yarn classic: each block's `resolved "<tarball url>#<sha1>"` that
 * is a registry tarball moves to the npm endpoint (the sha1 fragment is kept);
 * git and file resolutions and `integrity` lines stay.
 * https://classic.yarnpkg.com/en/docs/yarn-lock
 *
 * Only a field of a block (the indentation of the block's first field): a deeper
 * `resolved "<url>"` is a dependency NAMED resolved under `dependencies:`, its spec
 * what package.json gives and what a block's key names; moved, it would name no
 * block of the lockfile.
 */
import { tarballMover } from './npm-url.js';
import { replaceAll, type RewriteResult, type RewriteTargets } from './types.js';

export function rewriteYarnClassic(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.npm) return { text, changes: [], notes: ['no shared npm repository in the job: nothing rewritten'], already: 0 };
  const mover = tarballMover({ ...targets, npm: targets.npm });
  const fields = blockFieldLines(text);
  // the key as yarn's parser reads it, quoted too, and a comment after the value (yarn writes
  // neither, a hand edit may): missed, the entry kept its URL and nothing said so
  const { text: out, changes } = replaceAll(text, /^([ \t]+(?:resolved|"resolved")[ \t]+)("(?:[^"\\]|\\.)*"|[^\s"]+)(?=[ \t]*(?:#[^\r\n]*)?\r?$)/gm, (m) => {
    if (!fields.has(m.index)) return undefined;
    const quoted = m[2]!.startsWith('"');
    const from = quoted ? (JSON.parse(m[2]!) as string) : m[2]!;
    const to = mover.move(from);
    return to ? { from, to, replacement: `${m[1]}${quoted ? JSON.stringify(to) : to}` } : undefined;
  });
  return { text: out, changes, notes: mover.notes(changes.length), already: mover.already() };
}

/** The offsets of the lines that are a block's own fields: indented as the first line under a top-level key (yarn berry's too). */
export function blockFieldLines(text: string): Set<number> {
  const out = new Set<number>();
  let indent: string | undefined;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    const lead = /^[ \t]*/.exec(line)![0];
    const rest = line.slice(lead.length);
    if (rest === '' || rest === '\r' || rest.startsWith('#')) {
      // blank or a comment: neither opens nor ends a block
    } else if (!lead) indent = undefined;
    else {
      indent ??= lead;
      if (lead === indent) out.add(start);
    }
    start = end + 1;
  }
  return out;
}
