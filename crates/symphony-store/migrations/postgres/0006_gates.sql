-- Gates that asked a person, and their answers (as migrations/sqlite/0006_gates.sql).
CREATE TABLE gates (
    run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step         TEXT NOT NULL,
    title        TEXT NOT NULL,
    asked_at     BIGINT NOT NULL,
    timeout_ms   BIGINT,
    decision     TEXT,
    reason       TEXT,
    value        TEXT,
    answered_by  TEXT,
    answered_at  BIGINT,
    applied      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step)
);
