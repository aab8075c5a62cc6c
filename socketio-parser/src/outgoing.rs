//! Packets on their way to clients, encoded once: what the application hands the
//! [`Connection`](crate::connection::Connection) machine, and the ack id counter.
//!
//! An [`EncodedPacket`] is built once (an event for one socket, or a broadcast for thousands)
//! and every recipient's machine queues the same Engine.IO messages: cloning is a reference
//! count. An [`EncodedAck`] answers one client's ack, written in one pass from the arguments
//! when they hold no binary data.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytestring::ByteString;
use engineio_parser::Packet as EnginePacket;

use crate::args::{Args, SerializeError};
use crate::connection::Parser;
use crate::{Packet, PacketType, Payload};

/// An `EVENT` (or `BINARY_EVENT`) encoded once into the Engine.IO messages that carry it.
#[derive(Clone)]
pub struct EncodedPacket(Arc<Inner>);

struct Inner {
    packet: Packet,
    messages: Vec<EnginePacket>,
}

impl fmt::Debug for EncodedPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedPacket").field("packet", &self.0.packet).finish()
    }
}

impl PartialEq for EncodedPacket {
    fn eq(&self, other: &Self) -> bool {
        self.0.packet == other.0.packet
    }
}

impl Eq for EncodedPacket {}

impl EncodedPacket {
    /// An event for `nsp`: `data` is `[name, ...args]`; `id` is the ack id when the sender
    /// awaits answers (drawn from the namespace's [`AckIds`]).
    pub fn event(parser: Parser, nsp: &ByteString, data: Payload, id: Option<u64>) -> Self {
        Self::encode(parser, Packet::with_payload(PacketType::Event, nsp.clone(), data, id))
    }

    /// An event that connection state recovery keeps for the sessions it reaches: `offset` is
    /// appended to the arguments as a last string, which the client stores and presents when it
    /// reconnects. `None` when `data` is not an array.
    pub fn recoverable_event(parser: Parser, nsp: &ByteString, data: &Payload, offset: &str) -> Option<Self> {
        Some(Self::event(parser, nsp, data.with_string_item(offset)?, None))
    }

    fn encode(parser: Parser, packet: Packet) -> Self {
        let messages = encode_messages(parser, &packet);
        EncodedPacket(Arc::new(Inner { packet, messages }))
    }

    /// The packet.
    pub fn packet(&self) -> &Packet {
        &self.0.packet
    }

    /// The Engine.IO messages that carry the packet, in order: one text message and one binary
    /// message per attachment (default parser), or one binary message (msgpack).
    pub fn messages(&self) -> &[EnginePacket] {
        &self.0.messages
    }
}

/// The Engine.IO messages of `packet`.
pub(crate) fn encode_messages(parser: Parser, packet: &Packet) -> Vec<EnginePacket> {
    match parser {
        Parser::Json => {
            let mut messages = Vec::with_capacity(1 + packet.attachments().len());
            messages.push(EnginePacket::message(packet.encode_to_string()));
            messages.extend(packet.attachments().iter().cloned().map(EnginePacket::binary));
            messages
        }
        #[cfg(feature = "msgpack")]
        Parser::MsgPack => vec![EnginePacket::binary(crate::msgpack::encode_to_bytes(packet))],
    }
}

/// The answer to a client's ack, encoded: hand it to
/// [`Connection::send_ack`](crate::connection::Connection::send_ack), which sends it only if
/// the client awaits that answer.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedAck {
    pub(crate) nsp: ByteString,
    pub(crate) id: u64,
    pub(crate) body: AckBody,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AckBody {
    /// The whole packet's text, written in one pass.
    Text(ByteString),
    /// A payload, encoded by the machine with its parser.
    Payload(Payload),
}

impl EncodedAck {
    /// The answer `data` (the array of answers) to ack `id` of `nsp`.
    pub fn new(nsp: &ByteString, id: u64, data: Payload) -> Self {
        EncodedAck { nsp: nsp.clone(), id, body: AckBody::Payload(data) }
    }

    /// The answer `args` (serialised as the array of answers) for the default parser, written
    /// in one pass into the packet's text. `Ok(None)` when `args` holds binary data: such an
    /// answer needs attachments; use [`new`](Self::new) with [`to_payload`](crate::to_payload).
    pub fn serialize<T: serde::Serialize + ?Sized>(
        nsp: &ByteString,
        id: u64,
        args: &T,
    ) -> Result<Option<Self>, serde_json::Error> {
        let text = crate::encode_text_packet(PacketType::Ack, nsp, Some(id), args)?;
        Ok(text.map(|text| EncodedAck { nsp: nsp.clone(), id, body: AckBody::Text(text) }))
    }

    /// The answer `args` to ack `id` of `nsp`, spread into arguments as
    /// [`args`](crate::args) describes: written in one pass into the packet's text for the
    /// default parser when `args` holds no binary data, else as a payload.
    pub fn from_args<T: serde::Serialize + ?Sized>(
        parser: Parser,
        nsp: &ByteString,
        id: u64,
        args: &T,
    ) -> Result<Self, SerializeError> {
        if parser == Parser::Json {
            let ack = Args { name: None, args };
            if let Some(ack) = Self::serialize(nsp, id, &ack).map_err(|e| SerializeError(e.to_string()))? {
                return Ok(ack);
            }
        }
        Ok(EncodedAck::new(nsp, id, crate::args::ack_payload(parser, args)?))
    }

    /// The namespace.
    pub fn nsp(&self) -> &ByteString {
        &self.nsp
    }

    /// The ack id answered.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// A namespace's ack ids: the reference draws the id of every emit and broadcast that awaits
/// answers from one counter per namespace, so that a broadcast encoded once carries the same id
/// to every recipient. Shared by every task that emits (atomic).
#[derive(Debug, Default)]
pub struct AckIds(AtomicU64);

impl AckIds {
    /// A counter starting at 0, as the reference's.
    pub fn new() -> Self {
        AckIds(AtomicU64::new(0))
    }

    /// The next id.
    pub fn next_id(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}
