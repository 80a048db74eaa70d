/**
 * A stored file read through a transform (base64, a hasher) for an upload. `createReadStream(path).pipe(t)`
 * alone never hears the file's own failure: a blob deleted between its check and its upload (the
 * state directory emptied under the run) ends the process on an unhandled 'error' event, with a
 * stack trace, and reading `t` never ends. Here it ends the reading with EBLOBMISSING, naming the file.
 */
import { createReadStream } from 'node:fs';
import type { Duplex } from 'node:stream';
import { MigrateError, toError } from './errors.js';

export function readThrough<T extends Duplex>(path: string, highWaterMark: number, through: T, subject?: string): T {
  const file = createReadStream(path, { highWaterMark });
  file.once('error', (e) => {
    through.destroy(unreadableBlob(e, subject));
  });
  return file.pipe(through);
}

/** A stored file that cannot be read (or stat'ed) for its upload, as EBLOBMISSING naming it (node's message holds the path). */
export function unreadableBlob(thrown: unknown, subject?: string): MigrateError {
  if (thrown instanceof MigrateError) return thrown;
  return new MigrateError('EBLOBMISSING', `${subject ? `${subject}: ` : ''}the file to upload cannot be read: ${toError(thrown).message}`, {
    ...(subject ? { subject } : {}),
    cause: thrown,
    hint: 'the next run fetches or builds it again (if it happens again at once, check the disk under the state directory)',
  });
}
