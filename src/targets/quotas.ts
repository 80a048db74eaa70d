/**
 * The account's applied CodeArtifact quotas, through the Service Quotas API,
 * as requests per second per bucket. Quotas are matched by name (the codes
 * are not documented per quota): "PublishPackageVersion requests per second",
 * "ListPackageVersionAssets requests per second", "Read requests per second
 * from a single AWS account", ... https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html
 */
import { ListServiceQuotasCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { toError } from '../errors.js';
import { registerSdkCredentials, sdkRequestHandler } from '../net/agents.js';
import type { BucketName } from '../types.js';
import { Paging } from './paging.js';

/** Most specific first: "ListPackageVersionAssets" contains "ListPackageVersions" contains "ListPackages". */
const BY_NAME: [RegExp, BucketName][] = [
  [/PublishPackageVersion/i, 'publish'],
  [/GetPackageVersionAsset/i, 'getAsset'],
  [/ListPackageVersionAssets/i, 'listAssets'],
  [/ListPackageVersions/i, 'listVersions'],
  [/ListPackages/i, 'listPackages'],
  [/^read requests/i, 'reads'],
  [/^write requests/i, 'writes'],
];

export interface AccountQuotas {
  rates: Partial<Record<BucketName, number>>;
  /** Why they could not be read (the defaults apply then). */
  error?: string;
}

export async function readAccountQuotas(region: string, env: NodeJS.ProcessEnv, client?: ServiceQuotasClient, signal?: AbortSignal): Promise<AccountQuotas> {
  const own = !client;
  const sq =
    client ??
    new ServiceQuotasClient({
      region,
      maxAttempts: 2,
      requestHandler: sdkRequestHandler(region, env),
      // the sandbox (and a VPC endpoint) name it; the SDK reads process.env only, the run may have its own env
      ...(env.AWS_ENDPOINT_URL_SERVICE_QUOTAS ? { endpoint: env.AWS_ENDPOINT_URL_SERVICE_QUOTAS } : {}),
      ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) } }
        : {}),
    });
  const rates: Partial<Record<BucketName, number>> = {};
  try {
    // CodeArtifact has a few dozen quotas: a page of them at most, a few pages at the very most
    const paging = new Paging('ListServiceQuotas of codeartifact', 20);
    let NextToken: string | undefined;
    do {
      const out = await sq.send(new ListServiceQuotasCommand({ ServiceCode: 'codeartifact', NextToken, MaxResults: 100 }), { abortSignal: signal });
      for (const q of out.Quotas ?? []) {
        const hit = BY_NAME.find(([re]) => re.test(q.QuotaName ?? ''));
        if (hit && typeof q.Value === 'number' && q.Value > 0 && rates[hit[1]] === undefined) rates[hit[1]] = q.Value;
      }
      NextToken = paging.next(out.NextToken, (out.Quotas ?? []).map((q) => q.QuotaCode ?? q.QuotaName ?? ''));
    } while (NextToken);
    return { rates };
  } catch (e) {
    // a refused signature's message holds the canonical request, the session token in it
    await registerSdkCredentials(sq);
    const err = toError(e);
    return { rates: {}, error: `${err.name}: ${err.message}` };
  } finally {
    if (own) sq.destroy();
  }
}
