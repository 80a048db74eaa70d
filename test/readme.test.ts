/**
 * The README is the user's reference: every CLI command and option, every job-file key
 * and every error code must be in it, and nothing that does not exist. These checks read
 * the sources as text (main.ts runs the CLI when imported) and walk the zod schema, so a
 * flag, key or code added without documentation fails here. No servers, no child processes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { jobSchema, parseSize } from '../src/config/schema.js';

const root = new URL('../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const mainSource = readFileSync(new URL('src/cli/main.ts', root), 'utf8');

/** The body of a `## title` / `### title` section, up to the next heading of that level or higher. */
function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no "${heading}" section`);
  const level = heading.split(' ')[0]!;
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{2,${level.length}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** Every line of the README's ```sh blocks that runs `cam`. */
const camLines = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n')).map((l) => l.trim()).filter((l) => l.startsWith('cam '));

/** Commands and options as main.ts declares them: `.command('x')` then its `.option('--flag ...')` calls. */
function declaredCli(): { global: string[]; commands: Map<string, string[]> } {
  const commands = new Map<string, string[]>();
  const global: string[] = [];
  let current: string[] | undefined;
  let parent = '';
  for (const m of mainSource.matchAll(/(const ledger = program)?\s*\.command\('([^']+)'\)|\.option\('([^']+)'/g)) {
    if (m[2] !== undefined) {
      // `ledger` is a command of subcommands: they are written `ledger export`, `ledger verify`
      if (m[1]) parent = `${m[2]} `;
      const name = m[1] ? m[2] : `${commands.has('ledger') && /^(export|verify)$/.test(m[2]) ? parent : ''}${m[2]}`;
      current = [];
      commands.set(name, current);
    } else {
      const long = /--[a-z-]+/.exec(m[3]!)![0];
      (current ?? global).push(long);
    }
  }
  commands.delete('ledger'); // only its subcommands run anything
  return { global, commands };
}

describe('README: the CLI', () => {
  const { global, commands } = declaredCli();

  it('finds the commands main.ts declares (the reader of main.ts still works)', () => {
    expect([...commands.keys()].sort()).toEqual(['goproxy', 'harden', 'ledger export', 'ledger verify', 'plan', 'report', 'rewrite-lockfiles', 'run', 'status', 'warm']);
    expect(commands.get('run')).toEqual(['--dry-run', '--json', '--concurrency', '--retarget', '--quiet']);
    expect(global).toEqual(['--state-dir']);
  });

  it('has a heading and an example for every command, and an example of every option', () => {
    const missing: string[] = [];
    for (const [name, options] of commands) {
      if (!readme.includes(`\`${name} <`)) missing.push(`heading for ${name}`);
      const examples = camLines.filter((l) => l.startsWith(`cam ${name} `));
      if (examples.length === 0) missing.push(`example of cam ${name}`);
      for (const o of options) if (!examples.some((l) => new RegExp(`\\s${o}(\\s|$)`).test(l))) missing.push(`cam ${name} ${o}`);
    }
    for (const o of global) if (!camLines.some((l) => l.includes(` ${o} `))) missing.push(`global ${o}`);
    expect(missing).toEqual([]);
  });

  it('a command\'s table of flags lists exactly its options', () => {
    const tables: string[] = [];
    for (const [name, options] of commands) {
      if (!readme.includes(`\n### \`${name} <`)) continue;
      const heading = readme.split('\n').find((l) => l.startsWith(`### \`${name} <`))!;
      const rows = section(heading)
        .split('\n')
        .filter((l) => /^\| `-/.test(l))
        .map((l) => /--[a-z-]+/.exec(l.split(' | ')[0]!)![0]);
      if (rows.length === 0) continue;
      tables.push(name);
      expect(rows.sort(), name).toEqual([...options].sort());
    }
    // the reader still finds them
    expect(tables).toEqual(expect.arrayContaining(['run', 'warm']));
  });

  it('names no command or option that does not exist', () => {
    const wrong: string[] = [];
    for (const line of camLines) {
      const words = line.replace(/#.*$/, '').split(/\s+/).slice(1);
      // global options come before the command, each with its value
      while (words[0] !== undefined && global.includes(words[0])) words.splice(0, 2);
      const name = words[0] === 'ledger' ? `ledger ${words[1]}` : words[0]!;
      const options = commands.get(name);
      if (!options) {
        wrong.push(line);
        continue;
      }
      for (const w of words) if (w.startsWith('--') && !options.includes(w) && !global.includes(w)) wrong.push(`${line}: ${w}`);
    }
    expect(wrong).toEqual([]);
  });
});

/** The defaults of one key that two kinds of source (a union's members) both define. */
class Alternatives {
  constructor(readonly values: unknown[]) {}
}

describe('README: the job-file reference', () => {
  const block = /```yaml\n([\s\S]*?)```/.exec(section('## Job-file reference'))?.[1];

  /** Key paths (`a.b[].c`; a record's keys as `*`) of a zod schema, each with its default when it has one. */
  function schemaKeys(s: unknown, path: string, out: Map<string, unknown>, dflt?: unknown): void {
    const d = (s as { _zod: { def: Record<string, any> } })._zod.def;
    switch (d.type) {
      case 'optional':
      case 'nullable':
        return schemaKeys(d.innerType, path, out, dflt);
      case 'default':
      case 'prefault':
        return schemaKeys(d.innerType, path, out, d.defaultValue);
      case 'pipe':
        return schemaKeys(d.in, path, out, dflt);
      case 'array':
        return schemaKeys(d.element, `${path}[]`, out);
      case 'record':
        return schemaKeys(d.valueType, `${path}.*`, out);
      case 'union':
        for (const o of d.options) schemaKeys(o, path, out, dflt);
        return;
      case 'object':
        for (const [k, v] of Object.entries(d.shape as object)) schemaKeys(v, path ? `${path}.${k}` : k, out);
        return;
      default:
        if (path && !out.has(path)) out.set(path, dflt);
        // one key in two kinds of source with their own defaults (sources[].idleTimeoutSeconds): both
        else if (path && dflt !== undefined && out.get(path) !== undefined && out.get(path) !== dflt) out.set(path, new Alternatives([...(out.get(path) instanceof Alternatives ? (out.get(path) as Alternatives).values : [out.get(path)]), dflt]));
        else if (path && dflt !== undefined) out.set(path, dflt);
    }
  }

  /** The same paths in a parsed YAML document. */
  function docKeys(v: unknown, path: string, out: Set<string>): void {
    if (Array.isArray(v)) {
      for (const e of v) docKeys(e, `${path}[]`, out);
      if (v.length === 0) out.add(`${path}[]`);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, e] of Object.entries(v)) docKeys(e, path.endsWith('.versions') ? `${path}.*` : path ? `${path}.${k}` : k, out);
    } else out.add(path);
  }

  // repositories has one shape for every format; filters one entry shape for include and exclude
  const normal = (p: string) => p.replace(/\[\]$/, '').replace(/^target\.repositories\.\w+\./, 'target.repositories.<format>.').replace(/^filters\.(include|exclude)\[\]/, 'filters.<list>[]');

  it('is a job file the schema accepts (no key the schema refuses)', () => {
    expect(block).toBeDefined();
    const parsed = jobSchema.safeParse(parseYaml(block!));
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  });

  it('shows every key the schema defines', () => {
    const wanted = new Map<string, unknown>();
    schemaKeys(jobSchema, '', wanted);
    const shown = new Set<string>();
    docKeys(parseYaml(block!), '', shown);
    const shownNormal = new Set([...shown].map(normal));
    const missing = [...new Set([...wanted.keys()].map(normal))].filter((k) => !shownNormal.has(k));
    expect(missing).toEqual([]);
    for (const format of ['npm', 'pypi', 'generic']) expect([...shown].some((k) => k.startsWith(`target.repositories.${format}.`)), format).toBe(true);
  });

  it('shows each scalar default as the value, and states no other default in the comment', () => {
    const wanted = new Map<string, unknown>();
    schemaKeys(jobSchema, '', wanted);
    const lines = block!.split('\n');
    const wrong: string[] = [];
    for (const [path, wantedDefault] of wanted) {
      const dflts = wantedDefault instanceof Alternatives ? wantedDefault.values : [wantedDefault];
      if (!dflts.every((d) => ['number', 'boolean', 'string'].includes(typeof d) && d !== '')) continue;
      const key = path.split('.').pop()!.replace('[]', '');
      // the key's lines below its top-level key (npm: is both a repository and a public registry)
      const from = lines.findIndex((l) => l.startsWith(`${path.split(/[.[]/)[0]}:`));
      const keyLines = lines.slice(Math.max(0, from)).filter((l) => new RegExp(`^\\s*(- )?${key}:`).test(l));
      if (keyLines.length === 0) continue; // "shows every key" reports it
      // each default on a line of its own, in schema order (a key of two kinds of source: one line each)
      dflts.forEach((dflt, i) => {
        const line = keyLines[i] ?? keyLines[0]!;
        const [value, comment = ''] = line.slice(line.indexOf(':') + 1).split(/\s+#\s*/);
        const shown = value!.trim().replace(/^"(.*)"$/, '$1');
        const stated = /\bdefault:? (\d+(?: ?[KMG]i?B\b)?)/.exec(comment)?.[1];
        const same = typeof dflt === 'number' ? parseSize(shown) === dflt : shown === String(dflt);
        if (!same || (stated !== undefined && parseSize(stated) !== dflt)) wrong.push(`${path} (default ${String(dflt)}): ${line.trim()}`);
      });
    }
    expect(wrong).toEqual([]);
  });

  it('states each range the schema takes: both bounds as written accepted, just past them refused', () => {
    const lines = block!.split('\n');
    const bound = String.raw`(\d+(?:\.\d+)?(?: ?[KMGT]i?B)?)`;
    const range = new RegExp(`${bound}\\.\\.${bound}`);
    const accepts = (i: number, value: string) => jobSchema.safeParse(parseYaml(lines.map((l, j) => (j === i ? l.replace(/^(\s*(?:- )?\w+:)\s*[^#]*?(\s+#|$)/, `$1 ${value}$2`) : l)).join('\n'))).success;
    const checked: string[] = [];
    const wrong: string[] = [];
    lines.forEach((line, i) => {
      const key = /^(\s*)(?:- )?(\w+):([^#]*)#(.*)$/.exec(line);
      if (!key) return;
      // the key's comment runs on over the comment-only lines below it
      let comment = key[4]!;
      for (let j = i + 1; j < lines.length && /^\s+#/.test(lines[j]!); j++) comment += ` ${lines[j]!.replace(/^\s+#/, '')}`;
      const m = range.exec(comment);
      if (!m) return;
      // a range on a key without a value (rates:) is each of its keys' below
      const targets = key[3]!.trim() !== '' ? [i] : lines.flatMap((l, j) => (j > i && /^\s+\w+: \S/.test(l) && l.search(/\S/) > key[1]!.length && lines.slice(i + 1, j).every((b) => b.search(/\S/) > key[1]!.length || /^\s*#/.test(b)) ? [j] : []));
      const [lo, hi] = [m[1]!, m[2]!];
      // a size in bytes (parseSize rounds to whole bytes), else the number itself (a rate of 0.1)
      const value = (b: string) => (/[A-Z]/.test(b) ? parseSize(b.replace(' ', '')) : Number(b));
      const [loN, hiN] = [value(lo), value(hi)];
      for (const t of targets) {
        const name = `${lines[t]!.trim().split(':')[0]} (line ${t + 1}, ${m[0]})`;
        checked.push(name);
        // as written, so a bound a user copies from here is one the job file takes
        const asWritten = (b: string) => (/[A-Z]/.test(b) ? `"${b}"` : b);
        if (!accepts(t, asWritten(lo))) wrong.push(`${name}: ${lo} refused`);
        if (!accepts(t, asWritten(hi))) wrong.push(`${name}: ${hi} refused`);
        if (loN === undefined || hiN === undefined) continue; // refused above
        const step = (n: number) => (Number.isInteger(n) ? 1 : n / 2);
        if (accepts(t, String(loN - step(loN)))) wrong.push(`${name}: ${loN - step(loN)} accepted`);
        if (accepts(t, String(hiN + step(hiN)))) wrong.push(`${name}: ${hiN + step(hiN)} accepted`);
      }
    });
    // the reader of the block still finds them (a range on a continued comment, and each rate)
    expect(checked.some((c) => c.startsWith('maxMirrorBytes'))).toBe(true);
    expect(checked.some((c) => c.startsWith('publish '))).toBe(true);
    expect(wrong).toEqual([]);
  });
});

describe('README: job-file keys named in the text', () => {
  /** Every key path of the schema, intermediate objects included (`limits`, `limits.rates`, `limits.rates.publish`). */
  function paths(s: unknown, path: string, out: Set<string>): void {
    const d = (s as { _zod: { def: Record<string, any> } })._zod.def;
    if (path) out.add(path);
    switch (d.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
        return paths(d.innerType, path, out);
      case 'pipe':
        return paths(d.in, path, out);
      case 'array':
        return paths(d.element, `${path}[]`, out);
      case 'record':
        return paths(d.valueType, `${path}.*`, out);
      case 'union':
        for (const o of d.options) paths(o, path, out);
        return;
      case 'object':
        for (const [k, v] of Object.entries(d.shape as object)) paths(v, path ? `${path}.${k}` : k, out);
    }
  }

  it('every `section.key` the README names is a key of the job file', () => {
    const known = new Set<string>();
    paths(jobSchema, '', known);
    const tops = Object.keys((jobSchema as unknown as { shape: object }).shape);
    expect(tops).toContain('limits');
    // `limits.rates` or `build.network: true`
    const named = [...readme.matchAll(/`([a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*|\[[^\]`]*\])+)(?:: [^`]*)?`/g)].map((m) => m[1]!);
    const wrong = named
      // a source's own keys are written from the source down (`build.network`)
      .map((n) => (n.startsWith('build.') ? `sources.${n}` : n))
      .filter((n) => tops.includes(n.split(/[.[]/)[0]!))
      // the report's JSON, not the job file
      .filter((n) => n !== 'warm.lockfiles[].problems')
      .filter((n) => {
        const path = n.replace(/\[[^\]]*\]/g, '[]').replace(/^sources\./, 'sources[].');
        return !known.has(path);
      });
    expect(named.length).toBeGreaterThan(10);
    expect([...new Set(wrong)]).toEqual([]);
  });

  it('every "raise <key>" an error hint gives names a key of the job file (a limit no job file can set is no advice)', () => {
    const known = new Set<string>();
    paths(jobSchema, '', known);
    const files = (readdirSync(new URL('src/', root), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const wrong: string[] = [];
    let seen = 0;
    for (const f of files) {
      for (const m of readFileSync(new URL(`src/${f}`, root), 'utf8').matchAll(/\braise ([A-Za-z][\w.]*)/g)) {
        seen++;
        const key = m[1]!.replace(/\.$/, '');
        // a source's own keys are written from the source down (build.timeoutSeconds)
        const path = /^(build|idleTimeoutSeconds)\b/.test(key) ? `sources[].${key}` : key;
        if (!known.has(path)) wrong.push(`src/${f}: raise ${key}`);
      }
    }
    expect(seen).toBeGreaterThan(3);
    expect(wrong).toEqual([]);
  });
});

describe('README: report findings', () => {
  it('the findings table names every code findings.ts gives a finding, with its severity, and none it does not', () => {
    const source = readFileSync(new URL('src/report/findings.ts', root), 'utf8');
    const given = new Map([...source.matchAll(/severity: '(critical|warning)',\s*code: '(E[A-Z]+)'/g)].map((m) => [m[2]!, m[1]!]));
    expect(given.get('EEXPOSED')).toBe('critical');
    const rows = section('### Reports')
      .split('\n')
      .filter((l) => l.startsWith('| `E'))
      .flatMap((l) => {
        const [codes, severity] = l.slice(2).split(' | ');
        return [...codes!.matchAll(/`(E[A-Z]+)`/g)].map((m) => [m[1]!, severity!] as const);
      });
    const shown = new Map(rows);
    expect([...given.keys()].filter((c) => !shown.has(c)).sort()).toEqual([]);
    expect([...shown.keys()].filter((c) => !given.has(c)).sort()).toEqual([]);
    expect([...given].filter(([c, sev]) => shown.get(c) !== sev).map(([c, sev]) => `${c}: ${sev}, README ${shown.get(c)}`)).toEqual([]);
  });
});

describe('README: error codes', () => {
  const union = [.../export type ErrorCode =([\s\S]*?);/.exec(readFileSync(new URL('src/errors.ts', root), 'utf8'))![1]!.matchAll(/'(E[A-Z]+)'/g)].map((m) => m[1]!);
  const hinted = [...readFileSync(new URL('src/report/hints.ts', root), 'utf8').matchAll(/^ {2}(E[A-Z]+): /gm)].map((m) => m[1]!);
  const table = section('### States and error codes')
    .split('\n')
    .filter((l) => l.startsWith('| `E'))
    .flatMap((l) => [...l.split(' | ')[0]!.matchAll(/`(E[A-Z]+)`/g)].map((m) => m[1]!));

  it('reads the union, the hints and the table', () => {
    expect(union).toContain('EINTEGRITY');
    expect(hinted).toContain('EINTEGRITY');
    expect(table).toContain('EINTEGRITY');
  });

  it('documents every code a row or a command can end with, and none that does not exist', () => {
    // what the CLI prints for an error that is no MigrateError
    expect(readFileSync(new URL('src/cli/output.ts', root), 'utf8')).toContain("'EUNEXPECTED'");
    const known = new Set([...union, ...hinted, 'EUNEXPECTED']);
    expect([...known].filter((c) => !table.includes(c)).sort()).toEqual([]);
    expect(table.filter((c) => !known.has(c))).toEqual([]);
  });

  it('has no hint for a code that does not exist (ETAGMOVED is a row code the state writes, not a thrown error)', () => {
    expect(hinted.filter((c) => !union.includes(c))).toEqual(['ETAGMOVED']);
  });
});

describe('README: running against AWS', () => {
  it('grants every AWS API the code calls', () => {
    const files = (readdirSync(new URL('src/', root), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const called = new Set<string>();
    for (const f of files) for (const m of readFileSync(new URL(`src/${f}`, root), 'utf8').matchAll(/new (\w+)Command\(/g)) called.add(m[1]!);
    expect(called).toContain('PublishPackageVersion');
    const policy = section('## Running against AWS');
    expect([...called].filter((a) => !new RegExp(`\\b(codeartifact|sts|servicequotas):${a}\\b`).test(policy)).sort()).toEqual([]);
  });

  it('grants nothing the code does not ask for', () => {
    const files = (readdirSync(new URL('src/', root), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const sources = new Map(files.map((f) => [`src/${f}`, readFileSync(new URL(`src/${f}`, root), 'utf8')]));
    const called = new Set([...sources.values()].flatMap((text) => [...text.matchAll(/new (\w+)Command\(/g)].map((m) => m[1]!)));
    // actions no SDK command names: each is asked where this says (the check that it still is)
    const notCommands: Record<string, { file: string; asks: RegExp }> = {
      // the token call takes it (https://docs.aws.amazon.com/codeartifact/latest/ug/tokens-authentication.html)
      GetServiceBearerToken: { file: 'src/targets/codeartifact.ts', asks: /new GetAuthorizationTokenCommand\(/ },
      // every read of a repository endpoint: read-back, PyPI simple index, warm through the stores
      ReadFromRepository: { file: 'src/targets/endpoint.ts', asks: /export class RepositoryEndpoint\b/ },
      // npm dist-tags and deprecations, written through the npm endpoint as npm dist-tag/deprecate do
      PutPackageMetadata: { file: 'src/targets/npm.ts', asks: /method: 'PUT',\s+url: `\$\{endpoint\}-\/package\/\$\{escapeName\(name\)\}\/dist-tags\// },
    };
    const policyBlock = /```json\n([\s\S]*?)```/.exec(section('## Running against AWS'))![1]!;
    // actions, not condition keys ("sts:AWSServiceName": ...)
    const granted = [...policyBlock.matchAll(/"(?:codeartifact|sts|servicequotas):(\w+)"(?!\s*:)/g)].map((m) => m[1]!);
    expect(granted).toContain('PublishPackageVersion');
    expect(granted.filter((a) => !called.has(a) && !(a in notCommands)).sort()).toEqual([]);
    for (const [action, where] of Object.entries(notCommands)) {
      expect(granted, action).toContain(action);
      expect(sources.get(where.file), `${action} in ${where.file}`).toMatch(where.asks);
    }
  });
});

describe('README: sections the code points at', () => {
  it('every `"<section>" in the README` an error hint names is a heading of the README', () => {
    const files = (readdirSync(new URL('src/', root), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const named = new Set<string>();
    for (const f of files) for (const m of readFileSync(new URL(`src/${f}`, root), 'utf8').matchAll(/\\?"([A-Z][^"\\]*)\\?" in the README/g)) named.add(m[1]!);
    expect(named.size).toBeGreaterThan(0);
    const headings = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1]!.trim()));
    expect([...named].filter((n) => !headings.has(n)).sort()).toEqual([]);
  });
});

/**
 * Keys of `export interface <name> { ... }` in a source file: `top` those of the interface itself
 * (two spaces in), `all` every key written inside it at any depth (nested object types).
 */
function interfaceKeys(file: string, name: string): { top: string[]; all: Set<string> } {
  const text = readFileSync(new URL(file, root), 'utf8');
  const start = text.indexOf(`export interface ${name} {`);
  if (start < 0) throw new Error(`${file} has no interface ${name}`);
  let depth = 0;
  let end = start;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) {
      end = i;
      break;
    }
  }
  // comments name keys of other things (`packages`, `scopes`): keys only from code
  const body = text.slice(start, end).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  return { top: [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]!), all: new Set([...body.matchAll(/(\w+)\??:/g)].map((m) => m[1]!)) };
}

/** The text of `from` up to the first `to` after it. */
function between(text: string, from: string, to: string): string {
  const start = text.indexOf(from);
  if (start < 0) throw new Error(`README has no "${from}"`);
  const end = text.indexOf(to, start + from.length);
  if (end < 0) throw new Error(`README has no "${to}" after "${from}"`);
  return text.slice(start, end);
}

/** Names in backticks that read as JSON fields: a word, or a dotted path from a camelCase one (`lastRun.error`; `go.sum` is a file). */
const fieldNames = (text: string) => [...text.matchAll(/`([a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*)*)`/g)].map((m) => m[1]!).filter((n) => !n.includes('.') || /[A-Z]/.test(n.split('.')[0]!));

describe('README: the JSON each command prints', () => {
  /**
   * Each described paragraph names every top-level field of its interface in backticks, and every
   * camelCase name it puts in backticks is a field of that interface (at some depth): a field renamed
   * in the code, or a name mistyped in the README, fails here.
   */
  const cases: { what: string; text: () => string; file: string; iface: string; unnamed?: Record<string, string> }[] = [
    {
      what: 'run --json',
      text: () => between(readme, 'The summary (`--json`) holds: `job`', '\n\n'),
      file: 'src/engine/events.ts',
      iface: 'RunSummary',
      // set by a plan made with --no-target or --no-download only: `run` never prints them
      unnamed: { noTarget: 'a plan --no-target only', noDownload: 'a plan --no-download only' },
    },
    { what: 'warm --json', text: () => between(section('### `warm <job>`'), 'The summary (`--json`) holds', 'Exit 0;'), file: 'src/warm/summary.ts', iface: 'WarmSummary' },
    { what: 'status --json', text: () => section('### `status <job>`'), file: 'src/cli/status.ts', iface: 'StatusReport' },
  ];

  for (const c of cases) {
    it(`${c.what}: names every field of ${c.iface}, and none it lacks`, () => {
      const { top, all } = interfaceKeys(c.file, c.iface);
      expect(top.length).toBeGreaterThan(5);
      const text = c.text();
      const named = fieldNames(text);
      // `lastRun.error` names lastRun too
      const namedTop = new Set(named.map((n) => n.split('.')[0]!));
      expect(top.filter((k) => !namedTop.has(k) && !(k in (c.unnamed ?? {})))).toEqual([]);
      // camelCase only: single lower-case words in backticks are also outcomes and states (`published`)
      expect(named.filter((n) => /[A-Z.]/.test(n) && n.split('.').some((part) => !all.has(part)))).toEqual([]);
    });
  }

  /** The keys of `<field>: { ... }[]` written on one line of an interface (an entry's fields). */
  const entryKeys = (file: string, field: string) => {
    const line = readFileSync(new URL(file, root), 'utf8').split('\n').find((l) => new RegExp(`^\\s+${field}: \\{`).test(l));
    if (!line) throw new Error(`${file} has no one-line ${field}`);
    return [...line.slice(line.indexOf('{')).matchAll(/(\w+)\??:/g)].map((m) => m[1]!);
  };

  it('notInJob: run --json and status --json each name every field of an entry, each under its own name', () => {
    // the two spell "never migrated" differently (notMigrated, versions): each paragraph must say which is whose
    const run = between(readme, 'The summary (`--json`) holds: `job`', '\n\n');
    const runKeys = entryKeys('src/engine/events.ts', 'notInJob');
    expect(runKeys).toContain('notMigrated');
    const names = (text: string, k: string) => new RegExp(`\`${k}(\`|: )`).test(text);
    expect(runKeys.filter((k) => !names(run, k) && k !== 'source' && k !== 'package')).toEqual([]);
    const status = section('### `status <job>`');
    const statusKeys = entryKeys('src/cli/status.ts', 'notInJob');
    expect(statusKeys.filter((k) => !names(status, k) && k !== 'source' && k !== 'package')).toEqual([]);
    // the paragraph on a package no longer named speaks of both: it names each form's field
    const dropped = between(readme, '**A package the job no longer names is no longer in the job**', '\n\n');
    for (const k of ['notMigrated', 'versions']) expect(dropped, k).toContain(`\`${k}\``);
  });
});

describe('README: exit codes', () => {
  const output = readFileSync(new URL('src/cli/output.ts', root), 'utf8');
  /** The codes reportError exits 2 with (output.ts BAD_INPUT). */
  const badInput = [.../const BAD_INPUT = new Set\(\[([^\]]*)\]\)/.exec(output)![1]!.matchAll(/'(E[A-Z]+)'/g)].map((m) => m[1]!);
  /** Codes that exit 2 outside BAD_INPUT, each where the code says so. */
  const alsoTwo: Record<string, { file: string; says: RegExp }> = {
    // warm refuses to start with an internal name unprotected
    EUNPROTECTED: { file: 'src/cli/warm.ts', says: /e\.code === 'EUNPROTECTED' \? 2/ },
    // an unset (or malformed) token variable, found before any work
    ESOURCEAUTH: { file: 'src/cli/output.ts', says: /e\.code === 'ESOURCEAUTH' && \/environment variable\// },
  };
  const codesOf = (text: string) => [...text.matchAll(/`(E[A-Z]+)`/g)].map((m) => m[1]!);
  const exitRow = (n: number) => section('### Exit codes').split('\n').find((l) => l.startsWith(`| ${n} |`))!;

  it('reads BAD_INPUT and the exceptions where the code has them', () => {
    expect(badInput).toContain('ECONFIG');
    for (const [code, where] of Object.entries(alsoTwo)) expect(readFileSync(new URL(where.file, root), 'utf8'), code).toMatch(where.says);
  });

  it('the table names, under 2, every code that exits 2, and under 1 none of them', () => {
    const two = codesOf(exitRow(2));
    const exitsTwo = [...badInput, ...Object.keys(alsoTwo)];
    expect(exitsTwo.filter((c) => !two.includes(c))).toEqual([]);
    expect(two.filter((c) => !exitsTwo.includes(c))).toEqual([]);
    expect(codesOf(exitRow(1)).filter((c) => exitsTwo.includes(c))).toEqual([]);
  });

  it('an error code\'s row that says its exit code says the one the code gives', () => {
    const exitsTwo = new Set([...badInput, ...Object.keys(alsoTwo)]);
    const wrong: string[] = [];
    for (const row of section('### States and error codes').split('\n').filter((l) => l.startsWith('| `E'))) {
      const [codes, happened] = row.slice(2).split(' | ');
      // the first exit code a row states is the command's (a later one is a subcommand's: ledger verify)
      const said = /\bexit (\d)/i.exec(happened!)?.[1];
      if (said === undefined) continue;
      for (const code of codesOf(codes!)) if ((said === '2') !== exitsTwo.has(code)) wrong.push(`${code}: README says exit ${said}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('README: set-up', () => {
  it('.ci/run runs exactly the quick start\'s test command, and the npm scripts the README runs exist', () => {
    const quick = [.../```sh\n([\s\S]*?)```/g.exec(section('## Quick start'))![1]!.matchAll(/^(npm [^#\n]*?)\s+#/gm)].map((m) => m[1]!);
    expect(quick).toEqual(['npm ci && npm run demo', 'npm ci && npm test']);
    const ci = readFileSync(new URL('.ci/run', root), 'utf8').trim().split('\n');
    expect(ci.at(-1)).toBe(quick[1]);
    const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const s of ['test', 'demo', 'sandbox', 'bench', 'cli']) expect(scripts[s], s).toBeDefined();
  });
});

describe('README: the numbers it quotes', () => {
  /**
   * A bound or threshold the README states, pinned to the constant that sets it: changing either
   * alone fails here. `expr` is the constant's initialiser as written (digits, _, *, <<, +); `says`
   * a phrase of the README (whitespace as one space) that states it.
   */
  const pins: { file: string; constant: string; value: number; says: string[] }[] = [
    { file: 'src/engine/limiter.ts', constant: 'STUCK_AFTER', value: 8, says: ['answered none of 8 requests in a row', 'leaves 8 reads in a row unanswered'] },
    { file: 'src/engine/limiter.ts', constant: 'UNREACHABLE_AFTER', value: 3, says: ['3 requests or more in a row failed before any answer'] },
    { file: 'src/engine/limiter.ts', constant: 'UNREACHABLE_FOR_MS', value: 20_000, says: ['`ETARGETUNREACHABLE`, after 20 s', 'the first at least 20 s before the last'] },
    { file: 'src/cli/ledger.ts', constant: 'VERIFY_UNREACHABLE_FOR_MS', value: 5_000, says: ['there after 5 s'] },
    { file: 'src/cli/ledger.ts', constant: 'TARGET_READ_TIMEOUT_MS', value: 60_000, says: ['or within 60 s) is reported as not checked'] },
    { file: 'src/engine/stop.ts', constant: 'THROTTLED_BEFORE_STOP', value: 8, says: ['8 versions in a row throttled through their whole retry budget', '8 versions (a `warm`: entries; `harden`: packages) in a row', 'stops the same way after 8 packages in a row'] },
    { file: 'src/engine/stop.ts', constant: 'REFUSALS_BEFORE_STOP', value: 8, says: ['refused 8 versions in a row (403) of at least 3 packages', 'refuses 8 tarball downloads in a row, of 3 packages or more'] },
    { file: 'src/goproxy/download.ts', constant: 'MAX_DOWNLOADS', value: 32, says: ['at most 32 downloads stream at once'] },
    { file: 'src/goproxy/download.ts', constant: 'DEFAULT_IDLE_TIMEOUT_MS', value: 60_000, says: ['a download that moves no byte for 60 s'] },
    { file: 'src/goproxy/download.ts', constant: 'DEFAULT_MIN_DOWNLOAD_RATE', value: 32 * 1024, says: ['its size at 32 KiB/s after it started'] },
    { file: 'src/goproxy/handler.ts', constant: 'DEFAULT_UPSTREAM_TIMEOUT_MS', value: 60_000, says: ['within 60 s is a 504'] },
    { file: 'src/goproxy/handler.ts', constant: 'READ_RETRIES', value: 3, says: ['Throttling that outlasts three retries is a 503'] },
    { file: 'src/goproxy/connections.ts', constant: 'DEFAULT_MAX_CONNECTIONS', value: 256, says: ['At most 256 connections are open at once'] },
    { file: 'src/goproxy/connections.ts', constant: 'MAX_PIPELINED', value: 8, says: ['more than 8 requests in flight at once'] },
    { file: 'src/goproxy/connections.ts', constant: 'DEFAULT_HEAD_TIMEOUT_MS', value: 10_000, says: ['a request head not complete within 10 s'] },
    { file: 'src/goproxy/protocol.ts', constant: 'MAX_NOSUMDB_CHARS', value: 32 * 1024, says: ['would not fit in 32 KiB'] },
    { file: 'src/goproxy/protocol.ts', constant: 'MAX_COORDINATE', value: 255, says: ['longer than CodeArtifact can hold (255 characters)'] },
    { file: 'src/state/ledger.ts', constant: 'MAX_LEDGER_LINE_BYTES', value: 4 * 1024 * 1024, says: ['a line over 4 MiB'] },
    { file: 'src/state/ledger.ts', constant: 'MAX_DEPTH', value: 64, says: ['JSON nested over 64 levels deep'] },
    { file: 'src/config/load.ts', constant: 'MAX_JOB_FILE_BYTES', value: 1024 * 1024, says: ['Only regular files up to 1 MiB are read as job files'] },
    { file: 'src/sources/npm-registry.ts', constant: 'MAX_PACKUMENT_BYTES', value: 200 * 1024 * 1024, says: ['a packument over 200 MiB'] },
    { file: 'src/sources/npm-registry.ts', constant: 'MAX_GITHUB_PAGE_BYTES', value: 8 * 1024 * 1024, says: ["a page of GitHub's package list over 8 MiB"] },
    { file: 'src/sources/npm-registry.ts', constant: 'MAX_GITHUB_PAGES', value: 1000, says: ['more than 1,000 pages'] },
    { file: 'src/sources/npm-registry.ts', constant: 'GITHUB_PAGE', value: 100, says: ['more than 100 a page', 'every page'] },
    { file: 'src/sources/npm-registry.ts', constant: 'ANSWER_DEADLINE_MS', value: 5 * 60_000, says: ['not whole within 5 minutes'] },
    { file: 'src/sources/npm-registry.ts', constant: 'MAX_DEPRECATION', value: 4096, says: ['a deprecation message over 4,096 characters', 'a deprecation message 4,096 characters'] },
    { file: 'src/sources/npm-registry.ts', constant: 'MAX_INTEGRITY', value: 1024, says: ['a `dist.integrity` over 1,024'] },
    { file: 'src/sources/npm-registry.ts', constant: 'MAX_SHASUM', value: 128, says: ['a `dist.shasum` over 128'] },
    { file: 'src/sources/npm-registry.ts', constant: 'MAX_TARBALL_URL', value: 8192, says: ['a `dist.tarball` over 8,192'] },
    { file: 'src/sources/npm-registry.ts', constant: 'MAX_DIST_TAGS', value: 1000, says: ['more than 1,000 dist-tags'] },
    { file: 'src/sources/bounded.ts', constant: 'MAX_VERSION_KEY', value: 256, says: ['a tag name over 256 characters', 'one over 256 characters is recorded as its first 100'] },
    { file: 'src/sources/download.ts', constant: 'MAX_REDIRECTS', value: 5, says: ['more than 5 redirects in a row'] },
    { file: 'src/net/retry-after.ts', constant: 'MAX_RETRY_AFTER_MS', value: 5 * 60_000, says: ['is honoured up to 5 minutes', 'at most 5 minutes'] },
    { file: 'src/goproxy/handler.ts', constant: 'MAX_MAJOR_MODULES_CHECKED', value: 16, says: ['for the 16 highest such majors of a module'] },
    { file: 'src/net/agents.ts', constant: 'MAX_SDK_ANSWER_BYTES', value: 16 * 2 ** 20, says: ['an API answer over 16 MiB'] },
    { file: 'src/targets/endpoint.ts', constant: 'MAX_ENDPOINT_ANSWER_BYTES', value: 256 * 2 ** 20, says: ["a repository endpoint's over 256 MiB"] },
    { file: 'src/targets/paging.ts', constant: 'MAX_EMPTY_PAGES', value: 50, says: ['50 empty pages in a row'] },
    { file: 'src/targets/paging.ts', constant: 'MAX_PAGES', value: 1000, says: ['1,000 for any other'] },
    { file: 'src/targets/codeartifact.ts', constant: 'MAX_ASSET_PAGES', value: 10, says: ["10 for one version's assets"] },
    { file: 'src/targets/npm.ts', constant: 'MAX_UNPACKED_BYTES', value: 4 * 1024 ** 3, says: ['it unpacks to over 4 GiB'] },
    { file: 'src/builders/python.ts', constant: 'DEFAULT_MAX_UNPACKED_BYTES', value: 2 * 1024 * 1024 * 1024, says: ['a built sdist that unpacks to over 2 GiB'] },
    { file: 'src/builders/python.ts', constant: 'DEFAULT_MAX_METADATA_BYTES', value: 8 * 1024 * 1024, says: ["a wheel's METADATA over 8 MiB"] },
    { file: 'src/lockfiles/read.ts', constant: 'MAX_LOCKFILE_BYTES', value: 64 * 1024 * 1024, says: ['a lockfile over 64 MiB', 'a regular file of at most 64 MiB'] },
    { file: 'src/lockfiles/requirements.ts', constant: 'MAX_INCLUDED_FILES', value: 1000, says: ['at most 1,000 under one file'] },
    { file: 'src/lockfiles/entry-check.ts', constant: 'MAX_NAME_CHARS', value: 512, says: ['a name or version over 512 characters'] },
    { file: 'src/lockfiles/entry-check.ts', constant: 'MAX_VALUE_CHARS', value: 1024, says: ['an integrity or hash over 1024'] },
    { file: 'src/lockfiles/entry-check.ts', constant: 'MAX_RESOLVED_CHARS', value: 8192, says: ['a resolved URL over 8192'] },
    { file: 'src/warm/summary.ts', constant: 'MAX_NOTES_PER_LOCKFILE', value: 200, says: ['up to 200 per lockfile'] },
    { file: 'src/warm/summary.ts', constant: 'PROBLEM_DETAIL_MAX', value: 500, says: ['each detail cut to 500 characters'] },
    { file: 'src/report/warm.ts', constant: 'LOCKFILES_SHOWN', value: 3, says: ['with the first 3 lockfiles naming it'] },
    { file: 'src/report/render-markdown.ts', constant: 'MAX_TEXT', value: 600, says: ['A value takes at most 600 characters as written'] },
    { file: 'src/report/render-markdown.ts', constant: 'MAX_CHARS', value: 60_000, says: ['stays within 60,000 characters at any size'] },
    { file: 'src/report/render-markdown.ts', constant: 'WARM_CRITICAL_ROOM', value: 30_000, says: ['the integrity mismatches in up to 30,000 characters'] },
    { file: 'src/report/render-markdown.ts', constant: 'WARM_ROOM', value: 16_000, says: ['the others in up to 16,000'] },
    { file: 'src/redact.ts', constant: 'STORED_TEXT_MAX', value: 4000, says: ['kept to 4,000 characters wherever it is stored'] },
    { file: 'src/sources/git-transfer.ts', constant: 'GRACE_IDLE_PERIODS', value: 6, says: ['six times `idleTimeoutSeconds`'] },
    { file: 'src/sources/git-transfer.ts', constant: 'SLOWEST_TRANSFER_BYTES_PER_S', value: 64 * 1024, says: ['1 s per 64 KiB the mirror grows'] },
    { file: 'src/net/bounds.ts', constant: 'SLOWEST_UPLOAD_BYTES_PER_S', value: 256 * 1024, says: ['plus 1 s per 256 KiB it uploads'] },
    { file: 'src/lockfiles/requirements.ts', constant: 'MAX_REQUIREMENTS_ENTRIES', value: 100_000, says: ['more than 100,000 requirements with its includes'] },
    { file: 'src/lockfiles/requirements.ts', constant: 'MAX_FIND_LINKS', value: 1000, says: ['more than 1,000 `--find-links` locations'] },
    { file: 'src/engine/run.ts', constant: 'MAX_ADAPTIVE_PACKAGES', value: 256, says: ['when the job sets one, else at 256 packages'] },
    { file: 'src/net/bounds.ts', constant: 'ONE_OFF_DEADLINE_MS', value: 60_000, says: ['Service Quotas, like STS, has a minute to answer'] },
  ];
  const text = readme.replace(/\s+/g, ' ');

  for (const p of pins) {
    it(`${p.constant} (${p.file}) is ${p.value}, as the README says`, () => {
      const m = new RegExp(`^(?:export )?const ${p.constant} = ([\\d_ *+<()]+);`, 'm').exec(readFileSync(new URL(p.file, root), 'utf8'));
      expect(m, `const ${p.constant} in ${p.file}`).not.toBeNull();
      // the initialiser is digits and arithmetic only (the regex above): evaluated as written
      expect(Function(`return (${m![1]!.replace(/_/g, '')});`)(), p.constant).toBe(p.value);
      expect(p.says.filter((s) => !text.includes(s))).toEqual([]);
    });
  }
});
