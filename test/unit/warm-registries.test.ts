/**
 * What warm takes for public: a requirements file's index as pip reads it (abbreviated,
 * quoted, several on a line, from an include), and a registry the job names by a path.
 * Every miss here sent a company's package through a public store by name.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRequirements } from '../../src/lockfiles/requirements.js';
import { itemOf, RegistryHosts } from '../../src/warm/items.js';

const COMPANY = 'https://pypi.acme.example/simple';
const none = { has: () => false } as unknown as Parameters<typeof itemOf>[1];

const tmp = mkdtempSync(join(tmpdir(), 'warm-req-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function read(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmp, 'r-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return parseRequirements(files['requirements.txt']!, join(dir, 'requirements.txt'), { root: dir });
}

describe("warm's reading of a requirements file's index", () => {
  it.each([
    ['--index', `--index ${COMPANY}\n`],
    ['--i', `--i=${COMPANY}\n`],
    ['--pypi-url', `--pypi-url ${COMPANY}\n`],
    ['--py', `--py ${COMPANY}\n`],
    ['double quotes', `--index-url "${COMPANY}"\n`],
    ['single quotes', `-i '${COMPANY}'\n`],
    ['the last of a line', `-i https://pypi.org/simple --index-url ${COMPANY}\n`],
  ])('%s: the pins come from the company index', (_, head) => {
    const { entries } = read({ 'requirements.txt': `${head}corp-lib==1.0.0\n` });
    expect(entries[0]!.resolved).toBe(COMPANY);
  });

  it('the first of a line does not win', () => {
    const { entries } = read({ 'requirements.txt': `--index-url ${COMPANY} -i https://pypi.org/simple\ncorp-lib==1.0.0\n` });
    expect(entries[0]!.resolved).toBe('https://pypi.org/simple');
  });

  it.each([
    ['--requirem', '--requirem base.txt\n', 'base.txt'],
    ['a quoted name', '-r "my base.txt"\n', 'my base.txt'],
    ['two on a line', '-r other.txt -r base.txt\n', 'base.txt'],
  ])('an include written %s is read, and its index applies', (_, head, base) => {
    const { entries } = read({ 'requirements.txt': `${head}corp-lib==1.0.0\n`, [base]: `--index-url ${COMPANY}\n`, 'other.txt': '' });
    expect(entries.find((e) => e.name === 'corp-lib')!.resolved).toBe(COMPANY);
  });

  it.each([['--extra'], ['--ex']])('%s is the extra index, and is said', (opt) => {
    const { warnings } = read({ 'requirements.txt': `${opt} ${COMPANY}\ncorp-lib==1.0.0\n` });
    expect(warnings.map((w) => w.message).join('\n')).toContain(`--extra-index-url ${COMPANY}`);
  });

  it.each([['${IDX}/simple'], ['https://${IDX}/simple'], ['./wheels']])('an index that cannot be told (%s) makes its pins private, with a note', (idx) => {
    const { entries } = read({ 'requirements.txt': `-i https://pypi.org/simple\n--index-url ${idx}\ncorp-lib==1.0.0\n` });
    const registries = new RegistryHosts({ publicRegistries: { npm: 'https://registry.npmjs.org/', pypi: 'https://pypi.org/' }, sources: [], target: { domain: 'acme', domainOwner: '111122223333' } });
    const it = itemOf(entries[0]!, none, registries);
    expect(it.kind).toBe('private');
    expect(it.note).toContain('cannot be told from here');
  });
});

describe('RegistryHosts: a registry named by a path is only that path of its host', () => {
  const registries = new RegistryHosts({
    publicRegistries: { npm: 'https://art.acme.example/artifactory/api/npm/npm-remote/', pypi: 'https://art.acme.example/artifactory/api/pypi/pypi-remote/simple' },
    sources: [{ kind: 'npm-registry', url: 'https://npm.fury.io/acme/' }, { kind: 'npm-registry', url: 'https://art.acme.example/artifactory/api/npm/npm-team/' }],
    target: { domain: 'acme', domainOwner: '111122223333' },
  });
  it('another path of the public registry\'s host is another registry', () => {
    expect(registries.foreign('npm', 'https://art.acme.example/artifactory/api/npm/npm-private/x/-/x-1.0.0.tgz')).toContain('art.acme.example (outside');
    expect(registries.foreign('pypi', 'https://art.acme.example/artifactory/api/pypi/pypi-private/simple')).toContain('art.acme.example (outside');
    expect(registries.foreign('npm', 'https://art.acme.example/artifactory/api/npm/npm-remote/../npm-private/x/-/x-1.0.0.tgz')).toContain('outside');
  });
  it('the registry\'s own path, the public hosts and the job\'s domain stay trusted', () => {
    expect(registries.foreign('npm', 'https://art.acme.example/artifactory/api/npm/npm-remote/x/-/x-1.0.0.tgz')).toBeUndefined();
    expect(registries.foreign('pypi', 'https://art.acme.example/artifactory/api/pypi/pypi-remote/simple')).toBeUndefined();
    expect(registries.foreign('npm', 'https://registry.npmjs.org/anything/x/-/x-1.0.0.tgz')).toBeUndefined();
    expect(registries.foreign('npm', 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/npm/other/x/-/x-1.0.0.tgz')).toBeUndefined();
  });
  it("a source's path (its token first, too) is the source's: the public registry is asked first", () => {
    expect(registries.foreign('npm', 'https://npm.fury.io/TOKEN123/acme/x/-/x-1.0.0.tgz')).toBeUndefined();
    expect(registries.viaSource('npm', 'https://npm.fury.io/TOKEN123/acme/x/-/x-1.0.0.tgz')).toBe('npm.fury.io');
    expect(registries.foreign('npm', 'https://npm.fury.io/other/x/-/x-1.0.0.tgz')).toContain('outside');
    // a source on the public registry's host, at its own path: a source, not public
    expect(registries.viaSource('npm', 'https://art.acme.example/artifactory/api/npm/npm-team/x/-/x-1.0.0.tgz')).toBe('art.acme.example');
    expect(registries.viaSource('npm', 'https://art.acme.example/artifactory/api/npm/npm-remote/x/-/x-1.0.0.tgz')).toBeUndefined();
  });
});
