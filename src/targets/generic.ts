/**
 * Go modules into a CodeArtifact `generic` repository. CodeArtifact has no Go
 * format, so a module version is one generic package version holding the three
 * files a GOPROXY serves, `<v>.zip`, `<v>.mod`, `<v>.info`
 * (https://go.dev/ref/mod#goproxy-protocol), named by go-mapping.ts.
 *
 * A version is built up asset by asset with PublishPackageVersion: every asset
 * but the last is sent with `unfinished`, which keeps the version Unfinished
 * (invisible to `cam goproxy`, which lists Published versions only); the last
 * one omits it, and that publishes the version. A Published version never
 * takes another asset and never returns to Unfinished
 * (https://docs.aws.amazon.com/codeartifact/latest/ug/generic-packages-overview.html).
 *
 * What a run that stops half-way leaves behind, and what reads it back:
 *  - stopped after some assets landed: the version is Unfinished, and
 *    ListPackageVersionAssets lists the assets that landed with their SHA-256;
 *    sending those again with the same bytes is accepted, so the next run
 *    uploads what is missing (or everything again) and the last asset finishes it;
 *  - the last asset landed but its answer was lost: DescribePackageVersion says
 *    Published and the listing has every asset; nothing is sent again.
 */
import { MigrateError } from '../errors.js';
import type { CodeArtifact, PackageCoordinates } from './codeartifact.js';
import type { PublishRequest, PublishResult, TargetFormat } from './format.js';
import { goModuleToGeneric } from './go-mapping.js';

export class GenericTarget implements TargetFormat {
  readonly format = 'generic' as const;

  constructor(
    private readonly ca: CodeArtifact,
    readonly repository: string,
  ) {}

  /** A Go module path as generic coordinates: namespace = host, package = the rest with '/' written '+'. */
  coordinates(modulePath: string): PackageCoordinates {
    const { namespace, package: pkg } = goModuleToGeneric(modulePath);
    return { format: 'generic', repository: this.repository, namespace, package: pkg };
  }

  /** Go versions are stored as tagged (`v1.2.3`, `v2.0.0+incompatible`). */
  targetVersion(version: string): string {
    return version;
  }

  /**
   * The repository exists and the credentials are taken: GetRepositoryEndpoint for
   * format generic, a cheap read that needs the domain, the repository and a valid
   * signature (no authorization token: generic assets go through the control plane).
   * Throttles and 5xx are thrown as they are, for the caller to retry.
   */
  async preflight(): Promise<void> {
    try {
      await this.ca.endpoint('generic', this.repository);
    } catch (e) {
      if (!(e instanceof MigrateError) || !['ETARGETAUTH', 'ETARGETCREDENTIALS', 'ETARGETREJECTED'].includes(e.code)) throw e;
      const missing = e.status === 404;
      throw new MigrateError('ETARGETSETUP', missing ? `CodeArtifact: ${e.message}` : `CodeArtifact refused the credentials: ${e.message}`, {
        cause: e,
        status: e.status,
        hint: missing
          ? `check target.domain, target.domainOwner, target.region and target.repositories.generic.internal ("${this.repository}") in the job file`
          : 'check the AWS credentials (aws sts get-caller-identity) and the IAM permissions listed in the README',
      });
    }
  }

  /**
   * Upload one asset: `unfinished` unless it is the version's last. A 409 means the
   * target holds this asset with other bytes, or the version is already Published
   * without it: `exists`, and the read-back decides (identical or conflict).
   */
  async publishAsset(req: PublishRequest): Promise<PublishResult> {
    const { asset } = req;
    const subject = `${req.name}@${req.version}`;
    try {
      await this.ca.publishAsset(req.coords, req.version, asset.name, asset.path, asset.hashes.sha256, !req.isLast, req.signal);
      return { kind: 'published' };
    } catch (thrown) {
      if (!(thrown instanceof MigrateError)) return { kind: 'unknown', error: new MigrateError('ETARGET', `${subject}: uploading ${asset.name}: ${String(thrown)}`, { subject, cause: thrown }) };
      const e = thrown;
      switch (e.code) {
        case 'ECONFLICT':
          return { kind: 'exists' };
        case 'ETHROTTLED':
        case 'ETARGETCREDENTIALS':
          // refused before anything was stored: the caller waits and sends it again, or the run stops
          throw e;
        case 'ETARGETAUTH':
          throw new MigrateError('ETARGETAUTH', `${subject}: uploading ${asset.name}: ${e.message}`, {
            subject,
            status: e.status,
            cause: e,
            // a publish blocked by the package's origin configuration is refused the same way (the body is undocumented)
            hint: 'check the AWS credentials and codeartifact:PublishPackageVersion (README); or the package origin configuration blocks publishing (publish=BLOCK)',
          });
        case 'ETARGETREJECTED':
          throw new MigrateError('ETARGETREJECTED', `${subject}: CodeArtifact refused asset ${asset.name}: ${e.message}`, {
            subject,
            status: e.status,
            cause: e,
            hint:
              e.status === 404
                ? `the repository "${this.repository}" or the domain is missing: check target.repositories.generic.internal`
                : 'nothing was stored for this asset; if the message says the SHA-256 does not match, the file changed after it was hashed (the next run checks it again)',
          });
        case 'EBLOBMISSING':
          // the file was gone before anything was sent
          throw new MigrateError('EBLOBMISSING', `${subject}: ${e.message}`, { subject, cause: e, hint: e.hint });
        default:
          // 5xx, network, a stop in flight: the asset may have landed; the target is read to settle it
          return { kind: 'unknown', error: new MigrateError(e.code, `${subject}: uploading ${asset.name}: ${e.message}`, { subject, status: e.status, cause: e }) };
      }
    }
  }
}
