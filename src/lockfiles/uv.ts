/**
 * uv.lock (https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile):
 * `version = 1`, one `[[package]]` per distribution with `name`, `version`,
 * `source = { registry = url } | { git = url } | { url = … } | { path = … } |
 * { directory = … } | { editable = … } | { virtual = … }`, and the allowed
 * files: `sdist = { url, hash, size }`, `wheels = [{ url, hash, size }]`.
 * The project itself is the package whose editable/virtual source is `.`.
 */
import { isRecord, lockError, pep503, str } from './read.js';
import { packageHeaderLines, packageTables, parseToml } from './toml.js';
import type { EntryKind, LockEntry, LockOrigin, ParseOutput } from './types.js';

const SOURCE_KINDS: Record<string, EntryKind> = {
  registry: 'registry',
  git: 'git',
  url: 'url',
  path: 'file',
  directory: 'file',
  editable: 'link',
  virtual: 'workspace',
};

export function parseUvLock(text: string, file: string): ParseOutput {
  const doc = parseToml(text, file);
  if (typeof doc.version !== 'number') throw lockError({ file, line: 1, path: 'version' }, 'not a uv.lock: no `version`');
  const lines = packageHeaderLines(text);
  const entries: LockEntry[] = [];
  packageTables(doc, file).forEach((p, i) => {
    const at: LockOrigin = { file, line: lines[i], path: `package[${i}]` };
    const name = str(p.name);
    if (!name) throw lockError({ ...at, path: `${at.path}.name` }, 'no name');
    const source = isRecord(p.source) ? p.source : undefined;
    const type = source ? Object.keys(source).find((k) => k in SOURCE_KINDS) : undefined;
    if (!source || !type) throw lockError({ ...at, path: `${at.path}.source` }, `no known source (${Object.keys(SOURCE_KINDS).join(', ')})`);
    const where = str(source[type]) ?? '';
    if ((type === 'editable' || type === 'virtual') && (where === '.' || where === '')) return; // the project itself
    const kind = SOURCE_KINDS[type]!;
    const version = str(p.version) ?? '';
    if (!version && kind === 'registry') throw lockError({ ...at, path: `${at.path}.version` }, 'no version');
    const e: LockEntry = { ecosystem: 'pypi', name, normalizedName: pep503(name), version, kind, resolved: where, from: [at] };
    const hashes: string[] = [];
    const named: Record<string, string> = {};
    for (const f of [p.sdist, ...(Array.isArray(p.wheels) ? p.wheels : [])]) {
      if (!isRecord(f) || !str(f.hash)) continue;
      hashes.push(str(f.hash)!);
      const fileName = str(f.filename) ?? urlFileName(str(f.url) ?? str(f.path));
      if (fileName) named[fileName] = str(f.hash)!;
    }
    if (hashes.length) e.hashes = hashes;
    if (Object.keys(named).length) e.fileHashes = named;
    entries.push(e);
  });
  return { formatVersion: String(doc.version), entries, warnings: [] };
}

/** The file name at the end of a wheel's or sdist's URL (or path), decoded; undefined when there is none. */
function urlFileName(where: string | undefined): string | undefined {
  if (!where) return undefined;
  const last = where.replace(/[?#].*$/, '').split('/').pop() ?? '';
  try {
    return decodeURIComponent(last) || undefined;
  } catch {
    return last || undefined;
  }
}
