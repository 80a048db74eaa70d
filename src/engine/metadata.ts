/**
 * After a package's versions: make the target's dist-tags exactly the
 * source's, and its deprecation messages the source's. A tag that points at a
 * version the target does not hold (excluded, failed) is left alone and said.
 */
import { toError } from '../errors.js';
import type { NpmTarget } from '../targets/npm.js';
import { withRetry } from './retry.js';

export interface MetadataPlan {
  /** version -> deprecation message ('' = not deprecated), for versions on the target. */
  deprecations: Map<string, string>;
  distTags: Record<string, string>;
  /** Versions the target holds (verified or identical). */
  onTarget: Set<string>;
  /** Tags left alone on the target (filters.ignoreDistTags). */
  ignore?: ReadonlySet<string>;
}

export async function syncNpmMetadata(
  npm: NpmTarget,
  name: string,
  plan: MetadataPlan,
  opts: { dryRun: boolean; retries: number; signal: AbortSignal },
): Promise<{ changes: string[]; skipped: string[] }> {
  const changes: string[] = [];
  const skipped: string[] = [];
  const retry = { budget: opts.retries, signal: opts.signal };
  const current = await withRetry(() => npm.distTags(name), retry);
  for (const [tag, version] of Object.entries(plan.distTags)) {
    if (!plan.onTarget.has(version)) {
      skipped.push(`dist-tag ${tag} -> ${version}: that version is not on the target (excluded, removed or failed); include it, move the tag at the source, or list "${tag}" in filters.ignoreDistTags`);
      continue;
    }
    if (current[tag] === version) continue;
    changes.push(`dist-tag ${tag}: ${current[tag] ?? '(none)'} -> ${version}`);
    if (!opts.dryRun) await withRetry(() => npm.setDistTag(name, tag, version), retry);
  }
  for (const tag of Object.keys(current)) {
    // npm registries refuse to remove `latest`; it is moved above when the source has one.
    if (tag in plan.distTags || tag === 'latest' || plan.ignore?.has(tag)) continue;
    changes.push(`dist-tag ${tag}: removed (not on the source)`);
    if (!opts.dryRun) await withRetry(() => npm.deleteDistTag(name, tag), retry);
  }
  const deprecated = await withRetry(() => npm.syncDeprecations(name, plan.deprecations, opts.dryRun), retry);
  for (const v of deprecated) changes.push(`deprecation of ${v}: ${plan.deprecations.get(v) ? 'set' : 'cleared'}`);
  return { changes, skipped };
}

export function describeFailure(e: unknown): string {
  const err = toError(e) as Error & { code?: string };
  return err.code ? `${err.code}: ${err.message}` : err.message;
}
