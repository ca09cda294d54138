//! An event's snapshot as a local file, for the notification's image.
//!
//! Notification servers take an image as a file path (the `image-path` hint), so the snapshot
//! is downloaded first. The URL comes from the event and is not trusted: only http(s) is ever
//! fetched (no `file:`, no other scheme, also not through a redirect), the download is capped
//! in size and time, and only a JPEG or PNG is kept. Files live in a private temporary folder
//! that is removed when the app exits, and only the newest few are kept.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{redirect, Url};

/// Snapshots are small JPEGs (tens of kB); anything this big is not one.
pub const MAX_SNAPSHOT_BYTES: usize = 4 * 1024 * 1024;
/// A notification that waits longer for its image is late; it is shown without one.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REDIRECTS: usize = 3;
/// Snapshot files kept; a notification server reads the file when the popup appears.
const KEEP_FILES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot create the snapshot folder: {0}")]
    Folder(#[source] std::io::Error),
    #[error("cannot set up the HTTP client for snapshots: {0}")]
    Client(#[source] reqwest::Error),
    #[error("snapshot URL {url:?} is not a valid URL: {reason}")]
    Url { url: String, reason: String },
    #[error("snapshot URL {url} is not http(s); only http and https are fetched")]
    Scheme { url: String },
    #[error("cannot download snapshot {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot presign the snapshot's URL: {0}")]
    Presign(#[from] crate::clips::UrlError),
    #[error("snapshot {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("snapshot {url} is larger than {max} bytes")]
    TooLarge { url: String, max: usize },
    #[error("snapshot {url} is not a JPEG or PNG image")]
    NotAnImage { url: String },
    #[error("cannot store snapshot at {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Downloads snapshots into a private folder.
pub struct Snapshots {
    client: reqwest::Client,
    max_bytes: usize,
    dir: tempfile::TempDir,
    kept: Mutex<VecDeque<PathBuf>>,
}

impl Snapshots {
    pub fn new() -> Result<Snapshots, SnapshotError> {
        Snapshots::with_limits(MAX_SNAPSHOT_BYTES, SNAPSHOT_TIMEOUT)
    }

    pub fn with_limits(max_bytes: usize, timeout: Duration) -> Result<Snapshots, SnapshotError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if is_http(attempt.url()) {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .map_err(SnapshotError::Client)?;
        let dir = tempfile::Builder::new()
            .prefix("motion-in-motion-snapshots-")
            .tempdir()
            .map_err(SnapshotError::Folder)?;
        Ok(Snapshots {
            client,
            max_bytes,
            dir,
            kept: Mutex::new(VecDeque::new()),
        })
    }

    /// Downloads `url` and returns the file it was stored in.
    pub async fn fetch(&self, event_id: &str, url: &str) -> Result<PathBuf, SnapshotError> {
        let parsed = Url::parse(url).map_err(|e| SnapshotError::Url {
            url: url.chars().take(80).collect(),
            reason: e.to_string(),
        })?;
        let shown = redacted(&parsed);
        if !is_http(&parsed) {
            return Err(SnapshotError::Scheme { url: shown });
        }
        let http = |source: reqwest::Error| SnapshotError::Http {
            url: shown.clone(),
            // reqwest's message repeats the URL, query (a presigned signature) included.
            source: source.without_url(),
        };
        let mut resp = self.client.get(parsed).send().await.map_err(http)?;
        if !resp.status().is_success() {
            return Err(SnapshotError::Status {
                url: shown,
                status: resp.status().as_u16(),
            });
        }
        let too_large = || SnapshotError::TooLarge {
            url: shown.clone(),
            max: self.max_bytes,
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let Some(ext) = image_kind(&body) else {
            return Err(SnapshotError::NotAnImage { url: shown });
        };
        let path = self
            .dir
            .path()
            .join(format!("{}.{ext}", file_stem(event_id)));
        tokio::fs::write(&path, &body)
            .await
            .map_err(|source| SnapshotError::Write {
                path: path.display().to_string(),
                source,
            })?;
        self.keep(path.clone());
        Ok(path)
    }

    fn keep(&self, path: PathBuf) {
        let mut kept = match self.kept.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        kept.retain(|p| p != &path);
        kept.push_back(path);
        while kept.len() > KEEP_FILES {
            if let Some(old) = kept.pop_front() {
                let _ = std::fs::remove_file(old);
            }
        }
    }
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// The URL without its query and credentials, for messages and logs.
fn redacted(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    ) + url.path()
}

/// The file type by its first bytes: the server would otherwise be handed anything.
fn image_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else {
        None
    }
}

/// A file name from an event id: ids may hold `.` and `:`, which are not for file names.
fn file_stem(event_id: &str) -> String {
    let stem = crate::clips::cache::safe_file_stem(event_id);
    if stem.is_empty() {
        "snapshot".to_owned()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 rest of a tiny jpeg";

    /// Answers each of the next `responses.len()` connections with one canned response;
    /// returns its base URL. Good enough for one GET per connection.
    fn serve(responses: Vec<Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for response in responses {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(&response);
            }
        });
        format!("http://{addr}")
    }

    fn ok(content_type: &str, body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    }

    fn snapshots() -> Snapshots {
        Snapshots::with_limits(1024, Duration::from_secs(2)).expect("snapshots")
    }

    #[tokio::test]
    async fn a_jpeg_is_stored_under_a_safe_name() -> Result<(), SnapshotError> {
        let base = serve(vec![ok("image/jpeg", JPEG)]);
        let snaps = snapshots();
        let path = snaps.fetch("../e:1.x", &format!("{base}/b/e1.jpg")).await?;
        assert_eq!(path.parent(), Some(snaps.dir.path()));
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some("___e_1_x.jpg")
        );
        assert_eq!(std::fs::read(&path).ok().as_deref(), Some(JPEG));
        Ok(())
    }

    #[tokio::test]
    async fn other_schemes_are_never_loaded() {
        let snaps = snapshots();
        for url in [
            "file:///etc/passwd",
            "data:image/png;base64,iVBORw0KGgo=",
            "ftp://host/x.jpg",
            "javascript:alert(1)",
        ] {
            let err = snaps.fetch("e1", url).await.err();
            assert!(
                matches!(err, Some(SnapshotError::Scheme { .. })),
                "{url}: {err:?}"
            );
        }
        assert!(matches!(
            snaps.fetch("e1", "not a url").await,
            Err(SnapshotError::Url { .. })
        ));
    }

    #[tokio::test]
    async fn a_redirect_to_another_scheme_is_not_followed() {
        let base = serve(vec![
            b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ]);
        let err = snapshots()
            .fetch("e1", &format!("{base}/x.jpg"))
            .await
            .err();
        assert!(
            matches!(err, Some(SnapshotError::Status { status: 302, .. })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn too_large_and_not_an_image_and_errors_are_refused() {
        let big = vec![0xFF; 2000];
        let mut chunked_big =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        for _ in 0..3 {
            chunked_big.extend_from_slice(b"200\r\n");
            chunked_big.extend_from_slice(&[0xFF; 0x200]);
            chunked_big.extend_from_slice(b"\r\n");
        }
        chunked_big.extend_from_slice(b"0\r\n\r\n");
        let base = serve(vec![
            ok("image/jpeg", &big),
            chunked_big,
            ok("text/html", b"<html><img src=x onerror=alert(1)></html>"),
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ]);
        let snaps = snapshots();
        let url = format!("{base}/s.jpg?X-Amz-Signature=secret");
        let declared = snaps.fetch("e1", &url).await.err();
        assert!(
            matches!(declared, Some(SnapshotError::TooLarge { .. })),
            "{declared:?}"
        );
        let streamed = snaps.fetch("e1", &url).await.err();
        assert!(
            matches!(streamed, Some(SnapshotError::TooLarge { .. })),
            "{streamed:?}"
        );
        let html = snaps.fetch("e1", &url).await.err();
        assert!(
            matches!(html, Some(SnapshotError::NotAnImage { .. })),
            "{html:?}"
        );
        let missing = snaps.fetch("e1", &url).await.err();
        let text = missing.as_ref().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("HTTP 404"), "{text}");
        assert!(!text.contains("secret"), "the query leaked: {text}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_on() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/s.jpg", listener.local_addr().expect("addr"));
        let snaps = Snapshots::with_limits(1024, Duration::from_millis(300)).expect("snapshots");
        let err = snaps.fetch("e1", &url).await.err();
        assert!(matches!(err, Some(SnapshotError::Http { .. })), "{err:?}");
        drop(listener);
    }

    #[tokio::test]
    async fn only_the_newest_files_are_kept() -> Result<(), SnapshotError> {
        let base = serve(vec![ok("image/jpeg", JPEG); KEEP_FILES + 1]);
        let snaps = snapshots();
        let mut paths = Vec::new();
        for i in 0..=KEEP_FILES {
            paths.push(
                snaps
                    .fetch(&format!("e{i}"), &format!("{base}/s.jpg"))
                    .await?,
            );
        }
        assert!(!paths[0].exists(), "the oldest is removed");
        assert!(paths[1..].iter().all(|p| p.exists()));
        Ok(())
    }
}
