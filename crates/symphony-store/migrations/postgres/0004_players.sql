-- Who plays a run marked `running`, and when it was last heard from (as
-- migrations/sqlite/0004_players.sql).
ALTER TABLE runs ADD COLUMN player TEXT;        -- "host:pid"
ALTER TABLE runs ADD COLUMN heard_at BIGINT;    -- ms since the epoch
