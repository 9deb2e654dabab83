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

// This module's files: `scan`, the strict scanner (with the public entry
// points `for_each_member` and `validate`); `fast`, the host's fast path
// for the common shape of an alert; `string`, validated strings
// (`JsonStr`) and their decoding; `tests`, generators of JSON text for
// tests. What the scanners hand over (`Value`, `RawValue`), to whom
// (`Members`) and how they stop (`Halt`, `Invalid`) is here, shared by both
// scanners and by the alert reader.

use core::str;

use crate::decimal::Pre;
use crate::error::{snippet, Rejection};

#[cfg(not(target_os = "none"))]
mod fast;
mod scan;
mod string;
#[cfg(test)]
pub(crate) mod tests;

#[cfg(not(target_os = "none"))]
pub(crate) use fast::scan_simple;
pub(crate) use scan::scan_members;
pub use scan::{for_each_member, validate};
pub use string::{DecodedChars, JsonStr, Overflow};

/// Deepest nesting of objects and arrays accepted; the top-level value is
/// level one, so a top-level object may hold values nested 15 levels deep.
pub const MAX_DEPTH: usize = 16;

/// Most members a top-level object may have (the size of the table used to
/// find duplicate keys).
pub const MAX_MEMBERS: usize = 64;

// The object/array stack of the scanner (`scan`) is a `u32` bitset.
const _: () = assert!(MAX_DEPTH <= 32);

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

/// A value as the scanner produces it: [`Value`], but with a number's text
/// as bytes (ASCII by construction), so that readers of numbers need not
/// re-check it as UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawValue<'a> {
    // First: where the tag is a byte of its own (bare-metal targets, whose
    // `Pre` is empty), an all-zeros value, so `RawAlert::EMPTY` is cleared
    // rather than copied from flash. On the host the tag is a niche of
    // `Pre`'s flag, and `RawAlert::empty` builds the array in place.
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
