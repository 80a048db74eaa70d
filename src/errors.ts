/**
 * Errors with stable codes. Expected outcomes (published, present-identical,
 * conflict, excluded) are values; everything that stops one item is a
 * MigrateError with a code, the package@version it concerns, and what to do.
 */
import { existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { redact } from './redact.js';

export type ErrorCode =
  | 'EINTEGRITY' // source bytes do not match what the source declares
  | 'ENOINTEGRITY' // the source declares no hash at all
  | 'ESOURCEAUTH' // 401/403 from a source registry
  | 'ESOURCENOTFOUND' // 404 from a source registry
  | 'ESOURCE' // any other source failure (5xx, network)
  | 'EBADSOURCE' // a source answered something we cannot use (bad packument, bad tarball)
  | 'ETARGETAUTH' // 401/403 from CodeArtifact
  | 'ETARGETCREDENTIALS' // the AWS credentials stopped being taken during the command (expired, unknown, or none to be had), or this machine's clock too far off AWS's: every request would fail the same way, so it stops
  | 'ETHROTTLED' // 429 / ThrottlingException
  | 'ETARGET' // 5xx or network failure talking to CodeArtifact, a listing whose paging would never end or that names an asset or a version twice, or an answer too large or not complete within its deadline
  | 'ETARGETREJECTED' // CodeArtifact refused the publish (4xx other than auth/conflict/throttle)
  | 'ECONFLICT' // the target holds the version with other bytes
  | 'EVERIFY' // the target does not (yet) show the version as Published/INTERNAL after publishing
  | 'EMISMATCH' // the target's hashes differ from ours after publishing
  | 'EBLOBMISSING' // a fetched blob vanished from state/blobs
  | 'ECONFIG' // bad job file
  | 'ESTATE' // the state database cannot be used
  | 'ELOCKED' // another run of the same job is in progress
  | 'ETARGETSETUP' // the target cannot be used at all: credentials refused, domain or repository missing
  | 'ELEDGERTARGET' // ledger verify --job: the job names a domain where the ledger records none of its migrated versions (another domain's job file): nothing read, nothing verified
  | 'ETARGETCHANGED' // the job names another domain or internal repository than the state records its work in: refused until run with --retarget
  | 'EINTERRUPTED' // the run was stopped by Ctrl-C
  | 'ETOOLARGE' // an artifact, or something read from it, is larger than the job allows, or a git mirror grew past limits.maxMirrorBytes
  | 'ELOCAL' // this machine could not write or read its own files (disk full, read-only, permissions)
  | 'ESOURCEURL' // the source points at bytes somewhere it should not (another host, an unsafe URL)
  | 'EREADONLY' // a read-only run (a plan or a dry run) was asked to write: a bug, refused before any request
  | 'ETARGETSTATUS' // the target holds the version, but not as a usable Published version
  | 'EBUILD' // building a tag's artifacts failed: the command exited non-zero, timed out, or could not start
  | 'EBADBUILD' // the build's output is not what the tag should give: file names, counts, project name, unreadable metadata
  | 'EVERSION' // the tag's version is not PEP 440, or the built artifacts carry another version than the tag
  | 'EUNPROTECTED' // an internal name lacks the origin configuration that keeps public packages out: warming refuses to start
  | 'ELOCKFILE' // a lockfile cannot be read or is malformed: the message names the file and line (or path in it)
  | 'ESOURCEEMPTY' // a source found nothing to migrate: an npm scope its search finds no package in, a git repository none of whose tags matches the pattern
  | 'ENAMECLAIMED' // a git source without `package` names, from its repository, a package another source holds
  | 'EPUBLISHBLOCKED' // the package's origin configuration on the target blocks publishing (kept by harden): nothing is sent
  | 'ESOURCESILENT' // the source answered none of its last downloads in a row (each silent past its idle timeout, or refused before any answer for 20 s): its other versions are not asked for in this run, and a rerun fetches them, or a git clone or fetch was silent past its idle timeout or trickled (slower than six times the idle timeout plus 1 s per 64 KiB)
  | 'ETARGETSILENT' // CodeArtifact answered nothing to requests in a row (each silent past its idle timeout): the peer is stuck, so the run stops and a rerun resumes
  | 'ETARGETUNREACHABLE' // nobody answered at a CodeArtifact host for seconds (connections refused or reset before any answer, no such host, no route): the command stops and a rerun resumes
  | 'EPUBLICREGISTRY' // warm could not ask the public registry whether a package a lockfile resolved from a company registry is the public one: it is not requested through a store
  | 'EPROXYAUTH'; // the HTTP proxy (HTTPS_PROXY/HTTP_PROXY) refused its credentials (407): every request would, so the run stops

export interface MigrateErrorInit {
  /** `name@version` or a package name, when the error concerns one. */
  subject?: string;
  expected?: string;
  actual?: string;
  /** What the user should do about it. */
  hint?: string;
  /** Retry-After the server asked for, in ms. */
  retryAfterMs?: number;
  /** HTTP status, when the error came from one. */
  status?: number;
  cause?: unknown;
}

export class MigrateError extends Error {
  readonly code: ErrorCode;
  readonly subject?: string;
  readonly expected?: string;
  readonly actual?: string;
  readonly hint?: string;
  readonly retryAfterMs?: number;
  readonly status?: number;

  constructor(code: ErrorCode, message: string, init: MigrateErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'MigrateError';
    this.code = code;
    this.subject = init.subject;
    this.expected = init.expected;
    this.actual = init.actual;
    this.hint = init.hint;
    this.retryAfterMs = init.retryAfterMs;
    this.status = init.status;
  }

  /** One line for logs, reports and the `last_error` column. */
  describe(): string {
    const parts = [`${this.code}: ${this.message}`];
    if (this.expected !== undefined) parts.push(`expected ${this.expected}`);
    if (this.actual !== undefined) parts.push(`actual ${this.actual}`);
    if (this.hint) parts.push(this.hint);
    return parts.join('; ');
  }
}

/** Coerce anything thrown into an Error, keeping the original as `cause`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown), { cause: thrown });
}

/** What this machine's file system can refuse, in words: the operator's to fix, not the source's fault, not worth a retry. */
const LOCAL_WHY: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file is larger than this process may write (ulimit -f)',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'a directory is in the way',
  EEXIST: 'a file is in the way',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * A local file-system failure as ELOCAL naming the path and saying what to do; undefined
 * when `thrown` is something else. `anyCode`: whatever failed while writing this file is
 * local (a file in the way, a folder gone), so every error but a MigrateError becomes ELOCAL.
 */
export function localError(thrown: unknown, path: string, doing: string, opts: { hint?: string; anyCode?: boolean } = {}): MigrateError | undefined {
  if (thrown instanceof MigrateError) return opts.anyCode ? thrown : undefined;
  const e = toError(thrown) as NodeJS.ErrnoException;
  const why = e.code ? LOCAL_WHY[e.code] : undefined;
  if (why === undefined && !opts.anyCode) return undefined;
  return new MigrateError('ELOCAL', `cannot ${doing} ${path}: ${why ?? e.message}${e.code ? ` (${e.code})` : ''}`, {
    cause: e,
    hint: opts.hint ?? 'free space or fix permissions under the state directory (or move it with --state-dir), then rerun: nothing was recorded as done',
  });
}

/**
 * A folder of the run's own (a git mirror, a checkout, a build's output folder) that is gone
 * from under it, as the operator's ELOCAL naming it; undefined while every one of `paths` is
 * there. Whatever git or a build said about the missing files (no such repository, a bad
 * object, a failed build) is not the source's fault nor the tag's, and no retry brings it back.
 */
export function vanishedError(thrown: unknown, subject: string, paths: readonly { path: string; what: string }[]): MigrateError | undefined {
  const gone = paths.find((p) => !existsSync(p.path));
  if (!gone) return undefined;
  return new MigrateError('ELOCAL', `${subject}: ${gone.what} ${gone.path} was deleted while this run used it: stopped`, {
    subject,
    cause: thrown,
    hint: 'leave the state directory alone while a job runs, then rerun: what went is made again (a mirror cloned, a version built, its files uploaded once)',
  });
}

/**
 * What reached the engine unwrapped, as a coded error: a file-system call's failure (it
 * names a path, as no network error does) is this machine's ELOCAL naming that path, never
 * blamed on the target; anything else is taken for a failure talking to CodeArtifact.
 */
export function unexpectedError(thrown: unknown): MigrateError {
  if (thrown instanceof MigrateError) return thrown;
  return fileSystemError(thrown, { starts: true }) ?? new MigrateError('ETARGET', toError(thrown).message, { cause: thrown });
}

/**
 * A file-system call's failure (it names a path, as no network error does) as this machine's
 * ELOCAL naming that path; undefined for anything else. A process that could not start (a
 * spawn's ENOENT names its command as the path) counts only with `starts`: where the caller
 * reads such failures itself (git's, whose own words say more), they are not taken for a file's.
 */
export function fileSystemError(thrown: unknown, opts: { starts?: boolean } = {}): MigrateError | undefined {
  if (thrown instanceof MigrateError) return undefined;
  const e = toError(thrown) as NodeJS.ErrnoException;
  if (typeof e.path !== 'string' || !e.syscall || (!opts.starts && e.syscall.startsWith('spawn'))) return undefined;
  return localError(e, e.path, e.syscall, { anyCode: true });
}

/**
 * What another program (git, a build) says when a write of its failed for want of room: the
 * strerror() texts of ENOSPC, EDQUOT and EFBIG, and node's own codes (npm prints those).
 * Read-only and permission errors are not here: a build's sandbox makes most of the disk
 * read-only on purpose, and a build writing there is the tag's fault.
 */
export const DISK_FULL = /No space left on device|Disk quota exceeded|File too large|\bE(NOSPC|DQUOT|FBIG)\b/i;

/**
 * A program that stopped because this machine's disk is full (or past a quota or a file-size
 * limit) as ELOCAL naming `path`, the folder it wrote in; undefined when it stopped for another
 * reason. `output`: what it said (its closing words decide: lastWordsOnDisk); `signal`: what ended it, if one did (SIGXFSZ: a write past
 * RLIMIT_FSIZE, by a program that does not ignore it, as git does not). A full disk is not the
 * source's fault nor the tag's, does not fix itself, and fails every later write alike: the
 * run stops, and a rerun with room again resumes.
 */
export function diskFullError(output: string, signal: string | null | undefined, path: string, doing: string, subject?: string): MigrateError | undefined {
  const said = lastWordsOnDisk(output, path);
  if (signal !== 'SIGXFSZ' && said === undefined) return undefined;
  // redacted before it is cut: a credential URL or a secret the cut halves is no longer recognised as one
  const why = signal === 'SIGXFSZ' ? `it was killed by SIGXFSZ (${LOCAL_WHY.EFBIG})` : redact(said!).slice(0, 300);
  return new MigrateError('ELOCAL', `${subject ? `${subject}: ` : ''}cannot ${doing} ${path}: ${why}`, {
    ...(subject ? { subject } : {}),
    cause: new Error(output.slice(-2000)),
    hint: 'free space under the state directory (or move it with --state-dir), then rerun: nothing was recorded as done',
  });
}

/** How many of a program's last non-empty lines are its own closing words (npm's ENOSPC report is 7, Python's traceback and build's verdict 3). */
const LAST_WORDS = 10;
/** Less room than this on the folder's file system now is a full disk, whatever else the program printed after saying so. */
const LOW_ROOM_BYTES = 64 * 1024 * 1024;

/**
 * The line in which a program that failed said its write found no room, or undefined. Only
 * its closing words count: a build runs tests and scripts that may print the words for other
 * reasons (a test of ENOSPC handling, a quoted changelog) and then fail on an assertion, which
 * is the tag's fault, not this machine's. A mention further up counts only when the folder's
 * file system has (almost) no room left now (statfs): the evidence is then the disk itself.
 */
function lastWordsOnDisk(output: string, path: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const closing = lines.slice(-LAST_WORDS).find((l) => DISK_FULL.test(l));
  if (closing !== undefined) return closing;
  const earlier = lines.find((l) => DISK_FULL.test(l));
  return earlier !== undefined && lowOnRoom(path) ? earlier : undefined;
}

/** Whether the file system holding `path` (or its nearest existing parent) has less than LOW_ROOM_BYTES free for this user. */
export function lowOnRoom(path: string): boolean {
  for (let p = path; ; p = dirname(p)) {
    try {
      const st = statfsSync(p);
      return st.bavail * st.bsize < LOW_ROOM_BYTES;
    } catch {
      if (dirname(p) === p) return false;
    }
  }
}

/**
 * HTTP 407: the proxy in HTTPS_PROXY / HTTP_PROXY refused the user and password it was
 * given (or wants some). Every request goes through the same proxy, so nothing is retried
 * and a run stops at once; the proxy's URL (which holds the password) is never shown.
 */
export function proxyAuthError(where: string, cause?: unknown): MigrateError {
  return new MigrateError('EPROXYAUTH', `${where}: the HTTP proxy refused its credentials (HTTP 407)`, {
    status: 407,
    cause,
    hint: 'check the user and password in HTTPS_PROXY / HTTP_PROXY (a password with special characters must be percent-encoded), or NO_PROXY for hosts reached directly; then rerun',
  });
}

/**
 * `peer` (the CodeArtifact API, or a repository endpoint) answered none of `silentInARow`
 * requests in a row, each cut off after `idleMs` of silence: it, or the way to it, is stuck. Going on would hold
 * the run for versions x retries x the idle timeout, so it stops; the rows say where
 * each version stood, and a rerun resumes.
 */
export function targetSilentError(peer: string, silentInARow: number, idleMs: number): MigrateError {
  return new MigrateError('ETARGETSILENT', `${peer} answered none of the last ${silentInARow} requests whole (each cut off after ${idleMs / 1000} s of silence, or at its deadline while trickling): it, or the network path to it, is stuck; stopped`, {
    hint: 'check the way to CodeArtifact (proxy, VPC endpoint, firewall) and the AWS Health Dashboard, then rerun: it resumes where this run stopped. target.idleTimeoutSeconds is how long a request may stay silent',
  });
}

/**
 * Nobody answered at `peer` for `forMs`: its requests in a row all failed before any answer
 * (`why`: the last failure as the system said it, ECONNREFUSED and the address, say). Every
 * version would wait out its retries the same way, so it stops; a rerun resumes.
 */
export function targetUnreachableError(peer: string, why: string, forMs: number): MigrateError {
  return new MigrateError('ETARGETUNREACHABLE', `nothing answers at ${peer}: every request to it for ${Math.round(forMs / 100) / 10} s failed before any answer (${why}); stopped`, {
    hint: 'check which CodeArtifact endpoint this machine uses (AWS_ENDPOINT_URL_CODEARTIFACT or AWS_ENDPOINT_URL when set, else target.region), HTTPS_PROXY and NO_PROXY, DNS, and the VPC endpoint or firewall on the way; then rerun: it resumes where this run stopped',
  });
}

/** The source refused its last downloads (`row`: how many, of which packages): its token most likely stopped working, and its other versions are not asked for in this run. */
export function sourceRefusedError(subject: string, source: string, row: string): MigrateError {
  return new MigrateError('ESOURCEAUTH', `${subject}: source "${source}" refused its last downloads, ${row}: not asked again in this run`, {
    subject,
    hint: 'its token was most likely revoked or expired during the run (or lost read access): renew the token in the source\'s tokenEnv, then rerun: these versions are fetched then',
  });
}

/** The source answered none of its last `silentInARow` downloads: its other versions are not asked for in this run. */
export function sourceSilentError(subject: string, source: string, silentInARow: number, idleMs: number): MigrateError {
  return new MigrateError('ESOURCESILENT', `${subject}: source "${source}" answered none of its last ${silentInARow} downloads (each cut off after ${idleMs / 1000} s of silence): not asked again in this run`, {
    subject,
    hint: 'check the registry (or the proxy or firewall on the way to it), then rerun: these versions are fetched then. The source\'s idleTimeoutSeconds is how long a download may stay silent',
  });
}

/** Nobody answered at the source's downloads for `forMs` (`why`: what the system said of the last): its other versions are not asked for in this run. */
export function sourceUnreachableError(subject: string, source: string, why: string, forMs: number): MigrateError {
  return new MigrateError('ESOURCESILENT', `${subject}: nothing answers at source "${source}": every download from it for ${(forMs / 1000).toFixed(1)} s failed before any answer (${why}): not asked again in this run`, {
    subject,
    hint: 'check the registry is up and this machine reaches it (DNS, HTTPS_PROXY and NO_PROXY, the firewall), then rerun: these versions are fetched then',
  });
}
