/**
 * The CodeArtifact control plane (restJson1) for the operations the migration uses.
 *
 * Paths, query parameter names, member names and error types follow the service model,
 * botocore `botocore/data/codeartifact/2018-09-22/service-2.json`, as serialised by
 * @aws-sdk/client-codeartifact 3.x: every input member travels in the query string
 * (`domain`, `domain-owner`, `repository`, `format`, `namespace`, `package`, `version`,
 * `max-results`, `next-token`, ...), outputs are JSON bodies, timestamps are epoch seconds
 * (restJson1's default timestamp format, which the SDK turns into Date).
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  ASSET_NAME,
  assetSummary,
  checkDomain,
  checkGenericAssetName,
  displayName,
  epochSeconds,
  FORMATS,
  jsonBody,
  ok,
  ORIGIN_TYPES,
  packageOf,
  packageRefOf,
  PACKAGE_PART,
  paginate,
  Params,
  repositoryOf,
  RESTRICTIONS,
  SHA256_HEX,
  STATUSES,
  versionOf,
} from './api-input.js';
import { accessDenied, ApiError, conflict, notFound, serviceQuota, validation } from './errors.js';
import {
  createPackageGroup,
  describePackageGroup,
  getAssociatedPackageGroup,
  listAllowedRepositoriesForGroup,
  listPackageGroups,
  updatePackageGroupOriginConfiguration,
} from './package-groups.js';
import {
  associateExternalConnection,
  createRepository,
  describeRepository,
  disassociateExternalConnection,
  listRepositoriesInDomain,
  updateRepository,
} from './repositories.js';
import type { IncomingCall, Reply, ResolvedRoute, StandInContext } from './route.js';
import { MAX_ASSETS_PER_VERSION, type PackageRecord, type VersionRecord } from './store.js';
import type { OriginRestriction, QuotaName } from './types.js';
import { assetsAvailable, deletePackageVersions, disposePackageVersions, updatePackageVersionsStatus } from './version-status.js';

export type Handler = (ctx: StandInContext, q: Params, call: IncomingCall) => Reply;

interface Operation {
  method: string;
  path: string;
  name: string;
  quotas: QuotaName[];
  handler: Handler;
}

const originConfiguration = (pkg: PackageRecord): unknown => ({ restrictions: { ...pkg.restrictions } });

/** defaultDisplayVersion: npm's `latest` tag, else (and for other formats) the most recently published version. */
function defaultDisplayVersion(pkg: PackageRecord): string | undefined {
  const latest = pkg.format === 'npm' ? pkg.distTags.get('latest') : undefined;
  if (latest !== undefined) return latest;
  let newest: VersionRecord | undefined;
  for (const v of pkg.versions.values()) if (newest === undefined || v.publishedTime >= newest.publishedTime) newest = v;
  return newest?.version;
}

const getAuthorizationToken: Handler = (ctx, q) => {
  checkDomain(ctx, q);
  // AuthorizationTokenDurationSeconds: 0 (= the role session's expiry) or 900..43200 (API reference, GetAuthorizationToken).
  const duration = q.int('duration', 0, 43200) ?? 0;
  if (duration > 0 && duration < 900) {
    throw validation(`Invalid duration ${duration}: must be 0 or between 900 and 43200 seconds.`);
  }
  const { token, expiration } = ctx.issueToken(duration);
  return ok({ authorizationToken: token, expiration: epochSeconds(expiration) });
};

const getRepositoryEndpoint: Handler = (ctx, q) => {
  const repo = repositoryOf(ctx, q);
  const format = q.oneOf('format', FORMATS, true);
  q.oneOf('endpointType', ['ipv4', 'dualstack'] as const);
  return ok({ repositoryEndpoint: ctx.endpointUrl(format, repo) });
};

const listPackages: Handler = (ctx, q) => {
  const repo = repositoryOf(ctx, q);
  const format = q.oneOf('format', FORMATS);
  // `namespace` filters by prefix although it is not called namespace-prefix (API reference, ListPackages).
  const namespacePrefix = q.optional('namespace', PACKAGE_PART);
  const packagePrefix = q.optional('package-prefix', PACKAGE_PART);
  const publish = q.oneOf('publish', RESTRICTIONS);
  const upstream = q.oneOf('upstream', RESTRICTIONS);
  const matching = ctx.store.listPackages(repo).filter(
    (p) =>
      (format === undefined || p.format === format) &&
      (namespacePrefix === undefined || (p.namespace ?? '').startsWith(namespacePrefix)) &&
      (packagePrefix === undefined || p.name.startsWith(packagePrefix)) &&
      (publish === undefined || p.restrictions.publish === publish) &&
      (upstream === undefined || p.restrictions.upstream === upstream),
  );
  const { page, nextToken } = paginate(matching, q);
  return ok({
    packages: page.map((p) => ({ format: p.format, namespace: p.namespace, package: p.name, originConfiguration: originConfiguration(p) })),
    nextToken,
  });
};

const describePackage: Handler = (ctx, q) => {
  const { pkg } = packageOf(ctx, q);
  return ok({ package: { format: pkg.format, namespace: pkg.namespace, name: pkg.name, originConfiguration: originConfiguration(pkg) } });
};

const putPackageOriginConfiguration: Handler = (ctx, q, call) => {
  const ref = packageRefOf(ctx, q);
  const body = jsonBody(call.body);
  const r = (body as { restrictions?: { publish?: unknown; upstream?: unknown } }).restrictions;
  const valid = (v: unknown): v is OriginRestriction => v === 'ALLOW' || v === 'BLOCK';
  if (r === undefined || !valid(r.publish) || !valid(r.upstream)) {
    throw validation('restrictions.publish and restrictions.upstream are required and must be ALLOW or BLOCK.');
  }
  // Called on a package that does not exist, it creates the package with no versions
  // (API reference, PutPackageOriginConfiguration).
  const pkg = ctx.store.ensurePackage(ref.repo, ref.format, ref.namespace, ref.name, { publish: r.publish, upstream: r.upstream });
  pkg.restrictions = { publish: r.publish, upstream: r.upstream };
  return ok({ originConfiguration: originConfiguration(pkg) });
};

const listPackageVersions: Handler = (ctx, q) => {
  const { pkg } = packageOf(ctx, q);
  const status = q.oneOf('status', STATUSES);
  const originType = q.oneOf('originType', ORIGIN_TYPES);
  const sortBy = q.oneOf('sortBy', ['PUBLISHED_TIME'] as const);
  let versions = [...pkg.versions.values()].filter(
    (v) => (status === undefined || v.status === status) && (originType === undefined || v.origin.originType === originType),
  );
  if (sortBy === 'PUBLISHED_TIME') versions = versions.sort((a, b) => a.publishedTime.getTime() - b.publishedTime.getTime());
  const { page, nextToken } = paginate(versions, q);
  return ok({
    defaultDisplayVersion: defaultDisplayVersion(pkg),
    format: pkg.format,
    namespace: pkg.namespace,
    package: pkg.name,
    versions: page.map((v) => ({ version: v.version, revision: v.revision, status: v.status, origin: structuredClone(v.origin) })),
    nextToken,
  });
};

const listPackageVersionAssets: Handler = (ctx, q) => {
  const { pkg, version } = versionOf(ctx, q);
  const { page, nextToken } = paginate(version.assets, q);
  return ok({
    format: pkg.format,
    namespace: pkg.namespace,
    package: pkg.name,
    version: version.version,
    versionRevision: version.revision,
    assets: page.map(assetSummary),
    nextToken,
  });
};

/** What DescribePackageVersion shows of a version's metadata: npm's manifest or the PyPI upload form's fields. */
function versionMetadata(version: VersionRecord): { summary?: string; homePage?: string; sourceCodeRepository?: string; license?: string } {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  if (version.pypiMetadata !== undefined) {
    const field = (name: string): string | undefined => str(version.pypiMetadata?.[name]?.[0]);
    return { summary: field('summary'), homePage: field('home_page'), license: field('license') };
  }
  const manifest = version.npmManifest ?? {};
  const repository = manifest['repository'];
  return {
    summary: str(manifest['description']),
    homePage: str(manifest['homepage']),
    sourceCodeRepository: str(repository) ?? str((repository as { url?: unknown } | undefined)?.url),
    license: str(manifest['license']),
  };
}

const describePackageVersion: Handler = (ctx, q) => {
  const { ref, pkg, version } = versionOf(ctx, q);
  const meta = versionMetadata(version);
  return ok({
    packageVersion: {
      format: pkg.format,
      namespace: pkg.namespace,
      packageName: pkg.name,
      displayName: displayName(ref),
      version: version.version,
      summary: meta.summary,
      homePage: meta.homePage,
      sourceCodeRepository: meta.sourceCodeRepository,
      publishedTime: epochSeconds(version.publishedTime),
      licenses: meta.license === undefined ? [] : [{ name: meta.license }],
      revision: version.revision,
      status: version.status,
      origin: structuredClone(version.origin),
    },
  });
};

const getPackageVersionAsset: Handler = (ctx, q) => {
  const { pkg, version } = versionOf(ctx, q);
  const assetName = q.required('asset', ASSET_NAME);
  const revision = q.optional('revision');
  if (revision !== undefined && revision !== version.revision) {
    throw notFound(`Revision '${revision}' of package version '${version.version}' not found.`, 'package-version', version.version);
  }
  const asset = assetsAvailable(version.status) ? version.assets.find((a) => a.name === assetName) : undefined;
  if (asset === undefined) {
    const why = assetsAvailable(version.status) ? '' : ` (the version is ${version.status})`;
    throw notFound(`Asset '${assetName}' not found in package version '${pkg.name}@${version.version}'${why}.`, 'asset', assetName);
  }
  return {
    status: 200,
    headers: {
      'content-type': 'application/octet-stream',
      'x-assetname': asset.name,
      'x-packageversion': version.version,
      'x-packageversionrevision': version.revision,
    },
    bytes: ctx.store.readAsset(asset),
  };
};

const publishPackageVersion: Handler = (ctx, q, call) => {
  const ref = packageRefOf(ctx, q);
  // "The only supported value is generic" (API reference, PublishPackageVersion: format); the other
  // formats are published with their package managers.
  if (ref.format !== 'generic') throw validation(`PublishPackageVersion supports only the generic format, not '${ref.format}'.`);
  // The namespace is required for generic packages (model: PackageNamespace documentation).
  if (ref.namespace === undefined) throw validation("1 validation error detected: Value null at 'namespace' failed to satisfy constraint: Member must not be null");
  const versionName = q.required('version', PACKAGE_PART);
  const assetName = q.required('asset', ASSET_NAME);
  checkGenericAssetName(assetName);
  const unfinished = q.optional('unfinished') === 'true';
  const declared = call.headers['x-amz-content-sha256'];
  if (typeof declared !== 'string' || !SHA256_HEX.test(declared)) {
    throw validation("1 validation error detected: Value at 'assetSHA256' failed to satisfy constraint: Member must be 64 lowercase hex characters");
  }
  const actual = createHash('sha256').update(call.body).digest('hex');
  // assetSHA256 is "used as an integrity check to verify that the assetContent has not changed".
  if (actual !== declared) throw validation(`The SHA256 of the asset content (${actual}) does not match assetSHA256 (${declared}).`);

  const pkg = ctx.store.getPackage(ref.repo, ref.format, ref.namespace, ref.name);
  const existing = pkg?.versions.get(versionName);
  const existingAsset = existing?.assets.find((a) => a.name === assetName);
  const id = `${displayName(ref)}@${versionName}`;
  // Overwriting package assets (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-publishing-overwrite-assets):
  // an existing asset may be published again only with identical content, else 409; a new asset may be
  // added to a generic package version only while it is Unfinished.
  if (existingAsset !== undefined && existingAsset.hashes['SHA-256'] !== actual) {
    throw conflict(`Asset '${assetName}' of ${id} already exists with different content.`, 'asset', assetName);
  }
  if (existing !== undefined && existingAsset === undefined && existing.status !== 'Unfinished') {
    throw conflict(`Package version ${id} is ${existing.status}; assets can be added only while it is Unfinished.`, 'package-version', versionName);
  }
  if (existing !== undefined && existingAsset === undefined && existing.assets.length >= MAX_ASSETS_PER_VERSION) {
    // 150 assets per package version (https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html);
    // which error the service sends past it is not documented: the model's quota error.
    throw serviceQuota(`Package version ${id} already has ${MAX_ASSETS_PER_VERSION} assets, the most a version may have.`, 'asset', assetName);
  }
  if (existing === undefined && !ctx.origins.allowed(ref.repo, { format: ref.format, namespace: ref.namespace, name: ref.name }, 'PUBLISH')) {
    // Origin controls (the package's or its group's) refuse new versions. The exact error the service sends is not documented.
    throw accessDenied(`Publishing new versions of '${displayName(ref)}' to '${ref.repo}' is blocked by its origin controls.`);
  }

  const target = pkg ?? ctx.store.ensurePackage(ref.repo, ref.format, ref.namespace, ref.name);
  const asset = existingAsset ?? ctx.store.putAsset(assetName, call.body);
  let version = existing;
  if (version === undefined) {
    version = ctx.store.addVersion(target, { version: versionName, status: unfinished ? 'Unfinished' : 'Published', assets: [asset] });
  } else if (existingAsset === undefined || (version.status === 'Unfinished' && !unfinished)) {
    if (existingAsset === undefined) version.assets.push(asset);
    // Omitting `unfinished` on the last asset sets the status to Published; it never goes back.
    if (!unfinished) version.status = 'Published';
    ctx.store.touch(target, version);
  }
  return ok({
    format: target.format,
    namespace: target.namespace,
    package: target.name,
    version: version.version,
    versionRevision: version.revision,
    status: version.status,
    asset: assetSummary(asset),
  });
};

const OPERATIONS: Operation[] = [
  { method: 'POST', path: '/v1/authorization-token', name: 'GetAuthorizationToken', quotas: ['authorizationToken', 'reads'], handler: getAuthorizationToken },
  { method: 'GET', path: '/v1/repository/endpoint', name: 'GetRepositoryEndpoint', quotas: ['reads'], handler: getRepositoryEndpoint },
  { method: 'POST', path: '/v1/repository', name: 'CreateRepository', quotas: ['writes'], handler: createRepository },
  { method: 'GET', path: '/v1/repository', name: 'DescribeRepository', quotas: ['reads'], handler: describeRepository },
  { method: 'PUT', path: '/v1/repository', name: 'UpdateRepository', quotas: ['writes'], handler: updateRepository },
  { method: 'POST', path: '/v1/domain/repositories', name: 'ListRepositoriesInDomain', quotas: ['reads'], handler: listRepositoriesInDomain },
  { method: 'POST', path: '/v1/repository/external-connection', name: 'AssociateExternalConnection', quotas: ['writes'], handler: associateExternalConnection },
  { method: 'DELETE', path: '/v1/repository/external-connection', name: 'DisassociateExternalConnection', quotas: ['writes'], handler: disassociateExternalConnection },
  { method: 'POST', path: '/v1/packages', name: 'ListPackages', quotas: ['listPackages', 'reads'], handler: listPackages },
  { method: 'GET', path: '/v1/package', name: 'DescribePackage', quotas: ['reads'], handler: describePackage },
  { method: 'POST', path: '/v1/package', name: 'PutPackageOriginConfiguration', quotas: ['writes'], handler: putPackageOriginConfiguration },
  { method: 'POST', path: '/v1/package/versions', name: 'ListPackageVersions', quotas: ['listVersions', 'reads'], handler: listPackageVersions },
  { method: 'POST', path: '/v1/package/version/assets', name: 'ListPackageVersionAssets', quotas: ['listAssets', 'reads'], handler: listPackageVersionAssets },
  { method: 'GET', path: '/v1/package/version', name: 'DescribePackageVersion', quotas: ['reads'], handler: describePackageVersion },
  { method: 'GET', path: '/v1/package/version/asset', name: 'GetPackageVersionAsset', quotas: ['getAsset', 'reads'], handler: getPackageVersionAsset },
  { method: 'POST', path: '/v1/package/version/publish', name: 'PublishPackageVersion', quotas: ['publish', 'writes'], handler: publishPackageVersion },
  { method: 'POST', path: '/v1/package/versions/update_status', name: 'UpdatePackageVersionsStatus', quotas: ['writes'], handler: updatePackageVersionsStatus },
  { method: 'POST', path: '/v1/package/versions/dispose', name: 'DisposePackageVersions', quotas: ['writes'], handler: disposePackageVersions },
  { method: 'POST', path: '/v1/package/versions/delete', name: 'DeletePackageVersions', quotas: ['writes'], handler: deletePackageVersions },
  { method: 'POST', path: '/v1/package-group', name: 'CreatePackageGroup', quotas: ['writes'], handler: createPackageGroup },
  { method: 'GET', path: '/v1/package-group', name: 'DescribePackageGroup', quotas: ['reads'], handler: describePackageGroup },
  { method: 'POST', path: '/v1/package-groups', name: 'ListPackageGroups', quotas: ['reads'], handler: listPackageGroups },
  {
    method: 'PUT',
    path: '/v1/package-group-origin-configuration',
    name: 'UpdatePackageGroupOriginConfiguration',
    quotas: ['writes'],
    handler: updatePackageGroupOriginConfiguration,
  },
  { method: 'GET', path: '/v1/get-associated-package-group', name: 'GetAssociatedPackageGroup', quotas: ['reads'], handler: getAssociatedPackageGroup },
  {
    method: 'GET',
    path: '/v1/package-group-allowed-repositories',
    name: 'ListAllowedRepositoriesForGroup',
    quotas: ['reads'],
    handler: listAllowedRepositoriesForGroup,
  },
];

/** The control-plane route for a call, or undefined when the path is not a known operation. */
export function resolveControlPlane(ctx: StandInContext, call: IncomingCall): ResolvedRoute | undefined {
  const op = OPERATIONS.find((o) => o.method === call.method && o.path === call.url.pathname);
  if (op === undefined) return undefined;
  const search = call.url.searchParams;
  const version = search.get('version');
  return {
    kind: 'control',
    operation: op.name,
    subject: {
      repository: search.get('repository') ?? undefined,
      format: search.get('format') ?? undefined,
      namespace: search.get('namespace') ?? undefined,
      package: search.get('package') ?? undefined,
      versions: version === null ? bodyVersions(call.body) : [version],
    },
    quotas: op.quotas,
    handle: () => op.handler(ctx, new Params(search), call),
  };
}

/** Operations on several versions name them in the body (`versions`, `versionRevisions`), for the log and faults. */
function bodyVersions(body: Buffer): string[] {
  if (body.length === 0 || body.length > 1 << 20) return [];
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { versions?: unknown; versionRevisions?: unknown };
    const listed = Array.isArray(parsed.versions) ? parsed.versions.filter((v): v is string => typeof v === 'string') : [];
    const revised = typeof parsed.versionRevisions === 'object' && parsed.versionRevisions !== null ? Object.keys(parsed.versionRevisions) : [];
    return [...new Set([...listed, ...revised])];
  } catch {
    return [];
  }
}

/**
 * restJson1 error: the SDK reads the type from `x-amzn-errortype` and the members from the JSON
 * body, and ThrottlingException.retryAfterSeconds from the `Retry-After` header (model: httpHeader).
 */
export function controlPlaneError(err: ApiError): Reply {
  const headers: Record<string, string> = { 'x-amzn-errortype': err.type, 'x-amzn-requestid': randomUUID() };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  return { status: err.status, headers, json: { message: err.message, ...err.fields } };
}

export function unknownOperation(call: IncomingCall): ApiError {
  return new ApiError(404, 'UnknownOperationException', `No operation matches ${call.method} ${call.url.pathname}.`);
}
