/**
 * The Go proxy's HTTP server and its connections: a request head must be complete within
 * headTimeoutMs (else a 408 and the connection closed), and past maxConnections open
 * connections a request is answered 503. Which requests are answered how is handler.ts's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { text } from './reply.js';

/**
 * A request head not complete after this long is a 408 and the connection is closed. go
 * writes its head in one go (a few hundred bytes); Node's own bound is 60 s, checked only
 * every 30 s, so a client trickling a header a byte at a time would hold its connection
 * (and a file descriptor) for up to 90 s, and a few hundred such would take every one.
 */
export const DEFAULT_HEAD_TIMEOUT_MS = 10_000;
/**
 * Connections open at once. Each costs a file descriptor (Linux's usual limit is 1024 per
 * process, shared with the SDK's connections to CodeArtifact) and some memory; nothing else
 * bounds how many a client may open, and an idle keep-alive connection or a download that
 * waits for a slot holds one for up to a minute. One go command opens about as many as the
 * machine has cores (its downloads run GOMAXPROCS at a time), so this is room for several
 * go commands at once; a proxy shared with --allow-remote may need more (--max-connections).
 */
export const DEFAULT_MAX_CONNECTIONS = 256;
/**
 * Requests a connection may have in flight at once. HTTP/1.1 lets a client send requests
 * without waiting for the answers (pipelining); Node hands each to the handler as soon as it
 * is parsed and pauses the connection only once its queued answers pass 16 KiB, so while
 * CodeArtifact is slow nothing holds them back: one connection sending a few megabytes of
 * requests would start thousands of CodeArtifact calls at once, take all 50 of the SDK's
 * connections, queue every other client's request behind them (504s) and grow the heap by a
 * gigabyte, past any --max-connections. go never pipelines (one request per connection at a
 * time); a connection past this is closed, and everything it asked is dropped.
 */
export const MAX_PIPELINED = 8;

export interface ConnectionLimits {
  headTimeoutMs: number;
  maxConnections: number;
}

export interface GoProxyServer {
  /** Not yet listening: the caller listens, and words a failure to in terms of its own options. */
  server: Server;
  /** Stop taking connections and cut off the open ones; resolves once the server is closed. */
  closeAll(): Promise<void>;
}

/** A server that hands each request within the limits to `handle` (a rejection destroys the response). */
export function createGoProxyServer(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, { headTimeoutMs, maxConnections }: ConnectionLimits, onError: (line: string) => void): GoProxyServer {
  // Connections past maxConnections: their request is answered 503 and the connection closed.
  // Not refused unanswered (Node's server.maxConnections): go would say only "connection reset"
  // or EOF. Not answered before the request either: go takes bytes that come before it has
  // sent its request for a broken connection ("Unsolicited response received on idle HTTP channel").
  const admitted = new Set<Socket>();
  const pastCap = new WeakSet<Socket>();
  let saidFull = false;
  const inFlight = new WeakMap<Socket, number>();
  const server = createServer(
    {
      // the proxy takes no request body (GET, HEAD): a complete request is its head
      headersTimeout: headTimeoutMs,
      requestTimeout: headTimeoutMs,
      // how often Node looks for heads past their time: a quarter of it, so one is cut off within 1.25 times the bound
      connectionsCheckingInterval: Math.max(100, Math.floor(headTimeoutMs / 4)),
    },
    (req, res) => {
      const socket = req.socket;
      // requests Node parsed from the same chunk after the connection was closed below
      if (socket.destroyed) return res.destroy();
      const n = (inFlight.get(socket) ?? 0) + 1;
      if (n > MAX_PIPELINED) {
        socket.destroy();
        return;
      }
      inFlight.set(socket, n);
      res.once('close', () => inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1));
      if (pastCap.has(req.socket)) {
        // said once each time the proxy fills up: a flood of connections is not a flood of lines
        if (!saidFull) onError(`EBUSY: ${maxConnections} connections open; requests on new ones are answered 503 until some close (--max-connections)`);
        saidFull = true;
        res.shouldKeepAlive = false;
        return text(res, 503, `busy: ${maxConnections} connections open to this proxy: try again in a moment\n`, { 'retry-after': '5', 'x-content-type-options': 'nosniff' });
      }
      handle(req, res).catch(() => res.destroy());
    },
  );
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    if (admitted.size >= maxConnections) {
      pastCap.add(s);
      return;
    }
    admitted.add(s);
    s.once('close', () => {
      admitted.delete(s);
      saidFull = false;
    });
  });
  return {
    server,
    closeAll() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      return closed;
    },
  };
}
