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

/** How much a new latency sample moves the average (an EWMA over the last ~20 requests). */
const LATENCY_WEIGHT = 0.1;

class Bucket {
  rate: number;
  private next = 0; // earliest time the next token is available
  /** Average round trip of this bucket's requests, ms (undefined until one finished). */
  latencyMs?: number;
  /** Time slots went unused since the bucket's first request (nobody was waiting), ms. */
  idleMs = 0;

  constructor(public configured: number) {
    this.rate = configured;
  }

  /** Reserve the next slot; returns how long to wait for it. */
  reserve(now: number): number {
    if (this.next > 0 && now > this.next) this.idleMs += now - this.next;
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    return at - now;
  }

  throttled(): void {
    this.rate = Math.max(this.configured / 10, this.rate * DECREASE);
  }

  succeeded(ms?: number): void {
    if (this.rate < this.configured) this.rate = Math.min(this.configured, this.rate + this.configured * INCREASE);
    if (ms !== undefined && Number.isFinite(ms)) this.latencyMs = this.latencyMs === undefined ? ms : this.latencyMs + LATENCY_WEIGHT * (ms - this.latencyMs);
  }

  /** A new ceiling (the account's quota became known): the current rate follows. */
  reconfigure(rate: number): void {
    this.rate = this.rate >= this.configured ? rate : Math.min(rate, this.rate * (rate / this.configured));
    this.configured = rate;
  }
}

/**
 * Requests in a row that got no answer at all from one peer (the API, or one
 * repository endpoint's host: they are different hosts, and a proxy or firewall
 * can lose one and not the other), with no answer from it between, before it
 * counts as stuck. One stuck connection (a NAT dropping it) is retried and never
 * comes near this; a service that stopped answering reaches it within about one
 * idle timeout, since every request in flight goes silent together. Without it a
 * stuck target holds a run for versions x retries x the idle timeout.
 */
export const STUCK_AFTER = 8;

/** Per peer (a host, a source), its requests in a row that got no answer at all: STUCK_AFTER of them and it is stuck. */
export class StuckWatch {
  private readonly silentInARow = new Map<string, { n: number; idleMs: number }>();

  answered(peer: string): void {
    this.silentInARow.delete(peer);
  }

  /** Counts one request left silent for `idleMs`; true when this one made the peer stuck (once, until it answers again). */
  silent(peer: string, idleMs: number): boolean {
    const n = (this.silentInARow.get(peer)?.n ?? 0) + 1;
    this.silentInARow.set(peer, { n, idleMs });
    return n === STUCK_AFTER;
  }

  /** Stuck: how long its last silent request waited; else undefined. */
  stuck(peer: string): { idleMs: number } | undefined {
    const s = this.silentInARow.get(peer);
    return s && s.n >= STUCK_AFTER ? { idleMs: s.idleMs } : undefined;
  }
}

export class Limiter implements RateLimiter {
  private readonly buckets: Record<BucketName, Bucket>;
  throttles = 0;
  private readonly peers = new StuckWatch();
  /** Called once per peer, when STUCK_AFTER of its requests in a row got no answer (the last after `idleMs`): the run stops (ETARGETSILENT). */
  onStuck?: (peer: string, silentInARow: number, idleMs: number) => void;
  /** Called when CodeArtifact refuses the credentials themselves (expired, unknown): the command stops (ETARGETCREDENTIALS). */
  onCredentialsRefused?: (e: Error) => void;

  /** `list` is the rate of each of the three List operations (200/s each by default). */
  constructor(rates: Rates | Record<BucketName, number>) {
    const r = rates as Partial<Record<BucketName | 'list', number>>;
    const list = r.list ?? 200;
    this.buckets = {
      publish: new Bucket(r.publish ?? 10),
      getAsset: new Bucket(r.getAsset ?? 50),
      listPackages: new Bucket(r.listPackages ?? list),
      listVersions: new Bucket(r.listVersions ?? list),
      listAssets: new Bucket(r.listAssets ?? list),
      reads: new Bucket(r.reads ?? 800),
      writes: new Bucket(r.writes ?? 100),
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

  succeeded(names: readonly BucketName[], ms?: number): void {
    for (const n of names) this.buckets[n].succeeded(ms);
  }

  answered(peer: string): void {
    this.peers.answered(peer);
  }

  silent(peer: string, idleMs: number): void {
    if (this.peers.silent(peer, idleMs)) this.onStuck?.(peer, STUCK_AFTER, idleMs);
  }

  credentialsRefused(e: Error): void {
    this.onCredentialsRefused?.(e);
  }

  rate(name: BucketName): number {
    return this.buckets[name].rate;
  }

  configured(name: BucketName): number {
    return this.buckets[name].configured;
  }

  setRate(name: BucketName, rate: number): void {
    this.buckets[name].reconfigure(rate);
  }

  /**
   * How long the bucket's slots went unused so far (ms): nobody was waiting when a
   * token was ready. Time the engine can win by keeping more work in flight.
   */
  idleMs(name: BucketName): number {
    return this.buckets[name].idleMs;
  }

  /** The average round trip of the bucket's requests so far (ms), if any finished. */
  latencyMs(name: BucketName): number | undefined {
    return this.buckets[name].latencyMs;
  }
}

export { sleep };
