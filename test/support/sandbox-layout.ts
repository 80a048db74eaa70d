/**
 * The sandbox domain's repositories as DESIGN.md lays them out, for StandInOptions.repositories:
 * per format (npm, PyPI) an `-internal` repository for the company's own packages, a `-store`
 * repository with the external connection to the public registry, and a `-shared` repository
 * builds read from, whose upstreams are internal first, then store; plus `go-internal`, a generic
 * repository for Go modules. Names as SANDBOX_REPOSITORIES (sandbox.ts), in the same order.
 *
 * `mistakes` builds the layout wrong the ways the plan's preflight audit must catch: a store
 * without its external connection, a shared repository listing store before internal.
 */
import type { RepositoryDefinition } from './codeartifact/index.js';

export interface SandboxLayoutMistakes {
  /** the stores get no external connection: nothing public can be fetched through them */
  storeWithoutConnection?: boolean;
  /** the shared repositories list store before internal: a public package shadows an internal name */
  sharedListsStoreFirst?: boolean;
}

export function sandboxRepositoryLayout(mistakes: SandboxLayoutMistakes = {}): RepositoryDefinition[] {
  const format = (prefix: 'npm' | 'pypi', connection: 'public:npmjs' | 'public:pypi', what: string): RepositoryDefinition[] => {
    const internal = `${prefix}-internal`;
    const store = `${prefix}-store`;
    return [
      { name: internal, description: `The company's own ${what} packages` },
      {
        name: store,
        description: `Public ${what} packages, cached from ${connection}`,
        ...(mistakes.storeWithoutConnection === true ? {} : { externalConnection: connection }),
      },
      {
        name: `${prefix}-shared`,
        description: `What builds read: ${what} packages from ${internal}, then ${store}`,
        upstreams: mistakes.sharedListsStoreFirst === true ? [store, internal] : [internal, store],
      },
    ];
  };
  return [
    ...format('npm', 'public:npmjs', 'npm'),
    ...format('pypi', 'public:pypi', 'Python'),
    { name: 'go-internal', description: 'Go modules, as generic packages (CodeArtifact has no Go format)' },
  ];
}
