/**
 * Build one Go module version (the `.zip`, `.mod` and `.info` a GOPROXY serves)
 * from a clean checkout of its tagged commit, with the bytes and the `h1:`
 * hashes the Go toolchain itself would produce.
 *
 * Which files the zip holds is the crux: consumers' go.sum files already hold
 * h1 hashes computed by `go` when it fetched the module straight from git
 * (GOPRIVATE / GOPROXY=direct), so anything else fails their builds with
 * "checksum mismatch". That fetch (cmd/go/internal/modfetch/coderepo.go, Zip)
 * lists the files `git archive` gives for the commit (so: tracked files only,
 * no `.git`, submodules empty; export-ignore/export-subst are switched off, see
 * golang.org/issue/27153), adds the repository's root LICENSE to a module in a
 * subdirectory that has none, and applies golang.org/x/mod/zip's Create rules
 * (go-rules.ts). So:
 *  - a checkout that is a git work tree is listed with `git ls-tree HEAD`
 *    (a `git worktree` checkout has a `.git` *file*, which a directory walk
 *    would take in; stray untracked files would be taken in too);
 *  - any other directory is walked as zip.CreateFromDir walks it.
 * Contents are read from the checkout, file by file, never whole.
 * https://go.dev/ref/mod#zip-files  https://go.dev/ref/mod#goproxy-protocol
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { removeWhenClosed } from '../atomic-file.js';
import { MigrateError, localError, type ErrorCode } from '../errors.js';
import { Hash1, hashGoMod } from '../integrity/dirhash.js';
import { HashingStream } from '../integrity/hashes.js';
import type { Hashes } from '../types.js';
import { GitTree, dirGoMod, dirRootLicense, fail, walkDir, type SourceFile } from './go-files.js';
import {
  MAX_ZIP_FILE,
  checkFiles,
  checkModulePath,
  checkPathMajor,
  declaresGo124,
  goInfoTime,
  goTimeProblem,
  isCanonicalVersion,
  isIncompatible,
  isPseudoVersion,
  legacyGoMod,
  modulePathFromGoMod,
  semverMajor,
  splitPathVersion,
  type FileProblem,
} from './go-rules.js';

export { escapeModulePath, escapeVersion } from './go-rules.js';
export type { FileProblem } from './go-rules.js';

export interface GoBuildInput {
  /** A clean checkout of the tagged commit: the repository root. */
  checkoutDir: string;
  /** The module's directory in the repository, '' for the root (`tools/cli`, `v2`). */
  subdir: string;
  /**
   * The module path the job gives. Required when the commit has no go.mod; when
   * it has one, go.mod's path must equal it or be it plus a major version suffix
   * (`<path>/v2` for v2 tags): the module path built is go.mod's.
   */
  modulePath?: string;
  /** The tag's version: canonical semver with `v` (`v1.2.3`, `v2.0.0+incompatible`). */
  version: string;
  /** The tagged commit's committer time (`git log -1 --format=%ct`), what `go` puts in `.info`. */
  commitTime: Date;
  /**
   * Build under the job's path even when go.mod declares another (as `go mod
   * download` and the Go proxy do: only the major version must agree). Such a
   * version is usable only through a `replace`, so this is off by default.
   */
  allowModulePathMismatch?: boolean;
  /** Where to write the zip; written beside it first and renamed, so it is whole or absent. */
  zipPath: string;
  /** Optional `Origin` for `.info`, as current `go` and proxy.golang.org write it. When `hash` is set it must be the checkout's HEAD. */
  origin?: GoOrigin;
}

export interface GoOrigin {
  vcs: 'git';
  url: string;
  hash: string;
  /** The module's directory in the repository (coderepo's codeDir), when not the root. */
  subdir?: string;
  /** `refs/tags/v1.2.3` (`refs/tags/sub/v1.2.3` for a module in a subdirectory). */
  ref?: string;
}

export interface GoModuleBuild {
  modulePath: string;
  version: string;
  /** `module@version`, for messages. */
  subject: string;
  /** Asset names in the generic repository, the GOPROXY file names. */
  assets: { zip: string; mod: string; info: string };
  zip: { path: string; size: number; hashes: Hashes; h1: string };
  mod: { bytes: Buffer; h1: string; synthesized: boolean };
  info: { bytes: Buffer };
  /** The go.sum lines: `<module> <version> h1:…` and `<module> <version>/go.mod h1:…`. */
  goSum: [string, string];
  /** Paths in the zip, relative to the module root, in zip order. */
  files: string[];
  /** What was left out and why (vendored packages, nested modules, symlinks, VCS directories). */
  omitted: FileProblem[];
  /** How the files were listed: tracked files of a git work tree, or a directory walk. */
  listing: 'git' | 'directory';
}

/** A DOS timestamp that is the same in every time zone (local fields, no extended-time field). */
const ZIP_TIME = new Date(1980, 0, 1, 0, 0, 0);

export function goAssetNames(version: string): { zip: string; mod: string; info: string } {
  return { zip: `${version}.zip`, mod: `${version}.mod`, info: `${version}.info` };
}

/**
 * The `.info` file: `{"Version":"v1.2.3","Time":"2019-04-22T20:58:15Z"}`, as
 * `go mod download` writes it to its cache and proxy.golang.org serves it
 * (Go's json.Marshal of modfetch.RevInfo: RFC 3339 in UTC, no fraction since
 * git times are whole seconds, `<>&` escaped, no trailing newline).
 */
export function goInfoJson(version: string, time: Date, origin?: GoOrigin): Buffer {
  const stamp = goInfoTime(time);
  if (stamp === undefined) throw new MigrateError('EBADSOURCE', `${version}: the commit time ${goTimeProblem(time)}`, { hint: 'no go command can use this version; exclude it' });
  const info: Record<string, unknown> = { Version: version, Time: stamp };
  // Field order of codehost.Origin in current Go (Go 1.19 wrote Ref before Hash); go reads either.
  if (origin) info.Origin = { VCS: origin.vcs, URL: origin.url, ...(origin.subdir ? { Subdir: origin.subdir } : {}), Hash: origin.hash, ...(origin.ref ? { Ref: origin.ref } : {}) };
  return Buffer.from(JSON.stringify(info).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

export async function buildGoModule(input: GoBuildInput): Promise<GoModuleBuild> {
  const { version, subdir } = input;
  const early = `${input.modulePath ?? input.checkoutDir}@${version}`;
  if (subdir !== '' && (subdir.startsWith('/') || subdir.endsWith('/') || subdir.split('/').some((e) => e === '' || e === '.' || e === '..'))) {
    throw new MigrateError('ECONFIG', `${early}: the module directory ${JSON.stringify(subdir)} is not a clean relative path`, { subject: early, hint: "give it like 'tools/cli', or '' for the repository root" });
  }
  // before anything is written (the .info is made last): a time go cannot read makes the version useless to it
  const timeProblem = goTimeProblem(input.commitTime);
  if (timeProblem) throw fail('EBADSOURCE', early, `the commit time ${timeProblem}`, 'no go command can use this version; exclude this tag');
  if (isPseudoVersion(version)) throw fail('EBADSOURCE', early, `${version} is a pseudo-version; only tagged versions are migrated`, 'exclude this tag');
  if (!isCanonicalVersion(version)) {
    throw fail('EBADSOURCE', early, `${version} is not a canonical Go version (vMAJOR.MINOR.PATCH[-pre], no build metadata but +incompatible)`, 'Go ignores such tags; exclude it');
  }

  const checkoutDir = resolve(input.checkoutDir);
  const tree = await GitTree.open(checkoutDir, early, input.origin?.hash);
  const prefix = subdir === '' ? '' : `${subdir}/`;

  // go.mod first: it names the module and decides the rules.
  const goModFile = tree ? await tree.goMod(prefix, early) : await dirGoMod(join(checkoutDir, subdir), early);
  const declared = goModFile ? modulePathFromGoMod(goModFile) : undefined;
  if (goModFile && !declared) throw fail('EBADSOURCE', early, `${prefix}go.mod has no module line`, 'fix go.mod at the source, or exclude this version');
  const mismatched = input.modulePath !== undefined && declared !== undefined && input.modulePath !== declared && splitPathVersion(declared).prefix !== input.modulePath;
  const modulePath = mismatched && input.allowModulePathMismatch ? input.modulePath : (declared ?? input.modulePath);
  if (!modulePath) throw fail('EBADSOURCE', early, `there is no ${prefix}go.mod and the job names no module path`, 'set the module path in the job file');
  const subject = `${modulePath}@${version}`;
  // The job names the module once, without a major version suffix; go.mod of v2+ tags says `<path>/v2`.
  if (mismatched && !input.allowModulePathMismatch) {
    throw fail('EBADSOURCE', subject, `go.mod declares module ${declared}, the job says ${input.modulePath}`, 'go get refuses a module whose go.mod names another path ("module declares its path as"); fix the job file, or exclude this version', {
      expected: input.modulePath,
      actual: declared,
    });
  }
  if (mismatched && splitPathVersion(declared!).pathMajor.slice(1) !== splitPathVersion(modulePath).pathMajor.slice(1)) {
    // coderepo.go findDir/isMajor: even a mismatched go.mod must claim the same major version
    throw fail('EBADSOURCE', subject, `go.mod declares module ${declared}, of another major version`, 'Go cannot use this tag; exclude it', { expected: modulePath, actual: declared });
  }
  checkVersionRules(subject, modulePath, version, subdir, goModFile !== undefined);
  if (tree) await tree.refuseMajorSubdir(prefix, modulePath, subject);

  // List the files, then apply zip.Create's rules.
  const go124 = declaresGo124(goModFile);
  const listed = tree ? await tree.files(prefix, subject) : await walkDir(join(checkoutDir, subdir), go124);
  const files: SourceFile[] = listed.files;
  if (subdir !== '' && !files.some((f) => f.path === 'LICENSE')) {
    // coderepo.go: a module below the root gets the repository's LICENSE.
    const license = tree ? await tree.rootLicense() : await dirRootLicense(checkoutDir);
    if (license) files.push(license);
  }
  const checked = checkFiles(files, go124);
  if (checked.sizeError) throw fail('ETOOLARGE', subject, checked.sizeError, 'Go cannot fetch a module this large; exclude this version');
  if (checked.invalid.length > 0) {
    const code: ErrorCode = checked.invalid.every((p) => p.tooLarge) ? 'ETOOLARGE' : 'EBADSOURCE';
    const list = checked.invalid.slice(0, 10).map((p) => `${p.path}: ${p.reason}`);
    if (checked.invalid.length > 10) list.push(`and ${checked.invalid.length - 10} more`);
    throw fail(code, subject, `Go would refuse this module zip: ${list.join('; ')}`, 'go mod download would fail the same way; fix it at the source or exclude this version');
  }
  const valid = checked.valid as SourceFile[];
  valid.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));

  const zip = await writeZip(input.zipPath, `${modulePath}@${version}/`, valid, subject);
  const modBytes = goModFile ?? legacyGoMod(modulePath);
  const modH1 = hashGoMod(modBytes);
  return {
    modulePath,
    version,
    subject,
    assets: goAssetNames(version),
    zip,
    mod: { bytes: modBytes, h1: modH1, synthesized: goModFile === undefined },
    info: { bytes: goInfoJson(version, input.commitTime, input.origin) },
    goSum: [`${modulePath} ${version} ${zip.h1}`, `${modulePath} ${version}/go.mod ${modH1}`],
    files: valid.map((f) => f.path),
    omitted: [...listed.omitted, ...checked.omitted],
    listing: tree ? 'git' : 'directory',
  };
}

/**
 * module.Check plus what coderepo.go asks of a tag: the major version must
 * match the path's /vN suffix (https://go.dev/ref/mod#major-version-suffixes);
 * `+incompatible` only for v2+ at the repository root without go.mod
 * (https://go.dev/ref/mod#incompatible-versions); no go.mod only there too.
 */
function checkVersionRules(subject: string, modulePath: string, version: string, subdir: string, hasGoMod: boolean): void {
  const badPath = checkModulePath(modulePath);
  if (badPath) throw fail('EBADSOURCE', subject, `${JSON.stringify(modulePath)} is not a valid module path: ${badPath}`, 'fix the module line of go.mod or the job file');
  const { prefix, pathMajor } = splitPathVersion(modulePath);
  const major = semverMajor(version);
  if (isIncompatible(version)) {
    if (major === 'v0' || major === 'v1') throw fail('EBADSOURCE', subject, `+incompatible is not allowed: major version ${major} is compatible`, `migrate it as ${version.replace('+incompatible', '')}`);
    if (pathMajor) throw fail('EBADSOURCE', subject, 'the module path has a major version suffix, so the major version must match it and +incompatible is not allowed', 'exclude this version');
    if (hasGoMod || subdir !== '') {
      const why = subdir !== '' ? `this module is in the folder ${subdir}/${hasGoMod ? '' : ', which has no go.mod either'}` : 'this commit has one';
      throw fail('EBADSOURCE', subject, `+incompatible is only for a module at the repository root without go.mod, and ${why}`, `Go treats ${version} as invalid; exclude it`);
    }
  } else {
    const why = checkPathMajor(version, pathMajor);
    if (why) {
      const hint =
        pathMajor === '' && !hasGoMod && subdir === ''
          ? `without go.mod, Go serves this tag as ${version}+incompatible: migrate it under that version`
          : pathMajor === ''
            ? `a ${major} module needs the path ${prefix}/${major} in go.mod (https://go.dev/ref/mod#major-version-suffixes); Go cannot use this tag, exclude it`
            : 'Go cannot use this tag; exclude it';
      throw fail('EBADSOURCE', subject, `the version does not match the module path (${why})`, hint);
    }
  }
  if (!hasGoMod && subdir !== '') throw fail('EBADSOURCE', subject, `there is no ${subdir}/go.mod; a module below the repository root needs one`, 'check the module directory in the job file');
  if (!hasGoMod && pathMajor.startsWith('/')) throw fail('EBADSOURCE', subject, `there is no go.mod; a ${pathMajor.slice(1)} module needs one`, 'exclude this version');
}

// ---------------------------------------------------------------- writing

async function writeZip(zipPath: string, prefix: string, files: readonly SourceFile[], subject: string): Promise<GoModuleBuild['zip']> {
  const zip = new yazl.ZipFile();
  const output = zip.outputStream as Readable;
  const h1 = new Hash1();
  const abort = (e: unknown) => output.destroy(e instanceof Error ? e : new Error(String(e)));
  zip.on('error', abort);
  for (const f of files) {
    const name = prefix + f.path;
    // Lazy: one file open at a time, hashed for h1 as it goes into the zip.
    zip.addReadStreamLazy(name, { size: f.size, mtime: ZIP_TIME, mode: 0o100644, compress: true, forceDosTimestamp: true }, (cb) => {
      try {
        const source = f.open();
        const hashed = h1.passThrough(name);
        source.on('error', abort);
        hashed.on('error', abort);
        cb(null, source.pipe(hashed));
      } catch (e) {
        abort(e);
      }
    });
  }
  zip.end();

  const partial = `${zipPath}.partial-${process.pid}`;
  const hashing = new HashingStream();
  const out = createWriteStream(partial);
  try {
    await pipeline(output, hashing, out);
  } catch (e) {
    await removeWhenClosed(out, partial);
    if (e instanceof MigrateError) throw e;
    if (e instanceof Error && /unexpected number of bytes/.test(e.message)) {
      throw new MigrateError('EBADSOURCE', `${subject}: writing the module zip failed: ${e.message}`, { subject, cause: e, hint: 'a file changed while the zip was written: build from a checkout nothing else touches' });
    }
    // this machine's disk (full, read-only): named by its path, never the source's fault
    throw localError(e, zipPath, `write the module zip of ${subject} to`, { anyCode: true })!;
  }
  const { hashes, size } = hashing.digest();
  if (size > MAX_ZIP_FILE) {
    await rm(partial, { force: true });
    throw fail('ETOOLARGE', subject, `the module zip is ${size} bytes, more than Go accepts (${MAX_ZIP_FILE})`, 'exclude this version');
  }
  await rename(partial, zipPath).catch(async (e: unknown) => {
    await rm(partial, { force: true });
    throw localError(e, zipPath, `write the module zip of ${subject} to`, { anyCode: true })!;
  });
  return { path: zipPath, size, hashes, h1: h1.digest() };
}
