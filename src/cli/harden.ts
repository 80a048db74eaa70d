/**
 * `harden JOB`: origin configuration on every internal package the sources
 * name (publish ALLOW, upstream BLOCK), optionally a package group per npm
 * scope blocking external upstreams. Run before warming any store repository;
 * `run` does it before publishing. A second `harden` only reads.
 */
import { loadJob } from '../config/load.js';
import { storeOf } from '../config/schema.js';
import { MigrateError, toError } from '../errors.js';
import { harden, scopesOf, type HardenResult } from '../engine/harden.js';
import { Limiter } from '../engine/limiter.js';
import { formatOf } from '../engine/run.js';
import { withRetry } from '../engine/retry.js';
import { stopWhenStuck } from '../engine/stop.js';
import { createSource } from '../sources/index.js';
import { namesOf } from '../sources/source.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { createTarget } from '../targets/index.js';
import type { Format } from '../types.js';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import type { STSClient } from '@aws-sdk/client-sts';
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { jobRates, resolveRates } from '../engine/rates.js';
import { readAccountQuotas } from '../targets/quotas.js';
import { BUCKETS, type BucketName } from '../types.js';
import { join } from 'node:path';
import { StateDb } from '../state/db.js';
import { ledgerContext } from '../state/ledger.js';
import { acquireJobLock } from '../state/lock.js';
import { checkTarget, targetOf } from '../state/target.js';
import { callerIdentity } from '../targets/domain.js';
import { print, printEntries, reportError, wantsJson, type Io } from './output.js';
import { registerJobSecrets } from '../config/secrets.js';

export interface HardenCommandOptions {
  json?: boolean;
  dryRun?: boolean;
  packageGroups?: boolean;
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  codeartifactClient?: CodeartifactClient;
  stsClient?: STSClient;
  serviceQuotasClient?: ServiceQuotasClient;
}

export async function hardenCommand(jobFile: string, opts: HardenCommandOptions, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  let stuck: ReturnType<typeof stopWhenStuck> | undefined;
  try {
    const job = loadJob(jobFile);
    const env = opts.env ?? process.env;
    registerJobSecrets(job.config, env);
    const signal = opts.signal ?? new AbortController().signal;
    const retry = { budget: job.config.limits.retries, signal };
    // One copy of the job at a time, taken before anything else: a harden beside a running `run`
    // (or another harden) of the same job would prepare the same source checkouts under the
    // state directory at once, and write the same ledger.
    const stateDir = opts.stateDir ?? 'state';
    const release = acquireJobLock(stateDir, job, env, 'harden');
    let state: StateDb | undefined;
    let ca: CodeArtifact | undefined;
    let result: HardenResult;
    const packages: { format: Format; name: string }[] = [];
    try {
      // every change goes into the job's provenance ledger, which names the target the state is
      // bound to: a job file now naming another repository or domain is refused, as by `run`
      const db = (state = StateDb.open(join(stateDir, `${job.name}.sqlite`)));
      checkTarget(db, targetOf(job.config.target), {});
      // the internal names: what the sources name now (a git source's from its tags)
      for (const config of job.config.sources.filter((s) => s.enabled)) {
        const source = createSource(config, env, stateDir, job.name, job.config.limits);
        try {
          if (source.prepare) await withRetry(() => source.prepare!(signal), retry);
          for await (const name of namesOf(source, signal, (attempt) => withRetry(attempt, retry))) packages.push({ format: formatOf(config), name });
        } finally {
          source.close?.();
        }
      }
      // The account's applied quotas for every rate the job leaves unset, as `run` does: on an
      // account whose write quota was lowered, the defaults (100 writes/s) would be throttled.
      const fromJob = jobRates(job.config.limits.rates);
      const account = BUCKETS.some((b) => fromJob[b] === undefined) ? await readAccountQuotas(job.config.target.region, env, opts.serviceQuotasClient, signal) : undefined;
      const rates = resolveRates(fromJob, account);
      const limiter = new Limiter(Object.fromEntries(BUCKETS.map((b) => [b, rates[b].rate])) as Record<BucketName, number>);
      // a CodeArtifact host that stopped answering ends the harden (ETARGETSILENT), not every package's retries
      stuck = stopWhenStuck(limiter, signal);
      const target = (ca = new CodeArtifact(job.config.target, limiter, opts.codeartifactClient, stuck.signal));
      // --dry-run is read-only by construction, as a plan is: a write asked for anyway is EREADONLY, never sent
      target.readOnly = opts.dryRun ?? false;
      // as whom
      if (!opts.dryRun) {
        const who = await callerIdentity(job.config.target.region, env, opts.stsClient, signal);
        db.ledger = ledgerContext(job, job.config.target, who, targetOf(job.config.target).repositories);
      }
      result = await harden(target, (f) => createTarget(f, target, job.config.target.repositories[f]?.internal ?? missing(f)), packages, {
        dryRun: opts.dryRun ?? false,
        packageGroups: opts.packageGroups ?? job.config.hardening.packageGroups,
        scopes: scopesOf(job.config.sources),
        retries: job.config.limits.retries,
        signal: stuck.signal,
        onApplied: (c) => db.appendLedger({ outcome: 'origin-configuration', format: c.format, package: c.package, target: { repository: c.repository, set: c.to }, detail: c.detail }),
        recorded: db.ledgeredOrigins(job.config.target),
        store: (f) => storeOf(job.config.target, f),
      });
      if (stuck.stuck()) throw stuck.reason(undefined);
    } finally {
      state?.close();
      release();
      if (ca && !opts.codeartifactClient) ca.client.destroy();
    }
    if (json) print(io.stdout, `${JSON.stringify(result, null, 2)}\n`);
    else {
      const verb = opts.dryRun ? 'would set' : 'set';
      const where = Object.entries(result.changedIn).sort(([a], [b]) => a.localeCompare(b)).map(([r, n]) => `${n} in ${r}`).join(', ');
      const lines = [`${result.packages} internal packages: ${result.changes.length} ${verb} to upstream BLOCK${where ? ` (${where})` : ''}, ${result.unchanged} already so`];
      for (const c of result.changes) lines.push(`  ${verb} ${c.format} ${c.package} in ${c.repository} to publish ${c.to.publish}, upstream ${c.to.upstream} (was ${c.from === 'absent' ? 'absent' : `publish ${c.from.publish}, upstream ${c.from.upstream}`})`);
      for (const k of result.kept) lines.push(`  kept ${k.format} ${k.package} in ${k.repository} at publish BLOCK: ${k.reason}`);
      for (const g of result.groups) lines.push(`  ${opts.dryRun ? 'would block' : 'blocked'} external upstreams for package group ${g.pattern} (was ${g.from})`);
      for (const g of result.groupsLeft) lines.push(`  left package group ${g.pattern}: ${g.reason}`);
      for (const e of result.errors) lines.push(e.code === 'ESTOREHOLDS' ? `  CRITICAL ${e.package} in ${e.repository}: ${e.message}` : `  FAILED ${e.package}: ${e.message}`);
      printEntries(io.stdout, lines);
    }
    return result.errors.length > 0 ? 1 : 0;
  } catch (thrown) {
    const e = stuck ? stuck.reason(thrown) : thrown;
    return reportError(e instanceof MigrateError ? e : toError(e), io, json);
  }
}

function missing(format: Format): never {
  throw new MigrateError('ECONFIG', `no target.repositories.${format} in the job file`);
}
