/**
 * The local sandbox: a Verdaccio playing the private npm registry, a second
 * one requiring auth for reads (GitHub Packages), and the CodeArtifact
 * stand-in. Used by the tests, `npm run sandbox`, `npm run demo` and the bench.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CodeArtifactStandIn, type StandInOptions } from './codeartifact/index.js';
import { startRegistry, type RunningRegistry } from './verdaccio.js';

export const SANDBOX_DOMAIN = 'acme';
export const SANDBOX_OWNER = '111122223333';
export const SANDBOX_REGION = 'us-east-1';
/** Fake credentials the stand-in accepts; they are not AWS credentials and grant nothing anywhere else. */
export const SANDBOX_ACCESS_KEY = 'SANDBOXACCESSKEY';
export const SANDBOX_SECRET_KEY = 'sandbox-secret-key';
/**
 * The stand-in's repositories: internal/store/shared for npm and PyPI, and a generic one for Go
 * modules (CodeArtifact has no Go format). Any format can be published into any repository; the
 * names only say what each is for.
 */
export const SANDBOX_REPOSITORIES: readonly string[] = ['npm-internal', 'npm-store', 'npm-shared', 'pypi-internal', 'pypi-store', 'pypi-shared', 'go-internal'];

export interface SandboxOptions {
  dir: string;
  /** Fixed ports (the demo job names them); default random. */
  ports?: { privateNpm?: number; github?: number; codeartifact?: number };
  standIn?: Partial<StandInOptions>;
}

export interface SandboxDescriptor {
  privateNpm: { url: string; token: string; tokenEnv: string };
  github: { url: string; token: string; tokenEnv: string };
  codeartifact: {
    endpoint: string;
    region: string;
    domain: string;
    domainOwner: string;
    repositories: string[];
    /** GetRepositoryEndpoint format=npm of npm-internal */
    npmEndpoint: string;
    /** GetRepositoryEndpoint format=pypi of pypi-internal: twine's --repository-url; pip's index is `${pypiEndpoint}simple/` */
    pypiEndpoint: string;
    /** the generic repository Go modules go to (PublishPackageVersion, GetPackageVersionAsset) */
    genericRepository: string;
    accessKeyId: string;
    secretAccessKey: string;
  };
  /** Everything a `run` needs in its environment to use the sandbox. */
  env: Record<string, string>;
}

export interface Sandbox {
  descriptor: SandboxDescriptor;
  privateNpm: RunningRegistry;
  github: RunningRegistry;
  standIn: CodeArtifactStandIn;
  stop(): Promise<void>;
}

export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  mkdirSync(opts.dir, { recursive: true });
  const started: { stop(): Promise<void> }[] = [];
  try {
    const privateNpm = await startRegistry({ dir: join(opts.dir, 'private-npm'), requireAuthForReads: false, port: opts.ports?.privateNpm });
    started.push(privateNpm);
    const github = await startRegistry({ dir: join(opts.dir, 'github'), requireAuthForReads: true, port: opts.ports?.github });
    started.push(github);
    const standIn = await CodeArtifactStandIn.start({
      domain: SANDBOX_DOMAIN,
      domainOwner: SANDBOX_OWNER,
      region: SANDBOX_REGION,
      repositories: [...SANDBOX_REPOSITORIES],
      accessKeyId: SANDBOX_ACCESS_KEY,
      port: opts.ports?.codeartifact,
      ...opts.standIn,
    });
    started.push(standIn);
    const descriptor: SandboxDescriptor = {
      privateNpm: { url: privateNpm.url, token: privateNpm.token, tokenEnv: 'CAM_DEMO_NPM_TOKEN' },
      github: { url: github.url, token: github.token, tokenEnv: 'CAM_DEMO_GITHUB_TOKEN' },
      codeartifact: {
        endpoint: standIn.url,
        region: SANDBOX_REGION,
        domain: SANDBOX_DOMAIN,
        domainOwner: SANDBOX_OWNER,
        repositories: [...SANDBOX_REPOSITORIES],
        npmEndpoint: standIn.npmEndpoint('npm-internal'),
        pypiEndpoint: standIn.pypiEndpoint('pypi-internal'),
        genericRepository: 'go-internal',
        accessKeyId: SANDBOX_ACCESS_KEY,
        secretAccessKey: SANDBOX_SECRET_KEY,
      },
      env: {
        CAM_DEMO_NPM_TOKEN: privateNpm.token,
        CAM_DEMO_GITHUB_TOKEN: github.token,
        AWS_ACCESS_KEY_ID: SANDBOX_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: SANDBOX_SECRET_KEY,
        AWS_REGION: SANDBOX_REGION,
        AWS_ENDPOINT_URL_CODEARTIFACT: standIn.url,
      },
    };
    return {
      descriptor,
      privateNpm,
      github,
      standIn,
      stop: async () => {
        await Promise.allSettled(started.reverse().map((s) => s.stop()));
      },
    };
  } catch (e) {
    await Promise.allSettled(started.reverse().map((s) => s.stop()));
    throw e;
  }
}
