//! Reading payloads back into Rust values: `from_payload` inverts `to_payload` (binary values
//! included, at any depth), `from_args` skips the event name, `event_name` reads just the name,
//! and `Value` carries untyped arguments with their binary data and member order.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use socketio_parser::{
    arg_values, event_name, from_args, from_payload, payload_values, to_payload, ByteString, Decoded,
    Decoder, EventName, Payload, PayloadError, RawJson, Value,
};

fn payload_of<T: Serialize + ?Sized>(value: &T) -> Payload {
    let (json, attachments) = to_payload(value).expect("serialises");
    Payload::Json { json, attachments }
}

fn json(text: &str) -> Payload {
    Payload::json(RawJson::new(text).expect("valid JSON"))
}

fn with_attachments(text: &str, attachments: &[&'static [u8]]) -> Payload {
    Payload::Json {
        json: RawJson::new(text).expect("valid JSON"),
        attachments: attachments.iter().map(|a| Bytes::from_static(a)).collect(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    size: u32,
    data: Bytes,
    thumbnail: Option<Bytes>,
    chunks: Vec<Chunk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chunk {
    offset: u64,
    bytes: Bytes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Command {
    Stop,
    Seek(f64),
    Send { to: String, body: Bytes },
    Pair(i32, Bytes),
}

fn upload() -> Upload {
    Upload {
        name: "a.bin".into(),
        size: 3,
        data: Bytes::from_static(b"\x00\x01\x02"),
        thumbnail: Some(Bytes::from_static(b"\xff")),
        chunks: vec![
            Chunk { offset: 0, bytes: Bytes::from_static(b"ab") },
            Chunk { offset: 2, bytes: Bytes::new() },
        ],
    }
}

#[test]
fn struct_with_nested_bytes_round_trips() {
    let value = upload();
    let (json, attachments) = to_payload(&value).expect("serialises");
    assert_eq!(attachments.len(), 4, "{json}");
    let payload = Payload::Json { json, attachments };
    assert_eq!(from_payload::<Upload>(&payload), Ok(value.clone()));

    let none = Upload { thumbnail: None, ..value };
    assert_eq!(from_payload::<Upload>(&payload_of(&none)), Ok(none));
}

#[test]
fn tuples_options_and_enums_round_trip() {
    let value = (
        "ev",
        Some(Bytes::from_static(b"x")),
        None::<Bytes>,
        [Command::Stop, Command::Seek(2.5), Command::Seek(2.0)],
        Command::Send { to: "bob".into(), body: Bytes::from_static(b"hi") },
        Command::Pair(-7, Bytes::from_static(b"\x00")),
    );
    let payload = payload_of(&value);
    type Owned = (String, Option<Bytes>, Option<Bytes>, Vec<Command>, Command, Command);
    let back: Owned = from_payload(&payload).expect("deserialises");
    assert_eq!(back.0, value.0);
    assert_eq!(back.1, value.1);
    assert_eq!(back.2, value.2);
    assert_eq!(back.3, value.3);
    assert_eq!(back.4, value.4);
    assert_eq!(back.5, value.5);

    // Without binary data the JSON is read directly, with the same results.
    let plain = (Command::Stop, Command::Seek(1.5), Some(3u8), None::<u8>);
    assert_eq!(from_payload::<(Command, Command, Option<u8>, Option<u8>)>(&payload_of(&plain)), Ok(plain));
}

#[test]
fn maps_with_integer_keys_and_binary_values_round_trip() {
    let map: BTreeMap<u32, Bytes> =
        [(1, Bytes::from_static(b"one")), (20, Bytes::from_static(b"twenty"))].into_iter().collect();
    assert_eq!(from_payload::<BTreeMap<u32, Bytes>>(&payload_of(&map)), Ok(map));
}

#[test]
fn value_keeps_binary_and_member_order() {
    let value = Value::Array(vec![
        "ev".into(),
        Value::Object(vec![
            ("z".into(), 1.into()),
            ("a".into(), Value::Binary(Bytes::from_static(b"\x01"))),
            ("m".into(), Value::Array(vec![Value::Null, Value::Binary(Bytes::from_static(b"\x02\x03"))])),
        ]),
        Value::Binary(Bytes::from_static(b"")),
        2.5.into(),
        (-3).into(),
        true.into(),
    ]);
    let payload = payload_of(&value);
    assert_eq!(
        payload,
        with_attachments(
            r#"["ev",{"z":1,"a":{"_placeholder":true,"num":0},"m":[null,{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":2},2.5,-3,true]"#,
            &[b"\x01", b"\x02\x03", b""],
        )
    );
    let back: Value = from_payload(&payload).expect("deserialises");
    assert_eq!(back, value);
    let keys: Vec<&str> =
        back.get_index(1).and_then(Value::as_object).expect("object").iter().map(|(k, _)| &**k).collect();
    assert_eq!(keys, ["z", "a", "m"]);

    // Without attachments the order is kept too.
    let back: Value = from_payload(&json(r#"{"b":1,"a":{"d":null,"c":[]}}"#)).expect("deserialises");
    assert_eq!(
        back,
        Value::Object(vec![
            ("b".into(), 1.into()),
            ("a".into(), Value::Object(vec![("d".into(), Value::Null), ("c".into(), Value::Array(vec![]))])),
        ])
    );
}

#[test]
fn value_accessors_and_conversions() {
    let value: Value =
        [("a", Value::from(1u8)), ("b", "x".into()), ("a", Value::from(Bytes::from_static(b"!")))]
            .into_iter()
            .collect();
    assert_eq!(value.get("a").and_then(Value::as_bytes), Some(&Bytes::from_static(b"!")), "last key wins");
    assert_eq!(value.get("b").and_then(Value::as_str), Some("x"));
    assert_eq!(value.get("c"), None);
    assert_eq!(value.as_object().map(<[_]>::len), Some(3));

    let array: Value = vec![1i64, -2].into();
    assert_eq!(array.get_index(1).and_then(Value::as_i64), Some(-2));
    assert_eq!(array.get_index(0).and_then(Value::as_u64), Some(1));
    assert_eq!(array.as_array().map(<[_]>::len), Some(2));
    assert_eq!(Value::from(0.5).as_f64(), Some(0.5));
    assert_eq!(Value::from(f64::NAN), Value::Null);
    assert_eq!(Value::from(None::<u8>), Value::Null);
    assert_eq!(Value::from(Some(true)).as_bool(), Some(true));
    assert_eq!(Value::from(Cow::Borrowed("c")), Value::String("c".into()));
    assert!(Value::default().is_null());

    let from_json = Value::from(serde_json::json!({"k": [1, "s", null, false, 1.5]}));
    assert_eq!(
        from_json,
        Value::Object(vec![(
            "k".into(),
            Value::Array(vec![1.into(), "s".into(), Value::Null, false.into(), 1.5.into()])
        )])
    );

    #[derive(Debug, PartialEq, Deserialize)]
    struct File {
        name: String,
        data: Bytes,
    }
    let file: Value =
        [("name", Value::from("f")), ("data", Bytes::from_static(b"\x09").into())].into_iter().collect();
    assert_eq!(
        file.deserialize_into::<File>(),
        Ok(File { name: "f".into(), data: Bytes::from_static(b"\x09") })
    );
}

#[test]
fn from_args_skips_the_event_name() {
    assert_eq!(from_args::<(String, u32)>(&json(r#"["chat","hi",3]"#)), Ok(("hi".to_owned(), 3)));
    // Extra arguments are ignored, as a JavaScript handler ignores them.
    assert_eq!(from_args::<(String,)>(&json(r#"["chat","hi",3,{"x":[1]}]"#)), Ok(("hi".to_owned(),)));
    assert_eq!(from_args::<()>(&json(r#"["ping"]"#)), Ok(()));
    assert_eq!(from_args::<()>(&json(r#"["ping",1]"#)), Ok(()));
    assert_eq!(from_args::<Vec<Value>>(&json(r#"[1,"a",null]"#)), Ok(vec!["a".into(), Value::Null]));
    assert_eq!(from_args::<Value>(&json(r#"["e"]"#)), Ok(Value::Array(vec![])));

    #[derive(Debug, PartialEq, Deserialize)]
    struct Move {
        x: i32,
        y: i32,
    }
    assert_eq!(from_args::<Move>(&json(r#"["move",-1,2]"#)), Ok(Move { x: -1, y: 2 }));

    // With attachments.
    let payload =
        payload_of(&("file", "a.bin", Bytes::from_static(b"\x01\x02"), [Bytes::from_static(b"\x03")]));
    assert_eq!(
        from_args::<(String, Bytes, Vec<Bytes>)>(&payload),
        Ok(("a.bin".to_owned(), Bytes::from_static(b"\x01\x02"), vec![Bytes::from_static(b"\x03")]))
    );
    assert_eq!(from_args::<(String,)>(&payload), Ok(("a.bin".to_owned(),)));
}

#[test]
fn from_args_reads_a_decoded_binary_event() {
    let mut decoder = Decoder::default();
    let header = ByteString::from_static(
        r#"52-["upload",{"_placeholder":true,"num":1},{"n":{"_placeholder":true,"num":0}}]"#,
    );
    assert_eq!(decoder.decode_text(header), Ok(Decoded::NeedsAttachments { received: 0, expected: 2 }));
    assert!(matches!(
        decoder.decode_binary(Bytes::from_static(b"first")),
        Ok(Decoded::NeedsAttachments { .. })
    ));
    let Ok(Decoded::Complete(packet)) = decoder.decode_binary(Bytes::from_static(b"second")) else {
        panic!("two attachments were announced")
    };
    let payload = packet.data.expect("an event has a payload");
    assert_eq!(event_name(&payload), Some(EventName::String("upload".into())));

    #[derive(Debug, PartialEq, Deserialize)]
    struct Named {
        n: Bytes,
    }
    assert_eq!(
        from_args::<(Bytes, Named)>(&payload),
        Ok((Bytes::from_static(b"second"), Named { n: Bytes::from_static(b"first") }))
    );
}

#[test]
fn from_args_needs_an_array_with_a_name() {
    assert_eq!(from_args::<(u8,)>(&json(r#"{"a":1}"#)), Err(PayloadError::NotAnArray));
    assert_eq!(from_args::<(u8,)>(&json(r#" "x""#)), Err(PayloadError::NotAnArray));
    assert_eq!(from_args::<()>(&json("[]")), Err(PayloadError::MissingEventName));
    assert_eq!(from_args::<()>(&json(" [ ] ")), Err(PayloadError::MissingEventName));
    assert!(matches!(from_args::<(u8, u8)>(&json(r#"["e",1]"#)), Err(PayloadError::Json(_))));
}

#[test]
fn event_names() {
    let name = |text: &str| event_name(&json(text)).map(EventName::into_owned);
    assert_eq!(name(r#"["chat",1]"#), Some(EventName::String("chat".into())));
    assert_eq!(name(" [ \"chat\" ] "), Some(EventName::String("chat".into())));
    assert_eq!(name(r#"["",1]"#), Some(EventName::String("".into())));
    assert_eq!(name(r#"["a\"b\\c\u00e9\ud83d\ude00",1]"#), Some(EventName::String("a\"b\\cé😀".into())));
    assert_eq!(name(r#"["\\"]"#), Some(EventName::String("\\".into())));
    assert_eq!(name("[42,1]"), Some(EventName::Number(42.0)));
    assert_eq!(name("[-1.5e3]"), Some(EventName::Number(-1500.0)));
    assert_eq!(name("[]"), None);
    assert_eq!(name("[null]"), None);
    assert_eq!(name("[[\"a\"]]"), None);
    assert_eq!(name(r#"{"a":1}"#), None);
    assert_eq!(name(r#""chat""#), None);

    let payload = json(r#"["plain",{"_placeholder":true}]"#);
    assert!(matches!(event_name(&payload), Some(EventName::String(Cow::Borrowed("plain")))));
    let number = event_name(&json("[7]")).expect("a number").into_owned();
    assert_eq!((number.as_str(), number.to_string()), (None, "7".to_owned()));
    assert_eq!(event_name(&json("[0.5]")).map(|n| n.to_string()), Some("0.5".to_owned()));
    assert_eq!(EventName::String("x".into()).as_str(), Some("x"));
}

#[test]
fn placeholders_without_attachments_stay_objects() {
    let payload = json(r#"[{"_placeholder":true,"num":0}]"#);
    assert_eq!(
        from_payload::<Value>(&payload),
        Ok(Value::Array(vec![Value::Object(vec![
            ("_placeholder".into(), true.into()),
            ("num".into(), 0.into())
        ])]))
    );
    // Objects that merely look alike are objects.
    let payload =
        with_attachments(r#"[{"_placeholder":false,"num":0},{"_placeholder":true,"num":0}]"#, &[b"x"]);
    let back: (BTreeMap<String, Value>, Bytes) = from_payload(&payload).expect("deserialises");
    assert_eq!(back.0.get("_placeholder"), Some(&Value::Bool(false)));
    assert_eq!(back.1, Bytes::from_static(b"x"));
}

#[test]
fn invalid_placeholders_are_errors() {
    for text in [
        r#"[{"_placeholder":true,"num":1}]"#,
        r#"[{"_placeholder":true}]"#,
        r#"[{"_placeholder":true,"num":"0"}]"#,
        r#"[{"_placeholder":true,"num":-1}]"#,
        r#"[{"_placeholder":true,"num":0.5}]"#,
    ] {
        let payload = with_attachments(text, &[b"x"]);
        assert_eq!(from_payload::<Value>(&payload), Err(PayloadError::InvalidPlaceholder), "{text}");
        assert_eq!(from_payload::<(Bytes,)>(&payload), Err(PayloadError::InvalidPlaceholder), "{text}");
    }
}

#[test]
fn bytes_also_read_from_arrays_of_numbers() {
    assert_eq!(from_payload::<Bytes>(&json("[1,2,255]")), Ok(Bytes::from_static(b"\x01\x02\xff")));
    let payload = with_attachments(r#"[[1,2],{"_placeholder":true,"num":0}]"#, &[b"z"]);
    assert_eq!(
        from_payload::<(Bytes, Bytes)>(&payload),
        Ok((Bytes::from_static(b"\x01\x02"), Bytes::from_static(b"z")))
    );
}

#[test]
fn mismatched_types_are_errors_not_panics() {
    let cases: [(&str, &[&'static [u8]]); 3] = [
        (r#"["a",1]"#, &[]),
        (r#"["a",{"_placeholder":true,"num":0}]"#, &[b"\xff"]),
        (r#"[1,{"_placeholder":true,"num":0},3]"#, &[b"\xff"]),
    ];
    for (text, attachments) in cases {
        let payload = with_attachments(text, attachments);
        assert!(matches!(from_payload::<Upload>(&payload), Err(PayloadError::Json(_))), "{text}");
        assert!(matches!(from_payload::<(String, String)>(&payload), Err(PayloadError::Json(_))), "{text}");
        assert!(matches!(from_payload::<(u8,)>(&payload), Err(PayloadError::Json(_))), "{text}");
        assert!(matches!(from_payload::<Command>(&payload), Err(PayloadError::Json(_))), "{text}");
        assert!(matches!(from_args::<(u8, u8, u8)>(&payload), Err(PayloadError::Json(_))), "{text}");
    }
    // A placeholder is bytes, not a struct or an enum.
    let payload = with_attachments(r#"{"_placeholder":true,"num":0}"#, &[b"x"]);
    assert!(matches!(from_payload::<Chunk>(&payload), Err(PayloadError::Json(_))));
    assert!(matches!(from_payload::<Command>(&payload), Err(PayloadError::Json(_))));
    // Integer ranges are checked.
    let payload = with_attachments(r#"[300,{"_placeholder":true,"num":0}]"#, &[b"x"]);
    assert!(matches!(from_payload::<(u8, Bytes)>(&payload), Err(PayloadError::Json(_))));
    // Messages name the problem.
    let err = from_payload::<(u8, Bytes)>(&payload).expect_err("300 is not a u8");
    assert!(err.to_string().contains("300"), "{err}");
}

#[cfg(feature = "msgpack")]
mod msgpack {
    use super::*;
    use socketio_parser::msgpack::RawMsgPack;

    fn packed<T: Serialize + ?Sized>(value: &T) -> Payload {
        Payload::MsgPack(RawMsgPack::from_serialize(value).expect("serialises"))
    }

    #[test]
    fn msgpack_payloads_round_trip() {
        let value = ("ev", upload(), Command::Send { to: "x".into(), body: Bytes::from_static(b"\x07") });
        let payload = packed(&value);
        assert_eq!(
            from_payload::<(String, Upload, Command)>(&payload),
            Ok(("ev".to_owned(), value.1, value.2))
        );
        assert_eq!(event_name(&payload), Some(EventName::String("ev".into())));
        assert_eq!(from_args::<(Upload,)>(&payload).map(|(u,)| u.name), Ok("a.bin".to_owned()));
        assert_eq!(event_name(&packed(&(12u8, 1))), Some(EventName::Number(12.0)));
        assert_eq!(event_name(&packed(&(-1.5f64,))), Some(EventName::Number(-1.5)));
        assert_eq!(event_name(&packed(&[true])), None);
        assert_eq!(event_name(&packed(&"ev")), None);
    }

    #[test]
    fn msgpack_value_keeps_binary_and_member_order() {
        let value = Value::Array(vec![
            "ev".into(),
            Value::Object(vec![
                ("z".into(), Value::Binary(Bytes::from_static(b"\x01"))),
                ("a".into(), 2.into()),
            ]),
        ]);
        let payload = packed(&value);
        assert_eq!(from_payload::<Value>(&payload), Ok(value.clone()));
        assert_eq!(from_args::<Vec<Value>>(&payload), Ok(vec![value.get_index(1).cloned().expect("two")]));
        // The transcoded JSON payload reads the same.
        let (json, attachments) = to_payload(&value).expect("serialises");
        let transcoded = Payload::MsgPack(RawMsgPack::from_json(&json, &attachments));
        assert_eq!(from_payload::<Value>(&transcoded), Ok(value));
    }

    #[test]
    fn msgpack_keys_read_as_javascript_names_them() {
        let mut wire = vec![0x86, 0xc3, 0x01, 0xc2, 0x02, 0xc0, 0x03, 0x05, 0x04, 0xff, 0x05, 0xcb];
        wire.extend(1.5f64.to_be_bytes());
        wire.push(0x06);
        let raw = RawMsgPack::new(Bytes::from(wire)).expect("valid msgpack");
        let keys = ["true", "false", "null", "5", "-1", "1.5"];
        assert_eq!(
            from_payload::<Value>(&Payload::MsgPack(raw)),
            Ok(Value::Object(keys.iter().zip(1u8..).map(|(k, v)| (k.to_string(), v.into())).collect()))
        );
    }

    #[test]
    fn msgpack_errors() {
        // A map key that is an array ({[1]: 2}) names what keys may be.
        let raw = RawMsgPack::new(Bytes::from_static(&[0x81, 0x91, 0x01, 0x02])).expect("valid msgpack");
        assert_eq!(
            from_payload::<Value>(&Payload::MsgPack(raw)),
            Err(PayloadError::MsgPack(
                "invalid type: sequence, expected a string, number or boolean key".into()
            ))
        );
        assert_eq!(from_args::<()>(&packed(&BTreeMap::from([("a", 1)]))), Err(PayloadError::NotAnArray));
        assert_eq!(from_args::<()>(&packed(&Vec::<u8>::new())), Err(PayloadError::MissingEventName));
        assert!(matches!(from_payload::<(u8, u8)>(&packed(&("a", 1))), Err(PayloadError::MsgPack(_))));
        assert!(matches!(from_args::<(String,)>(&packed(&("a", 1))), Err(PayloadError::MsgPack(_))));
    }
}

/// JSON values at the edges of what the direct reader covers: what it leaves to serde_json
/// (lone surrogates, `-0`, integers beyond 64 bits, floats out of range) and what it reads.
const JSON_PIECES: &[&str] = &[
    r#""plain""#,
    r#""a\nb\t\"q\"\\\/""#,
    r#""\u00e9\u20ac\ud83d\ude00""#,
    r#""\ud800""#,
    r#""\udc00x""#,
    r#""\ud800\u0041""#,
    r#""é😀""#,
    "-0",
    "-0.0",
    "0",
    "-12",
    "0.1",
    "-2.5e-3",
    "1E+2",
    "1e400",
    "-1e400",
    "1e-400",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "true",
    "null",
    "[]",
    "{}",
    r#"{"k":1,"k":[2]}"#,
    r#" { "s" : [ 1 , { } ] } "#,
];

/// Values without object keys that could be mistaken for placeholders.
fn value() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        (-1000i32..1000).prop_map(|n| Value::from(f64::from(n) / 4.0)),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number,
        ".{0,8}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|v| Value::Binary(Bytes::from(v))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(("[a-z]{0,3}", inner), 0..6).prop_map(Value::Object),
        ]
    })
}

/// Equality, with numbers compared by value: `2.0` is written `2` and read back as an integer,
/// and a float parsed back may be one unit in the last place away unless `serde_json` is built
/// with `float_roundtrip`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return x == y;
            }
            if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                return x == y;
            }
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x == y || (x - y).abs() <= f64::EPSILON * 2.0 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        _ => a == b,
    }
}

proptest! {
    #[test]
    fn values_round_trip_through_json(v in value()) {
        let payload = payload_of(&v);
        let back: Value = from_payload(&payload).expect("deserialises");
        prop_assert!(same(&v, &back), "{:?} became {:?} via {:?}", v, back, payload);
        // As the arguments of an event.
        let args: Vec<Value> = from_args(&payload_of(&("ev", &v))).expect("deserialises");
        prop_assert!(args.len() == 1 && same(&v, &args[0]), "{:?} became {:?}", v, args);
    }

    #[cfg(feature = "msgpack")]
    #[test]
    fn values_round_trip_through_msgpack(v in value()) {
        let raw = socketio_parser::msgpack::RawMsgPack::from_serialize(&v).expect("serialises");
        let back: Value = from_payload(&Payload::MsgPack(raw)).expect("deserialises");
        prop_assert!(same(&v, &back), "{:?} became {:?}", v, back);
    }

    #[test]
    fn event_names_read_back_as_written(name in any::<String>(), number in any::<f64>()) {
        let payload = payload_of(&(&name, 1));
        prop_assert_eq!(event_name(&payload), Some(EventName::String(Cow::Borrowed(&*name))));
        if number.is_finite() {
            let payload = payload_of(&(number, 1));
            let EventName::Number(back) = event_name(&payload).expect("a number") else {
                return Err(TestCaseError::fail("not a number"));
            };
            prop_assert!(back == number || (back - number).abs() <= f64::EPSILON * 2.0 * number.abs());
        }
    }

    #[test]
    fn values_read_straight_from_the_text_are_serde_s(v in value(), name in any::<String>()) {
        // Binary values make attachments, where serde reads the payload: the same answer.
        let event = payload_of(&(&name, &v, 1));
        prop_assert_eq!(arg_values(&event), from_args::<Vec<Value>>(&event));
        let answers = payload_of(&(&v, &name));
        prop_assert_eq!(payload_values(&answers), from_payload::<Vec<Value>>(&answers));
    }

    #[test]
    fn arbitrary_texts_read_as_serde_reads_them(text in "[\\[\\]{}\",:0-9a-fu_ .eE+\\-\\\\]{0,40}") {
        // Errors included: what the direct reader does not cover, serde_json reads.
        if let Ok(json) = RawJson::new(text) {
            let payload = Payload::json(json);
            prop_assert_eq!(arg_values(&payload), from_args::<Vec<Value>>(&payload));
            prop_assert_eq!(payload_values(&payload), from_payload::<Vec<Value>>(&payload));
        }
    }

    #[test]
    fn json_edge_cases_read_as_serde_reads_them(
        parts in proptest::collection::vec(proptest::sample::select(JSON_PIECES), 0..8),
        nest in proptest::collection::vec(any::<bool>(), 0..3),
    ) {
        let mut text = format!("[{}]", parts.join(","));
        for object in nest {
            text = if object { format!(r#"{{"k":{text}}}"#) } else { format!("[{text}]") };
        }
        let payload = json(&text);
        prop_assert_eq!(arg_values(&payload), from_args::<Vec<Value>>(&payload));
        prop_assert_eq!(payload_values(&payload), from_payload::<Vec<Value>>(&payload));
    }

    #[test]
    fn arbitrary_payloads_never_panic(text in "[\\[\\]{}\",:0-9a-z_ ]{0,40}", n in 0usize..3) {
        if let Ok(json) = RawJson::new(text) {
            let payload = Payload::Json { json, attachments: vec![Bytes::from_static(b"x"); n] };
            let _ = from_payload::<Value>(&payload);
            let _ = from_payload::<(String, Bytes, Option<u8>)>(&payload);
            let _ = from_args::<(Value, Value)>(&payload);
            let _ = event_name(&payload);
        }
    }
}

#[test]
fn error_messages_are_exact() {
    // Without attachments serde_json reads the text itself, so its message has the position.
    assert_eq!(
        from_payload::<(u8,)>(&json(r#"["a"]"#)),
        Err(PayloadError::Json(r#"invalid type: string "a", expected u8 at line 1 column 4"#.into()))
    );
    // With attachments the tree is read: no position to report.
    assert_eq!(
        from_payload::<(u8, Bytes)>(&with_attachments(r#"["a",{"_placeholder":true,"num":0}]"#, &[b"x"])),
        Err(PayloadError::Json(r#"invalid type: string "a", expected u8"#.into()))
    );
    assert_eq!(
        socketio_parser::first_arg::<u8>(&json("[]")),
        Err(PayloadError::Json(
            "invalid length 0, expected a non-empty array of arguments at line 1 column 2".into()
        ))
    );
}

#[test]
fn event_name_strings() {
    let payload = json(r#"["chat",1]"#);
    let name = socketio_parser::event_name_string(&payload);
    assert_eq!(name, "chat");
    // The name shares the payload's buffer.
    let Payload::Json { json: text, .. } = &payload else { unreachable!("a JSON payload") };
    assert_eq!(name.as_ptr(), text.as_str()[2..].as_ptr());
    for (text, expected) in
        [(r#"[1.5,"x"]"#, "1.5"), (r#"["a\u0062"]"#, "ab"), ("[]", ""), ("{}", ""), ("[null]", "")]
    {
        assert_eq!(socketio_parser::event_name_string(&json(text)), expected, "{text}");
    }
}

#[test]
fn accessors_answer_only_for_their_own_kind() {
    let values = [
        Value::Null,
        Value::Bool(false),
        Value::from(7u8),
        Value::from("s"),
        Value::Array(vec![Value::Null]),
        Value::Object(vec![("k".into(), Value::Null)]),
        Value::Binary(Bytes::from_static(b"b")),
    ];
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v.is_null(), i == 0, "{v:?}");
        assert_eq!(v.as_bool(), (i == 1).then_some(false), "{v:?}");
        assert_eq!(v.as_u64(), (i == 2).then_some(7), "{v:?}");
        assert_eq!(v.as_i64(), (i == 2).then_some(7), "{v:?}");
        assert_eq!(v.as_f64(), (i == 2).then_some(7.0), "{v:?}");
        assert_eq!(v.as_str(), (i == 3).then_some("s"), "{v:?}");
        assert_eq!(v.as_array().map(<[_]>::len), (i == 4).then_some(1), "{v:?}");
        assert_eq!(v.as_object().map(<[_]>::len), (i == 5).then_some(1), "{v:?}");
        assert_eq!(v.get("k"), (i == 5).then_some(&Value::Null), "{v:?}");
        assert_eq!(v.get_index(0), (i == 4).then_some(&Value::Null), "{v:?}");
        assert_eq!(v.as_bytes(), (i == 6).then(|| Bytes::from_static(b"b")).as_ref(), "{v:?}");
    }
    assert_eq!(Value::from(0.5f32), Value::Number(serde_json::Number::from_f64(0.5).expect("finite")));
    assert_eq!(Value::from(serde_json::Number::from(3)), Value::from(3u8));
    assert_eq!(Value::from(String::from("s")), Value::String("s".into()));
    assert_eq!([1u8, 2].into_iter().collect::<Value>(), Value::Array(vec![1.into(), 2.into()]));
    assert_eq!(Value::from(-1i8).as_u64(), None);
    assert_eq!(Value::from(u64::MAX).as_i64(), None);
    assert_eq!(Value::from(1.5).as_i64(), None);
}

/// A deserializer that hands one chosen call to the visitor, for the visitor methods JSON and
/// msgpack readers do not call.
enum Visit {
    I128(i128),
    U128(u128),
    String(&'static str),
    ByteBuf(&'static [u8]),
    None,
    Some,
    NewtypeStruct,
    Enum,
}

impl<'de> serde::Deserializer<'de> for Visit {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        use serde::de::IntoDeserializer;
        match self {
            Visit::I128(v) => visitor.visit_i128(v),
            Visit::U128(v) => visitor.visit_u128(v),
            Visit::String(s) => visitor.visit_string(s.to_owned()),
            Visit::ByteBuf(b) => visitor.visit_byte_buf(b.to_vec()),
            Visit::None => visitor.visit_none(),
            Visit::Some => visitor.visit_some(7u8.into_deserializer()),
            Visit::NewtypeStruct => visitor.visit_newtype_struct("n".into_deserializer()),
            Visit::Enum => visitor.visit_enum("e".into_deserializer()),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[test]
fn value_reads_every_visitor_call() {
    // Keys of an owned map come as owned strings.
    assert_eq!(
        serde_json::from_value::<Value>(serde_json::json!({"k": 1})).map_err(|e| e.to_string()),
        Ok(Value::Object(vec![("k".into(), 1.into())]))
    );
    use serde::Deserialize as _;
    let read = |v: Visit| Value::deserialize(v).map_err(|e| e.to_string());
    assert_eq!(read(Visit::I128(-5)), Ok(Value::from(-5i64)));
    assert_eq!(read(Visit::I128(i128::from(u64::MAX))), Ok(Value::from(u64::MAX)));
    assert_eq!(read(Visit::I128(i128::MIN)), Ok(Value::from(i128::MIN as f64)));
    assert_eq!(read(Visit::U128(9)), Ok(Value::from(9u64)));
    assert_eq!(read(Visit::U128(u128::MAX)), Ok(Value::from(u128::MAX as f64)));
    assert_eq!(read(Visit::String("s")), Ok(Value::from("s")));
    assert_eq!(read(Visit::ByteBuf(b"\x01")), Ok(Value::Binary(Bytes::from_static(b"\x01"))));
    assert_eq!(read(Visit::None), Ok(Value::Null));
    assert_eq!(read(Visit::Some), Ok(Value::from(7u8)));
    assert_eq!(read(Visit::NewtypeStruct), Ok(Value::from("n")));
    assert_eq!(read(Visit::Enum), Err("invalid type: enum, expected any JSON or msgpack value".to_owned()));
}

/// Reads the first two members of an object and stops.
#[derive(Debug, PartialEq)]
struct TwoMembers;

impl<'de> serde::Deserialize<'de> for TwoMembers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = TwoMembers;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<TwoMembers, A::Error> {
                map.next_entry::<String, Value>()?;
                map.next_entry::<String, Value>()?;
                Ok(TwoMembers)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

#[test]
fn payloads_with_attachments_are_read_exactly() {
    let ph = r#"{"_placeholder":true,"num":0}"#;
    // Elements or members a type leaves unread are an error, counting those it read.
    let payload = with_attachments(&format!("[1,{ph},3]"), &[b"x"]);
    assert_eq!(
        from_payload::<(u8, Bytes)>(&payload),
        Err(PayloadError::Json("invalid length 2, expected fewer elements in array".into()))
    );
    let payload = with_attachments(&format!(r#"[{{"a":1,"b":2,"c":3}},{ph}]"#), &[b"x"]);
    assert_eq!(
        from_payload::<(TwoMembers, Bytes)>(&payload),
        Err(PayloadError::Json("invalid length 2, expected fewer members in object".into()))
    );
    // Integers above i64 stay integers.
    let payload = with_attachments(&format!("[18446744073709551615,{ph}]"), &[b"x"]);
    assert_eq!(
        from_payload::<Value>(&payload),
        Ok(Value::Array(vec![u64::MAX.into(), Value::Binary(Bytes::from_static(b"x"))]))
    );
    // An enum is a string or an object with exactly one member.
    let payload = with_attachments(&format!(r#"[{{"Send":{{"to":"a","body":{ph}}},"Stop":null}}]"#), &[b"x"]);
    assert_eq!(
        from_payload::<(Command,)>(&payload),
        Err(PayloadError::Json("invalid type: map, expected a string or an object with one member".into()))
    );
    let payload = with_attachments(&format!(r#"[{{"Send":{{"to":"a","body":{ph}}}}}]"#), &[b"x"]);
    assert_eq!(
        from_payload::<(Command,)>(&payload),
        Ok((Command::Send { to: "a".into(), body: Bytes::from_static(b"x") },))
    );
}

#[test]
fn read_values_hold_no_spare_capacity() {
    let payload = with_attachments(
        r#"[[1,2,3,4,5],{"a":1,"b":2,"c":3,"d":4,"e":5},{"_placeholder":true,"num":0}]"#,
        &[b"x"],
    );
    let (array, object, _): (Value, Value, Bytes) = from_payload(&payload).expect("reads");
    let (Value::Array(items), Value::Object(members)) = (array, object) else {
        unreachable!("an array and an object")
    };
    assert_eq!((items.len(), items.capacity()), (5, 5));
    assert_eq!((members.len(), members.capacity()), (5, 5));
}

#[test]
fn unit_variants_carry_null_or_nothing() {
    let ph = r#"{"_placeholder":true,"num":0}"#;
    let read = |text: String| from_payload::<(Command, Bytes)>(&with_attachments(&text, &[b"x"]));
    assert_eq!(read(format!(r#"["Stop",{ph}]"#)), Ok((Command::Stop, Bytes::from_static(b"x"))));
    assert_eq!(read(format!(r#"[{{"Stop":null}},{ph}]"#)), Ok((Command::Stop, Bytes::from_static(b"x"))));
    assert_eq!(
        read(format!(r#"[{{"Stop":1}},{ph}]"#)),
        Err(PayloadError::Json("invalid type: integer `1`, expected unit variant".into()))
    );
}
