/**
 * One request to the Go proxy, from its head to its answer: who may ask (callers.ts),
 * which route it is (protocol.ts), CodeArtifact asked within upstreamTimeoutMs (else a
 * 504), a file handed to the downloads (download.ts), and a failure turned into a status
 * go understands (404 "not found", else an error it shows with our body).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compareGoSemver, isIncompatible, legacyGoMod, semverMajor } from '../builders/go-rules.js';
import { withRetry } from '../engine/retry.js';
import { MigrateError, toError } from '../errors.js';
import { packageNotFound, type CodeArtifact, type PackageCoordinates } from '../targets/codeartifact.js';
import { GenericTarget } from '../targets/generic.js';
import { allowedHost, fromWebPage, type HostRule } from './callers.js';
import { AssetDownloads, type DownloadLimits, type Pending } from './download.js';
import { incompatibleQuery, latestVersion, listableVersions, parseGoProxyPath, versionsForPath, type GoProxyRoute } from './protocol.js';
import { text } from './reply.js';
import { zipHasEntry } from './zip-entries.js';

/** Retries of one read when CodeArtifact throttles or fails (go itself does not retry a proxy). */
export const READ_RETRIES = 3;
/** How long one request may wait for CodeArtifact (rate limit, retries, the answer's headers) before it is a 504. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 60_000;

/**
 * The largest zip read to tell a go.mod of the module line alone from the one go synthesises
 * (GoProxyHandler.hasGoMod), within a list request's upstreamTimeoutMs; a larger one counts as
 * without go.mod, as go's own client counts a .mod of those bytes (modload versionHasGoMod).
 */
export const MAX_GO_MOD_CHECK_ZIP = 64 * 1024 * 1024;
/**
 * The most `<module>/vN` listings one list request reads to see which majors go lists no
 * +incompatible version of (majorsGoneModular): the highest majors are checked, those below
 * them listed as they are. A repository's author could otherwise tag a thousand majors and
 * make every `@v/list` of the module a thousand CodeArtifact calls, throttling every client.
 */
export const MAX_MAJOR_MODULES_CHECKED = 16;
/** CodeArtifact's longest package name (`[^#/\s]{1,255}`), and so the longest ListPackages packagePrefix. */
const MAX_PACKAGE_NAME = 255;
/** The end of that zip kept to read its central directory (a few hundred thousand entries). */
const MAX_ZIP_TAIL = 8 * 1024 * 1024;
/** Zips whose answer is remembered, by their SHA-256. */
const MAX_REMEMBERED_ZIPS = 4096;

export interface HandlerLimits extends DownloadLimits {
  hosts: HostRule;
}

export class GoProxyHandler {
  private readonly generic: GenericTarget;
  private readonly downloads: AssetDownloads;
  /** Whether a zip (by its SHA-256) holds a go.mod, for .mod files that cannot say. */
  private readonly goModInZip = new Map<string, boolean>();

  constructor(
    private readonly ca: CodeArtifact,
    private readonly repository: string,
    private readonly stopping: AbortSignal,
    private readonly onError: (line: string) => void,
    private readonly limits: HandlerLimits,
  ) {
    this.generic = new GenericTarget(ca, repository);
    this.downloads = new AssetDownloads(ca, this.generic, (fn, signal) => this.read(fn, signal), onError, limits);
  }

  private coords(module: string): PackageCoordinates {
    return this.generic.coordinates(module);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // a client that hangs up cuts off its CodeArtifact calls, the download it was streaming, and
    // its place in the line for a download slot. A response is closed with its connection only
    // once it has it: one pipelined behind another (HTTP/1.1 lets a client send several requests
    // at once; Node answers them in order) learns of the hang-up from its request alone, which
    // Node closes with the connection (abortIncoming), or else after the response is finished
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    req.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    // CodeArtifact that does not answer is a 504, not a go command waiting for ever
    const late = new AbortController();
    const deadline = setTimeout(() => late.abort(), this.limits.upstreamTimeoutMs);
    // the stop reaches this request through `gone`, by a listener removed when it ends: Node's
    // AbortSignal.any keeps every signal made from a source that never aborts (the stop, for as
    // long as the proxy serves) alive with its listeners, a few hundred bytes a request for ever
    const stop = () => gone.abort(this.stopping.reason);
    if (this.stopping.aborted) gone.abort(this.stopping.reason);
    else this.stopping.addEventListener('abort', stop, { once: true });
    const signal = AbortSignal.any([gone.signal, late.signal]);
    const timedOut = () => late.signal.aborted && !gone.signal.aborted && !this.stopping.aborted;
    const pending: Pending = { signal, answered: () => clearTimeout(deadline), timedOut };
    const path = (req.url ?? '/').split('?')[0]!;
    // Browsers without Sec-Fetch-Site (Safari before 16.4) are not told apart by fromWebPage: a page
    // can point <script src> at the proxy, and a text/plain 200 would run (load) where a 404 fails
    // (error), telling it which modules exist. With nosniff every answer fails to load as a script
    // (https://fetch.spec.whatwg.org/#should-response-to-request-be-blocked-due-to-nosniff?).
    res.setHeader('x-content-type-options', 'nosniff');
    try {
      if (!allowedHost(req.headers.host, this.limits.hosts)) {
        const names = [this.limits.hosts.anyAddress ? 'an IP address' : 'a loopback name (127.0.0.1, localhost, [::1])', ...this.limits.hosts.names].join(', ');
        return text(res, 421, `misdirected request: this proxy answers only to ${names} in Host; to reach it by another name, start it with --allowed-host NAME\n`);
      }
      if (fromWebPage(req.headers)) {
        return text(res, 403, 'forbidden: this proxy does not answer requests made by web pages (Origin or Sec-Fetch-Site cross-site); point go at it (GOPROXY)\n');
      }
      // HEAD is GET without the body (RFC 9110 9.3.2: every server supports both); Node drops the body itself
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed: this proxy is read-only (GET, HEAD)\n', { allow: 'GET, HEAD' });
      const route = parseGoProxyPath(path);
      await this.serve(route, res, pending, req.method === 'HEAD');
    } catch (thrown) {
      if (timedOut() && !res.headersSent) {
        this.onError(`GET ${path}: ETIMEDOUT: CodeArtifact did not answer within ${this.limits.upstreamTimeoutMs / 1000} s`);
        return text(res, 504, `CodeArtifact did not answer within ${this.limits.upstreamTimeoutMs / 1000} s: try again in a moment\n`);
      }
      if (signal.aborted) {
        res.destroy();
        return;
      }
      const e = toError(thrown);
      // go moves on to the next GOPROXY entry (direct: the module's origin) after a 404 alone: a
      // repository or domain that is gone is the proxy's failure, a 502, never "not found"
      const status = packageNotFound(e) ? 404 : e instanceof MigrateError && e.code === 'ETHROTTLED' ? 503 : 502;
      if (status !== 404) this.onError(`GET ${path}: ${describeForProxy(e)}`);
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
    } finally {
      clearTimeout(deadline);
      this.stopping.removeEventListener('abort', stop);
    }
  }

  private async serve(route: GoProxyRoute, res: ServerResponse, pending: Pending, head: boolean): Promise<void> {
    switch (route.kind) {
      case 'bad':
        return text(res, 400, `bad request: ${route.why}\n`);
      case 'not-found':
        return text(res, 404, `not found: ${route.why}\n`);
      case 'list': {
        const { held, listed } = await this.published(route.module, pending.signal);
        // no Go version at all (none, or only names go never asks for) is "not found": go then
        // tries the next proxy, or says the module is unknown; the list is 200 only when @latest answers
        if (latestVersion(held) === undefined) return text(res, 404, `not found: ${route.module}: no published versions\n`);
        // Published pseudo-versions only, or +incompatible ones go would not list: an empty list (200), after
        // which go asks @latest (cmd/go/internal/modload/query.go); a 404 would end the query before it asks
        const versions = listableVersions(listed);
        return text(res, 200, versions.map((v) => `${v}\n`).join(''));
      }
      case 'latest': {
        // what the list shows, else what the module holds: a module whose versions are all hidden is still
        // answered here (go from git answers with its latest commit), never sent on to the next GOPROXY entry
        const { held, listed } = await this.published(route.module, pending.signal);
        const latest = latestVersion(listed) ?? latestVersion(held);
        if (!latest) return text(res, 404, `not found: ${route.module}: no published versions\n`);
        return this.downloads.send(res, route.module, latest, 'info', pending, head);
      }
      case 'file': {
        const coords = this.coords(route.module);
        // `go get m@v2.0.0` of a path without /v2 asks v2.0.0.info and takes the Version it names: v2.0.0+incompatible
        // (.mod and .zip are asked for under that name, never a query's)
        const version = (route.ext === 'info' && incompatibleQuery(route.module, route.version)) || route.version;
        const v = await this.read(() => this.ca.describeVersion(coords, version, pending.signal), pending.signal);
        // Unlisted is "available for download, but not in the list of versions returned to package
        // managers" (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-version-status):
        // a build pinned to it still works. Unfinished is half uploaded; Archived/Disposed are withdrawn.
        if (v?.status !== 'Published' && v?.status !== 'Unlisted') {
          return text(res, 404, `not found: ${route.module}@${version}${v ? ` is ${v.status} on the target` : ': unknown revision'}\n`);
        }
        return this.downloads.send(res, route.module, version, route.ext, pending, head);
      }
      default: {
        const never: never = route;
        return never;
      }
    }
  }

  /**
   * The Published versions of a module that go can take for its path (`held`), and those of them go
   * would list (`listed`: what @v/list and @latest choose from).
   */
  private async published(module: string, signal: AbortSignal): Promise<{ held: string[]; listed: string[] }> {
    const versions = await this.read(() => this.ca.listVersions(this.coords(module), signal), signal);
    const forPath = versionsForPath(module, [...versions.values()].filter((v) => v.status === 'Published').map((v) => v.version));
    const latestCompatible = listableVersions(forPath.filter((v) => !isIncompatible(v))).at(-1);
    if (!forPath.some(isIncompatible)) return { held: forPath, listed: forPath };
    // codeRepo.appendIncompatibleVersions (cmd/go, and so proxy.golang.org): once the latest v0/v1 tag has a
    // go.mod, the author means consumers to stay on v1, and no +incompatible version is listed (golang.org/issue/34189)
    if (latestCompatible !== undefined && (await this.hasGoMod(module, latestCompatible, signal))) return { held: forPath, listed: forPath.filter((v) => !isIncompatible(v)) };
    const dropped = await this.majorsGoneModular(module, forPath, signal);
    return { held: forPath, listed: dropped.size === 0 ? forPath : forPath.filter((v) => !(isIncompatible(v) && dropped.has(semverMajor(v)))) };
  }

  /**
   * The majors none of whose +incompatible versions go lists: those whose latest tag has a go.mod
   * (codeRepo.appendIncompatibleVersions, for each major in turn). A +incompatible version never
   * has one (run refuses it), so here that tag is a version of the module `<module>/vN` (its go.mod
   * at the root or in vN/ names that path: a tag of the same repository, as go resolves that path)
   * above the latest vN+incompatible. A vN tag that is not on the target at all (skipped because its
   * go.mod has no /vN, excluded, failed) cannot be seen: README, `goproxy`. One layout go lists
   * otherwise: `<module>/vN` kept in vN/ of tags whose root has no go.mod at all; go, reading the
   * root alone, lists those tags as +incompatible too (golang.org/issue/51324), which run builds
   * as the /vN module only. Nothing here tells that layout apart, and the major is hidden, as go
   * hides it when the root has a go.mod and as the author of vN/go.mod means.
   */
  private async majorsGoneModular(module: string, versions: readonly string[], signal: AbortSignal): Promise<Set<string>> {
    const latestIncompatible = new Map<string, string>();
    for (const v of listableVersions(versions.filter(isIncompatible))) latestIncompatible.set(semverMajor(v), v);
    // which <module>/vN the repository holds, in one listing (CodeArtifact matches both as prefixes)
    // (a module that is a host alone, `example.com`, is the package `+`, and its `example.com/v2` the package `v2`)
    const { namespace, package: prefix } = this.coords(`${module}/v`);
    // a /vN name is the prefix and a digit at least: past CodeArtifact's 255 characters none can exist, and it refuses the prefix
    if (prefix.length >= MAX_PACKAGE_NAME) return new Set();
    const packages = await this.read(() => this.ca.listPackages(this.repository, 'generic', { namespace, packagePrefix: prefix }, signal), signal);
    const held = new Set(packages.filter((p) => p.namespace === namespace).map((p) => p.package));
    // the highest majors first, and only so many: each is one more listing for this one request
    const majors = [...latestIncompatible.keys()].filter((m) => held.has(this.coords(`${module}/${m}`).package)).sort((a, b) => compareGoSemver(`${b}.0.0`, `${a}.0.0`)).slice(0, MAX_MAJOR_MODULES_CHECKED);
    const dropped = new Set<string>();
    for (const major of majors) {
      const latest = latestIncompatible.get(major)!;
      const suffixed = await this.read(() => this.ca.listVersions(this.coords(`${module}/${major}`), signal), signal);
      const tagged = [...suffixed.values()].filter((v) => v.status === 'Published' || v.status === 'Unlisted').map((v) => v.version);
      if (listableVersions(versionsForPath(`${module}/${major}`, tagged)).some((v) => compareGoSemver(v, latest) > 0)) dropped.add(major);
    }
    return dropped;
  }

  /** Whether a version's .mod is a go.mod of its own, not the one synthesised for a commit without one (what go's versionHasGoMod asks). */
  private async hasGoMod(module: string, version: string, signal: AbortSignal): Promise<boolean> {
    const legacy = legacyGoMod(module);
    let download;
    try {
      download = await this.read(() => this.ca.getAsset(this.coords(module), version, `${version}.mod`, signal), signal);
    } catch (e) {
      // a Published version without its .mod is no version go can use: nothing to go by, the list stays as it was
      if (packageNotFound(e)) return false;
      throw e;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of download.stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      // longer than the synthesised one: a go.mod of its own (the loop's end destroys the stream)
      if (size > legacy.length) return true;
    }
    if (!Buffer.concat(chunks).equals(legacy)) return true;
    // the module line alone is also a go.mod as go mod init wrote it up to Go 1.12 (no go directive), from
    // the very years modules came to v1 over older v2+ tags: go reads go.mod from the commit, the zip has it
    return this.zipHasGoMod(module, version, signal);
  }

  /** Whether the version's zip holds `<module>@<version>/go.mod`; false when the zip cannot say (too large, unreadable). */
  private async zipHasGoMod(module: string, version: string, signal: AbortSignal): Promise<boolean> {
    const coords = this.coords(module);
    const name = `${version}.zip`;
    const listed = (await this.read(() => this.ca.versionAssets(coords, version, signal), signal))?.find((a) => a.name === name);
    const sha256 = listed?.hashes['SHA-256'];
    if (!listed || !sha256 || (listed.size ?? 0) > MAX_GO_MOD_CHECK_ZIP) return false;
    const known = this.goModInZip.get(sha256);
    if (known !== undefined) return known;
    let download;
    try {
      download = await this.read(() => this.ca.getAsset(coords, version, name, signal), signal);
    } catch (e) {
      if (packageNotFound(e)) return false;
      throw e;
    }
    const has = await zipHasEntry(download.stream as AsyncIterable<Buffer>, `${module}@${version}/go.mod`, { maxBytes: MAX_GO_MOD_CHECK_ZIP, maxTail: MAX_ZIP_TAIL, sha256 });
    if (has === undefined) return false;
    // by the zip's hash: the same bytes give the same answer, whatever becomes of the version
    if (this.goModInZip.size >= MAX_REMEMBERED_ZIPS) this.goModInZip.delete(this.goModInZip.keys().next().value!);
    this.goModInZip.set(sha256, has);
    return has;
  }


  private read<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return withRetry(fn, { budget: READ_RETRIES, signal });
  }
}

/**
 * An error as one log line. The credentials' hint is `run`'s ("rerun: it resumes"), which
 * means nothing to a proxy that keeps serving: every request fails the same way until the
 * credentials are renewed, and those taken from environment variables are read only at start.
 */
function describeForProxy(e: Error): string {
  if (!(e instanceof MigrateError)) return e.message;
  if (e.code !== 'ETARGETCREDENTIALS') return e.describe();
  return `${e.code}: ${e.message}; every request fails so until you renew the AWS credentials (aws sso login, a new session; or set the clock right if the message says it is off), check them with aws sts get-caller-identity, then stop this proxy and start it again (credentials from environment variables are read only at start)`;
}
