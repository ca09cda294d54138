//! Local copies of clips, so that cached clips play with the network off. Bounded: when the
//! folder passes its cap, the least recently played clips go first (a file's modification time
//! is its last use: opening a clip through [`ClipCache::cached`] touches it).
//!
//! Downloads are written beside the final name and renamed when complete, so a half-downloaded
//! clip is never offered for playback.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::presign::is_http;

const PARTIAL_PREFIX: &str = ".partial-";

#[derive(Debug, thiserror::Error)]
pub enum ClipCacheError {
    #[error("refusing to download `{0}`: only http and https URLs are allowed")]
    Scheme(String),
    #[error("clip cache {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("downloading the clip of event {event_id} failed: {reason}")]
    Download { event_id: String, reason: String },
    #[error("the clip of event {event_id} is {size} bytes, more than the whole cache ({cap})")]
    TooLarge {
        event_id: String,
        size: u64,
        cap: u64,
    },
}

pub struct ClipCache {
    dir: PathBuf,
    cap_bytes: u64,
    client: reqwest::Client,
}

impl ClipCache {
    pub fn open(dir: &Path, cap_bytes: u64) -> Result<ClipCache, ClipCacheError> {
        fs::create_dir_all(dir).map_err(|source| ClipCacheError::Io {
            path: dir.to_owned(),
            source,
        })?;
        // Leftovers of downloads cut short by a crash.
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(PARTIAL_PREFIX)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClipCacheError::Download {
                event_id: String::new(),
                reason: e.to_string(),
            })?;
        Ok(ClipCache {
            dir: dir.to_owned(),
            cap_bytes,
            client,
        })
    }

    /// The local copy of an event's clip, if there is one; marks it as just used.
    pub fn cached(&self, event_id: &str) -> Option<PathBuf> {
        let path = self.path_for(event_id);
        let file = File::options().write(true).open(&path).ok()?;
        // A failed touch only makes the clip look older to eviction.
        let _ = file.set_modified(SystemTime::now());
        Some(path)
    }

    /// Whether the clip of `event_id` is in the cache (without marking it used).
    pub fn is_cached(&self, event_id: &str) -> bool {
        self.path_for(event_id).is_file()
    }

    /// Downloads `url` as the clip of `event_id` (unless already cached), reporting
    /// `(bytes so far, total if known)`, then evicts the least recently used clips over the cap.
    pub async fn fetch(
        &self,
        event_id: &str,
        url: &str,
        mut progress: impl FnMut(u64, Option<u64>),
    ) -> Result<PathBuf, ClipCacheError> {
        if let Some(path) = self.cached(event_id) {
            return Ok(path);
        }
        if !is_http(url) {
            return Err(ClipCacheError::Scheme(url.chars().take(80).collect()));
        }
        let failed = |reason: String| ClipCacheError::Download {
            event_id: event_id.to_owned(),
            reason,
        };
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("the server answered {}", response.status())));
        }
        let total = response.content_length();
        let too_large = |size| ClipCacheError::TooLarge {
            event_id: event_id.to_owned(),
            size,
            cap: self.cap_bytes,
        };
        if let Some(size) = total.filter(|s| *s > self.cap_bytes) {
            return Err(too_large(size));
        }
        let target = self.path_for(event_id);
        let partial = self.dir.join(format!(
            "{PARTIAL_PREFIX}{}",
            target
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let io = |source| ClipCacheError::Io {
            path: partial.clone(),
            source,
        };
        let mut file = File::create(&partial).map_err(io)?;
        let mut got = 0u64;
        progress(got, total);
        let body = async {
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| failed(e.without_url().to_string()))?
            {
                got += chunk.len() as u64;
                if got > self.cap_bytes {
                    return Err(too_large(got));
                }
                file.write_all(&chunk).map_err(io)?;
                progress(got, total);
            }
            file.sync_all().map_err(io)?;
            if total.is_some_and(|t| t != got) {
                return Err(failed(format!("got {got} of {total:?} bytes")));
            }
            Ok(())
        };
        if let Err(err) = body.await {
            let _ = fs::remove_file(&partial);
            return Err(err);
        }
        fs::rename(&partial, &target).map_err(|source| ClipCacheError::Io {
            path: target.clone(),
            source,
        })?;
        self.evict(&target);
        Ok(target)
    }

    /// Bytes of cached clips.
    pub fn usage(&self) -> u64 {
        self.clips().iter().map(|(_, size, _)| size).sum()
    }

    /// Deletes the least recently used clips until the cache fits its cap; `keep` stays.
    fn evict(&self, keep: &Path) {
        let mut clips = self.clips();
        let mut used: u64 = clips.iter().map(|(_, size, _)| size).sum();
        clips.sort_by_key(|(_, _, used_at)| *used_at);
        for (path, size, _) in clips {
            if used <= self.cap_bytes {
                break;
            }
            if path != keep && fs::remove_file(&path).is_ok() {
                used -= size;
                tracing::debug!(clip = %path.display(), "evicted from the clip cache");
            }
        }
    }

    /// (path, size, last use) of every complete clip.
    fn clips(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX))
            .filter_map(|e| {
                let meta = e.metadata().ok().filter(|m| m.is_file())?;
                Some((e.path(), meta.len(), meta.modified().ok()?))
            })
            .collect()
    }

    fn path_for(&self, event_id: &str) -> PathBuf {
        self.dir.join(format!("{}.mp4", safe_file_stem(event_id)))
    }
}

/// A file name stem from an untrusted event id: at most 128 characters, only ASCII letters,
/// digits, `-` and `_` (everything else becomes `_`), so no id can leave its folder.
pub(crate) fn safe_file_stem(event_id: &str) -> String {
    event_id
        .chars()
        .take(128)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// A real HTTP server on loopback that answers every request with `status` and `body`.
    fn serve(status: &'static str, body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        format!("http://127.0.0.1:{port}/clip.mp4")
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn a_clip_is_downloaded_once_with_progress_and_then_played_from_disk() -> TestResult {
        let dir = tempfile::tempdir()?;
        let cache = ClipCache::open(dir.path(), 1 << 20)?;
        let url = serve("200 OK", vec![7u8; 100_000]);
        let mut seen = Vec::new();
        let path = cache
            .fetch("ev/../1", &url, |got, total| seen.push((got, total)))
            .await?;
        assert_eq!(fs::read(&path)?.len(), 100_000);
        assert!(path.starts_with(dir.path()), "ids cannot escape the folder");
        assert_eq!(seen.first(), Some(&(0, Some(100_000))));
        assert_eq!(seen.last(), Some(&(100_000, Some(100_000))));
        assert_eq!(cache.cached("ev/../1"), Some(path));
        Ok(())
    }

    #[tokio::test]
    async fn the_least_recently_played_clips_go_first() -> TestResult {
        let dir = tempfile::tempdir()?;
        let cache = ClipCache::open(dir.path(), 250_000)?;
        let url = serve("200 OK", vec![1u8; 100_000]);
        let old = cache.fetch("old", &url, |_, _| {}).await?;
        let played = cache.fetch("played", &url, |_, _| {}).await?;
        // "old" was downloaded first but "played" longer ago: make that so, then play "old".
        File::options()
            .write(true)
            .open(&played)?
            .set_modified(SystemTime::now() - Duration::from_secs(60))?;
        assert!(cache.cached("old").is_some());
        cache.fetch("new", &url, |_, _| {}).await?;
        assert!(old.exists(), "recently played: kept");
        assert!(!played.exists(), "least recently played: evicted");
        assert!(cache.usage() <= 250_000);
        Ok(())
    }

    #[tokio::test]
    async fn bad_urls_answers_and_sizes_are_refused_and_leave_nothing() -> TestResult {
        let dir = tempfile::tempdir()?;
        let cache = ClipCache::open(dir.path(), 50_000)?;
        let err = cache.fetch("a", "file:///etc/passwd", |_, _| {}).await;
        assert!(matches!(err, Err(ClipCacheError::Scheme(_))), "{err:?}");
        let missing = serve("404 Not Found", b"no".to_vec());
        let err = cache.fetch("b", &missing, |_, _| {}).await;
        assert!(
            err.as_ref().is_err_and(|e| e.to_string().contains("404")),
            "{err:?}"
        );
        let big = serve("200 OK", vec![0u8; 60_000]);
        let err = cache.fetch("c", &big, |_, _| {}).await;
        assert!(
            matches!(err, Err(ClipCacheError::TooLarge { .. })),
            "{err:?}"
        );
        assert_eq!(
            fs::read_dir(dir.path())?.count(),
            0,
            "no partial files left"
        );
        Ok(())
    }
}
