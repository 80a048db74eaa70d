/**
 * The account's applied CodeArtifact quotas, through the Service Quotas API,
 * as requests per second per bucket. Quotas are matched by name (the codes
 * are not documented per quota): "PublishPackageVersion requests per second",
 * "ListPackageVersionAssets requests per second", "Read requests per second
 * from a single AWS account", ... https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html
 */
import { ListServiceQuotasCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { toError } from '../errors.js';
import { printable, publicUrl } from '../redact.js';
import { registerSdkCredentials, sdkRequestHandler } from '../net/agents.js';
import { ONE_OFF_DEADLINE_MS, oneOffError, oneOffSignal } from '../net/bounds.js';
import { MAX_RATE, MIN_RATE } from '../config/schema.js';
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
  /** Requests a second one authorization token may carry ("Requests per second using a single authentication token"), when listed. */
  perToken?: number;
  /** Why they could not be read (the defaults apply then). */
  error?: string;
  /** The quotas read but not taken as rates, each with why (the default applies to their bucket instead). */
  ignored?: string;
}

/** What a run's summary says of the account's quotas when not all of them apply; undefined when they do. */
export function quotaNote(account: AccountQuotas): string | undefined {
  if (account.error) return `the account's quotas could not be read (${account.error}); CodeArtifact's defaults apply where the job sets no rate`;
  if (account.ignored) return `some of the account's quotas were not taken as rates (${account.ignored}); CodeArtifact's defaults apply to those where the job sets no rate`;
  return undefined;
}

/** `deadlineMs`: how long the whole reading may take (every page): a trickling answer is cut off there, and the defaults apply. */
export async function readAccountQuotas(region: string, env: NodeJS.ProcessEnv, client?: ServiceQuotasClient, signal?: AbortSignal, deadlineMs = ONE_OFF_DEADLINE_MS): Promise<AccountQuotas> {
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
  const refused: string[] = [];
  let perToken: number | undefined;
  const abortSignal = oneOffSignal(deadlineMs, signal);
  try {
    // CodeArtifact has a few dozen quotas: a page of them at most, a few pages at the very most
    const paging = new Paging('ListServiceQuotas of codeartifact', 20);
    let NextToken: string | undefined;
    do {
      const out = await sq.send(new ListServiceQuotasCommand({ ServiceCode: 'codeartifact', NextToken, MaxResults: 100 }), { abortSignal });
      for (const q of out.Quotas ?? []) {
        if (/single authentication token/i.test(q.QuotaName ?? '')) {
          const perSecond = rateOf(q, region);
          if (typeof perSecond === 'number') perToken ??= perSecond;
          continue;
        }
        const hit = BY_NAME.find(([re]) => re.test(q.QuotaName ?? ''));
        if (!hit || rates[hit[1]] !== undefined) continue;
        const perSecond = rateOf(q, region);
        if (typeof perSecond === 'number') rates[hit[1]] = perSecond;
        else refused.push(`${q.QuotaName}: ${perSecond.refused}`);
      }
      NextToken = paging.next(out.NextToken, (out.Quotas ?? []).map((q) => q.QuotaCode ?? q.QuotaName ?? ''));
    } while (NextToken);
    // the rest of the account's quotas still apply; the summary says which were not taken and why
    // the words are the peer's (a hostile one's control characters never reach a terminal)
    return { rates, ...(perToken !== undefined ? { perToken } : {}), ...(refused.length > 0 ? { ignored: printable(refused.join('; ')) } : {}) };
  } catch (e) {
    // a refused signature's message holds the canonical request, the session token in it
    await registerSdkCredentials(sq);
    return { rates: {}, error: oneOffError(toError(e), 'Service Quotas', publicUrl(env.AWS_ENDPOINT_URL_SERVICE_QUOTAS || `https://servicequotas.${region}.amazonaws.com`), deadlineMs, signal) };
  } finally {
    if (own) sq.destroy();
  }
}

const SECONDS: Record<string, number> = { MICROSECOND: 1e-6, MILLISECOND: 1e-3, SECOND: 1, MINUTE: 60, HOUR: 3600, DAY: 86_400, WEEK: 604_800 };

/**
 * A quota as requests per second, or why it is none: the SDK hands over whatever the JSON
 * said (a double may be "Infinity" or "NaN"), and a limiter run at Infinity never waits nor
 * slows down on a throttle, one at 1e9 runs past every real quota, one at 0.001 sends a
 * request every 1,000 s. Taken: a quota of CodeArtifact in this region (its ARN's, when it
 * has one), converted by its Period (per second when it names none, as the quota's name
 * says), within the rates a job file may set (MIN_RATE..MAX_RATE).
 */
function rateOf(q: { Value?: number; Period?: { PeriodValue?: number; PeriodUnit?: string }; QuotaArn?: string; ServiceCode?: string }, region: string): number | { refused: string } {
  if (q.ServiceCode !== undefined && q.ServiceCode !== 'codeartifact') return { refused: `a quota of ${q.ServiceCode}, not codeartifact` };
  const arnRegion = q.QuotaArn?.split(':')[3];
  if (arnRegion && arnRegion !== region) return { refused: `a quota of ${arnRegion}, not ${region}` };
  if (typeof q.Value !== 'number') return { refused: 'no value' };
  const unit = q.Period?.PeriodUnit === undefined ? 1 : SECONDS[q.Period.PeriodUnit];
  const count = q.Period?.PeriodValue ?? 1;
  if (unit === undefined || !(Number.isFinite(count) && count > 0)) return { refused: `a period of ${q.Period?.PeriodValue} ${q.Period?.PeriodUnit}` };
  const perSecond = q.Value / (count * unit);
  if (!(Number.isFinite(perSecond) && perSecond >= MIN_RATE && perSecond <= MAX_RATE)) return { refused: `${q.Value} is no request rate (${MIN_RATE} to ${MAX_RATE} a second are)` };
  return perSecond;
}
