/**
 * The two-stage stop of a run (and of a warm): the stop signal (the first
 * Ctrl-C, or a fatal error) means start nothing new; after the grace period
 * the hard signal cuts off whatever is still in flight. The rows say where
 * each piece of work stood, so nothing is lost either way.
 */
import { setMaxListeners } from 'node:events';
import { MigrateError, targetSilentError, targetUnreachableError } from '../errors.js';
import { STUCK_AFTER, type Limiter, type NoAnswer } from './limiter.js';

export interface GracefulStop {
  /** Aborted `graceMs` after the stop: every request in flight listens on it. */
  readonly hard: AbortSignal;
  /** Clear the timer and the listener (the run is over). */
  dispose(): void;
}

export function gracefulStop(stop: AbortSignal, graceMs: number, on: { interrupting?: () => void; cuttingOff?: () => void } = {}): GracefulStop {
  const hard = new AbortController();
  // every request in flight listens on these: hundreds at once is normal, not a leak
  setMaxListeners(0, hard.signal, stop);
  let timer: NodeJS.Timeout | undefined;
  const onStop = () => {
    on.interrupting?.();
    timer = setTimeout(() => {
      on.cuttingOff?.();
      hard.abort();
    }, graceMs);
    timer.unref();
  };
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  return {
    hard: hard.signal,
    dispose: () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    },
  };
}

/** What a command ends with when `peer` is stuck: ETARGETSILENT (silent requests), or ETARGETUNREACHABLE (nobody answers at it). */
export function targetStuckError(peer: string, why: NoAnswer): MigrateError {
  return why.unreachable === undefined ? targetSilentError(peer, STUCK_AFTER, why.idleMs) : targetUnreachableError(peer, why.unreachable, why.forMs);
}

/**
 * A stop that also fires when `limiter` finds a CodeArtifact host stuck (STUCK_AFTER
 * silent requests in a row, or nobody answering at it: limiter.ts) or the credentials refused (ETARGETCREDENTIALS), or when the
 * command finds that no request can succeed (`stopWith`): `signal` is `stop` or that, and
 * `reason(e)` is what the command ends with: ETARGETSILENT or ETARGETUNREACHABLE (or the error that stopped
 * it) once so stopped, whatever the stop cut off on its way out (EINTERRUPTED or a
 * retry's last error), else `e`.
 */
export function stopWhenStuck(limiter: Limiter, stop?: AbortSignal): { signal: AbortSignal; stuck: () => boolean; reason: (e: unknown) => unknown; stopWith: (e: Error) => void } {
  const stuck = new AbortController();
  const stopWith = (e: Error) => {
    if (!stuck.signal.aborted) stuck.abort(e);
  };
  limiter.onStuck = (peer, why) => stopWith(targetStuckError(peer, why));
  limiter.onCredentialsRefused = stopWith;
  return {
    signal: stop ? AbortSignal.any([stop, stuck.signal]) : stuck.signal,
    stuck: () => stuck.signal.aborted,
    reason: (e) => (stuck.signal.aborted ? stuck.signal.reason : e),
    stopWith,
  };
}

/**
 * How many versions in a row, each throttled through its whole retry budget with nothing
 * accepted between them, stop a run. The limiter has by then cut its rates to the floor: the
 * account's quota is spent elsewhere (another team's CI, another copy of the tool run from
 * another state folder), and every version left would wait out its retries at that floor
 * and fail the same way, for most of an hour on a big job.
 */
export const THROTTLED_BEFORE_STOP = 8;

/**
 * Failures that say nothing of CodeArtifact: the source's (or the build's, or this job's limits)
 * before anything was sent. Between throttled versions they neither count nor break the row: a
 * storm that a few missing or damaged source versions interleave is still a storm.
 */
const NOT_THE_TARGETS = new Set(['EINTEGRITY', 'ENOINTEGRITY', 'ESOURCEAUTH', 'ESOURCENOTFOUND', 'ESOURCE', 'EBADSOURCE', 'ESOURCEURL', 'ESOURCESILENT', 'ESOURCEEMPTY', 'EBUILD', 'EBADBUILD', 'EVERSION', 'ETOOLARGE', 'EBLOBMISSING', 'ENAMECLAIMED', 'EPUBLISHBLOCKED', 'EPUBLICREGISTRY']);

/**
 * The throttle storm's row (THROTTLED_BEFORE_STOP): versions (warm entries) throttled through
 * their whole retry budget, with nothing the target answered or accepted between them. A version
 * whose publish was accepted before its read-back was throttled (`accepted`) is progress, not
 * storm: it breaks the row (a run whose reads are throttled still lands every version, and the
 * rerun verifies them). What says nothing of the target (a source's failure, a skipped version)
 * leaves the row as it is.
 */
export class ThrottleBreaker {
  private inRow = 0;

  /** One more outcome; true when it made the row long enough to stop on (once, until something breaks it). */
  outcome(outcome: string, opts: { accepted?: boolean } = {}): boolean {
    const code = outcome.startsWith('failed:') ? outcome.slice('failed:'.length) : undefined;
    if (code === 'ETHROTTLED' && !opts.accepted) return ++this.inRow === THROTTLED_BEFORE_STOP;
    if (outcome === 'skipped' || outcome === 'deferred' || outcome === 'removed' || outcome === 'excluded' || (code !== undefined && NOT_THE_TARGETS.has(code))) return false;
    this.inRow = 0;
    return false;
  }

  /** The versions (entries) in the row so far. */
  get count(): number {
    return this.inRow;
  }
}

const PLURAL = { version: 'versions', entry: 'entries', package: 'packages' } as const;

/**
 * What a command stopped by a throttle storm ends with (ETHROTTLED): `inRow` versions (a warm's
 * entries, harden's packages) throttled through `retries`, nothing `between` them; `lost` says what
 * the rerun takes, `others` who else may spend the quota, `rates` where the rates in use are said.
 */
export function throttleStormError(kind: keyof typeof PLURAL, inRow: number, retries: number, last: string, say: { between: 'accepted' | 'answered'; lost: string; others: string; rates?: string }): MigrateError {
  return new MigrateError('ETHROTTLED', `CodeArtifact throttled ${inRow} ${PLURAL[kind]} in a row through their whole retry budget (limits.retries: ${retries}), with nothing ${say.between} between them: the account's quota is being spent elsewhere, or is below limits.rates; stopped instead of failing every ${kind} left the same way. The last: ${last}`, {
    hint: `rerun once the quota has room: nothing is lost (${say.lost}); look for ${say.others}, and compare limits.rates with the account's quotas${say.rates ? ` (${say.rates})` : ''}`,
  });
}

/** How many refusals (403) in a row, of at least 3 packages, before anything was accepted, stop a command. */
export const REFUSALS_BEFORE_STOP = 8;

/**
 * A principal that lacks a permission altogether (codeartifact:PublishPackageVersion
 * for a run, ReadFromRepository on a store for a warm) passes every preflight, since
 * nothing checks a permission without using it, and is then refused item by item.
 * Refusals in a row, across packages, before the command had anything accepted, mean
 * that: `refused` says when to stop. Once anything is accepted it never does (a policy
 * that denies some packages on purpose fails only those). A source's downloads use it
 * too, each answered download only breaking the row (`other(false)`): a token revoked
 * mid-run refuses everything after it, however much came before.
 */
export class RefusalBreaker {
  private inRow = 0;
  private readonly names = new Set<string>();
  private accepted = false;

  /** One more refusal, of `name`: true once the command should stop. */
  refused(name: string): boolean {
    if (this.accepted) return false;
    this.inRow++;
    this.names.add(name);
    return this.tripped;
  }

  /** The row is long enough to stop on (until something breaks it). */
  get tripped(): boolean {
    return !this.accepted && this.inRow >= REFUSALS_BEFORE_STOP && this.names.size >= 3;
  }

  /** An outcome that is no refusal: the row is broken; `accepted`: the target took something, and the breaker is off. */
  other(accepted: boolean): void {
    if (accepted) this.accepted = true;
    this.inRow = 0;
    this.names.clear();
  }

  /** The refusals of the row, and a few of the packages, for the message. */
  describe(): string {
    const names = [...this.names];
    return `${this.inRow} in a row (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`;
  }
}
