/**
 * diskFullError reads another program's output: a build or a git command that stopped for
 * want of room is this machine's (ELOCAL, the run stops), one that failed for another
 * reason is the tag's (EBUILD), even when its log merely mentions a full disk (a test that
 * prints the words, a changelog quoted by a script). The tool's own last words decide.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diskFullError } from '../../src/errors.js';

// a folder on a disk with room (statfs says so): nothing but the log could blame it
const dir = mkdtempSync(join(tmpdir(), 'cam-disk-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (n: number, what: string) => Array.from({ length: n }, (_, i) => `${what} ${i}`).join('\n');

describe('diskFullError', () => {
  it.each([
    {
      what: 'a Python test suite that prints the words, then fails on an assertion',
      output: `running tests\ntest_write_full (tests.test_io) ... ok: raised OSError: [Errno 28] No space left on device\n${lines(40, 'test_other ... ok')}\nFAIL: test_parse (tests.test_parse)\nAssertionError: 1 != 2\nERROR Backend subprocess exited when trying to invoke build_wheel`,
    },
    {
      what: 'an npm prepare script whose test log names ENOSPC, then a TypeScript error',
      output: `> prepare\n> tsc && node test.js\nok 1 - reports ENOSPC to the caller\n${lines(30, 'ok')}\nsrc/index.ts(3,1): error TS2304: Cannot find name 'foo'.\nnpm error code 2\nnpm error path /build\nnpm error command failed`,
    },
    {
      what: 'a Go build that vendors a file quoting strerror(), then fails to compile',
      output: `# example.com/mod\n// "No space left on device" is what ENOSPC says\n${lines(25, 'go: downloading')}\n./main.go:3:2: undefined: foo`,
    },
  ])('$what: not the disk (undefined, so the caller says EBUILD)', ({ output }) => {
    expect(diskFullError(output, null, dir, 'build into', 'pkg@1.0.0')).toBeUndefined();
  });

  it.each([
    {
      what: "Python's build, stopped by OSError Errno 28",
      output: `${lines(40, 'copying file')}\nTraceback (most recent call last):\n  File "setuptools/command/build_py.py", line 1, in run\nOSError: [Errno 28] No space left on device\n\nERROR Backend subprocess exited when trying to invoke build_wheel`,
    },
    {
      what: "npm, stopped by ENOSPC (npm's own closing lines)",
      output: `${lines(40, 'added')}\nnpm error code ENOSPC\nnpm error syscall write\nnpm error errno -28\nnpm error nospc Invalid response body while trying to fetch https://registry.npmjs.org/x: ENOSPC: no space left on device, write\nnpm error nospc There appears to be insufficient space on your system to finish.\nnpm error nospc Clear up some disk space and try again.\nnpm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log`,
    },
    {
      what: 'go, stopped by a write past the quota',
      output: `${lines(40, 'go: downloading')}\ngo: writing go.sum: write /state/work/go.sum: disk quota exceeded`,
    },
    {
      what: 'git, stopped by a full disk',
      output: `Cloning into 'x'...\nerror: unable to write file src/big.bin: No space left on device\nfatal: unable to checkout working tree`,
    },
  ])('$what: ELOCAL naming the folder', ({ output }) => {
    expect(diskFullError(output, null, dir, 'build into', 'pkg@1.0.0')).toMatchObject({ code: 'ELOCAL', message: expect.stringContaining(dir) });
  });

  it('a program killed by SIGXFSZ (a write past RLIMIT_FSIZE) is the disk whatever it printed', () => {
    expect(diskFullError('nothing about it', 'SIGXFSZ', dir, 'build into')).toMatchObject({ code: 'ELOCAL' });
  });
});
