/**
 * What a build leaves in its output folder is the build's to write, so each file is
 * looked at before it is read: a named pipe would hold the reader for ever (the build's
 * processes are gone, no writer comes), a device never ends, and a symbolic link would
 * send whatever it points at.
 */
import { lstatSync } from 'node:fs';

/** Why the entry at `path` is not a regular file ('a symbolic link', 'a named pipe', ...), or undefined when it is one. */
export function notRegularFile(path: string): string | undefined {
  const st = lstatSync(path);
  if (st.isFile()) return undefined;
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a folder';
  return 'a device';
}
