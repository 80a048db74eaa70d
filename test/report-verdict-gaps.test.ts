/**
 * States in which the report's verdict was GO (or its warm section empty) while
 * something a reviewer must act on was recorded: a lockfile entry the store
 * refuses, a warm stopped before it decided everything, a warm killed after an
 * earlier one found an integrity mismatch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, reportInputFromState, type ReportInput, type WarmInput } from '../src/report/index.js';
import { StateDb } from '../src/state/db.js';
import { WarmStore } from '../src/warm/state.js';
import { warmSectionFromState } from '../src/warm/summary.js';
import type { WarmItem } from '../src/warm/types.js';
import { makeRealisticState, realisticJob, type Realistic } from './fixtures/report/realistic.js';

let dir: string;
let fx: Realistic;
/** A finished run of nothing but verified versions, after a plan whose audit found nothing: GO on its own. */
let clean: ReportInput;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-report-gaps-'));
  fx = makeRealisticState(dir);
  const input = reportInputFromState(fx.state, fx.job, undefined, { ...fx.options, kind: 'run' });
  // the job of those rows: the one source they come from (the others' rows are left out, so the job leaves them out too)
  const job = { ...input.job, config: { ...input.job.config, sources: input.job.config.sources.filter((s) => s.id === 'github-packages') } };
  clean = {
    ...input,
    job,
    items: input.items.filter((i) => i.state === 'verified').map((i) => ({ ...i, integrity_weak: 0 })),
    packages: [],
    summary: null,
    // the latest plan's audit (a run makes none), carried into the run's report: the domain set up right, no name exposed
    preflight: { checkedAt: '2025-06-02T08:00:00.000Z', checks: [{ id: 'npm-store-connection', title: 'npm-store reaches the public registry', status: 'ok' }] },
    exposure: { checkedAt: '2025-06-02T08:00:00.000Z', names: [] },
    auditFrom: { runId: 2, at: '2025-06-02T08:00:00.000Z' },
    hardening: null,
    warm: null,
    goSum: null,
    run: { id: 3, startedAt: '2025-06-02T09:00:00.000Z', endedAt: '2025-06-02T09:05:00.000Z', dryRun: false, outcome: 'complete' },
  };
});

afterAll(() => {
  fx?.state.close();
  rmSync(dir, { recursive: true, force: true });
});

const zero = { warmed: 0, alreadyCached: 0, blocked: 0, missingUpstream: 0, integrityMismatch: 0, nonRegistry: 0, pending: 0 };

describe('the warm section in the verdict', () => {
  it('the clean run alone, after a plan whose audit found nothing, is GO; its audit is said to be that plan\'s, with its age', () => {
    const r = buildReport({ ...clean, generatedAt: '2025-06-04T08:00:00.000Z' });
    expect(r.verdict.status).toBe('go');
    expect(r.auditFrom).toEqual({ runId: 2, at: '2025-06-02T08:00:00.000Z', ageSeconds: 2 * 86400 });
  });

  it('the clean run with no plan\'s audit (a job only ever run) is REVIEW: ENOAUDIT says nobody checked the domain, and to plan it', () => {
    const r = buildReport({ ...clean, preflight: null, exposure: null, auditFrom: null });
    expect(r.findings.map((f) => [f.severity, f.code])).toEqual([['warning', 'ENOAUDIT']]);
    expect(r.findings[0]!.action).toBe(`plan it before cutover: cam plan ${clean.job.file}`);
    expect(r.verdict.status).toBe('review');
  });

  it('the clean run after a plan whose audit found the store without its external connection is NO-GO, the finding labelled as that plan\'s audit of its date', () => {
    const preflight = { checkedAt: '2025-06-02T08:00:00.000Z', checks: [{ id: 'npm-store-connection', title: 'npm-store reaches the public registry', status: 'fail' as const, detail: 'no external connection public:npmjs', fix: 'aws codeartifact associate-external-connection --repository npm-store --external-connection public:npmjs' }] };
    const r = buildReport({ ...clean, preflight, generatedAt: '2025-06-02T11:00:00.000Z' });
    expect(r.verdict.status).toBe('no-go');
    expect(r.findings).toEqual([
      expect.objectContaining({ severity: 'critical', code: 'PREFLIGHT:npm-store-connection', title: "npm-store reaches the public registry (found by plan #2's audit of 2025-06-02T08:00:00.000Z, 3 h before this report)" }),
    ]);
    expect(r.findings[0]!.action).toContain(`then plan again for an audit of the domain as it is now: cam plan ${clean.job.file}`);
    // and an exposed internal name, the same
    const exposure = { checkedAt: '2025-06-02T08:00:00.000Z', names: [{ format: 'npm' as const, name: '@acme/ui', publicRegistry: 'https://registry.npmjs.org/', existsPublicly: true, status: 'exposed' as const }] };
    const exposed = buildReport({ ...clean, exposure });
    expect(exposed.findings).toEqual([expect.objectContaining({ severity: 'critical', code: 'EEXPOSED', title: expect.stringContaining("(found by plan #2's audit of 2025-06-02T08:00:00.000Z") })]);
    expect(exposed.verdict.status).toBe('no-go');
  });

  it('a run after a plan made with --no-target (an exposure check, no domain audit) is not GO: ENOAUDIT says that plan did not read the target', () => {
    const r = buildReport({ ...clean, preflight: null });
    expect(r.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'ENOAUDIT', title: expect.stringContaining('the latest plan (#2) did not read the target') })]);
    expect(r.verdict.status).toBe('review');
  });

  it('a locked package the store refuses (blocked by origin controls) is a warning: a build from that lockfile would fail after cutover', () => {
    const warm: WarmInput = {
      lockfiles: [{ path: 'web/package-lock.json', kind: 'npm', counts: { ...zero, warmed: 3, blocked: 1 }, problems: [{ name: 'left-pad', version: '1.3.0', outcome: 'blocked', detail: 'upstream BLOCK on left-pad in npm-store' }] }],
    };
    const r = buildReport({ ...clean, warm });
    expect(r.findings).toContainEqual(expect.objectContaining({ code: 'EWARMBLOCKED', severity: 'warning', count: 1, subjects: ['left-pad@1.3.0 (web/package-lock.json)'] }));
    expect(r.verdict.status).toBe('review');
  });
});

describe('the sources in the verdict', () => {
  /** The clean run's job with one more npm source, which no run has listed. */
  const withAddedSource = (): ReportInput => {
    const added = { ...realisticJob().config.sources[1]!, id: 'added-later', url: 'https://npm.other.example/' };
    return { ...clean, job: { ...clean.job, config: { ...clean.job.config, sources: [...clean.job.config.sources, added] } } };
  };

  it('a source the job enables that no run has listed (added to the job after the run) is critical: none of its packages is in the report', () => {
    const r = buildReport(withAddedSource());
    expect(r.findings).toContainEqual(expect.objectContaining({ code: 'ESOURCENOTLISTED', severity: 'critical', subjects: ['added-later'] }));
    expect(r.verdict.status).toBe('no-go');
  });

  it('a source whose listing recorded only an error (an empty scope) was listed: that error is the finding', () => {
    const input = withAddedSource();
    const r = buildReport({ ...input, packages: [{ source_id: 'added-later', format: 'npm', package: '@acme', dist_tags: '{}', meta_state: 'pending', last_error: null, list_error_code: 'ESOURCEEMPTY', list_error: 'ESOURCEEMPTY: no package in scope @acme' }] });
    expect(r.findings.map((f) => f.code)).toContain('ELIST');
    expect(r.findings.map((f) => f.code)).not.toContain('ESOURCENOTLISTED');
  });
});

describe('the warm section from the state', () => {
  const item = (name: string): WarmItem => ({ ecosystem: 'npm', name, displayName: name, version: '1.0.0', kind: 'registry', internal: false, expected: { integrity: `sha512-${name}` }, files: ['web/package-lock.json'] });
  const lockfiles = [{ path: 'web/package-lock.json', format: 'npm', repository: null }];

  it('a warm killed after an earlier one found an integrity mismatch: the mismatch is still in the section, and the report is NO-GO', () => {
    const state = StateDb.open(join(dir, 'killed-warm.sqlite'));
    try {
      const store = new WarmStore(state);
      store.startRun();
      const rows = store.record([item('a'), item('b')]);
      store.decide(rows.get([...rows.keys()][0]!)!, { outcome: 'integrity-mismatch', detail: 'the store serves other bytes' });
      store.decide(rows.get([...rows.keys()][1]!)!, { outcome: 'warmed', checked: true });
      store.endRun('incomplete', { lockfiles });
      // the next warm records the same entries, then is killed (no end, no summary)
      store.startRun();
      store.record([item('a'), item('b')]);

      const warm = warmSectionFromState(state)!;
      expect(warm.lockfiles![0]!.counts).toMatchObject({ integrityMismatch: 1, warmed: 1 });
      const r = buildReport({ ...clean, warm });
      expect(r.findings).toContainEqual(expect.objectContaining({ code: 'EWARMINTEGRITY', severity: 'critical' }));
      expect(r.verdict.status).toBe('no-go');
    } finally {
      state.close();
    }
  });

  it('the first warm of a job killed after it found an integrity mismatch (no warm ever ended): the section holds the mismatch, its lockfile named from the entries, and the report is NO-GO', () => {
    const state = StateDb.open(join(dir, 'first-warm-killed.sqlite'));
    try {
      const store = new WarmStore(state);
      store.startRun();
      const rows = store.record([item('a'), item('b')]);
      store.decide(rows.get([...rows.keys()][0]!)!, { outcome: 'integrity-mismatch', detail: 'the store serves other bytes' });
      // killed here: no end, no summary

      const warm = warmSectionFromState(state);
      expect(warm).not.toBeNull();
      expect(warm!.lockfiles!.map((l) => l.path)).toEqual(['web/package-lock.json']);
      expect(warm!.lockfiles![0]!.counts).toMatchObject({ integrityMismatch: 1, undecided: 1 });
      const r = buildReport({ ...clean, warm });
      expect(r.findings).toContainEqual(expect.objectContaining({ code: 'EWARMINTEGRITY', severity: 'critical' }));
      expect(r.verdict.status).toBe('no-go');
    } finally {
      state.close();
    }
  });

  it('a warm killed after it found an integrity mismatch in a lockfile the last finished warm did not read: that lockfile is in the section with its mismatch', () => {
    const state = StateDb.open(join(dir, 'killed-warm-new-lockfile.sqlite'));
    try {
      const store = new WarmStore(state);
      store.startRun();
      const rows = store.record([item('a')]);
      store.decide(rows.get([...rows.keys()][0]!)!, { outcome: 'warmed', checked: true });
      store.endRun('complete', { lockfiles });
      // the next warm reads a lockfile added since, finds a mismatch there, and is killed
      store.startRun();
      const added: WarmItem = { ...item('c'), files: ['api/package-lock.json'] };
      const again = store.record([item('a'), added]);
      store.decide(again.get([...again.keys()][1]!)!, { outcome: 'integrity-mismatch', detail: 'the store serves other bytes' });

      const warm = warmSectionFromState(state)!;
      expect(warm.lockfiles!.map((l) => l.path).sort()).toEqual(['api/package-lock.json', 'web/package-lock.json']);
      expect(warm.lockfiles!.find((l) => l.path === 'api/package-lock.json')!.counts).toMatchObject({ integrityMismatch: 1 });
      const r = buildReport({ ...clean, warm });
      expect(r.verdict.status).toBe('no-go');
    } finally {
      state.close();
    }
  });

  it('a warm stopped before it decided every entry: the undecided ones are counted and the report is not GO', () => {
    const state = StateDb.open(join(dir, 'stopped-warm.sqlite'));
    try {
      const store = new WarmStore(state);
      store.startRun();
      const rows = store.record([item('a'), item('b'), item('c')]);
      store.decide(rows.get([...rows.keys()][0]!)!, { outcome: 'warmed', checked: true });
      store.endRun('interrupted', { lockfiles, interrupted: true });

      const warm = warmSectionFromState(state)!;
      expect(warm.lockfiles![0]!.counts).toMatchObject({ warmed: 1, undecided: 2 });
      const r = buildReport({ ...clean, warm });
      expect(r.findings).toContainEqual(expect.objectContaining({ code: 'EWARMUNDECIDED', severity: 'warning' }));
      expect(r.verdict.status).not.toBe('go');
    } finally {
      state.close();
    }
  });
});
