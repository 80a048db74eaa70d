/**
 * What an edit to the job file between runs means for the rows the state holds:
 * a package the job no longer names leaves rows behind that no listing of this
 * run speaks for; that is not the source removing anything.
 */
import type { SourceConfig } from '../config/schema.js';
import type { StateDb } from '../state/db.js';
import type { RunSummary } from './events.js';
import { ON_TARGET } from './package.js';

/**
 * Does the job still ask this source for this package? An npm registry migrates
 * what its `packages` and `scopes` name: a name in neither was taken out of the
 * job, whatever the registry still serves. A git repository is one package (or a
 * Go module per major version) that its tags name: what it no longer lists is gone
 * from the repository, not from the job.
 */
export function jobNamesPackage(source: SourceConfig, name: string): boolean {
  switch (source.kind) {
    case 'npm-registry':
      return source.packages.includes(name) || source.scopes.some((scope) => name.startsWith(`${scope}/`));
    case 'git':
      return true;
    default: {
      const never: never = source;
      throw new Error(`unknown source kind ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Set aside what a run left of the packages the job no longer names (per source), once
 * their interrupted publishes are settled, and say per package what is on the target,
 * what was never migrated, and what is still unsettled (a publish whose answer was lost
 * and which the target did not settle: the summary's `selected` counts it, so exit 1).
 */
export function setAsideDropped(state: StateDb, dropped: ReadonlyMap<string, readonly string[]>): RunSummary['notInJob'] {
  const out: RunSummary['notInJob'] = [];
  for (const [source, names] of dropped) {
    if (names.length === 0) continue;
    state.recordPackagesDropped(source, names);
    for (const name of names) {
      const rows = state.items('source_id = ? AND package = ?', source, name);
      if (rows.length === 0) continue; // a list error only: gone with its package row
      out.push({
        source,
        package: name,
        onTarget: rows.filter((r) => ON_TARGET.has(r.state)).length,
        notMigrated: rows.filter((r) => r.state === 'excluded' && r.last_error_code === 'ENOTINJOB').map((r) => r.version),
        unsettled: rows.filter((r) => r.state === 'publishing' || r.state === 'published').map((r) => r.version),
      });
    }
  }
  return out.sort((a, b) => a.source.localeCompare(b.source) || a.package.localeCompare(b.package));
}
