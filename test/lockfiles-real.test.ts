/**
 * Every parser against lockfiles written by the real package managers for
 * real projects (test/fixtures/lockfiles/SOURCES.md says where each came from).
 * The expected numbers were computed without our parsers, by
 * test/fixtures/lockfiles/count.py (Python's json/tomllib/PyYAML and regular
 * expressions written from the formats' documentation); an entry is one
 * (name, version, kind) per file.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLockfile, type EntryKind, type LockfileFormat } from '../src/lockfiles/index.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'lockfiles');

interface Expected {
  file: string;
  format: LockfileFormat;
  formatVersion?: string;
  total: number;
  kinds: Partial<Record<EntryKind, number>>;
}

// Output of `/usr/bin/python3 test/fixtures/lockfiles/count.py`, verbatim.
const EXPECTED: Expected[] = [
  { file: 'combined-stream/yarn.lock', format: 'yarn-classic', formatVersion: '1', total: 3, kinds: { registry: 3 } },
  { file: 'express/npm-v2/package-lock.json', format: 'npm', formatVersion: '2', total: 439, kinds: { registry: 439 } },
  { file: 'express/npm-v3/package-lock.json', format: 'npm', formatVersion: '3', total: 439, kinds: { registry: 439 } },
  { file: 'express/pnpm-5.4/pnpm-lock.yaml', format: 'pnpm', formatVersion: '5.4', total: 441, kinds: { registry: 441 } },
  { file: 'express/pnpm-6.0/pnpm-lock.yaml', format: 'pnpm', formatVersion: '6.0', total: 441, kinds: { registry: 441 } },
  { file: 'express/pnpm-9.0/pnpm-lock.yaml', format: 'pnpm', formatVersion: '9.0', total: 441, kinds: { registry: 441 } },
  { file: 'express/yarn-berry/yarn.lock', format: 'yarn-berry', formatVersion: '10', total: 443, kinds: { patch: 1, registry: 442 } },
  { file: 'express/yarn-classic/yarn.lock', format: 'yarn-classic', formatVersion: '1', total: 442, kinds: { registry: 442 } },
  { file: 'go/cmd/go.sum', format: 'gosum', total: 9, kinds: { registry: 9 } },
  { file: 'go/src/go.sum', format: 'gosum', total: 4, kinds: { registry: 4 } },
  { file: 'handmade/poetry/poetry.lock', format: 'poetry', formatVersion: '2.0', total: 8, kinds: { file: 1, git: 1, link: 1, registry: 4, url: 1 } },
  { file: 'handmade/uv/uv.lock', format: 'uv', formatVersion: '1', total: 8, kinds: { file: 2, git: 1, registry: 3, url: 1, workspace: 1 } },
  { file: 'httplib2/requirements-test.txt', format: 'requirements', total: 13, kinds: { registry: 13 } },
  { file: 'mono/npm-v3/package-lock.json', format: 'npm', formatVersion: '3', total: 18, kinds: { alias: 1, file: 1, link: 1, registry: 13, workspace: 2 } },
  { file: 'mono/pnpm-5.4/pnpm-lock.yaml', format: 'pnpm', formatVersion: '5.4', total: 19, kinds: { alias: 1, file: 1, link: 1, patch: 1, registry: 14, workspace: 1 } },
  { file: 'mono/pnpm-6.0/pnpm-lock.yaml', format: 'pnpm', formatVersion: '6.0', total: 19, kinds: { alias: 1, file: 1, link: 1, patch: 1, registry: 14, workspace: 1 } },
  { file: 'mono/pnpm-9.0/pnpm-lock.yaml', format: 'pnpm', formatVersion: '9.0', total: 19, kinds: { alias: 1, file: 1, link: 1, patch: 1, registry: 14, workspace: 1 } },
  { file: 'mono/yarn-berry/yarn.lock', format: 'yarn-berry', formatVersion: '10', total: 40, kinds: { alias: 1, file: 1, link: 1, patch: 2, registry: 33, workspace: 2 } },
  { file: 'mono/yarn-classic/yarn.lock', format: 'yarn-classic', formatVersion: '1', total: 16, kinds: { alias: 1, file: 1, link: 1, registry: 13 } },
  { file: 'pprof-d3flamegraph/package-lock.json', format: 'npm', formatVersion: '1', total: 135, kinds: { registry: 135 } },
  { file: 'python-rsa/Pipfile.lock', format: 'pipfile', formatVersion: '6', total: 42, kinds: { registry: 42 } },
  { file: 'requests/requirements-dev.txt', format: 'requirements', total: 2, kinds: { link: 1, registry: 1 } },
];

function kindCounts(kinds: readonly EntryKind[]): Partial<Record<EntryKind, number>> {
  const out: Partial<Record<EntryKind, number>> = {};
  for (const k of kinds) out[k] = (out[k] ?? 0) + 1;
  return out;
}

describe('real lockfiles: entry counts equal the independently computed ones', () => {
  it.each(EXPECTED)('$file', (x) => {
    const r = parseLockfile(join(FIXTURES, x.file));
    expect(r.format).toBe(x.format);
    expect(r.formatVersion).toBe(x.formatVersion);
    expect(r.entries.length).toBe(x.total);
    expect(kindCounts(r.entries.map((e) => e.kind))).toEqual(x.kinds);
    for (const e of r.entries) {
      expect(e.from.length).toBeGreaterThan(0);
      expect(e.from.every((o) => o.file === join(FIXTURES, x.file) || x.format === 'requirements')).toBe(true);
    }
  });
});

describe('real lockfiles: what each format says about the bytes', () => {
  it('npm v3, pnpm and yarn classic give an SRI for every registry entry; berry gives only its cache checksum', () => {
    for (const f of ['express/npm-v3/package-lock.json', 'express/pnpm-9.0/pnpm-lock.yaml', 'express/pnpm-5.4/pnpm-lock.yaml', 'express/yarn-classic/yarn.lock']) {
      const reg = parseLockfile(join(FIXTURES, f)).entries.filter((e) => e.kind === 'registry');
      expect(reg.every((e) => /^sha(1|512)-/.test(e.integrity ?? '')), f).toBe(true);
    }
    const berry = parseLockfile(join(FIXTURES, 'express/yarn-berry/yarn.lock')).entries;
    expect(berry.every((e) => e.integrity === undefined)).toBe(true);
    expect(berry.filter((e) => e.kind === 'registry').every((e) => /^10c0\/[0-9a-f]{128}$/.test(e.yarnChecksum ?? ''))).toBe(true);
  });

  it('the same express dependency tree gives the same registry packages in npm v2 and v3, and in pnpm 5.4, 6.0 and 9.0', () => {
    const set = (f: string) => new Set(parseLockfile(join(FIXTURES, f)).entries.map((e) => `${e.name}@${e.version}`));
    expect(set('express/npm-v2/package-lock.json')).toEqual(set('express/npm-v3/package-lock.json'));
    const p9 = set('express/pnpm-9.0/pnpm-lock.yaml');
    expect(set('express/pnpm-5.4/pnpm-lock.yaml')).toEqual(p9);
    expect(set('express/pnpm-6.0/pnpm-lock.yaml')).toEqual(p9);
  });

  it('dev flags: npm v3 marks the test tools dev and express itself has none of them in production', () => {
    const e = parseLockfile(join(FIXTURES, 'express/npm-v3/package-lock.json')).entries;
    expect(e.find((x) => x.name === 'mocha')?.dev).toBe(true);
    expect(e.find((x) => x.name === 'accepts')?.dev).toBeUndefined();
  });

  it('pprof (npm v1): dev flags and SRI come through the nested tree', () => {
    const e = parseLockfile(join(FIXTURES, 'pprof-d3flamegraph/package-lock.json')).entries;
    expect(e.find((x) => x.name === '@discoveryjs/json-ext')).toMatchObject({ version: '0.5.6', dev: true, integrity: expect.stringMatching(/^sha512-/) });
  });

  it('combined-stream (yarn 1 before 1.10): the sha1 in the resolved URL becomes the integrity', () => {
    const e = parseLockfile(join(FIXTURES, 'combined-stream/yarn.lock')).entries;
    // #df3ae199acadfb7d440aaae0b29e2272b24ec619 is delayed-stream 1.0.0's dist.shasum.
    expect(e.find((x) => x.name === 'delayed-stream')?.integrity).toBe(`sha1-${Buffer.from('df3ae199acadfb7d440aaae0b29e2272b24ec619', 'hex').toString('base64')}`);
  });

  it('python-rsa Pipfile.lock: sha256 hashes, markers and develop entries', () => {
    const e = parseLockfile(join(FIXTURES, 'python-rsa/Pipfile.lock')).entries;
    expect(e.every((x) => x.hashes?.length && x.hashes.every((h) => /^sha256:[0-9a-f]{64}$/.test(h)))).toBe(true);
    expect(e.find((x) => x.name === 'pyasn1')?.dev).toBeUndefined();
    expect(e.some((x) => x.dev)).toBe(true);
  });

  it("Go's go.sum: every version with a go.mod hash, and those it builds with a zip hash too", () => {
    const e = parseLockfile(join(FIXTURES, 'go/cmd/go.sum')).entries;
    expect(e.every((x) => x.goModH1?.startsWith('h1:'))).toBe(true);
    expect(e.filter((x) => x.h1).length).toBeGreaterThan(0);
  });

  it('mono (npm v3): the alias keeps both names, workspaces and the linked folder are told apart', () => {
    const e = parseLockfile(join(FIXTURES, 'mono/npm-v3/package-lock.json')).entries;
    expect(e.find((x) => x.kind === 'alias')).toMatchObject({ name: 'string-width-cjs', aliasFor: 'string-width', version: '4.2.3' });
    expect(e.filter((x) => x.kind === 'workspace').map((x) => `${x.name}@${x.version}`).sort()).toEqual(['@mono/a@1.0.0', '@mono/b@2.0.0']);
    expect(e.find((x) => x.kind === 'link')).toMatchObject({ name: 'linked', version: '0.1.0', resolved: 'linked' });
    expect(e.find((x) => x.kind === 'file')).toMatchObject({ name: 'local-tgz', version: '1.0.0' });
    expect(e.find((x) => x.name === 'fsevents')?.optional).toBe(true);
    expect(e.find((x) => x.name === 'is-number')?.dev).toBe(true);
  });

  it('mono (pnpm 5.4, 6.0, 9.0 and berry): the same alias, workspace, link and patch', () => {
    for (const f of ['mono/pnpm-5.4/pnpm-lock.yaml', 'mono/pnpm-6.0/pnpm-lock.yaml', 'mono/pnpm-9.0/pnpm-lock.yaml', 'mono/yarn-berry/yarn.lock']) {
      const e = parseLockfile(join(FIXTURES, f)).entries;
      expect(e.find((x) => x.kind === 'alias'), f).toMatchObject({ name: 'string-width-cjs', aliasFor: 'string-width', version: '4.2.3' });
      expect(e.some((x) => x.kind === 'workspace' && x.name === '@mono/b'), f).toBe(true);
      expect(e.some((x) => x.kind === 'link' && x.name === 'linked'), f).toBe(true);
      expect(e.some((x) => x.kind === 'patch' && x.name === 'ms' && x.version === '2.1.3'), f).toBe(true);
      // The unpatched registry version is still what a store must hold.
      expect(e.some((x) => x.kind === 'registry' && x.name === 'ms' && x.version === '2.1.3'), f).toBe(true);
    }
  });
});
