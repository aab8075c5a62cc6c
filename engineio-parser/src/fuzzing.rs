//! Harness functions for the fuzz targets in the workspace's `fuzz/` folder (feature `fuzzing`).
//!
//! Each function takes arbitrary bytes and must never panic. The codec harnesses check the
//! codec's properties on whatever decodes: re-encoding a decoded packet and decoding it again
//! gives the same packet. [`session`] reads the bytes as a sequence of inputs to a session
//! machine and checks what comes out after each.

use bytes::Bytes;
use bytestring::ByteString;

use crate::{decode_payload, encode_payload, ws, Packet, PayloadFormat, ProtocolVersion};

mod machine;

pub use machine::session;

/// Decodes `data` as a WebSocket frame (text when valid UTF-8, and always as binary) in both
/// protocol versions and checks the re-encoding round trip.
pub fn packet(data: &[u8]) {
    for version in [ProtocolVersion::V4, ProtocolVersion::V3] {
        if let Ok(text) = ByteString::try_from(Bytes::copy_from_slice(data)) {
            if let Ok(p) = Packet::decode_text(text, version) {
                let mut buf = Vec::new();
                p.encode_text(version, &mut buf);
                let again = Packet::decode_text(
                    ByteString::try_from(Bytes::from(buf)).expect("encode_text writes UTF-8"),
                    version,
                )
                .expect("an encoded packet decodes");
                assert_eq!(again, p);
            }
        }
        if let Ok(p) = Packet::decode_binary(Bytes::copy_from_slice(data), version) {
            let frame = p.to_frame(version, false);
            let again = Packet::decode_frame(frame, version).expect("an encoded frame decodes");
            assert_eq!(again, p);
        }
    }
}

/// Decodes `data` as a long-polling body in every format and checks that re-encoding the packets
/// that decoded gives a body that decodes to the same packets.
pub fn payload(data: &[u8]) {
    for format in [PayloadFormat::V4, PayloadFormat::V3Text, PayloadFormat::V3Binary] {
        let Ok(packets) = decode_payload(Bytes::copy_from_slice(data), format, 1 << 20) else {
            continue;
        };
        let decoded: Vec<Packet> = packets.map_while(Result::ok).collect();
        if decoded.is_empty() {
            continue;
        }
        // v4 text packets cannot say "binary data of a non-message type"; v3 text can.
        let mut buf = Vec::new();
        encode_payload(&decoded, format, &mut buf);
        assert_eq!(buf.len(), crate::payload_len(&decoded, format));
        let again: Vec<Packet> = decode_payload(Bytes::from(buf), format, usize::MAX)
            .expect("no limit")
            .collect::<Result<_, _>>()
            .expect("an encoded payload decodes");
        assert_eq!(again, decoded);
    }
}

/// Feeds `data` to WebSocket decoders (plain, and with permessage-deflate negotiated) in chunks
/// whose sizes come from the first byte, with small limits. Nothing may panic, no message may
/// exceed the size limit, and every text message is valid UTF-8 (the type guarantees it).
pub fn ws_decoder(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else { return };
    let chunk = usize::from(chunk % 64) + 1;
    let limits = ws::Limits::DEFAULT.with_max_message_size(4096).with_max_fragments(8);
    let deflate = ws::negotiate_deflate([&b"permessage-deflate"[..]]);
    let decoders = [Some(ws::Decoder::new(limits)), deflate.map(|p| ws::Decoder::with_deflate(limits, p))];
    for mut decoder in decoders.into_iter().flatten() {
        let mut buf = bytes::BytesMut::new();
        'feed: for piece in data.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(message)) => {
                        let len = match &message {
                            ws::Message::Text(t) => t.len(),
                            ws::Message::Binary(b) | ws::Message::Ping(b) | ws::Message::Pong(b) => b.len(),
                            ws::Message::Close(_) => 0,
                        };
                        assert!(len <= 4096, "a message over the limit");
                    }
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
    }
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
    fn engineio_packet_corpus_replays() {
        replay("engineio_packet", super::packet);
    }

    #[test]
    fn ws_decoder_corpus_replays() {
        replay("ws_decoder", super::ws_decoder);
    }

    #[test]
    fn engineio_payload_corpus_replays() {
        replay("engineio_payload", super::payload);
    }

    #[test]
    fn engineio_session_corpus_replays() {
        replay("engineio_session", super::session);
    }
}
