/**
 * The forms a secret takes on its way out besides its own bytes: inside a URL's path (a
 * tarball URL of a registry that carries the token there), percent-encoded (a query string or a
 * form body echoed in a server's error), base64 after a login (a Basic header echoed back), and
 * a URL glued to the word before it (a build script's `REGISTRY_https://…`).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceSchema, type NpmRegistrySourceConfig } from '../../src/config/schema.js';
import { clearSecrets, forStorage, jsonForTerminals, publicUrl, redact, redactUrlCredentials, registerSecret } from '../../src/redact.js';
import { NpmRegistrySource } from '../../src/sources/npm-registry.js';

// put together here, so this file holds nothing a secret scanner takes for a token
const token = ['PLANTED', 'path', 'Tok+en/9=', String(Date.now())].join('-');

afterEach(() => clearSecrets());

describe('a registered token inside a URL path', () => {
  it('is not recorded in the tarball URL a listing keeps (state, ledger provenance)', async () => {
    // Gemfury-style: the registry lists tarballs under https://npm.fury.io/<token>/<account>/
    const server = createServer((req, res) => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name: 'a', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'a', version: '1.0.0', dist: { tarball: `${base}/${token}/acme/-/a-1.0.0.tgz`, shasum: '0'.repeat(40) } } } }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const source = new NpmRegistrySource(sourceSchema.parse({ id: 'fury', kind: 'npm-registry', url, tokenEnv: 'FURY_TOKEN', packages: ['a'] }) as NpmRegistrySourceConfig, { FURY_TOKEN: token });
      const listing = await source.listing('a');
      expect(listing.versions).toHaveLength(1);
      expect(listing.versions[0]!.artifactUrl).not.toContain(token);
      expect(listing.versions[0]!.artifactUrl).toMatch(/\/acme\/-\/a-1\.0\.0\.tgz$/);
    } finally {
      server.close();
    }
  });

  it('is hidden by publicUrl() in its percent-encoded form too', () => {
    registerSecret(token);
    expect(publicUrl(`https://npm.fury.io/${token}/acme/`)).toBe('https://npm.fury.io/***/acme/');
    expect(publicUrl(`https://npm.fury.io/${encodeURIComponent(token)}/acme/`)).toBe('https://npm.fury.io/***/acme/');
  });
});

describe('a registered secret, encoded', () => {
  it('is hidden percent-encoded (upper- or lower-case hex), as a query string or a form body carries it', () => {
    registerSecret(token);
    const upper = encodeURIComponent(token);
    const lower = upper.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
    for (const text of [`error: bad request token=${upper}&x=1`, `{"detail":"invalid _authToken ${lower}"}`]) {
      const out = forStorage(text);
      expect(out).not.toContain(upper);
      expect(out).not.toContain(lower);
      expect(out).toContain('***');
    }
  });

  it('is hidden in the base64 of a Basic header whatever login comes before it', () => {
    registerSecret(token);
    // each login length puts the secret at another offset in the 3-byte groups of base64
    for (const login of ['a', 'ab', 'abc', 'deploy', '_token']) {
      const b64 = Buffer.from(`${login}:${token}`).toString('base64');
      const out = redact(`403 Forbidden: Authorization: Basic ${b64} was refused`);
      expect(out, login).toBe('403 Forbidden: Authorization: Basic *** was refused');
    }
  });
});

describe('a registered secret in base64, over JSON text', () => {
  it('is hidden without taking the JSON escape before it: the same JSON shape comes back', () => {
    registerSecret(token);
    const b64 = Buffer.from(`ci:${token}`).toString('base64');
    for (const before of ['\n', '\t', '\u202e']) {
      // as every --json output writes it: the line break and the bidi control as escapes, letters before the base64
      const json = jsonForTerminals(JSON.stringify({ message: `refused:${before}${b64}` }));
      const out = redact(json);
      expect(out).not.toContain(b64.slice(8, 24));
      expect(JSON.parse(out)).toEqual({ message: `refused:${before}***` });
    }
  });
});

describe('a credential URL glued to the word before it', () => {
  it('is redacted as a URL on its own is', () => {
    // no "/" in it: a password in a URL's userinfo is percent-encoded there
    const pw = ['PLANTED', 'glued', String(Date.now())].join('-');
    for (const text of [`REGISTRY_https://ci:${pw}@registry.example/x`, `xhttps://${pw}@npm.fury.io/acme/`, `at=https://ci:${pw}@host/x`, `fatal: unable to access 'https://ci:${pw}@git.example/r.git/': 403`]) {
      expect(redact(text), text).not.toContain(pw);
      expect(redactUrlCredentials(text), text).not.toContain(pw);
    }
  });
});

describe('an ssh key given by the path of its file (sshKeyEnv)', () => {
  it("masks the file's text and each line of its body, not only the path; a FIFO, a folder or a huge file there gives the path alone, and nothing waits", async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { registerSshKey } = await import('../../src/config/secrets.js');
    const dir = mkdtempSync(join(tmpdir(), 'cam-keyfile-'));
    try {
      const key = join(dir, 'deploy_key');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cam-test-keyfile', '-f', key]);
      const text = readFileSync(key, 'utf8');
      const body = text.split('\n').filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l));
      expect(body.length).toBeGreaterThan(2);
      registerSshKey(key);
      expect(redact(`ssh said: ${text}`)).not.toMatch(/[A-Za-z0-9+/]{16,}/);
      for (const line of body) expect(redact(`Load key: ${line} | next`)).toBe('Load key: *** | next');
      expect(redact(`-i ${key}`)).toBe('-i ***');
      // the same text in a shorter line is no secret of its own: the header and footer stay readable
      expect(redact('-----END OPENSSH PRIVATE KEY-----')).toBe('-----END OPENSSH PRIVATE KEY-----');
      // a FIFO no one writes (a read would wait forever), a folder, a file larger than any key
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const huge = join(dir, 'huge');
      writeFileSync(huge, `${'A'.repeat(70)}\n`.repeat(2000));
      for (const p of [fifo, dir, huge, join(dir, 'none')]) registerSshKey(p);
      expect(redact(`x ${'A'.repeat(70)} y`)).toBe(`x ${'A'.repeat(70)} y`);
      expect(redact(`-i ${fifo}`)).toBe('-i ***');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
