/**
 * `npm run demo` and `npm run sandbox` empty their sandbox folder (and the demo its job's
 * state) before starting servers on fixed ports. A careless operator starts a second one
 * while the first runs, or kills the first (kill, a closed terminal) so it cannot stop its
 * sshd: the second must refuse before touching anything of the first, saying why, and a
 * demo after a killed one must find the ports free again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDemo } from './support/demo.js';
import { alive, canConnect } from './support/git-server.js';
import { TSX_LOADER } from './support/harness.js';
import { claimSandboxDir } from './support/sandbox.js';
import { failure } from './support/thrown.js';

const SUPPORT = resolve(import.meta.dirname, 'support');

let dir: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cam-demo-claim-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Start a support script; resolves with its first line on stdout. */
function child(script: string, args: string[]): Promise<{ proc: ChildProcess; line: string }> {
  // node itself, with tsx's loader: the tsx command runs the script in a child node of its own, and a
  // SIGKILL of the tsx command left that child running (the "killed" demo alive, its servers up, and
  // vitest held open by its end of the inherited stderr)
  const proc = spawn(process.execPath, ['--import', TSX_LOADER, join(SUPPORT, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  return new Promise((res, rej) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', (line) => res({ proc, line }));
    proc.once('exit', (code) => rej(new Error(`${script} exited ${code} before saying anything`)));
  });
}

const listening = canConnect;

describe('a second demo while one runs', () => {
  it('is refused with ELOCKED before it removes anything of the first: its sandbox folder and its state', async () => {
    const stateDir = join(dir, 'state');
    const sandboxDir = join(stateDir, 'sandbox-demo');
    mkdirSync(join(sandboxDir, 'private-npm'), { recursive: true });
    writeFileSync(join(sandboxDir, 'private-npm', 'config.yaml'), 'the first demo\'s\n');
    writeFileSync(join(stateDir, 'demo.sqlite'), 'the first demo\'s state\n');
    // the first demo, as another process holding its claim on the sandbox folder
    const first = await child('lock-contender.ts', [sandboxDir, join(dir, 'log'), 'hold']);
    expect(first.line).toBe('held');

    const out = new PassThrough().resume();
    const err = await failure(runDemo({ stateDir, sandboxDir, ports: 'random', out, err: new PassThrough().resume() }));
    expect(err).toMatchObject({ code: 'ELOCKED' });
    expect(err.message).toContain(sandboxDir);
    expect(readFileSync(join(sandboxDir, 'private-npm', 'config.yaml'), 'utf8')).toBe('the first demo\'s\n');
    expect(readFileSync(join(stateDir, 'demo.sqlite'), 'utf8')).toBe('the first demo\'s state\n');
  });
});

describe('claimSandboxDir', () => {
  let busy: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((res) => (busy ? busy.close(() => res()) : res()));
    busy = undefined;
  });

  it('names a fixed port something else holds, and what to do, before the folder is emptied', async () => {
    busy = createServer();
    await new Promise<void>((res) => busy!.listen(0, '127.0.0.1', res));
    const port = (busy.address() as AddressInfo).port;
    const sandboxDir = join(dir, 'sandbox');
    mkdirSync(sandboxDir);
    writeFileSync(join(sandboxDir, 'keep'), 'x');
    const err = await failure(claimSandboxDir(sandboxDir, { what: 'demo', ports: { 'the CodeArtifact stand-in': port } }));
    expect(err).toMatchObject({ code: 'ELOCAL' });
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toContain('the CodeArtifact stand-in');
    expect(err.hint).toMatch(/npm run (demo|sandbox)/);
    expect(existsSync(join(sandboxDir, 'keep'))).toBe(true);
    // and the claim was given back: the next try, the port free, gets it
    await new Promise<void>((res) => busy!.close(() => res()));
    busy = undefined;
    const release = await claimSandboxDir(sandboxDir, { what: 'demo', ports: { 'the CodeArtifact stand-in': port } });
    release();
  });

  it("stops the sshd a killed demo left running in the folder, so its port is free again", async () => {
    const sandboxDir = join(dir, 'sandbox');
    const { proc, line } = await child('sandbox-child.ts', [sandboxDir]);
    const { sshdPid, gitPort } = JSON.parse(line) as { sshdPid: number; gitPort: number };
    proc.kill('SIGKILL');
    await new Promise((res) => proc.once('exit', res));
    // the demo died without stopping it: its sshd lives on, holding the port
    expect(alive(sshdPid)).toBe(true);
    expect(await listening(gitPort)).toBe(true);

    const release = await claimSandboxDir(sandboxDir, { what: 'demo', ports: { 'the git host (sshd)': gitPort } });
    release();
    expect(alive(sshdPid)).toBe(false);
    expect(await listening(gitPort)).toBe(false);
  });
});
