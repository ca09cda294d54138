-- Searching the server (a ksqlDB pull query) for history the cache does not hold.

-- Where each event came from. `from_search`: its first message came from a server search, not
-- from the followed stream; it is old news and never alerts, whatever comes later. `streamed`:
-- a message of it came through the followed stream (live or backfill). A row with
-- streamed = 0 is known only through a server search, and the UI marks it so.
ALTER TABLE events ADD COLUMN from_search INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN streamed INTEGER NOT NULL DEFAULT 1;

-- What the cache holds: every event the server has from `covered_from_ms` (Unix ms, event
-- time) on; NULL when that is not known (a fresh install before its first full backfill).
-- One row. A cache from before this migration was filled by a backfill of the whole stream
-- and then trimmed by retention, so it holds everything from its oldest event on.
CREATE TABLE coverage (
    id              INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    covered_from_ms INTEGER
);
INSERT INTO coverage (id, covered_from_ms) SELECT 1, MIN(sort_ms) FROM events;
