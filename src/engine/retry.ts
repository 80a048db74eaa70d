/**
 * Which error codes are worth another try, and how long to wait: one table
 * (graphile-worker keeps the same kind of table). Throttles wait what the
 * service asked for (Retry-After) or back off exponentially; 5xx and network
 * errors back off with full jitter.
 */
import { MigrateError, toError, type ErrorCode } from '../errors.js';
import { sleep } from './limiter.js';

const RETRYABLE: Partial<Record<ErrorCode, { baseMs: number; maxMs: number }>> = {
  ETHROTTLED: { baseMs: 500, maxMs: 20_000 },
  ETARGET: { baseMs: 250, maxMs: 15_000 },
  ESOURCE: { baseMs: 250, maxMs: 15_000 },
  // the target's read-back can lag a publish by a moment
  EVERIFY: { baseMs: 200, maxMs: 5_000 },
};

export function isRetryable(e: unknown): e is MigrateError {
  return e instanceof MigrateError && RETRYABLE[e.code] !== undefined;
}

export function backoffMs(e: MigrateError, attempt: number, random = Math.random): number {
  const policy = RETRYABLE[e.code];
  if (!policy) return 0;
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  const jittered = exp / 2 + random() * (exp / 2);
  // Retry-After is the floor: the service knows when it will have room
  return Math.max(e.retryAfterMs ?? 0, jittered);
}

export interface RetryOptions {
  /** Retries after the first try. */
  budget: number;
  signal?: AbortSignal;
  onRetry?: (e: MigrateError, attempt: number, waitMs: number) => void;
  /** Whether this retryable error is worth another try of this `fn` after all (default: yes). */
  retryIf?: (e: MigrateError) => boolean;
}

/** Run `fn` until it succeeds, fails with a non-retryable error, or the budget is spent. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (thrown) {
      const e = toError(thrown);
      if (!isRetryable(e) || attempt >= opts.budget || opts.signal?.aborted || opts.retryIf?.(e) === false) throw e;
      const wait = backoffMs(e, attempt);
      opts.onRetry?.(e, attempt + 1, wait);
      await sleep(wait, opts.signal);
      if (opts.signal?.aborted) throw e;
    }
  }
}

export { parseRetryAfter } from '../net/retry-after.js';
