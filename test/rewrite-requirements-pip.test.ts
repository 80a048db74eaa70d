/**
 * rewrite-lockfiles over requirements files as pip itself reads them: each file, before
 * and after the rewrite, is read by pip's own requirements parser (pip._internal's
 * RequirementsFileParser, offline: no index is asked), and what pip takes as the index
 * must be the target wherever it was an index that moves, and nothing else may change:
 * the same requirements, the same extra indexes, a file pip still reads. The project's
 * own reader reads the rewritten file to the same entries, every hash the same.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLockfile } from '../src/lockfiles/index.js';
import { rewriteLockfile, type RewriteTargets } from '../src/lockfiles/rewrite/index.js';
import { RegistryHosts } from '../src/warm/items.js';
import { run } from './fixtures/warm/project.js';

const PYPI = 'https://acme-111122223333.d.codeartifact.us-east-1.amazonaws.com/pypi/pypi-shared/';
const INDEX = `${PYPI}simple/`;
const registries = new RegistryHosts({ publicRegistries: { npm: 'https://registry.npmjs.org/', pypi: 'https://pypi.org/' }, sources: [], target: { domain: 'acme', domainOwner: '111122223333' } });
const targets: RewriteTargets = { pypi: PYPI, foreignPypiHost: (u) => registries.foreign('pypi', u) };
const tmp = mkdtempSync(join(tmpdir(), 'cam-rewrite-pip-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What pip reads from each file: per line, the index and extra indexes it sets, or the requirement; or pip's error. */
const PIP_READ = `
import json, sys
from pip._internal.network.session import PipSession
from pip._internal.req.req_file import RequirementsFileParser, get_line_parser
out = []
for f in sys.argv[1:]:
    try:
        lines = []
        for pl in RequirementsFileParser(PipSession(), get_line_parser(None)).parse(f, constraint=False):
            lines.append({"req": pl.requirement} if pl.is_requirement else {"index": pl.opts.index_url, "extra": pl.opts.extra_index_urls})
        out.append(lines)
    except BaseException as e:
        out.append({"error": type(e).__name__})
print(json.dumps(out))
`;

type PipRead = { index?: string | null; extra?: string[]; req?: string }[] | { error: string };

async function pipReads(texts: string[]): Promise<PipRead[]> {
  const files = texts.map((t, i) => {
    const f = join(tmp, `req-${i}.txt`);
    writeFileSync(f, t);
    return f;
  });
  const r = await run('/usr/bin/python3', ['-c', PIP_READ, ...files], { env: { PATH: process.env.PATH, LANG: 'C.UTF-8', PIP_CONFIG_FILE: '/dev/null' } });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PipRead[];
}

/** What pip should read from the rewritten file: the same, each index that moves (public PyPI here) the target. */
function moved(read: PipRead): PipRead {
  if (!Array.isArray(read)) return read;
  return read.map((l) => (l.index && /^https:\/\/(pypi\.org|pypi\.python\.org)\//.test(l.index.replace(/^https:\/\/[^@/]*@/, 'https://')) ? { ...l, index: INDEX } : l));
}

/** The project's own reader of the file, its entries without where they resolve (the index). */
function entries(text: string): unknown {
  const dir = mkdtempSync(join(tmp, 'f-'));
  writeFileSync(join(dir, 'requirements.txt'), text);
  return parseLockfile(join(dir, 'requirements.txt')).entries.map(({ resolved: _r, ...e }) => ({ ...e, from: e.from.map((o) => ({ ...o, file: '' })) }));
}

const HASH = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

describe('requirements rewritten as pip reads them', () => {
  it('an index URL quoted, escaped, glued to its option, commented, continued or on CRLF lines: pip reads the target after, and the file stays one pip reads', async () => {
    const cases: [string, string][] = [
      // shlex: a quoted value (a space in it) is one word, the quotes and all
      ['--index-url "https://pypi.org/my index/simple"\nrequests==2.31.0\n', `--index-url ${INDEX}\nrequests==2.31.0\n`],
      ["--index-url 'https://pypi.org/my index/simple' # the mirror\n", `--index-url ${INDEX} # the mirror\n`],
      ['-i https://pypi.org/sim"ple x"\n', `-i ${INDEX}\n`],
      ['--index-url https://pypi.org/my\\ index/simple\n', `--index-url ${INDEX}\n`],
      // glued to the option, the quote opening before it or after it
      ['--index-url="https://pypi.org/simple"\n', `--index-url=${INDEX}\n`],
      ['--index-url"=https://pypi.org/simple"\n', `--index-url"=${INDEX}"\n`],
      ["-i'https://pypi.org/my index/simple'\n", `-i${INDEX}\n`],
      ['-i"https://pypi.org/simple"\n', `-i${INDEX}\n`],
      ['-ihttps://pypi.org/simple\r\n', `-i${INDEX}\r\n`],
      // continued, CRLF, a comment after
      ['-i \\\r\n  "https://pypi.org/my index/simple" # note\r\nrequests==2.31.0 \\\r\n    --hash=' + HASH + '\r\n', `-i \\\r\n  ${INDEX} # note\r\nrequests==2.31.0 \\\r\n    --hash=${HASH}\r\n`],
    ];
    const before = await pipReads(cases.map(([t]) => t));
    const results = cases.map(([t]) => rewriteLockfile('requirements', t, targets));
    expect(results.map((r) => r.text)).toEqual(cases.map(([, want]) => want));
    const after = await pipReads(results.map((r) => r.text));
    expect(after).toEqual(before.map(moved));
    for (const [i, [t]] of cases.entries()) {
      expect(results[i]!.changes.length, t).toBe(1);
      expect(entries(results[i]!.text), t).toEqual(entries(t));
      for (const h of t.matchAll(/sha256:[0-9a-f]{64}/g)) expect(results[i]!.text).toContain(h[0]);
    }
  });

  it('text pip never takes as the index stays byte for byte: a value of another option, `--index-url = URL`, after `--`, inside a quoted value; a line pip cannot split is named', async () => {
    const texts = [
      '--trusted-host -ihttps://pypi.org/simple\n',
      '--config-settings "k= -ihttps://pypi.org/simple"\n',
      '--index-url = https://pypi.org/simple\n',
      '--index-url= https://pypi.org/simple\n',
      '-f ./wheels -- -i https://pypi.org/simple\n',
      '--index-url "https://pypi.org/simple\n',
      // the first word is no option: pip reads the line as a requirement (and fails on it), never as an index
      '"--index-url=https://pypi.org/simple"\n',
    ];
    const before = await pipReads(texts);
    const results = texts.map((t) => rewriteLockfile('requirements', t, targets));
    expect(results.map((r) => r.text)).toEqual(texts);
    expect(results.map((r) => r.changes)).toEqual(texts.map(() => []));
    expect(await pipReads(results.map((r) => r.text))).toEqual(before);
    // pip refuses the whole file: said, never quietly mended by the rewrite
    expect(before[5]).toEqual({ error: 'RequirementsFileParseError' });
    expect(results[5]!.notes).toEqual([expect.stringMatching(/^line 1: .*pip cannot split/)]);
  });

  it('a line break pip reads and a `\\n` split misses (a lone CR, a vertical tab, a form feed, U+2028, U+0085): every index pip takes moves', async () => {
    const texts = ['\r', '\v', '\f', '\u2028', '\u0085'].map((sep) => `-i https://pypi.org/simple${sep}-i https://pypi.python.org/simple\nrequests==2.31.0\n`);
    const before = await pipReads(texts);
    const results = texts.map((t) => rewriteLockfile('requirements', t, targets));
    const after = await pipReads(results.map((r) => r.text));
    expect(after).toEqual(before.map(moved));
    for (const [i, t] of texts.entries()) {
      expect(results[i]!.changes.length, JSON.stringify(t)).toBe(2);
      expect(entries(results[i]!.text)).toEqual(entries(t));
    }
  });
});
