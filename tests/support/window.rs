//! The real desktop app's window, driven over WebDriver: `tauri-driver` in front of WebKitGTK's
//! `WebKitWebDriver`, which starts `motion-in-motion` (the debug build, with the embedded
//! `ui/dist`) on a [`Desktop`] of the test's own (Xvfb, a private session bus, dunst).
//!
//! The app gets private folders (`HOME` and the `XDG_*` ones under the test's directory), so
//! its settings, cache and WebKit data never touch the user's, and no `MIM_*` variable of the
//! developer's environment reaches it: it follows only what the test passes.
//!
//! Everything started here (tauri-driver, WebKitWebDriver, the app, its WebKit processes, and
//! the desktop) is stopped when the [`AppWindow`] drops, including when a test panics.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::desktop::Desktop;
use crate::process::Proc;
use crate::servers::free_port;
use crate::{bin, repo_root, tail};

/// One event in the list. The UI's contract with these tests: each event is one element that
/// matches this selector and carries the event's id in [`EVENT_ID_ATTR`].
pub const EVENT_ROW: &str = r#"[data-testid="event-row"]"#;
/// The attribute of an [`EVENT_ROW`] that holds the event's `event_id`.
pub const EVENT_ID_ATTR: &str = "data-event-id";
/// Something React rendered: the app's UI is up (not a blank page).
pub const APP_RENDERED: &str = "#root > *";

/// WebKitGTK's WebDriver (Debian package webkit2gtk-driver, from scripts/install-deps).
pub const WEBKIT_WEBDRIVER: &str = "/usr/bin/WebKitWebDriver";

/// How long one WebDriver command may take before the test fails instead of hanging.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the app may take to open its window (a cold WebKit start under Xvfb).
const SESSION_TIMEOUT: Duration = Duration::from_secs(120);
/// The default for the waits below.
pub const WAIT: Duration = Duration::from_secs(60);

/// The `tauri-driver` binary: where scripts/install-deps puts it
/// (`~/.cache/motion-in-motion/tools/bin`), else the first one on `PATH`.
pub fn tauri_driver() -> PathBuf {
    let cached = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/motion-in-motion/tools/bin/tauri-driver"));
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("tauri-driver"))
                .find(|p| p.is_file())
        })
    };
    cached
        .filter(|p| p.is_file())
        .or_else(on_path)
        .expect("tauri-driver is missing: run scripts/install-deps (it installs it into ~/.cache/motion-in-motion/tools)")
}

/// The app under test: this build's, or the one `MIM_APP_BINARY` names (the installed
/// package's, for `tests/package/desktop`).
pub fn app_binary() -> PathBuf {
    match std::env::var_os("MIM_APP_BINARY") {
        Some(path) => PathBuf::from(path),
        None => bin("motion-in-motion"),
    }
}

/// Where screenshots go: `$CARGO_TARGET_DIR/screenshots`, else `<repo>/target/screenshots`;
/// with `MIM_UPDATE_SCREENSHOTS=1`, the README's `docs/screenshots` (to commit).
pub fn screenshot_dir() -> PathBuf {
    if std::env::var_os("MIM_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        return repo_root().join("docs").join("screenshots");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| repo_root().join(d)) // an absolute path replaces the root
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("screenshots")
}

/// An event row as the window shows it.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Its [`EVENT_ID_ATTR`].
    pub id: String,
    /// `textContent`: what the row says, markup-free.
    pub text: String,
    /// `innerHTML`, for checks on the elements inside.
    pub html: String,
}

/// The app's window under WebDriver, on its own desktop.
/// Fields drop in order: the WebDriver client, then the driver's process group (WebKitWebDriver,
/// the app and its WebKit processes with it), then the desktop.
pub struct AppWindow {
    client: Client,
    _driver: Proc,
    /// A Secret Service on the session bus, when asked for; stops before the bus.
    _keyring: Option<Proc>,
    desktop: Desktop,
    log: PathBuf,
    dir: PathBuf,
}

/// The environment of the app under test: this desktop's display and bus, a private home in
/// `dir` (settings, cache, keyring-less), and no `MIM_*` settings from the caller's shell.
fn private_session<'c>(cmd: &'c mut Command, desktop: &Desktop, dir: &Path) -> &'c mut Command {
    let (home, runtime) = (dir.join("home"), dir.join("runtime"));
    desktop.apply(cmd);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MIM_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("GDK_BACKEND", "x11")
        // No accessibility bridge: the private bus activates no a11y bus; GTK would warn.
        .env("NO_AT_BRIDGE", "1")
        // Mesa's software GL under Xvfb. Not WEBKIT_DISABLE_COMPOSITING_MODE: with
        // WebKitGTK 2.50 it makes WebDriver's Take Screenshot hang forever.
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("RUST_LOG", "motion_in_motion_lib=info,ksqldb=info")
        .env("NO_COLOR", "1")
}

impl AppWindow {
    /// Opens the window: `motion-in-motion ARGS` with `env` on top of the defaults, its files
    /// (logs, private home) in `dir`.
    pub async fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> AppWindow {
        Self::open(dir, args, env, false, None).await
    }

    /// As [`AppWindow::start`], with popups whose summary matches the dunst glob
    /// `critical_summary` made critical: they stay on screen until acted on.
    pub async fn start_keeping_popups(
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        critical_summary: &str,
    ) -> AppWindow {
        Self::open(dir, args, env, false, Some(critical_summary)).await
    }

    /// As [`AppWindow::start`], with a real Secret Service (gnome-keyring, its login keyring
    /// unlocked) on the session bus, where the app keeps its secrets.
    pub async fn start_with_keyring(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> AppWindow {
        Self::open(dir, args, env, true, None).await
    }

    async fn open(
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        keyring: bool,
        critical_summary: Option<&str>,
    ) -> AppWindow {
        assert!(
            Path::new(WEBKIT_WEBDRIVER).exists(),
            "{WEBKIT_WEBDRIVER} is missing: run scripts/install-deps (webkit2gtk-driver)"
        );
        let app = app_binary();
        let driver_bin = tauri_driver();
        let desktop = Desktop::start(dir, critical_summary);

        let (home, runtime) = (dir.join("home"), dir.join("runtime"));
        for d in ["config", "data", "cache", "state"] {
            std::fs::create_dir_all(home.join(d)).expect("private home");
        }
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
                .expect("runtime dir is private");
        }
        let keyring = keyring.then(|| {
            let mut cmd = Command::new("sh");
            cmd.args([
                "-c",
                "printf %s keyring-test-password | exec gnome-keyring-daemon --foreground \
                 --unlock --components=secrets",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            private_session(&mut cmd, &desktop, dir);
            Proc::spawn(
                &mut cmd,
                "gnome-keyring-daemon (scripts/install-deps installs it)",
            )
        });
        // tauri-driver, WebKitWebDriver and the app share this stderr (and stdout).
        let log = dir.join("app.log");
        // tauri-driver maps `tauri:options` to `webkitgtk:browserOptions` (binary + args
        // only): the app's environment is the driver's, which WebKitWebDriver passes on (adding
        // TAURI_WEBVIEW_AUTOMATION=true, which lets WebKit be automated).
        let capabilities = json!({
            "tauri:options": { "application": app, "args": args }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };

        // Ports are picked free but taken later: another test may win one in between, so a
        // driver that does not come up is retried on new ports.
        let mut why = String::new();
        for attempt in 1..=3 {
            let port = free_port();
            let native_port = loop {
                let p = free_port();
                if p != port {
                    break p;
                }
            };
            let out = File::options()
                .create(true)
                .append(true)
                .open(&log)
                .expect("app log");
            let err = out.try_clone().expect("app log");
            let mut cmd = Command::new(&driver_bin);
            cmd.arg("--port")
                .arg(port.to_string())
                .arg("--native-port")
                .arg(native_port.to_string())
                .args(["--native-driver", WEBKIT_WEBDRIVER])
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
            private_session(&mut cmd, &desktop, dir).envs(env.iter().copied());
            let mut driver = Proc::spawn(&mut cmd, "tauri-driver");

            let deadline = Instant::now() + Duration::from_secs(30);
            let up = loop {
                if !driver.running() {
                    break Err("tauri-driver exited");
                }
                if crate::listening(&format!("127.0.0.1:{port}"))
                    && crate::listening(&format!("127.0.0.1:{native_port}"))
                {
                    break Ok(());
                }
                if Instant::now() > deadline {
                    break Err("tauri-driver or WebKitWebDriver is not listening after 30 s");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            if let Err(e) = up {
                why = format!("attempt {attempt}: {e} (ports {port}, {native_port})");
                eprintln!("{why}");
                continue;
            }

            let url = format!("http://127.0.0.1:{port}");
            let session = tokio::time::timeout(
                SESSION_TIMEOUT,
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&url),
            )
            .await;
            match session {
                Ok(Ok(client)) => {
                    let window = AppWindow {
                        client,
                        _driver: driver,
                        _keyring: keyring,
                        desktop,
                        log,
                        dir: dir.to_owned(),
                    };
                    window.check_embedded_ui().await;
                    return window;
                }
                Ok(Err(e)) => why = format!("no WebDriver session: {e}"),
                Err(_) => why = format!("no WebDriver session after {SESSION_TIMEOUT:?}"),
            }
            break;
        }
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        panic!(
            "the app window did not open: {why}\n--- app log (tauri-driver, WebKitWebDriver, \
             motion-in-motion) ---\n{}\n--- dunst log ---\n{}",
            tail(&log, 300),
            desktop.dunst_log()
        );
    }

    /// The window shows the UI embedded in the binary (`tauri://localhost`), not the Vite dev
    /// server that a build without the `custom-protocol` feature loads.
    async fn check_embedded_ui(&self) {
        let url = self.command("current URL", self.client.current_url()).await;
        if url.scheme() != "tauri" && url.host_str() != Some("tauri.localhost") {
            self.fail(&format!(
                "the window loads {url}, not the embedded UI: build the app with its default \
                 features (scripts/build-ui, then cargo build --workspace --bins)"
            ))
            .await
        }
    }

    /// Runs `motion-in-motion ARGS` a second time in the same session (same bus, same home)
    /// and returns how it ended, or `None` if it is still running after `timeout` (then killed).
    pub fn launch_again(
        &self,
        args: &[&str],
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let mut cmd = Command::new(app_binary());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        private_session(&mut cmd, &self.desktop, &self.dir);
        let mut child = Proc::spawn(&mut cmd, "a second motion-in-motion");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.child().try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// `secret-tool lookup ATTRS` in this session: a secret stored in the Secret Service.
    pub fn keyring_lookup(&self, attributes: &[&str]) -> Option<String> {
        let mut cmd = Command::new("secret-tool");
        cmd.arg("lookup").args(attributes).stdin(Stdio::null());
        private_session(&mut cmd, &self.desktop, &self.dir);
        let out = cmd
            .output()
            .expect("secret-tool runs (scripts/install-deps installs it)");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The WebDriver client, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn desktop(&self) -> &Desktop {
        &self.desktop
    }

    /// What tauri-driver, WebKitWebDriver and the app wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The test's directory (logs, the app's private home).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fails the test with `what` and everything that tells why: the page source, a screenshot
    /// (`failure-*.png`) and the logs.
    pub async fn fail<T>(&self, what: &str) -> T {
        // The source first: after a hung command the client answers nothing any more.
        let source = match tokio::time::timeout(Duration::from_secs(10), self.client.source()).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => format!("(no page source: {e})"),
            Err(_) => "(no page source: WebDriver did not answer in 10 s)".to_owned(),
        };
        let shot =
            match tokio::time::timeout(Duration::from_secs(20), self.client.screenshot()).await {
                Ok(Ok(png)) => {
                    let path = screenshot_dir().join(format!("{}.png", crate::unique("failure")));
                    match std::fs::create_dir_all(screenshot_dir())
                        .and_then(|()| std::fs::write(&path, png))
                    {
                        Ok(()) => path.display().to_string(),
                        Err(e) => format!("(not saved: {e})"),
                    }
                }
                Ok(Err(e)) => format!("(none: {e})"),
                Err(_) => "(none: WebDriver did not answer in 20 s)".to_owned(),
            };
        panic!(
            "{what}\n--- page source ---\n{source}\n--- screenshot: {shot}\n\
             --- app log (tauri-driver, WebKitWebDriver, motion-in-motion), last lines ---\n{}\n\
             --- dunst log ---\n{}",
            tail(&self.log(), 300),
            self.desktop.dunst_log()
        );
    }

    /// Awaits one WebDriver command, failing the test (with diagnostics) on an error or when
    /// it takes longer than a minute.
    async fn command<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, fantoccini::error::CmdError>>,
    ) -> T {
        match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => self.fail(&format!("{what}: {e}")).await,
            Err(_) => {
                self.fail(&format!("{what}: no answer in {COMMAND_TIMEOUT:?}"))
                    .await
            }
        }
    }

    /// Polls `check` (every 200 ms) until it returns `Some`; fails the test with diagnostics
    /// after `timeout`.
    pub async fn wait_until<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let start = Instant::now();
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if start.elapsed() > timeout {
                return self
                    .fail(&format!("timed out after {timeout:?} waiting for {what}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The first element that matches `css`, once there is one.
    pub async fn wait_for_css(&self, css: &str, timeout: Duration) -> Element {
        self.wait_until(&format!("an element matching {css}"), timeout, || async {
            let found =
                tokio::time::timeout(COMMAND_TIMEOUT, self.client.find_all(Locator::Css(css)))
                    .await
                    .ok()?
                    .ok()?;
            found.into_iter().next()
        })
        .await
    }

    /// The text of the first element matching `css` (waiting for it), as rendered.
    pub async fn text(&self, css: &str) -> String {
        let element = self.wait_for_css(css, WAIT).await;
        self.command(&format!("text of {css}"), element.text())
            .await
    }

    /// Clicks the first element matching `css` (waiting for it).
    pub async fn click(&self, css: &str) {
        let element = self.wait_for_css(css, WAIT).await;
        self.command(&format!("click on {css}"), element.click())
            .await;
    }

    /// Runs `script` (a function body: `return …`; `arguments[i]` are `args`) in the page.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.command("execute script", self.client.execute(script, args))
            .await
    }

    /// Runs `script` asynchronously: it ends by calling `arguments[arguments.length - 1]`
    /// with its result (within the driver's script timeout).
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(
            "execute async script",
            self.client.execute_async(script, args),
        )
        .await
    }

    /// The page source now.
    pub async fn source(&self) -> String {
        self.command("page source", self.client.source()).await
    }

    /// Saves a PNG of the window as `<screenshot_dir>/<name>.png`, prints and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .command("take screenshot", self.client.screenshot())
            .await;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!("screenshot: {}", path.display());
        path
    }

    /// Every [`EVENT_ROW`] in the window now, in page order.
    pub async fn event_rows(&self) -> Vec<EventRow> {
        let rows = self
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0])).map(r => \
                 ({id: r.getAttribute(arguments[1]), text: r.textContent, html: r.innerHTML}));",
                vec![json!(EVENT_ROW), json!(EVENT_ID_ATTR)],
            )
            .await;
        rows.as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| EventRow {
                        id: r["id"].as_str().unwrap_or_default().to_owned(),
                        text: r["text"].as_str().unwrap_or_default().to_owned(),
                        html: r["html"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
