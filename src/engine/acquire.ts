/**
 * Getting a version's files into the blob store: downloaded from a registry
 * (checked against what the registry declares while streaming; failing bytes
 * are never kept) or built from a clean checkout of a git tag (once: the built
 * files are what every later run uploads, never rebuilt). Either way the
 * files become the version's assets, recorded with the move to `fetched`.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type PQueue from 'p-queue';
import { buildVersion } from '../builders/index.js';
import type { InternalNpmRegistry } from '../builders/npm.js';
import { MigrateError, sourceRefusedError, sourceSilentError, sourceUnreachableError, toError, vanishedError } from '../errors.js';
import { silenceIn } from '../sources/download.js';
import { noAnswer } from '../net/agents.js';
import { checkDeclared, declaredHash } from '../integrity/hashes.js';
import type { BlobStore, StoredBlob } from '../state/blobs.js';
import type { ItemRow, NewAsset, StateDb } from '../state/db.js';
import type { Source } from '../sources/index.js';
import type { AssetFile, TargetFormat } from '../targets/format.js';
import type { Format } from '../types.js';
import type { ProgressEvent } from './events.js';
import { STUCK_AFTER, type StuckWatch } from './limiter.js';
import { RefusalBreaker } from './stop.js';
import { unresolvableOf } from './unresolvable.js';
import { withRetry, type RetryOptions } from './retry.js';

export interface AcquireContext {
  state: StateDb;
  blobs: BlobStore;
  sources: Map<string, Source>;
  target: (format: Format) => TargetFormat;
  retries: number;
  signal: AbortSignal;
  hardSignal: AbortSignal;
  maxArtifactBytes: number;
  /** Builds run here, at most one per core. */
  buildQueue: PQueue;
  /** Where checkouts and build outputs live while a build runs (under the state directory). */
  workDir: string;
  /** The job's npm registries and the names they serve: an npm build's install never resolves those publicly. */
  internalNpm?: readonly InternalNpmRegistry[];
  /** Per source, downloads in a row it left unanswered: a stuck source's other versions fail at once (ESOURCESILENT). */
  sourceSilence: StuckWatch;
  /** Per source, downloads in a row it refused (401/403), across packages: a token revoked mid-run fails the source's other versions at once. */
  sourceRefusals: Map<string, RefusalBreaker>;
  emit: (e: ProgressEvent) => void;
}

const subjectOf = (row: ItemRow) => `${row.package}@${row.version}`;

function retryOptions(ctx: AcquireContext, subject: string): RetryOptions {
  return { budget: ctx.retries, signal: ctx.signal, onRetry: (e, attempt, waitMs) => ctx.emit({ type: 'retry', subject, code: e.code, attempt, waitMs }) };
}

/** The listing itself makes this version unusable (set by the source adapter). */
export function checkListed(row: ItemRow): void {
  if (row.source_problem) {
    throw new MigrateError('EBADSOURCE', `${subjectOf(row)}: ${row.source_problem}`, { subject: subjectOf(row), hint: 'it is never downloaded or built; repair it at the source or exclude it' });
  }
}

/** What the source declares now, as something to check bytes against; throws ENOINTEGRITY/EINTEGRITY when it declares nothing usable. */
export function declaredOf(row: ItemRow) {
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

/** Does this row still need its files (again)? Every asset's blob must be in the store. */
export function needsFetch(row: ItemRow, state: StateDb, blobs: BlobStore): boolean {
  if (row.source_problem) return false;
  if (row.state === 'pending') return true;
  if (row.state !== 'failed' && row.state !== 'fetched') return false;
  const assets = state.assetsOf(row.id);
  return assets.length === 0 || assets.some((a) => !blobs.has(a.sha512, a.size));
}

/** The version's files as the target will take them, from its recorded assets. */
export function assetFiles(state: StateDb, blobs: BlobStore, row: ItemRow): AssetFile[] {
  return state.assetsOf(row.id).map((a) => ({
    name: a.name,
    path: blobs.pathOf(a.sha512),
    size: a.size,
    hashes: { md5: a.md5, sha1: a.sha1, sha256: a.sha256, sha512: a.sha512 },
    facts: JSON.parse(a.facts) as Record<string, unknown>,
  }));
}

/** Download or build the version's files, store them, check them, and record the row `fetched` with its assets. */
export async function fetchItem(ctx: AcquireContext, row: ItemRow): Promise<ItemRow> {
  const subject = subjectOf(row);
  checkListed(row);
  const source = ctx.sources.get(row.source_id);
  if (!source) throw new MigrateError('ECONFIG', `${subject}: source "${row.source_id}" is no longer in the job file`, { subject });
  const { assets, facts, weak } = source.kind === 'git' ? await build(ctx, source, row) : await download(ctx, source, row);
  const files: AssetFile[] = assets.map((a) => ({ name: a.name, path: ctx.blobs.pathOf(a.hashes.sha512), size: a.size, hashes: a.hashes, facts: a.facts ?? {} }));
  await ctx.target(row.format).checkAssets?.(row.package, row.version, files);
  // what the version's own metadata names that a consumer of the target cannot resolve (EUNRESOLVABLEDEP): recorded, never changed
  const unresolvable = await unresolvableOf(row.format, files, subject);
  // [] when none: the record says the version was checked (a version without it was not, as one fetched by an earlier release)
  const allFacts = unresolvable ? { ...facts, unresolvable } : facts;
  const main = assets[0]!;
  return ctx.state.transition(
    row.id,
    'fetched',
    { hashes: main.hashes, size: main.size, integrityWeak: weak, error: null, assets, registryUrl: source.url, ...(allFacts ? { facts: allFacts } : {}) },
    weak ? 'weak integrity: sha1 only' : source.kind === 'git' ? `built ${assets.map((a) => a.name).join(', ')}` : undefined,
  );
}

/** A registry's tarball: streamed to the store while hashed, and kept only if it matches the declaration. */
async function download(ctx: AcquireContext, source: Source, row: ItemRow): Promise<{ assets: NewAsset[]; facts?: Record<string, unknown>; weak: boolean }> {
  const subject = subjectOf(row);
  const declared = declaredOf(row);
  const silence = ctx.sourceSilence;
  const refusals = ctx.sourceRefusals.get(source.id) ?? ctx.sourceRefusals.set(source.id, new RefusalBreaker()).get(source.id)!;
  const blob = await withRetry(async () => {
    // a source that left its last downloads unanswered, or refused them, is not asked again in this run
    const stuck = silence.stuck(source.id);
    if (stuck) throw stuck.unreachable === undefined ? sourceSilentError(subject, source.id, STUCK_AFTER, stuck.idleMs) : sourceUnreachableError(subject, source.id, stuck.unreachable, stuck.forMs);
    if (refusals.tripped) throw sourceRefusedError(subject, source.id, refusals.describe());
    const noted = (e: unknown, beforeAnswer = false) => {
      const quiet = silenceIn(e);
      if (quiet && !ctx.hardSignal.aborted) silence.silent(source.id, quiet.idleMs);
      // refused, reset before any answer, no such host: counted as the target's are (StuckWatch);
      // a body cut off after the answer began is the source answering, if badly
      const unanswered = !beforeAnswer || quiet || ctx.hardSignal.aborted ? undefined : noAnswer(e);
      if (unanswered) silence.unreachable(source.id, unanswered);
      if (e instanceof MigrateError && e.code === 'ESOURCEAUTH') refusals.refused(row.package);
      return e;
    };
    const stream = await source.open(row.artifact_url, subject, { signal: ctx.hardSignal, maxBytes: ctx.maxArtifactBytes }).catch((e: unknown) => {
      throw noted(e, true);
    });
    // the source answered this download: its token still works (the body is another matter)
    refusals.other(false);
    try {
      const stored = await ctx.blobs.put(stream, { maxBytes: ctx.maxArtifactBytes, subject, verify: (hashes) => checkDeclared(subject, declared, hashes) });
      silence.answered(source.id);
      return stored;
    } catch (e) {
      noted(e);
      if (e instanceof MigrateError) throw e;
      if (ctx.hardSignal.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: download cut off by the stop`, { subject });
      throw new MigrateError('ESOURCE', `${subject}: download broke off: ${toError(e).message}`, { subject, cause: e });
    }
  }, retryOptions(ctx, subject));
  return { assets: [{ name: source.assetName ?? 'artifact', size: blob.size, hashes: blob.hashes }], weak: declared.weak };
}

/**
 * A git tag: a clean checkout of its commit, the format's builder, the files
 * into the store. Checkouts are retried (the network); builds are not (a
 * build that fails fails the same way again: it is reported with its log).
 */
async function build(ctx: AcquireContext, source: Source, row: ItemRow): Promise<{ assets: NewAsset[]; facts?: Record<string, unknown>; weak: boolean }> {
  const subject = subjectOf(row);
  if (!source.checkout || !source.buildFormat || !row.source_commit) throw new MigrateError('EBADSOURCE', `${subject}: no commit recorded for this version`, { subject });
  const format = source.buildFormat;
  return (await ctx.buildQueue.add(async () => {
    if (ctx.signal.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: not built: the run is stopping`, { subject });
    const checkout = await withRetry(() => source.checkout!(row.version, row.source_commit!, ctx.hardSignal), retryOptions(ctx, subject));
    const outDir = join(ctx.workDir, `build-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    mkdirSync(outDir, { recursive: true });
    try {
      const built = await buildVersion({ format, checkout, name: row.package, version: row.version, outDir, scratchDir: ctx.workDir, maxFileBytes: ctx.maxArtifactBytes, signal: ctx.hardSignal, ...(ctx.internalNpm ? { internalNpm: ctx.internalNpm } : {}) });
      const assets: NewAsset[] = [];
      for (const f of built.files) {
        const stored: StoredBlob = await ctx.blobs.put(createReadStream(f.path), { maxBytes: ctx.maxArtifactBytes, subject: `${subject} ${f.name}` });
        assets.push({ name: f.name, size: stored.size, hashes: stored.hashes, facts: f.facts });
      }
      return { assets, facts: { ...built.facts, commit: checkout.commit, committedAt: checkout.committedAt.toISOString(), recipe: checkout.recipe }, weak: false };
    } catch (e) {
      // a folder the build used, deleted under it (the state directory cleaned while the run went on):
      // the build's failure, or git's in the checkout, is this machine's, not the tag's
      if (ctx.hardSignal.aborted || (e instanceof MigrateError && e.code === 'ELOCAL')) throw e;
      throw vanishedError(e, subject, [{ path: checkout.dir, what: 'the checkout' }, ...(checkout.uses ?? []), { path: outDir, what: "the build's output folder" }]) ?? e;
    } finally {
      checkout.cleanup();
      rmSync(outDir, { recursive: true, force: true });
    }
  }))!;
}
