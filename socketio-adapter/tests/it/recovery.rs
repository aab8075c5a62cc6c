//! Connection state recovery in the in-memory adapter, on simulated time: offsets, kept
//! packets, persisted sessions, restore and expiry.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socketio_adapter::{
    Adapter, BroadcastFlags, BroadcastOptions, Clock, LocalSocket, MemoryAdapter, PersistedSession,
    RecoveryOptions, Room, Sid, SocketDetails,
};
use socketio_parser::{Packet, Payload, RawJson};

#[derive(Clone)]
struct Quiet(Sid);

impl LocalSocket for Quiet {
    type Encoded = ();
    type AckSink = ();

    fn id(&self) -> &Sid {
        &self.0
    }

    fn send(&self, _: &(), _: &BroadcastFlags, _: Option<&()>) -> bool {
        true
    }

    fn disconnect(&self, _: bool) {}

    fn details(&self) -> SocketDetails {
        SocketDetails {
            id: self.0.clone(),
            handshake: serde_json::json!({}),
            rooms: Vec::new(),
            data: serde_json::Value::Null,
        }
    }
}

/// Simulated time, in milliseconds.
#[derive(Clone, Default)]
struct Time(Arc<AtomicU64>);

impl Time {
    fn clock(&self) -> Clock {
        let now = self.0.clone();
        Arc::new(move || Duration::from_millis(now.load(Ordering::SeqCst)))
    }

    fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

fn adapter(time: &Time, options: RecoveryOptions) -> MemoryAdapter<Quiet> {
    MemoryAdapter::with_recovery(options, time.clock())
}

/// Broadcasts `["ev", text]` to `opts` with the next offset, as the server does; answers the
/// offset.
fn send(adapter: &MemoryAdapter<Quiet>, text: &str, opts: &BroadcastOptions) -> String {
    let offset = adapter.next_offset().expect("the adapter keeps packets");
    let json = RawJson::new(format!(r#"["ev","{text}"]"#)).unwrap();
    let payload = Payload::json(json).with_string_item(&offset).unwrap();
    let packet =
        Packet { data: Some(payload), ..Packet::event("/", RawJson::new("[]").unwrap(), Vec::new(), None) };
    adapter.broadcast_recoverable(offset.clone(), &packet, &(), opts);
    offset.to_string()
}

fn texts(packets: &[Packet]) -> Vec<String> {
    packets
        .iter()
        .map(|p| socketio_parser::from_args::<(String,)>(p.data.as_ref().unwrap()).unwrap().0)
        .collect()
}

fn session(sid: &str, pid: &str, rooms: &[&str]) -> PersistedSession {
    PersistedSession {
        sid: sid.into(),
        pid: pid.into(),
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        data: serde_json::json!({"n": 1}),
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    // The in-memory adapter's futures are ready at once.
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    match f.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the in-memory adapter never waits"),
    }
}

#[test]
fn a_plain_memory_adapter_keeps_nothing() {
    let plain = MemoryAdapter::<Quiet>::new();
    assert_eq!(plain.next_offset(), None);
    plain.persist_session(session("s1", "p1", &["s1"]));
    assert_eq!(block_on(plain.restore_session("p1", "1")), None);
}

#[test]
fn offsets_are_distinct_and_increasing() {
    let time = Time::default();
    let a = adapter(&time, RecoveryOptions::default());
    let offsets: Vec<String> = (0..100).map(|_| a.next_offset().unwrap().to_string()).collect();
    let mut sorted = offsets.clone();
    sorted.sort_by_key(|o| u64::from_str_radix(o, 16).unwrap());
    sorted.dedup();
    assert_eq!(sorted, offsets);
}

#[test]
fn restores_the_session_with_the_packets_its_rooms_missed() {
    let time = Time::default();
    let a = adapter(&time, RecoveryOptions::default());
    let last_seen = send(&a, "seen", &BroadcastOptions::all());
    a.persist_session(session("s1", "p1", &["s1", "news"]));
    send(&a, "to all", &BroadcastOptions::all());
    send(&a, "to news", &BroadcastOptions::to([Room::from("news")]));
    send(&a, "to sports", &BroadcastOptions::to([Room::from("sports")]));
    send(&a, "to me", &BroadcastOptions::socket(&Sid::from("s1")));
    let mut except_news = BroadcastOptions::all();
    except_news.except.push(Room::from("news"));
    send(&a, "all but news", &except_news);
    time.advance(60_000);

    let restored = block_on(a.restore_session("p1", &last_seen)).expect("restored");
    assert_eq!(restored.session, session("s1", "p1", &["s1", "news"]));
    assert_eq!(texts(&restored.missed), ["to all", "to news", "to me"]);
    // The offset travels as the last argument.
    let last = restored.missed.last().unwrap().json().unwrap().as_str().to_owned();
    assert!(last.starts_with(r#"["ev","to me",""#), "{last}");
    // Restored once: a second attempt gets a new session.
    assert_eq!(block_on(a.restore_session("p1", &last_seen)), None);
}

#[test]
fn unknown_pids_and_offsets_restore_nothing() {
    let time = Time::default();
    let a = adapter(&time, RecoveryOptions::default());
    let seen = send(&a, "seen", &BroadcastOptions::all());
    a.persist_session(session("s1", "p1", &["s1"]));
    assert_eq!(block_on(a.restore_session("p2", &seen)), None);
    assert_eq!(block_on(a.restore_session("p1", "ffff")), None);
    assert_eq!(block_on(a.restore_session("p1", "MzUPkW0")), None);
    assert!(block_on(a.restore_session("p1", &seen)).is_some());
}

#[test]
fn sessions_and_packets_expire_after_the_max_disconnection_duration() {
    let time = Time::default();
    let options =
        RecoveryOptions { max_disconnection_duration: Duration::from_secs(120), ..Default::default() };
    let a = adapter(&time, options);
    let seen = send(&a, "seen", &BroadcastOptions::all());
    a.persist_session(session("s1", "p1", &["s1"]));
    time.advance(120_001);
    assert_eq!(block_on(a.restore_session("p1", &seen)), None, "the session expired");

    // A fresh session, but its offset's packet has expired in the meantime.
    let old = send(&a, "old", &BroadcastOptions::all());
    time.advance(100_000);
    send(&a, "newer", &BroadcastOptions::all());
    a.persist_session(session("s2", "p2", &["s2"]));
    time.advance(30_000);
    // Keeping a packet drops those older than the duration.
    send(&a, "latest", &BroadcastOptions::all());
    assert_eq!(block_on(a.restore_session("p2", &old)), None, "the offset's packet expired");
}

#[test]
fn the_packet_and_session_limits_drop_the_oldest() {
    let time = Time::default();
    let options = RecoveryOptions { max_packets: 3, max_sessions: 2, ..Default::default() };
    let a = adapter(&time, options);
    let first = send(&a, "1", &BroadcastOptions::all());
    let second = send(&a, "2", &BroadcastOptions::all());
    a.persist_session(session("s1", "p1", &["s1"]));
    send(&a, "3", &BroadcastOptions::all());
    send(&a, "4", &BroadcastOptions::all());
    assert_eq!(block_on(a.restore_session("p1", &first)), None, "packet 1 was dropped");
    a.persist_session(session("s1", "p1", &["s1"]));
    let restored = block_on(a.restore_session("p1", &second)).expect("packet 2 is kept");
    assert_eq!(texts(&restored.missed), ["3", "4"]);

    for i in 0..3 {
        a.persist_session(session(&format!("s{i}"), &format!("p{i}"), &[]));
    }
    let latest = send(&a, "5", &BroadcastOptions::all());
    assert_eq!(block_on(a.restore_session("p0", &latest)), None, "the oldest session was dropped");
    assert!(block_on(a.restore_session("p1", &latest)).is_some());
    assert!(block_on(a.restore_session("p2", &latest)).is_some());
}
