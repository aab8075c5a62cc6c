//! Harness functions for the fuzz targets in the workspace's `fuzz/` folder (feature `fuzzing`).
//!
//! Each function takes arbitrary bytes, must never panic, and checks the codec's properties on
//! whatever decodes.

use bytes::Bytes;
use bytestring::ByteString;

use crate::{Decoded, Decoder, DecoderConfig};

/// Feeds `data` to a [`Decoder`] as a sequence of Engine.IO messages: the first byte of each
/// chunk says text or binary and its length. Every complete packet must re-encode to a text part
/// that decodes to the same packet.
pub fn decoder(data: &[u8]) {
    let mut decoder = Decoder::new(DecoderConfig { max_attachments: 4, max_depth: 32 });
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

fn check_round_trip(packet: &crate::Packet) {
    let text = packet.encode_to_string();
    assert_eq!(text.len(), packet.encoded_len());
    let mut decoder = Decoder::new(DecoderConfig { max_attachments: usize::MAX, max_depth: usize::MAX });
    let mut result = decoder.decode_text(text).expect("an encoded packet decodes");
    for attachment in packet.attachments() {
        result = decoder.decode_binary(attachment.clone()).expect("attachments are accepted");
    }
    assert_eq!(result, Decoded::Complete(packet.clone()));
}
