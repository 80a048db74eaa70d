/**
 * One package's items: through its store repository (list what the store holds,
 * check it; request the rest, check the bytes, wait for ingestion), or, for an
 * internal name, only looked up in the internal repository. Knows no format:
 * the store format (npm-store.ts, pypi-store.ts) does the format's part.
 *
 *   store lists the version ──► check its assets' hashes ──► already-cached (warmed, if we asked earlier)
 *                                        └─► integrity-mismatch
 *   not listed ──► metadata through the store ──► 404 ──► origin controls? blocked : missing-upstream
 *                        └─► artifact(s) through the store ──► bytes vs lockfile ──► integrity-mismatch
 *                                                                 └─► listed within the timeout? warmed : pending
 */
import type PQueue from 'p-queue';
import { unexpectedError, type MigrateError } from '../errors.js';
import type { CodeArtifact, PackageCoordinates, TargetVersion } from '../targets/codeartifact.js';
import { Domain } from '../targets/domain.js';
import { awaitIngestion, holds } from './ingestion.js';
import type { Decision, WarmRow, WarmStore } from './state.js';
import { fromTargetAsset, type StoreFormat } from './store-format.js';
import { withFetched, type FileHashes, type WarmItem } from './types.js';

export interface Work {
  item: WarmItem;
  row: WarmRow;
}

export interface PackageContext {
  ca: CodeArtifact;
  store: WarmStore;
  /** Artifact requests, at most so many at once (sized from the getAsset rate and the round trip). */
  artifactQueue: PQueue;
  /** ListPackageVersions while waiting for ingestion. */
  listQueue: PQueue;
  /** Retry a request as the job allows (limits.retries), with jittered back-off. */
  retry: <T>(subject: string, fn: () => Promise<T>) => Promise<T>;
  /** Start nothing new once it aborts. */
  stop: AbortSignal;
  /** Cuts requests in flight off (the stop after its grace period). */
  hard: AbortSignal;
  pendingTimeoutMs: number;
  decided: (w: Work, d: Decision) => void;
  failed: (w: Work, e: MigrateError) => void;
}

/** Why the store refuses a package: its own origin configuration, or its package group's. */
async function refusedBy(ctx: PackageContext, coords: PackageCoordinates): Promise<string | undefined> {
  const domain = new Domain(ctx.ca);
  const origin = await ctx.retry(coords.package, () => domain.origin(coords));
  if (origin?.upstream === 'BLOCK') return `origin controls: upstream BLOCK on the package in ${coords.repository}`;
  const group = await ctx.retry(coords.package, () => domain.groupOf(coords));
  if (group?.externalUpstream === 'BLOCK') return `origin controls: package group ${group.pattern} blocks external upstreams`;
  return undefined;
}


/**
 * Warm one package's items through its store. Returns once every request is
 * answered; the wait for ingestion goes on in the `ingestion` it hands back, so the
 * package's slot is free for the next package meanwhile.
 */
export async function warmThroughStore(ctx: PackageContext, fmt: StoreFormat, name: string, work: readonly Work[]): Promise<{ ingestion: Promise<void> }> {
  const done = { ingestion: Promise.resolve() };
  const coords = fmt.coordinates(name);
  const repository = fmt.repository;
  const fail = (w: Work, e: unknown) => {
    const err = unexpectedError(e);
    if (err.code !== 'EINTERRUPTED') ctx.failed(w, err);
  };
  let listed: Map<string, TargetVersion>;
  try {
    listed = await ctx.retry(name, () => ctx.ca.listVersions(coords));
  } catch (e) {
    for (const w of work) fail(w, e);
    return done;
  }
  const requests: { w: Work; held: FileHashes[] }[] = [];
  for (const w of work) {
    if (ctx.stop.aborted) return done;
    const v = [...listed.values()].find((l) => holds(l) && fmt.sameVersion(l.version, w.item.version));
    if (!v) {
      requests.push({ w, held: [] });
      continue;
    }
    try {
      const held = ((await ctx.retry(name, () => ctx.ca.versionAssets(coords, v.version))) ?? []).map(fromTargetAsset);
      const verdict = fmt.check(w.item, held);
      if (!verdict.ok) ctx.decided(w, { outcome: 'integrity-mismatch', repository, checked: true, actual: held, detail: `the store holds other bytes: ${verdict.detail}` });
      else if (fmt.complete(w.item, held)) ctx.decided(w, { outcome: w.row.requested_at ? 'warmed' : 'already-cached', repository, checked: verdict.checked, actual: held, ...(verdict.detail ? { detail: verdict.detail } : {}) });
      else requests.push({ w, held });
    } catch (e) {
      fail(w, e);
    }
  }
  if (!requests.length || ctx.stop.aborted) return done;

  let meta: unknown;
  try {
    meta = await ctx.retry(name, () => fmt.metadata(name, ctx.hard));
  } catch (e) {
    for (const r of requests) fail(r.w, e);
    return done;
  }
  let refusal: Promise<string | undefined> | undefined;
  const notFound = async (w: Work, detail: string) => {
    refusal ??= refusedBy(ctx, coords);
    const why = await refusal;
    ctx.decided(w, why ? { outcome: 'blocked', repository, detail: why } : { outcome: 'missing-upstream', repository, detail });
  };
  const waiting: { w: Work; files: FileHashes[]; checked: boolean; detail?: string }[] = [];
  await Promise.all(
    requests.map(({ w, held }) =>
      ctx.artifactQueue.add(async () => {
        if (ctx.stop.aborted) return;
        try {
          if (meta === undefined) return await notFound(w, `the store has no package ${name}: not on the public registry`);
          const out = await ctx.retry(`${name}@${w.item.version}`, () => fmt.fetch(meta, w.item, held, () => ctx.store.requested(w.row, repository), ctx.hard));
          if (out.kind === 'not-found') return await notFound(w, out.detail);
          if (out.kind === 'mismatch') return ctx.decided(w, { outcome: 'integrity-mismatch', repository, checked: true, actual: out.files, detail: out.detail });
          const verdict = fmt.check(w.item, out.files);
          if (!verdict.ok) return ctx.decided(w, { outcome: 'integrity-mismatch', repository, checked: true, actual: out.files, detail: `the public bytes differ from the lockfile's: ${verdict.detail}` });
          // what was downloaded replaces what the listing said of the same file (it may have lacked hashes)
          const files = withFetched(held, out.files);
          // nothing left to fetch: the store holds every file the index offers with a pinned hash
          if (!out.files.length) {
            const v = fmt.check(w.item, held);
            if (!v.ok) return ctx.decided(w, { outcome: 'integrity-mismatch', repository, checked: true, actual: held, detail: `the store holds other bytes: ${v.detail}` });
            return ctx.decided(w, { outcome: w.row.requested_at ? 'warmed' : 'already-cached', repository, checked: v.checked, actual: held });
          }
          ctx.store.fetched(w.row, files);
          waiting.push({ w, files, checked: verdict.checked, ...(verdict.detail ? { detail: verdict.detail } : {}) });
        } catch (e) {
          fail(w, e);
        }
      }),
    ),
  );
  if (!waiting.length) return done;
  // the wait for ingestion, off the package's slot
  const ingestion = (async () => {
    let found: Set<string>;
    try {
      const list = () => ctx.listQueue.add(() => ctx.retry(name, () => ctx.ca.listVersions(coords)));
      found = await awaitIngestion(list, waiting.map((x) => x.w.item.version), { timeoutMs: ctx.pendingTimeoutMs, signal: ctx.stop, same: (a, b) => fmt.sameVersion(a, b) });
    } catch (e) {
      for (const x of waiting) fail(x.w, e);
      return;
    }
    for (const x of waiting) {
      const base = { repository, checked: x.checked, actual: x.files };
      if (found.has(x.w.item.version)) ctx.decided(x.w, { outcome: 'warmed', ...base, ...(x.detail ? { detail: x.detail } : {}) });
      else if (!ctx.stop.aborted) ctx.decided(x.w, { outcome: 'pending', ...base, detail: `requested and checked, but ${repository} did not list it within ${Math.round(ctx.pendingTimeoutMs / 1000)} s (ingestion is asynchronous): the next warm looks again` });
    }
  })();
  // an object, not the promise itself: an async function returning a promise would wait for it
  return { ingestion };
}

/** An internal name's items: looked up in the internal repository, never requested through a store. */
export async function checkInternal(ctx: PackageContext, coords: PackageCoordinates, same: (a: string, b: string) => boolean, work: readonly Work[]): Promise<void> {
  let listed: TargetVersion[];
  try {
    listed = [...(await ctx.retry(coords.package, () => ctx.ca.listVersions(coords))).values()].filter(holds);
  } catch (e) {
    const err = unexpectedError(e);
    if (err.code !== 'EINTERRUPTED') for (const w of work) ctx.failed(w, err);
    return;
  }
  for (const w of work) {
    const present = listed.some((l) => same(l.version, w.item.version));
    ctx.decided(w, present ? { outcome: 'internal-present', repository: coords.repository } : { outcome: 'internal-missing', repository: coords.repository, detail: `an internal name: ${coords.repository} does not hold ${w.item.version} (never requested through a store)` });
  }
}
