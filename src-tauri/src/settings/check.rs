//! "Test connection": tries a server the way the app will use it and says exactly what failed:
//! the name does not resolve, nothing listens, TLS, refused credentials, a server that is not
//! what it should be, or no answer in time.

use std::error::Error as _;
use std::time::Duration;

use motion_event::settings::{KafkaSettings, S3Settings, Secret};
use serde::Serialize;

use crate::source::EventSource;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome, for the settings view and the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct CheckReport {
    pub ok: bool,
    /// What was tried, without credentials.
    pub target: String,
    /// What worked ("ksqlDB 0.29.0, RUNNING") or exactly what failed.
    pub detail: String,
}

impl CheckReport {
    fn ok(target: &str, detail: String) -> Self {
        CheckReport {
            ok: true,
            target: target.to_owned(),
            detail,
        }
    }

    fn failed(target: &str, detail: String) -> Self {
        CheckReport {
            ok: false,
            target: target.to_owned(),
            detail,
        }
    }
}

/// The event source, the way the app will follow it: ksqlDB's `/info`, or Kafka's metadata.
pub async fn source(source: &EventSource) -> CheckReport {
    match source {
        EventSource::KsqlDb(settings) => {
            let (key, secret) = match &settings.credentials {
                Some((key, secret)) => (Some(key.as_str()), Some(secret)),
                None => (None, None),
            };
            ksqldb(&settings.url, key, secret, settings.ca_file.as_deref()).await
        }
        EventSource::Kafka(settings) => kafka(settings).await,
    }
}

/// `GET <url>/info` with the API key and secret, as the app's push query will authenticate.
pub async fn ksqldb(
    url: &str,
    key: Option<&str>,
    secret: Option<&Secret>,
    ca_file: Option<&std::path::Path>,
) -> CheckReport {
    let base = url.trim().trim_end_matches('/');
    let target = format!("ksqlDB at {base}");
    if !crate::clips::presign::is_http(base) {
        return CheckReport::failed(
            &target,
            "the URL must start with http:// or https://".into(),
        );
    }
    let mut builder = reqwest::Client::builder().timeout(TIMEOUT);
    match crate::source::ksqldb::root_certificates(ca_file) {
        Ok(certs) => {
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Err(e) => return CheckReport::failed(&target, e.to_string()),
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return CheckReport::failed(&target, e.to_string()),
    };
    let mut request = client.get(format!("{base}/info"));
    if let Some(key) = key {
        request = request.basic_auth(key, secret.map(Secret::expose));
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return CheckReport::failed(&target, describe(&e)),
    };
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return CheckReport::failed(
            &target,
            "authentication failed (HTTP 401): check the API key and secret".into(),
        );
    }
    if status == reqwest::StatusCode::FORBIDDEN {
        return CheckReport::failed(
            &target,
            "the key is valid but not allowed to use this ksqlDB (HTTP 403)".into(),
        );
    }
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return CheckReport::failed(
            &target,
            "ksqlDB is starting or shutting down (HTTP 503)".into(),
        );
    }
    if !status.is_success() {
        return CheckReport::failed(&target, format!("unexpected answer: HTTP {status}"));
    }
    let parsed = match response.bytes().await {
        Ok(body) => serde_json::from_slice::<serde_json::Value>(&body).ok(),
        Err(e) => return CheckReport::failed(&target, describe(&e)),
    };
    let info = match parsed {
        Some(v) => v,
        None => {
            return CheckReport::failed(
                &target,
                "the server answered, but not with JSON: is this a ksqlDB endpoint?".into(),
            )
        }
    };
    let server = &info["KsqlServerInfo"];
    match (server["version"].as_str(), server["serverStatus"].as_str()) {
        (Some(version), Some("RUNNING") | None) => {
            CheckReport::ok(&target, format!("ksqlDB {version}, running"))
        }
        (Some(version), Some(state)) => {
            CheckReport::failed(&target, format!("ksqlDB {version} reports {state}"))
        }
        (None, _) => CheckReport::failed(
            &target,
            "the server answered, but it is not ksqlDB (no KsqlServerInfo)".into(),
        ),
    }
}

/// Asks the brokers for the events topic's metadata, as the Kafka source will.
pub async fn kafka(settings: &KafkaSettings) -> CheckReport {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    let target = format!("Kafka at {}", settings.bootstrap_servers);
    let topic = settings.topic.clone();
    let mut config = rdkafka::ClientConfig::new();
    for (key, value) in settings.client_properties() {
        config.set(key, value);
    }
    config.set("socket.timeout.ms", TIMEOUT.as_millis().to_string());
    let outcome = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create()?;
        consumer.fetch_metadata(Some(&topic), TIMEOUT).map(|m| {
            let partitions = m
                .topics()
                .first()
                .filter(|t| t.error().is_none())
                .map(|t| t.partitions().len());
            (m.brokers().len(), partitions)
        })
    })
    .await;
    match outcome {
        Ok(Ok((brokers, Some(partitions)))) => CheckReport::ok(
            &target,
            format!(
                "{brokers} broker(s); topic {} has {partitions} partition(s)",
                settings.topic
            ),
        ),
        Ok(Ok((brokers, None))) => CheckReport::failed(
            &target,
            format!(
                "connected ({brokers} broker(s)), but topic {} does not exist",
                settings.topic
            ),
        ),
        Ok(Err(KafkaError::MetadataFetch(RDKafkaErrorCode::Authentication)))
        | Ok(Err(KafkaError::MetadataFetch(RDKafkaErrorCode::SaslAuthenticationFailed))) => {
            CheckReport::failed(
                &target,
                "authentication failed: check the API key and secret".into(),
            )
        }
        Ok(Err(KafkaError::MetadataFetch(code))) => CheckReport::failed(
            &target,
            format!(
                "no broker answered within {} s ({code:?})",
                TIMEOUT.as_secs()
            ),
        ),
        Ok(Err(e)) => CheckReport::failed(&target, e.to_string()),
        Err(e) => CheckReport::failed(&target, e.to_string()),
    }
}

/// Reads an object that does not exist: "not found" proves the address and the key work.
pub async fn s3(urls: &S3Settings) -> CheckReport {
    use object_store::ObjectStore;

    let target = format!("bucket {}", urls.bucket);
    // The same client the player's presigning uses, but one try with a short timeout: a check
    // must answer quickly and say what failed, not retry it.
    let client = object_store::ClientOptions::new().with_timeout(TIMEOUT);
    let builder =
        crate::clips::presign::s3_builder(urls, client).with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        });
    let store = match builder.build() {
        Ok(s) => s,
        Err(e) => return CheckReport::failed(&target, format!("invalid settings: {e}")),
    };
    let probe = object_store::path::Path::from("motion-in-motion-connection-check");
    match store.head(&probe).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {
            CheckReport::ok(&target, "reachable, and the key is accepted".into())
        }
        Err(object_store::Error::PermissionDenied { .. })
        | Err(object_store::Error::Unauthenticated { .. }) => CheckReport::failed(
            &target,
            "the key was refused: check the access key, the secret and the bucket policy".into(),
        ),
        Err(e) => CheckReport::failed(&target, format!("cannot read from the bucket: {e}")),
    }
}

/// The most specific reason in a request error's chain: DNS, refused, TLS or timeout.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let mut chain = Vec::new();
    let mut source = error.source();
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    let text = chain.join(": ").to_ascii_lowercase();
    if text.contains("dns") || text.contains("lookup") || text.contains("name or service") {
        "the host name does not resolve".into()
    } else if text.contains("connection refused") {
        "nothing listens at that address and port (connection refused)".into()
    } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        format!("TLS failed: {}", chain.last().cloned().unwrap_or_default())
    } else if error.is_connect() {
        format!(
            "cannot connect: {}",
            chain.last().cloned().unwrap_or_default()
        )
    } else {
        error.without_url_string()
    }
}

trait WithoutUrl {
    fn without_url_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_string(&self) -> String {
        // A URL may carry user info; the message must not.
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A real HTTP server on loopback answering every request with `status` and `body`, and
    /// recording the Authorization header it got.
    fn serve(
        status: &'static str,
        body: &'static str,
    ) -> (String, std::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                let mut auth = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("authorization") {
                            auth = value.trim().to_owned();
                        }
                    }
                    line.clear();
                }
                let _ = tx.send(auth);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (format!("http://127.0.0.1:{port}"), rx)
    }

    #[tokio::test]
    async fn a_ksqldb_server_is_recognised_with_basic_auth() {
        let (url, auth) = serve(
            "200 OK",
            r#"{"KsqlServerInfo":{"version":"0.29.0","kafkaClusterId":"x","ksqlServiceId":"default_","serverStatus":"RUNNING"}}"#,
        );
        let report = ksqldb(&url, Some("KEY"), Some(&Secret::new("SECRET")), None).await;
        assert!(report.ok, "{report:?}");
        assert_eq!(report.detail, "ksqlDB 0.29.0, running");
        // base64("KEY:SECRET")
        assert_eq!(auth.recv().ok().as_deref(), Some("Basic S0VZOlNFQ1JFVA=="));
    }

    #[tokio::test]
    async fn a_ksqldb_source_is_checked_with_its_own_credentials() -> Result<(), String> {
        let (url, auth) = serve(
            "200 OK",
            r#"{"KsqlServerInfo":{"version":"0.29.0","serverStatus":"RUNNING"}}"#,
        );
        let stream =
            crate::source::ksqldb::StreamName::parse(crate::source::ksqldb::query::DEFAULT_STREAM)
                .map_err(|e| e.to_string())?;
        let settings = crate::source::ksqldb::KsqlDbSettings {
            url: format!("{url}/"),
            credentials: Some(("KEY".into(), Secret::new("SECRET"))),
            stream,
            ca_file: None,
        };
        let report = source(&EventSource::KsqlDb(settings)).await;
        assert_eq!(
            report,
            CheckReport::ok(&format!("ksqlDB at {url}"), "ksqlDB 0.29.0, running".into())
        );
        assert_eq!(auth.recv().ok().as_deref(), Some("Basic S0VZOlNFQ1JFVA=="));
        Ok(())
    }

    #[tokio::test]
    async fn each_failure_is_named() {
        let (unauthorized, _a) = serve("401 Unauthorized", r#"{"error_code":40100}"#);
        let (not_ksql, _b) = serve("200 OK", "<html>hello</html>");
        let (other_json, _c) = serve("200 OK", r#"{"hello":"world"}"#);
        let refused = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = listener.local_addr().expect("addr").port();
            drop(listener);
            format!("http://127.0.0.1:{port}")
        };
        for (url, expect) in [
            (unauthorized.as_str(), "authentication failed"),
            (not_ksql.as_str(), "not with JSON"),
            (other_json.as_str(), "not ksqlDB"),
            (refused.as_str(), "connection refused"),
            ("file:///etc/passwd", "http:// or https://"),
            ("http://no-such-host.invalid", "does not resolve"),
        ] {
            let report = ksqldb(url, None, None, None).await;
            assert!(!report.ok, "{url}");
            assert!(report.detail.contains(expect), "{url}: {report:?}");
        }
    }
}
