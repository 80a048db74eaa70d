/**
 * The domain around the packages: repositories and their upstreams, origin
 * controls and package groups, and who is calling. Read by the plan's
 * preflight audit; written (origin controls only) by `harden`.
 *
 * Origin controls decide whether a package name may come from an upstream
 * (dependency confusion) or be published into a repository:
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html
 * Package groups apply them to name patterns:
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-groups.html
 */
import {
  CreatePackageGroupCommand,
  DescribePackageCommand,
  DescribePackageGroupCommand,
  DescribeRepositoryCommand,
  GetAssociatedPackageGroupCommand,
  ListAllowedRepositoriesForGroupCommand,
  ListPackageGroupsCommand,
  ListRepositoriesInDomainCommand,
  PutPackageOriginConfigurationCommand,
  UpdatePackageGroupOriginConfigurationCommand,
  type PackageFormat,
} from '@aws-sdk/client-codeartifact';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { MigrateError, toError } from '../errors.js';
import { registerSdkCredentials, sdkRequestHandler } from '../net/agents.js';
import { ONE_OFF_DEADLINE_MS, oneOffError, oneOffSignal } from '../net/bounds.js';
import { capText, printable, publicUrl } from '../redact.js';
import { packageNotFound, resourceTypeOf, type CodeArtifact, type PackageCoordinates } from './codeartifact.js';
import { Paging } from './paging.js';

export type Restriction = 'ALLOW' | 'BLOCK';

export interface RepositoryInfo {
  name: string;
  /** Upstream repository names, in the order they are searched. */
  upstreams: string[];
  /** e.g. `public:npmjs`, with its status. */
  externalConnections: { name: string; status?: string }[];
}

export interface OriginConfiguration {
  publish: Restriction;
  upstream: Restriction;
}

export interface GroupProtection {
  pattern: string;
  /**
   * EXTERNAL_UPSTREAM as it applies: the group's effectiveMode (ALLOW | BLOCK |
   * ALLOW_SPECIFIC_REPOSITORIES), i.e. after INHERIT took a parent group's mode. A group set to
   * INHERIT under `/npm/*` BLOCK blocks; one set to BLOCK is BLOCK.
   */
  externalUpstream?: string;
  /** EXTERNAL_UPSTREAM as the group itself sets it (INHERIT included). */
  externalUpstreamMode?: string;
  /** For an EXTERNAL_UPSTREAM of INHERIT: the group whose mode applies (its `inheritedFrom`), when the answer says. */
  externalUpstreamFrom?: string;
  /** PUBLISH as it applies (effectiveMode, after INHERIT). */
  publish?: string;
  /** PUBLISH as the group itself sets it (INHERIT included). */
  publishMode?: string;
  /**
   * The group whose PUBLISH setting applies: this one, or for INHERIT the parent its
   * `inheritedFrom` names (whose allowed-repository list is the one that applies too).
   * Undefined when INHERIT came without saying where from.
   */
  publishFrom?: string;
  description?: string;
  contactInfo?: string;
}

const notFound = (e: unknown) => e instanceof MigrateError && e.status === 404;

export class Domain {
  constructor(private readonly ca: CodeArtifact) {}

  private get base() {
    return { domain: this.ca.config.domain, domainOwner: this.ca.config.domainOwner };
  }

  async repositories(): Promise<string[]> {
    const names = new Set<string>();
    const paging = new Paging(`ListRepositoriesInDomain of ${this.ca.config.domain}`);
    let nextToken: string | undefined;
    do {
      const out = await this.ca.api('ListRepositoriesInDomain', ['reads'], (o) => this.ca.client.send(new ListRepositoriesInDomainCommand({ ...this.base, maxResults: 100, nextToken }), o));
      for (const r of out.repositories ?? []) if (r.name) names.add(r.name);
      nextToken = paging.next(out.nextToken, (out.repositories ?? []).map((r) => r.name ?? ''));
    } while (nextToken);
    return [...names];
  }

  /** A repository's upstreams and external connections; undefined when it does not exist. */
  async repository(name: string): Promise<RepositoryInfo | undefined> {
    try {
      const out = await this.ca.api('DescribeRepository', ['reads'], (o) => this.ca.client.send(new DescribeRepositoryCommand({ ...this.base, repository: name }), o));
      // read as the model says, whatever came: the SDK passes a list that is no list, or an entry
      // that is null, through as it is, and a TypeError here would end the whole plan unexplained
      const r = out.repository as { upstreams?: unknown; externalConnections?: unknown } | undefined;
      const entries = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null) : []);
      const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
      return {
        name,
        upstreams: entries(r?.upstreams).flatMap((u) => text(u['repositoryName']) || []),
        externalConnections: entries(r?.externalConnections).flatMap((c) => {
          const n = text(c['externalConnectionName']);
          const status = text(c['status']);
          return n ? [{ name: n, ...(status === undefined ? {} : { status }) }] : [];
        }),
      };
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * A package's origin configuration in a repository; undefined when the package does not exist
   * there. A missing repository or domain is an error (ETARGETREJECTED, naming it), never "no
   * package yet": a half-made domain must not read as a list of packages to create.
   */
  async origin(c: PackageCoordinates): Promise<OriginConfiguration | undefined> {
    try {
      const out = await this.ca.api('DescribePackage', ['reads'], (o) =>
        this.ca.client.send(new DescribePackageCommand({ ...this.base, repository: c.repository, format: c.format as PackageFormat, namespace: c.namespace, package: c.package }), o),
      );
      // Read as the model says (publish and upstream both required, ALLOW or BLOCK), never
      // guessed: an answer without them, or with a value the model does not have (a proxy
      // answering for the service, an API grown since), says nothing of a publish BLOCK someone
      // may have set, and `harden` writing publish ALLOW over it would loosen it on a guess.
      const r = out.package?.originConfiguration?.restrictions as { publish?: unknown; upstream?: unknown } | undefined;
      const known = (v: unknown): v is Restriction => v === 'ALLOW' || v === 'BLOCK';
      if (!known(r?.publish) || !known(r?.upstream)) {
        const said = r === undefined ? 'no origin configuration' : `publish ${JSON.stringify(r.publish) ?? 'missing'}, upstream ${JSON.stringify(r.upstream) ?? 'missing'}`;
        throw new MigrateError('ETARGET', `DescribePackage of ${c.format} ${c.namespace ? `${c.namespace}/` : ''}${c.package} in ${c.repository} answered ${capText(printable(said), 200)}, not publish and upstream each ALLOW or BLOCK: its origin configuration is not known, so it is left as it is`, {
          hint: 'check what answers for CodeArtifact (AWS_ENDPOINT_URL_CODEARTIFACT, HTTPS_PROXY) and the package (aws codeartifact describe-package), then rerun',
        });
      }
      return { publish: r.publish, upstream: r.upstream };
    } catch (e) {
      if (packageNotFound(e)) return undefined;
      if (notFound(e)) {
        const what = resourceTypeOf(e) === 'domain' ? `domain ${this.base.domain} (owner ${this.base.domainOwner})` : `repository ${c.repository} in domain ${this.base.domain}`;
        throw new MigrateError('ETARGETREJECTED', `${what} does not exist`, { status: 404, cause: e, hint: 'create it, or fix target.repositories / target.domainOwner in the job file' });
      }
      throw e;
    }
  }

  /** Set a package's origin configuration (creating the package, empty, when it does not exist yet: that is the protection). */
  async setOrigin(c: PackageCoordinates, wanted: OriginConfiguration): Promise<void> {
    await this.ca.api('PutPackageOriginConfiguration', ['writes'], (o) =>
      this.ca.client.send(
        new PutPackageOriginConfigurationCommand({ ...this.base, repository: c.repository, format: c.format as PackageFormat, namespace: c.namespace, package: c.package, restrictions: wanted }),
        o,
      ),
    );
  }

  /** The package group whose pattern covers the package (the most specific one), if any. */
  async groupOf(c: PackageCoordinates): Promise<GroupProtection | undefined> {
    try {
      const out = await this.ca.api('GetAssociatedPackageGroup', ['reads'], (o) =>
        this.ca.client.send(new GetAssociatedPackageGroupCommand({ ...this.base, format: c.format as PackageFormat, namespace: c.namespace, package: c.package }), o),
      );
      return protection(out.packageGroup);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /** The package group with exactly this pattern; undefined when there is none. */
  async group(pattern: string): Promise<GroupProtection | undefined> {
    try {
      const out = await this.ca.api('DescribePackageGroup', ['reads'], (o) => this.ca.client.send(new DescribePackageGroupCommand({ ...this.base, packageGroup: pattern }), o));
      return protection(out.packageGroup);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * Every package group of the domain, with its origin configuration (ListPackageGroups, no
   * prefix: the model does not say how a prefix matches a pattern, so none is relied on).
   */
  async groups(pageSize = 1000): Promise<GroupProtection[]> {
    const groups = new Map<string, GroupProtection>();
    const paging = new Paging(`ListPackageGroups of ${this.ca.config.domain}`);
    let nextToken: string | undefined;
    do {
      const out = await this.ca.api('ListPackageGroups', ['reads'], (o) => this.ca.client.send(new ListPackageGroupsCommand({ ...this.base, maxResults: pageSize, nextToken }), o));
      // read as the model says, whatever came: a list that is no list, or entries without a pattern, list nothing
      const page = (Array.isArray(out.packageGroups) ? out.packageGroups : []).flatMap((g) => protection(g as Parameters<typeof protection>[0]) ?? []);
      for (const g of page) groups.set(g.pattern, g);
      nextToken = paging.next(out.nextToken, page.map((g) => g.pattern));
    } while (nextToken);
    return [...groups.values()];
  }

  /**
   * The repositories a package group's allowed list holds for one restriction (PUBLISH: the ones
   * its packages may be published into when the group is ALLOW_SPECIFIC_REPOSITORIES); undefined
   * when there is no such group (deleted since it was read).
   */
  async allowedRepositories(pattern: string, kind: 'PUBLISH' | 'EXTERNAL_UPSTREAM' | 'INTERNAL_UPSTREAM', pageSize = 100): Promise<string[] | undefined> {
    const names = new Set<string>();
    const paging = new Paging(`ListAllowedRepositoriesForGroup of ${pattern} (${kind})`);
    let nextToken: string | undefined;
    try {
      do {
        const out = await this.ca.api('ListAllowedRepositoriesForGroup', ['reads'], (o) =>
          this.ca.client.send(new ListAllowedRepositoriesForGroupCommand({ ...this.base, packageGroup: pattern, originRestrictionType: kind, maxResults: pageSize, nextToken }), o),
        );
        // read as the model says, whatever came: a list that is no list, or entries that are no names, list nothing
        const page = Array.isArray(out.allowedRepositories) ? out.allowedRepositories.filter((n): n is string => typeof n === 'string') : [];
        for (const n of page) names.add(n);
        nextToken = paging.next(out.nextToken, page);
      } while (nextToken);
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
    return [...names];
  }

  /** Create a package group; false when one with that pattern exists already (ConflictException). */
  async createGroup(pattern: string, description: string): Promise<boolean> {
    try {
      await this.ca.api('CreatePackageGroup', ['writes'], (o) => this.ca.client.send(new CreatePackageGroupCommand({ ...this.base, packageGroup: pattern, description }), o));
      return true;
    } catch (e) {
      if (e instanceof MigrateError && e.status === 409) return false;
      throw e;
    }
  }

  /** Make an existing package group block external upstreams (its other restrictions are left as they are). */
  async blockExternalUpstreams(pattern: string): Promise<void> {
    await this.ca.api('UpdatePackageGroupOriginConfiguration', ['writes'], (o) =>
      this.ca.client.send(new UpdatePackageGroupOriginConfigurationCommand({ ...this.base, packageGroup: pattern, restrictions: { EXTERNAL_UPSTREAM: 'BLOCK' } }), o),
    );
  }
}

function protection(
  g: { pattern?: string; description?: string; contactInfo?: string; originConfiguration?: { restrictions?: Record<string, { mode?: string; effectiveMode?: string; inheritedFrom?: { pattern?: string } }> } } | undefined,
): GroupProtection | undefined {
  if (typeof g?.pattern !== 'string' || !g.pattern) return undefined;
  const r = g.originConfiguration?.restrictions ?? {};
  const ext = r['EXTERNAL_UPSTREAM'];
  const publish = r['PUBLISH'];
  const publishFrom = publish?.mode === 'INHERIT' ? publish.inheritedFrom?.pattern : g.pattern;
  const externalFrom = ext?.mode === 'INHERIT' ? ext.inheritedFrom?.pattern : undefined;
  return {
    pattern: g.pattern,
    externalUpstream: ext?.effectiveMode ?? ext?.mode,
    externalUpstreamMode: ext?.mode,
    ...(typeof externalFrom === 'string' && externalFrom ? { externalUpstreamFrom: externalFrom } : {}),
    publish: r['PUBLISH']?.effectiveMode ?? r['PUBLISH']?.mode,
    publishMode: r['PUBLISH']?.mode,
    ...(typeof publishFrom === 'string' && publishFrom ? { publishFrom } : {}),
    ...(g.description === undefined ? {} : { description: g.description }),
    ...(g.contactInfo === undefined ? {} : { contactInfo: g.contactInfo }),
  };
}

/** Who is calling: `sts:GetCallerIdentity` with the same credentials as the run. */
/** `signal`: the command's stop (the principal is read beside other work; a stuck STS must not outlast the stop). */
export async function callerIdentity(region: string, env: NodeJS.ProcessEnv, client?: STSClient, signal?: AbortSignal, deadlineMs = ONE_OFF_DEADLINE_MS): Promise<{ arn?: string; account?: string; error?: string }> {
  const own = !client;
  const sts =
    client ??
    new STSClient({
      region,
      maxAttempts: 2,
      requestHandler: sdkRequestHandler(region, env),
      ...(env.AWS_ENDPOINT_URL_STS ? { endpoint: env.AWS_ENDPOINT_URL_STS } : {}),
      ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) } }
        : {}),
    });
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: oneOffSignal(deadlineMs, signal) });
    return { arn: out.Arn, account: out.Account };
  } catch (e) {
    // STS answers a signature it refuses with the canonical request, the session token in it
    await registerSdkCredentials(sts);
    return { error: oneOffError(toError(e), 'STS', publicUrl(env.AWS_ENDPOINT_URL_STS || `https://sts.${region}.amazonaws.com`), deadlineMs, signal) };
  } finally {
    if (own) sts.destroy();
  }
}
