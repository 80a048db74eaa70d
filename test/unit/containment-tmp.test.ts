/**
 * builders/process probes, once per process, how builds are contained; the probe of the
 * covers (a mount namespace hiding the credential files) needs a folder in the temp folder
 * to try them on. A temp folder that cannot hold one (full, or TMPDIR naming a file) must
 * not make the probe settle, for the life of the process, on a containment that covers
 * nothing (and the plan's audit blame the kernel): it is this machine's ELOCAL naming the
 * temp folder, and the probe runs again once the folder is usable. Its own file: the probe's
 * result is kept per module instance.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { containment, runProcess } from '../../src/builders/process.js';
import { MigrateError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cam-contain-tmp-'));
const was = process.env.TMPDIR;
afterAll(() => {
  if (was === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = was;
  rmSync(dir, { recursive: true, force: true });
});

it('a temp folder that cannot hold the probe is ELOCAL naming it (containment and a build alike), and the probe is made again once it can', async () => {
  const notAFolder = join(dir, 'not-a-folder');
  writeFileSync(notAFolder, '');
  process.env.TMPDIR = notAFolder;
  let thrown: unknown;
  try {
    containment();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(MigrateError);
  expect(thrown).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(notAFolder), hint: expect.stringContaining('TMPDIR') });
  await expect(runProcess({ argv: [process.execPath, '--version'], cwd: dir, env: {}, timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'ELOCAL' });

  process.env.TMPDIR = dir;
  expect(['pid-namespace', 'process-group']).toContain(containment());
  const run = await runProcess({ argv: [process.execPath, '--version'], cwd: dir, env: {}, timeoutMs: 30_000 });
  expect(run.exitCode).toBe(0);
});
