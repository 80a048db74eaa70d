/**
 * pnpm-lock.yaml's rewrite the fast way (src/lockfiles/rewrite/pnpm-fast.ts: a line scan, no
 * yaml Document) against the Document way: the real pnpm 5.4/6.0/9.0 fixtures are given
 * tarball URLs (flow and block resolutions, plain and quoted, registry URLs to move and URLs
 * to leave, keys named tarball elsewhere), then mutated with a seeded generator (quoting,
 * comments, CRLF, indentation, escapes, lines moved or repeated), and each text is rewritten
 * both ways: the same text, changes, notes and count, byte for byte. The fast way must also be
 * the one taken for the lockfiles pnpm writes, or the comparison proves nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { globSync } from 'tinyglobby';
import { describe, expect, it } from 'vitest';
import { pnpmTarballsFast } from '../../src/lockfiles/rewrite/pnpm-fast.js';
import { rewritePnpm } from '../../src/lockfiles/rewrite/pnpm.js';
import type { RewriteTargets } from '../../src/lockfiles/rewrite/types.js';
import { pnpmV9 } from '../support/big-lockfiles.js';
import { ROOT } from '../support/harness.js';
import { excerpt, pick } from '../support/mutations.js';
import { prng } from '../support/prng.js';

const FIXTURES = globSync('test/fixtures/lockfiles/**/pnpm-lock.yaml', { cwd: ROOT }).sort();
const NPM = 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/npm/npm-shared/';
const TARGETS: RewriteTargets[] = [{ npm: NPM }, { npm: NPM, foreignNpmHost: (u) => (u.includes('npm.other.example') ? 'npm.other.example' : undefined) }];

/** URLs a resolution may carry: registry tarballs to move, ones moved already, a foreign registry's, and ones that are no registry tarball. */
const URLS = [
  'https://registry.npmjs.org/left/-/left-1.0.0.tgz',
  'https://registry.npmjs.org/@acme/x/-/x-2.0.0.tgz',
  'https://npm.acme.example/%40acme%2fy/-/y-1.0.0.tgz',
  'https://npm.acme.example/repository/npm/z/-/z-3.1.4.tgz#sha1abc',
  'https://npm.acme.example/q/-/q-1.0.0.tgz?token=abc',
  `${NPM}left/-/left-1.0.0.tgz`,
  'https://npm.other.example/w/-/w-1.0.0.tgz',
  'https://codeload.github.com/acme/left/tar.gz/0123456789abcdef0123456789abcdef01234567',
  'file:vendor/local-1.0.0.tgz',
  'https://cdn.example/remote.tgz',
  "https://npm.acme.example/it's/-/it's-1.0.0.tgz",
  'https://npm.acme.example/a b/-/a b-1.0.0.tgz',
  'https://npm.acme.example/..%2f..%2fx/-/x-1.0.0.tgz',
];

/** `url` as a YAML scalar: plain, single- or double-quoted (as pnpm, or a hand, may write it). */
function scalar(url: string, rnd: () => number): string {
  const style = Math.floor(rnd() * 4);
  if (style === 1) return `'${url.replaceAll("'", "''")}'`;
  if (style === 2) return JSON.stringify(url);
  if (/^[\w:/]/.test(url) && !url.includes(' ')) return url;
  return `'${url.replaceAll("'", "''")}'`;
}

/** The fixture with tarball URLs in many of its resolutions, flow or block, and keys named tarball where they are no URL to move. */
function withTarballs(text: string, rnd: () => number, count = { tarballs: 0 }): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const r = /^( +)resolution: \{integrity: ([^,}]+)\}$/.exec(line);
    if (!r || rnd() < 0.3) {
      out.push(line);
      if (/^ {2}\S.*:$/.test(line) && rnd() < 0.03) out.push(`    tarball: ${scalar(pick(rnd, URLS), rnd)}`); // a package's own key named tarball: no resolution
      continue;
    }
    const [, ind, integrity] = r;
    const url = scalar(pick(rnd, URLS), rnd);
    const deeper = ind + pick(rnd, ['  ', '  ', ' ', '    ']);
    count.tarballs++;
    switch (Math.floor(rnd() * 6)) {
      case 0:
      case 1:
        out.push(`${ind}resolution: {integrity: ${integrity}, tarball: ${url}}`);
        break;
      case 2:
        out.push(`${ind}resolution: {tarball: ${url}, integrity: ${integrity}}`);
        break;
      case 3:
        out.push(`${ind}resolution:`, `${deeper}integrity: ${integrity}`, `${deeper}tarball: ${url}`);
        break;
      case 4:
        out.push(`${ind}resolution:`, `${deeper}tarball: ${url}`, `${deeper}integrity: ${integrity}`);
        break;
      default:
        // a mapping under the resolution whose key is tarball: no tarball of the resolution's own
        out.push(`${ind}resolution:`, `${deeper}integrity: ${integrity}`, `${deeper}extra:`, `${deeper}  tarball: ${url}`);
        count.tarballs--;
    }
  }
  return out.join('\n');
}

const VALUES = ["'x'", '"y"', '~', '1.0', 'true', '{}', '[a, b]', '{tarball: x}', '"a\\x2db"', "'it''s'", 'a #c', "''", '|', '>-'];
const LINES = ['# tarball: https://registry.npmjs.org/c/-/c-1.0.0.tgz', '  # a comment', 'tarball: https://registry.npmjs.org/t/-/t-1.0.0.tgz', '  tarball: https://registry.npmjs.org/t/-/t-1.0.0.tgz', "  'tarball': x", '- x', '---', '    resolution:', '      tarball: https://registry.npmjs.org/u/-/u-1.0.0.tgz', '  p@1.0.0:', '    resolution: {tarball: https://registry.npmjs.org/p/-/p-1.0.0.tgz}', '\t', '  ', '   x: y'];

function mutate(text: string, rnd: () => number): string {
  const lines = text.split('\n');
  const li = Math.floor(rnd() * lines.length);
  const line = lines[li]!;
  const tarballLines = lines.flatMap((l, i) => (/tarball: /.test(l) ? [i] : []));
  const ti = tarballLines.length ? pick(rnd, tarballLines) : li;
  const pos = Math.floor(rnd() * (text.length + 1));
  const keyLine = /^( *)('[^']*'|[^ '][^:]*):( .*)?$/.exec(line);
  switch (Math.floor(rnd() * 14)) {
    case 0:
      return text.slice(0, pos) + pick(rnd, [' ', ':', '#', "'", '"', '{', '}', ',', '\\', '\n', '\r', '-', '?']) + text.slice(pos);
    case 1:
      return text.slice(0, pos) + text.slice(pos + 1);
    case 2:
      lines.splice(li, 1);
      return lines.join('\n');
    case 3:
      lines.splice(li, 0, line);
      return lines.join('\n');
    case 4:
      lines.splice(li, 0, pick(rnd, LINES));
      return lines.join('\n');
    case 5: {
      const d = pick(rnd, [-2, -1, 1, 2]);
      lines[ti] = d < 0 ? lines[ti]!.slice(-d) : ' '.repeat(d) + lines[ti];
      return lines.join('\n');
    }
    case 6:
      return text.replaceAll('\n', '\r\n');
    case 7:
      lines[ti] = `${lines[ti]}${pick(rnd, [' # pinned', ' ', '\r', ',', '#x'])}`;
      return lines.join('\n');
    case 8:
      // the URL in another quoting, or with an escape yaml decodes
      lines[ti] = lines[ti]!.replace(/tarball: ([^,}]+)/, (_s, v: string) => `tarball: ${pick(rnd, [`"${v.replace(/^['"]|['"]$/g, '').replace('-', '\\x2d')}"`, `'${v.replace(/^['"]|['"]$/g, '')}'`, v.replace(/^['"]|['"]$/g, ''), `"${v.replace(/^['"]|['"]$/g, '')}"`])}`);
      return lines.join('\n');
    case 9:
      if (!keyLine) return text;
      lines[li] = `${keyLine[1]}${keyLine[2]}: ${pick(rnd, VALUES)}`;
      return lines.join('\n');
    case 10:
      lines[ti] = lines[ti]!.replace('tarball:', pick(rnd, ["'tarball':", '"tarball":', 'tarbal:', 'tarball :', 'Tarball:']));
      return lines.join('\n');
    case 11: {
      // a tarball line repeated in its resolution, or under another package
      const at = Math.min(lines.length, ti + 1 + Math.floor(rnd() * 4));
      lines.splice(at, 0, lines[ti]!);
      return lines.join('\n');
    }
    case 12:
      return rnd() < 0.5 ? `---\n${text}` : `\uFEFF${text}`;
    default: {
      const j = Math.min(lines.length - 1, li + 1);
      [lines[li], lines[j]] = [lines[j]!, line];
      return lines.join('\n');
    }
  }
}

/** The head of a big fixture up to `packages:`, then a run of its packages (pnpm 9's snapshots after them hold no resolutions). */
function excerptOf(text: string, rnd: () => number): string {
  const lines = text.split('\n');
  const p = lines.indexOf('packages:');
  const next = lines.findIndex((l, i) => i > p && /^\S/.test(l));
  return excerpt(text, rnd, { head: () => (p === -1 ? undefined : p + 1), isStart: (l, i) => (next === -1 || i < next) && /^ {2}\S/.test(l), length: [30, 90] });
}

describe('pnpm-lock.yaml rewrite: the line scan gives what yaml\'s Document gives', () => {
  it.each(FIXTURES)('%s: seeded mutations rewrite alike, byte for byte', (f) => {
    const original = readFileSync(join(ROOT, f), 'utf8');
    const cases = 600;
    const differences: string[] = [];
    let fast = 0;
    let fastMoved = 0;
    for (let seed = 1; seed <= cases; seed++) {
      const rnd = prng(seed * 104_729 + f.length);
      let text = withTarballs(excerptOf(original, rnd), rnd);
      for (let n = Math.floor(rnd() * 4); n > 0; n--) text = mutate(text, rnd);
      const targets = pick(rnd, TARGETS);
      const spots = pnpmTarballsFast(text);
      const auto = rewritePnpm(text, targets);
      const doc = rewritePnpm(text, targets, { reader: 'yaml' });
      if (spots?.length) {
        fast++;
        if (auto.changes.length) fastMoved++;
      }
      if (!isDeepStrictEqual(auto, doc)) differences.push(`seed ${seed}: ${JSON.stringify(text).slice(0, 3000)}\n  fast: ${JSON.stringify(auto.changes).slice(0, 500)}\n  yaml: ${JSON.stringify(doc.changes).slice(0, 500)}`);
    }
    expect(differences).toEqual([]);
    // the comparison means something only if many texts do go the fast way, and move URLs there
    expect(fast).toBeGreaterThan(cases / 4);
    expect(fastMoved).toBeGreaterThan(cases / 8);
  }, 120_000);

  it.each(FIXTURES)('%s with tarball URLs, unmutated, is rewritten the fast way', (f) => {
    const original = readFileSync(join(ROOT, f), 'utf8');
    for (let seed = 1; seed <= 20; seed++) {
      const count = { tarballs: (original.match(/^ +resolution: \{.*tarball: /gm) ?? []).length }; // mono's local file: tarball
      const text = withTarballs(original, prng(seed), count);
      expect(count.tarballs).toBeGreaterThan(0);
      expect(pnpmTarballsFast(text)?.length, `seed ${seed}`).toBe(count.tarballs);
      expect(rewritePnpm(text, TARGETS[0]!)).toEqual(rewritePnpm(text, TARGETS[0]!, { reader: 'yaml' }));
    }
  });

  it("the bench's pnpm 9 lockfile with a third of its packages on a company registry is rewritten the fast way", () => {
    const text = pnpmV9(3000, { tarballs: true });
    expect(pnpmTarballsFast(text)).toHaveLength(1000);
    const r = rewritePnpm(text, TARGETS[0]!);
    expect(r.changes).toHaveLength(1000);
    expect(r).toEqual(rewritePnpm(text, TARGETS[0]!, { reader: 'yaml' }));
  });

  const head = "lockfileVersion: '9.0'\n\npackages:\n\n  left@1.0.0:\n";
  it.each([
    ['flow, plain', `${head}    resolution: {integrity: sha512-A, tarball: https://registry.npmjs.org/left/-/left-1.0.0.tgz}\n`, 1],
    ['flow, tarball first, single-quoted', `${head}    resolution: {tarball: 'https://registry.npmjs.org/left/-/left-1.0.0.tgz', integrity: sha512-A}\n`, 1],
    ['block, double-quoted', `${head}    resolution:\n      integrity: sha512-A\n      tarball: "https://registry.npmjs.org/left/-/left-1.0.0.tgz"\n`, 1],
    ['block, a key named tarball in a mapping under it', `${head}    resolution:\n      x:\n        tarball: https://registry.npmjs.org/left/-/left-1.0.0.tgz\n      integrity: sha512-A\n`, 0],
    ['a key named tarball beside the resolution', `${head}    tarball: https://registry.npmjs.org/left/-/left-1.0.0.tgz\n    resolution: {integrity: sha512-A}\n  right@1.0.0:\n    resolution: {tarball: https://registry.npmjs.org/right/-/right-1.0.0.tgz}\n`, 1],
  ])('%s: the fast way', (_what, text, count) => {
    const spots = pnpmTarballsFast(text);
    expect(spots).toBeDefined();
    expect(rewritePnpm(text, TARGETS[0]!).changes).toHaveLength(count);
    expect(rewritePnpm(text, TARGETS[0]!)).toEqual(rewritePnpm(text, TARGETS[0]!, { reader: 'yaml' }));
  });

  it("a lockfile checked out with CR LF line ends (autocrlf) is rewritten the fast way, as its LF text is, every CR kept: yaml's Document took 80 s and 3 GB for 41 MB of it", () => {
    const lf = pnpmV9(3000, { tarballs: true });
    const crlf = lf.replaceAll('\n', '\r\n');
    const spots = pnpmTarballsFast(crlf);
    expect(spots).toHaveLength(1000);
    for (const s of spots!) expect(crlf.slice(s.start, s.end)).toBe(s.value);
    const r = rewritePnpm(crlf, TARGETS[0]!);
    expect(r.text).toBe(rewritePnpm(lf, TARGETS[0]!).text.replaceAll('\n', '\r\n'));
    expect(r).toEqual(rewritePnpm(crlf, TARGETS[0]!, { reader: 'yaml' }));
  });

  it.each([
    ['a comment after the URL', `${head}    resolution:\n      tarball: https://registry.npmjs.org/left/-/left-1.0.0.tgz # pinned\n`],
    ['CR LF and LF mixed', `${head}    resolution: {tarball: https://registry.npmjs.org/left/-/left-1.0.0.tgz}\n`.replace('\n', '\r\n')],
    ['a lone CR', `${head}    resolution: {tarball: https://registry.npmjs.org/left/-/left-1.0.0.tgz}\r  right@1.0.0:\n    resolution: {tarball: https://registry.npmjs.org/right/-/right-1.0.0.tgz}\n`],
    ['an escape', `${head}    resolution: {tarball: "https://registry.npmjs.org/left/-/left\\x2d1.0.0.tgz"}\n`],
    ['a URL over two lines', `${head}    resolution:\n      tarball: 'https://registry.npmjs.org/left/-/left-1.0.0.tgz\n        '\n`],
    ['a list item in packages', `${head}    resolution: {tarball: https://registry.npmjs.org/left/-/left-1.0.0.tgz}\n    x:\n    - a\n`],
  ])('%s: left to the Document, which still moves what it should', (_what, text) => {
    expect(pnpmTarballsFast(text)).toBeUndefined();
    const r = rewritePnpm(text, TARGETS[0]!);
    expect(r).toEqual(rewritePnpm(text, TARGETS[0]!, { reader: 'yaml' }));
  });
});
