//! Reading payloads back into Rust values: the inverse of [`to_payload`](crate::to_payload).
//!
//! * [`from_payload`] deserialises a whole payload, binary placeholders presented to serde as
//!   bytes, so the target type may hold [`Bytes`] anywhere.
//! * [`from_args`] deserialises the arguments of an event, without its name.
//! * [`event_name`] reads an event's name without reading the rest.
//! * [`Value`] holds untyped arguments, binary values included, with object members in order.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IgnoredAny, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde::ser::{Serialize, Serializer};
use serde::{forward_to_deserialize_any, Deserialize, Deserializer};

use crate::packet::Payload;

/// Why a payload could not be read as the requested type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The JSON payload does not hold the requested type, or `serde_json` does not read it (it
    /// refuses lone surrogate escapes, which `JSON.parse` accepts). Carries the error's message.
    #[error("JSON payload: {0}")]
    Json(String),
    /// The msgpack payload does not hold the requested type (feature `msgpack`). Carries the
    /// error's message.
    #[error("msgpack payload: {0}")]
    MsgPack(String),
    /// An object whose `_placeholder` member is `true` has no `num` member that indexes the
    /// attachments; the reference decoder calls this "illegal attachments".
    #[error("illegal attachments: invalid placeholder")]
    InvalidPlaceholder,
    /// The arguments of an event or an ack were asked for, but the payload is not an array.
    #[error("payload is not an array")]
    NotAnArray,
    /// The arguments of an event were asked for, but the array is empty: an event starts with
    /// its name.
    #[error("event payload has no name")]
    MissingEventName,
}

fn json_error(e: serde_json::Error) -> PayloadError {
    PayloadError::Json(e.to_string())
}

#[cfg(feature = "msgpack")]
fn msgpack_error(e: rmp_serde::decode::Error) -> PayloadError {
    PayloadError::MsgPack(e.to_string())
}

/// Deserialises a payload.
///
/// For a JSON payload with attachments, every object whose `_placeholder` member is `true` is a
/// binary placeholder: its `num` member must index `attachments` (the decoder checks this for
/// binary packets, else [`PayloadError::InvalidPlaceholder`]), and serde sees `attachments[num]`
/// as bytes, so `T` may hold [`Bytes`] (or [`Value::Binary`]) at any depth. Without attachments,
/// as in the reference parser for packets that are not binary, such objects stay objects.
///
/// A msgpack payload (feature `msgpack`) is read with `rmp_serde`; its `bin` values are bytes.
///
/// ```
/// use socketio_parser::{from_payload, to_payload, Bytes, Payload};
///
/// let (json, attachments) = to_payload(&("file", Bytes::from_static(b"\x01\x02")))?;
/// let payload = Payload::Json { json, attachments };
/// let (name, data): (String, Bytes) = from_payload(&payload)?;
/// assert_eq!((name.as_str(), &data[..]), ("file", &[1u8, 2][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_payload<T: DeserializeOwned>(payload: &Payload) -> Result<T, PayloadError> {
    match payload {
        Payload::Json { json, attachments } if attachments.is_empty() => {
            serde_json::from_str(json.as_str()).map_err(json_error)
        }
        Payload::Json { json, attachments } => {
            let tree: Value = serde_json::from_str(json.as_str()).map_err(json_error)?;
            T::deserialize(Tree { value: &tree, attachments }).map_err(|e| e.0)
        }
        #[cfg(feature = "msgpack")]
        Payload::MsgPack(raw) => from_msgpack(raw),
    }
}

/// Reads a msgpack payload. `rmp_serde` hands `bin` values to string visitors, which accept
/// UTF-8 bytes; so a payload that may hold a `bin` value (one of its marker bytes appears
/// anywhere) is read through a [`Value`], where binary data is never text.
#[cfg(feature = "msgpack")]
fn from_msgpack<T: DeserializeOwned>(raw: &crate::msgpack::RawMsgPack) -> Result<T, PayloadError> {
    if raw.as_bytes().iter().any(|b| matches!(b, 0xc4..=0xc6)) {
        let tree: Value = raw.deserialize().map_err(msgpack_error)?;
        T::deserialize(Tree { value: &tree, attachments: &[] }).map_err(|e| e.0)
    } else {
        raw.deserialize().map_err(msgpack_error)
    }
}

/// Deserialises the arguments of an event: the payload's array without its first element, the
/// event name. `T` is read as a sequence: a tuple, a `Vec`, a tuple struct, a struct (its fields
/// in order), or a [`Value`] (an array); `()` takes no argument.
///
/// Arguments beyond the ones `T` reads are ignored, as a JavaScript handler ignores them.
/// Placeholders are read as [`from_payload`] reads them. To read the arguments of an ack, which
/// has no name, use [`from_payload`] with a tuple.
///
/// ```
/// use socketio_parser::{from_args, Payload, RawJson};
///
/// let payload = Payload::json(RawJson::new(r#"["chat","hi",3,"extra"]"#)?);
/// let (text, count): (String, u32) = from_args(&payload)?;
/// assert_eq!((text.as_str(), count), ("hi", 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_args<T: DeserializeOwned>(payload: &Payload) -> Result<T, PayloadError> {
    from_args_inner(payload)
}

/// The arguments of an event as [`Value`]s: what [`from_args`]`::<Vec<Value>>` gives, read
/// straight from the text for a JSON payload without attachments (no serde in between).
///
/// ```
/// use socketio_parser::{arg_values, Payload, RawJson, Value};
///
/// let payload = Payload::json(RawJson::new(r#"["chat","hi",{"n":3}]"#)?);
/// let args = arg_values(&payload)?;
/// assert_eq!(args[0], Value::from("hi"));
/// assert_eq!(args[1].get("n").and_then(Value::as_u64), Some(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn arg_values(payload: &Payload) -> Result<Vec<Value>, PayloadError> {
    match payload {
        Payload::Json { json, attachments } if attachments.is_empty() => {
            match crate::tree::args(json.as_str()) {
                Some(args) => args.ok_or(PayloadError::MissingEventName),
                None => from_args(payload),
            }
        }
        _ => from_args(payload),
    }
}

/// A payload's array as [`Value`]s (an ack's answers): what [`from_payload`]`::<Vec<Value>>`
/// gives, read straight from the text for a JSON payload without attachments.
///
/// ```
/// use socketio_parser::{payload_values, Payload, RawJson, Value};
///
/// let answers = Payload::json(RawJson::new(r#"[1,"two"]"#)?);
/// assert_eq!(payload_values(&answers)?, [Value::from(1), Value::from("two")]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn payload_values(payload: &Payload) -> Result<Vec<Value>, PayloadError> {
    match payload {
        Payload::Json { json, attachments } if attachments.is_empty() => {
            match crate::tree::value(json.as_str()) {
                Some(Value::Array(items)) => Ok(items),
                _ => from_payload(payload),
            }
        }
        _ => from_payload(payload),
    }
}

/// The first element of `payload`, an array (the first answer of an ack), read as `T`; the
/// others are skipped without being read into values.
///
/// ```
/// use socketio_parser::{first_arg, Payload, RawJson};
///
/// let answers = Payload::json(RawJson::new(r#"[1,{"a":[2]}]"#)?);
/// assert_eq!(first_arg::<u8>(&answers)?, 1);
/// assert!(first_arg::<u8>(&Payload::json(RawJson::new("[]")?)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn first_arg<T: DeserializeOwned>(payload: &Payload) -> Result<T, PayloadError> {
    from_payload::<First<T>>(payload).map(|First(t)| t)
}

/// The first element of a sequence, the others ignored.
struct First<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for First<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);

        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = First<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a non-empty array of arguments")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<First<T>, A::Error> {
                let first = seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }

        deserializer.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

fn from_args_inner<T: DeserializeOwned>(payload: &Payload) -> Result<T, PayloadError> {
    let args: Args<T> = match payload {
        Payload::Json { json, attachments } => {
            if !json.as_str().trim_start_matches(JSON_WS).starts_with('[') {
                return Err(PayloadError::NotAnArray);
            }
            if attachments.is_empty() {
                serde_json::from_str(json.as_str()).map_err(json_error)?
            } else {
                let tree: Value = serde_json::from_str(json.as_str()).map_err(json_error)?;
                Args::deserialize(Tree { value: &tree, attachments }).map_err(|e| e.0)?
            }
        }
        #[cfg(feature = "msgpack")]
        Payload::MsgPack(raw) => {
            if !matches!(raw.as_bytes().first(), Some(0x90..=0x9f | 0xdc | 0xdd)) {
                return Err(PayloadError::NotAnArray);
            }
            from_msgpack(raw)?
        }
    };
    args.0.ok_or(PayloadError::MissingEventName)
}

const JSON_WS: [char; 4] = [' ', '\t', '\n', '\r'];

/// The name of an event: the first element of its payload, a string or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum EventName<'a> {
    /// A string name, borrowed from the payload unless it had escapes.
    String(Cow<'a, str>),
    /// A number name, which JavaScript turns into its string form when it looks up handlers.
    Number(f64),
}

impl EventName<'_> {
    /// The name if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            EventName::String(s) => Some(s),
            EventName::Number(_) => None,
        }
    }

    /// The name as JavaScript's `String(name)` writes it: numbers as
    /// [`write_js_number`](crate::write_js_number) writes them.
    pub fn to_js_string(&self) -> Cow<'_, str> {
        match self {
            EventName::String(s) => Cow::Borrowed(s),
            EventName::Number(n) => Cow::Owned(js_number(*n)),
        }
    }

    /// The name, owning its string.
    pub fn into_owned(self) -> EventName<'static> {
        match self {
            EventName::String(s) => EventName::String(Cow::Owned(s.into_owned())),
            EventName::Number(n) => EventName::Number(n),
        }
    }
}

impl fmt::Display for EventName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_js_string())
    }
}

fn js_number(n: f64) -> String {
    let mut out = Vec::with_capacity(24);
    match crate::write_js_number(n, &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The event name of an event payload: its first element if that is a string or a number;
/// `None` if the payload is not an array or its first element is neither.
///
/// For JSON only the name is read, not the rest of the payload, and a name without escapes is
/// borrowed from the payload.
///
/// ```
/// use socketio_parser::{event_name, EventName, Payload, RawJson};
///
/// let payload = Payload::json(RawJson::new(r#"["chat",{"long":"payload"}]"#)?);
/// assert_eq!(event_name(&payload), Some(EventName::String("chat".into())));
/// # Ok::<(), socketio_parser::DecodeError>(())
/// ```
pub fn event_name(payload: &Payload) -> Option<EventName<'_>> {
    match payload {
        Payload::Json { json, .. } => json_event_name(json.as_str()),
        #[cfg(feature = "msgpack")]
        Payload::MsgPack(raw) => rmp_serde::from_slice::<NameOf<'_>>(raw.as_bytes()).ok()?.0,
    }
}

/// An event's name as a string (`""` when the payload has none): a slice of the JSON payload
/// when the name is written there as it is (the common case: no escapes, not a number), else a
/// string of its own (a number's name is its JavaScript text).
///
/// ```
/// use socketio_parser::{event_name_string, Payload, RawJson};
///
/// assert_eq!(event_name_string(&Payload::json(RawJson::new(r#"["chat",1]"#)?)), "chat");
/// assert_eq!(event_name_string(&Payload::json(RawJson::new(r#"[1.5]"#)?)), "1.5");
/// assert_eq!(event_name_string(&Payload::json(RawJson::new(r#"["a\u0062"]"#)?)), "ab");
/// # Ok::<(), socketio_parser::DecodeError>(())
/// ```
pub fn event_name_string(payload: &Payload) -> bytestring::ByteString {
    use bytestring::ByteString;
    match (event_name(payload), payload) {
        // A JSON name without escapes is borrowed from the payload's text: share its buffer.
        (Some(EventName::String(Cow::Borrowed(s))), Payload::Json { json, .. }) => {
            json.as_byte_string().slice_ref(s)
        }
        (Some(EventName::String(s)), _) => ByteString::from(s.into_owned()),
        (Some(EventName::Number(n)), _) => ByteString::from(js_number(n)),
        (None, _) => ByteString::new(),
    }
}

/// Reads the first element of a JSON array, `text` being valid JSON.
fn json_event_name(text: &str) -> Option<EventName<'_>> {
    let rest = text.trim_start_matches(JSON_WS).strip_prefix('[')?.trim_start_matches(JSON_WS);
    if let Some(body) = rest.strip_prefix('"') {
        let bytes = body.as_bytes();
        let mut end = 0;
        let mut escaped = false;
        while let Some(&b) = bytes.get(end) {
            match b {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    end += 2;
                }
                _ => end += 1,
            }
        }
        let raw = body.get(..end)?;
        let name =
            if escaped { Cow::Owned(crate::json::unescape(raw.as_bytes())?) } else { Cow::Borrowed(raw) };
        return Some(EventName::String(name));
    }
    let end =
        rest.find(|c: char| !matches!(c, '0'..='9' | '-' | '+' | '.' | 'e' | 'E')).unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    rest[..end].parse().ok().map(EventName::Number)
}

/// The event name of a msgpack payload; the rest of the array is skipped.
#[cfg(feature = "msgpack")]
struct NameOf<'de>(Option<EventName<'de>>);

#[cfg(feature = "msgpack")]
impl<'de> Deserialize<'de> for NameOf<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Array;
        impl<'de> Visitor<'de> for Array {
            type Value = NameOf<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let name = seq.next_element_seed(Name)?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(NameOf(name))
            }
        }
        deserializer.deserialize_seq(Array)
    }
}

/// Reads a string or a number as an [`EventName`].
#[cfg(feature = "msgpack")]
struct Name;

#[cfg(feature = "msgpack")]
impl<'de> DeserializeSeed<'de> for Name {
    type Value = EventName<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

#[cfg(feature = "msgpack")]
impl<'de> Visitor<'de> for Name {
    type Value = EventName<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(EventName::String(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(EventName::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(EventName::String(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(EventName::Number(v as f64))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(EventName::Number(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(EventName::Number(v))
    }
}

/// The arguments of an event: `None` for an array without a name.
struct Args<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Args<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Array<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Array<T> {
            type Value = Args<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    return Ok(Args(None));
                }
                let args = T::deserialize(Rest(&mut seq))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Args(Some(args)))
            }
        }
        deserializer.deserialize_seq(Array(PhantomData))
    }
}

/// The rest of a sequence, presented as a sequence.
struct Rest<'a, A>(&'a mut A);

impl<'de, A: SeqAccess<'de>> Deserializer<'de> for Rest<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_seq(self.0)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// A JSON or msgpack value that may hold binary data: the untyped form of an argument.
///
/// Unlike `serde_json::Value`, objects keep their members in order (and, as read, any repeated
/// key), and [`Value::Binary`] holds bytes: it serialises with `serialize_bytes`, so
/// [`to_payload`](crate::to_payload) turns it into a placeholder and an attachment and msgpack
/// into a `bin` value, and it is what placeholders and `bin` values deserialise to.
///
/// ```
/// use socketio_parser::{from_args, to_payload, Bytes, Payload, Value};
///
/// let file = Value::Object(vec![
///     ("name".into(), "a.bin".into()),
///     ("data".into(), Bytes::from_static(b"\x00\x01").into()),
/// ]);
/// let (json, attachments) = to_payload(&("upload", &file))?;
/// assert_eq!(json.as_str(), r#"["upload",{"name":"a.bin","data":{"_placeholder":true,"num":0}}]"#);
///
/// let args: Vec<Value> = from_args(&Payload::Json { json, attachments })?;
/// assert_eq!(args, [file]);
/// assert_eq!(args[0].get("data").and_then(Value::as_bytes).map(|b| &b[..]), Some(&[0u8, 1][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Value {
    /// `null` (msgpack `nil`).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A number: an integer that fits 64 bits, or a finite float.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, its members in order.
    Object(Vec<(String, Value)>),
    /// Binary data: a placeholder's attachment, or a msgpack `bin` value.
    Binary(Bytes),
}

impl Value {
    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if the value is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if the value is one.
    pub fn as_number(&self) -> Option<&serde_json::Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as a `u64`, if it is a non-negative integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(serde_json::Number::as_u64)
    }

    /// The number as an `i64`, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(serde_json::Number::as_i64)
    }

    /// The number as an `f64`, if the value is a number.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(serde_json::Number::as_f64)
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The binary data, if the value is binary.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if the value is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members in order, if the value is an object.
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The member named `key` if the value is an object; of a repeated key the last one, as
    /// `JSON.parse` keeps it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The element at `index`, if the value is an array that long.
    pub fn get_index(&self, index: usize) -> Option<&Value> {
        self.as_array()?.get(index)
    }

    /// Deserialises a `T` from the value; [`Value::Binary`] is presented as bytes.
    pub fn deserialize_into<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        T::deserialize(Tree { value: self, attachments: &[] }).map_err(|e| e.0)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => serializer.collect_seq(items),
            Value::Object(members) => serializer.collect_map(members.iter().map(|(k, v)| (k, v))),
            Value::Binary(b) => crate::binary::lent::with(b, || serializer.serialize_bytes(b)),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

/// Capacity reserved up front for a sequence or map whose length the input announces.
const MAX_PREALLOCATED: usize = 1024;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON or msgpack value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(n), _) => self.visit_i64(n),
            (_, Ok(n)) => self.visit_u64(n),
            _ => self.visit_f64(v as f64),
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match u64::try_from(v) {
            Ok(n) => self.visit_u64(n),
            Err(_) => self.visit_f64(v as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        // An attachment comes as the lent bytes: shared, not copied.
        Ok(Value::Binary(crate::binary::lent::take(v).unwrap_or_else(|| Bytes::copy_from_slice(v))))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::from(v)))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOCATED));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(MAX_PREALLOCATED));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            members.push((key, map.next_value()?));
        }
        Ok(Value::Object(members))
    }
}

/// Reads an object key: a string, or (msgpack maps) a number or boolean, written as JavaScript
/// turns it into a property name.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(js_number(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

macro_rules! from_integer {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Number(v.into())
            }
        }
    )*};
}

from_integer!(i8 i16 i32 i64 isize u8 u16 u32 u64 usize);

impl From<f64> for Value {
    /// A finite float becomes a number; NaN and the infinities become `null`, as
    /// `JSON.stringify` writes them.
    fn from(v: f64) -> Self {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

impl From<f32> for Value {
    /// See `From<f64>`.
    fn from(v: f32) -> Self {
        Value::from(f64::from(v))
    }
}

impl From<serde_json::Number> for Value {
    fn from(v: serde_json::Number) -> Self {
        Value::Number(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<Cow<'_, str>> for Value {
    fn from(v: Cow<'_, str>) -> Self {
        Value::String(v.into_owned())
    }
}

impl From<Bytes> for Value {
    fn from(v: Bytes) -> Self {
        Value::Binary(v)
    }
}

impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::Null
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> FromIterator<T> for Value {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Value::Object(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl From<serde_json::Value> for Value {
    /// Converts a `serde_json` value; objects keep the order in which its map iterates.
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

/// A deserialisation error inside a [`Tree`], kept as the [`PayloadError`] it becomes.
#[derive(Debug)]
struct DeError(PayloadError);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(PayloadError::Json(msg.to_string()))
    }
}

/// A deserializer over a parsed [`Value`] whose placeholders refer to `attachments`.
#[derive(Clone, Copy)]
struct Tree<'a> {
    value: &'a Value,
    attachments: &'a [Bytes],
}

impl<'a> Tree<'a> {
    fn at(self, value: &'a Value) -> Self {
        Tree { value, attachments: self.attachments }
    }

    /// The attachment a placeholder object refers to; `None` for any other value, or when there
    /// are no attachments.
    fn placeholder(self) -> Result<Option<&'a Bytes>, DeError> {
        let Value::Object(members) = self.value else {
            return Ok(None);
        };
        if self.attachments.is_empty() {
            return Ok(None);
        }
        let last = |key: &str| members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v);
        if last("_placeholder") != Some(&Value::Bool(true)) {
            return Ok(None);
        }
        last("num")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| self.attachments.get(n))
            .map(Some)
            .ok_or(DeError(PayloadError::InvalidPlaceholder))
    }

    fn unexpected(self) -> Unexpected<'a> {
        match self.value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Unexpected::Unsigned(u),
                (_, Some(i), _) => Unexpected::Signed(i),
                (_, _, f) => Unexpected::Float(f.unwrap_or(f64::NAN)),
            },
            Value::String(s) => Unexpected::Str(s),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
            Value::Binary(b) => Unexpected::Bytes(b),
        }
    }

    fn visit_items<V: Visitor<'a>>(self, items: &'a [Value], visitor: V) -> Result<V::Value, DeError> {
        let mut access = Items { iter: items.iter(), attachments: self.attachments };
        let out = visitor.visit_seq(&mut access)?;
        match access.iter.len() {
            0 => Ok(out),
            left => Err(de::Error::invalid_length(items.len() - left, &"fewer elements in array")),
        }
    }

    fn visit_members<V: Visitor<'a>>(
        self,
        members: &'a [(String, Value)],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut access = Members { iter: members.iter(), value: None, attachments: self.attachments };
        let out = visitor.visit_map(&mut access)?;
        match access.iter.len() {
            0 => Ok(out),
            left => Err(de::Error::invalid_length(members.len() - left, &"fewer members in object")),
        }
    }
}

impl<'de> Deserializer<'de> for Tree<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (_, Some(i)) => visitor.visit_i64(i),
                _ => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => self.visit_items(items, visitor),
            Value::Object(members) => match self.placeholder()? {
                Some(bytes) => crate::binary::lent::with(bytes, || visitor.visit_borrowed_bytes(bytes)),
                None => self.visit_members(members, visitor),
            },
            Value::Binary(bytes) => crate::binary::lent::with(bytes, || visitor.visit_borrowed_bytes(bytes)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            Value::Object(members) if members.len() == 1 && self.placeholder()?.is_none() => {
                let (key, value) = &members[0];
                visitor.visit_enum(Variant { key, content: self.at(value) })
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &"a string or an object with one member")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.text(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.text(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.text(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier
    }
}

impl<'de> Tree<'de> {
    /// Text asked for: binary data is not text, even when its bytes are valid UTF-8 (serde's
    /// string visitors accept bytes; a JavaScript handler gets a `Buffer`, not a string).
    fn text<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let binary = match self.value {
            Value::Binary(bytes) => Some(bytes),
            _ => self.placeholder()?,
        };
        match binary {
            Some(bytes) => Err(de::Error::invalid_type(Unexpected::Bytes(bytes), &visitor)),
            None => self.deserialize_any(visitor),
        }
    }
}

struct Items<'a> {
    iter: std::slice::Iter<'a, Value>,
    attachments: &'a [Bytes],
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(value) => seed.deserialize(Tree { value, attachments: self.attachments }).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Members<'a> {
    iter: std::slice::Iter<'a, (String, Value)>,
    value: Option<&'a Value>,
    attachments: &'a [Bytes],
}

impl<'de> MapAccess<'de> for Members<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Key(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(value) => seed.deserialize(Tree { value, attachments: self.attachments }),
            None => Err(de::Error::custom("map value requested before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An object key: a string, which also reads as an integer when one is asked for, as
/// `serde_json` reads keys.
struct Key<'a>(&'a str);

macro_rules! parse_key {
    ($($method:ident => $visit:ident,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0.parse() {
                Ok(n) => visitor.$visit(n),
                Err(_) => Err(de::Error::invalid_type(Unexpected::Str(self.0), &visitor)),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Key<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(BorrowedStrDeserializer::new(self.0))
    }

    parse_key! {
        deserialize_i8 => visit_i8,
        deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64,
        deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64,
    }

    forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// An enum written as an object with one member: the variant's name and its content.
struct Variant<'a> {
    key: &'a str,
    content: Tree<'a>,
}

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = DeError;
    type Variant = Tree<'de>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Tree<'de>), DeError> {
        let name = seed.deserialize(BorrowedStrDeserializer::<DeError>::new(self.key))?;
        Ok((name, self.content))
    }
}

impl<'de> VariantAccess<'de> for Tree<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            Value::Null => Ok(()),
            _ => Err(de::Error::invalid_type(self.unexpected(), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }
}
