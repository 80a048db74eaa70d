/**
 * Request-rate quotas as per-second token buckets (burst = one second's worth).
 * Defaults are the service's documented quotas
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html):
 * PublishPackageVersion 10/s, GetPackageVersionAsset 50/s, List* 200/s, GetAuthorizationToken 40/s,
 * read requests 800/s and write requests 100/s per account. The npm endpoint's publishes and tarball
 * downloads draw on the same buckets as PublishPackageVersion and GetPackageVersionAsset.
 */
import type { QuotaName } from './types.js';

export const DEFAULT_QUOTAS: Readonly<Record<QuotaName, number>> = {
  publish: 10,
  getAsset: 50,
  list: 200,
  authorizationToken: 40,
  reads: 800,
  writes: 100,
};

interface Bucket {
  rate: number;
  tokens: number;
  last: number;
}

export class Quotas {
  private buckets = new Map<QuotaName, Bucket>();
  private enabled = true;

  constructor(config: Partial<Record<QuotaName, number>> | false | undefined) {
    this.configure(config);
  }

  /** Replace the configuration; every bucket starts full again. */
  configure(config: Partial<Record<QuotaName, number>> | false | undefined): void {
    this.buckets.clear();
    this.enabled = config !== false;
    if (config === false) return;
    const rates = { ...DEFAULT_QUOTAS, ...(config ?? {}) };
    const now = Date.now();
    for (const [name, rate] of Object.entries(rates) as [QuotaName, number][]) {
      this.buckets.set(name, { rate, tokens: rate, last: now });
    }
  }

  /**
   * Take one token from each named bucket, or none at all: returns the Retry-After (whole
   * seconds, at least 1) when any bucket is empty, else undefined.
   */
  take(names: readonly QuotaName[]): number | undefined {
    if (!this.enabled) return undefined;
    const now = Date.now();
    let waitSeconds = 0;
    const buckets: Bucket[] = [];
    for (const name of names) {
      const bucket = this.buckets.get(name);
      if (bucket === undefined) continue;
      bucket.tokens = Math.min(bucket.rate, bucket.tokens + ((now - bucket.last) / 1000) * bucket.rate);
      bucket.last = now;
      buckets.push(bucket);
      if (bucket.tokens < 1) {
        waitSeconds = Math.max(waitSeconds, bucket.rate > 0 ? (1 - bucket.tokens) / bucket.rate : 1);
      }
    }
    if (waitSeconds > 0) return Math.max(1, Math.ceil(waitSeconds));
    for (const bucket of buckets) bucket.tokens -= 1;
    return undefined;
  }
}
