/**
 * Package groups: patterns over package paths (`/format/namespace/name`) whose origin controls
 * apply to every package associated with them, and the six operations that set them up and read
 * them (model: botocore `codeartifact/2018-09-22/service-2.json`):
 * - CreatePackageGroup: POST /v1/package-group?domain&domain-owner, body packageGroup (required),
 *   contactInfo, description, tags -> {packageGroup: PackageGroupDescription};
 * - DescribePackageGroup: GET /v1/package-group?domain&domain-owner&package-group -> {packageGroup};
 * - ListPackageGroups: POST /v1/package-groups?domain&domain-owner&max-results&next-token&prefix
 *   -> {packageGroups: PackageGroupSummary[], nextToken};
 * - UpdatePackageGroupOriginConfiguration: PUT /v1/package-group-origin-configuration?domain&
 *   domain-owner&package-group, body restrictions {PUBLISH|EXTERNAL_UPSTREAM|INTERNAL_UPSTREAM:
 *   ALLOW|BLOCK|ALLOW_SPECIFIC_REPOSITORIES|INHERIT}, addAllowedRepositories,
 *   removeAllowedRepositories [{repositoryName, originRestrictionType}] -> {packageGroup,
 *   allowedRepositoryUpdates {type: {ADDED|REMOVED: [names]}}};
 * - GetAssociatedPackageGroup: GET /v1/get-associated-package-group?domain&domain-owner&format&
 *   namespace&package -> {packageGroup, associationType STRONG|WEAK};
 * - ListAllowedRepositoriesForGroup: GET /v1/package-group-allowed-repositories?domain&domain-owner&
 *   package-group&originRestrictionType (PUBLISH|EXTERNAL_UPSTREAM|INTERNAL_UPSTREAM; domain,
 *   package-group and originRestrictionType required)&max-results (1..1000)&next-token
 *   -> {allowedRepositories: string[], nextToken}; ResourceNotFoundException for an unknown group.
 *
 * Syntax and matching (https://docs.aws.amazon.com/codeartifact/latest/ug/package-group-definition-syntax-matching-behavior.html):
 * a pattern ends with `$` (the full coordinate), `~` (a prefix of the namespace or the name) or `*`
 * (every value of the next component): `/*`, `/npm/*`, `/maven/com.anycompany~`, `/npm/space/*`,
 * `/npm/space/anycompany-ui~`, `/maven/org.apache.logging.log4j/log4j-core$`; formats without
 * namespaces leave it empty (`/pypi//requests$`) and use normalised names. A package is associated
 * with the most specific group its path matches; the root group `/*` always exists and allows
 * every origin (https://docs.aws.amazon.com/codeartifact/latest/ug/package-groups.html). A group's
 * INHERIT takes the mode of the first parent group that is not INHERIT, parents being the
 * more general groups that contain it
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/package-group-origin-controls.html).
 *
 * Stand-in choices where nothing is documented: a new group's three restrictions are INHERIT;
 * GetAssociatedPackageGroup always answers STRONG; the ARN is `package-group/<domain><pattern>`;
 * `prefix` of ListPackageGroups is a prefix of the pattern; ListAllowedRepositoriesForGroup lists
 * the group's own list, sorted by name (the list that applies to an INHERIT group is the one of the
 * group its `inheritedFrom` names, as `allows` reads it).
 */
import { checkDomain, epochSeconds, FORMATS, jsonBody, ok, PACKAGE_PART, paginate, type Params } from './api-input.js';
import { ApiError, notFound, validation } from './errors.js';
import type { IncomingCall, Reply, StandInContext } from './route.js';

export type OriginKind = 'PUBLISH' | 'EXTERNAL_UPSTREAM' | 'INTERNAL_UPSTREAM';
export type GroupMode = 'ALLOW' | 'BLOCK' | 'ALLOW_SPECIFIC_REPOSITORIES' | 'INHERIT';
export const ORIGIN_KINDS: readonly OriginKind[] = ['PUBLISH', 'EXTERNAL_UPSTREAM', 'INTERNAL_UPSTREAM'];
const MODES: readonly GroupMode[] = ['ALLOW', 'BLOCK', 'ALLOW_SPECIFIC_REPOSITORIES', 'INHERIT'];
/** Formats whose packages have no namespace (the model's PackageNamespace documentation). */
const NO_NAMESPACE = new Set(['pypi', 'nuget', 'ruby', 'cargo']);
/** Formats whose packages always have one. */
const NAMESPACE_REQUIRED = new Set(['maven', 'generic', 'swift']);
const PATTERN_SHAPE = /^[^\p{C}\s]{2,520}$/u;

/** What a pattern selects; `rank` orders specificity (higher = more specific), `prefix` breaks ties. */
type Selector =
  | { kind: 'all'; rank: 0 }
  | { kind: 'format'; rank: 1; format: string }
  | { kind: 'namespacePrefix'; rank: 2; format: string; prefix: string }
  | { kind: 'namespace'; rank: 3; format: string; namespace: string }
  | { kind: 'namePrefix'; rank: 4; format: string; namespace: string; prefix: string }
  | { kind: 'exact'; rank: 5; format: string; namespace: string; name: string };

export interface GroupRecord {
  pattern: string;
  selector: Selector;
  description?: string;
  contactInfo?: string;
  createdTime: Date;
  modes: Record<OriginKind, GroupMode>;
  allowed: Record<OriginKind, Set<string>>;
}

const invalid = (pattern: string, why: string): ApiError => validation(`Invalid package group pattern '${pattern}': ${why}.`);
// The model's ResourceType (domain, repository, package, package-version, asset) has no value for
// a package group: its errors carry resourceId only.
const groupNotFound = (pattern: string): ApiError => new ApiError(404, 'ResourceNotFoundException', `Package group '${pattern}' not found.`, { resourceId: pattern });
const groupExists = (pattern: string): ApiError => new ApiError(409, 'ConflictException', `Package group '${pattern}' already exists.`, { resourceId: pattern });

export function parsePattern(pattern: string): Selector {
  if (!PATTERN_SHAPE.test(pattern) || !pattern.startsWith('/')) throw invalid(pattern, 'it must start with / and hold no spaces');
  const suffix = pattern.at(-1);
  const parts = pattern.slice(1, -1).split('/');
  if (suffix === '*' && parts.length === 1 && parts[0] === '') return { kind: 'all', rank: 0 };
  const [format = '', second, third, ...rest] = parts;
  if (rest.length > 0) throw invalid(pattern, 'a pattern has at most format, namespace and name');
  if (!(FORMATS as readonly string[]).includes(format)) throw invalid(pattern, `'${format}' is not a package format`);
  const checkNamespace = (namespace: string): void => {
    if (namespace !== '' && NO_NAMESPACE.has(format)) throw invalid(pattern, `${format} packages have no namespace: leave it empty (/${format}//name)`);
    if (namespace === '' && NAMESPACE_REQUIRED.has(format)) throw invalid(pattern, `${format} packages always have a namespace`);
    if (namespace !== '' && !PACKAGE_PART.test(namespace)) throw invalid(pattern, `'${namespace}' is not a namespace`);
  };
  const checkName = (name: string): void => {
    if (!PACKAGE_PART.test(name)) throw invalid(pattern, `'${name}' is not a package name`);
    // "package groups containing names for these formats must use the normalized names"
    if (format === 'pypi' && name !== name.replace(/[-_.]+/g, '-').toLowerCase()) throw invalid(pattern, 'Python names must be normalised');
  };
  if (suffix === '*' && second === '' && third === undefined) return { kind: 'format', rank: 1, format };
  if (suffix === '*' && second !== undefined && third === '') {
    checkNamespace(second);
    return { kind: 'namespace', rank: 3, format, namespace: second };
  }
  if (suffix === '~' && second !== undefined && second !== '' && third === undefined) {
    checkNamespace(second);
    return { kind: 'namespacePrefix', rank: 2, format, prefix: second };
  }
  if ((suffix === '~' || suffix === '$') && second !== undefined && third !== undefined && third !== '') {
    checkNamespace(second);
    checkName(third);
    return suffix === '~'
      ? { kind: 'namePrefix', rank: 4, format, namespace: second, prefix: third }
      : { kind: 'exact', rank: 5, format, namespace: second, name: third };
  }
  throw invalid(pattern, 'it must end with $ (exact), ~ (prefix) or * (all), e.g. /npm/acme/*');
}

function matches(s: Selector, format: string, namespace: string, name: string): boolean {
  switch (s.kind) {
    case 'all':
      return true;
    case 'format':
      return s.format === format;
    case 'namespacePrefix':
      return s.format === format && namespace.startsWith(s.prefix);
    case 'namespace':
      return s.format === format && s.namespace === namespace;
    case 'namePrefix':
      return s.format === format && s.namespace === namespace && name.startsWith(s.prefix);
    case 'exact':
      return s.format === format && s.namespace === namespace && s.name === name;
  }
}

/** Whether every package `inner` matches is matched by `outer` too (outer is a possible parent). */
function covers(outer: Selector, inner: Selector): boolean {
  if (outer.rank >= inner.rank && !(outer.kind === inner.kind && outer.kind.endsWith('Prefix'))) return false;
  if (outer.kind === 'all') return true;
  if (inner.kind === 'all' || outer.format !== inner.format) return false;
  switch (outer.kind) {
    case 'format':
      return true;
    case 'namespacePrefix': {
      const ns = inner.kind === 'namespacePrefix' ? inner.prefix : inner.kind === 'format' ? undefined : inner.namespace;
      return ns !== undefined && ns.startsWith(outer.prefix) && (inner.kind !== 'namespacePrefix' || ns.length > outer.prefix.length);
    }
    case 'namespace':
      return (inner.kind === 'namePrefix' || inner.kind === 'exact') && inner.namespace === outer.namespace;
    case 'namePrefix': {
      if (inner.kind !== 'namePrefix' && inner.kind !== 'exact') return false;
      const name = inner.kind === 'exact' ? inner.name : inner.prefix;
      return inner.namespace === outer.namespace && name.startsWith(outer.prefix) && (inner.kind === 'exact' || name.length > outer.prefix.length);
    }
    case 'exact':
      return false;
  }
}

const specificity = (s: Selector): number => s.rank * 1000 + ('prefix' in s ? s.prefix.length : 0);

export class PackageGroups {
  private readonly groups = new Map<string, GroupRecord>();

  constructor() {
    // The root group allows every origin by default and cannot be deleted.
    this.groups.set('/*', this.record('/*', { PUBLISH: 'ALLOW', EXTERNAL_UPSTREAM: 'ALLOW', INTERNAL_UPSTREAM: 'ALLOW' }));
  }

  private record(pattern: string, modes: Record<OriginKind, GroupMode>, description?: string, contactInfo?: string): GroupRecord {
    return {
      pattern,
      selector: parsePattern(pattern),
      ...(description === undefined ? {} : { description }),
      ...(contactInfo === undefined ? {} : { contactInfo }),
      createdTime: new Date(),
      modes,
      allowed: { PUBLISH: new Set(), EXTERNAL_UPSTREAM: new Set(), INTERNAL_UPSTREAM: new Set() },
    };
  }

  create(pattern: string, description?: string, contactInfo?: string): GroupRecord {
    const group = this.record(pattern, { PUBLISH: 'INHERIT', EXTERNAL_UPSTREAM: 'INHERIT', INTERNAL_UPSTREAM: 'INHERIT' }, description, contactInfo);
    if (this.groups.has(pattern)) throw groupExists(pattern);
    this.groups.set(pattern, group);
    return group;
  }

  get(pattern: string): GroupRecord | undefined {
    return this.groups.get(pattern);
  }

  /** Sorted by pattern. */
  list(): GroupRecord[] {
    return [...this.groups.values()].sort((a, b) => (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0));
  }

  /** The most specific group containing `group`, or undefined for the root. */
  parent(group: GroupRecord): GroupRecord | undefined {
    let best: GroupRecord | undefined;
    for (const g of this.groups.values()) {
      if (g !== group && covers(g.selector, group.selector) && (best === undefined || specificity(g.selector) > specificity(best.selector))) best = g;
    }
    return best;
  }

  /** The group a package is associated with: the most specific whose pattern matches its path. */
  associated(format: string, namespace: string | undefined, name: string): GroupRecord {
    let best = this.groups.get('/*') as GroupRecord;
    for (const g of this.groups.values()) {
      if (matches(g.selector, format, namespace ?? '', name) && specificity(g.selector) > specificity(best.selector)) best = g;
    }
    return best;
  }

  /** A restriction's mode after INHERIT, and the group it comes from. */
  effective(group: GroupRecord, kind: OriginKind): { mode: Exclude<GroupMode, 'INHERIT'>; from: GroupRecord } {
    let g: GroupRecord | undefined = group;
    while (g !== undefined) {
      const mode = g.modes[kind];
      if (mode !== 'INHERIT') return { mode, from: g };
      g = this.parent(g);
    }
    return { mode: 'ALLOW', from: this.groups.get('/*') as GroupRecord };
  }

  /** Whether the group settings let a package's versions enter `repo` this way. */
  allows(repo: string, format: string, namespace: string | undefined, name: string, kind: OriginKind): boolean {
    const { mode, from } = this.effective(this.associated(format, namespace, name), kind);
    return mode === 'ALLOW' || (mode === 'ALLOW_SPECIFIC_REPOSITORIES' && from.allowed[kind].has(repo));
  }
}

// ------------------------------------------------------------------ the operations

const arnOf = (ctx: StandInContext, pattern: string): string => `arn:aws:codeartifact:${ctx.region}:${ctx.domainOwner}:package-group/${ctx.domain}${pattern}`;

/** PackageGroupDescription (also the shape of PackageGroupSummary). */
export function describeGroup(ctx: StandInContext, group: GroupRecord): unknown {
  const ref = (g: GroupRecord): unknown => ({ arn: arnOf(ctx, g.pattern), pattern: g.pattern });
  const parent = ctx.groups.parent(group);
  const restrictions: Record<string, unknown> = {};
  for (const kind of ORIGIN_KINDS) {
    const { mode, from } = ctx.groups.effective(group, kind);
    restrictions[kind] = {
      mode: group.modes[kind],
      effectiveMode: mode,
      ...(from === group ? {} : { inheritedFrom: ref(from) }),
      repositoriesCount: from.allowed[kind].size,
    };
  }
  return {
    arn: arnOf(ctx, group.pattern),
    pattern: group.pattern,
    domainName: ctx.domain,
    domainOwner: ctx.domainOwner,
    createdTime: epochSeconds(group.createdTime),
    contactInfo: group.contactInfo,
    description: group.description,
    originConfiguration: { restrictions },
    ...(parent === undefined ? {} : { parent: ref(parent) }),
  };
}

function groupOf(ctx: StandInContext, q: Params): GroupRecord {
  checkDomain(ctx, q);
  const pattern = q.required('package-group');
  const group = ctx.groups.get(pattern);
  if (group === undefined) throw groupNotFound(pattern);
  return group;
}

const optionalText = (body: Record<string, unknown>, member: string, max: number): string | undefined => {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max || /\p{C}/u.test(value)) throw validation(`${member} must be text of at most ${max} characters.`);
  return value;
};

export function createPackageGroup(ctx: StandInContext, q: Params, call: IncomingCall): Reply {
  checkDomain(ctx, q);
  const body = jsonBody(call.body);
  const pattern = body['packageGroup'];
  if (typeof pattern !== 'string') throw validation("1 validation error detected: Value null at 'packageGroup' failed to satisfy constraint: Member must not be null");
  const group = ctx.groups.create(pattern, optionalText(body, 'description', 1000), optionalText(body, 'contactInfo', 1000));
  return ok({ packageGroup: describeGroup(ctx, group) });
}

export function describePackageGroup(ctx: StandInContext, q: Params): Reply {
  return ok({ packageGroup: describeGroup(ctx, groupOf(ctx, q)) });
}

export function listPackageGroups(ctx: StandInContext, q: Params): Reply {
  checkDomain(ctx, q);
  const prefix = q.optional('prefix') ?? '';
  const { page, nextToken } = paginate(ctx.groups.list().filter((g) => g.pattern.startsWith(prefix)), q);
  return ok({ packageGroups: page.map((g) => describeGroup(ctx, g)), nextToken });
}

interface AllowedRepository {
  repositoryName: string;
  originRestrictionType: OriginKind;
}

function allowedRepositories(ctx: StandInContext, body: Record<string, unknown>, member: string): AllowedRepository[] {
  const value = body[member] ?? [];
  if (!Array.isArray(value)) throw validation(`${member} must be a list.`);
  return value.map((item: unknown) => {
    const { repositoryName, originRestrictionType } = (item ?? {}) as Record<string, unknown>;
    if (typeof repositoryName !== 'string' || !(ORIGIN_KINDS as readonly unknown[]).includes(originRestrictionType)) {
      throw validation(`${member}: every item needs repositoryName and originRestrictionType (${ORIGIN_KINDS.join(', ')}).`);
    }
    if (!ctx.store.hasRepository(repositoryName)) throw notFound(`Repository '${repositoryName}' not found in domain '${ctx.domain}'.`, 'repository', repositoryName);
    return { repositoryName, originRestrictionType: originRestrictionType as OriginKind };
  });
}

export function updatePackageGroupOriginConfiguration(ctx: StandInContext, q: Params, call: IncomingCall): Reply {
  const group = groupOf(ctx, q);
  const body = jsonBody(call.body);
  const restrictions = body['restrictions'] ?? {};
  if (typeof restrictions !== 'object' || restrictions === null || Array.isArray(restrictions)) throw validation('restrictions must map restriction types to modes.');
  const changes: [OriginKind, GroupMode][] = [];
  for (const [kind, mode] of Object.entries(restrictions)) {
    if (!(ORIGIN_KINDS as readonly string[]).includes(kind) || !(MODES as readonly unknown[]).includes(mode)) {
      throw validation(`restrictions: '${kind}' must be one of ${ORIGIN_KINDS.join(', ')} and its mode one of ${MODES.join(', ')}.`);
    }
    // The root group has no parent to inherit from.
    if (mode === 'INHERIT' && group.pattern === '/*') throw validation('The root package group /* cannot inherit its origin configuration.');
    changes.push([kind as OriginKind, mode as GroupMode]);
  }
  const add = allowedRepositories(ctx, body, 'addAllowedRepositories');
  const remove = allowedRepositories(ctx, body, 'removeAllowedRepositories');
  // Everything is valid: apply.
  for (const [kind, mode] of changes) group.modes[kind] = mode;
  const updates: Record<string, { ADDED?: string[]; REMOVED?: string[] }> = {};
  for (const { repositoryName, originRestrictionType: kind } of add) {
    group.allowed[kind].add(repositoryName);
    ((updates[kind] ??= {}).ADDED ??= []).push(repositoryName);
  }
  for (const { repositoryName, originRestrictionType: kind } of remove) {
    if (group.allowed[kind].delete(repositoryName)) ((updates[kind] ??= {}).REMOVED ??= []).push(repositoryName);
  }
  return ok({ packageGroup: describeGroup(ctx, group), allowedRepositoryUpdates: updates });
}

export function listAllowedRepositoriesForGroup(ctx: StandInContext, q: Params): Reply {
  const group = groupOf(ctx, q);
  const kind = q.oneOf('originRestrictionType', ORIGIN_KINDS, true);
  const { page, nextToken } = paginate([...group.allowed[kind]].sort(), q);
  return ok({ allowedRepositories: page, nextToken });
}

export function getAssociatedPackageGroup(ctx: StandInContext, q: Params): Reply {
  checkDomain(ctx, q);
  const format = q.oneOf('format', FORMATS, true);
  const namespace = q.optional('namespace', PACKAGE_PART);
  const raw = q.required('package', PACKAGE_PART);
  // Python names are matched normalised (see the syntax page above).
  const name = format === 'pypi' ? raw.replace(/[-_.]+/g, '-').toLowerCase() : raw;
  return ok({ packageGroup: describeGroup(ctx, ctx.groups.associated(format, namespace, name)), associationType: 'STRONG' });
}
