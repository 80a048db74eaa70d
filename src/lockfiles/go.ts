/**
 * go.sum as lockfile entries: one entry per module version, with the `h1:` of
 * its zip and of its go.mod. A version with only a `/go.mod` line was needed
 * only for its go.mod (to compute the build list) and is never downloaded
 * whole (https://go.dev/ref/mod#go-sum-files); it has no `h1`.
 */
import { parseGoSumText } from './gosum.js';
import type { LockEntry, ParseOutput } from './types.js';

export function parseGoSumLock(text: string, file: string): ParseOutput {
  const byVersion = new Map<string, LockEntry>();
  for (const l of parseGoSumText(text, file, 'ELOCKFILE')) {
    const key = `${l.module} ${l.version}`;
    let e = byVersion.get(key);
    if (!e) {
      e = { ecosystem: 'go', name: l.module, normalizedName: l.module, version: l.version, kind: 'registry', from: [{ file, line: l.line }] };
      byVersion.set(key, e);
    }
    if (l.goMod) e.goModH1 = l.hash;
    else e.h1 = l.hash;
  }
  return { entries: [...byVersion.values()], warnings: [] };
}
