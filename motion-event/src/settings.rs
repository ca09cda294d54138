//! Connection settings that both hosts need: how to reach Kafka and the clip bucket.
//!
//! Plain data with serde and defaults only; turning them into an rdkafka or S3 client is each
//! host's business, so this crate stays free of those dependencies.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The seed's topic, which ksqlDB's `MOTION_STREAM` reads.
pub const DEFAULT_EVENTS_TOPIC: &str = "ksql_motion_events";
/// Heartbeats from edge nodes (device status).
pub const DEFAULT_STATUS_TOPIC: &str = "ksql_device_status";

/// A credential: never printed, never logged.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for handing to a client library and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// How to reach the Kafka cluster that carries the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Comma-separated `host:port` list, e.g. `127.0.0.1:19092` or Confluent Cloud's bootstrap.
    pub bootstrap_servers: String,
    /// Topic the motion events go to.
    #[serde(default = "default_events_topic")]
    pub topic: String,
    /// Topic the device heartbeats go to.
    #[serde(default = "default_status_topic")]
    pub status_topic: String,
    /// `plaintext` for a local broker, `sasl_ssl` for Confluent Cloud and most managed clusters.
    #[serde(default)]
    pub security: KafkaSecurity,
    /// SASL PLAIN user name (Confluent Cloud: the API key).
    #[serde(default)]
    pub username: String,
    /// SASL PLAIN password (Confluent Cloud: the API secret).
    #[serde(default)]
    pub password: Secret,
}

fn default_events_topic() -> String {
    DEFAULT_EVENTS_TOPIC.to_owned()
}

fn default_status_topic() -> String {
    DEFAULT_STATUS_TOPIC.to_owned()
}

impl KafkaSettings {
    pub fn plaintext(bootstrap_servers: impl Into<String>) -> Self {
        KafkaSettings {
            bootstrap_servers: bootstrap_servers.into(),
            topic: default_events_topic(),
            status_topic: default_status_topic(),
            security: KafkaSecurity::Plaintext,
            username: String::new(),
            password: Secret::default(),
        }
    }

    /// librdkafka properties for these settings; each host adds its own role's properties.
    pub fn client_properties(&self) -> Vec<(&'static str, String)> {
        let mut props = vec![
            ("bootstrap.servers", self.bootstrap_servers.clone()),
            // librdkafka waits 60 s by default for a broker to answer a request. A frozen
            // partition leader (a hung host, not a crashed one) then holds every alert behind
            // the request in flight for as long; given up after 10 s, the request is retried
            // (the producer's retries keep their idempotent sequence) on the leader the
            // cluster elected meanwhile. The faults test `cluster-sigstop` measures it.
            ("socket.timeout.ms", SOCKET_TIMEOUT_MS.to_string()),
            // A camera behind a home router sits idle between events, and routers and cloud
            // load balancers (Azure's after 4 min) drop idle connections silently: the next
            // alert would then wait out the socket timeout on a dead connection. So idle
            // connections are closed first, and reopened when needed; keepalives let the
            // kernel notice the dead ones that remain.
            (
                "connections.max.idle.ms",
                CONNECTIONS_MAX_IDLE_MS.to_string(),
            ),
            ("socket.keepalive.enable", "true".into()),
        ];
        match self.security {
            KafkaSecurity::Plaintext => props.push(("security.protocol", "plaintext".into())),
            KafkaSecurity::SaslSsl => {
                props.push(("security.protocol", "sasl_ssl".into()));
                props.push(("sasl.mechanisms", "PLAIN".into()));
                props.push(("sasl.username", self.username.clone()));
                props.push(("sasl.password", self.password.expose().to_owned()));
            }
        }
        props
    }
}

/// A broker connection idle this long is closed by the client (`connections.max.idle.ms`),
/// before a NAT or load balancer between them forgets it.
pub const CONNECTIONS_MAX_IDLE_MS: u32 = 180_000;

/// How long a Kafka client waits for a broker's answer before it gives the request up and
/// tries again, possibly on another broker (`socket.timeout.ms`).
pub const SOCKET_TIMEOUT_MS: u32 = 10_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaSecurity {
    #[default]
    Plaintext,
    SaslSsl,
}

/// Where clips and snapshots are stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// Custom endpoint for S3-compatible servers (MinIO, R2, ...); unset means AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`), which MinIO needs; AWS uses virtual-hosted.
    #[serde(default)]
    pub path_style: Option<bool>,
    pub access_key_id: String,
    #[serde(default)]
    pub secret_access_key: Secret,
    /// Base of the URLs put into events, when clips are served from elsewhere (a CDN, a proxy).
    #[serde(default)]
    pub public_base_url: Option<String>,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

impl S3Settings {
    /// Path-style unless told otherwise for custom endpoints; virtual-hosted for AWS.
    pub fn uses_path_style(&self) -> bool {
        self.path_style.unwrap_or(self.endpoint.is_some())
    }

    /// The URL an object will be reachable at (before any presigning).
    pub fn object_url(&self, key: &str) -> String {
        let key = encode_key(key);
        if let Some(base) = &self.public_base_url {
            return format!("{}/{key}", base.trim_end_matches('/'));
        }
        match (&self.endpoint, self.uses_path_style()) {
            (Some(endpoint), true) => {
                format!("{}/{}/{key}", endpoint.trim_end_matches('/'), self.bucket)
            }
            (Some(endpoint), false) => {
                let (scheme, host) = endpoint
                    .trim_end_matches('/')
                    .split_once("://")
                    .unwrap_or(("https", endpoint.as_str()));
                format!("{scheme}://{}.{host}/{key}", self.bucket)
            }
            (None, true) => format!(
                "https://s3.{}.amazonaws.com/{}/{key}",
                self.region, self.bucket
            ),
            (None, false) => format!(
                "https://{}.s3.{}.amazonaws.com/{key}",
                self.bucket, self.region
            ),
        }
    }
}

/// Percent-encodes everything in a key but the characters S3 keys commonly use unescaped.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(endpoint: Option<&str>) -> S3Settings {
        S3Settings {
            bucket: "motion-clips".into(),
            region: "eu-west-1".into(),
            endpoint: endpoint.map(str::to_owned),
            path_style: None,
            access_key_id: "AKIA".into(),
            secret_access_key: Secret::new("very-secret"),
            public_base_url: None,
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let settings = s3(None);
        let printed = format!("{settings:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
        assert!(printed.contains("***"));
    }

    #[test]
    fn object_urls_follow_the_addressing_style() {
        assert_eq!(
            s3(Some("http://127.0.0.1:19000/")).object_url("cam-1/e 1.mp4"),
            "http://127.0.0.1:19000/motion-clips/cam-1/e%201.mp4"
        );
        assert_eq!(
            s3(None).object_url("cam-1/e.mp4"),
            "https://motion-clips.s3.eu-west-1.amazonaws.com/cam-1/e.mp4"
        );
        let mut virt = s3(Some("https://r2.example.net"));
        virt.path_style = Some(false);
        assert_eq!(
            virt.object_url("k.jpg"),
            "https://motion-clips.r2.example.net/k.jpg"
        );
        let mut cdn = s3(None);
        cdn.public_base_url = Some("https://cdn.example.net/clips/".into());
        assert_eq!(
            cdn.object_url("a/b.mp4"),
            "https://cdn.example.net/clips/a/b.mp4"
        );
    }

    #[test]
    fn kafka_sasl_properties_carry_the_credentials() {
        let mut k = KafkaSettings::plaintext("pkc.example:9092");
        k.security = KafkaSecurity::SaslSsl;
        k.username = "KEY".into();
        k.password = Secret::new("SECRET");
        let props = k.client_properties();
        assert!(props.contains(&("sasl.mechanisms", "PLAIN".into())));
        assert!(props.contains(&("sasl.password", "SECRET".into())));
        assert!(!format!("{k:?}").contains("SECRET"));
    }

    #[test]
    fn idle_connections_are_closed_before_a_router_forgets_them() {
        let props = KafkaSettings::plaintext("127.0.0.1:9092").client_properties();
        assert!(props.contains(&("connections.max.idle.ms", "180000".into())));
        assert!(props.contains(&("socket.keepalive.enable", "true".into())));
    }
}
