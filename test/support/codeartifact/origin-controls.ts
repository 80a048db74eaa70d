/**
 * Whether a package's versions may enter a repository one way or another: the package's own
 * origin configuration in that repository (PutPackageOriginConfiguration: publish, upstream) and
 * the origin controls of its package group (PUBLISH, EXTERNAL_UPSTREAM, INTERNAL_UPSTREAM).
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-origin-controls.html
 * https://docs.aws.amazon.com/codeartifact/latest/ug/package-group-origin-controls.html
 *
 * The package's `upstream` covers both kinds of upstream: "if new versions of the package can be
 * added to the repository from an external connection or upstream source" (model,
 * PackageOriginRestrictions.upstream). Which side wins when they disagree is not documented: see
 * OriginPrecedence (types.ts); the default, `strictest`, lets a BLOCK on either side block.
 */
import type { OriginKind, PackageGroups } from './package-groups.js';
import type { Store } from './store.js';
import type { OriginPrecedence } from './types.js';

export interface PackageKey {
  format: string;
  namespace: string | undefined;
  /** normalised for PyPI */
  name: string;
}

export class OriginControls {
  constructor(
    private readonly store: Store,
    private readonly groups: PackageGroups,
    public precedence: OriginPrecedence,
  ) {}

  allowed(repo: string, key: PackageKey, kind: OriginKind): boolean {
    const pkg = this.store.getPackage(repo, key.format, key.namespace, key.name);
    const own = pkg === undefined ? undefined : (kind === 'PUBLISH' ? pkg.restrictions.publish : pkg.restrictions.upstream) === 'ALLOW';
    if (own !== undefined && this.precedence === 'package') return own;
    return (own ?? true) && this.groups.allows(repo, key.format, key.namespace, key.name, kind);
  }
}
