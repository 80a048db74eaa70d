/** `report JOB --json` run in this process against a test environment: the report model and its exit code. */
import { Writable } from 'node:stream';
import { reportCommand } from '../../src/cli/plan.js';
import type { Report } from '../../src/report/index.js';
import type { TestEnv } from './harness.js';

export async function reportInProcess(te: TestEnv, jobFile: string): Promise<{ code: number; report: Report }> {
  let out = '';
  const stdout = Object.assign(new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) }), { isTTY: false });
  const stderr = new Writable({ write: (_c, _e, done) => done() });
  const saved = process.env.CAM_LOCK_DIR;
  process.env.CAM_LOCK_DIR = te.env.CAM_LOCK_DIR;
  try {
    const code = await reportCommand(jobFile, { json: true, stateDir: te.stateDir, out: `${te.dir}/reports-${Date.now()}-${Math.random()}` }, { stdout, stderr });
    return { code, report: JSON.parse(out) as Report };
  } finally {
    if (saved === undefined) delete process.env.CAM_LOCK_DIR;
    else process.env.CAM_LOCK_DIR = saved;
  }
}
