/** redactUrlCredentials: what a lockfile diff may show (credentials hidden, every other byte kept); printable and jsonForTerminals: what a terminal may see. */
import { describe, expect, it } from 'vitest';
import { capText, clearSecrets, keepTail, forStorage, forStorageDeep, jsonForTerminals, printable, redact, redactUrlCredentials, registerSecret, STORED_TEXT_MAX } from '../../src/redact.js';

const pw = ['PLANTED', 'pw', String(Date.now())].join('-');

describe('redactUrlCredentials', () => {
  it('hides a password, a token as user name and a query; keeps fragments, ssh logins and the rest', () => {
    const cases: [string, string][] = [
      [`  resolved "https://ci:${pw}@registry.example/a/-/a-1.0.0.tgz#0123abcd"`, '  resolved "https://***@registry.example/a/-/a-1.0.0.tgz#0123abcd"'],
      [`"resolved": "https://${pw}@npm.pkg.github.com/x.tgz"`, '"resolved": "https://***@npm.pkg.github.com/x.tgz"'],
      [`"resolved": "http://127.0.0.1:1/q/-/q-1.0.0.tgz?token=${pw}",`, '"resolved": "http://127.0.0.1:1/q/-/q-1.0.0.tgz?***",'],
      [`git+https://deploy:${pw}@git.example/acme/tool.git#v1`, 'git+https://***@git.example/acme/tool.git#v1'],
      ['git+ssh://git@github.com/acme/tool.git#v1', 'git+ssh://git@github.com/acme/tool.git#v1'],
      [`ssh://git:${pw}@host/x.git`, 'ssh://***@host/x.git'],
      ['  resolved "https://registry.yarnpkg.com/a/-/a-1.0.0.tgz#0123abcd"', '  resolved "https://registry.yarnpkg.com/a/-/a-1.0.0.tgz#0123abcd"'],
      // a password holding "@": the userinfo ends at the last "@" before the path, as pip and URL parsers read it
      [`--index-url https://alice:${pw}@x@pypi.corp.example/simple/`, '--index-url https://***@pypi.corp.example/simple/'],
      // a password holding "'" (RFC 3986 allows it unescaped in the userinfo): hidden whole, not shown up to nothing
      [`  resolved "https://bob:pa'ss%40${pw}@registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz#5b8a"`, '  resolved "https://***@registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz#5b8a"'],
      [`ssh://git:it's-${pw}@host/x.git`, 'ssh://***@host/x.git'],
      // a URL quoted in '…' still ends at its quote
      ["pip install -i 'https://pypi.corp.example/simple/' x", "pip install -i 'https://pypi.corp.example/simple/' x"],
    ];
    for (const [input, shown] of cases) expect(redactUrlCredentials(input)).toBe(shown);
  });
});

describe('keepTail', () => {
  it('keeps the last characters, dropping the word the cut falls in (it may be the end of a secret), and leaves a short text alone', () => {
    expect(keepTail('short', 10)).toBe('short');
    expect(keepTail('https://u:secretpw@host/x failed here', 20)).toBe(' failed here');
    expect(keepTail('abc def', 4)).toBe(' def');
    // no whitespace left after the cut: nothing of it can be trusted
    expect(keepTail(`x ${'y'.repeat(50)}`, 20)).toBe('');
    // kept twice is kept once
    const once = keepTail(`${'a '.repeat(30)}tok${'z'.repeat(5)} end`, 25);
    expect(keepTail(once, 25)).toBe(once);
  });
});

describe('redact', () => {
  it('hides a whole password that holds "@" (not only up to its own "@"), and the query', () => {
    expect(redact(`fetch https://alice:${pw}@x@pypi.corp.example/simple/?t=${pw} failed`)).toBe('fetch https://***@pypi.corp.example/simple/?*** failed');
    expect(redact(`see https://alice:hunter2@secret@pypi.corp.example/simple/`)).not.toContain('secret@');
    // any scheme's password (an ssh URL with one), any spelling of the scheme
    expect(redact(`listed by ssh://deploy:${pw}@git.example/acme/lib.git and git+ssh://d:${pw}@x@h/r.git`)).toBe('listed by ssh://***@git.example/acme/lib.git and git+ssh://***@h/r.git');
    expect(redact(`HTTPS://alice:${pw}@host/x`)).toBe('HTTPS://***@host/x');
    expect(redact(`GET 'https://bob:pa'ss-${pw}@registry.example/a' failed`)).toBe("GET 'https://***@registry.example/a' failed");
    // an ssh login alone is a name, kept
    expect(redact('ssh://git@github.com/acme/lib.git')).toBe('ssh://git@github.com/acme/lib.git');
    // no userinfo: nothing changes but the query
    expect(redact('https://pypi.org/simple/a/ and mail user@example.com')).toBe('https://pypi.org/simple/a/ and mail user@example.com');
  });

  // in JSON text a line break is written \n: the URL or token after it follows a letter there
  it('over JSON text, hides a query and a token that follow a line break, a tab or a \\u escape in the value, as in the text itself', () => {
    const token = `ghp_${'a1'.repeat(15)}`;
    for (const before of ['\n', '\t', '\r', '\u202e', ' ']) {
      const value = { error: `fetch failed:${before}https://bucket.example/x.tgz?X-Amz-Signature=${pw}${before}${token} and${before}npm_${'b'.repeat(30)}` };
      for (const text of [JSON.stringify(value), jsonForTerminals(JSON.stringify(value))]) {
        const out = redact(text);
        expect(out).not.toContain(pw);
        expect(out).not.toContain(token);
        expect(out).not.toContain('npm_b');
        expect((JSON.parse(out) as typeof value).error).toBe(redact(value.error));
      }
    }
  });

  // every --json output and a run's stored summary are redacted as JSON text: a value's quote is \" there
  it('over JSON text, leaves JSON of the same shape: a query or fragment is never cut between a backslash and what it escapes', () => {
    const tails = ['\\"', '\\', '\\\\"', '\\"}],"x":"', '\\n"', '"', '\\\\'];
    for (const tail of tails) {
      for (const url of [`https://h.example/p?t=${pw}${tail}y`, `https://h.example/p#${pw}${tail}y`, `https://u:${pw}@h.example/p?a${tail}`]) {
        const value = { error: `GET ${url} failed`, other: 'kept', n: 1 };
        const text = redact(JSON.stringify(value));
        const back = JSON.parse(text) as typeof value;
        expect(Object.keys(back)).toEqual(['error', 'other', 'n']);
        expect(back.other).toBe('kept');
        expect(back.error).not.toContain(pw);
        expect(back.error).toMatch(/^GET https:\/\/(\*\*\*@)?h\.example\/p(\?\*\*\*)?/);
      }
    }
  });
});

describe('printable and jsonForTerminals', () => {
  // every character Unicode gives the Bidi_Control property (U+061C ARABIC LETTER MARK among them:
  // it moves the dots of "2.10<ALM>.3" as U+200F does), read from the regex engine's Unicode tables
  const bidiControls = Array.from({ length: 0x10000 }, (_, c) => String.fromCharCode(c)).filter((c) => /\p{Bidi_Control}/u.test(c));

  it('writes every Unicode bidi control as a visible escape, on one line or many, and in JSON text', () => {
    expect(bidiControls.length).toBeGreaterThanOrEqual(12);
    for (const c of bidiControls) {
      const escape = `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
      expect(printable(`2.10${c}.3`), escape).toBe(`2.10${escape}.3`);
      expect(printable(`2.10${c}.3\n`, { keepLines: true }), escape).toBe(`2.10${escape}.3\n`);
      const json = jsonForTerminals(JSON.stringify({ version: `2.10${c}.3` }));
      expect(json, escape).toBe(`{"version":"2.10${escape}.3"}`);
      expect(JSON.parse(json)).toEqual({ version: `2.10${c}.3` });
    }
  });

  it('writes every character a reader cannot see (zero-width spaces and joiners, the BOM, tag characters, line separators) as visible escapes: `v1.2.0<ZWSP>` never reads as `v1.2.0`', () => {
    const invisible = [...Array.from({ length: 0x10000 }, (_, c) => String.fromCharCode(c)).filter((c) => /\p{Default_Ignorable_Code_Point}/u.test(c)), '\u{e0001}', '\u{e0041}', '\u2028', '\u2029'];
    expect(invisible).toContain('\u200b');
    expect(invisible).toContain('\ufeff');
    for (const c of invisible) {
      // one \uXXXX per UTF-16 unit, as JSON writes them (U+E0001 is \udb40\udc01)
      const escape = [...c.split('')].map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
      expect(printable(`v1.2.0${c}`), escape).toBe(`v1.2.0${escape}`);
      expect(printable(`v1.2.0${c}\n`, { keepLines: true }), escape).toBe(`v1.2.0${escape}\n`);
    }
    // what people write stays as it is: accents, CJK, an emoji without a selector, a line break kept
    expect(printable('café 東京 😀 naïve\n', { keepLines: true })).toBe('café 東京 😀 naïve\n');
  });
});

describe('forStorage and capText: the bound on free text the state and the ledger keep', () => {
  /** A lone half of a surrogate pair: what a cut between the halves of an emoji leaves. */
  const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

  it('keeps a text that fits; cuts a longer one to STORED_TEXT_MAX with a count of what is gone, keeping its start and its end', () => {
    expect(capText('short')).toBe('short');
    const fits = 'y'.repeat(STORED_TEXT_MAX);
    expect(capText(fits)).toBe(fits);
    const text = `start ${'x'.repeat(100_000)} end`;
    const out = capText(text);
    expect(out.length).toBeLessThanOrEqual(STORED_TEXT_MAX);
    const m = /^start x+… \((\d+) more characters\) …x+ end$/.exec(out);
    expect(m).not.toBeNull();
    // the count is exactly what was left out
    expect(out.replace(/… \(\d+ more characters\) …/, '').length + Number(m![1])).toBe(text.length);
    // cut once is cut for good: a text stored twice is the same
    expect(capText(out)).toBe(out);
  });

  it('never leaves half an emoji at either cut, wherever it falls', () => {
    for (let pad = 0; pad < 4; pad++) {
      for (const tail of ['', 'a']) {
        const out = capText(`${'a'.repeat(pad)}${'😀'.repeat(5000)}${tail}`);
        expect(out.length).toBeLessThanOrEqual(STORED_TEXT_MAX);
        expect(out, `${pad}|${tail}`).not.toMatch(LONE);
      }
    }
  });

  it('redacts before it cuts: a secret the cut falls inside leaves no piece behind', () => {
    const secret = `S3CR3T${'k'.repeat(94)}`;
    registerSecret(secret);
    try {
      // the secret spans the place where the start is cut (STORED_TEXT_MAX less the end and the marker)
      const text = `${'a'.repeat(2900)}${secret}${'b'.repeat(10_000)}`;
      const out = forStorage(text);
      expect(out).toContain('***');
      expect(out).not.toContain('S3CR3T');
      expect(forStorageDeep({ list: [text], n: 1 })).toEqual({ list: [out], n: 1 });
    } finally {
      clearSecrets();
    }
  });
});

describe('a proxy whose credential is its user name alone (http://TOKEN@proxy)', () => {
  it('is registered as a secret: the name, and the Proxy-Authorization header it travels in, are masked', async () => {
    const { registerProxySecrets } = await import('../../src/net/agents.js');
    const token = 'PLANTEDproxyUSERtoken0123';
    try {
      registerProxySecrets({ HTTPS_PROXY: `http://${token}@127.0.0.1:3128` });
      const header = Buffer.from(`${token}:`).toString('base64');
      expect(redact(`proxy said: no route for ${token}`)).not.toContain(token);
      expect(redact(`request headers: proxy-authorization: Basic ${header}`)).not.toContain(header.slice(0, 24));
    } finally {
      clearSecrets();
    }
  });
});
