-- The run store on Postgres, version 1: the schema of migrations/sqlite/0001_runs.sql in
-- Postgres types (BIGINT for SQLite's INTEGER, BYTEA for BLOB). JSON columns stay TEXT, so
-- the log keeps the exact text of each event, as in SQLite.
-- Times are milliseconds since the Unix epoch.

-- Each melody as it was run, once per distinct content.
CREATE TABLE melodies (
    hash        TEXT PRIMARY KEY,          -- SHA-256 of the canonical melody bytes
    melody_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    content     BYTEA NOT NULL,            -- the canonical *.melody.json bytes
    created_at  BIGINT NOT NULL
);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    melody_hash  TEXT NOT NULL REFERENCES melodies(hash),
    melody_id    TEXT NOT NULL,
    parent_id    TEXT REFERENCES runs(id) ON DELETE SET NULL,  -- a fork's parent
    fork_step    TEXT,                                         -- the step a fork reran from
    inputs       TEXT NOT NULL,            -- JSON object: run inputs, defaults filled in
    options      TEXT NOT NULL,            -- JSON: seed, maxParallel, fresh, freshSteps, given steps
    workspace    TEXT,
    status       TEXT NOT NULL,            -- running | succeeded | failed | cancelled
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    totals       TEXT,                     -- JSON: the run's totals, once finished
    sessions     BIGINT NOT NULL DEFAULT 1 -- 1 + how many times it was resumed
);
CREATE INDEX runs_by_start ON runs(started_at);

-- The append-only event log. `session` counts resumes; `seq` orders events within a run.
CREATE TABLE events (
    run_id   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    session  BIGINT NOT NULL,
    at_ms    BIGINT NOT NULL,              -- since the session started
    kind     TEXT NOT NULL,                -- the event's type, e.g. stepSucceeded
    step     TEXT,
    data     TEXT NOT NULL,                -- the whole event as JSON
    PRIMARY KEY (run_id, seq)
);

-- Step outputs, stored once by content: SHA-256 of the outputs' canonical JSON.
CREATE TABLE outputs (
    hash     TEXT PRIMARY KEY,
    content  TEXT NOT NULL
);

-- Where each step of each run ended.
CREATE TABLE step_results (
    run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step         TEXT NOT NULL,
    outcome      TEXT NOT NULL,            -- succeeded | failed | skipped | cancelled
    origin       TEXT,                     -- played | cached | given, for a success
    attempts     BIGINT NOT NULL DEFAULT 0,
    elapsed_ms   BIGINT NOT NULL DEFAULT 0,
    output_hash  TEXT REFERENCES outputs(hash),
    cache_key    TEXT,
    usage        TEXT,                     -- JSON: tokens and cost
    note         TEXT,                     -- the error or skip reason
    seq          BIGINT NOT NULL,          -- the event that ended it, for ordering
    PRIMARY KEY (run_id, step)
);

-- Each attempt of each step: what it was asked, how it ended.
CREATE TABLE attempts (
    run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    item        BIGINT NOT NULL DEFAULT -1, -- map item, -1 for the step itself
    attempt     BIGINT NOT NULL,
    session     BIGINT NOT NULL,
    type_name   TEXT NOT NULL,
    started_ms  BIGINT NOT NULL,
    ended_ms    BIGINT,
    system      TEXT,
    prompt      TEXT,
    error       TEXT,
    PRIMARY KEY (run_id, step, item, session, attempt)
);

-- The output cache: a cacheable step's key → its output.
CREATE TABLE cache (
    key          TEXT PRIMARY KEY,
    output_hash  TEXT NOT NULL REFERENCES outputs(hash),
    run_id       TEXT,                     -- the run that stored it
    created_at   BIGINT NOT NULL
);
