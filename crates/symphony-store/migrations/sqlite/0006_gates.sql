-- Gates (`cue.gate`) that asked a person, and their answers. The wait is durable: the row is
-- written when a gate asks (the first time; a resumed session asking again keeps `asked_at`),
-- an answer can come from any process (the app, `symphony serve`, `symphony runs approve`)
-- while the run plays or while it is stopped, and the first answer wins. The playing process
-- polls for answers it has not applied; a resumed run takes them as it starts.
CREATE TABLE gates (
    run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step         TEXT NOT NULL,
    title        TEXT NOT NULL,
    asked_at     INTEGER NOT NULL,          -- ms since the epoch, when it first asked
    timeout_ms   INTEGER,                   -- how long it waits in all; NULL: until answered
    decision     TEXT,                      -- NULL while waiting; approve | reject
    reason       TEXT,
    value        TEXT,                      -- JSON: the edited value that goes on, if edited
    answered_by  TEXT,                      -- app | cli | terminal | timeout
    answered_at  INTEGER,
    applied      INTEGER NOT NULL DEFAULT 0, -- 1 once the run took the answer (gateAnswered)
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
