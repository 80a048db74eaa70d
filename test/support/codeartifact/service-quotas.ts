/**
 * Service Quotas for service code `codeartifact`, answered by the stand-in's own port (the
 * client's `endpoint`, or `AWS_ENDPOINT_URL_SERVICE_QUOTAS`): the applied values are the
 * stand-in's own buckets (quotas.ts), so a run that reads its quotas gets what the stand-in enforces.
 *
 * Service Quotas speaks awsJson1_1 (model: botocore `service-quotas/2019-06-24/service-2.json`,
 * protocol `json`, targetPrefix `ServiceQuotasV20190624`): @aws-sdk/client-service-quotas 3.x sends
 * `POST /` with `x-amz-target: ServiceQuotasV20190624.<Operation>`, `content-type:
 * application/x-amz-json-1.1` and a JSON body, signed for service `servicequotas`. Answered:
 * ListServiceQuotas {ServiceCode, NextToken, MaxResults 1..100, QuotaCode} -> {Quotas, NextToken};
 * ListAWSDefaultServiceQuotas (the defaults); GetServiceQuota {ServiceCode, QuotaCode} -> {Quota}.
 * Errors carry their type in `x-amzn-errortype` and `__type`, status 400 (500 for ServiceException):
 * the model gives them no status, which is awsJson's 400 for client errors.
 *
 * The quota codes and names are CodeArtifact's real ones (AWS General Reference, "AWS CodeArtifact
 * endpoints and quotas", https://docs.aws.amazon.com/general/latest/gr/codeartifact.html, whose
 * console links name each code). Only the request-rate quotas follow the stand-in's configuration;
 * the others are the documented defaults. Units are the stand-in's guess ("None" for counts and
 * rates, "Gigabytes" for the asset size): the reference does not show them.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from './errors.js';
import { DEFAULT_QUOTAS } from './quotas.js';
import type { IncomingCall, Reply, ResolvedRoute, StandInContext } from './route.js';
import type { QuotaName } from './types.js';

const TARGET_PREFIX = 'ServiceQuotasV20190624.';
const SERVICE_CODE = 'codeartifact';
const SERVICE_NAME = 'AWS CodeArtifact';

interface QuotaDefinition {
  code: string;
  name: string;
  adjustable: boolean;
  description: string;
  /** the bucket whose rate is the applied value */
  bucket?: QuotaName;
  /** the value when no bucket gives it */
  value?: number;
  unit?: string;
  perSecond?: boolean;
}

const rate = (code: string, operation: string, bucket: QuotaName): QuotaDefinition => ({
  code,
  name: `${operation} requests per second`,
  adjustable: true,
  description: `The maximum number of calls that can be made to ${operation} per second.`,
  bucket,
  perSecond: true,
});

/** In the order of the reference's table. */
export const CODEARTIFACT_QUOTAS: readonly QuotaDefinition[] = [
  { code: 'L-AA0DC56D', name: 'Asset file size', adjustable: true, description: 'The maximum file size per asset.', value: 5, unit: 'Gigabytes' },
  { code: 'L-5B2BD2E1', name: 'Assets per package version', adjustable: false, description: 'The maximum number of assets per package version.', value: 150 },
  { code: 'L-308A4050', name: 'CopyPackageVersions requests per second', adjustable: true, description: 'The maximum number of calls that can be made to CopyPackageVersions per second.', value: 5, perSecond: true },
  { code: 'L-DD7208D3', name: 'Domains per AWS account', adjustable: true, description: 'The maximum number of domains that can be created per AWS account.', value: 10 },
  { code: 'L-0B362111', name: 'GetAuthorizationToken requests per second', adjustable: true, description: 'The maximum number of authorization tokens retrieved per second.', bucket: 'authorizationToken', perSecond: true },
  rate('L-6C12FB34', 'GetPackageVersionAsset', 'getAsset'),
  rate('L-3072382D', 'ListPackageVersionAssets', 'listAssets'),
  rate('L-CBBCDF5C', 'ListPackageVersions', 'listVersions'),
  rate('L-6010CAF9', 'ListPackages', 'listPackages'),
  rate('L-3E27C79F', 'PublishPackageVersion', 'publish'),
  { code: 'L-F39CF68A', name: 'Read requests per second from a single AWS account', adjustable: true, description: 'The maximum number of read requests from one AWS account per second.', bucket: 'reads', perSecond: true },
  { code: 'L-86608C96', name: 'Repositories per domain', adjustable: true, description: 'The maximum number of repositories that can be created per domain.', value: 1000 },
  { code: 'L-37894301', name: 'Requests per second using a single authentication token', adjustable: false, description: 'The maximum number of requests per second using a single authentication token.', value: 1200, perSecond: true },
  { code: 'L-BD902DFC', name: 'Requests without authentication token per IP address', adjustable: false, description: 'The maximum number of requests per second without an authentication token from a single IP address.', value: 600, perSecond: true },
  { code: 'L-5D176989', name: 'Upstream repositories searched', adjustable: false, description: 'The maximum number of upstream repositories searched when resolving a package.', value: 25 },
  { code: 'L-A649E766', name: 'Write requests per second from a single AWS account', adjustable: true, description: 'The maximum number of write requests from one AWS account per second.', bucket: 'writes', perSecond: true },
];

const MAX_RESULTS_DEFAULT = 100;
const reply = (json: unknown): Reply => ({ status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, json });

function serviceQuota(ctx: StandInContext, q: QuotaDefinition, applied: boolean): Record<string, unknown> {
  const value = q.bucket === undefined ? q.value : applied ? ctx.quotas.applied()[q.bucket] : DEFAULT_QUOTAS[q.bucket];
  return {
    ServiceCode: SERVICE_CODE,
    ServiceName: SERVICE_NAME,
    QuotaArn: `arn:aws:servicequotas:${ctx.region}:${ctx.domainOwner}:${SERVICE_CODE}/${q.code}`,
    QuotaCode: q.code,
    QuotaName: q.name,
    Value: value,
    Unit: q.unit ?? 'None',
    Adjustable: q.adjustable,
    GlobalQuota: false,
    ...(q.perSecond === true ? { Period: { PeriodValue: 1, PeriodUnit: 'SECOND' } } : {}),
    QuotaAppliedAtLevel: 'ACCOUNT',
    Description: q.description,
  };
}

const illegal = (message: string): ApiError => new ApiError(400, 'IllegalArgumentException', message);

function serviceCodeOf(body: Record<string, unknown>): void {
  const code = body['ServiceCode'];
  if (typeof code !== 'string' || !/^[a-zA-Z][a-zA-Z0-9-]{1,63}$/.test(code)) throw illegal('ServiceCode is required: a service code such as codeartifact.');
  if (code !== SERVICE_CODE) throw new ApiError(400, 'NoSuchResourceException', `The stand-in knows the quotas of ${SERVICE_CODE} only, not ${code}.`);
}

function list(ctx: StandInContext, body: Record<string, unknown>, applied: boolean): Reply {
  serviceCodeOf(body);
  const max = body['MaxResults'] ?? MAX_RESULTS_DEFAULT;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100) throw illegal('MaxResults must be between 1 and 100.');
  const token = body['NextToken'];
  let offset = 0;
  if (token !== undefined) {
    offset = typeof token === 'string' ? Number(Buffer.from(token, 'base64').toString('utf8')) : Number.NaN;
    if (!Number.isInteger(offset) || offset < 0) throw new ApiError(400, 'InvalidPaginationTokenException', 'Invalid NextToken.');
  }
  const code = body['QuotaCode'];
  const matching = CODEARTIFACT_QUOTAS.filter((q) => code === undefined || q.code === code);
  const page = matching.slice(offset, offset + max).map((q) => serviceQuota(ctx, q, applied));
  const next = offset + max < matching.length ? Buffer.from(String(offset + max)).toString('base64') : undefined;
  return reply({ Quotas: page, ...(next === undefined ? {} : { NextToken: next }) });
}

function getServiceQuota(ctx: StandInContext, body: Record<string, unknown>): Reply {
  serviceCodeOf(body);
  const code = body['QuotaCode'];
  if (typeof code !== 'string') throw illegal('QuotaCode is required.');
  const quota = CODEARTIFACT_QUOTAS.find((q) => q.code === code);
  if (quota === undefined) throw new ApiError(400, 'NoSuchResourceException', `No quota ${code} for ${SERVICE_CODE}.`);
  return reply({ Quota: serviceQuota(ctx, quota, true) });
}

/** The Service Quotas route for a call (`POST /` with `x-amz-target: ServiceQuotasV20190624.*`), or undefined. */
export function resolveServiceQuotas(ctx: StandInContext, call: IncomingCall): ResolvedRoute | undefined {
  const target = call.headers['x-amz-target'];
  if (call.method !== 'POST' || call.url.pathname !== '/' || typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) return undefined;
  const operation = target.slice(TARGET_PREFIX.length);
  return {
    kind: 'servicequotas',
    operation: `servicequotas:${operation}`,
    subject: { versions: [] },
    quotas: [],
    handle: () => {
      let body: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(call.body.toString('utf8') || '{}');
        body = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
      } catch {
        throw new ApiError(400, 'SerializationException', 'The request body is not JSON.');
      }
      if (!ctx.serviceQuotasReadable()) {
        throw new ApiError(400, 'AccessDeniedException', `User: ${ctx.identity().arn} is not authorized to perform: servicequotas:${operation}`);
      }
      switch (operation) {
        case 'ListServiceQuotas':
          return list(ctx, body, true);
        case 'ListAWSDefaultServiceQuotas':
          return list(ctx, body, false);
        case 'GetServiceQuota':
          return getServiceQuota(ctx, body);
        default:
          throw new ApiError(400, 'UnknownOperationException', `The stand-in's Service Quotas does not answer ${operation}.`);
      }
    },
  };
}

/** awsJson1_1 error: the SDK reads the type from `x-amzn-errortype` (or `__type`) and `Message` from the body. */
export function serviceQuotasError(err: ApiError): Reply {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': err.type, 'x-amzn-requestid': randomUUID() };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  return { status: err.status, headers, json: { __type: err.type, Message: err.message } };
}
