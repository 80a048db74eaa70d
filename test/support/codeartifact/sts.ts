/**
 * STS GetCallerIdentity, answered by the stand-in's own port so a run can learn its account and
 * principal without AWS (the SDK's `AWS_ENDPOINT_URL_STS`, or the client's `endpoint`).
 *
 * STS speaks awsQuery (model: botocore `sts/2011-06-15/service-2.json`, protocol `query`): what
 * @aws-sdk/client-sts 3.x sends is `POST /` with `content-type: application/x-www-form-urlencoded`
 * and the body `Action=GetCallerIdentity&Version=2011-06-15`, signed for service `sts`; the answer
 * is XML in the `https://sts.amazonaws.com/doc/2011-06-15/` namespace, errors an `ErrorResponse`
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html). An unknown
 * access key is 403 InvalidClientTokenId, as STS answers it (a common error, not in the model).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ApiError } from './errors.js';
import type { IncomingCall, Reply, ResolvedRoute, StandInContext } from './route.js';
import type { CallerIdentity } from './types.js';

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const API_VERSION = '2011-06-15';

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The identity answered for `accessKeyId`: the configured one, else a stable made-up IAM user of the domain owner's account. */
export function callerIdentity(accessKeyId: string, domainOwner: string, configured: CallerIdentity | undefined): Required<CallerIdentity> {
  const account = configured?.account ?? domainOwner;
  // IAM user ids are `AIDA` + 17 characters of [A-Z2-7]; derived from the key so it is stable.
  const digest = createHash('sha256').update(accessKeyId).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const suffix = [...digest.subarray(0, 17)].map((b) => alphabet[b % 32]).join('');
  return {
    account,
    arn: configured?.arn ?? `arn:aws:iam::${account}:user/codeartifact-migrate`,
    userId: configured?.userId ?? `AIDA${suffix}`,
  };
}

function getCallerIdentity(ctx: StandInContext): Reply {
  const id = ctx.identity();
  const xml = [
    `<GetCallerIdentityResponse xmlns="${XMLNS}">`,
    '  <GetCallerIdentityResult>',
    `    <Arn>${escapeXml(id.arn)}</Arn>`,
    `    <UserId>${escapeXml(id.userId)}</UserId>`,
    `    <Account>${escapeXml(id.account)}</Account>`,
    '  </GetCallerIdentityResult>',
    '  <ResponseMetadata>',
    `    <RequestId>${randomUUID()}</RequestId>`,
    '  </ResponseMetadata>',
    '</GetCallerIdentityResponse>',
    '',
  ].join('\n');
  return { status: 200, headers: { 'content-type': 'text/xml' }, bytes: Buffer.from(xml) };
}

/** The STS route for a call (`POST /` with a form body naming an Action), or undefined. */
export function resolveSts(ctx: StandInContext, call: IncomingCall): ResolvedRoute | undefined {
  if (call.method !== 'POST' || call.url.pathname !== '/') return undefined;
  if (!String(call.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined;
  const form = new URLSearchParams(call.body.toString('utf8'));
  const action = form.get('Action');
  if (action === null) return undefined;
  return {
    kind: 'sts',
    operation: `sts:${action}`,
    subject: { versions: [] },
    quotas: [],
    handle: () => {
      if (action !== 'GetCallerIdentity') throw new ApiError(400, 'InvalidAction', `The stand-in's STS answers GetCallerIdentity only, not ${action}.`);
      if (form.get('Version') !== API_VERSION) throw new ApiError(400, 'InvalidParameterValue', `Version must be ${API_VERSION}.`);
      return getCallerIdentity(ctx);
    },
  };
}

/** awsQuery error: the SDK reads Code and Message from the ErrorResponse. */
export function stsError(err: ApiError): Reply {
  const xml = [
    `<ErrorResponse xmlns="${XMLNS}">`,
    '  <Error>',
    `    <Type>${err.status >= 500 ? 'Receiver' : 'Sender'}</Type>`,
    `    <Code>${escapeXml(err.type)}</Code>`,
    `    <Message>${escapeXml(err.message)}</Message>`,
    '  </Error>',
    `  <RequestId>${randomUUID()}</RequestId>`,
    '</ErrorResponse>',
    '',
  ].join('\n');
  const headers: Record<string, string> = { 'content-type': 'text/xml' };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  return { status: err.status, headers, bytes: Buffer.from(xml) };
}
