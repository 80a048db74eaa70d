/**
 * The registries an .npmrc / .yarnrc.yml around a lockfile names (src/warm/registry-config.ts):
 * ini's rules for the two .npmrc keys, the closest file winning, nothing read above the root
 * or through a link leading out of it.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryConfigReader, registryFor } from '../../src/warm/registry-config.js';

let dir: string;
const write = (path: string, text: string) => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
};
const reader = () => new RegistryConfigReader((f) => relative(dir, f));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'regcfg-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('.npmrc', () => {
  it("reads registry and @scope:registry as ini does: comments, quotes, the last one written, keys in sections ignored", () => {
    write('root/app/.npmrc', [
      '# a comment', '; another', 'registry = https://first.example/', 'registry="https://npm.corp.example/"',
      '@corp:registry=https://scoped.corp.example/ ; trailing comment', '//npm.corp.example/:_authToken=secret-value-123',
      '[section]', '@other:registry=https://ignored.example/', '',
    ].join('\n'));
    write('root/app/pnpm-lock.yaml', '');
    const r = reader();
    const c = r.around(join(dir, 'root/app/pnpm-lock.yaml'), 'pnpm', join(dir, 'root'));
    expect(r.errors).toEqual([]);
    expect(registryFor(c, 'left-pad')).toMatchObject({ url: 'https://npm.corp.example/', file: 'root/app/.npmrc' });
    expect(registryFor(c, '@corp/x')).toMatchObject({ url: 'https://scoped.corp.example/' });
    expect(registryFor(c, '@other/x')).toMatchObject({ url: 'https://npm.corp.example/' });
    expect(JSON.stringify([...c!.scopes])).not.toContain('secret-value-123');
  });

  it('the closest file wins per key; nothing above the root is read; an environment variable is not a URL', () => {
    write('.npmrc', 'registry=https://above-the-root.example/\n');
    write('root/.npmrc', '@corp:registry=https://scoped.corp.example/\nregistry=https://outer.example/\n');
    write('root/a/b/.npmrc', 'registry=${NPM_REGISTRY}\n');
    const c = reader().around(join(dir, 'root/a/b/package-lock.json'), 'npm', join(dir, 'root'));
    expect(registryFor(c, 'x')).toEqual({ shown: '${NPM_REGISTRY}', file: 'root/a/b/.npmrc' });
    expect(registryFor(c, '@corp/x')).toMatchObject({ url: 'https://scoped.corp.example/', file: 'root/.npmrc' });
    const none = reader().around(join(dir, 'root/other/package-lock.json'), 'npm', join(dir, 'root/other'));
    expect(none).toBeUndefined();
  });

  it('a link leading out of the root is refused, an error naming the file, and nothing can be told', () => {
    write('outside/.npmrc', 'registry=https://outside.example/\n');
    mkdirSync(join(dir, 'root'));
    symlinkSync(join(dir, 'outside/.npmrc'), join(dir, 'root/.npmrc'));
    const r = reader();
    const c = r.around(join(dir, 'root/pnpm-lock.yaml'), 'pnpm', join(dir, 'root'));
    expect(registryFor(c, 'x')).toEqual({ broken: 'root/.npmrc' });
    expect(r.errors.map((e) => [e.error.code, e.error.message.startsWith('root/.npmrc')])).toEqual([['ELOCKFILE', true]]);
    expect(r.errors[0]!.error.message).not.toContain('outside.example');
  });
});

describe('.yarnrc.yml', () => {
  it('npmRegistryServer and npmScopes; a YAML error names its line, read once for every lockfile under it', () => {
    write('root/.yarnrc.yml', 'npmRegistryServer: "https://yarn.corp.example"\nnpmScopes:\n  corp:\n    npmRegistryServer: https://scoped.corp.example\n    npmAuthToken: secret-value-456\n');
    const c = reader().around(join(dir, 'root/web/yarn.lock'), 'yarn-berry', join(dir, 'root'));
    expect(registryFor(c, 'x')).toMatchObject({ url: 'https://yarn.corp.example' });
    expect(registryFor(c, '@corp/x')).toMatchObject({ url: 'https://scoped.corp.example' });
    write('bad/.yarnrc.yml', 'npmScopes:\n  corp: [\n');
    const r = reader();
    r.around(join(dir, 'bad/a/yarn.lock'), 'yarn-berry', join(dir, 'bad'));
    r.around(join(dir, 'bad/b/yarn.lock'), 'yarn-berry', join(dir, 'bad'));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ line: expect.any(Number) });
    expect(r.errors[0]!.error.message).toMatch(/^bad\/\.yarnrc\.yml:\d+: /);
  });
});
