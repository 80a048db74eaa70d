/** countProgress without a terminal: a line each tenth of the way or each 10 s, whichever comes first, and the last count once. */
import { describe, expect, it } from 'vitest';
import { countProgress, type Io } from '../../src/cli/output.js';

function plain() {
  const lines: string[] = [];
  const io = { stdout: { write: () => true }, stderr: { write: (t: string) => lines.push(t) } } as unknown as Io;
  return { io, lines };
}

const line = (p: { done: number; total: number }) => `${p.done}/${p.total}`;

describe('countProgress (stderr no terminal)', () => {
  it('writes a line each tenth of the way, not one per item', () => {
    const { io, lines } = plain();
    const p = countProgress(io, 'versions', line, () => 0);
    for (let done = 1; done <= 10_000; done++) p.onProgress({ done, total: 10_000 });
    p.stop();
    expect(lines).toEqual(Array.from({ length: 10 }, (_, i) => `${(i + 1) * 1000}/10000\n`));
  });

  it('writes a line after 10 s without one, however slow the count; stop writes the last count once', () => {
    const { io, lines } = plain();
    let clock = 0;
    const p = countProgress(io, 'versions', line, () => clock);
    p.onProgress({ done: 1, total: 1000 });
    clock = 9_999;
    p.onProgress({ done: 2, total: 1000 });
    clock = 10_000;
    p.onProgress({ done: 3, total: 1000 });
    clock = 15_000;
    p.onProgress({ done: 4, total: 1000 });
    p.stop();
    p.stop();
    expect(lines).toEqual(['3/1000\n', '4/1000\n']);
  });
});
