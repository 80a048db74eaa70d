/**
 * uv.lock: a package from an index has `source = { registry = "<index>" }` and
 * its files' URLs (`sdist = { url = … }`, `wheels = [{ url = … }]`), which uv
 * downloads as written. The registry moves to the PyPI endpoint's index and each
 * file URL to the file's place in CodeArtifact, `<endpoint>simple/<project>/<version>/<file>`
 * (CODEARTIFACT.md); hashes and sizes stay. git, url, path, directory and
 * editable sources stay. https://docs.astral.sh/uv/concepts/resolution/#lockfile
 */
import { normalizeProjectName } from '../../builders/python-metadata.js';
import { lineCounter, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

export function rewriteUv(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.pypi) return { text, changes: [], notes: ['no shared PyPI repository in the job: nothing rewritten'] };
  const endpoint = targets.pypi;
  // uv writes index URLs without the trailing slash (https://pypi.org/simple)
  const index = `${endpoint}simple`;
  const at = lineCounter(text);
  const changes: RewriteChange[] = [];
  const edits: { start: number; end: number; value: string }[] = [];
  const headers = [...text.matchAll(/^\[\[package\]\][ \t]*$/gm)].map((m) => m.index);
  headers.forEach((start, i) => {
    const end = headers[i + 1] ?? text.length;
    const block = text.slice(start, end);
    const source = /^source\s*=\s*\{\s*registry\s*=\s*"([^"]*)"\s*\}/m.exec(block);
    if (!source) return;
    const name = /^name\s*=\s*"([^"]*)"/m.exec(block)?.[1];
    const version = /^version\s*=\s*"([^"]*)"/m.exec(block)?.[1];
    const edit = (offset: number, from: string, to: string) => {
      if (from === to) return;
      edits.push({ start: start + offset, end: start + offset + from.length, value: to });
      changes.push({ line: at(start + offset), from, to });
    };
    edit(source.index + source[0].indexOf(`"${source[1]}"`) + 1, source[1]!, index);
    if (!name || !version) return;
    const project = normalizeProjectName(name);
    // the files: every `url = "…"` of the block's sdist and wheels (its source line has none)
    for (const m of block.matchAll(/\burl\s*=\s*"([^"]*)"/g)) {
      const file = decodeURIComponent(m[1]!.split(/[?#]/)[0]!.split('/').pop() ?? '');
      if (!file) continue;
      edit(m.index + m[0].indexOf(`"${m[1]}"`) + 1, m[1]!, `${endpoint}simple/${project}/${encodeURIComponent(version)}/${encodeURIComponent(file)}`);
    }
  });
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.value + out.slice(e.end);
  changes.sort((a, b) => a.line - b.line);
  return { text: out, changes, notes: [] };
}
