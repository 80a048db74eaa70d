/**
 * pip requirements files: the index options (`-i URL`, `--index-url URL`,
 * `--index-url=URL`) move to the PyPI endpoint's index, `<endpoint>simple/`
 * (https://pip.pypa.io/en/stable/reference/requirements-file-format/#global-options).
 * Any credentials in the old URL go with it; none are written: pip finds them
 * in netrc or a keyring (or pip.conf, as `aws codeartifact login --tool pip` writes it).
 * `--extra-index-url` is left alone, and said: pip would still ask that index.
 */
import { publicUrl } from '../../redact.js';
import { replaceAll, type RewriteResult, type RewriteTargets } from './types.js';

export function rewriteRequirements(text: string, targets: RewriteTargets): RewriteResult {
  if (!targets.pypi) return { text, changes: [], notes: ['no shared PyPI repository in the job: nothing rewritten'] };
  const index = `${targets.pypi}simple/`;
  const { text: out, changes } = replaceAll(text, /^([ \t]*(?:-i[ \t]*|--index-url(?:[ \t]*=[ \t]*|[ \t]+)))(\S+)/gm, (m) => {
    const from = m[2]!;
    if (from === index) return undefined;
    return { from: publicUrl(from), to: index, replacement: `${m[1]}${index}` };
  });
  const notes: string[] = [];
  for (const m of text.matchAll(/^[ \t]*--extra-index-url(?:[ \t]*=[ \t]*|[ \t]+)(\S+)/gm)) notes.push(`--extra-index-url ${publicUrl(m[1]!)} left as is: pip still asks it directly; remove it so builds read only CodeArtifact`);
  if (!changes.length) notes.push('no --index-url: point pip at the shared repository in pip.conf (aws codeartifact login --tool pip)');
  return { text: out, changes, notes };
}
