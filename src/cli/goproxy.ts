/** `goproxy JOB`: serve the job's generic repository to the Go toolchain until stopped. */
import { once } from 'node:events';
import type { CodeartifactClient } from '@aws-sdk/client-codeartifact';
import { startGoProxy } from '../goproxy/server.js';
import { print, reportError, wantsJson, type Io } from './output.js';

export interface GoProxyCommandOptions {
  port?: number;
  host?: string;
  allowRemote?: boolean;
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
      codeartifactClient: opts.codeartifactClient,
      onError: (line) => print(io.stderr, `${line}\n`),
    });
    const env = { ...proxy.goEnv, GONOSUMDB: proxy.goEnv.GONOSUMDB || '<your module path prefixes>' };
    if (json) print(io.stdout, `${JSON.stringify({ url: proxy.url, repository: proxy.repository, env })}\n`);
    else {
      print(io.stdout, `Serving ${proxy.repository} at ${proxy.url} (Ctrl-C stops it); use it with: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} go mod download\n`);
    }
    if (!opts.signal.aborted) await once(opts.signal, 'abort');
    await proxy.stop();
    return 0;
  } catch (e) {
    return reportError(e, io, json);
  }
}
