//! The one handle for every process a test starts: it leads a process group of its own, which
//! its children inherit, and the whole group is stopped when the handle drops, whether the test
//! passed or panicked. An ffmpeg an edge node started, or a web process a browser started, does
//! not outlive the test.

use std::collections::{HashMap, HashSet};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A child process (with every process it started) that is stopped when the handle drops.
///
/// Spawned through [`Proc::spawn`], the child leads a new process group, which its own
/// children inherit; dropping sends SIGTERM to the group, then SIGKILL to whatever is left of
/// it and to any descendant that left the group (a new session, for instance).
pub struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    /// Spawns `cmd` as the leader of a new process group; `what` names it in messages.
    pub fn spawn(cmd: &mut Command, what: &str) -> Proc {
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc {
            child,
            what: what.to_owned(),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child itself (for its pipes and exit status).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Whether the group leader is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the group: SIGTERM, up to 3 s to exit, then SIGKILL for the rest. Idempotent.
    pub fn stop(&mut self) {
        self.end(Some(Duration::from_secs(3)));
    }

    /// SIGKILL for the whole group at once, as a power cut would stop it. Idempotent.
    pub fn kill(&mut self) {
        self.end(None);
    }

    /// SIGTERM first when there is a `grace` to exit in, then SIGKILL for whatever is left.
    fn end(&mut self, grace: Option<Duration>) {
        let pid = self.child.id();
        // Noted before any signal: once the leader is gone its children are re-parented.
        let descendants = descendants(pid);
        if let Some(grace) = grace {
            signal_group("TERM", pid);
            let deadline = Instant::now() + grace;
            while self.running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // The leader may have gone while others in the group ignored SIGTERM.
        signal_group("KILL", pid);
        for (p, started) in descendants {
            // Only the very process noted above: a pid may have been reused since.
            if start_time(p) == Some(started) {
                send_signal("KILL", p, false);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {})", self.what, self.child.id())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `SIG<sig>` to the process group `pgid`; a group that is already gone is fine.
fn signal_group(sig: &str, pgid: u32) {
    send_signal(sig, pgid, true);
}

/// Sends `SIG<sig>` (`"TERM"`, `"KILL"`, ...) to `pid`, or to the process group `pid` leads.
/// Errors (the process is gone) are of no interest to a test tearing down.
pub fn send_signal(sig: &str, pid: u32, group: bool) {
    use nix::sys::signal::{kill, killpg, Signal};
    use nix::unistd::Pid;
    let signal: Signal = format!("SIG{sig}")
        .parse()
        .unwrap_or_else(|_| panic!("SIG{sig} is not a signal"));
    let Ok(pid) = i32::try_from(pid).map(Pid::from_raw) else {
        return;
    };
    let _ = if group {
        killpg(pid, signal)
    } else {
        kill(pid, signal)
    };
}

/// `(ppid, start time)` of `pid`, from `/proc/PID/stat` (the fields after the command name,
/// which may itself hold spaces and parentheses).
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, starttime field 22.
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|(_, started)| started)
}

/// Every live descendant of `root` with its start time.
fn descendants(root: u32) -> Vec<(u32, u64)> {
    let mut children: HashMap<u32, Vec<(u32, u64)>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some((ppid, started)) = stat(pid) {
            children.entry(ppid).or_default().push((pid, started));
        }
    }
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &(c, started) in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(c) {
                found.push((c, started));
                todo.push(c);
            }
        }
    }
    found
}
