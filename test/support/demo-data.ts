/**
 * What the demo and the sandbox seed: the mission's inventory in miniature.
 *
 * - Four TypeScript packages with long histories (prereleases, dist-tags, a
 *   deprecation): two in the private npm registry, two in GitHub Packages.
 * - Two Python libraries and one Go module in git repositories served over ssh, seeded
 *   from the real tagged repositories in test/fixtures/git (SOURCES.md there), each with
 *   a history of tags and one broken tag, as real histories have:
 *
 *   | repository | package | broken tag | what the tool does with it |
 *   | --- | --- | --- | --- |
 *   | acme/billing | acme-billing (billing/ of the monorepo) | `billing/v0.9.0`: a hatch-vcs build, and hatch-vcs is not installed | fails EBUILD |
 *   | acme/crashtest | crashtest | `0.4.2`: `__version__` bumped, pyproject.toml not (the wheel says 0.4.1) | fails EVERSION |
 *   | acme/uuid | github.com/google/uuid | `v2.0.0` without `/v2` in go.mod | skips it: Go ignores it |
 *
 *   jobs/demo.yaml skips the two that fail, with `versions:` overrides, as a user would
 *   once the failure is understood. go-uuid also has real junk tags upstream (`v0`,
 *   `v.1`, `v0.1`, `v.1.1.2`): skipped, they are no Go versions.
 *
 * The constructed commits and tags have fixed dates and a fixed identity (git-server's
 * helpers), so every seed gives the same commit ids: a migration mirror left in state/
 * by an earlier demo still agrees with a new sandbox.
 */
import { resolve } from 'node:path';
import { fixtureBundle } from './git-server.js';
import { historyOf, type SeedPackage } from './npm-fixtures.js';
import type { Sandbox } from './sandbox.js';

/** The ports jobs/demo.yaml names (npm run demo, npm run sandbox); no test may use them. */
export const DEMO_PORTS = { privateNpm: 14873, github: 14874, codeartifact: 14875, git: 14822 } as const;
/** The same ports, by what listens on each (for the message when one is taken). */
export const DEMO_PORT_ROLES: Record<string, number> = {
  'the private npm registry (Verdaccio)': DEMO_PORTS.privateNpm,
  'GitHub Packages (Verdaccio)': DEMO_PORTS.github,
  'the CodeArtifact stand-in': DEMO_PORTS.codeartifact,
  'the git host (sshd)': DEMO_PORTS.git,
};
/** The known_hosts file the sandbox writes for jobs/demo.yaml (which names it relative to itself). */
export const DEMO_KNOWN_HOSTS = resolve(import.meta.dirname, '../../state/sandbox-known_hosts');

export function privateNpmPackages(): SeedPackage[] {
  const core = historyOf(40, { prereleasesEvery: 6 });
  const utils = historyOf(24);
  return [
    { name: '@acme/core', versions: core, distTags: { next: core.filter((v) => v.includes('-')).at(-1)! }, deprecated: { [core[1]!]: 'security fix in a later patch; upgrade' } },
    { name: '@acme/utils', versions: utils },
  ];
}

export function githubPackages(): SeedPackage[] {
  const flags = historyOf(30, { prereleasesEvery: 4 });
  return [
    { name: '@acme-gh/feature-flags', versions: flags, distTags: { beta: flags.filter((v) => v.includes('beta')).at(-1)! } },
    { name: '@acme-gh/logger', versions: historyOf(20) },
  ];
}

/** The git repositories the sandbox serves, by name (`git+ssh://127.0.0.1:PORT/acme/<name>.git`). */
export const DEMO_GIT_REPOSITORIES = ['billing', 'crashtest', 'uuid'] as const;

/**
 * The broken tags: `code` is what the tool reports when nothing skips the tag, `skippedBy`
 * who leaves it out in jobs/demo.yaml (whose comments say the same).
 */
export const DEMO_BROKEN_TAGS = [
  { source: 'billing', package: 'acme-billing', version: '0.9.0', tag: 'billing/v0.9.0', code: 'EBUILD', skippedBy: 'job' },
  { source: 'crashtest', package: 'crashtest', version: '0.4.2', tag: '0.4.2', code: 'EVERSION', skippedBy: 'job' },
  { source: 'uuid', package: 'github.com/google/uuid', version: 'v2.0.0', tag: 'v2.0.0', code: undefined, skippedBy: 'tool' },
] as const;

/** Create the demo's git repositories in the sandbox's git host, broken tags included. */
export async function seedGitRepositories(sandbox: Sandbox): Promise<Record<string, string>> {
  const git = sandbox.git;
  if (!git) throw new Error('seedGitRepositories: start the sandbox with git: true');
  const { server } = git;

  // acme-billing: the constructed monorepo; billing/v0.9.0 (hatch-vcs) is broken as bundled.
  await git.createRepoFromBundle('billing', fixtureBundle('monorepo'));

  // crashtest: 0.3.0 … 0.4.1 as upstream, then a release made in a hurry: __init__.py says
  // 0.4.2, pyproject.toml (where poetry-core reads the version) still 0.4.1.
  await git.createRepoFromBundle('crashtest', fixtureBundle('py-crashtest'));
  const init = await server.git('crashtest', ['show', 'master:crashtest/__init__.py']);
  const hurried = await server.commit('crashtest', {
    files: { 'crashtest/__init__.py': init.replace('__version__ = "0.4.1"', '__version__ = "0.4.2"') },
    message: 'Release 0.4.2',
    date: '2023-01-16T09:30:00Z',
  });
  await server.tag('crashtest', '0.4.2', hurried, { message: '0.4.2', date: '2023-01-16T09:35:00Z' });

  // github.com/google/uuid: every upstream tag (v1.0.0 … v1.6.0 and the junk ones), then a
  // v2.0.0 whose go.mod still says github.com/google/uuid: Go ignores a v2 tag without /v2.
  await git.createRepoFromBundle('uuid', fixtureBundle('go-uuid'));
  const changelog = await server.git('uuid', ['show', 'master:CHANGELOG.md']);
  const v2 = await server.commit('uuid', {
    files: {
      'CHANGELOG.md': changelog.replace(
        '# Changelog\n',
        '# Changelog\n\n## [2.0.0](https://github.com/google/uuid/compare/v1.6.0...v2.0.0) (2025-01-15)\n\n\n### ⚠ BREAKING CHANGES\n\n* NewString returns an error instead of panicking\n',
      ),
    },
    message: 'chore(main): release 2.0.0',
    date: '2025-01-15T16:00:00Z',
  });
  await server.tag('uuid', 'v2.0.0', v2, { message: 'v2.0.0', date: '2025-01-15T16:05:00Z' });

  return { ...sandbox.descriptor.git!.repositories };
}
