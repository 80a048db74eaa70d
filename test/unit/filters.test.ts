/** config/filters: which versions a job selects. */
import { describe, expect, it } from 'vitest';
import { compileFilters, globMatcher, invalidFilterRanges } from '../../src/config/filters.js';
import type { JobConfig } from '../../src/config/schema.js';

type Filters = JobConfig['filters'];
const f = (include: Filters['include'] = [], exclude: Filters['exclude'] = []) => compileFilters({ include, exclude });

describe('compileFilters', () => {
  it('no filters select everything', () => {
    const pick = f();
    expect(pick('@acme/core', '1.0.0')).toBe(true);
    expect(pick('anything', '0.0.1-alpha')).toBe(true);
  });

  it('globs: * matches within a name, and the whole name must match', () => {
    const pick = f(['left-*', 'exact']);
    expect(pick('left-pad', '1.0.0')).toBe(true);
    expect(pick('left-', '1.0.0')).toBe(true);
    expect(pick('xleft-pad', '1.0.0')).toBe(false);
    expect(pick('exact', '1.0.0')).toBe(true);
    expect(pick('exactly', '1.0.0')).toBe(false);
    expect(pick('inexact', '1.0.0')).toBe(false);
  });

  it('regex characters in names are literal', () => {
    const pick = f(['a.b', 'c+d']);
    expect(pick('a.b', '1.0.0')).toBe(true);
    expect(pick('aXb', '1.0.0')).toBe(false);
    expect(pick('c+d', '1.0.0')).toBe(true);
    expect(pick('ccd', '1.0.0')).toBe(false);
  });

  it('scoped names: @scope/* is every package of the scope and nothing else', () => {
    const pick = f(['@acme/*']);
    expect(pick('@acme/core', '1.0.0')).toBe(true);
    expect(pick('@acme/http-client', '1.0.0')).toBe(true);
    expect(pick('@acme-gh/core', '1.0.0')).toBe(false);
    expect(pick('acme', '1.0.0')).toBe(false);
    // a scoped name without a range is not mistaken for name@range
    expect(f(['@acme/core'])('@acme/core', '9.9.9')).toBe(true);
  });

  it('name@range shorthand, for scoped and unscoped names', () => {
    const pick = f([], ['@acme/core@>=2.0.0', 'left-pad@<1.0.0']);
    expect(pick('@acme/core', '2.0.0')).toBe(false);
    expect(pick('@acme/core', '3.1.4')).toBe(false);
    expect(pick('@acme/core', '1.9.9')).toBe(true);
    expect(pick('left-pad', '0.9.0')).toBe(false);
    expect(pick('left-pad', '1.0.0')).toBe(true);
    // the range concerns only the package it names
    expect(pick('@acme/other', '2.0.0')).toBe(true);
  });

  it('the long form { name, versions } means the same as the shorthand', () => {
    const long = f([], [{ name: '@acme/*', versions: '0.x' }]);
    const short = f([], ['@acme/*@0.x']);
    for (const [n, v] of [
      ['@acme/core', '0.3.0'],
      ['@acme/core', '1.0.0'],
      ['@acme/core', '0.4.0-beta.1'],
      ['other', '0.1.0'],
    ] as const) {
      expect(long(n, v), `${n}@${v}`).toBe(short(n, v));
    }
    expect(long('@acme/core', '0.3.0')).toBe(false);
    expect(long('@acme/core', '1.0.0')).toBe(true);
  });

  it('ranges include prereleases: a migration moves history, not only releases', () => {
    const exclude = f([], ['@acme/core@<1.0.0']);
    expect(exclude('@acme/core', '1.0.0-rc.1')).toBe(false);
    expect(exclude('@acme/core', '0.3.0-beta.2')).toBe(false);
    expect(exclude('@acme/core', '1.0.0')).toBe(true);
    const include = f(['@acme/core@^2.0.0']);
    expect(include('@acme/core', '2.1.0-beta.1')).toBe(true);
    expect(include('@acme/core', '2.0.0-rc.1')).toBe(false); // below 2.0.0
    expect(include('@acme/core', '3.0.0-alpha')).toBe(false);
  });

  it('include and exclude together: the version must be included and not excluded; exclude wins', () => {
    const pick = f(['@acme/*', 'left-pad'], ['@acme/internal-*', '@acme/core@<1.0.0', 'left-pad']);
    expect(pick('@acme/core', '1.0.0')).toBe(true);
    expect(pick('@acme/core', '0.9.0')).toBe(false);
    expect(pick('@acme/internal-tools', '5.0.0')).toBe(false);
    expect(pick('left-pad', '1.0.0')).toBe(false); // both included and excluded
    expect(pick('right-pad', '1.0.0')).toBe(false); // not included
  });

  it('several include entries are alternatives', () => {
    const pick = f(['@acme/core@1.x', '@acme/core@3.x']);
    expect(pick('@acme/core', '1.5.0')).toBe(true);
    expect(pick('@acme/core', '2.0.0')).toBe(false);
    expect(pick('@acme/core', '3.0.0')).toBe(true);
  });
});

describe('invalidFilterRanges', () => {
  it('names the ranges of string shorthands that are not semver', () => {
    expect(invalidFilterRanges({ include: ['@acme/core@>=banana', '@acme/*'], exclude: ['left-pad@1.x', 'x@not a range!'] })).toEqual(['>=banana', 'not a range!']);
  });

  it('has nothing to say about valid filters', () => {
    expect(invalidFilterRanges({ include: ['@acme/*', '@acme/core@>=1.0.0 <2', { name: 'a', versions: '^1' }], exclude: [] })).toEqual([]);
  });
});

describe('globMatcher', () => {
  it('matches like the regular expression would, on every shape of glob', () => {
    const cases: [string, string, boolean][] = [
      ['*', '', true],
      ['*', '@acme/core', true],
      ['@acme/*', '@acme/core', true],
      ['@acme/*', '@acme/', true],
      ['@acme/*', '@acmex/core', false],
      ['*-utils', 'plain-utils', true],
      ['*-utils', 'plain-utilsx', false],
      ['a*b*c', 'abc', true],
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'acb', false],
      ['a*a', 'a', false], // first and last piece may not overlap
      ['a*a', 'aa', true],
      ['**', 'x', true],
      ['a**b', 'ab', true],
      ['exact', 'exact', true],
      ['exact', 'exactly', false],
      ['x*yz*yz', 'xyzyz', true],
      ['x*yz*yz', 'xyz', false],
    ];
    for (const [glob, name, want] of cases) expect([glob, name, globMatcher(glob)(name)]).toEqual([glob, name, want]);
  });

  it('a glob built to make a regular expression backtrack exponentially is answered at once', () => {
    // as `^a.*a.*a…b$` this takes longer than the age of the universe on 5,000 a's; here it is one pass
    const glob = `${'a*'.repeat(30)}b`;
    expect(globMatcher(glob)('a'.repeat(5000))).toBe(false);
    expect(compileFilters({ include: [glob], exclude: [] })('a'.repeat(5000), '1.0.0')).toBe(false);
    expect(globMatcher(glob)(`${'a'.repeat(5000)}b`)).toBe(true);
  });
});
