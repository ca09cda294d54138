-- The motion events as edge nodes publish them (JSON, one record per message, keyed by
-- event_id). The seed's seven columns come first, exactly as the seed's queries use them; the
-- rest are optional additions: a record without them still reads, with NULLs there.
-- Each event arrives twice: kind 'motion_started' (snapshot_url set, url empty) as soon as
-- motion starts, then kind 'clip_ready' with the same event_id once the clip is uploaded.
CREATE STREAM IF NOT EXISTS MOTION_STREAM (
    event_id     VARCHAR,
    device_id    VARCHAR,
    device_name  VARCHAR,
    device_type  VARCHAR,
    url          VARCHAR,
    time         VARCHAR,
    message      VARCHAR,
    snapshot_url VARCHAR,
    kind         VARCHAR,
    timestamp_ms BIGINT,
    duration_s   DOUBLE
) WITH (KAFKA_TOPIC = 'ksql_motion_events', VALUE_FORMAT = 'JSON', PARTITIONS = 3);
