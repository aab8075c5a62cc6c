//! Harness of the Admin UI tests: the Node.js reference (`admin_peer.js`: socket.io 4.8.4 with
//! `@socket.io/admin-ui` 0.5.1's `instrument()`, optionally on `@socket.io/redis-adapter`
//! 8.3.0), the same chat on our server, and what the tests compare: the shapes of payloads.
//! Clients are the npm `socket.io-client` 4.8.4 puppeted by `tests/js/scenario.js`.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{json, Value as Json};
use socketio_server::{Socket, SocketIo};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

use crate::support::{spawn_json_lines, Node, WAIT};

/// The dashboard's username in the tests.
pub const USERNAME: &str = "admin";
/// Its password.
pub const PASSWORD: &str = "changeit";
/// The bcrypt hash of [`PASSWORD`] (from `@socket.io/admin-ui`'s README).
pub const PASSWORD_HASH: &str = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";

/// The folder of `package.json`, its lock file and `admin_peer.js`.
pub fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("peer")
}

/// The chat both servers serve on `/`: `data = {name: auth.name}`, the rooms of `auth.rooms`,
/// and `ping` answered with a `pong` of the same arguments and the ack `"ok"`.
pub fn chat(io: &SocketIo) {
    io.on_connection(|socket: Socket| async move {
        crate::support::node_peer::adopt_auth(&socket);
        socket.on("ping", |socket, event| async move {
            let args = event.values().unwrap_or_default();
            let _ = socket.emit("pong", &socketio_server::Spread(args));
            let _ = event.reply(&"ok");
        });
    });
}

/// The Node.js reference, killed when dropped.
pub struct AdminPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Json>,
    pub port: u16,
}

impl AdminPeer {
    /// Starts `admin_peer.js` with `instrument(io, admin)`, on the Redis at `redis_url` if set.
    pub async fn start(admin: Json, redis_url: Option<&str>) -> Self {
        crate::support::node_peer::ensure_packages(&peer_dir());
        let config = json!({ "admin": admin, "redisUrl": redis_url, "timeoutMs": 90_000 });
        let mut command = Command::new("node");
        command.arg(peer_dir().join("admin_peer.js")).arg(config.to_string());
        command.current_dir(peer_dir()).stderr(Stdio::inherit());
        let (mut child, mut lines) =
            spawn_json_lines(command, |line| json!({"event": "noise", "line": line}));
        let deadline = Instant::now() + WAIT;
        let port = loop {
            match tokio::time::timeout_at(deadline, lines.recv()).await {
                Ok(Some(v)) if v["event"] == "listening" => break v["port"].as_u64().unwrap_or(0) as u16,
                Ok(Some(v)) if v["event"] == "fatal" => panic!("the Node.js reference failed: {v}"),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("the Node.js reference did not start within {WAIT:?}"),
            }
        };
        AdminPeer { stdin: child.stdin.take(), child, lines, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Fails when the reference reported a fatal error so far.
    pub fn check(&mut self) {
        while let Ok(v) = self.lines.try_recv() {
            assert!(v["event"] != "fatal" && v["event"] != "timeout", "the Node.js reference failed: {v}");
        }
    }

    /// Lets the process exit.
    pub async fn exit(mut self) {
        self.check();
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"{\"cmd\":\"exit\"}\n").await;
        }
        let _ = timeout(WAIT, self.child.wait()).await;
    }
}

/// The shape of a value: objects as their keys with the shapes of their values, arrays as the
/// shapes of their items, the rest as JavaScript's `typeof` names (and `null`).
pub fn shape(value: &Json) -> Json {
    match value {
        Json::Null => json!("null"),
        Json::Bool(_) => json!("boolean"),
        Json::Number(_) => json!("number"),
        Json::String(_) => json!("string"),
        Json::Array(items) => Json::Array(items.iter().map(shape).collect()),
        Json::Object(members) => {
            let mut sorted: Vec<(&String, &Json)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            Json::Object(sorted.into_iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
    }
}

/// The keys of an object, sorted.
pub fn keys(value: &Json) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    keys.sort();
    keys
}

/// A dashboard client spec for `scenario.js`: WebSocket only, to `/admin`, with `auth`.
pub fn dashboard(name: &str, auth: Json) -> Json {
    json!({ "name": name, "nsp": "/admin", "transports": ["websocket"], "auth": auth })
}

/// A chat client spec: WebSocket only, to `/`, `auth = {name, rooms}`.
pub fn chatter(name: &str, rooms: &[&str]) -> Json {
    json!({ "name": name, "transports": ["websocket"], "auth": { "name": name, "rooms": rooms } })
}

/// The events (name, arguments) `client` received so far, but the periodic `server_stats`.
pub fn reports(node: &Node, client: &str) -> Vec<(String, Json)> {
    node.events_of(client).into_iter().filter(|(name, _)| name != "server_stats").collect()
}

/// Waits for the next event `name` received by `client` whose arguments satisfy `pred`.
pub async fn next_event(node: &mut Node, client: &str, name: &str, pred: impl Fn(&Json) -> bool) -> Json {
    node.next_where(&format!("{client} receiving {name}"), |v| {
        v["client"] == client && v["event"] == "event" && v["name"] == name && pred(&v["args"])
    })
    .await["args"]
        .clone()
}
