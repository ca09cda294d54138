-- Heartbeats of the edge nodes (every 30 s, and at once when a camera or its uploads change
-- state), keyed by device_id. The desktop app warns when they stop or the outbox grows.
CREATE STREAM IF NOT EXISTS DEVICE_STATUS_STREAM (
    device_id         VARCHAR KEY,
    device_name       VARCHAR,
    time              VARCHAR,
    timestamp_ms      BIGINT,
    online            BOOLEAN,
    camera            VARCHAR,
    camera_error      VARCHAR,
    outbox_pending    INTEGER,
    outbox_oldest_s   DOUBLE,
    undelivered_bytes BIGINT,
    spool_bytes       BIGINT,
    disk_free_bytes   BIGINT,
    spool_full        BOOLEAN,
    last_error        VARCHAR,
    version           VARCHAR
) WITH (KAFKA_TOPIC = 'ksql_device_status', VALUE_FORMAT = 'JSON', PARTITIONS = 1);

-- The newest heartbeat of each camera, for dashboards and pull queries
-- (SELECT * FROM DEVICE_STATUS WHERE device_id = 'garage';).
CREATE TABLE IF NOT EXISTS DEVICE_STATUS AS
    SELECT device_id,
           LATEST_BY_OFFSET(device_name)    AS device_name,
           LATEST_BY_OFFSET(timestamp_ms)   AS timestamp_ms,
           LATEST_BY_OFFSET(online)         AS online,
           LATEST_BY_OFFSET(camera)         AS camera,
           LATEST_BY_OFFSET(outbox_pending) AS outbox_pending,
           LATEST_BY_OFFSET(spool_full)     AS spool_full,
           LATEST_BY_OFFSET(last_error)     AS last_error
    FROM DEVICE_STATUS_STREAM
    GROUP BY device_id
    EMIT CHANGES;
