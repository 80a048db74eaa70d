/**
 * yarn.lock (classic)'s fast read (src/lockfiles/yarn-classic-fast.ts) against yarn's own parser
 * (@yarnpkg/lockfile): for every yarn classic fixture, the bench's generated lockfile, and
 * thousands of seeded mutations of the fixtures, the fast read gives the very object yarn's parse
 * gives (same values and types, same key order, the same object under every key of a block, null
 * prototypes), or declines; and the default read and the yarn-only read give the same entries,
 * warnings and formatVersion, or the same error (code, message with its line, hint). A mutation
 * the fast read accepts and yarn reads otherwise shows up here: the fix is a stricter line check.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { globSync } from 'tinyglobby';
import { describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { parseYarnClassic, type YarnClassicReader } from '../../src/lockfiles/yarn-classic.js';
import { readYarnClassicFast } from '../../src/lockfiles/yarn-classic-fast.js';
import { yarnClassic } from '../support/big-lockfiles.js';
import { ROOT } from '../support/harness.js';
import { excerpt, LINE_EDITS, lineEdit, pick } from '../support/mutations.js';
import { prng } from '../support/prng.js';

const lockfile = createRequire(import.meta.url)('@yarnpkg/lockfile') as typeof import('@yarnpkg/lockfile');

const FIXTURES = globSync('test/fixtures/**/yarn.lock', { cwd: ROOT })
  .filter((f) => readFileSync(join(ROOT, f), 'utf8').includes('# yarn lockfile v1'))
  .sort();
const FILE = '/repo/yarn.lock';

function outcome(text: string, reader: YarnClassicReader): unknown {
  try {
    return { ok: parseYarnClassic(text, FILE, { reader }) };
  } catch (e) {
    if (e instanceof MigrateError) return { code: e.code, message: e.message, hint: e.hint };
    return { thrown: String(e) }; // not a coded error: a difference all the same
  }
}

/** A value's shape with its key order and which objects are one object (`#n` for one seen before). */
function shape(v: unknown, seen = new Map<object, number>()): string {
  if (typeof v !== 'object' || v === null) return `${typeof v}:${String(v)}`;
  const id = seen.get(v);
  if (id !== undefined) return `#${id}`;
  seen.set(v, seen.size);
  return `{${Object.keys(v)
    .map((k) => `${JSON.stringify(k)}=${shape((v as Record<string, unknown>)[k], seen)}`)
    .join(',')}}`;
}

/** undefined when the fast read declines or gives what yarn's parse gives; else what differs. */
function fastDifference(text: string): string | undefined {
  const fast = readYarnClassicFast(text);
  if (fast === undefined) return undefined;
  let yarn: ReturnType<typeof lockfile.parse>;
  try {
    // as yarn-classic.ts calls it
    yarn = lockfile.parse(`${text}\n#"\n`, FILE);
  } catch (e) {
    return `yarn throws ${String(e).slice(0, 200)}`;
  }
  if (yarn.type !== 'success') return `yarn says ${yarn.type}`;
  if (!isDeepStrictEqual(fast, yarn.object)) return 'not deep-equal';
  const [a, b] = [shape(fast), shape(yarn.object)];
  return a === b ? undefined : `shapes differ:\n  fast: ${a.slice(0, 300)}\n  yarn: ${b.slice(0, 300)}`;
}

const CHARS = [' ', ' ', ':', ',', '"', '\\', '#', '\n', '\r', '\t', '\uFEFF', '0', '1', 't', 'a', '@', '/', '-', '{', '}', '\x00', 'é', '\u2028', '<', '=', '>'];
const VALUES = ['true', 'false', 'truex', 'falsey', 'true1', '1', '007', '1.0.0', '12345678901234567890', '1'.repeat(400), '""', '"true"', '"1"', '"a b"', '"a:b"', '"a\\"b"', '"a\\\\"', '"\\u0041"', '"\\"', '"unclosed', 'a:b', 'a,b', '@s/a', '^1.0.0', '"^1.0.0"', '-', '/x', 'a b', 'a  b', '{}', '"é"', 'é', 'https://x/a.tgz', '"https://x/a.tgz#abc"', 'sha512-abc+/==', '"\t"', '#x', 'a#b', 'x"y', '"x"y', '"x" "y"', 'a\tb', ' ', ''];
const KEYS = ['"a b@1"', '"a:b@1"', '"@s/a@^1"', '@s/a@^1', 'a@1', 'true', 'truex', 'false@1', '1', '01', '"1"', '""', '__proto__', '"__proto__"', 'constructor', 'toString', '"a", "b"', 'a, b', 'a,b', 'a ,b', '"a" "b"', 'a b', '"a\\"b"', 'version', 'dependencies', 'resolved', '-', '/', '"é"', 'é', 'a"b', '"a,b@1"', '"a#b"', '#a'];
const LINES = ['# comment', '  # indented comment', '    # deeper comment', '#', '# yarn lockfile v1', '# yarn lockfile v2', '#yarn lockfile v9', '# yarn lockfile v0', '', '  ', '    ', '\t', '\r', '<<<<<<< HEAD', '=======', '>>>>>>> branch', '||||||| base', 'a@1:', '"b@1", c@2:', '  version "1"', '  version 1', '  optional true', '    a "1"', '    a:', '      deep "1"', '  dependencies:', 'k v', 'k "v"', ' x "1"', '   x "1"', '  a: b', '  a:b', '  a:', 'a@1', ':', ',', '"', 'a@1: # c', '  version "1" # c'];

function mutate(text: string, rnd: () => number): string {
  const which = Math.floor(rnd() * (LINE_EDITS + 12));
  if (which < LINE_EDITS) return lineEdit(text, rnd, which, { chars: CHARS, lines: LINES });
  const lines = text.split('\n');
  const li = Math.floor(rnd() * lines.length);
  const line = lines[li]!;
  // indent, key, the rest (` value`, `:`, `, "b":`)
  const keyLine = /^( *)("(?:[^"\\\n]|\\.)*"|[^\s":,]+)(.*)$/.exec(line);
  switch (which - LINE_EDITS) {
    case 0: {
      // a key given twice: the line again a few lines on, at its indent
      if (!keyLine) return text;
      const at = Math.min(lines.length, li + 1 + Math.floor(rnd() * 6));
      lines.splice(at, 0, `${keyLine[1]}${keyLine[2]}${keyLine[3]!.endsWith(':') ? ':' : ` ${pick(rnd, VALUES)}`}`);
      return lines.join('\n');
    }
    case 1:
    case 2:
      if (!keyLine || keyLine[3]!.endsWith(':')) return text;
      lines[li] = `${keyLine[1]}${keyLine[2]} ${pick(rnd, VALUES)}`;
      return lines.join('\n');
    case 3:
    case 4:
      if (!keyLine) return text;
      lines[li] = `${keyLine[1]}${pick(rnd, KEYS)}${keyLine[3]}`;
      return lines.join('\n');
    case 5:
      lines[li] = line.replace(/^( *)/, (s) => pick(rnd, ['\t', `${s}\t`, `\t${s.slice(1)}`, `${s} `]));
      return lines.join('\n');
    case 6:
      return `\uFEFF${text}`;
    case 7:
      return rnd() < 0.8 ? text.replaceAll('\n', '\r\n') : lines.map((l, i) => (i % 3 ? l : `${l}\r`)).join('\n');
    case 8:
      lines[li] = `${line}${pick(rnd, [' ', '\r', ' # c', '#c', ':', ' :', '\t', ',', ', b:', ' "x"', ' 1', ' true', '\u2028'])}`;
      return lines.join('\n');
    case 9:
      return text.replace(/\n+$/, '');
    case 10: {
      // git conflict markers around a few lines, the other side a changed copy
      const n = 1 + Math.floor(rnd() * 6);
      const ours = lines.slice(li, li + n);
      const theirs = ours.map((l) => l.replace(/"(\d+)\./, '"9.'));
      lines.splice(li, n, '<<<<<<< HEAD', ...ours, ...(rnd() < 0.3 ? ['||||||| base', ...ours] : []), '=======', ...theirs, '>>>>>>> other');
      return lines.join('\n');
    }
    default:
      lines.splice(li, 0, pick(rnd, ['# c', '#', `${' '.repeat(Math.floor(rnd() * 3) * 2)}# c`, '']));
      return lines.join('\n');
  }
}

/** A slice of a big fixture: its header comments, then a run of its blocks. */
function excerptOf(text: string, rnd: () => number): string {
  return excerpt(text, rnd, { head: () => 4, isStart: (l) => /^\S/.test(l) && !l.startsWith('#'), length: [20, 80] });
}

describe('yarn.lock (classic): the fast read gives what yarn’s parser gives', () => {
  it('finds the yarn classic fixtures, and reads each of them the fast way, as yarn does', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(3);
    for (const f of FIXTURES) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      expect(readYarnClassicFast(text), f).toBeDefined();
      expect(fastDifference(text), f).toBeUndefined();
      expect(outcome(text, 'auto'), f).toEqual(outcome(text, 'yarn'));
    }
  });

  it('reads the bench’s generated lockfile of 110,000 packages the fast way, as yarn does', () => {
    const text = yarnClassic(110_000);
    expect(readYarnClassicFast(text)).toBeDefined();
    expect(fastDifference(text)).toBeUndefined();
    expect(outcome(text, 'auto')).toEqual(outcome(text, 'yarn'));
  }, 120_000);

  it.each(FIXTURES)('%s: seeded mutations read alike or fail alike', (f) => {
    const original = readFileSync(join(ROOT, f), 'utf8');
    const cases = 1500;
    const differences: string[] = [];
    let fast = 0;
    let fastFailed = 0;
    let mutatedFast = 0;
    for (let seed = 1; seed <= cases; seed++) {
      const rnd = prng(seed * 7919 + f.length);
      const base = excerptOf(original, rnd);
      let text = base;
      for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) text = mutate(text, rnd);
      const raw = fastDifference(text);
      if (raw !== undefined) differences.push(`seed ${seed}: ${JSON.stringify(text).slice(0, 2000)}\n  ${raw}`);
      const auto = outcome(text, 'auto');
      if (readYarnClassicFast(text) !== undefined) {
        fast++;
        if (text !== base) mutatedFast++;
        if (!('ok' in (auto as object))) fastFailed++;
      }
      const yarn = outcome(text, 'yarn');
      if (!isDeepStrictEqual(auto, yarn)) differences.push(`seed ${seed}: ${JSON.stringify(text).slice(0, 2000)}\n  auto: ${JSON.stringify(auto).slice(0, 300)}\n  yarn: ${JSON.stringify(yarn).slice(0, 300)}`);
    }
    expect(differences).toEqual([]);
    // the test means something only if many mutations do go the fast way, some of them to an error of ours
    expect(fast).toBeGreaterThan(cases / 8);
    expect(mutatedFast).toBeGreaterThan(cases / 10);
    expect(fastFailed).toBeGreaterThan(0);
  }, 120_000);

  const block = 'a@^1.0.0:\n  version "1.0.0"\n  resolved "https://registry.yarnpkg.com/a/-/a-1.0.0.tgz#0123456789abcdef0123456789abcdef01234567"\n  dependencies:\n    b "^2.0.0"\n';
  it.each([
    ['CRLF line ends', `# yarn lockfile v1\r\n\r\n${block.replaceAll('\n', '\r\n')}`, true],
    ['a BOM', `\uFEFF# yarn lockfile v1\n\n${block}`, true],
    ['no newline at the end', `# yarn lockfile v1\n\n${block.trimEnd()}`, true],
    ['no newline after a last comment', `${block}# end`, true],
    ['numbers and booleans as values', 'a@1:\n  version 1\n  optional true\n  dev false\n  n 007\n', true],
    ['a key twice, and __proto__ as a key', `${block}\n${block.replace('1.0.0"', '1.1.0"')}"__proto__@1":\n  version "1"\n  "__proto__" "x"\n`, true],
    ['keys with spaces, colons and @', '"a b@1", "c:d@npm:e@1", "@s/f@^1 || ^2":\n  version "1.0.0"\n', true],
    ['an empty block and an empty map', 'a@1:\nb@1:\n  dependencies:\n  version "1.0.0"\n', true],
    ['a lockfile of a newer yarn', `# yarn lockfile v2\n\n${block}`, false],
    ['git conflict markers', `# yarn lockfile v1\n\n<<<<<<< HEAD\n${block}=======\n${block.replace('1.0.0"', '1.1.0"')}>>>>>>> other\n`, false],
    ['an unresolvable conflict', `<<<<<<< HEAD\n${block}=======\n${block}  bad: {\n>>>>>>> other\n`, false],
    ['a blank line inside a block (yarn drops the rest)', `${block.replace('  resolved', '\n  resolved')}b@1:\n  version "2"\n`, false],
    ['a comment inside a block', block.replace('  dependencies', '# c\n  dependencies'), false],
    ['an indented first line', `  ${block}`, false],
    ['a line indented too deep', block.replace('    b', '      b'), false],
    ['a value starting with a digit', 'a@1:\n  version 1.0.0\n', false],
    ['an empty key', '"":\n  version "1"\n', false],
    ['a tab', 'a@1:\n\tversion "1"\n', false],
    ['an unclosed string', 'a@1:\n  version "1\n', false],
    ['an escape', 'a@1:\n  version "1\\u0030"\n', false],
  ])('%s: as yarn reads it', (_what, text, fast) => {
    expect(readYarnClassicFast(text) !== undefined).toBe(fast);
    expect(fastDifference(text)).toBeUndefined();
    expect(outcome(text, 'auto')).toEqual(outcome(text, 'yarn'));
  });
});
