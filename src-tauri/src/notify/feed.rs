//! Which events are new to the cache, for the alerts.
//!
//! A source reports only how many rows a batch changed; an upsert that fills in a clip or a
//! replayed message changes or keeps a row without being a new event. So the alerts keep a mark
//! of the newest row they have seen and ask the cache for the rows inserted after it
//! ([`Cache::inserted_after`]): exactly the events whose first message just arrived.

use std::sync::Arc;

use motion_event::MotionEvent;

use super::{Notifier, NotifyError, NotifySettings, OpenHook};
use crate::cache::{Cache, CacheError};
use crate::clips::ClipUrls;

/// Rows read per query; a backfill of 100,000 events is read in pieces.
const PAGE: u32 = 1000;

/// The mark of the newest row seen so far.
pub struct NewEvents {
    mark: i64,
}

impl NewEvents {
    /// Starts after the rows already in the cache: those were alerted (or not) before.
    pub async fn start(cache: &Cache) -> Result<NewEvents, CacheError> {
        Ok(NewEvents {
            mark: cache.insert_mark().await?,
        })
    }

    /// True if the cache was empty at the start: a first run, importing history.
    pub fn first_run(&self) -> bool {
        self.mark == 0
    }

    /// The next events (at most `PAGE`) inserted since the last call, oldest first; empty when
    /// there are none.
    pub async fn next(&mut self, cache: &Cache) -> Result<Vec<MotionEvent>, CacheError> {
        let (events, mark) = cache.inserted_after(self.mark, PAGE).await?;
        self.mark = mark;
        Ok(events)
    }
}

/// Hands the events new to the cache to a [`Notifier`].
pub struct Feed {
    new: NewEvents,
    notifier: Notifier,
}

impl Feed {
    pub async fn start(
        cache: &Cache,
        settings: NotifySettings,
        on_open: OpenHook,
        snapshot_urls: Arc<ClipUrls>,
    ) -> Result<Feed, NotifyError> {
        let new = NewEvents::start(cache).await?;
        // On a first run every event is history being imported; nothing was "missed".
        let notifier = Notifier::new(settings, !new.first_run(), on_open, snapshot_urls)?;
        Ok(Feed { new, notifier })
    }

    /// Passes every event inserted since the last call to the notifier.
    pub async fn catch_up(&mut self, cache: &Cache) -> Result<(), NotifyError> {
        loop {
            let events = self.new.next(cache).await?;
            if events.is_empty() {
                return Ok(());
            }
            self.notifier.events(&events);
        }
    }

    pub fn tick(&self) {
        self.notifier.tick();
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use motion_event::EventKind;

    fn event(id: &str, kind: EventKind, url: &str) -> MotionEvent {
        MotionEvent {
            event_id: id.into(),
            device_id: "cam-1".into(),
            device_name: "Garage".into(),
            device_type: "camera".into(),
            url: url.into(),
            time: "2026-11-25 05:00:00".into(),
            message: "Motion detected".into(),
            snapshot_url: None,
            kind: Some(kind),
            timestamp_ms: Some(1000),
            duration_s: None,
        }
    }

    fn ids(events: &[MotionEvent]) -> Vec<&str> {
        events.iter().map(|e| e.event_id.as_str()).collect()
    }

    #[tokio::test]
    async fn only_first_inserts_are_new_not_updates_or_replays() -> Result<(), CacheError> {
        let dir = tempfile::tempdir().map_err(|source| CacheError::Folder {
            path: "tempdir".into(),
            source,
        })?;
        let cache = Cache::open(&dir.path().join("cache.sqlite")).await?;
        let old = event("old", EventKind::ClipReady, "http://s3.local/b/old.mp4");
        cache.apply(std::slice::from_ref(&old), &[]).await?;

        let mut new = NewEvents::start(&cache).await?;
        assert!(!new.first_run());
        assert!(new.next(&cache).await?.is_empty(), "rows from before");

        let started = event("e1", EventKind::MotionStarted, "");
        cache
            .apply(&[started, event("e2", EventKind::MotionStarted, "")], &[])
            .await?;
        assert_eq!(ids(&new.next(&cache).await?), ["e1", "e2"]);

        // The clip of e1 and a replay of the old event change rows, but add no event.
        let ready = event("e1", EventKind::ClipReady, "http://s3.local/b/e1.mp4");
        cache.apply(&[ready, old], &[]).await?;
        assert!(new.next(&cache).await?.is_empty());

        // Both messages of an event in one batch: one new event, as it stands now.
        let both = [
            event("e3", EventKind::MotionStarted, ""),
            event("e3", EventKind::ClipReady, "http://s3.local/b/e3.mp4"),
        ];
        cache.apply(&both, &[]).await?;
        let got = new.next(&cache).await?;
        assert_eq!(ids(&got), ["e3"]);
        assert_eq!(got[0].kind, Some(EventKind::ClipReady));
        Ok(())
    }

    #[tokio::test]
    async fn an_empty_cache_is_a_first_run_and_large_catch_ups_come_in_pages(
    ) -> Result<(), CacheError> {
        let dir = tempfile::tempdir().map_err(|source| CacheError::Folder {
            path: "tempdir".into(),
            source,
        })?;
        let cache = Cache::open(&dir.path().join("cache.sqlite")).await?;
        let mut new = NewEvents::start(&cache).await?;
        assert!(new.first_run());
        let many: Vec<MotionEvent> = (0..PAGE + 5)
            .map(|i| event(&format!("e{i:05}"), EventKind::MotionStarted, ""))
            .collect();
        cache.apply(&many, &[]).await?;
        let first = new.next(&cache).await?;
        assert_eq!(first.len(), PAGE as usize);
        assert_eq!(first[0].event_id, "e00000");
        assert_eq!(ids(&new.next(&cache).await?).len(), 5);
        assert!(new.next(&cache).await?.is_empty());
        Ok(())
    }
}
