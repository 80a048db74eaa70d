/**
 * Paged AWS listings (a nextToken per page) end when the service says so. Something in
 * front of it (a gateway, a proxy, a broken stand-in) may never say so: this is the guard.
 */
import { MigrateError } from '../errors.js';

/** Empty pages in a row, each with a next token, after which a listing is taken as endless (real ones end). */
const MAX_EMPTY_PAGES = 50;

/** Pages of one listing when the caller names no bound: a thousand pages of up to 1,000 entries each. */
export const MAX_PAGES = 1000;

/**
 * The next token of a listing, or undefined when it ends; throws ETARGET for paging that
 * would never end, which would otherwise ask the same thing at the rate limit for ever,
 * holding what it listed: a token given twice; page after empty page with a new one; a
 * page whose entries were all listed before (the npm search guard's rule: a page that
 * brings nothing new ends it), with a new token; or more pages than the listing can have
 * (`maxPages`: a new token and new entries on every page, for ever).
 */
export class Paging {
  private readonly seen = new Set<string>();
  /** Every entry listed so far, by the key that tells entries of this listing apart. */
  private readonly listed = new Set<string>();
  private empty = 0;
  private pages = 0;
  constructor(
    private readonly what: string,
    private readonly maxPages = MAX_PAGES,
  ) {}

  /** `keys`: the page's entries, each by what tells entries of this listing apart (a version, a name). */
  next(token: string | undefined, keys: readonly string[]): string | undefined {
    const items = keys.length;
    const before = this.listed.size;
    for (const k of keys) this.listed.add(k);
    const fresh = this.listed.size - before;
    if (!token) return undefined;
    this.pages++;
    this.empty = items === 0 ? this.empty + 1 : 0;
    const loops = this.seen.has(token)
      ? 'a page token came back a second time'
      : this.empty >= MAX_EMPTY_PAGES
        ? `${MAX_EMPTY_PAGES} empty pages came in a row, each with a next token`
        : items > 0 && fresh === 0
          ? 'a page listed nothing new (every entry was on an earlier page), with a next token'
          : this.pages >= this.maxPages
            ? `${this.maxPages} pages came, the last with a next token`
            : undefined;
    if (loops) {
      throw new MigrateError('ETARGET', `${this.what}: ${loops}: the listing would never end`, {
        hint: 'a proxy or gateway in front of the service may be answering for it (check the AWS_ENDPOINT_URL_* variables and HTTPS_PROXY); rerun once it answers as the service does',
      });
    }
    this.seen.add(token);
    return token;
  }
}
