/**
 * A lockfile's credentials in what `warm` keeps. npm 6's package-lock.json (lockfileVersion 1)
 * writes a git or tarball-URL dependency's `version` as the URL it was resolved from, with any
 * user:password in it; that version is a column of warm_entries and of the warm's ledger
 * entries (exported as they are), so it must reach neither with the password.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLockfileText } from '../../src/lockfiles/index.js';
import { StateDb } from '../../src/state/db.js';
import { planItems } from '../../src/warm/items.js';
import { WarmStore } from '../../src/warm/state.js';

const pw = ['PLANTED', 'lockV1', String(Date.now())].join('-');
let dir = '';

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a lockfileVersion 1 package-lock.json with credentials in its URL versions', () => {
  it('leaves them in no byte of the state (SQLite and WAL) or the ledger', () => {
    dir = mkdtempSync(join(tmpdir(), 'cam-warm-secret-'));
    const text = JSON.stringify({
      name: 'web',
      version: '1.0.0',
      lockfileVersion: 1,
      requires: true,
      dependencies: {
        tool: { version: `git+https://deploy:${pw}@git.example/acme/tool.git#${'a'.repeat(40)}`, from: `git+https://deploy:${pw}@git.example/acme/tool.git` },
        sshtool: { version: `git+ssh://git:${pw}@git.example/acme/s.git#${'b'.repeat(40)}` },
        tar: { version: `https://ci:${pw}@files.example/tar-1.0.0.tgz`, integrity: `sha512-${'A'.repeat(86)}==` },
      },
    });
    const file = 'web/package-lock.json';
    const result = parseLockfileText('npm', text, file);
    const plan = planItems([{ ref: { path: file, format: 'npm', repository: null } as never, result: { format: 'npm', ...result } as never }], { has: () => false } as never);
    expect(plan.items.length).toBe(3);
    const state = StateDb.open(join(dir, 'job.sqlite'));
    state.ledger = { toolVersion: 't', job: 'j', principal: 'p', target: { region: 'us-east-1', domain: 'd', domainOwner: '111122223333' }, repositories: {} };
    const warm = new WarmStore(state);
    warm.startRun();
    const rows = warm.record(plan.items);
    for (const row of rows.values()) warm.decide(row, { outcome: 'non-registry', detail: 'not from a registry' } as never);
    // the rows as the state holds them keep where each points (the commit), without the password
    expect([...rows.values()].map((r) => r.version).sort()).toEqual(
      [`git+https://***@git.example/acme/tool.git#${'a'.repeat(40)}`, `git+ssh://***@git.example/acme/s.git#${'b'.repeat(40)}`, 'https://***@files.example/tar-1.0.0.tgz'].sort(),
    );
    state.close();
    const found = readdirSync(dir).filter((f) => readFileSync(join(dir, f)).includes(pw));
    expect(found).toEqual([]);
  });
});
