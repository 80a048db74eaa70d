/**
 * Token buckets per CodeArtifact quota, with AIMD: a throttle cuts the
 * bucket's rate (never below a tenth of the configured one), each success
 * wins a little of it back. Buckets hold at most one token, so requests are
 * spread evenly instead of bursting into the service's own bucket.
 *
 * Default quotas: https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html
 */
import type { Rates } from '../config/schema.js';
import type { BucketName, RateLimiter } from '../types.js';

export type { BucketName };

/** setTimeout as a promise that an abort cuts short (and leaves no listener behind). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * AIMD constants: a throttle cuts the rate by 20%; each success wins back 5% of
 * the configured rate, so one stray 429 costs about one request's worth of
 * throughput while a run of them backs off geometrically (to a tenth at most).
 */
const DECREASE = 0.8;
const INCREASE = 0.05;

class Bucket {
  rate: number;
  private next = 0; // earliest time the next token is available

  constructor(readonly configured: number) {
    this.rate = configured;
  }

  /** Reserve the next slot; returns how long to wait for it. */
  reserve(now: number): number {
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    return at - now;
  }

  throttled(): void {
    this.rate = Math.max(this.configured / 10, this.rate * DECREASE);
  }

  succeeded(): void {
    if (this.rate < this.configured) this.rate = Math.min(this.configured, this.rate + this.configured * INCREASE);
  }
}

export class Limiter implements RateLimiter {
  private readonly buckets: Record<BucketName, Bucket>;
  throttles = 0;

  constructor(rates: Rates) {
    this.buckets = {
      publish: new Bucket(rates.publish),
      getAsset: new Bucket(rates.getAsset),
      list: new Bucket(rates.list),
      reads: new Bucket(rates.reads),
      writes: new Bucket(rates.writes),
    };
  }

  /** Wait until every named bucket has a token for this request. */
  async take(names: readonly BucketName[], signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const wait = Math.max(...names.map((n) => this.buckets[n].reserve(now)));
    await sleep(wait, signal);
  }

  /**
   * The service said slow down. The rate drops for everyone; the Retry-After
   * itself is honoured by the request that got it (see retry.ts), so one
   * throttled request does not stall every other one.
   */
  throttled(names: readonly BucketName[]): void {
    this.throttles++;
    for (const n of names) this.buckets[n].throttled();
  }

  succeeded(names: readonly BucketName[]): void {
    for (const n of names) this.buckets[n].succeeded();
  }

  rate(name: BucketName): number {
    return this.buckets[name].rate;
  }
}

export { sleep };
