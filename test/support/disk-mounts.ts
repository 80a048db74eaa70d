/**
 * A CLI run on a disk that refuses writes, for the tests of what the commands say then: in a
 * mount namespace of the child's own (unshare, as the root of a user namespace of its own), a
 * folder bind-mounted read-only or a 64 KiB tmpfs filled up; or after a shell line (`ulimit -f`:
 * writes past the limit fail with EFBIG, as a full disk fails with ENOSPC). The mounts vanish
 * with the child: the folder here is as it was.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ROOT, TSX_LOADER } from './harness.js';

/** The shell line that makes `dir` read-only in the namespace. */
export const readOnly = (dir: string) => `mount --bind '${dir}' '${dir}' && mount -o remount,bind,ro '${dir}'`;

/** The shell line that puts a full 64 KiB tmpfs on `dir` in the namespace. */
export const fullTmpfs = (dir: string) => `mount -t tmpfs -o size=64k tmpfs '${dir}' && (dd if=/dev/zero of='${dir}/fill' bs=4k count=100 2>/dev/null; true)`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `cam ARGS` in a mount namespace of its own, once `setup` (readOnly, fullTmpfs) ran there. */
export function cliInMounts(setup: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return collect(spawn('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', `${setup} && exec "$0" "$@"`, ...cliArgv(args)], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** `cam ARGS` after a bash line (`ulimit -f 1024; `), or none. */
export function cliAfter(shell: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return collect(spawn('bash', ['-c', `${shell}exec "$0" "$@"`, ...cliArgv(args)], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

const cliArgv = (args: readonly string[]) => [process.execPath, '--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), ...args];

async function collect(child: ReturnType<typeof spawn>): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
