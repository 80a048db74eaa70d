/**
 * Git repositories searched for lockfiles (`warm.repositories`): a bare mirror
 * per repository under `<state>/git/warm-<hash>.git`, cloned once and fetched
 * on every warm, then a clean checkout of each branch (the default branch when
 * the job names none) in a temporary folder that is searched like a local one.
 *
 * ssh is reached the way sources/git.ts reaches it: git sees a curated
 * environment (no stray GIT_DIR or GIT_CONFIG_*), `GIT_SSH_COMMAND` carries the
 * job's key (`sshKeyEnv`: the key itself or its path) and known_hosts, and
 * BatchMode, so nothing ever waits for a password or a host-key prompt.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { JobConfig } from '../config/schema.js';
import { MigrateError, toError } from '../errors.js';
import { registerSecret } from '../redact.js';

export type WarmRepository = JobConfig['warm']['repositories'][number];

const SHELL_SAFE = /^[A-Za-z0-9_./:@=+-]+$/;
const quote = (s: string) => (SHELL_SAFE.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** One branch of a repository, checked out: `dir` is searched for lockfiles, then `cleanup()`. */
export interface BranchCheckout {
  /** `<url>#<branch>`: how the summary names where a lockfile came from. */
  label: string;
  branch: string;
  commit: string;
  dir: string;
  cleanup(): void;
}

export class LockfileRepository {
  private readonly mirror: string;
  private readonly tmpDir: string;
  private readonly env: Record<string, string>;
  private keyFile?: string;

  constructor(
    private readonly repo: WarmRepository,
    env: NodeJS.ProcessEnv,
    stateDir: string,
  ) {
    const id = createHash('sha256').update(repo.url).digest('hex').slice(0, 16);
    this.mirror = join(stateDir, 'git', `warm-${id}.git`);
    this.tmpDir = join(stateDir, 'tmp');
    this.env = this.gitEnv(env, id);
  }

  get url(): string {
    return this.repo.url;
  }

  /** What git runs with: where things are, the agent, proxies, the locale; the key and known_hosts; never a prompt. */
  private gitEnv(env: NodeJS.ProcessEnv, id: string): Record<string, string> {
    const out: Record<string, string> = {};
    const keep = /^(PATH|HOME|USER|LOGNAME|LANG|LC_[A-Z]+|TMPDIR|SSH_AUTH_SOCK|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|GIT_SSL_CAINFO|GIT_SSL_NO_VERIFY)$/;
    for (const [k, v] of Object.entries(env)) if (v !== undefined && keep.test(k)) out[k] = v;
    const ssh = [env.GIT_SSH_COMMAND ?? env.GIT_SSH ?? 'ssh', '-o', 'BatchMode=yes'];
    if (this.repo.sshKeyEnv) {
      const value = env[this.repo.sshKeyEnv];
      if (!value) {
        throw new MigrateError('ESOURCEAUTH', `warm repository ${this.repo.url}: environment variable ${this.repo.sshKeyEnv} is not set`, {
          hint: `export ${this.repo.sshKeyEnv}=<the path of an ssh private key, or the key itself> and rerun`,
        });
      }
      registerSecret(value);
      let keyPath = value;
      if (value.includes('-----BEGIN')) {
        // the key itself (a CI secret): written for ssh only, readable by us only, removed by close()
        mkdirSync(this.tmpDir, { recursive: true });
        keyPath = join(this.tmpDir, `ssh-key-warm-${id}-${process.pid}`);
        writeFileSync(keyPath, value.endsWith('\n') ? value : `${value}\n`, { mode: 0o600 });
        chmodSync(keyPath, 0o600);
        this.keyFile = keyPath;
      } else if (!existsSync(value)) {
        throw new MigrateError('ESOURCEAUTH', `warm repository ${this.repo.url}: ${this.repo.sshKeyEnv} names a key file that does not exist`, {
          hint: `set ${this.repo.sshKeyEnv} to the path of the ssh private key (or to the key itself)`,
        });
      }
      ssh.push('-i', keyPath, '-o', 'IdentitiesOnly=yes');
    }
    if (this.repo.knownHostsFile) ssh.push('-o', `UserKnownHostsFile=${this.repo.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes');
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

  /** Clone the mirror once, fetch it on every warm. */
  async fetch(signal?: AbortSignal): Promise<void> {
    try {
      if (!existsSync(join(this.mirror, 'HEAD'))) {
        mkdirSync(join(this.mirror, '..'), { recursive: true });
        const partial = `${this.mirror}.partial-${process.pid}`;
        rmSync(partial, { recursive: true, force: true });
        await this.git(join(this.mirror, '..'), signal).clone(this.repo.url, partial, ['--mirror', '--quiet']);
        renameSync(partial, this.mirror);
      } else {
        await this.git(this.mirror, signal).raw(['fetch', '--prune', '--quiet', 'origin']);
      }
    } catch (e) {
      throw this.classify(e, 'fetch');
    }
  }

  /** The branches to read: the job's, or the one the remote's HEAD names. */
  async branches(signal?: AbortSignal): Promise<string[]> {
    if (this.repo.branches.length) return this.repo.branches;
    try {
      const head = (await this.git(this.mirror, signal).raw(['symbolic-ref', '--short', 'HEAD'])).trim();
      return [head.replace(/^refs\/heads\//, '')];
    } catch (e) {
      throw this.classify(e, 'read the default branch of');
    }
  }

  /** A clean checkout of a branch's tip (a clone sharing the mirror's objects). */
  async checkout(branch: string, signal?: AbortSignal): Promise<BranchCheckout> {
    const label = `${this.repo.url}#${branch}`;
    let commit: string;
    try {
      commit = (await this.git(this.mirror, signal).raw(['rev-parse', '--verify', '--end-of-options', `refs/heads/${branch}^{commit}`])).trim();
    } catch (e) {
      throw new MigrateError('ESOURCENOTFOUND', `${label}: no such branch`, { subject: label, cause: e, hint: 'check warm.repositories[].branches in the job file' });
    }
    mkdirSync(this.tmpDir, { recursive: true });
    const dir = join(this.tmpDir, `warm-checkout-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      await this.git(this.tmpDir, signal).clone(this.mirror, dir, ['--shared', '--no-checkout', '--quiet']);
      await this.git(dir, signal).raw(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit]);
    } catch (e) {
      cleanup();
      throw this.classify(e, 'check out', label);
    }
    return { label, branch, commit, dir, cleanup };
  }

  close(): void {
    if (this.keyFile) rmSync(this.keyFile, { force: true });
  }

  /** git's complaints as coded errors, with the tail of what git said. */
  private classify(thrown: unknown, what: string, subject = this.repo.url): MigrateError {
    if (thrown instanceof MigrateError) return thrown;
    const e = toError(thrown);
    const said = e.message
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^(fatal: Could not read from remote repository\.|Please make sure you have the correct access rights|and the repository exists\.)$/.test(l))
      .slice(-4)
      .join(' | ')
      .slice(0, 600);
    const where = `git ${what} ${subject}`;
    if (/abort/i.test(e.name) || /aborted/i.test(e.message)) return new MigrateError('EINTERRUPTED', `${where}: cut off by the stop`, { subject, cause: e });
    if (/Host key verification failed|HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(e.message)) {
      return new MigrateError('ESOURCEAUTH', `${where}: the server's host key is unknown or changed: ${said}`, { subject, cause: e, hint: 'add the host to known_hosts (checked out of band), or name a known_hosts file with knownHostsFile' });
    }
    if (/Permission denied|Authentication failed|could not read Username|publickey/i.test(e.message)) {
      return new MigrateError('ESOURCEAUTH', `${where} was refused: ${said}`, { subject, cause: e, hint: this.repo.sshKeyEnv ? `check that the key in ${this.repo.sshKeyEnv} may read this repository` : 'give the repository an ssh key with sshKeyEnv, or load one into ssh-agent' });
    }
    if (/does not appear to be a git repository|repository .* not found|Repository not found|not a git repository/i.test(e.message)) {
      return new MigrateError('ESOURCENOTFOUND', `${where}: no such repository: ${said}`, { subject, cause: e, hint: 'check warm.repositories[].url in the job file' });
    }
    return new MigrateError('ESOURCE', `${where} failed: ${said}`, { subject, cause: e });
  }
}
