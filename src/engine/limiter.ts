/**
 * Token buckets per CodeArtifact quota, with AIMD: a throttle cuts the bucket's rate
 * below what was really being sent, each success wins some of it back: quickly up to
 * near the rate the service last refused, slowly past it. Buckets hold at most one
 * token, so requests are spread evenly instead of bursting into the service's own bucket.
 *
 * Default quotas: https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html
 */
import type { Rates } from '../config/schema.js';
import { MIN_RATE } from '../config/schema.js';
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
 * AIMD constants. A throttle cuts the rate to 80% of what was really sent (the bucket's
 * rate is only a ceiling: with little in flight, or requests waiting out Retry-Afters, far
 * fewer go out, and cutting a rate nobody reaches changes nothing), down to MIN_RATE: the
 * room left may be far below the stated quota (another team's CI spending the account-wide
 * reads or writes). A success wins back 5% of the configured rate; refused at under SHARED
 * of the configured rate, only up to CAUTIOUS x the rate the service last refused, then PROBE
 * of the rate at a time: a service that keeps room for a fraction of the quota sees one 429
 * every few dozen requests, not every other one.
 * Once FORGET_AFTER successes in a row came without a throttle, that rate is forgotten
 * (the other team's CI is done) and the bucket climbs back to the configured rate quickly.
 */
const DECREASE = 0.8;
const INCREASE = 0.05;
const CAUTIOUS = 0.9;
const PROBE = 0.01;
const FORGET_AFTER = 30;
/**
 * Refused below this share of the configured rate, the room is someone else's to give (a
 * shared account-wide quota): only then is the recovery wary. A 429 at (nearly) the configured
 * rate is the quota itself or a stray one: wary there, every stray 429 cost a run at 10/s about
 * 5% of its throughput (bench, 36 injected 429s: 93.9% of the quota before, 88.8% with it).
 */
const SHARED = 0.5;
/** The last requests' send times kept to measure what a bucket really sends. */
const SENT_SAMPLES = 16;
/**
 * The last answers kept (accepted or refused) to measure what the service accepts. A throttle
 * judges the room by what got through, not by what was sent alone: sending 4/s into 2/s of
 * room, half refused, the room is 2/s, and a cut to 80% of the 4/s sent (3.2/s, then back to
 * 90% of 4/s after one success) kept every other request refused for a dozen more 429s
 * (test/throttle-shared: 15 quota 429s for 32 versions, 18 on a loaded CI machine; 11 now).
 */
const ANSWER_SAMPLES = 8;

/** How much a new latency sample moves the average (an EWMA over the last ~20 requests). */
const LATENCY_WEIGHT = 0.1;

class Bucket {
  rate: number;
  private next = 0; // earliest time the next token is available
  /** Average round trip of this bucket's requests, ms (undefined until one finished). */
  latencyMs?: number;
  /** Time slots went unused since the bucket's first request (nobody was waiting), ms. */
  idleMs = 0;
  /** The rate the service last refused, until FORGET_AFTER successes in a row. */
  private refusedAt?: number;
  private calm = 0;
  /** When the rate was last cut (monotonic ms): a request sent before it was answered by that cut. */
  private cutAt = -Infinity;
  /** The slots of the last SENT_SAMPLES requests, oldest first. */
  private readonly sent: number[] = [];
  /** The last ANSWER_SAMPLES answers (when, and whether accepted), oldest first. */
  private readonly answers: { at: number; accepted: boolean }[] = [];

  constructor(public configured: number) {
    this.rate = configured;
  }

  /** Reserve the next slot; returns how long to wait for it. */
  reserve(now: number): number {
    if (this.next > 0 && now > this.next) this.idleMs += now - this.next;
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    this.sent.push(at);
    if (this.sent.length > SENT_SAMPLES) this.sent.shift();
    return at - now;
  }

  /** Requests per second this bucket really let through lately (its rate when it cannot tell). */
  private sentRate(now: number): number {
    if (this.sent.length < 2) return this.rate;
    // up to now, not only to the last slot: a bucket nobody asked for a while sent less than its slots' spacing says
    const span = Math.max(now, this.sent.at(-1)!) - this.sent[0]!;
    return span > 0 ? Math.min(this.rate, ((this.sent.length - 1) * 1000) / span) : this.rate;
  }

  private answered(accepted: boolean, now: number): void {
    this.answers.push({ at: now, accepted });
    if (this.answers.length > ANSWER_SAMPLES) this.answers.shift();
  }

  /**
   * Requests per second the service accepted lately: the accepted among the last ANSWER_SAMPLES
   * answers over the time they took, up to now; Infinity (no news) until that many came back, or
   * while none of them was accepted (a row of refusals tells the room is small, not how small: the
   * rate is cut by DECREASE each time instead). Counted, not the sent rate times a share: each cut
   * lowers the rate the sent measure is capped by, and the same refusals counted again compounded
   * one burst's 429s into a cut from 40/s to 1/s against 2/s of room.
   */
  private acceptedRate(now: number): number {
    if (this.answers.length < ANSWER_SAMPLES) return Infinity;
    const accepted = this.answers.filter((a) => a.accepted).length;
    const span = now - this.answers[0]!.at;
    return accepted === 0 || span <= 0 ? Infinity : (accepted * 1000) / span;
  }

  /**
   * `sentAt`: when the throttled request asked for its slot; one that asked before the last cut was
   * spaced by the rate before it, brings no news and cuts nothing more. `governing`: this bucket is the call's slowest, the one its pace was.
   */
  throttled(sentAt?: number, governing = true): void {
    const now = performance.now();
    this.answered(false, now);
    if (sentAt !== undefined && sentAt < this.cutAt) return;
    this.cutAt = now;
    // What really got through (the lesser of what was sent and what was accepted), when that is far below the rate
    // (requests waiting out Retry-Afters, little in flight, half of them refused): cutting a rate
    // nobody reaches changes nothing. Near the rate, the rate itself: the measure over the last few
    // slots reads the gaps between them as a lower rate, and cut deeper; and a stray 429 among
    // accepted requests is no news of less room.
    // Not for a bucket the call did not go at the pace of: its sending is the slowest bucket's pace,
    // not its room (a publish's writes bucket sends 10/s of its 100), and the refusal no news of it.
    const sending = governing ? Math.min(this.sentRate(now), this.acceptedRate(now)) : this.rate;
    const base = sending < SHARED * this.rate ? sending : this.rate;
    if (governing) {
      this.refusedAt = base;
      this.calm = 0;
    }
    this.rate = Math.max(Math.min(MIN_RATE, this.configured), base * DECREASE);
  }

  succeeded(ms?: number): void {
    this.answered(true, performance.now());
    if (this.rate < this.configured) {
      if (this.refusedAt !== undefined && ++this.calm >= FORGET_AFTER) this.refusedAt = undefined;
      // refused near the configured rate (the quota itself, a stray 429): back to it as fast as it came;
      // refused far below it (the room another team left), wary of the rate the service refused
      const near = this.refusedAt === undefined || this.refusedAt >= SHARED * this.configured ? this.configured : CAUTIOUS * this.refusedAt;
      const next = this.rate < near ? Math.min(near, this.rate + this.configured * INCREASE) : this.rate * (1 + PROBE);
      this.rate = Math.min(this.configured, next);
    }
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

/**
 * A peer nobody answers at (the connection refused or reset before any answer, no such
 * host, no route) is unreachable once UNREACHABLE_AFTER of its requests in a row failed so,
 * the first at least UNREACHABLE_FOR_MS before the last, with no answer between. Such a
 * failure takes milliseconds, not an idle timeout, so a count alone would stop a run on a
 * blip (a proxy restarting resets every request in flight at once, and their retries get
 * through): the row must also last, 20 s: longer than a proxy restart or a VPN reconnect,
 * which the retries ride out (an unattended run of hours is not stopped by one), far shorter
 * than every version waiting out its retries (about 35 s each with the default 8) against a
 * target that is not there.
 */
export const UNREACHABLE_AFTER = 3;
export const UNREACHABLE_FOR_MS = 20_000;

/** Why a peer counts as stuck: its last requests went silent (`idleMs`: the last one's wait), or nobody answered at it (`unreachable`: the last failure, as the system said it). */
export type NoAnswer = { idleMs: number; unreachable?: undefined; forMs?: undefined } | { unreachable: string; forMs: number; idleMs?: undefined };

interface Row {
  silent: number;
  unreachable: number;
  /**
   * When its first request failed, by the monotonic clock (performance.now()): a step of the
   * wall clock (NTP, a machine woken from sleep, whose wall clock jumps by the hours it slept
   * as its network comes back) is no time the peer spent unreachable.
   */
  since: number;
  stuck?: NoAnswer;
}

/** Per peer (a host, a source), its requests in a row that got no answer at all: STUCK_AFTER silent ones, or unreachable ones over UNREACHABLE_FOR_MS, and it is stuck. */
export class StuckWatch {
  private readonly rows = new Map<string, Row>();

  /** `unreachableForMs`: how long a row of unreachable requests must last (UNREACHABLE_FOR_MS; shorter for a command nobody leaves running unattended). */
  constructor(private readonly unreachableForMs = UNREACHABLE_FOR_MS) {}

  answered(peer: string): void {
    this.rows.delete(peer);
  }

  /** Counts one request left silent for `idleMs`; true when this one made the peer stuck (once, until it answers again). */
  silent(peer: string, idleMs: number): boolean {
    const row = this.row(peer);
    row.silent++;
    return this.judge(row, row.silent >= STUCK_AFTER ? { idleMs } : undefined);
  }

  /** Counts one request nobody answered at (`why`: ECONNREFUSED and the address, say); true when this one made the peer stuck (once, until it answers again). */
  unreachable(peer: string, why: string): boolean {
    const row = this.row(peer);
    row.unreachable++;
    const forMs = performance.now() - row.since;
    return this.judge(row, row.unreachable >= UNREACHABLE_AFTER && forMs >= this.unreachableForMs ? { unreachable: why, forMs } : undefined);
  }

  /** Stuck: why (the row that made it so); else undefined. */
  stuck(peer: string): NoAnswer | undefined {
    return this.rows.get(peer)?.stuck;
  }

  private row(peer: string): Row {
    return this.rows.get(peer) ?? this.rows.set(peer, { silent: 0, unreachable: 0, since: performance.now() }).get(peer)!;
  }

  private judge(row: Row, stuck: NoAnswer | undefined): boolean {
    if (!stuck || row.stuck) return false;
    row.stuck = stuck;
    return true;
  }
}

export class Limiter implements RateLimiter {
  private readonly buckets: Record<BucketName, Bucket>;
  throttles = 0;
  private readonly peers: StuckWatch;
  /** Called once per peer, when its requests in a row got no answer (see StuckWatch): the run stops (ETARGETSILENT, or ETARGETUNREACHABLE: targetStuckError). */
  onStuck?: (peer: string, why: NoAnswer) => void;
  /** Called when CodeArtifact refuses the credentials themselves (expired, unknown): the command stops (ETARGETCREDENTIALS). */
  onCredentialsRefused?: (e: Error) => void;

  /**
   * `list` is the rate of each of the three List operations (200/s each by default).
   * `unreachableForMs`: see StuckWatch (a read-only check such as ledger verify stops sooner
   * than a run, which a blip must not stop: nobody reruns it for hours).
   */
  constructor(rates: Rates | Record<BucketName, number>, opts: { unreachableForMs?: number } = {}) {
    this.peers = new StuckWatch(opts.unreachableForMs);
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
    // by the monotonic clock: by Date.now(), a wall clock stepped back an hour held every request an hour
    const now = performance.now();
    const wait = Math.max(...names.map((n) => this.buckets[n].reserve(now)));
    await sleep(wait, signal);
  }

  /**
   * The service said slow down. The rate drops for everyone; the Retry-After
   * itself is honoured by the request that got it (see retry.ts), so one
   * throttled request does not stall every other one.
   */
  throttled(names: readonly BucketName[], sentAt?: number): void {
    this.throttles++;
    const slowest = Math.min(...names.map((n) => this.buckets[n].rate));
    for (const n of names) this.buckets[n].throttled(sentAt, this.buckets[n].rate <= slowest);
  }

  succeeded(names: readonly BucketName[], ms?: number): void {
    for (const n of names) this.buckets[n].succeeded(ms);
  }

  answered(peer: string): void {
    this.peers.answered(peer);
  }

  silent(peer: string, idleMs: number): void {
    if (this.peers.silent(peer, idleMs)) this.onStuck?.(peer, this.peers.stuck(peer)!);
  }

  unreachable(peer: string, why: string): void {
    if (this.peers.unreachable(peer, why)) this.onStuck?.(peer, this.peers.stuck(peer)!);
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
