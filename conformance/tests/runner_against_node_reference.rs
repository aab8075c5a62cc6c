//! Calibration of the Engine.IO conformance runner against the Node.js reference server:
//! `engine.io` 6.6.12 (pinned in `conformance/reference/package-lock.json`), run as a plain echo
//! server by `conformance/reference/echo-server.js` with the contract's settings. Every case must
//! pass, so the runner checks the protocol and not the habits of this workspace's server.
//!
//! Needs `node` and `npm` on the `PATH`; installs the reference package with `npm ci` when
//! `conformance/reference/node_modules` is missing or holds another version.

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use conformance::runner::{engineio, run, Target};
use serde_json::Value;

/// The reference package: folder under `node_modules`, expected version.
const PACKAGE: (&str, &str) = ("engine.io", "6.6.12");

/// How long `npm ci` may take.
const INSTALL_LIMIT: Duration = Duration::from_secs(300);

/// How long the Node server may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(20);

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reference")
}

fn require_tool(tool: &str) -> Result<(), String> {
    match Command::new(tool).arg("--version").stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("`{tool} --version` failed: {}", String::from_utf8_lossy(&out.stderr))),
        Err(e) => Err(format!(
            "`{tool}` is not available ({e}): the calibration test runs the Node.js reference \
             Engine.IO server and needs Node.js (18 or later) and npm on the PATH \
             (e.g. `apt-get install nodejs npm`)"
        )),
    }
}

fn installed(modules: &Path) -> bool {
    let (name, version) = PACKAGE;
    std::fs::read_to_string(modules.join(name).join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|manifest| manifest["version"].as_str() == Some(version))
}

/// Installs into a private staging folder, then moves the result into place with one rename, so
/// test binaries running at the same time never see a half-installed `node_modules`.
fn ensure_reference() -> Result<(), String> {
    require_tool("node")?;
    let dir = reference_dir();
    let modules = dir.join("node_modules");
    if installed(&modules) {
        return Ok(());
    }
    require_tool("npm")?;
    let stage = dir.join(format!(".stage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&stage).map_err(|e| format!("cannot create {}: {e}", stage.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), stage.join(file)).map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    let result = run_npm_ci(&stage).and_then(|()| {
        let fresh = stage.join("node_modules");
        if std::fs::rename(&fresh, &modules).is_ok() || installed(&modules) {
            return Ok(());
        }
        // A stale install is in the way: move it aside, then put the fresh one in its place.
        let stale = dir.join(format!(".stale-{}", std::process::id()));
        let _ = std::fs::rename(&modules, &stale);
        let moved = std::fs::rename(&fresh, &modules);
        let _ = std::fs::remove_dir_all(&stale);
        match moved {
            Ok(()) => Ok(()),
            Err(_) if installed(&modules) => Ok(()),
            Err(e) => Err(format!("cannot move the npm install into {}: {e}", modules.display())),
        }
    });
    let _ = std::fs::remove_dir_all(&stage);
    result?;
    if installed(&modules) {
        Ok(())
    } else {
        Err(format!("`npm ci` did not install {}@{}", PACKAGE.0, PACKAGE.1))
    }
}

fn run_npm_ci(dir: &Path) -> Result<(), String> {
    let mut child = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `npm ci`: {e}"))?;
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    });
    let deadline = Instant::now() + INSTALL_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`npm ci` in {} took more than {INSTALL_LIMIT:?}", dir.display()));
            }
            Err(e) => return Err(format!("waiting for `npm ci`: {e}")),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm ci` failed in {} ({status}): {stderr}", dir.display()))
    }
}

/// The Node reference server; killed when dropped, panics included.
struct NodeServer {
    child: Child,
}

impl NodeServer {
    fn start(port: u16) -> Self {
        let child = Command::new("node")
            .arg("echo-server.js")
            .arg(port.to_string())
            .current_dir(reference_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `node echo-server.js {port}`: {e}"));
        NodeServer { child }
    }

    /// Waits until the server accepts TCP connections on `port`, or panics.
    fn wait_ready(&mut self, port: u16) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the Node reference server exited before listening ({status})");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Node reference server did not listen within {START_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engineio_case_passes_against_the_node_reference_server() {
    if let Err(reason) = ensure_reference() {
        panic!("{reason}");
    }
    let port = free_port();
    let mut server = NodeServer::start(port);
    server.wait_ready(port);

    // A generous slack: this test checks that every behaviour happens, not how fast, so a busy
    // machine cannot fail it.
    let target = Target {
        slack: Duration::from_secs(2),
        ..Target::parse(&format!("http://127.0.0.1:{port}")).expect("target")
    };
    let cases = engineio::cases();
    let report = run(&target, &cases, None).await;
    drop(server);

    for case in &report.cases {
        match &case.reason {
            None => println!("pass {} ({} ms)", case.name, case.duration_ms),
            Some(reason) => println!("FAIL {} ({} ms): {reason}", case.name, case.duration_ms),
        }
    }
    let failures: Vec<String> = report
        .cases
        .iter()
        .filter_map(|c| c.reason.as_ref().map(|r| format!("FAIL {}: {r}", c.name)))
        .collect();
    assert_eq!(report.cases.len(), cases.len());
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
