/**
 * Which rate each quota bucket runs at, and why: the job's `limits.rates` win,
 * then the account's applied quotas (read through Service Quotas at the start
 * of a run that has work), then CodeArtifact's defaults.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html
 */
import { MIN_RATE, type Rates } from '../config/schema.js';
import { BUCKETS, type BucketName } from '../types.js';

export const DEFAULT_RATES: Readonly<Record<BucketName, number>> = {
  publish: 10,
  getAsset: 50,
  listPackages: 200,
  listVersions: 200,
  listAssets: 200,
  reads: 800,
  writes: 100,
};

/**
 * Requests a second with one authorization token (not adjustable). Every request to a repository
 * endpoint carries the run's one token: the reads bucket's, and the publishes sent there.
 */
export const PER_TOKEN_RATE = 1200;

export type RateSource = 'job' | 'account' | 'default';
/** `quota`: the account's quota, when the rate is set below it (the reads one token could not send). */
export type ResolvedRates = Record<BucketName, { rate: number; source: RateSource; quota?: number }>;

/** The job's own rates per bucket (`list` sets all three List buckets). */
export function jobRates(rates: Partial<Rates>): Partial<Record<BucketName, number>> {
  const out: Partial<Record<BucketName, number>> = {};
  if (rates.publish !== undefined) out.publish = rates.publish;
  if (rates.getAsset !== undefined) out.getAsset = rates.getAsset;
  if (rates.list !== undefined) out.listPackages = out.listVersions = out.listAssets = rates.list;
  if (rates.reads !== undefined) out.reads = rates.reads;
  if (rates.writes !== undefined) out.writes = rates.writes;
  return out;
}

export function resolveRates(job: Partial<Record<BucketName, number>>, account?: { rates: Partial<Record<BucketName, number>>; perToken?: number }): ResolvedRates {
  const out = {} as ResolvedRates;
  for (const b of BUCKETS) {
    const fromJob = job[b];
    const fromAccount = account?.rates[b];
    out[b] = fromJob !== undefined ? { rate: fromJob, source: 'job' } : fromAccount !== undefined ? { rate: fromAccount, source: 'account' } : { rate: DEFAULT_RATES[b], source: 'default' };
  }
  // an account's reads quota raised past what one token carries (with the publishes beside them)
  // would have the endpoint throttle the run: the reads run at what fits. The job's own rate is
  // the job's: taken as it is.
  const perToken = account?.perToken ?? PER_TOKEN_RATE;
  if (out.reads.source === 'account' && out.reads.rate + out.publish.rate > perToken) {
    out.reads = { rate: Math.max(MIN_RATE, perToken - out.publish.rate), source: 'account', quota: out.reads.rate };
  }
  return out;
}
