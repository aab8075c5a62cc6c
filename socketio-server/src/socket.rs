//! A socket: one client in one namespace.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytestring::ByteString;
use serde::de::DeserializeOwned;
use serde::Serialize;
use socketio_adapter::{
    BroadcastFlags, BroadcastOptions, LocalSocket, PersistedSession, Room, Sid, SocketDetails,
};
use socketio_parser::connection::DisconnectReason;
use socketio_parser::{from_args, from_payload, EncodedAck, EncodedPacket, Payload, PayloadError, Value};
use tokio::sync::{mpsc, oneshot};

use crate::client::{AckSink, AwaitAck, Command, PostCommand};
use crate::encode;
use crate::error::{AckError, ConnectError, EmitError, ListenerError, SocketError};
use crate::handshake::Handshake;
use crate::namespace::NsInner;
use crate::operators::{BroadcastOperator, IntoRooms};
use crate::run::{run_now_or_spawn, HandlerFuture};

pub(crate) type EventHandler = Arc<dyn Fn(Socket, Event) -> HandlerFuture + Send + Sync>;
pub(crate) type DisconnectHandler = Arc<dyn Fn(Socket, DisconnectReason) -> HandlerFuture + Send + Sync>;
pub(crate) type OutgoingHandler = Arc<dyn Fn(&Socket, &str, &Payload) + Send + Sync>;
pub(crate) type ErrorHandler = Arc<dyn Fn(&Socket, &SocketError) + Send + Sync>;
pub(crate) type PacketMiddleware =
    Arc<dyn Fn(Socket, Event) -> crate::BoxFuture<'static, Result<Event, ConnectError>> + Send + Sync>;
pub(crate) type UpgradeHandler = Arc<dyn Fn(&Socket) + Send + Sync>;
pub(crate) type DataHook = Arc<DataFn>;

/// One client connected to one namespace. Cloning gives another handle on the same socket;
/// handles may be used from any task.
///
/// ```no_run
/// use std::time::Duration;
/// use socketio_server::{Config, SocketIo};
///
/// # fn setup(io: SocketIo) {
/// io.on_connection(|socket| async move {
///     let name: Option<String> = socket.handshake().query_param("name").map(str::to_owned);
///     socket.join(format!("user:{}", name.as_deref().unwrap_or("anonymous")));
///     socket.on("ping", |socket, event| async move {
///         event.reply(&"pong").ok();
///         // Ask something back, and give the client 5 s to answer.
///         if let Ok(ack) = socket.timeout(Duration::from_secs(5)).emit_with_ack("how are you?", &()) {
///             if let Ok(answer) = ack.await {
///                 println!("{} is {}", socket.id(), answer.arg::<String>().unwrap_or_default());
///             }
///         }
///     });
///     socket.on_disconnect(|socket, reason| async move {
///         println!("{} left ({reason}), rooms were {:?}", socket.id(), socket.rooms());
///     });
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

pub(crate) struct SocketInner {
    id: Sid,
    pid: Option<Sid>,
    pub(crate) ns: Arc<NsInner>,
    pub(crate) engine: Arc<crate::client::Engine>,
    /// The `auth` payload, boxed unless it is the empty object most clients send (`None`).
    auth: Option<Box<serde_json::Value>>,
    issued: u64,
    state: AtomicU8,
    recovered: bool,
    has_outgoing: AtomicBool,
    listeners: Mutex<Listeners>,
    /// The socket's `data`, boxed once set (`None` is `null`): most sockets never have any.
    data: Mutex<Option<Box<serde_json::Value>>>,
    extensions: Mutex<http::Extensions>,
    /// The socket's `tracing` span (`nsp`, `id`), inside its Engine.IO session's.
    span: tracing::Span,
}

/// A socket's `data` as stored: `null` is nothing.
fn boxed_data(value: serde_json::Value) -> Option<Box<serde_json::Value>> {
    (!value.is_null()).then(|| Box::new(value))
}

const PENDING: u8 = 0;
const CONNECTED: u8 = 1;
const DISCONNECTED: u8 = 2;

/// A socket's handlers. Every connected socket holds this, so it stays small: event handlers
/// in one list (a socket has a handful; a scan beats hashing the name), and the kinds of
/// handlers few applications use behind one optional box.
#[derive(Default)]
struct Listeners {
    /// Event name, handler, and whether it runs once.
    events: Vec<(Cow<'static, str>, EventHandler, bool)>,
    disconnect: Vec<DisconnectHandler>,
    rare: Option<Box<RareListeners>>,
}

#[derive(Default)]
struct RareListeners {
    any: Vec<EventHandler>,
    outgoing: Vec<OutgoingHandler>,
    disconnecting: Vec<DisconnectHandler>,
    error: Vec<ErrorHandler>,
    middlewares: Vec<PacketMiddleware>,
    /// Events that arrived while an earlier one was still in the packet middlewares: they go
    /// through them in arrival order, one after the other.
    waiting: std::collections::VecDeque<Event>,
    /// Whether an event is in the packet middlewares now.
    in_middlewares: bool,
    upgrade: Vec<UpgradeHandler>,
    data: Vec<DataHook>,
}

impl Listeners {
    fn rare(&mut self) -> &mut RareListeners {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The handlers of event `name`, and whether one of them runs once.
    fn named(&self, name: &str) -> (Vec<EventHandler>, bool) {
        let mut once = false;
        let handlers = self
            .events
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, handler, is_once)| {
                once |= *is_once;
                handler.clone()
            })
            .collect();
        (handlers, once)
    }

    /// Takes the handlers of event `name`, dropping those that run once.
    fn take_named(&mut self, name: &str) -> Vec<EventHandler> {
        let (handlers, once) = self.named(name);
        if once {
            self.events.retain(|(n, _, is_once)| !(*is_once && n == name));
        }
        handlers
    }

    /// A copy of one list of the rare handlers (empty, without allocating, when there is none).
    fn rare_list<T: Clone>(&self, list: impl Fn(&RareListeners) -> &Vec<T>) -> Vec<T> {
        self.rare.as_deref().map(|r| list(r).clone()).unwrap_or_default()
    }
}

/// A handler added to a socket: [`Socket::remove_listener`] removes it. Holding the handle
/// does not keep the handler alive.
#[derive(Clone)]
pub struct Listener(ListenerRef);

#[derive(Clone)]
enum ListenerRef {
    Event(Weak<dyn Fn(Socket, Event) -> HandlerFuture + Send + Sync>),
    Disconnect(Weak<dyn Fn(Socket, DisconnectReason) -> HandlerFuture + Send + Sync>),
    Outgoing(Weak<OutgoingFn>),
    Error(Weak<ErrorFn>),
    Middleware(Weak<MiddlewareFn>),
    Upgrade(Weak<dyn Fn(&Socket) + Send + Sync>),
    Data(Weak<DataFn>),
}

type OutgoingFn = dyn Fn(&Socket, &str, &Payload) + Send + Sync;
type ErrorFn = dyn Fn(&Socket, &SocketError) + Send + Sync;
type MiddlewareFn =
    dyn Fn(Socket, Event) -> crate::BoxFuture<'static, Result<Event, ConnectError>> + Send + Sync;
type DataFn = dyn Fn(&Socket, &mut serde_json::Value) + Send + Sync;

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            ListenerRef::Event(_) => "event",
            ListenerRef::Disconnect(_) => "disconnect",
            ListenerRef::Outgoing(_) => "outgoing",
            ListenerRef::Error(_) => "error",
            ListenerRef::Middleware(_) => "middleware",
            ListenerRef::Upgrade(_) => "upgrade",
            ListenerRef::Data(_) => "data",
        };
        f.debug_tuple("Listener").field(&kind).finish()
    }
}

/// Whether `handler` is the one `weak` refers to.
fn same<T: ?Sized>(handler: &Arc<T>, weak: &Weak<T>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(handler), weak.as_ptr())
}

/// Removes the first handler of `list` that `weak` refers to.
fn remove_from<T: ?Sized>(list: &mut Vec<Arc<T>>, weak: &Weak<T>) -> bool {
    match list.iter().position(|h| same(h, weak)) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

/// Names a server socket never emits: a handler for one of them could never run.
const NEVER_EMITTED: [&str; 4] = ["connect", "connect_error", "newListener", "removeListener"];

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.0.ns.name)
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Socket {
    pub(crate) fn new(
        id: Sid,
        pid: Option<Sid>,
        ns: Arc<NsInner>,
        engine: Arc<crate::client::Engine>,
        auth: serde_json::Value,
    ) -> Self {
        Self::build(id, pid, ns, engine, auth, None)
    }

    /// The socket of a session restored by connection state recovery: its id, pid and data.
    pub(crate) fn recovered_from(
        session: &PersistedSession,
        ns: Arc<NsInner>,
        engine: Arc<crate::client::Engine>,
        auth: serde_json::Value,
    ) -> Self {
        Self::build(
            session.sid.clone(),
            Some(session.pid.clone()),
            ns,
            engine,
            auth,
            Some(session.data.clone()),
        )
    }

    fn build(
        id: Sid,
        pid: Option<Sid>,
        ns: Arc<NsInner>,
        engine: Arc<crate::client::Engine>,
        auth: serde_json::Value,
        restored_data: Option<serde_json::Value>,
    ) -> Self {
        let span = tracing::debug_span!(parent: engine.span(), "socket", nsp = %ns.name, id = %id);
        Socket(Arc::new(SocketInner {
            span,
            id,
            pid,
            ns,
            engine,
            auth: auth.as_object().is_none_or(|o| !o.is_empty()).then(|| Box::new(auth)),
            issued: crate::clock::epoch_millis(),
            state: AtomicU8::new(PENDING),
            recovered: restored_data.is_some(),
            has_outgoing: AtomicBool::new(false),
            listeners: Mutex::new(Listeners::default()),
            data: Mutex::new(restored_data.and_then(boxed_data)),
            extensions: Mutex::new(http::Extensions::new()),
        }))
    }

    /// The socket's `tracing` span: its namespace and id, inside its session's span.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.0.span
    }

    fn listeners(&self) -> MutexGuard<'_, Listeners> {
        self.0.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    // -------------------------------------------------------------------------------------
    // What the socket is

    /// The socket id: 20 characters from a CSPRNG, not the Engine.IO session id (which is
    /// sensitive). For a Socket.IO 2 client it is `nsp#sid` (or `sid` in `/`), as the reference
    /// gives such clients.
    pub fn id(&self) -> &Sid {
        &self.0.id
    }

    /// The private session id, when connection state recovery is on.
    pub fn pid(&self) -> Option<&Sid> {
        self.0.pid.as_ref()
    }

    /// The namespace's name.
    pub fn nsp(&self) -> &ByteString {
        &self.0.ns.name
    }

    /// The namespace.
    pub fn namespace(&self) -> crate::Namespace {
        crate::Namespace(self.0.ns.clone())
    }

    /// The request that opened the connection, and the `auth` payload of the socket's
    /// `CONNECT`.
    pub fn handshake(&self) -> Handshake {
        Handshake::new(&self.0.engine, self.auth().clone(), self.0.issued)
    }

    /// The `auth` payload of the socket's `CONNECT` (an empty object when none was sent).
    pub fn auth(&self) -> &serde_json::Value {
        static EMPTY: std::sync::LazyLock<serde_json::Value> =
            std::sync::LazyLock::new(|| serde_json::Value::Object(serde_json::Map::new()));
        self.0.auth.as_deref().unwrap_or(&EMPTY)
    }

    /// The `auth` payload read as `T`.
    ///
    /// ```no_run
    /// # fn f(socket: socketio_server::Socket) {
    /// #[derive(serde::Deserialize)]
    /// struct Auth {
    ///     token: String,
    /// }
    /// match socket.auth_as::<Auth>() {
    ///     Ok(auth) => println!("token {}", auth.token),
    ///     Err(e) => println!("no usable auth: {e}"),
    /// }
    /// # }
    /// ```
    pub fn auth_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.auth())
    }

    /// The rooms the socket is in, its own id's room included, in join order. While its
    /// connection middlewares run, the rooms they joined.
    pub fn rooms(&self) -> Vec<Room> {
        if let Some(rooms) = self.pending_rooms(|rooms| rooms.clone()) {
            return rooms;
        }
        self.0.ns.adapter.socket_rooms(&self.0.id).unwrap_or_default()
    }

    /// Whether the socket is connected (false while its connection middlewares run, and once
    /// it is disconnected).
    pub fn connected(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == CONNECTED
    }

    /// Whether the socket is not connected (the reference's `disconnected`): true while its
    /// connection middlewares run, and once it is disconnected.
    pub fn disconnected(&self) -> bool {
        !self.connected()
    }

    /// Whether the socket was restored by connection state recovery.
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    /// The name of the transport the connection uses now: `polling` or `websocket`.
    pub fn transport(&self) -> &'static str {
        self.0.engine.transport().name()
    }

    /// The Engine.IO session id of the connection.
    pub fn engine_id(&self) -> &ByteString {
        self.0.engine.id()
    }

    /// The socket's `data`, read as `T` (the reference's `socket.data`, which travels with
    /// `fetch_sockets` to other nodes and with connection state recovery). `None` when unset
    /// or not a `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        let data = self.0.data.lock().unwrap_or_else(|e| e.into_inner());
        T::deserialize(&**data.as_ref()?).ok()
    }

    /// Replaces the socket's `data`. The [`on_set_data`](Self::on_set_data) hooks see the new
    /// value first.
    pub fn set_data<T: Serialize>(&self, data: &T) -> Result<(), EmitError> {
        let mut value = serde_json::to_value(data).map_err(|e| EmitError::Serialize(e.to_string()))?;
        let hooks = self.listeners().rare_list(|r| &r.data);
        for hook in hooks {
            hook(self, &mut value);
        }
        self.replace_data(value);
        Ok(())
    }

    /// Replaces the socket's `data` without calling the [`on_set_data`](Self::on_set_data)
    /// hooks: for an observer that keeps a field of its own in the data (as the Admin UI
    /// keeps `_admin`) and must not hear its own change. Applications use
    /// [`set_data`](Self::set_data).
    pub fn replace_data(&self, value: serde_json::Value) {
        *self.0.data.lock().unwrap_or_else(|e| e.into_inner()) = boxed_data(value);
    }

    /// Calls `hook` each time [`set_data`](Self::set_data) replaces the socket's `data`, with
    /// the new value before it is stored: the hook may amend it (keep a field of its own in
    /// it, say). Hooks run in registration order, on the task that calls `set_data`, and must
    /// not block. This is how an observer learns of data changes, as the reference's admin UI
    /// does with a `Proxy` around `socket.data`.
    ///
    /// ```no_run
    /// # fn f(socket: socketio_server::Socket) {
    /// socket.on_set_data(|socket, data| {
    ///     println!("{} has new data: {data}", socket.id());
    /// });
    /// # }
    /// ```
    pub fn on_set_data(
        &self,
        hook: impl Fn(&Socket, &mut serde_json::Value) + Send + Sync + 'static,
    ) -> Listener {
        let hook: DataHook = Arc::new(hook);
        let listener = Listener(ListenerRef::Data(Arc::downgrade(&hook)));
        self.listeners().rare().data.push(hook);
        listener
    }

    /// The socket's `data` as JSON.
    pub fn data_json(&self) -> serde_json::Value {
        let data = self.0.data.lock().unwrap_or_else(|e| e.into_inner());
        data.as_deref().cloned().unwrap_or(serde_json::Value::Null)
    }

    /// Runs `f` on the socket's typed extensions: state of any type, local to this node.
    pub fn extensions<R>(&self, f: impl FnOnce(&mut http::Extensions) -> R) -> R {
        f(&mut self.0.extensions.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Keeps `state` with the socket, one value per type, local to this node and typed: no
    /// serialisation, unlike [`set_data`](Self::set_data) (which travels to other nodes).
    /// Returns the value of that type it replaces.
    ///
    /// ```no_run
    /// # fn f(socket: socketio_server::Socket) {
    /// #[derive(Clone)]
    /// struct User {
    ///     name: String,
    /// }
    /// socket.set_state(User { name: "ada".into() });
    /// let name = socket.state::<User>().map(|user| user.name);
    /// socket.with_state(|user: &mut User| user.name.push('!'));
    /// # }
    /// ```
    pub fn set_state<T: Clone + Send + Sync + 'static>(&self, state: T) -> Option<T> {
        self.extensions(|e| e.insert(state))
    }

    /// A copy of the socket's state of type `T` (for a costly type, keep an `Arc` in it).
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.extensions(|e| e.get::<T>().cloned())
    }

    /// Runs `f` on the socket's state of type `T`; `None` when it has none.
    pub fn with_state<T: Send + Sync + 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.extensions(|e| e.get_mut::<T>().map(f))
    }

    // -------------------------------------------------------------------------------------
    // Listeners

    /// Calls `handler` for every event named `event`. Several handlers of one event run in
    /// registration order. A handler that finishes without waiting runs on the connection's
    /// task; one that waits continues on a task of its own. Returns the handler's handle, for
    /// [`remove_listener`](Self::remove_listener).
    ///
    /// The socket's own events reach `on` as in the reference, as events whose arguments are
    /// what a JavaScript listener gets:
    /// * `"disconnecting"` and `"disconnect"`: one argument, the reason as a string
    ///   (`"client namespace disconnect"`, `"ping timeout"`, …; see [`DisconnectReason`]), after
    ///   the [`on_disconnecting`](Self::on_disconnecting) and
    ///   [`on_disconnect`](Self::on_disconnect) handlers;
    /// * `"error"`: server-side errors (a packet middleware's refusal, an invalid packet), with
    ///   one argument `{"message": …}` (and `"data"` when the refusal has data), after the
    ///   [`on_error`](Self::on_error) handlers; an event named `error` sent by the client
    ///   reaches these handlers too, with its own arguments.
    ///
    /// # Panics
    ///
    /// For `connect`, `connect_error`, `newListener` and `removeListener`, which a server
    /// socket never emits (the handler could never run); [`try_on`](Self::try_on) returns
    /// the error instead.
    pub fn on<F, Fut>(&self, event: impl Into<Cow<'static, str>>, handler: F) -> Listener
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.try_on(event, handler).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`on`](Self::on), with an error for a name a server socket never emits.
    pub fn try_on<F, Fut>(
        &self,
        event: impl Into<Cow<'static, str>>,
        handler: F,
    ) -> Result<Listener, ListenerError>
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_listener(event.into(), handler, false)
    }

    /// Like [`on`](Self::on), with `state` handed to every call of `handler` (a clone per
    /// event): the handler's future owns what it needs, without cloning it in the closure
    /// first.
    ///
    /// ```no_run
    /// # fn f(socket: socketio_server::Socket) {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let count = Arc::new(AtomicUsize::new(0));
    /// socket.on_with("hit", count, |count, _socket, event| async move {
    ///     let n = count.fetch_add(1, Ordering::Relaxed) + 1;
    ///     event.reply(&n).ok();
    /// });
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`on`](Self::on).
    pub fn on_with<S, F, Fut>(&self, event: impl Into<Cow<'static, str>>, state: S, handler: F) -> Listener
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S, Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on(event, move |socket, e| handler(state.clone(), socket, e))
    }

    /// Like [`on`](Self::on), for the next such event only.
    ///
    /// # Panics
    ///
    /// As [`on`](Self::on).
    pub fn once<F, Fut>(&self, event: impl Into<Cow<'static, str>>, handler: F) -> Listener
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_listener(event.into(), handler, true).unwrap_or_else(|e| panic!("{e}"))
    }

    fn add_listener<F, Fut>(
        &self,
        event: Cow<'static, str>,
        handler: F,
        once: bool,
    ) -> Result<Listener, ListenerError>
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if NEVER_EMITTED.contains(&&*event) {
            return Err(ListenerError::NeverEmitted(event.into_owned()));
        }
        let handler: EventHandler = Arc::new(move |s, e| Box::pin(handler(s, e)));
        let listener = Listener(ListenerRef::Event(Arc::downgrade(&handler)));
        // Grows as vectors do (a connection handler registers several in a row); trimmed to
        // size once the connection handlers have run (`trim_listeners`).
        self.listeners().events.push((event, handler, once));
        Ok(listener)
    }

    /// Gives back the room the event handlers' list grew beyond what it holds: a socket's
    /// handlers are mostly set up at once, by the connection handlers, and kept for its life.
    pub(crate) fn trim_listeners(&self) {
        self.listeners().events.shrink_to_fit();
    }

    /// Removes every handler of `event` (the reference's `removeAllListeners(event)`); for
    /// `"disconnect"`, `"disconnecting"` and `"error"`, the dedicated handlers too.
    pub fn off(&self, event: &str) {
        let mut listeners = self.listeners();
        listeners.events.retain(|(name, _, _)| name != event);
        match event {
            "disconnect" => listeners.disconnect.clear(),
            "disconnecting" => listeners.rare().disconnecting.clear(),
            "error" => listeners.rare().error.clear(),
            _ => {}
        }
    }

    /// Removes one handler, of any kind, by the handle its registration returned; `false`
    /// when it is not there (any more).
    pub fn remove_listener(&self, listener: &Listener) -> bool {
        let mut listeners = self.listeners();
        let removed = match &listener.0 {
            ListenerRef::Event(weak) => {
                let found = listeners.events.iter().position(|(_, h, _)| same(h, weak));
                found.map(|i| listeners.events.remove(i)).is_some()
                    || listeners.rare.as_deref_mut().is_some_and(|r| remove_from(&mut r.any, weak))
            }
            ListenerRef::Disconnect(weak) => {
                remove_from(&mut listeners.disconnect, weak)
                    || listeners.rare.as_deref_mut().is_some_and(|r| remove_from(&mut r.disconnecting, weak))
            }
            ListenerRef::Outgoing(weak) => {
                listeners.rare.as_deref_mut().is_some_and(|r| remove_from(&mut r.outgoing, weak))
            }
            ListenerRef::Error(weak) => {
                listeners.rare.as_deref_mut().is_some_and(|r| remove_from(&mut r.error, weak))
            }
            ListenerRef::Middleware(weak) => {
                listeners.rare.as_deref_mut().is_some_and(|r| remove_from(&mut r.middlewares, weak))
            }
            ListenerRef::Upgrade(weak) => {
                listeners.rare.as_deref_mut().is_some_and(|r| remove_from(&mut r.upgrade, weak))
            }
            ListenerRef::Data(weak) => {
                listeners.rare.as_deref_mut().is_some_and(|r| remove_from(&mut r.data, weak))
            }
        };
        let outgoing = listeners.rare.as_deref().is_some_and(|r| !r.outgoing.is_empty());
        self.0.has_outgoing.store(outgoing, Ordering::Release);
        removed
    }

    /// Removes the handlers of every event (the reference's `removeAllListeners()`): `on`,
    /// `once`, disconnect, disconnecting and error handlers. Catch-all handlers, packet
    /// middlewares and upgrade handlers stay.
    pub fn remove_all_listeners(&self) {
        let mut listeners = self.listeners();
        listeners.events.clear();
        listeners.disconnect.clear();
        if let Some(rare) = listeners.rare.as_deref_mut() {
            rare.disconnecting.clear();
            rare.error.clear();
        }
    }

    /// The names of the events that have handlers, each once, in the order of their first
    /// handler; `"disconnect"`, `"disconnecting"` and `"error"` are listed when they have
    /// dedicated handlers too (the reference's `eventNames()`).
    pub fn event_names(&self) -> Vec<String> {
        let listeners = self.listeners();
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        };
        for (name, _, _) in &listeners.events {
            add(name);
        }
        if !listeners.disconnect.is_empty() {
            add("disconnect");
        }
        if let Some(rare) = listeners.rare.as_deref() {
            if !rare.disconnecting.is_empty() {
                add("disconnecting");
            }
            if !rare.error.is_empty() {
                add("error");
            }
        }
        names
    }

    /// How many handlers `event` has (`on` and `once`, and the dedicated ones of
    /// `"disconnect"`, `"disconnecting"` and `"error"`).
    pub fn listener_count(&self, event: &str) -> usize {
        let listeners = self.listeners();
        let named = listeners.events.iter().filter(|(name, _, _)| name == event).count();
        let rare = listeners.rare.as_deref();
        named
            + match event {
                "disconnect" => listeners.disconnect.len(),
                "disconnecting" => rare.map_or(0, |r| r.disconnecting.len()),
                "error" => rare.map_or(0, |r| r.error.len()),
                _ => 0,
            }
    }

    /// Calls `handler` for every incoming event, before the event's own handlers.
    pub fn on_any<F, Fut>(&self, handler: F) -> Listener
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_any(Arc::new(move |s, e| Box::pin(handler(s, e))), false)
    }

    /// Like [`on_any`](Self::on_any), but runs before the catch-all handlers already added.
    pub fn prepend_any<F, Fut>(&self, handler: F) -> Listener
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_any(Arc::new(move |s, e| Box::pin(handler(s, e))), true)
    }

    fn add_any(&self, handler: EventHandler, first: bool) -> Listener {
        let listener = Listener(ListenerRef::Event(Arc::downgrade(&handler)));
        let mut listeners = self.listeners();
        let any = &mut listeners.rare().any;
        if first {
            any.insert(0, handler);
        } else {
            any.push(handler);
        }
        listener
    }

    /// Removes every catch-all handler (one of them: [`remove_listener`](Self::remove_listener)).
    pub fn off_any(&self) {
        self.listeners().rare().any.clear();
    }

    /// The catch-all handlers, in the order they run (the reference's `listenersAny()`).
    pub fn listeners_any(&self) -> Vec<Listener> {
        let any = self.listeners().rare_list(|r| &r.any);
        any.iter().map(|h| Listener(ListenerRef::Event(Arc::downgrade(h)))).collect()
    }

    /// Calls `handler` with the name and payload of every event sent to this client (its own
    /// emits and the broadcasts that reach it), before it is queued.
    pub fn on_any_outgoing(
        &self,
        handler: impl Fn(&Socket, &str, &Payload) + Send + Sync + 'static,
    ) -> Listener {
        self.add_any_outgoing(Arc::new(handler), false)
    }

    /// Like [`on_any_outgoing`](Self::on_any_outgoing), but runs before the outgoing catch-all
    /// handlers already added.
    pub fn prepend_any_outgoing(
        &self,
        handler: impl Fn(&Socket, &str, &Payload) + Send + Sync + 'static,
    ) -> Listener {
        self.add_any_outgoing(Arc::new(handler), true)
    }

    fn add_any_outgoing(&self, handler: OutgoingHandler, first: bool) -> Listener {
        let listener = Listener(ListenerRef::Outgoing(Arc::downgrade(&handler)));
        let mut listeners = self.listeners();
        let outgoing = &mut listeners.rare().outgoing;
        if first {
            outgoing.insert(0, handler);
        } else {
            outgoing.push(handler);
        }
        self.0.has_outgoing.store(true, Ordering::Release);
        listener
    }

    /// Removes every outgoing catch-all handler.
    pub fn off_any_outgoing(&self) {
        self.listeners().rare().outgoing.clear();
        self.0.has_outgoing.store(false, Ordering::Release);
    }

    /// The outgoing catch-all handlers, in the order they run (the reference's
    /// `listenersAnyOutgoing()`).
    pub fn listeners_any_outgoing(&self) -> Vec<Listener> {
        let outgoing = self.listeners().rare_list(|r| &r.outgoing);
        outgoing.iter().map(|h| Listener(ListenerRef::Outgoing(Arc::downgrade(h)))).collect()
    }

    /// Adds a packet middleware (the reference's `socket.use`): every incoming event goes
    /// through the middlewares in registration order, each awaited, before any handler. A
    /// middleware passes the event on (`Ok(event)`, possibly rewritten with
    /// [`Event::with_args`]) or refuses it with an error carrying a message and data: the
    /// event is dropped and the error reaches the [`on_error`](Self::on_error) handlers (and
    /// `on("error")` handlers) as [`SocketError::Middleware`]. Events go through the
    /// middlewares one at a time, in the order the client sent them: while one is waiting in a
    /// middleware, the next waits its turn, so handlers start in the client's order.
    ///
    /// ```no_run
    /// # fn f(socket: socketio_server::Socket) {
    /// use socketio_server::ConnectError;
    ///
    /// socket.use_middleware(|_socket, event| async move {
    ///     match event.name() {
    ///         "admin" => Err(ConnectError::new("forbidden").with_data(serde_json::json!({"code": 403}))),
    ///         _ => Ok(event),
    ///     }
    /// });
    /// # }
    /// ```
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> Listener
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Event, ConnectError>> + Send + 'static,
    {
        let middleware: PacketMiddleware = Arc::new(move |s, e| Box::pin(middleware(s, e)));
        let listener = Listener(ListenerRef::Middleware(Arc::downgrade(&middleware)));
        self.listeners().rare().middlewares.push(middleware);
        listener
    }

    /// Calls `handler` with server-side errors: a packet middleware's refusal, or an invalid
    /// packet (after which the connection closes).
    pub fn on_error(&self, handler: impl Fn(&Socket, &SocketError) + Send + Sync + 'static) -> Listener {
        let handler: ErrorHandler = Arc::new(handler);
        let listener = Listener(ListenerRef::Error(Arc::downgrade(&handler)));
        self.listeners().rare().error.push(handler);
        listener
    }

    /// Calls `handler` when the socket is about to leave: it is still in its rooms.
    pub fn on_disconnecting<F, Fut>(&self, handler: F) -> Listener
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        let listener = Listener(ListenerRef::Disconnect(Arc::downgrade(&handler)));
        self.listeners().rare().disconnecting.push(handler);
        listener
    }

    /// Calls `handler` once the socket has left, with the reason.
    pub fn on_disconnect<F, Fut>(&self, handler: F) -> Listener
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        let listener = Listener(ListenerRef::Disconnect(Arc::downgrade(&handler)));
        self.listeners().disconnect.push(handler);
        listener
    }

    /// Calls `handler` when the connection moves from long-polling to WebSocket.
    pub fn on_upgrade(&self, handler: impl Fn(&Socket) + Send + Sync + 'static) -> Listener {
        let handler: UpgradeHandler = Arc::new(handler);
        let listener = Listener(ListenerRef::Upgrade(Arc::downgrade(&handler)));
        self.listeners().rare().upgrade.push(handler);
        listener
    }

    // -------------------------------------------------------------------------------------
    // Sending

    /// Sends `event` with `args` to the client. `args` is any `Serialize` value: a tuple
    /// spreads into several arguments, `()` is none, anything else is one argument; `Bytes`
    /// values travel as binary attachments, at any depth.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.emitter().emit(event, args)
    }

    /// Sends a `message` event with `args` (the reference's `send`, for clients that listen to
    /// `message`).
    pub fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// Sends `event` and waits for the client's acknowledgement, without a deadline (the
    /// future fails if the socket disconnects). See [`timeout`](Self::timeout).
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<AckFuture, EmitError> {
        self.emitter().emit_with_ack(event, args)
    }

    /// An emitter whose acknowledgements fail with [`AckError::Timeout`] after `timeout`.
    pub fn timeout(&self, timeout: Duration) -> Emitter {
        self.emitter().timeout(timeout)
    }

    /// An emitter whose packets are dropped if the transport cannot take them right now.
    pub fn volatile(&self) -> Emitter {
        self.emitter().volatile()
    }

    /// An emitter with the `compress` flag set to `compress`.
    pub fn compress(&self, compress: bool) -> Emitter {
        self.emitter().compress(compress)
    }

    fn emitter(&self) -> Emitter {
        Emitter { socket: self.clone(), flags: BroadcastFlags::default() }
    }

    /// A broadcast to `rooms`, leaving this socket out.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// A broadcast to every socket of the namespace but this one and those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// A broadcast to every socket of the namespace but this one.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone()).except(self.0.id.clone())
    }

    /// A broadcast to the sockets of this node only, leaving this socket out.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }

    // -------------------------------------------------------------------------------------
    // Rooms and disconnection

    /// Joins `rooms`. In a connection middleware, the socket joins them when it is admitted
    /// (if it is), as in the reference.
    pub fn join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        let joined = self.pending_rooms(|pending| {
            for room in &rooms {
                if !pending.contains(room) {
                    pending.push(room.clone());
                }
            }
        });
        if joined.is_none() {
            self.0.ns.adapter.add_all(&self.0.id, &rooms);
        }
    }

    /// Leaves `rooms`.
    pub fn leave(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        if self.pending_rooms(|pending| pending.retain(|room| !rooms.contains(room))).is_some() {
            return;
        }
        for room in rooms {
            self.0.ns.adapter.del(&self.0.id, &room);
        }
    }

    /// Runs `f` on the rooms joined while the socket's connection middlewares run; `None`
    /// when they do not (the socket's rooms are in the adapter).
    fn pending_rooms<R>(&self, f: impl FnOnce(&mut Vec<Room>) -> R) -> Option<R> {
        if self.0.state.load(Ordering::Acquire) != PENDING {
            return None;
        }
        self.0.ns.with_pending(&self.0.id, f)
    }

    /// Disconnects the socket (the client sees `io server disconnect`); with `close`, closes
    /// the whole connection, every namespace of the client included.
    pub fn disconnect(&self, close: bool) {
        let _ = self.0.engine.command(Command::Disconnect { nsp: self.0.ns.name.clone(), close });
    }

    // -------------------------------------------------------------------------------------
    // Crate internals

    pub(crate) fn set_connected(&self) {
        let _ = self.0.state.compare_exchange(PENDING, CONNECTED, Ordering::AcqRel, Ordering::Acquire);
    }

    fn is_disconnected(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == DISCONNECTED
    }

    fn notify_outgoing(&self, payload: &Payload) {
        if !self.0.has_outgoing.load(Ordering::Acquire) {
            return;
        }
        let handlers = self.listeners().rare_list(|r| &r.outgoing);
        let name =
            socketio_parser::event_name(payload).map(|n| n.to_js_string().into_owned()).unwrap_or_default();
        for handler in handlers {
            handler(self, &name, payload);
        }
    }

    /// An incoming event: packet middlewares, then catch-all handlers, then the event's own.
    ///
    /// Events go through the middlewares one at a time, in the order they arrived: an event
    /// that comes while another is still in them (a middleware that waits) waits its turn, so
    /// handlers see the client's events in the client's order.
    pub(crate) fn dispatch(&self, event: Event) {
        {
            let mut listeners = self.listeners();
            let Some(rare) =
                listeners.rare.as_deref_mut().filter(|r| !r.middlewares.is_empty() || r.in_middlewares)
            else {
                drop(listeners);
                return self.run_handlers(event);
            };
            if rare.in_middlewares {
                rare.waiting.push_back(event);
                return;
            }
            rare.in_middlewares = true;
        }
        let socket = self.clone();
        run_now_or_spawn(Box::pin(async move {
            let mut next = Some(event);
            while let Some(event) = next {
                socket.through_middlewares(event).await;
                let mut listeners = socket.listeners();
                let rare = listeners.rare();
                next = rare.waiting.pop_front();
                rare.in_middlewares = next.is_some();
            }
        }));
    }

    /// Runs `event` through the packet middlewares, then its handlers unless one refused it.
    async fn through_middlewares(&self, mut event: Event) {
        let middlewares = self.listeners().rare_list(|r| &r.middlewares);
        for middleware in middlewares {
            match middleware(self.clone(), event).await {
                Ok(next) => event = next,
                Err(refusal) => return self.report_error(&SocketError::Middleware(refusal)),
            }
        }
        self.run_handlers(event);
    }

    /// Runs the catch-all handlers, then the event's own.
    fn run_handlers(&self, event: Event) {
        // The event's handlers, taken without allocating when there is one (the usual case).
        let (first, more, any) = {
            let mut listeners = self.listeners();
            let mut first: Option<EventHandler> = None;
            let mut more: Vec<EventHandler> = Vec::new();
            let mut once = false;
            for (name, handler, is_once) in &listeners.events {
                if name == event.name() {
                    once |= *is_once;
                    match first {
                        None => first = Some(handler.clone()),
                        Some(_) => more.push(handler.clone()),
                    }
                }
            }
            if once {
                listeners.events.retain(|(name, _, is_once)| !(*is_once && name == event.name()));
            }
            (first, more, listeners.rare_list(|r| &r.any))
        };
        let handlers = any.iter().chain(first.iter()).chain(&more);
        let count = any.len() + usize::from(first.is_some()) + more.len();
        let mut event = Some(event);
        for (i, handler) in handlers.enumerate() {
            // The last handler gets the event itself; the others get clones.
            let event = if i + 1 == count { event.take() } else { event.clone() };
            if let Some(event) = event {
                run_now_or_spawn(handler(self.clone(), event));
            }
        }
    }

    /// A server-side error: the `on_error` handlers, then the `on("error")` handlers with
    /// `{"message", "data"}`.
    pub(crate) fn report_error(&self, error: &SocketError) {
        let (handlers, named) = {
            let mut listeners = self.listeners();
            (listeners.rare_list(|r| &r.error), listeners.take_named("error"))
        };
        for handler in handlers {
            handler(self, error);
        }
        if !named.is_empty() {
            let mut details = serde_json::Map::new();
            details.insert("message".into(), error.to_string().into());
            if let SocketError::Middleware(ConnectError { data: Some(data), .. }) = error {
                details.insert("data".into(), data.clone());
            }
            self.emit_lifecycle(named, "error", &details);
        }
    }

    /// Runs `handlers` of the socket's own event `name` with one argument.
    fn emit_lifecycle<T: Serialize + ?Sized>(
        &self,
        handlers: Vec<EventHandler>,
        name: &'static str,
        arg: &T,
    ) {
        let Ok(payload) = encode::event_payload(self.0.ns.parser, name, &(arg,)) else { return };
        let event = Event::new(ByteString::from_static(name), payload, None);
        for handler in handlers {
            run_now_or_spawn(handler(self.clone(), event.clone()));
        }
    }

    pub(crate) fn upgraded(&self) {
        let handlers = self.listeners().rare_list(|r| &r.upgrade);
        for handler in handlers {
            handler(self);
        }
    }

    /// The socket left for `reason`: `disconnecting` handlers, rooms, `disconnect` handlers.
    pub(crate) fn closed(&self, reason: DisconnectReason) {
        let was = self.0.state.swap(DISCONNECTED, Ordering::AcqRel);
        if was == DISCONNECTED {
            return;
        }
        tracing::debug!(parent: &self.0.span, reason = reason.as_str(), "socket disconnected");
        let ns = &self.0.ns;
        crate::metrics::socket_disconnected(&ns.sockets_gauge, &ns.name, was == CONNECTED, reason);
        let (disconnecting, named) = {
            let mut listeners = self.listeners();
            (listeners.rare_list(|r| &r.disconnecting), listeners.take_named("disconnecting"))
        };
        for handler in disconnecting {
            run_now_or_spawn(handler(self.clone(), reason));
        }
        self.emit_lifecycle(named, "disconnecting", reason.as_str());
        if was == CONNECTED && reason.is_recoverable() {
            self.persist();
        }
        self.0.ns.remove_socket(&self.0.id);
        let (disconnect, named) = {
            let mut listeners = self.listeners();
            (std::mem::take(&mut listeners.disconnect), listeners.take_named("disconnect"))
        };
        for handler in disconnect {
            run_now_or_spawn(handler(self.clone(), reason));
        }
        self.emit_lifecycle(named, "disconnect", reason.as_str());
        // Handlers hold clones of this socket: drop them so the socket can be freed.
        *self.listeners() = Listeners::default();
    }

    /// Connection state recovery: the adapter keeps the session, with the rooms the socket is
    /// in now (after its `disconnecting` handlers) and its data.
    fn persist(&self) {
        let Some(pid) = &self.0.pid else { return };
        let ns = &self.0.ns;
        let rooms = ns.adapter.socket_rooms(&self.0.id).unwrap_or_default();
        ns.adapter.persist_session(PersistedSession {
            sid: self.0.id.clone(),
            pid: pid.clone(),
            rooms,
            data: self.data_json(),
        });
    }

    /// Hands an event to the connection's machine; `false` when it cannot go (the socket is
    /// disconnected, or the packet is volatile and the transport busy).
    fn send_event(&self, packet: &EncodedPacket, flags: &BroadcastFlags, ack: Option<AwaitAck>) -> bool {
        if self.is_disconnected() {
            return false;
        }
        if flags.volatile && !self.0.engine.is_writable() {
            tracing::debug!(parent: &self.0.span, "volatile packet dropped: the transport is not writable");
            crate::metrics::volatile_dropped();
            return false;
        }
        crate::metrics::recipient();
        if let Some(data) = &packet.packet().data {
            self.notify_outgoing(data);
        }
        let compress = flags.compress != Some(false);
        self.0.engine.command(Command::Emit { packet: packet.clone(), ack, compress }).is_ok()
    }

    fn ack_deadline(timeout: Option<Duration>) -> Option<std::time::Instant> {
        timeout.map(|t| crate::clock::now() + t)
    }
}

impl LocalSocket for Socket {
    type Encoded = EncodedPacket;
    type AckSink = mpsc::UnboundedSender<Result<Payload, AckError>>;

    fn id(&self) -> &Sid {
        &self.0.id
    }

    fn send(&self, packet: &EncodedPacket, flags: &BroadcastFlags, ack: Option<&Self::AckSink>) -> bool {
        let ack = ack.map(|sink| AwaitAck {
            deadline: Socket::ack_deadline(flags.timeout),
            timeout: flags.timeout,
            sink: AckSink::Broadcast(sink.clone()),
        });
        self.send_event(packet, flags, ack)
    }

    fn disconnect(&self, close: bool) {
        Socket::disconnect(self, close);
    }

    fn details(&self) -> SocketDetails {
        SocketDetails {
            id: self.0.id.clone(),
            handshake: self.handshake().to_json(),
            rooms: Vec::new(),
            data: self.data_json(),
        }
    }
}

/// Sends to one socket with flags: built by [`Socket::timeout`], [`Socket::volatile`] and
/// [`Socket::compress`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Emitter {
    socket: Socket,
    flags: BroadcastFlags,
}

impl Emitter {
    /// Acknowledgements fail with [`AckError::Timeout`] after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.flags.timeout = Some(timeout);
        self
    }

    /// The packet is dropped if the transport cannot take it right now.
    pub fn volatile(mut self) -> Self {
        self.flags.volatile = true;
        self
    }

    /// Sets the `compress` flag.
    pub fn compress(mut self, compress: bool) -> Self {
        self.flags.compress = Some(compress);
        self
    }

    /// Sends `event` with `args`; see [`Socket::emit`].
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        encode::check_event_name(event)?;
        let socket = &self.socket;
        if socket.is_disconnected() {
            return Err(EmitError::Disconnected);
        }
        let ns = &socket.0.ns;
        let payload = encode::event_payload(ns.parser, event, args)?;
        if !self.flags.volatile && socket.connected() && ns.recovery().is_some() {
            // With recovery on, the reference sends through the adapter, so that the packet
            // gets an offset and is kept for the session (and, in a cluster, is published).
            let mut opts = BroadcastOptions::socket(&socket.0.id);
            opts.flags = self.flags;
            ns.broadcast_event(payload, &opts);
            return Ok(());
        }
        let packet = encode::event(ns.parser, &ns.name, payload, None);
        if !socket.send_event(&packet, &self.flags, None) && !self.flags.volatile {
            return Err(EmitError::Disconnected);
        }
        Ok(())
    }

    /// Sends `event` and waits for the client's acknowledgement; see [`Socket::emit_with_ack`].
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<AckFuture, EmitError> {
        encode::check_event_name(event)?;
        let socket = &self.socket;
        if socket.is_disconnected() {
            return Err(EmitError::Disconnected);
        }
        let ns = &socket.0.ns;
        let payload = encode::event_payload(ns.parser, event, args)?;
        let id = ns.next_ack_id();
        let packet = encode::event(ns.parser, &ns.name, payload, Some(id));
        let (tx, rx) = oneshot::channel();
        let ack = AwaitAck {
            deadline: Socket::ack_deadline(self.flags.timeout),
            timeout: self.flags.timeout,
            sink: AckSink::Single(tx),
        };
        if !socket.send_event(&packet, &self.flags, Some(ack)) {
            return Err(EmitError::Disconnected);
        }
        Ok(AckFuture {
            rx,
            forget: Some(Forget { engine: socket.0.engine.clone(), nsp: ns.name.clone(), id }),
        })
    }
}

/// An incoming event: its name, its arguments, and the acknowledgement the client awaits, if
/// any. Cloning is cheap; every handler of the event gets a clone.
///
/// ```no_run
/// use socketio_server::{Bytes, Socket};
///
/// # fn setup(socket: Socket) {
/// // `socket.emit("move", { x: 1, y: 2 }, "fast", (answer) => ...)` on the client.
/// #[derive(serde::Deserialize)]
/// struct Position {
///     x: i32,
///     y: i32,
/// }
/// socket.on("move", |_, event| async move {
///     assert_eq!(event.name(), "move");
///     match event.args::<(Position, String)>() {
///         Ok((to, speed)) => {
///             event.reply(&format!("moving to {},{} {speed}", to.x, to.y)).ok();
///         }
///         Err(error) => {
///             event.reply(&serde_json::json!({ "error": error.to_string() })).ok();
///         }
///     }
/// });
/// // Untyped, binary included.
/// socket.on("blob", |_, event| async move {
///     let first: Option<Bytes> = event.arg().ok();
///     println!("{:?} bytes, {} arguments", first.map(|b| b.len()), event.values().map(|v| v.len()).unwrap_or(0));
/// });
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Event {
    /// A slice of the payload when the name is a plain string, so it costs no allocation.
    name: ByteString,
    payload: Payload,
    ack: Option<AckSender>,
}

impl Event {
    pub(crate) fn new(name: ByteString, payload: Payload, ack: Option<AckSender>) -> Self {
        Event { name, payload, ack }
    }

    /// The event's name (a numeric name in its JavaScript string form).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole payload, `[name, ...args]`.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The arguments read as `T`: a tuple, a `Vec`, a struct (its fields in order), or `()`.
    /// Arguments beyond those `T` reads are ignored. `Bytes` reads binary arguments.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        from_args(&self.payload)
    }

    /// The first argument read as `T`.
    pub fn arg<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        from_args::<(T,)>(&self.payload).map(|(t,)| t)
    }

    /// The arguments, untyped.
    pub fn values(&self) -> Result<Vec<Value>, PayloadError> {
        socketio_parser::arg_values(&self.payload)
    }

    /// The same event (name and awaited acknowledgement) with other arguments, spread like
    /// [`Socket::emit`]'s: a packet middleware rewrites an event this way.
    pub fn with_args<T: Serialize + ?Sized>(self, args: &T) -> Result<Event, EmitError> {
        let parser = socketio_parser::connection::Parser::of(&self.payload);
        let payload = socketio_parser::args::event_payload(parser, &self.name, args)
            .map_err(|e| EmitError::Serialize(e.to_string()))?;
        Ok(Event { payload, ..self })
    }

    /// The acknowledgement the client awaits, if it asked for one.
    pub fn ack(&self) -> Option<&AckSender> {
        self.ack.as_ref()
    }

    /// Answers the client's acknowledgement with `args` (spread like [`Socket::emit`]'s). Only
    /// the first answer is sent; without an awaited acknowledgement this does nothing.
    pub fn reply<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        match &self.ack {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }

    /// The arguments as the client sent them, not parsed: for handlers that pass them on
    /// untouched, which costs no decoding and no encoding of the values (see
    /// [`reply_raw`](Self::reply_raw)). `None` only for an event whose name is not a string.
    ///
    /// ```no_run
    /// # fn f(socket: socketio_server::Socket) {
    /// socket.on("echo", |_, event| async move {
    ///     if let Some(args) = event.raw_args() {
    ///         let _ = event.reply_raw(args);
    ///     }
    /// });
    /// # }
    /// ```
    pub fn raw_args(&self) -> Option<Payload> {
        self.payload.without_name()
    }

    /// Answers the client's acknowledgement with arguments already encoded (see
    /// [`AckSender::send_raw`]). Only the first answer is sent; without an awaited
    /// acknowledgement this does nothing.
    pub fn reply_raw(&self, args: Payload) -> Result<(), EmitError> {
        match &self.ack {
            Some(ack) => ack.send_raw(args),
            None => Ok(()),
        }
    }
}

/// The acknowledgement a client awaits for an event it sent. It can be answered once: the
/// connection's machine sends the first answer and ignores later ones, as the reference does.
/// Dropping every clone without answering tells the machine that no answer will come.
///
/// ```no_run
/// use socketio_server::Socket;
///
/// # fn setup(socket: Socket) {
/// socket.on("save", |_, event| async move {
///     // Answered later, from another task: the sender travels.
///     if let Some(ack) = event.ack().cloned() {
///         tokio::spawn(async move {
///             ack.send(&("saved", 42)).ok();
///         });
///     }
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct AckSender(Arc<AckInner>);

struct AckInner {
    socket: Socket,
    id: u64,
    answered: AtomicBool,
}

impl Drop for AckInner {
    fn drop(&mut self) {
        if !*self.answered.get_mut() && !self.socket.is_disconnected() {
            let forget = Command::ForgetReply { nsp: self.socket.0.ns.name.clone(), id: self.id };
            let _ = self.socket.0.engine.command(forget);
        }
    }
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender").field("id", &self.0.id).field("answered", &self.0.answered).finish()
    }
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: u64) -> Self {
        AckSender(Arc::new(AckInner { socket, id, answered: AtomicBool::new(false) }))
    }

    /// The ack id.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Answers with `args` (spread like [`Socket::emit`]'s).
    pub fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        let ns = &self.0.socket.0.ns;
        self.answer(encode::ack(ns.parser, &ns.name, self.0.id, args)?)
    }

    /// Answers with arguments already encoded, as they are: an event's
    /// [`raw_args`](Event::raw_args), or a payload of the server's parser. A payload of the
    /// other parser is refused with [`EmitError::Serialize`].
    pub fn send_raw(&self, args: Payload) -> Result<(), EmitError> {
        let ns = &self.0.socket.0.ns;
        if !encode::payload_fits(ns.parser, &args) {
            return Err(EmitError::Serialize(format!("a payload of another parser than {:?}", ns.parser)));
        }
        self.answer(EncodedAck::new(&ns.name, self.0.id, args))
    }

    fn answer(&self, ack: EncodedAck) -> Result<(), EmitError> {
        let socket = &self.0.socket;
        if socket.is_disconnected() {
            return Err(EmitError::Disconnected);
        }
        self.0.answered.store(true, Ordering::Release);
        socket.0.engine.command(Command::Ack(ack)).map_err(|_| EmitError::Disconnected)
    }
}

/// A client's answer to an acknowledged emit.
///
/// ```no_run
/// use std::time::Duration;
/// use socketio_server::{AckError, Socket};
///
/// # async fn run(socket: Socket) -> Result<(), Box<dyn std::error::Error>> {
/// // `socket.on("sum", (a, b, ack) => ack(a + b, "done"))` on the client.
/// let answer = socket.timeout(Duration::from_secs(5)).emit_with_ack("sum", &(2, 3))?.await;
/// match answer {
///     Ok(response) => {
///         let (sum, note): (u32, String) = response.args()?;
///         assert_eq!((sum, note.as_str()), (5, "done"));
///     }
///     Err(AckError::Timeout) => println!("no answer in time"),
///     Err(error) => println!("no answer: {error}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AckResponse {
    payload: Payload,
}

impl AckResponse {
    pub(crate) fn new(payload: Payload) -> Self {
        AckResponse { payload }
    }

    /// The answer's arguments read as `T` (a tuple for several arguments).
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        from_payload(&self.payload)
    }

    /// The first argument read as `T`; further arguments are ignored.
    pub fn arg<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        socketio_parser::first_arg(&self.payload)
    }

    /// The arguments, untyped.
    pub fn values(&self) -> Result<Vec<Value>, PayloadError> {
        socketio_parser::payload_values(&self.payload)
    }

    /// The raw payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }
}

/// The client's acknowledgement of one emit. Dropping the future stops waiting.
#[derive(Debug)]
#[must_use = "the acknowledgement is only awaited while the future is"]
pub struct AckFuture {
    rx: oneshot::Receiver<Result<Payload, AckError>>,
    forget: Option<Forget>,
}

#[derive(Debug)]
struct Forget {
    engine: Arc<crate::client::Engine>,
    nsp: ByteString,
    id: u64,
}

impl Future for AckFuture {
    type Output = Result<AckResponse, AckError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = std::task::ready!(Pin::new(&mut self.rx).poll(cx));
        self.forget = None;
        Poll::Ready(match result {
            Ok(Ok(payload)) => Ok(AckResponse::new(payload)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(AckError::Disconnected),
        })
    }
}

impl Drop for AckFuture {
    fn drop(&mut self) {
        if let Some(f) = self.forget.take() {
            let _ = f.engine.command(Command::ForgetAck { nsp: f.nsp, id: f.id });
        }
    }
}
