//! Harness functions for the fuzz targets in the workspace's `fuzz/` folder (feature `fuzzing`).
//!
//! Each function takes arbitrary bytes and must never panic. The codec harnesses check the
//! codec's properties on whatever decodes; [`connection`] reads the bytes as a sequence of
//! inputs to a connection machine and checks what comes out after each.

use bytes::Bytes;
use bytestring::ByteString;

use crate::{Decoded, Decoder, DecoderConfig};

mod machine;

pub use machine::connection;

/// Feeds `data` to a [`Decoder`] as a sequence of Engine.IO messages: the first byte of each
/// chunk says text or binary and its length. Every complete packet must re-encode to a text part
/// that decodes to the same packet.
pub fn decoder(data: &[u8]) {
    let mut decoder =
        Decoder::new(DecoderConfig { max_attachments: 4, max_depth: 32, max_binary_packet_size: 256 });
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let len = usize::from(head & 0x7f).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        let result = if head & 0x80 == 0 {
            match ByteString::try_from(Bytes::copy_from_slice(chunk)) {
                Ok(text) => decoder.decode_text(text),
                Err(_) => continue,
            }
        } else {
            decoder.decode_binary(Bytes::copy_from_slice(chunk))
        };
        if let Ok(Decoded::Complete(packet)) = result {
            check_round_trip(&packet);
        }
    }
}

/// Decodes `data` as one text packet (when UTF-8) with a generous attachment limit, supplying
/// empty attachments, and checks the re-encoding round trip.
pub fn packet(data: &[u8]) {
    let Ok(text) = ByteString::try_from(Bytes::copy_from_slice(data)) else {
        return;
    };
    let mut decoder = Decoder::default();
    let mut result = decoder.decode_text(text);
    while let Ok(Decoded::NeedsAttachments { .. }) = result {
        result = decoder.decode_binary(Bytes::new());
    }
    if let Ok(Decoded::Complete(packet)) = result {
        check_round_trip(&packet);
    }
}

/// Decodes `data` as one msgpack packet (a binary Engine.IO message) and checks that encoding
/// the packet and decoding the result gives the same packet, through both [`encode`] and
/// [`encode_to_bytes`]. When `data` is also a valid JSON text, transcodes it as a payload with
/// two attachments and checks that the result is one valid msgpack value, kept as it is.
///
/// [`encode`]: crate::msgpack::encode
/// [`encode_to_bytes`]: crate::msgpack::encode_to_bytes
#[cfg(feature = "msgpack")]
#[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
pub fn msgpack(data: &[u8]) {
    use crate::msgpack::{self, RawMsgPack};

    let config = DecoderConfig { max_attachments: 4, max_depth: 32, ..DecoderConfig::default() };
    if let Ok(packet) = msgpack::decode(Bytes::copy_from_slice(data), &config) {
        let mut buf = Vec::new();
        msgpack::encode(&packet, &mut buf);
        assert_eq!(msgpack::encode_to_bytes(&packet), buf);
        let again = msgpack::decode(Bytes::from(buf), &config).expect("an encoded packet decodes");
        assert_eq!(again, packet);
        if let Some(payload) = &packet.data {
            check_without_name(payload);
        }
    }
    if let Some(json) = std::str::from_utf8(data).ok().and_then(|text| crate::RawJson::new(text).ok()) {
        let attachments = [Bytes::from_static(b"\x01\x02"), Bytes::new()];
        let raw = RawMsgPack::from_json(&json, &attachments);
        let checked = RawMsgPack::new(raw.as_bytes().clone()).expect("a transcoded payload is msgpack");
        assert_eq!(checked, raw);
    }
}

fn check_round_trip(packet: &crate::Packet) {
    let text = packet.encode_to_string();
    assert_eq!(text.len(), packet.encoded_len());
    let mut decoder = Decoder::new(DecoderConfig {
        max_attachments: usize::MAX,
        max_depth: usize::MAX,
        max_binary_packet_size: usize::MAX,
    });
    let mut result = decoder.decode_text(text).expect("an encoded packet decodes");
    for attachment in packet.attachments() {
        result = decoder.decode_binary(attachment.clone()).expect("attachments are accepted");
    }
    assert_eq!(result, Decoded::Complete(packet.clone()));
    if let Some(payload) = &packet.data {
        check_without_name(payload);
    }
}

/// An array payload without its first element, a string, holds exactly the other elements: one
/// fewer, and still one valid value.
fn check_without_name(payload: &crate::Payload) {
    use serde::de::IgnoredAny;
    let Some(args) = payload.without_name() else { return };
    let count = |payload: &crate::Payload| match payload {
        crate::Payload::Json { json, .. } => {
            serde_json::from_str::<Vec<IgnoredAny>>(json.as_str()).ok().map(|items| items.len())
        }
        #[cfg(feature = "msgpack")]
        crate::Payload::MsgPack(raw) => raw.deserialize::<Vec<IgnoredAny>>().ok().map(|items| items.len()),
    };
    assert_eq!(count(&args).map(|n| n + 1), count(payload));
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// Calls `harness` on every file of the checked-in corpus `fuzz/corpus/<target>`, naming the
    /// file that panics. A missing or empty corpus is a failure, not a silent pass.
    fn replay(target: &str, harness: fn(&[u8])) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
        let mut paths: Vec<PathBuf> = entries
            .map(|entry| entry.expect("a readable corpus entry").path())
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        assert!(!paths.is_empty(), "corpus {} is empty", dir.display());
        for path in paths {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(panic) = std::panic::catch_unwind(|| harness(&data)) {
                eprintln!("corpus file {} panicked", path.display());
                std::panic::resume_unwind(panic);
            }
        }
    }

    #[test]
    fn socketio_decoder_corpus_replays() {
        replay("socketio_decoder", super::decoder);
    }

    #[test]
    fn socketio_connection_corpus_replays() {
        replay("socketio_connection", super::connection);
    }

    #[cfg(feature = "msgpack")]
    #[test]
    fn socketio_msgpack_corpus_replays() {
        replay("socketio_msgpack", super::msgpack);
    }
}
