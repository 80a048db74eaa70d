/**
 * The run's throttle-storm breaker (THROTTLED_BEFORE_STOP): which outcomes count toward the
 * row, which break it, and which say nothing of the target (a source's failure) and leave it.
 */
import { describe, expect, it } from 'vitest';
import { THROTTLED_BEFORE_STOP, ThrottleBreaker } from '../src/engine/stop.js';

describe('ThrottleBreaker', () => {
  it('stops at the 8th version in a row throttled through its budget, once', () => {
    const b = new ThrottleBreaker();
    const trips = Array.from({ length: THROTTLED_BEFORE_STOP + 3 }, () => b.outcome('failed:ETHROTTLED'));
    expect(trips.indexOf(true)).toBe(THROTTLED_BEFORE_STOP - 1);
    expect(trips.filter(Boolean)).toHaveLength(1);
  });

  it('a source failure between throttled versions says nothing of the target: the row goes on', () => {
    const b = new ThrottleBreaker();
    const seen: boolean[] = [];
    for (let i = 0; i < THROTTLED_BEFORE_STOP; i++) {
      seen.push(b.outcome('failed:ETHROTTLED'));
      for (const o of ['failed:ESOURCE', 'failed:ESOURCENOTFOUND', 'failed:EINTEGRITY', 'failed:EBUILD', 'failed:ESOURCESILENT', 'skipped'] as const) seen.push(b.outcome(o));
    }
    expect(seen.at(-7)).toBe(true);
  });

  it('a version the target answered or accepted breaks the row', () => {
    for (const other of ['published', 'present-identical', 'failed:ECONFLICT', 'failed:ETARGET', 'failed:EVERIFY'] as const) {
      const b = new ThrottleBreaker();
      for (let i = 0; i < THROTTLED_BEFORE_STOP - 1; i++) b.outcome('failed:ETHROTTLED');
      b.outcome(other);
      expect(b.outcome('failed:ETHROTTLED'), other).toBe(false);
    }
  });

  it('a version whose publish was accepted, then its read-back throttled, is no storm: it breaks the row', () => {
    const b = new ThrottleBreaker();
    const trips = Array.from({ length: 3 * THROTTLED_BEFORE_STOP }, () => b.outcome('failed:ETHROTTLED', { accepted: true }));
    expect(trips.some(Boolean)).toBe(false);
    for (let i = 0; i < THROTTLED_BEFORE_STOP - 1; i++) b.outcome('failed:ETHROTTLED');
    b.outcome('failed:ETHROTTLED', { accepted: true });
    expect(b.outcome('failed:ETHROTTLED')).toBe(false);
  });
});
