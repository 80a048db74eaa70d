/**
 * Package version statuses: what each lets clients see and fetch, and the two operations that
 * change them, UpdatePackageVersionsStatus and DisposePackageVersions.
 *
 * Statuses (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-version-status):
 * - Published: listed and downloadable;
 * - Unfinished: a generic (or Maven) version whose last asset has not been published yet;
 * - Unlisted: downloadable, but left out of the version lists package managers get;
 * - Archived: neither listed nor downloadable, restorable with UpdatePackageVersionsStatus;
 * - Disposed: not listed, its assets deleted for good;
 * - Deleted: gone, assets and all (DeletePackageVersions: the stand-in drops the record).
 * UpdatePackageVersionsStatus sets Published, Unlisted or Archived; Disposed only comes from
 * DisposePackageVersions; nothing goes back to Unfinished
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/update-package-version-status.html).
 * Model: `UpdatePackageVersionsStatus` = POST /v1/package/versions/update_status, query domain,
 * domain-owner, repository, format, namespace, package; body versions (required), versionRevisions,
 * expectedStatus, targetStatus (required); output successfulVersions {version: {revision, status}}
 * and failedVersions {version: {errorCode, errorMessage}}. `DisposePackageVersions` =
 * POST /v1/package/versions/dispose with the same shape minus targetStatus.
 */
import { jsonBody, ok, packageOf, STATUSES, type Params } from './api-input.js';
import { validation } from './errors.js';
import type { IncomingCall, Reply, StandInContext } from './route.js';
import type { PackageRecord, Store, VersionRecord } from './store.js';
import type { PackageVersionStatus } from './types.js';

/** Whether the version's assets can be fetched (GetPackageVersionAsset, tarball and file downloads). */
export const assetsAvailable = (status: PackageVersionStatus): boolean =>
  status === 'Published' || status === 'Unlisted' || status === 'Unfinished';

/** Whether package managers see the version in listings (npm packument, PyPI simple index). */
export const listedToClients = (status: PackageVersionStatus): boolean => status === 'Published';

/** What UpdatePackageVersionsStatus may set. */
const SETTABLE: readonly PackageVersionStatus[] = ['Published', 'Unlisted', 'Archived'];

type ErrorCode = 'ALREADY_EXISTS' | 'MISMATCHED_REVISION' | 'MISMATCHED_STATUS' | 'NOT_ALLOWED' | 'NOT_FOUND' | 'SKIPPED';

interface BatchOutcome {
  successfulVersions: Record<string, { revision: string; status: PackageVersionStatus }>;
  failedVersions: Record<string, { errorCode: ErrorCode; errorMessage: string }>;
}

/**
 * Set a version's status, as both operations and the stand-in's own helper do. Disposing deletes
 * the assets ("the assets have been deleted from the repository"); the revision changes with any change.
 */
export function applyStatus(store: Store, pkg: PackageRecord, version: VersionRecord, status: PackageVersionStatus): void {
  if (version.status === status) return;
  version.status = status;
  if (status === 'Disposed') version.assets = [];
  store.touch(pkg, version);
}

interface BatchRequest {
  versions: string[];
  versionRevisions: Record<string, string>;
  expectedStatus?: PackageVersionStatus;
}

function batchRequest(body: Record<string, unknown>): BatchRequest {
  const isStatus = (v: unknown): v is PackageVersionStatus => typeof v === 'string' && (STATUSES as readonly string[]).includes(v);
  const versions = body['versions'];
  if (!Array.isArray(versions) || versions.length === 0 || !versions.every((v) => typeof v === 'string')) {
    // `versions` is a required member of both requests in the model.
    throw validation("1 validation error detected: Value null at 'versions' failed to satisfy constraint: Member must not be null");
  }
  const revisions = body['versionRevisions'] ?? {};
  if (typeof revisions !== 'object' || revisions === null || Array.isArray(revisions) || !Object.values(revisions).every((r) => typeof r === 'string')) {
    throw validation('versionRevisions must map versions to revision strings.');
  }
  const expected = body['expectedStatus'];
  if (expected !== undefined && !isStatus(expected)) throw validation(`Value '${String(expected)}' at 'expectedStatus' is not a package version status.`);
  return { versions: versions as string[], versionRevisions: revisions as Record<string, string>, ...(expected === undefined ? {} : { expectedStatus: expected }) };
}

/**
 * Each version on its own: missing, another revision than asked, another status than expected,
 * or not allowed, it goes to failedVersions and the others still change.
 */
function runBatch(
  ctx: StandInContext,
  q: Params,
  body: Record<string, unknown>,
  target: PackageVersionStatus,
  allowed: (from: PackageVersionStatus) => boolean,
): BatchOutcome {
  const { pkg } = packageOf(ctx, q);
  const request = batchRequest(body);
  const outcome: BatchOutcome = { successfulVersions: {}, failedVersions: {} };
  const names = [...new Set([...request.versions, ...Object.keys(request.versionRevisions)])];
  for (const name of names) {
    const version = pkg.versions.get(name);
    const wantedRevision = request.versionRevisions[name];
    if (version === undefined || version.status === 'Deleted') {
      outcome.failedVersions[name] = { errorCode: 'NOT_FOUND', errorMessage: `Package version ${name} not found.` };
    } else if (wantedRevision !== undefined && wantedRevision !== version.revision) {
      outcome.failedVersions[name] = { errorCode: 'MISMATCHED_REVISION', errorMessage: `Package version ${name} has revision ${version.revision}, not ${wantedRevision}.` };
    } else if (request.expectedStatus !== undefined && request.expectedStatus !== version.status) {
      outcome.failedVersions[name] = { errorCode: 'MISMATCHED_STATUS', errorMessage: `Package version ${name} is ${version.status}, not ${request.expectedStatus}.` };
    } else if (!allowed(version.status)) {
      outcome.failedVersions[name] = { errorCode: 'NOT_ALLOWED', errorMessage: `Package version ${name} is ${version.status} and cannot become ${target}.` };
    } else {
      applyStatus(ctx.store, pkg, version, target);
      outcome.successfulVersions[name] = { revision: version.revision, status: version.status };
    }
  }
  return outcome;
}

export function updatePackageVersionsStatus(ctx: StandInContext, q: Params, call: IncomingCall): Reply {
  const body = jsonBody(call.body);
  const target = body['targetStatus'];
  if (typeof target !== 'string' || !(SETTABLE as readonly string[]).includes(target)) {
    // Unfinished, Disposed and Deleted cannot be set here (user guide, above). Whether the service
    // refuses the request or each version is not documented: the stand-in refuses the request.
    throw validation(`targetStatus must be one of ${SETTABLE.join(', ')}; use DisposePackageVersions for Disposed.`);
  }
  // A Disposed version has no assets left to publish or list again (a stand-in choice: undocumented).
  return ok(runBatch(ctx, q, body, target as PackageVersionStatus, (from) => from !== 'Disposed'));
}

export function disposePackageVersions(ctx: StandInContext, q: Params, call: IncomingCall): Reply {
  return ok(runBatch(ctx, q, jsonBody(call.body), 'Disposed', () => true));
}

/**
 * `DeletePackageVersions` = POST /v1/package/versions/delete, query as above, body versions
 * (required) and expectedStatus; the same output. "A deleted package version cannot be
 * restored": the record is dropped, so the version is neither listed nor served, and (a
 * stand-in choice: the user guide does not forbid it) it may be published again.
 */
export function deletePackageVersions(ctx: StandInContext, q: Params, call: IncomingCall): Reply {
  const { pkg } = packageOf(ctx, q);
  const outcome = runBatch(ctx, q, jsonBody(call.body), 'Deleted', () => true);
  for (const name of Object.keys(outcome.successfulVersions)) pkg.versions.delete(name);
  return ok(outcome);
}
