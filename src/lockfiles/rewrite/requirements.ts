/**
 * pip requirements files: the index options (`-i URL`, `--index-url URL`,
 * `--index-url=URL`) move to the PyPI endpoint's index, `<endpoint>simple/`
 * (https://pip.pypa.io/en/stable/reference/requirements-file-format/#global-options).
 * Any credentials in the old URL go with it; none are written: pip finds them
 * in netrc or a keyring (or pip.conf, as `aws codeartifact login --tool pip` writes it).
 * `--extra-index-url` is left alone, and said: pip would still ask that index.
 * An index that is neither public PyPI nor the job's CodeArtifact (a company's own
 * index) stays too, and is said: the shared repository does not hold its projects
 * and would answer for them with public ones of the same names.
 *
 * Lines are read as pip reads them (joinLines, pip's req_file.join_lines): a line
 * ending in `\` (and not a comment line) continues on the next, the `\` dropped and
 * the pieces joined as they are; so `--index-url \` + `    https://…` is one option,
 * and its URL is on the second line. The URL is replaced where it stands, in its
 * physical line: the file keeps its lines, pip reads it the same but for the index.
 * A leading UTF-8 BOM (pip decodes it away) is kept and looked past.
 */
import { publicUrl } from '../../redact.js';
import { indexUrl, joinLines, longOption, shellWord, uncommented } from '../requirements.js';
import { alreadyNote, foreignIndexNote, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

// Every one on an options line, each at a word's start: pip reads the whole line as options, and
// of `-i A --index-url B` it keeps the last (B), which moving only the first left in place.
const INDEX_OPTION = new RegExp(`(?<=^|[ \\t])(?:-i[ \\t]*|(?:${longOption('index-url', 1)}|${longOption('pypi-url', 2)})(?:[ \\t]*=[ \\t]*|[ \\t]+))(\\S+)`, 'g');
const EXTRA_INDEX_OPTION = new RegExp(`(?<=^|[ \\t])${longOption('extra-index-url', 2)}(?:[ \\t]*=[ \\t]*|[ \\t]+)(\\S+)`, 'g');

export function rewriteRequirements(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.pypi) return { text, changes: [], notes: ['no shared PyPI repository in the job: nothing rewritten'], already: 0 };
  const index = `${targets.pypi}simple/`;
  const bom = text.startsWith('\uFEFF') ? 1 : 0;
  const changes: RewriteChange[] = [];
  const edits: { start: number; end: number }[] = [];
  const notes: string[] = [];
  let already = 0;
  for (const { joined: full, pieces } of joinLines(text, bom)) {
    // a comment's text is no option (cut here, the offsets before it stay the joined line's)
    const joined = uncommented(full);
    // a requirement's line takes only its own options (--hash): an index there is pip's error
    if (!/^[ \t]*-/.test(joined)) continue;
    for (const extra of joined.matchAll(EXTRA_INDEX_OPTION)) notes.push(`--extra-index-url ${publicUrl(extra[1]!)} left as is: pip still asks it directly; remove it so builds read only CodeArtifact`);
    for (const m of joined.matchAll(INDEX_OPTION)) {
      if (m[1] === index) {
        already++;
        continue;
      }
      const from = m[1]!;
      // pip splits the options as a shell does: `"https://…"` is the URL without its quotes
      const url = indexUrl(shellWord(from));
      if (url === undefined) {
        notes.push(`line ${pieces[0]!.line}: the index ${publicUrl(from)} left as it is: it is no http(s) URL whose host we can check (an environment variable, a local folder), so it may be an index the shared repository does not hold; if it is public PyPI, write its URL there and run again`);
        continue;
      }
      if (url === index) {
        already++;
        continue;
      }
      const foreign = targets.foreignPypiHost?.(url);
      if (foreign) {
        notes.push(foreignIndexNote(foreign, `line ${pieces[0]!.line}: the index ${publicUrl(url)}`));
        continue;
      }
      // the URL's place in the joined line, found in the piece that holds it
      const urlAt = m.index + m[0].length - from.length;
      let before = 0;
      const piece = pieces.find((p) => {
        if (urlAt >= before && urlAt + from.length <= before + p.text.length) return true;
        before += p.text.length;
        return false;
      });
      if (!piece) {
        // split by a `\` inside the URL: replacing it would mean moving text between lines
        notes.push(`line ${pieces[0]!.line}: the index URL ${publicUrl(from)} is split over several lines; not rewritten: put it on one line and run again`);
        continue;
      }
      const start = piece.start + (urlAt - before);
      edits.push({ start, end: start + from.length });
      changes.push({ line: piece.line, from: publicUrl(url), to: index });
    }
  }
  let out = text;
  for (const e of [...edits].reverse()) out = out.slice(0, e.start) + index + out.slice(e.end);
  if (!changes.length && already) notes.push(alreadyNote(already));
  else if (!changes.length && !notes.some((n) => n.includes('split over') || n.includes('left as it is'))) notes.push('no --index-url: point pip at the shared repository in pip.conf (aws codeartifact login --tool pip)');
  return { text: out, changes, notes, already };
}
