//! Shared harness of the interop tests: a [`SocketIo`] server in-process on 127.0.0.1, and the
//! real npm clients (`socket.io-client` 4.8.4 and 2.5.0, `socket.io-msgpack-parser` 3.0.2)
//! puppeted by `tests/js/scenario.js` in one `node` process per test.
//!
//! The test describes the clients when it starts node, then sends commands on node's standard
//! input ([`Node::emit`], [`Node::call`], [`Node::send`]) and reads what the clients report,
//! one JSON line each ([`Node::next`]). Every wait is bounded: by [`WAIT`] for one report or
//! server-side observation, by [`NODE_TIMEOUT`] for the whole node run, after which node gives
//! up on its own. Node is killed when the [`Node`] is dropped, panics included.

#![allow(dead_code, unreachable_pub)]

pub mod node_peer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Value as Json};
use socketio_server::{Bytes, Config, Socket, SocketIo, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, timeout_at, Instant};

/// How long to wait for one thing to happen: a client's report, a server-side observation.
pub const WAIT: Duration = Duration::from_secs(10);

/// How long one node run may last; node gives up on its own a little earlier.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(45);

// -------------------------------------------------------------------------------------------
// The npm clients

/// The workspace's folder, whichever crate's tests include this file (`socketio-server`'s or
/// `socketio-admin`'s), without `..` in it: paths built on it are compared with the ones the
/// server logs.
pub fn workspace_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().unwrap_or(crate_dir).to_owned()
}

/// The folder holding `package.json`, the lock file and `scenario.js`.
pub fn js_dir() -> PathBuf {
    workspace_dir().join("socketio-server/tests/js")
}

/// Makes sure `node` runs and the pinned npm clients are installed (once per test binary), or
/// panics with the reason.
pub fn ensure_clients() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(reason) = READY.get_or_init(|| conformance::npm::ensure_installed(&js_dir())) {
        panic!("{reason}");
    }
}

// -------------------------------------------------------------------------------------------
// The server under test

/// A Socket.IO server serving on 127.0.0.1 in a task of the test's runtime.
pub struct TestServer {
    /// The server: tests add their handlers to it before clients connect.
    pub io: SocketIo,
    /// Its address.
    pub addr: SocketAddr,
    serve: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts `SocketIo::new(config)` on a free port of 127.0.0.1.
    pub async fn start(config: Config) -> Self {
        Self::serve(SocketIo::new(config)).await
    }

    /// Serves `io` on a free port of 127.0.0.1.
    pub async fn serve(io: SocketIo) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let server = io.clone();
        let serve = tokio::spawn(async move { server.serve(listener).await });
        TestServer { io, addr, serve: Some(serve) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts node with `clients` (see `scenario.js` for their options) against this server.
    pub fn node(&self, label: &str, clients: Json) -> Node {
        Node::spawn(label, &self.url(), clients)
    }

    /// The socket `id` of namespace `nsp`. The client learns its id from the server's
    /// `CONNECT` a moment before the socket is listed in the namespace, so this waits (at most
    /// [`WAIT`]) for it.
    pub async fn socket(&self, nsp: &str, id: &str) -> Socket {
        let ns = self.io.of(nsp);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(socket) = ns.socket(id) {
                return socket;
            }
            assert!(Instant::now() < deadline, "no socket {id} in {nsp} within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until client `client` of `node` is connected, and returns its server-side socket.
    pub async fn connected(&self, node: &mut Node, client: &str) -> Socket {
        let connect = node.next(client, "connect").await;
        let id = connect["id"].as_str().expect("the client reports its socket id");
        let nsp = node.nsp_of(client);
        self.socket(&nsp, id).await
    }

    /// Waits (at most [`WAIT`]) until the server holds `n` Engine.IO sessions.
    pub async fn wait_sessions(&self, n: usize) {
        let deadline = Instant::now() + WAIT;
        while self.io.engine().clients_count() != n {
            assert!(
                Instant::now() < deadline,
                "the server holds {} sessions, expected {n}",
                self.io.engine().clients_count()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Closes the server and waits (at most [`WAIT`]) for `serve` to return.
    pub async fn close(mut self) {
        timeout(WAIT, self.io.close()).await.expect("io.close() finishes");
        if let Some(serve) = self.serve.take() {
            let result = timeout(WAIT, serve).await.expect("serve() returns after close()");
            result.expect("the serve task").expect("serve() ends without an error");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(serve) = self.serve.take() {
            serve.abort();
        }
    }
}

// -------------------------------------------------------------------------------------------
// Server-side observations

/// A channel handlers report into, read by the test with a deadline.
pub struct Inbox<T> {
    rx: mpsc::UnboundedReceiver<T>,
}

/// A sender for handlers and an [`Inbox`] for the test.
pub fn inbox<T>() -> (mpsc::UnboundedSender<T>, Inbox<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, Inbox { rx })
}

impl<T: std::fmt::Debug> Inbox<T> {
    /// The next observation, waiting at most [`WAIT`] for it.
    pub async fn next(&mut self, what: &str) -> T {
        match timeout(WAIT, self.rx.recv()).await {
            Ok(Some(value)) => value,
            Ok(None) => panic!("every sender is gone while waiting for {what}"),
            Err(_) => panic!("the server did not report {what} within {WAIT:?}"),
        }
    }

    /// The next `n` observations.
    pub async fn take(&mut self, n: usize, what: &str) -> Vec<T> {
        let mut all = Vec::with_capacity(n);
        for i in 0..n {
            all.push(self.next(&format!("{what} ({i} of {n})")).await);
        }
        all
    }

    /// What arrived so far, without waiting.
    pub fn drain(&mut self) -> Vec<T> {
        let mut all = Vec::new();
        while let Ok(value) = self.rx.try_recv() {
            all.push(value);
        }
        all
    }
}

/// A shared, ordered log handlers append to.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// Appends `entry`.
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(entry.into());
    }

    /// Everything appended so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

// -------------------------------------------------------------------------------------------
// Node runs

/// Spawns `command` (killed on drop) with piped standard input and output; each line it prints
/// arrives as JSON on the receiver, or as `noise(line)` when it is not JSON.
pub fn spawn_json_lines(
    mut command: Command,
    noise: fn(String) -> Json,
) -> (Child, mpsc::UnboundedReceiver<Json>) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node (is Node.js installed?)");
    let stdout = child.stdout.take().expect("node's stdout is piped");
    let (tx, lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stdout = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = stdout.next_line().await {
            let value = serde_json::from_str(&line).unwrap_or_else(|_| noise(line));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    (child, lines)
}

/// A running `node scenario.js`, killed when dropped.
pub struct Node {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Json>,
    /// Every report so far, with whether a `next` already returned it.
    history: Vec<(Json, bool)>,
    stderr: Arc<Mutex<String>>,
    deadline: Instant,
    clients: Json,
    tags: u64,
}

impl Node {
    /// Starts `node scenario.js <label> <url> <config>` with `clients`.
    pub fn spawn(label: &str, url: &str, clients: Json) -> Self {
        ensure_clients();
        let config = json!({
            "timeoutMs": (NODE_TIMEOUT - Duration::from_secs(5)).as_millis() as u64,
            "clients": clients,
        });
        let mut command = Command::new("node");
        command.arg(js_dir().join("scenario.js")).arg(label).arg(url).arg(config.to_string());
        command.current_dir(js_dir()).stderr(Stdio::piped());
        let (mut child, lines) = spawn_json_lines(command, |line| json!({"client": "-", "noise": line}));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("node's stderr is piped");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap_or_else(|e| e.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Node {
            label: label.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            history: Vec::new(),
            stderr,
            deadline: Instant::now() + NODE_TIMEOUT,
            clients,
            tags: 0,
        }
    }

    /// The namespace client `client` connects to.
    pub fn nsp_of(&self, client: &str) -> String {
        let spec = self.clients.as_array().into_iter().flatten().find(|c| c["name"] == client);
        spec.and_then(|c| c["nsp"].as_str()).unwrap_or("/").to_owned()
    }

    fn transcript(&self) -> String {
        let lines: Vec<String> = self.history.iter().map(|(v, _)| v.to_string()).collect();
        let stderr = self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
        format!("node run `{}` printed:\n{}\nstderr:\n{stderr}", self.label, lines.join("\n"))
    }

    /// Sends one command line to node.
    pub async fn send(&mut self, command: Json) {
        let mut line = command.to_string();
        line.push('\n');
        let stdin = self.stdin.as_mut().expect("node's stdin is open");
        if let Err(e) = stdin.write_all(line.as_bytes()).await {
            panic!("cannot send {command} to node: {e}\n{}", self.transcript());
        }
    }

    /// Reads one more report, waiting at most until `until`. `None` when node ended.
    async fn read(&mut self, until: Instant, what: &str) -> Option<Json> {
        match timeout_at(until.min(self.deadline), self.lines.recv()).await {
            Ok(Some(value)) => {
                if value["event"] == "fatal" || value["event"] == "timeout" {
                    self.history.push((value.clone(), true));
                    panic!("node failed while waiting for {what}\n{}", self.transcript());
                }
                self.history.push((value.clone(), false));
                Some(value)
            }
            Ok(None) => None,
            Err(_) => panic!("no {what} within {WAIT:?}\n{}", self.transcript()),
        }
    }

    /// The earliest report not yet returned that matches `pred`, waiting at most [`WAIT`]. It
    /// is marked returned, so the next call finds the one after it.
    pub async fn next_where(&mut self, what: &str, pred: impl Fn(&Json) -> bool) -> Json {
        if let Some((value, taken)) = self.history.iter_mut().find(|(v, taken)| !*taken && pred(v)) {
            *taken = true;
            return value.clone();
        }
        let until = Instant::now() + WAIT;
        while let Some(value) = self.read(until, what).await {
            if pred(&value) {
                if let Some(last) = self.history.last_mut() {
                    last.1 = true;
                }
                return value;
            }
        }
        panic!("node ended before {what}\n{}", self.transcript())
    }

    /// The next report of `event` by `client`.
    pub async fn next(&mut self, client: &str, event: &str) -> Json {
        self.next_where(&format!("{client}:{event}"), |v| v["client"] == client && v["event"] == event).await
    }

    /// The next event named `name` that `client` received from the server.
    pub async fn received(&mut self, client: &str, name: &str) -> Json {
        self.next_where(&format!("{client} receiving {name}"), |v| {
            v["client"] == client && v["event"] == "event" && v["name"] == name
        })
        .await
    }

    /// The names and arguments of every event `client` received so far, in order.
    pub fn events_of(&self, client: &str) -> Vec<(String, Json)> {
        self.history
            .iter()
            .filter(|(v, _)| v["client"] == client && v["event"] == "event")
            .map(|(v, _)| (v["name"].as_str().unwrap_or_default().to_owned(), v["args"].clone()))
            .collect()
    }

    /// The latest report of `event` by `client` read so far, returned by `next` or not.
    pub fn last(&self, client: &str, event: &str) -> Json {
        self.history
            .iter()
            .rev()
            .find(|(v, _)| v["client"] == client && v["event"] == event)
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| panic!("{client} reported no {event}\n{}", self.transcript()))
    }

    fn tag(&mut self) -> u64 {
        self.tags += 1;
        self.tags
    }

    /// `client` emits `event` with `args` (a JSON array, see `scenario.js` for binary values),
    /// without an acknowledgement. Returns once node has sent it.
    pub async fn emit(&mut self, client: &str, event: &str, args: Json) {
        let tag = self.tag();
        self.send(json!({"cmd": "emit", "client": client, "event": event, "args": args, "tag": tag})).await;
        self.next_where("the emit", |v| v["client"] == client && v["event"] == "sent" && v["tag"] == tag)
            .await;
    }

    /// `client` emits `event` with `args` and an acknowledgement; returns the acknowledgement's
    /// arguments.
    pub async fn call(&mut self, client: &str, event: &str, args: Json) -> Json {
        let ack = self.call_with(client, event, args, None).await;
        assert_eq!(ack["err"], Json::Null, "the acknowledgement of {event} failed: {ack}");
        ack["args"].clone()
    }

    /// `client` emits `event` with `args` and an acknowledgement (with the client's
    /// `timeout(ms)` when `timeout_ms` is set); returns the `ack` report: `err` and `args`.
    pub async fn call_with(
        &mut self,
        client: &str,
        event: &str,
        args: Json,
        timeout_ms: Option<u64>,
    ) -> Json {
        let tag = self.tag();
        self.send(json!({
            "cmd": "emit", "client": client, "event": event, "args": args, "ack": true,
            "timeoutMs": timeout_ms, "tag": tag,
        }))
        .await;
        self.next_where(&format!("the acknowledgement of {client}'s {event}"), |v| {
            v["client"] == client && v["event"] == "ack" && v["tag"] == tag
        })
        .await
    }

    /// `client` emits `event` `count` times, with the argument `i` for the `i`-th, in one tick.
    /// With `ack`, waits for every acknowledgement and returns their arguments in emit order.
    pub async fn emit_many(&mut self, client: &str, event: &str, count: usize, ack: bool) -> Json {
        let tag = self.tag();
        self.send(json!({"cmd": "emit_many", "client": client, "event": event, "count": count, "ack": ack, "tag": tag}))
            .await;
        let report = if ack { "acks" } else { "sent" };
        let value = self
            .next_where(&format!("{client}'s {count} {event}"), |v| {
                v["client"] == client && v["event"] == report && v["tag"] == tag
            })
            .await;
        value["results"].clone()
    }

    /// Sends `{"cmd": cmd, "client": client}`.
    pub async fn command(&mut self, cmd: &str, client: &str) {
        self.send(json!({"cmd": cmd, "client": client})).await;
    }

    /// The client's `connected`, `active` and `id`, as it sees them now.
    pub async fn state(&mut self, client: &str) -> Json {
        let tag = self.tag();
        self.send(json!({"cmd": "state", "client": client, "tag": tag})).await;
        self.next_where("the client's state", |v| {
            v["client"] == client && v["event"] == "state" && v["tag"] == tag
        })
        .await
    }

    /// The Engine.IO messages manager `manager` received so far: text ones as strings (their
    /// first 200 characters), binary ones as `{"$binlen": N}`.
    pub async fn wire(&mut self, manager: &str) -> Vec<Json> {
        let tag = self.tag();
        self.send(json!({"cmd": "wire", "client": manager, "tag": tag})).await;
        let report = self
            .next_where("the wire record", |v| {
                v["client"] == manager && v["event"] == "wire" && v["tag"] == tag
            })
            .await;
        report["messages"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until node has answered a command sent now: every report `client` printed before
    /// is then read.
    pub async fn sync(&mut self, client: &str) {
        self.state(client).await;
    }

    /// Kills node at once (its connections die with it, nothing is said to the server).
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("kill node");
        let _ = timeout(WAIT, self.child.wait()).await.expect("node dies");
    }

    /// Lets node close its clients and exit; panics unless it exits with success in time.
    pub async fn exit(mut self) {
        if self.stdin.is_some() {
            self.send(json!({"cmd": "exit"})).await;
        }
        drop(self.stdin.take());
        let status = timeout_at(self.deadline, self.child.wait()).await;
        match status {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => panic!("node exited with {status}\n{}", self.transcript()),
            Ok(Err(e)) => panic!("waiting for node: {e}"),
            Err(_) => panic!("node did not exit within {NODE_TIMEOUT:?}\n{}", self.transcript()),
        }
    }
}

// -------------------------------------------------------------------------------------------
// Values, the way scenario.js writes and reads them

const TEXT_PATTERN: &str = "socket.io interop 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ\n";

/// The pattern string of `len` bytes (`{"$big": "text", "len": len}` in node).
pub fn big_text(len: usize) -> String {
    TEXT_PATTERN.chars().cycle().take(len).collect()
}

/// The pattern buffer of `len` bytes (`{"$big": "bin", "len": len}` in node).
pub fn big_binary(len: usize) -> Bytes {
    (0..len).map(|i| (i.wrapping_mul(31).wrapping_add(7) & 0xff) as u8).collect::<Vec<u8>>().into()
}

/// FNV-1a (32 bits) of `bytes`, as 8 hex digits.
pub fn fnv(bytes: &[u8]) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `{"$bin": hex}`: a Buffer, in a command or a report.
pub fn bin(bytes: &[u8]) -> Json {
    json!({ "$bin": hex(bytes) })
}

/// How node reports a string or buffer of more than 1 024 bytes.
pub fn big_summary(kind: &str, bytes: &[u8]) -> Json {
    json!({"$big": kind, "len": bytes.len(), "fnv": fnv(bytes)})
}

/// A server-side value the way node reports the same value: binary as `{"$bin": hex}`, long
/// strings and buffers summarised.
pub fn describe(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) if s.len() > 1024 => big_summary("text", s.as_bytes()),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(items) => Json::Array(items.iter().map(describe).collect()),
        Value::Object(members) => {
            Json::Object(members.iter().map(|(k, v)| (k.clone(), describe(v))).collect())
        }
        Value::Binary(b) if b.len() > 1024 => big_summary("bin", b),
        Value::Binary(b) => bin(b),
    }
}

/// [`describe`] of every value.
pub fn describe_all(values: &[Value]) -> Json {
    Json::Array(values.iter().map(describe).collect())
}

// -------------------------------------------------------------------------------------------
// Transports

/// How a client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Long-polling only.
    Polling,
    /// WebSocket from the start.
    WebSocket,
    /// Long-polling first, then the upgrade to WebSocket (the client's default).
    Upgrade,
}

impl Mode {
    /// The client's `transports` option.
    pub fn transports(self) -> Json {
        match self {
            Mode::Polling => json!(["polling"]),
            Mode::WebSocket => json!(["websocket"]),
            Mode::Upgrade => json!(["polling", "websocket"]),
        }
    }

    /// The transport the connection ends up on.
    pub fn final_transport(self) -> &'static str {
        match self {
            Mode::Polling => "polling",
            Mode::WebSocket | Mode::Upgrade => "websocket",
        }
    }

    /// The transport the connection starts on.
    pub fn first_transport(self) -> &'static str {
        match self {
            Mode::Polling | Mode::Upgrade => "polling",
            Mode::WebSocket => "websocket",
        }
    }

    /// Waits, in upgrade mode, until manager `manager` of `node` reports its upgrade.
    pub async fn settle(self, node: &mut Node, manager: &str) {
        if self == Mode::Upgrade {
            let upgrade = node.next(manager, "upgrade").await;
            assert_eq!(upgrade["transport"], "websocket");
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn epoch_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
