/**
 * Go module paths as generic package coordinates, and back. CodeArtifact has no
 * Go format; a module version is a generic package version. Generic namespaces
 * and package names match `[^#/\s]{1,255}`, so the path's slashes must go:
 *
 *   namespace = the first path element (the host: `git.acme.example`)
 *   package   = the rest, '/' written as '+'   (`platform+telemetry-go`), or '+' when there is no rest
 *
 * '+' cannot occur in a module path (https://go.dev/ref/mod#go-mod-file-ident:
 * letters, digits, '-', '.', '_', '~'), so the mapping is reversible, and the
 * namespace keeps one host's modules together (package groups can match it).
 * The version is the Go version as tagged (`v1.2.3`, `v2.0.0+incompatible`); the
 * assets are the GOPROXY file names `<version>.zip`, `<version>.mod`, `<version>.info`.
 */

export interface GenericName {
  namespace: string;
  package: string;
}

export function goModuleToGeneric(modulePath: string): GenericName {
  const [first, ...rest] = modulePath.split('/');
  return { namespace: first ?? modulePath, package: rest.length ? rest.join('+') : '+' };
}

export function genericToGoModule(name: GenericName): string {
  return name.package === '+' ? name.namespace : `${name.namespace}/${name.package.split('+').join('/')}`;
}
