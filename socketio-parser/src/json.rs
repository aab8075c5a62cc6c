//! A validating JSON scanner: one pass over the raw text, bounded nesting, and no allocation
//! unless the nesting passes 64 levels (8 when placeholders are tracked).
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

/// Scans `text` as one JSON value surrounded by optional whitespace. With `placeholders`, objects
/// whose `_placeholder` member is `true` are checked to have an integer `num` and counted.
pub(crate) fn scan(text: &[u8], max_depth: usize, placeholders: bool) -> Result<Scan, JsonError> {
    if placeholders {
        scan_values::<true>(text, max_depth)
    } else {
        scan_values::<false>(text, max_depth)
    }
}

/// Placeholder detection in one open container: whether it is an object whose last
/// `_placeholder` member is `true`, and its last `num` member if that is a plain non-negative
/// integer (the last members win, as in `JSON.parse`).
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    flag: bool,
    num: Option<u64>,
}

impl Marks {
    /// Records the value of the member named by `key`: `true` if it is the literal `true`, and
    /// `uint` if it is a plain non-negative integer.
    fn member(&mut self, key: PlaceholderKey, is_true: bool, uint: Option<u64>) {
        match key {
            PlaceholderKey::Flag => self.flag = is_true,
            PlaceholderKey::Num => self.num = uint,
        }
    }
}

/// How many levels of [`Marks`] a [`MarksStack`] keeps in place before it allocates.
const INLINE_MARKS: usize = 8;

/// The [`Marks`] of the open containers, innermost last.
struct MarksStack {
    inline: [Marks; INLINE_MARKS],
    deeper: Vec<Marks>,
    len: usize,
}

impl MarksStack {
    fn push(&mut self, marks: Marks) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = marks,
            None => self.deeper.push(marks),
        }
        self.len += 1;
    }

    fn last_mut(&mut self) -> Option<&mut Marks> {
        let top = self.len.checked_sub(1)?;
        match self.inline.get_mut(top) {
            Some(slot) => Some(slot),
            None => self.deeper.last_mut(),
        }
    }

    fn pop(&mut self) -> Option<Marks> {
        let top = self.len.checked_sub(1)?;
        self.len = top;
        match self.inline.get(top) {
            Some(&marks) => Some(marks),
            None => self.deeper.pop(),
        }
    }
}

/// How many levels of open containers [`Open`] keeps in a bit set before it allocates.
const INLINE_LEVELS: usize = 64;

/// The open containers, innermost last: whether each is an object.
struct Open {
    /// Bit `n` is set when the container at depth `n` is an object, for the first
    /// [`INLINE_LEVELS`] levels.
    objects: u64,
    deeper: Vec<bool>,
    len: usize,
}

impl Open {
    fn push(&mut self, object: bool) {
        if self.len < INLINE_LEVELS {
            let bit = 1u64 << self.len;
            self.objects = if object { self.objects | bit } else { self.objects & !bit };
        } else {
            self.deeper.push(object);
        }
        self.len += 1;
    }

    /// Whether the innermost container is an object; `None` when none is open.
    fn innermost(&self) -> Option<bool> {
        let top = self.len.checked_sub(1)?;
        if top < INLINE_LEVELS {
            Some(self.objects >> top & 1 == 1)
        } else {
            self.deeper.last().copied()
        }
    }

    fn pop(&mut self) {
        if self.len > INLINE_LEVELS {
            self.deeper.pop();
        }
        self.len = self.len.saturating_sub(1);
    }
}

/// The scan itself, without recursion: the position stays in a local, the open containers in
/// [`Open`]. The checks and their order are those of a recursive descent parser, so the first
/// error in the text is the one reported.
fn scan_values<const PLACEHOLDERS: bool>(b: &[u8], max_depth: usize) -> Result<Scan, JsonError> {
    let mut scan = Scan::default();
    let mut open = Open { objects: 0, deeper: Vec::new(), len: 0 };
    // With `PLACEHOLDERS`, one entry per open container.
    let mut marks = MarksStack { inline: [Marks::default(); INLINE_MARKS], deeper: Vec::new(), len: 0 };
    // The member whose value comes next, when its key matters for placeholder detection.
    let mut member: Option<PlaceholderKey> = None;
    // Where the first element of a top-level array starts, until it is recorded.
    let mut first_start: Option<usize> = None;
    let mut i = skip_ws(b, 0);
    loop {
        // A value starts at `i`.
        let start = i;
        let mut escaped = false;
        let mut kind = match b.get(i) {
            Some(b'"') => {
                (i, escaped) = string(b, i)?;
                JsonKind::String
            }
            Some(&c @ (b'[' | b'{')) => {
                if open.len >= max_depth {
                    return Err(JsonError::TooDeep);
                }
                if PLACEHOLDERS {
                    // A member whose value is a container is neither `true` nor a number.
                    if let (Some(key), Some(marks)) = (member.take(), marks.last_mut()) {
                        marks.member(key, false, None);
                    }
                    marks.push(Marks::default());
                }
                let object = c == b'{';
                open.push(object);
                i = skip_ws(b, i + 1);
                match (object, b.get(i)) {
                    (true, Some(b'}')) | (false, Some(b']')) => {
                        i += 1;
                        open.pop();
                        if PLACEHOLDERS {
                            marks.pop();
                        }
                        if object {
                            JsonKind::Object
                        } else {
                            JsonKind::Array
                        }
                    }
                    (true, _) => {
                        i = key::<PLACEHOLDERS>(b, i, &mut member)?;
                        continue;
                    }
                    (false, _) => {
                        if open.len == 1 {
                            first_start = Some(i);
                        }
                        continue;
                    }
                }
            }
            Some(b't') => {
                i = literal(b, i, b"true")?;
                JsonKind::Bool
            }
            Some(b'f') => {
                i = literal(b, i, b"false")?;
                JsonKind::Bool
            }
            Some(b'n') => {
                i = literal(b, i, b"null")?;
                JsonKind::Null
            }
            Some(b'-' | b'0'..=b'9') => {
                i = number(b, i)?;
                JsonKind::Number
            }
            _ => return Err(JsonError::Syntax(i)),
        };
        if PLACEHOLDERS {
            if let (Some(key), Some(marks)) = (member.take(), marks.last_mut()) {
                let text = b.get(start..i).unwrap_or_default();
                let uint = if kind == JsonKind::Number { parse_uint(text) } else { None };
                marks.member(key, text == b"true", uint);
            }
        }
        // The value is complete, and so may be the containers it ends.
        loop {
            if open.len == 1 {
                if let Some(first) = first_start.take() {
                    let range = if kind == JsonKind::String { first + 1..i - 1 } else { first..i };
                    scan.first = Some((kind, range));
                    scan.first_escaped = escaped;
                }
            }
            i = skip_ws(b, i);
            let Some(object) = open.innermost() else {
                if i != b.len() {
                    return Err(JsonError::Syntax(i));
                }
                scan.top = Some(kind);
                return Ok(scan);
            };
            match b.get(i) {
                Some(b',') => {
                    i = skip_ws(b, i + 1);
                    if object {
                        i = key::<PLACEHOLDERS>(b, i, &mut member)?;
                    }
                    break;
                }
                Some(b']') if !object => kind = JsonKind::Array,
                Some(b'}') if object => kind = JsonKind::Object,
                _ => return Err(JsonError::Syntax(i)),
            }
            i += 1;
            open.pop();
            escaped = false;
            if PLACEHOLDERS {
                if let Some(Marks { flag: true, num }) = marks.pop() {
                    let n = num.ok_or(JsonError::Placeholder)?;
                    scan.placeholders += 1;
                    scan.max_num = Some(scan.max_num.map_or(n, |m| m.max(n)));
                }
            }
        }
    }
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// Reads an object member's key and the `:` after it, from `i` (after whitespace); returns
/// where its value starts. With `PLACEHOLDERS`, `member` says which placeholder member it is.
#[inline]
fn key<const PLACEHOLDERS: bool>(
    b: &[u8],
    i: usize,
    member: &mut Option<PlaceholderKey>,
) -> Result<usize, JsonError> {
    let (end, _) = string(b, i)?;
    if PLACEHOLDERS {
        *member = placeholder_key(b.get(i + 1..end - 1).unwrap_or_default());
    }
    let colon = skip_ws(b, end);
    if b.get(colon) != Some(&b':') {
        return Err(JsonError::Syntax(colon));
    }
    Ok(skip_ws(b, colon + 1))
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, JsonError> {
    match b.get(i..i + word.len()) {
        Some(text) if text == word => Ok(i + word.len()),
        _ => Err(JsonError::Syntax(i)),
    }
}

#[inline]
fn digits(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// Reads a number starting at `i`; returns where it ends.
fn number(b: &[u8], mut i: usize) -> Result<usize, JsonError> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i + 1),
        _ => return Err(JsonError::Syntax(i)),
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !matches!(b.get(i), Some(b'0'..=b'9')) {
            return Err(JsonError::Syntax(i));
        }
        i = digits(b, i);
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        if !matches!(b.get(i), Some(b'0'..=b'9')) {
            return Err(JsonError::Syntax(i));
        }
        i = digits(b, i);
    }
    Ok(i)
}

/// Reads a string starting at its opening quote at `i`; returns where it ends (after the
/// closing quote) and whether it holds escapes.
#[inline]
fn string(b: &[u8], mut i: usize) -> Result<(usize, bool), JsonError> {
    if b.get(i) != Some(&b'"') {
        return Err(JsonError::Syntax(i));
    }
    i += 1;
    let mut escaped = false;
    loop {
        // Fast path: skip ordinary bytes.
        while let Some(&c) = b.get(i) {
            if STRING_SPECIAL[usize::from(c)] {
                break;
            }
            i += 1;
        }
        match b.get(i) {
            Some(b'"') => return Ok((i + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                i += 1;
                match b.get(i) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 1,
                    Some(b'u') => {
                        let hex = b.get(i + 1..i + 5).ok_or(JsonError::Syntax(i))?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(JsonError::Syntax(i));
                        }
                        i += 5;
                    }
                    _ => return Err(JsonError::Syntax(i)),
                }
            }
            // A control character, or the end of the input.
            _ => return Err(JsonError::Syntax(i)),
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

#[cfg(test)]
mod rules {
    use super::*;

    fn err(s: &str) -> JsonError {
        match scan(s.as_bytes(), 128, true) {
            Ok(found) => panic!("{s:?} accepted: {found:?}"),
            Err(e) => e,
        }
    }

    fn ok(s: &str) -> Scan {
        scan(s.as_bytes(), 128, true).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn a_syntax_error_names_the_first_unexpected_byte() {
        let cases = [
            ("", 0),
            ("  ", 2),
            ("[1,]", 3),
            ("[1 2]", 3),
            ("{\"a\"}", 4),
            ("{\"a\" 1}", 5),
            ("{\"a\":1,}", 7),
            ("{1:2}", 1),
            ("01", 1),
            ("-", 1),
            ("-a", 1),
            ("1.", 2),
            ("1.e5", 2),
            ("1e", 2),
            ("1e+", 3),
            ("1E-x", 3),
            ("tru", 0),
            ("[nul]", 1),
            ("falsey", 5),
            ("\"\\x\"", 2),
            ("\"\\u12\"", 2),
            ("\"\\u12g4\"", 2),
            ("\"a\u{1}\"", 2),
            ("\"abc", 4),
            ("[]]", 2),
            ("[1}", 2),
            ("{\"a\":1]", 6),
            ("1 2", 2),
            ("\"\\", 2),
        ];
        for (text, at) in cases {
            assert_eq!(scan(text.as_bytes(), 128, false).err(), Some(JsonError::Syntax(at)), "{text:?}");
            assert_eq!(err(text), JsonError::Syntax(at), "{text:?} with placeholders");
        }
    }

    #[test]
    fn numbers_in_every_form() {
        // Spaces and other printable characters are ordinary string bytes.
        assert_eq!(ok("\"a b ~\u{7f}é\"").top, Some(JsonKind::String));
        assert_eq!(ok("[\" \"]").first, Some((JsonKind::String, 2..3)));
        for text in ["0", "-0", "10", "-12.50", "1e5", "1E+5", "2.5e-10", "0.0", "123456789"] {
            let found = ok(text);
            assert_eq!(found.top, Some(JsonKind::Number), "{text}");
        }
    }

    #[test]
    fn the_top_level_kind_and_the_first_element() {
        let tops = [
            ("null", JsonKind::Null),
            ("true", JsonKind::Bool),
            ("false", JsonKind::Bool),
            ("\"s\"", JsonKind::String),
            ("[1]", JsonKind::Array),
            ("{\"a\":{}}", JsonKind::Object),
            (" [ ] ", JsonKind::Array),
            ("{ }", JsonKind::Object),
        ];
        for (text, kind) in tops {
            assert_eq!(ok(text).top, Some(kind), "{text}");
        }
        let firsts = [
            ("[12,\"a\"]", Some((JsonKind::Number, 1..3)), false),
            ("[ \"a\\\"b\" ]", Some((JsonKind::String, 3..7)), true),
            ("[\"ab\",\"c\\n\"]", Some((JsonKind::String, 2..4)), false),
            ("[[1],2]", Some((JsonKind::Array, 1..4)), false),
            ("[{\"a\":1}]", Some((JsonKind::Object, 1..8)), false),
            ("[true]", Some((JsonKind::Bool, 1..5)), false),
            ("[]", None, false),
            ("{\"a\":[1]}", None, false),
            ("\"x\"", None, false),
        ];
        for (text, first, escaped) in firsts {
            let found = ok(text);
            assert_eq!(found.first, first, "{text}");
            assert_eq!(found.first_escaped, escaped, "{text}");
        }
    }

    #[test]
    fn containers_deeper_than_the_inline_levels_keep_their_kinds() {
        // 70 levels alternate arrays and objects; each closes with its own bracket.
        let mut open = String::new();
        let mut close = String::new();
        for level in 0..70 {
            if level % 2 == 0 {
                open.push('[');
                close.insert(0, ']');
            } else {
                open.push_str("{\"k\":");
                close.insert(0, '}');
            }
        }
        let text = format!("{open}1{close}");
        assert_eq!(ok(&text).top, Some(JsonKind::Array));
        // Swap one closing bracket deep inside: the error is found where it is.
        let mut wrong = text.clone().into_bytes();
        let at = open.len() + 1 + 3;
        wrong[at] = if wrong[at] == b']' { b'}' } else { b']' };
        assert_eq!(scan(&wrong, 128, true).err(), Some(JsonError::Syntax(at)));
        assert_eq!(scan(&wrong, 128, false).err(), Some(JsonError::Syntax(at)));
        // The outer levels, closed after the deep ones, are checked too.
        let mut outer = text.into_bytes();
        let last = outer.len() - 2;
        outer[last] = if outer[last] == b']' { b'}' } else { b']' };
        assert_eq!(scan(&outer, 128, true).err(), Some(JsonError::Syntax(last)));
        // Siblings after a deep container.
        let siblings = format!("[{open}1{close},{open}2{close},\"x\"]");
        assert_eq!(ok(&siblings).top, Some(JsonKind::Array));
        assert_eq!(scan(b"[[[[]]]]", 3, false).err(), Some(JsonError::TooDeep));
        assert!(scan(b"[[[]]]", 3, false).is_ok());
    }

    #[test]
    fn placeholders_deep_inside_are_found() {
        let mut text = String::new();
        for _ in 0..12 {
            text.push_str("{\"a\":[");
        }
        text.push_str(r#"{"_placeholder":true,"num":3},{"_placeholder":true,"num":1}"#);
        for _ in 0..12 {
            text.push_str("]}");
        }
        let found = ok(&text);
        assert_eq!((found.placeholders, found.max_num), (2, Some(3)));
        // The placeholder of an outer level is recorded after the deep ones close.
        let outer = format!(r#"[{{"x":{text},"_placeholder":true,"num":7}}]"#);
        let found = ok(&outer);
        assert_eq!((found.placeholders, found.max_num), (3, Some(7)));
    }

    #[test]
    fn placeholder_members_the_last_wins_and_escaped_keys_count() {
        type Found = Result<(usize, Option<u64>), JsonError>;
        let cases: [(&str, Found); 12] = [
            (r#"[{"_placeholder":true,"_placeholder":false,"num":0}]"#, Ok((0, None))),
            (r#"[{"_placeholder":false,"_placeholder":true,"num":0}]"#, Ok((1, Some(0)))),
            (r#"[{"num":1,"num":0,"_placeholder":true}]"#, Ok((1, Some(0)))),
            (r#"[{"\u005fplaceholder":true,"n\u0075m":2}]"#, Ok((1, Some(2)))),
            (r#"[{"_placeholder":true,"num":[0]}]"#, Err(JsonError::Placeholder)),
            (r#"[{"_placeholder":true,"num":{"a":0}}]"#, Err(JsonError::Placeholder)),
            (r#"[{"_placeholder":{},"num":0}]"#, Ok((0, None))),
            (r#"[{"_placeholder":true,"num":0,"num":true}]"#, Err(JsonError::Placeholder)),
            (r#"[{"_placeholder":true,"num":18446744073709551615}]"#, Ok((1, Some(u64::MAX)))),
            (
                r#"[{"_placeholder":true,"num":10000000000000000000}]"#,
                Ok((1, Some(10_000_000_000_000_000_000))),
            ),
            (r#"[{"_placeholder":true,"num":18446744073709551616}]"#, Err(JsonError::Placeholder)),
            (r#"[{"_placeholder":true,"num":1e2}]"#, Err(JsonError::Placeholder)),
        ];
        for (text, expected) in cases {
            let got = scan(text.as_bytes(), 128, true).map(|s| (s.placeholders, s.max_num));
            assert_eq!(got, expected, "{text}");
        }
        // Without placeholder tracking the same texts are plain JSON.
        assert_eq!(scan(br#"[{"_placeholder":true}]"#, 128, false).map(|s| s.placeholders), Ok(0));
        // Keys that merely look alike.
        assert_eq!(ok(r#"[{"_placeholders":true,"num":0}]"#).placeholders, 0);
        assert_eq!(ok(r#"[{"\u005fplaceholders":true,"num":0}]"#).placeholders, 0);
        assert_eq!(ok(r#"[{"_placeholder":true,"\u006eum2":0,"num":4}]"#).max_num, Some(4));
    }

    #[test]
    fn parse_uint_reads_plain_integers_only() {
        assert_eq!(parse_uint(b"0"), Some(0));
        assert_eq!(parse_uint(b"42"), Some(42));
        assert_eq!(parse_uint(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_uint(b"18446744073709551616"), None);
        assert_eq!(parse_uint(b"100000000000000000000"), None);
        assert_eq!(parse_uint(b""), None);
        assert_eq!(parse_uint(b"-1"), None);
        assert_eq!(parse_uint(b"1.0"), None);
    }

    #[test]
    fn unescape_decodes_every_escape() {
        assert_eq!(unescape(br#"\"\\\/\b\f\n\r\t"#).as_deref(), Some("\"\\/\u{8}\u{c}\n\r\t"));
        assert_eq!(unescape(br"\u00e9\u0041").as_deref(), Some("éA"));
        assert_eq!(unescape(br"\ud83d\ude00").as_deref(), Some("😀"));
        assert_eq!(unescape(br"\udbff\udfff").as_deref(), Some("\u{10ffff}"));
        // Lone surrogates become U+FFFD, however they are followed.
        assert_eq!(unescape(br"\ud800").as_deref(), Some("\u{fffd}"));
        assert_eq!(unescape(br"\ude00").as_deref(), Some("\u{fffd}"));
        assert_eq!(unescape(br"\ud800\ud800\ude00").as_deref(), Some("\u{fffd}\u{10200}"));
        assert_eq!(unescape(br"\ud800\n").as_deref(), Some("\u{fffd}\n"));
        assert_eq!(unescape(br"\ud800\u0041").as_deref(), Some("\u{fffd}A"));
        assert_eq!(unescape(br"\ud800x").as_deref(), Some("\u{fffd}x"));
        assert_eq!(unescape("plain é".as_bytes()).as_deref(), Some("plain é"));
        assert_eq!(unescape(br"\x"), None);
        assert_eq!(unescape(br"\uzzzz"), None);
        assert_eq!(unescape(br"\"), None);
        assert_eq!(unescape(b"\xff"), None);
    }
}
