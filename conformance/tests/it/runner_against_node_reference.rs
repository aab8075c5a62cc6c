//! Calibration of the conformance runner against the Node.js reference servers (pinned in
//! `conformance/reference/package-lock.json`): `engine.io` 6.6.12 as a plain echo server
//! (`reference/echo-server.js`) for the Engine.IO suite, and `socket.io` 4.8.4 with the suite's
//! contract (`reference/socketio-server.js`) for the Socket.IO suite, also with `allowEIO3` and
//! with `socket.io-msgpack-parser` 3.0.2. Every case must pass, so the runner checks the protocol
//! and not the habits of this workspace's servers.
//!
//! Needs `node` and `npm` on the `PATH`; installs the reference packages with `npm ci` when
//! `conformance/reference/node_modules` is missing or holds other versions.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use conformance::runner::{engineio, run, socketio, Case, Contract, Target};

/// How long the Node server may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(20);

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reference")
}

/// The Node reference server; killed when dropped, panics included.
struct NodeServer {
    child: Child,
}

impl NodeServer {
    /// `node <script> <port> <flags...>` in the reference folder.
    fn start(script: &str, port: u16, flags: &[&str]) -> Self {
        let child = Command::new("node")
            .arg(script)
            .arg(port.to_string())
            .args(flags)
            .current_dir(reference_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `node {script} {port}`: {e}"));
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

/// Runs `cases` against `node <script> <port> <flags>` and fails with every failing case.
async fn calibrate(script: &str, flags: &[&str], contract: Contract, cases: Vec<Case>) {
    if let Err(reason) = conformance::npm::ensure_installed(&reference_dir()) {
        panic!("{reason}");
    }
    let port = free_port();
    let mut server = NodeServer::start(script, port, flags);
    server.wait_ready(port);

    // A generous slack: this test checks that every behaviour happens, not how fast, so a busy
    // machine cannot fail it.
    let target = Target {
        slack: Duration::from_secs(2),
        ..Target::parse_for(&format!("http://127.0.0.1:{port}"), contract).expect("target")
    };
    let report = run(&target, &cases, None).await;
    drop(server);

    for case in &report.cases {
        match &case.reason {
            None => println!("pass {} ({} ms)", case.name, case.duration_ms),
            Some(reason) => println!("FAIL {} ({} ms): {reason}", case.name, case.duration_ms),
        }
    }
    let failures = report.failures();
    assert_eq!(report.cases.len(), cases.len());
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engineio_case_passes_against_the_node_reference_server() {
    calibrate("echo-server.js", &[], Contract::EngineIoEcho, engineio::cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socketio_case_passes_against_the_node_reference_server() {
    calibrate("socketio-server.js", &[], Contract::SocketIo, socketio::suite(false, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_eio3_case_passes_against_the_node_reference_server_with_allow_eio3() {
    calibrate("socketio-server.js", &["--eio3"], Contract::SocketIo, socketio::suite(true, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_msgpack_case_passes_against_the_node_reference_server_with_the_msgpack_parser() {
    calibrate("socketio-server.js", &["--msgpack"], Contract::SocketIo, socketio::suite(false, true)).await;
}
