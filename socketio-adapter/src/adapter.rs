//! The `Adapter` trait: what a namespace asks of the layer that knows where its sockets are, on
//! this node and on the others.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;
use socketio_parser::{Packet, Value};

use crate::rooms::{Room, RoomEvent};

/// A boxed, sendable future, as the adapter's remote-capable methods return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A socket id: 20 characters from a CSPRNG (or `nsp#sid` for Socket.IO 2 clients).
pub type Sid = ByteString;

/// The modifiers of a broadcast, as the reference's `BroadcastFlags` (and its cluster wire
/// format) carry them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastFlags {
    /// Only this node's sockets.
    pub local: bool,
    /// Skip a client whose transport cannot take the packet right now.
    pub volatile: bool,
    /// The `compress` flag, when set explicitly.
    pub compress: Option<bool>,
    /// How long a broadcast with acks waits for the answers.
    pub timeout: Option<Duration>,
    /// The ack of an emit to one remote socket takes one answer, not an array.
    pub expect_single_response: bool,
}

/// Which sockets an operation reaches, and how: every socket when `rooms` is empty, else the
/// union of `rooms`, minus the sockets in any `except` room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// The rooms reached; empty means every socket of the namespace.
    pub rooms: Vec<Room>,
    /// The rooms whose sockets are left out.
    pub except: Vec<Room>,
    /// The modifiers.
    pub flags: BroadcastFlags,
}

impl BroadcastOptions {
    /// Every socket of the namespace.
    pub fn all() -> Self {
        Self::default()
    }

    /// The sockets of `rooms`.
    pub fn to(rooms: impl IntoIterator<Item = Room>) -> Self {
        BroadcastOptions { rooms: rooms.into_iter().collect(), ..Self::default() }
    }

    /// The socket `sid` alone (every socket is in the room named by its id).
    pub fn socket(sid: &Sid) -> Self {
        Self::to([sid.clone()])
    }
}

/// A socket as `fetch_sockets` reports it, from this node or another: what the reference's
/// `RemoteSocket` carries.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketDetails {
    /// The socket id.
    pub id: Sid,
    /// The handshake, in the reference's JSON shape (`headers`, `time`, `address`, `xdomain`,
    /// `secure`, `issued`, `url`, `query`, `auth`).
    pub handshake: serde_json::Value,
    /// The rooms the socket is in (its own id included).
    pub rooms: Vec<Room>,
    /// The socket's `data`.
    pub data: serde_json::Value,
}

/// What connection state recovery keeps of a socket that disconnected for a recoverable reason.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistedSession {
    /// The socket id, given back to the restored socket.
    pub sid: Sid,
    /// The private session id the client presents to restore it.
    pub pid: Sid,
    /// The rooms the socket was in (its own id's room included).
    pub rooms: Vec<Room>,
    /// The socket's `data`.
    pub data: serde_json::Value,
}

/// A session restored by connection state recovery, with the packets the client missed.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSession {
    /// The session as it was persisted.
    pub session: PersistedSession,
    /// The packets broadcast to the session's rooms after the client's last offset, in order.
    pub missed: Vec<Packet>,
}

/// A socket of this node, as the adapter delivers to it. The server implements it on its
/// socket handle; cloning must be cheap.
pub trait LocalSocket: Clone + Send + Sync + 'static {
    /// A packet as this node's sockets send it: encoded once per broadcast, shared by every
    /// recipient.
    type Encoded: Send + Sync + 'static;
    /// Where the answers of a broadcast with acks go.
    type AckSink: Clone + Send + Sync + 'static;

    /// The socket id.
    fn id(&self) -> &Sid;

    /// Queues `packet` for the client. A `volatile` packet is dropped when the transport cannot
    /// take it now; with `ack`, the client's answer is reported to it. Answers whether the
    /// packet was queued.
    fn send(&self, packet: &Self::Encoded, flags: &BroadcastFlags, ack: Option<&Self::AckSink>) -> bool;

    /// Disconnects the socket (with `close`, the whole client connection).
    fn disconnect(&self, close: bool);

    /// What `fetch_sockets` reports about the socket; `rooms` is filled in by the adapter.
    fn details(&self) -> SocketDetails;
}

/// Answers a server-side event that another node sent with an ack: the first call is sent back,
/// as in the reference (one argument).
pub type ServerSideReply = Box<dyn FnOnce(serde_json::Value) + Send>;

/// What a namespace lends its adapter for the work that arrives from other nodes: encoding
/// their broadcasts for this node's sockets, collecting this node's acks for them, and running
/// the server-side event handlers. The server passes it to [`Adapter::init`] once, when the
/// namespace is created; it holds the namespace weakly, so an adapter may keep it.
pub trait NamespaceLink<S: LocalSocket>: Send + Sync + 'static {
    /// The namespace's name (`/`, `/admin`, ...).
    fn name(&self) -> &str;

    /// Encodes an `EVENT` for this node's sockets, with the namespace's parser: `data` is
    /// `[event, ...args]` (binary values as [`Value::Binary`]), `ack_id` is set for a broadcast
    /// with acks. `None` when the namespace is gone or `data` cannot be encoded.
    fn encode_event(&self, data: &Value, ack_id: Option<u64>) -> Option<S::Encoded>;

    /// The namespace's next ack id (the counter its own broadcasts with acks use).
    fn next_ack_id(&self) -> u64;

    /// A sink for a broadcast with acks that another node asked for: the first argument of
    /// each client's answer goes to `on_answer`.
    fn ack_sink(&self, on_answer: Box<dyn Fn(Value) + Send + Sync>) -> S::AckSink;

    /// Reports to `sink`, the sink of a broadcast with acks of this node, the answer of a
    /// client of another node (its first argument).
    fn forward_ack(&self, sink: &S::AckSink, answer: Value);

    /// Runs the namespace's server-side handlers for an event another node sent: `args` is
    /// `[event, ...args]`. With `reply`, the first answer goes back to that node.
    fn server_side_event(&self, args: Vec<serde_json::Value>, reply: Option<ServerSideReply>);
}

/// Why a remote-capable operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// Not every node answered in time.
    #[error("timeout reached: only {received} responses received out of {expected}")]
    Timeout {
        /// Nodes (or clients) that answered.
        received: usize,
        /// Nodes (or clients) expected to answer.
        expected: usize,
    },
    /// The operation is not possible with this adapter (`fetch_sockets` on a parent namespace,
    /// say).
    #[error("{0}")]
    Unsupported(&'static str),
    /// The link to the other nodes failed.
    #[error("adapter transport: {0}")]
    Transport(String),
}

/// Why a server-side emit with acknowledgement did not get every node's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerSideAckError {
    /// Not every node answered in time (the reference's error text); `responses` are the
    /// answers that did arrive, in arrival order, as the reference's callback gets them.
    #[error("timeout reached: only {} responses received out of {expected}", responses.len())]
    Timeout {
        /// The answers that arrived.
        responses: Vec<serde_json::Value>,
        /// The nodes expected to answer.
        expected: usize,
    },
    /// The event could not be sent.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

/// Called for every room event of a namespace's adapter.
pub type RoomEventListener = Arc<dyn Fn(&RoomEvent<Sid>) + Send + Sync>;

/// The layer that knows which sockets are in which rooms, delivers broadcasts, and relays the
/// operations that involve other nodes. One adapter serves one namespace.
///
/// Room membership and delivery to this node's sockets are synchronous, as in the reference.
/// Everything that may involve another node returns a future. The in-memory
/// [`MemoryAdapter`](crate::MemoryAdapter) is the single-node implementation; a cluster adapter
/// wraps it and adds the remote half.
///
/// # Example: an adapter of your own
///
/// An adapter that counts the broadcasts of its namespace and leaves the rest to the in-memory
/// adapter. A cluster adapter has the same shape, with its transport where the counter is (see
/// the [crate docs](crate#writing-an-adapter)). With `socketio-server`, a factory makes one per
/// namespace: `SocketIo::builder(config).adapter(|_namespace| Arc::new(Counting::new()) as _)`.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use socketio_adapter::{
///     Adapter, AdapterError, BoxFuture, BroadcastOptions, LocalSocket, MemoryAdapter, Room,
///     RoomEventListener, ServerSideAckError, SocketDetails,
/// };
/// use socketio_parser::Packet;
///
/// struct Counting<S: LocalSocket> {
///     local: MemoryAdapter<S>,
///     broadcasts: AtomicUsize,
/// }
///
/// impl<S: LocalSocket> Counting<S> {
///     fn new() -> Self {
///         Counting { local: MemoryAdapter::new(), broadcasts: AtomicUsize::new(0) }
///     }
/// }
///
/// impl<S: LocalSocket> Adapter<S> for Counting<S> {
///     fn broadcast(&self, packet: &Packet, encoded: &S::Encoded, opts: &BroadcastOptions) {
///         self.broadcasts.fetch_add(1, Ordering::Relaxed);
///         self.local.broadcast(packet, encoded, opts);
///     }
///
///     // The rest goes to the in-memory adapter as it is.
///     fn add_socket(&self, socket: S, rooms: &[Room]) {
///         self.local.add_socket(socket, rooms)
///     }
///     fn add_all(&self, sid: &str, rooms: &[Room]) {
///         self.local.add_all(sid, rooms)
///     }
///     fn del(&self, sid: &str, room: &str) {
///         self.local.del(sid, room)
///     }
///     fn del_all(&self, sid: &str) {
///         self.local.del_all(sid)
///     }
///     fn socket_rooms(&self, sid: &str) -> Option<Vec<Room>> {
///         self.local.socket_rooms(sid)
///     }
///     fn local_socket(&self, sid: &str) -> Option<S> {
///         self.local.local_socket(sid)
///     }
///     fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<S> {
///         self.local.local_sockets(opts)
///     }
///     fn local_count(&self) -> usize {
///         self.local.local_count()
///     }
///     fn local_rooms(&self) -> Vec<Room> {
///         self.local.local_rooms()
///     }
///     fn broadcast_with_ack<'a>(
///         &'a self,
///         packet: &'a Packet,
///         encoded: &'a S::Encoded,
///         opts: &'a BroadcastOptions,
///         acks: S::AckSink,
///     ) -> BoxFuture<'a, Result<usize, AdapterError>> {
///         self.local.broadcast_with_ack(packet, encoded, opts, acks)
///     }
///     fn fetch_sockets<'a>(
///         &'a self,
///         opts: &'a BroadcastOptions,
///     ) -> BoxFuture<'a, Result<Vec<SocketDetails>, AdapterError>> {
///         self.local.fetch_sockets(opts)
///     }
///     fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
///         self.local.add_sockets(opts, rooms)
///     }
///     fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
///         self.local.del_sockets(opts, rooms)
///     }
///     fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
///         self.local.disconnect_sockets(opts, close)
///     }
///     fn server_side_emit(&self, args: serde_json::Value) -> BoxFuture<'_, Result<usize, AdapterError>> {
///         self.local.server_side_emit(args)
///     }
///     fn server_side_emit_with_ack(
///         &self,
///         args: serde_json::Value,
///         timeout: Duration,
///     ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, ServerSideAckError>> {
///         self.local.server_side_emit_with_ack(args, timeout)
///     }
///     fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
///         self.local.server_count()
///     }
///     fn on_room_event(&self, listener: RoomEventListener) {
///         self.local.on_room_event(listener)
///     }
///     fn close(&self) -> BoxFuture<'_, ()> {
///         self.local.close()
///     }
/// }
///
/// # #[derive(Clone)]
/// # struct Quiet(socketio_adapter::Sid);
/// # impl LocalSocket for Quiet {
/// #     type Encoded = ();
/// #     type AckSink = ();
/// #     fn id(&self) -> &socketio_adapter::Sid { &self.0 }
/// #     fn send(&self, _: &(), _: &socketio_adapter::BroadcastFlags, _: Option<&()>) -> bool { true }
/// #     fn disconnect(&self, _: bool) {}
/// #     fn details(&self) -> SocketDetails {
/// #         SocketDetails { id: self.0.clone(), handshake: Default::default(), rooms: Vec::new(), data: Default::default() }
/// #     }
/// # }
/// // The server holds it as an `Arc<dyn Adapter<Socket>>`.
/// let counting = Arc::new(Counting::<Quiet>::new());
/// let adapter: Arc<dyn Adapter<Quiet>> = counting.clone();
/// adapter.add_socket(Quiet("a".into()), &["a".into()]);
/// let packet = Packet::event("/", socketio_parser::RawJson::new(r#"["tick"]"#)?, Vec::new(), None);
/// adapter.broadcast(&packet, &(), &BroadcastOptions::all());
/// assert_eq!(counting.broadcasts.load(Ordering::Relaxed), 1);
/// assert_eq!(adapter.local_count(), 1);
/// # Ok::<(), socketio_parser::DecodeError>(())
/// ```
pub trait Adapter<S: LocalSocket>: Send + Sync + 'static {
    /// Called once by the server when the namespace is created, before any socket joins:
    /// `link` is how the adapter reaches the namespace (cluster adapters subscribe here).
    fn init(&self, link: Arc<dyn NamespaceLink<S>>) {
        let _ = link;
    }

    /// Registers a connected socket of this node and joins it to `rooms` (the reference's
    /// `addAll` on connect: the socket's own room first).
    fn add_socket(&self, socket: S, rooms: &[Room]);

    /// Joins socket `sid` (of this node) to `rooms`.
    fn add_all(&self, sid: &str, rooms: &[Room]);

    /// Makes socket `sid` leave `room`.
    fn del(&self, sid: &str, room: &str);

    /// Makes socket `sid` leave every room and unregisters it.
    fn del_all(&self, sid: &str);

    /// The rooms socket `sid` of this node is in, in join order.
    fn socket_rooms(&self, sid: &str) -> Option<Vec<Room>>;

    /// The socket `sid` of this node.
    fn local_socket(&self, sid: &str) -> Option<S>;

    /// The sockets of this node an operation reaches.
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<S>;

    /// The number of sockets of this node.
    fn local_count(&self) -> usize;

    /// Every room of this node.
    fn local_rooms(&self) -> Vec<Room>;

    /// Sends `packet` (already encoded for this node as `encoded`) to the sockets `opts` reach,
    /// on every node unless `local`.
    fn broadcast(&self, packet: &Packet, encoded: &S::Encoded, opts: &BroadcastOptions);

    /// Sends `packet`, whose ack id is set, to the sockets `opts` reach; each client's answer
    /// goes to `acks`. Resolves to the number of clients expected to answer, on every node.
    fn broadcast_with_ack<'a>(
        &'a self,
        packet: &'a Packet,
        encoded: &'a S::Encoded,
        opts: &'a BroadcastOptions,
        acks: S::AckSink,
    ) -> BoxFuture<'a, Result<usize, AdapterError>>;

    /// The sockets `opts` reach, on every node unless `local`.
    fn fetch_sockets<'a>(
        &'a self,
        opts: &'a BroadcastOptions,
    ) -> BoxFuture<'a, Result<Vec<SocketDetails>, AdapterError>>;

    /// Joins the sockets `opts` reach to `rooms`, on every node unless `local`.
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);

    /// Makes the sockets `opts` reach leave `rooms`, on every node unless `local`.
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);

    /// Disconnects the sockets `opts` reach, on every node unless `local`.
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);

    /// Sends `[event, ...args]` (JSON) to the other nodes' server-side handlers. Resolves to the
    /// number of other nodes reached: 0 on a single node.
    fn server_side_emit(&self, args: serde_json::Value) -> BoxFuture<'_, Result<usize, AdapterError>>;

    /// Sends `[event, ...args]` to the other nodes' server-side handlers and collects one answer
    /// per node until `timeout`. Resolves to no answer on a single node. When `timeout` fires
    /// first, the error holds the answers that did arrive.
    fn server_side_emit_with_ack(
        &self,
        args: serde_json::Value,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, ServerSideAckError>>;

    /// The number of nodes, this one included.
    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>>;

    /// Connection state recovery: the offset the next recoverable packet gets (an `EVENT`
    /// without ack id, not volatile), or `None` when this adapter keeps no packets. The server
    /// appends it to the packet's arguments, encodes the packet and hands it to
    /// [`broadcast_recoverable`](Adapter::broadcast_recoverable).
    fn next_offset(&self) -> Option<ByteString> {
        None
    }

    /// Like [`broadcast`](Adapter::broadcast), for a packet that got `offset` from
    /// [`next_offset`](Adapter::next_offset): an adapter that keeps packets stores it for the
    /// sessions that will miss it.
    fn broadcast_recoverable(
        &self,
        offset: ByteString,
        packet: &Packet,
        encoded: &S::Encoded,
        opts: &BroadcastOptions,
    ) {
        let _ = offset;
        self.broadcast(packet, encoded, opts);
    }

    /// Keeps `session` for connection state recovery. Adapters without a session store
    /// drop it (the reference's base adapter does the same).
    fn persist_session(&self, session: PersistedSession) {
        let _ = session;
    }

    /// The session `pid`, if it is still kept and `offset` is still known, with the packets sent
    /// after `offset`. Adapters without a session store restore nothing.
    fn restore_session<'a>(
        &'a self,
        pid: &'a str,
        offset: &'a str,
    ) -> BoxFuture<'a, Option<RestoredSession>> {
        let _ = (pid, offset);
        Box::pin(std::future::ready(None))
    }

    /// Calls `listener` for every room event from now on (`create-room`, `join-room`,
    /// `leave-room`, `delete-room`).
    fn on_room_event(&self, listener: RoomEventListener);

    /// Releases what the adapter holds (subscriptions, timers).
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// The [`Adapter`] methods a cluster adapter answers from its node's [`MemoryAdapter`] alone
/// (membership and this node's sockets), written once: `delegate_to_local!(inner.local);` in an
/// `impl<S: LocalSocket> Adapter<S> for ...` block, with the path to the memory adapter.
///
/// [`MemoryAdapter`]: crate::MemoryAdapter
#[cfg(any(feature = "redis", feature = "postgres", feature = "redis-streams"))]
macro_rules! delegate_to_local {
    ($($path:ident).+) => {
        fn add_socket(&self, socket: S, rooms: &[$crate::Room]) {
            self.$($path).+.add_socket(socket, rooms);
        }

        fn add_all(&self, sid: &str, rooms: &[$crate::Room]) {
            self.$($path).+.add_all(sid, rooms);
        }

        fn del(&self, sid: &str, room: &str) {
            self.$($path).+.del(sid, room);
        }

        fn del_all(&self, sid: &str) {
            self.$($path).+.del_all(sid);
        }

        fn socket_rooms(&self, sid: &str) -> Option<Vec<$crate::Room>> {
            self.$($path).+.socket_rooms(sid)
        }

        fn local_socket(&self, sid: &str) -> Option<S> {
            self.$($path).+.local_socket(sid)
        }

        fn local_sockets(&self, opts: &$crate::BroadcastOptions) -> Vec<S> {
            self.$($path).+.local_sockets(opts)
        }

        fn local_count(&self) -> usize {
            self.$($path).+.local_count()
        }

        fn local_rooms(&self) -> Vec<$crate::Room> {
            self.$($path).+.local_rooms()
        }

        fn on_room_event(&self, listener: $crate::RoomEventListener) {
            self.$($path).+.on_room_event(listener);
        }
    };
}
#[cfg(any(feature = "redis", feature = "postgres", feature = "redis-streams"))]
pub(crate) use delegate_to_local;
