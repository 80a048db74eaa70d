/**
 * Go's `h1:` hash (golang.org/x/mod/sumdb/dirhash Hash1), the hash in go.sum
 * files and the Go checksum database. Written here because no npm library
 * implements it; read against
 * https://cs.opensource.google/go/x/mod/+/master:sumdb/dirhash/hash.go
 *
 * Hash1 is "h1:" + base64(sha256(summary)), where the summary has one line per
 * file, sorted by file name (Go string order, i.e. byte order of the UTF-8
 * name): `<hex sha256 of the content>  <name>\n`. For a module zip the names
 * are `<module>@<version>/<path>`; a go.mod line (`<module> <version>/go.mod
 * h1:…`) hashes a single file named `go.mod`.
 *
 * Only names and contents count: compression, timestamps and modes do not.
 * Every entry of a zip counts, directory entries included (they hash as empty
 * files), which is why a module zip must have none.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { MigrateError } from '../errors.js';

/** The one file name the `/go.mod h1:` line of go.sum hashes. */
const GO_MOD_NAME = 'go.mod';

/**
 * Accumulates the per-file lines of one Hash1 summary. Each file is hashed as
 * it streams past (`passThrough`) or from bytes already in memory (`addBytes`),
 * so no file is ever held whole; `digest()` sorts the lines and hashes them.
 */
export class Hash1 {
  private readonly lines: Line[] = [];

  /** A pass-through stream that records the sha256 of `name`'s content once it ends. */
  passThrough(name: string | Buffer): Transform {
    const nameBytes = checkName(name);
    const h = createHash('sha256');
    const lines = this.lines;
    return new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
        h.update(chunk);
        done(null, chunk);
      },
      flush(done: TransformCallback) {
        lines.push({ name: nameBytes, hex: h.digest('hex') });
        done();
      },
    });
  }

  addBytes(name: string | Buffer, data: Buffer): void {
    this.lines.push({ name: checkName(name), hex: createHash('sha256').update(data).digest('hex') });
  }

  /** Adds a file whose content is a stream; resolves once it has been read to the end. */
  async addStream(name: string | Buffer, content: Readable): Promise<void> {
    const nameBytes = checkName(name);
    const h = createHash('sha256');
    await pipeline(content, sinkInto(h));
    this.lines.push({ name: nameBytes, hex: h.digest('hex') });
  }

  /** `h1:<base64>` of every file added so far. */
  digest(): string {
    return summarize(this.lines);
  }
}

interface Line {
  name: Buffer;
  hex: string;
}

/** Lines sorted by the bytes of the name (Go's slices.Sort on strings), then hashed. */
function summarize(lines: readonly Line[]): string {
  const summary = createHash('sha256');
  for (const { name, hex } of [...lines].sort((a, b) => Buffer.compare(a.name, b.name))) {
    summary.update(`${hex}  `);
    summary.update(name);
    summary.update('\n');
  }
  return `h1:${summary.digest('base64')}`;
}

/** The go.sum hash of a `.mod` file: `<module> <version>/go.mod h1:…`. */
export function hashGoMod(modBytes: Buffer): string {
  const h = new Hash1();
  h.addBytes(GO_MOD_NAME, modBytes);
  return h.digest();
}

/**
 * The go.sum hash of a module zip on disk, as dirhash.HashZip computes it: every
 * entry, named by its raw bytes, hashed one at a time while it streams. When a
 * name occurs twice, Go hashes the last entry's content for both lines (it
 * looks contents up by name); so do we. A zip Go would refuse to extract still
 * gets a hash: checking the rules is the builder's job, not the hash's.
 */
export async function hashZip(zipPath: string): Promise<string> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true, decodeStrings: false, autoClose: false });
  try {
    const byName = new Map<string, { name: Buffer; hex: string; count: number }>();
    for (;;) {
      const entry = await nextEntry(zip);
      if (!entry) break;
      const h = createHash('sha256');
      await pipeline(await zip.openReadStreamPromise(entry), sinkInto(h));
      const key = entry.fileNameRaw.toString('latin1');
      const seen = byName.get(key);
      byName.set(key, { name: Buffer.from(entry.fileNameRaw), hex: h.digest('hex'), count: (seen?.count ?? 0) + 1 });
    }
    const lines: Line[] = [];
    for (const { name, hex, count } of byName.values()) {
      checkName(name);
      for (let i = 0; i < count; i++) lines.push({ name, hex });
    }
    return summarize(lines);
  } catch (e) {
    if (e instanceof MigrateError) throw e;
    throw new MigrateError('EBADSOURCE', `${zipPath} cannot be read as a zip: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  } finally {
    zip.close();
  }
}

function checkName(name: string | Buffer): Buffer {
  const bytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  // dirhash refuses names with newlines: the summary would be ambiguous.
  if (bytes.includes(0x0a)) {
    throw new MigrateError('EBADSOURCE', `a file name contains a newline, which Go's h1 hash refuses: ${JSON.stringify(bytes.toString('utf8'))}`, {
      hint: 'rename the file at the source',
    });
  }
  return bytes;
}

function sinkInto(h: Hash) {
  return async function (source: AsyncIterable<Buffer>): Promise<void> {
    for await (const chunk of source) h.update(chunk);
  };
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const onEntry = (entry: yauzl.Entry) => {
      cleanup();
      resolve(entry);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}
