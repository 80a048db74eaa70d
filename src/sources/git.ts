/**
 * git repositories (usually git+ssh://): every version tag becomes a version,
 * built from a clean checkout of its commit (builders/ turn it into files).
 *
 * A bare mirror per source lives under `<state>/git/<source id>.git`, cloned
 * once and fetched on every run (`--prune`: a deleted tag disappears; mirror
 * refspecs are forced: a moved tag is seen moved, and state/ decides what that
 * means). ssh is used exactly as git uses it (agent, ~/.ssh/config,
 * GIT_SSH_COMMAND), with the job's key (`sshKeyEnv`) and known_hosts added,
 * and BatchMode so that nothing ever waits for a password or a host-key prompt.
 *
 * Tags name versions through a pattern (`v{version}`, `billing/v{version}`); a
 * tag that matches but is no version for the format is listed and skipped with
 * the reason. Every version records its tag, commit and commit time.
 */
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import semver from 'semver';
import { simpleGit, type SimpleGit } from 'simple-git';
import { checkPathMajor, isCanonicalVersion, isPseudoVersion, modulePathFromGoMod, semverMajor, splitPathVersion } from '../builders/go-rules.js';
import { normalizePep440 } from '../builders/python.js';
import type { GitSourceConfig } from '../config/schema.js';
import { MigrateError, toError } from '../errors.js';
import { printable, registerSecret } from '../redact.js';
import type { PackageListing, VersionListing } from '../types.js';
import type { Checkout, NameResult, Source } from './source.js';

/** One tag that names a version, with what the listing needs about it. */
interface TaggedVersion {
  tag: string;
  commit: string;
  /** The version as the format spells it (PEP 440 normal form, semver, Go `v1.2.3`). */
  version: string;
  committedAt?: string;
  /** The package this tag builds (a Go repository can hold `m` and `m/v2`). */
  name: string;
  skip?: string;
  problem?: string;
}

const SHELL_SAFE = /^[A-Za-z0-9_./:@=+-]+$/;
const quote = (s: string) => (SHELL_SAFE.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export class GitSource implements Source {
  readonly id: string;
  readonly url: string;
  readonly kind = 'git' as const;
  readonly format: GitSourceConfig['format'];
  readonly buildFormat: GitSourceConfig['format'];
  private readonly mirror: string;
  private readonly tmpDir: string;
  private readonly env: Record<string, string>;
  private keyFile?: string;
  private versions?: TaggedVersion[];

  constructor(
    private readonly config: GitSourceConfig,
    env: NodeJS.ProcessEnv,
    stateDir: string,
  ) {
    this.id = config.id;
    this.url = config.url;
    this.format = config.format;
    this.buildFormat = config.format;
    this.mirror = join(stateDir, 'git', `${config.id}.git`);
    this.tmpDir = join(stateDir, 'tmp');
    this.env = this.gitEnv(env, stateDir);
  }

  /** The environment git runs in: ours, plus the key, known_hosts and no prompts, ever. */
  private gitEnv(env: NodeJS.ProcessEnv, stateDir: string): Record<string, string> {
    // git sees what it needs and nothing else: where things are, the ssh agent, proxies, the
    // locale. (A stray GIT_DIR or GIT_CONFIG_* in the caller's environment would redirect it.)
    const out: Record<string, string> = {};
    const keep = /^(PATH|HOME|USER|LOGNAME|LANG|LC_[A-Z]+|TMPDIR|SSH_AUTH_SOCK|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|GIT_SSL_CAINFO|GIT_SSL_NO_VERIFY)$/;
    for (const [k, v] of Object.entries(env)) if (v !== undefined && keep.test(k)) out[k] = v;
    const ssh = [env.GIT_SSH_COMMAND ?? env.GIT_SSH ?? 'ssh', '-o', 'BatchMode=yes'];
    if (this.config.sshKeyEnv) {
      const value = env[this.config.sshKeyEnv];
      if (!value) {
        throw new MigrateError('ESOURCEAUTH', `source "${this.id}": environment variable ${this.config.sshKeyEnv} is not set`, {
          hint: `export ${this.config.sshKeyEnv}=<the path of an ssh private key, or the key itself> and rerun`,
        });
      }
      registerSecret(value);
      let keyPath = value;
      if (value.includes('-----BEGIN')) {
        // the key itself (a CI secret): written for ssh only, readable by us only, removed by close()
        mkdirSync(join(stateDir, 'tmp'), { recursive: true });
        keyPath = join(stateDir, 'tmp', `ssh-key-${this.id}-${process.pid}`);
        writeFileSync(keyPath, value.endsWith('\n') ? value : `${value}\n`, { mode: 0o600 });
        chmodSync(keyPath, 0o600);
        this.keyFile = keyPath;
      } else if (!existsSync(value)) {
        throw new MigrateError('ESOURCEAUTH', `source "${this.id}": ${this.config.sshKeyEnv} names a key file that does not exist`, {
          hint: `set ${this.config.sshKeyEnv} to the path of the ssh private key (or to the key itself)`,
        });
      }
      ssh.push('-i', keyPath, '-o', 'IdentitiesOnly=yes');
    }
    if (this.config.knownHostsFile) ssh.push('-o', `UserKnownHostsFile=${this.config.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes');
    out.GIT_SSH_COMMAND = ssh.map((a, i) => (i === 0 ? a : quote(a))).join(' ');
    out.GIT_TERMINAL_PROMPT = '0';
    out.GIT_ASKPASS = 'false';
    out.SSH_ASKPASS = 'false';
    return out;
  }

  private git(baseDir: string, signal?: AbortSignal): SimpleGit {
    // GIT_SSH_COMMAND and the askpass variables are ours, on purpose: simple-git refuses them unless told
    return simpleGit({
      baseDir,
      maxConcurrentProcesses: 4,
      timeout: { block: 10 * 60_000 },
      unsafe: { allowUnsafeSshCommand: true, allowUnsafeAskPass: true },
      allowEnvironment: ['GIT_SSH_COMMAND', 'GIT_ASKPASS', 'SSH_ASKPASS', 'GIT_TERMINAL_PROMPT', 'GIT_SSL_CAINFO', 'GIT_SSL_NO_VERIFY'],
      ...(signal ? { abort: signal } : {}),
    }).env(this.env);
  }

  /** Clone the mirror once, fetch it on every run; then read every tag. The engine retries this. */
  async prepare(signal?: AbortSignal): Promise<void> {
    try {
      if (!existsSync(join(this.mirror, 'HEAD'))) {
        mkdirSync(join(this.mirror, '..'), { recursive: true });
        const partial = `${this.mirror}.partial-${process.pid}`;
        rmSync(partial, { recursive: true, force: true });
        await this.git(join(this.mirror, '..'), signal).clone(this.url, partial, ['--mirror', '--quiet']);
        renameSync(partial, this.mirror);
      } else {
        await this.git(this.mirror, signal).raw(['fetch', '--prune', '--quiet', 'origin']);
      }
    } catch (e) {
      throw this.classify(e, 'fetch');
    }
    this.versions = await this.readTags(signal);
  }

  async *packageNames(): AsyncIterable<NameResult> {
    if (!this.versions) throw new MigrateError('ESOURCE', `source "${this.id}": not fetched yet`);
    for (const name of new Set(this.versions.map((v) => v.name))) yield { ok: true, name };
  }

  async listing(name: string): Promise<PackageListing> {
    const versions: VersionListing[] = (this.versions ?? [])
      .filter((v) => v.name === name)
      .map((v) => {
        const override = this.config.versions[v.version] ?? this.config.versions[v.tag];
        const skip = v.skip ?? (override?.skip ? (override.skip === true ? 'the job says to skip it' : override.skip) : undefined);
        return {
          version: v.version,
          artifactUrl: `${this.url}#${v.tag}`,
          publishedAt: v.committedAt,
          ref: v.tag,
          commit: v.commit,
          ...(override?.commit ? { acceptedCommit: override.commit } : {}),
          ...(skip ? { skip } : {}),
          ...(v.problem ? { problem: v.problem } : {}),
        };
      });
    versions.sort((a, b) => (a.publishedAt ?? '').localeCompare(b.publishedAt ?? '') || a.version.localeCompare(b.version));
    return { format: this.format === 'go' ? 'generic' : this.format, name, versions, distTags: this.distTags(versions) };
  }

  /** npm from git has no dist-tags: `latest` is the highest release, as a registry would have it after publishing them in order. */
  private distTags(versions: VersionListing[]): Record<string, string> {
    if (this.format !== 'npm') return {};
    const releases = versions.filter((v) => !v.skip && !v.problem && semver.valid(v.version) && !semver.prerelease(v.version)).map((v) => v.version);
    const latest = releases.sort(semver.rcompare)[0];
    return latest ? { latest } : {};
  }

  open(): Promise<Readable> {
    return Promise.reject(new MigrateError('ESOURCE', `source "${this.id}" builds versions from git; it has nothing to download`));
  }

  /**
   * A clean checkout of `commit` in a new folder: a clone sharing the mirror's
   * objects, so a build cannot touch the mirror and several can run at once.
   */
  async checkout(version: string, commit: string, signal?: AbortSignal): Promise<Checkout> {
    mkdirSync(this.tmpDir, { recursive: true });
    const dir = join(this.tmpDir, `checkout-${this.id}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      await this.git(this.tmpDir, signal).clone(this.mirror, dir, ['--shared', '--no-checkout', '--quiet']);
      await this.git(dir, signal).raw(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit]);
      const seconds = (await this.git(dir, signal).raw(['show', '-s', '--format=%ct', commit])).trim();
      const override = this.config.versions[version];
      return {
        dir,
        subdir: this.config.directory,
        commit,
        committedAt: new Date(Number(seconds) * 1000),
        build: {
          command: override?.command ?? this.config.build.command,
          python: this.config.build.python,
          timeoutMs: this.config.build.timeoutSeconds * 1000,
        },
        cleanup,
      };
    } catch (e) {
      cleanup();
      throw this.classify(e, 'checkout', `${version} (${commit.slice(0, 12)})`);
    }
  }

  close(): void {
    if (this.keyFile) rmSync(this.keyFile, { force: true });
  }

  /** Every tag the pattern matches, with its commit, its time and the package it builds. */
  private async readTags(signal?: AbortSignal): Promise<TaggedVersion[]> {
    const git = this.git(this.mirror, signal);
    // show-ref --dereference: "<sha> refs/tags/x" and, for an annotated tag, "<commit> refs/tags/x^{}" (fully peeled)
    let refs = '';
    try {
      refs = await git.raw(['show-ref', '--tags', '--dereference']);
    } catch (e) {
      // no tags at all: show-ref exits 1 with no output
      if (!/exited with code 1|exit code 1/.test(toError(e).message) && toError(e).message.trim() !== '') throw this.classify(e, 'list tags');
    }
    const target = new Map<string, string>();
    for (const line of refs.split('\n')) {
      const m = /^([0-9a-f]{40,64}) refs\/tags\/(.+?)(\^\{\})?$/.exec(line.trim());
      if (!m) continue;
      if (m[3] || !target.has(m[2]!)) target.set(m[2]!, m[1]!);
    }
    const pattern = this.pattern();
    const found: TaggedVersion[] = [];
    for (const [tag, commit] of target) {
      const m = pattern.exec(tag);
      if (!m) continue;
      found.push(await this.describe(git, tag, commit, m[1]!));
    }
    // commit times, a few hundred commits per git call
    const commits = [...new Set(found.map((f) => f.commit))];
    const times = new Map<string, string>();
    for (let i = 0; i < commits.length; i += 200) {
      const out = await git.raw(['show', '-s', '--format=%H %ct', ...commits.slice(i, i + 200)]).catch(() => '');
      for (const line of out.split('\n')) {
        const [sha, ct] = line.trim().split(' ');
        if (sha && ct) times.set(sha, new Date(Number(ct) * 1000).toISOString());
      }
    }
    for (const f of found) f.committedAt = times.get(f.commit);
    return found;
  }

  /** `v{version}` as a regular expression capturing the version; Go in a subdirectory defaults to `<dir>/v{version}`. */
  private pattern(): RegExp {
    const dir = this.config.directory;
    const spec = this.config.tags ?? (this.format === 'go' && dir ? `${dir}/v{version}` : 'v{version}');
    const [before, after] = spec.split('{version}') as [string, string];
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`^${esc(before)}(.+)${esc(after)}$`);
  }

  /** What a matching tag is: its version in the format's spelling and the package it builds, or why it is skipped. */
  private async describe(git: SimpleGit, tag: string, commit: string, captured: string): Promise<TaggedVersion> {
    const shown = printable(captured).slice(0, 100);
    const base = { tag, commit, version: shown, name: this.config.package ?? this.id };
    if (!/^[0-9a-f]{40,64}$/.test(commit)) return { ...base, skip: `tag ${printable(tag)} does not point at a commit` };
    switch (this.format) {
      case 'pypi': {
        const v = normalizePep440(captured);
        return v ? { ...base, version: v } : { ...base, skip: `"${shown}" (tag ${printable(tag)}) is not a PEP 440 version` };
      }
      case 'npm': {
        const v = semver.valid(captured);
        if (!v) return { ...base, skip: `"${shown}" (tag ${printable(tag)}) is not a semver version` };
        const name = this.config.package ?? (await this.fileAt(git, commit, 'package.json').then((b) => (b ? npmName(b) : undefined)));
        if (!name) return { ...base, version: v, problem: `tag ${tag}: no package.json with a name in ${this.config.directory || 'the repository root'}; set package on the source` };
        return { ...base, version: v, name };
      }
      case 'go': {
        const v = captured.startsWith('v') ? captured : `v${captured}`;
        if (!isCanonicalVersion(v) || isPseudoVersion(v)) return { ...base, skip: `"${shown}" (tag ${printable(tag)}) is not a canonical Go version (vMAJOR.MINOR.PATCH[-pre])` };
        const mod = await this.fileAt(git, commit, 'go.mod');
        const path = mod ? modulePathFromGoMod(mod) : this.config.package;
        // a go.mod naming another module than the job's (or the job's with its /vN) is not this module
        if (mod && path && this.config.package && path !== this.config.package && splitPathVersion(path).prefix !== this.config.package) {
          return { ...base, version: v, problem: `tag ${tag}: go.mod declares module ${path}, the job says ${this.config.package}` };
        }
        if (!path) return { ...base, version: v, problem: `tag ${tag} has no go.mod in ${this.config.directory || 'the repository root'}: set package (the module path) on the source` };
        // v2+ without a /vN path: +incompatible when there is no go.mod (what go would call it), else Go ignores the tag
        const { pathMajor } = splitPathVersion(path);
        if (checkPathMajor(v, pathMajor)) {
          if (!mod && pathMajor === '' && !checkPathMajor(`${v}+incompatible`, '')) return { ...base, version: `${v}+incompatible`, name: path };
          return { ...base, version: v, name: path, skip: `tag ${tag} is ${semverMajor(v)}, but its module path ${path} ${pathMajor ? `ends in ${pathMajor}` : 'has no /' + semverMajor(v) + ' suffix'}: Go ignores it` };
        }
        return { ...base, version: v, name: path };
      }
      default: {
        const never: never = this.format;
        throw new Error(`unknown format ${String(never)}`);
      }
    }
  }

  /** A file of the package's directory at a commit, or undefined when there is none. */
  private async fileAt(git: SimpleGit, commit: string, file: string): Promise<Buffer | undefined> {
    const path = this.config.directory ? `${this.config.directory}/${file}` : file;
    try {
      return Buffer.from(await git.raw(['show', `${commit}:${path}`]), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** git's complaints as coded errors; the message keeps the tail of what git said (redacted on the way out). */
  private classify(thrown: unknown, what: string, subject = this.id): MigrateError {
    if (thrown instanceof MigrateError) return thrown;
    const e = toError(thrown);
    const all = e.message;
    // git's own boilerplate says nothing the lines before it did not
    const said =
      all
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !/^(fatal: Could not read from remote repository\.|Please make sure you have the correct access rights|and the repository exists\.)$/.test(l))
        .slice(-4)
        .join(' | ')
        .slice(0, 600) || all.trim().slice(0, 600);
    const where = `${subject}: git ${what} from ${this.url}`;
    if (/abort/i.test(e.name) || /aborted/i.test(all)) return new MigrateError('EINTERRUPTED', `${where} cut off by the stop`, { subject, cause: e });
    if (/Host key verification failed|HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(all)) {
      return new MigrateError('ESOURCEAUTH', `${where}: the server's host key is unknown or changed: ${said}`, {
        subject,
        cause: e,
        hint: 'add the host to known_hosts (ssh-keyscan, checked out of band), or name a known_hosts file with knownHostsFile',
      });
    }
    if (/Permission denied|Authentication failed|could not read Username|publickey/i.test(all)) {
      return new MigrateError('ESOURCEAUTH', `${where} was refused: ${said}`, {
        subject,
        cause: e,
        hint: this.config.sshKeyEnv ? `check that the key in ${this.config.sshKeyEnv} is authorised for this repository (a deploy key)` : 'give the source an ssh key with sshKeyEnv, or load one into ssh-agent',
      });
    }
    if (/does not appear to be a git repository|repository .* not found|Repository not found|No such file or directory|not a git repository/i.test(all)) {
      return new MigrateError('ESOURCENOTFOUND', `${where}: no such repository: ${said}`, { subject, cause: e, hint: 'check the url of the source in the job file' });
    }
    if (/reference is not a tree|unknown revision|bad object|not our ref/i.test(all)) {
      return new MigrateError('EBADSOURCE', `${where}: the commit is gone: ${said}`, { subject, cause: e, hint: 'the tag was moved or the history rewritten; see the tag in the repository' });
    }
    return new MigrateError('ESOURCE', `${where} failed: ${said}`, { subject, cause: e });
  }
}

function npmName(packageJson: Buffer): string | undefined {
  try {
    const doc = JSON.parse(packageJson.toString('utf8')) as { name?: unknown };
    return typeof doc.name === 'string' && doc.name.length > 0 && doc.name.length <= 214 ? doc.name : undefined;
  } catch {
    return undefined;
  }
}
