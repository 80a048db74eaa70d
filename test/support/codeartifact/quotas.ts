/**
 * Request-rate quotas as per-second token buckets (burst = one second's worth), one per service
 * quota. Defaults are the service's documented quotas
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html):
 * PublishPackageVersion 10/s, GetPackageVersionAsset 50/s, ListPackages, ListPackageVersions and
 * ListPackageVersionAssets 200/s each, GetAuthorizationToken 40/s, read requests 800/s and write
 * requests 100/s per account. The npm and PyPI endpoints' publishes and downloads draw on the same
 * buckets as PublishPackageVersion and GetPackageVersionAsset.
 */
import type { QuotaConfig, QuotaName } from './types.js';

export const DEFAULT_QUOTAS: Readonly<Record<QuotaName, number>> = {
  publish: 10,
  getAsset: 50,
  listPackages: 200,
  listVersions: 200,
  listAssets: 200,
  authorizationToken: 40,
  reads: 800,
  writes: 100,
};

export const QUOTA_NAMES = Object.keys(DEFAULT_QUOTAS) as QuotaName[];

interface Bucket {
  rate: number;
  tokens: number;
  last: number;
}

/** Rates per bucket from a configuration: defaults, then `list` for the three List buckets, then each name. */
export function resolveRates(config: QuotaConfig | false | undefined): Record<QuotaName, number> {
  const rates = { ...DEFAULT_QUOTAS };
  if (config === false || config === undefined) return rates;
  const { list, ...named } = config;
  if (list !== undefined) rates.listPackages = rates.listVersions = rates.listAssets = list;
  for (const [name, rate] of Object.entries(named) as [QuotaName, number | undefined][]) {
    if (rate !== undefined && name in rates) rates[name] = rate;
  }
  return rates;
}

export class Quotas {
  private buckets = new Map<QuotaName, Bucket>();
  private enabled = true;
  private rates: Record<QuotaName, number> = { ...DEFAULT_QUOTAS };
  private config: QuotaConfig | false | undefined;
  private clock: () => number = Date.now;

  constructor(config: QuotaConfig | false | undefined) {
    this.configure(config);
  }

  /**
   * The time buckets refill by (default Date.now): a test freezes it to make "N requests in one
   * second" exact whatever the machine's speed. Every bucket starts full again.
   */
  setClock(clock: (() => number) | undefined): void {
    this.clock = clock ?? Date.now;
    this.configure(this.config);
  }

  /** Replace the configuration; every bucket starts full again. */
  configure(config: QuotaConfig | false | undefined): void {
    this.config = config;
    this.buckets.clear();
    this.enabled = config !== false;
    this.rates = resolveRates(config);
    const now = this.clock();
    for (const [name, rate] of Object.entries(this.rates) as [QuotaName, number][]) {
      this.buckets.set(name, { rate, tokens: rate, last: now });
    }
  }

  /** The rate of every bucket, enforced or not: what Service Quotas reports as applied. */
  applied(): Record<QuotaName, number> {
    return { ...this.rates };
  }

  /**
   * Take one token from each named bucket, or none at all: when a bucket is empty, returns the
   * Retry-After (whole seconds, at least 1) and the bucket that was the furthest from a token.
   */
  take(names: readonly QuotaName[]): { retryAfterSeconds: number; quota: QuotaName } | undefined {
    if (!this.enabled) return undefined;
    const now = this.clock();
    let waitSeconds = 0;
    let dry: QuotaName | undefined;
    const buckets: Bucket[] = [];
    for (const name of names) {
      const bucket = this.buckets.get(name);
      if (bucket === undefined) continue;
      bucket.tokens = Math.min(bucket.rate, bucket.tokens + ((now - bucket.last) / 1000) * bucket.rate);
      bucket.last = now;
      buckets.push(bucket);
      if (bucket.tokens < 1) {
        const wait = bucket.rate > 0 ? (1 - bucket.tokens) / bucket.rate : 1;
        if (dry === undefined || wait > waitSeconds) {
          waitSeconds = wait;
          dry = name;
        }
      }
    }
    if (dry !== undefined) return { retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)), quota: dry };
    for (const bucket of buckets) bucket.tokens -= 1;
    return undefined;
  }
}
