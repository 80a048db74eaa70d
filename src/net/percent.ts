/** A URL part percent-decoded, or as it is when its escapes are broken (`%ZZ`, a lone `%`): never a throw. */
export function percentDecoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
