/**
 * How long publishing what is left should take. The engine spaces requests with
 * one token bucket per CodeArtifact quota and publishes each package's versions
 * oldest first, several packages at once; so the time is whichever of these is
 * slowest, not their sum (they overlap):
 *
 * - the publish quota: one PublishPackageVersion (or npm/PyPI upload) per file;
 * - the account-wide write quota: the same requests count there too;
 * - the List* quota: ListPackageVersionAssets once to compare, once to verify;
 * - the account-wide read quota: those two, and DescribePackageVersion;
 * - the transfer: bytes / throughput (measured by an earlier run, or assumed);
 * - the latency chain: a package's versions go one after another, so the
 *   package with the most versions takes at least versions x round trip.
 *
 * Every assumption made is written into the estimate, so the reader can redo it.
 */
import type { Estimate } from './schema.js';

export interface EstimateRates {
  publish: number;
  getAsset: number;
  list: number;
  reads: number;
  writes: number;
}

/** CodeArtifact's default quotas (https://docs.aws.amazon.com/codeartifact/latest/ug/service-limits.html), as the job file defaults them. */
export const DEFAULT_RATES: EstimateRates = { publish: 10, getAsset: 50, list: 200, reads: 800, writes: 100 };

export interface Throughput {
  bytesPerSecond: number;
  source: 'measured' | 'configured' | 'assumed';
  /** Where the figure comes from, in words. */
  detail: string;
}

/** Without a measurement: a modest office or CI uplink. */
export const ASSUMED_THROUGHPUT: Throughput = { bytesPerSecond: 10 * 1024 * 1024, source: 'assumed', detail: 'assumed 10 MiB/s (no run measured one)' };
/** One version's round trip (upload, then the next version waits for it): observed 0.2-1 s against CodeArtifact. */
export const ASSUMED_LATENCY_SECONDS = 0.5;
/** Packages at once when the job leaves limits.concurrency unset (a run sizes it itself, from the publish rate and the latency). */
const ASSUMED_CONCURRENCY = 16;

export interface EstimateWork {
  /** Versions left to publish. */
  versions: number;
  /** Their files whose size is known (one upload request each). */
  files: number;
  /** Their bytes, as far as known. */
  bytes: number;
  /** Of `versions`, how many are not downloaded or built yet (size unknown). */
  unknownSizeVersions: number;
  /** The most versions left in any one package (they are published one after another). */
  largestPackageVersions: number;
  /** Median size and files of a version already measured, to stand in for the unknown ones; unset when none was measured. */
  typicalVersionBytes?: number;
  typicalVersionFiles?: number;
}

/** Where a rate came from, as the run that read them recorded it (engine/rates.ts); without it, the job file is named. */
export type RateOrigin = 'job' | 'account' | 'default';

export interface EstimateOptions {
  rates?: Partial<EstimateRates>;
  origins?: Partial<Record<keyof EstimateRates, RateOrigin>>;
  /** Packages worked on at once (limits.concurrency; unset: assumed, as the engine sizes it itself). */
  concurrency?: number;
  /** Versions of one package published at once (limits.publishesPerPackage, default 1). */
  publishesPerPackage?: number;
  throughput?: Throughput;
  latencySeconds?: number;
}

/** Requests per version besides its uploads: compare + verify. */
const LIST_PER_VERSION = 2;
const READS_PER_VERSION = 3;

export function estimateDuration(work: EstimateWork, opts: EstimateOptions = {}): Estimate {
  const rates = { ...DEFAULT_RATES, ...opts.rates };
  const concurrency = Math.max(1, opts.concurrency ?? ASSUMED_CONCURRENCY);
  const perPackage = Math.max(1, opts.publishesPerPackage ?? 1);
  const throughput = opts.throughput ?? ASSUMED_THROUGHPUT;
  const latency = opts.latencySeconds ?? ASSUMED_LATENCY_SECONDS;
  const assumptions: string[] = [];
  const from = (key: keyof EstimateRates) =>
    ({ job: `limits.rates.${key}`, account: "the account's applied quota", default: "CodeArtifact's default quota" })[opts.origins?.[key] ?? 'job'];

  let { files, bytes } = work;
  // with no version measured at all (plan --no-download), nothing stands in for the unknown sizes:
  // said as such, never as "the median measured version (0 B)"
  const unmeasured = work.unknownSizeVersions > 0 && work.typicalVersionBytes === undefined;
  if (work.unknownSizeVersions > 0) {
    const perVersion = work.typicalVersionBytes ?? 0;
    const perFiles = work.typicalVersionFiles ?? 1;
    bytes += Math.round(work.unknownSizeVersions * perVersion);
    files += Math.round(work.unknownSizeVersions * perFiles);
    assumptions.push(
      unmeasured
        ? `${work.unknownSizeVersions} version(s) not downloaded or built yet, and no version measured: their size is unknown, so the transfer counts none of their bytes (a lower bound); ${perFiles === 1 ? 'one file each' : `${perFiles} file(s) each`}; all counted as to publish`
        : `${work.unknownSizeVersions} version(s) not downloaded or built yet: counted at the median measured version (${formatBytes(perVersion)}, ${perFiles} file(s)); all counted as to publish`,
    );
  }
  const v = work.versions;
  const components: Estimate['components'] = [
    { name: 'publish-rate', seconds: files / rates.publish, detail: `${files} upload(s) at ${rates.publish}/s (${from('publish')})` },
    { name: 'writes-rate', seconds: files / rates.writes, detail: `${files} write(s) at ${rates.writes}/s account-wide (${from('writes')})` },
    { name: 'list-rate', seconds: (LIST_PER_VERSION * v) / rates.list, detail: `${LIST_PER_VERSION * v} ListPackageVersionAssets (compare, verify) at ${rates.list}/s (${from('list')})` },
    { name: 'reads-rate', seconds: (READS_PER_VERSION * v) / rates.reads, detail: `${READS_PER_VERSION * v} read(s) at ${rates.reads}/s account-wide (${from('reads')})` },
    { name: 'transfer', seconds: throughput.bytesPerSecond > 0 ? bytes / throughput.bytesPerSecond : 0, detail: `${formatBytes(bytes)}${unmeasured ? ' known' : ''} at ${formatBytes(throughput.bytesPerSecond)}/s: ${throughput.detail}` },
    {
      name: 'latency',
      seconds: Math.max((work.largestPackageVersions * latency) / perPackage, (v * latency) / (concurrency * perPackage)),
      detail: `${latency} s per version, oldest first within a package (largest: ${work.largestPackageVersions} versions), ${perPackage === 1 ? 'one version of a package at a time' : `${perPackage} versions of a package at once (limits.publishesPerPackage)`}, ${concurrency} packages at once (${opts.concurrency === undefined ? 'limits.concurrency unset: assumed; a run sizes it from the publish rate and the latency' : 'limits.concurrency'})`,
    },
  ];
  const top = components.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  assumptions.push(
    'the slowest of the components below sets the time: they overlap, they do not add up',
    'every request succeeds the first time (each throttle costs a 20% slower bucket for a while; each retry adds its back-off)',
    `a version costs one upload per file, ${LIST_PER_VERSION} List and ${READS_PER_VERSION} account-wide reads (compare before, verify after)`,
    'downloads and git builds are already done (the dry run stores them; the run reuses the stored bytes)',
    `throughput: ${throughput.detail}`,
  );
  return {
    seconds: v === 0 ? 0 : Math.ceil(top.seconds),
    bound: v === 0 ? 'none' : top.name,
    work: { versions: v, files, bytes, unknownSizeVersions: work.unknownSizeVersions },
    components: components.map((c) => ({ ...c, seconds: Math.round(c.seconds * 10) / 10 })),
    assumptions,
  };
}

/** 1536 -> "1.5 KiB"; what rounds to 1024 of a unit is said in the next one. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  while ((v >= 1024 || (i >= 0 && Math.round(v) >= 1024)) && i < units.length - 1) (v /= 1024), i++;
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** 3725 -> "1 h 2 min"; past two days "4 d 4 h". */
export function formatDuration(seconds: number): string {
  if (Math.round(seconds) < 60) return `${Math.round(seconds)} s`;
  const m = Math.round(seconds / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h >= 48) {
    const hours = Math.round(m / 60);
    return hours % 24 ? `${Math.floor(hours / 24)} d ${hours % 24} h` : `${hours / 24} d`;
  }
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}
