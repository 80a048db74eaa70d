/**
 * A run: list every source into rows, apply the filters, then work the rows.
 * Packages go through a bounded queue; within a package versions are published
 * oldest first while their downloads run ahead in a second bounded queue.
 */
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import PQueue from 'p-queue';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { protectFromBuilds, sealedFolder } from '../builders/process.js';
import type { LoadedJob } from '../config/load.js';
import { localError, MigrateError, targetUnreachableError, toError } from '../errors.js';
import { sweepLeftovers } from '../state/leftovers.js';
import { BlobStore } from '../state/blobs.js';
import { forStorage } from '../redact.js';
import { StateDb, type ItemRow, type WorkKey } from '../state/db.js';
import { jobFileOf, ledgerContext } from '../state/ledger.js';
import { acquireJobLock } from '../state/lock.js';
import { checkTarget, moveTarget, targetOf } from '../state/target.js';
import { createSource, type Source } from '../sources/index.js';
import { goTagPatternMismatches } from '../sources/git.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { createTarget, type TargetFormat } from '../targets/index.js';
import { BUCKETS, FINAL_STATES, type BucketName, type Format } from '../types.js';

/** The most packages worked on at once when the job sets no `concurrency`. */
const MAX_ADAPTIVE_PACKAGES = 256;
import { storeOf, type JobConfig } from '../config/schema.js';
import type { ProgressEvent, RunOutcome, RunSummary } from './events.js';
import type { ItemContext } from './item.js';
import { FATAL_CODES, migratePackage, type PackageRunContext } from './package.js';
import { applyFilters, summarize, watchLiveHeap } from './summary.js';
import { checkGoSums, goSumFiles } from './gosum-check.js';
import { backfillUnresolvable } from './unresolvable.js';
import { Limiter, StuckWatch } from './limiter.js';
import { gracefulStop, RefusalBreaker, targetStuckError, ThrottleBreaker, throttleStormError } from './stop.js';
import { jobRates, resolveRates } from './rates.js';
import { harden, scopesOf } from './harden.js';
import { jobNamesPackage, otherJobsOfThisWork, recordSources, refuseReformattedSources, refuseRenamedSources, refuseRespelledPackages, notAskedBy, setAsideDropped } from './job-edits.js';
import { callerIdentity } from '../targets/domain.js';
import type { STSClient } from '@aws-sdk/client-sts';
import { quotaNote as quotaNoteOf, readAccountQuotas } from '../targets/quotas.js';
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { withRetry } from './retry.js';
import { noAnswer } from '../net/agents.js';
import { registerJobSecrets } from '../config/secrets.js';
import { compileFilters } from '../config/filters.js';

export interface RunOptions {
  job: LoadedJob;
  /** Folder for `<job>.sqlite` and blobs; default `state`. */
  stateDir?: string;
  dryRun?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Abort = finish what is in flight, start nothing new. */
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /** Overrides `limits.concurrency`. */
  concurrency?: number;
  /** For tests: a preconfigured SDK client. */
  codeartifactClient?: CodeartifactClient;
  /** For tests: a preconfigured Service Quotas client. */
  serviceQuotasClient?: ServiceQuotasClient;
  /** For tests: a preconfigured STS client (the principal recorded in the ledger). */
  stsClient?: STSClient;
  /** A plan: the target is only read; any write throws EREADONLY before a request is made. */
  readOnly?: boolean;
  /** A plan without AWS access: sources only (implies readOnly). */
  noTarget?: boolean;
  /** A plan that only lists: nothing downloaded or built; the target's listings only. */
  noDownload?: boolean;
  /** The caller holds the job's lock already (a plan keeps it until its report is written). */
  lockHeld?: boolean;
  /** The job names another target than the state records: move the state to it (state/target.ts). */
  retarget?: boolean;
}

export async function runJob(opts: RunOptions): Promise<RunSummary> {
  const started = Date.now();
  const { job } = opts;
  const config = job.config;
  const stateDir = opts.stateDir ?? 'state';
  const env = opts.env ?? process.env;
  const emit = opts.onProgress ?? (() => {});
  const dryRun = (opts.dryRun ?? false) || (opts.readOnly ?? false) || (opts.noTarget ?? false);
  registerJobSecrets(config, env);
  // a tag's build writes only its own folders: not the state (mirrors, blobs, other builds), nor the job's
  // folder, nor (wherever they are, a temp folder too) the job file and the known_hosts files it names
  protectFromBuilds(stateDir);
  protectFromBuilds(dirname(resolve(job.file)));
  protectFromBuilds(resolve(job.file));
  for (const s of config.sources) if (s.kind === 'git' && s.knownHostsFile) protectFromBuilds(s.knownHostsFile);

  // Sources are built first: a missing token variable is bad input, found before anything is written.
  const sources = new Map<string, Source>();
  try {
    for (const s of config.sources) if (s.enabled) sources.set(s.id, createSource(s, env, stateDir, job.name, config.limits));
  } catch (e) {
    for (const source of sources.values()) source.close?.();
    throw e;
  }
  const closeSources = () => {
    for (const source of sources.values()) source.close?.();
  };

  // The stop (first Ctrl-C, or a fatal error): start nothing new. After the grace period the
  // hard stop cuts off whatever is still in flight; the rows say where each version stood.
  const fatal = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, fatal.signal]) : fatal.signal;
  const graceMs = config.limits.stopGraceSeconds * 1000;
  const stopping = gracefulStop(signal, graceMs, {
    interrupting: () => {
      if (!fatal.signal.aborted) emit({ type: 'interrupting', graceMs });
    },
    cuttingOff: () => emit({ type: 'cutting-off' }),
  });
  let fatalError: unknown;
  const stopFatally = (e: unknown) => {
    fatalError ??= e;
    fatal.abort();
  };

  let release: () => void;
  try {
    release = opts.lockHeld ? () => {} : acquireJobLock(stateDir, job, env);
  } catch (e) {
    closeSources();
    throw localError(e, stateDir, 'create') ?? e;
  }
  let state: StateDb | undefined;
  let ca: CodeArtifact | undefined;
  const liveHeap = watchLiveHeap();
  try {
    state = StateDb.open(join(stateDir, `${job.name}.sqlite`));
    const db = state;
    const blobs = new BlobStore(join(stateDir, 'blobs'));
    blobs.sweepTemporary();
    sweepLeftovers(stateDir);
    // before any build: what an npm install keeps there (a copy of npm's global config) no build reads, of this run or another job's
    sealedFolder(join(stateDir, 'tmp'));
    // a state that records another target says nothing about this one: refused, or moved when told
    const thisTarget = targetOf(config.target);
    const moveFrom = checkTarget(db, thisTarget, { retarget: opts.retarget });
    // a job renamed between runs (or two jobs over the same packages): its history goes on elsewhere
    const otherJobs = otherJobsOfThisWork(stateDir, join(stateDir, `${job.name}.sqlite`), thisTarget, sources, config.sources);
    // a source whose id was renamed would read and count every version again: refused before anything is written
    refuseRenamedSources(db, sources, config.sources, job.file);
    refuseRespelledPackages(db, sources, config.sources, job.file);
    // a source whose format changed under its id would report every version of the old one removed at the source
    refuseReformattedSources(db, sources, config.sources, job.file);
    recordSources(db, sources, config.sources);
    const runId = db.startRun(dryRun);

    const fromJob = jobRates(config.limits.rates);
    let rates = resolveRates(fromJob);
    let quotaNote: string | undefined;
    let quotasRead = false;
    const limiter = new Limiter(Object.fromEntries(Object.entries(rates).map(([b, r]) => [b, r.rate])) as Record<BucketName, number>);
    limiter.onStuck = (peer, why) => stopFatally(targetStuckError(peer, why));
    limiter.onCredentialsRefused = stopFatally;
    // The target is touched lazily: a rerun with nothing left to do sends it nothing.
    const getCa = () => {
      if (!ca) {
        ca = new CodeArtifact(config.target, limiter, opts.codeartifactClient, stopping.hard);
        // a dry run is read-only too, by construction (EREADONLY), not only by the checks above each write
        ca.readOnly = dryRun;
      }
      return ca;
    };
    const targets = new Map<Format, TargetFormat>();
    const getTarget = (format: Format): TargetFormat => {
      let t = targets.get(format);
      if (!t) {
        const repo = config.target.repositories[format]?.internal;
        if (!repo) throw new MigrateError('ECONFIG', `no target.repositories.${format} in the job file`);
        targets.set(format, (t = createTarget(format, getCa(), repo)));
      }
      return t;
    };

    let retargeted: RunSummary['retargeted'];
    if (moveFrom.length > 0) {
      // the new target must exist before the state is bound to it: a mistyped repository is ETARGETSETUP, nothing moved
      try {
        if (!opts.noTarget) for (const format of new Set(config.sources.filter((s) => s.enabled).map(formatOf))) await preflight(getCa(), getTarget(format), config.limits.retries, signal);
      } catch (e) {
        db.endRun('target-unusable', { error: whyStopped(e) });
        throw e;
      }
      // the move is in the provenance ledger, as whom (a plan's too: the state moves all the same),
      // so that entries in another domain after it are explained by it
      const who = opts.noTarget ? { error: 'planned without AWS access (--no-target)' } : await callerIdentity(config.target.region, env, opts.stsClient, stopping.hard);
      const ledger = ledgerContext(job, config.target, who, thisTarget.repositories);
      if (!dryRun) db.ledger = ledger;
      retargeted = moveTarget(db, thisTarget, moveFrom, ledger);
      emit({ type: 'retargeted', from: retargeted.from, versions: retargeted.versions });
    }

    const configOf = new Map(config.sources.map((c) => [c.id, c]));
    /** Does the job still name this package on this source (not: does the source still have it)? */
    const named = (sourceId: string, name: string) => {
      const c = configOf.get(sourceId);
      return c !== undefined && jobNamesPackage(c, name);
    };
    const formatOfSource = (source: Source) => formatOf(configOf.get(source.id)!);
    const listErrors: RunSummary['listErrors'] = [];
    const listError = (source: Source, name: string, error: MigrateError) => {
      // the summary and the events carry what the state keeps: a registry's huge error body cut the same way
      const message = forStorage(error.describe());
      db.recordListError(source.id, formatOfSource(source), name, error.code, message);
      listErrors.push({ source: source.id, package: name, code: error.code, message });
      emit({ type: 'list-error', source: source.id, package: name, code: error.code, message });
    };
    /** A queued task's failure never goes unhandled: a fatal one stops the run, and is thrown at its end. */
    const guard = (task: () => Promise<void>) => () => task().catch(stopFatally);

    // packuments are fetched a few at a time (a scope can hold hundreds of packages)
    const listQueue = new PQueue({ concurrency: config.limits.fetchConcurrency });
    const enumerated = new Map<string, { names: Set<string>; complete: boolean }>();
    const list = (source: Source, name: string) =>
      void listQueue.add(
        guard(async () => {
          if (signal.aborted) return;
          try {
            const listing = await withRetry(() => source.listing(name, stopping.hard), {
              budget: config.limits.retries,
              signal,
              onRetry: (e, attempt, waitMs) => emit({ type: 'retry', subject: name, code: e.code, attempt, waitMs }),
            });
            db.recordListing(source.id, source.url, listing);
            emit({ type: 'listed', source: source.id, package: listing.name, versions: listing.versions.length });
          } catch (e) {
            const err = e instanceof MigrateError ? e : new MigrateError('ESOURCE', toError(e).message, { subject: name, cause: e });
            if (FATAL_CODES.has(err.code)) throw err;
            if (err.code !== 'EINTERRUPTED') listError(source, name, err);
          }
        }),
      );
    // A git source without `package` takes its name from the repository (package.json, go.mod):
    // whoever can push a tag could name another source's package and have versions published
    // into it (and move `latest`). Its names are listed once every source is enumerated, and
    // only those no other source holds; the job confirms a shared name by setting `package`.
    const readFromRepository = (source: Source) => {
      const c = configOf.get(source.id);
      return c?.kind === 'git' && !c.package;
    };
    const deferred = new Map<Source, Set<string>>();
    // Sources are enumerated side by side, as many at once as downloads (a git source's fetch
    // can wait its idle timeout on a stuck server: the others go on meanwhile); a source's
    // packages are listed as it names them.
    const enumerate = async (source: Source) => {
      const seen = { names: new Set<string>(), complete: true };
      enumerated.set(source.id, seen);
      if (source.prepare) {
        try {
          await withRetry(() => source.prepare!(stopping.hard, (name) => db.recordedVersions(source.id, name)), {
            budget: config.limits.retries,
            signal,
            onRetry: (e, attempt, waitMs) => emit({ type: 'retry', subject: source.id, code: e.code, attempt, waitMs }),
          });
        } catch (e) {
          const err = e instanceof MigrateError ? e : new MigrateError('ESOURCE', toError(e).message, { subject: source.id, cause: e });
          if (FATAL_CODES.has(err.code)) throw err;
          seen.complete = false;
          if (err.code !== 'EINTERRUPTED') listError(source, source.url, err);
          return;
        }
      }
      const retry = <T>(request: () => Promise<T>) =>
        withRetry(request, {
          budget: config.limits.retries,
          signal,
          onRetry: (e, attempt, waitMs) => emit({ type: 'retry', subject: e.subject ?? source.id, code: e.code, attempt, waitMs }),
        });
      for await (const n of source.packageNames(stopping.hard, retry)) {
        if (signal.aborted) break;
        if (!n.ok) {
          seen.complete = false;
          listError(source, n.name, n.error);
          continue;
        }
        if (readFromRepository(source)) {
          (deferred.get(source) ?? deferred.set(source, new Set()).get(source)!).add(n.name);
          continue;
        }
        seen.names.add(n.name);
        list(source, n.name);
      }
    };
    try {
      // a fatal error in one aborts the others (through the signal), and the run
      const enumerating = new PQueue({ concurrency: config.limits.fetchConcurrency });
      await Promise.all([...sources.values()].map((source) => enumerating.add(() => enumerate(source).catch(stopFatally))));
      if (fatalError !== undefined) throw fatalError;
      // the other sources of the same format that hold a name: what they listed, or what their repository named
      const holders = (self: Source, name: string) =>
        [...sources.values()].filter((o) => o !== self && formatOfSource(o) === formatOfSource(self) && (deferred.get(o) ?? enumerated.get(o.id)?.names)?.has(name)).map((o) => o.id);
      for (const [source, names] of deferred) {
        const format = formatOfSource(source);
        for (const name of names) {
          const others = holders(source, name);
          if (others.length === 0) {
            enumerated.get(source.id)!.names.add(name);
            list(source, name);
            continue;
          }
          enumerated.get(source.id)!.complete = false;
          listError(
            source,
            name,
            new MigrateError('ENAMECLAIMED', `source "${source.id}": the repository names its package ${name}, which source(s) ${others.map((o) => `"${o}"`).join(', ')} also hold; the job does not say this repository publishes it, so none of its versions are migrated`, {
              subject: name,
              hint: `if this repository really publishes ${name}, set \`package: ${name}\` on source "${source.id}"; otherwise fix the repository's ${format === 'npm' ? 'package.json' : 'go.mod'} at its tags`,
            }),
          );
        }
      }
    } catch (e) {
      stopFatally(e);
    }
    await listQueue.onIdle();
    // a package a complete enumeration no longer finds, though the job still names it, is gone from
    // its source; one the job no longer names was taken out of the job (below), whatever the source holds
    if (!signal.aborted) for (const [id, seen] of enumerated) if (seen.complete) db.recordPackagesGone(id, seen.names, (name) => named(id, name));
    const dropped = new Map([...sources.keys()].map((id) => [id, db.recordedPackageNames(id).filter((name) => !named(id, name))]));

    const unmatchedFilters = applyFilters(db, job, sources, named);

    const outcomes: Record<string, number> = {};
    const count = (o: RunOutcome) => (outcomes[o] = (outcomes[o] ?? 0) + 1);
    const ctx: ItemContext = {
      state: db,
      blobs,
      sources,
      ca: getCa,
      target: getTarget,
      retries: config.limits.retries,
      dryRun,
      signal,
      hardSignal: stopping.hard,
      maxArtifactBytes: config.limits.maxArtifactBytes,
      // builds are CPU-bound: one per core at most
      buildQueue: new PQueue({ concurrency: Math.max(1, Math.min(availableParallelism(), config.limits.fetchConcurrency)) }),
      workDir: join(stateDir, 'tmp'),
      // every npm source's names are internal to an npm build's install (its token only in that install's env)
      internalNpm: config.sources.flatMap((s) => (s.kind === 'npm-registry' && s.enabled ? [{ url: s.url, scopes: s.scopes, packages: s.packages, ...(s.tokenEnv && env[s.tokenEnv] ? { token: env[s.tokenEnv] } : {}) }] : [])),
      runId,
      selects: compileFilters(config.filters),
      emit,
      sourceSilence: new StuckWatch(),
      sourceRefusals: new Map(),
    };

    const active = [...sources.keys()];
    const inJob = (r: Pick<ItemRow, 'source_id'>) => active.includes(r.source_id);
    // planned from a few columns per version; each package reads its rows when its turn comes
    const all = db.workKeys().filter(inJob);
    // The source's current listing decides: only versions this run listed are worked on, plus
    // publishes that may have landed (settled by reading the target, never published blind).
    // A conflict with the target is looked at again (a read): the version may have been deleted
    // there since, as the conflict's hint says to do when ours are the right bytes. (A moved git
    // tag is a conflict with the source: its listing settles that. A plan that compares no
    // bytes leaves it as it stands.)
    const reconsidered = (r: WorkKey) => r.state === 'conflict' && r.last_error_code !== 'ETAGMOVED' && !opts.noDownload && !opts.noTarget;
    // (A conflict whose version the source no longer lists is looked at too: the target cleared, it is removed.)
    const work = all.filter((r) => (!FINAL_STATES.has(r.state) || reconsidered(r)) && (r.last_listed_run === runId || r.state === 'publishing' || r.state === 'published' || (reconsidered(r) && r.removed_at !== null)));
    // a package the job no longer names is never written to: no dist-tags, no deprecations, no origin controls
    // (an interrupted publish of it is still settled, by reading the target)
    const packagesWithMetaPending = new Set(
      db
        .packages()
        .filter((p) => p.meta_state !== 'done' && active.includes(p.source_id) && !p.list_error_code && named(p.source_id, p.package))
        .map((p) => `${p.format}/${p.package}`),
    );
    emit({ type: 'planned', total: work.length, alreadyDone: all.length - work.length });

    // group by target package: two sources holding the same name go to the same place, one after the other
    const byPackage = new Map<string, number[]>();
    // packages some source of the job still names (the rest only have interrupted publishes to settle)
    const namedKeys = new Set(packagesWithMetaPending);
    for (const r of work) {
      const key = `${r.format}/${r.package}`;
      if (named(r.source_id, r.package)) namedKeys.add(key);
      const ids = byPackage.get(key);
      if (ids) ids.push(r.id);
      else byPackage.set(key, [r.id]);
    }
    for (const key of packagesWithMetaPending) if (!byPackage.has(key)) byPackage.set(key, []);

    // One token and the endpoint before any work: refused credentials or a wrong
    // repository name stop the run here, instead of failing every version one by one.
    // versions a plan (or this run's listing: a moved tag) found identical or in conflict, that the ledger does not name yet
    // (read once: the job's lock keeps every other writer out until they are written below)
    const unledgered = dryRun ? [] : db.unledgered(active);
    if ((byPackage.size > 0 || unledgered.length > 0) && !signal.aborted && !opts.noTarget) {
      try {
        const formats = new Set([...byPackage.keys()].map((k) => k.slice(0, k.indexOf('/')) as Format));
        for (const format of formats) await preflight(getCa(), getTarget(format), config.limits.retries, signal);
        // CodeArtifact has the domain and repositories: what this state's rows now speak of
        db.recordTarget(thisTarget);
        // the account's applied quotas, for every rate the job does not set itself, and (a
        // run that writes records what it does in the provenance ledger) as whom: both at once
        const [account, who] = await Promise.all([
          BUCKETS.some((b) => fromJob[b] === undefined) ? readAccountQuotas(config.target.region, env, opts.serviceQuotasClient, stopping.hard) : undefined,
          dryRun || db.ledger ? undefined : callerIdentity(config.target.region, env, opts.stsClient, stopping.hard),
        ]);
        if (account) {
          quotasRead = true;
          rates = resolveRates(fromJob, account);
          quotaNote = quotaNoteOf(account);
          for (const b of BUCKETS) limiter.setRate(b, rates[b].rate);
        }
        if (who) db.ledger = ledgerContext(job, config.target, who, thisTarget.repositories);
        // the run stands by what the plan found: the provenance ledger names every identical and conflicting version
        db.ledgerUnrecorded(unledgered);
      } catch (e) {
        db.endRun('target-unusable', { error: whyStopped(e) });
        throw e;
      }
    }

    // Origin controls before anything is published: a public package can never shadow an internal name.
    let hardening: RunSummary['hardening'];
    if (config.hardening.originControls && namedKeys.size > 0 && !signal.aborted && !opts.noTarget) {
      const packages = [...namedKeys].map((k) => ({ format: k.slice(0, k.indexOf('/')) as Format, name: k.slice(k.indexOf('/') + 1) }));
      // a plan (read-only, a dry run) only reads what would change
      try {
        hardening = await harden(getCa(), getTarget, packages, {
          dryRun,
          packageGroups: config.hardening.packageGroups,
          scopes: scopesOf(config.sources),
          retries: config.limits.retries,
          signal,
          onApplied: (c) => db.appendLedger({ outcome: 'origin-configuration', format: c.format, package: c.package, target: { repository: c.repository, set: c.to }, detail: c.detail }),
          ...(dryRun ? {} : { recorded: db.ledgeredOrigins(config.target) }),
          store: (f) => storeOf(config.target, f),
        });
      } catch (e) {
        // a throttle storm, a ledger that cannot be written: nothing published yet, the run says why it ended
        tryEndRun(db, 'stopped-by-error', { error: whyStopped(e) });
        throw e;
      }
    }

    const maxPackages = opts.concurrency ?? config.limits.concurrency;
    // concurrency 1 with fetchConcurrency 1: strictly one step at a time, nothing overlapping
    // (for debugging a source or target, and the benchmark's sequential baseline)
    const sequential = maxPackages === 1 && config.limits.fetchConcurrency === 1;
    const packageQueue = new PQueue({ concurrency: maxPackages ?? 4 });
    const fetchQueue = new PQueue({ concurrency: config.limits.fetchConcurrency });
    const verifyQueue = new PQueue({ concurrency: 2 * (maxPackages ?? 4) });
    // In flight: enough publishes to keep the publish bucket busy at the latency this run
    // measures (rate x round trip, with headroom), re-sized as latency and throttling change;
    // never more packages than the job's `concurrency` when it sets one. A package spends
    // more than a publish's round trip per version (its download, storing, re-hashing), so
    // when the publish bucket still had slots nobody took while packages were waiting, the
    // run grows by a quarter; a throttle brings it back to what the round trip alone asks.
    const sizing = { packages: packageQueue.concurrency, peakPackages: packageQueue.concurrency };
    let grown = 0;
    let last = { at: performance.now(), idleMs: limiter.idleMs('publish'), throttles: limiter.throttles };
    const resize = () => {
      const now = { at: performance.now(), idleMs: limiter.idleMs('publish'), throttles: limiter.throttles };
      const idleShare = (now.idleMs - last.idleMs) / Math.max(1, now.at - last.at);
      if (now.throttles > last.throttles) grown = 0;
      else if (idleShare > 0.03 && packageQueue.size > 0) grown = Math.ceil(packageQueue.concurrency * 1.25);
      last = now;
      const rtt = limiter.latencyMs('publish') ?? 250;
      const wanted = Math.max(grown, Math.ceil((limiter.rate('publish') * rtt * 1.5) / 1000) + 2);
      const packages = Math.min(maxPackages ?? MAX_ADAPTIVE_PACKAGES, Math.max(2, wanted));
      if (sequential || packages === packageQueue.concurrency) return;
      packageQueue.concurrency = packages;
      // every published version is read back twice (assets, status): twice as many reads in flight
      verifyQueue.concurrency = Math.max(4, 2 * packages * config.limits.publishesPerPackage);
      sizing.packages = packages;
      sizing.peakPackages = Math.max(sizing.peakPackages, packages);
    };
    resize();
    const resizer = setInterval(resize, 500);
    resizer.unref();
    // Not fetchQueue.clear(): a cleared task's promise never settles, and a package awaiting
    // its download would hang the run. Queued downloads see the abort and reject at once.
    const onAbort = () => packageQueue.clear();
    signal.addEventListener('abort', onAbort, { once: true });

    const metadata: RunSummary['metadata'] = [];
    const metadataOutOfSync: RunSummary['metadataOutOfSync'] = [];
    // a principal that may not publish at all (the commonest IAM slip) stops the run (RefusalBreaker)
    const refusals = new RefusalBreaker();
    // and a throttle storm, whatever came before it (ThrottleBreaker)
    const throttles = new ThrottleBreaker();
    const refused = (r: ItemRow, outcome: RunOutcome, accepted: boolean) => {
      if (outcome !== 'failed:ETARGETAUTH') refusals.other(outcome === 'published');
      else if (refusals.refused(r.package)) stopFatally(everyPublishRefused(refusals.describe(), db.item(r.id).last_error));
      if (throttles.outcome(outcome, { accepted })) stopFatally(everyPublishThrottled(throttles.count, config.limits.retries, db.item(r.id).last_error, dryRun));
    };
    const packageCtx: PackageRunContext = {
      ...ctx,
      publishesPerPackage: config.limits.publishesPerPackage,
      noTarget: opts.noTarget,
      noDownload: opts.noDownload,
      active,
      named,
      fetchQueue,
      verifyQueue,
      sequential,
      ignoreDistTags: new Set(config.filters.ignoreDistTags),
      report: (r, outcome, accepted = false) => {
        count(outcome);
        refused(r, outcome, accepted);
        const after = db.item(r.id);
        emit({ type: 'item', package: r.package, version: r.version, outcome, state: after.state, message: after.last_error ?? undefined });
      },
      metadata,
      metadataOutOfSync,
      publishBlocked: new Map((hardening?.kept ?? []).map((k) => [`${k.format}/${k.package}`, k.reason])),
    };
    for (const [key, ids] of byPackage) {
      const format = key.slice(0, key.indexOf('/')) as Format;
      const name = key.slice(key.indexOf('/') + 1);
      void packageQueue.add(guard(() => migratePackage(packageCtx, format, name, ids, namedKeys.has(key) && (packagesWithMetaPending.has(key) || ids.length > 0))));
    }
    await packageQueue.onIdle();
    await fetchQueue.onIdle();
    await verifyQueue.onIdle();
    clearInterval(resizer);
    signal.removeEventListener('abort', onAbort);

    // what the job no longer names: set aside now that its interrupted publishes are settled, and said
    const notInJob = fatalError === undefined ? setAsideDropped(db, dropped) : [];
    // versions fetched before the dependency check existed (an earlier release): checked from the blob store, no network
    if (fatalError === undefined && !signal.aborted) await backfillUnresolvable(db, blobs, active, signal);
    const goSum = checkGoSums(goSumFiles(job.file, config.goSum), db.items("format = 'generic' AND facts IS NOT NULL").filter(inJob));
    // nothing was sent, so no quota was read: the rates the account was last read at are said (and a
    // report's estimate counts with them), not CodeArtifact's defaults this run never ran at
    let ratesFrom: RunSummary['ratesFrom'];
    if (!quotasRead && !retargeted && BUCKETS.some((b) => fromJob[b] === undefined)) {
      const last = db.lastReadRates();
      if (last) {
        for (const b of BUCKETS) if (fromJob[b] === undefined && last.rates[b]?.source === 'account') {
          const { rate, quota } = last.rates[b];
          rates[b] = { rate, source: 'account', ...(quota !== undefined ? { quota } : {}) };
        }
        ratesFrom = { run: last.run, at: last.at };
        quotaNote = last.note ? `nothing was sent to CodeArtifact, so its quotas were not read: the rates are those run ${last.run} read (${last.note})` : `nothing was sent to CodeArtifact, so its quotas were not read: the rates are those run ${last.run} read at ${last.at}`;
      } else {
        ratesFrom = null;
        quotaNote = "nothing was sent to CodeArtifact, so its quotas were not read: CodeArtifact's defaults are said where the job sets no rate";
      }
    }
    const summary = summarize(db, job.name, dryRun, signal.aborted && fatalError === undefined, outcomes, listErrors, metadata, metadataOutOfSync, goSum, hardening, active, notAskedBy(config), {
      // which job file this run was made from: a report read with another one (edited since, or another file of the same name) says so
      ...jobFileOf(job),
      rates: Object.fromEntries(BUCKETS.map((b) => [b, { ...rates[b], ...(limiter.latencyMs(b) !== undefined ? { latencyMs: Math.round(limiter.latencyMs(b)!) } : {}) }])) as RunSummary['rates'],
      ...(quotaNote ? { quotaNote } : {}),
      ...(ratesFrom !== undefined ? { ratesFrom } : {}),
      ...(retargeted ? { retargeted } : {}),
      ...(opts.noTarget ? { noTarget: true as const } : {}),
      ...(opts.noDownload && !opts.noTarget ? { noDownload: true as const } : {}),
      unmatchedFilters,
      // the run's own Go git sources (enabled ones) whose tags go would not read: said on every run
      goTagPatterns: goTagPatternMismatches(config.sources),
      otherJobs,
      notInJob,
      inFlight: { packages: sizing.packages, peakPackages: sizing.peakPackages, publishesPerPackage: sequential ? 1 : config.limits.publishesPerPackage },
      throttles: limiter.throttles,
      tokenFetches: ca?.tokenFetches ?? 0,
      blobRecheck: { bytes: blobs.recheck.bytes, ms: Math.round(blobs.recheck.ms) },
      durationMs: Date.now() - started,
      peakLiveHeapBytes: liveHeap.peak(),
    });
    if (fatalError !== undefined) {
      tryEndRun(db, 'stopped-by-error', { ...summary, error: whyStopped(fatalError) });
      throw fatalError;
    }
    db.endRun(summary.interrupted ? 'interrupted' : summary.exitCode === 0 ? 'complete' : 'incomplete', summary);
    return summary;
  } catch (e) {
    // a step cut off by the fatal stop (EINTERRUPTED, or its retries' last error) is not the reason
    throw fatalError ?? e;
  } finally {
    liveHeap.stop();
    stopping.dispose();
    closeSources();
    // the state closed (a rescue written where the state was deleted) before the lock lets the next run in
    try {
      state?.close();
    } finally {
      release();
      // ours to close; a client the caller passed in is the caller's
      if (!opts.codeartifactClient) ca?.client.destroy();
    }
  }
}

/** Record how the run ended, if the database still takes writes (it may be what failed). */
function tryEndRun(state: StateDb, outcome: string, summary: unknown): void {
  try {
    state.endRun(outcome, summary);
  } catch {
    // the error being thrown says why
  }
}

function everyPublishRefused(row: string, last: string | null): MigrateError {
  return new MigrateError('ETARGETSETUP', `CodeArtifact refused versions ${row} and has accepted none in this run: the principal most likely may not publish to the repository at all; stopped instead of refusing every version. The last refusal: ${last ?? 'unknown'}`, {
    hint: 'add codeartifact:PublishPackageVersion (and PutPackageMetadata, the read actions) for the repository and its packages to the principal\'s policy (README, "Running against AWS"), then rerun: the refused versions are tried again; if the policy denies these packages on purpose, exclude them in filters.exclude',
  });
}

function everyPublishThrottled(inRow: number, retries: number, last: string | null, dryRun: boolean): MigrateError {
  // a plan (a dry run) reads: its versions are checked by the rerun, not published
  const then = dryRun ? 'checked then (the plan written then)' : 'published then, each once';
  return throttleStormError('version', inRow, retries, last ?? 'unknown', {
    between: 'accepted',
    lost: `the throttled versions and those not reached yet are ${then}`,
    others: "another client using the domain (another team's CI, another copy of this tool run from another state folder)",
    rates: "Service Quotas, the run summary's rates",
  });
}

/** What the runs table keeps of the error that ended a run (`status` shows it): its code, message and what to do. */
function whyStopped(e: unknown): string {
  return e instanceof MigrateError ? e.describe() : toError(e).message;
}

async function preflight(ca: CodeArtifact, target: TargetFormat, retries: number, signal: AbortSignal): Promise<void> {
  const where = `domain ${ca.config.domain} (owner ${ca.config.domainOwner}, ${ca.config.region})`;
  const started = Date.now();
  let everyTryUnanswered = true;
  try {
    await withRetry(() => target.preflight(), { budget: retries, signal, onRetry: (e) => (everyTryUnanswered &&= noAnswer(e) !== undefined) });
  } catch (thrown) {
    const e = toError(thrown);
    // Nobody answered any try (refused, no such host, no route): said as the stuck-peer breaker
    // says it when it stops a run (which it does first when the retries last long enough), so the
    // code does not depend on the job's retry budget. Nothing was touched yet.
    const why = everyTryUnanswered && !signal.aborted ? noAnswer(e) : undefined;
    if (why !== undefined) throw targetUnreachableError(`CodeArtifact for ${where}`, why, Date.now() - started);
    if (!(e instanceof MigrateError) || !['ETARGETAUTH', 'ETARGETCREDENTIALS', 'ETARGETREJECTED'].includes(e.code)) throw e;
    const missing = e.status === 404;
    throw new MigrateError('ETARGETSETUP', missing ? `CodeArtifact: ${e.message}` : `CodeArtifact refused the credentials for ${where}: ${e.message}`, {
      cause: e,
      hint: missing
        ? `check target.domain, target.domainOwner, target.region and target.repositories.${target.format}.internal ("${target.repository}") in the job file`
        : 'check the AWS credentials (aws sts get-caller-identity) and the IAM permissions listed in the README',
    });
  }
}

/** The target format a source's versions go to. */
export function formatOf(source: JobConfig['sources'][number]): Format {
  if (source.kind === 'npm-registry') return 'npm';
  return source.format === 'go' ? 'generic' : source.format;
}
