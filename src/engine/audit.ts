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
import type { JobConfig } from '../config/schema.js';
import { toError } from '../errors.js';
import type { ExposureInput, PreflightInput } from '../report/schema.js';
import { escapeName } from '../sources/npm-registry.js';
import type { CodeArtifact } from '../targets/codeartifact.js';
import { callerIdentity, Domain } from '../targets/domain.js';
import type { TargetFormat } from '../targets/format.js';
import { escapeModulePath } from '../builders/go-rules.js';
import { agentFor } from '../net/agents.js';
import type { Format } from '../types.js';
import http from 'node:http';
import https from 'node:https';

type Check = NonNullable<PreflightInput['checks']>[number];

/** The external connection a store repository of each format needs. */
const CONNECTION: Partial<Record<Format, string>> = { npm: 'public:npmjs', pypi: 'public:pypi' };

export async function preflightAudit(
  ca: CodeArtifact,
  config: JobConfig,
  target: (f: Format) => TargetFormat,
  packages: readonly { format: Format; name: string }[],
  env: NodeJS.ProcessEnv,
): Promise<{ preflight: PreflightInput; protectedNames: Set<string>; sharedOrderOk: boolean }> {
  let sharedOrderOk = true;
  const protectedNames = new Set<string>();
  const checks: Check[] = [];
  const findings: NonNullable<PreflightInput['findings']> = [];
  const who = await callerIdentity(config.target.region, env);
  checks.push(who.arn ? { id: 'principal', title: 'AWS principal', status: 'ok', detail: who.arn } : { id: 'principal', title: 'AWS principal', status: 'fail', detail: who.error ?? 'unknown', fix: 'check the AWS credentials (aws sts get-caller-identity)' });
  try {
    await ca.authToken();
    checks.push({ id: 'token', title: 'CodeArtifact authorization token', status: 'ok', detail: `domain ${config.target.domain} (owner ${config.target.domainOwner})` });
  } catch (e) {
    checks.push({ id: 'token', title: 'CodeArtifact authorization token', status: 'fail', detail: toError(e).message, fix: 'codeartifact:GetAuthorizationToken and sts:GetServiceBearerToken on the domain (README)' });
    return { preflight: { checkedAt: new Date().toISOString(), principalArn: who.arn ?? null, checks, findings }, protectedNames, sharedOrderOk: false };
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
        checks.push(
          has
            ? { id: `${id}-connection`, title: `${name} reaches the public registry`, status: 'ok', detail: wanted }
            : { id: `${id}-connection`, title: `${name} reaches the public registry`, status: 'fail', detail: `no external connection ${wanted}`, fix: `aws codeartifact associate-external-connection --repository ${name} --external-connection ${wanted}` },
        );
      }
      if (role === 'shared') {
        const i = info.upstreams.indexOf(repos.internal);
        const s = repos.store ? info.upstreams.indexOf(repos.store) : -1;
        if (i < 0 || (s >= 0 && s < i)) sharedOrderOk = false;
        if (i < 0) {
          checks.push({ id: `${id}-order`, title: `${name} reads the internal repository`, status: 'fail', detail: `upstreams: ${info.upstreams.join(', ') || '(none)'}`, fix: `add ${repos.internal} as the first upstream of ${name}` });
        } else if (s >= 0 && s < i) {
          checks.push({ id: `${id}-order`, title: `${name} lists internal before store`, status: 'fail', detail: `upstreams in order: ${info.upstreams.join(', ')}`, fix: `put ${repos.internal} before ${repos.store} (aws codeartifact update-repository --upstreams ...)` });
          findings.push({ severity: 'critical', message: `shared repository ${name} lists ${repos.store} before ${repos.internal}: a public package with an internal name would be served first`, fix: `reorder the upstreams of ${name}: ${repos.internal} first` });
        } else {
          checks.push({ id: `${id}-order`, title: `${name} lists internal before store`, status: 'ok', detail: `upstreams in order: ${info.upstreams.join(', ')}` });
        }
      }
    }
  }
  // each internal package: its origin configuration, or the package group that covers it
  const unprotected: string[] = [];
  const queue = new PQueue({ concurrency: 8 });
  for (const p of packages) {
    void queue.add(async () => {
      const coords = target(p.format).coordinates(p.name);
      try {
        const origin = await domain.origin(coords);
        const group = origin?.upstream === 'BLOCK' ? undefined : await domain.groupOf(coords);
        if (origin?.upstream === 'BLOCK' || group?.externalUpstream === 'BLOCK') protectedNames.add(`${p.format}:${p.name}`);
        else unprotected.push(`${p.format}:${p.name}`);
      } catch {
        unprotected.push(`${p.format}:${p.name}`);
      }
    });
  }
  await queue.onIdle();
  unprotected.sort();
  checks.push(
    unprotected.length === 0
      ? { id: 'origin-controls', title: 'internal packages blocked from upstreams', status: 'ok', detail: `${packages.length} packages: upstream BLOCK or a package group blocking external upstreams` }
      : {
          id: 'origin-controls',
          title: 'internal packages blocked from upstreams',
          status: 'warn',
          detail: `${unprotected.length} of ${packages.length} not yet: ${unprotected.slice(0, 20).join(', ')}${unprotected.length > 20 ? ', …' : ''}`,
          fix: 'cam harden (run does it before publishing unless hardening.originControls is false)',
        },
  );
  return { preflight: { checkedAt: new Date().toISOString(), principalArn: who.arn ?? null, checks, findings }, protectedNames, sharedOrderOk };
}

/** Does each internal name exist on the public registry, and what protects it? */
export async function exposure(config: JobConfig, packages: readonly { format: Format; name: string }[], protectedNames: ReadonlySet<string>, sharedOrderOk: boolean, signal?: AbortSignal): Promise<ExposureInput> {
  const names: NonNullable<ExposureInput['names']> = [];
  const queue = new PQueue({ concurrency: 8 });
  for (const p of packages) {
    void queue.add(async () => {
      const registry = p.format === 'npm' ? config.publicRegistries.npm : p.format === 'pypi' ? config.publicRegistries.pypi : config.publicRegistries.go;
      let found: { exists: boolean; versions?: number; latest?: string } | undefined;
      try {
        found = await askPublic(p.format, p.name, registry, signal);
      } catch {
        found = undefined;
      }
      const protections = [
        { kind: 'origin-control' as const, detail: protectedNames.has(`${p.format}:${p.name}`) ? 'upstream BLOCK (or a package group blocking external upstreams)' : 'none yet', effective: protectedNames.has(`${p.format}:${p.name}`) },
        { kind: 'shared-order' as const, detail: sharedOrderOk ? 'shared repositories read internal before store' : 'a shared repository reads store before internal', effective: sharedOrderOk },
      ];
      names.push({
        format: p.format,
        name: p.name,
        publicRegistry: registry,
        existsPublicly: found?.exists ?? false,
        publicVersions: found?.versions ?? null,
        latestPublic: found?.latest ?? null,
        protections,
        status: found === undefined ? 'unknown' : !found.exists || protections.some((x) => x.effective && x.kind === 'origin-control') ? 'protected' : 'exposed',
      });
    });
  }
  await queue.onIdle();
  names.sort((a, b) => a.format.localeCompare(b.format) || a.name.localeCompare(b.name));
  return { checkedAt: new Date().toISOString(), names };
}

/** One read of the public registry (no token: these are public): npm packument, PyPI simple page, Go proxy list. */
async function askPublic(format: Format, name: string, registry: string, signal?: AbortSignal): Promise<{ exists: boolean; versions?: number; latest?: string }> {
  const base = registry.endsWith('/') ? registry : `${registry}/`;
  if (format === 'npm') {
    const r = await get(`${base}${escapeName(name)}`, 'application/vnd.npm.install-v1+json', signal);
    if (r.status === 404) return { exists: false };
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    const doc = JSON.parse(r.body) as { versions?: Record<string, unknown>; 'dist-tags'?: Record<string, string> };
    return { exists: true, versions: Object.keys(doc.versions ?? {}).length, latest: doc['dist-tags']?.latest };
  }
  if (format === 'pypi') {
    const norm = name.toLowerCase().replace(/[-_.]+/g, '-');
    const r = await get(`${base}simple/${norm}/`, 'text/html', signal);
    if (r.status === 404) return { exists: false };
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    return { exists: true, versions: (r.body.match(/<a /g) ?? []).length };
  }
  const r = await get(`${base}${escapeModulePath(name)}/@v/list`, 'text/plain', signal);
  if (r.status === 404 || r.status === 410) return { exists: false };
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  const versions = r.body.split('\n').filter(Boolean);
  return { exists: versions.length > 0, versions: versions.length, latest: versions.at(-1) };
}

/** A bounded GET (a packument can be large: 20 MB at most here), through the configured proxy. */
function get(url: string, accept: string, signal?: AbortSignal): Promise<{ status: number; body: string }> {
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
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
  });
}
