/**
 * Warming: asking the `*-store` repositories for every public package version
 * the company's lockfiles pin, so CodeArtifact has cached them (and we have
 * checked them) before the first build after cutover needs them.
 *
 * Glossary
 * - lockfile:  a file a package manager writes to pin an install (src/lockfiles/).
 * - entry:     one thing a lockfile pins (a LockEntry); deduplicated across files.
 * - item:      what is warmed for one or more entries: one package version of a
 *              registry (an npm alias and its real package are one item), or a
 *              non-registry entry listed for the record. One row in `warm_entries`.
 * - store:     the `*-store` repository of a format: it has the external connection
 *              to the public registry and caches what is requested through it.
 * - internal:  a name the job migrates (its npm packages and scopes, PyPI projects,
 *              Go modules). Never requested through a store: a public package of the
 *              same name would be pulled in (dependency confusion). Checked in the
 *              `*-internal` repository instead.
 * - ingestion: CodeArtifact stores what it fetched from upstream asynchronously: a
 *              version can be served before ListPackageVersions shows it.
 */
import type { Ecosystem, EntryKind, LockfileFormat } from '../lockfiles/index.js';

/** How an item ended. Expected outcomes are values, not exceptions. */
export const WARM_OUTCOMES = [
  'warmed', // requested through the store by us, checked, and the store lists it
  'already-cached', // the store held it (with the bytes the lockfile pins) before we asked
  'blocked', // the store refuses it: origin controls (the package's or its package group's)
  'missing-upstream', // the public registry does not have it (never published, withdrawn, refused)
  'integrity-mismatch', // the public bytes differ from what the lockfile pins: critical
  'non-registry', // git, file, link, workspace, patch, url, bundled or a private registry's: nothing a public store may be asked for
  'pending', // requested and checked, but the store did not list it within pendingTimeoutSeconds
  'internal-present', // an internal name the internal repository holds at that version
  'internal-missing', // an internal name the internal repository does not hold (yet)
  'no-store', // a format without a store repository (Go: CodeArtifact has no Go upstream)
] as const;
export type WarmOutcome = (typeof WARM_OUTCOMES)[number];

/**
 * Outcomes a rerun leaves alone; every other item is looked at again. An integrity mismatch
 * is not one: it says what the store serves now, and a store that later serves (or holds)
 * the pinned bytes must not stay a critical finding forever. Looking again costs the store's
 * listing and asset hashes where it kept what it served: no download.
 */
export const FINAL_OUTCOMES: ReadonlySet<WarmOutcome> = new Set(['warmed', 'already-cached', 'non-registry', 'internal-present', 'no-store']);

/** Where an item's row stands (written before and after every request). */
export type WarmState = 'pending' | 'requested' | 'fetched' | 'done' | 'failed';

/**
 * The kind an item is recorded under: registry (aliases included), or what else the entry is.
 * `private`: a registry package the lockfile pins to a registry that is neither public nor one
 * of the job's sources (another team's index): asking a public store for it would pull in a
 * public package of the same name (dependency confusion), so it is listed, never requested.
 */
export type ItemKind = Exclude<EntryKind, 'alias'> | 'bundled' | 'private';

/** A lockfile as the summary and the report name it. */
export interface LockfileRef {
  /** A local path relative to the job file's folder, or `<git url>#<branch>:<path>`. */
  path: string;
  format: LockfileFormat;
  /** The git repository it was read from (`<url>#<branch>`), or null for a local file. */
  repository: string | null;
}

/** What the lockfile pins to check the bytes with. */
export interface Expected {
  /** npm: the SRI string(s) as written. */
  integrity?: string;
  /** PyPI: `<algorithm>:<hex>` for every file the lockfile allows. */
  hashes?: string[];
  /** PyPI: the files the lockfiles name, each with the hash(es) pinned for it. */
  fileHashes?: Record<string, string[]>;
  /**
   * npm: the pins of other lockfiles that differ from `integrity` (two lockfiles pinning one
   * version with different bytes is what tampering looks like): the bytes must match each.
   */
  otherIntegrity?: { integrity: string; lockfiles: string[] }[];
  /**
   * PyPI: each lockfile's own pins, when lockfiles pin the version differently (`hashes` and
   * `fileHashes` are then their union): pip installs only what its own lockfile pins, so each
   * must be met on its own, and a mismatch names the lockfile that is wrong.
   */
  pinSets?: { lockfiles: string[]; hashes?: string[]; fileHashes?: Record<string, string[]> }[];
  /** yarn berry's cache checksum: not checkable against registry bytes. */
  yarnChecksum?: string;
  /** Go: the module zip's `h1:` (nothing is warmed for Go; recorded for the report). */
  h1?: string;
}

/** One item to warm (or to list), built from the merged lockfile entries. */
export interface WarmItem {
  ecosystem: Ecosystem;
  /** The registry name: an alias's real package; PyPI normalised. */
  name: string;
  /** The name as the lockfile spells it (PyPI: as written), for messages. */
  displayName: string;
  version: string;
  kind: ItemKind;
  internal: boolean;
  expected: Expected;
  /** Why the item is not requested (non-registry: what it is, and where from). */
  note?: string;
  /**
   * npm: a lockfile resolved it from this host, one of the job's own sources (a company
   * registry), under a name the job does not migrate: requested through a store only once
   * the public registry shows that version with the pinned bytes (public-check.ts).
   */
  viaSource?: string;
  /** The lockfiles that name it (by path). */
  files: string[];
}

/** A file's hashes as the store served or holds it (lower-case hex). */
export interface FileHashes {
  name: string;
  size?: number;
  sha512?: string;
  sha256?: string;
  sha1?: string;
}

/** What the store holds of a version with what it just served: a file downloaded replaces the listing's word on it (which may have lacked hashes). */
export function withFetched(held: readonly FileHashes[], fetched: readonly FileHashes[]): FileHashes[] {
  return [...held.filter((h) => !fetched.some((f) => f.name === h.name)), ...fetched];
}

/** The identity of an item: its row's unique key. */
export function itemKey(i: Pick<WarmItem, 'ecosystem' | 'name' | 'version' | 'kind'>): string {
  return [i.ecosystem, i.name, i.version, i.kind].join('\0');
}
