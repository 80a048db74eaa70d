/**
 * Load and validate a job file. Every error names the file, the path inside it
 * and what to write instead; nothing is half-loaded.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { z } from 'zod';
import { normalizeProjectName } from '../builders/python-metadata.js';
import { MigrateError, toError } from '../errors.js';
import { invalidFilterRanges } from './filters.js';
import { JOB_NAME, JOB_NAME_RULE, jobSchema, type JobConfig } from './schema.js';

export interface LoadedJob {
  file: string;
  /** Job name: `name:` in the file, else the file's base name. */
  name: string;
  config: JobConfig;
  /**
   * SHA-256 (hex) of the job file's bytes as read: which job file a plan, a run and a report were
   * made from (the file holds environment variable names, never secrets). Absent for a job not read
   * from a file (a test's fixture).
   */
  sha256?: string;
}

/** A job file is a few kilobytes; anything near this is not one. */
const MAX_JOB_FILE_BYTES = 1024 * 1024;

export function loadJob(file: string): LoadedJob {
  const { text, sha256 } = readJobText(file);
  // logLevel error: yaml would print its warnings (a collection as a key) on our stderr; such a key is then an unknown key, named by the schema
  // uniqueKeys off: yaml compares each key with every key before it in its map, so a file of
  // 100,000 keys (well under MAX_JOB_FILE_BYTES) took minutes; duplicateKey does it in one pass
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false, logLevel: 'error', lineCounter });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0] ? `${file}:${first.linePos[0].line}:${first.linePos[0].col}` : file;
    throw new MigrateError('ECONFIG', `${where}: not valid YAML: ${first.message.split('\n')[0]}`, {
      hint: 'fix the YAML syntax at that line (indentation, quotes, a missing colon)',
    });
  }
  // a tag yaml cannot resolve (`!env NAME`, `!secret x`: other tools' habits) would load as the text
  // after it, with a warning on nobody's screen: the job would mean something else than it reads
  const tag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (tag) {
    const where = tag.linePos?.[0] ? `${file}:${tag.linePos[0].line}:${tag.linePos[0].col}` : file;
    throw new MigrateError('ECONFIG', `${where}: not valid here: ${tag.message.split('\n')[0]}`, {
      hint: 'a job file takes plain values: remove the tag (a secret goes in an environment variable the job names, e.g. tokenEnv: NPM_TOKEN)',
    });
  }
  keysAsWritten(doc.contents);
  const duplicate = duplicateKey(doc.contents);
  if (duplicate) {
    const at = duplicate.range ? lineCounter.linePos(duplicate.range[0]) : undefined;
    throw new MigrateError('ECONFIG', `${at ? `${file}:${at.line}:${at.col}` : file}: not valid YAML: Map keys must be unique (${JSON.stringify(String(isScalar(duplicate) ? duplicate.value : duplicate)).slice(0, 100)} is given twice)`, {
      hint: 'keep one of the two: YAML would otherwise silently take the last',
    });
  }
  let data: unknown;
  try {
    // yaml refuses documents whose aliases expand past maxAliasCount ("billion laughs")
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new MigrateError('ECONFIG', `${file}: the YAML cannot be expanded: ${toError(e).message}`, {
      hint: 'a job file needs no YAML aliases (*name): write the values out',
    });
  }
  const parsed = jobSchema.safeParse(data);
  if (!parsed.success) {
    throw new MigrateError('ECONFIG', `${file} is not a valid job file:\n${formatIssues(file, parsed.error.issues)}`, {
      hint: 'see "Job-file reference" in the README',
    });
  }
  const config = parsed.data;
  checkCrossFields(file, config);
  // a relative knownHostsFile is relative to this file, like goSum (ssh would read it from git's working folder); ~ is ssh's
  for (const s of config.sources) if (s.kind === 'git' && s.knownHostsFile && !isAbsolute(s.knownHostsFile) && !s.knownHostsFile.startsWith('~')) s.knownHostsFile = resolve(dirname(file), s.knownHostsFile);
  // a relative build.python is the job file's too: the build runs in the tag's checkout, and a path relative
  // to it would run the interpreter the tag commits (a .venv/bin/python); a bare name is looked up on the build's PATH
  for (const s of config.sources) if (s.kind === 'git' && s.build.python?.includes('/') && !isAbsolute(s.build.python)) s.build.python = resolve(dirname(file), s.build.python);
  for (const r of config.warm.repositories) if (r.knownHostsFile && !isAbsolute(r.knownHostsFile) && !r.knownHostsFile.startsWith('~')) r.knownHostsFile = resolve(dirname(file), r.knownHostsFile);
  const name = config.name ?? basename(file, extname(file));
  if (!JOB_NAME.test(name)) {
    throw new MigrateError('ECONFIG', `${file}: the job has no name, and its file's name ${JSON.stringify(name)} is not ${JOB_NAME_RULE}`, {
      hint: 'give the job a name (name: acme-migration), or rename the file',
    });
  }
  return { file, name, config, sha256 };
}

/**
 * The file's text. Only a regular file of sensible size is read: a FIFO, a
 * device or /dev/stdin would block the process (and Ctrl-C with it) on a
 * synchronous read, and /dev/zero would never end.
 */
function readJobText(file: string): { text: string; sha256: string } {
  const fail = (why: string) =>
    new MigrateError('ECONFIG', `cannot read job file ${file}: ${why}`, { hint: 'pass the path of a job file, e.g. jobs/example.yaml' });
  let stat;
  try {
    stat = statSync(file);
  } catch (e) {
    throw fail(toError(e).message);
  }
  if (!stat.isFile()) throw fail('it is not a regular file (a directory, pipe or device)');
  if (stat.size > MAX_JOB_FILE_BYTES) throw fail(`it is ${stat.size} bytes; a job file is at most ${MAX_JOB_FILE_BYTES}`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw fail(toError(e).message);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  // YAML 1.2 reads UTF-16 too, told by its byte order mark (Windows PowerShell 5 writes it:
  // https://yaml.org/spec/1.2.2/#52-character-encodings); the UTF-8 one is yaml's to skip
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: bytes.subarray(2).toString('utf16le'), sha256 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: Buffer.from(bytes.subarray(2, 2 + ((bytes.length - 2) & ~1))).swap16().toString('utf16le'), sha256 };
  if (bytes.includes(0)) {
    throw new MigrateError('ECONFIG', `cannot read job file ${file}: it holds NUL bytes, so it is no text file (binary, compressed, or UTF-16/UTF-32 without a byte order mark)`, {
      hint: 'pass the job file itself, saved as UTF-8 text (e.g. in PowerShell: Set-Content -Encoding utf8)',
    });
  }
  return { text: bytes.toString('utf8'), sha256 };
}

/**
 * Every key means the text written: YAML reads an unquoted `1.10:` as the number 1.1 (`1.0:` as 1,
 * `0x1F:` as 31, `~:` as null), and a key becomes its JS string, so `versions: { 1.10: { skip: … } }`
 * skipped 1.1 and published 1.10. A key is a name (a version, a tag), never a number: the plain
 * scalar's source text is taken as it stands, so `"1.1"` and `1.1` are then one key given twice.
 */
function keysAsWritten(root: unknown): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && typeof pair.key.value !== 'string' && typeof pair.key.source === 'string') pair.key.value = pair.key.source;
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
}

/**
 * The first key given twice in one mapping, in one pass over the document (the rule yaml's
 * uniqueKeys applies: scalars by value). Walked with a stack: the parser already refused
 * nesting deep enough to matter.
 */
function duplicateKey(root: unknown): Node | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) return pair.key as Node;
        seen.add(key);
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
  return undefined;
}

/** The most problems (and unknown keys of one object) an error lists: a file of 100,000 mistakes is told by its first ones. */
const MAX_LISTED = 20;

export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  const more = issues.length > MAX_LISTED ? [`  ${file}: and ${issues.length - MAX_LISTED} more problem(s)`] : [];
  return issues
    .slice(0, MAX_LISTED)
    .map((i) => {
      const path = i.path.length ? i.path.map((p, n) => (typeof p === 'number' ? `[${p}]` : n ? `.${String(p)}` : String(p))).join('') : '(top level)';
      let message = i.message;
      if (i.code === 'unrecognized_keys') {
        const keys = i.keys.slice(0, MAX_LISTED).map((k) => JSON.stringify(k.length > 100 ? `${k.slice(0, 100)}…` : k));
        message = `unknown key(s) ${keys.join(', ')}${i.keys.length > MAX_LISTED ? ` and ${i.keys.length - MAX_LISTED} more` : ''}: remove or correct the spelling`;
        // YAML 1.1's merge key, which YAML 1.2 (what the file is read as) has not: an anchor's keys are not copied in
        if (i.keys.includes('<<')) message += ' (a YAML merge key `<<: *anchor` is not read here: write the keys out)';
      }
      if (i.code === 'invalid_type' && /received undefined/.test(i.message)) message = `missing: add ${path.split('.').pop()}`;
      // `limits: ~`, or `limits:` with nothing under it: YAML's null, not the section's defaults
      else if (i.code === 'invalid_type' && /received null/.test(i.message)) message = `empty (~, null, or nothing after the colon): give it a value, or remove the line to take the default`;
      return `  ${file}: ${path}: ${message}`;
    })
    .concat(more)
    .join('\n');
}

function checkCrossFields(file: string, config: JobConfig): void {
  const problems: string[] = [];
  const ids = new Set<string>();
  // one PyPI project spelled two ways (UserPath, userpath) is one project on the target, but two packages to
  // the engine, which keeps one package's versions from two sources apart by its name as written: both would
  // publish the same version at once
  const projects = new Map<string, { spelling: string; index: number }>();
  config.sources.forEach((s, i) => {
    if (ids.has(s.id)) problems.push(`  ${file}: sources[${i}].id: "${s.id}" is used twice: give each source its own id`);
    ids.add(s.id);
    if (!s.enabled) return;
    if (s.kind === 'git' && s.format === 'pypi' && s.package !== undefined) {
      const key = normalizeProjectName(s.package);
      const first = projects.get(key);
      if (first && first.spelling !== s.package) {
        problems.push(`  ${file}: sources[${i}].package: "${s.package}" is the PyPI project "${key}" that sources[${first.index}] spells "${first.spelling}": spell it the same in both (CodeArtifact holds one project under both names)`);
      } else if (!first) projects.set(key, { spelling: s.package, index: i });
    }
    const format = s.kind === 'npm-registry' ? 'npm' : s.format === 'go' ? 'generic' : s.format;
    if (!config.target.repositories[format]) {
      const example = { npm: 'npm-internal', pypi: 'pypi-internal', generic: 'go-internal' }[format];
      problems.push(`  ${file}: target.repositories.${format}: missing: source "${s.id}" publishes ${format} packages, so name the ${format} repositories (internal: ${example})`);
    }
  });
  // the string shorthand "name@range" is not schema-checked: a bad range would silently match nothing
  for (const list of ['include', 'exclude'] as const) {
    config.filters[list].forEach((entry, i) => {
      for (const range of invalidFilterRanges({ include: [entry], exclude: [] })) {
        problems.push(`  ${file}: filters.${list}[${i}]: "${range}" in ${JSON.stringify(typeof entry === 'string' ? entry : entry.name)} is not a semver range: write e.g. "@acme/core@>=1.0.0"`);
      }
    });
  }
  if (problems.length) throw new MigrateError('ECONFIG', `${file} is not a valid job file:\n${problems.join('\n')}`, { hint: 'see "Job-file reference" in the README' });
}
