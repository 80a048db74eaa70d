/**
 * One target module per CodeArtifact format, picked by one `switch`; the
 * engine only ever sees the TargetFormat contract (format.ts).
 */
import type { Format } from '../types.js';
import type { CodeArtifact } from './codeartifact.js';
import type { TargetFormat } from './format.js';
import { GenericTarget } from './generic.js';
import { NpmTarget } from './npm.js';
import { PypiTarget } from './pypi.js';

export type { AssetFile, MetadataPlan, PublishRequest, PublishResult, TargetFormat } from './format.js';

export function createTarget(format: Format, ca: CodeArtifact, repository: string): TargetFormat {
  switch (format) {
    case 'npm':
      return new NpmTarget(ca, repository);
    case 'pypi':
      return new PypiTarget(ca, repository);
    case 'generic':
      return new GenericTarget(ca, repository);
    default: {
      const never: never = format;
      throw new Error(`unknown target format ${String(never)}`);
    }
  }
}
