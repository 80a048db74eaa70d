import type { Socket } from 'node:net';

/**
 * A socket's idle timer fires in the event loop's timers phase, before the poll phase that reads
 * what arrived meanwhile: after this process stalled (a long synchronous parse, a GC pause, a CPU
 * shared with other work) it would call a peer silent whose answer already sits unread, or, with
 * an in-process peer (the sandbox), one that has not had a turn to answer yet. So the timeout
 * only starts a confirmation: a short while later, and after the loop has polled twice since
 * (one poll for a peer beside us to answer, one to read it), the socket is cut only if no byte
 * moved either way. A byte that moved re-armed the socket's own idle timer, which starts over.
 */
export function confirmSilence(socket: Socket | null | undefined, idleMs: number, cut: () => void): void {
  if (!socket) return cut();
  const moved = () => socket.bytesRead + socket.bytesWritten;
  const before = moved();
  setTimeout(
    () =>
      setImmediate(() =>
        setImmediate(() => {
          if (!socket.destroyed && moved() === before) cut();
        }),
      ),
    Math.min(1000, idleMs / 4),
  );
}
