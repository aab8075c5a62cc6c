//! The chat example's server: the Socket.IO handlers of the chat and the axum routes of its page.
//!
//! Shared by `main.rs` (the demo) and `tests/it/chat_browser.rs` (which includes this file with
//! `#[path]`), so both run exactly the same server.
//!
//! The protocol between the page (`static/chat.js`) and the server:
//!
//! * the client connects with `auth: { name, channel }`; a connection middleware checks the
//!   nickname and the channel (`general` when absent) and refuses bad ones with a message the
//!   page shows. Because the page computes `auth` on every attempt, a reconnecting client comes
//!   back to the channel it was in;
//! * on connection the server sends `welcome` `{ id, name, channel, users, channels }`, and the
//!   channel's other members get `user joined` `{ id, name, channel, time, users }`;
//! * `message` (text, with an ack): relayed to the channel's other members as `message`
//!   `{ id, name, channel, text, time }`; the ack answers `{ ok: true, time }` or
//!   `{ ok: false, error }`;
//! * `typing` (a boolean): relayed to the channel's other members as `typing`
//!   `{ id, name, typing }` (volatile: a lost one only delays the indicator);
//! * `join` (a channel name, with an ack): the socket moves to that channel; the old channel
//!   gets `user left`, the new one `user joined`, and the ack answers
//!   `{ ok: true, channel, users }`;
//! * `channels` (server to every client): the channel list, whenever someone moves;
//! * a socket that disconnects leaves its channel with `user left`.
//!
//! A channel `x` is the room `#x`, so that it can never be mistaken for a socket's own room.
//!
//! `socketio-admin`'s tests include this file too, and put the Admin UI's dashboard beside
//! the chat ([`page`] is the router without the Socket.IO layer, for that).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use socketio_server::{Config, ConnectError, DisconnectReason, Event, ServeClient, Socket, SocketIo};
use tracing::{debug, info};

/// The page and its assets, compiled into the binary.
const INDEX_HTML: &str = include_str!("static/index.html");
const STYLE_CSS: &str = include_str!("static/style.css");
const CHAT_JS: &str = include_str!("static/chat.js");

/// The channels listed even when nobody is in them; the first is where everyone starts.
const DEFAULT_CHANNELS: [&str; 3] = ["general", "random", "rust"];
/// The longest nickname and channel name, in characters.
const MAX_NAME: usize = 24;
/// The longest message, in characters.
const MAX_TEXT: usize = 1000;

/// The folder of the example's `package.json`, which pins the browser client.
pub(crate) fn npm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("chat")
}

/// How long `npm ci` may take before it is stopped.
const NPM_LIMIT: Duration = Duration::from_secs(300);

/// Installs the packages `package.json` pins (the browser client) with
/// `npm ci` when they are missing or of another version, and returns `socket.io-client`'s
/// `dist` folder, the one the server serves at `/socket.io/socket.io.min.js`.
///
/// npm installs into a folder of this process's own, which then takes the place of
/// `node_modules` with one rename: two processes starting at once never see half an install.
pub(crate) fn install_client() -> Result<PathBuf, String> {
    let dir = npm_dir();
    let modules = dir.join("node_modules");
    if !installed(&dir)? {
        let stage = dir.join(format!(".npm-{}", std::process::id()));
        let result = npm_ci(&dir, &stage).and_then(|()| {
            if installed(&dir)? {
                return Ok(()); // another process got there first
            }
            let _ = std::fs::remove_dir_all(&modules); // an install of other versions
            std::fs::rename(stage.join("node_modules"), &modules)
                .map_err(|e| format!("cannot move the npm install to {}: {e}", modules.display()))
        });
        let _ = std::fs::remove_dir_all(&stage);
        result?;
        if !installed(&dir)? {
            return Err(format!("`npm ci` did not install the versions {}/package.json pins", dir.display()));
        }
    }
    Ok(modules.join("socket.io-client").join("dist"))
}

/// Whether `dir/node_modules` holds every package `dir/package.json` pins, at its version.
fn installed(dir: &Path) -> Result<bool, String> {
    let read = |path: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let manifest =
        read(dir.join("package.json")).ok_or_else(|| format!("no package.json in {}", dir.display()))?;
    let pins = manifest["dependencies"].as_object().ok_or("package.json has no `dependencies`")?;
    Ok(pins.iter().all(|(name, version)| {
        let path = dir.join("node_modules").join(name).join("package.json");
        read(path).is_some_and(|installed| installed["version"] == *version)
    }))
}

/// Runs `npm ci` for `dir`'s `package.json` and `package-lock.json` in the folder `stage`.
fn npm_ci(dir: &Path, stage: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(stage);
    std::fs::create_dir_all(stage).map_err(|e| format!("cannot create {}: {e}", stage.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), stage.join(file)).map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    let log = stage.join("npm-errors.log");
    let errors = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(stage)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(errors)
        .spawn()
        .map_err(|e| {
            format!("cannot run npm ({e}): Node.js and npm are needed once, to install the browser client")
        })?;
    let deadline = Instant::now() + NPM_LIMIT;
    let status = loop {
        match npm.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = npm.kill();
                let _ = npm.wait();
                return Err(format!("`npm ci` took more than {NPM_LIMIT:?}"));
            }
            Err(e) => return Err(format!("waiting for npm: {e}")),
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm ci` failed ({status}): {}", std::fs::read_to_string(&log).unwrap_or_default()))
    }
}

/// The Socket.IO server with the chat's handlers, and the router serving the page with the
/// Socket.IO layer in front of it. `client_dist` is the `socket.io-client/dist` folder.
pub(crate) fn app(client_dist: PathBuf) -> (SocketIo, Router) {
    let (io, router) = page(client_dist);
    let router = router.layer(io.layer());
    (io, router)
}

/// The Socket.IO server with the chat's handlers, and the router of the page alone.
pub(crate) fn page(client_dist: PathBuf) -> (SocketIo, Router) {
    let config = Config { serve_client: ServeClient::Dir(client_dist), ..Config::default() };
    let io = SocketIo::new(config);
    io.use_middleware(|socket: Socket| async move { admit(&socket) });
    let server = io.clone();
    io.on_connection(move |socket| on_connection(server.clone(), socket));
    let router = Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }))
        .route("/chat.js", get(|| async { asset("text/javascript; charset=utf-8", CHAT_JS) }));
    (io, router)
}

fn asset(kind: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body)
}

/// Who a socket is, kept in the socket's `data`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    name: String,
    channel: String,
}

/// The `auth` payload the page sends.
#[derive(Debug, Default, Deserialize)]
struct Auth {
    #[serde(default)]
    name: String,
    #[serde(default)]
    channel: Option<String>,
}

/// A chat message as the other members receive it.
#[derive(Debug, Serialize)]
struct Message<'a> {
    id: &'a str,
    name: &'a str,
    channel: &'a str,
    text: &'a str,
    time: u64,
}

/// `user joined` and `user left`.
#[derive(Debug, Serialize)]
struct Notice<'a> {
    id: &'a str,
    name: &'a str,
    channel: &'a str,
    time: u64,
    users: Vec<String>,
}

/// The connection middleware: admits a socket whose nickname and channel are valid.
fn admit(socket: &Socket) -> Result<(), ConnectError> {
    let auth = Auth::deserialize(socket.auth()).unwrap_or_default();
    let name = nickname(&auth.name).map_err(ConnectError::new)?;
    let channel = match auth.channel.as_deref() {
        None | Some("") => DEFAULT_CHANNELS[0].to_owned(),
        Some(raw) => channel_name(raw).map_err(ConnectError::new)?,
    };
    socket.set_data(&Member { name, channel }).map_err(|e| ConnectError::new(e.to_string()))
}

/// A nickname: trimmed, 1 to [`MAX_NAME`] characters, no control characters. The page
/// (`static/chat.js`, `nicknameProblem`) checks the first two rules before it connects, with the
/// same messages; the page shows these refusals under the nickname field.
fn nickname(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        Err("Please choose a nickname (not just spaces).")
    } else if name.chars().count() > MAX_NAME {
        Err("That nickname is too long: 24 characters at most.")
    } else if name.chars().any(char::is_control) {
        Err("A nickname cannot hold control characters (a tab, a line break…).")
    } else {
        Ok(name.to_owned())
    }
}

/// A channel name: an optional leading `#`, then 1 to [`MAX_NAME`] letters, digits, `-` or
/// `_`, lowercased.
fn channel_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    let name = name.strip_prefix('#').unwrap_or(name).to_lowercase();
    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if name.is_empty() || name.len() > MAX_NAME || !valid {
        Err("a channel name is 1 to 24 letters, digits, - or _")
    } else {
        Ok(name)
    }
}

/// The room of a channel.
fn room(channel: &str) -> String {
    format!("#{channel}")
}

/// Milliseconds since the Unix epoch: the time the page shows next to a message.
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// The nicknames in `channel`, sorted.
async fn members(io: &SocketIo, channel: &str) -> Vec<String> {
    let sockets = io.to(room(channel)).fetch_sockets().await.unwrap_or_default();
    let mut names: Vec<String> = sockets.iter().filter_map(|s| s.data::<Member>()).map(|m| m.name).collect();
    names.sort_by_key(|name| name.to_lowercase());
    names
}

/// The default channels, then every other channel someone is in.
fn channels(io: &SocketIo) -> Vec<String> {
    let mut list: Vec<String> = DEFAULT_CHANNELS.iter().map(|c| (*c).to_owned()).collect();
    let mut others: Vec<String> = io
        .sockets()
        .rooms()
        .iter()
        .filter_map(|room| room.strip_prefix('#'))
        .filter(|channel| !DEFAULT_CHANNELS.contains(channel))
        .map(str::to_owned)
        .collect();
    others.sort();
    list.append(&mut others);
    list
}

async fn on_connection(io: SocketIo, socket: Socket) {
    let Some(me) = socket.data::<Member>() else {
        return;
    };
    // Handlers first: they are in place before the client's first event.
    socket.on("message", |socket, event| async move { on_message(&socket, &event) });
    socket.on("typing", |socket, event| async move { on_typing(&socket, &event) });
    let server = io.clone();
    socket.on("join", move |socket, event| on_join(server.clone(), socket, event));
    let server = io.clone();
    socket.on_disconnect(move |socket, reason| on_disconnect(server.clone(), socket, reason));
    socket.on_upgrade(|socket| debug!(id = %socket.id(), transport = socket.transport(), "upgraded"));

    info!(id = %socket.id(), name = %me.name, channel = %me.channel, transport = socket.transport(), "connected");
    socket.join(room(&me.channel));
    let users = members(&io, &me.channel).await;
    let time = now();
    let notice = Notice { id: socket.id(), name: &me.name, channel: &me.channel, time, users: users.clone() };
    let _ = socket.to(room(&me.channel)).emit("user joined", &notice);
    let channels = channels(&io);
    let welcome = json!({
        "id": socket.id().to_string(),
        "name": me.name,
        "channel": me.channel,
        "users": users,
        "channels": channels,
    });
    let _ = socket.emit("welcome", &welcome);
    let _ = io.emit("channels", &channels);
}

fn on_message(socket: &Socket, event: &Event) {
    let Some(me) = socket.data::<Member>() else {
        return;
    };
    let text = event.arg::<String>().unwrap_or_default();
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        let _ = event.reply(&json!({ "ok": false, "error": "a message is 1 to 1000 characters" }));
        return;
    }
    let time = now();
    let message = Message { id: socket.id(), name: &me.name, channel: &me.channel, text, time };
    let _ = socket.to(room(&me.channel)).emit("message", &message);
    let _ = event.reply(&json!({ "ok": true, "time": time }));
    debug!(name = %me.name, channel = %me.channel, chars = text.chars().count(), "message");
}

fn on_typing(socket: &Socket, event: &Event) {
    let Some(me) = socket.data::<Member>() else {
        return;
    };
    let typing = event.arg::<bool>().unwrap_or(false);
    let state = json!({ "id": socket.id().to_string(), "name": me.name, "typing": typing });
    let _ = socket.to(room(&me.channel)).volatile().emit("typing", &state);
}

async fn on_join(io: SocketIo, socket: Socket, event: Event) {
    let Some(mut me) = socket.data::<Member>() else {
        return;
    };
    let channel = match event
        .arg::<String>()
        .map_err(|_| "a channel name is a string")
        .and_then(|c| channel_name(&c))
    {
        Ok(channel) => channel,
        Err(error) => {
            let _ = event.reply(&json!({ "ok": false, "error": error }));
            return;
        }
    };
    let old = std::mem::replace(&mut me.channel, channel.clone());
    let moved = old != channel;
    if moved {
        socket.leave(room(&old));
        socket.join(room(&channel));
        let _ = socket.set_data(&me);
        info!(id = %socket.id(), name = %me.name, from = %old, to = %channel, "changed channel");
        let notice = Notice {
            id: socket.id(),
            name: &me.name,
            channel: &old,
            time: now(),
            users: members(&io, &old).await,
        };
        let _ = io.to(room(&old)).emit("user left", &notice);
    }
    let users = members(&io, &channel).await;
    if moved {
        let notice =
            Notice { id: socket.id(), name: &me.name, channel: &channel, time: now(), users: users.clone() };
        let _ = socket.to(room(&channel)).emit("user joined", &notice);
    }
    let _ = event.reply(&json!({ "ok": true, "channel": channel, "users": users }));
    if moved {
        let _ = io.emit("channels", &channels(&io));
    }
}

async fn on_disconnect(io: SocketIo, socket: Socket, reason: DisconnectReason) {
    let Some(me) = socket.data::<Member>() else {
        return;
    };
    info!(id = %socket.id(), name = %me.name, channel = %me.channel, %reason, "disconnected");
    // The socket has already left its rooms: `members` lists those who stay.
    let users = members(&io, &me.channel).await;
    let notice = Notice { id: socket.id(), name: &me.name, channel: &me.channel, time: now(), users };
    let _ = io.to(room(&me.channel)).emit("user left", &notice);
    let _ = io.emit("channels", &channels(&io));
}
