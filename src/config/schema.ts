/**
 * The job-file schema. Every field carries a description that doubles as the
 * fix in error messages and as the README's reference.
 */
import { z } from 'zod';
import semver from 'semver';
import { percentDecoded } from '../net/percent.js';
import { badModulePath, isNpmName } from '../sources/bounded.js';
import { BUILD_PLACEHOLDERS, unknownPlaceholders } from '../builders/placeholders.js';

const repoName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$/, 'a CodeArtifact repository name: 2-100 letters, digits, ".", "_" or "-"');

const repositories = z
  .object({
    internal: repoName.describe('repository our own packages are published into'),
    store: repoName.optional().describe('repository proxying the public registry (warmed later)'),
    shared: repoName.optional().describe('repository builds read from (upstreams: internal, then store)'),
  })
  .strict();

/**
 * Values that would pass as variable names but are secrets: GitHub's prefixed
 * tokens (https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/),
 * npm's, GitHub's classic 40-hex tokens, and any long mixed-case-and-digit
 * string without an underscore (variable names are words; tokens are not).
 */
export function looksLikeSecret(v: string): boolean {
  if (/^(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|npm_[A-Za-z0-9]{20,})$/.test(v)) return true;
  if (/^[0-9a-f]{32,}$/i.test(v)) return true;
  return v.length >= 24 && !v.includes('_') && /[a-z]/.test(v) && /[A-Z]/.test(v) && /[0-9]/.test(v);
}

/** An environment variable's NAME, never its value. */
const envName = (what: string) =>
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the NAME of an environment variable (not the secret itself)')
    .refine((v) => !looksLikeSecret(v), `the NAME of an environment variable holding the ${what}: this looks like the secret itself; revoke it, export it in a variable and name that variable here`);

/** A URL the job may record: no user:password@, no ?query or #fragment (tokens travel there, and the URL is recorded with every version). */
const sourceUrl = (example: string) =>
  z
    .url({ protocol: /^https?$/, error: (i) => (i.input === undefined ? undefined : `an http:// or https:// URL such as ${example}`) })
    .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), 'a URL without user:password@ in it: put the token in an environment variable and name it in tokenEnv')
    .refine((u) => !URL.canParse(u) || (!new URL(u).search && !new URL(u).hash && !u.includes('?')), 'a URL without ?query or #fragment: put a token in an environment variable and name it in tokenEnv')
    // some registries take the token as a path segment (Gemfury: https://npm.fury.io/<token>/acme/), which
    // no parser sees as credentials: a segment shaped like a token is refused as a password is
    .refine((u) => !u.split(/[/?#]/).slice(3).some((segment) => looksLikeSecret(percentDecoded(segment))), 'a URL without a token in its path: put the token in an environment variable and name it in tokenEnv (it is sent as a bearer token)');

/** A public registry, asked without credentials: one in the URL (`aws:<token>@`, the pip habit) would be sent, and such a URL is no public registry. */
const publicRegistry = z
  .url({ protocol: /^https?$/ })
  .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password && !new URL(u).search), 'a public registry URL without credentials or ?query: the public registries are asked anonymously');

/**
 * Sizes: a number of bytes, or "512MB", "1GiB", "2 GB". Up to TB/TiB: limits.maxMirrorBytes goes
 * up to 1 TiB, and its error message says so in that unit, so "1TiB" must be a size too.
 */
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : undefined;
}
/** A bound of a size as a person writes it: the largest binary unit it is a whole number of (1 MiB, 5 GiB, 1 TiB), else bytes. */
function sizeText(n: number): string {
  for (const [unit, f] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (n >= f && n % f === 0) return `${n / f} ${unit}`;
  return `${n} bytes`;
}

/** A size between min and max; its errors are said under the key's path, as every other (`limits.maxMirrorBytes: a size between …`). */
const size = (min: number, max: number) =>
  // a number YAML reads as Infinity (1e400) is no z.number(): said as any other bad size, not "Invalid input"
  z.union([z.number(), z.string()], { error: `a size between ${sizeText(min)} and ${sizeText(max)}, e.g. 512MB or 1GiB` }).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `a size between ${sizeText(min)} and ${sizeText(max)}, e.g. 512MB or 1GiB` });
      return z.NEVER;
    }
    return n;
  });

/** The largest artifact CodeArtifact takes: 2 GB per npm publish request (the tarball travels as base64), 5 GB per generic asset. */
export const MAX_ARTIFACT_LIMIT = 5 * 1024 ** 3;
export const DEFAULT_MAX_ARTIFACT_BYTES = 1024 ** 3;
/**
 * The most one git mirror (a git source's, a warm repository's) may hold. The company's
 * repositories are megabytes; a bare mirror of the Linux kernel, among the largest public
 * histories, is about 5 GiB. 8 GiB takes that with room for a fetch's incoming pack, while a
 * server streaming a pack that never ends (or a repository of build outputs) is stopped long
 * before it fills the disk the state and its blobs share.
 */
export const DEFAULT_MAX_MIRROR_BYTES = 8 * 1024 ** 3;
export const MAX_MIRROR_LIMIT = 1024 ** 4;
/** The most one checkout of a tag (or a warm repository's branch) may write, a file counted as at least a 4 KiB block. */
export const DEFAULT_MAX_CHECKOUT_BYTES = 8 * 1024 ** 3;

const versionRange = z.string().refine((r) => semver.validRange(r) !== null, 'a semver range such as ">=1.0.0" or "1.x || 2.x"');

/** `name-glob` or `name-glob@range`, or the long form. */
const filterEntry = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), versions: versionRange.optional() }).strict(),
]);

/**
 * A name the job gives a package by: one no registry can hold would be asked of the source (or
 * built, then refused by the target) in every run, a list error each time, never a word at load.
 * `name@range` is the filters' shorthand, a habit from `npm install`: told where the range goes.
 */
function npmNameProblem(name: string): string | undefined {
  if (isNpmName(name)) return undefined;
  const ranged = /^(@[^/@]+\/)?[^@]+(?=@)/.exec(name)?.[0];
  if (ranged && isNpmName(ranged)) return `a package name without a version: "${ranged}" (a version range goes in filters, e.g. filters: { include: [${JSON.stringify(name)}] })`;
  return 'an npm package name such as "@acme/core" or "left-pad" (no spaces; "/" only after an @scope)';
}
const npmPackageName = z.string().superRefine((name, ctx) => {
  const problem = npmNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** PEP 508 names: https://peps.python.org/pep-0508/#names */
const PYPI_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** Why a git source's `package` cannot name a package of its format (undefined: it can). */
function packageProblem(format: 'npm' | 'pypi' | 'go', name: string): string | undefined {
  switch (format) {
    case 'npm':
      return npmNameProblem(name);
    case 'pypi':
      return PYPI_NAME.test(name) ? undefined : 'a PyPI project name such as "acme-billing" (letters, digits, ".", "_" and "-", starting and ending with a letter or digit)';
    case 'go': {
      const why = badModulePath(name);
      return why === undefined ? undefined : `a Go module path such as "git.acme.example/platform/telemetry" (this one is ${why})`;
    }
    default: {
      const never: never = format;
      throw new Error(`unknown format ${JSON.stringify(never)}`);
    }
  }
}

const npmRegistrySource = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"').describe('a short, stable name for this source'),
    kind: z.literal('npm-registry'),
    enabled: z.boolean().default(true),
    url: sourceUrl('https://npm.pkg.github.com/').describe('the registry URL, e.g. https://npm.pkg.github.com/'),
    tokenEnv: envName('read token').optional().describe('name of the environment variable holding the read token'),
    tarballHosts: z
      .array(z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$/i, 'a host name, optionally with :port, e.g. pkg-npm.githubusercontent.com'))
      .default([])
      .describe('hosts besides the registry itself that may serve its tarballs (never sent the token)'),
    idleTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(120)
      .describe('a download from this source silent this long is cut off and retried; 8 in a row with no answer between: its other versions fail at once (ESOURCESILENT) until the next run'),
    packages: z.array(npmPackageName).default([]).describe('package names to migrate'),
    scopes: z
      .array(z.string().regex(/^@[a-z0-9][a-z0-9._-]*$/, 'a scope such as "@acme"'))
      .default([])
      .describe('scopes whose every package is migrated (found through the registry search API, or for GitHub Packages through GitHub\'s REST API)'),
    githubApiUrl: sourceUrl('https://api.github.com/')
      .optional()
      .describe(
        "GitHub's REST API, where the scopes' packages are listed (GET /orgs/<scope>/packages?package_type=npm, then /users/<scope>/…) instead of the search API: default https://api.github.com/ for https://npm.pkg.github.com/; GitHub Enterprise Server: https://HOST/api/v3/. Sent the token",
      ),
  })
  .strict()
  .refine((s) => s.packages.length > 0 || s.scopes.length > 0, { message: 'list at least one of packages or scopes', path: ['packages'] });

/**
 * A git remote: git+ssh://, ssh:// (a login, no password), https:// (no credentials at all), file://, or
 * scp-like user@host:path. Never http:// or git://: neither checks who answers nor that the pack
 * came unchanged, and whatever anyone on the way served would be built, published and recorded
 * under the job's URL. (Nor may an https server redirect git there: sources/git-access.ts ONLY_OUR_TRANSPORTS.)
 */
const gitUrl = z
  .string()
  .min(1)
  .refine((u) => !/^(http|git):\/\//i.test(u), 'a git URL over ssh or https: http:// and git:// are neither authenticated nor protected (anyone on the way could change what is fetched): use git+ssh://, ssh:// or https://')
  .refine((u) => /^(http|git):\/\//i.test(u) || /^(git\+ssh|ssh|https|file):\/\//.test(u) || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/\\]/.test(u), 'a git URL such as git+ssh://git@git.example.com/acme/lib.git (or ssh://, https://, file://, user@host:path)')
  // a token as the user name (https://ghp_…@github.com/) is as much a secret as a password, and a
  // URL is recorded (state, ledger, reports): https carries no user at all, ssh a login (git@) only
  .refine((u) => {
    const m = /^([a-z+]+):\/\/([^/]*)@/i.exec(u);
    return !m || (!/^https?$/i.test(m[1]!) && !m[2]!.includes(':'));
  }, 'a URL without credentials in it (no user or token in an https URL, no password in any): use ssh keys (sshKeyEnv), or for https a git credential helper')
  .refine((u) => !u.includes('?') && !u.includes('#'), 'a URL without ?query or #fragment: name the tags with `tags`');

/**
 * A branch of a warm repository: a name `git check-ref-format --branch` takes. Anything else is
 * no branch, and some of it git reads as another revision (`main~1` is main's parent, `HEAD@{1}`
 * where HEAD was): the lockfiles of a commit that is no branch's, named as if it were.
 */
const branchName = z
  .string()
  .min(1)
  .refine(
    (b) => !/[\x00-\x20\x7f~^:?*[\\]|\.\.|@\{|\/\/|\/\.|^[-/.]|[/.]$|\.lock$|\.lock\//.test(b) && b !== '@',
    'a branch name as git allows one, such as main or release/2026 (no spaces, ~ ^ : ? * [ \\, `..`, `@{`, leading -, or trailing / . .lock)',
  );

/** How long a git clone or fetch may receive nothing (a git source's, a warm repository's); `others` are what goes on without it. */
const gitIdleTimeout = (others: string) =>
  z
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(600)
    .describe(`a clone or fetch of the repository that receives nothing this long, or takes longer than six times this plus 1 s per 64 KiB received (a trickle), is cut off and not retried (ESOURCESILENT); the other ${others} go on`);

/** The build command: one string split on whitespace (no shell), or the arguments one by one. */
const buildCommand = z.union([z.string().min(1), z.array(z.string()).min(1)]);

const versionOverride = z
  .object({
    skip: z.union([z.literal(true), z.string().min(1)]).optional().describe('leave this version out, with the reason'),
    commit: z.string().regex(/^[0-9a-f]{40}$/, 'a full 40-hex commit SHA').optional().describe('the commit accepted for this tag (after it moved)'),
    command: buildCommand.optional().describe('another build command for this version only'),
  })
  .strict();

const gitSource = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"'),
    kind: z.literal('git'),
    enabled: z.boolean().default(true),
    url: gitUrl.describe('git URL, e.g. git+ssh://git@git.example.com/acme/lib.git'),
    format: z.enum(['npm', 'pypi', 'go']).describe('what the tags build into'),
    package: z.string().min(1).optional().describe('PyPI project name (required for pypi); npm name or Go module path (else read from package.json / go.mod at each tag)'),
    tags: z
      .string()
      .refine((t) => t.split('{version}').length === 2, 'a pattern holding {version} once, e.g. "v{version}" or "billing/v{version}"')
      .optional()
      .describe('which tags are versions (default v{version}; Go in a subdirectory: <directory>/v{version})'),
    directory: z
      .string()
      .refine((d) => d === '' || (!d.startsWith('/') && !d.endsWith('/') && !d.split('/').some((e) => e === '' || e === '.' || e === '..')), 'a relative path inside the repository such as billing or tools/cli')
      .default('')
      .describe('the package inside the repository (monorepos)'),
    sshKeyEnv: envName('ssh private key (or its path)').optional(),
    knownHostsFile: z.string().min(1).optional().describe('an ssh known_hosts file for this host (default: ssh\'s own)'),
    idleTimeoutSeconds: gitIdleTimeout('sources'),
    build: z
      .object({
        command: buildCommand.optional().describe('pypi: default "{python} -m build --no-isolation --skip-dependency-check --sdist --wheel --outdir {outdir} {srcdir}"'),
        python: z.string().min(1).optional().describe('pypi: the interpreter (default /usr/bin/python3)'),
        timeoutSeconds: z.number().int().min(10).max(24 * 3600).default(1200),
        network: z
          .boolean()
          .default(false)
          .describe("let the build command (pypi) and npm's scripts (npm rebuild, npm pack) reach the network; default false: they run with none, where namespaces allow"),
      })
      .strict()
      .prefault({}),
    versions: z.record(z.string(), versionOverride).default({}).describe('per-version overrides, by version as the tag gives it'),
  })
  .strict()
  .refine((s) => s.format !== 'pypi' || s.package !== undefined, { message: 'missing: add package (the PyPI project name the tags build)', path: ['package'] })
  .superRefine((s, ctx) => {
    const problem = s.package === undefined ? undefined : packageProblem(s.format, s.package);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['package'] });
    // a misspelt placeholder would fail every version's build (pypi), or reach the command as it is (npm)
    if (s.format === 'go') return;
    const known = BUILD_PLACEHOLDERS[s.format];
    const commands: Array<[command: string | readonly string[] | undefined, path: PropertyKey[]]> = [
      [s.build.command, ['build', 'command']],
      ...Object.entries(s.versions).map(([v, o]): [string | readonly string[] | undefined, PropertyKey[]] => [o.command, ['versions', v, 'command']]),
    ];
    for (const [command, path] of commands) {
      const unknown = command === undefined ? [] : unknownPlaceholders(command, known);
      if (unknown.length) {
        ctx.addIssue({ code: 'custom', path, message: `${unknown.map((k) => `{${k}}`).join(', ')} is no placeholder of a ${s.format} build command: they are ${known.map((k) => `{${k}}`).join(' ')}` });
      }
    }
  });

export const sourceSchema = z.discriminatedUnion('kind', [npmRegistrySource, gitSource]);

/**
 * A job's name: it names files in the state directory (`<name>.sqlite`, `<name>.lock.db`),
 * so it starts with a letter or digit (never `.` or `..`, which would put the lock outside
 * it) and fits in a file name.
 */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const JOB_NAME_RULE = 'a job name: 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit';

/**
 * The request rates (per second) a bucket may run at, from the job file or read from the
 * account's quotas: below a tenth a run would crawl (and 1000/rate overflows timers at tiny
 * values); above 10,000 no quota reaches.
 */
export const MIN_RATE = 0.1;
export const MAX_RATE = 10_000;
const rate = z.number().min(MIN_RATE, `at least ${MIN_RATE} requests per second`).max(MAX_RATE, `at most ${MAX_RATE} requests per second`);

export const jobSchema = z
  .object({
    name: z.string().regex(JOB_NAME, JOB_NAME_RULE).optional().describe('job name; the state file is state/<name>.sqlite'),
    target: z
      .object({
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1'),
        // the model's DomainName: a lower-case letter first, a letter or digit last (AWS refuses `acme-`)
        domain: z.string().regex(/^[a-z][a-z0-9-]{0,48}[a-z0-9]$/, 'a CodeArtifact domain name (2-50 lower-case letters, digits and "-", starting with a letter, not ending with "-")'),
        domainOwner: z
          // YAML reads an unquoted 111122223333 as a number (and drops leading zeros)
          .string({ error: (i) => (i.input === undefined ? undefined : 'the 12-digit account id in quotes, e.g. domainOwner: "111122223333"') })
          .regex(/^\d{12}$/, 'the 12-digit AWS account id that owns the domain, quoted'),
        idleTimeoutSeconds: z.number().int().min(1).max(3600).default(300).describe('a CodeArtifact request (API or repository endpoint) silent this long (a stuck connection) is cut off and retried; 8 in a row with no answer between stop the run (ETARGETSILENT)'),
        tokenDurationSeconds: z
          .number()
          .int()
          .refine((n) => n === 0 || (n >= 900 && n <= 43200), '0 (the role session) or 900..43200 seconds')
          .default(43200),
        repositories: z
          .object({ npm: repositories.optional(), pypi: repositories.optional(), generic: repositories.optional() })
          .strict(),
      })
      .strict(),
    sources: z.array(sourceSchema).min(1, 'list at least one source'),
    limits: z
      .object({
        concurrency: z.number().int().min(1).max(1024).optional().describe('at most this many packages at once (default: sized from the publish rate and the measured latency)'),
        publishesPerPackage: z.number().int().min(1).max(64).default(1).describe('versions of one package published at once; their requests are still sent in version order'),
        fetchConcurrency: z.number().int().min(1).max(256).default(8).describe('downloads at once'),
        retries: z.number().int().min(0).max(50).default(8).describe('retry budget per version and step'),
        maxArtifactBytes: size(1024, MAX_ARTIFACT_LIMIT)
          .default(DEFAULT_MAX_ARTIFACT_BYTES)
          .describe('largest artifact downloaded or built; larger ones fail with ETOOLARGE'),
        maxMirrorBytes: size(1024 ** 2, MAX_MIRROR_LIMIT)
          .default(DEFAULT_MAX_MIRROR_BYTES)
          .describe('most one git mirror (a git source, a warm repository) may hold; a clone or fetch past it is stopped (ETOOLARGE) and the other sources go on'),
        maxCheckoutBytes: size(1024 ** 2, MAX_MIRROR_LIMIT)
          .default(DEFAULT_MAX_CHECKOUT_BYTES)
          .describe('most one checkout of a commit may write (every file counted as at least 4 KiB); a tree over it (a "git bomb": a small pack naming millions of files) is refused before anything is written (ETOOLARGE)'),
        stopGraceSeconds: z.number().min(0).max(600).default(10).describe('after Ctrl-C, how long in-flight requests may finish before they are cut off'),
        rates: z
          .object({
            publish: rate.optional(),
            getAsset: rate.optional(),
            list: rate.optional(),
            reads: rate.optional(),
            writes: rate.optional(),
          })
          .strict()
          .prefault({})
          .describe('requests per second per CodeArtifact quota; unset: the account\'s applied quotas (Service Quotas), else the defaults'),
      })
      .strict()
      .prefault({}),
    hardening: z
      .object({
        originControls: z.boolean().default(true).describe('before publishing, set publish ALLOW / upstream BLOCK on every internal package'),
        packageGroups: z.boolean().default(false).describe('also a package group per npm scope blocking external upstreams'),
      })
      .strict()
      .prefault({}),
    publicRegistries: z
      .object({
        npm: publicRegistry.default('https://registry.npmjs.org/'),
        pypi: publicRegistry.default('https://pypi.org/'),
        go: publicRegistry.default('https://proxy.golang.org/'),
      })
      .strict()
      .prefault({})
      .describe('where the plan asks whether internal names also exist publicly (never through a store repository)'),
    warm: z
      .object({
        lockfiles: z.array(z.string().min(1)).default([]).describe('lockfiles (paths or globs, relative to the job file) whose public entries are warmed'),
        repositories: z
          .array(
            z
              .object({
                url: gitUrl.describe('a git repository searched for lockfiles'),
                branches: z.array(branchName).default([]).describe('branches to read (default: the default branch)'),
                sshKeyEnv: envName('ssh private key (or its path)').optional(),
                knownHostsFile: z.string().min(1).optional(),
                idleTimeoutSeconds: gitIdleTimeout('lockfiles'),
              })
              .strict(),
          )
          .default([]),
        pendingTimeoutSeconds: z.number().min(0).max(3600).default(120).describe('how long to wait for the store to show a version before calling it pending'),
      })
      .strict()
      .prefault({}),
    goSum: z
      .array(z.string().min(1))
      .default([])
      .describe('go.sum files (paths or globs) whose lines for migrated modules must equal the h1 hashes of what was built'),
    filters: z
      .object({
        include: z.array(filterEntry).default([]),
        exclude: z.array(filterEntry).default([]),
        ignoreDistTags: z
          // "" too: a registry's API can hold a tag with an empty name, and this is the way to accept it
          .array(z.string())
          .default([])
          .describe('dist-tags not replicated to the target (e.g. one pointing at an excluded version)'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type JobConfig = z.infer<typeof jobSchema>;

/**
 * The store repository where an internal name of this format must be blocked too (harden, the
 * audit, warm's guard): the format's `store`; none for generic, which has no public upstream.
 */
export function storeOf(target: JobConfig['target'], format: 'npm' | 'pypi' | 'generic'): string | undefined {
  return format === 'generic' ? undefined : target.repositories[format]?.store;
}
export type SourceConfig = z.infer<typeof sourceSchema>;
export type NpmRegistrySourceConfig = Extract<SourceConfig, { kind: 'npm-registry' }>;
export type GitSourceConfig = Extract<SourceConfig, { kind: 'git' }>;
export type Rates = JobConfig['limits']['rates'];
