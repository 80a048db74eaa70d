/** The sample packages the demo and the sandbox seed: long histories, scoped and unscoped, prereleases, tags, deprecations. */
import { historyOf, type SeedPackage } from './npm-fixtures.js';

export function privateNpmPackages(): SeedPackage[] {
  const core = historyOf(40, { prereleasesEvery: 6 });
  const utils = historyOf(24);
  const legacy = historyOf(12, { prereleasesEvery: 0 });
  return [
    { name: '@acme/core', versions: core, distTags: { next: core.filter((v) => v.includes('-')).at(-1)! }, deprecated: { [core[1]!]: 'security fix in a later patch; upgrade' } },
    { name: '@acme/utils', versions: utils },
    { name: 'left-pad-legacy', versions: legacy, deprecated: { [legacy[0]!]: 'no longer supported' } },
  ];
}

export function githubPackages(): SeedPackage[] {
  const flags = historyOf(30, { prereleasesEvery: 4 });
  return [
    { name: '@acme-gh/feature-flags', versions: flags, distTags: { beta: flags.filter((v) => v.includes('beta')).at(-1)! } },
    { name: '@acme-gh/logger', versions: historyOf(20) },
  ];
}
