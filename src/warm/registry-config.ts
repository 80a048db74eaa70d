/**
 * Which registry a package manager fetched an npm package from when its lockfile
 * records no URL: pnpm-lock.yaml v9 (and v6 by default) pins only an integrity,
 * yarn berry only `name@npm:1.2.3`, npm's with `omit-lockfile-registry-resolved`
 * nothing. The registry is then in the configuration beside the lockfile:
 *
 * - npm and pnpm: `.npmrc`, `registry=<url>` and `@scope:registry=<url>`
 *   (https://docs.npmjs.com/cli/v10/configuring-npm/npmrc,
 *   https://pnpm.io/npmrc#registry);
 * - yarn berry: `.yarnrc.yml`, `npmRegistryServer` and
 *   `npmScopes.<scope>.npmRegistryServer` (https://yarnpkg.com/configuration/yarnrc),
 *   which yarn reads from every folder above the project too, the closest winning.
 *
 * Read here from the lockfile's folder up to the folder the lockfile was found in
 * (the job's folder, the folder the job names, or the repository's checkout), the
 * closest file winning per key, as the package managers do. A value that names an
 * environment variable (`${NPM_REGISTRY}`) cannot be told from here: the CI that
 * ran the install may set it to anything. Only the registry keys are kept:
 * an `.npmrc` also holds tokens (`//host/:_authToken=…`), which are never read into
 * anything, and no error quotes a line of these files.
 *
 * The `.npmrc` reader is our own: npm reads it with `ini`, which this project does
 * not depend on, and only two keys of it matter here (ini's rules for them are kept:
 * `;`/`#` comments, quotes, sections whose keys npm ignores at the top level).
 */
import { lstatSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { MigrateError, toError } from '../errors.js';
import type { LockfileFormat } from '../lockfiles/index.js';
import { isRecord, readLockfileText } from '../lockfiles/read.js';
import { redactUrlCredentials } from '../redact.js';

/** Configuration files are small: anything larger is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** What a configuration file says about one registry key. */
export interface RegistrySaid {
  /** The URL, or undefined when it cannot be told from here (an environment variable in it). */
  url?: string;
  /** The value as written, credentials hidden, for notes. */
  shown: string;
  /** The file that says it, as the summary names files. */
  file: string;
}

/** The registries the configuration around one lockfile names; `broken` when one of its files does not parse. */
export interface RegistryConfig {
  default?: RegistrySaid;
  /** By scope with its `@`. */
  scopes: Map<string, RegistrySaid>;
  /** The file that does not parse (as the summary names it): nothing can be told for a package with no URL. */
  broken?: string;
}

/** What the configuration says for a package; undefined when nothing does (the package manager's default). */
export function registryFor(config: RegistryConfig | undefined, name: string): RegistrySaid | { broken: string } | undefined {
  if (!config) return undefined;
  if (config.broken) return { broken: config.broken };
  const scope = name.startsWith('@') ? name.slice(0, name.indexOf('/')) : undefined;
  return (scope !== undefined ? config.scopes.get(scope) : undefined) ?? config.default;
}

/** One configuration file: what it says, or why it cannot be read. */
type FileSays = { ok: Omit<RegistryConfig, 'broken'> } | { error: MigrateError & { line?: number } };

/** The configuration file each lockfile format reads its registries from. */
function configName(format: LockfileFormat): string | undefined {
  switch (format) {
    case 'npm':
    case 'pnpm':
    case 'yarn-classic':
      return '.npmrc';
    case 'yarn-berry':
      return '.yarnrc.yml';
    default:
      return undefined;
  }
}

export interface ConfigError {
  /** The configuration file on disk. */
  file: string;
  line?: number;
  error: MigrateError;
}

/**
 * Reads the configuration around lockfiles, each file once (a broken file above many
 * lockfiles is one error). `display` names a file as the summary does.
 */
export class RegistryConfigReader {
  private readonly files = new Map<string, FileSays | undefined>();
  readonly errors: ConfigError[] = [];

  constructor(private readonly display: (file: string) => string) {}

  /** The configuration around `lockfile` (on disk), read no higher than `root`; undefined when no file names a registry. */
  around(lockfile: string, format: LockfileFormat, root: string): RegistryConfig | undefined {
    const name = configName(format);
    if (!name) return undefined;
    const top = resolve(root);
    const chain: string[] = [];
    for (let d = dirname(resolve(lockfile)); ; d = dirname(d)) {
      const rel = relative(top, d);
      if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) break;
      chain.push(join(d, name));
      if (rel === '' || dirname(d) === d) break;
    }
    // the farthest first: each closer file overrides what it names
    const out: RegistryConfig = { scopes: new Map() };
    let said = false;
    for (const file of chain.reverse()) {
      const f = this.read(file, format, top);
      if (!f) continue;
      if ('error' in f) return { scopes: new Map(), broken: this.display(file) };
      if (f.ok.default) out.default = f.ok.default;
      for (const [s, r] of f.ok.scopes) out.scopes.set(s, r);
      said ||= f.ok.default !== undefined || f.ok.scopes.size > 0;
    }
    return said ? out : undefined;
  }

  private read(file: string, format: LockfileFormat, root: string): FileSays | undefined {
    if (this.files.has(file)) return this.files.get(file);
    let says: FileSays | undefined;
    try {
      lstatSync(file);
    } catch {
      this.files.set(file, undefined);
      return undefined;
    }
    const shown = this.display(file);
    try {
      const text = readLockfileText(file, { root, maxBytes: MAX_CONFIG_BYTES });
      says = { ok: format === 'yarn-berry' ? yarnrc(text, shown) : npmrc(text, shown) };
    } catch (e) {
      const err = toError(e);
      // readLockfileText names the file by its path on disk: named as the summary names it, with a hint for a configuration file
      const line = (err as { line?: number }).line;
      const message = err.message.split(file).join(shown);
      const error = new MigrateError(err instanceof MigrateError ? err.code : 'ELOCKFILE', message.startsWith(shown) ? message : `${shown}: ${message}`, {
        subject: shown,
        hint: `fix ${shown} (the registries the package manager installs from): until then, the packages its lockfiles record no URL for are not requested`,
        cause: e,
      });
      this.errors.push({ file, ...(line ? { line } : {}), error });
      says = { error };
    }
    this.files.set(file, says);
    return says;
  }
}

/** An error at a line of a configuration file, its line kept for the summary. */
function configError(file: string, line: number | undefined, message: string): MigrateError {
  const e = new MigrateError('ELOCKFILE', `${file}${line ? `:${line}` : ''}: ${message}`, { subject: file });
  return Object.assign(e, line ? { line } : {});
}

/** The value as a registry: its URL, or none when an environment variable decides it. */
function said(value: string, file: string): RegistrySaid {
  const shown = redactUrlCredentials(value);
  return /\$\{/.test(value) || !/^https?:\/\//i.test(value) ? { shown, file } : { url: value, shown, file };
}

/** `.npmrc`: `registry` and `@scope:registry` at the top level (ini's rules; the last one written wins). */
function npmrc(text: string, file: string): Omit<RegistryConfig, 'broken'> {
  const out: Omit<RegistryConfig, 'broken'> = { scopes: new Map() };
  let section = false;
  for (const raw of text.split(/\r?\n|\r/)) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    if (/^\[.*\]$/.test(line)) {
      section = true;
      continue;
    }
    if (section) continue;
    const eq = line.indexOf('=');
    if (eq === -1) continue; // ini reads `key` alone as `key=true`: no registry
    const key = unquote(line.slice(0, eq).trim());
    if (key !== 'registry' && !/^@[^:/\s]+:registry$/.test(key)) continue;
    const value = valueOf(line.slice(eq + 1).trim());
    if (!value) continue;
    if (key === 'registry') out.default = said(value, file);
    else out.scopes.set(key.slice(0, key.indexOf(':')), said(value, file));
  }
  return out;
}

/** ini's value: a quoted string as it is, otherwise up to an unescaped `;` or `#`. */
function valueOf(v: string): string {
  if ((v.startsWith('"') && v.endsWith('"') && v.length > 1) || (v.startsWith("'") && v.endsWith("'") && v.length > 1)) return v.slice(1, -1);
  const cut = /(^|[^\\])[;#]/.exec(v);
  return (cut ? v.slice(0, cut.index + cut[1]!.length) : v).trim();
}

function unquote(k: string): string {
  return (k.startsWith('"') && k.endsWith('"')) || (k.startsWith("'") && k.endsWith("'")) ? k.slice(1, -1) : k;
}

/** `.yarnrc.yml`: `npmRegistryServer`, and `npmScopes.<scope>.npmRegistryServer`. */
function yarnrc(text: string, file: string): Omit<RegistryConfig, 'broken'> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, logLevel: 'error', uniqueKeys: false });
  const err = doc.errors[0];
  if (err) throw configError(file, err.linePos?.[0]?.line ?? lineCounter.linePos(err.pos[0]).line, `not valid YAML: ${err.message.split('\n')[0]}`);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw configError(file, undefined, `the YAML cannot be expanded: ${toError(e).message}`);
  }
  const out: Omit<RegistryConfig, 'broken'> = { scopes: new Map() };
  if (data === null || data === undefined) return out;
  if (!isRecord(data)) throw configError(file, 1, 'not a .yarnrc.yml: the top level is not a mapping');
  const lineOf = (path: string[]) => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    return node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  };
  const server = (v: unknown, path: string[]): RegistrySaid | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw configError(file, lineOf(path), `${path.join('.')} is not a string`);
    return said(v, file);
  };
  const def = server(data.npmRegistryServer, ['npmRegistryServer']);
  if (def) out.default = def;
  if (data.npmScopes !== undefined && data.npmScopes !== null) {
    if (!isRecord(data.npmScopes)) throw configError(file, lineOf(['npmScopes']), 'npmScopes is not a mapping');
    for (const [scope, settings] of Object.entries(data.npmScopes)) {
      if (!isRecord(settings)) continue;
      const s = server(settings.npmRegistryServer, ['npmScopes', scope, 'npmRegistryServer']);
      if (s) out.scopes.set(`@${scope.replace(/^@/, '')}`, s);
    }
  }
  return out;
}
