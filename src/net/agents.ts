/**
 * HTTP agents for every connection the tool makes, with the proxy settings
 * npm users already have: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (any case).
 * @npmcli/agent reads them; the npm sources' packuments and tarballs, the
 * repository endpoints and the AWS SDK use its agents from here, so one
 * setting covers the whole run.
 */
import type http from 'node:http';
import { createRequire } from 'node:module';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';

// @npmcli/agent ships no types: these are the two functions we use.
const require = createRequire(import.meta.url);
const { getAgent } = require('@npmcli/agent') as {
  getAgent: (url: string | URL, options?: { maxSockets?: number; timeouts?: { connection?: number; idle?: number } }) => http.Agent & { protocol: string };
};
/** The codes of @npmcli/agent's own timeouts (connecting, an idle socket, waiting for the answer): the peer said nothing in time. */
export const SILENCE_CODES: ReadonlySet<string> = new Set(['ECONNECTIONTIMEOUT', 'EIDLETIMEOUT', 'ERESPONSETIMEOUT']);

/** The proxy for a URL from HTTPS_PROXY/HTTP_PROXY/NO_PROXY, exactly as npm decides it, or null. */
const { getProxy } = require('@npmcli/agent/lib/proxy.js') as { getProxy: (url: string, options: object) => URL | null };

/** The keep-alive agent for `url`: through the proxy when one applies to its host, else direct. */
export function agentFor(url: string | URL): http.Agent & { protocol: string } {
  // idle as long as the slowest answer we wait for (a large publish being stored)
  const agent = getAgent(url, { maxSockets: 64, timeouts: { connection: 30_000, idle: 300_000 } });
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
 * A request handler for the AWS SDK: through the proxy when one applies to the
 * CodeArtifact endpoint in use (AWS_ENDPOINT_URL_CODEARTIFACT or the regional
 * one), with npm's own NO_PROXY rules; and with timeouts, which the SDK's
 * default handler does not have (a connection that accepts a request and never
 * answers would hold a run forever). The idle timeout counts silence, not
 * duration: a long download that keeps moving is never cut. The SDK gets a
 * plain proxy agent: it calls http.request without `protocol`, which
 * @npmcli/agent's agent needs to pick a proxy.
 */
export function sdkRequestHandler(region: string, env: NodeJS.ProcessEnv = process.env, idleMs = SDK_IDLE_TIMEOUT_MS): NodeHttpHandler {
  const endpoint = env.AWS_ENDPOINT_URL_CODEARTIFACT ?? env.AWS_ENDPOINT_URL ?? `https://codeartifact.${region}.amazonaws.com`;
  const proxy = getProxy(endpoint, {});
  const timeouts = { connectionTimeout: 30_000, socketTimeout: idleMs };
  if (!proxy) return new NodeHttpHandler(timeouts);
  const httpAgent = new HttpProxyAgent(proxy, { keepAlive: true });
  const httpsAgent = new HttpsProxyAgent(proxy, { keepAlive: true });
  // agent-base again: told, not guessed from a stack trace on every request (agentFor)
  httpAgent.protocol = 'http:';
  httpsAgent.protocol = 'https:';
  return new NodeHttpHandler({ ...timeouts, httpAgent, httpsAgent });
}
