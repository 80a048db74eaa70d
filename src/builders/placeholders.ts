/**
 * The placeholders a job's build command may hold, by format: what the builder replaces in
 * each argument. Checked when the job loads (config/schema.ts), so a misspelt one is the job
 * file's error, named with its entry, before anything is built.
 */
export const BUILD_PLACEHOLDERS = {
  /** builders/python.ts DEFAULT_PYTHON_BUILD_COMMAND says what each is */
  pypi: ['python', 'srcdir', 'outdir', 'checkout', 'name', 'version'],
  /** builders/npm.ts: the folder the command leaves its one .tgz in */
  npm: ['outdir'],
} as const satisfies Record<string, readonly string[]>;

/** The `{…}` words of a build command that are none of `known`, each once, in order. */
export function unknownPlaceholders(command: string | readonly string[], known: readonly string[]): string[] {
  const words = typeof command === 'string' ? [command] : command;
  const found = words.flatMap((w) => [...w.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!));
  return [...new Set(found.filter((k) => !known.includes(k)))];
}
