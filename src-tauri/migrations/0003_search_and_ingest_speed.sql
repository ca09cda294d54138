-- The full-text index's terms, so a search can turn a word typed as a prefix ("mot") into the
-- exact terms it stands for ("motion", "motor"). FTS5 answers a prefix query by merging the
-- whole posting list of every matching term first, whatever else the query bounds (a word in
-- most events costs ~20 ms per query at 1M events); exact terms are read only between the
-- rowids asked for. Read-only: fts5vocab reads the index itself and stores nothing.
CREATE VIRTUAL TABLE events_fts_terms USING fts5vocab(events_fts, 'row');

-- An upsert names device_name and message in its SET clause, so the trigger of 0002 re-indexed
-- the text of every update, although a clip_ready almost always carries the same camera name
-- and message as its motion_started. Re-index only text that changed.
DROP TRIGGER events_fts_update;
CREATE TRIGGER events_fts_update AFTER UPDATE OF device_name, message ON events
WHEN old.device_name IS NOT new.device_name OR old.message IS NOT new.message
BEGIN
    INSERT INTO events_fts (events_fts, rowid, device_name, message)
    VALUES ('delete', old.rowid, old.device_name, old.message);
    INSERT INTO events_fts (rowid, device_name, message)
    VALUES (new.rowid, new.device_name, new.message);
END;
