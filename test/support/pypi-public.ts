/**
 * A small public PyPI for tests: what the stand-in's `public:pypi` external connection fetches
 * from instead of pypi.org. It serves the PEP 503 simple API the way pypi.org does: a project page
 * `/simple/<normalised name>/` whose links carry `#sha256=` fragments and point at the files on
 * another path (`/packages/<project>/<file>`, pypi.org uses files.pythonhosted.org), a 301 to the
 * normalised name, 404 for what it does not have. https://peps.python.org/pep-0503/
 *
 * Tests can make it refuse a project (`block`) or serve other bytes for one file while the page
 * keeps the original sha256 (`tamper`). Written here because no PyPI server in the field is a
 * small in-process library (pypiserver and devpi are Python services).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import yazl from 'yazl';

export const normalizeProject = (name: string): string => name.replace(/[-_.]+/g, '-').toLowerCase();

interface PublicFile {
  filename: string;
  bytes: Buffer;
  sha256: string;
  requiresPython?: string;
}

export interface PublicRequest {
  at: number;
  method: string;
  path: string;
  status: number;
}

export interface PublicPypi {
  /** `http://127.0.0.1:PORT/`: the index is `${url}simple/` */
  url: string;
  /** every request, in order */
  log: PublicRequest[];
  addFile(project: string, filename: string, bytes: Buffer, opts?: { requiresPython?: string }): void;
  /** The index refuses the project: 404 for its page and files. */
  block(project: string): void;
  unblock(project: string): void;
  /** Serve other bytes for a file; its page keeps the original sha256. Returns the bytes served. */
  tamper(filename: string, bytes?: Buffer): Buffer;
  stop(): Promise<void>;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export async function startPublicPypi(): Promise<PublicPypi> {
  const projects = new Map<string, PublicFile[]>();
  const blocked = new Set<string>();
  const tampered = new Map<string, Buffer>();
  const log: PublicRequest[] = [];

  const answer = (req: http.IncomingMessage): { status: number; headers: Record<string, string>; body: Buffer } => {
    const notFound = { status: 404, headers: { 'content-type': 'text/plain' }, body: Buffer.from('404 Not Found\n') };
    if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: { 'content-type': 'text/plain' }, body: Buffer.from('405\n') };
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const page = /^\/simple\/([^/]+)(\/?)$/.exec(path);
    if (page?.[1] !== undefined) {
      const requested = decodeURIComponent(page[1]);
      const project = normalizeProject(requested);
      if (project !== requested || page[2] !== '/') return { status: 301, headers: { location: `/simple/${project}/` }, body: Buffer.alloc(0) };
      const files = projects.get(project);
      if (files === undefined || blocked.has(project)) return notFound;
      const links = files.map((f) => {
        const attr = f.requiresPython === undefined ? '' : ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
        return `    <a href="../../packages/${project}/${encodeURIComponent(f.filename)}#sha256=${f.sha256}"${attr}>${escapeHtml(f.filename)}</a><br/>`;
      });
      const html = ['<!DOCTYPE html>', '<html>', '  <head>', `    <title>Links for ${project}</title>`, '  </head>', '  <body>', `    <h1>Links for ${project}</h1>`, ...links, '  </body>', '</html>', ''].join('\n');
      return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: Buffer.from(html) };
    }
    const file = /^\/packages\/([^/]+)\/([^/]+)$/.exec(path);
    if (file?.[1] !== undefined && file[2] !== undefined) {
      const project = decodeURIComponent(file[1]);
      const filename = decodeURIComponent(file[2]);
      const found = projects.get(project)?.find((f) => f.filename === filename);
      if (found === undefined || blocked.has(project)) return notFound;
      return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: tampered.get(filename) ?? found.bytes };
    }
    return notFound;
  };

  const server = http.createServer((req, res) => {
    req.resume();
    const { status, headers, body } = answer(req);
    log.push({ at: Date.now(), method: req.method ?? '', path: req.url ?? '/', status });
    res.writeHead(status, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    log,
    addFile(project, filename, bytes, opts = {}) {
      const key = normalizeProject(project);
      const files = projects.get(key) ?? [];
      files.push({ filename, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), ...(opts.requiresPython === undefined ? {} : { requiresPython: opts.requiresPython }) });
      projects.set(key, files);
    },
    block: (project) => void blocked.add(normalizeProject(project)),
    unblock: (project) => void blocked.delete(normalizeProject(project)),
    tamper(filename, bytes) {
      const other = bytes ?? Buffer.from(`tampered ${filename}\n`);
      tampered.set(filename, other);
      return other;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A fixed timestamp, so the same wheel is the same bytes. */
const WHEEL_MTIME = new Date('2020-02-02T00:00:00Z');

/**
 * A minimal pure-Python wheel (PEP 427): one module, METADATA, WHEEL and RECORD, enough for pip to
 * download and install it. Built with yazl, no build backend needed.
 */
export async function makeWheel(name: string, version: string, opts: { value?: string } = {}): Promise<{ filename: string; bytes: Buffer }> {
  const dist = name.replace(/[^\w\d.]+/g, '_');
  const module = dist.toLowerCase().replace(/\./g, '_');
  const distInfo = `${dist}-${version}.dist-info`;
  const files: [string, Buffer][] = [
    [`${module}/__init__.py`, Buffer.from(`VALUE = ${JSON.stringify(opts.value ?? `${name} ${version}`)}\n`)],
    [`${distInfo}/METADATA`, Buffer.from(`Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: A public package for stand-in tests\n`)],
    [`${distInfo}/WHEEL`, Buffer.from('Wheel-Version: 1.0\nGenerator: codeartifact-migrate-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n')],
  ];
  const record = files.map(([p, b]) => `${p},sha256=${createHash('sha256').update(b).digest('base64url')},${b.length}`);
  files.push([`${distInfo}/RECORD`, Buffer.from(`${[...record, `${distInfo}/RECORD,,`].join('\n')}\n`)]);
  const zip = new yazl.ZipFile();
  for (const [p, b] of files) zip.addBuffer(b, p, { mtime: WHEEL_MTIME });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(Buffer.from(chunk as Uint8Array));
  return { filename: `${dist}-${version}-py3-none-any.whl`, bytes: Buffer.concat(chunks) };
}
