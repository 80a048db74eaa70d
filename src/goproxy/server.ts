/**
 * `cam goproxy`: a read-only GOPROXY (https://go.dev/ref/mod#goproxy-protocol) in front
 * of the job's generic repository, so the Go toolchain can use the modules `run`
 * migrated. CodeArtifact has no Go format and serves no GOPROXY protocol itself; the
 * generic repository holds `<v>.zip`, `<v>.mod`, `<v>.info` per version (go-mapping.ts),
 * which is exactly what the protocol serves, so this is a thin translation:
 *
 *   @v/list        ListPackageVersions: Published versions only (an Unfinished one is half uploaded)
 *   @v/<v>.<ext>   DescribePackageVersion (Published or Unlisted?), then GetPackageVersionAsset, streamed
 *   @latest        the highest release, else the highest prerelease, as its .info (go asks when the list is empty)
 *
 * Requests go through the AWS SDK with the default credential chain and the job's rate
 * limits, like `run`. Go sets no timeout on a proxy and retries nothing, so the proxy
 * bounds what it waits for: an answer from CodeArtifact within `upstreamTimeoutMs` (else
 * 504), a download that moves no byte for `idleTimeoutMs` is cut off (a client that stops
 * reading, or CodeArtifact that stops sending), so is one that averages less than
 * `minDownloadRate` (a client that reads a byte now and then), and at most MAX_DOWNLOADS downloads hold
 * a connection to CodeArtifact at once, so clients that never read cannot take every
 * connection the SDK has and leave `@v/list` waiting for ever; past `maxConnections` open
 * connections, a request is a 503. Go treats 404 and 410 as "not found" (and tries the next entry of a
 * comma-separated GOPROXY); anything else is an error it shows with our body
 * (cmd/go/internal/modfetch/proxy.go). Nothing here verifies the bytes: go checks every
 * zip and go.mod against go.sum (and the checksum database unless GONOSUMDB/GOPRIVATE).
 */
import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { loadJob, type LoadedJob } from '../config/load.js';
import { Limiter } from '../engine/limiter.js';
import { withRetry } from '../engine/retry.js';
import { MigrateError, toError } from '../errors.js';
import { isLoopbackHost } from '../net/loopback.js';
import { checkModulePath } from '../builders/go-rules.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { GenericTarget } from '../targets/generic.js';
import { genericToGoModule } from '../targets/go-mapping.js';
import { allowedHostNames } from './callers.js';
import { createGoProxyServer, DEFAULT_HEAD_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS } from './connections.js';
import { DEFAULT_DOWNLOAD_GRACE_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MIN_DOWNLOAD_RATE } from './download.js';
import { DEFAULT_UPSTREAM_TIMEOUT_MS, GoProxyHandler, READ_RETRIES } from './handler.js';
import { noSumDbPrefixes, noSumDbValue } from './protocol.js';

export { DEFAULT_HEAD_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS } from './connections.js';
export { DEFAULT_DOWNLOAD_GRACE_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MIN_DOWNLOAD_RATE, MAX_DOWNLOADS } from './download.js';
export { DEFAULT_UPSTREAM_TIMEOUT_MS } from './handler.js';

export const DEFAULT_GOPROXY_PORT = 8085;
export const DEFAULT_GOPROXY_HOST = '127.0.0.1';

export interface GoProxyOptions {
  /** The job file (or the loaded job) whose `target.repositories.generic.internal` is served. */
  job: string | LoadedJob;
  /** Default 8085; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. Anything but a loopback address needs `allowRemote`. */
  host?: string;
  /**
   * Listen on a non-loopback address. The proxy has no authentication of its own and
   * answers with the operator's AWS credentials: whoever reaches the port reads every
   * module in the repository.
   */
  allowRemote?: boolean;
  /**
   * Host names (no port) go may use for the proxy besides loopback's and, with
   * allowRemote, any IP address: a name in DNS or a hosts file. See allowedHost.
   */
  allowedHosts?: readonly string[];
  /** For tests: a preconfigured SDK client (the caller closes it). */
  codeartifactClient?: CodeartifactClient;
  /** One line per failed request (CodeArtifact errors, client aborts are not logged). */
  onError?: (line: string) => void;
  /** Default DEFAULT_UPSTREAM_TIMEOUT_MS. */
  upstreamTimeoutMs?: number;
  /** Default DEFAULT_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  /** Bytes per second, default DEFAULT_MIN_DOWNLOAD_RATE. */
  minDownloadRate?: number;
  /** Default DEFAULT_DOWNLOAD_GRACE_MS. */
  downloadGraceMs?: number;
  /** Default DEFAULT_HEAD_TIMEOUT_MS. */
  headTimeoutMs?: number;
  /** Connections open at once; a request on one past them is a 503. Default DEFAULT_MAX_CONNECTIONS. */
  maxConnections?: number;
  /**
   * Abort = stop (Ctrl-C, SIGTERM), also while starting: a preflight CodeArtifact does not
   * answer is cut off at once (startGoProxy rejects with EINTERRUPTED), not waited out.
   */
  signal?: AbortSignal;
}

export interface GoProxy {
  /** `http://127.0.0.1:PORT`: the GOPROXY value. */
  url: string;
  repository: string;
  /** The module paths the repository holds, as GONOSUMDB wants them (no path below another). */
  modulePrefixes: string[];
  /** The environment go needs: GOPROXY, GONOSUMDB, GOFLAGS, and GONOPROXY=none (a GOPRIVATE in the user's go env would send go around the proxy). */
  goEnv: Record<string, string>;
  /** GONOSUMDB names shorter prefixes than modulePrefixes: the full list would not fit in an environment (noSumDbValue). */
  noSumDbShortened: boolean;
  /** Stop listening, cut off what is in flight, close the SDK client (if ours). */
  stop(): Promise<void>;
}

export async function startGoProxy(opts: GoProxyOptions): Promise<GoProxy> {
  // `[::1]` as a URL writes it (and as isLoopbackHost takes it) is `::1` to listen(), which would look the brackets up as a name
  const host = (opts.host ?? DEFAULT_GOPROXY_HOST).replace(/^\[(.*)\]$/, '$1');
  const port = opts.port ?? DEFAULT_GOPROXY_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MigrateError('ECONFIG', `--port ${port}: a port number from 0 to 65535`);
  if (!isLoopbackHost(host) && !opts.allowRemote) {
    throw new MigrateError('ECONFIG', `refusing to listen on ${host}: the Go proxy has no authentication and reads CodeArtifact with your AWS credentials, so anyone who can reach ${host} could download every internal module`, {
      hint: 'listen on 127.0.0.1 (the default) and let each developer or CI job run its own; or pass --allow-remote on a network only trusted machines reach',
    });
  }
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new MigrateError('ECONFIG', `--max-connections ${maxConnections}: a whole number above 0`);
  const minDownloadRate = opts.minDownloadRate ?? DEFAULT_MIN_DOWNLOAD_RATE;
  if (!(minDownloadRate > 0 && Number.isFinite(minDownloadRate))) throw new MigrateError('ECONFIG', `minDownloadRate ${minDownloadRate}: a number of bytes per second above 0`);
  const allowedHosts = allowedHostNames(opts.allowedHosts ?? []);
  const job = typeof opts.job === 'string' ? loadJob(opts.job) : opts.job;
  const repository = job.config.target.repositories.generic?.internal;
  if (!repository) {
    throw new MigrateError('ECONFIG', `${job.file}: the job names no generic repository to serve`, { hint: 'add target.repositories.generic.internal (the repository Go modules are migrated into)' });
  }

  // Every call in flight listens on this: stop() cuts them all off, and so does the caller's stop.
  const stopping = new AbortController();
  // each request in flight listens on it (GoProxyHandler.handle): no bound, and no "possible leak" warning on stderr past 10
  setMaxListeners(0, stopping.signal);
  if (opts.signal?.aborted) throw new MigrateError('EINTERRUPTED', 'stopped before the proxy was serving');
  const onStop = () => stopping.abort();
  opts.signal?.addEventListener('abort', onStop, { once: true });
  const ca = new CodeArtifact(job.config.target, new Limiter(job.config.limits.rates), opts.codeartifactClient, stopping.signal);
  const closeClient = () => {
    if (!opts.codeartifactClient) ca.client.destroy();
  };
  let prefixes: string[];
  try {
    // credentials and repository checked before go ever asks: a wrong job fails here, not on go's first request
    const target = new GenericTarget(ca, repository);
    await withRetry(() => target.preflight(), { budget: READ_RETRIES, signal: stopping.signal });
    const packages = await withRetry(() => ca.listPackages(repository, 'generic'), { budget: READ_RETRIES, signal: stopping.signal });
    const modules = packages.filter((p) => p.namespace !== undefined).map((p) => genericToGoModule({ namespace: p.namespace!, package: p.package }));
    prefixes = noSumDbPrefixes(modules.filter((m) => checkModulePath(m) === undefined));
  } catch (e) {
    opts.signal?.removeEventListener('abort', onStop);
    closeClient();
    if (stopping.signal.aborted) throw new MigrateError('EINTERRUPTED', 'stopped before the proxy was serving', { cause: e });
    throw e;
  }

  const onError = opts.onError ?? (() => {});
  // Serving calls without the stop as the client's own: each request's signal already carries it, and
  // CodeArtifact's would join every call to it with AbortSignal.any, which keeps what it makes from a
  // signal that never aborts alive for as long as the proxy serves (a few hundred bytes a request)
  const serving = new CodeArtifact(job.config.target, ca.limiter, ca.client);
  const handler = new GoProxyHandler(serving, repository, stopping.signal, onError, {
    // bound to loopback, only a loopback name (or one named) may be asked for; bound elsewhere, any address too: see allowedHost
    hosts: { anyAddress: !isLoopbackHost(host), names: allowedHosts },
    upstreamTimeoutMs: opts.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    minDownloadRate,
    downloadGraceMs: opts.downloadGraceMs ?? DEFAULT_DOWNLOAD_GRACE_MS,
  });
  const { server, closeAll } = createGoProxyServer((req, res) => handler.handle(req, res), { headTimeoutMs: opts.headTimeoutMs ?? DEFAULT_HEAD_TIMEOUT_MS, maxConnections }, onError);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    opts.signal?.removeEventListener('abort', onStop);
    closeClient();
    const err = toError(e) as NodeJS.ErrnoException;
    throw new MigrateError('ECONFIG', `cannot listen on ${host}:${port}: ${err.message}`, { cause: e, hint: err.code === 'EADDRINUSE' ? 'another process holds that port: pass --port with another one (0 picks a free port)' : 'check --host and --port' });
  }
  const address = server.address() as AddressInfo;
  const url = `http://${clientHost(address, allowedHosts)}:${address.port}`;
  let stopped: Promise<void> | undefined;
  const noSumDb = noSumDbValue(prefixes);
  return {
    url,
    repository,
    modulePrefixes: prefixes,
    // GONOPROXY defaults to GOPRIVATE, which companies set for their own host (go env -w): go would fetch
    // those modules from git and never ask this proxy. `none` matches no module path (go help module-private)
    goEnv: { GOPROXY: url, GONOPROXY: 'none', GONOSUMDB: noSumDb.value, GOFLAGS: '-mod=mod' },
    noSumDbShortened: noSumDb.shortened,
    stop() {
      stopped ??= (async () => {
        opts.signal?.removeEventListener('abort', onStop);
        stopping.abort();
        await closeAll();
        closeClient();
      })();
      return stopped;
    },
  };
}

/**
 * The host a client reaches the proxy at: the address it listens on, but for the unspecified
 * one (0.0.0.0, ::, ::ffff:0.0.0.0), which no client can connect to: the first --allowed-host, or else an
 * address of this machine's first network interface that is not loopback (a Host of an
 * address is allowed on every address), or loopback on a machine with none.
 */
function clientHost(address: AddressInfo, allowedHosts: readonly string[]): string {
  const bracket = (a: string, family: string) => (family === 'IPv6' || family === '6' ? `[${a}]` : a);
  // ::ffff:0.0.0.0 is 0.0.0.0 written as IPv6 (node keeps it so): every IPv4 address, none a client can connect to
  const ipv4Any = address.address === '0.0.0.0' || /^::ffff:0(?:\.0\.0\.0|:0)$/i.test(address.address);
  if (!ipv4Any && address.address !== '::') return bracket(address.address, address.family);
  if (allowedHosts[0] !== undefined) return allowedHosts[0];
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []).filter((i) => !i.internal && (!ipv4Any || i.family === 'IPv4'));
  const chosen = all.find((i) => i.family === 'IPv4') ?? all.find((i) => !i.address.startsWith('fe80:'));
  // a machine with no such interface (a container with loopback only) is reached on loopback alone
  return chosen ? bracket(chosen.address, chosen.family) : address.address === '::' ? '[::1]' : '127.0.0.1';
}
