//! Validated JSON strings and their decoding.
//!
//! The scanner does not copy strings: it hands out a [`JsonStr`], the bytes
//! between the quotes with their escapes undecoded, and the length they
//! decode to. Escapes are undone only when a reader asks ([`JsonStr::chars`],
//! [`JsonStr::eq_str`], [`JsonStr::decode_into`], ...), into a buffer the
//! caller owns. The `\u` hex decoder here is also the scanner's, so the
//! binary holds one.

use core::fmt;
use core::iter::FusedIterator;
use core::str;

/// A validated JSON string: the bytes between the quotes, escapes undecoded.
///
/// Only the scanner builds one, so the bytes are known to be well-formed
/// UTF-8 with valid escapes. Equality (`==`) compares decoded text.
///
/// ```
/// use alertgate_validator::json::{for_each_member, Value};
/// for_each_member(br#"{"k":"caf\u00e9 \ud83d\ude00"}"#, |key, value| {
///     let Value::String(s) = value else { unreachable!() };
///     assert_eq!(key.as_str(), Some("k"));
///     assert_eq!(s.as_str(), None); // has escapes: needs decoding
///     assert!(s.eq_str("café 😀"));
///     let mut out = heapless::String::<16>::new();
///     s.decode_into(&mut out).unwrap();
///     assert_eq!(out, "café 😀");
///     assert_eq!(s.chars().count(), 6);
///     Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy)]
pub struct JsonStr<'a> {
    /// The bytes between the quotes (built by the scanners in `scan` and
    /// `fast`, hence visible to them).
    pub(super) raw: &'a [u8],
    /// Length in bytes of the decoded UTF-8 text. Every escape decodes to
    /// fewer bytes than it takes, so the string has escapes exactly when this
    /// is less than `raw.len()` (no separate flag: it would add padding that
    /// the hot path then copies around).
    pub(super) decoded_len: usize,
}

impl<'a> JsonStr<'a> {
    /// The bytes between the quotes, as written (escapes undecoded).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether the string contains `\` escapes (and so differs from
    /// [`JsonStr::raw`] once decoded).
    pub fn has_escapes(&self) -> bool {
        self.decoded_len != self.raw.len()
    }

    /// Length in bytes of the decoded UTF-8 text.
    pub fn decoded_len(&self) -> usize {
        self.decoded_len
    }

    /// The text without copying, if it has no escapes; `None` otherwise (use
    /// [`JsonStr::chars`] or [`JsonStr::decode_into`]).
    ///
    /// Re-checks the UTF-8 (no `unsafe` here), which is cheap for ASCII.
    pub fn as_str(&self) -> Option<&'a str> {
        if self.has_escapes() {
            None
        } else {
            str::from_utf8(self.raw).ok()
        }
    }

    /// A text that needs no decoding, as a `JsonStr`: for a JSON number's
    /// text, which (like the bytes between a string's quotes) is UTF-8
    /// without `\`, `"` or control characters.
    pub(crate) fn plain(raw: &'a [u8]) -> Self {
        JsonStr {
            raw,
            decoded_len: raw.len(),
        }
    }

    /// The decoded text as UTF-8 bytes (see [`DecodedBytes`]).
    pub(crate) fn decoded_bytes(&self) -> DecodedBytes<'a> {
        DecodedBytes {
            rest: self.raw,
            pending: [0; 4],
            at: 0,
            len: 0,
        }
    }

    /// The decoded characters.
    pub fn chars(&self) -> DecodedChars<'a> {
        DecodedChars {
            run: "".chars(),
            rest: self.raw,
        }
    }

    /// Whether the decoded text equals `s`, without copying.
    ///
    /// ```
    /// use alertgate_validator::json::{for_each_member, Value};
    /// for_each_member(br#"{"\u0061ction":"buy"}"#, |key, _| {
    ///     assert!(key.eq_str("action") && !key.eq_str("actio"));
    ///     Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn eq_str(&self, s: &str) -> bool {
        if self.has_escapes() {
            self.decoded_len == s.len() && self.decoded_bytes().eq(s.bytes())
        } else {
            self.raw == s.as_bytes()
        }
    }

    /// Writes the decoded text into `out`, replacing its contents.
    ///
    /// Fails with [`Overflow`] (leaving `out` empty) when the decoded text is
    /// longer than `N` bytes.
    ///
    /// ```
    /// use alertgate_validator::json::{for_each_member, Overflow, Value};
    /// for_each_member(br#"{"s":"a\tb"}"#, |_, value| {
    ///     let Value::String(s) = value else { unreachable!() };
    ///     let mut fits = heapless::String::<3>::new();
    ///     assert_eq!(s.decode_into(&mut fits), Ok(()));
    ///     assert_eq!(fits, "a\tb");
    ///     let mut small = heapless::String::<2>::new();
    ///     assert_eq!(s.decode_into(&mut small), Err(Overflow));
    ///     Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn decode_into<const N: usize>(
        &self,
        out: &mut heapless::String<N>,
    ) -> Result<(), Overflow> {
        out.clear();
        if self.decoded_len > N {
            return Err(Overflow);
        }
        if let Some(s) = self.as_str() {
            return out.push_str(s).map_err(|()| Overflow);
        }
        for c in self.chars() {
            if out.push(c).is_err() {
                out.clear();
                return Err(Overflow);
            }
        }
        Ok(())
    }

    /// Writes the decoded text into the start of `buf` and returns it.
    ///
    /// Fails with [`Overflow`] when the decoded text is longer than `buf`.
    /// Not generic over a capacity, so one copy serves every buffer size.
    ///
    /// ```
    /// use alertgate_validator::json::{for_each_member, Overflow, Value};
    /// for_each_member(br#"{"s":"caf\u00e9"}"#, |_, value| {
    ///     let Value::String(s) = value else { unreachable!() };
    ///     assert_eq!(s.decode_to(&mut [0; 8]), Ok("café"));
    ///     assert_eq!(s.decode_to(&mut [0; 4]), Err(Overflow));
    ///     Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn decode_to<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, Overflow> {
        // Valid by construction (the scanner checked the UTF-8); this check
        // only spares an `unsafe`.
        str::from_utf8(self.decode_bytes_to(buf)?).map_err(|_| Overflow)
    }

    /// [`JsonStr::decode_to`] as UTF-8 bytes: for readers that work on
    /// bytes, which so need no UTF-8 check (nor, on an MCU, the code of
    /// one).
    pub(crate) fn decode_bytes_to<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], Overflow> {
        let out = buf.get_mut(..self.decoded_len).ok_or(Overflow)?;
        if self.has_escapes() {
            // `decoded_len` is the number of decoded bytes: they fill `out`.
            for (dst, b) in out.iter_mut().zip(self.decoded_bytes()) {
                *dst = b;
            }
        } else {
            out.copy_from_slice(self.raw);
        }
        Ok(out)
    }
}

impl PartialEq for JsonStr<'_> {
    /// Decoded equality: `"a"` equals `"\u0061"`.
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        if self.decoded_len != other.decoded_len {
            return false;
        }
        if !self.has_escapes() && !other.has_escapes() {
            return same_bytes(self.raw, other.raw);
        }
        self.decoded_bytes().eq(other.decoded_bytes())
    }
}

impl Eq for JsonStr<'_> {}

impl fmt::Display for JsonStr<'_> {
    /// The decoded text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.as_str() {
            return f.write_str(s);
        }
        self.chars().try_for_each(|c| fmt::Write::write_char(f, c))
    }
}

impl fmt::Debug for JsonStr<'_> {
    /// The decoded text, quoted and escaped like `str`'s `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.chars() {
            for e in c.escape_debug() {
                fmt::Write::write_char(f, e)?;
            }
        }
        f.write_str("\"")
    }
}

/// Iterator over the decoded characters of a [`JsonStr`].
#[derive(Clone, Debug)]
pub struct DecodedChars<'a> {
    /// Characters of the current run without escapes.
    run: str::Chars<'a>,
    /// What follows the run, still encoded.
    rest: &'a [u8],
}

impl Iterator for DecodedChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if let Some(c) = self.run.next() {
            return Some(c);
        }
        // The input was validated by the scanner; the fallbacks (U+FFFD,
        // stopping early) are unreachable and only keep this total.
        match self.rest {
            [] => None,
            [b'\\', after @ ..] => {
                let (c, used) = unescape(after)?;
                self.rest = after.get(used..).unwrap_or_default();
                Some(c)
            }
            rest => {
                let n = rest.iter().position(|&b| b == b'\\').unwrap_or(rest.len());
                let (run, tail) = rest.split_at(n);
                self.run = str::from_utf8(run).unwrap_or("\u{fffd}").chars();
                self.rest = tail;
                self.run.next()
            }
        }
    }
}

impl FusedIterator for DecodedChars<'_> {}

/// The character an escape stands for and how many bytes after its `\\` it
/// takes (a surrogate pair is one character); `None` for an escape cut
/// short, which a validated string does not have.
fn unescape(after: &[u8]) -> Option<(char, usize)> {
    match after {
        [b'u', rest @ ..] => {
            let hi = hex4(rest)?;
            let (c, used) = if (0xD800..0xDC00).contains(&hi) {
                let lo = match rest.get(4..6) {
                    Some(b"\\u") => rest.get(6..).and_then(hex4),
                    _ => None,
                }?;
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                (c, 11)
            } else {
                (hi, 5)
            };
            Some((
                char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER),
                used,
            ))
        }
        [e, ..] => Some((
            match e {
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                other => char::from(*other),
            },
            1,
        )),
        [] => None,
    }
}

/// The decoded text of a [`JsonStr`] as UTF-8 bytes, for comparisons and
/// [`JsonStr::decode_to`]. Bytes outside escapes are passed through as they
/// are (the scanner validated them), so unlike [`DecodedChars`] nothing is
/// decoded from UTF-8 and encoded again: less code, and less work.
#[derive(Clone)]
pub(crate) struct DecodedBytes<'a> {
    /// What is left, still encoded.
    rest: &'a [u8],
    /// The UTF-8 of the last escape's character ...
    pending: [u8; 4],
    /// ... of which bytes `at..len` are still to come.
    at: u8,
    len: u8,
}

impl Iterator for DecodedBytes<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.at < self.len {
            let b = self.pending[usize::from(self.at)];
            self.at += 1;
            return Some(b);
        }
        let (&b, tail) = self.rest.split_first()?;
        if b != b'\\' {
            self.rest = tail;
            return Some(b);
        }
        let (c, used) = unescape(tail)?;
        self.rest = tail.get(used..).unwrap_or_default();
        // At most 4 bytes.
        self.len = c.encode_utf8(&mut self.pending).len() as u8;
        self.at = 1;
        Some(self.pending[0])
    }
}

/// `a == b`, inline for the short keys the duplicate check compares (a call
/// to `memcmp` per pair costs more than the comparison).
#[inline(always)]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn word<const N: usize>(s: &[u8], at: usize) -> Option<[u8; N]> {
        s.get(at..at + N).and_then(|w| w.try_into().ok())
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two overlapping words cover the whole slice.
    match n {
        8..=16 => word::<8>(a, 0) == word(b, 0) && word::<8>(a, n - 8) == word(b, n - 8),
        4..=7 => word::<4>(a, 0) == word(b, 0) && word::<4>(a, n - 4) == word(b, n - 4),
        _ => a == b,
    }
}

/// Reads the four hex digits at the start of `b` (in a [`JsonStr`],
/// already validated by the scanner).
pub(super) fn hex4(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &h in b.get(..4)? {
        v = (v << 4) | u32::from(hex_value(h)?);
    }
    Some(v)
}

pub(super) fn hex_value(h: u8) -> Option<u8> {
    match h {
        b'0'..=b'9' => Some(h - b'0'),
        b'a'..=b'f' => Some(h - b'a' + 10),
        b'A'..=b'F' => Some(h - b'A' + 10),
        _ => None,
    }
}

/// A decoded string does not fit the caller's fixed-capacity buffer.
///
/// Returned by [`JsonStr::decode_into`]; map it to the rejection that fits
/// the field (usually
/// [`Rejection::InvalidField`](crate::Rejection::InvalidField)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("decoded string is longer than the buffer")
    }
}

impl core::error::Error for Overflow {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::json_string;
    use crate::json::{for_each_member, Value};
    use proptest::prelude::*;

    /// The one string value of `{"s": <value>}`.
    fn string_of(body: &[u8]) -> JsonStr<'_> {
        let mut found = None;
        for_each_member(body, |_, v| {
            found = Some(v);
            Ok(())
        })
        .unwrap();
        match found {
            Some(Value::String(s)) => s,
            other => panic!("expected one string member, got {other:?}"),
        }
    }

    #[test]
    fn json_str_accessors() {
        let plain = string_of(br#"{"s":"BTC-USDT"}"#);
        assert_eq!(plain.raw(), b"BTC-USDT");
        assert!(!plain.has_escapes());
        assert_eq!(plain.as_str(), Some("BTC-USDT"));
        assert_eq!(plain.decoded_len(), 8);
        assert!(plain.eq_str("BTC-USDT"));
        assert!(!plain.eq_str("BTC-USD"));
        assert!(!plain.eq_str("btc-usdt"));

        let body = br#"{"s":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"}"#;
        let esc = string_of(body);
        let want = "a\"b\\c/d\u{8}\u{c}\n\r\tA\u{e9}\u{20ac}\u{1f600}";
        assert!(esc.has_escapes());
        assert_eq!(esc.as_str(), None);
        assert_eq!(esc.decoded_len(), want.len());
        assert_eq!(esc.chars().collect::<String>(), want);
        assert!(esc.eq_str(want));
        assert!(!esc.eq_str(&want[..want.len() - 4]));
        assert_eq!(esc.to_string(), want);
        assert_eq!(format!("{esc:?}"), format!("{want:?}"));
        let mut out = heapless::String::<64>::new();
        assert_eq!(esc.decode_into(&mut out), Ok(()));
        assert_eq!(out.as_str(), want);

        // Raw non-ASCII needs no decoding.
        let utf8 = string_of("{\"s\":\"caf\u{e9} \u{1f600}\"}".as_bytes());
        assert_eq!(utf8.as_str(), Some("caf\u{e9} \u{1f600}"));
        assert_eq!(utf8.chars().count(), 6);
        assert_eq!(utf8.to_string(), "caf\u{e9} \u{1f600}");

        // Equality is decoded.
        let a = string_of(br#"{"s":"\u00e9t\u00E9"}"#);
        let b = string_of("{\"s\":\"\u{e9}t\u{e9}\"}".as_bytes());
        let c = string_of("{\"s\":\"\u{e9}t\u{e8}\"}".as_bytes());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
    }

    #[test]
    fn decode_into_is_bounded() {
        let s = string_of(br#"{"s":"\u00e9\u00e9"}"#); // 4 bytes decoded
        let mut exact = heapless::String::<4>::new();
        assert_eq!(s.decode_into(&mut exact), Ok(()));
        assert_eq!(exact, "\u{e9}\u{e9}");
        // Replaces earlier contents; on overflow leaves the buffer empty.
        let mut small = heapless::String::<3>::new();
        small.push_str("old").unwrap();
        assert_eq!(s.decode_into(&mut small), Err(Overflow));
        assert_eq!(small, "");
        let plain = string_of(br#"{"s":"abcd"}"#);
        let mut fits = heapless::String::<4>::new();
        fits.push_str("zz").unwrap();
        assert_eq!(plain.decode_into(&mut fits), Ok(()));
        assert_eq!(fits, "abcd");
        assert_eq!(plain.decode_into(&mut small), Err(Overflow));
        let mut none = heapless::String::<0>::new();
        assert_eq!(string_of(br#"{"s":""}"#).decode_into(&mut none), Ok(()));
        assert_eq!(
            Overflow.to_string(),
            "decoded string is longer than the buffer"
        );
    }

    proptest! {
        #[test]
        fn decoding_agrees_with_the_text(
            (decoded, text) in json_string(),
            (other_decoded, other_text) in json_string(),
        ) {
            let doc = format!("{{{text}:1,{other_text}:2}}");
            let mut keys = Vec::new();
            let res = for_each_member(doc.as_bytes(), |k, _| {
                keys.push(k);
                Ok(())
            });
            // Equal decoded keys are duplicates, however they are written.
            if decoded == other_decoded {
                prop_assert_eq!(res.unwrap_err().code(), "duplicate_field");
                return Ok(());
            }
            prop_assert_eq!(res, Ok(()));
            for (key, want) in keys.iter().zip([&decoded, &other_decoded]) {
                prop_assert!(key.eq_str(want));
                prop_assert_eq!(key.decoded_len(), want.len());
                prop_assert_eq!(key.chars().collect::<String>(), want.as_str());
                let mut buf = [0u8; 64];
                prop_assert_eq!(key.decode_to(&mut buf), Ok(want.as_str()));
                if !want.is_empty() {
                    prop_assert_eq!(key.decode_to(&mut buf[..want.len() - 1]), Err(Overflow));
                }
            }
            prop_assert!(keys[0] != keys[1]);
            prop_assert!(!keys[0].eq_str(&other_decoded));
        }
    }
}
