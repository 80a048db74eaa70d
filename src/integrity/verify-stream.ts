/**
 * A pass-through that checks bytes against a known sha256 and size while they flow,
 * holding back the last chunk until the check passes: a reader that is handed the bytes
 * as they come (an HTTP response with its Content-Length already sent) never receives the
 * whole of a body that fails, so it sees a cut-off download rather than wrong bytes.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { MigrateError } from '../errors.js';

export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private held?: Buffer;

  constructor(
    private readonly subject: string,
    private readonly expected: { sha256: string; size?: number },
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    // past the size at once, not at the end: what was passed on is less than the size, so a
    // reader told that size (a Content-Length) never sees a complete body of other bytes
    if (this.expected.size !== undefined && this.bytes > this.expected.size) {
      done(this.mismatch(`more than ${this.expected.size} bytes`));
      return;
    }
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    const sha256 = this.hash.digest('hex');
    const sizeOk = this.expected.size === undefined || this.expected.size === this.bytes;
    if (sha256 !== this.expected.sha256.toLowerCase() || !sizeOk) {
      done(this.mismatch(`sha256 ${sha256}, ${this.bytes} bytes`));
      return;
    }
    done(null, this.held);
  }

  private mismatch(actual: string): MigrateError {
    return new MigrateError('EINTEGRITY', `${this.subject}: the bytes differ from what CodeArtifact lists for them`, {
      subject: this.subject,
      expected: `sha256 ${this.expected.sha256}${this.expected.size === undefined ? '' : `, ${this.expected.size} bytes`}`,
      actual,
      hint: 'the stored asset is corrupt or was replaced: compare it with the ledger (cam ledger verify) and republish it',
    });
  }
}
