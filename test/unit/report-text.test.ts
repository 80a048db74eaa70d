/** Text the reports shorten: a source's message cut to fit is never cut inside a character. */
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration } from '../../src/report/estimate.js';
import { outcomeDetail, shorten } from '../../src/report/text.js';
import type { ReportVersion } from '../../src/report/schema.js';

/** A lone half of a surrogate pair: what a cut between the halves of an emoji leaves. */
const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('shorten', () => {
  it('keeps a text that fits, and cuts a longer one to the length with an ellipsis', () => {
    expect(shorten('abc', 3)).toBe('abc');
    expect(shorten('abcdef', 4)).toBe('abc…');
  });

  it('never leaves half an emoji, wherever the cut falls', () => {
    for (const prefix of ['', 'a']) {
      const text = `${prefix}${'😀'.repeat(50)}`;
      for (let max = 2; max < 60; max++) {
        const out = shorten(text, max);
        expect(out.length, `${prefix}|${max}`).toBeLessThanOrEqual(max);
        expect(out, `${prefix}|${max}`).not.toMatch(LONE);
      }
    }
  });
});

describe('outcomeDetail', () => {
  it("a source's message of emoji cut at the detail's length is whole characters", () => {
    for (const pad of ['', 'x']) {
      const v = { outcome: { key: 'failed', message: `${pad}${'🔥'.repeat(300)}` }, declared: {}, provenance: { kind: 'registry' } } as unknown as ReportVersion;
      const out = outcomeDetail(v, 240);
      expect(out.length).toBeLessThanOrEqual(240);
      expect(out).not.toMatch(LONE);
    }
  });
});

describe('sizes and durations as the estimate words them', () => {
  it('a size just under the next unit is said in that unit, never "1024 KiB"', () => {
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MiB');
    expect(formatBytes(1024 ** 3 - 1)).toBe('1.0 GiB');
    expect(formatBytes(1024 ** 5)).toBe('1024 TiB');
  });
  it('a duration rounding up to the next unit is said in it; past two days, in days and hours', () => {
    expect(formatDuration(59.4)).toBe('59 s');
    expect(formatDuration(59.6)).toBe('1 min');
    expect(formatDuration(3725)).toBe('1 h 2 min');
    expect(formatDuration(47 * 3600)).toBe('47 h');
    expect(formatDuration(100 * 3600 + 120)).toBe('4 d 4 h');
    expect(formatDuration(2400 * 3600)).toBe('100 d');
  });
});
