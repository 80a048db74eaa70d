/**
 * poetry.lock: packages from another index than PyPI carry `[package.source]`
 * with `type = "legacy"` and the index's `url`; that url moves to the PyPI
 * endpoint's index. Packages from PyPI carry no URL in poetry.lock (poetry asks
 * the sources pyproject.toml names), and git, url, file and directory sources stay.
 * A legacy source on a host that is neither public PyPI nor the job's CodeArtifact
 * (a company's own index) stays, and is said: the shared repository does not hold
 * its projects and would answer for them with public ones of the same names.
 * https://python-poetry.org/docs/repositories/
 */
import { publicUrl } from '../../redact.js';
import { alreadyNote, applyEdits, foreignIndexNote, lineCounter, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

export function rewritePoetry(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.pypi) return { text, changes: [], notes: ['no shared PyPI repository in the job: nothing rewritten'], already: 0 };
  const index = `${targets.pypi}simple/`;
  const at = lineCounter(text);
  const changes: RewriteChange[] = [];
  const edits: { start: number; end: number; value: string }[] = [];
  const foreign = new Map<string, { where: string; packages: number; local?: boolean }>();
  const unreadable: string[] = [];
  // the [[tool.poetry.source]] names (`reference`) of the sources that point at the shared repository
  const references = new Set<string>();
  let already = 0;
  // each [package.source] table up to the next header
  for (const table of text.matchAll(/^\[package\.source\][ \t]*\r?\n((?:(?!\[)[^\n]*\n?)*)/gm)) {
    const body = table[1] ?? '';
    const bodyStart = table.index + table[0].length - body.length;
    if (!/^type\s*=\s*["']legacy["']/m.test(body)) continue;
    // only a url as poetry writes it, one plain string on its line: an escape (`\u002e`) would
    // hide the host from the check below (which would read another one), a multi-line
    // string ("""…""") would be spliced into
    const line = /^url[ \t]*=[^\n]*/m.exec(body);
    if (!line) continue;
    const url = /^(url[ \t]*=[ \t]*)(["'])([^"'\\\n]*)\2[ \t]*(?:#[^\n]*)?\r?$/m.exec(line[0]);
    if (!url) {
      unreadable.push(`line ${at(bodyStart + line.index)}: the legacy source's url is not one plain string (an escape, a multi-line string); not rewritten: write it as url = "<index>" and run again`);
      continue;
    }
    url.index += line.index;
    if (url[3] === index) {
      referenceOf(body, references);
      already++;
      continue;
    }
    const start = bodyStart + url.index + url[1]!.length + 1;
    // a legacy source that is no http(s) index (file:///srv/wheels, a folder): this machine's
    // files, of no index the shared repository serves; moved, its projects would resolve to
    // public ones of the same names
    if (!/^https?:\/\//i.test(url[3]!)) {
      const seen = foreign.get(url[3]!);
      foreign.set(url[3]!, { where: seen?.where ?? `line ${at(start)}: the legacy source ${publicUrl(url[3]!)}`, packages: (seen?.packages ?? 0) + 1, local: true });
      continue;
    }
    const host = targets.foreignPypiHost?.(url[3]!);
    if (host) {
      const seen = foreign.get(host);
      foreign.set(host, { where: seen?.where ?? `line ${at(start)}: the legacy source ${publicUrl(url[3]!)}`, packages: (seen?.packages ?? 0) + 1 });
      continue;
    }
    referenceOf(body, references);
    edits.push({ start, end: start + url[3]!.length, value: index });
    changes.push({ line: at(start), from: publicUrl(url[3]!), to: index });
  }
  const out = applyEdits(text, edits);
  const left = [...foreign].map(([host, f]) =>
    f.local
      ? `${f.where} (${f.packages} package(s)) left as it is: it is no http(s) index (a folder of files), which the shared repository does not serve: it would fetch public projects of the same names instead`
      : foreignIndexNote(host, `${f.where} (${f.packages} package(s))`),
  );
  const notes = changes.length || left.length || unreadable.length
    ? [...unreadable, ...left]
    : already
      ? [alreadyNote(already)]
      : ['no legacy source: packages from PyPI carry no URL in poetry.lock; add the shared repository as a [[tool.poetry.source]] (priority = "primary") in pyproject.toml and run poetry lock --no-update'];
  // Poetry downloads a legacy source's packages from the pyproject.toml source its `reference`
  // names, never from the lock's url (installation/chooser.py: pool.repository(package.source_reference)),
  // and the lock's content-hash covers pyproject's sources: the lock alone changes no download
  if (references.size) notes.push(`poetry downloads these packages from the pyproject.toml [[tool.poetry.source]] ${[...references].map((r) => JSON.stringify(r)).join(', ')}, not from poetry.lock's url: set its url to ${index} in pyproject.toml too and run poetry lock --no-update, or poetry still downloads from the old index`);
  return { text: out, changes, notes, already };
}

/** A source table's `reference` (the name of its pyproject.toml source), added to `into`. */
function referenceOf(body: string, into: Set<string>): void {
  const reference = /^reference[ \t]*=[ \t]*(["'])([^"'\\\n]*)\1/m.exec(body)?.[2];
  if (reference) into.add(reference);
}
