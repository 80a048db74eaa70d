/**
 * The npm registry protocol of a repository endpoint, `<url>/d/<domain>-<owner>/npm/<repo>/`
 * (the service's is `https://<domain>-<owner>.d.codeartifact.<region>.amazonaws.com/npm/<repo>/`;
 * the stand-in moves the host part into the path so one loopback port serves everything).
 *
 * Requests carry `Authorization: Bearer <token from GetAuthorizationToken>`
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/npm-auth.html). What is served:
 * packument, tarball, publish (PUT with `_attachments`, as libnpmpublish sends it), metadata
 * update (PUT without attachments, as `npm deprecate` sends it) and dist-tags
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/npm-commands.html lists the supported commands).
 * A package's scope is its CodeArtifact namespace: `@acme/core` is namespace `acme`, package `core`.
 * Packuments and tarballs come through upstreams and external connections (fetch-through.ts).
 */
import { createHash } from 'node:crypto';
import { ApiError, accessDenied, conflict, notFound } from './errors.js';
import type { RequestTrace } from './external.js';
import { findNpmVersion, npmKey, npmVersionUpstream, npmView, retainNpm, type NpmVersionView } from './fetch-through.js';
import type { IncomingCall, Reply, ResolvedRoute, StandInContext, Subject } from './route.js';
import type { PackageRecord, VersionRecord } from './store.js';
import type { QuotaName } from './types.js';

const NPM_ASSET = 'package.tgz';
const NAME = /^(?:@([^/@\s]+)\/)?([^/@\s][^/\s]*)$/;

interface NpmName {
  full: string;
  namespace: string | undefined;
  /** the name without its scope */
  base: string;
}

function parseName(raw: string): NpmName | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw); // `@scope%2fname` as npm escapes it; `@scope/name` passes too
  } catch {
    return undefined;
  }
  const m = NAME.exec(decoded);
  if (m === null || m[2] === undefined) return undefined;
  return { full: decoded, namespace: m[1], base: m[2] };
}

const badRequest = (message: string): ApiError => new ApiError(400, 'ValidationException', message);
const tarballFile = (name: NpmName, version: string): string => `${name.base}-${version}.tgz`;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('Request body is not valid JSON.');
  }
}

interface NpmRoute {
  operation: string;
  name?: NpmName;
  versions: string[];
  quotas: QuotaName[];
  handle: (trace: RequestTrace) => Reply | Promise<Reply>;
}

/** The npm route for a call under `/d/`, or undefined when the path is not an npm endpoint of this domain. */
export function resolveNpm(ctx: StandInContext, call: IncomingCall): ResolvedRoute | undefined {
  const m = /^\/d\/([^/]+)\/npm\/([^/]+)\/(.*)$/.exec(call.url.pathname);
  if (m === null || m[1] !== `${ctx.domain}-${ctx.domainOwner}` || m[2] === undefined || m[3] === undefined) return undefined;
  const repo = m[2];
  const route = npmRoute(ctx, call, repo, m[3]);
  const subject: Subject = {
    repository: repo,
    format: 'npm',
    namespace: route.name?.namespace,
    package: route.name?.full,
    versions: route.versions,
  };
  return {
    kind: 'npm',
    operation: route.operation,
    subject,
    quotas: route.quotas,
    handle: (trace) => {
      if (!ctx.store.hasRepository(repo)) throw notFound(`Repository '${repo}' not found.`, 'repository', repo);
      return route.handle(trace);
    },
  };
}

function npmRoute(ctx: StandInContext, call: IncomingCall, repo: string, rest: string): NpmRoute {
  const unsupported: NpmRoute = {
    operation: 'npm:Unsupported',
    versions: [],
    quotas: ['reads'],
    handle: () => {
      throw notFound(`${call.method} /${rest} is not supported by this endpoint.`, 'package', rest);
    },
  };

  const tags = /^-\/package\/(.+?)\/dist-tags(?:\/([^/]+))?$/.exec(rest);
  if (tags !== null && tags[1] !== undefined) {
    const name = parseName(tags[1]);
    if (name === undefined) return unsupported;
    const tag = tags[2] === undefined ? undefined : decodeURIComponent(tags[2]);
    if (call.method === 'GET' && tag === undefined) {
      return { operation: 'npm:GetDistTags', name, versions: [], quotas: ['reads'], handle: () => getDistTags(ctx, repo, name) };
    }
    if (call.method === 'PUT' && tag !== undefined) {
      const body = safeJson(call.body);
      const versions = typeof body === 'string' ? [body] : [];
      return { operation: 'npm:PutDistTag', name, versions, quotas: ['writes'], handle: () => putDistTag(ctx, repo, name, tag, call.body) };
    }
    if (call.method === 'DELETE' && tag !== undefined) {
      return { operation: 'npm:DeleteDistTag', name, versions: [], quotas: ['writes'], handle: () => deleteDistTag(ctx, repo, name, tag) };
    }
    return unsupported;
  }

  const tarball = /^(.+?)\/-\/([^/]+\.tgz)$/.exec(rest);
  if (tarball !== null && tarball[1] !== undefined && tarball[2] !== undefined && call.method === 'GET') {
    const name = parseName(tarball[1]);
    if (name === undefined) return unsupported;
    const file = decodeURIComponent(tarball[2]);
    const prefix = `${name.base}-`;
    const versions = file.startsWith(prefix) ? [file.slice(prefix.length, -'.tgz'.length)] : [];
    return { operation: 'npm:GetTarball', name, versions, quotas: ['getAsset', 'reads'], handle: (trace) => getTarball(ctx, repo, name, versions[0], trace) };
  }

  const name = parseName(rest);
  if (name === undefined) return unsupported;
  if (call.method === 'GET') {
    return { operation: 'npm:GetPackument', name, versions: [], quotas: ['reads'], handle: (trace) => getPackument(ctx, repo, name, trace) };
  }
  if (call.method === 'PUT') {
    const body = safeJson(call.body);
    const versions = isObject(body) && isObject(body['versions']) ? Object.keys(body['versions']) : [];
    const attachments = isObject(body) && isObject(body['_attachments']) ? body['_attachments'] : {};
    if (Object.keys(attachments).length > 0) {
      return {
        operation: 'npm:Publish',
        name,
        versions,
        quotas: ['publish', 'writes'],
        handle: async (trace) => publish(ctx, repo, name, call.body, await versionsUpstream(ctx, repo, name, versions, trace)),
      };
    }
    return { operation: 'npm:UpdateMetadata', name, versions, quotas: ['writes'], handle: () => updateMetadata(ctx, repo, name, call.body) };
  }
  return unsupported;
}

function safeJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function packageOf(ctx: StandInContext, repo: string, name: NpmName): PackageRecord {
  const pkg = ctx.store.getPackage(repo, 'npm', name.namespace, name.base);
  // A package created by PutPackageOriginConfiguration has no versions: npm sees nothing yet.
  if (pkg === undefined || pkg.versions.size === 0) throw notFound(`Package '${name.full}' not found.`, 'package', name.full);
  return pkg;
}

function versionDocument(ctx: StandInContext, repo: string, name: NpmName, v: VersionRecord): Record<string, unknown> {
  const asset = v.assets.find((a) => a.name === NPM_ASSET);
  const doc: Record<string, unknown> = { ...(v.npmManifest ?? {}), name: name.full, version: v.version, _id: `${name.full}@${v.version}` };
  if (v.deprecated !== undefined) doc['deprecated'] = v.deprecated;
  if (asset !== undefined) {
    doc['dist'] = {
      tarball: tarballUrl(ctx, repo, name, v.version),
      shasum: asset.hashes['SHA-1'],
      integrity: `sha512-${Buffer.from(asset.hashes['SHA-512'], 'hex').toString('base64')}`,
    };
  }
  return doc;
}

const tarballUrl = (ctx: StandInContext, repo: string, name: NpmName, version: string): string =>
  `${ctx.endpointUrl('npm', repo)}${name.full}/-/${tarballFile(name, version)}`;

/**
 * A version the search order reaches but no repository holds yet, as the public registry describes
 * it; the tarball is fetched through this repository. Its hashes are the public registry's until
 * the version is ingested, then those of the bytes stored.
 */
function publicVersionDocument(ctx: StandInContext, repo: string, name: NpmName, version: string, doc: Record<string, unknown>): Record<string, unknown> {
  const dist = isObject(doc['dist']) ? doc['dist'] : {};
  return {
    ...doc,
    name: name.full,
    version,
    _id: `${name.full}@${version}`,
    dist: {
      tarball: tarballUrl(ctx, repo, name, version),
      ...(typeof dist['shasum'] === 'string' ? { shasum: dist['shasum'] } : {}),
      ...(typeof dist['integrity'] === 'string' ? { integrity: dist['integrity'] } : {}),
    },
  };
}

async function getPackument(ctx: StandInContext, repo: string, name: NpmName, trace: RequestTrace): Promise<Reply> {
  const view = await npmView(ctx, repo, name, trace);
  // A package created by PutPackageOriginConfiguration has no versions: npm sees nothing yet.
  if (view === undefined) throw notFound(`Package '${name.full}' not found.`, 'package', name.full);
  const versions: Record<string, unknown> = {};
  const time: Record<string, string> = { created: view.created.toISOString(), modified: view.modified.toISOString() };
  for (const [version, v] of view.versions as Map<string, NpmVersionView>) {
    if (v.kind === 'stored') {
      versions[version] = versionDocument(ctx, repo, name, v.record);
      time[version] = v.record.publishedTime.toISOString();
    } else {
      versions[version] = publicVersionDocument(ctx, repo, name, version, v.doc);
    }
  }
  return { status: 200, json: { _id: name.full, name: name.full, 'dist-tags': Object.fromEntries(view.distTags), versions, time } };
}

async function getTarball(ctx: StandInContext, repo: string, name: NpmName, version: string | undefined, trace: RequestTrace): Promise<Reply> {
  // Unlisted versions can still be installed by exact version; Archived and Disposed ones cannot.
  const found = version === undefined ? undefined : await findNpmVersion(ctx, repo, name, version, trace);
  if (version === undefined || found === undefined) {
    throw notFound(`Tarball of '${name.full}'${version === undefined ? '' : ` ${version}`} not found.`, 'asset', version ?? name.full);
  }
  retainNpm(ctx, repo, name, version, found);
  const bytes = found.kind === 'stored' ? ctx.store.readAsset(found.asset) : found.bytes;
  return { status: 200, headers: { 'content-type': 'application/octet-stream' }, bytes };
}

/**
 * "a version that exists in a reachable upstream (upstream ALLOW) is also refused with 409"
 * (CODEARTIFACT.md): which of the versions in a publish body are reachable through the
 * repository's upstreams or external connection. Only asked when the package is in the repository
 * already: a first publish creates it with upstream BLOCK.
 */
async function versionsUpstream(ctx: StandInContext, repo: string, name: NpmName, versions: string[], trace: RequestTrace): Promise<Set<string>> {
  const found = new Set<string>();
  const pkg = ctx.store.getPackage(repo, 'npm', name.namespace, name.base);
  if (pkg === undefined) return found;
  for (const v of versions) if (!pkg.versions.has(v) && (await npmVersionUpstream(ctx, repo, name, v, trace))) found.add(v);
  return found;
}

/** `dist.integrity` (SRI, possibly several space-separated hashes) and `dist.shasum` (hex SHA-1) must describe the bytes. */
function checkDist(id: string, dist: unknown, bytes: Buffer): void {
  if (!isObject(dist)) return;
  const integrity = dist['integrity'];
  if (typeof integrity === 'string') {
    for (const entry of integrity.trim().split(/\s+/)) {
      const m = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)/.exec(entry);
      if (m === null || m[1] === undefined) continue;
      const actual = createHash(m[1]).update(bytes).digest('base64');
      if (actual !== m[2]) throw badRequest(`${id}: dist.integrity ${entry} does not match the attached tarball (${m[1]}-${actual}).`);
    }
  }
  const shasum = dist['shasum'];
  if (typeof shasum === 'string') {
    const actual = createHash('sha1').update(bytes).digest('hex');
    if (actual !== shasum.toLowerCase()) throw badRequest(`${id}: dist.shasum ${shasum} does not match the attached tarball (${actual}).`);
  }
}

interface PublishPlan {
  version: string;
  manifest: Record<string, unknown>;
  bytes: Buffer;
  /** the same version is stored with identical bytes: nothing to write */
  identical: boolean;
}

function publish(ctx: StandInContext, repo: string, name: NpmName, raw: Buffer, upstreamVersions: ReadonlySet<string>): Reply {
  const body = parseJson(raw);
  if (!isObject(body)) throw badRequest('Publish body must be a JSON object.');
  if (body['name'] !== undefined && body['name'] !== name.full) throw badRequest(`Body name '${String(body['name'])}' does not match '${name.full}'.`);
  const versions = isObject(body['versions']) ? body['versions'] : {};
  const attachments = isObject(body['_attachments']) ? body['_attachments'] : {};
  const versionNames = Object.keys(versions);
  const pkg = ctx.store.getPackage(repo, 'npm', name.namespace, name.base);

  const plans: PublishPlan[] = [];
  for (const [file, attachment] of Object.entries(attachments)) {
    // libnpmpublish sends one version and one attachment named `<name>-<version>.tgz`.
    const version =
      versionNames.length === 1 ? versionNames[0] : versionNames.find((v) => file === `${name.full}-${v}.tgz` || file === tarballFile(name, v));
    const manifest = version === undefined ? undefined : versions[version];
    if (version === undefined || !isObject(manifest)) throw badRequest(`Attachment '${file}' matches no version in the body.`);
    if (manifest['version'] !== undefined && manifest['version'] !== version) throw badRequest(`versions['${version}'].version is '${String(manifest['version'])}'.`);
    if (!isObject(attachment) || typeof attachment['data'] !== 'string') throw badRequest(`Attachment '${file}' has no base64 data.`);
    const bytes = Buffer.from(attachment['data'], 'base64');
    if (typeof attachment['length'] === 'number' && attachment['length'] !== bytes.length) {
      throw badRequest(`Attachment '${file}' declares length ${attachment['length']} but holds ${bytes.length} bytes.`);
    }
    const id = `${name.full}@${version}`;
    checkDist(id, manifest['dist'], bytes);
    const stored = pkg?.versions.get(version)?.assets.find((a) => a.name === NPM_ASSET);
    const identical = stored !== undefined && stored.hashes['SHA-512'] === createHash('sha512').update(bytes).digest('hex');
    // Republishing identical bytes is accepted, other bytes under the same version are a 409
    // (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-publishing-overwrite-assets).
    if (stored !== undefined && !identical) throw conflict(`${id} already exists with different content.`, 'package-version', version);
    if (stored === undefined && !ctx.origins.allowed(repo, npmKey(name), 'PUBLISH')) {
      // Origin controls (the package's or its group's): the exact error is not documented.
      throw accessDenied(`Publishing new versions of '${name.full}' to '${repo}' is blocked by its origin controls.`);
    }
    if (stored === undefined && upstreamVersions.has(version)) {
      throw conflict(`${id} exists in an upstream repository or external connection of '${repo}'.`, 'package-version', version);
    }
    plans.push({ version, manifest, bytes, identical });
  }

  const distTags = isObject(body['dist-tags']) ? body['dist-tags'] : {};
  for (const [tag, version] of Object.entries(distTags)) {
    const known = typeof version === 'string' && (pkg?.versions.has(version) === true || plans.some((p) => p.version === version));
    if (!known) throw badRequest(`dist-tag '${tag}' points at unknown version '${String(version)}'.`);
  }

  // Everything is checked: apply.
  const target = pkg ?? ctx.store.ensurePackage(repo, 'npm', name.namespace, name.base);
  for (const plan of plans.filter((p) => !p.identical)) {
    const { dist: _dist, deprecated, ...manifest } = plan.manifest;
    ctx.store.addVersion(target, {
      version: plan.version,
      status: 'Published',
      assets: [ctx.store.putAsset(NPM_ASSET, plan.bytes)],
      npmManifest: manifest,
      ...(typeof deprecated === 'string' && deprecated !== '' ? { deprecated } : {}),
    });
  }
  for (const [tag, version] of Object.entries(distTags)) target.distTags.set(tag, version as string);
  return { status: 200, json: { ok: true, id: name.full } };
}

/** `npm deprecate` PUTs the whole packument back: only each listed version's `deprecated` is taken. */
function updateMetadata(ctx: StandInContext, repo: string, name: NpmName, raw: Buffer): Reply {
  const body = parseJson(raw);
  if (!isObject(body)) throw badRequest('Body must be a JSON object.');
  const pkg = packageOf(ctx, repo, name);
  const versions = isObject(body['versions']) ? body['versions'] : {};
  for (const [version, manifest] of Object.entries(versions)) {
    if (!pkg.versions.has(version) || !isObject(manifest)) throw badRequest(`Version '${version}' of '${name.full}' is not stored here.`);
  }
  for (const [version, manifest] of Object.entries(versions)) {
    const record = pkg.versions.get(version) as VersionRecord;
    const message = (manifest as Record<string, unknown>)['deprecated'];
    // An absent or empty `deprecated` removes the deprecation (that is how `npm deprecate <pkg> ""` undeprecates).
    const next = typeof message === 'string' && message !== '' ? message : undefined;
    if (next !== record.deprecated) {
      if (next === undefined) delete record.deprecated;
      else record.deprecated = next;
      ctx.store.touch(pkg, record);
    }
  }
  return { status: 200, json: { ok: true, id: name.full } };
}

function getDistTags(ctx: StandInContext, repo: string, name: NpmName): Reply {
  return { status: 200, json: Object.fromEntries(packageOf(ctx, repo, name).distTags) };
}

function putDistTag(ctx: StandInContext, repo: string, name: NpmName, tag: string, raw: Buffer): Reply {
  const pkg = packageOf(ctx, repo, name);
  const version = parseJson(raw); // npm sends the version as a JSON string
  if (typeof version !== 'string') throw badRequest('The body must be a JSON string naming a version.');
  if (!pkg.versions.has(version)) throw notFound(`Version '${version}' of '${name.full}' not found.`, 'package-version', version);
  pkg.distTags.set(tag, version);
  pkg.modifiedTime = new Date();
  return { status: 200, json: { ok: true, id: name.full, 'dist-tags': Object.fromEntries(pkg.distTags) } };
}

function deleteDistTag(ctx: StandInContext, repo: string, name: NpmName, tag: string): Reply {
  const pkg = packageOf(ctx, repo, name);
  if (!pkg.distTags.delete(tag)) throw notFound(`dist-tag '${tag}' of '${name.full}' not found.`, 'package', name.full);
  pkg.modifiedTime = new Date();
  return { status: 200, json: { ok: true, id: name.full, 'dist-tags': Object.fromEntries(pkg.distTags) } };
}

/** npm clients read `error` from a JSON body. */
export function npmError(err: ApiError): Reply {
  const headers: Record<string, string> = {};
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  return { status: err.status, headers, json: { error: err.message } };
}
