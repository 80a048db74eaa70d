/**
 * One small file out of a (gzipped) tarball, streamed: an npm tarball's
 * package.json, an sdist's PKG-INFO. Nothing is extracted to disk, and a
 * decompression bomb is stopped at a bound on the bytes unpacked so far.
 */
import { createReadStream } from 'node:fs';
import * as tar from 'tar';

export interface TarEntryInfo {
  path: string;
  type: string;
  size: number;
}

/** What to do with an entry: skip it, keep its bytes, or stop the read with this error. */
export type EntryDecision = 'skip' | 'take' | Error;

export interface ReadTarEntryOptions {
  /** The most bytes all entries may unpack to; past it, `tooLarge()` stops the read. */
  maxUnpackedBytes: number;
  tooLarge: () => Error;
  /** Called for every entry in order; the bytes of the last entry taken are returned. */
  decide: (entry: TarEntryInfo) => EntryDecision;
  /**
   * Where the archive ends at its first zero block, as Python's tarfile (pip's, twine's) and GNU
   * tar read it: an entry after a lone one, which node-tar reads on, stops the read with this error.
   */
  pastEnd?: () => Error;
}

/**
 * The bytes of the last entry `decide` takes, or undefined when it took none.
 * Rejects with the first error `decide` returns, `tooLarge()`, or what tar or
 * the file system said (callers turn those into coded errors).
 */
export function readTarEntry(file: string, opts: ReadTarEntryOptions): Promise<Buffer | undefined> {
  return new Promise<Buffer | undefined>((resolve, reject) => {
    const input = createReadStream(file, { highWaterMark: 64 * 1024 });
    let taken: Buffer | undefined;
    let unpacked = 0;
    let failed = false;
    const stop = (e: Error) => {
      if (failed) return;
      failed = true;
      input.destroy();
      reject(e);
    };
    const parser = new tar.Parser({
      onReadEntry: (entry) => {
        if (ended && opts.pastEnd) return stop(opts.pastEnd());
        unpacked += entry.size ?? 0;
        if (unpacked > opts.maxUnpackedBytes) return stop(opts.tooLarge());
        const decision = opts.decide({ path: entry.path, type: entry.type, size: entry.size ?? 0 });
        if (decision instanceof Error) return stop(decision);
        if (decision === 'skip') return void entry.resume();
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => (taken = Buffer.concat(chunks)));
      },
    });
    let ended = false;
    parser.on('nullBlock', () => (ended = true));
    parser.on('error', (e) => stop(e));
    parser.on('end', () => {
      if (!failed) resolve(taken);
    });
    input.on('error', (e) => stop(e));
    input.pipe(parser);
  });
}
