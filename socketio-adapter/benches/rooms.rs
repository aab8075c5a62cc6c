//! Broadcast targeting over 10 000 sockets, each in its own room and in one of 100 rooms of
//! 100 members, for the shapes of broadcast a server sends most:
//!
//! * `all`: `io.emit` (every socket);
//! * `all_except_own`: `socket.broadcast.emit` (every socket but the sender);
//! * `one_room`: `io.to(room).emit`;
//! * `one_room_except_own`: `socket.to(room).emit`;
//! * `three_rooms`: `io.to([a, b, c]).emit` (a union);
//! * `three_rooms_except_room`: `io.to([a, b, c]).except(d).emit`, `d` overlapping `a`;
//! * `all_except_room`: `io.except(room).emit`.
//!
//! Each is measured through `for_each_target` (allocating its bitset when it needs one) and
//! through `for_each_target_with` and a kept `TargetScratch`. The visitor only sums keys.
//!
//! Run with `cargo bench -p socketio-adapter --bench rooms`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use socketio_adapter::{BroadcastTarget, Room, RoomIndex, TargetScratch};

const SOCKETS: u32 = 10_000;
const ROOMS: u32 = 100;

fn index() -> RoomIndex<u32> {
    let mut index = RoomIndex::new();
    for key in 0..SOCKETS {
        index.add_all(key, [format!("s{key}"), format!("room{}", key % ROOMS)], |_| {});
    }
    // A room overlapping `room1`: half of its members.
    for key in (1..SOCKETS).step_by(2 * ROOMS as usize) {
        index.add_all(key, ["overlap"], |_| {});
    }
    index
}

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|name| Room::from(*name)).collect()
}

fn targeting(c: &mut Criterion) {
    let index = index();
    let none = rooms(&[]);
    let own = rooms(&["s42"]);
    let one = rooms(&["room42"]);
    let three = rooms(&["room1", "room2", "room3"]);
    let overlap = rooms(&["overlap"]);
    let cases = [
        ("all", BroadcastTarget::to(&none)),
        ("all_except_own", BroadcastTarget::all().except(&own)),
        ("one_room", BroadcastTarget::to(&one)),
        ("one_room_except_own", BroadcastTarget::to(&one).except(&own)),
        ("three_rooms", BroadcastTarget::to(&three)),
        ("three_rooms_except_room", BroadcastTarget::to(&three).except(&overlap)),
        ("all_except_room", BroadcastTarget::all().except(&one)),
    ];
    let mut group = c.benchmark_group("for_each_target");
    let mut scratch = TargetScratch::new();
    for (name, target) in &cases {
        group.throughput(Throughput::Elements(index.count_targets(target) as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut sum = 0u64;
                index.for_each_target(black_box(target), |key| sum += u64::from(key));
                sum
            })
        });
        group.bench_function(format!("{name}/scratch"), |b| {
            b.iter(|| {
                let mut sum = 0u64;
                index.for_each_target_with(black_box(target), &mut scratch, |key| sum += u64::from(key));
                sum
            })
        });
    }
    group.finish();
}

fn churn(c: &mut Criterion) {
    let mut index = index();
    let mut group = c.benchmark_group("membership");
    // A socket connecting (own room and one shared room) and disconnecting.
    group.bench_function("connect_disconnect", |b| {
        b.iter(|| {
            index.add_all(SOCKETS, ["fresh-socket-id", "room7"], |event| {
                black_box(event);
            });
            index.del_all(SOCKETS, |event| {
                black_box(event);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, targeting, churn);
criterion_main!(benches);
