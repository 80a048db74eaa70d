/**
 * The lockfile rewriters on their own, over the real fixtures of every format
 * (test/fixtures/lockfiles) and hand-made cases of what the fixtures lack: only
 * registry URLs move, to the target registry; the entries read back the same
 * but for where they resolve; every other byte stays.
 */
import { chmodSync, chownSync, linkSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { rewriteCommand } from '../src/cli/rewrite.js';
import { detect, parseLockfile, type LockEntry } from '../src/lockfiles/index.js';
import { rewriteLockfile, unifiedDiff, type RewriteTargets } from '../src/lockfiles/rewrite/index.js';
import { MAX_REQUIREMENTS_LINE, MAX_REQUIREMENTS_NOTES } from '../src/lockfiles/requirements.js';
import { thrown } from './support/thrown.js';
import { alreadyNote } from '../src/lockfiles/rewrite/types.js';
import { acquireLock } from '../src/state/lock.js';
import { RegistryHosts } from '../src/warm/items.js';
import { run } from './fixtures/warm/project.js';
import { fakeClient } from './support/fake-client.js';

const FIXTURES = join(import.meta.dirname, 'fixtures/lockfiles');
const NPM = 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/npm/npm-shared/';
const PYPI = 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/pypi/pypi-shared/';
const targets: RewriteTargets = { npm: NPM, pypi: PYPI };
/** A pnpm lock whose package came from a registry other than .npmrc's, so pnpm wrote its tarball URL. */
const PNPM_LOCK = "lockfileVersion: '9.0'\n\npackages:\n\n  left@1.0.0:\n    resolution: {integrity: sha512-AAAA, tarball: https://registry.npmjs.org/left/-/left-1.0.0.tgz}\n";
/** What a file with no registry URL is told (to point the package manager at the shared repository some other way). */
const NO_URL_ADVICE = /no --index-url|no registry `resolved`|no legacy source|no tarball URLs/;
const tmp = mkdtempSync(join(tmpdir(), 'cam-rewrite-formats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ROOT = join(import.meta.dirname, '..');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Parse a text as the file it would be (same name, so the same format), entries without where they resolve. */
function entries(name: string, text: string): Omit<LockEntry, 'resolved'>[] {
  const dir = mkdtempSync(join(tmp, 'f-'));
  writeFileSync(join(dir, name), text);
  return parseLockfile(join(dir, name)).entries.map(({ resolved: _r, ...e }) => ({ ...e, from: e.from.map((o) => ({ ...o, file: name })) }));
}

/** Every changed line is the same line with one URL swapped for one under the target. */
function onlyUrlsMoved(before: string, after: string): number {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b.length).toBe(a.length);
  let changed = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i]!, b[i]!];
    if (x === y) continue;
    changed++;
    let p = 0;
    while (x[p] === y[p]) p++;
    let q = 0;
    while (q < x.length - p && x[x.length - 1 - q] === y[y.length - 1 - q]) q++;
    const start = x.lastIndexOf('http', p);
    expect(start, x).toBeGreaterThanOrEqual(0);
    expect(y.slice(start).startsWith(NPM) || y.slice(start).startsWith(PYPI), y).toBe(true);
    expect(x.slice(start, x.length - q), x).toMatch(/^https?:\/\/[^\s"']+$/);
  }
  return changed;
}

describe('rewriting the fixtures', () => {
  const cases: [string, number][] = [
    ['pprof-d3flamegraph/package-lock.json', 136],
    ['express/yarn-classic/yarn.lock', 442],
    ['combined-stream/yarn.lock', 3],
    ['mono/yarn-classic/yarn.lock', 14],
    ['express/npm-v3/package-lock.json', 0],
    ['mono/npm-v3/package-lock.json', 0],
    ['express/pnpm-9.0/pnpm-lock.yaml', 0],
    ['mono/pnpm-6.0/pnpm-lock.yaml', 0],
    ['handmade/uv/uv.lock', 8],
    ['handmade/poetry/poetry.lock', 1],
    ['httplib2/requirements-test.txt', 0],
    ['handmade/requirements/requirements.txt', 1],
    ['express/yarn-berry/yarn.lock', 0],
    ['python-rsa/Pipfile.lock', 0],
    ['go/cmd/go.sum', 0],
  ];
  for (const [file, count] of cases) {
    it(`${file}: ${count} URL(s) moved, the entries the same but for where they resolve`, () => {
      const text = readFileSync(join(FIXTURES, file), 'utf8');
      const format = detect(file, text)!;
      const r = rewriteLockfile(format, text, targets);
      expect(r.changes.length).toBe(count);
      expect(onlyUrlsMoved(text, r.text)).toBe(count);
      if (!count) expect(r.notes.length).toBeGreaterThan(0);
      if (format !== 'requirements') expect(entries(basename(file), r.text)).toEqual(entries(basename(file), text));
      // integrity and hashes: every one still there, byte for byte
      for (const m of text.matchAll(/sha(?:1|256|512)[-:=][A-Za-z0-9+/=]{20,}/g)) expect(r.text).toContain(m[0]);
    });
  }

  it('a rewritten file rewritten again: not a byte changes, and it is said to be rewritten already, never given the advice for a file without URLs', () => {
    const inputs: [string, string][] = [...cases.filter(([, count]) => count > 0).map(([file]) => [file, readFileSync(join(FIXTURES, file), 'utf8')] as [string, string]), ['pnpm-lock.yaml', PNPM_LOCK]];
    for (const [file, text] of inputs) {
      const format = detect(file, text)!;
      const once = rewriteLockfile(format, text, targets);
      expect(once.changes.length, file).toBeGreaterThan(0);
      const twice = rewriteLockfile(format, once.text, targets);
      expect(twice.text, file).toBe(once.text);
      expect(twice.changes, file).toEqual([]);
      expect(twice.notes.join('\n'), file).not.toMatch(NO_URL_ADVICE);
      expect(twice.notes, file).toContain(alreadyNote(once.changes.length));
      expect(twice.already, file).toBe(once.changes.length);
    }
  });

  it('yarn classic keeps the sha1 fragment (yarn < 1.10 has no other hash) and a scoped name reads as CodeArtifact serves it', () => {
    const text = readFileSync(join(FIXTURES, 'combined-stream/yarn.lock'), 'utf8');
    const r = rewriteLockfile('yarn-classic', text, targets);
    expect(r.text).toContain(`resolved "${NPM}delayed-stream/-/delayed-stream-1.0.0.tgz#df3ae199acadfb7d440aaae0b29e2272b24ec619"`);
    const scoped = rewriteLockfile('npm', '{\n  "lockfileVersion": 3,\n  "packages": {\n    "node_modules/@acme/x": {\n      "version": "1.0.0",\n      "resolved": "https://npm.acme.example/@acme%2fx/-/x-1.0.0.tgz?token=secret",\n      "integrity": "sha512-AAAA"\n    }\n  }\n}\n', targets);
    expect(scoped.text).toContain(`"resolved": "${NPM}@acme/x/-/x-1.0.0.tgz"`);
    expect(scoped.text).not.toContain('secret');
  });

  it('pnpm: a registry tarball moves; git, file: and remote tarballs stay', () => {
    const text = [
      "lockfileVersion: '9.0'",
      '',
      'packages:',
      '',
      "  '@acme/x@1.0.0':",
      '    resolution: {integrity: sha512-AAAA, tarball: https://npm.acme.example/@acme/x/-/x-1.0.0.tgz}',
      '',
      '  left@1.0.0:',
      '    resolution: {tarball: https://codeload.github.com/acme/left/tar.gz/0123456789abcdef0123456789abcdef01234567}',
      '    version: 1.0.0',
      '',
      '  local@file:vendor/local-1.0.0.tgz:',
      '    resolution: {integrity: sha512-BBBB, tarball: file:vendor/local-1.0.0.tgz}',
      '    version: 1.0.0',
      '',
      '  remote@https://cdn.example/remote.tgz:',
      '    resolution:',
      '      tarball: "https://cdn.example/remote.tgz"',
      '    version: 1.0.0',
      '',
    ].join('\n');
    const r = rewriteLockfile('pnpm', text, targets);
    expect(r.changes.map((c) => c.line)).toEqual([6]);
    expect(r.text).toContain(`tarball: ${NPM}@acme/x/-/x-1.0.0.tgz}`);
    expect(onlyUrlsMoved(text, r.text)).toBe(1);
  });

  it("only the registries the shared repository serves move (the public one, the job's sources, CodeArtifact); any other host's tarballs stay, and are named", () => {
    const registries = new RegistryHosts({
      publicRegistries: { npm: 'https://registry.npmjs.org/', pypi: 'https://pypi.org/' },
      sources: [{ kind: 'npm-registry', url: 'https://npm.acme.example/' }],
      target: { domain: 'acme', domainOwner: '111122223333' },
    });
    const urls = [
      'https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz',
      'https://npm.acme.example/@acme/x/-/x-1.0.0.tgz',
      'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/npm/npm-internal/@acme/y/-/y-1.0.0.tgz',
      // a look-alike host, a registry's name in another host's path, another team's registry, a release download
      'https://registry.npmjs.org.evil.example/lodash/-/lodash-4.17.21.tgz',
      'https://evil.example/registry.npmjs.org/lodash/-/lodash-4.17.21.tgz',
      // the job's domain endpoint's name as the start of another host
      'https://acme-111122223333.d.codeartifact.evil.example/npm/npm-internal/@acme/y/-/y-1.0.0.tgz',
      'https://npm.otherteam.example:8443/@other/priv/-/priv-1.0.0.tgz',
      'https://github.com/acme/tool/releases/download/v1/-/tool-1.0.0.tgz',
    ];
    const text = `${JSON.stringify({ lockfileVersion: 3, packages: Object.fromEntries(urls.map((u, i) => [`node_modules/p${i}`, { version: '1.0.0', resolved: u, integrity: `sha512-${i}` }])) }, null, 2)}\n`;
    const r = rewriteLockfile('npm', text, { ...targets, foreignNpmHost: (u) => registries.foreign('npm', u) });
    expect(r.changes.map((c) => c.from)).toEqual(urls.slice(0, 3));
    expect(r.changes.map((c) => c.to)).toEqual([`${NPM}lodash/-/lodash-4.17.21.tgz`, `${NPM}@acme/x/-/x-1.0.0.tgz`, `${NPM}@acme/y/-/y-1.0.0.tgz`]);
    for (const u of urls.slice(3)) expect(r.text).toContain(`"resolved": "${u}"`);
    expect(r.notes.map((n) => n.split(' (e.g.')[0])).toEqual([
      'tarballs from registry.npmjs.org.evil.example',
      'tarballs from evil.example',
      'tarballs from acme-111122223333.d.codeartifact.evil.example',
      'tarballs from npm.otherteam.example:8443',
      'tarballs from github.com',
    ]);
    expect(r.notes[0]).toMatch(/would fetch a public package of the same name instead/);
  });

  it('a tarball URL whose name is no npm name (escapes that would leave the repository or break the file) stays as it is; a scope escaped as %40 and %2f moves', () => {
    const hostile = [
      'https://npm.acme.example/..%2fnpm-internal%2ffoo/-/foo-1.0.0.tgz',
      'https://npm.acme.example/a%20%23x/-/a-1.0.0.tgz',
      'https://npm.acme.example/a%7D%2C%20x%3A%20y/-/a-1.0.0.tgz',
      'https://npm.acme.example/@s%2f..%2f..%2fevil/-/a-1.0.0.tgz',
      'https://npm.acme.example/a/-/a%20b-1.0.0.tgz',
    ];
    const lines = hostile.map((u, i) => `  p${i}@1.0.0:\n    resolution: {integrity: sha512-AAAA, tarball: ${u}}\n`);
    const text = `lockfileVersion: '9.0'\n\npackages:\n\n${lines.join('\n')}\n  q@1.0.0:\n    resolution: {integrity: sha512-BBBB, tarball: https://npm.acme.example/%40s%2fq/-/q-1.0.0.tgz}\n`;
    const r = rewriteLockfile('pnpm', text, targets);
    expect(r.changes.map((c) => c.to)).toEqual([`${NPM}@s/q/-/q-1.0.0.tgz`]);
    // and what it wrote is still a lockfile pnpm reads
    expect(entries('pnpm-lock.yaml', r.text)).toEqual(entries('pnpm-lock.yaml', text));
  });

  it('requirements: every spelling of the index option moves, credentials go, an extra index is only named', () => {
    const text = '-i https://pypi.org/simple\n--index-url=https://user:pass@mirror.example/simple/\n  --index-url   https://pypi.org/simple  # pinned index\n--extra-index-url https://extra.example/simple\nrequests==2.31.0\n';
    const r = rewriteLockfile('requirements', text, targets);
    expect(r.text).toBe(`-i ${PYPI}simple/\n--index-url=${PYPI}simple/\n  --index-url   ${PYPI}simple/  # pinned index\n--extra-index-url https://extra.example/simple\nrequests==2.31.0\n`);
    expect(JSON.stringify(r.changes)).not.toContain('pass');
    expect(r.notes.join()).toContain('--extra-index-url https://extra.example/simple');
  });

  it('requirements: an option line of more than MAX_REQUIREMENTS_LINE characters is ELOCKFILE at its line, never split a character at a time (20 MB of options took 4 GB and died)', () => {
    const text = `requests==2.31.0\n-i https://pypi.org/simple ${'-Q '.repeat(MAX_REQUIREMENTS_LINE / 2)}\n`;
    const e = thrown(() => rewriteLockfile('requirements', text, targets));
    expect(e.code).toBe('ELOCKFILE');
    expect(e.message).toMatch(/^line 2: options of [\d,]+ characters besides white space/);
  });

  it("requirements: the index option as pip reads it too, abbreviated (`--index`, `--i`, its alias `--py`) or quoted; an index whose host it cannot check stays, and is named", () => {
    const registries = new RegistryHosts({ publicRegistries: { npm: 'https://registry.npmjs.org/', pypi: 'https://pypi.org/' }, sources: [], target: { domain: 'acme', domainOwner: '111122223333' } });
    const guarded: RewriteTargets = { ...targets, foreignPypiHost: (u) => registries.foreign('pypi', u) };
    // optparse takes any unambiguous prefix of a long option (pip 23: `--index` sets the index)
    for (const option of ['--index ', '--index-u=', '--i ', '--pypi-url ', '--py=']) {
      const r = rewriteLockfile('requirements', `${option}https://pypi.org/simple\nrequests==2.31.0\n`, guarded);
      expect(r.text, option).toBe(`${option}${PYPI}simple/\nrequests==2.31.0\n`);
    }
    expect(rewriteLockfile('requirements', '--extra https://extra.example/simple\n', guarded).notes.join()).toContain('--extra-index-url https://extra.example/simple');
    // pip unquotes it (shlex): a quoted company index is that index, never moved to the shared repository
    const quoted = '--index-url "https://user:s3cret@pypi.acme.example/simple/"\nacme-billing==1.2.0\n';
    const q = rewriteLockfile('requirements', quoted, guarded);
    expect([q.text, q.changes]).toEqual([quoted, []]);
    expect(q.notes).toEqual([expect.stringMatching(/^line 1: the index https:\/\/pypi\.acme\.example\/simple\/ left as it is: pypi\.acme\.example is neither public PyPI/)]);
    expect(rewriteLockfile('requirements', "-i 'https://pypi.org/simple'\n", guarded).text).toBe(`-i ${PYPI}simple/\n`);
    expect(rewriteLockfile('requirements', `-i "${PYPI}simple/"\n`, guarded).already).toBe(1);
    // a host from the environment (pip expands ${VAR}), a local folder: unknown, so left and named
    for (const index of ['${PIP_INDEX}', 'https://${INDEX_HOST}/simple', 'file:///srv/wheels']) {
      const r = rewriteLockfile('requirements', `--index-url ${index}\n`, guarded);
      expect([r.text, r.changes], index).toEqual([`--index-url ${index}\n`, []]);
      expect(r.notes.length, index).toBe(1);
      // (a URL's host is shown as URL hosts are: lower case)
      expect(r.notes[0]!.toLowerCase(), index).toContain(`line 1: the index ${index.toLowerCase()} left as it is: it is no http(s) url whose host we can check`);
    }
    // credentials from the environment go, as any credentials do
    expect(rewriteLockfile('requirements', '-i https://${PIP_USER}:${PIP_TOKEN}@pypi.org/simple\n', guarded).text).toBe(`-i ${PYPI}simple/\n`);
  });

  it('requirements: every index option of a line moves (pip keeps the last of `-i A --index-url B`), a company index among them stays and is named, an extra index after them is named', () => {
    const registries = new RegistryHosts({ publicRegistries: { npm: 'https://registry.npmjs.org/', pypi: 'https://pypi.org/' }, sources: [], target: { domain: 'acme', domainOwner: '111122223333' } });
    const guarded: RewriteTargets = { ...targets, foreignPypiHost: (u) => registries.foreign('pypi', u) };
    const text = '-i https://pypi.org/simple --index-url https://pypi.python.org/simple --extra-index-url https://extra.example/simple\n--find-links ./wheels -i https://pypi.acme.example/simple\nrequests==2.31.0 --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n';
    const r = rewriteLockfile('requirements', text, guarded);
    expect(r.text).toBe(`-i ${PYPI}simple/ --index-url ${PYPI}simple/ --extra-index-url https://extra.example/simple\n--find-links ./wheels -i https://pypi.acme.example/simple\nrequests==2.31.0 --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n`);
    expect(r.changes.map((c) => [c.line, c.from])).toEqual([[1, 'https://pypi.org/simple'], [1, 'https://pypi.python.org/simple']]);
    expect(r.notes).toEqual([expect.stringContaining('--extra-index-url https://extra.example/simple left as is'), expect.stringMatching(/^line 2: the index https:\/\/pypi\.acme\.example\/simple left as it is/)]);
    // rewritten again: nothing changes
    const again = rewriteLockfile('requirements', r.text, guarded);
    expect([again.text, again.changes, again.already]).toEqual([r.text, [], 2]);
  });

  it('requirements: a --find-links page (pip still fetches from it directly) and an --extra-index-url are named with their line; a local folder of wheels is not', () => {
    const text = '-i https://pypi.org/simple\n-f https://download.pytorch.org/whl/torch_stable.html\n--extra-index-url https://extra.example/simple\n--find-links=./wheels\n--find-link "https://ci:s3cret@wheels.acme.example/acme/"\n-f${WHEELS}\nrequests==2.31.0\n';
    const r = rewriteLockfile('requirements', text, targets);
    expect(r.changes.map((c) => c.line)).toEqual([1]);
    expect(r.notes).toEqual([
      expect.stringMatching(/^line 2: --find-links https:\/\/download\.pytorch\.org\/whl\/torch_stable\.html left as is: pip still fetches/),
      expect.stringMatching(/^line 3: --extra-index-url https:\/\/extra\.example\/simple left as is: pip still asks it directly/),
      expect.stringMatching(/^line 5: --find-links https:\/\/wheels\.acme\.example\/acme\/ left as is/),
      expect.stringMatching(/^line 6: --find-links \$\{WHEELS\} left as is/),
    ]);
    expect(r.notes.join()).not.toContain('s3cret');
  });

  it('CRLF line ends (a checkout with autocrlf): the same URLs move, every CR LF stays', () => {
    for (const [file, count] of cases) {
      if (!count) continue;
      const lf = readFileSync(join(FIXTURES, file), 'utf8');
      const crlf = lf.replace(/\n/g, '\r\n');
      const format = detect(file, lf)!;
      const r = rewriteLockfile(format, crlf, targets);
      expect(r.changes.length, file).toBe(count);
      expect(r.text, file).toBe(rewriteLockfile(format, lf, targets).text.replace(/\n/g, '\r\n'));
    }
  });

  it('requirements: an index URL continued on the next line (a trailing backslash) moves where it stands; pip reads the file the same but for the index', () => {
    const text = '--index-url \\\n    https://user:pass@mirror.example/simple/\nrequests==2.31.0 \\\n    --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n-i\\\r\nhttps://pypi.org/simple\r\n';
    const r = rewriteLockfile('requirements', text, targets);
    expect(r.text).toBe(`--index-url \\\n    ${PYPI}simple/\nrequests==2.31.0 \\\n    --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n-i\\\r\n${PYPI}simple/\r\n`);
    expect(r.changes.map((c) => c.line)).toEqual([2, 6]);
    expect(JSON.stringify(r.changes)).not.toContain('pass');
    // a URL cut in two by a `\`: not moved (that would move text between lines), and said
    const split = 'requests==2.31.0\n--index-url https://pypi.org/\\\nsimple\n';
    const s = rewriteLockfile('requirements', split, targets);
    expect(s.text).toBe(split);
    expect(s.notes.join()).toMatch(/line 2: .*split over several lines/);
    // a comment line ends a continuation; its text is no option
    const commented = '-i \\\n# https://pypi.org/simple\nrequests==2.31.0\n';
    expect(rewriteLockfile('requirements', commented, targets).text).toBe(commented);
  });

  it('requirements: a file that starts with a UTF-8 BOM has its index moved on line 1, the BOM kept', () => {
    const text = '\uFEFF-i https://pypi.org/simple\nrequests==2.31.0\n';
    const r = rewriteLockfile('requirements', text, targets);
    expect(r.changes).toEqual([{ line: 1, from: 'https://pypi.org/simple', to: `${PYPI}simple/` }]);
    expect(r.text).toBe(`\uFEFF-i ${PYPI}simple/\nrequests==2.31.0\n`);
  });

  it("uv: an index moves everywhere it is named, a dependency's `source = { registry = … }` too; a url dependency's URL stays", () => {
    const torch = 'https://download.pytorch.org/whl/cpu';
    const text = [
      'version = 1',
      'requires-python = ">=3.10"',
      '',
      '[[package]]',
      'name = "app-dep"',
      'version = "1.0.0"',
      'source = { registry = "https://pypi.org/simple" }',
      'dependencies = [',
      `    { name = "torch", version = "2.3.0+cpu", source = { registry = "${torch}" } },`,
      '    { name = "vendored", source = { url = "https://files.example/vendored-1.0.tar.gz" } },',
      ']',
      'sdist = { url = "https://files.pythonhosted.org/packages/ab/app_dep-1.0.0.tar.gz", hash = "sha256:aaaa", size = 10 }',
      '',
      '[package.optional-dependencies]',
      `gpu = [{ name = "torch", version = "2.3.0+cpu", source = { registry = "${torch}" } }]`,
      '',
      '[[package]]',
      'name = "torch"',
      'version = "2.3.0+cpu"',
      `source = { registry = "${torch}" }`,
      `wheels = [{ url = "${torch}/torch-2.3.0%2Bcpu-cp310-cp310-linux_x86_64.whl", hash = "sha256:bbbb" }]`,
      '',
      '[[package]]',
      'name = "vendored"',
      'version = "1.0"',
      'source = { url = "https://files.example/vendored-1.0.tar.gz" }',
      'sdist = { hash = "sha256:cccc" }',
      '',
    ].join('\n');
    const r = rewriteLockfile('uv', text, targets);
    expect(r.text).not.toContain(`registry = "${torch}"`);
    expect(r.text).not.toContain('registry = "https://pypi.org/simple"');
    expect(r.text.match(new RegExp(`registry = "${PYPI}simple"`, 'g'))!.length).toBe(4);
    expect(r.text).toContain(`url = "${PYPI}simple/torch/2.3.0%2Bcpu/torch-2.3.0%2Bcpu-cp310-cp310-linux_x86_64.whl"`);
    // the url source, where the dependency names it and where its package does: as it was
    expect(r.text.match(/url = "https:\/\/files\.example\/vendored-1\.0\.tar\.gz"/g)!.length).toBe(2);
    expect(r.changes.length).toBe(4 + 2);
    expect(onlyUrlsMoved(text, r.text)).toBe(6);
    expect(entries('uv.lock', r.text)).toEqual(entries('uv.lock', text));
  });

  it('uv: one project at one version from two indexes is left alone, and said', () => {
    const block = (index: string) => `[[package]]\nname = "torch"\nversion = "2.3.0"\nsource = { registry = "${index}" }\n`;
    const text = `version = 1\nrequires-python = ">=3.10"\n\n${block('https://pypi.org/simple')}\n${block('https://download.pytorch.org/whl/cpu')}`;
    const r = rewriteLockfile('uv', text, targets);
    expect(r.text).toBe(text);
    expect(r.changes).toEqual([]);
    expect(r.notes.join()).toMatch(/torch@2\.3\.0 locked from two indexes/);
  });

  it("PyPI: an index that is neither public PyPI nor the job's CodeArtifact (a company's own) stays where it is, in requirements, poetry and uv, and is named: the shared repository would answer for its projects with public ones", () => {
    const registries = new RegistryHosts({
      publicRegistries: { npm: 'https://registry.npmjs.org/', pypi: 'https://pypi.org/' },
      sources: [{ kind: 'npm-registry', url: 'https://pypi.acme.example/' }],
      target: { domain: 'acme', domainOwner: '111122223333' },
    });
    // an npm source on the same host as the private index does not make the index migrated
    const guarded: RewriteTargets = { ...targets, foreignPypiHost: (u) => registries.foreign('pypi', u) };
    const PRIVATE = 'https://user:s3cret@pypi.acme.example/simple/';

    const req = `-i https://pypi.org/simple\n--index-url ${PRIVATE}\nacme-billing==1.2.0\n`;
    const r = rewriteLockfile('requirements', req, guarded);
    expect(r.text).toBe(`-i ${PYPI}simple/\n--index-url ${PRIVATE}\nacme-billing==1.2.0\n`);
    expect(r.changes.map((c) => c.line)).toEqual([1]);
    expect(r.notes).toEqual([expect.stringMatching(/^line 2: the index https:\/\/pypi\.acme\.example\/simple\/ left as it is: pypi\.acme\.example is neither public PyPI .* would fetch public projects of the same names instead/)]);
    expect(r.notes.join()).not.toContain('s3cret');
    // alone: nothing moves, and the file is not told it has no --index-url
    const alone = rewriteLockfile('requirements', `--index-url=${PRIVATE}\nacme-billing==1.2.0\n`, guarded);
    expect([alone.changes, alone.notes.length]).toEqual([[], 1]);
    expect(alone.notes.join()).not.toMatch(NO_URL_ADVICE);
    // the job's own CodeArtifact domain, another repository of it: moves
    expect(rewriteLockfile('requirements', '-i https://acme-111122223333.d.codeartifact.eu-west-1.amazonaws.com/pypi/old/simple/\n', guarded).changes.length).toBe(1);

    const source = (url: string) => `[package.source]\ntype = "legacy"\nurl = "${url}"\nreference = "r"\n`;
    const poetry = ['[[package]]\nname = "acme-billing"\nversion = "1.2.0"\n', source('https://pypi.acme.example/simple'), '\n[[package]]\nname = "acme-auth"\nversion = "2.0.0"\n', source('https://pypi.acme.example/simple'), '\n[[package]]\nname = "mirrored"\nversion = "1.0.0"\n', source('https://pypi.org/simple'), '\n[metadata]\nlock-version = "2.0"\n'].join('');
    const p = rewriteLockfile('poetry', poetry, guarded);
    expect(p.changes.map((c) => c.from)).toEqual(['https://pypi.org/simple']);
    expect(p.text.match(/url = "https:\/\/pypi\.acme\.example\/simple"/g)!.length).toBe(2);
    expect(p.notes).toEqual([expect.stringMatching(/^line 6: the legacy source https:\/\/pypi\.acme\.example\/simple \(2 package\(s\)\) left as it is/), expect.stringMatching(/^poetry downloads these packages from the pyproject\.toml \[\[tool\.poetry\.source\]\] "r"/)]);
    const only = rewriteLockfile('poetry', ['[[package]]\nname = "acme-billing"\nversion = "1.2.0"\n', source('https://pypi.acme.example/simple')].join(''), guarded);
    expect([only.changes, only.notes.length]).toEqual([[], 1]);
    expect(only.notes.join()).not.toMatch(NO_URL_ADVICE);
    // a legacy source that is a folder of files (file://) is this machine's, no index the shared repository serves
    const local = rewriteLockfile('poetry', ['[[package]]\nname = "acme-billing"\nversion = "1.2.0"\n', source('file:///srv/wheels'), '\n[[package]]\nname = "acme-auth"\nversion = "2.0.0"\n', source('file:///srv/wheels')].join(''), guarded);
    expect(local.changes).toEqual([]);
    expect(local.notes).toEqual([expect.stringMatching(/^line 6: the legacy source file:\/\/\/srv\/wheels \(2 package\(s\)\) left as it is: it is no http\(s\) index/)]);

    const block = (name: string, index: string, file: string) => `[[package]]\nname = "${name}"\nversion = "1.0.0"\nsource = { registry = "${index}" }\nsdist = { url = "${file}", hash = "sha256:aaaa" }\n`;
    const uv = [
      'version = 1\nrequires-python = ">=3.10"\n',
      block('app', 'https://pypi.org/simple', 'https://files.pythonhosted.org/packages/ab/app-1.0.0.tar.gz').replace('sdist', 'dependencies = [{ name = "acme-billing", source = { registry = "https://pypi.acme.example/simple" } }]\nsdist'),
      block('acme-billing', 'https://pypi.acme.example/simple', 'https://pypi.acme.example/packages/acme_billing-1.0.0.tar.gz'),
      // the same project at the same version from public PyPI: the private one stays, so no two indexes become one
      block('acme-billing', 'https://pypi.org/simple', 'https://files.pythonhosted.org/packages/cd/acme_billing-1.0.0.tar.gz'),
    ].join('\n');
    const u = rewriteLockfile('uv', uv, guarded);
    expect(u.changes.map((c) => c.from)).toEqual(['https://pypi.org/simple', 'https://files.pythonhosted.org/packages/ab/app-1.0.0.tar.gz', 'https://pypi.org/simple', 'https://files.pythonhosted.org/packages/cd/acme_billing-1.0.0.tar.gz']);
    expect(u.text.match(/"https:\/\/pypi\.acme\.example\/simple"/g)!.length).toBe(2);
    expect(u.text).toContain('url = "https://pypi.acme.example/packages/acme_billing-1.0.0.tar.gz"');
    expect(u.notes).toEqual([expect.stringMatching(/^line 14: the index https:\/\/pypi\.acme\.example\/simple \(1 package\(s\), their files and every reference to it\) left as it is/), expect.stringMatching(/^uv uses this lock only while/)]);
  });

  it("poetry and uv: moved, the lock is said to need the project's own source or index pointed there too (poetry downloads from pyproject's source; uv relocks from the project's indexes), also when rewritten already", () => {
    const poetry = readFileSync(join(FIXTURES, 'handmade/poetry/poetry.lock'), 'utf8').replace('https://pypi.example.invalid/simple', 'https://pypi.org/simple');
    const uv = readFileSync(join(FIXTURES, 'handmade/uv/uv.lock'), 'utf8');
    for (const [format, text, says] of [
      ['poetry', poetry, /pyproject\.toml \[\[tool\.poetry\.source\]\] "internal", not from poetry\.lock's url: set its url to .* and run poetry lock --no-update/],
      ['uv', uv, /\[\[tool\.uv\.index\]\] url = ".*", default = true, in pyproject\.toml, or UV_DEFAULT_INDEX\), or uv sync resolves again/],
    ] as const) {
      const once = rewriteLockfile(format, text, targets);
      expect(once.changes.length, format).toBeGreaterThan(0);
      expect(once.notes, format).toContainEqual(expect.stringMatching(says));
      expect(once.notes.join('\n'), format).toContain(`${PYPI}simple`);
      const twice = rewriteLockfile(format, once.text, targets);
      expect(twice.notes, format).toContainEqual(expect.stringMatching(says));
    }
    // nothing of the shared repository in the lock (a company index left as it is): nothing to say of the project's
    const company = rewriteLockfile('poetry', poetry.replace('https://pypi.org/simple', 'file:///srv/wheels'), targets);
    expect(company.notes.join('\n')).not.toMatch(/tool\.poetry\.source\]\] "internal"/);
  });

  it('uv: a registry that is a local folder (find-links, a flat index) stays, its packages and references with it, and is named; the public index beside it moves', () => {
    const text = [
      'version = 1\nrequires-python = ">=3.10"\n',
      '[[package]]\nname = "app"\nversion = "1.0.0"\nsource = { registry = "https://pypi.org/simple" }\ndependencies = [{ name = "acme-billing", source = { registry = "../wheels" } }]\nsdist = { url = "https://files.pythonhosted.org/packages/ab/app-1.0.0.tar.gz", hash = "sha256:aaaa" }\n',
      '[[package]]\nname = "acme-billing"\nversion = "1.2.0"\nsource = { registry = "../wheels" }\nwheels = [\n    { path = "acme_billing-1.2.0-py3-none-any.whl" },\n]\n',
    ].join('\n');
    const r = rewriteLockfile('uv', text, targets);
    expect(r.changes.map((c) => c.from)).toEqual(['https://pypi.org/simple', 'https://files.pythonhosted.org/packages/ab/app-1.0.0.tar.gz']);
    expect(r.text.match(/registry = "\.\.\/wheels"/g)!.length).toBe(2);
    expect(r.notes).toEqual([expect.stringMatching(/^line 14: the folder \.\.\/wheels \(1 package\(s\), their files and every reference to it\) left as it is: a folder of files \(find-links\) is no index/), expect.stringMatching(/^uv uses this lock only while/)]);
  });

  it('many edits in one file are applied in one pass: each was a copy of the whole text (40,000 index lines of a 1 MB requirements file took 43 s, a big uv.lock seconds per thousand wheels)', () => {
    const n = 60_000;
    const req = rewriteLockfile('requirements', '-i https://pypi.org/simple\n'.repeat(n), targets);
    expect(req.changes).toHaveLength(n);
    expect(req.text).toBe(`-i ${PYPI}simple/\n`.repeat(n));
    const pkg = (i: number) => `[[package]]\nname = "p${i}"\nversion = "1.0.0"\nsource = { registry = "https://pypi.org/simple" }\nwheels = [\n    { url = "https://files.pythonhosted.org/packages/ab/p${i}-1.0.0-py3-none-any.whl", hash = "sha256:aaaa" },\n]\n`;
    const uv = rewriteLockfile('uv', `version = 1\nrequires-python = ">=3.10"\n\n${Array.from({ length: n / 2 }, (_, i) => pkg(i)).join('\n')}`, targets);
    expect(uv.changes).toHaveLength(n);
    expect(uv.text).not.toContain('pypi.org/simple');
    expect(uv.text).not.toContain('files.pythonhosted.org');
  });

  it('requirements: notes are bounded as warm bounds them (64 MiB of --find-links lines made 1.7 million, 552 MB, each printed): the first MAX_REQUIREMENTS_NOTES, then how many more', () => {
    const r = rewriteLockfile('requirements', `-i https://pypi.org/simple\n${'-f https://wheels.example/w/\n'.repeat(MAX_REQUIREMENTS_NOTES + 500)}`, targets);
    expect(r.changes).toHaveLength(1);
    expect(r.notes).toHaveLength(MAX_REQUIREMENTS_NOTES + 1);
    expect(r.notes[0]).toMatch(/^line 2: --find-links https:\/\/wheels\.example\/w\/ left as is/);
    expect(r.notes.at(-1)).toBe('500 more notes of this file left out (only the first 1,000 are kept): check it with pip');
  });

  it('poetry and uv: a URL written with a TOML escape or as a multi-line string is not rewritten (the escape hid a company index from the check; """ was spliced into), and is named', () => {
    const registries = new RegistryHosts({ publicRegistries: { npm: 'https://registry.npmjs.org/', pypi: 'https://pypi.org/' }, sources: [], target: { domain: 'acme', domainOwner: '111122223333' } });
    const guarded: RewriteTargets = { ...targets, foreignPypiHost: (u) => registries.foreign('pypi', u) };
    // TOML reads `\u002e` as ".": the index is pypi.org.acme.example, while a URL parser reads the raw text's host as pypi.org
    const escaped = 'https://pypi.org\\u002eacme.example/simple';
    for (const url of [`"${escaped}"`, '"""https://pypi.org/simple"""']) {
      const poetry = `[[package]]\nname = "acme-billing"\nversion = "1.2.0"\n\n[package.source]\ntype = "legacy"\nurl = ${url}\nreference = "r"\n\n[metadata]\nlock-version = "2.0"\n`;
      expect(entries('poetry.lock', poetry).length, url).toBe(1);
      const p = rewriteLockfile('poetry', poetry, guarded);
      expect([p.text, p.changes], url).toEqual([poetry, []]);
      expect(p.notes, url).toEqual([expect.stringMatching(/^line 7: the legacy source's url is not one plain string .*not rewritten/)]);
    }
    const block = (index: string, file: string) => `version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "acme-billing"\nversion = "1.0.0"\nsource = { registry = ${index} }\nsdist = { url = ${file}, hash = "sha256:aaaa" }\n`;
    for (const uv of [block(`"${escaped}"`, `"${escaped.replace('simple', 'packages/acme_billing-1.0.0.tar.gz')}"`), block('"https://pypi.org/simple"', '"""https://files.pythonhosted.org/packages/acme_billing-1.0.0.tar.gz"""')]) {
      const u = rewriteLockfile('uv', uv, guarded);
      expect([u.text, u.changes], uv).toEqual([uv, []]);
      expect(u.notes, uv).toEqual([expect.stringMatching(/^line (7|8): the (registry|url) value is not one plain .*not rewritten: regenerate the lock/)]);
    }
  });

  it("package-lock: only an entry's own `resolved` moves; a dependency NAMED `resolved` whose spec is a registry tarball URL stays (package.json must still match), in v1 `requires` and in v2/v3 `dependencies`", () => {
    const url = 'https://registry.npmjs.org/resolved/-/resolved-1.0.0.tgz';
    const v3 = `${JSON.stringify({ name: 'app', lockfileVersion: 3, packages: { '': { dependencies: { resolved: url }, devDependencies: { resolved: url } }, 'node_modules/resolved': { version: '1.0.0', resolved: url, integrity: 'sha512-AAAA' } } }, null, 2)}\n`;
    const r3 = rewriteLockfile('npm', v3, targets);
    expect(r3.changes.map((c) => c.line)).toEqual([15]);
    expect(JSON.parse(r3.text).packages['']).toEqual(JSON.parse(v3).packages['']);
    const v1 = `${JSON.stringify({ name: 'app', lockfileVersion: 1, requires: true, dependencies: { a: { version: '1.0.0', resolved: 'https://registry.npmjs.org/a/-/a-1.0.0.tgz', integrity: 'sha512-A', requires: { resolved: url }, dependencies: { b: { version: '2.0.0', resolved: 'https://registry.npmjs.org/b/-/b-2.0.0.tgz', integrity: 'sha512-C' } } }, resolved: { version: '1.0.0', resolved: url, integrity: 'sha512-B' } } }, null, 2)}\n`;
    const r1 = rewriteLockfile('npm', v1, targets);
    expect(r1.changes.map((c) => c.from)).toEqual(['https://registry.npmjs.org/a/-/a-1.0.0.tgz', 'https://registry.npmjs.org/b/-/b-2.0.0.tgz', url]);
    expect(JSON.parse(r1.text).dependencies.a.requires).toEqual({ resolved: url });
    // a key written with escapes is the same key to npm; escaped URLs read as the URLs they are; one minified line works alike
    const escaped = '{"lockfileVersion":2,"packages":{"node_modules/a":{"version":"1.0.0","resolv\\u0065d":"https:\\/\\/registry.npmjs.org\\/a\\/-\\/a-1.0.0.tgz","integrity":"sha512-A"}},"dependencies":{"a":{"version":"1.0.0","resolved":"https://registry.npmjs.org/\\u0061/-/a-1.0.0.tgz"}}}';
    const re = rewriteLockfile('npm', escaped, targets);
    expect(re.changes.map((c) => [c.line, c.to])).toEqual([[1, `${NPM}a/-/a-1.0.0.tgz`], [1, `${NPM}a/-/a-1.0.0.tgz`]]);
    expect(entries('package-lock.json', re.text)).toEqual(entries('package-lock.json', escaped));
  });

  it('yarn classic: only an entry\'s own `resolved` field moves; a dependency named `resolved` (its spec a registry tarball URL) stays, or it would name no entry of the lockfile', () => {
    const url = 'https://registry.yarnpkg.com/resolved/-/resolved-1.0.0.tgz';
    const text = `# yarn lockfile v1\n\n\nfoo@^1.0.0:\n  version "1.0.0"\n  resolved "https://registry.yarnpkg.com/foo/-/foo-1.0.0.tgz#abc"\n  dependencies:\n    resolved "${url}"\n\n"resolved@${url}":\n  version "1.0.0"\n  resolved "${url}#def"\n`;
    const r = rewriteLockfile('yarn-classic', text, targets);
    expect(r.changes.map((c) => c.line)).toEqual([6, 12]);
    expect(r.text).toContain(`    resolved "${url}"\n`);
    expect(entries('yarn.lock', r.text)).toEqual(entries('yarn.lock', text));
  });

  it('yarn classic: a `resolved` field as yarn reads it too, its key quoted or a comment after its value, moves (it stayed, and nothing was said)', () => {
    const text = '# yarn lockfile v1\n\n\nfoo@^1.0.0:\n  version "1.0.0"\n  "resolved" "https://registry.yarnpkg.com/foo/-/foo-1.0.0.tgz#abc"\n\nbar@^1.0.0:\n  version "1.0.0"\n  resolved "https://registry.yarnpkg.com/bar/-/bar-1.0.0.tgz#def" # pinned\r\n';
    const r = rewriteLockfile('yarn-classic', text, targets);
    expect(r.text).toBe(`# yarn lockfile v1\n\n\nfoo@^1.0.0:\n  version "1.0.0"\n  "resolved" "${NPM}foo/-/foo-1.0.0.tgz#abc"\n\nbar@^1.0.0:\n  version "1.0.0"\n  resolved "${NPM}bar/-/bar-1.0.0.tgz#def" # pinned\r\n`);
    expect(entries('yarn.lock', r.text)).toEqual(entries('yarn.lock', text));
  });

  it("yarn berry: a resolution's `__archiveUrl` (yarn downloads it whatever npmRegistryServer says: every package of an Artifactory, a proxy) moves, encoded as yarn writes it; other hosts' stay and are named; everything else stays", () => {
    const enc = encodeURIComponent;
    const jfrog = 'https://packages.acme.example/api/npm/npm-remote/';
    const registries = new RegistryHosts({
      publicRegistries: { npm: jfrog, pypi: 'https://pypi.org/' },
      sources: [{ kind: 'npm-registry', url: 'https://npm.acme.example/' }],
      target: { domain: 'acme', domainOwner: '111122223333' },
    });
    const gh = 'https://npm.pkg.github.com/download/@other/priv/1.0.0/0123456789abcdef';
    const text = [
      '# This file is generated by running "yarn install" inside your project.',
      '',
      '__metadata:',
      '  version: 8',
      '  cacheKey: 10c0',
      '',
      '"@acme/x@npm:^1.0.0":',
      '  version: 1.0.0',
      `  resolution: "@acme/x@npm:1.0.0::__archiveUrl=${enc('https://npm.acme.example/@acme/x/-/x-1.0.0.tgz')}"`,
      '  checksum: 10c0/aaaa',
      '  languageName: node',
      '  linkType: hard',
      '',
      '"@other/priv@npm:^1.0.0":',
      '  version: 1.0.0',
      `  resolution: "@other/priv@npm:1.0.0::__archiveUrl=${enc(gh)}"`,
      '  languageName: node',
      '  linkType: hard',
      '',
      '"app@workspace:.":',
      '  version: 0.0.0-use.local',
      '  resolution: "app@workspace:."',
      '  dependencies:',
      '    "@acme/x": "npm:^1.0.0"',
      '    lodash: "npm:^4.17.21"',
      '  languageName: unknown',
      '  linkType: soft',
      '',
      '"lodash@npm:^4.17.21":',
      '  version: 4.17.21',
      `  resolution: "lodash@npm:4.17.21::__archiveUrl=${enc(`${jfrog}lodash/-/lodash-4.17.21.tgz`)}"`,
      '  checksum: 10c0/bbbb',
      '  languageName: node',
      '  linkType: hard',
      '',
      '"plain@npm:^1.0.0":',
      '  version: 1.0.0',
      '  resolution: "plain@npm:1.0.0"',
      '  languageName: node',
      '  linkType: hard',
      '',
    ].join('\r\n');
    const t: RewriteTargets = { ...targets, foreignNpmHost: (u) => registries.foreign('npm', u), notMigratedNpm: (u, name) => (name === '@acme/x' ? undefined : registries.viaSource('npm', u)) };
    const r = rewriteLockfile('yarn-berry', text, t);
    expect(r.changes.map((c) => [c.line, c.from, c.to])).toEqual([
      [9, 'https://npm.acme.example/@acme/x/-/x-1.0.0.tgz', `${NPM}@acme/x/-/x-1.0.0.tgz`],
      [31, `${jfrog}lodash/-/lodash-4.17.21.tgz`, `${NPM}lodash/-/lodash-4.17.21.tgz`],
    ]);
    expect(r.text).toBe(
      text
        .replace(enc('https://npm.acme.example/@acme/x/-/x-1.0.0.tgz'), enc(`${NPM}@acme/x/-/x-1.0.0.tgz`))
        .replace(enc(`${jfrog}lodash/-/lodash-4.17.21.tgz`), enc(`${NPM}lodash/-/lodash-4.17.21.tgz`)),
    );
    expect(r.notes.join('\n')).toContain('__archiveUrl is on npm.pkg.github.com (e.g. https://npm.pkg.github.com/download/@other/priv/1.0.0/0123456789abcdef)');
    expect(r.notes.join('\n')).toMatch(/npmRegistryServer/);
    // read back: the same entries, the moved ones resolving to the shared repository
    const dir = mkdtempSync(join(tmp, 'berry-'));
    writeFileSync(join(dir, 'yarn.lock'), r.text);
    const resolved = Object.fromEntries(parseLockfile(join(dir, 'yarn.lock')).entries.filter((e) => e.kind === 'registry').map((e) => [e.name, e.resolved]));
    expect(resolved).toEqual({ '@acme/x': `${NPM}@acme/x/-/x-1.0.0.tgz`, '@other/priv': gh, lodash: `${NPM}lodash/-/lodash-4.17.21.tgz`, plain: undefined });
    expect(entries('yarn.lock', r.text)).toEqual(entries('yarn.lock', text));
    // a second run: not a byte changes, said to be rewritten already
    const twice = rewriteLockfile('yarn-berry', r.text, t);
    expect(twice.text).toBe(r.text);
    expect(twice.already).toBe(2);
    expect(twice.notes).toContain(alreadyNote(2));
  });

  it('pnpm: only `tarball:` of a package\'s `resolution` moves (flow or block, any quoting, YAML escapes); a package NAMED tarball in lockfile 5.x/6.x `specifiers`, a comment, stay', () => {
    const text = [
      'lockfileVersion: 5.4',
      '',
      'specifiers:',
      '  tarball: https://registry.npmjs.org/tarball/-/tarball-1.0.0.tgz',
      '  my-tarball: https://registry.npmjs.org/my-tarball/-/my-tarball-1.0.0.tgz',
      '',
      'dependencies:',
      "  my-tarball: '@registry.npmjs.org/my-tarball/-/my-tarball-1.0.0.tgz'",
      "  tarball: '@registry.npmjs.org/tarball/-/tarball-1.0.0.tgz'",
      '',
      '# tarball: https://registry.npmjs.org/x/-/x-1.0.0.tgz',
      'packages:',
      '',
      "  '@registry.npmjs.org/my-tarball/-/my-tarball-1.0.0.tgz':",
      '    resolution: {tarball: "https://registry.npmjs.org/my-tarball/-/my-tarball\\x2d1.0.0.tgz"}',
      '    name: my-tarball',
      '    version: 1.0.0',
      '    dev: false',
      '',
      "  '@registry.npmjs.org/tarball/-/tarball-1.0.0.tgz':",
      '    resolution:',
      '      integrity: sha512-AAAA',
      "      tarball: 'https://registry.npmjs.org/tarball/-/tarball-1.0.0.tgz' # pinned",
      '    name: tarball',
      '    version: 1.0.0',
      '    dev: false',
      '',
    ].join('\n');
    const r = rewriteLockfile('pnpm', text, targets);
    expect(r.changes.map((c) => [c.line, c.to])).toEqual([
      [15, `${NPM}my-tarball/-/my-tarball-1.0.0.tgz`],
      [23, `${NPM}tarball/-/tarball-1.0.0.tgz`],
    ]);
    expect(r.text.split('\n').slice(0, 12)).toEqual(text.split('\n').slice(0, 12));
    expect(r.text).toContain(`      tarball: '${NPM}tarball/-/tarball-1.0.0.tgz' # pinned\n`);
    expect(entries('pnpm-lock.yaml', r.text)).toEqual(entries('pnpm-lock.yaml', text));
  });

  it("Pipfile.lock: nothing moves (_meta.hash covers the Pipfile); a source on a company's own index is not advised to move to the shared repository, a public one is", () => {
    const registries = new RegistryHosts({
      publicRegistries: { npm: 'https://registry.npmjs.org/', pypi: 'https://pypi.org/' },
      sources: [],
      target: { domain: 'acme', domainOwner: '111122223333' },
    });
    const guarded: RewriteTargets = { ...targets, foreignPypiHost: (u) => registries.foreign('pypi', u) };
    const lock = (urls: string[]) => `${JSON.stringify({ _meta: { hash: { sha256: 'aa' }, 'pipfile-spec': 6, requires: {}, sources: urls.map((url, i) => ({ name: `s${i}`, url, verify_ssl: true })) }, default: {}, develop: {} }, null, 4)}\n`;
    const pub = rewriteLockfile('pipfile', lock(['https://pypi.org/simple']), guarded);
    expect([pub.changes, pub.text]).toEqual([[], lock(['https://pypi.org/simple'])]);
    expect(pub.notes).toEqual([expect.stringMatching(/change its \[\[source\]\] url and run pipenv lock/)]);
    const own = rewriteLockfile('pipfile', lock(['https://pypi.org/simple', 'https://user:s3cret@pypi.acme.example/simple']), guarded);
    expect(own.changes).toEqual([]);
    expect(own.notes.join('\n')).toMatch(/the Pipfile's \[\[source\]\] https:\/\/pypi\.acme\.example\/simple left as it is: pypi\.acme\.example is neither public PyPI/);
    expect(own.notes.join('\n')).not.toContain('s3cret');
  });

  it('a format without its target is left alone and said so', () => {
    const text = readFileSync(join(FIXTURES, 'pprof-d3flamegraph/package-lock.json'), 'utf8');
    const r = rewriteLockfile('npm', text, { pypi: PYPI });
    expect(r.text).toBe(text);
    expect(r.notes.join()).toMatch(/no shared npm repository/);
  });
});

describe('the diff', () => {
  it('is one git can apply, also to a file without a final newline', async () => {
    const dir = mkdtempSync(join(tmp, 'diff-'));
    mkdirSync(join(dir, 'a'));
    const before = readFileSync(join(FIXTURES, 'combined-stream/yarn.lock'), 'utf8').replace(/\n+$/, '');
    writeFileSync(join(dir, 'a/yarn.lock'), before);
    const r = rewriteLockfile('yarn-classic', before, targets);
    const diff = unifiedDiff('a/yarn.lock', before, r.text);
    expect(diff).toContain('\\ No newline at end of file');
    writeFileSync(join(dir, 'x.diff'), diff);
    const applied = await run('git', ['apply', 'x.diff'], { cwd: dir });
    expect(applied.code, applied.stderr).toBe(0);
    expect(readFileSync(join(dir, 'a/yarn.lock'), 'utf8')).toBe(r.text);
  });
});

/** A stand-in for the SDK client: GetRepositoryEndpoint only; `onSend` runs while the command waits for it. */
function endpointClient(onSend: () => void = () => {}): CodeartifactClient {
  return fakeClient(async (cmd) => {
    onSend();
    return { repositoryEndpoint: (cmd as { input: { format?: string } }).input.format === 'npm' ? NPM : PYPI };
  });
}

/** A job in its own folder with `files` (path -> content) and `warm.lockfiles`. */
function project(files: Record<string, string | Buffer>, lockfiles = Object.keys(files), parent = tmp): { dir: string; job: string } {
  const dir = mkdtempSync(join(parent, 'job-'));
  for (const [f, content] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), content);
  }
  const job = join(dir, 'rw.yaml');
  writeFileSync(
    job,
    stringify({
      name: 'rw',
      target: { region: 'us-east-1', domain: 'acme', domainOwner: '111122223333', repositories: { npm: { internal: 'npm-internal', store: 'npm-store', shared: 'npm-shared' }, pypi: { internal: 'pypi-internal', store: 'pypi-store', shared: 'pypi-shared' } } },
      sources: [{ id: 'private-npm', kind: 'npm-registry', url: 'http://127.0.0.1:9/', packages: ['@acme/x'] }],
      warm: { lockfiles },
    }),
  );
  return { dir, job };
}

/** `cam rewrite-lockfiles` in process: its exit code and what it printed. */
async function rewrite(p: { dir: string; job: string }, args: { write?: boolean; json?: boolean; tty?: boolean; onSend?: () => void } = {}) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const io = { stdout: Object.assign(out, { isTTY: args.tty === true }), stderr: err };
  const code = await rewriteCommand(p.job, { write: args.write, json: args.json, stateDir: join(p.dir, 'state'), env: { CAM_LOCK_DIR: join(p.dir, 'locks') }, codeartifactClient: endpointClient(args.onSend) }, io);
  return { code, stdout, stderr };
}

/**
 * `cam rewrite-lockfiles JOB --write` as the user nobody (uid 65534), in a child: `open` is a
 * folder that user may use (tsx runs esbuild from the cwd). The returned function runs it with
 * its arguments (`json` for --json).
 */
function rewriteAsNobody(open: string, job: string, stateDir: string) {
  const script = join(open, 'rewrite.mjs');
  writeFileSync(
    script,
    [
      `import { rewriteCommand } from ${JSON.stringify(join(ROOT, 'src/cli/rewrite.ts'))};`,
      `const client = { send: async () => ({ repositoryEndpoint: ${JSON.stringify(PYPI)} }), destroy() {}, middlewareStack: { add() {} } };`,
      `process.exitCode = await rewriteCommand(${JSON.stringify(job)}, { write: true, json: process.argv[2] === 'json', stateDir: ${JSON.stringify(stateDir)}, env: { CAM_LOCK_DIR: ${JSON.stringify(join(open, 'locks'))} }, codeartifactClient: client }, { stdout: process.stdout, stderr: process.stderr });`,
    ].join('\n'),
  );
  chmodSync(script, 0o644);
  return (args: string[]) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', TSX_LOADER, script, ...args], { cwd: open, env: { PATH: process.env.PATH, HOME: open } });
}

describe('rewrite-lockfiles --write', () => {
  it('refuses a file that changed on disk after it was read (an npm install in between), names it, and writes the others', async () => {
    const p = project({ 'a/requirements.txt': '-i https://pypi.org/simple\nrequests==2.31.0\n', 'b/requirements.txt': '-i https://pypi.org/simple\nflask==3.0.0\n' });
    const newer = '-i https://pypi.org/simple\nrequests==2.32.0\n';
    // the endpoint is asked after the files are read and before any is written
    const r = await rewrite(p, { write: true, onSend: () => writeFileSync(join(p.dir, 'a/requirements.txt'), newer) });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error a\/requirements\.txt: .*changed on disk since it was read/);
    expect(readFileSync(join(p.dir, 'a/requirements.txt'), 'utf8')).toBe(newer);
    expect(readFileSync(join(p.dir, 'b/requirements.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\nflask==3.0.0\n`);
    // no temporary file left behind, either way
    expect(readdirSync(join(p.dir, 'a')).concat(readdirSync(join(p.dir, 'b')))).toEqual(['requirements.txt', 'requirements.txt']);
  });

  it('a lockfile replaced between read and write by a FIFO, a folder or a link to /dev/zero: refused as changed, named, never read forever (a child process, so a hang is a timeout)', async () => {
    const text = '-i https://pypi.org/simple\nrequests==2.31.0\n';
    const p = project({ 'a/requirements.txt': text, 'b/requirements.txt': text, 'c/requirements.txt': text, 'd/requirements.txt': text, 'e/requirements.txt': text });
    const script = join(p.dir, 'rewrite.mjs');
    const f = (d: string) => JSON.stringify(join(p.dir, d, 'requirements.txt'));
    writeFileSync(
      script,
      [
        `import { rewriteCommand } from ${JSON.stringify(join(ROOT, 'src/cli/rewrite.ts'))};`,
        "import { execFileSync } from 'node:child_process';",
        "import { mkdirSync, symlinkSync, unlinkSync } from 'node:fs';",
        // the endpoint is asked after the files are read and before any is written
        `const swap = () => { unlinkSync(${f('a')}); execFileSync('mkfifo', [${f('a')}]); unlinkSync(${f('b')}); mkdirSync(${f('b')}); unlinkSync(${f('c')}); symlinkSync('/dev/zero', ${f('c')}); unlinkSync(${f('e')}); };`,
        `const client = { send: async () => { swap(); return { repositoryEndpoint: ${JSON.stringify(PYPI)} }; }, destroy() {}, middlewareStack: { add() {} } };`,
        `process.exitCode = await rewriteCommand(${JSON.stringify(p.job)}, { write: true, json: true, stateDir: ${JSON.stringify(join(p.dir, 'state'))}, env: { CAM_LOCK_DIR: ${JSON.stringify(join(p.dir, 'locks'))} }, codeartifactClient: client }, { stdout: process.stdout, stderr: process.stderr });`,
      ].join('\n'),
    );
    const r = await run('timeout', ['60', process.execPath, '--max-old-space-size=256', '--import', TSX_LOADER, script], { cwd: p.dir, env: { PATH: process.env.PATH, HOME: p.dir } });
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { files: { path: string; written: boolean }[]; errors: { path: string; message: string }[] };
    expect(out.errors).toEqual(['a', 'b', 'c', 'e'].map((d) => ({ path: `${d}/requirements.txt`, code: 'ELOCKFILE', message: expect.stringMatching(/changed on disk since it was read \(now (?:a FIFO|a folder|a symbolic link|gone): [^)]*\); not written: run rewrite-lockfiles again$/) })));
    expect(out.files.map((x) => [x.path, x.written])).toEqual([['d/requirements.txt', true]]);
    expect(lstatSync(join(p.dir, 'a/requirements.txt')).isFIFO()).toBe(true);
    expect(lstatSync(join(p.dir, 'b/requirements.txt')).isDirectory()).toBe(true);
    expect(lstatSync(join(p.dir, 'c/requirements.txt')).isSymbolicLink()).toBe(true);
    for (const d of ['a', 'b', 'c']) expect(readdirSync(join(p.dir, d)).filter((x) => x.endsWith('.tmp')), d).toEqual([]);
  }, 90_000);

  it("a requirements file on the company's own index is not pointed at the shared repository: it stays as it was, the index is named, the public index beside it moves", async () => {
    const p = project({ 'a/requirements.txt': '-i https://pypi.acme.example/simple\nacme-billing==1.2.0\n', 'b/requirements.txt': '-i https://pypi.org/simple\nflask==3.0.0\n' });
    const r = await rewrite(p, { write: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'a/requirements.txt'), 'utf8')).toBe('-i https://pypi.acme.example/simple\nacme-billing==1.2.0\n');
    expect(readFileSync(join(p.dir, 'b/requirements.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\nflask==3.0.0\n`);
    expect(r.stderr).toMatch(/a\/requirements\.txt: line 1: the index https:\/\/pypi\.acme\.example\/simple left as it is: .*publicRegistries\.pypi/);
    expect(r.stderr).toMatch(/1 of 2 lockfile\(s\) rewritten/);
  });

  it("a registry on the host of a public registry or source named by a path (an Artifactory's npm-private beside its npm-remote) is not that registry: its URLs stay, and are named", async () => {
    const ART = 'https://art.acme.example/artifactory/api';
    const lock = (name: string, repo: string) => `${JSON.stringify({ name: 'x', lockfileVersion: 3, requires: true, packages: { '': { name: 'x' }, [`node_modules/${name}`]: { version: '1.0.0', resolved: `${ART}/npm/${repo}/${name}/-/${name}-1.0.0.tgz`, integrity: 'sha512-AAAA' } } }, null, 2)}\n`;
    const p = project({ 'remote/package-lock.json': lock('left-pad', 'npm-remote'), 'private/package-lock.json': lock('acme-billing', 'npm-private'), 'remote/requirements.txt': `-i ${ART}/pypi/pypi-remote/simple/\nrequests==2.31.0\n`, 'private/requirements.txt': `-i ${ART}/pypi/pypi-private/simple\nacme-billing==1.2.0\n` });
    const job = parse(readFileSync(p.job, 'utf8')) as Record<string, unknown>;
    writeFileSync(p.job, stringify({ ...job, publicRegistries: { npm: `${ART}/npm/npm-remote/`, pypi: `${ART}/pypi/pypi-remote/simple` } }));
    const r = await rewrite(p, { write: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'remote/package-lock.json'), 'utf8')).toContain(`"resolved": "${NPM}left-pad/-/left-pad-1.0.0.tgz"`);
    expect(readFileSync(join(p.dir, 'remote/requirements.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\nrequests==2.31.0\n`);
    expect(readFileSync(join(p.dir, 'private/package-lock.json'), 'utf8')).toBe(lock('acme-billing', 'npm-private'));
    expect(readFileSync(join(p.dir, 'private/requirements.txt'), 'utf8')).toBe(`-i ${ART}/pypi/pypi-private/simple\nacme-billing==1.2.0\n`);
    expect(r.stderr).toMatch(/private\/package-lock\.json: tarballs from art\.acme\.example \(outside \/artifactory\/api\/npm\/npm-remote\/\) .* left as they are/);
    expect(r.stderr).toMatch(/private\/requirements\.txt: line 1: the index https:\/\/art\.acme\.example\/artifactory\/api\/pypi\/pypi-private\/simple left as it is/);
    expect(r.stderr).toMatch(/2 of 4 lockfile\(s\) rewritten/);

    // a source named by a path whose tarballs carry its token first (Gemfury: /<token>/acme/ for /acme/) is still that source
    const fury = project({ 'package-lock.json': `${JSON.stringify({ name: 'x', lockfileVersion: 3, requires: true, packages: { '': { name: 'x' }, 'node_modules/fury-x': { version: '1.0.0', resolved: 'https://npm.fury.io/t0ken/acme/fury-x/-/fury-x-1.0.0.tgz', integrity: 'sha512-AAAA' }, 'node_modules/other-x': { version: '1.0.0', resolved: 'https://npm.fury.io/t0ken/other/other-x/-/other-x-1.0.0.tgz', integrity: 'sha512-AAAA' } } }, null, 2)}\n` });
    const furyJob = parse(readFileSync(fury.job, 'utf8')) as Record<string, unknown>;
    writeFileSync(fury.job, stringify({ ...furyJob, sources: [{ id: 'fury', kind: 'npm-registry', url: 'https://npm.fury.io/acme/', packages: ['fury-x'] }] }));
    const f = await rewrite(fury, { json: true });
    expect(f.code, f.stderr).toBe(0);
    const moved = (JSON.parse(f.stdout) as { files: { changes: { from: string }[]; notes: string[] }[] }).files[0]!;
    expect(moved.changes.map((c) => c.from)).toEqual(['https://npm.fury.io/t0ken/acme/fury-x/-/fury-x-1.0.0.tgz']);
    expect(moved.notes).toEqual([expect.stringMatching(/^tarballs from npm\.fury\.io \(outside \/acme\/\) .* left as they are/)]);

    // publicRegistries naming a repository of the job's CodeArtifact domain: the domain's other repositories stay trusted
    const CA = 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com';
    const ca = project({ 'package-lock.json': lock('left-pad', 'npm-remote').replace(`${ART}/npm/npm-remote/`, `${CA}/npm/npm-internal/`) });
    writeFileSync(ca.job, stringify({ ...(parse(readFileSync(ca.job, 'utf8')) as Record<string, unknown>), publicRegistries: { npm: `${CA}/npm/npm-store/` } }));
    const c = await rewrite(ca, { write: true });
    expect(c.code, c.stderr).toBe(0);
    expect(readFileSync(join(ca.dir, 'package-lock.json'), 'utf8')).toContain(`"resolved": "${NPM}left-pad/-/left-pad-1.0.0.tgz"`);
  });

  it("a tarball from one of the job's sources of a package the job does not migrate stays, and is named: the shared repository would answer that name with the public package", async () => {
    // the job's source (http://127.0.0.1:9/) migrates @acme/x only; acme-billing is private there too, and not migrated
    const SRC = 'http://127.0.0.1:9/';
    const entry = (name: string, file: string) => ({ version: '1.0.0', resolved: `${SRC}${name}/-/${file}-1.0.0.tgz`, integrity: `sha512-${'A'.repeat(86)}==` });
    const lock = `${JSON.stringify({ name: 'x', lockfileVersion: 3, requires: true, packages: { '': { name: 'x' }, 'node_modules/@acme/x': entry('@acme/x', 'x'), 'node_modules/acme-billing': entry('acme-billing', 'acme-billing') } }, null, 2)}\n`;
    const yarn = `# yarn lockfile v1\n\n\n"@acme/x@1.0.0":\n  version "1.0.0"\n  resolved "${SRC}@acme/x/-/x-1.0.0.tgz#0123456789abcdef0123456789abcdef01234567"\n\nacme-billing@1.0.0:\n  version "1.0.0"\n  resolved "${SRC}acme-billing/-/acme-billing-1.0.0.tgz#0123456789abcdef0123456789abcdef01234567"\n`;
    const p = project({ 'npm/package-lock.json': lock, 'yarn/yarn.lock': yarn });
    const r = await rewrite(p, { write: true, json: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'npm/package-lock.json'), 'utf8')).toBe(lock.replace(`${SRC}@acme/x/`, `${NPM}@acme/x/`));
    expect(readFileSync(join(p.dir, 'yarn/yarn.lock'), 'utf8')).toBe(yarn.replace(`${SRC}@acme/x/`, `${NPM}@acme/x/`));
    const out = JSON.parse(r.stdout) as { files: { path: string; changes: unknown[]; notes: string[] }[] };
    for (const f of out.files) {
      expect(f.changes.length, f.path).toBe(1);
      expect(f.notes, f.path).toEqual([expect.stringMatching(/^tarballs from 127\.0\.0\.1:9 of packages the job does not migrate \(e\.g\. http:\/\/127\.0\.0\.1:9\/acme-billing\/-\/acme-billing-1\.0\.0\.tgz\) left as they are/)]);
    }
  });

  it('writes a symlinked lockfile through to the file it points at: the link stays a link', async () => {
    const p = project({ 'shared/requirements.txt': '-i https://pypi.org/simple\nrequests==2.31.0\n' }, ['app/requirements.txt']);
    mkdirSync(join(p.dir, 'app'));
    symlinkSync('../shared/requirements.txt', join(p.dir, 'app/requirements.txt'));
    const r = await rewrite(p, { write: true });
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(join(p.dir, 'app/requirements.txt')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(p.dir, 'shared/requirements.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\nrequests==2.31.0\n`);
  });

  it("takes the job's lock, as run and warm do: held elsewhere, nothing is written (ELOCKED, exit 2)", async () => {
    const text = '-i https://pypi.org/simple\nrequests==2.31.0\n';
    const p = project({ 'requirements.txt': text });
    mkdirSync(join(p.dir, 'state'));
    const release = acquireLock(join(p.dir, 'state', 'rw'));
    try {
      const r = await rewrite(p, { write: true });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('ELOCKED');
      expect(readFileSync(join(p.dir, 'requirements.txt'), 'utf8')).toBe(text);
    } finally {
      release();
    }
    { const again = await rewrite(p, { write: true }); expect(again.code, again.stderr).toBe(0); }
    expect(readFileSync(join(p.dir, 'requirements.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\nrequests==2.31.0\n`);
  });

  it("an include leading out of the job's folder (`..`, an absolute path) is that file's error: neither shown nor written", async () => {
    const outside = join(mkdtempSync(join(tmp, 'outside-')), 'secret.txt');
    const held = '--index-url https://pypi.org/simple\nflask==3.0.0\n';
    writeFileSync(outside, held);
    const p = project({ 'requirements.txt': `-r ../${basename(join(outside, '..'))}/secret.txt\n-r ${outside}\nrequests==2.31.0\n-i https://pypi.org/simple\n` });
    const r = await rewrite(p, { write: true, json: true });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { files: { path: string; written: boolean }[]; errors: { path: string; message: string }[] };
    expect(out.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^line 1: -r .* is outside the folder of the lockfiles/), expect.stringMatching(/^line 2: -r .* is outside the folder of the lockfiles/)]);
    expect(out.files.map((f) => [f.path, f.written])).toEqual([['requirements.txt', true]]);
    expect(readFileSync(outside, 'utf8')).toBe(held);
  });

  it("run as root, keeps the file's owner and mode (a rename would give it to root, and lock its owner out)", async () => {
    const p = project({ 'requirements.txt': '-i https://pypi.org/simple\nrequests==2.31.0\n' });
    const file = join(p.dir, 'requirements.txt');
    chownSync(file, 65534, 65534);
    chmodSync(file, 0o640);
    const r = await rewrite(p, { write: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(`-i ${PYPI}simple/\nrequests==2.31.0\n`);
    const st = statSync(file);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([65534, 65534, 0o640]);
  });

  it("run as a user who may write another's file but not give a file away: refused (ELOCAL), the file and its owner as they were", async () => {
    // a folder nobody may use: tsx runs esbuild from the cwd, and the temporary file goes beside the lockfile
    const open = mkdtempSync(join(tmpdir(), 'cam-rewrite-owner-'));
    chmodSync(open, 0o777);
    try {
      const text = '-i https://pypi.org/simple\nrequests==2.31.0\n';
      const p = project({ 'requirements.txt': text }, undefined, open);
      chmodSync(p.dir, 0o777);
      const file = join(p.dir, 'requirements.txt');
      chmodSync(file, 0o666);
      const r = await rewriteAsNobody(open, p.job, join(p.dir, 'state'))(['json']);
      expect(r.code, r.stderr).toBe(1);
      const out = JSON.parse(r.stdout) as { files: unknown[]; errors: { path: string; message: string }[] };
      expect(out.errors).toEqual([{ path: 'requirements.txt', code: 'ELOCAL', message: expect.stringMatching(/cannot keep the owner of .*requirements\.txt \(uid 0, gid 0\).*\(EPERM\).*not written/) }]);
      expect(readFileSync(file, 'utf8')).toBe(text);
      const st = statSync(file);
      expect([st.uid, st.gid]).toEqual([0, 0]);
      expect(readdirSync(p.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  it("run as a user who may write the lockfile but not its folder: ELOCAL naming the file and its folder, with what to do (never a bare EACCES on a temporary file's name)", async () => {
    const open = mkdtempSync(join(tmpdir(), 'cam-rewrite-rodir-'));
    chmodSync(open, 0o777);
    try {
      const text = '-i https://pypi.org/simple\nrequests==2.31.0\n';
      const p = project({ 'requirements.txt': text }, undefined, open);
      // the folder root's (0755), the file the user's own: writable, but not replaceable
      const file = join(p.dir, 'requirements.txt');
      chownSync(file, 65534, 65534);
      chmodSync(p.dir, 0o755);
      const as = rewriteAsNobody(open, p.job, join(open, 'state'));
      const r = await as(['json']);
      expect(r.code, r.stderr).toBe(1);
      const out = JSON.parse(r.stdout) as { files: unknown[]; errors: { path: string; message: string }[] };
      expect(out.errors).toEqual([{ path: 'requirements.txt', code: 'ELOCAL', message: expect.stringMatching(/^requirements\.txt: cannot write in its folder .* \(EACCES\): .*not written; run it as a user who may write that folder, or apply the diff there/) }]);
      expect(out.errors[0]!.message).not.toMatch(/\.tmp/);
      const shown = await as([]);
      expect(shown.stderr).toMatch(/^error requirements\.txt: requirements\.txt: cannot write in its folder/m);
      expect(readFileSync(file, 'utf8')).toBe(text);
      expect(readdirSync(p.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  it("a lockfile its user made read-only (chmod a-w) in a folder they may write: refused (ELOCAL) as npm and pip-compile refuse to write it, never replaced behind the mode", async () => {
    const open = mkdtempSync(join(tmpdir(), 'cam-rewrite-rofile-'));
    chmodSync(open, 0o777);
    try {
      const text = '-i https://pypi.org/simple\nrequests==2.31.0\n';
      const p = project({ 'requirements.txt': text, 'b/requirements.txt': text }, undefined, open);
      // the user's own folder and files, one of them read-only
      for (const f of [p.dir, join(p.dir, 'b'), join(p.dir, 'requirements.txt'), join(p.dir, 'b/requirements.txt'), p.job]) chownSync(f, 65534, 65534);
      const file = join(p.dir, 'requirements.txt');
      chmodSync(file, 0o444);
      const r = await rewriteAsNobody(open, p.job, join(open, 'state'))(['json']);
      expect(r.code, r.stderr).toBe(1);
      const out = JSON.parse(r.stdout) as { files: { path: string; written: boolean }[]; errors: { path: string; message: string }[] };
      expect(out.errors).toEqual([{ path: 'requirements.txt', code: 'ELOCAL', message: expect.stringMatching(/^requirements\.txt: .* is read-only for this user \(EACCES\).*not written; /) }]);
      expect(out.files.map((f) => [f.path, f.written])).toEqual([['b/requirements.txt', true]]);
      expect(readFileSync(file, 'utf8')).toBe(text);
      expect(statSync(file).mode & 0o777).toBe(0o444);
      expect(readdirSync(p.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('a lockfile that is a symbolic link loop or a dangling link is said to be one (not "no such file"); a FIFO or /dev/zero is refused unread', async () => {
    const p = project({ 'ok/requirements.txt': '-i https://pypi.org/simple\nrequests==2.31.0\n' }, ['loop/requirements.txt', 'dangling/requirements.txt', 'fifo/requirements.txt', 'zero/requirements.txt', 'ok/requirements.txt']);
    for (const d of ['loop', 'dangling', 'fifo', 'zero']) mkdirSync(join(p.dir, d));
    symlinkSync('requirements.txt', join(p.dir, 'loop/requirements.txt'));
    symlinkSync('gone.txt', join(p.dir, 'dangling/requirements.txt'));
    await run('mkfifo', [join(p.dir, 'fifo/requirements.txt')]);
    symlinkSync('/dev/zero', join(p.dir, 'zero/requirements.txt'));
    const r = await rewrite(p, { write: true, json: true });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { files: { path: string; written: boolean }[]; errors: { path: string; message: string }[] };
    expect(Object.fromEntries(out.errors.map((e) => [e.path, e.message]))).toEqual({
      'loop/requirements.txt': expect.stringMatching(/^a symbolic link loop \(ELOOP\): .*fix the path in the job file/),
      'dangling/requirements.txt': expect.stringMatching(/^a symbolic link to a missing file \(ENOENT\): .*fix the path in the job file/),
      'fifo/requirements.txt': expect.stringMatching(/not a regular file/),
      'zero/requirements.txt': expect.stringMatching(/leads outside|not a regular file/),
    });
    expect(out.files.map((f) => [f.path, f.written])).toEqual([['ok/requirements.txt', true]]);
  });

  it('a folder named in warm.lockfiles that holds no lockfile (one named like a lockfile too) is an error naming it, never "0 of 0 lockfiles"', async () => {
    const p = project({ 'ok/requirements.txt': '-i https://pypi.org/simple\nrequests==2.31.0\n' }, ['ok/requirements.txt', 'package-lock.json', 'services']);
    mkdirSync(join(p.dir, 'package-lock.json'));
    mkdirSync(join(p.dir, 'services'));
    const r = await rewrite(p, { json: true });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { files: { path: string }[]; errors: { path: string; message: string }[] };
    expect(out.errors).toEqual([
      { path: 'package-lock.json', code: 'ELOCKFILE', message: 'a folder with no lockfile in it (or under it)' },
      { path: 'services', code: 'ELOCKFILE', message: 'a folder with no lockfile in it (or under it)' },
    ]);
    expect(out.files.map((f) => f.path)).toEqual(['ok/requirements.txt']);
  });

  it("a requirements file in UTF-16 (PowerShell's `pip freeze > requirements.txt`, which pip reads) is that file's error naming the encoding, never \"no --index-url\"; nothing is written", async () => {
    const text = '--index-url https://pypi.org/simple\r\nrequests==2.31.0\r\n';
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const p = project({ 'requirements.txt': utf16, 'b/requirements.txt': '-i https://pypi.org/simple\nrequests==2.31.0\n' });
    for (const write of [false, true]) {
      const r = await rewrite(p, { write, json: true });
      expect(r.code, r.stderr).toBe(1);
      const out = JSON.parse(r.stdout) as { files: { path: string; notes: string[] }[]; errors: { path: string; code: string; message: string }[] };
      expect(out.errors).toEqual([expect.objectContaining({ path: 'requirements.txt', code: 'ELOCKFILE', message: expect.stringContaining('UTF-16') })]);
      expect(out.files.map((f) => f.path)).toEqual(['b/requirements.txt']);
      expect(JSON.stringify(out)).not.toContain('no --index-url');
      expect(readFileSync(join(p.dir, 'requirements.txt')).equals(utf16)).toBe(true);
    }
  });

  it('a lockfile that is not valid UTF-8 (a cp1252 comment): its diff, which cannot apply (the bytes show as U+FFFD), is said not to, and --write refuses it naming why, the file unchanged', async () => {
    const bytes = Buffer.from('# Caf\xe9 r\xe9seau\n--index-url https://pypi.org/simple\nrequests==2.31.0\n', 'latin1');
    const p = project({ 'requirements.txt': bytes });
    const shown = await rewrite(p);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('+--index-url https://acme-');
    expect(shown.stderr).toMatch(/requirements\.txt: not valid UTF-8 .*will not apply/);
    // the diff indeed does not apply: git says so
    writeFileSync(join(p.dir, 'x.diff'), shown.stdout);
    expect((await run('git', ['apply', '--check', 'x.diff'], { cwd: p.dir })).code).not.toBe(0);
    const written = await rewrite(p, { write: true });
    expect(written.code).toBe(1);
    expect(written.stderr).toMatch(/error requirements\.txt: not valid UTF-8/);
    expect(readFileSync(join(p.dir, 'requirements.txt')).equals(bytes)).toBe(true);
  });

  it('a package-lock that starts with a UTF-8 BOM (npm reads it, as warm does) is rewritten, the BOM kept', async () => {
    const lock = `\uFEFF${JSON.stringify({ name: 'app', lockfileVersion: 3, packages: { 'node_modules/a': { version: '1.0.0', resolved: 'https://registry.npmjs.org/a/-/a-1.0.0.tgz', integrity: 'sha512-AAAA' } } }, null, 2)}\n`;
    const p = project({ 'app/package-lock.json': lock });
    const r = await rewrite(p, { write: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'app/package-lock.json'), 'utf8')).toBe(lock.replace('https://registry.npmjs.org/', NPM));
  });

  it('refuses a lockfile with other hard links (a rename would leave them with the old URLs), and says so', async () => {
    const text = '-i https://pypi.org/simple\nrequests==2.31.0\n';
    const p = project({ 'requirements.txt': text });
    linkSync(join(p.dir, 'requirements.txt'), join(p.dir, 'linked.txt'));
    const r = await rewrite(p, { write: true, json: true });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { files: unknown[]; errors: { path: string; message: string }[] };
    expect(out.errors).toEqual([{ path: 'requirements.txt', code: 'ELOCKFILE', message: expect.stringMatching(/has 2 hard links: .*not written/) }]);
    expect(statSync(join(p.dir, 'requirements.txt')).ino).toBe(statSync(join(p.dir, 'linked.txt')).ino);
    expect(readFileSync(join(p.dir, 'linked.txt'), 'utf8')).toBe(text);
    // the diff is still shown: apply it, or break the link, then --write
    expect((await rewrite(p)).stdout).toContain(`+-i ${PYPI}simple/`);
  });

  it('CRLF, a BOM and no final newline: every other byte stays as it was', async () => {
    const before = '\uFEFF# pinned\r\n--index-url \\\r\n    https://pypi.org/simple\r\nrequests==2.31.0';
    const p = project({ 'requirements.txt': before });
    const r = await rewrite(p, { write: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'requirements.txt'))).toEqual(Buffer.from(before.replace('https://pypi.org/simple', `${PYPI}simple/`), 'utf8'));
  });

  it('a second --write over rewritten files: every file stays byte for byte, each is said to be rewritten already (not told it has no registry URL)', async () => {
    const files = {
      'npm/package-lock.json': readFileSync(join(FIXTURES, 'pprof-d3flamegraph/package-lock.json'), 'utf8'),
      'pnpm/pnpm-lock.yaml': PNPM_LOCK,
      'yarn/yarn.lock': readFileSync(join(FIXTURES, 'combined-stream/yarn.lock'), 'utf8'),
      'py/requirements.txt': '--index-url https://pypi.org/simple\nrequests==2.31.0\n',
      // its legacy source on public PyPI: a company's own index stays where it is (see the rewriter's tests)
      'poetry/poetry.lock': readFileSync(join(FIXTURES, 'handmade/poetry/poetry.lock'), 'utf8').replace('https://pypi.example.invalid/simple', 'https://pypi.org/simple'),
      'uv/uv.lock': readFileSync(join(FIXTURES, 'handmade/uv/uv.lock'), 'utf8'),
    };
    const p = project(files);
    const first = await rewrite(p, { write: true, json: true });
    expect(first.code, first.stderr).toBe(0);
    const written = Object.keys(files).map((f) => readFileSync(join(p.dir, f)));
    for (const [i, f] of Object.keys(files).entries()) expect(written[i]!.toString('utf8'), f).not.toBe(files[f as keyof typeof files]);

    const again = await rewrite(p, { write: true, json: true });
    expect(again.code, again.stderr).toBe(0);
    for (const [i, f] of Object.keys(files).entries()) expect(readFileSync(join(p.dir, f)), f).toEqual(written[i]);
    const out = JSON.parse(again.stdout) as { files: { path: string; changes: unknown[]; already: number; written: boolean; notes: string[] }[] };
    const firstOut = JSON.parse(first.stdout) as { files: { path: string; changes: unknown[] }[] };
    expect(out.files.map((f) => f.path).sort()).toEqual(Object.keys(files).sort());
    for (const f of out.files) {
      const moved = firstOut.files.find((x) => x.path === f.path)!.changes.length;
      expect([f.path, f.changes.length, f.already, f.written]).toEqual([f.path, 0, moved, false]);
      expect(f.notes, f.path).toContain(alreadyNote(moved));
      expect(f.notes.join('\n'), f.path).not.toMatch(NO_URL_ADVICE);
    }
    // and as a person reads it: the notes, and the count of files rewritten already
    const shown = await rewrite(p);
    expect(shown.stdout).toBe('');
    for (const f of Object.keys(files)) expect(shown.stderr).toMatch(new RegExp(`^${f.replace(/[.]/g, '\\.')}: already rewritten: `, 'm'));
    expect(shown.stderr).not.toMatch(NO_URL_ADVICE);
    expect(shown.stderr).toContain(`0 of ${Object.keys(files).length} lockfile(s) to rewrite, 0 URL(s), ${Object.keys(files).length} rewritten already\n`);
    // nothing to apply: no "--write to apply"
    expect(shown.stderr).not.toContain('--write to apply');
  });

  it('a uv.lock the rewriter cannot read is that file\'s error: the other files are still written, the command does not abort', async () => {
    const uv = 'version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "x"\nversion = "1.0"\nsource = { registry = "https://pypi.org/simple" }\nwheels = [{ url = "https://files.example/x-1.0-%ZZ-none-any.whl", hash = "sha256:aaaa" }]\n';
    const p = project({ 'uv.lock': uv, 'requirements.txt': '-i https://pypi.org/simple\nrequests==2.31.0\n' }, ['uv.lock', 'requirements.txt']);
    const r = await rewrite(p, { write: true, json: true });
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { files: { path: string; written: boolean }[]; errors: { path: string; message: string }[] };
    expect(out.errors).toEqual([{ path: 'uv.lock', code: 'ELOCKFILE', message: expect.stringMatching(/line 8: .*percent-encoding/) }]);
    expect(out.files.map((f) => [f.path, f.written])).toEqual([['requirements.txt', true]]);
    expect(readFileSync(join(p.dir, 'uv.lock'), 'utf8')).toBe(uv);
    expect(readFileSync(join(p.dir, 'requirements.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\nrequests==2.31.0\n`);
  });
});

describe('rewrite-lockfiles: the diff', () => {
  it('finds an include written as pip reads it too, abbreviated (`--requirem`, `--cons`) or quoted, and moves the index it holds', async () => {
    const p = project(
      {
        'requirements.txt': '--requirem "pip index.txt"\n--cons=\'constraints.txt\'\nflask==3.0.0\n',
        'pip index.txt': '-i https://pypi.org/simple\n',
        'constraints.txt': '--index-url https://pypi.org/simple\nrequests==2.31.0\n',
      },
      ['requirements.txt'],
    );
    const r = await rewrite(p, { write: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'pip index.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\n`);
    expect(readFileSync(join(p.dir, 'constraints.txt'), 'utf8')).toBe(`--index-url ${PYPI}simple/\nrequests==2.31.0\n`);
    expect(r.stderr).toMatch(/2 of 3 lockfile\(s\) rewritten/);
  });

  it('finds every include of an options line (`-r a.txt -r b.txt`, `-i URL -r base.txt`), as warm reads them', async () => {
    const p = project(
      {
        'requirements.txt': '-r a.txt -r b.txt\n-i https://pypi.org/simple -r c.txt\nflask==3.0.0\n',
        'a.txt': 'requests==2.31.0\n',
        'b.txt': '--index-url https://pypi.org/simple\n',
        'c.txt': '-i https://pypi.org/simple\n',
      },
      ['requirements.txt'],
    );
    const r = await rewrite(p, { write: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'b.txt'), 'utf8')).toBe(`--index-url ${PYPI}simple/\n`);
    expect(readFileSync(join(p.dir, 'c.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\n`);
  });

  it('a chain of includes thousands deep (a hostile repository) stops at the 1,000 included files warm reads, an error naming the file; never "Maximum call stack size exceeded"', async () => {
    const files: Record<string, string> = { 'requirements.txt': '-r r0.txt\n' };
    const N = 5000;
    for (let i = 0; i < N; i++) files[`r${i}.txt`] = `-r r${i + 1}.txt\n`;
    files[`r${N}.txt`] = '-i https://pypi.org/simple\n';
    const p = project(files, ['requirements.txt']);
    const r = await rewrite(p, { json: true });
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { files: unknown[]; errors: { path: string; code: string; message: string }[] };
    expect(out.errors).toEqual([expect.objectContaining({ code: 'ELOCKFILE', message: expect.stringContaining('more than 1000 included files') })]);
    expect(JSON.stringify(out)).not.toContain('call stack');
    expect(out.files.length).toBeLessThanOrEqual(1001);
  });

  it('names every file once, an included one listed too, and finds an include that holds only the index option', async () => {
    const p = project(
      {
        'requirements.txt': '-r requirements/base.txt\n-r pip-index.txt\nflask==3.0.0\n',
        'requirements/base.txt': '--index-url https://pypi.org/simple\nrequests==2.31.0\n',
        'pip-index.txt': '-i https://pypi.org/simple\n',
      },
      ['requirements.txt', 'requirements/base.txt'],
    );
    const r = await rewrite(p);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('--- a/'))).toEqual(['--- a/requirements/base.txt', '--- a/pip-index.txt']);
    writeFileSync(join(p.dir, 'x.diff'), r.stdout);
    const applied = await run('git', ['apply', '--verbose', 'x.diff'], { cwd: p.dir });
    expect(applied.code, applied.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'pip-index.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\n`);
  });

  it("lockfiles outside the job's folder (`../services/**`): the diff's paths are relative to the folder holding them all, said on stderr, and git apply takes it there", async () => {
    const p = project({ 'services/app/requirements.txt': '-i https://pypi.org/simple\nrequests==2.31.0\n' });
    mkdirSync(join(p.dir, 'jobs'));
    const job = join(p.dir, 'jobs', 'rw.yaml');
    writeFileSync(job, readFileSync(p.job, 'utf8').replace('- services/app/requirements.txt', '- ../services/app/requirements.txt'));
    const r = await rewrite({ dir: p.dir, job });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('--- a/'))).toEqual(['--- a/services/app/requirements.txt']);
    expect(r.stderr).toContain(`the diff's paths are relative to ${p.dir} (lockfiles outside the job's folder): apply it there`);
    writeFileSync(join(p.dir, 'x.diff'), r.stdout);
    const applied = await run('git', ['apply', '--verbose', 'x.diff'], { cwd: p.dir });
    expect(applied.code, applied.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'services/app/requirements.txt'), 'utf8')).toBe(`-i ${PYPI}simple/\nrequests==2.31.0\n`);
  });

  it("quotes a path as git does (a newline, a tab, quotes, a backslash, non-ASCII, a space): no header is broken, and git apply takes the diff", async () => {
    const text = '-i https://pypi.org/simple\nrequests==2.31.0\n';
    const names = ['proj/nl\n+++ b/evil/requirements.txt', 'proj/t\tab/requirements.txt', 'proj/q"uote\\d/requirements.txt', 'proj/caf\u00e9/requirements.txt', 'proj/\u0001\u007f/requirements.txt', 'proj/sp ace/requirements.txt', 'proj/plain/requirements.txt'];
    const p = project(Object.fromEntries(names.map((n) => [n, text])));
    const r = await rewrite(p);
    expect(r.code, r.stderr).toBe(0);
    // one `---` and one `+++` line per file, each a whole header: nothing a name held made a line of its own
    const headers = r.stdout.split('\n').filter((l) => /^(---|\+\+\+) /.test(l));
    expect(headers.length).toBe(2 * names.length);
    expect(r.stdout.split('\n').filter((l) => /^[-+ @\\]/.test(l) === false && l !== '')).toEqual([]);
    // (a name with a space ends in a tab, as git writes it)
    expect(headers).toContain('--- "a/proj/nl\\n+++ b/evil/requirements.txt"\t');
    expect(headers).toContain('+++ "b/proj/caf\\303\\251/requirements.txt"');
    expect(headers).toContain('--- a/proj/plain/requirements.txt');
    // the very headers git itself writes for these names (git diff, core.quotePath as it comes)
    const git = (...args: string[]) => run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: p.dir });
    expect((await git('init', '-q', '.')).code).toBe(0);
    expect((await git('add', 'proj')).code).toBe(0);
    expect((await git('commit', '-q', '-m', 'lockfiles')).code).toBe(0);
    writeFileSync(join(p.dir, 'x.diff'), r.stdout);
    const check = await git('apply', '--check', '--verbose', 'x.diff');
    expect(check.code, check.stderr).toBe(0);
    const applied = await git('apply', 'x.diff');
    expect(applied.code, applied.stderr).toBe(0);
    for (const n of names) expect(readFileSync(join(p.dir, n), 'utf8')).toBe(`-i ${PYPI}simple/\nrequests==2.31.0\n`);
    const own = await git('diff');
    expect(own.stdout.split('\n').filter((l) => /^(---|\+\+\+) /.test(l)).sort()).toEqual([...headers].sort());
  });

  it('a password in a URL written with escapes (`https:\\/\\/user:pw@…`, `\\u0040`: JSON, yarn and YAML read them as the URL) is shown as *** in the diff too, and stderr says the diff will not apply', async () => {
    const SECRET = 's3cretpw';
    const lock = (resolved: string) => `{\n  "name": "x",\n  "lockfileVersion": 3,\n  "packages": {\n    "": {"name": "x"},\n    "node_modules/a": {\n      "version": "1.0.0",\n      "resolved": "${resolved}",\n      "integrity": "sha512-AAAA"\n    },\n    "node_modules/b": {\n      "version": "1.0.0",\n      "resolved": "https:\\/\\/user:${SECRET}@registry.acme.example\\/b\\/-\\/b-1.0.0.tgz",\n      "integrity": "sha512-BBBB"\n    }\n  }\n}\n`;
    const p = project({
      'a/package-lock.json': lock(`https:\\/\\/user:${SECRET}@registry.npmjs.org\\/a\\/-\\/a-1.0.0.tgz`),
      'b/package-lock.json': lock(`https://user:${SECRET}\\u0040registry.npmjs.org/a/-/a-1.0.0.tgz`),
      'yarn.lock': `# yarn lockfile v1\n\n\na@^1.0.0:\n  version "1.0.0"\n  resolved "https:\\/\\/user:${SECRET}@registry.yarnpkg.com\\/a\\/-\\/a-1.0.0.tgz#abc"\n  integrity sha512-AAAA\n`,
      'pnpm-lock.yaml': `lockfileVersion: '9.0'\n\npackages:\n\n  a@1.0.0:\n    resolution: {integrity: sha512-AAAA, tarball: "https:\\/\\/user:${SECRET}\\x40registry.npmjs.org\\/a\\/-\\/a-1.0.0.tgz"}\n`,
    });
    const r = await rewrite(p);
    expect(r.code, r.stderr).toBe(0);
    // each file's URL moved (the diff is there), and its password nowhere
    for (const f of ['a/package-lock.json', 'b/package-lock.json', 'yarn.lock', 'pnpm-lock.yaml']) {
      expect(r.stdout).toContain(`+++ b/${f}`);
      expect(r.stderr).toContain(`${f}: credentials in its URLs are shown as ***`);
    }
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout).toContain('***');
  });

  it("a password in a yarn berry `__archiveUrl` (percent-encoded: `https%3A%2F%2Fuser%3Apw%40…`, which yarn decodes to the URL) is shown as *** in the diff too, and stderr says the diff will not apply", async () => {
    const SECRET = 's3cretpw';
    const archive = encodeURIComponent(`https://user:${SECRET}@registry.npmjs.org/a/-/a-1.0.0.tgz`);
    const p = project({ 'yarn.lock': `__metadata:\n  version: 8\n  cacheKey: 10c0\n\n"a@npm:^1.0.0":\n  version: 1.0.0\n  resolution: "a@npm:1.0.0::__archiveUrl=${archive}"\n  checksum: 10c0/aaaa\n  languageName: node\n  linkType: hard\n` });
    const r = await rewrite(p);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('+++ b/yarn.lock');
    expect(r.stdout).toContain(encodeURIComponent(`${NPM}a/-/a-1.0.0.tgz`));
    expect(r.stderr).toContain('yarn.lock: credentials in its URLs are shown as ***');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('a password in an index URL written with shlex escapes (`https:\\/\\/user:pw\\@…`, which pip reads as the URL) is shown as *** in the diff too', async () => {
    const SECRET = 's3cretpw';
    const p = project({ 'requirements.txt': `--index-url https:\\/\\/user:${SECRET}@pypi.org/simple\nrequests==2.31.0\n`, 'b/requirements.txt': `-i h\\ttps://user:${SECRET}@pypi.org/simple\nrequests==2.31.0\n` });
    const r = await rewrite(p);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['requirements.txt', 'b/requirements.txt']) {
      expect(r.stdout).toContain(`+++ b/${f}`);
      expect(r.stderr).toContain(`${f}: credentials in its URLs are shown as ***`);
    }
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('context lines of megabytes (a hostile lockfile: a word without a space or quote, a quote then escaped quotes) next to a moved URL: the diff is printed, its credential check of escaped strings ends', async () => {
    const long = `# ${'a'.repeat(4 * 1024 * 1024)}`;
    const quotes = `# "${'\\"'.repeat(1024 * 1024)}`;
    const p = project({ 'requirements.txt': `${long}\n${quotes}\n-i https://pypi.org/simple\nrequests==2.31.0\n` });
    const r = await rewrite(p);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(` ${long}\n ${quotes}\n--i https://pypi.org/simple\n+-i ${PYPI}simple/\n`);
  });

  it('on a terminal, escape sequences and bidi overrides in the lockfile are shown escaped; piped, and in the written file, they stay byte for byte', async () => {
    const before = '# \u001b]0;pwned\u0007 \u202etxt.evil\n-i https://pypi.org/simple\nrequests==2.31.0\n';
    const p = project({ 'requirements.txt': before });
    const tty = await rewrite(p, { tty: true });
    expect(tty.code, tty.stderr).toBe(0);
    expect(tty.stdout).not.toMatch(/[\u001b\u0007\u202e]/);
    expect(tty.stdout).toContain(' # \\u001b]0;pwned\\u0007 \\u202etxt.evil\n--i https://pypi.org/simple\n');
    const piped = await rewrite(p);
    expect(piped.stdout).toContain(` ${before.split('\n')[0]}\n`);
    expect((await rewrite(p, { write: true, tty: true })).code).toBe(0);
    expect(readFileSync(join(p.dir, 'requirements.txt'), 'utf8')).toBe(before.replace('https://pypi.org/simple', `${PYPI}simple/`));
  });
});
