/**
 * Every secret a job names, registered before a command prints or stores anything: the AWS
 * keys in the environment, each source's token and ssh key (or its path, and then the key file's
 * text), each warm repository's key. A source registers its own token when it is made, but
 * `rewrite-lockfiles` makes none, and a lockfile URL can carry the token (https://npm.fury.io/<token>/acme/).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { registerSecret } from '../redact.js';
import type { JobConfig } from './schema.js';

export function registerJobSecrets(config: JobConfig, env: NodeJS.ProcessEnv): void {
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) registerSecret(env[name]);
  for (const s of config.sources) {
    if (s.kind === 'npm-registry' && s.tokenEnv) registerSecret(env[s.tokenEnv]);
    if (s.kind === 'git' && s.sshKeyEnv) registerSshKey(env[s.sshKeyEnv]);
  }
  for (const r of config.warm.repositories) if (r.sshKeyEnv) registerSshKey(env[r.sshKeyEnv]);
}

/** The most of a key file read for its text: an RSA key of 16384 bits is 12 KiB; a larger file is no key ssh takes. */
const MAX_KEY_FILE = 64 * 1024;
/**
 * A line of a key's body as it is registered on its own: base64, 16 characters at least. Every
 * line of an OpenSSH or PEM body but the last is 64 to 70; a shorter last one (an OpenSSH key's
 * padding, `AQIDBAUG`) is the same in many keys, holds next to nothing of this one, and would be
 * masked wherever those characters happen to stand (registerSecret takes 8 and more).
 */
const BODY_LINE = /^[A-Za-z0-9+/=]{16,}$/;

/**
 * An ssh key as `sshKeyEnv` gives it: the key itself, or the path of its file. Either way the
 * key's text is the secret, and the path too: the text whole, and each line of its body on its
 * own, which is how a key shows in a partial echo (an ssh error's or a wrapper's output cut to
 * its tail, a build that read the file where no containment is allowed). A file that cannot be
 * read here (none, a FIFO, a folder, too large) gives only its path: ssh cannot use it either.
 */
export function registerSshKey(value: string | undefined): void {
  if (!value) return;
  registerSecret(value);
  const text = value.includes('-----BEGIN') ? value : keyFileText(value);
  if (text === undefined) return;
  registerSecret(text.trim());
  for (const line of text.split(/\r?\n/)) if (BODY_LINE.test(line.trim())) registerSecret(line.trim());
}

/** The text of the regular file at `path`, when it is one of at most MAX_KEY_FILE bytes; opened without blocking (a FIFO put there waits for no writer). */
function keyFileText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_KEY_FILE) return undefined;
    const buf = Buffer.alloc(MAX_KEY_FILE + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) break;
    }
    return n > MAX_KEY_FILE ? undefined : buf.subarray(0, n).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
