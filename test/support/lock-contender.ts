/**
 * A process that competes for a job lock, for the lock tests:
 *   lock-contender.ts <base> <log> <ms>      try for <ms>, holding the lock ~15 ms each time it gets it
 *   lock-contender.ts <base> <log> hold      take it once, say "held" on stdout, keep it until killed
 *   lock-contender.ts <base> <log> once <go> say "ready", wait for the file <go>, try once: "got" (held 300 ms) or "busy"
 * Every acquisition appends "acq <pid>" to <log> and "rel <pid>" just before releasing:
 * appends are atomic, so the log is the exact order of events across processes.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { MigrateError } from '../../src/errors.js';
import { acquireLock } from '../../src/state/lock.js';

const [base, log, mode] = process.argv.slice(2) as [string, string, string];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (mode === 'once') {
  const go = process.argv[5]!;
  process.stdout.write('ready\n');
  while (!existsSync(go)) await sleep(1);
  try {
    const release = acquireLock(base);
    appendFileSync(log, `acq ${process.pid}\n`);
    process.stdout.write('got\n');
    await sleep(300);
    release();
  } catch (e) {
    if (!(e instanceof MigrateError) || e.code !== 'ELOCKED') throw e;
    process.stdout.write('busy\n');
  }
} else if (mode === 'hold') {
  acquireLock(base);
  appendFileSync(log, `acq ${process.pid}\n`);
  process.stdout.write('held\n');
  setInterval(() => {}, 1000);
} else {
  const until = Date.now() + Number(mode);
  let got = 0;
  while (Date.now() < until) {
    try {
      const release = acquireLock(base);
      appendFileSync(log, `acq ${process.pid}\n`);
      got++;
      await sleep(15);
      appendFileSync(log, `rel ${process.pid}\n`);
      release();
    } catch (e) {
      if (!(e instanceof MigrateError) || e.code !== 'ELOCKED') throw e;
    }
    await sleep(Math.random() * 5);
  }
  process.stdout.write(`${got}\n`);
}
