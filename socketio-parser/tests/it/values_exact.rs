//! Values travel exactly as a JavaScript peer sends them: every double comes back with the same
//! bits, objects keep their member order, a null argument is an argument, and binary data is
//! never read as text.

use bytes::Bytes;
use socketio_parser::args::event_payload;
use socketio_parser::connection::Parser;
use socketio_parser::{arg_values, from_args, from_payload, Payload, RawJson, Spread, Value};

fn json_text(payload: &Payload) -> String {
    match payload {
        Payload::Json { json, attachments } if attachments.is_empty() => json.as_str().to_owned(),
        other => panic!("not a JSON payload without attachments: {other:?}"),
    }
}

fn json(text: &str) -> Payload {
    Payload::json(RawJson::new(text).expect("valid JSON"))
}

/// Doubles of every kind, from a fixed seed: random bit patterns (any exponent) and decimals
/// with up to 17 significant digits, the numbers `Math.random() * k` gives.
fn doubles(count: usize) -> Vec<f64> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let bits = next();
        let value = if out.len() % 2 == 0 {
            f64::from_bits(bits)
        } else {
            (bits >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((bits % 13) as i32)
        };
        // JavaScript has no NaN or infinity in JSON, and `JSON.stringify(-0)` is `0`.
        if value.is_finite() && value != 0.0 {
            out.push(value);
        }
    }
    out
}

#[test]
fn twenty_thousand_doubles_come_back_with_the_same_bits() {
    let values = doubles(20_000);
    let mut changed = Vec::new();
    for chunk in values.chunks(500) {
        let sent = event_payload(Parser::Json, "ev", &Spread(chunk.to_vec())).expect("serialises");
        // Typed, as a handler reading `f64` arguments does.
        let typed: Vec<f64> = from_args(&sent).expect("typed arguments");
        // Untyped, and written back, as an echo through `event.values()` does.
        let untyped: Vec<Value> = from_args(&sent).expect("untyped arguments");
        // Read straight from the text, as `event.values()` reads them: the same values.
        assert_eq!(arg_values(&sent).as_ref(), Ok(&untyped));
        let echoed = event_payload(Parser::Json, "ev", &Spread(untyped)).expect("serialises");
        assert_eq!(json_text(&echoed), json_text(&sent), "the echo writes the same text");
        for (a, b) in chunk.iter().zip(&typed) {
            if a.to_bits() != b.to_bits() {
                changed.push((*a, *b));
            }
        }
        assert_eq!(typed.len(), chunk.len());
    }
    assert_eq!(changed, Vec::<(f64, f64)>::new(), "doubles changed by a round trip");
}

#[test]
fn doubles_written_by_javascript_are_read_exactly() {
    // `JSON.stringify` forms: shortest digits, exponents from 1e21 and below 1e-6.
    let payload =
        json(r#"["ev",91397.34366952299,0.1,1e+21,5e-324,1.7976931348623157e+308,1.2345678901234566e-7]"#);
    let read: Vec<f64> = from_args(&payload).expect("doubles");
    let expected = [91397.34366952299, 0.1, 1e21, 5e-324, f64::MAX, 1.2345678901234566e-7];
    assert_eq!(read.iter().map(|f| f.to_bits()).collect::<Vec<_>>(), expected.map(f64::to_bits).to_vec());
    let values: Vec<Value> = from_args(&payload).expect("values");
    assert_eq!(arg_values(&payload).as_ref(), Ok(&values));
    let echoed = event_payload(Parser::Json, "ev", &Spread(values)).expect("serialises");
    assert_eq!(
        json_text(&echoed),
        r#"["ev",91397.34366952299,0.1,1e+21,5e-324,1.7976931348623157e+308,1.2345678901234566e-7]"#
    );
}

#[test]
fn object_members_keep_their_order() {
    let text = r#"["ev",{"b":1,"a":{"d":1,"c":2},"z":[{"y":0,"x":1}]}]"#;
    let payload = json(text);
    // Through `serde_json::Value` (the type of `auth` and `data`) and through `Value`.
    let (object,): (serde_json::Value,) = from_args(&payload).expect("an object");
    assert_eq!(object.to_string(), r#"{"b":1,"a":{"d":1,"c":2},"z":[{"y":0,"x":1}]}"#);
    let echoed = event_payload(Parser::Json, "ev", &(object,)).expect("serialises");
    assert_eq!(json_text(&echoed), text);
    let values: Vec<Value> = from_args(&payload).expect("values");
    assert_eq!(json_text(&event_payload(Parser::Json, "ev", &Spread(values)).expect("serialises")), text);
    // A CONNECT's auth is read with `from_payload`.
    let auth: serde_json::Value = from_payload(&json(r#"{"b":1,"a":{"d":1,"c":2}}"#)).expect("auth");
    assert_eq!(auth.to_string(), r#"{"b":1,"a":{"d":1,"c":2}}"#);
}

#[test]
fn a_null_held_by_a_value_is_one_argument() {
    let text = |args: &dyn erased::Args| json_text(&args.payload());
    assert_eq!(text(&Value::Null), r#"["ev",null]"#);
    assert_eq!(text(&serde_json::Value::Null), r#"["ev",null]"#);
    assert_eq!(text(&(Value::Null,)), r#"["ev",null]"#);
    assert_eq!(text(&(Value::Null, Value::Null)), r#"["ev",null,null]"#);
    assert_eq!(text(&std::marker::PhantomData::<u8>), r#"["ev",null]"#);
    // `()` alone is no argument.
    assert_eq!(text(&()), r#"["ev"]"#);
    // The same holds for an ack's arguments.
    let nsp = "/".into();
    let ack = socketio_parser::EncodedAck::from_args(Parser::Json, &nsp, 3, &Value::Null).expect("ack");
    let expected = socketio_parser::EncodedAck::serialize(&nsp, 3, &[Value::Null]).expect("ack");
    assert_eq!(Some(ack), expected, "the answer is `[null]`");
}

mod erased {
    use super::*;

    /// Any argument value, to list several types in one test.
    pub(crate) trait Args {
        fn payload(&self) -> Payload;
    }

    impl<T: serde::Serialize> Args for T {
        fn payload(&self) -> Payload {
            event_payload(Parser::Json, "ev", self).expect("serialises")
        }
    }
}

#[test]
fn a_binary_argument_is_not_text() {
    // Valid UTF-8 bytes, as an attachment: read as bytes, refused as a string.
    let payload = Payload::Json {
        json: RawJson::new(r#"["ev",{"_placeholder":true,"num":0},"text"]"#).expect("valid JSON"),
        attachments: vec![Bytes::from_static(b"hello")],
    };
    let error = from_args::<(String,)>(&payload).expect_err("binary is not a string");
    assert_eq!(error.to_string(), "JSON payload: invalid type: byte array, expected a string");
    assert!(from_args::<(char,)>(&payload).is_err(), "nor a character");
    let (bytes, text): (Bytes, String) = from_args(&payload).expect("bytes then text");
    assert_eq!((&bytes[..], text.as_str()), (&b"hello"[..], "text"));
    assert_eq!(
        from_args::<Vec<Value>>(&payload).expect("values"),
        vec![Value::Binary(Bytes::from_static(b"hello")), Value::String("text".into())]
    );
    // An object that only looks like a placeholder, without attachments, stays an object.
    let plain = json(r#"["ev",{"_placeholder":true,"num":0}]"#);
    assert!(from_args::<(String,)>(&plain).is_err());
}

#[cfg(feature = "msgpack")]
#[test]
fn a_msgpack_bin_argument_is_not_text() {
    use socketio_parser::msgpack::RawMsgPack;
    let raw = RawMsgPack::from_serialize(&("ev", Bytes::from_static(b"hello"), "text")).expect("msgpack");
    let payload = Payload::MsgPack(raw);
    assert_eq!(Parser::of(&payload), Parser::MsgPack);
    assert_eq!(Parser::of(&json(r#"["ev"]"#)), Parser::Json);
    assert!(from_args::<(String,)>(&payload).is_err(), "a bin value is not a string");
    let (bytes, text): (Bytes, String) = from_args(&payload).expect("bytes then text");
    assert_eq!((&bytes[..], text.as_str()), (&b"hello"[..], "text"));
    let whole: (String, Bytes, String) = from_payload(&payload).expect("the whole payload");
    assert_eq!(&whole.1[..], b"hello");
    assert!(from_payload::<(String, String, String)>(&payload).is_err());
    // Without a bin value, strings read as usual.
    let text_only = Payload::MsgPack(RawMsgPack::from_serialize(&("ev", "a", 1)).expect("msgpack"));
    assert_eq!(from_args::<(String, u8)>(&text_only).expect("text"), ("a".to_owned(), 1));
}
