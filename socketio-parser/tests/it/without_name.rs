//! `Payload::without_name`: an event's arguments as received, for handlers that pass them on
//! without reading them.

use socketio_parser::{Bytes, Payload, RawJson};

fn json(text: &str) -> Payload {
    Payload::json(RawJson::new(text.to_owned()).expect("valid JSON"))
}

fn args_text(payload: &str) -> Option<String> {
    match json(payload).without_name()? {
        Payload::Json { json, .. } => Some(json.as_str().to_owned()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

#[test]
fn drops_the_name_and_keeps_the_arguments_bytes() {
    assert_eq!(args_text(r#"["echo",{"seq":1}]"#).as_deref(), Some(r#"[{"seq":1}]"#));
    assert_eq!(args_text(r#"["echo"]"#).as_deref(), Some("[]"));
    assert_eq!(args_text(" [ \"echo\" ,\n1 , 2 ] ").as_deref(), Some("[\n1 , 2 ] "));
    assert_eq!(args_text(r#"["a\"],\\",1]"#).as_deref(), Some("[1]"));
    assert_eq!(args_text(r#"["\\",["]"]]"#).as_deref(), Some(r#"[["]"]]"#));
    assert_eq!(args_text(r#"["é☃",true]"#).as_deref(), Some("[true]"));
    for text in ["[]", "[1,2]", r#"{"a":1}"#, r#""str""#, "1", "[[\"a\"],1]", "[null]"] {
        assert_eq!(args_text(text), None, "{text}");
    }
}

#[test]
fn what_it_gives_is_valid_json() {
    for text in [r#"["e",1,"two",{"3":[4]}]"#, r#"["e"]"#, " [\"e\" ] ", r#"["e\\\"",null]"#] {
        let Some(Payload::Json { json, .. }) = json(text).without_name() else { panic!("{text}") };
        let args: Vec<serde_json::Value> = serde_json::from_str(json.as_str()).expect("valid JSON");
        let mut all: Vec<serde_json::Value> = serde_json::from_str(text).expect("valid JSON");
        all.remove(0);
        assert_eq!(args, all, "{text}");
    }
}

#[test]
fn keeps_attachments() {
    let payload = Payload::Json {
        json: RawJson::new(r#"["f",{"_placeholder":true,"num":0}]"#).expect("valid"),
        attachments: vec![Bytes::from_static(b"\x01")],
    };
    let Some(Payload::Json { json, attachments }) = payload.without_name() else { panic!("an event") };
    assert_eq!(json.as_str(), r#"[{"_placeholder":true,"num":0}]"#);
    assert_eq!(attachments, [Bytes::from_static(b"\x01")]);
}

#[cfg(feature = "msgpack")]
#[test]
fn drops_the_name_of_msgpack_events_of_every_size() {
    use socketio_parser::msgpack::RawMsgPack;
    for (n, name_len) in [(0usize, 1usize), (1, 31), (15, 32), (16, 255), (65_535, 256), (65_536, 70_000)] {
        let name = "n".repeat(name_len);
        let mut all: Vec<serde_json::Value> = vec![name.clone().into()];
        all.extend((0..n as u32).map(serde_json::Value::from));
        let payload = Payload::MsgPack(RawMsgPack::from_serialize(&all).expect("encodes"));
        let Some(Payload::MsgPack(raw)) = payload.without_name() else { panic!("{n} items") };
        assert!(RawMsgPack::new(raw.as_bytes().clone()).is_ok(), "still one valid value");
        let args: Vec<serde_json::Value> = raw.deserialize().expect("decodes");
        assert_eq!(args, all[1..], "{n} items, a name of {name_len} bytes");
    }
    let not_named = Payload::MsgPack(RawMsgPack::from_serialize(&[1, 2]).expect("encodes"));
    assert_eq!(not_named.without_name(), None);
    let empty = Payload::MsgPack(RawMsgPack::from_serialize(&Vec::<u8>::new()).expect("encodes"));
    assert_eq!(empty.without_name(), None);
}
