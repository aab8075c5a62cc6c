//! The server side of the [Socket.IO Admin UI](https://socket.io/docs/v4/admin-ui/) for
//! `socketio-server`: the dashboard of the npm package `@socket.io/admin-ui` 0.5 shows the
//! server exactly as it shows a Node.js `socket.io` server that called `instrument(io, {...})`.
//! It is written on `socketio-server`'s public API alone (listeners, `on_set_data`,
//! `on_new_namespace`, `fetch_sockets`, broadcast operators), so it also shows what an
//! extension of the server can do.
//!
//! ```no_run
//! use socketio_admin::{self as admin, AdminAuth, AdminOptions};
//! use socketio_server::{Config, SocketIo};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let io = SocketIo::new(Config::default());
//! // The bcrypt hash of the dashboard's password ("changeit" here), made with any bcrypt tool:
//! // `htpasswd -bnBC 10 "" changeit | tr -d ':\n'` or `node -e "console.log(require('bcryptjs').hashSync('changeit', 10))"`.
//! let auth = AdminAuth::basic("admin", "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS");
//! let ui = admin::instrument(&io, AdminOptions::new(auth))?;
//! println!("the dashboard connects to the namespace {} of this server", ui.namespace().name());
//! io.listen("127.0.0.1:3000").await?;
//! # Ok(())
//! # }
//! ```
//!
//! Then open the hosted dashboard (<https://admin.socket.io>) or serve the package's
//! `ui/dist` folder yourself (the chat example does, under `/admin/`), and connect it to
//! `http://127.0.0.1:3000` with the username and password. The dashboard's origin must be
//! allowed by the server's CORS options when it is served from elsewhere.
//!
//! # The protocol
//!
//! Read from `@socket.io/admin-ui` 0.5.1 (`dist/index.js`, `dist/typed-events.d.ts`) and
//! implemented as it is there. Timestamps are `Date`s, which travel as ISO 8601 strings
//! (`2024-05-01T12:00:00.000Z`); "socket" below is the serialized socket:
//!
//! ```text
//! { id, clientId, transport, nsp, data, handshake: { address, headers, query, issued, secure,
//!   time, url, xdomain }, rooms }
//! ```
//!
//! `clientId` is the first 12 characters of the Engine.IO session id, `transport` the
//! connection's current transport (both are kept in the socket's `data` under `_admin`, as the
//! reference keeps them, so that other nodes of a cluster read them from `fetch_sockets`;
//! `data` shows the rest), `address` is the `cf-connecting-ip` header, else `x-forwarded-for`,
//! else the client's address, and `rooms` includes the socket's own room.
//!
//! * **The namespace** (`namespace_name`, default `/admin`) is where dashboards connect.
//! * **Authentication.** With [`AdminAuth::Basic`], a connection middleware admits a client
//!   whose `auth` is `{ username, password }` with the right username and a password matching
//!   the bcrypt hash, or `{ sessionId }` with a session id of the [`SessionStore`]. A client
//!   admitted by password gets a new session id (16 hex digits), saved in the store and sent
//!   as the event `session` (from the middleware, so before the `CONNECT` answer, as in the
//!   reference). Anyone else gets the `connect_error` `invalid credentials`.
//!   [`AdminAuth::None`] admits everyone (the reference's `auth: false`).
//! * **On connection** a dashboard gets `config` `{ supportedFeatures }`, then, in development
//!   mode, `all_sockets` `[socket, ...]`: every socket of every namespace of this node, on
//!   every node (`fetch_sockets`). The features are `EMIT`, `JOIN`, `LEAVE`, `DISCONNECT`,
//!   `MJOIN`, `MLEAVE`, `MDISCONNECT` (none of them when `readonly`), then
//!   `AGGREGATED_EVENTS`, then `ALL_EVENTS` in development mode.
//! * **`server_stats`**, every `stats_interval` (2 s) and once at `instrument`:
//!   `{ serverId, hostname, pid, uptime, clientsCount, pollingClientsCount, aggregatedEvents,
//!   namespaces: [{ name, socketsCount }] }`. `uptime` is the process's, in seconds;
//!   `clientsCount` the open Engine.IO sessions; `pollingClientsCount` those still on
//!   long-polling; `socketsCount` the sockets of this node; `aggregatedEvents` the counts since
//!   the last stats, per second: `{ timestamp, type, subType?, count }` with `type`
//!   `rawConnection`, `rawDisconnection` (`subType`: the Engine.IO close reason),
//!   `packetsIn`, `packetsOut`, `bytesIn`, `bytesOut` (Engine.IO packets that carry data).
//! * **Development mode** ([`AdminMode::Development`], the default) reports, for every
//!   namespace that exists or is created later, the admin namespace included:
//!   * `socket_connected` `(socket, timestamp)`;
//!   * `socket_updated` `({ id, nsp, data })` each time the socket's data is set (once per key
//!     of the data a middleware set, when the socket connects), and `({ id, nsp, transport })`
//!     when the connection upgrades to WebSocket;
//!   * `socket_disconnected` `(nsp, id, reason, timestamp)`;
//!   * `room_joined` and `room_left` `(nsp, room, id, timestamp)` for every join and leave of
//!     this node's sockets (the socket's own room too); the rooms a disconnecting socket
//!     leaves are reported after its `socket_disconnected`, as the reference's `nextTick` does;
//!   * `event_received` and `event_sent` `(nsp, id, [event, ...args], timestamp)` for every
//!     event a socket receives or is sent (not in the admin namespace).
//!
//!   [`AdminMode::Production`] sends none of these, only the aggregated counts.
//! * **Actions** (unless `readonly`, which leaves these events unanswered):
//!   `join` `(nsp, room, filter?)`, `leave` `(nsp, room, filter?)`,
//!   `_disconnect` `(nsp, close, filter?)` and `emit` `(nsp, filter, event, ...args)` act on
//!   the sockets of namespace `nsp` in room `filter` (a socket id, for the dashboard's buttons)
//!   or on all of them without one, on every node: `io.of(nsp).in(filter).socketsJoin(room)`,
//!   `socketsLeave`, `disconnectSockets(close)`, `emit`. As in the reference, they take no
//!   acknowledgement: the dashboard sees their effect in the events above.
//!
//! Everything is sent to the admin namespace through its adapter, so with a cluster adapter
//! (Redis) a dashboard connected to any node receives every node's `server_stats` (each with
//! its own `serverId`) and every node's socket events, and its actions reach every node. Each
//! node reports its own sockets.
//!
//! # Differences
//!
//! * A socket's data set with [`Socket::set_data`] keeps its `_admin` field (in the reference,
//!   assigning a new object to `socket.data` loses it), and every `set_data` is one
//!   `socket_updated`.
//! * A socket that leaves a room and joins another in one handler is reported in that order
//!   (`room_left`, then `room_joined`); the reference defers every `room_left` to the next tick.
//! * Timestamps are ISO strings with the msgpack parser too (the reference's msgpack encoder
//!   sends a `Date` as a timestamp extension).
//! * `uptime` is read from `/proc` on Linux, else counted from the first `instrument`.

/// The crate's README, whose snippets are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytestring::ByteString;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use socketio_adapter::{RoomEventKind, Sid};
use socketio_parser::{from_payload, Spread, Value};

use socketio_server::{
    BoxFuture, Conn, ConnectError, EngineData, Namespace, Socket, SocketIo, WeakNamespace, WeakSocketIo,
};

/// How dashboards authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum AdminAuth {
    /// No authentication: anyone who reaches the namespace is admitted (the reference's
    /// `auth: false`). Use with care.
    None,
    /// A username and the bcrypt hash of the password (`$2a$`, `$2b$` or `$2y$`, as
    /// `bcryptjs` and most tools write them); the reference's `{ type: "basic", username,
    /// password }`.
    Basic {
        /// The username the dashboard must send.
        username: String,
        /// The bcrypt hash of the password.
        password_hash: String,
    },
}

impl AdminAuth {
    /// Basic authentication with `username` and the bcrypt hash of the password.
    pub fn basic(username: impl Into<String>, password_hash: impl Into<String>) -> Self {
        AdminAuth::Basic { username: username.into(), password_hash: password_hash.into() }
    }
}

impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminAuth::None => f.write_str("None"),
            AdminAuth::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).finish_non_exhaustive()
            }
        }
    }
}

/// What the dashboard is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminMode {
    /// Every socket, room and event (the reference's `mode: "development"`, its default).
    #[default]
    Development,
    /// Only the server stats with the aggregated counts (`mode: "production"`): no per-socket
    /// reports, which cost a broadcast per event of every socket.
    Production,
}

/// Where the session ids of authenticated dashboards are kept, so that a dashboard that
/// reconnects (or reloads) is admitted with its `sessionId` instead of its password.
pub trait SessionStore: Send + Sync + 'static {
    /// Whether `session_id` was saved.
    fn exists<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, bool>;
    /// Saves `session_id`.
    fn save(&self, session_id: &str);
}

/// The default [`SessionStore`]: session ids in memory, for the process's life (the
/// reference's `InMemoryStore`). In a cluster, a dashboard that reconnects to another node
/// gives its password again.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    sessions: Mutex<HashSet<String>>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SessionStore for InMemoryStore {
    fn exists<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, bool> {
        let found = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).contains(session_id);
        Box::pin(std::future::ready(found))
    }

    fn save(&self, session_id: &str) {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(session_id.to_owned());
    }
}

/// The options of [`instrument`]; [`AdminOptions::new`] gives the reference's defaults.
#[derive(Clone)]
pub struct AdminOptions {
    /// The namespace dashboards connect to (default `/admin`).
    pub namespace_name: String,
    /// How dashboards authenticate (no default, as in the reference: say it).
    pub auth: AdminAuth,
    /// Whether the dashboard's actions (join, leave, disconnect, emit) are refused (default
    /// false).
    pub readonly: bool,
    /// What is reported (default [`AdminMode::Development`]).
    pub mode: AdminMode,
    /// The server's id in the dashboard (default: the host's name, as the reference's). Give
    /// each node of a cluster its own.
    pub server_id: Option<String>,
    /// How often `server_stats` is sent (default 2 s, the reference's fixed interval).
    pub stats_interval: Duration,
    /// Where session ids are kept (default [`InMemoryStore`]).
    pub store: Arc<dyn SessionStore>,
}

impl AdminOptions {
    /// The defaults, with `auth`.
    pub fn new(auth: AdminAuth) -> Self {
        AdminOptions {
            namespace_name: "/admin".to_owned(),
            auth,
            readonly: false,
            mode: AdminMode::Development,
            server_id: None,
            stats_interval: Duration::from_secs(2),
            store: Arc::new(InMemoryStore::new()),
        }
    }
}

impl fmt::Debug for AdminOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminOptions")
            .field("namespace_name", &self.namespace_name)
            .field("auth", &self.auth)
            .field("readonly", &self.readonly)
            .field("mode", &self.mode)
            .field("server_id", &self.server_id)
            .field("stats_interval", &self.stats_interval)
            .finish_non_exhaustive()
    }
}

/// Why [`instrument`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// `password_hash` is not a bcrypt hash (the reference's error text).
    #[error("the `password` field must be a valid bcrypt hash")]
    InvalidPasswordHash,
    /// `instrument` was called outside a tokio runtime (the stats need a task).
    #[error("instrument() must be called within a tokio runtime")]
    NoRuntime,
    /// `stats_interval` is zero.
    #[error("the stats interval must be longer than zero")]
    ZeroInterval,
}

/// A feature the dashboard may use, as the `config` event lists them.
const EMIT: &str = "EMIT";
const JOIN: &str = "JOIN";
const LEAVE: &str = "LEAVE";
const DISCONNECT: &str = "DISCONNECT";
const MJOIN: &str = "MJOIN";
const MLEAVE: &str = "MLEAVE";
const MDISCONNECT: &str = "MDISCONNECT";
const AGGREGATED_EVENTS: &str = "AGGREGATED_EVENTS";
const ALL_EVENTS: &str = "ALL_EVENTS";

/// What [`instrument`] set up.
#[derive(Debug, Clone)]
pub struct AdminUi {
    namespace: Namespace,
    server_id: String,
    features: Vec<&'static str>,
}

impl AdminUi {
    /// The admin namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The server's id in the dashboard.
    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    /// The features the `config` event announces.
    pub fn supported_features(&self) -> &[&'static str] {
        &self.features
    }
}

/// Instruments `io` for the Admin UI: creates the admin namespace with its authentication,
/// answers dashboards, observes every namespace (those that exist and those created later)
/// and sends the server stats every `stats_interval` from a task (which ends once the server
/// is dropped). Must be called within a tokio runtime.
///
/// # Errors
///
/// [`AdminError::InvalidPasswordHash`] when the basic authentication's hash is not a bcrypt
/// hash, [`AdminError::NoRuntime`] outside a tokio runtime, [`AdminError::ZeroInterval`].
pub fn instrument(io: &SocketIo, options: AdminOptions) -> Result<AdminUi, AdminError> {
    if let AdminAuth::Basic { password_hash, .. } = &options.auth {
        if password_hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(AdminError::InvalidPasswordHash);
        }
    } else {
        tracing::warn!("admin UI: authentication is disabled, please use with caution");
    }
    if options.stats_interval.is_zero() {
        return Err(AdminError::ZeroInterval);
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| AdminError::NoRuntime)?;
    process_start();

    let admin_ns = io.of(&options.namespace_name);
    let mut features: Vec<&'static str> = Vec::new();
    if !options.readonly {
        features.extend([EMIT, JOIN, LEAVE, DISCONNECT, MJOIN, MLEAVE, MDISCONNECT]);
    }
    features.push(AGGREGATED_EVENTS);
    let development = options.mode == AdminMode::Development;
    if development {
        features.push(ALL_EVENTS);
    }
    let server_id = options.server_id.clone().unwrap_or_else(hostname);
    let shared = Arc::new(Shared {
        io: io.downgrade(),
        admin: admin_ns.downgrade(),
        admin_name: admin_ns.name().clone(),
        features: features.clone(),
        buffer: EventBuffer::default(),
        polling: AtomicI64::new(0),
        registered: Mutex::new(Vec::new()),
        disconnecting: Mutex::new(HashMap::new()),
    });

    authentication(&admin_ns, &options);
    let on_admin = shared.clone();
    admin_ns.on_connection(move |socket| on_admin.clone().dashboard(socket, development));
    engine_listeners(io, &shared);
    if development {
        let hook = shared.clone();
        io.on_new_namespace(move |ns| hook.observe(ns));
        for ns in io.namespaces() {
            shared.observe(&ns);
        }
    }
    let base = json!({ "serverId": server_id, "hostname": hostname(), "pid": std::process::id() });
    runtime.spawn(stats(shared, base, options.stats_interval));
    Ok(AdminUi { namespace: admin_ns, server_id, features })
}

/// The basic authentication middleware, when there is one.
fn authentication(admin_ns: &Namespace, options: &AdminOptions) {
    let AdminAuth::Basic { username, password_hash } = &options.auth else { return };
    let username = Arc::new(username.clone());
    let password_hash = Arc::new(password_hash.clone());
    let store = options.store.clone();
    admin_ns.use_middleware(move |socket: Socket| {
        let (username, password_hash, store) = (username.clone(), password_hash.clone(), store.clone());
        async move {
            let auth = socket.auth();
            if let Some(session_id) = auth["sessionId"].as_str().filter(|s| !s.is_empty()) {
                if store.exists(session_id).await {
                    return Ok(());
                }
            }
            if auth["username"].as_str() == Some(username.as_str()) {
                if let Some(password) = auth["password"].as_str() {
                    let password = password.to_owned();
                    // bcrypt is slow on purpose: off the runtime's threads.
                    let matches = tokio::task::spawn_blocking(move || {
                        bcrypt::verify(password, &password_hash).unwrap_or(false)
                    })
                    .await
                    .unwrap_or(false);
                    if matches {
                        let session_id = random_session_id();
                        store.save(&session_id);
                        let _ = socket.emit("session", &session_id);
                        return Ok(());
                    }
                }
            }
            Err(ConnectError::new("invalid credentials"))
        }
    });
}

/// Sixteen hex digits from the CSPRNG (the reference's `randomBytes(8).toString("hex")`).
fn random_session_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Never seen in practice; an id that is still unpredictable enough to look up.
        return socketio_server::engine::generate_id();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What every hook of one instrumented server shares.
struct Shared {
    io: WeakSocketIo,
    admin: WeakNamespace,
    admin_name: ByteString,
    features: Vec<&'static str>,
    buffer: EventBuffer,
    /// Engine.IO sessions on long-polling (opened since `instrument`).
    polling: AtomicI64,
    /// The namespaces observed (weakly: a removed namespace's memory is not kept).
    registered: Mutex<Vec<WeakNamespace>>,
    /// The rooms left by sockets that are disconnecting, reported after their
    /// `socket_disconnected`: by (namespace, socket id).
    disconnecting: Mutex<HashMap<(ByteString, Sid), Vec<ByteString>>>,
}

impl Shared {
    /// Sends `event` with `args` (spread) to every dashboard, through the admin namespace's
    /// adapter.
    fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) {
        if let Some(ns) = self.admin.upgrade() {
            if let Err(e) = ns.emit(event, args) {
                tracing::debug!(event, "admin UI: cannot send: {e}");
            }
        }
    }

    fn is_admin(&self, nsp: &str) -> bool {
        *self.admin_name == *nsp
    }

    /// A dashboard connected: its actions, `config`, and in development mode `all_sockets`.
    async fn dashboard(self: Arc<Self>, socket: Socket, development: bool) {
        if self.features.contains(&JOIN) {
            self.actions(&socket);
        }
        let _ = socket.emit("config", &json!({ "supportedFeatures": self.features }));
        if development {
            let sockets = self.all_sockets().await;
            let _ = socket.emit("all_sockets", &sockets);
        }
    }

    /// The handlers of the dashboard's actions.
    fn actions(&self, socket: &Socket) {
        let io = self.io.clone();
        socket.on("emit", move |_, event| {
            let io = io.clone();
            async move {
                let args = event.values().unwrap_or_default();
                let mut args = args.into_iter();
                let (Some(nsp), filter, Some(name)) = (args.next(), args.next(), args.next()) else { return };
                let (Some(io), Some(nsp), Some(name)) = (io.upgrade(), as_str(&nsp), as_str(&name)) else {
                    return;
                };
                let op = io.of(nsp).to(Vec::<String>::new());
                let op = match filter.as_ref().and_then(rooms_of) {
                    Some(rooms) => op.to(rooms),
                    None => op,
                };
                let rest: Vec<Value> = args.collect();
                let _ = op.emit(name, &Spread(rest));
            }
        });
        for action in ["join", "leave"] {
            let io = self.io.clone();
            socket.on(action, move |_, event| {
                let io = io.clone();
                async move {
                    let args = event.values().unwrap_or_default();
                    let (Some(io), Some(nsp), Some(room)) =
                        (io.upgrade(), args.first().and_then(as_str), args.get(1).and_then(as_str))
                    else {
                        return;
                    };
                    let mut op = io.of(nsp).to(Vec::<String>::new());
                    if let Some(rooms) = args.get(2).and_then(rooms_of) {
                        op = op.to(rooms);
                    }
                    match action {
                        "join" => op.sockets_join(room),
                        _ => op.sockets_leave(room),
                    }
                }
            });
        }
        let io = self.io.clone();
        socket.on("_disconnect", move |_, event| {
            let io = io.clone();
            async move {
                let args = event.values().unwrap_or_default();
                let (Some(io), Some(nsp)) = (io.upgrade(), args.first().and_then(as_str)) else { return };
                let close = args.get(1).is_some_and(truthy);
                let mut op = io.of(nsp).to(Vec::<String>::new());
                if let Some(rooms) = args.get(2).and_then(rooms_of) {
                    op = op.to(rooms);
                }
                op.disconnect_sockets(close);
            }
        });
    }

    /// Every socket of every namespace of this node, on every node.
    async fn all_sockets(&self) -> Vec<Json> {
        let Some(io) = self.io.upgrade() else { return Vec::new() };
        let mut all = Vec::new();
        for ns in io.namespaces() {
            match ns.fetch_sockets().await {
                Ok(sockets) => {
                    for remote in sockets {
                        let details = remote.details();
                        let local = ns.socket(&details.id);
                        let rooms: Vec<&str> = details.rooms.iter().map(|r| &**r).collect();
                        all.push(serialize(
                            &details.id,
                            ns.name(),
                            &details.data,
                            &details.handshake,
                            &rooms,
                            local.as_ref(),
                        ));
                    }
                }
                Err(e) => tracing::warn!(nsp = %ns.name(), "admin UI: cannot fetch the sockets: {e}"),
            }
        }
        all
    }

    /// Observes `ns` (once): its sockets and its rooms.
    fn observe(self: &Arc<Self>, ns: &Namespace) {
        {
            let mut registered = self.registered.lock().unwrap_or_else(|e| e.into_inner());
            registered.retain(WeakNamespace::is_alive);
            let weak = ns.downgrade();
            if registered.iter().any(|w| w.ptr_eq(&weak)) {
                return;
            }
            registered.push(weak);
        }
        let shared = self.clone();
        ns.prepend_on_connection(move |socket| {
            shared.socket_connected(&socket);
            std::future::ready(())
        });
        let shared = Arc::downgrade(self);
        let nsp = ns.name().clone();
        ns.on_room_event(move |event| {
            let Some(shared) = shared.upgrade() else { return };
            match event.kind {
                RoomEventKind::JoinRoom => {
                    shared.emit("room_joined", &(&*nsp, &*event.room, &*event.key, iso_now()));
                }
                RoomEventKind::LeaveRoom => {
                    let key = (nsp.clone(), event.key.clone());
                    let mut disconnecting = shared.disconnecting.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(rooms) = disconnecting.get_mut(&key) {
                        rooms.push(event.room.clone());
                        return;
                    }
                    drop(disconnecting);
                    shared.emit("room_left", &(&*nsp, &*event.room, &*event.key, iso_now()));
                }
                RoomEventKind::CreateRoom | RoomEventKind::DeleteRoom => {}
            }
        });
    }

    /// A socket of an observed namespace connected (before the application's handlers).
    fn socket_connected(self: &Arc<Self>, socket: &Socket) {
        let nsp = socket.nsp().clone();
        let id = socket.id().clone();
        // `_admin` first, then the data a middleware set, key by key, as the reference
        // copies it into its proxy (one `socket_updated` per key).
        let admin = admin_field(socket);
        match socket.data_json() {
            Json::Null => socket.replace_data(json!({ "_admin": admin })),
            Json::Object(existing) => {
                let mut data = Map::new();
                data.insert("_admin".to_owned(), admin);
                socket.replace_data(Json::Object(data.clone()));
                for (key, value) in existing.into_iter().filter(|(k, _)| k != "_admin") {
                    data.insert(key, value);
                    socket.replace_data(Json::Object(data.clone()));
                    self.socket_updated(&nsp, &id, &Json::Object(data.clone()));
                }
            }
            // Data of another kind cannot hold `_admin`: it is left as it is.
            _ => {}
        }
        self.emit("socket_connected", &(socket_json(socket), iso_now()));
        self.watch_data_and_transport(socket);
        if !self.is_admin(&nsp) {
            self.watch_events(socket);
        }
        self.watch_disconnect(socket);
    }

    /// Reports the socket's data changes and its upgrade, keeping `_admin` in its data.
    fn watch_data_and_transport(self: &Arc<Self>, socket: &Socket) {
        let shared = Arc::downgrade(self);
        socket.on_set_data(move |socket, data| {
            let Some(shared) = shared.upgrade() else { return };
            match data {
                Json::Null => *data = json!({ "_admin": admin_field(socket) }),
                Json::Object(map) if !map.contains_key("_admin") => {
                    map.insert("_admin".to_owned(), admin_field(socket));
                }
                _ => {}
            }
            shared.socket_updated(socket.nsp(), socket.id(), data);
        });
        let shared = Arc::downgrade(self);
        socket.on_upgrade(move |socket| {
            let Some(shared) = shared.upgrade() else { return };
            let mut data = socket.data_json();
            if let Some(admin) = data.get_mut("_admin").and_then(Json::as_object_mut) {
                admin.insert("transport".to_owned(), json!(socket.transport()));
                socket.replace_data(data);
            }
            let update =
                json!({ "id": &**socket.id(), "nsp": &**socket.nsp(), "transport": socket.transport() });
            shared.emit("socket_updated", &update);
        });
    }

    /// Reports every event the socket receives and sends.
    fn watch_events(self: &Arc<Self>, socket: &Socket) {
        let shared = Arc::downgrade(self);
        socket.on_any(move |socket, event| {
            if let Some(shared) = shared.upgrade() {
                let mut args = vec![Value::String(event.name().to_owned())];
                args.extend(event.values().unwrap_or_default());
                shared.emit("event_received", &(&**socket.nsp(), &**socket.id(), args, iso_now()));
            }
            std::future::ready(())
        });
        let shared = Arc::downgrade(self);
        socket.on_any_outgoing(move |socket, _name, payload| {
            let Some(shared) = shared.upgrade() else { return };
            let args: Vec<Value> = from_payload(payload).unwrap_or_default();
            shared.emit("event_sent", &(&**socket.nsp(), &**socket.id(), args, iso_now()));
        });
    }

    /// Reports the socket's disconnection and the rooms it left on the way.
    fn watch_disconnect(self: &Arc<Self>, socket: &Socket) {
        let shared = Arc::downgrade(self);
        socket.on_disconnecting(move |socket, _reason| {
            if let Some(shared) = shared.upgrade() {
                let key = (socket.nsp().clone(), socket.id().clone());
                shared.disconnecting.lock().unwrap_or_else(|e| e.into_inner()).insert(key, Vec::new());
            }
            std::future::ready(())
        });
        let shared = Arc::downgrade(self);
        socket.on_disconnect(move |socket, reason| {
            if let Some(shared) = shared.upgrade() {
                let (nsp, id) = (socket.nsp().clone(), socket.id().clone());
                let key = (nsp.clone(), id.clone());
                let left = shared.disconnecting.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                shared.emit("socket_disconnected", &(&*nsp, &*id, reason.as_str(), iso_now()));
                for room in left.unwrap_or_default() {
                    shared.emit("room_left", &(&*nsp, &*room, &*id, iso_now()));
                }
            }
            std::future::ready(())
        });
    }

    fn socket_updated(&self, nsp: &str, id: &str, data: &Json) {
        self.emit("socket_updated", &json!({ "id": id, "nsp": nsp, "data": without_admin(data) }));
    }
}

/// The `_admin` field of a socket's data: `{ clientId, transport }`.
fn admin_field(socket: &Socket) -> Json {
    json!({ "clientId": client_id(socket), "transport": socket.transport() })
}

/// The first 12 characters of the Engine.IO session id (the reference's `clientId`).
fn client_id(socket: &Socket) -> String {
    socket.engine_id().chars().take(12).collect()
}

/// A local socket, serialized.
fn socket_json(socket: &Socket) -> Json {
    let rooms = socket.rooms();
    let rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
    serialize(
        socket.id(),
        socket.nsp(),
        &socket.data_json(),
        &socket.handshake().to_json(),
        &rooms,
        Some(socket),
    )
}

/// The reference's `serialize(socket, nsp)`. `local` is the socket when it is on this node:
/// its `clientId` and `transport` then come from the connection itself, else from the
/// `_admin` field of its data (absent when it has none, as `undefined` is in JSON).
fn serialize(
    id: &str,
    nsp: &str,
    data: &Json,
    handshake: &Json,
    rooms: &[&str],
    local: Option<&Socket>,
) -> Json {
    let mut out = Map::new();
    out.insert("id".to_owned(), json!(id));
    let (client_id, transport) = match local {
        Some(socket) => (json!(client_id(socket)), json!(socket.transport())),
        None => (data["_admin"]["clientId"].clone(), data["_admin"]["transport"].clone()),
    };
    if !client_id.is_null() {
        out.insert("clientId".to_owned(), client_id);
    }
    if !transport.is_null() {
        out.insert("transport".to_owned(), transport);
    }
    out.insert("nsp".to_owned(), json!(nsp));
    out.insert("data".to_owned(), without_admin(data));
    let headers = &handshake["headers"];
    let address = [&headers["cf-connecting-ip"], &headers["x-forwarded-for"], &handshake["address"]]
        .into_iter()
        .find(|v| truthy_json(v))
        .cloned()
        .unwrap_or(Json::Null);
    let mut hs = Map::new();
    hs.insert("address".to_owned(), address);
    for key in ["headers", "query", "issued", "secure", "time", "url", "xdomain"] {
        if let Some(value) = handshake.get(key) {
            hs.insert(key.to_owned(), value.clone());
        }
    }
    out.insert("handshake".to_owned(), Json::Object(hs));
    out.insert("rooms".to_owned(), json!(rooms));
    Json::Object(out)
}

/// The data without its `_admin` field (the reference's `serializeData`); no data is `{}`.
fn without_admin(data: &Json) -> Json {
    match data {
        Json::Object(map) => Json::Object(
            map.iter().filter(|(k, _)| *k != "_admin").map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        Json::Null => json!({}),
        other => other.clone(),
    }
}

/// JavaScript's truthiness of a JSON value.
fn truthy_json(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Json::String(s) => !s.is_empty(),
        Json::Array(_) | Json::Object(_) => true,
    }
}

/// JavaScript's truthiness of an argument.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) | Value::Binary(_) => true,
    }
}

fn as_str(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// An action's `filter`: a room (a socket id), or several; `None` when it is falsy (every
/// socket).
fn rooms_of(filter: &Value) -> Option<Vec<String>> {
    if !truthy(filter) {
        return None;
    }
    match filter {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => Some(items.iter().filter_map(as_str).map(str::to_owned).collect()),
        Value::Number(n) => Some(vec![n.to_string()]),
        _ => None,
    }
}

// -------------------------------------------------------------------------------------------
// The Engine.IO counts and the stats

/// The counts of one second for one kind of event (the reference's `EventBuffer` entries).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct AggregatedEvent {
    timestamp: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "subType", skip_serializing_if = "Option::is_none")]
    sub_type: Option<String>,
    count: u64,
}

#[derive(Debug, Default)]
struct EventBuffer {
    entries: Mutex<Vec<AggregatedEvent>>,
}

impl EventBuffer {
    fn push(&self, kind: &'static str, sub_type: Option<&str>, count: u64) {
        let timestamp = epoch_millis() / 1000 * 1000;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let found = entries
            .iter_mut()
            .rev()
            .find(|e| e.timestamp == timestamp && e.kind == kind && e.sub_type.as_deref() == sub_type);
        match found {
            Some(entry) => entry.count += count,
            None => entries.push(AggregatedEvent {
                timestamp,
                kind,
                sub_type: sub_type.map(str::to_owned),
                count,
            }),
        }
    }

    fn take(&self) -> Vec<AggregatedEvent> {
        std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Counts every Engine.IO connection's opening, packets, bytes and closing, and the sessions
/// on long-polling.
fn engine_listeners(io: &SocketIo, shared: &Arc<Shared>) {
    let shared = Arc::downgrade(shared);
    io.on_engine_connection(move |conn: &Conn| {
        let Some(this) = shared.upgrade() else { return };
        this.buffer.push("rawConnection", None, 1);
        if conn.transport() == "polling" {
            this.polling.fetch_add(1, Ordering::Relaxed);
            let polling = Arc::new(AtomicBool::new(true));
            let (weak, still) = (shared.clone(), polling.clone());
            conn.on_upgrade(move |_| {
                if still.swap(false, Ordering::Relaxed) {
                    if let Some(this) = weak.upgrade() {
                        this.polling.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            });
            let weak = shared.clone();
            conn.on_close(move |_, _, _| {
                if polling.swap(false, Ordering::Relaxed) {
                    if let Some(this) = weak.upgrade() {
                        this.polling.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            });
        }
        let weak = shared.clone();
        conn.on_packet_create(move |_, packet| {
            if let Some(len) = data_len(&packet.data) {
                if let Some(this) = weak.upgrade() {
                    this.buffer.push("packetsOut", None, 1);
                    this.buffer.push("bytesOut", None, len);
                }
            }
        });
        let weak = shared.clone();
        conn.on_packet(move |_, packet| {
            if let Some(len) = data_len(&packet.data) {
                if let Some(this) = weak.upgrade() {
                    this.buffer.push("packetsIn", None, 1);
                    this.buffer.push("bytesIn", None, len);
                }
            }
        });
        let weak = shared.clone();
        conn.on_close(move |_, reason, _| {
            if let Some(this) = weak.upgrade() {
                this.buffer.push("rawDisconnection", Some(reason), 1);
            }
        });
    });
}

/// The byte length of a packet's data, `None` when it has none (the reference's `if (data)`:
/// an empty string is none, a buffer is data).
fn data_len(data: &EngineData) -> Option<u64> {
    match data {
        EngineData::Text(text) if text.is_empty() => None,
        EngineData::Text(text) => Some(text.len() as u64),
        EngineData::Binary(bytes) => Some(bytes.len() as u64),
    }
}

/// Sends `server_stats` now and every `interval`, until the server is gone.
async fn stats(shared: Arc<Shared>, base: Json, interval: Duration) {
    let shared = Arc::downgrade(&shared);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let (Some(this), Some(io)) = (shared.upgrade(), shared.upgrade().and_then(|s| s.io.upgrade())) else {
            return;
        };
        let namespaces: Vec<Json> = io
            .namespaces()
            .iter()
            .map(|ns| json!({ "name": &**ns.name(), "socketsCount": ns.adapter().local_count() }))
            .collect();
        let mut stats = base.clone();
        if let Some(map) = stats.as_object_mut() {
            map.insert("uptime".to_owned(), json!(uptime()));
            map.insert("clientsCount".to_owned(), json!(io.engine().clients_count()));
            map.insert("pollingClientsCount".to_owned(), json!(this.polling.load(Ordering::Relaxed).max(0)));
            map.insert("aggregatedEvents".to_owned(), json!(this.buffer.take()));
            map.insert("namespaces".to_owned(), Json::Array(namespaces));
        }
        drop(io);
        this.emit("server_stats", &stats);
    }
}

// -------------------------------------------------------------------------------------------
// The process and the clock

/// When the process started, as far as this module knows (the first `instrument`).
fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// The process's uptime in seconds (Node's `process.uptime()`): from `/proc` on Linux, else
/// since the first `instrument`.
fn uptime() -> f64 {
    proc_uptime().unwrap_or_else(|| process_start().elapsed().as_secs_f64())
}

/// The system's uptime minus the process's start time (in clock ticks since boot, 100 a
/// second: Linux's fixed `USER_HZ`).
fn proc_uptime() -> Option<f64> {
    let system: f64 =
        std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces and parentheses: the fields after it follow the last `)`.
    let after = &stat[stat.rfind(')')? + 1..];
    // Field 22 (`starttime`) is the 20th after the command name.
    let start_ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let uptime = system - start_ticks / 100.0;
    (uptime >= 0.0).then_some(uptime)
}

/// The host's name (Node's `os.hostname()`).
fn hostname() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let from_proc = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
        let from_env = || std::env::var("HOSTNAME").ok();
        let from_command = || {
            let out = std::process::Command::new("hostname").output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        };
        from_proc
            .or_else(from_env)
            .or_else(from_command)
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
    .clone()
}

fn epoch_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Now, as JavaScript's `JSON.stringify(new Date())` writes it.
fn iso_now() -> String {
    iso_date(epoch_millis())
}

/// `Date.prototype.toISOString()` of `millis` since the Unix epoch:
/// `2024-05-01T12:00:00.000Z`.
fn iso_date(millis: u64) -> String {
    let secs = millis / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_as_javascript_writes_them() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000Z");
        // new Date(1714564800123).toISOString()
        assert_eq!(iso_date(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        // A leap day, and the end of a year.
        assert_eq!(iso_date(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_date(1_704_067_199_999), "2023-12-31T23:59:59.999Z");
    }

    #[test]
    fn serialized_data_loses_its_admin_field() {
        let data = json!({ "_admin": { "clientId": "x" }, "name": "ada" });
        assert_eq!(without_admin(&data), json!({ "name": "ada" }));
        assert_eq!(without_admin(&Json::Null), json!({}));
    }

    #[test]
    fn remote_sockets_take_client_id_and_transport_from_their_data() {
        let data = json!({ "_admin": { "clientId": "abcdefabcdef", "transport": "websocket" }, "n": 1 });
        let handshake = json!({
            "headers": { "x-forwarded-for": "10.0.0.1" }, "time": "t", "address": "127.0.0.1",
            "xdomain": false, "secure": false, "issued": 1, "url": "/socket.io/", "query": {}, "auth": {},
        });
        let out = serialize("id1", "/", &data, &handshake, &["id1", "r"], None);
        assert_eq!(
            out,
            json!({
                "id": "id1", "clientId": "abcdefabcdef", "transport": "websocket", "nsp": "/",
                "data": { "n": 1 },
                "handshake": {
                    "address": "10.0.0.1", "headers": { "x-forwarded-for": "10.0.0.1" }, "query": {},
                    "issued": 1, "secure": false, "time": "t", "url": "/socket.io/", "xdomain": false,
                },
                "rooms": ["id1", "r"],
            })
        );
        let keys: Vec<&String> = out.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["id", "clientId", "transport", "nsp", "data", "handshake", "rooms"]);
        // Without `_admin`, the two keys are absent, as `undefined` is in the reference's JSON.
        let out = serialize("id1", "/", &json!({}), &handshake, &[], None);
        assert!(out.get("clientId").is_none() && out.get("transport").is_none());
    }

    #[test]
    fn aggregated_events_add_up_per_second_kind_and_sub_type() {
        let buffer = EventBuffer::default();
        buffer.push("packetsIn", None, 1);
        buffer.push("packetsIn", None, 1);
        buffer.push("rawDisconnection", Some("transport close"), 1);
        let events = buffer.take();
        let counted: Vec<(&str, Option<&str>, u64)> =
            events.iter().map(|e| (e.kind, e.sub_type.as_deref(), e.count)).collect();
        // Both pushes of a kind land in the same second unless the clock ticked between them.
        assert!(counted.contains(&("rawDisconnection", Some("transport close"), 1)));
        assert_eq!(counted.iter().filter(|e| e.0 == "packetsIn").map(|e| e.2).sum::<u64>(), 2);
        assert!(buffer.take().is_empty());
        let json = serde_json::to_value(&events).unwrap_or_default();
        assert!(json[0].get("subType").is_none(), "no subType key when there is none: {json}");
    }

    #[test]
    fn filters_follow_javascript_truthiness() {
        assert_eq!(rooms_of(&Value::String("abc".into())), Some(vec!["abc".to_owned()]));
        assert_eq!(rooms_of(&Value::String(String::new())), None);
        assert_eq!(rooms_of(&Value::Null), None);
        assert!(truthy(&Value::Bool(true)) && !truthy(&Value::Bool(false)));
    }

    #[test]
    fn hashes_are_checked_at_instrument() {
        assert!("$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS"
            .parse::<bcrypt::HashParts>()
            .is_ok());
        assert!("changeit".parse::<bcrypt::HashParts>().is_err());
    }
}
