/**
 * Findings: what must block cutover (critical) and what a reviewer should read
 * (warning), each with what to do. Versions are grouped by code, so a thousand
 * EINTEGRITY failures are one finding naming the first 50, not a thousand lines.
 */
import type { RunSummary } from '../engine/events.js';
import type { Format } from '../types.js';
import { formatDuration } from './estimate.js';
import { hintFor } from './hints.js';
import type { AuditFrom, Exposure, Finding, FindingInput, GoSumSection, Hardening, Preflight, ReportPackage, Warm } from './schema.js';
import { lockfilesLine, warmEntries, type WarmProblemOutcome } from './warm.js';

const MAX_SUBJECTS = 50;
const SECTION_ORDER: Finding['section'][] = ['preflight', 'exposure', 'hardening', 'migration', 'source', 'metadata', 'go-sum', 'warm'];

export interface FindingSources {
  kind: 'plan' | 'run';
  jobFile: string;
  packages: ReportPackage[];
  /** Whether any run was recorded (an empty report then means the sources hold nothing). */
  hasRun: boolean;
  /** The run the rows come from, when it did not finish: killed (no end), interrupted, or stopped by an unusable target. */
  unfinished?: { id: number; how: string } | null;
  summary?: Partial<RunSummary> | null;
  /** Migrated versions whose git tag moved since (every run). */
  tagMoved: { package: string; version: string; state: string; detail: string }[];
  /** Migrated versions whose source declares other bytes since (every run). */
  sourceChanged: { package: string; version: string; detail: string }[];
  preflight: Preflight | null;
  exposure: Exposure | null;
  /** Set when preflight and exposure are an earlier plan's, carried into this report: their findings say so. */
  auditFrom?: AuditFrom | null;
  /** Why the latest plan's audit was not carried (it audited other repositories): ENOAUDIT says it. */
  auditNotCarried?: string | null;
  /** SHA-256 of the job file this report was made from (null: not read from a file). */
  jobSha256?: string | null;
  /** The job file the run this report is of was made from, as it recorded it (null: none recorded). */
  runJobFile?: { path: string; sha256: string } | null;
  /** Internal names the carried audit did not check (added or first listed after that plan). */
  notAudited?: string[];
  hardening: Hardening | null;
  warm: Warm | null;
  /** A warm of the job running now: what it has not decided yet is under way, not stopped. */
  warmRunning?: { pid: number; host: string; startedAt: string } | null;
  goSum: GoSumSection | null;
  /** Versions in the database from sources the job no longer enables. */
  foreignVersions: number;
  /** Sources the job enables of which the state records nothing (no version, no package, no listing error): no run has listed them. */
  unlistedSources: string[];
  /** Packages and scopes an npm source names of which the state records nothing (`source: name`, `source: @scope/*`). */
  unlistedNames?: string[];
  /** Versions the job migrates whose own metadata names dependencies a consumer of the target cannot resolve there, each dependency as a line. */
  unresolvable?: { subject: string; format: Format; dependencies: string[] }[];
  /** Versions the job migrates whose files were fetched but whose dependencies were never read (an earlier release fetched them; their files are gone from the blob store). */
  unresolvableUnchecked?: string[];
  extra: FindingInput[];
}

function finding(f: Omit<Finding, 'count' | 'subjects'>, subjects: string[]): Finding {
  return { ...f, count: subjects.length, subjects: subjects.slice(0, MAX_SUBJECTS) };
}

/** Group versions by their outcome code: one finding per code. */
function byCode(pkgs: ReportPackage[], keys: ReadonlySet<string>): Map<string, { subjects: string[]; hint: string | null; sample: string | null }> {
  const groups = new Map<string, { subjects: string[]; hint: string | null; sample: string | null }>();
  for (const p of pkgs) {
    for (const v of p.versions) {
      if (!keys.has(v.outcome.key)) continue;
      const code = v.outcome.code ?? v.outcome.key;
      let g = groups.get(code);
      if (!g) groups.set(code, (g = { subjects: [], hint: v.outcome.hint, sample: v.outcome.message }));
      g.subjects.push(`${p.name}@${v.version}`);
    }
  }
  return groups;
}

/** The versions of an outcome that carry a hint (removed at the source with part of it on the target), each with it. */
function hinted(pkgs: ReportPackage[], key: string): { subject: string; hint: string }[] {
  return pkgs.flatMap((p) => p.versions.flatMap((v) => (v.outcome.key === key && v.outcome.hint ? [{ subject: `${p.name}@${v.version}`, hint: v.outcome.hint }] : [])));
}

export function collectFindings(s: FindingSources): Finding[] {
  const out: Finding[] = [];
  const rerun = s.kind === 'plan' ? `rerun the dry run: cam run ${s.jobFile} --dry-run` : `rerun: cam run ${s.jobFile}`;

  for (const [code, g] of byCode(s.packages, new Set(['conflict']))) {
    const moved = code === 'ETAGMOVED';
    out.push(
      finding(
        {
          severity: 'critical',
          code,
          section: moved ? 'source' : 'migration',
          title: moved ? `${g.subjects.length} git tag(s) moved to another commit before being migrated` : `${g.subjects.length} version(s) on the target hold other bytes than the source's`,
          detail: moved ? (g.sample ?? 'a moved tag is never rebuilt silently') : 'the target already holds these versions with other content; they are never overwritten. Both SHA-512s are in the version tables',
          action: g.hint ?? hintFor(code) ?? 'decide by hand',
        },
        g.subjects,
      ),
    );
  }
  const errorKeys = new Set(s.kind === 'plan' ? ['source-error', 'error'] : ['failed']);
  for (const [code, g] of byCode(s.packages, errorKeys)) {
    out.push(
      finding(
        {
          severity: 'critical',
          code,
          section: 'migration',
          title: `${g.subjects.length} version(s) ${s.kind === 'plan' ? 'cannot be published as they are' : 'failed'}: ${code}`,
          detail: g.sample ? `first: ${g.sample}` : '',
          action: g.hint ?? rerun,
        },
        g.subjects,
      ),
    );
  }
  // a plan's "removed" with a hint: removed at the source after a run of ours began publishing it, part of it on the target
  const halfRemoved = hinted(s.packages, 'removed');
  if (halfRemoved.length) {
    out.push(
      finding(
        {
          severity: 'critical',
          code: 'ESOURCEREMOVED',
          section: 'migration',
          title: `${halfRemoved.length} version(s) no longer listed by their source, with part of each on the target`,
          detail: 'a run of ours began publishing them before the source dropped them: clients can see half a version (an sdist without its wheel), and no run publishes the rest',
          action: halfRemoved[0]!.hint,
        },
        halfRemoved.map((v) => v.subject),
      ),
    );
  }
  const notDone = [...byCode(s.packages, new Set(['not-done'])).values()].flatMap((g) => g.subjects);
  if (notDone.length) {
    // removed at the source with part of it on the target (a hint says what to do): a rerun publishes none of those
    const partly = hinted(s.packages, 'not-done');
    const detail = partly.length
      ? `${partly.length} of them no longer listed by their source, with part of each on the target (${partly.slice(0, 5).map((v) => v.subject).join(', ')}${partly.length > 5 ? ', …' : ''}); any other, the run stopped before it got to it`
      : 'the run stopped before it got to them (interrupted, or their package failed to list)';
    out.push(finding({ severity: 'critical', code: 'ENOTDONE', section: 'migration', title: `${notDone.length} selected version(s) not migrated yet`, detail, action: partly.length ? `${partly[0]!.hint}; ${rerun} for the others` : rerun }, notDone));
  }
  // rows exist only for what the run listed: a run that stopped early says nothing of the packages it never reached
  if (s.unfinished) {
    out.push(
      finding(
        {
          severity: 'critical',
          code: 'ERUNUNFINISHED',
          section: 'migration',
          title: `${s.kind === 'plan' ? 'the dry run' : 'the run'} this report is of (#${s.unfinished.id}) did not finish: ${s.unfinished.how}`,
          detail: 'what it never listed or reached is missing from this report',
          action: rerun,
        },
        [],
      ),
    );
  }
  const unmatched = s.summary?.unmatchedFilters ?? [];
  if (unmatched.length) {
    const excludes = unmatched.filter((f) => f.kind === 'exclude').length;
    out.push(
      finding(
        {
          severity: 'warning',
          code: 'EFILTERUNMATCHED',
          section: 'migration',
          title: `${unmatched.length} filter entr${unmatched.length === 1 ? 'y matches' : 'ies match'} no version of the job's sources`,
          detail: excludes ? 'an exclude with a typo lets through what it was written to keep out' : 'an include with a typo selects nothing it meant to',
          action: 'check each entry against the package names in the version tables; remove the ones that no longer apply',
        },
        unmatched.map((f) => `${f.kind} ${f.entry}`),
      ),
    );
  }
  // a Go source reading other tags than go: its h1: may not be what consumers' go.sum recorded
  const goTags = s.summary?.goTagPatterns ?? [];
  if (goTags.length) {
    out.push(
      finding(
        {
          severity: 'warning',
          code: 'EGOTAGPATTERN',
          section: 'source',
          title: `${goTags.length} Go git source(s) whose tags are not the ones go reads`,
          detail: `${goTags
            .slice(0, 3)
            .map((g) => `source "${g.source}" reads tags "${g.pattern}", go reads ${g.goReads}`)
            .join(' | ')}: their versions are built from tags go never reads (in a monorepo often another commit than the module's own tag), so the h1: published may differ from what consumers' go.sum recorded when they fetched the module directly, and go then refuses it after cutover`,
          action: `set tags to the pattern go reads (${[...new Set(goTags.map((g) => g.goReads))].slice(0, 3).join(', ')}: <directory>/v{version}, v{version} at the root), or, if the pattern is deliberate, name consumers' go.sum files in goSum so a mismatch is caught (EGOSUM)`,
        },
        goTags.map((g) => `${g.source}: ${g.pattern}`),
      ),
    );
  }
  unresolvableFinding(s.unresolvable ?? [], out);
  const depsUnchecked = s.unresolvableUnchecked ?? [];
  if (depsUnchecked.length) {
    out.push(
      finding(
        {
          severity: 'warning',
          code: 'EDEPSUNCHECKED',
          section: 'source',
          title: `${depsUnchecked.length} version(s) not checked for dependencies a consumer installing from CodeArtifact cannot resolve (EUNRESOLVABLEDEP)`,
          detail: 'fetched by a release before the check, and their files are no longer in the blob store, so a run cannot read them: whether they name paths, git or tarball URLs, direct references or a Go replace with a folder is unknown, not clean',
          action: "read these versions' own dependencies at the source (npm: package.json's dependencies, optionalDependencies, peerDependencies; Python: Requires-Dist; Go: go.mod's replace), or accept it",
        },
        depsUnchecked,
      ),
    );
  }
  // a job renamed between runs (its name names its state): the history (and the ledger) goes on under the old name
  const otherJobs = s.summary?.otherJobs ?? [];
  if (otherJobs.length) {
    out.push(
      finding(
        {
          severity: 'warning',
          code: 'EOTHERJOBS',
          section: 'migration',
          title: `${otherJobs.length} other job(s) of the state directory record this job's work on this target`,
          detail: `${otherJobs
            .slice(0, 3)
            .map((o) => `job "${o.job}": ${o.versions} version(s) of ${o.packages.slice(0, 3).join(', ')}${o.packages.length > 3 ? ' and more' : ''}`)
            .join(' | ')}: a job renamed between runs starts a new state (its name names the state file), where what it published counts as found on the target and its ledger starts again`,
          action: `if this job was renamed, put the old name back (name: ${otherJobs[0]!.job}) so one state and one ledger hold its history; two jobs over the same packages on purpose keep two`,
        },
        otherJobs.map((o) => `${o.job}: ${o.database}`),
      ),
    );
  }
  if (s.summary?.retargeted) {
    const r = s.summary.retargeted;
    out.push(finding({ severity: 'warning', code: 'ETARGETCHANGED', section: 'migration', title: `the state moved to this job's target (--retarget): ${r.versions} version(s) recorded against another one were checked again`, detail: `it recorded ${r.from}; the old target keeps what was migrated there`, action: 'make sure the new target is the one meant for cutover' }, []));
  }
  // (a version on the target whole, verified or found there, that the job no longer asks for is no half version)
  const leftOnTarget = s.packages.flatMap((p) => p.versions.filter((v) => (v.outcome.key === 'excluded' || v.outcome.key === 'skipped') && v.attempts > 0 && v.outcome.state !== 'verified' && v.outcome.state !== 'present-identical').map((v) => `${p.name}@${v.version}`));
  if (leftOnTarget.length) {
    out.push(
      finding(
        {
          severity: 'warning',
          code: 'ELEFTOUTONTARGET',
          section: 'migration',
          title: `${leftOnTarget.length} version(s) left out by the job that a run of ours started publishing`,
          detail: 'the target may hold some of their files (half a version, e.g. an sdist without its wheel), which clients can see',
          action: 'delete each such version on the target (aws codeartifact delete-package-versions) to leave nothing of it, or take it back into the job and finish it',
        },
        leftOnTarget,
      ),
    );
  }
  const unverified = [...byCode(s.packages, new Set(['published'])).values()].flatMap((g) => g.subjects);
  if (unverified.length) {
    out.push(finding({ severity: 'warning', code: 'ENOTVERIFIED', section: 'migration', title: `${unverified.length} version(s) published but not verified yet`, detail: 'not read back from the target: hashes, Published status and origin not checked', action: `${rerun} (it verifies them)` }, unverified));
  }
  const unchecked = [...byCode(s.packages, new Set(['unchecked'])).values()].flatMap((g) => g.subjects);
  if (unchecked.length) {
    out.push(finding({ severity: 'warning', code: 'EUNCHECKED', section: 'migration', title: `${unchecked.length} version(s) listed but not checked yet`, detail: 'not downloaded, verified or compared with the target, nor their dependencies read (EUNRESOLVABLEDEP): the plan counts them as to publish, but for those the target already lists (plan --no-download: their bytes not compared either)', action: rerun }, unchecked));
  }

  // an empty report must never read as "nothing blocks cutover": nothing was looked at
  if (!s.packages.some((p) => p.versions.length > 0 || p.listErrors.length > 0)) {
    out.push(
      finding(
        {
          severity: 'critical',
          code: 'ENOTHINGLISTED',
          section: 'migration',
          title: s.hasRun ? 'the sources listed no version at all' : 'no run recorded: nothing has been listed yet',
          detail: 'the report has no version to judge',
          action: s.hasRun ? "check the job's sources (packages, scopes, tags) and rerun" : `run the dry run first: cam run ${s.jobFile} --dry-run`,
        },
        [],
      ),
    );
  }
  // a listing always leaves a row (a package, or its error): a source with none was added to the job
  // (or enabled again) after the run this report is of, and what it holds is neither planned nor migrated
  const listedSome = s.packages.some((p) => p.versions.length > 0 || p.listErrors.length > 0);
  if (listedSome && s.unlistedSources.length) {
    out.push(
      finding(
        {
          severity: 'critical',
          code: 'ESOURCENOTLISTED',
          section: 'source',
          title: `${s.unlistedSources.length} source(s) the job enables were never listed: none of their packages is in this report`,
          detail: 'added to the job (or enabled again) after the run this report is of',
          action: rerun,
        },
        s.unlistedSources,
      ),
    );
  }
  const unlistedNames = s.unlistedNames ?? [];
  if (listedSome && unlistedNames.length) {
    out.push(
      finding(
        {
          severity: 'critical',
          code: 'ENAMENOTLISTED',
          section: 'source',
          title: `${unlistedNames.length} package(s) or scope(s) the job names were never listed: none of their versions is in this report`,
          detail: 'named in the job file after the run this report is of',
          action: rerun,
        },
        unlistedNames,
      ),
    );
  }
  const listErrors = s.packages.flatMap((p) => p.listErrors.map((e) => ({ p, e })));
  if (listErrors.length) {
    out.push(
      finding(
        {
          severity: 'critical',
          code: 'ELIST',
          section: 'source',
          title: `${listErrors.length} package(s) could not be listed at their source`,
          detail: listErrors.slice(0, 3).map(({ p, e }) => `${p.name} (${e.source}): ${e.code}: ${e.message}`).join(' | '),
          action: listErrors[0]?.e.hint ?? 'check the source and its token, then rerun',
        },
        listErrors.map(({ p, e }) => `${p.name} (${e.source})`),
      ),
    );
  }
  const outOfSync = s.summary?.metadataOutOfSync ?? [];
  // one entry per reason: a package with two tags out of sync is one package
  const outOfSyncPackages = [...new Set(outOfSync.map((m) => m.package))];
  if (outOfSync.length) {
    out.push(
      finding(
        {
          severity: 'critical',
          code: 'EMETADATA',
          section: 'metadata',
          title: `${outOfSyncPackages.length} package(s) whose dist-tags or deprecations cannot be made the source's`,
          detail: outOfSync.slice(0, 3).map((m) => `${m.package}: ${m.reason}`).join(' | '),
          action: 'include the version the tag points at, move the tag at the source, or list the tag in filters.ignoreDistTags',
        },
        outOfSyncPackages,
      ),
    );
  }
  const movedAfter = s.tagMoved;
  if (movedAfter.length) {
    out.push(
      finding(
        { severity: 'critical', code: 'ETAGMOVED', section: 'source', title: `${movedAfter.length} migrated version(s) whose git tag now points at another commit`, detail: movedAfter[0]!.detail, action: 'find out why the tag moved; the target keeps what was built from the first commit' },
        movedAfter.map((t) => `${t.package}@${t.version}`),
      ),
    );
  }
  if (s.sourceChanged.length) {
    out.push(
      finding(
        { severity: 'warning', code: 'ESOURCECHANGED', section: 'source', title: `${s.sourceChanged.length} migrated version(s) whose source now declares other bytes`, detail: s.sourceChanged[0]!.detail, action: 'find out who republished them (the target keeps what was migrated)' },
        s.sourceChanged.map((c) => `${c.package}@${c.version}`),
      ),
    );
  }
  const weak = s.packages.flatMap((p) => p.versions.filter((v) => v.declared.weak).map((v) => `${p.name}@${v.version}`));
  if (weak.length) {
    out.push(finding({ severity: 'warning', code: 'EWEAKINTEGRITY', section: 'source', title: `${weak.length} version(s) checked only against a SHA-1 (dist.shasum)`, detail: 'the source declares no SHA-512 for them', action: 'accept, or compare them with another copy before cutover' }, weak));
  }
  if (s.foreignVersions > 0) {
    out.push(finding({ severity: 'warning', code: 'EOTHERSOURCES', section: 'source', title: `${s.foreignVersions} version(s) in the state database come from sources the job no longer enables`, detail: 'they are left out of this report', action: 'enable the source again, or ignore them' }, []));
  }

  const gs = s.goSum;
  if (gs && gs.mismatches.length) {
    out.push(
      finding(
        { severity: 'critical', code: 'EGOSUM', section: 'go-sum', title: `${gs.mismatches.length} go.sum line(s) differ from what was built`, detail: gs.mismatches.slice(0, 3).map((m) => `${m.file}:${m.line} ${m.module} ${m.version} (${m.kind}): go.sum ${m.goSum}, built ${m.built}`).join(' | '), action: 'do not cut over those modules: go would refuse them; find which side is wrong' },
        gs.mismatches.map((m) => `${m.module}@${m.version}`),
      ),
    );
  }
  if (gs && gs.errors.length) {
    out.push(finding({ severity: 'critical', code: 'EGOSUMREAD', section: 'go-sum', title: `${gs.errors.length} go.sum file(s) could not be read`, detail: gs.errors.slice(0, 3).map((e) => `${e.file}: ${e.message}`).join(' | '), action: 'fix the goSum paths in the job file' }, gs.errors.map((e) => e.file)));
  }

  // a plan without AWS access saw the sources only: what the target holds could make it NO-GO
  if (s.summary?.noTarget) {
    out.push(
      finding(
        {
          severity: 'warning',
          code: 'ENOTARGET',
          section: 'preflight',
          title: 'the target was not read (plan --no-target)',
          detail: 'versions already there, conflicts with other bytes, the domain\'s setup and the origin controls are unknown: every version shows as to publish, and no protection is taken as effective',
          action: 'plan again with AWS access before cutover',
        },
        [],
      ),
    );
  }
  // a plan that is a `run --dry-run`: the target was read, but neither the domain's setup nor the
  // dependency-confusion exposure was checked; without this, nothing in the report said so, and a GO
  // read as if both had passed (a `plan` always keeps its exposure check, --no-target too). A run
  // audits nothing either: a clean run read "GO: nothing blocks cutover" with nobody having checked
  // the domain. Each carries the latest plan's audit when there is one (auditFrom); one made with
  // --no-target has no domain audit to carry
  const noDomainAudit = s.kind === 'run' ? !s.preflight : !s.preflight && (!s.exposure || Boolean(s.auditFrom));
  if (s.hasRun && noDomainAudit) {
    out.push(
      finding(
        {
          severity: 'warning',
          code: 'ENOAUDIT',
          section: 'preflight',
          title: s.auditFrom
            ? `the domain audit was not made: the latest plan (#${s.auditFrom.runId}) did not read the target (--no-target, or stopped before its audit)`
            : s.auditNotCarried
              ? `the domain audit and the dependency-confusion exposure check were not made for the repositories the job names now: ${s.auditNotCarried}`
              : s.kind === 'plan'
              ? 'the domain audit and the dependency-confusion exposure check were not made (a dry run, not a plan)'
              : 'the domain audit and the dependency-confusion exposure check were not made: no plan of this job audited its target (a run makes neither)',
          detail: "the domain's setup (store connections, shared repositories' search order, origin controls) and whether internal names exist on a public registry are unknown",
          action: s.kind === 'plan' ? `plan it, which makes both: cam plan ${s.jobFile}` : `plan it before cutover: cam plan ${s.jobFile}`,
        },
        [],
      ),
    );
  }
  jobFileFindings(s, out);
  const from = s.auditFrom ? auditLabel(s.auditFrom) : null;
  const carried = (f: Finding): Finding =>
    from ? { ...f, title: `${f.title} (${from})`, action: `${f.action}; then plan again for an audit of the domain as it is now: cam plan ${s.jobFile}` } : f;
  const audit: Finding[] = [];
  preflightFindings(s.preflight, audit);
  exposureFindings(s.exposure, audit);
  out.push(...audit.map(carried));
  hardeningFindings(s.kind, s.hardening, out);
  warmFindings(s.warm, out, s.warmRunning ?? null);
  for (const f of s.extra) out.push({ ...f, count: f.count ?? f.subjects?.length ?? 0, subjects: (f.subjects ?? []).slice(0, MAX_SUBJECTS) });

  const rank = (f: Finding) => (f.severity === 'critical' ? 0 : 1);
  return out
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f) - rank(b.f) || SECTION_ORDER.indexOf(a.f.section) - SECTION_ORDER.indexOf(b.f.section) || a.i - b.i)
    .map(({ f }) => f);
}

/**
 * Migrated versions (byte for byte) whose own metadata names what a consumer installing from
 * CodeArtifact cannot resolve there: npm file:/link:/workspace: paths, git and tarball URLs (the
 * install fails, or reaches the old git host); Python direct references (pip fetches the URL,
 * whatever its index); Go replace with a local folder (ignored in a dependency: consumers build
 * with other code than the tag's own build). A warning: the bytes are never changed.
 */
function unresolvableFinding(found: NonNullable<FindingSources['unresolvable']>, out: Finding[]): void {
  if (!found.length) return;
  const go = found.filter((u) => u.format === 'generic').length;
  const sample = found.slice(0, 3).map((u) => `${u.subject}: ${u.dependencies.slice(0, 3).join('; ')}${u.dependencies.length > 3 ? '; …' : ''}`).join(' | ');
  const why = [
    ...(go < found.length ? ['a path (file:, link:, workspace:, ../x), a git URL or a tarball URL (npm), or a direct reference (Python name @ url), is never fetched from the target: installing these versions fails, or reaches the old git host, after cutover'] : []),
    ...(go ? ['go ignores replace in a dependency: consumers build these with the required module version instead of the folder the tag built against'] : []),
  ];
  out.push(
    finding(
      {
        severity: 'warning',
        code: 'EUNRESOLVABLEDEP',
        section: 'source',
        title: go === found.length ? `${found.length} Go version(s) whose go.mod replaces a module with a local folder` : `${found.length} version(s) name dependencies a consumer installing from CodeArtifact cannot resolve there`,
        detail: `${sample}: ${why.join('; ')}; the bytes are migrated as they are`,
        action: `publish each such dependency into CodeArtifact too and release a new version of the package that depends on it by version (a migrated version is never changed); or accept it, knowing who installs these versions${go ? '; for Go, make sure the replaced module is migrated too and required at a version' : ''}`,
      },
      found.map((u) => `${u.subject}: ${u.dependencies.join('; ')}`),
    ),
  );
}

const short = (sha: string) => sha.slice(0, 12);

/**
 * The job file this report was made from against the ones the run it is of and the carried audit
 * were made from: another one (edited since, or another file of the same job name and state
 * directory) is EJOBCHANGED; internal names the carried audit never checked are ENOTAUDITED.
 */
function jobFileFindings(s: FindingSources, out: Finding[]): void {
  const mine = s.jobSha256;
  if (mine) {
    const others: { who: string; what: string }[] = [];
    if (s.runJobFile && s.runJobFile.sha256 !== mine) others.push({ who: `the ${s.kind === 'plan' ? 'dry run' : 'run'} this report is of`, what: `${s.runJobFile.path} (sha256 ${s.runJobFile.sha256})` });
    if (s.auditFrom && s.auditFrom.jobFile?.sha256 !== mine) {
      others.push({ who: `plan #${s.auditFrom.runId}, whose domain audit this report carries`, what: s.auditFrom.jobFile ? `${s.auditFrom.jobFile.path} (sha256 ${s.auditFrom.jobFile.sha256})` : 'a job file it did not record (made by an older release)' });
    }
    if (others.length) {
      const rerun = s.auditFrom ? `plan it again, then run and report it with this job file: cam plan ${s.jobFile}` : s.kind === 'plan' ? `plan it again: cam plan ${s.jobFile}` : `run it again with this job file (cam run ${s.jobFile}), and plan it (cam plan ${s.jobFile})`;
      out.push(
        finding(
          {
            severity: 'warning',
            code: 'EJOBCHANGED',
            section: 'migration',
            title: `this report's job file (${s.jobFile}, sha256 ${short(mine)}) is not the one ${others.map((o) => o.who).join(' and ')} was made from`,
            detail: `${others.map((o) => `${o.who}: ${o.what}`).join(' | ')}: the job file was edited since, or it is another file of the same job name and state directory; what was planned, audited or done may not be what this job file asks for`,
            action: `${rerun}; if it is another job's file of the same name, give one of them another name (name: in the job file): one job name, one state`,
          },
          others.map((o) => `${o.who}: ${o.what}`),
        ),
      );
    }
  }
  const gap = s.notAudited ?? [];
  if (s.auditFrom && gap.length) {
    out.push(
      finding(
        {
          severity: 'warning',
          code: 'ENOTAUDITED',
          section: 'exposure',
          title: `${gap.length} internal name(s) neither audited nor checked for dependency-confusion exposure by plan #${s.auditFrom.runId}`,
          detail: "added to the job (or first listed) after that plan: their origin controls and whether they exist on a public registry are unknown",
          action: `plan it again, which checks them: cam plan ${s.jobFile}`,
        },
        gap,
      ),
    );
  }
}

/** Whose audit a carried finding comes from, and when: never to be read as a check made for this report. */
export function auditLabel(a: AuditFrom): string {
  return `found by plan #${a.runId}'s audit of ${a.at}${a.ageSeconds === null ? '' : `, ${formatDuration(a.ageSeconds)} before this report`}`;
}

function preflightFindings(p: Preflight | null, out: Finding[]): void {
  if (!p) return;
  for (const c of p.checks) {
    if (c.status === 'ok') continue;
    out.push(finding({ severity: c.status === 'fail' ? 'critical' : 'warning', code: `PREFLIGHT:${c.id}`, section: 'preflight', title: c.title, detail: c.detail, action: c.fix ?? 'see the preflight audit' }, []));
  }
  for (const f of p.findings) {
    if (f.severity === 'info') continue;
    out.push(finding({ severity: f.severity, code: 'PREFLIGHT', section: 'preflight', title: f.message, detail: '', action: f.fix ?? 'see the preflight audit' }, []));
  }
}

function exposureFindings(e: Exposure | null, out: Finding[]): void {
  if (!e) return;
  const exposed = e.names.filter((n) => n.status === 'exposed');
  if (exposed.length) {
    out.push(
      finding(
        {
          severity: 'critical',
          code: 'EEXPOSED',
          section: 'exposure',
          title: `${exposed.length} internal name(s) exist on a public registry with nothing effective protecting them`,
          detail: 'a build reading through the store could get the public package instead of ours (dependency confusion)',
          action: 'apply the origin controls (upstream BLOCK on each name in its internal AND its store repository: cam harden <job>) and make shared repositories list internal before store',
        },
        exposed.map((n) => `${n.name} (${n.publicRegistry})`),
      ),
    );
  }
  const unknown = e.names.filter((n) => n.status === 'unknown');
  if (unknown.length) {
    const why = unknown.filter((n) => n.error);
    const detail = why.slice(0, 5).map((n) => `${n.name}: ${n.error}`).join(' | ') + (why.length > 5 ? ` | and ${why.length - 5} more` : '');
    out.push(
      finding(
        { severity: 'warning', code: 'EEXPOSUREUNKNOWN', section: 'exposure', title: `${unknown.length} internal name(s) whose public exposure could not be checked`, detail, action: 'check that publicRegistries in the job file names each public registry itself and that this machine reaches it (HTTPS_PROXY), then plan again' },
        unknown.map((n) => n.name),
      ),
    );
  }
}

function hardeningFindings(kind: 'plan' | 'run', h: Hardening | null, out: Finding[]): void {
  if (!h) return;
  // a package group's change is an origin-configuration change too (its pattern names it)
  // a store that already holds public versions of an internal name (harden's ESTOREHOLDS): not a failed change
  const held = h.changes.filter((c) => c.status === 'failed' && c.code === 'ESTOREHOLDS');
  if (held.length) {
    out.push(
      finding(
        { severity: 'critical', code: 'ESTOREHOLDS', section: 'hardening', title: `${held.length} internal name(s) a store repository already holds public versions of`, detail: held[0]!.error ?? '', action: 'find which builds installed them, then delete those versions from the store (aws codeartifact delete-package-versions); harden has blocked its upstream' },
        held.map((c) => `${c.package} (${c.repository})`),
      ),
    );
  }
  const failed = [...h.changes.filter((c) => c.status === 'failed' && !held.includes(c)).map((c) => ({ subject: c.package, error: c.error })), ...h.groups.filter((g) => g.status === 'failed').map((g) => ({ subject: g.pattern, error: g.reason }))];
  if (failed.length) {
    out.push(finding({ severity: 'critical', code: 'EHARDENING', section: 'hardening', title: `${failed.length} origin-configuration change(s) failed`, detail: failed[0]!.error ?? '', action: 'grant codeartifact:PutPackageOriginConfiguration (and the package-group actions for packageGroups) and rerun the hardening' }, failed.map((c) => c.subject)));
  }
  const planned = [...h.changes.filter((c) => c.status === 'planned').map((c) => c.package), ...h.groups.filter((g) => g.status === 'planned').map((g) => g.pattern)];
  if (kind === 'run' && planned.length) {
    out.push(finding({ severity: 'warning', code: 'EHARDENINGPENDING', section: 'hardening', title: `${planned.length} origin-configuration change(s) not applied yet`, detail: 'internal names must be protected before any warming', action: 'apply the hardening before warming or cutover' }, planned));
  }
}

function warmFindings(w: Warm | null, out: Finding[], running: { pid: number; host: string; startedAt: string } | null): void {
  if (!w) return;
  const sum = (k: keyof Warm['lockfiles'][number]['counts']) => w.lockfiles.reduce((n, l) => n + l.counts[k], 0);
  // each entry once, however many lockfiles name it (the counts per lockfile count it in each):
  // 2,000 entries in 101 lockfiles are 2,000 packages, not 202,000
  const entries = warmEntries(w);
  const problem = (outcome: WarmProblemOutcome) => entries.filter((e) => e.outcome === outcome).map((e) => `${e.name}@${e.version} (${lockfilesLine(e)})`);
  // a section another command filled may carry the counts without the problems: then the counts say it
  const distinct = (outcome: WarmProblemOutcome, counted: number) => entries.filter((e) => e.outcome === outcome).length || counted;
  if (sum('integrityMismatch')) {
    const subjects = problem('integrity-mismatch');
    out.push(finding({ severity: 'critical', code: 'EWARMINTEGRITY', section: 'warm', title: `${distinct('integrity-mismatch', sum('integrityMismatch'))} locked package(s) whose store copy does not match the lockfile's integrity`, detail: 'the store would serve other bytes than the lockfile pins', action: 'do not cut over the builds using those lockfiles; find out which copy is right' }, subjects));
  }
  // the store refuses them (origin controls): a build from those lockfiles fails after cutover, as for a missing one
  const blocked = sum('blocked');
  if (blocked) out.push(finding({ severity: 'warning', code: 'EWARMBLOCKED', section: 'warm', title: `${distinct('blocked', blocked)} locked package(s) the store refuses`, detail: "the store's origin controls (the package's upstream BLOCK, or a package group blocking external upstreams) keep them out", action: 'allow them into the store, or change the lockfiles' }, problem('blocked')));
  const missing = sum('missingUpstream');
  if (missing) out.push(finding({ severity: 'warning', code: 'EWARMMISSING', section: 'warm', title: `${distinct('missing-upstream', missing)} locked package(s) missing upstream`, detail: 'the public registry no longer serves them', action: 'publish them into the internal repository, or update the lockfiles' }, problem('missing-upstream')));
  const pending = sum('pending');
  if (pending) out.push(finding({ severity: 'warning', code: 'EWARMPENDING', section: 'warm', title: `${distinct('pending', pending)} locked package(s) not warmed yet`, detail: '', action: 'rerun the warm' }, problem('pending')));
  const internalMissing = sum('internalMissing');
  if (internalMissing) {
    out.push(
      finding(
        { severity: 'warning', code: 'EWARMINTERNAL', section: 'warm', title: `${distinct('internal-missing', internalMissing)} locked version(s) of internal packages not in the internal repository`, detail: 'a build from these lockfiles would fail after cutover', action: 'run the migration if the plan publishes them; otherwise find where those versions went (a source that no longer lists them)' },
        problem('internal-missing'),
      ),
    );
  }
  const notes = w.lockfiles.flatMap((l) => l.notes.map((n) => `${n.file}${n.line !== null ? `:${n.line}` : ''}: ${n.message}`));
  if (notes.length) out.push(finding({ severity: 'warning', code: 'EWARMNOTES', section: 'warm', title: `${notes.length} lockfile line(s) left out or read with an assumption`, detail: 'nothing a line left out names was requested or checked', action: 'read each: pin what is not pinned, fix what the parser could not read, and migrate what only another index serves' }, notes));
  // a warm stopped before it got to them, or one running now has not yet: nothing is known of them, and no problem lists them
  const undecided = sum('undecided');
  if (undecided) {
    const title = running
      ? `${undecided} locked package(s) not decided yet: a \`warm\` of this job is still running (pid ${running.pid} on ${running.host}, started ${running.startedAt})`
      : `${undecided} locked package(s) not decided: the warm stopped before it got to them`;
    out.push(finding({ severity: 'warning', code: 'EWARMUNDECIDED', section: 'warm', title, detail: 'counted once per lockfile naming them; nothing of them was checked', action: running ? 'wait for it to finish, then report again' : 'rerun the warm' }, []));
  }
  const failed = sum('failed');
  if (failed) out.push(finding({ severity: 'warning', code: 'EWARMFAILED', section: 'warm', title: `${distinct('failed', failed)} locked package(s) whose warm request failed after its retries`, detail: '', action: 'rerun the warm (its summary says why each failed)' }, problem('failed')));
}
