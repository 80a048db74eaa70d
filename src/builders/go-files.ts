/**
 * Listing a Go module's files in a checkout, and reading its go.mod and the
 * repository's root LICENSE: from the commit of a git work tree the way
 * cmd/go reads it (cmd/go/internal/modfetch/codehost/git.go), or from a plain
 * directory the way golang.org/x/mod/zip.CreateFromDir walks it.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, readFile, readdir, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MigrateError, type ErrorCode } from '../errors.js';
import { AS_GO_READS, realChanges, WITHOUT_OPERATOR_CONFIG } from '../git-local.js';
import { MAX_GO_MOD, MAX_LICENSE, isVendoredPackage, modulePathFromGoMod, splitPathVersion, type CandidateFile, type FileProblem } from './go-rules.js';

/** A file that may go into the zip, and how to read it. */
export interface SourceFile extends CandidateFile {
  open(): Readable;
}

const VCS_DIRS = new Set(['.bzr', '.git', '.hg', '.svn']);

export function fail(code: ErrorCode, subject: string, why: string, hint: string, extra: { expected?: string; actual?: string; cause?: unknown } = {}): MigrateError {
  return new MigrateError(code, `${subject}: ${why}`, { subject, hint, ...extra });
}

// ---------------------------------------------------------------- a plain directory (zip.CreateFromDir)

export async function dirGoMod(moduleDir: string, subject: string): Promise<Buffer | undefined> {
  const path = join(moduleDir, 'go.mod');
  const st = await lstat(path).catch(() => undefined);
  if (!st || st.isDirectory()) return undefined;
  if (!st.isFile()) throw fail('EBADSOURCE', subject, 'go.mod is not a regular file (a symbolic link?)', 'Go needs a real go.mod; fix it at the source');
  if (st.size > MAX_GO_MOD) throw fail('ETOOLARGE', subject, `go.mod is ${st.size} bytes, more than Go accepts (${MAX_GO_MOD})`, 'exclude this version');
  return readFile(path);
}

export async function dirRootLicense(checkoutDir: string): Promise<SourceFile | undefined> {
  const path = join(checkoutDir, 'LICENSE');
  const st = await lstat(path).catch(() => undefined);
  if (st?.isFile()) return { path: 'LICENSE', kind: 'file', size: st.size, open: () => createReadStream(path) };
  // git stores a symbolic link as a blob holding its target, and go reads that blob.
  if (st?.isSymbolicLink()) return dataFile('LICENSE', Buffer.from(await readlink(path), 'utf8'));
  return undefined;
}

/**
 * zip.listFilesInDir: lexical walk, VCS directories and nested modules skipped, irregular files left out.
 * Names are read as bytes and opened by them: a name that is not UTF-8 (Latin-1 test data) is
 * still a file go lists, and leaves out (vendored, nested module) or refuses ("invalid UTF-8").
 */
export async function walkDir(root: string, go124: boolean): Promise<{ files: SourceFile[]; omitted: FileProblem[] }> {
  const st = await lstat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new MigrateError('EBADSOURCE', `${root} is not a directory`, { hint: 'check the module directory in the job file' });
  const files: SourceFile[] = [];
  const omitted: FileProblem[] = [];
  const visit = async (dir: Buffer, rel: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    for (const e of entries) {
      const name = e.name.toString('utf8');
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = Buffer.concat([dir, SLASH, e.name]);
      if (isVendoredPackage(path, go124)) {
        omitted.push({ path, reason: 'file is in vendor directory' });
      } else if (e.isDirectory()) {
        const goMod = await lstat(Buffer.concat([abs, SLASH_GO_MOD])).catch(() => undefined);
        if (VCS_DIRS.has(name)) omitted.push({ path, reason: 'directory is a version control repository' });
        else if (goMod && !goMod.isDirectory()) omitted.push({ path, reason: 'directory is in another module' });
        else await visit(abs, path);
      } else if (e.isFile()) {
        const { size } = await lstat(abs);
        files.push({ path, kind: 'file', size, open: () => createReadStream(abs) });
      } else {
        omitted.push({ path, reason: 'not a regular file' });
      }
    }
  };
  await visit(Buffer.from(root), '');
  return { files, omitted };
}

const SLASH = Buffer.from('/');
const SLASH_GO_MOD = Buffer.from('/go.mod');

/** What git's is_git_directory looks for: HEAD and an objects folder (refs may be packed away). */
async function isGitDir(path: string): Promise<boolean> {
  const [head, objects] = await Promise.all([lstat(join(path, 'HEAD')).catch(() => undefined), lstat(join(path, 'objects')).catch(() => undefined)]);
  return head !== undefined && objects?.isDirectory() === true;
}

function dataFile(path: string, data: Buffer): SourceFile {
  return { path, kind: 'file', size: data.length, open: () => Readable.from([data]) };
}

// ---------------------------------------------------------------- a git work tree (what `go` fetches)

interface TreeEntry {
  mode: string;
  size: number;
  /** Relative to the repository root; a name that is not UTF-8 has U+FFFD in it (which module.CheckFilePath refuses)… */
  path: string;
  /** …and is opened by its bytes. */
  raw: Buffer;
}

/** The commit checked out in a git work tree, read the way cmd/go reads a commit. */
export class GitTree {
  private constructor(
    private readonly top: string,
    private readonly subject: string,
  ) {}

  /** A GitTree when `dir` is the top of a git work tree, undefined when it is no git checkout at all. */
  static async open(dir: string, subject: string, expectHash?: string): Promise<GitTree | undefined> {
    const dotGit = await lstat(join(dir, '.git')).catch(() => undefined);
    if (!dotGit) return undefined;
    // A .git directory that is no repository (no HEAD, no objects: a folder a tarball carried)
    // is skipped by the walk, as zip.CreateFromDir skips it. One that is, git must read: when
    // git refuses it (another user's, "dubious ownership"; a broken config) a walk would take in
    // untracked files and leave out tracked .hg/ folders, another h1 than go's. A .git file (a
    // worktree's pointer) would be walked in, which go never does.
    if (dotGit.isDirectory() && !(await isGitDir(join(dir, '.git')))) return undefined;
    const t = new GitTree(dir, subject);
    const top = (await t.git(['rev-parse', '--show-toplevel'])).toString('utf8').trim();
    if ((await realpath(top)) !== (await realpath(dir))) {
      throw fail('EBADSOURCE', subject, `${dir} is inside the git work tree ${top}, not its top`, 'build from the repository root and give the module directory as subdir');
    }
    // A modified tracked file would go into the zip as it is, unlike what go fetches.
    // (realChanges: a file git status merely suspects, racily clean, is compared with its blob)
    const status = await t.git(['status', '--porcelain', '-z', '--untracked-files=no', '--ignore-submodules=all']);
    const dirty = await realChanges(t.top, status.toString('utf8'), { argv: ['git', ...AS_GO_READS], env: t.env() }, 5);
    if (dirty.length > 0) {
      throw fail('EBADSOURCE', subject, `the checkout has local changes: ${dirty.join(', ')}`, 'build from a clean checkout of the tag');
    }
    if (expectHash) {
      const head = (await t.git(['rev-parse', 'HEAD'])).toString('utf8').trim();
      if (head !== expectHash) throw fail('EBADSOURCE', subject, `the checkout is at ${head}, not ${expectHash}`, 'check out the tagged commit', { expected: expectHash, actual: head });
    }
    return t;
  }

  private env(): NodeJS.ProcessEnv {
    // as the checkout was made (an operator's autocrlf=true would make a CRLF checkout look clean)
    const env: NodeJS.ProcessEnv = { ...process.env, GIT_OPTIONAL_LOCKS: '0', GIT_LITERAL_PATHSPECS: '1', ...WITHOUT_OPERATOR_CONFIG };
    for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_CONFIG', 'GIT_CONFIG_COUNT', 'GIT_CONFIG_PARAMETERS']) delete env[k];
    return env;
  }

  private async git(args: string[]): Promise<Buffer> {
    const env = this.env();
    return new Promise((done, reject) => {
      execFile('git', [...AS_GO_READS, ...args], { cwd: this.top, env, encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
        if (!err) return done(stdout);
        reject(
          new MigrateError('EBADSOURCE', `${this.subject}: git ${args[0]} failed in ${this.top}: ${stderr.toString('utf8').trim() || err.message}`, {
            subject: this.subject,
            cause: err,
            hint: 'the checkout is not a usable git work tree',
          }),
        );
      });
    });
  }

  private async entries(pathspec?: string): Promise<TreeEntry[]> {
    const out = await this.git(['ls-tree', '-r', '-l', '-z', '--full-tree', 'HEAD', ...(pathspec ? ['--', pathspec] : [])]);
    const entries: TreeEntry[] = [];
    for (let start = 0; start < out.length; ) {
      let end = out.indexOf(0, start);
      if (end < 0) end = out.length;
      const rec = out.subarray(start, end);
      start = end + 1;
      if (rec.length === 0) continue;
      const tab = rec.indexOf(0x09);
      const [mode, , , size] = rec.subarray(0, tab).toString('utf8').split(/ +/);
      const raw = rec.subarray(tab + 1);
      entries.push({ mode: mode!, size: size === '-' ? -1 : Number(size), path: raw.toString('utf8'), raw });
    }
    return entries;
  }

  /** The go.mod blob as git holds it: cmd/go serves `git cat-file blob` for .mod, not the checked-out file. */
  async goMod(prefix: string, subject: string): Promise<Buffer | undefined> {
    const [entry] = await this.entries(`${prefix}go.mod`);
    if (!entry || entry.path !== `${prefix}go.mod`) return undefined;
    if (entry.mode === '120000') throw fail('EBADSOURCE', subject, `${prefix}go.mod is a symbolic link`, 'Go needs a real go.mod; fix it at the source');
    if (!entry.mode.startsWith('100')) return undefined;
    if (entry.size > MAX_GO_MOD) throw fail('ETOOLARGE', subject, `go.mod is ${entry.size} bytes, more than Go accepts (${MAX_GO_MOD})`, 'exclude this version');
    return this.git(['cat-file', 'blob', `HEAD:${prefix}go.mod`]);
  }

  /**
   * findDir in coderepo.go: for example.com/m/v2 built from a go.mod that claims /v2,
   * any v2/go.mod beside it makes go refuse the version. One that claims /v2 too is
   * where go looks instead ("both have .../v2 module paths"); one that claims anything
   * else, or nothing, is "v2/go.mod has non-.../v2 module path" (or "is missing module
   * path"). go reads it with `git cat-file blob`, so a link counts (its blob is the
   * target's name) and its size does not; a folder or a submodule named go.mod is none.
   */
  async refuseMajorSubdir(prefix: string, modulePath: string, subject: string): Promise<void> {
    const { pathMajor } = splitPathVersion(modulePath);
    if (!pathMajor.startsWith('/') || prefix.endsWith(`${pathMajor.slice(1)}/`)) return;
    const other = `${prefix}${pathMajor.slice(1)}/go.mod`;
    const [entry] = await this.entries(other);
    if (!entry || entry.path !== other || !(entry.mode.startsWith('100') || entry.mode === '120000')) return;
    const dir = other.slice(0, -'/go.mod'.length);
    // only the module line matters, and Go's limit is no bound here: a larger one is refused unread
    const claimed = entry.size > MAX_GO_MOD ? '' : modulePathFromGoMod(await this.git(['cat-file', 'blob', `HEAD:${other}`]));
    if (splitPathVersion(claimed).pathMajor === pathMajor) {
      throw fail('EBADSOURCE', subject, `${other} also declares a ${pathMajor.slice(1)} module; Go resolves this version to ${dir}, not ${prefix || 'the root'}`, 'set the module directory in the job file to that directory');
    }
    throw fail(
      'EBADSOURCE',
      subject,
      `${other} ${claimed ? `declares module ${claimed}, not a ${pathMajor.slice(1)} one` : entry.size > MAX_GO_MOD ? 'is larger than Go accepts' : 'has no module line'}: go refuses a ${pathMajor.slice(1)} version with a go.mod in ${dir}/ that is not this module's`,
      `go get fails on this tag the same way; move or rename ${dir}/ at the source, or exclude this version`,
    );
  }

  /** Tracked files under `prefix` at HEAD, contents from the checkout; gitlinks (submodules) are empty directories to go. */
  async files(prefix: string, subject: string): Promise<{ files: SourceFile[]; omitted: FileProblem[] }> {
    const entries = await this.entries(prefix === '' ? undefined : prefix);
    const files: SourceFile[] = [];
    const omitted: FileProblem[] = [];
    for (const e of entries) {
      if (!e.path.startsWith(prefix)) continue;
      const path = e.path.slice(prefix.length);
      if (e.mode === '160000') {
        omitted.push({ path, reason: 'git submodule: go fetches it as an empty directory' });
      } else if (e.mode === '120000') {
        files.push({ path, kind: 'symlink', size: e.size, open: () => Readable.from([]) });
      } else if (e.mode.startsWith('100')) {
        const abs = Buffer.concat([Buffer.from(`${this.top}/`), e.raw]);
        const st = await lstat(abs).catch(() => undefined);
        if (!st?.isFile()) throw fail('EBADSOURCE', subject, `${e.path} is tracked at HEAD but is not a file in the checkout`, 'build from a full, clean checkout of the tag');
        files.push({ path, kind: 'file', size: st.size, open: () => createReadStream(abs) });
      }
    }
    if (entries.length === 0) throw fail('EBADSOURCE', subject, `the commit has no files under ${prefix || 'the root'}`, 'check the module directory in the job file');
    return { files, omitted };
  }

  /** The root LICENSE blob (`git cat-file blob HEAD:LICENSE`, as coderepo.go reads it), when there is one. */
  async rootLicense(): Promise<SourceFile | undefined> {
    const [entry] = await this.entries('LICENSE');
    if (!entry || entry.path !== 'LICENSE' || !(entry.mode.startsWith('100') || entry.mode === '120000')) return undefined;
    // Too large for Go: checkFiles refuses it by its size, so it is never read.
    if (entry.size > MAX_LICENSE) return { path: 'LICENSE', kind: 'file', size: entry.size, open: () => Readable.from([]) };
    return dataFile('LICENSE', await this.git(['cat-file', 'blob', 'HEAD:LICENSE']));
  }
}
