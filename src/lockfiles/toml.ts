/**
 * TOML lockfiles (poetry.lock, uv.lock) through `smol-toml`, with a syntax
 * error at its line, and the line of each `[[package]]` table (the format's
 * parser gives no positions; the n-th header is the n-th package).
 */
import { parse } from 'smol-toml';
import { toError } from '../errors.js';
import { isRecord, lockError } from './read.js';

export function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (e) {
    const line = isRecord(e) && typeof e.line === 'number' ? e.line : undefined;
    throw lockError({ file, line }, `not valid TOML: ${toError(e).message.split('\n')[0]?.slice(0, 200)}`, { cause: e });
  }
}

/** 1-based line of each `[[package]]` header, in order. */
export function packageHeaderLines(text: string): number[] {
  const out: number[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) if (/^\s*\[\[\s*package\s*\]\]\s*(?:#.*)?$/.test(lines[i] ?? '')) out.push(i + 1);
  return out;
}

/** The `[[package]]` array, checked to be an array of tables. */
export function packageTables(doc: Record<string, unknown>, file: string): Record<string, unknown>[] {
  const list = doc.package ?? [];
  if (!Array.isArray(list)) throw lockError({ file, path: 'package' }, 'not an array of tables');
  return list.map((p, i) => {
    if (!isRecord(p)) throw lockError({ file, path: `package[${i}]` }, 'not a table');
    return p;
  });
}
