/**
 * The Markdown form, to paste into a change request: the verdict first, then
 * critical findings with what to do, totals, the estimate, the other sections,
 * and per-package tables. It stays pasteable at any size (a change request or an
 * issue body takes tens of kilobytes, not megabytes): tables are capped, the rows
 * that need a decision come first, and every cut says what it left out and where
 * the rest is (the JSON and HTML forms hold every version).
 *
 * Everything from a source is escaped: names and versions as code spans, other
 * text with backslash escapes, table pipes as \|, control and bidi characters
 * as visible \uXXXX, an @, a # or GH- split from what follows it, a $ in a span
 * of its own, so a package name cannot inject HTML, links, columns, mentions,
 * issue references or math.
 */
import type { Finding, OutcomeKey, Report, ReportPackage, ReportVersion } from './schema.js';
import {
  countsLine,
  day,
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
import { firstLockfiles, outcomeCounts, warmEntries, type WarmEntry } from './warm.js';

export interface MarkdownOptions {
  /** Rows in the package table (default 50). */
  maxPackages?: number;
  /** Version rows per package (default 12). */
  maxVersionsPerPackage?: number;
  /** Version rows in all (default 250): with the defaults, a report of any size stays under GitHub's 65,536-character limit for an issue or pull-request body. */
  maxVersionRows?: number;
  /** Subjects named per finding (default 10). */
  maxSubjects?: number;
}

/**
 * Longest text of one value, in characters: a source decides how long its names,
 * versions and messages are (an npm registry may list a version of any length as
 * a key of its packument), and a change request takes 65,536 characters in all.
 * The JSON and HTML forms keep every value whole. MAX_TEXT counts the text as
 * written, escapes included (an @ takes 9 characters, a $ 14).
 */
const MAX_CODE = 200;
const MAX_TEXT = 600;
/** The whole document: GitHub's limit for an issue or pull-request body is 65,536 characters. */
const MAX_CHARS = 60_000;
/**
 * What the warm problems take at most: integrity mismatches (critical) up to WARM_CRITICAL_ROOM
 * (about 120 rows with three long lockfile paths each), the others up to WARM_ROOM (about 60);
 * the rest of the document stays for the findings, the other sections and the packages.
 */
const WARM_ROOM = 16_000;
const WARM_CRITICAL_ROOM = 30_000;
/** What the package section takes at least (its heading and the notes of what it leaves out): kept free when the sections before it are cut. */
const PACKAGES_ROOM = 2_000;

/**
 * Free text: CommonMark backslash escapes for every character that could start inline markup or
 * HTML, at most MAX_TEXT characters as written: the escapes are counted (a text of 600 @ would
 * be 5,400 characters escaped), so the text is cut shorter until what is written fits.
 */
export function mdText(s: string): string {
  const line = oneLine(s);
  for (let keep = MAX_TEXT; ; ) {
    const written = escapeText(shorten(line, keep));
    if (written.length <= MAX_TEXT || keep === 1) return written;
    keep = Math.max(1, Math.min(keep - 1, Math.floor((keep * MAX_TEXT) / written.length)));
  }
}

function escapeText(s: string): string {
  return (
    s
      // Markdown drops leading spaces from inline text anyway; left in, they would carry a list
      // marker or a heading past the start-of-line guards below
      .replace(/^ +/, '')
      .replace(/[\\`*_[\]<>|~&]/g, '\\$&')
      // what starts a block only at the start of a line: a heading, a list item, a setext underline
      .replace(/^(\d{1,9})([.)])(?=\s|$)/, '$1\\$2')
      .replace(/^([-+#=])/, '\\$1')
      // GFM turns a bare URL into a link: a registry's message is text, never a link to follow
      .replace(/\b(https?|ftp):(?=\/\/)/gi, '$1\\:')
      .replace(/\b(www)\./gi, '$1\\.')
      // GFM links a@b.c, mailto:a@b.c and xmpp:a@b.c, and GitHub notifies @name and @org/team
      // (an npm scope is often an org's name) where the report is pasted. A backslash does not
      // stop a mention: GitHub finds them in the rendered text
      // (https://github.com/github/markup/issues/1168). An empty HTML comment after the @
      // splits the text there and shows nothing.
      .replace(/@/g, '@<!-- -->')
      // GitHub links #123, owner/repo#123 and GH-123 to issues and pull requests, found in the
      // rendered text as mentions are (a backslash does not stop them): split the same way
      // (https://docs.github.com/en/get-started/writing-on-github/working-with-advanced-formatting/autolinked-references-and-urls)
      .replace(/#(?=\d)/g, '#<!-- -->')
      .replace(/\b(GH-)(?=\d)/gi, '$1<!-- -->')
      // GitHub renders $...$ and $$...$$ as math, hiding or reshaping what is between; a dollar
      // in a span of its own is shown as it is, as GitHub's documentation says to write one
      // (https://docs.github.com/en/get-started/writing-on-github/working-with-advanced-formatting/writing-mathematical-expressions)
      .replace(/\$/g, '<span>$$</span>')
  );
}

/** A name or version as a code span (shown literally); one holding a table pipe as escaped text. */
export function mdCode(s: string): string {
  // a pipe after a backslash (`x\|`) would end the table cell whatever is done to it inside a
  // code span (GFM splits cells before it reads code spans): such a value is escaped text
  if (s.includes('|')) return mdText(s);
  const t = shorten(oneLine(s), MAX_CODE);
  // the fence is one backtick longer than the longest run inside (a loop: a spread of
  // every run's length would overflow the stack on a value with 100,000 of them)
  let longest = 0;
  for (const run of t.matchAll(/`+/g)) longest = Math.max(longest, run[0].length);
  const fence = '`'.repeat(longest + 1);
  const pad = t.startsWith('`') || t.endsWith('`') || t === '' ? ' ' : '';
  return `${fence}${pad}${t}${pad}${fence}`;
}

function table(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = head.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function findingItem(f: Finding, i: number, maxSubjects: number): string {
  const lines = [`${i + 1}. **${mdText(f.code)}** ${mdText(f.title)}`];
  if (f.detail) lines.push(`   ${mdText(f.detail)}`);
  lines.push(`   **What to do:** ${mdText(f.action)}`);
  if (f.subjects.length) {
    const shown = f.subjects.slice(0, maxSubjects).map(mdCode).join(', ');
    const more = f.count - Math.min(f.count, maxSubjects);
    lines.push(`   Concerns: ${shown}${more > 0 ? ` and ${int(more)} more` : ''}`);
  }
  return lines.join('\n');
}

function totalsSection(r: Report): string[] {
  const t = r.totals;
  const out = ['## Totals', ''];
  const keys = OUTCOME_ORDER.filter((k) => t.byOutcome[k]);
  out.push(
    table(
      ['outcome', 'versions', 'files', 'size', 'meaning'],
      [
        ...keys.flatMap((k) => [
          [`**${k}**`, int(t.byOutcome[k]!.versions), int(t.byOutcome[k]!.files), formatBytes(t.byOutcome[k]!.bytes), mdText(OUTCOME_MEANING[k])],
          ...(k === 'unchecked' && t.uncheckedOnTarget?.versions ? [[`of which ${LISTED_ON_TARGET_TEXT.label}`, int(t.uncheckedOnTarget.versions), int(t.uncheckedOnTarget.files), formatBytes(t.uncheckedOnTarget.bytes), mdText(LISTED_ON_TARGET_TEXT.meaning)]] : []),
        ]),
        ['total', int(t.versions), int(t.files), formatBytes(t.bytes), `${int(t.packages)} package(s)`],
      ],
      ['l', 'r', 'r', 'r', 'l'],
    ),
    '',
  );
  const formats = formatsIn(t.byFormat);
  if (formats.length) out.push(table(['format', 'packages', 'versions', 'size', 'repository'], formats.map(([f, c]) => [f, int(c.packages), int(c.versions), formatBytes(c.bytes), mdCode(r.target.repositories[f]?.internal ?? '')]), ['l', 'r', 'r', 'r', 'l']), '');
  out.push(
    table(
      ['source', 'kind', 'url', 'packages', 'versions', 'size'],
      r.sources.map((s) => {
        const c = t.bySource[s.id];
        return [mdCode(s.id), `${s.kind}${s.enabled ? '' : ' (disabled)'}`, mdCode(s.url), int(c?.packages ?? 0), int(c?.versions ?? 0), formatBytes(c?.bytes ?? 0)];
      }),
      ['l', 'l', 'l', 'r', 'r', 'r'],
    ),
    '',
  );
  return out;
}

function estimateSection(r: Report): string[] {
  const e = r.estimate;
  if (!e) return ['## Estimated duration', '', r.kind === 'plan' ? 'Nothing left to publish.' : 'Nothing left to do.', ''];
  const bound = e.components.find((c) => c.name === e.bound);
  return [
    '## Estimated duration',
    '',
    `About **${formatDuration(e.seconds)}** for ${int(e.work.versions)} version(s), ${int(e.work.files)} file(s), ${formatBytes(e.work.bytes)}; set by **${e.bound}**${bound ? ` (${mdText(bound.detail)})` : ''}.`,
    '',
    table(['component', 'seconds', 'how'], e.components.map((c) => [c.name === e.bound ? `**${c.name}**` : c.name, int(Math.round(c.seconds)), mdText(c.detail)]), ['l', 'r', 'l']),
    '',
    'Assumptions:',
    '',
    ...e.assumptions.map((a) => `- ${mdText(a)}`),
    '',
  ];
}

function otherSections(r: Report): string[] {
  const out: string[] = [];
  // carried from an earlier plan: each heading says whose and when
  const from = r.auditFrom ? ` (plan #<!-- -->${r.auditFrom.runId}'s, of ${mdText(r.auditFrom.at)})` : '';
  if (r.preflight) {
    const p = r.preflight;
    out.push(`## Preflight audit${from}`, '', `Principal: ${p.principalArn ? mdCode(p.principalArn) : 'unknown'}${p.checkedAt ? `, checked ${mdText(p.checkedAt)}` : ''}`, '');
    if (p.checks.length) out.push(table(['status', 'check', 'detail', 'fix'], p.checks.map((c) => [`**${c.status.toUpperCase()}**`, mdText(c.title), mdText(c.detail), mdText(c.fix ?? '')])), '');
    for (const f of p.findings) out.push(`- **${f.severity}**: ${mdText(f.message)}${f.fix ? ` — ${mdText(f.fix)}` : ''}`);
    if (p.findings.length) out.push('');
  }
  if (r.exposure) {
    out.push(`## Dependency-confusion exposure${from}`, '');
    out.push(
      table(
        ['status', 'name', 'format', 'public registry', 'public', 'protected by'],
        r.exposure.names.map((n) => [
          `**${n.status}**`,
          mdCode(n.name),
          n.format,
          mdCode(n.publicRegistry),
          n.existsPublicly ? `yes${n.latestPublic ? ` (latest ${mdCode(n.latestPublic)})` : ''}` : 'no',
          n.protections.map((p) => `${p.effective ? '✓' : '✗'} ${mdText(p.kind)}: ${mdText(p.detail)}`).join('; ') || 'nothing',
        ]),
      ),
      '',
    );
  }
  if (r.hardening) {
    const oc = (c: { publish: string; upstream: string } | null) => (c ? `publish ${c.publish}, upstream ${c.upstream}` : 'unset');
    out.push('## Hardening (origin configuration)', '');
    // the groups and the kept packages first: few, and each one to act on; the per-package changes may be thousands
    if (r.hardening.groups.length) {
      out.push('### Package groups', '');
      out.push(table(['status', 'pattern', 'before', 'after', 'why'], r.hardening.groups.map((g) => [`**${g.status}**`, mdCode(g.pattern), g.before === null ? (g.status === 'left' ? 'not read' : 'absent (to create)') : mdText(g.before), g.after === null ? 'left as it is' : mdText(g.after), g.reason ? mdText(g.reason) : ''])), '');
    }
    if (r.hardening.kept.length) {
      out.push('### Kept publish BLOCK (nothing will be published into them)', '');
      out.push(table(['package', 'format', 'repository', 'why'], r.hardening.kept.map((k) => [mdCode(k.package), k.format, mdCode(k.repository), mdText(k.reason)])), '');
    }
    if (r.hardening.groups.length || r.hardening.kept.length) out.push('### Packages', '');
    out.push(table(['status', 'package', 'format', 'repository', 'before', 'after'], r.hardening.changes.map((c) => [`**${c.status}**`, mdCode(c.namespace ? `${c.namespace}/${c.package}` : c.package), c.format, mdCode(c.repository), oc(c.before), `${oc(c.after)}${c.error ? ` — ${c.code ? `${mdCode(c.code)}: ` : ''}${mdText(c.error)}` : ''}`])), '');
  }
  if (r.warm) {
    out.push('## Warm results', '');
    out.push(
      table(
        ['lockfile', 'kind', ...WARM_COLUMNS.map(([, label]) => label)],
        r.warm.lockfiles.map((l) => [mdCode(l.path), mdText(l.kind), ...WARM_COLUMNS.map(([k]) => int(l.counts[k]))]),
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      ...warmProblems(r.warm),
    );
  }
  if (r.goSum) {
    const g = r.goSum;
    out.push('## go.sum check', '', `${int(g.files)} file(s), ${int(g.checked)} line(s) checked, ${int(g.mismatches.length)} differ, ${int(g.errors.length)} unreadable.`, '');
    if (g.mismatches.length) out.push(table(['file:line', 'module', 'version', 'kind', 'go.sum', 'built'], g.mismatches.slice(0, 50).map((m) => [mdCode(`${m.file}:${m.line}`), mdCode(m.module), mdCode(m.version), m.kind, mdCode(m.goSum), mdCode(m.built)])), '');
  }
  return out;
}

/**
 * The warm's problems, each package once (not once per lockfile naming it), most urgent first
 * (integrity mismatches, then blocked, missing upstream, ...), with the first lockfiles naming
 * it and how many more; rows are added while they fit (WARM_CRITICAL_ROOM, WARM_ROOM), and the
 * cut says what it left out by outcome. The lockfile table above names each lockfile once with its counts.
 */
function warmProblems(w: NonNullable<Report['warm']>): string[] {
  const entries = warmEntries(w);
  if (entries.length === 0) return [];
  const head = table(['package', 'version', 'outcome', 'lockfiles', 'detail'], []);
  const rows: string[] = [];
  let size = head.length;
  for (const e of entries) {
    const text = table([], [[mdCode(e.name), mdCode(e.version), `**${e.outcome}**`, lockfilesCell(e), mdText(shorten(e.detail, 160))]]).split('\n').pop()!;
    // sorted most urgent first: once a row does not fit, none after it would
    if (size + text.length + 1 > (e.outcome === 'integrity-mismatch' ? WARM_CRITICAL_ROOM : WARM_ROOM)) break;
    rows.push(text);
    size += text.length + 1;
  }
  const out = [`### Warm problems (${int(entries.length)} package(s))`, '', [head, ...rows].join('\n'), ''];
  const left = entries.slice(rows.length);
  if (left.length) {
    out.push(`*… and ${int(left.length)} more package(s) (${outcomeCounts(left)}): see the JSON or HTML report.*`, '');
  }
  return out;
}

function lockfilesCell(e: WarmEntry): string {
  const f = firstLockfiles(e);
  return `${f.shown.map(mdCode).join(', ')}${f.more ? ` and ${int(f.more)} more` : ''}`;
}

const priority = (k: OutcomeKey) => (PROBLEM_OUTCOMES.has(k) ? 0 : k === 'skipped' || k === 'excluded' || k === 'removed' ? 1 : 2);

function versionRows(p: ReportPackage, max: number): { rows: { cells: string[]; key: OutcomeKey }[]; left: Partial<Record<OutcomeKey, number>> } {
  // the rows that need a decision first, then the left-out ones, then the newest of the rest
  const ranked = p.versions.map((v, i) => ({ v, i })).sort((a, b) => priority(a.v.outcome.key) - priority(b.v.outcome.key) || b.i - a.i);
  const shown = ranked.slice(0, max);
  const left: Partial<Record<OutcomeKey, number>> = {};
  for (const { v } of ranked.slice(max)) left[v.outcome.key] = (left[v.outcome.key] ?? 0) + 1;
  const row = (v: ReportVersion) => [
    mdCode(v.version),
    `**${v.outcome.key}**`,
    v.size === null ? '' : formatBytes(v.size),
    // the publish time is the source's text like any other (an npm registry's `time` may hold anything)
    `${mdCode(v.source)} ${mdText(provenanceLine(v))}${provenanceTime(v) ? ` ${mdText(day(provenanceTime(v)))}` : ''}`,
    mdText(outcomeDetail(v, 160)),
  ];
  return { rows: shown.map(({ v }) => ({ cells: row(v), key: v.outcome.key })), left };
}

/**
 * The package table and the version tables, in `room` characters: row caps alone
 * do not bound the size when a source's names or versions are long, so rows are
 * added while they fit, and every cut says what it left out.
 */
function packagesSection(r: Report, o: Required<MarkdownOptions>, room: number): string[] {
  const out = ['## Packages', ''];
  const pkgs = r.packages;
  if (pkgs.length === 0) return [...out, 'No package listed.', ''];
  // what the notes at the end take at most (counts and words, no value from a source)
  let left = room - 1_000;
  const fits = (text: string) => {
    if (text.length + 1 > left) return false;
    left -= text.length + 1;
    return true;
  };
  // packages needing a decision first, then those with versions left out, when not all fit
  const rank = (p: ReportPackage) => (p.listErrors.length || p.versions.some((v) => PROBLEM_OUTCOMES.has(v.outcome.key)) ? 0 : p.versions.some((v) => priority(v.outcome.key) === 1) ? 1 : 2);
  const ranked = pkgs.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i);
  const packageRow = (p: ReportPackage) => [
    mdCode(p.name),
    p.format,
    p.sources.map(mdCode).join(', '),
    int(p.versionCount),
    formatBytes(p.bytes),
    [
      mdText(countsLine(p.counts)),
      p.listErrors.length ? `**not listed: ${p.listErrors.map((e) => mdText(e.code)).join(', ')}**` : '',
      p.metadata?.state === 'failed' ? `dist-tags failed: ${mdText(p.metadata.error ?? '')}` : '',
    ]
      .filter(Boolean)
      .join('; '),
  ];
  const head = table(['package', 'format', 'source(s)', 'versions', 'size', 'outcomes'], [], ['l', 'l', 'l', 'r', 'r', 'l']);
  fits(head);
  const inTable = new Set<ReportPackage>();
  const rowText = new Map<ReportPackage, string>();
  for (const { p } of ranked.slice(0, o.maxPackages)) {
    const text = table([], [packageRow(p)]).split('\n').pop()!;
    if (!fits(text)) break;
    inTable.add(p);
    rowText.set(p, text);
  }
  const listed = pkgs.filter((p) => inTable.has(p));
  out.push([head, ...listed.map((p) => rowText.get(p)!)].join('\n'), '');
  if (listed.length < pkgs.length) {
    const rest = pkgs.filter((p) => !inTable.has(p));
    out.push(`*${int(rest.length)} more package(s) with ${int(rest.reduce((n, p) => n + p.versionCount, 0))} version(s) are not shown (${mdText(countsLine(sumCounts(rest)))}): see the JSON or HTML report.*`, '');
  }
  // version tables, within a budget of rows and of characters, in the same order of urgency
  let budget = o.maxVersionRows;
  const detailed = new Set<ReportPackage>();
  for (const { p } of ranked) {
    if (p.versions.length === 0 || budget <= 0) continue;
    const { rows, left: leftOut } = versionRows(p, Math.min(o.maxVersionsPerPackage, budget));
    const heading = `### ${mdCode(p.name)} (${p.format})`;
    const tableHead = table(['version', 'outcome', 'size', 'source', 'detail'], [], ['l', 'l', 'r', 'l', 'l']);
    if (!fits(`${heading}\n\n${tableHead}\n\n`)) break;
    const shown: string[] = [];
    for (const row of rows) {
      const text = table([], [row.cells]).split('\n').pop()!;
      if (!fits(text)) break;
      shown.push(text);
    }
    budget -= shown.length;
    detailed.add(p);
    out.push(heading, '', [tableHead, ...shown].join('\n'), '');
    const more = p.versions.length - shown.length;
    for (const row of rows.slice(shown.length)) leftOut[row.key] = (leftOut[row.key] ?? 0) + 1;
    if (more > 0) out.push(`*… and ${int(more)} more version(s) (${mdText(countsLine(leftOut))}): see the JSON or HTML report.*`, '');
    if (shown.length < rows.length) break;
  }
  const undetailed = pkgs.filter((p) => p.versions.length > 0 && !detailed.has(p));
  if (undetailed.length) out.push(`*Version tables end here: ${int(undetailed.length)} more package(s) (${mdText(countsLine(sumCounts(undetailed)))}) are in the JSON and HTML reports.*`, '');
  return out;
}

function sumCounts(pkgs: ReportPackage[]): Partial<Record<OutcomeKey, number>> {
  const c: Partial<Record<OutcomeKey, number>> = {};
  for (const p of pkgs) for (const [k, n] of Object.entries(p.counts)) c[k as OutcomeKey] = (c[k as OutcomeKey] ?? 0) + n;
  return c;
}

export function renderMarkdown(report: Report, options: MarkdownOptions = {}): string {
  const o: Required<MarkdownOptions> = { maxPackages: 50, maxVersionsPerPackage: 12, maxVersionRows: 250, maxSubjects: 10, ...options };
  const r = report;
  const critical = r.findings.filter((f) => f.severity === 'critical');
  const warnings = r.findings.filter((f) => f.severity === 'warning');
  const repos = formatsIn(r.target.repositories)
    .map(([f, x]) => `${f} → ${mdCode(x!.internal)}${x!.shared ? ` (shared ${mdCode(x!.shared)})` : ''}`)
    .join(', ');
  // a run's number is split from its # as a source's #123 is: pasted, "run #2" would link issue 2
  const out: string[] = [
    `# ${mdText(title(r))} — ${VERDICT_WORD[r.verdict.status]}`,
    '',
    `> **${VERDICT_WORD[r.verdict.status]}** ${mdText(r.verdict.headline.replace(/^[A-Z-]+: /, ''))}`,
    '',
    `- Job: ${mdCode(r.job.name)} (${mdCode(r.job.file)}${r.job.sha256 ? `, SHA-256 ${mdCode(r.job.sha256)}` : ''})${r.run ? `, from run #<!-- -->${r.run.id}${r.run.dryRun ? ' (dry run)' : ''} started ${mdText(r.run.startedAt)}${r.run.outcome ? `, ${mdText(r.run.outcome)}` : ''}` : ''}`,
    `- Target: domain ${mdCode(r.target.domain)} (owner ${mdCode(r.target.domainOwner)}, ${mdCode(r.target.region)}); ${repos}`,
    `- Generated ${mdText(r.generatedAt)} by codeartifact-migrate ${mdText(r.tool.version)} (report schema ${r.schemaVersion})`,
    ...(r.auditFrom ? [`- Domain audit and exposure check: from plan #<!-- -->${r.auditFrom.runId}${mdText(auditFromText(r.auditFrom, r.job.sha256))}`] : []),
    '',
  ];
  out.push(`## Critical findings (${critical.length})`, '');
  out.push(critical.length ? critical.map((f, i) => findingItem(f, i, o.maxSubjects)).join('\n') : 'None: nothing blocks cutover.', '');
  if (warnings.length) out.push(`## Warnings (${warnings.length})`, '', warnings.map((f, i) => findingItem(f, i, o.maxSubjects)).join('\n'), '');
  out.push(...totalsSection(r), ...estimateSection(r), ...otherSections(r));
  // every section before the packages grows with the job (findings of many codes, each naming
  // values as long as a source likes; exposure and hardening tables of every internal name):
  // past their share they are cut at a line, as the package tables are cut at a row
  const head = within(out, MAX_CHARS - PACKAGES_ROOM);
  head.push(...packagesSection(r, o, MAX_CHARS - head.join('\n').length));
  return `${head.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/**
 * `parts` (lines, or blocks of them) whole if they fit in `max` characters; else the lines that
 * fit and a note of the cut. A line is a whole list item line, table row or paragraph: nothing
 * this renderer writes spans lines but lists and tables, and either ends well at any line.
 */
function within(parts: string[], max: number): string[] {
  if (parts.join('\n').length <= max) return parts;
  const note = '*The report is cut here to stay pasteable (a change request takes 65,536 characters): the rest of these sections and the package tables are in the JSON and HTML reports.*';
  const kept: string[] = [];
  let size = note.length + 2;
  for (const line of parts.join('\n').split('\n')) {
    if (size + line.length + 1 > max) break;
    kept.push(line);
    size += line.length + 1;
  }
  return [...kept, '', note, ''];
}
