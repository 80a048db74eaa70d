/**
 * Lockfiles from repositories we do not control, made to hurt whoever reads them:
 * links and includes that lead to a secret elsewhere on the machine, folder
 * loops, FIFOs and devices, and inputs on which a careless parser is quadratic
 * (or never ends). What may never end runs in a child process that is killed
 * after a generous limit: the assertion is that it finished, with the outcome
 * expected, never how fast.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoadedJob } from '../src/config/load.js';
import { parseLockfile } from '../src/lockfiles/index.js';
import { collectInputs, localLockfiles } from '../src/warm/inputs.js';
import { thrown } from './support/thrown.js';

const ROOT = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'cam-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** A fresh folder. */
function folder(): string {
  const d = join(dir, String(n++));
  mkdirSync(d, { recursive: true });
  return d;
}
function write(p: string, content: string): string {
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}

// an .npmrc token line, put together at run time: this file holds nothing a secret scanner takes for one
const SECRET = ['//npm.acme.example/:_auth', 'Token=s3cr3t'].join('');
/** A credentials file outside every folder searched, as on a CI runner. */
function secretFile(): string {
  return write(join(folder(), 'home', 'ci', '.npmrc'), `${SECRET}\n`);
}

/** A minimal job whose `warm.lockfiles` is `lockfiles`, relative to a job file in `jobDir`. */
function job(jobDir: string, lockfiles: string[]): LoadedJob {
  return { file: join(jobDir, 'job.yaml'), config: { warm: { lockfiles, repositories: [] } } } as unknown as LoadedJob;
}
const collect = (j: LoadedJob) => collectInputs(j, { env: {}, stateDir: join(dir, 'state') });

/**
 * Run `body` (the code of an ES module, with `parseLockfile` and `findLockfiles`
 * in scope) in a child killed after `timeoutMs`; its last stdout line is JSON.
 * The kill is what ends a parser that loops for ever: no speed is asserted, so it
 * is far above what a parse takes (5 s for the deepest input alone; over 20 s
 * beside the other test files' dozens of CLI processes on 2 cores).
 */
function inChild(body: string, timeoutMs = 120_000): Promise<{ finished: boolean; result?: unknown; stderr: string }> {
  const script = write(join(folder(), 'child.mts'), [
    `import { parseLockfile } from ${JSON.stringify(join(ROOT, 'src/lockfiles/index.ts'))};`,
    `import { findLockfiles } from ${JSON.stringify(join(ROOT, 'src/warm/inputs.ts'))};`,
    'const out = (v) => process.stdout.write(JSON.stringify(v) + "\\n");',
    'const parse = (f, o) => { try { const r = parseLockfile(f, o); return { entries: r.entries.length, names: r.entries.map((e) => e.name).slice(0, 5) }; } catch (e) { return { code: e.code, error: String(e.message).slice(0, 400), range: e instanceof RangeError }; } };',
    body,
  ].join('\n'));
  return new Promise((done) => {
    // stdin stays an open pipe that nobody writes: reading /dev/stdin would wait forever
    const child = spawn(process.execPath, ['--no-deprecation', '--import', 'tsx', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin.destroy();
      const last = stdout.trim().split('\n').pop();
      if (code !== 0 || signal || !last) return done({ finished: false, stderr });
      done({ finished: true, result: JSON.parse(last) as unknown, stderr });
    });
  });
}

describe('links and includes that lead outside the folder read', () => {
  it('a committed requirements.txt -> ~/.npmrc is a lockfile error that never shows the secret; the other lockfiles are read', async () => {
    const secret = secretFile();
    const project = folder();
    symlinkSync(secret, join(project, 'requirements.txt'));
    write(join(project, 'svc', 'requirements.txt'), 'a==1.0\n');
    // a link that stays inside, to a regular file, is a lockfile like any other
    write(join(project, 'reqs', 'prod.txt'), 'b==2.0\n');
    symlinkSync(join('reqs', 'prod.txt'), join(project, 'requirements-prod.txt'));

    const inputs = await collect(job(project, ['.']));
    expect(JSON.stringify(inputs)).not.toContain('s3cr3t');
    expect(inputs.errors).toEqual([expect.objectContaining({ path: 'requirements.txt', code: 'ELOCKFILE', message: expect.stringMatching(/requirements\.txt: leads outside .*not read/) })]);
    const names = inputs.lockfiles.flatMap((l) => l.result.entries.map((e) => e.name)).sort();
    expect(names).toEqual(['a', 'b']);
  });

  it('-r and -c to an absolute path, or `..` out of the folder, are errors at their line; never read', () => {
    const secret = secretFile();
    const project = folder();
    const abs = write(join(project, 'requirements.txt'), `a==1.0\n-r ${secret}\n`);
    const e1 = thrown(() => parseLockfile(abs));
    expect(e1.code).toBe('ELOCKFILE');
    expect(e1.message).toMatch(new RegExp(`^${abs}:2: -r ${secret}: leads outside`));
    expect(e1.message).not.toContain('s3cr3t');

    const rel = write(join(project, 'sub', 'requirements.txt'), `# constraints\n\n-c ../../${secret.split('/').slice(-4).join('/')}\n`);
    // the file's own folder is the limit when no root is given: `..` out of it is refused too
    const e2 = thrown(() => parseLockfile(rel));
    expect(e2.code).toBe('ELOCKFILE');
    expect(e2.message).toMatch(/requirements\.txt:3: -c \.\.\/\.\.\/.*leads outside/);
    expect(e2.message).not.toContain('s3cr3t');

    // with the searched folder as root, `..` inside it is fine; a link out of it is not
    write(join(project, 'common.txt'), 'c==3.0\n');
    const up = write(join(project, 'svc', 'requirements.txt'), '-r ../common.txt\n');
    expect(parseLockfile(up, { root: project }).entries.map((e) => e.name)).toEqual(['c']);
    symlinkSync(secret, join(project, 'linked.txt'));
    const viaLink = write(join(project, 'svc2', 'requirements.txt'), '-r ../linked.txt\n');
    const e3 = thrown(() => parseLockfile(viaLink, { root: project }));
    expect(e3.message).toMatch(/requirements\.txt:1: -r \.\.\/linked\.txt: leads outside/);
    expect(e3.message).not.toContain('s3cr3t');
  });

  it('a job whose folder holds a bad include still reads its other lockfiles', async () => {
    const secret = secretFile();
    const project = folder();
    write(join(project, 'a', 'requirements.txt'), `x==1.0\n-r ${secret}\n`);
    write(join(project, 'b', 'requirements.txt'), 'y==1.0\n');
    const inputs = await collect(job(project, ['.']));
    expect(JSON.stringify(inputs)).not.toContain('s3cr3t');
    expect(inputs.errors).toEqual([expect.objectContaining({ path: join('a', 'requirements.txt'), code: 'ELOCKFILE', line: 2 })]);
    expect(inputs.lockfiles.map((l) => l.ref.path)).toEqual([join('b', 'requirements.txt')]);
  });
});

describe('lockfiles in another encoding', () => {
  it("a requirements file in UTF-16 or UTF-32 (PowerShell's `pip freeze > requirements.txt`) is an ELOCKFILE naming its encoding, not a line of NUL bytes", () => {
    const text = '--index-url https://pypi.org/simple\r\nrequests==2.31.0\r\n';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le).swap16();
    const le32 = Buffer.alloc(4 + text.length * 4);
    le32.writeUInt32LE(0xfeff, 0);
    for (let i = 0; i < text.length; i++) le32.writeUInt32LE(text.charCodeAt(i), 4 + i * 4);
    for (const [bytes, encoding] of [[le, 'UTF-16 LE'], [be, 'UTF-16 BE'], [le32, 'UTF-32 LE']] as const) {
      const f = join(folder(), 'requirements.txt');
      writeFileSync(f, bytes);
      const e = thrown(() => parseLockfile(f));
      expect(e.code).toBe('ELOCKFILE');
      expect(e.message).toContain(`is ${encoding}`);
      expect(e.message).not.toContain('\u0000');
    }
  });
});

describe('entries of warm.lockfiles that give no lockfile', () => {
  it('a path not there, a glob matching nothing and a folder holding no lockfile (one named package-lock.json too) are each an error naming the entry; the others are read', async () => {
    const project = folder();
    mkdirSync(join(project, 'empty'));
    mkdirSync(join(project, 'package-lock.json'));
    write(join(project, 'ok', 'requirements.txt'), 'requests==2.31.0\n');
    const inputs = await collect(job(project, ['ok', 'empty', 'package-lock.json', 'servcies/**/yarn.lock', 'gone/requirements.txt']));
    expect(Object.fromEntries(inputs.errors.map((e) => [e.path, [e.code, e.message]]))).toEqual({
      empty: ['ELOCKFILE', expect.stringMatching(/^ELOCKFILE: empty: a folder with no lockfile in it \(or under it\) \(warm\.lockfiles is relative to /)],
      'package-lock.json': ['ELOCKFILE', expect.stringMatching(/package-lock\.json: a folder with no lockfile in it/)],
      'servcies/**/yarn.lock': ['ELOCKFILE', expect.stringMatching(/servcies\/\*\*\/yarn\.lock: matches no file/)],
      'gone/requirements.txt': ['ELOCKFILE', expect.stringMatching(/gone\/requirements\.txt: no such file/)],
    });
    expect(inputs.lockfiles.map((l) => l.ref.path)).toEqual([join('ok', 'requirements.txt')]);
  });
});

describe('folder loops', () => {
  it('symlinked folders are never followed: loops end, a link out of the folder is not walked', async () => {
    const project = folder();
    const outside = folder();
    write(join(outside, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    write(join(project, 'app', 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    // four links back up from two folders: followed, the walk would branch 4 ways at every level
    for (const d of ['a', 'b']) {
      mkdirSync(join(project, d));
      symlinkSync('..', join(project, d, 'x'));
      symlinkSync('..', join(project, d, 'y'));
    }
    symlinkSync(outside, join(project, 'ext'));
    const r = await inChild(`out(findLockfiles(${JSON.stringify(project)}));`);
    expect(r.finished).toBe(true);
    expect(r.result).toEqual([join(project, 'app', 'package-lock.json')]);
  });
});

describe('what a glob of warm.lockfiles walks', () => {
  const LOCK = '{"lockfileVersion":3,"packages":{}}';

  it('a linked folder under the glob\'s base is never followed: one to / ends, a lockfile behind one out of the tree is not read; a path named explicitly through a link is', async () => {
    const project = folder();
    const outside = folder();
    write(join(outside, 'deep', 'package-lock.json'), LOCK);
    write(join(project, 'svc', 'a', 'package-lock.json'), LOCK);
    symlinkSync(outside, join(project, 'svc', 'ext'));
    symlinkSync('/', join(project, 'svc', 'root'));
    const r = await inChild(
      `const { localLockfiles } = await import(${JSON.stringify(join(ROOT, 'src/warm/inputs.ts'))});` +
        `out(['svc/**/package-lock.json', 'svc/*/deep/package-lock.json', 'svc/**', 'svc/ext/deep/package-lock.json'].map((p) => localLockfiles(${JSON.stringify(join(project, 'job.yaml'))}, [p]).files));`,
    );
    expect(r.finished).toBe(true);
    const inProject = join(project, 'svc', 'a', 'package-lock.json');
    // the last one the operator named, link and all: read
    expect(r.result).toEqual([[inProject], [], [inProject], [join(project, 'svc', 'ext', 'deep', 'package-lock.json')]]);
  });

  it('a glob skips node_modules, .venv, .git and the like as a folder is searched (their lockfiles are other projects\'); a pattern that names such a folder reads it', async () => {
    const project = folder();
    write(join(project, 'svc', 'web', 'package-lock.json'), LOCK);
    write(join(project, 'svc', 'web', 'requirements.txt'), 'a==1.0\n');
    // published packages carry their own lockfiles (a yarn.lock, an npm-shrinkwrap.json), a virtualenv its packages' requirements
    write(join(project, 'svc', 'web', 'node_modules', 'left-pad', 'yarn.lock'), '# yarn lockfile v1\n');
    write(join(project, 'svc', 'web', 'node_modules', 'left-pad', 'npm-shrinkwrap.json'), LOCK);
    write(join(project, 'svc', 'web', '.venv', 'lib', 'requirements.txt'), 'b==1.0\n');
    write(join(project, 'svc', 'web', '.git', 'requirements.txt'), 'c==1.0\n');
    const files = (patterns: string[]) => localLockfiles(join(project, 'job.yaml'), patterns).files.map((f) => relative(project, f));
    expect(files(['svc/**/yarn.lock', 'svc/**/npm-shrinkwrap.json', 'svc/**/requirements*.txt', '**/package-lock.json'])).toEqual([join('svc', 'web', 'package-lock.json'), join('svc', 'web', 'requirements.txt')]);
    expect(files(['svc/**'])).toEqual(files(['svc']));
    // named by the pattern, or as the glob's base: the operator asked for it
    expect(files(['svc/*/node_modules/**/yarn.lock'])).toEqual([join('svc', 'web', 'node_modules', 'left-pad', 'yarn.lock')]);
    expect(files(['svc/web/.venv/**/requirements*.txt'])).toEqual([join('svc', 'web', '.venv', 'lib', 'requirements.txt')]);
  });

  it('the state directory is never searched, by a folder or a glob: another job\'s checkout there is not this job\'s lockfile', async () => {
    const project = folder();
    write(join(project, 'app', 'package-lock.json'), LOCK);
    // a checkout a warm or run of another job has in state/tmp at this moment
    write(join(project, 'state', 'tmp', 'warm-checkout-1-x', 'package-lock.json'), LOCK);
    write(join(project, 'state', 'tmp', 'warm-checkout-1-x', 'requirements.txt'), 'x==1.0\n');
    for (const lockfiles of [['.'], ['**/package-lock.json', '**/requirements*.txt']]) {
      const inputs = await collectInputs(job(project, lockfiles), { env: {}, stateDir: join(project, 'state') });
      expect(inputs.lockfiles.map((l) => l.ref.path)).toEqual([join('app', 'package-lock.json')]);
    }
  });
});

describe('a repository of thousands of lockfiles', () => {
  it('12,000 lockfiles that do not parse: each is its own error, named in the repository, and the warm reads on (no pass over every file for every error)', async () => {
    const parent = folder();
    const n = 12_000;
    const repo = join(parent, 'repos', 'many');
    for (let i = 0; i < n; i++) write(join(repo, `p${i}`, 'package-lock.json'), '{bad');
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: repo, stdio: 'pipe' });
    git('init', '--quiet');
    git('add', '.');
    git('commit', '--quiet', '-m', 'many');
    const config = { name: 'many', limits: {}, warm: { lockfiles: [], repositories: [{ url: `file://${repo}`, branches: [], idleTimeoutSeconds: 600 }] } };
    const r = await inChild(
      `const { collectInputs } = await import(${JSON.stringify(join(ROOT, 'src/warm/inputs.ts'))});` +
        `const inputs = await collectInputs({ file: ${JSON.stringify(join(parent, 'job.yaml'))}, name: 'many', config: ${JSON.stringify(config)} }, { env: process.env, stateDir: ${JSON.stringify(join(parent, 'state'))} });` +
        `out({ errors: inputs.errors.length, first: inputs.errors.find((e) => e.path.endsWith(':p0/package-lock.json')) });`,
    );
    expect(r.finished).toBe(true);
    expect(r.result).toEqual({ errors: n, first: expect.objectContaining({ code: 'ELOCKFILE', repository: `file://${repo}#main`, message: expect.stringMatching(new RegExp(`^ELOCKFILE: file://${repo}#main:p0/package-lock\\.json:1: not valid JSON`)) }) });
  });
});

describe('the go.sum files of `goSum` (run checks them)', () => {
  const SUM = 'example.com/m v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';

  it('a glob walks as warm.lockfiles does: no linked folder followed (one to / ends), no node_modules, no linked file; a FIFO or /dev/zero named is refused unread', async () => {
    const project = folder();
    const outside = folder();
    write(join(outside, 'deep', 'go.sum'), SUM);
    write(join(project, 'svc', 'a', 'go.sum'), SUM);
    write(join(project, 'svc', 'a', 'node_modules', 'x', 'go.sum'), SUM);
    symlinkSync(outside, join(project, 'svc', 'ext'));
    symlinkSync('/', join(project, 'svc', 'root'));
    const secret = secretFile();
    mkdirSync(join(project, 'svc', 'fifo'));
    execFileSync('mkfifo', [join(project, 'svc', 'fifo', 'go.sum')]);
    mkdirSync(join(project, 'named'));
    symlinkSync('/dev/zero', join(project, 'named', 'zero.sum'));
    // a committed go.sum -> ~/.npmrc: a glob lists no link (its bad line would be quoted in the summary)
    mkdirSync(join(project, 'svc', 'b'));
    symlinkSync(secret, join(project, 'svc', 'b', 'go.sum'));
    const r = await inChild(
      `const { goSumFiles } = await import(${JSON.stringify(join(ROOT, 'src/engine/gosum-check.ts'))});` +
        `const { parseGoSum } = await import(${JSON.stringify(join(ROOT, 'src/lockfiles/gosum.ts'))});` +
        `const read = (f) => { try { return parseGoSum(f).length; } catch (e) { return e.code + ' ' + e.message; } };` +
        `const files = goSumFiles(${JSON.stringify(join(project, 'job.yaml'))}, ['svc/**/go.sum']);` +
        `out({ files, read: ['svc/fifo/go.sum', 'named/zero.sum'].map((f) => read(${JSON.stringify(project)} + '/' + f)) });`,
    );
    expect(r.finished).toBe(true);
    const { files, read } = r.result as { files: string[]; read: string[] };
    // a glob lists regular files only (no FIFO); named, one is refused unread
    expect(files).toEqual([join(project, 'svc', 'a', 'go.sum')]);
    expect(read[0]).toMatch(/^ECONFIG cannot read go\.sum .*svc\/fifo\/go\.sum: .*not a regular file/);
    expect(read[1]).toMatch(/^ECONFIG cannot read go\.sum .*named\/zero\.sum: .*not a regular file/);
  });
});

describe('FIFOs and devices', () => {
  it('a FIFO, /dev/stdin or /dev/zero as a lockfile or an include is refused, never waited on or read without end', async () => {
    const project = folder();
    const fifo = join(project, 'requirements.txt');
    execFileSync('mkfifo', [fifo]);
    const inc = write(join(project, 'sub', 'requirements.txt'), 'a==1.0\n-r ../requirements.txt\n');
    const r = await inChild(`out([
      parse(${JSON.stringify(fifo)}),
      parse('/dev/stdin', { format: 'requirements' }),
      parse('/dev/zero', { format: 'requirements' }),
      parse(${JSON.stringify(inc)}, { root: ${JSON.stringify(project)} }),
      findLockfiles(${JSON.stringify(project)}),
    ]);`);
    expect(r.finished).toBe(true);
    const [a, b, c, d, found] = r.result as { code: string; error: string }[];
    for (const x of [a, c]) expect(x).toMatchObject({ code: 'ELOCKFILE', error: expect.stringContaining('not a regular file') });
    // the child's stdin is a socket: opening it fails (ENXIO) before it could be seen for what it is
    expect(b).toMatchObject({ code: 'ELOCKFILE', error: expect.stringMatching(/not a regular file|cannot read/) });
    expect(d).toMatchObject({ code: 'ELOCKFILE', error: expect.stringMatching(/requirements\.txt:2: -r \.\.\/requirements\.txt: not a regular file/) });
    // the walk lists files and links, not FIFOs
    expect(found).toEqual([inc]);
  });
});

describe('inputs that make a parser quadratic, or endless', () => {
  it('a package-lock v1 nested 100 000 deep is a clear error, no stack overflow, no quadratic walk; 300 deep is read', async () => {
    const deep = (levels: number) => `{"lockfileVersion":1,"dependencies":${'{"a":{"version":"1.0.0","dependencies":'.repeat(levels)}{}${'}}'.repeat(levels)}}`;
    const p = write(join(folder(), 'package-lock.json'), deep(100_000));
    const r = await inChild(`out(parse(${JSON.stringify(p)}));`);
    expect(r.finished).toBe(true);
    expect(r.result).toMatchObject({ code: 'ELOCKFILE', range: false, error: expect.stringMatching(/nested more than \d+ deep/) });

    const ok = parseLockfile(write(join(folder(), 'package-lock.json'), deep(299)));
    expect(ok.entries).toHaveLength(1);
    expect(ok.entries[0]!.from).toHaveLength(299);
    expect(ok.entries[0]!.from[298]!.path).toBe(`dependencies${'.a.dependencies'.repeat(298)}.a`);
  });

  it('lines of megabytes: long runs of spaces in requirements and yarn.lock, `a:a:a:…` in a broken yarn.lock, finish', async () => {
    const spaces = ' '.repeat(1 << 21);
    const req = write(join(folder(), 'requirements.txt'), `a==1.0\nb${spaces}c\nd==2.0 ${spaces}# pinned\n`);
    const yarnOk = write(join(folder(), 'yarn.lock'), `# yarn lockfile v1\n\n"a@^1",${spaces}"a@^1.1":\n  version "1.0.0"\n`);
    const yarnBad = write(join(folder(), 'yarn.lock'), `# yarn lockfile v1\n\n"a@^1":\n  version "1.0.0"\n${'a:'.repeat(1 << 20)} {\n`);
    const r = await inChild(`out([parse(${JSON.stringify(req)}), parse(${JSON.stringify(yarnOk)}), parse(${JSON.stringify(yarnBad)})]);`);
    expect(r.finished).toBe(true);
    const [a, b, c] = r.result as { entries?: number; names?: string[]; code?: string; error?: string }[];
    expect(a).toMatchObject({ names: ['a', 'd'] });
    expect(b).toMatchObject({ names: ['a'] });
    expect(c).toMatchObject({ code: 'ELOCKFILE', error: expect.stringMatching(/yarn\.lock:5: not a yarn\.lock/) });
  });

  it('a pnpm lockfile with a list as a key (`? [a, b]`): ELOCKFILE at its line, and no warning of the YAML library on stderr', async () => {
    const lock = write(join(folder(), 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n\npackages:\n\n  a@1.0.0:\n    resolution: {integrity: sha512-AAAA}\n\n  ? [b, c]\n  : resolution: {integrity: sha512-BBBB}\n");
    const r = await inChild(`out(parse(${JSON.stringify(lock)}));`);
    expect(r.finished).toBe(true);
    expect(r.result).toMatchObject({ code: 'ELOCKFILE', error: expect.stringMatching(/pnpm-lock\.yaml:8: a mapping key is a list or a mapping/) });
    expect(r.stderr).not.toMatch(/Warning/);
  });

  it("a pnpm monorepo's lockfile whose importers link 160,000 workspace packages: read whole, not a call stack overflow", async () => {
    // 400 projects, each linking 400 others: every link is an entry (workspace), pushed one by one
    const projects = Array.from({ length: 400 }, (_, i) => `packages/p${i}`);
    const importers = projects
      .map((p, i) => `  ${p}:\n    dependencies:\n${projects.map((q, j) => (j === i ? '' : `      q${j}:\n        specifier: workspace:*\n        version: link:../p${j}\n`)).join('')}`)
      .join('');
    const lock = write(join(folder(), 'pnpm-lock.yaml'), `lockfileVersion: '9.0'\n\nimporters:\n${importers}\npackages: {}\n`);
    const r = await inChild(`out(parse(${JSON.stringify(lock)}));`, 240_000);
    expect(r.finished, r.stderr).toBe(true);
    // q0..q399, each linked by many projects: one workspace entry per name
    expect(r.result).toMatchObject({ entries: 400 });
  }, 300_000);

  it('a pnpm lockfile with a key given twice, in a mapping of thousands: ELOCKFILE at the second, as yaml says it', async () => {
    // the keys are checked with a Set, not yaml's uniqueKeys (quadratic): a repeat is still yaml's own error
    const many = Array.from({ length: 5000 }, (_, i) => `  p${i}@1.0.0:\n    resolution: {integrity: sha512-AAAA}\n`).join('');
    const lock = write(join(folder(), 'pnpm-lock.yaml'), `lockfileVersion: '9.0'\n\npackages:\n${many}  p7@1.0.0:\n    resolution: {integrity: sha512-BBBB}\n`);
    const r = await inChild(`out(parse(${JSON.stringify(lock)}));`);
    expect(r.finished).toBe(true);
    expect(r.result).toMatchObject({ code: 'ELOCKFILE', error: expect.stringMatching(/pnpm-lock\.yaml:10004: not valid YAML: Map keys must be unique/) });
  });

  it('a yarn.lock ending in a comment without a newline, or with an unclosed quote, ends (yarn\'s tokeniser loops forever)', async () => {
    const comment = write(join(folder(), 'yarn.lock'), '# yarn lockfile v1\n\n"a@^1":\n  version "1.0.0"\n# the end');
    const quote = write(join(folder(), 'yarn.lock'), '# yarn lockfile v1\n\n"a@^1":\n  version "1.0.0\n');
    const r = await inChild(`out([parse(${JSON.stringify(comment)}), parse(${JSON.stringify(quote)})]);`);
    expect(r.finished).toBe(true);
    const [a, b] = r.result as { names?: string[]; code?: string; error?: string }[];
    expect(a).toMatchObject({ names: ['a'] });
    expect(b).toMatchObject({ code: 'ELOCKFILE', error: expect.stringMatching(/yarn\.lock:4: not a yarn\.lock/) });
  });
});

describe('values no package manager writes', () => {
  /** A package-lock v3 (indented as npm writes it, so errors have lines) with one entry `node_modules/<key>` and `meta`. */
  const lock = (key: string, meta: Record<string, unknown> = {}) =>
    write(join(folder(), 'package-lock.json'), `${JSON.stringify({ name: 'x', lockfileVersion: 3, requires: true, packages: { '': { name: 'x' }, 'node_modules/ok': { version: '1.0.0' }, [`node_modules/${key}`]: { version: '1.0.0', ...meta } } }, null, 2)}\n`);

  it('an npm name that is no path segment of its own (`..`, `.`, a `/` past the scope), as folder or as alias: ELOCKFILE at its line, never a request path', () => {
    for (const [key, meta] of [['..', {}], ['.', {}], ['@x/../../other', {}], ['@x', {}], ['al', { name: '../npm-store/other' }]] as const) {
      const e = thrown(() => parseLockfile(lock(key, meta)));
      expect(e.code, key).toBe('ELOCKFILE');
      expect(e.message).toMatch(/package-lock\.json:12 /);
    }
    // a scoped name and an alias of one are names
    expect(parseLockfile(lock('@x/y', { name: '@z/w' })).entries.map((e) => [e.name, e.aliasFor])).toEqual([['ok', undefined], ['@x/y', '@z/w']]);
  });

  it('a name, version or integrity of megabytes, or with control or bidi characters: ELOCKFILE at its line, the value not echoed whole', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['big', { name: 'b'.repeat(1 << 20) }],
      ['bigv', { version: `1.0.${'0'.repeat(1 << 20)}` }],
      ['bigi', { integrity: `sha512-${'A'.repeat(4 << 20)}` }],
      ['bigr', { resolved: `https://registry.npmjs.org/bigr/-/bigr-1.0.0.tgz?${'q'.repeat(1 << 20)}` }],
      ['ctl', { name: 'a\u001b[31mred' }],
      ['bidi', { version: '1.0.0\u202e' }],
    ];
    for (const [key, meta] of cases) {
      const e = thrown(() => parseLockfile(lock(key, meta)));
      expect(e.code, key).toBe('ELOCKFILE');
      expect(e.message).toMatch(/package-lock\.json:12 /);
      expect(e.message.length, key).toBeLessThan(1000);
      expect(e.message).not.toMatch(/[\u001b\u202e]/);
    }
  });

  it('the same bounds in every format: a poetry.lock hash of megabytes, a yarn.lock entry named `..`', () => {
    const poetry = write(join(folder(), 'poetry.lock'), `[[package]]\nname = "a"\nversion = "1.0"\nfiles = [{file = "a-1.0.tar.gz", hash = "sha256:${'f'.repeat(1 << 20)}"}]\n`);
    expect(thrown(() => parseLockfile(poetry)).code).toBe('ELOCKFILE');
    const yarn = write(join(folder(), 'yarn.lock'), '# yarn lockfile v1\n\n"..@^1.0.0":\n  version "1.0.0"\n  resolved "https://registry.yarnpkg.com/../-/..-1.0.0.tgz"\n');
    expect(thrown(() => parseLockfile(yarn)).message).toMatch(/yarn\.lock:3 /);
  });
});

describe('warnings that quote their line', () => {
  it('an unpinned requirement of hundreds of kilobytes: its warning is cut, not the whole line into the summary and reports', () => {
    const line = `pkg >=1.0,${Array.from({ length: 30_000 }, (_, j) => `!=1.${j}`).join(',')}`;
    const p = write(join(folder(), 'requirements.txt'), `a==1.0\n${line}\n`);
    const r = parseLockfile(p);
    expect(r.entries.map((e) => e.name)).toEqual(['a']);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatchObject({ line: 2, message: expect.stringMatching(/^pkg >=1\.0,!=1\.0,/) });
    expect(r.warnings[0]!.message.length).toBeLessThan(1000);
  });
});
