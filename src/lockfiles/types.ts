/**
 * One entry type for every lockfile format.
 *
 * Glossary
 * - lockfile: a file a package manager writes to pin every package of an
 *             install (package-lock.json, yarn.lock, pnpm-lock.yaml,
 *             requirements.txt with pins, poetry.lock, Pipfile.lock, uv.lock,
 *             go.sum).
 * - entry:    one package at one version that a lockfile pins, with what the
 *             file says about where it comes from and how to check it.
 * - kind:     what the entry really is. Only `registry` (and the registry
 *             package behind an `alias`) can be pulled through a store
 *             repository; the others name bytes from somewhere else.
 * - origin:   (`from`) the file and line, or the path inside a JSON/YAML/TOML
 *             document, where the entry was written; after deduplication,
 *             every file that named it.
 */

export type Ecosystem = 'npm' | 'pypi' | 'go';

export const ENTRY_KINDS = ['registry', 'alias', 'git', 'file', 'link', 'workspace', 'patch', 'url'] as const;
/**
 * - registry:  a version of a package on a registry (npmjs, PyPI, a private index, the Go proxy).
 * - alias:     npm `"local": "npm:real@1.2.3"`: a registry package installed under another
 *              name; `name` is the local name, `aliasFor` the registry name, `version` the real one.
 * - git:       a git repository at a commit (npm `git+https://…`, `github:`; PEP 508 `git+…`).
 * - file:      a tarball, wheel or directory on the local disk, copied in.
 * - link:      a local directory linked in place (npm `link: true`, yarn `link:`/`portal:`,
 *              pnpm `link:`, pip `-e ./path`, uv `editable`).
 * - workspace: a package of the same repository (npm/yarn/pnpm workspaces, uv `virtual`).
 * - patch:     yarn berry `patch:` / pnpm `patchedDependencies`: a registry package with a local
 *              patch applied (the unpatched registry version is its own `registry` entry).
 * - url:       a tarball or wheel at a URL that is not a registry's (npm remote tarball,
 *              poetry `url` source, PEP 508 `name @ https://…`). Not in the list the brief
 *              gave: such an entry is neither registry nor local, and calling it either would lie.
 */
export type EntryKind = (typeof ENTRY_KINDS)[number];

export const LOCKFILE_FORMATS = ['npm', 'yarn-classic', 'yarn-berry', 'pnpm', 'requirements', 'poetry', 'pipfile', 'uv', 'gosum'] as const;
export type LockfileFormat = (typeof LOCKFILE_FORMATS)[number];

/** Where an entry was written: `line` (1-based) where known, `path` inside a structured document. */
export interface LockOrigin {
  file: string;
  line?: number;
  /** e.g. `packages["node_modules/foo"]`, `package[3]`, `default.requests`. */
  path?: string;
}

export interface LockEntry {
  ecosystem: Ecosystem;
  /** npm: the full name with its scope (for an alias, the local name); PyPI: as written; Go: the module path. */
  name: string;
  /** PyPI: PEP 503 normalised (https://peps.python.org/pep-0503/#normalized-names); npm and Go: `name`. */
  normalizedName: string;
  /** As the lockfile pins it; `''` where it gives none (a link or workspace without a version). */
  version: string;
  kind: EntryKind;
  /** kind `alias`: the registry package's name. */
  aliasFor?: string;
  /** npm: the SRI string(s) as written (may carry several algorithms, space separated). */
  integrity?: string;
  /**
   * npm: other integrity strings the same file pins for the same version (a nested
   * package-lock v1 copy, a yarn entry per range): when they differ, at most one is right.
   */
  otherIntegrity?: string[];
  /**
   * yarn berry's `checksum`: a hash of yarn's own zip of the package in its cache
   * (prefixed with the cache key, e.g. `10c0/<sha512 hex>`), NOT of the registry
   * tarball: it can never be checked against npm's `dist.integrity`.
   * https://yarnpkg.com/configuration/yarnrc#checksumBehavior
   */
  yarnChecksum?: string;
  /** PyPI: `<algorithm>:<hex>` for every file the lockfile allows (sdist and wheels). */
  hashes?: string[];
  /**
   * PyPI, where the lockfile names its files (poetry's `files`, uv's `sdist`/`wheels`):
   * file name → its `<algorithm>:<hex>`. A store file of that name with another hash is
   * a replaced file; a file the lockfile does not name is another platform's or a later
   * upload, which pip's hash checking passes over.
   */
  fileHashes?: Record<string, string>;
  /** Go: the `h1:` dirhash of the module zip, and of its go.mod (https://go.dev/ref/mod#go-sum-files). */
  h1?: string;
  goModH1?: string;
  /** The URL (or path) the lockfile says the bytes come from, when it has one. */
  resolved?: string;
  /** Only for development (npm `dev`, pnpm `dev: true`, Pipfile `develop`, poetry `category = "dev"`). */
  dev?: boolean;
  /** Only if the platform allows (npm/pnpm `optional`, poetry `optional`). */
  optional?: boolean;
  /** npm `devOptional`: needed unless both dev and optional dependencies are omitted. */
  devOptional?: boolean;
  /** npm: shipped inside its parent's tarball (`inBundle`/`bundled`): never fetched on its own. */
  bundled?: boolean;
  /** pip `-c` constraints file: a pin that applies only if something requires the package. */
  constraint?: boolean;
  /** PEP 508 environment marker (requirements, Pipfile.lock), e.g. `python_version < "3.8"`. */
  marker?: string;
  /** PEP 508 extras, e.g. `requests[socks]`. */
  extras?: string[];
  from: LockOrigin[];
}

/** Something a parser could not turn into an entry but that is not an error (an unpinned requirement). */
export interface LockWarning extends LockOrigin {
  message: string;
}

export interface LockfileResult {
  file: string;
  format: LockfileFormat;
  /** The format's own version where it has one (`lockfileVersion`, `__metadata.version`, …). */
  formatVersion?: string;
  entries: LockEntry[];
  warnings: LockWarning[];
}

/** What one format's parser returns for one file. */
export type ParseOutput = Omit<LockfileResult, 'file' | 'format'>;
