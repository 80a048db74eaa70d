/**
 * What an edit to the job file between runs means for the rows the state holds:
 * a package the job no longer names, a source whose `id` was renamed, and a source
 * whose format changed under its id. Each leaves rows behind that no listing of this
 * run speaks for; none is the source removing anything.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeProjectName } from '../builders/python-metadata.js';
import { compileFilters } from '../config/filters.js';
import type { GitSourceConfig, JobConfig, SourceConfig } from '../config/schema.js';
import { MigrateError } from '../errors.js';
import type { Source } from '../sources/index.js';
import { peekState, type StateDb } from '../state/db.js';
import { targetDifferences, type TargetIdentity } from '../state/target.js';
import type { ItemState } from '../types.js';
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

/** States of versions a run has already left out: the filters leaving them out changes nothing of them. */
const LEFT_OUT: ReadonlySet<ItemState> = new Set(['excluded', 'skipped', 'removed']);

/** Why the job file no longer asks for a version: its package is no longer named, or the filters now leave it out. */
export type NotAsked = 'not-named' | 'filters';

/**
 * Whether the job file asks for a version now, as the next run takes it: `not-named` for every
 * version of a package an npm source no longer names, `filters` for a version the filters now
 * leave out that is not yet recorded as left out (one `excluded`, `skipped` or `removed` is
 * counted as it stands), undefined when the job asks for it. The run's summary, `status` and the
 * report count and list by this one rule, so they tell one story of the same state.
 */
export function notAskedBy(config: { sources: readonly SourceConfig[]; filters: Pick<JobConfig['filters'], 'include' | 'exclude'> }): (r: { source_id: string; package: string; version: string; state: string }) => NotAsked | undefined {
  const configOf = new Map(config.sources.map((c) => [c.id, c]));
  const selects = compileFilters(config.filters);
  return (r) => {
    const source = configOf.get(r.source_id);
    if (source && !jobNamesPackage(source, r.package)) return 'not-named';
    return !selects(r.package, r.version) && !LEFT_OUT.has(r.state as ItemState) ? 'filters' : undefined;
  };
}

/** A package's versions the job file no longer asks for, by where each stands (`never`: never published, nor begun). */
export interface NotAskedPackage {
  source: string;
  package: string;
  why: NotAsked;
  onTarget: number;
  never: string[];
  publishBegun: string[];
  unsettled: string[];
}

/**
 * The active sources' versions split by whether the job file asks for them now (notAskedBy):
 * per-state counts of those it asks for, and the others per package. `status` and the run's
 * summary both count by it, so they tell one story of the same state. Only a few columns per
 * version are read (a job of 10,000 versions holds no row whole).
 */
export function splitByAsked(state: StateDb, active: readonly string[], notAsked: ReturnType<typeof notAskedBy>): { counts: Record<string, number>; out: Set<number>; notAskedPackages: NotAskedPackage[] } {
  const counts: Record<string, number> = {};
  const out = new Set<number>();
  const packages = new Map<string, NotAskedPackage>();
  for (const r of state.workKeys()) {
    if (!active.includes(r.source_id)) continue;
    const why = notAsked(r);
    if (why === undefined) {
      counts[r.state] = (counts[r.state] ?? 0) + 1;
      continue;
    }
    out.add(r.id);
    const k = JSON.stringify([r.source_id, r.package]);
    const d = packages.get(k) ?? packages.set(k, { source: r.source_id, package: r.package, why, onTarget: 0, never: [], publishBegun: [], unsettled: [] }).get(k)!;
    if (ON_TARGET.has(r.state as ItemState)) d.onTarget++;
    else if (r.state === 'publishing' || r.state === 'published') d.unsettled.push(r.version);
    else (r.attempts > 0 ? d.publishBegun : d.never).push(r.version);
  }
  const notAskedPackages = [...packages.values()].sort((a, b) => a.source.localeCompare(b.source) || a.package.localeCompare(b.package));
  return { counts, out, notAskedPackages };
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
 * A git source: see rowsReadAgain.
 */
export function refuseRenamedSources(state: StateDb, sources: ReadonlyMap<string, Source>, configs: readonly SourceConfig[], jobFile: string): void {
  const withRows = new Set(state.recordedSourceIds());
  const inJob = new Set(configs.map((c) => c.id));
  const orphans = [...withRows].filter((id) => !inJob.has(id));
  if (orphans.length === 0) return;
  for (const [id, source] of sources) {
    if (withRows.has(id)) continue;
    const config = configs.find((c) => c.id === id)!;
    const same = orphans.flatMap((o) => rowsReadAgain(state, config, o, source.url));
    const old = [...new Set(same.map((r) => r.source))];
    if (old.length === 0) continue;
    const versions = same.reduce((n, r) => n + r.versions, 0);
    const where = source.kind === 'git' ? 'repository' : 'registry';
    const folder = config.kind === 'git' && config.package === undefined ? `, ${config.directory ? `folder ${config.directory}` : 'its root'}, ${config.format}` : '';
    throw new MigrateError(
      'ECONFIG',
      `${jobFile}: source "${id}" has no rows in the state, but the rows of source ${old.map((o) => `"${o}"`).join(', ')}, which the job no longer has, hold ${versions} version(s) of the same ${where} (${source.url}${folder}): its id was renamed. A source's id is recorded with every version it migrated; under a new id every version would be read again, recorded a second time and counted twice`,
      {
        hint: `rename source "${id}" back to "${old[0]}" in the job file (the id is a label: it may stay what it was first run with); to migrate that ${where} as a separate source after all, give it a state of its own (another job name or --state-dir)`,
      },
    );
  }
}

/**
 * A git PyPI source whose `package` is now spelled another way than the one its versions
 * are recorded under (`Acme_Billing` for `acme-billing`): one project to PyPI and to
 * CodeArtifact (PEP 503), but rows are keyed by the name as written, so every version
 * would be read again under the new spelling, found on the target (`present-identical`,
 * though this tool published it), counted twice, and the old spelling's versions reported
 * removed at the source. Refused (ECONFIG) before anything is written, as a renamed id is.
 * https://peps.python.org/pep-0503/#normalized-names
 */
export function refuseRespelledPackages(state: StateDb, sources: ReadonlyMap<string, Source>, configs: readonly SourceConfig[], jobFile: string): void {
  for (const id of sources.keys()) {
    const config = configs.find((c) => c.id === id)!;
    if (config.kind !== 'git' || config.format !== 'pypi' || config.package === undefined) continue;
    const wanted = normalizeProjectName(config.package);
    const names = new Set(state.items("source_id = ? AND format = 'pypi'", id).map((r) => r.package));
    // rows under the spelling the job gives: it was run with it (a state from before this check may hold both)
    if (names.has(config.package)) continue;
    const recorded = [...names].filter((p) => normalizeProjectName(p) === wanted);
    if (recorded.length === 0) continue;
    throw new MigrateError(
      'ECONFIG',
      `${jobFile}: source "${id}" names its package "${config.package}", but its versions are recorded under ${recorded.map((p) => `"${p}"`).join(', ')}, the same PyPI project (${wanted}); under the new spelling every version would be read again, recorded a second time and counted twice`,
      { subject: config.package, hint: `spell package "${recorded[0]}" on source "${id}" in the job file, as it was first run with (PyPI and CodeArtifact take every spelling of a name as one project)` },
    );
  }
}

/**
 * A source whose format changed under the same id (a git source `lib` that built a Go
 * module now builds an npm package from another repository, or pypi turned npm): rows
 * are keyed by the id, and the source now lists none of what its old format recorded,
 * so every one of those versions would be reported removed at the source (ESOURCEREMOVED,
 * skipped tags too), which it is not. Refused (ECONFIG) before anything is written, as a
 * renamed id is. Told by the format the state recorded for the source (StateDb.recordSources)
 * with versions under it; a state from before that record by its rows alone: refused only
 * when none is in the job's format now (rows of both say nothing of which came last).
 * Not a format change: an npm registry source turned into a git npm source (or back), the
 * same package built from its repository instead: both record format npm, and the package
 * goes on under its rows (though what the new source does not list, a version the registry
 * had and no tag gives, is then reported removed at the source).
 */
export function refuseReformattedSources(state: StateDb, sources: ReadonlyMap<string, Source>, configs: readonly SourceConfig[], jobFile: string): void {
  for (const id of sources.keys()) {
    const config = configs.find((c) => c.id === id)!;
    const now = jobFormat(config);
    const recorded = state.recordedFormats(id);
    const shape = state.recordedSource(id);
    const was = shape === undefined ? undefined : shape.kind === 'git' ? String(shape.shape.format) : 'npm';
    const old =
      was !== undefined
        ? recorded.filter((r) => was !== now && r.format === rowFormat(was))
        : recorded.some((r) => r.format === rowFormat(now))
          ? []
          : recorded;
    if (old.length === 0) continue;
    const versions = old.reduce((n, r) => n + r.versions, 0);
    const names = [...new Set(old.flatMap((r) => r.packages))];
    const packages = `${names.slice(0, 3).map((p) => `"${p}"`).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
    const before = was ?? old.map((r) => spelled(r.format)).join(', ');
    throw new MigrateError(
      'ECONFIG',
      `${jobFile}: source "${id}" is now format ${now} (${config.url}), but the state holds ${versions} version(s) of it recorded as format ${before} (${packages}): under one id the source would list none of them, and every one would be reported removed at the source, which it is not`,
      {
        subject: id,
        hint: `give the ${now} source an id of its own in the job file (the versions recorded under "${id}" then stay in the state as they are, no longer read by the job, and the target keeps what was migrated), or put format ${before} back on source "${id}"`,
      },
    );
  }
}

/** The format a source is written with in the job file (an npm registry's is npm). */
function jobFormat(config: SourceConfig): string {
  return config.kind === 'git' ? config.format : 'npm';
}

/** The format its versions are recorded under: a Go module's in CodeArtifact's generic format. */
function rowFormat(format: string): string {
  return format === 'go' ? 'generic' : format;
}

/** A recorded format as the job file writes it. */
function spelled(format: string): string {
  return format === 'generic' ? 'go' : format;
}

/**
 * The rows of `orphan` (an id the job no longer has) listed from `url` that the job's
 * source `config` would read again under its own id: none when it is another source of
 * the same URL. A git repository can hold several packages, one source each (a monorepo's
 * folders): a git source with `package` is the orphan renamed when the orphan's rows hold
 * that package; one without is when the orphan read the same folder (sameFolder).
 */
function rowsReadAgain(state: StateDb, config: SourceConfig, orphan: string, url: string): { source: string; package: string; versions: number }[] {
  const rows = state.recordedPackages(orphan, url);
  if (rows.length === 0) return [];
  switch (config.kind) {
    case 'npm-registry':
      return rows.filter((r) => jobNamesPackage(config, r.package));
    case 'git':
      // the same name in another format (a Python and an npm package of one repository) is another package
      if (config.package !== undefined) return rows.filter((r) => r.package === config.package && r.format === (config.format === 'go' ? 'generic' : config.format));
      return sameFolder(state, config, orphan, url) ? rows : [];
    default: {
      const never: never = config;
      throw new Error(`unknown source kind ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Whether the orphan's rows from `url` came from what this git source without `package`
 * reads. Its package name comes from the repository (package.json, go.mod in `directory`)
 * at each tag, unknown before the fetch, so the rename is told by where the rows came from:
 * the same URL, format and folder build the same package whatever `tags` picks (two such
 * sources would claim one name, and neither would migrate: ENAMECLAIMED), while another
 * folder of the same monorepo is another package and a new source. A false refusal stops
 * a run, so whatever is in doubt is not refused:
 * - the state records each source's format, folder and `package` (StateDb.recordSources):
 *   the orphan is this source renamed only when it had the same format and folder and no
 *   `package` either (one with `package` may have named another package than the folder's);
 * - a state from before that record has the rows alone: their format and, for a version
 *   built, the folder it was built from (facts.recipe). The orphan is this source renamed
 *   only when every row has this format, at least one was built, and every one built came
 *   from this folder (Go: or a v2+ module's vN/ folder in it). Rows never built say
 *   nothing of their folder: not refused.
 */
function sameFolder(state: StateDb, config: GitSourceConfig, orphan: string, url: string): boolean {
  const recorded = state.recordedSource(orphan);
  if (recorded) return recorded.kind === 'git' && recorded.shape.format === config.format && recorded.shape.directory === config.directory && recorded.shape.package === undefined;
  const format = config.format === 'go' ? 'generic' : config.format;
  const builds = state.recordedBuilds(orphan, url);
  if (builds.length === 0 || builds.some((b) => b.format !== format)) return false;
  const folders = builds.flatMap((b) => (b.recipe === null ? [] : [recipeDirectory(b.recipe)]));
  const prefix = config.directory ? `${config.directory}/` : '';
  const fromHere = (d: string | undefined) => d === config.directory || (config.format === 'go' && d !== undefined && d.startsWith(prefix) && /^v\d+$/.test(d.slice(prefix.length)));
  return folders.length > 0 && folders.every(fromHere);
}

/** The folder a recorded build recipe (GitSource.recipeOf) names; undefined when it names none. */
function recipeDirectory(recipe: string): string | undefined {
  try {
    const d = (JSON.parse(recipe) as { directory?: unknown }).directory;
    return typeof d === 'string' ? d : undefined;
  } catch {
    return undefined;
  }
}

/** What the state records of a source besides its id and URL: what tells it from another source of that URL. */
export function sourceShape(config: SourceConfig): Record<string, unknown> {
  switch (config.kind) {
    case 'npm-registry':
      return {};
    case 'git':
      return { format: config.format, directory: config.directory, ...(config.package !== undefined ? { package: config.package } : {}) };
    default: {
      const never: never = config;
      throw new Error(`unknown source kind ${JSON.stringify(never)}`);
    }
  }
}

/** Record the job's enabled sources (once refuseRenamedSources let the run go on): a later rename is told by them. */
export function recordSources(state: StateDb, sources: ReadonlyMap<string, Source>, configs: readonly SourceConfig[]): void {
  state.recordSources(
    [...sources.keys()].map((id) => {
      const config = configs.find((c) => c.id === id)!;
      return { id, kind: config.kind, url: config.url, shape: sourceShape(config) };
    }),
  );
}

/**
 * Set aside what a run left of the packages the job no longer names (per source), once
 * their interrupted publishes are settled, and say per package what is on the target,
 * what was never migrated, what a run of ours started publishing (perhaps partly on the
 * target), and what is still unsettled (a publish whose answer was lost
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
        why: 'not-named',
        onTarget: rows.filter((r) => ON_TARGET.has(r.state)).length,
        notMigrated: rows.filter((r) => r.state === 'excluded' && r.last_error_code === 'ENOTINJOB' && r.attempts === 0).map((r) => r.version),
        // a run of ours started publishing it (LEFT_OUT_ON_TARGET): the target may hold part of it, never "never migrated"
        publishBegun: rows.filter((r) => r.state === 'excluded' && r.last_error_code === 'ENOTINJOB' && r.attempts > 0).map((r) => r.version),
        unsettled: rows.filter((r) => r.state === 'publishing' || r.state === 'published').map((r) => r.version),
      });
    }
  }
  return out.sort((a, b) => a.source.localeCompare(b.source) || a.package.localeCompare(b.package));
}

/**
 * Other jobs' states in the state directory that record versions on this job's target (published,
 * verified or found there) from this job's sources, for packages this job reads: a job renamed
 * between runs (its `name:`, or the file of a nameless job; the name names the state file),
 * or two jobs migrating the same packages. The new name found no state: it read every version
 * again, recorded those this tool had published as `present-identical`, began a ledger of its
 * own, and takes a lock of its own. Nothing is published twice, but the history is split: said
 * on every run, never refused (two jobs over the same packages may be meant). A state that
 * cannot be read, or records no target, is not taken for this work.
 */
export function otherJobsOfThisWork(stateDir: string, ownDatabase: string, target: TargetIdentity, sources: ReadonlyMap<string, Source>, configs: readonly SourceConfig[]): NonNullable<RunSummary['otherJobs']> {
  let files: string[];
  try {
    files = readdirSync(stateDir).filter((f) => f.endsWith('.sqlite') && join(stateDir, f) !== ownDatabase).sort();
  } catch {
    return [];
  }
  const out: NonNullable<RunSummary['otherJobs']> = [];
  for (const f of files) {
    const database = join(stateDir, f);
    const found = peekState(database, (other) => {
      if (!other.target || targetDifferences(other.target, target).length > 0) return undefined;
      let versions = 0;
      const packages = new Set<string>();
      for (const [id, source] of sources) {
        const config = configs.find((c) => c.id === id);
        if (!config) continue;
        for (const r of other.onTarget(id, source.url)) {
          const ours = config.kind === 'npm-registry' ? jobNamesPackage(config, r.package) : r.format === rowFormat(config.format) && (config.package === undefined || r.package === config.package);
          if (!ours) continue;
          versions += r.versions;
          packages.add(r.package);
        }
      }
      return versions === 0 ? undefined : { job: other.job ?? f.replace(/\.sqlite$/, ''), database, versions, packages: [...packages].sort() };
    });
    if (found) out.push(found);
  }
  return out;
}
