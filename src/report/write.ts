/**
 * Writing the three report files. Each is rendered first, then written to a new
 * temporary file beside its final name and renamed over it: a reader (or a CI
 * job picking the newest report) sees a whole report or none, a full disk leaves
 * no truncated file, and a name someone planted in the output directory (a
 * symlink to a file of the operator's) is replaced, never written through.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { localError, type MigrateError } from '../errors.js';
import { renderHtml } from './render-html.js';
import { renderJson } from './render-json.js';
import { renderMarkdown } from './render-markdown.js';
import type { Report } from './schema.js';

export interface ReportFiles {
  json: string;
  markdown: string;
  html: string;
}

/** Whatever fails while writing a report is this machine's (never a stack trace). */
function writeError(thrown: unknown, path: string): MigrateError {
  return localError(thrown, path, 'write the report', {
    anyCode: true,
    hint: 'free space or fix permissions where the reports go (or pass --out <dir>), then rerun; no partial report was left behind',
  })!;
}

function writeNew(path: string, text: string): void {
  const data = Buffer.from(text, 'utf8');
  // 'wx': a name that exists (a link someone put there) is an error, never followed
  const fd = openSync(path, 'wx', 0o644);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `<outDir>/<job>-<kind>-<time>.{json,md,html}`, each written whole or not at all. */
export function writeReportFiles(report: Report, jobName: string, outDir: string, kind: string): ReportFiles {
  const stamp = report.generatedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = resolve(outDir, `${jobName}-${kind}-${stamp}`);
  const files: ReportFiles = { json: `${base}.json`, markdown: `${base}.md`, html: `${base}.html` };
  // rendered before anything touches the disk: a renderer's failure leaves nothing behind
  const texts: [keyof ReportFiles, string][] = [
    ['json', renderJson(report)],
    ['markdown', renderMarkdown(report)],
    ['html', renderHtml(report)],
  ];
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw writeError(e, resolve(outDir));
  }
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temps = new Map<keyof ReportFiles, string>();
  try {
    for (const [k, text] of texts) {
      const tmp = `${files[k]}.${tag}.tmp`;
      temps.set(k, tmp);
      try {
        writeNew(tmp, text);
      } catch (e) {
        throw writeError(e, files[k]);
      }
    }
    // all three are whole on disk: only now do they take their names
    for (const [k] of texts) {
      try {
        renameSync(temps.get(k)!, files[k]);
      } catch (e) {
        throw writeError(e, files[k]);
      }
      temps.delete(k);
    }
  } finally {
    for (const tmp of temps.values()) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created, or already gone
      }
    }
  }
  return files;
}
