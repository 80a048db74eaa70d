/**
 * Job-file validation: every bad file is refused before anything is written,
 * with exit code 2 and a message that names the file and the path inside it,
 * both through `loadJob` and through the real CLI (no sandbox needed: a bad
 * job never gets as far as a registry).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadJob } from '../src/config/load.js';
import { MigrateError } from '../src/errors.js';
import { ROOT, TSX_LOADER } from './support/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'cam-config-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// "any": the cases poke at arbitrary places of the document
type Job = Record<string, any>;

/** A valid job; each case breaks one thing. */
function validJob(): Job {
  return {
    name: 'cfg',
    target: {
      region: 'us-east-1',
      domain: 'acme',
      domainOwner: '111122223333',
      repositories: { npm: { internal: 'npm-internal', store: 'npm-store', shared: 'npm-shared' } },
    },
    sources: [
      { id: 'private-npm', kind: 'npm-registry', url: 'http://127.0.0.1:9/', tokenEnv: 'CAM_CFG_NPM_TOKEN', packages: ['@acme/core'] },
      { id: 'github', kind: 'npm-registry', url: 'https://npm.pkg.github.com/', tokenEnv: 'CAM_CFG_GH_TOKEN', packages: ['@acme/flags'] },
    ],
  };
}

let counter = 0;
/** Writes the job (an object, or raw YAML text) into its own folder; returns the file and an empty state dir. */
function writeJob(label: string, job: Job | string): { file: string; stateDir: string } {
  const caseDir = join(dir, `${++counter}-${label}`);
  mkdirSync(caseDir, { recursive: true });
  const file = join(caseDir, `${label}.yaml`);
  writeFileSync(file, typeof job === 'string' ? job : stringify(job));
  return { file, stateDir: join(caseDir, 'state') };
}

function cli(args: string[], stateDir: string, cwd: string, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('AWS_') || k.startsWith('npm_config_') || k === 'CAM_DEBUG' || k === 'CAM_STATE_DIR') continue;
    env[k] = v;
  }
  // the tokens exist, so nothing but the job file itself can be the problem
  // and a job that does get past its loading takes its locks here, not in the user's home
  Object.assign(env, { CAM_CFG_NPM_TOKEN: 'x', CAM_CFG_GH_TOKEN: 'y', AWS_EC2_METADATA_DISABLED: 'true', CAM_LOCK_DIR: join(stateDir, '..', 'locks') }, extraEnv);
  const child = spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), '--state-dir', stateDir, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
}

function loadError(file: string): MigrateError {
  try {
    loadJob(file);
  } catch (e) {
    expect(e).toBeInstanceOf(MigrateError);
    return e as MigrateError;
  }
  throw new Error(`${file} loaded, but should have been refused`);
}

const STACK_LINE = /^\s{4}at /m;

interface BadCase {
  label: string;
  job: () => Job | string;
  /** The place in the file the message must name, right after the file (`<file>: <path>` or `<file>:<line>:<col>`). */
  path: string;
  /** Text that must NOT appear anywhere in the output (e.g. a token pasted into the file). */
  secret?: string;
}

const GITHUB_TOKEN_LOOKALIKE = `ghp_${'a1B2c3D4e5'.repeat(3)}Zy9x8W`;

const cases: BadCase[] = [
  // the name names files in the state directory: `..` put the lock beside it (state/../<x>.lock.db)
  { label: 'dot-dot-name', job: () => ({ ...validJob(), name: '..' }), path: 'name' },
  { label: 'dot-name', job: () => ({ ...validJob(), name: '.' }), path: 'name' },
  { label: 'hidden-name', job: () => ({ ...validJob(), name: '.cfg' }), path: 'name' },
  { label: 'long-name', job: () => ({ ...validJob(), name: 'n'.repeat(101) }), path: 'name' },
  {
    label: 'unknown-key',
    job: () => ({ ...validJob(), limits: { concurency: 4 } }),
    path: 'limits',
  },
  {
    label: 'unknown-top-level-key',
    job: () => ({ ...validJob(), sorces: [] }),
    path: '(top level)',
  },
  {
    label: 'missing-domain-owner',
    job: () => {
      const j = validJob();
      delete j.target.domainOwner;
      return j;
    },
    path: 'target.domainOwner',
  },
  {
    label: 'unquoted-domain-owner',
    // what YAML makes of `domainOwner: 111122223333`
    job: () => stringify(validJob()).replace(/domainOwner: "111122223333"/, 'domainOwner: 111122223333'),
    path: 'target.domainOwner',
  },
  {
    label: 'short-domain-owner',
    job: () => {
      const j = validJob();
      j.target.domainOwner = '11112222';
      return j;
    },
    path: 'target.domainOwner',
  },
  {
    // the model's DomainName ([a-z][a-z0-9-]{0,48}[a-z0-9]): AWS refuses a trailing hyphen
    label: 'domain-ending-in-hyphen',
    job: () => {
      const j = validJob();
      j.target.domain = 'acme-';
      return j;
    },
    path: 'target.domain',
  },
  {
    label: 'bad-region',
    job: () => {
      const j = validJob();
      j.target.region = 'US East 1';
      return j;
    },
    path: 'target.region',
  },
  {
    label: 'non-http-url',
    job: () => {
      const j = validJob();
      j.sources[1].url = 'ftp://npm.pkg.github.com/';
      return j;
    },
    path: 'sources[1].url',
  },
  {
    label: 'password-in-url',
    job: () => {
      const j = validJob();
      j.sources[0].url = 'https://deploy:s3cr3t-pass@npm.acme.example/';
      return j;
    },
    path: 'sources[0].url',
    secret: 's3cr3t-pass',
  },
  {
    label: 'token-value-with-dash',
    job: () => {
      const j = validJob();
      j.sources[0].tokenEnv = 'npm-tok3n-value';
      return j;
    },
    path: 'sources[0].tokenEnv',
    secret: 'npm-tok3n-value',
  },
  {
    label: 'token-value-github-format',
    job: () => {
      const j = validJob();
      j.sources[1].tokenEnv = GITHUB_TOKEN_LOOKALIKE;
      return j;
    },
    path: 'sources[1].tokenEnv',
    secret: GITHUB_TOKEN_LOOKALIKE,
  },
  {
    label: 'token-in-url-query',
    job: () => {
      const j = validJob();
      j.sources[0].url = 'https://npm.acme.example/?access_token=qs-s3cret-9f8e7d';
      return j;
    },
    path: 'sources[0].url',
    secret: 'qs-s3cret-9f8e7d',
  },
  {
    label: 'token-in-url-fragment',
    job: () => {
      const j = validJob();
      j.sources[0].url = 'https://npm.acme.example/#frag-s3cret-1a2b3c';
      return j;
    },
    path: 'sources[0].url',
    secret: 'frag-s3cret-1a2b3c',
  },
  {
    // Gemfury-style: the token as a path segment, which the URL parser does not see as credentials
    label: 'token-in-url-path',
    job: () => {
      const j = validJob();
      j.sources[0].url = 'https://npm.fury.io/Xk9Pq2Lm7Rt4Vw8Yz3Bn6Cd1Fg5Hj0/acme/';
      return j;
    },
    path: 'sources[0].url',
    secret: 'Xk9Pq2Lm7Rt4Vw8Yz3Bn6Cd1Fg5Hj0',
  },
  {
    label: 'token-value-classic-40-hex',
    job: () => {
      const j = validJob();
      j.sources[1].tokenEnv = '0123456789abcdef0123456789abcdef01234567';
      return j;
    },
    path: 'sources[1].tokenEnv',
    secret: '0123456789abcdef0123456789abcdef01234567',
  },
  {
    label: 'token-value-mixed-case',
    job: () => {
      const j = validJob();
      j.sources[1].tokenEnv = 'Xk9Pq2Lm7Rt4Vw8Yz3Bn6Cd1Fg5Hj0';
      return j;
    },
    path: 'sources[1].tokenEnv',
    secret: 'Xk9Pq2Lm7Rt4Vw8Yz3Bn6Cd1Fg5Hj0',
  },
  {
    label: 'rate-too-small',
    job: () => ({ ...validJob(), limits: { rates: { publish: 1e-300 } } }),
    path: 'limits.rates.publish',
  },
  {
    label: 'rate-too-large',
    job: () => ({ ...validJob(), limits: { rates: { reads: 1e12 } } }),
    path: 'limits.rates.reads',
  },
  {
    label: 'max-artifact-size-nonsense',
    job: () => ({ ...validJob(), limits: { maxArtifactBytes: '12 bananas' } }),
    path: 'limits.maxArtifactBytes',
  },
  {
    label: 'duplicate-source-id',
    job: () => {
      const j = validJob();
      j.sources[1].id = 'private-npm';
      return j;
    },
    path: 'sources[1].id',
  },
  {
    label: 'no-packages-or-scopes',
    job: () => {
      const j = validJob();
      j.sources[0].packages = [];
      return j;
    },
    path: 'sources[0].packages',
  },
  {
    label: 'bad-filter-range',
    job: () => ({ ...validJob(), filters: { include: ['@acme/*'], exclude: ['@acme/core@>=banana'] } }),
    path: 'filters.exclude[0]',
  },
  {
    label: 'bad-filter-range-long-form',
    job: () => ({ ...validJob(), filters: { include: [{ name: '@acme/core', versions: 'one-ish' }] } }),
    path: 'filters.include[0].versions',
  },
  {
    label: 'git-source-without-its-repository',
    job: () => {
      const j = validJob();
      j.sources.push({ id: 'go-telemetry', kind: 'git', url: 'git+ssh://git@git.acme.example/platform/telemetry-go.git', format: 'go' });
      return j;
    },
    path: 'target.repositories.generic',
  },
  {
    label: 'git-pypi-without-package',
    job: () => {
      const j = validJob();
      j.target.repositories.pypi = { internal: 'pypi-internal' };
      j.sources.push({ id: 'billing', kind: 'git', url: 'git+ssh://git@git.acme.example/platform/billing.git', format: 'pypi' });
      return j;
    },
    path: 'sources[2].package',
  },
  {
    label: 'git-tag-pattern-without-version',
    job: () => {
      const j = validJob();
      j.target.repositories.generic = { internal: 'go-internal' };
      j.sources.push({ id: 'go-telemetry', kind: 'git', url: 'git+ssh://git@git.acme.example/platform/telemetry-go.git', format: 'go', tags: 'release-*' });
      return j;
    },
    path: 'sources[2].tags',
  },
  {
    label: 'git-url-with-password',
    job: () => {
      const j = validJob();
      j.target.repositories.generic = { internal: 'go-internal' };
      j.sources.push({ id: 'go-telemetry', kind: 'git', url: 'https://deploy:gitpass-s3cr3t@git.acme.example/telemetry.git', format: 'go' });
      return j;
    },
    path: 'sources[2].url',
    secret: 'gitpass-s3cr3t',
  },
  {
    label: 'git-url-with-token-as-user',
    job: () => {
      const j = validJob();
      j.target.repositories.generic = { internal: 'go-internal' };
      j.sources.push({ id: 'go-telemetry', kind: 'git', url: 'https://ghp_PLANTEDtokenAAAAAAAAAAAAAAAAAAAAAA@github.com/acme/lib.git', format: 'go' });
      return j;
    },
    path: 'sources[2].url',
    secret: 'ghp_PLANTEDtoken',
  },
  {
    label: 'git-url-with-ssh-password',
    job: () => {
      const j = validJob();
      j.target.repositories.generic = { internal: 'go-internal' };
      j.sources.push({ id: 'go-telemetry', kind: 'git', url: 'ssh://deploy:sshpass-s3cr3t@git.acme.example/lib.git', format: 'go' });
      return j;
    },
    path: 'sources[2].url',
    secret: 'sshpass-s3cr3t',
  },
  {
    label: 'git-url-with-password-holding-at',
    job: () => {
      const j = validJob();
      j.target.repositories.generic = { internal: 'go-internal' };
      j.sources.push({ id: 'go-telemetry', kind: 'git', url: 'git+ssh://deploy:pw@x-s3cr3t@git.acme.example/lib.git', format: 'go' });
      return j;
    },
    path: 'sources[2].url',
    secret: 'x-s3cr3t',
  },
  {
    label: 'public-registry-with-credentials',
    job: () => ({ ...validJob(), publicRegistries: { pypi: 'https://aws:pubreg-s3cr3t-token@pypi.corp.example/simple/' } }),
    path: 'publicRegistries.pypi',
    secret: 'pubreg-s3cr3t-token',
  },
  // package names the source could never serve: each was asked of the registry (or built and
  // refused by the target) one by one in the run, and came back as a list error, exit 1
  {
    label: 'npm-package-with-range',
    job: () => {
      const j = validJob();
      j.sources[0].packages = ['@acme/core@^1.0.0'];
      return j;
    },
    path: 'sources[0].packages[0]',
  },
  {
    label: 'npm-package-with-space',
    job: () => {
      const j = validJob();
      j.sources[0].packages = ['@acme/core', ' @acme/utils'];
      return j;
    },
    path: 'sources[0].packages[1]',
  },
  {
    label: 'git-npm-package-not-a-name',
    job: () => {
      const j = validJob();
      j.sources.push({ id: 'lib', kind: 'git', url: 'git+ssh://git@git.acme.example/lib.git', format: 'npm', package: 'acme/lib' });
      return j;
    },
    path: 'sources[2].package',
  },
  {
    label: 'git-pypi-package-not-a-name',
    job: () => {
      const j = validJob();
      j.target.repositories.pypi = { internal: 'pypi-internal' };
      j.sources.push({ id: 'billing', kind: 'git', url: 'git+ssh://git@git.acme.example/billing.git', format: 'pypi', package: 'acme billing' });
      return j;
    },
    path: 'sources[2].package',
  },
  {
    label: 'git-go-package-not-a-module-path',
    job: () => {
      const j = validJob();
      j.target.repositories.generic = { internal: 'go-internal' };
      j.sources.push({ id: 'telemetry', kind: 'git', url: 'git+ssh://git@git.acme.example/telemetry.git', format: 'go', package: 'https://git.acme.example/telemetry' });
      return j;
    },
    path: 'sources[2].package',
  },
];

describe('loadJob refuses bad job files with ECONFIG, naming the file and the path in it', () => {
  it.each(cases.map((c) => [c.label, c] as const))('%s', (label, c) => {
    const { file } = writeJob(label, c.job());
    const e = loadError(file);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toContain(file);
    expect(e.message).toContain(`${file}: ${c.path}`);
    if (c.secret) expect(e.message).not.toContain(c.secret);
  });

  it('a version range in packages is told to go to filters', () => {
    const j = validJob();
    j.sources[0].packages = ['@acme/core@^1.0.0'];
    const { file } = writeJob('package-range-hint', j);
    expect(loadError(file).message).toMatch(/sources\[0\]\.packages\[0\]: .*"@acme\/core".*filters/);
  });

  it('valid package names load: old upper-case npm names, PEP 508 names, Go module paths', () => {
    const j = validJob();
    j.sources[0].packages = ['@acme/core', 'JSONStream', 'left-pad.legacy'];
    j.target.repositories.pypi = { internal: 'pypi-internal' };
    j.target.repositories.generic = { internal: 'go-internal' };
    j.sources.push({ id: 'billing', kind: 'git', url: 'git+ssh://git@git.acme.example/billing.git', format: 'pypi', package: 'Acme_Billing.core' });
    j.sources.push({ id: 'telemetry', kind: 'git', url: 'git+ssh://git@git.acme.example/telemetry.git', format: 'go', package: 'git.acme.example/platform/telemetry/v2' });
    j.sources.push({ id: 'web', kind: 'git', url: 'git+ssh://git@git.acme.example/web.git', format: 'npm', package: '@acme/web' });
    const { file } = writeJob('good-package-names', j);
    expect(loadJob(file).config.sources).toHaveLength(5);
  });

  it('one PyPI project spelled two ways by two sources (User.Path, user_path) is ECONFIG naming both: the engine would publish it twice at once; spelled alike, it loads', () => {
    const j = validJob();
    j.target.repositories.pypi = { internal: 'pypi-internal' };
    j.sources.push({ id: 'a', kind: 'git', url: 'git+ssh://git@git.acme.example/a.git', format: 'pypi', package: 'User.Path' });
    j.sources.push({ id: 'b', kind: 'git', url: 'git+ssh://git@git.acme.example/b.git', format: 'pypi', package: 'user_path' });
    const { file } = writeJob('pypi-respelled', j);
    const e = loadError(file);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toContain(`${file}: sources[3].package: "user_path" is the PyPI project "user-path" that sources[2] spells "User.Path"`);
    j.sources[3].package = 'User.Path';
    expect(loadJob(writeJob('pypi-same-spelling', j).file).config.sources).toHaveLength(4);
  });

  it('an unquoted domainOwner (a number to YAML) is told to quote it', () => {
    const { file } = writeJob('unquoted-owner-hint', stringify(validJob()).replace(/domainOwner: "111122223333"/, 'domainOwner: 111122223333'));
    expect(loadError(file).message).toMatch(/target\.domainOwner: .*quotes/);
  });

  it('invalid YAML: the message carries file:line:col', () => {
    const { file } = writeJob('bad-yaml', 'name: cfg\ntarget:\n  region: us-east-1\n   domain: acme\n');
    const e = loadError(file);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toMatch(new RegExp(`${escapeRegExp(file)}:\\d+:\\d+`));
  });

  it('a duplicate key is a YAML error too, with its position', () => {
    const { file } = writeJob('dup-key', 'name: cfg\nname: cfg2\n');
    const e = loadError(file);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toMatch(new RegExp(`${escapeRegExp(file)}:2:\\d+`));
  });

  // yaml resolves an unknown tag to the plain text with a warning nobody saw: `tokenEnv: !env NPM_TOKEN`
  // or `url: !secret registry` (other tools' habits) loaded as if the tag were not there
  it('a tag YAML cannot resolve (!env, !secret, !!int on text) is refused with its position', () => {
    for (const [label, from, to] of [['custom-tag', 'tokenEnv: CAM_CFG_NPM_TOKEN', 'tokenEnv: !env CAM_CFG_NPM_TOKEN'], ['core-tag', 'region: us-east-1', 'region: !!int us-east-1']] as const) {
      const text = stringify(validJob()).replace(from, to);
      expect(text, label).toContain(to);
      const { file } = writeJob(label, text);
      const e = loadError(file);
      expect(e.code, label).toBe('ECONFIG');
      expect(e.message, label).toMatch(new RegExp(`^${escapeRegExp(file)}:${text.split('\n').findIndex((l) => l.includes(to)) + 1}:\\d+: .*tag`));
    }
  });

  it('a missing file is ECONFIG naming the path', () => {
    const missing = join(dir, 'no-such-job.yaml');
    const e = loadError(missing);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toContain(missing);
  });

  it('an empty file names the file', () => {
    const { file } = writeJob('empty', '');
    const e = loadError(file);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toContain(file);
  });

  it('every problem is listed, not only the first', () => {
    const j = validJob();
    j.target.region = 'nowhere';
    j.sources[0].tokenEnv = 'has-dash';
    const { file } = writeJob('two-problems', j);
    const e = loadError(file);
    expect(e.message).toContain(`${file}: target.region`);
    expect(e.message).toContain(`${file}: sources[0].tokenEnv`);
  });
});

describe('hostile job files are refused cheaply, naming the file', () => {
  it('a YAML alias bomb ("billion laughs") is ECONFIG, not an out-of-memory crash', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const { file } = writeJob('alias-bomb', `${levels.join('\n')}\nname: cfg\n`);
    const e = loadError(file);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toContain(file);
  });

  // yaml's own duplicate-key check compares every key with all before it: a 1 MB file of
  // distinct keys kept the load busy for minutes, and the message listed all 100,000 of them
  it('a file of 100,000 keys is refused as unknown keys at once, and the message lists the first ones only', () => {
    const lines = [stringify(validJob()).trimEnd()];
    for (let i = 0; i < 100_000; i++) lines.push(`k${i.toString(36)}: 0`);
    const { file } = writeJob('many-keys', `${lines.join('\n')}\n`);
    const e = loadError(file);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toContain(`${file}: (top level): unknown key(s) "k0", "k1"`);
    expect(e.message).toContain('and 99980 more');
    expect(e.message.length).toBeLessThan(4096);
  }, 20_000);

  it('a key given twice deep in a large file is named with its position', () => {
    const versions = Array.from({ length: 30_000 }, (_, i) => `      "1.0.${i}": {}`);
    const text = `${stringify({ ...validJob(), sources: [] }).replace('sources: []\n', '')}sources:\n  - id: lib\n    kind: git\n    url: file:///nowhere/lib.git\n    format: npm\n    versions:\n${versions.join('\n')}\n      "1.0.7": { skip: twice }\n`;
    const { file } = writeJob('many-versions-dup', text);
    const e = loadError(file);
    expect(e.code).toBe('ECONFIG');
    expect(e.message).toMatch(new RegExp(`^${escapeRegExp(file)}:${text.split('\n').findIndex((l) => l.includes('skip: twice')) + 1}:\\d+: not valid YAML: Map keys must be unique`));
  }, 20_000);

  it('a FIFO, a directory or a device as the job file is ECONFIG at once, never a blocking read', async () => {
    const fifo = join(dir, 'job-fifo.yaml');
    spawnSync('mkfifo', [fifo]);
    expect(loadError(fifo).code).toBe('ECONFIG');
    expect(loadError(dir).code).toBe('ECONFIG');
    expect(loadError('/dev/zero').code).toBe('ECONFIG');
    // and through the CLI: exit 2, nothing waits for a writer that never comes
    const stateDir = join(dir, 'fifo-state');
    const r = await cli(['run', fifo], stateDir, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(fifo);
    expect(existsSync(stateDir)).toBe(false);
  });

  // Windows PowerShell 5 writes UTF-16 (`Get-Content job.yaml | Out-File job2.yaml`): YAML 1.2 reads it, we read
  // its NULs as text and said "(top level): expected object, received string"
  it('a job file in UTF-16 with a byte order mark loads as its UTF-8 twin; NUL bytes without one (binary, UTF-16 unmarked) are ECONFIG saying so', () => {
    const text = stringify(validJob());
    const le = writeJob('utf16le', '').file;
    writeFileSync(le, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    const be = writeJob('utf16be', '').file;
    writeFileSync(be, Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]));
    const bom = writeJob('utf8bom', `\uFEFF${text}`).file;
    for (const file of [le, be, bom]) expect(loadJob(file).config, file).toEqual(loadJob(writeJob('utf8', text).file).config);
    for (const [label, bytes] of [['unmarked', Buffer.from(text, 'utf16le')], ['binary', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00])]] as const) {
      const { file } = writeJob(label, '');
      writeFileSync(file, bytes);
      const e = loadError(file);
      expect(e.code, label).toBe('ECONFIG');
      expect(e.message, label).toContain(file);
      expect(e.message, label).toMatch(/NUL/);
      expect(e.hint, label).toMatch(/UTF-8/);
    }
  });

  it('sizes take units: 512MB, 1GiB, or a number of bytes', () => {
    for (const [given, bytes] of [['512MB', 512e6], ['1GiB', 1024 ** 3], [4096, 4096]] as const) {
      const { file } = writeJob(`size-${String(given)}`, { ...validJob(), limits: { maxArtifactBytes: given } });
      expect(loadJob(file).config.limits.maxArtifactBytes).toBe(bytes);
    }
  });

  it('a size out of range says the range in the units people write', () => {
    const { file } = writeJob('mirror-too-small', { ...validJob(), limits: { maxMirrorBytes: 1000 } });
    expect(loadError(file).message).toContain('limits.maxMirrorBytes: a size between 1 MiB and 1 TiB');
    const { file: big } = writeJob('artifact-too-big', { ...validJob(), limits: { maxArtifactBytes: '6GiB' } });
    expect(loadError(big).message).toContain('limits.maxArtifactBytes: a size between 1 KiB and 5 GiB');
  });

  it("an empty section (limits: ~), a size YAML reads as Infinity (1e400) and a YAML merge key (<<) are each said in words, not zod's \"Invalid input\" or \"received null\"", () => {
    const base = stringify(validJob());
    const said = (label: string, tail: string) => loadError(writeJob(label, `${base}${tail}\n`).file).message;
    expect(said('limits-null', 'limits: ~')).toMatch(/: limits: empty \(~, null, or nothing after the colon\): give it a value, or remove the line/);
    expect(said('limits-bare', 'limits:')).toMatch(/: limits: empty /);
    expect(said('size-infinity', 'limits: { maxArtifactBytes: 1e400 }')).toMatch(/: limits\.maxArtifactBytes: a size between 1 KiB and 5 GiB, e\.g\. 512MB or 1GiB$/m);
    expect(said('merge-key', 'limits: { <<: { retries: 3 } }')).toContain('limits: unknown key(s) "<<": remove or correct the spelling (a YAML merge key `<<: *anchor` is not read here: write the keys out)');
  });

  it('the bound a range message names, in its unit, is a size the job file takes (1TiB)', () => {
    for (const [given, bytes] of [['1TiB', 1024 ** 4], ['1 TiB', 1024 ** 4], ['1TB', 1e12]] as const) {
      const { file } = writeJob(`mirror-${given.replace(' ', '')}`, { ...validJob(), limits: { maxMirrorBytes: given } });
      expect(loadJob(file).config.limits.maxMirrorBytes).toBe(bytes);
    }
  });
});

describe('warm.repositories[].branches', () => {
  it('a name git gives no branch (`main~1`, `main..x`, `--upload-pack=…`, `HEAD@{1}`) is ECONFIG naming the entry: never read as a revision of something else', () => {
    for (const bad of ['main~1', 'main^', 'main..x', '--upload-pack=touch /tmp/x', 'HEAD@{1}', 'a b', 'x.lock', 'a/', '/a', 'a//b', 'main:x', 'a\nb']) {
      const { file } = writeJob('branch', { ...validJob(), warm: { repositories: [{ url: 'git+ssh://git@git.acme.example/web.git', branches: ['main', bad] }] } });
      const e = loadError(file);
      expect(e.code).toBe('ECONFIG');
      expect(e.message).toMatch(/warm\.repositories\[0\]\.branches\[1\].*a branch name as git allows one/);
    }
    const { file } = writeJob('branch', { ...validJob(), warm: { repositories: [{ url: 'git+ssh://git@git.acme.example/web.git', branches: ['main', 'release/2026', 'feature/ü-1.x'] }] } });
    expect(loadJob(file).config.warm.repositories[0]!.branches).toEqual(['main', 'release/2026', 'feature/ü-1.x']);
  });
});

describe('build commands', () => {
  const pypiJob = (build: Record<string, unknown>, versions: Record<string, unknown> = {}, format = 'pypi'): Job => ({
    ...validJob(),
    target: { ...validJob().target, repositories: { npm: { internal: 'npm-internal' }, pypi: { internal: 'pypi-internal' } } },
    sources: [{ id: 'lib', kind: 'git', url: 'git+ssh://git@git.acme.example/lib.git', format, package: 'acme-lib', build, versions }],
  } as unknown as Job);

  it("a placeholder the build does not know ({sourcedir}, {ouptut}), in build.command or a version's command, is ECONFIG naming the entry when the job loads: not a failure of every version once its build runs", () => {
    const cases: Array<[string, Job, RegExp]> = [
      ['pypi build.command', pypiJob({ command: '{python} -m build --outdir {outdir} {sourcedir}' }), /sources\[0\]\.build\.command.*\{sourcedir\}/],
      ['pypi argv', pypiJob({ command: ['{python}', '-m', 'build', '--outdir={ouptut}', '{srcdir}'] }), /sources\[0\]\.build\.command.*\{ouptut\}/],
      ['pypi version command', pypiJob({}, { '1.2.0': { command: '{pyhton} -m build --outdir {outdir} {srcdir}' } }), /sources\[0\]\.versions\.1\.2\.0\.command.*\{pyhton\}/],
      // npm replaces {outdir} only: {srcdir} would reach the command as it is
      ['npm build.command', pypiJob({ command: 'npm pack --pack-destination {outdir} {srcdir}' }, {}, 'npm'), /sources\[0\]\.build\.command.*\{srcdir\}/],
    ];
    for (const [label, job, where] of cases) {
      const { file } = writeJob('placeholder', job);
      const e = loadError(file);
      expect(e.code, label).toBe('ECONFIG');
      expect(e.message, label).toMatch(where);
    }
    const { file } = writeJob('placeholder', pypiJob({ command: '{python} -m build --outdir {outdir} {srcdir}' }, { '1.2.0': { command: ['/bin/sh', '-c', 'cd {checkout} && make VERSION={version} NAME={name} OUT={outdir}'] } }));
    expect(loadJob(file).config.sources[0]).toMatchObject({ build: { command: '{python} -m build --outdir {outdir} {srcdir}' } });
  });
});

describe('build.python', () => {
  const job = (python: string): Job => ({
    ...validJob(),
    target: { ...validJob().target, repositories: { npm: { internal: 'npm-internal' }, pypi: { internal: 'pypi-internal' } } },
    sources: [{ id: 'lib', kind: 'git', url: 'git+ssh://git@git.acme.example/lib.git', format: 'pypi', package: 'acme-lib', build: { python } }],
  } as unknown as Job);
  const loaded = (python: string) => {
    const { file } = writeJob('python', job(python));
    const source = loadJob(file).config.sources[0] as { build: { python?: string } };
    return { file, python: source.build.python };
  };

  it("a relative path is relative to the job file, as knownHostsFile is: never to the tag's checkout, where the build runs (a .venv/bin/python the tag commits would be the interpreter)", () => {
    const rel = loaded('.venv/bin/python3');
    expect(rel.python).toBe(join(dirname(rel.file), '.venv/bin/python3'));
    expect(loaded('/opt/py/bin/python3').python).toBe('/opt/py/bin/python3');
    // a bare name is looked up on the build's PATH
    expect(loaded('python3.11').python).toBe('python3.11');
  });
});

describe('the shipped job files load cleanly', () => {
  it('jobs/example.yaml', () => {
    const job = loadJob(join(ROOT, 'jobs/example.yaml'));
    expect(job.name).toBe('acme-migration');
    // the mission's inventory: two Python libraries and one Go module over git+ssh
    const git = job.config.sources.filter((s) => s.kind === 'git');
    expect(git.map((s) => (s.kind === 'git' ? s.format : ''))).toEqual(['pypi', 'pypi', 'go']);
    expect(git.every((s) => s.enabled)).toBe(true);
    // no rate and no concurrency: the account's quotas and the measured round trip decide
    expect(job.config.limits.rates).toEqual({});
    expect(job.config.limits.concurrency).toBeUndefined();
    expect(job.config.goSum).toEqual(['../services/**/go.sum']);
    expect(job.config.warm.lockfiles.length).toBe(2);
    expect(job.config.warm.repositories.map((r) => r.url)).toEqual(['git+ssh://git@git.acme.example/platform/web.git']);
  });

  it('jobs/demo.yaml', () => {
    const job = loadJob(join(ROOT, 'jobs/demo.yaml'));
    expect(job.name).toBe('demo');
    expect(job.config.sources.every((s) => s.enabled)).toBe(true);
    // defaults fill in what the file leaves out
    expect(job.config.target.tokenDurationSeconds).toBe(43200);
    expect(job.config.filters).toEqual({ include: [], exclude: [], ignoreDistTags: [] });
  });

  it('the name defaults to the file base name', () => {
    const j = validJob();
    delete j.name;
    const { file } = writeJob('nameless', j);
    expect(loadJob(file).name).toBe('nameless');
  });

  it('a nameless job whose file name is no job name (`..yaml` gives "."): ECONFIG naming the file, before anything is written', () => {
    const j = validJob();
    delete j.name;
    const caseDir = join(dir, `${++counter}-derived-name`);
    mkdirSync(caseDir, { recursive: true });
    for (const base of ['..yaml', 'my job.yaml', '-x.yml']) {
      const file = join(caseDir, base);
      writeFileSync(file, stringify(j));
      const e = loadError(file);
      expect(e.message).toContain(`${file}: the job has no name`);
      expect(e.hint).toContain('name:');
    }
    expect(readdirSync(caseDir).sort()).toEqual(['-x.yml', '..yaml', 'my job.yaml']);
  });

  it('a valid filter shorthand with a range loads', () => {
    const { file } = writeJob('good-filters', { ...validJob(), filters: { include: ['@acme/*', 'left-pad@^1.0.0'], exclude: ['@acme/core@<1.0.0 || >=3'] } });
    expect(loadJob(file).config.filters.exclude).toEqual(['@acme/core@<1.0.0 || >=3']);
  });
});

describe('the CLI refuses bad job files: exit 2, file and path named, no stack trace, nothing written', () => {
  const cliCases: BadCase[] = [
    ...cases,
    { label: 'bad-yaml', job: () => 'name: cfg\ntarget:\n  region: us-east-1\n   domain: acme\n', path: ':line:col' },
    // a list as a key: an unknown key for the schema, and no warning of the YAML library on stderr (asserted below)
    { label: 'collection-key', job: () => `${stringify(validJob())}? [a, b]\n: 1\n`, path: '(top level)' },
  ];

  it.concurrent.for(cliCases)('run $label', async (c, { expect }) => {
    const { file, stateDir } = writeJob(`cli-${c.label}`, c.job());
    const r = await cli(['run', file], stateDir, join(file, '..'));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('ECONFIG');
    if (c.path === ':line:col') expect(r.stderr).toMatch(new RegExp(`${escapeRegExp(file)}:\\d+:\\d+`));
    else expect(r.stderr).toContain(`${file}: ${c.path}`);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stdout).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toMatch(/\(node:\d+\) Warning/);
    if (c.secret) {
      expect(r.stderr).not.toContain(c.secret);
      expect(r.stdout).not.toContain(c.secret);
    }
    // stdout is not a terminal: the error is also there as JSON
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ECONFIG');
    expect(existsSync(join(stateDir, 'cfg.sqlite'))).toBe(false);
    expect(existsSync(stateDir) ? readdirSync(stateDir) : []).toEqual([]);
  });

  it.concurrent('status on a bad job file exits 2 as well', async ({ expect }) => {
    const j = validJob();
    j.target.domainOwner = '1234';
    const { file, stateDir } = writeJob('cli-status-bad', j);
    const r = await cli(['status', file], stateDir, join(file, '..'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: target.domainOwner`);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(existsSync(stateDir) ? readdirSync(stateDir) : []).toEqual([]);
  });

  it.concurrent('a job file that does not exist exits 2 and names it', async ({ expect }) => {
    const stateDir = join(dir, 'missing-state');
    const missing = join(dir, 'nowhere', 'job.yaml');
    const r = await cli(['run', missing], stateDir, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(existsSync(stateDir)).toBe(false);
  });

  it.concurrent('an unknown flag exits 2 before anything is read', async ({ expect }) => {
    const { file, stateDir } = writeJob('cli-unknown-flag', validJob());
    const r = await cli(['run', '--concurency', '4', file], stateDir, join(file, '..'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--concurency');
    expect(existsSync(stateDir)).toBe(false);
  });

  it.concurrent('--concurrency outside 1..1024 (as limits.concurrency) exits 2 naming the bound, before anything is read', async ({ expect }) => {
    const { file, stateDir } = writeJob('cli-concurrency', validJob());
    for (const n of ['0', '100000', '2.5']) {
      const r = await cli(['run', file, '--concurrency', n], stateDir, join(file, '..'));
      expect(r.code, n).toBe(2);
      expect(r.stderr).toContain('expected a whole number from 1 to 1024');
    }
    expect(existsSync(stateDir)).toBe(false);
  });

  it.concurrent('a number flag given as nothing, spaces, hex or an exponent (`--pending-timeout "$UNSET"`, `0x10`) exits 2 naming the bound: never read as 0 or 16', async ({ expect }) => {
    const { file, stateDir } = writeJob('cli-number-forms', validJob());
    const cwd = join(file, '..');
    for (const [args, bound] of [
      [['warm', file, '--pending-timeout', ''], 'expected seconds from 0 to 3600'],
      [['warm', file, '--pending-timeout', ' '], 'expected seconds from 0 to 3600'],
      [['warm', file, '--pending-timeout', '0x10'], 'expected seconds from 0 to 3600'],
      [['run', file, '--concurrency', '0x10'], 'expected a whole number from 1 to 1024'],
      [['run', file, '--concurrency', '1e1'], 'expected a whole number from 1 to 1024'],
    ] as const) {
      const r = await cli([...args], stateDir, cwd);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(bound);
    }
    expect(existsSync(stateDir)).toBe(false);
  });

  it.concurrent('an empty --state-dir or --out (a variable that was not set) exits 2 before anything is read or written in the current folder', async ({ expect }) => {
    const { file, stateDir } = writeJob('cli-empty-paths', validJob());
    const cwd = join(file, '..');
    const before = readdirSync(cwd).sort();
    for (const args of [['--state-dir', '', 'run', file], ['--state-dir', ' ', 'status', file], ['plan', file, '--no-target', '--out', ''], ['report', file, '--out', ''], ['ledger', 'export', file, '--out', '']]) {
      const r = await cli(args, stateDir, cwd);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/argument '\s*' is invalid\. expected a (folder|file); an empty one would be the current folder/);
    }
    expect(readdirSync(cwd).sort()).toEqual(before);
    expect(existsSync(stateDir)).toBe(false);
  });

  it.concurrent('a token variable that is not set exits 2, naming the variable, before the state is created', async ({ expect }) => {
    const j = validJob();
    j.sources[0].tokenEnv = 'CAM_CFG_UNSET_TOKEN';
    const { file, stateDir } = writeJob('cli-unset-token', j);
    const r = await cli(['run', file], stateDir, join(file, '..'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CAM_CFG_UNSET_TOKEN');
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(existsSync(stateDir) ? readdirSync(stateDir) : []).toEqual([]);
  });

  it.concurrent("a git source's sshKeyEnv unset, or naming a key file that is not there, exits 2 naming the variable, before the state is created", async ({ expect }) => {
    for (const [label, extra] of [['unset', {}], ['missing-file', { CAM_CFG_SSH_KEY: '/nonexistent/cam-test/id_ed25519' }]] as const) {
      const base = validJob();
      const j = { ...base, target: { ...base.target, repositories: { pypi: { internal: 'pypi-internal' } } }, sources: [{ id: 'lib', kind: 'git', url: 'git+ssh://git@127.0.0.1:9/acme/lib.git', format: 'pypi', package: 'acme-lib', sshKeyEnv: 'CAM_CFG_SSH_KEY' }] };
      const { file, stateDir } = writeJob(`cli-ssh-key-${label}`, j);
      const r = await cli(['run', file], stateDir, join(file, '..'), extra);
      expect(r.code, `${label}: ${r.stderr}`).toBe(2);
      const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('ESOURCEAUTH');
      expect(error.message).toContain('CAM_CFG_SSH_KEY');
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(existsSync(stateDir) ? readdirSync(stateDir) : []).toEqual([]);
    }
  });

  // a token read from a file keeps its newline (a Kubernetes secret, `.env` with CRLF): no HTTP
  // header may carry it, so every request failed as ESOURCE, was retried, and the run exited 1
  // with a list error per package, never naming the variable
  it.concurrent('a token variable holding a line break or surrounding spaces exits 2, naming the variable and not the token, before the state is created', async ({ expect }) => {
    for (const [label, token] of [['newline', 'npm_tok3nValue\n'], ['crlf', 'npm_tok3nValue\r\n'], ['space', ' npm_tok3nValue']]) {
      // the first source alone: nothing of this test reaches for the network, even on failure
      const { file, stateDir } = writeJob(`cli-token-${label}`, { ...validJob(), sources: [validJob().sources[0]] });
      const r = await cli(['run', file], stateDir, join(file, '..'), { CAM_CFG_NPM_TOKEN: token! });
      expect(r.code, `${label}: ${r.stderr}`).toBe(2);
      const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
      expect(error.code).toBe('ESOURCEAUTH');
      expect(error.message).toContain('CAM_CFG_NPM_TOKEN');
      expect(r.stdout + r.stderr).not.toContain('tok3nValue');
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(existsSync(stateDir) ? readdirSync(stateDir) : []).toEqual([]);
    }
  });
});

describe('a usage error (a flag or argument commander refuses) where JSON is wanted', () => {
  // the exit-code table calls a bad flag ECONFIG (exit 2): a script reading `.error.code` from stdout
  // (`cam run job --json --concurrency "$N" | jq`) got an empty stdout for it, and for nothing else
  it.concurrent('with --json, or on a stdout that is no terminal: exit 2 and one JSON error document {code: ECONFIG, message, hint} on stdout, commander\'s words on stderr', async ({ expect }) => {
    const { file, stateDir } = writeJob('cli-usage-json', validJob());
    const cwd = join(file, '..');
    for (const [args, says] of [
      [['run', file, '--json', '--bogus'], /unknown option '--bogus'/],
      [['run', file, '--json', '--concurrency', '0'], /--concurrency.*'0' is invalid/],
      [['status', '--json'], /missing required argument 'job'/],
      [['plan', file, 'extra', '--json'], /too many arguments/],
      // no --json: stdout is a pipe here, so JSON is the default
      [['report', file, '--out', ''], /an empty one would be the current folder/],
      [['ledger', 'export', file, '--format', 'xml'], /jsonl or csv/],
      [['ledger', 'verify'], /missing required argument/],
      [['warm', file, '--pending-timeout', 'soon'], /expected seconds/],
      [['no-such-command', file], /unknown command 'no-such-command'/],
      // rewrite-lockfiles prints JSON only when asked: with --json, its usage error is JSON too
      [['rewrite-lockfiles', file, '--json', '--writ'], /unknown option '--writ'/],
    ] as const) {
      const r = await cli([...args], stateDir, cwd);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(says);
      let doc: { error: { code: string; message: string; hint?: string } };
      try {
        doc = JSON.parse(r.stdout) as typeof doc;
      } catch {
        throw new Error(`${args.join(' ')}: stdout is not one JSON document:\n${r.stdout}`);
      }
      expect(doc.error.code, args.join(' ')).toBe('ECONFIG');
      expect(doc.error.message, args.join(' ')).toMatch(says);
      expect(doc.error.hint, args.join(' ')).toMatch(/--help/);
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
    expect(existsSync(stateDir)).toBe(false);
  });

  it.concurrent('rewrite-lockfiles without --json (its stdout a diff for git apply) and --help keep stdout free of an error document', async ({ expect }) => {
    const { file, stateDir } = writeJob('cli-usage-diff', validJob());
    const cwd = join(file, '..');
    const bad = await cli(['rewrite-lockfiles', file, '--writ'], stateDir, cwd);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/unknown option '--writ'/);
    // a proxy variable refused before the command starts: said on stderr only, as the command says its own errors
    const proxy = await cli(['rewrite-lockfiles', file], stateDir, cwd, { HTTPS_PROXY: 'user:pw@proxy.example:8080' });
    expect(proxy.code, proxy.stderr).toBe(2);
    expect(proxy.stdout).toBe('');
    expect(proxy.stderr).toMatch(/ECONFIG.*HTTPS_PROXY/);
    const help = await cli(['run', '--help', '--json'], stateDir, cwd);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: codeartifact-migrate run/);
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
