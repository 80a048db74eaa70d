/** The coded error a call throws, or a failing test when it does not throw one. */
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
