/**
 * How git is run on a local repository whose bytes become an artifact (a
 * mirror, a checkout): the operator's global and system git config left out
 * (`core.autocrlf=true`, an LFS smudge filter would change what a build reads), and the
 * system's attributes file (/etc/gitattributes: GIT_CONFIG_NOSYSTEM does not cover it),
 * and line endings as the Go toolchain reads a repository
 * (`git -c core.autocrlf=input -c core.eol=lf archive`, cmd/go modfetch/codehost).
 */
export const WITHOUT_OPERATOR_CONFIG = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ATTR_NOSYSTEM: '1' } as const;

/**
 * Also without the operator's own attributes file: git reads `~/.config/git/attributes`
 * (core.attributesFile's default) whatever GIT_CONFIG_GLOBAL says, and a `*.go text
 * eol=crlf` there would check every file out with CRLF, a module zip with another h1
 * than go computes anywhere else, and a checkout `git status` still calls clean.
 */
export const AS_GO_READS: readonly string[] = ['-c', 'core.autocrlf=input', '-c', 'core.eol=lf', '-c', 'core.attributesFile=/dev/null'];
