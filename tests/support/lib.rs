//! Support for the cross-process tests: where the local stack is, where our binaries are, and
//! test media made with ffmpeg. `desktop` is an X server, session bus and notification server of
//! a test's own; `window` drives the real app window on one over WebDriver.
//!
//! The stack is the real one (`tests/stack/up`): Kafka in KRaft mode and an S3 server that
//! checks signatures. Nothing here fakes a server.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use motion_event::settings::{KafkaSettings, S3Settings, Secret};

pub mod app;
pub mod cache;
pub mod desktop;
pub mod faults;
pub mod kafka;
pub mod ksqldb;
pub mod node;
pub mod process;
pub mod servers;
pub mod window;

/// Endpoints and credentials of the local stack, from the same `MIM_*` variables and defaults
/// as `tests/stack/up`.
#[derive(Debug, Clone)]
pub struct Stack {
    pub kafka_bootstrap: String,
    pub topic: String,
    pub s3_endpoint: String,
    pub s3_region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    /// The desktop app's read-only key (`tests/stack/up` creates it).
    pub read_access_key: String,
    pub read_secret_key: String,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

impl Stack {
    /// The running stack; brings it up (idempotently) the first time if it is not reachable.
    pub fn get() -> &'static Stack {
        static STACK: OnceLock<Stack> = OnceLock::new();
        STACK.get_or_init(|| {
            let stack = Stack {
                kafka_bootstrap: var("MIM_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
                topic: var(
                    "MIM_KAFKA_TOPIC",
                    motion_event::settings::DEFAULT_EVENTS_TOPIC,
                ),
                s3_endpoint: var("MIM_S3_ENDPOINT", "http://127.0.0.1:19000"),
                s3_region: var("MIM_S3_REGION", "us-east-1"),
                bucket: var("MIM_S3_BUCKET", "motion-clips"),
                access_key: var("MIM_S3_ACCESS_KEY", "mim-dev-access"),
                secret_key: var("MIM_S3_SECRET_KEY", "mim-dev-secret-key-0001"),
                read_access_key: var("MIM_S3_READ_ACCESS_KEY", "mim-dev-reader"),
                read_secret_key: var("MIM_S3_READ_SECRET_KEY", "mim-dev-reader-secret-0001"),
            };
            if !stack.reachable() {
                let up = repo_root().join("tests/stack/up");
                let status = Command::new(&up)
                    .status()
                    .unwrap_or_else(|e| panic!("cannot run {}: {e}", up.display()));
                assert!(status.success(), "{} failed ({status})", up.display());
                assert!(
                    stack.reachable(),
                    "the stack is still not reachable after tests/stack/up"
                );
            }
            stack
        })
    }

    fn reachable(&self) -> bool {
        // A cluster's bootstrap is a list; one broker answering is enough for the clients.
        let kafka = self.kafka_bootstrap.split(',').any(|h| listening(h.trim()));
        kafka && listening(self.s3_host())
    }

    /// `host:port` of the S3 server.
    pub fn s3_host(&self) -> &str {
        self.s3_endpoint
            .split_once("://")
            .map_or(self.s3_endpoint.as_str(), |(_, h)| h)
            .trim_end_matches('/')
    }

    /// The S3 server's port, for relays put in front of it.
    pub fn s3_port(&self) -> u16 {
        self.s3_host()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in the S3 endpoint {}", self.s3_endpoint))
    }

    pub fn kafka(&self) -> KafkaSettings {
        let mut k = KafkaSettings::plaintext(self.kafka_bootstrap.clone());
        k.topic = self.topic.clone();
        k
    }

    pub fn s3(&self) -> S3Settings {
        S3Settings {
            bucket: self.bucket.clone(),
            region: self.s3_region.clone(),
            endpoint: Some(self.s3_endpoint.clone()),
            path_style: Some(true),
            access_key_id: self.access_key.clone(),
            secret_access_key: Secret::new(self.secret_key.clone()),
            public_base_url: None,
        }
    }

    /// The bucket with the read-only key, as the desktop app reads it.
    pub fn s3_reader(&self) -> S3Settings {
        S3Settings {
            access_key_id: self.read_access_key.clone(),
            secret_access_key: Secret::new(self.read_secret_key.clone()),
            ..self.s3()
        }
    }

    /// The desktop app's environment for the bucket and its read-only key (its `--s3-*`
    /// flags): the player gets presigned URLs.
    pub fn s3_read_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MIM_S3_READ_BUCKET", self.bucket.clone()),
            ("MIM_S3_READ_ENDPOINT", self.s3_endpoint.clone()),
            ("MIM_S3_READ_REGION", self.s3_region.clone()),
            ("MIM_S3_READ_KEY", self.read_access_key.clone()),
            ("MIM_S3_READ_SECRET", self.read_secret_key.clone()),
        ]
    }
}

/// `url` (an object of the stack's bucket, as events carry them) presigned for a minute with
/// the read-only key, as the desktop app presigns the URLs its player loads.
pub async fn presigned(url: &str) -> String {
    use object_store::signer::Signer;
    let stack = Stack::get();
    let reader = stack.s3_reader();
    let key = url
        .strip_prefix(&reader.object_url(""))
        .unwrap_or_else(|| panic!("{url} is not in the stack's bucket"));
    s3_store(&reader)
        .signed_url(
            reqwest::Method::GET,
            &object_store::path::Path::from(key),
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot presign {url}: {e}"))
        .to_string()
}

/// `method url` with `body`, signed with `key`/`secret` by object_store's SigV4 signer (the one
/// the edge node uploads through): the status and the body (an error when no response came).
pub fn s3_signed(
    method: &str,
    url: &str,
    body: String,
    (key, secret): (&str, &str),
) -> Result<(u16, Vec<u8>), String> {
    use object_store::aws::{AwsAuthorizer, AwsCredential};
    use object_store::client::HttpRequest;
    let credential = AwsCredential {
        key_id: key.to_owned(),
        secret_key: secret.to_owned(),
        token: None,
    };
    let mut request: HttpRequest = http::Request::builder()
        .method(method)
        .uri(url)
        .body(body.clone().into())
        .map_err(|e| format!("not an S3 request: {e}"))?;
    AwsAuthorizer::new(&credential, "s3", &Stack::get().s3_region).authorize(&mut request, None);
    http_with_headers(method, url, request.headers().clone(), Some(body))
}

/// Whether something accepts connections at `host_port` (`host:port`) right now.
pub fn listening(host_port: &str) -> bool {
    host_port
        .to_socket_addrs()
        .map(|mut addrs| {
            addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
        })
        .unwrap_or(false)
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// One of the workspace's binaries, built by `cargo build --bins` before the tests run.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // A test: target/<profile>/deps/e2e-<hash> -> target/<profile>/<name>; a bench binary
    // lives beside the others.
    let here = exe.parent().expect("a binary lives in a folder");
    let dir = if here.join(name).exists() {
        here
    } else {
        here.parent()
            .expect("test binary lives in target/<profile>/deps")
    };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the cross-process tests",
        path.display()
    );
    path
}

/// A unique, valid id for this test run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Every event in the desktop cache `db`, newest first, read with `motion-in-motion search`
/// (another process, as the window would be).
pub fn cached_events(db: &Path) -> Vec<motion_event::MotionEvent> {
    let out = Command::new(bin("motion-in-motion"))
        .args(["search", "--json", "--limit", "1000000", "--db"])
        .arg(db)
        .output()
        .expect("run motion-in-motion search");
    assert!(
        out.status.success(),
        "search failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| {
            motion_event::MotionEvent::from_json(l.as_bytes()).expect("search prints valid events")
        })
        .collect()
}

/// Encodes the filter graph `graph` (whose output pad is `[out]`) to H.264 in `output`.
pub fn h264_from_graph(graph: &str, output: &Path) {
    video_from_graph(graph, "libx264", &[], output);
}

/// Encodes the filter graph `graph` (output pad `[out]`) with `encoder` at preset `veryfast`
/// and the encoder options `extra` (`-g 15`, …) in `output`.
pub fn video_from_graph(graph: &str, encoder: &str, extra: &[&str], output: &Path) {
    let mut args = vec![
        "-filter_complex",
        graph,
        "-map",
        "[out]",
        "-c:v",
        encoder,
        "-preset",
        "veryfast",
    ];
    args.extend_from_slice(extra);
    ffmpeg(&args, output);
}

/// Runs `ffmpeg -hide_banner -loglevel error -y ARGS OUTPUT` and panics unless it succeeds.
pub fn ffmpeg(args: &[&str], output: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(output)
        .status()
        .expect("ffmpeg runs (install it with scripts/install-deps)");
    assert!(
        status.success(),
        "ffmpeg failed to make {}",
        output.display()
    );
}

/// An HTTP request from a test, with reqwest's blocking client on a thread of its own (so sync
/// and async tests alike can call it), bounded by 10 s. Returns the status and the body.
pub fn http(method: &str, url: &str, body: Option<String>) -> Result<(u16, Vec<u8>), String> {
    http_with_headers(method, url, reqwest::header::HeaderMap::new(), body)
}

/// The same with `headers`.
pub fn http_with_headers(
    method: &str,
    url: &str,
    headers: reqwest::header::HeaderMap,
    body: Option<String>,
) -> Result<(u16, Vec<u8>), String> {
    let (method, target) = (method.to_owned(), url.to_owned());
    std::thread::spawn(move || {
        let url = target;
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let mut request = client.request(method, &url).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().map_err(|e| format!("{url}: {e}"))?;
        Ok((status, bytes.to_vec()))
    })
    .join()
    .map_err(|_| format!("the request to {url} panicked"))?
}

/// The first video stream of `file` as ffprobe describes it, with the stream `entries` asked for
/// (`"codec_name,width,height"`); numbers that ffprobe writes as strings stay strings.
pub fn video_stream(file: &Path, entries: &str) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-of", "json"])
        .args(["-show_entries", &format!("stream={entries}")])
        .arg(file)
        .output()
        .expect("ffprobe runs (install it with scripts/install-deps)");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ffprobe's JSON for {}: {e}", file.display()));
    json["streams"][0].clone()
}

/// A short H.264 MP4 made with ffmpeg's test source.
pub fn make_clip(dir: &Path, name: &str, seconds: u32) -> PathBuf {
    let path = dir.join(name);
    let source = format!("testsrc=size=320x240:rate=15:duration={seconds}");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            &source,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
        ],
        &path,
    );
    path
}

/// An S3 client for `settings` (the local MinIO: path-style over http), without retries, so a
/// refusal shows at once.
pub fn s3_store(settings: &S3Settings) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_region(&settings.region)
        .with_endpoint(settings.endpoint.as_deref().expect("a local endpoint"))
        .with_allow_http(true)
        .with_access_key_id(&settings.access_key_id)
        .with_secret_access_key(settings.secret_access_key.expose())
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .expect("an S3 client")
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Text without terminal colour codes, so log lines can be matched field by field.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte in @..~
            if chars.next() == Some('[') {
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
