/** A local git repository (file://) for the tests of what reads `warm.repositories`. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A repository `<parent>/repos/<name>` holding `files`, committed on main; its file:// URL. */
export function localRepository(parent: string, name: string, files: Record<string, string | Buffer>): string {
  const repo = join(parent, 'repos', name);
  mkdirSync(repo, { recursive: true });
  for (const [f, body] of Object.entries(files)) writeFileSync(join(repo, f), body);
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: repo, stdio: 'pipe' });
  git('init', '--quiet');
  git('add', '--', ...Object.keys(files));
  git('commit', '--quiet', '-m', 'lockfiles');
  return `file://${repo}`;
}
