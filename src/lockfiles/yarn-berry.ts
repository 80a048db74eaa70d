/**
 * yarn.lock of yarn berry (v2+; `__metadata.version` 4 and up), read with
 * yarn's own `parseSyml` from `@yarnpkg/parsers`.
 *
 * Each block is keyed by the descriptors that resolved to it
 * (`"a@npm:^1.0.0, a@npm:^1.1.0":`) and has `resolution: "name@<protocol>:…"`
 * (https://yarnpkg.com/protocols): `npm:` registry, `workspace:`, `patch:`
 * (a package with a patch applied, incl. yarn's built-in compat patches),
 * `link:`/`portal:` (a folder linked in place), `file:`, git URLs, other URLs,
 * `exec:`. An alias is a descriptor `local@npm:real@range` whose block
 * resolves to `real@npm:x.y.z`. `checksum` is a hash of yarn's zip cache
 * archive, not an SRI of the registry tarball (see LockEntry.yarnChecksum).
 */
import { parseSyml } from '@yarnpkg/parsers';
import { toError } from '../errors.js';
import { isRecord, lockError, splitAt, str, yarnKeyLines } from './read.js';
import { isGitUrl } from './npm-spec.js';
import type { EntryKind, LockEntry, LockOrigin, LockWarning, ParseOutput } from './types.js';

export function parseYarnBerry(text: string, file: string): ParseOutput {
  let doc: unknown;
  try {
    doc = parseSyml(text);
  } catch (e) {
    throw lockError({ file, line: symlErrorLine(e) }, `not a yarn.lock: ${toError(e).message.split('\n')[0]?.slice(0, 200)}`, { cause: e });
  }
  if (!isRecord(doc) || !isRecord(doc.__metadata)) throw lockError({ file, line: 1 }, 'not a yarn berry lockfile: no __metadata');
  const formatVersion = String(doc.__metadata.version ?? '');
  const lines = yarnKeyLines(text);
  const entries: LockEntry[] = [];
  const warnings: LockWarning[] = [];
  for (const [key, block] of Object.entries(doc)) {
    if (key === '__metadata') continue;
    const descriptors = key.split(',').map((d) => d.trim());
    const at: LockOrigin = { file, line: lines.get(descriptors[0] ?? key), path: key };
    if (!isRecord(block)) throw lockError(at, 'not a block');
    const resolution = str(block.resolution);
    const version = str(block.version) ?? '';
    if (!resolution) throw lockError(at, 'no resolution');
    const split = splitAt(resolution);
    if (!split) throw lockError(at, `cannot read the resolution ${JSON.stringify(resolution)}`);
    const [name, ref] = split;
    const kind = kindOfReference(ref);
    if (!kind) {
      warnings.push({ ...at, message: `unknown protocol in ${JSON.stringify(resolution)}: left out` });
      continue;
    }
    if (kind === 'workspace' && ref === 'workspace:.') continue; // the project itself
    if (kind === 'registry' && !version) throw lockError(at, 'no version');
    const checksum = str(block.checksum) ?? (typeof block.checksum === 'number' ? String(block.checksum) : undefined);
    const base: Omit<LockEntry, 'name' | 'normalizedName' | 'kind'> = { ecosystem: 'npm', version, from: [at] };
    if (kind !== 'registry') base.resolved = ref;
    else {
      // yarn writes the tarball's URL into the resolution (`npm:1.2.3::__archiveUrl=<encoded URL>`)
      // when the registry serves it elsewhere than its conventional path: the one place a berry
      // lockfile names a registry (NpmSemverResolver in yarnpkg/berry's plugin-npm)
      const archive = archiveUrl(ref);
      if (archive) base.resolved = archive;
    }
    if (checksum) base.yarnChecksum = checksum;
    // One block, several names: the resolved package, and each alias that points at it.
    let direct = false;
    const aliases = new Set<string>();
    for (const d of descriptors) {
      const dn = splitAt(d)?.[0];
      if (dn === name || dn === undefined) direct = true;
      else aliases.add(dn);
    }
    if (direct || kind !== 'registry') entries.push({ ...base, name, normalizedName: name, kind });
    if (kind === 'registry') for (const a of aliases) entries.push({ ...base, from: [...base.from], name: a, normalizedName: a, kind: 'alias', aliasFor: name });
  }
  return { formatVersion, entries, warnings };
}

/** The `__archiveUrl` parameter of an `npm:` reference, decoded; undefined when there is none or it does not decode. */
function archiveUrl(ref: string): string | undefined {
  const params = ref.indexOf('::');
  if (params === -1) return undefined;
  const raw = new URLSearchParams(ref.slice(params + 2)).get('__archiveUrl');
  return raw && /^https?:\/\//i.test(raw) ? raw : undefined;
}

function kindOfReference(ref: string): EntryKind | undefined {
  const protocol = /^([a-z+]+):/.exec(ref)?.[1];
  if (isGitUrl(ref)) return 'git';
  switch (protocol) {
    case 'npm':
      return 'registry';
    case 'workspace':
      return 'workspace';
    case 'patch':
      return 'patch';
    case 'link':
    case 'portal':
      return 'link';
    case 'file':
    case 'exec':
      return 'file';
    case 'http':
    case 'https':
      return 'url';
    default:
      return undefined;
  }
}

/** 1-based line from parseSyml's errors: js-yaml's `mark.line` (0-based) or the PEG parser's `location.start.line`. */
function symlErrorLine(e: unknown): number | undefined {
  if (!isRecord(e)) return undefined;
  if (isRecord(e.mark) && typeof e.mark.line === 'number') return e.mark.line + 1;
  if (isRecord(e.location) && isRecord(e.location.start) && typeof e.location.start.line === 'number') return e.location.start.line;
  return undefined;
}
