/**
 * What may leave the process. Secrets never reach SQLite, logs, summaries or
 * reports, and nothing a source sends can drive the terminal.
 *
 * The code is written not to put secrets into messages in the first place;
 * this is the second line: every secret a run learns (source tokens, AWS keys,
 * the CodeArtifact token, ssh keys) is registered here, and every text on its
 * way to a sink (the state database, stdout, stderr) goes through `redact()`,
 * which also drops URL query strings and user:password parts (signed tarball
 * URLs carry their credentials there) and well-known token shapes. A secret is
 * found in any letter case (a URL's host comes back lowercased from parsing).
 */

const secrets = new Set<string>();
/** The part of a secret's base64 that is the same whatever comes before and after it, at each of the three offsets base64 groups bytes by. */
const base64Cores = new Set<string>();

/** Remember a value that must never be written anywhere. Short values are ignored (they would match everywhere). */
export function registerSecret(value: string | undefined | null): void {
  ordered = undefined;
  if (!value || value.length < 8) return;
  secrets.add(value);
  // the JSON form: redact() runs over JSON text too (every --json output), where a password's
  // quote, backslash or control character is written escaped, and the raw form is not there
  secrets.add(JSON.stringify(value).slice(1, -1));
  secrets.add(jsonForTerminals(JSON.stringify(value)).slice(1, -1));
  // percent-encoded, as a query string, a form body or a URL's path carries it, and a server's
  // error echoes it (RFC 3986 lets the hex be either case): a token with "/", "+" or "=" is not there raw
  const encoded = percentEncoded(value);
  if (encoded !== undefined && encoded !== value) {
    secrets.add(encoded);
    secrets.add(encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
  }
  // a base64 form travels in Basic auth headers and error echoes; after a login (`user:token`,
  // npm's _auth) it is not the base64 of the token alone: its characters depend on the token's
  // offset in base64's 3-byte groups, and the login's end and the padding go with it
  const bytes = Buffer.from(value);
  for (let offset = 0; offset < 3; offset++) {
    const all = Buffer.concat([Buffer.alloc(offset), bytes]);
    const core = all.toString('base64').slice(offset ? 4 : 0, 4 * Math.floor(all.length / 3));
    if (core.length >= 8) {
      base64Cores.add(core);
      base64Cores.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
}

function percentEncoded(value: string): string | undefined {
  try {
    return encodeURIComponent(value);
  } catch {
    return undefined; // a lone surrogate: no text carries it percent-encoded
  }
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
  base64Cores.clear();
  ordered = undefined;
}

/**
 * Where a token or a URL may start: not inside a word, as `\b` says, but also right after a
 * JSON escape. redact() runs over JSON text too (every --json output), where a value's line
 * break, tab or bidi control is written `\n`, `\t`, `\u202e`: a letter or a digit, so `\b`
 * saw a URL on a message's second line in the text form and not in the JSON one.
 */
const START = String.raw`(?:(?<![A-Za-z0-9_])|(?<=\\[nrtbf])|(?<=\\u[0-9A-Fa-f]{4}))`;

/** Token formats with a recognisable prefix: GitHub, npm, AWS access key ids. */
const TOKEN_SOURCE = String.raw`(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|npm_[A-Za-z0-9]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16})\b`;

/**
 * An http(s) URL: scheme, optional userinfo, the rest up to an optional query/fragment. The
 * userinfo runs to the LAST `@` before the path, as URL parsers (WHATWG, pip's rpartition)
 * read it: a password holding `@` is hidden whole, not up to its own `@`, and one holding `'`
 * (a sub-delim RFC 3986 allows there unescaped) whole too: the userinfo is not ended at a quote
 * as the rest is (a URL quoted in '…' ends at its closing quote, which comes after no `@`).
 * The query (or fragment) takes a backslash with the character after it: redact() also runs
 * over JSON text (every --json output, a run's stored summary), where a value's quote is `\"`,
 * and a query cut between the two would leave that quote bare, ending the string early: the
 * output no longer JSON, or other JSON than it was. It ends before `\n`, `\t`, `\r` (and `\b`,
 * `\f`) as it ends at the line break or tab they stand for in the text form.
 */
const URL_SOURCE = String.raw`(https?:\/\/)([^\s/?#"<>]*@)?([^\s?#"'<>]*)([?#](?:[^\s"'<>\\]|\\[^nrtbf])*)?`;

/**
 * The patterns as they are tried. A text without a backslash holds no JSON escape, and `\b` (which
 * V8 finds fast) starts them there as START would; START's look-behinds, tried at every position,
 * made every redact() five times slower, and it runs over every stored text and output line.
 * A URL starts anywhere, even glued to a word (`REGISTRY_https://…`, `xhttps://…` in a build's
 * log): its `http` is no word of its own to be found inside, as a token's shape is.
 */
const URL_PATTERN = new RegExp(URL_SOURCE, 'gi');
const PLAIN = { token: new RegExp(String.raw`\b${TOKEN_SOURCE}`, 'g'), url: URL_PATTERN };
const ESCAPED = { token: new RegExp(`${START}${TOKEN_SOURCE}`, 'g'), url: URL_PATTERN };
/** Where a URL of any scheme starts: not inside its own scheme (`git+ssh`), but after anything else, `_` too (`\b` is not there). */
const SCHEME_START = String.raw`(?<![a-z0-9+.-])`;
/** A password in a URL of any other scheme (ssh://user:password@): the login before it goes too. */
const ANY_PASSWORD_PATTERN = new RegExp(String.raw`${SCHEME_START}([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>@]*:[^\s/?#"<>]*@`, 'gi');

/**
 * A registered secret as it is looked for: in any letter case. A host is lowercased when a URL is
 * parsed (a redirect to `https://<token>.cdn.example/` comes back as `https://<token in lower
 * case>.cdn.example/` from `new URL()`, and is quoted so), an npm name is lower case, a peer may
 * upper-case what it echoes: each is still the credential.
 */
interface Pattern {
  exact: string;
  lower: string;
  any: RegExp;
}

/** The registered secrets, longest first: one form may hold another (`x\` is in its JSON form `x\\`), and the shorter one replaced first would leave a piece of the longer (a bare backslash, breaking the JSON). */
let ordered: Pattern[] | undefined;
function longestFirst(): Pattern[] {
  return (ordered ??= [...secrets]
    .sort((a, b) => b.length - a.length)
    .map((exact) => ({ exact, lower: exact.toLowerCase(), any: new RegExp(exact.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'gi') })));
}

/**
 * `text` with every registered secret's forms as `***`; a base64 core with the whole base64 run
 * around it (the login and the edges are the same credential). The run never starts inside a JSON
 * escape (`\n`, `\u202e` before it are letters and digits): the escape is kept, or the JSON broken.
 */
function maskSecrets(text: string): string {
  let out = text;
  let lower: string | undefined;
  for (const s of longestFirst()) {
    // exactly as registered (toLowerCase is context-sensitive past ASCII: a final sigma), or in another case
    if (!out.includes(s.exact) && !(lower ??= out.toLowerCase()).includes(s.lower)) continue;
    out = out.replace(s.any, '***');
    lower = undefined;
  }
  for (const core of base64Cores) {
    if (!out.includes(core)) continue;
    const run = new RegExp(String.raw`(\\(?:u[0-9A-Fa-f]{4}|[nrtbf/]))?[A-Za-z0-9+/_-]*${core.replace(/[+/]/g, '\\$&')}[A-Za-z0-9+/_-]*=*`, 'g');
    out = out.replace(run, (_m, escape: string | undefined) => `${escape ?? ''}***`);
  }
  return out;
}

/** Whether `text` holds a registered secret in any of its forms (a peer echoing the credential it was asked with). */
export function holdsSecret(text: string): boolean {
  return maskSecrets(text) !== text;
}

export function redact(text: string): string {
  let out = maskSecrets(text);
  const patterns = out.includes('\\') ? ESCAPED : PLAIN;
  out = out.replace(patterns.token, '***');
  out = out.replace(patterns.url, (_m, scheme: string, user: string | undefined, rest: string, query: string | undefined) => `${scheme}${user ? '***@' : ''}${rest}${query ? '?***' : ''}`);
  out = out.replace(ANY_PASSWORD_PATTERN, '$1***@');
  return out;
}

/**
 * Most characters of free text (an error message, a detail) one field of the state database
 * or one ledger entry keeps. The text comes from peers (a registry's error body, git's stderr,
 * a build log's tail): uncut, one hostile answer per version would bloat the state, the
 * ledger and every summary and report built from them. 4000 holds a message, a build's
 * log tail (BUILD_LOG_TAIL_MAX) and the hint; 10,000 failed versions stay under 40 MB.
 */
export const STORED_TEXT_MAX = 4000;

/** The most of a build's output an error carries: its message and hint fit beside it within STORED_TEXT_MAX, so the log's tail is stored whole. */
export const BUILD_LOG_TAIL_MAX = 3000;

/** What is kept of a cut text's end: the hint and a build log's last lines are there, the code and subject at the start. */
const STORED_TAIL = 1000;

/**
 * `text` in at most `max` characters: the start and the last `STORED_TAIL` characters, with a
 * visible `… (N more characters) …` between them. Never cuts a surrogate pair (an emoji would
 * turn into two broken halves), and a cut text comes back unchanged (cutting twice is safe).
 */
export function capText(text: string, max = STORED_TEXT_MAX): string {
  if (text.length <= max) return text;
  const tail = Math.min(STORED_TAIL, Math.floor(max / 4));
  // the marker's own length counts: the digits of the count at most those of text.length
  const marker = (n: number) => `… (${n} more characters) …`;
  let end = max - tail - marker(text.length).length;
  if (isHighSurrogate(text, end - 1)) end -= 1;
  let start = text.length - tail;
  if (isLowSurrogate(text, start)) start += 1;
  return `${text.slice(0, end)}${marker(start - end)}${text.slice(start)}`;
}

/**
 * The last `max` characters of a stream kept before it is redacted (a child's stderr): when
 * the cut falls inside a word, the word goes whole. Its end may be a secret, or a credential
 * URL whose scheme was cut away, that `redact()` could no longer recognise; kept whole words
 * are redacted later, as any other text.
 */
export function keepTail(text: string, max: number): string {
  if (text.length <= max) return text;
  const kept = text.slice(text.length - max);
  const gap = kept.search(/\s/);
  return gap < 0 ? '' : kept.slice(gap);
}

/** Text on its way into the state database or the ledger: redacted first, so a secret the cut would halve is already gone, then cut. */
export function forStorage(text: string): string {
  return capText(redact(text));
}

/** Every string of a value (a run's summary) through `forStorage()`. */
export function forStorageDeep<T>(value: T): T {
  if (typeof value === 'string') return forStorage(value) as T;
  if (Array.isArray(value)) return value.map(forStorageDeep) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, forStorageDeep(v)])) as T;
  return value;
}

/** `s` in at most `max` characters: cut with an ellipsis, never between the halves of a surrogate pair (an emoji would show as two broken characters). */
export function shorten(s: string, max: number): string {
  if (s.length <= max) return s;
  const end = isHighSurrogate(s, max - 2) ? max - 2 : max - 1;
  return `${s.slice(0, end)}…`;
}

function isHighSurrogate(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Any URL (http, git+https, git+ssh, …): scheme, optional userinfo, the rest up to an optional query, then an optional fragment. */
const ANY_URL_PATTERN = new RegExp(String.raw`${SCHEME_START}([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"<>]*@)?([^\s?#"'<>]*)(\?[^\s#"'<>]*)?`, 'gi');

/**
 * Text that must otherwise stay as it is (a lockfile diff: yarn's `#sha1` fragment is part of
 * an entry, so `redact()` would change more than it must): registered secrets, the password or
 * token in a URL's userinfo (a bare ssh login such as `git@` is kept: it is a name) and URL
 * query strings become `***`; fragments and everything else are left.
 */
export function redactUrlCredentials(text: string): string {
  return maskSecrets(text).replace(ANY_URL_PATTERN, (_m, scheme: string, user: string | undefined, rest: string, query: string | undefined) => {
    const secretUser = user !== undefined && (user.includes(':') || /https?:\/\/$/i.test(scheme));
    return `${scheme}${user === undefined ? '' : secretUser ? '***@' : user}${rest}${query ? '?***' : ''}`;
  });
}

/**
 * A URL with its query, fragment and credentials removed: what may be recorded as provenance.
 * A registered secret in its path goes too: some registries carry the token there, not in the
 * userinfo (Gemfury lists tarballs under https://npm.fury.io/<token>/<account>/,
 * https://gemfury.com/help/npm-registry/), and the URL is stored and written to the ledger as is.
 * Before parsing, as the token is written, and after, as the parser writes it back (escaped).
 */
export function publicUrl(url: string): string {
  try {
    const u = new URL(maskSecrets(url));
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return maskSecrets(u.href);
  } catch {
    return redact(url);
  }
}

/**
 * C0/C1 control characters (escape sequences that move the cursor, clear the
 * screen, set the title) and Unicode bidi controls ("Trojan Source") as
 * visible escapes. Newline and tab are kept when `keepLines` is set.
 *
 * The bidi controls are the whole Unicode Bidi_Control set: U+061C ARABIC LETTER
 * MARK, U+200E/U+200F, U+202A–U+202E and U+2066–U+2069
 * (https://www.unicode.org/reports/tr9/#Directional_Formatting_Characters): a mark
 * alone reorders the neutral characters around it, such as the dots of a version.
 */
const BIDI_CONTROLS = '\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';
/**
 * What a reader cannot see, on top of the above: every Default_Ignorable_Code_Point (zero-width
 * spaces and joiners, the soft hyphen, the word joiner, the BOM, the Hangul fillers, variation
 * selectors, tag characters) and U+2028/2029, which a terminal draws as nothing. A tag
 * `v1.2.0<U+200B>` reads as `v1.2.0` otherwise, and a name as another name.
 */
const INVISIBLE = '\\p{Default_Ignorable_Code_Point}\\u2028\\u2029';
const UNSAFE = new RegExp(`[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f${BIDI_CONTROLS}${INVISIBLE}]`, 'gu');
const UNSAFE_LINES = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f${BIDI_CONTROLS}${INVISIBLE}]`, 'gu');

/** `c` as `\uXXXX` escapes, one per UTF-16 unit (a tag character beyond U+FFFF is two, as JSON writes it). */
const escapeUnits = (c: string) => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

export function printable(text: string, opts: { keepLines?: boolean } = {}): string {
  return text.replace(opts.keepLines ? UNSAFE : UNSAFE_LINES, escapeUnits);
}

/**
 * JSON text with what JSON.stringify leaves raw that a terminal or a line splitter acts on:
 * DEL and the C1 controls (0x9b is a CSI), the bidi controls as above ("Trojan Source"), U+2028/2029
 * (line breaks to some readers), written as `\uXXXX` escapes. The same JSON value, so the
 * same hash, and a file that is safe to `cat` or to print.
 */
const JSON_RAW_UNSAFE = new RegExp(`[\\u007f-\\u009f\\u2028\\u2029${BIDI_CONTROLS}]`, 'g');

export function jsonForTerminals(json: string): string {
  return json.replace(JSON_RAW_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Text bound for stdout/stderr: redacted, and harmless to a terminal (JSON stays valid: only strings can hold these characters). */
export function forOutput(text: string): string {
  return printable(redact(text), { keepLines: true });
}
