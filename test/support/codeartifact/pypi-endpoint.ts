/**
 * The PyPI protocol of a repository endpoint, `<url>/d/<domain>-<owner>/pypi/<repo>/` (the service's
 * is `https://<domain>-<owner>.d.codeartifact.<region>.amazonaws.com/pypi/<repo>/`; the host part moves
 * into the path as for npm, see npm-endpoint.ts).
 *
 * - Upload: twine's legacy upload form, `POST <endpoint>` exactly as configured (twine posts to the
 *   repository URL itself and does not follow redirects), multipart/form-data with `:action=file_upload`,
 *   `protocol_version=1`, `content` (the file) and the metadata fields; success is 200
 *   (https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-twine.html,
 *   https://warehouse.pypa.io/api-reference/legacy.html#upload-api).
 * - Simple index: `GET <endpoint>simple/<project>/` only (no root `/simple/`, no JSON API), one
 *   link per file with a `#sha256=` fragment (PEP 503); files at `<endpoint>simple/<project>/<version>/<filename>`.
 * - Authentication: HTTP Basic `aws:<token from GetAuthorizationToken>`; a request without it gets 401
 *   with `WWW-Authenticate: Basic`, so pip retries with the credentials of the index URL
 *   (https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-pip.html).
 *
 * Project pages and files come through upstreams and external connections too (fetch-through.ts).
 *
 * Names are stored normalised (PEP 503: lower-case, each run of `.`, `-`, `_` becomes one `-`) and the
 * API must be called with that name; versions are stored as uploaded; a version's assets are its files.
 *
 * Stand-in choices where the service's behaviour is not documented:
 * - a request for a non-normalised project name (or without the trailing slash) is answered with a
 *   301 to the normalised URL, as PEP 503 recommends ("SHOULD redirect") and pypi.org does;
 * - the filename is not cross-checked against name and version (only its extension against `filetype`);
 * - a new file may be added to a Published version only (409 for Unlisted, Archived, Disposed);
 * - `sha256_digest` is required, `md5_digest` and `blake2_256_digest` are checked when sent (twine
 *   omits them under FIPS; twine >= 6.2 no longer sends md5);
 * - the 151st file of a version is refused with 402 ServiceQuotaExceededException, like generic assets.
 */
import { createHash } from 'node:crypto';
import { blake2bHex } from './blake2b.js';
import { ApiError, accessDenied, conflict, notFound, serviceQuota } from './errors.js';
import type { RequestTrace } from './external.js';
import { findPypiFile, pypiView, retainPypi } from './fetch-through.js';
import { formBoundary, MultipartError, parseFormData, type FormPart } from './multipart.js';
import type { IncomingCall, Reply, ResolvedRoute, StandInContext } from './route.js';
import { MAX_ASSETS_PER_VERSION } from './store.js';
import type { QuotaName } from './types.js';

/** PEP 503 name normalisation (https://peps.python.org/pep-0503/#normalized-names). */
export const normalizePypiName = (name: string): string => name.replace(/[-_.]+/g, '-').toLowerCase();

/** Core metadata `Name` (PEP 508): ASCII letters and digits, with `.`, `_`, `-` inside. */
const PROJECT_NAME = /^(?:[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;
/** The model's PackageVersion shape. */
const VERSION = /^[^#/\s]{1,255}$/;
const FILE_NAME = /^[^/\\\p{C}]{1,255}$/u;
const SDIST_SUFFIXES = ['.tar.gz', '.zip', '.tar.bz2', '.tar.xz', '.tgz', '.tar'];
/** Form fields that identify or check the file rather than describe the project. */
const NOT_METADATA = new Set([
  ':action',
  'protocol_version',
  'content',
  'name',
  'version',
  'filetype',
  'pyversion',
  'comment',
  'md5_digest',
  'sha256_digest',
  'blake2_256_digest',
  'gpg_signature',
]);

const badRequest = (message: string): ApiError => new ApiError(400, 'ValidationException', message);

interface UploadForm {
  fields: Map<string, string[]>;
  file: { filename: string; data: Buffer } | undefined;
}

function readForm(call: IncomingCall): UploadForm {
  const boundary = formBoundary(call.headers['content-type']);
  if (boundary === undefined) throw badRequest('An upload must be multipart/form-data with a boundary.');
  let parts: FormPart[];
  try {
    parts = parseFormData(call.body, boundary);
  } catch (err) {
    if (err instanceof MultipartError) throw badRequest(`Malformed multipart body: ${err.message}.`);
    throw err;
  }
  const form: UploadForm = { fields: new Map(), file: undefined };
  for (const part of parts) {
    if (part.name === 'content' && part.filename !== undefined) {
      if (form.file !== undefined) throw badRequest('Only one `content` file per upload.');
      form.file = { filename: part.filename, data: part.data };
      continue;
    }
    const values = form.fields.get(part.name) ?? [];
    values.push(part.data.toString('utf8'));
    form.fields.set(part.name, values);
  }
  return form;
}

const first = (form: UploadForm, name: string): string | undefined => form.fields.get(name)?.[0];

function required(form: UploadForm, name: string): string {
  const value = first(form, name)?.trim();
  if (value === undefined || value === '') throw badRequest(`The upload form has no '${name}'.`);
  return value;
}

/** Every digest sent must describe the bytes (warehouse does the same; a mismatch is a corrupted upload). */
function checkDigests(form: UploadForm, filename: string, bytes: Buffer): void {
  const sha256 = required(form, 'sha256_digest');
  const checks: [string, string | undefined, () => string][] = [
    ['sha256_digest', sha256, () => createHash('sha256').update(bytes).digest('hex')],
    ['md5_digest', first(form, 'md5_digest'), () => createHash('md5').update(bytes).digest('hex')],
    ['blake2_256_digest', first(form, 'blake2_256_digest'), () => blake2bHex(bytes, 32)],
  ];
  for (const [field, declared, actual] of checks) {
    if (declared === undefined || declared === '') continue;
    const computed = actual();
    if (declared.trim().toLowerCase() !== computed) throw badRequest(`${field} ${declared} does not match ${filename} (${computed}).`);
  }
}

function checkFiletype(filetype: string, filename: string): void {
  if (filetype !== 'sdist' && filetype !== 'bdist_wheel') throw badRequest(`filetype '${filetype}' is not sdist or bdist_wheel.`);
  const lower = filename.toLowerCase();
  const matches = filetype === 'bdist_wheel' ? lower.endsWith('.whl') : SDIST_SUFFIXES.some((suffix) => lower.endsWith(suffix));
  if (!matches) throw badRequest(`${filename} is not a ${filetype} file name.`);
}

function metadataOf(form: UploadForm): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, values] of form.fields) {
    const kept = values.filter((v) => v !== '');
    if (!NOT_METADATA.has(name) && kept.length > 0) out[name] = kept;
  }
  return out;
}

function upload(ctx: StandInContext, repo: string, form: UploadForm): Reply {
  if (first(form, ':action') !== 'file_upload') throw badRequest("':action' must be file_upload.");
  if (first(form, 'protocol_version') !== '1') throw badRequest("'protocol_version' must be 1.");
  const rawName = required(form, 'name');
  const version = required(form, 'version');
  const filetype = required(form, 'filetype');
  required(form, 'metadata_version');
  if (!PROJECT_NAME.test(rawName)) throw badRequest(`'${rawName}' is not a valid project name.`);
  if (!VERSION.test(version)) throw badRequest(`'${version}' is not a valid version.`);
  if (form.file === undefined) throw badRequest('The upload form has no `content` file.');
  const { filename, data } = form.file;
  if (!FILE_NAME.test(filename)) throw badRequest(`'${filename}' is not a valid file name.`);
  checkFiletype(filetype, filename);
  checkDigests(form, filename, data);

  const name = normalizePypiName(rawName);
  const id = `${name} ${version}`;
  const pkg = ctx.store.getPackage(repo, 'pypi', undefined, name);
  const existing = pkg?.versions.get(version);
  const stored = existing?.assets.find((a) => a.name === filename);
  // Overwriting package assets (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-publishing-overwrite-assets):
  // the same file again is accepted and changes nothing; other bytes under its name are a conflict.
  if (stored !== undefined) {
    if (stored.hashes['SHA-256'] !== createHash('sha256').update(data).digest('hex')) {
      throw conflict(`${filename} of ${id} already exists with different content.`, 'asset', filename);
    }
    return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, bytes: Buffer.from('OK\n') };
  }
  if (existing !== undefined && existing.status !== 'Published') {
    throw conflict(`${id} is ${existing.status}; files can be added only to a Published version.`, 'package-version', version);
  }
  if (existing !== undefined && existing.assets.length >= MAX_ASSETS_PER_VERSION) {
    throw serviceQuota(`${id} already has ${MAX_ASSETS_PER_VERSION} files, the most a version may have.`, 'asset', filename);
  }
  if (existing === undefined && !ctx.origins.allowed(repo, { format: 'pypi', namespace: undefined, name }, 'PUBLISH')) {
    // Origin controls (the package's or its group's): the exact error is not documented.
    throw accessDenied(`Publishing new versions of '${name}' to '${repo}' is blocked by its origin controls.`);
  }

  const target = pkg ?? ctx.store.ensurePackage(repo, 'pypi', undefined, name);
  const asset = ctx.store.putAsset(filename, data);
  if (existing === undefined) {
    ctx.store.addVersion(target, { version, status: 'Published', assets: [asset], pypiMetadata: metadataOf(form) });
  } else {
    existing.assets.push(asset);
    ctx.store.touch(target, existing);
  }
  return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, bytes: Buffer.from('OK\n') };
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const redirect = (location: string): Reply => ({
  status: 301,
  headers: { location, 'content-type': 'text/plain; charset=utf-8' },
  bytes: Buffer.from(`Moved to ${location}\n`),
});

/**
 * PEP 503 project page: every file of every listed version this repository holds or reaches
 * through its upstreams and external connection (fetch-through.ts), href relative to the page.
 */
async function simpleIndex(ctx: StandInContext, repo: string, requested: string, trailingSlash: boolean, trace: RequestTrace): Promise<Reply> {
  const project = normalizePypiName(requested);
  if (project !== requested || !trailingSlash) return redirect(`${ctx.endpointUrl('pypi', repo)}simple/${project}/`);
  const files = (await pypiView(ctx, repo, project, trace)) ?? [];
  const links = files.map((f) => {
    const attr = f.requiresPython === undefined ? '' : ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
    const href = `${encodeURIComponent(f.version)}/${encodeURIComponent(f.filename)}#sha256=${f.sha256}`;
    return `    <a href="${escapeHtml(href)}"${attr}>${escapeHtml(f.filename)}</a><br/>`;
  });
  if (links.length === 0) throw notFound(`No files for '${project}' in '${repo}'.`, 'package', project);
  const html = [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    '    <meta name="pypi:repository-version" content="1.0">',
    `    <title>Links for ${escapeHtml(project)}</title>`,
    '  </head>',
    '  <body>',
    `    <h1>Links for ${escapeHtml(project)}</h1>`,
    ...links,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
  return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, bytes: Buffer.from(html) };
}

async function download(ctx: StandInContext, repo: string, requested: string, version: string, filename: string, trace: RequestTrace): Promise<Reply> {
  const project = normalizePypiName(requested);
  if (project !== requested) {
    return redirect(`${ctx.endpointUrl('pypi', repo)}simple/${project}/${encodeURIComponent(version)}/${encodeURIComponent(filename)}`);
  }
  // Unlisted files can still be fetched by their URL; Archived and Disposed ones cannot.
  const hit = await findPypiFile(ctx, repo, project, version, filename, trace);
  if (hit === undefined) throw notFound(`${filename} of ${project} ${version} not found.`, 'asset', filename);
  retainPypi(ctx, repo, project, version, filename, hit);
  const bytes = hit.found.kind === 'stored' ? ctx.store.readAsset(hit.found.asset) : hit.found.bytes;
  return { status: 200, headers: { 'content-type': 'application/octet-stream' }, bytes };
}

interface PypiRoute {
  operation: string;
  /** the normalised project name, when the request names one */
  project?: string;
  versions: string[];
  quotas: QuotaName[];
  handle: (trace: RequestTrace) => Reply | Promise<Reply>;
}

function decodeSegments(rest: string): string[] | undefined {
  try {
    return rest.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

function pypiRoute(ctx: StandInContext, call: IncomingCall, repo: string, rest: string): PypiRoute {
  const unsupported: PypiRoute = {
    operation: 'pypi:Unsupported',
    versions: [],
    quotas: ['reads'],
    handle: () => {
      throw notFound(`${call.method} /${rest} is not served by a CodeArtifact PyPI endpoint.`, 'package', rest);
    },
  };
  if (rest === '') {
    if (call.method !== 'POST') return unsupported;
    // Parsed before handling so the log and fault rules know the project and version.
    let form: UploadForm | undefined;
    let invalid: unknown;
    try {
      form = readForm(call);
    } catch (err) {
      invalid = err;
    }
    const rawName = form === undefined ? undefined : first(form, 'name');
    const version = form === undefined ? undefined : first(form, 'version');
    return {
      operation: 'pypi:Upload',
      ...(rawName === undefined || rawName === '' ? {} : { project: normalizePypiName(rawName) }),
      versions: version === undefined || version === '' ? [] : [version],
      quotas: ['publish', 'writes'],
      handle: () => {
        if (form === undefined) throw invalid;
        return upload(ctx, repo, form);
      },
    };
  }
  const segments = decodeSegments(rest);
  if (segments === undefined || segments[0] !== 'simple' || call.method !== 'GET') return unsupported;
  const [, project, third, fourth] = segments;
  if (project === undefined || project === '' || !PROJECT_NAME.test(project)) return unsupported; // includes the root /simple/
  if (segments.length <= 3 && (third === undefined || third === '')) {
    return {
      operation: 'pypi:SimpleIndex',
      project: normalizePypiName(project),
      versions: [],
      quotas: ['reads'],
      handle: (trace) => simpleIndex(ctx, repo, project, third === '', trace),
    };
  }
  if (segments.length === 4 && third !== undefined && third !== '' && fourth !== undefined && fourth !== '') {
    return {
      operation: 'pypi:Download',
      project: normalizePypiName(project),
      versions: [third],
      quotas: ['getAsset', 'reads'],
      handle: (trace) => download(ctx, repo, project, third, fourth, trace),
    };
  }
  return unsupported;
}

/** The PyPI route for a call under `/d/`, or undefined when the path is not a PyPI endpoint of this domain. */
export function resolvePypi(ctx: StandInContext, call: IncomingCall): ResolvedRoute | undefined {
  const m = /^\/d\/([^/]+)\/pypi\/([^/]+)\/(.*)$/.exec(call.url.pathname);
  if (m === null || m[1] !== `${ctx.domain}-${ctx.domainOwner}` || m[2] === undefined || m[3] === undefined) return undefined;
  const repo = m[2];
  const route = pypiRoute(ctx, call, repo, m[3]);
  return {
    kind: 'pypi',
    operation: route.operation,
    subject: { repository: repo, format: 'pypi', package: route.project, versions: route.versions },
    quotas: route.quotas,
    handle: (trace) => {
      if (!ctx.store.hasRepository(repo)) throw notFound(`Repository '${repo}' not found.`, 'repository', repo);
      return route.handle(trace);
    },
  };
}

/**
 * pip and twine show the status line and the body's text. A 401 carries `WWW-Authenticate: Basic`
 * (RFC 7235 requires it; pip only retries with the index URL's credentials after one). The realm
 * the service names is not documented.
 */
export function pypiError(err: ApiError): Reply {
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  if (err.status === 401) headers['www-authenticate'] = 'Basic realm="CodeArtifact"';
  return { status: err.status, headers, bytes: Buffer.from(`${err.message}\n`) };
}
