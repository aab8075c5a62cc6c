//! The room index: which sockets are in which rooms, and which sockets a broadcast reaches.
//!
//! Layout: sockets, rooms and memberships (one per socket-in-room pair) live in three slabs and
//! are named internally by dense `u32` slot numbers. Every membership is threaded on two
//! doubly-linked chains, its room's members (join order) and its socket's rooms (join order);
//! sockets and rooms are each threaded on one more chain (registration and creation order). Every
//! join and leave is O(1), every order is the order of the operations, never of a hash, and a set
//! of visited sockets is a bitset over socket slots.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::iter::FusedIterator;

use bytestring::ByteString;

/// A map keyed by what the server makes (slots, socket ids), never by a name an application or
/// a client chooses: hashed with foldhash, a fraction of SipHash's cost. Room names keep the
/// standard library's SipHash, which resists keys chosen to collide.
pub(crate) type IdMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The name of a room.
///
/// A shared, immutable UTF-8 string: cloning it bumps a reference count. Every socket is also
/// in a room named by its own id, which this index treats like any other room.
pub type Room = ByteString;

/// What happened to a room, named like the events of the reference in-memory adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomEventKind {
    /// `create-room`: a room got its first member. Always directly followed by that member's
    /// [`JoinRoom`](Self::JoinRoom).
    CreateRoom,
    /// `join-room`: a socket joined a room it was not in.
    JoinRoom,
    /// `leave-room`: a socket left a room it was in.
    LeaveRoom,
    /// `delete-room`: a room lost its last member. Always directly preceded by that member's
    /// [`LeaveRoom`](Self::LeaveRoom).
    DeleteRoom,
}

impl RoomEventKind {
    /// The reference adapter's event name: `create-room`, `join-room`, `leave-room` or
    /// `delete-room`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreateRoom => "create-room",
            Self::JoinRoom => "join-room",
            Self::LeaveRoom => "leave-room",
            Self::DeleteRoom => "delete-room",
        }
    }
}

impl fmt::Display for RoomEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of a room, reported by the mutating methods of [`RoomIndex`] in the order the
/// reference adapter emits its events.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomEvent<K> {
    /// What happened.
    pub kind: RoomEventKind,
    /// The room it happened to.
    pub room: Room,
    /// The socket that joined or left. For `create-room` and `delete-room` (whose reference
    /// events carry only the room), the socket whose join or leave caused it.
    pub key: K,
}

/// Which sockets a broadcast (or `fetchSockets`, `socketsJoin`, ...) is aimed at.
///
/// With no `rooms`, every socket of the index; otherwise every socket in at least one of
/// `rooms`. Then minus every socket in at least one of `except`. Rooms that do not exist are
/// empty: they add nobody and exclude nobody.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastTarget<'a> {
    /// The rooms whose members are reached; empty means every socket.
    pub rooms: &'a [Room],
    /// The rooms whose members are not reached, even when they are in `rooms`.
    pub except: &'a [Room],
}

impl<'a> BroadcastTarget<'a> {
    /// Every socket.
    pub const fn all() -> Self {
        Self { rooms: &[], except: &[] }
    }

    /// Every socket in at least one of `rooms` (every socket when `rooms` is empty).
    pub const fn to(rooms: &'a [Room]) -> Self {
        Self { rooms, except: &[] }
    }

    /// The same target, minus every socket in at least one of `except`.
    #[must_use]
    pub const fn except(self, except: &'a [Room]) -> Self {
        Self { rooms: self.rooms, except }
    }
}

/// Reusable memory for [`RoomIndex::for_each_target_with`]: a bitset over socket slots.
///
/// Only broadcasts to several rooms, or with `except` rooms holding more than a few sockets,
/// use it. Keeping one per broadcasting thread and passing it on every call makes those
/// broadcasts allocation-free once it has grown to the index's size. It can be shared between
/// indexes of any size.
#[derive(Debug, Clone, Default)]
pub struct TargetScratch {
    bits: Vec<u64>,
}

impl TargetScratch {
    /// An empty scratch; it allocates on first use.
    pub const fn new() -> Self {
        Self { bits: Vec::new() }
    }

    /// A zeroed bitset for `slots` sockets.
    fn reset(&mut self, slots: usize) -> &mut [u64] {
        self.bits.clear();
        self.bits.resize(slots.div_ceil(64), 0);
        &mut self.bits
    }
}

/// Marks socket slot `slot`; answers whether it was unmarked.
fn mark(bits: &mut [u64], slot: u32) -> bool {
    let Some(word) = bits.get_mut((slot / 64) as usize) else { return false };
    let bit = 1u64 << (slot % 64);
    let fresh = *word & bit == 0;
    *word |= bit;
    fresh
}

/// Whether socket slot `slot` is marked.
fn is_marked(bits: &[u64], slot: u32) -> bool {
    bits.get((slot / 64) as usize).is_some_and(|word| word & (1u64 << (slot % 64)) != 0)
}

/// With `except` rooms holding at most this many memberships in total, the excluded sockets are
/// kept in an array on the stack instead of a bitset.
const FEW_EXCLUDED: usize = 8;

/// No slot: the end of a chain, or an empty free list.
const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
}

impl Link {
    const DETACHED: Self = Self { prev: NIL, next: NIL };
}

/// The two ends and the length of a doubly-linked chain of slab slots.
#[derive(Debug, Clone, Copy)]
struct Chain {
    head: u32,
    tail: u32,
    len: u32,
}

impl Chain {
    const EMPTY: Self = Self { head: NIL, tail: NIL, len: 0 };
}

#[derive(Debug, Clone)]
enum Slot<T> {
    Occupied(T),
    Vacant { next_free: u32 },
}

/// A vector of slots whose freed slots are reused, last freed first.
#[derive(Debug, Clone)]
struct Slab<T> {
    slots: Vec<Slot<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Slab<T> {
    const fn new() -> Self {
        Self { slots: Vec::new(), free_head: NIL, len: 0 }
    }

    /// The number of slots, occupied or not: every slot number is below it.
    fn slots(&self) -> usize {
        self.slots.len()
    }

    fn get(&self, slot: u32) -> Option<&T> {
        match self.slots.get(slot as usize)? {
            Slot::Occupied(value) => Some(value),
            Slot::Vacant { .. } => None,
        }
    }

    fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        match self.slots.get_mut(slot as usize)? {
            Slot::Occupied(value) => Some(value),
            Slot::Vacant { .. } => None,
        }
    }

    /// Stores `value` and answers its slot number, never [`NIL`]: `get(NIL)` is always `None`.
    fn insert(&mut self, value: T) -> u32 {
        if self.free_head != NIL {
            if let Some(slot) = self.slots.get_mut(self.free_head as usize) {
                if let Slot::Vacant { next_free } = *slot {
                    let index = self.free_head;
                    self.free_head = next_free;
                    *slot = Slot::Occupied(value);
                    self.len += 1;
                    return index;
                }
            }
        }
        let index = match u32::try_from(self.slots.len()) {
            Ok(index) if index != NIL => index,
            _ => panic!("room index: more than {} live entries", NIL - 1),
        };
        self.slots.push(Slot::Occupied(value));
        self.len += 1;
        index
    }

    fn remove(&mut self, slot: u32) -> Option<T> {
        let entry = self.slots.get_mut(slot as usize)?;
        if let Slot::Vacant { .. } = entry {
            return None;
        }
        let Slot::Occupied(value) = std::mem::replace(entry, Slot::Vacant { next_free: self.free_head })
        else {
            return None;
        };
        self.free_head = slot;
        self.len -= 1;
        Some(value)
    }
}

/// Picks one of the links of a slab entry.
type LinkOf<T> = fn(&mut T) -> &mut Link;

fn push_back<T>(slab: &mut Slab<T>, chain: &mut Chain, slot: u32, link: LinkOf<T>) {
    let tail = chain.tail;
    if let Some(entry) = slab.get_mut(slot) {
        *link(entry) = Link { prev: tail, next: NIL };
    }
    match slab.get_mut(tail) {
        Some(entry) => link(entry).next = slot,
        None => chain.head = slot,
    }
    chain.tail = slot;
    chain.len += 1;
}

fn unlink<T>(slab: &mut Slab<T>, chain: &mut Chain, slot: u32, link: LinkOf<T>) {
    let Some(entry) = slab.get_mut(slot) else { return };
    let Link { prev, next } = std::mem::replace(link(entry), Link::DETACHED);
    match slab.get_mut(prev) {
        Some(entry) => link(entry).next = next,
        None => chain.head = next,
    }
    match slab.get_mut(next) {
        Some(entry) => link(entry).prev = prev,
        None => chain.tail = prev,
    }
    chain.len -= 1;
}

#[derive(Debug, Clone)]
struct SocketEntry<K> {
    key: K,
    /// In the chain of all sockets, registration order.
    order: Link,
    /// The socket's memberships, join order.
    rooms: Chain,
}

#[derive(Debug, Clone)]
struct RoomEntry {
    name: Room,
    /// In the chain of all rooms, creation order.
    order: Link,
    /// The room's memberships, join order.
    members: Chain,
}

#[derive(Debug, Clone, Copy)]
struct Membership<K> {
    /// The socket's key, copied here so that walking a room touches only memberships.
    key: K,
    socket: u32,
    room: u32,
    in_room: Link,
    in_socket: Link,
}

fn socket_order<K>(entry: &mut SocketEntry<K>) -> &mut Link {
    &mut entry.order
}

fn room_order(entry: &mut RoomEntry) -> &mut Link {
    &mut entry.order
}

fn in_room<K>(entry: &mut Membership<K>) -> &mut Link {
    &mut entry.in_room
}

fn in_socket<K>(entry: &mut Membership<K>) -> &mut Link {
    &mut entry.in_socket
}

/// Where the candidates of a broadcast come from, before `except` is applied.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// No requested room exists.
    Nobody,
    /// No room was requested.
    Everyone,
    /// Exactly one distinct requested room exists.
    Room(u32),
    /// Several distinct requested rooms exist.
    Union,
}

/// Sockets and the rooms they are in: a synchronous, deterministic index with no I/O.
///
/// `K` is the key of a socket, a small `Copy` value chosen by the caller. A socket is
/// *registered* from its first [`add_all`](Self::add_all) (even with no rooms) until
/// [`del_all`](Self::del_all); leaving its last room does not unregister it, so it still
/// receives broadcasts to every socket, like in the reference adapter. A room exists while it
/// has at least one member.
///
/// # Orders
///
/// Every order is the order of the operations that built the index, never that of a hash, so
/// the same operations always give the same answers:
///
/// * [`sockets`](Self::sockets): registration order;
/// * [`all_rooms`](Self::all_rooms): creation order (a room deleted and created again moves to
///   the end);
/// * [`rooms_of`](Self::rooms_of) and [`sockets_in`](Self::sockets_in): join order (leaving and
///   joining again moves to the end);
/// * broadcast targets ([`for_each_target`](Self::for_each_target)): with no rooms, registration
///   order; otherwise the rooms in the order given and each room's members in join order, a
///   socket reached through several rooms being visited once, at its first occurrence. These
///   are the orders of the reference in-memory adapter (JavaScript `Map` and `Set` iterate in
///   insertion order).
///
/// # Events
///
/// The mutating methods report [`RoomEvent`]s to a callback, in the reference adapter's order:
/// for each room joined, `create-room` if the room is new then `join-room` if the socket was
/// not already in it; for each room left, `leave-room` then `delete-room` if it was the last
/// member. Nothing is reported for a join that changes nothing or a leave of a room the socket
/// is not in.
///
/// # Cost
///
/// Joins and leaves are O(1) (a few hash look-ups). Broadcast targeting visits only the sockets
/// of the rooms involved (or every socket when there are no rooms), never allocates per
/// recipient, and allocates nothing at all for no rooms or one room with at most a few sockets
/// in `except` rooms; other broadcasts use one bitset over the sockets, allocated once per call
/// or taken from a [`TargetScratch`].
///
/// Memory holds the high-water mark of sockets, rooms and memberships: freed entries are reused.
///
/// # Examples
///
/// ```
/// use socketio_adapter::{BroadcastTarget, Room, RoomEventKind, RoomIndex};
///
/// let mut index = RoomIndex::new();
/// let mut events = Vec::new();
/// index.add_all(1u32, ["s1", "chat"], |e| events.push(e));
/// index.add_all(2u32, ["s2", "chat"], |e| events.push(e));
/// let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
/// assert_eq!(kinds, ["create-room", "join-room", "create-room", "join-room", "create-room", "join-room", "join-room"]);
///
/// // `socket.to("chat").except(own id)`, as socket 1 would broadcast.
/// let to = [Room::from("chat")];
/// let except = [Room::from("s1")];
/// assert_eq!(index.collect_targets(&BroadcastTarget::to(&to).except(&except)), [2]);
///
/// events.clear();
/// index.del_all(1, |e| events.push(e));
/// assert_eq!(events[1].kind, RoomEventKind::DeleteRoom); // s1 left and deleted, then chat left
/// assert_eq!(index.rooms_of(2).map(|rooms| rooms.count()), Some(2));
/// ```
#[derive(Clone)]
pub struct RoomIndex<K> {
    socket_slots: IdMap<K, u32>,
    sockets: Slab<SocketEntry<K>>,
    socket_chain: Chain,
    room_slots: HashMap<Room, u32>,
    rooms: Slab<RoomEntry>,
    room_chain: Chain,
    /// `(room slot, socket slot)` → membership slot.
    membership_slots: IdMap<(u32, u32), u32>,
    memberships: Slab<Membership<K>>,
}

impl<K> Default for RoomIndex<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> RoomIndex<K> {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            socket_slots: IdMap::default(),
            sockets: Slab::new(),
            socket_chain: Chain::EMPTY,
            room_slots: HashMap::new(),
            rooms: Slab::new(),
            room_chain: Chain::EMPTY,
            membership_slots: IdMap::default(),
            memberships: Slab::new(),
        }
    }

    /// The number of registered sockets.
    pub fn socket_count(&self) -> usize {
        self.sockets.len
    }

    /// The number of rooms, i.e. of room names with at least one member.
    pub fn room_count(&self) -> usize {
        self.rooms.len
    }

    /// Every registered socket, in registration order.
    pub fn sockets(&self) -> Sockets<'_, K> {
        Sockets { index: self, next: self.socket_chain.head, remaining: self.sockets.len }
    }

    /// Every room, in creation order.
    pub fn all_rooms(&self) -> AllRooms<'_, K> {
        AllRooms { index: self, next: self.room_chain.head, remaining: self.rooms.len }
    }

    /// Whether a room named `room` exists (has at least one member).
    pub fn has_room(&self, room: &str) -> bool {
        self.room_slots.contains_key(room)
    }

    /// The members of `room` in join order; nothing when the room does not exist.
    pub fn sockets_in(&self, room: &str) -> SocketsIn<'_, K> {
        let chain =
            self.room_slot(room).and_then(|slot| self.rooms.get(slot)).map_or(Chain::EMPTY, |r| r.members);
        SocketsIn { index: self, next: chain.head, remaining: chain.len as usize }
    }

    fn room_slot(&self, room: &str) -> Option<u32> {
        self.room_slots.get(room).copied()
    }

    /// Visits `(socket slot, key)` for every socket in registration order.
    #[inline]
    fn walk_everyone(&self, mut f: impl FnMut(u32, K))
    where
        K: Copy,
    {
        let mut cursor = self.socket_chain.head;
        while let Some(socket) = self.sockets.get(cursor) {
            f(cursor, socket.key);
            cursor = socket.order.next;
        }
    }

    /// Visits `(socket slot, key)` for every member of the room in slot `room`, in join order.
    #[inline]
    fn walk_room(&self, room: u32, mut f: impl FnMut(u32, K))
    where
        K: Copy,
    {
        let Some(entry) = self.rooms.get(room) else { return };
        let mut cursor = entry.members.head;
        while let Some(membership) = self.memberships.get(cursor) {
            f(membership.socket, membership.key);
            cursor = membership.in_room.next;
        }
    }

    /// Visits the candidates of a source with a single walk: everyone or one room. A union needs
    /// a set of visited sockets and is walked by the caller.
    #[inline]
    fn walk_source(&self, source: Source, f: impl FnMut(u32, K))
    where
        K: Copy,
    {
        match source {
            Source::Everyone => self.walk_everyone(f),
            Source::Room(room) => self.walk_room(room, f),
            Source::Nobody | Source::Union => {}
        }
    }

    fn source(&self, rooms: &[Room]) -> Source {
        if rooms.is_empty() {
            return Source::Everyone;
        }
        let mut found = None;
        for room in rooms {
            match (found, self.room_slot(room)) {
                (_, None) => {}
                (None, Some(slot)) => found = Some(slot),
                (Some(first), Some(slot)) if first == slot => {}
                (Some(_), Some(_)) => return Source::Union,
            }
        }
        found.map_or(Source::Nobody, Source::Room)
    }

    /// An upper bound of the number of sockets in `except` rooms (a socket in two of them
    /// counts twice).
    fn excluded_upper_bound(&self, except: &[Room]) -> usize {
        except
            .iter()
            .filter_map(|room| self.room_slot(room).and_then(|slot| self.rooms.get(slot)))
            .map(|entry| entry.members.len as usize)
            .sum()
    }
}

impl<K: Copy + Eq + Hash> RoomIndex<K> {
    /// Whether the socket `key` is registered.
    pub fn has_socket(&self, key: K) -> bool {
        self.socket_slots.contains_key(&key)
    }

    /// Whether the socket `key` is in `room`.
    pub fn is_member(&self, key: K, room: &str) -> bool {
        match (self.room_slot(room), self.socket_slots.get(&key)) {
            (Some(room), Some(&socket)) => self.membership_slots.contains_key(&(room, socket)),
            _ => false,
        }
    }

    /// The rooms of socket `key` in join order, or `None` when it is not registered (a
    /// registered socket may be in no room).
    pub fn rooms_of(&self, key: K) -> Option<RoomsOf<'_, K>> {
        let slot = *self.socket_slots.get(&key)?;
        let chain = self.sockets.get(slot)?.rooms;
        Some(RoomsOf { index: self, next: chain.head, remaining: chain.len as usize })
    }

    /// Registers socket `key` if needed, then makes it join each of `rooms` in order
    /// (`addAll`). Reports, for each room, `create-room` if it is new, then `join-room` if the
    /// socket was not in it yet. Joining a room twice changes nothing.
    ///
    /// A room is converted into a [`Room`] only when it is created: joining an existing room by
    /// `&str` copies nothing.
    ///
    /// # Panics
    ///
    /// If more than `u32::MAX - 1` sockets, rooms or memberships would be live at once.
    pub fn add_all<R>(
        &mut self,
        key: K,
        rooms: impl IntoIterator<Item = R>,
        mut on_event: impl FnMut(RoomEvent<K>),
    ) where
        R: AsRef<str> + Into<Room>,
    {
        let socket = self.register(key);
        for room in rooms {
            let slot = match self.room_slot(room.as_ref()) {
                Some(slot) => slot,
                None => {
                    let name: Room = room.into();
                    let slot = self.create_room(name.clone());
                    on_event(RoomEvent { kind: RoomEventKind::CreateRoom, room: name, key });
                    slot
                }
            };
            self.join(socket, slot, key, &mut on_event);
        }
    }

    /// Makes socket `key` leave `room` (`del`). Reports `leave-room`, then `delete-room` if it
    /// was the last member. Answers whether the socket was in the room; leaving a room one is
    /// not in, or that does not exist, changes nothing. The socket stays registered.
    pub fn del(&mut self, key: K, room: &str, mut on_event: impl FnMut(RoomEvent<K>)) -> bool {
        let (Some(&socket), Some(room)) = (self.socket_slots.get(&key), self.room_slot(room)) else {
            return false;
        };
        let Some(&membership) = self.membership_slots.get(&(room, socket)) else { return false };
        self.leave(membership, &mut on_event);
        true
    }

    /// Makes socket `key` leave all its rooms, in join order, and unregisters it (`delAll`).
    /// Reports, for each room, `leave-room` then `delete-room` if it was the last member.
    /// Answers whether the socket was registered.
    pub fn del_all(&mut self, key: K, mut on_event: impl FnMut(RoomEvent<K>)) -> bool {
        let Some(socket) = self.socket_slots.remove(&key) else { return false };
        while let Some(first) = self.sockets.get(socket).map(|entry| entry.rooms.head) {
            if first == NIL {
                break;
            }
            self.leave(first, &mut on_event);
        }
        unlink(&mut self.sockets, &mut self.socket_chain, socket, socket_order);
        self.sockets.remove(socket);
        true
    }

    /// Calls `f` once with every socket the target reaches, in the order described on
    /// [`RoomIndex`]. See [`for_each_target_with`](Self::for_each_target_with) to reuse the
    /// memory of the broadcasts that need a bitset.
    pub fn for_each_target(&self, target: &BroadcastTarget<'_>, f: impl FnMut(K)) {
        self.for_each_target_with(target, &mut TargetScratch::new(), f);
    }

    /// Calls `f` once with every socket the target reaches, in the order described on
    /// [`RoomIndex`], using `scratch` when a bitset of visited or excluded sockets is needed.
    ///
    /// No allocation when there is at most one existing room in `target.rooms` and the `except`
    /// rooms hold at most a few sockets (`io.emit`, `io.to(room).emit`, `socket.broadcast.emit`,
    /// `socket.to(room).emit`); otherwise at most one, growing `scratch` to one bit per socket.
    pub fn for_each_target_with(
        &self,
        target: &BroadcastTarget<'_>,
        scratch: &mut TargetScratch,
        mut f: impl FnMut(K),
    ) {
        let source = self.source(target.rooms);
        if let Source::Nobody = source {
            return;
        }
        let excluded = self.excluded_upper_bound(target.except);
        if matches!(source, Source::Union) || excluded > FEW_EXCLUDED {
            let marks = scratch.reset(self.sockets.slots());
            for room in target.except {
                if let Some(room) = self.room_slot(room) {
                    self.walk_room(room, |socket, _| {
                        mark(marks, socket);
                    });
                }
            }
            if let Source::Union = source {
                for room in target.rooms {
                    if let Some(room) = self.room_slot(room) {
                        self.walk_room(room, |socket, key| {
                            if mark(marks, socket) {
                                f(key);
                            }
                        });
                    }
                }
            } else {
                self.walk_source(source, |socket, key| {
                    if !is_marked(marks, socket) {
                        f(key);
                    }
                });
            }
        } else if excluded > 0 {
            let mut few = [NIL; FEW_EXCLUDED];
            let mut len = 0;
            for room in target.except {
                if let Some(room) = self.room_slot(room) {
                    self.walk_room(room, |socket, _| {
                        if let Some(entry) = few.get_mut(len) {
                            *entry = socket;
                            len += 1;
                        }
                    });
                }
            }
            let few = few.get(..len).unwrap_or(&[]);
            self.walk_source(source, |socket, key| {
                if !few.contains(&socket) {
                    f(key);
                }
            });
        } else {
            self.walk_source(source, |_, key| f(key));
        }
    }

    /// The number of sockets the target reaches. O(1) with no `except` rooms and at most one
    /// existing room in `target.rooms`.
    pub fn count_targets(&self, target: &BroadcastTarget<'_>) -> usize {
        if self.excluded_upper_bound(target.except) == 0 {
            match self.source(target.rooms) {
                Source::Nobody => return 0,
                Source::Everyone => return self.socket_count(),
                Source::Room(room) => return self.rooms.get(room).map_or(0, |r| r.members.len as usize),
                Source::Union => {}
            }
        }
        let mut count = 0;
        self.for_each_target(target, |_| count += 1);
        count
    }

    /// The sockets the target reaches, in the order of
    /// [`for_each_target`](Self::for_each_target).
    pub fn collect_targets(&self, target: &BroadcastTarget<'_>) -> Vec<K> {
        let capacity = match self.source(target.rooms) {
            Source::Nobody => 0,
            Source::Everyone => self.socket_count(),
            Source::Room(room) => self.rooms.get(room).map_or(0, |r| r.members.len as usize),
            Source::Union => self.socket_count(),
        };
        let mut targets = Vec::with_capacity(capacity);
        self.for_each_target(target, |key| targets.push(key));
        targets
    }

    fn register(&mut self, key: K) -> u32 {
        match self.socket_slots.entry(key) {
            MapEntry::Occupied(entry) => *entry.get(),
            MapEntry::Vacant(entry) => {
                let slot =
                    self.sockets.insert(SocketEntry { key, order: Link::DETACHED, rooms: Chain::EMPTY });
                push_back(&mut self.sockets, &mut self.socket_chain, slot, socket_order);
                entry.insert(slot);
                slot
            }
        }
    }

    fn create_room(&mut self, name: Room) -> u32 {
        let slot =
            self.rooms.insert(RoomEntry { name: name.clone(), order: Link::DETACHED, members: Chain::EMPTY });
        push_back(&mut self.rooms, &mut self.room_chain, slot, room_order);
        self.room_slots.insert(name, slot);
        slot
    }

    fn join(&mut self, socket: u32, room: u32, key: K, on_event: &mut impl FnMut(RoomEvent<K>)) {
        let MapEntry::Vacant(entry) = self.membership_slots.entry((room, socket)) else { return };
        let membership = self.memberships.insert(Membership {
            key,
            socket,
            room,
            in_room: Link::DETACHED,
            in_socket: Link::DETACHED,
        });
        entry.insert(membership);
        if let Some(entry) = self.sockets.get_mut(socket) {
            push_back(&mut self.memberships, &mut entry.rooms, membership, in_socket);
        }
        if let Some(entry) = self.rooms.get_mut(room) {
            push_back(&mut self.memberships, &mut entry.members, membership, in_room);
            on_event(RoomEvent { kind: RoomEventKind::JoinRoom, room: entry.name.clone(), key });
        }
    }

    fn leave(&mut self, membership: u32, on_event: &mut impl FnMut(RoomEvent<K>)) {
        let Some(&Membership { key, socket, room, .. }) = self.memberships.get(membership) else { return };
        self.membership_slots.remove(&(room, socket));
        if let Some(entry) = self.sockets.get_mut(socket) {
            unlink(&mut self.memberships, &mut entry.rooms, membership, in_socket);
        }
        let Some(entry) = self.rooms.get_mut(room) else { return };
        unlink(&mut self.memberships, &mut entry.members, membership, in_room);
        self.memberships.remove(membership);
        on_event(RoomEvent { kind: RoomEventKind::LeaveRoom, room: entry.name.clone(), key });
        if entry.members.len > 0 {
            return;
        }
        unlink(&mut self.rooms, &mut self.room_chain, room, room_order);
        if let Some(entry) = self.rooms.remove(room) {
            self.room_slots.remove(&entry.name);
            on_event(RoomEvent { kind: RoomEventKind::DeleteRoom, room: entry.name, key });
        }
    }
}

impl<K: fmt::Debug + Copy> fmt::Debug for RoomIndex<K> {
    /// The rooms in creation order, each with its members in join order, then the sockets in
    /// registration order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct RoomsDebug<'a, K>(&'a RoomIndex<K>);
        impl<K: fmt::Debug + Copy> fmt::Debug for RoomsDebug<'_, K> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map().entries(self.0.all_rooms().map(|room| (room, self.0.sockets_in(room)))).finish()
            }
        }
        f.debug_struct("RoomIndex")
            .field("rooms", &RoomsDebug(self))
            .field("sockets", &self.sockets())
            .finish()
    }
}

macro_rules! chain_iterator {
    ($(#[$doc:meta])* $name:ident, $item:ty, |$index:ident, $cursor:ident| $step:expr) => {
        $(#[$doc])*
        pub struct $name<'a, K> {
            index: &'a RoomIndex<K>,
            next: u32,
            remaining: usize,
        }

        impl<K> Clone for $name<'_, K> {
            fn clone(&self) -> Self {
                Self { index: self.index, next: self.next, remaining: self.remaining }
            }
        }

        impl<'a, K: Copy> Iterator for $name<'a, K> {
            type Item = $item;

            fn next(&mut self) -> Option<$item> {
                let $index: &'a RoomIndex<K> = self.index;
                let $cursor = self.next;
                let step: Option<($item, u32)> = $step;
                match step {
                    Some((item, next)) => {
                        self.next = next;
                        self.remaining = self.remaining.saturating_sub(1);
                        Some(item)
                    }
                    None => {
                        self.next = NIL;
                        self.remaining = 0;
                        None
                    }
                }
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                (self.remaining, Some(self.remaining))
            }
        }

        impl<K: Copy> ExactSizeIterator for $name<'_, K> {}

        impl<K: Copy> FusedIterator for $name<'_, K> {}

        impl<K: Copy + fmt::Debug> fmt::Debug for $name<'_, K> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.clone()).finish()
            }
        }
    };
}

chain_iterator!(
    /// The registered sockets in registration order, from [`RoomIndex::sockets`].
    Sockets,
    K,
    |index, cursor| index.sockets.get(cursor).map(|socket| (socket.key, socket.order.next))
);

chain_iterator!(
    /// The rooms in creation order, from [`RoomIndex::all_rooms`].
    AllRooms,
    &'a Room,
    |index, cursor| index.rooms.get(cursor).map(|room| (&room.name, room.order.next))
);

chain_iterator!(
    /// The members of one room in join order, from [`RoomIndex::sockets_in`].
    SocketsIn,
    K,
    |index, cursor| index.memberships.get(cursor).map(|membership| (membership.key, membership.in_room.next))
);

chain_iterator!(
    /// The rooms of one socket in join order, from [`RoomIndex::rooms_of`].
    RoomsOf,
    &'a Room,
    |index, cursor| {
        index.memberships.get(cursor).and_then(|membership| {
            index.rooms.get(membership.room).map(|room| (&room.name, membership.in_socket.next))
        })
    }
);
