//! The browser tests' harness: Debian's Chromium (installed with apt-get when missing and the
//! test runs as root), Playwright (`playwright-core` from `package-lock.json` beside this file,
//! without its browser download), and node runs of the scripts here, bounded in time.
//! Used by `chat_browser.rs` and by `socketio-admin`'s `browser_dashboard.rs`.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Debian's Chromium, which Playwright launches instead of a browser of its own.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// How long each apt-get command may take.
pub const APT_LIMIT: Duration = Duration::from_secs(900);
/// The lock file every test's apt-get runs under (`flock`), so that tests installing packages at
/// the same time take turns instead of failing on apt's own lock.
pub const APT_LOCK: &str = "/tmp/socketio-rs-apt.lock";
/// How long node has to close the browser when asked to stop before it is killed.
pub const GRACE: Duration = Duration::from_secs(10);

/// This folder: the scripts, and the `package.json` of `playwright-core`.
pub fn browser_dir() -> PathBuf {
    crate::support::workspace_dir().join("socketio-server/tests/browser")
}

/// `target/artifacts` (under `CARGO_TARGET_DIR` when it is set).
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("artifacts")
}

/// Runs `command` to its end within `limit` (killed past it), failing unless it succeeds.
pub async fn run_bounded(mut command: Command, what: &str, limit: Duration) -> Result<(), String> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run `{what}`: {e}"))?;
    match timeout(limit, child.wait_with_output()).await {
        Err(_) => Err(format!("`{what}` took more than {limit:?}")),
        Ok(Err(e)) => Err(format!("waiting for `{what}`: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(format!(
            "`{what}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// Makes sure Debian's Chromium is installed, installing it when the test may.
pub async fn ensure_chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run `id -u`: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(format!(
            "{CHROMIUM} is missing and this test is not running as root, so it cannot install it: \
             run `apt-get update && apt-get install -y chromium chromium-driver` (Debian's \
             packages; Playwright's own browser download does not work here)"
        ));
    }
    let mut update = Command::new("flock");
    update.args([APT_LOCK, "apt-get", "update"]);
    run_bounded(update, "apt-get update", APT_LIMIT).await?;
    let mut install = Command::new("flock");
    install.args([APT_LOCK, "apt-get", "install", "-y", "chromium", "chromium-driver"]);
    install.env("DEBIAN_FRONTEND", "noninteractive");
    run_bounded(install, "apt-get install -y chromium chromium-driver", APT_LIMIT).await?;
    if Path::new(CHROMIUM).exists() {
        Ok(())
    } else {
        Err(format!("apt-get installed chromium, but {CHROMIUM} is still missing"))
    }
}

/// Copies the lines of `pipe` into `sink`, echoing them (seen with `--nocapture`), until the
/// pipe closes.
pub fn collect(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("node: {line}");
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    })
}

/// Asks node to stop (Playwright then closes the browser it launched), and kills it if it has
/// not ended after [`GRACE`].
pub async fn stop(node: &mut Child) {
    if let Some(pid) = node.id() {
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        if timeout(GRACE, node.wait()).await.is_ok() {
            return;
        }
    }
    let _ = node.kill().await;
}

/// What a node run printed.
pub struct Run {
    /// Its standard output, line by line.
    pub stdout: Vec<String>,
    /// Its standard error, line by line.
    pub stderr: Vec<String>,
}

impl Run {
    /// Both outputs, for a failure message.
    pub fn transcript(&self) -> String {
        format!("node printed:\n{}\nstderr:\n{}", self.stdout.join("\n"), self.stderr.join("\n"))
    }

    /// The JSON after `RESULT ` on the line that has it.
    pub fn result(&self) -> serde_json::Value {
        let line = self
            .stdout
            .iter()
            .find_map(|line| line.strip_prefix("RESULT ").map(str::to_owned))
            .unwrap_or_else(|| panic!("no RESULT line\n{}", self.transcript()));
        serde_json::from_str(&line).expect("RESULT is JSON")
    }
}

/// Runs `node <script> <args>` in this folder, its output echoed, within `limit` (asked to stop,
/// then killed, past it); panics unless it exits with success.
pub async fn run_node(script: &str, args: &[&std::ffi::OsStr], limit: Duration) -> Run {
    let mut node = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(browser_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let readers = [
        collect(node.stdout.take().expect("node's stdout is piped"), stdout.clone()),
        collect(node.stderr.take().expect("node's stderr is piped"), stderr.clone()),
    ];
    let status = timeout(limit, node.wait()).await;
    if status.is_err() {
        stop(&mut node).await;
    }
    // The last lines of a node that has ended.
    for reader in readers {
        let _ = timeout(GRACE, reader).await;
    }
    let run = Run {
        stdout: stdout.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        stderr: stderr.lock().unwrap_or_else(|e| e.into_inner()).clone(),
    };
    match status {
        Err(_) => panic!("the browser run took more than {limit:?}\n{}", run.transcript()),
        Ok(Err(e)) => panic!("waiting for node: {e}\n{}", run.transcript()),
        Ok(Ok(status)) => {
            assert!(status.success(), "the browser run failed ({status})\n{}", run.transcript())
        }
    }
    run
}
