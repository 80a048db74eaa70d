/**
 * What an edit to the job file between runs means for the rows the state holds:
 * a package the job no longer names, and a source whose `id` was renamed. Both
 * leave rows behind that no listing of this run speaks for; neither is the
 * source removing anything.
 */
import type { SourceConfig } from '../config/schema.js';
import { MigrateError } from '../errors.js';
import type { Source } from '../sources/index.js';
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
 * A source of the job with no rows, while rows of an id the job no longer has came
 * from the same registry or repository: its `id` was renamed. Rows are keyed by
 * the source's id (it is recorded with every version and in the ledger), so the
 * renamed source would read every version it migrated again, record versions this
 * tool published as `present-identical` from a new source, and count each twice.
 * Refused (ECONFIG) before anything is written; the job is fixed by putting the
 * recorded id back. An npm source counts as renamed only when the old rows hold a
 * package it names: a new source on the same registry for other packages is new.
 */
export function refuseRenamedSources(state: StateDb, sources: ReadonlyMap<string, Source>, configs: readonly SourceConfig[], jobFile: string): void {
  const withRows = new Set(state.recordedSourceIds());
  const inJob = new Set(configs.map((c) => c.id));
  const orphans = [...withRows].filter((id) => !inJob.has(id));
  if (orphans.length === 0) return;
  for (const [id, source] of sources) {
    if (withRows.has(id)) continue;
    const config = configs.find((c) => c.id === id)!;
    // a git repository can hold several packages, one source each (a monorepo's folders): a new
    // source of it is the old one renamed only when it names the package the old rows hold (one
    // that takes its name from the repository cannot be told apart before listing: not refused)
    const holds = (pkg: string) => (config.kind === 'git' ? config.package !== undefined && config.package === pkg : jobNamesPackage(config, pkg));
    const same = orphans.flatMap((o) => state.recordedPackages(o, source.url)).filter((r) => holds(r.package));
    const old = [...new Set(same.map((r) => r.source))];
    if (old.length === 0) continue;
    const versions = same.reduce((n, r) => n + r.versions, 0);
    const where = source.kind === 'git' ? 'repository' : 'registry';
    throw new MigrateError(
      'ECONFIG',
      `${jobFile}: source "${id}" has no rows in the state, but the rows of source ${old.map((o) => `"${o}"`).join(', ')}, which the job no longer has, hold ${versions} version(s) of the same ${where} (${source.url}): its id was renamed. A source's id is recorded with every version it migrated; under a new id every version would be read again, recorded a second time and counted twice`,
      {
        hint: `rename source "${id}" back to "${old[0]}" in the job file (the id is a label: it may stay what it was first run with); to migrate that ${where} as a separate source after all, give it a state of its own (another job name or --state-dir)`,
      },
    );
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
