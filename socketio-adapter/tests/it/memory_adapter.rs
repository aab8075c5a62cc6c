//! The in-memory adapter: registration, rooms and their events, broadcast targeting and flags,
//! and the remote-capable operations answered for a single node.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use socketio_adapter::{
    Adapter, BroadcastFlags, BroadcastOptions, LocalSocket, MemoryAdapter, Room, RoomEventKind, Sid,
    SocketDetails,
};
use socketio_parser::{ByteString, Packet};

/// A socket that records what it was sent.
#[derive(Clone)]
struct Fake {
    id: Sid,
    writable: bool,
    log: Arc<Mutex<Vec<String>>>,
}

impl LocalSocket for Fake {
    type Encoded = &'static str;
    type AckSink = Arc<Mutex<Vec<Sid>>>;

    fn id(&self) -> &Sid {
        &self.id
    }

    fn send(&self, packet: &&'static str, flags: &BroadcastFlags, ack: Option<&Self::AckSink>) -> bool {
        if flags.volatile && !self.writable {
            return false;
        }
        if let Some(ack) = ack {
            ack.lock().unwrap().push(self.id.clone());
        }
        self.log.lock().unwrap().push(format!("{} <- {packet}", self.id));
        true
    }

    fn disconnect(&self, close: bool) {
        self.log.lock().unwrap().push(format!("{} disconnect close={close}", self.id));
    }

    fn details(&self) -> SocketDetails {
        SocketDetails {
            id: self.id.clone(),
            handshake: serde_json::json!({}),
            rooms: Vec::new(),
            data: serde_json::json!({"name": &*self.id}),
        }
    }
}

struct Setup {
    adapter: MemoryAdapter<Fake>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Setup {
    /// Sockets `a`, `b`, `c`: each in its own room; `b` and `c` in `news`; `c` not writable.
    fn new() -> Self {
        let adapter = MemoryAdapter::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        for (id, rooms, writable) in
            [("a", &[][..], true), ("b", &["news"][..], true), ("c", &["news"][..], false)]
        {
            let socket = Fake { id: Sid::from(id), writable, log: log.clone() };
            let mut all = vec![Room::from(id)];
            all.extend(rooms.iter().map(|r| Room::from(*r)));
            adapter.add_socket(socket, &all);
        }
        Setup { adapter, log }
    }

    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|n| Room::from(*n)).collect()
}

fn packet() -> Packet {
    Packet::disconnect(ByteString::from_static("/"))
}

#[test]
fn broadcasts_reach_the_union_of_rooms_minus_except() {
    let s = Setup::new();
    s.adapter.broadcast(&packet(), &"all", &BroadcastOptions::all());
    assert_eq!(s.take_log(), ["a <- all", "b <- all", "c <- all"]);

    let opts =
        BroadcastOptions { rooms: rooms(&["news", "a", "b"]), except: rooms(&["c"]), ..Default::default() };
    s.adapter.broadcast(&packet(), &"some", &opts);
    assert_eq!(s.take_log(), ["b <- some", "a <- some"]);

    let opts = BroadcastOptions { rooms: rooms(&["nowhere"]), ..Default::default() };
    s.adapter.broadcast(&packet(), &"none", &opts);
    assert_eq!(s.take_log(), Vec::<String>::new());
}

#[test]
fn volatile_broadcasts_skip_sockets_that_cannot_take_them() {
    let s = Setup::new();
    let opts = BroadcastOptions {
        flags: BroadcastFlags { volatile: true, ..Default::default() },
        ..Default::default()
    };
    s.adapter.broadcast(&packet(), &"v", &opts);
    assert_eq!(s.take_log(), ["a <- v", "b <- v"]);
}

#[test]
fn broadcast_with_ack_counts_the_clients_that_were_sent_the_packet() {
    let s = Setup::new();
    let acks = Arc::new(Mutex::new(Vec::new()));
    let opts = BroadcastOptions {
        rooms: rooms(&["news"]),
        flags: BroadcastFlags { volatile: true, ..Default::default() },
        ..Default::default()
    };
    let expected = block_on(s.adapter.broadcast_with_ack(&packet(), &"q", &opts, acks.clone()));
    assert_eq!(expected, Ok(1));
    assert_eq!(*acks.lock().unwrap(), [Sid::from("b")]);
}

#[test]
fn rooms_are_joined_and_left_with_reference_events() {
    let s = Setup::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    s.adapter.on_room_event(Arc::new(move |e| {
        sink.lock().unwrap().push(format!("{} {} {}", e.kind, e.room, e.key));
    }));
    s.adapter.add_all("a", &rooms(&["x", "news"]));
    s.adapter.del("b", "news");
    s.adapter.del_all("c");
    assert_eq!(
        *events.lock().unwrap(),
        [
            "create-room x a",
            "join-room x a",
            "join-room news a",
            "leave-room news b",
            "leave-room c c",
            "delete-room c c",
            "leave-room news c",
        ]
    );
    assert_eq!(s.adapter.socket_rooms("a"), Some(rooms(&["a", "x", "news"])));
    assert_eq!(s.adapter.socket_rooms("c"), None);
    assert_eq!(s.adapter.local_count(), 2);
    assert_eq!(s.adapter.local_rooms(), rooms(&["a", "b", "news", "x"]));
    assert!(RoomEventKind::CreateRoom.as_str() == "create-room");
}

#[test]
fn a_freed_slot_is_reused_without_mixing_up_sockets() {
    let s = Setup::new();
    s.adapter.del_all("b");
    let log = s.log.clone();
    s.adapter.add_socket(Fake { id: Sid::from("d"), writable: true, log }, &rooms(&["d"]));
    assert!(s.adapter.local_socket("b").is_none());
    assert_eq!(s.adapter.local_socket("d").map(|f| f.id), Some(Sid::from("d")));
    s.adapter.broadcast(&packet(), &"p", &BroadcastOptions::to(rooms(&["news", "d"])));
    assert_eq!(s.take_log(), ["c <- p", "d <- p"]);
}

#[test]
fn fetch_join_leave_and_disconnect_act_on_the_targeted_sockets() {
    let s = Setup::new();
    let fetched = block_on(s.adapter.fetch_sockets(&BroadcastOptions::to(rooms(&["news"])))).unwrap();
    assert_eq!(fetched.iter().map(|d| d.id.to_string()).collect::<Vec<_>>(), ["b", "c"]);
    assert_eq!(fetched[0].rooms, rooms(&["b", "news"]));
    assert_eq!(fetched[1].data, serde_json::json!({"name": "c"}));

    s.adapter.add_sockets(&BroadcastOptions::to(rooms(&["news"])), &rooms(&["vip"]));
    assert_eq!(s.adapter.local_sockets(&BroadcastOptions::to(rooms(&["vip"]))).len(), 2);
    s.adapter.del_sockets(&BroadcastOptions::socket(&Sid::from("b")), &rooms(&["vip", "news"]));
    assert_eq!(s.adapter.socket_rooms("b"), Some(rooms(&["b"])));

    s.adapter.disconnect_sockets(&BroadcastOptions { except: rooms(&["a"]), ..Default::default() }, true);
    assert_eq!(s.take_log(), ["b disconnect close=true", "c disconnect close=true"]);
}

#[test]
fn a_single_node_reaches_no_other_node() {
    let s = Setup::new();
    assert_eq!(block_on(s.adapter.server_count()), Ok(1));
    assert_eq!(block_on(s.adapter.server_side_emit(serde_json::json!(["hi"]))), Ok(0));
    let answers = block_on(
        s.adapter.server_side_emit_with_ack(serde_json::json!(["hi"]), std::time::Duration::from_secs(1)),
    );
    assert_eq!(answers, Ok(Vec::new()));
}

/// Runs a future that is ready at once (the in-memory adapter never waits).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the in-memory adapter waited"),
    }
}
