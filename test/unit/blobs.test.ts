/** state/blobs: the content-addressed store. */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/alive.js';
import { MigrateError } from '../../src/errors.js';
import { BlobStore } from '../../src/state/blobs.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cam-blobs-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

/** The bytes in chunks of awkward sizes, as a network stream would deliver them. */
function chunked(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0, n = 1; at < bytes.length; at += n, n = (n * 7 + 3) % 70_001) chunks.push(bytes.subarray(at, at + n));
  return Readable.from(chunks);
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  expect(r.pid).toBeGreaterThan(0);
  expect(isAlive(r.pid!)).toBe(false);
  return r.pid!;
}

describe('BlobStore.put', () => {
  it('returns hashes equal to node:crypto and stores the bytes under their sha512', async () => {
    const store = new BlobStore(root);
    const bytes = randomBytes(1024 * 1024 + 333);
    const blob = await store.put(chunked(bytes));
    expect(blob.size).toBe(bytes.length);
    expect(blob.hashes).toEqual({ md5: hex('md5', bytes), sha1: hex('sha1', bytes), sha256: hex('sha256', bytes), sha512: hex('sha512', bytes) });
    expect(blob.path).toBe(store.pathOf(hex('sha512', bytes)));
    expect(readFileSync(blob.path).equals(bytes)).toBe(true);
    // nothing left in the temporary folder
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('the same bytes twice are one blob', async () => {
    const store = new BlobStore(root);
    const bytes = randomBytes(5000);
    const a = await store.put(chunked(bytes));
    const b = await store.put(chunked(bytes));
    expect(b.path).toBe(a.path);
    expect(readFileSync(a.path).equals(bytes)).toBe(true);
  });

  it('a stream that breaks off leaves no blob and no temporary file', async () => {
    const store = new BlobStore(root);
    const broken = new Readable({
      read() {
        this.push(randomBytes(1000));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(store.put(broken)).rejects.toThrow('connection reset');
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(existsSync(join(root, 'sha512'))).toBe(false);
  });

  it('a stream that fails before the temporary file is even open leaves no file either (the open lands after the failure)', async () => {
    const store = new BlobStore(root);
    for (let i = 0; i < 20; i++) {
      const failed = new Readable({ read() {} });
      failed.destroy(new Error('connection refused'));
      await expect(store.put(failed)).rejects.toThrow('connection refused');
    }
    // the open of a temporary file runs on the thread pool: give any that were still on their way time to land
    await new Promise((r) => setTimeout(r, 100));
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('its temporary folder gone (the state directory emptied under the run): ELOCAL naming the file, not a download that broke off (which the run would retry and blame on the source); a network failure stays the network\'s', async () => {
    const store = new BlobStore(root);
    rmSync(join(root, 'tmp'), { recursive: true, force: true });
    const e = await store.put(chunked(randomBytes(100_000))).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(MigrateError);
    expect((e as MigrateError).code).toBe('ELOCAL');
    expect((e as MigrateError).message).toContain(join(root, 'tmp'));
    expect((e as MigrateError).message).toMatch(/was deleted while this run used it/);
    expect((e as MigrateError).hint).not.toMatch(/free space/);
    // the folder back: a network failure stays the network's
    mkdirSync(join(root, 'tmp'));
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
    const broken = new Readable({
      read() {
        this.destroy(reset);
      },
    });
    await expect(store.put(broken)).rejects.toBe(reset);
  });

  it('read gives back the bytes', async () => {
    const store = new BlobStore(root);
    const bytes = randomBytes(777);
    const blob = await store.put(Readable.from([bytes]));
    const back: Buffer[] = [];
    for await (const c of store.read(blob.hashes.sha512)) back.push(c as Buffer);
    expect(Buffer.concat(back).equals(bytes)).toBe(true);
  });
});

describe('BlobStore.has', () => {
  it('knows a blob by its sha512, and by its size when asked', async () => {
    const store = new BlobStore(root);
    const bytes = randomBytes(2048);
    const { hashes } = await store.put(Readable.from([bytes]));
    expect(store.has(hashes.sha512)).toBe(true);
    expect(store.has(hashes.sha512, 2048)).toBe(true);
    expect(store.has(hashes.sha512, 2047)).toBe(false);
    expect(store.has(hex('sha512', randomBytes(10)))).toBe(false);
  });

  it('a truncated blob on disk does not count at its recorded size', async () => {
    const store = new BlobStore(root);
    const bytes = randomBytes(4096);
    const { hashes, path } = await store.put(Readable.from([bytes]));
    writeFileSync(path, bytes.subarray(0, 100));
    expect(store.has(hashes.sha512, 4096)).toBe(false);
  });
});

describe('BlobStore.check', () => {
  // the folder's size (4096) equal to the blob's or not: the same ELOCAL, never Node's bare ERR_FS_EISDIR from removing it
  for (const size of [4096, 2048]) {
    it(`a folder where a ${size}-byte blob should be: ELOCAL naming the path and that a directory is in the way, saying to remove it; the folder left as it is`, async () => {
      const store = new BlobStore(root);
      const bytes = randomBytes(size);
      const { hashes, path } = await store.put(Readable.from([bytes]));
      rmSync(path);
      mkdirSync(path);
      writeFileSync(join(path, 'someone-elses'), 'x');
      const e = await store.check(hashes.sha512, size).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(MigrateError);
      expect(e).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(path) });
      expect((e as MigrateError).message).toContain('a directory is in the way');
      expect((e as MigrateError).hint).toContain('remove it');
      expect(existsSync(join(path, 'someone-elses'))).toBe(true);
    });
  }

  it('a blob with other bytes in its place is removed and told not good (the caller downloads it again)', async () => {
    const store = new BlobStore(root);
    const bytes = randomBytes(1000);
    const { hashes, path } = await store.put(Readable.from([bytes]));
    writeFileSync(path, randomBytes(1000));
    expect(await store.check(hashes.sha512, 1000)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });
});

describe('BlobStore.sweepTemporary', () => {
  it('removes leftovers of dead writers and unreadable names, keeps the live process\'s own', () => {
    const store = new BlobStore(root);
    const tmp = join(root, 'tmp');
    const dead = `${deadPid()}-0123456789abcdef`;
    const mine = `${process.pid}-fedcba9876543210`;
    writeFileSync(join(tmp, dead), 'half a tarball');
    writeFileSync(join(tmp, mine), 'being written');
    writeFileSync(join(tmp, 'not-a-pid'), 'junk');
    store.sweepTemporary();
    expect(readdirSync(tmp).sort()).toEqual([mine]);
  });

  it('keeps the files of another live process', () => {
    const store = new BlobStore(root);
    const tmp = join(root, 'tmp');
    // pid 1 (init) is alive in any container or machine; kill(1, 0) answers EPERM or success
    writeFileSync(join(tmp, '1-0000000000000000'), 'someone else');
    writeFileSync(join(tmp, `${deadPid()}-1111111111111111`), 'dead');
    store.sweepTemporary();
    expect(readdirSync(tmp)).toEqual(['1-0000000000000000']);
  });
});
