/**
 * The report model from a real state database, its JSON form against the JSON
 * Schema, the Markdown form's content (not its whitespace), the estimate, and
 * escaping of hostile names.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { reportCommand } from '../src/cli/plan.js';
import { readStatus } from '../src/cli/status.js';
import { clearSecrets, registerSecret } from '../src/redact.js';
import { exclusionExplainer } from '../src/report/exclusion.js';
import { esc } from '../src/report/render-html.js';
import { mdCode } from '../src/report/render-markdown.js';
import {
  buildReport,
  estimateDuration,
  PLAN_OUTCOMES,
  renderHtml,
  renderJson,
  renderJsonParts,
  renderMarkdown,
  reportInputFromState,
  reportJsonSchema,
  RUN_OUTCOMES,
  type Report,
  type ReportInput,
  type ReportVersion,
} from '../src/report/index.js';
import { StateDb } from '../src/state/db.js';
import { bigJob, makeBigState } from './fixtures/report/big.js';
import { hashes, makeRealisticState, realisticJob, type Realistic } from './fixtures/report/realistic.js';
import { manyWarm, type ManyWarm } from './fixtures/report/warm-many.js';
import { ROOT, TSX_LOADER } from './support/harness.js';

const pkgJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const schemaFile = JSON.parse(readFileSync(new URL('../src/report/schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
/** The committed JSON Schema, read back by zod's JSON Schema reader (independent of the zod objects it came from). */
const validator = z.fromJSONSchema(schemaFile as never);

let dir: string;
let fx: Realistic;
let plan: Report;
let run: Report;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-report-'));
  fx = makeRealisticState(dir);
  plan = buildReport(reportInputFromState(fx.state, fx.job, undefined, fx.options));
  run = buildReport(reportInputFromState(fx.state, fx.job, undefined, { ...fx.options, kind: 'run' }));
});

afterAll(() => {
  fx?.state.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An input cut down to some rows, with a job of only the sources those rows come from (a source of the job with no row at all was never listed). */
function jobOfItsRows(input: ReportInput): ReportInput {
  const ids = new Set(input.items.map((i) => i.source_id));
  return { ...input, job: { ...input.job, config: { ...input.job.config, sources: input.job.config.sources.filter((s) => ids.has(s.id)) } } };
}

function version(r: Report, pkg: string, v: string): ReportVersion {
  const found = r.packages.find((p) => p.name === pkg)?.versions.find((x) => x.version === v);
  if (!found) throw new Error(`${pkg}@${v} not in the report`);
  return found;
}

/**
 * A GFM table row's cells, split as the spec's reference parser (micromark) splits them: before
 * any code span is read, on every pipe not escaped by an odd number of backslashes.
 */
const cells = (line: string) => line.split(/(?<=(?:^|[^\\])(?:\\\\)*)\|/);

/** Markdown with its code spans removed: what GitHub would interpret as markup. */
const outsideCode = (md: string) => md.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, 'CODE');

describe('the model, from a real state database', () => {
  it('is a plan when the last run was a dry run, versioned, with the job, the tool and the target', () => {
    expect(plan.schemaVersion).toBe(1);
    expect(plan.kind).toBe('plan');
    expect(plan.generatedAt).toBe('2025-06-02T09:30:00.000Z');
    expect(plan.job).toEqual({ name: 'acme-migration', file: 'jobs/acme.yaml' });
    expect(plan.target).toMatchObject({ region: 'eu-west-1', domain: 'acme', domainOwner: '111122223333' });
    expect(plan.target.repositories.npm).toEqual({ internal: 'npm-internal', store: 'npm-store', shared: 'npm-shared' });
    expect(plan.target.repositories.generic).toEqual({ internal: 'go-internal', store: null, shared: null });
    expect(plan.run).toMatchObject({ id: 2, dryRun: true, outcome: 'incomplete', durationMs: 94_000, exitCode: 1 });
    expect(plan.sources.map((s) => [s.id, s.kind, s.format])).toEqual([
      ['private-npm', 'npm-registry', 'npm'],
      ['github-packages', 'npm-registry', 'npm'],
      ['py-billing', 'git', 'pypi'],
      ['go-telemetry', 'git', 'generic'],
    ]);
  });

  it("takes the tool's version from package.json unless told", () => {
    const r = buildReport(reportInputFromState(fx.state, fx.job));
    expect(r.tool).toEqual({ name: 'codeartifact-migrate', version: pkgJson.version });
  });

  it('gives every version its planned outcome, with the filter, reason, code, hint or both hashes', () => {
    expect(version(plan, '@acme/config', '3.0.0').outcome).toMatchObject({ key: 'publish', state: 'fetched', code: null });
    expect(version(plan, '@acme/logger', '1.2.0').outcome).toMatchObject({ key: 'migrated', state: 'verified' });
    expect(version(plan, '@acme/ui-kit', '1.0.0').outcome).toMatchObject({ key: 'present-identical' });
    expect(version(plan, '@acme/http-client', '0.9.1').outcome).toMatchObject({ key: 'excluded', excludedBy: 'exclude: @acme/http-client@<1.0.0' });
    expect(version(plan, '@acme/ui-kit', '0.2.0').outcome).toMatchObject({ key: 'excluded', excludedBy: 'exclude: @acme/ui-kit@0.x' });
    expect(version(plan, 'acme-billing', '0.9.0').outcome).toMatchObject({ key: 'skipped', reason: 'needs hatch-vcs' });
    expect(version(plan, 'git.acme.example/platform/telemetry-go', 'v1.4.0').outcome).toMatchObject({ key: 'removed', state: 'removed' });
    expect(version(plan, '@acme/http-client', '1.2.0').outcome).toMatchObject({
      key: 'conflict',
      code: 'ECONFLICT',
      ourSha512: hashes('@acme/http-client@1.2.0').sha512,
      targetSha512: hashes('someone else published 1.2.0').sha512,
    });
    const integrity = version(plan, '@acme/logger', '2.0.0').outcome;
    expect(integrity).toMatchObject({ key: 'source-error', code: 'EINTEGRITY', hint: 'repair the version at the source, or exclude it' });
    expect(integrity.message).toMatch(/^@acme\/logger@2\.0\.0: the bytes do not match/);
    expect(version(plan, 'acme-billing', '1.3.0').outcome).toMatchObject({ key: 'source-error', code: 'EBUILD' });
    for (const p of plan.packages) for (const v of p.versions) expect(PLAN_OUTCOMES).toContain(v.outcome.key);
  });

  it('says where each version comes from: registry and publish time, or git URL, tag, commit and commit time', () => {
    const npm = version(plan, '@acme/http-client', '1.0.0');
    expect(npm.sourceKind).toBe('npm-registry');
    expect(npm.provenance).toEqual({ kind: 'registry', registryUrl: 'https://npm.acme.example/', artifactUrl: 'https://npm.acme.example/@acme/http-client/-/http-client-1.0.0.tgz', publishedAt: expect.stringMatching(/^2019-/) });
    expect(npm.declared.integrity).toMatch(/^sha512-/);
    const py = version(plan, 'acme-billing', '1.2.0');
    expect(py.provenance).toEqual({ kind: 'git', url: 'git+ssh://git@git.acme.example/platform/billing.git', tag: 'billing/v1.2.0', commit: hashes('acme-billingbilling/v1.2.0').sha1, committedAt: expect.stringMatching(/^2021-/), builtWith: null });
    expect(py.files.map((f) => f.name)).toEqual(['acme_billing-1.2.0.tar.gz', 'acme_billing-1.2.0-py3-none-any.whl']);
    expect(py.files[1]!.sha256).toBe(hashes('wheel 1.2.0').sha256);
    expect(py.size).toBe(py.files[0]!.size + py.files[1]!.size);
    const go = version(plan, 'git.acme.example/platform/telemetry-go', 'v1.2.0');
    expect(go.files.map((f) => f.name)).toEqual(['v1.2.0.zip', 'v1.2.0.mod', 'v1.2.0.info']);
    expect(go.go).toEqual({ module: 'git.acme.example/platform/telemetry-go', zipH1: expect.stringMatching(/^h1:/), modH1: expect.stringMatching(/^h1:/) });
    expect(version(plan, '@acme/logger', '1.0.0').declared).toEqual({ integrity: null, shasum: hashes('@acme/logger@1.0.0').sha1, weak: true });
  });

  it('totals add up by outcome, format and source; a package the source could not list is there with its error', () => {
    const t = plan.totals;
    const all = plan.packages.flatMap((p) => p.versions);
    expect(t.versions).toBe(all.length);
    expect(t.versions).toBe(38);
    expect(t.bytes).toBe(all.reduce((n, v) => n + (v.size ?? 0), 0));
    expect(Object.values(t.byOutcome).reduce((n, c) => n + c.versions, 0)).toBe(t.versions);
    expect(Object.values(t.byFormat).reduce((n, c) => n + c.versions, 0)).toBe(t.versions);
    expect(Object.values(t.bySource).reduce((n, c) => n + c.bytes, 0)).toBe(t.bytes);
    expect(t.byOutcome).toMatchObject({ publish: { versions: 22 }, migrated: { versions: 4 }, conflict: { versions: 1 }, excluded: { versions: 5 }, skipped: { versions: 1 }, removed: { versions: 1 } });
    expect(t.byFormat).toMatchObject({ npm: { packages: 5, versions: 28 }, pypi: { packages: 1, versions: 5 }, generic: { packages: 1, versions: 5 } });
    expect(t.bySource['github-packages']).toMatchObject({ packages: 1, versions: 6 });
    const legacy = plan.packages.find((p) => p.name === '@acme/legacy-auth')!;
    expect(legacy.versions).toEqual([]);
    expect(legacy.listErrors).toEqual([{ source: 'private-npm', code: 'ESOURCEAUTH', message: expect.stringMatching(/^https:\/\/npm\.acme\.example\/.* answered 403/), hint: expect.stringContaining('token') }]);
  });

  it('lists what blocks cutover first, each with what to do, and the verdict follows', () => {
    const critical = plan.findings.filter((f) => f.severity === 'critical').map((f) => f.code);
    expect(new Set(critical)).toEqual(new Set(['PREFLIGHT:shared-order', 'EEXPOSED', 'ECONFLICT', 'EINTEGRITY', 'EBUILD', 'ELIST', 'EGOSUM']));
    expect(plan.findings.filter((f) => f.severity === 'warning').map((f) => f.code)).toEqual(expect.arrayContaining(['PREFLIGHT:quota', 'EWEAKINTEGRITY', 'EWARMMISSING', 'EWARMBLOCKED']));
    const firstWarning = plan.findings.findIndex((f) => f.severity === 'warning');
    expect(plan.findings.slice(firstWarning).every((f) => f.severity === 'warning')).toBe(true);
    for (const f of plan.findings) expect(f.action.length).toBeGreaterThan(5);
    expect(plan.findings.find((f) => f.code === 'ECONFLICT')!.subjects).toEqual(['@acme/http-client@1.2.0']);
    expect(plan.findings.find((f) => f.code === 'EEXPOSED')!.subjects).toEqual(['acme-billing (https://pypi.org/)']);
    expect(plan.verdict).toMatchObject({ status: 'no-go', critical: 7, warnings: 4 });
    expect(plan.verdict.headline).toMatch(/^NO-GO: 7 critical finding\(s\) block cutover\. 22 version\(s\) to publish/);
  });

  it('a clean plan is GO', () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, { generatedAt: '2025-06-02T09:30:00.000Z' });
    // a plan's own audit found nothing: the domain set up right, no internal name exposed
    const clean: ReportInput = jobOfItsRows({ ...input, items: input.items.filter((i) => i.state === 'fetched' && !i.package.startsWith('git.')), packages: [], summary: null, preflight: { checks: [] }, exposure: { checkedAt: '2025-06-02T09:30:00.000Z', names: [] } });
    const r = buildReport(clean);
    expect(r.findings).toEqual([]);
    expect(r.verdict.status).toBe('go');
    expect(r.verdict.headline).toMatch(/^GO: nothing blocks cutover\. 18 version\(s\) to publish, estimated/);
  });

  it('a plan made without the domain audit and the exposure check (`run --dry-run`, then `report`) is never GO: a warning says neither was made', () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, { generatedAt: '2025-06-02T09:30:00.000Z' });
    const dryRun: ReportInput = jobOfItsRows({ ...input, items: input.items.filter((i) => i.state === 'fetched' && !i.package.startsWith('git.')), packages: [], summary: null });
    const r = buildReport(dryRun);
    expect(r.preflight).toBeNull();
    expect(r.exposure).toBeNull();
    expect(r.findings.map((f) => [f.severity, f.code])).toEqual([['warning', 'ENOAUDIT']]);
    expect(r.findings[0]!.action).toContain('cam plan jobs/acme.yaml');
    expect(r.verdict.status).toBe('review');
  });

  it('a run that did not finish is never GO, even when all it reached is verified; nor is a run whose versions are published but not verified', () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, { ...fx.options, kind: 'run' });
    // only verified versions, nothing else to object to (the latest plan's audit, carried, found nothing either)
    const audit = { preflight: { checks: [] }, exposure: { checkedAt: '2025-06-02T08:00:00.000Z', names: [] }, auditFrom: { runId: 2, at: '2025-06-02T08:00:00.000Z' } };
    const base: ReportInput = jobOfItsRows({ ...input, items: input.items.filter((i) => i.state === 'verified').map((i) => ({ ...i, integrity_weak: 0 })), packages: [], summary: null, ...audit, hardening: null, warm: null, goSum: null });
    const ran = { id: 3, startedAt: '2025-06-02T09:00:00.000Z', endedAt: '2025-06-02T09:05:00.000Z', dryRun: false, outcome: 'complete' };
    expect(buildReport({ ...base, run: ran }).verdict.status).toBe('go');
    for (const run of [
      { ...ran, endedAt: null, outcome: null },
      { ...ran, outcome: 'interrupted' },
    ]) {
      for (const kind of ['run', 'plan'] as const) {
        const r = buildReport({ ...base, kind, run: { ...run, dryRun: kind === 'plan' } });
        expect([kind, run.outcome, r.verdict.status]).toEqual([kind, run.outcome, 'no-go']);
        expect(r.findings).toContainEqual(expect.objectContaining({ code: 'ERUNUNFINISHED', severity: 'critical' }));
      }
    }
    const published = buildReport({ ...base, run: ran, items: base.items.map((i) => ({ ...i, state: 'published' as const })) });
    expect(published.verdict.headline).toMatch(/ 0 of 4 selected version\(s\) on the target and verified/);
    expect(published.verdict.status).not.toBe('go');
    expect(published.findings).toContainEqual(expect.objectContaining({ code: 'ENOTVERIFIED', count: 4 }));
  });

  it('estimates the publishing left from the configured rates and the measured sizes, and says how', () => {
    const e = plan.estimate!;
    expect(e.work.versions).toBe(22);
    expect(e.work.bytes).toBe(plan.totals.byOutcome.publish!.bytes);
    expect(e.work.files).toBe(plan.totals.byOutcome.publish!.files);
    expect(e.components.find((c) => c.name === 'publish-rate')!.seconds).toBeCloseTo(e.work.files / 10, 1);
    expect(e.seconds).toBe(Math.ceil(Math.max(...e.components.map((c) => c.seconds))) || e.seconds);
    expect(e.assumptions.join(' ')).toMatch(/throughput: assumed 10 MiB\/s/);
  });

  it('as a run report: what happened, from the same rows', () => {
    expect(run.kind).toBe('run');
    for (const p of run.packages) for (const v of p.versions) expect(RUN_OUTCOMES).toContain(v.outcome.key);
    expect(version(run, '@acme/config', '3.0.0').outcome).toMatchObject({ key: 'not-done', state: 'fetched' });
    expect(version(run, '@acme/logger', '1.2.0').outcome.key).toBe('verified');
    expect(version(run, '@acme/logger', '2.0.0').outcome).toMatchObject({ key: 'failed', code: 'EINTEGRITY', hint: expect.any(String) });
    expect(run.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['ENOTDONE', 'EINTEGRITY', 'ECONFLICT']));
    // 38 versions less 5 excluded, 1 skipped, 1 removed; 4 verified and 2 present-identical
    expect(run.verdict.headline).toMatch(/6 of 31 selected version\(s\) on the target and verified/);
  });

  it('reads the database without writing to it', () => {
    const changes = (s: StateDb) => (s.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    const counts = (s: StateDb) => s.db.prepare("SELECT (SELECT count(*) FROM items) || '/' || (SELECT count(*) FROM events) || '/' || (SELECT count(*) FROM runs) AS c").get();
    const before = [changes(fx.state), counts(fx.state)];
    reportInputFromState(fx.state, fx.job);
    expect([changes(fx.state), counts(fx.state)]).toEqual(before);
  });

  it('names the include list when no include matches, and nothing when the filters select a version', () => {
    const explain = exclusionExplainer({ include: ['@acme/*'], exclude: [{ name: '@acme/x', versions: '<2' }] });
    expect(explain('@acme/x', '1.5.0')).toEqual({ filter: 'exclude: @acme/x@<2', reason: 'excluded by the filter "@acme/x@<2"' });
    expect(explain('left-pad', '1.0.0')?.filter).toBe('include: @acme/*');
    expect(explain('@acme/x', '2.0.0')).toBeNull();
  });

  it('redacts secrets that other sections bring in', () => {
    registerSecret('s3cr3t-value-of-a-token');
    try {
      const r = buildReport({ ...reportInputFromState(fx.state, fx.job, undefined, fx.options), preflight: { principalArn: 'arn:aws:iam::1:user/x', findings: [{ severity: 'warning', message: 'token s3cr3t-value-of-a-token and ghp_abcdefghijklmnopqrstuvwxyz0123456789 seen' }] } });
      const json = renderJson(r);
      expect(json).not.toContain('s3cr3t-value-of-a-token');
      expect(json).not.toContain('ghp_abcdefghij');
      expect(json).toContain('token *** and *** seen');
    } finally {
      clearSecrets();
    }
  });
  it("writes a source's C1 controls and bidi overrides as escapes: the same JSON value, a file safe to cat", () => {
    const hostile = `evil\u009b2J\u202egnp.exe\u2028x`;
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    input.packages = input.packages!.map((p) => (p.package === '@acme/config' ? { ...p, dist_tags: JSON.stringify({ latest: '3.2.0', [hostile]: '3.1.0' }) } : p));
    const json = renderJson(buildReport(input));
    expect(json).not.toMatch(/[\u007f-\u009f\u2028\u202e]/);
    expect(json).toContain('evil\\u009b2J\\u202egnp.exe\\u2028x');
    expect((JSON.parse(json) as Report).packages.find((p) => p.name === '@acme/config')!.distTags[hostile]).toBe('3.1.0');
  });
  it('redacts secrets a source puts in a dist-tag name (an object key) too', () => {
    const secret = ['registry', 'token', 'value', '42'].join('-');
    const shaped = ['npm', '_', 'Q'.repeat(36)].join('');
    registerSecret(secret);
    try {
      const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
      input.packages = input.packages!.map((p) => (p.package === '@acme/config' ? { ...p, dist_tags: JSON.stringify({ latest: '3.2.0', [secret]: '3.2.0', [shaped]: '3.1.0' }) } : p));
      const r = buildReport(input);
      const json = renderJson(r);
      expect(json).not.toContain(secret);
      expect(json).not.toContain(shaped);
      expect(r.packages.find((p) => p.name === '@acme/config')!.distTags).toEqual({ latest: '3.2.0', '***': '3.1.0' });
    } finally {
      clearSecrets();
    }
  });
});

describe('the JSON form', () => {
  it('keeps a key a source chose whatever it is: a dist-tag named __proto__ is in the JSON, not taken for the prototype and dropped', () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    input.packages = input.packages!.map((p) => (p.package === '@acme/config' ? { ...p, dist_tags: '{"latest":"3.2.0","__proto__":"3.1.0","constructor":"3.0.0"}' } : p));
    const back = JSON.parse(renderJson(buildReport(input))) as Report;
    const tags = back.packages.find((p) => p.name === '@acme/config')!.distTags;
    expect(Object.entries(tags)).toEqual([
      ['__proto__', '3.1.0'],
      ['constructor', '3.0.0'],
      ['latest', '3.2.0'],
    ]);
  });

  it('the committed schema.json is the schema the model generates', () => {
    expect(schemaFile).toEqual(reportJsonSchema());
  });

  it('validates against the JSON Schema, plan and run; and the schema refuses what is not a report', () => {
    for (const r of [plan, run]) {
      const result = validator.safeParse(JSON.parse(renderJson(r)));
      expect(result.error?.issues ?? []).toEqual([]);
    }
    const bad = (mutate: (j: Record<string, any>) => void) => {
      const j = JSON.parse(renderJson(plan)) as Record<string, any>;
      mutate(j);
      return validator.safeParse(j).success;
    };
    expect(bad(() => {})).toBe(true);
    expect(bad((j) => (j.schemaVersion = 2))).toBe(false);
    expect(bad((j) => (j.packages[0].versions[0].outcome.key = 'shipped'))).toBe(false);
    expect(bad((j) => delete j.totals)).toBe(false);
    expect(bad((j) => (j.packages[0].versions[0].files[0].sha512 = 'not-hex'))).toBe(false);
    expect(bad((j) => (j.surprise = true))).toBe(false);
  });

  it('is stable: sorted keys (schemaVersion, kind first), the same text for the same report, and it round-trips', () => {
    const text = renderJson(plan);
    expect(renderJson(plan)).toBe(text);
    expect(Object.keys(JSON.parse(text)).slice(0, 3)).toEqual(['schemaVersion', 'kind', 'auditFrom']);
    const keys = Object.keys(JSON.parse(text).packages[0].versions[0]);
    expect(keys).toEqual([...keys].sort());
    expect(JSON.parse(text)).toEqual(plan);
    expect(text).toContain('\n  "kind": "plan",\n');
    expect(renderJson(plan, { indent: 0 }).split('\n').length).toBe(2);
  });

  it('is rendered in parts of about a mebibyte, never the whole at once: a report too big for one JavaScript string (some 350,000 versions) is still written', () => {
    // 20,000 versions are 31 MB of JSON; 360,000 would pass the longest string V8 holds (2^29 - 24 characters),
    // and `report` failed with "EUNEXPECTED: Invalid string length", writing none of the three files
    const big = makeBigState(mkdtempSync(join(dir, 'parts-')));
    try {
      const r = buildReport(reportInputFromState(big, bigJob()));
      const version = Math.max(...r.packages.flatMap((p) => p.versions.map((v) => JSON.stringify(v, null, 2).length)));
      for (const indent of [2, 0]) {
        const small = [...renderJsonParts(plan, { indent })].join('');
        expect(small).toBe(`${JSON.stringify(JSON.parse(small), null, indent)}\n`);
        expect(JSON.parse(small)).toEqual(plan);
        const parts = [...renderJsonParts(r, { indent })];
        const text = parts.join('');
        // JSON.stringify's own text, to the character
        expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, indent)}\n`);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(r)));
        expect(text).toBe(renderJson(r, { indent }));
        expect(parts.length).toBeGreaterThan(indent ? 25 : 15);
        // a part ends after the value that takes it past a mebibyte: a version, or a part of one
        for (const part of parts) expect(part.length).toBeLessThan(1024 * 1024 + 2 * version);
      }
    } finally {
      big.close();
    }
  });

  it('is all the renderers need: a report read back from its JSON renders the same Markdown and HTML', () => {
    const back = JSON.parse(renderJson(plan)) as Report;
    expect(renderMarkdown(back)).toBe(renderMarkdown(plan));
    expect(renderHtml(back)).toBe(renderHtml(plan));
    expect(renderMarkdown(back)).toMatch(/\| `services\/web\/package-lock\.json` \| package-lock \| 812 \| 403 \| 4 \| 1 \| 0 \| 2 \| 0 \|/);
  });
});

describe('the Markdown form', () => {
  it('opens with the verdict, then critical findings with what to do, before the totals', () => {
    const md = renderMarkdown(plan);
    const lines = md.split('\n');
    expect(lines[0]).toBe('# Migration plan: acme-migration — NO-GO');
    expect(md).toMatch(/^> \*\*NO-GO\*\* 7 critical finding\(s\) block cutover\. 22 version\(s\) to publish/m);
    const at = (s: string) => md.indexOf(s);
    expect(at('## Critical findings (7)')).toBeGreaterThan(0);
    expect(at('## Critical findings (7)')).toBeLessThan(at('## Warnings (4)'));
    expect(at('## Warnings (4)')).toBeLessThan(at('## Totals'));
    expect(at('## Totals')).toBeLessThan(at('## Estimated duration'));
    expect(at('## Estimated duration')).toBeLessThan(at('## Packages'));
    expect(md).toMatch(/\*\*ECONFLICT\*\* 1 version\(s\) on the target hold other bytes[\s\S]*?\*\*What to do:\*\* decide by hand/);
    expect(md).toContain('Concerns: `@acme/http-client@1.2.0`');
  });

  it('has the totals tables, the sections others filled, and one table per package', () => {
    const md = renderMarkdown(plan);
    const row = (first: string) => md.split('\n').find((l) => l.startsWith(`| ${first} |`))?.split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, '').trim());
    expect(row('**publish**')?.slice(0, 4)).toEqual(['**publish**', '22', '33', expect.stringMatching(/MiB$/)]);
    expect(row('total')?.slice(0, 2)).toEqual(['total', '38']);
    expect(row('`py-billing`')?.slice(1, 5)).toEqual(['git', '`git+ssh://git@git.acme.example/platform/billing.git`', '1', '5']);
    for (const h of ['## Preflight audit', '## Dependency-confusion exposure', '## Hardening (origin configuration)', '## Warm results', '## go.sum check']) expect(md).toContain(h);
    expect(md).toContain('Principal: `arn:aws:sts::111122223333:assumed-role/PlatformMigration/jane.doe`');
    for (const p of plan.packages.filter((x) => x.versions.length)) expect(md).toContain(`### \`${p.name}\` (${p.format})`);
    const conflictRow = md.split('\n').find((l) => l.startsWith('| `1.2.0` | **conflict**'))!;
    expect(conflictRow).toContain(`ours sha512 ${hashes('@acme/http-client@1.2.0').sha512.slice(0, 12)}`);
    expect(conflictRow).toContain(`target ${hashes('someone else published 1.2.0').sha512.slice(0, 12)}`);
    expect(md).toContain('| `0.9.1` | **excluded** |');
    expect(md).toMatch(/\| `0\.9\.0` \| \*\*skipped\*\* \|.*needs hatch-vcs/);
    expect(md).toMatch(/About \*\*\d+ s\*\* for 22 version\(s\)/);
    expect(md).not.toContain('## Critical findings (0)');
  });

  it('with 20,000 versions: pasteable (under 64 KiB), decisions first, and every cut says what it left out', () => {
    const big = makeBigState(dir);
    try {
      const r = buildReport(reportInputFromState(big, bigJob()));
      expect(r.totals.versions).toBe(20_000);
      const md = renderMarkdown(r);
      expect(md.length).toBeLessThan(64 * 1024);
      expect(md).toMatch(/\*… and [\d,]+ more version\(s\) \(publish [\d,]+/);
      expect(md).toMatch(/\*Version tables end here: [\d,]+ more package\(s\)/);
      expect(md).toMatch(/\*[\d,]+ more package\(s\) with [\d,]+ version\(s\) are not shown/);
      // within a package: what needs a decision, then what is left out, then the rest
      const rank: Record<string, number> = { conflict: 0, 'source-error': 0, excluded: 1, publish: 2, migrated: 2 };
      for (const name of ['@acme/pkg-000', '@acme/pkg-001', '@acme/pkg-005']) {
        const first = md.indexOf(`### \`${name}\` (npm)`);
        expect(first).toBeGreaterThan(0);
        const outcomes = [...md.slice(first, md.indexOf('###', first + 5)).matchAll(/^\| `[^`]+` \| \*\*([a-z-]+)\*\*/gm)].map((m) => rank[m[1]!]!);
        expect(outcomes.length).toBe(12);
        expect(outcomes).toEqual([...outcomes].sort());
      }
      expect(md.slice(md.indexOf('### `@acme/pkg-000`'))).toMatch(/\*\*conflict\*\*/);
      expect(r.estimate?.bound).toBe('publish-rate');
      console.log(`20,000 versions: Markdown ${md.length} chars, JSON ${renderJson(r).length} bytes (pretty), ${renderJson(r, { indent: 0 }).length} (indent 0)`);
    } finally {
      big.close();
    }
  });

  it('escapes names, versions and messages from sources: no HTML, no extra columns, no markup', () => {
    const hostile = '<script>alert("x")</script>|`evil`*[link](https://evil.example)';
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    input.items = input.items.map((i) =>
      i.package === '@acme/config' ? { ...i, package: hostile, version: `${i.version}\\|[pwn](https://evil.example/)<b>`, last_error: 'EBADSOURCE: <img src=x onerror=alert(1)> | pipe\nnewline see www.evil.example', last_error_code: 'EBADSOURCE', state: 'failed' } : i,
    );
    // the job names the package, as it must for its versions to be the job's (else they are left out, as status leaves them out)
    input.job = { ...input.job, config: { ...input.job.config, sources: input.job.config.sources.map((s) => (s.id === 'private-npm' && s.kind === 'npm-registry' ? { ...s, packages: [...s.packages, hostile] } : s)) } };
    const md = renderMarkdown(buildReport(input));
    // a value holding a pipe is escaped text: in a code span a backslash before the pipe would end the cell
    expect(md).toContain('| \\<script\\>alert("x")\\</script\\>\\|\\`evil\\`\\*\\[link\\](https\\://evil.example) | npm |');
    expect(md).toContain('| 3.2.0\\\\\\|\\[pwn\\](https\\://evil.example/)\\<b\\> | **source-error** |');
    // a bare URL in a source's message is no link GFM would make
    expect(md).toContain('pipe newline see www\\.evil.example');
    const plain = outsideCode(md);
    expect(plain).not.toMatch(/(?<!\\)<(script|img|b)\b/i);
    expect(plain).not.toMatch(/(?<!\\)\[link\]/);
    // every row of every table keeps its column count: a pipe from a source is escaped
    const tables = md.split('\n\n').filter((b) => b.startsWith('| '));
    for (const t of tables) {
      const cols = (line: string) => cells(line).length;
      const rows = t.split('\n').filter((l) => l !== '');
      for (const r of rows) expect(cols(r)).toBe(cols(rows[0]!));
    }
    expect(md).toContain('\\<img src=x onerror=alert(1)\\> \\| pipe newline');
  });

  it("escapes a source's publish time as every other text: it cannot hide a row, add a cell, make an image or reach the file raw", () => {
    // an npm registry's `time` map holds what the registry likes; an old state database kept it as given
    const at = (pkg: string, v: string, time: string) => (i: ReportInput['items'][number]) => (i.package === pkg && i.version === v ? { ...i, source_published_at: time } : i);
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    input.items = input.items
      .map(at('@acme/http-client', '1.2.0', '\n'))
      .map(at('@acme/config', '3.0.0', '![](//e.a)'))
      .map(at('@acme/config', '3.1.0', '|identical'))
      .map(at('@acme/config', '3.2.0', '\u001b[8m\u202e'));
    const md = renderMarkdown(buildReport(input));
    // the conflict row is on a line of its own (a newline would leave the table there)
    const conflictRow = md.split('\n').find((l) => l.startsWith('| `1.2.0` | **conflict** |'));
    expect(conflictRow).toBeDefined();
    expect(conflictRow).toContain('`private-npm` npm.acme.example');
    // every row of every table keeps its column count
    for (const t of md.split('\n\n').filter((b) => b.startsWith('| '))) {
      const rows = t.split('\n').filter((l) => l !== '');
      for (const r of rows) expect(cells(r).length, r).toBe(cells(rows[0]!).length);
    }
    expect(outsideCode(md)).not.toMatch(/(?<!\\)!(?<!\\)\[/);
    expect(md).toContain('!\\[\\](//e.a)');
    expect(md).not.toMatch(/[\u001b\u202e]/);
    // shown as the escapes \u001b and \u202e (the backslash itself escaped for Markdown)
    expect(md).toContain('npm.acme.example \\\\u001b\\[8m\\\\u202e |');
  });

  it("a source's text opens no block, whatever spaces lead it, and makes no e-mail link or @mention", () => {
    // texts that become the line of a finding's detail (indented under its list item)
    const details = ['   === ', '  # fake heading', '  - fake item', '   1. fake item', '  + fake item', 'ask admin@evil.example, mailto:x@evil.example, xmpp:x@evil.example or @octocat and @acme/core'];
    const preflight = fx.options.preflight!;
    const checks = [...(preflight.checks ?? []), ...details.map((detail, i) => ({ id: `hostile-${i}`, title: `check ${i}`, status: 'warn' as const, detail, fix: null }))];
    const md = renderMarkdown(buildReport(reportInputFromState(fx.state, fx.job, undefined, { ...fx.options, preflight: { ...preflight, checks } })));
    for (let i = 0; i < details.length; i++) expect(md).toContain(`check ${i}`);
    // a line that opens a heading, a list item or a setext underline is one this renderer wrote:
    // a heading or a list item at the margin, never the indented line of a detail
    const opensBlock = /^ *(#{1,6}(?=\s|$)|[-+*](?=\s|$)|\d{1,9}[.)](?=\s|$)|=+ *$|-+ *$)/;
    const opening = md.split('\n').filter((l) => opensBlock.test(l));
    expect(opening.filter((l) => !/^(#{1,3} |- |\d+\. \*\*)/.test(l))).toEqual([]);
    expect(opening.filter((l) => l.includes('fake'))).toEqual([]);
    // GFM's e-mail autolinks and GitHub's mentions need a name right after the @
    expect(outsideCode(md)).not.toMatch(/@[\w.-]/);
    // and the text reads the same (an HTML comment shows nothing)
    expect(md.replace(/<!-- -->/g, '')).toContain('ask admin@evil.example, mailto:x@evil.example, xmpp:x@evil.example or @octocat and @acme/core');
  });
});

describe('the Markdown form, pasted into a change request on GitHub', () => {
  it("a source's text makes no math and no issue reference: a $ is shown as it is, #123 and GH-123 are split (nor is a run's number a reference)", () => {
    const detail = 'costs $5, or $$x^2$$ and $y$; fixes #123, acme/web#45 and GH-67 (gh-8)';
    const preflight = fx.options.preflight!;
    const checks = [...(preflight.checks ?? []), { id: 'hostile-math', title: 'check math', status: 'warn' as const, detail, fix: null }];
    const md = renderMarkdown(buildReport(reportInputFromState(fx.state, fx.job, undefined, { ...fx.options, preflight: { ...preflight, checks } })));
    const plain = outsideCode(md);
    // GitHub's math needs two dollars in one text; a dollar in a span of its own is none
    expect(plain.replace(/<span>\$<\/span>/g, '')).not.toContain('$');
    // GitHub's references need the number right after the # or GH-, as mentions need the name after the @
    expect(plain).not.toMatch(/#\d|\bGH-\d/i);
    // and the text reads the same (an HTML comment shows nothing, the span shows its dollar)
    expect(md.replace(/<!-- -->/g, '').replace(/<span>\$<\/span>/g, '$')).toContain(detail);
    expect(md.replace(/<!-- -->/g, '')).toMatch(/from run #\d+ \(dry run\)/);
  });

  it('findings of many codes naming versions of 250 @: each value within its bound as written (escapes counted), the whole under the cap, and the cut said', () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    const one = input.items[0]!;
    input.items = Array.from({ length: 16 }, (_, c) =>
      Array.from({ length: 12 }, (_, n) => ({ ...one, package: `@acme/p${c}`, version: `${n}|${'@'.repeat(250)}`, state: 'failed' as const, last_error_code: `ECODE${c}`, last_error: `ECODE${c}: ${'@$'.repeat(3000)}` })),
    ).flat();
    const r = buildReport(input);
    expect(r.findings.filter((f) => f.code.startsWith('ECODE'))).toHaveLength(16);
    const md = renderMarkdown(r);
    expect(md.length).toBeLessThan(64 * 1024);
    expect(md).toContain('## Critical findings (');
    expect(md).toContain('*The report is cut here to stay pasteable');
    // a finding names 10 versions, each at most 600 characters as written
    const concerns = md.split('\n').filter((l) => l.includes('Concerns:'));
    expect(concerns.length).toBeGreaterThan(0);
    for (const line of concerns) expect(line.length).toBeLessThan(10 * 602 + 100);
    for (const line of md.split('\n').filter((l) => l.includes('first: '))) expect(line.length).toBeLessThan(700);
    // what is left of every table keeps its columns
    for (const t of md.split('\n\n').filter((b) => b.startsWith('| '))) {
      const tableRows = t.split('\n').filter((l) => l !== '');
      for (const row of tableRows) expect(cells(row).length).toBe(cells(tableRows[0]!).length);
    }
  });
});

describe('the Markdown form, with names, versions and messages as long as a source likes', () => {
  it('renders a version made of 100,000 backtick runs (it overflowed the stack) and stays pasteable', () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    input.items = input.items.map((i) => (i.package === '@acme/config' && i.version === '3.0.0' ? { ...i, version: '`a'.repeat(100_000) } : i));
    const md = renderMarkdown(buildReport(input));
    expect(md.length).toBeLessThan(64 * 1024);
    expect(md).toMatch(/\| `` `a`a`a[`a]*… `` \| \*\*publish\*\* \|/);
  });

  it('60 packages with 5,000-character versions and messages: under 64 KiB, whole rows only, and the cuts say what is left out', () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    const one = input.items.filter((i) => i.package === '@acme/http-client');
    input.items = Array.from({ length: 60 }, (_, p) =>
      one.map((i, n) => ({ ...i, package: `@acme/p${String(p).padStart(2, '0')}`, version: `1.0.${n}-${'x'.repeat(5000)}`, ...(n === 0 ? { state: 'failed' as const, last_error_code: 'EBADSOURCE', last_error: `EBADSOURCE: ${'| <b>m</b> '.repeat(600)}` } : {}) })),
    ).flat();
    const r = buildReport(input);
    expect(r.totals.versions).toBe(60 * one.length);
    // the JSON keeps every value whole
    expect(r.packages.find((p) => p.name === '@acme/p00')!.versions[0]!.version.length).toBe(5000 + '1.0.0-'.length);
    const md = renderMarkdown(r);
    expect(md.length).toBeLessThan(64 * 1024);
    expect(md).toMatch(/\*… and [\d,]+ more version\(s\) \(/);
    expect(md).toMatch(/\*Version tables end here: [\d,]+ more package\(s\)/);
    const tables = md.split('\n\n').filter((b) => b.startsWith('| '));
    for (const t of tables) {
      const cols = (line: string) => cells(line).length;
      const rows = t.split('\n').filter((l) => l !== '');
      for (const row of rows) expect(cols(row)).toBe(cols(rows[0]!));
    }
  });
});

describe('the HTML form, with names, versions and messages as long as a source likes', () => {
  it("a finding about 60 versions each 5,000 characters long names each shortened, not a wall of text burying the next finding: the JSON keeps them whole", () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    const one = input.items.filter((i) => i.package === '@acme/http-client');
    input.items = Array.from({ length: 60 }, (_, p) =>
      one.map((i, n) => ({ ...i, package: `@acme/p${String(p).padStart(2, '0')}`, version: `1.0.${n}-${'x'.repeat(5000)}`, ...(n === 0 ? { state: 'failed' as const, last_error_code: 'EBADSOURCE', last_error: `EBADSOURCE: ${'y'.repeat(5000)}` } : {}) })),
    ).flat();
    const r = buildReport(input);
    const finding = r.findings.find((f) => f.code === 'EBADSOURCE')!;
    expect(finding.subjects.length).toBeGreaterThanOrEqual(12);
    expect(finding.subjects[0]!.length).toBeGreaterThan(5000);
    const html = renderHtml(r);
    const items = [...html.matchAll(/<li class="finding [a-z]+">[\s\S]*?<\/li>/g)].map((m) => m[0]);
    expect(items.length).toBe(r.findings.length);
    // each subject and text of a finding is shortened (… at its end); the list of findings stays readable
    for (const li of items) expect(li.length).toBeLessThan(6_000);
    expect(items.find((li) => li.includes('EBADSOURCE'))).toMatch(/<code>@acme\/p\d\d@1\.0\.0-x+…<\/code>/);
    expect(renderJson(r)).toContain(`"@acme/p00@1.0.0-${'x'.repeat(5000)}"`);
  });
});

describe('the warm section: one name and version locked in two ecosystems', () => {
  it('is two packages in the findings, not one (six@1.16.0 of npm and of PyPI)', () => {
    const counts = { warmed: 0, alreadyCached: 0, blocked: 0, missingUpstream: 0, integrityMismatch: 0, nonRegistry: 0, pending: 1 };
    const problem = { name: 'six', version: '1.16.0', outcome: 'pending' as const, detail: 'not in the store yet' };
    const warm = {
      lockfiles: [
        { path: 'web/package-lock.json', kind: 'npm', counts, problems: [problem] },
        { path: 'api/requirements.txt', kind: 'requirements', counts, problems: [problem] },
        { path: 'api/poetry.lock', kind: 'poetry', counts, problems: [problem] },
      ],
    };
    const r = buildReport({ ...reportInputFromState(fx.state, fx.job, undefined, fx.options), warm });
    const pending = r.findings.find((f) => f.code === 'EWARMPENDING')!;
    expect(pending.title).toMatch(/^2 locked package/);
    expect(pending.subjects).toEqual(['six@1.16.0 (web/package-lock.json)', 'six@1.16.0 (api/requirements.txt, api/poetry.lock)']);
  });
});

describe('the warm section: a store that failed every one of 2,000 entries, each named by 101 lockfiles, with its 4,000-character stored error', () => {
  it('the JSON is written (each problem is in every lockfile naming it, its detail cut to 500 characters there), and so are Markdown and HTML', () => {
    const many = manyWarm(2_000, 101, { allFail: true, errorLength: 4_000 });
    const r = buildReport({ ...reportInputFromState(fx.state, fx.job, undefined, fx.options), warm: many.warm });
    const json = renderJson(r);
    expect(json.length).toBeLessThan(200 * 1024 * 1024);
    const problems = (JSON.parse(json) as Report).warm!.lockfiles.flatMap((l) => l.problems);
    expect(problems).toHaveLength(2_000 * 101);
    expect(problems[0]).toMatchObject({ outcome: 'failed', detail: expect.stringMatching(/^ETARGET: npm-store answered 502 .*… \(\d+ more characters\) …/) });
    expect(problems.reduce((m, p) => Math.max(m, p.detail.length), 0)).toBeLessThanOrEqual(500);
    expect(renderMarkdown(r).length).toBeLessThan(64 * 1024);
    expect(Buffer.byteLength(renderHtml(r))).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('the warm section: 2,000 entries named by 51 to 101 lockfiles each', () => {
  // each problem was listed once per lockfile naming it: 2,000 entries x 101 lockfiles made a
  // 10-49 MB HTML page. Each is listed once now, with its first 3 lockfiles and "and N more"
  const HTML_BOUND = 512 * 1024;
  let many: ManyWarm;
  let r: Report;
  let md: string;
  let html: string;
  beforeAll(() => {
    many = manyWarm(2_000, 101);
    r = buildReport({ ...reportInputFromState(fx.state, fx.job, undefined, fx.options), warm: many.warm });
    md = renderMarkdown(r);
    html = renderHtml(r);
  });
  const more = (n: number) => `and ${(n - 3).toLocaleString('en-US')} more`;

  it('Markdown under 64 KiB and HTML under 512 KiB', () => {
    expect(many.problems).toHaveLength(200);
    expect(md.length).toBeLessThan(64 * 1024);
    expect(Buffer.byteLength(html)).toBeLessThan(HTML_BOUND);
    // the JSON form keeps every lockfile of every problem
    const json = JSON.parse(renderJson(r)) as Report;
    expect(json.warm!.lockfiles.reduce((n, l) => n + l.problems.length, 0)).toBe(many.problems.reduce((n, p) => n + p.lockfiles, 0));
  });

  it('the findings count packages, not packages x lockfiles, and name each once with its first lockfiles', () => {
    const integrity = r.findings.find((f) => f.code === 'EWARMINTEGRITY')!;
    expect(integrity).toMatchObject({ severity: 'critical', count: 50 });
    expect(integrity.title).toMatch(/^50 locked package/);
    const first = many.problems[0]!;
    expect(integrity.subjects[0]).toBe(`${first.name}@${first.version} (${many.lockfiles.slice(0, 3).join(', ')} ${more(first.lockfiles)})`);
    expect(r.findings.find((f) => f.code === 'EWARMMISSING')).toMatchObject({ count: 50, title: expect.stringMatching(/^50 locked/) });
    expect(r.findings.find((f) => f.code === 'EWARMPENDING')).toMatchObject({ count: 50, title: expect.stringMatching(/^50 locked/) });
  });

  it('every integrity mismatch in both forms, and every problem in the HTML, each with the right "and N more"', () => {
    const mdRow = (p: ManyWarm['problems'][number]) => md.split('\n').find((l) => l.startsWith(`| ${mdCode(p.name)} | ${mdCode(p.version)} |`));
    for (const p of many.problems.filter((x) => x.outcome === 'integrity-mismatch')) {
      const row = mdRow(p);
      expect(row, p.name).toBeDefined();
      expect(row).toContain(`**integrity-mismatch**`);
      expect(row).toContain(more(p.lockfiles));
    }
    const htmlRows = html.slice(html.indexOf('id="warm-problems"')).split('</tr>');
    for (const p of many.problems) {
      const row = htmlRows.find((x) => x.includes(`<code>${esc(p.name)}</code></td><td><code>${esc(p.version)}</code>`));
      expect(row, p.name).toBeDefined();
      expect(row).toContain(`<td>${p.outcome}</td>`);
      expect(row).toContain(`data-v="${p.lockfiles}"`);
      expect(row).toContain(more(p.lockfiles));
    }
    // what the Markdown leaves out, it counts by outcome and says where it is
    const shown = many.problems.filter((p) => mdRow(p)).length;
    expect(md).toContain(`*… and ${200 - shown} more package(s) (`);
    expect(md).toMatch(/more package\(s\) \([^)]*pending 50\): see the JSON or HTML report\.\*/);
    // each lockfile once in the lockfile table, with its counts
    for (const l of many.lockfiles) expect(md.split('\n').filter((x) => x.startsWith(`| ${mdCode(l)} |`))).toHaveLength(1);
  });
});

describe('the estimate', () => {
  const base = { files: 0, bytes: 0, unknownSizeVersions: 0, largestPackageVersions: 1 };
  it('many small versions: the publish quota dominates', () => {
    const e = estimateDuration({ ...base, versions: 10_000, files: 10_000, bytes: 10_000 * 50_000, largestPackageVersions: 300 });
    expect(e.bound).toBe('publish-rate');
    expect(e.seconds).toBe(1000);
    expect(e.components.find((c) => c.name === 'publish-rate')!.detail).toContain('10000 upload(s) at 10/s');
  });
  it('few huge files: the transfer dominates, at the configured or measured throughput', () => {
    const e = estimateDuration({ ...base, versions: 10, files: 10, bytes: 10 * 1024 ** 3 }, { throughput: { bytesPerSecond: 100 * 1024 ** 2, source: 'measured', detail: 'measured by run #3' } });
    expect(e.bound).toBe('transfer');
    expect(e.seconds).toBe(103);
    expect(e.assumptions).toContain('throughput: measured by run #3');
  });
  it('one package with a long history: versions go one after another', () => {
    const e = estimateDuration({ ...base, versions: 2000, files: 2000, bytes: 2000, largestPackageVersions: 2000 }, { rates: { publish: 1000, writes: 1000 }, latencySeconds: 0.5 });
    expect(e.bound).toBe('latency');
    expect(e.seconds).toBe(1000);
  });
  it('versions not downloaded yet count at the median measured size, and the estimate says so', () => {
    const e = estimateDuration({ ...base, versions: 4, files: 2, bytes: 2000, unknownSizeVersions: 2, typicalVersionBytes: 1000, typicalVersionFiles: 3 });
    expect(e.work).toEqual({ versions: 4, files: 8, bytes: 4000, unknownSizeVersions: 2 });
    expect(e.assumptions[0]).toMatch(/^2 version\(s\) not downloaded or built yet/);
  });
  it('no version measured yet (plan --no-download): their size is said to be unknown and the estimate a lower bound, not "the median measured version (0 B)"', () => {
    const e = estimateDuration({ ...base, versions: 500, unknownSizeVersions: 500, largestPackageVersions: 50 });
    expect(e.work).toMatchObject({ versions: 500, files: 500, bytes: 0, unknownSizeVersions: 500 });
    expect(e.assumptions[0]).toBe('500 version(s) not downloaded or built yet, and no version measured: their size is unknown, so the transfer counts none of their bytes (a lower bound); one file each; all counted as to publish');
    expect(e.components.find((c) => c.name === 'transfer')!.detail).toMatch(/^0 B known at /);
    expect(e.assumptions.join(' ')).not.toContain('median');
    // from the model: a plan of unchecked versions only
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    const unchecked = buildReport({ ...input, items: input.items.map((i) => ({ ...i, state: 'pending' as const, size: null, assets: [], source_problem: null })) });
    expect(unchecked.estimate!.assumptions[0]).toMatch(/and no version measured: their size is unknown/);
  });
  it('a job that publishes 8 versions of a package at once (limits.publishesPerPackage): the long history takes an eighth, and the report counts with the job\'s setting', () => {
    const e = estimateDuration({ ...base, versions: 2000, files: 2000, bytes: 2000, largestPackageVersions: 2000 }, { rates: { publish: 1000, writes: 1000 }, latencySeconds: 0.5, concurrency: 4, publishesPerPackage: 8 });
    expect(e.bound).toBe('latency');
    expect(e.seconds).toBe(125);
    expect(e.components.find((c) => c.name === 'latency')!.detail).toContain('8 versions of a package at once (limits.publishesPerPackage)');
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    const one = buildReport(input).estimate!.components.find((c) => c.name === 'latency')!;
    const job = realisticJob('jobs/acme.yaml', { limits: { concurrency: 8, rates: { publish: 10 }, publishesPerPackage: 8 } });
    const eight = buildReport({ ...input, job }).estimate!.components.find((c) => c.name === 'latency')!;
    expect(eight.seconds).toBeLessThan(one.seconds);
  });
  it('a job that leaves limits.concurrency unset: the packages at once are said to be assumed, not the job\'s', () => {
    const e = estimateDuration({ ...base, versions: 10, files: 10, bytes: 10, largestPackageVersions: 2 });
    expect(e.components.find((c) => c.name === 'latency')!.detail).not.toContain('(limits.concurrency)');
    expect(e.components.find((c) => c.name === 'latency')!.detail).toContain('assumed');
  });
  it('nothing left: no time', () => {
    expect(estimateDuration({ ...base, versions: 0, largestPackageVersions: 0 })).toMatchObject({ seconds: 0, bound: 'none' });
  });
});

describe('the model from input alone', () => {
  it('an empty state database (no run yet) is NO-GO, never "nothing blocks cutover", and still renders and validates', () => {
    const empty = StateDb.open(join(dir, 'empty.sqlite'));
    try {
      const r = buildReport(reportInputFromState(empty, realisticJob()));
      expect(r.kind).toBe('plan');
      expect(r.totals.versions).toBe(0);
      expect(r.estimate).toBeNull();
      expect(r.findings).toEqual([expect.objectContaining({ severity: 'critical', code: 'ENOTHINGLISTED', action: 'run the dry run first: cam run jobs/acme.yaml --dry-run' })]);
      expect(r.verdict.status).toBe('no-go');
      expect(validator.safeParse(JSON.parse(renderJson(r))).success).toBe(true);
      expect(renderMarkdown(r)).toContain('## Packages\n\nNo package listed.');
      expect(renderHtml(r)).toContain('<p>No versions.</p>');
    } finally {
      empty.close();
    }
  });

  it('a job whose source is disabled: its rows are left out and a warning says how many', () => {
    const input = reportInputFromState(fx.state, fx.job, undefined, fx.options);
    const job = realisticJob();
    job.config.sources[1]!.enabled = false;
    const r = buildReport({ ...input, job });
    expect(r.packages.find((p) => p.name === '@acme/logger')).toBeUndefined();
    expect(r.findings.find((f) => f.code === 'EOTHERSOURCES')?.title).toMatch(/^6 version\(s\)/);
  });
});

describe('a source switched off after a tag of it moved', () => {
  it('its moved tag is left out of the report and of status, as its versions are: not a NO-GO for a source the job no longer enables', () => {
    const sub = join(dir, 'moved-then-disabled');
    mkdirSync(sub);
    const moved = makeRealisticState(sub);
    try {
      const s = moved.state;
      const mod = 'git.acme.example/platform/telemetry-go';
      s.startRun(false);
      const row = s.items('package = ? AND version = ?', mod, 'v1.0.0')[0]!;
      s.transition(row.id, 'verified', {});
      // listed again: its tag v1.0.0 now points at another commit
      const versions = ['v1.0.0', 'v1.1.0', 'v1.2.0', 'v1.3.0'].map((v) => ({ version: v, artifactUrl: `git+ssh://git@git.acme.example/platform/x.git#${v}`, ref: v, commit: v === 'v1.0.0' ? 'f'.repeat(40) : hashes(`${mod}${v}`).sha1 }));
      s.recordListing('go-telemetry', 'git+ssh://git@git.acme.example/platform/telemetry-go.git', { format: 'generic', name: mod, distTags: {}, versions });
      s.endRun('incomplete', { dryRun: false });
      // with the source enabled, the moved tag blocks cutover
      const enabled = buildReport(reportInputFromState(s, moved.job, undefined, moved.options));
      expect(enabled.findings).toContainEqual(expect.objectContaining({ code: 'ETAGMOVED', severity: 'critical', subjects: [`${mod}@v1.0.0`] }));
      // switched off: its versions are left out, and so is what happened to them
      const job = realisticJob();
      job.config.sources.find((x) => x.id === 'go-telemetry')!.enabled = false;
      const off = buildReport(reportInputFromState(s, job, undefined, moved.options));
      expect(off.findings.map((f) => f.code)).not.toContain('ETAGMOVED');
      expect(off.findings).toContainEqual(expect.objectContaining({ code: 'EOTHERSOURCES' }));
      const jobFile = join(sub, 'acme.yaml');
      writeFileSync(jobFile, JSON.stringify({ name: job.name, ...job.config }));
      s.close();
      const status = readStatus(jobFile, sub);
      expect(status.tagMoved).toEqual([]);
      expect(status.otherSources).toContainEqual({ source: 'go-telemetry', versions: 5 });
    } finally {
      moved.state.close();
    }
  });
});

describe('the report files (cam report)', () => {
  const STACK_LINE = /^\s{4}at /m;
  /** A state directory holding the realistic job's state, and its job file. */
  function stateWithJob(name: string): { stateDir: string; jobFile: string } {
    const stateDir = join(dir, name);
    mkdirSync(stateDir);
    makeRealisticState(stateDir).state.close();
    const job = realisticJob();
    const jobFile = join(stateDir, 'acme.yaml');
    // JSON is YAML
    writeFileSync(jobFile, JSON.stringify({ name: job.name, ...job.config }));
    return { stateDir, jobFile };
  }
  const io = () => {
    let stdout = '';
    let stderr = '';
    return {
      io: { stdout: { write: (s: string) => ((stdout += s), true), isTTY: false }, stderr: { write: (s: string) => ((stderr += s), true), isTTY: false } } as never,
      out: () => ({ stdout, stderr }),
    };
  };

  it('a full disk (here: a file-size limit) is ELOCAL naming the file, with no stack trace and no partial report left behind', async () => {
    const { stateDir, jobFile } = stateWithJob('full');
    const out = join(stateDir, 'reports');
    // RLIMIT_FSIZE: a write past 40 KiB fails with EFBIG (node ignores SIGXFSZ), as a full disk fails with ENOSPC
    const child = spawn('bash', ['-c', 'ulimit -f 40; exec "$0" "$@"', process.execPath, '--import', TSX_LOADER, join(ROOT, 'src/cli/main.ts'), '--state-dir', stateDir, 'report', jobFile, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    expect(code, stderr).toBe(1);
    expect((JSON.parse(stdout) as { error: { code: string } }).error.code).toBe('ELOCAL');
    expect(stderr).toContain(join(out, 'acme-migration-plan-'));
    expect(stderr).not.toMatch(STACK_LINE);
    // not a truncated report, not a temporary file
    expect(readdirSync(out)).toEqual([]);
  });

  it('on a terminal, names every critical finding or says how many more there are: 25 are not shown as 20', async () => {
    const { stateDir, jobFile } = stateWithJob('many-critical');
    const state = StateDb.open(join(stateDir, 'acme-migration.sqlite'));
    try {
      // versions the job asks for (not ones its filters leave out: those are no failures of the job's, as status says too)
      const ids = (state.db.prepare("SELECT id FROM items WHERE state != 'excluded' ORDER BY id LIMIT 25").all() as { id: number }[]).map((r) => r.id);
      // each its own code: one critical finding each
      for (const [i, id] of ids.entries()) state.db.prepare("UPDATE items SET state = 'failed', last_error_code = ?, last_error = ? WHERE id = ?").run(`ECODE${i}`, `ECODE${i}: failed`, id);
    } finally {
      state.close();
    }
    let stdout = '';
    const terminal = { stdout: { write: (t: string) => ((stdout += t), true), isTTY: true }, stderr: { write: () => true, isTTY: true } } as never;
    expect(await reportCommand(jobFile, { stateDir }, terminal)).toBe(1);
    const critical = JSON.parse(readFileSync(readdirSync(join(stateDir, 'reports')).map((f) => join(stateDir, 'reports', f)).find((f) => f.endsWith('.json'))!, 'utf8')).verdict.critical as number;
    expect(critical).toBeGreaterThan(25);
    const shown = stdout.split('\n').filter((l) => l.startsWith('  CRITICAL ')).length;
    expect(shown).toBe(20);
    expect(stdout).toContain(`  and ${critical - 20} more critical finding(s): see the report`);
  });

  it('writes into a directory it creates, and steps around a link planted at a report name instead of writing through it', async () => {
    const { stateDir, jobFile } = stateWithJob('links');
    const out = join(stateDir, 'shared', 'reports');
    mkdirSync(out, { recursive: true });
    const victim = join(stateDir, 'victim.txt');
    writeFileSync(victim, 'the operator file\n');
    // a name per second for the next minute, as someone sharing the directory could plant them
    const now = Date.now();
    for (let s = -2; s < 60; s++) {
      const stamp = new Date(now + s * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
      for (const ext of ['json', 'md', 'html']) symlinkSync(victim, join(out, `acme-migration-plan-${stamp}.${ext}`));
    }
    const { io: streams, out: printed } = io();
    expect(await reportCommand(jobFile, { stateDir, out, json: true }, streams)).toBe(1);
    expect(readFileSync(victim, 'utf8')).toBe('the operator file\n');
    const written = readdirSync(out).filter((f) => !lstatSync(join(out, f)).isSymbolicLink());
    expect(written.map((f) => f.split('.').pop()).sort()).toEqual(['html', 'json', 'md']);
    expect(JSON.parse(readFileSync(join(out, written.find((f) => f.endsWith('.json'))!), 'utf8'))).toEqual(JSON.parse(printed().stdout));
    // a directory that does not exist yet is made
    const fresh = join(stateDir, 'new', 'nested');
    expect(await reportCommand(jobFile, { stateDir, out: fresh, json: true }, io().io)).toBe(1);
    expect(readdirSync(fresh).map((f) => f.split('.').pop()).sort()).toEqual(['html', 'json', 'md']);
  });

  it('a file under only the last of the three names (an HTML someone saved there): the report takes the next name for all three, and leaves that file alone', async () => {
    const { stateDir, jobFile } = stateWithJob('last-name-taken');
    const out = join(stateDir, 'reports-last');
    mkdirSync(out);
    const now = Date.now();
    const planted: string[] = [];
    for (let s = -2; s < 60; s++) {
      const stamp = new Date(now + s * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
      planted.push(`acme-migration-plan-${stamp}.html`);
      writeFileSync(join(out, planted.at(-1)!), 'saved by hand\n');
    }
    const { io: streams, out: printed } = io();
    expect(await reportCommand(jobFile, { stateDir, out, json: true }, streams)).toBe(1);
    for (const name of planted) expect(readFileSync(join(out, name), 'utf8')).toBe('saved by hand\n');
    const added = readdirSync(out).filter((f) => !planted.includes(f));
    expect(added.map((f) => f.replace(/^acme-migration-plan-\d{8}T\d{6}Z/, '')).sort()).toEqual(['-2.html', '-2.json', '-2.md']);
    expect(JSON.parse(readFileSync(join(out, added.find((f) => f.endsWith('.json'))!), 'utf8'))).toEqual(JSON.parse(printed().stdout));
  });

  it('--out inside a file (a path through report.html/): a usage error (exit 2) naming the file, never EUNEXPECTED, the file left as it was', async () => {
    const { stateDir, jobFile } = stateWithJob('out-in-file');
    const file = join(stateDir, 'report.html');
    writeFileSync(file, 'mine');
    const { io: streams, out: printed } = io();
    expect(await reportCommand(jobFile, { stateDir, out: join(file, 'reports'), json: true }, streams)).toBe(2);
    expect((JSON.parse(printed().stdout) as { error: unknown }).error).toEqual({ code: 'ECONFIG', message: expect.stringContaining(`${file} is a file`), hint: expect.stringContaining('--out <dir>') });
    expect(readFileSync(file, 'utf8')).toBe('mine');
  });

  it('never replaces an earlier report written in the same second (another state directory\'s job of the same name, or a second `report`): both are kept, each whole', async () => {
    const { stateDir, jobFile } = stateWithJob('same-second');
    const out = join(stateDir, 'shared-reports');
    mkdirSync(out);
    // an earlier report under every name this one could take in the next minute (the name has the time to the second)
    const now = Date.now();
    const earlier = new Map<string, string>();
    for (let s = -2; s < 60; s++) {
      const stamp = new Date(now + s * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
      for (const ext of ['json', 'md', 'html']) {
        const name = `acme-migration-plan-${stamp}.${ext}`;
        earlier.set(name, `the earlier report ${name}\n`);
        writeFileSync(join(out, name), earlier.get(name)!);
      }
    }
    const { io: streams, out: printed } = io();
    expect(await reportCommand(jobFile, { stateDir, out, json: true }, streams)).toBe(1);
    for (const [name, text] of earlier) expect(readFileSync(join(out, name), 'utf8')).toBe(text);
    const added = readdirSync(out).filter((f) => !earlier.has(f));
    expect(added.map((f) => f.split('.').pop()).sort()).toEqual(['html', 'json', 'md']);
    // the three of one report share a name, and the JSON is the one printed
    expect(new Set(added.map((f) => f.replace(/\.[a-z]+$/, ''))).size).toBe(1);
    expect(JSON.parse(readFileSync(join(out, added.find((f) => f.endsWith('.json'))!), 'utf8'))).toEqual(JSON.parse(printed().stdout));
  });
});
