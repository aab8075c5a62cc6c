//! The `socket.io-msgpack-parser` wire format (feature `msgpack`).

use bytes::Bytes;

/// One msgpack value, kept as the raw bytes it was decoded from or encoded to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawMsgPack(Bytes);

impl RawMsgPack {
    /// The encoded value.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}
