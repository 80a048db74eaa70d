#!/usr/bin/env node
/**
 * codeartifact-migrate (alias cam). Exit codes: 0 every selected version is
 * verified or present-identical; 1 something failed or conflicted; 2 bad input.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Command, InvalidArgumentError } from 'commander';
import { goproxyCommand } from './goproxy.js';
import { hardenCommand } from './harden.js';
import { ledgerExportCommand, ledgerVerifyCommand } from './ledger.js';
import { planCommand, reportCommand } from './plan.js';
import { print, processIo, reportError, wantsJson } from './output.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { warmCommand } from './warm.js';
import { rewriteCommand } from './rewrite.js';
import { readToolVersion } from '../version.js';
import { checkProxyVariables } from '../net/agents.js';

// V8 lets its heap grow to several times what is live while a process allocates fast: the
// same run, holding 27-36 MB, peaked at 151 MB RSS at 10 publishes/s and 240 MB at 100/s.
// Collecting once the heap is twice what is live keeps the peak near flat (173-177 MB at
// 100/s) at no measured cost in throughput (the bench's quota sweep); half again (50)
// held 158-169 MB but cost up to 6 points of the quota in collections. A flag given to
// node itself (NODE_OPTIONS, or on its command line) wins.
if (![...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--heap-growing-percent'))) setFlagsFromString('--heap-growing-percent=100');

// The AWS SDK warns, eight lines on stderr, that its releases after January 2027 need Node
// 22. The versions package-lock.json pins run on Node 20 (engines: >=20.19), so for the
// operator it is noise on every command; the README says when Node 22 is needed. Set the
// variable to anything but "true" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * stdout or stderr that fails (the reader gone, `cam run job | head -1`; a full disk under
 * `> file`; a descriptor closed or opened read-only by a wrapper) must not end a migration
 * halfway with a stack trace: nothing more is written there and the command goes on (a run
 * finishes its work and records it). Lost progress lines on stderr change nothing else; a
 * cut stdout does: a command that would have exited 0 exits 1, said on stderr if stderr still
 * works, so a script never takes a cut summary or export for a whole one.
 */
const outputFailed: { stdout?: string; stderr?: string } = {};
for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]] as const) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    outputFailed[name] ??= e.code ?? e.message;
  });
}
process.on('exit', () => {
  if (outputFailed.stdout === undefined) return;
  if (!process.stderr.destroyed) {
    try {
      process.stderr.write(`error: stdout failed (${outputFailed.stdout}): what this command printed there is cut short\n`);
    } catch {
      // stderr is gone too: the exit code says it
    }
  }
  if (!process.exitCode) process.exitCode = 1;
});

/**
 * A number as people write one on a command line (`8`, `2.5`), else NaN: Number() reads an
 * empty or blank value (`--pending-timeout "$UNSET"`) as 0, and `0x10` or `1e1` as numbers
 * nobody meant.
 */
function decimal(value: string): number {
  return /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
}

/** --concurrency: as limits.concurrency allows (a typo of 10000 is no way to run 10,000 packages at once). */
function packageCount(value: string): number {
  const n = decimal(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidArgumentError('expected a whole number from 1 to 1024 (as limits.concurrency)');
  return n;
}

/**
 * A path as the operator meant it: `~` and `~/…` are the home folder, as a shell would have made
 * them. No shell expands a tilde after `=` (`--state-dir=~/cam`), in quotes, or in a variable a
 * systemd unit or an .env file sets (CAM_STATE_DIR=~/cam): taken as it is, it made a folder named
 * `~` in the working folder, holding the state (a second state, which the next run from a shell
 * never reads), and one `rm -rf ~` away from the operator's home.
 */
function homePath(value: string): string {
  return value === '~' || value.startsWith('~/') ? join(homedir(), value.slice(1)) : value;
}

/**
 * A folder or file named on the command line: an empty one (`--state-dir "$UNSET"`) would
 * silently be the current folder, and a state there is a second state the job's reruns never read.
 */
function pathOption(what: 'folder' | 'file'): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new InvalidArgumentError(`expected a ${what}; an empty one would be the current folder (is the variable it came from unset?)`);
    // `-` is stdout by the usual convention where a command writes one file (ledger export); a
    // folder of several files has no stdout form, and a folder named `-` is never what was meant
    if (value === '-' && what === 'folder') throw new InvalidArgumentError('expected a folder: "-" (stdout) is no place for the report\'s three files; name a folder, e.g. --out ./reports');
    // commander gives a required value whatever comes next: `--out --json` (the value left out)
    // made a folder named `--json` and wrote the report there, exit 0
    if (value.startsWith('-') && value !== '-') throw new InvalidArgumentError(`"${value}" looks like an option, not a ${what}: was the ${what} left out? (a path that starts with a dash: write it ./${value})`);
    return homePath(value);
  };
}

/**
 * A value that is no path (an address, a host name): one that starts with a dash is the next flag,
 * its own value left out (`--allowed-host --json` answered a Host header of "--json" and printed text).
 */
function notAnOption(what: string): (value: string) => string {
  return (value) => {
    if (value.startsWith('-')) throw new InvalidArgumentError(`"${value}" looks like an option, not ${what}: was the ${what.replace(/^an? /, '')} left out?`);
    return value;
  };
}

/** --max-connections: at least one, and no more than a process could hold file descriptors for. */
function connectionCount(value: string): number {
  const n = decimal(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a whole number from 1 to 65535');
  return n;
}

function portNumber(value: string): number {
  const n = decimal(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

/**
 * Ctrl-C and SIGTERM for a command that stops cleanly: the first aborts the
 * returned signal (the command drains what is in flight and exits); the second
 * exits at once with 130. With `backstop`, the process ends `stopWithinMs`
 * after the first whatever hangs (a stuck peer, a blocked file system); a job's
 * grace period, once its file is loaded, sets that time (`stopWithin(job)`).
 */
function interruptible(backstop: boolean): { signal: AbortSignal; stopWithin: (j: { config: { limits: { stopGraceSeconds: number } } }) => void } {
  const controller = new AbortController();
  let stopWithinMs = 15_000;
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(130);
    controller.abort();
    if (backstop) setTimeout(() => process.exit(130), stopWithinMs).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // the terminal closed (an ssh session dropped): stop as for SIGTERM, never in the middle of a write
  process.on('SIGHUP', onSignal);
  return { signal: controller.signal, stopWithin: (j) => (stopWithinMs = j.config.limits.stopGraceSeconds * 1000 + 5_000) };
}

/**
 * Ctrl-C, SIGTERM and SIGHUP for a command that only reads the state (status, report, ledger
 * export). Killed by the signal's default action, it ran no 'exit' handler, and the private copy
 * of the state it may be reading (in the temp folder: a read-only state, an older release's)
 * stayed there for good. Here the command ends where it stands (a long export between two
 * lines) and `done` exits 130 at once, whatever stdout still holds for a reader that stalls.
 */
function readOnlyStop(): { signal: AbortSignal; done: (code: number) => void } {
  const stop = interruptible(true);
  return {
    signal: stop.signal,
    done: (code) => {
      if (stop.signal.aborted) process.exit(130);
      process.exitCode = code;
    },
  };
}

/**
 * Whether a command's error goes to stdout as a JSON document, as the command itself decides:
 * with --json, or by default on a stdout that is no terminal; rewrite-lockfiles only with --json
 * (its stdout is a diff for `git apply`).
 */
function commandWantsJson(command: string | undefined, flag: boolean | undefined): boolean {
  return command === 'rewrite-lockfiles' ? flag === true : wantsJson(flag, processIo);
}

/** The command an argv names (its first word past the global options), and whether it has --json: for a usage error, which commander raises before any command runs. */
function usageOf(argv: readonly string[]): { command?: string; json: boolean } {
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--state-dir') i++;
    else if (!a.startsWith('-')) {
      // ledger's subcommands are its words: `ledger export`
      command = a === 'ledger' && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-') ? `ledger ${argv[i + 1]}` : a;
      break;
    }
  }
  return { command, json: argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined).includes('--json') };
}

export function buildProgram(): Command {
  const program = new Command('codeartifact-migrate')
    .description('Move every version of internal packages into AWS CodeArtifact, byte for byte, verified on both sides, resumable.')
    // which release runs here: the one a ledger entry's toolVersion and "written by a newer codeartifact-migrate" are about
    .version(readToolVersion(), '-V, --version', 'print the version of codeartifact-migrate')
    // an empty CAM_STATE_DIR is an unset one, as for most variables
    .option('--state-dir <dir>', 'where <job>.sqlite and blobs live (env CAM_STATE_DIR)', pathOption('folder'), homePath(process.env.CAM_STATE_DIR || 'state'))
    .showHelpAfterError()
    .exitOverride()
    // a proxy variable npm's agent cannot use fails every connection alike: said once, before anything starts
    .hook('preAction', (_program, command) => {
      if (command.name() === 'status' || command.name() === 'report' || command.name() === 'export') return;
      try {
        checkProxyVariables();
      } catch (e) {
        process.exit(reportError(e, processIo, commandWantsJson(command.name(), (command.opts() as { json?: boolean }).json)));
      }
    });

  program
    .command('run')
    .description('migrate every selected version of the job (rerun after any failure to continue)')
    .argument('<job>', 'job file, e.g. jobs/example.yaml')
    .option('--dry-run', 'list, download and verify, compare with the target; write nothing to CodeArtifact')
    .option('--json', 'print the final summary as JSON (default when stdout is not a terminal)')
    .option('--concurrency <n>', 'packages worked on at once, 1..1024 (overrides limits.concurrency)', packageCount)
    .option('--retarget', 'the job names another domain or internal repository than the state records: check every version against the new one again (from the files already downloaded or built)')
    .option('-q, --quiet', 'no progress output')
    .action(async (job: string, flags: { dryRun?: boolean; json?: boolean; concurrency?: number; retarget?: boolean; quiet?: boolean }) => {
      const stop = interruptible(true);
      const code = await runCommand(
        job,
        { ...flags, stateDir: program.opts().stateDir, signal: stop.signal, onJobLoaded: stop.stopWithin },
        processIo,
      );
      process.exitCode = stop.signal.aborted ? 130 : code;
    });

  program
    .command('plan')
    .description('everything a run does but write to CodeArtifact (enforced), plus the preflight audit; writes the report (JSON, Markdown, HTML)')
    .argument('<job>', 'job file')
    .option('--no-download', 'only list: nothing downloaded or built, the target compared by its listings')
    .option('--no-target', 'no AWS access at all: inventory and source checks only')
    .option('--out <dir>', 'where the report files go (default <state-dir>/reports)', pathOption('folder'))
    .option('--retarget', 'the job names another domain or internal repository than the state records: plan against the new one (the state moves to it)')
    .option('--json', 'print the report as JSON (default when stdout is not a terminal)')
    .option('-q, --quiet', 'no progress output')
    .action(async (job: string, flags: { download: boolean; target: boolean; out?: string; retarget?: boolean; json?: boolean; quiet?: boolean }) => {
      const stop = interruptible(true);
      const code = await planCommand(
        job,
        { noDownload: !flags.download, noTarget: !flags.target, out: flags.out, retarget: flags.retarget, json: flags.json, quiet: flags.quiet, stateDir: program.opts().stateDir, signal: stop.signal, onJobLoaded: stop.stopWithin },
        processIo,
      );
      process.exitCode = stop.signal.aborted ? 130 : code;
    });

  program
    .command('report')
    .description('the report (JSON, Markdown, HTML) of what the state records: planned against done, every version, failures with codes and hints')
    .argument('<job>', 'job file')
    .option('--out <dir>', 'where the report files go (default <state-dir>/reports)', pathOption('folder'))
    .option('--json', 'print the report as JSON (default when stdout is not a terminal)')
    .action(async (job: string, flags: { out?: string; json?: boolean }) => {
      const stop = readOnlyStop();
      stop.done(await reportCommand(job, { ...flags, stateDir: program.opts().stateDir }, processIo));
    });

  program
    .command('harden')
    .description('origin configuration on every internal package (publish ALLOW, upstream BLOCK): no public package can shadow them')
    .argument('<job>', 'job file')
    .option('--dry-run', 'say what would change; change nothing')
    .option('--package-groups', 'also a package group per npm scope that blocks external upstreams')
    .option('--json', 'print the result as JSON (default when stdout is not a terminal)')
    .action(async (job: string, flags: { dryRun?: boolean; packageGroups?: boolean; json?: boolean }) => {
      // Ctrl-C aborts the change in flight (each is idempotent: the next harden reads the package again) and records what was done; a second one exits at once
      const stop = interruptible(true);
      const code = await hardenCommand(job, { ...flags, stateDir: program.opts().stateDir, signal: stop.signal }, processIo);
      process.exitCode = stop.signal.aborted ? 130 : code;
    });

  const ledger = program.command('ledger').description('the provenance ledger: every publish, identical version, conflict, failure and origin change, hash-chained');
  ledger
    .command('export')
    .description('write the ledger as JSON Lines (with a trailer: entry count and head hash) or CSV')
    .argument('<job>', 'job file')
    .option('--out <file>', 'write here instead of stdout (- is stdout)', pathOption('file'))
    .option('--format <format>', 'jsonl (default) or csv', (v: string) => {
      if (v !== 'jsonl' && v !== 'csv') throw new InvalidArgumentError('jsonl or csv');
      return v;
    })
    .action(async (job: string, flags: { out?: string; format?: 'jsonl' | 'csv' }) => {
      const stop = readOnlyStop();
      stop.done(await ledgerExportCommand(job, { ...flags, stateDir: program.opts().stateDir, json: true, signal: stop.signal }, processIo));
    });
  ledger
    .command('verify')
    .description('recompute the chain of an exported ledger; with --job, read the target again and report files that changed')
    .argument('<file>', 'a file written by ledger export')
    .option('--head <hash>', 'the head hash kept when it was exported')
    .option('--since <file>', 'an earlier export of the same ledger: this one must hold all its entries (a fork or a cut is reported)', pathOption('file'))
    .option('--job <job>', 'the job file: check every migrated version on the target again', pathOption('file'))
    .option('--download', "with --job: also download every file and hash its bytes (the listing's hashes are the target's word)")
    .option('--json', 'print the result as JSON (default when stdout is not a terminal)')
    .action(async (file: string, flags: { head?: string; since?: string; job?: string; download?: boolean; json?: boolean }) => {
      // the first Ctrl-C stops the reading of the target and prints what was read; a second one exits at once
      const stop = interruptible(true);
      const code = await ledgerVerifyCommand(file, { ...flags, stateDir: program.opts().stateDir, signal: stop.signal }, processIo);
      process.exitCode = stop.signal.aborted ? 130 : code;
    });

  program
    .command('status')
    .description('counts by state, failures and conflicts with their errors, from the state database')
    .argument('<job>', 'job file')
    .option('--json', 'print the result as JSON (default when stdout is not a terminal)')
    .action((job: string, flags: { json?: boolean }) => {
      const stop = readOnlyStop();
      stop.done(statusCommand(job, { ...flags, stateDir: program.opts().stateDir }, processIo));
    });

  program
    .command('goproxy')
    .description("serve the job's generic repository to the Go toolchain (GOPROXY protocol, read-only) until Ctrl-C")
    .argument('<job>', 'job file (its target.repositories.generic.internal is served)')
    .option('--port <n>', 'port to listen on (0: any free port)', portNumber, 8085)
    .option('--host <address>', 'address to listen on', notAnOption('an address'), '127.0.0.1')
    .option('--allow-remote', 'listen on a non-loopback address: the proxy has no authentication and reads with your AWS credentials')
    .option('--allowed-host <name>', 'also answer requests whose Host is this name (repeatable; a DNS name clients use for the proxy)', (name: string, names: string[] = []) => [...names, notAnOption('a host name')(name)])
    .option('--max-connections <n>', 'connections open at once; a request on one past them is answered 503 (default 256)', connectionCount)
    .option('--json', 'print the URL and environment as JSON (default when stdout is not a terminal)')
    .action(async (job: string, flags: { port: number; host: string; allowRemote?: boolean; allowedHost?: string[]; maxConnections?: number; json?: boolean }) => {
      // first Ctrl-C/SIGTERM: stop serving and exit 0 (downloads in flight are cut off: go discards a partial one)
      const stop = interruptible(false);
      process.exitCode = await goproxyCommand(job, { ...flags, signal: stop.signal }, processIo);
    });

  program
    .command('warm')
    .description("request every public package version the job's lockfiles pin through its *-store repositories, check the bytes, report what could not be cached")
    .argument('<job>', 'job file (its warm: section names the lockfiles and git repositories)')
    .option('--json', 'print the summary as JSON (default when stdout is not a terminal)')
    .option('--pending-timeout <seconds>', 'how long to wait for the store to list a version (overrides warm.pendingTimeoutSeconds)', (v: string) => {
      const n = decimal(v);
      if (!Number.isFinite(n) || n < 0 || n > 3600) throw new InvalidArgumentError('expected seconds from 0 to 3600');
      return n;
    })
    .option('--retarget', 'the job names another domain or internal repository than the state records: warm against the new one (every entry decided again)')
    .option('-q, --quiet', 'no progress output')
    .action(async (job: string, flags: { json?: boolean; pendingTimeout?: number; retarget?: boolean; quiet?: boolean }) => {
      const stop = interruptible(true);
      const code = await warmCommand(
        job,
        { json: flags.json, quiet: flags.quiet, pendingTimeoutSeconds: flags.pendingTimeout, retarget: flags.retarget, stateDir: program.opts().stateDir, signal: stop.signal, onJobLoaded: stop.stopWithin },
        processIo,
      );
      process.exitCode = stop.signal.aborted ? 130 : code;
    });

  program
    .command('rewrite-lockfiles')
    .description("point the job's lockfiles at the shared repositories (registry URLs only; integrity and everything else untouched): a diff, or --write")
    .argument('<job>', 'job file (its warm: section names the lockfiles)')
    .option('--write', 'apply the changes to the local lockfiles (default: print a unified diff)')
    .option('--json', 'print what would change as JSON')
    .action(async (job: string, flags: { write?: boolean; json?: boolean }) => {
      // a stop ends the clone or fetch of a warm repository in flight (its git group with it), never a lockfile's write
      const stop = interruptible(true);
      const code = await rewriteCommand(job, { ...flags, stateDir: program.opts().stateDir, signal: stop.signal }, processIo);
      process.exitCode = stop.signal.aborted ? 130 : code;
    });

  return program;
}

// A progress bar hides the terminal's cursor until it stops; a second Ctrl-C (or the end of the
// grace period) exits at once, the bar still up, and the operator's terminal had no cursor after.
if (process.stderr.isTTY) process.on('exit', () => process.stderr.write('\x1b[?25h'));

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  const err = e as { code?: string; exitCode?: number; message?: string };
  // commander already printed its message (unknown option, missing argument, --help) on stderr
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) process.exitCode = 0;
  else {
    // a bad flag is bad input (ECONFIG in the exit-code table): where the command would print its
    // result as JSON, a script reading stdout gets the error document every other bad input gives
    const usage = usageOf(process.argv.slice(2));
    if (commandWantsJson(usage.command, usage.json)) {
      const message = err.code === 'commander.help' ? 'no command given' : (err.message ?? String(e)).replace(/^error: /, '');
      const known = usage.command !== undefined && err.code !== 'commander.unknownCommand';
      print(process.stdout, `${JSON.stringify({ error: { code: 'ECONFIG', message, hint: `see codeartifact-migrate ${known ? `${usage.command} ` : ''}--help` } })}\n`);
    }
    process.exitCode = 2;
  }
}
