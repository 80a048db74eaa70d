/**
 * What to do about each error code, as the README's table says it, and which
 * side of the move a code blames. Rows keep the message they failed with (which
 * may end in a hint of its own); reports add this table's advice beside it.
 */

/** Codes that blame the source (its bytes, its answer, a build of its tag). */
export const SOURCE_CODES: ReadonlySet<string> = new Set([
  'EINTEGRITY',
  'ENOINTEGRITY',
  'EBADSOURCE',
  'ETOOLARGE',
  'ESOURCEURL',
  'ESOURCEAUTH',
  'ESOURCENOTFOUND',
  'ESOURCE',
  'ESOURCESILENT',
  'EBUILD',
  'EBADBUILD',
  'EVERSION',
  'ETAGMOVED',
  'ENAMECLAIMED',
]);

const HINTS: Readonly<Record<string, string>> = {
  EINTEGRITY: 'repair the version at the source, or exclude it',
  ENOINTEGRITY: 'exclude it, or republish it at the source',
  EBADSOURCE: 'see the message: the source answered something unusable',
  ETOOLARGE: 'raise limits.maxArtifactBytes (an artifact), limits.maxMirrorBytes (a git mirror) or limits.maxCheckoutBytes (a tag\'s tree) if it is real; otherwise exclude it',
  ESOURCEURL: "add the host to tarballHosts if that registry really stores tarballs there (GitHub's API pointing elsewhere: check githubApiUrl; a git server redirecting https to plain http: have it serve https only)",
  ESOURCEAUTH: 'check the token variable and its scopes (GitHub: read:packages)',
  ESOURCENOTFOUND: 'check the name (a scope: the GitHub organization or user that owns its packages); a registry with no search API and no githubApiUrl: list names',
  ESOURCE: 'rerun (network error or 5xx at the source after the retry budget)',
  ESOURCESILENT: 'the source stopped answering: check it (or the proxy on the way to it), then rerun',
  ETARGET: 'rerun (network error or 5xx at CodeArtifact after the retry budget)',
  ETHROTTLED: 'rerun, or lower limits.rates',
  ETARGETSETUP: 'check the job\'s target and "Running against AWS" in the README',
  ETARGETAUTH: 'grant the missing permission (see "Running against AWS" in the README), rerun',
  ETARGETCREDENTIALS: 'renew the AWS credentials (aws sso login, a new session), check them with aws sts get-caller-identity, rerun: it resumes',
  ETARGETREJECTED: 'see the message: CodeArtifact refused the request',
  ETARGETSTATUS: 'make the version Published on the target (the message names the aws codeartifact command), rerun',
  ELOCAL: 'free space under the state directory (or move it with --state-dir), rerun',
  ESTATE: 'see the message: the state database cannot be used',
  ECONFLICT: 'decide by hand which bytes are right: the target is never overwritten; if ours are, delete the version on the target (aws codeartifact delete-package-versions) and rerun',
  EVERIFY: "do not cut over this package; find what else wrote the version (the repository's CloudTrail), dispose of it and rerun",
  EMISMATCH: "do not cut over this package; find what else wrote the version (the repository's CloudTrail), dispose of it and rerun",
  EBUILD: 'fix the tag, give that version another build command, or skip it under versions:',
  EBADBUILD: 'see the message: the build made something unexpected',
  EVERSION: 'fix the tag or the metadata, or skip that version',
  ETAGMOVED: 'move the tag back, or accept the new commit with versions: { "<v>": { commit: <sha> } } (only before it is on the target)',
  ENAMECLAIMED: "set `package:` on the git source if its repository really publishes that name; otherwise fix the repository's package.json / go.mod",
  EPUBLISHBLOCKED: "the package's publish BLOCK (or its package group's PUBLISH BLOCK, or a PUBLISH ALLOW_SPECIFIC_REPOSITORIES whose list leaves the internal repository out) was set before this run (or by CodeArtifact when the name was first pulled in from an upstream: then a public package holds this internal name); its owner allows publishing with aws codeartifact put-package-origin-configuration (a group's: update-package-group-origin-configuration, with --add-allowed-repositories for a list), then rerun",
  EPUBLICREGISTRY: 'make the public registry reachable (publicRegistries.npm, the proxy), then warm again; to migrate a private package of the company registry, add it to the job',
  EBLOBMISSING: 'rerun: the file is downloaded or built again',
  EINTERRUPTED: 'rerun to continue',
};

/** What to do about a code; null for one we have no advice for. */
export function hintFor(code: string | null | undefined): string | null {
  return code ? (HINTS[code] ?? null) : null;
}
