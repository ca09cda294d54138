//! A desktop session of the test's own: an X server (Xvfb) that picks a free display itself, a
//! private D-Bus session bus and the dunst notification server on both. Nothing here touches
//! the user's display or bus, so tests run side by side and on machines without a desktop.
//! Each runs as a [`Proc`]: a daemon that D-Bus activated does not outlive the test.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::process::Proc;
use crate::wait_for;

/// Reads the first line a child prints, which is how Xvfb and dbus-daemon tell what they chose.
/// The rest of the pipe is kept open (dropping it would break the child's next write).
fn first_line(child: &mut Child, what: &str) -> (String, BufReader<ChildStdout>) {
    let mut out = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    out.read_line(&mut line)
        .unwrap_or_else(|e| panic!("cannot read {what}: {e}"));
    let line = line.trim().to_owned();
    assert!(!line.is_empty(), "{what} exited without saying where it is");
    (line, out)
}

/// The X server, bus and notification server of one test.
/// Fields drop in order: dunst before the bus, the bus before the X server.
pub struct Desktop {
    _dunst: Proc,
    _bus: Proc,
    _bus_out: BufReader<ChildStdout>,
    _x: Proc,
    _x_out: BufReader<ChildStdout>,
    display: String,
    bus_address: String,
    dunst_log: PathBuf,
}

/// A session bus's configuration without `<standard_session_servicedirs/>`; `LISTEN` is
/// replaced by the address. One file, shared with the benchmarks (bench/lib/desktopbench.py).
const BUS_CONFIG: &str = include_str!("session-bus.conf");

/// The screen of the X server: larger than the app's default window (1100x720).
const SCREEN: &str = "1280x800x24";

impl Desktop {
    /// Starts Xvfb, a session bus and dunst, with files (dunstrc, dunst.log) in `dir`.
    ///
    /// `critical_summary`: a dunst glob for the summaries of the test's own popups, which it
    /// makes critical (never expiring, listed first) so `dunstctl action 0` reaches them. Every
    /// other popup expires after 2 s, so it never crowds a test's popups out.
    pub fn start(dir: &Path, critical_summary: Option<&str>) -> Desktop {
        // Xvfb picks a free display itself and prints its number on the given fd.
        let mut x = Proc::spawn(
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    SCREEN,
                    "-nolisten",
                    "tcp",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "Xvfb (scripts/install-deps installs it)",
        );
        let (number, x_out) = first_line(x.child(), "Xvfb's display");
        let display = format!(":{number}");

        // The session bus's policy, but no service directories: nothing is D-Bus activated,
        // so no daemon (a second dunst racing ours, an accessibility bus) starts behind the
        // test's back, and a call to a name nobody owns fails instead.
        let bus_config = dir.join("session-bus.conf");
        let listen = format!("unix:dir={}", dir.display());
        std::fs::write(&bus_config, BUS_CONFIG.replace("LISTEN", &listen))
            .expect("write the bus config");
        let mut bus = Proc::spawn(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", bus_config.display()))
                .args(["--nofork", "--print-address=1"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "dbus-daemon (scripts/install-deps installs dbus-x11)",
        );
        let (bus_address, bus_out) = first_line(bus.child(), "the D-Bus address");

        // Markup on (dunst's default, and the case where an unescaped tag would render).
        let config = dir.join("dunstrc");
        let mut rc = String::from(
            "[global]\n    markup = full\n    history_length = 1000\n    notification_limit = 0\n    sort = yes\n\
             [urgency_low]\n    timeout = 2\n[urgency_normal]\n    timeout = 2\n\
             [urgency_critical]\n    timeout = 0\n",
        );
        if let Some(summary) = critical_summary {
            rc.push_str(&format!(
                "[this_test]\n    summary = \"{summary}\"\n    urgency = critical\n"
            ));
        }
        std::fs::write(&config, rc).expect("write dunstrc");
        let dunst_log = dir.join("dunst.log");
        let log = std::fs::File::create(&dunst_log).expect("dunst log");
        let mut cmd = Command::new("dunst");
        cmd.arg("-config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
            .env_remove("WAYLAND_DISPLAY");
        let dunst = Proc::spawn(&mut cmd, "dunst (scripts/install-deps installs it)");

        let desktop = Desktop {
            _dunst: dunst,
            _bus: bus,
            _bus_out: bus_out,
            _x: x,
            _x_out: x_out,
            display,
            bus_address,
            dunst_log,
        };
        wait_for("dunst on the private bus", Duration::from_secs(30), || {
            desktop.dunstctl(&["is-paused"])
        });
        desktop
    }

    /// The X display, e.g. `:3`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The private session bus, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// What a child needs in its environment to live on this desktop: `DISPLAY` and
    /// `DBUS_SESSION_BUS_ADDRESS`. Also remove `WAYLAND_DISPLAY` (see [`Desktop::apply`]).
    pub fn env(&self) -> [(&'static str, &str); 2] {
        [
            ("DISPLAY", self.display.as_str()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address.as_str()),
        ]
    }

    /// Puts `cmd` on this desktop: [`Desktop::env`], and no Wayland display that GTK would
    /// prefer to the X server.
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.envs(self.env()).env_remove("WAYLAND_DISPLAY")
    }

    /// dunst's stderr.
    pub fn dunst_log(&self) -> String {
        std::fs::read_to_string(&self.dunst_log).unwrap_or_default()
    }

    /// Runs `dunstctl ARGS` on this session; its output if it succeeded.
    pub fn dunstctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The closed notifications, newest first, as field -> value.
    pub fn history(&self) -> Vec<HashMap<String, Value>> {
        let Some(json) = self.dunstctl(&["history"]) else {
            return Vec::new();
        };
        let parsed: Value = serde_json::from_str(&json).expect("dunstctl history prints JSON");
        parsed["data"][0]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_object)
                    .map(|fields| {
                        fields
                            .iter()
                            .map(|(k, v)| (k.clone(), v["data"].clone()))
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The history entry whose summary is `summary`, once there is one.
    pub fn find(&self, summary: &str) -> Option<HashMap<String, Value>> {
        self.history()
            .into_iter()
            .find(|n| n.get("summary").and_then(Value::as_str) == Some(summary))
    }
}
