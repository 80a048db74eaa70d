/**
 * The HTML report's own CSS and script, inlined into the page (no external
 * assets: it must work from file:// and offline, and make no request at all).
 * Plain ES2020 in a string: no bundler, nothing for TypeScript to transform.
 *
 * The script renders only the visible page of a table (20,000 versions are
 * data, not DOM), and writes every value with textContent, never as HTML.
 */

const OUTCOME_COLOURS: Record<string, [string, string]> = {
  publish: ['#2563eb', '#fff'],
  verified: ['#15803d', '#fff'],
  migrated: ['#15803d', '#fff'],
  published: ['#4ade80', '#052e16'],
  'present-identical': ['#0d9488', '#fff'],
  unchecked: ['#a3a3a3', '#111'],
  'not-done': ['#f59e0b', '#111'],
  conflict: ['#dc2626', '#fff'],
  'source-error': ['#9f1239', '#fff'],
  error: ['#ea580c', '#fff'],
  failed: ['#dc2626', '#fff'],
  skipped: ['#a78bfa', '#111'],
  excluded: ['#d4d4d4', '#111'],
  removed: ['#78716c', '#fff'],
};

export const CSS = `
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#fff; --soft:#f6f8fa; --go:#1a7f37; --review:#9a6700; --nogo:#cf222e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1280px; margin: 0 auto; padding: 0 20px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); } h3 { font-size: 15px; margin: 16px 0 6px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.verdict { padding: 18px 20px; color: #fff; } .verdict .inner { max-width: 1240px; margin: 0 auto; display: flex; gap: 16px; align-items: center; }
.verdict.go { background: var(--go); } .verdict.review { background: var(--review); } .verdict.no-go { background: var(--nogo); }
.badge { font-weight: 800; font-size: 20px; border: 2px solid #fff; border-radius: 6px; padding: 4px 10px; white-space: nowrap; }
.headline { margin: 0; font-size: 15px; }
.meta { color: var(--muted); margin: 12px 0 0; display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
.meta dt { font-weight: 600; } .meta dd { margin: 0; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin-top: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: var(--soft); }
.card .n { font-size: 22px; font-weight: 700; } .card .l { color: var(--muted); font-size: 12px; }
.card.bad .n { color: var(--nogo); }
ol.findings { padding-left: 22px; } ol.findings li { margin: 0 0 10px; }
.sev { font-weight: 700; font-size: 11px; border-radius: 4px; padding: 1px 6px; margin-right: 6px; }
.sev.critical { background: var(--nogo); color: #fff; } .sev.warning { background: #fff8c5; color: #4d2d00; border: 1px solid #d4a72c; }
.finding-detail, .finding-subjects { color: var(--muted); overflow-wrap: anywhere; } .action { margin-top: 2px; } .action b { color: var(--fg); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
td { overflow-wrap: break-word; } td.nowrap { white-space: nowrap; } td code { overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
#versions-table td:first-child { min-width: 12em; }
th { background: var(--soft); position: sticky; top: 0; font-weight: 600; white-space: nowrap; user-select: none; }
table.sortable th, table.data th { cursor: pointer; }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
th.num, td.num { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; } tbody tr:hover { background: #eef4ff; }
.chip { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; line-height: 18px; white-space: nowrap; margin: 1px 3px 1px 0; }
.status-ok { color: var(--go); font-weight: 700; } .status-warn { color: var(--review); font-weight: 700; } .status-fail { color: var(--nogo); font-weight: 700; }
.controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
.controls input[type=search] { min-width: 260px; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
.controls select, .controls button, .pager button, .pager select { padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; font: inherit; }
.pager { display: flex; gap: 8px; align-items: center; color: var(--muted); }
.pkgchip { background: #ddf4ff; border: 1px solid #54aeff; border-radius: 12px; padding: 1px 4px 1px 10px; }
.pkgchip button { border: 0; background: transparent; cursor: pointer; font-weight: 700; }
button.link { border: 0; background: none; padding: 0; color: #0969da; cursor: pointer; font: inherit; text-align: left; }
button.link:hover { text-decoration: underline; }
.legend { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; padding: 0; list-style: none; }
svg.chart { width: 100%; height: auto; max-width: 1000px; display: block; }
svg.chart text { font-size: 12px; fill: var(--fg); } svg.chart .count { fill: var(--muted); }
svg.chart .bar[data-pkg] { cursor: pointer; pointer-events: bounding-box; } svg.chart .bar:hover text.label, svg.chart .bar:focus text.label { text-decoration: underline; }
svg.chart .axis { stroke: var(--line); } svg.chart .cut { stroke: #fff; stroke-width: 3; fill: none; }
.note { color: var(--muted); font-style: italic; }
.tablewrap { max-height: 75vh; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
.tablewrap table { margin: 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 30px; }
${Object.entries(OUTCOME_COLOURS)
  .map(([k, [bg, fg]]) => `.chip.o-${k} { background: ${bg}; color: ${fg}; } svg.chart rect.o-${k} { fill: ${bg}; }`)
  .join('\n')}
@media print { .controls, .pager { display: none; } .tablewrap { max-height: none; overflow: visible; } th { position: static; } }
`;

export const SCRIPT = `
(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const O = data.outcomes, F = data.formats, S = data.sources, P = data.packages, V = data.versions;
  const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  const fmtInt = (n) => Number(n).toLocaleString('en-US');
  const fmtBytes = (n) => {
    if (n === null || n === undefined) return '';
    if (n < 1024) return n + ' B';
    const u = ['KiB', 'MiB', 'GiB', 'TiB']; let v = n, i = -1;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (v >= 100 ? Math.round(v) : v.toFixed(1)) + ' ' + u[i];
  };
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined && text !== null) e.textContent = String(text); return e; };
  // outcome keys come from the schema's fixed list; only [a-z-] ever reaches a class name
  const chip = (key, tip) => { const c = el('span', 'chip o-' + String(key).replace(/[^a-z-]/g, ''), key); if (tip) c.title = tip; return c; };
  const empty = (x) => x === null || x === undefined || x === '';
  // A run of more than RUN characters without a space (a URL, a hash, a name or version a source made that long) may
  // break after every RUN of them (a <wbr>, no character added): one such value cannot widen its column past the
  // window and push the rest of every row out of sight. Shorter runs, and every run while there is room, stay whole.
  const RUN = 24;
  const breakable = (s) => {
    const f = document.createDocumentFragment();
    let last = 0;
    for (const m of s.matchAll(/\\S{25,}/gu)) {
      f.append(s.slice(last, m.index));
      const chars = Array.from(m[0]);
      for (let i = 0; i < chars.length; i += RUN) { if (i) f.append(document.createElement('wbr')); f.append(chars.slice(i, i + RUN).join('')); }
      last = m.index + m[0].length;
    }
    f.append(s.slice(last));
    return f;
  };

  function makeTable(cfg) {
    const table = document.getElementById(cfg.id);
    const tbody = table.tBodies[0];
    const info = document.getElementById(cfg.id + '-info');
    const prev = document.getElementById(cfg.id + '-prev');
    const next = document.getElementById(cfg.id + '-next');
    const size = document.getElementById(cfg.id + '-size');
    const st = { col: -1, dir: 1, page: 0, size: Number(size.value), view: cfg.rows };
    const ths = Array.from(table.tHead.rows[0].cells);
    ths.forEach((th, i) => th.addEventListener('click', () => {
      const c = cfg.columns[i];
      if (st.col === i) st.dir = -st.dir; else { st.col = i; st.dir = c.num ? -1 : 1; }
      ths.forEach((h, j) => h.setAttribute('aria-sort', j === st.col ? (st.dir === 1 ? 'ascending' : 'descending') : 'none'));
      refresh();
    }));
    prev.addEventListener('click', () => { if (st.page > 0) { st.page--; render(); } });
    next.addEventListener('click', () => { if ((st.page + 1) * st.size < st.view.length) { st.page++; render(); } });
    size.addEventListener('change', () => { st.size = Number(size.value); st.page = 0; render(); });
    function compute() {
      let rows = cfg.rows.filter(cfg.filter);
      if (st.col >= 0) {
        const c = cfg.columns[st.col], d = st.dir;
        const keyed = rows.map((r, i) => [c.sort(r), i, r]);
        keyed.sort((a, b) => {
          const x = a[0], y = b[0];
          if (empty(x) || empty(y)) return empty(x) && empty(y) ? a[1] - b[1] : empty(x) ? 1 : -1;
          const r = c.num ? x - y : collator.compare(String(x), String(y));
          return r ? r * d : a[1] - b[1];
        });
        rows = keyed.map((k) => k[2]);
      }
      st.view = rows;
    }
    function render() {
      const start = st.page * st.size;
      const slice = st.view.slice(start, start + st.size);
      const frag = document.createDocumentFragment();
      for (const r of slice) {
        const tr = document.createElement('tr');
        for (const c of cfg.columns) {
          const td = el('td', c.cls !== undefined ? c.cls : c.num ? 'num' : '');
          const v = c.cell(r);
          if (v instanceof Node) td.appendChild(v); else if (!empty(v)) td.appendChild(breakable(String(v)));
          tr.appendChild(td);
        }
        frag.appendChild(tr);
      }
      tbody.replaceChildren(frag);
      const total = cfg.rows.length, shown = st.view.length;
      info.textContent = shown === 0 ? 'No rows match (of ' + fmtInt(total) + ')'
        : 'Rows ' + fmtInt(start + 1) + '–' + fmtInt(start + slice.length) + ' of ' + fmtInt(shown) + (shown < total ? ' (filtered from ' + fmtInt(total) + ')' : '');
      prev.disabled = st.page === 0;
      next.disabled = start + st.size >= shown;
    }
    // what is shown changed (a filter, a sort, a package picked): its first page, not the page the old view was on
    function refresh() { st.page = 0; compute(); render(); }
    refresh();
    return { refresh };
  }

  const debounce = (fn) => { let t; return () => { clearTimeout(t); t = setTimeout(fn, 120); }; };
  const hay = (r, parts) => (r.hay === undefined ? (r.hay = parts().join(' ').toLowerCase()) : r.hay);

  // ---- versions ----
  const vq = document.getElementById('versions-filter');
  const vo = document.getElementById('versions-outcome');
  const vf = document.getElementById('versions-format');
  const pkgChip = document.getElementById('versions-package');
  let onlyPkg = -1;
  const vhay = (r) => hay(r, () => [P[r[0]][0], r[1], S[r[2]], O[r[3]], r[4], r[8], r[9], r[10]]);
  const versions = makeTable({
    id: 'versions-table',
    rows: V,
    filter: (r) => {
      if (onlyPkg >= 0 && r[0] !== onlyPkg) return false;
      if (vo.value && O[r[3]] !== vo.value) return false;
      if (vf.value && F[P[r[0]][1]] !== vf.value) return false;
      const q = vq.value.trim().toLowerCase();
      return !q || vhay(r).includes(q);
    },
    columns: [
      { sort: (r) => P[r[0]][0], cell: (r) => P[r[0]][0], cls: 'mono' },
      { sort: (r) => r[1], cell: (r) => r[1], cls: 'mono' },
      { sort: (r) => F[P[r[0]][1]], cell: (r) => F[P[r[0]][1]], cls: 'nowrap' },
      { sort: (r) => S[r[2]], cell: (r) => S[r[2]], cls: 'nowrap' },
      { sort: (r) => O[r[3]], cell: (r) => chip(O[r[3]], 'state: ' + r[4]) },
      { sort: (r) => r[5], cell: (r) => fmtBytes(r[5]), num: true },
      { sort: (r) => r[6], cell: (r) => r[6], num: true },
      { sort: (r) => r[7], cell: (r) => (r[7] ? String(r[7]).slice(0, 10) : ''), cls: 'nowrap' },
      { sort: (r) => r[8], cell: (r) => r[8], cls: 'mono' },
      { sort: (r) => r[9], cell: (r) => r[9], cls: 'mono' },
      { sort: (r) => r[10], cell: (r) => r[10] },
    ],
  });
  const showPackage = (i) => {
    onlyPkg = i;
    pkgChip.hidden = i < 0;
    if (i >= 0) pkgChip.querySelector('b').replaceChildren(breakable(P[i][0]));
    versions.refresh();
    if (i >= 0) document.getElementById('versions').scrollIntoView();
  };
  pkgChip.querySelector('button').addEventListener('click', () => showPackage(-1));
  vq.addEventListener('input', debounce(versions.refresh));
  vo.addEventListener('change', versions.refresh);
  vf.addEventListener('change', versions.refresh);

  // ---- packages ----
  const pq = document.getElementById('packages-filter');
  const pf = document.getElementById('packages-format');
  const problems = (p) => p[5].reduce((n, c) => n + (data.problems.includes(c[0]) ? c[1] : 0), 0) + (p[6] ? 1 : 0);
  const packages = makeTable({
    id: 'packages-table',
    rows: P.map((p, i) => Object.assign(p.slice(), { index: i })),
    filter: (p) => (!pf.value || F[p[1]] === pf.value) && (!pq.value.trim() || hay(p, () => [p[0], p[2], p[6]]).includes(pq.value.trim().toLowerCase())),
    columns: [
      { sort: (p) => p[0], cell: (p) => { const b = el('button', 'link mono'); b.append(breakable(p[0])); b.type = 'button'; b.title = 'show its versions'; b.addEventListener('click', () => showPackage(p.index)); return b; } },
      { sort: (p) => F[p[1]], cell: (p) => F[p[1]] },
      { sort: (p) => p[2], cell: (p) => p[2] },
      { sort: (p) => p[3], cell: (p) => fmtInt(p[3]), num: true },
      { sort: (p) => p[4], cell: (p) => fmtBytes(p[4]), num: true },
      { sort: problems, cell: (p) => { const f = document.createDocumentFragment(); for (const c of p[5]) { const k = chip(O[c[0]]); k.textContent = O[c[0]] + ' ' + fmtInt(c[1]); f.appendChild(k); } return f; }, num: true, cls: '' },
      { sort: (p) => p[6], cell: (p) => p[6] },
    ],
  });
  pq.addEventListener('input', debounce(packages.refresh));
  pf.addEventListener('change', packages.refresh);

  // ---- chart: a bar shows that package's versions ----
  for (const g of document.querySelectorAll('svg.chart .bar[data-pkg]')) {
    const i = Number(g.getAttribute('data-pkg'));
    g.addEventListener('click', () => showPackage(i));
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); showPackage(i); } });
  }

  // ---- small static tables: sort by clicking a header ----
  for (const table of document.querySelectorAll('table.sortable')) {
    const ths = Array.from(table.tHead.rows[0].cells);
    ths.forEach((th, i) => th.addEventListener('click', () => {
      const dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      ths.forEach((h) => h.setAttribute('aria-sort', 'none'));
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const key = (tr) => { const td = tr.cells[i]; return td ? (td.hasAttribute('data-v') ? Number(td.getAttribute('data-v')) : td.textContent) : ''; };
      rows.sort((a, b) => { const x = key(a), y = key(b); return (typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y))) * dir; });
      body.replaceChildren(...rows);
    }));
  }
  document.documentElement.setAttribute('data-ready', 'true');
})();
`;
