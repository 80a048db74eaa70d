/**
 * `harden JOB`: origin configuration on every internal package the sources
 * name (publish ALLOW, upstream BLOCK), optionally a package group per npm
 * scope blocking external upstreams. Run before warming any store repository;
 * `run` does it before publishing. A second `harden` only reads.
 */
import { loadJob } from '../config/load.js';
import { MigrateError, toError } from '../errors.js';
import { harden, type HardenResult } from '../engine/harden.js';
import { Limiter } from '../engine/limiter.js';
import { formatOf } from '../engine/run.js';
import { withRetry } from '../engine/retry.js';
import { registerSecret } from '../redact.js';
import { createSource } from '../sources/index.js';
import { CodeArtifact } from '../targets/codeartifact.js';
import { createTarget } from '../targets/index.js';
import type { Format } from '../types.js';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import type { STSClient } from '@aws-sdk/client-sts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StateDb } from '../state/db.js';
import { acquireLock } from '../state/lock.js';
import { callerIdentity } from '../targets/domain.js';
import { readToolVersion } from '../version.js';
import { print, reportError, wantsJson, type Io } from './output.js';

export interface HardenCommandOptions {
  json?: boolean;
  dryRun?: boolean;
  packageGroups?: boolean;
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  codeartifactClient?: CodeartifactClient;
  stsClient?: STSClient;
}

export async function hardenCommand(jobFile: string, opts: HardenCommandOptions, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  try {
    const job = loadJob(jobFile);
    const env = opts.env ?? process.env;
    for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) registerSecret(env[name]);
    const signal = opts.signal ?? new AbortController().signal;
    const retry = { budget: job.config.limits.retries, signal };
    // the internal names: what the sources name now (a git source's from its tags)
    const packages: { format: Format; name: string }[] = [];
    for (const config of job.config.sources.filter((s) => s.enabled)) {
      const source = createSource(config, env, opts.stateDir ?? 'state');
      try {
        if (source.prepare) await withRetry(() => source.prepare!(signal), retry);
        for await (const n of source.packageNames(signal)) {
          if (!n.ok) throw n.error;
          packages.push({ format: formatOf(config), name: n.name });
        }
      } finally {
        source.close?.();
      }
    }
    const ca = new CodeArtifact(job.config.target, new Limiter(job.config.limits.rates), opts.codeartifactClient, signal);
    // every change goes into the job's provenance ledger, as whom
    const stateDir = opts.stateDir ?? 'state';
    mkdirSync(stateDir, { recursive: true });
    const release = acquireLock(join(stateDir, job.name));
    const state = StateDb.open(join(stateDir, `${job.name}.sqlite`));
    let result: HardenResult;
    try {
      if (!opts.dryRun) {
        const who = await callerIdentity(job.config.target.region, env, opts.stsClient);
        state.ledger = {
          toolVersion: readToolVersion(),
          job: job.name,
          principal: who.arn ?? `unknown (${who.error ?? 'no ARN'})`,
          target: { region: job.config.target.region, domain: job.config.target.domain, domainOwner: job.config.target.domainOwner },
          repositories: Object.fromEntries(Object.entries(job.config.target.repositories).map(([f, r]) => [f, r?.internal])),
        };
      }
      result = await harden(ca, (f) => createTarget(f, ca, job.config.target.repositories[f]?.internal ?? missing(f)), packages, {
        dryRun: opts.dryRun ?? false,
        packageGroups: opts.packageGroups ?? job.config.hardening.packageGroups,
        retries: job.config.limits.retries,
        signal,
        onApplied: (c) => state.appendLedger({ outcome: 'origin-configuration', format: c.format, package: c.package, target: { repository: c.repository, set: c.to }, detail: c.detail }),
      });
    } finally {
      state.close();
      release();
      if (!opts.codeartifactClient) ca.client.destroy();
    }
    if (json) print(io.stdout, `${JSON.stringify(result, null, 2)}\n`);
    else {
      const verb = opts.dryRun ? 'would set' : 'set';
      const lines = [`${packages.length} internal packages: ${result.changes.length} ${verb} to publish ALLOW / upstream BLOCK, ${result.unchanged} already so`];
      for (const c of result.changes) lines.push(`  ${verb} ${c.format} ${c.package} in ${c.repository} (was ${c.from === 'absent' ? 'absent' : `publish ${c.from.publish}, upstream ${c.from.upstream}`})`);
      for (const g of result.groups) lines.push(`  ${opts.dryRun ? 'would block' : 'blocked'} external upstreams for package group ${g.pattern}`);
      for (const e of result.errors) lines.push(`  FAILED ${e.package}: ${e.message}`);
      print(io.stdout, `${lines.join('\n')}\n`);
    }
    return result.errors.length > 0 ? 1 : 0;
  } catch (e) {
    return reportError(e instanceof MigrateError ? e : toError(e), io, json);
  }
}

function missing(format: Format): never {
  throw new MigrateError('ECONFIG', `no target.repositories.${format} in the job file`);
}
