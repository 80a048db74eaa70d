import { MigrateError } from '../errors.js';
import type { SourceConfig } from '../config/schema.js';
import { NpmRegistrySource } from './npm-registry.js';
import type { Source } from './source.js';

export type { Source, NameResult } from './source.js';

/** One `case` per origin; a new origin is one module and one case. */
export function createSource(config: SourceConfig, env: NodeJS.ProcessEnv): Source {
  switch (config.kind) {
    case 'npm-registry':
      return new NpmRegistrySource(config, env);
    case 'git':
      throw new MigrateError('ECONFIG', `source "${config.id}": kind "git" is not supported by this version yet`, {
        hint: 'set "enabled: false" on it for now; npm registries migrate today',
      });
    default: {
      const never: never = config;
      throw new Error(`unknown source kind ${JSON.stringify(never)}`);
    }
  }
}
