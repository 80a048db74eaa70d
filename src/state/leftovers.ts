/**
 * What a killed run leaves in the state directory besides half-written blobs:
 * checkouts and build folders (`<state>/tmp/checkout-<id>-<pid>-<r>`,
 * `build-<pid>-<r>`, `warm-checkout-<pid>-<r>`), a build's scratch (HOME, TMPDIR,
 * npm's cache: `scratch-<pid>-<r>`), an ssh key written for git
 * (`ssh-key-…-<pid>`: a secret, which must not outlive the run that wrote it),
 * and half-cloned mirrors (`<state>/git/<id>.git.partial-<pid>`). Each name
 * carries its writer's pid: whatever belongs to a process that is gone is
 * removed at the start of the next run, under the job's lock.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from './blobs.js';

const IN_TMP = /^(?:ssh-key-.+-(\d+)|(?:checkout-.+|build|warm-checkout|scratch)-(\d+)-[A-Za-z0-9]+)$/;
const IN_GIT = /\.partial-(\d+)$/;

export function sweepLeftovers(stateDir: string): void {
  for (const [dir, pattern] of [[join(stateDir, 'tmp'), IN_TMP], [join(stateDir, 'git'), IN_GIT]] as const) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // no such folder yet
    }
    for (const name of names) {
      const m = pattern.exec(name);
      const pid = Number(m?.[1] ?? m?.[2]);
      if (m && Number.isInteger(pid) && !isAlive(pid)) rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
}
