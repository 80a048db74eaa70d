/**
 * The record of a transfer's process group a killed run leaves beside its mirror: only
 * the git it names is stopped, never a process that got its pid later.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/errors.js';
import { redact } from '../../src/redact.js';
import { GitAccess } from '../../src/sources/git-access.js';
import { runTransfer, stopOrphanTransfer, TransferCut, TRANSFER_ENV } from '../../src/sources/git-transfer.js';
import { alive, goneSoon } from '../support/child.js';

const dir = mkdtempSync(join(tmpdir(), 'git-transfer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}
const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

describe('stopOrphanTransfer', () => {
  it('a record whose pid now leads a group that is not git (pid reuse), or names another start time or boot: nothing is signalled, the record is removed', async () => {
    const other = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    try {
      const pid = other.pid!;
      const file = join(dir, 'lib.git.pgid');
      for (const record of [`${pid} ${startTime(pid)} ${bootId()}`, `${pid} 1 ${bootId()}`, `${pid} ${startTime(pid)} another-boot`]) {
        writeFileSync(file, `${record}\n`);
        expect(await stopOrphanTransfer(file)).toBeUndefined();
        expect(existsSync(file)).toBe(false);
        expect(await alive(pid)).toBe(true);
      }
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('no record, or one naming a group that is gone: nothing to do', async () => {
    expect(await stopOrphanTransfer(join(dir, 'none.git.pgid'))).toBeUndefined();
    const file = join(dir, 'gone.git.pgid');
    writeFileSync(file, `999999999 1 ${bootId()}\n`);
    expect(await stopOrphanTransfer(file)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
  });

  it('a group whose git died first, leaving its members (ssh, index-pack) running: those that carry the transfer\'s token are stopped, each by its pid; one without it is not', async () => {
    // the leader starts two members in its group and exits, as a git killed alone would leave them;
    // the second member lacks the token, as a process that took a number of the group would
    const token = randomBytes(16).toString('hex');
    const leader = spawn('/bin/sh', ['-c', `sleep 300 & env -u ${TRANSFER_ENV} sleep 301 & exit 0`], { detached: true, stdio: 'ignore', env: { ...process.env, [TRANSFER_ENV]: token } });
    const pgid = leader.pid!;
    const file = join(dir, 'left.git.pgid');
    writeFileSync(file, `${pgid} ${startTime(pgid)} ${bootId()} ${token}\n`);
    await new Promise((r) => leader.on('exit', r));
    // env's environment is its own until it has started sleep
    for (let i = 0; i < 100 && groupMembers(pgid).some((m) => !cmdline(m).startsWith('sleep')); i++) await new Promise((r) => setTimeout(r, 20));
    const members = groupMembers(pgid);
    try {
      expect(members).toHaveLength(2);
      const [ours, stranger] = [members.find((m) => cmdline(m).includes('300'))!, members.find((m) => cmdline(m).includes('301'))!];
      expect(await stopOrphanTransfer(file)).toBe(pgid);
      expect(await goneSoon(ours)).toBe(true);
      expect(await alive(stranger)).toBe(true);
      expect(existsSync(file)).toBe(false);
    } finally {
      for (const m of members) killQuietly(m);
    }
  });

  it('a leaderless group whose members lack the token (a pid reused by `setsid sh -c "daemon & exit"`), or a record of an earlier release (no token): nothing is signalled, the record is removed', async () => {
    // not detached: setsid then makes the shell itself lead the new session and group (no fork)
    const leader = spawn('setsid', ['sh', '-c', 'sleep 600 & exit 0'], { stdio: 'ignore' });
    const pgid = leader.pid!;
    const start = startTime(pgid);
    await new Promise((r) => leader.on('exit', r));
    const members = groupMembers(pgid);
    const file = join(dir, 'reused.git.pgid');
    try {
      expect(members).toHaveLength(1);
      for (const record of [`${pgid} ${start} ${bootId()} ${randomBytes(16).toString('hex')}`, `${pgid} ${start} ${bootId()}`]) {
        writeFileSync(file, `${record}\n`);
        expect(await stopOrphanTransfer(file)).toBeUndefined();
        expect(existsSync(file)).toBe(false);
        expect(await alive(members[0]!)).toBe(true);
      }
    } finally {
      for (const m of members) killQuietly(m);
    }
  });

  it('a leader that is that git (pid, start time, name) is stopped only when its environment holds the record\'s token', async () => {
    const token = randomBytes(16).toString('hex');
    const { proc, pid } = fakeGit({ [TRANSFER_ENV]: token });
    const file = join(dir, 'leader.git.pgid');
    try {
      const start = startTime(pid);
      writeFileSync(file, `${pid} ${start} ${bootId()} ${randomBytes(16).toString('hex')}\n`);
      expect(await stopOrphanTransfer(file)).toBeUndefined();
      expect(existsSync(file)).toBe(false);
      expect(await alive(pid)).toBe(true);
      writeFileSync(file, `${pid} ${start} ${bootId()} ${token}\n`);
      expect(await stopOrphanTransfer(file)).toBe(pid);
      expect(await goneSoon(pid)).toBe(true);
      expect(existsSync(file)).toBe(false);
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('a pgid not written plainly (0042, +42, 1e3, 0x10) is no record: nothing signalled, the record removed', async () => {
    const token = randomBytes(16).toString('hex');
    const { proc, pid } = fakeGit({ [TRANSFER_ENV]: token });
    const file = join(dir, 'spelled.git.pgid');
    try {
      const start = startTime(pid);
      const spellings = [`0${pid}`, `+${pid}`, ` ${pid}`.replace(' ', '0'.repeat(3)), `0x${pid.toString(16)}`];
      if (/^[1-9]0+$/.test(String(pid))) spellings.push(`${String(pid)[0]}e${String(pid).length - 1}`);
      for (const pgid of spellings) {
        writeFileSync(file, `${pgid} ${start} ${bootId()}\n`);
        expect(await stopOrphanTransfer(file)).toBeUndefined();
        expect(existsSync(file)).toBe(false);
        expect(await alive(pid)).toBe(true);
      }
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('a record that is a FIFO, or a link to /dev/zero, is not read (it would block or never end): removed, nothing signalled', { timeout: 10_000 }, async () => {
    const fifo = join(dir, 'fifo.git.pgid');
    execFileSync('mkfifo', [fifo]);
    expect(await stopOrphanTransfer(fifo)).toBeUndefined();
    expect(existsSync(fifo)).toBe(false);
    const link = join(dir, 'zero.git.pgid');
    symlinkSync('/dev/zero', link);
    expect(await stopOrphanTransfer(link)).toBeUndefined();
    expect(() => lstatSync(link)).toThrow();
  });

  it.runIf(process.getuid?.() === 0)('a git of another user that this one cannot verify nor signal (EPERM): not reported stopped; the run fails that source and keeps the record', { timeout: 30_000 }, async () => {
    const token = randomBytes(16).toString('hex');
    const { proc, pid } = fakeGit({ [TRANSFER_ENV]: token });
    // a folder the other user can read and write: only the process is out of its reach
    const shared = mkdtempSync(join(tmpdir(), 'git-transfer-eperm-'));
    chmodSync(shared, 0o777);
    const file = join(shared, 'root.git.pgid');
    try {
      writeFileSync(file, `${pid} ${startTime(pid)} ${bootId()} ${token}\n`, { mode: 0o644 });
      const script = join(shared, 'stop.mts');
      writeFileSync(
        script,
        [
          `import { stopOrphanTransfer } from ${JSON.stringify(resolve('src/sources/git-transfer.ts'))};`,
          `import { GitAccess } from ${JSON.stringify(resolve('src/sources/git-access.ts'))};`,
          `await stopOrphanTransfer(process.argv[2]).then((r) => console.log('stopped', r), (e) => console.log('threw', e.name, e.pgid));`,
          // what the source's fetch fails with: its own error, not a fetch beside the old git
          `const access = new GitAccess({}, { owner: 'source "lib"', keyFilePath: ${JSON.stringify(join(shared, 'key'))} });`,
          `await access.updateMirror(${JSON.stringify(join(shared, 'root.git'))}, 'https://git.invalid/lib.git').then(() => console.log('fetched'), (e) => console.log(e.code, e.message, '|', e.hint));`,
        ].join('\n'),
        { mode: 0o644 },
      );
      const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', resolve('node_modules/.bin/tsx'), script, file], { encoding: 'utf8', timeout: 25_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: shared } });
      expect(run.stdout.trim().split('\n'), run.stderr).toEqual([
        `threw OrphanTransferStuck ${pid}`,
        `ESOURCE source "lib": git process group ${pid} is still writing into ${join(shared, 'root.git')} and could not be stopped | stop it (kill -- -${pid}, as its owner or root) and rerun`,
      ]);
      expect(await alive(pid)).toBe(true);
      expect(existsSync(file)).toBe(true);
    } finally {
      proc.kill('SIGKILL');
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it('a run that exits with its transfer running (a crash, a second Ctrl-C) kills the group and removes its record', { timeout: 30_000 }, async () => {
    const work = mkdtempSync(join(dir, 'exit-'));
    const script = join(work, 'crash.ts');
    const record = join(work, 'm.git.pgid');
    writeFileSync(
      script,
      [
        `import { existsSync, readFileSync } from 'node:fs';`,
        `import { runTransfer } from ${JSON.stringify(resolve('src/sources/git-transfer.ts'))};`,
        `const dir = ${JSON.stringify(work)};`,
        `runTransfer(['-c', 'protocol.ext.allow=always', 'clone', '--mirror', '--progress', '--', 'ext::sh -c sleep% 600', dir + '/m.partial'], { cwd: dir, env: { PATH: process.env.PATH }, idleMs: 600_000, watch: { dir: dir + '/m.partial', maxBytes: 1e9 }, groupFile: ${JSON.stringify(record)} }).catch(() => {});`,
        `const wait = setInterval(() => { if (existsSync(${JSON.stringify(record)})) { clearInterval(wait); console.log(readFileSync(${JSON.stringify(record)}, 'utf8').split(' ')[0]); process.exit(3); } }, 20);`,
      ].join('\n'),
    );
    const run = spawnSync(resolve('node_modules/.bin/tsx'), [script], { encoding: 'utf8', timeout: 25_000 });
    const pgid = Number(run.stdout.trim());
    try {
      expect(pgid).toBeGreaterThan(1);
      expect(existsSync(record)).toBe(false);
      expect(await goneSoon(pgid)).toBe(true);
      expect(groupMembers(pgid)).toEqual([]);
    } finally {
      if (pgid > 1) killGroupQuietly(pgid);
    }
  });
});

/** A process named `git` (a copy of sleep) leading a group of its own, with `env` added to its environment. */
function fakeGit(env: Record<string, string>): { proc: ReturnType<typeof spawn>; pid: number } {
  const bin = mkdtempSync(join(dir, 'bin-'));
  chmodSync(bin, 0o755);
  copyFileSync(execFileSync('sh', ['-c', 'command -v sleep']).toString().trim(), join(bin, 'git'));
  chmodSync(join(bin, 'git'), 0o755);
  const proc = spawn(join(bin, 'git'), ['300'], { detached: true, stdio: 'ignore', env: { ...process.env, ...env } });
  return { proc, pid: proc.pid! };
}

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
}

function killGroupQuietly(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** The living processes of process group `pgid`. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const rest = readFileSync(`/proc/${n}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return Number(rest[2]) === pgid && rest[0] !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

describe('runTransfer', () => {
  it('a link planted under the record\'s name is replaced, never written through', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep me\n');
    const record = join(dir, 'planted.git.pgid');
    symlinkSync(victim, record);
    await runTransfer(['version'], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, idleMs: 10_000, watch: { dir, maxBytes: 1e12 }, groupFile: record });
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
    expect(() => lstatSync(record)).toThrow();
  });

  it('a server that counts objects for three idle periods before it sends a byte (a large repository without bitmaps) is waited for, not taken for a trickle', async () => {
    const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, stdio: 'pipe' });
    const src = join(dir, 'busy-src');
    const mirror = join(dir, 'busy-mirror.git');
    execFileSync('git', ['init', '-q', '-b', 'main', src]);
    writeFileSync(join(src, 'a.txt'), 'one\n');
    git(src, 'add', '.');
    git(src, 'commit', '-qm', 'one');
    execFileSync('git', ['clone', '-q', '--mirror', src, mirror]);
    writeFileSync(join(src, 'a.txt'), 'two\n');
    git(src, 'commit', '-qam', 'two');
    // upload-pack runs this instead of pack-objects: progress every half second for 3 s, then the pack
    const hook = join(dir, 'busy-hook.sh');
    writeFileSync(hook, '#!/bin/sh\nfor i in 1 2 3 4 5 6; do echo "Counting objects: $i" >&2; sleep 0.5; done\nexec "$@"\n', { mode: 0o755 });
    const config = join(dir, 'busy-gitconfig');
    writeFileSync(config, `[uploadpack]\n\tpackObjectsHook = ${hook}\n`);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, GIT_CONFIG_GLOBAL: config, GIT_CONFIG_NOSYSTEM: '1' };
    await runTransfer(['fetch', '--progress', 'origin'], { cwd: mirror, env, idleMs: 1000, watch: { dir: mirror, maxBytes: 1e9 } });
    expect(execFileSync('git', ['rev-parse', 'main'], { cwd: mirror }).toString()).toBe(execFileSync('git', ['rev-parse', 'main'], { cwd: src }).toString());
  });

  it("git's stderr kept to its last 8000 characters: a credential URL the cut falls in is dropped whole, no piece of its password left for redact() to miss", async () => {
    const pw = `PLANTEDpw${randomBytes(12).toString('hex')}`;
    // the cut falls inside the password: of the URL, the last 10 characters of the password and the host stay
    const rest = '@git.example/acme/lib.git after ';
    const said = `${'x'.repeat(5_000)} https://deploy:${pw}${rest}${'y'.repeat(8_000 - 10 - rest.length)}`;
    expect(said.slice(-8_000).startsWith(pw.slice(-10))).toBe(true);
    const script = join(dir, 'say.sh');
    writeFileSync(script, `#!/bin/sh\nprintf '%s' '${said}' >&2\nexit 1\n`);
    chmodSync(script, 0o755);
    const failed = await runTransfer(['-c', `alias.say=!${script}`, 'say'], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, idleMs: 10_000, watch: { dir, maxBytes: 1e12 } }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(failed?.message).toMatch(/^git exited with 1: /);
    expect(failed!.message).toContain(' after yyy');
    expect(redact(failed!.message)).not.toContain(pw.slice(-8));
  });
});

describe("git's silence, not this process's", () => {
  it('git that spoke while this process was stalled past the idle timeout is heard: the transfer is not cut as silent', async () => {
    // a `git` first on PATH: once started (the marker), says a line after 0.3 s and exits 0 at 0.6 s
    const bin = join(dir, 'talking-bin');
    const started = join(dir, 'talking-started');
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'git'), `#!/bin/sh\ntouch ${started}\nsleep 0.3; echo "Receiving objects: 100%" >&2; sleep 0.3; exit 0\n`, { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dir };
    const transfer = runTransfer(['fetch', 'origin'], { cwd: dir, env, idleMs: 2000, watch: { dir, maxBytes: 1e12 } });
    // git running (however long a loaded machine took to start it), this process busy for 3 s: git's line waits
    // in the pipe, and the idle timer is long due when it ends. Busy in the check phase (setImmediate), as after
    // an I/O callback: the loop's next phase is its timers
    while (!existsSync(started)) await new Promise((r) => setTimeout(r, 10));
    await new Promise<void>((r) =>
      setImmediate(() => {
        const until = Date.now() + 3000;
        while (Date.now() < until);
        r();
      }),
    );
    await expect(transfer).resolves.toBeUndefined();
  });

  it('git that really says nothing is still cut as silent', async () => {
    const bin = join(dir, 'mute-bin');
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'git'), '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dir };
    const e = await runTransfer(['fetch', 'origin'], { cwd: dir, env, idleMs: 500, watch: { dir, maxBytes: 1e12 } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransferCut);
    expect((e as TransferCut).why).toBe('silent');
  });
});

describe('GitAccess.classify', () => {
  it("redacts what git said before cutting it to 600 characters: a credential URL at the cut shows no piece of its password", () => {
    const pw = `PLANTEDpw${randomBytes(12).toString('hex')}`;
    const access = new GitAccess({}, { owner: 'source "lib"', keyFilePath: join(dir, 'classify-key') });
    // one line, the password straddling character 600 of what git said
    const said = `git exited with 128: fatal: unable to access ${'x'.repeat(520)} https://deploy:${pw}@git.example/acme/lib.git: The requested URL returned error: 500`;
    expect(said.indexOf(pw)).toBeLessThan(600);
    expect(said.indexOf(pw) + pw.length).toBeGreaterThan(600);
    const e = access.classify(new Error(said), 'fetch of git.example/acme/lib.git', 'lib', { notFound: 'check the url' });
    expect(e).toBeInstanceOf(MigrateError);
    expect(e.code).toBe('ESOURCE');
    expect(redact(e.message)).not.toContain(pw.slice(0, 12));
  });
});
