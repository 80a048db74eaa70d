/**
 * Run one build command as a child process, the way a builder needs it:
 *  - contained, so a timeout or an abort kills the whole tree — `python -m
 *    build` runs the backend in a second interpreter, and a setup.py may start
 *    more — not just the first process (see `containment()`);
 *  - with exactly the environment it is given (nothing inherited);
 *  - with its output (stdout and stderr interleaved, as a terminal shows them)
 *    kept bounded: only the tail is retained, since that is where a build
 *    says what went wrong;
 *  - never throwing for a failed, killed or timed-out command: those are
 *    values in the result; only a command that cannot be started rejects.
 * Whatever is left of it when the command exits is killed too, so a build
 * cannot leave a daemon behind holding our pipes open.
 * https://man7.org/linux/man-pages/man2/setsid.2.html  https://nodejs.org/api/child_process.html#optionsdetached
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, resolve as resolvePath, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localError } from '../errors.js';
import { printable } from '../redact.js';

export interface RunOptions {
  /** The command and its arguments; argv[0] is looked up in `env.PATH` when it has no slash. */
  argv: readonly string[];
  cwd: string;
  /** The whole environment of the child: nothing of ours is inherited. */
  env: Readonly<Record<string, string>>;
  /** Kill the group after this long (ms). */
  timeoutMs: number;
  /** Kill the group when this fires. */
  signal?: AbortSignal;
  /** How much of the output's tail to keep (bytes); 64 KiB unless told. */
  maxOutputBytes?: number;
  /**
   * 'process-group': contain the command only so, even where a PID namespace is available (the fallback, for tests);
   * 'user-namespace': as a user who is not root gets it (the namespaces made in a user namespace of their own), for tests run as root.
   */
  containment?: 'process-group' | 'user-namespace';
  /**
   * Run the command with no network: in a network namespace of its own with no interface
   * up (not even loopback). Only where the covers are (`credentialsHidden()`): elsewhere the
   * command shares the network, as the audit says.
   */
  offline?: boolean;
  /**
   * Folders the command writes besides its cwd, HOME and TMPDIR (the checkout's root, the
   * output folder): where the covers are, everything else of this machine is read-only to
   * it but the system's temp folders (see `mountsFor`).
   */
  writable?: readonly string[];
  /**
   * What is covered from every other build but not from this command: a sealed folder's
   * part (see `sealedFolder`) that npm's install, which runs no code of the tag's, works in.
   * Only that part: the rest of the sealed folder stays covered from this command too (see `hiddenPaths`).
   */
  reveal?: readonly string[];
}

export interface RunResult {
  /** The exit code, or null when a signal ended the command. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last `maxOutputBytes` of stdout+stderr, decoded as UTF-8. */
  output: string;
  /** How many bytes of output the command wrote in all (more than `output` holds when it was cut). */
  outputBytes: number;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;
/** After the command exits and its group is killed, how long to wait for the pipes to close (a process that left the group may hold them). */
const CLOSE_GRACE_MS = 2000;

/** Keeps the last `max` bytes of what is pushed, in chunks, without copying everything every time. */
class Tail {
  private chunks: Buffer[] = [];
  private held = 0;
  total = 0;
  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.held += chunk.length;
    while (this.chunks.length > 1 && this.held - this.chunks[0]!.length >= this.max) this.held -= this.chunks.shift()!.length;
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

/**
 * How far the kill of a build reaches:
 *  - 'pid-namespace': the command runs in a PID namespace of its own
 *    (`unshare --pid --fork --kill-child`), and the kernel kills everything in
 *    it when its first process dies — even a daemon that called setsid() and so
 *    left the process group. The process group is killed too, as before;
 *  - 'process-group': only the process group is killed (no usable `unshare`:
 *    not Linux, util-linux too old, or namespaces not allowed here); a process
 *    that called setsid() escapes and can outlive the build and the tool.
 * With the PID namespace comes a mount namespace where that is allowed: in it
 * the operator's credential files (~/.aws, ~/.ssh, ~/.npmrc, the files AWS_*_FILE
 * and the like name, the ssh agent's socket, a source's key file: see
 * `hiddenPaths`) are covered, and /proc is the namespace's own (no other
 * process, nor its environment, is in it), so a tag's setup.py or prepare
 * script can read neither; the covers exist only in that namespace and vanish
 * with it. In it, too, the file system is read-only to the build but for its
 * own folders and the system's temp folders (`mountsFor`): it cannot leave a
 * hook in a git mirror the tool fetches next, another build's output, a shell's
 * rc file or the tool's own code for later, outside the namespaces. The command
 * runs in a user namespace of its own mapped to our uid and gid (root's too),
 * where it has no capability over the mounts: it cannot lift a cover or make a
 * folder writable again, nor read what other users keep to themselves. An
 * `offline` command gets a network namespace of its own there too, with no
 * interface up: it reaches nothing (no host, no cloud metadata service, no port
 * of this machine's loopback); npm's install of a prepare script's dependencies,
 * which runs no script, keeps the network. A user that is not root makes the
 * namespaces as the root of a user namespace of its own, and its builds run as
 * its own uid, never as root (npm behaves otherwise as root).
 * https://man7.org/linux/man-pages/man7/pid_namespaces.7.html  https://man7.org/linux/man-pages/man7/mount_namespaces.7.html
 * https://man7.org/linux/man-pages/man1/unshare.1.html
 */
export type Containment = 'pid-namespace' | 'process-group';

const PID_NS = ['--pid', '--fork', '--kill-child'] as const;
/** A user namespace of its own mapped to our uid and gid (root's too): where the command runs, with no capability over the mounts. */
const AS_OURSELVES = ['--user', `--map-user=${process.getuid?.() ?? 0}`, `--map-group=${process.getgid?.() ?? 0}`] as const;
/** A mount namespace, with a /proc of the PID namespace's own: the build sees no other process, nor its environment. */
const MOUNT_NS = ['--mount', '--propagation', 'private', '--mount-proc'] as const;

/**
 * One way to start the init in namespaces. `hides`: it covers the credential files, and
 * the command runs in a nested user namespace mapped to our own uid and gid, where it
 * has no capability over the mounts (it cannot lift the covers, even as root); `ownUser`:
 * the namespaces are made in a user namespace of their own (a user who is not root).
 */
interface Variant {
  readonly flags: readonly string[];
  readonly hides: boolean;
  readonly ownUser: boolean;
}

/**
 * The variants tried, in order: root (or CAP_SYS_ADMIN) needs no user namespace;
 * anyone else may get the namespaces inside one of their own. Where mounts are
 * not allowed, the PID namespace alone.
 */
const VARIANTS: readonly Variant[] = [
  { flags: [...PID_NS, ...MOUNT_NS], hides: true, ownUser: false },
  { flags: ['--user', '--map-root-user', ...PID_NS, ...MOUNT_NS], hides: true, ownUser: true },
  { flags: PID_NS, hides: false, ownUser: false },
  { flags: ['--user', '--map-current-user', ...PID_NS], hides: false, ownUser: true },
];
/** The probe starts two small processes; generous, since a loaded machine is slow to start node. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * The namespace's first process: a node script that starts the command as its
 * child and reports how it ended, as JSON on its stdout: `{code, signal}`, or
 * `{error}` when it could not be started (spawn's own error, so the caller sees
 * what it saw before: ENOENT, EACCES).
 * Why not let unshare exec the command itself: the first process of a PID
 * namespace is its init, and the kernel drops every signal sent to an init that
 * has no handler for it (only SIGKILL and SIGSTOP from outside get through), so
 * a command run as init would survive its own `kill -TERM $$`, a `kill 0`, or a
 * SIGPIPE; and unshare reports a child killed by a signal by re-raising the
 * signal on itself, which an init cannot do either (a nested `unshare --fork`
 * exits 1 "child exit failed"). As the init's child, the command is started
 * by node's spawn exactly as before: argv[0] looked up in `env.PATH`, the
 * signals' dispositions reset, stdin /dev/null. Its stdout and stderr are both
 * the init's stderr, one pipe (interleaved in the order they were written).
 * The job comes as one JSON line on stdin, not in argv: the env may hold a
 * token, and argv is in `ps` for everyone. The pipe then stays open while the
 * command runs; it closes when this process dies, however it dies (kill -9
 * included, when nothing of ours runs to kill anything), and the init then
 * exits, which takes the whole namespace with it.
 */
const INIT = `
const { spawn, spawnSync } = require('node:child_process');
const { accessSync, closeSync, constants, lstatSync, mkdirSync, openSync, writeSync } = require('node:fs');
const { signals } = require('node:os').constants;
const report = (status, code) => { writeSync(1, JSON.stringify(status)); process.exit(code); };
const failed = (e) => report({ error: { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path } }, 127);
const lookUp = (name, path) => {
  if (name.includes('/')) return name;
  for (const dir of (path || '').split(':')) {
    if (!dir) continue;
    try {
      accessSync(dir + '/' + name, constants.X_OK);
      return dir + '/' + name;
    } catch {}
  }
  return undefined;
};
const hideFailed = (what, e) => failed(Object.assign(new Error(what + ': ' + e), { code: 'EHIDE' }));
// \`fd\`: one of ours, the mount's fd 3 (/proc/self/fd/3)
const mountOrFail = (job, args, what, fd) => {
  const r = spawnSync(job.mount, args, { stdio: fd === undefined ? ['ignore', 'ignore', 'pipe'] : ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
  if (r.status !== 0) hideFailed(what, String(r.stderr || (r.error && r.error.message) || r.status).trim());
};
const start = (job) => {
  // read-only, but for the folders the build writes: shallow first, so a deeper one decides its own
  for (const { path, ro } of job.mounts || []) {
    const what = 'cannot make ' + path + (ro ? ' read-only' : ' writable') + ' for the build';
    if (path !== '/') mountOrFail(job, ['--rbind', path, path], what);
    mountOrFail(job, ['-o', 'remount,bind,' + (ro ? 'ro' : 'rw'), path], what);
  }
  // the credential files covered, in this mount namespace only: a directory by an empty tmpfs, a file (or socket) by /dev/null
  for (const { path, dir, reveal } of job.hide || []) {
    // gone since it was listed (a container's secrets folder removed meanwhile): nothing there to hide
    try {
      lstatSync(path);
    } catch (e) {
      if (e.code === 'ENOENT') continue;
    }
    // what the command is given inside a covered folder (its own part of a sealed folder): held open
    // before the cover, then bound back over it by that handle, not by its path (which then names
    // the cover's). Everything else there stays covered, even what is written there later
    const held = (reveal || []).map((r) => {
      try {
        return { r, fd: openSync(r, 'r') };
      } catch (e) {
        return hideFailed('cannot show ' + r + ' to the build', e.message);
      }
    });
    mountOrFail(job, dir ? ['-t', 'tmpfs', '-o', 'size=16k,mode=0700', 'cam-hidden', path] : ['--bind', '/dev/null', path], 'cannot hide ' + path + ' from the build');
    for (const { r, fd } of held) {
      try {
        mkdirSync(r, { recursive: true, mode: 0o700 });
      } catch (e) {
        hideFailed('cannot show ' + r + ' to the build', e.message);
      }
      // not canonicalized: mount would resolve the link to the path, now the cover's
      mountOrFail(job, ['--no-canonicalize', '--rbind', '/proc/self/fd/3', r], 'cannot show ' + r + ' to the build', fd);
      closeSync(fd);
    }
  }
  let argv = job.argv;
  if (job.nested) {
    // a user namespace of its own, mapped to the user's uid (root's too): no capability over the covers.
    // argv[0] is looked up here, so a missing program is ENOENT as spawn gives it
    // a path (a mistyped build.python) is checked here too: the nested unshare would run it, fail, and
    // exit 127 as if the command had, its "failed to execute" the build's output
    if (argv[0].includes('/')) {
      try {
        accessSync(argv[0], constants.X_OK);
      } catch (e) {
        failed(Object.assign(new Error('spawn ' + argv[0] + ' ' + e.code), { code: e.code, errno: e.errno, syscall: 'spawn ' + argv[0], path: argv[0] }));
      }
    }
    const found = lookUp(argv[0], job.env.PATH);
    if (!found) failed(Object.assign(new Error('spawn ' + argv[0] + ' ENOENT'), { code: 'ENOENT', errno: -2, syscall: 'spawn ' + argv[0], path: argv[0] }));
    argv = [...job.nested, found, ...argv.slice(1)];
  }
  try {
    // cwd by its path again: the init's own still points into the mount made read-only above it
    spawn(argv[0], argv.slice(1), { cwd: process.cwd(), env: job.env, stdio: ['ignore', 2, 2] })
      .on('error', failed)
      .on('exit', (code, signal) => report({ code, signal }, code ?? 128 + signals[signal]));
  } catch (e) {
    failed(e);
  }
};
let text = '';
let job;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  if (job) return;
  text += chunk;
  const nl = text.indexOf('\\n');
  if (nl >= 0) start((job = JSON.parse(text.slice(0, nl))));
});
process.stdin.on('end', () => {
  if (!job && text) start((job = JSON.parse(text)));
  // the tool keeps its end open while the command runs: closed now, the tool is gone
  // (killed, even with SIGKILL), and this init's exit takes the namespace with it
  else if (job && job.holdsStdin) process.exit(137);
});
`;

/** What the init reports (see INIT). */
interface InitStatus {
  code?: number | null;
  signal?: NodeJS.Signals | null;
  error?: { message: string; code?: string; errno?: number; syscall?: string; path?: string };
}

function parseStatus(data: Buffer): InitStatus | undefined {
  try {
    const status: unknown = JSON.parse(data.toString('utf8'));
    return typeof status === 'object' && status !== null ? (status as InitStatus) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How this machine contains builds; probed the first time it is asked (it runs
 * `unshare … node -e INIT` once per variant until one works, synchronously, with
 * a small node check as the command), then kept for the life of the process.
 */
export function containment(): Containment {
  return chosen() === null ? 'process-group' : 'pid-namespace';
}

/** Whether builds run with the operator's credential files covered (a mount namespace: see `hiddenPaths`). */
export function credentialsHidden(): boolean {
  return chosen()?.variant.hides ?? false;
}

let netProbe: boolean | undefined;
/**
 * Whether an `offline` command really runs with no network here: it needs the covers'
 * nested user namespace, and a network namespace made in one (checked once: a kernel may
 * limit network namespaces on their own, `user.max_net_namespaces`).
 */
export function buildsOffline(): boolean {
  const how = chosen();
  if (!how?.variant.hides) return false;
  if (netProbe === undefined) {
    const unshare = how.prefix[0]!;
    const r = spawnSync(unshare, [...AS_OURSELVES, '--net', '--', process.execPath, '--version'], {
      env: {},
      stdio: 'ignore',
      timeout: PROBE_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    netProbe = r.status === 0;
  }
  return netProbe;
}

/**
 * A compiler writes the source's path into what it makes (`__FILE__`, debug info), and a
 * checkout is a new folder every build: CFLAGS and CXXFLAGS (which setuptools and node-gyp
 * pass on) map it to `.`, so a native build is the same bytes every time and names no
 * folder of this machine (gcc 8+, clang 10+). https://reproducible-builds.org/docs/build-path/
 */
export function buildPathMap(checkout: string): { CFLAGS: string; CXXFLAGS: string } {
  const map = `-ffile-prefix-map=${checkout}=.`;
  return { CFLAGS: map, CXXFLAGS: map };
}

/** Each program's version, asked once per process: what a build ran with (see `toolVersion`). */
const toolVersions = new Map<string, Promise<string | null>>();

/**
 * The version a program prints for `argv` (`python3 -c …`, `npm --version`), trimmed of a
 * leading `v`, or null when it cannot say; asked once per process. These are the
 * operator's tools, run as they are (no containment: no code of a tag's runs).
 */
export function toolVersion(argv: readonly [string, ...string[]], env: Record<string, string>): Promise<string | null> {
  const key = JSON.stringify(argv);
  let known = toolVersions.get(key);
  if (!known) {
    known = new Promise((done) =>
      execFile(argv[0], argv.slice(1), { timeout: 20_000, env }, (err, out) => done(err ? null : printable(String(out).trim()).replace(/^v/, '').slice(0, 40) || null)),
    );
    toolVersions.set(key, known);
  }
  return known;
}

/** What to add to a failed build's hint when it ran with no network. */
export function offlineHint(network: boolean | undefined): string {
  return !network && buildsOffline() ? ' (it ran with no network: a build that must download sets build.network: true in the job)' : '';
}

interface Chosen {
  variant: Variant;
  /** unshare, its flags, the init. */
  prefix: readonly string[];
  mount?: string;
}

const probed = new Map<'first' | 'own-user', Chosen | null>();
/**
 * The first variant this machine allows, or null: none here; 'own-user': the one a user
 * who is not root gets, alone (RunOptions.containment 'user-namespace').
 */
function chosen(which: 'first' | 'own-user' = 'first'): Chosen | null {
  if (!probed.has(which)) probed.set(which, probe(which === 'first' ? VARIANTS : VARIANTS.filter((v) => v.hides && v.ownUser)));
  return probed.get(which)!;
}

function probe(variants: readonly Variant[]): Chosen | null {
  const unshare = findTool('unshare');
  if (unshare === undefined) return null;
  const mount = findTool('mount');
  // what a variant that hides must show: a folder and a file covered. A temp folder that cannot hold
  // them (full, or TMPDIR naming a file) is this machine's to fix, never "no such variant": kept for the
  // life of the process, that would run every build with the credential files in view
  let dir: string | undefined;
  try {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cam-probe-')));
    mkdirSync(join(dir, 'd'));
    mkdirSync(join(dir, 'w'));
    writeFileSync(join(dir, 'd', 'x'), 'x');
    writeFileSync(join(dir, 'f'), 'x');
  } catch (e) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw localError(e, dir ?? tmpdir(), 'make a folder to probe how builds are contained in', {
      anyCode: true,
      hint: 'free space in the temp folder, or set TMPDIR to a folder this user can write (builds use it too), then rerun',
    });
  }
  try {
    // covered: the folder empty, the file empty; read-only but for the writable folder inside it
    const check = (d: string) =>
      `const fs = require('node:fs'); const writes = (f) => { try { fs.writeFileSync(f, 'x'); return true; } catch { return false; } }; ` +
      `process.exit(fs.readdirSync(${JSON.stringify(join(d, 'd'))}).length === 0 && fs.readFileSync(${JSON.stringify(join(d, 'f'))}, 'utf8') === '' && !writes(${JSON.stringify(join(d, 'new'))}) && writes(${JSON.stringify(join(d, 'w', 'new'))}) ? 0 : 3)`;
    for (const variant of variants) {
      if (variant.hides && (mount === undefined || dir === undefined)) continue;
      const prefix = [unshare, ...variant.flags, '--', process.execPath, '-e', INIT];
      const job = variant.hides && dir
        ? { argv: [process.execPath, '-e', check(dir)], env: {}, mount, mounts: [{ path: dir, ro: true }, { path: join(dir, 'w'), ro: false }], hide: [{ path: join(dir, 'd'), dir: true }, { path: join(dir, 'f'), dir: false }], ...nestedOf(variant, unshare) }
        : { argv: [process.execPath, '--version'], env: {} };
      const r = spawnSync(unshare, prefix.slice(1), {
        input: JSON.stringify(job),
        env: {},
        stdio: ['pipe', 'pipe', 'ignore'],
        timeout: PROBE_TIMEOUT_MS,
        killSignal: 'SIGKILL',
      });
      if (r.status === 0 && parseStatus(r.stdout)?.code === 0) return { variant, prefix, ...(mount ? { mount } : {}) };
    }
    return null;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * For a variant that hides: the unshare that starts the command in a user namespace of its
 * own, mapped to our uid and gid (and, offline, a network namespace it owns: always allowed there).
 */
function nestedOf(variant: Variant, unshare: string, offline = false): { nested?: string[] } {
  if (!variant.hides) return {};
  return { nested: [unshare, ...AS_OURSELVES, ...(offline ? ['--net'] : []), '--'] };
}

/**
 * A tool's absolute path (unshare, mount), from our own PATH or the usual places: the
 * command's `env.PATH` is for the command (the init looks argv[0] up in it), not for us.
 */
function findTool(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (!dir.startsWith('/')) continue; // a relative entry would depend on the cwd
    const path = join(dir, name);
    try {
      accessSync(path, fsConstants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** In the user's home: the folders and files where credentials live (cloud CLIs, ssh, gpg, registries, git, shells' histories). */
const HOME_FOLDERS = ['.aws', '.ssh', '.gnupg', '.docker', '.kube', '.azure', '.config', '.password-store', '.local/share/keyrings', '.pip'];
/**
 * Where a container is handed its secrets: Docker's (compose, swarm) under /run/secrets, and
 * Kubernetes' service account token under /var/run/secrets/kubernetes.io/serviceaccount, with
 * EKS's web identity and Pod Identity tokens beside it (what AWS credentials are made from).
 * https://docs.docker.com/engine/swarm/secrets/  https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
 */
const CONTAINER_SECRETS = ['/run/secrets', '/var/run/secrets'];
/**
 * The other clients' credential files an operator of CodeArtifact keeps: `aws codeartifact login`
 * and the CodeArtifact guides write a token for Maven, Gradle, NuGet, Cargo and RubyGems there
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/env-var.html), and Terraform's login its
 * own. Files, not their folders: a folder covered would hide the tools kept beside them (~/.cargo/bin).
 */
const CLIENT_CREDENTIAL_FILES = ['.m2/settings.xml', '.m2/settings-security.xml', '.gradle/gradle.properties', '.nuget/NuGet/NuGet.Config', '.cargo/credentials', '.cargo/credentials.toml', '.gem/credentials', '.bundle/config', '.composer/auth.json', '.terraform.d/credentials.tfrc.json'];
/**
 * The machine's own places for a package index's credentials: pip's site-wide config (an
 * index-url with a token is how CI images often give pip a private index:
 * https://pip.pypa.io/en/stable/topics/configuration/#location) and npm's builtin config (beside
 * npm itself). No build needs them: builds are offline, and an npm build's install reads npm's
 * global config from its own copy.
 */
const SYSTEM_FILES = ['/etc/pip.conf', '/etc/xdg/pip', ...CONTAINER_SECRETS];
const HOME_FILES = [...CLIENT_CREDENTIAL_FILES, '.npmrc', '.yarnrc', '.yarnrc.yml', '.pypirc', '.netrc', '.git-credentials', '.gitconfig', '.pgpass', '.boto', '.s3cfg', '.vault-token', '.terraformrc', '.dockercfg', '.bash_history', '.zsh_history', '.python_history', '.node_repl_history'];
/** Variables that name a credential file (or the ssh agent's socket) elsewhere. */
const PATH_VARIABLES = ['AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'NPM_CONFIG_USERCONFIG', 'npm_config_userconfig', 'NPM_CONFIG_GLOBALCONFIG', 'npm_config_globalconfig', 'PIP_CONFIG_FILE', 'NETRC', 'GIT_CONFIG_GLOBAL', 'GOOGLE_APPLICATION_CREDENTIALS', 'KUBECONFIG', 'DOCKER_CONFIG', 'SSH_AUTH_SOCK'];
const alsoHidden = new Set<string>();

/** Where the tool itself is installed (its code, node_modules): a build that wrote there would run as the tool next time. */
const TOOL_ROOT = (() => {
  // src/builders/ run by tsx, or dist/src/builders/ as built
  const up = resolvePath(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return basename(up) === 'dist' ? dirname(up) : up;
})();
const alsoReadOnly = new Set<string>();

/** One more folder or file no build may write from now on (the state directory, the job's folder and file). */
export function protectFromBuilds(path: string): void {
  alsoReadOnly.add(resolvePath(path));
}

/** The system's temp folders: a build may write there as any program may (npm's own temp files). */
const TEMP_FOLDERS = ['/tmp', '/var/tmp', '/dev/shm'];

/** Our HOME and the account's home (when HOME says otherwise), each once. */
const accountHomes = (): string[] => [...new Set([process.env.HOME, homedir()].filter((h): h is string => !!h && isAbsolute(h)))];

/** `child` is `parent` or inside it. */
const within = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

/**
 * What the build may write, as mounts to make in its mount namespace, shallowest first:
 * read-only the whole file system (`/`), the account's homes, the tool's own folder and
 * what `protectFromBuilds` added (the state directory, with the git mirrors whose hooks and
 * config git would run, the blobs, the other builds' checkouts and outputs); writable the
 * system's temp folders and the build's own folders (its cwd, HOME, TMPDIR and
 * `writable`), even inside a read-only one. Each that exists, once (the writable one
 * where a folder is both).
 */
export function mountsFor(work: { cwd: string; env: Readonly<Record<string, string>>; writable?: readonly string[] }): { path: string; ro: boolean }[] {
  // a folder, or (for what is protected) a file; never a socket or a device
  const real = (p: string, files = false) => {
    try {
      const st = statSync(p);
      return st.isDirectory() || (files && st.isFile()) ? realpathSync(p) : undefined;
    } catch {
      return undefined;
    }
  };
  const rw = [...TEMP_FOLDERS, work.cwd, work.env.HOME, work.env.TMPDIR, ...(work.writable ?? [])];
  const ro = ['/', ...accountHomes(), TOOL_ROOT, ...alsoReadOnly];
  const byPath = new Map<string, boolean>();
  for (const p of ro) {
    const path = p ? real(resolvePath(p), true) : undefined;
    if (path) byPath.set(path, true);
  }
  for (const p of rw) {
    const path = p ? real(resolvePath(p)) : undefined;
    if (path && path !== '/') byPath.set(path, false);
  }
  const depth = (p: string) => (p === '/' ? 0 : p.split(sep).length);
  const sorted = [...byPath].map(([path, ro]) => ({ path, ro })).sort((a, b) => depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : 1));
  // a folder that would get what the folder above it already has needs no mount of its own (each costs a process)
  const out: { path: string; ro: boolean }[] = [];
  for (const m of sorted) {
    const above = [...out].reverse().find((o) => within(m.path, o.path));
    if ((above?.ro ?? false) !== m.ro) out.push(m);
  }
  return out;
}

/**
 * The folder above the folder of the first `program` on `path`, links resolved: node's install
 * prefix for `node` (…/bin/node), npm's own package folder for `npm` (…/bin/npm-cli.js).
 * Undefined when no such program is on the PATH.
 */
function aboveProgram(path: string | undefined, program: string): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir.startsWith('/')) continue;
    try {
      accessSync(join(dir, program), fsConstants.X_OK);
      return dirname(dirname(realpathSync(join(dir, program))));
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * npm's global config as npm run with this PATH finds it: `<prefix>/etc/npmrc`, the prefix
 * being the folder above the one of the node that runs it (@npmcli/config: PREFIX unset, as
 * it is for a build). Images and operators keep registry tokens there (`npm config set
 * --global`); it is not in any home. Undefined when no node is on the PATH.
 * https://docs.npmjs.com/cli/v11/configuring-npm/npmrc#files
 */
export function npmGlobalConfig(path: string | undefined): string | undefined {
  const prefix = aboveProgram(path, 'node');
  return prefix && join(prefix, 'etc', 'npmrc');
}

/** npm's builtin config (`<npm's own folder>/npmrc`) of the npm first on `path`. */
function npmBuiltinConfig(path: string | undefined): string | undefined {
  const folder = aboveProgram(path, 'npm');
  return folder && join(folder, 'npmrc');
}

/** One more path to cover in every build from now on (a source's ssh key file). */
export function hideFromBuilds(path: string): void {
  alsoHidden.add(resolvePath(path));
}

/** The name of the sealed folder in a scratch folder: the same for every process, so each one's builds cover every other's. */
export const SEALED = 'cam-sealed';
const sealed = new Set<string>();
/**
 * The folder `cam-sealed` in `parent` (a build's scratch folder: the state's tmp), which every
 * build started from now on has covered, in this process and in any other that called this for
 * the same parent before its builds (another job in the same state directory): what the tool
 * keeps there while builds run (npm's install: its copy of npm's global config, which may hold
 * the operator's tokens, and its cache; an ssh key given as text, while git fetches: sources/git-access,
 * which writes there before this is called in a process that runs no build) no other build reads, even what is written there after
 * that build started, as a file or folder covered one by one would be (a cover is made when the
 * build starts). Never removed, so it is there for every build: what is in it carries its
 * writer's pid and is swept after a killed run. Call it before the builds that must not see
 * what goes in it start (the engine does, for the state's tmp folder).
 */
export function sealedFolder(parent: string): string {
  const folder = join(resolvePath(parent), SEALED);
  if (!sealed.has(folder) || !existsSync(folder)) {
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw localError(e, folder, 'make a folder for what builds must not read in', { anyCode: true })!;
    }
    sealed.add(folder);
    hideFromBuilds(folder);
  }
  return folder;
}

/**
 * What a build must not read, as it is now: the credential places of our HOME (and
 * the account's home, when HOME says otherwise), the files the variables name, and
 * what `hideFromBuilds` added; each that exists, once, and never one that holds what
 * the build works in (its cwd, HOME or TMPDIR) or that a covered folder already holds.
 * A covered folder that holds what the command is given to `reveal` (npm's install: its own
 * folder in the sealed folder) is covered all the same, with `reveal` naming the folders
 * (outermost only) shown again over the cover: the command sees its own part, nothing else
 * there (another job's ssh key, another install's copy of npm's global config), not even
 * what is written there after it started.
 */
export function hiddenPaths(work: { cwd: string; env: Readonly<Record<string, string>>; reveal?: readonly string[] }, system: readonly string[] = SYSTEM_FILES): { path: string; dir: boolean; reveal?: string[] }[] {
  const candidates = [
    ...accountHomes().flatMap((h) => [...HOME_FOLDERS, ...HOME_FILES].map((f) => join(h, f))),
    ...system,
    ...[npmBuiltinConfig(work.env.PATH), npmBuiltinConfig(process.env.PATH)].flatMap((f) => (f ? [f] : [])),
    ...PATH_VARIABLES.flatMap((v) => (process.env[v] ? [process.env[v]] : [])),
    // npm's global config, for the npm the build runs and the one beside our own node
    ...[npmGlobalConfig(work.env.PATH), join(dirname(dirname(process.execPath)), 'etc', 'npmrc')].flatMap((f) => (f ? [f] : [])),
    ...alsoHidden,
  ];
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return undefined;
    }
  };
  const working = [work.cwd, work.env.HOME, work.env.TMPDIR].flatMap((p) => (p ? [real(p) ?? resolvePath(p)] : []));
  // only a folder that is there can be shown again (one that is not has nothing in it to show)
  const shown = (work.reveal ?? []).flatMap((p) => {
    const path = real(p);
    try {
      return path && statSync(path).isDirectory() ? [path] : [];
    } catch {
      return [];
    }
  });
  const out: { path: string; dir: boolean; reveal?: string[] }[] = [];
  /** Covered by `o`: inside it, and not in what it shows again. */
  const coveredBy = (path: string, o: { path: string; reveal?: string[] }) => within(path, o.path) && !o.reveal?.some((r) => within(path, r));
  for (const candidate of candidates) {
    const path = real(candidate);
    if (path === undefined || path === '/') continue;
    if (working.some((w) => within(w, path)) || shown.includes(path)) continue;
    let dir: boolean;
    try {
      dir = statSync(path).isDirectory();
    } catch {
      continue;
    }
    if (out.some((o) => coveredBy(path, o))) continue;
    const inside = dir ? shown.filter((r) => within(r, path)) : [];
    const reveal = [...new Set(inside.filter((r) => !inside.some((o) => o !== r && within(r, o))))];
    const entry = { path, dir, ...(reveal.length ? { reveal } : {}) };
    // a folder covers what was listed inside it before (but for what it shows again: covered in its own right)
    for (let i = out.length - 1; i >= 0; i--) if (dir && coveredBy(out[i]!.path, entry)) out.splice(i, 1);
    out.push(entry);
  }
  return out;
}

/** The error spawn gave the init, as spawn would have given it to us. */
function startError(e: NonNullable<InitStatus['error']>, argv: readonly string[]): Error {
  return Object.assign(new Error(e.message), { code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, spawnargs: argv.slice(1) });
}

/**
 * Process groups of builds still running. A build is in its own session, so the
 * terminal's Ctrl-C never reaches it: when this process exits any other way than
 * through the abort (a second Ctrl-C, the stop's backstop, an uncaught error), the
 * groups are killed here, or a hung setup.py would outlive the tool. Killing
 * a group kills its namespace's init, and with it the whole namespace.
 */
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // ESRCH: already gone
    }
  }
});

/**
 * Runs `argv` and resolves once it has exited and its output pipes are closed.
 * Rejects only when it cannot be started (no such program, cwd missing).
 */
export function runProcess(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const tail = new Tail(opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT);
  const [command, ...args] = opts.argv;
  if (command === undefined) return Promise.reject(new Error('runProcess: empty argv'));
  if (opts.signal?.aborted) {
    return Promise.resolve({ exitCode: null, signal: null, output: '', outputBytes: 0, timedOut: false, aborted: true, durationMs: 0 });
  }
  let how: Chosen | null;
  try {
    how = opts.containment === 'process-group' ? null : chosen(opts.containment === 'user-namespace' ? 'own-user' : 'first');
  } catch (e) {
    return Promise.reject(e);
  }
  if (opts.containment === 'user-namespace' && how === null) return Promise.reject(new Error('runProcess: no user namespace of our own here'));
  const prefix = how?.prefix ?? null;
  const namespaced = prefix !== null;

  return new Promise<RunResult>((resolve, reject) => {
    // unshare gets no environment: the init reads the command's from stdin.
    const child: ChildProcess = prefix
      ? spawn(prefix[0]!, prefix.slice(1), { cwd: opts.cwd, env: {}, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(command, args, { cwd: opts.cwd, env: { ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) liveGroups.add(child.pid);
    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    /** Set once the group was killed after its leader exited: from then on its id may name another process's group. */
    let groupDone = false;
    const status: Buffer[] = [];

    // The group id is unshare's pid, or the command's (setsid). kill(-pgid)
    // reaches every process still in it, even after the leader itself has
    // exited; killing the init ends the namespace with all that is left in it.
    const killGroup = () => {
      if (child.pid === undefined || groupDone) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing left in the group.
      }
    };
    const onAbort = () => {
      aborted = true;
      killGroup();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      if (settled || !exit) return;
      settled = true;
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      clearTimeout(timer);
      clearTimeout(graceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      const reported = namespaced ? parseStatus(Buffer.concat(status)) : undefined;
      if (reported?.error) {
        reject(startError(reported.error, opts.argv));
        return;
      }
      // How the command ended, as the init saw it; with no report (the init was
      // killed with the group, or could not start) unshare's own end says it:
      // it exits with its child's code, or re-raises the signal that killed it.
      const ended = reported && 'code' in reported ? { code: reported.code ?? null, signal: reported.signal ?? null } : exit;
      resolve({
        exitCode: ended.code,
        signal: ended.signal,
        output: tail.text(),
        outputBytes: tail.total,
        timedOut,
        aborted,
        durationMs: Date.now() - started,
      });
    };

    if (namespaced) {
      child.stdin!.on('error', () => {
        // EPIPE: the init is gone before reading the job; how it ended says why.
      });
      // one line, and the pipe kept open while the command runs: the init ends everything
      // when it closes, which the kernel does when this process dies however it dies
      const covers = how!.variant.hides ? { mount: how!.mount, mounts: mountsFor(opts), hide: hiddenPaths(opts), ...nestedOf(how!.variant, prefix[0]!, opts.offline === true && buildsOffline()) } : {};
      child.stdin!.write(`${JSON.stringify({ argv: opts.argv, env: opts.env, holdsStdin: true, ...covers })}\n`);
      child.stdout!.on('data', (c: Buffer) => status.push(c));
    } else {
      child.stdout!.on('data', (c: Buffer) => tail.push(c));
    }
    child.stderr!.on('data', (c: Buffer) => tail.push(c));
    child.on('error', (err) => {
      // Spawn failed (ENOENT, EACCES, bad cwd): there is no process to wait for.
      if (exit || settled) return;
      settled = true;
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      child.stdin?.destroy();
      // Stragglers in the group would keep the pipes (and 'close') waiting forever.
      killGroup();
      // SIGKILL ends them at once: the timeout, an abort or the exit handler firing in the
      // close grace (up to CLOSE_GRACE_MS) must not signal the id again, which by then may
      // name a group a later process leads
      groupDone = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      graceTimer = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish();
      }, CLOSE_GRACE_MS);
    });
    child.on('close', finish);
  });
}
