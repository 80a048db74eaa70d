/**
 * Real npm packages for the source registries: `npm pack`-style tarballs published with
 * the same HTTP calls the npm CLI makes, so seeding is fast (no child processes) and what
 * the registry stores is what a real publish would have stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import semver from 'semver';
import { create as createTar, Parser as TarParser } from 'tar';

/** npm pack stamps every entry with this date so identical contents pack identically. */
const NPM_PACK_MTIME = new Date('1985-10-26T08:15:00.000Z');

export interface TarballOptions {
  /** incompressible random filler in `package/filler.bin`, so a tarball can be made large */
  padBytes?: number;
  /** more files, paths relative to `package/` */
  extraFiles?: Record<string, string>;
}

export interface TarballHashes {
  /** `sha512-<base64>`, what npm puts in `dist.integrity` */
  integrity: string;
  /** hex sha1, what npm puts in `dist.shasum` */
  shasum: string;
}

export function hashTarball(tarball: Buffer): TarballHashes {
  return {
    integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
    shasum: createHash('sha1').update(tarball).digest('hex'),
  };
}

export async function makeTarball(name: string, version: string, opts: TarballOptions = {}): Promise<Buffer> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cam-pack-'));
  try {
    const pkgDir = path.join(work, 'package');
    await mkdir(pkgDir);
    const manifest = { name, version, description: `fixture ${name}`, main: 'index.js', license: 'MIT' };
    await writeFile(path.join(pkgDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await writeFile(path.join(pkgDir, 'index.js'), `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`);
    for (const [rel, content] of Object.entries(opts.extraFiles ?? {})) {
      const file = path.join(pkgDir, rel);
      if (!file.startsWith(pkgDir + path.sep)) throw new Error(`extra file escapes the package: ${rel}`);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
    }
    if (opts.padBytes !== undefined && opts.padBytes > 0) {
      await writeFile(path.join(pkgDir, 'filler.bin'), randomBytes(opts.padBytes));
    }
    const chunks: Buffer[] = [];
    const stream = createTar({ gzip: true, cwd: work, portable: true, mtime: NPM_PACK_MTIME }, ['package']);
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The `package/package.json` inside a tarball, as npm reads it before publishing. */
export async function readTarballManifest(tarball: Buffer): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  let found = false;
  await new Promise<void>((resolve, reject) => {
    const parser = new TarParser({
      onReadEntry: (entry) => {
        if (entry.path === 'package/package.json') {
          found = true;
          entry.on('data', (c: Buffer) => parts.push(c));
        } else {
          entry.resume();
        }
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve());
    parser.end(tarball);
  });
  if (!found) throw new Error('tarball has no package/package.json');
  return JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
}

/** `@scope/name` -> `@scope%2fname`, the form npm puts in registry paths. */
export function escapeName(name: string): string {
  return name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
}

function packageUrl(registryUrl: string, name: string): URL {
  return new URL(escapeName(name), registryUrl.endsWith('/') ? registryUrl : `${registryUrl}/`);
}

async function registryCall(
  what: string,
  url: URL,
  token: string,
  method: string,
  body?: unknown,
): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: ${method} ${url.href} answered HTTP ${res.status}: ${text.slice(0, 500)}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/**
 * What `npm publish` sends (libnpmpublish): one PUT of a packument holding the one new
 * version and the tarball base64-encoded in `_attachments`.
 * https://github.com/npm/libnpmpublish/blob/main/lib/publish.js
 */
export async function publishVersion(
  registryUrl: string,
  token: string,
  name: string,
  version: string,
  tarball: Buffer,
  tag = 'latest',
): Promise<void> {
  const manifest = await readTarballManifest(tarball);
  if (manifest.name !== name || manifest.version !== version) {
    throw new Error(`tarball is ${String(manifest.name)}@${String(manifest.version)}, not ${name}@${version}`);
  }
  const { integrity, shasum } = hashTarball(tarball);
  const fileName = `${name.startsWith('@') ? name.split('/')[1] : name}-${version}.tgz`;
  const base = registryUrl.endsWith('/') ? registryUrl : `${registryUrl}/`;
  const packument = {
    _id: name,
    name,
    description: manifest.description,
    'dist-tags': { [tag]: version },
    versions: {
      [version]: {
        ...manifest,
        _id: `${name}@${version}`,
        dist: { integrity, shasum, tarball: `${base}${name}/-/${fileName}` },
      },
    },
    access: null,
    _attachments: {
      [`${name}-${version}.tgz`]: {
        content_type: 'application/octet-stream',
        data: tarball.toString('base64'),
        length: tarball.length,
      },
    },
  };
  await registryCall('publish', packageUrl(registryUrl, name), token, 'PUT', packument);
}

/** `npm dist-tag add`: PUT /-/package/<name>/dist-tags/<tag> with the version as a JSON string. */
export async function setDistTag(
  registryUrl: string,
  token: string,
  name: string,
  tag: string,
  version: string,
): Promise<void> {
  const url = new URL(`-/package/${escapeName(name)}/dist-tags/${encodeURIComponent(tag)}`, registryUrl);
  await registryCall('dist-tag', url, token, 'PUT', version);
}

interface Packument {
  versions?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

/**
 * `npm deprecate`: GET the full packument, set `versions[v].deprecated`, PUT it back
 * without attachments. Verdaccio recognises such a body as a deprecation
 * (`isRelatedToDeprecation`) and applies only the `deprecated` fields and dist-tags.
 */
export async function deprecateVersion(
  registryUrl: string,
  token: string,
  name: string,
  version: string,
  message: string,
): Promise<void> {
  const url = packageUrl(registryUrl, name);
  const packument = (await registryCall('deprecate', url, token, 'GET')) as Packument;
  const entry = packument.versions?.[version];
  if (entry === undefined) throw new Error(`deprecate: ${name}@${version} is not in the registry`);
  entry.deprecated = message;
  const { _attachments: _ignored, ...body } = packument;
  await registryCall('deprecate', url, token, 'PUT', body);
}

export interface SeedPackage {
  name: string;
  /** published in this order */
  versions: string[];
  /** applied after every version is published; overrides the tags set while publishing */
  distTags?: Record<string, string>;
  /** version -> deprecation message */
  deprecated?: Record<string, string>;
  padBytes?: number;
}

/**
 * The tag a version is published under, as a release process would: stable versions move
 * `latest`, prereleases go under their identifier (`1.0.0-beta.2` -> `beta`), so `latest`
 * never points at a prerelease unless a `distTags` entry says so.
 */
export function publishTagFor(version: string): string {
  const pre = semver.prerelease(version);
  if (pre === null) return 'latest';
  const id = pre[0];
  return typeof id === 'string' && /^[a-z][a-z0-9-]*$/i.test(id) ? id : 'next';
}

/** Publishes every version in order, then dist-tags and deprecations. Returns name -> version -> integrity. */
export async function seedPackages(
  registryUrl: string,
  token: string,
  pkgs: SeedPackage[],
): Promise<Map<string, Map<string, string>>> {
  const result = new Map<string, Map<string, string>>();
  for (const pkg of pkgs) {
    const integrities = new Map<string, string>();
    result.set(pkg.name, integrities);
    // Sequential on purpose: Verdaccio serialises writes to a packument with a file lock
    // and answers concurrent publishes of one package with errors.
    for (const version of pkg.versions) {
      const tarball = await makeTarball(pkg.name, version, pkg.padBytes === undefined ? {} : { padBytes: pkg.padBytes });
      await publishVersion(registryUrl, token, pkg.name, version, tarball, publishTagFor(version));
      integrities.set(version, hashTarball(tarball).integrity);
    }
    for (const [tag, version] of Object.entries(pkg.distTags ?? {})) {
      await setDistTag(registryUrl, token, pkg.name, tag, version);
    }
    for (const [version, message] of Object.entries(pkg.deprecated ?? {})) {
      await deprecateVersion(registryUrl, token, pkg.name, version, message);
    }
  }
  return result;
}

/**
 * A long, realistic, strictly increasing release history: three patches per minor, three
 * minors per major (0.x has 0.1-0.3). Every major release, and a minor release once at
 * least `prereleasesEvery` (default 5; 0 = never) versions have passed since the last
 * prereleases, is preceded by its `-beta.1`, `-beta.2` and `-rc.1`.
 * historyOf(12) = 0.1.0 0.1.1 0.1.2 0.2.0 0.2.1 0.2.2 0.3.0-beta.1 0.3.0-beta.2 0.3.0-rc.1 0.3.0 0.3.1 0.3.2
 */
export function historyOf(count: number, opts: { prereleasesEvery?: number } = {}): string[] {
  const every = opts.prereleasesEvery ?? 5;
  const out: string[] = [];
  let major = 0;
  let minor = 1;
  let patch = 0;
  let sincePre = 0;
  while (out.length < count) {
    const release = `${major}.${minor}.${patch}`;
    const isMajor = minor === 0 && patch === 0;
    if (patch === 0 && out.length > 0 && every > 0 && (isMajor || sincePre >= every)) {
      for (const pre of ['beta.1', 'beta.2', 'rc.1']) out.push(`${release}-${pre}`);
      sincePre = 0;
    }
    out.push(release);
    sincePre += 1;
    patch += 1;
    if (patch === 3) {
      patch = 0;
      minor += 1;
      if (minor === (major === 0 ? 4 : 3)) {
        major += 1;
        minor = 0;
      }
    }
  }
  return out.slice(0, count);
}

/** Where Verdaccio's local storage keeps a tarball: `<storage>/<name>/<unscoped>-<version>.tgz`. */
export function storedTarballPath(storageDir: string, name: string, version: string): string {
  const base = name.startsWith('@') ? (name.split('/')[1] ?? name) : name;
  return path.join(storageDir, ...name.split('/'), `${base}-${version}.tgz`);
}

/**
 * Flips bytes of the tarball Verdaccio stored, keeping its length, so the registry serves
 * bytes that no longer match the `dist.integrity` it advertises.
 */
export async function corruptStoredTarball(storageDir: string, name: string, version: string): Promise<void> {
  const file = storedTarballPath(storageDir, name, version);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const dir = path.dirname(file);
    const present = await readdir(dir).catch(() => [] as string[]);
    throw new Error(`no stored tarball at ${file} (have: ${present.join(', ')})`, { cause: err });
  }
  for (const at of [Math.floor(bytes.length / 2), bytes.length - 9]) {
    if (at >= 0 && at < bytes.length) bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  }
  await writeFile(file, bytes);
}
