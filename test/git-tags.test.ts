/**
 * Which tags of a git source are which versions: the listing of a real GitSource over
 * real local repositories (file://).
 *  - PEP 440-equal versions (`1.0`, `1.0.0`, `0!1.0.0.0`) are one version.
 * https://peps.python.org/pep-0440/#version-matching
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema } from '../src/config/schema.js';
import type { GitSourceConfig } from '../src/config/schema.js';
import { GitSource } from '../src/sources/git.js';
import type { VersionListing } from '../src/types.js';

const run = promisify(execFile);
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-git-tags-'));
  await mkdir(join(tmp, 'repos'));
  await writeFile(
    join(tmp, 'gitconfig'),
    `[user]\n\tname = T\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n`,
  );
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const gitEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: tmp, GIT_CONFIG_GLOBAL: join(tmp, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1' });

/** A repository `<tmp>/repos/<name>.git`; each commit() adds files, commits them and puts the tags on it. */
async function repo(name: string) {
  const dir = join(tmp, 'repos', `${name}.git`);
  await mkdir(dir, { recursive: true });
  const git = (...args: string[]) => run('git', args, { cwd: dir, env: { ...gitEnv(), GIT_AUTHOR_DATE: '2021-03-04T05:06:07Z', GIT_COMMITTER_DATE: '2021-03-04T05:06:07Z' } });
  await git('init', '-q');
  return {
    url: `file://${dir}`,
    async commit(files: Record<string, string>, tags: string[]): Promise<string> {
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(dir, path)), { recursive: true });
        await writeFile(join(dir, path), content);
      }
      await git('add', '-A');
      await git('commit', '-q', '--allow-empty', '-m', tags.join(' '));
      for (const t of tags) await git('tag', t);
      return (await git('rev-parse', 'HEAD')).stdout.trim();
    },
  };
}

interface Listed extends VersionListing {
  name: string;
}

let sources = 0;
/** The source as the engine sees it: prepared (mirror fetched, tags read), then every package listed. */
async function open(config: Record<string, unknown>): Promise<{ source: GitSource; versions: Listed[] }> {
  const cfg = sourceSchema.parse({ kind: 'git', id: `s${++sources}`, ...config }) as GitSourceConfig;
  const source = new GitSource(cfg, { PATH: process.env.PATH, HOME: tmp }, join(tmp, 'state'), 'job');
  await source.prepare();
  const versions: Listed[] = [];
  for await (const n of source.packageNames()) {
    if (!n.ok) throw n.error;
    versions.push(...(await source.listing(n.name)).versions.map((v) => ({ ...v, name: n.name })));
  }
  source.close();
  // one row per (package, version): two entries under one version would share a row in state
  expect(new Set(versions.map((v) => `${v.name}@${v.version}`)).size).toBe(versions.length);
  return { source, versions };
}

/** What is migrated: neither skipped nor a problem. */
const migrated = (versions: Listed[]) => versions.filter((v) => !v.skip && !v.problem).map((v) => `${v.name}@${v.version} ${v.ref}`).sort();

describe('Python: versions equal under PEP 440 are one version', () => {
  const pyproject = (v: string) => `[project]\nname = "acme-billing"\nversion = "${v}"\n`;

  it('v1.0, v1.0.0 and v0!1.0.0.0 at different commits: one version, a problem naming all three tags; 1.0.0+local is its own', async () => {
    const r = await repo('py');
    await r.commit({ 'pyproject.toml': pyproject('1.0') }, ['v1.0', 'v2.0rc1']);
    await r.commit({ 'pyproject.toml': pyproject('1.0.0') }, ['v1.0.0', 'v2.0-rc1', 'v1.0.0+local', 'v0!1.0.0.0']);
    const { versions } = await open({ url: r.url, format: 'pypi', package: 'acme-billing' });
    expect(migrated(versions)).toEqual(['acme-billing@1.0.0+local v1.0.0+local']);
    const problems = versions.filter((v) => v.problem);
    expect(problems.map((v) => v.version).sort()).toEqual(['1.0.0.0', '2.0rc1']);
    const one = problems.find((v) => v.version === '1.0.0.0')!.problem!;
    for (const tag of ['v1.0 ', 'v1.0.0 ', 'v0!1.0.0.0 ']) expect(one).toContain(tag);
  });

  it('at one commit they are one version (the first tag by name), and an override may name any of its tags or spellings', async () => {
    const r = await repo('py-same');
    const sha = await r.commit({ 'pyproject.toml': pyproject('1.0') }, ['v1.0', 'v1.0.0', 'v1.0.0.0']);
    await r.commit({ 'pyproject.toml': pyproject('2.0') }, ['v2.0', 'v2']);
    const { versions } = await open({ url: r.url, format: 'pypi', package: 'acme-billing', versions: { 'v1.0.0.0': { skip: 'held back' }, '2.0.0': { skip: 'also' } } });
    expect(versions.map((v) => `${v.version} ${v.ref} ${v.skip ?? ''}`).sort()).toEqual(['1.0 v1.0 held back', '2 v2 also']);
    expect(versions.find((v) => v.version === '1.0')!.commit).toBe(sha);
  });
});
