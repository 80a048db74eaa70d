/**
 * What a hostile repository can put into a git source's listing through its tags and the
 * files read at them: the listing of a real GitSource over real local repositories
 * (file://) made object by object, as no `git tag` or `git commit` would make them
 * (commit times past what a date holds, tag names of tens of kilobytes in packed-refs).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema } from '../src/config/schema.js';
import type { GitSourceConfig } from '../src/config/schema.js';
import { GitSource } from '../src/sources/git.js';
import type { VersionListing } from '../src/types.js';

const run = promisify(execFile);
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-git-tags-hostile-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: tmp, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' });

/** A bare repository built from raw objects: commits with any committer time, tags of any name (written into packed-refs). */
async function rawRepo(name: string) {
  const dir = join(tmp, 'repos', `${name}.git`);
  await mkdir(dir, { recursive: true });
  const git = async (args: string[], input?: string) => {
    const p = run('git', args, { cwd: dir, env: { ...env(), GIT_INDEX_FILE: join(dir, 'scratch-index') }, maxBuffer: 64 << 20 });
    if (input !== undefined) p.child.stdin!.end(input);
    return (await p).stdout.trim();
  };
  await git(['init', '-q', '--bare']);
  const refs: string[] = [];
  const blobs = new Map<string, string>();
  return {
    url: `file://${dir}`,
    /** A commit of `files` whose author and committer time is `seconds`, as written. */
    async commit(files: Record<string, string>, seconds: string, message = 'release'): Promise<string> {
      await rm(join(dir, 'scratch-index'), { force: true });
      for (const [path, content] of Object.entries(files)) {
        if (!blobs.has(content)) blobs.set(content, await git(['hash-object', '-w', '--stdin'], content));
        await git(['update-index', '--add', '--cacheinfo', `100644,${blobs.get(content)!},${path}`]);
      }
      const tree = await git(['write-tree']);
      const body = `tree ${tree}\nauthor T <t@example.com> ${seconds} +0000\ncommitter T <t@example.com> ${seconds} +0000\n\n${message}\n`;
      return git(['hash-object', '-t', 'commit', '-w', '--literally', '--stdin'], body);
    },
    tag(tag: string, commit: string): void {
      refs.push(`${commit} refs/tags/${tag}`);
    },
    /** Writes the tags into packed-refs (a loose ref could not have a name longer than a file name). */
    async publish(): Promise<void> {
      await writeFile(join(dir, 'packed-refs'), `# pack-refs with: peeled fully-peeled sorted\n${refs.sort().map((r) => `${r}\n`).join('')}`);
    },
  };
}

interface Listed extends VersionListing {
  name: string;
}

let sources = 0;
/** The source as the engine sees it: prepared (mirror fetched, tags read), then every package listed. */
async function open(config: Record<string, unknown>): Promise<Listed[]> {
  const cfg = sourceSchema.parse({ kind: 'git', id: `s${++sources}`, ...config }) as GitSourceConfig;
  const source = new GitSource(cfg, { PATH: process.env.PATH, HOME: tmp }, join(tmp, 'state'), 'job');
  try {
    await source.prepare();
    const versions: Listed[] = [];
    for await (const n of source.packageNames()) {
      if (!n.ok) throw n.error;
      versions.push(...(await source.listing(n.name)).versions.map((v) => ({ ...v, name: n.name })));
    }
    // one row per (package, version): two entries under one version would share a row in state
    expect(new Set(versions.map((v) => `${v.name}@${v.version}`)).size).toBe(versions.length);
    return versions;
  } finally {
    source.close();
  }
}

const PYPROJECT = '[project]\nname = "acme-billing"\nversion = "0"\n';

describe('commit times', () => {
  it('a commit dated past what a date can hold (year 3,170,843) fails its own version (a problem), not the listing of every tag', async () => {
    const r = await rawRepo('far-future');
    r.tag('v1.0.0', await r.commit({ 'pyproject.toml': PYPROJECT }, '1600000000'));
    r.tag('v1.1.0', await r.commit({ 'pyproject.toml': PYPROJECT }, '99999999999999'));
    // the largest a date holds (year 275760) is a time like any other
    r.tag('v1.2.0', await r.commit({ 'pyproject.toml': PYPROJECT }, '8640000000000'));
    await r.publish();
    const versions = await open({ url: r.url, format: 'pypi', package: 'acme-billing' });
    const by = new Map(versions.map((v) => [v.version, v]));
    expect([...by.keys()].sort()).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    expect(by.get('1.0.0')).toMatchObject({ publishedAt: '2020-09-13T12:26:40.000Z' });
    expect(by.get('1.0.0')!.problem).toBeUndefined();
    expect(by.get('1.2.0')).toMatchObject({ publishedAt: '+275760-09-13T00:00:00.000Z' });
    expect(by.get('1.2.0')!.problem).toBeUndefined();
    expect(by.get('1.1.0')!.problem).toContain('99999999999999');
    expect(by.get('1.1.0')!.publishedAt).toBeUndefined();
  });
});

describe('tag names', () => {
  /** Every string a version's listing keeps, with their lengths. */
  const kept = (v: Listed) => [v.version, v.ref ?? '', v.artifactUrl, v.skip ?? '', v.problem ?? ''];

  it('a tag of tens of kilobytes (packed-refs hold any length) is skipped under a short key: neither built under a 40,000-character version nor kept whole', async () => {
    const r = await rawRepo('long-tags');
    const sha = await r.commit({ 'pyproject.toml': PYPROJECT }, '1600000000');
    // a PEP 440 version of 40,001 characters, and two 60 KB non-versions alike in their first 100 characters
    const versionLike = `v${'1.'.repeat(20_000)}0`;
    const junk = [`vX${'a'.repeat(60_000)}`, `vX${'a'.repeat(60_001)}`];
    for (const t of ['v1.0.0', versionLike, ...junk]) r.tag(t, sha);
    await r.publish();
    for (const format of ['pypi', 'npm', 'go'] as const) {
      const versions = await open({ url: r.url, format, package: format === 'go' ? 'example.com/long' : 'acme-billing' });
      expect(versions.filter((v) => !v.skip && !v.problem).map((v) => v.ref), format).toEqual(['v1.0.0']);
      const long = versions.filter((v) => v.ref !== 'v1.0.0');
      expect(long, format).toHaveLength(3);
      for (const v of long) {
        expect(v.skip, format).toMatch(/characters/);
        for (const text of kept(v)) expect(text.length, `${format}: ${text.slice(0, 40)}`).toBeLessThan(1000);
      }
    }
  });

  it('a tag of 101 to 256 characters keeps its whole text as its key: two alike in their first 100 are two versions', async () => {
    const r = await rawRepo('mid-tags');
    const sha = await r.commit({ 'pyproject.toml': PYPROJECT }, '1600000000');
    for (const t of [`vX${'a'.repeat(150)}`, `vX${'a'.repeat(151)}`]) r.tag(t, sha);
    await r.publish();
    const versions = await open({ url: r.url, format: 'pypi', package: 'acme-billing' });
    expect(versions.map((v) => v.version.length).sort()).toEqual([151, 152]);
  });
});

describe('the package name a tag gives', () => {
  const ESC = '\u001b';
  /** Every package a listing gives, and every text it keeps of a version. */
  const names = (versions: Listed[]) => [...new Set(versions.map((v) => v.name))].sort();
  const texts = (versions: Listed[]) => versions.flatMap((v) => [v.name, v.version, v.skip ?? '', v.problem ?? '']);

  it("a go.mod whose module line is no module path (escape sequences, bidi controls) or longer than CodeArtifact holds (1 MB) names no package: that version is a problem, quoted short and escaped", async () => {
    const r = await rawRepo('go-names');
    r.tag('v1.0.0', await r.commit({ 'go.mod': `module "example.com/a${ESC}[2J\u202eb"\n`, 'a.go': 'package a\n' }, '1600000000', 'escape'));
    r.tag('v1.1.0', await r.commit({ 'go.mod': `module example.com/${'x'.repeat(1_000_000)}\n`, 'a.go': 'package a\n' }, '1600000001', 'long'));
    r.tag('v1.2.0', await r.commit({ 'go.mod': 'module example.com/good\n', 'a.go': 'package a\n' }, '1600000002', 'good'));
    // a v2+ module in its v2/ folder is read from that folder's go.mod: the same rules
    r.tag('v2.0.0', await r.commit({ 'v2/go.mod': `module example.com/${'y'.repeat(300)}/v2\n`, 'a.go': 'package a\n' }, '1600000003', 'v2'));
    await r.publish();

    const versions = await open({ url: r.url, format: 'go', id: 'go-names' });
    expect(names(versions)).toEqual(['example.com/good', 'go-names']);
    expect(versions.filter((v) => !v.skip && !v.problem).map((v) => `${v.name}@${v.version}`)).toEqual(['example.com/good@v1.2.0']);
    expect(versions.filter((v) => v.problem).map((v) => v.ref).sort()).toEqual(['v1.0.0', 'v1.1.0', 'v2.0.0']);
    for (const text of texts(versions)) {
      expect(text.length).toBeLessThan(1000);
      expect(text).not.toMatch(/[\u001b\u202e]/);
    }

    // the job's package: a go.mod naming another module is a problem that quotes it short and escaped
    const named = await open({ url: r.url, format: 'go', package: 'example.com/good' });
    expect(names(named)).toEqual(['example.com/good']);
    for (const text of texts(named)) {
      expect(text.length).toBeLessThan(1000);
      expect(text).not.toMatch(/[\u001b\u202e]/);
    }
  });

  it("a package.json name that is no npm package name names no package: that version is a problem", async () => {
    const r = await rawRepo('npm-names');
    r.tag('v1.0.0', await r.commit({ 'package.json': JSON.stringify({ name: `a${ESC}[31m\u202eb`, version: '1.0.0' }) }, '1600000000', 'escape'));
    r.tag('v1.1.0', await r.commit({ 'package.json': JSON.stringify({ name: '../../etc', version: '1.1.0' }) }, '1600000001', 'path'));
    r.tag('v1.2.0', await r.commit({ 'package.json': JSON.stringify({ name: '@acme/good', version: '1.2.0' }) }, '1600000002', 'good'));
    await r.publish();
    const versions = await open({ url: r.url, format: 'npm', id: 'npm-names' });
    expect(names(versions)).toEqual(['@acme/good', 'npm-names']);
    expect(versions.filter((v) => v.problem).map((v) => v.ref).sort()).toEqual(['v1.0.0', 'v1.1.0']);
    for (const text of texts(versions)) expect(text).not.toMatch(/[\u001b\u202e]/);
  });

  it('a package.json that begins with a byte order mark names its package, as npm reads it', async () => {
    const r = await rawRepo('npm-bom');
    r.tag('v1.0.0', await r.commit({ 'package.json': `\uFEFF${JSON.stringify({ name: '@acme/bom', version: '1.0.0' })}` }, '1600000000', 'bom'));
    await r.publish();
    const versions = await open({ url: r.url, format: 'npm', id: 'npm-bom' });
    expect(names(versions)).toEqual(['@acme/bom']);
    expect(versions.filter((v) => v.problem)).toEqual([]);
  });
});

describe('the files read at tags', () => {
  it('tags whose go.mod is 16 MiB of spaces (one blob, kilobytes in the pack) are listed keeping the module path, not the file: 64 tags under a 256 MB heap', async () => {
    const r = await rawRepo('big-gomod');
    const goMod = `module example.com/big\n// ${' '.repeat((16 << 20) - 40)}\n`;
    for (let i = 0; i < 64; i++) r.tag(`v1.0.${i}`, await r.commit({ 'go.mod': goMod }, String(1600000000 + i), `r${i}`));
    await r.publish();
    // the listing in a process of its own, its heap bounded: what a repository makes it keep per tag shows as a crash
    const script = join(tmp, 'list-big.mts');
    await writeFile(
      script,
      `import { sourceSchema } from ${JSON.stringify(join(process.cwd(), 'src/config/schema.ts'))};
import { GitSource } from ${JSON.stringify(join(process.cwd(), 'src/sources/git.ts'))};
const s = new GitSource(sourceSchema.parse({ kind: 'git', id: 'big', url: ${JSON.stringify(r.url)}, format: 'go' }) as never, { PATH: process.env.PATH, HOME: ${JSON.stringify(tmp)} }, ${JSON.stringify(join(tmp, 'state'))}, 'job');
await s.prepare();
const out = [];
for await (const n of s.packageNames()) if (n.ok) out.push(...(await s.listing(n.name)).versions.filter((v) => !v.problem && !v.skip).map((v) => n.name + '@' + v.version));
s.close();
console.log(JSON.stringify(out));
`,
    );
    const { stdout } = await run(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', script], { cwd: process.cwd(), env: { PATH: process.env.PATH, HOME: tmp }, maxBuffer: 1 << 20 });
    const listed = JSON.parse(stdout) as string[];
    expect(listed).toHaveLength(64);
    expect(new Set(listed.map((v) => v.split('@')[0]))).toEqual(new Set(['example.com/big']));
  }, 120_000);
});

describe('PEP 440 versions with numbers past what a JavaScript number holds', () => {
  it('v99999999999999999999 is never listed as another version (the pep440 library rounds it to 100000000000000000000), and v1.0.<30 digits> fails no listing', async () => {
    const r = await rawRepo('big-numbers');
    const sha = await r.commit({ 'pyproject.toml': PYPROJECT }, '1600000000');
    for (const t of ['v1.0.0', 'v99999999999999999999', `v1.0.${'9'.repeat(30)}`, 'v1.0+g12345678901234567890']) r.tag(t, sha);
    await r.publish();
    const versions = await open({ url: r.url, format: 'pypi', package: 'acme-billing' });
    // a version is listed only as the tag spells it, never rounded
    for (const v of versions.filter((x) => !x.skip)) expect(v.ref, v.version).toBe(`v${v.version}`);
    expect(versions.filter((v) => !v.skip).map((v) => v.version).sort()).toEqual(['1.0+g12345678901234567890', '1.0.0']);
    expect(versions.filter((v) => v.skip).map((v) => v.ref).sort()).toEqual([`v1.0.${'9'.repeat(30)}`, 'v99999999999999999999']);
  });
});

describe('Go commit times go cannot write', () => {
  it('a Go tag at a commit dated year 10000 or later is a problem (go writes no .info past 9999, nor reads one), not a version whose .info breaks go get @latest', async () => {
    const r = await rawRepo('go-year-10000');
    const mod = { 'go.mod': 'module git.acme.example/far\n\ngo 1.19\n', 'far.go': 'package far\n' };
    r.tag('v1.0.0', await r.commit(mod, '1600000000'));
    // 9999-12-31T23:59:59Z is the last second go's time.Time MarshalJSON takes
    r.tag('v1.1.0', await r.commit(mod, '253402300799'));
    r.tag('v1.2.0', await r.commit(mod, '253402300800'));
    await r.publish();
    const by = new Map((await open({ url: r.url, format: 'go' })).map((v) => [v.version, v]));
    expect(by.get('v1.0.0')!.problem).toBeUndefined();
    expect(by.get('v1.1.0')!.problem).toBeUndefined();
    expect(by.get('v1.2.0')!.problem).toMatch(/year 10000.*9999/);
  });
});
