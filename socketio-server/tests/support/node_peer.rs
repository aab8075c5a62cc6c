//! A Node.js node of a mixed cluster, driven over standard input and output: a `peer.js` that
//! reports JSON lines (`listening` with its port and adapter uid, `connection`, `server_side`,
//! `done` answers to tagged commands, `fatal` and `timeout`) and reads one JSON command per
//! line. The cluster harnesses (`cluster`, `streams`, `sharded`) and the PostgreSQL cluster test
//! each start their own `peer.js` with it. Every wait is bounded by [`WAIT`]; the process is killed when dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

use super::{spawn_json_lines, WAIT};

/// Installs the pinned npm packages of `dir` (once per folder and test binary), or panics with
/// why not.
pub fn ensure_packages(dir: &Path) {
    static READY: Mutex<BTreeMap<PathBuf, Result<(), String>>> = Mutex::new(BTreeMap::new());
    let mut ready = READY.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let result = ready.entry(dir.to_owned()).or_insert_with(|| conformance::npm::ensure_installed(dir));
    if let Err(reason) = result {
        panic!("{reason}");
    }
}

/// A running `peer.js`.
pub struct NodePeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Json>,
    history: Vec<(Json, bool)>,
    tags: u64,
    pub port: u16,
    pub uid: String,
}

impl NodePeer {
    /// Runs `node peer.js ARGS...` in `dir` (its pinned npm packages installed first) and waits
    /// for its `listening` report.
    pub async fn start(dir: &Path, args: &[String]) -> NodePeer {
        ensure_packages(dir);
        let mut command = Command::new("node");
        command.arg(dir.join("peer.js")).args(args);
        command.current_dir(dir).stderr(Stdio::inherit());
        let (mut child, lines) = spawn_json_lines(command, |line| json!({"event": "noise", "line": line}));
        let mut peer = NodePeer {
            stdin: child.stdin.take(),
            child,
            lines,
            history: Vec::new(),
            tags: 0,
            port: 0,
            uid: String::new(),
        };
        let listening = peer.next_where("listening", |v| v["event"] == "listening").await;
        peer.port = listening["port"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("a port");
        peer.uid = listening["uid"].as_str().unwrap_or_default().to_owned();
        peer
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn transcript(&self) -> String {
        self.history.iter().map(|(v, _)| v.to_string()).collect::<Vec<_>>().join("\n")
    }

    /// The earliest report not yet returned that matches `pred`, waiting at most [`WAIT`].
    pub async fn next_where(&mut self, what: &str, pred: impl Fn(&Json) -> bool) -> Json {
        if let Some((value, taken)) = self.history.iter_mut().find(|(v, taken)| !*taken && pred(v)) {
            *taken = true;
            return value.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(value)) => {
                    if value["event"] == "fatal" || value["event"] == "timeout" {
                        panic!(
                            "the Node.js node failed while waiting for {what}: {value}\n{}",
                            self.transcript()
                        );
                    }
                    let matched = pred(&value);
                    self.history.push((value.clone(), matched));
                    if matched {
                        return value;
                    }
                }
                Ok(None) => panic!("the Node.js node ended before {what}\n{}", self.transcript()),
                Err(_) => panic!("no {what} within {WAIT:?}\n{}", self.transcript()),
            }
        }
    }

    /// Runs a command (see the `peer.js`) and returns its `done` report, which carries `error`
    /// when the command failed.
    pub async fn try_run(&mut self, mut command: Json) -> Json {
        self.tags += 1;
        let tag = self.tags;
        command["tag"] = json!(tag);
        let mut line = command.to_string();
        line.push('\n');
        let stdin = self.stdin.as_mut().expect("node's stdin is open");
        stdin.write_all(line.as_bytes()).await.expect("send a command to the Node.js node");
        self.next_where(&format!("the answer to {command}"), |v| v["event"] == "done" && v["tag"] == tag)
            .await
    }

    /// Runs a command and returns its `done` report; panics if it failed.
    pub async fn run(&mut self, command: Json) -> Json {
        let done = self.try_run(command.clone()).await;
        assert!(done.get("error").is_none(), "{command} failed: {done}");
        done
    }

    /// Waits until the Node.js node counts `n` servers (command `server_count`).
    pub async fn wait_servers(&mut self, n: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            let done = self.try_run(json!({"cmd": "server_count"})).await;
            if done["count"] == n {
                return;
            }
            assert!(Instant::now() < deadline, "the Node.js node does not count {n} servers: {done}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The next server-side event `name` the Node.js node received: its arguments.
    pub async fn server_side(&mut self, name: &str) -> Json {
        self.next_where(&format!("server-side {name}"), |v| v["event"] == "server_side" && v["name"] == name)
            .await["args"]
            .clone()
    }

    /// The number of servers the Node.js node counts (command `server_count`).
    pub async fn server_count(&mut self) -> u64 {
        self.run(json!({"cmd": "server_count"})).await["count"].as_u64().unwrap_or(0)
    }

    /// The ids of the sockets `rooms` reaches, as the Node.js node's `fetchSockets` answers.
    pub async fn fetch_ids(&mut self, rooms: &[&str]) -> BTreeSet<String> {
        self.try_fetch_ids(rooms).await.expect("the Node.js node's fetchSockets answers")
    }

    /// [`fetch_ids`](Self::fetch_ids), or `None` when a node did not answer.
    pub async fn try_fetch_ids(&mut self, rooms: &[&str]) -> Option<BTreeSet<String>> {
        let done = self.try_run(json!({"cmd": "fetch", "to": rooms})).await;
        if done.get("error").is_some() {
            return None;
        }
        let sockets = done["sockets"].as_array().into_iter().flatten();
        Some(sockets.filter_map(|s| s["id"].as_str().map(str::to_owned)).collect())
    }

    /// Waits (at most [`WAIT`]) until the Node.js node's `fetchSockets` for `rooms` finds
    /// exactly `want`.
    pub async fn wait_sees(&mut self, rooms: &[&str], want: BTreeSet<String>) {
        let deadline = Instant::now() + WAIT;
        loop {
            let seen = self.try_fetch_ids(rooms).await;
            if seen.as_ref() == Some(&want) {
                return;
            }
            assert!(Instant::now() < deadline, "Node.js sees {seen:?} in {rooms:?}, expected {want:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lets the node exit.
    pub async fn exit(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"{\"cmd\":\"exit\"}\n").await;
        }
        let _ = timeout(WAIT, self.child.wait()).await;
    }
}

// -------------------------------------------------------------------------------------------
// What our nodes do in the same tests

/// What every node of the mixed-cluster tests does with a new socket, ours as the Node.js
/// ones: `data = {name: auth.name}`, and it joins the rooms of `auth.rooms`.
pub fn adopt_auth(socket: &socketio_server::Socket) {
    let auth = socket.auth().clone();
    let _ = socket.set_data(&json!({"name": auth["name"]}));
    let rooms: Vec<String> = auth["rooms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    if !rooms.is_empty() {
        socket.join(rooms);
    }
}

/// Listens for the server-side events `hello` (no answer) and `question` (answered with
/// `name`); answers what arrives: (event, args).
pub fn answer_server_side(
    io: &socketio_server::SocketIo,
    name: &'static str,
) -> super::Inbox<(String, Vec<Json>)> {
    let (tx, server_side) = super::inbox();
    for event in ["hello", "question"] {
        let tx = tx.clone();
        io.on_server_side_emit(event, move |args, ack| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((event.to_owned(), args));
                if let Some(ack) = ack {
                    ack.send(&name);
                }
            }
        });
    }
    server_side
}

/// Waits until `io`'s adapter counts `n` servers.
pub async fn wait_server_count(io: &socketio_server::SocketIo, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let count = io.sockets().adapter().server_count().await;
        if count == Ok(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster did not reach {n} servers within {WAIT:?} (last count: {count:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ids of the sockets `rooms` reaches on every node, as `io`'s `fetch_sockets` answers.
pub async fn fetch_socket_ids(io: &socketio_server::SocketIo, rooms: &[&str]) -> BTreeSet<String> {
    try_fetch_socket_ids(io, rooms).await.expect("fetch_sockets")
}

/// [`fetch_socket_ids`], or `None` when a node did not answer.
pub async fn try_fetch_socket_ids(
    io: &socketio_server::SocketIo,
    rooms: &[&str],
) -> Option<BTreeSet<String>> {
    let sockets = if rooms.is_empty() {
        io.fetch_sockets().await
    } else {
        io.to(rooms.iter().map(|r| r.to_string()).collect::<Vec<_>>()).fetch_sockets().await
    };
    Some(sockets.ok()?.iter().map(|s| s.id().to_string()).collect())
}

// -------------------------------------------------------------------------------------------
// The npm clients of the same tests, and what the tests read of them

/// A client spec for `scenario.js`: WebSocket, `auth = {name, rooms}`; it answers `ask` with its
/// name, `ask-silent` by echoing its arguments unless `silent`, and other events by echoing.
pub fn client(name: &str, rooms: &[&str], silent: bool) -> Json {
    let ask_silent = if silent { json!("silent") } else { json!("echo") };
    json!({
        "name": name,
        "transports": ["websocket"],
        "auth": {"name": name, "rooms": rooms},
        "answers": {"ask": "name", "ask-silent": ask_silent},
    })
}

/// The connected client's socket id.
pub async fn connected_id(node: &mut super::Node, client: &str) -> String {
    node.next(client, "connect").await["id"].as_str().expect("the client reports its id").to_owned()
}

/// The names of the events `client` received so far.
pub fn names(node: &super::Node, client: &str) -> BTreeSet<String> {
    node.events_of(client).into_iter().map(|(name, _)| name).collect()
}

/// [`names`] without the `mark` events the tests use to know a round is over.
pub fn without_marks(node: &super::Node, client: &str) -> BTreeSet<String> {
    names(node, client).into_iter().filter(|n| !n.starts_with("mark")).collect()
}

/// A set of strings.
pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The sorted answers of a `done` report's `responses`, as strings.
pub fn sorted_strings(values: &Json) -> Vec<String> {
    let mut out: Vec<String> =
        values.as_array().into_iter().flatten().map(|v| v.as_str().unwrap_or("?").to_owned()).collect();
    out.sort();
    out
}

/// Waits (at most [`WAIT`]) until `check` resolves to true.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(what, WAIT, check).await;
}

/// Waits (at most `within`) until `check` resolves to true.
pub async fn eventually_within<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
