//! History search: time range, cameras, free text (FTS5 over camera name and message), newest
//! first, in pages. User text never becomes SQL or FTS syntax: each word is bound as a quoted
//! FTS5 string.

use motion_event::MotionEvent;
use sqlx::{QueryBuilder, Sqlite};

use super::{row_to_event, Cache, CacheError, EVENT_COLUMNS};

/// What to look for; every part is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    /// Unix ms, inclusive.
    pub from_ms: Option<i64>,
    /// Unix ms, exclusive.
    pub to_ms: Option<i64>,
    /// Any of these cameras; empty means all.
    pub devices: Vec<String>,
    /// Words that must all occur (as word prefixes) in the camera name or the message.
    pub text: Option<String>,
    /// Continue after this (sort_ms, event_id), for the next page.
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

impl Cache {
    /// Matching events, newest first.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<MotionEvent>, CacheError> {
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1"));
        if let Some(from) = query.from_ms {
            sql.push(" AND sort_ms >= ").push_bind(from);
        }
        if let Some(to) = query.to_ms {
            sql.push(" AND sort_ms < ").push_bind(to);
        }
        if !query.devices.is_empty() {
            sql.push(" AND device_id IN (");
            let mut list = sql.separated(", ");
            for device in &query.devices {
                list.push_bind(device.clone());
            }
            sql.push(")");
        }
        if let Some(fts) = query.text.as_deref().and_then(fts_query) {
            sql.push(" AND rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ")
                .push_bind(fts)
                .push(")");
        }
        if let Some((sort_ms, event_id)) = &query.after {
            sql.push(" AND (sort_ms < ")
                .push_bind(*sort_ms)
                .push(" OR (sort_ms = ")
                .push_bind(*sort_ms)
                .push(" AND event_id < ")
                .push_bind(event_id.clone())
                .push("))");
        }
        sql.push(" ORDER BY sort_ms DESC, event_id DESC LIMIT ")
            .push_bind(i64::from(query.limit.max(1)));
        let rows = sql.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(row_to_event).collect())
    }

    /// The ordering key of an event, for continuing a search after it (0 if unknown).
    pub async fn sort_ms_of(&self, event_id: &str) -> Result<i64, CacheError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT sort_ms FROM events WHERE event_id = ?")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }

    /// Deletes events older than `before_ms` (retention); returns how many went.
    pub async fn delete_before(&self, before_ms: i64) -> Result<u64, CacheError> {
        Ok(sqlx::query("DELETE FROM events WHERE sort_ms < ?")
            .bind(before_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

/// An FTS5 query that means "every word, as a prefix": `front do` -> `"front"* "do"*`.
/// Quotes inside a word are doubled, so no input can reach FTS5's operators or columns.
/// `None` when there is no word at all.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .take(16)
        .map(|word| format!("\"{}\"*", word.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use motion_event::EventKind;

    fn event(id: &str, device: &str, name: &str, message: &str, ts: i64) -> MotionEvent {
        MotionEvent {
            event_id: id.into(),
            device_id: device.into(),
            device_name: name.into(),
            device_type: "camera".into(),
            url: String::new(),
            time: "2026-11-25 10:00:00".into(),
            message: message.into(),
            snapshot_url: None,
            kind: Some(EventKind::MotionStarted),
            timestamp_ms: Some(ts),
            duration_s: None,
        }
    }

    async fn cache_with(events: &[MotionEvent]) -> (tempfile::TempDir, Cache) {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(&dir.path().join("c.sqlite"))
            .await
            .expect("open");
        cache.apply(events, &[]).await.expect("apply");
        (dir, cache)
    }

    fn ids(events: &[MotionEvent]) -> Vec<&str> {
        events.iter().map(|e| e.event_id.as_str()).collect()
    }

    #[tokio::test]
    async fn filters_combine_and_results_come_newest_first_in_pages() -> Result<(), CacheError> {
        let (_dir, cache) = cache_with(&[
            event("a", "garage", "Garage", "Motion detected", 1_000),
            event("b", "front", "Front door", "Motion detected", 2_000),
            event("c", "garage", "Garage", "Car arriving", 3_000),
            event("d", "back", "Back yard", "Cat on the fence", 4_000),
        ])
        .await;
        let all = SearchQuery {
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(ids(&cache.search(&all).await?), ["d", "c", "b", "a"]);
        let q = SearchQuery {
            from_ms: Some(2_000),
            to_ms: Some(4_000),
            devices: vec!["garage".into(), "front".into()],
            ..all.clone()
        };
        assert_eq!(ids(&cache.search(&q).await?), ["c", "b"]);
        let text = SearchQuery {
            text: Some("fron do".into()),
            ..all.clone()
        };
        assert_eq!(
            ids(&cache.search(&text).await?),
            ["b"],
            "prefixes of every word"
        );
        let page = SearchQuery {
            limit: 2,
            ..all.clone()
        };
        let first = cache.search(&page).await?;
        let next = SearchQuery {
            after: first
                .last()
                .map(|e| (e.timestamp_ms.unwrap_or(0), e.event_id.clone())),
            ..page
        };
        assert_eq!(ids(&cache.search(&next).await?), ["b", "a"]);
        Ok(())
    }

    #[tokio::test]
    async fn hostile_text_is_just_text() -> Result<(), CacheError> {
        let (_dir, cache) = cache_with(&[
            event("a", "g", "Garage", "say \"hi\" NEAR(x) OR *", 1_000),
            event("b", "g", "Garage", "nothing", 2_000),
        ])
        .await;
        for text in [
            "\"hi\"",
            "NEAR(x)",
            "'; DROP TABLE events; --",
            "message:hi",
            "* OR 1",
            "\"",
        ] {
            let q = SearchQuery {
                text: Some(text.into()),
                limit: 10,
                ..SearchQuery::default()
            };
            let found = cache.search(&q).await;
            assert!(found.is_ok(), "{text}: {found:?}");
        }
        assert_eq!(cache.count().await?, 2, "nothing was dropped");
        let q = SearchQuery {
            text: Some("\"hi\"".into()),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(ids(&cache.search(&q).await?), ["a"]);
        Ok(())
    }

    #[tokio::test]
    async fn updates_are_searchable_and_retention_deletes_only_old_events() -> Result<(), CacheError>
    {
        let (_dir, cache) = cache_with(&[
            event("a", "g", "Garage", "Motion detected", 1_000),
            event("b", "g", "Garage", "Motion detected", 5_000),
        ])
        .await;
        let mut renamed = event("a", "g", "Carport", "Motion detected", 1_000);
        renamed.kind = Some(EventKind::ClipReady);
        renamed.url = "http://s3/a.mp4".into();
        cache.apply(&[renamed], &[]).await?;
        let q = SearchQuery {
            text: Some("carp".into()),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(ids(&cache.search(&q).await?), ["a"]);
        assert_eq!(cache.delete_before(2_000).await?, 1);
        assert_eq!(cache.count().await?, 1);
        assert!(
            cache.search(&q).await?.is_empty(),
            "the index follows deletes"
        );
        Ok(())
    }

    #[test]
    fn words_become_quoted_prefix_terms() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(
            fts_query("front \"do").as_deref(),
            Some("\"front\"* \"\"\"do\"*")
        );
    }
}
