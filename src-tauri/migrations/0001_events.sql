-- The event cache: one row per event_id; later messages for the same id update it.
CREATE TABLE events (
    event_id     TEXT PRIMARY KEY NOT NULL,
    device_id    TEXT NOT NULL,
    device_name  TEXT NOT NULL,
    device_type  TEXT NOT NULL,
    url          TEXT NOT NULL,
    time         TEXT NOT NULL,
    message      TEXT NOT NULL,
    snapshot_url TEXT,
    kind         TEXT,
    timestamp_ms INTEGER,
    duration_s   REAL,
    -- Unix ms used for ordering and time-range search: timestamp_ms when the producer sent it,
    -- else `time` read in this machine's zone.
    sort_ms      INTEGER NOT NULL,
    received_ms  INTEGER NOT NULL
);

CREATE INDEX events_by_time ON events (sort_ms DESC, event_id);
CREATE INDEX events_by_device_time ON events (device_id, sort_ms DESC);

-- Where the Kafka source resumes; written in the same transaction as the events it covers,
-- so a crash can neither lose nor repeat events.
CREATE TABLE kafka_offsets (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
