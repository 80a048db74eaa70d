/**
 * engine/job-edits: a source of the job with no rows while an id the job no longer has holds
 * rows of the same repository is taken for a renamed source only when it names their package,
 * or (no `package`: the name is the repository's) when it reads the folder they came from: a
 * git repository can hold several packages, one source each (a monorepo's folders).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/config/schema.js';
import { refuseReformattedSources, refuseRenamedSources, refuseRespelledPackages } from '../../src/engine/job-edits.js';
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

type Shape = { id: string; package?: string; format?: 'npm' | 'pypi' | 'go'; directory?: string };

function refusal(state: StateDb, sources: Shape[]): MigrateError | undefined {
  const configs = sources.map((s) => ({ id: s.id, kind: 'git', url: REPO, format: s.format ?? 'pypi', directory: s.directory ?? '', ...(s.package ? { package: s.package } : {}) })) as unknown as SourceConfig[];
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
      // one that takes its name from the repository, from a folder no old row came from: not refused either
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

  it('the same name in another format (an npm package beside the Python one of that name) is a new source', () => {
    const state = monorepoState();
    try {
      expect(refusal(state, [{ id: 'svc-a', package: 'svc-a' }, { id: 'svc-b-js', package: 'svc-b', format: 'npm' }])).toBeUndefined();
      expect(refusal(state, [{ id: 'svc-a', package: 'svc-a' }, { id: 'svc-b-py', package: 'svc-b', format: 'pypi' }])?.code).toBe('ECONFIG');
    } finally {
      state.close();
    }
  });
});

/**
 * Sources svc-a and svc-b, npm, no `package`: each named its package from its folder's
 * package.json (a and b of one monorepo). `record`: the state records each source's shape
 * (a run of this release did); without, it is a state from before that record.
 */
function folderState(record: boolean, shapeOfB: Record<string, unknown> = { format: 'npm', directory: 'b' }): StateDb {
  const dir = mkdtempSync(join(tmpdir(), 'cam-job-edits-'));
  dirs.push(dir);
  const state = StateDb.open(join(dir, 'job.sqlite'));
  for (const [id, folder] of [['svc-a', 'a'], ['svc-b', 'b']] as const) {
    state.recordListing(id, REPO, { format: 'npm', name: `@acme/${folder}`, distTags: {}, versions: [{ version: '1.0.0', artifactUrl: `${REPO}#${folder}/v1.0.0` }] });
  }
  if (record) {
    state.recordSources([
      { id: 'svc-a', kind: 'git', url: REPO, shape: { format: 'npm', directory: 'a' } },
      { id: 'svc-b', kind: 'git', url: REPO, shape: shapeOfB },
    ]);
  }
  return state;
}

/** What a build of each of the source's versions records: the folder it was built from. */
function built(state: StateDb, source: string, directory: string): void {
  state.db.prepare('UPDATE items SET facts = ? WHERE source_id = ?').run(JSON.stringify({ recipe: JSON.stringify({ directory, command: null }) }), source);
}

describe('a renamed git source without package (its name read from the repository)', () => {
  const a = { id: 'svc-a', format: 'npm', directory: 'a' } as const;

  it('reading the folder the old rows came from, in the same format: the old source renamed, ECONFIG naming both ids', () => {
    const state = folderState(true);
    try {
      const e = refusal(state, [a, { id: 'billing', format: 'npm', directory: 'b' }]);
      expect(e?.code).toBe('ECONFIG');
      expect(e?.message).toContain('source "billing"');
      expect(e?.message).toContain('"svc-b"');
      expect(e?.hint).toContain('back to "svc-b"');
    } finally {
      state.close();
    }
  });

  it('another folder of the same monorepo, another format, or an old source that named its package: a new source (not refused)', () => {
    const state = folderState(true);
    try {
      expect(refusal(state, [a, { id: 'svc-c', format: 'npm', directory: 'c' }])).toBeUndefined();
      expect(refusal(state, [a, { id: 'tool', format: 'go', directory: 'b' }])).toBeUndefined();
      // the folder's own package.json may name another package than the one svc-b named
    } finally {
      state.close();
    }
    const named = folderState(true, { format: 'npm', directory: 'b', package: '@acme/b' });
    try {
      expect(refusal(named, [a, { id: 'billing', format: 'npm', directory: 'b' }])).toBeUndefined();
    } finally {
      named.close();
    }
  });

  it('a state from before sources were recorded: told by the folder its versions were built from; rows never built are not refused', () => {
    const state = folderState(false);
    try {
      // nothing built yet: nothing says which folder the rows came from
      expect(refusal(state, [a, { id: 'billing', format: 'npm', directory: 'b' }])).toBeUndefined();
      built(state, 'svc-b', 'b');
      expect(refusal(state, [a, { id: 'billing', format: 'npm', directory: 'b' }])?.hint).toContain('back to "svc-b"');
      expect(refusal(state, [a, { id: 'svc-c', format: 'npm', directory: 'c' }])).toBeUndefined();
      expect(refusal(state, [a, { id: 'tool', format: 'go', directory: 'b' }])).toBeUndefined();
    } finally {
      state.close();
    }
  });
});

describe("a git PyPI source's package spelled another way", () => {
  const respelled = (state: StateDb, pkg: string): MigrateError | undefined => {
    const configs = [{ id: 'svc-a', kind: 'git', url: REPO, format: 'pypi', directory: '', package: pkg }] as unknown as SourceConfig[];
    try {
      refuseRespelledPackages(state, new Map([['svc-a', { id: 'svc-a', kind: 'git', url: REPO } as unknown as Source]]), configs, 'job.yaml');
      return undefined;
    } catch (e) {
      expect(e).toBeInstanceOf(MigrateError);
      return e as MigrateError;
    }
  };

  it('refused while its rows are all under the other spelling; not once rows are under its own (a state from before holds both), nor for another project', () => {
    const state = monorepoState();
    try {
      expect(respelled(state, 'svc-a')).toBeUndefined();
      expect(respelled(state, 'svc-b')).toBeUndefined(); // another project: a new package, not this check's
      const e = respelled(state, 'SVC_A');
      expect(e?.code).toBe('ECONFIG');
      expect(e?.hint).toContain('"svc-a"');
      state.recordListing('svc-a', REPO, { format: 'pypi', name: 'SVC_A', distTags: {}, versions: [{ version: '1.0', artifactUrl: `${REPO}#v1.0` }] });
      expect(respelled(state, 'SVC_A')).toBeUndefined();
      expect(respelled(state, 'svc-a')).toBeUndefined();
    } finally {
      state.close();
    }
  });
});

describe("a source's format changed under the same id", () => {
  const REGISTRY = 'https://registry.npmjs.org/';
  /** A state in which source `lib` recorded a Go module's versions (format generic), with its shape or (`record` false) without. */
  function goState(record: boolean): StateDb {
    const dir = mkdtempSync(join(tmpdir(), 'cam-job-edits-'));
    dirs.push(dir);
    const state = StateDb.open(join(dir, 'job.sqlite'));
    state.recordListing('lib', REPO, { format: 'generic', name: 'example.com/lib', distTags: {}, versions: ['v1.0.0', 'v1.1.0'].map((v) => ({ version: v, artifactUrl: `${REPO}#${v}` })) });
    if (record) state.recordSources([{ id: 'lib', kind: 'git', url: REPO, shape: { format: 'go', directory: '' } }]);
    return state;
  }
  const reformatted = (state: StateDb, config: Record<string, unknown>): MigrateError | undefined => {
    const configs = [{ id: 'lib', url: REPO, directory: '', ...config }] as unknown as SourceConfig[];
    try {
      refuseReformattedSources(state, new Map([['lib', { id: 'lib', kind: config.kind, url: REPO } as unknown as Source]]), configs, 'job.yaml');
      return undefined;
    } catch (e) {
      expect(e).toBeInstanceOf(MigrateError);
      return e as MigrateError;
    }
  };

  it('go turned npm or pypi: ECONFIG naming the source, both formats and the versions recorded; go again is not refused, recorded or not', () => {
    for (const record of [true, false]) {
      const state = goState(record);
      try {
        expect(reformatted(state, { kind: 'git', format: 'go' })).toBeUndefined();
        for (const format of ['npm', 'pypi']) {
          const e = reformatted(state, { kind: 'git', format });
          expect(e?.code).toBe('ECONFIG');
          expect(e?.message).toContain(`source "lib" is now format ${format}`);
          expect(e?.message).toContain('2 version(s) of it recorded as format go');
          expect(e?.hint).toContain('put format go back');
        }
        expect(reformatted(state, { kind: 'npm-registry', url: REGISTRY, packages: ['lib'], scopes: [] })?.code).toBe('ECONFIG');
      } finally {
        state.close();
      }
    }
  });

  it('an npm registry source turned into a git npm source (or back) keeps format npm: not refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cam-job-edits-'));
    dirs.push(dir);
    const state = StateDb.open(join(dir, 'job.sqlite'));
    try {
      state.recordListing('lib', REGISTRY, { format: 'npm', name: 'lib', distTags: {}, versions: [{ version: '1.0.0', artifactUrl: `${REGISTRY}lib/-/lib-1.0.0.tgz` }] });
      state.recordSources([{ id: 'lib', kind: 'npm-registry', url: REGISTRY, shape: {} }]);
      expect(reformatted(state, { kind: 'git', format: 'npm' })).toBeUndefined();
      expect(reformatted(state, { kind: 'git', format: 'pypi' })?.message).toContain('recorded as format npm');
      state.recordSources([{ id: 'lib', kind: 'git', url: REPO, shape: { format: 'npm', directory: '' } }]);
      expect(reformatted(state, { kind: 'npm-registry', url: REGISTRY, packages: ['lib'], scopes: [] })).toBeUndefined();
    } finally {
      state.close();
    }
  });

  it('rows of both formats (a state from before this check): the format last recorded goes on; with none recorded, nothing says which came last: not refused', () => {
    const state = goState(false);
    try {
      state.recordListing('lib', REPO, { format: 'npm', name: 'lib', distTags: {}, versions: [{ version: '1.0.0', artifactUrl: `${REPO}#v1.0.0` }] });
      expect(reformatted(state, { kind: 'git', format: 'npm' })).toBeUndefined();
      expect(reformatted(state, { kind: 'git', format: 'go' })).toBeUndefined();
      state.recordSources([{ id: 'lib', kind: 'git', url: REPO, shape: { format: 'npm', directory: '' } }]);
      expect(reformatted(state, { kind: 'git', format: 'npm' })).toBeUndefined();
      expect(reformatted(state, { kind: 'git', format: 'go' })?.message).toContain('1 version(s) of it recorded as format npm');
    } finally {
      state.close();
    }
  });
});
