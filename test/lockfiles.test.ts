/**
 * The edges of each lockfile format, on small inputs written from the formats'
 * documentation:
 * - package-lock: https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json
 * - yarn classic: https://classic.yarnpkg.com/en/docs/yarn-lock ; berry: https://yarnpkg.com/protocols
 * - pnpm: https://github.com/pnpm/spec/tree/master/lockfile
 * - requirements: https://pip.pypa.io/en/stable/reference/requirements-file-format/ , PEP 508
 * - poetry.lock: https://python-poetry.org/docs/basic-usage/#installing-with-poetrylock
 * - Pipfile.lock: https://pipenv.pypa.io/en/latest/pipfile.html
 * - uv.lock: https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile
 * - go.sum: https://go.dev/ref/mod#go-sum-files
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detect, mergeEntries, parseLockfile, parseLockfileText, parseLockfiles, type LockEntry } from '../src/lockfiles/index.js';
import { parseGoSum } from '../src/lockfiles/gosum.js';
import { jsonErrorOffset } from '../src/lockfiles/read.js';
import { MAX_CONTINUED_LINES, MAX_FIND_LINKS, MAX_REQUIREMENTS_ENTRIES, MAX_REQUIREMENTS_LINE, MAX_REQUIREMENTS_NOTES } from '../src/lockfiles/requirements.js';
import { firstBadLine } from '../src/lockfiles/yarn-classic.js';
import { InternalNames } from '../src/warm/internal.js';
import { planItems } from '../src/warm/items.js';
import { NpmStore } from '../src/warm/npm-store.js';
import { thrown } from './support/thrown.js';

const dir = mkdtempSync(join(tmpdir(), 'cam-lockfiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** Write `content` as `name` in a fresh folder; returns its path. */
function file(name: string, content: string): string {
  const p = join(dir, String(n++), name);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}
const sri = (c: string) => `sha512-${c.repeat(86)}==`;
const h64 = (c: string) => c.repeat(64);

const byName = (entries: LockEntry[], name: string, kind?: string) => entries.filter((e) => e.name === name && (!kind || e.kind === kind));

describe('package-lock.json', () => {
  const v3 = {
    name: 'root',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'root', workspaces: ['packages/*'], dependencies: { a: '1' } },
      'node_modules/a': { version: '1.0.0', resolved: 'https://registry.npmjs.org/a/-/a-1.0.0.tgz', integrity: sri('A') },
      'node_modules/b/node_modules/a': { version: '1.0.0', resolved: 'https://registry.npmjs.org/a/-/a-1.0.0.tgz', integrity: sri('A'), dev: true },
      'node_modules/@s/cjs': { name: '@s/real', version: '4.2.3', resolved: 'https://registry.npmjs.org/@s/real/-/real-4.2.3.tgz', integrity: sri('B') },
      'node_modules/b': { version: '2.0.0', resolved: 'https://registry.npmjs.org/b/-/b-2.0.0.tgz', integrity: sri('C'), devOptional: true, optional: true },
      'node_modules/b/node_modules/inner': { version: '0.1.0', inBundle: true },
      'node_modules/g': { version: '1.2.3', resolved: 'git+ssh://git@github.com/o/g.git#0123456789abcdef0123456789abcdef01234567', license: 'MIT' },
      'node_modules/t': { version: '1.0.0', resolved: 'file:vendor/t-1.0.0.tgz', integrity: sri('D') },
      'node_modules/u': { version: '3.0.0', resolved: 'https://example.com/downloads/u.tgz' },
      'node_modules/w': { resolved: 'packages/w', link: true },
      'packages/w': { name: 'w', version: '0.3.0' },
      'node_modules/l': { resolved: '../elsewhere/l', link: true },
      '../elsewhere/l': { version: '9.9.9' },
    },
  };

  it('v3: every kind, the alias with both names, bundled deps, flags; nested duplicates merged with both origins', () => {
    const p = file('package-lock.json', JSON.stringify(v3, null, 2));
    const r = parseLockfile(p);
    expect(r.formatVersion).toBe('3');
    const e = r.entries;
    expect(e.map((x) => `${x.kind}:${x.name}@${x.version}`).sort()).toEqual(
      ['registry:a@1.0.0', 'alias:@s/cjs@4.2.3', 'registry:b@2.0.0', 'registry:inner@0.1.0', 'git:g@1.2.3', 'file:t@1.0.0', 'url:u@3.0.0', 'workspace:w@0.3.0', 'link:l@9.9.9'].sort(),
    );
    const a = byName(e, 'a')[0]!;
    expect(a.from.map((o) => o.path)).toEqual(['packages["node_modules/a"]', 'packages["node_modules/b/node_modules/a"]']);
    // One production occurrence makes it a production package.
    expect(a.dev).toBeUndefined();
    // npm writes two-space indented JSON: the line of each key is known.
    expect(a.from[0]!.line).toBe(15);
    expect(byName(e, '@s/cjs')[0]).toMatchObject({ kind: 'alias', aliasFor: '@s/real', integrity: sri('B') });
    expect(byName(e, 'inner')[0]).toMatchObject({ bundled: true });
    expect(byName(e, 'b')[0]).toMatchObject({ devOptional: true, optional: true });
  });

  it('v2: reads `packages` and ignores the v1 tree kept for old npm', () => {
    const v2 = { ...v3, lockfileVersion: 2, dependencies: { a: { version: '1.0.0' }, ghost: { version: '6.6.6' } } };
    const e = parseLockfile(file('package-lock.json', JSON.stringify(v2))).entries;
    expect(byName(e, 'ghost')).toEqual([]);
    expect(e.length).toBe(9);
  });

  it('v1: nested dependencies, alias, git, file link and tarball, remote tarball, bundled', () => {
    const v1 = {
      lockfileVersion: 1,
      dependencies: {
        a: { version: '1.0.0', integrity: sri('A'), dependencies: { a: { version: '0.9.0', dev: true } } },
        cjs: { version: 'npm:string-width@4.2.3', resolved: 'https://registry.npmjs.org/string-width/-/string-width-4.2.3.tgz' },
        g: { version: 'github:o/g#0123456789abcdef0123456789abcdef01234567', from: 'github:o/g' },
        dir: { version: 'file:../dir' },
        tgz: { version: 'file:vendor/tgz-1.0.0.tgz' },
        remote: { version: 'https://example.com/r.tgz' },
        host: { version: '1.0.0', dependencies: { guest: { version: '2.0.0', bundled: true } } },
      },
    };
    const e = parseLockfile(file('npm-shrinkwrap.json', JSON.stringify(v1))).entries;
    expect(e.map((x) => `${x.kind}:${x.name}@${x.version}`)).toEqual([
      'registry:a@1.0.0', 'alias:cjs@4.2.3', 'git:g@github:o/g#0123456789abcdef0123456789abcdef01234567', 'link:dir@file:../dir',
      'file:tgz@file:vendor/tgz-1.0.0.tgz', 'url:remote@https://example.com/r.tgz', 'registry:host@1.0.0', 'registry:a@0.9.0', 'registry:guest@2.0.0',
    ]);
    expect(byName(e, 'cjs')[0]?.aliasFor).toBe('string-width');
    expect(byName(e, 'guest')[0]).toMatchObject({ bundled: true, from: [{ path: 'dependencies.host.dependencies.guest' }] });
  });

  it('v1: one version pinned twice in the file with other integrity keeps both pins; the warm checks the bytes against each and names the file', () => {
    const real = (text: string) => `sha512-${createHash('sha512').update(text).digest('base64')}`;
    const [S, T] = [real('the bytes'), real('other bytes')];
    const v1 = {
      lockfileVersion: 1,
      dependencies: {
        left: { version: '1.0.0', integrity: sri('L'), dependencies: { shared: { version: '2.0.0', integrity: S } } },
        right: { version: '1.0.0', integrity: sri('R'), dependencies: { shared: { version: '2.0.0', integrity: T } } },
      },
    };
    const path = file('twice/package-lock.json', JSON.stringify(v1));
    const parsed = parseLockfile(path);
    expect(byName(parsed.entries, 'shared')).toEqual([expect.objectContaining({ integrity: S, otherIntegrity: [T] })]);
    const { items } = planItems([{ ref: { path: 'twice/package-lock.json', format: 'npm', repository: null }, result: parsed }], new InternalNames());
    const shared = items.find((i) => i.name === 'shared')!;
    expect(shared.expected).toMatchObject({ integrity: S, otherIntegrity: [{ integrity: T, lockfiles: ['twice/package-lock.json'] }] });
    // bytes whose sha512 is the first pin's fail the second: the disagreement is named
    const verdict = new NpmStore({} as never, 'npm-store').check(shared, [{ name: 'package.tgz', sha512: Buffer.from(S.slice(7), 'base64').toString('hex') }]);
    expect(verdict).toMatchObject({ ok: false, detail: expect.stringMatching(/^lockfiles disagree on shared@2\.0\.0: .* in twice\/package-lock\.json$/) });
  });

  it('a malformed entry is named by its JSON path; bad JSON by the line where it breaks', () => {
    const bad = { lockfileVersion: 3, packages: { '': {}, 'node_modules/x': { resolved: 'https://r/x/-/x-1.tgz' } } };
    const p = file('package-lock.json', JSON.stringify(bad, null, 2));
    const err = thrown(() => parseLockfile(p));
    expect(err.code).toBe('ELOCKFILE');
    expect(err.message).toContain(`${p}:5 (packages["node_modules/x"].version)`);
    const q = file('package-lock.json', '{\n  "lockfileVersion": 3,\n  "packages": {\n    "": {},\n  }\n}\n');
    expect(thrown(() => parseLockfile(q)).message).toMatch(new RegExp(`^${q}:5: not valid JSON`));
    const u = file('package-lock.json', JSON.stringify({ lockfileVersion: 4, packages: {} }));
    expect(thrown(() => parseLockfile(u)).message).toContain('(lockfileVersion)');
  });

  it('a document that parses but is no lockfile names the line too, however it is indented (tabs, one line, a key given twice)', () => {
    // v1, tab-indented: the nested entry without a version, and the nested level that is no object
    const v1 = { lockfileVersion: 1, dependencies: { a: { version: '1.0.0', dependencies: { b: { version: '1.0.0', dependencies: { c: { resolved: 'https://r/c/-/c-1.tgz' } } } } } } };
    const p1 = file('package-lock.json', JSON.stringify(v1, null, '\t'));
    expect(thrown(() => parseLockfile(p1)).message).toMatch(new RegExp(`^${p1}:10 \\(dependencies\\.a\\.dependencies\\.b\\.dependencies\\.c\\.version\\): no version`));
    const notObject = { lockfileVersion: 1, dependencies: { a: { version: '1.0.0', dependencies: { b: { version: '1.0.0', dependencies: 'c' } } } } };
    const p2 = file('package-lock.json', JSON.stringify(notObject, null, 1));
    expect(thrown(() => parseLockfile(p2)).message).toMatch(new RegExp(`^${p2}:9 \\(dependencies\\.a\\.dependencies\\.b\\.dependencies\\): not an object`));
    // v3 with tabs (npm's own two spaces are found without this): the entry's line
    const v3 = { lockfileVersion: 3, packages: { '': {}, 'node_modules/y': { version: '1.0.0' }, 'node_modules/x': { resolved: 'https://r/x/-/x-1.tgz' } } };
    const p3 = file('package-lock.json', JSON.stringify(v3, null, '\t'));
    expect(thrown(() => parseLockfile(p3)).message).toContain(`${p3}:8 (packages["node_modules/x"].version)`);
    const p4 = file('package-lock.json', '{\n  "name": "x",\n  "lockfileVersion": 4,\n  "packages": {}\n}\n');
    expect(thrown(() => parseLockfile(p4)).message).toContain(`${p4}:3 (lockfileVersion): unsupported lockfileVersion 4`);
    // a key given twice: JSON.parse keeps the last, and so does the line
    const p5 = file('package-lock.json', '{"lockfileVersion": 3,\n"packages": {"": {}},\n"packages": 7}\n');
    expect(thrown(() => parseLockfile(p5)).message).toContain(`${p5}:3 (packages)`);
    // Pipfile.lock: a version not pinned, at its own line; a category that is no object
    const pip = { _meta: { sources: [] }, default: { requests: { hashes: [], version: '>=2' } }, develop: [] };
    const p6 = file('Pipfile.lock', JSON.stringify(pip, null, '\t'));
    expect(thrown(() => parseLockfile(p6)).message).toContain(`${p6}:8 (default["requests"].version): not pinned: ">=2"`);
    pip.default.requests.version = '==2.0.0';
    const p7 = file('Pipfile.lock', JSON.stringify(pip, null, '\t'));
    expect(thrown(() => parseLockfile(p7)).message).toContain(`${p7}:11 (develop): not an object`);
  });

  it('jsonErrorOffset finds where V8 gives no position ("Unexpected token")', () => {
    expect(jsonErrorOffset('{"a":}')).toBe(5);
    expect(jsonErrorOffset('{"a":tru}')).toBe(5);
    expect(jsonErrorOffset('{"a":"x\ny"}')).toBe(7);
    expect(jsonErrorOffset('{"a": [1, 2,]}')).toBe(12);
    expect(jsonErrorOffset('{"a":1} x')).toBe(8);
    expect(jsonErrorOffset('{"a":[1,{"b":null}]}')).toBe(20);
  });
});

describe('yarn.lock', () => {
  it('classic: one entry per block, every descriptor, alias, git, file, link; lines of each block', () => {
    const text = [
      '# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.',
      '# yarn lockfile v1',
      '',
      '',
      '"@s/a@^1.0.0", "@s/a@^1.1.0":',
      '  version "1.2.0"',
      '  resolved "https://registry.yarnpkg.com/@s/a/-/a-1.2.0.tgz#0123456789abcdef0123456789abcdef01234567"',
      `  integrity ${sri('A')}`,
      '',
      '"cjs@npm:string-width@^4.2.0":',
      '  version "4.2.3"',
      '  resolved "https://registry.yarnpkg.com/string-width/-/string-width-4.2.3.tgz#269c7117d27b05ad2e536830a8ec895ef9c6d010"',
      '',
      '"g@github:o/g#v1":',
      '  version "1.0.0"',
      '  resolved "https://codeload.github.com/o/g/tar.gz/0123456789abcdef0123456789abcdef01234567"',
      '',
      '"t@file:vendor/t.tgz":',
      '  version "1.0.0"',
      '  resolved "file:vendor/t.tgz#0123456789abcdef0123456789abcdef01234567"',
      '',
      '"l@link:../l":',
      '  version "0.0.0"',
      '  uid ""',
      '',
    ].join('\n');
    const r = parseLockfile(file('yarn.lock', text));
    expect(r.format).toBe('yarn-classic');
    expect(r.entries.map((x) => `${x.kind}:${x.name}@${x.version}:${x.from[0]!.line}`)).toEqual(['registry:@s/a@1.2.0:5', 'alias:cjs@4.2.3:10', 'git:g@1.0.0:14', 'file:t@1.0.0:18', 'link:l@0.0.0:22']);
    expect(r.entries[0]!.integrity).toBe(sri('A'));
    expect(r.entries[1]).toMatchObject({ aliasFor: 'string-width', integrity: `sha1-${Buffer.from('269c7117d27b05ad2e536830a8ec895ef9c6d010', 'hex').toString('base64')}` });
    // A file: tarball's fragment is no registry shasum.
    expect(r.entries[3]!.integrity).toBeUndefined();
  });

  it('classic: a syntax error names the line; a merge conflict left in the file is an error', () => {
    const p = file('yarn.lock', '# yarn lockfile v1\n\nfoo@^1:\n  version "1.0.0"\n  bar: {\n');
    expect(thrown(() => parseLockfile(p)).message).toMatch(new RegExp(`^${p}:5: `));
    // The line finder that corrects yarn's (one short after a blank line) passes every real yarn.lock.
    for (const f of ['express/yarn-classic/yarn.lock', 'mono/yarn-classic/yarn.lock', 'combined-stream/yarn.lock']) {
      expect(firstBadLine(readFileSync(join(import.meta.dirname, 'fixtures', 'lockfiles', f), 'utf8')), f).toBeUndefined();
    }
    const c = file('yarn.lock', '# yarn lockfile v1\n\n<<<<<<< HEAD\nfoo@^1:\n  version "1.0.0"\n=======\nfoo@^1:\n  version "1.1.0"\n>>>>>>> other\n');
    const r = parseLockfile(c);
    expect(r.warnings[0]?.message).toMatch(/merge conflict/);
  });

  it('berry: checksum is yarn cache checksum (never npm integrity); workspace, patch, portal, git, alias; the root is not an entry', () => {
    const text = `# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 8
  cacheKey: 10c0

"root@workspace:.":
  version: 0.0.0-use.local
  resolution: "root@workspace:."
  languageName: unknown
  linkType: soft

"@s/w@workspace:packages/w":
  version: 1.0.0
  resolution: "@s/w@workspace:packages/w"
  languageName: unknown
  linkType: soft

"real@npm:^1.0.0, cjs@npm:real@^1.0.0":
  version: 1.0.1
  resolution: "real@npm:1.0.1"
  checksum: 10c0/${'ab'.repeat(64)}
  languageName: node
  linkType: hard

"only-alias@npm:other@^2":
  version: 2.0.0
  resolution: "other@npm:2.0.0"
  checksum: ${'cd'.repeat(64)}
  languageName: node
  linkType: hard

"resolve@patch:resolve@npm%3A^1.22.0#optional!builtin<compat/resolve>":
  version: 1.22.8
  resolution: "resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d"
  languageName: node
  linkType: hard

"p@portal:../p::locator=root%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "p@portal:../p::locator=root%40workspace%3A."
  languageName: node
  linkType: soft

"g@https://github.com/o/g.git#commit=0123456789abcdef":
  version: 3.0.0
  resolution: "g@https://github.com/o/g.git#commit=0123456789abcdef"
  languageName: node
  linkType: hard

"x@exotic:thing":
  version: 1.0.0
  resolution: "x@exotic:thing"
  languageName: node
  linkType: hard
`;
    const r = parseLockfile(file('yarn.lock', text));
    expect(r.format).toBe('yarn-berry');
    expect(r.formatVersion).toBe('8');
    expect(r.entries.map((x) => `${x.kind}:${x.name}@${x.version}`)).toEqual([
      'workspace:@s/w@1.0.0', 'registry:real@1.0.1', 'alias:cjs@1.0.1', 'alias:only-alias@2.0.0', 'patch:resolve@1.22.8', 'link:p@0.0.0-use.local', 'git:g@3.0.0',
    ]);
    const real = r.entries[1]!;
    expect(real.integrity).toBeUndefined();
    expect(real.yarnChecksum).toBe(`10c0/${'ab'.repeat(64)}`);
    expect(real.from[0]!.line).toBe(19);
    expect(r.entries[2]).toMatchObject({ aliasFor: 'real', yarnChecksum: real.yarnChecksum });
    expect(r.entries[3]).toMatchObject({ aliasFor: 'other' });
    expect(r.warnings.map((w) => w.message)).toEqual([expect.stringContaining('unknown protocol')]);
  });

  it('berry: a YAML error names the line', () => {
    const p = file('yarn.lock', '__metadata:\n  version: 6\n\n"a@npm:1":\n  version: 1\n   bad: x\n y\n');
    const err = thrown(() => parseLockfile(p));
    expect(err.code).toBe('ELOCKFILE');
    expect(err.message).toMatch(new RegExp(`^${p}:6: `));
  });
});

describe('pnpm-lock.yaml', () => {
  it('an alias to no anchor, or a YAML alias bomb, is ELOCKFILE at the alias, never an uncoded ReferenceError', () => {
    const dangling = file('pnpm-lock.yaml', "lockfileVersion: '9.0'\n\npackages:\n\n  a@1.0.0:\n    resolution: {integrity: sha512-AAAA}\n    engines: *engines\n");
    expect(thrown(() => parseLockfile(dangling))).toMatchObject({ code: 'ELOCKFILE', message: expect.stringMatching(new RegExp(`^${dangling}:7: the YAML cannot be expanded: Unresolved alias`)) });
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(10).fill(`*${'abcdefghi'[i - 1]}`).join(',')}]`);
    const bomb = file('pnpm-lock.yaml', `lockfileVersion: '9.0'\n${levels.join('\n')}\n`);
    expect(thrown(() => parseLockfile(bomb))).toMatchObject({ code: 'ELOCKFILE', message: expect.stringMatching(new RegExp(`^${bomb}:3: the YAML cannot be expanded: Excessive alias count`)) });
  });

  it('5.x: `/name/version_peers` keys, scoped names, dev flags, git and tarball resolutions, top-level importer fields', () => {
    const text = `lockfileVersion: 5.3

specifiers:
  react-dom: 18.2.0

dependencies:
  react-dom: 18.2.0_react@18.2.0
  cjs: /string-width/4.2.3

packages:

  /react-dom/18.2.0_react@18.2.0:
    resolution: {integrity: ${sri('A')}}
    dev: false

  /@types/react/18.0.0_@types+scheduler@0.16.2:
    resolution: {integrity: ${sri('B')}}
    dev: true

  /string-width/4.2.3:
    resolution: {integrity: ${sri('C')}}
    dev: false

  github.com/o/g/0123456789abcdef:
    resolution: {tarball: https://codeload.github.com/o/g/tar.gz/0123456789abcdef}
    name: g
    version: 1.0.0
    dev: false

  registry.example.com/priv/1.0.0:
    resolution: {integrity: ${sri('D')}, tarball: https://registry.example.com/priv/-/priv-1.0.0.tgz}
    name: priv
    version: 1.0.0
    dev: false
`;
    const r = parseLockfile(file('pnpm-lock.yaml', text));
    expect(r.entries.map((x) => `${x.kind}:${x.name}@${x.version}`)).toEqual(['registry:react-dom@18.2.0', 'registry:@types/react@18.0.0', 'registry:string-width@4.2.3', 'git:g@1.0.0', 'registry:priv@1.0.0', 'alias:cjs@4.2.3']);
    expect(r.entries[1]).toMatchObject({ dev: true, from: [{ line: 16 }] });
  });

  it('6.0: nested peer suffixes; two peer sets of one version are one entry with both origins; git and directory resolutions', () => {
    const text = `lockfileVersion: '6.0'

packages:

  /@s/x@1.0.0(@s/y@2.0.0(z@3.0.0))(w@1.0.0):
    resolution: {integrity: ${sri('A')}}
    dev: false

  /@s/x@1.0.0(w@2.0.0):
    resolution: {integrity: ${sri('A')}}
    dev: true

  github.com/o/g/abc:
    resolution: {type: git, repo: https://github.com/o/g.git, commit: abc}
    name: g
    version: 0.1.0

  file:../d:
    resolution: {directory: ../d, type: directory}
    name: d
    version: 0.0.1
`;
    const e = parseLockfile(file('pnpm-lock.yaml', text)).entries;
    expect(e.map((x) => `${x.kind}:${x.name}@${x.version}`)).toEqual(['registry:@s/x@1.0.0', 'git:g@0.1.0', 'file:d@0.0.1']);
    expect(e[0]!.from.map((o) => o.line)).toEqual([5, 9]);
    expect(e[0]!.dev).toBeUndefined();
    expect(e[1]!.resolved).toBe('https://github.com/o/g.git#abc');
  });

  it('9.0: `packages` without peers, `snapshots` with them; optional from the snapshot; non-semver versions in keys', () => {
    const text = `lockfileVersion: '9.0'

importers:

  .:
    dependencies:
      '@s/x':
        specifier: ^1.0.0
        version: 1.0.0(react@18.2.0)
      alias-of-scoped:
        specifier: npm:@s/x@^1.0.0
        version: '@s/x@1.0.0(react@18.2.0)'
      g:
        specifier: github:o/g
        version: git+https://github.com/o/g.git#abc
      h:
        specifier: github:o/h#def
        version: git+https://git@github.com:o/h.git#def

packages:

  '@s/x@1.0.0':
    resolution: {integrity: ${sri('A')}}
    peerDependencies:
      react: '*'

  g@git+https://github.com/o/g.git#abc:
    resolution: {commit: abc, repo: https://github.com/o/g.git, type: git}
    version: 2.0.0

  h@git+https://git@github.com:o/h.git#def:
    resolution: {commit: def, repo: git@github.com:o/h.git, type: git}
    version: 3.0.0

snapshots:

  '@s/x@1.0.0(react@18.2.0)':
    optional: true

  '@s/x@1.0.0(react@17.0.2)':
    optional: true

  g@git+https://github.com/o/g.git#abc: {}

  h@git+https://git@github.com:o/h.git#def: {}
`;
    const e = parseLockfile(file('pnpm-lock.yaml', text)).entries;
    // h's version holds an "@" (the ssh login, as pnpm 9 writes a Dependabot git dependency): a git entry, never an alias of "git+https://git"
    expect(e.map((x) => `${x.kind}:${x.name}@${x.version}`)).toEqual(['registry:@s/x@1.0.0', 'git:g@2.0.0', 'git:h@3.0.0', 'alias:alias-of-scoped@1.0.0']);
    expect(e[0]!.optional).toBe(true);
    expect(e[3]!.aliasFor).toBe('@s/x');
  });

  it('a YAML error or an entry without a resolution names the line', () => {
    const p = file('pnpm-lock.yaml', "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {integrity: x\n  b@1.0.0: {}\n");
    expect(thrown(() => parseLockfile(p)).message).toMatch(new RegExp(`^${p}:\\d+: not valid YAML`));
    const q = file('pnpm-lock.yaml', "lockfileVersion: '9.0'\n\npackages:\n\n  a@1.0.0:\n    engines: {node: '>=8'}\n");
    expect(thrown(() => parseLockfile(q)).message).toContain(`${q}:5 (packages["a@1.0.0"].resolution)`);
  });
});

describe('requirements files', () => {
  const root = join(import.meta.dirname, 'fixtures', 'lockfiles', 'handmade', 'requirements', 'requirements.txt');

  it('pins, several hashes per requirement across continuation lines, markers, extras, arbitrary equality, PEP 503 names', () => {
    const e = parseLockfile(root).entries;
    const certifi = e.find((x) => x.name === 'certifi')!;
    expect(certifi).toMatchObject({ version: '2024.2.2', kind: 'registry', from: [{ line: 9 }] });
    expect(certifi.hashes).toEqual([`sha256:${h64('0').slice(0, 63)}1`, `sha256:${h64('0').slice(0, 63)}2`]);
    expect(e.find((x) => x.name === 'requests')).toMatchObject({ extras: ['socks'], marker: 'python_version >= "3.7"', hashes: [expect.stringMatching(/^sha256:/)] });
    expect(e.find((x) => x.name === 'Django')).toMatchObject({ version: '4.2.7' });
    expect(e.find((x) => x.name === 'zope.interface')).toMatchObject({ normalizedName: 'zope-interface', hashes: [expect.any(String), expect.any(String)] });
    expect(e.find((x) => x.name === 'typing_extensions')).toMatchObject({ normalizedName: 'typing-extensions', marker: 'python_version < "3.8"' });
  });

  it('a line ending in "\\" continues as pip reads it even after a comment (pip joins first, then cuts the comment): what follows is no requirement or option', () => {
    // pip 23 req_file.preprocess: join_lines, then ignore_comments. pip sees requests and flask, nothing else
    const text = ['requests==2.31.0 # pinned for a CVE \\', '--index-url https://pypi.corp.example/simple/', 'flask==3.0.0 # note \\', 'evilpkg==6.6.6', '# a comment line \\', 'six==1.16.0', ''].join('\n');
    const r = parseLockfileText('requirements', text, 'requirements.txt');
    expect(r.entries.map((e) => [e.name, e.version, e.resolved, e.from[0]!.line])).toEqual([
      ['requests', '2.31.0', undefined, 1],
      ['flask', '3.0.0', undefined, 3],
      ['six', '1.16.0', undefined, 6],
    ]);
  });

  it('includes relative to the including file, a diamond read once, constraints flagged, names merged by PEP 503', () => {
    const r = parseLockfile(root);
    const charset = r.entries.filter((x) => x.normalizedName === 'charset-normalizer');
    expect(charset).toHaveLength(1);
    expect(charset[0]!.from.map((o) => o.file.split('/').slice(-1)[0])).toEqual(['common.txt', 'base.txt']); // base.txt includes common.txt before its own lines
    expect(r.entries.find((x) => x.name === 'PySocks')!.from[0]!.file).toMatch(/nested\/extra\.txt$/);
    expect(r.entries.find((x) => x.name === 'setuptools')).toMatchObject({ constraint: true });
    // urllib3 is both required (common.txt) and constrained: a requirement.
    expect(r.entries.find((x) => x.name === 'urllib3')?.constraint).toBeUndefined();
  });

  it('VCS, editable paths, local wheels and direct references are not registry entries; unpinned lines are warnings', () => {
    const r = parseLockfile(root);
    expect(r.entries.find((x) => x.name === 'black')).toMatchObject({ kind: 'git', version: '23.12.1', resolved: 'git+https://github.com/psf/black.git@23.12.1#egg=black' });
    expect(r.entries.find((x) => x.kind === 'link')).toMatchObject({ name: './local/editable-project' });
    expect(r.entries.find((x) => x.kind === 'file')).toMatchObject({ name: 'local_pkg', version: '1.0.0' });
    expect(r.entries.find((x) => x.name === 'pip')).toMatchObject({ kind: 'url', version: '23.3.2' });
    // and another index beside PyPI: its pins may come from there, which the warm must say
    expect(r.warnings.map((w) => w.line)).toEqual([4, 22, 23]);
    expect(r.warnings[0]!.message).toMatch(/^--extra-index-url https:\/\/example\.invalid\/simple: pip takes each name from whichever index/);
  });

  it('an include cycle is an error at the line that closes it', () => {
    const a = join(import.meta.dirname, 'fixtures', 'lockfiles', 'handmade', 'cycle', 'requirements-a.txt');
    const err = thrown(() => parseLockfile(a));
    expect(err.code).toBe('ELOCKFILE');
    expect(err.message).toMatch(/cycle\/requirements-c\.txt:3: -r requirements-a\.txt includes itself/);
  });

  it('a missing include, a bad hash and a line that is no requirement name their file and line', () => {
    const m = file('requirements.txt', 'a==1\n\n-r missing.txt\n');
    expect(thrown(() => parseLockfile(m)).message).toMatch(new RegExp(`^${m}:3: -r missing\\.txt: no such file`));
    const h = file('requirements.txt', 'a==1 \\\n  --hash=sha256\n');
    expect(thrown(() => parseLockfile(h)).message).toMatch(new RegExp(`^${h}:1: --hash`));
    const b = file('requirements.txt', '# ok\n==1.0\n');
    expect(thrown(() => parseLockfile(b)).message).toMatch(new RegExp(`^${b}:2: not a requirement`));
  });

  it('a hash quoted or abbreviated as pip reads it (shlex, optparse) is that hash; a quote left open is the line\'s error', () => {
    // pip splits a requirement's options with shlex: `--hash="sha256:…"`, `--hash 'sha256:…'` and `--has=…` are hashes
    const p = file('requirements.txt', `a==1 --hash="sha256:${h64('a')}"\nb==1 --hash 'sha256:${h64('b')}' \\\n  --hash="sha256:${h64('c')}"\nc==1 --has=sha256:${h64('d')}\n`);
    const e = parseLockfile(p).entries;
    expect(e.map((x) => [x.name, x.version, x.hashes])).toEqual([
      ['a', '1', [`sha256:${h64('a')}`]],
      ['b', '1', [`sha256:${h64('b')}`, `sha256:${h64('c')}`]],
      ['c', '1', [`sha256:${h64('d')}`]],
    ]);
    const open = file('requirements.txt', `a==1\nb==1 --hash="sha256:${h64('b')}\n`);
    expect(thrown(() => parseLockfile(open)).message).toMatch(new RegExp(`^${open}:2: .*no closing quotation`));
  });

  it('a hostile requirements file is bounded: options (of a requirement or an option line) of more than MAX_REQUIREMENTS_LINE characters besides white space, a line continued over more than MAX_CONTINUED_LINES lines, is ELOCKFILE at its line (20 MB of options took 4 GB and died); notes past MAX_REQUIREMENTS_NOTES are counted, not kept', () => {
    // one requirement whose options are a single word of a quarter MiB and more: refused at its line
    const long = file('requirements.txt', `a==1\nb==1 --hash=sha256:${'a'.repeat(MAX_REQUIREMENTS_LINE)}\n`);
    const e = thrown(() => parseLockfile(long));
    expect(e.code).toBe('ELOCKFILE');
    expect(e.message).toMatch(new RegExp(`^${long}:2: options of ${(MAX_REQUIREMENTS_LINE + '--hash=sha256:'.length).toLocaleString('en-US')} characters besides white space`));
    // joined from continuation lines, it is the line it starts at; a short option a word, the same
    const joined = file('requirements.txt', `a==1 \\\n${'  --hash=sha256:0 \\\n'.repeat(MAX_REQUIREMENTS_LINE / 8)}\n`);
    expect(thrown(() => parseLockfile(joined)).message).toMatch(new RegExp(`^${joined}:1: options of [\\d,]+ characters besides white space`));
    const opts = file('requirements.txt', `${'-Q '.repeat(MAX_REQUIREMENTS_LINE / 2 + 1)}\n`);
    expect(thrown(() => parseLockfile(opts)).message).toMatch(new RegExp(`^${opts}:1: options of `));
    // continued over a million empty lines: its pieces were all kept
    const continued = file('requirements.txt', `a==1\nb==1 ${'\\\n'.repeat(MAX_CONTINUED_LINES)}\n`);
    expect(thrown(() => parseLockfile(continued)).message).toMatch(new RegExp(`^${continued}:2: a line continued over ${(MAX_CONTINUED_LINES + 1).toLocaleString('en-US')} lines`));
    // white space is free: pip reads any amount of it (lockfiles-hostile: 2 MiB of spaces)
    expect(parseLockfile(file('requirements.txt', `a==1 ${' '.repeat(MAX_REQUIREMENTS_LINE * 2)}--hash=sha256:${h64('a')}\n`)).entries[0]!.hashes).toEqual([`sha256:${h64('a')}`]);
    // a quarter of a million unknown options, each its own line: the first notes kept, the rest counted
    const noisy = file('requirements.txt', `${'--frobnicate\n'.repeat(250_000)}a==1\n`);
    const r = parseLockfile(noisy);
    expect(r.entries.map((x) => x.name)).toEqual(['a']);
    expect(r.warnings.length).toBe(MAX_REQUIREMENTS_NOTES + 1);
    expect(r.warnings.at(-1)!.message).toMatch(new RegExp(`^${(250_000 - MAX_REQUIREMENTS_NOTES).toLocaleString('en-US')} more notes of this file left out`));
  });

  it('more than MAX_REQUIREMENTS_ENTRIES requirements in a file and its includes is ELOCKFILE at the first one past it: 64 MiB of `aN==1` lines made 5.6 million entries and 2.7 GB', () => {
    const pins = (from: number, n: number) => Array.from({ length: n }, (_, i) => `p${from + i}==1\n`).join('');
    const at = file('requirements.txt', pins(0, MAX_REQUIREMENTS_ENTRIES));
    expect(parseLockfile(at).entries).toHaveLength(MAX_REQUIREMENTS_ENTRIES);
    // split over an include, the count is the file's and its includes' together
    const top = file('requirements.txt', `-r base.txt\n${pins(MAX_REQUIREMENTS_ENTRIES, 2)}`);
    writeFileSync(join(dirname(top), 'base.txt'), pins(0, MAX_REQUIREMENTS_ENTRIES - 1));
    const e = thrown(() => parseLockfile(top));
    expect(e.code).toBe('ELOCKFILE');
    expect(e.message).toMatch(new RegExp(`^${top}:3: more than ${MAX_REQUIREMENTS_ENTRIES.toLocaleString('en-US')} requirements`));
  });

  it('--find-links lines are bounded too: 1.7 million of one location made as many notes at once (2.4 GB, 11 s); one note per location, ELOCKFILE past MAX_FIND_LINKS of them', () => {
    const same = file('requirements.txt', `a==1\n${'-f https://wheels.corp.example/simple\n'.repeat(200_000)}`);
    const r = parseLockfile(same);
    expect(r.entries.map((e) => e.name)).toEqual(['a']);
    expect(r.warnings.map((w) => `${w.line}: ${w.message.slice(0, 52)}`)).toEqual(['2: --find-links https://wheels.corp.example/simple: pip']);
    const many = file('requirements.txt', Array.from({ length: MAX_FIND_LINKS + 1 }, (_, i) => `--find-links https://wheels.corp.example/${i}/\n`).join(''));
    const e = thrown(() => parseLockfile(many));
    expect(e.code).toBe('ELOCKFILE');
    expect(e.message).toMatch(new RegExp(`^${many}:${MAX_FIND_LINKS + 1}: more than ${MAX_FIND_LINKS.toLocaleString('en-US')} --find-links locations`));
  });

  it('comments, remote includes, unknown options', () => {
    const p = file('requirements-dev.txt', 'a==1 # pinned\n# b==2\n-r https://example.com/r.txt\n--frobnicate\n-i https://pypi.org/simple\nc[x, y] == 3.0 ; sys_platform == "linux"\n');
    const r = parseLockfile(p);
    expect(r.entries.map((x) => `${x.name}@${x.version}`)).toEqual(['a@1', 'c@3.0']);
    expect(r.entries[1]).toMatchObject({ extras: ['x', 'y'], marker: 'sys_platform == "linux"', from: [{ line: 6 }] });
    expect(r.warnings.map((w) => w.line)).toEqual([3, 4]);
  });
});

describe('poetry.lock, Pipfile.lock, uv.lock', () => {
  const hand = join(import.meta.dirname, 'fixtures', 'lockfiles', 'handmade');

  it('poetry: files hashes, dev category, optional, legacy index as registry, git/url/file/directory', () => {
    const e = parseLockfile(join(hand, 'poetry', 'poetry.lock')).entries;
    expect(e.find((x) => x.name === 'certifi')).toMatchObject({ kind: 'registry', hashes: [expect.stringMatching(/^sha256:/), expect.stringMatching(/^sha256:/)], from: [{ line: 4, path: 'package[0]' }] });
    expect(e.find((x) => x.name === 'pytest')?.dev).toBe(true);
    expect(e.find((x) => x.name === 'PySocks')).toMatchObject({ optional: true, normalizedName: 'pysocks' });
    expect(e.find((x) => x.name === 'internal-lib')).toMatchObject({ kind: 'registry', resolved: 'https://pypi.example.invalid/simple' });
    expect(e.find((x) => x.name === 'black')).toMatchObject({ kind: 'git', resolved: 'https://github.com/psf/black.git#e11eaf2f44d3db5713fb99bdec966ba974b60c8c' });
    expect(e.find((x) => x.name === 'sibling')?.kind).toBe('link');
  });

  it('poetry < 1.2: hashes under [metadata.files]; groups (poetry 2) without main are dev', () => {
    const p = file('poetry.lock', `[[package]]\nname = "Foo_Bar"\nversion = "1.0"\noptional = false\npython-versions = "*"\n\n[[package]]\nname = "t"\nversion = "2"\ngroups = ["test"]\n\n[metadata]\nlock-version = "1.1"\n\n[metadata.files]\nFoo_Bar = [\n    {file = "Foo_Bar-1.0.tar.gz", hash = "sha256:${h64('a')}"},\n]\n`);
    const e = parseLockfile(p).entries;
    expect(e[0]).toMatchObject({ normalizedName: 'foo-bar', hashes: [`sha256:${h64('a')}`], from: [{ line: 1 }] });
    expect(e[1]).toMatchObject({ dev: true, from: [{ line: 7 }] });
  });

  it('uv: sdist and wheel hashes, every source type, the project itself left out', () => {
    const e = parseLockfile(join(hand, 'uv', 'uv.lock')).entries;
    expect(e.find((x) => x.name === 'app')).toBeUndefined();
    expect(e.find((x) => x.name === 'app-plugin')).toMatchObject({ kind: 'workspace', resolved: 'packages/plugin' });
    expect(e.find((x) => x.name === 'anyio')?.hashes).toHaveLength(2);
    expect(e.find((x) => x.name === 'Sniffio')).toMatchObject({ normalizedName: 'sniffio', hashes: [expect.any(String)] });
    expect(e.find((x) => x.name === 'black')?.kind).toBe('git');
    expect(e.find((x) => x.name === 'remote')).toMatchObject({ kind: 'url', hashes: [`sha256:${'0'.repeat(63)}7`] });
  });

  it('Pipfile.lock: a package in both default and develop is one production entry; git and editable path entries', () => {
    const lock = {
      _meta: { hash: { sha256: 'x' }, 'pipfile-spec': 6, requires: {}, sources: [] },
      default: {
        requests: { hashes: [`sha256:${h64('a')}`], index: 'pypi', markers: "python_version >= '3.7'", version: '==2.31.0' },
        mine: { editable: true, path: '.' },
        g: { git: 'https://github.com/o/g.git', ref: 'abc' },
      },
      develop: { requests: { hashes: [`sha256:${h64('b')}`], version: '==2.31.0' }, pytest: { version: '==8.0.0' } },
    };
    const r = parseLockfile(file('Pipfile.lock', JSON.stringify(lock, null, 4)));
    expect(r.entries.map((x) => `${x.kind}:${x.name}@${x.version}`)).toEqual(['registry:requests@2.31.0', 'link:mine@', 'git:g@abc', 'registry:pytest@8.0.0']);
    const req = r.entries[0]!;
    expect(req.dev).toBeUndefined();
    expect(req.marker).toBeUndefined(); // unconditional in develop: the union of conditions is "always"
    expect(req.hashes).toEqual([`sha256:${h64('a')}`, `sha256:${h64('b')}`]);
    expect(req.from.map((o) => o.line)).toEqual([11, 29]);
    expect(r.entries[3]!.dev).toBe(true);
  });

  it('a TOML error names the line', () => {
    const p = file('uv.lock', 'version = 1\n\n[[package]]\nname = "a"\nversion = 1.0.0\n');
    expect(thrown(() => parseLockfile(p)).message).toMatch(new RegExp(`^${p}:5: not valid TOML`));
    const q = file('poetry.lock', '[[package]]\nname = "a"\n');
    expect(thrown(() => parseLockfile(q)).message).toContain(`${q}:1 (package[0].version)`);
  });
});

describe('go.sum', () => {
  it('one entry per module version with both hashes; a bad line is ELOCKFILE here and still ECONFIG for the job check', () => {
    const p = file('go.sum', `golang.org/x/mod v0.8.0 h1:${'A'.repeat(43)}=\ngolang.org/x/mod v0.8.0/go.mod h1:${'B'.repeat(43)}=\ngolang.org/x/sys v0.5.0/go.mod h1:${'C'.repeat(43)}=\n`);
    const e = parseLockfile(p).entries;
    expect(e).toHaveLength(2);
    expect(e[0]).toMatchObject({ ecosystem: 'go', name: 'golang.org/x/mod', version: 'v0.8.0', h1: `h1:${'A'.repeat(43)}=`, goModH1: `h1:${'B'.repeat(43)}=` });
    expect(e[1]!.h1).toBeUndefined();
    const bad = file('go.sum', `a v1 h1:x=\nnot a line at all\n`);
    expect(thrown(() => parseLockfile(bad))).toMatchObject({ code: 'ELOCKFILE', message: expect.stringMatching(new RegExp(`^${bad}:2: `)) });
    expect(thrown(() => parseGoSum(bad)).code).toBe('ECONFIG');
  });
});

describe('detect', () => {
  it('by name, and by content where the name does not say', () => {
    expect(detect('/x/package-lock.json', '')).toBe('npm');
    expect(detect('/x/npm-shrinkwrap.json', '')).toBe('npm');
    expect(detect('/x/pnpm-lock.yaml', '')).toBe('pnpm');
    expect(detect('/x/requirements.txt', '')).toBe('requirements');
    expect(detect('/x/requirements-dev.txt', '')).toBe('requirements');
    expect(detect('/x/dev-requirements.in', '')).toBe('requirements');
    expect(detect('/x/requirements/base.txt', '')).toBe('requirements');
    expect(detect('/x/constraints.txt', '')).toBe('requirements');
    expect(detect('/x/poetry.lock', '')).toBe('poetry');
    expect(detect('/x/Pipfile.lock', '')).toBe('pipfile');
    expect(detect('/x/uv.lock', '')).toBe('uv');
    expect(detect('/x/go.sum', '')).toBe('gosum');
    expect(detect('/x/yarn.lock', '# yarn lockfile v1\n')).toBe('yarn-classic');
    expect(detect('/x/yarn.lock', '# generated\n\n__metadata:\n  version: 8\n')).toBe('yarn-berry');
    expect(detect('/x/old.json', '{\n  "lockfileVersion": 1\n}')).toBe('npm');
    expect(detect('/x/lock.json', '{\n  "_meta": {}\n}')).toBe('pipfile');
    expect(detect('/x/lock.yaml', "lockfileVersion: '9.0'\n")).toBe('pnpm');
    expect(detect('/x/a.lock', 'version = 1\nrevision = 2\nrequires-python = ">=3.9"\n\n[[package]]\n')).toBe('uv');
    expect(detect('/x/b.lock', '# This file is automatically @generated by Poetry\n\n[[package]]\n')).toBe('poetry');
    expect(detect('/x/c.sum', `golang.org/x/mod v0.8.0 h1:${'A'.repeat(43)}=\n`)).toBe('gosum');
    expect(detect('/x/README.md', '# hello\n')).toBeUndefined();
  });
});

describe('several files, limits', () => {
  it('one malformed file is reported with its coded error; the others are parsed and deduplicated across formats', () => {
    const npm = file('package-lock.json', JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/a': { version: '1.0.0', integrity: sri('A'), dev: true } } }, null, 2));
    const bad = file('pnpm-lock.yaml', "lockfileVersion: '9.0'\npackages: [\n");
    const yarn = file('yarn.lock', `# yarn lockfile v1\n\na@^1:\n  version "1.0.0"\n  resolved "https://registry.yarnpkg.com/a/-/a-1.0.0.tgz"\n  integrity ${sri('A')}\n`);
    const unknown = file('notes.txt', 'hello\n');
    const r = parseLockfiles([npm, bad, yarn, unknown]);
    expect(r.files.map((f) => f.file)).toEqual([npm, yarn]);
    expect(r.errors.map((x) => [x.file, x.error.code])).toEqual([
      [bad, 'ELOCKFILE'],
      [unknown, 'ELOCKFILE'],
    ]);
    expect(r.errors[0]!.error.message).toMatch(new RegExp(`^${bad}:\\d+: `));
    expect(r.entries).toHaveLength(1);
    expect(r.entries[0]!.from.map((o) => o.file)).toEqual([npm, yarn]);
    // The yarn.lock uses it in production.
    expect(r.entries[0]!.dev).toBeUndefined();
  });

  it('a file over the size limit is refused before it is read', () => {
    const big = file('package-lock.json', JSON.stringify({ lockfileVersion: 3, packages: {} }).padEnd(2048, ' '));
    expect(thrown(() => parseLockfile(big, { maxBytes: 1024 })).code).toBe('ETOOLARGE');
    expect(thrown(() => parseLockfile(join(dir, 'nope', 'package-lock.json'))).code).toBe('ELOCKFILE');
  });

  it('mergeEntries keeps kinds apart, never changes its inputs, and unions hashes', () => {
    const a: LockEntry = { ecosystem: 'pypi', name: 'A_b', normalizedName: 'a-b', version: '1', kind: 'registry', hashes: ['sha256:1'], dev: true, from: [{ file: 'x' }] };
    const b: LockEntry = { ...a, name: 'a.b', hashes: ['sha256:2'], from: [{ file: 'y' }] };
    const g: LockEntry = { ...a, kind: 'git', from: [{ file: 'z' }] };
    const m = mergeEntries([[a], [b, g]]);
    expect(m).toHaveLength(2);
    expect(m[0]).toMatchObject({ name: 'A_b', hashes: ['sha256:1', 'sha256:2'], dev: true, from: [{ file: 'x' }, { file: 'y' }] });
    expect(a.hashes).toEqual(['sha256:1']);
    expect(a.from).toEqual([{ file: 'x' }]);
  });

  it('20 000 nested copies of one package collapse into its versions, every copy kept as an origin', () => {
    const packages: Record<string, unknown> = { '': {} };
    for (let i = 0; i < 20_000; i++) packages[`node_modules/p${i}/node_modules/q`] = { version: `1.0.${i % 50}`, integrity: sri('A'), resolved: 'https://r/q/-/q-1.0.0.tgz' };
    const p = file('package-lock.json', JSON.stringify({ lockfileVersion: 3, packages }, null, 2));
    const e = parseLockfile(p).entries;
    expect(e).toHaveLength(50);
    expect(e[0]!.from).toHaveLength(400);
  });
});
