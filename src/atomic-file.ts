/**
 * A file written beside its final name and renamed over it when whole: a crash,
 * a kill or a full disk leaves the old file (or none) under that name, never a
 * partial one; and a name someone planted there (a symbolic link) is replaced,
 * never written through (the temporary file is created exclusively, without
 * following links). Used for report files, ledger exports and rewritten lockfiles.
 * What a killed writer left beside the name is removed by the next writer of it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, unlinkSync, writeSync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { sweepDeadWriters } from './alive.js';
import { MigrateError } from './errors.js';
import { makeFolder } from './make-folder.js';

/** What link() says on a file system that has no hard links. */
const NO_HARD_LINKS: ReadonlySet<string> = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

export class AtomicFile {
  private readonly tmp: string;
  private fd?: number;
  private renamed = false;
  /** The name commitNew() gave: a second link to the temporary file (kept until discard()), or the file itself moved there. */
  private taken?: { name: string; moved: boolean };

  /**
   * `fail` turns a file-system error into the caller's own (it names what was being written);
   * `mode` is given the file exactly, whatever the umask (default: 0o644 under the umask);
   * `owner` (the file it replaces: a rename gives the name the writer's own file) is given the
   * file too, or it is not written (ELOCAL): see keepOwner.
   */
  constructor(
    readonly path: string,
    private readonly fail: (thrown: unknown) => Error,
    opts: { mode?: number; owner?: { uid: number; gid: number } } = {},
  ) {
    this.tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      makeFolder(dirname(path));
      sweepDeadWritersOf(path);
      this.fd = openSync(this.tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, opts.mode === undefined ? 0o644 : 0o600);
      // before the mode: a chown clears the set-user-ID and set-group-ID bits
      if (opts.owner) keepOwner(this.fd, path, opts.owner);
      if (opts.mode !== undefined) fchmodSync(this.fd, opts.mode);
    } catch (e) {
      this.discard();
      throw this.fail(e);
    }
  }

  write(data: string | Buffer): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    try {
      for (let off = 0; off < bytes.length; ) off += writeSync(this.fd!, bytes, off);
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** Durable on disk and closed, not renamed yet (several files can all be whole before any takes its name). */
  sync(): void {
    if (this.fd === undefined) return;
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = undefined;
    } catch (e) {
      throw this.fail(e);
    }
  }

  /**
   * Durable, then renamed over the name. `lastLook` runs just before the rename (a file that
   * must still hold what was read): what it throws is thrown as it is, and nothing is renamed.
   */
  commit(lastLook?: () => void): void {
    this.sync();
    lastLook?.();
    try {
      renameSync(this.tmp, this.path);
      this.renamed = true;
    } catch (e) {
      throw this.fail(e);
    }
  }

  /**
   * Durable, then given `name` (in the same folder; default its own) only if nothing has that name
   * yet: false, and nothing named, when something does (an earlier file, a planted link: neither
   * replaced nor written through). A hard link takes the name atomically; on a file system
   * without them (FAT, some network shares) the name is looked at, then renamed to. Until
   * discard(), giveBack() takes the name away again (several files that must all take theirs).
   */
  commitNew(name: string = this.path): boolean {
    this.sync();
    try {
      linkSync(this.tmp, name);
      this.taken = { name, moved: false };
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (!NO_HARD_LINKS.has(code ?? '')) throw this.fail(e);
    }
    try {
      if (lstatSync(name, { throwIfNoEntry: false })) return false;
      renameSync(this.tmp, name);
    } catch (e) {
      throw this.fail(e);
    }
    this.taken = { name, moved: true };
    return true;
  }

  /** The name commitNew() gave, taken away again: the file is back to its temporary name only. */
  giveBack(): void {
    const t = this.taken;
    if (!t) return;
    this.taken = undefined;
    try {
      if (t.moved) renameSync(t.name, this.tmp);
      else unlinkSync(t.name);
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** Unless committed: closed, and no temporary file left behind. Safe to call at any time, again. */
  discard(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // closing is all that is left to do
      }
      this.fd = undefined;
    }
    if (this.renamed || this.taken?.moved) return;
    try {
      unlinkSync(this.tmp);
    } catch {
      // never created, or gone already
    }
  }
}

/**
 * Give the new file the owner of the one it replaces, as `sed -i` does for root: renamed
 * over a `nobody`'s 0640 file, root's own file would lock that owner out of it. Only root
 * (CAP_CHOWN) may give a file away; a user who may write another's file (group-writable,
 * in a folder they may write) cannot. GNU sed then changes the file's owner without a
 * word; here it is refused instead (the old file stays): a committed lockfile quietly
 * becoming someone else's breaks the next `git pull` or `npm install` of its owner, and
 * writing in place instead would give up the atomic replace (a crash leaves half a file).
 * The owner runs --write (or applies the diff) instead.
 */
function keepOwner(fd: number, path: string, owner: { uid: number; gid: number }): void {
  const st = fstatSync(fd);
  if (st.uid === owner.uid && st.gid === owner.gid) return;
  try {
    fchownSync(fd, owner.uid, owner.gid);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MigrateError('ELOCAL', `cannot keep the owner of ${path} (uid ${owner.uid}, gid ${owner.gid}): this user may not give a file away${code ? ` (${code})` : ''}, and replacing it would make it this user's; not written`, {
      cause: e,
      hint: 'run it as the owner of the file (or as root), or apply the diff there',
    });
  }
}

/** The temporary files of writers of `path` that are gone (`<name>.<pid>-<r>.tmp`: kill -9, the machine's power). */
function sweepDeadWritersOf(path: string): void {
  const prefix = `${basename(path)}.`;
  sweepDeadWriters(dirname(path), (name) => {
    const m = name.startsWith(prefix) ? /^(\d+)-[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length)) : null;
    return m ? Number(m[1]) : undefined;
  });
}

/**
 * Removes the file a failed write stream was writing, once the stream is closed. The
 * file is opened on the thread pool: a pipeline that fails at once (a stop already
 * signalled, an input that errors first) rejects before the open, which would create
 * the file after an immediate remove and leave it behind.
 */
export async function removeWhenClosed(out: WriteStream | undefined, path: string): Promise<void> {
  if (out && !out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
  await rm(path, { force: true });
}
