/**
 * One rewriter per lockfile format, picked by one `switch`; and the unified
 * diff of a rewrite. A rewrite edits URLs inside lines and never adds or removes
 * one, so the diff is the changed lines with three lines of context.
 */
import { publicUrl } from '../../redact.js';
import type { LockfileFormat } from '../types.js';
import { rewriteNpmLock } from './npm.js';
import { rewritePnpm } from './pnpm.js';
import { rewritePoetry } from './poetry.js';
import { rewriteRequirements } from './requirements.js';
import { foreignIndexNote, type RewriteResult, type RewriteTargets } from './types.js';
import { rewriteUv } from './uv.js';
import { rewriteYarnBerry } from './yarn-berry.js';
import { rewriteYarnClassic } from './yarn-classic.js';

export type { RewriteChange, RewriteResult, RewriteTargets } from './types.js';

const unchanged = (text: string, note: string): RewriteResult => ({ text, changes: [], notes: [note], already: 0 });

export function rewriteLockfile(format: LockfileFormat, text: string, targets: RewriteTargets): RewriteResult {
  switch (format) {
    case 'npm':
      return rewriteNpmLock(text, targets);
    case 'yarn-classic':
      return rewriteYarnClassic(text, targets);
    case 'pnpm':
      return rewritePnpm(text, targets);
    case 'requirements':
      return rewriteRequirements(text, targets);
    case 'poetry':
      return rewritePoetry(text, targets);
    case 'uv':
      return rewriteUv(text, targets);
    case 'yarn-berry':
      // resolutions are `name@npm:1.2.3` (the registry is .yarnrc.yml's npmRegistryServer), but for `::__archiveUrl=`
      return rewriteYarnBerry(text, targets);
    case 'pipfile':
      // _meta.sources is a copy of Pipfile's [[source]], and _meta.hash covers the Pipfile
      return pipfileNotes(text, targets);
    case 'gosum':
      return unchanged(text, 'go.sum names no registry: Go modules are served by cam goproxy (GOPROXY)');
    default: {
      const never: never = format;
      throw new Error(`unknown lockfile format ${String(never)}`);
    }
  }
}

/**
 * Pipfile.lock changes nowhere: what to change is the Pipfile's [[source]]. Only for an index
 * the shared repository serves (public PyPI, the CodeArtifact domain): a company's own index
 * pointed there would resolve its projects to public ones of the same names, as for the
 * other formats (foreignPypiHost), so that source is named and left alone.
 */
function pipfileNotes(text: string, targets: RewriteTargets): RewriteResult {
  let sources: unknown;
  try {
    sources = (JSON.parse(text.replace(/^\uFEFF/, '')) as { _meta?: { sources?: unknown } })._meta?.sources;
  } catch {
    sources = undefined;
  }
  const foreign: string[] = [];
  for (const s of Array.isArray(sources) ? sources : []) {
    const url = (s as { url?: unknown } | null)?.url;
    const host = typeof url === 'string' ? targets.foreignPypiHost?.(url) : undefined;
    if (host) foreign.push(foreignIndexNote(host, `the Pipfile's [[source]] ${publicUrl(url as string)}`));
  }
  const move = foreign.length && foreign.length === (Array.isArray(sources) ? sources.length : 0) ? [] : ["Pipfile.lock's sources come from the Pipfile: change its [[source]] url and run pipenv lock"];
  return { text, changes: [], notes: [...move, ...foreign], already: 0 };
}

/** A unified diff (`diff -u` layout) of a rewrite that changed lines in place. */
export function unifiedDiff(path: string, before: string, after: string, context = 3): string {
  if (before === after) return '';
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.length !== b.length) throw new Error(`${path}: a rewrite changed the number of lines`);
  const changed: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed.push(i);
  // the last "line" after a final newline is empty and never shown
  const last = before.endsWith('\n') ? a.length - 2 : a.length - 1;
  const out = [`--- ${diffName('a/', path)}`, `+++ ${diffName('b/', path)}`];
  let i = 0;
  while (i < changed.length) {
    let j = i;
    while (j + 1 < changed.length && changed[j + 1]! - changed[j]! <= 2 * context + 1) j++;
    const start = Math.max(0, changed[i]! - context);
    const end = Math.min(last, changed[j]! + context);
    // group each run of changed lines: all `-` lines, then all `+` lines
    const hunk: string[] = [];
    let k = start;
    const noEol = (n: number) => (n === last && !before.endsWith('\n') ? ['\\ No newline at end of file'] : []);
    while (k <= end) {
      if (a[k] === b[k]) {
        hunk.push(` ${a[k]}`, ...noEol(k));
        k++;
        continue;
      }
      let r = k;
      while (r + 1 <= end && a[r + 1] !== b[r + 1]) r++;
      for (let n = k; n <= r; n++) hunk.push(`-${a[n]}`, ...noEol(n));
      for (let n = k; n <= r; n++) hunk.push(`+${b[n]}`, ...noEol(n));
      k = r + 1;
    }
    const count = end - start + 1;
    out.push(`@@ -${start + 1},${count} +${start + 1},${count} @@`, ...hunk);
    i = j + 1;
  }
  return `${out.join('\n')}\n`;
}

/** git's escapes for the bytes it writes as a letter (quote.c, cq_lookup); every other control byte is octal. */
const C_ESCAPES: Record<number, string> = { 0x07: 'a', 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'v', 0x0c: 'f', 0x0d: 'r', 0x22: '"', 0x5c: '\\' };

/**
 * A path in a `---`/`+++` header as git diff writes it, so `git apply` (and patch) read it
 * back as the same name, and a name can never break the header (a folder named
 * `x\n+++ b/evil` would add a header line, and a crafted one hunks). git's quote_c_style
 * (https://github.com/git/git/blob/master/quote.c) with core.quotePath on, its default:
 * a name holding a control byte, DEL, `"`, `\` or any byte of a non-ASCII character is
 * written whole (prefix too) in double quotes, `\n`-style letters for \a \b \t \n \v \f \r,
 * `\"` and `\\`, and every other such byte as three octal digits of its UTF-8 (`é`:
 * `\303\251`). A name with a space gets a tab after it (diff.c), where patch looks for a
 * timestamp: the space is then part of the name.
 */
export function diffName(prefix: string, path: string): string {
  const bytes = Buffer.from(prefix + path, 'utf8');
  let quoted = '';
  let quote = false;
  for (const b of bytes) {
    const letter = C_ESCAPES[b];
    if (letter !== undefined) {
      quoted += `\\${letter}`;
      quote = true;
    } else if (b < 0x20 || b >= 0x7f) {
      quoted += `\\${b.toString(8).padStart(3, '0')}`;
      quote = true;
    } else quoted += String.fromCharCode(b);
  }
  const name = quote ? `"${quoted}"` : prefix + path;
  return path.includes(' ') ? `${name}\t` : name;
}
