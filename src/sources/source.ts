/**
 * The contract every origin implements. A source lists packages and hands back
 * raw bytes with the hashes it declares; it never verifies, caches or retries
 * (integrity/ checks, engine/ retries), like pacote's fetchers.
 */
import type { Readable } from 'node:stream';
import type { MigrateError } from '../errors.js';
import type { PackageListing } from '../types.js';

/** One package's listing, or why it could not be listed: a value, so one bad package never stops the rest. */
export type ListingResult = { ok: true; listing: PackageListing } | { ok: false; name: string; error: MigrateError };

export interface Source {
  readonly id: string;
  /** Where the bytes come from, recorded as provenance (no credentials in it). */
  readonly url: string;
  list(): AsyncIterable<ListingResult>;
  /** The artifact's bytes, exactly as the source serves them. */
  open(artifactUrl: string, subject: string): Promise<Readable>;
}
