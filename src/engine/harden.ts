/**
 * Hardening: every internal package gets the origin configuration that keeps a
 * public package of the same name out (publish ALLOW, upstream BLOCK), before
 * anything is published or warmed; optionally a package group per npm scope
 * that blocks external upstreams for names not published yet. Idempotent: what
 * is already so is read and left alone, so a second `harden` sends no write.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html
 */
import PQueue from 'p-queue';
import { MigrateError, toError } from '../errors.js';
import { Domain, type OriginConfiguration } from '../targets/domain.js';
import type { CodeArtifact } from '../targets/codeartifact.js';
import type { TargetFormat } from '../targets/format.js';
import type { Format } from '../types.js';
import { withRetry } from './retry.js';

export const HARDENED: OriginConfiguration = { publish: 'ALLOW', upstream: 'BLOCK' };

export interface HardenResult {
  /** Packages whose origin configuration was (or, in a dry run, would be) changed. */
  changes: { format: Format; package: string; repository: string; from: OriginConfiguration | 'absent'; to: OriginConfiguration; applied: boolean }[];
  /** Packages already hardened. */
  unchanged: number;
  /** Package groups created or changed to block external upstreams. */
  groups: { pattern: string; applied: boolean }[];
  errors: { format: Format; package: string; code: string; message: string }[];
}

export interface HardenOptions {
  dryRun: boolean;
  packageGroups: boolean;
  retries: number;
  signal: AbortSignal;
  /** Told of every change made (not in a dry run): the ledger records it. */
  onApplied?: (change: { format: Format; package: string; repository: string; to: OriginConfiguration | string; detail: string }) => void;
}

export async function harden(ca: CodeArtifact, target: (format: Format) => TargetFormat, packages: readonly { format: Format; name: string }[], opts: HardenOptions): Promise<HardenResult> {
  const domain = new Domain(ca);
  const result: HardenResult = { changes: [], unchanged: 0, groups: [], errors: [] };
  const retry = <T>(fn: () => Promise<T>) => withRetry(fn, { budget: opts.retries, signal: opts.signal });
  // Every call goes through the run's rate limiter (reads, writes): the queue only bounds how
  // many wait at once. 32 keeps the writes bucket (100/s by default) busy at ~100 ms round
  // trips, so thousands of packages are hardened in about a minute, not several.
  const queue = new PQueue({ concurrency: 32 });
  const seen = new Set<string>();
  for (const p of packages) {
    const key = `${p.format}/${p.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    void queue.add(async () => {
      const t = target(p.format);
      const coords = t.coordinates(p.name);
      try {
        const current = await retry(() => domain.origin(coords));
        if (current && current.publish === HARDENED.publish && current.upstream === HARDENED.upstream) {
          result.unchanged++;
          return;
        }
        if (!opts.dryRun) {
          await retry(() => domain.setOrigin(coords, HARDENED));
          opts.onApplied?.({ format: p.format, package: p.name, repository: t.repository, to: HARDENED, detail: `origin configuration was ${current ? `publish ${current.publish}, upstream ${current.upstream}` : 'absent (package created)'}` });
        }
        result.changes.push({ format: p.format, package: p.name, repository: t.repository, from: current ?? 'absent', to: HARDENED, applied: !opts.dryRun });
      } catch (e) {
        result.errors.push({ format: p.format, ...describe(p.name, e) });
      }
    });
  }
  await queue.onIdle();
  if (opts.packageGroups) {
    for (const scope of new Set(packages.filter((p) => p.format === 'npm' && p.name.startsWith('@')).map((p) => p.name.slice(1, p.name.indexOf('/'))))) {
      const pattern = `/npm/${scope}/*`;
      const sample = packages.find((p) => p.format === 'npm' && p.name.startsWith(`@${scope}/`))!;
      try {
        const group = await retry(() => domain.groupOf(target('npm').coordinates(sample.name)));
        if (group?.pattern === pattern && group.externalUpstream === 'BLOCK') continue;
        if (!opts.dryRun) {
          await retry(() => domain.blockExternalUpstreams(pattern, `codeartifact-migrate: @${scope} is internal; never fetched from public upstreams`));
          opts.onApplied?.({ format: 'npm', package: pattern, repository: '(package group)', to: 'EXTERNAL_UPSTREAM: BLOCK', detail: `package group ${pattern} blocks external upstreams` });
        }
        result.groups.push({ pattern, applied: !opts.dryRun });
      } catch (e) {
        result.errors.push({ format: 'npm', ...describe(pattern, e) });
      }
    }
  }
  result.changes.sort((a, b) => a.format.localeCompare(b.format) || a.package.localeCompare(b.package));
  result.errors.sort((a, b) => a.package.localeCompare(b.package));
  return result;
}

function describe(subject: string, thrown: unknown): { package: string; code: string; message: string } {
  const e = thrown instanceof MigrateError ? thrown : new MigrateError('ETARGET', toError(thrown).message, { cause: thrown });
  const hint =
    e.code === 'ETARGETAUTH'
      ? '; grant codeartifact:PutPackageOriginConfiguration (and the package-group actions for packageGroups), or set hardening.originControls: false in the job'
      : '';
  return { package: subject, code: e.code, message: `${e.describe()}${hint}` };
}
