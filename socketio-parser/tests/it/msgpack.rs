//! The `socket.io-msgpack-parser` wire format: bytes observed from the reference (`notepack.io`
//! 2.2), the `notepack.io` extension quirks, validation, limits, transcoding from JSON payloads
//! and round trips.
#![cfg(feature = "msgpack")]

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use socketio_parser::msgpack::{self, RawMsgPack};
use socketio_parser::{
    to_payload, ByteString, DecodeError, DecoderConfig, Packet, PacketType, Payload, RawJson, RESERVED_EVENTS,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn decode(bytes: &[u8]) -> Result<Packet, DecodeError> {
    msgpack::decode(Bytes::copy_from_slice(bytes), &DecoderConfig::default())
}

fn payload(packet: &Packet) -> &[u8] {
    match &packet.data {
        Some(Payload::MsgPack(raw)) => raw.as_bytes(),
        other => panic!("expected a msgpack payload, got {other:?}"),
    }
}

fn encode(packet: &Packet) -> Vec<u8> {
    let mut buf = Vec::new();
    msgpack::encode(packet, &mut buf);
    buf
}

/// A packet map `{type, data?, id?, nsp:"/"}` around raw `data` bytes, in the reference order.
fn packet_bytes(kind: u8, data: Option<&[u8]>, id: Option<&[u8]>) -> Vec<u8> {
    let mut out = vec![0x82 + u8::from(data.is_some()) + u8::from(id.is_some())];
    out.extend_from_slice(b"\xa4type");
    out.push(kind);
    if let Some(data) = data {
        out.extend_from_slice(b"\xa4data");
        out.extend_from_slice(data);
    }
    if let Some(id) = id {
        out.extend_from_slice(b"\xa2id");
        out.extend_from_slice(id);
    }
    out.extend_from_slice(b"\xa3nsp\xa1/");
    out
}

fn event(data: &[u8]) -> Vec<u8> {
    packet_bytes(2, Some(data), None)
}

// ---------------------------------------------------------------------------------------------
// Bytes observed from the reference

#[test]
fn client_connect_with_undefined_data() {
    // `{type:0, data:undefined, nsp:"/"}` as notepack.io 2.2 writes it.
    let wire = hex("83 a474797065 00 a464617461 d40000 a36e7370 a12f");
    let packet = decode(&wire).expect("decodes");
    assert_eq!(packet, Packet { kind: PacketType::Connect, nsp: "/".into(), id: None, data: None });
    // Re-encoded without the `undefined`.
    assert_eq!(encode(&packet), hex("82 a474797065 00 a36e7370 a12f"));
}

#[test]
fn server_event_with_binary_and_ack_id() {
    // `{type:2, data:["hi", Buffer<01 02 03>, {a:1}], id:0, nsp:"/"}` from notepack.io 2.2.
    let wire =
        Bytes::from(hex("84 a474797065 02 a464617461 93 a26869 c403010203 81a16101 a26964 00 a36e7370 a12f"));
    let packet = msgpack::decode(wire.clone(), &DecoderConfig::default()).expect("decodes");
    assert_eq!(packet.kind, PacketType::Event);
    assert_eq!(&*packet.nsp, "/");
    assert_eq!(packet.id, Some(0));
    let data = payload(&packet);
    assert_eq!(data, hex("93 a26869 c403010203 81a16101"));
    // The payload is a slice of the message, not a copy.
    let range = wire.as_ptr() as usize..wire.as_ptr() as usize + wire.len();
    assert!(range.contains(&(data.as_ptr() as usize)));

    #[derive(Debug, PartialEq, Deserialize)]
    struct A {
        a: u8,
    }
    let Some(Payload::MsgPack(raw)) = &packet.data else { unreachable!() };
    let (name, bin, obj): (String, Bytes, A) = raw.deserialize().expect("deserialises");
    assert_eq!((name.as_str(), &bin[..], obj), ("hi", &[1u8, 2, 3][..], A { a: 1 }));

    // Canonical input survives decoding and encoding byte for byte.
    assert_eq!(encode(&packet), wire);
    assert_eq!(msgpack::encode_to_bytes(&packet), wire);
}

#[test]
fn disconnect() {
    let wire = hex("82 a474797065 01 a36e7370 a12f");
    let packet = decode(&wire).expect("decodes");
    assert_eq!(packet, Packet::disconnect("/"));
    assert_eq!(encode(&packet), wire);
}

#[test]
fn node_client_event_with_quirks_and_options() {
    // `{type:2, data:["ev", new Date(Date.UTC(2024,0,2,3,4,5,678)), undefined, {u:undefined},
    // new Uint8Array([1,2])], options:{compress:true}, id:3, nsp:"/"}` from notepack.io 2.2 under
    // Node.js.
    let wire = hex("85a47479706502a46461746195a26576d7000000018cc820db2ed4000081a175d40000c702000102
         a76f7074696f6e7381a8636f6d7072657373c3a2696403a36e7370a12f");
    let packet = decode(&wire).expect("decodes");
    assert_eq!(packet.kind, PacketType::Event);
    assert_eq!(packet.id, Some(3));
    let mut expected = hex("95 a26576 b8");
    expected.extend_from_slice(b"2024-01-02T03:04:05.678Z");
    expected.extend_from_slice(&hex("c0 81a175c0 c4020102"));
    assert_eq!(payload(&packet), expected);

    type Args = (String, String, Option<u8>, BTreeMap<String, Option<u8>>, Bytes);
    let Some(Payload::MsgPack(raw)) = &packet.data else { unreachable!() };
    let args: Args = raw.deserialize().expect("deserialises");
    assert_eq!(args.1, "2024-01-02T03:04:05.678Z");
    assert_eq!(args.2, None);
    assert_eq!(args.3.get("u"), Some(&None));
    assert_eq!(&args.4[..], [1, 2]);

    // The normalised packet is canonical from then on.
    let again = decode(&encode(&packet)).expect("decodes");
    assert_eq!(again, packet);
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

#[test]
fn unknown_keys_are_skipped_whatever_their_type() {
    let skipped: [&[u8]; 12] = [
        &hex("a76f7074696f6e73 81a8636f6d7072657373c3"), // options: {compress: true}
        &hex("a178 93 01 92 02 03 80"),                  // x: [1, [2, 3], {}]
        &hex("a162 c40401020304"),                       // b: <bin>
        &hex("a165 d705 0102030405060708"),              // e: ext type 5, any type is skipped
        &hex("a165 c7 03 7f 010203"),                    // e: ext 8 of type 127
        &hex("a166 cb 3ff8000000000000"),                // f: 1.5
        &hex("a173 a3 ff fe fd"),                        // s: a string, not checked
        &hex("07 a26869"),                               // 7: "hi" (a non-string key)
        &hex("92 01 02 c0"),                             // [1, 2]: nil (a container key)
        &hex("81 a161 91 90 c3"),                        // {a: [[]]}: true
        &hex("c0 c0"),                                   // nil: nil
        &hex("a0 d40000"),                               // "": undefined
    ];
    for extra in skipped {
        let mut wire = vec![0x85];
        wire.extend_from_slice(&hex("a474797065 02"));
        wire.extend_from_slice(extra);
        wire.extend_from_slice(&hex("a464617461 91 a26576"));
        wire.extend_from_slice(extra);
        wire.extend_from_slice(&hex("a36e7370 a12f"));
        let packet = decode(&wire).unwrap_or_else(|e| panic!("{extra:02x?}: {e}"));
        assert_eq!(payload(&packet), hex("91 a26576"));
    }
}

#[test]
fn the_last_of_a_repeated_key_counts() {
    let wire = hex("84 a474797065 01 a474797065 02 a464617461 91 a26576 a36e7370 a12f");
    let packet = decode(&wire).expect("decodes");
    assert_eq!(packet.kind, PacketType::Event);
}

// ---------------------------------------------------------------------------------------------
// Validation

#[test]
fn validation_errors() {
    let invalid_type = DecodeError::MsgPack("invalid packet type");
    let invalid_nsp = DecodeError::MsgPack("invalid namespace");
    let with_nsp = |fields: &str, nsp: &str| {
        let n = fields.split('|').filter(|f| !f.trim().is_empty()).count() + usize::from(!nsp.is_empty());
        let mut out = vec![0x80 + n as u8];
        for f in fields.split('|') {
            out.extend_from_slice(&hex(f));
        }
        out.extend_from_slice(&hex(nsp));
        out
    };
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (vec![], DecodeError::Empty),
        (hex("93 01 02 03"), DecodeError::MsgPack("a packet is a map")),
        (hex("c0"), DecodeError::MsgPack("a packet is a map")),
        // type
        (with_nsp("", "a36e7370 a12f"), invalid_type.clone()),
        (with_nsp("a474797065 05", "a36e7370 a12f"), invalid_type.clone()),
        (with_nsp("a474797065 06", "a36e7370 a12f"), invalid_type.clone()),
        (with_nsp("a474797065 ff", "a36e7370 a12f"), invalid_type.clone()),
        (with_nsp("a474797065 a132", "a36e7370 a12f"), invalid_type.clone()),
        (with_nsp("a474797065 cb4004000000000000", "a36e7370 a12f"), invalid_type.clone()),
        (with_nsp("a474797065 c0", "a36e7370 a12f"), invalid_type.clone()),
        (with_nsp("a474797065 d40000", "a36e7370 a12f"), invalid_type.clone()),
        (with_nsp("a474797065 9101", "a36e7370 a12f"), invalid_type.clone()),
        // nsp
        (with_nsp("a474797065 01", ""), invalid_nsp.clone()),
        (hex("82 a474797065 01 a36e7370 01"), invalid_nsp.clone()),
        (hex("82 a474797065 01 a36e7370 c0"), invalid_nsp.clone()),
        (hex("82 a474797065 01 a36e7370 c4012f"), invalid_nsp.clone()),
        (hex("82 a474797065 01 a36e7370 a1ff"), DecodeError::MsgPack("a string is not valid UTF-8")),
        // payloads
        (packet_bytes(0, Some(&hex("90")), None), DecodeError::InvalidConnectPayload),
        (packet_bytes(0, Some(&hex("c0")), None), DecodeError::InvalidConnectPayload),
        (packet_bytes(0, Some(&hex("a0")), None), DecodeError::InvalidConnectPayload),
        (packet_bytes(1, Some(&hex("80")), None), DecodeError::UnexpectedDisconnectPayload),
        (packet_bytes(1, Some(&hex("c0")), None), DecodeError::UnexpectedDisconnectPayload),
        (packet_bytes(4, None, None), DecodeError::InvalidConnectErrorPayload),
        (packet_bytes(4, Some(&hex("90")), None), DecodeError::InvalidConnectErrorPayload),
        (packet_bytes(4, Some(&hex("d7000000000000000000")), None), DecodeError::InvalidConnectErrorPayload),
        (packet_bytes(2, None, None), DecodeError::InvalidEventPayload),
        (packet_bytes(2, Some(&hex("d40000")), None), DecodeError::InvalidEventPayload),
        (packet_bytes(2, Some(&hex("81a16101")), None), DecodeError::InvalidEventPayload),
        (packet_bytes(2, Some(&hex("a26576")), None), DecodeError::InvalidEventPayload),
        (packet_bytes(2, Some(&hex("90")), None), DecodeError::InvalidEventName),
        (packet_bytes(2, Some(&hex("91c0")), None), DecodeError::InvalidEventName),
        (packet_bytes(2, Some(&hex("91d40000")), None), DecodeError::InvalidEventName),
        (packet_bytes(2, Some(&hex("9191a26576")), None), DecodeError::InvalidEventName),
        (packet_bytes(2, Some(&hex("91c3")), None), DecodeError::InvalidEventName),
        (packet_bytes(2, Some(&hex("91c40165")), None), DecodeError::InvalidEventName),
        (packet_bytes(3, None, None), DecodeError::InvalidAckPayload),
        (packet_bytes(3, Some(&hex("80")), None), DecodeError::InvalidAckPayload),
        // ack ids
        (packet_bytes(3, Some(&hex("90")), Some(&hex("ff"))), DecodeError::InvalidAckId),
        (packet_bytes(3, Some(&hex("90")), Some(&hex("d3ffffffffffffffff"))), DecodeError::InvalidAckId),
        (packet_bytes(3, Some(&hex("90")), Some(&hex("a131"))), DecodeError::InvalidAckId),
        (packet_bytes(3, Some(&hex("90")), Some(&hex("c0"))), DecodeError::InvalidAckId),
        (packet_bytes(3, Some(&hex("90")), Some(&hex("cb3ff8000000000000"))), DecodeError::InvalidAckId),
        (packet_bytes(3, Some(&hex("90")), Some(&hex("cb43f0000000000000"))), DecodeError::InvalidAckId),
        // malformed msgpack
        (
            [packet_bytes(1, None, None), vec![0xc0]].concat(),
            DecodeError::MsgPack("trailing bytes after the value"),
        ),
        (event(&hex("92 a26576 c1")), DecodeError::MsgPack("reserved marker 0xc1")),
        (event(&hex("92 a26576 a2c328")), DecodeError::MsgPack("a string is not valid UTF-8")),
        (event(&hex("92 a26576 81a2c328 01")), DecodeError::MsgPack("a string is not valid UTF-8")),
        (event(&hex("92 a26576 d5050102")), DecodeError::MsgPack("unsupported extension type")),
        (event(&hex("92 a26576 d5000102")), DecodeError::MsgPack("unsupported extension type")),
        (event(&hex("92 a26576 d60001020304")), DecodeError::MsgPack("unsupported extension type")),
        (event(&hex("92 a26576 d4ff00")), DecodeError::MsgPack("unsupported extension type")),
        (event(&hex("92 a26576 c703ff010203")), DecodeError::MsgPack("unsupported extension type")),
        (event(&hex("92 a26576 c701050a")), DecodeError::MsgPack("unsupported extension type")),
    ];
    for (wire, expected) in cases {
        assert_eq!(decode(&wire), Err(expected), "{wire:02x?}");
    }
}

#[test]
fn reserved_event_names_are_refused() {
    for name in RESERVED_EVENTS {
        let mut data = vec![0x91, 0xa0 | name.len() as u8];
        data.extend_from_slice(name.as_bytes());
        assert_eq!(decode(&event(&data)), Err(DecodeError::ReservedEventName), "{name}");
        // As a non-minimal str 8 too.
        let mut data = vec![0x91, 0xd9, name.len() as u8];
        data.extend_from_slice(name.as_bytes());
        assert_eq!(decode(&event(&data)), Err(DecodeError::ReservedEventName), "{name}");
    }
    // Not reserved: `error`, a name that only starts like a reserved one, a reserved name later on.
    // (`a8 636f6e6e656374 78` is "connectx".)
    // As str 8 too: a name that is not reserved, and a reserved name as a later argument.
    for data in [
        hex("91 a56572726f72"),
        hex("91 a8636f6e6e656374 78"),
        hex("92 a161 a7636f6e6e656374"),
        hex("91 d904 63686174"),
        hex("92 a161 d907 636f6e6e656374"),
    ] {
        assert!(decode(&event(&data)).is_ok(), "{data:02x?}");
    }
}

#[test]
fn accepted_shapes() {
    let ok = |wire: Vec<u8>| decode(&wire).unwrap_or_else(|e| panic!("{wire:02x?}: {e}"));
    // Numeric event names, integral floats as types and ids (JavaScript has one number type).
    assert!(ok(event(&hex("92 2a c0"))).data.is_some());
    assert!(ok(event(&hex("91 cb3ff8000000000000"))).data.is_some());
    assert_eq!(ok(hex("82 a474797065 cb3ff0000000000000 a36e7370 a12f")).kind, PacketType::Disconnect);
    assert_eq!(ok(packet_bytes(3, Some(&hex("90")), Some(&hex("cb4014000000000000")))).id, Some(5));
    assert_eq!(ok(packet_bytes(3, Some(&hex("90")), Some(&hex("cfffffffffffffffff")))).id, Some(u64::MAX));
    assert_eq!(ok(packet_bytes(3, Some(&hex("90")), Some(&hex("d3000000000000002a")))).id, Some(42));
    assert_eq!(ok(packet_bytes(3, Some(&hex("90")), Some(&hex("d40000")))).id, None);
    // CONNECT with a map, CONNECT_ERROR with a string or a map, any namespace string.
    assert!(ok(packet_bytes(0, Some(&hex("81a5746f6b656ea3313233")), None)).data.is_some());
    assert!(ok(packet_bytes(4, Some(&hex("a3626164")), None)).data.is_some());
    assert!(ok(packet_bytes(4, Some(&hex("81a76d657373616765a178")), None)).data.is_some());
    let admin = ok(hex("82 a36e7370 d906 2f61646d696e a474797065 01"));
    assert_eq!(&*admin.nsp, "/admin");
    assert_eq!(admin.kind, PacketType::Disconnect);
}

// ---------------------------------------------------------------------------------------------
// Dates and undefined

fn iso(text: &str) -> Vec<u8> {
    let mut out = vec![0xa0 | text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

#[test]
fn dates_become_iso_strings() {
    let cases: [(&str, Vec<u8>); 8] = [
        // notepack.io 2.2: fixext 8 of type 0 holding signed milliseconds.
        ("d7000000018cc820db2e", iso("2024-01-02T03:04:05.678Z")),
        ("d700ffffffffffffffff", iso("1969-12-31T23:59:59.999Z")),
        ("d700001eb208c2dc0000", iso("+275760-09-13T00:00:00.000Z")),
        // Beyond JavaScript's `Date` range: an invalid date, which `toJSON` makes `null`.
        ("d700001eb208c2dc0001", vec![0xc0]),
        // The timestamp extension, in its three sizes.
        ("d6ff 65937d25", iso("2024-01-02T03:04:05.000Z")),
        // 678 ms in nanoseconds in the upper 30 bits, seconds in the lower 34.
        ("d7ff a1a5d600 65937d25", iso("2024-01-02T03:04:05.678Z")),
        ("c70cff 28697580 ffffffffffffffff", iso("1969-12-31T23:59:59.678Z")),
        ("c70cff 00000000 fffffffc8bf52800", iso("1500-01-01T00:00:00.000Z")),
    ];
    for (ext, expected) in cases {
        let mut data = hex("92 a26576");
        data.extend_from_slice(&hex(ext));
        let packet = decode(&event(&data)).unwrap_or_else(|e| panic!("{ext}: {e}"));
        let mut want = hex("92 a26576");
        want.extend_from_slice(&expected);
        assert_eq!(payload(&packet), want, "{ext}");
    }
}

#[test]
fn nested_undefined_becomes_nil() {
    // ["ev", undefined, {a: undefined, b: [undefined]}]
    let packet = decode(&event(&hex("93 a26576 d40000 82 a161 d40000 a162 91 d40000"))).expect("decodes");
    assert_eq!(payload(&packet), hex("93 a26576 c0 82 a161 c0 a162 91 c0"));
}

#[test]
fn node_array_buffers_become_bin() {
    // ext 8/16/32 of type 0: notepack.io's `ArrayBuffer` under Node.js.
    let mut data = hex("94 a26576 c7020001 02 c8000300 010203");
    data.extend_from_slice(&hex("c9 00000100 00"));
    data.extend_from_slice(&[7; 256]);
    let packet = decode(&event(&data)).expect("decodes");
    let mut want = hex("94 a26576 c4020102 c403010203 c50100");
    want.extend_from_slice(&[7; 256]);
    assert_eq!(payload(&packet), want);
}

// ---------------------------------------------------------------------------------------------
// Limits

fn nested(depth: usize) -> Vec<u8> {
    // ["ev", [[...[]...]]] with `depth` arrays in all, the outer one included.
    let mut data = hex("92 a26576");
    data.extend(std::iter::repeat_n(0x91, depth - 2));
    data.push(0x90);
    data
}

#[test]
fn nesting_is_bounded() {
    let config = DecoderConfig { max_depth: 128, ..DecoderConfig::default() };
    let at = |depth| msgpack::decode(Bytes::from(event(&nested(depth))), &config);
    assert!(at(128).is_ok());
    assert_eq!(at(129), Err(DecodeError::TooDeep));
    // Unknown keys too.
    let mut wire = hex("84 a474797065 01 a36e7370 a12f a178");
    wire.extend(std::iter::repeat_n(0x91, 200));
    wire.push(0x90);
    wire.extend_from_slice(&hex("a179 c0"));
    assert_eq!(msgpack::decode(Bytes::from(wire), &config), Err(DecodeError::TooDeep));
    // Without a limit, a million levels are walked without recursion.
    let unbounded = DecoderConfig { max_depth: usize::MAX, ..DecoderConfig::default() };
    let deep = event(&nested(1_000_000));
    assert!(msgpack::decode(Bytes::from(deep), &unbounded).is_ok());
    let mut truncated = event(&nested(1_000_000));
    truncated.truncate(500_000);
    assert_eq!(
        msgpack::decode(Bytes::from(truncated), &unbounded),
        Err(DecodeError::MsgPack("unexpected end of input"))
    );
}

#[test]
fn huge_length_headers_fail_cleanly() {
    let eof = Err(DecodeError::MsgPack("unexpected end of input"));
    for data in [
        "dd ffffffff a26576",
        "92 a26576 dd ffffffff",
        "92 a26576 df ffffffff c0",
        "92 a26576 db ffffffff 61",
        "92 a26576 c6 ffffffff 00",
        "92 a26576 c9 ffffffff 00 00",
        "92 a26576 dc ffff",
        "92 a26576 da ffff",
    ] {
        assert_eq!(decode(&event(&hex(data))), eof, "{data}");
    }
    assert_eq!(decode(&hex("df ffffffff a474797065 02")), eof);
    // A map claiming 2^32 - 1 entries in a 7-byte message.
    assert_eq!(decode(&hex("df ffffffff a0 a0")), eof);
}

#[test]
fn every_truncation_is_an_error() {
    let wire = hex("85a47479706502a46461746195a26576d7000000018cc820db2ed4000081a175d40000c702000102
         a76f7074696f6e7381a8636f6d7072657373c3a2696403a36e7370a12f");
    for len in 0..wire.len() {
        assert!(decode(&wire[..len]).is_err(), "{len}");
    }
}

// ---------------------------------------------------------------------------------------------
// Transcoding JSON payloads

/// Vectors from notepack.io 2.2: `notepack.encode({type, data, id?, nsp})` with `data` being
/// `JSON.parse(json)` and each placeholder replaced by its `Buffer`.
#[test]
fn json_payloads_transcode_as_notepack_writes_them() {
    let attachment_300 = Bytes::from(vec![7u8; 300]);
    let cases: Vec<(Packet, Vec<u8>)> = vec![
        (
            Packet::event(
                "/",
                RawJson::new(r#"["hi",{"_placeholder":true,"num":0},{"a":1}]"#).expect("json"),
                vec![Bytes::from_static(&[1, 2, 3])],
                Some(0),
            ),
            hex("84a47479706502a46461746193a26869c40301020381a16101a2696400a36e7370a12f"),
        ),
        (
            Packet::event(
                "/admin",
                RawJson::new(
                    "[\"numbers\",0,-0,1.0,1e3,-1,-33,200,-200,70000,-70000,4294967296,-2147483649,1.5,\
                     -2.25,1e400,9007199254740992]",
                )
                .expect("json"),
                vec![],
                None,
            ),
            hex(
                "83a47479706502a464617461dc0011a76e756d62657273000001cd03e8ffd0dfccc8d1ff38ce00011170
                 d2fffeee90cf0000000100000000d3ffffffff7fffffffcb3ff8000000000000cbc002000000000000
                 cb7ff0000000000000cf0020000000000000a36e7370a62f61646d696e",
            ),
        ),
        (
            Packet::ack(
                "/",
                42,
                RawJson::new(
                    r#"[{"nested":[{"_placeholder":true,"num":1},{"x":{"_placeholder":true,"num":0}}]},"\u00e9\n\ud83d\ude00",null,true,false]"#,
                )
                .expect("json"),
                vec![Bytes::from_static(&[9]), attachment_300.clone()],
            ),
            [
                // An ack starts with its id, as the reference server writes it.
                hex("84a269642aa47479706503a4646174619581a66e657374656492c5012c"),
                attachment_300.to_vec(),
                hex("81a178c40109a7c3a90af09f9880c0c3c2a36e7370a12f"),
            ]
            .concat(),
        ),
        (
            Packet::connect("/", Some(RawJson::new(r#"{"sid":"AbCdEfGhIjKlMnOpQrSt"}"#).expect("json"))),
            hex("83a47479706500a46461746181a3736964b44162436445664768496a4b6c4d6e4f7051725374a36e7370a12f"),
        ),
        (
            Packet::connect_error(
                "/guarded",
                RawJson::new(r#"{"message":"not authorized","data":{"reason":"x"}}"#).expect("json"),
            ),
            hex(
                "83a47479706504a46461746182a76d657373616765ae6e6f7420617574686f72697a6564a46461746181
                 a6726561736f6ea178a36e7370a82f67756172646564",
            ),
        ),
    ];
    for (packet, expected) in cases {
        assert_eq!(encode(&packet), expected, "{packet:?}");
    }
}

#[test]
fn string_and_container_headers_grow_as_notepack_writes_them() {
    let long_a = "a".repeat(40);
    let long_b = "b".repeat(300);
    let map: serde_json::Map<String, serde_json::Value> =
        (0..17).map(|i| (format!("k{i}"), serde_json::Value::from(i))).collect();
    let args = serde_json::json!(["long", long_a, long_b, (0..20).collect::<Vec<_>>(), map]);
    let json = RawJson::new(serde_json::to_string(&args).expect("json")).expect("json");
    let packet = Packet::event("/", json, vec![], Some(300));
    let bytes = encode(&packet);
    let mut expected = hex("84a47479706502a46461746195a46c6f6e67d928");
    expected.extend_from_slice(long_a.as_bytes());
    expected.extend_from_slice(&hex("da012c"));
    expected.extend_from_slice(long_b.as_bytes());
    expected.extend_from_slice(&hex("dc0014000102030405060708090a0b0c0d0e0f10111213de0011"));
    assert!(bytes.starts_with(&expected), "{bytes:02x?}");
    assert!(bytes.ends_with(&hex("a26964cd012ca36e7370a12f")));
    let decoded = decode(&bytes).expect("decodes");
    assert_eq!(decoded.id, Some(300));
}

#[test]
fn placeholders_are_replaced_only_when_they_index_an_attachment() {
    let transcode = |json: &str, attachments: &[Bytes]| {
        RawMsgPack::from_json(&RawJson::new(json).expect("json"), attachments).into_bytes().to_vec()
    };
    let one = [Bytes::from_static(b"\x01")];
    // Last member wins, escaped keys count, extra members do not matter, `num` may be `0.0`.
    assert_eq!(transcode(r#"[{"_placeholder":false,"_placeholder":true,"num":0}]"#, &one), hex("91 c40101"));
    assert_eq!(transcode(r#"[{"\u005fplaceholder":true,"n\u0075m":0,"x":[1]}]"#, &one), hex("91 c40101"));
    assert_eq!(transcode(r#"{"a":{"num":0.0,"_placeholder":true}}"#, &one), hex("81 a161 c40101"));
    // Not placeholders: written as they are.
    assert_eq!(
        transcode(r#"[{"_placeholder":true,"num":1}]"#, &one),
        hex("91 82 ac5f706c616365686f6c646572 c3 a36e756d 01")
    );
    assert_eq!(
        transcode(r#"{"_placeholder":"true","num":0}"#, &one),
        hex("82 ac5f706c616365686f6c646572 a474727565 a36e756d 00")
    );
    assert_eq!(
        transcode(r#"{"_placeholder":true,"num":0}"#, &[]),
        hex("82 ac5f706c616365686f6c646572 c3 a36e756d 00")
    );
    assert_eq!(
        transcode(r#"{"_placeholder":true,"num":-1}"#, &one),
        hex("82 ac5f706c616365686f6c646572 c3 a36e756d ff")
    );
    // Whitespace, empty containers, containers after a replaced placeholder.
    assert_eq!(
        transcode(" [ {\"_placeholder\" : true , \"num\" : 0 } , [ ] , { } , [ [ 1 ] ] ] ", &one),
        hex("94 c40101 90 80 91 91 01")
    );
}

// ---------------------------------------------------------------------------------------------
// RawMsgPack

#[test]
fn raw_msgpack_new_validates_and_copies_only_when_needed() {
    let plain = Bytes::from(hex("92 a26576 c40101"));
    let raw = RawMsgPack::new(plain.clone()).expect("valid");
    assert_eq!(raw.as_bytes().as_ptr(), plain.as_ptr());
    let quirky = Bytes::from(hex("92 a26576 d40000"));
    let raw = RawMsgPack::new(quirky.clone()).expect("valid");
    assert_eq!(raw.as_bytes()[..], hex("92 a26576 c0"));
    assert_eq!(RawMsgPack::new(Bytes::from_static(b"\xd4\x00\x00")).expect("valid").as_bytes()[..], [0xc0]);
    assert_eq!(RawMsgPack::new(Bytes::new()), Err(DecodeError::Empty));
    assert_eq!(
        RawMsgPack::new(Bytes::from_static(b"\xc0\xc0")),
        Err(DecodeError::MsgPack("trailing bytes after the value"))
    );
    assert_eq!(
        RawMsgPack::new(Bytes::from_static(b"\x92\xc0")),
        Err(DecodeError::MsgPack("unexpected end of input"))
    );
    let mut deep = vec![0x91; 128];
    deep.push(0x90);
    assert_eq!(RawMsgPack::new(Bytes::from(deep)), Err(DecodeError::TooDeep));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    size: u64,
    offset: i32,
    ratio: f64,
    scale: f32,
    whole: f64,
    data: Bytes,
    tags: Vec<String>,
    parent: Option<Box<Upload>>,
}

#[test]
fn from_serialize_writes_maps_bin_and_notepack_numbers() {
    let upload = Upload {
        name: "a.txt".into(),
        size: 300,
        offset: -200,
        ratio: 0.5,
        scale: 1.5,
        whole: 3.0,
        data: Bytes::from_static(&[1, 2, 3]),
        tags: vec!["x".into()],
        parent: None,
    };
    let raw = RawMsgPack::from_serialize(&upload).expect("serialises");
    let expected = hex(
        "89 a46e616d65 a5612e747874 a473697a65 cd012c a66f6666736574 d1ff38 a5726174696f cb3fe0000000000000
         a57363616c65 cb3ff8000000000000 a577686f6c65 03 a464617461 c403010203 a474616773 91a178
         a6706172656e74 c0",
    );
    assert_eq!(raw.as_bytes()[..], expected);
    assert_eq!(raw.deserialize::<Upload>().expect("deserialises"), upload);

    // Large and negative integers keep notepack's forms.
    let raw =
        RawMsgPack::from_serialize(&(u64::MAX, i64::MIN, 4_294_967_296u64, -2_147_483_649i64, 1e300f64))
            .expect("serialises");
    assert_eq!(
        raw.as_bytes()[..],
        hex("95 cfffffffffffffffff d38000000000000000 cf0000000100000000 d3ffffffff7fffffff cb7e37e43c8800759c")
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

/// A msgpack value as a test builds it.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<V>),
    Map(Vec<(String, V)>),
}

impl Serialize for V {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            V::Nil => s.serialize_unit(),
            V::Bool(b) => s.serialize_bool(*b),
            V::Int(n) => s.serialize_i64(*n),
            V::Uint(n) => s.serialize_u64(*n),
            V::Float(f) => s.serialize_f64(*f),
            V::Str(v) => s.serialize_str(v),
            V::Bin(v) => s.serialize_bytes(v),
            V::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            V::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Writes `v` with `rmp`'s encoders (smallest forms, floats as `float 64`).
fn write(v: &V, out: &mut Vec<u8>) {
    use rmp::encode;
    match v {
        V::Nil => encode::write_nil(out).expect("write"),
        V::Bool(b) => encode::write_bool(out, *b).expect("write"),
        V::Int(n) => drop(encode::write_sint(out, *n).expect("write")),
        V::Uint(n) => drop(encode::write_uint(out, *n).expect("write")),
        V::Float(f) => encode::write_f64(out, *f).expect("write"),
        V::Str(s) => encode::write_str(out, s).expect("write"),
        V::Bin(b) => encode::write_bin(out, b).expect("write"),
        V::Array(items) => {
            encode::write_array_len(out, items.len() as u32).expect("write");
            items.iter().for_each(|item| write(item, out));
        }
        V::Map(entries) => {
            encode::write_map_len(out, entries.len() as u32).expect("write");
            for (k, v) in entries {
                encode::write_str(out, k).expect("write");
                write(v, out);
            }
        }
    }
}

fn bytes_of(v: &V) -> Vec<u8> {
    let mut out = Vec::new();
    write(v, &mut out);
    out
}

fn leaf() -> impl Strategy<Value = V> {
    prop_oneof![
        Just(V::Nil),
        any::<bool>().prop_map(V::Bool),
        any::<i64>().prop_map(V::Int),
        any::<u64>().prop_map(V::Uint),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(V::Float),
        "[a-z\\\\\"\u{0}-\u{1f}é😀]{0,40}".prop_map(V::Str),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(V::Bin),
    ]
}

fn has_big_integral_float(values: &[V]) -> bool {
    values.iter().any(|v| match v {
        V::Float(f) => f.fract() == 0.0 && f.abs() >= 9_007_199_254_740_992.0,
        V::Array(items) => has_big_integral_float(items),
        V::Map(entries) => entries.iter().any(|(_, v)| has_big_integral_float(std::slice::from_ref(v))),
        _ => false,
    })
}

fn value() -> impl Strategy<Value = V> {
    leaf().prop_recursive(4, 48, 20, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(V::Array),
            prop::collection::vec(("[a-z_]{0,6}", inner), 0..20).prop_map(V::Map),
        ]
    })
}

fn event_name() -> impl Strategy<Value = V> {
    prop_oneof![
        "[a-zA-Z:é😀 ]{0,12}"
            .prop_filter("not reserved", |s| !RESERVED_EVENTS.contains(&s.as_str()))
            .prop_map(V::Str),
        any::<u32>().prop_map(|n| V::Uint(n.into())),
        (-1e9f64..1e9).prop_map(V::Float),
    ]
}

/// A valid packet whose payload was written by `rmp`.
fn packet() -> impl Strategy<Value = Packet> {
    let nsp = prop_oneof![Just("/".to_owned()), "/[a-z0-9_é-]{1,40}"];
    let id = prop::option::of(any::<u64>());
    (0u8..5, nsp, id, event_name(), prop::collection::vec(value(), 0..6), value(), any::<bool>()).prop_map(
        |(kind, nsp, id, name, args, extra, flag)| {
            let raw = |v: &V| RawMsgPack::new(Bytes::from(bytes_of(v))).expect("valid");
            let map = |v: V| match v {
                V::Map(_) => v,
                other => V::Map(vec![("x".into(), other)]),
            };
            let kind = PacketType::from_u8(kind).expect("0..5");
            let (data, id) = match kind {
                PacketType::Connect => (flag.then(|| raw(&map(extra))), None),
                PacketType::Disconnect => (None, None),
                PacketType::Event => (Some(raw(&V::Array([vec![name], args].concat()))), id),
                PacketType::Ack => (Some(raw(&V::Array(args))), id),
                _ => (Some(raw(&if flag { map(extra) } else { V::Str("oops".into()) })), None),
            };
            Packet { kind, nsp: ByteString::from(nsp), id, data: data.map(Payload::MsgPack) }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        // `PROPTEST_CASES` lowers the count for mutation runs; the test command uses the default.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn decode_encode_round_trip(packet in packet()) {
        let bytes = encode(&packet);
        let decoded = decode(&bytes).expect("an encoded packet decodes");
        prop_assert_eq!(&decoded, &packet);
        prop_assert_eq!(encode(&decoded), bytes);
    }

    /// The JSON path (`to_payload`, then transcoding) writes the same bytes as `from_serialize`.
    ///
    /// Except for integral floats beyond 2^53: JSON carries them in JavaScript's shortest digits
    /// (`4621819117588971520`), which the transcoder keeps as that exact integer, while
    /// `from_serialize` writes the double's own integer value (`…528`). Both name the same
    /// double, which is all a JavaScript peer can hold.
    #[test]
    fn transcoding_agrees_with_from_serialize(
        name in event_name(),
        args in prop::collection::vec(value(), 0..6),
        id in prop::option::of(any::<u64>()),
    ) {
        prop_assume!(!has_big_integral_float(&args));
        let array = V::Array([vec![name], args].concat());
        let (json, attachments) = to_payload(&array).expect("serialises");
        let via_json = encode(&Packet::event("/", json, attachments, id));
        let raw = RawMsgPack::from_serialize(&array).expect("serialises");
        let direct = Packet { kind: PacketType::Event, nsp: "/".into(), id, data: Some(raw.into()) };
        prop_assert_eq!(&via_json, &encode(&direct));
        let decoded = decode(&via_json).expect("decodes");
        prop_assert_eq!(decoded, direct);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let config = DecoderConfig { max_depth: 8, ..DecoderConfig::default() };
        if let Ok(packet) = msgpack::decode(Bytes::from(bytes), &config) {
            let again = msgpack::decode(Bytes::from(encode(&packet)), &config).expect("re-encoding decodes");
            prop_assert_eq!(again, packet);
        }
    }

    #[test]
    fn mutated_packets_never_panic(packet in packet(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = encode(&packet);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(packet) = decode(&bytes) {
            let again = decode(&encode(&packet)).expect("re-encoding decodes");
            prop_assert_eq!(again, packet);
        }
        let _ = RawMsgPack::new(Bytes::from(bytes));
    }
}

#[test]
fn keys_and_scalars_in_their_longer_forms() {
    // Every key as a str8, the type as a uint8.
    let mut wire = vec![0x84, 0xd9, 4];
    wire.extend_from_slice(b"type");
    wire.extend_from_slice(&[0xcc, 2, 0xd9, 3]);
    wire.extend_from_slice(b"nsp");
    wire.extend_from_slice(&[0xa2, b'/', b'x', 0xd9, 4]);
    wire.extend_from_slice(b"data");
    wire.extend_from_slice(&[0x91, 0xa1, b'a', 0xd9, 2]);
    wire.extend_from_slice(b"id");
    wire.push(7);
    let packet = decode(&wire).expect("a valid event");
    assert_eq!((packet.kind, &packet.nsp[..], packet.id), (PacketType::Event, "/x", Some(7)));
    assert_eq!(payload(&packet), [0x91, 0xa1, b'a']);
    // The type as a float 32 (a disconnect).
    let mut wire = vec![0x82, 0xa4];
    wire.extend_from_slice(b"type");
    wire.push(0xca);
    wire.extend_from_slice(&1f32.to_be_bytes());
    wire.extend_from_slice(&[0xa3, b'n', b's', b'p', 0xa1, b'/']);
    assert_eq!(decode(&wire).map(|p| p.kind), Ok(PacketType::Disconnect));

    // `undefined` (fixext 1 of type 0) is an absent id; a longer extension of type 0 is not.
    let event = |id: &[u8]| {
        let mut wire = vec![0x84, 0xa4];
        wire.extend_from_slice(b"type");
        wire.extend_from_slice(&[2, 0xa3]);
        wire.extend_from_slice(b"nsp");
        wire.extend_from_slice(&[0xa1, b'/', 0xa4]);
        wire.extend_from_slice(b"data");
        wire.extend_from_slice(&[0x91, 0xa1, b'a', 0xa2, b'i', b'd']);
        wire.extend_from_slice(id);
        decode(&wire)
    };
    assert_eq!(event(&[0xd4, 0, 0]).map(|p| p.id), Ok(None));
    assert_eq!(event(&[0xd5, 0, 0, 0]).map(|p| p.id), Err(DecodeError::InvalidAckId));
}

#[test]
fn long_strings_take_the_32_bit_header() {
    let text = "x".repeat(70_000);
    let json = RawJson::new(serde_json::to_string(&[&text]).expect("serialises")).expect("valid JSON");
    let raw = RawMsgPack::from_json(&json, &[]);
    assert_eq!(&raw.as_bytes()[..6], [0x91, 0xdb, 0, 1, 0x11, 0x70]);
    assert_eq!(raw.deserialize::<Vec<String>>().expect("decodes"), [text]);
}

#[test]
fn the_main_namespace_keeps_no_part_of_the_message() {
    let wire = Bytes::from(event(&[0x91, 0xa1, b'a']));
    let packet = msgpack::decode(wire.clone(), &DecoderConfig::default()).expect("a valid event");
    assert_eq!(&packet.nsp[..], "/");
    assert!(
        !wire.as_ptr_range().contains(&packet.nsp.as_ptr()),
        "the namespace is not a slice of the message"
    );
}
