//! Harness functions for the fuzz targets in the workspace's `fuzz/` folder (feature `fuzzing`).

use bytes::BytesMut;

use crate::ws::{self, Decoder, Limits};

/// Feeds `data` to WebSocket decoders (plain, and with permessage-deflate negotiated) in chunks
/// whose sizes come from the first byte, with small limits. Nothing may panic, no message may
/// exceed the size limit, and every text message is valid UTF-8 (the type guarantees it).
pub fn ws_decoder(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else { return };
    let chunk = usize::from(chunk % 64) + 1;
    let limits = Limits::DEFAULT.with_max_message_size(4096).with_max_fragments(8);
    let deflate = ws::negotiate_deflate([&b"permessage-deflate"[..]]);
    let decoders = [Some(Decoder::new(limits)), deflate.map(|p| Decoder::with_deflate(limits, p))];
    for mut decoder in decoders.into_iter().flatten() {
        let mut buf = BytesMut::new();
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
    #[test]
    fn corpus_replays() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/ws_decoder");
        let entries: Vec<_> = std::fs::read_dir(&dir).expect("the corpus folder exists").flatten().collect();
        assert!(!entries.is_empty(), "the corpus is empty");
        for entry in entries {
            let data = std::fs::read(entry.path()).expect("readable");
            super::ws_decoder(&data);
        }
    }
}
