/**
 * A small multipart/form-data parser (RFC 7578 over RFC 2046), enough for the upload form twine
 * sends: every field is a part with `Content-Disposition: form-data; name="..."`, the file part also
 * has `filename="..."` and `Content-Type: application/octet-stream`. A field may repeat
 * (`classifiers`, `requires_dist`, ...: twine sends one part per list item).
 * What twine 4.0.2 (requests-toolbelt's MultipartEncoder) puts on the wire: CRLF line ends, a hex
 * boundary, empty strings for empty metadata, no part at all for a None or empty list.
 * https://www.rfc-editor.org/rfc/rfc7578 https://www.rfc-editor.org/rfc/rfc2046#section-5.1.1
 */

export interface FormPart {
  name: string;
  /** present on file parts */
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** The boundary of a `multipart/form-data` Content-Type, or undefined for any other type. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const params = parameters(contentType.slice(contentType.indexOf(';') + 1));
  const boundary = params.get('boundary');
  // RFC 2046: 1..70 characters.
  return boundary !== undefined && boundary.length >= 1 && boundary.length <= 70 ? boundary : undefined;
}

export function parseFormData(body: Buffer, boundary: string): FormPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const between = Buffer.from(`\r\n--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos !== 0 && (pos < 2 || body[pos - 1] !== 0x0a)) throw new MultipartError('no opening boundary');
  pos += delimiter.length;
  const parts: FormPart[] = [];
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // "--": the close delimiter
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++; // transport padding
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new MultipartError('boundary not followed by CRLF');
    pos += 2;
    const end = body.indexOf(between, pos);
    if (end < 0) throw new MultipartError('part without a closing boundary (truncated body?)');
    parts.push(parsePart(body.subarray(pos, end)));
    pos = end + between.length;
  }
}

function parsePart(raw: Buffer): FormPart {
  // Headers end at the first empty line; a part may have none (then it starts with CRLF).
  const headerEnd = raw.subarray(0, 2).equals(Buffer.from('\r\n')) ? 0 : raw.indexOf('\r\n\r\n');
  if (headerEnd < 0) throw new MultipartError('part without a header/body separator');
  const headers = new Map<string, string>();
  for (const line of raw.subarray(0, headerEnd).toString('utf8').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const data = raw.subarray(headerEnd === 0 ? 2 : headerEnd + 4);
  const disposition = headers.get('content-disposition');
  if (disposition === undefined || !/^\s*form-data\s*(;|$)/i.test(disposition)) throw new MultipartError('part without Content-Disposition: form-data');
  const params = parameters(disposition.slice(disposition.indexOf(';') + 1));
  const name = params.get('name');
  if (name === undefined) throw new MultipartError('part without a name');
  const part: FormPart = { name, data };
  const filename = params.get('filename*') ?? params.get('filename');
  if (filename !== undefined) part.filename = filename;
  const contentType = headers.get('content-type');
  if (contentType !== undefined) part.contentType = contentType;
  return part;
}

/** `a=b; c="d \" e"; f*=utf-8''%C3%A9` -> lower-cased names to decoded values. */
function parameters(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))\s*(?:;|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[0] !== '') {
    const key = (m[1] ?? '').toLowerCase();
    let value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim();
    // RFC 5987 extended value (`filename*=utf-8''...`), which some clients send for non-ASCII names.
    const ext = key.endsWith('*') ? /^([^']*)'[^']*'(.*)$/.exec(value) : null;
    if (ext?.[2] !== undefined) {
      try {
        value = decodeURIComponent(ext[2]);
      } catch {
        throw new MultipartError(`bad percent-encoding in ${key}`);
      }
    }
    out.set(key, value);
  }
  return out;
}
