/**
 * Content-addressed blob store under state/blobs/, keyed by SHA-512 hex.
 * Bytes are streamed to a temporary file while being hashed, checked, made
 * durable (fsync of the file, then of its folder after the rename), and only
 * then moved into place: a blob either exists whole and checked, or not at
 * all, and no artifact is ever held in memory whole.
 *
 * Bytes are checked again when they are used (`check`): a disk can flip a bit,
 * and a person can edit a file, between a download and a publish.
 */
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAlive } from '../alive.js';
import { removeWhenClosed } from '../atomic-file.js';
import { fileSystemError, localError, MigrateError, vanishedError } from '../errors.js';
import { HashingStream } from '../integrity/hashes.js';
import type { Hashes } from '../types.js';

export interface StoredBlob {
  hashes: Hashes;
  size: number;
  path: string;
}

export interface PutOptions {
  /** Refuse (ETOOLARGE) and discard a stream longer than this. */
  maxBytes?: number;
  /** Who the bytes are for, in error messages (`name@version`). */
  subject?: string;
  /** Runs on the hashes before the blob is committed; a throw discards the bytes. */
  verify?: (hashes: Hashes, size: number) => void;
}


/** Counts bytes through, and fails the stream once there are more than `max`. */
class SizeLimit extends Transform {
  private seen = 0;
  constructor(
    private readonly max: number,
    private readonly subject: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      done(
        new MigrateError('ETOOLARGE', `${this.subject}: the artifact is larger than limits.maxArtifactBytes (${this.max} bytes)`, {
          subject: this.subject,
          expected: `at most ${this.max} bytes`,
          actual: `more than ${this.max} bytes`,
          hint: 'if the artifact is real, raise limits.maxArtifactBytes in the job file; otherwise the source is sending an endless or bogus body',
        }),
      );
      return;
    }
    done(null, chunk);
  }
}

export class BlobStore {
  /** What re-checking stored bytes before use cost this run (the benchmark reports it). */
  readonly recheck = { bytes: 0, ms: 0 };

  constructor(readonly root: string) {
    try {
      mkdirSync(join(root, 'tmp'), { recursive: true });
    } catch (e) {
      throw localError(e, join(root, 'tmp'), 'create') ?? e;
    }
  }

  pathOf(sha512: string): string {
    return join(this.root, 'sha512', sha512.slice(0, 2), sha512.slice(2));
  }

  has(sha512: string, size?: number): boolean {
    const p = this.pathOf(sha512);
    if (!existsSync(p)) return false;
    return size === undefined || statSync(p).size === size;
  }

  /** Stream `input` into the store; returns its hashes. Nothing is kept unless it passed `verify`. */
  async put(input: Readable, opts: PutOptions = {}): Promise<StoredBlob> {
    const tmp = join(this.root, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
    const hasher = new HashingStream();
    let writeFailure: unknown;
    let out: WriteStream | undefined;
    try {
      out = createWriteStream(tmp, { mode: 0o644 });
      out.on('error', (e) => (writeFailure ??= e));
      const limit = new SizeLimit(opts.maxBytes ?? Number.MAX_SAFE_INTEGER, opts.subject ?? 'artifact');
      await pipeline(input, limit, hasher, out);
      // durable before anyone records that we have it
      await syncFile(tmp);
    } catch (e) {
      await removeWhenClosed(out, tmp);
      // our own file's failure (it names a path: the temp folder deleted under the run is ENOENT)
      // is this machine's, never a download that broke off: not retried, not blamed on the source
      throw this.folderGone(writeFailure ?? e, opts.subject) ?? fileSystemError(writeFailure) ?? localError(writeFailure ?? e, tmp, 'write') ?? e;
    }
    const { hashes, size } = hasher.digest();
    try {
      opts.verify?.(hashes, size);
    } catch (e) {
      // bytes that fail their check are never kept
      rmSync(tmp, { force: true });
      throw e;
    }
    const path = this.pathOf(hashes.sha512);
    try {
      mkdirSync(dirname(path), { recursive: true });
      renameSync(tmp, path);
      await syncDir(dirname(path));
    } catch (e) {
      rmSync(tmp, { force: true });
      throw this.folderGone(e, opts.subject) ?? localError(e, path, 'store', { anyCode: true })!;
    }
    return { hashes, size, path };
  }

  /** The temporary folder deleted under the run (the state directory emptied): said so, with what to do, not "free space". */
  private folderGone(thrown: unknown, subject = 'a download'): MigrateError | undefined {
    return vanishedError(thrown, subject, [{ path: join(this.root, 'tmp'), what: "the blob store's temporary folder" }]);
  }

  /**
   * Re-read a stored blob and compare it with what was recorded. A blob that
   * changed on disk is deleted (the caller downloads it again); true when good.
   */
  async check(sha512: string, size: number): Promise<boolean> {
    const path = this.pathOf(sha512);
    // a folder (or a device, a socket) where the blob should be was put there by no writer of ours:
    // said as such, whatever its size, never Node's bare ERR_FS_EISDIR from removing it
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st && !st.isFile() && !st.isSymbolicLink()) {
      throw new MigrateError('ELOCAL', `cannot read ${path}: ${st.isDirectory() ? 'a directory' : 'something that is no file'} is in the way of a stored download`, {
        hint: 'remove it (it is none of codeartifact-migrate\'s files) and rerun: the version is downloaded again',
      });
    }
    if (!this.has(sha512, size)) {
      if (existsSync(path)) rmSync(path, { force: true });
      return false;
    }
    const hash = createHash('sha512');
    const started = performance.now();
    try {
      for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
    } catch (e) {
      throw localError(e, path, 'read') ?? e;
    } finally {
      this.recheck.ms += performance.now() - started;
      this.recheck.bytes += size;
    }
    if (hash.digest('hex') === sha512) return true;
    rmSync(path, { force: true });
    return false;
  }

  remove(sha512: string): void {
    rmSync(this.pathOf(sha512), { force: true });
  }

  read(sha512: string): Readable {
    return createReadStream(this.pathOf(sha512));
  }

  /** Leftovers of writes a killed process never finished (their writer's pid is gone). */
  sweepTemporary(): void {
    const dir = join(this.root, 'tmp');
    for (const name of readdirSync(dir)) {
      const pid = Number(name.split('-')[0]);
      if (!Number.isInteger(pid) || !isAlive(pid)) rmSync(join(dir, name), { force: true });
    }
  }
}

/** fsync a file, so its bytes are on disk before the state says we have them. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a folder, so a rename in it survives a power cut. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

