/**
 * What the fast readers' property tests (test/unit/lock-pnpm-fast, lock-yarn-classic-fast,
 * rewrite-pnpm-fast) share: the format-blind edits they make to a lockfile, and the slice of a
 * big fixture they edit (reading all of it both ways thousands of times is too slow). Each test
 * adds the edits its format's grammar invites.
 */

/** One of `xs`, by `rnd`. */
export function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** How many edits lineEdit knows: a test draws `which` from more, and makes its own for the rest. */
export const LINE_EDITS = 8;

/**
 * Edit `which` (0 to LINE_EDITS - 1) of `text`: a character dropped, inserted (one of `chars`)
 * or doubled; a line dropped, doubled, inserted (one of `lines`), re-indented, or swapped with
 * the next.
 */
export function lineEdit(text: string, rnd: () => number, which: number, words: { chars: readonly string[]; lines: readonly string[] }): string {
  const lines = text.split('\n');
  const li = Math.floor(rnd() * lines.length);
  const line = lines[li]!;
  const pos = Math.floor(rnd() * (text.length + 1));
  switch (which) {
    case 0:
      return text.slice(0, pos) + text.slice(pos + 1);
    case 1:
      return text.slice(0, pos) + pick(rnd, words.chars) + text.slice(pos);
    case 2:
      return text.slice(0, pos) + text.slice(pos, pos + 1) + text.slice(pos);
    case 3:
      lines.splice(li, 1);
      break;
    case 4:
      lines.splice(li, 0, line);
      break;
    case 5:
      lines.splice(li, 0, pick(rnd, words.lines));
      break;
    case 6: {
      const d = pick(rnd, [-2, -1, 1, 2, 4]);
      lines[li] = d < 0 ? line.slice(-d) : ' '.repeat(d) + line;
      break;
    }
    default: {
      const j = Math.min(lines.length - 1, li + 1);
      [lines[li], lines[j]] = [lines[j]!, line];
    }
  }
  return lines.join('\n');
}

/**
 * A slice of a big fixture (400 lines or more): its first `head` lines, then a run of `length[0]`
 * plus up to `length[1]` lines from a line `isStart` takes, picked by `rnd`. A short fixture, or
 * one whose `head` is undefined, whole.
 */
export function excerpt(text: string, rnd: () => number, opts: { head: (lines: string[]) => number | undefined; isStart: (line: string, i: number) => boolean; length: [number, number] }): string {
  const lines = text.split('\n');
  const head = opts.head(lines);
  if (lines.length < 400 || head === undefined) return text;
  const starts = lines.flatMap((l, i) => (i >= head && opts.isStart(l, i) ? [i] : []));
  const from = pick(rnd, starts);
  return [...lines.slice(0, head), ...lines.slice(from, from + opts.length[0] + Math.floor(rnd() * opts.length[1]))].join('\n');
}
