/**
 * Streaming one asset from CodeArtifact to go: a slot among MAX_DOWNLOADS, the bytes
 * checked on the way (VerifyingStream), and the two timers that cut off a download that
 * no longer moves (idle) or moves too slowly to ever end (grace plus size at a minimum rate).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { MigrateError } from '../errors.js';
import { VerifyingStream } from '../integrity/verify-stream.js';
import { confirmQuiet } from '../net/silence.js';
import { Semaphore } from '../semaphore.js';
import type { CodeArtifact } from '../targets/codeartifact.js';
import type { GenericTarget } from '../targets/generic.js';
import { text } from './reply.js';

/** A download that passes no byte for this long is cut off. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/**
 * The slowest average a download may go at, in bytes per second: one that has not ended
 * DEFAULT_DOWNLOAD_GRACE_MS plus its size at this rate after it started is cut off. The
 * idle timer alone cannot tell a client that reads a few bytes now and then, never quite
 * stopping, from a slow link, and such a client holds one of MAX_DOWNLOADS slots for as
 * long as it likes (a 16 MiB zip at 1 KiB/s: four and a half hours). 32 KiB/s is 256
 * kbit/s, below any link go is used on: 9 minutes for a 16 MiB zip, 4.5 hours for the
 * largest zip go takes (500 MiB). Kestrel bounds responses the same way
 * (MinResponseDataRate: a rate and a grace period).
 */
export const DEFAULT_MIN_DOWNLOAD_RATE = 32 * 1024;
/** Time a download has on top of its size at the minimum rate: a start that is slow (TCP slow start, CodeArtifact's first byte), a pause. */
export const DEFAULT_DOWNLOAD_GRACE_MS = 60_000;
/** A file whose size neither the listing nor CodeArtifact's answer gives is taken to be this large for its deadline: the largest module zip go accepts (golang.org/x/mod/zip MaxZipFile). */
const MAX_GO_ZIP_BYTES = 500 * 1024 * 1024;
/** setTimeout's longest delay: anything longer fires at once (Node warns and uses 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * Downloads streaming at once. The SDK's handler keeps at most 50 connections per host
 * (@smithy/node-http-handler's maxSockets) and a download holds one until its last byte
 * is taken; below that, ListPackageVersions and DescribePackageVersion always find one.
 */
export const MAX_DOWNLOADS = 32;

const CONTENT_TYPES = { info: 'application/json', mod: 'text/plain; charset=utf-8', zip: 'application/zip' } as const;

/** What a request is waiting for: `answered` once CodeArtifact's headers are in (after that only the idle timer applies). */
export interface Pending {
  signal: AbortSignal;
  answered(): void;
  /** The deadline passed (not a client that left, not the stop). */
  timedOut(): boolean;
}

/** What bounds a download (GoProxyOptions says what each means); upstreamTimeoutMs only to name the wait for a slot in its 503. */
export interface DownloadLimits {
  upstreamTimeoutMs: number;
  idleTimeoutMs: number;
  minDownloadRate: number;
  downloadGraceMs: number;
}

/** One read of CodeArtifact, retried as the handler retries its own. */
export type Read = <T>(fn: () => Promise<T>, signal: AbortSignal) => Promise<T>;

export class AssetDownloads {
  private readonly slots = new Semaphore(MAX_DOWNLOADS);

  constructor(
    private readonly ca: CodeArtifact,
    private readonly generic: GenericTarget,
    private readonly read: Read,
    private readonly onError: (line: string) => void,
    private readonly limits: DownloadLimits,
  ) {}

  /**
   * The asset streamed through: never held whole, and a broken source breaks the response.
   * It holds one of MAX_DOWNLOADS slots (and one SDK connection) until its last byte is
   * taken, until no byte has moved for idleTimeoutMs, or until downloadGraceMs plus its size
   * at minDownloadRate have passed.
   *
   * The bytes are checked against the sha256 and size CodeArtifact lists for the asset
   * (computed by the service when it was published), the last chunk held back until they
   * match: bytes that changed in storage reach go as a cut-off download, never as a
   * complete file it would hash into a new go.sum line. A file replaced together with its
   * listing cannot be told from here; go.sum (and `run`'s goSum check) can.
   *
   * A HEAD is answered from the listing alone (the size it lists is the Content-Length a
   * GET sends): downloading a zip only to drop its bytes would cost a slot and a transfer.
   */
  async send(res: ServerResponse, module: string, version: string, ext: 'info' | 'mod' | 'zip', pending: Pending, head: boolean): Promise<void> {
    let release: () => void;
    try {
      release = await this.slots.take(pending.signal);
    } catch (e) {
      if (!pending.timedOut()) throw e;
      // CodeArtifact was never asked: a 504 blaming it would send the operator to the wrong place
      const s = this.limits.upstreamTimeoutMs / 1000;
      this.onError(`GET ${module}@${version}.${ext}: EBUSY: ${MAX_DOWNLOADS} downloads were in flight for ${s} s (clients reading slowly or not at all) and none ended to make room; not asked of CodeArtifact`);
      return text(res, 503, `busy: ${MAX_DOWNLOADS} downloads in flight for ${s} s: try again in a moment\n`, { 'retry-after': '5' });
    }
    try {
      const coords = this.generic.coordinates(module);
      const name = `${version}.${ext}`;
      const [listing, fetched] = await Promise.allSettled([
        this.read(() => this.ca.versionAssets(coords, version, pending.signal), pending.signal),
        head ? Promise.resolve(undefined) : this.read(() => this.ca.getAsset(coords, version, name, pending.signal), pending.signal),
      ]);
      if (listing.status === 'rejected' || fetched.status === 'rejected') {
        if (fetched.status === 'fulfilled') fetched.value?.stream.destroy();
        throw listing.status === 'rejected' ? listing.reason : (fetched as PromiseRejectedResult).reason;
      }
      const download = fetched.value;
      const listed = listing.value?.find((a) => a.name === name);
      const sha256 = listed?.hashes['SHA-256'];
      if (!sha256) {
        download?.stream.destroy();
        throw listed
          ? new MigrateError('EINTEGRITY', `${module}@${name}: CodeArtifact lists no SHA-256 for it: nothing to check the bytes against`)
          : new MigrateError('ETARGETREJECTED', `${module}@${name}: not in the version's asset listing`, { status: 404 });
      }
      pending.answered();
      // the listed size is what the bytes are checked against: a Content-Length from elsewhere could only disagree with it
      const length = listed.size !== undefined ? String(listed.size) : (download?.stream as Partial<IncomingMessage> | undefined)?.headers?.['content-length'];
      res.writeHead(200, { 'content-type': CONTENT_TYPES[ext], ...(length ? { 'content-length': length } : {}), 'cache-control': 'no-store' });
      if (!download) {
        res.end();
        return;
      }
      let stalled = false;
      // A client that is behind is its own problem, not logged; else CodeArtifact is the slow one.
      // Stuck, the client is behind when our buffer to it is full now; slow, when it ever filled (a
      // 'drain' fired): just after one, the buffer is empty while the client is still the one holding things up.
      let clientBehind = false;
      res.on('drain', () => (clientBehind = true));
      const cutOff = (why: string, blameClient: boolean) => {
        stalled = true;
        if (!blameClient) this.onError(`GET ${module}@${name}: ETIMEDOUT: ${why}; the download was cut off`);
        res.destroy();
        download.stream.destroy();
      };
      let finished = false;
      let sent = 0;
      // confirmed before the cut (net/silence): CodeArtifact's bytes may sit unread after this process
      // stalled. Bytes that reached the socket while the client held the stream back re-arm the timer
      // as the stream's own would. Whose fault it is is judged when the cut comes.
      const upstream = (download.stream as Partial<IncomingMessage>).socket;
      const moved = () => sent + (upstream?.bytesRead ?? 0);
      const idleMs = this.limits.idleTimeoutMs;
      const over = () => finished || stalled;
      const idle = setTimeout(
        () =>
          confirmQuiet(
            moved,
            idleMs,
            () => {
              if (!over()) cutOff(`CodeArtifact sent no byte for ${idleMs / 1000} s`, res.writableNeedDrain);
            },
            () => {
              if (!over()) idle.refresh();
            },
          ),
        idleMs,
      );
      // a client that keeps reading a little never lets the idle timer fire: the whole download has a deadline too
      const size = listed.size ?? (length ? Number(length) : MAX_GO_ZIP_BYTES);
      const allowedMs = this.limits.downloadGraceMs + (size / this.limits.minDownloadRate) * 1000;
      const late = setTimeout(
        () => cutOff(`CodeArtifact sent ${sent} of ${size} bytes in ${Math.round(allowedMs / 1000)} s, less than ${this.limits.minDownloadRate} bytes/s`, clientBehind || res.writableNeedDrain),
        Math.min(allowedMs, MAX_TIMER_MS),
      );
      download.stream.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        idle.refresh();
      });
      try {
        await pipeline(download.stream, new VerifyingStream(`${module}@${name}`, { sha256, size: listed.size }), res);
      } catch (e) {
        // cut off by a timer, which said why if it was CodeArtifact's doing
        if (stalled) return;
        // logged here: by the time pipeline rejects, the response is destroyed and handle() would take it for a client that left
        if (!(e instanceof MigrateError && e.code === 'EINTEGRITY')) throw e;
        this.onError(`GET ${module}@${name}: ${e.describe()}`);
        res.destroy();
      } finally {
        finished = true;
        clearTimeout(idle);
        clearTimeout(late);
      }
    } finally {
      release();
    }
  }
}
