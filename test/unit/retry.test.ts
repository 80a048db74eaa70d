/** engine/retry: which codes are retried, how long to wait, and the budget. Waits run on fake timers. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MigrateError, type ErrorCode } from '../../src/errors.js';
import { backoffMs, isRetryable, parseRetryAfter, withRetry } from '../../src/engine/retry.js';
import { MAX_RETRY_AFTER_MS, rateLimited } from '../../src/net/retry-after.js';

afterEach(() => {
  vi.useRealTimers();
});

const err = (code: ErrorCode, retryAfterMs?: number) => new MigrateError(code, `${code} for a test`, { retryAfterMs });
const low = () => 0;
const high = () => 1;

describe('isRetryable', () => {
  it('throttles, 5xx/network failures on either side and a lagging read-back are retried', () => {
    for (const code of ['ETHROTTLED', 'ETARGET', 'ESOURCE', 'EVERIFY'] as const) expect(isRetryable(err(code)), code).toBe(true);
  });

  it('integrity, auth, conflicts, config and anything that is not a MigrateError are not', () => {
    for (const code of ['EINTEGRITY', 'ENOINTEGRITY', 'ESOURCEAUTH', 'ETARGETAUTH', 'ECONFLICT', 'EMISMATCH', 'ECONFIG', 'ETARGETREJECTED', 'EBADSOURCE'] as const) {
      expect(isRetryable(err(code)), code).toBe(false);
    }
    expect(isRetryable(new Error('ETARGET'))).toBe(false);
    expect(isRetryable('ETHROTTLED')).toBe(false);
  });
});

describe('backoffMs', () => {
  it('grows exponentially with full jitter between half and all of the step', () => {
    // ETHROTTLED: 500 ms doubling
    expect(backoffMs(err('ETHROTTLED'), 0, low)).toBe(250);
    expect(backoffMs(err('ETHROTTLED'), 0, high)).toBe(500);
    expect(backoffMs(err('ETHROTTLED'), 3, low)).toBe(2000);
    expect(backoffMs(err('ETHROTTLED'), 3, high)).toBe(4000);
    expect(backoffMs(err('ETHROTTLED'), 3, () => 0.5)).toBe(3000);
    // ETARGET: 250 ms doubling
    expect(backoffMs(err('ETARGET'), 2, high)).toBe(1000);
  });

  it('is capped', () => {
    expect(backoffMs(err('ETHROTTLED'), 30, high)).toBe(20_000);
    expect(backoffMs(err('ETHROTTLED'), 30, low)).toBe(10_000);
    expect(backoffMs(err('ETARGET'), 30, high)).toBe(15_000);
    expect(backoffMs(err('EVERIFY'), 30, high)).toBe(5_000);
  });

  it('honours Retry-After as a floor, above the jittered step and above the cap', () => {
    expect(backoffMs(err('ETHROTTLED', 3_000), 0, low)).toBe(3_000);
    expect(backoffMs(err('ETHROTTLED', 60_000), 30, high)).toBe(60_000);
    // a Retry-After shorter than the step does not shorten it
    expect(backoffMs(err('ETHROTTLED', 100), 2, high)).toBe(2_000);
  });

  it('is 0 for codes that are not retried', () => {
    expect(backoffMs(err('EINTEGRITY', 5_000), 0, high)).toBe(0);
  });
});

describe('rateLimited', () => {
  const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
  const headers = (h: Record<string, string>) => (k: string) => h[k];
  it('a 403 is a spent quota only with x-ratelimit-remaining: 0 or a Retry-After; a 429 always is', () => {
    expect(rateLimited(403, headers({}), NOW)).toBeUndefined();
    expect(rateLimited(403, headers({ 'x-ratelimit-remaining': '12' }), NOW)).toBeUndefined();
    expect(rateLimited(401, headers({ 'x-ratelimit-remaining': '0' }), NOW)).toBeUndefined();
    expect(rateLimited(403, headers({ 'retry-after': '30' }), NOW)).toEqual({ retryAfterMs: 30_000 });
    expect(rateLimited(429, headers({}), NOW)).toEqual({});
  });
  it('waits until x-ratelimit-reset, at most MAX_RETRY_AFTER_MS; a reset gone by waits nothing; Retry-After wins', () => {
    const reset = (s: number) => String(NOW / 1000 + s);
    expect(rateLimited(403, headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset(20) }), NOW)).toEqual({ retryAfterMs: 20_000, resetsAt: '2026-11-27T12:00:20.000Z' });
    expect(rateLimited(403, headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset(3600) }), NOW)?.retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    expect(rateLimited(403, headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset(-5) }), NOW)?.retryAfterMs).toBe(0);
    expect(rateLimited(403, headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': 'soon' }), NOW)).toEqual({});
    expect(rateLimited(403, headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset(600), 'retry-after': '2' }), NOW)?.retryAfterMs).toBe(2_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(parseRetryAfter('0')).toBe(0);
    expect(parseRetryAfter('1.5')).toBe(1_500);
    expect(parseRetryAfter(['2', '9'])).toBe(2_000);
  });

  it('reads an HTTP date, relative to now, never negative', () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 15, 12, 0, 0) });
    expect(parseRetryAfter(new Date(Date.UTC(2026, 0, 15, 12, 0, 7)).toUTCString())).toBe(7_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:01:00 GMT')).toBe(60_000);
    expect(parseRetryAfter('Thu, 15 Jan 2026 11:00:00 GMT')).toBe(0);
  });

  it('has no answer for nothing or nonsense', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter([])).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('a negative delta is no wait rather than a wait into the past', () => {
    expect(parseRetryAfter('-5')).toBe(0);
  });
});

describe('withRetry', () => {
  /** Runs withRetry to completion on fake timers; returns the outcome and the attempts made. */
  async function drive<T>(fn: (attempt: number) => Promise<T>, budget: number, signal?: AbortSignal) {
    vi.useFakeTimers();
    const attempts: number[] = [];
    const retries: { code: string; attempt: number; waitMs: number }[] = [];
    const p = withRetry(
      (a) => {
        attempts.push(a);
        return fn(a);
      },
      { budget, signal, onRetry: (e, attempt, waitMs) => retries.push({ code: e.code, attempt, waitMs }) },
    );
    const settled = p.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    await vi.runAllTimersAsync();
    return { result: await settled, attempts, retries };
  }

  it('returns the first success without retrying', async () => {
    const { result, attempts } = await drive(async () => 'ok', 5);
    expect(result).toEqual({ ok: true, value: 'ok' });
    expect(attempts).toEqual([0]);
  });

  it('retries retryable failures and returns the success that follows', async () => {
    const { result, attempts, retries } = await drive(async (a) => {
      if (a < 2) throw err('ETARGET');
      return a;
    }, 5);
    expect(result).toEqual({ ok: true, value: 2 });
    expect(attempts).toEqual([0, 1, 2]);
    expect(retries.map((r) => [r.code, r.attempt])).toEqual([
      ['ETARGET', 1],
      ['ETARGET', 2],
    ]);
    for (const r of retries) expect(r.waitMs).toBeGreaterThan(0);
  });

  it('stops at once on a code that is not retryable', async () => {
    const { result, attempts, retries } = await drive(async () => {
      throw err('EINTEGRITY');
    }, 5);
    expect(result.ok).toBe(false);
    expect((result as { error: MigrateError }).error.code).toBe('EINTEGRITY');
    expect(attempts).toEqual([0]);
    expect(retries).toEqual([]);
  });

  it('gives up after the budget: one try plus `budget` retries, then the last error', async () => {
    const { result, attempts, retries } = await drive(async (a) => {
      throw new MigrateError('ETHROTTLED', `throttled #${a}`, { retryAfterMs: 1_000 });
    }, 3);
    expect(result.ok).toBe(false);
    const e = (result as { error: MigrateError }).error;
    expect(e.code).toBe('ETHROTTLED');
    expect(e.message).toContain('#3');
    expect(attempts).toEqual([0, 1, 2, 3]);
    expect(retries).toHaveLength(3);
    // Retry-After is honoured as the floor of every wait
    for (const r of retries) expect(r.waitMs).toBeGreaterThanOrEqual(1_000);
  });

  it('a budget of 0 means one try', async () => {
    const { result, attempts } = await drive(async () => {
      throw err('ESOURCE');
    }, 0);
    expect(result.ok).toBe(false);
    expect(attempts).toEqual([0]);
  });

  it('an aborted signal stops retrying', async () => {
    const controller = new AbortController();
    const { result, attempts } = await drive(async () => {
      controller.abort();
      throw err('ETARGET');
    }, 5, controller.signal);
    expect(result.ok).toBe(false);
    expect(attempts).toEqual([0]);
  });

  it('an abort during the wait stops before the next attempt', async () => {
    const controller = new AbortController();
    const { result, attempts } = await drive(async () => {
      setTimeout(() => controller.abort(), 10);
      throw err('ETHROTTLED', 10_000);
    }, 5, controller.signal);
    expect(result.ok).toBe(false);
    expect(attempts).toEqual([0]);
  });

  it('anything thrown comes out as an Error, the original kept as its cause, and is not retried', async () => {
    const { result, attempts } = await drive(async () => {
      throw 'a string, not an Error';
    }, 5);
    expect(result.ok).toBe(false);
    const e = (result as { error: Error }).error;
    expect(e).toBeInstanceOf(Error);
    expect(e.cause).toBe('a string, not an Error');
    expect(attempts).toEqual([0]);
  });
});
