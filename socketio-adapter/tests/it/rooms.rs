//! The room index: membership, room lifecycle events, deterministic orders and broadcast
//! targeting, checked case by case and against a naive model on random operation sequences.

use std::collections::BTreeSet;

use proptest::prelude::*;
use socketio_adapter::{BroadcastTarget, Room, RoomEvent, RoomEventKind, RoomIndex, TargetScratch};

use RoomEventKind::{CreateRoom, DeleteRoom, JoinRoom, LeaveRoom};

fn ev(kind: RoomEventKind, room: &str, key: u32) -> RoomEvent<u32> {
    RoomEvent { kind, room: Room::from(room), key }
}

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|name| Room::from(*name)).collect()
}

fn rooms_of(index: &RoomIndex<u32>, key: u32) -> Option<Vec<String>> {
    index.rooms_of(key).map(|rooms| rooms.map(|room| room.to_string()).collect())
}

/// The rooms of a socket that must be registered.
fn joined(index: &RoomIndex<u32>, key: u32) -> Vec<String> {
    rooms_of(index, key).expect("the socket is registered")
}

fn sockets_in(index: &RoomIndex<u32>, room: &str) -> Vec<u32> {
    index.sockets_in(room).collect()
}

fn all_rooms(index: &RoomIndex<u32>) -> Vec<String> {
    index.all_rooms().map(|room| room.to_string()).collect()
}

/// Every way of asking for the targets, checked to agree; answers the targets.
fn targets(index: &RoomIndex<u32>, to: &[&str], except: &[&str]) -> Vec<u32> {
    let to = rooms(to);
    let except = rooms(except);
    let target = BroadcastTarget::to(&to).except(&except);
    let collected = index.collect_targets(&target);
    let mut visited = Vec::new();
    index.for_each_target(&target, |key| visited.push(key));
    assert_eq!(visited, collected);
    let mut with_scratch = Vec::new();
    index.for_each_target_with(&target, &mut TargetScratch::new(), |key| with_scratch.push(key));
    assert_eq!(with_scratch, collected);
    assert_eq!(index.count_targets(&target), collected.len());
    collected
}

/// Sockets 1..=n, each in its own room `s<key>`, joined in key order.
fn with_own_rooms(n: u32) -> RoomIndex<u32> {
    let mut index = RoomIndex::new();
    for key in 1..=n {
        index.add_all(key, [format!("s{key}")], |_| {});
    }
    index
}

#[test]
fn first_join_creates_the_room_then_joins_it() {
    let mut index = RoomIndex::new();
    let mut events = Vec::new();
    index.add_all(1, ["a"], |e| events.push(e));
    assert_eq!(events, [ev(CreateRoom, "a", 1), ev(JoinRoom, "a", 1)]);
    assert!(index.has_room("a"));
    assert!(index.is_member(1, "a"));
    assert_eq!(index.room_count(), 1);
    assert_eq!(index.socket_count(), 1);
}

#[test]
fn later_members_only_join() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["a"], |_| {});
    let mut events = Vec::new();
    index.add_all(2, ["a"], |e| events.push(e));
    assert_eq!(events, [ev(JoinRoom, "a", 2)]);
    assert_eq!(sockets_in(&index, "a"), [1, 2]);
}

#[test]
fn add_all_reports_room_by_room_in_the_given_order() {
    let mut index = RoomIndex::new();
    index.add_all(9, ["b"], |_| {});
    let mut events = Vec::new();
    index.add_all(1, ["a", "b", "c"], |e| events.push(e));
    assert_eq!(
        events,
        [
            ev(CreateRoom, "a", 1),
            ev(JoinRoom, "a", 1),
            ev(JoinRoom, "b", 1),
            ev(CreateRoom, "c", 1),
            ev(JoinRoom, "c", 1),
        ]
    );
    assert_eq!(joined(&index, 1), ["a", "b", "c"]);
    assert_eq!(all_rooms(&index), ["b", "a", "c"]);
}

#[test]
fn joining_again_changes_nothing_and_reports_nothing() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["a", "b"], |_| {});
    index.add_all(2, ["a"], |_| {});
    let mut events = Vec::new();
    index.add_all(1, ["b", "a", "b"], |e| events.push(e));
    assert_eq!(events, []);
    assert_eq!(joined(&index, 1), ["a", "b"]);
    assert_eq!(sockets_in(&index, "a"), [1, 2]);
    assert_eq!(index.room_count(), 2);
}

#[test]
fn a_room_repeated_in_one_call_is_joined_once() {
    let mut index = RoomIndex::new();
    let mut events = Vec::new();
    index.add_all(1, ["a", "a"], |e| events.push(e));
    assert_eq!(events, [ev(CreateRoom, "a", 1), ev(JoinRoom, "a", 1)]);
    assert_eq!(sockets_in(&index, "a"), [1]);
}

#[test]
fn add_all_accepts_owned_rooms_strings_and_str() {
    let mut index = RoomIndex::new();
    index.add_all(1, [Room::from("a")], |_| {});
    index.add_all(1, [String::from("b")], |_| {});
    index.add_all(1, vec!["c"], |_| {});
    assert_eq!(joined(&index, 1), ["a", "b", "c"]);
}

#[test]
fn add_all_with_no_rooms_registers_the_socket() {
    let mut index = RoomIndex::new();
    let mut events = Vec::new();
    index.add_all(1, Vec::<Room>::new(), |e| events.push(e));
    assert_eq!(events, []);
    assert!(index.has_socket(1));
    assert_eq!(index.rooms_of(1).map(|rooms| rooms.len()), Some(0));
    assert_eq!(targets(&index, &[], &[]), [1]);
}

#[test]
fn leaving_reports_leave_then_delete_for_the_last_member() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["a"], |_| {});
    index.add_all(2, ["a"], |_| {});
    let mut events = Vec::new();
    assert!(index.del(1, "a", |e| events.push(e)));
    assert_eq!(events, [ev(LeaveRoom, "a", 1)]);
    events.clear();
    assert!(index.del(2, "a", |e| events.push(e)));
    assert_eq!(events, [ev(LeaveRoom, "a", 2), ev(DeleteRoom, "a", 2)]);
    assert!(!index.has_room("a"));
    assert_eq!(index.room_count(), 0);
    assert_eq!(sockets_in(&index, "a"), Vec::<u32>::new());
}

#[test]
fn leaving_a_room_one_is_not_in_changes_nothing() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["a"], |_| {});
    index.add_all(2, ["b"], |_| {});
    let mut events = Vec::new();
    // A room that exists, without the socket.
    assert!(!index.del(1, "b", |e| events.push(e)));
    // A room that does not exist.
    assert!(!index.del(1, "nope", |e| events.push(e)));
    // A socket that is not registered.
    assert!(!index.del(3, "a", |e| events.push(e)));
    // Leaving twice.
    assert!(index.del(1, "a", |e| events.push(e)));
    assert!(!index.del(1, "a", |e| events.push(e)));
    assert_eq!(events, [ev(LeaveRoom, "a", 1), ev(DeleteRoom, "a", 1)]);
    assert_eq!(sockets_in(&index, "b"), [2]);
    assert!(!index.has_socket(3));
}

#[test]
fn leaving_the_last_room_keeps_the_socket_registered() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["s1"], |_| {});
    index.add_all(2, ["s2"], |_| {});
    index.del(1, "s1", |_| {});
    assert!(index.has_socket(1));
    assert_eq!(index.socket_count(), 2);
    assert_eq!(rooms_of(&index, 1), Some(vec![]));
    assert_eq!(targets(&index, &[], &[]), [1, 2]);
}

#[test]
fn del_all_leaves_every_room_in_join_order_and_unregisters() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["s1", "a", "b"], |_| {});
    index.add_all(2, ["s2", "a"], |_| {});
    let mut events = Vec::new();
    assert!(index.del_all(1, |e| events.push(e)));
    assert_eq!(
        events,
        [
            ev(LeaveRoom, "s1", 1),
            ev(DeleteRoom, "s1", 1),
            ev(LeaveRoom, "a", 1),
            ev(LeaveRoom, "b", 1),
            ev(DeleteRoom, "b", 1),
        ]
    );
    assert!(!index.has_socket(1));
    assert_eq!(index.rooms_of(1).map(|rooms| rooms.count()), None);
    assert_eq!(index.socket_count(), 1);
    assert_eq!(all_rooms(&index), ["a", "s2"]);
    assert_eq!(sockets_in(&index, "a"), [2]);
}

#[test]
fn del_all_of_an_unknown_socket_changes_nothing() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["a"], |_| {});
    let mut events = Vec::new();
    assert!(!index.del_all(2, |e| events.push(e)));
    assert!(index.del_all(1, |e| events.push(e)));
    events.clear();
    assert!(!index.del_all(1, |e| events.push(e)));
    assert_eq!(events, []);
    assert_eq!(index.socket_count(), 0);
    assert_eq!(index.room_count(), 0);
}

#[test]
fn del_all_of_a_socket_in_no_room_reports_nothing() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["a"], |_| {});
    index.del(1, "a", |_| {});
    let mut events = Vec::new();
    assert!(index.del_all(1, |e| events.push(e)));
    assert_eq!(events, []);
    assert!(!index.has_socket(1));
}

#[test]
fn rejoining_moves_to_the_end_of_every_order() {
    let mut index = RoomIndex::new();
    index.add_all(1, ["a", "b", "c"], |_| {});
    index.add_all(2, ["a"], |_| {});
    index.del(1, "a", |_| {});
    index.add_all(1, ["a"], |_| {});
    assert_eq!(joined(&index, 1), ["b", "c", "a"]);
    assert_eq!(sockets_in(&index, "a"), [2, 1]);
    // A room deleted and created again comes after the others.
    index.del(1, "b", |_| {});
    index.add_all(2, ["b"], |_| {});
    assert_eq!(all_rooms(&index), ["a", "c", "b"]);
    // A socket unregistered and registered again comes after the others.
    index.del_all(1, |_| {});
    index.add_all(3, ["c"], |_| {});
    index.add_all(1, ["c"], |_| {});
    assert_eq!(index.sockets().collect::<Vec<_>>(), [2, 3, 1]);
    assert_eq!(sockets_in(&index, "c"), [3, 1]);
}

#[test]
fn the_own_id_room_behaves_like_any_room() {
    let mut index = RoomIndex::new();
    let mut events = Vec::new();
    index.add_all(7, ["Xk3vZ0aQn1bYw2cT4dEf"], |e| events.push(e));
    // Another socket may join it.
    index.add_all(8, ["Xk3vZ0aQn1bYw2cT4dEf"], |e| events.push(e));
    index.del(7, "Xk3vZ0aQn1bYw2cT4dEf", |e| events.push(e));
    index.del_all(8, |e| events.push(e));
    assert_eq!(
        events,
        [
            ev(CreateRoom, "Xk3vZ0aQn1bYw2cT4dEf", 7),
            ev(JoinRoom, "Xk3vZ0aQn1bYw2cT4dEf", 7),
            ev(JoinRoom, "Xk3vZ0aQn1bYw2cT4dEf", 8),
            ev(LeaveRoom, "Xk3vZ0aQn1bYw2cT4dEf", 7),
            ev(LeaveRoom, "Xk3vZ0aQn1bYw2cT4dEf", 8),
            ev(DeleteRoom, "Xk3vZ0aQn1bYw2cT4dEf", 8),
        ]
    );
}

#[test]
fn event_names_are_the_reference_ones() {
    let names: Vec<_> = [CreateRoom, JoinRoom, LeaveRoom, DeleteRoom].map(|kind| kind.to_string()).into();
    assert_eq!(names, ["create-room", "join-room", "leave-room", "delete-room"]);
}

#[test]
fn no_rooms_reaches_every_socket_in_registration_order() {
    let mut index = RoomIndex::new();
    for key in [5, 3, 9, 1] {
        index.add_all(key, [format!("s{key}")], |_| {});
    }
    index.add_all(3, ["late"], |_| {});
    assert_eq!(targets(&index, &[], &[]), [5, 3, 9, 1]);
    assert_eq!(index.sockets().collect::<Vec<_>>(), [5, 3, 9, 1]);
    assert_eq!(index.sockets().len(), 4);
}

#[test]
fn one_room_reaches_its_members_in_join_order() {
    let mut index = with_own_rooms(5);
    for key in [4, 2, 5] {
        index.add_all(key, ["room"], |_| {});
    }
    assert_eq!(targets(&index, &["room"], &[]), [4, 2, 5]);
    assert_eq!(index.sockets_in("room").len(), 3);
}

#[test]
fn a_union_visits_each_socket_once_rooms_in_the_given_order() {
    let mut index = with_own_rooms(6);
    for (key, room) in [(1, "a"), (2, "a"), (3, "b"), (2, "b"), (4, "b"), (5, "c"), (1, "c")] {
        index.add_all(key, [room], |_| {});
    }
    assert_eq!(targets(&index, &["a", "b"], &[]), [1, 2, 3, 4]);
    assert_eq!(targets(&index, &["b", "a"], &[]), [3, 2, 4, 1]);
    assert_eq!(targets(&index, &["c", "b", "a"], &[]), [5, 1, 3, 2, 4]);
}

#[test]
fn a_room_named_twice_counts_once() {
    let mut index = with_own_rooms(3);
    index.add_all(1, ["a"], |_| {});
    index.add_all(3, ["a"], |_| {});
    assert_eq!(targets(&index, &["a", "a"], &[]), [1, 3]);
    assert_eq!(targets(&index, &["a", "nope", "a"], &[]), [1, 3]);
}

#[test]
fn rooms_that_do_not_exist_reach_nobody_and_exclude_nobody() {
    let index = with_own_rooms(3);
    assert_eq!(targets(&index, &["nope"], &[]), Vec::<u32>::new());
    assert_eq!(targets(&index, &["nope", "other"], &["s1"]), Vec::<u32>::new());
    assert_eq!(targets(&index, &["nope", "s2"], &[]), [2]);
    assert_eq!(targets(&index, &[], &["nope"]), [1, 2, 3]);
    assert_eq!(targets(&index, &["s3", "s1"], &["nope"]), [3, 1]);
}

#[test]
fn except_removes_the_members_of_every_except_room() {
    let mut index = with_own_rooms(6);
    for (key, room) in
        [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (2, "b"), (5, "b"), (3, "x"), (4, "x"), (6, "y")]
    {
        index.add_all(key, [room], |_| {});
    }
    // `socket.broadcast.emit`: everyone but the sender.
    assert_eq!(targets(&index, &[], &["s2"]), [1, 3, 4, 5, 6]);
    // `socket.to("a").emit`: the room but the sender.
    assert_eq!(targets(&index, &["a"], &["s1"]), [2, 3]);
    // Overlapping except rooms: 3 and 4 are in "x", 2 in "b" and "a".
    assert_eq!(targets(&index, &["a", "b"], &["x", "s2"]), [1, 5]);
    assert_eq!(targets(&index, &["a", "b"], &["x", "b"]), [1]);
    assert_eq!(targets(&index, &[], &["x", "a", "y"]), [5]);
    // An except room containing the whole target.
    assert_eq!(targets(&index, &["x"], &["a", "b"]), Vec::<u32>::new());
    // The same room to and except.
    assert_eq!(targets(&index, &["a"], &["a"]), Vec::<u32>::new());
}

#[test]
fn large_except_rooms_are_excluded_too() {
    // Except rooms with more members than fit on the stack, in an index of several bitset words.
    let mut index = with_own_rooms(300);
    for key in 1..=300 {
        if key % 3 == 0 {
            index.add_all(key, ["three"], |_| {});
        }
        if key % 5 == 0 {
            index.add_all(key, ["five"], |_| {});
        }
        if key % 2 == 0 {
            index.add_all(key, ["two"], |_| {});
        }
    }
    let everyone_but: Vec<u32> = (1..=300).filter(|key| key % 3 != 0).collect();
    assert_eq!(targets(&index, &[], &["three"]), everyone_but);
    let five_but: Vec<u32> = (1..=300).filter(|key| key % 5 == 0 && key % 3 != 0).collect();
    assert_eq!(targets(&index, &["five"], &["three"]), five_but);
    let union: Vec<u32> = (1..=300)
        .filter(|key| key % 5 == 0)
        .chain((1..=300).filter(|key| key % 3 == 0 && key % 5 != 0))
        .filter(|key| key % 2 != 0)
        .collect();
    assert_eq!(targets(&index, &["five", "three"], &["two"]), union);
    assert_eq!(targets(&index, &["s299", "s1", "s64", "s65", "s128"], &["s1"]), [299, 64, 65, 128]);
}

#[test]
fn a_scratch_serves_any_index_and_any_broadcast() {
    let small = with_own_rooms(3);
    let mut big = with_own_rooms(200);
    for key in 100..=200 {
        big.add_all(key, ["half"], |_| {});
    }
    let half = rooms(&["half"]);
    let s150 = rooms(&["s150", "s3"]);
    let s2 = rooms(&["s2", "s3"]);
    let mut scratch = TargetScratch::new();
    for _ in 0..2 {
        let mut reached = Vec::new();
        big.for_each_target_with(&BroadcastTarget::to(&s150).except(&half), &mut scratch, |k| {
            reached.push(k)
        });
        assert_eq!(reached, [3]);
        reached.clear();
        small.for_each_target_with(&BroadcastTarget::to(&s2), &mut scratch, |k| reached.push(k));
        assert_eq!(reached, [2, 3]);
        reached.clear();
        big.for_each_target_with(&BroadcastTarget::all().except(&half), &mut scratch, |k| reached.push(k));
        assert_eq!(reached, (1..100).collect::<Vec<_>>());
    }
}

#[test]
fn ten_thousand_sockets_in_a_hundred_rooms() {
    let mut index = RoomIndex::new();
    for key in 0..10_000u32 {
        index.add_all(key, [format!("s{key}"), format!("room{}", key % 100)], |_| {});
    }
    assert_eq!(index.socket_count(), 10_000);
    assert_eq!(index.room_count(), 10_100);
    assert_eq!(index.count_targets(&BroadcastTarget::all()), 10_000);
    let one = rooms(&["room7"]);
    let three = rooms(&["room1", "room2", "room3"]);
    let own = rooms(&["s7"]);
    assert_eq!(index.count_targets(&BroadcastTarget::to(&one)), 100);
    assert_eq!(index.count_targets(&BroadcastTarget::to(&one).except(&own)), 99);
    assert_eq!(index.count_targets(&BroadcastTarget::to(&three).except(&one)), 300);
    assert_eq!(index.count_targets(&BroadcastTarget::all().except(&three)), 9_700);
    for key in (0..10_000u32).step_by(2) {
        assert!(index.del_all(key, |_| {}));
    }
    assert_eq!(index.socket_count(), 5_000);
    assert_eq!(index.room_count(), 5_050);
    assert_eq!(
        index.collect_targets(&BroadcastTarget::to(&one)),
        (7..10_000).step_by(100).collect::<Vec<_>>()
    );
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<RoomIndex<u32>>();
    shareable::<TargetScratch>();
}

#[test]
fn debug_lists_rooms_and_sockets_in_order() {
    let mut index = RoomIndex::new();
    index.add_all(2, ["b", "a"], |_| {});
    index.add_all(1, ["a"], |_| {});
    assert_eq!(format!("{index:?}"), r#"RoomIndex { rooms: {"b": [2], "a": [2, 1]}, sockets: [2, 1] }"#);
}

/// The reference in-memory adapter written as plainly as possible: vectors in insertion order
/// (like JavaScript's `Map` and `Set`), linear searches, and sets for the broadcast filters.
#[derive(Default)]
struct Model {
    /// Socket → its rooms, both in insertion order.
    sids: Vec<(u32, Vec<String>)>,
    /// Room → its sockets, both in insertion order.
    rooms: Vec<(String, Vec<u32>)>,
}

type ModelEvent = (RoomEventKind, String, u32);

impl Model {
    fn socket_rooms(&self, key: u32) -> Option<&Vec<String>> {
        self.sids.iter().find(|(k, _)| *k == key).map(|(_, rooms)| rooms)
    }

    fn members(&self, room: &str) -> Option<&Vec<u32>> {
        self.rooms.iter().find(|(r, _)| r == room).map(|(_, members)| members)
    }

    fn add_all(&mut self, key: u32, rooms: &[String], events: &mut Vec<ModelEvent>) {
        if self.socket_rooms(key).is_none() {
            self.sids.push((key, Vec::new()));
        }
        for room in rooms {
            let sid = self.sids.iter_mut().find(|(k, _)| *k == key).expect("registered just above");
            if !sid.1.contains(room) {
                sid.1.push(room.clone());
            }
            if self.members(room).is_none() {
                self.rooms.push((room.clone(), Vec::new()));
                events.push((CreateRoom, room.clone(), key));
            }
            let members = &mut self.rooms.iter_mut().find(|(r, _)| r == room).expect("created just above").1;
            if !members.contains(&key) {
                members.push(key);
                events.push((JoinRoom, room.clone(), key));
            }
        }
    }

    fn del(&mut self, key: u32, room: &str, events: &mut Vec<ModelEvent>) -> bool {
        if let Some((_, rooms)) = self.sids.iter_mut().find(|(k, _)| *k == key) {
            rooms.retain(|r| r != room);
        }
        self.remove_member(room, key, events)
    }

    fn remove_member(&mut self, room: &str, key: u32, events: &mut Vec<ModelEvent>) -> bool {
        let Some(at) = self.rooms.iter().position(|(r, _)| r == room) else { return false };
        let members = &mut self.rooms[at].1;
        let Some(member_at) = members.iter().position(|k| *k == key) else { return false };
        members.remove(member_at);
        events.push((LeaveRoom, room.to_owned(), key));
        if members.is_empty() {
            self.rooms.remove(at);
            events.push((DeleteRoom, room.to_owned(), key));
        }
        true
    }

    fn del_all(&mut self, key: u32, events: &mut Vec<ModelEvent>) -> bool {
        let Some(at) = self.sids.iter().position(|(k, _)| *k == key) else { return false };
        let (_, rooms) = self.sids.remove(at);
        for room in rooms {
            self.remove_member(&room, key, events);
        }
        true
    }

    fn targets(&self, to: &[String], except: &[String]) -> Vec<u32> {
        let excluded: BTreeSet<u32> =
            except.iter().filter_map(|room| self.members(room)).flatten().copied().collect();
        let mut reached = Vec::new();
        if to.is_empty() {
            reached.extend(self.sids.iter().map(|(k, _)| *k).filter(|k| !excluded.contains(k)));
        } else {
            let mut seen = BTreeSet::new();
            for room in to {
                for &key in self.members(room).into_iter().flatten() {
                    if !excluded.contains(&key) && seen.insert(key) {
                        reached.push(key);
                    }
                }
            }
        }
        reached
    }
}

#[derive(Debug, Clone)]
enum Op {
    AddAll(u32, Vec<String>),
    Del(u32, String),
    DelAll(u32),
    Target(Vec<String>, Vec<String>),
}

const ROOM_NAMES: [&str; 10] = ["a", "b", "c", "d", "e", "f", "g", "s1", "s2", "s3"];

fn room_name() -> impl Strategy<Value = String> {
    proptest::sample::select(&ROOM_NAMES[..]).prop_map(str::to_owned)
}

fn op() -> impl Strategy<Value = Op> {
    // Enough keys for more than one bitset word, few enough rooms for crowded ones.
    let key = 0u32..100;
    prop_oneof![
        5 => (key.clone(), proptest::collection::vec(room_name(), 0..4)).prop_map(|(k, r)| Op::AddAll(k, r)),
        2 => (key.clone(), room_name()).prop_map(|(k, r)| Op::Del(k, r)),
        1 => key.prop_map(Op::DelAll),
        2 => (proptest::collection::vec(room_name(), 0..4), proptest::collection::vec(room_name(), 0..3))
            .prop_map(|(to, except)| Op::Target(to, except)),
    ]
}

fn assert_same(index: &RoomIndex<u32>, model: &Model, touched: u32) {
    assert_eq!(index.socket_count(), model.sids.len());
    assert_eq!(index.room_count(), model.rooms.len());
    assert_eq!(index.sockets().collect::<Vec<_>>(), model.sids.iter().map(|(k, _)| *k).collect::<Vec<_>>());
    assert_eq!(all_rooms(index), model.rooms.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>());
    for (key, rooms) in &model.sids {
        assert_eq!(rooms_of(index, *key).as_ref(), Some(rooms));
        for room in ROOM_NAMES {
            assert_eq!(index.is_member(*key, room), rooms.iter().any(|r| r == room));
        }
    }
    assert_eq!(rooms_of(index, touched).as_ref(), model.socket_rooms(touched));
    assert_eq!(index.has_socket(touched), model.socket_rooms(touched).is_some());
    for room in ROOM_NAMES {
        assert_eq!(index.has_room(room), model.members(room).is_some());
        assert_eq!(sockets_in(index, room), model.members(room).cloned().unwrap_or_default());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn behaves_like_the_reference_model(ops in proptest::collection::vec(op(), 1..300)) {
        let mut index = RoomIndex::new();
        let mut model = Model::default();
        let mut scratch = TargetScratch::new();
        for op in ops {
            let mut got = Vec::new();
            let mut expected = Vec::new();
            let mut record = |e: RoomEvent<u32>| got.push((e.kind, e.room.to_string(), e.key));
            let touched = match &op {
                Op::AddAll(key, rooms) => {
                    index.add_all(*key, rooms.iter().map(String::as_str), &mut record);
                    model.add_all(*key, rooms, &mut expected);
                    *key
                }
                Op::Del(key, room) => {
                    prop_assert_eq!(index.del(*key, room, &mut record), model.del(*key, room, &mut expected));
                    *key
                }
                Op::DelAll(key) => {
                    prop_assert_eq!(index.del_all(*key, &mut record), model.del_all(*key, &mut expected));
                    *key
                }
                Op::Target(to, except) => {
                    let to_rooms: Vec<Room> = to.iter().map(|r| Room::from(r.as_str())).collect();
                    let except_rooms: Vec<Room> = except.iter().map(|r| Room::from(r.as_str())).collect();
                    let target = BroadcastTarget::to(&to_rooms).except(&except_rooms);
                    let want = model.targets(to, except);
                    let mut reached = Vec::new();
                    index.for_each_target_with(&target, &mut scratch, |k| reached.push(k));
                    prop_assert_eq!(&reached, &want);
                    prop_assert_eq!(index.collect_targets(&target), want.clone());
                    prop_assert_eq!(index.count_targets(&target), want.len());
                    u32::MAX
                }
            };
            prop_assert_eq!(got, expected);
            assert_same(&index, &model, touched);
        }
        // Unregistering everyone empties the index.
        for key in 0..100 {
            index.del_all(key, |_| {});
        }
        prop_assert_eq!(index.socket_count(), 0);
        prop_assert_eq!(index.room_count(), 0);
        prop_assert_eq!(index.all_rooms().count(), 0);
    }
}
