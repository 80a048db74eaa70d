/**
 * An in-process Verdaccio 6 standing in for a source npm registry.
 *
 * Two flavours:
 * - a private npm registry: anonymous reads allowed, publishing needs a login;
 * - GitHub Packages (`https://npm.pkg.github.com`): every read needs a token too, so
 *   `requireAuthForReads` makes anonymous reads of every package answer 401.
 *   https://docs.github.com/en/packages/working-with-a-github-packages-registry/working-with-the-npm-registry#authenticating-to-github-packages
 *
 * The registry never has uplinks: tests must never reach registry.npmjs.org, and a
 * proxying Verdaccio would silently do so for any name it does not hold.
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { runServer } from 'verdaccio';
import { stringify } from 'yaml';

export interface RegistryOptions {
  /** storage, config.yaml and htpasswd live here; reusing a directory keeps its packages and users */
  dir: string;
  /** GitHub Packages behaviour: anonymous reads answer 401 */
  requireAuthForReads: boolean;
  /** default: a random free port */
  port?: number;
  user?: string;
  password?: string;
}

export interface RunningRegistry {
  /** `http://127.0.0.1:PORT/`, with the trailing slash */
  url: string;
  /** bearer token of a user who may read, publish, tag and deprecate */
  token: string;
  /** where Verdaccio keeps packuments and tarballs: `<storageDir>/<name>/<file>.tgz` */
  storageDir: string;
  stop(): Promise<void>;
}

/**
 * Body limit for `PUT /<package>`: npm publishes the tarball base64-encoded inside the
 * JSON packument, so a 100 MB tarball is a ~134 MB body. Verdaccio's default is 10mb
 * (`max_body_size`, https://verdaccio.org/docs/configuration#max-body-size).
 */
const MAX_BODY_SIZE = '400mb';

/** Cheapest bcrypt cost the htpasswd plugin accepts; the default (10) costs ~50 ms a login. */
const BCRYPT_ROUNDS = 4;

function verdaccioConfig(requireAuthForReads: boolean): Record<string, unknown> {
  // Permissions: https://verdaccio.org/docs/packages
  // `unpublish` matters too: Verdaccio treats a deprecation (a metadata-only PUT) as an
  // update that could drop versions, so it checks `allow_unpublish` before applying it.
  const rule = {
    access: requireAuthForReads ? '$authenticated' : '$all',
    publish: '$authenticated',
    unpublish: '$authenticated',
    // no `proxy` key: never fall through to an uplink
  };
  return {
    storage: './storage',
    auth: { htpasswd: { file: './htpasswd', algorithm: 'bcrypt', rounds: BCRYPT_ROUNDS } },
    uplinks: {},
    packages: { '@*/*': rule, '**': rule },
    // No web UI (it loads the theme plugin and is not needed) and no audit middleware
    // (it proxies `npm audit` to registry.npmjs.org).
    web: { enable: false },
    middlewares: {},
    max_body_size: MAX_BODY_SIZE,
    log: { type: 'stdout', format: 'pretty', level: 'error' },
    server: { keepAliveTimeout: 5 },
  };
}

export async function startRegistry(opts: RegistryOptions): Promise<RunningRegistry> {
  const dir = path.resolve(opts.dir);
  const user = opts.user ?? 'sandbox';
  const password = opts.password ?? 'sandbox-password';
  const storageDir = path.join(dir, 'storage');
  await mkdir(storageDir, { recursive: true });
  const configPath = path.join(dir, 'config.yaml');
  await writeFile(configPath, stringify(verdaccioConfig(opts.requireAuthForReads)));

  // runServer(path) resolves `storage` and the htpasswd `file` relative to the config file.
  const server = (await runServer(configPath)) as Server;
  server.listen(opts.port ?? 0, '127.0.0.1');
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw new Error(`verdaccio could not listen: ${String(err)}`, { cause: err });
    }),
  ]);
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/`;

  const stop = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
    });
    // keep-alive sockets from fetch/npm would otherwise hold close() open
    server.closeAllConnections();
    await closed;
  };

  try {
    const token = await loginOrAddUser(url, user, password);
    return { url, token, storageDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * `npm adduser`'s legacy flow: `PUT /-/user/org.couchdb.user:<name>` creates the user in
 * htpasswd and answers 201 with a token. When the directory is reused the user exists
 * already (409); then the same PUT with Basic credentials is a login and also yields a token.
 */
async function loginOrAddUser(registryUrl: string, name: string, password: string): Promise<string> {
  const endpoint = new URL(`-/user/org.couchdb.user:${encodeURIComponent(name)}`, registryUrl);
  const body = JSON.stringify({
    _id: `org.couchdb.user:${name}`,
    name,
    password,
    type: 'user',
    roles: [],
    date: new Date().toISOString(),
  });
  const put = (headers: Record<string, string>) =>
    fetch(endpoint, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body });

  let res = await put({});
  if (res.status === 409) {
    await res.body?.cancel();
    const basic = Buffer.from(`${name}:${password}`).toString('base64');
    res = await put({ authorization: `Basic ${basic}` });
  }
  const text = await res.text();
  if (res.status !== 201) {
    throw new Error(`verdaccio: creating user ${name} failed: HTTP ${res.status} ${text}`);
  }
  const parsed = JSON.parse(text) as { token?: unknown };
  if (typeof parsed.token !== 'string' || parsed.token === '') {
    throw new Error(`verdaccio: no token in user response: ${text}`);
  }
  return parsed.token;
}
