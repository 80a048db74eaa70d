/**
 * Python core metadata and distribution names: reading PKG-INFO out of an
 * sdist and METADATA out of a wheel (streamed, bounded), parsing the RFC 822
 * form, and the PEP 503 / PEP 440 name and version rules the checks use.
 * https://packaging.python.org/en/latest/specifications/core-metadata/
 */
import pep440 from '@renovatebot/pep440';
import yauzl from 'yauzl';
import { MigrateError, toError, type ErrorCode } from '../errors.js';
import { printable } from '../redact.js';
import { readTarEntry } from '../tar-entry.js';

/**
 * Core metadata as `packaging.metadata.RawMetadata` holds it (the same field
 * names), which is what current twine sends from: single fields as strings,
 * multiple-use fields as lists, Keywords split on commas, Project-URL as
 * (label, url) pairs in file order.
 * https://packaging.pypa.io/en/stable/metadata.html
 */
export interface CoreMetadata {
  metadata_version: string;
  name: string;
  version: string;
  summary?: string;
  description?: string;
  description_content_type?: string;
  keywords?: string[];
  home_page?: string;
  download_url?: string;
  author?: string;
  author_email?: string;
  maintainer?: string;
  maintainer_email?: string;
  license?: string;
  license_expression?: string;
  license_files?: string[];
  classifiers?: string[];
  platforms?: string[];
  supported_platforms?: string[];
  requires_dist?: string[];
  requires_python?: string;
  requires_external?: string[];
  project_urls?: Array<[label: string, url: string]>;
  provides_extra?: string[];
  provides_dist?: string[];
  obsoletes_dist?: string[];
  requires?: string[];
  provides?: string[];
  obsoletes?: string[];
  dynamic?: string[];
  import_names?: string[];
  import_namespaces?: string[];
}

/** PEP 503: lower case, runs of `-`, `_`, `.` become one `-`. https://peps.python.org/pep-0503/#normalized-names */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** A valid project name: https://packaging.python.org/en/latest/specifications/name-normalization/ */
export function isValidProjectName(name: string): boolean {
  return /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i.test(name);
}

/**
 * The PEP 440 normal form of a tag's version (`v1.0` -> `1.0`, `1.0-RC1` ->
 * `1.0rc1`, `1.0+Local_A` -> `1.0+local.a`), as `str(packaging.version.Version(v))`
 * gives it; undefined when it is not a PEP 440 version. Pure.
 * (pep440's clean() spells a local part with commas, so that part is taken from explain().)
 * https://peps.python.org/pep-0440/#normalization
 */
export function normalizePep440(version: string): string | undefined {
  const v = version.trim();
  let normal: string;
  try {
    if (v === '' || pep440.valid(v) === null) return undefined;
    const cleaned = pep440.clean(v);
    const parts = pep440.explain(v);
    if (cleaned === null || parts === null) return undefined;
    const publicPart = cleaned.split('+')[0]!;
    normal = parts.local ? `${publicPart}+${parts.local}` : publicPart;
  } catch {
    // the library throws on some numbers it cannot hold (`1.0.<30 digits>`)
    return undefined;
  }
  // pep440 reads each number as a JavaScript number: past 2^53 it comes back rounded
  // (`99999999999999999999` as `100000000000000000000`, `1.0.<30 nines>` as `1.0.1e`), another
  // version than the tag's. Python holds them exactly; here such a version is none.
  const long = (v.match(/\d{16,}/g) ?? []).map((d) => d.replace(/^0+(?=\d)/, '')).filter((d) => d.length >= 16);
  return long.every((d) => normal.includes(d)) ? normal : undefined;
}

/** True when both are PEP 440 versions and equal as versions (`1.0` == `1.0.0`, `1.0+a` != `1.0`). */
export function samePep440(a: string, b: string): boolean {
  const x = normalizePep440(a);
  const y = normalizePep440(b);
  return x !== undefined && y !== undefined && pep440.eq(x, y);
}

/**
 * One string for all the spellings of an equal version (`1.0`, `1.0.0`, `0!1.0.0.0` give `1`;
 * `1.0+a` gives `1+a`, not `1`): the normal form with the release segment's trailing `.0`s
 * stripped, as packaging.utils.canonicalize_version does; undefined when it is no PEP 440 version.
 * https://packaging.pypa.io/en/stable/utils.html#packaging.utils.canonicalize_version
 */
export function pep440Key(version: string): string | undefined {
  const normal = normalizePep440(version);
  // the normal form: [N!]release[pre][.postN][.devN][+local], epoch 0 left out
  const m = normal === undefined ? null : /^(\d+!)?(\d+(?:\.\d+)*)(.*)$/s.exec(normal);
  return m ? `${m[1] ?? ''}${m[2]!.replace(/(\.0)+$/, '')}${m[3]}` : undefined;
}


/**
 * `<name>-<version>` of an sdist: the name may hold `-` (older setuptools keeps
 * `my-lib-1.0.tar.gz`), so every split point is tried; the one whose name part
 * is this project wins. PEP 625 names (`my_lib-1.0.tar.gz`) split the same way.
 */
export function splitSdistName(stem: string, expectedNormalizedName: string): { name: string; version: string } | undefined {
  let found: { name: string; version: string } | undefined;
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    const name = stem.slice(0, i);
    const ver = stem.slice(i + 1);
    // white space in either part: pip could not read the name (and a version spelled with it is no file name)
    if (normalizeProjectName(name) === expectedNormalizedName && ver !== '' && !/\s/.test(stem)) found ??= { name, version: ver };
  }
  return found;
}

/**
 * `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`. The
 * distribution part cannot hold `-`; older tools leave `.` in it
 * (`Acme.Tiny_Lib-1.0-py3-none-any.whl`), so it is compared normalised.
 */
export function parseWheelName(filename: string): { name: string; version: string; build?: string; python: string; abi: string; platform: string } | undefined {
  if (!filename.endsWith('.whl')) return undefined;
  const parts = filename.slice(0, -'.whl'.length).split('-');
  if (parts.length !== 5 && parts.length !== 6) return undefined;
  // pip's own pattern: no part empty or holding white space (pip ignores such a file)
  if (parts.some((p) => p === '' || /\s/.test(p))) return undefined;
  const [name, version] = parts as [string, string];
  const build = parts.length === 6 ? parts[2] : undefined;
  const [python, abi, platform] = parts.slice(-3) as [string, string, string];
  if (build !== undefined && !/^\d/.test(build)) return undefined;
  if (normalizePep440(version) === undefined) return undefined;
  if (![python, abi, platform].every((t) => /^[A-Za-z0-9_.]+$/.test(t))) return undefined;
  return { name, version, ...(build !== undefined ? { build } : {}), python, abi, platform };
}

export type Fail = (message: string, init?: { code?: ErrorCode; hint?: string; expected?: string; actual?: string }) => MigrateError;

/**
 * `<stem>/PKG-INFO` from an sdist, streamed. Every entry must sit under the
 * one top-level `<stem>/` directory (twine refuses an sdist with more than one
 * top-level member); PKG-INFO must be a regular file and smaller than the limit.
 */
export async function readSdistPkgInfo(path: string, stem: string, limits: { metadata: number; unpacked: number }, fail: Fail): Promise<Buffer> {
  const want = `${stem}/PKG-INFO`;
  let seen = false;
  const found = await readTarEntry(path, {
    maxUnpackedBytes: limits.unpacked,
    pastEnd: () => fail('the sdist holds entries after a zero block, where pip, twine and tar end the archive: they would not see them', { hint: 'the backend or the build command wrote a broken tar: fix it at the source, or skip this version under versions: in the job file' }),
    tooLarge: () => fail(`the sdist unpacks to more than ${limits.unpacked} bytes`, { code: 'ETOOLARGE', hint: 'no sdist of a real project is that large unpacked (a decompression bomb, or a build that packs far more than the project): fix what the build packs, or skip this version under versions: in the job file' }),
    decide: (entry) => {
      const p = entry.path.replace(/\/$/, '');
      if (p !== stem && !p.startsWith(`${stem}/`)) return fail(`the sdist holds ${JSON.stringify(entry.path)} outside its ${stem}/ directory`);
      if (p !== want) return 'skip';
      if (seen) return fail(`the sdist holds ${want} twice`);
      seen = true;
      if (!['File', 'OldFile', 'ContiguousFile'].includes(entry.type)) return fail(`the sdist's ${want} is a ${entry.type}, not a file`);
      if (entry.size > limits.metadata) return fail(`${want} is ${entry.size} bytes`, { code: 'ETOOLARGE', expected: `at most ${limits.metadata} bytes`, actual: `${entry.size} bytes` });
      return 'take';
    },
  }).catch((e: unknown) => {
    if (e instanceof MigrateError) throw e;
    throw fail(`the sdist cannot be read: ${toError(e).message}`);
  });
  if (!found) throw fail(`the sdist has no ${want}`, { hint: 'twine and pip need <name>-<version>/PKG-INFO; the backend did not write one' });
  return found;
}

/** The most of a wheel's WHEEL file read for its `Generator:` (a few lines in every wheel). */
const MAX_WHEEL_FILE = 64 * 1024;

/**
 * The wheel's one top-level `*.dist-info/METADATA`, bounded in size, and the `Generator:`
 * its WHEEL file names (the backend and its version, `bdist_wheel (0.38.4)`, `hatchling
 * 1.12.2`), when it has one: what a rebuild of the tag needs to give the same bytes.
 */
export async function readWheelMetadata(path: string, maxBytes: number, fail: Fail): Promise<{ dir: string; data: Buffer; generator?: string }> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (e) {
    throw fail(`the wheel cannot be read as a zip: ${toError(e).message}`);
  }
  try {
    let found: yauzl.Entry | undefined;
    const wheelFiles = new Map<string, yauzl.Entry>();
    // pip takes the one top-level *.dist-info folder and refuses a wheel with more (pip/_internal/utils/wheel.py wheel_dist_info_dir)
    let infoDir: string | undefined;
    for (;;) {
      const entry = await nextEntry(zip);
      if (!entry) break;
      const top = entry.fileName.split('/', 1)[0]!;
      if (top.endsWith('.dist-info') && top !== (infoDir ??= top)) {
        throw fail(`the wheel has more than one .dist-info folder (${[infoDir, top].sort().map((d) => printable(d).slice(0, 200)).join(', ')}): pip installs none of it`);
      }
      if (/^[^/]+\.dist-info\/(WHEEL|RECORD)$/.test(entry.fileName)) wheelFiles.set(entry.fileName, entry);
      if (!/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) continue;
      if (found) throw fail(`the wheel holds two METADATA files (${found.fileName}, ${entry.fileName})`);
      found = entry;
    }
    if (!found) throw fail('the wheel has no <name>-<version>.dist-info/METADATA');
    if (found.uncompressedSize > maxBytes) {
      throw fail(`${found.fileName} is ${found.uncompressedSize} bytes`, { code: 'ETOOLARGE', expected: `at most ${maxBytes} bytes`, actual: `${found.uncompressedSize} bytes` });
    }
    const chunks: Buffer[] = [];
    let n = 0;
    // yauzl checks the inflated size against the declared one (validateEntrySizes), so the bound holds.
    for await (const c of await zip.openReadStreamPromise(found)) {
      n += (c as Buffer).length;
      if (n > maxBytes) throw fail(`${found.fileName} is larger than ${maxBytes} bytes`, { code: 'ETOOLARGE', expected: `at most ${maxBytes} bytes` });
      chunks.push(c as Buffer);
    }
    const dir = found.fileName.split('/')[0]!;
    // pip installs a wheel only with a WHEEL file whose Wheel-Version is 1.x (pip/_internal/utils/wheel.py
    // wheel_metadata, wheel_version, check_compatibility): any other would be published for nobody to install
    const wheel = wheelFiles.get(`${dir}/WHEEL`);
    if (!wheel) throw fail(`the wheel has no ${dir}/WHEEL: pip will not install it`);
    if (wheel.uncompressedSize > MAX_WHEEL_FILE) throw fail(`${dir}/WHEEL is ${wheel.uncompressedSize} bytes`, { code: 'ETOOLARGE', expected: `at most ${MAX_WHEEL_FILE} bytes` });
    const parts: Buffer[] = [];
    for await (const c of await zip.openReadStreamPromise(wheel)) parts.push(c as Buffer);
    const wheelText = Buffer.concat(parts).toString('utf8');
    const wheelVersion = /^Wheel-Version:[ \t]*(.*?)[ \t]*$/im.exec(wheelText)?.[1];
    if (wheelVersion === undefined || !/^1(?:\.\d+)*$/.test(wheelVersion)) {
      throw fail(`${dir}/WHEEL says Wheel-Version ${wheelVersion === undefined ? '(none)' : JSON.stringify(printable(wheelVersion).slice(0, 40))}: pip installs 1.x only`, { expected: 'Wheel-Version: 1.x' });
    }
    await checkRecord(zip, wheelFiles.get(`${dir}/RECORD`), dir, fail);
    const line = /^Generator:[ \t]*(.*?)[ \t]*$/m.exec(wheelText)?.[1];
    const generator = line ? printable(line).slice(0, 200) : undefined;
    return { dir, data: Buffer.concat(chunks), ...(generator ? { generator } : {}) };
  } catch (e) {
    if (e instanceof MigrateError) throw e;
    throw fail(`the wheel cannot be read: ${toError(e).message}`);
  } finally {
    zip.close();
  }
}

/** The most of a wheel's RECORD read: a line per file, far under this for any real wheel. */
const MAX_RECORD_FILE = 64 * 1024 * 1024;

/**
 * A wheel's RECORD: pip installs no wheel without one ("Could not install packages due to an
 * OSError: RECORD"), and an installer that uninstalls by it deletes what its rows name, so a row
 * that is absolute or climbs out with `..` names a file outside the install (uv up to 0.11.5
 * deleted it: GHSA-pjjw-68hj-v9mw). A row's hash is not checked: real backends have written
 * RECORDs with wrong hashes (uv_build 0.7's hex digests) that pip and uv install all the same.
 * https://packaging.python.org/en/latest/specifications/recording-installed-packages/#the-record-file
 */
async function checkRecord(zip: yauzl.ZipFile, record: yauzl.Entry | undefined, dir: string, fail: Fail): Promise<void> {
  if (!record) throw fail(`the wheel has no ${dir}/RECORD: pip will not install it`);
  if (record.uncompressedSize > MAX_RECORD_FILE) throw fail(`${dir}/RECORD is ${record.uncompressedSize} bytes`, { code: 'ETOOLARGE', expected: `at most ${MAX_RECORD_FILE} bytes` });
  const parts: Buffer[] = [];
  for await (const c of await zip.openReadStreamPromise(record)) parts.push(c as Buffer);
  for (const path of recordPaths(Buffer.concat(parts).toString('utf8'))) {
    const segments = path.split(/[\\/]/);
    if (/^[\\/]/.test(path) || /^[A-Za-z]:/.test(path) || segments.includes('..')) {
      throw fail(`${dir}/RECORD names ${JSON.stringify(printable(path).slice(0, 200))}, outside the install: an uninstall by it deletes that file`, {
        expected: 'paths inside the wheel',
        actual: printable(path).slice(0, 200),
      });
    }
  }
}

/** The first field of each RECORD row (CSV as Python's csv module writes it: a field may be quoted, `""` a quote inside). */
function recordPaths(text: string): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length; ) {
    let path: string;
    if (text[at] === '"') {
      let end = at + 1;
      path = '';
      for (;;) {
        const q = text.indexOf('"', end);
        if (q < 0) {
          path += text.slice(end);
          end = text.length;
          break;
        }
        path += text.slice(end, q);
        if (text[q + 1] === '"') {
          path += '"';
          end = q + 2;
        } else {
          end = q + 1;
          break;
        }
      }
      at = end;
    } else {
      const stop = text.slice(at).search(/[,\r\n]/);
      path = stop < 0 ? text.slice(at) : text.slice(at, at + stop);
      at = stop < 0 ? text.length : at + stop;
    }
    if (path !== '') out.push(path);
    const eol = text.slice(at).search(/\r\n|\n|\r/);
    if (eol < 0) break;
    at += eol + (text.startsWith('\r\n', at + eol) ? 2 : 1);
  }
  return out;
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolvePromise, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => (cleanup(), resolvePromise(entry));
    const onEnd = () => (cleanup(), resolvePromise(undefined));
    const onError = (err: Error) => (cleanup(), reject(err));
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

// ---------------------------------------------------------------------------
// Core metadata (PKG-INFO / METADATA)

/** Header name (lower case) -> RawMetadata key, as packaging.metadata maps them. */
const EMAIL_TO_RAW: Record<string, keyof CoreMetadata> = {
  author: 'author',
  'author-email': 'author_email',
  classifier: 'classifiers',
  description: 'description',
  'description-content-type': 'description_content_type',
  'download-url': 'download_url',
  dynamic: 'dynamic',
  'home-page': 'home_page',
  'import-name': 'import_names',
  'import-namespace': 'import_namespaces',
  keywords: 'keywords',
  license: 'license',
  'license-expression': 'license_expression',
  'license-file': 'license_files',
  maintainer: 'maintainer',
  'maintainer-email': 'maintainer_email',
  'metadata-version': 'metadata_version',
  name: 'name',
  obsoletes: 'obsoletes',
  'obsoletes-dist': 'obsoletes_dist',
  platform: 'platforms',
  'project-url': 'project_urls',
  provides: 'provides',
  'provides-dist': 'provides_dist',
  'provides-extra': 'provides_extra',
  requires: 'requires',
  'requires-dist': 'requires_dist',
  'requires-external': 'requires_external',
  'requires-python': 'requires_python',
  summary: 'summary',
  'supported-platform': 'supported_platforms',
  version: 'version',
};
const STRING_FIELDS = new Set<keyof CoreMetadata>([
  'author', 'author_email', 'description', 'description_content_type', 'download_url', 'home_page', 'license', 'license_expression',
  'maintainer', 'maintainer_email', 'metadata_version', 'name', 'requires_python', 'summary', 'version',
]);

/**
 * Parse PKG-INFO / METADATA as current twine does (packaging.metadata's
 * parse_email over Python's email parser with the compat32 policy):
 *  - a header runs until a blank line; a line starting with a space or tab
 *    continues the previous header, kept verbatim with its line break (a
 *    folded Description keeps its indentation); a line that is neither ends
 *    the headers and starts the body;
 *  - names are case-insensitive; single fields given twice, unknown fields and
 *    duplicate Project-URL labels go to `unparsed`;
 *  - the body is the description; a body and a Description header together
 *    both go to `unparsed`.
 * https://packaging.python.org/en/latest/specifications/core-metadata/
 * https://github.com/pypa/packaging/blob/main/src/packaging/metadata.py (parse_email)
 */
export function parseCoreMetadata(text: string): { metadata: Partial<CoreMetadata>; unparsed: Record<string, string[]> } {
  const headers: Array<{ name: string; lines: string[] }> = [];
  let body = '';
  let pos = 0;
  while (pos < text.length) {
    const m = /\r\n|\r|\n/g;
    m.lastIndex = pos;
    const eol = m.exec(text);
    const end = eol ? eol.index + eol[0].length : text.length;
    const line = text.slice(pos, end);
    const content = eol ? text.slice(pos, eol.index) : line;
    if (content === '') {
      body = text.slice(end);
      break;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      // A continuation with no header before it is dropped, as the email parser does.
      headers.at(-1)?.lines.push(line);
    } else if (/^[\x21-\x39\x3b-\x7e]*:/.test(line)) {
      // An empty name (a line starting with ':') is dropped, as the email parser does.
      headers.push({ name: line.slice(0, line.indexOf(':')), lines: [line] });
    } else {
      body = text.slice(pos);
      break;
    }
    pos = end;
  }

  const values = new Map<string, string[]>();
  for (const h of headers) {
    if (h.name === '') continue;
    const [first, ...rest] = h.lines;
    const value = (first!.slice(h.name.length + 1).replace(/^[ \t]+/, '') + rest.join('')).replace(/[\r\n]+$/, '');
    const key = h.name.toLowerCase();
    values.set(key, [...(values.get(key) ?? []), value]);
  }

  const metadata: Record<string, unknown> = {};
  const unparsed: Record<string, string[]> = {};
  for (const [key, vals] of values) {
    const raw = EMAIL_TO_RAW[key];
    if (raw === undefined) unparsed[key] = vals;
    else if (STRING_FIELDS.has(raw)) {
      if (vals.length === 1) metadata[raw] = vals[0];
      else unparsed[key] = vals;
    } else if (raw === 'keywords') {
      if (vals.length === 1) metadata[raw] = vals[0]!.split(',').map((k) => k.trim());
      else unparsed[key] = vals;
    } else if (raw === 'project_urls') {
      const pairs: Array<[string, string]> = [];
      for (const v of vals) {
        const comma = v.indexOf(',');
        pairs.push(comma < 0 ? [v.trim(), ''] : [v.slice(0, comma).trim(), v.slice(comma + 1).trim()]);
      }
      if (new Set(pairs.map(([label]) => label)).size === pairs.length) metadata[raw] = pairs;
      else unparsed[key] = vals;
    } else metadata[raw] = vals;
  }
  if (body !== '') {
    if (typeof metadata.description === 'string') {
      unparsed.description = [metadata.description, body];
      delete metadata.description;
    } else if (unparsed.description) unparsed.description.push(body);
    else metadata.description = body;
  }
  return { metadata: metadata as Partial<CoreMetadata>, unparsed };
}
