/**
 * Internal names: what the job migrates (its npm packages and scopes, its PyPI
 * projects, its Go modules). A lockfile entry with an internal name is never
 * requested through a store repository: the store would look for it upstream
 * and pull in a public package of the same name (dependency confusion). It is
 * looked up in the internal repository instead.
 *
 * Warming refuses to start while an internal name lacks its origin
 * configuration (upstream BLOCK on the package, or a package group that blocks
 * external upstreams): the same names `harden` protects, so `cam harden` is the fix.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html
 */
import PQueue from 'p-queue';
import type { LoadedJob } from '../config/load.js';
import { storeOf, type SourceConfig } from '../config/schema.js';
import { formatOf } from '../engine/run.js';
import { protection } from '../engine/audit.js';
import { withRetry } from '../engine/retry.js';
import { MigrateError } from '../errors.js';
import type { Ecosystem } from '../lockfiles/index.js';
import { normalizeProjectName } from '../builders/python-metadata.js';
import { createSource } from '../sources/index.js';
import { namesOf } from '../sources/source.js';
import type { StateDb } from '../state/db.js';
import type { CodeArtifact } from '../targets/codeartifact.js';
import { Domain } from '../targets/domain.js';
import { createTarget } from '../targets/index.js';
import type { Format } from '../types.js';

export const ECOSYSTEM_FORMAT: Record<Ecosystem, Format> = { npm: 'npm', pypi: 'pypi', go: 'generic' };

export class InternalNames {
  private readonly names: Record<Format, Set<string>> = { npm: new Set(), pypi: new Set(), generic: new Set() };
  private readonly scopes = new Set<string>();
  /** Names of disabled sources: still never asked of a store, but not checked for protection (harden no longer covers them). */
  private readonly retired: Record<Format, Set<string>> = { npm: new Set(), pypi: new Set(), generic: new Set() };

  add(format: Format, name: string, opts: { retired?: boolean } = {}): void {
    (opts.retired ? this.retired : this.names)[format].add(format === 'pypi' ? normalizeProjectName(name) : name);
  }

  addScope(scope: string): void {
    this.scopes.add(scope);
  }

  /** What a source names by its configuration alone: an npm registry's packages and scopes, a git source's package. */
  addConfigured(source: SourceConfig, opts: { retired?: boolean } = {}): void {
    if (source.kind === 'npm-registry') {
      for (const p of source.packages) this.add('npm', p, opts);
      for (const scope of source.scopes) this.addScope(scope);
    } else if (source.package) this.add(formatOf(source), source.package, opts);
  }

  /** Is this registry name internal? npm: named, or in an internal scope; PyPI: by PEP 503 name; Go: the module or its /vN. */
  has(ecosystem: Ecosystem, name: string): boolean {
    return this.hasIn(this.names, ecosystem, name) || this.hasIn(this.retired, ecosystem, name);
  }

  private hasIn(names: Record<Format, Set<string>>, ecosystem: Ecosystem, name: string): boolean {
    const format = ECOSYSTEM_FORMAT[ecosystem];
    switch (ecosystem) {
      case 'npm':
        return names.npm.has(name) || (name.startsWith('@') && this.scopes.has(name.slice(0, name.indexOf('/'))));
      case 'pypi':
        return names.pypi.has(normalizeProjectName(name));
      case 'go':
        return names[format].has(name) || names[format].has(name.replace(/\/v\d+$/, ''));
      default: {
        const never: never = ecosystem;
        throw new Error(`unknown ecosystem ${String(never)}`);
      }
    }
  }

  /** Every concrete internal name, for the origin-configuration check. */
  list(): { format: Format; name: string }[] {
    return (Object.keys(this.names) as Format[]).flatMap((format) => [...this.names[format]].sort().map((name) => ({ format, name })));
  }
}

/**
 * The job's internal names: what its sources name now (as `harden` enumerates
 * them: a registry's packages and scope searches, a git source's tags), what the
 * state recorded from earlier runs, and the scopes themselves.
 */
export async function internalNames(job: LoadedJob, env: NodeJS.ProcessEnv, stateDir: string, state: StateDb, signal: AbortSignal): Promise<InternalNames> {
  const out = new InternalNames();
  const enabled = job.config.sources.filter((s) => s.enabled);
  const active = new Set(enabled.map((s) => s.id));
  for (const s of enabled) out.addConfigured(s);
  for (const p of state.packages()) out.add(p.format, p.package, { retired: !active.has(p.source_id) });
  // a source switched off after its migration still names internal packages: asking a store
  // for them would pull in whoever published those names publicly
  for (const s of job.config.sources.filter((x) => !x.enabled)) out.addConfigured(s, { retired: true });
  const retry = <T>(attempt: () => Promise<T>) => withRetry(attempt, { budget: job.config.limits.retries, signal });
  for (const config of enabled) {
    const source = createSource(config, env, stateDir, job.name, job.config.limits);
    try {
      if (source.prepare) await retry(() => source.prepare!(signal));
      for await (const name of namesOf(source, signal, retry)) out.add(formatOf(config), name);
    } finally {
      source.close?.();
    }
  }
  return out;
}

/**
 * Internal names without the origin configuration that keeps public packages
 * out: neither upstream BLOCK on the package in its internal repository AND in
 * its store (origin controls are per repository: a store with no record of the
 * name ingests it from the public registry; `harden` sets both), nor a package
 * group blocking external upstreams. Read only.
 */
export async function unprotectedNames(ca: CodeArtifact, job: LoadedJob, names: readonly { format: Format; name: string }[], signal: AbortSignal): Promise<string[]> {
  const domain = new Domain(ca);
  const retry = <T>(fn: () => Promise<T>) => withRetry(fn, { budget: job.config.limits.retries, signal });
  const queue = new PQueue({ concurrency: 16 });
  const unprotected: string[] = [];
  let failure: unknown;
  for (const n of names) {
    const internal = job.config.target.repositories[n.format]?.internal;
    if (!internal) continue;
    void queue.add(async () => {
      const coords = createTarget(n.format, ca, internal).coordinates(n.name);
      const store = storeOf(job.config.target, n.format);
      const how = await retry(() => protection(domain, coords, store)).catch((e: unknown) => {
        // a store the job names that does not exist: the job file's mistake (exit 2), as the warm's own store setup says it
        if (store && e instanceof MigrateError && e.code === 'ETARGETREJECTED' && e.status === 404 && e.message.startsWith(`repository ${store} `)) {
          throw new MigrateError('ETARGETSETUP', `CodeArtifact: no ${n.format} repository ${store} in domain ${job.config.target.domain}: ${e.message}`, { cause: e, hint: `check target.repositories.${n.format}.store in the job file` });
        }
        throw e;
      });
      if (how === true) return;
      unprotected.push(how === false ? `${n.format}:${n.name}` : `${n.format}:${n.name} (${how.store} can ingest it)`);
    }).catch((e: unknown) => (failure ??= e));
  }
  await queue.onIdle();
  // a name whose protection could not be read is not known to be protected: the warm cannot start
  if (failure !== undefined) throw failure;
  return unprotected.sort();
}

/** The refusal: exit 2 (bad setup), naming the names, with the fix. */
export function unprotectedError(names: readonly string[]): MigrateError {
  const shown = names.slice(0, 20).join(', ') + (names.length > 20 ? `, … (${names.length} in all)` : '');
  return new MigrateError('EUNPROTECTED', `warming refused: ${names.length} internal name(s) have no origin configuration keeping public packages out: ${shown}`, {
    subject: names[0],
    hint: 'run `cam harden <job>` first (upstream BLOCK on every internal package in its internal and store repositories; add --package-groups for names only a scope covers), then warm again',
  });
}
