//! The in-memory adapter: one node, rooms in a [`RoomIndex`].

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytestring::ByteString;
use socketio_parser::Packet;

use crate::adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, LocalSocket, PersistedSession, RestoredSession,
    RoomEventListener, ServerSideAckError, SocketDetails,
};
use crate::recovery::{Clock, RecoveryOptions, SessionStore};
use crate::rooms::{BroadcastTarget, Room, RoomEvent, RoomIndex, TargetScratch};

/// The default adapter: every socket of the namespace is on this node.
///
/// Sockets live in a slab whose slot numbers are the keys of the [`RoomIndex`], so resolving a
/// broadcast's recipients costs no lookup by id. The lock is held while the recipients are
/// collected, never while packets are queued on them.
///
/// Made with [`with_recovery`](Self::with_recovery), it also keeps what connection state
/// recovery needs (the reference's `SessionAwareAdapter`): the sessions of sockets that left
/// for a recoverable reason and the packets broadcast recently, with their offsets.
///
/// ```
/// use socketio_adapter::{Adapter, BroadcastFlags, BroadcastOptions, LocalSocket, MemoryAdapter, Sid, SocketDetails};
///
/// #[derive(Clone)]
/// struct Quiet(Sid);
///
/// impl LocalSocket for Quiet {
///     type Encoded = ();
///     type AckSink = ();
///     fn id(&self) -> &Sid {
///         &self.0
///     }
///     fn send(&self, _: &(), _: &BroadcastFlags, _: Option<&()>) -> bool {
///         true
///     }
///     fn disconnect(&self, _close: bool) {}
///     fn details(&self) -> SocketDetails {
///         SocketDetails { id: self.0.clone(), handshake: Default::default(), rooms: Vec::new(), data: Default::default() }
///     }
/// }
///
/// let adapter = MemoryAdapter::new();
/// // A socket joins its own room when it connects, then others.
/// adapter.add_socket(Quiet("a".into()), &["a".into()]);
/// adapter.add_socket(Quiet("b".into()), &["b".into(), "news".into()]);
/// adapter.add_all("a", &["news".into(), "sports".into()]);
/// assert!(adapter.has_room("sports"));
///
/// // The sockets a broadcast to `news` reaches, in the order they joined.
/// let reached: Vec<Sid> = adapter.local_sockets(&BroadcastOptions::to(["news".into()])).iter().map(|s| s.0.clone()).collect();
/// assert_eq!(reached, ["b", "a"]);
///
/// // A socket that leaves is gone from every room; an empty room is deleted.
/// adapter.del_all("a");
/// assert!(!adapter.has_room("sports"));
/// assert_eq!(adapter.local_count(), 1);
/// ```
pub struct MemoryAdapter<S: LocalSocket> {
    state: Mutex<State<S>>,
    listeners: Mutex<Vec<RoomEventListener>>,
    recovery: Option<Mutex<SessionStore>>,
}

struct State<S> {
    index: RoomIndex<u32>,
    slots: Vec<Option<S>>,
    free: Vec<u32>,
    by_id: crate::rooms::IdMap<crate::Sid, u32>,
    scratch: TargetScratch,
}

impl<S: LocalSocket> Default for MemoryAdapter<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: LocalSocket> std::fmt::Debug for MemoryAdapter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("MemoryAdapter")
            .field("sockets", &state.by_id.len())
            .field("rooms", &state.index.room_count())
            .field("recovery", &self.recovery.is_some())
            .finish()
    }
}

impl<S: LocalSocket> MemoryAdapter<S> {
    /// An empty adapter.
    pub fn new() -> Self {
        MemoryAdapter {
            state: Mutex::new(State {
                index: RoomIndex::new(),
                slots: Vec::new(),
                free: Vec::new(),
                by_id: Default::default(),
                scratch: TargetScratch::new(),
            }),
            listeners: Mutex::new(Vec::new()),
            recovery: None,
        }
    }

    /// An empty adapter that keeps sessions and packets for connection state recovery, for as
    /// long and as many as `options` say, on the time `clock` reads.
    pub fn with_recovery(options: RecoveryOptions, clock: Clock) -> Self {
        MemoryAdapter { recovery: Some(Mutex::new(SessionStore::new(options, clock))), ..Self::new() }
    }

    fn store(&self) -> Option<MutexGuard<'_, SessionStore>> {
        self.recovery.as_ref().map(|store| store.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn state(&self) -> MutexGuard<'_, State<S>> {
        // Every mutation leaves the state consistent before anything that could panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn listeners(&self) -> Vec<RoomEventListener> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `f`, a change to socket `sid`'s rooms, on the state, collecting room events when
    /// someone listens, and reports them after the lock is released.
    fn mutate<R>(&self, sid: &str, f: impl FnOnce(&mut State<S>, &mut dyn FnMut(RoomEvent<u32>)) -> R) -> R {
        let listeners = self.listeners();
        if listeners.is_empty() {
            return f(&mut self.state(), &mut |_| {});
        }
        let mut events = Vec::new();
        let result = f(&mut self.state(), &mut |e| events.push(e));
        if !events.is_empty() {
            let sid = crate::Sid::from(sid);
            for event in events {
                let event = RoomEvent { kind: event.kind, room: event.room, key: sid.clone() };
                for listener in &listeners {
                    listener(&event);
                }
            }
        }
        result
    }

    /// The details of this node's sockets that `opts` reaches, each with its rooms: what
    /// `fetch_sockets` answers for this node.
    pub fn details(&self, opts: &BroadcastOptions) -> Vec<SocketDetails> {
        self.targets(opts)
            .iter()
            .map(|socket| {
                let mut details = socket.details();
                details.rooms = self.socket_rooms(socket.id()).unwrap_or_default();
                details
            })
            .collect()
    }

    /// Whether `room` has at least one socket of this node.
    pub fn has_room(&self, room: &str) -> bool {
        self.state().index.has_room(room)
    }

    /// Every socket reached by `opts`, in the index's order.
    fn targets(&self, opts: &BroadcastOptions) -> Vec<S> {
        let mut state = self.state();
        let state = &mut *state;
        let target = BroadcastTarget { rooms: &opts.rooms, except: &opts.except };
        let mut out = Vec::with_capacity(state.index.count_targets(&target));
        let slots = &state.slots;
        state.index.for_each_target_with(&target, &mut state.scratch, |key| {
            if let Some(Some(socket)) = slots.get(key as usize) {
                out.push(socket.clone());
            }
        });
        out
    }
}

impl<S> State<S> {
    fn socket(&self, key: u32) -> Option<&S> {
        self.slots.get(key as usize).and_then(Option::as_ref)
    }
}

impl<S: LocalSocket> Adapter<S> for MemoryAdapter<S> {
    fn add_socket(&self, socket: S, rooms: &[Room]) {
        let sid = socket.id().clone();
        self.mutate(&sid, |state, on_event| {
            let key = match state.by_id.get(socket.id()) {
                Some(&key) => {
                    state.slots[key as usize] = Some(socket);
                    key
                }
                None => {
                    let key = match state.free.pop() {
                        Some(key) => {
                            state.slots[key as usize] = Some(socket.clone());
                            key
                        }
                        None => {
                            state.slots.push(Some(socket.clone()));
                            (state.slots.len() - 1) as u32
                        }
                    };
                    state.by_id.insert(socket.id().clone(), key);
                    key
                }
            };
            state.index.add_all(key, rooms.iter().cloned(), on_event);
        });
    }

    fn add_all(&self, sid: &str, rooms: &[Room]) {
        self.mutate(sid, |state, on_event| {
            if let Some(&key) = state.by_id.get(sid) {
                state.index.add_all(key, rooms.iter().cloned(), on_event);
            }
        });
    }

    fn del(&self, sid: &str, room: &str) {
        self.mutate(sid, |state, on_event| {
            if let Some(&key) = state.by_id.get(sid) {
                state.index.del(key, room, on_event);
            }
        });
    }

    fn del_all(&self, sid: &str) {
        self.mutate(sid, |state, on_event| {
            let Some(&key) = state.by_id.get(sid) else { return };
            state.index.del_all(key, on_event);
            // The slot is freed after the events, which name the socket.
            state.by_id.remove(sid);
            state.slots[key as usize] = None;
            state.free.push(key);
        });
    }

    fn socket_rooms(&self, sid: &str) -> Option<Vec<Room>> {
        let state = self.state();
        let key = *state.by_id.get(sid)?;
        Some(state.index.rooms_of(key)?.cloned().collect())
    }

    fn local_socket(&self, sid: &str) -> Option<S> {
        let state = self.state();
        let key = *state.by_id.get(sid)?;
        state.socket(key).cloned()
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<S> {
        self.targets(opts)
    }

    fn local_count(&self) -> usize {
        self.state().by_id.len()
    }

    fn local_rooms(&self) -> Vec<Room> {
        self.state().index.all_rooms().cloned().collect()
    }

    fn broadcast(&self, _packet: &Packet, encoded: &S::Encoded, opts: &BroadcastOptions) {
        for socket in self.targets(opts) {
            socket.send(encoded, &opts.flags, None);
        }
    }

    fn broadcast_with_ack<'a>(
        &'a self,
        _packet: &'a Packet,
        encoded: &'a S::Encoded,
        opts: &'a BroadcastOptions,
        acks: S::AckSink,
    ) -> BoxFuture<'a, Result<usize, AdapterError>> {
        let mut expected = 0;
        for socket in self.targets(opts) {
            if socket.send(encoded, &opts.flags, Some(&acks)) {
                expected += 1;
            }
        }
        Box::pin(std::future::ready(Ok(expected)))
    }

    fn fetch_sockets<'a>(
        &'a self,
        opts: &'a BroadcastOptions,
    ) -> BoxFuture<'a, Result<Vec<SocketDetails>, AdapterError>> {
        Box::pin(std::future::ready(Ok(self.details(opts))))
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.targets(opts) {
            self.add_all(socket.id(), rooms);
        }
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.targets(opts) {
            for room in rooms {
                self.del(socket.id(), room);
            }
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        for socket in self.targets(opts) {
            socket.disconnect(close);
        }
    }

    fn server_side_emit(&self, _args: serde_json::Value) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(std::future::ready(Ok(0)))
    }

    fn server_side_emit_with_ack(
        &self,
        _args: serde_json::Value,
        _timeout: Duration,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, ServerSideAckError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(std::future::ready(Ok(1)))
    }

    fn next_offset(&self) -> Option<ByteString> {
        self.store().map(|mut store| store.next_offset())
    }

    fn broadcast_recoverable(
        &self,
        offset: ByteString,
        packet: &Packet,
        encoded: &S::Encoded,
        opts: &BroadcastOptions,
    ) {
        if let Some(mut store) = self.store() {
            store.keep(&offset, packet, opts);
        }
        self.broadcast(packet, encoded, opts);
    }

    fn persist_session(&self, session: PersistedSession) {
        if let Some(mut store) = self.store() {
            store.persist(session);
        }
    }

    fn restore_session<'a>(
        &'a self,
        pid: &'a str,
        offset: &'a str,
    ) -> BoxFuture<'a, Option<RestoredSession>> {
        let restored = self.store().and_then(|mut store| store.restore(pid, offset));
        Box::pin(std::future::ready(restored))
    }

    fn on_room_event(&self, listener: RoomEventListener) {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner()).push(listener);
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}
