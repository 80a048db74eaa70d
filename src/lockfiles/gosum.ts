/**
 * go.sum files: `<module> <version> h1:<hash>` for a module's zip and
 * `<module> <version>/go.mod h1:<hash>` for its go.mod
 * (https://go.dev/ref/mod#go-sum-files). Consumers' go.sum lines are what
 * their builds will check the migrated modules against, so each migrated Go
 * version must hash exactly as they say.
 */
import { MigrateError, toError, type ErrorCode } from '../errors.js';
import { readLockfileBytes } from './read.js';

export interface GoSumLine {
  module: string;
  version: string;
  /** true for the `/go.mod` line */
  goMod: boolean;
  hash: string;
  file: string;
  line: number;
}

/**
 * The h1 of an empty go.mod. Early module-aware go wrote it into go.sum for modules
 * without go.mod, and go has dropped such lines on reading ever since
 * (cmd/go/internal/modfetch/fetch.go, emptyGoModHash): they check nothing, so
 * they are no mismatch and no entry here either.
 */
const EMPTY_GO_MOD_HASH = 'h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=';

/** A go.sum file is a few MB at most; a larger one is not a go.sum. */
const MAX_GO_SUM_BYTES = 64 * 1024 * 1024;

/** Parse one go.sum; a line that is not `<module> <version>[/go.mod] <hash>` is an error naming the file and line. */
export function parseGoSum(file: string): GoSumLine[] {
  let text: string;
  try {
    // as a lockfile is read: a regular file only, opened without waiting, never read past the
    // limit (a FIFO waited for a writer for ever, /dev/zero was read until memory ran out)
    text = readLockfileBytes(file, { maxBytes: MAX_GO_SUM_BYTES }).toString('utf8');
  } catch (e) {
    const why = e instanceof MigrateError && e.code === 'ETOOLARGE' ? `over ${MAX_GO_SUM_BYTES} bytes: not a go.sum` : toError(e).message.replace(`${file}: `, '');
    throw new MigrateError('ECONFIG', `cannot read go.sum ${file}: ${why}`, { hint: 'fix the path in goSum in the job file' });
  }
  return parseGoSumText(text, file);
}

/** The lines of a go.sum already read; `code` is the error's code (ECONFIG for a job's go.sum, ELOCKFILE for a lockfile). */
export function parseGoSumText(text: string, file: string, code: ErrorCode = 'ECONFIG'): GoSumLine[] {
  const out: GoSumLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const parts = line.split(/\s+/);
    const [module, version, hash] = parts;
    if (parts.length !== 3 || !module || !version || !hash || !/^h\d+:/.test(hash)) {
      throw new MigrateError(code, `${file}:${i + 1}: not a go.sum line: ${JSON.stringify(line.slice(0, 120))}`, { hint: 'each line is "<module> <version>[/go.mod] h1:<hash>"' });
    }
    if (hash === EMPTY_GO_MOD_HASH) return;
    const goMod = version.endsWith('/go.mod');
    out.push({ module, version: goMod ? version.slice(0, -'/go.mod'.length) : version, goMod, hash, file, line: i + 1 });
  });
  return out;
}
