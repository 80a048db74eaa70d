/** `warm` run in this process, its output captured, for the warm tests that read its JSON summary and the stand-in's log. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { warmCommand } from '../../src/cli/warm.js';
import type { WarmSummary } from '../../src/warm/summary.js';
import type { RequestLogEntry } from './codeartifact/index.js';
import type { TestEnv } from './harness.js';

type WarmOptions = Parameters<typeof warmCommand>[1];

/**
 * A warm job named `name` over `files` (written under the test's folder, in `name/`), reading
 * the `lockfiles` among them: the private registry's `@acme/core` internal, one retry, a 10 s
 * pending bound; `filters` and `publicNpm` (the job's publicRegistries.npm) when given, and
 * `privateNpm` in place of `{ packages: ['@acme/core'] }` (`{}`: the scope @acme alone, no
 * package a harden must protect before the warm).
 */
export function writeWarmJob(te: TestEnv, name: string, files: Record<string, string>, lockfiles: readonly string[], opts: { publicNpm?: string; filters?: Record<string, unknown>; privateNpm?: { packages?: string[]; scopes?: string[] } } = {}): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(te.dir, name, path)), { recursive: true });
    writeFileSync(join(te.dir, name, path), text);
  }
  const file = te.writeJob({ name, github: false, privateNpm: opts.privateNpm ?? { packages: ['@acme/core'] }, ...(opts.filters ? { filters: opts.filters } : {}) });
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  doc.warm = { lockfiles: lockfiles.map((l) => `${name}/${l}`), pendingTimeoutSeconds: 10 };
  doc.limits = { ...(doc.limits as Record<string, unknown>), retries: 1 };
  if (opts.publicNpm) doc.publicRegistries = { ...(doc.publicRegistries as Record<string, unknown>), npm: opts.publicNpm };
  writeFileSync(file, stringify(doc));
  return file;
}

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
