/**
 * engine/job-edits: a source of the job with no rows while an id the job no longer has holds
 * rows of the same repository is taken for a renamed source only when it names their package:
 * a git repository can hold several packages, one source each (a monorepo's folders).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/config/schema.js';
import { refuseRenamedSources } from '../../src/engine/job-edits.js';
import { MigrateError } from '../../src/errors.js';
import type { Source } from '../../src/sources/source.js';
import { StateDb } from '../../src/state/db.js';

const REPO = 'ssh://git@git.acme.example/acme/mono.git';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A state in which sources svc-a and svc-b each recorded their package of one repository. */
function monorepoState(): StateDb {
  const dir = mkdtempSync(join(tmpdir(), 'cam-job-edits-'));
  dirs.push(dir);
  const state = StateDb.open(join(dir, 'job.sqlite'));
  for (const id of ['svc-a', 'svc-b']) state.recordListing(id, REPO, { format: 'pypi', name: id, distTags: {}, versions: [{ version: '1.0', artifactUrl: `${REPO}#${id}/v1.0` }] });
  return state;
}

function refusal(state: StateDb, sources: { id: string; package?: string }[]): MigrateError | undefined {
  const configs = sources.map((s) => ({ id: s.id, kind: 'git', url: REPO, ...(s.package ? { package: s.package } : {}) })) as unknown as SourceConfig[];
  const live = new Map(sources.map((s) => [s.id, { id: s.id, kind: 'git', url: REPO } as unknown as Source]));
  try {
    refuseRenamedSources(state, live, configs, 'job.yaml');
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(MigrateError);
    return e as MigrateError;
  }
}

describe('a renamed git source', () => {
  it('another package of the same repository, under a new id, is a new source (not refused)', () => {
    const state = monorepoState();
    try {
      expect(refusal(state, [{ id: 'svc-a', package: 'svc-a' }, { id: 'svc-c', package: 'svc-c' }])).toBeUndefined();
      // one that takes its name from the repository cannot be told apart before listing: not refused either
      expect(refusal(state, [{ id: 'svc-a', package: 'svc-a' }, { id: 'svc-c' }])).toBeUndefined();
    } finally {
      state.close();
    }
  });

  it('the same package under a new id is the old source renamed: ECONFIG naming both ids', () => {
    const state = monorepoState();
    try {
      const e = refusal(state, [{ id: 'svc-a', package: 'svc-a' }, { id: 'billing', package: 'svc-b' }]);
      expect(e?.code).toBe('ECONFIG');
      expect(e?.message).toContain('source "billing"');
      expect(e?.hint).toContain('back to "svc-b"');
    } finally {
      state.close();
    }
  });
});
