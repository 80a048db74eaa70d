/**
 * The PyPI "legacy" upload form, exactly as twine POSTs it, streamed: the
 * module that sends it to CodeArtifact takes `contentType`, `contentLength`
 * and `body` from here. No HTTP in this file.
 *
 * Written by hand because no Node library speaks this form (DESIGN.md). The
 * field set is current twine's (6.2/7.0: `PackageFile.metadata_dictionary()`
 * in twine/package.py and `Repository._upload` in twine/repository.py):
 *  - `:action=file_upload`, `protocol_version=1`, `name` (pkg_resources'
 *    safe_name of the metadata Name), `version` (as the metadata writes it),
 *    `filetype`, `pyversion`, `sha256_digest`, `blake2_256_digest`, then the
 *    file itself as the part named `content` (application/octet-stream), last;
 *  - every core-metadata field the file's metadata holds, under twine's form
 *    names (Platform -> `platform`, Supported-Platform -> `supported_platform`,
 *    License-File -> `license_file`); multiple-use fields as repeated parts;
 *    Keywords joined with ", "; each Project-URL as "label, url";
 *  - fields the metadata does not hold are not sent at all, and License-File
 *    only from Metadata-Version 2.4 on (setuptools writes it into 2.1 files,
 *    where it means something else; twine drops it there);
 *  - no `md5_digest`: twine >= 6.2 no longer sends it (CODEARTIFACT.md).
 * twine 4.0.2 (Debian 12) differs: it sends every field it knows, empty when
 * absent, `md5_digest`, `provides_extras` (sic) and Keywords as written;
 * test/pypi-upload.test.ts compares both, field by field.
 * https://github.com/pypa/twine/blob/main/twine/package.py
 * https://github.com/pypa/twine/blob/main/twine/repository.py
 * https://warehouse.pypa.io/api-reference/legacy.html#upload-api
 *
 * Framing is requests_toolbelt's MultipartEncoder (urllib3 RequestField):
 * `--B\r\n` `Content-Disposition: form-data; name="n"\r\n` [`Content-Type:
 * t\r\n`] `\r\n` value `\r\n` for each part, then `--B--\r\n`.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pep440 from '@renovatebot/pep440';
import type { CoreMetadata, PythonFileType } from '../builders/python.js';
import { MigrateError } from '../errors.js';
import { Blake2bStream } from '../integrity/blake2.js';
import { HashingStream } from '../integrity/hashes.js';
import { readThrough, unreadableBlob } from '../read-through.js';

export interface UploadFile {
  path: string;
  /** The name the index stores it under (the part's filename). */
  filename: string;
  filetype: PythonFileType;
  /** `source` for an sdist, the wheel's python tag. */
  pyversion: string;
}

export interface UploadDigests {
  /** Lower-case hex. */
  sha256: string;
  /** BLAKE2b with a 32-byte digest (not a truncated blake2b512), lower-case hex. */
  blake2_256: string;
  size: number;
}

export interface UploadBody {
  /** `multipart/form-data; boundary=…`, for the Content-Type header. */
  contentType: string;
  /** The body's exact length in bytes, for the Content-Length header. */
  contentLength: number;
  boundary: string;
  /** The body, produced on demand: the file is streamed from disk. It errors, before the closing boundary, if the file changed since it was hashed. */
  body: Readable;
  /** The form fields before the file, in order. */
  fields: Array<[string, string]>;
  digests: UploadDigests;
}

/** twine's form name for each RawMetadata field, in the order twine 4.0.2's metadata_dictionary() lists them. */
const FORM_FIELDS: ReadonlyArray<readonly [keyof CoreMetadata, string]> = [
  ['summary', 'summary'],
  ['home_page', 'home_page'],
  ['author', 'author'],
  ['author_email', 'author_email'],
  ['maintainer', 'maintainer'],
  ['maintainer_email', 'maintainer_email'],
  ['license', 'license'],
  ['description', 'description'],
  ['keywords', 'keywords'],
  ['platforms', 'platform'],
  ['classifiers', 'classifiers'],
  ['download_url', 'download_url'],
  ['supported_platforms', 'supported_platform'],
  ['provides', 'provides'],
  ['requires', 'requires'],
  ['obsoletes', 'obsoletes'],
  ['project_urls', 'project_urls'],
  ['provides_dist', 'provides_dist'],
  ['obsoletes_dist', 'obsoletes_dist'],
  ['requires_dist', 'requires_dist'],
  ['requires_external', 'requires_external'],
  ['requires_python', 'requires_python'],
  ['provides_extra', 'provides_extra'],
  ['description_content_type', 'description_content_type'],
  ['dynamic', 'dynamic'],
  ['license_expression', 'license_expression'],
  ['license_files', 'license_file'],
];

/** pkg_resources.safe_name, which twine applies to the Name it sends (twine/package.py _safe_name). */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9.]+/g, '-');
}

/** The form fields before the `content` part, as twine would send them for this file. Pure. */
export function uploadFields(file: UploadFile, metadata: CoreMetadata, digests: UploadDigests): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ['name', safeName(metadata.name)],
    ['version', metadata.version],
    ['filetype', file.filetype],
    ['pyversion', file.pyversion],
    ['metadata_version', metadata.metadata_version],
  ];
  // License-File before 2.4 is setuptools' own (twine/package.py from_filename).
  const mv = metadata.metadata_version;
  const licenseFilesCount = pep440.valid(mv) !== null && pep440.gte(mv, '2.4');
  for (const [key, form] of FORM_FIELDS) {
    const value = metadata[key];
    if (value === undefined) continue;
    if (key === 'license_files' && !licenseFilesCount) continue;
    if (key === 'keywords') fields.push([form, (value as string[]).join(', ')]);
    else if (key === 'project_urls') for (const [label, url] of value as Array<[string, string]>) fields.push([form, `${label}, ${url}`]);
    else if (Array.isArray(value)) for (const v of value as string[]) fields.push([form, v]);
    else fields.push([form, value as string]);
  }
  fields.push(['sha256_digest', digests.sha256], ['blake2_256_digest', digests.blake2_256], [':action', 'file_upload'], ['protocol_version', '1']);
  return fields;
}

/** sha256 and BLAKE2b-256 of a file, streamed once. */
export async function uploadDigests(path: string): Promise<UploadDigests> {
  const sha = new HashingStream();
  const b2 = new Blake2bStream(32);
  await pipeline(createReadStream(path), sha, b2, new Writable({ write: (_c, _e, done) => done() }));
  const { hashes, size } = sha.digest();
  return { sha256: hashes.sha256, blake2_256: b2.hex(), size };
}

/**
 * The whole upload request body for one file, streamed, with its exact
 * length. Pass `digests` when they are already known (they must be of the
 * file as it is on disk: the stream re-hashes and fails on a difference).
 */
export async function multipartUploadBody(
  file: UploadFile,
  metadata: CoreMetadata,
  opts: { boundary?: string; digests?: UploadDigests } = {},
): Promise<UploadBody> {
  // a blob gone since its check (the state directory emptied under the run): the next run gets it again, as when
  // its reading fails later (readThrough); never ELOCAL's "free space", nor a stop of the whole run
  const gone = (e: unknown) => Promise.reject(unreadableBlob(e, file.filename));
  const digests = opts.digests ?? (await uploadDigests(file.path).catch(gone));
  const size = (await stat(file.path).catch(gone)).size;
  if (size !== digests.size) throw changed(file, `its size is ${size} bytes, not the ${digests.size} that were hashed`);
  // requests_toolbelt uses uuid4().hex: 32 lower-case hex digits, which no field value is likely to contain.
  const boundary = opts.boundary ?? randomBytes(16).toString('hex');
  const fields = uploadFields(file, metadata, digests);
  const head = Buffer.concat([
    ...fields.map(([name, value]) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`, 'utf8')),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${quote(file.filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`, 'utf8'),
  ]);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  for (const [, value] of fields) {
    if (value.includes(`--${boundary}`)) throw new MigrateError('EBADBUILD', `${file.filename}: a metadata field contains the multipart boundary`, { hint: 'use another boundary' });
  }
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: head.length + size + tail.length,
    boundary,
    body: Readable.from(bodyChunks(file, head, tail, digests), { objectMode: false }),
    fields,
    digests,
  };
}

async function* bodyChunks(file: UploadFile, head: Buffer, tail: Buffer, digests: UploadDigests): AsyncGenerator<Buffer> {
  yield head;
  const hasher = new HashingStream();
  let sent = 0;
  for await (const chunk of readThrough(file.path, 256 * 1024, hasher, file.filename)) {
    const c = chunk as Buffer;
    sent += c.length;
    if (sent > digests.size) throw changed(file, `it grew past the ${digests.size} bytes that were hashed`);
    yield c;
  }
  const { hashes } = hasher.digest();
  if (sent !== digests.size || hashes.sha256 !== digests.sha256) {
    // Failing before the closing boundary leaves the request short of its Content-Length: the server cannot take it as complete.
    throw changed(file, sent !== digests.size ? `it shrank to ${sent} bytes` : `its sha256 is now ${hashes.sha256}`);
  }
  yield tail;
}

function changed(file: UploadFile, how: string): MigrateError {
  return new MigrateError('ELOCAL', `${file.filename} changed on disk after it was hashed: ${how}`, { hint: 'something else writes to the build directory; rerun' });
}

/** urllib3's HTML5 parameter quoting (format_header_param_html5), which requests_toolbelt uses for names and file names. */
function quote(value: string): string {
  return value.replace(/["\\\x00-\x1a\x1c-\x1f]/g, (c) => (c === '"' ? '%22' : c === '\\' ? '\\\\' : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`));
}
