/**
 * The HTML form: one self-contained file (inline CSS, inline script, inline
 * SVG; no font, image, CDN or fetch), readable from file:// and offline. A
 * Content-Security-Policy allows only this page's own script and style (by
 * hash) and no connection of any kind, so even a mistake in escaping could not
 * run a source's text as script or reach the network.
 *
 * Static HTML: verdict, key figures, findings, the chart (stacked bars of
 * versions per package and outcome), totals, estimate, the other sections.
 * Script-driven: the package and version tables (sort by a header, filter by
 * text, outcome and format, paged), from the data embedded as JSON, so 20,000
 * versions cost data, not DOM.
 */
import { createHash } from 'node:crypto';
import { CSS, SCRIPT } from './html-assets.js';
import type { Finding, OutcomeKey, Report } from './schema.js';
import {
  formatBytes,
  formatsIn,
  formatDuration,
  int,
  oneLine,
  OUTCOME_MEANING,
  OUTCOME_ORDER,
  PROBLEM_OUTCOMES,
  provenanceLine,
  provenanceTime,
  outcomeDetail,
  shorten,
  title,
  VERDICT_WORD,
  WARM_COLUMNS,
  LISTED_ON_TARGET_TEXT,
  auditFromText,
} from './text.js';
import { firstLockfiles, LOCKFILES_SHOWN, outcomeCounts, warmEntries, type WarmEntry } from './warm.js';

export interface HtmlOptions {
  /** Bars in the chart before the rest is summed into one (default 40). */
  maxChartBars?: number;
  /** Rows per table page at first (default 100). */
  pageSize?: 50 | 100 | 500 | 1000;
}

/** Text into HTML (element content or a double-quoted attribute); control and bidi characters made visible. */
export function esc(s: string | number | null | undefined): string {
  return oneLine(String(s ?? '')).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON inside <script type="application/json">: nothing in it can close the element or open a comment. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('base64');

function chip(key: OutcomeKey, text: string = key): string {
  return `<span class="chip o-${key}" title="${esc(OUTCOME_MEANING[key])}">${esc(text)}</span>`;
}

function sortable(head: [label: string, numeric?: boolean][], rows: (string | { v: number; html: string })[][]): string {
  const th = head.map(([l, n]) => `<th${n ? ' class="num"' : ''} aria-sort="none">${esc(l)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => (typeof c === 'string' ? `<td>${c}</td>` : `<td class="num" data-v="${c.v}">${c.html}</td>`)).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table class="sortable"><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table></div>`;
}
const n = (v: number) => ({ v, html: esc(int(v)) });
const bytes = (v: number) => ({ v, html: esc(formatBytes(v)) });

function header(r: Report): string {
  const repos = formatsIn(r.target.repositories)
    .map(([f, x]) => `${esc(f)} → <code>${esc(x!.internal)}</code>${x!.store ? ` (store <code>${esc(x!.store)}</code>` : ''}${x!.shared ? `${x!.store ? ',' : ' ('} shared <code>${esc(x!.shared)}</code>` : ''}${x!.store || x!.shared ? ')' : ''}`)
    .join('; ');
  const run = r.run ? `#${r.run.id}${r.run.dryRun ? ' (dry run)' : ''}, started ${esc(r.run.startedAt)}${r.run.endedAt ? `, ended ${esc(r.run.endedAt)}` : ', did not finish'}${r.run.outcome ? `: ${esc(r.run.outcome)}` : ''}` : 'none recorded';
  return `<header class="verdict ${r.verdict.status}"><div class="inner"><div class="badge" id="verdict">${VERDICT_WORD[r.verdict.status]}</div><div><h1>${esc(title(r))}</h1><p class="headline" id="headline">${esc(r.verdict.headline)}</p></div></div></header>
<main>
<dl class="meta">
<dt>Job</dt><dd><code>${esc(r.job.name)}</code> from <code>${esc(r.job.file)}</code>${r.job.sha256 ? `, SHA-256 <code>${esc(r.job.sha256)}</code>` : ''}</dd>
<dt>Run</dt><dd>${run}</dd>
<dt>Target</dt><dd>domain <code>${esc(r.target.domain)}</code>, owner <code>${esc(r.target.domainOwner)}</code>, ${esc(r.target.region)}; ${repos}</dd>
<dt>Generated</dt><dd>${esc(r.generatedAt)} by codeartifact-migrate ${esc(r.tool.version)} (report schema ${r.schemaVersion})</dd>${r.auditFrom ? `\n<dt>Domain audit</dt><dd>from plan #${r.auditFrom.runId}${esc(auditFromText(r.auditFrom, r.job.sha256))}</dd>` : ''}
</dl>`;
}

function cards(r: Report): string {
  const o = (k: OutcomeKey) => r.totals.byOutcome[k]?.versions ?? 0;
  const critical = r.findings.filter((f) => f.severity === 'critical').length;
  const list: [string, string, boolean?][] = [
    [int(r.totals.versions), 'versions'],
    [int(r.totals.packages), 'packages'],
    [formatBytes(r.totals.bytes), 'measured size'],
    r.kind === 'plan' ? [int(o('publish') + o('unchecked') - (r.totals.uncheckedOnTarget?.versions ?? 0)), 'to publish'] : [int(o('verified') + o('present-identical')), 'on the target, verified'],
    [int(o('conflict')), 'conflicts', o('conflict') > 0],
    [int(o('source-error') + o('error') + o('failed')), r.kind === 'plan' ? 'errors' : 'failed', o('source-error') + o('error') + o('failed') > 0],
    [int(critical), 'critical findings', critical > 0],
    [r.estimate ? formatDuration(r.estimate.seconds) : '—', r.kind === 'plan' ? 'estimated duration' : 'estimated for the rest'],
  ];
  return `<div class="cards" id="summary">${list.map(([v, l, bad]) => `<div class="card${bad ? ' bad' : ''}"><div class="n">${esc(v)}</div><div class="l">${esc(l)}</div></div>`).join('')}</div>`;
}

/**
 * Longest text of a finding, in characters: its subjects and texts name what a source named (a version of
 * 5,000 characters), and twelve of them whole would bury the findings after it. The JSON keeps them whole.
 */
const FINDING_SUBJECT_MAX = 200;
const FINDING_TEXT_MAX = 1_000;

function findingsHtml(r: Report): string {
  const item = (f: Finding) =>
    `<li class="finding ${f.severity}"><span class="sev ${f.severity}">${f.severity === 'critical' ? 'CRITICAL' : 'WARNING'}</span><code>${esc(f.code)}</code> <strong>${esc(shorten(f.title, FINDING_TEXT_MAX))}</strong>` +
    (f.detail ? `<div class="finding-detail">${esc(shorten(f.detail, FINDING_TEXT_MAX))}</div>` : '') +
    `<div class="action"><b>What to do:</b> ${esc(shorten(f.action, FINDING_TEXT_MAX))}</div>` +
    (f.subjects.length ? `<div class="finding-subjects">Concerns: ${f.subjects.slice(0, 12).map((s) => `<code>${esc(shorten(s, FINDING_SUBJECT_MAX))}</code>`).join(', ')}${f.count > 12 ? ` and ${esc(int(f.count - 12))} more` : ''}</div>` : '') +
    '</li>';
  const critical = r.findings.filter((f) => f.severity === 'critical');
  const warnings = r.findings.filter((f) => f.severity === 'warning');
  return `<section id="findings"><h2>Critical findings (${critical.length})</h2>${critical.length ? `<ol class="findings">${critical.map(item).join('\n')}</ol>` : '<p>None: nothing blocks cutover.</p>'}
${warnings.length ? `<h2>Warnings (${warnings.length})</h2><ol class="findings">${warnings.map(item).join('\n')}</ol>` : ''}</section>`;
}

/** Stacked horizontal bars: one per package (the biggest first), one segment per outcome. */
function chart(r: Report, maxBars: number): string {
  const indexed = r.packages.map((p, i) => ({ p, i })).filter(({ p }) => p.versionCount > 0);
  const ranked = [...indexed].sort((a, b) => b.p.versionCount - a.p.versionCount || (a.p.name < b.p.name ? -1 : 1));
  const shown = ranked.length > maxBars ? ranked.slice(0, maxBars - 1) : ranked;
  const rest = ranked.slice(shown.length);
  const bars: { label: string; full: string; pkg: number | null; counts: Partial<Record<OutcomeKey, number>>; total: number }[] = shown.map(({ p, i }) => ({ label: p.name, full: `${p.name} (${p.format})`, pkg: i, counts: p.counts, total: p.versionCount }));
  if (rest.length) {
    const counts: Partial<Record<OutcomeKey, number>> = {};
    for (const { p } of rest) for (const [k, v] of Object.entries(p.counts)) counts[k as OutcomeKey] = (counts[k as OutcomeKey] ?? 0) + v;
    bars.push({ label: `${rest.length} other packages`, full: `${rest.length} other packages`, pkg: null, counts, total: rest.reduce((s, x) => s + x.p.versionCount, 0) });
  }
  if (bars.length === 0) return '<section id="chart"><h2>Versions per package and outcome</h2><p>No versions.</p></section>';
  const present = OUTCOME_ORDER.filter((k) => r.totals.byOutcome[k]);
  // the scale is the biggest package's: the sum of hundreds of others would shrink every package to a sliver.
  // That sum, when bigger, is drawn as wide as the scale, its segments in proportion, and said to be shortened
  const max = Math.max(...bars.filter((b) => b.pkg !== null).map((b) => b.total), 1);
  const shortened = rest.length > 0 && bars.at(-1)!.total > max;
  const labelW = 290;
  const barW = 600;
  const rowH = 22;
  const top = 6;
  const height = top + bars.length * rowH + 8;
  const rows = bars.map((b, row) => {
    const y = top + row * rowH;
    let x = labelW + 10;
    const scale = b.pkg === null && shortened ? b.total : max;
    const segs = present
      .filter((k) => b.counts[k])
      .map((k) => {
        const w = (b.counts[k]! / scale) * barW;
        const rect = `<rect class="seg o-${k}" x="${x.toFixed(2)}" y="${y + 2}" width="${Math.max(w, 0.75).toFixed(2)}" height="${rowH - 6}"><title>${esc(`${b.full}: ${int(b.counts[k]!)} ${k}`)}</title></rect>`;
        x += w;
        return rect;
      })
      .join('');
    const label = b.pkg === null && shortened ? `${b.label}, not to scale` : shorten(b.label, 40);
    const attrs = b.pkg === null ? 'class="bar"' : `class="bar" data-pkg="${b.pkg}" tabindex="0" role="button" aria-label="${esc(`${b.full}: ${int(b.total)} versions; show them`)}"`;
    const cut = b.pkg === null && shortened;
    // two white strokes across the bar near its end: the mark of an axis break
    const mark = cut ? `<path class="cut" d="M${(x - 18).toFixed(2)} ${y + rowH - 3} l6 ${-(rowH - 4)} M${(x - 12).toFixed(2)} ${y + rowH - 3} l6 ${-(rowH - 4)}"/>` : '';
    return `<g ${attrs}><text class="label" x="${labelW}" y="${y + rowH / 2 + 2}" text-anchor="end" dominant-baseline="middle">${esc(label)}<title>${esc(b.full)}</title></text>${segs}${mark}<text class="count" x="${(x + 6).toFixed(2)}" y="${y + rowH / 2 + 2}" dominant-baseline="middle">${esc(int(b.total))}</text></g>`;
  });
  const legend = present.map((k) => `<li>${chip(k, `${k} ${int(r.totals.byOutcome[k]!.versions)}`)}</li>`).join('');
  return `<section id="chart"><h2>Versions per package and ${r.kind === 'plan' ? 'planned outcome' : 'outcome'}</h2>
<ul class="legend">${legend}</ul>
<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${labelW + barW + 80} ${height}" role="img" aria-label="versions per package, stacked by outcome">
<line class="axis" x1="${labelW + 10}" y1="0" x2="${labelW + 10}" y2="${height}"/>
${rows.join('\n')}
</svg>${rest.length ? `<p class="note">The ${maxBars - 1} packages with the most versions; the other ${int(rest.length)} are summed in the last bar${shortened ? ', drawn shortened (not to scale)' : ''} (the package table lists them all).</p>` : ''}<p class="note">Click a bar to list that package's versions.</p></section>`;
}

function totalsHtml(r: Report): string {
  const t = r.totals;
  const outcomes = OUTCOME_ORDER.filter((k) => t.byOutcome[k]).flatMap((k) => [
    [chip(k), n(t.byOutcome[k]!.versions), n(t.byOutcome[k]!.files), bytes(t.byOutcome[k]!.bytes), esc(OUTCOME_MEANING[k])],
    ...(k === 'unchecked' && t.uncheckedOnTarget?.versions ? [[esc(`of which ${LISTED_ON_TARGET_TEXT.label}`), n(t.uncheckedOnTarget.versions), n(t.uncheckedOnTarget.files), bytes(t.uncheckedOnTarget.bytes), esc(LISTED_ON_TARGET_TEXT.meaning)]] : []),
  ]);
  const formats = formatsIn(t.byFormat).map(([f, c]) => [esc(f), n(c.packages), n(c.versions), bytes(c.bytes), `<code>${esc(r.target.repositories[f]?.internal ?? '')}</code>`]);
  const sources = r.sources.map((s) => {
    const c = t.bySource[s.id] ?? { packages: 0, versions: 0, files: 0, bytes: 0 };
    return [`<code>${esc(s.id)}</code>`, esc(`${s.kind}${s.enabled ? '' : ' (disabled)'}`), `<code>${esc(s.url)}</code>`, n(c.packages), n(c.versions), bytes(c.bytes)];
  });
  return `<section id="totals"><h2>Totals</h2>
${sortable([['Outcome'], ['Versions', true], ['Files', true], ['Size', true], ['Meaning']], outcomes)}
${sortable([['Format'], ['Packages', true], ['Versions', true], ['Size', true], ['Repository']], formats)}
${sortable([['Source'], ['Kind'], ['URL'], ['Packages', true], ['Versions', true], ['Size', true]], sources)}</section>`;
}

function estimateHtml(r: Report): string {
  const e = r.estimate;
  if (!e) return `<section id="estimate"><h2>Estimated duration</h2><p>${r.kind === 'plan' ? 'Nothing left to publish.' : 'Nothing left to do.'}</p></section>`;
  return `<section id="estimate"><h2>Estimated duration</h2>
<p>About <strong>${esc(formatDuration(e.seconds))}</strong> for ${esc(int(e.work.versions))} version(s), ${esc(int(e.work.files))} file(s), ${esc(formatBytes(e.work.bytes))}: set by <strong>${esc(e.bound)}</strong>.</p>
${sortable([['Component'], ['Seconds', true], ['How']], e.components.map((c) => [c.name === e.bound ? `<strong>${esc(c.name)}</strong>` : esc(c.name), { v: c.seconds, html: esc(int(Math.round(c.seconds))) }, esc(c.detail)]))}
<details><summary>Assumptions</summary><ul>${e.assumptions.map((a) => `<li>${esc(a)}</li>`).join('')}</ul></details></section>`;
}

function sectionsHtml(r: Report): string {
  const out: string[] = [];
  // carried from an earlier plan: each heading says whose and when
  const from = r.auditFrom ? esc(` (plan #${r.auditFrom.runId}'s, of ${r.auditFrom.at})`) : '';
  const status = (s: 'ok' | 'warn' | 'fail', text: string = s) => `<span class="status-${s}">${esc(text.toUpperCase())}</span>`;
  if (r.preflight) {
    const p = r.preflight;
    out.push(`<section id="preflight"><h2>Preflight audit${from}</h2><p>Principal: ${p.principalArn ? `<code>${esc(p.principalArn)}</code>` : 'unknown'}${p.checkedAt ? `, checked ${esc(p.checkedAt)}` : ''}</p>
${sortable([['Status'], ['Check'], ['Detail'], ['Fix']], p.checks.map((c) => [status(c.status), esc(c.title), esc(c.detail), esc(c.fix ?? '')]))}
${p.findings.length ? `<ul>${p.findings.map((f) => `<li><span class="sev ${f.severity === 'critical' ? 'critical' : 'warning'}">${esc(f.severity.toUpperCase())}</span>${esc(f.message)}${f.fix ? ` — ${esc(f.fix)}` : ''}</li>`).join('')}</ul>` : ''}</section>`);
  }
  if (r.exposure) {
    out.push(`<section id="exposure"><h2>Dependency-confusion exposure${from}</h2>
${sortable(
  [['Status'], ['Name'], ['Format'], ['Public registry'], ['Public'], ['Protected by']],
  r.exposure.names.map((x) => [
    status(x.status === 'exposed' ? 'fail' : x.status === 'protected' ? 'ok' : 'warn', x.status),
    `<code>${esc(x.name)}</code>`,
    esc(x.format),
    `<code>${esc(x.publicRegistry)}</code>`,
    x.existsPublicly ? `yes${x.publicVersions !== null ? `, ${esc(int(x.publicVersions))} versions` : ''}${x.latestPublic ? `, latest <code>${esc(x.latestPublic)}</code>` : ''}` : 'no',
    x.protections.map((p) => `${p.effective ? '✓' : '✗'} ${esc(p.kind)}: ${esc(p.detail)}`).join('<br>') || 'nothing',
  ]),
)}</section>`);
  }
  if (r.hardening) {
    const oc = (c: { publish: string; upstream: string } | null) => (c ? esc(`publish ${c.publish}, upstream ${c.upstream}`) : 'unset');
    const groups = r.hardening.groups.length
      ? `<h3>Package groups</h3>
${sortable([['Status'], ['Pattern'], ['Before'], ['After'], ['Why']], r.hardening.groups.map((g) => [esc(g.status), `<code>${esc(g.pattern)}</code>`, g.before === null ? (g.status === 'left' ? 'not read' : 'absent (to create)') : esc(g.before), g.after === null ? 'left as it is' : esc(g.after), esc(g.reason ?? '')]))}
`
      : '';
    const kept = r.hardening.kept.length
      ? `<h3>Kept publish BLOCK (nothing will be published into them)</h3>
${sortable([['Package'], ['Format'], ['Repository'], ['Why']], r.hardening.kept.map((k) => [`<code>${esc(k.package)}</code>`, esc(k.format), `<code>${esc(k.repository)}</code>`, esc(k.reason)]))}
`
      : '';
    out.push(`<section id="hardening"><h2>Hardening (origin configuration)</h2>
${groups}${kept}${groups || kept ? '<h3>Packages</h3>\n' : ''}${sortable([['Status'], ['Package'], ['Format'], ['Repository'], ['Before'], ['After']], r.hardening.changes.map((c) => [esc(c.status), `<code>${esc(c.namespace ? `${c.namespace}/${c.package}` : c.package)}</code>`, esc(c.format), `<code>${esc(c.repository)}</code>`, oc(c.before), `${oc(c.after)}${c.error ? `<br>${c.code ? `<code>${esc(c.code)}</code>: ` : ''}${esc(c.error)}` : ''}`]))}</section>`);
  }
  if (r.warm) {
    out.push(`<section id="warm"><h2>Warm results</h2>
${sortable(
  [['Lockfile'], ['Kind'], ...WARM_COLUMNS.map(([, label]): [string, boolean] => [label, true])],
  r.warm.lockfiles.map((l) => [`<code>${esc(l.path)}</code>`, esc(l.kind), ...WARM_COLUMNS.map(([k]) => n(l.counts[k]))]),
)}
${warmProblemsHtml(r.warm)}</section>`);
  }
  if (r.goSum) {
    const g = r.goSum;
    out.push(`<section id="gosum"><h2>go.sum check</h2><p>${esc(int(g.files))} file(s), ${esc(int(g.checked))} line(s) checked, ${esc(int(g.mismatches.length))} differ, ${esc(int(g.errors.length))} unreadable.</p>
${g.mismatches.length ? sortable([['File:line'], ['Module'], ['Version'], ['Kind'], ['go.sum'], ['Built']], g.mismatches.map((m) => [`<code>${esc(`${m.file}:${m.line}`)}</code>`, `<code>${esc(m.module)}</code>`, `<code>${esc(m.version)}</code>`, esc(m.kind), `<code>${esc(m.goSum)}</code>`, `<code>${esc(m.built)}</code>`])) : ''}
${g.errors.length ? `<ul>${g.errors.map((e) => `<li><code>${esc(e.file)}</code>: ${esc(e.message)}</li>`).join('')}</ul>` : ''}</section>`);
  }
  return out.join('\n');
}

/**
 * Every warm problem, each entry once (its size grows with the entries, not entries × lockfiles):
 * the first lockfiles naming it and how many more; the table above names each lockfile once with
 * its counts, and the JSON form has every lockfile of every entry. Open when one blocks cutover.
 */
function warmProblemsHtml(w: NonNullable<Report['warm']>): string {
  const entries = warmEntries(w);
  if (entries.length === 0) return '';
  const critical = entries.some((e) => e.outcome === 'integrity-mismatch');
  const lockfiles = (e: WarmEntry) => {
    const f = firstLockfiles(e);
    return { v: e.lockfiles.length, html: `${f.shown.map((p) => `<code>${esc(p)}</code>`).join(', ')}${f.more ? ` <span class="more">and ${esc(int(f.more))} more</span>` : ''}` };
  };
  return `<details id="warm-problems"${critical ? ' open' : ''}><summary>Problems: ${esc(int(entries.length))} package(s) (${esc(outcomeCounts(entries))})</summary>
${sortable([['Name'], ['Version'], ['Outcome'], ['Lockfiles', true], ['Detail']], entries.map((e) => [`<code>${esc(e.name)}</code>`, `<code>${esc(e.version)}</code>`, esc(e.outcome), lockfiles(e), esc(shorten(e.detail, 300))]))}
<p class="note">Each package once, with the first ${LOCKFILES_SHOWN} lockfiles naming it; the JSON form of this report lists every lockfile of each, and each detail whole.</p></details>`;
}

function pager(id: string, pageSize: number): string {
  const sizes = [50, 100, 500, 1000].map((s) => `<option value="${s}"${s === pageSize ? ' selected' : ''}>${s}</option>`).join('');
  return `<div class="pager"><button type="button" id="${id}-prev">‹ Previous</button><span id="${id}-info" role="status"></span><button type="button" id="${id}-next">Next ›</button><label>rows per page <select id="${id}-size">${sizes}</select></label></div>`;
}

function tablesHtml(r: Report, pageSize: number): string {
  const formats = formatsIn(r.totals.byFormat).map(([f]) => f);
  const formatOptions = `<option value="">all formats</option>${formats.map((f) => `<option value="${esc(f)}">${esc(f)}</option>`).join('')}`;
  const outcomeOptions = `<option value="">all outcomes</option>${OUTCOME_ORDER.filter((k) => r.totals.byOutcome[k]).map((k) => `<option value="${k}">${k} (${esc(int(r.totals.byOutcome[k]!.versions))})</option>`).join('')}`;
  const head = (cols: [string, boolean?][]) => `<thead><tr>${cols.map(([l, num]) => `<th${num ? ' class="num"' : ''} aria-sort="none" title="sort">${esc(l)}</th>`).join('')}</tr></thead>`;
  return `<section id="packages"><h2>Packages (${esc(int(r.packages.length))})</h2>
<div class="controls"><input type="search" id="packages-filter" placeholder="Filter packages…" aria-label="Filter packages"><select id="packages-format" aria-label="Format">${formatOptions}</select></div>
<div class="tablewrap"><table id="packages-table" class="data">${head([['Package'], ['Format'], ['Sources'], ['Versions', true], ['Size', true], ['Outcomes'], ['Notes']])}<tbody></tbody></table></div>
${pager('packages-table', pageSize)}</section>
<section id="versions"><h2>Versions (${esc(int(r.totals.versions))})</h2>
<div class="controls"><input type="search" id="versions-filter" placeholder="Filter: package, version, code, text…" aria-label="Filter versions"><select id="versions-outcome" aria-label="Outcome">${outcomeOptions}</select><select id="versions-format" aria-label="Format">${formatOptions}</select><span id="versions-package" class="pkgchip" hidden>package <b></b> <button type="button" aria-label="show every package">×</button></span></div>
<div class="tablewrap"><table id="versions-table" class="data">${head([['Package'], ['Version'], ['Format'], ['Source'], ['Outcome'], ['Size', true], ['Files', true], ['Published'], ['Provenance'], ['Code'], ['Detail']])}<tbody></tbody></table></div>
${pager('versions-table', pageSize)}
<noscript><p>The package and version tables need JavaScript; the JSON report holds every version.</p></noscript>
<p class="note">Full hashes, file lists and provenance are in the JSON form of this report.</p></section>`;
}

/** The compact data the tables are drawn from: indexes instead of repeated strings. */
function tableData(r: Report): unknown {
  const outcomes = [...OUTCOME_ORDER];
  const formats = ['npm', 'pypi', 'generic'];
  const sources = [...new Set([...r.sources.map((s) => s.id), ...r.packages.flatMap((p) => p.sources)])];
  const oi = new Map(outcomes.map((o, i) => [o, i]));
  const si = new Map(sources.map((s, i) => [s, i]));
  const t = (s: string | null) => (s === null ? null : oneLine(s));
  const packages = r.packages.map((p) => [
    t(p.name),
    formats.indexOf(p.format),
    t(p.sources.join(', ')),
    p.versionCount,
    p.bytes,
    OUTCOME_ORDER.filter((k) => p.counts[k]).map((k) => [oi.get(k), p.counts[k]]),
    t(
      [
        ...p.listErrors.map((e) => `not listed by ${e.source}: ${e.code}`),
        // before a run, dist-tags are pending by nature: only a failure is news in a plan
        p.metadata && (p.metadata.state === 'failed' || (r.kind === 'run' && p.metadata.state === 'pending')) ? `dist-tags ${p.metadata.state}${p.metadata.error ? `: ${p.metadata.error}` : ''}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    ),
  ]);
  // every text passes t(), the publish time and the code too: a registry's `time` holds what it
  // likes, and the page writes a bidi override in a cell as the browser obeys it
  const versions = r.packages.flatMap((p, pi) =>
    p.versions.map((v) => [pi, t(v.version), si.get(v.source), oi.get(v.outcome.key), t(v.outcome.state), v.size, v.files.length, t(provenanceTime(v)), t(provenanceLine(v)), t(v.outcome.code), t(outcomeDetail(v, 300))]),
  );
  const problems = [...PROBLEM_OUTCOMES].map((k) => oi.get(k));
  return { outcomes, formats, sources: sources.map(oneLine), packages, versions, problems };
}

export function renderHtml(report: Report, options: HtmlOptions = {}): string {
  const pageSize = options.pageSize ?? 100;
  const maxBars = Math.max(2, options.maxChartBars ?? 40);
  const csp = [`default-src 'none'`, `script-src 'sha256-${sha256(SCRIPT)}'`, `style-src 'sha256-${sha256(CSS)}'`, `img-src data:`, `base-uri 'none'`, `form-action 'none'`].join('; ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="codeartifact-migrate ${esc(report.tool.version)}; report schema ${report.schemaVersion}">
<title>${esc(`${title(report)} — ${VERDICT_WORD[report.verdict.status]}`)}</title>
<style>${CSS}</style>
</head>
<body>
${header(report)}
${cards(report)}
${findingsHtml(report)}
${chart(report, maxBars)}
${totalsHtml(report)}
${estimateHtml(report)}
${sectionsHtml(report)}
${tablesHtml(report, pageSize)}
<footer>codeartifact-migrate ${esc(report.tool.version)} · report schema ${report.schemaVersion} · generated ${esc(report.generatedAt)}</footer>
</main>
<script type="application/json" id="report-data">${scriptJson(tableData(report))}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
