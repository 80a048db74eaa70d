/**
 * Before any store request: is a package a lockfile resolved from one of the job's
 * own npm sources (a company registry) really the public package of that name?
 *
 * A company registry writes its host into the lockfile for the public packages it
 * proxies and for its own private ones alike, and the job migrates only some of the
 * latter (its package lists and filters). A store asked for a private name the job
 * does not migrate looks it up on the public registry and caches whatever a stranger
 * published there under that name (dependency confusion); the integrity check would
 * only flag it once those bytes are in the store. So the public registry itself is
 * asked (never a store: the same read as the plan's exposure check, src/engine/audit.ts),
 * one packument per name, and only a version it serves with the bytes every lockfile
 * pins is requested. Anything else is listed as `private`, never requested; a public
 * registry that cannot be asked leaves the entry unrequested and failed, asked again
 * by the next warm.
 */
import PQueue from 'p-queue';
import { isCodeArtifact, publicPackument, SilentRegistry, type PublicPackument } from '../engine/audit.js';
import { toError } from '../errors.js';
import { checkNpm, declaredTarball } from './npm-store.js';
import type { ItemPlan } from './items.js';
import { expectedColumn, type WarmStore } from './state.js';
import { itemKey, type WarmItem } from './types.js';

/** Packuments asked of the public registry at once (as the exposure check does). */
const PUBLIC_LOOKUPS_IN_FLIGHT = 8;

export interface PublicCheck {
  /** Packuments asked of the public registry (one per name). */
  lookups: number;
  /** Items left unrequested because the public registry could not be asked, by key, with why. */
  unverified: Map<string, string>;
  /** Items left unrequested because the warm was stopped before the public registry was asked. */
  unasked: Set<string>;
}

type Verdict = { public: true } | { public: false; why: string } | { unknown: string };

/** What every note of a company-registry entry found private says, and the words summary counts them by. */
export const COMPANY_PRIVATE = ", one of the job's sources, but ";

const privateNote = (it: WarmItem, why: string) =>
  `from the registry at ${it.viaSource}${COMPANY_PRIVATE}${why}: a private package the job does not migrate, never requested through a store (the public package of that name would be pulled in); add it to the job (its source's packages, not excluded by filters) to migrate it`;

/** Whether the public registry's packument serves this version with the bytes the item's lockfiles pin. */
function judge(it: WarmItem, doc: PublicPackument | undefined, registry: string): Verdict {
  if (!doc) return { public: false, why: `the public registry (${registry}) has no package ${it.name}` };
  const version = doc.versions?.[it.version];
  if (!version) return { public: false, why: `the public registry (${registry}) has no ${it.name}@${it.version}` };
  const declared = declaredTarball(version.dist ?? undefined);
  if (!declared) return { public: false, why: `the public registry declares no usable integrity for ${it.name}@${it.version}, so it cannot be told from the company's` };
  const v = checkNpm(it, [declared]);
  if (!v.ok) return { public: false, why: `the public ${it.name}@${it.version} is other bytes (${v.detail})` };
  // nothing pinned to compare with (or nothing comparable): it cannot be told from the public package, so it is not asked for
  if (!v.checked) return { public: false, why: `the lockfile pins nothing to tell it from the public ${it.name}@${it.version} (${v.detail ?? 'not checkable'})` };
  return { public: true };
}

/**
 * Decide, for every item a lockfile resolved from one of the job's sources, whether it may be
 * requested through a store; those that may not become `private` items (the plan's keys
 * follow). What an earlier warm settled is not asked again: a version the store served with
 * the pinned bytes (checked) is the public one, and one listed as private with the same pins
 * stays private.
 */
export async function checkPublic(plan: ItemPlan, opts: { registry: string; store: WarmStore; env: NodeJS.ProcessEnv; signal: AbortSignal; deadlineMs?: number }): Promise<PublicCheck> {
  const out: PublicCheck = { lookups: 0, unverified: new Map(), unasked: new Set() };
  const verdicts = new Map<WarmItem, Verdict>();
  const toAsk = new Map<string, WarmItem[]>();
  for (const it of plan.items) {
    if (!it.viaSource || it.kind !== 'registry' || it.internal || it.ecosystem !== 'npm') continue;
    const expected = expectedColumn(it);
    const asRegistry = opts.store.find(it);
    if (asRegistry && asRegistry.expected === expected && asRegistry.state === 'done' && asRegistry.checked === 1 && (asRegistry.outcome === 'warmed' || asRegistry.outcome === 'already-cached')) continue;
    const asPrivate = opts.store.find({ ...it, kind: 'private' });
    if (asPrivate && asPrivate.expected === expected && asPrivate.state === 'done' && asPrivate.outcome === 'non-registry' && asPrivate.detail) {
      verdicts.set(it, { public: false, why: '' });
      it.note = asPrivate.detail;
      continue;
    }
    (toAsk.get(it.name) ?? toAsk.set(it.name, []).get(it.name)!).push(it);
  }
  const queue = new PQueue({ concurrency: PUBLIC_LOOKUPS_IN_FLIGHT });
  const codeartifact = isCodeArtifact(opts.registry, opts.env);
  // once it has left too many questions in a row unanswered, the rest are not asked (as the plan's exposure check does)
  const silence = new SilentRegistry(opts.registry);
  for (const [name, items] of toAsk) {
    void queue.add(async () => {
      let doc: PublicPackument | undefined;
      if (opts.signal.aborted) {
        for (const it of items) out.unasked.add(itemKey(it));
        return;
      }
      if (codeartifact) {
        for (const it of items) verdicts.set(it, { unknown: `the job's publicRegistries.npm (${opts.registry}) is a CodeArtifact endpoint, not the public registry: never asked` });
        return;
      }
      if (silence.givenUp) {
        for (const it of items) verdicts.set(it, { unknown: silence.givenUp });
        return;
      }
      try {
        out.lookups++;
        doc = await publicPackument(name, opts.registry, opts.signal, opts.deadlineMs);
        silence.answered();
      } catch (e) {
        if (opts.signal.aborted) {
          for (const it of items) out.unasked.add(itemKey(it));
          return;
        }
        silence.failed(e);
        for (const it of items) verdicts.set(it, { unknown: `the public registry (${opts.registry}) could not be asked whether ${name}@${it.version} is the public package: ${toError(e).message}` });
        return;
      }
      for (const it of items) verdicts.set(it, judge(it, doc, opts.registry));
    });
  }
  await queue.onIdle();

  // the plan follows: private items take their own key (merged with a private item of the same version, if any)
  const renamed = new Map<string, string>();
  const byKey = new Map(plan.items.map((it) => [itemKey(it), it]));
  for (const [it, v] of verdicts) {
    if ('unknown' in v) {
      out.unverified.set(itemKey(it), v.unknown);
      continue;
    }
    if (v.public) continue;
    const before = itemKey(it);
    if (v.why) it.note = privateNote(it, v.why);
    it.kind = 'private';
    const after = itemKey(it);
    const same = byKey.get(after);
    byKey.delete(before);
    if (same && same !== it) {
      for (const f of it.files) if (!same.files.includes(f)) same.files.push(f);
    } else byKey.set(after, it);
    renamed.set(before, after);
  }
  if (renamed.size) {
    plan.items.splice(0, plan.items.length, ...byKey.values());
    for (const keys of plan.byLockfile.values()) {
      for (const [before, after] of renamed) if (keys.delete(before)) keys.add(after);
    }
  }
  return out;
}
