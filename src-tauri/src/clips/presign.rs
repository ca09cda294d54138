//! Private buckets: URLs into the configured bucket are presigned for GET with a read-only key
//! (expiring); other http(s) URLs pass through as they are; anything else is refused.
//!
//! Signing is `object_store`'s (the same crate the edge node uploads with): no hand-written
//! SigV4 here.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use motion_event::settings::S3Settings;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::ClientOptions;

/// Presigned URLs live this long: enough to watch a clip, short enough that a leaked link
/// soon stops working.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("refusing to load `{0}`: only http and https URLs are allowed")]
    Scheme(String),
    #[error("S3 read settings are invalid: {0}")]
    Settings(#[source] object_store::Error),
    #[error("cannot presign {key}: {source}")]
    Sign {
        key: String,
        #[source]
        source: object_store::Error,
    },
}

/// At most this many presigned URLs are kept for reuse (a few hundred rows' snapshots and
/// clips); past it, the stale ones go, and if none is stale, all of them.
const KEPT_MAX: usize = 4_096;

/// Turns the URLs in events into URLs the player can load.
pub struct ClipUrls {
    signer: Option<(AmazonS3, S3Settings)>,
    expiry: Duration,
    /// Presigned URLs by object key, with when they were signed. A URL is handed out again
    /// while it has at least half its life left: the views re-read their rows up to four
    /// times a second, and a new signature every time would make the web view download
    /// every thumbnail again (a new URL is a new image to it, and a GET that S3 bills).
    kept: Mutex<HashMap<String, (String, Instant)>>,
}

impl ClipUrls {
    /// Without read credentials URLs pass through (public buckets, the local stack).
    pub fn public() -> ClipUrls {
        ClipUrls {
            signer: None,
            expiry: DEFAULT_EXPIRY,
            kept: Mutex::default(),
        }
    }

    /// Presigns URLs into `settings.bucket` with its (read-only) key.
    pub fn signing(settings: &S3Settings, expiry: Duration) -> Result<ClipUrls, UrlError> {
        let store = s3_builder(settings, ClientOptions::new())
            .build()
            .map_err(UrlError::Settings)?;
        Ok(ClipUrls {
            signer: Some((store, settings.clone())),
            expiry,
            kept: Mutex::default(),
        })
    }

    /// The URL to load for `url` from an event.
    pub async fn resolve(&self, url: &str) -> Result<String, UrlError> {
        self.resolve_at(url, Instant::now()).await
    }

    async fn resolve_at(&self, url: &str, now: Instant) -> Result<String, UrlError> {
        let url = url.trim();
        if !is_http(url) {
            return Err(UrlError::Scheme(url.chars().take(80).collect()));
        }
        let Some((store, settings)) = &self.signer else {
            return Ok(url.to_owned());
        };
        let Some(key) = key_in_bucket(settings, url) else {
            // Not our bucket (a CDN, another server): nothing to sign.
            return Ok(url.to_owned());
        };
        if let Some(signed) = self.kept(&key, now) {
            return Ok(signed);
        }
        let path = ObjectPath::from(key.as_str());
        let signed = store
            .signed_url(reqwest::Method::GET, &path, self.expiry)
            .await
            .map(|u| u.to_string())
            .map_err(|source| UrlError::Sign {
                key: key.clone(),
                source,
            })?;
        self.keep(key, signed.clone(), now);
        Ok(signed)
    }

    /// A URL signed for `key` that still has at least half its life left at `now`.
    fn kept(&self, key: &str, now: Instant) -> Option<String> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let (url, signed_at) = kept.get(key)?;
        self.fresh(*signed_at, now).then(|| url.clone())
    }

    fn keep(&self, key: String, url: String, now: Instant) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT_MAX {
            kept.retain(|_, (_, signed_at)| self.fresh(*signed_at, now));
            if kept.len() >= KEPT_MAX {
                kept.clear();
            }
        }
        kept.insert(key, (url, now));
    }

    fn fresh(&self, signed_at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(signed_at) < self.expiry / 2
    }
}

/// An S3 client for `settings`: the bucket, its key, and the endpoint's addressing style
/// (path-style for custom endpoints such as MinIO, virtual-hosted for AWS). `client` carries
/// the caller's HTTP options; plain http is allowed on it only for an `http://` endpoint
/// (allow_http is a client option, so it must be set on these, not before them).
pub(crate) fn s3_builder(settings: &S3Settings, client: ClientOptions) -> AmazonS3Builder {
    let builder = AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_region(&settings.region)
        .with_access_key_id(&settings.access_key_id)
        .with_secret_access_key(settings.secret_access_key.expose())
        .with_virtual_hosted_style_request(!settings.uses_path_style());
    match &settings.endpoint {
        Some(endpoint) => builder
            .with_endpoint(endpoint)
            .with_client_options(client.with_allow_http(endpoint.starts_with("http://"))),
        None => builder.with_client_options(client),
    }
}

/// True for `http://` and `https://` URLs (any case), the only ones ever loaded.
pub fn is_http(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The object key of `url` if it points into the configured bucket, decoded. A key with an
/// empty, `.` or `..` segment is not one: a browser or proxy may resolve those to a path
/// outside the bucket, and the signature must never cover more than one of its objects.
fn key_in_bucket(settings: &S3Settings, url: &str) -> Option<String> {
    let base = settings.object_url("");
    let rest = url.strip_prefix(base.as_str())?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let key = percent_decode(rest);
    let plain = key
        .split('/')
        .all(|segment| !matches!(segment, "" | "." | ".."));
    plain.then_some(key)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use motion_event::settings::Secret;

    fn minio() -> S3Settings {
        S3Settings {
            bucket: "motion-clips".into(),
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:19000".into()),
            path_style: None,
            access_key_id: "reader".into(),
            secret_access_key: Secret::new("reader-secret"),
            public_base_url: None,
        }
    }

    #[tokio::test]
    async fn only_http_urls_are_ever_loaded() {
        let urls = ClipUrls::public();
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,<script>",
            " ftp://x/y.mp4",
            "",
        ] {
            assert!(
                matches!(urls.resolve(bad).await, Err(UrlError::Scheme(_))),
                "{bad}"
            );
        }
        assert_eq!(
            urls.resolve("HTTPS://cdn.example/a.mp4")
                .await
                .ok()
                .as_deref(),
            Some("HTTPS://cdn.example/a.mp4")
        );
    }

    #[tokio::test]
    async fn urls_into_the_bucket_are_presigned_and_others_pass_through(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let urls = ClipUrls::signing(&minio(), Duration::from_secs(600))?;
        let signed = urls
            .resolve("http://127.0.0.1:19000/motion-clips/garage/2026/11/25/e%201.mp4")
            .await?;
        assert!(
            signed.starts_with("http://127.0.0.1:19000/motion-clips/garage/2026/11/25/e%201.mp4?"),
            "{signed}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Expires=600",
            "X-Amz-Signature=",
        ] {
            assert!(signed.contains(part), "{part} in {signed}");
        }
        assert!(!signed.contains("reader-secret"), "the secret never leaves");
        let other = "https://cdn.example/garage/e1.mp4";
        assert_eq!(urls.resolve(other).await?, other);
        Ok(())
    }

    #[tokio::test]
    async fn a_presigned_url_is_reused_while_it_has_half_its_life_left(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let urls = ClipUrls::signing(&minio(), Duration::from_secs(600))?;
        let url = "http://127.0.0.1:19000/motion-clips/garage/e1.jpg";
        let t0 = Instant::now();
        let first = urls.resolve_at(url, t0).await?;
        let later = t0 + Duration::from_secs(299);
        assert_eq!(urls.resolve_at(url, later).await?, first);
        let signed_at = |urls: &ClipUrls| {
            let kept = urls.kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.get("garage/e1.jpg").map(|(_, at)| *at)
        };
        assert_eq!(signed_at(&urls), Some(t0));
        let half = t0 + Duration::from_secs(300);
        urls.resolve_at(url, half).await?;
        assert_eq!(
            signed_at(&urls),
            Some(half),
            "signed again at half its life"
        );
        Ok(())
    }

    #[test]
    fn the_kept_urls_are_bounded() -> Result<(), Box<dyn std::error::Error>> {
        let urls = ClipUrls::signing(&minio(), Duration::from_secs(600))?;
        let t0 = Instant::now();
        for i in 0..KEPT_MAX {
            urls.keep(format!("old/{i}"), format!("u{i}"), t0);
        }
        // The next one makes room: nothing is stale yet, so everything goes.
        urls.keep("a".into(), "ua".into(), t0);
        assert_eq!(urls.kept.lock().map(|k| k.len()).ok(), Some(1));
        for i in 1..KEPT_MAX {
            urls.keep(
                format!("new/{i}"),
                format!("u{i}"),
                t0 + Duration::from_secs(400),
            );
        }
        // Now "a" is stale and goes alone; the fresh ones stay.
        urls.keep("b".into(), "ub".into(), t0 + Duration::from_secs(400));
        let kept = urls.kept.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(kept.len(), KEPT_MAX);
        assert!(!kept.contains_key("a") && kept.contains_key("b"));
        Ok(())
    }

    #[test]
    fn keys_are_found_only_inside_the_bucket() {
        let s = minio();
        assert_eq!(
            key_in_bucket(&s, "http://127.0.0.1:19000/motion-clips/a/b%2Bc.mp4?x=1").as_deref(),
            Some("a/b+c.mp4")
        );
        assert_eq!(
            key_in_bucket(&s, "http://127.0.0.1:19000/other-bucket/a.mp4"),
            None
        );
        assert_eq!(
            key_in_bucket(&s, "http://127.0.0.1:19000/motion-clips/"),
            None
        );
    }

    #[tokio::test]
    async fn urls_outside_the_bucket_are_never_presigned() -> Result<(), Box<dyn std::error::Error>>
    {
        let urls = ClipUrls::signing(&minio(), Duration::from_secs(600))?;
        for outside in [
            // Another bucket on the same server, and one whose name starts like ours.
            "http://127.0.0.1:19000/other-bucket/garage/e1.mp4",
            "http://127.0.0.1:19000/motion-clips-public/garage/e1.mp4",
            // Paths that leave the bucket once resolved, plain or percent-encoded.
            "http://127.0.0.1:19000/motion-clips/../other-bucket/e1.mp4",
            "http://127.0.0.1:19000/motion-clips/%2E%2E/other-bucket/e1.mp4",
            "http://127.0.0.1:19000/motion-clips/garage/./e1.mp4",
            "http://127.0.0.1:19000/motion-clips//e1.mp4",
            // Another host or port, a look-alike host, credentials in the authority.
            "http://127.0.0.1:19001/motion-clips/garage/e1.mp4",
            "http://127.0.0.1:190000/motion-clips/garage/e1.mp4",
            "http://127.0.0.1:19000@evil.example/motion-clips/garage/e1.mp4",
            "https://127.0.0.1:19000/motion-clips/garage/e1.mp4",
        ] {
            let resolved = urls.resolve(outside).await?;
            assert_eq!(resolved, outside, "passed through as it is");
            assert!(!resolved.contains("X-Amz-"), "{outside} was presigned");
        }
        Ok(())
    }
}
