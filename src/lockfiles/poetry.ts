/**
 * poetry.lock (https://python-poetry.org/docs/basic-usage/#installing-with-poetrylock):
 * one `[[package]]` per pinned distribution with `name`, `version`, `optional`,
 * `category = "main" | "dev"` (poetry < 1.5) or `groups` (poetry 2), the
 * allowed `files = [{file, hash}]` (poetry >= 1.2; older files keep them in
 * `[metadata.files]`, keyed by name), and a `[package.source]` for anything
 * not from PyPI: `legacy` (another index: still a registry), `git`, `url`,
 * `file`, `directory` (with `develop = true` when installed in place).
 */
import { isRecord, lockError, pep503, str } from './read.js';
import { packageHeaderLines, packageTables, parseToml } from './toml.js';
import type { EntryKind, LockEntry, LockOrigin, ParseOutput } from './types.js';

export function parsePoetryLock(text: string, file: string): ParseOutput {
  const doc = parseToml(text, file);
  const lines = packageHeaderLines(text);
  const metadata = isRecord(doc.metadata) ? doc.metadata : {};
  const legacyFiles = isRecord(metadata.files) ? metadata.files : {};
  const entries = packageTables(doc, file).map((p, i): LockEntry => {
    const at: LockOrigin = { file, line: lines[i], path: `package[${i}]` };
    const name = str(p.name);
    const version = str(p.version);
    if (!name) throw lockError({ ...at, path: `${at.path}.name` }, 'no name');
    if (!version) throw lockError({ ...at, path: `${at.path}.version` }, 'no version');
    const source = isRecord(p.source) ? p.source : undefined;
    const type = str(source?.type);
    let kind: EntryKind;
    switch (type) {
      case undefined:
      case 'legacy':
        kind = 'registry';
        break;
      case 'git':
        kind = 'git';
        break;
      case 'url':
        kind = 'url';
        break;
      case 'file':
        kind = 'file';
        break;
      case 'directory':
        kind = p.develop === true ? 'link' : 'file';
        break;
      default:
        throw lockError({ ...at, path: `${at.path}.source.type` }, `unknown source type ${JSON.stringify(type)}`);
    }
    const e: LockEntry = { ecosystem: 'pypi', name, normalizedName: pep503(name), version, kind, from: [at] };
    const url = str(source?.url);
    if (url && type !== 'legacy') e.resolved = type === 'git' ? `${url}#${str(source?.resolved_reference) ?? str(source?.reference) ?? ''}` : url;
    else if (url) e.resolved = url;
    const files = Array.isArray(p.files) ? p.files : Array.isArray(legacyFiles[name]) ? (legacyFiles[name] as unknown[]) : [];
    const hashes = files.map((f) => (isRecord(f) ? str(f.hash) : undefined)).filter((h): h is string => !!h);
    if (hashes.length) e.hashes = hashes;
    const named = Object.fromEntries(files.flatMap((f) => (isRecord(f) && str(f.file) && str(f.hash) ? [[str(f.file)!, str(f.hash)!]] : [])));
    if (Object.keys(named).length) e.fileHashes = named;
    const groups = Array.isArray(p.groups) ? p.groups.filter((g): g is string => typeof g === 'string') : undefined;
    if (p.category === 'dev' || (groups && groups.length && !groups.includes('main'))) e.dev = true;
    if (p.optional === true) e.optional = true;
    return e;
  });
  const v = isRecord(doc.metadata) ? str(doc.metadata['lock-version']) : undefined;
  return { formatVersion: v, entries, warnings: [] };
}
