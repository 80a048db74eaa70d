/**
 * One store module per format, picked by one `switch`: the engine asks for the
 * store of an ecosystem and gets the StoreFormat contract, or nothing when the
 * format has no store (Go: CodeArtifact has no Go upstream) or the job names none.
 */
import type { JobConfig } from '../config/schema.js';
import type { Ecosystem } from '../lockfiles/index.js';
import { samePep440 } from '../builders/python-metadata.js';
import type { CodeArtifact } from '../targets/codeartifact.js';
import { NpmStore } from './npm-store.js';
import { PypiStore } from './pypi-store.js';
import { DEFAULT_STORE_LIMITS, type StoreFormat, type StoreLimits } from './store-format.js';

/** The job's store repository for an ecosystem, or why there is none. */
export function storeRepository(config: JobConfig, ecosystem: Ecosystem): { repository: string } | { none: string } {
  switch (ecosystem) {
    case 'npm':
    case 'pypi': {
      const store = config.target.repositories[ecosystem]?.store;
      return store ? { repository: store } : { none: `the job names no target.repositories.${ecosystem}.store` };
    }
    case 'go':
      return { none: 'CodeArtifact has no Go format and no Go upstream: nothing to warm' };
    default: {
      const never: never = ecosystem;
      throw new Error(`unknown ecosystem ${String(never)}`);
    }
  }
}

export function createStore(ecosystem: Ecosystem, ca: CodeArtifact, repository: string, limits: StoreLimits = DEFAULT_STORE_LIMITS): StoreFormat {
  switch (ecosystem) {
    case 'npm':
      return new NpmStore(ca, repository, limits) as StoreFormat;
    case 'pypi':
      return new PypiStore(ca, repository, limits) as StoreFormat;
    case 'go':
      throw new Error('Go has no store format');
    default: {
      const never: never = ecosystem;
      throw new Error(`unknown ecosystem ${String(never)}`);
    }
  }
}

/** Does a version a repository lists equal the one a lockfile pins? PyPI compares as PEP 440 versions (`1.0` is `1.0.0`). */
export function sameVersion(ecosystem: Ecosystem): (listed: string, pinned: string) => boolean {
  switch (ecosystem) {
    case 'pypi':
      return (a, b) => a === b || samePep440(a, b);
    case 'npm':
    case 'go':
      return (a, b) => a === b;
    default: {
      const never: never = ecosystem;
      throw new Error(`unknown ecosystem ${String(never)}`);
    }
  }
}
