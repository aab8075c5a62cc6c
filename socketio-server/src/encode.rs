//! Arguments to payloads, for this crate's parser setting; the rules are
//! [`socketio_parser::args`]'.

use bytestring::ByteString;
use serde::Serialize;
use socketio_parser::args::SerializeError;
use socketio_parser::{args, EncodedAck, EncodedPacket, Payload, RESERVED_EVENTS};

use crate::config::ParserKind;
use crate::error::EmitError;

impl From<SerializeError> for EmitError {
    fn from(e: SerializeError) -> Self {
        EmitError::Serialize(e.0)
    }
}

pub(crate) fn check_event_name(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

/// The payload of an event: `[event, ...args]`.
pub(crate) fn event_payload<T: Serialize + ?Sized>(
    parser: ParserKind,
    event: &str,
    args: &T,
) -> Result<Payload, EmitError> {
    Ok(args::event_payload(parser.connection_parser(), event, args)?)
}

/// The answer `args` to ack `id` of `nsp`.
pub(crate) fn ack<T: Serialize + ?Sized>(
    parser: ParserKind,
    nsp: &ByteString,
    id: u64,
    args: &T,
) -> Result<EncodedAck, EmitError> {
    Ok(EncodedAck::from_args(parser.connection_parser(), nsp, id, args)?)
}

/// An event for `nsp` with `payload`, encoded once with `parser`.
pub(crate) fn event(
    parser: ParserKind,
    nsp: &ByteString,
    payload: Payload,
    id: Option<u64>,
) -> EncodedPacket {
    EncodedPacket::event(parser.connection_parser(), nsp, payload, id)
}

/// Whether `payload` is of `parser`'s kind.
pub(crate) fn payload_fits(parser: ParserKind, payload: &Payload) -> bool {
    // Payload has a msgpack variant whenever the parser crate's feature is on, which it can be
    // without this crate's.
    matches!(payload, Payload::Json { .. }) == (parser == ParserKind::Default)
}

/// The payload of `value` as it is (an event's `[event, ...args]` or an ack's arguments from
/// another node): `Value::Binary` becomes attachments, or msgpack `bin`.
pub(crate) fn value_payload(
    parser: ParserKind,
    value: &socketio_parser::Value,
) -> Result<Payload, EmitError> {
    Ok(args::value_payload(parser.connection_parser(), value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_refused() {
        for name in RESERVED_EVENTS {
            assert_eq!(check_event_name(name), Err(EmitError::ReservedEvent(name.to_owned())));
        }
        assert_eq!(check_event_name("error"), Ok(()));
    }
}
