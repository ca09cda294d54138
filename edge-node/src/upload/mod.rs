//! Upload of clips and snapshots to S3 (or any S3-compatible server).
//!
//! Signing, retries with backoff and multipart uploads come from `object_store`, a well-kept
//! client used by Arrow and DataFusion: we write none of SigV4 ourselves. This module only
//! decides keys, content types and when to go multipart; it knows nothing of Kafka.

use std::path::Path;
use std::time::Duration;

use motion_event::settings::S3Settings;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, RetryConfig, WriteMultipart,
};
use tokio::io::AsyncReadExt;

/// Files above this go up in parts, so a lost connection costs one part, not the whole clip.
pub const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
const PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("S3 settings are invalid: {0}")]
    Settings(#[source] object_store::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "S3 refused the credentials for bucket {bucket} (check access key and secret): {source}"
    )]
    Auth {
        bucket: String,
        #[source]
        source: object_store::Error,
    },
    #[error("upload of {key} to bucket {bucket} failed: {source}")]
    Store {
        bucket: String,
        key: String,
        #[source]
        source: object_store::Error,
    },
}

/// Puts files into one bucket and says where they can be fetched from.
pub struct Uploader {
    store: AmazonS3,
    settings: S3Settings,
}

impl Uploader {
    pub fn new(settings: &S3Settings) -> Result<Self, UploadError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(settings.secret_access_key.expose())
            .with_virtual_hosted_style_request(!settings.uses_path_style())
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(15),
                    base: 2.0,
                },
                max_retries: 5,
                retry_timeout: Duration::from_secs(120),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120)),
            );
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder.build().map_err(UploadError::Settings)?;
        Ok(Uploader {
            store,
            settings: settings.clone(),
        })
    }

    /// Uploads `file` as `key` and returns the object's URL.
    pub async fn upload_file(
        &self,
        file: &Path,
        key: &str,
        content_type: &str,
    ) -> Result<String, UploadError> {
        let read_err = |source| UploadError::Read {
            path: file.display().to_string(),
            source,
        };
        let size = tokio::fs::metadata(file).await.map_err(read_err)?.len();
        let location = ObjectPath::from(key);
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());

        let result = if size > MULTIPART_THRESHOLD {
            self.put_multipart(file, &location, attributes).await
        } else {
            let bytes = tokio::fs::read(file).await.map_err(read_err)?;
            let opts = PutOptions {
                attributes,
                ..PutOptions::default()
            };
            self.store
                .put_opts(&location, PutPayload::from(bytes), opts)
                .await
                .map(|_| ())
                .map_err(Into::into)
        };
        result.map_err(|e| self.classify(key, e))?;
        tracing::info!(key, size, "uploaded");
        Ok(self.settings.object_url(key))
    }

    async fn put_multipart(
        &self,
        file: &Path,
        location: &ObjectPath,
        attributes: Attributes,
    ) -> Result<(), PartError> {
        let opts = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        let upload = self.store.put_multipart_opts(location, opts).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut reader = tokio::fs::File::open(file).await?;
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            // Bounded memory: wait while too many parts are in flight.
            writer.wait_for_capacity(2).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    fn classify(&self, key: &str, err: PartError) -> UploadError {
        let bucket = self.settings.bucket.clone();
        match err {
            PartError::Io(source) => UploadError::Read {
                path: key.to_owned(),
                source,
            },
            PartError::Store(source) => match source {
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. } => {
                    UploadError::Auth { bucket, source }
                }
                source => UploadError::Store {
                    bucket,
                    key: key.to_owned(),
                    source,
                },
            },
        }
    }
}

/// The two ways an upload can fail before we know which error the user should see.
#[derive(Debug, thiserror::Error)]
enum PartError {
    #[error(transparent)]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The object key for an event's file: grouped per camera and day, so a bucket listing or a
/// lifecycle rule can work per camera.
pub fn object_key(device_id: &str, date: chrono::NaiveDate, event_id: &str, ext: &str) -> String {
    format!("{device_id}/{}/{event_id}.{ext}", date.format("%Y/%m/%d"))
}

/// Content type from the file name; S3 serves it back, and browsers need it to play a clip.
pub fn content_type_for(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("mp4") | Some("m4v") => "video/mp4",
        Some("mkv") => "video/x-matroska",
        Some("webm") => "video/webm",
        Some("avi") => "video/x-msvideo",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_group_by_camera_and_day() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 5).expect("date");
        assert_eq!(
            object_key("garage", day, "e-1", "mp4"),
            "garage/2026/11/05/e-1.mp4"
        );
    }

    #[test]
    fn content_types_let_browsers_play_clips() {
        assert_eq!(content_type_for(Path::new("/x/clip.MP4")), "video/mp4");
        assert_eq!(content_type_for(Path::new("snap.jpg")), "image/jpeg");
        assert_eq!(
            content_type_for(Path::new("noext")),
            "application/octet-stream"
        );
    }
}
