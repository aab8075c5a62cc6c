//! The chat example in real browsers: the example's server runs in-process on 127.0.0.1, and
//! `tests/browser/chat.js` drives two headless Chromium pages through it with Playwright.
//!
//! The pages join with nicknames and see each other's join notices; one types and the other
//! sees the typing indicator, then the message; the sender sees the server's ack tick. One page
//! stays on long-polling (`?transport=polling`) and chats with the other, which upgrades to
//! WebSocket (the transports are read in the pages). Both move to another channel; one page
//! loses its network and shows itself reconnecting, then connected again; one leaves and the
//! other sees it go. A screenshot is kept at `target/artifacts/chat.png`.
//!
//! Needs Node.js with npm, and Debian's Chromium at `/usr/bin/chromium`: when it is missing
//! and the test runs as root, it installs `chromium` and `chromium-driver` with apt-get
//! (Playwright's own browser download does not work here); otherwise it fails and says what
//! to install. `playwright-core` comes from `tests/browser/package-lock.json`, the page's
//! `socket.io-client` from the example's.
//!
//! Every wait is bounded: Playwright's per-step timeouts and the script's own watchdog in
//! node, [`NODE_LIMIT`] here (node is asked to stop, then killed), [`APT_LIMIT`] for the install.

#[path = "../examples/chat/server.rs"]
mod chat;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Debian's Chromium, which Playwright launches instead of a browser of its own.
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long the whole node run may take (its own watchdog gives up after 120 s).
const NODE_LIMIT: Duration = Duration::from_secs(150);
/// How long each apt-get command may take.
const APT_LIMIT: Duration = Duration::from_secs(900);
/// How long node has to close the browser when asked to stop before it is killed.
const GRACE: Duration = Duration::from_secs(10);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("browser")
}

/// `target/artifacts` (under `CARGO_TARGET_DIR` when it is set).
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("artifacts")
}

/// Runs `command` to its end within `limit` (killed past it), failing unless it succeeds.
async fn run_bounded(mut command: Command, what: &str, limit: Duration) -> Result<(), String> {
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
async fn ensure_chromium() -> Result<(), String> {
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
    let mut update = Command::new("apt-get");
    update.arg("update");
    run_bounded(update, "apt-get update", APT_LIMIT).await?;
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "chromium", "chromium-driver"]);
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
fn collect(pipe: impl AsyncRead + Unpin + Send + 'static, sink: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
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
async fn stop(node: &mut Child) {
    if let Some(pid) = node.id() {
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        if timeout(GRACE, node.wait()).await.is_ok() {
            return;
        }
    }
    let _ = node.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_over_websocket_and_long_polling() {
    if let Err(reason) = ensure_chromium().await {
        panic!("{reason}");
    }
    let installs = tokio::task::spawn_blocking(|| {
        conformance::npm::ensure_installed(&browser_dir())?;
        chat::install_client()
    });
    let dist = match installs.await.expect("the npm installs ran") {
        Ok(dist) => dist,
        Err(reason) => panic!("{reason}"),
    };

    let (io, app) = chat::app(dist);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("create target/artifacts");
    let screenshot = artifacts.join("chat.png");
    let _ = std::fs::remove_file(&screenshot);

    let mut node = Command::new("node")
        .arg("chat.js")
        .arg(&url)
        .arg(&screenshot)
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
    let status = timeout(NODE_LIMIT, node.wait()).await;
    if status.is_err() {
        stop(&mut node).await;
    }
    // The last lines of a node that has ended.
    for reader in readers {
        let _ = timeout(GRACE, reader).await;
    }
    let transcript = || {
        let out = stdout.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
        let err = stderr.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
        format!("node printed:\n{out}\nstderr:\n{err}")
    };
    match status {
        Err(_) => panic!("the browser run took more than {NODE_LIMIT:?}\n{}", transcript()),
        Ok(Err(e)) => panic!("waiting for node: {e}\n{}", transcript()),
        Ok(Ok(status)) => assert!(status.success(), "the browser run failed ({status})\n{}", transcript()),
    }

    // What the pages reported, checked here too.
    let result = stdout
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find_map(|line| line.strip_prefix("RESULT ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no RESULT line\n{}", transcript()));
    let result: serde_json::Value = serde_json::from_str(&result).expect("RESULT is JSON");
    assert_eq!(result["transports"]["alice"], "websocket", "the default page upgraded to WebSocket");
    assert_eq!(result["transports"]["bob"], "polling", "the `?transport=polling` page stayed on polling");
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1_000, "the screenshot is a PNG");

    let _ = timeout(Duration::from_secs(10), io.close()).await;
    server.abort();
}
