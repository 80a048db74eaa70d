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
import { MigrateError } from '../../errors.js';
import { publicUrl } from '../../redact.js';
import { indexUrl, joinLines, lineOptions, MAX_REQUIREMENTS_NOTES, shellTokens, tooLongToSplit, tooManyLines, uncommented, type LineOption, type Piece } from '../requirements.js';
import { alreadyNote, applyEdits, foreignIndexNote, type RewriteChange, type RewriteResult, type RewriteTargets } from './types.js';

export function rewriteRequirements(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.pypi) return { text, changes: [], notes: ['no shared PyPI repository in the job: nothing rewritten'], already: 0 };
  const index = `${targets.pypi}simple/`;
  const bom = text.startsWith('\uFEFF') ? 1 : 0;
  const changes: RewriteChange[] = [];
  const edits: { start: number; end: number; to: string }[] = [];
  const notes: string[] = [];
  let unsure = false;
  // as warm keeps them: a note per --find-links or --extra-index-url line was 1.7 million of them in 64 MiB (552 MB), each printed
  let notesLeftOut = 0;
  const note = (text: string) => (notes.length < MAX_REQUIREMENTS_NOTES ? notes.push(text) : notesLeftOut++);
  let already = 0;
  for (const { joined: full, pieces, lines } of joinLines(text, bom)) {
    const line = pieces[0]!.line;
    // a comment's text is no option (cut here, the offsets before it stay the joined line's); pip
    // strips the line (str.strip: a no-break space too), then splits it with shlex (which would
    // not): white space at its ends is made spaces, every offset kept
    const cut = uncommented(full);
    const body = cut.trim();
    const lead = body ? cut.indexOf(body) : 0;
    const joined = ' '.repeat(lead) + body + ' '.repeat(cut.length - lead - body.length);
    const many = tooManyLines(lines);
    if (many) throw new MigrateError('ELOCKFILE', `line ${line}: ${many}`, { hint: 'regenerate the file, or leave it out of the job' });
    // a requirement's line takes only its own options (--hash): an index there is pip's error
    if (!body.startsWith('-')) continue;
    // options are split a character at a time (each with where it stands): never megabytes of them (warm refuses the file too)
    const long = tooLongToSplit(joined);
    if (long) throw new MigrateError('ELOCKFILE', `line ${line}: ${long}`, { hint: 'regenerate the file, or leave it out of the job' });
    // a line shlex cannot split (a quote left open) makes pip refuse the file: said, never mended here
    const split = shellTokens(joined).error;
    if (split) {
      note(`line ${line}: pip cannot split its options (${split}) and refuses the file; not rewritten: fix the line and run again`);
      unsure = true;
      continue;
    }
    // every index option of the line: pip keeps the last of `-i A --index-url B`, which moving only the first left in place
    for (const o of lineOptions(joined)) {
      if (o.name === 'extra-index-url') {
        note(`line ${line}: --extra-index-url ${publicUrl(o.value ?? '')} left as is: pip still asks it directly; remove it so builds read only CodeArtifact`);
        continue;
      }
      // a page of links (a public one such as PyTorch's, a company's) is fetched by pip itself, beside the
      // shared repository: said, as an extra index is, or the rewritten file read as all through CodeArtifact.
      // A folder of wheels (a path, file:) is this checkout's own and stays unsaid.
      if (o.name === 'find-links') {
        const value = o.value ?? '';
        if (value && (/^(?!file:)[a-z][a-z0-9+.-]*:/i.test(value) || value.includes('$'))) {
          note(`line ${line}: --find-links ${publicUrl(value)} left as is: pip still fetches packages from that page directly; put what it serves into CodeArtifact and remove it so builds read only CodeArtifact`);
        }
        continue;
      }
      if (o.name !== 'index-url' && o.name !== 'pypi-url') continue;
      const value = o.value ?? '';
      // pip's index is the word as shlex gives it: `"https://…"` is the URL without its quotes
      const url = indexUrl(value);
      if (url === index) {
        already++;
        continue;
      }
      if (url === undefined) {
        note(`line ${line}: the index ${publicUrl(value || '(empty)')} left as it is: it is no http(s) URL whose host we can check (an environment variable, a local folder), so it may be an index the shared repository does not hold; if it is public PyPI, write its URL there and run again`);
        unsure = true;
        continue;
      }
      const foreign = targets.foreignPypiHost?.(url);
      if (foreign) {
        note(foreignIndexNote(foreign, `line ${line}: the index ${publicUrl(url)}`));
        unsure = true;
        continue;
      }
      const edit = valueEdit(o, pieces, index);
      if (!edit) {
        // split by a `\` inside the URL: replacing it would mean moving text between lines
        note(`line ${line}: the index URL ${publicUrl(url)} is split over several lines; not rewritten: put it on one line and run again`);
        unsure = true;
        continue;
      }
      edits.push(edit);
      changes.push({ line: edit.line, from: publicUrl(url), to: index });
    }
  }
  const out = applyEdits(text, edits.map((e) => ({ start: e.start, end: e.end, value: e.to })));
  if (notesLeftOut) notes.push(`${notesLeftOut.toLocaleString('en-US')} more notes of this file left out (only the first ${MAX_REQUIREMENTS_NOTES.toLocaleString('en-US')} are kept): check it with pip`);
  if (!changes.length && already) notes.push(alreadyNote(already));
  else if (!changes.length && !unsure) notes.push('no --index-url: point pip at the shared repository in pip.conf (aws codeartifact login --tool pip)');
  return { text: out, changes, notes, already };
}

/**
 * Where in the file an option's value is, and what to write there so shlex reads `index`:
 * a word of its own is replaced whole, its quotes and escapes with it; a value glued to its
 * option (`--index-url="…"`, `-i'…'`, `"--index-url=…"`) from just after the option's last
 * character to the word's end, closing a quote that was open there. The endpoint holds no
 * character shlex reads otherwise. Undefined when the text to replace spans two physical
 * lines (a `\` continuation inside it).
 */
function valueEdit(o: LineOption, pieces: readonly Piece[], index: string): { start: number; end: number; to: string; line: number } | undefined {
  const w = o.word!;
  const from = o.from ?? 0;
  const [start, end, to] = from === 0 ? [w.start, w.end, index] : [w.src[from - 1]! + 1, w.end, `${index}${w.quote[from - 1]}`];
  let before = 0;
  for (const p of pieces) {
    if (start >= before && end <= before + p.text.length) return { start: p.start + (start - before), end: p.start + (end - before), to, line: p.line };
    before += p.text.length;
  }
  return undefined;
}
