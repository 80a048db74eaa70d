/**
 * An npm package that lives only in git, packed from its tagged checkout the
 * way npm packs a git dependency (pacote's GitFetcher: when the package has a
 * `prepare` script, install its dependencies and let `npm pack` run it; then
 * pack what npm-packlist selects). We run the real npm CLI in the checkout
 * rather than re-implementing packlist: the bytes are what `npm pack` makes.
 * https://docs.npmjs.com/cli/v11/commands/npm-pack  https://github.com/npm/pacote#git-dependencies
 *
 * That install runs with a fresh npm config (the operator's ~/.npmrc is not
 * ours to read), so by default every name resolves on the public registry. An
 * internal name there is whatever a stranger published under it (dependency
 * confusion), and the prepare script runs its code on this host. So before
 * installing, every dependency the package and its lockfile name is checked:
 * an internal one (a scope or package one of the job's npm sources serves, or
 * the package's own scope) resolves only from that source's registry, its
 * token passed by environment to an .npmrc in a temporary HOME; with no such
 * registry the build is refused, naming the dependency. The install runs no
 * script (`--ignore-scripts`); the tokens are gone from the environment and the
 * .npmrc before `npm rebuild` runs the install scripts it skipped and `npm pack`
 * the prepare script, so no code from the tag or a dependency can read them. The
 * tag's own .npmrc is npm's project config, which outranks ours: set aside for the
 * install (it could route a scope, with `${VAR}` for a token, to any host, or name a
 * `git` program npm runs), the settings that only shape resolution kept. A proxy's
 * password, too, is the install's alone, and so are its cache and logs (what any URL the
 * tag names answered), removed before a script runs. While the install holds a token or that
 * password it fetches no git dependency: npm prepares one in its clone with another npm, which
 * reads the clone's own .npmrc and gets the install's environment.
 * https://github.com/npm/pacote/blob/main/lib/git.js (#prepareDir)
 * https://docs.npmjs.com/cli/v11/configuring-npm/npmrc#auth-related-configuration
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative as relativePath, resolve as resolvePath, sep } from 'node:path';
import semver from 'semver';
import { diskFullError, localError, MigrateError, toError } from '../errors.js';
import { BUILD_LOG_TAIL_MAX, redact, registerSecret } from '../redact.js';
import { isGitUrl } from '../lockfiles/npm-spec.js';
import { refuseLinksOut } from './links-out.js';
import { notRegularFile } from './output-file.js';
import { buildPathMap, npmGlobalConfig, offlineHint, runProcess, sealedFolder, toolVersion } from './process.js';

/** One of the job's npm sources, as a prepare script's install may use it: the names it serves are internal. */
export interface InternalNpmRegistry {
  url: string;
  token?: string;
  scopes: readonly string[];
  packages: readonly string[];
}

export interface NpmPackInput {
  checkoutDir: string;
  /** Where npm's HOME and cache are made (`scratch-<pid>-…`, swept after a killed run); the system's temp folder unless told. */
  scratchDir?: string;
  subdir: string;
  /** The package name and version the tag says. */
  name: string;
  version: string;
  outDir: string;
  /** Another command that leaves one .tgz in {outdir} (default: npm pack). */
  command?: string | readonly string[];
  timeoutMs: number;
  /** Let `npm rebuild` and the pack (the steps that run scripts) reach the network (default: none, where namespaces allow). */
  network?: boolean;
  signal?: AbortSignal;
  /** The job's npm sources: their scopes and packages are never resolved from a public registry. */
  internal?: readonly InternalNpmRegistry[];
  /** The tagged commit's time: SOURCE_DATE_EPOCH for the scripts that stamp a time (a banner, a build date). */
  commitTime?: Date;
}

/**
 * The packed tarball, the tail of npm's output, and what a rebuild needs to give the same
 * bytes as far as the tools say: the node and npm versions the build ran.
 */
export async function packNpm(input: NpmPackInput): Promise<{ path: string; output: string; builtWith: { node: string | null; npm: string | null } }> {
  const subject = `${input.name}@${input.version}`;
  const dir = input.subdir ? join(input.checkoutDir, input.subdir) : input.checkoutDir;
  refuseFolderOut(input.checkoutDir, dir, input.subdir, subject);
  const manifest = readManifest(dir, subject);
  if (!input.command) checkNamesVersion(manifest, input.name, input.version, input.subdir, subject);
  // npm pack leaves a link out, but packs a bundled dependency that is one (a committed
  // node_modules/x -> another folder of this machine) as the folder it leads to
  await refuseLinksOut(resolvePath(input.checkoutDir), resolvePath(dir), subject);
  mkdirSync(input.outDir, { recursive: true });
  const home = await mkdtemp(join(input.scratchDir ?? tmpdir(), `scratch-${process.pid}-`));
  // what makes a script's output the same on every build (reproducible-builds.org): the commit's
  // time for "now", and a native addon's source path mapped out of the binary
  const reproducible: Record<string, string> = {
    ...(input.commitTime && !Number.isNaN(input.commitTime.getTime()) ? { SOURCE_DATE_EPOCH: String(Math.max(0, Math.floor(input.commitTime.getTime() / 1000))) } : {}),
    ...buildPathMap(input.checkoutDir),
  };
  // npm's own settings only: no user .npmrc, a private cache, no update notifier, no audit
  const env: Record<string, string> = {
    ...reproducible,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    npm_config_cache: join(home, 'cache'),
    npm_config_userconfig: join(home, '.npmrc'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    ...proxyOf(false),
  };
  // the install runs no script (and needs the registries); the steps after it run the tag's and its dependencies' code
  // the job's time limit is the build's (install, install scripts and pack together), not each step's;
  // by the monotonic clock: a wall clock stepped forward (NTP, a machine woken from sleep) gave the next step 1 ms
  const deadline = performance.now() + input.timeoutMs;
  // the output folder is written only by the step that leaves the tarball there (the pack, or the job's own command)
  const run = async (argv: readonly string[], what: string, withEnv: Record<string, string> = env, offline = !input.network, own: readonly string[] = [], writesOut = false) => {
    const r = await runProcess({ argv, cwd: dir, env: withEnv, timeoutMs: Math.max(1, Math.round(deadline - performance.now())), signal: input.signal, offline, writable: [input.checkoutDir, ...(writesOut ? [input.outDir] : []), ...own], reveal: own });
    r.output = redact(r.output);
    if (r.aborted) throw new MigrateError('EINTERRUPTED', `${subject}: ${what} cut off by the stop`, { subject });
    if (r.exitCode !== 0) {
      // a full disk under the state directory is this machine's, not the tag's: the run stops
      const full = r.timedOut ? undefined : diskFullError(r.output, r.signal, input.outDir, `${what} into`, subject);
      if (full) throw full;
      throw new MigrateError('EBUILD', `${subject}: ${what} ${r.timedOut ? `timed out after ${input.timeoutMs / 1000} s` : `failed (exit ${r.exitCode ?? r.signal})`}`, {
        subject,
        actual: r.output.slice(-BUILD_LOG_TAIL_MAX),
        hint: `fix the tag, or give this version another build command (versions: { "<version>": { command: … } }) or skip it, in the job file${offlineHint(!offline)}`,
      });
    }
    return r.output;
  };
  try {
    // a prepare script (a TypeScript build) needs the dev dependencies, as pacote installs them for git deps
    const scripts = (manifest.scripts ?? {}) as Record<string, unknown>;
    if (!input.command && (scripts.prepare || scripts.prepack) && !existsSync(join(dir, 'node_modules'))) {
      const project = npmProject(input.checkoutDir, dir, manifest, subject);
      const routes = internalRoutes(project, input.name, input.internal ?? [], subject);
      // a git dependency with a script is prepared by another npm that pacote runs in its clone, with this
      // install's environment and the clone's own .npmrc (a project config, above ours): `${VAR}` there
      // sends a token, or the proxy's password, to any host it names. With a secret to lose, none is fetched
      const holdsSecret = [...routes.values()].some((r) => !!r?.token) || proxyHasCredentials();
      if (holdsSecret) refuseGitDependencies(project, subject);
      // the tokens are the install's alone, and no script runs while npm holds them: a dependency's
      // install script (or the tag's own) would otherwise read them from its environment or the .npmrc.
      // So are its cache and logs, gone before any script runs: npm caches whatever a URL the tag names
      // answers (an optional dependency at http://169.254.169.254/… gives the instance's credentials),
      // and a prepare script could read them there and pack them
      // in the sealed folder: another build running meanwhile (a setup.py searching the state's tmp folder) reads neither
      const installCache = await mkdtemp(join(sealedFolder(input.scratchDir ?? tmpdir()), `install-${process.pid}-`));
      try {
        // npm's global config is covered in every build (it may hold the operator's tokens: see
        // hiddenPaths); the install, which runs no code of the tag's, gets a copy of it, gone with its cache
        const global = copyGlobalConfig(installCache);
        const installEnv: Record<string, string> = {
          ...env,
          ...proxyOf(true),
          ...(global ? { npm_config_globalconfig: global } : {}),
          npm_config_cache: installCache,
          npm_config_logs_dir: join(installCache, '_logs'),
          // and one no file here names (a dependency's dependency): npm 11's allow-git refuses it (older npm ignores the setting)
          ...(holdsSecret ? { npm_config_allow_git: 'none' } : {}),
        };
        // the tag's own .npmrc is npm's project config, above ours: set aside while npm holds the tokens
        const aside = setAsideProjectConfig(input.checkoutDir, dir, subject);
        try {
          writeFileSync(env.npm_config_userconfig!, aside.settings + npmrc(routes, installEnv));
          await run(['npm', existsSync(join(dir, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund', '--ignore-scripts'], 'installing dependencies for its prepare script', installEnv, false, [installCache]);
        } finally {
          writeFileSync(env.npm_config_userconfig!, '');
          aside.restore();
        }
      } finally {
        await rm(installCache, { recursive: true, force: true });
      }
      // then the scripts the install skipped (the dependencies' and the package's own install scripts), without
      // the tokens; its prepare runs once, below, as npm pack runs it
      await run(['npm', 'rebuild', '--no-audit', '--no-fund'], 'running the install scripts of its dependencies');
    }
    let output: string;
    let packedIn: string;
    if (input.command) {
      const argv = (typeof input.command === 'string' ? input.command.split(/\s+/).filter(Boolean) : input.command).map((a) => a.replaceAll('{outdir}', input.outDir));
      output = await run(argv, 'npm pack', env, !input.network, [], true);
      packedIn = input.outDir;
    } else {
      // npm pack runs prepack, then prepare, packs, writes the tarball, and then runs postpack: a postpack
      // script (or a process a script left behind) could replace the tarball npm wrote and computed the
      // integrity of with any other (entries npm never packs: links, `../` paths, files it leaves out).
      // So the scripts run first, each as npm pack runs it (that script alone, no pre- or post- script of
      // it; the `pre`/`post` hooks are skipped with --ignore-scripts), in a step of their own whose every
      // process is gone when it ends; then npm packs with no script at all, into a folder made after
      // (postpack, which runs after the pack, changes nothing of what npm packed and is not run; a git
      // dependency's install does not run it either)
      // what the scripts said comes first in the output, as npm pack's own would give it
      let said = '';
      let scripts = (manifest.scripts ?? {}) as Record<string, unknown>;
      if (scripts.prepack) {
        said += await run(['npm', 'run-script', 'prepack', '--ignore-scripts', '--no-audit', '--no-fund'], 'its prepack script');
        // npm reads the package.json again after prepack, to run prepare (a prepack may write it)
        scripts = (readManifest(dir, subject).scripts ?? {}) as Record<string, unknown>;
      }
      if (scripts.prepare) said += await run(['npm', 'run-script', 'prepare', '--ignore-scripts', '--no-audit', '--no-fund'], 'its prepare script');
      packedIn = join(input.outDir, `pack-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
      try {
        mkdirSync(packedIn);
      } catch (e) {
        throw localError(e, packedIn, 'make', { anyCode: true })!;
      }
      output = said + (await run(['npm', 'pack', '--ignore-scripts', '--json', '--pack-destination', packedIn], 'npm pack', env, !input.network, [], true));
    }
    const tarballs = readdirSync(packedIn).filter((f) => f.endsWith('.tgz'));
    if (tarballs.length !== 1) {
      throw new MigrateError('EBADBUILD', `${subject}: the pack left ${tarballs.length} tarballs in the output folder, not one`, { subject, actual: tarballs.join(', ') || '(none)' });
    }
    const kind = notRegularFile(join(packedIn, tarballs[0]!));
    if (kind) throw new MigrateError('EBADBUILD', `${subject}: ${tarballs[0]} in the output folder is not a regular file but ${kind}`, { subject, hint: 'the pack must write its tarball into {outdir}: check the build command' });
    const path = join(input.outDir, 'package.tgz');
    renameSync(join(packedIn, tarballs[0]!), path);
    // node and npm as PATH finds them: what the build ran
    const versionEnv = { PATH: env.PATH!, npm_config_update_notifier: 'false' };
    return { path, output, builtWith: { node: await toolVersion(['node', '--version'], versionEnv), npm: await toolVersion(['npm', '--version'], versionEnv) } };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/**
 * The proxy npm is to use (HTTPS_PROXY, NO_PROXY, as npm reads them, either case). With
 * its password only for the install, which runs no code of the tag's: a script reads its
 * environment, so the steps that run scripts get the proxy without user and password (a
 * script that needs an authenticating proxy fails the build, seen in its log).
 */
function proxyOf(withCredentials: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const proxy = process.env.HTTPS_PROXY || process.env.https_proxy;
  if (proxy) {
    let url: URL | undefined;
    try {
      url = new URL(proxy);
    } catch {
      // not a URL: npm cannot use it either, and it may be anything
    }
    if (url && !withCredentials) {
      url.username = '';
      url.password = '';
    }
    if (url) out.HTTPS_PROXY = withCredentials ? proxy : url.href;
  }
  const noProxy = process.env.NO_PROXY || process.env.no_proxy;
  if (noProxy) out.NO_PROXY = noProxy;
  return out;
}

/**
 * A copy of npm's global config (as the build's npm finds it) in `folder`, for the install; undefined
 * when there is none to copy (none, not a regular file, or larger than any real one).
 */
function copyGlobalConfig(folder: string): string | undefined {
  const from = npmGlobalConfig(process.env.PATH ?? '/usr/bin:/bin');
  const size = from ? sizeOf(from) : undefined;
  if (!from || typeof size !== 'number' || size > MAX_PROJECT_NPMRC) return undefined;
  try {
    const to = join(folder, 'global-npmrc');
    mkdirSync(folder, { recursive: true });
    writeFileSync(to, readFileSync(from), { mode: 0o600 });
    return to;
  } catch (e) {
    throw localError(e, folder, "copy npm's global config into", { anyCode: true })!;
  }
}

/** Whether the proxy npm is given carries a user or password (see proxyOf). */
function proxyHasCredentials(): boolean {
  const proxy = process.env.HTTPS_PROXY || process.env.https_proxy;
  try {
    const url = new URL(proxy ?? '');
    return url.username !== '' || url.password !== '';
  } catch {
    return false;
  }
}

/**
 * A dependency spec npm fetches with git (npm-package-arg's `git` type): a git URL, a hosting
 * shorthand (`github:u/r`, `u/r#ref`), or a page of a git host (`https://github.com/u/r`).
 */
function isGitSpec(spec: string): boolean {
  if (isGitUrl(spec)) return true;
  if (/^https?:\/\/(?:www\.)?(?:github\.com|gitlab\.com|bitbucket\.org|gist\.github\.com)\//i.test(spec)) return !/\.(?:tgz|tar\.gz|tar)(?:[?#]|$)/i.test(spec);
  // npm-package-arg's isGitHubShorthand: `owner/repo`, before any `#` no space, `@`, `:` or second `/`, no leading `.`
  const head = spec.split('#')[0]!;
  return /^[^./@:\s][^/@:\s]*\/[^/@:\s]+$/.test(head) && !head.endsWith('/');
}

/**
 * Refuses every git dependency the install would fetch that a file names (dependencyRefs: the
 * manifests' dependencies of every kind and their overrides, what the lockfile pins; v1 spells a
 * git dependency in its `version`). EBUILD naming it.
 */
function refuseGitDependencies(project: NpmProject, subject: string): void {
  for (const d of dependencyRefs(project, subject)) {
    for (const spec of d.from === 'lock' ? [d.version, d.resolved] : [d.spec]) {
      if (typeof spec !== 'string' || !isGitSpec(spec)) continue;
      throw new MigrateError('EBUILD', `${subject}: its prepare script needs ${d.name} from git (${spec.replace(/[?#].*$/, '')}), and the install holds a registry token or a proxy password; npm installs a git dependency by running npm in its clone, with the clone's own .npmrc, which may send them to any host`, {
        subject,
        hint: 'publish that dependency to a registry and depend on it by version, give this version a build command (versions: { "<version>": { command: … } }), or skip it',
      });
    }
  }
}

/**
 * Settings of a tag's .npmrc that shape only what the install resolves and where it puts
 * it: kept for the install. Everything else is dropped: a registry, a scope's registry or
 * an auth line would send the install's tokens (npm expands `${VAR}`) wherever the tag
 * says, and `git`, `script-shell` and the like name a program npm runs while it holds them.
 */
const PROJECT_SETTINGS = new Set([
  'legacy-peer-deps',
  'strict-peer-deps',
  'engine-strict',
  'package-lock',
  'install-strategy',
  'install-links',
  'omit',
  'include',
  'lockfile-version',
  'prefer-dedupe',
  'legacy-bundling',
  'global-style',
  'before',
  'save-exact',
  'save-prefix',
]);
/** A project .npmrc larger than this is set aside without reading it (no real one comes near). */
const MAX_PROJECT_NPMRC = 64 * 1024;
const ASIDE = `.npmrc.cam-aside-${process.pid}`;

/**
 * npm reads one project config, `.npmrc` in its local prefix (the package's folder, or the
 * workspace root above it), and puts it above the user config the install's routes and
 * tokens are in. Every `.npmrc` from the package's folder up to the checkout's root is
 * renamed for the install (the checkout is ours, a fresh one per tag); the settings of
 * PROJECT_SETTINGS in the one npm would read are returned to go into the install's own
 * .npmrc. restore() puts the files back for the steps without tokens.
 */
function setAsideProjectConfig(checkoutDir: string, dir: string, subject: string): { settings: string; restore(): void } {
  const folders = foldersUp(checkoutDir, dir);
  const prefix = localPrefix(checkoutDir, dir).folder;
  const lines: string[] = [];
  const moved: string[] = [];
  const restore = () => {
    for (const f of moved.splice(0)) {
      try {
        renameSync(join(f, ASIDE), join(f, '.npmrc'));
      } catch {
        // the checkout is scratch: nothing depends on it
      }
    }
  };
  try {
    for (const f of folders) {
      const file = join(f, '.npmrc');
      const st = lstatSync(file, { throwIfNoEntry: false });
      if (!st) continue;
      if (f === prefix && st.isFile() && st.size <= MAX_PROJECT_NPMRC) {
        for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
          const m = /^\s*([a-z-]+)(\[\])?\s*=\s*(.*?)\s*$/i.exec(line);
          if (m && PROJECT_SETTINGS.has(m[1]!.toLowerCase()) && !m[3]!.includes('${')) lines.push(`${m[1]!.toLowerCase()}${m[2] ?? ''}=${m[3]}`);
        }
      }
      renameSync(file, join(f, ASIDE));
      moved.push(f);
    }
  } catch (e) {
    restore();
    throw new MigrateError('ELOCAL', `${subject}: cannot set the tag's .npmrc aside for the install: ${toError(e).message}`, { subject, cause: e });
  }
  return { settings: lines.length ? `${lines.join('\n')}\n` : '', restore };
}

/**
 * The package's folder must be in the checkout: the tag may commit the job's directory (or a
 * folder on the way to it) as a symbolic link to anywhere on this machine, and the build's
 * folder is writable to it, even where the tool's own code or the state directory is.
 */
function refuseFolderOut(checkoutDir: string, dir: string, subdir: string, subject: string): void {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return; // not there: readManifest says so
  }
  const top = realpathSync(checkoutDir);
  if (real === top || real.startsWith(top + sep)) return;
  throw new MigrateError('EBADSOURCE', `${subject}: the tag makes ${subdir} a symbolic link that leads out of the repository`, {
    subject,
    hint: 'make the package a folder of the repository at the source, or skip this version (versions: { "<version>": { skip: … } })',
  });
}

/** The package's folder and each folder above it, up to the checkout's root. */
function foldersUp(checkoutDir: string, dir: string): string[] {
  const root = resolvePath(checkoutDir);
  const folders: string[] = [];
  for (let at = resolvePath(dir); ; at = dirname(at)) {
    folders.push(at);
    if (at === root || !at.startsWith(root + sep)) break;
  }
  return folders;
}

/**
 * npm's local prefix, where it installs and whose lockfile it reads: the package's folder,
 * unless a folder above it (in the checkout) is a workspace root; with that root's manifest.
 */
function localPrefix(checkoutDir: string, dir: string): { folder: string; manifest?: Record<string, unknown> } {
  for (const f of foldersUp(checkoutDir, dir).slice(1)) {
    try {
      const doc = readManifest(f, f);
      if ('workspaces' in doc) return { folder: f, manifest: doc };
    } catch {
      // none, or not a manifest npm reads either
    }
  }
  return { folder: resolvePath(dir) };
}

/**
 * What an install in the package's folder resolves: in a workspace (a monorepo), npm installs
 * for the whole workspace from its root, with the root's lockfile: the root's dependencies and
 * every member's, not only the package's own. Members are installed as links, never fetched.
 */
interface NpmProject {
  /** Where the lockfile npm reads is. */
  prefix: string;
  /** The package's manifest, and in a workspace the root's and every member's. */
  manifests: Record<string, unknown>[];
  /** The workspace's members by name: local, never fetched. */
  local: Set<string>;
  /** The lockfile npm reads at `prefix`, if any. */
  lock?: Lockfile;
}

/** The most folders looked through for a workspace's members (a checkout's `node_modules` and `.git` are not entered). */
const MAX_WORKSPACE_FOLDERS = 50_000;

function npmProject(checkoutDir: string, dir: string, manifest: Record<string, unknown>, subject: string): NpmProject {
  const root = localPrefix(checkoutDir, dir);
  if (!root.manifest) return { prefix: root.folder, manifests: [manifest], local: new Set(), ...withLock(root.folder, subject) };
  const spec = root.manifest.workspaces;
  const list = Array.isArray(spec) ? spec : spec && typeof spec === 'object' && Array.isArray((spec as { packages?: unknown }).packages) ? (spec as { packages: unknown[] }).packages : [];
  // npm's workspace globs (`packages/*`, `apps/**`); a negated one still counts here: one too many is only checked
  const patterns = list.flatMap((p) => (typeof p === 'string' ? [globToRegExp(p.replace(/^!/, ''))] : []));
  const manifests = [manifest, root.manifest];
  const local = new Set<string>();
  let seen = 0;
  const folders = [root.folder];
  for (let at = folders.pop(); at !== undefined; at = folders.pop()) {
    if (++seen > MAX_WORKSPACE_FOLDERS) {
      throw new MigrateError('ETOOLARGE', `${subject}: the workspace at the tag has more than ${MAX_WORKSPACE_FOLDERS} folders to look through for its members`, { subject, hint: 'give this version a build command of its own (versions: { "<version>": { command: … } }), or skip it' });
    }
    const rel = relativePath(root.folder, at).split(sep).join('/');
    if (rel && patterns.some((p) => p.test(rel)) && sizeOf(join(at, 'package.json')) !== undefined) {
      const member = readManifest(at, subject, `${rel}/package.json, a member of the workspace`);
      manifests.push(member);
      if (typeof member.name === 'string') local.add(member.name);
    }
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== '.git') folders.push(join(at, entry.name));
    }
  }
  return { prefix: root.folder, manifests, local, ...withLock(root.folder, subject) };
}

const withLock = (prefix: string, subject: string): { lock?: Lockfile } => {
  const lock = readLock(prefix, subject);
  return lock ? { lock } : {};
};

/** A workspace glob as npm's map-workspaces reads it: `*` one folder name, `**` any depth, the rest literal. */
function globToRegExp(glob: string): RegExp {
  const text = glob.replace(/^\.\//, '').replace(/\/+$/, '');
  let re = '';
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith('**/', i)) {
      re += '(?:[^/]+/)*';
      i += 2;
    } else if (text.startsWith('/**', i) && i + 3 === text.length) {
      re += '(?:/[^/]+)*';
      i += 2;
    } else if (text.startsWith('**', i)) {
      re += '.*';
      i += 1;
    } else if (text[i] === '*') re += '[^/]*';
    else re += text[i]!.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The largest package.json and lockfile read here. Each is read whole and parsed in this
 * process, not in the contained build: a tag's 500 MB package.json would take the tool's
 * memory, not the build's. No real one comes near (npm's own lockfile for thousands of
 * packages is a few MB).
 */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const MAX_LOCKFILE_BYTES = 128 * 1024 * 1024;

/**
 * What is at `path`, followed through links: the size of a regular file, 'not a file' for
 * anything else (a link to /dev/zero would be read for ever), undefined when nothing is.
 */
function sizeOf(path: string): number | 'not a file' | undefined {
  let st;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch {
    return 'not a file'; // a link in a loop, a folder it cannot enter
  }
  if (!st) return lstatSync(path, { throwIfNoEntry: false }) ? 'not a file' : undefined;
  return st.isFile() ? st.size : 'not a file';
}

/** Refuses what `sizeOf` says cannot be read whole. */
function checkReadable(dir: string, file: string, max: number, subject: string, why = ''): void {
  const size = sizeOf(join(dir, file));
  if (size === 'not a file') throw new MigrateError('EBADBUILD', `${subject}: the tag's ${file} is not a regular file${why}`, { subject, hint: 'skip this version in the job file, or fix the tag' });
  if (size !== undefined && size > max) throw new MigrateError('ETOOLARGE', `${subject}: the tag's ${file} is ${size} bytes, more than the ${max} read${why}`, { subject, hint: 'skip this version in the job file, or give it a build command of its own' });
}

function readManifest(dir: string, subject: string, shown = 'package.json'): Record<string, unknown> {
  checkReadable(dir, 'package.json', MAX_MANIFEST_BYTES, subject, shown === 'package.json' ? '' : ` (${shown})`);
  try {
    // a byte order mark first, as npm reads it (it strips one)
    const doc = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8').replace(/^\uFEFF/, '')) as unknown;
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return doc as Record<string, unknown>;
  } catch {
    // below
  }
  throw new MigrateError('EBADBUILD', `${subject}: the tag has no readable ${shown}`, { subject, hint: 'skip this version in the job file, or fix the tag' });
}

/**
 * `npm pack` packs the package.json as the tag has it, and the target takes only a tarball of
 * this name and version (a loose spelling, `v1.2.0` or `1.2.0+build`, is the version npm
 * publishes it as): any other is refused here, before the install and the scripts run the code
 * of a tag that is not this version (a version not bumped before tagging, another package in
 * the folder), and before an install would take the job's name for the package's own scope.
 * A build command of its own may set the version itself: its tarball is checked after the build.
 */
function checkNamesVersion(manifest: Record<string, unknown>, name: string, version: string, subdir: string, subject: string): void {
  const given = typeof manifest.version === 'string' ? manifest.version : '';
  if (manifest.name === name && (given === version || semver.clean(given, { loose: true }) === version)) return;
  const says = `${typeof manifest.name === 'string' ? manifest.name : '(no name)'}@${given || '(no version)'}`;
  throw new MigrateError('EBADSOURCE', `${subject}: the tag's ${subdir ? `${subdir}/` : ''}package.json says ${says}`, {
    subject,
    expected: subject,
    actual: says,
    hint: 'fix the tag at the source (a package.json not bumped before tagging), skip this version (versions: { "<version>": { skip: … } }), or give it a build command that sets the version',
  });
}

/** `@scope` of a scoped name, else undefined. */
const scopeOf = (name: string) => (name.startsWith('@') && name.includes('/') ? name.slice(0, name.indexOf('/')) : undefined);

/** The registry URL with a trailing slash (npm compares and nerf-darts it that way). */
const withSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

/**
 * Every name the install would fetch that we can see before it runs: the
 * manifest's dependencies of every kind (an `npm:` alias by the name it
 * stands for) and every package its lockfile pins, with the URL it pins.
 */
function namesToInstall(project: NpmProject, subject: string): Map<string, string | undefined> {
  const names = new Map<string, string | undefined>();
  for (const d of dependencyRefs(project, subject)) {
    if (d.from === 'lock') {
      names.set(d.name, d.resolved ?? names.get(d.name));
      continue;
    }
    // an override may replace any package of the tree by another (`npm:@acme/fork@1`, a company's
    // fork of a public package): npm fetches that one, by the name it stands for, at any depth
    if (d.from === 'override' && !d.spec.startsWith('npm:')) continue;
    const alias = typeof d.spec === 'string' && d.spec.startsWith('npm:') ? d.spec.slice(4).replace(/(.)@.*$/, '$1') : undefined;
    // a workspace member is linked, not fetched (unless an alias sends it elsewhere)
    if (!alias && project.local.has(d.name)) continue;
    if (!names.has(alias ?? d.name)) names.set(alias ?? d.name, undefined);
  }
  return names;
}

/** One dependency a file of the project names: a manifest's (of any kind), an override's, or a lockfile's pin. */
type DependencyRef =
  | { from: 'manifest'; name: string; spec: unknown }
  | { from: 'override'; name: string; spec: string }
  | { from: 'lock'; name: string; resolved?: string; version?: string };

/**
 * Every dependency the project's files name, in the order npm reads them: each manifest's
 * dependencies of every kind and its overrides (each leaf, by the name its key stands for), then
 * what the lockfile pins (`packages`, links left out: a workspace member is a folder of the
 * checkout; and v1's nested `dependencies`). Nesting past any tree npm writes is refused (tooDeep).
 */
function* dependencyRefs(project: NpmProject, subject: string): Generator<DependencyRef> {
  function* overrides(node: unknown, depth: number): Generator<DependencyRef> {
    if (!node || typeof node !== 'object') return;
    if (depth > MAX_OVERRIDE_DEPTH) throw tooDeep(subject, 'package.json overrides', MAX_OVERRIDE_DEPTH);
    for (const [key, value] of Object.entries(node)) {
      if (typeof value === 'string') yield { from: 'override', name: key.replace(/(.)@.*$/, '$1'), spec: value };
      else yield* overrides(value, depth + 1);
    }
  }
  for (const manifest of project.manifests) {
    for (const kind of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
      const deps = manifest[kind];
      if (deps && typeof deps === 'object') for (const [name, spec] of Object.entries(deps)) yield { from: 'manifest', name, spec };
    }
    yield* overrides(manifest.overrides, 0);
  }
  const lock = project.lock;
  if (!lock) return;
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    const at = path.lastIndexOf('node_modules/');
    if (at < 0 || !entry || typeof entry !== 'object' || entry.link === true) continue;
    yield { from: 'lock', name: entry.name ?? path.slice(at + 'node_modules/'.length), ...(typeof entry.resolved === 'string' ? { resolved: entry.resolved } : {}) };
  }
  function* v1(deps: Record<string, unknown> | undefined, depth: number): Generator<DependencyRef> {
    if (deps && depth > MAX_LOCK_DEPTH) throw tooDeep(subject, 'the lockfile', MAX_LOCK_DEPTH);
    for (const [name, raw] of Object.entries(deps ?? {})) {
      const e = (raw ?? {}) as { version?: unknown; resolved?: unknown; dependencies?: Record<string, unknown> };
      yield { from: 'lock', name, ...(typeof e.resolved === 'string' ? { resolved: e.resolved } : {}), ...(typeof e.version === 'string' ? { version: e.version } : {}) };
      yield* v1(e.dependencies, depth + 1);
    }
  }
  yield* v1(lock.dependencies, 0);
}

/**
 * How deep a v1 lockfile's `dependencies` and a manifest's `overrides` may nest: far past any
 * tree npm writes (node_modules nested that deep breaks every file system's path length). A
 * deeper one is refused, never walked in part: what it holds past the bound is unchecked (a git
 * dependency, a name routed elsewhere) and, walked whole, a stack overflow.
 */
const MAX_LOCK_DEPTH = 256;
const MAX_OVERRIDE_DEPTH = 32;

function tooDeep(subject: string, what: string, max: number): MigrateError {
  return new MigrateError('EBUILD', `${subject}: ${what} nests deeper than ${max} levels, past any tree npm writes: what it holds there cannot be checked`, {
    subject,
    hint: 'fix the lockfile at the source (npm install writes it anew), give this version a build command (versions: { "<version>": { command: … } }), or skip it',
  });
}

type Lockfile = { packages?: Record<string, { name?: string; resolved?: string; link?: boolean }>; dependencies?: Record<string, unknown> };

/** The lockfile npm reads in `dir`: the shrinkwrap when there is one, else package-lock.json; undefined for none (or not JSON). */
function readLock(dir: string, subject: string): Lockfile | undefined {
  for (const file of ['npm-shrinkwrap.json', 'package-lock.json']) {
    // unread, its pins could not be checked: refused rather than installed unchecked
    checkReadable(dir, file, MAX_LOCKFILE_BYTES, subject, ' to check what it pins');
    try {
      const lock = JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown;
      if (lock && typeof lock === 'object' && !Array.isArray(lock)) return lock as Lockfile;
    } catch {
      // not there, or not JSON: npm reads the next
    }
  }
  return undefined;
}

/**
 * Which registry each internal scope resolves from (the job's npm source that
 * serves it: every such scope, needed or not); throws EBUILD, naming the dependency, for
 * an internal name no source's registry can serve (the package's own scope
 * with no source for it, an unscoped internal package: npm can only route a
 * scope to another registry) or one the lockfile pins elsewhere.
 */
function internalRoutes(project: NpmProject, self: string, sources: readonly InternalNpmRegistry[], subject: string): Map<string, InternalNpmRegistry | null> {
  const scopes = new Map<string, InternalNpmRegistry | undefined>();
  const packages = new Set<string>();
  // the package's own scope is internal by definition: it is being migrated into the internal repository
  const own = scopeOf(self);
  for (const src of sources) {
    for (const scope of src.scopes) if (!scopes.get(scope)) scopes.set(scope, src);
    for (const name of src.packages) {
      const scope = scopeOf(name);
      if (scope && !scopes.get(scope)) scopes.set(scope, src);
      if (!scope) packages.add(name);
    }
  }
  if (own && !scopes.has(own)) scopes.set(own, undefined);
  const routes = new Map<string, InternalNpmRegistry | null>();
  const refuse = (name: string, why: string) => {
    throw new MigrateError('EBUILD', `${subject}: its prepare script needs ${name}, an internal name, and ${why}; it is never resolved from a public registry, where anyone may publish that name`, {
      subject,
      hint: `add the npm source that serves ${scopeOf(name) ?? name} to the job (kind: npm-registry, with its scope), or give this version a build command (versions: { "<version>": { command: … } }), or skip it`,
    });
  };
  for (const [name, resolved] of namesToInstall(project, subject)) {
    const scope = scopeOf(name);
    if (!scope) {
      if (packages.has(name)) refuse(name, 'npm can send an unscoped name only to the public registry');
      continue;
    }
    if (!scopes.has(scope)) continue;
    const src = scopes.get(scope);
    if (!src) refuse(name, `none of the job's npm sources serves ${scope}`);
    if (resolved && /^https?:/.test(resolved) && !resolved.startsWith(withSlash(src!.url))) refuse(name, `the lockfile pins it at ${resolved.replace(/[?#].*$/, '')}, not at ${withSlash(src!.url)}`);
    routes.set(scope, src!);
  }
  // and every other scope a source serves: a dependency fetched from an internal registry may
  // itself need a package of another internal scope, which no file here names (npm asks the
  // registry it is routed to for each name as it meets it; unrouted, the public one)
  for (const [scope, src] of scopes) if (src && !routes.has(scope)) routes.set(scope, src);
  // the package's own scope with no source: a dependency's dependency there is in no file to
  // refuse by name, and npm must not ask the public registry for it, so it asks nowhere
  if (own && scopes.get(own) === undefined) routes.set(own, null);
  return routes;
}

/**
 * Where a scope no source serves is sent: a name that never resolves (RFC 6761 `.invalid`), so
 * the install fails saying which package it wanted from where, and asks no registry for it.
 */
const NO_REGISTRY = 'http://no-source-of-the-job-serves-this-scope.invalid/';

/**
 * The install's .npmrc (in the temporary HOME): each internal scope it needs
 * sent to its source's registry; the token stays in the environment (npm
 * expands `${VAR}` in .npmrc), so it is never on disk, in the state or a log.
 */
function npmrc(routes: Map<string, InternalNpmRegistry | null>, env: Record<string, string>): string {
  const lines: string[] = [];
  const tokens = new Map<string, string>();
  for (const [scope, src] of routes) {
    if (!src) {
      lines.push(`${scope}:registry=${NO_REGISTRY}`);
      continue;
    }
    const url = withSlash(src.url);
    lines.push(`${scope}:registry=${url}`);
    if (!src.token || tokens.has(url)) continue;
    const variable = `CAM_NPM_SOURCE_TOKEN_${tokens.size}`;
    tokens.set(url, variable);
    registerSecret(src.token);
    env[variable] = src.token;
    lines.push(`${url.replace(/^https?:/, '')}:_authToken=\${${variable}}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
