/**
 * A sandbox (with its git host) in a process of its own, for the tests of what a
 * demo killed without a chance to clean up leaves behind:
 *   sandbox-child.ts <dir>   start it in <dir>, print {"sshdPid":…,"gitPort":…} on stdout, run until killed
 */
import { startSandbox } from './sandbox.js';

const sandbox = await startSandbox({ dir: process.argv[2]!, git: true });
process.stdout.write(`${JSON.stringify({ sshdPid: sandbox.git!.server.pid, gitPort: sandbox.git!.server.port })}\n`);
setInterval(() => {}, 1000);
