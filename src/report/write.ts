/**
 * Writing the three report files. Each is rendered first, then written to a new
 * temporary file beside its final name and given that name once all three are whole
 * (and if one cannot take its name, those that did are removed): a reader (or a CI
 * job picking the newest report) sees a whole report or none, and a full disk leaves
 * no truncated file. A name is only ever taken when nothing has it: an earlier report
 * of the same second, or a name someone planted in the output directory (a symlink to
 * a file of the operator's), is neither replaced nor written through; the report takes
 * the next free name instead.
 */
import { accessSync, constants, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sweepDeadWriters } from '../alive.js';
import { AtomicFile } from '../atomic-file.js';
import { localError, MigrateError } from '../errors.js';
import { makeFolder } from '../make-folder.js';
import { renderHtml } from './render-html.js';
import { renderJsonParts } from './render-json.js';
import { renderMarkdown } from './render-markdown.js';
import type { Report } from './schema.js';

export interface ReportFiles {
  json: string;
  markdown: string;
  html: string;
}

/** Whatever fails while writing a report is this machine's (never a stack trace). */
function writeError(thrown: unknown, path: string): MigrateError {
  // a link to a folder that is not there (makeFolder): no space or permission to fix
  const dangling = (thrown as { dangling?: boolean } | undefined)?.dangling === true;
  return localError(thrown, path, 'write the report', {
    anyCode: true,
    hint: dangling
      ? 'mount the disk the link points at (or make that folder), or pass --out <dir>, then rerun; nothing was written'
      : 'free space or fix permissions where the reports go (or pass --out <dir>), then rerun; no partial report was left behind',
  })!;
}

/**
 * The output directory, made now: a plan can take an hour, and a --out that names a file
 * (or a folder this user cannot write) is said before it starts, not after.
 */
export function prepareReportDir(outDir: string, given = true): void {
  // a file where the folder should be is the command line's mistake (exit 2), like ledger export's --out;
  // so is a file on the way to it (--out report.html/x), which a stat answers with ENOTDIR. Without --out
  // (`given` false: the state directory's reports folder), the folder is named as what it is
  const file = fileOnTheWay(resolve(outDir));
  const named = given ? `--out ${resolve(outDir)}` : `the reports folder ${resolve(outDir)} (no --out given)`;
  if (file === resolve(outDir)) {
    throw new MigrateError('ECONFIG', `${named} is a file: a report is three files (.json, .md, .html) written into a folder`, {
      hint: 'pass --out <dir>, a folder (made if missing); the file was left as it is',
    });
  }
  if (file) {
    throw new MigrateError('ECONFIG', `${named} cannot be a folder: ${file} is a file`, {
      hint: 'pass --out <dir>, a folder (made if missing) whose path goes through folders only; the file was left as it is',
    });
  }
  try {
    makeFolder(outDir);
    accessSync(outDir, constants.W_OK);
  } catch (e) {
    throw writeError(e, resolve(outDir));
  }
}

/** The first part of `path`, from its start, that is there and is no folder (links followed); undefined when none is. */
function fileOnTheWay(path: string): string | undefined {
  const parts: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    parts.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of parts) {
    let st;
    try {
      st = statSync(p, { throwIfNoEntry: false });
    } catch {
      return undefined; // not this user's to look into (EACCES): making the folder says so
    }
    if (!st) return undefined;
    if (!st.isDirectory()) return p;
  }
  return undefined;
}

/** Names tried for one report before giving up: `<job>-<kind>-<time>`, then `-2`, `-3`, ... */
const MAX_NAMES = 1000;

/**
 * `<outDir>/<job>-<kind>-<time>.{json,md,html}`, each written whole or not at all. The time is to the
 * second: a report whose names another has (written in the same second: a second `report`, a job of the
 * same name from another state directory into a shared --out) takes `<time>-2`, `-3`, ... and never
 * replaces it; the three of one report always share their name.
 */
export function writeReportFiles(report: Report, jobName: string, outDir: string, kind: string): ReportFiles {
  const stamp = report.generatedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const baseOf = (n: number) => resolve(outDir, `${jobName}-${kind}-${stamp}${n > 1 ? `-${n}` : ''}`);
  const filesOf = (n: number): ReportFiles => ({ json: `${baseOf(n)}.json`, markdown: `${baseOf(n)}.md`, html: `${baseOf(n)}.html` });
  let files = filesOf(1);
  // rendered before anything touches the disk: a renderer's failure leaves nothing behind. The JSON is
  // rendered as it is written, part by part (a big report's is more than one string can hold); a failure
  // there leaves nothing behind either: the temporary files are discarded
  const texts: [keyof ReportFiles, string | Iterable<string>][] = [
    ['json', renderJsonParts(report)],
    ['markdown', renderMarkdown(report)],
    ['html', renderHtml(report)],
  ];
  try {
    makeFolder(outDir);
  } catch (e) {
    throw writeError(e, resolve(outDir));
  }
  sweepDeadReportWriters(outDir);
  const written: [keyof ReportFiles, AtomicFile][] = [];
  const named: string[] = [];
  try {
    for (const [k, text] of texts) {
      const file = new AtomicFile(files[k], (e) => writeError(e, files[k]));
      written.push([k, file]);
      for (const part of typeof text === 'string' ? [text] : text) file.write(part);
      file.sync();
    }
    // all three are whole on disk: only now do they take their names, names nothing has yet
    for (let n = 1; ; n++) {
      if (n > MAX_NAMES) throw new MigrateError('ELOCAL', `cannot write the report: ${filesOf(1).json} and ${MAX_NAMES - 1} more names after it are taken`, { hint: 'pass --out <dir>, a folder of its own, then rerun; nothing was written' });
      files = filesOf(n);
      const taken: AtomicFile[] = [];
      for (const [k, file] of written) {
        if (!file.commitNew(files[k])) break;
        taken.push(file);
        named.push(files[k]);
      }
      if (taken.length === written.length) break;
      // one of the three names is another report's: the ones taken are given back, and the next name tried
      for (const file of taken) file.giveBack();
      named.length = 0;
    }
  } catch (e) {
    // A name can fail after another succeeded (a disk gone read-only, a full one whose folder
    // must grow): the three or none, as the error says, not a JSON report without its HTML
    for (const path of named) rmSync(path, { force: true });
    throw e;
  } finally {
    for (const [, file] of written) file.discard();
  }
  return files;
}

/**
 * The temporary files of report writers that are gone (kill -9, a power cut while a report
 * was written): AtomicFile removes those of the name it writes, and no report is written
 * under a name again (the time is in it, and a name taken is never reused). Only the names a report's AtomicFile gives
 * (`<job>-<plan|run>-<time>.<json|md|html>.<pid>-<r>.tmp`) of a pid no process has.
 */
function sweepDeadReportWriters(outDir: string): void {
  sweepDeadWriters(outDir, (name) => {
    const m = /^.+-(?:plan|run)-\d{8}T\d{6}Z(?:-\d+)?\.(?:json|md|html)\.(\d+)-[0-9a-f]{8}\.tmp$/.exec(name);
    return m ? Number(m[1]) : undefined;
  });
}
