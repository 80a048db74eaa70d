/**
 * A path as one word of a shell command line, for a hint that says what to type: a state
 * directory under "My Documents" (or holding a quote or a `$`) pasted as it is was two
 * words, or expanded by the shell, and the command named another folder (a new, empty state).
 * A path of only the characters no shell treats specially is left as it is.
 */
export function shellWord(path: string): string {
  return /^[\p{L}\p{N}_@%+=:,./-]+$/u.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}
