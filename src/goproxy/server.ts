/**
 * `cam goproxy`: a read-only GOPROXY (https://go.dev/ref/mod#goproxy-protocol) in front
 * of the job's generic repository, so the Go toolchain can use the modules `run`
 * migrated. CodeArtifact has no Go format and serves no GOPROXY protocol itself; the
 * generic repository holds `<v>.zip`, `<v>.mod`, `<v>.info` per version (go-mapping.ts),
 * which is exactly what the protocol serves, so this is a thin translation:
 *
 *   @v/list        ListPackageVersions: Published versions only (an Unfinished one is half uploaded)
 *   @v/<v>.<ext>   DescribePackageVersion (Published or Unlisted?), then GetPackageVersionAsset, streamed
 *   @latest        the highest release, else the highest prerelease, as its .info
 *
 * Requests go through the AWS SDK with the default credential chain and the job's rate
 * limits, like `run`. Go treats 404 and 410 as "not found" (and tries the next entry of a
 * comma-separated GOPROXY); anything else is an error it shows with our body
 * (cmd/go/internal/modfetch/proxy.go). Nothing here verifies the bytes: go checks every
 * zip and go.mod against go.sum (and the checksum database unless GONOSUMDB/GOPRIVATE).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { loadJob, type LoadedJob } from '../config/load.js';
import { Limiter } from '../engine/limiter.js';
import { withRetry } from '../engine/retry.js';
import { MigrateError, toError } from '../errors.js';
import { forOutput } from '../redact.js';
import { checkModulePath } from '../builders/go-rules.js';
import { CodeArtifact, type PackageCoordinates } from '../targets/codeartifact.js';
import { GenericTarget } from '../targets/generic.js';
import { genericToGoModule } from '../targets/go-mapping.js';
import { latestVersion, listableVersions, noSumDbPrefixes, parseGoProxyPath, type GoProxyRoute } from './protocol.js';

export const DEFAULT_GOPROXY_PORT = 8085;
export const DEFAULT_GOPROXY_HOST = '127.0.0.1';
/** Retries of one read when CodeArtifact throttles or fails (go itself does not retry a proxy). */
const READ_RETRIES = 3;

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
  /** For tests: a preconfigured SDK client (the caller closes it). */
  codeartifactClient?: CodeartifactClient;
  /** One line per failed request (CodeArtifact errors, client aborts are not logged). */
  onError?: (line: string) => void;
}

export interface GoProxy {
  /** `http://127.0.0.1:PORT`: the GOPROXY value. */
  url: string;
  repository: string;
  /** The module paths the repository holds, as GONOSUMDB wants them (no path below another). */
  modulePrefixes: string[];
  /** The environment go needs: GOPROXY, GONOSUMDB, GOFLAGS. */
  goEnv: Record<string, string>;
  /** Stop listening, cut off what is in flight, close the SDK client (if ours). */
  stop(): Promise<void>;
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export async function startGoProxy(opts: GoProxyOptions): Promise<GoProxy> {
  const host = opts.host ?? DEFAULT_GOPROXY_HOST;
  const port = opts.port ?? DEFAULT_GOPROXY_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MigrateError('ECONFIG', `--port ${port}: a port number from 0 to 65535`);
  if (!isLoopbackHost(host) && !opts.allowRemote) {
    throw new MigrateError('ECONFIG', `refusing to listen on ${host}: the Go proxy has no authentication and reads CodeArtifact with your AWS credentials, so anyone who can reach ${host} could download every internal module`, {
      hint: 'listen on 127.0.0.1 (the default) and let each developer or CI job run its own; or pass --allow-remote on a network only trusted machines reach',
    });
  }
  const job = typeof opts.job === 'string' ? loadJob(opts.job) : opts.job;
  const repository = job.config.target.repositories.generic?.internal;
  if (!repository) {
    throw new MigrateError('ECONFIG', `${job.file}: the job names no generic repository to serve`, { hint: 'add target.repositories.generic.internal (the repository Go modules are migrated into)' });
  }

  // Every call in flight listens on this: stop() cuts them all off.
  const stopping = new AbortController();
  const ca = new CodeArtifact(job.config.target, new Limiter(job.config.limits.rates), opts.codeartifactClient, stopping.signal);
  const closeClient = () => {
    if (!opts.codeartifactClient) ca.client.destroy();
  };
  let prefixes: string[];
  try {
    // credentials and repository checked before go ever asks: a wrong job fails here, not on go's first request
    const target = new GenericTarget(ca, repository);
    await withRetry(() => target.preflight(), { budget: READ_RETRIES });
    const packages = await withRetry(() => ca.listPackages(repository, 'generic'), { budget: READ_RETRIES });
    const modules = packages.filter((p) => p.namespace !== undefined).map((p) => genericToGoModule({ namespace: p.namespace!, package: p.package }));
    prefixes = noSumDbPrefixes(modules.filter((m) => checkModulePath(m) === undefined));
  } catch (e) {
    closeClient();
    throw e;
  }

  const handler = new GoProxyHandler(ca, repository, stopping.signal, opts.onError ?? (() => {}));
  const server = createServer((req, res) => {
    handler.handle(req, res).catch(() => res.destroy());
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    closeClient();
    const err = toError(e) as NodeJS.ErrnoException;
    throw new MigrateError('ECONFIG', `cannot listen on ${host}:${port}: ${err.message}`, { cause: e, hint: err.code === 'EADDRINUSE' ? 'another process holds that port: pass --port with another one (0 picks a free port)' : 'check --host and --port' });
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    repository,
    modulePrefixes: prefixes,
    goEnv: { GOPROXY: url, GONOSUMDB: prefixes.join(','), GOFLAGS: '-mod=mod' },
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
        closeClient();
      })();
      return stopped;
    },
  };
}

const CONTENT_TYPES = { info: 'application/json', mod: 'text/plain; charset=utf-8', zip: 'application/zip' } as const;

class GoProxyHandler {
  private readonly generic: GenericTarget;

  constructor(
    private readonly ca: CodeArtifact,
    repository: string,
    private readonly stopping: AbortSignal,
    private readonly onError: (line: string) => void,
  ) {
    this.generic = new GenericTarget(ca, repository);
  }

  private coords(module: string): PackageCoordinates {
    return this.generic.coordinates(module);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // a client that hangs up cuts off its CodeArtifact calls and the download it was streaming
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const signal = AbortSignal.any([gone.signal, this.stopping]);
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (req.method !== 'GET') return text(res, 405, 'method not allowed: this proxy is read-only (GET)\n', { allow: 'GET' });
      const route = parseGoProxyPath(path);
      await this.serve(route, res, signal);
    } catch (thrown) {
      if (signal.aborted) {
        res.destroy();
        return;
      }
      const e = toError(thrown);
      const status = e instanceof MigrateError && e.status === 404 ? 404 : e instanceof MigrateError && e.code === 'ETHROTTLED' ? 503 : 502;
      if (status !== 404) this.onError(`GET ${path}: ${e instanceof MigrateError ? e.describe() : e.message}`);
      if (res.headersSent) {
        // the body is cut short: destroying the socket makes go see a broken download, never a short file
        res.destroy();
        return;
      }
      const message =
        status === 404
          ? `not found: ${path}\n`
          : status === 503
            ? 'CodeArtifact is throttling the proxy: try again in a moment\n'
            : `CodeArtifact failed: ${e instanceof MigrateError ? e.code : 'EUNEXPECTED'} (the proxy's log says more)\n`;
      text(res, status, message, status === 503 ? { 'retry-after': '5' } : {});
    }
  }

  private async serve(route: GoProxyRoute, res: ServerResponse, signal: AbortSignal): Promise<void> {
    switch (route.kind) {
      case 'bad':
        return text(res, 400, `bad request: ${route.why}\n`);
      case 'not-found':
        return text(res, 404, `not found: ${route.why}\n`);
      case 'list': {
        const versions = listableVersions(await this.published(route.module));
        // an empty list is "not found": go then tries the next proxy, or says the module is unknown
        if (versions.length === 0) return text(res, 404, `not found: ${route.module}: no published versions\n`);
        return text(res, 200, versions.map((v) => `${v}\n`).join(''));
      }
      case 'latest': {
        const latest = latestVersion(await this.published(route.module));
        if (!latest) return text(res, 404, `not found: ${route.module}: no published versions\n`);
        return this.sendAsset(res, route.module, latest, 'info', signal);
      }
      case 'file': {
        const coords = this.coords(route.module);
        const v = await this.read(() => this.ca.describeVersion(coords, route.version));
        // Unlisted is "available for download, but not in the list of versions returned to package
        // managers" (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-version-status):
        // a build pinned to it still works. Unfinished is half uploaded; Archived/Disposed are withdrawn.
        if (v?.status !== 'Published' && v?.status !== 'Unlisted') {
          return text(res, 404, `not found: ${route.module}@${route.version}${v ? ` is ${v.status} on the target` : ': unknown revision'}\n`);
        }
        return this.sendAsset(res, route.module, route.version, route.ext, signal);
      }
      default: {
        const never: never = route;
        return never;
      }
    }
  }

  private async published(module: string): Promise<string[]> {
    const versions = await this.read(() => this.ca.listVersions(this.coords(module)));
    return [...versions.values()].filter((v) => v.status === 'Published').map((v) => v.version);
  }

  /** The asset streamed through: never held whole, and a broken source breaks the response. */
  private async sendAsset(res: ServerResponse, module: string, version: string, ext: 'info' | 'mod' | 'zip', signal: AbortSignal): Promise<void> {
    const download = await this.read(() => this.ca.getAsset(this.coords(module), version, `${version}.${ext}`, signal));
    const length = (download.stream as Partial<IncomingMessage>).headers?.['content-length'];
    res.writeHead(200, { 'content-type': CONTENT_TYPES[ext], ...(length ? { 'content-length': length } : {}), 'cache-control': 'no-store' });
    await pipeline(download.stream, res);
  }

  private read<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, { budget: READ_RETRIES, signal: this.stopping });
  }
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(forOutput(body));
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}
