/**
 * Whether a zip holds an entry of a given name, read from its central directory (what go's
 * archive/zip reads) while the zip streams past: only its last `maxTail` bytes are kept, so a
 * zip is never held whole. Local headers are not walked: a stored file may hold any bytes,
 * a zip inside it among them, and entries written with data descriptors (yazl, go's own
 * zips) say their size only after their data.
 * https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT (4.3.12 to 4.3.16)
 */
import { createHash } from 'node:crypto';

const EOCD = 0x06054b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;

/**
 * `true` or `false` when the central directory says, `undefined` when it cannot be read: more
 * than `maxBytes` came, the bytes are not those of `sha256`, no end record, or a central
 * directory larger than the tail kept.
 */
export async function zipHasEntry(stream: AsyncIterable<Buffer>, name: string, limits: { maxBytes: number; maxTail: number; sha256: string }): Promise<boolean | undefined> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    // the loop's end destroys the stream
    if (total > limits.maxBytes) return undefined;
    hash.update(chunk);
    chunks.push(chunk);
    kept += chunk.length;
    while (chunks.length > 1 && kept - chunks[0]!.length >= limits.maxTail) kept -= chunks.shift()!.length;
  }
  if (hash.digest('hex') !== limits.sha256.toLowerCase()) return undefined;
  const tail = Buffer.concat(chunks);
  return centralDirectoryHas(tail, total - tail.length, Buffer.from(name, 'utf8'));
}

/** `tail` is the zip from byte `base` to its end. */
function centralDirectoryHas(tail: Buffer, base: number, name: Buffer): boolean | undefined {
  // the end record, then a comment of at most 65535 bytes
  let eocd = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0 && i >= tail.length - EOCD_SIZE - 0xffff; i--) {
    if (tail.readUInt32LE(i) === EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) <= tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  let entries = tail.readUInt16LE(eocd + 10);
  let offset = tail.readUInt32LE(eocd + 16);
  if (entries === 0xffff || offset === 0xffffffff || tail.readUInt32LE(eocd + 12) === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || tail.readUInt32LE(locator) !== ZIP64_LOCATOR) return undefined;
    const record = Number(tail.readBigUInt64LE(locator + 8)) - base;
    if (record < 0 || record + 56 > tail.length || tail.readUInt32LE(record) !== ZIP64_EOCD) return undefined;
    entries = Number(tail.readBigUInt64LE(record + 32));
    offset = Number(tail.readBigUInt64LE(record + 48));
  }
  let p = offset - base;
  if (p < 0) return undefined;
  for (let i = 0; i < entries; i++) {
    if (p + 46 > tail.length || tail.readUInt32LE(p) !== CENTRAL) return undefined;
    const nameLength = tail.readUInt16LE(p + 28);
    const end = p + 46 + nameLength;
    if (end > tail.length) return undefined;
    if (tail.subarray(p + 46, end).equals(name)) return true;
    p = end + tail.readUInt16LE(p + 30) + tail.readUInt16LE(p + 32);
  }
  return false;
}
