/**
 * poetry.lock: packages from another index than PyPI carry `[package.source]`
 * with `type = "legacy"` and the index's `url`; that url moves to the PyPI
 * endpoint's index. Packages from PyPI carry no URL in poetry.lock (poetry asks
 * the sources pyproject.toml names), and git, url, file and directory sources stay.
 * https://python-poetry.org/docs/repositories/
 */
import { publicUrl } from '../../redact.js';
import { alreadyNote, lineCounter, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

export function rewritePoetry(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.pypi) return { text, changes: [], notes: ['no shared PyPI repository in the job: nothing rewritten'], already: 0 };
  const index = `${targets.pypi}simple/`;
  const at = lineCounter(text);
  const changes: RewriteChange[] = [];
  const edits: { start: number; end: number; value: string }[] = [];
  let already = 0;
  // each [package.source] table up to the next header
  for (const table of text.matchAll(/^\[package\.source\][ \t]*\r?\n((?:(?!\[)[^\n]*\n?)*)/gm)) {
    const body = table[1] ?? '';
    const bodyStart = table.index + table[0].length - body.length;
    if (!/^type\s*=\s*["']legacy["']/m.test(body)) continue;
    const url = /^(url\s*=\s*)(["'])([^"'\n]*)\2/m.exec(body);
    if (!url) continue;
    if (url[3] === index) {
      already++;
      continue;
    }
    const start = bodyStart + url.index + url[1]!.length + 1;
    edits.push({ start, end: start + url[3]!.length, value: index });
    changes.push({ line: at(start), from: publicUrl(url[3]!), to: index });
  }
  let out = text;
  for (const e of edits.reverse()) out = out.slice(0, e.start) + e.value + out.slice(e.end);
  const notes = changes.length
    ? []
    : already
      ? [alreadyNote(already)]
      : ['no legacy source: packages from PyPI carry no URL in poetry.lock; add the shared repository as a [[tool.poetry.source]] (priority = "primary") in pyproject.toml and run poetry lock --no-update'];
  return { text: out, changes, notes, already };
}
