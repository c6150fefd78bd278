-- Files a run produced in its workspace's files/ folder (the content stays on disk; the
-- store keeps which step wrote what, its size and its hash).
CREATE TABLE files (
    run_id   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path     TEXT NOT NULL,            -- relative to the workspace's files/ folder
    step     TEXT NOT NULL,
    bytes    INTEGER NOT NULL,
    sha256   TEXT NOT NULL,
    seq      INTEGER NOT NULL,         -- the event that reported it
    PRIMARY KEY (run_id, path)
) WITHOUT ROWID;
