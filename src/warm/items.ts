/**
 * Lockfile entries into warm items: one item per registry package version (an
 * npm alias and its real package are the same bytes, so the same item), one
 * per non-registry entry (listed, never requested), each with every lockfile
 * that names it and what those lockfiles pin to check the bytes with.
 */
import { normalizeProjectName } from '../builders/python-metadata.js';
import type { LockEntry } from '../lockfiles/index.js';
import type { CollectedLockfile } from './inputs.js';
import type { InternalNames } from './internal.js';
import { itemKey, type ItemKind, type WarmItem } from './types.js';

/** The item an entry stands for (not yet merged with the others). */
export function itemOf(e: LockEntry, internal: InternalNames): Omit<WarmItem, 'files'> {
  const registryName = e.kind === 'alias' && e.aliasFor ? e.aliasFor : e.name;
  const name = e.ecosystem === 'pypi' ? normalizeProjectName(registryName) : registryName;
  let kind: ItemKind = e.kind === 'alias' ? 'registry' : e.kind;
  if (kind === 'registry' && e.bundled) kind = 'bundled';
  const expected = {
    ...(e.integrity ? { integrity: e.integrity } : {}),
    ...(e.hashes?.length ? { hashes: [...e.hashes].sort() } : {}),
    ...(e.yarnChecksum ? { yarnChecksum: e.yarnChecksum } : {}),
    ...(e.h1 ? { h1: e.h1 } : {}),
  };
  const item: Omit<WarmItem, 'files'> = {
    ecosystem: e.ecosystem,
    name,
    displayName: registryName,
    // a link or workspace pins no version: where it points is what tells two apart
    version: e.version || (kind === 'registry' ? '' : (e.resolved ?? '')),
    kind,
    internal: kind === 'registry' && internal.has(e.ecosystem, registryName),
    expected,
  };
  if (kind === 'bundled') item.note = "bundled: it comes inside its parent's tarball, never fetched on its own";
  else if (kind !== 'registry') item.note = `${kind}${e.resolved ? `: ${e.resolved}` : ''}`;
  return item;
}

export interface ItemPlan {
  items: WarmItem[];
  /** Per lockfile (by path), the keys of the items it names. */
  byLockfile: Map<string, Set<string>>;
}

/** Every collected lockfile's entries as deduplicated items. */
export function planItems(lockfiles: readonly CollectedLockfile[], internal: InternalNames): ItemPlan {
  const items = new Map<string, WarmItem>();
  const byLockfile = new Map<string, Set<string>>();
  for (const { ref, result } of lockfiles) {
    const keys = new Set<string>();
    byLockfile.set(ref.path, keys);
    for (const e of result.entries) {
      const it = itemOf(e, internal);
      const key = itemKey(it);
      keys.add(key);
      const seen = items.get(key);
      if (!seen) {
        items.set(key, { ...it, files: [ref.path] });
        continue;
      }
      if (!seen.files.includes(ref.path)) seen.files.push(ref.path);
      // the first file's integrity wins; hashes are every file's allowed set
      if (!seen.expected.integrity && it.expected.integrity) seen.expected.integrity = it.expected.integrity;
      if (!seen.expected.yarnChecksum && it.expected.yarnChecksum) seen.expected.yarnChecksum = it.expected.yarnChecksum;
      if (it.expected.hashes) seen.expected.hashes = [...new Set([...(seen.expected.hashes ?? []), ...it.expected.hashes])].sort();
    }
  }
  return { items: [...items.values()], byLockfile };
}
