/**
 * A CLI child process a test watches: its output so far, whether it ended, and
 * its exit (the code, or the signal's name when killed by one). `exitOf` kills
 * one that hangs, so the test fails instead of leaking the process.
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: () => boolean;
  /** exit code, or the signal's name when killed by one */
  exited: Promise<number | string>;
}

export function watch(proc: ChildProcess): Child {
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let done = false;
  const exited = new Promise<number | string>((res) =>
    proc.on('close', (code, signal) => {
      done = true;
      res(code ?? signal ?? 'unknown');
    }),
  );
  return { proc, stdout: () => stdout, stderr: () => stderr, done: () => done, exited };
}

/** Wait for a child that must exit by itself; a hung one is killed after `guardMs`. */
export async function exitOf(c: Child, guardMs = 45_000): Promise<number | string> {
  const guard = setTimeout(() => c.proc.kill('SIGKILL'), guardMs);
  try {
    return await c.exited;
  } finally {
    clearTimeout(guard);
  }
}

/** A process (by pid) still alive and not a zombie (PID 1 here may not reap orphans promptly). */
export async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\d+ \(.*\) Z/.test(stat);
}

/**
 * Whether `pid` ends within 5 s (polled): a build's processes are SIGKILLed with its
 * namespace or group, but the kernel tears them down asynchronously to our 'close'
 * (on a loaded machine they can still be running a moment after the build settled).
 */
export async function goneSoon(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!(await alive(pid))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * The pid, as this machine's /proc counts it, of the one process whose command line
 * is exactly `argv` (waited for up to `waitMs`, or throws): a build's process seen from
 * outside its PID namespace, where the build's own /proc counts otherwise. Give
 * `argv` something unique (`sleep 300.<token>`).
 */
export async function pidOfCommand(argv: readonly string[], waitMs = 10_000): Promise<number> {
  const want = `${argv.join('\0')}\0`;
  for (let i = 0; i < waitMs / 50; i++) {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      if ((await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')) === want) return Number(entry);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no process runs ${argv.join(' ')}`);
}

/** The parent of `pid`, as this machine's /proc counts it. */
export async function parentOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^PPid:\s+(\d+)/m.exec(status)![1]);
}
