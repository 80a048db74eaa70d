/**
 * builders/process: how far the kill of a build reaches, with real processes.
 * A build that calls setsid() (a daemon: `setsid sleep 1000 &`, os.setsid()
 * after a fork) leaves the process group; in the build's own PID namespace it
 * still dies with the build, at a timeout, an abort, or when the command exits.
 * This machine and CI have a working `unshare`: the namespace is required here,
 * not skipped when missing. The fallback (the process group alone) is run
 * explicitly, for the results that must not depend on the containment.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { buildsOffline, containment, credentialsHidden, hiddenPaths, hideFromBuilds, protectFromBuilds, runProcess, sealedFolder, type RunOptions } from '../src/builders/process.js';
import { alive, goneSoon, pidOfCommand } from './support/child.js';

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };
const ROOT = resolve(import.meta.dirname, '..');
let tmp: string;
let n = 0;
/** Every daemon a test started, killed after it whatever the test found. */
const started: number[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cam-contain-'));
});
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * A shell line that starts a daemon in a session of its own (out of the build's
 * process group), `sleep 300.<token>`, and waits until it runs. The test finds it by
 * that command line in this machine's /proc (`daemonPid`): the build has a /proc of
 * its own namespace, whose pids mean nothing out here. The line never holds the
 * daemon's argument itself (`$T`), so the build's shell is not taken for the daemon.
 */
function daemonLine(token: string): string {
  return `T=${token}; setsid sleep "300.$T" </dev/null >/dev/null 2>&1 & while ! grep -qs "30[0]\\.$T" /proc/[0-9]*/cmdline; do sleep 0.05; done`;
}

async function daemonPid(token: string): Promise<number> {
  const pid = await pidOfCommand(['sleep', `300.${token}`]);
  started.push(pid);
  return pid;
}

/** A process of this user with `secret` in the environment it was started with (what /proc/<pid>/environ shows), as the tool has its tokens. */
function withPlantedEnvironment(secret: string) {
  const holder = spawn('sleep', ['120'], { env: { PATH: '/usr/bin:/bin', CAM_TEST_PLANTED: secret }, stdio: 'ignore' });
  started.push(holder.pid!);
  return holder;
}

/** Unique in this machine's process list: what a daemon's command line carries. */
const token_ = () => `${process.pid}${++n}`;

function run(argv: string[], more: Partial<RunOptions> = {}) {
  return runProcess({ argv, cwd: tmp, env: ENV, timeoutMs: 60_000, ...more });
}

describe('a build in its own PID namespace', () => {
  it('is what this machine gives (unshare works here and in CI)', () => {
    expect(containment()).toBe('pid-namespace');
  });

  it('takes a setsid daemon down with it at the timeout', async () => {
    const token = token_();
    // 2 s, not less: the daemon must be running before the kill, also on a loaded machine
    const p = run(['sh', '-c', `${daemonLine(token)}; sleep 300`], { timeoutMs: 2000 });
    const pid = await daemonPid(token);
    const res = await p;
    expect(res.timedOut).toBe(true);
    expect(res.signal).toBe('SIGKILL');
    expect(await goneSoon(pid), `daemon ${pid}`).toBe(true);
  });

  it('takes a setsid daemon down with it when the command exits on its own', async () => {
    const token = token_();
    const p = run(['sh', '-c', `${daemonLine(token)}; sleep 0.5; exit 0`]);
    const pid = await daemonPid(token);
    const res = await p;
    expect(res).toMatchObject({ exitCode: 0, signal: null, timedOut: false, aborted: false });
    expect(await goneSoon(pid), `daemon ${pid}`).toBe(true);
  });

  it('takes a setsid daemon down with it on abort', async () => {
    const token = token_();
    const ac = new AbortController();
    const p = run(['sh', '-c', `${daemonLine(token)}; sleep 300`], { signal: ac.signal });
    const pid = await daemonPid(token);
    expect(await alive(pid)).toBe(true);
    ac.abort();
    const res = await p;
    expect(res.aborted).toBe(true);
    expect(await goneSoon(pid), `daemon ${pid}`).toBe(true);
  });

  it('takes the build and its setsid daemon down when the tool itself is killed with SIGKILL (nothing of ours runs then)', async () => {
    const token = token_();
    // the tool: a node process running one build, killed with -9 while it runs
    const tool = join(tmp, `tool-${++n}.mts`);
    // the build, by its last command: `sleep 301.<token>`, found by its command line as the daemon is
    const line = `${daemonLine(token)}; sleep 301.${token}`;
    await writeFile(tool, `import { runProcess } from ${JSON.stringify(join(ROOT, 'src/builders/process.ts'))};\nawait runProcess({ argv: ['sh', '-c', ${JSON.stringify(line)}], cwd: ${JSON.stringify(tmp)}, env: ${JSON.stringify(ENV)}, timeoutMs: 600_000 });\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', tool], { cwd: ROOT, stdio: 'ignore' });
    try {
      const daemon = await daemonPid(token);
      const build = await pidOfCommand(['sleep', `301.${token}`]);
      started.push(build);
      expect(await alive(build)).toBe(true);
      child.kill('SIGKILL');
      expect(await goneSoon(build), `build ${build}`).toBe(true);
      expect(await goneSoon(daemon), `daemon ${daemon}`).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('gives the command exactly the environment it is given (nothing added, not even PWD)', async () => {
    const env = { PATH: '/usr/bin:/bin', SPACED: 'a b', EMPTY: '' };
    const res = await runProcess({ argv: ['env'], cwd: tmp, env, timeoutMs: 60_000 });
    expect(res.output.trimEnd().split('\n').sort()).toEqual(['EMPTY=', 'PATH=/usr/bin:/bin', 'SPACED=a b']);
  });
});

describe('with only a process group (the fallback)', () => {
  it("a build reads the environment of this user's other processes (the tool's tokens) through /proc: the other hole the namespace closes (the plan's audit says so)", async () => {
    const holder = withPlantedEnvironment('cam-fallback-planted-1f3a');
    try {
      const res = await run(['sh', '-c', `for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done 2>/dev/null`], { containment: 'process-group' });
      expect(res.output).toContain('CAM_TEST_PLANTED=cam-fallback-planted-1f3a');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a setsid daemon escapes: the hole the namespace closes', async () => {
    const token = token_();
    const res = await run(['sh', '-c', `${daemonLine(token)}; exit 0`], { containment: 'process-group' });
    expect(res.exitCode).toBe(0);
    const pid = await daemonPid(token);
    expect(await alive(pid)).toBe(true);
  });

  it('a command that exited on its own is not called timed out when its escaped daemon holds the output open past the timeout (the group is not signalled again)', async () => {
    const token = token_();
    // the daemon keeps stdout and stderr: 'close' waits out the close grace (2 s from the exit),
    // past the 1.9 s timeout however soon the command exits. 1.9 s, not 1: a loaded machine may
    // take a second to start the daemon and see it in /proc (then the command itself timed out)
    const line = `T=${token}; setsid sleep "300.$T" & while ! grep -qs "30[0]\\.$T" /proc/[0-9]*/cmdline; do sleep 0.05; done; exit 0`;
    const res = await run(['sh', '-c', line], { containment: 'process-group', timeoutMs: 1900 });
    await daemonPid(token);
    expect(res).toMatchObject({ exitCode: 0, signal: null, timedOut: false, aborted: false });
  });
});

describe.each([
  ['as root', {}],
  ['as a user who is not root gets it (nested user namespace)', { containment: 'user-namespace' }],
] as const)("the account's credential files, covered from the build %s", (_name, contain) => {
  const SECRET = 'cam-planted-secret-7c1e';
  let home: string;
  let elsewhere: string;
  let agent: ReturnType<typeof createServer>;
  const saved: Record<string, string | undefined> = {};
  const VARS = ['HOME', 'AWS_SHARED_CREDENTIALS_FILE', 'SSH_AUTH_SOCK', 'KUBECONFIG'] as const;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cam-home-'));
    elsewhere = await mkdtemp(join(tmpdir(), 'cam-creds-'));
    for (const [path, body] of Object.entries({
      '.aws/credentials': `[default]\naws_secret_access_key = ${SECRET}\n`,
      '.ssh/id_ed25519': `fake ssh key for this test: ${SECRET}\n`,
      '.npmrc': `//registry.example/:_authToken=${SECRET}\n`,
      '.config/gh/hosts.yml': `github.com:\n  oauth_token: ${SECRET}\n`,
      '.git-credentials': `https://x:${SECRET}@git.example\n`,
    })) {
      await mkdir(dirname(join(home, path)), { recursive: true });
      await writeFile(join(home, path), body);
    }
    await writeFile(join(elsewhere, 'aws-credentials'), SECRET);
    await writeFile(join(elsewhere, 'unrelated.txt'), 'visible-control\n');
    await writeFile(join(elsewhere, 'deploy-key'), SECRET);
    agent = createServer((c) => c.end(SECRET));
    await new Promise<void>((r) => agent.listen(join(elsewhere, 'agent.sock'), r));
    for (const v of VARS) saved[v] = process.env[v];
    process.env.HOME = home;
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(elsewhere, 'aws-credentials');
    process.env.SSH_AUTH_SOCK = join(elsewhere, 'agent.sock');
    // inside a covered folder: covered with it, not on its own (which would fail)
    process.env.KUBECONFIG = join(home, '.config', 'gh', 'hosts.yml');
    hideFromBuilds(join(elsewhere, 'deploy-key'));
  });
  afterAll(async () => {
    for (const v of VARS) if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
    await new Promise((r) => agent.close(r));
    await rm(home, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });

  it('is what this machine gives (mount namespaces work here and in CI)', () => {
    expect(credentialsHidden()).toBe(true);
  });

  it('reads none of them (files, folders, the ssh agent, a source key), works in its own folder, and leaves them as they were', async () => {
    const work = join(home, 'migration', 'work');
    await mkdir(work, { recursive: true });
    const read = [
      ...['.aws/credentials', '.ssh/id_ed25519', '.npmrc', '.config/gh/hosts.yml', '.git-credentials'].map((f) => join(home, f)),
      join(elsewhere, 'aws-credentials'),
      join(elsewhere, 'deploy-key'),
      // a control: what no variable names stays readable (the cats above did run)
      join(elsewhere, 'unrelated.txt'),
    ];
    // a hostile setup.py would do this: read every file it knows, ask the agent, list the folders
    const script = [
      ...read.map((f) => `cat '${f}' 2>/dev/null`),
      `node -e 'require("net").connect(process.argv[1]).on("data", (d) => process.stdout.write(d)).on("error", () => {})' '${join(elsewhere, 'agent.sock')}'`,
      `ls -A '${home}/.aws' '${home}/.ssh' '${home}/.config'`,
      // lifting a cover: directly, or as the root of namespaces of its own
      `umount '${home}/.aws' 2>/dev/null; cat '${home}/.aws/credentials' 2>/dev/null`,
      `unshare --user --map-root-user --mount sh -c "umount -l '${home}/.aws'; umount -l '${home}/.npmrc'; cat '${home}/.aws/credentials' '${home}/.npmrc'" 2>/dev/null`,
      // and every environment /proc shows it (a process of this user holds the secret in its own, as the tool holds its tokens)
      `for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done 2>/dev/null`,
      'echo built > out.txt && cat out.txt',
    ].join('; ');
    const holder = withPlantedEnvironment(SECRET);
    const res = await runProcess({ argv: ['sh', '-c', script], cwd: work, env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` }, timeoutMs: 60_000, ...contain }).finally(() => holder.kill('SIGKILL'));
    expect(res.exitCode, res.output).toBe(0);
    expect(res.output).not.toContain(SECRET);
    expect(res.output).toContain('visible-control');
    expect(res.output).toContain('built');
    // outside the build, everything as it was, and nothing of the covers left mounted
    expect(await readFile(join(home, '.npmrc'), 'utf8')).toContain(SECRET);
    expect(await readFile(join(elsewhere, 'deploy-key'), 'utf8')).toBe(SECRET);
    expect(await readFile(join(work, 'out.txt'), 'utf8')).toBe('built\n');
    expect(await readFile('/proc/self/mounts', 'utf8')).not.toContain('cam-hidden');
  });

  it("reads none of the other package managers' credentials an operator of CodeArtifact keeps (aws codeartifact login writes them: Maven, Gradle, NuGet, Cargo, RubyGems), the EKS Pod Identity token, nor the container's secrets", async () => {
    const files = ['.m2/settings.xml', '.gradle/gradle.properties', '.nuget/NuGet/NuGet.Config', '.cargo/credentials.toml', '.gem/credentials', '.terraform.d/credentials.tfrc.json'];
    for (const f of files) {
      await mkdir(dirname(join(home, f)), { recursive: true });
      await writeFile(join(home, f), `token ${SECRET}\n`);
    }
    const podToken = join(elsewhere, 'eks-pod-identity-token');
    await writeFile(podToken, SECRET);
    const savedPod = process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = podToken;
    // Docker's and Kubernetes' secrets (/run/secrets, /var/run/secrets/kubernetes.io/serviceaccount): root may plant one
    const runSecrets = '/run/secrets';
    const made = process.getuid?.() === 0 && !existsSync(runSecrets);
    const planted = process.getuid?.() === 0 ? join(runSecrets, `cam-test-${process.pid}-${++n}`) : undefined;
    if (made) await mkdir(runSecrets);
    if (planted) await writeFile(planted, SECRET);
    const work = join(home, 'migration', 'work2');
    await mkdir(work, { recursive: true });
    try {
      const read = [...files.map((f) => join(home, f)), podToken, ...(planted ? [planted] : []), join(elsewhere, 'unrelated.txt')];
      const res = await runProcess({ argv: ['sh', '-c', read.map((f) => `cat '${f}' 2>/dev/null`).join('; ') + '; true'], cwd: work, env: { PATH: '/usr/bin:/bin' }, timeoutMs: 60_000, ...contain });
      expect(res.exitCode, res.output).toBe(0);
      expect(res.output).toContain('visible-control');
      expect(res.output).not.toContain(SECRET);
    } finally {
      if (savedPod === undefined) delete process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
      else process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = savedPod;
      if (planted) await rm(planted, { force: true });
      if (made) await rm(runSecrets, { recursive: true, force: true });
    }
  });

  it('writes only its own folders and the temp folders: not the home, the state, the file system, nor the tool; no remount or namespace of its own lifts that', async () => {
    // the state directory outside the home, in the system's temp folder (writable but for what is protected)
    const state = await mkdtemp(join(elsewhere, 'state-'));
    protectFromBuilds(state);
    const work = join(state, 'tmp', 'checkout');
    const out = join(state, 'tmp', 'out');
    await mkdir(work, { recursive: true });
    await mkdir(out, { recursive: true });
    const token = `cam-ro-${process.pid}-${++n}`;
    // where a hostile build would leave something for later: a shell's rc, the state's git mirror, the system, the tool's own code
    const denied = [join(home, '.bashrc'), join(state, 'git-hook'), join(state, 'tmp', 'other-build'), `/etc/${token}`, join(ROOT, `${token}.js`), join(ROOT, 'node_modules', `${token}.js`)];
    const allowed = [join(work, 'built'), join(out, 'dist.whl'), join(tmpdir(), `${token}-tmp`)];
    const write = (f: string) => `(echo x > '${f}') 2>/dev/null && echo 'wrote ${f}' || echo 'refused ${f}'`;
    // a file protected on its own in a writable folder (a job file in /tmp), beside one that is not
    const jobFile = join(elsewhere, `job-${token}.yaml`);
    const sibling = join(elsewhere, `sibling-${token}.txt`);
    await writeFile(jobFile, 'name: job\n');
    await writeFile(sibling, 'sibling\n');
    protectFromBuilds(jobFile);
    const script = [
      write(jobFile),
      write(sibling),
      ...denied.map(write),
      ...allowed.map(write),
      // lifting it: a remount, or the same as the root of namespaces of its own
      `mount -o remount,bind,rw '${state}' 2>/dev/null; ${write(join(state, 'after-remount'))}`,
      `unshare --user --map-root-user --mount sh -c "mount -o remount,bind,rw '${state}'; umount -l '${state}'; echo x > '${join(state, 'after-unshare')}'" 2>/dev/null; echo done`,
    ].join('; ');
    try {
      const res = await runProcess({ argv: ['sh', '-c', script], cwd: work, env: { PATH: '/usr/bin:/bin' }, timeoutMs: 60_000, writable: [out], ...contain });
      for (const f of denied) expect(res.output).toContain(`refused ${f}`);
      for (const f of allowed) expect(res.output).toContain(`wrote ${f}`);
      for (const f of [...denied, join(state, 'after-remount'), join(state, 'after-unshare')]) expect(existsSync(f), f).toBe(false);
      expect(res.output).toContain(`refused ${jobFile}`);
      expect(await readFile(jobFile, 'utf8')).toBe('name: job\n');
      expect(await readFile(sibling, 'utf8')).toBe('x\n');
    } finally {
      for (const f of [...denied, ...allowed]) await rm(f, { force: true });
    }
  });

  it('offline: reaches no port of this machine (nor any other host: no interface is up), while the same command online does', async () => {
    expect(buildsOffline()).toBe(true);
    const seen: string[] = [];
    const listener = createServer((c) => {
      seen.push('connection');
      c.end('hello');
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as AddressInfo).port;
    // what a hostile setup.py would do with what it read: send it to a host (here, a port on this machine's loopback)
    const tryConnect = (host: string) =>
      `node -e 'require("net").connect(${port}, "${host}").on("connect", () => console.log("${host} connected")).on("error", (e) => console.log("${host}", e.code)).setTimeout(3000, function () { console.log("${host} timeout"); this.destroy(); })'`;
    const argv = ['sh', '-c', `${tryConnect('127.0.0.1')}; ${tryConnect('169.254.169.254')}`];
    const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` };
    try {
      const off = await runProcess({ argv, cwd: tmp, env, timeoutMs: 60_000, offline: true, ...contain });
      expect(off.output).toContain('127.0.0.1 ENETUNREACH');
      expect(off.output).toContain('169.254.169.254 ENETUNREACH');
      expect(seen).toEqual([]);
      const on = await runProcess({ argv, cwd: tmp, env, timeoutMs: 60_000, ...contain });
      expect(on.output).toContain('127.0.0.1 connected');
      expect(seen).toEqual(['connection']);
    } finally {
      await new Promise((r) => listener.close(r));
    }
  });

  it('never covers the folder the build works in: a home, a cwd or a TMPDIR inside ~/.config keeps ~/.config visible, the rest covered', () => {
    const inConfig = join(home, '.config', 'cam', 'work');
    const paths = hiddenPaths({ cwd: inConfig, env: {} }).map((h) => h.path);
    expect(paths).not.toContain(join(home, '.config'));
    expect(paths).toEqual(expect.arrayContaining([join(home, '.aws'), join(home, '.npmrc'), join(elsewhere, 'deploy-key')]));
    expect(hiddenPaths({ cwd: tmp, env: { HOME: join(home, '.ssh') } }).map((h) => h.path)).not.toContain(join(home, '.ssh'));
    // one folder covers what it holds: KUBECONFIG inside ~/.config is not covered on its own
    expect(hiddenPaths({ cwd: tmp, env: {} }).filter((h) => h.path.startsWith(join(home, '.config')))).toEqual([{ path: join(home, '.config'), dir: true }]);
  });

  it("covers the machine's own index credentials too: pip's site-wide config (file and folder), pip's old per-user folder, and npm's builtin npmrc beside the npm on the build's PATH", async () => {
    const etc = await mkdtemp(join(tmpdir(), 'cam-etc-'));
    try {
      await writeFile(join(etc, 'pip.conf'), `[global]\nindex-url = https://aws:${SECRET}@pypi.example/simple/\n`);
      await mkdir(join(etc, 'xdg-pip'));
      await mkdir(join(home, '.pip'), { recursive: true });
      await writeFile(join(home, '.pip', 'pip.conf'), `[global]\nindex-url = https://u:${SECRET}@pypi.example/simple/\n`);
      // an npm of its own on the build's PATH: <its folder>/bin/npm-cli.js, and its builtin <its folder>/npmrc
      const npmDir = join(etc, 'lib', 'node_modules', 'npm');
      await mkdir(join(npmDir, 'bin'), { recursive: true });
      await writeFile(join(npmDir, 'bin', 'npm-cli.js'), '#!/bin/sh\n', { mode: 0o755 });
      await writeFile(join(npmDir, 'npmrc'), `//registry.example/:_authToken=${SECRET}\n`);
      await mkdir(join(etc, 'bin'));
      await symlink(join(npmDir, 'bin', 'npm-cli.js'), join(etc, 'bin', 'npm'));
      const paths = hiddenPaths({ cwd: tmp, env: { PATH: `${join(etc, 'bin')}:/usr/bin:/bin` } }, [join(etc, 'pip.conf'), join(etc, 'xdg-pip'), join(etc, 'absent.conf')]);
      expect(paths).toEqual(expect.arrayContaining([{ path: join(etc, 'pip.conf'), dir: false }, { path: join(etc, 'xdg-pip'), dir: true }, { path: join(home, '.pip'), dir: true }, { path: join(npmDir, 'npmrc'), dir: false }]));
      expect(paths.map((p) => p.path)).not.toContain(join(etc, 'absent.conf'));
    } finally {
      await rm(etc, { recursive: true, force: true });
      await rm(join(home, '.pip'), { recursive: true, force: true });
    }
  });
});

describe.each([
  ['as root', {}],
  ['as a user who is not root gets it (nested user namespace)', { containment: 'user-namespace' }],
] as const)('the sealed folder, for a command given its own part of it to reveal %s', (_name, contain) => {
  it('shows that part, writable as it was, and nothing else there: not what was there before, not what is written after the command started', async () => {
    const parent = await mkdtemp(join(tmp, 'state-tmp-'));
    const sealed = sealedFolder(parent);
    const sync = await mkdtemp(join(tmp, 'sync-'));
    await writeFile(join(sealed, 'ssh-key-other-src-1'), 'planted-before\n');
    const own = await mkdtemp(join(sealed, 'install-1-'));
    const deep = join(own, 'cache', 'deep');
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'mine'), 'own-content\n');
    const line = [
      `touch '${sync}/started'; i=0; while [ ! -e '${sync}/late' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done`,
      `echo "listed: $(ls -A '${sealed}' | tr '\\n' ' ')"`,
      `grep -rhs planted '${sealed}'`,
      `cat '${deep}/mine'`,
      `echo written > '${own}/new' && echo wrote`,
    ].join('; ');
    const running = runProcess({ argv: ['sh', '-c', line], cwd: tmp, env: ENV, timeoutMs: 180_000, writable: [own], reveal: [own], ...contain });
    while (!existsSync(join(sync, 'started'))) await new Promise((r) => setTimeout(r, 20));
    await writeFile(join(sealed, 'ssh-key-late-src-1'), 'planted-after\n');
    await writeFile(join(sync, 'late'), '');
    const res = await running;
    expect(res.exitCode, res.output).toBe(0);
    expect(res.output).toContain(`listed: ${basename(own)} \n`);
    expect(res.output).not.toContain('planted');
    expect(res.output).toContain('own-content');
    expect(res.output).toContain('wrote');
    expect(await readFile(join(own, 'new'), 'utf8')).toBe('written\n');
    // and a command not given it sees none of it
    const other = await runProcess({ argv: ['sh', '-c', `ls -A '${sealed}' | wc -l`], cwd: tmp, env: ENV, timeoutMs: 60_000, ...contain });
    expect(other.output.trim()).toBe('0');
    expect(hiddenPaths({ cwd: tmp, env: {}, reveal: [own] }).filter((h) => h.path === sealed)).toEqual([{ path: sealed, dir: true, reveal: [own] }]);
  });
});

// The result means the same whichever containment ran the command.
describe.each([
  ['pid-namespace', {}],
  ['a nested user namespace', { containment: 'user-namespace' }],
  ['process-group', { containment: 'process-group' }],
] as const)('results, contained by %s', (_name, contain) => {
  it('exit 3: exitCode 3, stdout and stderr both in the output', async () => {
    const res = await run(['sh', '-c', 'echo out; echo err >&2; exit 3'], contain);
    expect(res).toMatchObject({ exitCode: 3, signal: null, timedOut: false, aborted: false });
    expect(res.output.split('\n').sort()).toEqual(['', 'err', 'out']);
  });

  it('exit 143 is an exit code, not a signal', async () => {
    const res = await run(['sh', '-c', 'exit 143'], contain);
    expect(res).toMatchObject({ exitCode: 143, signal: null });
  });

  it('killed by SIGTERM from inside (its own kill): signal SIGTERM, no exit code', async () => {
    // as the init of a namespace the shell would survive this: the command is the init's child
    const res = await run(['sh', '-c', 'kill -TERM $$; echo survived'], contain);
    expect(res).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: false, aborted: false });
    expect(res.output).not.toContain('survived');
  });

  it('a timeout: timedOut, killed by SIGKILL', async () => {
    const res = await run(['sleep', '300'], { ...contain, timeoutMs: 500 });
    expect(res).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true, aborted: false });
  });

  it('argv[0] is looked up in env.PATH, and the cwd is the one given', async () => {
    await writeFile(join(tmp, 'marker'), '');
    const res = await run(['ls', 'marker'], contain);
    expect(res).toMatchObject({ exitCode: 0, output: 'marker\n' });
  });

  it('a program that is not there rejects with ENOENT, as spawn does', async () => {
    const e = await run(['no-such-program-here'], contain).then(
      () => undefined,
      (err: unknown) => err as NodeJS.ErrnoException,
    );
    expect(e?.code).toBe('ENOENT');
  });

  it('a program given by a path that is not there (a mistyped build.python) rejects with ENOENT too, never an exit 127 the build is blamed for', async () => {
    const e = await run([join(tmp, 'no-such-python3'), '-m', 'build'], contain).then(
      () => undefined,
      (err: unknown) => err as NodeJS.ErrnoException,
    );
    expect(e?.code).toBe('ENOENT');
  });

  it('a missing cwd rejects with ENOENT', async () => {
    const e = await run(['true'], { ...contain, cwd: join(tmp, 'no-such-dir') }).then(
      () => undefined,
      (err: unknown) => err as NodeJS.ErrnoException,
    );
    expect(e?.code).toBe('ENOENT');
  });
});
