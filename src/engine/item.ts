/**
 * One item's way through the states, whatever its format. Every transition is
 * written before the next side effect; each asset's upload is recorded before
 * and after its request; an upload whose outcome is unknown is settled by
 * reading the target, never by uploading again blind. Nothing is uploaded
 * unless its bytes, re-read from the blob store just before, are the ones
 * recorded and (for a registry) match what the source declares now.
 */
import { MigrateError } from '../errors.js';
import { printable } from '../redact.js';
import { checkDeclared, declaredHash } from '../integrity/hashes.js';
import { FOUND_AFTER_INTERRUPTED, type ItemRow } from '../state/db.js';
import type { PackageCoordinates, TargetAsset, TargetVersion } from '../targets/codeartifact.js';
import { FOREIGN_HINT, type AssetFile, type TargetFormat } from '../targets/format.js';
import type { CodeArtifact } from '../targets/codeartifact.js';
import type { RunOutcome } from './events.js';
import { assetFiles, declaredOf, fetchItem, type AcquireContext } from './acquire.js';
import { withRetry, type RetryOptions } from './retry.js';

export interface ItemContext extends AcquireContext {
  ca: () => CodeArtifact;
  dryRun: boolean;
  /** This run's id: only versions its listings showed may be published. */
  runId: number;
  /** Whether the job's filters select this version (applyFilters sets aside the others, but never an interrupted publish: that is settled here first). */
  selects?: (pkg: string, version: string) => boolean;
}

/** Per target package: its versions there, read once, and the source's dist-tags. */
export interface PackageContext {
  name: string;
  target: TargetFormat;
  coords: PackageCoordinates;
  targetVersions: () => Promise<Map<string, TargetVersion>>;
  distTags: Record<string, string>;
  /** Called as the version's first upload request is about to go out (the next version may then start its own). */
  onPublishStart?: () => void;
  /** Why nothing may be published into this package (its publish BLOCK, kept by harden), if so. */
  publishBlocked?: string;
  /**
   * Target versions this run began publishing, each settled when that publish ends: another
   * source's row of the same version is compared with the target after it, never with the
   * listing read before it (which would send the version again and record a second publish).
   */
  sent?: Map<string, Promise<void>>;
}

const subjectOf = (row: ItemRow) => `${row.package}@${row.version}`;

function retryOptions(ctx: ItemContext, subject: string): RetryOptions {
  return { budget: ctx.retries, signal: ctx.signal, onRetry: (e, attempt, waitMs) => ctx.emit({ type: 'retry', subject, code: e.code, attempt, waitMs }) };
}

/** The source tag naming this version (latest first), else undefined (the target's backfill tag). */
export function tagFor(distTags: Record<string, string>, version: string): string | undefined {
  if (distTags.latest === version) return 'latest';
  return Object.entries(distTags).find(([, v]) => v === version)?.[0];
}

type Seen =
  | { kind: 'absent' }
  | { kind: 'identical'; status?: string; origin?: string; assets: TargetAsset[] }
  /** Some of our files are there with our bytes, the others not yet (a version cut off between two uploads, or files added). */
  | { kind: 'partial'; present: Set<string> }
  | { kind: 'other'; asset: string; sha512: string; ours: string }
  /** Files of the version that are none of ours (pip may install an added wheel instead of ours). */
  | { kind: 'foreign'; names: string[]; sha512: string }
  | { kind: 'unusable'; status: string };

/** Statuses in which a version is on the target but cannot be installed (https://docs.aws.amazon.com/codeartifact/latest/ug/packages-overview.html#package-version-status). */
const UNUSABLE_HINT: Record<string, string> = {
  Archived: 'restore it: aws codeartifact update-package-versions-status --target-status Published (an Archived version cannot be installed)',
  Unlisted: 'list it again: aws codeartifact update-package-versions-status --target-status Published (clients will not see it)',
  Disposed: 'its assets were deleted: delete the version (aws codeartifact delete-package-versions) and rerun to publish it again',
  Deleted: 'delete what is left of it (aws codeartifact delete-package-versions) and rerun to publish it again',
  Unfinished: 'finish or delete it on the target, then rerun',
};

/** Our file as the target lists it: the same bytes (SHA-512, and SHA-256 and size where listed), other bytes, or absent. */
function sameBytes(ours: AssetFile, theirs: TargetAsset): boolean {
  const h = theirs.hashes;
  if (h['SHA-512']?.toLowerCase() !== ours.hashes.sha512) return false;
  if (h['SHA-256'] && h['SHA-256'].toLowerCase() !== ours.hashes.sha256) return false;
  return theirs.size === undefined || theirs.size === ours.size;
}

/** What the target holds for a version, against our files. */
async function compareWithTarget(ctx: ItemContext, pkg: PackageContext, row: ItemRow, files: readonly AssetFile[]): Promise<Seen> {
  const version = pkg.target.targetVersion(row.version);
  const sent = pkg.sent?.get(version);
  if (sent) await sent;
  const listed = (await pkg.targetVersions()).get(version);
  // The package-wide listing was read once before our own uploads; only a
  // version it shows, or one we may have uploaded ourselves (this row, or
  // another source's row of the same version in this run), needs a closer look.
  if (!listed && !sent && row.state !== 'publishing' && row.attempts === 0) return { kind: 'absent' };
  const theirs = await ctx.ca().versionAssets(pkg.coords, version);
  if (!theirs || theirs.length === 0) {
    // listed, but nothing to install: a Disposed or Deleted version blocks a new publish of it
    if (listed && listed.status !== 'Published' && listed.status !== 'Unfinished') return { kind: 'unusable', status: listed.status };
    return { kind: 'absent' };
  }
  const byName = new Map(theirs.map((a) => [a.name, a]));
  const present = new Set<string>();
  for (const f of files) {
    const t = byName.get(f.name);
    if (!t) continue;
    if (!sameBytes(f, t)) return { kind: 'other', asset: f.name, sha512: t.hashes['SHA-512']?.toLowerCase() ?? '', ours: f.hashes.sha512 };
    present.add(f.name);
  }
  const foreign = notOurs(theirs, files);
  if (foreign.length > 0) return { kind: 'foreign', names: foreign.map((a) => a.name), sha512: foreign[0]!.hashes['SHA-512']?.toLowerCase() ?? '' };
  if (present.size === files.length) return { kind: 'identical', status: listed?.status, origin: listed?.originType, assets: theirs };
  // part of it there, in a status no file can be added to or installed from (Archived, Unlisted): said as
  // for a whole version in it, with its fix, before anything is sent to it
  if (listed && listed.status !== 'Published' && listed.status !== 'Unfinished') return { kind: 'unusable', status: listed.status };
  return { kind: 'partial', present };
}

/** The target's files of a version that are none of ours. */
function notOurs(theirs: readonly TargetAsset[], files: readonly AssetFile[]): TargetAsset[] {
  const ours = new Set(files.map((f) => f.name));
  return theirs.filter((a) => !ours.has(a.name));
}

/** The target's version holds files that are none of ours: never added to, never cut over. */
function foreignConflict(ctx: ItemContext, row: ItemRow, seen: { names: string[]; sha512: string }, files: readonly AssetFile[], refetched?: string): ItemRow {
  const rebuilt = refetched ? ` (ours were just ${ctx.sources.get(row.source_id)?.kind === 'git' ? 'built' : 'downloaded'} again because ${refetched}: other build tools may name their files differently)` : '';
  const message = `${subjectOf(row)}: the target's version holds ${seen.names.map((n) => printable(n)).join(', ')}, which is none of the files this version has (${files.map((f) => f.name).join(', ')})${rebuilt}; nothing is added to it. ${FOREIGN_HINT}`;
  return ctx.state.transition(row.id, 'conflict', { targetSha512: seen.sha512, targetAsset: seen.names[0] ?? null, error: { code: 'ECONFLICT', message } });
}

function conflict(ctx: ItemContext, row: ItemRow, asset: string, theirs: string, ours = row.sha512): ItemRow {
  // files of ours this version already has on the target (a PyPI sdist uploaded before its wheel was refused): half a version stays there
  const sent = ctx.state.assetsOf(row.id).filter((a) => a.state === 'uploaded' && a.name !== asset).map((a) => a.name);
  const part = sent.length
    ? `; ${sent.join(', ')} of ours ${sent.length === 1 ? 'was' : 'were'} already uploaded to this version and stay${sent.length === 1 ? 's' : ''} there, half a version clients can see: delete the version on the target (aws codeartifact delete-package-versions) to leave nothing of it`
    : '';
  const message = `${subjectOf(row)}: the target already holds ${asset} with other bytes; it is never overwritten (ours sha512 ${ours}, target sha512 ${theirs || 'unknown'})${part}`;
  return ctx.state.transition(row.id, 'conflict', { targetSha512: theirs, targetAsset: asset, error: { code: 'ECONFLICT', message } });
}

/**
 * Why the version's files were built (or downloaded) again after a run of ours had uploaded
 * `asset` to the target, or undefined when it never did. The new files replaced the recorded
 * ones (and their upload states): without this, the target's file, our own upload, would be
 * reported as somebody else's. The job's build settings changed (a recipe change makes the
 * row pending, with an event saying so), or the stored files were gone (a `failed` row with
 * a missing blob is fetched again at the start of the run).
 */
function rebuiltSinceUpload(ctx: ItemContext, row: ItemRow, asset: string): string | undefined {
  const events = ctx.state.events(row.id);
  const upload = events.findLastIndex((e) => e.detail !== null && e.detail.startsWith(`${asset}: `) && /^(uploaded|already on the target with our bytes|found on the target with our bytes)$/.test(e.detail.slice(asset.length + 2)));
  if (upload < 0) return undefined;
  const since = events.slice(upload + 1);
  const settings = since.findLast((e) => e.to_state === 'pending' && e.detail?.startsWith("the job's build settings"))?.detail;
  if (settings) return settings.replace(/: building it again$/, '');
  // fetchItem's move to `fetched` (a build says what it built; a download says nothing, or that its hash is weak)
  const refetched = since.some((e) => e.to_state === 'fetched' && (e.detail === null || e.detail.startsWith('built ') || e.detail.startsWith('weak integrity')));
  return refetched ? 'the files recorded when it was first fetched were missing or changed in the blob store' : undefined;
}

/**
 * The files were built (or downloaded) again just before publishing, and a file
 * an earlier run uploaded is on the target with other bytes than the new one:
 * a rebuild of a tag is byte-identical only with the same build tools and a
 * build that puts nothing variable in its files (build times are clamped, see
 * builders/sdist-times.ts). Nothing is wrong at AWS; say what happened and what to do.
 */
function refetchConflict(ctx: ItemContext, row: ItemRow, seen: { asset: string; sha512: string; ours: string }, why: string): ItemRow {
  const built = ctx.sources.get(row.source_id)?.kind === 'git';
  const again = built ? 'built again' : 'downloaded again';
  const message =
    `${subjectOf(row)}: ${why}, so it was ${again}, and the new ${seen.asset} is not byte-identical to the one an earlier run uploaded ` +
    `(new sha512 ${seen.ours}, target sha512 ${seen.sha512 || 'unknown'}); the target is never overwritten and nothing more of this version was uploaded; ` +
    (built && why.startsWith("the job's build settings")
      ? "the rebuild follows the job's new settings; put them back as they were when it was first built and rerun (it is built again the old way and the rest uploaded beside the file already there), or delete the version on the target (aws codeartifact delete-package-versions) and rerun to publish the new build's files together"
      : built
      ? 'a rebuild has other bytes when the build tools changed since (setuptools, hatchling, Python, Node.js) or the build writes something variable into its files; restore the state directory\'s blobs from a backup (the files recorded when it was first built) and rerun to upload the rest, or delete the version on the target (aws codeartifact delete-package-versions) and rerun to publish the rebuilt files together'
      : 'the source now serves other bytes than were uploaded: decide by hand which bytes are right; to publish the new ones, delete the version on the target (aws codeartifact delete-package-versions) and rerun');
  return ctx.state.transition(row.id, 'conflict', { targetSha512: seen.sha512, targetAsset: seen.asset, error: { code: 'ECONFLICT', message } });
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
 * Take a fetched (or interrupted) item as far as publishing: compare, upload.
 * Returns the outcome for this run, or the published row still to verify
 * (verification runs beside the next publishes: see verifyItem).
 * `refetched` (set by this function only) says why the files were just built
 * or downloaded again: a conflict found then is explained as such.
 */
export async function settleItem(ctx: ItemContext, pkg: PackageContext, start: ItemRow, refetched?: string): Promise<RunOutcome | { verify: ItemRow }> {
  let row = start;
  const subject = subjectOf(row);
  const retry = retryOptions(ctx, subject);
  if (row.state === 'published') return { verify: row };

  const files = assetFiles(ctx.state, ctx.blobs, row);
  const seen = await withRetry(() => compareWithTarget(ctx, pkg, row, files), retry);
  if (seen.kind === 'other') {
    // the conflict a run found before, unchanged: nothing new to record
    if (row.state === 'conflict' && !refetched && row.target_sha512 === seen.sha512) return 'conflict';
    const rebuilt = refetched ?? rebuiltSinceUpload(ctx, row, seen.asset);
    if (rebuilt) refetchConflict(ctx, row, seen, rebuilt);
    else conflict(ctx, row, seen.asset, seen.sha512, seen.ours);
    return 'conflict';
  }
  if (seen.kind === 'foreign') {
    if (!(row.state === 'conflict' && !refetched && row.target_sha512 === seen.sha512)) foreignConflict(ctx, row, seen, files, refetched);
    return 'conflict';
  }
  if (seen.kind === 'unusable') throw unusable(row, seen.status);
  if (seen.kind === 'identical') {
    // Ours if we ever tried to publish it (a run died before recording the answer): verify it
    if (row.attempts > 0) {
      // ours, but Unlisted or Archived since (someone changed it on the target while the publish
      // was cut off): said as for anyone's version in that status, with its fix, never recorded
      // published (verification would only fail it, after its retries, without the fix)
      if (seen.status && seen.status !== 'Published' && seen.status !== 'Unfinished') throw unusable(row, seen.status);
      // every file landed but the version is still Unfinished (cut off between the last upload and
      // its publish): finish it; a dry run only says it would (finishing is a write)
      if (seen.status === 'Unfinished' && ctx.dryRun) return 'would-publish';
      if (seen.status === 'Unfinished') await withRetry(() => ctx.ca().finishVersion(pkg.coords, pkg.target.targetVersion(row.version)), retry);
      for (const a of ctx.state.assetsOf(row.id)) if (a.state !== 'uploaded') ctx.state.setAssetState(a, 'uploaded', 'found on the target with our bytes');
      const published = ctx.state.transition(row.id, 'published', { error: null }, FOUND_AFTER_INTERRUPTED);
      // the publish landed with the bytes fetched then; the source has declared other bytes since
      if (!declaredMatches(published)) ctx.state.note(row.id, 'EREDECLARED', `the source now declares ${row.declared_integrity ?? row.declared_shasum ?? 'no hash'}; the target keeps the bytes an interrupted publish had sent`);
      return { verify: published };
    }
    // Somebody else put the same bytes there: complete only if it can be installed
    const status = seen.status ?? (await withRetry(() => ctx.ca().describeVersion(pkg.coords, pkg.target.targetVersion(row.version)), retry))?.status ?? 'unknown';
    if (status !== 'Published') throw unusable(row, status);
    ctx.state.transition(row.id, 'present-identical', { error: null, targetHashes: targetHashes(seen.assets) }, `already on the target with identical bytes (status ${status}, origin ${seen.origin ?? 'unknown'})`);
    return 'present-identical';
  }

  // absent (or partly there): upload, if this run's listing still holds it
  if (row.last_listed_run !== ctx.runId) {
    if (row.removed_at && seen.kind === 'absent') {
      ctx.state.transition(row.id, 'removed', {}, 'the source no longer lists it and the target does not hold it: not published');
      return 'removed';
    }
    // partly there (files an earlier run of ours uploaded): never "removed", which says nothing of it is on the target
    const why = row.removed_at
      ? 'not published: the source no longer lists it, and the target holds part of it (files an earlier run uploaded); delete the version on the target (aws codeartifact delete-package-versions) to leave nothing of it'
      : 'not published: the source did not list it in this run';
    ctx.state.transition(row.id, 'fetched', {}, why);
    return 'deferred';
  }
  // an interrupted publish of a version the filters now leave out (edited after the run was cut off):
  // what the read found is kept, nothing more is sent; said as perhaps partly on the target (LEFT_OUT_ON_TARGET)
  if (ctx.selects && !ctx.selects(row.package, row.version)) {
    ctx.state.transition(row.id, 'excluded', {}, 'excluded by the job filters after a publish of it was cut off; the target does not hold it whole, and nothing more of it is sent');
    return 'excluded';
  }
  // likewise a version the job now skips (`versions:`; recordListing keeps the skip on the row)
  if (row.last_error_code === 'ESKIPPED') {
    ctx.state.transition(row.id, 'skipped', {}, `skipped after a publish of it was cut off (${row.last_error ?? ''}); the target does not hold it whole, and nothing more of it is sent`);
    return 'skipped';
  }
  // publish BLOCK on the package, which harden keeps: said once per version, nothing sent (a plan says it too)
  if (pkg.publishBlocked !== undefined) {
    if (row.state === 'publishing') ctx.state.transition(row.id, 'fetched', {}, 'publishing is blocked on the target');
    throw new MigrateError('EPUBLISHBLOCKED', `${subject}: the origin controls of the package in ${pkg.target.repository} block publishing (publish BLOCK on the package, or a package group whose PUBLISH is BLOCK or allows only repositories other than this one, set before this run); nothing was sent`, {
      subject,
      hint: pkg.publishBlocked,
    });
  }
  // an interrupted publish stays recorded as it stands: its `uploaded` files are what the next run
  // trusts while the target's listing may lag (a move to `fetched` would send them again)
  if (ctx.dryRun) return 'would-publish';
  if (ctx.signal.aborted) throw new MigrateError('EINTERRUPTED', 'interrupted before publishing', { subject });
  const fresh = await ensureFresh(ctx, row);
  if (fresh.refetched) {
    // What the comparison found on the target was measured against the old
    // files: compare the new ones again before anything is sent (a file an
    // earlier run uploaded may now differ from its rebuild). Once only: files
    // just stored that fail their check again are a disk problem, not a loop.
    if (refetched) throw new MigrateError('EBLOBMISSING', `${subject}: the files just ${fresh.refetched} are already missing or changed on disk`, { subject, hint: 'check the disk under the state directory, then rerun' });
    return settleItem(ctx, pkg, fresh.row, fresh.refetched);
  }
  row = await publish(ctx, pkg, fresh.row, seen.kind === 'partial' ? seen.present : new Set(), retry);
  if (row.state === 'conflict') return 'conflict';
  return { verify: row };
}

/** Do the row's bytes match what its source declares now? (Built versions declare nothing: yes.) */
function declaredMatches(row: ItemRow): boolean {
  if (!row.declared_integrity && !row.declared_shasum) return true;
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
 * Just before uploading: every stored file must still be the bytes recorded (a
 * disk or a person may have changed them), and a registry's must match what it
 * declares NOW (it may have republished since). Otherwise the files are fetched
 * (or built) again, and the caller compares the new files with the target
 * again (`refetched` says why they were fetched).
 */
async function ensureFresh(ctx: ItemContext, row: ItemRow): Promise<{ row: ItemRow; refetched?: string }> {
  let why: string | undefined;
  const assets = ctx.state.assetsOf(row.id);
  if (assets.length === 0) why = 'no files recorded';
  else if ((row.declared_integrity || row.declared_shasum) && !declaredMatchesNow(row)) why = 'the source now declares other bytes';
  else {
    for (const a of assets) {
      if (!(await ctx.blobs.check(a.sha512, a.size))) {
        why = `the stored ${a.name} is missing or changed on disk`;
        break;
      }
    }
  }
  if (!why) return { row };
  const pending = ctx.state.transition(row.id, 'pending', {}, `${why}: getting it again before publishing`);
  return { row: await fetchItem(ctx, pending), refetched: why };
}

function declaredMatchesNow(row: ItemRow): boolean {
  const declared = declaredOf(row);
  try {
    checkDeclared(subjectOf(row), declared, { sha512: row.sha512 ?? '', sha1: row.sha1 ?? '', sha256: row.sha256 ?? '', md5: row.md5 ?? '' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Upload the version's files one by one, in order, each recorded `uploading`
 * before its request and `uploaded` after. Files already on the target with
 * our bytes (found by the comparison, or uploaded by an earlier run) are not
 * sent again. An answer that never came is settled by reading the target.
 */
async function publish(ctx: ItemContext, pkg: PackageContext, fetched: ItemRow, present: ReadonlySet<string>, retry: RetryOptions): Promise<ItemRow> {
  const subject = subjectOf(fetched);
  const files = assetFiles(ctx.state, ctx.blobs, fetched);
  let assets = ctx.state.assetsOf(fetched.id);
  // A file recorded `uploaded` that the comparison just did not find on the target was taken
  // off it since an earlier run ended (the version deleted there, as ECONFLICT and EVERIFY
  // advise, or a file a lying target never stored): sent again, or the version would be
  // called published with the file missing, and fail verification on every rerun. Only a
  // publish cut off in the middle (`publishing`) keeps its record: a file sent just before
  // the cut may not be listed yet.
  if (fetched.state !== 'publishing') {
    for (const a of assets) if (a.state === 'uploaded' && !present.has(a.name)) ctx.state.setAssetState(a, 'stored', 'uploaded by an earlier run, but the target no longer holds it: uploading it again');
    assets = ctx.state.assetsOf(fetched.id);
  }
  const tag = tagFor(pkg.distTags, fetched.version);
  let row = ctx.state.transition(fetched.id, 'publishing', { countAttempt: true }, `publishing ${files.map((f) => f.name).join(', ')}${tag ? ` with dist-tag ${tag}` : ''}`);
  // Until a request comes back with anything but a refusal (publishAsset throws only when the
  // target stored nothing: a 4xx, a throttle, refused credentials), nothing of the version can
  // be on the target.
  let mayHaveLanded = false;
  // settled when this publish ends, whichever way: another source's row of this version waits for it (compareWithTarget)
  let ended!: () => void;
  pkg.sent?.set(pkg.target.targetVersion(fetched.version), new Promise<void>((resolve) => (ended = resolve)));
  try {
    return await uploadAssets();
  } catch (e) {
    // refused before anything landed, on the version's first publish: the attempt is undone, so a
    // filter, a skip or a job edit that leaves it out later says "not migrated", never "the
    // target may hold part of it" (LEFT_OUT_ON_TARGET, notInJob's publishBegun)
    if (!mayHaveLanded && fetched.attempts === 0 && ctx.state.assetsOf(row.id).every((a) => a.state !== 'uploaded')) {
      for (const a of ctx.state.assetsOf(row.id)) if (a.state === 'uploading') ctx.state.setAssetState(a, 'stored', 'refused by the target: nothing stored');
      ctx.state.transition(row.id, 'fetched', { uncountAttempt: true }, 'the target refused the publish: nothing of it was stored');
    }
    throw e;
  } finally {
    ended();
  }

  async function uploadAssets(): Promise<ItemRow> {
    const version = pkg.target.targetVersion(row.version);
    for (let i = 0; i < assets.length; i++) {
      let asset = assets[i]!;
      const file = files[i]!;
      if (asset.state === 'uploaded') continue;
      if (present.has(asset.name)) {
        ctx.state.setAssetState(asset, 'uploaded', 'already on the target with our bytes');
        continue;
      }
      const isLast = assets.slice(i + 1).every((a) => a.state === 'uploaded' || present.has(a.name));
      // A read of the target that failed (after its own retries) says nothing of whether the file
      // landed: it ends this version's attempt as it stands (the next run reads the target first),
      // never sends the file again blind.
      let readFailed: unknown;
      const settle = async <T>(read: () => Promise<T>): Promise<T> => {
        try {
          return await withRetry(read, retry);
        } catch (e) {
          readFailed = e;
          throw e;
        }
      };
      const done = await withRetry(async () => {
        asset = ctx.state.setAssetState(asset, 'uploading', `uploading (attempt ${asset.attempts + 1})`);
        const sent = pkg.target.publishAsset({ name: row.package, version, coords: pkg.coords, asset: file, assets: files, isLast, distTag: tag, signal: ctx.hardSignal });
        // the request is on its way: the next version of this package may send its own
        pkg.onPublishStart?.();
        const result = await sent;
        mayHaveLanded = true;
        if (result.kind === 'published') return 'uploaded' as const;
        // 409 or an answer that never came: read the target rather than upload blind.
        const theirs = (await settle(() => ctx.ca().versionAssets(pkg.coords, version)))?.find((a) => a.name === file.name);
        if (theirs && sameBytes(file, theirs)) return 'uploaded' as const;
        if (theirs) return { conflict: theirs.hashes['SHA-512']?.toLowerCase() ?? '' };
        if (result.kind === 'exists') {
          // the version exists without this file, and the target will not take it (a generic version is closed once Published)
          const status = (await settle(() => ctx.ca().describeVersion(pkg.coords, version)))?.status ?? 'unknown';
          throw new MigrateError('ETARGETREJECTED', `${subject}: the target refused ${file.name} (409), and the version (status ${status}) does not hold it`, {
            subject,
            hint: 'the version was created on the target without this file; delete it there (aws codeartifact delete-package-versions) and rerun, or exclude it',
          });
        }
        throw result.error; // not there: retryable, so withRetry uploads again
      }, { ...retry, retryIf: (e) => e !== readFailed });
      if (done !== 'uploaded') return (row = conflict(ctx, row, file.name, done.conflict, file.hashes.sha512));
      asset = ctx.state.setAssetState(asset, 'uploaded', 'uploaded');
      assets = ctx.state.assetsOf(row.id);
    }
    return (row = ctx.state.transition(row.id, 'published', { error: null }));
  }
}

/** Read the target back: a published item becomes verified, or fails with EMISMATCH/EVERIFY. */
export async function verifyItem(ctx: ItemContext, pkg: PackageContext, row: ItemRow): Promise<RunOutcome> {
  const subject = subjectOf(row);
  const theirs = await withRetry(() => verify(ctx, pkg, row), retryOptions(ctx, subject));
  ctx.state.transition(row.id, 'verified', { error: null, targetHashes: targetHashes(theirs) }, 'target hashes and status match');
  return 'published';
}

/** What the target reported per file, for the ledger. */
function targetHashes(assets: readonly TargetAsset[]): Record<string, Record<string, unknown>> {
  return Object.fromEntries(assets.map((a) => [a.name, { size: a.size, ...a.hashes }]));
}

async function verify(ctx: ItemContext, pkg: PackageContext, row: ItemRow): Promise<TargetAsset[]> {
  const subject = subjectOf(row);
  const version = pkg.target.targetVersion(row.version);
  const files = assetFiles(ctx.state, ctx.blobs, row);
  const theirs = await ctx.ca().versionAssets(pkg.coords, version);
  if (!theirs || theirs.length === 0) throw new MigrateError('EVERIFY', `${subject}: published, but the target lists no assets yet`, { subject });
  for (const f of files) {
    const t = theirs.find((a) => a.name === f.name);
    if (!t) throw new MigrateError('EVERIFY', `${subject}: published, but the target does not list ${f.name} yet`, { subject });
    if (!sameBytes(f, t)) {
      throw new MigrateError('EMISMATCH', `${subject}: the target's ${f.name} differs from what we published`, {
        subject,
        expected: `sha512 ${f.hashes.sha512}, sha256 ${f.hashes.sha256} (${f.size} bytes)`,
        actual: `sha512 ${t.hashes['SHA-512']}, sha256 ${t.hashes['SHA-256']} (${t.size} bytes)`,
        hint: 'do not cut over this package: something else wrote this version after our publish (another run or tool publishing into the repository, a replaced asset), or the upload was altered on the way; check the repository\'s CloudTrail for PublishPackageVersion and the npm/pypi publish calls, then dispose of the version and rerun',
      });
    }
  }
  const foreign = notOurs(theirs, files);
  if (foreign.length > 0) {
    throw new MigrateError('EVERIFY', `${subject}: published, but the target's version also holds ${foreign.map((a) => printable(a.name)).join(', ')}, which this run did not publish`, {
      subject,
      expected: files.map((f) => f.name).join(', '),
      actual: theirs.map((a) => a.name).join(', '),
      hint: FOREIGN_HINT,
    });
  }
  const described = await ctx.ca().describeVersion(pkg.coords, version);
  if (described?.status !== 'Published' || described.originType !== 'INTERNAL') {
    throw new MigrateError('EVERIFY', `${subject}: the target says status ${described?.status ?? 'missing'}, origin ${described?.originType ?? 'unknown'}`, {
      subject,
      expected: 'Published, INTERNAL',
      actual: `${described?.status}, ${described?.originType}`,
    });
  }
  await pkg.target.verifyWithClient?.(row.package, version, files, ctx.hardSignal);
  return theirs;
}
