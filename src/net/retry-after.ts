/** Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | string[] | undefined | null): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v);
  // a server asking for hours is answered by the retry budget, not by waiting hours
  if (Number.isFinite(seconds)) return Math.min(Math.max(0, seconds * 1000), MAX_RETRY_AFTER_MS);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - Date.now()), MAX_RETRY_AFTER_MS);
}

/** The longest Retry-After honoured: a hostile or broken server must not park a run for days. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * An answer that says the client's request quota is spent, and how long to wait: 429, or a
 * 403 that GitHub (and GitHub Enterprise) sends when a token's rate limit is used up, marked
 * by `x-ratelimit-remaining: 0` or a `retry-after` (a secondary limit). Such a 403 is no
 * refusal of the token: taken for one, a migration of GitHub Packages would stop at its
 * 5,000th request an hour blaming the token. The wait is Retry-After, else until
 * `x-ratelimit-reset` (epoch seconds), both capped at MAX_RETRY_AFTER_MS.
 * https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
 */
export function rateLimited(status: number | undefined, header: (name: string) => string | null | undefined, now = Date.now()): { retryAfterMs?: number; resetsAt?: string } | undefined {
  const retryAfter = header('retry-after');
  const spent = header('x-ratelimit-remaining') === '0';
  if (status !== 429 && !(status === 403 && (spent || retryAfter))) return undefined;
  const reset = Number(header('x-ratelimit-reset'));
  const resetsAt = spent && Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000) : undefined;
  const retryAfterMs = parseRetryAfter(retryAfter) ?? (resetsAt ? Math.min(Math.max(0, resetsAt.getTime() - now), MAX_RETRY_AFTER_MS) : undefined);
  return { ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), ...(resetsAt && !Number.isNaN(resetsAt.getTime()) ? { resetsAt: resetsAt.toISOString() } : {}) };
}
