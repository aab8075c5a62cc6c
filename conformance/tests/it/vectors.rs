//! Replays every protocol vector of `vectors/` against `engineio-parser` and `socketio-parser`.
//!
//! Each test walks one layer, checks every vector, and fails with the list of the vectors that
//! disagree (name, source, and what differed). The schema is in `vectors/README.md`.

use std::sync::OnceLock;

use conformance::{
    variant_name, EngineData, EnginePacket, EnginePacketVector, EnginePayloadVector, Frame, Layer,
    MsgPackVector, PacketExpect, PayloadFormat, SocketPacket, SocketVector, Suite, Vector,
    DEFAULT_MAX_PAYLOAD,
};
use engineio_parser as eio;
use socketio_parser as sio;

/// The suite may grow, never silently shrink below this.
const MIN_VECTORS: usize = 150;

fn suite() -> &'static Suite {
    static SUITE: OnceLock<Suite> = OnceLock::new();
    SUITE.get_or_init(|| Suite::load().unwrap_or_else(|e| panic!("cannot load the vectors: {e}")))
}

/// Runs `check` on every vector of a layer and fails with every disagreement.
fn replay<V: Vector>(layer: Layer, vectors: &[V], check: impl Fn(&V) -> Result<(), String>) {
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|v| {
            check(v).err().map(|why| format!("- {}\n    {}", v.describe(), why.replace('\n', "\n    ")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of the {} `{layer}` vectors disagree with the parser:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

fn input_bytes(data: &conformance::Data) -> Result<Vec<u8>, String> {
    data.bytes().map_err(|e| e.0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Compares an expected error name with the outcome.
fn expect_error<T: std::fmt::Debug, E: std::fmt::Debug>(
    expected: &str,
    got: Result<T, E>,
) -> Result<(), String> {
    match got {
        Err(e) if variant_name(&e) == expected => Ok(()),
        Err(e) => Err(format!("expected error {expected}, got error {e:?}")),
        Ok(value) => Err(format!("expected error {expected}, got {value:?}")),
    }
}

#[test]
fn the_suite_holds_enough_vectors() {
    let suite = suite();
    let counts: Vec<String> = suite.counts().iter().map(|(layer, n)| format!("{layer}: {n}")).collect();
    assert!(
        suite.len() >= MIN_VECTORS,
        "only {} vectors ({}), at least {MIN_VECTORS} expected",
        suite.len(),
        counts.join(", ")
    );
    for (layer, n) in suite.counts() {
        assert!(n > 0, "the `{layer}` layer has no vector");
    }
}

// ---------------------------------------------------------------------------------------------
// Engine.IO

fn eio_version(version: u8) -> eio::ProtocolVersion {
    if version == 3 {
        eio::ProtocolVersion::V3
    } else {
        eio::ProtocolVersion::V4
    }
}

fn same_engine_packet(expected: &EnginePacket, got: &eio::Packet) -> Result<(), String> {
    let data = expected.data().map_err(|e| e.0)?;
    let same = expected.kind == got.kind.name()
        && match (&data, &got.data) {
            (EngineData::Text(t), eio::Data::Text(g)) => t.as_str() == &**g,
            (EngineData::Binary(b), eio::Data::Binary(g)) => b[..] == g[..],
            _ => false,
        };
    if same {
        Ok(())
    } else {
        Err(format!("expected {expected:?}, got {got:?}"))
    }
}

fn check_engine_packet(v: &EnginePacketVector) -> Result<(), String> {
    let version = eio_version(v.version);
    let input = input_bytes(&v.input)?;
    let decoded = match v.frame {
        Frame::Text => {
            let text = eio::ByteString::try_from(eio::Bytes::from(input.clone()))
                .map_err(|_| "a text frame must be UTF-8".to_owned())?;
            eio::Packet::decode_text(text, version)
        }
        Frame::Binary => eio::Packet::decode_binary(eio::Bytes::from(input.clone()), version),
    };
    let expected = match &v.expect {
        PacketExpect::Error(name) => return expect_error(name, decoded),
        PacketExpect::Packet(p) => p,
    };
    let packet = decoded.map_err(|e| format!("expected {expected:?}, got error {e:?}"))?;
    same_engine_packet(expected, &packet)?;
    if v.canonical() {
        let mut out = Vec::new();
        let base64 = v.frame == Frame::Text && packet.is_binary();
        let kind = packet.encode_frame(version, base64, &mut out);
        let expected_kind = match v.frame {
            Frame::Text => eio::FrameKind::Text,
            Frame::Binary => eio::FrameKind::Binary,
        };
        if kind != expected_kind || out != input {
            return Err(format!(
                "not canonical: re-encoded as a {kind:?} frame {:?} ({})",
                String::from_utf8_lossy(&out),
                hex(&out)
            ));
        }
    }
    Ok(())
}

fn check_engine_payload(v: &EnginePayloadVector) -> Result<(), String> {
    let format = match v.format {
        PayloadFormat::V4 => eio::PayloadFormat::V4,
        PayloadFormat::V3Text => eio::PayloadFormat::V3Text,
        PayloadFormat::V3Binary => eio::PayloadFormat::V3Binary,
    };
    let input = input_bytes(&v.input)?;
    let max = v.max_payload.unwrap_or(DEFAULT_MAX_PAYLOAD);
    let mut packets = Vec::new();
    let mut error = None;
    match eio::decode_payload(eio::Bytes::from(input.clone()), format, max) {
        Err(e) => error = Some(e),
        Ok(iter) => {
            for item in iter {
                match item {
                    Ok(p) => packets.push(p),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
    }
    let outcome = || format!("got packets {packets:?} and error {error:?}");
    if packets.len() != v.expect.packets.len() {
        return Err(format!(
            "expected {} packets and error {:?}, {}",
            v.expect.packets.len(),
            v.expect.error,
            outcome()
        ));
    }
    for (i, (expected, got)) in v.expect.packets.iter().zip(&packets).enumerate() {
        same_engine_packet(expected, got).map_err(|e| format!("packet {i}: {e}"))?;
    }
    match (&v.expect.error, &error) {
        (None, None) => {}
        (Some(name), Some(e)) if variant_name(e) == *name => {}
        (expected, _) => return Err(format!("expected error {expected:?}, {}", outcome())),
    }
    if v.canonical() {
        let mut out = Vec::new();
        eio::encode_payload(&packets, format, &mut out);
        if out != input {
            return Err(format!(
                "not canonical: re-encoded as {:?} ({})",
                String::from_utf8_lossy(&out),
                hex(&out)
            ));
        }
    }
    Ok(())
}

#[test]
fn engineio_packets_decode_as_the_vectors_say() {
    replay(Layer::EngineIoPacket, &suite().engineio_packet, check_engine_packet);
}

#[test]
fn engineio_payloads_decode_as_the_vectors_say() {
    replay(Layer::EngineIoPayload, &suite().engineio_payload, check_engine_payload);
}

// ---------------------------------------------------------------------------------------------
// Socket.IO

fn sio_type_name(kind: sio::PacketType) -> &'static str {
    match kind {
        sio::PacketType::Connect => "CONNECT",
        sio::PacketType::Disconnect => "DISCONNECT",
        sio::PacketType::Event => "EVENT",
        sio::PacketType::Ack => "ACK",
        sio::PacketType::ConnectError => "CONNECT_ERROR",
        sio::PacketType::BinaryEvent => "BINARY_EVENT",
        sio::PacketType::BinaryAck => "BINARY_ACK",
    }
}

/// Compares the fields every packet has, and the JSON payload and attachments.
fn same_socket_packet(expected: &SocketPacket, got: &sio::Packet) -> Result<(), String> {
    let attachments = expected.attachment_bytes().map_err(|e| e.0)?;
    let got_attachments: Vec<&[u8]> = got.attachments().iter().map(|a| &a[..]).collect();
    let same = expected.kind == sio_type_name(got.kind)
        && expected.nsp == *got.nsp
        && expected.id == got.id
        && match &expected.data {
            Some(json) => got.json().is_some_and(|g| g.as_str() == json),
            None => got.data.is_none(),
        }
        && attachments.iter().map(Vec::as_slice).eq(got_attachments.iter().copied());
    if same {
        Ok(())
    } else {
        Err(format!("expected {expected:?}, got {got:?}"))
    }
}

fn check_socket(v: &SocketVector) -> Result<(), String> {
    let mut config = sio::DecoderConfig::default();
    config.max_attachments = v.max_attachments.unwrap_or(config.max_attachments);
    config.max_depth = v.max_depth.unwrap_or(config.max_depth);
    let mut decoder = sio::Decoder::new(config);
    let messages: Vec<(bool, Vec<u8>)> =
        v.input.iter().map(|m| Ok((m.is_text(), input_bytes(m)?))).collect::<Result<_, String>>()?;
    let mut packets = Vec::new();
    let mut pending = None;
    let mut error = None;
    for (i, (is_text, bytes)) in messages.iter().enumerate() {
        let result = if *is_text {
            let text = sio::ByteString::try_from(sio::Bytes::from(bytes.clone()))
                .map_err(|_| format!("message {i} is not UTF-8"))?;
            decoder.decode_text(text)
        } else {
            decoder.decode_binary(sio::Bytes::from(bytes.clone()))
        };
        match result {
            Ok(sio::Decoded::Complete(p)) => {
                packets.push(p);
                pending = None;
            }
            Ok(sio::Decoded::NeedsAttachments { received, expected }) => pending = Some((received, expected)),
            Err(e) => {
                error = Some((i, e));
                break;
            }
        }
    }
    let outcome =
        || format!("got packets {packets:?}, pending {pending:?}, error (at message, error) {error:?}");
    if packets.len() != v.expect.packets.len() {
        return Err(format!(
            "expected {} packets, pending {:?}, error {:?}; {}",
            v.expect.packets.len(),
            v.expect.pending,
            v.expect.error,
            outcome()
        ));
    }
    for (i, (expected, got)) in v.expect.packets.iter().zip(&packets).enumerate() {
        same_socket_packet(expected, got).map_err(|e| format!("packet {i}: {e}"))?;
    }
    match (&v.expect.error, &error) {
        (None, None) => {}
        (Some(name), Some((at, e))) => {
            let expected_at = v.expect.error_at.unwrap_or(messages.len() - 1);
            if variant_name(e) != *name || *at != expected_at {
                return Err(format!("expected error {name} at message {expected_at}; {}", outcome()));
            }
        }
        (expected, _) => return Err(format!("expected error {expected:?}; {}", outcome())),
    }
    let expected_pending = v.expect.pending.map(|p| (p.received, p.expected));
    if error.is_none() && pending != expected_pending {
        return Err(format!("expected pending {expected_pending:?}; {}", outcome()));
    }
    if v.canonical() {
        let mut out: Vec<(bool, Vec<u8>)> = Vec::new();
        for p in &packets {
            out.push((true, p.encode_to_string().as_bytes().to_vec()));
            out.extend(p.attachments().iter().map(|a| (false, a.to_vec())));
        }
        if out != messages {
            let shown: Vec<String> = out
                .iter()
                .map(|(text, b)| if *text { format!("{:?}", String::from_utf8_lossy(b)) } else { hex(b) })
                .collect();
            return Err(format!("not canonical: re-encoded as [{}]", shown.join(", ")));
        }
    }
    Ok(())
}

#[test]
fn socketio_packets_decode_as_the_vectors_say() {
    replay(Layer::SocketIo, &suite().socketio, check_socket);
}

// ---------------------------------------------------------------------------------------------
// Socket.IO, msgpack parser

fn check_msgpack(v: &MsgPackVector) -> Result<(), String> {
    let mut config = sio::DecoderConfig::default();
    config.max_depth = v.max_depth.unwrap_or(config.max_depth);
    let input = input_bytes(&v.input)?;
    let decoded = sio::msgpack::decode(sio::Bytes::from(input.clone()), &config);
    let expected = match &v.expect {
        PacketExpect::Error(name) => return expect_error(name, decoded),
        PacketExpect::Packet(p) => p,
    };
    let packet = decoded.map_err(|e| format!("expected {expected:?}, got error {e:?}"))?;
    let payload = expected.msgpack_bytes().map_err(|e| e.0)?;
    let got_payload = match &packet.data {
        None => None,
        Some(sio::Payload::MsgPack(raw)) => Some(raw.as_bytes().to_vec()),
        Some(other) => return Err(format!("expected a msgpack payload, got {other:?}")),
    };
    let same = expected.kind == sio_type_name(packet.kind)
        && expected.nsp == *packet.nsp
        && expected.id == packet.id
        && payload == got_payload;
    if !same {
        return Err(format!(
            "expected {expected:?}, got {packet:?} (payload {})",
            got_payload.as_deref().map_or("none".to_owned(), hex)
        ));
    }
    if v.canonical() {
        let mut out = Vec::new();
        sio::msgpack::encode(&packet, &mut out);
        if out != input {
            return Err(format!("not canonical: re-encoded as {}", hex(&out)));
        }
    }
    Ok(())
}

#[test]
fn socketio_msgpack_packets_decode_as_the_vectors_say() {
    replay(Layer::SocketIoMsgPack, &suite().socketio_msgpack, check_msgpack);
}
