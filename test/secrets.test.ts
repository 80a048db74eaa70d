/**
 * No secret ever reaches the state, the ledger, logs, summaries or reports.
 * Recognisable fake secrets are planted in every credential input a run takes
 * — source tokens, AWS keys and session token, the ssh key (given as the key
 * itself), proxy passwords, a URL with credentials, and the CodeArtifact
 * tokens the stand-in issues — and every output is scanned, as bytes, after
 * full runs of the demo's inventory (npm registries, Python and Go over
 * git+ssh) and after runs that failed on authentication.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import { rewriteJob } from './support/demo.js';
import { githubPackages, privateNpmPackages, seedGitRepositories } from './support/demo-data.js';
import { seedPackages } from './support/npm-fixtures.js';
import { filesUnder, recordIssuedTokens, ROOT, startTestEnv, type TestEnv } from './support/harness.js';

let te: TestEnv;
let job: string;
const issued: string[] = [];
const outputs: { what: string; text: string }[] = [];
/** The body lines of a key given by its path (sshKeyEnv naming a key file), which an ssh echoed. */
const echoedKeyLines: string[] = [];

const PLANTED = {
  awsSecret: 'PLANTEDawsSECRETkey0123456789abcdefXYZ',
  sessionToken: 'PLANTEDsessionTOKEN-IQoJb3JpZ2luX2VjEJr-9876',
  proxyPassword: 'PLANTEDproxyPASSWORD4242',
  wrongNpmToken: 'PLANTEDwrongNPMtoken-5f6e7d8c9b',
  urlPassword: 'PLANTEDurlPASSWORD-7777',
  // an access key id's shape (AKIA + 16), put together here so this file holds nothing a secret scanner takes for a key
  wrongAwsKey: ['AKIA', 'PLANTEDWRONGKEY1'].join(''),
};

async function cli(what: string, args: string[], extra: Record<string, string> = {}) {
  const r = await te.cli(args, extra);
  outputs.push({ what, text: r.stdout + r.stderr });
  return r;
}

beforeAll(async () => {
  te = await startTestEnv({ git: true });
  recordIssuedTokens(te.sandbox, issued);
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, privateNpmPackages());
  await seedPackages(te.sandbox.github.url, te.sandbox.github.token, githubPackages());
  await seedGitRepositories(te.sandbox);
  job = join(te.dir, 'demo.yaml');
  writeFileSync(job, rewriteJob(readFileSync(join(ROOT, 'jobs/demo.yaml'), 'utf8'), te.sandbox.descriptor).replace(/^name: demo$/m, 'name: secrets'));
  // the ssh key goes in as the key itself (a CI secret), not as a path
  te.env.CAM_DEMO_GIT_KEY = readFileSync(te.sandbox.descriptor.git!.keyPath, 'utf8');
  Object.assign(te.env, {
    AWS_SECRET_ACCESS_KEY: PLANTED.awsSecret,
    AWS_SESSION_TOKEN: PLANTED.sessionToken,
    HTTPS_PROXY: `http://planted-user:${PLANTED.proxyPassword}@127.0.0.1:9`,
    HTTP_PROXY: `http://planted-user:${PLANTED.proxyPassword}@127.0.0.1:9`,
    NO_PROXY: '127.0.0.1,localhost',
  });

  // the full inventory, through every command that writes something
  expect((await cli('run', ['run', job, '--json'])).code).toBe(0);
  await cli('rerun', ['run', job, '--json']);
  await cli('status', ['status', job, '--json']);
  await cli('plan', ['plan', job, '--json']);
  await cli('report', ['report', job]);
  await cli('harden', ['harden', job, '--dry-run']);
  await cli('ledger export', ['ledger', 'export', job, '--out', join(te.stateDir, 'ledger.jsonl')]);
  await cli('ledger csv', ['ledger', 'export', job, '--format', 'csv']);

  // and runs that fail on authentication, each its own job (its own state)
  const doc = parse(readFileSync(job, 'utf8')) as { name: string; sources: Record<string, unknown>[] };
  const variant = (name: string, change: (d: typeof doc) => void) => {
    const d = structuredClone(doc);
    d.name = name;
    change(d);
    const f = join(te.dir, `${name}.yaml`);
    writeFileSync(f, stringify(d));
    return f;
  };
  const npmOnly = (d: typeof doc) => (d.sources = d.sources.filter((s) => s.kind === 'npm-registry'));
  expect((await cli('wrong npm token', ['run', variant('badtoken', npmOnly), '--json'], { CAM_DEMO_NPM_TOKEN: PLANTED.wrongNpmToken, CAM_DEMO_GITHUB_TOKEN: PLANTED.wrongNpmToken })).code).toBe(1);
  expect((await cli('wrong AWS key', ['run', variant('badaws', npmOnly), '--json'], { AWS_ACCESS_KEY_ID: PLANTED.wrongAwsKey })).code).toBe(2);
  const stranger = readFileSync(te.sandbox.git!.server.unauthorizedKey, 'utf8');
  expect((await cli('refused ssh key', ['run', variant('badssh', (d) => (d.sources = d.sources.filter((s) => s.kind === 'git'))), '--json'], { CAM_DEMO_GIT_KEY: stranger })).code).toBe(1);
  (PLANTED as Record<string, string>).strangerKey = stranger.split('\n').find((l) => l.length > 40)!;
  // the key given by its path, and an ssh that prints what it was given before it fails (a wrapper's
  // debug output; a build reading the file where no containment is allowed): its text is the secret,
  // not only its path. Printed without its first line, as a partial echo shows it: the lines are secrets each
  const keyFile = join(te.dir, 'echoed_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cam-test-echoed', '-f', keyFile]);
  // named ssh: git passes a port to what it takes for OpenSSH by its name
  const echoing = join(te.dir, 'ssh-echoing-its-key', 'ssh');
  mkdirSync(dirname(echoing));
  writeFileSync(echoing, '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -i ] && sed 1d "$2" >&2; case "$1$2" in -oIdentityFile=*) f=${2#IdentityFile=}; f=${f#\\"}; sed 1d "${f%\\"}" >&2;; esac; shift; done\necho "echoing-ssh: Permission denied (publickey)." >&2\nexit 255\n', { mode: 0o755 });
  const gitOnly = (d: typeof doc) => (d.sources = d.sources.filter((s) => s.kind === 'git'));
  expect((await cli('ssh echoing a key file', ['run', variant('echossh', gitOnly), '--json'], { CAM_DEMO_GIT_KEY: keyFile, GIT_SSH_COMMAND: echoing })).code).toBe(1);
  // each line of its body, the short last one too (how a key shows in a partial echo)
  echoedKeyLines.push(...readFileSync(keyFile, 'utf8').split('\n').filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l)));
  expect(
    (await cli('URL with credentials', ['run', variant('badurl', (d) => ((d.sources[0] as { url: string }).url = `http://deploy:${PLANTED.urlPassword}@127.0.0.1:1/`)), '--json'])).code,
  ).toBe(2);
}, 600_000);

afterAll(async () => {
  await te?.stop();
});

describe('planted secrets', () => {
  it('appear in no file under the state directory and in no output, raw or base64', () => {
    const key = te.env.CAM_DEMO_GIT_KEY!;
    const secrets = [
      ...Object.values(PLANTED),
      te.env.CAM_DEMO_NPM_TOKEN!,
      te.env.CAM_DEMO_GITHUB_TOKEN!,
      // the private key: every line of its body
      ...key.split('\n').filter((l) => l.length > 40),
      ...echoedKeyLines,
      ...issued,
    ];
    expect(issued.length).toBeGreaterThan(0);
    const forms = secrets.flatMap((s) => [s, Buffer.from(s).toString('base64')]);
    const files = filesUnder(te.stateDir);
    expect(files.some((f) => f.endsWith('secrets.sqlite'))).toBe(true);
    expect(files.some((f) => f.includes('reports') && f.endsWith('.html'))).toBe(true);
    expect(files.some((f) => f.endsWith('ledger.jsonl'))).toBe(true);
    // no leftover key file: the key handed in as text is written for ssh only while a run lasts
    expect(files.filter((f) => /ssh-key-/.test(f))).toEqual([]);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const s of forms) expect(bytes.includes(s), `${f} holds a planted secret`).toBe(false);
    }
    expect(outputs.length).toBeGreaterThan(10);
    for (const o of outputs) for (const s of forms) expect(o.text.includes(s), `the output of "${o.what}" holds a planted secret`).toBe(false);
  });

  it('the failed runs failed for the right reason', () => {
    const text = (what: string) => outputs.find((o) => o.what === what)!.text;
    expect(text('wrong npm token')).toMatch(/ESOURCEAUTH/);
    expect(text('wrong AWS key')).toMatch(/ETARGETSETUP/);
    expect(text('refused ssh key')).toMatch(/ESOURCEAUTH/);
    // the ssh that echoes the key file ran, and its echo reached the output (masked)
    expect(text('ssh echoing a key file')).toMatch(/ESOURCEAUTH/);
    expect(text('ssh echoing a key file')).toMatch(/echoing-ssh: Permission denied/);
    expect(text('ssh echoing a key file')).toMatch(/\*\*\* \| -----END OPENSSH PRIVATE KEY----- \| echoing-ssh/);
    expect(echoedKeyLines.length).toBeGreaterThan(2);
    expect(text('URL with credentials')).toMatch(/ECONFIG/);
  });
});
