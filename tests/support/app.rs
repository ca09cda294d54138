//! The desktop app run headless: `motion-in-motion` commands with nothing of this machine's
//! environment leaking in, and [`Sync`], the one runner of `motion-in-motion sync` that every
//! test uses (a process group of its own, stopped when the handle drops, pass or panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::{send_signal, Proc};
use crate::{bin, plain, unique, Stack};

/// The app's settings that come from the environment: a developer's own must not reach a test.
const ENVIRONMENT: [&str; 11] = [
    "MIM_DB",
    "MIM_CONFIG_DIR",
    "MIM_KSQLDB_URL",
    "MIM_KSQLDB_KEY",
    "MIM_KSQLDB_SECRET",
    "MIM_KSQLDB_STREAM",
    "MIM_KSQLDB_CA_FILE",
    "MIM_S3_READ_SECRET",
    "MIM_KAFKA_BOOTSTRAP",
    "MIM_KAFKA_TOPIC",
    "MIM_KAFKA_STATUS_TOPIC",
];

/// `motion-in-motion` with none of the app's settings from this machine's environment, and no
/// colours in its log. No Wayland display either: one the test gives (`DISPLAY`) is an X server,
/// and GTK would prefer the developer's Wayland to it.
pub fn command() -> Command {
    let mut cmd = Command::new(bin("motion-in-motion"));
    for var in ENVIRONMENT {
        cmd.env_remove(var);
    }
    cmd.env_remove("WAYLAND_DISPLAY").env("NO_COLOR", "1");
    cmd
}

/// Where a `sync` reads events from.
#[derive(Clone, Debug)]
pub enum Source {
    Kafka { bootstrap: String, topic: String },
    KsqlDb { url: String },
}

impl Source {
    /// `topic` on the stack's Kafka.
    pub fn kafka(topic: &str) -> Source {
        Source::Kafka {
            bootstrap: Stack::get().kafka_bootstrap.clone(),
            topic: topic.to_owned(),
        }
    }

    pub fn ksqldb(url: &str) -> Source {
        Source::KsqlDb {
            url: url.to_owned(),
        }
    }

    fn args(&self) -> Vec<&str> {
        match self {
            Source::Kafka { bootstrap, topic } => {
                vec!["--kafka-bootstrap", bootstrap, "--topic", topic]
            }
            Source::KsqlDb { url } => vec!["--ksqldb-url", url],
        }
    }
}

/// A running `motion-in-motion sync --db DB --config-dir <its own> SOURCE ARGS…`, logging at
/// debug level to a file beside the cache.
pub struct Sync {
    proc: Proc,
    pub stderr: PathBuf,
}

impl Sync {
    /// Starts it with extra `args` and `env` (which win over the defaults: `RUST_LOG`, …).
    pub fn start(db: &Path, source: &Source, args: &[&str], env: &[(&str, &str)]) -> Sync {
        let dir = db.parent().expect("db has a folder");
        let config = dir.join(unique("config"));
        std::fs::create_dir_all(&config).expect("config folder");
        let stderr = dir.join(format!("{}.err", unique("sync")));
        let proc = Proc::spawn(
            command()
                .arg("sync")
                .arg("--db")
                .arg(db)
                .arg("--config-dir")
                .arg(&config)
                .args(source.args())
                .args(args)
                .env("RUST_LOG", "motion_in_motion_lib=debug,ksqldb=debug")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr).expect("sync stderr file")),
            "motion-in-motion sync",
        );
        Sync { proc, stderr }
    }

    /// The same following the ksqlDB server at `url`.
    pub fn ksqldb(db: &Path, url: &str, args: &[&str], env: &[(&str, &str)]) -> Sync {
        Sync::start(db, &Source::ksqldb(url), args, env)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        plain(&std::fs::read_to_string(&self.stderr).unwrap_or_default())
    }

    /// Lines of the log that contain every one of `words`.
    pub fn lines_with(&self, words: &[&str]) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .map(str::to_owned)
            .collect()
    }

    /// The process's peak resident memory (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.id()))
            .expect("the sync process is still running");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kib * 1024
    }

    /// Panics if the process has exited (crashed): it must only ever stop when told to.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.proc.child().try_wait() {
            panic!("sync exited ({status}):\n{}", self.log());
        }
    }

    /// `kill -9`, as a crash or a power cut would stop it; returns its log.
    pub fn kill9(mut self) -> String {
        send_signal("KILL", self.proc.id(), false);
        let _ = self.proc.child().wait();
        self.log()
    }
}
