//! A lenient reader for structured-field lists (RFC 9651 §3.1), one member at
//! a time.
//!
//! RFC 9651 fails a whole field when one member is malformed. Here a
//! malformed member is skipped up to the next comma outside a quoted string
//! and the rest of the list is still read, as [`super::headers`] documents.
//! Beyond that, the reader accepts optional whitespace (SP or HTAB) before
//! and after `;`, where RFC 9651 allows only spaces after it, and ignores
//! empty members.

/// A list member, or part of one, that does not follow the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// The largest integer RFC 9651 allows: 15 decimal digits.
pub const MAX_INTEGER: i64 = 999_999_999_999_999;

/// A bare item, reduced to what the RateLimit fields need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bare {
    /// An Integer (RFC 9651 §3.3.1).
    Integer(i64),
    /// Any other well-formed bare item: decimal, string, token, byte
    /// sequence, boolean, date or display string.
    Other,
}

/// A position in a field value.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes `b` if it is next.
    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Consumes bytes while `f` holds; returns how many.
    fn eat_while(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn skip_ows(&mut self) {
        self.eat_while(|b| b == b' ' || b == b'\t');
    }

    /// Moves to the next comma outside a quoted string, or the end.
    fn skip_to_comma(&mut self) {
        let mut quoted = false;
        while let Some(b) = self.peek() {
            match (quoted, b) {
                (false, b',') => return,
                (_, b'"') => quoted = !quoted,
                (true, b'\\') => {
                    self.pos += 1;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }
}

/// Reads every member of the list in `value` with `read`, called with a
/// cursor at the member's first byte, and hands what it returns to `keep`.
/// A member is malformed when `read` fails or leaves anything but
/// whitespace before the next comma; it is then skipped, never kept.
///
/// Returns the number of malformed members skipped. Empty members (`a,,b`,
/// a trailing comma, an empty field) are ignored and not counted.
pub fn for_each_member<T>(
    value: &[u8],
    mut read: impl FnMut(&mut Cursor<'_>) -> Result<T, Malformed>,
    mut keep: impl FnMut(T),
) -> usize {
    let mut cur = Cursor::new(value);
    let mut skipped = 0;
    loop {
        cur.skip_ows();
        if cur.peek().is_none() {
            return skipped;
        }
        if cur.eat(b',') {
            continue;
        }

        // Read one member; on failure, restart from its first byte so that
        // the skip sees every quote it contains.
        let start = cur.pos;
        let member = read(&mut cur).and_then(|m| {
            cur.skip_ows();
            match cur.peek() {
                None | Some(b',') => Ok(m),
                Some(_) => Err(Malformed),
            }
        });
        match member {
            Ok(m) => keep(m),
            Err(Malformed) => {
                skipped += 1;
                cur.pos = start;
                cur.skip_to_comma();
            }
        }
        cur.eat(b',');
    }
}

/// Reads a String (RFC 9651 §4.2.5), passing each unescaped byte to `push`.
pub fn string(
    cur: &mut Cursor<'_>,
    mut push: impl FnMut(u8) -> Result<(), Malformed>,
) -> Result<(), Malformed> {
    if !cur.eat(b'"') {
        return Err(Malformed);
    }
    loop {
        match cur.bump().ok_or(Malformed)? {
            b'"' => return Ok(()),
            b'\\' => match cur.bump() {
                Some(c @ (b'"' | b'\\')) => push(c)?,
                _ => return Err(Malformed),
            },
            c @ 0x20..=0x7e => push(c)?,
            _ => return Err(Malformed),
        }
    }
}

/// Reads parameters (RFC 9651 §4.2.3.2), passing each key and value to
/// `param`. A key without a value is the boolean true, passed as
/// [`Bare::Other`].
pub fn parameters(
    cur: &mut Cursor<'_>,
    mut param: impl FnMut(&[u8], Bare) -> Result<(), Malformed>,
) -> Result<(), Malformed> {
    loop {
        cur.skip_ows();
        if !cur.eat(b';') {
            return Ok(());
        }
        cur.skip_ows();
        let key = key(cur)?;
        let value = if cur.eat(b'=') {
            bare_item(cur)?
        } else {
            Bare::Other
        };
        param(key, value)?;
    }
}

/// Reads a key (RFC 9651 §4.2.3.3): a lowercase letter or `*`, then
/// lowercase letters, digits, `_`, `-`, `.` or `*`.
fn key<'a>(cur: &mut Cursor<'a>) -> Result<&'a [u8], Malformed> {
    let start = cur.pos;
    match cur.peek() {
        Some(b'a'..=b'z' | b'*') => {}
        _ => return Err(Malformed),
    }
    cur.eat_while(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'));
    cur.bytes.get(start..cur.pos).ok_or(Malformed)
}

/// Reads any bare item (RFC 9651 §4.2.3.1).
pub fn bare_item(cur: &mut Cursor<'_>) -> Result<Bare, Malformed> {
    match cur.peek().ok_or(Malformed)? {
        b'-' | b'0'..=b'9' => number(cur),
        b'"' => string(cur, |_| Ok(())).map(|()| Bare::Other),
        b'A'..=b'Z' | b'a'..=b'z' | b'*' => {
            cur.eat_while(|b| is_tchar(b) || b == b':' || b == b'/');
            Ok(Bare::Other)
        }
        b':' => byte_sequence(cur),
        b'?' => {
            cur.bump();
            match cur.bump() {
                Some(b'0' | b'1') => Ok(Bare::Other),
                _ => Err(Malformed),
            }
        }
        b'@' => {
            cur.bump();
            match number(cur)? {
                Bare::Integer(_) => Ok(Bare::Other),
                Bare::Other => Err(Malformed),
            }
        }
        b'%' => display_string(cur),
        _ => Err(Malformed),
    }
}

/// Reads an Integer or a Decimal (RFC 9651 §4.2.4): at most 15 digits, or
/// at most 12 digits, a dot and 1 to 3 digits.
fn number(cur: &mut Cursor<'_>) -> Result<Bare, Malformed> {
    let negative = cur.eat(b'-');
    let mut value: i64 = 0;
    let mut digits = 0;
    while let Some(d) = cur.peek().filter(u8::is_ascii_digit) {
        digits += 1;
        if digits > 15 {
            return Err(Malformed);
        }
        value = value * 10 + i64::from(d - b'0');
        cur.bump();
    }
    if digits == 0 {
        return Err(Malformed);
    }
    if cur.eat(b'.') {
        let fraction = cur.eat_while(|b| b.is_ascii_digit());
        if digits > 12 || !(1..=3).contains(&fraction) {
            return Err(Malformed);
        }
        return Ok(Bare::Other);
    }
    Ok(Bare::Integer(if negative { -value } else { value }))
}

/// Reads a Byte Sequence (RFC 9651 §4.2.7): base64 between colons.
fn byte_sequence(cur: &mut Cursor<'_>) -> Result<Bare, Malformed> {
    cur.bump();
    cur.eat_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if cur.eat(b':') {
        Ok(Bare::Other)
    } else {
        Err(Malformed)
    }
}

/// Reads a Display String (RFC 9651 §4.2.10): `%"`, printable ASCII or
/// `%xx` escapes in lowercase hex, `"`.
fn display_string(cur: &mut Cursor<'_>) -> Result<Bare, Malformed> {
    cur.bump();
    if !cur.eat(b'"') {
        return Err(Malformed);
    }
    let lower_hex = |b: Option<u8>| matches!(b, Some(b'0'..=b'9' | b'a'..=b'f'));
    loop {
        match cur.bump().ok_or(Malformed)? {
            b'"' => return Ok(Bare::Other),
            b'%' => {
                if !lower_hex(cur.bump()) || !lower_hex(cur.bump()) {
                    return Err(Malformed);
                }
            }
            0x20..=0x7e => {}
            _ => return Err(Malformed),
        }
    }
}

/// A token character (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The integer in a bare item if it is one, within RFC 9651's bounds.
pub fn integer(value: Bare) -> Option<i64> {
    match value {
        Bare::Integer(i) if (-MAX_INTEGER..=MAX_INTEGER).contains(&i) => Some(i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(value: &str) -> (usize, usize) {
        let mut ok = 0;
        let read = |cur: &mut Cursor<'_>| {
            string(cur, |_| Ok(()))?;
            parameters(cur, |_, _| Ok(()))
        };
        let skipped = for_each_member(value.as_bytes(), read, |()| ok += 1);
        (ok, skipped)
    }

    #[test]
    fn every_bare_item_kind_is_read() {
        let v = r#""a";i=-12;d=1.5;s="x\"y";t=foo/bar:1;b=:aGk=:;o=?1;w=@17;u=%"caf%c3%a9";f"#;
        assert_eq!(members(v), (1, 0));
    }

    #[test]
    fn a_quote_inside_a_skipped_member_does_not_swallow_the_next() {
        assert_eq!(members("\"a\u{1}b\", \"c\""), (1, 1));
        assert_eq!(members(r#"x;y="p,q", "c""#), (1, 1));
        assert_eq!(members(r#""a";q=1 junk, "c""#), (1, 1));
    }

    #[test]
    fn numbers_follow_the_digit_limits() {
        let read = |s: &str| number(&mut Cursor::new(s.as_bytes()));
        assert_eq!(read("999999999999999"), Ok(Bare::Integer(MAX_INTEGER)));
        assert_eq!(read("1000000000000000"), Err(Malformed));
        assert_eq!(read("123456789012.123"), Ok(Bare::Other));
        assert_eq!(read("1234567890123.1"), Err(Malformed));
        assert_eq!(read("1.1234"), Err(Malformed));
        assert_eq!(read("-"), Err(Malformed));
    }
}
