/**
 * How git is run against a remote, wherever the tool reads one (git sources,
 * the repositories `warm` searches for lockfiles): a curated environment (no
 * stray GIT_DIR or GIT_CONFIG_*, none of the operator's global or system git config but an
 * https URL's credential helper, no GIT_SSL_NO_VERIFY), `GIT_SSH_COMMAND` with the job's key
 * (`sshKeyEnv`: the key itself or its path) and known_hosts, BatchMode and no
 * askpass, so nothing ever waits for a password or a host-key prompt, and
 * StrictHostKeyChecking=yes whatever the ssh config says (a host key changed or
 * unknown is refused, never accepted; a GIT_SSH_COMMAND whose own option says otherwise,
 * which would win over ours, is refused before ssh runs); and
 * git's complaints turned into coded errors.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { AtomicFile } from '../atomic-file.js';
import { hideFromBuilds } from '../builders/process.js';
import { DEFAULT_MAX_CHECKOUT_BYTES, DEFAULT_MAX_MIRROR_BYTES } from '../config/schema.js';
import { registerSshKey } from '../config/secrets.js';
import { DISK_FULL, diskFullError, fileSystemError, MigrateError, toError } from '../errors.js';
import { makeFolder } from '../make-folder.js';
import { AS_GO_READS, WITHOUT_OPERATOR_CONFIG } from '../git-local.js';
import { keepTail, printable, redact, redactUrlCredentials, registerSecret } from '../redact.js';
import { shellWord } from '../shell-word.js';
import { GRACE_IDLE_PERIODS, OrphanTransferStuck, runTransfer, SLOWEST_TRANSFER_BYTES_PER_S, stopOrphanTransfer, TransferCut } from './git-transfer.js';

/** A file takes at least one block on disk (and an inode): how a checkout's size is counted. */
const BLOCK_BYTES = 4096;

/** How long a clone or fetch may receive nothing when the source sets no idleTimeoutSeconds. */
const DEFAULT_IDLE_MS = 10 * 60_000;

/** Key files on disk right now: removed at exit too (a second Ctrl-C, the stop's backstop, a crash). */
const liveKeyFiles = new Set<string>();
process.on('exit', () => {
  for (const f of liveKeyFiles) rmSync(f, { force: true });
});

/**
 * No hook of a mirror or checkout ever runs: builds cannot write there where they are
 * contained (builders/process), but where they are not, a hook a tag's setup.py left in a
 * mirror would run on the next fetch, outside any containment, with the tool's environment.
 */
const NO_HOOKS = ['core.hooksPath=/dev/null'];

/**
 * The transports the git that talks to a remote may use: those a job's URL may name (https, ssh,
 * which git+ssh:// and user@host:path are, file; config/schema.ts gitUrl), none other. git follows
 * a redirect of its first https request (http.followRedirects=initial, its default) and then
 * fetches everything from where it was sent, and curl follows one from https to plain http: a
 * misconfigured or compromised https front would have the pack come over http, where anyone on
 * the way can change it, while the ledger recorded the https URL. git hands curl only the
 * protocols this allows, for the request and for its redirects (CURLOPT_PROTOCOLS,
 * CURLOPT_REDIR_PROTOCOLS: https://git-scm.com/docs/git-config#Documentation/git-config.txt-protocolallow),
 * so such a redirect fails ("Protocol "http" not supported or disabled in libcurl": classify()
 * makes it ESOURCEURL); one to another https URL (a moved repository) is still followed.
 */
const ONLY_OUR_TRANSPORTS = ['protocol.allow=never', 'protocol.https.allow=always', 'protocol.ssh.allow=always', 'protocol.file.allow=always'];

/**
 * What git may see of the caller's environment: where things are, the ssh agent, proxies, the
 * locale, a private CA for https. Never GIT_SSL_NO_VERIFY (an https server taken unchecked: refused
 * for an https URL, meaningless for any other), nor GIT_CONFIG_* (config the tool did not choose).
 */
const KEEP = /^(PATH|HOME|USER|LOGNAME|LANG|LC_[A-Z]+|TMPDIR|SSH_AUTH_SOCK|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|GIT_SSL_CAINFO)$/;


export interface GitAccessOptions {
  /** How errors name the thing being read: `source "billing"`, `warm repository <url>`. */
  owner: string;
  sshKeyEnv?: string;
  knownHostsFile?: string;
  /**
   * Where a key given as text is written for ssh (mode 0600), removed by close(): in the state's
   * sealed folder (builders/process `sealedFolder`), which every build of every job using this
   * state directory has covered, even one that started before the key was written (ssh itself
   * is not contained: it reads it). Its folder is made (0700) if need be.
   */
  keyFilePath: string;
  /** A clone or fetch that receives nothing this long, or takes six times this plus 1 s per 64 KiB received, is cut off (ESOURCESILENT); default 10 minutes. */
  idleTimeoutMs?: number;
  /** Where the job file sets idleTimeoutMs, as hints name it: `idleTimeoutSeconds of source "billing"`, `warm.repositories[0].idleTimeoutSeconds (…)`. */
  idleTimeoutSetting?: string;
  /** The remote's URL as the job gives it: checked against what would let git take an https server unchecked. */
  url?: string;
  /** What hints say went on without this remote when it failed: `the other sources went on` (the default), `the other repositories and lockfiles were still read`. */
  othersWentOn?: string;
  /** The most the mirror may hold (limits.maxMirrorBytes): a clone or fetch past it is cut off (ETOOLARGE). */
  maxMirrorBytes?: number;
  /** The most a checkout may write (limits.maxCheckoutBytes), a file counted as at least one block: a tree over it is refused (ETOOLARGE). */
  maxCheckoutBytes?: number;
}

/** The environment git runs in for one remote, and the key file it may have written. */
export class GitAccess {
  readonly env: Record<string, string>;
  private keyFile?: string;
  private keyText?: string;

  constructor(
    env: NodeJS.ProcessEnv,
    private readonly opts: GitAccessOptions,
  ) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined && KEEP.test(k)) out[k] = v;
    // ssh takes an option's first value: one GIT_SSH_COMMAND gives comes before ours and wins, so a
    // host key check it turns off (common on CI machines) cannot be turned back on here. Refused, never
    // run: that ssh would talk on to an impostor and the run publish what it serves
    const lax = env.GIT_SSH_COMMAND === undefined ? undefined : laxHostKeyChecking(env.GIT_SSH_COMMAND);
    if (lax !== undefined) {
      throw new MigrateError('ESOURCEAUTH', `${opts.owner}: environment variable GIT_SSH_COMMAND says ${JSON.stringify(printable(lax))}, which would let ssh take a git host key it does not know or that changed (a man in the middle), and an ssh option given there wins over the tool's StrictHostKeyChecking=yes`, {
        hint: `take the StrictHostKeyChecking option out of GIT_SSH_COMMAND (or unset it) for this tool, and put the git host's key, checked out of band, in ~/.ssh/known_hosts or in the file knownHostsFile names`,
      });
    }
    // git reads GIT_SSL_NO_VERIFY set to anything (even empty) as "take any certificate": a man in
    // the middle's pack published as the company's. Refused for an https URL, where it would apply
    if (opts.url !== undefined && /^https:/i.test(opts.url) && env.GIT_SSL_NO_VERIFY !== undefined) {
      throw new MigrateError('ESOURCEAUTH', `${opts.owner}: environment variable GIT_SSL_NO_VERIFY is set, which would let git take any https server for ${redactUrlCredentials(opts.url)} without checking its certificate (a man in the middle)`, {
        hint: 'unset GIT_SSL_NO_VERIFY for this tool; for a server whose certificate a private CA signed, name that CA\'s certificate file in GIT_SSL_CAINFO',
      });
    }
    // a peer that stops answering is noticed within a minute, not at simple-git's 10-minute watchdog.
    // GIT_SSH names a program (git runs it as one, spaces and all), GIT_SSH_COMMAND a shell command
    const ssh = [env.GIT_SSH_COMMAND ?? (env.GIT_SSH !== undefined ? shellWord(env.GIT_SSH) : 'ssh'), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4'];
    if (opts.sshKeyEnv) {
      const value = env[opts.sshKeyEnv];
      if (!value) {
        throw new MigrateError('ESOURCEAUTH', `${opts.owner}: environment variable ${opts.sshKeyEnv} is not set`, {
          hint: `export ${opts.sshKeyEnv}=<the path of an ssh private key, or the key itself> and rerun`,
        });
      }
      // the key's text too, when the value is its path
      registerSshKey(value);
      let keyPath = value;
      if (value.includes('-----BEGIN')) {
        // the key itself (a CI secret): written for ssh only when git talks to the remote,
        // readable by us only, removed by close() and, whatever happens, when the process exits
        keyPath = opts.keyFilePath;
        // as ssh reads a key: lines ending in \n. A key pasted on Windows (CRLF), or kept in a CI variable
        // of one line with `\n` for its line breaks, is the same key, which ssh cannot load as given
        // ("error in libcrypto", then refused as if the server did not know it)
        let text = value.replace(/\r\n?/g, '\n');
        if (!text.trimEnd().includes('\n') && text.includes('\\n')) text = text.replace(/\\n/g, '\n');
        if (text !== value) registerSshKey(text);
        this.keyText = text.endsWith('\n') ? text : `${text}\n`;
        this.keyFile = keyPath;
      } else if (!existsSync(value)) {
        throw new MigrateError('ESOURCEAUTH', `${opts.owner}: environment variable ${opts.sshKeyEnv} names a key file that does not exist`, {
          hint: `set ${opts.sshKeyEnv} to the path of the ssh private key (or to the key itself)`,
        });
      } else {
        // a relative path is from where the tool runs, as it was checked just now: ssh runs in the
        // mirror's folder, where it names nothing (and ssh says only "not accessible", then "refused")
        keyPath = resolvePath(value);
        registerSecret(keyPath);
      }
      // a tag's build never reads it (builders/process covers it)
      hideFromBuilds(keyPath);
      ssh.push('-o', `IdentityFile=${sshPathValue(keyPath)}`, '-o', 'IdentitiesOnly=yes');
    }
    if (opts.knownHostsFile) ssh.push('-o', `UserKnownHostsFile=${sshPathValue(opts.knownHostsFile)}`);
    // a host key known beforehand, or nothing: an operator's ~/.ssh/config saying `StrictHostKeyChecking
    // no` (common on CI machines) would let ssh talk on to a host whose key changed, and publish what
    // an impostor serves; `accept-new` would take the first key it sees. A command-line -o wins over any config file
    ssh.push('-o', 'StrictHostKeyChecking=yes');
    out.GIT_SSH_COMMAND = ssh.map((a, i) => (i === 0 ? a : shellWord(a))).join(' ');
    // The git that talks to a remote reads none of the operator's global or system git config, as
    // local git does (WITHOUT_OPERATOR_CONFIG): the ledger names the job's URL for every version, and
    // that config can send a fetch elsewhere (`url.<fork>.insteadOf = <the job's URL>`; a `[remote
    // "origin"]` whose url and fetch lines `git clone` takes before its own) or take an https server
    // unchecked (`http.sslVerify false`, `http.<url>.sslVerify`). Only an https URL's credential
    // helper is carried over (remoteEnv). ssh's own config (~/.ssh/config) and agent are ssh's, untouched.
    Object.assign(out, WITHOUT_OPERATOR_CONFIG);
    out.GIT_TERMINAL_PROMPT = '0';
    out.GIT_ASKPASS = 'false';
    out.SSH_ASKPASS = 'false';
    this.env = out;
  }

  /** The environment of the git that clones or fetches `url`: this one, and for https the operator's credential helper for it. */
  remoteEnv(url: string): Record<string, string> {
    return { ...this.env, ...credentialHelperEnv(url, this.env) };
  }

  /** The key given as text, on disk for ssh while git talks to the remote. */
  private writeKey(): void {
    if (this.keyFile && this.keyText && !existsSync(this.keyFile)) {
      makeFolder(dirname(this.keyFile), 0o700);
      writeFileSync(this.keyFile, this.keyText, { mode: 0o600 });
      chmodSync(this.keyFile, 0o600);
      liveKeyFiles.add(this.keyFile);
    }
  }

  /** git on local repositories only (the mirror, a checkout), without the operator's git config (src/git-local.ts). */
  localGit(baseDir: string, signal?: AbortSignal): SimpleGit {
    return simpleGit({
      baseDir,
      maxConcurrentProcesses: 4,
      timeout: { block: 10 * 60_000 },
      config: NO_HOOKS,
      // GIT_CONFIG_GLOBAL names /dev/null: the one config path we set, on purpose
      unsafe: { allowUnsafeConfigPaths: true, allowUnsafeHooksPath: true },
      allowEnvironment: [...Object.keys(WITHOUT_OPERATOR_CONFIG), 'GIT_TERMINAL_PROMPT'],
      errors: killedIsFailed,
      ...(signal ? { abort: signal } : {}),
    }).env(this.localEnv);
  }

  private get localEnv(): Record<string, string> {
    return { ...pick(this.env, ['PATH', 'HOME', 'LANG', 'TMPDIR']), ...WITHOUT_OPERATOR_CONFIG, GIT_TERMINAL_PROMPT: '0' };
  }

  /**
   * `git <args>` on a local repository with `lines` on its stdin, one a line (cat-file --batch-check,
   * log --stdin): what it wrote on stdout. Rejects with what git said when it fails.
   */
  async localWithInput(repo: string, args: readonly string[], lines: readonly string[], signal?: AbortSignal): Promise<string> {
    if (lines.some((x) => /[\r\n]/.test(x))) throw new MigrateError('ECONFIG', `${this.opts.owner}: a line break cannot be handed to git`);
    const child = spawn('git', [...NO_HOOKS.flatMap((c) => ['-c', c]), ...args], { cwd: repo, env: this.localEnv, stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    const out: Buffer[] = [];
    let stderr = '';
    return new Promise((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => (stderr = keepTail(stderr + c.toString('utf8'), 2000)));
      child.on('error', reject);
      child.on('close', (code, sig) => (code === 0 ? resolve(Buffer.concat(out).toString('utf8')) : reject(new Error(`git ${args[0]} exited with ${code ?? sig}: ${stderr}`))));
      child.stdin.on('error', () => undefined);
      child.stdin.end(lines.length ? `${lines.join('\n')}\n` : '');
    });
  }

  /**
   * Many files of a local repository in one git process (`git cat-file --batch`), one
   * per `<commit>:<path>`: a repository with thousands of tags costs one call, not one
   * `git show` each. What `read` makes of a blob's bytes up to `maxBytes`; 'too-large' past
   * it (never held in memory); undefined when there is no such blob (no file, a directory).
   * Only `read`'s answer is kept, and one blob's bytes at a time: a repository can tag a
   * thousand commits whose go.mod is 16 MiB of spaces (one blob, a kilobyte in the pack),
   * and their bytes held together would be 16 GiB.
   */
  async readBlobs<T>(repo: string, specs: readonly string[], maxBytes: number, read: (bytes: Buffer) => T, signal?: AbortSignal): Promise<(T | 'too-large' | undefined)[]> {
    if (specs.length === 0) return [];
    if (specs.some((x) => /[\r\n]/.test(x))) throw new MigrateError('ECONFIG', `${this.opts.owner}: a path with a line break cannot be read from git`);
    const child = spawn('git', ['cat-file', '--batch'], { cwd: repo, env: this.localEnv, stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    const out: (T | 'too-large' | undefined)[] = [];
    let pending: Buffer = Buffer.alloc(0);
    // the object being read: how many bytes are left of it (and its newline), and what it gives
    let body: { left: number; chunks: Buffer[]; gives: 'bytes' | 'too-large' | 'nothing' } | undefined;
    let stderr = '';
    const take = (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        if (body) {
          const n = Math.min(body.left, pending.length);
          if (body.gives === 'bytes' && n > 0) body.chunks.push(pending.subarray(0, n));
          body.left -= n;
          pending = pending.subarray(n);
          if (body.left > 0) return;
          // the object's bytes, without the newline that ends them
          out.push(body.gives === 'bytes' ? read(Buffer.concat(body.chunks).subarray(0, -1)) : body.gives === 'too-large' ? 'too-large' : undefined);
          body = undefined;
          continue;
        }
        const nl = pending.indexOf(0x0a);
        if (nl < 0) return;
        const header = pending.subarray(0, nl).toString('utf8');
        pending = pending.subarray(nl + 1);
        // "<oid> <type> <size>", or "<spec> missing" / "<spec> ambiguous"
        const m = /^[0-9a-f]{40,64} (\w+) (\d+)$/.exec(header);
        if (!m) {
          out.push(undefined);
          continue;
        }
        const size = Number(m[2]);
        body = { left: size + 1, chunks: [], gives: m[1] !== 'blob' ? 'nothing' : size <= maxBytes ? 'bytes' : 'too-large' };
      }
    };
    return new Promise((resolve, reject) => {
      child.stdout.on('data', take);
      child.stderr.on('data', (c: Buffer) => (stderr = keepTail(stderr + c.toString('utf8'), 2000)));
      child.on('error', (e) => reject(this.classify(e, `reading files of ${repo}`, this.opts.owner, { notFound: 'install git' })));
      child.on('close', (code) => {
        if (code !== 0 || out.length !== specs.length) return reject(this.classify(new Error(`git cat-file exited with ${code}: ${stderr}`), `reading files of ${repo}`, this.opts.owner, { notFound: 'the mirror is damaged: remove it and rerun' }));
        resolve(out);
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(`${specs.join('\n')}\n`);
    });
  }

  /**
   * The bare mirror of `url` at `mirror`: cloned once (into a `.partial-<pid>` folder
   * renamed when whole, so a killed clone is never taken for a mirror), else fetched and
   * pruned from `url` as the job names it now (a moved repository, a corrected typo).
   * --progress: git writes while it transfers, so the silence watchdog cuts only a stall.
   * The mirror's folder may hold at most maxMirrorBytes: a transfer past it is cut off
   * (git-transfer.ts). A clone cut off is removed; a fetch cut off leaves the mirror as it
   * was (refs move only once a pack is whole) less the pack it was receiving, so the next
   * fetch, once the limit is raised, goes on from there.
   * `formerly`: where an earlier release kept this mirror; taken over when there is none yet.
   */
  async updateMirror(mirror: string, url: string, signal?: AbortSignal, formerly?: string): Promise<void> {
    if (formerly) adoptMirror(formerly, mirror);
    // a run killed with SIGKILL cannot stop its git: it may still be writing here (a stalled
    // peer keeps it alive for ever). We hold the job's lock, so it is nobody's now.
    const groupFile = `${mirror}.pgid`;
    const orphan = await stopOrphanTransfer(groupFile).catch((e: unknown) => {
      // this source fails (the others go on): a fetch now would write beside the old git
      if (!(e instanceof OrphanTransferStuck)) throw e;
      throw new MigrateError('ESOURCE', `${this.opts.owner}: git process group ${e.pgid} is still writing into ${mirror} and could not be stopped`, {
        cause: e,
        hint: `stop it (kill -- -${e.pgid}, as its owner or root) and rerun`,
      });
    });
    if (orphan !== undefined) process.stderr.write(`${this.opts.owner}: stopped git (process group ${orphan}) that a killed run left transferring into ${mirror}\n`);
    const env = this.remoteEnv(url);
    const bounds = (dir: string, cwd: string) => ({
      groupFile,
      cwd,
      env,
      idleMs: this.opts.idleTimeoutMs ?? DEFAULT_IDLE_MS,
      watch: { dir, maxBytes: this.opts.maxMirrorBytes ?? DEFAULT_MAX_MIRROR_BYTES },
      ...(signal ? { signal } : {}),
    });
    const noHooks = [...NO_HOOKS, ...ONLY_OUR_TRANSPORTS].flatMap((c) => ['-c', c]);
    if (!existsSync(join(mirror, 'HEAD'))) {
      makeFolder(dirname(mirror));
      // a folder in the mirror's place that is no repository (half deleted, half copied with the state
      // directory): never renamed over (ENOTEMPTY, on every rerun), nothing git could read from it; cloned again
      if (existsSync(mirror)) {
        process.stderr.write(`${this.opts.owner}: ${mirror} is no git repository (it has no HEAD): removed, cloned again\n`);
        rmSync(mirror, { recursive: true, force: true });
      }
      const partial = `${mirror}.partial-${process.pid}`;
      rmSync(partial, { recursive: true, force: true });
      this.writeKey();
      try {
        await runTransfer([...noHooks, 'clone', '--mirror', '--progress', '--', url, partial], bounds(partial, dirname(mirror)));
      } catch (e) {
        rmSync(partial, { recursive: true, force: true });
        throw e;
      }
      renameSync(partial, mirror);
    } else {
      // what a fetch cut off (or killed with this tool) was receiving: garbage git never reads, counted against
      // the bound; and the lock files of a git killed outright (a crash, a power cut, the OOM killer: its
      // refs/tags/<tag>.lock, HEAD.lock or config.lock would fail every later fetch and set-url, blamed on the
      // repository). The job's lock is held and any git a killed run left is stopped (above): none is ours to keep
      discardCutFetch(mirror);
      // the mirror's config as a clone made it, from the job's url as it is now (a moved repository, a
      // corrected typo): whatever else is there (a url rule to a fork, a fetch refspec that files the
      // server's branches under its tags, a credential helper's or alternate refs' command, an include)
      // was written by no run of the tool, and is not followed
      writeMirrorConfig(mirror, url);
      // the key given as text, on disk for ssh (a fetch of a mirror an earlier run cloned needs it as much as a clone)
      this.writeKey();
      try {
        await runTransfer([...noHooks, 'fetch', '--prune', '--progress', 'origin'], bounds(mirror, mirror));
      } catch (e) {
        if (e instanceof TransferCut || (e instanceof Error && e.name === 'AbortError')) discardCutFetch(mirror);
        throw e;
      }
    }
  }

  /**
   * A clean checkout of `commit` in the new folder `dir`: a clone sharing the mirror's
   * objects (nothing done there can touch the mirror), by local git only, without the
   * operator's git config: the commit's bytes, as `go` reads a repository.
   */
  async checkout(mirror: string, dir: string, commit: string, signal?: AbortSignal): Promise<void> {
    await this.refuseHugeTree(mirror, commit, signal);
    await this.localGit(dirname(dir), signal).clone(mirror, dir, ['--shared', '--no-checkout', '--quiet']);
    // run here, not through simple-git, to see the signal that ended it: a checkout killed halfway
    // (SIGXFSZ past a file-size limit) must never be built from, and a full disk is this machine's
    const args = [...NO_HOOKS.flatMap((c) => ['-c', c]), ...AS_GO_READS, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit];
    const stderr = await new Promise<string>((resolve, reject) => {
      execFile('git', args, { cwd: dir, env: this.localEnv, maxBuffer: 1024 * 1024, ...(signal ? { signal } : {}) }, (e, _out, err) => {
        const said = String(err);
        if (!e) return resolve(said);
        const ended = e as Error & { signal?: NodeJS.Signals | null; code?: unknown };
        reject(diskFullError(said, ended.signal, dir, 'check out into') ?? (ended.signal && !signal?.aborted ? new Error(`git checkout was killed by ${ended.signal}: ${said}`) : e));
      });
    });
    // git 2.39 ignoring SIGXFSZ says "error: unable to write file" for a file it could not write, yet exits 0
    if (/^(error|fatal): /m.test(stderr)) throw diskFullError(stderr, null, dir, 'check out into') ?? new Error(`git checkout left files unwritten: ${stderr}`);
  }

  /**
   * A tree is measured before it is written: a few KiB of pack can name millions of files (a
   * "git bomb": a tree of ten trees of ten trees…, each the same object), which checked out
   * would fill the disk the state shares, or run the machine out of inodes, and stop the run
   * as a full disk (ELOCAL) at that tag on every rerun. `git ls-tree -r -l` lists the files
   * and their sizes from the objects alone; it is stopped as soon as the sum passes the limit.
   * Each file counts as at least one 4 KiB block, so a million empty files count as 4 GiB.
   */
  private async refuseHugeTree(mirror: string, commit: string, signal?: AbortSignal): Promise<void> {
    const max = this.opts.maxCheckoutBytes ?? DEFAULT_MAX_CHECKOUT_BYTES;
    const git = spawn('git', ['ls-tree', '-r', '-l', '-z', '--full-tree', commit], { cwd: mirror, env: this.localEnv, stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    let total = 0;
    let files = 0;
    let rest = '';
    let over = false;
    git.stderr.resume();
    git.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (over) return;
      const entries = (rest + chunk).split('\0');
      rest = entries.pop()!;
      for (const entry of entries) {
        // <mode> SP <type> SP <object> SP* <size> TAB <path>: a submodule's size is "-"
        const size = Number(/^\S+ \S+ \S+ +(\d+)\t/.exec(entry)?.[1] ?? 0);
        total += Math.max(size, BLOCK_BYTES);
        files++;
        if (total > max) {
          over = true;
          git.kill('SIGKILL');
          return;
        }
      }
    });
    await new Promise<void>((resolve, reject) => {
      git.on('error', reject);
      git.on('close', () => resolve());
    });
    if (over) {
      throw new MigrateError('ETOOLARGE', `${this.opts.owner}: commit ${commit.slice(0, 12)} would check out to more than limits.maxCheckoutBytes (${max} bytes, every file counted as at least 4 KiB; ${files} files listed when it was stopped): not checked out`, {
        actual: String(total),
        hint: 'a tree far larger than its repository (a "git bomb") fails only this version: skip it in the job file (versions: { "<version>": { skip: … } }); if the tree is real, raise limits.maxCheckoutBytes',
      });
    }
    // a commit it cannot list (gone, damaged objects) is the checkout's to report, in the words its callers know
  }

  private get othersWentOn(): string {
    return this.opts.othersWentOn ?? 'the other sources went on';
  }

  /** Remove the key file written for ssh, if any. */
  close(): void {
    if (!this.keyFile) return;
    rmSync(this.keyFile, { force: true });
    liveKeyFiles.delete(this.keyFile);
  }

  /**
   * git's complaints as coded errors; the message keeps the tail of what git said
   * (redacted on the way out). `where` names the operation and the remote.
   */
  classify(thrown: unknown, where: string, subject: string, hints: { notFound: string }): MigrateError {
    if (thrown instanceof MigrateError) return thrown;
    // a folder or file of ours (the mirror's folder, the ssh key's) that could not be made: this
    // machine's, never the remote's (an EACCES read as git's "Permission denied" blamed its key)
    const local = fileSystemError(thrown);
    if (local) return local;
    const e = toError(thrown);
    // redacted before it is cut to 600 characters: a credential URL cut in two no longer looks like one
    const all = redact(e.message);
    // git's own boilerplate says nothing the lines before it did not
    const said =
      all
        .split('\n')
        // --progress redraws a line with \r: its last state is what it said
        .map(lastState)
        .filter((l) => l && !/^(remote: )?(Enumerating|Counting|Compressing|Receiving|Resolving|Total|Updating files|Checking connectivity)\b/.test(l))
        .filter((l) => l && !/^(fatal: Could not read from remote repository\.|Please make sure you have the correct access rights|and the repository exists\.)$/.test(l))
        .slice(-4)
        .join(' | ')
        .slice(0, 600) || all.trim().slice(0, 600);
    if (/abort/i.test(e.name) || /aborted/i.test(all)) return new MigrateError('EINTERRUPTED', `${where} cut off by the stop`, { subject, cause: e });
    // the mirror grew past its bound: a repository far larger than any real one, or a server
    // streaming a pack that never ends. Not retried: each try would fill as much again.
    if (e instanceof TransferCut && e.why === 'too-large') {
      const max = this.opts.maxMirrorBytes ?? DEFAULT_MAX_MIRROR_BYTES;
      return new MigrateError('ETOOLARGE', `${where}: the mirror grew past limits.maxMirrorBytes (${max} bytes) and git was stopped`, {
        subject,
        cause: e,
        expected: `at most ${max} bytes`,
        actual: `${e.bytes} bytes`,
        hint: `if the repository really is this large, raise limits.maxMirrorBytes in the job file and rerun (a fetch goes on from the mirror as it stands, a clone starts again); otherwise the server is sending an endless or bogus pack. ${sentence(this.othersWentOn)}`,
      });
    }
    // the pace bound: git kept saying something (a byte, a progress line) inside every idle
    // period, but the mirror hardly grew: a trickle would hold the run for ever. Not retried.
    if (e instanceof TransferCut && e.why === 'too-slow') {
      const s = (this.opts.idleTimeoutMs ?? DEFAULT_IDLE_MS) / 1000;
      const grace = GRACE_IDLE_PERIODS * s;
      return new MigrateError('ESOURCESILENT', `${redactUrlCredentials(where)}: only ${e.bytes} bytes came in ${Math.round(e.elapsedMs / 1000)} s, slower than any working transfer (the server trickles, or the link is that slow), and git was stopped`, {
        subject,
        cause: e,
        expected: `at least ${SLOWEST_TRANSFER_BYTES_PER_S / 1024} KiB/s after the first ${grace} s (${GRACE_IDLE_PERIODS} times idleTimeoutSeconds)`,
        actual: `${e.bytes} bytes in ${Math.round(e.elapsedMs / 1000)} s`,
        hint: `a transfer may take ${GRACE_IDLE_PERIODS} times idleTimeoutSeconds (${grace} s) plus 1 s per ${SLOWEST_TRANSFER_BYTES_PER_S / 1024} KiB received: if the link to the git server really is this slow, raise ${this.opts.idleTimeoutSetting ?? 'idleTimeoutSeconds'} in the job file and rerun; otherwise check the server. ${sentence(this.othersWentOn)}`,
      });
    }
    // the silence watchdog: git printed nothing for the whole idle timeout while the connection
    // stayed up (ssh's keepalives answered). Not retried: each try would wait as long again.
    if ((e instanceof TransferCut && e.why === 'silent') || /block timeout reached/.test(all)) {
      const s = (this.opts.idleTimeoutMs ?? DEFAULT_IDLE_MS) / 1000;
      return new MigrateError('ESOURCESILENT', `${where}: nothing came for ${s} s (the server or the way to it is stuck)`, {
        subject,
        cause: e,
        hint: `check the git server (and any proxy or firewall on the way); rerun once it answers: ${this.othersWentOn}, and this one is fetched then. A server that is only slow to start sending (counting a huge repository's objects) needs a larger ${this.opts.idleTimeoutSetting ?? 'idleTimeoutSeconds'} in the job file`,
      });
    }
    // our disk, not the remote: a local error (never retried as a network failure). A `remote:`
    // line is the server's own words: its full disk is its owners' to fix, never this machine's
    const ours = all
      .split('\n')
      .filter((l) => !/^(git (cat-file )?exited with \S+: )?remote:/.test(lastState(l)))
      .join('\n');
    if (DISK_FULL.test(ours) || /Read-only file system/i.test(ours)) {
      return new MigrateError('ELOCAL', `${where}: git could not write under the state directory: ${said}`, {
        subject,
        cause: e,
        hint: DISK_FULL.test(ours)
          ? 'free space under the state directory (or move it with --state-dir), then rerun: nothing was recorded as done'
          : 'the state directory is on a read-only file system: remount it writable (or move the state with --state-dir), then rerun: nothing was recorded as done',
      });
    }
    if (DISK_FULL.test(all)) {
      return new MigrateError('ESOURCE', `${where} failed: the git server says its own disk is full: ${said}`, {
        subject,
        cause: e,
        hint: `tell the git server's owners (its disk or quota is full); rerun once they have made room: ${this.othersWentOn}`,
      });
    }
    // an https server that sent git to another protocol (plain http, ftp): refused by ONLY_OUR_TRANSPORTS, and
    // not retried (the server would send it there again); https itself is always allowed, so it is never the one named
    const downgrade = /Protocol "([A-Za-z0-9+.-]+)" not supported or disabled in libcurl/.exec(all);
    if (downgrade && downgrade[1]!.toLowerCase() !== 'https') {
      const to = downgrade[1]!.toLowerCase();
      return new MigrateError('ESOURCEURL', `${where}: the server redirected git from https to plain ${to}://, where anyone on the way could change what ${this.opts.owner} fetches: not followed (${said})`, {
        subject,
        cause: e,
        hint: `the git server (or whatever answers in front of it: a load balancer, a proxy) must serve the repository over https only; if it moved, put its new https URL in the job file. ${sentence(this.othersWentOn)}`,
      });
    }
    // an https server whose certificate this machine does not trust (a private CA, a self-signed one, or a
    // man in the middle): every try fails alike, so no retry; where to name the CA, not "check the network"
    if (/server certificate verification failed|SSL certificate problem|certificate verify failed|unable to get local issuer certificate|self[- ]signed certificate/i.test(all)) {
      return new MigrateError('ESOURCEAUTH', `${where}: the server's https certificate is not one this machine trusts: ${said}`, {
        subject,
        cause: e,
        hint: `if a private CA signed it, name that CA's certificate file in GIT_SSL_CAINFO (or add it to the system's CA store); a certificate that changed with no word from the server's owners may be a man in the middle. ${sentence(this.othersWentOn)}`,
      });
    }
    if (/Host key verification failed|HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(all)) {
      return new MigrateError('ESOURCEAUTH', `${where}: the server's host key is unknown or changed: ${said}`, {
        subject,
        cause: e,
        hint: this.opts.knownHostsFile
          ? `the host's key is not in ${this.opts.knownHostsFile} (knownHostsFile), or is another there: get the host's key out of band (its owners; ssh-keyscan checked against their fingerprint) and put it in that file; a key that changed with no word from them may be a man in the middle`
          : "add the host's key to ~/.ssh/known_hosts, or name a known_hosts file with knownHostsFile (ssh-keyscan, checked out of band against the owners' fingerprint); a key that changed with no word from the host's owners may be a man in the middle",
      });
    }
    // the key given is none ssh can read (not a private key, a passphrase on it, a public key given instead): no server was asked
    if (this.opts.sshKeyEnv && /^Load key "[^"]*": (invalid format|error in libcrypto|incorrect passphrase|bad permissions)/m.test(all.split('\n').map(lastState).join('\n'))) {
      return new MigrateError('ESOURCEAUTH', `${where}: ssh could not read the key in ${this.opts.sshKeyEnv}: ${said}`, {
        subject,
        cause: e,
        hint: `set ${this.opts.sshKeyEnv} to an ssh private key without a passphrase (its whole text, from its BEGIN line on, or its path): \`ssh-keygen -y -f <file>\` prints its public key when ssh can read it`,
      });
    }
    if (/Permission denied|Authentication failed|could not read Username|publickey/i.test(all)) {
      return new MigrateError('ESOURCEAUTH', `${where} was refused: ${said}`, {
        subject,
        cause: e,
        hint: this.opts.sshKeyEnv ? `check that the key in ${this.opts.sshKeyEnv} is authorised for this repository (a deploy key)` : 'give it an ssh key with sshKeyEnv, or load one into ssh-agent',
      });
    }
    if (/does not appear to be a git repository|repository .* not found|Repository not found|No such file or directory|not a git repository/i.test(all)) {
      return new MigrateError('ESOURCENOTFOUND', `${where}: no such repository: ${said}`, { subject, cause: e, hint: hints.notFound });
    }
    if (/reference is not a tree|unknown revision|bad object|not our ref/i.test(all)) {
      return new MigrateError('EBADSOURCE', `${where}: the commit is gone: ${said}`, { subject, cause: e, hint: 'the tag was moved or the history rewritten; see the tag in the repository' });
    }
    // a tree holding a path git never writes ('..', '.git', `git~1`: crafted with mktree, or pushed
    // from an old git): the same on every try and every rerun, the tag's own, never the server's
    if (/^error: invalid path '/m.test(all)) {
      return new MigrateError('EBADSOURCE', `${where}: the commit holds a path git refuses to check out: ${said}`, {
        subject,
        cause: e,
        hint: 'no git can check this commit out; fix the tag at the source, or skip this version in the job file (versions: { "<version>": { skip: … } })',
      });
    }
    return new MigrateError('ESOURCE', `${where} failed: ${said}`, { subject, cause: e });
  }
}

/**
 * What a fetch left in the mirror when it was cut off: the pack it was receiving
 * (`objects/pack/tmp_pack_*`, `tmp_idx_*`, never read by git, left by a kill) and the
 * lock files of refs, HEAD and the config it was updating (git removes them on
 * SIGTERM, not on a SIGKILL: the one that follows when it does not stop, or a crash's). No
 * ref's name ends in `.lock` (git check-ref-format). The job's lock is held: no other git
 * works in this mirror.
 */
function discardCutFetch(mirror: string): void {
  const pack = join(mirror, 'objects', 'pack');
  for (const name of namesIn(pack)) if (name.startsWith('tmp_')) rmSync(join(pack, name), { recursive: true, force: true });
  const folders = [mirror];
  for (let d = folders.pop(); d !== undefined; d = folders.pop()) {
    for (const e of direntsIn(d)) {
      const path = join(d, e.name);
      if (e.isDirectory() && path !== join(mirror, 'objects')) folders.push(path);
      else if (e.isFile() && e.name.endsWith('.lock')) rmSync(path, { force: true });
    }
  }
}

/**
 * A mirror's config as `git clone --mirror` writes it, with `url` as its origin: only the object
 * format (a SHA-256 repository's) is kept of what was there, read without following includes.
 */
function writeMirrorConfig(mirror: string, url: string): void {
  const file = join(mirror, 'config');
  let objectFormat = '';
  try {
    objectFormat = execFileSync('git', ['config', '--file', file, '--no-includes', '--get', 'extensions.objectformat'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...WITHOUT_OPERATOR_CONFIG }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // none (SHA-1, the default), or a config git cannot read: written anew as SHA-1's
  }
  const sha256 = /^sha256$/i.test(objectFormat);
  const text = [
    '[core]',
    `\trepositoryformatversion = ${sha256 ? 1 : 0}`,
    '\tbare = true',
    ...(sha256 ? ['[extensions]', '\tobjectformat = sha256'] : []),
    '[remote "origin"]',
    `\turl = ${configValue(url)}`,
    '\tfetch = +refs/*:refs/*',
    '\tmirror = true',
    '',
  ].join('\n');
  const out = new AtomicFile(file, (e) => fileSystemError(e) ?? toError(e), { mode: 0o644 });
  out.write(text);
  out.commit();
}

/** A value in a git config file, read back as `value` whatever it holds (quotes, backslashes, `#`, `;`, line breaks). */
function configValue(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

/**
 * For an https URL, the operator's credential helper for it (`credential.helper`,
 * `credential.<url>.helper`, `.username`, `.useHttpPath`, read from their git config as git
 * would for that URL), as GIT_CONFIG_COUNT/KEY/VALUE for the git that fetches: the one piece of
 * the operator's git config that git reaching a remote reads (WITHOUT_OPERATOR_CONFIG). Nothing for any
 * other URL, or when git cannot be asked.
 */
function credentialHelperEnv(url: string, env: Record<string, string>): Record<string, string> {
  if (!/^https:/i.test(url)) return {};
  let listed: string;
  try {
    const { GIT_CONFIG_NOSYSTEM: _s, GIT_CONFIG_GLOBAL: _g, GIT_ATTR_NOSYSTEM: _a, GIT_NO_REPLACE_OBJECTS: _r, ...operator } = env;
    listed = execFileSync('git', ['config', '-z', '--get-urlmatch', 'credential', url], { cwd: '/', env: operator, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return {};
  }
  // Scoped to the URL's own scheme, host and port, as the operator scoped them (or narrower): git
  // follows a redirect of its first request to another https host, and then asks the helpers for
  // that host. A helper handed over unscoped would be asked there too, and one that answers
  // whatever host it is asked for (a script printing a token) would give the company's token to
  // whoever the redirect named.
  let origin: string;
  try {
    const u = new URL(url);
    origin = `${u.protocol}//${u.host}`;
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  let n = 0;
  for (const entry of listed.split('\0')) {
    const nl = entry.indexOf('\n');
    if (nl < 0) continue;
    const key = entry.slice(0, nl);
    // credential.helper, credential.username, credential.usehttppath: what git asks a helper with
    const name = /^credential\.(helper|username|usehttppath)$/i.exec(key)?.[1];
    if (!name) continue;
    out[`GIT_CONFIG_KEY_${n}`] = `credential.${origin}.${name}`;
    out[`GIT_CONFIG_VALUE_${n}`] = entry.slice(nl + 1);
    n++;
  }
  if (n) out.GIT_CONFIG_COUNT = String(n);
  return out;
}

function direntsIn(dir: string) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function namesIn(dir: string): string[] {
  return direntsIn(dir).map((e) => e.name);
}

/**
 * What git says when the object store it reads is damaged on this machine's disk: a pack cut
 * short or whose index no longer matches it, an object whose bytes do not inflate, a tree or a
 * blob a commit of the mirror names that is not there. Never a `remote:` line (the server's own
 * repository damaged is the source's failure).
 */
const DAMAGED_OBJECTS =
  /does not match index|\bis corrupt\b|corrupt (loose|packed) object|bad packed object|data stream error|unable to unpack|packfile .* cannot be accessed|failed to read object|index file .* is too small|bad index file|non-monotonic index|object file .* is empty|garbage at end of loose object|hash mismatch|unable to read (tree|sha1 file)|missing (blob|tree) object/i;

/**
 * A local git (a checkout from the mirror, the tags or files read in it) that failed because
 * the mirror's objects are damaged on disk (a disk fault, a copy cut short): this machine's
 * ELOCAL naming the mirror, never the repository blamed nor the version retried, and every
 * rerun would fail alike until it is cloned again; undefined for any other failure. `where`
 * names the operation, `what` the mirror (`the mirror of source "billing"`).
 */
export function damagedMirrorError(thrown: unknown, mirror: string, where: string, subject: string, what: string): MigrateError | undefined {
  if (thrown instanceof MigrateError) return undefined;
  const said = toError(thrown)
    .message.split('\n')
    .map(lastState)
    .filter((l) => l && !/^(git (cat-file )?exited with \S+: )?remote:/.test(l))
    // git's own words, without what wrapped them (`git checkout left files unwritten: `)
    .map((l) => l.replace(/^.*?\b(?=(error|fatal): )/, ''));
  const damage = said.filter((l) => DAMAGED_OBJECTS.test(l));
  if (damage.length === 0) return undefined;
  return new MigrateError('ELOCAL', `${where}: ${what} ${mirror} is damaged on this machine's disk: ${redact([...new Set(damage)].slice(-2).join(' | ')).slice(0, 600)}`, {
    subject,
    cause: thrown,
    hint: `remove ${mirror} (this machine's copy of the repository: the next run clones it again) and rerun; if it happens again, check the disk under the state directory`,
  });
}

/**
 * A path as the value of `-o IdentityFile=` or `-o UserKnownHostsFile=`, read by ssh as that one
 * file: quoted, as ssh splits a UserKnownHostsFile on spaces into a list of files
 * ("/home/ops/My Jobs/known_hosts" was two, neither there, and the host refused as unknown), and
 * `%` doubled, as ssh expands `%d`, `%h`… in both (`-i` is no better: it checks the path as given,
 * then uses it expanded). A leading `~` is still ssh's.
 */
function sshPathValue(path: string): string {
  return `"${path.replace(/%/g, '%%').replace(/["\\]/g, '\\$&')}"`;
}

/** The ssh options that take a value (OpenSSH's getopt string): in `-iKEY` or `-i KEY` the value is no option. */
const SSH_OPTIONS_WITH_VALUE = new Set('bceilmopBDEFIJLOPQRSwW');

/**
 * The `-o StrictHostKeyChecking=<value>` in an ssh command line (GIT_SSH_COMMAND) that lets ssh
 * take a host key it cannot check (no, off, false: any key; accept-new: a key it has not seen),
 * as written; undefined when there is none. Read as ssh reads its arguments: `-o X=v`, `-oX=v`,
 * `-o 'X v'`, in a group of flags (`-4o X=v`), the keyword in any case; the same words inside
 * another option's value (a ProxyCommand's own ssh) are that command's, not this one's.
 */
export function laxHostKeyChecking(command: string): string | undefined {
  const words = shellWords(command);
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('-') || word === '-' || word.startsWith('--')) continue;
    for (let j = 1; j < word.length; j++) {
      const flag = word[j]!;
      if (!SSH_OPTIONS_WITH_VALUE.has(flag)) continue;
      const value = j + 1 < word.length ? word.slice(j + 1) : (words[++i] ?? '');
      // ssh's config line: the keyword, then whitespace and/or one `=`, then the value (quotes taken off)
      const m = flag === 'o' ? /^\s*StrictHostKeyChecking(?:\s*=\s*|\s+)["']?([^"'\s]*)/i.exec(value) : null;
      if (m && /^(no|off|false|accept-new)$/i.test(m[1]!)) return value.trim();
      break;
    }
  }
  return undefined;
}

/** A POSIX shell command's words, quotes and backslashes taken off (what `sh -c` would pass; no expansion). */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      word = (word ?? '') + command.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? command.length : end;
    } else if (c === '"') {
      word ??= '';
      for (i++; i < command.length && command[i] !== '"'; i++) {
        if (command[i] === '\\' && i + 1 < command.length && '$`"\\\n'.includes(command[i + 1]!)) i++;
        word += command[i];
      }
    } else if (c === '\\') {
      word = (word ?? '') + (command[++i] ?? '');
    } else if (/\s/.test(c) || c === ';' || c === '|' || c === '&') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * What a line of git's stderr says last: --progress redraws a line with \r, and its last state is
 * what it said; but ssh ends each of its lines with \r\n, and what follows that \r is nothing (its
 * "No ED25519 host key is known for git.example.com", "Host key verification failed" were lost).
 */
function lastState(line: string): string {
  return (line.replace(/\r+$/, '').split('\r').pop() ?? '').trim();
}

/** A clause as a sentence of its own: capitalised. */
function sentence(clause: string): string {
  return clause.charAt(0).toUpperCase() + clause.slice(1);
}

/**
 * simple-git's errors option: its default takes a git ended by a signal (exit code null, often
 * nothing on stderr) for one that succeeded, and a git killed halfway (the OOM killer, SIGXFSZ
 * past a file-size limit) would leave work taken for whole. Otherwise as its default: a non-zero
 * exit with something on stderr fails with what git said.
 */
function killedIsFailed(error: Buffer | Error | undefined, result: { exitCode: number | null; stdOut: Buffer[]; stdErr: Buffer[] }): Buffer | Error | undefined {
  if (error) return error;
  if (result.exitCode === null) return new Error(`git was killed by a signal: ${Buffer.concat(result.stdErr).toString('utf8')}`);
  return result.exitCode !== 0 && result.stdErr.length ? Buffer.concat([...result.stdOut, ...result.stdErr]) : undefined;
}

function pick(from: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]!]));
}

/**
 * A mirror where an earlier release kept it (release 0.1: `state/git/<id>.git`, shared by
 * every job) becomes this job's, so an upgrade fetches what is new instead of cloning
 * again. The first job to get there takes it (a rename: one wins); any other clones its
 * own. A mirror of another repository is fine to take too: the fetch follows the job's url
 * and prunes what is not there.
 */
function adoptMirror(formerly: string, mirror: string): void {
  if (existsSync(join(mirror, 'HEAD')) || !existsSync(join(formerly, 'HEAD'))) return;
  try {
    mkdirSync(dirname(mirror), { recursive: true });
    renameSync(formerly, mirror);
  } catch {
    // taken by another job, or not movable: this job clones its own
  }
}
