/**
 * `npm run demo`: start the sandbox on the ports jobs/demo.yaml names, seed
 * sample packages, run the job end to end, rerun it (nothing left to do), and
 * print what happened. No AWS account is involved.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../src/cli/run.js';
import { processIo } from '../../src/cli/output.js';
import { startSandbox } from './sandbox.js';
import { seedPackages } from './npm-fixtures.js';
import { githubPackages, privateNpmPackages } from './demo-data.js';

const STATE = 'state';
const dir = join(STATE, 'sandbox-demo');
rmSync(dir, { recursive: true, force: true });
// a demo starts from nothing: a fresh sandbox needs a fresh state database
for (const f of ['demo.sqlite', 'demo.sqlite-wal', 'demo.sqlite-shm', 'demo.lock']) rmSync(join(STATE, f), { force: true });

const sandbox = await startSandbox({ dir, ports: { privateNpm: 14873, github: 14874, codeartifact: 14875 } });
let code = 1;
try {
  writeFileSync(join(STATE, 'sandbox.json'), `${JSON.stringify(sandbox.descriptor, null, 2)}\n`);
  process.stderr.write('seeding the sandbox registries…\n');
  await seedPackages(sandbox.privateNpm.url, sandbox.privateNpm.token, privateNpmPackages());
  await seedPackages(sandbox.github.url, sandbox.github.token, githubPackages());
  Object.assign(process.env, sandbox.descriptor.env);

  process.stdout.write('\n== codeartifact-migrate run jobs/demo.yaml\n');
  code = await runCommand('jobs/demo.yaml', { json: false, stateDir: STATE }, { ...processIo, stdout: Object.assign(process.stdout, { isTTY: true }) });
  process.stdout.write('\n== rerun: nothing left to do, nothing written\n');
  const before = sandbox.standIn.log.length;
  const again = await runCommand('jobs/demo.yaml', { json: false, stateDir: STATE, quiet: true }, { ...processIo, stdout: Object.assign(process.stdout, { isTTY: true }) });
  process.stdout.write(`requests sent to CodeArtifact by the rerun: ${sandbox.standIn.log.length - before}\n`);
  code = code || again;
  const publishes = sandbox.standIn.log.filter((e) => e.operation === 'npm:Publish' && e.status < 300).length;
  process.stdout.write(`\nCodeArtifact stand-in: ${publishes} versions published, ${sandbox.standIn.log.length} requests in its log.\n`);
  process.stdout.write(`Try it: codeartifact-migrate status jobs/demo.yaml\n`);
} finally {
  await sandbox.stop();
}
process.exitCode = code;
