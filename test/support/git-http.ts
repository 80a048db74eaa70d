/**
 * Bare git repositories served over smart HTTP by git's own `git http-backend`, run as a CGI
 * program from a node http server (https://git-scm.com/docs/git-http-backend): the https git
 * sources' counterpart of git-server.ts's sshd. Two fronts on 127.0.0.1, random ports, the same
 * repositories behind both:
 *  - https, with a certificate for IP 127.0.0.1 made at start with openssl in the server's temp
 *    folder (never committed), which a git client trusts through GIT_SSL_CAINFO = caFile;
 *  - plain http, which a job may never name (http:// URLs are refused at load), there to be
 *    redirected to: `redirect` makes the https front answer with a redirect instead.
 * Every request either front answered is in `requests()`, so a test can tell which front a
 * fetch really went to.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const OPENSSL = '/usr/bin/openssl';

export interface GitHttpRequest {
  front: 'https' | 'http';
  method: string;
  /** Path and query as asked (`/company.git/info/refs?service=git-upload-pack`). */
  url: string;
  status: number;
  /** The request's Authorization header, as sent. */
  authorization?: string;
}

export interface GitHttpServer {
  /** The temp folder holding the certificate and the repositories; removed by stop(). */
  readonly dir: string;
  /** Where the bare repositories are (`<name>.git`): make them there with any git. */
  readonly reposDir: string;
  /** The certificate of the https front (PEM), for GIT_SSL_CAINFO. */
  readonly caFile: string;
  readonly httpsPort: number;
  readonly httpPort: number;
  /** `https://127.0.0.1:PORT/<repo>.git` */
  httpsUrl(repo: string): string;
  /** `http://127.0.0.1:PORT/<repo>.git` */
  httpUrl(repo: string): string;
  /**
   * Set: each request to the https front whose path and query it answers with a URL for is
   * redirected there instead (`status`, default 301), never served. Unset: served.
   */
  redirect?: { to: (pathAndQuery: string) => string | undefined; status?: number };
  /** Set: every request must carry this user and password (Basic), else 401 with WWW-Authenticate, as a private git host answers. */
  auth?: { user: string; password: string };
  /** The requests answered so far, in order. */
  requests(): GitHttpRequest[];
  stop(): Promise<void>;
}

export async function startGitHttpServer(opts: { dir?: string } = {}): Promise<GitHttpServer> {
  const dir = opts.dir ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'cam-git-http-'));
  const reposDir = join(dir, 'repos');
  await mkdir(reposDir, { recursive: true });
  const keyFile = join(dir, 'server.key');
  const caFile = join(dir, 'server.crt');
  await new Promise<void>((done, fail) =>
    execFile(
      OPENSSL,
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      (e, _out, err) => (e ? fail(new Error(`openssl req: ${err || e.message}`)) : done()),
    ),
  );
  const log: GitHttpRequest[] = [];
  let self: GitHttpServer;
  const serve = (front: 'https' | 'http') => (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const authorization = req.headers.authorization;
    res.on('finish', () => log.push({ front, method: req.method ?? '', url, status: res.statusCode, ...(authorization !== undefined ? { authorization } : {}) }));
    if (self.auth && authorization !== `Basic ${Buffer.from(`${self.auth.user}:${self.auth.password}`).toString('base64')}`) {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Length': '0' }).end();
      return;
    }
    const to = front === 'https' ? self.redirect?.to(url) : undefined;
    if (to !== undefined) {
      req.resume();
      res.writeHead(self.redirect?.status ?? 301, { Location: to, 'Content-Length': '0' }).end();
      return;
    }
    cgi(reposDir, req, res);
  };
  const https = createHttpsServer({ key: await readFile(keyFile), cert: await readFile(caFile) }, serve('https'));
  const http = createHttpServer(serve('http'));
  const [httpsPort, httpPort] = await Promise.all([listen(https), listen(http)]);
  self = {
    dir,
    reposDir,
    caFile,
    httpsPort,
    httpPort,
    httpsUrl: (repo) => `https://127.0.0.1:${httpsPort}/${repo}.git`,
    httpUrl: (repo) => `http://127.0.0.1:${httpPort}/${repo}.git`,
    requests: () => [...log],
    async stop() {
      await Promise.all([close(https), close(http)]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return self;
}

function listen(server: Server): Promise<number> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((done) => server.close(() => done()));
}

/**
 * One request through `git http-backend` (CGI/1.1, RFC 3875): the request's body on its stdin,
 * its stdout a header block (`Status:` and headers, ended by an empty line) then the body.
 */
function cgi(root: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    // the server's git reads no config of the machine's or the user's
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    // git sends a large upload-pack request gzipped, and the protocol version in Git-Protocol
    HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
    HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
  };
  // without CONTENT_LENGTH (a chunked body) http-backend reads to the end of its stdin
  if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  child.stderr.resume();
  let head: Buffer = Buffer.alloc(0);
  let headerDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headerDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf('\r\n\r\n');
    const lf = head.indexOf('\n\n');
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
    if (end < 0) return;
    headerDone = true;
    const lines = head.subarray(0, end).toString('latin1').split(/\r?\n/);
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (/^status$/i.test(name)) status = Number(value.split(' ')[0]) || 500;
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + (end === crlf ? 4 : 2)));
  });
  child.on('close', (code) => {
    if (!headerDone) res.writeHead(code === 0 ? 200 : 500).end();
    else res.end();
  });
  child.on('error', () => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
}
