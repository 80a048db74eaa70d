/**
 * The local sandbox: a Verdaccio playing the private npm registry, a second
 * one requiring auth for reads (GitHub Packages), the CodeArtifact stand-in,
 * and (opt-in) a git host: a real sshd serving bare repositories read-only as
 * `git+ssh://127.0.0.1:PORT/acme/<name>.git`. Used by the tests, `npm run
 * sandbox`, `npm run demo` and the bench.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { MigrateError } from '../../src/errors.js';
import { acquireLock } from '../../src/state/lock.js';
import { CodeArtifactStandIn, type StandInOptions } from './codeartifact/index.js';
import { alive, startGitServer, type GitServer } from './git-server.js';
import { sandboxRepositoryLayout, type SandboxLayoutMistakes } from './sandbox-layout.js';
import { startPublicRegistries, type PublicRegistries } from './public-registries.js';
import { startRegistry, type RunningRegistry } from './verdaccio.js';

export const SANDBOX_DOMAIN = 'acme';
export const SANDBOX_OWNER = '111122223333';
export const SANDBOX_REGION = 'us-east-1';
/** Fake credentials the stand-in accepts; they are not AWS credentials and grant nothing anywhere else. */
export const SANDBOX_ACCESS_KEY = 'SANDBOXACCESSKEY';
export const SANDBOX_SECRET_KEY = 'sandbox-secret-key';
/**
 * The stand-in's repositories: internal/store/shared for npm and PyPI, and a generic one for Go
 * modules (CodeArtifact has no Go format). Any format can be published into any repository; the
 * names only say what each is for.
 */
export const SANDBOX_REPOSITORIES: readonly string[] = ['npm-internal', 'npm-store', 'npm-shared', 'pypi-internal', 'pypi-store', 'pypi-shared', 'go-internal'];

/** The organisation in the git host's URLs, as on a hosting service: `/acme/<name>.git`. */
export const SANDBOX_GIT_ORG = 'acme';
/** The environment variable the sandbox exports with the path of its git client key (a job's `sshKeyEnv`). */
export const SANDBOX_GIT_KEY_ENV = 'CAM_DEMO_GIT_KEY';

export interface SandboxOptions {
  dir: string;
  /** Fixed ports (the demo job names them); default random. */
  ports?: { privateNpm?: number; github?: number; codeartifact?: number; git?: number };
  standIn?: Partial<StandInOptions>;
  /**
   * Start the git host (sshd). Off by default: tests that need no git stay fast and need
   * no openssh-server. `knownHostsFile`: where to (also) write the known_hosts line of the
   * host key, a path a committed job can name (the host key is new at every start); the
   * sandbox removes it in stop().
   */
  git?: boolean | { knownHostsFile?: string };
  /** Set the domain up wrong, on purpose (a store without its external connection, a shared repository reading store first). */
  layout?: SandboxLayoutMistakes;
  /** Public registries behind the store repositories' external connections: a Verdaccio as npmjs, a small PyPI. */
  publicRegistries?: boolean;
}

export interface SandboxDescriptor {
  privateNpm: { url: string; token: string; tokenEnv: string };
  github: { url: string; token: string; tokenEnv: string };
  codeartifact: {
    endpoint: string;
    region: string;
    domain: string;
    domainOwner: string;
    repositories: string[];
    /** GetRepositoryEndpoint format=npm of npm-internal */
    npmEndpoint: string;
    /** GetRepositoryEndpoint format=pypi of pypi-internal: twine's --repository-url; pip's index is `${pypiEndpoint}simple/` */
    pypiEndpoint: string;
    /** the generic repository Go modules go to (PublishPackageVersion, GetPackageVersionAsset) */
    genericRepository: string;
    accessKeyId: string;
    secretAccessKey: string;
  };
  /** The git host, when started (`git` option). */
  git?: SandboxGitDescriptor;
  /** Everything a `run` needs in its environment to use the sandbox. */
  env: Record<string, string>;
}

export interface SandboxGitDescriptor {
  host: '127.0.0.1';
  port: number;
  /**
   * Login user: the account sshd runs as (root in CI). URLs carry no user, so ssh logs in
   * as the local user, which is that account: an sshd cannot log in an account (`git`)
   * the machine does not have.
   */
  user: string;
  /** `git+ssh://127.0.0.1:PORT/acme/<name>.git` */
  urlPattern: string;
  /** Every repository served so far, by name, as job files spell its URL. */
  repositories: Record<string, string>;
  /** The client's private key (authorized read-only); also in env[keyEnv]. */
  keyPath: string;
  /** The variable a job names in `sshKeyEnv`. */
  keyEnv: string;
  /** A known_hosts file with the host key (a job's `knownHostsFile`); checked strictly. */
  knownHostsFile: string;
  /**
   * For a git client by hand, without GIT_SSH_COMMAND in the environment:
   * `git -c core.sshCommand="<sshCommand>" clone <url>`. Jobs need none of it (sshKeyEnv and knownHostsFile).
   */
  sshCommand: string;
}

export interface SandboxGit {
  server: GitServer;
  /** `git+ssh://127.0.0.1:PORT/acme/<name>.git` */
  url(name: string): string;
  /** A served repository from a fixture bundle (see test/fixtures/git/SOURCES.md), listed in the descriptor. */
  createRepoFromBundle(name: string, bundle: string): Promise<string>;
}

export interface Sandbox {
  descriptor: SandboxDescriptor;
  privateNpm: RunningRegistry;
  github: RunningRegistry;
  standIn: CodeArtifactStandIn;
  /** The git host, when started (`git` option). */
  git?: SandboxGit;
  publicRegistries?: PublicRegistries;
  stop(): Promise<void>;
}

export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  mkdirSync(opts.dir, { recursive: true });
  const started: { stop(): Promise<void> }[] = [];
  try {
    const privateNpm = await startRegistry({ dir: join(opts.dir, 'private-npm'), requireAuthForReads: false, port: opts.ports?.privateNpm });
    started.push(privateNpm);
    const github = await startRegistry({ dir: join(opts.dir, 'github'), requireAuthForReads: true, port: opts.ports?.github });
    started.push(github);
    const publicRegs = opts.publicRegistries ? await startPublicRegistries({ dir: join(opts.dir, 'public') }) : undefined;
    if (publicRegs) started.push(publicRegs);
    const standIn = await CodeArtifactStandIn.start({
      domain: SANDBOX_DOMAIN,
      domainOwner: SANDBOX_OWNER,
      region: SANDBOX_REGION,
      // internal, store (with its external connection) and shared (internal first, then store) per format
      repositories: sandboxRepositoryLayout(opts.layout),
      ...(publicRegs ? { externalConnections: publicRegs.externalConnections } : {}),
      accessKeyId: SANDBOX_ACCESS_KEY,
      port: opts.ports?.codeartifact,
      ...opts.standIn,
    });
    started.push(standIn);
    const git = opts.git ? await startGitHost(opts.dir, opts.ports?.git, opts.git === true ? undefined : opts.git.knownHostsFile) : undefined;
    if (git) started.push(git);
    const descriptor: SandboxDescriptor = {
      privateNpm: { url: privateNpm.url, token: privateNpm.token, tokenEnv: 'CAM_DEMO_NPM_TOKEN' },
      github: { url: github.url, token: github.token, tokenEnv: 'CAM_DEMO_GITHUB_TOKEN' },
      codeartifact: {
        endpoint: standIn.url,
        region: SANDBOX_REGION,
        domain: SANDBOX_DOMAIN,
        domainOwner: SANDBOX_OWNER,
        repositories: [...SANDBOX_REPOSITORIES],
        npmEndpoint: standIn.npmEndpoint('npm-internal'),
        pypiEndpoint: standIn.pypiEndpoint('pypi-internal'),
        genericRepository: 'go-internal',
        accessKeyId: SANDBOX_ACCESS_KEY,
        secretAccessKey: SANDBOX_SECRET_KEY,
      },
      ...(git ? { git: git.descriptor } : {}),
      env: {
        CAM_DEMO_NPM_TOKEN: privateNpm.token,
        CAM_DEMO_GITHUB_TOKEN: github.token,
        AWS_ACCESS_KEY_ID: SANDBOX_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: SANDBOX_SECRET_KEY,
        AWS_REGION: SANDBOX_REGION,
        AWS_ENDPOINT_URL_CODEARTIFACT: standIn.url,
        AWS_ENDPOINT_URL_STS: standIn.url,
        AWS_ENDPOINT_URL_SERVICE_QUOTAS: standIn.url,
        ...(git ? { [SANDBOX_GIT_KEY_ENV]: git.descriptor.keyPath } : {}),
      },
    };
    return {
      descriptor,
      privateNpm,
      github,
      standIn,
      ...(git ? { git: git.api } : {}),
      ...(publicRegs ? { publicRegistries: publicRegs } : {}),
      stop: async () => {
        await Promise.allSettled(started.reverse().map((s) => s.stop()));
      },
    };
  } catch (e) {
    await Promise.allSettled(started.reverse().map((s) => s.stop()));
    throw e;
  }
}

// ---------------------------------------------------------------- claiming a sandbox folder

/**
 * Before `npm run demo` or `npm run sandbox` empties its folder (and the demo its job's state)
 * and starts servers on fixed ports: take the folder's lock (`<dir>.lock.db`, held by the
 * kernel until release() or this process's end), stop the sshd a killed predecessor left
 * running from the folder (Verdaccio and the stand-in live in that process and died with
 * it; sshd is a child of its own, and a SIGTERM, a closed terminal or kill -9 of the demo
 * leaves it holding its port), then check every fixed port is free. Refused, it throws
 * before anything is removed: ELOCKED while another demo (or sandbox) uses the folder,
 * ELOCAL naming a port something else holds (a sandbox of another checkout, any program).
 * Returns the release function.
 */
export async function claimSandboxDir(dir: string, opts: { what: 'demo' | 'sandbox'; ports?: Record<string, number> }): Promise<() => void> {
  const folder = resolve(dir);
  mkdirSync(dirname(folder), { recursive: true });
  let release: () => void;
  try {
    release = acquireLock(folder, { command: opts.what });
  } catch (e) {
    if (!(e instanceof MigrateError) || e.code !== 'ELOCKED') throw e;
    const who = /\((pid [^)]*)\)$/.exec(e.message)?.[1];
    throw new MigrateError('ELOCKED', `another \`npm run ${opts.what}\` is using ${folder}${who ? ` (${who})` : ''}`, {
      cause: e,
      hint: 'wait for it to finish, or stop it (Ctrl-C), then run this again; nothing of it was touched',
    });
  }
  try {
    await stopOrphanSshd(join(folder, 'git', 'sshd_config'));
    for (const [role, port] of Object.entries(opts.ports ?? {})) {
      const why = await portTaken(port);
      if (why) {
        throw new MigrateError('ELOCAL', `cannot start ${role} on 127.0.0.1:${port}: ${why}`, {
          hint: `another \`npm run demo\` or \`npm run sandbox\` (from another checkout?) or another program holds it: stop it (\`ss -ltnp 'sport = :${port}'\` names it), then run this again; nothing was removed`,
        });
      }
    }
    return release;
  } catch (e) {
    release();
    throw e;
  }
}

/** Why 127.0.0.1:port cannot be listened on (e.g. "address already in use"), or undefined when it can. */
function portTaken(port: number): Promise<string | undefined> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => res(e.code === 'EADDRINUSE' ? 'the port is in use' : e.message));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => res(undefined)));
  });
}

/**
 * The sshd a sandbox in this folder started and could not stop (its process killed): one whose
 * command line names this folder's sshd_config. The caller holds the folder's lock, so no live
 * sandbox owns it. SIGTERM, then SIGKILL if it lingers.
 */
async function stopOrphanSshd(config: string): Promise<void> {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let line: string;
    try {
      // sshd retitles itself (`sshd: /usr/sbin/sshd -D -e -f <config> [listener] …`): one string, spaces between the words
      line = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (/^(sshd: )?\S*sshd /.test(line) && ` ${line} `.includes(` -f ${config} `)) pids.push(Number(entry));
  }
  if (pids.length === 0) return;
  const gone = (pid: number) => !alive(pid);
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    for (const pid of pids.filter((p) => !gone(p))) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone already
      }
    }
    for (let i = 0; i < 100 && !pids.every(gone); i++) await new Promise((r) => setTimeout(r, 20));
    if (pids.every(gone)) return;
  }
}

// ---------------------------------------------------------------- the git host

/**
 * What sshd runs for every login of the client key (authorized_keys `command=`), whatever
 * the client asked: the request is in SSH_ORIGINAL_COMMAND. Like a hosting service, it
 * maps `/acme/<name>.git` onto the folder that holds the repositories (so URLs do not
 * depend on where the checkout or the temp dir is) and serves fetches only: git sends
 * `git-upload-pack '<path>'` to fetch, `git-receive-pack` to push (refused here).
 */
function gitHostScript(reposDir: string): string {
  return `#!/bin/sh
# The sandbox's git host: read-only, repositories as /${SANDBOX_GIT_ORG}/<name>.git.
repos='${reposDir}'
cmd=\${SSH_ORIGINAL_COMMAND-}
case $cmd in
  "git-upload-pack '"*"'") path=\${cmd#"git-upload-pack '"}; path=\${path%"'"} ;;
  *) echo "sandbox git host: read-only, serves git-upload-pack '/${SANDBOX_GIT_ORG}/<name>.git' only (asked: $cmd)" >&2; exit 1 ;;
esac
rel=\${path#/}
case $rel in
  ${SANDBOX_GIT_ORG}/*.git) name=\${rel#${SANDBOX_GIT_ORG}/}; name=\${name%.git} ;;
  *) name= ;;
esac
case $name in
  ''|.*|*[!A-Za-z0-9._-]*) name= ;;
esac
if [ -z "$name" ] || [ ! -d "$repos/$name.git" ]; then
  echo "fatal: '$path' does not appear to be a git repository" >&2
  exit 128
fi
exec git-upload-pack "$repos/$name.git"
`;
}

async function startGitHost(sandboxDir: string, port: number | undefined, knownHostsFile: string | undefined) {
  const script = resolve(sandboxDir, 'git-host.sh');
  // the paths go into authorized_keys, a shell script and an ssh command line unquoted
  const safe = (p: string) => {
    if (!/^[A-Za-z0-9_./+@=-]+$/.test(p)) throw new Error(`sandbox: the git host cannot use the path ${JSON.stringify(p)}: use letters, digits and _./+@=- only`);
    return p;
  };
  safe(script);
  // restrict: no forwarding, no pty, no ~/.ssh/rc; command=: the script above, always
  const server = await startGitServer({ dir: join(sandboxDir, 'git'), port, authorizedKeyOptions: `restrict,command="${script}"` });
  try {
    // sshd runs the script only at a login, so writing it once the server has its folders is in time
    writeFileSync(script, gitHostScript(safe(server.reposDir)), { mode: 0o755 });
    let knownHosts = server.knownHosts;
    if (knownHostsFile) {
      knownHosts = safe(resolve(knownHostsFile));
      mkdirSync(resolve(knownHosts, '..'), { recursive: true });
      writeFileSync(knownHosts, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
    }
    const url = (name: string) => {
      server.repoPath(name); // checks the name
      return `git+ssh://127.0.0.1:${server.port}/${SANDBOX_GIT_ORG}/${name}.git`;
    };
    const descriptor: SandboxGitDescriptor = {
      host: '127.0.0.1',
      port: server.port,
      user: server.user,
      urlPattern: `git+ssh://127.0.0.1:${server.port}/${SANDBOX_GIT_ORG}/<name>.git`,
      repositories: {},
      keyPath: server.clientKey,
      keyEnv: SANDBOX_GIT_KEY_ENV,
      knownHostsFile: knownHosts,
      sshCommand: `ssh -F /dev/null -i ${server.clientKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes`,
    };
    const api: SandboxGit = {
      server,
      url,
      async createRepoFromBundle(name, bundle) {
        const path = await server.createRepoFromBundle(name, bundle);
        descriptor.repositories[name] = url(name);
        return path;
      },
    };
    return {
      descriptor,
      api,
      stop: async () => {
        try {
          await server.stop();
        } finally {
          rmSync(script, { force: true });
          if (knownHostsFile) rmSync(resolve(knownHostsFile), { force: true });
        }
      },
    };
  } catch (e) {
    await server.stop();
    throw e;
  }
}
