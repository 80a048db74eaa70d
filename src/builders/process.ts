/**
 * Run one build command as a child process, the way a builder needs it:
 *  - in its own process group (`detached`: setsid), so a timeout or an abort
 *    kills the whole tree — `python -m build` runs the backend in a second
 *    interpreter, and a setup.py may start more — not just the first process;
 *  - with exactly the environment it is given (nothing inherited);
 *  - with its output (stdout and stderr interleaved, as a terminal shows them)
 *    kept bounded: only the tail is retained, since that is where a build
 *    says what went wrong;
 *  - never throwing for a failed, killed or timed-out command: those are
 *    values in the result; only a command that cannot be started rejects.
 * Whatever is left of the group when the command exits is killed too, so a
 * build cannot leave a daemon behind holding our pipes open.
 * https://man7.org/linux/man-pages/man2/setsid.2.html  https://nodejs.org/api/child_process.html#optionsdetached
 */
import { spawn } from 'node:child_process';

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
 * Process groups of builds still running. A build is in its own session, so the
 * terminal's Ctrl-C never reaches it: when this process exits any other way than
 * through the abort (a second Ctrl-C, the stop's backstop, an uncaught error), the
 * groups are killed here, or a hung setup.py would outlive the tool.
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

  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: { ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) liveGroups.add(child.pid);
    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;

    // The group id is the child's pid (setsid). kill(-pgid) reaches every
    // process still in it, even after the leader itself has exited.
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
      resolve({
        exitCode: exit.code,
        signal: exit.signal,
        output: tail.text(),
        outputBytes: tail.total,
        timedOut,
        aborted,
        durationMs: Date.now() - started,
      });
    };

    child.stdout.on('data', (c: Buffer) => tail.push(c));
    child.stderr.on('data', (c: Buffer) => tail.push(c));
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
      // Stragglers in the group would keep the pipes (and 'close') waiting forever.
      killGroup();
      graceTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, CLOSE_GRACE_MS);
    });
    child.on('close', finish);
  });
}
