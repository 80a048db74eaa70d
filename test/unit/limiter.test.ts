/**
 * engine/limiter: the AIMD arithmetic of the per-quota buckets. Spacing is
 * time-based; the one spacing test runs on fake timers, so nothing depends on
 * the speed of the machine.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MIN_RATE } from '../../src/config/schema.js';
import { Limiter, sleep, STUCK_AFTER, UNREACHABLE_AFTER, UNREACHABLE_FOR_MS, type NoAnswer } from '../../src/engine/limiter.js';

const RATES = { publish: 10, getAsset: 50, listPackages: 200, listVersions: 200, listAssets: 200, reads: 800, writes: 100 };

afterEach(() => {
  vi.useRealTimers();
});

/**
 * The cut and the step are tuning (limiter.ts names them); what must hold is the
 * shape: a throttle multiplies the rate by a fixed factor below 1, never below
 * MIN_RATE; a success adds a fixed share of the configured rate up to near the
 * rate last refused, never above the configured one. The factor and the step are read off one throttle and
 * one success, and everything else is checked against them.
 */
function calibrate() {
  const l = new Limiter(RATES);
  l.throttled(['publish']);
  const factor = l.rate('publish') / RATES.publish;
  l.succeeded(['publish']);
  const step = (l.rate('publish') - factor * RATES.publish) / RATES.publish;
  return { factor, step };
}

describe('Limiter AIMD', () => {
  const { factor, step } = calibrate();

  it('the decrease is multiplicative and real, the increase additive and smaller than the cut', () => {
    expect(factor).toBeGreaterThan(0.1);
    expect(factor).toBeLessThan(1);
    expect(step).toBeGreaterThan(0);
    expect(step).toBeLessThan(1 - factor);
  });

  it('starts at the configured rates', () => {
    const l = new Limiter(RATES);
    for (const [name, rate] of Object.entries(RATES)) expect(l.rate(name as keyof typeof RATES)).toBe(rate);
    expect(l.throttles).toBe(0);
  });

  it('a throttle cuts the rate of the named buckets only, by the same factor, and is counted once per call', () => {
    const l = new Limiter(RATES);
    l.throttled(['publish', 'writes']);
    expect(l.rate('publish')).toBeCloseTo(RATES.publish * factor, 10);
    expect(l.rate('writes')).toBeCloseTo(RATES.writes * factor, 10);
    expect(l.rate('reads')).toBe(RATES.reads);
    expect(l.rate('listVersions')).toBe(RATES.listVersions);
    expect(l.rate('getAsset')).toBe(RATES.getAsset);
    expect(l.throttles).toBe(1);
    l.throttled(['publish']);
    expect(l.rate('publish')).toBeCloseTo(RATES.publish * factor * factor, 10);
    expect(l.throttles).toBe(2);
  });

  it('never drops below MIN_RATE however many throttles (the room left may be far below a tenth of the stated quota)', () => {
    const l = new Limiter(RATES);
    for (let i = 0; i < 100; i++) l.throttled(['publish']);
    expect(l.rate('publish')).toBe(MIN_RATE);
    expect(l.throttles).toBe(100);
  });

  it('each success wins back the same share of the configured rate up to just below the rate last refused, then creeps; calm for long enough, it climbs back to the configured rate', () => {
    const l = new Limiter(RATES);
    for (let i = 0; i < 20; i++) l.throttled(['getAsset']);
    const refused = l.rate('getAsset') / factor;
    const floor = l.rate('getAsset');
    l.succeeded(['getAsset']);
    expect(l.rate('getAsset')).toBeCloseTo(Math.min(floor + RATES.getAsset * step, 0.9 * refused), 10);
    for (let i = 0; i < 5; i++) l.succeeded(['getAsset']);
    // near the rate the service refused, a success wins about a percent, not 5% of 50/s
    const near = l.rate('getAsset');
    expect(near).toBeLessThan(refused);
    l.succeeded(['getAsset']);
    expect(l.rate('getAsset') / near).toBeLessThan(1.02);
    for (let i = 0; i < 100; i++) l.succeeded(['getAsset']);
    expect(l.rate('getAsset')).toBe(RATES.getAsset);
  });

  it('a lone throttle at the configured rate (a stray 429, the quota itself) is won back at the full pace: no creeping below a rate the service merely touched', () => {
    const l = new Limiter(RATES);
    l.throttled(['publish']);
    expect(l.rate('publish')).toBeCloseTo(RATES.publish * factor, 10);
    // 20% lost, 5% of the configured rate a success: four successes
    for (let i = 0; i < 4; i++) l.succeeded(['publish']);
    expect(l.rate('publish')).toBe(RATES.publish);
  });

  it('a request sent before the last cut cuts nothing more (several in flight squeezed at once are one signal), and is still counted', () => {
    const l = new Limiter(RATES);
    const sentAt = performance.now();
    l.throttled(['publish'], sentAt);
    const once = l.rate('publish');
    l.throttled(['publish'], sentAt);
    l.throttled(['publish'], sentAt);
    expect(l.rate('publish')).toBe(once);
    expect(l.throttles).toBe(3);
    l.throttled(['publish'], performance.now() + 1);
    expect(l.rate('publish')).toBeCloseTo(once * factor, 10);
  });

  it('success at the configured rate changes nothing', () => {
    const l = new Limiter(RATES);
    l.succeeded(['reads', 'listVersions']);
    expect(l.rate('reads')).toBe(RATES.reads);
    expect(l.rate('listVersions')).toBe(RATES.listVersions);
  });

  it('a throttle after a success costs more than the success won', () => {
    const l = new Limiter(RATES);
    l.throttled(['getAsset']);
    const before = l.rate('getAsset');
    l.succeeded(['getAsset']);
    l.throttled(['getAsset']);
    expect(l.rate('getAsset')).toBeLessThan(before);
  });
});

describe('Limiter.take spacing (fake timers)', () => {
  it('spaces requests of one bucket by 1/rate, and a slower bucket governs a request that takes several', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const l = new Limiter(RATES);
    let first = false;
    let second = false;
    void l.take(['publish']).then(() => (first = true));
    void l.take(['publish', 'reads']).then(() => (second = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(first).toBe(true);
    expect(second).toBe(false);
    await vi.advanceTimersByTimeAsync(99);
    expect(second).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(second).toBe(true);
  });

  it('a wall clock stepped back (NTP, a VM whose clock is corrected) holds no request back: the spacing is by the monotonic clock', async () => {
    vi.useFakeTimers({ now: 1_000_000_000 });
    const l = new Limiter(RATES);
    await l.take(['publish']);
    // an hour back by the wall clock: by Date.now() the next token was an hour away, and every request waited for it
    vi.setSystemTime(Date.now() - 3600_000);
    let next = false;
    void l.take(['publish']).then(() => (next = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(next).toBe(true);
  });

  it('a throttled bucket spaces the following requests further apart', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const l = new Limiter(RATES);
    l.throttled(['publish']);
    const gap = 1000 / l.rate('publish'); // more than the 100 ms of 10/s
    expect(gap).toBeGreaterThan(100);
    const done: number[] = [];
    for (let i = 0; i < 3; i++) void l.take(['publish']).then(() => done.push(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toEqual([0]);
    await vi.advanceTimersByTimeAsync(Math.floor(gap) - 1);
    expect(done).toEqual([0]);
    await vi.advanceTimersByTimeAsync(2);
    expect(done).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(Math.ceil(gap));
    expect(done).toEqual([0, 1, 2]);
  });

  it("a throttle of a call that draws on several buckets cuts the slowest by what it sent; the others (a publish's writes, sending 10/s of 100) only as before, and they come back at the full pace", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const l = new Limiter(RATES);
    // publishes at the publish quota: 10/s through publish (10/s) and writes (100/s)
    for (let i = 0; i < 20; i++) {
      await l.take(['publish', 'writes']);
      await vi.advanceTimersByTimeAsync(100);
    }
    l.throttled(['publish', 'writes'], performance.now());
    const { factor } = calibrate();
    expect(l.rate('publish')).toBeCloseTo(RATES.publish * factor, 1);
    // not 80% of the 10/s it sent: its room is not what was measured
    expect(l.rate('writes')).toBeCloseTo(RATES.writes * factor, 10);
    for (let i = 0; i < 4; i++) l.succeeded(['publish', 'writes']);
    expect([l.rate('publish'), l.rate('writes')]).toEqual([RATES.publish, RATES.writes]);
  });

  it('a throttle cuts below what the bucket really sent, not below its rate: with 2 requests a second going out under a 40/s rate, the next rate is under 2/s', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const l = new Limiter({ ...RATES, publish: 40 });
    for (let i = 0; i < 10; i++) {
      await l.take(['publish']);
      await vi.advanceTimersByTimeAsync(500);
    }
    l.throttled(['publish'], performance.now());
    expect(l.rate('publish')).toBeLessThan(2);
    expect(l.rate('publish')).toBeGreaterThan(1);
  });

  it('a throttle judges the room by what the service accepted, not by what was sent: 4 requests a second going out, every other one refused, the next rate is under the 2/s that got through', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const l = new Limiter({ ...RATES, publish: 40 });
    l.throttled(['publish'], performance.now());
    const cutAt = performance.now();
    for (let i = 0; i < 16; i++) {
      await l.take(['publish']);
      await vi.advanceTimersByTimeAsync(250);
      // the refusals of requests that asked before the cut: counted as answers, no cut of their own
      if (i % 2 === 0) l.succeeded(['publish']);
      else l.throttled(['publish'], cutAt - 1);
    }
    expect(l.rate('publish')).toBeGreaterThan(20);
    l.throttled(['publish'], performance.now());
    // before: 80% of the 4/s sent, 3.2/s, and one success later back at 90% of 4/s: every other request refused again
    expect(l.rate('publish')).toBeLessThan(2);
    expect(l.rate('publish')).toBeGreaterThan(1);
  });

  it('counts the time a bucket\'s slots went unused, and none while requests queue for them', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const l = new Limiter(RATES); // publish 10/s: a slot every 100 ms
    expect(l.idleMs('publish')).toBe(0);
    await l.take(['publish']); // the first request: nothing was missed yet
    expect(l.idleMs('publish')).toBe(0);
    await vi.advanceTimersByTimeAsync(350); // the next slot was ready at +100: 250 ms unused
    await l.take(['publish']);
    expect(l.idleMs('publish')).toBe(250);
    // three at once: each waits for its slot, none is missed
    await Promise.all([l.take(['publish']), l.take(['publish']), l.take(['publish']), vi.advanceTimersByTimeAsync(300)]);
    expect(l.idleMs('publish')).toBe(250);
    expect(l.idleMs('reads')).toBe(0);
  });

  it('an abort cuts a wait short and leaves no timer behind', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const controller = new AbortController();
    let woke = false;
    void sleep(60_000, controller.signal).then(() => (woke = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(woke).toBe(false);
    controller.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(woke).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a stuck peer', () => {
  it('is called stuck once, after STUCK_AFTER of its requests in a row went silent; an answer from it between starts its count again; peers count apart', () => {
    const limiter = new Limiter(RATES);
    const calls: [string, NoAnswer][] = [];
    limiter.onStuck = (peer, why) => calls.push([peer, why]);
    const api = 'the API';
    const npm = 'the npm endpoint';
    for (let i = 0; i < STUCK_AFTER - 1; i++) limiter.silent(api, 1000);
    limiter.answered(api); // a 500, a 404, a 429: failing, but there
    for (let i = 0; i < STUCK_AFTER - 1; i++) limiter.silent(api, 1000);
    // another peer's answers say nothing about this one, and its silences count apart
    limiter.answered(npm);
    for (let i = 0; i < STUCK_AFTER - 1; i++) limiter.silent(npm, 1000);
    expect(calls).toEqual([]);
    limiter.silent(api, 1000);
    expect(calls).toEqual([[api, { idleMs: 1000 }]]);
    for (let i = 0; i < 5; i++) limiter.silent(api, 1000);
    limiter.silent(npm, 1000);
    expect(calls).toEqual([
      [api, { idleMs: 1000 }],
      [npm, { idleMs: 1000 }],
    ]);
  });
});

describe('a peer nobody answers at (refused, no such host, no route)', () => {
  const REFUSED = 'connect ECONNREFUSED 127.0.0.1:9';

  it('is called stuck once its requests in a row have failed so for UNREACHABLE_FOR_MS, however many fail at once before', () => {
    vi.useFakeTimers();
    const limiter = new Limiter(RATES);
    const calls: [string, NoAnswer][] = [];
    limiter.onStuck = (peer, why) => calls.push([peer, why]);
    // every request in flight refused in the same instant (a proxy restarting): not yet
    for (let i = 0; i < 64; i++) limiter.unreachable('api', REFUSED);
    vi.advanceTimersByTime(UNREACHABLE_FOR_MS - 1);
    limiter.unreachable('api', REFUSED);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    limiter.unreachable('api', REFUSED);
    expect(calls).toEqual([['api', { unreachable: REFUSED, forMs: UNREACHABLE_FOR_MS }]]);
    // once, until it answers again
    vi.advanceTimersByTime(UNREACHABLE_FOR_MS);
    limiter.unreachable('api', REFUSED);
    expect(calls).toHaveLength(1);
  });

  it('a blip is not a stop: an answer between (a retry got through) starts the row again, and one lone failure long after another is not a row', () => {
    vi.useFakeTimers();
    const limiter = new Limiter(RATES);
    const calls: [string, NoAnswer][] = [];
    limiter.onStuck = (peer, why) => calls.push([peer, why]);
    for (let i = 0; i < 8; i++) limiter.unreachable('api', REFUSED);
    vi.advanceTimersByTime(UNREACHABLE_FOR_MS - 1);
    limiter.answered('api');
    vi.advanceTimersByTime(UNREACHABLE_FOR_MS);
    limiter.unreachable('api', REFUSED);
    expect(calls).toEqual([]);
    // fewer than UNREACHABLE_AFTER failures, however far apart, are no row either
    for (let i = 1; i < UNREACHABLE_AFTER; i++) {
      vi.advanceTimersByTime(UNREACHABLE_FOR_MS);
      limiter.unreachable('npm', REFUSED);
    }
    expect(calls).toEqual([]);
    limiter.unreachable('npm', REFUSED);
    expect(calls).toEqual([['npm', { unreachable: REFUSED, forMs: (UNREACHABLE_AFTER - 2) * UNREACHABLE_FOR_MS }]]);
  });

  it('a step of the wall clock (a laptop woken from sleep as the network drops and comes back, an NTP correction) is no time spent unreachable: only the monotonic clock counts', () => {
    vi.useFakeTimers();
    const limiter = new Limiter(RATES);
    const calls: [string, NoAnswer][] = [];
    limiter.onStuck = (peer, why) => calls.push([peer, why]);
    // the lid closes: the requests in flight find no network
    limiter.unreachable('api', REFUSED);
    // three hours later by the wall clock, seconds by the monotonic one: the Wi-Fi is still connecting
    vi.setSystemTime(Date.now() + 3 * 3600_000);
    vi.advanceTimersByTime(2000);
    for (let i = 1; i < UNREACHABLE_AFTER + 4; i++) limiter.unreachable('api', REFUSED);
    expect(calls).toEqual([]);
    // a row that does last UNREACHABLE_FOR_MS still stops it
    vi.advanceTimersByTime(UNREACHABLE_FOR_MS);
    limiter.unreachable('api', REFUSED);
    expect(calls).toEqual([['api', { unreachable: REFUSED, forMs: UNREACHABLE_FOR_MS + 2000 }]]);
  });

  it('refusals neither count toward STUCK_AFTER silences nor break them: a stuck peer is still told by its silences', () => {
    vi.useFakeTimers();
    const limiter = new Limiter(RATES);
    const calls: [string, NoAnswer][] = [];
    limiter.onStuck = (peer, why) => calls.push([peer, why]);
    for (let i = 0; i < STUCK_AFTER - 1; i++) {
      limiter.silent('api', 1000);
      limiter.unreachable('api', REFUSED);
    }
    expect(calls).toEqual([]);
    limiter.silent('api', 1000);
    expect(calls).toEqual([['api', { idleMs: 1000 }]]);
  });
});
