//! JSON text read straight into [`Value`]s, without serde: one pass over the bytes, and no
//! allocation beyond the values' own strings and vectors.
//!
//! The reader covers the JSON that arguments carry: strings (escapes included), integers that
//! fit 64 bits, finite floats, literals, arrays and objects nested at most [`MAX_DEPTH`] levels.
//! Whatever else it meets (a lone surrogate escape, `-0`, an integer beyond 64 bits, a float
//! out of range, deeper nesting, or text that is not JSON) it gives up on with `None`, and the
//! caller reads the text with `serde_json` instead, so that every such case keeps `serde_json`'s
//! answer, error included. For the text it does read, it gives what `serde_json` gives.

use crate::value::Value;

/// Nesting beyond which the reader leaves the text to `serde_json` (whose own limit is 128).
const MAX_DEPTH: usize = 100;

/// The elements of the top-level array `text` after the first one (an event's arguments
/// without its name): `None` when the reader leaves the text to `serde_json`, `Some(None)` for
/// an empty array.
pub(crate) fn args(text: &str) -> Option<Option<Vec<Value>>> {
    let mut r = Reader { text, at: 0 };
    r.ws();
    r.expect(b'[')?;
    r.ws();
    if r.eat(b']') {
        return r.end().then_some(None);
    }
    r.skip_first()?;
    let mut items = Vec::with_capacity(4);
    loop {
        r.ws();
        match r.next()? {
            b',' => items.push(r.value(1)?),
            b']' => break,
            _ => return None,
        }
    }
    r.end().then_some(Some(items))
}

/// `text`, one JSON value surrounded by optional whitespace: `None` when the reader leaves it
/// to `serde_json`.
pub(crate) fn value(text: &str) -> Option<Value> {
    let mut r = Reader { text, at: 0 };
    let value = r.value(0)?;
    r.end().then_some(value)
}

/// The length of the run at the start of `bytes` without a quote, a backslash or a control
/// character: eight bytes at a time, then one at a time.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set where it is zero (after the xor) or below 0x20; the lowest
        // such byte is exact (borrows only reach the bytes above it).
        let found = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGH;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = chunks.remainder();
    at + rest.iter().position(|&b| matches!(b, b'"' | b'\\' | 0..=0x1f)).unwrap_or(rest.len())
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Whether only whitespace is left.
    fn end(&mut self) -> bool {
        self.ws();
        self.at == self.text.len()
    }

    /// Passes over the array's first element, after optional whitespace. A string is only
    /// checked for what `serde_json` checks in a value it ignores (escapes well formed, no
    /// control characters, surrogates not paired up); anything else is read and dropped.
    fn skip_first(&mut self) -> Option<()> {
        if self.peek() != Some(b'"') {
            return self.value(1).map(drop);
        }
        self.at += 1;
        loop {
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        self.hex4()?;
                    }
                    _ => return None,
                },
                0..=0x1f => return None,
                _ => {}
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(Value::String),
            b'[' => self.array(depth),
            b'{' => self.object(depth),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        if !self.bytes()[self.at..].starts_with(word.as_bytes()) {
            return None;
        }
        self.at += word.len();
        Some(value)
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.ws();
        if self.eat(b']') {
            return Some(Value::Array(Vec::new()));
        }
        // The capacity the first push would give, without the growth path.
        let mut items = Vec::with_capacity(4);
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.next()? {
                b',' => {}
                b']' => return Some(Value::Array(items)),
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.ws();
        if self.eat(b'}') {
            return Some(Value::Object(Vec::new()));
        }
        let mut members = Vec::with_capacity(4);
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.ws();
            self.expect(b':')?;
            members.push((key, self.value(depth + 1)?));
            self.ws();
            match self.next()? {
                b',' => {}
                b'}' => return Some(Value::Object(members)),
                _ => return None,
            }
        }
    }

    /// A string, the reader at its opening quote.
    fn string(&mut self) -> Option<String> {
        let start = self.at + 1;
        let end = start + plain_run(self.bytes().get(start..)?);
        match self.bytes().get(end)? {
            b'"' => {
                self.at = end + 1;
                // The quotes are ASCII, so both ends are character boundaries.
                self.text.get(start..end).map(str::to_owned)
            }
            b'\\' => self.escaped_string(start, end),
            _ => None,
        }
    }

    /// The rest of a string whose contents start at `start` and whose first escape is at `at`.
    fn escaped_string(&mut self, start: usize, at: usize) -> Option<String> {
        let mut out = String::with_capacity(at - start + 16);
        out.push_str(self.text.get(start..at)?);
        self.at = at;
        loop {
            let run = self.at;
            self.at += plain_run(self.bytes().get(run..)?);
            out.push_str(self.text.get(run..self.at)?);
            match self.next()? {
                b'"' => return Some(out),
                b'\\' => out.push(self.escape()?),
                _ => return None,
            }
        }
    }

    /// The character of an escape, the reader after its backslash. A surrogate escape must be
    /// the first of a pair.
    fn escape(&mut self) -> Option<char> {
        let c = match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                return match unit {
                    0xd800..=0xdbff => {
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return None;
                        }
                        char::from_u32(
                            0x10000 + ((u32::from(unit) - 0xd800) << 10) + (u32::from(low) - 0xdc00),
                        )
                    }
                    _ => char::from_u32(u32::from(unit)),
                };
            }
            _ => return None,
        };
        Some(c)
    }

    /// Four hexadecimal digits.
    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes().get(self.at..self.at + 4)?;
        let mut unit = 0u16;
        for &d in digits {
            unit = unit << 4 | u16::from(char::from(d).to_digit(16)? as u8);
        }
        self.at += 4;
        Some(unit)
    }

    /// A number, the reader at its first byte.
    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        let negative = self.eat(b'-');
        let digits = self.at;
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let integer = digits..self.at;
        let mut float = false;
        if self.eat(b'.') {
            float = true;
            self.digits1()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            float = true;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits1()?;
        }
        if float {
            let f: f64 = self.text.get(start..self.at)?.parse().ok()?;
            return serde_json::Number::from_f64(f).map(Value::Number);
        }
        let mut n = 0u64;
        for &d in &self.bytes()[integer] {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        if !negative {
            return Some(Value::Number(n.into()));
        }
        // `-0` is a float for serde_json, and so is a negative integer beyond i64.
        match n {
            0 => None,
            n if n <= i64::MIN.unsigned_abs() => Some(Value::Number((n as i64).wrapping_neg().into())),
            _ => None,
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    /// At least one digit.
    fn digits1(&mut self) -> Option<()> {
        let from = self.at;
        self.digits();
        (self.at > from).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde(text: &str) -> Option<Value> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let texts = [
            r#"{"seq":1,"text":"hello, load generator"}"#,
            r#" [ 1 , -2 , 3.5 , -0.25e-3 , 1E+2 , 18446744073709551615 , -9223372036854775808 ] "#,
            r#"{"a":{"b":[true,false,null,{}]},"a":[]}"#,
            r#""tab\tquote\"slash\/back\\ \b\f\n\r é \u00e9 \u20AC \ud83d\ude00""#,
            r#""plain é 😀""#,
            "0",
            "[[],[[]],{}]",
            r#"{"":""}"#,
            "1.7976931348623157e308",
            "5e-324",
            "1e-400",
        ];
        for text in texts {
            let read = value(text);
            assert!(read.is_some(), "{text} left to serde_json");
            assert_eq!(read, serde(text), "{text}");
        }
    }

    #[test]
    fn leaves_to_serde_json_what_it_does_not_cover() {
        let texts = [
            "-0",
            "-0.0e0x",
            "18446744073709551616",
            "-9223372036854775809",
            "1e400",
            "-1e400",
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            r#""\ude00""#,
            r#""\ud800x""#,
            r#""\x""#,
            r#""\u12g4""#,
            "\"a\u{1}\"",
            "\"open",
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{1:2}",
            "01",
            "-",
            "1.",
            "1e",
            "1e+",
            ".5",
            "tru",
            "nul",
            "[1] x",
            "",
            "[",
            "{",
            "{\"a\":",
            "+1",
        ];
        for text in texts {
            assert_eq!(value(text), None, "{text:?} read");
        }
        // Nesting at the limit is read; one level more is left to serde_json.
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(value(&nested(MAX_DEPTH)), serde(&nested(MAX_DEPTH)));
        assert_eq!(value(&nested(MAX_DEPTH + 1)), None);
        let objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        assert_eq!(value(&objects(MAX_DEPTH)), serde(&objects(MAX_DEPTH)));
        assert_eq!(value(&objects(MAX_DEPTH + 1)), None);
    }

    #[test]
    fn plain_runs_stop_at_the_first_quote_backslash_or_control_character() {
        let naive =
            |b: &[u8]| b.iter().position(|&c| matches!(c, b'"' | b'\\' | 0..=0x1f)).unwrap_or(b.len());
        let mut texts: Vec<Vec<u8>> = vec![Vec::new(), b"abc".to_vec(), "é😀 plain text, long enough".into()];
        for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for at in 0..20 {
                for len in [at + 1, at + 3, 24] {
                    let mut text: Vec<u8> =
                        (0..len.max(at + 1)).map(|i| b"a \x7f\x80\xff!#[]~"[i % 10]).collect();
                    text[at] = stop;
                    // A byte just above a stop, and the bytes that would borrow into it.
                    if at + 1 < text.len() {
                        text[at + 1] = 0x01;
                    }
                    texts.push(text);
                }
            }
        }
        for c in 0..=255u8 {
            texts.push(vec![b'a', b'b', b'c', b'd', b'e', b'f', b'g', c, c]);
        }
        for text in texts {
            assert_eq!(plain_run(&text), naive(&text), "{text:?}");
        }
    }

    #[test]
    fn integers_keep_serde_json_s_sign() {
        assert_eq!(value("7"), Some(Value::Number(serde_json::Number::from(7u64))));
        assert_eq!(value("-7"), Some(Value::Number(serde_json::Number::from(-7i64))));
        assert_eq!(value("-7").and_then(|v| v.as_i64()), Some(-7));
        assert_eq!(value("7").and_then(|v| v.as_u64()), Some(7));
        assert_eq!(value("2.0").and_then(|v| v.as_u64()), None);
    }

    #[test]
    fn args_skip_the_first_element() {
        let read = |text: &str| args(text);
        assert_eq!(read(r#"["ev",1,"a"]"#), Some(Some(vec![Value::from(1u64), Value::from("a")])));
        assert_eq!(read(r#" [ "ev" ] "#), Some(Some(vec![])));
        assert_eq!(read("[]"), Some(None));
        assert_eq!(read(" [ ] "), Some(None));
        // Any name is passed over, a lone surrogate in it too: serde_json ignores it unread.
        assert_eq!(read(r#"["\ud800\"\\\/\b\f\n\r\t",2]"#), Some(Some(vec![Value::from(2u64)])));
        assert_eq!(read(r#"[{"n":[1]},2]"#), Some(Some(vec![Value::from(2u64)])));
        assert_eq!(read("[3,[]]"), Some(Some(vec![Value::Array(vec![])])));
        for text in [
            r#"{"a":1}"#,
            "[1,]",
            "[1 2]",
            "[] x",
            "[1] x",
            r#"["\x",1]"#,
            r#"["\u12",1]"#,
            "[\"\u{1}\",1]",
            r#"["ev",1e400]"#,
            r#"["ev""#,
            "[",
            "[1,",
            "[-0,1]",
        ] {
            assert_eq!(read(text), None, "{text:?} read");
        }
    }
}
