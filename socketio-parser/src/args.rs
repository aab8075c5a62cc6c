//! Arguments to payloads: how the values an application emits become an event's
//! `[name, ...args]` array or an ack's `[...args]`, in either wire format.
//!
//! Arguments are any `Serialize` value: a tuple (or a fixed-size array, which serde serialises
//! as a tuple) spreads into several arguments (`("a", 1)` is `emit("ev", "a", 1)`), `()` is no
//! argument, and anything else is one argument (a `Vec` or a slice is one array; [`Spread`]
//! makes a list several arguments). Binary values (`Bytes`) become attachments at any depth
//! (msgpack: `bin` values).
//!
//! ```
//! use socketio_parser::args::event_payload;
//! use socketio_parser::connection::Parser;
//! use socketio_parser::Payload;
//!
//! let payload = event_payload(Parser::Json, "move", &(1, "north"))?;
//! assert!(matches!(payload, Payload::Json { ref json, .. } if json.as_str() == r#"["move",1,"north"]"#));
//! # Ok::<(), socketio_parser::args::SerializeError>(())
//! ```

use std::fmt;

use serde::ser::{self, Impossible, Serialize, SerializeSeq, SerializeTuple, Serializer};

use crate::connection::Parser;
use crate::Payload;

/// Arguments that could not be serialised (a map with non-string keys, a failing `Serialize`
/// implementation); the text is the serializer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SerializeError(pub String);

/// The payload of an event: `[event, ...args]`.
pub fn event_payload<T: Serialize + ?Sized>(
    parser: Parser,
    event: &str,
    args: &T,
) -> Result<Payload, SerializeError> {
    value_payload(parser, &Args { name: Some(event), args })
}

/// The payload of an ack: `[...args]`.
pub fn ack_payload<T: Serialize + ?Sized>(parser: Parser, args: &T) -> Result<Payload, SerializeError> {
    value_payload(parser, &Args { name: None, args })
}

/// `[event, ...args]` as a JSON value (server-side events between nodes).
pub fn event_json<T: Serialize + ?Sized>(event: &str, args: &T) -> Result<serde_json::Value, SerializeError> {
    serde_json::to_value(Args { name: Some(event), args }).map_err(|e| SerializeError(e.to_string()))
}

/// The payload of `value` as it is (already an array such as `[event, ...args]`): binary
/// values become attachments, or msgpack `bin`.
pub fn value_payload<T: Serialize + ?Sized>(parser: Parser, value: &T) -> Result<Payload, SerializeError> {
    match parser {
        Parser::Json => {
            let (json, attachments) = crate::to_payload(value).map_err(|e| SerializeError(e.to_string()))?;
            Ok(Payload::Json { json, attachments })
        }
        #[cfg(feature = "msgpack")]
        Parser::MsgPack => crate::msgpack::RawMsgPack::from_serialize(value)
            .map(Payload::MsgPack)
            .map_err(|e| SerializeError(e.to_string())),
    }
}

/// A list of arguments of one type, sent as that many arguments (a `Vec` alone is one argument,
/// an array): `Spread(event.values()?)` gives back what a client sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spread<T>(pub Vec<T>);

impl<T: Serialize> Serialize for Spread<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

/// `[name, ...args]` (or `[...args]` without a name), with a tuple spread into arguments.
pub(crate) struct Args<'a, T: ?Sized> {
    pub(crate) name: Option<&'a str>,
    pub(crate) args: &'a T,
}

impl<T: Serialize + ?Sized> Serialize for Args<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        if let Some(name) = self.name {
            seq.serialize_element(name)?;
        }
        match shape(self.args) {
            Shape::Unit => {}
            Shape::Tuple => self.args.serialize(SpreadInto(&mut seq))?,
            Shape::Single => seq.serialize_element(self.args)?,
        }
        seq.end()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `()`: no argument.
    Unit,
    /// A tuple: one argument per element.
    Tuple,
    /// Anything else: one argument.
    Single,
}

/// How `value` serialises, learnt from the first serializer call (nothing else is serialised).
/// Only a zero-sized value that serialises as a unit is "no argument" (`()`): a null held by a
/// value type (`Value::Null`, `serde_json::Value::Null`) is one `null` argument, as JavaScript's
/// `emit("ev", null)` sends.
fn shape<T: Serialize + ?Sized>(value: &T) -> Shape {
    match value.serialize(Probe) {
        Err(Probed(Shape::Unit)) if std::mem::size_of_val(value) != 0 => Shape::Single,
        Err(Probed(shape)) => shape,
        Ok(()) => Shape::Single,
    }
}

#[derive(Debug)]
struct Probed(Shape);

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for Probed {}

impl ser::Error for Probed {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        Probed(Shape::Single)
    }
}

struct Probe;

macro_rules! single {
    ($($method:ident($($ty:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $ty),*) -> Result<$ret, Probed> {
            Err(Probed(Shape::Single))
        })*
    };
}

impl Serializer for Probe {
    type Ok = ();
    type Error = Probed;
    type SerializeSeq = Impossible<(), Probed>;
    type SerializeTuple = Impossible<(), Probed>;
    type SerializeTupleStruct = Impossible<(), Probed>;
    type SerializeTupleVariant = Impossible<(), Probed>;
    type SerializeMap = Impossible<(), Probed>;
    type SerializeStruct = Impossible<(), Probed>;
    type SerializeStructVariant = Impossible<(), Probed>;

    fn serialize_unit(self) -> Result<(), Probed> {
        Err(Probed(Shape::Unit))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Probed> {
        Err(Probed(Shape::Tuple))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Probed> {
        Err(Probed(Shape::Single))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<(), Probed> {
        Err(Probed(Shape::Single))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Probed> {
        Err(Probed(Shape::Single))
    }

    single! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// Serialises a tuple's elements into an enclosing sequence.
struct SpreadInto<'a, Q>(&'a mut Q);

macro_rules! not_a_tuple {
    ($($method:ident($($ty:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $ty),*) -> Result<$ret, Q::Error> {
            Err(ser::Error::custom("spread: not a tuple"))
        })*
    };
}

impl<'a, Q: SerializeSeq> Serializer for SpreadInto<'a, Q> {
    type Ok = ();
    type Error = Q::Error;
    type SerializeSeq = Impossible<(), Q::Error>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Impossible<(), Q::Error>;
    type SerializeTupleVariant = Impossible<(), Q::Error>;
    type SerializeMap = Impossible<(), Q::Error>;
    type SerializeStruct = Impossible<(), Q::Error>;
    type SerializeStructVariant = Impossible<(), Q::Error>;

    fn serialize_tuple(self, _len: usize) -> Result<Self, Q::Error> {
        Ok(self)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Q::Error> {
        Err(ser::Error::custom("spread: not a tuple"))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<(), Q::Error> {
        Err(ser::Error::custom("spread: not a tuple"))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Q::Error> {
        Err(ser::Error::custom("spread: not a tuple"))
    }

    not_a_tuple! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

impl<Q: SerializeSeq> SerializeTuple for SpreadInto<'_, Q> {
    type Ok = ();
    type Error = Q::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Q::Error> {
        self.0.serialize_element(value)
    }

    fn end(self) -> Result<(), Q::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn json<T: Serialize + ?Sized>(args: &T) -> String {
        match event_payload(Parser::Json, "ev", args) {
            Ok(Payload::Json { json, attachments }) => format!("{} +{}", json.as_str(), attachments.len()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tuples_spread_and_everything_else_is_one_argument() {
        assert_eq!(json(&()), r#"["ev"] +0"#);
        assert_eq!(json(&("a", 1)), r#"["ev","a",1] +0"#);
        assert_eq!(json(&("a",)), r#"["ev","a"] +0"#);
        assert_eq!(json(&vec![1, 2]), r#"["ev",[1,2]] +0"#);
        // serde serialises fixed-size arrays as tuples: they spread too.
        assert_eq!(json(&[1, 2]), r#"["ev",1,2] +0"#);
        assert_eq!(json(&[1, 2][..]), r#"["ev",[1,2]] +0"#);
        assert_eq!(json("x"), r#"["ev","x"] +0"#);
        assert_eq!(json(&serde_json::json!({"a": [1, 2.5]})), r#"["ev",{"a":[1,2.5]}] +0"#);
        assert_eq!(json(&Some(3)), r#"["ev",3] +0"#);
        assert_eq!(json(&None::<u8>), r#"["ev",null] +0"#);
    }

    #[test]
    fn spread_lists_are_several_arguments() {
        assert_eq!(json(&Spread(vec![1, 2])), r#"["ev",1,2] +0"#);
        assert_eq!(json(&Spread(Vec::<u8>::new())), r#"["ev"] +0"#);
    }

    #[test]
    fn binary_values_become_attachments_at_any_depth() {
        let b = Bytes::from_static(b"\x01");
        assert_eq!(
            json(&(b.clone(), serde_json::json!({"x": 1}), vec![b.clone()])),
            r#"["ev",{"_placeholder":true,"num":0},{"x":1},[{"_placeholder":true,"num":1}]] +2"#
        );
    }

    struct Failing;

    impl Serialize for Failing {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(ser::Error::custom("boom"))
        }
    }

    #[test]
    fn a_failing_argument_is_an_error_with_the_serializer_s_text() {
        assert_eq!(event_payload(Parser::Json, "ev", &Failing), Err(SerializeError("boom".to_owned())));
        assert_eq!(ack_payload(Parser::Json, &(1, Failing)), Err(SerializeError("boom".to_owned())));
        assert_eq!(event_json("ev", &Failing).map_err(|e| e.to_string()), Err("boom".to_owned()));
        #[cfg(feature = "msgpack")]
        assert!(event_payload(Parser::MsgPack, "ev", &Failing).is_err());
    }

    #[cfg(feature = "msgpack")]
    #[test]
    fn msgpack_arguments_spread_the_same_way() {
        let payload = event_payload(Parser::MsgPack, "ev", &("a", 1)).expect("serialisable");
        let values: Vec<crate::Value> = crate::from_payload(&payload).expect("readable");
        assert_eq!(values, vec![crate::Value::from("ev"), "a".into(), crate::Value::from(1u64)]);
        let payload = ack_payload(Parser::MsgPack, &()).expect("serialisable");
        let values: Vec<crate::Value> = crate::from_payload(&payload).expect("readable");
        assert_eq!(values, vec![]);
    }

    #[test]
    fn ack_payloads_have_no_name() {
        let payload = ack_payload(Parser::Json, &("a", 1)).expect("serialisable");
        assert!(matches!(payload, Payload::Json { ref json, .. } if json.as_str() == r#"["a",1]"#));
        assert_eq!(event_json("ev", &(1,)).expect("serialisable"), serde_json::json!(["ev", 1]));
    }
}
