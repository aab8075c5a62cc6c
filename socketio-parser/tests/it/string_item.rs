//! `Payload::with_string_item`: the offset connection state recovery appends to an event.

use socketio_parser::{Bytes, Payload, RawJson};

fn json(text: &str) -> Payload {
    Payload::json(RawJson::new(text.to_owned()).expect("valid JSON"))
}

#[test]
fn appends_to_json_arrays() {
    assert_eq!(json(r#"["foo",1]"#).with_string_item("MzUPkW0"), Some(json(r#"["foo",1,"MzUPkW0"]"#)));
    assert_eq!(json(r#" [ "foo" ] "#).with_string_item("x"), Some(json(r#" [ "foo" ,"x"]"#)));
    assert_eq!(json("[]").with_string_item("x"), Some(json(r#"["x"]"#)));
    assert_eq!(json("[ \n]").with_string_item("x"), Some(json("[ \n\"x\"]")));
    // Escaped as JSON requires.
    assert_eq!(json(r#"["a"]"#).with_string_item("q\"\\"), Some(json(r#"["a","q\"\\"]"#)));
}

#[test]
fn keeps_attachments() {
    let payload = Payload::Json {
        json: RawJson::new(r#"["f",{"_placeholder":true,"num":0}]"#).expect("valid"),
        attachments: vec![Bytes::from_static(b"\x01")],
    };
    let Some(Payload::Json { json, attachments }) = payload.with_string_item("o") else {
        panic!("a JSON payload")
    };
    assert_eq!(json.as_str(), r#"["f",{"_placeholder":true,"num":0},"o"]"#);
    assert_eq!(attachments, [Bytes::from_static(b"\x01")]);
}

#[test]
fn refuses_what_is_not_an_array() {
    assert_eq!(json(r#"{"a":1}"#).with_string_item("x"), None);
    assert_eq!(json(r#""str""#).with_string_item("x"), None);
    assert_eq!(json("1").with_string_item("x"), None);
}

#[cfg(feature = "msgpack")]
#[test]
fn appends_to_msgpack_arrays_of_every_header_size() {
    use socketio_parser::msgpack::RawMsgPack;
    for n in [0usize, 1, 14, 15, 16, 65_535, 65_536] {
        let items: Vec<u32> = (0..n as u32).collect();
        let payload = Payload::MsgPack(RawMsgPack::from_serialize(&items).expect("encodes"));
        let Some(Payload::MsgPack(raw)) = payload.with_string_item("off") else { panic!("an array") };
        let (numbers, last): (Vec<u32>, String) = {
            let mut all: Vec<serde_json::Value> = raw.deserialize().expect("decodes");
            let last = all.pop().and_then(|v| v.as_str().map(str::to_owned)).expect("a string");
            (all.into_iter().map(|v| v.as_u64().expect("a number") as u32).collect(), last)
        };
        assert_eq!((numbers, last.as_str()), (items, "off"), "{n} items");
        assert!(RawMsgPack::new(raw.as_bytes().clone()).is_ok(), "still one valid value");
    }
    let map = Payload::MsgPack(
        RawMsgPack::from_serialize(&[("a", 1)].into_iter().collect::<std::collections::BTreeMap<_, _>>())
            .expect("encodes"),
    );
    assert_eq!(map.with_string_item("x"), None);
}
