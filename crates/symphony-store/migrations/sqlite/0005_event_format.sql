-- The version of the events' JSON a run was written with (symphony_conductor::EVENT_FORMAT):
-- runs recorded before it was kept were version 1.
ALTER TABLE runs ADD COLUMN event_format INTEGER NOT NULL DEFAULT 1;
