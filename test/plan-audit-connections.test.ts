/**
 * The plan's search-order checks and the external connections the service documents
 * (AssociateExternalConnection in the botocore model: public:npmjs, public:pypi, public:nuget-org,
 * and five Maven ones). A connection to another format's registry is no way out for an npm or a
 * PyPI name: an npm shared repository whose first upstream is a Maven cache of Clojars still
 * reads internal before anything that serves npm packages, and an internal repository that
 * also proxies the Google Android Maven repository reaches no npm or PyPI registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plan } from '../src/cli/plan.js';
import { loadJob } from '../src/config/load.js';
import type { Report } from '../src/report/model.js';
import { startTestEnv, type TestEnv } from './support/harness.js';
import { seedPackages } from './support/npm-fixtures.js';

let te: TestEnv;
let job: string;
const MUTATING = /^(Publish|Put|Create|Update|Delete|Dispose|Associate|Disassociate|Copy|npm:(Publish|DistTag(Set|Delete)|Deprecate)|pypi:Upload)/;
const checks = (r: Report) => Object.fromEntries(r.preflight!.checks.map((c) => [c.id, c]));

beforeAll(async () => {
  te = await startTestEnv({
    publicRegistries: true,
    standIn: {
      repositories: [
        // one repository for npm and Maven alike: it also proxies the Google Android repository
        { name: 'npm-internal', externalConnection: 'public:maven-googleandroid' },
        { name: 'npm-store', externalConnection: 'public:npmjs' },
        { name: 'maven-clojars', externalConnection: 'public:maven-clojars' },
        { name: 'maven-gradle', externalConnection: 'public:maven-gradleplugins' },
        { name: 'maven-all', upstreams: ['maven-clojars', 'maven-gradle'] },
        { name: 'npm-shared', upstreams: ['maven-all', 'npm-internal', 'npm-store'] },
        'pypi-internal',
        { name: 'pypi-store', externalConnection: 'public:pypi' },
        { name: 'pypi-shared', upstreams: ['pypi-internal', 'pypi-store'] },
        'go-internal',
      ],
    },
  });
  await seedPackages(te.sandbox.privateNpm.url, te.sandbox.privateNpm.token, [{ name: '@acme/app', versions: ['1.0.0'] }]);
  job = te.writeJob({ name: 'conn', privateNpm: { packages: ['@acme/app'] }, github: false });
}, 120_000);
afterAll(async () => {
  await te?.stop();
});

describe('external connections of other formats', () => {
  it('are no way out for npm names: the shared order holds, the internal repository is isolated, nothing is written', async () => {
    const since = te.sandbox.standIn.log.at(-1)?.seq ?? 0;
    const { report } = await plan(loadJob(job), { stateDir: te.stateDir, env: te.env, codeartifactClient: te.client, quiet: true, out: te.dir });
    const c = checks(report);
    expect(c['npm-shared-order']?.status).toBe('ok');
    expect(c['npm-internal-isolated']?.status).toBe('ok');
    expect(report.preflight!.findings.filter((f) => f.severity === 'critical')).toEqual([]);
    expect(report.exposure!.names.find((n) => n.name === '@acme/app')!.protections.find((p) => p.kind === 'shared-order')?.effective).toBe(true);
    expect(te.sandbox.standIn.log.filter((e) => e.seq > since && MUTATING.test(e.operation))).toEqual([]);
  });
});
