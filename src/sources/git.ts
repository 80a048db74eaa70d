/**
 * git repositories (usually git+ssh://): every version tag becomes a version,
 * built from a clean checkout of its commit (builders/ turn it into files).
 *
 * A bare mirror per source lives under `<state>/git/<source id>.git`, cloned
 * once and fetched on every run (`--prune`: a deleted tag disappears; mirror
 * refspecs are forced: a moved tag is seen moved, and state/ decides what that
 * means). ssh is used exactly as git uses it (agent, ~/.ssh/config,
 * GIT_SSH_COMMAND), with the job's key (`sshKeyEnv`) and known_hosts added,
 * and BatchMode so that nothing ever waits for a password or a host-key prompt.
 *
 * Tags name versions through a pattern (`v{version}`, `billing/v{version}`); a
 * tag that matches but is no version for the format is listed and skipped with
 * the reason. Every version records its tag, commit and commit time.
 *
 * Go versions are read as cmd/go reads tags (modfetch/coderepo.go): the tag less the
 * module's `<dir>/` must be a canonical `vX.Y.Z[-pre]` with no build metadata, its `v`
 * included (never added, never taken off); and a v2+ module may live in a `vN/` folder
 * of a root tagged `vN.x.y` (findDir), which is then the folder built.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import semver from 'semver';
import type { SimpleGit } from 'simple-git';
import { SEALED } from '../builders/process.js';
import { MAX_GO_MOD, checkPathMajor, goTimeProblem, isCanonicalVersion, isPseudoVersion, modulePathFromGoMod, semverMajor, splitPathVersion } from '../builders/go-rules.js';
import { normalizePep440, pep440Key } from '../builders/python-metadata.js';
import type { GitSourceConfig, JobConfig } from '../config/schema.js';
import { MigrateError, vanishedError } from '../errors.js';
import { printable } from '../redact.js';
import type { PackageListing, VersionListing } from '../types.js';
import { MAX_VERSION_KEY, badModulePath, boundedKey, detached, isNpmName, shownKey, versionTooLong } from './bounded.js';
import { damagedMirrorError, GitAccess } from './git-access.js';
import type { Checkout, NameResult, Source } from './source.js';

/** One tag that names a version, with what the listing needs about it. */
interface TaggedVersion {
  tag: string;
  commit: string;
  /** The version as the format spells it (PEP 440 normal form, semver, Go `v1.2.3`). */
  version: string;
  committedAt?: string;
  /** The package this tag builds (a Go repository can hold `m` and `m/v2`). */
  name: string;
  /** The folder built, when not the job's `directory` (a Go v2+ module in its `vN/` folder). */
  subdir?: string;
  /** The other tags that give this version (see oneTagPerVersion): an override may name any of them. */
  otherTags?: string[];
  skip?: string;
  problem?: string;
}

/**
 * What readTags read at a tag's commit, by the file's path under the job's `directory`: the
 * name the file declares (go.mod's module path, package.json's name; '' for none), and only
 * that (readBlobs); or, for a name no package can have, `refused` saying so (the name quoted
 * short); 'too-large'; undefined when there is no such file.
 */
type Declared = { declares: string; refused?: string };
type FileAt = (path: string) => Declared | 'too-large' | undefined;

/** The largest go.mod or package.json read at a tag (go's own limit for go.mod; no package.json comes near it). */
const MAX_TAGGED_FILE = MAX_GO_MOD;

export class GitSource implements Source {
  readonly id: string;
  readonly url: string;
  readonly kind = 'git' as const;
  readonly format: GitSourceConfig['format'];
  readonly buildFormat: GitSourceConfig['format'];
  private readonly mirror: string;
  /** Where release 0.1 kept the mirror (`git/<id>.git`, shared by every job): taken over once. */
  private readonly legacyMirror: string;
  private readonly tmpDir: string;
  private readonly access: GitAccess;
  private versions?: TaggedVersion[];
  /** How many tags the repository has, and a few of them: what an ESOURCEEMPTY names. */
  private unmatched: { count: number; sample: string[] } = { count: 0, sample: [] };
  private overrides = new Map<string, GitSourceConfig['versions'][string]>();
  /** The folder each version is built from when not the job's `directory`. */
  private subdirs = new Map<string, string>();

  constructor(
    private readonly config: GitSourceConfig,
    env: NodeJS.ProcessEnv,
    stateDir: string,
    job: string,
    limits?: Pick<JobConfig['limits'], 'maxMirrorBytes' | 'maxCheckoutBytes'>,
  ) {
    this.id = config.id;
    this.url = config.url;
    this.format = config.format;
    this.buildFormat = config.format;
    // git runs in other folders than ours: a relative state dir would mean another place to it
    stateDir = resolve(stateDir);
    // the job's own: two jobs in one state directory may name two repositories `lib` and run
    // at once (one job runs once, under its lock); a fetch for one must never change the
    // tags, or prune the objects, the other is reading and building from
    this.mirror = join(stateDir, 'git', job, `${config.id}.git`);
    this.legacyMirror = join(stateDir, 'git', `${config.id}.git`);
    this.tmpDir = join(stateDir, 'tmp');
    this.access = new GitAccess(env, {
      owner: `source "${config.id}"`,
      url: config.url,
      ...(config.sshKeyEnv ? { sshKeyEnv: config.sshKeyEnv } : {}),
      ...(config.knownHostsFile ? { knownHostsFile: config.knownHostsFile } : {}),
      // in the sealed folder: covered from every build, this job's and another's running meanwhile in this state directory
      keyFilePath: join(stateDir, 'tmp', SEALED, `ssh-key-${job}-${config.id}-${process.pid}`),
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      idleTimeoutSetting: `idleTimeoutSeconds of source "${config.id}"`,
      ...(limits ? { maxMirrorBytes: limits.maxMirrorBytes, maxCheckoutBytes: limits.maxCheckoutBytes } : {}),
    });
  }

  /** Clone the mirror once, fetch it on every run; then read every tag. The engine retries this. */
  async prepare(signal?: AbortSignal, recorded?: (name: string) => readonly string[]): Promise<void> {
    try {
      await this.access.updateMirror(this.mirror, this.url, signal, this.legacyMirror);
    } catch (e) {
      throw this.classify(e, 'fetch');
    } finally {
      // the remote is done with: builds (which run the repository's code) never find the key
      this.access.close();
    }
    this.versions = oneTagPerVersion(await this.readTags(signal), (v) => this.versionKey(v), recorded);
    this.overrides = this.matchOverrides(this.versions);
    // one tag per Go version: a version names its folder
    this.subdirs = new Map(this.versions.flatMap((v) => (v.subdir !== undefined && !v.skip && !v.problem ? [[v.version, v.subdir] as const] : [])));
  }

  /** One string for every spelling of one version: PEP 440's equal versions (`1.0`, `1.0.0`) are one. */
  private versionKey(version: string): string {
    return this.format === 'pypi' ? (pep440Key(version) ?? version) : version;
  }

  /**
   * The job's per-version overrides by the version each one names: a key may be the
   * version in any spelling the format accepts (`1.0-rc1` for PEP 440's `1.0rc1`, `1.2.0`
   * or `v1.2.0` for Go) or a tag name. A key that names no tag is an error: a `skip` that
   * matched nothing would let the release it meant to hold back be published.
   */
  private matchOverrides(versions: readonly TaggedVersion[]): Map<string, GitSourceConfig['versions'][string]> {
    const out = new Map<string, GitSourceConfig['versions'][string]>();
    const byTag = new Map(versions.flatMap((v) => [v.tag, ...(v.otherTags ?? [])].map((t) => [t, v.version] as const)));
    // a skipped tag's text may spell a listed version (PEP 440 `1.0` for `1.0.0`): the listed one wins
    const byKey = new Map([...versions.filter((v) => v.skip), ...versions.filter((v) => !v.skip)].map((v) => [this.versionKey(v.version), v.version]));
    const find = (v: string | undefined) => (v === undefined ? undefined : (byKey.get(this.versionKey(v)) ?? (this.format === 'go' ? byKey.get(`${v}+incompatible`) : undefined)));
    const unmatched: string[] = [];
    const keyOf = new Map<string, string>();
    for (const [key, override] of Object.entries(this.config.versions)) {
      const version = byTag.get(key) ?? find(key) ?? find(this.spell(key));
      if (version === undefined) unmatched.push(key);
      else {
        // two keys for one version (`1.0` and `v1.0.0`): the later replaced the earlier, a `skip` with it
        const earlier = keyOf.get(version);
        if (earlier !== undefined) {
          throw new MigrateError('ECONFIG', `source "${this.id}": versions ${JSON.stringify(printable(earlier))} and ${JSON.stringify(printable(key))} in the job both name version ${printable(version)}`, {
            hint: 'keep one entry for the version, with everything it needs (skip, commit, command)',
          });
        }
        keyOf.set(version, key);
        out.set(version, override);
      }
    }
    if (unmatched.length) {
      throw new MigrateError('ECONFIG', `source "${this.id}": versions ${unmatched.map((k) => JSON.stringify(printable(k))).join(', ')} in the job match no tag of ${this.url}`, {
        hint: 'key versions: by the version (1.2.0) or the tag name (v1.2.0); remove the entry if its tag is gone',
      });
    }
    return out;
  }

  /** A version as this format spells it, or undefined when it is none. */
  private spell(text: string): string | undefined {
    switch (this.format) {
      case 'pypi':
        return normalizePep440(text) ?? undefined;
      case 'npm':
        return semver.valid(text) ?? undefined;
      case 'go':
        return text.startsWith('v') ? text : `v${text}`;
      default:
        return undefined;
    }
  }

  async *packageNames(): AsyncIterable<NameResult> {
    if (!this.versions) throw new MigrateError('ESOURCE', `source "${this.id}": not fetched yet`);
    // no tag matches the pattern: a `tags` that is not the repository's far more often than a package never released
    if (this.versions.length === 0) {
      const { count, sample } = this.unmatched;
      const spec = this.tagSpec();
      yield {
        ok: false,
        name: this.config.package ?? this.url,
        error: new MigrateError('ESOURCEEMPTY', `source "${this.id}": no tag of ${this.url} matches ${JSON.stringify(spec)} (${count === 0 ? 'the repository has no tags' : `the repository has ${count} tag(s), such as ${sample.map((t) => printable(t)).join(', ')}`}): nothing to migrate`, {
          subject: this.config.package ?? this.id,
          hint: count === 0 ? 'push the release tags, or disable the source (enabled: false) until there is a release' : `set tags on source "${this.id}" to the pattern its release tags follow (e.g. "release-{version}", "billing/v{version}")`,
        }),
      };
      return;
    }
    for (const name of new Set(this.versions.map((v) => v.name))) yield { ok: true, name };
  }

  async listing(name: string): Promise<PackageListing> {
    const versions: VersionListing[] = (this.versions ?? [])
      .filter((v) => v.name === name)
      .map((v) => {
        const override = this.overrides.get(v.version);
        const skip = v.skip ?? (override?.skip ? (override.skip === true ? 'the job says to skip it' : override.skip) : undefined);
        return {
          version: v.version,
          artifactUrl: `${this.url}#${v.tag}`,
          publishedAt: v.committedAt,
          ref: v.tag,
          commit: v.commit,
          ...(override?.commit ? { acceptedCommit: override.commit } : {}),
          ...(skip ? { skip } : {}),
          ...(v.problem ? { problem: v.problem } : {}),
          recipe: this.recipeOf(v.version),
        };
      });
    if (this.format === 'pypi') shadowingLocalVersions(versions, name);
    versions.sort((a, b) => (a.publishedAt ?? '').localeCompare(b.publishedAt ?? '') || a.version.localeCompare(b.version));
    return { format: this.format === 'go' ? 'generic' : this.format, name, versions, distTags: this.distTags(versions) };
  }

  /**
   * What decides a version's built bytes besides its commit: the package's folder and, where
   * the format runs one, the build command (the version's override first) and interpreter.
   * Recorded with the files; a version built but not on the target yet is built again when
   * the job changes it (the fix an operator makes after reading a plan must take effect).
   */
  private recipeOf(version: string): string {
    const command = this.overrides.get(version)?.command ?? this.config.build.command ?? null;
    return JSON.stringify({
      directory: this.subdirs.get(version) ?? this.config.directory,
      ...(this.format === 'go' ? {} : { command }),
      ...(this.format === 'pypi' ? { python: this.config.build.python } : {}),
    });
  }

  /** npm from git has no dist-tags: `latest` is the highest release, as a registry would have it after publishing them in order. */
  private distTags(versions: VersionListing[]): Record<string, string> {
    if (this.format !== 'npm') return {};
    const releases = versions.filter((v) => !v.skip && !v.problem && semver.valid(v.version) && !semver.prerelease(v.version)).map((v) => v.version);
    const latest = releases.sort(semver.rcompare)[0];
    return latest ? { latest } : {};
  }

  open(): Promise<Readable> {
    return Promise.reject(new MigrateError('ESOURCE', `source "${this.id}" builds versions from git; it has nothing to download`));
  }

  /**
   * A clean checkout of `commit` in a new folder: a clone sharing the mirror's
   * objects, so a build cannot touch the mirror and several can run at once.
   */
  async checkout(version: string, commit: string, signal?: AbortSignal): Promise<Checkout> {
    mkdirSync(this.tmpDir, { recursive: true });
    const dir = join(this.tmpDir, `checkout-${this.id}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      await this.access.checkout(this.mirror, dir, commit, signal);
      const seconds = (await this.access.localGit(dir, signal).raw(['show', '-s', '--format=%ct', commit])).trim();
      const override = this.overrides.get(version);
      return {
        dir,
        subdir: this.subdirs.get(version) ?? this.config.directory,
        commit,
        committedAt: new Date(Number(seconds) * 1000),
        build: {
          command: override?.command ?? this.config.build.command,
          python: this.config.build.python,
          timeoutMs: this.config.build.timeoutSeconds * 1000,
          network: this.config.build.network,
        },
        recipe: this.recipeOf(version),
        uses: this.uses(),
        cleanup,
      };
    } catch (e) {
      cleanup();
      // the mirror deleted under the run: git says "no such repository" or "bad object", which is not the source's doing
      const subject = `${version} (${commit.slice(0, 12)})`;
      if (signal?.aborted) throw this.classify(e, 'checkout', subject);
      throw vanishedError(e, subject, this.uses()) ?? this.damaged(e, 'checkout', subject) ?? this.classify(e, 'checkout', subject);
    }
  }

  close(): void {
    this.access.close();
  }

  /** A local git's failure for the mirror's objects damaged on disk (ELOCAL naming it), else undefined. */
  private damaged(thrown: unknown, what: string, subject = this.id): MigrateError | undefined {
    return damagedMirrorError(thrown, this.mirror, `${subject}: git ${what}`, subject, `the mirror of source "${this.id}"`);
  }

  /** What a checkout reads besides its own folder: the mirror, whose objects it shares (clone --shared). */
  private uses(): { path: string; what: string }[] {
    return [{ path: this.mirror, what: `the mirror of source "${this.id}"` }];
  }

  /** Every tag the pattern matches, with its commit, its time and the package it builds (one entry a tag). */
  private async readTags(signal?: AbortSignal): Promise<TaggedVersion[]> {
    const git = this.access.localGit(this.mirror, signal);
    const pattern = this.pattern();
    const tags = await this.peelTags(git, signal);
    const matched = tags.flatMap((t) => {
      const m = pattern.exec(t.tag);
      return m ? [{ ...t, captured: m[1]! }] : [];
    });
    // packed-refs hold a tag name of any length (git's protocol: up to 64 KiB): what the pattern
    // captures is a version, and none is longer than MAX_VERSION_KEY (CodeArtifact holds 255).
    // A longer one is skipped under a key of its first characters and a hash, nothing of it read or
    // kept whole: PEP 440 and Go accept a version of 40,000 characters, built and stored per tag
    const tooLong = (t: { captured: string }) => t.captured.length > MAX_VERSION_KEY;
    this.unmatched = { count: tags.length, sample: tags.slice(-3).map((t) => t.tag.slice(0, 100)) };
    // the one file each format reads at every tagged commit, and Go's vN/go.mod at vN tags (N ≥ 2), all in one git call
    const file = this.format === 'go' ? 'go.mod' : this.format === 'npm' && !this.config.package ? 'package.json' : undefined;
    const dir = this.config.directory ? `${this.config.directory}/` : '';
    const specs = new Set<string>();
    for (const t of matched) {
      if (t.type !== 'commit' || !file || tooLong(t)) continue;
      specs.add(`${t.commit}:${dir}${file}`);
      const major = this.format === 'go' ? majorDir(this.goVersion(t.captured)) : undefined;
      if (major) specs.add(`${t.commit}:${dir}${major}/go.mod`);
    }
    const read = await this.access.readBlobs(this.mirror, [...specs], MAX_TAGGED_FILE, (bytes) => declaredName(file!, bytes), signal).catch((e: unknown) => {
      throw this.damaged(e instanceof MigrateError ? e.cause : e, 'read files at tags') ?? e;
    });
    const blobs = new Map([...specs].map((spec, i) => [spec, read[i]]));
    return matched.map((t) => {
      if (tooLong(t)) {
        return {
          tag: boundedKey(t.tag),
          commit: t.commit,
          version: boundedKey(printable(t.captured)),
          name: this.config.package ?? this.id,
          skip: `tag ${shownKey(t.tag)} holds a version of ${t.captured.length.toLocaleString('en-US')} characters, longer than any (at most ${MAX_VERSION_KEY} are read)`,
        };
      }
      const d = this.describe(t.tag, t.commit, t.captured, t.type, (path) => blobs.get(`${t.commit}:${dir}${path}`));
      // a time no date can hold cannot be recorded, nor stamped on the built files: the version is refused, not the listing
      const goTime = this.format === 'go' && !d.skip && t.committedAt !== undefined ? goTimeProblem(new Date(t.committedAt)) : undefined;
      const timeProblem =
        t.badTime !== undefined && !d.skip
          ? `commit ${t.commit.slice(0, 12)} of tag ${printable(t.tag)} is dated ${t.badTime} seconds after 1970, past any date (year 275760 at most)`
          : goTime
            ? `commit ${t.commit.slice(0, 12)} of tag ${printable(t.tag)}: its time ${goTime}, so no go command could use this version`
            : undefined;
      // a version go, npm or pip takes but CodeArtifact does not (real AWS refuses it, after part of it may have landed): never built nor sent
      const unheld = d.skip ? undefined : versionTooLong(this.format, d.version);
      const lengthProblem = unheld ? `tag ${shownKey(t.tag)} gives a ${unheld}` : undefined;
      const problem = [d.problem, lengthProblem, timeProblem].filter(Boolean).join('; ');
      return { ...d, ...(t.committedAt ? { committedAt: t.committedAt } : {}), ...(problem ? { problem } : {}) };
    });
  }

  /**
   * Every tag with the object it names once peeled (an annotated tag is followed to what
   * it tags), that object's type and, for a commit, its committer time; sorted by name.
   * Fields only, never an object's contents: the repository decides what a tag points at,
   * and a tag on a blob or a tree is a tag like any other (`git show` would print that
   * blob, whose lines could pass for other commits' times).
   */
  private async peelTags(git: SimpleGit, signal?: AbortSignal): Promise<{ tag: string; commit: string; type: string; committedAt?: string; badTime?: string }[]> {
    const out = await git.raw(['for-each-ref', '--format=%(objecttype) %(objectname) %(committerdate:unix) %(*objecttype) %(*objectname) %(*committerdate:unix) %(refname)', 'refs/tags']).catch((e: unknown) => {
      throw this.damaged(e, 'list tags') ?? this.classify(e, 'list tags');
    });
    const tags: { tag: string; commit: string; type: string; committedAt?: string; badTime?: string }[] = [];
    const fields = out.split('\n').map((line) => line.split(' '));
    // a tag of a tag (of a tag…): git warns when one is made; followed to the end for all of them in two git calls, not three each
    const nested = await this.peelNested([...new Set(fields.flatMap((f) => (f.length === 7 && f[0] === 'tag' && f[3] === 'tag' ? [f[4]!] : [])))], signal).catch((e: unknown) =>
      Promise.reject(this.damaged(e, 'list tags') ?? this.classify(e, 'list tags')),
    );
    for (const f of fields) {
      // seven fields, some empty (a lightweight tag has no peeled object); a ref name has no spaces (git check-ref-format)
      if (f.length !== 7 || !f[6]!.startsWith('refs/tags/')) continue;
      let [type, sha, time] = f[0] === 'tag' && f[3] ? [f[3], f[4]!, f[5]!] : [f[0]!, f[1]!, f[2]!];
      if (type === 'tag') ({ type, sha, time } = nested.get(sha)!);
      // git writes any committer time a commit holds; a Date holds ±8.64e15 ms (year 275760), and past it
      // toISOString throws: one commit of a hostile repository would fail the listing of every tag
      const date = type === 'commit' && /^\d+$/.test(time) ? new Date(Number(time) * 1000) : undefined;
      const when = date === undefined ? {} : Number.isNaN(date.getTime()) ? { badTime: time.slice(0, 40) } : { committedAt: date.toISOString() };
      tags.push({ tag: f[6]!.slice('refs/tags/'.length), commit: sha, type, ...when });
    }
    return tags.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  }

  /** What each chain of annotated tags ends at (by the sha of a tag in it): its object, that object's type and, for a commit, its committer time. */
  private async peelNested(shas: readonly string[], signal?: AbortSignal): Promise<Map<string, { type: string; sha: string; time: string }>> {
    const out = new Map<string, { type: string; sha: string; time: string }>();
    if (shas.length === 0) return out;
    // one line each, in order: "<oid> <type>", or "<sha>^{} missing" (the mirror's objects damaged)
    const peeled = (await this.access.localWithInput(this.mirror, ['cat-file', '--batch-check=%(objectname) %(objecttype)'], shas.map((s) => `${s}^{}`), signal)).split('\n');
    const ends = shas.map((sha, i) => {
      const m = /^([0-9a-f]{40,64}) (\w+)$/.exec(peeled[i] ?? '');
      if (!m) throw new Error(`git cat-file: tag ${sha} peels to nothing: ${peeled[i] ?? '(no answer)'}`);
      return { sha: m[1]!, type: m[2]! };
    });
    const commits = [...new Set(ends.filter((e) => e.type === 'commit').map((e) => e.sha))];
    const times = new Map<string, string>();
    if (commits.length) {
      const log = await this.access.localWithInput(this.mirror, ['log', '--no-walk=unsorted', '--stdin', '--format=%H %ct'], commits, signal);
      for (const line of log.split('\n')) {
        const [sha, time] = line.split(' ');
        if (sha && time !== undefined) times.set(sha, time);
      }
    }
    shas.forEach((sha, i) => out.set(sha, { ...ends[i]!, time: ends[i]!.type === 'commit' ? (times.get(ends[i]!.sha) ?? '') : '' }));
    return out;
  }

  /** Which tags are versions: the job's `tags`, else `v{version}` (Go in a subdirectory: `<dir>/v{version}`). */
  private tagSpec(): string {
    return tagSpecOf(this.config);
  }

  /** The tag spec as a regular expression capturing the version. */
  private pattern(): RegExp {
    const [before, after] = this.tagSpec().split('{version}') as [string, string];
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // PEP 440 reads a leading `V` as `v`: under `v{version}` a `V3.0` is 3.0, as it is under `{version}` (pip's
    // `==3.0` takes it either way); left unmatched it was a release never migrated, and never reported
    if (this.format === 'pypi' && before.endsWith('v')) return new RegExp(`^${esc(before.slice(0, -1))}[vV](.+)${esc(after)}$`);
    return new RegExp(`^${esc(before)}(.+)${esc(after)}$`);
  }

  /**
   * A Go tag's version as go reads it: the tag less the module's `<dir>/`, so the pattern's
   * own `v` (`v{version}`) is part of it and the captured text must not bring another.
   */
  private goVersion(captured: string): string {
    return this.tagSpec().split('{version}')[0]!.endsWith('v') ? `v${captured}` : captured;
  }

  /** What a matching tag is: its version in the format's spelling and the package it builds, or why it is skipped. */
  private describe(tag: string, commit: string, captured: string, type: string, at: FileAt): TaggedVersion {
    // a skip is listed under the text captured (`v.1` as `.1`); a Go one that could pass for
    // a version (`vv1.1.0` as `v1.1.0`) under the whole text go reads
    const text = this.format === 'go' && captured.startsWith('v') ? this.goVersion(captured) : captured;
    // the whole text (at most MAX_VERSION_KEY characters, see readTags): two tags alike in their first 100 are two rows
    const shown = printable(text);
    const base = { tag, commit, version: shown, name: this.config.package ?? this.id };
    if (type !== 'commit') return { ...base, skip: `tag ${printable(tag)} points at a ${printable(type)}, not a commit: there is nothing to check out` };
    switch (this.format) {
      case 'pypi': {
        const v = normalizePep440(captured);
        const exactly = /\d{16,}/.test(captured) ? ' this tool reads exactly (it holds a number of 16 digits or more)' : '';
        return v ? { ...base, version: v } : { ...base, skip: `"${shown}" (tag ${printable(tag)}) is not a PEP 440 version${exactly}` };
      }
      case 'npm': {
        const v = semver.valid(captured);
        if (!v) return { ...base, skip: `"${shown}" (tag ${printable(tag)}) is not a semver version` };
        const file = this.config.package ? undefined : at('package.json');
        if (typeof file === 'object' && file.refused) return { ...base, version: v, problem: `tag ${tag}: package.json ${file.refused}` };
        const declared = typeof file === 'object' && file.declares !== '' ? file.declares : undefined;
        const name = this.config.package ?? declared;
        if (!name) return { ...base, version: v, problem: `tag ${tag}: no package.json with a name in ${this.config.directory || 'the repository root'}; set package on the source` };
        return { ...base, version: v, name };
      }
      case 'go': {
        const v = this.goVersion(captured);
        // semver.Canonical drops build metadata, so go never lists such a tag; +incompatible is go's to add (below)
        if (v.includes('+')) return { ...base, skip: `tag ${printable(tag)} has build metadata (${printable(v.slice(v.indexOf('+'))).slice(0, 100)}): go reads no tag with a + as a version` };
        if (!isCanonicalVersion(v)) return { ...base, skip: `"${printable(v).slice(0, 100)}" (tag ${printable(tag)}) is not a canonical Go version (vMAJOR.MINOR.PATCH[-pre], the v in the tag): go ignores the tag` };
        // go lists no such tag (codeRepo.Versions) and resolves the version to the commit it names, not to the tag
        if (isPseudoVersion(v)) return { ...base, skip: `"${printable(v).slice(0, 100)}" (tag ${printable(tag)}) is a pseudo-version: go ignores a tag spelled so, and reads the version as the commit it names` };
        const file = at('go.mod');
        if (file === 'too-large') return { ...base, version: v, problem: `tag ${tag}: go.mod is larger than Go accepts (${MAX_TAGGED_FILE} bytes)` };
        const mod = file;
        if (mod?.refused) return { ...base, version: v, problem: `tag ${tag}: go.mod ${mod.refused}` };
        const path = mod ? mod.declares : this.config.package;
        const inMajorDir = this.majorDirModule(tag, v, mod ? path : undefined, at);
        if (inMajorDir) return { ...base, version: v, ...inMajorDir };
        // go refuses the version ("go.mod is missing module path", coderepo.go findDir), whatever the job names (a vN/go.mod claiming /vN is go's next choice: above)
        if (mod && mod.declares === '') return { ...base, version: v, problem: `tag ${tag}: ${this.config.directory ? `${this.config.directory}/` : ''}go.mod has no module line: go refuses this version ("missing module path"); fix go.mod at the source, or skip this version` };
        // a go.mod naming another module than the job's (or the job's with its /vN) is not this module
        if (mod && path && this.config.package && path !== this.config.package && splitPathVersion(path).prefix !== this.config.package) {
          return { ...base, version: v, problem: `tag ${tag}: go.mod declares module ${path}, the job says ${this.config.package}` };
        }
        if (!path) return { ...base, version: v, problem: `tag ${tag} has no go.mod in ${this.config.directory || 'the repository root'}: set package (the module path) on the source` };
        // v2+ without a /vN path: +incompatible when there is no go.mod (what go would call it), else Go ignores the tag
        const { pathMajor } = splitPathVersion(path);
        if (checkPathMajor(v, pathMajor)) {
          if (!mod && pathMajor === '' && !checkPathMajor(`${v}+incompatible`, '')) return { ...base, version: `${v}+incompatible`, name: path };
          return { ...base, version: v, name: path, skip: `tag ${tag} is ${semverMajor(v)}, but its module path ${path} ${pathMajor ? `ends in ${pathMajor}` : `has no /${semverMajor(v)} suffix (nor does a ${semverMajor(v)}/go.mod declare ${path}/${semverMajor(v)})`}: Go ignores it` };
        }
        return { ...base, version: v, name: path };
      }
      default: {
        const never: never = this.format;
        throw new Error(`unknown format ${String(never)}`);
      }
    }
  }

  /**
   * findDir in cmd/go's coderepo.go: for a vN tag (N ≥ 2) whose go.mod does not claim /vN, go
   * looks in `vN/`; a vN/go.mod there that claims /vN is the module `<path>/vN` at this tag,
   * built from that folder. Undefined when there is none (the tag is the root's, as before).
   * `rootPath` is the root go.mod's module path, if it has one.
   */
  private majorDirModule(tag: string, v: string, rootPath: string | undefined, at: FileAt): Pick<TaggedVersion, 'name' | 'subdir' | 'problem'> | undefined {
    const major = majorDir(v);
    const root = rootPath === undefined ? undefined : splitPathVersion(rootPath);
    // a root claiming /vN is go's first choice (both claiming it is the builder's EBADSOURCE); gopkg.in has no vN/ folders
    if (!major || root?.pathMajor === `/${major}` || root?.pathMajor.startsWith('.')) return undefined;
    const file = at(`${major}/go.mod`);
    const path = typeof file === 'object' && !file.refused ? file.declares : undefined;
    if (!path || splitPathVersion(path).pathMajor !== `/${major}`) return undefined;
    const subdir = this.config.directory ? `${this.config.directory}/${major}` : major;
    // go checks only the /vN (a fork's go.mod): under another path it is useless to go get, and not this module
    const expected = this.config.package ?? root?.prefix;
    if (expected !== undefined && path !== expected && splitPathVersion(path).prefix !== expected) {
      const name = `${splitPathVersion(expected).prefix}/${major}`;
      return { name, subdir, problem: `tag ${tag}: ${subdir}/go.mod declares module ${path}, not ${name}` };
    }
    return { name: path, subdir };
  }

  /** git's complaints as coded errors (see git-access.ts). */
  private classify(thrown: unknown, what: string, subject = this.id): MigrateError {
    return this.access.classify(thrown, `${subject}: git ${what} from ${this.url}`, subject, { notFound: 'check the url of the source in the job file' });
  }
}

/** `v2` for a Go version v2.x.y and up (the folder a v2+ module may live in), else undefined. */
function majorDir(v: string): string | undefined {
  if (!isCanonicalVersion(v) || v.includes('+') || isPseudoVersion(v)) return undefined;
  const major = semverMajor(v);
  return major === 'v0' || major === 'v1' ? undefined : major;
}

/**
 * The name a go.mod or package.json read at a tag declares, kept instead of its bytes (see
 * readBlobs). The name becomes a package in the state and every report: one go could not fetch,
 * npm not publish or CodeArtifact not hold names none, and is kept only quoted short and escaped
 * (the builders would refuse it). Both are copies: a slice would keep the whole file alive.
 */
function declaredName(file: 'go.mod' | 'package.json', bytes: Buffer): Declared {
  if (file === 'go.mod') {
    const path = modulePathFromGoMod(bytes);
    const bad = path === '' ? undefined : badModulePath(path);
    return bad ? { declares: '', refused: detached(`declares module ${shownKey(path)}, ${bad}`) } : { declares: detached(path) };
  }
  const name = npmName(bytes) ?? '';
  if (name !== '' && !isNpmName(name)) return { declares: '', refused: detached(`names ${shownKey(name)}, which is not an npm package name`) };
  return { declares: detached(name) };
}

function npmName(packageJson: Buffer): string | undefined {
  try {
    // a byte order mark first, as npm reads it (it strips one)
    const doc = JSON.parse(packageJson.toString('utf8').replace(/^\uFEFF/, '')) as { name?: unknown };
    return typeof doc.name === 'string' && doc.name.length > 0 ? doc.name : undefined;
  } catch {
    return undefined;
  }
}

/** Which tags of a git source are versions: its `tags`, else `v{version}` (Go in a subdirectory: `<dir>/v{version}`). */
export function tagSpecOf(config: Pick<GitSourceConfig, 'format' | 'directory' | 'tags'>): string {
  const dir = config.directory;
  return config.tags ?? (config.format === 'go' && dir ? `${dir}/v{version}` : 'v{version}');
}

/**
 * A Go source whose tags are not the ones go reads: go takes module `M@vX` of the module in
 * folder D from the tag `D/vX` only (the root's: `vX`; golang.org/x/mod, cmd/go's modfetch),
 * so any other pattern (`v{version}` for a module in billing/, `release-v{version}`) builds
 * versions from tags go never reads, at commits that may not be the module's release: the h1:
 * published is then not what consumers' go.sum recorded. It may be deliberate (a repository
 * tagged some other way whose consumers fetch only through the target), so it is a warning.
 * `<dir>/{version}` reads the same tags (the text must begin with v), so it is no mismatch.
 */
export function goTagPatternMismatch(config: Pick<GitSourceConfig, 'id' | 'format' | 'directory' | 'tags'>): { source: string; pattern: string; goReads: string } | undefined {
  if (config.format !== 'go') return undefined;
  const prefix = config.directory ? `${config.directory}/` : '';
  const pattern = tagSpecOf(config);
  if (pattern === `${prefix}v{version}` || pattern === `${prefix}{version}`) return undefined;
  return { source: config.id, pattern, goReads: `${prefix}v{version}` };
}

/** goTagPatternMismatch of every enabled git source of the job (run's summary and status say them alike). */
export function goTagPatternMismatches(sources: JobConfig['sources']): { source: string; pattern: string; goReads: string }[] {
  return sources.flatMap((s) => (s.kind === 'git' && s.enabled ? (goTagPatternMismatch(s) ?? []) : []));
}

/**
 * A local version (`1.0+abc`) beside the release it labels (`1.0`, or `1.0.0`): `pip install
 * <name>==1.0` matches a file of `1.0+abc` too and ranks it above 1.0's own (PEP 440: a specifier
 * without a local label ignores the candidate's), so once both are on the index everyone who pins
 * the release gets the local build. PyPI refuses local versions for this reason; CodeArtifact
 * takes them. The local one is a problem naming its tag, unless one of the two is left out.
 * https://packaging.python.org/en/latest/specifications/version-specifiers/#version-matching
 */
function shadowingLocalVersions(versions: VersionListing[], name: string): void {
  const releases = new Map(versions.filter((v) => !v.skip && !v.version.includes('+')).map((v) => [pep440Key(v.version) ?? v.version, v.version]));
  for (const v of versions) {
    if (v.skip || !v.version.includes('+')) continue;
    const release = releases.get(pep440Key(v.version.slice(0, v.version.indexOf('+'))) ?? '');
    if (release === undefined) continue;
    const why = `tag ${printable(v.ref ?? v.version)} gives the local version ${v.version}, which \`pip install ${name}==${release}\` would install instead of ${release} itself (a pin without a local label matches any, and ranks ${v.version} above ${release}): skip one of the two in the job (versions: {"${v.version}": {skip: …}}) or delete the tag`;
    v.problem = v.problem ? `${v.problem}; ${why}` : why;
  }
}

/**
 * Two tags can give one version (`v1.0rc1` and `v1.0-rc1`, `v1.0` and `v1.0.0`: equal under
 * PEP 440, so `pip install ==1.0` takes either; `1.2.0` and `v1.2.0` for npm with a
 * `{version}` pattern). At the same commit they are one version (the first tag by name is
 * kept). At different commits nobody can say which is the release: the version is a problem
 * naming all of them, never one picked in silence. `key` is one string for equal versions.
 * A skipped tag listed under a version that is listed too would share its row: it is listed
 * as `tag <name>` instead (no version holds a space, and no tag name does).
 */
function oneTagPerVersion(tags: readonly TaggedVersion[], key: (version: string) => string, recorded: (name: string) => readonly string[] = () => []): TaggedVersion[] {
  const groups = new Map<string, TaggedVersion[]>();
  for (const t of tags) {
    if (t.skip) continue;
    const k = `${t.name}\0${key(t.version)}`;
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  const out: TaggedVersion[] = [];
  for (const group of groups.values()) {
    // the spelling the state already holds, when one of them is: a tag added beside the
    // release's (`v1.0` beside `v1.0.0`), or the tag it was recorded under deleted, leaves
    // the version as it was recorded, built from whichever of its tags is left
    const known = recorded(group[0]!.name).filter((v) => key(v) === key(group[0]!.version));
    const kept = known.find((v) => group.some((t) => t.version === v)) ?? known[0];
    const tagged = group.find((t) => t.version === kept) ?? group[0]!;
    const first = kept === undefined ? tagged : { ...tagged, version: kept };
    const commits = new Set(group.map((t) => t.commit));
    const otherTags = group.filter((t) => t !== tagged).map((t) => t.tag);
    const also = otherTags.length ? { otherTags } : {};
    if (commits.size === 1) out.push({ ...first, ...also });
    else {
      const named = group.map((t) => `${printable(t.tag)} (${t.commit.slice(0, 12)})`).join(', ');
      const spellings = [...new Set(group.map((t) => t.version))];
      const equal = spellings.length > 1 ? ` (${spellings.join(' = ')})` : '';
      out.push({ ...first, ...also, problem: `tags ${named} all give version ${first.version}${equal} at different commits: delete or rename all but the release's tag` });
    }
  }
  const listed = new Set(out.map((t) => `${t.name}\0${t.version}`));
  const skipped = tags.filter((t) => t.skip).map((t) => (listed.has(`${t.name}\0${t.version}`) ? { ...t, version: `tag ${printable(t.tag)}` } : t));
  return [...skipped, ...out];
}
