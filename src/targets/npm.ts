/**
 * Publishing npm packages through a CodeArtifact repository's npm endpoint,
 * the way `npm publish`, `npm dist-tag` and `npm deprecate` do
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/npm-commands.html).
 *
 * The tarball is sent byte for byte with its own package.json as the manifest,
 * so every lockfile's `integrity` keeps matching. We build the publish body
 * ourselves instead of using libnpmpublish: it needs the whole tarball in a
 * Buffer (and then again as base64 and as JSON), while this streams it.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import semver from 'semver';
import { MigrateError, toError } from '../errors.js';
import { sriFromSha512Hex } from '../integrity/hashes.js';
import { readThrough } from '../read-through.js';
import { readTarEntry } from '../tar-entry.js';
import type { BucketName } from '../types.js';
import { escapeName } from '../sources/npm-registry.js';
import type { CodeArtifact, PackageCoordinates } from './codeartifact.js';
import type { AssetFile, MetadataPlan, PublishRequest, TargetFormat } from './format.js';
import { excerpt, RepositoryEndpoint } from './endpoint.js';
import type { HttpResponse } from './http.js';

export interface NpmBlob {
  path: string;
  size: number;
  sha1: string;
  sha512: string;
}

export type { PublishResult } from './format.js';
import type { PublishResult } from './format.js';

/** The one asset CodeArtifact stores for an npm version. */
export const NPM_ASSET = 'package.tgz';

/** The dist-tag a backfilled version is published under when no source tag names it; removed by the tag sync. */
export const BACKFILL_TAG = 'cam-backfill';

export type Manifest = Record<string, unknown> & { name?: unknown; version?: unknown };

/**
 * A dist-tag the dist-tags URL cannot carry: `.` and `..` are path segments of their
 * own, which a URL parser resolves to another path of the package, and an empty one is
 * the list itself. A source (a registry's own API) can hold one all the same.
 */
export function unsendableDistTag(tag: string): boolean {
  return tag === '' || tag === '.' || tag === '..';
}

/**
 * Whether npm itself would make this tag: one URL encoding leaves as it is and that
 * is no semver range (npm-package-arg; `npm dist-tag add` and `npm publish --tag`
 * refuse a range such as `1.x`). Another (from an old client, a registry's own API) is
 * copied by the tag sync as the source has it, but never sent with a publish: a
 * target that refused it would refuse the version with it.
 */
function npmMakesTag(tag: string): boolean {
  return !unsendableDistTag(tag) && encodeURIComponent(tag) === tag && semver.validRange(tag) === null;
}

const READ: readonly BucketName[] = ['reads'];
const WRITE: readonly BucketName[] = ['writes'];
const PUBLISH: readonly BucketName[] = ['publish', 'writes'];

export function npmCoordinates(repository: string, name: string): PackageCoordinates {
  if (name.startsWith('@')) {
    const [scope, pkg] = name.slice(1).split('/', 2);
    return { format: 'npm', repository, namespace: scope, package: pkg ?? '' };
  }
  return { format: 'npm', repository, package: name };
}

/** No real package.json comes near this; a larger one is a decompression bomb. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** Scanning stops (ETOOLARGE) once the entries add up to this much unpacked. */
export const MAX_UNPACKED_BYTES = 4 * 1024 ** 3;

/**
 * The tarball's own package.json, the one npm would use: npm unpacks with
 * `strip: 1` and later entries overwrite earlier ones, so it is the LAST entry
 * named `<top>/package.json` (npm packs under `package/`, some old tarballs
 * under another top-level folder). node-tar never unpacks a `..` path, so
 * `../package.json` is not it. The whole tarball is scanned, streamed, with
 * the manifest and the total unpacked size bounded, so neither a giant
 * package.json nor a gzip bomb can exhaust memory or run forever.
 */
export async function readTarballManifest(path: string, subject: string): Promise<Manifest> {
  let text: string | undefined;
  try {
    const bytes = await readTarEntry(path, {
      maxUnpackedBytes: MAX_UNPACKED_BYTES,
      tooLarge: () => new MigrateError('ETOOLARGE', `${subject}: the tarball unpacks to more than ${MAX_UNPACKED_BYTES} bytes`, { subject, hint: 'a decompression bomb, or a package far larger than npm allows; exclude this version' }),
      // the last <top>/package.json wins, as npm's own `strip: 1` extraction would leave it
      decide: (entry) => {
        if (!isManifestPath(entry.path)) return 'skip';
        if (!['File', 'OldFile', 'ContiguousFile'].includes(entry.type)) {
          return new MigrateError('EBADSOURCE', `${subject}: the tarball's ${entry.path} is a ${entry.type}, not a file`, { subject, hint: 'exclude this version in filters' });
        }
        if (entry.size > MAX_MANIFEST_BYTES) {
          return new MigrateError('ETOOLARGE', `${subject}: the tarball's package.json is ${entry.size} bytes`, {
            subject,
            expected: `at most ${MAX_MANIFEST_BYTES} bytes`,
            actual: `${entry.size} bytes`,
            hint: 'no real package.json is that large (a decompression bomb?); exclude this version in filters',
          });
        }
        return 'take';
      },
    });
    text = bytes?.toString('utf8');
  } catch (e) {
    if (e instanceof MigrateError) throw e;
    throw new MigrateError('EBADSOURCE', `${subject}: the tarball cannot be read: ${toError(e).message}`, { subject, cause: e, hint: 'the source holds a damaged tarball; exclude this version or repair it at the source' });
  }
  if (text === undefined) throw new MigrateError('EBADSOURCE', `${subject}: the tarball has no package.json`, { subject, hint: 'exclude this version in filters' });
  try {
    // npm strips a byte order mark before parsing, and packs the file as it is, mark and all
    const manifest = JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
    if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new Error('not an object');
    return manifest as Manifest;
  } catch (e) {
    throw new MigrateError('EBADSOURCE', `${subject}: the tarball's package.json is not valid JSON`, { subject, cause: e, hint: 'exclude this version in filters' });
  }
}

/** `<top>/package.json` as node-tar's `strip: 1` sees it; never `../package.json` or an absolute path. */
function isManifestPath(path: string): boolean {
  const parts = path.split('/');
  return parts.length === 2 && parts[1] === 'package.json' && parts[0] !== '..' && parts[0] !== '';
}

/** The publish document, streamed: JSON head, the tarball as base64, JSON tail. */
async function* publishBody(prefix: string, path: string, suffix: string, subject: string): AsyncGenerator<Buffer> {
  yield Buffer.from(prefix);
  for await (const chunk of readThrough(path, 3 * 64 * 1024, new Base64Encode(), subject)) {
    yield Buffer.from(chunk as string);
  }
  yield Buffer.from(suffix);
}

/** base64 as a stream: carries the 0-2 bytes that do not fill a 3-byte group. */
class Base64Encode extends Transform {
  private rest: Buffer = Buffer.alloc(0);
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    const all = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const whole = all.length - (all.length % 3);
    this.rest = all.subarray(whole);
    done(null, all.subarray(0, whole).toString('base64'));
  }
  override _flush(done: TransformCallback): void {
    done(null, this.rest.toString('base64'));
  }
}

export class NpmTarget implements TargetFormat {
  readonly format = 'npm' as const;

  private readonly client: RepositoryEndpoint;

  constructor(
    private readonly ca: CodeArtifact,
    readonly repository: string,
  ) {
    this.client = new RepositoryEndpoint(ca, {
      auth: 'bearer',
      label: 'the npm endpoint',
      authHint: 'the CodeArtifact token lacks rights: check codeartifact:PublishPackageVersion and sts:GetServiceBearerToken (README)',
    });
  }

  private endpoint(): Promise<string> {
    return this.ca.endpoint('npm', this.repository);
  }

  coordinates(name: string): PackageCoordinates {
    return npmCoordinates(this.repository, name);
  }

  targetVersion(version: string): string {
    return version;
  }

  async preflight(): Promise<void> {
    await this.ca.authToken();
    await this.endpoint();
  }

  /**
   * The tarball must be the version the registry lists, of the package being
   * migrated. Old tarballs may spell the version loosely ("v1.2.0", "=1.2.0"):
   * npm normalised it when publishing, so the registry lists "1.2.0" while the
   * bytes keep the original spelling.
   */
  async checkAssets(name: string, version: string, assets: readonly AssetFile[]): Promise<void> {
    const subject = `${name}@${version}`;
    const tgz = assets.find((a) => a.name === NPM_ASSET);
    if (!tgz || assets.length !== 1) throw new MigrateError('EBADSOURCE', `${subject}: an npm version is exactly one tarball`, { subject });
    const manifest = await readTarballManifest(tgz.path, subject);
    const given = typeof manifest.version === 'string' ? manifest.version : '';
    const sameVersion = given === version || semver.clean(given, { loose: true }) === version;
    if (manifest.name !== name || !sameVersion) {
      throw new MigrateError('EBADSOURCE', `${subject}: the tarball's package.json says ${String(manifest.name)}@${String(manifest.version)}`, {
        subject,
        expected: subject,
        actual: `${String(manifest.name)}@${String(manifest.version)}`,
        hint: "from a registry: the source serves the wrong tarball for this version, exclude it or repair the source; from a git tag: what the tag's build packed (its package.json, or a pack script replacing the tarball) is another package or version, skip the version in the source's versions: or fix the tag",
      });
    }
  }

  /** One npm version is one PUT carrying the tarball, its own package.json as the manifest. */
  async publishAsset(req: PublishRequest): Promise<PublishResult> {
    const manifest = await readTarballManifest(req.asset.path, `${req.name}@${req.version}`);
    // an odd tag is the tag sync's to copy (or say why not), never a reason to refuse the version
    const tag = req.distTag !== undefined && npmMakesTag(req.distTag) ? req.distTag : BACKFILL_TAG;
    return this.publish(req.name, req.version, manifest, { path: req.asset.path, size: req.asset.size, sha1: req.asset.hashes.sha1, sha512: req.asset.hashes.sha512 }, tag, req.signal);
  }

  /**
   * Make the target's dist-tags exactly the source's, and its deprecation
   * messages the source's. A tag that points at a version the target does not
   * hold (excluded, failed) is left alone and said.
   */
  async syncMetadata(name: string, plan: MetadataPlan, opts: { dryRun: boolean; retry: <T>(fn: () => Promise<T>) => Promise<T> }): Promise<{ changes: string[]; skipped: string[] }> {
    const changes: string[] = [];
    const skipped: string[] = [];
    const current = await opts.retry(() => this.distTags(name));
    for (const [tag, version] of Object.entries(plan.distTags)) {
      if (unsendableDistTag(tag)) {
        skipped.push(`dist-tag ${JSON.stringify(tag)} -> ${version}: not a name the dist-tags URL can carry (it would name another path of the package), so it is not copied: rename it at the source, or list it in filters.ignoreDistTags`);
        continue;
      }
      if (!plan.onTarget.has(version) && !plan.toPublish?.has(version)) {
        skipped.push(`dist-tag ${tag} -> ${version}: that version is not on the target (excluded, removed or failed); include it, move the tag at the source, or list "${tag}" in filters.ignoreDistTags`);
        continue;
      }
      const now = Object.hasOwn(current, tag) ? current[tag] : undefined;
      if (now === version) continue;
      changes.push(`dist-tag ${tag}: ${now ?? '(none)'} -> ${version}`);
      if (!opts.dryRun) await opts.retry(() => this.setDistTag(name, tag, version));
    }
    for (const tag of Object.keys(current)) {
      // npm registries refuse to remove `latest`; it is moved above when the source has one.
      // own keys only: a target tag named `constructor` or `toString` is no tag of the source
      if (Object.hasOwn(plan.distTags, tag) || tag === 'latest' || plan.ignore?.has(tag) || unsendableDistTag(tag)) continue;
      changes.push(`dist-tag ${tag}: removed (not on the source)`);
      if (!opts.dryRun) await opts.retry(() => this.deleteDistTag(name, tag));
    }
    const { changed: deprecated, unseen } = await opts.retry(() => this.syncDeprecations(name, plan.deprecations, opts.dryRun, plan.toPublish));
    for (const v of deprecated) changes.push(`deprecation of ${v}: ${plan.deprecations.get(v) ? 'set' : 'cleared'}`);
    if (unseen.length > 0) {
      // on the target (ListPackageVersions) but not in its packument: a cache that lags the
      // publish. Never called in sync, or the deprecation would stay off it on every rerun
      const shown = unseen.slice(0, 5).join(', ') + (unseen.length > 5 ? ` and ${unseen.length - 5} more` : '');
      skipped.push(`deprecation of ${shown}: the target's packument does not list ${unseen.length === 1 ? 'this version' : 'these versions'} yet (a cache lagging the publish), so ${unseen.length === 1 ? 'its deprecation' : 'their deprecations'} could not be read or set; rerun later`);
    }
    return { changes, skipped };
  }

  /** Publish one version; `tag` is the dist-tag sent with it. */
  async publish(name: string, version: string, manifest: Manifest, blob: NpmBlob, tag: string, signal?: AbortSignal): Promise<PublishResult> {
    const subject = `${name}@${version}`;
    const endpoint = await this.endpoint();
    const file = `${name.startsWith('@') ? name.split('/')[1] : name}-${version}.tgz`;
    const versionDoc = {
      ...manifest,
      // the registry's spelling of the version, which an old tarball may write loosely
      version,
      _id: subject,
      dist: {
        integrity: sriFromSha512Hex(blob.sha512),
        shasum: blob.sha1,
        tarball: `${endpoint}${escapeName(name)}/-/${file}`,
      },
    };
    const head = JSON.stringify({
      _id: name,
      name,
      ...(typeof manifest.description === 'string' ? { description: manifest.description } : {}),
      'dist-tags': { [tag]: version },
      versions: { [version]: versionDoc },
    });
    const prefix = `${head.slice(0, -1)},"_attachments":{${JSON.stringify(file)}:{"content_type":"application/octet-stream","data":"`;
    const suffix = `","length":${blob.size}}}}`;
    const length = Buffer.byteLength(prefix) + 4 * Math.ceil(blob.size / 3) + Buffer.byteLength(suffix);
    let res: HttpResponse;
    try {
      res = await this.send('publish', PUBLISH, subject, {
        method: 'PUT',
        url: `${endpoint}${escapeName(name)}`,
        headers: { 'content-type': 'application/json', 'content-length': String(length), 'npm-command': 'publish' },
        body: () => Readable.from(publishBody(prefix, blob.path, suffix, subject)),
        signal,
      });
    } catch (e) {
      const err = e instanceof MigrateError ? e : new MigrateError('ETARGET', toError(e).message, { cause: e, subject });
      // Throttles and auth failures were refused before anything was stored; anything else may have landed.
      if (err.code === 'ETHROTTLED' || err.code === 'ETARGETAUTH' || err.code === 'ETARGETCREDENTIALS') throw err;
      return { kind: 'unknown', error: err };
    }
    if (res.status >= 200 && res.status < 300) return { kind: 'published' };
    if (res.status === 409) return { kind: 'exists' };
    throw new MigrateError('ETARGETREJECTED', `${subject}: the npm endpoint refused the publish (HTTP ${res.status}): ${excerpt(res.body)}`, {
      subject,
      status: res.status,
      hint: 'read the message above; nothing was stored',
    });
  }

  async distTags(name: string): Promise<Record<string, string>> {
    const endpoint = await this.endpoint();
    const res = await this.send('dist-tags', READ, name, { method: 'GET', url: `${endpoint}-/package/${escapeName(name)}/dist-tags` });
    if (res.status === 404) return {};
    this.expectOk(res, name, 'reading dist-tags');
    const tags = parseJson(res.body, name);
    // a map of tag to version, or what it answered says nothing of the tags (and its keys are no tags to remove)
    if (!isRecord(tags) || Object.values(tags).some((v) => typeof v !== 'string')) {
      throw new MigrateError('ETARGET', `${name}: the npm endpoint's dist-tags are not a map of tag names to versions: ${excerpt(res.body, 120)}`, { subject: name, hint: 'something in front of CodeArtifact may be answering for it (a proxy, AWS_ENDPOINT_URL_*); rerun once it answers as the service does' });
    }
    return tags as Record<string, string>;
  }

  async setDistTag(name: string, tag: string, version: string): Promise<void> {
    const endpoint = await this.endpoint();
    const res = await this.send('dist-tag', WRITE, name, {
      method: 'PUT',
      url: `${endpoint}-/package/${escapeName(name)}/dist-tags/${encodeURIComponent(tag)}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(version),
    });
    this.expectOk(res, `${name}@${version}`, `setting dist-tag ${tag}`);
  }

  async deleteDistTag(name: string, tag: string): Promise<void> {
    const endpoint = await this.endpoint();
    const res = await this.send('dist-tag', WRITE, name, { method: 'DELETE', url: `${endpoint}-/package/${escapeName(name)}/dist-tags/${encodeURIComponent(tag)}` });
    if (res.status === 404) return;
    this.expectOk(res, name, `removing dist-tag ${tag}`);
  }

  /**
   * The target's packument, or undefined when the package is not there. Read as `npm deprecate`
   * reads what it PUTs back (CODEARTIFACT.md): `?write=true` asks for the document itself, never
   * a cached copy, which may lag a publish or the dist-tags just set (and PUT back, revert them).
   */
  async packument(name: string): Promise<{ versions?: Record<string, Record<string, unknown>> } & Record<string, unknown> | undefined> {
    const endpoint = await this.endpoint();
    const res = await this.send('packument', READ, name, { method: 'GET', url: `${endpoint}${escapeName(name)}?write=true`, headers: { accept: 'application/json' } });
    if (res.status === 404) return undefined;
    this.expectOk(res, name, 'reading the packument');
    const doc = parseJson(res.body, name);
    // what is PUT back: an object whose `versions` maps each version to an object, or it is no packument
    if (!isRecord(doc) || (doc.versions !== undefined && (!isRecord(doc.versions) || !Object.values(doc.versions).every(isRecord)))) {
      throw new MigrateError('ETARGET', `${name}: the npm endpoint's packument has no "versions" object of version documents: ${excerpt(res.body, 120)}`, { subject: name, hint: 'something in front of CodeArtifact may be answering for it (a proxy, AWS_ENDPOINT_URL_*); rerun once it answers as the service does' });
    }
    return doc as never;
  }

  /**
   * Make the target's deprecation messages equal `wanted` (version -> message,
   * or '' for not deprecated), as `npm deprecate` does: PUT the whole packument
   * back with the `deprecated` fields changed. Returns the versions changed, and
   * those of `wanted` the packument does not list (yet): nothing could be set on them.
   */
  async syncDeprecations(name: string, wanted: Map<string, string>, dryRun: boolean, toPublish?: ReadonlySet<string>): Promise<{ changed: string[]; unseen: string[] }> {
    const doc = await this.packument(name);
    const versions = doc?.versions ?? {};
    const changed: string[] = [];
    const unseen: string[] = [];
    for (const [version, message] of wanted) {
      const v = Object.hasOwn(versions, version) ? versions[version] : undefined;
      if (!v) {
        // a dry run's version to publish: the run publishes it undeprecated, then sets the source's message
        if (dryRun && toPublish?.has(version)) {
          if (message) changed.push(version);
          continue;
        }
        unseen.push(version);
        continue;
      }
      const current = typeof v.deprecated === 'string' ? v.deprecated : '';
      if (current === message) continue;
      v.deprecated = message;
      changed.push(version);
    }
    if (changed.length === 0 || dryRun || !doc) return { changed, unseen };
    delete doc._attachments;
    const endpoint = await this.endpoint();
    const res = await this.send('deprecate', WRITE, name, {
      method: 'PUT',
      url: `${endpoint}${escapeName(name)}`,
      headers: { 'content-type': 'application/json', 'npm-command': 'deprecate' },
      body: JSON.stringify(doc),
    });
    this.expectOk(res, name, 'updating deprecations');
    return { changed, unseen };
  }

  private expectOk(res: HttpResponse, subject: string, what: string): void {
    if (res.status >= 200 && res.status < 300) return;
    throw new MigrateError('ETARGETREJECTED', `${subject}: ${what} failed (HTTP ${res.status}): ${excerpt(res.body)}`, { subject, status: res.status });
  }

  /** One request to the npm endpoint: rate-limited, with the cached token (endpoint.ts: the 401-once retry, the status mapping). */
  private send(
    what: string,
    buckets: readonly BucketName[],
    subject: string,
    req: { method: string; url: string; headers?: Record<string, string>; body?: string | (() => Readable); signal?: AbortSignal },
  ): Promise<HttpResponse> {
    return this.client.send(what, buckets, subject, req);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(body: string, subject: string): unknown {
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new MigrateError('ETARGET', `${subject}: the npm endpoint answered with something that is not JSON`, { subject, cause: e });
  }
}
