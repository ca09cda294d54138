//! Counts for the devices view and the charts: how active each camera is, and how many events
//! fall in each time bucket. Both read indexes only, so they stay fast on a million events.

use serde::Serialize;
use sqlx::Row;

use super::{Cache, CacheError};

/// One camera as its events describe it (heartbeats are in [`super::devices`]).
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct CameraActivity {
    pub device_id: String,
    /// The name in its newest event.
    pub device_name: String,
    pub last_event_ms: i64,
    /// Events since the `since_ms` asked for (e.g. local midnight: "events today").
    pub events_since: u32,
}

/// Events of one camera in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct BucketCount {
    /// Start of the bucket, Unix ms.
    pub start_ms: i64,
    pub device_id: String,
    pub count: u32,
}

impl Cache {
    /// Every camera that has an event in the cache, by name.
    pub async fn camera_activity(&self, since_ms: i64) -> Result<Vec<CameraActivity>, CacheError> {
        // A loose index scan: one index seek per camera instead of a pass over every event.
        let ids: Vec<String> = sqlx::query_scalar(
            "WITH RECURSIVE d(id) AS (
                 SELECT MIN(device_id) FROM events
                 UNION ALL
                 SELECT (SELECT MIN(device_id) FROM events WHERE device_id > d.id)
                 FROM d WHERE d.id IS NOT NULL)
             SELECT id FROM d WHERE id IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut cameras = Vec::with_capacity(ids.len());
        for id in ids {
            let newest = sqlx::query(
                "SELECT device_name, sort_ms FROM events WHERE device_id = ?
                 ORDER BY sort_ms DESC LIMIT 1",
            )
            .bind(&id)
            .fetch_one(&self.pool)
            .await?;
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM events WHERE device_id = ? AND sort_ms >= ?",
            )
            .bind(&id)
            .bind(since_ms)
            .fetch_one(&self.pool)
            .await?;
            cameras.push(CameraActivity {
                device_id: id,
                device_name: newest.get(0),
                last_event_ms: newest.get(1),
                events_since: u32::try_from(count).unwrap_or(u32::MAX),
            });
        }
        cameras.sort_by(|a, b| {
            (a.device_name.to_lowercase(), &a.device_id)
                .cmp(&(b.device_name.to_lowercase(), &b.device_id))
        });
        Ok(cameras)
    }

    /// Events per camera per bucket in `[from_ms, to_ms)`, oldest bucket first. Buckets are
    /// `bucket_ms` long and start at multiples of it shifted by `offset_ms`, so that hours and
    /// days start on the user's wall clock (pass the local zone's offset from UTC).
    pub async fn bucket_counts(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
        offset_ms: i64,
    ) -> Result<Vec<BucketCount>, CacheError> {
        if bucket_ms <= 0 {
            return Err(CacheError::BadQuery(format!(
                "the bucket length must be positive, got {bucket_ms} ms"
            )));
        }
        let rows = sqlx::query(
            "SELECT ((sort_ms + ?3) / ?4) * ?4 - ?3 AS start, device_id, COUNT(*)
             FROM events WHERE sort_ms >= ?1 AND sort_ms < ?2
             GROUP BY start, device_id ORDER BY start, device_id",
        )
        .bind(from_ms)
        .bind(to_ms)
        .bind(offset_ms)
        .bind(bucket_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| BucketCount {
                start_ms: r.get(0),
                device_id: r.get(1),
                count: u32::try_from(r.get::<i64, _>(2)).unwrap_or(u32::MAX),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use motion_event::MotionEvent;

    fn event(id: &str, device: &str, name: &str, ms: i64) -> MotionEvent {
        crate::cache::test_event(id, device, name, "Motion detected", ms)
    }

    const HOUR: i64 = 3_600_000;

    #[tokio::test]
    async fn cameras_with_their_newest_name_and_recent_count() -> Result<(), CacheError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(&dir.path().join("c.sqlite")).await?;
        cache
            .apply(
                &[
                    event("a", "yard", "Yard", HOUR),
                    event("b", "yard", "Back yard", 3 * HOUR),
                    event("c", "gate", "Gate", 2 * HOUR),
                    event("d", "yard", "Back yard", 2 * HOUR),
                ],
                &[],
            )
            .await?;
        let cams = cache.camera_activity(2 * HOUR).await?;
        assert_eq!(
            cams,
            [
                CameraActivity {
                    device_id: "yard".into(),
                    device_name: "Back yard".into(),
                    last_event_ms: 3 * HOUR,
                    events_since: 2,
                },
                CameraActivity {
                    device_id: "gate".into(),
                    device_name: "Gate".into(),
                    last_event_ms: 2 * HOUR,
                    events_since: 1,
                },
            ]
        );
        assert!(Cache::open(&dir.path().join("empty.sqlite"))
            .await?
            .camera_activity(0)
            .await?
            .is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn buckets_follow_the_wall_clock_offset() -> Result<(), CacheError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(&dir.path().join("c.sqlite")).await?;
        let half = HOUR / 2;
        cache
            .apply(
                &[
                    event("a", "yard", "Yard", 10 * HOUR + 10),
                    event("b", "yard", "Yard", 10 * HOUR + half + 10),
                    event("c", "gate", "Gate", 11 * HOUR),
                    event("z", "gate", "Gate", 20 * HOUR),
                ],
                &[],
            )
            .await?;
        let utc = cache.bucket_counts(0, 12 * HOUR, HOUR, 0).await?;
        let starts: Vec<(i64, &str, u32)> = utc
            .iter()
            .map(|b| (b.start_ms / HOUR, b.device_id.as_str(), b.count))
            .collect();
        assert_eq!(starts, [(10, "yard", 2), (11, "gate", 1)]);
        // A zone at UTC+5:30 has its hours start on the half hour.
        let india = cache.bucket_counts(0, 12 * HOUR, HOUR, half).await?;
        let starts: Vec<(i64, &str, u32)> = india
            .iter()
            .map(|b| (b.start_ms, b.device_id.as_str(), b.count))
            .collect();
        assert_eq!(
            starts,
            [
                (9 * HOUR + half, "yard", 1),
                (10 * HOUR + half, "gate", 1),
                (10 * HOUR + half, "yard", 1)
            ]
        );
        assert!(matches!(
            cache.bucket_counts(0, 1, 0, 0).await,
            Err(CacheError::BadQuery(_))
        ));
        Ok(())
    }
}
