/**
 * What a killed run leaves in the state directory besides half-written blobs:
 * checkouts and build folders (`<state>/tmp/checkout-<id>-<pid>-<r>`,
 * `build-<pid>-<r>`, `warm-checkout-<pid>-<r>`), a build's scratch (HOME, TMPDIR,
 * npm's cache: `scratch-<pid>-<r>`; an npm install's cache and copy of npm's global config:
 * `cam-sealed/install-<pid>-<r>`), an ssh key written for git
 * (`cam-sealed/ssh-key-…-<pid>`, or `ssh-key-…-<pid>` as releases before wrote it: a
 * secret, which must not outlive the run that wrote it),
 * and half-cloned mirrors (`<state>/git/<job>/<id>.git.partial-<pid>`; release 0.1's
 * `<state>/git/<id>.git.partial-<pid>`). Each name
 * carries its writer's pid: whatever belongs to a process that is gone is
 * removed at the start of the next run, under the job's lock.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sweepDeadWriters } from '../alive.js';
import { SEALED } from '../builders/process.js';

const IN_TMP = /^(?:ssh-key-.+-(\d+)|(?:checkout-.+|build|warm-checkout|scratch)-(\d+)-[A-Za-z0-9]+)$/;
const IN_GIT = /\.partial-(\d+)$/;
/** In `<state>/tmp/cam-sealed` (builders/process `sealedFolder`): an ssh key written for git, an npm install's cache and its copy of npm's global config. */
const IN_SEALED = /^(?:ssh-key-.+-(\d+)|install-(\d+)-[A-Za-z0-9]+)$/;

export function sweepLeftovers(stateDir: string): void {
  const git = join(stateDir, 'git');
  const jobFolders = namesIn(git, true)
    .filter((name) => !name.endsWith('.git') && !IN_GIT.test(name))
    .map((name) => join(git, name));
  for (const [dir, pattern] of [[join(stateDir, 'tmp'), IN_TMP], [join(stateDir, 'tmp', SEALED), IN_SEALED], [git, IN_GIT], ...jobFolders.map((d) => [d, IN_GIT] as const)] as const) {
    sweepDeadWriters(dir, (name) => {
      const m = pattern.exec(name);
      return m ? Number(m[1] ?? m[2]) : undefined;
    });
  }
}

/** The names in `dir` (only its folders with `folders`); none when there is no such folder yet. */
function namesIn(dir: string, folders = false): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => !folders || e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}
