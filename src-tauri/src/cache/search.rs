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
    ///
    /// With text, the full-text index is read only between the smallest and the largest rowid
    /// of the events the other filters let through: rows are numbered in arrival order, so a
    /// week of two cameras is a narrow band of rowids, while a common word matches most of the
    /// cache and would otherwise be collected in full for every search.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<MotionEvent>, CacheError> {
        let fts = match query.text.as_deref().map(words) {
            Some(words) if !words.is_empty() => Some(self.fts_query(&words).await?),
            _ => None,
        };
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1"));
        push_filters(&mut sql, query);
        if let Some(fts) = fts {
            sql.push(" AND rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ")
                .push_bind(fts);
            if has_filters(query) {
                // Only a bound: the outer filters still decide. No match -> NULL -> no rows.
                sql.push(" AND rowid >= (SELECT MIN(rowid) FROM events WHERE 1 = 1");
                push_filters(&mut sql, query);
                sql.push(") AND rowid <= (SELECT MAX(rowid) FROM events WHERE 1 = 1");
                push_filters(&mut sql, query);
                sql.push(")");
            }
            sql.push(")");
        }
        sql.push(" ORDER BY sort_ms DESC, event_id DESC LIMIT ")
            .push_bind(i64::from(query.limit.max(1)));
        let rows = sql.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(row_to_event).collect())
    }

    /// An FTS5 query that means "every word, as a prefix": `front do` -> `"front"* AND "do"*`,
    /// except that a plain ASCII word is spelled out as the exact terms it is a prefix of:
    /// `mot` -> `("mot" OR "motion" OR "motor")`. Both mean the same, but FTS5 can seek in an
    /// exact term's postings (to the rowid bounds of [`Cache::search`]) while a prefix term
    /// is merged in full first. A word with more than [`MAX_EXPANSION`] longer terms, or
    /// that the tokenizer might fold or split (anything but ASCII letters and digits), stays a
    /// prefix. Quotes inside a word are doubled, so no input reaches FTS5's operators or columns.
    async fn fts_query(&self, words: &[&str]) -> Result<String, CacheError> {
        let mut terms = Vec::with_capacity(words.len());
        for word in words {
            let longer = match prefix_range(word) {
                // fts5vocab counts the postings of every term it passes, and treats `>` as
                // `>=`: starting at the word itself would read its whole posting list (~20 ms
                // for a word in most of 1M events). Terms hold no control characters, so the
                // first term after the word is the first one >= word + U+0001.
                Some((low, high)) => Some(
                    sqlx::query_scalar::<_, String>(
                        "SELECT term FROM events_fts_terms WHERE term >= ? AND term < ? LIMIT ?",
                    )
                    .bind(format!("{low}\u{1}"))
                    .bind(high)
                    .bind(MAX_EXPANSION + 1)
                    .fetch_all(&self.pool)
                    .await?,
                ),
                None => None,
            };
            terms.push(fts_term(word, longer.as_deref()));
        }
        // FTS5 joins a group to the next only with an explicit AND.
        Ok(terms.join(" AND "))
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

    /// Deletes events older than `before_ms` (retention); returns how many went. What the
    /// cache holds then starts at `before_ms` at the earliest ([`Cache::covered_from`]); an
    /// unknown start stays unknown.
    pub async fn delete_before(&self, before_ms: i64) -> Result<u64, CacheError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM events WHERE sort_ms < ?")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE coverage SET covered_from_ms = MAX(covered_from_ms, ?)
             WHERE covered_from_ms IS NOT NULL",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

/// Longer terms a word may be spelled out as before it is left a prefix (see
/// [`Cache::fts_query`]); a short prefix typed so far ("t") may stand for thousands.
const MAX_EXPANSION: i64 = 32;

/// One word of [`Cache::fts_query`]: its exact terms when `longer` (the index's terms that
/// start with it, bar itself) is known and short enough, else the word as a quoted prefix.
fn fts_term(word: &str, longer: Option<&[String]>) -> String {
    match (prefix_range(word), longer) {
        (Some((low, _)), Some(longer)) if longer.len() as i64 <= MAX_EXPANSION => {
            let exact: Vec<String> = std::iter::once(&low)
                .chain(longer)
                .map(|t| quoted(t))
                .collect();
            format!("({})", exact.join(" OR "))
        }
        _ => format!("{}*", quoted(word)),
    }
}

/// The words of a search, at most 16.
fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().take(16).collect()
}

fn quoted(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// For a word of ASCII letters and digits, the term it is as the index spells it (unicode61
/// folds ASCII to lower case and nothing else) and the first string after every term it is a
/// prefix of. `None` for any other word: only the tokenizer knows how it folds or splits.
fn prefix_range(word: &str) -> Option<(String, String)> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let low = word.to_ascii_lowercase();
    let mut high = low.clone().into_bytes();
    // ASCII letters and digits are below 0x7f, so the last byte can go up by one and stay ASCII.
    *high.last_mut()? += 1;
    Some((low, String::from_utf8(high).ok()?))
}

/// Every filter but the text, each prefixed with ` AND `.
fn push_filters(sql: &mut QueryBuilder<'_, Sqlite>, query: &SearchQuery) {
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
    if let Some((sort_ms, event_id)) = &query.after {
        sql.push(" AND (sort_ms < ")
            .push_bind(*sort_ms)
            .push(" OR (sort_ms = ")
            .push_bind(*sort_ms)
            .push(" AND event_id < ")
            .push_bind(event_id.clone())
            .push("))");
    }
}

fn has_filters(query: &SearchQuery) -> bool {
    query.from_ms.is_some()
        || query.to_ms.is_some()
        || !query.devices.is_empty()
        || query.after.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::test_event as event;
    use motion_event::EventKind;

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

    #[tokio::test]
    async fn spelled_out_prefixes_find_what_prefixes_find_in_any_arrival_order(
    ) -> Result<(), CacheError> {
        // Rows arrive out of time order (a backfill of old events comes last), so the rowid
        // band of a time range holds other events too, and misses none of its own.
        let (_dir, cache) = cache_with(&[
            event("new", "g", "Garage", "Motorbike parked", 9_000),
            event("mid", "f", "Front door", "Motion detected", 5_000),
            event("x", "g", "Garage", "Nothing", 4_000),
        ])
        .await;
        cache
            .apply(
                &[
                    event("old", "g", "Garage", "MOTION detected", 1_000),
                    event("cafe", "g", "Garage", "Café motion", 2_000),
                ],
                &[],
            )
            .await?;
        let q = |text: &str, from_ms| SearchQuery {
            text: Some(text.into()),
            from_ms,
            to_ms: Some(6_000),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(
            ids(&cache.search(&q("MOT", None)).await?),
            ["mid", "cafe", "old"]
        );
        assert_eq!(
            ids(&cache.search(&q("motion", Some(1_500))).await?),
            ["mid", "cafe"]
        );
        assert_eq!(
            ids(&cache.search(&q("garage mo", None)).await?),
            ["cafe", "old"]
        );
        // Not plain ASCII: left to the tokenizer, which folds the accent.
        assert_eq!(ids(&cache.search(&q("cafè", None)).await?), ["cafe"]);
        let all_time = SearchQuery {
            to_ms: None,
            ..q("moto", None)
        };
        assert_eq!(ids(&cache.search(&all_time).await?), ["new"]);
        Ok(())
    }

    #[tokio::test]
    async fn the_index_follows_updates_that_change_the_text_and_only_those(
    ) -> Result<(), CacheError> {
        let (_dir, cache) = cache_with(&[
            event("a", "g", "Garage", "Motion detected", 1_000),
            event("b", "g", "Garage", "Motion detected", 2_000),
        ])
        .await;
        let mut same = event("a", "g", "Garage", "Motion detected", 1_000);
        same.kind = Some(EventKind::ClipReady);
        same.url = "http://s3/a.mp4".into();
        let mut other = event("b", "g", "Garage", "Motion continues (part 2)", 2_000);
        other.kind = Some(EventKind::ClipReady);
        other.url = "http://s3/b.mp4".into();
        assert_eq!(cache.apply(&[same, other], &[]).await?, 2);
        // FTS5 compares its index with the events table and fails on any difference.
        sqlx::query("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")
            .execute(&cache.pool)
            .await?;
        let q = |text: &str| SearchQuery {
            text: Some(text.into()),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(ids(&cache.search(&q("detected")).await?), ["a"]);
        assert_eq!(ids(&cache.search(&q("continues")).await?), ["b"]);
        assert_eq!(ids(&cache.search(&q("motion")).await?), ["b", "a"]);
        Ok(())
    }

    #[test]
    fn words_become_quoted_prefix_terms() {
        assert!(words("  ").is_empty());
        assert_eq!(words("front \"do"), ["front", "\"do"]);
        assert_eq!(fts_term("front", None), "\"front\"*");
        assert_eq!(fts_term("\"do", None), "\"\"\"do\"*");
        // Not plain ASCII: the tokenizer decides, so it stays a prefix whatever is known.
        assert_eq!(fts_term("\"do", Some(&[])), "\"\"\"do\"*");
    }

    #[test]
    fn plain_words_become_their_exact_terms_unless_there_are_too_many() {
        assert_eq!(fts_term("Mot", Some(&[])), "(\"mot\")");
        let longer = ["motion".to_owned(), "motor".to_owned()];
        assert_eq!(
            fts_term("Mot", Some(&longer)),
            "(\"mot\" OR \"motion\" OR \"motor\")"
        );
        let many: Vec<String> = (0..=MAX_EXPANSION).map(|i| format!("t{i}")).collect();
        assert_eq!(fts_term("t", Some(&many)), "\"t\"*");
        assert_eq!(prefix_range("Az9"), Some(("az9".into(), "az:".into())));
        assert_eq!(prefix_range("café"), None);
        assert_eq!(prefix_range("a_b"), None);
    }
}
