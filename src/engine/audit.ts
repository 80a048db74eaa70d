/**
 * The plan's preflight audit of the target, read-only: who runs it, the token,
 * every repository the job names (and its endpoint), each store's external
 * connection, each shared repository's upstream order (internal BEFORE store:
 * the dependency-confusion guard), and how each internal package is protected.
 *
 * And the dependency-confusion exposure: internal names that also exist on the
 * public registry, asked of the public registry directly, never through a
 * store repository (which would ingest the public package).
 */
import PQueue from 'p-queue';
import { storeOf, type JobConfig } from '../config/schema.js';
import { MigrateError, toError } from '../errors.js';
import { capText, printable, publicUrl, redact } from '../redact.js';
import type { ExposureInput, PreflightInput } from '../report/schema.js';
import { escapeName } from '../sources/npm-registry.js';
import type { CodeArtifact, PackageCoordinates } from '../targets/codeartifact.js';
import { callerIdentity, Domain, type RepositoryInfo } from '../targets/domain.js';
import type { TargetFormat } from '../targets/format.js';
import { escapeModulePath } from '../builders/go-rules.js';
import { buildsOffline, containment, credentialsHidden } from '../builders/process.js';
import { agentFor } from '../net/agents.js';
import { confirmSilence } from '../net/silence.js';
import { STUCK_AFTER } from './limiter.js';
import { isLoopbackHost } from '../net/loopback.js';
import type { Format } from '../types.js';
import http from 'node:http';
import https from 'node:https';

type Check = NonNullable<PreflightInput['checks']>[number];

/** The external connection a store repository of each format needs. */
const CONNECTION: Partial<Record<Format, string>> = { npm: 'public:npmjs', pypi: 'public:pypi' };
/**
 * The format each known external connection serves; any other `public:` connection counts as a way
 * out for every format. The names are the ones AssociateExternalConnection documents (botocore
 * model, codeartifact 2018-09-22), the four Maven repositories besides Maven Central included: a
 * Clojars or Google Android proxy serves no npm or PyPI package.
 * https://docs.aws.amazon.com/codeartifact/latest/ug/external-connection.html
 */
const CONNECTION_FORMAT: Record<string, Format | 'other'> = {
  'public:npmjs': 'npm',
  'public:pypi': 'pypi',
  'public:maven-central': 'other',
  'public:maven-googleandroid': 'other',
  'public:maven-gradleplugins': 'other',
  'public:maven-commonsware': 'other',
  'public:maven-clojars': 'other',
  'public:nuget-org': 'other',
  'public:ruby-gems-org': 'other',
  'public:crates-io': 'other',
};

export async function preflightAudit(
  ca: CodeArtifact,
  config: JobConfig,
  target: (f: Format) => TargetFormat,
  packages: readonly { format: Format; name: string }[],
  env: NodeJS.ProcessEnv,
  /** The command's stop: cuts off the STS call (CodeArtifact's calls listen on the one `ca` was made with). */
  signal?: AbortSignal,
): Promise<{ preflight: PreflightInput; protectedNames: Set<string>; uncheckedNames: Map<string, string>; sharedOrderOk: boolean; storeOpenNames: Map<string, string> }> {
  let sharedOrderOk = true;
  const protectedNames = new Set<string>();
  /** Names whose protection could not be read (AccessDenied, a missing repository, ...), with why: neither protected nor not. */
  const uncheckedNames = new Map<string, string>();
  const checks: Check[] = [];
  const findings: NonNullable<PreflightInput['findings']> = [];
  const who = await callerIdentity(config.target.region, env, undefined, signal);
  checks.push(who.arn ? { id: 'principal', title: 'AWS principal', status: 'ok', detail: who.arn } : { id: 'principal', title: 'AWS principal', status: 'fail', detail: who.error ?? 'unknown', fix: 'check the AWS credentials (aws sts get-caller-identity)' });
  // what a hostile or broken tag can leave behind on this machine: python and npm builds run its code
  if (config.sources.some((s) => s.kind === 'git' && s.enabled && s.format !== 'go')) {
    const networked = config.sources.flatMap((s) => (s.kind === 'git' && s.enabled && s.format !== 'go' && s.build.network ? [s.id] : []));
    const how: Pick<Check, 'status' | 'detail' | 'fix'> = credentialsHidden()
      ? {
          status: 'ok',
          detail: `each build runs in a PID and a mount namespace of its own: whatever it starts (a daemon too) is killed with it, and the credential files of this account (~/.aws, ~/.ssh, ~/.npmrc, ~/.config, the ssh agent, the sources' key files) are covered from it; it writes only its own folders and the temp folders (not the state, its git mirrors, the home, nor this tool); ${
            buildsOffline()
              ? `its code runs with no network${networked.length ? ` (except the sources with build.network: ${networked.join(', ')})` : ''}, so it can reach no host and no cloud metadata service`
              : 'the network is shared (network namespaces are not allowed here): its code can reach any host this machine reaches, a cloud metadata service included'
          }`,
        }
      : containment() === 'pid-namespace'
        ? {
            status: 'warn',
            detail: 'each build runs in a PID namespace of its own (whatever it starts is killed with it), but no mount namespace is allowed here: a tag\'s setup.py or prepare script can read the credential files of this account (~/.aws, ~/.ssh, ~/.npmrc) and, run as root, this tool\'s environment (its tokens) through /proc, can write whatever this account can (the state, its blobs, the home), and shares the network',
            fix: 'allow mount namespaces (as root, or with unprivileged user namespaces enabled), or run the tool as a user whose home holds no credentials',
          }
        : {
            status: 'warn',
            detail: 'no usable PID namespace here (unshare): a build that calls setsid() leaves its process group and can outlive its timeout and this tool, and a build can read the credential files of this account and, through /proc, this tool\'s environment (its tokens)',
            fix: 'run on Linux with util-linux unshare where namespaces are allowed (as root, or with unprivileged user namespaces enabled)',
          };
    checks.push({ id: 'build-containment', title: 'Builds of git tags contained', ...how });
  }
  try {
    await ca.authToken();
    checks.push({ id: 'token', title: 'CodeArtifact authorization token', status: 'ok', detail: `domain ${config.target.domain} (owner ${config.target.domainOwner})` });
  } catch (e) {
    checks.push({ id: 'token', title: 'CodeArtifact authorization token', status: 'fail', detail: toError(e).message, fix: 'codeartifact:GetAuthorizationToken and sts:GetServiceBearerToken on the domain (README)' });
    for (const p of packages) uncheckedNames.set(`${p.format}:${p.name}`, 'the target could not be read (no authorization token)');
    return { preflight: { checkedAt: new Date().toISOString(), principalArn: who.arn ?? null, checks, findings }, protectedNames, uncheckedNames, sharedOrderOk: false, storeOpenNames: new Map() };
  }
  const domain = new Domain(ca);
  for (const [format, repos] of Object.entries(config.target.repositories) as [Format, { internal: string; store?: string; shared?: string }][]) {
    if (!repos) continue;
    for (const role of ['internal', 'store', 'shared'] as const) {
      const name = repos[role];
      if (!name) continue;
      const id = `${format}-${role}`;
      let info;
      try {
        info = await domain.repository(name);
      } catch (e) {
        checks.push({ id, title: `${format} ${role} repository ${name}`, status: 'fail', detail: toError(e).message });
        continue;
      }
      if (!info) {
        checks.push({ id, title: `${format} ${role} repository ${name}`, status: 'fail', detail: 'does not exist in the domain', fix: `create it (aws codeartifact create-repository --repository ${name}) or fix target.repositories.${format}.${role}` });
        continue;
      }
      try {
        await ca.endpoint(format, name);
        checks.push({ id, title: `${format} ${role} repository ${name}`, status: 'ok', detail: `exists, with a ${format} endpoint` });
      } catch (e) {
        checks.push({ id, title: `${format} ${role} repository ${name}`, status: 'fail', detail: `no ${format} endpoint: ${toError(e).message}` });
      }
      if (role === 'store' && CONNECTION[format]) {
        const wanted = CONNECTION[format]!;
        const has = info.externalConnections.some((c) => c.name === wanted);
        const other = info.externalConnections.map((c) => c.name).filter(Boolean);
        checks.push(
          has
            ? { id: `${id}-connection`, title: `${name} reaches the public registry`, status: 'ok', detail: wanted }
            : {
                id: `${id}-connection`,
                title: `${name} reaches the public registry`,
                status: 'fail',
                detail: `no external connection ${wanted}${other.length ? ` (it has ${other.join(', ')}: another format's registry)` : ''}`,
                fix: `aws codeartifact associate-external-connection --repository ${name} --external-connection ${wanted}`,
              },
        );
      }
      if (role === 'internal') {
        // what we publish into should reach nothing else: a version of an internal name not
        // published yet could be pulled in from upstream (and CodeArtifact then blocks publishing it)
        const order = await searchOrder(domain, info, format);
        const out = order.find(wayOut(repos.store));
        if (out?.unreadable !== undefined) {
          const fix = unreadableFix(out, name);
          checks.push({ id: `${id}-isolated`, title: `${name} reaches no public registry`, status: 'warn', detail: `search order: ${orderText(order)}`, fix });
          findings.push({ severity: 'warning', message: `internal repository ${name}: its upstream ${out.repo} could not be read, so whether it reaches a public registry is not known`, fix });
        } else if (out) {
          const what = out.connection ? `${out.connection}${out.repo === name ? '' : ` (through ${out.repo})`}` : out.repo;
          const fix = `remove the upstreams and external connections of ${name} (aws codeartifact update-repository --upstreams, disassociate-external-connection); meanwhile the upstream BLOCK harden sets keeps known internal names out`;
          checks.push({ id: `${id}-isolated`, title: `${name} reaches no public registry`, status: 'warn', detail: `search order: ${orderText(order)}`, fix });
          findings.push({ severity: 'warning', message: `internal repository ${name} reaches ${what}: a version of an internal name not published yet could be pulled in from there`, fix });
        } else {
          checks.push({ id: `${id}-isolated`, title: `${name} reaches no public registry`, status: 'ok', detail: order.length > 1 ? `search order: ${orderText(order)}` : 'no upstream, no external connection' });
        }
      }
      if (role === 'shared') {
        // The order the service searches for a package asked of the shared repository: itself,
        // then its upstreams depth-first, each one's external connection after its upstreams
        // (https://docs.aws.amazon.com/codeartifact/latest/ug/repo-upstream-search-order.html).
        // The guard holds when internal comes before every way out to a public registry, however
        // deep: an upstream that itself reads the store (or has a connection) counts as the store.
        const order = await searchOrder(domain, info, format);
        const i = order.findIndex((step) => step.repo === repos.internal && !step.connection);
        const out = order.findIndex(wayOut(repos.store));
        const path = orderText(order);
        if (i < 0 || (out >= 0 && out < i)) sharedOrderOk = false;
        if (i < 0) {
          checks.push({ id: `${id}-order`, title: `${name} reads the internal repository`, status: 'fail', detail: `search order: ${path || '(none)'}`, fix: `add ${repos.internal} as the first upstream of ${name}` });
        } else if (out >= 0 && out < i && order[out]!.unreadable !== undefined) {
          // not known to be a way out, nor known not to be: the guard is not called held on a guess
          const via = order[out]!;
          const fix = unreadableFix(via, name);
          checks.push({ id: `${id}-order`, title: `${name} lists internal before store`, status: 'warn', detail: `search order: ${path}`, fix });
          findings.push({ severity: 'warning', message: `shared repository ${name}: ${via.repo}, searched before ${repos.internal}, could not be read: whether it serves a public package with an internal name first is not known`, fix });
        } else if (out >= 0 && out < i) {
          const via = order[out]!;
          const what = via.connection ? `${via.connection} (through ${via.repo})` : via.repo;
          checks.push({ id: `${id}-order`, title: `${name} lists internal before store`, status: 'fail', detail: `search order: ${path}`, fix: `put ${repos.internal} first among the upstreams of ${name} (aws codeartifact update-repository --upstreams ...)` });
          findings.push({ severity: 'critical', message: `shared repository ${name} reaches ${what} before ${repos.internal}: a public package with an internal name would be served first`, fix: `reorder the upstreams of ${name}: ${repos.internal} first` });
        } else {
          checks.push({ id: `${id}-order`, title: `${name} lists internal before store`, status: 'ok', detail: `search order: ${path}` });
        }
      }
    }
  }
  // each internal package: its origin configuration, or the package group that covers it
  const unprotected: string[] = [];
  /** Names the internal repository keeps out but a store could still ingest, per store. */
  const storeOpen = new Map<string, string[]>();
  const queue = new PQueue({ concurrency: 8 });
  for (const p of packages) {
    void queue.add(async () => {
      const coords = target(p.format).coordinates(p.name);
      try {
        const how = await protection(domain, coords, storeOf(config.target, p.format));
        if (how === true) protectedNames.add(`${p.format}:${p.name}`);
        else {
          unprotected.push(`${p.format}:${p.name}`);
          if (how !== false) storeOpen.set(how.store, [...(storeOpen.get(how.store) ?? []), `${p.format}:${p.name}`]);
        }
      } catch (e) {
        // AccessDenied (a principal without codeartifact:DescribePackage or
        // GetAssociatedPackageGroup), a missing repository, a 5xx: not known, so neither
        // "unprotected" (harden would not help) nor "protected"
        uncheckedNames.set(`${p.format}:${p.name}`, toError(e).message);
      }
    });
  }
  await queue.onIdle();
  unprotected.sort();
  if (uncheckedNames.size > 0) {
    const names = [...uncheckedNames.keys()].sort();
    const reasons = [...new Set(uncheckedNames.values())];
    checks.push({
      id: 'origin-controls-readable',
      title: 'internal packages\' protection could be read',
      status: 'fail',
      detail: `${names.length} of ${packages.length} could not be checked (${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? '; …' : ''}): ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`,
      fix: 'grant codeartifact:DescribePackage and codeartifact:GetAssociatedPackageGroup on the internal and store repositories and the domain, then plan again',
    });
  }
  checks.push(
    unprotected.length === 0
      ? { id: 'origin-controls', title: 'internal packages blocked from upstreams', status: 'ok', detail: `${packages.length - uncheckedNames.size} packages: upstream BLOCK (in the internal repository and the store) or a package group blocking external upstreams` }
      : {
          id: 'origin-controls',
          title: 'internal packages blocked from upstreams',
          status: 'warn',
          detail: `${unprotected.length} of ${packages.length} not yet: ${unprotected.slice(0, 20).join(', ')}${unprotected.length > 20 ? ', …' : ''}${[...storeOpen]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([store, names]) => `; the store ${store} can still ingest ${names.length} of them from the public registry (no upstream BLOCK there), and the shared repository would serve it: ${names.sort().slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`)
            .join('')}`,
          fix: `cam harden <job> (upstream BLOCK on each internal package in its internal and store repositories; run does it before publishing unless hardening.originControls is false)`,
        },
  );
  const storeOpenNames = new Map([...storeOpen].flatMap(([store, names]) => names.map((n) => [n, store] as const)));
  return { preflight: { checkedAt: new Date().toISOString(), principalArn: who.arn ?? null, checks, findings }, protectedNames, uncheckedNames, sharedOrderOk, storeOpenNames };
}

/**
 * Whether an internal name is kept from public packages: a package group blocking external
 * upstreams (domain-wide), or upstream BLOCK on its record in the internal repository AND in the
 * store (origin controls are per repository: a store with no record of the name ingests it from
 * its external connection, and the shared repository serves it). true, false (nothing protects
 * it), or the store that could still ingest it.
 */
export async function protection(domain: Domain, coords: PackageCoordinates, store: string | undefined): Promise<true | false | { store: string }> {
  const origin = await domain.origin(coords);
  const open = store !== undefined && store !== coords.repository ? store : undefined;
  if (origin?.upstream === 'BLOCK') {
    if (open === undefined) return true;
    if ((await domain.origin({ ...coords, repository: open }))?.upstream === 'BLOCK') return true;
  }
  // the package's own records do not keep it out: a group blocking external upstreams still may (it is the domain's)
  if ((await domain.groupOf(coords))?.externalUpstream === 'BLOCK') return true;
  return origin?.upstream === 'BLOCK' && open !== undefined ? { store: open } : false;
}

/** One step of a repository's search order: a repository, or (connection set) its external connection. */
interface SearchStep {
  repo: string;
  connection?: string;
  /** Why the repository could not be described (another team's, which this principal may not read): what it reaches is not known. */
  unreadable?: string;
  /** The unreadable repository is one DescribeRepository calls missing (not one this principal may not read). */
  missing?: boolean;
}

const unreadableFix = (step: SearchStep, repository: string) =>
  step.missing
    ? `check the upstreams of ${repository} and of the repositories it reads (aws codeartifact describe-repository): ${step.repo} is listed but not found; fix the list, then plan again`
    : `grant codeartifact:DescribeRepository on ${step.repo}, then plan again`;

/** At most 25 repositories are searched (https://docs.aws.amazon.com/codeartifact/latest/ug/repo-upstream-search-order.html). */
const MAX_SEARCHED = 25;

/** A step of a search order that may leave the domain: an external connection, the store (which has one), or a repository that could not be read. */
const wayOut = (store: string | undefined) => (step: SearchStep) => step.connection !== undefined || step.unreadable !== undefined || (store !== undefined && step.repo === store);

const orderText = (order: readonly SearchStep[]) =>
  order.map((step) => (step.connection ? `${step.repo} -> ${step.connection}` : step.unreadable !== undefined ? `${step.repo} (could not be read: ${step.unreadable})` : step.repo)).join(', ');

/**
 * The search order from a repository: itself, its upstreams depth-first, each one's external
 * connection (of this format) after its upstreams. An upstream this principal may not describe
 * (AccessDenied on another team's repository, a 5xx) is a step of its own, marked unreadable,
 * not the end of the plan: the report is what the plan is for.
 */
async function searchOrder(domain: Domain, start: RepositoryInfo, format: Format): Promise<SearchStep[]> {
  const steps: SearchStep[] = [];
  const visited = new Set<string>();
  const visit = async (info: RepositoryInfo | undefined, name: string): Promise<void> => {
    if (visited.has(name) || visited.size >= MAX_SEARCHED) return;
    visited.add(name);
    steps.push({ repo: name });
    if (!info) return;
    for (const u of info.upstreams) {
      if (visited.has(u) || visited.size >= MAX_SEARCHED) continue;
      let upstream: RepositoryInfo | undefined;
      try {
        upstream = await domain.repository(u);
      } catch (e) {
        if (e instanceof MigrateError && e.code === 'EINTERRUPTED') throw e;
        visited.add(u);
        steps.push({ repo: u, unreadable: capText(toError(e).message, 200) });
        continue;
      }
      if (!upstream) {
        // listed as an upstream of `name`, yet DescribeRepository answers ResourceNotFound (a
        // repository being deleted, a listing that lags): what it reaches is not known, so it is
        // not a dead end that would let the guard be called held
        visited.add(u);
        steps.push({ repo: u, unreadable: `DescribeRepository says it does not exist, though ${name} lists it as an upstream`, missing: true });
        continue;
      }
      await visit(upstream, u);
    }
    const connection = info.externalConnections.find((c) => CONNECTION_FORMAT[c.name] === format || (CONNECTION_FORMAT[c.name] === undefined && c.name.startsWith('public:')));
    if (connection) steps.push({ repo: name, connection: connection.name });
  };
  await visit(start, start.name);
  return steps;
}

/** Does each internal name exist on the public registry, and what protects it? */
export interface ExposureOptions {
  /** Names whose protection the audit could not read, with why (they are never called protected or exposed on a guess). */
  uncheckedNames?: ReadonlyMap<string, string>;
  /** Names upstream BLOCK in their internal repository whose store can still ingest them (no upstream BLOCK there), with the store. */
  storeOpenNames?: ReadonlyMap<string, string>;
  /** The run's environment: a public registry that is in fact a CodeArtifact endpoint is never asked. */
  env?: NodeJS.ProcessEnv;
  /** Longest one question to a public registry may take, in all (default 30 s). */
  deadlineMs?: number;
}

/** Questions in a row a public registry may leave unanswered before it is asked nothing more: as many as a stuck target gets (ETARGETSILENT). */
const SILENT_BEFORE_GIVING_UP = STUCK_AFTER;

/** A question the registry sent no (whole) answer to in time: silence, not a refusal or an HTTP error. */
class NoAnswer extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoAnswer';
  }
}

/**
 * A public registry that leaves SILENT_BEFORE_GIVING_UP questions in a row unanswered (NoAnswer:
 * silence, not a refusal or an error answer) is asked nothing more in this command: each question
 * would wait out its deadline (500 names, half an hour). `givenUp` says why the rest are not asked.
 * The plan's exposure check and warm's public check use it alike.
 */
export class SilentRegistry {
  private inRow = 0;
  givenUp: string | undefined;
  constructor(private readonly registry: string) {}
  answered(): void {
    this.inRow = 0;
  }
  failed(e: unknown): void {
    if (!(e instanceof NoAnswer)) {
      this.inRow = 0;
      return;
    }
    if (++this.inRow >= SILENT_BEFORE_GIVING_UP) this.givenUp ??= `not asked: ${publicUrl(this.registry)} answered none of the last ${this.inRow} questions (${e.message}); check publicRegistries and the proxy on the way`;
  }
}

/** Why a name's exposure is unknown when the command was stopped before (or while) asking. */
const INTERRUPTED = 'not asked: interrupted (Ctrl-C) before the public registry answered';

export async function exposure(
  config: JobConfig,
  packages: readonly { format: Format; name: string }[],
  protectedNames: ReadonlySet<string>,
  /** undefined: the target was not read (plan --no-target) */
  sharedOrderOk: boolean | undefined,
  signal?: AbortSignal,
  opts: ExposureOptions = {},
): Promise<ExposureInput> {
  const names: NonNullable<ExposureInput['names']> = [];
  // per registry: a registry that answered none of the last questions is not asked the rest
  const silences = new Map<string, SilentRegistry>();
  const silence = (registry: string) => silences.get(registry) ?? silences.set(registry, new SilentRegistry(registry)).get(registry)!;
  const queue = new PQueue({ concurrency: 8 });
  for (const p of packages) {
    void queue.add(async () => {
      const registry = p.format === 'npm' ? config.publicRegistries.npm : p.format === 'pypi' ? config.publicRegistries.pypi : config.publicRegistries.go;
      let found: { exists: boolean; versions?: number; latest?: string } | undefined;
      let error: string | null = null;
      try {
        // never a repository of the target: asking a store would ingest the public package
        if (isCodeArtifact(registry, opts.env)) error = `${registry} is a CodeArtifact endpoint, not the public registry: asking it would ingest the public package`;
        // stopped (Ctrl-C): nothing new is asked, and a question cut off is the stop's, not the registry's silence
        else if (signal?.aborted) error = INTERRUPTED;
        else if (silence(registry).givenUp) error = silence(registry).givenUp!;
        else {
          found = await askPublic(p.format, p.name, registry, signal, opts.deadlineMs ?? 30_000);
          silence(registry).answered();
        }
      } catch (e) {
        found = undefined;
        error = signal?.aborted ? INTERRUPTED : capText(printable(redact(toError(e).message)), 300);
        if (!signal?.aborted) silence(registry).failed(e);
      }
      const key = `${p.format}:${p.name}`;
      const unchecked = opts.uncheckedNames?.get(key);
      const protections = [
        {
          kind: 'origin-control' as const,
          detail:
            unchecked !== undefined
              ? `could not be read: ${unchecked}`
              : protectedNames.has(key)
                ? 'upstream BLOCK in the internal and store repositories (or a package group blocking external upstreams)'
                : opts.storeOpenNames?.has(key)
                  ? `upstream BLOCK in the internal repository only: the store ${opts.storeOpenNames.get(key)} can still ingest the public package and the shared repository serves it; run cam harden <job>`
                  : 'none yet',
          effective: protectedNames.has(key),
        },
        {
          kind: 'shared-order' as const,
          detail: sharedOrderOk === undefined ? 'not read (planned without AWS access)' : sharedOrderOk ? 'shared repositories read internal before store' : 'a shared repository reads store before internal',
          effective: sharedOrderOk === true,
        },
      ];
      names.push({
        format: p.format,
        name: p.name,
        publicRegistry: registry,
        existsPublicly: found?.exists ?? false,
        publicVersions: found?.versions ?? null,
        latestPublic: found?.latest ?? null,
        protections,
        // a name the public registry lacks today is free for anyone to publish there: only an origin control protects it
        status: found === undefined ? 'unknown' : protectedNames.has(key) ? 'protected' : !found.exists ? 'unclaimed' : unchecked !== undefined ? 'unknown' : 'exposed',
        error: found === undefined ? error : null,
      });
    });
  }
  await queue.onIdle();
  names.sort((a, b) => a.format.localeCompare(b.format) || a.name.localeCompare(b.name));
  return { checkedAt: new Date().toISOString(), names };
}

/**
 * A CodeArtifact endpoint (AWS's, a VPC endpoint's, or the one AWS_ENDPOINT_URL_CODEARTIFACT
 * names): a repository, not the public registry. Host names are compared as the same machine
 * would answer them: a trailing dot dropped, and every loopback spelling (localhost, 127.x.y.z,
 * [::1]) one host, so `localhost:8080` is not taken for another server than `127.0.0.1:8080`.
 */
export function isCodeArtifact(registry: string, env: NodeJS.ProcessEnv | undefined): boolean {
  const u = new URL(registry);
  if (/\.codeartifact\.[a-z0-9-]+(\.vpce)?\.amazonaws\.com(\.cn)?$/.test(u.hostname.toLowerCase().replace(/\.$/, ''))) return true;
  const override = env?.AWS_ENDPOINT_URL_CODEARTIFACT ?? env?.AWS_ENDPOINT_URL;
  return override !== undefined && URL.canParse(override) && sameServer(new URL(override), u);
}

function sameServer(a: URL, b: URL): boolean {
  const port = (u: URL) => u.port || (u.protocol === 'https:' ? '443' : '80');
  const host = (u: URL) => {
    const h = u.hostname.toLowerCase().replace(/\.$/, '');
    return isLoopbackHost(h) ? 'loopback' : h;
  };
  return host(a) === host(b) && port(a) === port(b);
}

/** The abbreviated packument (npm's own request), as the public registry serves it: its versions' `dist` is what warm checks pins against. */
export interface PublicPackument {
  name?: unknown;
  versions?: Record<string, { dist?: { integrity?: unknown; shasum?: unknown } } | null>;
  'dist-tags'?: Record<string, string>;
}

/**
 * One npm packument read from the public registry directly (no token, never a store: a store
 * would ingest the package): undefined when the registry has no such package (404). Throws on
 * any other answer, an answer about another name, or one that is not a JSON object. Also what
 * warm asks before requesting a package its lockfile resolved from a company registry.
 */
export async function publicPackument(name: string, registry: string, signal: AbortSignal | undefined, deadlineMs = 30_000): Promise<PublicPackument | undefined> {
  const base = registry.endsWith('/') ? registry : `${registry}/`;
  const deadline = AbortSignal.timeout(deadlineMs);
  const within = signal ? AbortSignal.any([signal, deadline]) : deadline;
  const r = await get(`${base}${escapeName(name)}`, 'application/vnd.npm.install-v1+json', within);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw httpError(r);
  const doc = JSON.parse(r.body) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('the registry answered no packument');
  const p = doc as PublicPackument;
  // a packument of another name (a proxy or portal that answers every path alike) says nothing about this one
  if (p.name !== undefined && p.name !== name) throw new Error(`the registry answered for ${String(p.name)}`);
  return p;
}

/** One read of the public registry (no token: these are public): npm packument, PyPI simple page, Go proxy list. */
async function askPublic(format: Format, name: string, registry: string, signal: AbortSignal | undefined, deadlineMs: number): Promise<{ exists: boolean; versions?: number; latest?: string }> {
  const base = registry.endsWith('/') ? registry : `${registry}/`;
  const deadline = AbortSignal.timeout(deadlineMs);
  const within = signal ? AbortSignal.any([signal, deadline]) : deadline;
  if (format === 'npm') {
    const doc = await publicPackument(name, registry, signal, deadlineMs);
    if (!doc) return { exists: false };
    return { exists: true, versions: Object.keys(doc.versions ?? {}).length, latest: doc['dist-tags']?.latest };
  }
  if (format === 'pypi') {
    const norm = name.toLowerCase().replace(/[-_.]+/g, '-');
    const r = await get(`${base}simple/${norm}/`, 'text/html', within);
    if (r.status === 404) return { exists: false };
    if (r.status !== 200) throw httpError(r);
    return { exists: true, versions: (r.body.match(/<a /g) ?? []).length };
  }
  const r = await get(`${base}${escapeModulePath(name)}/@v/list`, 'text/plain', within);
  if (r.status === 404 || r.status === 410) return { exists: false };
  if (r.status !== 200) throw httpError(r);
  const versions = r.body.split('\n').filter(Boolean);
  return { exists: versions.length > 0, versions: versions.length, latest: versions.at(-1) };
}

/**
 * An answer other than 200 or 404, as a reason a reader can act on. A redirect is never followed
 * (the exposure check asks the registry the job names, and nothing else): where it points is said,
 * without its userinfo or query, so publicRegistries can be set to the registry itself.
 */
function httpError(r: { status: number; location?: string }): Error {
  if (r.status >= 300 && r.status < 400 && r.location) {
    const to = URL.canParse(r.location) ? new URL(r.location) : undefined;
    const where = to ? `${to.protocol}//${to.host}${to.pathname}` : 'an address that is no URL';
    return new Error(`HTTP ${r.status} (a redirect to ${where}, not followed: set publicRegistries to the registry itself)`);
  }
  return new Error(`HTTP ${r.status}`);
}

/**
 * A bounded GET (a packument can be large: 20 MB at most here), through the configured proxy.
 * `timeout` only notices a silent socket; a registry that trickles bytes forever is cut by the
 * caller's deadline in `signal`.
 */
function get(url: string, accept: string, signal?: AbortSignal): Promise<{ status: number; body: string; location?: string }> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(u, { headers: { accept, 'user-agent': 'codeartifact-migrate' }, agent: agentFor(u), timeout: 30_000, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 20 * 1024 * 1024) res.destroy(new Error('answer too large'));
        else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(res.headers.location ? { location: URL.canParse(res.headers.location, u.href) ? new URL(res.headers.location, u).href : res.headers.location } : {}) }));
    });
    req.on('timeout', () => confirmSilence(req.socket, 30_000, () => req.destroy(new NoAnswer(`${u.host} sent nothing for 30 s`))));
    req.on('error', (e) => reject(signal?.aborted ? new NoAnswer(`no whole answer from ${u.host} in time`) : e));
    // once the answer has begun, an abort may end its body without an 'error' on it: settle here
    signal?.addEventListener('abort', () => reject(new NoAnswer(`no whole answer from ${u.host} in time`)), { once: true });
  });
}
