/**
 * `npm run sandbox [-- --seed] [-- --random-ports]`: start the local sandbox
 * (two Verdaccio registries and the CodeArtifact stand-in), print one JSON
 * object with every URL and credential (also written to state/sandbox.json),
 * and run until SIGTERM/SIGINT. It starts empty each time; `--seed` publishes
 * the demo's sample packages. Ports are the ones jobs/demo.yaml names.
 */
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from './sandbox.js';
import { seedPackages } from './npm-fixtures.js';
import { githubPackages, privateNpmPackages } from './demo-data.js';

const args = new Set(process.argv.slice(2));
const dir = join('state', 'sandbox');
rmSync(dir, { recursive: true, force: true });
mkdirSync('state', { recursive: true });

const sandbox = await startSandbox({
  dir,
  ports: args.has('--random-ports') ? undefined : { privateNpm: 14873, github: 14874, codeartifact: 14875 },
});
if (args.has('--seed')) {
  await seedPackages(sandbox.privateNpm.url, sandbox.privateNpm.token, privateNpmPackages());
  await seedPackages(sandbox.github.url, sandbox.github.token, githubPackages());
}
const json = JSON.stringify(sandbox.descriptor, null, 2);
writeFileSync(join('state', 'sandbox.json'), `${json}\n`);
process.stdout.write(`${json}\n`);
process.stderr.write('sandbox running; export its env (see "env" above) and run a job; SIGTERM or Ctrl-C stops it\n');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await sandbox.stop();
  rmSync(join('state', 'sandbox.json'), { force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
