/**
 * pnpm-lock.yaml's fast read (js-yaml, src/lockfiles/pnpm-fast.ts) against the yaml read: for
 * every pnpm fixture and thousands of seeded mutations of them, the default read and the
 * yaml-only read give the same entries, warnings and formatVersion, or the same error (code,
 * message with its line, hint). A mutation that js-yaml accepts and yaml refuses, or reads
 * otherwise, shows up here as a difference: the fix is a stricter line check in pnpm-fast.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { globSync } from 'tinyglobby';
import { describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { parsePnpmLock, type PnpmReader } from '../../src/lockfiles/pnpm.js';
import { readPnpmFast } from '../../src/lockfiles/pnpm-fast.js';
import { ROOT } from '../support/harness.js';
import { excerpt, LINE_EDITS, lineEdit, pick } from '../support/mutations.js';
import { prng } from '../support/prng.js';

const FIXTURES = globSync('test/fixtures/**/pnpm-lock.yaml', { cwd: ROOT }).sort();
const FILE = '/repo/pnpm-lock.yaml';

function outcome(text: string, reader: PnpmReader): unknown {
  try {
    return { ok: parsePnpmLock(text, FILE, { reader }) };
  } catch (e) {
    if (e instanceof MigrateError) return { code: e.code, message: e.message, hint: e.hint };
    return { thrown: String(e) }; // not a coded error: a difference all the same
  }
}

const CHARS = [' ', ' ', ':', '-', '\n', '\t', '#', "'", '"', '{', '}', '[', ']', ',', '&', '*', '!', '?', '|', '>', '@', '`', '%', '~', '0', 'a', '\r', '\uFEFF', '\\', '.', '<', '\u0085', '\u2028', '\x00', '\x7f', 'é'];
const VALUES = ['~', 'null', 'NULL', "''", '""', '0x1F', '-0x1F', '1_000', '0o17', '017', '0b101', '.inf', '-.Inf', '.NaN', '1e3', '1.', '.5', '+1', '-0', 'True', 'yes', 'on', '2001-12-14', '<<', '__proto__', '=', "'it''s'", '"a\\tb"', '"a b"', 'a #c', 'a: b', '&a x', '*a', '!!str 1', '!!binary aGk=', '!foo x', '|', '>-', '{}', '[]', '{a: 1, a: 2}', '{~: x}', '{null: x}', '{a:b}', '[a, [b]]', '{a: {b: c}}', '[-]', '- x', '? x', 'x'.repeat(1100), '1.0', '9.0', "'9.0'", '5.4', '6.0'];
const LINES = ['? [a, b]', ': x', '---', '...', '--- x', '%YAML 1.1', '# a comment', '  # indented comment', 'a: &a {b: 1}', 'c: *a', '<<: *a', 'packages: {}', '  ? k', '  : v', '\t', '  ', '- x', 'x', `${'k'.repeat(1030)}: v`, `'${'k'.repeat(1030)}': v`, '~: x', 'null: x', ': x', "'': x", '1: a', "'1': b", '0x1: c', 'true: t', "'true': u"];

function mutate(text: string, rnd: () => number): string {
  const which = Math.floor(rnd() * (LINE_EDITS + 9));
  if (which < LINE_EDITS) return lineEdit(text, rnd, which, { chars: CHARS, lines: LINES });
  const lines = text.split('\n');
  const li = Math.floor(rnd() * lines.length);
  const line = lines[li]!;
  const keyLine = /^( *)('[^']*'|[^ '][^:]*):( .*)?$/.exec(line);
  switch (which - LINE_EDITS) {
    case 0: {
      // a key given twice in its mapping: the line again a few lines on, at its indent
      if (!keyLine) return text;
      const at = Math.min(lines.length, li + 1 + Math.floor(rnd() * 6));
      lines.splice(at, 0, `${keyLine[1]}${keyLine[2]}: x`);
      return lines.join('\n');
    }
    case 1:
      if (!keyLine) return text;
      lines[li] = `${keyLine[1]}${keyLine[2]}: ${pick(rnd, VALUES)}`;
      return lines.join('\n');
    case 2:
      if (!keyLine) return text;
      lines[li] = `${keyLine[1]}${pick(rnd, ['? ', '&a ', '*a', '!!str ', '!t ', "'", '"', '- '])}${keyLine[2]}:${keyLine[3] ?? ''}`;
      return lines.join('\n');
    case 3:
      lines[li] = line.replace(/^( +)/, (s) => pick(rnd, ['\t', `${s}\t`, `\t${s.slice(1)}`]));
      return lines.join('\n');
    case 4:
      return `\uFEFF${text}`;
    case 5:
      return text.replaceAll('\n', '\r\n');
    case 6:
      lines[li] = `${line}${pick(rnd, [' ', '\r', ' # c', ':', ' :', '\t', ',', '}'])}`;
      return lines.join('\n');
    case 7:
      if (!keyLine) return text;
      lines[li] = `${keyLine[1]}${pick(rnd, VALUES)}:${keyLine[3] ?? ''}`;
      return lines.join('\n');
    default:
      if (!keyLine) return text;
      lines[li] = `${keyLine[1]}${keyLine[2]}: ${pick(rnd, VALUES)}`;
      return lines.join('\n');
  }
}

/** A slice of a big fixture: its head up to `packages:`, then a run of its entries. */
function excerptOf(text: string, rnd: () => number): string {
  return excerpt(text, rnd, { head: (lines) => (lines.includes('packages:') ? lines.indexOf('packages:') + 1 : undefined), isStart: (l) => /^ {2}\S/.test(l), length: [20, 80] });
}

describe('pnpm-lock.yaml: the js-yaml read gives what the yaml read gives', () => {
  it('finds the pnpm fixtures, and reads each of them the fast way, as yaml does', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(6);
    for (const f of FIXTURES) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      expect(readPnpmFast(text), f).toBeDefined();
      expect(outcome(text, 'auto'), f).toEqual(outcome(text, 'yaml'));
    }
  });

  it('reads a fixture checked out with CR LF line ends (autocrlf) the fast way too, as yaml does; a lone CR is left to yaml', () => {
    for (const f of FIXTURES) {
      const crlf = readFileSync(join(ROOT, f), 'utf8').replaceAll('\n', '\r\n');
      expect(readPnpmFast(crlf), f).toBeDefined();
      expect(outcome(crlf, 'auto'), f).toEqual(outcome(crlf, 'yaml'));
    }
    expect(readPnpmFast("lockfileVersion: '9.0'\rpackages: {}\n")).toBeUndefined();
  });

  it.each(FIXTURES)('%s: seeded mutations read alike or fail alike', (f) => {
    const original = readFileSync(join(ROOT, f), 'utf8');
    const cases = 700;
    const differences: string[] = [];
    let fast = 0;
    let fastFailed = 0;
    for (let seed = 1; seed <= cases; seed++) {
      const rnd = prng(seed * 7919 + f.length);
      let text = excerptOf(original, rnd);
      for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) text = mutate(text, rnd);
      const viaFast = readPnpmFast(text) !== undefined;
      const auto = outcome(text, 'auto');
      if (viaFast) {
        fast++;
        if (!('ok' in (auto as object))) fastFailed++;
      }
      const yaml = outcome(text, 'yaml');
      if (!isDeepStrictEqual(auto, yaml)) differences.push(`seed ${seed}: ${JSON.stringify(text).slice(0, 2000)}\n  auto: ${JSON.stringify(auto).slice(0, 300)}\n  yaml: ${JSON.stringify(yaml).slice(0, 300)}`);
    }
    expect(differences).toEqual([]);
    // the test means something only if many mutations do go the fast way, some of them to an error of ours
    expect(fast).toBeGreaterThan(cases / 8);
    expect(fastFailed).toBeGreaterThan(0);
  }, 120_000);

  it.each([
    ['a null key: "" in yaml, "null" in js-yaml', "lockfileVersion: '9.0'\npackages:\n  ~:\n    resolution: {integrity: sha512-A}\n"],
    ['a null key in a flow mapping', "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies: {~: link:x}\n"],
    ['numbers js-yaml reads and yaml does not', "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a: {specifier: 1_000, version: 0b1}\n      b: {specifier: x, version: -0x1}\n"],
    ['a key over 1024 characters', `lockfileVersion: '9.0'\npackages:\n  ${'a'.repeat(1100)}@1.0.0:\n    resolution: {integrity: sha512-A}\n`],
    ['a key as a number and as a string', "lockfileVersion: '9.0'\npackages:\n  1:\n    name: a\n  '1':\n    name: b\n"],
    ['a merge key', "lockfileVersion: '9.0'\nx: &x {a: 1}\npackages:\n  <<: *x\n"],
    ['unquoted lockfileVersion', 'lockfileVersion: 9.0\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-A}\n'],
    ['the whole document indented', "  lockfileVersion: '9.0'\n  packages:\n    a@1.0.0:\n      resolution: {integrity: sha512-A}\n"],
  ])('%s: as yaml reads it', (_what, text) => {
    expect(outcome(text, 'auto')).toEqual(outcome(text, 'yaml'));
  });
});
