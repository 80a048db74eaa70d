/**
 * A real OpenSSH server on loopback serving bare git repositories: the git+ssh
 * sources' counterpart of the Verdaccio registries. Debian's `/usr/sbin/sshd`
 * runs in the foreground (`-D`, logs on stderr with `-e`) from a config in a
 * temp folder that also holds its host key, an authorized client key, a second
 * key that is not authorized, a known_hosts file and the repositories.
 *
 * Clients reach a repository as `ssh://USER@127.0.0.1:PORT/<abs path>/<name>.git`;
 * job files spell the same URL `git+ssh://…`, which git itself also accepts
 * (a deprecated alias of `ssh://`, https://git-scm.com/docs/git-clone#_git_urls).
 *
 * Run as root (CI, the dev container), the login user is root, key only
 * (`PermitRootLogin prohibit-password`). Run as another user, sshd cannot switch
 * users, so the login user is that user (`UsePAM no` makes this possible).
 *
 * The helpers that change a served repository (tags, commits) act on the bare
 * repository directly, as the repository's owner would: they stand for "someone
 * re-pointed a tag upstream", not for what the tool under test does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';

export const GIT_FIXTURES_DIR = resolve(import.meta.dirname, '../fixtures/git');

/** The bundles under test/fixtures/git (what each holds: SOURCES.md there). */
export type GitFixture =
  | 'go-uuid'
  | 'go-xxhash'
  | 'go-secure-stdlib'
  | 'py-userpath'
  | 'py-crashtest'
  | 'npm-escape-string-regexp'
  | 'monorepo';

export function fixtureBundle(name: GitFixture): string {
  return join(GIT_FIXTURES_DIR, `${name}.bundle`);
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run git (or another program) and hand back its exit code and output; never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<GitResult> {
  return new Promise((done, fail) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: opts.env, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        fail(new Error(`${cmd} ${args.join(' ')}: ${err.message}`, { cause: err }));
        return;
      }
      done({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export interface TagInfo {
  name: string;
  /** What the ref points at: the tag object for an annotated tag, else the commit. */
  object: string;
  commit: string;
  annotated: boolean;
}

export interface CommitChange {
  /** path → new content, or null to delete the file */
  files: Record<string, string | null>;
  message: string;
  /** Branch to advance (default: the one HEAD names); null: leave every branch alone (a commit only a tag will reach). */
  branch?: string | null;
  /** Parent commit (default: the branch's tip). */
  parent?: string;
  /** Author and committer date, e.g. '2024-05-01T10:00:00Z' (default: now). */
  date?: string;
}

export interface GitServerOptions {
  /** Temp folder to use (created); default a fresh one under the OS temp dir. */
  dir?: string;
  /** Port to listen on; default a free one. */
  port?: number;
  /**
   * authorized_keys options for the client key, e.g. `restrict,command="/path/to/script"`:
   * sshd then runs that command for every login, whatever the client asked (in
   * SSH_ORIGINAL_COMMAND). The sandbox uses it to serve `/acme/<name>.git` read-only.
   */
  authorizedKeyOptions?: string;
}

export interface GitServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The listening sshd's process id (each connection is a child of it). */
  readonly pid: number;
  /** The login user in URLs: root when the tests run as root, else the current user. */
  readonly user: string;
  /** The temp folder holding everything; removed by stop(). */
  readonly dir: string;
  /** Where the bare repositories live (absolute). */
  readonly reposDir: string;
  /** Private key whose public half is in authorized_keys. */
  readonly clientKey: string;
  /** A valid ed25519 key sshd does not know: the login must be refused. */
  readonly unauthorizedKey: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 …`: use with StrictHostKeyChecking=yes. */
  readonly knownHosts: string;
  /** The host's public key line (`ssh-ed25519 AAAA…`). */
  readonly hostPublicKey: string;
  /** GIT_SSH_COMMAND for the authorized key, host key checked strictly, no agent, no prompts. */
  readonly gitSshCommand: string;
  /** GIT_SSH_COMMAND for another key (e.g. unauthorizedKey). */
  sshCommand(key: string): string;
  /** Environment for a git client: this process's, minus agent and prompts, plus GIT_SSH_COMMAND. */
  gitEnv(key?: string): NodeJS.ProcessEnv;
  /** `ssh://USER@127.0.0.1:PORT/<reposDir>/<repo>.git` */
  url(repo: string): string;
  /** The same URL spelled as job files spell it: `git+ssh://…`. */
  gitPlusSshUrl(repo: string): string;
  repoPath(repo: string): string;
  /** A bare repository holding every branch and tag of a bundle, HEAD on the bundle's HEAD branch. */
  createRepoFromBundle(repo: string, bundle: string): Promise<string>;
  /**
   * A bare repository from a folder: a git working copy gives all its branches and
   * tags; plain files become one commit on `main` (tagged with `tags`, lightweight).
   */
  createRepoFromDir(repo: string, dir: string, opts?: { message?: string; date?: string; tags?: string[] }): Promise<string>;
  /** Create a tag, or move it if it exists (`git tag -f`); annotated unless `annotated: false`. */
  tag(repo: string, name: string, target: string, opts?: { annotated?: boolean; message?: string; date?: string }): Promise<TagInfo>;
  deleteTag(repo: string, name: string): Promise<void>;
  /** A new commit in the served repository (as if pushed); returns its id. */
  commit(repo: string, change: CommitChange): Promise<string>;
  /** Push refs from a local repository over ssh with the authorized key (the real transport). */
  push(localRepo: string, repo: string, refspecs: string[]): Promise<GitResult>;
  tags(repo: string): Promise<TagInfo[]>;
  revParse(repo: string, rev: string): Promise<string>;
  /** Run git in a served repository (throws with stderr on failure). */
  git(repo: string, args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<string>;
  /** sshd's log so far (connections, refused keys). */
  log(): string;
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 15_000;
const LOG_LIMIT = 256 * 1024;

export async function startGitServer(opts: GitServerOptions = {}): Promise<GitServer> {
  const dir = opts.dir ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'cam-sshd-'));
  await mkdir(dir, { recursive: true });
  try {
    return await start(dir, opts);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function start(dir: string, opts: GitServerOptions): Promise<GitServer> {
  const reposDir = join(dir, 'repos');
  await mkdir(reposDir);
  const isRoot = process.getuid?.() === 0;
  const user = isRoot ? 'root' : userInfo().username;

  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const clientKey = join(dir, 'client_ed25519');
  const unauthorizedKey = join(dir, 'stranger_ed25519');
  await Promise.all([keygen(hostKey, 'cam-test-host'), keygen(clientKey, 'cam-test-client'), keygen(unauthorizedKey, 'cam-test-stranger')]);
  const authorizedKeys = join(dir, 'authorized_keys');
  const clientPublicKey = await readFile(`${clientKey}.pub`, 'utf8');
  await writeFile(authorizedKeys, opts.authorizedKeyOptions ? `${opts.authorizedKeyOptions} ${clientPublicKey}` : clientPublicKey, { mode: 0o600 });
  const hostPublicKey = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');

  // git-upload-pack/receive-pack in a session must not read the machine's or root's git config.
  const serverGitConfig = join(dir, 'server.gitconfig');
  await writeFile(serverGitConfig, '');
  // helpers acting on bare repositories: isolated config, fixed identity, no signing
  const localGitConfig = join(dir, 'local.gitconfig');
  await writeFile(
    localGitConfig,
    '[user]\n\tname = Fixture Maintainer\n\temail = maintainer@acme.example\n[init]\n\tdefaultBranch = main\n[tag]\n\tgpgSign = false\n[commit]\n\tgpgSign = false\n[advice]\n\tdetachedHead = false\n',
  );

  // sshd refuses to start without its privilege-separation directory (Debian creates it at boot).
  if (isRoot) mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });

  let attempt = 0;
  let sshd: Sshd;
  for (;;) {
    const port = opts.port ?? (await freePort());
    const config = join(dir, 'sshd_config');
    await writeFile(config, sshdConfig({ dir, port, hostKey, authorizedKeys, user, serverGitConfig }));
    try {
      sshd = await launchSshd(config, port);
      break;
    } catch (e) {
      // another process took the port between our probe and sshd's bind: try another one
      if (opts.port !== undefined || ++attempt >= START_ATTEMPTS || !(e instanceof PortTakenError)) throw e;
    }
  }
  const { port } = sshd;

  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPublicKey}\n`);

  const sshCommand = (key: string) =>
    [
      'ssh',
      // no ~/.ssh/config, no agent, no other identities: only the key named here is offered
      '-F /dev/null',
      `-i ${shellQuote(key)}`,
      '-o IdentitiesOnly=yes',
      '-o IdentityAgent=none',
      `-o UserKnownHostsFile=${shellQuote(knownHosts)}`,
      '-o GlobalKnownHostsFile=/dev/null',
      '-o StrictHostKeyChecking=yes',
      '-o BatchMode=yes',
      '-o PasswordAuthentication=no',
      '-o ConnectTimeout=10',
      '-o LogLevel=ERROR',
    ].join(' ');

  const gitEnv = (key = clientKey): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.SSH_AUTH_SOCK;
    delete env.SSH_ASKPASS;
    delete env.GIT_ASKPASS;
    return { ...env, GIT_SSH_COMMAND: sshCommand(key), GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: localGitConfig };
  };

  const localEnv = (date?: string): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: localGitConfig, GIT_TERMINAL_PROMPT: '0' };
    for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_AUTHOR_DATE', 'GIT_COMMITTER_DATE']) delete env[k];
    if (date) Object.assign(env, { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
    return env;
  };

  const repoPath = (repo: string) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(repo)) throw new Error(`git-server: repository name ${JSON.stringify(repo)}: use letters, digits, ".", "_" and "-"`);
    return join(reposDir, `${repo}.git`);
  };

  const gitIn = async (cwd: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}) => {
    const r = await run('git', args, { cwd, env: o.env ?? localEnv(), input: o.input });
    if (r.code !== 0) throw new Error(`git ${args.join(' ')} (in ${cwd}) exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const git = (repo: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}) => gitIn(repoPath(repo), args, o);

  const revParse = async (repo: string, rev: string) => (await git(repo, ['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`])).trim();

  const tags = async (repo: string): Promise<TagInfo[]> => {
    const out = await git(repo, ['for-each-ref', '--format=%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)', 'refs/tags']);
    return out
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name, type, object, peeled] = line.split('\0') as [string, string, string, string];
        return { name, object, commit: type === 'tag' ? peeled : object, annotated: type === 'tag' };
      });
  };

  const headBranch = async (repo: string) => (await git(repo, ['symbolic-ref', '--short', 'HEAD'])).trim();

  const server: GitServer = {
    host: '127.0.0.1',
    port,
    pid: sshd.pid,
    user,
    dir,
    reposDir,
    clientKey,
    unauthorizedKey,
    knownHosts,
    hostPublicKey,
    gitSshCommand: sshCommand(clientKey),
    sshCommand,
    gitEnv,
    url: (repo) => `ssh://${user}@127.0.0.1:${port}${repoPath(repo)}`,
    gitPlusSshUrl: (repo) => `git+ssh://${user}@127.0.0.1:${port}${repoPath(repo)}`,
    repoPath,

    async createRepoFromBundle(repo, bundle) {
      const path = repoPath(repo);
      await gitIn(reposDir, ['init', '-q', '--bare', path]);
      await gitIn(path, ['fetch', '-q', '--no-tags', resolve(bundle), '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
      // A bundle records HEAD as a commit id only: point HEAD at the branch that has it.
      const heads = (await gitIn(path, ['bundle', 'list-heads', resolve(bundle)])).split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]);
      const head = heads.find(([, ref]) => ref === 'HEAD')?.[0];
      const branch = heads.find(([sha, ref]) => ref.startsWith('refs/heads/') && (head === undefined || sha === head))?.[1];
      if (branch) await gitIn(path, ['symbolic-ref', 'HEAD', branch]);
      return path;
    },

    async createRepoFromDir(repo, src, o = {}) {
      const path = repoPath(repo);
      if (existsSync(join(src, '.git'))) {
        await gitIn(reposDir, ['clone', '-q', '--bare', '--no-local', resolve(src), path]);
        await gitIn(path, ['remote', 'remove', 'origin']);
        return path;
      }
      await gitIn(reposDir, ['init', '-q', '--bare', path]);
      const env = { ...localEnv(o.date), GIT_DIR: path, GIT_WORK_TREE: resolve(src), GIT_INDEX_FILE: join(dir, `index-${repo}`) };
      await gitIn(src, ['add', '-A', '.'], { env });
      await gitIn(src, ['commit', '-q', '-m', o.message ?? 'Initial import'], { env });
      await rm(env.GIT_INDEX_FILE!, { force: true });
      for (const t of o.tags ?? []) await git(repo, ['tag', t, 'HEAD']);
      return path;
    },

    async tag(repo, name, target, o = {}) {
      const annotated = o.annotated ?? true;
      const commit = await revParse(repo, target);
      const args = annotated ? ['tag', '-f', '-a', '-m', o.message ?? name, name, commit] : ['tag', '-f', name, commit];
      await git(repo, args, { env: localEnv(o.date) });
      const t = (await tags(repo)).find((x) => x.name === name);
      if (!t) throw new Error(`git-server: tag ${name} missing after creating it in ${repo}`);
      return t;
    },

    async deleteTag(repo, name) {
      await git(repo, ['tag', '-d', name]);
    },

    async commit(repo, change) {
      const path = repoPath(repo);
      const branch = change.branch === undefined ? await headBranch(repo) : change.branch;
      const parent = change.parent ? await revParse(repo, change.parent) : branch ? await revParse(repo, `refs/heads/${branch}`) : undefined;
      if (!parent) throw new Error('git-server: commit() without a branch needs a parent');
      // plumbing on a throw-away index: no working tree needed in a bare repository
      const index = join(dir, `index-${repo}-${process.hrtime.bigint()}`);
      const env = { ...localEnv(change.date), GIT_INDEX_FILE: index };
      try {
        await gitIn(path, ['read-tree', parent], { env });
        // --index-info works without a work tree; mode 0 removes the path
        const lines: string[] = [];
        for (const [file, content] of Object.entries(change.files)) {
          if (content === null) lines.push(`0 ${'0'.repeat(40)}\t${file}`);
          else lines.push(`100644 ${(await gitIn(path, ['hash-object', '-w', '--stdin'], { env, input: content })).trim()}\t${file}`);
        }
        await gitIn(path, ['update-index', '--index-info'], { env, input: `${lines.join('\n')}\n` });
        const tree = (await gitIn(path, ['write-tree'], { env })).trim();
        const commit = (await gitIn(path, ['commit-tree', tree, '-p', parent, '-m', change.message], { env })).trim();
        if (branch) await gitIn(path, ['update-ref', `refs/heads/${branch}`, commit]);
        return commit;
      } finally {
        await rm(index, { force: true });
      }
    },

    push(localRepo, repo, refspecs) {
      return run('git', ['push', '--porcelain', server.url(repo), ...refspecs], { cwd: localRepo, env: gitEnv() });
    },

    tags,
    revParse,
    git,
    log: () => sshd.log(),
    stop: async () => {
      try {
        await sshd.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
  return server;
}

// ---------------------------------------------------------------- sshd

function sshdConfig(c: { dir: string; port: number; hostKey: string; authorizedKeys: string; user: string; serverGitConfig: string }): string {
  // https://man.openbsd.org/sshd_config ; everything not needed for git over ssh is off.
  return `${[
    `ListenAddress 127.0.0.1`,
    `Port ${c.port}`,
    `HostKey ${c.hostKey}`,
    `PidFile ${join(c.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${c.authorizedKeys}`,
    // the files live in a temp dir whose modes sshd would otherwise reject
    'StrictModes no',
    // PAM would need the service set up, and a non-root sshd cannot use it at all
    'UsePAM no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitEmptyPasswords no',
    // root may log in, with a key only
    'PermitRootLogin prohibit-password',
    `AllowUsers ${c.user}`,
    'UseDNS no',
    'PermitTTY no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'PermitUserEnvironment no',
    'PrintMotd no',
    'PrintLastLog no',
    // a migration fetches several repositories at once; the default 10:30:100 drops connections early
    'MaxStartups 64',
    'LogLevel VERBOSE',
    `SetEnv GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=${c.serverGitConfig}`,
  ].join('\n')}\n`;
}

class PortTakenError extends Error {}

interface Sshd {
  port: number;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

async function launchSshd(config: string, port: number): Promise<Sshd> {
  // -D: stay in the foreground (our child, so we can stop it); -e: log to stderr
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    log += s;
    if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT);
  });
  const exited = new Promise<number | null>((res) => {
    child.once('exit', (code, signal) => res(code ?? (signal ? -1 : null)));
    // e.g. ENOENT: openssh-server is not installed (.ci/run installs it)
    child.once('error', (e) => {
      log += `cannot run ${SSHD}: ${e.message}${(e as NodeJS.ErrnoException).code === 'ENOENT' ? ' (OpenSSH server is not installed: apt-get install openssh-server)' : ''}\n`;
      res(-2);
    });
  });

  const sshd: Sshd = {
    port,
    pid: child.pid ?? -1,
    log: () => log,
    stop: () => stopProcessTree(child, exited),
  };

  try {
    await waitUntilListening(port, exited, () => log);
    return sshd;
  } catch (e) {
    await sshd.stop();
    throw e;
  }
}

async function waitUntilListening(port: number, exited: Promise<number | null>, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let dead: number | null | undefined;
  void exited.then((c) => (dead = c));
  while (Date.now() < deadline) {
    if (dead !== undefined) {
      const text = log();
      const msg = `sshd exited (${dead}) before listening on 127.0.0.1:${port}:\n${text}`;
      if (/Address already in use|Cannot bind any address/.test(text)) throw new PortTakenError(msg);
      throw new Error(msg);
    }
    // sshd says "Server listening on 127.0.0.1 port N." once bound; the connect proves it accepts
    if (log().includes(`port ${port}.`) && (await canConnect(port))) return;
    await sleep(50);
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms:\n${log()}`);
}

/** Whether something accepts a connection on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/**
 * sshd forks one process per connection, and those call setsid(): they leave our
 * process group, so a group kill would miss them. Walk /proc for every descendant
 * of our sshd and signal each by pid, deepest first, while its parent still lives
 * to reap it: an orphan would be left to init, and some container inits never reap
 * (a zombie `[sshd] <defunct>` in `pgrep -a sshd`). The listener goes last.
 */
async function stopProcessTree(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  const root = child.pid;
  if (root === undefined || child.exitCode !== null || child.signalCode !== null) return;
  // one level at a time, leaves first; re-read the tree each round (sessions end on their own)
  for (let round = 0; round < 20; round++) {
    // zombies are left to their parents, who reap them (or to init when the parent goes)
    const tree = descendants(root).filter((p) => alive(p.pid));
    if (tree.length === 0) break;
    const deepest = Math.max(...tree.map((p) => p.depth));
    const level = tree.filter((p) => p.depth === deepest).map((p) => p.pid);
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      for (const pid of level.filter(alive)) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
      for (let i = 0; i < 40 && level.some(exists); i++) await sleep(25);
      if (!level.some(alive)) break;
    }
  }
  child.kill('SIGTERM');
  const gone = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
  if (!gone) child.kill('SIGKILL');
  await exited;
}

/** Every process whose parent chain leads to `root` (Linux /proc), with its depth below it. */
function descendants(root: number): { pid: number; depth: number }[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: { pid: number; depth: number }[] = [];
  const queue = [{ pid: root, depth: 0 }];
  while (queue.length) {
    const p = queue.shift()!;
    for (const c of children.get(p.pid) ?? []) {
      const d = { pid: c, depth: p.depth + 1 };
      out.push(d);
      queue.push(d);
    }
  }
  return out;
}

/** Still in the process table (a zombie too: not yet reaped by its parent). */
function exists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** A live, non-zombie process. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- small helpers

async function keygen(path: string, comment: string): Promise<void> {
  const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  if (r.code !== 0) throw new Error(`ssh-keygen ${path} exited ${r.code}: ${r.stderr}`);
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => res(port));
    });
  });
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

/**
 * A job's git source for a repository this server serves, with the key the tests export
 * as CAM_TEST_GIT_KEY (`te.env.CAM_TEST_GIT_KEY = git.clientKey`) and its known_hosts.
 */
export function gitSourceOn(git: GitServer, id: string, repo: string, format: 'npm' | 'pypi' | 'go', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, kind: 'git', url: git.gitPlusSshUrl(repo), format, sshKeyEnv: 'CAM_TEST_GIT_KEY', knownHostsFile: git.knownHosts, ...extra };
}

/** A hatchling pyproject.toml for `name` at `version` (its package folder named after it). */
export const HATCH = (name: string, version: string) => `[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n[project]\nname = "${name}"\nversion = "${version}"\ndescription = "fixture"\n\n[tool.hatch.build.targets.wheel]\npackages = ["${name.replace(/-/g, '_')}"]\n`;

/** A Python project folder at one version (plus `extra` files), to make a repository from. */
export function pyProject(dir: string, name: string, version: string, extra: Record<string, string> = {}): string {
  mkdirSync(join(dir, name.replace(/-/g, '_')), { recursive: true });
  writeFileSync(join(dir, 'pyproject.toml'), HATCH(name, version));
  writeFileSync(join(dir, name.replace(/-/g, '_'), '__init__.py'), `VERSION = "${version}"\n`);
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(dir, f), text);
  return dir;
}
