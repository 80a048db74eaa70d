/**
 * Every migrated Go version against every go.sum line the job's consumers
 * have for it: their builds will check what they download against exactly
 * those lines, so a difference is a build that breaks after cutover (or a
 * module that was not what they used). A critical finding: exit 1.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { MigrateError } from '../errors.js';
import { parseGoSum, type GoSumLine } from '../lockfiles/gosum.js';
import { globFiles } from '../lockfiles/walk.js';
import type { ItemRow } from '../state/db.js';
import type { RunSummary } from './events.js';

/**
 * go.sum files named by the job (paths or globs, relative to the job file's folder). A glob is
 * walked as warm.lockfiles' are (globFiles): a linked folder below its base is not followed
 * (`svc/x -> /` walked the whole machine), node_modules and the like are not entered.
 */
export function goSumFiles(jobFile: string, patterns: readonly string[]): string[] {
  const base = dirname(resolve(jobFile));
  const files = new Set<string>();
  for (const p of patterns) {
    const abs = isAbsolute(p) ? p : resolve(base, p);
    if (!/[*?[{]/.test(p)) files.add(abs);
    else for (const f of globFiles(abs)) files.add(f);
  }
  return [...files].sort();
}

export function checkGoSums(files: readonly string[], items: readonly ItemRow[]): RunSummary['goSum'] {
  const result: RunSummary['goSum'] = { files: files.length, checked: 0, mismatches: [], errors: [] };
  const lines: GoSumLine[] = [];
  for (const f of files) {
    try {
      // one by one: spread as arguments, a go.sum of some 150,000 lines (13 MB of the 64 MiB allowed)
      // overflowed the stack and the whole file was reported unreadable
      for (const l of parseGoSum(f)) lines.push(l);
    } catch (e) {
      result.errors.push({ file: f, message: e instanceof MigrateError ? e.message : String(e) });
    }
  }
  const byKey = new Map<string, GoSumLine[]>();
  for (const l of lines) {
    const k = `${l.module} ${l.version}`;
    const list = byKey.get(k);
    if (list) list.push(l);
    else byKey.set(k, [l]);
  }
  for (const r of items) {
    if (!r.facts) continue;
    const facts = JSON.parse(r.facts) as { module?: string; h1?: string; goModH1?: string };
    if (!facts.module || !facts.h1) continue;
    for (const l of byKey.get(`${facts.module} ${r.version}`) ?? []) {
      // go compares h1 lines alone (a hash of another kind, h2: one day, is one it does not know): so do we
      if (!l.hash.startsWith('h1:')) continue;
      result.checked++;
      const built = l.goMod ? facts.goModH1 : facts.h1;
      if (built !== l.hash) result.mismatches.push({ module: facts.module, version: r.version, file: l.file, line: l.line, kind: l.goMod ? 'go.mod' : 'zip', goSum: l.hash, built: built ?? '' });
    }
  }
  return result;
}
