/**
 * Forward-only numbered migrations. Each runs in its own transaction and bumps
 * `PRAGMA user_version`; a database newer than this code is refused rather than
 * guessed at (graphile-worker does the same).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: items, their events, per-package facts, runs.
  `
  CREATE TABLE items (
    id               INTEGER PRIMARY KEY,
    source_id        TEXT NOT NULL,
    format           TEXT NOT NULL,
    package          TEXT NOT NULL,
    version          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error_code  TEXT,
    last_error       TEXT,
    -- what the source declares
    declared_integrity TEXT,
    declared_shasum  TEXT,
    integrity_weak   INTEGER NOT NULL DEFAULT 0,
    -- what we measured (hex), and where the bytes are
    sha512           TEXT,
    sha256           TEXT,
    sha1             TEXT,
    md5              TEXT,
    size             INTEGER,
    -- what the target holds when it differs from ours (conflicts)
    target_sha512    TEXT,
    -- provenance
    registry_url     TEXT NOT NULL,
    artifact_url     TEXT NOT NULL,
    source_published_at TEXT,
    deprecated       TEXT,
    ordinal          INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (source_id, format, package, version)
  );
  CREATE INDEX items_state ON items (state);
  CREATE INDEX items_package ON items (format, package);

  CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES items(id),
    run_id     INTEGER,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    code       TEXT,
    detail     TEXT,
    at         TEXT NOT NULL
  );
  CREATE INDEX events_item ON events (item_id);
  -- the event log is append-only
  CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
  CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

  CREATE TABLE packages (
    source_id  TEXT NOT NULL,
    format     TEXT NOT NULL,
    package    TEXT NOT NULL,
    dist_tags  TEXT NOT NULL DEFAULT '{}',
    -- 'pending' until the target's dist-tags and deprecations match the source's
    meta_state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    -- why the source could not list this package on the last run (NULL when it could)
    list_error_code TEXT,
    list_error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source_id, format, package)
  );

  CREATE TABLE runs (
    id         INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at   TEXT,
    dry_run    INTEGER NOT NULL,
    outcome    TEXT,
    summary    TEXT
  );
  `,
  // 2: reconcile with the source's current listing, and the indexes that keep
  //    per-package lookups cheap at tens of thousands of packages.
  `
  -- the run that last saw this version in its source's listing (NULL: listed before this column existed)
  ALTER TABLE items ADD COLUMN last_listed_run INTEGER;
  -- when the source stopped listing it (unpublished, or the package vanished); NULL while listed
  ALTER TABLE items ADD COLUMN removed_at TEXT;
  -- why the listing itself makes this version unusable (not a valid version, ...); NULL when fine
  ALTER TABLE items ADD COLUMN source_problem TEXT;
  CREATE INDEX packages_name ON packages (format, package);
  CREATE INDEX events_code ON events (code);
  CREATE INDEX items_source_package ON items (source_id, format, package);
  `,
  // 3: versions with several files (PyPI sdist + wheels, Go .zip/.mod/.info), each
  //    upload recorded on its own; git provenance; versions skipped on purpose.
  `
  CREATE TABLE assets (
    id        INTEGER PRIMARY KEY,
    item_id   INTEGER NOT NULL REFERENCES items(id),
    -- the target's asset name: package.tgz, acme_billing-1.2.0-py3-none-any.whl, v1.2.0.zip
    name      TEXT NOT NULL,
    ordinal   INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    md5       TEXT NOT NULL,
    sha1      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    sha512    TEXT NOT NULL,
    -- what the format needs to upload it (JSON): PyPI filetype/pyversion/metadata, Go h1
    facts     TEXT NOT NULL DEFAULT '{}',
    -- stored (in the blob store) -> uploading (request about to be sent) -> uploaded
    state     TEXT NOT NULL DEFAULT 'stored',
    attempts  INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    UNIQUE (item_id, name)
  );
  CREATE INDEX assets_item ON assets (item_id);
  -- every npm version fetched by an earlier release holds its one asset, package.tgz
  INSERT INTO assets (item_id, name, ordinal, size, md5, sha1, sha256, sha512, state, attempts, updated_at)
    SELECT id, 'package.tgz', 0, size, md5, sha1, sha256, sha512,
           CASE WHEN state IN ('published', 'verified', 'present-identical') THEN 'uploaded'
                WHEN state = 'publishing' THEN 'uploading' ELSE 'stored' END,
           CASE WHEN state IN ('publishing', 'published', 'verified') THEN attempts ELSE 0 END,
           updated_at
    FROM items WHERE sha512 IS NOT NULL AND size IS NOT NULL AND sha256 IS NOT NULL AND sha1 IS NOT NULL AND md5 IS NOT NULL;
  -- git sources: the tag and the commit it pointed at when first listed
  ALTER TABLE items ADD COLUMN source_ref TEXT;
  ALTER TABLE items ADD COLUMN source_commit TEXT;
  -- format facts about the whole version (JSON): Go module path, h1 of zip and go.mod
  ALTER TABLE items ADD COLUMN facts TEXT;
  `,
  // 4: the provenance ledger (state/ledger.ts): a hash chain, append-only, written in the
  //    same transaction as the state change each entry records.
  `
  CREATE TABLE ledger (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    -- the entry as canonical JSON: exactly what was hashed
    entry     TEXT NOT NULL
  );
  CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
  CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
  `,
  // 5: warming the store repositories from lockfiles (src/warm/): one row per thing a
  //    lockfile pins, so a rerun requests only what is not warmed yet, and the warm runs.
  `
  CREATE TABLE warm_entries (
    id              INTEGER PRIMARY KEY,
    -- npm | pypi | go
    ecosystem       TEXT NOT NULL,
    -- the registry name (an npm alias: the real package), PyPI PEP 503-normalised
    name            TEXT NOT NULL,
    -- as the lockfile pins it ('' when it pins none: a link, a workspace)
    version         TEXT NOT NULL,
    -- registry, or what else it is: git, file, link, workspace, patch, url, bundled
    kind            TEXT NOT NULL,
    -- an internal name: never requested through a store, checked in the internal repository
    internal        INTEGER NOT NULL DEFAULT 0,
    -- pending -> requested (before the artifact request) -> fetched (bytes checked) -> done; failed (retried)
    state           TEXT NOT NULL,
    -- warmed, already-cached, blocked, missing-upstream, integrity-mismatch, non-registry, pending,
    -- internal-present, internal-missing, no-store
    outcome         TEXT,
    -- the repository it was requested through or checked in
    repository      TEXT,
    -- JSON: what the lockfile pins (npm integrity, PyPI hashes)
    expected        TEXT,
    -- JSON: per file, the hashes of what the store served or holds
    actual          TEXT,
    -- 1: the bytes were checked against the lockfile; 0: the lockfile gives nothing to check them with
    checked         INTEGER,
    detail          TEXT,
    -- JSON: the lockfiles that name it (path, format, repository), as the last warm read them
    files           TEXT NOT NULL DEFAULT '[]',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error_code TEXT,
    last_error      TEXT,
    -- the warm run that last found it in a lockfile
    last_seen_run   INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    requested_at    TEXT,
    decided_at      TEXT,
    UNIQUE (ecosystem, name, version, kind)
  );
  CREATE INDEX warm_entries_state ON warm_entries (state);
  CREATE INDEX warm_entries_seen ON warm_entries (last_seen_run);
  CREATE TABLE warm_runs (
    id         INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at   TEXT,
    outcome    TEXT,
    summary    TEXT
  );
  `,
  // 6: the target the state records work against (state/target.ts): its verified rows say
  //    nothing about another domain or repository, so a run against another one is refused
  //    until told to move (--retarget). A database from before has none: its next run's.
  `
  CREATE TABLE target (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    region       TEXT NOT NULL,
    domain_owner TEXT NOT NULL,
    domain       TEXT NOT NULL,
    -- JSON: format -> its internal repository (every format a run of the job has named)
    repositories TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
  );
  `,
  // 7: each source of the job as its last run named it, by id: a source whose id was renamed
  //    in the job file is told from a new one by it (engine/job-edits.ts), a git source that
  //    takes its package name from its repository too. A database from before has none: its
  //    next run records its sources.
  `
  CREATE TABLE sources (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    url         TEXT NOT NULL,
    -- JSON: what tells two sources of one URL apart (git: format, directory, package when set)
    shape       TEXT NOT NULL,
    recorded_at TEXT NOT NULL
  );
  `,
  // 8: which of a version's files a conflict is about (a PyPI wheel refused after its sdist went up):
  //    target_sha512 is that file's on the target, so "ours" is that file's too, not the version's
  //    first file's. A conflict recorded before has none: it is taken as the first file's.
  `
  ALTER TABLE items ADD COLUMN target_asset TEXT;
  `,
  // 9: the job the state belongs to (its file is named after it): a link or copy of another
  //    job's state under this job's name is refused, not written into (StateDb.open). A
  //    database from before has none: its next open records the name its file has.
  `
  CREATE TABLE job (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT NOT NULL,
    recorded_at TEXT NOT NULL
  );
  `,
  // 10: what the target reported for a version's files when it was last settled, kept with the row:
  //    a plan finds a version present-identical (its dry run writes no ledger), and the run that
  //    enters it in the ledger later (ledgerUnrecorded) records the hashes the plan read there,
  //    not an entry without the target's side. A database from before has none: entered without.
  `
  ALTER TABLE items ADD COLUMN target_hashes TEXT;
  `,
];
