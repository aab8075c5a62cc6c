//! A validating JSON scanner: one pass over the raw text, no allocation, bounded nesting.
//!
//! It checks the syntax of RFC 8259 JSON (as `JSON.parse` accepts it, lone surrogate escapes
//! included) and reports just what the Socket.IO decoder needs: the kind of the top-level value,
//! the first element of a top-level array (the event name), and the binary placeholders
//! `{"_placeholder":true,"num":N}` with their numbers.

use std::ops::Range;

/// The kind of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// Why a JSON text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not JSON; the byte offset of the first unexpected byte.
    Syntax(usize),
    /// Nested deeper than the limit.
    TooDeep,
    /// A placeholder whose `num` is missing, not a non-negative integer, or too large.
    Placeholder,
}

/// What a successful scan found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan {
    /// The top-level value's kind.
    pub(crate) top: Option<JsonKind>,
    /// For a top-level array: the first element's kind and the byte range of its text (for a
    /// string: the contents between the quotes, still escaped).
    pub(crate) first: Option<(JsonKind, Range<usize>)>,
    /// Whether the first element (a string) contains escapes.
    pub(crate) first_escaped: bool,
    /// The number of placeholders found (only when asked for).
    pub(crate) placeholders: usize,
    /// The largest placeholder `num` found.
    pub(crate) max_num: Option<u64>,
}

pub(crate) struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
    max_depth: usize,
    placeholders: bool,
    scan: Scan,
}

/// Scans `text` as one JSON value surrounded by optional whitespace. With `placeholders`, objects
/// whose `_placeholder` member is `true` are checked to have an integer `num` and counted.
pub(crate) fn scan(text: &[u8], max_depth: usize, placeholders: bool) -> Result<Scan, JsonError> {
    let mut s = Scanner { b: text, i: 0, depth: 0, max_depth, placeholders, scan: Scan::default() };
    s.ws();
    let kind = s.value(true)?;
    s.ws();
    if s.i != s.b.len() {
        return Err(JsonError::Syntax(s.i));
    }
    s.scan.top = Some(kind);
    Ok(s.scan)
}

/// The outcome of scanning an object member's value, for placeholder detection.
enum Member {
    Other,
    True,
    Uint(u64),
}

impl Scanner<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn err<T>(&self) -> Result<T, JsonError> {
        Err(JsonError::Syntax(self.i))
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err()
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            self.err()
        }
    }

    fn value(&mut self, top: bool) -> Result<JsonKind, JsonError> {
        match self.peek() {
            Some(b'"') => {
                self.string()?;
                Ok(JsonKind::String)
            }
            Some(b'[') => {
                self.array(top)?;
                Ok(JsonKind::Array)
            }
            Some(b'{') => {
                self.object()?;
                Ok(JsonKind::Object)
            }
            Some(b't') => self.literal(b"true").map(|()| JsonKind::Bool),
            Some(b'f') => self.literal(b"false").map(|()| JsonKind::Bool),
            Some(b'n') => self.literal(b"null").map(|()| JsonKind::Null),
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Ok(JsonKind::Number)
            }
            _ => self.err(),
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(JsonError::TooDeep);
        }
        Ok(())
    }

    fn array(&mut self, top: bool) -> Result<(), JsonError> {
        self.enter()?;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut first = top;
        loop {
            let start = self.i;
            let kind = self.value(false)?;
            if first {
                first = false;
                let range = if kind == JsonKind::String { start + 1..self.i - 1 } else { start..self.i };
                self.scan.first_escaped = kind == JsonKind::String && self.b[range.clone()].contains(&b'\\');
                self.scan.first = Some((kind, range));
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.err(),
            }
        }
    }

    fn object(&mut self) -> Result<(), JsonError> {
        self.enter()?;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        // Placeholder detection: the last `_placeholder` and `num` members win, as in
        // `JSON.parse`.
        let mut is_placeholder = false;
        let mut num: Option<u64> = None;
        loop {
            let key_start = self.i + 1;
            self.string()?;
            let key = &self.b[key_start..self.i - 1];
            self.ws();
            self.expect(b':')?;
            self.ws();
            if self.placeholders {
                match placeholder_key(key) {
                    Some(PlaceholderKey::Flag) => {
                        is_placeholder = matches!(self.member()?, Member::True);
                    }
                    Some(PlaceholderKey::Num) => {
                        num = match self.member()? {
                            Member::Uint(n) => Some(n),
                            _ => None,
                        };
                    }
                    None => {
                        self.value(false)?;
                    }
                }
            } else {
                self.value(false)?;
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    break;
                }
                _ => return self.err(),
            }
        }
        if is_placeholder {
            let n = num.ok_or(JsonError::Placeholder)?;
            self.scan.placeholders += 1;
            self.scan.max_num = Some(self.scan.max_num.map_or(n, |m| m.max(n)));
        }
        Ok(())
    }

    /// Scans a member value and says whether it was `true` or a plain non-negative integer.
    fn member(&mut self) -> Result<Member, JsonError> {
        let start = self.i;
        let kind = self.value(false)?;
        let text = &self.b[start..self.i];
        Ok(match kind {
            JsonKind::Bool if text == b"true" => Member::True,
            JsonKind::Number => parse_uint(text).map_or(Member::Other, Member::Uint),
            _ => Member::Other,
        })
    }

    fn number(&mut self) -> Result<(), JsonError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.err(),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err();
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err();
            }
            self.digits();
        }
        Ok(())
    }

    #[inline]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    /// Scans a string starting at its opening quote; leaves `i` after the closing quote.
    fn string(&mut self) -> Result<(), JsonError> {
        self.expect(b'"')?;
        loop {
            // Fast path: skip ordinary bytes.
            while let Some(&c) = self.b.get(self.i) {
                if STRING_SPECIAL[usize::from(c)] {
                    break;
                }
                self.i += 1;
            }
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 1..self.i + 5).ok_or(JsonError::Syntax(self.i))?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return self.err();
                            }
                            self.i += 5;
                        }
                        _ => return self.err(),
                    }
                }
                // A control character, or the end of the input.
                _ => return self.err(),
            }
        }
    }
}

/// Bytes that end the fast path of a string scan: `"`, `\` and the control characters.
static STRING_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

enum PlaceholderKey {
    Flag,
    Num,
}

fn placeholder_key(raw: &[u8]) -> Option<PlaceholderKey> {
    match raw {
        b"_placeholder" => Some(PlaceholderKey::Flag),
        b"num" => Some(PlaceholderKey::Num),
        _ if raw.contains(&b'\\') => match unescape(raw).as_deref() {
            Some("_placeholder") => Some(PlaceholderKey::Flag),
            Some("num") => Some(PlaceholderKey::Num),
            _ => None,
        },
        _ => None,
    }
}

/// A JSON number that is a plain non-negative integer literal fitting in `u64`.
fn parse_uint(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Decodes the contents of a JSON string (between the quotes, already validated). Lone
/// surrogates, which JavaScript strings may hold, become U+FFFD.
pub(crate) fn unescape(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    let mut pending_high: Option<u16> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            if pending_high.take().is_some() {
                out.push('\u{fffd}');
            }
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        let unit = match e {
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                u16::from_str_radix(&hex, 16).ok()?
            }
            _ => {
                if pending_high.take().is_some() {
                    out.push('\u{fffd}');
                }
                out.push(match e {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    _ => return None,
                });
                continue;
            }
        };
        match (pending_high.take(), unit) {
            (Some(high), 0xdc00..=0xdfff) => {
                let c = 0x10000 + ((u32::from(high) - 0xd800) << 10) + (u32::from(unit) - 0xdc00);
                out.push(char::from_u32(c)?);
            }
            (prev, 0xd800..=0xdbff) => {
                if prev.is_some() {
                    out.push('\u{fffd}');
                }
                pending_high = Some(unit);
            }
            (prev, _) => {
                if prev.is_some() {
                    out.push('\u{fffd}');
                }
                out.push(char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}'));
            }
        }
    }
    if pending_high.is_some() {
        out.push('\u{fffd}');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Scan {
        scan(s.as_bytes(), 128, true).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn accepts_json() {
        for s in [
            "0",
            "-0",
            "1.5e-3",
            "\"\"",
            "\"a\\u00e9\\n\"",
            "[]",
            "{}",
            " [1, 2 ,3] ",
            "{\"a\":[true,false,null]}",
            "\"\\ud800\"",
            "[\"é😀\"]",
        ] {
            ok(s);
        }
    }

    #[test]
    fn rejects_non_json() {
        for s in [
            "",
            " ",
            "[",
            "]",
            "[1,]",
            "{\"a\"}",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "tru",
            "nul",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a\u{1}\"",
            "[1 2]",
            "{1:2}",
            "\"abc",
            "[]]",
            "'a'",
            "NaN",
            "Infinity",
            "+1",
        ] {
            assert!(scan(s.as_bytes(), 128, false).is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(129) + &"]".repeat(129);
        assert_eq!(scan(deep.as_bytes(), 128, false).err(), Some(JsonError::TooDeep));
        let ok = "[".repeat(128) + &"]".repeat(128);
        assert!(scan(ok.as_bytes(), 128, false).is_ok());
    }

    #[test]
    fn finds_first_element_and_placeholders() {
        let s = ok(r#"["ev",{"_placeholder":true,"num":1},[{"num":0,"_placeholder":true}]]"#);
        assert_eq!(s.top, Some(JsonKind::Array));
        assert_eq!(s.first, Some((JsonKind::String, 2..4)));
        assert_eq!(s.placeholders, 2);
        assert_eq!(s.max_num, Some(1));
        // `_placeholder` must be exactly `true`.
        assert_eq!(ok(r#"[{"_placeholder":"true","num":"x"}]"#).placeholders, 0);
        for bad in [
            r#"[{"_placeholder":true}]"#,
            r#"[{"_placeholder":true,"num":"splice"}]"#,
            r#"[{"_placeholder":true,"num":-1}]"#,
            r#"[{"_placeholder":true,"num":1.5}]"#,
            r#"[{"_placeholder":true,"num":99999999999999999999999}]"#,
        ] {
            assert_eq!(scan(bad.as_bytes(), 128, true).err(), Some(JsonError::Placeholder), "{bad}");
        }
    }

    #[test]
    fn unescapes_like_json_parse() {
        assert_eq!(unescape(br"a\u0063\n\ud83d\ude00").as_deref(), Some("ac\n😀"));
        assert_eq!(unescape(br"\ud800x").as_deref(), Some("\u{fffd}x"));
    }
}
