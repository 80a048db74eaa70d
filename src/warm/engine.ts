/**
 * `warm JOB` as a function: read the lockfiles, refuse while an internal name is
 * unprotected, then request every public entry through its store repository at
 * the rate the read quotas allow, with enough requests in flight to use them.
 * Every item is a row (state.ts), so a rerun asks only for what is not warmed.
 */
import { join } from 'node:path';
import PQueue from 'p-queue';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import type { STSClient } from '@aws-sdk/client-sts';
import type { LoadedJob } from '../config/load.js';
import { Limiter } from '../engine/limiter.js';
import { jobRates, resolveRates } from '../engine/rates.js';
import { isRetryable, withRetry } from '../engine/retry.js';
import { gracefulStop, RefusalBreaker, stopWhenStuck, ThrottleBreaker, throttleStormError } from '../engine/stop.js';
import { FATAL_CODES } from '../engine/package.js';
import { localError, MigrateError, toError } from '../errors.js';
import { StateDb } from '../state/db.js';
import { ledgerContext } from '../state/ledger.js';
import { acquireJobLock } from '../state/lock.js';
import { checkTarget, moveTarget, targetOf } from '../state/target.js';
import { sweepLeftovers } from '../state/leftovers.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { callerIdentity } from '../targets/domain.js';
import { createTarget } from '../targets/index.js';
import { quotaNote as quotaNoteOf, readAccountQuotas } from '../targets/quotas.js';
import { BUCKETS, type BucketName, type RateLimiter } from '../types.js';
import { collectInputs } from './inputs.js';
import { ECOSYSTEM_FORMAT, internalNames, unprotectedError, unprotectedNames } from './internal.js';
import { planItems, RegistryHosts } from './items.js';
import { checkPublic } from './public-check.js';
import { checkInternal, warmThroughStore, type PackageContext, type Work } from './package.js';
import { WarmStore, type Decision } from './state.js';
import { createStore, sameVersion, storeRepository } from './stores.js';
import { DEFAULT_STORE_LIMITS, type StoreFormat, type StoreLimits } from './store-format.js';
import { ALL_STANDINGS, MAX_NOTES_PER_LOCKFILE, count, exitCodeOf, problemsOf, standing, uncheckedOf, type Standing, type WarmSummary } from './summary.js';
import { FINAL_OUTCOMES, itemKey, type WarmOutcome } from './types.js';
import { registerJobSecrets } from '../config/secrets.js';

export type WarmProgress =
  | { type: 'repository'; label: string }
  | { type: 'collected'; lockfiles: number; errors: number; items: number; toDo: number }
  | { type: 'item'; ecosystem: string; name: string; version: string; outcome: WarmOutcome | 'failed'; detail?: string }
  | { type: 'retry'; subject: string; code: string; attempt: number; waitMs: number }
  | { type: 'interrupting'; graceMs: number };

export interface WarmOptions {
  job: LoadedJob;
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Abort = start nothing new; in-flight requests get limits.stopGraceSeconds, then are cut off. */
  signal?: AbortSignal;
  onProgress?: (e: WarmProgress) => void;
  /** Overrides warm.pendingTimeoutSeconds. */
  pendingTimeoutSeconds?: number;
  /** What one store answer may cost (size, silence, duration): StoreLimits; tests shrink them. */
  storeLimits?: Partial<StoreLimits>;
  codeartifactClient?: CodeartifactClient;
  serviceQuotasClient?: ServiceQuotasClient;
  stsClient?: STSClient;
  /** The job names another target than the state records: move the state to it (state/target.ts). */
  retarget?: boolean;
  /** How long one question to the public registry may go unanswered (30 s); tests shrink it. */
  publicDeadlineMs?: number;
}

/** The most requests of one kind in flight, whatever the measured round trip says. */
const MAX_IN_FLIGHT = 512;

/** Counts the requests each bucket let through (retries included), for the summary and the bench. */
class CountingLimiter implements RateLimiter {
  readonly counts: Partial<Record<BucketName, number>> = {};
  constructor(readonly inner: Limiter) {}
  take(names: readonly BucketName[], signal?: AbortSignal): Promise<void> {
    for (const n of names) this.counts[n] = (this.counts[n] ?? 0) + 1;
    return this.inner.take(names, signal);
  }
  throttled(names: readonly BucketName[], sentAt?: number): void {
    this.inner.throttled(names, sentAt);
  }
  succeeded(names: readonly BucketName[], ms?: number): void {
    this.inner.succeeded(names, ms);
  }
  answered(peer: string): void {
    this.inner.answered(peer);
  }
  silent(peer: string, idleMs: number): void {
    this.inner.silent(peer, idleMs);
  }
  unreachable(peer: string, why: string): void {
    this.inner.unreachable(peer, why);
  }
  credentialsRefused(e: Error): void {
    this.inner.credentialsRefused(e);
  }
}

export async function warmJob(opts: WarmOptions): Promise<WarmSummary> {
  const started = Date.now();
  const { job } = opts;
  const config = job.config;
  const stateDir = opts.stateDir ?? 'state';
  const env = opts.env ?? process.env;
  const emit = opts.onProgress ?? (() => {});
  registerJobSecrets(config, env);

  const fromJob = jobRates(config.limits.rates);
  let rates = resolveRates(fromJob);
  const limiter = new Limiter(Object.fromEntries(BUCKETS.map((b) => [b, rates[b].rate])) as Record<BucketName, number>);
  // the stop (Ctrl-C, or a CodeArtifact host that stopped answering): start nothing new;
  // after the grace period, cut off what is still in flight
  const stuck = stopWhenStuck(limiter, opts.signal);
  const stop = stuck.signal;
  const graceMs = config.limits.stopGraceSeconds * 1000;
  const stopping = gracefulStop(stop, graceMs, { interrupting: () => emit({ type: 'interrupting', graceMs }) });

  let release: () => void;
  try {
    release = acquireJobLock(stateDir, job, env, 'warm');
    sweepLeftovers(stateDir);
  } catch (e) {
    throw localError(e, stateDir, 'create') ?? e;
  }
  let state: StateDb | undefined;
  let ca: CodeArtifact | undefined;
  try {
    state = StateDb.open(join(stateDir, `${job.name}.sqlite`));
    const db = state;
    const store = new WarmStore(db);
    // a state that records another target says nothing about this one: refused, or moved when told
    const thisTarget = targetOf(config.target);
    const moveFrom = checkTarget(db, thisTarget, { retarget: opts.retarget });

    // inputs and internal names first: bad input is found before CodeArtifact is asked anything
    const inputs = await collectInputs(job, { env, stateDir, signal: stopping.hard, onRepository: (label) => emit({ type: 'repository', label }) });
    const names = await internalNames(job, env, stateDir, db, stopping.hard);
    const plan = planItems(inputs.lockfiles, names, new RegistryHosts(config));

    let quotaNote: string | undefined;
    const counting = new CountingLimiter(limiter);
    ca = new CodeArtifact(config.target, counting, opts.codeartifactClient, stopping.hard);
    const target = ca;
    const retries = config.limits.retries;
    const retry = <T>(subject: string, fn: () => Promise<T>) => withRetry(fn, { budget: retries, signal: stop, onRetry: (e, attempt, waitMs) => emit({ type: 'retry', subject, code: e.code, attempt, waitMs }) });

    await setup(target, retries, stop);
    if (BUCKETS.some((b) => fromJob[b] === undefined)) {
      const account = await readAccountQuotas(config.target.region, env, opts.serviceQuotasClient, stopping.hard);
      rates = resolveRates(fromJob, account);
      quotaNote = quotaNoteOf(account);
      for (const b of BUCKETS) limiter.setRate(b, rates[b].rate);
    }

    // the guard against dependency confusion: nothing is requested while an internal name is unprotected
    const unprotected = await unprotectedNames(target, job, names.list(), stopping.hard);
    if (unprotected.length) throw unprotectedError(unprotected);

    const who = await callerIdentity(config.target.region, env, opts.stsClient, stopping.hard);
    db.ledger = ledgerContext(job, config.target, who, Object.fromEntries(Object.entries(config.target.repositories).map(([f, r]) => [f, r?.store ?? r?.internal])));
    // what a lockfile resolved from a company registry (one of the job's sources) is asked of the
    // public registry first: a private name the job does not migrate is never requested through a store
    const publicCheck = await checkPublic(plan, { registry: config.publicRegistries.npm, store, env, signal: stop, ...(opts.publicDeadlineMs ? { deadlineMs: opts.publicDeadlineMs } : {}) });
    // each store repository answers GetRepositoryEndpoint: a wrong name stops the warm here (exit 2), not item by item
    const stores = new Map<string, StoreFormat>();
    for (const item of plan.items) {
      const where = storeRepository(config, item.ecosystem);
      if (item.kind !== 'registry' || item.internal || 'none' in where || stores.has(item.ecosystem)) continue;
      const fmt = createStore(item.ecosystem, target, where.repository, { ...DEFAULT_STORE_LIMITS, ...opts.storeLimits });
      await storeSetup(target, fmt, retries, stop);
      stores.set(item.ecosystem, fmt);
    }
    // the domain answered: the state is bound to it (the internal repositories are a run's to confirm)
    let retargeted: WarmSummary['retargeted'];
    if (moveFrom.length > 0) retargeted = moveTarget(db, thisTarget, moveFrom, db.ledger);
    else db.recordTarget({ ...thisTarget, repositories: {} });

    const runId = store.startRun();
    const rows = store.record(plan.items);

    const decidedThisRun: Partial<Record<WarmOutcome, number>> = {};
    // a principal that may not read through the stores at all stops the warm (RefusalBreaker)
    const refusals = new RefusalBreaker();
    // and a throttle storm, as it stops a run (THROTTLED_BEFORE_STOP)
    const throttles = new ThrottleBreaker();
    const decided = (w: Work, d: Decision) => {
      // decided from the target's answer (not a non-registry entry, not one without a store): it answered
      if (d.outcome !== 'non-registry' && d.outcome !== 'no-store') {
        refusals.other(true);
        throttles.outcome('answered');
      }
      store.decide(w.row, d);
      count(decidedThisRun, d.outcome);
      emit({ type: 'item', ecosystem: w.item.ecosystem, name: w.item.name, version: w.item.version, outcome: d.outcome, ...(d.detail ? { detail: d.detail } : {}) });
    };
    const failed = (w: Work, e: MigrateError) => {
      // no entry's fault: the warm stopped on it (stopWhenStuck), and the entry stays to do
      if (e.code === 'ETARGETCREDENTIALS') return;
      // the stop cutting the entry's retries short (the last try's error, thrown as its wait was cut off):
      // no failure of the entry, which stays as it stood for the rerun (as a run's versions do: engine/package.ts)
      if (stop.aborted && isRetryable(e)) return;
      // this machine's (a full disk, a state refusing writes) or the proxy's: every next entry would
      // fail alike, so the warm stops there as a run does (engine/package.ts), with nothing blamed on the entry
      if (FATAL_CODES.has(e.code)) return stuck.stopWith(e);
      store.failed(w.row, e.code, e.describe());
      emit({ type: 'item', ecosystem: w.item.ecosystem, name: w.item.name, version: w.item.version, outcome: 'failed', detail: e.describe() });
      // a public registry's failure (EPUBLICREGISTRY) says nothing of the target: the row goes on
      if (throttles.outcome(`failed:${e.code}`)) {
        stuck.stopWith(
          throttleStormError('entry', throttles.count, retries, e.message, {
            between: 'answered',
            lost: 'the throttled entries and those not reached yet are asked then',
            others: 'another client reading through the domain',
          }),
        );
      }
      if (e.code !== 'ETARGETAUTH') refusals.other(false);
      else if (refusals.refused(w.item.name)) {
        stuck.stopWith(
          new MigrateError('ETARGETSETUP', `CodeArtifact refused requests ${refusals.describe()} and has answered none in this warm: the principal most likely may not read through the repositories at all; stopped instead of refusing every entry. The last refusal: ${e.message}`, {
            hint: 'add codeartifact:ReadFromRepository (and GetRepositoryEndpoint, the List/Describe actions) on the store and internal repositories to the principal\'s policy (README, "Running against AWS"), then rerun: the refused entries are asked again',
          }),
        );
      }
    };

    // what each item needs: nothing (final, or nothing to request), the internal repository, or its store
    const throughStore = new Map<string, { fmt: StoreFormat; name: string; work: Work[] }>();
    const internalWork = new Map<string, { eco: Work['item']['ecosystem']; name: string; work: Work[] }>();
    let toDo = 0;
    for (const item of plan.items) {
      const row = rows.get(itemKey(item))!;
      const w: Work = { item, row };
      const where = storeRepository(config, item.ecosystem);
      const final = row.state === 'done' && row.outcome !== null && FINAL_OUTCOMES.has(row.outcome);
      // decided in another repository than the job names now (a store renamed): decided again
      const nowIn = item.internal ? config.target.repositories[ECOSYSTEM_FORMAT[item.ecosystem]]?.internal : 'repository' in where ? where.repository : undefined;
      const elsewhere = row.repository !== null && nowIn !== undefined && row.repository !== nowIn;
      if (final && !elsewhere && !(row.outcome === 'no-store' && 'repository' in where)) continue;
      toDo++;
      const id = itemKey(item);
      if (publicCheck.unasked.has(id)) continue;
      const unverified = publicCheck.unverified.get(id);
      if (unverified !== undefined) failed(w, new MigrateError('EPUBLICREGISTRY', `${unverified}; not requested through a store until it can be (a private package of the company registry would pull in the public one of that name)`, { subject: `${item.name}@${item.version}` }));
      else if (item.kind !== 'registry') decided(w, { outcome: 'non-registry', detail: item.note ?? item.kind });
      else if (item.internal) {
        const key = `${item.ecosystem}\0${item.name}`;
        (internalWork.get(key) ?? internalWork.set(key, { eco: item.ecosystem, name: item.name, work: [] }).get(key)!).work.push(w);
      } else if ('none' in where) decided(w, { outcome: 'no-store', detail: where.none });
      else {
        const fmt = stores.get(item.ecosystem)!;
        const key = `${item.ecosystem}\0${item.name}`;
        (throughStore.get(key) ?? throughStore.set(key, { fmt, name: item.name, work: [] }).get(key)!).work.push(w);
      }
    }
    emit({ type: 'collected', lockfiles: inputs.lockfiles.length, errors: inputs.errors.length, items: plan.items.length, toDo });

    // In flight: enough artifact requests to keep the getAsset bucket busy at the round trip
    // this warm measures (rate x round trip, with headroom), and twice as many packages (each
    // lists the store and reads its metadata before its artifacts), re-sized as it goes.
    const artifactQueue = new PQueue({ concurrency: 16 });
    const packageQueue = new PQueue({ concurrency: 32 });
    const listQueue = new PQueue({ concurrency: 16 });
    const resize = () => {
      const rtt = limiter.latencyMs('getAsset') ?? limiter.latencyMs('reads') ?? 100;
      const wanted = Math.min(MAX_IN_FLIGHT, Math.max(16, Math.ceil((limiter.rate('getAsset') * rtt * 1.5) / 1000) + 8));
      artifactQueue.concurrency = wanted;
      packageQueue.concurrency = Math.min(MAX_IN_FLIGHT, 2 * wanted);
      listQueue.concurrency = Math.min(MAX_IN_FLIGHT, Math.max(16, Math.ceil((limiter.rate('listVersions') * (limiter.latencyMs('listVersions') ?? rtt) * 1.5) / 1000) + 4));
    };
    resize();
    const resizer = setInterval(resize, 500);
    resizer.unref();
    const onAbort = () => packageQueue.clear();
    stop.addEventListener('abort', onAbort, { once: true });

    const ctx: PackageContext = { ca: target, store, artifactQueue, listQueue, retry, stop, hard: stopping.hard, pendingTimeoutMs: (opts.pendingTimeoutSeconds ?? config.warm.pendingTimeoutSeconds) * 1000, decided, failed };
    const ingestions: Promise<unknown>[] = [];
    let fatal: unknown;
    // a throw no entry answers for (the state refusing to record a failure, a decision after the
    // ingestion wait) ends the warm: the packages still queued are not asked for, as after a stop
    const guard = (p: Promise<unknown>) =>
      p.catch((e: unknown) => {
        fatal ??= e;
        packageQueue.clear();
      });
    for (const { eco, name, work } of internalWork.values()) {
      const format = ECOSYSTEM_FORMAT[eco];
      const repo = config.target.repositories[format]?.internal;
      if (!repo) {
        for (const w of work) decided(w, { outcome: 'internal-missing', detail: `an internal name, and the job names no target.repositories.${format}.internal to look in` });
        continue;
      }
      void guard(packageQueue.add(() => checkInternal(ctx, createTarget(format, target, repo).coordinates(name), sameVersion(eco), work)));
    }
    for (const { fmt, name, work } of throughStore.values()) {
      void guard(packageQueue.add(async () => void ingestions.push(guard((await warmThroughStore(ctx, fmt, name, work)).ingestion))));
    }
    await packageQueue.onIdle();
    await Promise.all(ingestions);
    clearInterval(resizer);
    stop.removeEventListener('abort', onAbort);
    if (fatal !== undefined) throw fatal;

    // the summary: every item this warm's lockfiles name, and each lockfile's counts
    const seen = store.rowsOfRun(runId);
    const byKey = new Map(seen.map((r) => [[r.ecosystem, r.name, r.version, r.kind].join('\0'), r]));
    const outcomes: Partial<Record<Standing, number>> = {};
    for (const r of seen) count(outcomes, standing(r));
    const lockfiles = inputs.lockfiles.map(({ ref, result }) => {
      const counts: Partial<Record<Standing, number>> = {};
      const keys = plan.byLockfile.get(ref.path) ?? new Set<string>();
      for (const k of keys) {
        const r = byKey.get(k);
        if (r) count(counts, standing(r));
      }
      const notes = result.warnings.slice(0, MAX_NOTES_PER_LOCKFILE).map((w) => ({ file: w.file, ...(w.line ? { line: w.line } : {}), message: w.message }));
      const notesLeftOut = result.warnings.length - notes.length;
      return { ...ref, entries: result.entries.length, counts: Object.fromEntries(ALL_STANDINGS.filter((s) => counts[s]).map((s) => [s, counts[s]])), notes, ...(notesLeftOut > 0 ? { notesLeftOut } : {}) };
    });
    const summary: WarmSummary = {
      job: job.name,
      runId,
      interrupted: stop.aborted,
      outcomes,
      decidedThisRun,
      lockfiles,
      lockfileErrors: inputs.errors,
      problems: problemsOf(seen),
      nonRegistry: seen.filter((r) => r.outcome === 'non-registry').map((r) => ({ ecosystem: r.ecosystem, name: r.name, version: r.version, kind: r.kind, detail: r.detail ?? '', lockfiles: JSON.parse(r.files) as string[] })),
      unchecked: uncheckedOf(seen),
      requests: counting.counts,
      publicLookups: publicCheck.lookups,
      rates: Object.fromEntries(BUCKETS.map((b) => [b, { ...rates[b], ...(limiter.latencyMs(b) !== undefined ? { latencyMs: Math.round(limiter.latencyMs(b)!) } : {}) }])) as WarmSummary['rates'],
      ...(quotaNote ? { quotaNote } : {}),
      ...(retargeted ? { retargeted } : {}),
      throttles: limiter.throttles,
      tokenFetches: target.tokenFetches,
      durationMs: Date.now() - started,
      // a stop says so in the summary too, as a run's does (the process exits 130)
      exitCode: stop.aborted && !stuck.stuck() ? 130 : exitCodeOf(outcomes, inputs.errors.length),
    };
    store.endRun(stuck.stuck() ? 'stopped-by-error' : stop.aborted ? 'interrupted' : summary.exitCode === 0 ? 'complete' : 'incomplete', summary);
    if (stuck.stuck()) throw stuck.reason(undefined);
    return summary;
  } catch (e) {
    throw stuck.reason(e);
  } finally {
    stopping.dispose();
    // the state closed (a rescue written where the state was deleted) before the lock lets the next run in
    try {
      state?.close();
    } finally {
      release();
      if (!opts.codeartifactClient) ca?.client.destroy();
    }
  }
}

async function storeSetup(ca: CodeArtifact, fmt: StoreFormat, retries: number, signal: AbortSignal): Promise<void> {
  try {
    await withRetry(() => ca.endpoint(fmt.format, fmt.repository), { budget: retries, signal });
  } catch (thrown) {
    const e = toError(thrown);
    if (!(e instanceof MigrateError) || e.status !== 404) throw e;
    throw new MigrateError('ETARGETSETUP', `CodeArtifact: no ${fmt.format} repository ${fmt.repository} in domain ${ca.config.domain}: ${e.message}`, {
      cause: e,
      hint: `check target.repositories.${fmt.ecosystem}.store in the job file`,
    });
  }
}

/** One token and a working domain before anything else: refused credentials stop the warm here (exit 2). */
async function setup(ca: CodeArtifact, retries: number, signal: AbortSignal): Promise<void> {
  try {
    await withRetry(() => ca.authToken(), { budget: retries, signal });
  } catch (thrown) {
    const e = toError(thrown);
    if (!(e instanceof MigrateError) || !['ETARGETAUTH', 'ETARGETCREDENTIALS', 'ETARGETREJECTED'].includes(e.code)) throw e;
    throw new MigrateError('ETARGETSETUP', `CodeArtifact refused the credentials for domain ${ca.config.domain} (owner ${ca.config.domainOwner}, ${ca.config.region}): ${e.message}`, {
      cause: e,
      hint: 'check the AWS credentials (aws sts get-caller-identity), the job\'s target, and the IAM permissions listed in the README',
    });
  }
}
