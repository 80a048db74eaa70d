import type { JobConfig, SourceConfig } from '../config/schema.js';
import { GitSource } from './git.js';
import { NpmRegistrySource } from './npm-registry.js';
import type { Source } from './source.js';

export type { Checkout, NameResult, OpenOptions, Source } from './source.js';

/**
 * One `case` per origin; a new origin is one module and one case. `job` is the job's
 * name: what a source keeps in the state directory is the job's own (two jobs there may
 * give one source id to two repositories, and run at once).
 */
export function createSource(config: SourceConfig, env: NodeJS.ProcessEnv, stateDir: string, job: string, limits?: Pick<JobConfig['limits'], 'maxMirrorBytes' | 'maxCheckoutBytes'>): Source {
  switch (config.kind) {
    case 'npm-registry':
      return new NpmRegistrySource(config, env);
    case 'git':
      return new GitSource(config, env, stateDir, job, limits);
    default: {
      const never: never = config;
      throw new Error(`unknown source kind ${JSON.stringify(never)}`);
    }
  }
}
