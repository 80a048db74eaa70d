/**
 * Run one build command as a child process, the way a builder needs it:
 *  - contained, so a timeout or an abort kills the whole tree — `python -m
 *    build` runs the backend in a second interpreter, and a setup.py may start
 *    more — not just the first process (see `containment()`);
 *  - with exactly the environment it is given (nothing inherited);
 *  - with its output (stdout and stderr interleaved, as a terminal shows them)
 *    kept bounded: only the tail is retained, since that is where a build
 *    says what went wrong;
 *  - never throwing for a failed, killed or timed-out command: those are
 *    values in the result; only a command that cannot be started rejects.
 * Whatever is left of it when the command exits is killed too, so a build
 * cannot leave a daemon behind holding our pipes open.
 * https://man7.org/linux/man-pages/man2/setsid.2.html  https://nodejs.org/api/child_process.html#optionsdetached
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface RunOptions {
  /** The command and its arguments; argv[0] is looked up in `env.PATH` when it has no slash. */
  argv: readonly string[];
  cwd: string;
  /** The whole environment of the child: nothing of ours is inherited. */
  env: Readonly<Record<string, string>>;
  /** Kill the group after this long (ms). */
  timeoutMs: number;
  /** Kill the group when this fires. */
  signal?: AbortSignal;
  /** How much of the output's tail to keep (bytes); 64 KiB unless told. */
  maxOutputBytes?: number;
  /** 'process-group': contain the command only so, even where a PID namespace is available (the fallback, for tests). */
  containment?: 'process-group';
}

export interface RunResult {
  /** The exit code, or null when a signal ended the command. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last `maxOutputBytes` of stdout+stderr, decoded as UTF-8. */
  output: string;
  /** How many bytes of output the command wrote in all (more than `output` holds when it was cut). */
  outputBytes: number;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;
/** After the command exits and its group is killed, how long to wait for the pipes to close (a process that left the group may hold them). */
const CLOSE_GRACE_MS = 2000;

/** Keeps the last `max` bytes of what is pushed, in chunks, without copying everything every time. */
class Tail {
  private chunks: Buffer[] = [];
  private held = 0;
  total = 0;
  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.held += chunk.length;
    while (this.chunks.length > 1 && this.held - this.chunks[0]!.length >= this.max) this.held -= this.chunks.shift()!.length;
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

/**
 * How far the kill of a build reaches:
 *  - 'pid-namespace': the command runs in a PID namespace of its own
 *    (`unshare --pid --fork --kill-child`), and the kernel kills everything in
 *    it when its first process dies — even a daemon that called setsid() and so
 *    left the process group. The process group is killed too, as before;
 *  - 'process-group': only the process group is killed (no usable `unshare`:
 *    not Linux, util-linux too old, or namespaces not allowed here); a process
 *    that called setsid() escapes and can outlive the build and the tool.
 * Only the PID namespace is new: network, mounts and users are shared (npm's
 * prepare installs need the network; npm behaves otherwise as root, so a user
 * that is not root gets a user namespace mapped to its own uid, never to root).
 * https://man7.org/linux/man-pages/man7/pid_namespaces.7.html  https://man7.org/linux/man-pages/man1/unshare.1.html
 */
export type Containment = 'pid-namespace' | 'process-group';

/**
 * The flags tried, in order: root (or CAP_SYS_ADMIN) needs only the PID
 * namespace; anyone else may get one inside a user namespace of their own.
 */
const UNSHARE_FLAGS = [
  ['--pid', '--fork', '--kill-child'],
  ['--user', '--map-current-user', '--pid', '--fork', '--kill-child'],
] as const;
/** The probe starts two small processes; generous, since a loaded machine is slow to start node. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * The namespace's first process: a node script that starts the command as its
 * child and reports how it ended, as JSON on its stdout: `{code, signal}`, or
 * `{error}` when it could not be started (spawn's own error, so the caller sees
 * what it saw before: ENOENT, EACCES).
 * Why not let unshare exec the command itself: the first process of a PID
 * namespace is its init, and the kernel drops every signal sent to an init that
 * has no handler for it (only SIGKILL and SIGSTOP from outside get through), so
 * a command run as init would survive its own `kill -TERM $$`, a `kill 0`, or a
 * SIGPIPE; and unshare reports a child killed by a signal by re-raising the
 * signal on itself, which an init cannot do either (a nested `unshare --fork`
 * exits 1 "child exit failed"). As the init's child, the command is started
 * by node's spawn exactly as before: argv[0] looked up in `env.PATH`, the
 * signals' dispositions reset, stdin /dev/null. Its stdout and stderr are both
 * the init's stderr, one pipe (interleaved in the order they were written).
 * The job comes as one JSON line on stdin, not in argv: the env may hold a
 * token, and argv is in `ps` for everyone. The pipe then stays open while the
 * command runs; it closes when this process dies, however it dies (kill -9
 * included, when nothing of ours runs to kill anything), and the init then
 * exits, which takes the whole namespace with it.
 */
const INIT = `
const { spawn } = require('node:child_process');
const { writeSync } = require('node:fs');
const { signals } = require('node:os').constants;
const report = (status, code) => { writeSync(1, JSON.stringify(status)); process.exit(code); };
const failed = (e) => report({ error: { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path } }, 127);
const start = (job) => {
  try {
    spawn(job.argv[0], job.argv.slice(1), { env: job.env, stdio: ['ignore', 2, 2] })
      .on('error', failed)
      .on('exit', (code, signal) => report({ code, signal }, code ?? 128 + signals[signal]));
  } catch (e) {
    failed(e);
  }
};
let text = '';
let job;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  if (job) return;
  text += chunk;
  const nl = text.indexOf('\\n');
  if (nl >= 0) start((job = JSON.parse(text.slice(0, nl))));
});
process.stdin.on('end', () => {
  if (!job && text) start((job = JSON.parse(text)));
  // the tool keeps its end open while the command runs: closed now, the tool is gone
  // (killed, even with SIGKILL), and this init's exit takes the namespace with it
  else if (job && job.holdsStdin) process.exit(137);
});
`;

/** What the init reports (see INIT). */
interface InitStatus {
  code?: number | null;
  signal?: NodeJS.Signals | null;
  error?: { message: string; code?: string; errno?: number; syscall?: string; path?: string };
}

function parseStatus(data: Buffer): InitStatus | undefined {
  try {
    const status: unknown = JSON.parse(data.toString('utf8'));
    return typeof status === 'object' && status !== null ? (status as InitStatus) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How this machine contains builds; probed the first time it is asked (it runs
 * `unshare … node -e INIT` once, synchronously, with `node --version` as the
 * command), then kept for the life of the process.
 */
export function containment(): Containment {
  return namespacePrefix() === null ? 'process-group' : 'pid-namespace';
}

let probed: { prefix: readonly string[] | null } | undefined;
/** The argv that starts a command in a PID namespace (unshare, its flags, the init), or null: none here. */
function namespacePrefix(): readonly string[] | null {
  probed ??= { prefix: probe() };
  return probed.prefix;
}

function probe(): readonly string[] | null {
  const unshare = findUnshare();
  if (unshare === undefined) return null;
  for (const flags of UNSHARE_FLAGS) {
    const prefix = [unshare, ...flags, '--', process.execPath, '-e', INIT];
    const r = spawnSync(unshare, prefix.slice(1), {
      input: JSON.stringify({ argv: [process.execPath, '--version'], env: {} }),
      env: {},
      stdio: ['pipe', 'pipe', 'ignore'],
      timeout: PROBE_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    if (r.status === 0 && parseStatus(r.stdout)?.code === 0) return prefix;
  }
  return null;
}

/**
 * unshare's absolute path, from our own PATH or the usual places: the command's
 * `env.PATH` is for the command (the init looks argv[0] up in it), not for us.
 */
function findUnshare(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (!dir.startsWith('/')) continue; // a relative entry would depend on the cwd
    const path = join(dir, 'unshare');
    try {
      accessSync(path, fsConstants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The error spawn gave the init, as spawn would have given it to us. */
function startError(e: NonNullable<InitStatus['error']>, argv: readonly string[]): Error {
  return Object.assign(new Error(e.message), { code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, spawnargs: argv.slice(1) });
}

/**
 * Process groups of builds still running. A build is in its own session, so the
 * terminal's Ctrl-C never reaches it: when this process exits any other way than
 * through the abort (a second Ctrl-C, the stop's backstop, an uncaught error), the
 * groups are killed here, or a hung setup.py would outlive the tool. Killing
 * a group kills its namespace's init, and with it the whole namespace.
 */
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // ESRCH: already gone
    }
  }
});

/**
 * Runs `argv` and resolves once it has exited and its output pipes are closed.
 * Rejects only when it cannot be started (no such program, cwd missing).
 */
export function runProcess(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const tail = new Tail(opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT);
  const [command, ...args] = opts.argv;
  if (command === undefined) return Promise.reject(new Error('runProcess: empty argv'));
  if (opts.signal?.aborted) {
    return Promise.resolve({ exitCode: null, signal: null, output: '', outputBytes: 0, timedOut: false, aborted: true, durationMs: 0 });
  }
  const prefix = opts.containment === 'process-group' ? null : namespacePrefix();
  const namespaced = prefix !== null;

  return new Promise<RunResult>((resolve, reject) => {
    // unshare gets no environment: the init reads the command's from stdin.
    const child: ChildProcess = prefix
      ? spawn(prefix[0]!, prefix.slice(1), { cwd: opts.cwd, env: {}, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(command, args, { cwd: opts.cwd, env: { ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) liveGroups.add(child.pid);
    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const status: Buffer[] = [];

    // The group id is unshare's pid, or the command's (setsid). kill(-pgid)
    // reaches every process still in it, even after the leader itself has
    // exited; killing the init ends the namespace with all that is left in it.
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing left in the group.
      }
    };
    const onAbort = () => {
      aborted = true;
      killGroup();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      if (settled || !exit) return;
      settled = true;
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      clearTimeout(timer);
      clearTimeout(graceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      const reported = namespaced ? parseStatus(Buffer.concat(status)) : undefined;
      if (reported?.error) {
        reject(startError(reported.error, opts.argv));
        return;
      }
      // How the command ended, as the init saw it; with no report (the init was
      // killed with the group, or could not start) unshare's own end says it:
      // it exits with its child's code, or re-raises the signal that killed it.
      const ended = reported && 'code' in reported ? { code: reported.code ?? null, signal: reported.signal ?? null } : exit;
      resolve({
        exitCode: ended.code,
        signal: ended.signal,
        output: tail.text(),
        outputBytes: tail.total,
        timedOut,
        aborted,
        durationMs: Date.now() - started,
      });
    };

    if (namespaced) {
      child.stdin!.on('error', () => {
        // EPIPE: the init is gone before reading the job; how it ended says why.
      });
      // one line, and the pipe kept open while the command runs: the init ends everything
      // when it closes, which the kernel does when this process dies however it dies
      child.stdin!.write(`${JSON.stringify({ argv: opts.argv, env: opts.env, holdsStdin: true })}\n`);
      child.stdout!.on('data', (c: Buffer) => status.push(c));
    } else {
      child.stdout!.on('data', (c: Buffer) => tail.push(c));
    }
    child.stderr!.on('data', (c: Buffer) => tail.push(c));
    child.on('error', (err) => {
      // Spawn failed (ENOENT, EACCES, bad cwd): there is no process to wait for.
      if (exit || settled) return;
      settled = true;
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      child.stdin?.destroy();
      // Stragglers in the group would keep the pipes (and 'close') waiting forever.
      killGroup();
      graceTimer = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish();
      }, CLOSE_GRACE_MS);
    });
    child.on('close', finish);
  });
}
