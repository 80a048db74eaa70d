/**
 * Content-addressed blob store under state/blobs/, keyed by SHA-512 hex.
 * Bytes are streamed to a temporary file while being hashed, then renamed into
 * place, so a blob either exists whole or not at all, and no artifact is ever
 * held in memory whole.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingStream } from '../integrity/hashes.js';
import type { Hashes } from '../types.js';

export interface StoredBlob {
  hashes: Hashes;
  size: number;
  path: string;
}

export class BlobStore {
  constructor(readonly root: string) {
    mkdirSync(join(root, 'tmp'), { recursive: true });
  }

  pathOf(sha512: string): string {
    return join(this.root, 'sha512', sha512.slice(0, 2), sha512.slice(2));
  }

  has(sha512: string, size?: number): boolean {
    const p = this.pathOf(sha512);
    if (!existsSync(p)) return false;
    return size === undefined || statSync(p).size === size;
  }

  /** Stream `input` into the store; returns its hashes. */
  async put(input: Readable): Promise<StoredBlob> {
    const tmp = join(this.root, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
    const hasher = new HashingStream();
    try {
      await pipeline(input, hasher, createWriteStream(tmp));
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    const { hashes, size } = hasher.digest();
    const path = this.pathOf(hashes.sha512);
    mkdirSync(join(path, '..'), { recursive: true });
    renameSync(tmp, path);
    return { hashes, size, path };
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

export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
