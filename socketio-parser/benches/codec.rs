//! Socket.IO codec benchmarks.
//!
//! Every input is measured in one criterion group through this crate (`ours`) and through the
//! closest Rust peer's published parsers, `socketioxide-parser-common` and
//! `socketioxide-parser-msgpack` (`peer`), doing the same work:
//!
//! * decode: Engine.IO message(s) in → a packet whose payload is validated and whose event can be
//!   dispatched. Our decoder validates the whole payload (JSON syntax, event name, placeholders)
//!   while decoding. The peer's decoders only split the header and keep the payload as unparsed
//!   text (or skip over the msgpack value); its server then calls `Parse::read_event`, which
//!   deserialises the event name and walks the rest of the array with `IgnoredAny`: that is where
//!   a malformed payload is first refused. So `peer` is `decode` + `read_event`, and
//!   `peer_decode_only` shows the split alone, for reference.
//! * encode: a packet whose payload is already serialised → the message(s) to hand to Engine.IO
//!   (the text part and the attachment list, or the msgpack bytes). Ours writes them where our
//!   server puts them, into a connection's write buffer (a `Vec` kept across iterations and
//!   cleared before each); the peer's parsers return them in a buffer of their own (`Value`).
//!   `ours_to_string` shows, for reference, our text part in a string of its own
//!   (`Packet::encode_to_string`). Both sides encode the same packet; on the main namespace each
//!   side's namespace is a static string.
//! * `event_ws_frame_*`: the same small event through both layers, from and to the WebSocket text
//!   frame `42[...]` that carries it, with `engineioxide-core` as the peer's Engine.IO layer. To
//!   send, ours writes `4` and the packet into the write buffer in one pass
//!   (`Packet::encode_message`); the peer encodes the packet, wraps the text in an Engine.IO
//!   `message`, writes that as a `String`, which its WebSocket crate (tungstenite) turns into
//!   `Bytes`, copies into its write buffer (a `Vec` kept the same way) and drops.
//!
//! Both sides run under `iter_batched`: every iteration gets a packet or an input of its own
//! (cheap clones: reference counts) and consumes it, so dropping it is timed on both sides,
//! while the dropping of the outputs stays outside the timing.
//!
//! Run with `cargo bench -p socketio-parser --features msgpack --bench codec`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use socketio_parser::{ByteString, Decoded, Decoder, Packet, Payload, RawJson};
use socketioxide_core::packet::{Packet as PeerPacket, PacketData};
use socketioxide_core::parser::{Parse, ParseConfig, ParseError, ParserState};
use socketioxide_core::{Str, Value};
use socketioxide_parser_common::CommonParser;

/// A small event on the main namespace.
const EVENT: &str = r#"2["chat",{"a":1}]"#;
const EVENT_ARGS: &str = r#"["chat",{"a":1}]"#;

/// The text part of an event with one binary attachment.
const BINARY_HEADER: &str = r#"51-["bin",{"_placeholder":true,"num":0}]"#;
const BINARY_ARGS: &str = r#"["bin",{"_placeholder":true,"num":0}]"#;
const ATTACHMENT_LEN: usize = 64 * 1024;

/// Heap-backed bytes, as a transport delivers them (not a `'static` slice, whose clones are free).
fn heap_bytes(data: &[u8]) -> Bytes {
    Bytes::from(data.to_vec())
}

fn ours_text(text: &str) -> ByteString {
    ByteString::try_from(heap_bytes(text.as_bytes())).expect("UTF-8")
}

fn peer_text(text: &str) -> Str {
    Str::from(text.to_owned())
}

/// The main namespace as a static string, as the peer's `PeerPacket::event("/", ..)` holds it.
const MAIN: ByteString = ByteString::from_static("/");

fn attachment() -> Bytes {
    heap_bytes(&(0..ATTACHMENT_LEN).map(|i| i as u8).collect::<Vec<u8>>())
}

/// What the peer's server does with a text message before it can dispatch an event.
fn peer_receive_text(state: &ParserState, config: &ParseConfig, text: Str) -> Result<PeerPacket, ParseError> {
    let packet = CommonParser.decode_str(config, state, text)?;
    read_event(CommonParser, packet)
}

fn read_event(parser: impl Parse, packet: PeerPacket) -> Result<PeerPacket, ParseError> {
    if let PacketData::Event(value, _) | PacketData::BinaryEvent(value, _) = &packet.inner {
        parser.read_event(value).map_err(ParseError::ParserError)?;
    }
    Ok(packet)
}

fn event_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio/event_decode");
    group.throughput(Throughput::Bytes(EVENT.len() as u64));

    let ours = ours_text(EVENT);
    let mut decoder = Decoder::default();
    let expected = Packet::event("/", RawJson::new(EVENT_ARGS).expect("JSON"), Vec::new(), None);
    assert_eq!(decoder.decode_text(ours.clone()), Ok(Decoded::Complete(expected)));
    group.bench_function("ours", |b| {
        b.iter_batched(|| ours.clone(), |text| decoder.decode_text(black_box(text)), BatchSize::SmallInput)
    });

    let theirs = peer_text(EVENT);
    let (config, state) = (ParseConfig::default(), ParserState::default());
    let packet = peer_receive_text(&state, &config, theirs.clone()).expect("valid");
    assert!(matches!(packet.inner, PacketData::Event(Value::Str(ref s, None), None) if **s == *EVENT_ARGS));
    group.bench_function("peer", |b| {
        b.iter_batched(
            || theirs.clone(),
            |text| peer_receive_text(&state, &config, black_box(text)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("peer_decode_only", |b| {
        b.iter_batched(
            || theirs.clone(),
            |text| CommonParser.decode_str(&config, &state, black_box(text)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn event_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio/event_encode");
    group.throughput(Throughput::Bytes(EVENT.len() as u64));
    let mut write_buf: Vec<u8> = Vec::with_capacity(1024);

    let ours = Packet::event(MAIN, RawJson::new(ours_text(EVENT_ARGS)).expect("JSON"), Vec::new(), None);
    let send_ours = |packet: Packet, write_buf: &mut Vec<u8>| {
        write_buf.clear();
        packet.encode(write_buf);
    };
    send_ours(ours.clone(), &mut write_buf);
    assert_eq!(write_buf, EVENT.as_bytes());
    group.bench_function("ours", |b| {
        b.iter_batched(
            || ours.clone(),
            |packet| send_ours(black_box(packet), &mut write_buf),
            BatchSize::SmallInput,
        )
    });
    assert_eq!(&*ours.encode_to_string(), EVENT);
    group.bench_function("ours_to_string", |b| {
        b.iter_batched(|| ours.clone(), |packet| black_box(packet).encode_to_string(), BatchSize::SmallInput)
    });

    let theirs = PeerPacket::event("/", Value::Str(peer_text(EVENT_ARGS), None));
    assert!(matches!(CommonParser.encode(theirs.clone()), Value::Str(s, None) if *s == *EVENT));
    group.bench_function("peer", |b| {
        b.iter_batched(
            || theirs.clone(),
            |packet| CommonParser.encode(black_box(packet)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The small event as the WebSocket text frame that carries it: an Engine.IO `message`.
const EVENT_FRAME: &str = r#"42["chat",{"a":1}]"#;

/// Receiving an event from a WebSocket text frame, Engine.IO layer included: the frame is
/// decoded as an Engine.IO packet, then its text as a Socket.IO packet.
fn event_frame_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio/event_ws_frame_decode");
    group.throughput(Throughput::Bytes(EVENT_FRAME.len() as u64));

    let ours = ours_text(EVENT_FRAME);
    let mut decoder = Decoder::default();
    let mut receive_ours = |frame: ByteString| {
        let packet =
            engineio_parser::Packet::decode_text(frame, engineio_parser::ProtocolVersion::V4).ok()?;
        match packet.data {
            engineio_parser::Data::Text(text) => decoder.decode_text(text).ok(),
            engineio_parser::Data::Binary(data) => decoder.decode_binary(data).ok(),
        }
    };
    let expected = Packet::event("/", RawJson::new(EVENT_ARGS).expect("JSON"), Vec::new(), None);
    assert_eq!(receive_ours(ours.clone()), Some(Decoded::Complete(expected)));
    group.bench_function("ours", |b| {
        b.iter_batched(|| ours.clone(), |frame| receive_ours(black_box(frame)), BatchSize::SmallInput)
    });

    let theirs = peer_text(EVENT_FRAME);
    let (config, state) = (ParseConfig::default(), ParserState::default());
    let receive_peer =
        |frame: Str| match engineioxide_core::Packet::parse(engineioxide_core::ProtocolVersion::V4, frame) {
            Ok(engineioxide_core::Packet::Message(text)) => peer_receive_text(&state, &config, text),
            _ => Err(ParseError::InvalidPacketType),
        };
    assert!(matches!(receive_peer(theirs.clone()), Ok(PeerPacket { inner: PacketData::Event(..), .. })));
    group.bench_function("peer", |b| {
        b.iter_batched(|| theirs.clone(), |frame| receive_peer(black_box(frame)), BatchSize::SmallInput)
    });
    group.finish();
}

/// Sending an event as a WebSocket text frame, Engine.IO layer included, into the connection's
/// write buffer. We write the Engine.IO type and the Socket.IO packet into the buffer in one
/// pass; the peer encodes the Socket.IO packet, wraps the text in an Engine.IO `message` and
/// encodes that as a `String`, which its WebSocket crate copies into its write buffer.
fn event_frame_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio/event_ws_frame_encode");
    group.throughput(Throughput::Bytes(EVENT_FRAME.len() as u64));
    let mut write_buf: Vec<u8> = Vec::with_capacity(1024);

    let ours = Packet::event(MAIN, RawJson::new(ours_text(EVENT_ARGS)).expect("JSON"), Vec::new(), None);
    let send_ours = |packet: Packet, write_buf: &mut Vec<u8>| {
        write_buf.clear();
        packet.encode_message(write_buf);
    };
    send_ours(ours.clone(), &mut write_buf);
    assert_eq!(write_buf, EVENT_FRAME.as_bytes());
    group.bench_function("ours", |b| {
        b.iter_batched(
            || ours.clone(),
            |packet| send_ours(black_box(packet), &mut write_buf),
            BatchSize::SmallInput,
        )
    });

    let theirs = PeerPacket::event("/", Value::Str(peer_text(EVENT_ARGS), None));
    let send_peer = |packet: PeerPacket, write_buf: &mut Vec<u8>| {
        let Value::Str(text, _) = CommonParser.encode(packet) else {
            return;
        };
        let frame = Bytes::from(String::from(engineioxide_core::Packet::Message(text)));
        write_buf.clear();
        write_buf.extend_from_slice(&frame);
    };
    send_peer(theirs.clone(), &mut write_buf);
    assert_eq!(write_buf, EVENT_FRAME.as_bytes());
    group.bench_function("peer", |b| {
        b.iter_batched(
            || theirs.clone(),
            |packet| send_peer(black_box(packet), &mut write_buf),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn binary_event_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio/binary_event_decode");
    group.throughput(Throughput::Bytes((BINARY_HEADER.len() + ATTACHMENT_LEN) as u64));
    let data = attachment();

    let header = ours_text(BINARY_HEADER);
    let mut decoder = Decoder::default();
    let mut receive_ours = |header: ByteString, data: Bytes| {
        match decoder.decode_text(header) {
            Ok(Decoded::NeedsAttachments { .. }) => {}
            other => return other,
        }
        decoder.decode_binary(data)
    };
    let expected = Packet::event("/", RawJson::new(BINARY_ARGS).expect("JSON"), vec![data.clone()], None);
    assert_eq!(receive_ours(header.clone(), data.clone()), Ok(Decoded::Complete(expected)));
    group.bench_function("ours", |b| {
        b.iter_batched(
            || (header.clone(), data.clone()),
            |(header, data)| receive_ours(black_box(header), black_box(data)),
            BatchSize::SmallInput,
        )
    });

    let theirs = peer_text(BINARY_HEADER);
    let (config, state) = (ParseConfig::default(), ParserState::default());
    let receive_peer = |header: Str, data: Bytes, validate: bool| {
        match CommonParser.decode_str(&config, &state, header) {
            Err(ParseError::NeedsMoreBinaryData) => {}
            other => return other,
        }
        let packet = CommonParser.decode_bin(&config, &state, data)?;
        if validate {
            read_event(CommonParser, packet)
        } else {
            Ok(packet)
        }
    };
    let packet = receive_peer(theirs.clone(), data.clone(), true).expect("valid");
    assert!(matches!(
        packet.inner,
        PacketData::BinaryEvent(Value::Str(ref s, Some(ref bins)), None) if **s == *BINARY_ARGS && bins[0] == data
    ));
    group.bench_function("peer", |b| {
        b.iter_batched(
            || (theirs.clone(), data.clone()),
            |(header, data)| receive_peer(black_box(header), black_box(data), true),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("peer_decode_only", |b| {
        b.iter_batched(
            || (theirs.clone(), data.clone()),
            |(header, data)| receive_peer(black_box(header), black_box(data), false),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn binary_event_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio/binary_event_encode");
    group.throughput(Throughput::Bytes((BINARY_HEADER.len() + ATTACHMENT_LEN) as u64));
    let data = attachment();
    let mut write_buf: Vec<u8> = Vec::with_capacity(1024);

    let ours =
        Packet::event(MAIN, RawJson::new(ours_text(BINARY_ARGS)).expect("JSON"), vec![data.clone()], None);
    // The text part goes into the write buffer; the attachments are sent as they are.
    let send_ours = |packet: Packet, write_buf: &mut Vec<u8>| {
        write_buf.clear();
        packet.encode(write_buf);
        match packet.data {
            Some(Payload::Json { attachments, .. }) => attachments,
            _ => Vec::new(),
        }
    };
    let attachments = send_ours(ours.clone(), &mut write_buf);
    assert_eq!((&write_buf[..], &attachments[..]), (BINARY_HEADER.as_bytes(), &[data.clone()][..]));
    group.bench_function("ours", |b| {
        b.iter_batched(
            || ours.clone(),
            |packet| send_ours(black_box(packet), &mut write_buf),
            BatchSize::SmallInput,
        )
    });
    let to_string = |packet: Packet| {
        let text = packet.encode_to_string();
        let attachments = match packet.data {
            Some(Payload::Json { attachments, .. }) => attachments,
            _ => Vec::new(),
        };
        (text, attachments)
    };
    let (text, attachments) = to_string(ours.clone());
    assert_eq!((&*text, &attachments[..]), (BINARY_HEADER, &[data.clone()][..]));
    group.bench_function("ours_to_string", |b| {
        b.iter_batched(|| ours.clone(), |packet| to_string(black_box(packet)), BatchSize::SmallInput)
    });

    let theirs = PeerPacket::event("/", Value::Str(peer_text(BINARY_ARGS), Some(vec![data.clone()].into())));
    assert!(matches!(
        CommonParser.encode(theirs.clone()),
        Value::Str(s, Some(bins)) if *s == *BINARY_HEADER && bins[0] == data
    ));
    group.bench_function("peer", |b| {
        b.iter_batched(
            || theirs.clone(),
            |packet| CommonParser.encode(black_box(packet)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

#[cfg(feature = "msgpack")]
mod msgpack {
    use super::*;
    use socketio_parser::msgpack::{decode, encode, encode_to_bytes};
    use socketio_parser::{DecoderConfig, PacketType};
    use socketioxide_parser_msgpack::MsgPackParser;

    /// `{type:2, data:["chat",{"a":1}], nsp:"/"}`, as the reference (`socket.io-msgpack-parser`)
    /// writes it.
    fn event_bytes() -> Vec<u8> {
        let mut out = vec![0x83];
        out.extend_from_slice(b"\xa4type\x02");
        out.extend_from_slice(b"\xa4data\x92\xa4chat\x81\xa1a\x01");
        out.extend_from_slice(b"\xa3nsp\xa1/");
        out
    }

    fn receive_peer(data: Bytes) -> Result<PeerPacket, ParseError> {
        let packet = MsgPackParser.decode_bin(&ParseConfig::default(), &ParserState::default(), data)?;
        read_event(MsgPackParser, packet)
    }

    pub(crate) fn event_decode(c: &mut Criterion) {
        let mut group = c.benchmark_group("socketio/msgpack_event_decode");
        let input = heap_bytes(&event_bytes());
        group.throughput(Throughput::Bytes(input.len() as u64));

        let config = DecoderConfig::default();
        let packet = decode(input.clone(), &config).expect("valid");
        assert_eq!((packet.kind, &*packet.nsp, packet.id), (PacketType::Event, "/", None));
        group.bench_function("ours", |b| {
            b.iter_batched(|| input.clone(), |data| decode(black_box(data), &config), BatchSize::SmallInput)
        });

        let packet = receive_peer(input.clone()).expect("valid");
        assert!(matches!(packet.inner, PacketData::Event(Value::Bytes(_), None)));
        group.bench_function("peer", |b| {
            b.iter_batched(|| input.clone(), |data| receive_peer(black_box(data)), BatchSize::SmallInput)
        });
        let (peer_config, state) = (ParseConfig::default(), ParserState::default());
        group.bench_function("peer_decode_only", |b| {
            b.iter_batched(
                || input.clone(),
                |data| MsgPackParser.decode_bin(&peer_config, &state, black_box(data)),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }

    pub(crate) fn event_encode(c: &mut Criterion) {
        let mut group = c.benchmark_group("socketio/msgpack_event_encode");
        let bytes = event_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        let mut write_buf: Vec<u8> = Vec::with_capacity(1024);

        let ours = decode(heap_bytes(&bytes), &DecoderConfig::default()).expect("valid");
        let send_ours = |packet: Packet, write_buf: &mut Vec<u8>| {
            write_buf.clear();
            encode(&packet, write_buf);
        };
        send_ours(ours.clone(), &mut write_buf);
        assert_eq!(write_buf, bytes);
        group.bench_function("ours", |b| {
            b.iter_batched(
                || ours.clone(),
                |packet| send_ours(black_box(packet), &mut write_buf),
                BatchSize::SmallInput,
            )
        });
        assert_eq!(encode_to_bytes(&ours), bytes);
        group.bench_function("ours_to_bytes", |b| {
            b.iter_batched(
                || ours.clone(),
                |packet| encode_to_bytes(&black_box(packet)),
                BatchSize::SmallInput,
            )
        });

        // The peer writes the keys in another order (`type`, `nsp`, `data`): the same map. Its
        // decoder copies the namespace; here it is a static string, as ours is.
        let mut theirs = receive_peer(heap_bytes(&bytes)).expect("valid");
        theirs.ns = Str::from("/");
        let Value::Bytes(written) = MsgPackParser.encode(theirs.clone()) else {
            panic!("msgpack packets are binary")
        };
        assert_eq!(written.len(), bytes.len());
        assert_eq!(decode(written, &DecoderConfig::default()), Ok(ours));
        group.bench_function("peer", |b| {
            b.iter_batched(
                || theirs.clone(),
                |packet| MsgPackParser.encode(black_box(packet)),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

#[cfg(not(feature = "msgpack"))]
criterion_group!(
    benches,
    event_decode,
    event_encode,
    event_frame_decode,
    event_frame_encode,
    binary_event_decode,
    binary_event_encode
);
#[cfg(feature = "msgpack")]
criterion_group!(
    benches,
    event_decode,
    event_encode,
    event_frame_decode,
    event_frame_encode,
    binary_event_decode,
    binary_event_encode,
    msgpack::event_decode,
    msgpack::event_encode
);
criterion_main!(benches);
