/**
 * Planted secrets, every command: secrets.test.ts covers run, status, plan,
 * report, harden and the ledger export of the demo's inventory; this file
 * covers what came after it, each command run for real as a child process:
 * `warm` (lockfiles whose registry, index and `resolved` URLs carry
 * credentials, a git repository of lockfiles read with an ssh key given as
 * its content), `rewrite-lockfiles` (the diff, --json, the files --write
 * leaves), `plan`/`report` files, `harden --json`, `ledger export` (JSONL and
 * CSV) and `ledger verify --job --download --json`, `goproxy` (its log lines
 * and every HTTP answer, error bodies included), `status`, PyPI uploads (the
 * demo's git sources), a proxy that wants a password (HTTP_PROXY with
 * user:password, every connection through it), a CodeArtifact request cut off
 * by target.idleTimeoutSeconds; and runs that fail on authentication: a wrong
 * source token, wrong AWS keys, the proxy refusing its password, an ssh key
 * the git host refuses, and job files that hold a secret (a git https URL
 * with a password, a token in a source URL's query) refused before anything.
 *
 * Every planted secret is made at run time (nothing here looks like a
 * credential to a scanner), and stdout, stderr, every file under the state
 * dir (SQLite and its WAL as bytes), the report and export files, the
 * lockfiles after --write, the goproxy log and its HTTP bodies are scanned
 * for each, raw and base64.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { rewriteJob } from './support/demo.js';
import { githubPackages, privateNpmPackages, seedGitRepositories } from './support/demo-data.js';
import { makeWheel } from './support/pypi-public.js';
import { seedPackages } from './support/npm-fixtures.js';
import { filesUnder, recordIssuedTokens, ROOT, startTestEnv, type TestEnv } from './support/harness.js';
import { publishWithDeps, sha256 } from './fixtures/warm/project.js';

/** A recognisable fake secret, different every run: `PLANTED-<what>-<random>` (hyphens and letters only: valid in userinfo and queries). */
const plant = (what: string) => ['PLANTED', what, randomBytes(6).toString('hex')].join('-');
/** An access key id's shape (AKIA + 16 upper-case letters and digits), made here so no file holds one. */
const accessKeyId = () => ['AKIA', 'PLNT', randomBytes(6).toString('hex').toUpperCase()].join('');

const S = {
  awsKeyId: accessKeyId(),
  awsSecret: plant('awsSecret'),
  sessionToken: plant('sessionToken'),
  wrongAwsKeyId: accessKeyId(),
  wrongAwsSecret: plant('wrongAwsSecret'),
  wrongNpmToken: plant('wrongNpmToken'),
  proxyPassword: plant('proxyPassword'),
  wrongProxyPassword: plant('wrongProxyPassword'),
  gitUrlPassword: plant('gitUrlPassword'),
  sourceQueryToken: plant('sourceQueryToken'),
  lockResolvedPassword: plant('lockResolvedPassword'),
  lockResolvedQuery: plant('lockResolvedQuery'),
  lockGitPassword: plant('lockGitPassword'),
  yarnResolvedPassword: plant('yarnResolvedPassword'),
  indexUrlPassword: plant('indexUrlPassword'),
  extraIndexPassword: plant('extraIndexPassword'),
  reqGitPassword: plant('reqGitPassword'),
  goproxyClientToken: plant('goproxyClientToken'),
  /** a token pasted where the NAME of its variable goes (mixed case and digits, no underscore: what looksLikeSecret catches) */
  tokenInTokenEnv: ['Planted', 'TokenEnv', randomBytes(8).toString('hex'), 'Q7'].join(''),
};
/**
 * Secrets that live on lines the rewrite changes (registry URLs it points at the shared
 * repository): after --write no lockfile may hold them. The others are on lines it leaves
 * alone (another team's index, a git dependency): the user's own bytes, kept.
 */
const REWRITTEN = [S.lockResolvedPassword, S.lockResolvedQuery, S.yarnResolvedPassword, S.indexUrlPassword];

let te: TestEnv;
let job: string;
let projects: string;
let out: string;
let proxy: AuthProxy;
const issued: string[] = [];
const outputs: { what: string; text: string; code?: number | null }[] = [];
const extraSecrets: string[] = [];

interface AuthProxy {
  url(password: string): string;
  /** Requests carried (right password) and refused (407). */
  carried: number;
  refused: number;
  stop(): Promise<void>;
}

/** A forwarding HTTP proxy on loopback that wants `user:password` (Basic), as corporate proxies do; 407 otherwise. */
async function startAuthProxy(user: string, password: string): Promise<AuthProxy> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const state = { carried: 0, refused: 0 };
  const server = http.createServer((req, res) => {
    if (req.headers['proxy-authorization'] !== expected) {
      state.refused++;
      req.resume();
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="corp"', 'content-type': 'text/plain' }).end('proxy authentication required\n');
      return;
    }
    state.carried++;
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const upstream = http.request(new URL(req.url ?? ''), { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (_req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (pw) => `http://${user}:${pw}@127.0.0.1:${port}`,
    get carried() {
      return state.carried;
    },
    get refused() {
      return state.refused;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function cli(what: string, args: string[], extra: Record<string, string> = {}) {
  const r = await te.cli(args, extra);
  outputs.push({ what, text: r.stdout + r.stderr, code: r.code });
  return r;
}

/** Another job beside the main one (a state of its own). */
function variant(name: string, change: (d: Record<string, any>) => void): string {
  const d = parse(readFileSync(job, 'utf8')) as Record<string, any>;
  d.name = name;
  change(d);
  const f = join(te.dir, `${name}.yaml`);
  writeFileSync(f, stringify(d));
  return f;
}

/** GET through the running goproxy; the body as text (error bodies too). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** `cam goproxy` as a child: wait for its URL, ask it `paths`, stop it; its stdout, stderr and every answer are outputs. */
async function goproxySession(what: string, jobFile: string, paths: string[], extra: Record<string, string> = {}) {
  const child = te.spawnCli(['goproxy', jobFile, '--port', '0', '--json'], extra);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  while (!stdout.includes('\n') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const answers: { path: string; status: number; body: string }[] = [];
  if (stdout.includes('\n')) {
    const { url } = JSON.parse(stdout.split('\n')[0]!) as { url?: string };
    for (const p of url === undefined ? [] : paths) {
      const r = await get(`${url!.replace(/\/$/, '')}${p}`, { authorization: `Bearer ${S.goproxyClientToken}`, cookie: `session=${S.goproxyClientToken}` });
      answers.push({ path: p, ...r });
    }
  }
  // a proxy that could not start exits by itself, its error said in full
  const exited = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), answers.length ? 0 : 10_000))]);
  if (!exited) child.kill('SIGTERM');
  const code = await closed;
  outputs.push({ what, text: stdout + stderr, code });
  for (const a of answers) outputs.push({ what: `${what} ${a.path.split('?')[0]} (${a.status})`, text: a.body });
  return { stdout, stderr, answers, code };
}

beforeAll(async () => {
  te = await startTestEnv({ git: true, publicRegistries: true, standIn: { accessKeyId: S.awsKeyId } });
  recordIssuedTokens(te.sandbox, issued);
  const pub = te.sandbox.publicRegistries!;
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, privateNpmPackages());
  await seedPackages(te.sandbox.github.url, te.sandbox.github.token, githubPackages());
  await seedGitRepositories(te.sandbox);
  proxy = await startAuthProxy('corp-user', S.proxyPassword);

  // ---- public packages the lockfiles pin
  const integrity: Record<string, string> = {};
  for (const n of ['pub-a', 'pub-q', 'pub-y']) integrity[n] = (await publishWithDeps(pub.npm, n, '1.0.0')).integrity;
  const wheel = await makeWheel('req-lite', '1.0.0');
  pub.pypi.addFile('req-lite', wheel.filename, wheel.bytes);

  // ---- lockfiles whose URLs carry credentials
  projects = join(te.dir, 'projects');
  const npmHost = new URL(pub.npm.url);
  const withUser = (u: URL, password: string) => `${u.protocol}//ci:${password}@${u.host}${u.pathname}`;
  mkdirSync(join(projects, 'web'), { recursive: true });
  writeFileSync(
    join(projects, 'web/package-lock.json'),
    `${JSON.stringify(
      {
        name: 'web',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'web', version: '1.0.0', dependencies: { 'pub-a': '1.0.0', 'pub-q': '1.0.0', tool: `git+https://deploy:${S.lockGitPassword}@git.example.invalid/acme/tool.git` } },
          'node_modules/pub-a': { version: '1.0.0', resolved: `${withUser(npmHost, S.lockResolvedPassword)}pub-a/-/pub-a-1.0.0.tgz`, integrity: integrity['pub-a'] },
          'node_modules/pub-q': { version: '1.0.0', resolved: `${pub.npm.url}pub-q/-/pub-q-1.0.0.tgz?token=${S.lockResolvedQuery}`, integrity: integrity['pub-q'] },
          'node_modules/tool': { version: '1.0.0', resolved: `git+https://deploy:${S.lockGitPassword}@git.example.invalid/acme/tool.git#${'a'.repeat(40)}`, license: 'MIT' },
        },
      },
      null,
      2,
    )}\n`,
  );
  mkdirSync(join(projects, 'yarn'));
  writeFileSync(
    join(projects, 'yarn/yarn.lock'),
    `# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\npub-y@^1.0.0:\n  version "1.0.0"\n  resolved "${withUser(npmHost, S.yarnResolvedPassword)}pub-y/-/pub-y-1.0.0.tgz"\n  integrity ${integrity['pub-y']}\n`,
  );
  mkdirSync(join(projects, 'py'));
  writeFileSync(
    join(projects, 'py/requirements.txt'),
    [
      `--index-url ${withUser(new URL(`${pub.pypi.url}simple/`), S.indexUrlPassword)}`,
      `--extra-index-url https://ci:${S.extraIndexPassword}@pypi.other-team.example/simple`,
      `req-lite==1.0.0 \\\n    --hash=sha256:${sha256(wheel.bytes)}`,
      `git+https://deploy:${S.reqGitPassword}@git.example.invalid/acme/pytool.git@v1#egg=pytool`,
      '',
    ].join('\n'),
  );
  // a git repository of lockfiles (no credentials in it: what it holds is the user's), read with the ssh key
  const repoDir = join(te.dir, 'lockfile-repo');
  mkdirSync(join(repoDir, 'svc'), { recursive: true });
  writeFileSync(join(repoDir, 'svc/yarn.lock'), `# yarn lockfile v1\n\n\npub-y@^1.0.0:\n  version "1.0.0"\n  resolved "${pub.npm.url}pub-y/-/pub-y-1.0.0.tgz"\n  integrity ${integrity['pub-y']}\n`);
  await te.sandbox.git!.server.createRepoFromDir('lockfiles', repoDir);

  // ---- the demo's job (npm registries; PyPI and Go from git over ssh), with the warm, on the sandbox
  job = join(te.dir, 'secrets2.yaml');
  const d = parse(rewriteJob(readFileSync(join(ROOT, 'jobs/demo.yaml'), 'utf8'), te.sandbox.descriptor)) as Record<string, any>;
  d.name = 'secrets2';
  d.target.idleTimeoutSeconds = 30;
  d.publicRegistries = { npm: pub.npm.url, pypi: pub.pypi.url, go: 'http://127.0.0.1:9/' };
  d.warm = {
    lockfiles: ['projects/web/package-lock.json', 'projects/yarn/yarn.lock', 'projects/py/requirements.txt'],
    repositories: [{ url: te.sandbox.git!.url('lockfiles'), sshKeyEnv: 'CAM_DEMO_GIT_KEY', knownHostsFile: te.sandbox.descriptor.git!.knownHostsFile }],
    pendingTimeoutSeconds: 5,
  };
  writeFileSync(job, stringify(d));

  // the ssh key goes in as the key itself; AWS credentials are planted; every connection goes through the proxy, with its password
  Object.assign(te.env, {
    CAM_DEMO_GIT_KEY: readFileSync(te.sandbox.descriptor.git!.keyPath, 'utf8'),
    AWS_ACCESS_KEY_ID: S.awsKeyId,
    AWS_SECRET_ACCESS_KEY: S.awsSecret,
    AWS_SESSION_TOKEN: S.sessionToken,
    HTTP_PROXY: proxy.url(S.proxyPassword),
    HTTPS_PROXY: proxy.url(S.proxyPassword),
    NO_PROXY: '',
    no_proxy: '',
  });
  out = join(te.dir, 'out');

  // ---- full runs, every command; the first publishes meet errors they retry past (each error kept on its row)
  for (const operation of ['npm:Publish', 'pypi:Upload', 'PublishPackageVersion']) te.sandbox.standIn.addFault({ operation, status: 500, times: 2 });
  te.sandbox.standIn.addFault({ operation: 'npm:Publish', status: 429, retryAfterSeconds: 1, times: 1 });
  expect((await cli('harden --json', ['harden', job, '--json'])).code).toBe(0);
  const run = await cli('run', ['run', job, '--json']);
  expect(run.code, run.stderr).toBe(0);
  expect(proxy.carried).toBeGreaterThan(0);
  await cli('rerun', ['run', job]);
  await cli('harden --package-groups --json', ['harden', job, '--package-groups', '--json']);
  const warm = await cli('warm --json', ['warm', job, '--json']);
  expect(JSON.parse(warm.stdout)).toHaveProperty('outcomes');
  await cli('warm again', ['warm', job]);
  await cli('rewrite-lockfiles', ['rewrite-lockfiles', job]);
  await cli('rewrite-lockfiles --json', ['rewrite-lockfiles', job, '--json']);
  expect((await cli('rewrite-lockfiles --write', ['rewrite-lockfiles', job, '--write', '--json'])).code).toBe(0);
  await cli('status', ['status', job]);
  await cli('status --json', ['status', job, '--json']);
  await cli('plan --json', ['plan', job, '--json', '--out', join(out, 'plan')]);
  // the demo's git sources build Python and npm: the plan says their builds run contained
  const planReport = JSON.parse(readFileSync(join(out, 'plan', readdirSync(join(out, 'plan')).find((f) => f.endsWith('.json'))!), 'utf8')) as { preflight: { checks: { id: string; status: string; detail: string }[] } };
  expect(planReport.preflight.checks.find((c) => c.id === 'build-containment')).toMatchObject({ status: 'ok', detail: expect.stringContaining('its code runs with no network, so it can reach no host') });
  await cli('plan --no-download', ['plan', job, '--no-download', '--out', join(out, 'plan-listing')]);
  await cli('report', ['report', job, '--out', join(out, 'report')]);
  await cli('report --json', ['report', job, '--json']);
  await cli('ledger export', ['ledger', 'export', job, '--out', join(out, 'ledger.jsonl')]);
  await cli('ledger export csv', ['ledger', 'export', job, '--format', 'csv', '--out', join(out, 'ledger.csv')]);
  await cli('ledger export stdout', ['ledger', 'export', job]);
  const verify = await cli('ledger verify --download', ['ledger', 'verify', join(out, 'ledger.jsonl'), '--job', job, '--download', '--json']);
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);

  // ---- goproxy: the module the run published, what is not there, malformed paths, a client sending its own secrets
  const mod = '/github.com/google/uuid/@v/';
  // one download CodeArtifact fails: the proxy logs it (a line on stderr) and answers an error body
  te.sandbox.standIn.addFault({ operation: 'GetPackageVersionAsset', version: 'v1.5.0', status: 500, times: 20 });
  const session = await goproxySession('goproxy', job, [`${mod}v1.5.0.zip?token=${S.goproxyClientToken}`, `${mod}list`, '/github.com/google/uuid/@latest', `${mod}v1.6.0.info`, `${mod}v1.6.0.mod`, `${mod}v1.6.0.zip`, `${mod}v9.9.9.info`, '/example.com/nothere/@v/list', '/%ff%fe/@v/list', `${mod}list?token=${S.goproxyClientToken}`]);
  expect(session.answers.find((a) => a.path.endsWith('v1.6.0.zip'))?.status).toBe(200);
  expect(session.answers.find((a) => a.path.includes('v1.5.0.zip'))?.status).toBeGreaterThanOrEqual(500);
  expect(session.stderr).toMatch(/v1\.5\.0/);

  // ---- a request CodeArtifact never answers, cut off by target.idleTimeoutSeconds
  te.sandbox.standIn.addFault({ operation: 'ListPackageVersions', status: 0, hang: true, times: 1 });
  const idle = variant('idle', (v) => {
    v.target.idleTimeoutSeconds = 1;
    v.sources = v.sources.filter((s: { id: string }) => s.id === 'private-npm');
    v.limits = { ...v.limits, retries: 0 };
  });
  await cli('idle timeout', ['run', idle, '--json']);

  // ---- runs that fail on authentication
  const npmOnly = (v: Record<string, any>) => (v.sources = v.sources.filter((s: { kind: string }) => s.kind === 'npm-registry'));
  const wrongAws = { AWS_ACCESS_KEY_ID: S.wrongAwsKeyId, AWS_SECRET_ACCESS_KEY: S.wrongAwsSecret };
  await cli('wrong npm token', ['run', variant('badtoken', npmOnly), '--json'], { CAM_DEMO_NPM_TOKEN: S.wrongNpmToken, CAM_DEMO_GITHUB_TOKEN: S.wrongNpmToken });
  await cli('wrong npm token, plan', ['plan', variant('badtokenplan', npmOnly), '--json', '--out', join(out, 'badtoken')], { CAM_DEMO_NPM_TOKEN: S.wrongNpmToken, CAM_DEMO_GITHUB_TOKEN: S.wrongNpmToken });
  await cli('wrong AWS keys, run', ['run', variant('badaws', npmOnly), '--json'], wrongAws);
  await cli('wrong AWS keys, warm', ['warm', job, '--json'], wrongAws);
  await cli('wrong AWS keys, harden', ['harden', job, '--json'], wrongAws);
  await cli('wrong AWS keys, plan', ['plan', job, '--json', '--out', join(out, 'badaws')], wrongAws);
  await cli('wrong AWS keys, ledger verify', ['ledger', 'verify', join(out, 'ledger.jsonl'), '--job', job, '--download', '--json'], wrongAws);
  await cli('wrong AWS keys, rewrite-lockfiles', ['rewrite-lockfiles', job, '--json'], wrongAws);
  await goproxySession('wrong AWS keys, goproxy', job, [`${mod}list`, `${mod}v1.6.0.zip`], wrongAws);
  const wrongProxy = { HTTP_PROXY: proxy.url(S.wrongProxyPassword), HTTPS_PROXY: proxy.url(S.wrongProxyPassword) };
  const refusedBefore = proxy.refused;
  await cli('proxy refuses its password, run', ['run', variant('badproxy', npmOnly), '--json'], wrongProxy);
  await cli('proxy refuses its password, warm', ['warm', job, '--json'], wrongProxy);
  await cli('proxy refuses its password, ledger verify', ['ledger', 'verify', join(out, 'ledger.jsonl'), '--job', job, '--download', '--json'], wrongProxy);
  await goproxySession('proxy refuses its password, goproxy', job, [`${mod}list`], wrongProxy);
  expect(proxy.refused).toBeGreaterThan(refusedBefore);
  const strangerKey = readFileSync(te.sandbox.git!.server.unauthorizedKey, 'utf8');
  extraSecrets.push(...strangerKey.split('\n').filter((l) => l.length > 40));
  const gitOnly = (v: Record<string, any>) => (v.sources = v.sources.filter((s: { kind: string }) => s.kind === 'git'));
  await cli('refused ssh key, run', ['run', variant('badssh', gitOnly), '--json'], { CAM_DEMO_GIT_KEY: strangerKey });
  await cli('refused ssh key, warm', ['warm', job, '--json'], { CAM_DEMO_GIT_KEY: strangerKey });
  // job files holding a secret: refused before anything is asked
  const gitHttps = variant('gitpassword', (v) => {
    gitOnly(v);
    v.sources[0].url = `https://deploy:${S.gitUrlPassword}@127.0.0.1:1/acme/billing.git`;
  });
  await cli('git URL with a password, run', ['run', gitHttps, '--json']);
  await cli('git URL with a password, plan', ['plan', gitHttps, '--json', '--out', join(out, 'gitpassword')]);
  await cli('warm repository URL with a password', ['warm', variant('warmpassword', (v) => (v.warm.repositories[0].url = `https://deploy:${S.gitUrlPassword}@127.0.0.1:1/acme/lockfiles.git`)), '--json']);
  const query = variant('querytoken', (v) => {
    npmOnly(v);
    v.sources[0].url = `${te.sandbox.privateNpm.url}?token=${S.sourceQueryToken}`;
  });
  await cli('token in a source URL query, run', ['run', query, '--json']);
  await cli('token in a source URL query, status', ['status', query, '--json']);
  const pasted = variant('pastedtoken', (v) => {
    npmOnly(v);
    v.sources[0].tokenEnv = S.tokenInTokenEnv;
  });
  await cli('a token where its variable name goes', ['run', pasted, '--json']);
  const pastedKey = variant('pastedkey', (v) => {
    gitOnly(v);
    v.sources[0].sshKeyEnv = te.env.CAM_DEMO_GIT_KEY;
  });
  await cli('an ssh key where its variable name goes', ['plan', pastedKey, '--json']);

  // what the state kept of the failed runs, read back
  for (const name of ['badtoken', 'badaws', 'badproxy', 'badssh', 'idle']) {
    const f = join(te.dir, `${name}.yaml`);
    await cli(`status of ${name}`, ['status', f]);
    await cli(`status --json of ${name}`, ['status', f, '--json']);
    await cli(`report of ${name}`, ['report', f, '--out', join(out, `report-${name}`)]);
  }
}, 900_000);

afterAll(async () => {
  // CAM_SECRETS_DUMP=<file>: every output, to read what a failure found
  if (process.env.CAM_SECRETS_DUMP) writeFileSync(process.env.CAM_SECRETS_DUMP, outputs.map((o) => `===== ${o.what} (exit ${o.code})\n${o.text}`).join('\n'));
  await proxy?.stop();
  await te?.stop();
});

describe('planted secrets, every command', () => {
  const secrets = () => [
    ...Object.values(S),
    ...extraSecrets,
    te.sandbox.descriptor.privateNpm.token,
    te.sandbox.descriptor.github.token,
    ...te.env.CAM_DEMO_GIT_KEY!.split('\n').filter((l) => l.length > 40),
    ...issued,
    // Basic auth as pip and twine send the CodeArtifact token
    ...issued.map((t) => `aws:${t}`),
  ];
  const forms = () => secrets().flatMap((s) => [s, Buffer.from(s).toString('base64')]);
  /** The proxy's user:password as a Proxy-Authorization header carries it. */
  const proxyBasic = () => [S.proxyPassword, S.wrongProxyPassword].map((p) => Buffer.from(`corp-user:${p}`).toString('base64'));

  it('every command ran, and the failures failed for the reason planted', () => {
    expect(issued.length).toBeGreaterThan(0);
    const code = (what: string) => outputs.find((o) => o.what === what)?.code;
    const text = (what: string) => outputs.find((o) => o.what === what)?.text ?? '';
    expect(text('wrong npm token')).toMatch(/ESOURCEAUTH/);
    expect(text('wrong AWS keys, run')).toMatch(/ETARGETSETUP/);
    expect(code('wrong AWS keys, ledger verify')).not.toBe(0);
    expect(code('proxy refuses its password, run')).not.toBe(0);
    expect(text('refused ssh key, run')).toMatch(/ESOURCEAUTH/);
    expect(text('git URL with a password, run')).toMatch(/ECONFIG/);
    expect(text('warm repository URL with a password')).toMatch(/ECONFIG/);
    expect(text('token in a source URL query, run')).toMatch(/ECONFIG/);
    expect(code('token in a source URL query, run')).toBe(2);
    expect(text('a token where its variable name goes')).toMatch(/ECONFIG/);
    expect(text('an ssh key where its variable name goes')).toMatch(/ECONFIG/);
    // the faults planted before the first run were met and retried past
    expect(te.sandbox.standIn.log.filter((e) => e.status === 500 && e.operation === 'pypi:Upload').length).toBeGreaterThan(0);
  });

  /** `<where>: <which secret>` for every planted secret found (its name, never its value). */
  const found = (where: string, bytes: string | Buffer) => {
    const names = Object.fromEntries(Object.entries(S).map(([k, v]) => [v, k]));
    return [...forms(), ...proxyBasic()].filter((s) => bytes.includes(s)).map((s) => `${where}: ${names[s] ?? names[Buffer.from(s, 'base64').toString()] ?? s.slice(0, 12)}`);
  };

  it('appear in no output of any command, raw or base64', () => {
    expect(outputs.length).toBeGreaterThan(40);
    expect(outputs.flatMap((o) => found(`the output of "${o.what}"`, o.text))).toEqual([]);
  });

  it('a diff that had to hide credentials says it will not apply as it is', () => {
    const diff = outputs.find((o) => o.what === 'rewrite-lockfiles')!.text;
    expect(diff).toContain('-      "resolved": "http://***@127.0.0.1:');
    expect(diff).toMatch(/projects\/web\/package-lock\.json: credentials in its URLs are shown as \*\*\* in the diff/);
  });

  it('appear in no file under the state dir (SQLite and WAL as bytes), the reports or the exports', () => {
    const files = [...filesUnder(te.stateDir), ...filesUnder(out)];
    expect(files.some((f) => /secrets2\.sqlite$/.test(f))).toBe(true);
    for (const ext of ['.json', '.md', '.html']) expect(files.some((f) => f.startsWith(join(out, 'plan')) && f.endsWith(ext))).toBe(true);
    expect(files.some((f) => f.endsWith('ledger.csv'))).toBe(true);
    expect(files.filter((f) => /ssh-key-/.test(f))).toEqual([]);
    expect(files.flatMap((f) => found(f, readFileSync(f)))).toEqual([]);
  });

  it('the lockfiles --write rewrote keep no credential of a URL it rewrote', () => {
    const rewritten = filesUnder(projects);
    expect(rewritten.length).toBeGreaterThan(0);
    for (const f of rewritten) {
      const text = readFileSync(f, 'utf8');
      for (const s of REWRITTEN) expect(text.includes(s), `${f} still holds a planted secret of a rewritten URL`).toBe(false);
    }
    // the rewrite did happen: the lockfiles point at the shared repositories now
    expect(readFileSync(join(projects, 'web/package-lock.json'), 'utf8')).toContain('npm-shared');
  });
});
