/**
 * Pipfile.lock (https://pipenv.pypa.io/en/latest/pipfile.html#pipfile-lock):
 * JSON with `_meta` and one object per category (`default`, `develop`, and since
 * pipenv 2023 any named category), each `name -> { version: "==1.2.3", hashes,
 * markers, extras, index }`, or `{ git, ref }`, `{ path | file, editable }` for
 * what is not on an index.
 */
import { atJson, isRecord, lockError, parseJson, pep503, str } from './read.js';
import type { EntryKind, LockEntry, LockOrigin, ParseOutput } from './types.js';

/** The line of each `"<category>": { "<name>": {` (pipenv writes 4-space indented JSON). */
function keyLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let section = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    const top = /^ {4}"([^"]+)": \{/.exec(l);
    if (top?.[1]) section = top[1];
    const pkg = /^ {8}"([^"]+)": \{/.exec(l);
    if (pkg?.[1]) out.set(`${section}\0${pkg[1]}`, i + 1);
  }
  return out;
}

export function parsePipfileLock(text: string, file: string): ParseOutput {
  const doc = parseJson(text, file);
  if (!isRecord(doc) || !isRecord(doc._meta)) throw lockError({ file, line: 1 }, 'not a Pipfile.lock: no _meta');
  const lines = keyLines(text);
  const entries: LockEntry[] = [];
  // the indexes: a package names its own (`index`), else it comes from the first (pipenv
  // searches only the default one unless told otherwise); recorded as `resolved`, as uv's
  const sources = (Array.isArray(doc._meta.sources) ? doc._meta.sources : []).filter(isRecord);
  // an index name the lockfile does not list (pipenv reads the Pipfile's sources, not these) cannot be
  // told for public: kept as the name, no URL (warm lists its pins private). Taken for PyPI, they were
  // requested through the store by name. pipenv's own default source, `pypi`, needs no listing.
  const indexUrl = (name: string | undefined) => {
    const source = name === undefined ? sources[0] : sources.find((x) => str(x.name) === name);
    if (source === undefined && name !== undefined && !(name === 'pypi' && !sources.length)) return `${JSON.stringify(name)} (not in _meta.sources)`;
    return str(source?.url);
  };
  for (const [category, section] of Object.entries(doc)) {
    if (category === '_meta') continue;
    if (!isRecord(section)) throw lockError(atJson({ file, path: category }, text, [category]), 'not an object');
    for (const [name, meta] of Object.entries(section)) {
      const at: LockOrigin = { file, line: lines.get(`${category}\0${name}`), path: `${category}[${JSON.stringify(name)}]` };
      if (!isRecord(meta)) throw lockError(atJson(at, text, [category, name]), 'not an object');
      let kind: EntryKind = 'registry';
      let version = '';
      let resolved: string | undefined;
      const pinned = str(meta.version);
      if (typeof meta.git === 'string') {
        kind = 'git';
        resolved = meta.git;
        version = str(meta.ref) ?? '';
      } else if (typeof meta.path === 'string' || typeof meta.file === 'string') {
        resolved = str(meta.path) ?? str(meta.file);
        kind = /^https?:/i.test(resolved ?? '') ? 'url' : meta.editable === true ? 'link' : 'file';
      } else {
        const m = pinned ? /^===?(\S+)$/.exec(pinned) : null;
        if (!m?.[1]) throw lockError(atJson({ ...at, line: undefined, path: `${at.path}.version` }, text, [category, name, 'version']), `not pinned: ${JSON.stringify(pinned ?? null)}`);
        version = m[1];
        resolved = indexUrl(str(meta.index));
      }
      const e: LockEntry = { ecosystem: 'pypi', name, normalizedName: pep503(name), version, kind, from: [at] };
      if (resolved) e.resolved = resolved;
      const hashes = Array.isArray(meta.hashes) ? meta.hashes.filter((h): h is string => typeof h === 'string') : [];
      if (hashes.length) e.hashes = hashes;
      if (str(meta.markers)) e.marker = str(meta.markers);
      if (Array.isArray(meta.extras)) e.extras = meta.extras.filter((x): x is string => typeof x === 'string');
      if (category === 'develop') e.dev = true;
      entries.push(e);
    }
  }
  const spec = isRecord(doc._meta) ? doc._meta['pipfile-spec'] : undefined;
  return { formatVersion: spec === undefined ? undefined : String(spec), entries, warnings: [] };
}
