-- Who plays a run marked `running`, and when it was last heard from: the recorder beats every
-- few seconds, so a run whose player has gone quiet (or whose process is gone) is interrupted
-- and can be resumed, while one another process still plays is left to it.
ALTER TABLE runs ADD COLUMN player TEXT;        -- "host:pid"
ALTER TABLE runs ADD COLUMN heard_at INTEGER;   -- ms since the epoch
