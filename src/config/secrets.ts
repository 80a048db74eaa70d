/**
 * Every secret a job names, registered before a command prints or stores anything: the AWS
 * keys in the environment, each source's token and ssh key (or its path), each warm
 * repository's key. A source registers its own token when it is made, but `rewrite-lockfiles`
 * makes none, and a lockfile URL can carry the token (https://npm.fury.io/<token>/acme/).
 */
import { registerSecret } from '../redact.js';
import type { JobConfig } from './schema.js';

export function registerJobSecrets(config: JobConfig, env: NodeJS.ProcessEnv): void {
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) registerSecret(env[name]);
  for (const s of config.sources) {
    if (s.kind === 'npm-registry' && s.tokenEnv) registerSecret(env[s.tokenEnv]);
    if (s.kind === 'git' && s.sshKeyEnv) registerSecret(env[s.sshKeyEnv]);
  }
  for (const r of config.warm.repositories) if (r.sshKeyEnv) registerSecret(env[r.sshKeyEnv]);
}
