/**
 * Waiting for ingestion: CodeArtifact serves a version fetched from upstream at
 * once but stores it asynchronously, so ListPackageVersions may not show it for
 * a while. A package's versions are polled (quickly at first, then every two
 * seconds) until all show or the job's `pendingTimeoutSeconds` has passed.
 * The wait holds no request slot: only each ListPackageVersions call does.
 */
import { sleep } from '../engine/limiter.js';
import type { TargetVersion } from '../targets/codeartifact.js';

/** Statuses under which the store holds a version a build can install. */
const HELD = new Set(['Published', 'Unlisted']);

export function holds(v: TargetVersion): boolean {
  return HELD.has(v.status);
}

export interface WatchOptions {
  timeoutMs: number;
  signal: AbortSignal;
  same: (listed: string, pinned: string) => boolean;
}

/** The pinned versions (of `wanted`) the store lists before the deadline; `list` is one rate-limited ListPackageVersions. */
export async function awaitIngestion(list: () => Promise<Map<string, TargetVersion>>, wanted: readonly string[], opts: WatchOptions): Promise<Set<string>> {
  // by the monotonic clock: a step of the wall clock (NTP, a machine woken from sleep) neither ends the wait nor stretches it
  const deadline = performance.now() + opts.timeoutMs;
  const found = new Set<string>();
  let delay = 0;
  for (;;) {
    if (delay > 0) await sleep(Math.min(delay, Math.max(0, deadline - performance.now())), opts.signal);
    if (opts.signal.aborted) return found;
    const listed = [...(await list()).values()].filter(holds);
    for (const w of wanted) if (!found.has(w) && listed.some((l) => opts.same(l.version, w))) found.add(w);
    if (found.size === wanted.length || performance.now() >= deadline) return found;
    delay = Math.min(2000, Math.max(100, delay * 2));
  }
}
