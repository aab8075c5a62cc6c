//! Broadcast operators and the sockets `fetch_sockets` returns.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use socketio_adapter::{AdapterError, BroadcastOptions, Room, Sid, SocketDetails};
use tokio::sync::mpsc;

use crate::encode;
use crate::error::{AckError, BroadcastAckError, EmitError};
use crate::namespace::NsInner;
use crate::socket::AckResponse;
use crate::BoxFuture;

/// Room names: one (`&str`, `String`, [`Room`]) or several (arrays, slices, `Vec`s of them).
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}

impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}

impl IntoRooms for &Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.clone()]
    }
}

impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter().cloned().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

/// A broadcast being built: which sockets (`to`, `except`), with which flags (`local`,
/// `volatile`, `compress`, `timeout`). Every modifier returns a new operator.
///
/// ```no_run
/// use std::time::Duration;
/// use socketio_server::SocketIo;
///
/// # async fn run(io: SocketIo) -> Result<(), Box<dyn std::error::Error>> {
/// // Operators are values: build one, use it several times.
/// let europe = io.to(["paris", "berlin"]).except("banned");
/// europe.emit("news", "bonjour, hallo").ok();
/// europe.clone().volatile().emit("position", &(48.85, 2.35)).ok();
///
/// // Who is there, on every node; then act on those sockets.
/// for socket in europe.fetch_sockets().await? {
///     println!("{} in {:?}", socket.id(), socket.rooms());
/// }
/// europe.sockets_join("europe");
///
/// // One answer per client within 3 s.
/// let answers = io.to("europe").timeout(Duration::from_secs(3)).emit_with_ack("vote", "yes or no?").await;
/// println!("{} votes", answers.map(|a| a.len()).unwrap_or_default());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct BroadcastOperator {
    ns: Arc<NsInner>,
    opts: BroadcastOptions,
}

impl std::fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOperator").field("nsp", &self.ns.name).field("opts", &self.opts).finish()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NsInner>) -> Self {
        BroadcastOperator { ns, opts: BroadcastOptions::all() }
    }

    /// Adds `rooms` to the rooms reached.
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.rooms.contains(&room) {
                self.opts.rooms.push(room);
            }
        }
        self
    }

    /// Same as [`to`](Self::to).
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the sockets in `rooms`.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.except.contains(&room) {
                self.opts.except.push(room);
            }
        }
        self
    }

    /// Reaches this node's sockets only.
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// Skips the clients whose transport cannot take the packet right now.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// Sets the `compress` flag.
    pub fn compress(mut self, compress: bool) -> Self {
        self.opts.flags.compress = Some(compress);
        self
    }

    /// Waits `timeout` for acknowledgements (see [`emit_with_ack`](Self::emit_with_ack)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.flags.timeout = Some(timeout);
        self
    }

    /// The options as the adapter receives them.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Sends `event` with `args` (see [`Socket::emit`](crate::Socket::emit)) to every socket
    /// reached. The packet is encoded once; every recipient is queued the same bytes.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        encode::check_event_name(event)?;
        let payload = encode::event_payload(self.ns.parser, event, args)?;
        crate::metrics::count_broadcast(|| self.ns.broadcast_event(payload, &self.opts));
        Ok(())
    }

    /// Sends `event` with an ack id to every socket reached and collects their answers, one
    /// per client, until every client answered, disconnected or timed out (see
    /// [`timeout`](Self::timeout); without one, it waits as long as the clients are
    /// connected). When some did not answer, the error holds the answers that did arrive.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> BoxFuture<'static, Result<Vec<AckResponse>, BroadcastAckError>> {
        let prepared = (|| {
            encode::check_event_name(event)?;
            let payload = encode::event_payload(self.ns.parser, event, args)?;
            let id = self.ns.next_ack_id();
            Ok::<_, EmitError>(encode::event(self.ns.parser, &self.ns.name, payload, Some(id)))
        })();
        let ns = self.ns.clone();
        let opts = self.opts.clone();
        Box::pin(async move {
            let encoded = prepared?;
            let (tx, mut rx) = mpsc::unbounded_channel();
            let deadline =
                opts.flags.timeout.map(|t| tokio::time::Instant::from_std(crate::clock::now() + t));
            let expected = ns.adapter.broadcast_with_ack(encoded.packet(), &encoded, &opts, tx).await?;
            crate::metrics::broadcast_reached(expected);
            let mut responses = Vec::with_capacity(expected);
            let mut failed = 0;
            while responses.len() + failed < expected {
                let next = match deadline {
                    Some(at) => match tokio::time::timeout_at(at, rx.recv()).await {
                        Ok(next) => next,
                        Err(_) => break,
                    },
                    None => rx.recv().await,
                };
                match next {
                    Some(Ok(payload)) => responses.push(AckResponse::new(payload)),
                    Some(Err(AckError::Timeout | AckError::Disconnected | AckError::Emit(_))) => failed += 1,
                    None => break,
                }
            }
            if responses.len() < expected {
                return Err(BroadcastAckError::Timeout { responses, expected });
            }
            Ok(responses)
        })
    }

    /// Sends a `message` event with `args` (the reference's `send`, for clients that listen to
    /// `message`).
    pub fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// The ids of the sockets reached, on every node (unless [`local`](Self::local)), each once:
    /// the reference's `allSockets()`, which [`fetch_sockets`](Self::fetch_sockets) supersedes.
    pub async fn all_sockets(&self) -> Result<Vec<Sid>, AdapterError> {
        let mut ids: Vec<Sid> = self.fetch_sockets().await?.into_iter().map(|s| s.details.id).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The sockets reached, on every node (unless [`local`](Self::local)).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        let details = self.ns.adapter.fetch_sockets(&self.opts).await?;
        Ok(details.into_iter().map(|details| RemoteSocket { ns: self.ns.clone(), details }).collect())
    }

    /// Makes the sockets reached join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.ns.adapter.add_sockets(&self.opts, &rooms.into_rooms());
    }

    /// Makes the sockets reached leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.ns.adapter.del_sockets(&self.opts, &rooms.into_rooms());
    }

    /// Disconnects the sockets reached (with `close`, their whole connections).
    pub fn disconnect_sockets(&self, close: bool) {
        self.ns.adapter.disconnect_sockets(&self.opts, close);
    }
}

/// A socket as `fetch_sockets` returns it, on this node or another: its id, handshake, rooms
/// and data, and the operations that work wherever it is.
///
/// ```no_run
/// use std::time::Duration;
/// use socketio_server::SocketIo;
///
/// # async fn run(io: SocketIo) -> Result<(), Box<dyn std::error::Error>> {
/// #[derive(serde::Deserialize)]
/// struct Profile {
///     name: String,
/// }
/// // Every socket of room `players`, on this node and (with a cluster adapter) on the others.
/// for socket in io.to("players").fetch_sockets().await? {
///     let name = socket.data::<Profile>().map(|p| p.name).unwrap_or_default();
///     if socket.rooms().iter().any(|room| &**room == "afk") {
///         socket.leave("players");
///         continue;
///     }
///     match socket.emit_with_ack("still there?", &name, Duration::from_secs(2)).await {
///         Ok(_) => socket.emit("thanks", &()).map_err(|e| e.to_string())?,
///         Err(_) => socket.disconnect(false),
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RemoteSocket {
    ns: Arc<NsInner>,
    details: SocketDetails,
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSocket").field("details", &self.details).finish_non_exhaustive()
    }
}

impl RemoteSocket {
    /// The socket id.
    pub fn id(&self) -> &Sid {
        &self.details.id
    }

    /// The handshake in the reference's JSON shape.
    pub fn handshake(&self) -> &serde_json::Value {
        &self.details.handshake
    }

    /// The rooms the socket was in when it was fetched.
    pub fn rooms(&self) -> &[Room] {
        &self.details.rooms
    }

    /// The socket's `data` read as `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(&self.details.data).ok()
    }

    /// Everything fetched.
    pub fn details(&self) -> &SocketDetails {
        &self.details
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.ns.clone()).to(self.details.id.clone())
    }

    /// Sends `event` to the socket.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        self.operator().emit(event, args)
    }

    /// Sends `event` and waits up to `timeout` for the socket's answer.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<AckResponse, AckError>> {
        let mut operator = self.operator().timeout(timeout);
        operator.opts.flags.expect_single_response = true;
        let fut = operator.emit_with_ack(event, args);
        Box::pin(async move {
            match fut.await {
                Ok(mut responses) if !responses.is_empty() => Ok(responses.remove(0)),
                Ok(_) => Err(AckError::Disconnected),
                Err(BroadcastAckError::Emit(e)) => Err(AckError::Emit(e)),
                Err(BroadcastAckError::Timeout { expected: 0, .. }) => Err(AckError::Disconnected),
                Err(_) => Err(AckError::Timeout),
            }
        })
    }

    /// Makes the socket join `rooms`.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.operator().sockets_join(rooms);
    }

    /// Makes the socket leave `rooms`.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.operator().sockets_leave(rooms);
    }

    /// Disconnects the socket (with `close`, its whole connection).
    pub fn disconnect(&self, close: bool) {
        self.operator().disconnect_sockets(close);
    }
}
