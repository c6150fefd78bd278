-- The version of the events' JSON a run was written with (as
-- migrations/sqlite/0005_event_format.sql).
ALTER TABLE runs ADD COLUMN event_format BIGINT NOT NULL DEFAULT 1;
