/** `warm` run in this process, its output captured, for the warm tests that read its JSON summary and the stand-in's log. */
import { Writable } from 'node:stream';
import { warmCommand } from '../../src/cli/warm.js';
import type { WarmSummary } from '../../src/warm/summary.js';
import type { RequestLogEntry } from './codeartifact/index.js';

type WarmOptions = Parameters<typeof warmCommand>[1];

/** Requests through a store or shared repository naming this package. */
export const throughStore = (log: readonly RequestLogEntry[], pkg: string) => log.filter((e) => /-(store|shared)$/.test(e.repository ?? '') && e.package === pkg);

/** `warm FILE --json` with `options`: its exit code, its summary, what it printed, how long it took. */
export async function warmInProcess(file: string, options: WarmOptions): Promise<{ code: number; summary: WarmSummary; stdout: string; stderr: string; ms: number }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: Object.assign(new Writable({ write: (c: Buffer, _e, cb) => ((stdout += c.toString()), cb()) }), { isTTY: false }),
    stderr: Object.assign(new Writable({ write: (c: Buffer, _e, cb) => ((stderr += c.toString()), cb()) }), { isTTY: false }),
  };
  const started = Date.now();
  const code = await warmCommand(file, { json: true, ...options }, io);
  return { code, summary: JSON.parse(stdout) as WarmSummary, stdout, stderr, ms: Date.now() - started };
}
