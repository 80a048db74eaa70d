/**
 * `npm run sandbox [-- --seed] [-- --random-ports]`: start the local sandbox (two
 * Verdaccio registries, the CodeArtifact stand-in, and the git host: sshd serving
 * `git+ssh://127.0.0.1:14822/acme/<name>.git` read-only), print one JSON object with
 * every URL, credential and the git key's path (also written to state/sandbox.json),
 * and run until SIGTERM/SIGINT. It starts empty each time; `--seed` publishes the
 * demo's sample packages and creates its git repositories (broken tags included).
 * Ports, and the known_hosts file (state/sandbox-known_hosts), are the ones
 * jobs/demo.yaml names.
 */
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MigrateError } from '../../src/errors.js';
import { claimSandboxDir, startSandbox, type Sandbox } from './sandbox.js';
import { seedPackages } from './npm-fixtures.js';
import { DEMO_KNOWN_HOSTS, DEMO_PORT_ROLES, DEMO_PORTS, githubPackages, privateNpmPackages, seedGitRepositories } from './demo-data.js';

const args = new Set(process.argv.slice(2));
const fixed = !args.has('--random-ports');
const dir = join('state', 'sandbox');

let sandbox: Sandbox;
// referenced until stop(): an unreferenced lock is closed, and so released, by the garbage collector
let releaseClaim: () => void;
try {
  // a second sandbox (or a demo, or one of another checkout, on the fixed ports) is refused before this
  // folder is emptied; a killed one's sshd is stopped. The claim is held until this process ends.
  releaseClaim = await claimSandboxDir(dir, { what: 'sandbox', ports: fixed ? DEMO_PORT_ROLES : undefined });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync('state', { recursive: true });
  sandbox = await startSandbox({
    dir,
    ports: fixed ? DEMO_PORTS : undefined,
    git: { knownHostsFile: fixed ? DEMO_KNOWN_HOSTS : join(dir, 'known_hosts') },
  });
} catch (e) {
  // what and what to do, not a stack trace (an sshd not installed, a port taken)
  process.stderr.write(e instanceof MigrateError ? `sandbox: ${e.code}: ${e.message}\n${e.hint ? `  what to do: ${e.hint}\n` : ''}` : `sandbox: ${e instanceof Error ? e.message.trim() : String(e)}\n`);
  process.exit(1);
}
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await sandbox.stop();
  rmSync(join('state', 'sandbox.json'), { force: true });
  releaseClaim();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// a closed terminal: its sshd, a process of its own, would outlive it holding the port
process.on('SIGHUP', () => void stop());

try {
  if (args.has('--seed')) {
    await seedPackages(sandbox.privateNpm.url, sandbox.privateNpm.token, privateNpmPackages());
    await seedPackages(sandbox.github.url, sandbox.github.token, githubPackages());
    await seedGitRepositories(sandbox);
  }
} catch (e) {
  await sandbox.stop();
  throw e;
}
const json = JSON.stringify(sandbox.descriptor, null, 2);
writeFileSync(join('state', 'sandbox.json'), `${json}\n`);
process.stdout.write(`${json}\n`);
const git = sandbox.descriptor.git!;
const repos = Object.values(git.repositories);
process.stderr.write(
  [
    'sandbox running; SIGTERM or Ctrl-C stops it.',
    repos.length ? `git repositories (read-only, key in $${git.keyEnv}): ${repos.join(' ')}` : `git host: ${git.urlPattern} (no repositories: --seed creates the demo's)`,
    `export its env (the "env" object above) and run a job${fixed ? ', e.g. npm run cli -- run jobs/demo.yaml' : ''}`,
  ].join('\n') + '\n',
);
