/**
 * builders/python, against Debian's real build tools (/usr/bin/python3 with
 * python3-build 0.9, setuptools 66, wheel 0.38, hatchling 1.12, poetry-core
 * 1.4; the `python3` on PATH is another interpreter without `build`, and pip
 * cannot reach PyPI, so nothing is installed on the fly): tiny projects are
 * committed and tagged in temporary git repositories, cloned fresh at the tag
 * and built offline, then their files and metadata are checked.
 * https://build.pypa.io/en/stable/  https://packaging.python.org/en/latest/specifications/
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildPython,
  normalizePep440,
  normalizeProjectName,
  parseCoreMetadata,
  parseWheelName,
  samePep440,
  splitSdistName,
  type PythonBuildOptions,
  type PythonBuildResult,
} from '../src/builders/python.js';
import { runProcess } from '../src/builders/process.js';
import { alive, goneSoon, parentOf, pidOfCommand } from './support/child.js';
import { failure } from './support/thrown.js';
import { forStorage } from '../src/redact.js';

const PYTHON = '/usr/bin/python3';
let tmp: string;
let n = 0;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-py-'));
  await writeFile(join(tmp, 'gitconfig'), '[user]\n\tname = T\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

const COMMIT_DATE = '2023-05-06T07:08:09Z';

async function git(cwd: string, ...args: string[]): Promise<string> {
  const r = await run('git', args, {
    cwd,
    env: { PATH: '/usr/bin:/bin', HOME: tmp, GIT_CONFIG_GLOBAL: join(tmp, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_DATE: COMMIT_DATE, GIT_COMMITTER_DATE: COMMIT_DATE },
  });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** A repository with one commit holding `files`, tagged `tag`. */
async function repo(files: Record<string, string>, tag: string): Promise<string> {
  const dir = join(tmp, `repo-${++n}`);
  await mkdir(dir);
  await git(dir, 'init', '-q');
  await writeTree(dir, files);
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'release');
  await git(dir, 'tag', tag);
  return dir;
}

/** A fresh clone at the tag, and the tagged commit's time: what the engine will hand the builder. */
async function checkout(repoDir: string, tag: string): Promise<{ dir: string; commitTime: Date }> {
  const dir = join(tmp, `co-${++n}`);
  await git(tmp, 'clone', '-q', '--branch', tag, repoDir, dir);
  const ct = Number((await git(dir, 'log', '-1', '--format=%ct')).trim());
  return { dir, commitTime: new Date(ct * 1000) };
}

async function build(repoDir: string, tag: string, opts: Partial<PythonBuildOptions> & { name: string; version?: string }): Promise<PythonBuildResult> {
  const co = await checkout(repoDir, tag);
  return buildPython({ checkoutDir: co.dir, commitTime: co.commitTime, outDir: join(tmp, `out-${++n}`), version: tag, ...opts });
}

const setuptoolsPyproject = (name: string, version: string, extra = '') => ({
  'pyproject.toml': `[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "${name}"
version = "${version}"
description = "A tiny library"
readme = "README.md"
requires-python = ">=3.8"
dependencies = ["requests>=2", "attrs; python_version<'3.10'"]
keywords = ["tiny", "example"]
classifiers = ["Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License"]
authors = [{name = "Zoë Ada", email = "ada@example.com"}]
${extra}
[project.urls]
Homepage = "https://example.com"
Source = "https://example.com/src"

[project.optional-dependencies]
fast = ["ujson"]
`,
  'README.md': '# Tiny\n\nHello ünïcode.\n',
  'src/acme_tiny/__init__.py': 'X = 1\n',
});

// ---------------------------------------------------------------- pure functions

describe('PEP 440 and names', () => {
  it('normalises tag versions exactly as packaging.version does (Debian python3-packaging)', async () => {
    const cases = ['1.0', 'v1.0', 'V1.0.0', '1.0-1', '1.0.a1', '1.0_RC_1', '1.0+ubuntu-1', '1.0+Local_A', '1.0.0-dev', '1.0.post', '1.0rev3', '1.0c1', '01.002', '1!1.0', '0001!1.0',
      '1.0a1.post2.dev3+abc.004', '1.0.0-rc.1', '2024.01.15', '2.0.0.final', '1.0+', 'foo', 'v', 'release-1.0', '1.0.0-beta.2'];
    const r = await run(PYTHON, ['-c', `
import json, sys
from packaging.version import Version, InvalidVersion
out = {}
for v in json.load(sys.stdin):
    try: out[v] = str(Version(v))
    except InvalidVersion: out[v] = None
print(json.dumps(out))`], { input: JSON.stringify(cases) });
    expect(r.code, r.stderr).toBe(0);
    const python = JSON.parse(r.stdout) as Record<string, string | null>;
    expect(Object.fromEntries(cases.map((c) => [c, normalizePep440(c) ?? null]))).toEqual(python);
  });

  it('compares versions as versions', () => {
    expect(samePep440('1.0', 'v1.0.0')).toBe(true);
    expect(samePep440('1.0.0.0', '1')).toBe(true);
    expect(samePep440('1.0rc1', '1.0-RC1')).toBe(true);
    expect(samePep440('1.0+abc', '1.0')).toBe(false);
    expect(samePep440('1.0a1', '1.0')).toBe(false);
    expect(samePep440('1!1.0', '1.0')).toBe(false);
    expect(samePep440('not-a-version', 'not-a-version')).toBe(false);
  });

  it('normalises names (PEP 503) and splits file names', () => {
    expect(normalizeProjectName('Acme.Tiny__Lib')).toBe('acme-tiny-lib');
    expect(splitSdistName('sp-lib-3.1', 'sp-lib')).toEqual({ name: 'sp-lib', version: '3.1' });
    expect(splitSdistName('my_lib-1.0.post1', 'my-lib')).toEqual({ name: 'my_lib', version: '1.0.post1' });
    expect(splitSdistName('other-1.0', 'my-lib')).toBeUndefined();
    expect(parseWheelName('Acme.Tiny_Lib-1.0-py3-none-any.whl')).toEqual({ name: 'Acme.Tiny_Lib', version: '1.0', python: 'py3', abi: 'none', platform: 'any' });
    expect(parseWheelName('pkg-1.0-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl')).toMatchObject({ build: '1', python: 'cp311' });
    expect(parseWheelName('pkg-1.0-x1-py3-none-any.whl')).toBeUndefined();
    expect(parseWheelName('my-pkg-1.0-py3-none-any.whl')).toBeUndefined();
    // pip's pattern allows no white space in a part: it ignores such a file, so it is no wheel
    expect(parseWheelName('kelvin_lib-1.0.0 -py3-none-any.whl')).toBeUndefined();
    expect(parseWheelName('kelvin lib-1.0.0-py3-none-any.whl')).toBeUndefined();
    expect(splitSdistName('kelvin_lib-1.0.0 ', 'kelvin-lib')).toBeUndefined();
    expect(parseWheelName('pkg-1.0-py3-none.whl')).toBeUndefined();
  });
});

describe('core metadata parsing', () => {
  // Headers as Python's email parser (compat32, what packaging.metadata.parse_email
  // and so twine build on) sees them: folding, repeated fields, case, the body.
  it('reads headers and the body as the email parser does', async () => {
    const text =
      'Metadata-Version: 2.1\nName: Tricky\nversion: 1.0\nSummary:   padded  \nDescription: first\n        |  second\n\tthird\n' +
      'Classifier: A :: B\nclassifier: C :: D\nKeywords: a, b ,c\nProject-URL: Home,https://x.example\nProject-URL: Docs , https://d.example, more\n' +
      'Author: Zoë\nLicense: MIT\n  and more\nX-Unknown: z\n';
    const r = await run(PYTHON, ['-c', `
import email.parser, email.policy, json, sys
m = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(sys.stdin.buffer.read())
out = {}
for k in m.keys():
    out[k.lower()] = [str(v) for v in m.get_all(k)]
print(json.dumps({"headers": out, "payload": m.get_payload()}))`], { input: text });
    expect(r.code, r.stderr).toBe(0);
    const py = JSON.parse(r.stdout) as { headers: Record<string, string[]>; payload: string };
    const { metadata, unparsed } = parseCoreMetadata(text);
    expect(metadata.summary).toBe(py.headers.summary![0]);
    expect(metadata.description).toBe(py.headers.description![0]);
    expect(metadata.license).toBe(py.headers.license![0]);
    expect(metadata.classifiers).toEqual(py.headers.classifier);
    expect(metadata.version).toBe('1.0');
    expect(metadata.keywords).toEqual(['a', 'b', 'c']);
    expect(metadata.project_urls).toEqual([['Home', 'https://x.example'], ['Docs', 'https://d.example, more']]);
    expect(unparsed).toEqual({ 'x-unknown': ['z'] });
    expect(py.payload).toBe('');
  });

  it('takes the body as the description, and refuses two descriptions or repeated single fields', () => {
    const body = '# Title\r\n\r\nText\n\n  indented\n';
    expect(parseCoreMetadata(`Metadata-Version: 2.1\nName: a\nVersion: 1\n\n${body}`).metadata.description).toBe(body);
    const both = parseCoreMetadata(`Metadata-Version: 2.1\nName: a\nVersion: 1\nDescription: head\n\n${body}`);
    expect(both.metadata.description).toBeUndefined();
    expect(both.unparsed.description).toEqual(['head', body]);
    const twice = parseCoreMetadata('Metadata-Version: 2.1\nName: a\nName: b\nVersion: 1\nProject-URL: x, 1\nProject-URL: x, 2\n');
    expect(twice.metadata.name).toBeUndefined();
    expect(twice.unparsed).toEqual({ name: ['a', 'b'], 'project-url': ['x, 1', 'x, 2'] });
    // A line that is no header ends the headers (no blank line before the body).
    expect(parseCoreMetadata('Name: a\nnot a header\nmore\n').metadata).toEqual({ name: 'a', description: 'not a header\nmore\n' });
  });
});

// ---------------------------------------------------------------- real builds

describe('building real projects with Debian tools', () => {
  it('setuptools with pyproject.toml: sdist + wheel, metadata read back, name compared normalised', async () => {
    const r = await repo(setuptoolsPyproject('Acme.Tiny_Lib', '1.0'), 'v1.0');
    const res = await build(r, 'v1.0', { name: 'acme-tiny-lib' });
    expect(res.name).toBe('acme-tiny-lib');
    expect(res.version).toBe('1.0');
    expect(res.files.map((f) => [f.filename, f.filetype, f.pyversion])).toEqual([
      ['Acme.Tiny_Lib-1.0.tar.gz', 'sdist', 'source'],
      ['Acme.Tiny_Lib-1.0-py3-none-any.whl', 'bdist_wheel', 'py3'],
    ]);
    const [sdist, wheel] = res.files;
    expect(sdist!.size).toBeGreaterThan(0);
    expect(wheel!.metadata).toMatchObject({
      metadata_version: '2.1',
      version: '1.0',
      summary: 'A tiny library',
      author_email: 'Zoë Ada <ada@example.com>',
      keywords: ['tiny', 'example'],
      classifiers: ['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License'],
      requires_python: '>=3.8',
      project_urls: [['Homepage', 'https://example.com'], ['Source', 'https://example.com/src']],
      provides_extra: ['fast'],
      description_content_type: 'text/markdown',
      description: '# Tiny\n\nHello ünïcode.\n',
    });
    expect(wheel!.metadata.requires_dist).toEqual(['requests (>=2)', 'attrs ; python_version < "3.10"', "ujson ; extra == 'fast'"]);
    // setuptools 66 writes Requires-Dist into the wheel's METADATA only, not into PKG-INFO.
    expect(sdist!.metadata.requires_dist).toBeUndefined();
    expect(sdist!.metadata.description).toBe('# Tiny\n\nHello ünïcode.\n');
    expect(res.output).toMatch(/Successfully built/);
  });

  it('setuptools with only a setup.py', async () => {
    const r = await repo({ 'setup.py': 'from setuptools import setup\nsetup(name="sp-lib", version="3.1", py_modules=["sp_lib"], description="setup.py lib")\n', 'sp_lib.py': 'X = 1\n' }, '3.1');
    const res = await build(r, '3.1', { name: 'sp_lib' });
    expect(res.files.map((f) => f.filename)).toEqual(['sp-lib-3.1.tar.gz', 'sp_lib-3.1-py3-none-any.whl']);
    expect(res.files.every((f) => f.metadata.name === 'sp-lib' && f.metadata.summary === 'setup.py lib')).toBe(true);
  });

  it('hatchling, in a monorepo subdirectory', async () => {
    const r = await repo(
      {
        'README.md': 'monorepo\n',
        'libs/hat/pyproject.toml': '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n[project]\nname = "hat-lib"\nversion = "2.0.0"\ndescription = "hatch"\n\n[tool.hatch.build.targets.wheel]\npackages = ["hat_lib"]\n',
        'libs/hat/hat_lib/__init__.py': 'X = 1\n',
      },
      'hat-lib/v2.0.0',
    );
    const res = await build(r, 'hat-lib/v2.0.0', { name: 'hat-lib', subdir: 'libs/hat', version: 'v2.0.0' });
    expect(res.files.map((f) => [f.filename, f.pyversion])).toEqual([
      ['hat_lib-2.0.0.tar.gz', 'source'],
      ['hat_lib-2.0.0-py2.py3-none-any.whl', 'py2.py3'],
    ]);
    expect(res.files[1]!.metadata).toMatchObject({ name: 'hat-lib', version: '2.0.0', summary: 'hatch' });
  });

  it('poetry-core', async () => {
    const r = await repo(
      {
        'pyproject.toml': '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n\n[tool.poetry]\nname = "poe_lib"\nversion = "0.3.0"\ndescription = "poetry"\nauthors = ["Bob <bob@example.com>"]\npackages = [{include = "poe_lib"}]\n\n[tool.poetry.dependencies]\npython = "^3.8"\n',
        'poe_lib/__init__.py': 'X = 1\n',
      },
      'v0.3.0',
    );
    const res = await build(r, 'v0.3.0', { name: 'poe-lib' });
    expect(res.files.map((f) => f.filename)).toEqual(['poe_lib-0.3.0.tar.gz', 'poe_lib-0.3.0-py3-none-any.whl']);
    expect(res.files[1]!.metadata).toMatchObject({ name: 'poe-lib', author: 'Bob', author_email: 'bob@example.com', requires_python: '>=3.8,<4.0' });
  });

  it('accepts metadata 1.0 for tag v1.0.0 (equal as versions)', async () => {
    const r = await repo(setuptoolsPyproject('eq-lib', '1.0'), 'v1.0.0');
    const res = await build(r, 'v1.0.0', { name: 'eq-lib' });
    expect(res.version).toBe('1.0.0');
    expect(res.files.map((f) => f.metadata.version)).toEqual(['1.0', '1.0']);
  });

  it('refuses metadata that says another version than the tag: EVERSION naming the file, expected and actual', async () => {
    const r = await repo(setuptoolsPyproject('bump-lib', '1.0'), 'v1.1');
    const e = await failure(build(r, 'v1.1', { name: 'bump-lib' }));
    expect(e.code).toBe('EVERSION');
    expect(e.subject).toBe('bump-lib@1.1');
    expect(e.expected).toBe('1.1');
    expect(e.actual).toBe('1.0');
    expect(e.message).toMatch(/bump.lib-1\.0\.tar\.gz/);
  });

  it('refuses a build of another project than the job names: EBADBUILD', async () => {
    const r = await repo(setuptoolsPyproject('real-name', '1.0'), 'v1.0');
    const e = await failure(build(r, 'v1.0', { name: 'job-name' }));
    expect(e.code).toBe('EBADBUILD');
    expect(e.expected).toBe('job-name-1.0.tar.gz');
  });

  it('metadata naming another project or version of a megabyte or 200 KB (what a setup.py can write) is refused quoting it short: the error kept per version stays small', async () => {
    // a build command that writes its own sdist (and a wheel to count): PKG-INFO's Name or Version of 1 MB
    const writer = (field: string) => [
      '/usr/bin/python3',
      '-c',
      `import io, sys, tarfile, zipfile
out = sys.argv[1]
meta = ("Metadata-Version: 2.1\\nName: big-lib\\nVersion: 1.0\\n").replace(${JSON.stringify(field)}, ${JSON.stringify(field)}.split(": ")[0] + ": " + "2." * 100000 + "0" if ${JSON.stringify(field)}.startswith("Version") else "Name: " + "x" * 1000000).encode()
with tarfile.open(out + "/big_lib-1.0.tar.gz", "w:gz") as t:
    i = tarfile.TarInfo("big_lib-1.0/PKG-INFO"); i.size = len(meta); t.addfile(i, io.BytesIO(meta))
with zipfile.ZipFile(out + "/big_lib-1.0-py3-none-any.whl", "w") as z:
    z.writestr("big_lib-1.0.dist-info/METADATA", meta)
`,
      '{outdir}',
    ];
    const r = await repo(setuptoolsPyproject('big-lib', '1.0'), 'v1.0');
    for (const [field, code] of [['Name: big-lib', 'EBADBUILD'], ['Version: 1.0', 'EVERSION']] as const) {
      const e = await failure(build(r, 'v1.0', { name: 'big-lib', command: writer(field) }));
      expect(e.code, field).toBe(code);
      expect(e.describe().length, field).toBeLessThan(4000);
    }
  });

  it('refuses metadata whose Name only lower-cases to the project (a Kelvin sign for k): EBADBUILD, as the upload would file it under another project', async () => {
    const writer = [
      '/usr/bin/python3',
      '-c',
      `import io, sys, tarfile, zipfile
out = sys.argv[1]
meta = "Metadata-Version: 2.1\\nName: o\\u212a-lib\\nVersion: 1.0\\n".encode()
with tarfile.open(out + "/ok_lib-1.0.tar.gz", "w:gz") as t:
    i = tarfile.TarInfo("ok_lib-1.0/PKG-INFO"); i.size = len(meta); t.addfile(i, io.BytesIO(meta))
with zipfile.ZipFile(out + "/ok_lib-1.0-py3-none-any.whl", "w") as z:
    z.writestr("ok_lib-1.0.dist-info/METADATA", meta)
`,
      '{outdir}',
    ];
    const r = await repo(setuptoolsPyproject('ok-lib', '1.0'), 'v1.0');
    const e = await failure(build(r, 'v1.0', { name: 'ok-lib', command: writer }));
    expect([e.code, e.expected]).toEqual(['EBADBUILD', 'ok-lib']);
    expect(e.message).toMatch(/the metadata names the project/);
  });

  it('refuses a wheel with two .dist-info folders (EBADBUILD): pip will not install it ("multiple .dist-info directories")', async () => {
    const writer = [
      '/usr/bin/python3',
      '-c',
      `import io, sys, tarfile, zipfile
out = sys.argv[1]
meta = b"Metadata-Version: 2.1\\nName: two-lib\\nVersion: 1.0\\n"
with tarfile.open(out + "/two_lib-1.0.tar.gz", "w:gz") as t:
    i = tarfile.TarInfo("two_lib-1.0/PKG-INFO"); i.size = len(meta); t.addfile(i, io.BytesIO(meta))
with zipfile.ZipFile(out + "/two_lib-1.0-py3-none-any.whl", "w") as z:
    z.writestr("two_lib-1.0.dist-info/METADATA", meta)
    z.writestr("two_lib-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: x\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    z.writestr("two_lib-1.0.dist-info/RECORD", "")
    z.writestr("other-9.9.dist-info/RECORD", "")
`,
      '{outdir}',
    ];
    const r = await repo(setuptoolsPyproject('two-lib', '1.0'), 'v1.0');
    const e = await failure(build(r, 'v1.0', { name: 'two-lib', command: writer }));
    expect(e.code).toBe('EBADBUILD');
    expect(e.message).toMatch(/two_lib-1\.0-py3-none-any\.whl: .*other-9\.9\.dist-info/);
  });

  it('refuses a wheel pip will not install for its WHEEL file: none, or a Wheel-Version past 1.x (EBADBUILD)', async () => {
    const writer = (wheelFile: string | null) => [
      '/usr/bin/python3',
      '-c',
      `import io, sys, tarfile, zipfile
out = sys.argv[1]
meta = b"Metadata-Version: 2.1\\nName: wheelfile-lib\\nVersion: 1.0\\n"
with tarfile.open(out + "/wheelfile_lib-1.0.tar.gz", "w:gz") as t:
    i = tarfile.TarInfo("wheelfile_lib-1.0/PKG-INFO"); i.size = len(meta); t.addfile(i, io.BytesIO(meta))
with zipfile.ZipFile(out + "/wheelfile_lib-1.0-py3-none-any.whl", "w") as z:
    z.writestr("wheelfile_lib-1.0.dist-info/METADATA", meta)
    z.writestr("wheelfile_lib-1.0.dist-info/RECORD", "")
    w = ${wheelFile === null ? 'None' : JSON.stringify(wheelFile)}
    if w is not None: z.writestr("wheelfile_lib-1.0.dist-info/WHEEL", w)
`,
      '{outdir}',
    ];
    const r = await repo(setuptoolsPyproject('wheelfile-lib', '1.0'), 'v1.0');
    const ok = await build(r, 'v1.0', { name: 'wheelfile-lib', command: writer('Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n') });
    expect(ok.files.map((f) => f.filename)).toEqual(['wheelfile_lib-1.0.tar.gz', 'wheelfile_lib-1.0-py3-none-any.whl']);
    for (const wheelFile of [null, 'Wheel-Version: 2.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n', 'Root-Is-Purelib: true\n']) {
      const e = await failure(build(r, 'v1.0', { name: 'wheelfile-lib', command: writer(wheelFile) }));
      expect(e.code, String(wheelFile)).toBe('EBADBUILD');
      expect(e.message, String(wheelFile)).toMatch(/wheelfile_lib-1\.0-py3-none-any\.whl: .*WHEEL/);
    }
  });

  it("refuses a wheel pip will not install for its RECORD (none: pip's OSError), or whose RECORD names a file outside the install (an uninstall by it deletes that file); a RECORD hash that is wrong is installed by pip and uv alike, and taken", async () => {
    const writer = (record: string | null) => [
      '/usr/bin/python3',
      '-c',
      `import io, sys, tarfile, zipfile
out = sys.argv[1]
meta = b"Metadata-Version: 2.1\\nName: record-lib\\nVersion: 1.0\\n"
with tarfile.open(out + "/record_lib-1.0.tar.gz", "w:gz") as t:
    i = tarfile.TarInfo("record_lib-1.0/PKG-INFO"); i.size = len(meta); t.addfile(i, io.BytesIO(meta))
with zipfile.ZipFile(out + "/record_lib-1.0-py3-none-any.whl", "w") as z:
    z.writestr("record_lib.py", "X = 1\\n")
    z.writestr("record_lib-1.0.dist-info/METADATA", meta)
    z.writestr("record_lib-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: hand\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    r = ${record === null ? 'None' : JSON.stringify(record)}
    if r is not None: z.writestr("record_lib-1.0.dist-info/RECORD", r)
`,
      '{outdir}',
    ];
    const r = await repo(setuptoolsPyproject('record-lib', '1.0'), 'v1.0');
    const wrongHash = 'record_lib.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,6\nrecord_lib-1.0.dist-info/RECORD,,\n';
    const ok = await build(r, 'v1.0', { name: 'record-lib', command: writer(wrongHash) });
    expect(ok.files.map((f) => f.filename)).toEqual(['record_lib-1.0.tar.gz', 'record_lib-1.0-py3-none-any.whl']);
    for (const record of [null, '../../../../home/user/.bashrc,,\nrecord_lib-1.0.dist-info/RECORD,,\n', '"/etc/passwd",,\n', 'record_lib/../../x.py,,\n', 'C:\\\\Windows\\\\x.dll,,\n']) {
      const e = await failure(build(r, 'v1.0', { name: 'record-lib', command: writer(record) }));
      expect(e.code, String(record)).toBe('EBADBUILD');
      expect(e.message, String(record)).toMatch(/record_lib-1\.0-py3-none-any\.whl: .*RECORD/);
    }
  });

  it('refuses outputs that lie: two sdists, a .whl that is no zip, METADATA that is not UTF-8, a wheel whose METADATA says another version than its name (EBADBUILD / EVERSION naming the file)', async () => {
    const writer = (variant: string) => [
      '/usr/bin/python3',
      '-c',
      `import io, sys, tarfile, zipfile
out, variant = sys.argv[1], sys.argv[2]
def sdist(name, meta):
    with tarfile.open(out + "/" + name + ".tar.gz", "w:gz") as t:
        i = tarfile.TarInfo(name + "/PKG-INFO"); i.size = len(meta); t.addfile(i, io.BytesIO(meta))
good = b"Metadata-Version: 2.1\\nName: liar-lib\\nVersion: 1.0\\n"
# (no braces: the command's are placeholders)
wmeta = dict(latin1=b"Metadata-Version: 2.1\\nName: liar-lib\\nVersion: 1.0\\nAuthor: Zo\\xeb\\n", version=b"Metadata-Version: 2.1\\nName: liar-lib\\nVersion: 1.0.post1\\n").get(variant, good)
sdist("liar_lib-1.0", good)
if variant == "two-sdists": sdist("liar-lib-1.0", good)
if variant == "not-zip":
    open(out + "/liar_lib-1.0-py3-none-any.whl", "wb").write(b"PK not really a zip")
else:
    with zipfile.ZipFile(out + "/liar_lib-1.0-py3-none-any.whl", "w") as z:
        z.writestr("liar_lib-1.0.dist-info/METADATA", wmeta)
        z.writestr("liar_lib-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: hand\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        z.writestr("liar_lib-1.0.dist-info/RECORD", "")
`,
      '{outdir}',
      variant,
    ];
    const r = await repo(setuptoolsPyproject('liar-lib', '1.0'), 'v1.0');
    const ok = await build(r, 'v1.0', { name: 'liar-lib', command: writer('honest') });
    expect(ok.files.map((f) => f.filename)).toEqual(['liar_lib-1.0.tar.gz', 'liar_lib-1.0-py3-none-any.whl']);
    const cases: Array<[string, string, RegExp]> = [
      ['two-sdists', 'EBADBUILD', /made 2 sdists/],
      ['not-zip', 'EBADBUILD', /liar_lib-1\.0-py3-none-any\.whl: .*zip/],
      ['latin1', 'EBADBUILD', /liar_lib-1\.0-py3-none-any\.whl: .*UTF-8/],
      ['version', 'EVERSION', /liar_lib-1\.0-py3-none-any\.whl: .*1\.0\.post1/],
    ];
    for (const [variant, code, message] of cases) {
      const e = await failure(build(r, 'v1.0', { name: 'liar-lib', command: writer(variant) }));
      expect([variant, e.code], e.message).toEqual([variant, code]);
      expect(e.message, variant).toMatch(message);
    }
  });

  it("refuses an sdist whose PKG-INFO comes after a lone zero block: pip's and twine's tarfile (and GNU tar) end the archive there and never see it (EBADBUILD)", async () => {
    const writer = (lone: boolean) => [
      '/usr/bin/python3',
      '-c',
      `import gzip, sys, tarfile, zipfile
out, lone = sys.argv[1], sys.argv[2] == "1"
def entry(name, data):
    i = tarfile.TarInfo(name); i.size = len(data)
    return i.tobuf(format=tarfile.GNU_FORMAT) + data + bytes((512 - len(data) % 512) % 512)
meta = b"Metadata-Version: 2.1\\nName: zero-lib\\nVersion: 1.0\\n"
raw = entry("zero_lib-1.0/setup.py", b"print(1)\\n") + (bytes(512) if lone else b"") + entry("zero_lib-1.0/PKG-INFO", meta) + bytes(1024)
open(out + "/zero_lib-1.0.tar.gz", "wb").write(gzip.compress(raw))
with zipfile.ZipFile(out + "/zero_lib-1.0-py3-none-any.whl", "w") as z:
    z.writestr("zero_lib-1.0.dist-info/METADATA", meta)
    z.writestr("zero_lib-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: hand\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    z.writestr("zero_lib-1.0.dist-info/RECORD", "")
`,
      '{outdir}',
      lone ? '1' : '0',
    ];
    const r = await repo(setuptoolsPyproject('zero-lib', '1.0'), 'v1.0');
    const ok = await build(r, 'v1.0', { name: 'zero-lib', command: writer(false) });
    expect(ok.files.map((f) => f.filename)).toEqual(['zero_lib-1.0.tar.gz', 'zero_lib-1.0-py3-none-any.whl']);
    const e = await failure(build(r, 'v1.0', { name: 'zero-lib', command: writer(true) }));
    expect(e.code).toBe('EBADBUILD');
    expect(e.message).toMatch(/zero_lib-1\.0\.tar\.gz: /);
  });

  it('refuses a tag that is not PEP 440 before building anything', async () => {
    const out = join(tmp, `out-${++n}`);
    const e = await failure(buildPython({ checkoutDir: tmp, commitTime: new Date(), outDir: out, name: 'x', version: 'release-one' }));
    expect(e.code).toBe('EVERSION');
    expect(existsSync(out)).toBe(false);
  });

  it('counts the files: a wheel-only command fails the default, and passes with expectSdists: 0', async () => {
    const r = await repo(setuptoolsPyproject('count-lib', '1.0'), 'v1.0');
    const command = '{python} -m build --no-isolation --skip-dependency-check --wheel --outdir {outdir} {srcdir}';
    const e = await failure(build(r, 'v1.0', { name: 'count-lib', command }));
    expect(e.code).toBe('EBADBUILD');
    expect(e.expected).toBe('1');
    const ok = await build(r, 'v1.0', { name: 'count-lib', command, expectSdists: 0 });
    expect(ok.files.map((f) => f.filetype)).toEqual(['bdist_wheel']);
  });

  it('refuses files that are neither sdist nor wheel (an argv command, placeholders inside arguments)', async () => {
    const r = await repo(setuptoolsPyproject('extra-lib', '1.0'), 'v1.0');
    const command = ['/bin/sh', '-c', '{python} -m build --no-isolation --skip-dependency-check --outdir "{outdir}" "{srcdir}" && echo x > "{outdir}/notes.txt"'];
    const e = await failure(build(r, 'v1.0', { name: 'extra-lib', command }));
    expect(e.code).toBe('EBADBUILD');
    expect(e.actual).toBe('notes.txt');
  });

  it('refuses outputs that are not regular files, without reading them: a named pipe would hold the run for ever, a link would send what it points at', async () => {
    const r = await repo(setuptoolsPyproject('pipe-lib', '1.0'), 'v1.0');
    // what a setup.py can leave in the output folder it is given (the build's processes die with it: no writer ever comes)
    const fifo = ['/bin/sh', '-c', '{python} -m build --no-isolation --skip-dependency-check --wheel --outdir "{outdir}" "{srcdir}" && mkfifo "{outdir}/pipe_lib-1.0.tar.gz"'];
    const e = await failure(build(r, 'v1.0', { name: 'pipe-lib', command: fifo }));
    expect(e.code).toBe('EBADBUILD');
    expect(e.message).toMatch(/pipe_lib-1\.0\.tar\.gz: .*not a regular file/);
    const elsewhere = join(tmp, `elsewhere-${++n}`);
    await mkdir(elsewhere);
    const link = ['/bin/sh', '-c', `{python} -m build --no-isolation --skip-dependency-check --outdir "${elsewhere}" "{srcdir}" && cp "${elsewhere}"/*.tar.gz "{outdir}/" && ln -s "${elsewhere}"/*.whl "{outdir}/"`];
    const l = await failure(build(r, 'v1.0', { name: 'pipe-lib', command: link }));
    expect(l.code).toBe('EBADBUILD');
    expect(l.message).toMatch(/\.whl: .*not a regular file/);
  }, 60_000);

  it('refuses an output whose name is not UTF-8 (EBADBUILD naming it), never an ENOENT from a path the name no longer spells', async () => {
    const r = await repo(setuptoolsPyproject('bytes-lib', '1.0'), 'v1.0');
    // a setup.py (or a build command) names its files with any bytes; Node reads such a name with U+FFFD in it
    const command = ['/bin/sh', '-c', `{python} -m build --no-isolation --skip-dependency-check --outdir "{outdir}" "{srcdir}" && mv "{outdir}"/*.whl "{outdir}/bytes_lib-1.0-py3-none-$(printf 'any\\377').whl"`];
    const e = await failure(build(r, 'v1.0', { name: 'bytes-lib', command }));
    expect(e.code).toBe('EBADBUILD');
    expect(e.message).toContain('bytes-lib@1.0');
    expect(e.message).toContain('bytes_lib-1.0-py3-none-any\\xff.whl');
  }, 60_000);

  it('bounds the metadata of a version as a whole: many wheels, each under the bound, are ETOOLARGE together (all are held at once)', async () => {
    const r = await repo(setuptoolsPyproject('many-meta', '1.0'), 'v1.0');
    // the wheel, then 20 copies under other platform tags: each file's metadata fits, 21 of them do not
    const copies = Array.from({ length: 20 }, (_, i) => `cp "$w" "{outdir}/many_meta-1.0-py3-none-linux_x${i}.whl"`).join(' && ');
    const command = ['/bin/sh', '-c', `{python} -m build --no-isolation --skip-dependency-check --outdir "{outdir}" "{srcdir}" && w=$(ls "{outdir}"/*.whl) && ${copies}`];
    const one = await build(r, 'v1.0', { name: 'many-meta' });
    const each = Math.max(...one.files.map((f) => Buffer.byteLength(JSON.stringify(f.metadata))));
    const e = await failure(build(r, 'v1.0', { name: 'many-meta', command, maxMetadataBytes: each * 2 }));
    expect(e.code).toBe('ETOOLARGE');
    expect(e.message).toMatch(/22 files is over \d+ bytes together/);
  }, 60_000);

  it('bounds the metadata it reads: ETOOLARGE for the sdist PKG-INFO and the wheel METADATA', async () => {
    const r = await repo(setuptoolsPyproject('big-meta', '1.0'), 'v1.0');
    const sdist = await failure(build(r, 'v1.0', { name: 'big-meta', maxMetadataBytes: 100 }));
    expect(sdist.code).toBe('ETOOLARGE');
    expect(sdist.message).toMatch(/big.meta-1\.0\.tar\.gz: .*PKG-INFO/);
    const wheel = await failure(build(r, 'v1.0', { name: 'big-meta', maxMetadataBytes: 100, expectSdists: 0, command: '{python} -m build --no-isolation --skip-dependency-check --wheel --outdir {outdir} {srcdir}' }));
    expect(wheel.code).toBe('ETOOLARGE');
    expect(wheel.message).toMatch(/\.whl: .*METADATA/);
  });

  it('two files that are one wheel to pip (the name or version spelled otherwise, tag sets that meet) are EBADBUILD naming both: both would be uploaded, and pip installs either', async () => {
    const r = await repo(setuptoolsPyproject('twin-lib', '1.0'), 'v1.0');
    const twin = (copy: string) => ['/bin/sh', '-c', `{python} -m build --no-isolation --skip-dependency-check --outdir "{outdir}" "{srcdir}" && cp "{outdir}"/*.whl "{outdir}/${copy}"`];
    for (const copy of ['Twin.Lib-1.0.0-py3-none-any.whl', 'twin_lib-v1.0-PY3-none-ANY.whl', 'twin_lib-1.0-py3.py2-none-any.whl']) {
      const e = await failure(build(r, "v1.0", { name: "twin-lib", command: twin(copy) }));
      expect(e.code).toBe('EBADBUILD');
      expect(e.message).toContain(copy);
      expect(e.message).toContain('twin_lib-1.0-py3-none-any.whl');
    }
    // wheels for other tags, or with a build number, are other wheels
    const other = ['/bin/sh', '-c', `{python} -m build --no-isolation --skip-dependency-check --outdir "{outdir}" "{srcdir}" && w=$(ls "{outdir}"/*.whl) && cp "$w" "{outdir}/twin_lib-1.0-1-py3-none-any.whl" && cp "$w" "{outdir}/twin_lib-1.0-py2-none-any.whl"`];
    expect((await build(r, 'v1.0', { name: 'twin-lib', command: other })).files.map((f) => f.filename)).toEqual(['twin-lib-1.0.tar.gz', 'twin_lib-1.0-1-py3-none-any.whl', 'twin_lib-1.0-py2-none-any.whl', 'twin_lib-1.0-py3-none-any.whl']);
  }, 60_000);

  it('a huge output (a sparse hole a setup.py appends: no disk, any length) is ETOOLARGE naming it before a byte is read: the sdist was read whole, after the build timeout, for hours', async () => {
    const r = await repo(setuptoolsPyproject('sparse-lib', '1.0'), 'v1.0');
    // a valid tar.gz with a hole after its gzip member: gunzip reads through the hole to its end (20 GB took a minute)
    const grow = (size: string, glob: string) => ['/bin/sh', '-c', `{python} -m build --no-isolation --skip-dependency-check --outdir "{outdir}" "{srcdir}" && truncate -s ${size} "{outdir}"/${glob}`];
    const small = await failure(build(r, 'v1.0', { name: 'sparse-lib', command: grow('64M', '*.tar.gz'), maxFileBytes: 1024 * 1024 }));
    expect(small.code).toBe('ETOOLARGE');
    expect(small.message).toMatch(/sparse.lib-1\.0\.tar\.gz: .*67108864 bytes/);
    expect(small.hint).toContain('limits.maxArtifactBytes');
    // the default bound is the most CodeArtifact takes; a wheel is refused the same way
    for (const glob of ['*.tar.gz', '*.whl']) {
      const huge = await failure(build(r, 'v1.0', { name: 'sparse-lib', command: grow('1T', glob) }));
      expect(huge.code).toBe('ETOOLARGE');
      expect(huge.message).toContain(glob.slice(1));
    }
  }, 60_000);

  it('a failing build (syntax error in setup.py) is EBUILD with the output tail', async () => {
    const r = await repo({ 'setup.py': 'from setuptools import setup\nsetup(name="broken", version="1.0"\n' }, 'v1.0');
    const e = await failure(build(r, 'v1.0', { name: 'broken' }));
    expect(e.code).toBe('EBUILD');
    expect(e.message).toMatch(/exit code [1-9]/);
    expect(e.actual).toMatch(/SyntaxError/);
  });

  it("a failing build's long output: the error carries its tail, and the state keeps that whole (message, log tail and hint fit the stored bound)", async () => {
    const r = await repo(setuptoolsPyproject('noisy-lib', '1.0'), 'v1.0');
    const noisy = ['/usr/bin/python3', '-c', "import sys\nfor i in range(2000): print('compiling module', i)\nsys.stdout.flush()\nprint('error: the last line says why', file=sys.stderr)\nsys.exit(3)"];
    const e = await failure(build(r, 'v1.0', { name: 'noisy-lib', command: noisy }));
    expect(e.code).toBe('EBUILD');
    expect(e.actual).toMatch(/error: the last line says why$/);
    const stored = forStorage(e.describe());
    expect(stored).not.toMatch(/more characters/);
    expect(stored).toContain(e.actual);
    expect(stored).toContain(e.hint);
  });

  it("a credential in a failing build's output is hidden whole, even where the tail's cut falls inside it", async () => {
    const r = await repo(setuptoolsPyproject('leaky-lib', '1.0'), 'v1.0');
    const url = `https://ci-bot:${'S3cr3t'.repeat(8)}@pypi.internal.example/simple`;
    // the output's last 3,000 characters start 10 characters into the password
    const filler = 3000 - (url.length - 25) - 1;
    const leaky = ['/usr/bin/python3', '-c', `import sys\nsys.stdout.write(${JSON.stringify(url)} + "\\n" + "z" * ${filler})\nsys.exit(3)`];
    const e = await failure(build(r, 'v1.0', { name: 'leaky-lib', command: leaky }));
    expect(e.code).toBe('EBUILD');
    expect(e.actual).toMatch(/z{100}$/);
    expect(forStorage(e.describe())).not.toMatch(/S3cr3t/);
  });

  it("a credential in a build's closing \"No space left on device\" line is hidden whole, even where the quote's cut (300 characters) falls inside it", async () => {
    const r = await repo(setuptoolsPyproject('full-leaky-lib', '1.0'), 'v1.0');
    const url = `https://ci-bot:${'S3cr3t'.repeat(8)}@pypi.internal.example/simple`;
    // the line's first 300 characters end 10 characters into the password
    const line = `OSError: [Errno 28] No space left on device: ${'p'.repeat(300 - 45 - 24)}${url}`;
    const leaky = ['/usr/bin/python3', '-c', `import sys\nprint(${JSON.stringify(line)})\nsys.exit(1)`];
    const e = await failure(build(r, 'v1.0', { name: 'full-leaky-lib', command: leaky }));
    expect(e.code).toBe('ELOCAL');
    expect(e.message).toMatch(/No space left on device/);
    expect(forStorage(e.describe())).not.toMatch(/S3c/);
  });

  it('an unknown placeholder in the command is ECONFIG', async () => {
    const r = await repo(setuptoolsPyproject('ph-lib', '1.0'), 'v1.0');
    const e = await failure(build(r, 'v1.0', { name: 'ph-lib', command: '{python} -m build {sourcedir}' }));
    expect(e.code).toBe('ECONFIG');
  });

  it("an interpreter that does not exist, or a build program not on the build's PATH (/usr/bin:/bin), is EBUILD naming that program and the setting to fix: never the tag's \"exit code 127\" with a hint to fix it at the source", async () => {
    const r = await repo(setuptoolsPyproject('noexe-lib', '1.0'), 'v1.0');
    const python = join(tmp, 'no-such-venv', 'bin', 'python3');
    const e = await failure(build(r, 'v1.0', { name: 'noexe-lib', python }));
    expect(e.code).toBe('EBUILD');
    expect(e.actual).toBe(python);
    expect(e.hint).toContain('build.python');
    // a program a pip install put in /usr/local/bin: on the operator's PATH, not the build's
    const e2 = await failure(build(r, 'v1.0', { name: 'noexe-lib', command: 'no-such-pyproject-build --outdir {outdir} {srcdir}' }));
    expect(e2.code).toBe('EBUILD');
    expect(e2.actual).toBe('no-such-pyproject-build');
    expect(e2.expected).toContain('/usr/bin:/bin');
    expect(e2.hint).toContain('build.command');
  });

  it("an interpreter without the build module (a venv's, pyenv's) is EBUILD naming build.python, not the tag's failure", async () => {
    const venv = join(tmp, `venv-${++n}`);
    expect((await run(PYTHON, ['-m', 'venv', '--without-pip', venv])).code).toBe(0);
    const python = join(venv, 'bin', 'python3');
    const r = await repo(setuptoolsPyproject('nobuild-lib', '1.0'), 'v1.0');
    const e = await failure(build(r, 'v1.0', { name: 'nobuild-lib', python }));
    expect(e.code).toBe('EBUILD');
    expect(e.actual).toBe(python);
    expect(e.hint).toContain('build.python');
  });

  it('refuses an output directory inside the checkout (ECONFIG)', async () => {
    const r = await repo(setuptoolsPyproject('in-lib', '1.0'), 'v1.0');
    const co = await checkout(r, 'v1.0');
    const e = await failure(buildPython({ checkoutDir: co.dir, commitTime: co.commitTime, outDir: join(co.dir, 'dist'), name: 'in-lib', version: 'v1.0' }));
    expect(e.code).toBe('ECONFIG');
    expect(existsSync(join(co.dir, 'dist'))).toBe(false);
  });

  it('refuses a checkout that is not clean (a stale build/ would end up in the wheel)', async () => {
    const r = await repo(setuptoolsPyproject('dirty-lib', '1.0'), 'v1.0');
    const co = await checkout(r, 'v1.0');
    await writeTree(co.dir, { 'build/lib/acme_tiny/stale.py': 'STALE = 1\n' });
    const e = await failure(buildPython({ checkoutDir: co.dir, commitTime: co.commitTime, outDir: join(tmp, `out-${++n}`), name: 'dirty-lib', version: 'v1.0' }));
    expect(e.code).toBe('EBUILD');
    expect(e.actual).toContain('build/');
  });

  it('a file committed with CRLF before a `text` attribute was added is clean: the fresh checkout builds, the CRLF bytes packed as committed; a real edit is still refused', async () => {
    // .gitattributes added without `git add --renormalize`: git status calls such a file modified
    // whenever it compares contents (its clean form would be LF), though checkout wrote the blob
    const r = await repo({ ...setuptoolsPyproject('crlf-lib', '1.0'), 'src/acme_tiny/__init__.py': 'X = 1\r\nY = 2\r\n' }, 'v0');
    await writeFile(join(r, '.gitattributes'), '*.py text\n');
    await git(r, 'add', '.gitattributes'); // only it: `add -A` would renormalize the file
    await git(r, 'commit', '-q', '-m', 'line endings');
    await git(r, 'tag', 'v1.0');
    expect(await git(r, 'cat-file', 'blob', 'v1.0:src/acme_tiny/__init__.py')).toContain('\r\n');
    const co = await checkout(r, 'v1.0');
    // git compares contents only when a file's times differ from the index's (a checkout finished
    // within the clock tick, "racily clean"): touched here, so always
    await utimes(join(co.dir, 'src/acme_tiny/__init__.py'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const built = await buildPython({ checkoutDir: co.dir, commitTime: co.commitTime, outDir: join(tmp, `out-${++n}`), name: 'crlf-lib', version: 'v1.0' });
    const sdist = built.files.find((f) => f.filetype === 'sdist')!;
    const tarText = gunzipSync(await readFile(sdist.path)).toString('latin1');
    expect(tarText).toContain('X = 1\r\nY = 2\r\n');
    // a real edit of that file is a change: refused, as before
    await writeFile(join(co.dir, 'src/acme_tiny/__init__.py'), 'X = 3\r\nY = 2\r\n');
    const e = await failure(buildPython({ checkoutDir: co.dir, commitTime: co.commitTime, outDir: join(tmp, `out-${++n}`), name: 'crlf-lib', version: 'v1.0' }));
    expect(e.code).toBe('EBUILD');
    expect(e.actual).toContain('src/acme_tiny/__init__.py');
  });

  it('a link to a folder of the repository is followed by the check as the backend follows it: a link out of the checkout in that folder is refused before the build (EBADSOURCE), nothing of its target packed', async () => {
    const SECRET = 'cam-planted-behind-a-folder-link';
    const outside = join(tmp, `outside-${++n}.txt`);
    await writeFile(outside, `${SECRET}\n`);
    const dir = join(tmp, `repo-${++n}`);
    await mkdir(dir);
    await git(dir, 'init', '-q');
    await writeTree(dir, {
      'lib/pyproject.toml': '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n[project]\nname = "linked-lib"\nversion = "1.0"\n[tool.hatch.build.targets.wheel]\npackages = ["linked_lib"]\n',
      'lib/linked_lib/__init__.py': 'X = 1\n',
      'shared/notes.txt': 'shared\n',
    });
    // in the project, a link to a folder elsewhere in the repository (allowed); in that folder, a link out
    await symlink('../../shared', join(dir, 'lib', 'linked_lib', 'shared'));
    await symlink(outside, join(dir, 'shared', 'secret.txt'));
    await git(dir, 'add', '-A');
    await git(dir, 'commit', '-q', '-m', 'release');
    await git(dir, 'tag', 'v1.0');
    const e = await failure(build(dir, 'v1.0', { name: 'linked-lib', subdir: 'lib' }));
    expect(e.code).toBe('EBADSOURCE');
    expect(e.actual).toContain('secret.txt');
  });

  it("a .gitconfig the tag commits at its root is no config of the git that checks the checkout is clean: its core.fsmonitor command never runs, outside the build's containment", async () => {
    const marker = join(tmp, `fsmonitor-ran-${++n}`);
    const r = await repo({ ...setuptoolsPyproject('fsmon-lib', '1.0'), '.gitconfig': `[core]\n\tfsmonitor = "touch ${marker}; echo"\n` }, 'v1.0');
    const out = await build(r, 'v1.0', { name: 'fsmon-lib' });
    expect(out.files.map((f) => f.filetype)).toEqual(['sdist', 'bdist_wheel']);
    expect(existsSync(marker)).toBe(false);
  });

  it('a commit dated before 1980 or after 2106 builds with hatchling (which refuses such ZIP and gzip times): stamped with the nearest time a wheel and an sdist can hold', async () => {
    const r = await repo({ 'pyproject.toml': '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n[project]\nname = "old-hat"\nversion = "1.0"\n[tool.hatch.build.targets.wheel]\npackages = ["old_hat"]\n', 'old_hat/__init__.py': 'X = 1\n' }, 'v1.0');
    for (const [commitTime, stamped] of [[new Date('1975-06-01T00:00:00Z'), '1980-01-01 00:00:00'], [new Date('2200-01-01T00:00:00Z'), '2106-02-07 06:28:14']] as const) {
      const co = await checkout(r, 'v1.0');
      const out = await buildPython({ checkoutDir: co.dir, commitTime, outDir: join(tmp, `out-${++n}`), name: 'old-hat', version: 'v1.0' });
      const wheel = out.files.find((f) => f.filename.endsWith('.whl'))!;
      const times = await run('/usr/bin/python3', ['-c', 'import sys, zipfile\nprint(sorted({"%04d-%02d-%02d %02d:%02d:%02d" % i.date_time for i in zipfile.ZipFile(sys.argv[1]).infolist()}))', wheel.path]);
      expect(times.stdout.trim()).toBe(`['${stamped}']`);
    }
  });

  it("a setup.py reads none of the account's credential files (~/.aws, ~/.npmrc, a source's key): what it could read would be in the wheel", async () => {
    const SECRET = 'cam-planted-setup-py-secret';
    const home = await mkdtemp(join(tmpdir(), 'cam-op-home-'));
    await mkdir(join(home, '.aws'));
    await writeFile(join(home, '.aws', 'credentials'), `[default]\naws_secret_access_key = ${SECRET}\n`);
    await writeFile(join(home, '.npmrc'), `//npm.example/:_authToken=${SECRET}\n`);
    const files = [join(home, '.aws', 'credentials'), join(home, '.npmrc')];
    // the module it builds holds whatever it could read
    const r = await repo(
      {
        'setup.py': `from setuptools import setup\nfound = []\nfor f in ${JSON.stringify(files)}:\n    try:\n        found.append(open(f).read())\n    except OSError as e:\n        found.append(repr(e))\nopen("loot.py", "w").write("FOUND = " + repr(found) + "\\n")\nsetup(name="loot", version="1.0", py_modules=["loot"])\n`,
      },
      'v1.0',
    );
    const before = process.env.HOME;
    process.env.HOME = home;
    try {
      const out = await build(r, 'v1.0', { name: 'loot' });
      process.env.HOME = before;
      const wheel = out.files.find((f) => f.filename.endsWith('.whl'))!;
      const loot = await run('/usr/bin/python3', ['-c', 'import sys, zipfile\nprint(zipfile.ZipFile(sys.argv[1]).read("loot.py").decode())', wheel.path]);
      // it ran, and read nothing: a folder covered by an empty one, a file by /dev/null
      expect(loot.stdout).toMatch(/^FOUND = \[/);
      expect(loot.stdout).not.toContain(SECRET);
      expect(loot.stdout).toContain('No such file or directory');
      expect(await readFile(join(home, '.npmrc'), 'utf8')).toContain(SECRET);
    } finally {
      process.env.HOME = before;
      await rm(home, { recursive: true, force: true });
    }
  });

  it('a setup.py sends nothing anywhere: the build runs with no network (a port on this machine stands for any host and the cloud metadata service); build.network lets it', async () => {
    const got: string[] = [];
    const server = createServer((req, res) => {
      got.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/loot`;
    try {
      // what it could send, it tries to; the module it builds says what happened
      const setup = `from setuptools import setup\nimport urllib.request\ntry:\n    urllib.request.urlopen(${JSON.stringify(url)}, timeout=5).read()\n    sent = "sent"\nexcept OSError as e:\n    sent = repr(e)\nopen("sent.py", "w").write("SENT = " + repr(sent) + "\\n")\nsetup(name="sender", version="1.0", py_modules=["sent"])\n`;
      const r = await repo({ 'setup.py': setup }, 'v1.0');
      const sent = async (out: PythonBuildResult) => {
        const wheel = out.files.find((f) => f.filename.endsWith('.whl'))!;
        return (await run('/usr/bin/python3', ['-c', 'import sys, zipfile\nprint(zipfile.ZipFile(sys.argv[1]).read("sent.py").decode())', wheel.path])).stdout;
      };
      expect(await sent(await build(r, 'v1.0', { name: 'sender' }))).toContain('Network is unreachable');
      expect(got).toEqual([]);
      expect(await sent(await build(r, 'v1.0', { name: 'sender', network: true }))).toContain("SENT = 'sent'");
      // once per setup.py run (the sdist's, then the wheel's from it)
      expect(got.length).toBeGreaterThan(0);
      expect(new Set(got)).toEqual(new Set(['/loot']));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('runs the build in a clean environment with SOURCE_DATE_EPOCH = the commit time', async () => {
    const dump = join(tmp, `env-${++n}.json`);
    const r = await repo(
      {
        'setup.py': `import json, os\nfrom setuptools import setup\njson.dump(dict(os.environ), open(${JSON.stringify(dump)}, "w"))\nsetup(name="env-lib", version="1.0", py_modules=["env_lib"])\n`,
        'env_lib.py': '',
      },
      'v1.0',
    );
    const scratch = await mkdtemp(join(tmpdir(), 'cam-scratch-'));
    const before = { PIP_INDEX_URL: process.env.PIP_INDEX_URL, PYTHONPATH: process.env.PYTHONPATH };
    process.env.PIP_INDEX_URL = 'http://127.0.0.1:9/never';
    process.env.PYTHONPATH = '/nonexistent';
    try {
      await build(r, 'v1.0', { name: 'env-lib', env: { EXTRA_FOR_TEST: 'yes' }, scratchDir: scratch });
    } finally {
      for (const [k, v] of Object.entries(before)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    const env = JSON.parse(await readFile(dump, 'utf8')) as Record<string, string>;
    expect(env.SOURCE_DATE_EPOCH).toBe(String(Date.parse(COMMIT_DATE) / 1000));
    expect(env.PIP_INDEX_URL).toBeUndefined();
    expect(env.PYTHONPATH).toBeUndefined();
    expect(env.EXTRA_FOR_TEST).toBe('yes');
    expect(env.PIP_NO_INDEX).toBe('1');
    // HOME in the scratch folder given (the state's tmp, in a run: swept after a killed run), named for this process
    expect(env.HOME!.startsWith(join(scratch, `scratch-${process.pid}-`))).toBe(true);
    // The temporary HOME is removed with the build.
    expect(existsSync(env.HOME!)).toBe(false);
    expect(await readdir(scratch)).toEqual([]);
    await rm(scratch, { recursive: true, force: true });
  });
});

// ---------------------------------------------------------------- real repositories

describe('real fixture repositories (test/fixtures/git, git bundles)', () => {
  // Cloned at a tag straight from the bundle, as the git source will clone.
  async function fromBundle(bundle: string, tag: string, opts: Partial<PythonBuildOptions> & { name: string }): Promise<PythonBuildResult> {
    const dir = join(tmp, `fx-${++n}`);
    await git(tmp, 'clone', '-q', '--branch', tag, join(import.meta.dirname, 'fixtures', 'git', `${bundle}.bundle`), dir);
    const ct = Number((await git(dir, 'log', '-1', '--format=%ct')).trim());
    return buildPython({ checkoutDir: dir, commitTime: new Date(ct * 1000), outDir: join(tmp, `out-${++n}`), version: tag, ...opts });
  }
  const summary = (r: PythonBuildResult) => r.files.map((f) => `${f.filename} ${f.filetype} ${f.pyversion} ${f.metadata.name}==${f.metadata.version}`);

  it('builds setup.py-era and hatchling tags of userpath, a poetry tag of crashtest, and a monorepo tag; refuses a hatch-vcs tag', async () => {
    expect(summary(await fromBundle('py-userpath', '1.3.0', { name: 'userpath' }))).toEqual([
      'userpath-1.3.0.tar.gz sdist source userpath==1.3.0',
      'userpath-1.3.0-py3-none-any.whl bdist_wheel py3 userpath==1.3.0',
    ]);
    expect(summary(await fromBundle('py-userpath', 'v1.9.2', { name: 'userpath' }))).toEqual([
      'userpath-1.9.2.tar.gz sdist source userpath==1.9.2',
      'userpath-1.9.2-py3-none-any.whl bdist_wheel py3 userpath==1.9.2',
    ]);
    expect(summary(await fromBundle('py-crashtest', '0.4.1', { name: 'crashtest' }))).toEqual([
      'crashtest-0.4.1.tar.gz sdist source crashtest==0.4.1',
      'crashtest-0.4.1-py3-none-any.whl bdist_wheel py3 crashtest==0.4.1',
    ]);
    // A prefixed tag: the job maps billing/v1.2.0 to the version v1.2.0 in billing/.
    expect(summary(await fromBundle('monorepo', 'billing/v1.2.0', { name: 'acme-billing', subdir: 'billing', version: 'v1.2.0' }))).toEqual([
      'acme-billing-1.2.0.tar.gz sdist source acme-billing==1.2.0',
      'acme_billing-1.2.0-py3-none-any.whl bdist_wheel py3 acme-billing==1.2.0',
    ]);
    // Its first release takes the version from git through hatch-vcs, which Debian's hatchling lacks.
    const e = await failure(fromBundle('monorepo', 'billing/v0.9.0', { name: 'acme-billing', subdir: 'billing', version: 'v0.9.0' }));
    expect(e.code).toBe('EBUILD');
    expect(e.actual).toMatch(/Unknown version source: vcs/);
  });
});

// ---------------------------------------------------------------- timeouts and aborts

/**
 * A setup.py that starts a grandchild, `sleep 300.<token>`, says so in `readyFile`, then
 * hangs. Both are found in this machine's /proc (the build has one of its own namespace):
 * the grandchild by its command line, the setup.py process as its parent.
 */
function hangingProject(readyFile: string, token: string): Record<string, string> {
  return {
    'setup.py': `import subprocess, time
child = subprocess.Popen(["/bin/sleep", "300.${token}"])
with open(${JSON.stringify(readyFile)}, "w") as f:
    f.write("started")
time.sleep(300)
`,
  };
}

async function hangingPids(readyFile: string, token: string): Promise<number[]> {
  await waitForFile(readyFile);
  const grandchild = await pidOfCommand(['/bin/sleep', `300.${token}`]);
  return [await parentOf(grandchild), grandchild];
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.trim() !== '') return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} never appeared`);
}

describe('a build that hangs', () => {
  it('is killed at the timeout, the whole process group with it', async () => {
    const ready = join(tmp, `ready-${++n}`);
    const token = `${process.pid}${n}`;
    const r = await repo(hangingProject(ready, token), 'v1.0');
    const p = failure(build(r, 'v1.0', { name: 'hang', timeoutMs: 8000 }));
    const pids = await hangingPids(ready, token);
    const e = await p;
    expect(e.code).toBe('EBUILD');
    expect(e.message).toMatch(/timed out/);
    for (const pid of pids) expect(await goneSoon(pid), `pid ${pid}`).toBe(true);
  });

  it('is killed on abort: EINTERRUPTED, nothing left behind', async () => {
    const ready = join(tmp, `ready-${++n}`);
    const token = `${process.pid}${n}`;
    const r = await repo(hangingProject(ready, token), 'v1.0');
    const ac = new AbortController();
    const p = build(r, 'v1.0', { name: 'hang', signal: ac.signal, timeoutMs: 120_000 });
    const pids = await hangingPids(ready, token);
    for (const pid of pids) expect(await alive(pid)).toBe(true);
    ac.abort();
    const e = await failure(p);
    expect(e.code).toBe('EINTERRUPTED');
    for (const pid of pids) expect(await goneSoon(pid), `pid ${pid}`).toBe(true);
  });

  it('runProcess keeps only the tail of a chatty command', async () => {
    const res = await runProcess({ argv: ['/bin/sh', '-c', 'i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done; exit 3'], cwd: tmp, env: { PATH: '/usr/bin:/bin' }, timeoutMs: 60_000, maxOutputBytes: 1000 });
    expect(res.exitCode).toBe(3);
    expect(res.outputBytes).toBeGreaterThan(100_000);
    expect(res.output.length).toBeLessThanOrEqual(1000);
    expect(res.output.trimEnd().endsWith('line-19999')).toBe(true);
  });
});

// ---------------------------------------------------------------- reproducibility

/** The tar members (type, name, content) of a .tar.gz, ignoring times: the gzip header and pax records (setuptools puts only `mtime` in them). */
async function tarMembers(path: string): Promise<string[]> {
  const data = gunzipSync(await readFile(path));
  const out: string[] = [];
  for (let off = 0; off + 512 <= data.length; ) {
    const header = data.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const prefix = header.subarray(345, 500).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    if (type !== 'x' && type !== 'g') out.push(`${type} ${prefix ? `${prefix}/` : ''}${name} ${data.subarray(off + 512, off + 512 + size).toString('base64')}`);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Every time a .tar.gz holds: each header's mtime, each pax time record, gzip's header. */
async function tarTimes(path: string): Promise<number[]> {
  const raw = await readFile(path);
  const data = gunzipSync(raw);
  const out = [raw.readUInt32LE(4)];
  for (let off = 0; off + 512 <= data.length; ) {
    const header = data.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    out.push(parseInt(header.subarray(136, 148).toString('latin1').replace(/\0.*$/s, '').trim(), 8));
    const type = String.fromCharCode(header[156]!);
    if (type === 'x' || type === 'g') {
      for (const m of data.subarray(off + 512, off + 512 + size).toString('utf8').matchAll(/^\d+ [amc]time=([-\d.]+)$/gm)) out.push(Number(m[1]));
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('SOURCE_DATE_EPOCH and reproducibility (Debian 12 tool versions)', () => {
  // Two fresh clones of one commit, their files' mtimes made different on
  // purpose (a clone stamps files with the time of the clone), built apart.
  async function twice(files: Record<string, string>, name: string): Promise<[PythonBuildResult, PythonBuildResult, Date]> {
    const r = await repo(files, 'v1.0');
    const results: PythonBuildResult[] = [];
    let commitTime = new Date(NaN);
    for (const shift of [0, 3600]) {
      const co = await checkout(r, 'v1.0');
      commitTime = co.commitTime;
      const when = new Date(Date.now() + shift * 1000);
      for (const f of await readdir(co.dir, { recursive: true })) if (!f.startsWith('.git')) await utimes(join(co.dir, f), when, when);
      results.push(await buildPython({ checkoutDir: co.dir, commitTime: co.commitTime, outDir: join(tmp, `out-${++n}`), name, version: 'v1.0' }));
    }
    return [results[0]!, results[1]!, commitTime];
  }
  const bytes = (res: PythonBuildResult) => Promise.all(res.files.map((f) => readFile(f.path)));

  it('hatchling: sdist and wheel are byte-identical', async () => {
    const [a, b] = await twice({ 'pyproject.toml': '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n[project]\nname = "rep-hat"\nversion = "1.0"\n[tool.hatch.build.targets.wheel]\npackages = ["rep_hat"]\n', 'rep_hat/__init__.py': 'X = 1\n' }, 'rep-hat');
    expect(await bytes(a)).toEqual(await bytes(b));
  });

  // poetry-core 1.4 copies the files' mtimes into its sdist: identical only
  // because buildPython sets them to the commit time first (pinMtimes).
  it('poetry-core: sdist and wheel are byte-identical', async () => {
    const [a, b] = await twice({ 'pyproject.toml': '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n[tool.poetry]\nname = "rep-poe"\nversion = "1.0"\ndescription = ""\nauthors = []\npackages = [{include = "rep_poe"}]\n', 'rep_poe/__init__.py': 'X = 1\n' }, 'rep-poe');
    expect(await bytes(a)).toEqual(await bytes(b));
  });

  it("a C extension: the wheel is byte-identical (the checkout's path, new every build, mapped out of the binary) and names no folder of this machine", async () => {
    const [a, b] = await twice(
      {
        'setup.py': "from setuptools import setup, Extension\nsetup(name='rep-cext', version='1.0', ext_modules=[Extension('rep_cext', ['rep_cext.c'])])\n",
        // __FILE__ is the source's path as the compiler was given it: the checkout's, absolute
        'rep_cext.c': '#include <Python.h>\nstatic PyObject* where(PyObject* s, PyObject* a) { return PyUnicode_FromString(__FILE__); }\nstatic PyMethodDef M[] = {{"where", where, METH_NOARGS, ""}, {0}};\nstatic struct PyModuleDef D = {PyModuleDef_HEAD_INIT, "rep_cext", 0, -1, M};\nPyMODINIT_FUNC PyInit_rep_cext(void) { return PyModule_Create(&D); }\n',
      },
      'rep-cext',
    );
    const wheel = (r: PythonBuildResult) => r.files.find((f) => f.filetype === 'bdist_wheel')!;
    expect(wheel(a).filename).toMatch(/^rep_cext-1\.0-cp3\d+-cp3\d+-linux_\w+\.whl$/);
    const [wa, wb] = await Promise.all([readFile(wheel(a).path), readFile(wheel(b).path)]);
    expect(wa.equals(wb)).toBe(true);
    // the binary holds the source's name, and no path of the tool's folders
    const so = execFileSync('/usr/bin/python3', ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(b"".join(z.read(n) for n in z.namelist() if n.endswith(".so")))', wheel(a).path], { maxBuffer: 1 << 26 });
    expect(so.includes(Buffer.from('rep_cext.c'))).toBe(true);
    expect(so.includes(Buffer.from(tmp))).toBe(false);
  });

  it('setuptools 66: sdist and wheel are byte-identical (the sdist once its build times are clamped), and the sdist holds what setuptools packed', async () => {
    const [a, b, commitTime] = await twice(setuptoolsPyproject('rep-st', '1.0'), 'rep-st');
    const [sa, wa] = await bytes(a);
    const [sb, wb] = await bytes(b);
    expect(wa).toEqual(wb);
    // setuptools 66 does not honour SOURCE_DATE_EPOCH in its sdist: the files it
    // generates (PKG-INFO, setup.cfg, egg-info, their directories) carry the time
    // of the build, in tar headers and pax records, and so does gzip's header.
    // clampSdistTimes brings them back to the commit time: the same bytes.
    expect(sa!.equals(sb!)).toBe(true);
    expect(await tarMembers(a.files[0]!.path)).toEqual(await tarMembers(b.files[0]!.path));
    const times = await tarTimes(a.files[0]!.path);
    const commit = Math.floor(commitTime.getTime() / 1000);
    expect(times.length).toBeGreaterThan(10);
    expect(times.filter((t) => t > commit)).toEqual([]);
  });
});
