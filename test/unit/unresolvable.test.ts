/** How npm specs, Requires-Dist lines and go.mod replaces are judged resolvable from a registry (EUNRESOLVABLEDEP). */
import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, registerSecret } from '../../src/redact.js';
import { depLine, goUnresolvable, MAX_PER_VERSION, summaryDependencies, npmSpecKind, npmUnresolvable, pythonUnresolvable, recordedUnresolvable } from '../../src/engine/unresolvable.js';

describe('npmSpecKind (npm-package-arg\'s classes)', () => {
  it('registry specs are resolvable', () => {
    for (const s of ['1.2.3', '^1.2.3', '~1', '>=1 <2', '*', '', 'latest', 'next', 'npm:other@^1', 'npm:@acme/x@1', '1.x || 2.x']) expect(npmSpecKind(s), s).toBeUndefined();
  });
  it('paths, workspaces, git and tarball URLs are not', () => {
    const cases: Record<string, string> = {
      'file:../x': 'file',
      'file:x.tgz': 'file',
      'link:../x': 'link',
      'workspace:*': 'workspace',
      'workspace:^1.0.0': 'workspace',
      'portal:../x': 'portal',
      '../x': 'path',
      './x': 'path',
      '~/x': 'path',
      '/abs/x': 'path',
      'C:\\x': 'path',
      'git+ssh://git@host/o/r.git#v1': 'git',
      'git+https://host/o/r.git': 'git',
      'git://host/o/r.git': 'git',
      'github:user/repo': 'git',
      'gitlab:user/repo#semver:^1': 'git',
      'bitbucket:user/repo': 'git',
      'user/repo': 'git',
      'user/repo#main': 'git',
      'git@github.com:user/repo.git': 'git',
      'https://github.com/user/repo': 'git',
      'https://host/o/r.git#v1': 'git',
      'https://host/pkg-1.0.0.tgz': 'url',
      'http://host/x/-/x-1.0.0.tgz': 'url',
      'ftp://host/x.tgz': 'url',
    };
    for (const [spec, kind] of Object.entries(cases)) expect(npmSpecKind(spec), spec).toBe(kind);
  });
});

describe('npmUnresolvable', () => {
  it('reads dependencies, optionalDependencies, peerDependencies; not devDependencies, nor bundled ones; npm\'s copy of an optional one once', () => {
    const deps = npmUnresolvable({
      dependencies: { a: 'file:../a', b: 'github:o/b', bundled: 'file:../bundled', ok: '^1', opt: 'git+https://u:tok@host/opt.git' },
      optionalDependencies: { opt: 'git+https://u:tok@host/opt.git' },
      peerDependencies: { p: 'workspace:*' },
      devDependencies: { d: 'file:../d' },
      bundleDependencies: ['bundled'],
    });
    expect(deps.map((d) => `${d.field} ${d.name} ${d.spec} ${d.kind}`)).toEqual([
      'dependencies a file:../a file',
      'dependencies b github:o/b git',
      'dependencies opt git+https://***@host/opt.git git',
      'peerDependencies p workspace:* workspace',
    ]);
  });
  it('a lying manifest (non-objects, non-strings, thousands of entries) gives at most MAX_PER_VERSION, never a throw', () => {
    expect(npmUnresolvable({ dependencies: 'x', peerDependencies: ['file:../x'], optionalDependencies: { a: 1, b: null } })).toEqual([]);
    const many = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`d${i}`, `file:../d${i}`]));
    expect(npmUnresolvable({ dependencies: many })).toHaveLength(MAX_PER_VERSION);
    expect(npmUnresolvable({ dependencies: { x: `file:${'a'.repeat(100_000)}` } })[0]!.spec.length).toBeLessThanOrEqual(300);
  });
});

describe('pythonUnresolvable (PEP 508 direct references)', () => {
  it('name @ url, with extras and a marker; version specifiers are not', () => {
    const deps = pythonUnresolvable([
      'helper @ git+ssh://git@host/o/helper.git@v1',
      'local[extra] @ file:///srv/local.whl ; python_version >= "3.9"',
      'tar@https://u:pw@host/x.tar.gz',
      'requests>=2',
      'attrs ; extra == "x"',
      'helper @ git+ssh://git@host/o/helper.git@v1',
    ]);
    expect(deps.map((d) => `${d.name} ${d.spec} ${d.kind}`)).toEqual(['helper git+ssh://git@host/o/helper.git@v1 git', 'local file:///srv/local.whl file', 'tar https://***@host/x.tar.gz url']);
  });
});

describe('goUnresolvable', () => {
  it('replace with a folder, one line or in a block, quoted or commented; a module replacement is not', () => {
    const mod = [
      'module example.com/m',
      'go 1.21',
      'replace example.com/a => ../a // sibling',
      'replace example.com/b v1.0.0 => example.com/b2 v1.1.0',
      'replace (',
      '\texample.com/c v1.2.0 => ./vendor/c',
      '\t"example.com/d" => "/abs/d"',
      '\texample.com/e => example.com/e2 v0.1.0',
      ')',
      '// replace example.com/f => ../f',
      'require example.com/g v1.0.0',
    ].join('\n');
    expect(goUnresolvable(mod).map((d) => `${d.name} ${d.spec}`)).toEqual(['example.com/a => ../a', 'example.com/c v1.2.0 => ./vendor/c', 'example.com/d => /abs/d']);
  });
});

describe('recordedUnresolvable', () => {
  it('reads facts as recorded, and nothing from facts that are not', () => {
    expect(recordedUnresolvable(null)).toEqual([]);
    expect(recordedUnresolvable('not json')).toEqual([]);
    expect(recordedUnresolvable('{"unresolvable":"x"}')).toEqual([]);
    expect(recordedUnresolvable('{"unresolvable":[{"name":1},{"field":"dependencies","name":"a","spec":"file:a","kind":"file"}]}')).toEqual([{ field: 'dependencies', name: 'a', spec: 'file:a', kind: 'file' }]);
  });
});

describe('credentials in odd forms never reach the recorded findings', () => {
  afterEach(() => clearSecrets());
  it('a password the URL parser takes though RFC 3986 would escape it, a scheme without slashes or with backslashes, a query past a quote, a control character', () => {
    const specs = {
      quote: 'git+https://user:pa"ss9999@github.com/o/r.git',
      angle: 'git+https://user:pa<ss9999@github.com/o/r.git',
      apostrophe: "https://host/x.tgz?a='b&token=QUERYSECRET",
      noslash: 'https:user:pw99999@host/x.tgz',
      backslash: 'https:\\\\user:pw99999@host/x.tgz',
      nul: 'git+https://user:pa\u0000ss9999@github.com/o/r.git',
    };
    const deps = npmUnresolvable({ dependencies: specs });
    expect(deps.map((d) => d.name)).toEqual(Object.keys(specs));
    const text = JSON.stringify(deps);
    for (const leak of ['pa"ss', 'pa\\"ss', 'pa<ss', 'ss9999', 'pw99999', 'QUERYSECRET']) expect(text).not.toContain(leak);
    // what is not a credential stays, to be read
    expect(deps.find((d) => d.name === 'noslash')!.spec).toBe('https:***@host/x.tgz');
    expect(deps.find((d) => d.name === 'apostrophe')!.spec).toBe('https://host/x.tgz?***');
    expect(pythonUnresolvable(["h @ https://host/x.whl?sig='a&key=QUERYSECRET"])[0]!.spec).toBe('https://host/x.whl?***');
  });
  it("a registered secret (the source's token) as a dependency's name, in npm, Python and Go", () => {
    const token = 'SRCTOKEN12345678';
    registerSecret(token);
    const all = [
      ...npmUnresolvable({ dependencies: { [token]: 'file:x', [`@${token.toLowerCase()}/y`]: 'file:y' } }),
      ...pythonUnresolvable([`${token} @ https://host/x.whl`]),
      ...goUnresolvable(`replace example.com/${token} => ../x\n`),
    ];
    expect(all).toHaveLength(4);
    expect(JSON.stringify(all).toLowerCase()).not.toContain(token.toLowerCase());
  });
});

describe("a run summary's dependencies of one version", () => {
  it('50 dependencies of the longest name and spec stay within a few kB (10,000 such versions made a 270 MB summary), saying how many more the report lists', () => {
    const deps = npmUnresolvable({ dependencies: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`${i}${'n'.repeat(300)}`, `https://host/${i}${'x'.repeat(400)}.tgz`])) });
    expect(deps).toHaveLength(MAX_PER_VERSION);
    const facts = JSON.stringify({ unresolvable: deps });
    const lines = summaryDependencies(facts);
    expect(lines.join('; ').length).toBeLessThanOrEqual(1200);
    expect(lines[0]).toBe(depLine(deps[0]!));
    expect(lines.at(-1)).toMatch(new RegExp(`^… and ${MAX_PER_VERSION - lines.length + 1} more \\(the plan and run report list`));
    // a few short ones are all said, nothing added
    const few = npmUnresolvable({ dependencies: { a: 'file:../a', b: 'github:o/b' } });
    expect(summaryDependencies(JSON.stringify({ unresolvable: few }))).toEqual(few.map(depLine));
  });
});
