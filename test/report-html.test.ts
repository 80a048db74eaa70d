/**
 * The HTML report in a real headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core), opened from disk over file://: the summary and
 * tables are there, a header click sorts, the filters hide rows, the chart has
 * a bar per package, a hostile package name is text, and the page asks the
 * network for nothing. Set UPDATE_REPORT_SCREENSHOT=1 to refresh
 * test/fixtures/report/screenshot.png from the realistic report.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, renderHtml, reportInputFromState, type Report, type ReportInput } from '../src/report/index.js';
import { reportSchema } from '../src/report/schema.js';
import { bigJob, makeBigState } from './fixtures/report/big.js';
import { makeRealisticState } from './fixtures/report/realistic.js';
import { manyWarm, type ManyWarm } from './fixtures/report/warm-many.js';

// page.evaluate callbacks run in the page; this project compiles without the DOM library
declare const document: { scripts: unknown[]; images: unknown[]; querySelectorAll(s: string): unknown[]; getElementById(id: string): { textContent: string | null } | null };
declare const window: unknown;

const HOSTILE = `<img src=x onerror=alert(1)>"'<script>window.__pwned=1</script>`;
const HOSTILE_VERSION = `1.0.0"><svg onload=alert(2)>`;
const BIDI = `@acme/evil\u202egpj.exe`;
/** A right-to-left override: drawn as it is, "9102-06-30" would read 2019-06-30. */
const BIDI_TIME = '\u202e03-60-9102';

let dir: string;
let userDataDir: string;
let ctx: BrowserContext | undefined;
const files: Record<'realistic' | 'hostile' | 'big' | 'warm', string> = { realistic: '', hostile: '', big: '', warm: '' };
let many: ManyWarm;
let realistic: Report;

/** The same report every run: the rows' run times are now(), so pin the ones the page shows. */
function pinned(input: ReportInput): ReportInput {
  return { ...input, run: input.run && { ...input.run, startedAt: '2025-06-02T09:27:58.000Z', endedAt: '2025-06-02T09:29:32.000Z' } };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cam-report-html-'));
  const fx = makeRealisticState(dir);
  try {
    const input = pinned(reportInputFromState(fx.state, fx.job, undefined, fx.options));
    realistic = buildReport(input);
    files.realistic = join(dir, 'plan.html');
    writeFileSync(files.realistic, renderHtml(realistic));
    const hostile: ReportInput = {
      ...input,
      items: input.items.map((i) => {
        if (i.package === '@acme/config') return { ...i, package: HOSTILE, version: i.version === '3.0.0' ? HOSTILE_VERSION : i.version, state: 'failed' as const, last_error_code: 'EBADSOURCE', last_error: 'EBADSOURCE: </script><script>window.__pwned=2</script>' };
        if (i.package === '@acme/ui-kit') return { ...i, package: BIDI };
        // an npm registry's `time` holds what the registry likes
        if (i.package === '@acme/logger' && i.version === '1.0.0') return { ...i, source_published_at: BIDI_TIME };
        return i;
      }),
      // the job names the package, as it must for its versions to be the job's (else they are left out, as status leaves them out)
      job: { ...input.job, config: { ...input.job.config, sources: input.job.config.sources.map((s) => (s.id === 'private-npm' && s.kind === 'npm-registry' ? { ...s, packages: [...s.packages, HOSTILE] } : s)) } },
    };
    many = manyWarm(2_000, 101);
    files.warm = join(dir, 'warm.html');
    writeFileSync(files.warm, renderHtml(buildReport({ ...input, warm: many.warm })));
    files.hostile = join(dir, 'hostile.html');
    writeFileSync(files.hostile, renderHtml(buildReport(hostile)));
  } finally {
    fx.state.close();
  }
  const big = makeBigState(dir);
  try {
    files.big = join(dir, 'big.html');
    writeFileSync(files.big, renderHtml(buildReport(reportInputFromState(big, bigJob()))));
  } finally {
    big.close();
  }
  userDataDir = mkdtempSync(join(tmpdir(), 'cam-chromium-'));
  // playwright takes a fresh profile this way (it refuses --user-data-dir among the args of launch())
  ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await ctx?.close();
  rmSync(dir, { recursive: true, force: true });
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  requests: string[];
  problems: string[];
  url: string;
  ms: number;
}

async function open(file: string): Promise<Opened> {
  const page = await ctx!.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  const url = pathToFileURL(file).href;
  const started = Date.now();
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]');
  return { page, requests, problems, url, ms: Date.now() - started };
}

const cells = (page: Page, table: string, col: number) => page.locator(`#${table} tbody tr td:nth-child(${col})`).allTextContents();
const info = (page: Page, table: string) => page.textContent(`#${table}-info`);
/** The filters are debounced: wait for the table to say what it shows. */
const waitInfo = (page: Page, table: string, text: string) => page.waitForFunction(([t, s]) => document.getElementById(`${t}-info`)!.textContent === s, [table, text] as const);
const rows = (page: Page, table: string) => page.locator(`#${table} tbody tr`).count();
/** A cell's characters in the order the browser draws them, left to right (a bidi control it obeys reorders them; it draws none itself). */
const drawn = (page: Page, selector: string) =>
  page.locator(selector).evaluate((cell) => {
    const text = cell.firstChild as unknown as { data: string };
    const range = (cell.ownerDocument as unknown as { createRange(): { setStart(n: unknown, i: number): void; setEnd(n: unknown, i: number): void; getBoundingClientRect(): { left: number; width: number } } }).createRange();
    const glyphs: [number, string][] = [];
    for (let i = 0; i < text.data.length; i++) {
      range.setStart(text, i);
      range.setEnd(text, i + 1);
      const box = range.getBoundingClientRect();
      if (box.width > 0.5) glyphs.push([box.left, text.data[i]!]);
    }
    return glyphs.sort((x, y) => x[0] - y[0]).map((g) => g[1]).join('');
  });

describe('the HTML report in Chromium', () => {
  it('is one file: it asks the network for nothing, loads nothing else, and runs without an error', async () => {
    const { page, requests, problems, url } = await open(files.realistic);
    try {
      // the document itself is the only request; a click that filters and sorts asks for nothing either
      await page.fill('#versions-filter', 'logger');
      await waitInfo(page, 'versions-table', 'Rows 1–6 of 6 (filtered from 38)');
      await page.click('#versions-table th:has-text("Size")');
      expect(requests).toEqual([url]);
      expect(problems).toEqual([]);
      const html = readFileSync(files.realistic, 'utf8');
      expect(html).not.toMatch(/<link\b|\bsrc=|\bhref=|@import|url\(/i);
      expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'/);
    } finally {
      await page.close();
    }
  });

  it('shows the verdict, the key figures and the critical findings with what to do', async () => {
    const { page } = await open(files.realistic);
    try {
      expect(await page.textContent('#verdict')).toBe('NO-GO');
      expect(await page.textContent('#headline')).toBe(realistic.verdict.headline);
      const cards = (await page.locator('#summary .card').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
      expect(cards).toEqual(expect.arrayContaining(['38 versions', '7 packages', '22 to publish', '1 conflicts', '2 errors', '7 critical findings']));
      const critical = page.locator('#findings li.finding.critical');
      expect(await critical.count()).toBe(7);
      const conflict = (await critical.allInnerTexts()).find((t) => t.includes('ECONFLICT'))!;
      expect(conflict).toContain('What to do: decide by hand');
      expect(conflict).toContain('@acme/http-client@1.2.0');
      for (const id of ['preflight', 'exposure', 'hardening', 'warm', 'gosum', 'totals', 'estimate']) expect(await page.locator(`section#${id}`).count()).toBe(1);
      expect(await page.textContent('#preflight')).toContain('arn:aws:sts::111122223333:assumed-role/PlatformMigration/jane.doe');
    } finally {
      await page.close();
    }
  });

  it('has the package and version tables, every version on the first page', async () => {
    const { page } = await open(files.realistic);
    try {
      expect(await rows(page, 'packages-table')).toBe(7);
      expect(await rows(page, 'versions-table')).toBe(38);
      expect(await info(page, 'versions-table')).toBe('Rows 1–38 of 38');
      const expected = realistic.packages.flatMap((p) => p.versions.map((v) => `${p.name}@${v.version}`));
      const shown = (await cells(page, 'versions-table', 1)).map((p, i) => p);
      const versions = await cells(page, 'versions-table', 2);
      expect(shown.map((p, i) => `${p}@${versions[i]}`)).toEqual(expected);
      const conflictRow = page.locator('#versions-table tbody tr', { hasText: 'ours sha512' });
      expect(await conflictRow.locator('td').nth(4).textContent()).toBe('conflict');
    } finally {
      await page.close();
    }
  });

  it('sorts by the header clicked: sizes largest first, then smallest first; versions in version order', async () => {
    const { page } = await open(files.realistic);
    try {
      const all = realistic.packages.flatMap((p) => p.versions.map((v) => ({ id: `${p.name}@${v.version}`, size: v.size })));
      // what the page should show: stable, versions without a size last either way
      const bySize = (dir: 1 | -1) => [...all.filter((v) => v.size !== null).sort((a, b) => (a.size! - b.size!) * dir), ...all.filter((v) => v.size === null)].map((v) => v.id);
      const shown = async () => {
        const [p, v] = [await cells(page, 'versions-table', 1), await cells(page, 'versions-table', 2)];
        return p.map((x, i) => `${x}@${v[i]}`);
      };
      const size = page.locator('#versions-table th', { hasText: 'Size' });
      await size.click();
      expect(await size.getAttribute('aria-sort')).toBe('descending');
      expect(await shown()).toEqual(bySize(-1));
      await size.click();
      expect(await size.getAttribute('aria-sort')).toBe('ascending');
      expect(await shown()).toEqual(bySize(1));
      await page.locator('#versions-table th', { hasText: 'Version' }).click();
      const versions = await cells(page, 'versions-table', 2);
      const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
      expect(versions).toEqual([...versions].sort(collator.compare));
      expect(versions.indexOf('1.10.0') === -1 || versions.indexOf('1.9.0') < versions.indexOf('1.10.0')).toBe(true);
      // a small static table sorts too
      const totals = page.locator('#totals table').first();
      await totals.locator('th', { hasText: 'Versions' }).click();
      const counts = (await totals.locator('tbody tr td:nth-child(2)').allTextContents()).map(Number);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
    } finally {
      await page.close();
    }
  });

  it('hides the rows the text, outcome and format filters leave out', async () => {
    const { page } = await open(files.realistic);
    try {
      await page.fill('#versions-filter', 'http-client');
      await waitInfo(page, 'versions-table', 'Rows 1–12 of 12 (filtered from 38)');
      expect(new Set(await cells(page, 'versions-table', 1))).toEqual(new Set(['@acme/http-client']));
      await page.selectOption('#versions-outcome', 'excluded');
      await waitInfo(page, 'versions-table', 'Rows 1–3 of 3 (filtered from 38)');
      expect(await cells(page, 'versions-table', 2)).toEqual(['0.8.0', '0.9.0', '0.9.1']);
      await page.fill('#versions-filter', 'no-such-thing');
      await waitInfo(page, 'versions-table', 'No rows match (of 38)');
      expect(await rows(page, 'versions-table')).toBe(0);
      await page.fill('#versions-filter', '');
      await page.selectOption('#versions-outcome', '');
      await page.selectOption('#versions-format', 'pypi');
      await waitInfo(page, 'versions-table', 'Rows 1–5 of 5 (filtered from 38)');
      expect(new Set(await cells(page, 'versions-table', 1))).toEqual(new Set(['acme-billing']));
      // text matches codes and details too
      await page.selectOption('#versions-format', '');
      await page.fill('#versions-filter', 'EBUILD');
      await waitInfo(page, 'versions-table', 'Rows 1–1 of 1 (filtered from 38)');
      await page.fill('#packages-filter', 'billing');
      await waitInfo(page, 'packages-table', 'Rows 1–1 of 1 (filtered from 7)');
    } finally {
      await page.close();
    }
  });

  it('draws a stacked bar per package, segment per outcome; a click on a bar lists that package', async () => {
    const { page } = await open(files.realistic);
    try {
      const withVersions = realistic.packages.filter((p) => p.versions.length > 0);
      const bars = page.locator('svg.chart g.bar[data-pkg]');
      expect(await bars.count()).toBe(withVersions.length);
      expect(new Set(await page.locator('svg.chart g.bar text.label').evaluateAll((ts) => ts.map((t) => t.firstChild!.textContent)))).toEqual(new Set(withVersions.map((p) => p.name)));
      const http = page.locator('svg.chart g.bar', { has: page.locator('text.label', { hasText: '@acme/http-client' }) });
      expect(await http.locator('rect').evaluateAll((rs) => rs.map((r) => r.getAttribute('class')))).toEqual(['seg o-publish', 'seg o-conflict', 'seg o-excluded']);
      // widths are in proportion to the counts (8 : 1 : 3)
      const widths = await http.locator('rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('width'))));
      expect(widths[0]! / widths[1]!).toBeCloseTo(8, 5);
      expect(widths[2]! / widths[1]!).toBeCloseTo(3, 5);
      await page.locator('svg.chart g.bar', { has: page.locator('text.label', { hasText: 'acme-billing' }) }).click();
      await waitInfo(page, 'versions-table', 'Rows 1–5 of 5 (filtered from 38)');
      expect(await page.locator('#versions-package').isVisible()).toBe(true);
      expect(await page.textContent('#versions-package b')).toBe('acme-billing');
      await page.click('#versions-package button');
      await waitInfo(page, 'versions-table', 'Rows 1–38 of 38');
    } finally {
      await page.close();
    }
  });

  it('shows hostile names, versions and messages as text: no script runs, no element is injected', async () => {
    const { page, problems, requests, url } = await open(files.hostile);
    try {
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.evaluate(() => [document.scripts.length, document.images.length, document.querySelectorAll('svg [onload], [onerror]').length])).toEqual([2, 0, 0]);
      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);
      await page.fill('#versions-filter', 'onerror');
      await waitInfo(page, 'versions-table', 'Rows 1–3 of 3 (filtered from 38)');
      expect(new Set(await cells(page, 'versions-table', 1))).toEqual(new Set([HOSTILE]));
      expect(await cells(page, 'versions-table', 2)).toContain(HOSTILE_VERSION);
      expect(await cells(page, 'versions-table', 11)).toContain('</script><script>window.__pwned=2</script> — see the message: the source answered something unusable');
      expect(await page.locator('#packages-table button.link', { hasText: 'onerror' }).textContent()).toBe(HOSTILE);
      const label = page.locator('svg.chart g.bar text.label title', { hasText: 'onerror' });
      expect(await label.textContent()).toBe(`${HOSTILE} (npm)`);
      expect(await page.locator('#findings').innerText()).toContain(`${HOSTILE}@${HOSTILE_VERSION}`);
      // a right-to-left override is shown, not obeyed
      expect(await page.locator('#packages-table button.link', { hasText: 'evil' }).textContent()).toBe('@acme/evil\\u202egpj.exe');
    } finally {
      await page.close();
    }
  });

  it("shows a source's publish time as text: a right-to-left override in it is written out, not obeyed", async () => {
    const { page, problems } = await open(files.hostile);
    try {
      await page.fill('#versions-filter', '@acme/logger');
      await waitInfo(page, 'versions-table', 'Rows 1–6 of 6 (filtered from 38)');
      const published = '#versions-table tbody tr:has(td:nth-child(2):text-is("1.0.0")) td:nth-child(8)';
      // the day the page shows is the first ten characters of what the source said, escapes visible
      expect(await page.textContent(published)).toBe('\\u202e03-6');
      expect(await drawn(page, published)).toBe('\\u202e03-6');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a warm of 2,000 entries named by 51 to 101 lockfiles: opens, each problem once, integrity mismatches first, and the tables still sort and filter', async () => {
    const { page, problems } = await open(files.warm);
    try {
      expect(statSync(files.warm).size).toBeLessThan(512 * 1024);
      // opened because an integrity mismatch blocks cutover
      expect(await page.locator('#warm-problems').getAttribute('open')).toBe('');
      const table = '#warm-problems table';
      expect(await page.locator(`${table} tbody tr`).count()).toBe(many.problems.length);
      const outcomes = await page.locator(`${table} tbody tr td:nth-child(3)`).allTextContents();
      expect(outcomes.slice(0, 50)).toEqual(Array(50).fill('integrity-mismatch'));
      const first = many.problems[0]!;
      expect(await page.locator(`${table} tbody tr`).first().locator('td').nth(3).innerText()).toBe(`${many.lockfiles.slice(0, 3).join(', ')} and ${first.lockfiles - 3} more`);
      // sorting by the lockfile count puts the entry most lockfiles name first
      await page.locator(`${table} th`, { hasText: 'Lockfiles' }).click();
      await page.locator(`${table} th`, { hasText: 'Lockfiles' }).click();
      const counts = await page.locator(`${table} tbody tr td:nth-child(4)`).evaluateAll((tds) => tds.map((td) => Number((td as unknown as { getAttribute(a: string): string }).getAttribute('data-v'))));
      expect(counts[0]).toBe(101);
      // the package and version tables still filter
      await page.fill('#versions-filter', 'logger');
      await waitInfo(page, 'versions-table', 'Rows 1–6 of 6 (filtered from 38)');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('stays usable with 20,000 versions: a page of rows at a time, paging, sorting and filtering', async () => {
    const size = statSync(files.big).size;
    const { page, ms, problems } = await open(files.big);
    try {
      expect(await info(page, 'versions-table')).toBe('Rows 1–100 of 20,000');
      expect(await rows(page, 'versions-table')).toBe(100);
      await page.click('#versions-table-next');
      expect(await info(page, 'versions-table')).toBe('Rows 101–200 of 20,000');
      let t = Date.now();
      await page.locator('#versions-table th', { hasText: 'Size' }).click();
      const sortMs = Date.now() - t;
      const sizes = await cells(page, 'versions-table', 6);
      expect(sizes[0]).toMatch(/KiB$/);
      t = Date.now();
      await page.fill('#versions-filter', '@acme/pkg-007');
      await page.waitForFunction(() => document.getElementById('versions-table-info')!.textContent!.includes('filtered from 20,000'));
      const filterMs = Date.now() - t;
      expect(new Set(await cells(page, 'versions-table', 1))).toEqual(new Set(['@acme/pkg-007']));
      expect(await page.locator('svg.chart g.bar[data-pkg]').count()).toBe(39);
      expect(await page.locator('svg.chart g.bar:not([data-pkg]) text.label').evaluate((t) => t.firstChild!.textContent)).toBe('161 other packages, not to scale');
      expect(problems).toEqual([]);
      expect(size).toBeLessThan(5 * 1024 * 1024);
      console.log(`20,000 versions: HTML ${size} bytes; ready in ${ms} ms, sort ${sortMs} ms, filter ${filterMs} ms (incl. 120 ms debounce)`);
    } finally {
      await page.close();
    }
  });

  it('a filter, a chart bar or a package link used on a later page shows the first page of what matches, not an empty table', async () => {
    const { page, problems } = await open(files.big);
    try {
      const toPage3 = async (table: string) => {
        await page.click(`#${table}-next`);
        await page.click(`#${table}-next`);
      };
      await page.click('#versions-table-next');
      await page.click('#versions-table-next');
      expect(await info(page, 'versions-table')).toBe('Rows 201–300 of 20,000');
      await page.fill('#versions-filter', '@acme/pkg-007');
      await page.waitForFunction(() => document.getElementById('versions-table-info')!.textContent!.includes('filtered from 20,000'));
      expect(await info(page, 'versions-table')).toMatch(/^Rows 1–\d+ of \d+ \(filtered from 20,000\)$/);
      expect(await rows(page, 'versions-table')).toBeGreaterThan(0);
      await page.fill('#versions-filter', '');
      await waitInfo(page, 'versions-table', 'Rows 1–100 of 20,000');
      // a chart bar, after paging on
      await toPage3('versions-table');
      expect(await info(page, 'versions-table')).toBe('Rows 201–300 of 20,000');
      await page.locator('svg.chart g.bar', { has: page.locator('text.label', { hasText: '@acme/pkg-010' }) }).click();
      expect(await info(page, 'versions-table')).toMatch(/^Rows 1–\d+ of \d+ \(filtered from 20,000\)$/);
      expect(new Set(await cells(page, 'versions-table', 1))).toEqual(new Set(['@acme/pkg-010']));
      // the outcome select, after paging on
      await page.click('#versions-package button');
      await toPage3('versions-table');
      await page.selectOption('#versions-outcome', 'conflict');
      expect(await info(page, 'versions-table')).toMatch(/^Rows 1–\d+ of \d+ \(filtered from 20,000\)$/);
      // the packages table: its filter after paging on
      await page.click('#packages-table-next');
      expect(await info(page, 'packages-table')).toBe('Rows 101–200 of 200');
      await page.fill('#packages-filter', 'pkg-00');
      await waitInfo(page, 'packages-table', 'Rows 1–10 of 10 (filtered from 200)');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('takes a full-page screenshot of a realistic report', async () => {
    const { page } = await open(files.realistic);
    try {
      const target = process.env.UPDATE_REPORT_SCREENSHOT === '1' ? fileURLToPath(new URL('./fixtures/report/screenshot.png', import.meta.url)) : join(dir, 'screenshot.png');
      const png = await page.screenshot({ path: target, fullPage: true });
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      // as wide as the viewport: nothing overflows sideways
      expect(png.readUInt32BE(16)).toBe(1280);
      expect(await page.evaluate(() => (document as unknown as { documentElement: { scrollWidth: number } }).documentElement.scrollWidth)).toBe(1280);
    } finally {
      await page.close();
    }
  });
});

/**
 * `report` with the payload appended to every string the schema lets be any text (job, target,
 * repositories, sources, findings, exposure, hardening, warm, go.sum, preflight, versions,
 * provenance, errors and hints): strings the schema holds to a list (an outcome, a format) are
 * left as they were.
 */
function everyTextHostile(report: Report, payload: string): Report {
  type Path = (string | number)[];
  const paths: Path[] = [];
  const walk = (v: unknown, p: Path): void => {
    if (typeof v === 'string') paths.push(p);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(report, []);
  const at = (o: unknown, p: Path) => p.reduce<unknown>((a, k) => (a as Record<string | number, unknown>)[k], o);
  const put = (o: unknown, p: Path, v: unknown) => ((at(o, p.slice(0, -1)) as Record<string | number, unknown>)[p.at(-1)!] = v);
  const hostile = structuredClone(report);
  for (const p of paths) put(hostile, p, `${at(hostile, p) as string}${payload}`);
  for (let res = reportSchema.safeParse(hostile); !res.success; res = reportSchema.safeParse(hostile)) {
    for (const issue of res.error.issues) put(hostile, issue.path as Path, at(report, issue.path as Path));
  }
  return hostile;
}

describe('the HTML report with every text a source, a target or a file supplies hostile', () => {
  // each form a text takes into the page: element content, an attribute (both quotes), SVG, the
  // JSON in a <script> block (its end tag, a comment opening, U+2028), a link's scheme
  const PAYLOAD = `</script><script>window.__p=1;document.title='pwned'</script><img src=x onerror="window.__p=2">"'><svg onload="window.__p=3"><a href="javascript:window.__p=4">x</a><!--\u2028<style>*{display:none}</style>`;

  it('runs none of it, with or without the Content-Security-Policy: no element, handler, link or style is added, nothing is fetched', async () => {
    const hostile = everyTextHostile(realistic, PAYLOAD);
    expect(hostile.job.name.endsWith(PAYLOAD)).toBe(true);
    expect(hostile.packages[0]!.versions[0]!.version.endsWith(PAYLOAD)).toBe(true);
    const html = renderHtml(hostile);
    // the policy would stop an inline script that escaping let through: the page is opened without it too
    const csp = /<meta http-equiv="Content-Security-Policy"[^>]*>\n/;
    expect(html).toMatch(csp);
    for (const [name, text] of [['every-text.html', html], ['every-text-no-csp.html', html.replace(csp, '')]] as const) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const { page, problems, requests, url } = await open(file);
      try {
        // sort by every header and show a package's versions: the script draws what it holds
        for (const th of await page.locator('#packages-table th, #versions-table th').all()) await th.click();
        await page.fill('#versions-filter', 'logger');
        await page.waitForFunction(() => /^Rows 1–\d+ of \d+ \(filtered from 38\)$/.test(document.getElementById('versions-table-info')!.textContent ?? ''));
        await page.locator('#packages-table button.link').first().click();
        expect(await page.evaluate(() => (window as unknown as { __p?: number }).__p)).toBeUndefined();
        expect(await page.title()).toMatch(/^Migration plan: acme-migration<\/script><script>window\.__p=1;document\.title='pwned'/);
        expect(await page.evaluate(() => [document.scripts.length, document.images.length, document.querySelectorAll('[onload], [onerror], a, [href], style').length])).toEqual([2, 0, 1]);
        expect(problems).toEqual([]);
        expect(requests).toEqual([url]);
        // the text is shown whole: the first package's name, the payload included
        expect(await page.locator('#packages-table button.link').first().textContent()).toContain(`<img src=x onerror="window.__p=2">`);
      } finally {
        await page.close();
      }
    }
  });
});


describe('the HTML report at the scale of a company, with texts as long as a source makes them', () => {
  it('with 500 packages of 40 versions each: the chart draws 39 of them to a scale the biggest fills, and the bar summing the other 461 says it is not to scale', async () => {
    const even = makeBigState(dir, 20_000, 500, 'even');
    const file = join(dir, 'even.html');
    try {
      writeFileSync(file, renderHtml(buildReport(reportInputFromState(even, bigJob()))));
    } finally {
      even.close();
    }
    const { page, problems } = await open(file);
    try {
      const bars = await page.locator('svg.chart g.bar').evaluateAll((gs) =>
        gs.map((g) => {
          const q = g as unknown as { getAttribute(a: string): string | null; querySelector(s: string): { firstChild: { textContent: string } }; querySelectorAll(s: string): { getBoundingClientRect(): { width: number } }[] };
          return { pkg: q.getAttribute('data-pkg'), label: q.querySelector('text.label').firstChild.textContent, width: [...q.querySelectorAll('rect')].reduce((s, r) => s + r.getBoundingClientRect().width, 0) };
        }),
      );
      expect(bars.length).toBe(40);
      const widest = Math.max(...bars.map((b) => b.width));
      // every package is as big as the biggest: each bar as wide as the scale, not a sliver beside the sum of the rest
      for (const b of bars.slice(0, 39)) expect(b.pkg !== null && b.width > widest * 0.9).toBe(true);
      expect(bars[39]!.pkg).toBeNull();
      expect(bars[39]!.label).toMatch(/^461 other packages/);
      expect(await page.locator('#chart').textContent()).toMatch(/the other 461 are summed in the last bar, drawn shortened \(not to scale\)/);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a name, version or message thousands of characters long without a break: every row of every table keeps its outcome in view, nothing is pushed sideways', async () => {
    const long = structuredClone(realistic);
    const p = long.packages.find((x) => x.versions.length > 0)!;
    p.name = `@acme/${'n'.repeat(3_000)}`;
    p.versions[0]!.version = `1.0.0-${'v'.repeat(5_000)}`;
    p.versions[0]!.provenance = p.versions[0]!.provenance.kind === 'registry' ? { ...p.versions[0]!.provenance, registryUrl: `https://npm.acme.example/${'u'.repeat(2_000)}` } : p.versions[0]!.provenance;
    p.versions[1]!.outcome = { ...p.versions[1]!.outcome, code: `E${'C'.repeat(500)}`, message: `m${'m'.repeat(4_000)}` };
    long.packages[1]!.metadata = { state: 'failed', error: `dist-tags: ${'d'.repeat(4_000)}` };
    long.sources[0]!.id = `s${'s'.repeat(1_000)}`;
    const file = join(dir, 'long-texts.html');
    writeFileSync(file, renderHtml(long));
    const { page, problems } = await open(file);
    try {
      expect(await info(page, 'versions-table')).toBe(`Rows 1–${long.totals.versions} of ${long.totals.versions}`);
      // a table may scroll sideways a little when every column holds a long text at once, never by thousands of
      // pixels (the warm table's 14 columns of counts scroll sideways by design: no text of a source is in it)
      const overflow = await page.evaluate(() =>
        Array.from(document.querySelectorAll('.tablewrap, section:not(#warm) > .scroll') as unknown as { scrollWidth: number; clientWidth: number; closest(s: string): { id: string } | null }[])
          .filter((w) => w.scrollWidth > w.clientWidth * 1.5)
          .map((w) => `${w.closest('section')?.id}: ${w.scrollWidth} > ${w.clientWidth}`),
      );
      expect(overflow).toEqual([]);
      // the outcome of every version, and the outcomes of every package, are drawn inside the window
      for (const selector of ['#versions-table tbody td:nth-child(5) .chip', '#packages-table tbody td:nth-child(6) .chip']) {
        const rights = await page.locator(selector).evaluateAll((cs) => cs.map((c) => (c as unknown as { getBoundingClientRect(): { right: number } }).getBoundingClientRect().right));
        expect(rights.length).toBeGreaterThan(0);
        expect(rights.filter((r) => r > 1280)).toEqual([]);
      }
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
