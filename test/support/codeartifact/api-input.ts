/**
 * Reading a control-plane request: the shape constraints of the service model's input members,
 * the query parameters every operation shares (domain, repository, format, namespace, package,
 * version, pagination) and the look-ups they lead to, with the model's error for each failure.
 * Model: botocore `botocore/data/codeartifact/2018-09-22/service-2.json`.
 */
import { notFound, validation } from './errors.js';
import type { Reply, StandInContext } from './route.js';
import type { PackageRecord, VersionRecord } from './store.js';
import type { StoredAsset } from './types.js';

export const FORMATS = ['npm', 'pypi', 'maven', 'nuget', 'generic', 'ruby', 'swift', 'cargo'] as const;
/** Formats whose packages always have a namespace, which every call naming one must give. */
const NAMESPACED: readonly string[] = ['maven', 'swift', 'generic'];
export const STATUSES = ['Published', 'Unfinished', 'Unlisted', 'Archived', 'Disposed', 'Deleted'] as const;
export const ORIGIN_TYPES = ['INTERNAL', 'EXTERNAL', 'UNKNOWN'] as const;
export const RESTRICTIONS = ['ALLOW', 'BLOCK'] as const;

// Shape constraints from the model (DomainName, AccountId, RepositoryName, PackageName/Namespace/Version, AssetName, SHA256).
export const DOMAIN_NAME = /^[a-z][a-z0-9-]{0,48}[a-z0-9]$/;
export const ACCOUNT_ID = /^[0-9]{12}$/;
export const REPOSITORY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$/;
export const PACKAGE_PART = /^[^#/\s]{1,255}$/;
export const ASSET_NAME = /^\P{C}{1,255}$/u;
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Generic asset names are stricter than the model's AssetName (`\P{C}+`): Unicode letters and digits
 * (Ll Lm Lo Lt Lu Nl Nd), the characters ~!@^&()-_+[]{};,. and single inner spaces; never `.` or `..`
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/generic-packages-overview.html#generic-packages-constraints).
 */
const GENERIC_ASSET_CHAR = String.raw`[\p{Ll}\p{Lm}\p{Lo}\p{Lt}\p{Lu}\p{Nl}\p{Nd}~!@^&()\-_+\[\]{};,.]`;
const GENERIC_ASSET_NAME = new RegExp(`^${GENERIC_ASSET_CHAR}+(?: ${GENERIC_ASSET_CHAR}+)*$`, 'u');

export function checkGenericAssetName(name: string): void {
  if (name.length > 255 || name === '.' || name === '..' || !GENERIC_ASSET_NAME.test(name)) {
    throw validation(
      `Asset name '${name}' is not valid for a generic package: use letters, digits, ~!@^&()-_+[]{};,. and single inner spaces; not '.' or '..'.`,
    );
  }
}

/** No default page size is documented; 100 keeps pagination exercised without huge pages. */
export const DEFAULT_PAGE_SIZE = 100;

export class Params {
  constructor(private readonly search: URLSearchParams) {}

  optional(name: string, pattern?: RegExp): string | undefined {
    const value = this.search.get(name) ?? undefined;
    if (value !== undefined && pattern !== undefined && !pattern.test(value)) {
      throw validation(
        `1 validation error detected: Value '${value}' at '${name}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern.source}`,
      );
    }
    return value;
  }

  required(name: string, pattern?: RegExp): string {
    const value = this.optional(name, pattern);
    if (value === undefined || value === '') {
      throw validation(`1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`);
    }
    return value;
  }

  oneOf<T extends string>(name: string, values: readonly T[], required: true): T;
  oneOf<T extends string>(name: string, values: readonly T[], required?: false): T | undefined;
  oneOf<T extends string>(name: string, values: readonly T[], required = false): T | undefined {
    const value = required ? this.required(name) : this.optional(name);
    if (value === undefined) return undefined;
    if (!(values as readonly string[]).includes(value)) {
      throw validation(
        `1 validation error detected: Value '${value}' at '${name}' failed to satisfy constraint: Member must satisfy enum value set: [${values.join(', ')}]`,
      );
    }
    return value as T;
  }

  int(name: string, min: number, max: number): number | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw validation(`1 validation error detected: Value '${raw}' at '${name}' failed to satisfy constraint: Member must be between ${min} and ${max}`);
    }
    return value;
  }
}

export const epochSeconds = (d: Date): number => d.getTime() / 1000;
export const ok = (json: unknown): Reply => ({ status: 200, json });

export function checkDomain(ctx: StandInContext, q: Params): void {
  const domain = q.required('domain', DOMAIN_NAME);
  const owner = q.optional('domain-owner', ACCOUNT_ID);
  // An omitted domain-owner means the caller's own account, which is the domain owner here.
  if (domain !== ctx.domain || (owner !== undefined && owner !== ctx.domainOwner)) {
    throw notFound(`Domain not found. Domain '${domain}' owned by account '${owner ?? ctx.domainOwner}' does not exist.`, 'domain', domain);
  }
}

export function repositoryOf(ctx: StandInContext, q: Params): string {
  checkDomain(ctx, q);
  const repo = q.required('repository', REPOSITORY_NAME);
  if (!ctx.store.hasRepository(repo)) throw notFound(`Repository '${repo}' not found in domain '${ctx.domain}'.`, 'repository', repo);
  return repo;
}

export interface PackageRef {
  repo: string;
  format: string;
  namespace: string | undefined;
  name: string;
}

export function packageRefOf(ctx: StandInContext, q: Params): PackageRef {
  const repo = repositoryOf(ctx, q);
  const format = q.oneOf('format', FORMATS, true);
  // "The namespace is required when requesting ... of the following formats: Maven, Swift, generic"
  // (model: the namespace member of DescribePackage, DescribePackageVersion, ListPackageVersions, ...)
  const namespace = NAMESPACED.includes(format) ? q.required('namespace', PACKAGE_PART) : q.optional('namespace', PACKAGE_PART);
  const name = q.required('package', PACKAGE_PART);
  return { repo, format, namespace, name };
}

export const displayName = (ref: { format: string; namespace?: string; name: string }): string =>
  ref.namespace === undefined ? ref.name : ref.format === 'npm' ? `@${ref.namespace}/${ref.name}` : `${ref.namespace}/${ref.name}`;

export function packageOf(ctx: StandInContext, q: Params): { ref: PackageRef; pkg: PackageRecord } {
  const ref = packageRefOf(ctx, q);
  const pkg = ctx.store.getPackage(ref.repo, ref.format, ref.namespace, ref.name);
  if (pkg === undefined) throw notFound(`Package '${displayName(ref)}' not found in repository '${ref.repo}'.`, 'package', displayName(ref));
  return { ref, pkg };
}

export function versionOf(ctx: StandInContext, q: Params): { ref: PackageRef; pkg: PackageRecord; version: VersionRecord } {
  const { ref, pkg } = packageOf(ctx, q);
  const wanted = q.required('version', PACKAGE_PART);
  const version = pkg.versions.get(wanted);
  if (version === undefined) {
    throw notFound(`Package version '${displayName(ref)}@${wanted}' not found in repository '${ref.repo}'.`, 'package-version', wanted);
  }
  return { ref, pkg, version };
}

/** Opaque next-token: the offset of the next item. */
export function paginate<T>(items: T[], q: Params): { page: T[]; nextToken?: string } {
  const max = q.int('max-results', 1, 1000) ?? DEFAULT_PAGE_SIZE;
  const token = q.optional('next-token');
  let offset = 0;
  if (token !== undefined) {
    const decoded = Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0) throw validation('Invalid pagination token.', 'FIELD_VALIDATION_FAILED');
    offset = decoded;
  }
  const page = items.slice(offset, offset + max);
  const next = offset + max < items.length ? Buffer.from(String(offset + max)).toString('base64url') : undefined;
  return next === undefined ? { page } : { page, nextToken: next };
}

/** The JSON body of a request (restJson1 members without a location), `{}` when empty. */
export function jsonBody(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8') || '{}');
  } catch {
    throw validation('Request body is not valid JSON.', 'CANNOT_PARSE');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw validation('Request body must be a JSON object.', 'CANNOT_PARSE');
  return parsed as Record<string, unknown>;
}

export const assetSummary = (a: StoredAsset): unknown => ({ name: a.name, size: a.size, hashes: { ...a.hashes } });
