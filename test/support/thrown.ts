/** The coded error a call throws (or a promise rejects with), or a failing test when there is none. */
import { expect } from 'vitest';
import { MigrateError } from '../../src/errors.js';

export function thrown(fn: () => unknown): MigrateError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MigrateError);
    return e as MigrateError;
  }
  throw new Error('expected a MigrateError');
}

/** The coded error a promise rejects with, or a failing test when it does not reject with one. */
export async function failure(p: Promise<unknown>): Promise<MigrateError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MigrateError);
  return e as MigrateError;
}
