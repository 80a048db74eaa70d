/**
 * CodeArtifact's control plane, through the AWS SDK's default credential chain
 * (SSO, env, role, web identity). `AWS_ENDPOINT_URL_CODEARTIFACT` redirects the
 * client (the SDK's service-specific endpoint setting), which is how the tests
 * point it at the stand-in. SDK retries are off: the engine owns retries and
 * rate limits, so throttling is seen and slowed for, not hidden.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  CodeartifactClient,
  DescribePackageVersionCommand,
  GetAuthorizationTokenCommand,
  GetPackageVersionAssetCommand,
  GetRepositoryEndpointCommand,
  ListPackagesCommand,
  ListPackageVersionAssetsCommand,
  ListPackageVersionsCommand,
  PublishPackageVersionCommand,
  UpdatePackageVersionsStatusCommand,
  type PackageFormat,
} from '@aws-sdk/client-codeartifact';
import { MigrateError, proxyAuthError, toError } from '../errors.js';
import { Paging } from './paging.js';
import { noAnswer, registerSdkCredentials, SDK_IDLE_TIMEOUT_MS, sdkEndpoint, sdkRequestHandler } from '../net/agents.js';
import { requestDeadlineMs, ResponseLimitError, slowUploadHint } from '../net/bounds.js';
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from '../net/retry-after.js';
import { capText, printable, redact, registerSecret } from '../redact.js';
import { unreadableBlob } from '../read-through.js';
import type { BucketName, Format, RateLimiter } from '../types.js';

/**
 * The SDK's logger, silenced: with its default (NoOpLogger) the retry middleware still
 * writes "An error was encountered in a non-retryable streaming request." to the console
 * for every streamed upload that fails (a 409 included), over the progress output. Errors
 * reach us as exceptions anyway.
 */
const QUIET_SDK_LOGGER = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export interface TargetConfig {
  region: string;
  domain: string;
  domainOwner: string;
  tokenDurationSeconds: number;
  /** A request silent this long is cut off (and retried); default 300 s. */
  idleTimeoutSeconds?: number;
}

/** A package as CodeArtifact names it: npm `@acme/core` is namespace `acme`, package `core`. */
export interface PackageCoordinates {
  format: Format;
  repository: string;
  namespace?: string;
  package: string;
}

/**
 * Pages of one version's asset listing: a version holds at most 150 assets
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html), one page of
 * 1,000; more pages than this is a listing that would never end.
 */
const MAX_ASSET_PAGES = 10;

/** `npm-internal (npm) acme/core`: a package where a message names it. */
const describeCoordinates = (c: PackageCoordinates) => `${c.repository} (${c.format}) ${c.namespace ? `${c.namespace}/` : ''}${c.package}`;

export interface TargetAsset {
  name: string;
  size?: number;
  hashes: Record<string, string>;
}

export interface TargetVersion {
  version: string;
  status: string;
  originType?: string;
  /** Changes whenever the version's assets, status or metadata change (PackageVersionRevision). */
  revision?: string;
}

/** What PublishPackageVersion answered: the version's status after this asset, and the asset as stored. */
export interface PublishedAsset {
  status: string;
  revision?: string;
  asset?: TargetAsset;
}

/** A GetPackageVersionAsset answer: the bytes as a stream (the caller reads or destroys it) and the X-* headers. */
export interface AssetDownload {
  stream: Readable;
  /** X-AssetName */
  assetName: string;
  /** X-PackageVersion */
  version: string;
  /** X-PackageVersionRevision: the revision the bytes belong to */
  revision?: string;
}

/** The operations a read-only run may send: CodeArtifact's reads are all Get*, List* or Describe* (an allow-list, so a write added to the SDK later is refused too). */
const READ_OPERATION = /^(Get|List|Describe)[A-Za-z]*$/;

/** Whether the call being sent is one of a read-only CodeArtifact's (set around each send by `callOnce`). */
const readOnlyScope = new AsyncLocalStorage<boolean>();
/** Clients that carry the read-only check (once each: a caller's client is shared by several CodeArtifacts, read-only or not). */
const guardedClients = new WeakSet<CodeartifactClient>();

/** How soon a token renewal that was refused (throttled, 5xx) is tried again while the token in hand lasts. */
const RENEW_AGAIN_MS = 1000;

/**
 * The read-only guard on the command the SDK actually serializes (its commandName), not on the
 * name a caller gave the call: a write sent under a read's label (`api('DescribePackage', ...,
 * send(new PutPackageOriginConfigurationCommand(...)))`) is refused before any byte leaves.
 * Whether a send is read-only is the scope its CodeArtifact set, so a client shared with a
 * writer still writes for the writer.
 */
function guardReadOnly(client: CodeartifactClient): void {
  if (guardedClients.has(client)) return;
  guardedClients.add(client);
  client.middlewareStack.add(
    (next, context) => (args) => {
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      if (readOnlyScope.getStore() === true && !READ_OPERATION.test(operation)) throw readOnlyRefusal(operation || 'an unnamed command');
      return next(args);
    },
    { step: 'initialize', name: 'codeartifactMigrateReadOnly', priority: 'high' },
  );
}

function readOnlyRefusal(operation: string): MigrateError {
  return new MigrateError('EREADONLY', `CodeArtifact ${operation} refused: this run is read-only (a plan or a dry run)`, { hint: 'this is a bug in codeartifact-migrate: a plan or a dry run must never write; please report it' });
}

export class CodeArtifact {
  readonly client: CodeartifactClient;
  private token?: { value: string; expiresAt: number; renewAt: number };
  private tokenInFlight?: Promise<string>;
  private readonly endpoints = new Map<string, Promise<string>>();
  tokenFetches = 0;
  /** A plan: every mutating call (and every non-GET to a repository endpoint) throws EREADONLY. */
  readOnly = false;
  /** How long one call may take whole, when not its default (requestDeadlineMs): a reader that would rather count a version unread than wait (ledger verify). */
  callDeadlineMs?: number;
  /** The service's token expirations lay in our past: this machine's clock is ahead. */
  clockSkewSuspected = false;
  /** Silence before any request to the service (API or repository endpoint) is cut off: target.idleTimeoutSeconds. */
  readonly idleTimeoutMs: number;
  /** The API as the stuck-peer breaker and its messages name it: with its host when this client is ours (a caller's client keeps its endpoint to itself). */
  private readonly apiPeer: string;

  constructor(
    readonly config: TargetConfig,
    readonly limiter: RateLimiter,
    client?: CodeartifactClient,
    /** Cuts off every call in flight (the stop after its grace period), repository-endpoint requests included. */
    readonly abortSignal?: AbortSignal,
  ) {
    this.idleTimeoutMs = (config.idleTimeoutSeconds ?? SDK_IDLE_TIMEOUT_MS / 1000) * 1000;
    this.apiPeer = client ? API_PEER : `${API_PEER} at ${new URL(sdkEndpoint(config.region)).host}`;
    this.client = client ?? new CodeartifactClient({ region: config.region, maxAttempts: 1, requestHandler: sdkRequestHandler(config.region, process.env, this.idleTimeoutMs), logger: QUIET_SDK_LOGGER });
    guardReadOnly(this.client);
  }

  /**
   * The repository-endpoint token, cached and renewed before it expires: at a
   * quarter of its lifetime left, at most five minutes early. A multi-hour run
   * therefore never presents an expired token; a 401 still invalidates it.
   */
  async authToken(): Promise<string> {
    const t = this.token;
    const now = Date.now();
    if (t && now < t.renewAt) return t.value;
    this.tokenInFlight ??= this.fetchToken().finally(() => (this.tokenInFlight = undefined));
    // renewed early (its last quarter, 5 minutes at most): a renewal throttled or answered 5xx
    // leaves the token in hand, good for a while yet, instead of failing every request waiting
    // on it; renewal is tried again in RENEW_AGAIN_MS, not by each request
    if (!t || now >= t.expiresAt - RENEW_AGAIN_MS) return this.tokenInFlight;
    return this.tokenInFlight.catch((e: unknown) => {
      if (!(e instanceof MigrateError) || (e.code !== 'ETHROTTLED' && e.code !== 'ETARGET') || this.token !== t) throw e;
      t.renewAt = Math.min(Date.now() + RENEW_AGAIN_MS, t.expiresAt - RENEW_AGAIN_MS);
      return t.value;
    });
  }

  /** Forget `value` if it is the cached token (the endpoint refused it). */
  invalidateToken(value: string): void {
    if (this.token?.value === value) this.token = undefined;
  }

  private async fetchToken(): Promise<string> {
    const out = await this.call('GetAuthorizationToken', ['reads'], (o) =>
      this.client.send(
        new GetAuthorizationTokenCommand({
          domain: this.config.domain,
          domainOwner: this.config.domainOwner,
          durationSeconds: this.config.tokenDurationSeconds,
        }),
        o,
      ),
    );
    if (!out.authorizationToken) throw new MigrateError('ETARGET', 'GetAuthorizationToken returned no token');
    this.tokenFetches++;
    registerSecret(out.authorizationToken);
    const now = Date.now();
    let expiresAt = out.expiration ? out.expiration.getTime() : now + 15 * 60_000;
    if (expiresAt <= now) {
      // The expiration is the service's clock, and ours is ahead of it: judged by our clock the
      // token is born expired, and every request would fetch another. Trust the duration we
      // asked for instead (a 401 still drops a token that really expired).
      this.clockSkewSuspected = true;
      expiresAt = now + (this.config.tokenDurationSeconds > 0 ? this.config.tokenDurationSeconds * 1000 : 15 * 60_000);
    }
    const lifetime = expiresAt - now;
    this.token = { value: out.authorizationToken, expiresAt, renewAt: expiresAt - Math.min(5 * 60_000, lifetime / 4) };
    return out.authorizationToken;
  }

  /** The repository's endpoint for a format, from GetRepositoryEndpoint; always ends with '/'. */
  endpoint(format: Format, repository: string): Promise<string> {
    const key = `${format}/${repository}`;
    let p = this.endpoints.get(key);
    if (!p) {
      p = this.call('GetRepositoryEndpoint', ['reads'], (o) =>
        this.client.send(
          new GetRepositoryEndpointCommand({ domain: this.config.domain, domainOwner: this.config.domainOwner, repository, format: format as PackageFormat }),
          o,
        ),
      ).then((out) => {
        const url = out.repositoryEndpoint;
        if (!url) throw new MigrateError('ETARGET', `GetRepositoryEndpoint returned no endpoint for ${key}`);
        return url.endsWith('/') ? url : `${url}/`;
      });
      p.catch(() => this.endpoints.delete(key));
      this.endpoints.set(key, p);
    }
    return p;
  }

  /** Every version of a package in the repository; empty when the package does not exist. `signal` cuts this listing off. */
  async listVersions(c: PackageCoordinates, signal?: AbortSignal): Promise<Map<string, TargetVersion>> {
    const found = new Map<string, TargetVersion>();
    const paging = new Paging(`ListPackageVersions of ${describeCoordinates(c)}`);
    let nextToken: string | undefined;
    do {
      const out = await this.call(
        'ListPackageVersions',
        ['listVersions', 'reads'],
        (o) => this.client.send(new ListPackageVersionsCommand({ ...this.base(c), maxResults: 1000, nextToken }), o),
        signal,
      ).catch(notFoundAs(undefined));
      if (!out) return found;
      for (const v of out.versions ?? []) {
        if (!v.version) continue;
        // a package's versions are unique: a listing naming one twice (Archived, then Published)
        // leaves the status every caller goes by to the listing's order
        if (found.has(v.version)) throw listedTwice(`ListPackageVersions of ${describeCoordinates(c)}`, v.version);
        found.set(v.version, { version: v.version, status: v.status ?? 'Unknown', originType: v.origin?.originType, revision: v.revision });
      }
      nextToken = paging.next(out.nextToken, (out.versions ?? []).map((v) => v.version ?? ''));
    } while (nextToken);
    return found;
  }

  /** A version's assets with their hashes, or undefined when the version does not exist. */
  async versionAssets(c: PackageCoordinates, version: string, signal?: AbortSignal): Promise<TargetAsset[] | undefined> {
    const assets: TargetAsset[] = [];
    const names = new Set<string>();
    const paging = new Paging(`ListPackageVersionAssets of ${describeCoordinates(c)} ${version}`, MAX_ASSET_PAGES);
    let nextToken: string | undefined;
    do {
      const out = await this.call(
        'ListPackageVersionAssets',
        ['listAssets', 'reads'],
        (o) => this.client.send(new ListPackageVersionAssetsCommand({ ...this.base(c), packageVersion: version, maxResults: 1000, nextToken }), o),
        signal,
      ).catch(notFoundAs(undefined));
      if (!out) return undefined;
      const listing = `ListPackageVersionAssets of ${describeCoordinates(c)} ${version}`;
      // the SDK hands a 200's JSON through as it is: a hash that is no text would compare as no hash
      // (or throw where it is lowercased), a file list that is no list as its characters
      if (out.assets != null && !Array.isArray(out.assets)) throw notTheServices(listing, `its assets as ${typeof out.assets}`);
      for (const a of out.assets ?? []) {
        const why = assetShape(a);
        if (why) throw notTheServices(listing, why);
        const name = a.name ?? '';
        // a version's asset names are unique: a listing naming one twice (with the same bytes or
        // others) leaves which one is checked, and which one a client gets, to the reader's choice
        if (names.has(name)) throw listedTwice(listing, name);
        names.add(name);
        assets.push({ name, size: a.size, hashes: a.hashes ?? {} });
      }
      nextToken = paging.next(out.nextToken, (out.assets ?? []).map((a) => a.name ?? ''));
    } while (nextToken);
    return assets;
  }

  async describeVersion(c: PackageCoordinates, version: string, signal?: AbortSignal): Promise<TargetVersion | undefined> {
    const out = await this.call(
      'DescribePackageVersion',
      ['reads'],
      (o) => this.client.send(new DescribePackageVersionCommand({ ...this.base(c), packageVersion: version }), o),
      signal,
    ).catch(notFoundAs(undefined));
    const pv = out?.packageVersion;
    if (!pv) return undefined;
    return { version, status: pv.status ?? 'Unknown', originType: pv.origin?.originType, revision: pv.revision };
  }

  /** Every package of a format in the repository (`namespace` filters by prefix, as the API does). */
  /**
   * The repository's packages of a format. CodeArtifact matches `namespace` and `packagePrefix` as
   * prefixes (`acme` finds `acme.example` too): a caller wanting one name checks it exactly.
   */
  async listPackages(repository: string, format: Format, filter: { namespace?: string; packagePrefix?: string } = {}, signal?: AbortSignal): Promise<{ namespace?: string; package: string }[]> {
    const found: { namespace?: string; package: string }[] = [];
    const paging = new Paging(`ListPackages of ${repository} (${format})`);
    let nextToken: string | undefined;
    do {
      const out = await this.call('ListPackages', ['listPackages', 'reads'], (o) =>
        this.client.send(
          new ListPackagesCommand({
            domain: this.config.domain,
            domainOwner: this.config.domainOwner,
            repository,
            format: format as PackageFormat,
            namespace: filter.namespace,
            packagePrefix: filter.packagePrefix,
            maxResults: 1000,
            nextToken,
          }),
          o,
        ),
        signal,
      );
      for (const p of out.packages ?? []) if (p.package) found.push({ namespace: p.namespace, package: p.package });
      nextToken = paging.next(out.nextToken, (out.packages ?? []).map((p) => `${p.namespace ?? ''}/${p.package ?? ''}`));
    } while (nextToken);
    return found;
  }

  /**
   * Upload one asset of a generic package version (PublishPackageVersion). The body is
   * streamed from the file, never read whole: the SDK takes a ReadStream and sets
   * Content-Length from its start/end (@smithy calculateBodyLength), and `assetSHA256`
   * travels as `x-amz-content-sha256`, which the service checks the bytes against and
   * SigV4 signs as the payload hash. `unfinished` keeps the version Unfinished for the
   * assets still to come; it is omitted (not sent as false) on the last one, which is
   * what publishes the version
   * (https://docs.aws.amazon.com/codeartifact/latest/APIReference/API_PublishPackageVersion.html).
   */
  async publishAsset(
    c: PackageCoordinates,
    version: string,
    assetName: string,
    path: string,
    sha256: string,
    unfinished: boolean,
    signal?: AbortSignal,
  ): Promise<PublishedAsset> {
    let size: number;
    try {
      // stat, not lstat (what the SDK would use for a ReadStream without an end): a symlinked blob has its target's size
      size = statSync(path).size;
    } catch (e) {
      throw unreadableBlob(e, assetName);
    }
    const out = await this.call(
      'PublishPackageVersion',
      ['publish', 'writes'],
      (o) => {
        // opened only once the limiter gave us a slot: a request cut off while waiting leaves no file open
        const body = size === 0 ? new Uint8Array(0) : createReadStream(path, { start: 0, end: size - 1, highWaterMark: 256 * 1024 });
        // the SDK pipes the file into the request without listening for the file's errors: one gone
        // between the stat and the open (the state directory emptied) would end the process, and the
        // request would wait for the rest of its body. Heard here, it cuts the request off instead.
        const unreadable = new AbortController();
        let readFailure: unknown;
        if (!(body instanceof Uint8Array)) {
          body.once('error', (e) => {
            readFailure = e;
            unreadable.abort(e);
          });
        }
        return this.client
          .send(
            new PublishPackageVersionCommand({
              ...this.base(c),
              packageVersion: version,
              assetName,
              assetContent: body,
              assetSHA256: sha256,
              ...(unfinished ? { unfinished: true } : {}),
            }),
            { abortSignal: o.abortSignal ? AbortSignal.any([o.abortSignal, unreadable.signal]) : unreadable.signal },
          )
          .catch((e: unknown) => {
            if (readFailure === undefined) throw e;
            throw unreadableBlob(readFailure, assetName);
          })
          .finally(() => {
            if (!(body instanceof Uint8Array)) body.destroy();
          });
      },
      signal,
      size,
    );
    const a = out.asset;
    return {
      status: out.status ?? 'Unknown',
      revision: out.versionRevision,
      asset: a ? { name: a.name ?? assetName, size: a.size, hashes: a.hashes ?? {} } : undefined,
    };
  }

  /**
   * One asset's bytes (GetPackageVersionAsset), streamed. `revision` pins the version's
   * revision (a version changed since it was read answers 404). The stream must be read
   * to its end or destroyed: it holds a connection.
   */
  async getAsset(c: PackageCoordinates, version: string, assetName: string, signal?: AbortSignal, revision?: string): Promise<AssetDownload> {
    const out = await this.call(
      'GetPackageVersionAsset',
      ['getAsset', 'reads'],
      (o) => this.client.send(new GetPackageVersionAssetCommand({ ...this.base(c), packageVersion: version, asset: assetName, packageVersionRevision: revision }), o),
      signal,
    );
    if (!out.asset) throw new MigrateError('ETARGET', `CodeArtifact GetPackageVersionAsset returned no bytes for ${assetName}`);
    return { stream: out.asset as Readable, assetName: out.assetName ?? assetName, version: out.packageVersion ?? version, revision: out.packageVersionRevision };
  }

  /**
   * Publish an Unfinished version whose assets are all there (UpdatePackageVersionsStatus,
   * expected Unfinished, target Published): what a resumed run does when the last asset
   * landed with `unfinished` still set. Returns the status the version has afterwards, or
   * the service's error code for it (MISMATCHED_STATUS when it was not Unfinished).
   * https://docs.aws.amazon.com/codeartifact/latest/ug/update-package-version-status.html
   */
  async finishVersion(c: PackageCoordinates, version: string, signal?: AbortSignal): Promise<{ ok: true; status: string } | { ok: false; errorCode: string; message: string }> {
    const out = await this.call(
      'UpdatePackageVersionsStatus',
      ['writes'],
      (o) => this.client.send(new UpdatePackageVersionsStatusCommand({ ...this.base(c), versions: [version], expectedStatus: 'Unfinished', targetStatus: 'Published' }), o),
      signal,
    );
    const done = out.successfulVersions?.[version];
    if (done) return { ok: true, status: done.status ?? 'Published' };
    const failed = out.failedVersions?.[version];
    return { ok: false, errorCode: failed?.errorCode ?? 'UNKNOWN', message: failed?.errorMessage ?? 'not in the answer' };
  }

  private base(c: PackageCoordinates) {
    return {
      domain: this.config.domain,
      domainOwner: this.config.domainOwner,
      repository: c.repository,
      format: c.format as PackageFormat,
      namespace: c.namespace,
      package: c.package,
    };
  }

  /** One SDK call for the modules beside this one (domain.ts): rate-limited, coded errors, read-only guard. */
  api<T>(operation: string, buckets: readonly BucketName[], send: (opts: { abortSignal?: AbortSignal }) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.call(operation, buckets, send, signal);
  }

  /**
   * One SDK call: rate-limited, and its failure turned into a coded error. `signal`
   * cuts off this call only; the client's own signal cuts off every call. The whole
   * call must be done within its deadline (requestDeadlineMs: the idle timeout counts
   * silence only, so an answer that trickles would never end); `uploadBytes` is the body
   * it sends, which gets time of its own. A refusal for this machine's clock, which the
   * SDK has just measured against the service's, is sent once more (clockSkew).
   */
  private async call<T>(
    operation: string,
    buckets: readonly BucketName[],
    send: (opts: { abortSignal?: AbortSignal }) => Promise<T>,
    signal?: AbortSignal,
    uploadBytes = 0,
  ): Promise<T> {
    // A plan (and any dry run) is read-only by construction: anything but a Get/List/Describe is refused here,
    // before any request is made, whatever the code above asks for.
    // (and again on the command itself as the SDK sends it: guardReadOnly)
    if (this.readOnly && !READ_OPERATION.test(operation)) throw readOnlyRefusal(operation);
    const stop = signal && this.abortSignal ? AbortSignal.any([this.abortSignal, signal]) : (signal ?? this.abortSignal);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callOnce(operation, buckets, send, stop, uploadBytes);
      } catch (e) {
        if (!(e instanceof ClockSkewRefusal)) throw e;
        // once: the SDK corrected its clock offset from this refusal's Date header, so the next signature is on the service's time
        if (attempt === 0 && !stop?.aborted) continue;
        const err = clockSkewError(operation, e.cause, this.clockOffsetMs());
        this.limiter.credentialsRefused?.(err);
        throw err;
      }
    }
  }

  /** How far this machine's clock is from the service's, as the SDK last measured it (ms, positive: ours is behind). */
  private clockOffsetMs(): number | undefined {
    const offset = (this.client.config as { systemClockOffset?: number }).systemClockOffset;
    return typeof offset === 'number' && Number.isFinite(offset) ? offset : undefined;
  }

  private async callOnce<T>(operation: string, buckets: readonly BucketName[], send: (opts: { abortSignal?: AbortSignal }) => Promise<T>, stop: AbortSignal | undefined, uploadBytes: number): Promise<T> {
    // a refusal is news of the rate this request's slot was spaced by: the one in force when it asked
    const asked = performance.now();
    await this.limiter.take(buckets, stop);
    if (stop?.aborted) throw new MigrateError('EINTERRUPTED', `CodeArtifact ${operation}: cut off by the stop`);
    // The deadline counts from here, not from the wait for a bucket; it is cleared once the call
    // resolves, so a streamed answer (GetPackageVersionAsset) is read at its own pace afterwards.
    const deadlineMs = this.callDeadlineMs ?? requestDeadlineMs(this.idleTimeoutMs, uploadBytes);
    const late = new AbortController();
    const timer = setTimeout(() => late.abort(), deadlineMs);
    const abortSignal = stop ? AbortSignal.any([stop, late.signal]) : late.signal;
    const started = performance.now();
    try {
      const out = await readOnlyScope.run(this.readOnly, () => send({ abortSignal }));
      this.limiter.answered(this.apiPeer);
      this.limiter.succeeded(buckets, performance.now() - started);
      return out;
    } catch (thrown) {
      if (stop?.aborted) throw new MigrateError('EINTERRUPTED', `CodeArtifact ${operation}: cut off by the stop`, { cause: thrown });
      if (late.signal.aborted) {
        // no whole answer in time: counted as a silent request, as the handler's idle timeout is
        this.limiter.silent(this.apiPeer, deadlineMs);
        throw new MigrateError('ETARGET', `CodeArtifact ${operation}: no complete answer within ${deadlineMs / 1000} s; cut off`, {
          cause: thrown,
          ...(uploadBytes > 0 && this.callDeadlineMs === undefined ? { hint: slowUploadHint(deadlineMs) } : {}),
        });
      }
      // before any of the service's words are kept: they may echo what the request was signed with
      await registerSdkCredentials(this.client);
      // the SDK's handler names its connect and idle timeouts TimeoutError: nothing came back
      const answer = thrown as { $metadata?: { httpStatusCode?: number }; $response?: unknown };
      const unanswered = noAnswer(thrown);
      if (toError(thrown).name === 'TimeoutError') this.limiter.silent(this.apiPeer, this.idleTimeoutMs);
      else if (answer.$metadata?.httpStatusCode !== undefined) this.limiter.answered(this.apiPeer);
      // refused, reset before any answer (the SDK keeps an answer it could not read as $response), no such host, no route: nobody is there
      else if (unanswered !== undefined && answer.$response === undefined) this.limiter.unreachable(this.apiPeer, unanswered);
      if (isClockSkewRefusal(thrown)) throw new ClockSkewRefusal(thrown);
      const e = classifySdkError(operation, thrown);
      if (e.code === 'ETHROTTLED') this.limiter.throttled(buckets, asked);
      if (e.code === 'ETARGETCREDENTIALS') this.limiter.credentialsRefused?.(e);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A refusal for a signature out of time (call sends it once more); never leaves this module. */
class ClockSkewRefusal extends Error {
  constructor(cause: unknown) {
    super('the signature was refused for its time', { cause });
  }
}

/**
 * The service refused the signature for its time: "Signature expired" (our clock behind
 * the service's by more than the 15 minutes SigV4 allows) or "Signature not yet current"
 * (ahead), https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html;
 * or the SDK says it has just corrected its clock offset from the answer's Date header.
 */
function isClockSkewRefusal(thrown: unknown): boolean {
  const e = thrown as { name?: string; message?: string; $metadata?: { clockSkewCorrected?: boolean; httpStatusCode?: number } } | undefined;
  if (/Signature (expired|not yet current)/i.test(e?.message ?? '') || e?.name === 'RequestTimeTooSkewed') return true;
  // corrected on some other answer (a 500, a throttle): that one is what it says
  return e?.$metadata?.clockSkewCorrected === true && (e.name === 'InvalidSignatureException' || e.$metadata.httpStatusCode === 403);
}

/** Still refused after the SDK corrected its offset: the clock is off, and every request would be refused the same way. */
function clockSkewError(operation: string, cause: unknown, offsetMs: number | undefined): MigrateError {
  const off = offsetMs !== undefined && Math.abs(offsetMs) >= 60_000
    ? `: this machine's clock is about ${Math.round(Math.abs(offsetMs) / 60_000)} min ${offsetMs > 0 ? 'behind' : 'ahead of'} CodeArtifact's`
    : ": this machine's clock is off";
  return new MigrateError('ETARGETCREDENTIALS', `CodeArtifact ${operation} refused the request's signature for its time${off} (${shortReason(toError(cause).message)})`, {
    status: (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
    cause,
    hint: 'set the clock right (sync it with NTP: timedatectl set-ntp true, or chronyc makestep), then rerun: it resumes where this one stopped. AWS refuses signatures more than 15 minutes off',
  });
}

/**
 * The service's own words for a refusal (AccessDenied names the principal, the action and the
 * resource; a ValidationException the field), kept whole up to 1,000 characters and cut
 * keeping start and end beyond: a peer answering a megabyte must not become a megabyte on
 * the terminal, in --json or in the state.
 */
function serviceMessage(message: string): string {
  // redacted before the cut: a secret the service echoes, cut in two, no longer matches as a whole
  return capText(redact(message), 1000);
}

/** An exception's reason for a message: its first line (the SDK appends hints on lines of their own), redacted, printable, short. */
function shortReason(message: string): string {
  const line = printable(redact(message.split('\n')[0] ?? '').trim());
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** How the stuck-peer count names the AWS API (one host for every SDK call). */
const API_PEER = 'the CodeArtifact API';

/**
 * A 404 about the package (or its version or asset), not about the repository or the domain
 * around it: only that one means "no such package". ResourceNotFoundException carries
 * resourceType (model: ResourceType domain | repository | package | package-version | asset).
 */
export function packageNotFound(e: unknown): boolean {
  return e instanceof MigrateError && e.status === 404 && !['domain', 'repository'].includes(resourceTypeOf(e) ?? '');
}

export function resourceTypeOf(e: unknown): string | undefined {
  const cause = e instanceof Error ? (e.cause as { resourceType?: unknown } | undefined) : undefined;
  return typeof cause?.resourceType === 'string' ? cause.resourceType : undefined;
}

/** A listing that names one version or asset twice, which the service never does: something else answers for it. */
function listedTwice(listing: string, name: string): MigrateError {
  return notTheServices(listing, `${JSON.stringify(name)} twice`, 'lists');
}

function notTheServices(listing: string, what: string, verb = 'answers'): MigrateError {
  return new MigrateError('ETARGET', `${listing} ${verb} ${what}: not an answer the service gives`, {
    hint: 'a proxy or gateway in front of the service may be answering for it (check the AWS_ENDPOINT_URL_* variables and HTTPS_PROXY); rerun once it answers as the service does',
  });
}

/** Why a listed asset is not one the service lists (its name text, its size a number, its hashes text by name), or undefined. */
function assetShape(a: unknown): string | undefined {
  if (a === null || typeof a !== 'object' || Array.isArray(a)) return `an asset that is ${a === null ? 'null' : Array.isArray(a) ? 'a list' : typeof a}`;
  const { name, size, hashes } = a as Record<string, unknown>;
  const shown = JSON.stringify(String(name)).slice(0, 200);
  if (typeof name !== 'string') return `an asset named by ${name === null ? 'null' : typeof name}`;
  if (size != null && (typeof size !== 'number' || !Number.isFinite(size))) return `the size of ${shown} as ${typeof size}`;
  if (hashes == null) return undefined;
  if (typeof hashes !== 'object' || Array.isArray(hashes)) return `the hashes of ${shown} as ${Array.isArray(hashes) ? 'a list' : typeof hashes}`;
  const bad = Object.entries(hashes).find(([, h]) => typeof h !== 'string');
  return bad ? `the ${JSON.stringify(bad[0]).slice(0, 40)} hash of ${shown} as ${bad[1] === null ? 'null' : typeof bad[1]}` : undefined;
}

/** `value` for a package that does not exist; a repository or domain that does not is an error, never an empty package. */
function notFoundAs<T>(value: T) {
  return (e: unknown): T => {
    if (packageNotFound(e)) return value;
    throw e;
  };
}

/** SDK exceptions to coded errors, by the service model's error types. */
export function classifySdkError(operation: string, thrown: unknown): MigrateError {
  if (thrown instanceof MigrateError) return thrown;
  const e = toError(thrown) as Error & { $metadata?: { httpStatusCode?: number }; retryAfterSeconds?: number; $response?: { headers?: Record<string, string> } };
  const status = e.$metadata?.httpStatusCode ?? (e as { $response?: { statusCode?: number } }).$response?.statusCode;
  const what = `CodeArtifact ${operation}`;
  if (status === 407) return proxyAuthError(what, e);
  // an answer past MAX_SDK_ANSWER_BYTES (net/agents.ts): something on the way answers for the service; asking again is worth it
  if (e instanceof ResponseLimitError) return new MigrateError('ETARGET', `${what} failed: ${shortReason(e.message)}`, { status, cause: e });
  switch (e.name) {
    case 'ThrottlingException': {
      // capped as the repository endpoints' Retry-After is (net/retry-after.ts): a throttle asking
      // for a day would otherwise park the command for that day, however small its retry budget
      const seconds = e.retryAfterSeconds;
      const retryAfterMs = seconds !== undefined && Number.isFinite(seconds) ? Math.min(Math.max(0, seconds * 1000), MAX_RETRY_AFTER_MS) : parseRetryAfter(e.$response?.headers?.['retry-after']);
      return new MigrateError('ETHROTTLED', `${what} was throttled`, { status: 429, retryAfterMs, cause: e });
    }
    // the principal itself, not one permission: expired or unknown credentials, or none
    // to be had (an SSO session that ended, a credential_process that fails) — every
    // request of the run would be refused the same way
    case 'UnrecognizedClientException':
    case 'ExpiredTokenException':
    case 'InvalidSignatureException':
    case 'CredentialsProviderError':
    case 'TokenProviderError': {
      // none to be had on this machine is not credentials CodeArtifact stopped taking
      const none = e.name === 'CredentialsProviderError' || e.name === 'TokenProviderError';
      return new MigrateError('ETARGETCREDENTIALS', `${what} was ${none ? 'not sent: no AWS credentials could be found or fetched' : 'refused: CodeArtifact does not take the AWS credentials (expired, unknown or mis-signed)'} (${e.name}: ${serviceMessage(e.message)})`, {
        status,
        cause: e,
        hint: none
          ? 'give this machine AWS credentials (AWS_PROFILE, aws sso login, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an instance role), check them with aws sts get-caller-identity, and rerun: it resumes where this one stopped'
          : 'renew the AWS credentials (aws sso login, a new session token, or the role\'s session duration), check them with aws sts get-caller-identity, and rerun: it resumes where this one stopped',
      });
    }
    case 'AccessDeniedException':
      return new MigrateError('ETARGETAUTH', `${what} was refused: ${serviceMessage(e.message)}`, {
        status,
        cause: e,
        hint: 'check the AWS credentials (aws sts get-caller-identity) and the IAM permissions listed in the README',
      });
    case 'ResourceNotFoundException':
      return new MigrateError('ETARGETREJECTED', `${what}: ${serviceMessage(e.message)}`, { status: 404, cause: e });
    case 'ConflictException':
      return new MigrateError('ECONFLICT', `${what}: ${serviceMessage(e.message)}`, { status: 409, cause: e });
    case 'ValidationException':
    case 'ServiceQuotaExceededException':
      return new MigrateError('ETARGETREJECTED', `${what} was rejected: ${serviceMessage(e.message)}`, { status, cause: e });
  }
  if (status === 429) return new MigrateError('ETHROTTLED', `${what} was throttled`, { status, cause: e });
  if (status !== undefined && status >= 400 && status < 500) return new MigrateError('ETARGETREJECTED', `${what} was rejected (HTTP ${status}): ${serviceMessage(e.message)}`, { status, cause: e });
  // the reason stays: a 200 whose body is not JSON (a gateway's HTML page) or a connection reset says so
  return new MigrateError('ETARGET', `${what} failed: ${status ? `HTTP ${status}: ` : ''}${shortReason(e.message)}`, { status, cause: e });
}
