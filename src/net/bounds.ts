/**
 * The bounds of one request to CodeArtifact, beyond its idle timeout: how much of an answer
 * is read, and how long the whole exchange may take. The idle timeout counts silence only,
 * so an answer that never ends, or trickles in (a byte every few seconds), would otherwise
 * hold a version (and the memory its bytes fill) for ever. Real answers are far inside
 * these bounds; only a broken or hostile peer on the way (a proxy, a gateway) reaches them.
 */

/**
 * An answer beyond the request's bounds: larger than its byte limit, or not complete within
 * its deadline. The connection is cut.
 */
export class ResponseLimitError extends Error {
  constructor(
    message: string,
    /** Which bound: the answer's size, or the exchange's deadline. */
    readonly limit: 'bytes' | 'deadline',
  ) {
    super(message);
    this.name = 'ResponseLimitError';
  }
}

/** The slowest upload still taken for working (bytes per second): an upload gets this much more time for its size. */
const SLOWEST_UPLOAD_BYTES_PER_S = 256 * 1024;

/**
 * How long one request to CodeArtifact (the API or a repository endpoint) may take, whole:
 * twice its idle timeout (target.idleTimeoutSeconds), plus time for the body it uploads at
 * the slowest rate we still call working. A real answer (a page of a listing, a packument)
 * arrives in seconds; a slow service has room, a trickle is cut off.
 */
export function requestDeadlineMs(idleMs: number, uploadBytes = 0): number {
  return 2 * idleMs + Math.ceil((uploadBytes / SLOWEST_UPLOAD_BYTES_PER_S) * 1000);
}

/** What to do about an upload cut at its deadline: a link slower than SLOWEST_UPLOAD_BYTES_PER_S fails so every time. */
export function slowUploadHint(deadlineMs: number): string {
  return `an upload must be complete within twice target.idleTimeoutSeconds plus 1 s per 256 KiB (${Math.round(deadlineMs / 1000)} s here): on a link slower than that, raise target.idleTimeoutSeconds and rerun`;
}

/**
 * The signal for a one-off SDK call at the start of a command (STS GetCallerIdentity, Service
 * Quotas): cut off by the command's stop, and at `deadlineMs` whatever happens, since an
 * answer that trickles never meets the idle timeout and would hold the command for ever.
 */
export function oneOffSignal(deadlineMs: number, signal?: AbortSignal): AbortSignal {
  const deadline = AbortSignal.timeout(deadlineMs);
  return signal ? AbortSignal.any([signal, deadline]) : deadline;
}

/**
 * How long a one-off call at the start of a command may take, whole: STS and Service Quotas
 * answer a few hundred bytes in well under a second; one that accepts the connection and says
 * nothing would otherwise hold the command before it has done anything.
 */
export const ONE_OFF_DEADLINE_MS = 60_000;

/**
 * A one-off call's error in words: cut off at its deadline (not by the command's stop), it
 * names the endpoint that did not answer, which the SDK's own "Request aborted" does not.
 */
export function oneOffError(e: Error, what: string, endpoint: string, deadlineMs: number, signal?: AbortSignal): string {
  if (e.name === 'AbortError' && !signal?.aborted) return `${what} at ${endpoint} did not answer within ${deadlineMs / 1000} s`;
  return `${e.name}: ${e.message}`;
}
