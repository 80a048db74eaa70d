/** `goproxy JOB`: serve the job's generic repository to the Go toolchain until stopped. */
import { once } from 'node:events';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { startGoProxy } from '../goproxy/server.js';
import { print, printEntries, reportError, wantsJson, type Io } from './output.js';

export interface GoProxyCommandOptions {
  port?: number;
  host?: string;
  allowRemote?: boolean;
  allowedHost?: string[];
  /** Default DEFAULT_MAX_CONNECTIONS. */
  maxConnections?: number;
  json?: boolean;
  /** Abort = stop serving (Ctrl-C, SIGTERM). */
  signal: AbortSignal;
  codeartifactClient?: CodeartifactClient;
}

/** Runs until `signal` aborts; 0 after a clean stop, else the error's exit code. */
export async function goproxyCommand(jobFile: string, opts: GoProxyCommandOptions, io: Io): Promise<number> {
  const json = wantsJson(opts.json, io);
  try {
    const proxy = await startGoProxy({
      job: jobFile,
      port: opts.port,
      host: opts.host,
      allowRemote: opts.allowRemote,
      allowedHosts: opts.allowedHost,
      maxConnections: opts.maxConnections,
      codeartifactClient: opts.codeartifactClient,
      // a stop while CodeArtifact is still being asked (a stuck preflight) is not waited out
      signal: opts.signal,
      // a line per failed request: a target's message of several lines stays under it
      onError: (line) => printEntries(io.stderr, [line]),
    });
    const env = proxy.goEnv;
    if (json) print(io.stdout, `${JSON.stringify({ url: proxy.url, repository: proxy.repository, env, ...(proxy.noSumDbShortened ? { noSumDbShortened: true } : {}) })}\n`);
    else {
      // one line; what follows "export" pastes into a shell as it is
      const vars = Object.entries(env).filter(([, v]) => v !== '');
      const note =
        env.GONOSUMDB === ''
          ? ' (the repository holds no Go module yet)'
          : proxy.noSumDbShortened
            ? ` (GONOSUMDB names the paths above its ${proxy.modulePrefixes.length} modules: the list would not fit in an environment variable)`
            : '';
      print(io.stdout, `Serving ${proxy.repository} at ${proxy.url} until Ctrl-C${note}; in another shell: export ${vars.map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    }
    if (!opts.signal.aborted) await once(opts.signal, 'abort');
    await proxy.stop();
    return 0;
  } catch (e) {
    // stopped before serving: as a stop while serving (nothing was half done)
    if (opts.signal.aborted) return 0;
    return reportError(e, io, json);
  }
}
