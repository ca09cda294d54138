-- Full-text search over the camera name and the message, kept in step with `events` by
-- triggers (an external-content FTS5 table: the text is stored once, in `events`).
CREATE VIRTUAL TABLE events_fts USING fts5(
    device_name, message,
    content = 'events', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO events_fts (events_fts) VALUES ('rebuild');

CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_fts (rowid, device_name, message)
    VALUES (new.rowid, new.device_name, new.message);
END;
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, device_name, message)
    VALUES ('delete', old.rowid, old.device_name, old.message);
END;
CREATE TRIGGER events_fts_update AFTER UPDATE OF device_name, message ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, device_name, message)
    VALUES ('delete', old.rowid, old.device_name, old.message);
    INSERT INTO events_fts (rowid, device_name, message)
    VALUES (new.rowid, new.device_name, new.message);
END;

-- A reconnecting source asks for the newest received event; without this it scans the table.
CREATE INDEX events_by_received ON events (received_ms);

-- Cameras as their heartbeats describe them (the newest heartbeat wins).
CREATE TABLE devices (
    device_id         TEXT PRIMARY KEY NOT NULL,
    device_name       TEXT NOT NULL,
    last_seen_ms      INTEGER NOT NULL,
    online            INTEGER NOT NULL,
    camera            TEXT NOT NULL,
    camera_error      TEXT,
    outbox_pending    INTEGER NOT NULL,
    undelivered_bytes INTEGER NOT NULL,
    disk_free_bytes   INTEGER NOT NULL,
    spool_full        INTEGER NOT NULL,
    last_error        TEXT,
    version           TEXT NOT NULL
);
