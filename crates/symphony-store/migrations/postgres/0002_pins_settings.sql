-- Pinned outputs and store settings (as migrations/sqlite/0002_pins_settings.sql).

-- A step pinned to a chosen output: every run of the melody gets this output for the step
-- (origin `given`) instead of playing it, until it is unpinned.
CREATE TABLE pins (
    melody_id    TEXT NOT NULL,
    step         TEXT NOT NULL,
    output_hash  TEXT NOT NULL REFERENCES outputs(hash),
    run_id       TEXT,                     -- the run the output was taken from
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (melody_id, step)
);

-- Settings of the store itself, e.g. `keep_runs` (retention).
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
