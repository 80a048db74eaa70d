/**
 * Publishing Python distributions (sdists and wheels) through a CodeArtifact
 * repository's PyPI endpoint, the way `twine upload` does, and checking them
 * the way `pip` finds them.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-twine.html
 *
 * CodeArtifact's PyPI quirks this module relies on (CODEARTIFACT.md):
 * - the upload is twine's multipart POST to the endpoint URL exactly as
 *   GetRepositoryEndpoint gives it (no `legacy/` suffix, no redirects), with
 *   Basic `aws:<token>`; success is 200;
 * - the same file name with other bytes is 409, identical bytes are accepted
 *   again, and a new file may be added to an existing version;
 * - package names are stored PEP 503-normalised and the API must be called
 *   with that name; there is no namespace;
 * - the only index is `<endpoint>simple/<project>/` (PEP 503), whose links
 *   carry `#sha256=<hex>`.
 *
 * Versions: the target lists a version as it was uploaded, so every file of a
 * version is uploaded under the one spelling the engine reads the target with
 * (`targetVersion`: the PEP 440 normal form of the tag), even where a
 * project's metadata writes an equal version another way (`1.0` for tag
 * `v1.0.0`). Without that, the target would hold `1.0` and the engine would
 * look for `1.0.0` forever.
 */
import { isValidProjectName, normalizePep440, normalizeProjectName, parseWheelName, samePep440, splitSdistName, type CoreMetadata, type PythonFileType } from '../builders/python.js';
import { MigrateError, toError } from '../errors.js';
import { printable } from '../redact.js';
import type { BucketName, Format } from '../types.js';
import type { CodeArtifact, PackageCoordinates } from './codeartifact.js';
import { excerpt, RepositoryEndpoint } from './endpoint.js';
import { FOREIGN_HINT, type AssetFile, type PublishRequest, type PublishResult, type TargetFormat } from './format.js';
import type { HttpResponse } from './http.js';
import { multipartUploadBody, safeName, uploadDigests, type UploadDigests, type UploadFile } from './pypi-upload.js';

const READ: readonly BucketName[] = ['reads'];
const PUBLISH: readonly BucketName[] = ['publish', 'writes'];

/**
 * The most assets one package version may hold (not adjustable): the 151st upload of a version is
 * refused (402 ServiceQuotaExceededException), after the first 150 are on the target for pip to see.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html
 */
const MAX_FILES_PER_VERSION = 150;

/** What the engine records with each sdist or wheel (the builder's PythonDist fields). */
export interface PypiFacts {
  filetype: PythonFileType;
  /** `source` for an sdist, the wheel's python tag. */
  pyversion: string;
  metadata: CoreMetadata;
}

/** An asset's facts, checked: anything else was not recorded by the Python builder. */
export function pypiFacts(asset: AssetFile, subject: string): PypiFacts {
  const f = asset.facts as Partial<Record<keyof PypiFacts, unknown>>;
  const m = f.metadata as Partial<Record<keyof CoreMetadata, unknown>> | undefined;
  const ok =
    (f.filetype === 'sdist' || f.filetype === 'bdist_wheel') &&
    typeof f.pyversion === 'string' &&
    f.pyversion !== '' &&
    typeof m === 'object' &&
    m !== null &&
    (['metadata_version', 'name', 'version'] as const).every((k) => typeof m[k] === 'string' && m[k] !== '');
  if (!ok) {
    throw new MigrateError('EBADBUILD', `${subject}: ${asset.name}: the recorded facts are not a Python distribution's (filetype, pyversion, metadata)`, {
      subject,
      actual: JSON.stringify(asset.facts).slice(0, 200),
      hint: 'the asset was not recorded by the Python builder; build the version again',
    });
  }
  return f as PypiFacts;
}

export class PypiTarget implements TargetFormat {
  readonly format: Format = 'pypi';
  private readonly endpointClient: RepositoryEndpoint;

  constructor(
    private readonly ca: CodeArtifact,
    readonly repository: string,
  ) {
    this.endpointClient = new RepositoryEndpoint(ca, { auth: 'basic', label: 'the PyPI endpoint' });
  }

  /** PyPI packages have no namespace; CodeArtifact addresses them by the PEP 503-normalised name. */
  coordinates(name: string): PackageCoordinates {
    return { format: 'pypi', repository: this.repository, package: normalizeProjectName(name) };
  }

  /** The PEP 440 normal form (`v1.0-RC1` -> `1.0rc1`). A tag that is no PEP 440 version is EVERSION: pip could not install it. */
  targetVersion(version: string): string {
    const v = normalizePep440(version);
    if (v === undefined) {
      throw new MigrateError('EVERSION', `${JSON.stringify(version)} is not a PEP 440 version`, { actual: version, hint: 'exclude this tag, or map it to a version in the job file' });
    }
    return v;
  }

  private endpoint(): Promise<string> {
    return this.ca.endpoint('pypi', this.repository);
  }

  /**
   * The repository has a PyPI endpoint (GetRepositoryEndpoint), and the endpoint
   * takes our token: GET `<endpoint>simple/`, which names no project (so nothing
   * is looked up or pulled from an upstream) and is not served (404); what
   * matters is that the answer is not 401/403.
   */
  async preflight(): Promise<void> {
    const endpoint = await this.endpoint();
    await this.endpointClient.send('checking the token', READ, this.repository, { method: 'GET', url: `${endpoint}simple/` });
  }

  /**
   * The files are this project at this version, and a set pip can use: every
   * file's metadata and file name name the project (PEP 503) at the version
   * (PEP 440 equality), at most one sdist (a job may build wheels only) and at
   * least one wheel, no file name twice, each file's type and python tag what
   * its name says.
   */
  async checkAssets(name: string, version: string, assets: readonly AssetFile[]): Promise<void> {
    const subject = `${name}@${version}`;
    const project = normalizeProjectName(name);
    const bad = (code: 'EBADBUILD' | 'EVERSION', file: string | undefined, message: string, init: { expected?: string; actual?: string; hint?: string } = {}) =>
      new MigrateError(code, `${subject}: ${file ? `${file}: ` : ''}${message}`, { subject, hint: 'build the version again from its tag, or exclude it', ...init });
    // a build command, or a setup.py writing into {outdir}, can make any number of valid wheels: counted before any is sent
    if (assets.length > MAX_FILES_PER_VERSION) {
      throw bad('EBADBUILD', undefined, `the version has ${assets.length} files, more than CodeArtifact keeps for one version: the upload would stop after ${MAX_FILES_PER_VERSION} of them, half a version on the target`, {
        expected: `at most ${MAX_FILES_PER_VERSION} files`,
        actual: `${assets.length} files`,
        hint: 'build fewer wheels per version (the build command decides which), or exclude this version',
      });
    }
    const seen = new Set<string>();
    let sdists = 0;
    let wheels = 0;
    for (const asset of assets) {
      if (seen.has(asset.name)) throw bad('EBADBUILD', asset.name, 'the version holds this file twice');
      seen.add(asset.name);
      const facts = pypiFacts(asset, subject);
      const { metadata } = facts;
      // a valid (ASCII) name first: lower() makes U+212A KELVIN SIGN a "k", so "o\u212A-lib" normalises to ok-lib,
      // but the upload form's safe_name turns it into "o--lib", which CodeArtifact files under o-lib
      if (!isValidProjectName(metadata.name) || normalizeProjectName(metadata.name) !== project) {
        throw bad('EBADBUILD', asset.name, `the metadata names the project ${JSON.stringify(metadata.name)}`, { expected: project, actual: normalizeProjectName(metadata.name) });
      }
      if (!samePep440(metadata.version, version)) {
        throw bad('EVERSION', asset.name, `the metadata says version ${JSON.stringify(metadata.version)}`, { expected: version, actual: metadata.version });
      }
      let fileName: string;
      let fileVersion: string;
      if (facts.filetype === 'sdist') {
        sdists++;
        const stem = /^(.*)\.(?:tar\.gz|zip)$/.exec(asset.name)?.[1];
        const split = stem === undefined ? undefined : splitSdistName(stem, project);
        if (split === undefined) throw bad('EBADBUILD', asset.name, 'an sdist must be named <project>-<version>.tar.gz', { expected: `${project}-${version}.tar.gz` });
        if (facts.pyversion !== 'source') throw bad('EBADBUILD', asset.name, `an sdist's pyversion is "source", not ${JSON.stringify(facts.pyversion)}`);
        ({ name: fileName, version: fileVersion } = split);
      } else {
        wheels++;
        const w = parseWheelName(asset.name);
        if (w === undefined) throw bad('EBADBUILD', asset.name, 'a wheel must be named <project>-<version>[-<build>]-<python>-<abi>-<platform>.whl');
        if (facts.pyversion !== w.python) throw bad('EBADBUILD', asset.name, `the wheel's pyversion is ${JSON.stringify(facts.pyversion)}, its name says ${w.python}`);
        // the wheel spec's build tag is a digit, then letters, digits and `_` (every other run escaped to `_`): a quote,
        // a backslash or a `%` would reach the target as another name (the form's file name is quoted: `"` is sent as %22)
        if (w.build !== undefined && !/^\d[A-Za-z0-9_.]*$/.test(w.build)) {
          throw bad('EBADBUILD', asset.name, `the wheel's build tag ${JSON.stringify(w.build)} holds characters a wheel name never has`, { expected: 'a digit, then letters, digits and _' });
        }
        ({ name: fileName, version: fileVersion } = w);
      }
      if (!isValidProjectName(fileName) || normalizeProjectName(fileName) !== project) {
        throw bad('EBADBUILD', asset.name, `the file name names the project ${JSON.stringify(fileName)}`, { expected: project, actual: normalizeProjectName(fileName) });
      }
      if (!samePep440(fileVersion, version)) throw bad('EVERSION', asset.name, `the file name says version ${JSON.stringify(fileVersion)}`, { expected: version, actual: fileVersion });
    }
    if (sdists > 1) throw bad('EBADBUILD', undefined, `the version has ${sdists} sdists`, { expected: 'at most 1' });
    if (wheels < 1) throw bad('EBADBUILD', undefined, 'the version has no wheel', { expected: 'at least 1', actual: [...seen].join(', ') || 'no files' });
  }

  /**
   * One file, as twine uploads it: the multipart form POSTed to the endpoint
   * URL itself. 200 is published, 409 is a file of that name already there
   * (the engine reads the target to tell identical from conflicting); a
   * throttle or refused credentials throw; anything that may have been
   * stored (a 5xx, a body or an answer lost on the way) is `unknown`; any
   * other refusal is ETARGETREJECTED, naming the file and quoting the server.
   */
  async publishAsset(req: PublishRequest): Promise<PublishResult> {
    const { asset } = req;
    const subject = `${req.name}@${req.version}`;
    const facts = pypiFacts(asset, subject);
    // See the module comment: the version as the engine reads it back.
    const metadata: CoreMetadata = { ...facts.metadata, version: req.version };
    // the form's `name` is where CodeArtifact files the upload: never another project than the one
    // addressed, refused before anything is asked of the target
    const sentName = normalizeProjectName(safeName(metadata.name));
    if (sentName !== req.coords.package) {
      throw new MigrateError('EBADBUILD', `${subject}: ${asset.name}: the metadata names the project ${JSON.stringify(metadata.name)}, which the upload would file under ${sentName}`, {
        subject,
        expected: req.coords.package,
        actual: sentName,
        hint: 'build the version again from its tag, or exclude it',
      });
    }
    const endpoint = await this.endpoint();
    if (req.version.includes('+')) await this.refuseShadowing(req, endpoint);
    const file: UploadFile = { path: asset.path, filename: asset.name, filetype: facts.filetype, pyversion: facts.pyversion };
    const digests = await this.digests(asset, subject);
    const first = await multipartUploadBody(file, metadata, { digests });
    let fresh = true;
    let res: HttpResponse;
    try {
      res = await this.endpointClient.send(`uploading ${asset.name}`, PUBLISH, subject, {
        method: 'POST',
        // exactly as GetRepositoryEndpoint gives it: twine posts there and follows no redirect
        url: endpoint,
        headers: { 'content-type': first.contentType, 'content-length': String(first.contentLength) },
        // a 401 sends it again: the same form, with the same boundary and length, streamed anew
        body: async () => {
          if (fresh) {
            fresh = false;
            return first.body;
          }
          return (await multipartUploadBody(file, metadata, { digests, boundary: first.boundary })).body;
        },
        signal: req.signal,
      });
    } catch (e) {
      const err = e instanceof MigrateError ? e : new MigrateError('ETARGET', toError(e).message, { cause: e, subject });
      // Throttles and refused credentials were answered before anything was stored; anything else may have landed.
      if (err.code === 'ETHROTTLED' || err.code === 'ETARGETAUTH' || err.code === 'ETARGETCREDENTIALS') throw err;
      return { kind: 'unknown', error: err };
    } finally {
      if (fresh) first.body.destroy();
    }
    if (res.status >= 200 && res.status < 300) return { kind: 'published' };
    if (res.status === 409) return { kind: 'exists' };
    throw new MigrateError('ETARGETREJECTED', `${subject}: the PyPI endpoint refused ${asset.name} (HTTP ${res.status}): ${excerpt(res.body)}`, {
      subject,
      status: res.status,
      hint:
        res.status >= 300 && res.status < 400
          ? `the endpoint redirected to ${String(res.headers.location)}: twine follows no redirect, check the repository`
          : 'read the message above; nothing was stored',
    });
  }

  /**
   * pip's view: the project's simple index lists every file of ours with our
   * sha256. A file not listed (yet) is EVERIFY, which the engine retries; a
   * file listed with another sha256 is EMISMATCH.
   */
  async verifyWithClient(name: string, version: string, assets: readonly AssetFile[], signal?: AbortSignal): Promise<void> {
    const subject = `${name}@${version}`;
    const project = normalizeProjectName(name);
    const page = await this.projectPage(await this.endpoint(), project, subject, signal);
    if (!page) {
      throw new MigrateError('EVERIFY', `${subject}: the simple index has no page for ${project} yet`, { subject, status: 404, expected: assets.map((a) => a.name).join(', '), actual: 'no page' });
    }
    const { url, body } = page;
    // of a page of any size, only the links naming our files or another file of this version are kept
    const ours = new Set(assets.map((a) => a.name));
    // pip's `==1.0` also matches a file of `1.0+abc` (a pin without a local label ignores the file's) and ranks it above ours
    const release = !version.includes('+');
    const thisVersion = (n: string) => {
      const v = fileVersion(n, project);
      return v !== undefined && (samePep440(v, version) || (release && v.includes('+') && samePep440(v.slice(0, v.indexOf('+')), version)));
    };
    let listedFiles = 0;
    const links = parseSimpleIndex(body, url, ({ filename, hrefName }) => {
      listedFiles++;
      return ours.has(filename) || ours.has(hrefName) || thisVersion(filename) || thisVersion(hrefName);
    });
    const origin = new URL(url).origin;
    for (const asset of assets) {
      // pip takes a file's name from its URL, PEP 503 from the anchor's text: a link naming our file either way must carry our bytes
      const listed = links.filter((l) => l.filename === asset.name || l.hrefName === asset.name);
      if (!listed.some((l) => l.hrefName === asset.name)) {
        throw new MigrateError('EVERIFY', `${subject}: the simple index does not list ${asset.name} yet`, { subject, expected: asset.name, actual: `${listedFiles} other files` });
      }
      // CodeArtifact yanks nothing (PEP 592): an index that says so is not the one we published to, and pip would pass our file over
      if (listed.some((l) => l.hrefName === asset.name && l.yanked)) {
        throw new MigrateError('EVERIFY', `${subject}: the simple index marks ${asset.name} as yanked: pip passes it over unless the version is pinned`, {
          subject,
          expected: `${asset.name} not yanked`,
          actual: 'data-yanked',
          hint: 'find what serves the index (a proxy in front of the repository?) before cutover',
        });
      }
      // pip fetches our file from where the link points: anywhere but the repository's endpoint (another host, a
      // javascript: or file: URL, a <base href> moving every link) is no install from the repository
      // (a javascript:, data: or file: URL has no origin of its own: "null", never the endpoint's)
      const away = listed.find((l) => l.hrefName === asset.name && (l.url === undefined || new URL(l.url).origin !== origin));
      if (away) {
        throw new MigrateError('EVERIFY', `${subject}: the simple index links ${asset.name} to ${printable(away.url ?? away.href)}, outside the repository's endpoint ${origin}: pip would fetch it from there`, {
          subject,
          expected: `${asset.name} under ${origin}`,
          actual: away.url ?? away.href,
          hint: 'find what serves the index (a proxy in front of the repository?) before cutover',
        });
      }
      for (const link of listed) {
        const theirs = link.hashes.sha256;
        if (theirs === undefined) {
          throw new MigrateError('EVERIFY', `${subject}: the simple index lists ${asset.name} without a sha256`, { subject, expected: `sha256=${asset.hashes.sha256}`, actual: link.href });
        }
        if (theirs !== asset.hashes.sha256.toLowerCase()) {
          throw new MigrateError('EMISMATCH', `${subject}: the simple index lists ${asset.name} with another sha256`, {
            subject,
            expected: asset.hashes.sha256,
            actual: theirs,
            hint: 'the target serves other bytes than the ones published: investigate before cutover',
          });
        }
      }
    }
    // another file of this version (a wheel with a build tag, one for a platform) is one pip may choose over ours
    const foreign = [...new Set(links.flatMap((l) => [l.filename, l.hrefName]))].filter((n) => !ours.has(n) && thisVersion(n));
    if (foreign.length > 0) {
      const local = [...new Set(foreign.map((n) => fileVersion(n, project)!).filter((v) => v.includes('+')))];
      const listed = foreign.map((n) => printable(n)).join(', ');
      const message = local.length
        ? `the simple index also lists ${listed} of the local version ${local.map((v) => printable(v)).join(', ')}, which \`pip install ${project}==${version}\` matches too and ranks above ${version}: pip installs it instead of ours`
        : `the simple index also lists ${listed} for this version, which this run did not publish: pip may install it instead of ours`;
      throw new MigrateError('EVERIFY', `${subject}: ${message}`, {
        subject,
        expected: [...ours].join(', '),
        actual: foreign.join(', '),
        hint: local.length
          ? `do not cut over this package: the local version ${local.map((v) => printable(v)).join(', ')} takes the place of ${version} for every pin of it; delete that version (aws codeartifact delete-package-versions --versions ${local.map((v) => printable(v)).join(' ')}) and rerun, or keep it and accept that ==${version} installs it`
          : FOREIGN_HINT,
      });
    }
  }

  /**
   * A local version (`1.0+abc`) is never sent while the index lists a file of its release
   * (`1.0`, `1.0.0`): `pip install <name>==1.0` matches the local one too and ranks it above
   * the release, so the upload would take the release's place for every pin of it. The source's
   * listing catches a release tag beside it (shadowingLocalVersions); this catches a release on
   * the target without one (put there by another, or its tag skipped after a conflict). EBADSOURCE
   * as there: nothing is sent, and every rerun looks again.
   * https://packaging.python.org/en/latest/specifications/version-specifiers/#version-matching
   */
  private async refuseShadowing(req: PublishRequest, endpoint: string): Promise<void> {
    const subject = `${req.name}@${req.version}`;
    const project = normalizeProjectName(req.name);
    const release = req.version.slice(0, req.version.indexOf('+'));
    const page = await this.projectPage(endpoint, project, subject, req.signal);
    if (!page) return;
    const isRelease = (n: string) => {
      const v = fileVersion(n, project);
      return v !== undefined && !v.includes('+') && samePep440(v, release);
    };
    const theirs = [...new Set(parseSimpleIndex(page.body, page.url, ({ filename, hrefName }) => isRelease(filename) || isRelease(hrefName)).map((l) => l.hrefName))];
    if (theirs.length === 0) return;
    throw new MigrateError('EBADSOURCE', `${subject}: the target already holds the release ${release} (${theirs.map((n) => printable(n)).join(', ')}); \`pip install ${project}==${release}\` would install the local version ${req.version} instead of it (a pin without a local label matches any, and ranks ${req.version} above ${release}): not uploaded`, {
      subject,
      expected: `no file of ${release} on the target`,
      actual: theirs.join(', '),
      hint: `skip the local version in the job (versions: {"${req.version}": {skip: …}}), or delete ${release} from the target if it should not be there`,
    });
  }

  /** The project's page of the simple index (PEP 503): its URL and HTML, or undefined when there is none (404); any other answer is ETARGET. */
  private async projectPage(endpoint: string, project: string, subject: string, signal?: AbortSignal): Promise<{ url: string; body: string } | undefined> {
    const url = `${endpoint}simple/${project}/`;
    const res = await this.endpointClient.send('reading the simple index', READ, subject, { method: 'GET', url, headers: { accept: 'text/html' }, signal });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new MigrateError('ETARGET', `${subject}: reading ${url} answered HTTP ${res.status}: ${excerpt(res.body)}`, { subject, status: res.status });
    return { url, body: res.body };
  }

  /** sha256 and BLAKE2b-256 of the blob, which must still be the bytes recorded for it. */
  private async digests(asset: AssetFile, subject: string): Promise<UploadDigests> {
    const gone = (why: string, cause?: unknown) =>
      new MigrateError('EBLOBMISSING', `${subject}: ${asset.name}: the file to upload ${why}`, { subject, cause, hint: 'the next run fetches or builds it again' });
    let digests: UploadDigests;
    try {
      digests = await uploadDigests(asset.path);
    } catch (e) {
      throw gone(`cannot be read: ${toError(e).message}`, e);
    }
    if (digests.size !== asset.size || digests.sha256 !== asset.hashes.sha256.toLowerCase()) {
      const e = gone('is not the one recorded');
      throw new MigrateError(e.code, e.message, { subject, hint: e.hint, expected: `${asset.size} bytes, sha256 ${asset.hashes.sha256}`, actual: `${digests.size} bytes, sha256 ${digests.sha256}` });
    }
    return digests;
  }
}

/** One file link of a PEP 503 project page. */
export interface SimpleLink {
  /** The anchor's text, which PEP 503 says is the file name. */
  filename: string;
  /** The last segment of the href's path, decoded: the name pip goes by. */
  hrefName: string;
  /** The href without its fragment, unescaped. */
  href: string;
  /** From the `#<hashname>=<hex>` fragment, lower-case. */
  hashes: Record<string, string>;
  /** PEP 592 `data-yanked` (with any value, even none): pip passes the file over unless a requirement pins its version exactly. */
  yanked: boolean;
  /**
   * With a page URL given: the absolute URL pip fetches the file from (the href joined to the
   * page's first `<base href>`, else to the page URL), without its fragment; undefined when it
   * joins to no absolute URL (pip cannot fetch it either).
   */
  url?: string;
}

/**
 * The page's tokens as Python's html.parser (pip's parser) splits them: a
 * comment, a script or style start tag (its raw text skipped by `tokens`), an `<a>` start tag,
 * or any other tag; attribute values may be quoted and then hold `>`, `<a `,
 * `href=` or `<!--`. Anything else is text.
 */
const TOKENS = /<!--[\s\S]*?(?:--!?>|$)|<(script|style)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>|<a(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>|<base(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>|<\/?[a-z!?](?:[^>"']|"[^"]*"|'[^']*')*>/gi;
/** One attribute, as html.parser's attrfind_tolerant reads it. */
const ATTR = /([^\s/>][^\s/=>]*)(?:\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?/g;

/**
 * The links of a PEP 503 project page: `<a href="URL#sha256=HEX" ...>FILENAME</a>`,
 * exactly those pip sees (none inside a comment or a script; an attribute's
 * value never read as another attribute; of an attribute given twice, the
 * last, as pip's dict of them keeps). Attribute values and text are unescaped.
 * https://peps.python.org/pep-0503/  https://peps.python.org/pep-0592/
 * https://github.com/pypa/pip/blob/23.0.1/src/pip/_internal/index/collector.py (HTMLLinkParser)
 */
/**
 * The page's tokens in order, tried only where a `<` is. A tag that never ends (no `>` after
 * it, or a quote left open) ends the page: pip's parser is fed the page without close(), so it
 * waits for the rest of that tag and reads nothing after it. Stopping there is also what keeps
 * this linear: each such tag would otherwise be scanned to the page's end (a page of 50,000
 * `<a x` took minutes).
 */
function* tokens(html: string): Generator<RegExpExecArray> {
  const at = new RegExp(TOKENS.source, 'iy');
  for (let i = html.indexOf('<'); i >= 0; ) {
    at.lastIndex = i;
    const m = at.exec(html);
    if (m) {
      yield m;
      let next = at.lastIndex;
      if (m[1] !== undefined && !selfClosing(m[2]!)) {
        // raw text to the element's end tag; none, and the rest of the page is its text
        const end = new RegExp(`<\\/${m[1]}(?=[\\s/>])[^>]*>`, 'ig');
        end.lastIndex = next;
        if (!end.exec(html)) return;
        next = end.lastIndex;
      }
      i = html.indexOf('<', next);
    } else if (/[a-z!?/]/i.test(html.charAt(i + 1))) return;
    else i = html.indexOf('<', i + 1);
  }
}

/**
 * `<script/>`, `<style x="y" />`: html.parser takes a start tag ending in `/>` as a start-end tag,
 * with no raw text after it, unless that `/` is the end of an unquoted value (`<script src=x/>`).
 */
function selfClosing(attrs: string): boolean {
  if (!attrs.endsWith('/')) return false;
  let last: RegExpExecArray | undefined;
  for (const a of attrs.matchAll(ATTR)) last = a;
  return !(last && last.index + last[0].length === attrs.length && last[2] !== undefined && !/^['"]/.test(last[2]));
}

/** How far after an `<a>` its text (the file name, perhaps inside other tags) is looked for. */
const ANCHOR_TEXT_MAX = 4096;

/** A start tag's attributes as html.parser gives them: names lower-cased, values unquoted and unescaped, in order. */
function attributes(text: string): Array<[string, string]> {
  return [...text.matchAll(ATTR)].map((a) => {
    const raw = a[2] ?? '';
    const value = /^(['"])[\s\S]*\1$/.test(raw) ? raw.slice(1, -1) : raw;
    return [a[1]!.toLowerCase(), unescapeHtml(value)];
  });
}

/**
 * `pageUrl` (the URL the page was read from) gives each link its `url`: where pip fetches it.
 * pip joins every href to the page's first `<base>` with an href, wherever on the page it stands
 * (pip's HTMLLinkParser.handle_starttag, parse_links), else to the page URL.
 */
export function parseSimpleIndex(html: string, pageUrl?: string, keep?: (names: { filename: string; hrefName: string }) => boolean): SimpleLink[] {
  const links: SimpleLink[] = [];
  let base: string | undefined;
  for (const m of tokens(html)) {
    if (m[4] !== undefined) {
      // pip's get_href: the first href attribute
      base ??= attributes(m[4]).find(([n]) => n === 'href')?.[1];
      continue;
    }
    if (m[3] === undefined) continue; // not an <a> start tag
    // of an attribute given twice, the last, as pip's dict of them keeps
    const attrs = new Map<string, string>(attributes(m[3]));
    const url = attrs.get('href');
    if (url === undefined) continue;
    const hash = url.indexOf('#');
    const fragment = hash < 0 ? '' : url.slice(hash + 1);
    const hashes: Record<string, string> = {};
    const h = /^([A-Za-z0-9_-]+)=([0-9A-Fa-f]+)$/.exec(fragment);
    // pip takes the first `<algorithm>=` anywhere in the URL (pip 23.0: `name=(.*)`, 23.2: `[#&]name=([^&]*)`):
    // with one before the fragment (`?x&sha256=…#sha256=<ours>`) the fragment's is not what pip checks
    const earlier = /(?:sha512|sha384|sha256|sha224|sha1|md5)=/.test(hash < 0 ? url : url.slice(0, hash));
    if (h && !earlier) hashes[h[1]!.toLowerCase()] = h[2]!.toLowerCase();
    // the anchor's text runs to its end tag (pip needs none: it goes by the href), looked for in the
    // next ANCHOR_TEXT_MAX characters only: a page of anchors that are never closed would otherwise be
    // searched to its end once per anchor (a 7 MB page, minutes; the largest answer taken, hours)
    const after = m.index + m[0].length;
    const near = html.slice(after, after + ANCHOR_TEXT_MAX);
    const end = /<\/a\s*>/i.exec(near)?.index ?? 0;
    const text = unescapeHtml(near.slice(0, end).replace(/<[^>]*>/g, '')).trim();
    const path = hash < 0 ? url : url.slice(0, hash);
    const hrefName = pipFileName(url);
    // PEP 503: the text MUST be the file name; an empty anchor falls back to the URL's last segment.
    const filename = text || hrefName;
    // only the links asked for are kept: a page of millions of others is read in bounded memory
    if (keep && !keep({ filename, hrefName })) continue;
    links.push({ filename, hrefName, href: path, hashes, yanked: attrs.has('data-yanked') });
  }
  if (pageUrl !== undefined) for (const l of links) l.url = joinUrl(base ?? pageUrl, l.href);
  return links;
}

/** `href` joined to `base` (an absolute URL, or the join is none), without its fragment; undefined when that gives no absolute URL. */
function joinUrl(base: string, href: string): string | undefined {
  try {
    const u = new URL(href, new URL(base));
    u.hash = '';
    return u.href;
  } catch {
    return undefined;
  }
}

/**
 * Every archive pip takes as an sdist (pip/_internal/utils/filetypes.py: ZIP, BZ2,
 * XZ and TAR extensions), matched as pip does, case-insensitively.
 */
const PIP_SDIST = /^(.*)\.(?:zip|tar\.bz2|tbz|tar\.xz|txz|tlz|tar\.lz|tar\.lzma|tar\.gz|tgz|tar)$/is;

/** The version a file name of this project gives (an sdist in any archive pip takes, or a wheel), or undefined when it is no such file. */
function fileVersion(filename: string, project: string): string | undefined {
  const wheel = parseWheelName(filename);
  if (wheel) return normalizeProjectName(wheel.name) === project ? wheel.version : undefined;
  const stem = PIP_SDIST.exec(filename)?.[1];
  return stem === undefined ? undefined : splitSdistName(stem, project)?.version;
}

/**
 * The file name pip gives a link (pip's Link.filename over urllib.parse): leading controls and
 * spaces dropped, tabs and line breaks removed anywhere, fragment and query cut, the path
 * percent-decoded, trailing slashes stripped, its last segment percent-decoded once more; the
 * host when the path has none. `lib-1.0.tar.gz/` and `lib%252D1.0.tar.gz` are lib-1.0.tar.gz to pip.
 * https://github.com/pypa/pip/blob/23.2.1/src/pip/_internal/models/link.py (filename, path)
 */
function pipFileName(href: string): string {
  const url = href.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '').split('#')[0]!.split('?')[0]!;
  // a scheme goes (`https:lib-1.0.tar.gz` is relative to the page for urljoin), then a `//host`
  const rest = url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:/, '');
  const absolute = /^\/\/([^/]*)(.*)$/s.exec(rest);
  const netloc = absolute?.[1] ?? '';
  const segments: string[] = [];
  // dot segments resolved as urljoin does; past the href's start is the page's own folder, no file
  for (const seg of (absolute ? absolute[2]! : rest).split('/')) {
    if (seg === '..') segments.pop();
    else if (seg !== '.') segments.push(seg);
  }
  const name = unquote(segments.join('/')).replace(/\/+$/, '').split('/').pop()!;
  return unquote(name || netloc);
}

/** urllib.parse.unquote: each run of `%XX` decoded as UTF-8 (U+FFFD for bytes that are none), a broken `%` left as it is. */
function unquote(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

/**
 * The character references whose text is ASCII (Python's html.entities.html5): the only ones that
 * can spell a file name, a `#` or a `/` in an href. Those without `;` are HTML's legacy names,
 * which also count at the start of a longer name (`&ampx` is `&x`). Any other name gives text
 * outside ASCII to pip, and no file name of ours either way, so it is left as written.
 */
const ENTITIES = new Map<string, string>(Object.entries({
  AMP: '&', 'AMP;': '&', 'DiacriticalGrave;': '`', GT: '>', 'GT;': '>', 'Hat;': '^', LT: '<', 'LT;': '<', 'NewLine;': '\n',
  QUOT: '"', 'QUOT;': '"', 'Tab;': '\t', 'UnderBar;': '_', 'VerticalLine;': '|', amp: '&', 'amp;': '&', 'apos;': "'",
  'ast;': '*', 'bsol;': '\\', 'colon;': ':', 'comma;': ',', 'commat;': '@', 'dollar;': '$', 'equals;': '=', 'excl;': '!',
  'fjlig;': 'fj', 'grave;': '`', gt: '>', 'gt;': '>', 'lbrace;': '{', 'lbrack;': '[', 'lcub;': '{', 'lowbar;': '_',
  'lpar;': '(', 'lsqb;': '[', lt: '<', 'lt;': '<', 'midast;': '*', 'num;': '#', 'percnt;': '%', 'period;': '.', 'plus;': '+',
  'quest;': '?', quot: '"', 'quot;': '"', 'rbrace;': '}', 'rbrack;': ']', 'rcub;': '}', 'rpar;': ')', 'rsqb;': ']',
  'semi;': ';', 'sol;': '/', 'verbar;': '|', 'vert;': '|',
}));

/** Numeric references HTML reads as Windows-1252 (0x80-0x9F) or replaces (Python's html._invalid_charrefs). */
const CP1252 = '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

/** A numeric reference's text as Python's html.unescape gives it. */
function charref(code: number): string {
  if (code === 0) return '\ufffd';
  if (code === 0x0d) return '\r';
  if (code >= 0x80 && code <= 0x9f) return CP1252[code - 0x80]!;
  if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff || !Number.isFinite(code)) return '\ufffd';
  // Python's _invalid_codepoints: dropped
  if ((code >= 0x1 && code <= 0x8) || code === 0xb || (code >= 0xe && code <= 0x1f) || code === 0x7f || (code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe) return '';
  return String.fromCodePoint(code);
}

/**
 * Character references replaced as html.parser (pip's parser) does with attribute values
 * (Python's html.unescape): numeric ones with or without `;`, named ones by the longest name known.
 * https://github.com/python/cpython/blob/3.11/Lib/html/__init__.py
 */
function unescapeHtml(s: string): string {
  return s.replace(/&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g, (whole, e: string) => {
    if (e[0] === '#') {
      const digits = e.replace(/;$/, '');
      return charref(digits[1] === 'x' || digits[1] === 'X' ? parseInt(digits.slice(2), 16) : parseInt(digits.slice(1), 10));
    }
    // a Map: a page's `&constructor;` is no name of ours
    const named = ENTITIES.get(e);
    if (named !== undefined) return named;
    for (let x = e.length - 1; x > 1; x--) {
      const prefix = ENTITIES.get(e.slice(0, x));
      if (prefix !== undefined) return prefix + e.slice(x);
    }
    return whole;
  });
}

