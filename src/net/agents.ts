/**
 * HTTP agents for every connection the tool makes, with the proxy settings
 * npm users already have: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (any case).
 * @npmcli/agent reads them; the npm sources' packuments and tarballs, the
 * repository endpoints and the AWS SDK use its agents from here, so one
 * setting covers the whole run.
 */
import type http from 'node:http';
import { createRequire } from 'node:module';
import { Transform, pipeline, type Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { ResponseLimitError } from './bounds.js';
import { percentDecoded } from './percent.js';
import { MigrateError } from '../errors.js';
import { registerSecret } from '../redact.js';

// @npmcli/agent ships no types: these are the two functions we use.
const require = createRequire(import.meta.url);
const { getAgent } = require('@npmcli/agent') as {
  getAgent: (url: string | URL, options?: { maxSockets?: number; timeouts?: { connection?: number; idle?: number } }) => http.Agent & { protocol: string };
};
/** The codes of @npmcli/agent's own timeouts (connecting, an idle socket, waiting for the answer): the peer said nothing in time. */
export const SILENCE_CODES: ReadonlySet<string> = new Set(['ECONNECTIONTIMEOUT', 'EIDLETIMEOUT', 'ERESPONSETIMEOUT']);

/**
 * The system's codes for a connection that got no answer at all: refused or reset before
 * anything came back, no address for the name (EAI_AGAIN: the resolver did not answer
 * either), no route. Not a slow peer (those are timeouts) and not a failing one (it would
 * have answered, a 5xx say): nobody is there, or the way there is cut.
 */
const NO_ANSWER_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

/** The error's own words when it (or its cause) is a connection that got no answer at all (NO_ANSWER_CODES), else undefined. */
export function noAnswer(thrown: unknown): string | undefined {
  for (let e = thrown, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && NO_ANSWER_CODES.has(code)) return e.message.includes(code) ? e.message : `${code}: ${e.message}`;
  }
  return undefined;
}

/** The variables naming a proxy that @npmcli/agent reads (lower-cased: it reads them in any case). */
const PROXY_VARIABLES: ReadonlySet<string> = new Set(['https_proxy', 'http_proxy', 'proxy']);

/**
 * The proxy's user and password, registered as secrets. In its URL they are hidden as any
 * URL's are, but every connection also carries them as Proxy-Authorization (base64 of
 * `user:password`, percent-decoded), which a proxy's own error page may repeat, and an
 * endpoint's error body is quoted in messages. The variables @npmcli/agent reads, in any case.
 */
export function registerProxySecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(env)) {
    if (!value || !PROXY_VARIABLES.has(key.toLowerCase())) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      continue;
    }
    if (!url.password) {
      // the user name alone is the credential (http://TOKEN@proxy, as some proxies take a token); the header carries `TOKEN:`
      if (url.username) for (const v of [url.username, percentDecoded(url.username), `${percentDecoded(url.username)}:`]) registerSecret(v);
      continue;
    }
    registerSecret(url.password);
    registerSecret(percentDecoded(url.password));
    // its base64 is the header's credentials
    registerSecret(`${percentDecoded(url.username)}:${percentDecoded(url.password)}`);
  }
}
registerProxySecrets();

/** The proxy URL schemes @npmcli/agent takes (getProxyAgent): anything else throws on the first connection. */
const PROXY_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'socks:', 'socks4:', 'socks4a:', 'socks5:', 'socks5h:']);

/**
 * HTTPS_PROXY / HTTP_PROXY / PROXY (any case) as URLs @npmcli/agent takes, checked before a
 * command connects anywhere. curl takes `proxy:8080` or `user:pw@proxy:8080` without a scheme;
 * npm's agent throws on every connection instead (EINVALIDPROXY, "Invalid protocol `proxy:`"),
 * so each request of a run failed alike, and a password in such a value is no URL's, so it was
 * never registered as a secret. Said once, as bad input, with the value's credentials masked.
 */
export function checkProxyVariables(env: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(env)) {
    if (!value || !PROXY_VARIABLES.has(key.toLowerCase())) continue;
    let scheme: string | undefined;
    try {
      scheme = new URL(value).protocol;
    } catch {
      // no URL at all (`proxy`, a bare host)
    }
    if (scheme !== undefined && PROXY_SCHEMES.has(scheme)) continue;
    // whatever precedes an @ is credentials, URL or not
    const shown = value.includes('@') ? `***@${value.slice(value.lastIndexOf('@') + 1)}` : value;
    const bare = shown.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
    throw new MigrateError('ECONFIG', `${key}=${JSON.stringify(shown)} is no proxy URL this tool (npm's agent) takes: it needs its scheme, http://, https:// or socks5://`, {
      hint: `export ${key}=http://${bare} (with user:password@ before the host if the proxy needs them), or unset it; nothing was sent`,
    });
  }
}

/** The proxy for a URL from HTTPS_PROXY/HTTP_PROXY/NO_PROXY, exactly as npm decides it, or null. */
const { getProxy } = require('@npmcli/agent/lib/proxy.js') as { getProxy: (url: string, options: object) => URL | null };

/** The keep-alive agent for `url`: through the proxy when one applies to its host, else direct. */
export function agentFor(url: string | URL): http.Agent & { protocol: string } {
  // no idle timer of the agent's: every request through it sets its own (its caller's idle
  // timeout), which net/silence confirms before cutting; the agent's would cut at the same
  // moment unconfirmed (it listens for the same socket timeout)
  const agent = getAgent(url, { maxSockets: 64, timeouts: { connection: 30_000, idle: 0 } });
  // Told, its protocol is not guessed: agent-base answers `agent.protocol`, which node:http
  // reads for every request, by capturing and searching a stack trace (a measurable share
  // of a 100/s run's CPU, and garbage). Its getter never answers nothing, so it is set
  // every time, which costs nothing. The cache keys agents by http/https, so this agent
  // only ever serves this URL's protocol.
  agent.protocol = typeof url === 'string' ? new URL(url).protocol : url.protocol;
  return agent;
}

/** An AWS API connection silent this long is a stuck peer: cut off, and the request retried (target.idleTimeoutSeconds). */
export const SDK_IDLE_TIMEOUT_MS = 300_000;

/**
 * The most bytes of one CodeArtifact API answer read. The SDK reads a whole answer into
 * memory before parsing it, so without a bound an answer that never ends fills memory until
 * the process dies. The largest real answers are listing pages of at most 1,000 entries
 * (ListPackageVersions, ListPackages: a few hundred KB); 16 MiB is far above any of them.
 * GetPackageVersionAsset is not counted: its body (an asset, up to 5 GB) is streamed to
 * the caller, who bounds it.
 */
export const MAX_SDK_ANSWER_BYTES = 16 * 2 ** 20;

/** GetPackageVersionAsset's path (GET /v1/package/version/asset): the one answer the SDK streams instead of reading whole. */
const STREAMED_ANSWER = /\/v1\/package\/version\/asset$/;

/** The SDK's handler, with every answer but a streamed asset cut off past `maxBytes` (a ResponseLimitError). */
class BoundedHttpHandler extends NodeHttpHandler {
  constructor(
    options: ConstructorParameters<typeof NodeHttpHandler>[0],
    private readonly maxBytes: number,
  ) {
    super(options);
  }

  override async handle(...args: Parameters<NodeHttpHandler['handle']>): ReturnType<NodeHttpHandler['handle']> {
    const [request] = args;
    const out = await super.handle(...args);
    if (request.method === 'GET' && STREAMED_ANSWER.test(request.path)) return out;
    const body = out.response.body as Readable;
    const where = `${request.method} ${request.hostname}${request.path}`;
    const declared = Number(out.response.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.maxBytes) {
      body.destroy();
      throw new ResponseLimitError(`${where}: the answer is larger than ${this.maxBytes} bytes (Content-Length ${declared}); cut off`, 'bytes');
    }
    let size = 0;
    const max = this.maxBytes;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > max) return done(new ResponseLimitError(`${where}: the answer is larger than ${max} bytes (${size} bytes so far); cut off`, 'bytes'));
        done(null, chunk);
      },
    });
    // pipeline destroys the response (and its connection) when the count fails, and hands its errors on
    out.response.body = pipeline(body, counted, () => {});
    return out;
  }
}

/** The CodeArtifact API endpoint the SDK uses: AWS_ENDPOINT_URL_CODEARTIFACT (the SDK's service-specific setting), AWS_ENDPOINT_URL, else the region's. */
export function sdkEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_ENDPOINT_URL_CODEARTIFACT ?? env.AWS_ENDPOINT_URL ?? `https://codeartifact.${region}.amazonaws.com`;
}

/**
 * A request handler for the AWS SDK: through the proxy when one applies to the
 * CodeArtifact endpoint in use (AWS_ENDPOINT_URL_CODEARTIFACT or the regional
 * one), with npm's own NO_PROXY rules; and with timeouts, which the SDK's
 * default handler does not have (a connection that accepts a request and never
 * answers would hold a run forever). The idle timeout counts silence, not
 * duration: a long download that keeps moving is never cut (CodeArtifact.call
 * gives each call its deadline). An answer is read up to `maxBytes`
 * (MAX_SDK_ANSWER_BYTES). The SDK gets a plain proxy agent: it calls
 * http.request without `protocol`, which @npmcli/agent's agent needs to pick a proxy.
 */
export function sdkRequestHandler(region: string, env: NodeJS.ProcessEnv = process.env, idleMs = SDK_IDLE_TIMEOUT_MS, maxBytes = MAX_SDK_ANSWER_BYTES): NodeHttpHandler {
  const endpoint = sdkEndpoint(region, env);
  const proxy = getProxy(endpoint, {});
  const timeouts = { connectionTimeout: 30_000, socketTimeout: idleMs };
  if (!proxy) return new BoundedHttpHandler(timeouts, maxBytes);
  const httpAgent = new HttpProxyAgent(proxy, { keepAlive: true });
  const httpsAgent = new HttpsProxyAgent(proxy, { keepAlive: true });
  // agent-base again: told, not guessed from a stack trace on every request (agentFor)
  httpAgent.protocol = 'http:';
  httpsAgent.protocol = 'https:';
  return new BoundedHttpHandler({ ...timeouts, httpAgent, httpsAgent }, maxBytes);
}

/**
 * Register as secrets the credentials an AWS SDK client signs with. Found by the SDK itself
 * (a profile, SSO, an instance or task role) they are in no variable a command registered,
 * and AWS answers a signature it refuses with the canonical request it expected, the
 * x-amz-security-token header's value included. Called when a call failed, before its
 * message is kept: the provider has them cached (it signed the request with them); one
 * that fails is the SDK call's to report.
 */
export async function registerSdkCredentials(client: { config: unknown }): Promise<void> {
  const provider = (client.config as { credentials?: unknown }).credentials;
  if (typeof provider !== 'function') return;
  try {
    const c = (await (provider as () => Promise<{ secretAccessKey?: string; sessionToken?: string } | undefined>)()) ?? {};
    registerSecret(c.secretAccessKey);
    registerSecret(c.sessionToken);
  } catch {
    // the failed call says why
  }
}
