import type { Socket } from 'node:net';

/**
 * An idle timer fires in the event loop's timers phase, before the poll phase that reads what
 * arrived meanwhile: after this process stalled (a long synchronous parse, a GC pause, a CPU
 * shared with other work) it would call a peer silent whose answer already sits unread, or, with
 * an in-process peer (the sandbox), one that has not had a turn to answer yet. So an idle timeout
 * only starts a confirmation: a short while later, and after the loop has polled twice since
 * (one poll for a peer beside us to answer, one to read it), `cut` runs only if `activity` (a
 * count of what came and went) has not moved. What moved re-armed the caller's idle timer, which
 * starts over (or `moved` re-arms it, where what moved is not what re-arms it).
 */
export function confirmQuiet(activity: () => number, idleMs: number, cut: () => void, moved?: () => void): void {
  const before = activity();
  setTimeout(
    () =>
      setImmediate(() =>
        setImmediate(() => {
          if (activity() === before) cut();
          else moved?.();
        }),
      ),
    Math.min(1000, idleMs / 4),
  );
}

/** confirmQuiet for a socket's idle timeout: no byte read or written meanwhile, and the socket still open. */
export function confirmSilence(socket: Socket | null | undefined, idleMs: number, cut: () => void): void {
  if (!socket) return cut();
  confirmQuiet(
    () => socket.bytesRead + socket.bytesWritten,
    idleMs,
    () => {
      if (!socket.destroyed) cut();
    },
  );
}
