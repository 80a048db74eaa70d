/**
 * The contract every origin implements. A source lists packages and hands back
 * raw bytes with the hashes it declares; it never verifies, caches or retries
 * (integrity/ checks, engine/ retries), like pacote's fetchers.
 */
import type { Readable } from 'node:stream';
import type { MigrateError } from '../errors.js';
import type { PackageListing } from '../types.js';

/** A package name to list, or why a set of names could not be found (a failed scope search): a value, so one bad answer never stops the rest. */
export type NameResult = { ok: true; name: string } | { ok: false; name: string; error: MigrateError };

/**
 * How the caller retries one request of a source (engine/retry.ts's policy): a scope search
 * yields names as it pages, so the engine cannot retry it from outside as it retries a listing.
 */
export type Retrier = <T>(attempt: () => Promise<T>) => Promise<T>;

export interface OpenOptions {
  /** Aborting cuts the transfer off (the stop after its grace period). */
  signal?: AbortSignal;
  /** Refuse a body announced larger than this. */
  maxBytes?: number;
}

/** A clean checkout of one tagged commit, for a builder; `cleanup()` removes it. */
export interface Checkout {
  dir: string;
  /** The package's directory inside the repository ('' = the root). */
  subdir: string;
  commit: string;
  committedAt: Date;
  /** The job's build settings for this version. */
  build: { command?: string | string[]; python?: string; timeoutMs: number; network: boolean };
  /** What decides the built bytes besides the commit, as recorded with them (VersionListing.recipe). */
  recipe: string;
  /** Folders the checkout reads from besides its own (git: the mirror whose objects it shares), each with what to call it. */
  uses?: readonly { path: string; what: string }[];
  cleanup(): void;
}

export interface Source {
  readonly id: string;
  /** Where the bytes come from, recorded as provenance (no credentials in it). */
  readonly url: string;
  /** `registry`: versions are downloaded (open); `git`: versions are built from a checkout. */
  readonly kind: 'registry' | 'git';
  /** registry: the name its one file has on the target (npm: `package.tgz`). */
  readonly assetName?: string;
  /** git: which builder turns a checkout into files. */
  readonly buildFormat?: 'npm' | 'pypi' | 'go';
  /**
   * Work before listing (git: clone or fetch the mirror); the engine retries it.
   * `recorded` gives the versions the state holds for a package, as they were spelled:
   * a version that several equal spellings name (PEP 440's `1.0`, `1.0.0`) keeps the
   * recorded one when a tag is added or deleted, or it would be published again.
   */
  prepare?(signal?: AbortSignal, recorded?: (name: string) => readonly string[]): Promise<void>;
  /** git: a clean checkout of the version's commit. */
  checkout?(version: string, commit: string, signal?: AbortSignal): Promise<Checkout>;
  /** Release what the source holds (temporary key files). */
  close?(): void;
  /** Every package name the job asks this source for; each request it makes (a search page) goes through `retry`. */
  packageNames(signal?: AbortSignal, retry?: Retrier): AsyncIterable<NameResult>;
  /** One package's versions and dist-tags; throws a coded MigrateError (the engine retries). */
  listing(name: string, signal?: AbortSignal): Promise<PackageListing>;
  /** The artifact's bytes, exactly as the source serves them. */
  open(artifactUrl: string, subject: string, opts?: OpenOptions): Promise<Readable>;
}

/**
 * The names a source holds, for a caller that needs only them (harden, the warm's internal
 * names): a source with nothing in it (ESOURCEEMPTY) adds none, the run is the one to report
 * it; any other listing error is thrown.
 */
export async function* namesOf(source: Source, signal?: AbortSignal, retry?: Retrier): AsyncIterable<string> {
  for await (const n of source.packageNames(signal, retry)) {
    if (n.ok) yield n.name;
    else if (n.error.code !== 'ESOURCEEMPTY') throw n.error;
  }
}
