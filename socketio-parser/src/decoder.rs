//! The streaming decoder: text packets, then the binary attachments a binary packet announced.

use bytes::Bytes;
use bytestring::ByteString;

use crate::packet::{
    decode_header, Header, Payload, DEFAULT_MAX_ATTACHMENTS, DEFAULT_MAX_BINARY_PACKET_SIZE,
    DEFAULT_MAX_DEPTH,
};
use crate::{DecodeError, Packet};

/// Limits applied by the [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// The most attachments one packet may announce (reference default: 10). A larger count is
    /// refused before any attachment is buffered.
    pub max_attachments: usize,
    /// The deepest nesting of arrays and objects accepted in a JSON payload.
    pub max_depth: usize,
    /// The most bytes one binary packet may hold while its attachments arrive: its text
    /// message and every attachment received so far (default 1 000 000, Engine.IO's default
    /// `maxPayload`). A packet that would hold more is refused as soon as it does, so a
    /// client that announces attachments and never sends them all holds at most this much.
    pub max_binary_packet_size: usize,
}

impl DecoderConfig {
    /// Records the limits that cannot work: a `max_depth` of 0 (every event is an array) or a
    /// `max_binary_packet_size` of 0 (no binary packet could be read).
    pub fn check(&self, checker: &mut engineio_parser::options::Checker) {
        checker.nonzero("max_depth", self.max_depth, "every event's arguments are an array, one level deep");
        checker.nonzero(
            "max_binary_packet_size",
            self.max_binary_packet_size,
            "no binary packet could be read",
        );
    }
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
            max_depth: DEFAULT_MAX_DEPTH,
            max_binary_packet_size: DEFAULT_MAX_BINARY_PACKET_SIZE,
        }
    }
}

/// The result of feeding the decoder one Engine.IO message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Decoded {
    /// A whole packet.
    Complete(Packet),
    /// A binary packet is waiting for more attachments; feed the next binary messages to
    /// [`Decoder::decode_binary`].
    NeedsAttachments {
        /// Attachments received so far.
        received: usize,
        /// Attachments the packet announced.
        expected: usize,
    },
}

/// Decodes the Socket.IO packets of one connection from its Engine.IO messages.
///
/// Text messages are packets; a binary packet (`BINARY_EVENT`, `BINARY_ACK`) announces how many
/// binary messages follow it, and the decoder collects them before answering
/// [`Decoded::Complete`]. Any error leaves the decoder ready for a new packet; the reference
/// closes the connection on every decode error.
#[derive(Debug, Default)]
pub struct Decoder {
    config: DecoderConfig,
    /// Boxed: every connection holds a decoder, few are between a binary packet's header and
    /// its last attachment.
    pending: Option<Box<Pending>>,
}

#[derive(Debug)]
struct Pending {
    packet: Packet,
    expected: usize,
    attachments: Vec<Bytes>,
    /// Bytes held: the text message and the attachments so far.
    size: usize,
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder { config, pending: None }
    }

    /// The decoder's limits.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Whether the decoder is collecting the attachments of a binary packet.
    pub fn is_reconstructing(&self) -> bool {
        self.pending.is_some()
    }

    /// Decodes a text message.
    pub fn decode_text(&mut self, text: ByteString) -> Result<Decoded, DecodeError> {
        if self.pending.is_some() {
            self.pending = None;
            return Err(DecodeError::UnexpectedText);
        }
        let size = text.len();
        let Header { packet, attachments } =
            decode_header(text, self.config.max_attachments, self.config.max_depth)?;
        if attachments == 0 {
            return Ok(Decoded::Complete(packet));
        }
        let max = self.config.max_binary_packet_size;
        if size > max {
            return Err(DecodeError::BinaryPacketTooLarge { max });
        }
        self.pending = Some(Box::new(Pending {
            packet,
            expected: attachments,
            // The announced count is the peer's word: room for it is made as attachments
            // arrive, so a large `max_attachments` cannot be turned into one huge allocation.
            attachments: Vec::with_capacity(attachments.min(DEFAULT_MAX_ATTACHMENTS)),
            size,
        }));
        Ok(Decoded::NeedsAttachments { received: 0, expected: attachments })
    }

    /// Decodes a binary message: the next attachment of the pending binary packet.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Decoded, DecodeError> {
        let Some(pending) = self.pending.as_mut() else {
            return Err(DecodeError::UnexpectedBinary);
        };
        pending.size = pending.size.saturating_add(data.len());
        let max = self.config.max_binary_packet_size;
        if pending.size > max {
            self.pending = None;
            return Err(DecodeError::BinaryPacketTooLarge { max });
        }
        pending.attachments.push(data);
        if pending.attachments.len() < pending.expected {
            return Ok(Decoded::NeedsAttachments {
                received: pending.attachments.len(),
                expected: pending.expected,
            });
        }
        let Pending { mut packet, attachments, .. } =
            *self.pending.take().ok_or(DecodeError::UnexpectedBinary)?;
        if let Some(Payload::Json { attachments: slot, .. }) = packet.data.as_mut() {
            *slot = attachments;
        }
        Ok(Decoded::Complete(packet))
    }

    /// Drops a partly received binary packet.
    pub fn reset(&mut self) {
        self.pending = None;
    }
}
