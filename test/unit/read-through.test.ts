/** readThrough: a stored file gone (or unreadable) under an upload ends the reading with EBLOBMISSING, never an unhandled 'error' that ends the process. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { readThrough } from '../../src/read-through.js';

const dir = mkdtempSync(join(tmpdir(), 'cam-read-through-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(s: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

describe('readThrough', () => {
  it('reads the file through the transform', async () => {
    const f = join(dir, 'blob');
    writeFileSync(f, 'x'.repeat(100_000));
    expect((await readAll(readThrough(f, 4096, new PassThrough()))).length).toBe(100_000);
  });

  it.each([
    ['gone', () => join(dir, 'missing')],
    ['a folder where the file was', () => dir],
  ])('a file %s: the reading ends with EBLOBMISSING naming it and the version', async (_what, path) => {
    const e = await readAll(readThrough(path(), 4096, new PassThrough(), 'pkg@1.0.0')).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(MigrateError);
    expect((e as MigrateError).code).toBe('EBLOBMISSING');
    expect((e as MigrateError).message).toMatch(/^pkg@1\.0\.0: the file to upload cannot be read: E(NOENT|ISDIR)/);
  });
});
