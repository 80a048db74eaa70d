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
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicFile } from '../atomic-file.js';
import { confirmQuiet } from '../net/silence.js';
import { keepTail } from '../redact.js';

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

/**
 * The environment variable every transfer's git is started with, holding a random value of
 * that transfer's own: git's children (ssh, index-pack, remote helpers) inherit it, so a
 * process whose /proc/<pid>/environ holds it is that transfer's, whatever its pid.
 */
export const TRANSFER_ENV = 'CODEARTIFACT_MIGRATE_TRANSFER';

/**
 * The git process groups running now, each with its record file (groupFile), if any: killed
 * when this process exits (a second Ctrl-C, a crash), and their records removed with them, so
 * the next run does not find a stale record naming a group that is gone.
 */
const liveGroups = new Map<number, string | undefined>();
process.on('exit', () => {
  for (const [pid, file] of liveGroups) {
    // a group this process could not signal is left recorded: the next run tries again
    if (killGroup(pid, 'SIGKILL') && file) rmQuietly(file);
  }
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
    // first in the environment: the one read of /proc/<pid>/environ that looks for it finds it early
    const token = randomBytes(16).toString('hex');
    const env = { [TRANSFER_ENV]: token, ...(opts.env ?? process.env) };
    env[TRANSFER_ENV] = token;
    // SIGXFSZ ignored, as node ignores it (and git's children inherit it: index-pack writes the
    // pack): a write past a file-size limit then fails with EFBIG and git says "File too large",
    // read as this machine's ELOCAL, where a killed index-pack said only "invalid index-pack
    // output", taken for the server's fault and retried. `exec` keeps the pid, the group and
    // the name `git` the orphan check reads.
    const child = spawn('/bin/sh', ['-c', 'trap "" XFSZ; exec git "$@"', 'git', ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
    // how often git spoke (confirmQuiet: this process's own stall is not git's silence)
    let heardTimes = 0;
    const heard = () => {
      heardTimes++;
      clearTimeout(idle);
      if (!cut) idle = setTimeout(() => confirmQuiet(() => heardTimes, opts.idleMs, () => stop(new TransferCut('silent'))), opts.idleMs);
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
      liveGroups.set(pid, opts.groupFile);
      if (opts.groupFile) recordGroup(opts.groupFile, pid, token);
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    heard();
    void measure();
    child.stdout.on('data', heard);
    child.stderr.on('data', (c: Buffer) => {
      heard();
      said = keepTail(said + c.toString('utf8'), 8_000);
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

/** Signal process group `pid`; false when it could not be (EPERM: another user's), true when signalled or gone. */
function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  return killQuietly(-pid, signal);
}

function killQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (e) {
    // ESRCH: gone already
    return (e as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

function rmQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // a folder in its place, or no right to: the next reader refuses it
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

/** The most of /proc/<pid>/environ read for the token (the token is put first; a child that added to its environment keeps it near the start). */
const ENVIRON_MAX_BYTES = 256 * 1024;
let environBuffer: Buffer | undefined;

/**
 * Whether `pid`'s environment holds `TRANSFER_ENV=<token>`: 'yes', 'no', or 'unknown' when
 * it cannot be read (another user's process: EACCES), or the process is gone.
 */
function carriesToken(pid: number, token: string): 'yes' | 'no' | 'unknown' {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/environ`, constants.O_RDONLY);
  } catch {
    return 'unknown';
  }
  try {
    // one buffer for every read: a stop polls each member's environment up to 80 times
    const buf = (environBuffer ??= Buffer.alloc(ENVIRON_MAX_BYTES));
    let len = 0;
    for (let n = 1; n > 0 && len < buf.length; len += n) n = readSync(fd, buf, len, buf.length - len, null);
    const env = `\0${buf.subarray(0, len).toString('latin1')}`;
    return env.includes(`\0${TRANSFER_ENV}=${token}\0`) ? 'yes' : 'no';
  } catch {
    return 'unknown';
  } finally {
    closeSync(fd);
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * `<pgid> <start time> <boot id> <token>`: the leader by pid and start time, and the value in
 * the environment of every process of the transfer. Written whole (a temporary file renamed
 * over the name): never a partial record, and a link planted under the name is replaced, not
 * written through.
 */
function recordGroup(file: string, pid: number, token: string): void {
  try {
    const out = new AtomicFile(file, (e) => (e instanceof Error ? e : new Error(String(e))), { mode: 0o600 });
    out.write(`${pid} ${procStat(pid)?.start ?? ''} ${bootId()} ${token}\n`);
    out.commit();
  } catch {
    // the mirror's folder is not there (a clone's parent is made first): nothing to stop later, and no reason to fail
  }
}

/** The most of a record read: one is under 100 bytes. */
const RECORD_MAX_BYTES = 256;

/**
 * The record's text, or undefined when there is none. What is not a regular file (a FIFO,
 * which would block the read and the whole run with it, a device, a symbolic link, which may
 * point at /dev/zero) is never read: it is removed, with a warning.
 */
function readRecord(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // ELOOP: a symbolic link (O_NOFOLLOW); anything else that cannot be opened is no record either
    if (code === 'ELOOP') refuse(file);
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) {
      refuse(file);
      return undefined;
    }
    const buf = Buffer.alloc(RECORD_MAX_BYTES);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function refuse(file: string): void {
  process.stderr.write(`warning: ${file} is not a regular file (a link, a FIFO or a device): not read, removed\n`);
  rmQuietly(file);
}

/** The git process group a killed run left transferring into a mirror still runs, and could not be stopped (EPERM: another user's; or a process that does not die). */
export class OrphanTransferStuck extends Error {
  constructor(readonly pgid: number) {
    super(`git process group ${pgid} could not be stopped`);
    this.name = 'OrphanTransferStuck';
  }
}

/**
 * The git process group a killed run left transferring into a mirror (`groupFile`, written
 * by runTransfer): stopped (SIGTERM, then SIGKILL) before the next transfer there, so two
 * gits never write into one mirror. The caller holds the job's lock, so no live run owns it.
 *
 * Only that transfer's processes are signalled, and a pid reused by an unrelated process
 * is left alone (records go stale: a run in another pid namespace sees the same boot id):
 * - the leader lives (same boot, pid, start time, name `git`) and its environment holds the
 *   record's token: the group is signalled as a whole (while it lives, no other group has its id);
 * - the leader is gone: each member of the group whose environment holds the token is
 *   signalled by its own pid, never the group (a later process may have taken the number);
 *   a member whose environment cannot be read (another user's) is taken for a stranger;
 * - a record an earlier release wrote (three fields, no token): the leader check by boot,
 *   pid, start time and name alone (which only that git passes), and a group without its
 *   leader is left alone (nothing tells its members from a process that reused the number).
 * Returns the group stopped, if any, and removes the record. Throws OrphanTransferStuck when
 * the transfer still runs after SIGTERM and SIGKILL, or is that git but cannot be verified
 * (its environment unreadable: another user's): the record is kept for the next run.
 */
export async function stopOrphanTransfer(groupFile: string): Promise<number | undefined> {
  const record = readRecord(groupFile);
  if (record === undefined) return undefined;
  const [pgidText, start, boot, token, ...more] = record.trim().split(' ');
  const valid =
    pgidText !== undefined && /^[1-9]\d{0,9}$/.test(pgidText) && Number(pgidText) > 1 && start !== undefined && /^\d+$/.test(start) && boot === bootId() && boot !== '' && more.length === 0 && (token === undefined || /^[0-9a-f]{32}$/.test(token));
  if (!valid) {
    rmQuietly(groupFile);
    return undefined;
  }
  const pgid = Number(pgidText);
  /** The leader's group to signal ('group'), the members' pids (leader gone), or nothing (undefined); 'stuck' when it is the git but cannot be verified. */
  const targets = (): 'group' | 'stuck' | number[] | undefined => {
    const leader = procStat(pgid);
    if (leader !== undefined && leader.pgrp === pgid && leader.state !== 'Z') {
      if (leader.start !== start || leader.comm !== 'git') return undefined;
      if (token === undefined) return 'group';
      const has = carriesToken(pgid, token);
      return has === 'yes' ? 'group' : has === 'unknown' ? 'stuck' : undefined;
    }
    // a leader that leads no group now, or is gone: members only, and only with the token
    if (token === undefined) return undefined;
    const pids = livingMembers(pgid, start).filter((p) => carriesToken(p, token) === 'yes');
    return pids.length ? pids : undefined;
  };
  const send = (t: 'group' | number[], signal: NodeJS.Signals) => (t === 'group' ? killGroup(pgid, signal) : t.forEach((p) => killQuietly(p, signal)));
  const waitWhile = async () => {
    let t = targets();
    for (let i = 0; i < 40 && t !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      t = targets();
    }
    return t;
  };
  let t = targets();
  if (t === undefined) {
    rmQuietly(groupFile);
    return undefined;
  }
  if (t !== 'stuck') {
    send(t, 'SIGTERM');
    // git removes its lock files on SIGTERM; one that does not stop within 2 s is killed outright
    t = await waitWhile();
    if (t !== undefined && t !== 'stuck') {
      send(t, 'SIGKILL');
      t = await waitWhile();
    }
  }
  // still there: signalling failed (EPERM) or it does not die (uninterruptible I/O)
  if (t !== undefined) throw new OrphanTransferStuck(pgid);
  rmQuietly(groupFile);
  return pgid;
}

/** The processes of group `pgid` that live (zombies aside) and started no earlier than its leader (`start`, clock ticks since boot). */
function livingMembers(pgid: number, start: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = procStat(Number(name));
    if (p && p.pgrp === pgid && p.state !== 'Z' && BigInt(p.start || '0') >= BigInt(start)) out.push(Number(name));
  }
  return out;
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
