import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * How git is run on a local repository whose bytes become an artifact (a
 * mirror, a checkout): the operator's global and system git config left out
 * (`core.autocrlf=true`, an LFS smudge filter would change what a build reads), and the
 * system's attributes file (/etc/gitattributes: GIT_CONFIG_NOSYSTEM does not cover it),
 * and line endings as the Go toolchain reads a repository
 * (`git -c core.autocrlf=input -c core.eol=lf archive`, cmd/go modfetch/codehost).
 * And no replace refs: a mirror fetches every ref the server has, `refs/replace/*` among them,
 * and git reads a replaced object in their place wherever it reads one (a go.mod or
 * package.json at a tag, a tree's sizes), while the commit, its zip and every client that
 * fetches it hold the original: a repository could make a tag read as another module or
 * package than it builds.
 */
export const WITHOUT_OPERATOR_CONFIG = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ATTR_NOSYSTEM: '1', GIT_NO_REPLACE_OBJECTS: '1' } as const;

/**
 * Also without the operator's own attributes file: git reads `~/.config/git/attributes`
 * (core.attributesFile's default) whatever GIT_CONFIG_GLOBAL says, and a `*.go text
 * eol=crlf` there would check every file out with CRLF, a module zip with another h1
 * than go computes anywhere else, and a checkout `git status` still calls clean.
 */
export const AS_GO_READS: readonly string[] = ['-c', 'core.autocrlf=input', '-c', 'core.eol=lf', '-c', 'core.attributesFile=/dev/null'];

/**
 * The entries of `git status --porcelain -z` (run in the work tree `top`) that are real
 * changes, at most `max` of them. git status re-cleans a file whose times differ from the
 * index's (a checkout that ended within the file system's clock tick leaves its files so,
 * "racily clean") and calls it modified when the clean form differs from the blob: a file
 * committed with CRLF before a `text` attribute was added (the usual .gitattributes added
 * without `git add --renormalize`) always does, though checkout wrote the very bytes of the
 * commit. Such a file is changed only when its bytes differ from the blob as checkout writes it
 * (`git cat-file --filters`, run with `git` = the program and options the checkout used and `env`).
 */
export async function realChanges(top: string, status: string, git: { argv: readonly string[]; env: NodeJS.ProcessEnv }, max: number): Promise<string[]> {
  const fields = status.split('\0');
  const changed: string[] = [];
  for (let i = 0; i < fields.length && changed.length < max; i++) {
    const rec = fields[i]!;
    if (rec === '') continue;
    const path = rec.slice(3);
    if (rec[0] === 'R' || rec[0] === 'C') i++; // the path it came from follows
    // a name that is not UTF-8 cannot be handed to git as an argument: left as changed
    if (rec.startsWith(' M') && !path.includes('\uFFFD') && (await holdsCheckedOutBlob(top, path, git))) continue;
    changed.push(rec);
  }
  return changed;
}

/** Whether the file in the work tree holds what checking out HEAD's blob of it writes. */
async function holdsCheckedOutBlob(top: string, path: string, git: { argv: readonly string[]; env: NodeJS.ProcessEnv }): Promise<boolean> {
  const abs = join(top, path);
  if (!(await lstat(abs).catch(() => undefined))?.isFile()) return false;
  const file = await sha256Of(createReadStream(abs));
  const [cmd, ...args] = git.argv;
  const child = spawn(cmd!, [...args, 'cat-file', '--filters', `HEAD:${path}`], { cwd: top, env: git.env, stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((done) => {
    child.on('close', done);
    child.on('error', () => done(null));
  });
  const [blob, code] = await Promise.all([sha256Of(child.stdout), exited]);
  return code === 0 && file === blob;
}

async function sha256Of(stream: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk);
  return h.digest('hex');
}
