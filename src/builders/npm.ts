/**
 * An npm package that lives only in git, packed from its tagged checkout the
 * way npm packs a git dependency (pacote's GitFetcher: when the package has a
 * `prepare` script, install its dependencies and let `npm pack` run it; then
 * pack what npm-packlist selects). We run the real npm CLI in the checkout
 * rather than re-implementing packlist: the bytes are what `npm pack` makes.
 * https://docs.npmjs.com/cli/v11/commands/npm-pack  https://github.com/npm/pacote#git-dependencies
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MigrateError } from '../errors.js';
import { runProcess } from './process.js';

export interface NpmPackInput {
  checkoutDir: string;
  subdir: string;
  /** The package name and version the tag says. */
  name: string;
  version: string;
  outDir: string;
  /** Another command that leaves one .tgz in {outdir} (default: npm pack). */
  command?: string | readonly string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

const DEFAULT_PACK = ['npm', 'pack', '--json', '--pack-destination', '{outdir}'];

export async function packNpm(input: NpmPackInput): Promise<{ path: string; output: string }> {
  const subject = `${input.name}@${input.version}`;
  const dir = input.subdir ? join(input.checkoutDir, input.subdir) : input.checkoutDir;
  const manifest = readManifest(dir, subject);
  mkdirSync(input.outDir, { recursive: true });
  const home = await mkdtemp(join(tmpdir(), 'cam-npm-home-'));
  // npm's own settings only: no user .npmrc, a private cache, no update notifier, no audit
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    npm_config_cache: join(home, 'cache'),
    npm_config_userconfig: join(home, '.npmrc'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    ...(process.env.HTTPS_PROXY ? { HTTPS_PROXY: process.env.HTTPS_PROXY } : {}),
    ...(process.env.NO_PROXY ? { NO_PROXY: process.env.NO_PROXY } : {}),
  };
  const run = async (argv: readonly string[], what: string) => {
    const r = await runProcess({ argv, cwd: dir, env, timeoutMs: input.timeoutMs, signal: input.signal });
    if (r.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: ${what} cut off by the stop`, { subject });
    if (r.exitCode !== 0) {
      throw new MigrateError('EBUILD', `${subject}: ${what} ${r.timedOut ? `timed out after ${input.timeoutMs / 1000} s` : `failed (exit ${r.exitCode ?? r.signal})`}`, {
        subject,
        actual: r.output.slice(-4096),
        hint: 'fix the tag, or give this version another build command (versions: { "<version>": { command: … } }) or skip it, in the job file',
      });
    }
    return r.output;
  };
  try {
    // a prepare script (a TypeScript build) needs the dev dependencies, as pacote installs them for git deps
    const scripts = (manifest.scripts ?? {}) as Record<string, unknown>;
    if (!input.command && (scripts.prepare || scripts.prepack) && !existsSync(join(dir, 'node_modules'))) {
      await run(['npm', existsSync(join(dir, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund'], 'installing dependencies for its prepare script');
    }
    const argv = (input.command ? (typeof input.command === 'string' ? input.command.split(/\s+/).filter(Boolean) : input.command) : DEFAULT_PACK).map((a) => a.replaceAll('{outdir}', input.outDir));
    const output = await run(argv, 'npm pack');
    const tarballs = readdirSync(input.outDir).filter((f) => f.endsWith('.tgz'));
    if (tarballs.length !== 1) {
      throw new MigrateError('EBADBUILD', `${subject}: the pack left ${tarballs.length} tarballs in the output folder, not one`, { subject, actual: tarballs.join(', ') || '(none)' });
    }
    const path = join(input.outDir, 'package.tgz');
    renameSync(join(input.outDir, tarballs[0]!), path);
    return { path, output };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

function readManifest(dir: string, subject: string): Record<string, unknown> {
  try {
    const doc = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as unknown;
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return doc as Record<string, unknown>;
  } catch {
    // below
  }
  throw new MigrateError('EBADBUILD', `${subject}: the tag has no readable package.json`, { subject, hint: 'skip this version in the job file, or fix the tag' });
}
