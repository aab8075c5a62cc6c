//! Deconstructing values with binary data into a JSON payload plus attachments.

use std::io;

use bytes::Bytes;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use crate::packet::{trusted_utf8, RawJson};

/// Serialises `value` as JSON, replacing every binary value (anything serde serialises with
/// `serialize_bytes`, such as `bytes::Bytes` or `serde_bytes::ByteBuf`) by a placeholder
/// `{"_placeholder":true,"num":N}` and returning the binary values as attachments, `N` being the
/// 0-based order in which they were met. This is the reference encoder's `deconstructPacket`.
pub fn to_payload<T: Serialize + ?Sized>(value: &T) -> Result<(RawJson, Vec<Bytes>), serde_json::Error> {
    let mut out = Vec::with_capacity(64);
    let mut formatter = PlaceholderFormatter { attachments: Vec::new() };
    let mut ser = serde_json::Serializer::with_formatter(&mut out, &mut formatter);
    value.serialize(&mut ser)?;
    Ok((RawJson::trusted(trusted_utf8(out)), formatter.attachments))
}

/// A compact JSON formatter that writes placeholders for byte arrays.
struct PlaceholderFormatter {
    attachments: Vec<Bytes>,
}

impl Formatter for &mut PlaceholderFormatter {
    fn write_byte_array<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: &[u8]) -> io::Result<()> {
        let num = self.attachments.len();
        self.attachments.push(Bytes::copy_from_slice(value));
        write!(writer, "{{\"_placeholder\":true,\"num\":{num}}}")
    }

    // Everything else is the compact formatter's.
    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        CompactFormatter.write_f32(writer, value)
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        CompactFormatter.write_f64(writer, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_values_become_placeholders_in_order() {
        let a = Bytes::from_static(&[1, 2, 3]);
        let b = Bytes::from_static(&[4]);
        let value = ("ev", serde_json::json!({"x": 1}), (&a, [&b]));
        let (json, attachments) = to_payload(&value).expect("serialises");
        assert_eq!(
            json.as_str(),
            r#"["ev",{"x":1},[{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]]"#
        );
        assert_eq!(attachments, [a, b]);
    }
}
