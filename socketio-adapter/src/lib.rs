//! Rooms, broadcasting and multi-node adapters for the Socket.IO server.
//!
//! # What is here
//!
//! [`RoomIndex`]: the synchronous room index every adapter is built on. It maps sockets (a small
//! `Copy` key chosen by the server) to the [`Room`]s they are in and back, with the operations
//! of the reference in-memory adapter of `socket.io-adapter` 2.5 (`addAll` → [`add_all`],
//! `del` → [`del`], `delAll` → [`del_all`], `socketRooms` → [`rooms_of`], `sockets` →
//! [`sockets_in`] / [`for_each_target`]), its room lifecycle events ([`RoomEvent`]:
//! `create-room`, `join-room`, `leave-room`, `delete-room`, reported in the reference's order)
//! and its broadcast semantics ([`BroadcastTarget`]):
//!
//! * no rooms: every socket; otherwise the union of the rooms, each socket once;
//! * minus every socket that is in at least one `except` room.
//!
//! Every answer comes in a documented, deterministic order (the order of the operations, never
//! of a hash), and targeting a broadcast allocates nothing per recipient.
//!
//! ```
//! use socketio_adapter::{BroadcastTarget, Room, RoomIndex};
//!
//! let mut index = RoomIndex::new();
//! // A socket joins the room named by its own id when it connects.
//! index.add_all(1u32, ["s1"], |_| {});
//! index.add_all(2u32, ["s2", "news"], |_| {});
//! index.add_all(3u32, ["s3", "news"], |_| {});
//!
//! // `io.emit(...)`
//! assert_eq!(index.collect_targets(&BroadcastTarget::all()), [1, 2, 3]);
//! // `socket2.to("news").emit(...)`: the room, minus the sender's own room
//! let news = [Room::from("news")];
//! let own = [Room::from("s2")];
//! let mut reached = Vec::new();
//! index.for_each_target(&BroadcastTarget::to(&news).except(&own), |key| reached.push(key));
//! assert_eq!(reached, [3]);
//! ```
//!
//! # What it does not do
//!
//! No I/O, no async, no clock, no locking: the index is plain data. It does not know sockets,
//! packets or flags (`volatile`, `compress`, `local`, acks); the layer above resolves keys to
//! connections and writes the one encoded packet to each of them.
//!
//! # The adapter
//!
//! [`Adapter`] is what a namespace of the server asks of the layer that knows where its sockets
//! are: room membership and delivery on this node (synchronous, as in the reference), and the
//! operations that may involve other nodes (`fetch_sockets`, server-side emits with answers,
//! broadcasts with acks counting clients on every node, the server count), which return
//! futures. The server implements [`LocalSocket`] on its socket handle; a broadcast hands the
//! adapter one encoded packet that every recipient shares.
//!
//! [`MemoryAdapter`], the default, is the single-node implementation on top of [`RoomIndex`].
//! A cluster adapter (Redis, behind a feature) wraps it and adds the remote half.
//!
//! [`add_all`]: RoomIndex::add_all
//! [`del`]: RoomIndex::del
//! [`del_all`]: RoomIndex::del_all
//! [`rooms_of`]: RoomIndex::rooms_of
//! [`sockets_in`]: RoomIndex::sockets_in
//! [`for_each_target`]: RoomIndex::for_each_target

mod adapter;
mod handshake;
mod memory;
mod recovery;
#[cfg(feature = "redis")]
mod redis;
mod rooms;

#[cfg(feature = "redis")]
pub use self::redis::{
    RedisAdapter, RedisAdapterConfig, RedisClients, RedisStatus, RequestError, RequestKind, RequestTimeout,
};
pub use adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastFlags, BroadcastOptions, LocalSocket, NamespaceLink,
    PersistedSession, RestoredSession, RoomEventListener, ServerSideAckError, ServerSideReply, Sid,
    SocketDetails,
};
pub use handshake::{js_date_string, HandshakeFields};
pub use memory::MemoryAdapter;
pub use recovery::{Clock, RecoveryOptions};
pub use rooms::{
    AllRooms, BroadcastTarget, Room, RoomEvent, RoomEventKind, RoomIndex, RoomsOf, Sockets, SocketsIn,
    TargetScratch,
};

/// This crate's README, whose example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
