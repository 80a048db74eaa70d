/**
 * Hardening: every internal package gets the origin configuration that keeps a
 * public package of the same name out (publish ALLOW, upstream BLOCK), before
 * anything is published or warmed, and upstream BLOCK on its name in the format's
 * store repository too (origin controls are per repository: the store, with its
 * external connection, would ingest a public package of the name, and the shared
 * repository would serve it beside ours); optionally a package group per npm scope
 * that blocks external upstreams for names not published yet. Idempotent: what
 * is already so is read and left alone, so a second `harden` sends no write.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html
 */
import PQueue from 'p-queue';
import type { SourceConfig } from '../config/schema.js';
import { MigrateError, unexpectedError } from '../errors.js';
import { Domain, type GroupProtection, type OriginConfiguration } from '../targets/domain.js';
import type { CodeArtifact, PackageCoordinates } from '../targets/codeartifact.js';
import type { TargetFormat } from '../targets/format.js';
import type { Format } from '../types.js';
import { withRetry } from './retry.js';
import { ThrottleBreaker, throttleStormError } from './stop.js';

export const HARDENED: OriginConfiguration = { publish: 'ALLOW', upstream: 'BLOCK' };

/** What this tool writes into the package groups it creates: how a later harden knows the group is its own. */
const GROUP_DESCRIPTION = 'codeartifact-migrate:';
/** The `repository` of a package group's ledger entry (a group is the domain's, no repository's). */
const GROUP_REPOSITORY = '(package group)';
/**
 * A scope a package-group pattern can hold as plain text. `~`, `*` and `$` end a pattern (prefix,
 * all, exact: https://docs.aws.amazon.com/codeartifact/latest/ug/package-group-definition-syntax-matching-behavior.html);
 * npm let old scopes hold `~ ' ! ( ) *`. Such a scope gets no group: what the pattern would cover
 * is not what the scope is (`/npm/a~/*` is not the scope `@a~`).
 */
const PLAIN_SCOPE = /^[a-z0-9][a-z0-9._-]*$/;

export interface HardenResult {
  /** The internal packages looked at: one per coordinate (`Acme_Billing` and `acme-billing` are one PyPI package, a name two sources list is one). */
  packages: number;
  /** Origin configurations (one per package and repository: internal, store) that were (or, in a dry run, would be) changed. */
  changes: { format: Format; package: string; repository: string; from: OriginConfiguration | 'absent'; to: OriginConfiguration; applied: boolean }[];
  /** Origin configurations already so, one per package and repository (its internal repository, its store). */
  unchanged: number;
  /**
   * Packages whose publish BLOCK was left as someone set it (harden never loosens): they are
   * protected from upstreams, but nothing can be published into them until their owner allows it.
   */
  kept: { format: Format; package: string; repository: string; publish: 'BLOCK'; reason: string }[];
  /** Package groups created or changed to block external upstreams. */
  groups: { pattern: string; applied: boolean; from: string }[];
  /** Package groups harden would have made or changed but left alone, and why (someone else's group, a scope no pattern can name). */
  groupsLeft: { pattern: string; reason: string; from?: string }[];
  /**
   * What failed, and (code ESTOREHOLDS, repository the store) an internal name a store repository
   * already holds versions of: ingested from the public registry before its upstream BLOCK, they
   * are served through the shared repository, and clients may have installed them.
   */
  errors: { format: Format; package: string; code: string; message: string; repository?: string }[];
  /** Changes made (or, in a dry run, that would be) per repository: the summary's "what was done where". */
  changedIn: Record<string, number>;
}

export interface HardenOptions {
  dryRun: boolean;
  packageGroups: boolean;
  /**
   * npm scopes the job names internal (its npm sources' `scopes`, `@acme`): with packageGroups,
   * each gets its group even when no package of it is found yet. The scope is the company's
   * before its first package is: a public `@acme/new-thing` must not come in through a store.
   */
  scopes?: readonly string[];
  retries: number;
  signal: AbortSignal;
  /** Told of every change made (not in a dry run): the ledger records it. */
  onApplied?: (change: { format: Format; package: string; repository: string; to: OriginConfiguration | string; detail: string }) => void;
  /**
   * Whether the ledger holds this package's origin configuration. One found hardened that it
   * does not hold (a harden stopped between its change and its entry, or a hand's change) is
   * told to `onApplied` as found, so the ledger names every internal package's protection.
   */
  recorded?: (format: Format, pkg: string, repository: string) => boolean;
  /**
   * The store repository of a format (storeOf the job's target), if any. Origin
   * controls are per repository: a store with an external connection ingests an internal name
   * from the public registry whatever the internal repository says, and the shared repository
   * serves it. Each internal package gets upstream BLOCK there too (publish kept when the store
   * has the package, else BLOCK: nothing is published into a store).
   */
  store?: (format: Format) => string | undefined;
}

/** The npm scopes a job's sources name internal (switched-off ones too: their scopes stay the company's), for HardenOptions.scopes. */
export function scopesOf(sources: readonly SourceConfig[]): string[] {
  return sources.flatMap((s) => (s.kind === 'npm-registry' ? s.scopes : []));
}

const show = (o: OriginConfiguration) => `publish ${o.publish}, upstream ${o.upstream}`;

export async function harden(ca: CodeArtifact, target: (format: Format) => TargetFormat, packages: readonly { format: Format; name: string }[], opts: HardenOptions): Promise<HardenResult> {
  const domain = new Domain(ca);
  const result: HardenResult = { packages: 0, changes: [], unchanged: 0, kept: [], groups: [], groupsLeft: [], errors: [], changedIn: {} };
  const retry = <T>(fn: () => Promise<T>) => withRetry(fn, { budget: opts.retries, signal: opts.signal });
  // Every call goes through the run's rate limiter (reads, writes): the queue only bounds how
  // many wait at once. 32 keeps the writes bucket (100/s by default) busy at ~100 ms round
  // trips, so thousands of packages are hardened in about a minute, not several.
  const queue = new PQueue({ concurrency: 32 });
  const seen = new Set<string>();
  // a stop (Ctrl-C, a stuck target, credentials refused: stopWhenStuck) starts no further package
  const onAbort = () => queue.clear();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  // A change the ledger could not record (disk full, a state refusing writes: ELOCAL, ESTATE) stops
  // the harden: the packages not started yet would each be changed on the target with no entry
  // saying what they were. Thrown once the requests in flight have ended.
  let unrecorded: unknown;
  const record: NonNullable<HardenOptions['onApplied']> = (change) => {
    try {
      opts.onApplied?.(change);
    } catch (e) {
      unrecorded ??= e;
      queue.clear();
      throw e;
    }
  };
  // A throttle storm (THROTTLED_BEFORE_STOP packages in a row throttled through their retries, none
  // answered between): the account's write quota is spent elsewhere, and every package left would
  // wait out its retries and fail alike, for many minutes on a thousand packages. Stops as a run does.
  const throttles = new ThrottleBreaker();
  let storm: MigrateError | undefined;
  for (const p of packages) {
    void queue.add(async () => {
      if (unrecorded !== undefined || storm !== undefined) return;
      const t = target(p.format);
      const coords = t.coordinates(p.name);
      // one package per coordinate: `Acme_Billing` and `acme-billing` are one PyPI package
      const key = `${p.format}/${coords.namespace ?? ''}/${coords.package}`;
      if (seen.has(key)) return;
      seen.add(key);
      result.packages++;
      // nothing can be published into it: listed, and a run sends it nothing (EPUBLISHBLOCKED)
      const keep = (reason: string) => result.kept.push({ format: p.format, package: p.name, repository: t.repository, publish: 'BLOCK', reason });
      try {
        const current = await retry(() => domain.origin(coords));
        // Never loosen: a publish BLOCK someone set stays (a frozen package, or one that came in
        // from an upstream under an internal name); only the upstream side is ours to close.
        const wanted: OriginConfiguration = { publish: current?.publish === 'BLOCK' ? 'BLOCK' : HARDENED.publish, upstream: HARDENED.upstream };
        if (current?.publish === 'BLOCK') {
          keep('publish BLOCK was set before harden and is kept: nothing can be published into it until its owner sets publish ALLOW (aws codeartifact put-package-origin-configuration); if its versions came from an upstream, a public package holds this internal name');
        }
        // CodeArtifact applies the stricter of the package's own origin configuration and its
        // package group's: a group whose PUBLISH is BLOCK (set on it, or inherited from a parent
        // group) blocks publishing whatever the package says, and so does one whose PUBLISH is
        // ALLOW_SPECIFIC_REPOSITORIES with the internal repository not in its allowed list. Said
        // like a package's own publish BLOCK, so a run sends nothing into it (EPUBLISHBLOCKED)
        // instead of having each upload refused as if the credentials lacked a permission. Read
        // after the upstream BLOCK is set: a group that cannot be read never stands between a
        // package and its protection.
        // https://docs.aws.amazon.com/codeartifact/latest/ug/package-group-origin-controls.html
        // One repository's record of the package made `wanted`, or found so (and then named in the
        // ledger if it is not yet: a harden stopped before recording its change, or a hand's change)
        const settle = async (at: PackageCoordinates, found: OriginConfiguration | undefined, wanted: OriginConfiguration, say: { where: string; absent: string; why: string }) => {
          if (found && found.publish === wanted.publish && found.upstream === wanted.upstream) {
            result.unchanged++;
            if (!opts.dryRun && opts.recorded && !opts.recorded(p.format, p.name, at.repository)) {
              record({ format: p.format, package: p.name, repository: at.repository, to: wanted, detail: `origin configuration${say.where} found as ${show(found)} with no ledger entry for it (a harden stopped before recording its change, or it was set by hand); recorded as found` });
            }
            return;
          }
          if (!opts.dryRun) {
            await retry(() => domain.setOrigin(at, wanted));
            record({ format: p.format, package: p.name, repository: at.repository, to: wanted, detail: `origin configuration${say.where} was ${found ? show(found) : say.absent}; now ${show(wanted)}${say.why}` });
          }
          result.changes.push({ format: p.format, package: p.name, repository: at.repository, from: found ?? 'absent', to: wanted, applied: !opts.dryRun });
          result.changedIn[at.repository] = (result.changedIn[at.repository] ?? 0) + 1;
        };
        const groupBlocksPublish = async () => {
          if (current?.publish === 'BLOCK') return;
          // a principal allowed the origin actions only (no codeartifact:GetAssociatedPackageGroup,
          // no codeartifact:ListAllowedRepositoriesForGroup): not known, and the package is protected all the same
          const unknownIfRefused = (e: unknown) => {
            if (e instanceof MigrateError && e.code === 'ETARGETAUTH') return undefined;
            throw e;
          };
          const group = await retry(() => domain.groupOf(coords)).catch(unknownIfRefused);
          if (!group) return;
          const inherited = group.publishMode === 'INHERIT' && group.publishFrom && group.publishFrom !== group.pattern ? group.publishFrom : undefined;
          if (group.publish === 'BLOCK') {
            keep(`its package group ${group.pattern} blocks publishing (PUBLISH BLOCK${group.publishMode === 'INHERIT' ? ', inherited from a parent group' : ''}; CodeArtifact applies it over the package's own publish ALLOW): nothing can be published into it until the group's owner allows it (aws codeartifact update-package-group-origin-configuration --package-group '${group.pattern}' --restrictions PUBLISH=ALLOW, or ALLOW_SPECIFIC_REPOSITORIES with ${t.repository} in its list)`);
            return;
          }
          if (group.publish !== 'ALLOW_SPECIFIC_REPOSITORIES' || !group.publishFrom) return;
          // the list that applies is the one of the group the setting comes from (a parent's, for INHERIT)
          const listOf = group.publishFrom;
          const allowed = await retry(() => domain.allowedRepositories(listOf, 'PUBLISH')).catch(unknownIfRefused);
          // no such group any more (deleted since it was read): not known
          if (!allowed || allowed.includes(t.repository)) return;
          keep(`its package group ${group.pattern} allows publishing into specific repositories only (PUBLISH ALLOW_SPECIFIC_REPOSITORIES${inherited ? `, inherited from ${inherited}` : ''}) and ${t.repository} is not among them${allowed.length ? ` (${allowed.length > 5 ? `${allowed.slice(0, 5).join(', ')} and ${allowed.length - 5} more` : allowed.join(', ')})` : ' (its list is empty)'}; CodeArtifact applies it over the package's own publish ALLOW: nothing can be published into it until the group's owner adds it (aws codeartifact update-package-group-origin-configuration --package-group '${listOf}' --add-allowed-repositories originRestrictionType=PUBLISH,repositoryName=${t.repository})`);
        };
        // The store: its own record of the name, upstream BLOCK, so its external connection cannot
        // ingest a public package of the name for the shared repository to serve.
        const inStore = async () => {
          const store = opts.store?.(p.format);
          if (!store || store === t.repository) return;
          const at = { ...coords, repository: store };
          const found = await retry(() => domain.origin(at));
          if (found) {
            // versions already there came in from the public registry (nothing is published into a store)
            const held = [...(await retry(() => ca.listVersions(at, opts.signal))).keys()];
            if (held.length) {
              const shown = held.length > 10 ? `${held.slice(0, 10).join(', ')} and ${held.length - 10} more` : held.join(', ');
              result.errors.push({
                format: p.format,
                package: p.name,
                repository: store,
                code: 'ESTOREHOLDS',
                message: `the store ${store} already holds ${held.length} version(s) of the internal name ${p.name} (${shown}), ingested from the public registry: the shared repository serves them and clients may have installed them. Find who installed them, then delete them from ${store} (aws codeartifact delete-package-versions --repository ${store} ...)${found.upstream === 'BLOCK' ? '' : opts.dryRun ? '; harden sets its upstream BLOCK there so no more come in' : '; its upstream BLOCK is set there so no more come in'}`,
              });
            }
          }
          // a store record with upstream BLOCK is as wanted, whatever its publish (kept as it is)
          await settle(at, found, { publish: found ? found.publish : 'BLOCK', upstream: 'BLOCK' }, {
            where: ' in the store',
            absent: 'absent (package created, empty)',
            why: ': its external connection cannot ingest a public package of this internal name',
          });
        };
        await settle(coords, current, wanted, { where: '', absent: 'absent (package created)', why: '' });
        await groupBlocksPublish();
        await inStore();
        throttles.outcome('hardened');
      } catch (e) {
        const error = describe(p.name, e);
        result.errors.push({ format: p.format, ...error });
        if (throttles.outcome(`failed:${error.code}`) && storm === undefined) {
          storm = throttleStormError('package', throttles.count, opts.retries, error.message, {
            between: 'answered',
            lost: 'what was changed is in the ledger; a second harden finds it so and changes the rest',
            others: 'another client writing to the domain',
          });
          queue.clear();
        }
      }
    });
  }
  await queue.onIdle();
  opts.signal.removeEventListener('abort', onAbort);
  if (unrecorded !== undefined) throw unrecorded;
  if (storm !== undefined) throw storm;
  if (opts.packageGroups) {
    // every group of the domain, listed once for all the scopes (lazily: only when a scope's group blocks)
    let listed: Promise<GroupProtection[]> | undefined;
    const narrower = async (scope: string, pattern: string) => {
      try {
        const open = openUnder(await (listed ??= retry(() => domain.groups())), scope, pattern);
        for (const g of open) result.groupsLeft.push({ pattern: g.pattern, reason: opensScope(g, scope, pattern), from: groupMode(g) });
      } catch (e) {
        if (!(e instanceof MigrateError && e.code === 'ETARGETAUTH')) throw e;
        result.groupsLeft.push({
          pattern,
          reason: `the domain's package groups could not be listed (${e.code}: ${e.message}): whether a more specific group under ${pattern} lets public packages in for some names of @${scope} is not known, so the scope is not called protected; grant codeartifact:ListPackageGroups on the domain and harden again. The job's packages of @${scope} are protected one by one (upstream BLOCK)`,
        });
      }
    };
    const ofPackages = packages.filter((p) => p.format === 'npm' && p.name.startsWith('@') && p.name.includes('/')).map((p) => p.name.slice(1, p.name.indexOf('/')));
    for (const scope of new Set([...ofPackages, ...(opts.scopes ?? []).map((s) => s.replace(/^@/, ''))])) {
      const pattern = `/npm/${scope}/*`;
      if (!PLAIN_SCOPE.test(scope)) {
        result.groupsLeft.push({ pattern, reason: `the scope @${scope} holds characters a package-group pattern reads as syntax (~ * $) or cannot hold: no group made; its packages are protected one by one (upstream BLOCK)` });
        continue;
      }
      try {
        // The group with exactly this pattern, not the one a sample package is associated with
        // (a more specific group of someone else's would make every harden write again).
        let group = await retry(() => domain.group(pattern));
        if (group?.externalUpstream === 'BLOCK') {
          // found blocking with no ledger entry for it (a harden killed between the group's change
          // and its entry, or a hand's): recorded as found, as a package's origin configuration is,
          // so the ledger names the scope's protection; a later harden finds it recorded
          if (!opts.dryRun && opts.recorded && !opts.recorded('npm', pattern, GROUP_REPOSITORY)) {
            record({ format: 'npm', package: pattern, repository: GROUP_REPOSITORY, to: 'EXTERNAL_UPSTREAM: BLOCK', detail: `package group ${pattern} found blocking external upstreams with no ledger entry for it (a harden stopped before recording its change, or it was set by hand); recorded as found` });
          }
          await narrower(scope, pattern);
          continue;
        }
        if (group && !group.description?.startsWith(GROUP_DESCRIPTION)) {
          result.groupsLeft.push({ pattern, reason: othersGroup(group), from: groupMode(group) });
          continue;
        }
        if (!opts.dryRun) {
          if (!group && !(await retry(() => domain.createGroup(pattern, `${GROUP_DESCRIPTION} @${scope} is internal; never fetched from public upstreams`)))) {
            // made meanwhile by someone else (another harden, another team): read it again
            group = await retry(() => domain.group(pattern));
            if (group?.externalUpstream === 'BLOCK') {
              await narrower(scope, pattern);
              continue;
            }
            if (group && !group.description?.startsWith(GROUP_DESCRIPTION)) {
              result.groupsLeft.push({ pattern, reason: othersGroup(group), from: groupMode(group) });
              continue;
            }
          }
          await retry(() => domain.blockExternalUpstreams(pattern));
          record({ format: 'npm', package: pattern, repository: GROUP_REPOSITORY, to: 'EXTERNAL_UPSTREAM: BLOCK', detail: `package group ${pattern} ${group ? `had EXTERNAL_UPSTREAM ${group.externalUpstreamMode ?? 'unset'}` : 'created'}; now blocks external upstreams` });
        }
        result.groups.push({ pattern, applied: !opts.dryRun, from: group ? groupMode(group) : 'absent' });
        await narrower(scope, pattern);
      } catch (e) {
        if (unrecorded !== undefined) throw unrecorded;
        result.errors.push({ format: 'npm', ...describe(pattern, e) });
      }
    }
  }
  result.changes.sort((a, b) => a.format.localeCompare(b.format) || a.package.localeCompare(b.package) || a.repository.localeCompare(b.repository));
  result.kept.sort((a, b) => a.format.localeCompare(b.format) || a.package.localeCompare(b.package));
  result.errors.sort((a, b) => a.package.localeCompare(b.package));
  return result;
}

/** A group's EXTERNAL_UPSTREAM as it sets it, and what applies when that differs (INHERIT takes a parent's): the reports' "before". */
const groupMode = (g: GroupProtection) =>
  `EXTERNAL_UPSTREAM ${g.externalUpstreamMode ?? 'unset'}${g.externalUpstream && g.externalUpstream !== g.externalUpstreamMode ? ` (applies as ${g.externalUpstream})` : ''}`;

/**
 * The groups under a scope's group `/npm/<scope>/*` (a name prefix `/npm/<scope>/foo~` or an exact
 * name `/npm/<scope>/foo$`) that let public packages in once the scope's group blocks. CodeArtifact
 * associates a package with the MOST specific group its name matches, and applies that group's
 * origin controls: the scope's BLOCK reaches such a name only through INHERIT. So one that sets
 * EXTERNAL_UPSTREAM ALLOW or ALLOW_SPECIFIC_REPOSITORIES itself, or inherits it from another group
 * under the scope, leaves the names it covers open: a name of the scope not published yet (nor
 * protected one by one) is pulled in from a public registry when asked for. One that inherits
 * from the scope's group (or from above it, which the scope's group then stands between) blocks
 * as it does: a group made later under a blocking scope is INHERIT.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-group-definition-syntax-matching-behavior.html
 */
function openUnder(groups: readonly GroupProtection[], scope: string, pattern: string): GroupProtection[] {
  const under = `/npm/${scope}/`;
  const inScope = (p: string | undefined) => p !== undefined && p !== pattern && p.startsWith(under);
  return groups
    .filter((g) => inScope(g.pattern))
    .filter((g) => (g.externalUpstreamMode === 'INHERIT' ? inScope(g.externalUpstreamFrom) && g.externalUpstream !== 'BLOCK' : g.externalUpstreamMode !== 'BLOCK'))
    .sort((a, b) => a.pattern.localeCompare(b.pattern));
}

/** Why a group under the scope's group is named: what it lets in, whose it is, and what to do. */
function opensScope(g: GroupProtection, scope: string, pattern: string): string {
  const owner = [g.contactInfo && `contact ${JSON.stringify(g.contactInfo)}`, g.description && `description ${JSON.stringify(g.description)}`].filter(Boolean).join(', ');
  const lets = g.externalUpstream === 'ALLOW_SPECIFIC_REPOSITORIES' ? 'lets public packages into the repositories its list names (a store among them serves them to every build)' : 'lets public packages in';
  return `package group ${g.pattern} is more specific than ${pattern} and ${lets} (EXTERNAL_UPSTREAM ${g.externalUpstream ?? 'unset'}${g.externalUpstreamMode === 'INHERIT' && g.externalUpstreamFrom ? `, inherited from ${g.externalUpstreamFrom}` : ''}): CodeArtifact applies the most specific group a name matches, so the names of @${scope} it covers are not protected by ${pattern}, and one not published yet can be pulled in from a public registry. Left as it is (${owner || 'no contact or description'}); ask its owner to block external upstreams (aws codeartifact update-package-group-origin-configuration --package-group '${g.pattern}' --restrictions EXTERNAL_UPSTREAM=BLOCK) or to delete it. The job's packages it covers are protected one by one (upstream BLOCK)`;
}

/** Another owner's group with this pattern: theirs to change (its other settings may be deliberate, e.g. ALLOW_SPECIFIC_REPOSITORIES). */
function othersGroup(g: GroupProtection): string {
  const owner = [g.contactInfo && `contact ${JSON.stringify(g.contactInfo)}`, g.description && `description ${JSON.stringify(g.description)}`].filter(Boolean).join(', ');
  return `package group ${g.pattern} exists and was not made by codeartifact-migrate (${owner || 'no contact or description'}); its EXTERNAL_UPSTREAM is ${g.externalUpstream ?? 'unset'}: left as it is; ask its owner to block external upstreams (aws codeartifact update-package-group-origin-configuration --package-group '${g.pattern}' --restrictions EXTERNAL_UPSTREAM=BLOCK). The scope's packages are protected one by one (upstream BLOCK)`;
}

function describe(subject: string, thrown: unknown): { package: string; code: string; message: string } {
  const e = unexpectedError(thrown);
  const hint =
    e.code === 'ETARGETAUTH'
      ? '; grant codeartifact:PutPackageOriginConfiguration and DescribePackage on the internal and store repositories (and the package-group actions for packageGroups), or set hardening.originControls: false in the job'
      : '';
  return { package: subject, code: e.code, message: `${e.describe()}${hint}` };
}
