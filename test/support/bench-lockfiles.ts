/**
 * The `lockfiles` phase of bench.ts: what parsing a monorepo's lockfile costs. Big lockfiles of
 * each format (big-lockfiles.ts) are parsed by the built CLI's parseLockfile (what warm and
 * rewrite-lockfiles use), each in a child of its own, so the peak RSS is that format's alone,
 * then warm's collect reads them all in one child, as one job naming them would, and each
 * format is rewritten (rewrite-lockfiles' rewriter, which reads the text again its own way)
 * in a child of its own, and a pnpm-lock.yaml whose scoped third carry tarball URLs besides
 * (written after the collect, which reads the three only): pnpm's rewriter has work to do
 * only when there are URLs.
 * Prints its own lines; returns the figures for bench.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pnpmV9, writeBigLockfiles } from './big-lockfiles.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface LockfileFigure {
  format: string;
  mb: number;
  entries: number;
  seconds: number;
  mbPerSecond: number;
  peakRssBytes: number;
}

/** Run `body` (an ES module's text, dist/ importable) in a child; its one JSON line is the figure. */
function child(body: string): Record<string, number> {
  const out = execFileSync(process.execPath, ['--no-deprecation', '--input-type=module', '-e', body], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

export function lockfilesBench(opts: { packages?: number; log?: (s: string) => void } = {}): { parse: LockfileFigure[]; collect: LockfileFigure; rewrite: LockfileFigure[] } {
  const count = opts.packages ?? 110_000;
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'cam-bench-lockfiles-'));
  try {
    log(`writing lockfiles of ${count} packages each…`);
    const files = writeBigLockfiles(dir, count);
    const dist = (p: string) => JSON.stringify(join(ROOT, 'dist/src', p));
    /** `setup`, then `count` (an expression: how many entries, or URLs changed) timed, in a child of its own. */
    const timed = (format: string, mb: number, setup: string, count: string): LockfileFigure => {
      const r = child(
        `${setup}
         const t = performance.now();
         const n = ${count};
         console.log(JSON.stringify({ entries: n, seconds: (performance.now() - t) / 1000, peak: process.resourceUsage().maxRSS * 1024 }));`,
      );
      return { format, mb, entries: r.entries!, seconds: r.seconds!, mbPerSecond: mb / r.seconds!, peakRssBytes: r.peak! };
    };
    const mbOf = (file: string) => statSync(file).size / 2 ** 20;
    const parse = files.map(({ format, file }) =>
      timed(format, mbOf(file), `const { parseLockfile } = await import(${dist('lockfiles/index.js')});`, `parseLockfile(${JSON.stringify(file)}).entries.length`),
    );
    const collect = timed(
      'warm collect',
      parse.reduce((n, x) => n + x.mb, 0),
      `const { collectInputs } = await import(${dist('warm/inputs.js')});
       const job = { file: ${JSON.stringify(join(dir, 'job.yaml'))}, name: 'bench', config: { warm: { lockfiles: ['.'], repositories: [] }, limits: {} } };`,
      `await collectInputs(job, { env: {}, stateDir: ${JSON.stringify(join(dir, 'state'))} }).then((r) => {
         if (r.errors.length) throw new Error(JSON.stringify(r.errors));
         return r.lockfiles.reduce((n, l) => n + l.result.entries.length, 0);
       })`,
    );
    const tarballs = join(dir, 'pnpm-tarballs', 'pnpm-lock.yaml');
    mkdirSync(join(dir, 'pnpm-tarballs'));
    writeFileSync(tarballs, pnpmV9(count, { tarballs: true }));
    const rewrite = [...files.map((f) => ({ ...f, label: f.format })), { format: 'pnpm', file: tarballs, label: 'pnpm tarballs' }].map(({ format, file, label }) =>
      timed(
        `rewrite ${label}`,
        mbOf(file),
        `const { rewriteLockfile } = await import(${dist('lockfiles/rewrite/index.js')});
         const text = (await import('node:fs')).readFileSync(${JSON.stringify(file)}, 'utf8');`,
        `rewriteLockfile(${JSON.stringify(format)}, text, { npm: 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/npm/npm-shared/' }).changes.length`,
      ),
    );
    for (const x of [...parse, collect, ...rewrite]) log(`  lockfile ${x.format.padEnd(22)} ${x.mb.toFixed(1)} MB, ${x.entries} ${x.format.startsWith('rewrite') ? 'URLs changed' : 'entries'}: ${x.seconds.toFixed(1)} s = ${x.mbPerSecond.toFixed(1)} MB/s, peak RSS ${(x.peakRssBytes / 2 ** 20).toFixed(0)} MB`);
    return { parse, collect, rewrite };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
