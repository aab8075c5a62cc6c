//! socketio-parser's `embedded_std` example (a Socket.IO server on `std::net` and threads, no
//! async runtime) serves the npm `socket.io-client` 4.8.4: polling, WebSocket and the upgrade
//! between them, events and acks both ways, binary attachments, a broadcast, and the ping
//! timeout of a raw Engine.IO client that stops answering pings.
//!
//! The example runs as a process, as its users run it; `tests/embedded_client/client.js` drives
//! the clients and prints what they saw as one JSON object, checked here field by field. Only
//! outcomes are checked, never timings. Every wait is bounded, and the example is killed if the
//! test fails.
//!
//! `cargo test --workspace` builds the example; when it is missing or older than its source
//! (`cargo test -p conformance --test embedded_std`), this test builds it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The heartbeat the example is started with: short, so that the silent client is dropped soon.
const PING_INTERVAL_MS: u64 = 1000;
const PING_TIMEOUT_MS: u64 = 1000;

/// How long node may run; the script gives up on its own after `NODE_WATCHDOG_MS`.
const NODE_LIMIT: Duration = Duration::from_secs(30);
const NODE_WATCHDOG_MS: u64 = 20_000;
/// How long one thing the example should do may take (listen, print a line, exit).
const WAIT: Duration = Duration::from_secs(10);
/// How long building the example may take.
const BUILD_LIMIT: Duration = Duration::from_secs(600);

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("embedded_client")
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds conformance").to_path_buf()
}

/// The example's binary in `target/<profile>/examples/`, built first if it is missing or older
/// than its source.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test binary> → target/<profile>
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let binary = profile_dir.join("examples").join(format!("embedded_std{}", std::env::consts::EXE_SUFFIX));
    let source = workspace_dir().join("socketio-parser").join("examples").join("embedded_std.rs");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let stale = match (modified(&binary), modified(&source)) {
        (Some(built), Some(written)) => built < written,
        _ => true,
    };
    if stale {
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(name) => name.to_owned(),
        };
        build_example(&profile);
    }
    assert!(binary.exists(), "{} is missing after building it", binary.display());
    binary
}

fn build_example(profile: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut child = Command::new(cargo)
        .args(["build", "-p", "socketio-parser", "--example", "embedded_std", "--profile", profile])
        .current_dir(workspace_dir())
        .stdin(Stdio::null())
        .spawn()
        .expect("run cargo build");
    let deadline = Instant::now() + BUILD_LIMIT;
    loop {
        match child.try_wait().expect("wait for cargo build") {
            Some(status) => {
                assert!(status.success(), "cargo build -p socketio-parser --example embedded_std: {status}");
                return;
            }
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("building the example took more than {BUILD_LIMIT:?}");
            }
        }
    }
}

/// A child process killed when dropped (a failed assertion included), with its output
/// collected line by line.
struct Process {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Process {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("piped stdout")),
            Box::new(child.stderr.take().expect("piped stderr")),
        ];
        for stream in streams {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut output = output.lock().unwrap_or_else(|e| e.into_inner());
                    output.push_str(&line);
                    output.push('\n');
                }
            });
        }
        Process { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (at most `limit`) until the output holds `text`.
    fn wait_output(&self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.output().contains(text) {
            assert!(Instant::now() < deadline, "no {text:?} within {limit:?} in:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most `limit`) for the process to exit; `None` if it is still running.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the process") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Starts the example on a free port of 127.0.0.1 and waits for its `listening on` line. Its
/// standard input stays open (it stops when that ends) and is returned.
fn start_example() -> (Process, ChildStdin, u16) {
    let binary = example_binary();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port of 127.0.0.1")
        .port();
    let mut server = Process::spawn(
        Command::new(&binary)
            .args(["--port", &port.to_string()])
            .args(["--ping-interval", &PING_INTERVAL_MS.to_string()])
            .args(["--ping-timeout", &PING_TIMEOUT_MS.to_string()])
            .stdin(Stdio::piped()),
    );
    let stdin = server.child.stdin.take().expect("piped stdin");
    server.wait_output(&format!("listening on 127.0.0.1:{port}\n"), WAIT);
    (server, stdin, port)
}

/// Runs the client script against `url` and returns what it printed, parsed.
fn run_clients(url: &str) -> Value {
    let mut node = Process::spawn(
        Command::new("node")
            .arg(client_dir().join("client.js"))
            .arg(url)
            .arg(NODE_WATCHDOG_MS.to_string())
            .stdin(Stdio::null()),
    );
    let status = node.wait_exit(NODE_LIMIT);
    // The output threads may still be reading the last line.
    let deadline = Instant::now() + WAIT;
    while !node.output().ends_with('\n') && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = node.output();
    assert!(
        status.is_some_and(|s| s.success()),
        "node client.js ended with {status:?} (None: killed after {NODE_LIMIT:?}):\n{output}"
    );
    let line = output.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("node printed no JSON result ({e}):\n{output}"))
}

#[test]
fn the_std_only_example_serves_the_npm_client() {
    if let Err(reason) = conformance::npm::ensure_installed(&client_dir()) {
        panic!("{reason}");
    }
    let (mut server, stdin, port) = start_example();
    let result = run_clients(&format!("http://127.0.0.1:{port}"));

    // The client probes the WebSocket as soon as the Engine.IO session is open, in parallel with
    // its Socket.IO connect: which transport carries the connect reply of the upgrading client is
    // a race of the protocol itself (the reference server can lose it too), so both are allowed.
    for (name, first, last) in [
        ("upgrade", &["polling", "websocket"][..], "websocket"),
        ("polling", &["polling"][..], "polling"),
        ("websocket", &["websocket"][..], "websocket"),
    ] {
        let client = &result["clients"][name];
        let id = client["id"].as_str().unwrap_or_else(|| panic!("{name} has no socket id: {result}"));
        let at_connect = client["transportAtConnect"].as_str().unwrap_or_default();
        assert!(first.contains(&at_connect), "{name}: connected on {at_connect:?}: {client}");
        assert_eq!(client["transportAtEnd"], last, "{name}: {client}");
        // Server → client: an event with binary data and an ack...
        assert_eq!(client["hello"], json!([{ "id": id }, { "bytes": [1, 2, 3] }]), "{name}");
        // ...whose answer (with binary data) the server got and sent back.
        assert_eq!(client["ackReceived"], json!([{ "from": name }, { "bytes": [9, 8, 7] }]), "{name}");
        // Client → server: events with acks, binary both ways.
        assert_eq!(
            client["echo"],
            json!([{ "text": "héllo", "n": 42 }, { "bytes": [0, 1, 254, 255] }]),
            "{name}"
        );
        assert_eq!(client["reverse"], json!([{ "bytes": [5, 4, 3, 2, 1] }]), "{name}");
        // One client's broadcast reached every client.
        assert_eq!(client["broadcast"], json!(["to everyone", { "bytes": [42] }]), "{name}");
        server.wait_output(&format!("connect {id} "), WAIT);
        server.wait_output(&format!("ack 0 from {id}: 2 argument(s)\n"), WAIT);
    }
    // The default transports upgraded from polling to WebSocket.
    assert_eq!(result["clients"]["upgrade"]["upgradedTo"], "websocket", "{result}");
    server.wait_output("to websocket\n", WAIT);

    // The raw client that never answers a ping: the server pinged it, then closed the session
    // (`close` answers its poll) and forgot it; the socket was disconnected for `ping timeout`.
    let silent = &result["silent"];
    assert_eq!(silent["pingInterval"], PING_INTERVAL_MS, "{silent}");
    assert_eq!(silent["pingTimeout"], PING_TIMEOUT_MS, "{silent}");
    assert_eq!(silent["connectPost"], "ok", "{silent}");
    let packets: Vec<&str> =
        silent["packets"].as_array().expect("packets").iter().filter_map(Value::as_str).collect();
    assert_eq!(packets.first(), Some(&"40"), "{silent}");
    assert!(packets.contains(&"2"), "no ping before the close: {silent}");
    assert_eq!(packets.last(), Some(&"1"), "the session was not closed: {silent}");
    assert_eq!(
        silent["afterClose"],
        json!({ "status": 400, "body": { "code": 1, "message": "Session ID unknown" } })
    );
    let silent_id = silent["id"].as_str().expect("the silent client's socket id");
    server.wait_output(&format!("disconnect {silent_id}: ping timeout\n"), WAIT);

    // The end of its standard input stops the example.
    drop(stdin);
    let status = server.wait_exit(WAIT);
    assert!(
        status.is_some_and(|s| s.success()),
        "the example did not stop ({status:?}):\n{}",
        server.output()
    );
    server.wait_output("stopped\n", WAIT);
}
