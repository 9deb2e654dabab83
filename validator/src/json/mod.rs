//! Strict, single-pass, zero-copy JSON scanner for alert bodies.
//!
//! The gate reads one JSON object per request: a flat bag of fields such as
//! `{"ticker":"BTCUSDT","action":"buy","quantity":"0.5"}`. This module checks
//! that the body is RFC 8259 JSON and hands each top-level member to the
//! caller as borrowed slices of the body; nothing is copied or allocated.
//!
//! # Why not serde-json-core
//!
//! [serde-json-core] is the usual `no_std` choice, but it does not fit a gate:
//!
//! - it cannot read numbers written as strings (`"quantity":"0.5"`), which
//!   alert templates use all the time;
//! - it skips unknown fields by recursing once per nesting level with no
//!   bound, so a body of nested brackets overflows the stack;
//! - it parses numbers through binary floating point and accepts texts that
//!   are not JSON numbers (`+1.5`, `.5`, `007`), so the value checked is not
//!   the value sent.
//!
//! # Design
//!
//! - **One pass, no recursion.** Nested objects and arrays are walked by a
//!   loop with a fixed-size stack: a bitset remembers, per level, whether it
//!   is an object or an array. Nesting is bounded by [`MAX_DEPTH`] (the
//!   top-level value counts as one level); stack use does not depend on the
//!   input.
//! - **Strict.** Trailing commas, comments, `NaN`/`Infinity`, leading zeros,
//!   `+1`, `.5`, `1.`, raw control characters in strings, ill-formed UTF-8
//!   (overlongs, encoded surrogates, code points above U+10FFFF, truncated
//!   sequences), unknown escapes, unpaired surrogates in `\u` escapes, a
//!   byte order mark and anything but whitespace (space, tab, LF, CR) after
//!   the value are all refused. So is an empty body.
//! - **Zero copy.** Strings come out as [`JsonStr`], the validated bytes
//!   between the quotes; escapes are decoded on demand ([`JsonStr::chars`],
//!   [`JsonStr::eq_str`], [`JsonStr::decode_into`]). Numbers come out as
//!   their validated text, for [`crate::Decimal`] to read exactly. Nested
//!   objects and arrays come out as raw spans: the gate never reads inside
//!   them, so they are only syntax-checked.
//! - **Duplicates.** A top-level key that appears twice is refused with
//!   [`Rejection::DuplicateField`]: keys are compared by their decoded text,
//!   so `"a"` and `"\u0061"` collide. To do that without allocating, the
//!   spans of at most [`MAX_MEMBERS`] top-level keys are kept in a fixed
//!   array (three words per key, on the stack; only used entries are
//!   written). Keys of nested objects are not compared: nothing reads nested
//!   values, so a repeat there cannot change what the gate sees.
//! - **Errors.** Everything that is not JSON is [`Rejection::InvalidJson`]
//!   with the byte offset of the first offending byte and a short reason.
//!   For ill-formed UTF-8 that is the bad lead byte or the first bad
//!   continuation byte; for an unpaired surrogate, the `\` of its escape;
//!   for a body that ends too early, the body's length. Valid JSON whose top
//!   level is not an object is [`Rejection::NotAnObject`].
//! - **Speed.** The scan touches each byte about once; runs of plain string
//!   bytes are skipped a machine word at a time, and the error type carried
//!   through the scan is three words. A ~200-byte alert takes on the order of
//!   100 ns on a current x86-64 core. On hosted targets the alert reader
//!   first tries a fast path for the common shape (a flat object of plain
//!   ASCII strings, exponent-free numbers and literals); on anything else it
//!   gives up and this scanner reads the body from the start, so results
//!   and errors are this scanner's (see `scan_simple`).
//!
//! # Order of errors
//!
//! [`for_each_member`] calls back as it scans, so a member is seen before the
//! rest of the body has been checked. Problems are reported in document
//! order: a duplicate key, or an error returned by the callback, wins over a
//! syntax error further on. The scan's verdict is only known when
//! [`for_each_member`] returns, so a callback should collect what it needs and
//! let the caller act only on `Ok`.
//!
//! ```
//! use alertgate_validator::json::{for_each_member, Value};
//! use alertgate_validator::Rejection;
//!
//! let body = br#"{"ticker":"BTC\/USDT","qty":"0.5","price":67000.5,"tags":["a"]}"#;
//! let mut qty = None;
//! let mut ticker = heapless::String::<16>::new();
//! for_each_member(body, |key, value| {
//!     match value {
//!         Value::String(s) if key.eq_str("qty") => qty = s.as_str(),
//!         Value::String(s) if key.eq_str("ticker") => s.decode_into(&mut ticker).unwrap(),
//!         _ => {}
//!     }
//!     Ok(())
//! })?;
//! assert_eq!(qty, Some("0.5"));
//! assert_eq!(ticker, "BTC/USDT");
//!
//! assert_eq!(for_each_member(b"[1]", |_, _| Ok(())), Err(Rejection::NotAnObject));
//! assert_eq!(
//!     for_each_member(b"{\"a\":01}", |_, _| Ok(())),
//!     Err(Rejection::InvalidJson { offset: 6, reason: "leading zero in number" })
//! );
//! # Ok::<(), Rejection>(())
//! ```
//!
//! [serde-json-core]: https://docs.rs/serde-json-core

use core::fmt;
use core::iter::FusedIterator;
use core::str;

use crate::error::{snippet, Rejection};

/// Deepest nesting of objects and arrays accepted; the top-level value is
/// level one, so a top-level object may hold values nested 15 levels deep.
pub const MAX_DEPTH: usize = 16;

/// Most members a top-level object may have (the size of the table used to
/// find duplicate keys).
pub const MAX_MEMBERS: usize = 64;

// The object/array stack is a `u32` bitset.
const _: () = assert!(MAX_DEPTH <= 32);

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

/// A JSON value as found in the body, borrowing from it.
///
/// ```
/// use alertgate_validator::json::{for_each_member, Value};
/// let mut seen = heapless::Vec::<Value, 4>::new();
/// for_each_member(br#"{"a":null,"b":-1.5e3,"c":{"x":[]},"d":true}"#, |_, v| {
///     seen.push(v).unwrap();
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(
///     seen.as_slice(),
///     &[Value::Null, Value::Number("-1.5e3"), Value::Object(br#"{"x":[]}"#), Value::Bool(true)]
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (validated against the RFC 8259 grammar; any
    /// magnitude and precision).
    Number(&'a str),
    /// A string.
    String(JsonStr<'a>),
    /// An object, as written from `{` to `}` (syntax-checked, not read).
    Object(&'a [u8]),
    /// An array, as written from `[` to `]` (syntax-checked, not read).
    Array(&'a [u8]),
}

impl Value<'_> {
    /// The JSON type's name (`null`, `boolean`, `number`, `string`, `object`,
    /// `array`), for messages such as "expected a string, got an array".
    ///
    /// ```
    /// use alertgate_validator::json::Value;
    /// assert_eq!(Value::Number("1").type_name(), "number");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Object(_) => "object",
            Value::Array(_) => "array",
        }
    }
}

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
    raw: &'a [u8],
    /// Length in bytes of the decoded UTF-8 text. Every escape decodes to
    /// fewer bytes than it takes, so the string has escapes exactly when this
    /// is less than `raw.len()` (no separate flag: it would add padding that
    /// the hot path then copies around).
    decoded_len: usize,
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
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
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
fn hex4(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &h in b.get(..4)? {
        v = (v << 4) | u32::from(hex_value(h)?);
    }
    Some(v)
}

fn hex_value(h: u8) -> Option<u8> {
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
/// the field (usually [`Rejection::InvalidField`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("decoded string is longer than the buffer")
    }
}

impl core::error::Error for Overflow {}

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

/// What the scanner hands a top-level object's members to (crate-internal:
/// [`for_each_member`] is the public face).
pub(crate) trait Members<'a> {
    /// What the scan fails with: [`Halt`] itself, or a type the scanner's
    /// [`Halt`]s convert into (such as [`Rejection`]).
    type Error: From<Halt<'a>>;
    /// Called with each key before its value is scanned. `Ok(true)` means
    /// the caller detects repeats of this key itself (it must then refuse a
    /// key equal, decoded, to an earlier one it took, with
    /// [`Halt::Duplicate`], here); `Ok(false)` leaves that to the scanner.
    /// Keys the caller takes must never equal keys it leaves.
    fn key(&mut self, key: &JsonStr<'a>) -> Result<bool, Self::Error>;
    /// Called with each member once its value has been scanned.
    fn member(&mut self, key: JsonStr<'a>, value: RawValue<'a>) -> Result<(), Self::Error>;
}

/// Why a scan stopped, before it becomes a [`Rejection`]: four words, so
/// that the scan's many exits move a few registers rather than a
/// whole rejection (a block of copying code per exit on a 32-bit MCU). The
/// rejection is built once, out of line, by its `From`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Halt<'a> {
    /// A syntax error or an exceeded bound ([`Rejection::InvalidJson`]).
    Invalid(Invalid),
    /// A repeated top-level key, as written ([`Rejection::DuplicateField`]).
    Duplicate(&'a [u8]),
    /// Valid JSON, but not an object ([`Rejection::NotAnObject`]).
    NotAnObject,
}

impl From<Invalid> for Halt<'_> {
    #[inline(always)]
    fn from(e: Invalid) -> Self {
        Halt::Invalid(e)
    }
}

impl From<Halt<'_>> for Rejection {
    #[cold]
    #[inline(never)]
    fn from(halt: Halt<'_>) -> Rejection {
        match halt {
            Halt::Invalid(e) => Rejection::InvalidJson {
                offset: e.offset,
                reason: e.reason,
            },
            Halt::Duplicate(key) => Rejection::DuplicateField {
                field: snippet(key),
            },
            Halt::NotAnObject => Rejection::NotAnObject,
        }
    }
}

/// The adapter behind [`for_each_member`]: the scanner checks every key.
struct EveryKey<F>(F);

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

/// Most top-level keys the fast path ([`scan_simple`]) takes that the sink
/// does not track; a body with more goes to the general scanner.
#[cfg(not(target_os = "none"))]
const SIMPLE_UNTRACKED: usize = 8;

/// The host's fast path for the common shape of an alert: a top-level
/// object whose keys and string values are plain printable ASCII (no
/// escapes), whose other values are numbers without an exponent, `true`,
/// `false` or `null`, with optional whitespace between tokens.
///
/// Returns `true` when the whole body has that shape, is valid and every
/// member was handed to `members` without an error: `members` then saw
/// exactly the calls [`scan_members`] would have made, and `scan_members`
/// would have returned `Ok`. Returns `false` on anything else (an escape, a
/// non-ASCII or control byte, a nested value, an exponent, a repeated key,
/// more than [`SIMPLE_UNTRACKED`] untracked keys, an error from the sink, any
/// syntax error): the sink may then have seen some members, and the caller
/// resets it and runs [`scan_members`] from the start, which produces the
/// result and the error.
///
/// Why: the general scanner's generality (escapes, UTF-8, nesting, error
/// positions) costs about a quarter of its time on a typical alert. Not on
/// bare-metal targets, where flash counts more than the nanoseconds.
#[cfg(not(target_os = "none"))]
#[inline(always)]
pub(crate) fn scan_simple<'a, M: Members<'a>>(body: &'a [u8], members: &mut M) -> bool {
    simple(body, members).is_some()
}

/// Index of the first non-whitespace byte at or after `i`.
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn simple_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// A plain string whose opening quote is at `i - 1`: its bytes and the
/// index after its closing quote. `None` at the first byte that is not
/// printable ASCII (or `"`, `\`).
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn simple_string(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let rest = b.get(i..)?;
    let n = plain_run(rest);
    if rest.get(n) != Some(&b'"') {
        return None;
    }
    Some((rest.get(..n)?, i + n + 1))
}

/// [`scan_simple`], with `?` for "not handled".
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn simple<'a, M: Members<'a>>(b: &'a [u8], members: &mut M) -> Option<()> {
    // Untracked keys so far, to refuse repeats (plain text: equal decoded
    // exactly when equal as written). Uninitialized storage: nothing to
    // clear per call.
    let mut untracked = heapless::Vec::<&[u8], SIMPLE_UNTRACKED>::new();
    let mut count = 0usize;
    let mut i = simple_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = simple_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (simple_ws(b, i + 1) == b.len()).then_some(());
    }
    loop {
        // The key, at its quote (whitespace already skipped).
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (raw, end) = simple_string(b, i + 1)?;
        let key = JsonStr {
            raw,
            decoded_len: raw.len(),
        };
        i = end;
        if b.get(i) != Some(&b':') {
            i = simple_ws(b, i);
            if b.get(i) != Some(&b':') {
                return None;
            }
        }
        i += 1;
        // (With the sinks of this crate, at most 12 tracked and 8 untracked
        // keys get this far; the bound is for any other sink.)
        count += 1;
        if count > MAX_MEMBERS {
            return None;
        }
        if !members.key(&key).ok()? {
            if untracked.iter().any(|k| same_bytes(k, raw)) {
                return None;
            }
            untracked.push(raw).ok()?;
        }
        // The value.
        let mut c = *b.get(i)?;
        if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            i = simple_ws(b, i);
            c = *b.get(i)?;
        }
        let value = match c {
            b'"' => {
                let (raw, end) = simple_string(b, i + 1)?;
                i = end;
                RawValue::String(JsonStr {
                    raw,
                    decoded_len: raw.len(),
                })
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                if c == b'-' {
                    i += 1;
                }
                // A leading zero followed by a digit is not handled: the
                // digit is neither `,` nor `}` below.
                // The digits are read into `m` on the way (wrapping: only
                // texts of at most 18 bytes, below 10^18, keep it).
                let mut m: u64 = 0;
                match b.get(i) {
                    Some(b'0') => i += 1,
                    Some(b'1'..=b'9') => i = simple_digits(b, i, &mut m),
                    _ => return None,
                }
                let mut scale = 0;
                if b.get(i) == Some(&b'.') {
                    if !matches!(b.get(i + 1), Some(b'0'..=b'9')) {
                        return None;
                    }
                    let end = simple_digits(b, i + 1, &mut m);
                    scale = end - i - 1;
                    i = end;
                }
                // An exponent is not handled either (`e` is neither).
                let text = b.get(start..i)?;
                RawValue::Number(text, Pre::of_digits(text.len(), c == b'-', m, scale))
            }
            b't' if b.get(i..i + 4) == Some(b"true") => {
                i += 4;
                RawValue::Bool(true)
            }
            b'f' if b.get(i..i + 5) == Some(b"false") => {
                i += 5;
                RawValue::Bool(false)
            }
            b'n' if b.get(i..i + 4) == Some(b"null") => {
                i += 4;
                RawValue::Null
            }
            _ => return None,
        };
        members.member(key, value).ok()?;
        // After the value: `,` and the next key, or `}` and the end.
        let mut c = b.get(i).copied();
        if let Some(b' ' | b'\n' | b'\r' | b'\t') = c {
            i = simple_ws(b, i);
            c = b.get(i).copied();
        }
        match c {
            Some(b',') => i = simple_ws(b, i + 1),
            Some(b'}') => return (simple_ws(b, i + 1) == b.len()).then_some(()),
            _ => return None,
        }
    }
}

/// Index of the first non-digit at or after `i`, with the digits from `i`
/// on appended to `m` (wrapping).
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn simple_digits(b: &[u8], mut i: usize, m: &mut u64) -> usize {
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *m = m.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    i
}

/// A number's value, read by the host's fast path while it scanned the
/// digits ([`scan_simple`]), so that the fields need not read them again:
/// exactly what [`Decimal::parse_parts`](crate::decimal::Decimal) (and its
/// host fast path in `alert.rs`) gives for a text of at most 18 bytes, or
/// nothing ([`Pre::NONE`]: the general scanner, longer texts). Not on
/// bare-metal targets, where it is empty (and the fields read the text).
#[cfg(not(target_os = "none"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pre {
    /// The mantissa of the shortest form ...
    mantissa: i64,
    /// ... and its decimal places (`u8::MAX`: nothing read). Two fields
    /// rather than an `Option<Parsed>`, so that a [`RawValue`] stays four
    /// words.
    scale: u8,
    /// Whether the text is digits alone (no `-`, no `.`): an integer that
    /// `time::from_integer_bytes` would read, `mantissa` its value.
    integer: bool,
}

/// Empty on bare-metal targets (see the host's [`Pre`]).
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pre;

impl Pre {
    /// Nothing read in advance.
    #[cfg(not(target_os = "none"))]
    pub(crate) const NONE: Pre = Pre {
        mantissa: 0,
        scale: u8::MAX,
        integer: false,
    };

    /// Nothing read in advance.
    #[cfg(target_os = "none")]
    pub(crate) const NONE: Pre = Pre;

    /// From a number of `len` bytes matching `-?(0|[1-9][0-9]*)(\.[0-9]+)?`
    /// whose digits, read in order, gave `m` (wrapped if too many), `scale`
    /// of them after the `.`: the shortest form for `len ≤ 18` (at most 18
    /// digits, below 10^18: `m` is exact), [`Pre::NONE`] otherwise.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    fn of_digits(len: usize, negative: bool, mut m: u64, mut scale: usize) -> Pre {
        if len > 18 {
            return Pre::NONE;
        }
        let integer = !negative && scale == 0;
        while scale > 0 && m % 10 == 0 {
            m /= 10;
            scale -= 1;
        }
        // Below 10^18 < 2^63: the cast cannot wrap; scale < 18.
        let m = m as i64;
        Pre {
            mantissa: if negative { -m } else { m },
            scale: scale as u8,
            integer,
        }
    }

    /// The value read in advance, if the text is digits alone.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    pub(crate) fn integer(self) -> Option<i64> {
        self.integer.then_some(self.mantissa)
    }

    /// The value read in advance, if any.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    pub(crate) fn get(self) -> Option<crate::decimal::Parsed> {
        (self.scale != u8::MAX).then_some(crate::decimal::Parsed {
            mantissa: self.mantissa,
            scale: self.scale,
        })
    }
}

/// A value as the scanner produces it: [`Value`], but with a number's text
/// as bytes (ASCII by construction), so that readers of numbers need not
/// re-check it as UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawValue<'a> {
    // First, so it is the all-zeros value: `RawAlert` (alert.rs) starts as
    // `Null`s, cleared rather than copied from flash.
    Null,
    Bool(bool),
    /// The text, and on the host's fast path its value (see [`Pre`]).
    Number(&'a [u8], Pre),
    String(JsonStr<'a>),
    Object(&'a [u8]),
    Array(&'a [u8]),
}

impl<'a> RawValue<'a> {
    /// The public form.
    #[inline(always)]
    pub(crate) fn to_value(self) -> Value<'a> {
        match self {
            RawValue::Null => Value::Null,
            RawValue::Bool(b) => Value::Bool(b),
            // ASCII by construction: the fallback is unreachable.
            RawValue::Number(text, _) => Value::Number(str::from_utf8(text).unwrap_or("0")),
            RawValue::String(s) => Value::String(s),
            RawValue::Object(raw) => Value::Object(raw),
            RawValue::Array(raw) => Value::Array(raw),
        }
    }
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

/// A syntax error inside the scanner: small, so the hot path moves and
/// tests three words instead of a whole [`Rejection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid {
    offset: usize,
    reason: &'static str,
}

impl From<Invalid> for Rejection {
    #[inline(always)]
    fn from(e: Invalid) -> Rejection {
        Halt::Invalid(e).into()
    }
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

    /// Four hex digits at `at`: the decoder of [`unescape`], and the
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
fn plain_run(b: &[u8]) -> usize {
    const W: usize = core::mem::size_of::<usize>();
    const ONES: usize = usize::MAX / 255;
    const HIGH: usize = ONES << 7;
    let mut chunks = b.chunks_exact(W);
    let mut n = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; W]>::try_from(chunk) else {
            break;
        };
        let x = usize::from_le_bytes(word);
        let quote = x ^ (ONES * usize::from(b'"'));
        let backslash = x ^ (ONES * usize::from(b'\\'));
        // For an ASCII byte, the high bit of each term is set for: a byte
        // below 0x20, a `"`, a `\`; `x` itself flags bytes of 0x80 or more
        // (so the usual `& !x` masks are not needed). A borrow only leaves a
        // byte that is itself flagged and only runs upwards, so the lowest
        // flagged byte is exact.
        let stops = x.wrapping_sub(ONES * 0x20)
            | quote.wrapping_sub(ONES)
            | backslash.wrapping_sub(ONES)
            | x;
        let stops = stops & HIGH;
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
fn plain_run(b: &[u8]) -> usize {
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
pub(crate) mod tests {
    use super::*;
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

    /// Optional JSON whitespace.
    fn ws() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec![" ", "\t", "\n", "\r"]), 0..2)
            .prop_map(|v| v.concat())
    }

    /// A string's characters, biased towards what needs care.
    pub(crate) fn text_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::char::range(' ', '~'),
            1 => proptest::char::range('\0', '\u{1f}'),
            1 => prop::sample::select(vec![
                '"', '\\', '/', '\u{7f}', '\u{80}', '\u{e9}', '\u{7ff}', '\u{800}',
                '\u{20ac}', '\u{d7ff}', '\u{e000}', '\u{fffd}', '\u{ffff}', '\u{10000}',
                '\u{1f600}', '\u{10ffff}',
            ]),
            1 => any::<char>(),
        ]
    }

    /// Writes `c` into a JSON string literal in one of the allowed ways,
    /// picked by `how`: 0, its short escape (`\n`, `\/`, ...) if it has one;
    /// 0 or 1, the character itself if it may stand raw; otherwise a `\u`
    /// escape (a surrogate pair above U+FFFF), hex in upper case for 3.
    fn write_char(text: &mut String, c: char, how: u8) {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '/' => Some("\\/"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let must_escape = c == '"' || c == '\\' || c < ' ';
        match (how, short) {
            (0, Some(s)) => text.push_str(s),
            (0 | 1, _) if !must_escape => text.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if how == 3 {
                        text.push_str(&format!("\\u{u:04X}"));
                    } else {
                        text.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
        }
    }

    /// `s` as a JSON string literal (quotes included), character `i`
    /// written as [`write_char`] with `hows[i]` (1, raw if it may be, past
    /// the end of `hows`).
    pub(crate) fn literal(s: &str, hows: &[u8]) -> String {
        let mut text = String::from("\"");
        for (i, c) in s.chars().enumerate() {
            write_char(&mut text, c, hows.get(i).copied().unwrap_or(1));
        }
        text.push('"');
        text
    }

    /// A JSON string literal: (decoded text, text as written), each
    /// character written raw or escaped in one of the allowed ways.
    fn json_string() -> impl Strategy<Value = (String, String)> {
        prop::collection::vec((text_char(), 0u8..4), 0..12).prop_map(|chars| {
            let decoded: String = chars.iter().map(|&(c, _)| c).collect();
            let hows: Vec<u8> = chars.iter().map(|&(_, how)| how).collect();
            let text = literal(&decoded, &hows);
            (decoded, text)
        })
    }

    /// A JSON number's text.
    fn json_number() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop_oneof!["0", "[1-9][0-9]{0,24}"],
            proptest::option::of("[0-9]{1,20}"),
            proptest::option::of(("[eE]", "[+-]?", "[0-9]{1,5}")),
        )
            .prop_map(|(neg, int, frac, exp)| {
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                s.push_str(&int);
                if let Some(f) = frac {
                    s.push('.');
                    s.push_str(&f);
                }
                if let Some((e, sign, digits)) = exp {
                    s.push_str(&e);
                    s.push_str(&sign);
                    s.push_str(&digits);
                }
                s
            })
    }

    /// Any JSON value's text (nested objects may repeat keys).
    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            json_number(),
            json_string().prop_map(|(_, text)| text),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec((ws(), inner.clone(), ws()), 0..6).prop_map(|items| {
                    let items: Vec<String> =
                        items.into_iter().map(|(a, v, b)| a + &v + &b).collect();
                    format!("[{}]", items.join(","))
                }),
                prop::collection::vec((ws(), json_string(), ws(), inner), 0..6).prop_map(
                    |members| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(a, (_, k), b, v)| format!("{a}{k}{b}:{v}"))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }
                ),
            ]
        })
    }

    /// A top-level object with distinct (decoded) keys.
    fn json_object() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((ws(), json_string(), ws(), ws(), json_value(), ws()), 0..12),
            ws(),
            ws(),
        )
            .prop_map(|(members, before, after)| {
                let mut seen = BTreeSet::new();
                let members: Vec<String> = members
                    .into_iter()
                    .filter(|(_, (key, _), ..)| seen.insert(key.clone()))
                    .map(|(a, (_, k), b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"))
                    .collect();
                format!("{before}{{{}}}{after}", members.join(","))
            })
    }

    /// Bytes that make up JSON, to reach deeper than random bytes do.
    fn json_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
        let alphabet: Vec<u8> = b"{}[]\",:0123456789-+.eE \t\n\rtruefalsnl\\u/bxAD\x00\x1f\x7f\x80\xbf\xc3\xa9\xed\xf0\xf4\xff"
            .to_vec();
        prop::collection::vec(prop::sample::select(alphabet), 0..48)
    }

    /// A small edit of `text`: delete, insert or replace one byte.
    pub(crate) fn mutate(text: &str, at: usize, op: u8, byte: u8) -> Vec<u8> {
        let mut b = text.as_bytes().to_vec();
        let at = at % (b.len() + 1);
        match op % 3 {
            0 if at < b.len() => {
                b.remove(at);
            }
            1 => b.insert(at, byte),
            _ if at < b.len() => b[at] = byte,
            _ => b.push(byte),
        }
        b
    }

    /// If the fast path takes `body` (with a sink that tracks no key), the
    /// general scanner accepts it too and hands over the same members, as
    /// the same spans of the body.
    fn check_simple(body: &[u8]) -> Result<bool, TestCaseError> {
        let mut fast = Vec::new();
        let taken = scan_simple(
            body,
            &mut EveryKey(|k, v| {
                fast.push((k, v));
                Ok(())
            }),
        );
        if !taken {
            return Ok(false);
        }
        let mut general = Vec::new();
        let verdict = for_each_member(body, |k, v| {
            general.push((k, v));
            Ok(())
        });
        prop_assert_eq!(verdict, Ok(()));
        prop_assert_eq!(fast.len(), general.len());
        for ((k, v), (gk, gv)) in fast.iter().zip(&general) {
            prop_assert!(core::ptr::eq(k.raw(), gk.raw()));
            prop_assert_eq!(k.decoded_len(), gk.decoded_len());
            prop_assert_eq!(v, gv);
            if let (Value::String(a), Value::String(b)) = (v, gv) {
                prop_assert!(core::ptr::eq(a.raw(), b.raw()));
                prop_assert_eq!(a.decoded_len(), b.decoded_len());
            }
            if let (Value::Number(a), Value::Number(b)) = (v, gv) {
                prop_assert!(core::ptr::eq(*a, *b));
            }
        }
        Ok(true)
    }

    /// A flat object of the fast path's shape, keys from a small set (so
    /// they repeat), now and then a value it leaves to the general scanner.
    fn simple_object() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            4 => json_number(),
            4 => "\"[ !#-\\[\\]-~]{0,6}\"",
            2 => prop::sample::select(vec!["true", "false", "null"]).prop_map(str::to_string),
            1 => json_value(),
        ];
        (
            prop::collection::vec((ws(), "\"[a-c]{0,2}\"", ws(), ws(), value, ws()), 0..12),
            ws(),
            ws(),
        )
            .prop_map(|(members, before, after)| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(a, k, b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"))
                    .collect();
                format!("{before}{{{}}}{after}", members.join(","))
            })
    }

    #[test]
    fn fast_path_examples() {
        let taken = |body: &[u8]| check_simple(body).unwrap();
        assert!(!taken(br#" { "a" : 1 , "b":"x","c":[]} "#));
        assert!(taken(
            br#" { "a" : -1.5 , "b":"x y","c":null,"d":true,"e":false} "#
        ));
        assert!(taken(b"{}") && taken(b" {\t}\n"));
        assert!(!taken(br#"{"a":1,"a":2}"#));
        assert!(!taken(
            br#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}"#
        ));
        assert!(taken(
            br#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}"#
        ));
        assert!(!taken(b"{\"a\":1}x") && !taken(b"{\"a\":1,}") && !taken(b"{\"a\":01}"));
    }

    proptest! {
        #[test]
        fn agrees_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            check_agrees(&bytes)?;
        }

        #[test]
        fn fast_path_agrees_on_simple_objects(doc in simple_object()) {
            check_simple(doc.as_bytes())?;
        }

        #[test]
        fn fast_path_agrees_on_edited_objects(
            doc in simple_object(),
            at in any::<usize>(),
            op in any::<u8>(),
            byte in prop::sample::select(b"{}[]\",:0-+.eE \t\x01\\u/xtn\x7f\x80\xc3\xff".to_vec()),
        ) {
            check_simple(&mutate(&doc, at, op, byte))?;
        }

        #[test]
        fn fast_path_agrees_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            check_simple(&bytes)?;
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
