/**
 * A clone or fetch into a mirror, run under three bounds: silence (a peer that sends
 * nothing), size (a repository far larger than any real one, or a server streaming a
 * pack that never ends: bytes keep coming, so no silence bound ever fires and only a
 * size bound stops it before the disk is full) and pace (a peer that sends a byte or a
 * progress line just inside every idle period: never silent, never large, and without
 * this bound it holds the run forever).
 *
 * git runs in a process group of its own and is cut off as a whole: a clone is git,
 * ssh, fetch-pack and index-pack (which writes the pack), and killing only the first,
 * as simple-git's abort and watchdog do, can leave index-pack writing. simple-git cannot
 * watch a folder either, hence this module for the two commands that talk to a remote.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** How often the mirror's folder is measured while git runs (each walk starts when the last ended). */
const MEASURE_EVERY_MS = 500;
/** After SIGTERM (git removes its lock files on it), how long before the group is killed outright. */
const KILL_GRACE_MS = 5_000;
/**
 * Idle periods a transfer may take before any credit for bytes: a server counts and
 * compresses objects before it sends a byte (minutes for a large repository without
 * bitmaps, saying only "Counting objects" meanwhile), and that must not read as a trickle.
 */
export const GRACE_IDLE_PERIODS = 6;
/**
 * The slowest transfer still taken for working (bytes per second the mirror's folder grows):
 * a transfer may take six times its idle timeout plus 1 s per 64 KiB received. A quarter of the
 * upload floor (src/net/bounds.ts): a git server is often on premises behind a VPN, slower
 * than AWS, and the floor only has to tell a transfer from a trickle (a few bytes per idle
 * period). Since credit comes from bytes received, a large repository on a slow link gets
 * as long as its size needs; the worst a peer can hold a run is bounded by
 * limits.maxMirrorBytes at this rate.
 */
export const SLOWEST_TRANSFER_BYTES_PER_S = 64 * 1024;

/** The git process groups running now: killed when this process exits (a second Ctrl-C, a crash). */
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
});

/** Why a transfer was cut off by its bounds (not git's own failure). */
export class TransferCut extends Error {
  constructor(
    readonly why: 'silent' | 'too-large' | 'too-slow',
    /** The folder's size when it was cut (too-large); how much it grew since the start (too-slow). */
    readonly bytes = 0,
    /** How long the transfer had run when it was cut (too-slow). */
    readonly elapsedMs = 0,
  ) {
    super(
      why === 'silent'
        ? 'git wrote nothing for the idle timeout'
        : why === 'too-large'
          ? `the mirror grew to ${bytes} bytes`
          : `the mirror grew by ${bytes} bytes in ${Math.round(elapsedMs / 1000)} s`,
    );
    this.name = 'TransferCut';
  }
}

/** How long a transfer that has received `bytes` may have run: six times the idle timeout, plus time for the bytes at the floor rate. */
export function transferDeadlineMs(idleMs: number, bytes: number): number {
  return GRACE_IDLE_PERIODS * idleMs + Math.ceil((bytes / SLOWEST_TRANSFER_BYTES_PER_S) * 1000);
}

export interface TransferOptions {
  cwd: string;
  env: Record<string, string>;
  /** Cut off when git writes nothing (progress included) this long. */
  idleMs: number;
  /** The folder measured, and the most it may hold (bytes). */
  watch: { dir: string; maxBytes: number };
  signal?: AbortSignal;
  /**
   * Where the transfer's process group is recorded while git runs (removed when it ends):
   * a run killed with SIGKILL leaves git running, and the next run stops it from this
   * (stopOrphanTransfer) before it transfers into the same mirror.
   */
  groupFile?: string;
}

/**
 * Run `git <args>`; resolves when it exits 0. Rejects with TransferCut when a bound cut it
 * off, an AbortError when `signal` did, else an Error holding the tail of what git said.
 * The folder is measured once more after git exits: a transfer faster than the measuring
 * still fails when it left the folder over its bound.
 */
export function runTransfer(args: readonly string[], opts: TransferOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(abortError());
    const child = spawn('git', args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pid = child.pid;
    let said = '';
    let cut: Error | undefined;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    let hard: NodeJS.Timeout | undefined;
    let measuring: NodeJS.Timeout | undefined;
    // a monotonic clock: a wall clock stepped forward (NTP) must not cut a transfer
    const started = performance.now();
    // the folder's size at the start (a fetch's mirror is not empty), and the most it has grown since
    let base: number | undefined;
    let grown = 0;

    const stop = (why: Error) => {
      if (cut || done) return;
      cut = why;
      if (pid === undefined) return;
      killGroup(pid, 'SIGTERM');
      hard = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const heard = () => {
      clearTimeout(idle);
      if (!cut) idle = setTimeout(() => stop(new TransferCut('silent')), opts.idleMs);
    };
    const measure = async () => {
      const bytes = await sizeOf(opts.watch.dir);
      if (done || cut) return;
      base ??= bytes;
      grown = Math.max(grown, bytes - base);
      const elapsed = performance.now() - started;
      if (bytes > opts.watch.maxBytes) stop(new TransferCut('too-large', bytes));
      // never silent for a whole idle period, yet next to nothing received: a trickle
      else if (elapsed > transferDeadlineMs(opts.idleMs, grown)) stop(new TransferCut('too-slow', grown, elapsed));
      else measuring = setTimeout(() => void measure(), MEASURE_EVERY_MS);
    };
    const onAbort = () => stop(abortError());

    if (pid !== undefined) {
      liveGroups.add(pid);
      if (opts.groupFile) recordGroup(opts.groupFile, pid);
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    heard();
    void measure();
    child.stdout.on('data', heard);
    child.stderr.on('data', (c: Buffer) => {
      heard();
      said = (said + c.toString('utf8')).slice(-8_000);
    });
    child.on('error', (e) => {
      if (pid === undefined) {
        // never started (no git on PATH): there is no 'close' to wait for
        finish();
        reject(e);
      }
    });
    child.on('close', (code, signal) => {
      finish();
      // whatever of the group outlived git (it closed its pipes): gone too
      if (pid !== undefined && cut) killGroup(pid, 'SIGKILL');
      if (cut) return reject(cut);
      if (code !== 0) return reject(new Error(`git exited with ${code ?? signal}: ${said}`));
      // faster than the measuring: the folder as git left it
      void sizeOf(opts.watch.dir).then((bytes) => (bytes > opts.watch.maxBytes ? reject(new TransferCut('too-large', bytes)) : resolve()), reject);
    });

    function finish() {
      done = true;
      clearTimeout(idle);
      clearTimeout(hard);
      clearTimeout(measuring);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) liveGroups.delete(pid);
      if (opts.groupFile) rmSync(opts.groupFile, { force: true });
    }
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** What /proc says of `pid`: its name, state, process group and start time (clock ticks since boot); undefined when there is no such process. */
function procStat(pid: number): { comm: string; state: string; pgrp: number; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "<pid> (<comm>) <state> <ppid> <pgrp> ...": comm may hold spaces and parentheses
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return { comm: text.slice(text.indexOf('(') + 1, close), state: rest[0] ?? '', pgrp: Number(rest[2]), start: rest[19] ?? '' };
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** `<pgid> <start time> <boot id>`: enough to tell the group git leads from a process that got its pid later. */
function recordGroup(file: string, pid: number): void {
  try {
    writeFileSync(file, `${pid} ${procStat(pid)?.start ?? ''} ${bootId()}\n`);
  } catch {
    // the mirror's folder is not there (a clone's parent is made first): nothing to stop later, and no reason to fail
  }
}

/**
 * The git process group a killed run left transferring into a mirror (`groupFile`, written
 * by runTransfer): stopped (SIGTERM, then SIGKILL) before the next transfer there, so two
 * gits never write into one mirror. The caller holds the job's lock, so no live run owns
 * it. Only that group is signalled (the same boot, and its leader that git, by pid, start
 * time and name, or gone with members of the group left): a pid reused by an unrelated
 * process is left alone. Returns the
 * group stopped, if any; the record is removed either way.
 */
export async function stopOrphanTransfer(groupFile: string): Promise<number | undefined> {
  let record: string;
  try {
    record = readFileSync(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  rmSync(groupFile, { force: true });
  const [pgidText, start, boot] = record.trim().split(' ');
  const pgid = Number(pgidText);
  if (!Number.isInteger(pgid) || pgid <= 1 || !start || !/^\d+$/.test(start) || !boot || boot !== bootId()) return undefined;
  // Still that group: its leader is that git (same pid, start time, name), or is gone and left
  // members (ssh, index-pack, still writing). A pid is never reused while it names a live
  // process group, so members of group `pgid` whose leader is gone are that group's; a leader
  // with another start time leads another group, which is left alone.
  const ours = () => {
    const leader = procStat(pgid);
    if (leader !== undefined && leader.pgrp === pgid && leader.state !== 'Z') return leader.start === start && leader.comm === 'git';
    if (leader !== undefined && leader.pgrp === pgid && leader.start !== start) return false;
    return livingMembers(pgid, start) > 0;
  };
  if (!ours()) return undefined;
  killGroup(pgid, 'SIGTERM');
  // git removes its lock files on SIGTERM; one that does not stop within 2 s is killed outright
  for (let i = 0; i < 40 && ours(); i++) await new Promise((r) => setTimeout(r, 50));
  killGroup(pgid, 'SIGKILL');
  for (let i = 0; i < 40 && ours(); i++) await new Promise((r) => setTimeout(r, 50));
  return pgid;
}

/** How many processes of group `pgid` live (zombies aside) that started no earlier than its leader (`start`, clock ticks since boot). */
function livingMembers(pgid: number, start: string): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = procStat(Number(name));
    if (p && p.pgrp === pgid && p.state !== 'Z' && BigInt(p.start || '0') >= BigInt(start)) n++;
  }
  return n;
}

function abortError(): Error {
  const e = new Error('the operation was aborted');
  e.name = 'AbortError';
  return e;
}

/** The bytes of the files under `dir` (0 when there is none yet); files that vanish while it walks are not counted. */
export async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  const folders = [dir];
  for (let d = folders.pop(); d !== undefined; d = folders.pop()) {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = join(d, e.name);
      if (e.isDirectory()) folders.push(path);
      else if (e.isFile()) total += await stat(path).then((s) => s.size, () => 0);
    }
  }
  return total;
}
