//! Serialising values to JSON exactly as the reference's `JSON.stringify` writes them, with
//! binary values deconstructed into placeholders and attachments.

use std::io;

use bytes::Bytes;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use crate::packet::{trusted_utf8, RawJson};

/// Serialises `value` as JSON, replacing every binary value (anything serde serialises with
/// `serialize_bytes`, such as `bytes::Bytes` or `serde_bytes::ByteBuf`) by a placeholder
/// `{"_placeholder":true,"num":N}` and returning the binary values as attachments, `N` being the
/// 0-based order in which they were met. This is the reference encoder's `deconstructPacket`.
///
/// Numbers are written as JavaScript writes them (see [`write_js_number`]), so the text is the
/// reference server's, byte for byte.
pub fn to_payload<T: Serialize + ?Sized>(value: &T) -> Result<(RawJson, Vec<Bytes>), serde_json::Error> {
    let mut formatter = JsFormatter { attachments: Some(Vec::new()) };
    let json = serialize(value, &mut formatter)?;
    Ok((json, formatter.attachments.unwrap_or_default()))
}

/// Encodes a packet of the default parser whose JSON payload is `value` in one pass into one
/// string: the header (`kind`'s digit, the namespace and a comma unless it is `/`, the ack id)
/// then the JSON, as [`Packet::encode_to_string`](crate::Packet::encode_to_string) would write
/// it. This saves the separate payload buffer and its copy on the way out of a single-socket
/// emit or ack. `Ok(None)` when `value` holds binary data: such a packet needs attachments and
/// a binary packet type (see [`to_payload`]).
pub fn encode_text_packet<T: Serialize + ?Sized>(
    kind: crate::PacketType,
    nsp: &str,
    id: Option<u64>,
    value: &T,
) -> Result<Option<bytestring::ByteString>, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    out.push(b'0' + kind as u8);
    if !nsp.is_empty() && nsp != crate::packet::MAIN_NAMESPACE {
        out.extend_from_slice(nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = id {
        crate::packet::put_decimal(id, &mut out);
    }
    let mut formatter = JsFormatter { attachments: Some(Vec::new()) };
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, &mut formatter))?;
    if formatter.attachments.is_some_and(|a| !a.is_empty()) {
        return Ok(None);
    }
    Ok(Some(trusted_utf8(out)))
}

/// Serialises `value` as JSON with JavaScript's number formatting; binary values are written as
/// arrays of numbers.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<RawJson, serde_json::Error> {
    serialize(value, &mut JsFormatter { attachments: None })
}

fn serialize<T: Serialize + ?Sized>(
    value: &T,
    formatter: &mut JsFormatter,
) -> Result<RawJson, serde_json::Error> {
    let mut out = Vec::with_capacity(64);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut ser)?;
    Ok(RawJson::trusted(trusted_utf8(out)))
}

/// A compact JSON formatter with JavaScript's number formatting that, when it collects
/// attachments, writes placeholders for byte arrays.
struct JsFormatter {
    attachments: Option<Vec<Bytes>>,
}

impl Formatter for &mut JsFormatter {
    fn write_byte_array<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: &[u8]) -> io::Result<()> {
        let Some(attachments) = self.attachments.as_mut() else {
            return CompactFormatter.write_byte_array(writer, value);
        };
        let num = attachments.len();
        attachments.push(lent::take(value).unwrap_or_else(|| Bytes::copy_from_slice(value)));
        write!(writer, "{{\"_placeholder\":true,\"num\":{num}}}")
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        let mut buf = ryu::Buffer::new();
        write_js_digits(value.is_finite().then(|| buf.format_finite(value)), writer)
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        write_js_number(value, writer)
    }
}

/// Writes `value` as ECMAScript's `Number.prototype.toString` (and so `JSON.stringify`) does:
/// the shortest digits that round-trip, in decimal notation from 1e-6 up to 1e21 and in
/// exponent notation (`1e+21`, `1.5e-7`) outside it; integral values without a fraction (`2`,
/// not `2.0`); `-0` as `0`; non-finite values as `null`, as `JSON.stringify` writes them.
pub fn write_js_number<W: ?Sized + io::Write>(value: f64, writer: &mut W) -> io::Result<()> {
    let mut buf = ryu::Buffer::new();
    write_js_digits(value.is_finite().then(|| buf.format_finite(value)), writer)
}

/// Rewrites ryu's shortest representation (`1.5e-6`, `123.0`, `1e20`) in ECMAScript's layout.
fn write_js_digits<W: ?Sized + io::Write>(shortest: Option<&str>, writer: &mut W) -> io::Result<()> {
    let Some(s) = shortest else {
        return writer.write_all(b"null");
    };
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The significant digits, and `point`: the value is 0.DIGITS × 10^point.
    let mut digits = [0u8; 40];
    let mut k = 0;
    for &d in int_part.as_bytes().iter().chain(frac_part.as_bytes()) {
        if k < digits.len() {
            digits[k] = d;
            k += 1;
        }
    }
    let mut point = int_part.len() as i32 + exp;
    let leading = digits[..k].iter().take_while(|&&d| d == b'0').count();
    if leading == k {
        return writer.write_all(b"0");
    }
    point -= leading as i32;
    let digits = &digits[leading..k];
    let digits = &digits[..digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1)];
    let k = digits.len() as i32;

    if negative {
        writer.write_all(b"-")?;
    }
    if k <= point && point <= 21 {
        writer.write_all(digits)?;
        for _ in 0..point - k {
            writer.write_all(b"0")?;
        }
    } else if 0 < point && point <= 21 {
        let (int, frac) = digits.split_at(point as usize);
        writer.write_all(int)?;
        writer.write_all(b".")?;
        writer.write_all(frac)?;
    } else if -6 < point && point <= 0 {
        writer.write_all(b"0.")?;
        for _ in 0..-point {
            writer.write_all(b"0")?;
        }
        writer.write_all(digits)?;
    } else {
        writer.write_all(&digits[..1])?;
        if k > 1 {
            writer.write_all(b".")?;
            writer.write_all(&digits[1..])?;
        }
        let e = point - 1;
        write!(writer, "e{}{}", if e < 0 { '-' } else { '+' }, e.unsigned_abs())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_encoding_matches_the_packet_encoder() {
        use crate::{Packet, PacketType, Payload};
        let args = ("hi", 1.5, serde_json::json!({"a": [1, null]}));
        for (kind, nsp, id) in [(PacketType::Event, "/", None), (PacketType::Ack, "/admin", Some(42))] {
            let text = encode_text_packet(kind, nsp, id, &args).expect("serialises").expect("no binary");
            let (json, _) = to_payload(&args).expect("serialises");
            let packet = Packet { kind, nsp: nsp.into(), id, data: Some(Payload::json(json)) };
            assert_eq!(text, packet.encode_to_string());
        }
        let binary = ("file", Bytes::from_static(b"x"));
        assert_eq!(encode_text_packet(PacketType::Event, "/", None, &binary).expect("serialises"), None);
    }

    #[test]
    fn attachments_pass_through_values_without_a_copy() {
        let file = Bytes::from(vec![7u8; 65536]);
        let (json, attachments) = to_payload(&("upload", &file)).expect("serialises");
        assert_eq!(attachments.len(), 1);
        let payload = crate::Payload::Json { json, attachments };
        let args: Vec<crate::Value> = crate::from_args(&payload).expect("reads");
        let crate::Value::Binary(read) = &args[0] else { panic!("binary expected") };
        let crate::Payload::Json { attachments, .. } = &payload else { unreachable!() };
        assert_eq!(read.as_ptr(), attachments[0].as_ptr(), "read as the attachment's own bytes");
        let (_, again) = to_payload(&args).expect("serialises");
        assert_eq!(again[0].as_ptr(), attachments[0].as_ptr(), "written back as the same bytes");
        assert_eq!(again[0], file);
    }

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

    #[test]
    fn the_one_pass_header_leaves_out_the_main_and_empty_namespaces() {
        use crate::PacketType;
        let args = ("a",);
        let text =
            |kind, nsp, id| encode_text_packet(kind, nsp, id, &args).expect("serialises").expect("text");
        assert_eq!(text(PacketType::Event, "", None), r#"2["a"]"#);
        assert_eq!(text(PacketType::Event, "/", Some(7)), r#"27["a"]"#);
        assert_eq!(text(PacketType::Ack, "/x", Some(12)), r#"3/x,12["a"]"#);
        assert_eq!(text(PacketType::Ack, "/x", None), r#"3/x,["a"]"#);
    }

    #[test]
    fn without_attachments_binary_values_are_arrays_of_numbers() {
        let json = to_json(&("a", Bytes::from_static(&[1, 255]))).expect("serialises");
        assert_eq!(json.as_str(), r#"["a",[1,255]]"#);
    }

    #[test]
    fn f32_values_are_written_with_their_own_shortest_digits() {
        let js = |f: f32| {
            let mut out = Vec::new();
            (&mut JsFormatter { attachments: None }).write_f32(&mut out, f).expect("writes to a Vec");
            String::from_utf8(out).expect("ASCII")
        };
        assert_eq!(js(0.1), "0.1");
        assert_eq!(js(1.5), "1.5");
        assert_eq!(js(16_777_216.0), "16777216");
        assert_eq!(js(1e21), "1e+21");
        assert_eq!(js(f32::NAN), "null");
        assert_eq!(js(f32::NEG_INFINITY), "null");
        let json = to_json(&(0.1f32, -2.0f32)).expect("serialises");
        assert_eq!(json.as_str(), "[0.1,-2]");
    }

    #[test]
    fn lent_bytes_are_taken_only_whole_and_only_while_lent() {
        let outer = Bytes::from_static(b"outer");
        let inner = Bytes::from(vec![1u8, 2, 3]);
        assert_eq!(lent::take(&outer), None);
        lent::with(&outer, || {
            assert_eq!(lent::take(&outer).map(|b| b.as_ptr()), Some(outer.as_ptr()));
            assert_eq!(lent::take(&outer[..2]), None, "a prefix is not the lent bytes");
            assert_eq!(lent::take(&outer[1..]), None, "nor a suffix");
            lent::with(&inner, || {
                assert_eq!(lent::take(&inner).map(|b| b.as_ptr()), Some(inner.as_ptr()));
                assert_eq!(lent::take(&outer), None);
            });
            assert_eq!(lent::take(&outer).map(|b| b.as_ptr()), Some(outer.as_ptr()), "restored");
        });
        assert_eq!(lent::take(&outer), None);
    }

    #[test]
    fn numbers_in_each_layout() {
        let js = |f: f64| {
            let mut out = Vec::new();
            write_js_number(f, &mut out).expect("writes to a Vec");
            String::from_utf8(out).expect("ASCII")
        };
        for (value, text) in [
            (100.0, "100"),
            (1234.5, "1234.5"),
            (0.5, "0.5"),
            (1e-5, "0.00001"),
            (0.000123, "0.000123"),
            (1.23e-7, "1.23e-7"),
            (-1e-7, "-1e-7"),
            (1.5e20, "150000000000000000000"),
            (1.5e21, "1.5e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (-1.5e300, "-1.5e+300"),
            (2.5e-300, "2.5e-300"),
            (9007199254740993.0, "9007199254740992"),
            (-0.000001, "-0.000001"),
        ] {
            assert_eq!(js(value), text, "{value:e}");
        }
    }

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        let js = |f: f64| {
            let mut out = Vec::new();
            write_js_number(f, &mut out).expect("writes to a Vec");
            String::from_utf8(out).expect("ASCII")
        };
        for (value, text) in [
            (0.0, "0"),
            (-0.0, "0"),
            (2.0, "2"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (0.30000000000000004, "0.30000000000000004"),
            (1.5e-6, "0.0000015"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (123456.789, "123456.789"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.2345e22, "1.2345e+22"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (4503599627370495.5, "4503599627370495.5"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            assert_eq!(js(value), text, "{value:e}");
        }
    }
}

/// Bytes passed through serde without a copy.
///
/// serde hands binary data over as `&[u8]`, so a [`Value::Binary`](crate::Value::Binary) going
/// into an attachment, or an attachment coming out as one, would be copied (64 KiB for a file
/// upload, twice for an echo). Around the call that hands the slice over, the owner lends its
/// `Bytes` here; the receiving side takes a reference-counted clone when the slice it got is
/// exactly the lent one (same address, same length), and copies otherwise.
pub(crate) mod lent {
    use std::cell::RefCell;

    use bytes::Bytes;

    thread_local! {
        static LENT: RefCell<Option<Bytes>> = const { RefCell::new(None) };
    }

    /// Runs `f` with `bytes` lent.
    pub(crate) fn with<R>(bytes: &Bytes, f: impl FnOnce() -> R) -> R {
        let previous = LENT.with(|lent| lent.replace(Some(bytes.clone())));
        let result = f();
        LENT.with(|lent| *lent.borrow_mut() = previous);
        result
    }

    /// A clone of the lent bytes if `slice` is them.
    pub(crate) fn take(slice: &[u8]) -> Option<Bytes> {
        LENT.with(|lent| {
            lent.borrow().as_ref().filter(|b| b.as_ptr() == slice.as_ptr() && b.len() == slice.len()).cloned()
        })
    }
}
