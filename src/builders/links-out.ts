/**
 * The symbolic links a tag commits that lead out of its checkout, refused before any build
 * step reads the tree: a backend or `npm pack` packs what such a link points at on this
 * machine, not the link.
 */
import { readdir, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { MigrateError } from '../errors.js';

/**
 * Backends pack what a symbolic link points at, not the link: hatchling's wheel
 * takes a committed `data.txt -> /etc/passwd` as a file holding this machine's
 * passwd, and `up -> ../..` as a folder holding the state directory (the
 * checkout lives in `<state>/tmp`): other repositories' mirrors, the state
 * database. No build code needs to run for that. A link anywhere in the
 * project that leads out of the checkout (or into its `.git`, which is our
 * clone's, not the commit's) is refused before the build starts; links within
 * the repository (a monorepo's shared folder) are fine.
 */
export async function refuseLinksOut(checkout: string, srcdir: string, subject: string): Promise<void> {
  const top = await realpath(checkout);
  const leaves = (target: string) => {
    const rel = relative(top, target);
    return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) || rel === '.git' || rel.startsWith(`.git${sep}`);
  };
  const found: string[] = [];
  const folders = [srcdir];
  // a link to a folder of the repository is packed as that folder (a monorepo's `shared -> ../../shared`):
  // its links count too, each folder looked at once however many links lead there
  const followed = new Set([await realpath(srcdir)]);
  for (let dir = folders.pop(); dir !== undefined; dir = folders.pop()) {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (dir === checkout && entry.name === '.git') continue;
      if (entry.isDirectory()) folders.push(path);
      else if (entry.isSymbolicLink()) {
        // followed to the end when it resolves; a dangling one by its text (a build may create its target)
        const target = await realpath(path).catch(async () => resolve(await realpath(dir), await readlink(path)));
        if (leaves(target)) found.push(relative(checkout, path));
        else if (!followed.has(target) && (await stat(target).catch(() => undefined))?.isDirectory()) {
          followed.add(target);
          folders.push(join(checkout, relative(top, target)));
        }
      }
    }
  }
  if (found.length === 0) return;
  found.sort();
  throw new MigrateError('EBADSOURCE', `${subject}: the tag commits symbolic links that lead out of the repository: ${found.slice(0, 5).join(', ')}${found.length > 5 ? ` and ${found.length - 5} more` : ''}`, {
    subject,
    actual: found.join(', '),
    hint: "a build would pack what they point at on this machine; make them links inside the repository at the source, or skip this version (versions: { \"<version>\": { skip: … } })",
  });
}
