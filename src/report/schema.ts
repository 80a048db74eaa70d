/**
 * The report model, version 1: one description in zod, from which come the
 * TypeScript types (z.infer) and the JSON Schema (`reportJsonSchema()`, also
 * committed as schema.json for readers outside TypeScript; a test keeps the two
 * equal). The JSON form of every report validates against it.
 *
 * Versioning: a field is only ever added as nullable/optional within version 1;
 * renaming, removing or changing the meaning of one is schemaVersion 2.
 *
 * Sections marked "filled by others" (preflight, exposure, hardening, warm) are
 * produced by other commands and passed in; they are null when nobody did.
 */
import { z } from 'zod';
import { ITEM_STATES } from '../types.js';

export const REPORT_SCHEMA_VERSION = 1 as const;

/**
 * What the plan says will happen to a version (report kind `plan`):
 * - publish: fetched and checked at the source, absent from the target: will be published
 * - migrated: already published by an earlier run (verified, or published and to be verified)
 * - present-identical: on the target with the same bytes, put there by someone else
 * - conflict: on the target with other bytes (never overwritten), or its git tag moved
 * - excluded: left out by the job's filters (`excludedBy` names the filter)
 * - skipped: left out on purpose (a tag that is no version, a job override), with the reason
 * - removed: no longer listed by its source, nothing of it on the target
 * - source-error: the source's bytes or answer cannot be used (code and what to do)
 * - error: failed for another reason (the target, throttling, this machine): rerun
 * - unchecked: listed, not yet downloaded and compared (the dry run did not get to it, or
 *   plan --no-download); `targetStatus` names the status the target lists it with when it
 *   is already there (bytes not compared), and totals.uncheckedOnTarget counts those
 */
export const PLAN_OUTCOMES = ['publish', 'migrated', 'present-identical', 'conflict', 'excluded', 'skipped', 'removed', 'source-error', 'error', 'unchecked'] as const;
/**
 * What happened to a version (report kind `run`): `verified` (published and read
 * back), `published` (not yet verified), `present-identical`, `conflict`, `excluded`,
 * `skipped`, `removed`, `failed` (code, message, what to do), `not-done` (pending,
 * fetched or mid-publish: the run did not finish it).
 */
export const RUN_OUTCOMES = ['verified', 'published', 'present-identical', 'conflict', 'excluded', 'skipped', 'removed', 'failed', 'not-done'] as const;
export const OUTCOME_KEYS = [
  'publish',
  'migrated',
  'verified',
  'published',
  'present-identical',
  'conflict',
  'excluded',
  'skipped',
  'removed',
  'source-error',
  'error',
  'failed',
  'unchecked',
  'not-done',
] as const;

export type PlanOutcome = (typeof PLAN_OUTCOMES)[number];
export type RunOutcomeKey = (typeof RUN_OUTCOMES)[number];
export type OutcomeKey = (typeof OUTCOME_KEYS)[number];

const int = z.number().int().min(0);
const text = z.string();
const nullableText = z.string().nullable();
const sha512Hex = z.string().regex(/^[0-9a-f]{128}$/);
const hex = z.string().regex(/^[0-9a-f]+$/);

export const formatSchema = z.enum(['npm', 'pypi', 'generic']);
export const outcomeKeySchema = z.enum(OUTCOME_KEYS);

const fileSchema = z
  .object({
    name: text.describe("the asset's name on the target: package.tgz, a wheel, v1.2.0.zip"),
    size: int,
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    sha512: sha512Hex,
    sha1: z.string().regex(/^[0-9a-f]{40}$/),
    upload: z.enum(['stored', 'uploading', 'uploaded']).describe('stored: in the blob store, not uploaded; uploaded: on the target'),
  })
  .strict();

const provenanceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('registry'),
      registryUrl: text,
      artifactUrl: text.describe('the tarball URL the registry lists (without any query)'),
      publishedAt: nullableText.describe('when the source says it was published'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('git'),
      url: text,
      tag: nullableText,
      commit: nullableText.describe('the commit the tag pointed at when first listed (what is built)'),
      committedAt: nullableText,
      builtWith: z
        .record(z.string(), nullableText)
        .nullable()
        .describe('what built it, for a rebuild to check the bytes: python and the wheels\' generators, or node and npm (Go: this tool); null until built'),
    })
    .strict(),
]);

const outcomeSchema = z
  .object({
    key: outcomeKeySchema.describe('planned outcome (plan) or result (run)'),
    state: z.enum(ITEM_STATES).describe("the version's row state in the state database"),
    code: nullableText.describe('stable error code (EINTEGRITY, ECONFLICT, ...) when there is one'),
    message: nullableText,
    hint: nullableText.describe('what to do'),
    reason: nullableText.describe('why it is left out (excluded, skipped, removed), in words'),
    excludedBy: nullableText.describe('the filter that excludes it, as written in the job file'),
    ourSha512: hex.nullable(),
    targetSha512: hex.nullable().describe('conflict: what the target holds'),
    targetStatus: nullableText
      .optional()
      .describe('plan --no-download, unchecked: the status the target lists this version with (Published, Archived, Unlisted, ...), bytes not compared: it is already there, not to publish; null: not listed there, or the listing not read'),
  })
  .strict();

const versionSchema = z
  .object({
    version: text,
    source: text.describe("the source's id in the job file"),
    sourceKind: z.enum(['npm-registry', 'git', 'unknown']),
    provenance: provenanceSchema,
    size: int.nullable().describe('bytes of all its files; null when not downloaded or built yet'),
    files: z.array(fileSchema),
    declared: z
      .object({
        integrity: nullableText.describe('SRI the source declares (dist.integrity)'),
        shasum: nullableText.describe('hex SHA-1 the source declares (dist.shasum)'),
        weak: z.boolean().describe('only a SHA-1 was there to check the bytes against'),
      })
      .strict(),
    deprecated: nullableText,
    go: z
      .object({ module: text, zipH1: nullableText, modH1: nullableText })
      .strict()
      .nullable()
      .describe('Go modules: the module path and the h1: hashes go.sum will hold'),
    attempts: int,
    updatedAt: text,
    outcome: outcomeSchema,
  })
  .strict();

const countSchema = z.object({ versions: int, files: int, bytes: int }).strict();
export const outcomeCountsSchema = z.partialRecord(outcomeKeySchema, int);

const packageSchema = z
  .object({
    format: formatSchema,
    name: text,
    sources: z.array(text),
    distTags: z.record(z.string(), z.string()),
    metadata: z
      .object({ state: z.enum(['pending', 'done', 'failed']), error: nullableText })
      .strict()
      .nullable()
      .describe('dist-tags and deprecations on the target (npm): in sync (done) or not'),
    listErrors: z.array(z.object({ source: text, code: text, message: text, hint: nullableText }).strict()),
    versionCount: int,
    bytes: int,
    counts: outcomeCountsSchema,
    versions: z.array(versionSchema),
  })
  .strict();

const findingSchema = z
  .object({
    severity: z.enum(['critical', 'warning']),
    code: text,
    section: z.enum(['migration', 'metadata', 'source', 'preflight', 'exposure', 'hardening', 'warm', 'go-sum']),
    title: text,
    detail: text,
    action: text.describe('what to do'),
    count: int,
    subjects: z.array(text).describe('the first 50 package@version (or names) concerned'),
  })
  .strict();

const estimateSchema = z
  .object({
    seconds: z.number().min(0),
    bound: z.enum(['publish-rate', 'writes-rate', 'list-rate', 'reads-rate', 'transfer', 'latency', 'none']).describe('the component that dominates'),
    work: z.object({ versions: int, files: int, bytes: int, unknownSizeVersions: int }).strict(),
    components: z.array(z.object({ name: z.enum(['publish-rate', 'writes-rate', 'list-rate', 'reads-rate', 'transfer', 'latency']), seconds: z.number().min(0), detail: text }).strict()),
    assumptions: z.array(text),
  })
  .strict();

// ---- sections filled by others (input: fields with defaults may be left out) ----

export const preflightSchema = z
  .object({
    checkedAt: nullableText.default(null),
    principalArn: nullableText.default(null).describe('who the checks ran as (sts get-caller-identity)'),
    checks: z
      .array(z.object({ id: text, title: text, status: z.enum(['ok', 'warn', 'fail']), detail: text.default(''), fix: nullableText.default(null) }).strict())
      .default([]),
    findings: z
      .array(z.object({ severity: z.enum(['critical', 'warning', 'info']), message: text, fix: nullableText.default(null) }).strict())
      .default([])
      .describe('e.g. "shared repository lists store before internal"'),
  })
  .strict();

export const exposureSchema = z
  .object({
    checkedAt: nullableText.default(null),
    names: z
      .array(
        z
          .object({
            format: formatSchema,
            name: text,
            publicRegistry: text.describe('the public registry asked: https://registry.npmjs.org/, https://pypi.org/, proxy.golang.org'),
            existsPublicly: z.boolean(),
            publicVersions: int.nullable().default(null),
            latestPublic: nullableText.default(null),
            protections: z
              .array(z.object({ kind: z.enum(['origin-control', 'shared-order', 'scope', 'other']), detail: text, effective: z.boolean() }).strict())
              .default([]),
            status: z
              .enum(['protected', 'exposed', 'unclaimed', 'unknown'])
              .describe('protected: an origin control holds; exposed: on the public registry, nothing effective protecting it; unclaimed: not on the public registry today and no origin control known to hold (anyone may publish it there); unknown: could not be checked'),
            error: nullableText.default(null).describe('why the public registry could not be asked (status unknown): its answer, e.g. "HTTP 302 (a redirect to ...)"'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

const originControl = z.object({ publish: z.enum(['ALLOW', 'BLOCK']), upstream: z.enum(['ALLOW', 'BLOCK']) }).strict();
export const hardeningSchema = z
  .object({
    changes: z
      .array(
        z
          .object({
            format: formatSchema,
            namespace: nullableText.default(null),
            package: text,
            repository: text,
            before: originControl.nullable().default(null),
            after: originControl,
            status: z.enum(['planned', 'done', 'failed', 'unchanged']),
            error: nullableText.default(null),
            // added within version 1 (absent from older reports' JSON; read as null)
            code: nullableText.default(null).describe('failed: the error code; ESTOREHOLDS: a store repository already holds public versions of this internal name (its upstream is blocked; those versions must be deleted)'),
          })
          .strict(),
      )
      .default([]),
    // added within version 1 (absent from older reports' JSON; read as empty)
    groups: z
      .array(
        z
          .object({
            pattern: text.describe('the package group, one per internal npm scope: /npm/<scope>/*'),
            status: z.enum(['planned', 'done', 'failed', 'left']),
            before: nullableText.default(null).describe('its EXTERNAL_UPSTREAM as found (EXTERNAL_UPSTREAM ALLOW, INHERIT, unset); null: no such group (to be created), or not read'),
            after: nullableText.default(null).describe('what harden sets (EXTERNAL_UPSTREAM BLOCK); null for a group left as it is'),
            reason: nullableText.default(null).describe('left: why (another owner made it, with its contact; a scope no pattern can name) and what to do; failed: the error'),
          })
          .strict(),
      )
      .default([])
      .describe('package groups harden (hardening.packageGroups, --package-groups) would create or change to block external upstreams, made or changed, or leaves alone; a group already blocking is not listed'),
    kept: z
      .array(
        z
          .object({
            format: formatSchema,
            package: text,
            repository: text,
            publish: z.literal('BLOCK'),
            reason: text.describe('why nothing can be published into it (its own publish BLOCK, or its package group\'s) and who can change it'),
          })
          .strict(),
      )
      .default([])
      .describe('internal packages whose publish BLOCK harden keeps (it never loosens): protected from upstreams, but a run publishes nothing into them (EPUBLISHBLOCKED)'),
  })
  .strict();

const warmCounts = z
  .object({
    warmed: int,
    alreadyCached: int,
    blocked: int,
    missingUpstream: int,
    integrityMismatch: int,
    nonRegistry: int,
    pending: int,
    // internal names (looked up in the internal repository, never through a store), Go
    // (no store), requests that failed after their retries; absent in older reports
    internalPresent: int.default(0),
    internalMissing: int.default(0),
    noStore: int.default(0),
    failed: int.default(0),
    // not reached: the warm was stopped (interrupted, an error, killed) before it decided them; absent in older reports
    undecided: int.default(0),
  })
  .strict();
export const warmSchema = z
  .object({
    lockfiles: z
      .array(
        z
          .object({
            path: text,
            kind: text.describe('package-lock, yarn, pnpm, poetry, uv, requirements, go.sum ...'),
            repository: nullableText.default(null),
            counts: warmCounts,
            problems: z
              .array(z.object({ name: text, version: text, outcome: z.enum(['blocked', 'missing-upstream', 'integrity-mismatch', 'non-registry', 'pending', 'internal-missing', 'failed']), detail: text.default('') }).strict())
              .default([]),
            notes: z
              .array(z.object({ file: text, line: int.nullable().default(null), message: text }).strict())
              .default([])
              .describe('lines the parser left out or read with an assumption (not pinned, an unknown option or protocol, another index): nothing of them was requested'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export const goSumSchema = z
  .object({
    files: int,
    checked: int,
    mismatches: z.array(z.object({ module: text, version: text, file: text, line: int, kind: z.enum(['zip', 'go.mod']), goSum: text, built: text }).strict()),
    errors: z.array(z.object({ file: text, message: text }).strict()),
  })
  .strict();

export const reportSchema = z
  .object({
    schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
    kind: z.enum(['plan', 'run']),
    generatedAt: text,
    tool: z.object({ name: z.literal('codeartifact-migrate'), version: text }).strict(),
    job: z
      .object({
        name: text,
        file: text.describe('the job file as given on the command line'),
        // added within version 1 (absent from older reports, and from a report not made from a file)
        sha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/)
          .optional()
          .describe("SHA-256 of the job file's bytes when this report was made: a plan and a run report of one job file have the same (it holds environment variable names, never secrets)"),
      })
      .strict(),
    run: z
      .object({
        id: int,
        startedAt: text,
        endedAt: nullableText,
        dryRun: z.boolean(),
        outcome: nullableText,
        interrupted: z.boolean(),
        durationMs: int.nullable(),
        exitCode: int.nullable(),
        throttles: int.nullable(),
      })
      .strict()
      .nullable()
      .describe('the run the rows come from (the last one)'),
    target: z
      .object({
        region: text,
        domain: text,
        domainOwner: text,
        repositories: z.partialRecord(formatSchema, z.object({ internal: text, store: nullableText, shared: nullableText }).strict()),
      })
      .strict(),
    sources: z.array(z.object({ id: text, kind: z.enum(['npm-registry', 'git']), url: text, format: formatSchema, enabled: z.boolean() }).strict()),
    verdict: z
      .object({ status: z.enum(['go', 'review', 'no-go']), headline: text, critical: int, warnings: int })
      .strict()
      .describe('go: nothing blocks cutover; review: warnings to read; no-go: critical findings'),
    totals: z
      .object({
        packages: int,
        versions: int,
        files: int,
        bytes: int,
        byOutcome: z.partialRecord(outcomeKeySchema, countSchema),
        byFormat: z.partialRecord(formatSchema, countSchema.extend({ packages: int })),
        bySource: z.record(z.string(), countSchema.extend({ packages: int })),
        uncheckedOnTarget: countSchema
          .optional()
          .describe('of byOutcome.unchecked, the versions the target already lists (plan --no-download: bytes not compared, not to publish); the rest are not on the target'),
      })
      .strict(),
    estimate: estimateSchema.nullable().describe('how long the remaining publishing should take (null when nothing is left)'),
    findings: z.array(findingSchema).describe('critical first: anything that must block cutover, each with what to do'),
    packages: z.array(packageSchema),
    preflight: preflightSchema.nullable(),
    exposure: exposureSchema.nullable(),
    // added within version 1 (absent from older reports' JSON: there preflight and exposure are always the plan's own)
    auditFrom: z
      .object({
        runId: int.describe("the dry run of the plan that made them (its run #)"),
        at: text.describe('when that plan made them (ISO 8601)'),
        ageSeconds: int.nullable().describe('how old they were when this report was generated'),
        // added within version 1 (absent from older reports)
        jobFile: z
          .object({ path: text, sha256: z.string().regex(/^[0-9a-f]{64}$/) })
          .strict()
          .nullable()
          .optional()
          .describe("the job file that plan was made from (absolute path, SHA-256 of its bytes); null when that plan recorded none (an older release). A SHA-256 other than job.sha256 is the EJOBCHANGED warning"),
      })
      .strict()
      .nullable()
      .optional()
      .describe(
        "set when preflight and exposure are not this report's own but the latest plan's, carried into the report of a later run (or of a `run --dry-run`): what that plan found then, not a check made now; their findings count in the verdict. null: they are the plan's this report is of, or no plan made them (the ENOAUDIT warning)",
      ),
    hardening: hardeningSchema.nullable(),
    warm: warmSchema.nullable(),
    goSum: goSumSchema.nullable(),
  })
  .strict();

export type Report = z.infer<typeof reportSchema>;
export type ReportPackage = Report['packages'][number];
export type ReportVersion = ReportPackage['versions'][number];
export type ReportOutcome = ReportVersion['outcome'];
export type ReportFile = ReportVersion['files'][number];
export type Provenance = ReportVersion['provenance'];
export type Finding = Report['findings'][number];
export type Estimate = z.infer<typeof estimateSchema>;
export type Verdict = Report['verdict'];
export type Preflight = z.infer<typeof preflightSchema>;
export type Exposure = z.infer<typeof exposureSchema>;
export type Hardening = z.infer<typeof hardeningSchema>;
export type Warm = z.infer<typeof warmSchema>;
export type GoSumSection = z.infer<typeof goSumSchema>;
export type AuditFrom = NonNullable<Report['auditFrom']>;
/** What other commands pass in: fields with a default may be left out. */
export type PreflightInput = z.input<typeof preflightSchema>;
export type ExposureInput = z.input<typeof exposureSchema>;
export type HardeningInput = z.input<typeof hardeningSchema>;
export type WarmInput = z.input<typeof warmSchema>;
export type FindingInput = Omit<Finding, 'count' | 'subjects'> & { count?: number; subjects?: string[] };

/** The JSON Schema (draft 2020-12) of the report's JSON form. */
export function reportJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(reportSchema, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    title: 'codeartifact-migrate report, schemaVersion 1',
    ...schema,
  };
}
