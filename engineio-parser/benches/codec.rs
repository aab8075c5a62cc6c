//! Engine.IO codec benchmarks.
//!
//! Every input is measured twice in one criterion group: through this crate (`ours`) and through
//! the closest Rust peer's published codec, `engineioxide-core` (`peer`), doing the same work:
//!
//! * decode: bytes as the transport hands them over (an already UTF-8-checked WebSocket text
//!   frame, or a raw polling body) → packets whose data is ready to hand to the Socket.IO layer;
//! * encode: packets → the bytes to write to the socket (a WebSocket frame, or a polling body).
//!   For one WebSocket frame, each side takes its real path to the connection's write buffer.
//!   Ours encodes the packet straight into that buffer (`Packet::encode_frame` into a `Vec` kept
//!   across iterations and cleared before each). The peer builds the frame's text as a `String`
//!   (`String::from(Packet)`), which its WebSocket crate (tungstenite) turns into `Bytes`,
//!   copies into its own write buffer (here a `Vec` kept the same way) and drops. `ours_to_frame`
//!   shows, for reference, our frame built in a buffer of its own (`Packet::to_frame`).
//!
//! Both sides run under `iter_batched`: every iteration gets a packet or an input of its own
//! (cheap clones: reference counts) and consumes it, so dropping it is timed on both sides,
//! while the dropping of the outputs stays outside the timing.
//!
//! Run with `cargo bench -p engineio-parser --bench codec`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use engineio_parser::{
    decode_payload, encode_payload, payload_len, ByteString, Packet, PayloadFormat, ProtocolVersion,
};
use engineioxide_core as peer;
use futures_util::{FutureExt, StreamExt};

/// A small Socket.IO event inside an Engine.IO `message`.
const EVENT: &str = r#"42["chat",{"a":1}]"#;

/// The number of packets in the polling payload.
const PAYLOAD_PACKETS: usize = 100;

/// Limit passed to both payload decoders; far above the inputs.
const MAX_PAYLOAD: usize = 1_000_000;

/// Heap-backed bytes, as a transport delivers them (not a `'static` slice, whose clones are free).
fn heap_bytes(data: &[u8]) -> Bytes {
    Bytes::from(data.to_vec())
}

fn ours_text(text: &str) -> ByteString {
    ByteString::try_from(heap_bytes(text.as_bytes())).expect("UTF-8")
}

fn packet_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("engineio/packet_decode");
    group.throughput(Throughput::Bytes(EVENT.len() as u64));

    let ours = ours_text(EVENT);
    let expected = Packet::message(&EVENT[1..]);
    assert_eq!(Packet::decode_text(ours.clone(), ProtocolVersion::V4), Ok(expected));
    group.bench_function("ours", |b| {
        b.iter_batched(
            || ours.clone(),
            |text| Packet::decode_text(black_box(text), ProtocolVersion::V4),
            BatchSize::SmallInput,
        )
    });

    let theirs = peer::Str::from(EVENT.to_owned());
    assert!(matches!(
        peer::Packet::parse(peer::ProtocolVersion::V4, theirs.clone()),
        Ok(peer::Packet::Message(m)) if *m == EVENT[1..]
    ));
    group.bench_function("peer", |b| {
        b.iter_batched(
            || theirs.clone(),
            |text| peer::Packet::parse(peer::ProtocolVersion::V4, black_box(text)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Our path from a packet to the connection's write buffer: one pass, no buffer of its own.
fn send_ours(packet: Packet, write_buf: &mut Vec<u8>) -> engineio_parser::FrameKind {
    write_buf.clear();
    packet.encode_frame(ProtocolVersion::V4, false, write_buf)
}

/// The peer's path: its codec writes the frame's text as a `String`; its WebSocket crate takes it
/// as `Bytes`, copies it into its write buffer and drops it.
fn send_peer(packet: peer::Packet, write_buf: &mut Vec<u8>) {
    let text = Bytes::from(String::from(packet));
    write_buf.clear();
    write_buf.extend_from_slice(&text);
}

fn packet_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("engineio/packet_encode");
    group.throughput(Throughput::Bytes(EVENT.len() as u64));
    let mut write_buf: Vec<u8> = Vec::with_capacity(1024);

    let ours = Packet::message(ours_text(&EVENT[1..]));
    assert_eq!(send_ours(ours.clone(), &mut write_buf), engineio_parser::FrameKind::Text);
    assert_eq!(write_buf, EVENT.as_bytes());
    group.bench_function("ours", |b| {
        b.iter_batched(
            || ours.clone(),
            |packet| send_ours(black_box(packet), &mut write_buf),
            BatchSize::SmallInput,
        )
    });
    assert_eq!(ours.to_frame(ProtocolVersion::V4, false), engineio_parser::Frame::Text(EVENT.into()));
    group.bench_function("ours_to_frame", |b| {
        b.iter_batched(
            || ours.clone(),
            |packet| black_box(packet).to_frame(ProtocolVersion::V4, false),
            BatchSize::SmallInput,
        )
    });

    let theirs = peer::Packet::Message(peer::Str::from(EVENT[1..].to_owned()));
    send_peer(theirs.clone(), &mut write_buf);
    assert_eq!(write_buf, EVENT.as_bytes());
    group.bench_function("peer", |b| {
        b.iter_batched(
            || theirs.clone(),
            |packet| send_peer(black_box(packet), &mut write_buf),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A v4 polling body of `PAYLOAD_PACKETS` messages, each a small event.
fn payload_body() -> Vec<u8> {
    let packets: Vec<String> = (0..PAYLOAD_PACKETS).map(|i| format!(r#"42["chat",{{"a":{i}}}]"#)).collect();
    packets.join("\x1e").into_bytes()
}

fn payload_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("engineio/payload_decode");
    let body = heap_bytes(&payload_body());
    group.throughput(Throughput::Bytes(body.len() as u64));

    let decode_ours = |body: Bytes| {
        decode_payload(body, PayloadFormat::V4, MAX_PAYLOAD)
            .map(|packets| packets.collect::<Result<Vec<Packet>, _>>())
    };
    assert_eq!(decode_ours(body.clone()).expect("in limit").expect("valid").len(), PAYLOAD_PACKETS);
    group.bench_function("ours", |b| {
        b.iter_batched(|| body.clone(), |body| decode_ours(black_box(body)), BatchSize::SmallInput)
    });

    // The peer reads an `http_body::Body`; a `Full` body is ready at once, so the stream never
    // waits and `now_or_never` drives it to the end.
    let decode_peer = |body: Bytes| {
        peer::payload::decoder(
            http_body_util::Full::new(body),
            None,
            peer::ProtocolVersion::V4,
            MAX_PAYLOAD as u64,
        )
        .collect::<Vec<Result<peer::Packet, peer::PacketParseError>>>()
        .now_or_never()
    };
    let decoded = decode_peer(body.clone()).expect("ready");
    assert_eq!(decoded.len(), PAYLOAD_PACKETS);
    assert!(decoded.iter().all(|p| matches!(p, Ok(peer::Packet::Message(_)))));
    group.bench_function("peer", |b| {
        b.iter_batched(|| body.clone(), |body| decode_peer(black_box(body)), BatchSize::SmallInput)
    });
    group.finish();
}

fn payload_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("engineio/payload_encode");
    let body = payload_body();
    group.throughput(Throughput::Bytes(body.len() as u64));

    let ours: Vec<Packet> = decode_payload(heap_bytes(&body), PayloadFormat::V4, MAX_PAYLOAD)
        .expect("in limit")
        .collect::<Result<_, _>>()
        .expect("valid");
    let encode_ours = |packets: &[Packet]| {
        let mut buf = Vec::with_capacity(payload_len(packets, PayloadFormat::V4));
        encode_payload(packets, PayloadFormat::V4, &mut buf);
        Bytes::from(buf)
    };
    assert_eq!(encode_ours(&ours), body);
    group.bench_function("ours", |b| {
        b.iter_batched(|| ours.clone(), |packets| encode_ours(black_box(&packets)), BatchSize::SmallInput)
    });

    // The peer's encoder drains a stream of packet buffers (one per packet, as each send queues
    // one) into a body.
    let theirs: Vec<peer::PacketBuf> = ours
        .iter()
        .map(|p| {
            let mut buf = peer::PacketBuf::new();
            buf.push(peer::Packet::Message(peer::Str::from(p.data_text().to_owned())));
            buf
        })
        .collect();
    let encode_peer = |queue: Vec<peer::PacketBuf>| {
        peer::payload::encoder(
            futures_util::stream::iter(queue),
            peer::ProtocolVersion::V4,
            true,
            MAX_PAYLOAD as u64,
        )
        .now_or_never()
        .map(|payload| payload.data)
    };
    assert_eq!(encode_peer(theirs.clone()).expect("ready"), body);
    group.bench_function("peer", |b| {
        b.iter_batched(|| theirs.clone(), |queue| encode_peer(black_box(queue)), BatchSize::SmallInput)
    });
    group.finish();
}

/// The text of a text packet, for building the peer's copy of the same packets.
trait DataText {
    fn data_text(&self) -> &str;
}

impl DataText for Packet {
    fn data_text(&self) -> &str {
        match &self.data {
            engineio_parser::Data::Text(t) => t,
            engineio_parser::Data::Binary(_) => unreachable!("the benchmark payload is text"),
        }
    }
}

criterion_group!(benches, packet_decode, packet_encode, payload_decode, payload_encode);
criterion_main!(benches);
