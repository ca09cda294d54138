//! Private instances of the real servers, for tests that stop and restart them (the shared
//! stack must stay up for the other tests), a camera behind GStreamer's RTSP server, and a
//! throttling TCP relay that makes an upload slow enough to be interrupted. The binaries are the
//! stack's own (MinIO, Kafka's jars; `Stack::get()` installs them) and Debian's GStreamer
//! (`scripts/install-deps`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::process::Proc;
use crate::{repo_root, wait_for, Stack};

fn cache() -> PathBuf {
    PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/motion-in-motion")
}

/// Kills a server's whole process group at once (as a crash or a power cut would), if it runs.
fn kill(server: &mut Option<Proc>) {
    if let Some(mut server) = server.take() {
        server.kill();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A camera as IP cameras are: GStreamer's RTSP server (`tests/stack/rtsp-server`) serving an
/// H.264 MP4's packets in real time, or a live scene, behind basic authentication.
pub struct RtspCamera {
    pub port: u16,
    /// What the server serves: `--file F`, or `--scene WxH ...`.
    source: Vec<String>,
    user: String,
    password: String,
    log: PathBuf,
    child: Option<Proc>,
}

impl RtspCamera {
    /// `user` and `password` must be URL-safe as they are (they go into [`url`](Self::url)).
    pub fn start(dir: &Path, file: &Path, user: &str, password: &str) -> RtspCamera {
        let source = vec!["--file".into(), file.display().to_string()];
        RtspCamera::serve(dir, "rtsp-server.log", source, user, password)
    }

    /// One stream of a camera showing the server's live scene (see `tests/stack/rtsp-server`):
    /// frame k is due at `epoch` + k / 15 s and shows k as a barcode in its top twelfth, so two
    /// of these with the same `epoch` are one camera's main and sub stream. `gop`: frames from
    /// one keyframe to the next.
    pub fn scene(
        dir: &Path,
        size: &str,
        gop: u32,
        epoch: f64,
        user: &str,
        password: &str,
    ) -> RtspCamera {
        let source = vec![
            "--scene".into(),
            size.into(),
            "--gop".into(),
            gop.to_string(),
            "--epoch".into(),
            format!("{epoch:.3}"),
        ];
        let log = format!("rtsp-server-{size}.log");
        RtspCamera::serve(dir, &log, source, user, password)
    }

    fn serve(dir: &Path, log: &str, source: Vec<String>, user: &str, password: &str) -> RtspCamera {
        let mut camera = RtspCamera {
            port: free_port(),
            source,
            user: user.into(),
            password: password.into(),
            log: dir.join(log),
            child: None,
        };
        camera.resume();
        camera
    }

    /// The stream's URL with its credentials, as a user writes it into the config.
    pub fn url(&self) -> String {
        format!(
            "rtsp://{}:{}@127.0.0.1:{}/cam",
            self.user, self.password, self.port
        )
    }

    /// Starts it again after [`stop`](Self::stop), on the same port: a new session plays the
    /// file from its start (a scene goes on where the clock is).
    pub fn resume(&mut self) {
        let log = std::fs::File::create(&self.log).expect("rtsp-server log");
        let child = Proc::spawn(
            Command::new(repo_root().join("tests/stack/rtsp-server"))
                .args(&self.source)
                .args(["--port", &self.port.to_string()])
                .args(["--user", &self.user, "--password", &self.password])
                .stdout(Stdio::null())
                .stderr(log),
            "tests/stack/rtsp-server (it needs python3-gi and gir1.2-gst-rtsp-server-1.0)",
        );
        self.child = Some(child);
        let port = self.port;
        let log = self.log.clone();
        wait_for("the RTSP server to listen", Duration::from_secs(30), || {
            crate::listening(&format!("127.0.0.1:{port}")).then_some(())
        });
        assert!(
            self.child.as_mut().is_some_and(Proc::running),
            "rtsp-server exited: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    /// Kills the server, as a camera losing power would.
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }
}

impl Drop for RtspCamera {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A MinIO server of our own, with the stack's root credentials and its private bucket.
pub struct PrivateS3 {
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    child: Option<Proc>,
}

impl PrivateS3 {
    pub fn start(dir: &Path) -> PrivateS3 {
        Stack::get();
        let mut s3 = PrivateS3 {
            port: free_port(),
            data: dir.join("s3-data"),
            log: dir.join("s3.log"),
            child: None,
        };
        s3.resume();
        s3.create_bucket();
        s3
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts it again after [`stop`](Self::stop), on the same port and data.
    pub fn resume(&mut self) {
        let stack = Stack::get();
        let log = std::fs::File::create(&self.log).expect("s3 log");
        let child = Proc::spawn(
            Command::new(cache().join("bin/minio"))
                .args(["server", "--quiet", "--address"])
                .arg(format!("127.0.0.1:{}", self.port))
                .arg("--console-address")
                .arg(format!("127.0.0.1:{}", free_port()))
                .arg(&self.data)
                .env("MINIO_ROOT_USER", &stack.access_key)
                .env("MINIO_ROOT_PASSWORD", &stack.secret_key)
                .env("MINIO_REGION", &stack.s3_region)
                .env("MINIO_BROWSER", "off")
                .env("MINIO_UPDATE", "off")
                .stdout(Stdio::null())
                .stderr(log),
            "minio",
        );
        self.child = Some(child);
        // `ready`, not `live`: MinIO is live before its object layer is up, and answers 503 to
        // the bucket's creation until then (seen in faults::s3_down_60s).
        let url = format!("{}/minio/health/ready", self.endpoint());
        wait_for("private MinIO to be ready", Duration::from_secs(60), || {
            let ok = crate::http("GET", &url, None).is_ok_and(|(status, _)| status == 200);
            ok.then_some(())
        });
    }

    /// Kills the server (as a crash or a power cut would).
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// The stack's bucket, private as the stack's own is (read with the root key here).
    fn create_bucket(&self) {
        let stack = Stack::get();
        s3_request(
            "PUT",
            &format!("{}/{}", self.endpoint(), stack.bucket),
            String::new(),
        );
    }
}

/// `method url` with `body`, signed with the stack's root key; panics unless the server says yes.
fn s3_request(method: &str, url: &str, body: String) {
    let stack = Stack::get();
    let root = (stack.access_key.as_str(), stack.secret_key.as_str());
    // Even once `ready`, MinIO can answer 503 XMinioServerNotInitialized for a moment while its
    // IAM subsystem loads (seen in CI in faults::spool): that is a "not yet", not a no.
    let answer = wait_for(
        &format!("{method} {url} past 503"),
        Duration::from_secs(60),
        || match crate::s3_signed(method, url, body.clone(), root) {
            Ok((503, _)) => None,
            other => Some(other),
        },
    );
    match answer {
        Ok((status, _)) if (200..300).contains(&status) => {}
        Ok((status, reply)) => panic!(
            "{method} {url}: {status}: {}",
            String::from_utf8_lossy(&reply)
        ),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A one-node Kafka (KRaft) of our own that creates topics on first use.
pub struct PrivateKafka {
    pub port: u16,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Proc>,
}

fn kafka_classpath() -> String {
    let pom = std::fs::read_to_string(repo_root().join("tests/stack/kafka/pom.xml")).expect("pom");
    let version = pom
        .split("<kafka.version>")
        .nth(1)
        .and_then(|s| s.split("</kafka.version>").next())
        .expect("kafka.version in the pom");
    format!(
        "{}/*",
        cache().join(format!("kafka-{version}/libs")).display()
    )
}

impl PrivateKafka {
    pub fn start(dir: &Path) -> PrivateKafka {
        Stack::get();
        let port = free_port();
        let controller = free_port();
        let logs = dir.join("kafka-data");
        let conf = dir.join("kafka.properties");
        std::fs::write(
            &conf,
            format!(
                "process.roles=broker,controller\nnode.id=1\n\
                 controller.quorum.voters=1@127.0.0.1:{controller}\n\
                 listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
                 advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
                 controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n\
                 listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
                 log.dirs={}\nnum.partitions=3\noffsets.topic.replication.factor=1\n\
                 transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n\
                 group.initial.rebalance.delay.ms=0\nauto.create.topics.enable=true\n",
                logs.display()
            ),
        )
        .expect("kafka config");
        let tool = |args: &[&str]| {
            let out = Command::new("java")
                .args([
                    "-Xmx256m",
                    "-cp",
                    &kafka_classpath(),
                    "kafka.tools.StorageTool",
                ])
                .args(args)
                .output()
                .expect("java runs");
            assert!(
                out.status.success(),
                "StorageTool {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let cluster = tool(&["random-uuid"]);
        let conf_arg = conf.display().to_string();
        tool(&["format", "--cluster-id", &cluster, "--config", &conf_arg]);
        let mut kafka = PrivateKafka {
            port,
            conf,
            log: dir.join("kafka.log"),
            child: None,
        };
        kafka.resume();
        kafka
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it again after [`stop`](Self::stop), on the same port and data.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(&self.log).expect("kafka log");
        let log4j = repo_root().join("tests/stack/kafka/server-log4j.properties");
        let child = Proc::spawn(
            Command::new("java")
                .args(["-Xms128m", "-Xmx384m", "-Djava.awt.headless=true"])
                .arg(format!("-Dlog4j.configuration=file:{}", log4j.display()))
                .arg(format!(
                    "-Dkafka.logs.dir={}",
                    self.log.parent().unwrap_or(Path::new("/tmp")).display()
                ))
                .args(["-cp", &kafka_classpath(), "kafka.Kafka"])
                .arg(&self.conf)
                .stdout(Stdio::null())
                .stderr(log),
            "kafka",
        );
        self.child = Some(child);
        let port = self.port;
        wait_for("private Kafka to listen", Duration::from_secs(120), || {
            crate::listening(&format!("127.0.0.1:{port}")).then_some(())
        });
    }

    /// Kills the broker (as a crash would).
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }
}

impl Drop for PrivateKafka {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A three-node Kafka cluster of its own: `tests/stack/up kafka --brokers 3` in a private stack
/// directory on free ports (replication 3, `min.insync.replicas=2`, as the stack's cluster),
/// its faults driven through `tests/stack/broker`, so that the tests and a person at a shell
/// use the same commands. Stopped (`tests/stack/down`) when dropped.
pub struct PrivateCluster {
    env: Vec<(String, String)>,
    bootstrap: String,
}

impl PrivateCluster {
    pub fn start(dir: &Path) -> PrivateCluster {
        Stack::get();
        let mut env = vec![(
            "MIM_STACK_DIR".to_owned(),
            dir.join("cluster").display().to_string(),
        )];
        let mut ports = Vec::new();
        for n in 1..=3 {
            let (port, controller) = (free_port(), free_port());
            ports.push(port);
            env.push((format!("MIM_KAFKA_NODE{n}_PORT"), port.to_string()));
            env.push((
                format!("MIM_KAFKA_NODE{n}_CONTROLLER_PORT"),
                controller.to_string(),
            ));
        }
        let cluster = PrivateCluster {
            env,
            bootstrap: ports
                .iter()
                .map(|p| format!("127.0.0.1:{p}"))
                .collect::<Vec<_>>()
                .join(","),
        };
        cluster.script("up", &["kafka", "--brokers", "3"]);
        cluster
    }

    /// The bootstrap list of all three brokers.
    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    /// Runs `tests/stack/NAME ARGS` on this cluster; panics with its output when it fails.
    fn script(&self, name: &str, args: &[&str]) -> String {
        let out = Command::new(repo_root().join("tests/stack").join(name))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("tests/stack/{name} does not run: {e}"));
        assert!(
            out.status.success(),
            "tests/stack/{name} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `tests/stack/broker ARGS`: `kill N`, `start N`, `restart N`, `stop N`, `cont N`.
    pub fn broker(&self, args: &[&str]) {
        self.script("broker", args);
    }

    /// The node leading `partition` of `topic`.
    pub fn leader(&self, topic: &str, partition: i32) -> u8 {
        let out = self.script("broker", &["leader", topic, &partition.to_string()]);
        out.parse()
            .unwrap_or_else(|_| panic!("tests/stack/broker leader printed {out:?}"))
    }

    /// Waits until every partition of `topic` has all three replicas in sync again.
    pub fn wait_full_isr(&self, topic: &str) {
        self.script("broker", &["wait-isr", topic, "3", "180"]);
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        // A stopped (SIGSTOP) node would not stop on SIGTERM: continue them all first.
        for n in ["1", "2", "3"] {
            let _ = Command::new(repo_root().join("tests/stack/broker"))
                .args(["cont", n])
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .output();
        }
        let _ = Command::new(repo_root().join("tests/stack/down"))
            .args(["--brokers", "3"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output();
    }
}

/// A TCP relay to `upstream` that passes client bytes at most `bytes_per_s`, so that an upload
/// takes long enough to be cut in the middle.
pub struct SlowRelay {
    pub port: u16,
    sent: Arc<AtomicU64>,
}

impl SlowRelay {
    pub fn start(upstream: u16, bytes_per_s: u64) -> SlowRelay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("relay address").port();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&sent);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let counter = Arc::clone(&counter);
                let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                    (Ok(c), Ok(s)) => (c, s),
                    _ => continue,
                };
                thread::spawn(move || pipe(client, server, Some((bytes_per_s, counter))));
                thread::spawn(move || pipe(s2, c2, None));
            }
        });
        SlowRelay { port, sent }
    }

    /// Bytes passed from clients to the server so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, throttle: Option<(u64, Arc<AtomicU64>)>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some((rate, counter)) = &throttle {
            counter.fetch_add(n as u64, Ordering::Relaxed);
            thread::sleep(Duration::from_secs_f64(n as f64 / *rate as f64));
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A TCP relay to `127.0.0.1:upstream` that can wedge the connections open at a moment: from
/// [`wedge`](Self::wedge) on they stay open but pass no byte either way, for good, as behind
/// a stuck server thread or a middlebox that lost its state without resetting. Connections
/// made later pass normally.
pub struct WedgeRelay {
    pub port: u16,
    /// Connections accepted so far, numbered from 0.
    accepted: Arc<std::sync::atomic::AtomicU64>,
    /// Connections with a number below this are wedged.
    wedge_below: Arc<std::sync::atomic::AtomicU64>,
}

impl WedgeRelay {
    pub fn start(upstream: u16) -> WedgeRelay {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::AtomicU64;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("relay address").port();
        let accepted = Arc::new(AtomicU64::new(0));
        let wedge_below = Arc::new(AtomicU64::new(0));
        let (count, below) = (Arc::clone(&accepted), Arc::clone(&wedge_below));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (b1, b2) = (Arc::clone(&below), Arc::clone(&below));
                thread::spawn(move || wedgeable_pipe(client, server, n, &b1));
                thread::spawn(move || wedgeable_pipe(s2, c2, n, &b2));
            }
        });
        WedgeRelay {
            port,
            accepted,
            wedge_below,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Wedges every connection accepted so far (at its next byte).
    pub fn wedge(&self) {
        self.wedge_below
            .store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

fn wedgeable_pipe(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    n: u64,
    wedge_below: &std::sync::atomic::AtomicU64,
) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buf) {
        if n < wedge_below.load(Ordering::SeqCst) {
            // Hold both sockets open and pass nothing, for as long as the test runs.
            loop {
                thread::sleep(Duration::from_secs(3600));
            }
        }
        if read == 0 || to.write_all(&buf[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
