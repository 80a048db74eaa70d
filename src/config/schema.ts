/**
 * The job-file schema. Every field carries a description that doubles as the
 * fix in error messages and as the README's reference.
 */
import { z } from 'zod';
import semver from 'semver';

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

/** Token formats that would also pass as variable names: https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/ */
const TOKEN_SHAPED = /^(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|npm_[A-Za-z0-9]{30,})$/;

const versionRange = z.string().refine((r) => semver.validRange(r) !== null, 'a semver range such as ">=1.0.0" or "1.x || 2.x"');

/** `name-glob` or `name-glob@range`, or the long form. */
const filterEntry = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), versions: versionRange.optional() }).strict(),
]);

const npmRegistrySource = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"').describe('a short, stable name for this source'),
    kind: z.literal('npm-registry'),
    enabled: z.boolean().default(true),
    url: z
      .url({ protocol: /^https?$/, error: (i) => (i.input === undefined ? undefined : 'an http:// or https:// URL such as https://npm.pkg.github.com/') })
      // the URL is recorded with every version: a password in it would end up in the state and reports
      .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), 'a URL without user:password@ in it: put the token in an environment variable and name it in tokenEnv')
      .describe('the registry URL, e.g. https://npm.pkg.github.com/'),
    tokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the NAME of an environment variable (not the token itself)')
      // GitHub (ghp_…, github_pat_…) and npm (npm_…) tokens are also valid variable names: refuse them, they are secrets
      .refine((v) => !TOKEN_SHAPED.test(v), 'the NAME of an environment variable (not the token itself): this looks like a token; revoke it and export it instead')
      .optional()
      .describe('name of the environment variable holding the read token'),
    packages: z.array(z.string().min(1)).default([]).describe('package names to migrate'),
    scopes: z
      .array(z.string().regex(/^@[a-z0-9][a-z0-9._-]*$/, 'a scope such as "@acme"'))
      .default([])
      .describe('scopes whose every package is migrated (found through the registry search API)'),
  })
  .strict()
  .refine((s) => s.packages.length > 0 || s.scopes.length > 0, { message: 'list at least one of packages or scopes', path: ['packages'] });

const gitSource = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"'),
    kind: z.literal('git'),
    enabled: z.boolean().default(true),
    url: z.string().min(1).describe('git URL, e.g. git+ssh://git@git.example.com/acme/lib.git'),
    format: z.enum(['npm', 'pypi', 'go']).describe('what the tags build into'),
    package: z.string().min(1).optional(),
    tags: z.string().optional().describe('tag pattern, e.g. "v*"'),
    sshKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the NAME of an environment variable (not the key itself)').optional(),
  })
  .strict();

export const sourceSchema = z.discriminatedUnion('kind', [npmRegistrySource, gitSource]);

const rate = z.number().positive();

export const jobSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/).optional().describe('job name; the state file is state/<name>.sqlite'),
    target: z
      .object({
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1'),
        domain: z.string().regex(/^[a-z][a-z0-9-]{1,49}$/, 'a CodeArtifact domain name (lower-case, 2-50 characters)'),
        domainOwner: z
          // YAML reads an unquoted 111122223333 as a number (and drops leading zeros)
          .string({ error: (i) => (i.input === undefined ? undefined : 'the 12-digit account id in quotes, e.g. domainOwner: "111122223333"') })
          .regex(/^\d{12}$/, 'the 12-digit AWS account id that owns the domain, quoted'),
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
        concurrency: z.number().int().min(1).max(256).default(16).describe('packages worked on at once'),
        fetchConcurrency: z.number().int().min(1).max(256).default(8).describe('downloads at once'),
        retries: z.number().int().min(0).max(50).default(8).describe('retry budget per version and step'),
        rates: z
          .object({
            publish: rate.default(10),
            getAsset: rate.default(50),
            list: rate.default(200),
            reads: rate.default(800),
            writes: rate.default(100),
          })
          .strict()
          .prefault({})
          .describe('requests per second per CodeArtifact quota'),
      })
      .strict()
      .prefault({}),
    filters: z
      .object({
        include: z.array(filterEntry).default([]),
        exclude: z.array(filterEntry).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type JobConfig = z.infer<typeof jobSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type NpmRegistrySourceConfig = Extract<SourceConfig, { kind: 'npm-registry' }>;
export type Rates = JobConfig['limits']['rates'];
