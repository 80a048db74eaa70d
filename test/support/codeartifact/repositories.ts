/**
 * Repositories, their upstreams and external connections: the operations that set up and read a
 * domain's layout (model: botocore `codeartifact/2018-09-22/service-2.json`):
 * - CreateRepository: POST /v1/repository?domain&domain-owner&repository, body description,
 *   upstreams [{repositoryName}], tags -> {repository: RepositoryDescription};
 * - DescribeRepository: GET /v1/repository?domain&domain-owner&repository -> {repository};
 * - UpdateRepository: PUT /v1/repository?domain&domain-owner&repository, body description,
 *   upstreams (replaces the list when present) -> {repository};
 * - ListRepositoriesInDomain: POST /v1/domain/repositories?domain&domain-owner&administrator-account&
 *   repository-prefix&max-results&next-token -> {repositories: RepositorySummary[], nextToken};
 * - AssociateExternalConnection: POST /v1/repository/external-connection?domain&domain-owner&
 *   repository&external-connection -> {repository};
 * - DisassociateExternalConnection: DELETE on the same path -> {repository}.
 *
 * The order of `upstreams` is the search order; at most 10 direct upstreams
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/repo-upstream-behavior.html). "One external
 * connection is allowed per repository" (model, AssociateExternalConnection).
 * Stand-in choices where nothing is documented: a cycle of upstreams, a repository upstream of
 * itself or listed twice, and an 11th upstream are ValidationException; associating the connection
 * a repository already has is ConflictException, a second one ValidationException; repositories
 * are listed by name.
 */
import { ACCOUNT_ID, checkDomain, epochSeconds, jsonBody, ok, paginate, type Params, REPOSITORY_NAME, repositoryOf } from './api-input.js';
import { ApiError, conflict, notFound, validation } from './errors.js';
import { CONNECTION_FORMATS, isConnectionName } from './external.js';
import type { IncomingCall, Reply, StandInContext } from './route.js';
import type { RepositoryRecord, Store } from './store.js';
import type { RepositoryDefinition } from './types.js';

export const MAX_DIRECT_UPSTREAMS = 10;
const CONNECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9._\-:]{1,99}$/;

const arnOf = (ctx: StandInContext, repo: string): string => `arn:aws:codeartifact:${ctx.region}:${ctx.domainOwner}:repository/${ctx.domain}/${repo}`;

function summary(ctx: StandInContext, r: RepositoryRecord): Record<string, unknown> {
  return {
    name: r.name,
    administratorAccount: ctx.domainOwner,
    domainName: ctx.domain,
    domainOwner: ctx.domainOwner,
    arn: arnOf(ctx, r.name),
    description: r.description,
    createdTime: epochSeconds(r.createdTime),
  };
}

/** RepositoryDescription. */
export function describe(ctx: StandInContext, r: RepositoryRecord): unknown {
  return {
    ...summary(ctx, r),
    upstreams: r.upstreams.map((repositoryName) => ({ repositoryName })),
    externalConnections: r.externalConnections.map((externalConnectionName) => ({
      externalConnectionName,
      packageFormat: isConnectionName(externalConnectionName) ? CONNECTION_FORMATS[externalConnectionName] : undefined,
      status: 'Available',
    })),
  };
}

/** Throws unless `upstreams` can be `repo`'s upstream list: existing, distinct, not itself, at most 10, no cycle. */
export function checkUpstreams(store: Store, repo: string, upstreams: readonly string[]): void {
  if (upstreams.length > MAX_DIRECT_UPSTREAMS) throw validation(`A repository has at most ${MAX_DIRECT_UPSTREAMS} direct upstream repositories.`);
  if (new Set(upstreams).size !== upstreams.length) throw validation('An upstream repository is listed twice.');
  for (const u of upstreams) {
    if (u === repo) throw validation(`Repository '${repo}' cannot be its own upstream.`);
    if (!store.hasRepository(u)) throw notFound(`Upstream repository '${u}' not found.`, 'repository', u);
  }
  // A cycle: `repo` reachable from one of its new upstreams.
  const seen = new Set<string>();
  const reaches = (from: string): boolean => {
    if (from === repo) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    return (store.repository(from)?.upstreams ?? []).some(reaches);
  };
  if (upstreams.some(reaches)) throw validation(`These upstreams would make '${repo}' its own upstream through a cycle.`);
}

function upstreamsOf(body: Record<string, unknown>): string[] | undefined {
  const value = body['upstreams'];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw validation('upstreams must be a list of {repositoryName}.');
  return value.map((item: unknown) => {
    const name = (item as { repositoryName?: unknown } | null)?.repositoryName;
    if (typeof name !== 'string' || !REPOSITORY_NAME.test(name)) {
      throw validation("1 validation error detected: Value at 'upstreams.member.repositoryName' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9][A-Za-z0-9._\\-]{1,99}");
    }
    return name;
  });
}

function descriptionOf(body: Record<string, unknown>): string | undefined {
  const value = body['description'];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > 1000 || /\p{C}/u.test(value)) throw validation('description must be text of at most 1000 characters.');
  return value;
}

/**
 * Set up the repositories of StandInOptions.repositories, with the checks the API would make
 * (in the order given: an upstream must be defined before the repository naming it is set up).
 */
export function setUpRepositories(store: Store, definitions: readonly (string | RepositoryDefinition)[]): void {
  const defs = definitions.map((d) => (typeof d === 'string' ? { name: d } : d));
  for (const d of defs) {
    if (!REPOSITORY_NAME.test(d.name)) throw new Error(`stand-in: '${d.name}' is not a repository name`);
    if (store.hasRepository(d.name)) throw new Error(`stand-in: repository '${d.name}' is defined twice`);
    store.createRepository(d.name, d.description ?? '');
  }
  for (const d of defs) {
    const record = store.repository(d.name) as RepositoryRecord;
    try {
      checkUpstreams(store, d.name, d.upstreams ?? []);
    } catch (err) {
      throw new Error(`stand-in: repository '${d.name}': ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    record.upstreams = [...(d.upstreams ?? [])];
    if (d.externalConnection !== undefined) {
      if (!isConnectionName(d.externalConnection)) throw new Error(`stand-in: '${String(d.externalConnection)}' is not an external connection`);
      record.externalConnections = [d.externalConnection];
    }
  }
}

export function createRepository(ctx: StandInContext, q: Params, call: IncomingCall): Reply {
  checkDomain(ctx, q);
  const name = q.required('repository', REPOSITORY_NAME);
  const body = jsonBody(call.body);
  const description = descriptionOf(body);
  const upstreams = upstreamsOf(body) ?? [];
  if (ctx.store.hasRepository(name)) throw conflict(`Repository '${name}' already exists in domain '${ctx.domain}'.`, 'repository', name);
  checkUpstreams(ctx.store, name, upstreams);
  const record = ctx.store.createRepository(name, description ?? '');
  record.upstreams = upstreams;
  return ok({ repository: describe(ctx, record) });
}

export function describeRepository(ctx: StandInContext, q: Params): Reply {
  const repo = repositoryOf(ctx, q);
  return ok({ repository: describe(ctx, ctx.store.repository(repo) as RepositoryRecord) });
}

export function updateRepository(ctx: StandInContext, q: Params, call: IncomingCall): Reply {
  const repo = repositoryOf(ctx, q);
  const record = ctx.store.repository(repo) as RepositoryRecord;
  const body = jsonBody(call.body);
  const description = descriptionOf(body);
  const upstreams = upstreamsOf(body);
  if (upstreams !== undefined) checkUpstreams(ctx.store, repo, upstreams);
  if (description !== undefined) record.description = description;
  if (upstreams !== undefined) record.upstreams = upstreams;
  return ok({ repository: describe(ctx, record) });
}

export function listRepositoriesInDomain(ctx: StandInContext, q: Params): Reply {
  checkDomain(ctx, q);
  const administrator = q.optional('administrator-account', ACCOUNT_ID);
  const prefix = q.optional('repository-prefix', REPOSITORY_NAME);
  const names = ctx.store.repositoryNames().sort();
  const matching = names
    .map((n) => ctx.store.repository(n) as RepositoryRecord)
    .filter((r) => (administrator === undefined || administrator === ctx.domainOwner) && (prefix === undefined || r.name.startsWith(prefix)));
  const { page, nextToken } = paginate(matching, q);
  return ok({ repositories: page.map((r) => summary(ctx, r)), nextToken });
}

function connectionOf(q: Params): string {
  const name = q.required('external-connection', CONNECTION_NAME);
  if (!isConnectionName(name)) {
    throw validation(`'${name}' is not an external connection; the supported ones are ${Object.keys(CONNECTION_FORMATS).join(', ')}.`);
  }
  return name;
}

export function associateExternalConnection(ctx: StandInContext, q: Params): Reply {
  const repo = repositoryOf(ctx, q);
  const connection = connectionOf(q);
  const record = ctx.store.repository(repo) as RepositoryRecord;
  if (record.externalConnections.includes(connection)) {
    throw conflict(`Repository '${repo}' already has the external connection '${connection}'.`, 'repository', repo);
  }
  if (record.externalConnections.length > 0) {
    throw validation(`Repository '${repo}' already has an external connection (${record.externalConnections.join(', ')}); one is allowed per repository.`);
  }
  record.externalConnections = [connection];
  return ok({ repository: describe(ctx, record) });
}

export function disassociateExternalConnection(ctx: StandInContext, q: Params): Reply {
  const repo = repositoryOf(ctx, q);
  const connection = connectionOf(q);
  const record = ctx.store.repository(repo) as RepositoryRecord;
  if (!record.externalConnections.includes(connection)) {
    throw new ApiError(404, 'ResourceNotFoundException', `Repository '${repo}' has no external connection '${connection}'.`, { resourceId: connection });
  }
  record.externalConnections = record.externalConnections.filter((c) => c !== connection);
  return ok({ repository: describe(ctx, record) });
}
