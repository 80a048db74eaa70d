/** Text the reports shorten: a source's message cut to fit is never cut inside a character. */
import { describe, expect, it } from 'vitest';
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
