/**
 * How results reach a person or a program: JSON on stdout when asked (or when
 * stdout is not a terminal), words otherwise; progress always on stderr.
 */
import cliProgress from 'cli-progress';
import { MigrateError, toError } from '../errors.js';
import type { ProgressEvent, RunSummary } from '../engine/events.js';
import { forOutput } from '../redact.js';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr };

/**
 * Every text this tool prints goes through here: redacted (no secret, no URL
 * query) and harmless to a terminal (names from a source may carry escape
 * sequences). The progress bar's own escape codes are written by cli-progress.
 */
export function print(stream: NodeJS.WritableStream, text: string): void {
  stream.write(forOutput(text));
}

/**
 * One entry of a human form, whatever its texts hold: an error can end with a build's log
 * and a detail can come from a registry, which a hostile source writes, so every line after
 * the entry's first is marked as its continuation and none can pass for another entry (a
 * FAILED line, a count, a run).
 */
export function continued(entry: string): string {
  return entry.trimEnd().replace(/\r\n?|\n/g, '\n    | ');
}

/**
 * A human form, one entry per element, each through continued(): the one way every command
 * prints its words (status, run, warm, harden, plan/report, ledger verify), so no text a
 * source, a target, a build or a file hands us starts a line at the margin.
 */
export function printEntries(stream: NodeJS.WritableStream, entries: readonly string[]): void {
  if (entries.length) print(stream, `${entries.map(continued).join('\n')}\n`);
}

export function wantsJson(flag: boolean | undefined, io: Io): boolean {
  return flag === true || !io.stdout.isTTY;
}

/** Exit code for bad input: the job file, flags, environment, credentials, or a locked job. */
const BAD_INPUT = new Set(['ECONFIG', 'ELOCKED', 'ESTATE', 'ETARGETSETUP', 'ETARGETCHANGED', 'EPROXYAUTH', 'ETARGETCREDENTIALS']);

/** Print an error the user can act on (never a stack trace) and return the exit code. */
export function reportError(thrown: unknown, io: Io, json: boolean): number {
  const e = toError(thrown);
  const code = e instanceof MigrateError ? e.code : 'EUNEXPECTED';
  const exit = e instanceof MigrateError && (BAD_INPUT.has(e.code) || isSetupError(e)) ? 2 : 1;
  if (json) print(io.stdout, `${JSON.stringify({ error: { code, message: e.message, hint: e instanceof MigrateError ? e.hint : undefined } })}\n`);
  // a message quotes what a source or a target said (several lines, a build's log): it cannot print a "what to do" of its own
  printEntries(io.stderr, [`error ${code}: ${e.message}`, ...(e instanceof MigrateError && e.hint ? [`  what to do: ${e.hint}`] : [])]);
  if (process.env.CAM_DEBUG && e.stack) print(io.stderr, `${e.stack}\n`);
  return exit;
}

/** A source token variable that is not set is bad input, found before any work. */
function isSetupError(e: MigrateError): boolean {
  return e.code === 'ESOURCEAUTH' && /environment variable/.test(e.message);
}

export interface Progress<E> {
  onProgress: (e: E) => void;
  stop: () => void;
}

/** Progress as plain lines on stderr, one per event `line` has words for (a log, a pipe, CI). */
export function progressLines<E>(io: Io, line: (e: E) => string | undefined): Progress<E> {
  return {
    onProgress: (e) => {
      const text = line(e);
      if (text) print(io.stderr, `${text.replace(/\n/g, ' ')}\n`);
    },
    stop: () => {},
  };
}

/** A plain count line at least this often when stderr is no terminal (a log, CI): silence of minutes reads as a hang. */
const COUNT_LINE_EVERY_MS = 10_000;
/** ... and at each tenth of the way: a line per item would put 10,000 lines in the log of a 10,000-version check. */
const COUNT_LINE_STEPS = 10;

/**
 * Progress of a long count with nothing to say per item (`ledger verify` reading the target
 * again): on a terminal the bar `run` shows, otherwise a plain line each tenth of the way or
 * each 10 s, whichever comes first, and one at the end. `line` words the count for both.
 */
export function countProgress<P extends { done: number; total: number }>(io: Io, noun: string, line: (p: P) => string, now: () => number = Date.now): Progress<P> {
  if (io.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({ stream: io.stderr, format: `{bar} {value}/{total} ${noun} | {last}`, hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
    let started = false;
    return {
      onProgress: (p) => {
        if (!started) (bar.start(p.total, 0, { last: '' }), (started = true));
        bar.update(p.done, { last: forOutput(line(p)).replace(/\n/g, ' ') });
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let lastAt = now();
  let lastStep = 0;
  let last: P | undefined;
  let shown: P | undefined;
  const show = (p: P) => {
    print(io.stderr, `${line(p).replace(/\n/g, ' ')}\n`);
    shown = p;
    lastAt = now();
  };
  return {
    onProgress: (p) => {
      last = p;
      const step = p.total > 0 ? Math.floor((p.done * COUNT_LINE_STEPS) / p.total) : 0;
      if (step > lastStep || now() - lastAt >= COUNT_LINE_EVERY_MS) show(p);
      lastStep = Math.max(lastStep, step);
    },
    stop: () => {
      if (last && shown !== last) show(last);
    },
  };
}

/** Live progress: a bar on a terminal, plain lines otherwise. */
export function progressRenderer(io: Io, quiet: boolean): Progress<ProgressEvent> {
  if (quiet) return { onProgress: () => {}, stop: () => {} };
  if (io.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: io.stderr, format: '{bar} {value}/{total} versions | {rate} | {last}', hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    let done = 0;
    const start = Date.now();
    return {
      onProgress: (e) => {
        if (e.type === 'planned') bar.start(e.total, 0, { rate: '', last: '' });
        else if (e.type === 'retargeted') print(io.stderr, `${plainLine(e)}\n`);
        else if (e.type === 'item') {
          done++;
          bar.update(done, { rate: `${(done / ((Date.now() - start) / 1000)).toFixed(1)}/s`, last: forOutput(`${e.outcome} ${e.package}@${e.version}`).replace(/\n/g, ' ') });
        } else if (e.type === 'interrupting') bar.update(done, { last: `stopping after in-flight work, at most ${Math.round(e.graceMs / 1000)} s (Ctrl-C again to quit at once)` });
        else if (e.type === 'cutting-off') bar.update(done, { last: 'cutting off what is still in flight' });
      },
      stop: () => bar.stop(),
    };
  }
  return progressLines(io, plainLine);
}

function plainLine(e: ProgressEvent): string | undefined {
  switch (e.type) {
    case 'listed':
      return `listed ${e.package} (${e.versions} versions) from ${e.source}`;
    case 'list-error':
      return `cannot list ${e.package} from ${e.source}: ${e.message}`;
    case 'planned':
      return `${e.total} versions to work on, ${e.alreadyDone} already done`;
    case 'retargeted':
      return `the job names a new target: ${e.versions} versions recorded against ${e.from} are checked again`;
    case 'item':
      return `${e.outcome} ${e.package}@${e.version}${e.outcome.startsWith('failed') && e.message ? ` — ${e.message}` : ''}`;
    case 'retry':
      return `retry ${e.attempt} for ${e.subject} after ${e.code}, waiting ${Math.round(e.waitMs)} ms`;
    case 'metadata':
      return e.error ? `metadata of ${e.package} failed: ${e.error}` : e.changes.length ? `metadata of ${e.package}: ${e.changes.join(', ')}` : undefined;
    case 'interrupting':
      return `interrupted: finishing in-flight work for at most ${Math.round(e.graceMs / 1000)} s, then exiting (Ctrl-C again to quit at once)`;
    case 'cutting-off':
      return 'grace period over: cutting off what is still in flight (the next run settles it)';
    default: {
      const never: never = e;
      return String(never);
    }
  }
}

/**
 * What is left unfinished of a package the job no longer names, in words (run's summary and
 * status say it alike): versions never migrated, publishes a run of ours began (the target
 * may hold part of them), publishes cut off and not settled.
 */
export function notInJobLeft(notMigrated: readonly string[], publishBegun: readonly string[], unsettled: readonly string[] = []): string[] {
  return [
    notMigrated.length ? `${notMigrated.length} version(s) never migrated (${notMigrated.join(', ')})` : '',
    publishBegun.length ? `publish of ${publishBegun.join(', ')} begun by a run of ours: the target may hold part of it (delete it there to leave nothing of it)` : '',
    unsettled.length ? `publish of ${unsettled.join(', ')} cut off and not settled: name it in the job again for one run` : '',
  ].filter(Boolean);
}

/** A Go source whose tags are not the ones go reads, in words (run's summary and status say it alike). */
export function goTagPatternLine(g: RunSummary['goTagPatterns'][number]): string {
  return `  WARNING source ${JSON.stringify(g.source)}: tags ${JSON.stringify(g.pattern)} are not the tags go reads for this module (${g.goReads}): its versions are built from tags go never reads, so what is published may not hash as consumers' go.sum recorded; set tags to ${JSON.stringify(g.goReads)}, or name their go.sum files in goSum so a mismatch is caught`;
}
