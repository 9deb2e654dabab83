//! The strict RFC 8259 scanner.
//!
//! One pass over the body, no recursion (a bitset remembers what each open
//! level is), every byte checked: it decides what is JSON, and every error
//! offset and reason comes from here. The public entry points
//! ([`for_each_member`], [`validate`]) are here; the host's fast path
//! (`fast`) leaves every body it does not take to [`scan_members`].

use super::string::{hex4, hex_value};
use super::{Halt, Invalid, JsonStr, Members, RawValue, Value, MAX_DEPTH, MAX_MEMBERS};
use crate::decimal::Pre;
use crate::error::Rejection;

const EOF: &str = "unexpected end of input";
const EMPTY: &str = "empty body";
const EXPECTED_VALUE: &str = "expected value";
const EXPECTED_KEY: &str = "expected '\"' to start a key";
const EXPECTED_COLON: &str = "expected ':'";
const EXPECTED_OBJECT_NEXT: &str = "expected ',' or '}'";
const EXPECTED_ARRAY_NEXT: &str = "expected ',' or ']'";
const TRAILING_COMMA: &str = "trailing comma";
const TRAILING: &str = "trailing characters after value";
const TOO_DEEP: &str = "nesting deeper than 16";
const TOO_MANY_MEMBERS: &str = "more than 64 top-level members";
const INVALID_LITERAL: &str = "invalid literal";
const LEADING_ZERO: &str = "leading zero in number";
const EXPECTED_INT_DIGIT: &str = "expected digit after '-'";
const EXPECTED_FRACTION_DIGIT: &str = "expected digit after '.'";
const EXPECTED_EXPONENT_DIGIT: &str = "expected digit in exponent";
const CONTROL: &str = "control character in string";
const INVALID_UTF8: &str = "invalid UTF-8";
const INVALID_ESCAPE: &str = "invalid escape";
const INVALID_HEX: &str = "expected hex digit in \\u escape";
const LONE_SURROGATE: &str = "lone surrogate";

/// Validates the whole body and calls `on_member(key, value)` for each member
/// of the top-level object, in order.
///
/// Members are handed over as they are scanned (see the module docs on the
/// order of errors): an `Err` from the callback stops the scan and is
/// returned as is, even if the body is broken further on. Otherwise the
/// result is `Ok` only if the whole body is a valid JSON object with at most
/// [`MAX_MEMBERS`] members, distinct top-level keys and nesting at most
/// [`MAX_DEPTH`] deep.
///
/// # Errors
///
/// [`Rejection::InvalidJson`] for a body that is not JSON or exceeds a bound,
/// [`Rejection::NotAnObject`] for valid JSON whose top level is not an
/// object, [`Rejection::DuplicateField`] for a repeated top-level key, and
/// whatever the callback returns.
pub fn for_each_member<'a>(
    body: &'a [u8],
    on_member: impl FnMut(JsonStr<'a>, Value<'a>) -> Result<(), Rejection>,
) -> Result<(), Rejection> {
    scan_members(body, &mut EveryKey(on_member))
}

/// The adapter behind [`for_each_member`]: the scanner checks every key.
/// (Visible in `json` for the fast path's tests.)
pub(super) struct EveryKey<F>(pub(super) F);

impl<'a, F: FnMut(JsonStr<'a>, Value<'a>) -> Result<(), Rejection>> Members<'a> for EveryKey<F> {
    type Error = Rejection;

    #[inline(always)]
    fn key(&mut self, _: &JsonStr<'a>) -> Result<bool, Rejection> {
        Ok(false)
    }

    #[inline(always)]
    fn member(&mut self, key: JsonStr<'a>, value: RawValue<'a>) -> Result<(), Rejection> {
        (self.0)(key, value.to_value())
    }
}

/// [`for_each_member`] with a [`Members`] sink.
pub(crate) fn scan_members<'a, M: Members<'a>>(
    body: &'a [u8],
    members: &mut M,
) -> Result<(), M::Error> {
    let mut s = Scanner {
        bytes: body,
        pos: 0,
    };
    s.skip_ws();
    let halt = match s.peek() {
        Some(b'{') => {
            s.top_object(members)?;
            match s.finish() {
                Ok(()) => return Ok(()),
                Err(e) => Halt::Invalid(e),
            }
        }
        // The shared out-of-line walker, not `value` (inlined): this path
        // is rare and need not cost a copy of the string scanner.
        Some(_) => match s.container(0).and_then(|()| s.finish()) {
            Ok(()) => Halt::NotAnObject,
            Err(e) => Halt::Invalid(e),
        },
        None => Halt::Invalid(invalid(body.len(), EMPTY)),
    };
    Err(halt.into())
}

/// Validates a JSON document whose top-level value may be of any type, with
/// the same rules and bounds as [`for_each_member`] (including duplicate
/// top-level keys). For tests and fuzzing.
///
/// ```
/// use alertgate_validator::json::validate;
/// assert!(validate(b" [1, \"two\", {\"3\": null}] ").is_ok());
/// assert!(validate(b"[1,]").is_err());
/// ```
pub fn validate(body: &[u8]) -> Result<(), Rejection> {
    let mut s = Scanner {
        bytes: body,
        pos: 0,
    };
    s.skip_ws();
    match s.peek() {
        Some(b'{') => s.top_object(&mut EveryKey(|_, _| Ok(())))?,
        Some(_) => {
            s.value(0)?;
        }
        None => return Err(invalid(body.len(), EMPTY).into()),
    }
    s.finish().map_err(|e| Halt::Invalid(e).into())
}

#[cold]
#[inline(never)]
fn invalid(offset: usize, reason: &'static str) -> Invalid {
    Invalid { offset, reason }
}

/// Whether a byte ends a plain run inside a string: `"`, `\`, a control
/// character or the lead of a non-ASCII sequence. (Four comparisons rather
/// than a 256-byte table: it only runs on the few bytes after the last
/// whole word of a run.)
#[inline(always)]
const fn is_string_stop(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\' || c >= 0x80
}

/// A cursor over the body. Every read goes through `get`, so no input can
/// make it index out of bounds.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

// Inlining: on hosted targets the scanner's steps (`key`, `value`,
// `string`, `number`, ...) are forced inline, since this is the hot loop of
// every request. On bare-metal targets (`target_os = "none"`: flash-bound
// MCUs) the compiler decides instead, which keeps one copy of each step
// rather than one per call site: about 2 KiB of flash on a Cortex-M4.
impl<'a> Scanner<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn span(&self, start: usize, end: usize) -> &'a [u8] {
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// The error for a bad byte at `at`, or for the end of input if `at` is
    /// past it.
    #[cold]
    #[inline(never)]
    fn unexpected(&self, at: usize, reason: &'static str) -> Invalid {
        if at >= self.bytes.len() {
            invalid(self.bytes.len(), EOF)
        } else {
            invalid(at, reason)
        }
    }

    /// Only whitespace may follow the top-level value.
    fn finish(&mut self) -> Result<(), Invalid> {
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(invalid(self.pos, TRAILING));
        }
        Ok(())
    }

    /// The top-level object, at its `{`.
    fn top_object<M: Members<'a>>(&mut self, members: &mut M) -> Result<(), M::Error> {
        // Every error of the scan itself is a small `Halt` until the end.
        let halt = |e: Invalid| M::Error::from(Halt::Invalid(e));
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        // Uninitialized storage: only pushed keys cost anything. Keys the
        // sink checks itself are not kept.
        let mut keys = heapless::Vec::<JsonStr<'a>, MAX_MEMBERS>::new();
        let mut count = 0usize;
        loop {
            let key_at = self.pos;
            let key = self.key().map_err(halt)?;
            let tracked = members.key(&key)?;
            if !tracked && keys.contains(&key) {
                return Err(Halt::Duplicate(key.raw).into());
            }
            count += 1;
            if count > MAX_MEMBERS {
                return Err(halt(invalid(key_at, TOO_MANY_MEMBERS)));
            }
            if !tracked {
                // Room: `keys` holds fewer than `count` entries.
                let _ = keys.push(key);
            }
            let value = self.value(1).map_err(halt)?;
            members.member(key, value)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.after_comma().map_err(halt)?;
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(halt(self.unexpected(self.pos, EXPECTED_OBJECT_NEXT))),
            }
        }
    }

    /// Skips whitespace after a `,` and refuses a closing bracket there.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn after_comma(&mut self) -> Result<(), Invalid> {
        self.skip_ws();
        if let Some(b'}' | b']') = self.peek() {
            return Err(invalid(self.pos, TRAILING_COMMA));
        }
        Ok(())
    }

    /// A key, the `:` after it and the whitespace up to the value.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn key(&mut self) -> Result<JsonStr<'a>, Invalid> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected(self.pos, EXPECTED_KEY));
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.unexpected(self.pos, EXPECTED_COLON));
        }
        self.pos += 1;
        self.skip_ws();
        Ok(key)
    }

    /// A value inside `depth` open containers, at its first byte.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn value(&mut self, depth: usize) -> Result<RawValue<'a>, Invalid> {
        let start = self.pos;
        Ok(match self.peek() {
            Some(b'"') => RawValue::String(self.string()?),
            Some(b'{') => {
                self.container(depth)?;
                RawValue::Object(self.span(start, self.pos))
            }
            Some(b'[') => {
                self.container(depth)?;
                RawValue::Array(self.span(start, self.pos))
            }
            _ => self.scalar()?,
        })
    }

    /// A number or a literal.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn scalar(&mut self) -> Result<RawValue<'a>, Invalid> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => Ok(RawValue::Number(self.number()?, Pre::NONE)),
            Some(b't') => self.literal(b"true").map(|()| RawValue::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| RawValue::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| RawValue::Null),
            _ => Err(self.unexpected(self.pos, EXPECTED_VALUE)),
        }
    }

    /// Skips a value inside `outer` open containers, at its first byte: an
    /// object or array with everything in it, or a scalar. Iterative:
    /// `kinds` bit `d` is set when level `d` (counted from this container)
    /// is an object.
    fn container(&mut self, outer: usize) -> Result<(), Invalid> {
        let mut kinds: u32 = 0;
        let mut depth: usize = 0;
        loop {
            // At the first byte of a value.
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    if outer + depth >= MAX_DEPTH {
                        return Err(invalid(self.pos, TOO_DEEP));
                    }
                    let is_object = open == b'{';
                    let bit = 1u32 << depth;
                    kinds = if is_object { kinds | bit } else { kinds & !bit };
                    depth += 1;
                    self.pos += 1;
                    self.skip_ws();
                    let close = if is_object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        depth -= 1;
                    } else {
                        if is_object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                _ => {
                    self.scalar()?;
                }
            }
            // After a value: close containers until a `,` leads to the next
            // value.
            loop {
                let Some(level) = depth.checked_sub(1) else {
                    return Ok(());
                };
                let is_object = kinds & (1 << level) != 0;
                self.skip_ws();
                match (self.peek(), is_object) {
                    (Some(b','), _) => {
                        self.pos += 1;
                        self.after_comma()?;
                        if is_object {
                            self.key()?;
                        }
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.pos += 1;
                        depth = level;
                    }
                    (_, true) => return Err(self.unexpected(self.pos, EXPECTED_OBJECT_NEXT)),
                    (_, false) => return Err(self.unexpected(self.pos, EXPECTED_ARRAY_NEXT)),
                }
            }
        }
    }

    /// `true`, `false` or `null`, at its first byte.
    fn literal(&mut self, word: &'static [u8]) -> Result<(), Invalid> {
        let start = self.pos;
        let end = start + word.len();
        if self.bytes.get(start..end) == Some(word) {
            self.pos = end;
            return Ok(());
        }
        let bad = word
            .iter()
            .zip(start..)
            .find(|&(&w, at)| self.bytes.get(at) != Some(&w))
            .map_or(end, |(_, at)| at);
        Err(self.unexpected(bad, INVALID_LITERAL))
    }

    /// A number, at its first byte (`-` or a digit).
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn number(&mut self) -> Result<&'a [u8], Invalid> {
        let b = self.bytes;
        let start = self.pos;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => {
                i += 1;
                if let Some(b'0'..=b'9') = b.get(i) {
                    return Err(invalid(i, LEADING_ZERO));
                }
            }
            Some(b'1'..=b'9') => i = digits(b, i + 1),
            _ => return Err(self.unexpected(i, EXPECTED_INT_DIGIT)),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return Err(self.unexpected(i, EXPECTED_FRACTION_DIGIT));
            }
            i = digits(b, i + 1);
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return Err(self.unexpected(i, EXPECTED_EXPONENT_DIGIT));
            }
            i = digits(b, i + 1);
        }
        self.pos = i;
        Ok(self.span(start, i))
    }

    /// A string, at its opening quote.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn string(&mut self) -> Result<JsonStr<'a>, Invalid> {
        let bytes = self.bytes;
        let start = self.pos + 1;
        let mut i = start;
        // Bytes the escapes lose when decoded; every escape loses at least one.
        let mut saved = 0usize;
        loop {
            let rest = bytes.get(i..).unwrap_or_default();
            let n = plain_run(rest);
            i += n;
            match rest.get(n) {
                Some(b'"') => break,
                Some(b'\\') => {
                    let (raw, decoded) = self.escape(i)?;
                    i += raw;
                    saved += raw - decoded;
                }
                Some(0..=0x1f) => return Err(invalid(i, CONTROL)),
                Some(_) => i = self.utf8(i)?,
                None => return Err(invalid(bytes.len(), EOF)),
            }
        }
        let raw = self.span(start, i);
        self.pos = i + 1;
        Ok(JsonStr {
            raw,
            decoded_len: raw.len().saturating_sub(saved),
        })
    }

    /// An escape at `at` (its `\`): returns its length as written and
    /// decoded (UTF-8 bytes).
    fn escape(&self, at: usize) -> Result<(usize, usize), Invalid> {
        match self.bytes.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok((2, 1)),
            Some(b'u') => {
                let cp = self.hex4(at + 2)?;
                match cp {
                    0xD800..=0xDBFF => {
                        let low_at = at + 6;
                        match (self.bytes.get(low_at), self.bytes.get(low_at + 1)) {
                            (Some(b'\\'), Some(b'u')) => {}
                            (None, _) | (Some(b'\\'), None) => {
                                return Err(invalid(self.bytes.len(), EOF))
                            }
                            _ => return Err(invalid(at, LONE_SURROGATE)),
                        }
                        match self.hex4(low_at + 2)? {
                            0xDC00..=0xDFFF => Ok((12, 4)),
                            _ => Err(invalid(at, LONE_SURROGATE)),
                        }
                    }
                    0xDC00..=0xDFFF => Err(invalid(at, LONE_SURROGATE)),
                    0..=0x7F => Ok((6, 1)),
                    0x80..=0x7FF => Ok((6, 2)),
                    _ => Ok((6, 3)),
                }
            }
            _ => Err(self.unexpected(at + 1, INVALID_ESCAPE)),
        }
    }

    /// Four hex digits at `at`: the decoder of `string::unescape`, and the
    /// offending byte found only on failure (one decoder in the binary).
    fn hex4(&self, at: usize) -> Result<u32, Invalid> {
        self.bytes
            .get(at..)
            .and_then(hex4)
            .ok_or_else(|| self.bad_hex(at))
    }

    /// The error for four hex digits at `at` that are not.
    #[cold]
    #[inline(never)]
    fn bad_hex(&self, at: usize) -> Invalid {
        // One of the four is not a hex digit, or the body ends first.
        let mut bad = at;
        while self.bytes.get(bad).and_then(|&h| hex_value(h)).is_some() {
            bad += 1;
        }
        self.unexpected(bad, INVALID_HEX)
    }

    /// One non-ASCII UTF-8 sequence at `at` (RFC 3629 well-formed: no
    /// overlongs, no surrogates, nothing above U+10FFFF); returns the index
    /// after it.
    fn utf8(&self, at: usize) -> Result<usize, Invalid> {
        let lead = self.bytes.get(at).copied().unwrap_or(0);
        // Length and the allowed range of the second byte (Unicode table 3-7).
        let (len, lo, hi) = match lead {
            0xC2..=0xDF => (2, 0x80, 0xBF),
            0xE0 => (3, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80, 0xBF),
            0xED => (3, 0x80, 0x9F),
            0xF0 => (4, 0x90, 0xBF),
            0xF1..=0xF3 => (4, 0x80, 0xBF),
            0xF4 => (4, 0x80, 0x8F),
            _ => return Err(invalid(at, INVALID_UTF8)),
        };
        for k in 1..len {
            let (lo, hi) = if k == 1 { (lo, hi) } else { (0x80, 0xBF) };
            match self.bytes.get(at + k) {
                Some(&c) if (lo..=hi).contains(&c) => {}
                _ => return Err(self.unexpected(at + k, INVALID_UTF8)),
            }
        }
        Ok(at + len)
    }
}

/// Length of the run of plain string bytes (not `"`, `\`, a control
/// character or non-ASCII) at the start of `b`.
///
/// Looks at a word at a time (SWAR): a plain run is the common case and
/// this is the scanner's hottest loop.
#[cfg(not(target_os = "none"))]
#[inline(always)]
pub(super) fn plain_run(b: &[u8]) -> usize {
    const W: usize = core::mem::size_of::<usize>();
    let mut chunks = b.chunks_exact(W);
    let mut n = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; W]>::try_from(chunk) else {
            break;
        };
        let stops = word_stops(usize::from_le_bytes(word));
        if stops != 0 {
            return n + (stops.trailing_zeros() / 8) as usize;
        }
        n += W;
    }
    let tail = chunks.remainder();
    n + tail
        .iter()
        .position(|&c| is_string_stop(c))
        .unwrap_or(tail.len())
}

/// The high bit of each byte of `x` (a word of a string, little-endian)
/// that stops a plain run: a byte below 0x20, a `"`, a `\`, or 0x80 and
/// above. Only the lowest flagged byte is exact (see below): its index is
/// `trailing_zeros / 8`.
#[cfg(not(target_os = "none"))]
#[inline(always)]
pub(super) fn word_stops(x: usize) -> usize {
    const ONES: usize = usize::MAX / 255;
    const HIGH: usize = ONES << 7;
    let quote = x ^ (ONES * usize::from(b'"'));
    let backslash = x ^ (ONES * usize::from(b'\\'));
    // For an ASCII byte, the high bit of each term is set for: a byte
    // below 0x20, a `"`, a `\`; `x` itself flags bytes of 0x80 or more
    // (so the usual `& !x` masks are not needed). A borrow only leaves a
    // byte that is itself flagged and only runs upwards, so the lowest
    // flagged byte is exact.
    let stops =
        x.wrapping_sub(ONES * 0x20) | quote.wrapping_sub(ONES) | backslash.wrapping_sub(ONES) | x;
    stops & HIGH
}

/// [`plain_run`] on bare-metal targets: a byte at a time (less flash; a
/// 32-bit word holds only four bytes anyway). Also built for tests, which
/// check it against the host version.
#[cfg(any(target_os = "none", test))]
fn plain_run_bytes(b: &[u8]) -> usize {
    b.iter().position(|&c| is_string_stop(c)).unwrap_or(b.len())
}

/// [`plain_run_bytes`], under the name the string scanner calls.
#[cfg(target_os = "none")]
#[inline(always)]
pub(super) fn plain_run(b: &[u8]) -> usize {
    plain_run_bytes(b)
}

/// Index of the first non-digit at or after `i`. (One copy on bare-metal
/// targets.)
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline(never))]
fn digits(b: &[u8], i: usize) -> usize {
    let rest = b.get(i..).unwrap_or_default();
    i + rest
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::snippet;
    use crate::json::tests::{json_ish_bytes, json_object, json_value, mutate, ws};
    use crate::json::Overflow;
    use core::fmt;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use std::collections::BTreeSet;

    fn bad(offset: usize, reason: &'static str) -> Result<(), Rejection> {
        Err(Rejection::InvalidJson { offset, reason })
    }

    fn dup(field: &[u8]) -> Result<(), Rejection> {
        Err(Rejection::DuplicateField {
            field: snippet(field),
        })
    }

    /// Collects the members as (decoded key, value).
    fn members(body: &[u8]) -> Result<Vec<(String, Value<'_>)>, Rejection> {
        let mut out = Vec::new();
        for_each_member(body, |k, v| {
            out.push((k.chars().collect(), v));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn reasons_name_the_bounds() {
        assert_eq!(TOO_DEEP, format!("nesting deeper than {MAX_DEPTH}"));
        assert_eq!(
            TOO_MANY_MEMBERS,
            format!("more than {MAX_MEMBERS} top-level members")
        );
    }

    #[test]
    fn accepts_valid_documents() {
        for doc in [
            "{}",
            " \t\r\n{ } \t\r\n",
            r#"{"a":1}"#,
            r#"{"a":[1,2,{"b":null}],"c":{"d":[]},"e":"x"}"#,
            r#"{ "a" : [ 1 , 2 ] , "b" : { } }"#,
            "[]",
            "[[],{}]",
            "0",
            "-0",
            "-0.0e-0",
            "1E+2",
            "123.456e789",
            "true",
            "false",
            "null",
            r#""""#,
            r#""\"\\\/\b\f\n\r\t\u0000\u00e9\u20AC\uD83D\uDE00""#,
            "\"caf\u{e9} \u{20ac} \u{10ffff} \u{7f}\"",
            r#"{"nested":{"a":1,"a":2}}"#,
        ] {
            assert_eq!(validate(doc.as_bytes()), Ok(()), "{doc}");
        }
    }

    #[test]
    fn rejects_with_offset_and_reason() {
        let cases: &[(&[u8], usize, &str)] = &[
            // Empty or truncated.
            (b"", 0, EMPTY),
            (b" \n", 2, EMPTY),
            (b"{", 1, EOF),
            (b"{\"a\"", 4, EOF),
            (b"{\"a\":", 5, EOF),
            (b"{\"a\":1", 6, EOF),
            (b"{\"a\":1,", 7, EOF),
            (b"[1", 2, EOF),
            (b"\"abc", 4, EOF),
            // Structure.
            (br#"{"a":1,}"#, 7, TRAILING_COMMA),
            (b"[1,]", 3, TRAILING_COMMA),
            (br#"{"a":[1, ]}"#, 9, TRAILING_COMMA),
            (b"[,1]", 1, EXPECTED_VALUE),
            (br#"{"a":1 /* c */}"#, 7, EXPECTED_OBJECT_NEXT),
            (b"// c\n{}", 0, EXPECTED_VALUE),
            (br#"{"a":1;"b":2}"#, 6, EXPECTED_OBJECT_NEXT),
            (b"[1 2]", 3, EXPECTED_ARRAY_NEXT),
            (b"[1}", 2, EXPECTED_ARRAY_NEXT),
            (br#"{"a":[}"#, 6, EXPECTED_VALUE),
            (br#"{"a":{"b":1]}"#, 11, EXPECTED_OBJECT_NEXT),
            (b"{1:2}", 1, EXPECTED_KEY),
            (b"{'a':1}", 1, EXPECTED_KEY),
            (br#"{"a":{b:1}}"#, 6, EXPECTED_KEY),
            (br#"{"a" 1}"#, 5, EXPECTED_COLON),
            (br#"{"a"=1}"#, 4, EXPECTED_COLON),
            // Trailing garbage; only space, tab, LF and CR are whitespace.
            (b"{} x", 3, TRAILING),
            (b"{}{}", 2, TRAILING),
            (b"{}\x0c", 2, TRAILING),
            (b"{}\x00", 2, TRAILING),
            (b"[1]]", 3, TRAILING),
            (b"1 2", 2, TRAILING),
            (b"\xef\xbb\xbf{}", 0, EXPECTED_VALUE),
            (b"\x0c{}", 0, EXPECTED_VALUE),
            // Literals.
            (br#"{"a":NaN}"#, 5, EXPECTED_VALUE),
            (br#"{"a":Infinity}"#, 5, EXPECTED_VALUE),
            (b"True", 0, EXPECTED_VALUE),
            (b"tru", 3, EOF),
            (b"trux", 3, INVALID_LITERAL),
            (b"nul", 3, EOF),
            (b"nulL", 3, INVALID_LITERAL),
            (b"fals e", 4, INVALID_LITERAL),
            (b"truee", 4, TRAILING),
            // Numbers.
            (b"01", 1, LEADING_ZERO),
            (b"-01", 2, LEADING_ZERO),
            (b"00", 1, LEADING_ZERO),
            (br#"{"a":007}"#, 6, LEADING_ZERO),
            (b"+1", 0, EXPECTED_VALUE),
            (b".5", 0, EXPECTED_VALUE),
            (b"-.5", 1, EXPECTED_INT_DIGIT),
            (b"-", 1, EOF),
            (b"[-]", 2, EXPECTED_INT_DIGIT),
            (b"-Infinity", 1, EXPECTED_INT_DIGIT),
            (b"1.", 2, EOF),
            (b"[1.]", 3, EXPECTED_FRACTION_DIGIT),
            (b"1.e5", 2, EXPECTED_FRACTION_DIGIT),
            (b"[1e]", 3, EXPECTED_EXPONENT_DIGIT),
            (b"[1e+]", 4, EXPECTED_EXPONENT_DIGIT),
            (b"[1E-x]", 4, EXPECTED_EXPONENT_DIGIT),
            (b"1e", 2, EOF),
            (b"0x10", 1, TRAILING),
            (b"1.5.3", 3, TRAILING),
            (b"[1,2a]", 4, EXPECTED_ARRAY_NEXT),
            // Control characters, raw, in strings (DEL is allowed).
            (b"\"a\x01b\"", 2, CONTROL),
            (b"\"a\tb\"", 2, CONTROL),
            (b"\"a\nb\"", 2, CONTROL),
            (b"\"\x00\"", 1, CONTROL),
            (b"\"\x1f\"", 1, CONTROL),
            // Ill-formed UTF-8: first offending byte.
            (b"\"\x80\"", 1, INVALID_UTF8),
            (b"\"\xbf\"", 1, INVALID_UTF8),
            (b"\"\xc0\x80\"", 1, INVALID_UTF8),
            (b"\"\xc1\xbf\"", 1, INVALID_UTF8),
            (b"\"\xe0\x80\x80\"", 2, INVALID_UTF8),
            (b"\"\xe0\x9f\xbf\"", 2, INVALID_UTF8),
            (b"\"\xed\xa0\x80\"", 2, INVALID_UTF8),
            (b"\"\xed\xbf\xbf\"", 2, INVALID_UTF8),
            (b"\"\xf0\x80\x80\x80\"", 2, INVALID_UTF8),
            (b"\"\xf0\x8f\xbf\xbf\"", 2, INVALID_UTF8),
            (b"\"\xf4\x90\x80\x80\"", 2, INVALID_UTF8),
            (b"\"\xf5\x80\x80\x80\"", 1, INVALID_UTF8),
            (b"\"\xff\"", 1, INVALID_UTF8),
            (b"\"\xfc\x80\x80\x80\x80\x80\"", 1, INVALID_UTF8),
            (b"\"\xe2\x82\"", 3, INVALID_UTF8),
            (b"\"\xe2\x82x\"", 3, INVALID_UTF8),
            (b"\"\xf0\x9f\x98\"", 4, INVALID_UTF8),
            (b"\"ab\xe2\x82", 5, EOF),
            (b"\"\xc3\xa9\xc3\"", 4, INVALID_UTF8),
            (b"{\"\xc3\":1}", 3, INVALID_UTF8),
            // Escapes.
            (br#""\x""#, 2, INVALID_ESCAPE),
            (br#""\'""#, 2, INVALID_ESCAPE),
            (br#""\U0041""#, 2, INVALID_ESCAPE),
            (b"\"\\", 2, EOF),
            (br#""\u12G4""#, 5, INVALID_HEX),
            (br#""\u004""#, 6, INVALID_HEX),
            (b"\"\\u00", 5, EOF),
            // Surrogates in escapes: reported at the unpaired escape's `\`.
            (br#""\uD800""#, 1, LONE_SURROGATE),
            (br#""\udbff""#, 1, LONE_SURROGATE),
            (br#""\uDC00""#, 1, LONE_SURROGATE),
            (br#""a\uDFFF\uD800""#, 2, LONE_SURROGATE),
            (br#""\uD800\u0041""#, 1, LONE_SURROGATE),
            (br#""\uD800\uD800""#, 1, LONE_SURROGATE),
            (br#""\uD800\uE000""#, 1, LONE_SURROGATE),
            (br#""\uD800\n""#, 1, LONE_SURROGATE),
            (br#""\uD800x""#, 1, LONE_SURROGATE),
            (br#""\uDE00\uD83D""#, 1, LONE_SURROGATE),
            (b"\"\\uD800", 7, EOF),
            (b"\"\\uD800\\", 8, EOF),
            (b"\"\\uD800\\u", 9, EOF),
            (br#""\uD800\uDC0x""#, 12, INVALID_HEX),
        ];
        for &(body, offset, reason) in cases {
            assert_eq!(
                validate(body),
                bad(offset, reason),
                "{:?}",
                String::from_utf8_lossy(body)
            );
            // The top-level wrapper does not change what is found.
            if body.first() == Some(&b'{') {
                assert_eq!(for_each_member(body, |_, _| Ok(())), bad(offset, reason));
            }
        }
    }

    #[test]
    fn not_an_object_only_when_valid() {
        for doc in ["[1]", "1", "\"s\"", "null", " true ", "[{}]", "-0.5e1"] {
            assert_eq!(
                for_each_member(doc.as_bytes(), |_, _| panic!("no members")),
                Err(Rejection::NotAnObject),
                "{doc}"
            );
        }
        assert_eq!(for_each_member(b"[1", |_, _| Ok(())), bad(2, EOF));
        assert_eq!(for_each_member(b"[1] x", |_, _| Ok(())), bad(4, TRAILING));
        assert_eq!(for_each_member(b"01", |_, _| Ok(())), bad(1, LEADING_ZERO));
        assert_eq!(for_each_member(b"", |_, _| Ok(())), bad(0, EMPTY));
    }

    #[test]
    fn yields_members_in_order() {
        let body = br#" { "b" : "x\ty" , "a":-1.50E+3,"n":null,"t":true,"f":false,
            "o":{"k":[1,{"z":"}"}]},"arr":[ "]" ], "\u00e9":"" } "#;
        let got = members(body).unwrap();
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "n", "t", "f", "o", "arr", "é"]);
        let values: Vec<Value> = got.iter().map(|(_, v)| *v).collect();
        assert!(matches!(values[0], Value::String(s) if s.eq_str("x\ty") && s.raw() == b"x\\ty"));
        assert_eq!(values[1], Value::Number("-1.50E+3"));
        assert_eq!(values[2], Value::Null);
        assert_eq!(values[3], Value::Bool(true));
        assert_eq!(values[4], Value::Bool(false));
        assert_eq!(values[5], Value::Object(br#"{"k":[1,{"z":"}"}]}"#));
        assert_eq!(values[6], Value::Array(br#"[ "]" ]"#));
        assert!(matches!(values[7], Value::String(s) if s.raw().is_empty()));
        let names: Vec<&str> = values.iter().map(Value::type_name).collect();
        assert_eq!(
            names,
            ["string", "number", "null", "boolean", "boolean", "object", "array", "string"]
        );
    }

    #[test]
    fn callback_errors_stop_the_scan() {
        let stop = Rejection::MissingField { field: "x" };
        let mut seen = 0;
        let r = for_each_member(br#"{"a":1,"b":2,"c":3}"#, |k, _| {
            seen += 1;
            if k.eq_str("b") {
                Err(stop.clone())
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err(stop.clone()));
        assert_eq!(seen, 2);
        // Single pass: the callback's error wins over a later syntax error...
        let r = for_each_member(br#"{"a":1,"b":2,"c":01}"#, |k, _| {
            if k.eq_str("b") {
                Err(stop.clone())
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err(stop.clone()));
        // ...but not over an earlier one, and a member's value is checked
        // before the callback sees it.
        let r = for_each_member(br#"{"a":01,"b":2}"#, |_, _| Err(stop.clone()));
        assert_eq!(r, bad(6, LEADING_ZERO));
        let r = for_each_member(br#"{"a":[1,]}"#, |_, _| Err(stop.clone()));
        assert_eq!(r, bad(8, TRAILING_COMMA));
    }

    #[test]
    fn duplicate_top_level_keys() {
        assert_eq!(validate(br#"{"a":1,"a":2}"#), dup(b"a"));
        assert_eq!(validate(br#"{"a":1,"b":2,"a":1}"#), dup(b"a"));
        // Compared decoded; reported as written.
        assert_eq!(validate(br#"{"a":1,"\u0061":2}"#), dup(b"\\u0061"));
        assert_eq!(validate(br#"{"\u0061":1,"a":2}"#), dup(b"a"));
        assert_eq!(
            validate("{\"\\uD83D\\uDE00\":1,\"\u{1f600}\":2}".as_bytes()),
            dup("\u{1f600}".as_bytes())
        );
        assert_eq!(validate(br#"{"a/b":1,"a\/b":2}"#), dup(b"a\\/b"));
        assert_eq!(validate(br#"{"":1,"":2}"#), dup(b""));
        let long = "k".repeat(40);
        let body = format!(r#"{{"{long}":1,"{long}":2}}"#);
        assert_eq!(validate(body.as_bytes()), dup(long.as_bytes()));
        // Same length, different text, at every length class.
        for n in 1..40 {
            let a = "x".repeat(n);
            for i in 0..n {
                let mut b = a.clone().into_bytes();
                b[i] = b'y';
                let b = String::from_utf8(b).unwrap();
                let body = format!(r#"{{"{a}":1,"{b}":2}}"#);
                assert_eq!(validate(body.as_bytes()), Ok(()), "{body}");
                let body = format!(r#"{{"{a}":1,"{b}":2,"{a}":3}}"#);
                assert_eq!(validate(body.as_bytes()), dup(a.as_bytes()), "{body}");
            }
        }
        assert_eq!(validate(br#"{"a":1,"A":2,"a ":3,"\u0062":4}"#), Ok(()));
        // The duplicate is found before its value is read.
        assert_eq!(validate(br#"{"a":1,"a":01}"#), dup(b"a"));
        // Nested objects are not checked for duplicates.
        assert_eq!(
            validate(br#"{"a":{"x":1,"x":2},"b":[{"y":1,"y":1}]}"#),
            Ok(())
        );
        assert_eq!(validate(br#"[{"x":1,"x":2}]"#), Ok(()));
    }

    #[test]
    fn member_count_is_bounded() {
        let body = |n: usize| {
            let fields: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            format!("{{{}}}", fields.join(","))
        };
        assert_eq!(validate(body(MAX_MEMBERS).as_bytes()), Ok(()));
        let too_many = body(MAX_MEMBERS + 1);
        let offset = too_many.find(&format!("\"k{MAX_MEMBERS}\"")).unwrap();
        assert_eq!(validate(too_many.as_bytes()), bad(offset, TOO_MANY_MEMBERS));
        // Nested objects are not bounded by MAX_MEMBERS.
        let nested = format!("{{\"n\":{}}}", body(500));
        assert_eq!(validate(nested.as_bytes()), Ok(()));
    }

    #[test]
    fn nesting_is_bounded() {
        let arrays = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(validate(arrays(MAX_DEPTH).as_bytes()), Ok(()));
        assert_eq!(
            validate(arrays(MAX_DEPTH + 1).as_bytes()),
            bad(MAX_DEPTH, TOO_DEEP)
        );
        // The top-level object is a level too.
        let in_object = |n: usize| format!("{{\"a\":{}}}", arrays(n));
        assert_eq!(validate(in_object(MAX_DEPTH - 1).as_bytes()), Ok(()));
        assert_eq!(
            validate(in_object(MAX_DEPTH).as_bytes()),
            bad(5 + MAX_DEPTH - 1, TOO_DEEP)
        );
        let objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        assert_eq!(validate(objects(MAX_DEPTH).as_bytes()), Ok(()));
        assert_eq!(
            validate(objects(MAX_DEPTH + 1).as_bytes()),
            bad(5 * MAX_DEPTH, TOO_DEEP)
        );
        // Mixed kinds at every level are closed by the right bracket.
        let mixed = "{\"a\":[{\"b\":[{\"c\":[[{}]]}]}],\"d\":[{\"e\":{}},[]]}";
        assert_eq!(validate(mixed.as_bytes()), Ok(()));
        assert_eq!(validate(b"[{\"a\":[}]}]"), bad(7, EXPECTED_VALUE));
        assert_eq!(validate(b"[{\"a\":[1}]}]"), bad(8, EXPECTED_ARRAY_NEXT));
        assert_eq!(validate(b"{\"a\":[{]}"), bad(7, EXPECTED_KEY));
    }

    #[test]
    fn deep_input_does_not_recurse() {
        // Runs on the test thread's ordinary stack: no recursion to overflow.
        let arrays = "[".repeat(100_000);
        assert_eq!(validate(arrays.as_bytes()), bad(MAX_DEPTH, TOO_DEEP));
        let objects = "{\"a\":".repeat(100_000);
        assert_eq!(validate(objects.as_bytes()), bad(5 * MAX_DEPTH, TOO_DEEP));
        let closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            for_each_member(closed.as_bytes(), |_, _| Ok(())),
            bad(MAX_DEPTH, TOO_DEEP)
        );
    }

    #[test]
    fn rejection_messages() {
        let e = validate(b"[01]").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        assert_eq!(
            e.to_string(),
            "body is not valid JSON at byte 2: leading zero in number"
        );
        let e = validate(br#"{"qty":1,"qty":2}"#).unwrap_err();
        assert_eq!(e.code(), "duplicate_field");
    }

    // ---------------------------------------------------------------
    // JSONTestSuite (https://github.com/nst/JSONTestSuite)
    // ---------------------------------------------------------------

    const SUITE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/jsontestsuite/test_parsing"
    );

    /// `y_` files this scanner refuses on purpose.
    const Y_EXCEPTIONS: &[(&str, &str)] = &[
        (
            "y_object_duplicated_key.json",
            "duplicate top-level keys are refused (RFC 8259: names SHOULD be unique)",
        ),
        (
            "y_object_duplicated_key_and_value.json",
            "duplicate top-level keys are refused (RFC 8259: names SHOULD be unique)",
        ),
    ];

    #[test]
    fn json_test_suite() {
        let Ok(dir) = std::fs::read_dir(SUITE) else {
            println!("JSONTestSuite not found at {SUITE}; skipping");
            return;
        };
        let mut files: Vec<_> = dir
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let (mut y, mut n, mut i) = (0, 0, 0);
        let mut excepted = BTreeSet::new();
        for path in &files {
            let name = path.file_name().unwrap().to_str().unwrap();
            let body = std::fs::read(path).unwrap();
            let result = validate(&body);
            // Whatever the verdict, the object entry point agrees with it.
            let via_members = for_each_member(&body, |_, _| Ok(()));
            let top_is_object = body
                .iter()
                .find(|b| !b" \t\r\n".contains(b))
                .is_some_and(|&b| b == b'{');
            match &result {
                Ok(()) if !top_is_object => assert_eq!(via_members, Err(Rejection::NotAnObject)),
                _ => assert_eq!(via_members, result, "{name}"),
            }
            if name.starts_with("y_") {
                y += 1;
                if let Some((_, why)) = Y_EXCEPTIONS.iter().find(|(f, _)| *f == name) {
                    assert!(result.is_err(), "{name} is listed as refused: {why}");
                    excepted.insert(name.to_string());
                } else {
                    assert_eq!(result, Ok(()), "{name} must be accepted");
                }
            } else if name.starts_with("n_") {
                n += 1;
                assert!(result.is_err(), "{name} must be rejected");
            } else if name.starts_with("i_") {
                i += 1;
                // Implementation-defined; our choices: numbers of any size
                // are read as text and accepted; everything else here is
                // ill-formed UTF-8, an unpaired surrogate, a BOM or nesting
                // past MAX_DEPTH, and refused.
                assert_eq!(result.is_ok(), name.starts_with("i_number_"), "{name}");
            }
        }
        assert_eq!(excepted.len(), Y_EXCEPTIONS.len(), "stale exception list");
        println!("JSONTestSuite: {y} y_, {n} n_, {i} i_ files");
        assert!(y > 0 && n > 0, "empty JSONTestSuite directory");
    }

    // ---------------------------------------------------------------
    // Property tests against serde_json (arbitrary_precision: numbers keep
    // their text).
    // ---------------------------------------------------------------

    /// Top-level members in order, duplicates kept (serde_json's `Map` would
    /// merge them).
    struct Members(Vec<(String, serde_json::Value)>);

    impl<'de> serde::Deserialize<'de> for Members {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Members;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Members, A::Error> {
                    let mut v = Vec::new();
                    while let Some(e) = map.next_entry::<String, serde_json::Value>()? {
                        v.push(e);
                    }
                    Ok(Members(v))
                }
            }
            d.deserialize_map(Visit)
        }
    }

    /// Nesting depth of containers (a scalar is 0).
    /// Deepest nesting of a valid document, read from its text: not from
    /// a `serde_json::Value`, which keeps only the last of repeated keys in
    /// nested objects (and so can lose the deepest branch).
    fn depth(text: &[u8]) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0, 0, false, false);
        for &b in text {
            match (in_string, escaped, b) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
                (false, _, b'{' | b'[') => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                (false, _, b'}' | b']') => depth -= 1,
                _ => {}
            }
        }
        deepest
    }

    #[test]
    fn depth_reads_the_text() {
        assert_eq!(depth(br#"[[{"":[[]],"":null}]]"#), 5);
        assert_eq!(depth(br#"{"[\"{":"]\\"}"#), 1);
        assert_eq!(depth(b"1"), 0);
    }

    fn has_duplicates(m: &Members) -> bool {
        let keys: BTreeSet<&str> = m.0.iter().map(|(k, _)| k.as_str()).collect();
        keys.len() != m.0.len()
    }

    /// Whether `bytes` is an object that repeats a top-level key.
    fn top_level_duplicates(bytes: &[u8]) -> bool {
        serde_json::from_slice::<Members>(bytes).is_ok_and(|m| has_duplicates(&m))
    }

    /// `validate` and `for_each_member` agree with serde_json on `bytes`,
    /// except where our bounds (depth, member count, duplicate keys) decide.
    fn check_agrees(bytes: &[u8]) -> Result<(), TestCaseError> {
        let ours = validate(bytes);
        let theirs = serde_json::from_slice::<serde_json::Value>(bytes);
        let via_members = for_each_member(bytes, |_, _| Ok(()));
        match (&ours, &theirs) {
            (Ok(()), Ok(v)) => {
                let want = if v.is_object() {
                    Ok(())
                } else {
                    Err(Rejection::NotAnObject)
                };
                prop_assert_eq!(&via_members, &want);
                if v.is_object() {
                    check_members(bytes)?;
                }
            }
            (Err(e), Err(_)) => {
                prop_assert_eq!(&via_members, &ours);
                let kind_ok = matches!(
                    e,
                    Rejection::InvalidJson { .. } | Rejection::DuplicateField { .. }
                );
                prop_assert!(kind_ok, "unexpected rejection {:?}", e);
            }
            (Ok(()), Err(e)) => {
                return Err(TestCaseError::fail(format!(
                    "accepted {:?}, serde_json: {e}",
                    String::from_utf8_lossy(bytes)
                )));
            }
            (Err(e), Ok(_)) => {
                let members = serde_json::from_slice::<Members>(bytes).ok();
                let explained = match e {
                    Rejection::InvalidJson { reason, .. } if *reason == TOO_DEEP => {
                        depth(bytes) > MAX_DEPTH
                    }
                    Rejection::InvalidJson { reason, .. } if *reason == TOO_MANY_MEMBERS => {
                        members.is_some_and(|m| m.0.len() > MAX_MEMBERS)
                    }
                    Rejection::DuplicateField { .. } => members.is_some_and(|m| has_duplicates(&m)),
                    _ => false,
                };
                prop_assert!(
                    explained,
                    "rejected {:?} with {e:?}; serde_json accepts it",
                    String::from_utf8_lossy(bytes)
                );
                prop_assert_eq!(&via_members, &ours);
            }
        }
        Ok(())
    }

    /// `for_each_member` yields serde_json's members: same keys in the same
    /// order, same decoded strings, same number texts, same nested values.
    fn check_members(bytes: &[u8]) -> Result<(), TestCaseError> {
        let theirs = serde_json::from_slice::<Members>(bytes)
            .map_err(|e| TestCaseError::fail(format!("serde_json cannot read the members: {e}")))?;
        let ours = members(bytes).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(ours.len(), theirs.0.len());
        for ((key, value), (their_key, their_value)) in ours.iter().zip(&theirs.0) {
            prop_assert_eq!(key, their_key);
            match (value, their_value) {
                (Value::Null, serde_json::Value::Null) => {}
                (Value::Bool(a), serde_json::Value::Bool(b)) => prop_assert_eq!(a, b),
                (Value::Number(a), serde_json::Value::Number(b)) => {
                    prop_assert_eq!(serde_number_text(a), b.to_string());
                }
                (Value::String(a), serde_json::Value::String(b)) => {
                    prop_assert!(a.eq_str(b));
                    prop_assert_eq!(a.decoded_len(), b.len());
                    prop_assert_eq!(&a.to_string(), b);
                    prop_assert_eq!(a.as_str().is_some(), !a.raw().contains(&b'\\'));
                    if let Some(s) = a.as_str() {
                        prop_assert_eq!(s, b);
                    }
                    let mut buf = heapless::String::<64>::new();
                    match a.decode_into(&mut buf) {
                        Ok(()) => prop_assert_eq!(buf.as_str(), b),
                        Err(Overflow) => prop_assert!(b.len() > 64 && buf.is_empty()),
                    }
                }
                (Value::Object(span) | Value::Array(span), v) => {
                    let nested: serde_json::Value = serde_json::from_slice(span)
                        .map_err(|e| TestCaseError::fail(format!("nested span: {e}")))?;
                    prop_assert_eq!(&nested, v);
                    prop_assert_eq!(matches!(value, Value::Object(_)), v.is_object());
                }
                (a, b) => {
                    return Err(TestCaseError::fail(format!("{a:?} vs {b:?}")));
                }
            }
        }
        Ok(())
    }

    /// Our number text as serde_json's `arbitrary_precision` keeps it: exact,
    /// except that it writes the exponent as `e` followed by a sign.
    fn serde_number_text(text: &str) -> String {
        match text.split_once(['e', 'E']) {
            Some((mantissa, exp)) if exp.starts_with(['+', '-']) => format!("{mantissa}e{exp}"),
            Some((mantissa, exp)) => format!("{mantissa}e+{exp}"),
            None => text.to_string(),
        }
    }

    proptest! {
        #[test]
        fn agrees_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            check_agrees(&bytes)?;
        }

        /// The bare-metal plain-run scan finds the same stop as the host's.
        #[test]
        fn plain_runs_agree(
            bytes in prop::collection::vec(
                prop_oneof![8 => 0x20u8..0x7f, 1 => any::<u8>(), 1 => Just(b'"')],
                0..40,
            )
        ) {
            prop_assert_eq!(plain_run_bytes(&bytes), plain_run(&bytes));
        }

        #[test]
        fn agrees_on_json_like_bytes(bytes in json_ish_bytes()) {
            check_agrees(&bytes)?;
        }

        #[test]
        fn accepts_generated_objects(doc in json_object()) {
            prop_assert_eq!(validate(doc.as_bytes()), Ok(()), "{}", doc);
            check_agrees(doc.as_bytes())?;
            check_members(doc.as_bytes())?;
        }

        #[test]
        fn accepts_generated_values(doc in json_value(), before in ws(), after in ws()) {
            let doc = format!("{before}{doc}{after}");
            prop_assume!(!top_level_duplicates(doc.as_bytes()));
            prop_assert_eq!(validate(doc.as_bytes()), Ok(()), "{}", doc);
            check_agrees(doc.as_bytes())?;
        }

        #[test]
        fn agrees_on_edited_objects(
            doc in json_object(),
            at in any::<usize>(),
            op in any::<u8>(),
            byte in prop::sample::select(b"{}[]\",:0-+.e \x01\\u/xD\x80\xc3\xed\xff".to_vec()),
        ) {
            check_agrees(&mutate(&doc, at, op, byte))?;
        }

        #[test]
        fn nesting_limit_is_exact(
            opens in prop::collection::vec(any::<bool>(), 0..40),
            leaf in json_value(),
        ) {
            let mut doc = String::new();
            for &object in &opens {
                doc.push_str(if object { "{\"k\":" } else { "[" });
            }
            doc.push_str(&leaf);
            for &object in opens.iter().rev() {
                doc.push(if object { '}' } else { ']' });
            }
            prop_assume!(!top_level_duplicates(doc.as_bytes()));
            serde_json::from_str::<serde_json::Value>(&doc)
                .map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(validate(doc.as_bytes()).is_ok(), depth(doc.as_bytes()) <= MAX_DEPTH, "{}", doc);
            check_agrees(doc.as_bytes())?;
        }

        #[test]
        fn never_panics(
            prefix in prop::collection::vec(prop::sample::select(b"[{\"a\":".to_vec()), 0..3000),
            bytes in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut body = prefix;
            body.extend_from_slice(&bytes);
            let _ = validate(&body);
            let _ = for_each_member(&body, |k, v| {
                let _ = (k.chars().count(), k.as_str(), k.eq_str("a"), v.type_name());
                if let Value::String(s) = v {
                    let mut buf = heapless::String::<8>::new();
                    let _ = s.decode_into(&mut buf);
                }
                Ok(())
            });
        }
    }
}
