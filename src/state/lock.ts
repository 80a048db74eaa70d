/**
 * One run per job at a time, held by the operating system. The lock is an
 * open exclusive SQLite transaction on `<job>.lock.db` (SQLite takes it with
 * POSIX advisory locks, https://www.sqlite.org/lockingv3.html). The kernel
 * drops it when the holder dies in any way (kill -9, a crash, a power cut),
 * so there is no stale lock to take over and no race in taking one over, and
 * `release()` can only release the holder's own.
 *
 * Who holds it is written beside it in `<job>.lock.owner` (pid, host, start)
 * for the message a second run prints; that file is information, not the lock.
 *
 * `acquireJobLock` takes two: the state directory's, and one per job and
 * target for every state directory of this user on this machine (in
 * CAM_LOCK_DIR, else $XDG_STATE_HOME/codeartifact-migrate): the same job run
 * with another --state-dir would publish every version a second time. Not in
 * $XDG_RUNTIME_DIR or the temp folder: cron, sudo and an ssh login without a
 * session set no XDG_RUNTIME_DIR (and TMPDIR may differ), so a run from cron and
 * one from a terminal took their locks in two folders and both published.
 * `<job>-<key>-<repositories>.statedir`, beside the locks, records the state
 * directory the job last ran from: a later run from another folder that holds no
 * state yet (another working directory, a mistyped --state-dir) is refused, naming
 * the folder that holds the migration, instead of starting it again. It outlives a
 * reboot (a migration takes days); the locks are the kernel's and go with their holders.
 * Another user or machine running the job is not detected: see the README.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, hostname, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { localError, lowOnRoom, MigrateError, toError } from '../errors.js';
import { danglingLinkOn, makeFolder } from '../make-folder.js';
import { isAlive } from '../alive.js';
import { shellWord } from '../shell-word.js';

interface Owner {
  pid: number;
  host: string;
  startedAt: string;
  token: string;
  /** The holder's state directory (the per-target lock only). */
  stateDir?: string;
  /** What the holder is doing (`run`, `warm`, ...): a contender says so, not "another run". */
  command?: string;
}

/** What names a job's target: the same job against another domain (or another endpoint) is other work. */
export interface LockedJob {
  name: string;
  config: { target: { region: string; domain: string; domainOwner: string; repositories?: Partial<Record<string, { internal?: string } | undefined>> } };
}

/**
 * The state directory, made if missing, for this account alone (0700: its blobs and git
 * mirrors hold every internal package's bytes; a folder the operator made keeps its mode):
 * a file in its place (a --state-dir that names one), or a folder this user cannot write,
 * is ELOCAL naming it, before anything is read.
 */
function createStateDir(stateDir: string): void {
  try {
    makeFolder(stateDir, 0o700);
  } catch (e) {
    throw localError(e, stateDir, 'create the state directory', {
      anyCode: true,
      hint: '--state-dir (or CAM_STATE_DIR) names the folder that holds the state database and blobs: give a directory this user can write, then rerun',
    })!;
  }
}

/**
 * Both locks of a job, the per-target one first, then the state directory's (the directory made if missing);
 * throws ELOCKED (naming the holder and its state directory) while another process
 * holds either. Returns the release function (idempotent).
 */
export function acquireJobLock(stateDir: string, job: LockedJob, env: NodeJS.ProcessEnv = process.env, command = 'run'): () => void {
  const here = resolve(stateDir);
  // before anything is made here: a mistyped --state-dir leaves no folder behind
  const last = lastStateDir(job, env);
  if (last !== undefined && last !== here && !existsSync(join(here, `${job.name}.sqlite`)) && holdsMigration(join(last, `${job.name}.sqlite`))) {
    // a copy running there right now is the better answer (ELOCKED names it)
    acquireLock(join(lockDir(env), targetLockName(job, env)), { stateDir: here, command })();
    throw stateElsewhere(job, here, last);
  }
  // the per-target lock before the state directory is made: a copy refused because the job runs
  // from another folder (a second working directory, a mistyped --state-dir) leaves no folder there
  const releaseTarget = acquireLock(join(lockDir(env), targetLockName(job, env)), { stateDir: here, command });
  let releaseState: () => void;
  try {
    createStateDir(stateDir);
    releaseState = acquireLock(join(stateDir, job.name), { command });
  } catch (e) {
    releaseTarget();
    throw e;
  }
  try {
    let partial: string | undefined;
    try {
      const dir = recordDirPath(env);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const record = stateRecordPath(dir, job, env);
      partial = `${record}.${process.pid}`;
      writeFileSync(partial, JSON.stringify({ stateDir: here, at: new Date().toISOString() }));
      renameSync(partial, record);
    } catch {
      // a hint for later runs, not the lock; a half-written one (a full disk) is not left beside it
      try {
        if (partial) rmSync(partial, { force: true });
      } catch {
        // nothing more to do about a hint
      }
    }
    return () => {
      try {
        releaseTarget();
      } finally {
        releaseState();
      }
    };
  } catch (e) {
    try {
      releaseState();
    } finally {
      releaseTarget();
    }
    throw e;
  }
}

/**
 * Whether a state database holds anything of a migration: a version past its listing
 * (downloaded, built, published, checked against the target) or a ledger entry (a publish,
 * an origin change, a warm result). A first try that stopped before (its AWS credentials
 * refused, from a mistyped --state-dir) listed versions and no more: nothing would be
 * done twice from another folder, so it does not hold the job there. In doubt (a database
 * that cannot be read), it does.
 */
function holdsMigration(database: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(database, { readonly: true, fileMustExist: true });
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name));
    const past = tables.has('items') && db.prepare("SELECT 1 FROM items WHERE state NOT IN ('pending', 'excluded', 'skipped', 'removed') LIMIT 1").get() !== undefined;
    const ledgered = tables.has('ledger') && db.prepare('SELECT 1 FROM ledger LIMIT 1').get() !== undefined;
    return past || ledgered;
  } catch {
    return true;
  } finally {
    db?.close();
  }
}

/** The per-target lock's name: one per job name, region, domain owner, domain and CodeArtifact endpoint. */
function targetLockName(job: LockedJob, env: NodeJS.ProcessEnv): string {
  const { region, domain, domainOwner } = job.config.target;
  const endpoint = env.AWS_ENDPOINT_URL_CODEARTIFACT ?? env.AWS_ENDPOINT_URL ?? '';
  return `${job.name}-${createHash('sha256').update(JSON.stringify([job.name, region, domainOwner, domain, endpoint])).digest('hex').slice(0, 16)}`;
}

/**
 * Where the state directory a job last ran from is recorded: per target as the lock, and
 * per internal repository too, since two job files of one name into two repositories of
 * one domain are two migrations, each with its own state (as ETARGETCHANGED's hint says).
 */
function stateRecordPath(dir: string, job: LockedJob, env: NodeJS.ProcessEnv): string {
  const repositories = Object.entries(job.config.target.repositories ?? {})
    .map(([format, r]) => [format, r?.internal ?? null])
    .sort(([a], [b]) => String(a).localeCompare(String(b)));
  return join(dir, `${targetLockName(job, env)}-${createHash('sha256').update(JSON.stringify(repositories)).digest('hex').slice(0, 8)}.statedir`);
}

/**
 * The state directory this job (against its target) last ran from on this machine, while
 * it still holds the job's state database; undefined when none is recorded, or it moved
 * away since. Reads only: nothing is made (status and report ask it too).
 */
export function lastStateDir(job: LockedJob, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const dir = recordDirPath(env);
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (!env.CAM_LOCK_DIR && uid !== undefined && st.uid !== uid)) return undefined;
    const recorded = (JSON.parse(readFileSync(stateRecordPath(dir, job, env), 'utf8')) as { stateDir?: unknown }).stateDir;
    return typeof recorded === 'string' && existsSync(join(recorded, `${job.name}.sqlite`)) ? recorded : undefined;
  } catch {
    return undefined;
  }
}

function stateElsewhere(job: LockedJob, here: string, last: string): MigrateError {
  return new MigrateError('ESTATE', `job "${job.name}" (domain ${job.config.target.domain}) last ran on this machine from the state directory ${last}, which holds its state; ${here} holds none: a run from here would be a second migration of the same job (every version downloaded and checked again, and its provenance ledger kept apart from the first)`, {
    hint: `to go on with the migration, pass --state-dir ${shellWord(last)} (or set CAM_STATE_DIR), or run from the folder you ran it from; to start a separate state here on purpose, move the old state directory aside first (its ledger stays in it)`,
  });
}

/**
 * ESTATE for a command that reads a job's state where there is none: with the state
 * directory the job last ran from on this machine, when another one holds it.
 */
export function noStateError(job: LockedJob, stateDir: string, hint: string, env: NodeJS.ProcessEnv = process.env): MigrateError {
  const last = lastStateDir(job, env);
  const elsewhere = last !== undefined && last !== resolve(stateDir);
  return new MigrateError('ESTATE', `no state for job "${job.name}" at ${join(stateDir, `${job.name}.sqlite`)}${elsewhere ? `; it last ran on this machine from ${last}` : ''}`, {
    hint: elsewhere ? `pass --state-dir ${shellWord(last)} (or set CAM_STATE_DIR)` : hint,
  });
}

/** The job's state database in `stateDir`, for a command that only reads it; noStateError when there is none (nothing is made). */
export function existingState(job: LockedJob, stateDir: string, hint: string, env: NodeJS.ProcessEnv = process.env): string {
  const database = join(stateDir, `${job.name}.sqlite`);
  try {
    statSync(database);
  } catch (e) {
    // a state this user may not read is not "no state": existsSync says false for both
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      // a state directory on a disk not mounted now has its state, not none: "run it first" would start a new one
      const link = danglingLinkOn(stateDir);
      if (link) {
        throw new MigrateError('ESTATE', `the state directory ${stateDir} leads through ${link.at}, a link to ${link.to}, which is not there (its disk not mounted?): its state cannot be read`, {
          hint: `mount or restore what the link points to, then rerun; or pass the --state-dir that holds the job's state`,
        });
      }
      throw noStateError(job, stateDir, hint, env);
    }
    throw new MigrateError('ESTATE', `cannot read the state database ${database}: ${toError(e).message}`, {
      hint: 'run as the user that owns the state directory, or give this user read and write access to it',
    });
  }
  return database;
}

/**
 * Where the per-target locks and the state directory records live (see stateRecordPath):
 * CAM_LOCK_DIR, else $XDG_STATE_HOME (~/.local/state)/codeartifact-migrate: one folder for
 * this user whatever the session (a terminal, cron, sudo), as the home is.
 */
function recordDirPath(env: NodeJS.ProcessEnv): string {
  return env.CAM_LOCK_DIR || join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'codeartifact-migrate');
}

/**
 * Whether `path` (its folder's links already followed) is a file of the locks: a job's lock and
 * owner file in `stateDir`, or anything of the same kinds in the per-target lock folder. The
 * lock database holds no table (an empty file, no SQLite header): a file written over it (a
 * ledger export) left the job's every later run "cannot take the lock: file is not a database".
 */
export function isLockFile(path: string, stateDir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!/\.(lock|lock\.db|lock\.owner|statedir)(-journal|-wal|-shm)?$/.test(basename(path))) return false;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return [stateDir, recordDirPath(env)].some((folder) => real(folder) === dirname(path));
}

/**
 * Where the per-target locks live (recordDirPath), made if missing. One that is not a folder
 * of this user's own (a link planted there) is refused: whoever owns it could hold our lock
 * or fake its owner. A home that cannot hold it (none, read-only, a file in the way: a
 * service account's, a container's) leaves the locks where they were before they moved
 * there, a folder of this user's own under $XDG_RUNTIME_DIR or the temp folder: runs from one
 * session still exclude each other, and the job runs at all.
 */
function lockDir(env: NodeJS.ProcessEnv): string {
  const dir = recordDirPath(env);
  try {
    return ownFolder(dir, !env.CAM_LOCK_DIR);
  } catch (e) {
    if (e instanceof MigrateError || env.CAM_LOCK_DIR) throw e;
    try {
      return ownFolder(join(env.XDG_RUNTIME_DIR || tmpdir(), `codeartifact-migrate-${process.getuid?.() ?? 'user'}`), true);
    } catch (fallback) {
      if (fallback instanceof MigrateError) throw fallback;
      throw new MigrateError('ESTATE', `cannot make the lock folder ${dir}: ${toError(e).message}`, { cause: e, hint: 'set CAM_LOCK_DIR to a local folder you can write' });
    }
  }
}

/** `dir`, made if missing (mode 0700); ESTATE when it is no folder, or (`owned`) another user's. File-system failures are thrown as they are. */
function ownFolder(dir: string, owned: boolean): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (owned && uid !== undefined && st.uid !== uid)) {
    throw new MigrateError('ESTATE', `the lock folder ${dir} is not a folder of this user's own`, { hint: 'remove it, or set CAM_LOCK_DIR to a local folder of your own' });
  }
  return dir;
}

/** How long taking a lock waits out another contender's momentary shared step (a holder keeps it far longer). */
const LOCK_STEP_MS = 250;

/**
 * Take the lock `<base>.lock.db` (base: `state/<job>`); throws ELOCKED while
 * another process holds it. Returns the release function (idempotent).
 */
export function acquireLock(base: string, info: { stateDir?: string; command?: string } = {}): () => void {
  const dbPath = `${base}.lock.db`;
  const ownerPath = `${base}.lock.owner`;
  refuseLegacyLock(`${base}.lock`);
  let db: Database.Database;
  try {
    // A held lock is an answer, not something to wait for; but the exclusive lock is reached through
    // a shared one, and two contenders at the same instant each held the step the other needed gone:
    // with no wait at all both were refused, and neither ran. SQLite refuses at once the one whose
    // wait could deadlock and lets the other wait out the first's step (LOCK_STEP_MS at most).
    db = new Database(dbPath, { timeout: LOCK_STEP_MS });
  } catch (e) {
    throw lockFull(e, dbPath, 'open') ?? new MigrateError('ESTATE', `cannot open the lock ${dbPath}: ${toError(e).message}`, { cause: e, hint: 'check the state directory exists and is writable' });
  }
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db.close();
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw locked(dbPath, holder(ownerPath), info.stateDir);
    throw lockFull(e, dbPath, 'take') ?? new MigrateError('ESTATE', `cannot take the lock ${dbPath}: ${toError(e).message}`, { cause: e, hint: 'check the state directory is writable' });
  }
  const me: Owner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: Math.random().toString(36).slice(2), ...info };
  try {
    writeFileSync(`${ownerPath}.${process.pid}`, JSON.stringify(me));
    renameSync(`${ownerPath}.${process.pid}`, ownerPath);
  } catch {
    // informational only: the lock is held either way (a folder in the owner file's place leaves the temporary one, removed)
    rmSync(`${ownerPath}.${process.pid}`, { force: true });
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    // the owner file first, while still holding the lock: nobody else can have written it yet
    try {
      if (readOwner(ownerPath)?.token === me.token) rmSync(ownerPath, { force: true });
    } catch {
      // informational, as its writing is: a state directory gone read-only under the run keeps it (the next
      // holder writes its own over it, and a holder's pid is checked before it is named), and the run's own
      // error, not an uncoded EROFS from here, is what the operator reads
    }
    try {
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  };
}

/**
 * The lock refused for want of room: taking it writes (BEGIN EXCLUSIVE makes SQLite's journal,
 * even for an empty lock database), so a full disk answers SQLITE_FULL, or an I/O error or a
 * file that cannot be made (SQLITE_CANTOPEN) on a disk with (almost) no room left. That is
 * this machine's disk (ELOCAL), not a state that cannot be used (ESTATE): the per-target lock
 * is not even in the state directory.
 */
function lockFull(thrown: unknown, dbPath: string, doing: 'open' | 'take'): MigrateError | undefined {
  const e = toError(thrown) as Error & { code?: string };
  const full = e.code === 'SQLITE_FULL' || ((e.code?.startsWith('SQLITE_IOERR') || e.code === 'SQLITE_CANTOPEN') && lowOnRoom(dirname(dbPath)));
  if (!full) return undefined;
  return new MigrateError('ELOCAL', `cannot ${doing} the lock ${dbPath}: no space left on its disk (${e.message}, ${e.code})`, {
    cause: e,
    hint: `free space on the disk holding ${dirname(dbPath)}, then rerun: nothing was done`,
  });
}

/**
 * Who is running the job from this state directory right now, as its lock's owner file says,
 * without touching the lock (a probe of it could make a run starting that instant take it
 * for held). The file outlives a holder killed -9: a process of that pid on this host that is
 * gone, or is no codeartifact-migrate (the pid reused), runs nothing. One on another host (a
 * shared folder) cannot be checked, and is named as it is.
 */
export function jobInProgress(stateDir: string, jobName: string): { pid: number; host: string; startedAt: string; command?: string } | undefined {
  const o = readOwner(`${join(stateDir, jobName)}.lock.owner`);
  if (!o || (o.host === hostname() && !(isAlive(o.pid) && mayBeUs(o.pid)))) return undefined;
  const command = typeof o.command === 'string' && /^[a-z-]{1,40}$/.test(o.command) ? o.command : undefined;
  return { pid: o.pid, host: String(o.host), startedAt: String(o.startedAt), ...(command ? { command } : {}) };
}

function locked(path: string, owner: Owner | undefined, stateDir?: string): MigrateError {
  const who = owner ? `pid ${owner.pid} on ${owner.host}, started ${owner.startedAt}${owner.stateDir ? `, state directory ${owner.stateDir}` : ''}` : 'another process';
  const what = owner?.command && /^[a-z-]{1,40}$/.test(owner.command) ? `a \`${owner.command}\`` : 'another run';
  return new MigrateError('ELOCKED', `${what} of this job is in progress (${who}; lock ${path})`, {
    hint: owner?.stateDir && owner.stateDir !== stateDir
      ? 'it works on the same target from another state directory: wait for it to finish or stop it (Ctrl-C), and run the job from one state directory'
      : 'wait for it to finish, or stop it (Ctrl-C); the lock is released by the system when that process ends',
  });
}

/**
 * Who holds the lock, as its owner file says. The holder writes that file just after
 * taking the lock, so a contender can find none yet, or the one a holder killed -9 left:
 * it is read again for up to OWNER_WAIT_MS until it names a live process (or one on
 * another host, which cannot be checked). Undefined when it never does.
 */
function holder(path: string): Owner | undefined {
  const live = (o: Owner | undefined) => o !== undefined && (o.host !== hostname() || isAlive(o.pid));
  let owner = readOwner(path);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; !live(owner) && waited < OWNER_WAIT_MS; waited += 10) {
    Atomics.wait(nap, 0, 0, 10);
    owner = readOwner(path);
  }
  return live(owner) ? owner : undefined;
}

const OWNER_WAIT_MS = 500;

function readOwner(path: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Owner;
    return typeof o?.pid === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a live pid could be a codeartifact-migrate (`cam`, `codeartifact-migrate`, or node
 * running its cli/main): a pid file outlives its process, and the pid comes back for another
 * (a `sleep`, a shell), which would lock the job for good. Where /proc cannot say (not Linux,
 * another user's process hidden), it may be.
 */
function mayBeUs(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return true;
  }
  return cmdline === '' || /codeartifact-migrate|(^|[/ ])cam( |$)|cli\/main\.[jt]s/.test(cmdline);
}

/**
 * Releases before 0.2 locked with a pid file `<job>.lock`. A live process
 * named in one is an old version still running that job: refuse. A dead
 * one's file is removed, and so is one whose pid now belongs to another program.
 */
function refuseLegacyLock(path: string): void {
  if (!existsSync(path)) return;
  let text: string;
  try {
    // a folder there (or a file this user may not read) is no pid file to judge, and not ours to remove
    if (!statSync(path).isFile()) throw new Error('not a regular file');
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MigrateError('ESTATE', `cannot read ${path}, where releases before 0.2 kept their lock: ${toError(e).message}`, {
      cause: e,
      hint: 'nothing of this tool is a folder (or an unreadable file) of that name: move it away, then rerun',
    });
  }
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid) && mayBeUs(pid)) {
    throw new MigrateError('ELOCKED', `an older codeartifact-migrate (pid ${pid}) is running this job (lock ${path})`, { hint: 'wait for it to finish, or stop it' });
  }
  rmSync(path, { force: true });
}
