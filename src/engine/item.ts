/**
 * One item's way through the states. Every transition is written before the
 * next side effect; a publish whose outcome is unknown is settled by reading
 * the target, never by publishing again blind. Nothing is published unless
 * its bytes, re-read from the blob store just before, match what the source
 * declares now.
 */
import semver from 'semver';
import { MigrateError, toError } from '../errors.js';
import { checkDeclared, declaredHash } from '../integrity/hashes.js';
import type { BlobStore } from '../state/blobs.js';
import type { ItemRow, StateDb } from '../state/db.js';
import type { Source } from '../sources/index.js';
import type { CodeArtifact, PackageCoordinates, TargetVersion } from '../targets/codeartifact.js';
import { readTarballManifest, type NpmTarget, type Manifest } from '../targets/npm.js';
import type { Hashes } from '../types.js';
import type { ProgressEvent, RunOutcome } from './events.js';
import { withRetry, type RetryOptions } from './retry.js';

/** The dist-tag a backfilled version is published under when no source tag names it; removed by the tag sync. */
export const BACKFILL_TAG = 'cam-backfill';

export interface ItemContext {
  state: StateDb;
  blobs: BlobStore;
  sources: Map<string, Source>;
  ca: () => CodeArtifact;
  npm: () => NpmTarget;
  retries: number;
  dryRun: boolean;
  /** The stop: start nothing new. */
  signal: AbortSignal;
  /** The stop after its grace period: cut off what is in flight. */
  hardSignal: AbortSignal;
  maxArtifactBytes: number;
  /** This run's id: only versions its listings showed may be published. */
  runId: number;
  emit: (e: ProgressEvent) => void;
}

/** Per target package: its versions there, read once, and the source's dist-tags. */
export interface PackageContext {
  name: string;
  coords: PackageCoordinates;
  targetVersions: () => Promise<Map<string, TargetVersion>>;
  distTags: Record<string, string>;
}

const subjectOf = (row: ItemRow) => `${row.package}@${row.version}`;

function retryOptions(ctx: ItemContext, subject: string): RetryOptions {
  return { budget: ctx.retries, signal: ctx.signal, onRetry: (e, attempt, waitMs) => ctx.emit({ type: 'retry', subject, code: e.code, attempt, waitMs }) };
}

/** Does this row still need its bytes (again)? */
export function needsFetch(row: ItemRow, blobs: BlobStore): boolean {
  if (row.source_problem) return false;
  if (row.state === 'pending') return true;
  if (row.state === 'failed' || row.state === 'fetched') return !(row.sha512 && blobs.has(row.sha512, row.size ?? undefined));
  return false;
}

/** What the source declares now, as something to check bytes against; throws ENOINTEGRITY/EINTEGRITY when it declares nothing usable. */
function declaredOf(row: ItemRow) {
  const subject = subjectOf(row);
  const declared = declaredHash(row.declared_integrity ?? undefined, row.declared_shasum ?? undefined, subject);
  if (!declared) {
    throw new MigrateError('ENOINTEGRITY', `${subject}: the source declares neither dist.integrity nor dist.shasum`, {
      subject,
      hint: 'its bytes cannot be checked, so it is not published; exclude it in filters, or republish it at the source',
    });
  }
  return declared;
}

/** The listing itself makes this version unusable (set by the source adapter). */
export function checkListed(row: ItemRow): void {
  if (row.source_problem) {
    throw new MigrateError('EBADSOURCE', `${subjectOf(row)}: ${row.source_problem}`, { subject: subjectOf(row), hint: 'it is never downloaded; repair it at the source or exclude it' });
  }
}

/** Download, hash while streaming, check against the source's declaration (failing bytes are never kept), read the manifest. */
export async function fetchItem(ctx: ItemContext, row: ItemRow): Promise<ItemRow> {
  const subject = subjectOf(row);
  checkListed(row);
  const source = ctx.sources.get(row.source_id);
  if (!source) throw new MigrateError('ECONFIG', `${subject}: source "${row.source_id}" is no longer in the job file`, { subject });
  const declared = declaredOf(row);
  const blob = await withRetry(async () => {
    const stream = await source.open(row.artifact_url, subject, { signal: ctx.hardSignal, maxBytes: ctx.maxArtifactBytes });
    try {
      return await ctx.blobs.put(stream, { maxBytes: ctx.maxArtifactBytes, subject, verify: (hashes) => checkDeclared(subject, declared, hashes) });
    } catch (e) {
      if (e instanceof MigrateError) throw e;
      if (ctx.hardSignal.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: download cut off by the stop`, { subject });
      throw new MigrateError('ESOURCE', `${subject}: download broke off: ${toError(e).message}`, { subject, cause: e });
    }
  }, retryOptions(ctx, subject));
  if (row.format === 'npm') await checkNpmManifest(subject, row, blob.path);
  return ctx.state.transition(row.id, 'fetched', { hashes: blob.hashes, size: blob.size, integrityWeak: declared.weak, error: null }, declared.weak ? 'weak integrity: sha1 only' : undefined);
}

/**
 * The tarball must be the version the registry lists, of the package being
 * migrated. Old tarballs may spell the version loosely ("v1.2.0", "=1.2.0"):
 * npm normalised it when publishing, so the registry lists "1.2.0" while the
 * bytes keep the original spelling.
 */
async function checkNpmManifest(subject: string, row: ItemRow, path: string): Promise<Manifest> {
  const manifest = await readTarballManifest(path, subject);
  const version = typeof manifest.version === 'string' ? manifest.version : '';
  const sameVersion = version === row.version || semver.clean(version, { loose: true }) === row.version;
  if (manifest.name !== row.package || !sameVersion) {
    throw new MigrateError('EBADSOURCE', `${subject}: the tarball's package.json says ${String(manifest.name)}@${String(manifest.version)}`, {
      subject,
      expected: subject,
      actual: `${String(manifest.name)}@${String(manifest.version)}`,
      hint: 'the registry serves the wrong tarball for this version; exclude it or repair the source',
    });
  }
  return manifest;
}

type Seen = { kind: 'absent' } | { kind: 'identical'; status?: string; origin?: string } | { kind: 'other'; sha512: string } | { kind: 'unusable'; status: string };

/** Statuses in which a version is on the target but cannot be installed (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-version-status). */
const UNUSABLE_HINT: Record<string, string> = {
  Archived: 'restore it: aws codeartifact update-package-versions-status --target-status Published (an Archived version cannot be installed)',
  Unlisted: 'list it again: aws codeartifact update-package-versions-status --target-status Published (npm clients will not see it)',
  Disposed: 'its assets were deleted: delete the version (aws codeartifact delete-package-versions) and rerun to publish it again',
  Deleted: 'delete what is left of it (aws codeartifact delete-package-versions) and rerun to publish it again',
  Unfinished: 'finish or delete it on the target, then rerun',
};

/** What the target holds for a version, against our bytes. */
async function compareWithTarget(ctx: ItemContext, pkg: PackageContext, row: ItemRow): Promise<Seen> {
  const listed = (await pkg.targetVersions()).get(row.version);
  // The package-wide listing was read once before our own publishes; only a
  // version it shows, or one we may have published ourselves, needs a closer look.
  if (!listed && row.state !== 'publishing' && row.attempts === 0) return { kind: 'absent' };
  const assets = await ctx.ca().versionAssets(pkg.coords, row.version);
  if (!assets || assets.length === 0) {
    // listed, but nothing to install: a Disposed or Deleted version blocks a new publish of it
    if (listed && listed.status !== 'Published' && listed.status !== 'Unfinished') return { kind: 'unusable', status: listed.status };
    return { kind: 'absent' };
  }
  const main = assets.find((a) => a.name === 'package.tgz') ?? assets[0]!;
  const theirs = main.hashes['SHA-512']?.toLowerCase() ?? '';
  return theirs === row.sha512 ? { kind: 'identical', status: listed?.status, origin: listed?.originType } : { kind: 'other', sha512: theirs };
}

function conflict(ctx: ItemContext, row: ItemRow, theirs: string): ItemRow {
  const message = `${subjectOf(row)}: the target already holds this version with other bytes; it is never overwritten (ours sha512 ${row.sha512}, target sha512 ${theirs || 'unknown'})`;
  return ctx.state.transition(row.id, 'conflict', { targetSha512: theirs, error: { code: 'ECONFLICT', message } });
}

function unusable(row: ItemRow, status: string): MigrateError {
  const subject = subjectOf(row);
  return new MigrateError('ETARGETSTATUS', `${subject}: the target holds this version with status ${status}, so it cannot be installed after cutover`, {
    subject,
    expected: 'Published',
    actual: status,
    hint: `${UNUSABLE_HINT[status] ?? 'make it Published on the target'}; lockfiles naming this version would break`,
  });
}

/**
 * Take a fetched (or interrupted) item as far as publishing: compare, publish.
 * Returns the outcome for this run, or the published row still to verify
 * (verification runs beside the next publishes: see verifyItem).
 */
export async function settleItem(ctx: ItemContext, pkg: PackageContext, start: ItemRow): Promise<RunOutcome | { verify: ItemRow }> {
  let row = start;
  const subject = subjectOf(row);
  const retry = retryOptions(ctx, subject);
  if (row.state === 'published') return { verify: row };

  const seen = await withRetry(() => compareWithTarget(ctx, pkg, row), retry);
  if (seen.kind === 'other') {
    conflict(ctx, row, seen.sha512);
    return 'conflict';
  }
  if (seen.kind === 'unusable') throw unusable(row, seen.status);
  if (seen.kind === 'identical') {
    // Ours if we ever tried to publish it (a run died before recording the answer): verify it
    if (row.attempts > 0) {
      const published = ctx.state.transition(row.id, 'published', { error: null }, 'found on the target after an interrupted publish');
      // the publish landed with the bytes fetched then; the source has declared other bytes since
      if (!declaredMatches(published)) ctx.state.note(row.id, 'EREDECLARED', `the source now declares ${row.declared_integrity ?? row.declared_shasum ?? 'no hash'}; the target keeps the bytes an interrupted publish had sent`);
      return { verify: published };
    }
    // Somebody else put the same bytes there: complete only if it can be installed
    const status = seen.status ?? (await withRetry(() => ctx.ca().describeVersion(pkg.coords, row.version), retry))?.status ?? 'unknown';
    if (status !== 'Published') throw unusable(row, status);
    ctx.state.transition(row.id, 'present-identical', { error: null }, `already on the target with identical bytes (status ${status}, origin ${seen.origin ?? 'unknown'})`);
    return 'present-identical';
  }

  // absent from the target: publish, if this run's listing still holds it
  if (row.last_listed_run !== ctx.runId) {
    if (row.removed_at) {
      ctx.state.transition(row.id, 'removed', {}, 'the source no longer lists it and the target does not hold it: not published');
      return 'removed';
    }
    ctx.state.transition(row.id, 'fetched', {}, 'not published: the source did not list it in this run');
    return 'deferred';
  }
  if (ctx.dryRun) {
    if (row.state === 'publishing') ctx.state.transition(row.id, 'fetched', {}, 'dry run: interrupted publish not on the target');
    return 'would-publish';
  }
  if (ctx.signal.aborted) throw new MigrateError('EINTERRUPTED', 'interrupted before publishing', { subject });
  row = await ensureFresh(ctx, row);
  row = await publish(ctx, pkg, row, retry);
  if (row.state === 'conflict') return 'conflict';
  return { verify: row };
}

/** Do the row's bytes match what its source declares now? */
function declaredMatches(row: ItemRow): boolean {
  try {
    const declared = declaredHash(row.declared_integrity ?? undefined, row.declared_shasum ?? undefined, subjectOf(row));
    if (!declared || !row.sha512 || !row.sha1 || !row.sha256 || !row.md5) return false;
    checkDeclared(subjectOf(row), declared, { sha512: row.sha512, sha1: row.sha1, sha256: row.sha256, md5: row.md5 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Just before a publish: the stored bytes must still be the ones recorded (a
 * disk or a person may have changed them) and must match what the source
 * declares NOW (it may have republished since they were fetched). Otherwise
 * they are thrown away and fetched again.
 */
async function ensureFresh(ctx: ItemContext, row: ItemRow): Promise<ItemRow> {
  const subject = subjectOf(row);
  const declared = declaredOf(row);
  let why: string | undefined;
  if (!row.sha512 || !row.sha1 || !row.sha256 || !row.md5 || row.size === null) why = 'no bytes recorded';
  else {
    try {
      checkDeclared(subject, declared, { sha512: row.sha512, sha1: row.sha1, sha256: row.sha256, md5: row.md5 } satisfies Hashes);
    } catch {
      why = 'the source now declares other bytes';
    }
    if (!why && !(await ctx.blobs.check(row.sha512, row.size))) why = 'the stored blob is missing or changed on disk';
  }
  if (!why) return row;
  const pending = ctx.state.transition(row.id, 'pending', {}, `${why}: downloading again before publishing`);
  return fetchItem(ctx, pending);
}

/** Read the target back: a published item becomes verified, or fails with EMISMATCH/EVERIFY. */
export async function verifyItem(ctx: ItemContext, pkg: PackageContext, row: ItemRow): Promise<RunOutcome> {
  const subject = subjectOf(row);
  await withRetry(() => verify(ctx, pkg, row), retryOptions(ctx, subject));
  ctx.state.transition(row.id, 'verified', { error: null }, 'target hashes and status match');
  return 'published';
}

async function publish(ctx: ItemContext, pkg: PackageContext, fetched: ItemRow, retry: RetryOptions): Promise<ItemRow> {
  const subject = subjectOf(fetched);
  if (!fetched.sha512 || !fetched.sha1 || fetched.size === null) {
    throw new MigrateError('EBLOBMISSING', `${subject}: the downloaded tarball is missing from the blob store`, { subject, hint: 'rerun: it will be downloaded again' });
  }
  const blob = { path: ctx.blobs.pathOf(fetched.sha512), size: fetched.size, sha1: fetched.sha1, sha512: fetched.sha512 };
  const manifest = await checkNpmManifest(subject, fetched, blob.path);
  const tag = tagFor(pkg.distTags, fetched.version);
  let row = ctx.state.transition(fetched.id, 'publishing', { countAttempt: true }, `publishing with dist-tag ${tag}`);
  return withRetry(async () => {
    const result = await ctx.npm().publish(row.package, row.version, manifest, blob, tag, ctx.hardSignal);
    if (result.kind === 'published') return (row = ctx.state.transition(row.id, 'published', { error: null }));
    // 409 or an answer that never came: read the target rather than publish blind.
    const seen = await compareWithTarget(ctx, pkg, row);
    if (seen.kind === 'identical') return (row = ctx.state.transition(row.id, 'published', { error: null }, result.kind === 'exists' ? 'already there, identical' : 'landed despite the error'));
    if (seen.kind === 'other') return (row = conflict(ctx, row, seen.sha512));
    if (seen.kind === 'unusable') throw unusable(row, seen.status);
    if (result.kind === 'exists') throw new MigrateError('ETARGETREJECTED', `${subject}: the endpoint says the version exists, but the target lists no such version`, { subject });
    throw result.error; // not there: retryable, so withRetry publishes again
  }, retry);
}

async function verify(ctx: ItemContext, pkg: PackageContext, row: ItemRow): Promise<void> {
  const subject = subjectOf(row);
  const assets = await ctx.ca().versionAssets(pkg.coords, row.version);
  if (!assets || assets.length === 0) throw new MigrateError('EVERIFY', `${subject}: published, but the target lists no assets yet`, { subject });
  const main = assets.find((a) => a.name === 'package.tgz') ?? assets[0]!;
  const theirs = main.hashes['SHA-512']?.toLowerCase();
  if (theirs !== row.sha512 || (main.size !== undefined && main.size !== row.size)) {
    throw new MigrateError('EMISMATCH', `${subject}: the target's ${main.name} differs from what we published`, {
      subject,
      expected: `sha512 ${row.sha512} (${row.size} bytes)`,
      actual: `sha512 ${theirs} (${main.size} bytes)`,
      hint: 'report this to AWS support with both hashes; do not cut over this package',
    });
  }
  const described = await ctx.ca().describeVersion(pkg.coords, row.version);
  if (described?.status !== 'Published' || described.originType !== 'INTERNAL') {
    throw new MigrateError('EVERIFY', `${subject}: the target says status ${described?.status ?? 'missing'}, origin ${described?.originType ?? 'unknown'}`, {
      subject,
      expected: 'Published, INTERNAL',
      actual: `${described?.status}, ${described?.originType}`,
    });
  }
}

/** The source tag naming this version (latest first), else the backfill tag. */
export function tagFor(distTags: Record<string, string>, version: string): string {
  if (distTags.latest === version) return 'latest';
  return Object.entries(distTags).find(([, v]) => v === version)?.[0] ?? BACKFILL_TAG;
}
