/**
 * Who may ask the Go proxy: the checks on a request's Host, Origin and Sec-Fetch-Site that
 * keep web pages (DNS rebinding, cross-site probes) from reading or probing the modules it
 * serves with the operator's AWS credentials. go sends none of what they refuse.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { MigrateError } from '../errors.js';
import { isLoopbackHost } from '../net/loopback.js';

/** A DNS name as --allowed-host takes it: letters, digits, dots and hyphens. */
const HOST_NAME = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/i;

/** Which Host names a proxy answers to, besides loopback's. */
export interface HostRule {
  /** Any IP address (listening elsewhere than on loopback, with --allow-remote). */
  anyAddress: boolean;
  /** Lower-case names given with --allowed-host. */
  names: readonly string[];
}

/**
 * Whether a Host header may reach the proxy. A web page the developer has open can make
 * the browser talk to the proxy's address under the page's own name (DNS rebinding:
 * `attacker.example` resolving to 127.0.0.1, or to the address a --allow-remote proxy
 * listens on), and then read the answers as its own: it is same-origin, so neither Origin
 * nor Sec-Fetch-Site gives it away. It cannot make the browser send a name it does not
 * control, nor an IP address (a page loaded from an address cannot be rebound). go sends
 * the host of the GOPROXY URL: a loopback address or `localhost`; with --allow-remote the
 * address other machines use, or a name the operator lists with --allowed-host. The port
 * is not checked: an ssh -L or a port mapping in front changes it, and a rebinding page
 * is told apart by its name alone. No Host at all (HTTP/1.0) is no browser's.
 */
export function allowedHost(header: string | undefined, rule: HostRule = { anyAddress: false, names: [] }): boolean {
  if (header === undefined) return true;
  const name = /^(\[[^\]]*\]|[^:]*)(?::\d{1,5})?$/.exec(header)?.[1];
  if (name === undefined) return false;
  if (isLoopbackHost(name) || rule.names.includes(name.toLowerCase())) return true;
  return rule.anyAddress && isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

/**
 * Whether a request was sent by a web page, not typed by a person or sent by go. Host
 * alone does not stop a page: it can point an <img> or <script> at http://127.0.0.1:8085
 * itself (the Host is then a loopback name), and although it cannot read the answer, it
 * can tell a 200 from a 404 (load or error events), and so find out which internal module
 * paths and versions exist, or keep download slots busy. Browsers mark such requests with
 * `Sec-Fetch-Site` (cross-site, same-site) and `Origin`; go sends neither, and a URL
 * typed in the address bar is `Sec-Fetch-Site: none` (no Origin).
 */
export function fromWebPage(headers: IncomingMessage['headers']): boolean {
  const site = headers['sec-fetch-site'];
  return headers.origin !== undefined || (site !== undefined && site !== 'none' && site !== 'same-origin');
}

/** --allowed-host values, lower-cased; ECONFIG for one that is not a bare host name. */
export function allowedHostNames(names: readonly string[]): string[] {
  return names.map((name) => {
    // a bare name: a scheme, a port or a path here would never equal a Host header's name and quietly refuse every request
    if (!HOST_NAME.test(name)) throw new MigrateError('ECONFIG', `--allowed-host ${JSON.stringify(name)}: a host name without scheme or port (goproxy.corp.example)`);
    return name.toLowerCase();
  });
}
