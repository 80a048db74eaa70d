/**
 * uv.lock: a package from an index has `source = { registry = "<index>" }` and
 * its files' URLs (`sdist = { url = … }`, `wheels = [{ url = … }]`), which uv
 * downloads as written. The registry moves to the PyPI endpoint's index and each
 * file URL to the file's place in CodeArtifact, `<endpoint>simple/<project>/<version>/<file>`
 * (CODEARTIFACT.md); hashes and sizes stay. git, url, path, directory and
 * editable sources stay. https://docs.astral.sh/uv/concepts/resolution/#lockfile
 *
 * uv also names a dependency's index where it points at it
 * (`{ name = "torch", version = "…", source = { registry = "<index>" } }`) and
 * matches that against the packages' sources: every `registry = "<index>"` of an
 * index that moves moves with it, or uv reads a lock whose references point
 * nowhere. A lock with the same project at the same version from two indexes
 * cannot become one index: it is left alone, and said.
 *
 * An index that is neither public PyPI nor the job's CodeArtifact (a company's own
 * index) stays, its packages' files and references with it, and is said: the
 * shared repository does not hold its projects and would answer for them with
 * public ones of the same names.
 */
import { normalizeProjectName } from '../../builders/python-metadata.js';
import { MigrateError } from '../../errors.js';
import { publicUrl } from '../../redact.js';
import { alreadyNote, applyEdits, foreignIndexNote, lineCounter, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

export function rewriteUv(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.pypi) return { text, changes: [], notes: ['no shared PyPI repository in the job: nothing rewritten'], already: 0 };
  const endpoint = targets.pypi;
  // uv writes index URLs without the trailing slash (https://pypi.org/simple)
  const index = `${endpoint}simple`;
  const at = lineCounter(text);
  const changes: RewriteChange[] = [];
  const edits: { start: number; end: number; value: string }[] = [];
  let already = 0;
  const edit = (offset: number, from: string, to: string) => {
    if (from === to) {
      already++;
      return;
    }
    edits.push({ start: offset, end: offset + from.length, value: to });
    changes.push({ line: at(offset), from: publicUrl(from), to });
  };
  // Only URLs as uv writes them, plain "…" strings: an escape (`\u002e`) would hide the host
  // from the index check (which would read another one, and a company's index would move),
  // a literal or multi-line string would be missed in one place and moved in another, the
  // lock's references then pointing nowhere. One such, and the file stays as it is.
  const plain = /"[^"\\\n]*"(?!")/y;
  for (const m of text.matchAll(/\b(?:registry|url)[ \t]*=[ \t]*/g)) {
    plain.lastIndex = m.index + m[0].length;
    if (!plain.test(text)) {
      const note = `line ${at(m.index)}: the ${m[0].replace(/[ \t]*=[ \t]*$/, '')} value is not one plain "…" string (an escape, a literal or multi-line string: uv writes none); not rewritten: regenerate the lock (uv lock) and run again`;
      return { text, changes: [], notes: [note], already: 0 };
    }
  }
  // `\r?`: a lock checked out with CRLF line ends reads the same
  const headers = [...text.matchAll(/^\[\[package\]\][ \t]*\r?$/gm)].map((m) => m.index);
  const registries = new Set<string>();
  const foreign = new Map<string, { where: string; packages: number }>();
  const seen = new Map<string, string>();
  const twice: string[] = [];
  headers.forEach((start, i) => {
    const end = headers[i + 1] ?? text.length;
    const block = text.slice(start, end);
    const source = /^source\s*=\s*\{\s*registry\s*=\s*"([^"]*)"\s*\}/m.exec(block);
    if (!source) return;
    // a registry that is a folder (`--find-links ./wheels`, `registry = "../wheels"`): its files
    // are this machine's, of no index the shared repository serves; moved, its projects would
    // resolve to public ones of the same names
    const folder = !/^https?:\/\//i.test(source[1]!);
    const host = folder ? undefined : targets.foreignPypiHost?.(source[1]!);
    if (folder || host) {
      const f = foreign.get(source[1]!);
      foreign.set(source[1]!, { where: f?.where ?? `line ${at(start + source.index)}: the ${folder ? 'folder' : 'index'} ${publicUrl(source[1]!)}`, packages: (f?.packages ?? 0) + 1 });
      return;
    }
    registries.add(source[1]!);
    const name = /^name\s*=\s*"([^"]*)"/m.exec(block)?.[1];
    const version = /^version\s*=\s*"([^"]*)"/m.exec(block)?.[1];
    if (!name || !version) return;
    const project = normalizeProjectName(name);
    const key = `${project}@${version}`;
    if (seen.has(key) && seen.get(key) !== source[1]) twice.push(key);
    seen.set(key, source[1]!);
    // the files: the `url = "…"` of the block's sdist and wheels only (a dependency
    // reference may carry a `url` source of its own, which is not this package's file)
    const files = [...block.matchAll(/^sdist\s*=\s*\{[^\n]*\}|^wheels\s*=\s*\[[^\n]*\][ \t]*\r?$|^wheels\s*=\s*\[[\s\S]*?^\]/gm)];
    for (const f of files) {
      for (const m of f[0].matchAll(/\burl\s*=\s*"([^"]*)"/g)) {
        const offset = start + f.index + m.index + m[0].indexOf(`"${m[1]}"`) + 1;
        const base = m[1]!.split(/[?#]/)[0]!.split('/').pop() ?? '';
        let file: string;
        try {
          file = decodeURIComponent(base);
        } catch {
          throw new MigrateError('ELOCKFILE', `line ${at(offset)}: the file URL ${JSON.stringify(base)} is not valid percent-encoding`, { hint: 'regenerate the lockfile (uv lock)' });
        }
        if (!file) continue;
        edit(offset, m[1]!, `${endpoint}simple/${project}/${encodeURIComponent(version)}/${encodeURIComponent(file)}`);
      }
    }
  });
  const left = [...foreign].map(([url, f]) => {
    const what = `${f.where} (${f.packages} package(s), their files and every reference to it)`;
    const host = /^https?:\/\//i.test(url) ? targets.foreignPypiHost?.(url) : undefined;
    return host ? foreignIndexNote(host, what) : `${what} left as it is: a folder of files (find-links) is no index the shared repository serves, and it would fetch public projects of the same names instead`;
  });
  if (twice.length) {
    const note = `${twice.join(', ')} locked from two indexes: one repository for both would make two identical packages; not rewritten: lock from one index (uv lock), or point the indexes in pyproject.toml at the shared repository and relock`;
    return { text, changes: [], notes: [note, ...left], already: 0 };
  }
  // every `registry = "<index>"` of an index that moves: the packages' sources and the dependencies' references alike
  for (const m of text.matchAll(/\bregistry\s*=\s*"([^"]*)"/g)) {
    if (registries.has(m[1]!)) edit(m.index + m[0].indexOf(`"${m[1]}"`) + 1, m[1]!, index);
  }
  const out = applyEdits(text, edits);
  changes.sort((a, b) => a.line - b.line);
  // uv takes the lock only while every registry it names is an index of the project
  // (Lock::satisfies, MissingRemoteIndex): else `uv sync` resolves again from the project's
  // indexes, writing the old index back, and `uv sync --locked` refuses the lock
  const project = registries.size ? [`uv uses this lock only while ${index} is an index of the project: set it as the default index ([[tool.uv.index]] url = "${index}", default = true, in pyproject.toml, or UV_DEFAULT_INDEX), or uv sync resolves again from the old index and uv sync --locked refuses the lock`] : [];
  return { text: out, changes, notes: [...left, ...(!changes.length && already ? [alreadyNote(already)] : []), ...project], already };
}
