/**
 * The CodeArtifact stand-in: one HTTP server on 127.0.0.1 serving the control plane (for the AWS
 * SDK, via `AWS_ENDPOINT_URL_CODEARTIFACT` or the client's `endpoint`), the npm and PyPI endpoints
 * of every repository (with fetch-through from upstreams and external connections), STS
 * GetCallerIdentity (`AWS_ENDPOINT_URL_STS`), Service Quotas for `codeartifact`
 * (`AWS_ENDPOINT_URL_SERVICE_QUOTAS`), and `/__admin/*` controls for out-of-process use.
 *
 * Every request goes through the same steps: latency, route, authentication, quotas, faults, the
 * operation, an `afterApply` fault, the log.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { controlPlaneError, resolveControlPlane, unknownOperation } from './control-plane.js';
import { ApiError, accessDenied, defaultErrorType, throttled, toApiError } from './errors.js';
import { DEFAULT_METADATA_TTL_MS, ExternalRegistries, isConnectionName, type RequestTrace } from './external.js';
import { Faults } from './faults.js';
import { npmError, resolveNpm } from './npm-endpoint.js';
import { OriginControls } from './origin-controls.js';
import { PackageGroups } from './package-groups.js';
import { pypiError, resolvePypi } from './pypi-endpoint.js';
import { Quotas } from './quotas.js';
import { setUpRepositories } from './repositories.js';
import type { IncomingCall, Reply, ResolvedRoute, StandInContext } from './route.js';
import { resolveServiceQuotas, serviceQuotasError } from './service-quotas.js';
import { Store, type PackageRecord, type VersionRecord } from './store.js';
import { callerIdentity, resolveSts, stsError } from './sts.js';
import type {
  ExternalConnectionName,
  FaultRule,
  OriginPrecedence,
  PackageVersionStatus,
  QuotaConfig,
  QuotaName,
  RequestLogEntry,
  StandInOptions,
  StoredAsset,
  StoredVersion,
} from './types.js';
import { applyStatus } from './version-status.js';

/** What GetAuthorizationToken uses when no duration is asked for: 12 hours, the CLI's default too. */
const DEFAULT_TOKEN_SECONDS = 43200;

interface IssuedToken {
  expiresAt: number;
}

interface AdminVersionStatus {
  repository: string;
  format: string;
  namespace?: string;
  package: string;
  version: string;
  status: PackageVersionStatus;
}

interface AdminConfig {
  latencyMs?: number;
  tokenTtlSeconds?: number | null;
  quotas?: QuotaConfig | false | null;
  faults?: FaultRule[];
  ingestionDelayMs?: number;
  externalConnections?: Partial<Record<ExternalConnectionName, string | null>>;
  serviceQuotasReadable?: boolean;
  originPrecedence?: OriginPrecedence;
}

/** What dispatch decided, beyond the reply: why a 429 was sent. */
interface Outcome {
  reply: Reply;
  throttledBy?: 'quota' | 'fault';
  quota?: QuotaName;
}

export class CodeArtifactStandIn {
  readonly log: RequestLogEntry[] = [];
  private readonly store: Store;
  private readonly quotas: Quotas;
  private readonly groups = new PackageGroups();
  private readonly origins: OriginControls;
  private readonly external: ExternalRegistries;
  private readonly faults = new Faults();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly sockets = new Set<Socket>();
  private readonly sleeping = new Set<NodeJS.Timeout>();
  /** Fetched-through versions waiting for the ingestion delay: each timer with the write it will do. */
  private readonly ingesting = new Map<NodeJS.Timeout, () => void>();
  private ingestedWaiters: (() => void)[] = [];
  private readonly context: StandInContext;
  private latencyMs: number;
  private tokenTtlSeconds: number | undefined;
  private ingestionDelayMs: number;
  private serviceQuotasReadable: boolean;
  private seq = 0;
  private port = 0;
  private stopped = false;
  /** The tokens an endless-paging fault hands out, each new. */
  private pagingTokens = 0;
  /** The first page each endless-paging fault answered. */
  private readonly pagingFirst = new WeakMap<FaultRule, Record<string, unknown>>();

  private constructor(
    private readonly opts: StandInOptions,
    private readonly server: Server,
  ) {
    this.store = new Store(opts.dataDir);
    setUpRepositories(this.store, opts.repositories);
    this.quotas = new Quotas(opts.quotas);
    this.origins = new OriginControls(this.store, this.groups, opts.originPrecedence ?? 'strictest');
    this.external = new ExternalRegistries({ ...opts.externalConnections }, opts.externalMetadataTtlMs ?? DEFAULT_METADATA_TTL_MS);
    this.latencyMs = opts.latencyMs ?? 0;
    this.tokenTtlSeconds = opts.tokenTtlSeconds;
    this.ingestionDelayMs = opts.ingestionDelayMs ?? 0;
    this.serviceQuotasReadable = opts.serviceQuotasReadable ?? true;
    const identity = callerIdentity(opts.accessKeyId, opts.domainOwner, opts.identity);
    this.context = {
      store: this.store,
      groups: this.groups,
      origins: this.origins,
      external: this.external,
      quotas: this.quotas,
      domain: opts.domain,
      domainOwner: opts.domainOwner,
      region: opts.region ?? 'us-east-1',
      issueToken: (requested) => this.issueToken(requested),
      endpointUrl: (format, repo) => `${this.url}/d/${opts.domain}-${opts.domainOwner}/${format}/${repo}/`,
      ingest: (write) => this.ingest(write),
      identity: () => identity,
      serviceQuotasReadable: () => this.serviceQuotasReadable,
    };
  }

  static async start(opts: StandInOptions): Promise<CodeArtifactStandIn> {
    const server = createServer();
    const standIn = new CodeArtifactStandIn(opts, server);
    server.on('connection', (socket: Socket) => {
      standIn.sockets.add(socket);
      socket.once('close', () => standIn.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      standIn.onRequest(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`stand-in failure: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
    server.listen(opts.port ?? 0, '127.0.0.1');
    await once(server, 'listening');
    standIn.port = (server.address() as AddressInfo).port;
    return standIn;
  }

  /** `http://127.0.0.1:PORT`: what AWS_ENDPOINT_URL_CODEARTIFACT gets. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The URL GetRepositoryEndpoint returns for a format, ending with '/'. */
  endpoint(format: string, repo: string): string {
    return this.context.endpointUrl(format, repo);
  }

  /** The URL GetRepositoryEndpoint returns for format npm, ending with '/'. */
  npmEndpoint(repo: string): string {
    return this.context.endpointUrl('npm', repo);
  }

  /** The URL GetRepositoryEndpoint returns for format pypi, ending with '/': twine's `--repository-url`. */
  pypiEndpoint(repo: string): string {
    return this.context.endpointUrl('pypi', repo);
  }

  /** pip's `--index-url` for a repository, with the token as Basic credentials `aws:<token>`. */
  pypiIndexUrl(repo: string, token: string): string {
    const endpoint = new URL(`${this.pypiEndpoint(repo)}simple/`);
    endpoint.username = 'aws';
    endpoint.password = token;
    return endpoint.toString();
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  setTokenTtl(seconds: number | undefined): void {
    this.tokenTtlSeconds = seconds;
  }

  /** Every token issued so far becomes invalid (401 on the npm and PyPI endpoints). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  addFault(rule: FaultRule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  setQuotas(q: StandInOptions['quotas']): void {
    this.quotas.configure(q);
  }

  /** Freeze (or drive) the time quota buckets refill by; undefined: the real clock. Buckets start full. */
  setQuotaClock(clock: (() => number) | undefined): void {
    this.quotas.setClock(clock);
  }

  /** The rate of every quota bucket (what Service Quotas reports as applied). */
  appliedQuotas(): Record<QuotaName, number> {
    return this.quotas.applied();
  }

  /** Delay before fetched-through versions are stored (0: at once). */
  setIngestionDelay(ms: number): void {
    this.ingestionDelayMs = ms;
  }

  /**
   * Stores now every fetched-through version waiting for the ingestion delay: with a delay no
   * test waits out, a test decides when ingestion happens instead of racing a timer with the
   * speed of the machine.
   */
  ingestNow(): void {
    const writes = [...this.ingesting];
    this.ingesting.clear();
    for (const [timer, write] of writes) {
      clearTimeout(timer);
      write();
    }
    for (const resolve of this.ingestedWaiters.splice(0)) resolve();
  }

  /** Resolves once every fetched-through version waiting for the ingestion delay is stored. */
  whenIngested(): Promise<void> {
    if (this.ingesting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.ingestedWaiters.push(resolve));
  }

  /** Point an external connection at a public registry (undefined: it finds nothing); forgets cached metadata. */
  setExternalConnection(connection: ExternalConnectionName, url: string | undefined): void {
    this.external.setUrl(connection, url);
  }

  /** Forget the public registries' package metadata (the next request fetches it again). */
  clearExternalCache(): void {
    this.external.clearCache();
  }

  /** false: Service Quotas answers AccessDeniedException (the principal may not read quotas). */
  setServiceQuotasReadable(readable: boolean): void {
    this.serviceQuotasReadable = readable;
  }

  /** Which side wins between a package's origin configuration and its package group's (see OriginPrecedence). */
  setOriginPrecedence(precedence: OriginPrecedence): void {
    this.origins.precedence = precedence;
  }

  /** DeleteRepository in-process: every call naming the repository then answers 404 ResourceNotFoundException (resourceType repository). */
  deleteRepository(repo: string): void {
    this.store.deleteRepository(repo);
  }

  /** What is stored for a package, oldest version first (copies: changing them changes nothing). */
  versions(repo: string, format: string, namespace: string | undefined, pkg: string): StoredVersion[] {
    const record = this.store.getPackage(repo, format, namespace, pkg);
    return record === undefined ? [] : this.store.snapshot(repo, record);
  }

  /** The bytes of one stored asset, or undefined. */
  assetBytes(repo: string, format: string, namespace: string | undefined, pkg: string, version: string, asset: string): Buffer | undefined {
    const found = this.store.getPackage(repo, format, namespace, pkg)?.versions.get(version)?.assets.find((a) => a.name === asset);
    return found === undefined ? undefined : Buffer.from(this.store.readAsset(found));
  }

  /**
   * Set a version's status in-process, any status (UpdatePackageVersionsStatus only sets Published,
   * Unlisted and Archived). Disposed deletes the assets, as DisposePackageVersions does; the
   * revision changes. Throws when the version is not stored.
   */
  setVersionStatus(repo: string, format: string, namespace: string | undefined, pkg: string, version: string, status: PackageVersionStatus): StoredVersion {
    const { record, stored } = this.versionRecord(repo, format, namespace, pkg, version);
    applyStatus(this.store, record, stored, status);
    return this.store.snapshot(repo, record).find((v) => v.version === version) as StoredVersion;
  }

  /**
   * Replace the bytes of a stored asset in-process, to simulate tampering on the target. By default
   * the listing (size, hashes) follows the new bytes and the revision changes; with `keepHashes`
   * only downloads change, as with corrupted storage. Returns what the listing now says.
   */
  replaceAssetBytes(
    repo: string,
    format: string,
    namespace: string | undefined,
    pkg: string,
    version: string,
    asset: string,
    bytes: Buffer,
    opts: { keepHashes?: boolean } = {},
  ): StoredAsset {
    const { record, stored } = this.versionRecord(repo, format, namespace, pkg, version);
    return this.store.replaceAssetBytes(record, stored, asset, Buffer.from(bytes), opts.keepHashes === true);
  }

  /**
   * Take one asset off a stored version in-process (a version someone else published with fewer
   * files, or a file deleted there); the revision changes. Throws when the asset is not stored.
   */
  removeAsset(repo: string, format: string, namespace: string | undefined, pkg: string, version: string, asset: string): void {
    const { record, stored } = this.versionRecord(repo, format, namespace, pkg, version);
    const at = stored.assets.findIndex((a) => a.name === asset);
    if (at < 0) throw new Error(`no asset ${asset} in ${format} ${pkg}@${version}`);
    stored.assets.splice(at, 1);
    this.store.touch(record, stored);
  }

  private versionRecord(repo: string, format: string, namespace: string | undefined, pkg: string, version: string): { record: PackageRecord; stored: VersionRecord } {
    const record = this.store.getPackage(repo, format, namespace, pkg);
    const stored = record?.versions.get(version);
    if (record === undefined || stored === undefined) throw new Error(`no ${format} version ${namespace === undefined ? '' : `${namespace}/`}${pkg}@${version} in ${repo}`);
    return { record, stored };
  }

  /** npm dist-tags of a package (`@acme/core`), empty when unknown. */
  distTags(repo: string, npmName: string): Record<string, string> {
    const m = /^(?:@([^/]+)\/)?(.+)$/.exec(npmName);
    const record = m?.[2] === undefined ? undefined : this.store.getPackage(repo, 'npm', m[1], m[2]);
    return record === undefined ? {} : Object.fromEntries(record.distTags);
  }

  /** Closes the server and every open socket; pending latency sleeps and ingestions are dropped. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.sleeping) clearTimeout(timer);
    this.sleeping.clear();
    for (const timer of this.ingesting.keys()) clearTimeout(timer);
    this.ingesting.clear();
    for (const resolve of this.ingestedWaiters.splice(0)) resolve();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closed;
  }

  /** Store a fetch-through's find now, or after the ingestion delay (the service ingests asynchronously). */
  private ingest(write: () => void): void {
    if (this.stopped) return; // a fetch-through that outlived stop(): nothing is kept
    if (this.ingestionDelayMs <= 0) {
      write();
      return;
    }
    const timer = setTimeout(() => {
      this.ingesting.delete(timer);
      write();
      if (this.ingesting.size === 0) for (const resolve of this.ingestedWaiters.splice(0)) resolve();
    }, this.ingestionDelayMs);
    this.ingesting.set(timer, write);
  }

  private issueToken(requestedSeconds: number): { token: string; expiration: Date } {
    const seconds = this.tokenTtlSeconds ?? (requestedSeconds > 0 ? requestedSeconds : DEFAULT_TOKEN_SECONDS);
    const token = randomBytes(96).toString('base64url');
    const expiresAt = Date.now() + seconds * 1000;
    this.tokens.set(token, { expiresAt });
    return { token, expiration: new Date(expiresAt) };
  }

  /**
   * npm clients send `Bearer <token>` (or Basic); pip and twine send Basic `aws:<token>`, and the
   * PyPI endpoint takes only that: the user name is `aws`
   * (https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-pip.html).
   */
  private tokenValid(authorization: string | undefined, kind: 'npm' | 'pypi'): boolean {
    if (authorization === undefined) return false;
    let token: string | undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(authorization);
    const basic = /^Basic\s+(.+)$/i.exec(authorization);
    if (bearer?.[1] !== undefined && kind === 'npm') token = bearer[1].trim();
    else if (basic?.[1] !== undefined) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      if (colon >= 0 && (kind === 'npm' || user === 'aws')) token = decoded.slice(colon + 1);
    }
    const issued = token === undefined ? undefined : this.tokens.get(token);
    return issued !== undefined && Date.now() < issued.expiresAt;
  }

  /** Only the access key of the SigV4 `Credential=` is checked, not the signature. */
  private credentialValid(authorization: string | undefined): boolean {
    const m = /Credential=([^/,\s]+)\//.exec(authorization ?? '');
    return m?.[1] === this.opts.accessKeyId;
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeping.delete(timer);
        resolve();
      }, ms);
      this.sleeping.add(timer);
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const call: IncomingCall = {
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://127.0.0.1'),
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    if (call.url.pathname.startsWith('/__admin/')) {
      send(res, this.admin(call));
      return;
    }
    const at = Date.now();
    await this.sleep(this.latencyMs);
    if (this.stopped) return;

    const route =
      resolveSts(this.context, call) ??
      resolveServiceQuotas(this.context, call) ??
      resolveControlPlane(this.context, call) ??
      resolveNpm(this.context, call) ??
      resolvePypi(this.context, call);
    const hang = route === undefined ? undefined : this.faults.match({ operation: route.operation, ...route.subject });
    if (route !== undefined && hang?.hang === true) {
      // a stuck peer: the connection stays open and silent until the client closes it
      this.faults.fire(hang);
      this.log.push(this.logEntry(call, route, at, 0));
      if (!res.destroyed) await new Promise<void>((resolve) => res.once('close', () => resolve()));
      return;
    }
    const trace: RequestTrace = { upstream: [] };
    const outcome: Outcome = route === undefined ? { reply: controlPlaneError(unknownOperation(call)) } : await this.dispatch(route, call, trace);
    if (this.stopped) return;
    const { reply } = outcome;
    const entry = this.logEntry(call, route, at, reply.status);
    const errorType = reply.headers?.['x-amzn-errortype'] ?? reply.headers?.['x-standin-errortype'];
    if (errorType !== undefined) entry.errorType = errorType;
    if (outcome.throttledBy !== undefined) entry.throttledBy = outcome.throttledBy;
    if (outcome.quota !== undefined) entry.quota = outcome.quota;
    if (trace.upstream.length > 0) entry.upstreamRequests = trace.upstream;
    this.log.push(entry);
    send(res, reply);
  }

  /** A request as the log shows it: when it arrived, what it asked about, the status it got (0: none). */
  private logEntry(call: IncomingCall, route: ResolvedRoute | undefined, at: number, status: number): RequestLogEntry {
    const entry: RequestLogEntry = {
      seq: ++this.seq,
      at,
      method: call.method,
      path: call.url.pathname,
      query: Object.fromEntries(call.url.searchParams),
      operation: route?.operation ?? 'Unknown',
      status,
    };
    const subject = route?.subject;
    if (subject?.repository !== undefined) entry.repository = subject.repository;
    if (subject?.format !== undefined) entry.format = subject.format;
    if (subject?.namespace !== undefined) entry.namespace = subject.namespace;
    if (subject?.package !== undefined) entry.package = subject.package;
    if (subject !== undefined && subject.versions.length > 0) entry.version = subject.versions.join(',');
    return entry;
  }

  private errorReply(route: ResolvedRoute, err: ApiError): Reply {
    const reply =
      route.kind === 'control'
        ? controlPlaneError(err)
        : route.kind === 'npm'
          ? npmError(err)
          : route.kind === 'pypi'
            ? pypiError(err)
            : route.kind === 'sts'
              ? stsError(err)
              : serviceQuotasError(err);
    return { ...reply, headers: { ...reply.headers, 'x-standin-errortype': err.type } };
  }

  /** The SigV4 services' answer to an unknown access key, each in its own words. */
  private static badCredentials(kind: ResolvedRoute['kind']): ApiError {
    const message = 'The security token included in the request is invalid.';
    if (kind === 'sts') return new ApiError(403, 'InvalidClientTokenId', message);
    if (kind === 'servicequotas') return new ApiError(400, 'UnrecognizedClientException', message);
    return accessDenied(message);
  }

  private async dispatch(route: ResolvedRoute, call: IncomingCall, trace: RequestTrace): Promise<Outcome> {
    const fail = (err: ApiError): Outcome => ({ reply: this.errorReply(route, err) });
    const authorization = call.headers.authorization;
    const sigv4 = route.kind === 'control' || route.kind === 'sts' || route.kind === 'servicequotas';
    if (sigv4 && !this.credentialValid(authorization)) return fail(CodeArtifactStandIn.badCredentials(route.kind));
    if ((route.kind === 'npm' || route.kind === 'pypi') && !this.tokenValid(authorization, route.kind)) {
      return fail(new ApiError(401, 'Unauthorized', 'Unable to authenticate: the authorization token is missing, expired or revoked.'));
    }
    const dry = this.quotas.take(route.quotas);
    if (dry !== undefined) {
      return { ...fail(throttled(`Rate exceeded for ${route.operation}.`, dry.retryAfterSeconds)), throttledBy: 'quota', quota: dry.quota };
    }

    const matched = this.faults.match({ operation: route.operation, ...route.subject });
    // a cache that `?write=true` goes past: the request is answered as if no fault were set
    const fault = matched?.unlessWrite === true && call.url.searchParams.get('write') === 'true' ? undefined : matched;
    const faultError = (rule: FaultRule): Outcome => {
      this.faults.fire(rule);
      const err = new ApiError(rule.status, rule.errorType ?? defaultErrorType(rule.status), rule.message ?? `Injected fault for ${route.operation}.`, {}, rule.retryAfterSeconds);
      return { ...fail(err), ...(rule.status === 429 ? { throttledBy: 'fault' as const } : {}) };
    };
    if (fault?.endlessPaging !== undefined) return { reply: await this.endlessPage(fault, route, trace) };
    if (fault?.body !== undefined) {
      this.faults.fire(fault);
      return { reply: { status: fault.status, headers: { 'content-type': 'application/json' }, bytes: Buffer.from(JSON.stringify(fault.body)) } };
    }
    if (fault?.omitVersion !== undefined) {
      this.faults.fire(fault);
      let reply: Reply;
      try {
        reply = await route.handle(trace);
      } catch (err) {
        return fail(toApiError(err));
      }
      const doc = reply.json as { versions?: Record<string, unknown>; time?: Record<string, unknown> } | undefined;
      if (doc?.versions !== undefined) delete doc.versions[fault.omitVersion];
      if (doc?.time !== undefined) delete doc.time[fault.omitVersion];
      return { reply };
    }
    if (fault !== undefined && fault.afterApply !== true) return faultError(fault);
    let reply: Reply;
    try {
      reply = await route.handle(trace);
    } catch (err) {
      return fail(toApiError(err));
    }
    // afterApply: the store changed, the client sees the error (a response lost on the way back).
    if (fault !== undefined && reply.status < 300) return faultError(fault);
    return { reply };
  }

  /**
   * A listing whose paging never ends: the first answer as the operation gives it, every
   * later one (whose made-up token the operation itself would refuse) built from it, with
   * the same token again ('same-token') or an empty page and a new token ('empty-pages').
   */
  private async endlessPage(fault: FaultRule, route: ResolvedRoute, trace: RequestTrace): Promise<Reply> {
    this.faults.fire(fault);
    let first = this.pagingFirst.get(fault);
    if (first === undefined) {
      const reply = await route.handle(trace);
      if (reply.status >= 300 || typeof reply.json !== 'object' || reply.json === null) return reply;
      first = { ...(reply.json as Record<string, unknown>) };
      this.pagingFirst.set(fault, first);
    }
    const page = { ...first };
    // Service Quotas spells it NextToken
    const key = route.operation.startsWith('servicequotas:') ? 'NextToken' : 'nextToken';
    if (fault.endlessPaging === 'same-token') page[key] = 'page-again';
    else {
      for (const [k, v] of Object.entries(page)) if (Array.isArray(v)) page[k] = [];
      page[key] = `page-${++this.pagingTokens}`;
    }
    return { status: 200, json: page };
  }

  private admin(call: IncomingCall): Reply {
    const path = call.url.pathname;
    if (call.method === 'GET' && path === '/__admin/log') return { status: 200, json: this.log };
    if (call.method === 'POST' && path === '/__admin/revoke-tokens') {
      this.revokeTokens();
      return { status: 200, json: { ok: true } };
    }
    if (call.method === 'GET' && path === '/__admin/versions') {
      const q = call.url.searchParams;
      return { status: 200, json: this.versions(q.get('repository') ?? '', q.get('format') ?? 'npm', q.get('namespace') ?? undefined, q.get('package') ?? '') };
    }
    if (call.method === 'POST' && path === '/__admin/version-status') {
      try {
        const r = JSON.parse(call.body.toString('utf8')) as AdminVersionStatus;
        return { status: 200, json: this.setVersionStatus(r.repository, r.format, r.namespace, r.package, r.version, r.status) };
      } catch (err) {
        return { status: 400, json: { error: err instanceof Error ? err.message : String(err) } };
      }
    }
    if (call.method === 'POST' && path === '/__admin/config') {
      let config: AdminConfig;
      try {
        config = JSON.parse(call.body.toString('utf8') || '{}') as AdminConfig;
      } catch {
        return { status: 400, json: { error: 'body is not JSON' } };
      }
      if (config.latencyMs !== undefined) this.setLatency(config.latencyMs);
      if (config.tokenTtlSeconds !== undefined) this.setTokenTtl(config.tokenTtlSeconds ?? undefined);
      if (config.quotas !== undefined) this.setQuotas(config.quotas ?? undefined);
      if (config.faults !== undefined) {
        this.clearFaults();
        for (const rule of config.faults) this.addFault(rule);
      }
      if (config.ingestionDelayMs !== undefined) this.setIngestionDelay(config.ingestionDelayMs);
      for (const [connection, url] of Object.entries(config.externalConnections ?? {})) {
        if (!isConnectionName(connection)) return { status: 400, json: { error: `'${connection}' is not an external connection` } };
        this.setExternalConnection(connection, url ?? undefined);
      }
      if (config.serviceQuotasReadable !== undefined) this.setServiceQuotasReadable(config.serviceQuotasReadable);
      if (config.originPrecedence !== undefined) this.setOriginPrecedence(config.originPrecedence);
      return { status: 200, json: { ok: true } };
    }
    return { status: 404, json: { error: `no admin route ${call.method} ${path}` } };
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { 'x-amzn-requestid': randomUUID(), ...reply.headers };
  delete headers['x-standin-errortype'];
  let body: Buffer;
  if (reply.bytes !== undefined) {
    body = reply.bytes;
    headers['content-type'] ??= 'application/octet-stream';
  } else {
    body = Buffer.from(JSON.stringify(reply.json ?? {}));
    headers['content-type'] ??= 'application/json';
  }
  headers['content-length'] = String(body.length);
  res.writeHead(reply.status, headers);
  res.end(body);
}
