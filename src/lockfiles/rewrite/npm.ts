/**
 * package-lock.json / npm-shrinkwrap.json (v1-v3): every `"resolved"` that is a
 * registry tarball moves to the npm endpoint; git, file, link and remote-tarball
 * `resolved` values and every `integrity` stay. npm downloads what `resolved`
 * names (https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json#packages),
 * sending the registry's token to URLs under the registry configured in .npmrc.
 *
 * Only an entry's own `resolved` is one: `packages[<path>].resolved` (v2, v3) and
 * `dependencies[<name>](.dependencies[<name>])*.resolved` (v1, and v2's copy). A
 * `"resolved": "<url>"` anywhere else is a dependency NAMED resolved in a
 * `dependencies`/`requires` map, its value the spec package.json gives: moved, npm
 * would find the lockfile out of sync with package.json. So the file is walked as
 * JSON (it parsed already), never searched for the key's text.
 */
import { JsonScan } from '../json-scan.js';
import { tarballMover } from './npm-url.js';
import { lineCounter, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

export function rewriteNpmLock(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.npm) return { text, changes: [], notes: ['no shared npm repository in the job: nothing rewritten'], already: 0 };
  const mover = tarballMover({ ...targets, npm: targets.npm });
  const at = lineCounter(text);
  const changes: RewriteChange[] = [];
  let out = '';
  let last = 0;
  for (const [start, end] of entryResolvedStrings(text)) {
    const from = JSON.parse(text.slice(start, end)) as unknown;
    if (typeof from !== 'string') continue;
    const to = mover.move(from);
    if (!to) continue;
    out += text.slice(last, start) + JSON.stringify(to);
    last = end;
    changes.push({ line: at(start), from, to });
  }
  out += text.slice(last);
  const notes = mover.notes(changes.length);
  // (a file rewritten before has its notes already: it does name registry URLs)
  if (!changes.length && !notes.length) notes.push('no registry `resolved` URLs (npm --omit-lockfile-registry-resolved): npm asks the registry .npmrc names');
  return { text: out, changes, notes, already: mover.already() };
}

/** Where each object is in the lockfile: what its keys lead to. */
type Place = 'root' | 'packages' | 'package' | 'dependencies' | 'dependency';

function child(place: Place, key: string): Place | 'resolved' | undefined {
  switch (place) {
    case 'root':
      return key === 'packages' ? 'packages' : key === 'dependencies' ? 'dependencies' : undefined;
    case 'packages':
      return 'package';
    case 'package':
      return key === 'resolved' ? 'resolved' : undefined;
    case 'dependencies':
      return 'dependency';
    case 'dependency':
      return key === 'resolved' ? 'resolved' : key === 'dependencies' ? 'dependencies' : undefined;
  }
}

/**
 * The [start, end) offsets of every string that is an entry's own `resolved`, in text order,
 * in JSON that JSON.parse took already. One pass; only the objects on an entry's path are
 * descended into (a stack, however deep v1's nesting), every other value skipped.
 */
export function entryResolvedStrings(text: string): [number, number][] {
  const out: [number, number][] = [];
  // a BOM (npm reads past it) is kept, and walked past
  const j = new JsonScan(text, text.charCodeAt(0) === 0xfeff ? 1 : 0);
  j.ws();
  if (j.ch() !== '{') return out;
  // each open object we walk into: what its keys lead to
  const stack: Place[] = ['root'];
  j.i++;
  while (stack.length && j.i < text.length) {
    j.ws();
    if (j.ch() === ',') {
      j.i++;
      j.ws();
    }
    if (j.ch() === '}') {
      stack.pop();
      j.i++;
      continue;
    }
    const to = child(stack[stack.length - 1]!, j.key());
    if (to === 'resolved' && j.ch() === '"') {
      const start = j.i;
      j.string();
      out.push([start, j.i]);
    } else if (to && to !== 'resolved' && j.ch() === '{') {
      stack.push(to);
      j.i++;
    } else j.value();
  }
  return out;
}
