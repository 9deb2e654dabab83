//! The alert: which body fields the gate reads, their aliases, and how each
//! one is turned into a typed value.
//!
//! Reading happens in two steps so that the checks keep their documented
//! order:
//! 1. [`RawAlert::scan`] runs the JSON scanner once over the body and keeps a
//!    borrowed [`Value`](crate::json::Value) per known field (JSON errors, `not_an_object`,
//!    duplicate keys and duplicate aliases are found here);
//! 2. [`RawAlert::fields`] converts those values into [`Fields`] (missing and
//!    invalid fields, in the order of [`FIELDS`]).
//!
//! On hosted targets both steps first try a fast path for the common case
//! (the scan: a flat object of plain ASCII strings, exponent-free numbers
//! and literals; the conversion: a symbol already in `BASE/QUOTE` form,
//! short decimals, short ASCII event ids). A fast path either gives exactly
//! the general path's result or gives up and leaves the input to it, so
//! results and errors do not depend on the target; property tests (and, for
//! the scan, the `alert_json` fuzz target) check that. Bare-metal targets
//! build only the general paths, which take less flash.
//!
//! In between, the gate checks the body's `passphrase` for the passphrase
//! scheme, so an unauthenticated sender learns nothing about field rules.
//!
//! Keys are case-sensitive. Unknown keys are skipped (TradingView messages
//! carry extras). `null` counts as absent for optional fields.

use crate::decimal::{Decimal, Parsed};
use crate::error::{snippet, Rejection, Snippet, SNIPPET_CAP};
use crate::json::{self, Halt, JsonStr, Members, RawValue};
use crate::symbol::{self, Symbol};
use crate::time;

/// Capacity in bytes of an event id. Longer ids are rejected, not truncated:
/// two long ids sharing a prefix must never collide.
pub const EVENT_ID_CAP: usize = 64;

/// An event id: the idempotency key of an alert.
pub type EventId = heapless::String<EVENT_ID_CAP>;

/// Which way the order goes. Serialized (and read back) as its
/// [`Side::name`]: `"buy"` or `"sell"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Buy the base currency.
    Buy,
    /// Sell the base currency.
    Sell,
}

impl Side {
    /// `buy` or `sell`.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// How the order is to be executed. Serialized (and read back) as its
/// [`OrderType::name`]: `"market"`, `"limit"`, `"stop_loss"` or
/// `"take_profit"` (the body's aliases, such as `stop`, are the gate's to
/// read, not serde's).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// At the market (the default).
    #[default]
    Market,
    /// At `price` or better.
    Limit,
    /// A stop order triggered at `stop_price` (or `price`).
    StopLoss,
    /// A take-profit order triggered at `stop_price` (or `price`).
    TakeProfit,
}

impl OrderType {
    /// `market`, `limit`, `stop_loss` or `take_profit`.
    pub const fn name(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::StopLoss => "stop_loss",
            OrderType::TakeProfit => "take_profit",
        }
    }
}

/// What an accepted alert asks for: an order placed, or working orders
/// cancelled. Serialized as `"place"` or `{"cancel": ...}` (see
/// [`CancelTarget`]); holders of an order leave it out when it is
/// [`Action::Place`], so orders written before cancels existed read back
/// unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Place the order the alert describes (a `buy` or `sell` alert).
    #[default]
    Place,
    /// Cancel working orders (an alert whose `side` / `action` is
    /// `cancel`): it places nothing, and its side, order type and quantity
    /// carry no order.
    Cancel(CancelTarget),
}

impl Action {
    /// Whether the alert places an order (serde's `skip_serializing_if`).
    pub fn is_place(&self) -> bool {
        matches!(self, Action::Place)
    }
}

/// Which working orders a cancel alert withdraws. Serialized as
/// `{"event":"ID"}` or `"symbol"`.
///
/// Only entry orders (the orders alerts placed) are cancelled: the
/// protective legs (stop-loss, take-profit) of an open position never are,
/// so a position keeps the protection its alert asked for; to drop it,
/// close the position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelTarget {
    /// The working order of the alert with this event id (the body's
    /// `cancel` field): that alert's identity, its body's `event_id` (under
    /// a scheme that signs an id header, `standard-webhooks`, that
    /// header's id: what the gate remembered the alert by).
    Event(EventId),
    /// Every working entry order of the alert's symbol (no `cancel`
    /// field).
    Symbol,
}

/// The fields the gate reads, in the order their values are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Field {
    Symbol,
    Side,
    OrderType,
    Quantity,
    Price,
    StopPrice,
    Confidence,
    StopLoss,
    TakeProfit,
    Timestamp,
    EventId,
    Cancel,
    Passphrase,
}

/// Canonical field names and their aliases, in check order.
pub const FIELDS: &[(&str, &[&str])] = &[
    ("symbol", &["symbol", "ticker"]),
    ("side", &["side", "action"]),
    ("order_type", &["order_type", "type"]),
    ("quantity", &["quantity", "qty", "contracts"]),
    ("price", &["price"]),
    ("stop_price", &["stop_price"]),
    ("confidence", &["confidence"]),
    ("stop_loss", &["stop_loss"]),
    ("take_profit", &["take_profit"]),
    ("timestamp", &["timestamp", "time", "timenow"]),
    ("event_id", &["event_id", "id"]),
    ("cancel", &["cancel", "cancel_id"]),
    ("passphrase", &["passphrase"]),
];

/// Every field, in [`FIELDS`] order.
#[cfg(any(target_os = "none", test))]
const ORDER: [Field; FIELDS.len()] = [
    Field::Symbol,
    Field::Side,
    Field::OrderType,
    Field::Quantity,
    Field::Price,
    Field::StopPrice,
    Field::Confidence,
    Field::StopLoss,
    Field::TakeProfit,
    Field::Timestamp,
    Field::EventId,
    Field::Cancel,
    Field::Passphrase,
];

/// [`FIELDS`] as one string, for bare-metal targets: per field, its
/// spellings (the canonical name first, each preceded by its length as a
/// byte), then a 0. Built from [`FIELDS`] at compile time. One string
/// instead of tables of (pointer, length) pairs: about 250 bytes less
/// flash on a Cortex-M.
#[cfg(any(target_os = "none", test))]
const PACKED: &str = {
    const fn packed_len() -> usize {
        let mut len = 0;
        let mut f = 0;
        while f < FIELDS.len() {
            let aliases = FIELDS[f].1;
            let mut a = 0;
            while a < aliases.len() {
                len += 1 + aliases[a].len();
                a += 1;
            }
            len += 1;
            f += 1;
        }
        len
    }
    const LEN: usize = packed_len();
    const BYTES: [u8; LEN] = {
        let mut out = [0u8; LEN];
        let mut at = 0;
        let mut f = 0;
        while f < FIELDS.len() {
            let aliases = FIELDS[f].1;
            let mut a = 0;
            while a < aliases.len() {
                let alias = aliases[a].as_bytes();
                // A length byte of 0 would read as the field's end.
                assert!(!alias.is_empty() && alias.len() <= LONGEST_ALIAS);
                out[at] = alias.len() as u8;
                at += 1;
                let mut k = 0;
                while k < alias.len() {
                    out[at] = alias[k];
                    at += 1;
                    k += 1;
                }
                a += 1;
            }
            // `out` is zeroed: the field's end marker is already there.
            at += 1;
            f += 1;
        }
        out
    };
    match core::str::from_utf8(&BYTES) {
        Ok(text) => text,
        Err(_) => panic!("FIELDS are not UTF-8"),
    }
};

impl Field {
    /// The canonical name.
    #[cfg(not(target_os = "none"))]
    fn name(self) -> &'static str {
        FIELDS[self as usize].0
    }

    /// The canonical name, on bare-metal targets: read from [`PACKED`].
    #[cfg(target_os = "none")]
    fn name(self) -> &'static str {
        self.packed_name()
    }

    /// The first spelling of the field in [`PACKED`] (also built for tests,
    /// which check it against [`FIELDS`]).
    #[cfg(any(target_os = "none", test))]
    fn packed_name(self) -> &'static str {
        /// Where each field's entry starts in [`PACKED`].
        const STARTS: [u8; FIELDS.len()] = {
            let mut starts = [0u8; FIELDS.len()];
            let mut at = 0;
            let mut f = 0;
            while f < FIELDS.len() {
                starts[f] = at as u8;
                let aliases = FIELDS[f].1;
                let mut a = 0;
                while a < aliases.len() {
                    at += 1 + aliases[a].len();
                    a += 1;
                }
                at += 1;
                f += 1;
            }
            assert!(at <= 256);
            starts
        };
        let at = usize::from(STARTS[self as usize]);
        let len = usize::from(PACKED.as_bytes().get(at).copied().unwrap_or(0));
        PACKED.get(at + 1..at + 1 + len).unwrap_or_default()
    }

    /// Maps a key (decoded) to the field it names and which of its spellings
    /// it is (an index into all the aliases, unique per spelling), if any.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn of_key(key: &JsonStr<'_>) -> Option<(Field, u8)> {
        if !key.has_escapes() {
            return Field::of_name(key.raw());
        }
        // Escaped keys are rare: decode (short ones only; no alias is
        // longer than the buffer) and match the text.
        let mut buf = [0; LONGEST_ALIAS];
        Field::of_name(key.decode_bytes_to(&mut buf).ok()?)
    }

    /// [`Field::of_key`] on decoded text, on bare-metal targets: a search
    /// of [`PACKED`], a fraction of the flash of the host version below
    /// (whose 64-bit constants are long sequences on a 32-bit MCU). The
    /// spellings are numbered in the same order.
    #[cfg(target_os = "none")]
    fn of_name(name: &[u8]) -> Option<(Field, u8)> {
        Field::search(name)
    }

    /// The search behind the bare-metal [`Field::of_name`] (also built for
    /// tests, which check it against the host version).
    #[cfg(any(target_os = "none", test))]
    #[inline(never)]
    fn search(name: &[u8]) -> Option<(Field, u8)> {
        let mut rest = PACKED.as_bytes();
        let mut field = 0;
        let mut spelling = 0;
        while let Some((&len, tail)) = rest.split_first() {
            if len == 0 {
                field += 1;
                rest = tail;
                continue;
            }
            let (alias, after) = tail.split_at_checked(usize::from(len))?;
            if alias == name {
                return Some((*ORDER.get(field)?, spelling));
            }
            spelling += 1;
            rest = after;
        }
        None
    }

    /// [`Field::of_key`] on decoded text: the text is read as its length
    /// and two (overlapping) words, and matched against each alias's
    /// constant form (a switch on the length, then a compare or two), not
    /// compared with every alias in turn.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    fn of_name(name: &[u8]) -> Option<(Field, u8)> {
        const SYMBOL: Sig = sig(b"symbol");
        const TICKER: Sig = sig(b"ticker");
        const SIDE: Sig = sig(b"side");
        const ACTION: Sig = sig(b"action");
        const ORDER_TYPE: Sig = sig(b"order_type");
        const TYPE: Sig = sig(b"type");
        const QUANTITY: Sig = sig(b"quantity");
        const QTY: Sig = sig(b"qty");
        const CONTRACTS: Sig = sig(b"contracts");
        const PRICE: Sig = sig(b"price");
        const STOP_PRICE: Sig = sig(b"stop_price");
        const CONFIDENCE: Sig = sig(b"confidence");
        const STOP_LOSS: Sig = sig(b"stop_loss");
        const TAKE_PROFIT: Sig = sig(b"take_profit");
        const TIMESTAMP: Sig = sig(b"timestamp");
        const TIME: Sig = sig(b"time");
        const TIMENOW: Sig = sig(b"timenow");
        const EVENT_ID: Sig = sig(b"event_id");
        const ID: Sig = sig(b"id");
        const CANCEL: Sig = sig(b"cancel");
        const CANCEL_ID: Sig = sig(b"cancel_id");
        const PASSPHRASE: Sig = sig(b"passphrase");
        if name.len() > LONGEST_ALIAS {
            return None;
        }
        Some(match sig_of(name) {
            SYMBOL => (Field::Symbol, 0),
            TICKER => (Field::Symbol, 1),
            SIDE => (Field::Side, 2),
            ACTION => (Field::Side, 3),
            ORDER_TYPE => (Field::OrderType, 4),
            TYPE => (Field::OrderType, 5),
            QUANTITY => (Field::Quantity, 6),
            QTY => (Field::Quantity, 7),
            CONTRACTS => (Field::Quantity, 8),
            PRICE => (Field::Price, 9),
            STOP_PRICE => (Field::StopPrice, 10),
            CONFIDENCE => (Field::Confidence, 11),
            STOP_LOSS => (Field::StopLoss, 12),
            TAKE_PROFIT => (Field::TakeProfit, 13),
            TIMESTAMP => (Field::Timestamp, 14),
            TIME => (Field::Timestamp, 15),
            TIMENOW => (Field::Timestamp, 16),
            EVENT_ID => (Field::EventId, 17),
            ID => (Field::EventId, 18),
            CANCEL => (Field::Cancel, 19),
            CANCEL_ID => (Field::Cancel, 20),
            PASSPHRASE => (Field::Passphrase, 21),
            _ => return None,
        })
    }
}

/// A short text (at most 16 bytes) as its length and two little-endian
/// words that together cover every byte: equal texts have equal signatures
/// and, for a given length, different texts different ones. Longer texts
/// all get `(0, 0, 0)`, the empty text's signature.
#[cfg(not(target_os = "none"))]
type Sig = (usize, u64, u64);

#[cfg(not(target_os = "none"))]
#[inline(always)]
const fn sig(b: &[u8]) -> Sig {
    const fn le(b: &[u8], at: usize, n: usize) -> u64 {
        let mut v = 0u64;
        let mut k = 0;
        while k < n {
            v |= (b[at + k] as u64) << (8 * k);
            k += 1;
        }
        v
    }
    let n = b.len();
    match n {
        8..=16 => (n, le(b, 0, 8), le(b, n - 8, 8)),
        4..=7 => (n, le(b, 0, 4), le(b, n - 4, 4)),
        1..=3 => (n, le(b, 0, 1), le(b, n / 2, 1) | le(b, n - 1, 1) << 8),
        _ => (0, 0, 0),
    }
}

/// [`sig`] at run time: whole words are loaded at once (the `const fn`
/// assembles them byte by byte, which is what the compiler then does too).
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn sig_of(b: &[u8]) -> Sig {
    fn word<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
        b.get(at..at + N)
            .and_then(|w| w.try_into().ok())
            .unwrap_or([0; N])
    }
    let n = b.len();
    match n {
        8..=16 => (
            n,
            u64::from_le_bytes(word(b, 0)),
            u64::from_le_bytes(word(b, n - 8)),
        ),
        4..=7 => (
            n,
            u64::from(u32::from_le_bytes(word(b, 0))),
            u64::from(u32::from_le_bytes(word(b, n - 4))),
        ),
        _ => sig(b),
    }
}

/// Length of the longest alias in [`FIELDS`].
const LONGEST_ALIAS: usize = 11;

/// Per-field values borrowed from the body, before conversion.
pub struct RawAlert<'a> {
    /// `null` for a field that is absent (the two mean the same for every
    /// field). Start from [`RawAlert::empty`].
    values: [RawValue<'a>; FIELDS.len()],
}

/// The [`Members`] sink of [`RawAlert::scan`]: keeps the value of each known
/// field and refuses repeats of known keys itself (the scanner checks the
/// unknown ones), so a known key costs one match instead of a comparison
/// with every earlier key.
struct Collector<'a, 'v> {
    /// Filled in place (the caller's storage: nothing is copied out).
    values: &'v mut [RawValue<'a>; FIELDS.len()],
    /// Per field, which spelling filled it (`u8::MAX`: none yet).
    spelling: [u8; FIELDS.len()],
    /// The field of the key being read, if known ...
    current: Option<Field>,
    /// ... and whether another spelling already filled it.
    alias_repeat: bool,
}

impl<'a> Members<'a> for Collector<'a, '_> {
    type Error = Halt<'a>;

    #[inline(always)]
    fn key(&mut self, key: &JsonStr<'a>) -> Result<bool, Halt<'a>> {
        let Some((field, spelling)) = Field::of_key(key) else {
            self.current = None;
            return Ok(false);
        };
        let seen = &mut self.spelling[field as usize];
        if *seen == spelling {
            // The same key twice: refused before its value is read, as the
            // scanner does for other keys.
            return Err(Halt::Duplicate(key.raw()));
        }
        // Another spelling of a filled field is refused once the value has
        // been read (see `member`).
        self.alias_repeat = *seen != u8::MAX;
        *seen = spelling;
        self.current = Some(field);
        Ok(true)
    }

    #[inline(always)]
    fn member(&mut self, key: JsonStr<'a>, value: RawValue<'a>) -> Result<(), Halt<'a>> {
        if let Some(field) = self.current {
            if self.alias_repeat {
                return Err(Halt::Duplicate(key.raw()));
            }
            self.values[field as usize] = value;
        }
        Ok(())
    }
}

/// `"text"` for strings (quotes included when they fit), raw text otherwise.
fn value_snippet(value: &RawValue<'_>) -> Snippet {
    match value {
        RawValue::Null => snippet(b"null"),
        RawValue::Bool(true) => snippet(b"true"),
        RawValue::Bool(false) => snippet(b"false"),
        RawValue::Number(text, _) => snippet(text),
        RawValue::String(s) => {
            let inner = snippet(s.raw());
            if inner.len() + 2 > SNIPPET_CAP {
                return inner;
            }
            let mut out = Snippet::new();
            // Capacity checked above.
            let _ = out.push('"');
            let _ = out.push_str(&inner);
            let _ = out.push('"');
            out
        }
        RawValue::Object(raw) | RawValue::Array(raw) => snippet(raw),
    }
}

/// Why a field cannot be converted: just enough to build the [`Rejection`]
/// afterwards.
///
/// Two words instead of a rejection's hundred bytes: every `?` on a
/// `Result<_, Rejection>` moves the whole rejection, which on a 32-bit MCU
/// is a block of code at each of the dozens of sites below. The rejection
/// (with its snippet of the value) is built once, out of line, by
/// [`RawAlert::rejection`].
#[derive(Clone, Copy, Debug)]
enum Problem {
    /// A required field is absent.
    Missing(Field),
    /// The field's value is not acceptable; the text says what is.
    Invalid(Field, &'static str),
    /// The symbol reads as text but does not normalize; the text says what
    /// would.
    Symbol(&'static str),
    /// The order type needs a price or trigger price and has none.
    MissingPrice(OrderType, &'static str),
    /// A cancel alert carries this field of an order.
    OrderField(Field),
    /// A buy or sell alert carries `cancel`.
    CancelOnOrder,
}

/// What a decimal field takes: the syntax, and [`decimal::BOUNDS`] (a test
/// checks they agree).
///
/// [`decimal::BOUNDS`]: crate::decimal::BOUNDS
const DECIMAL_EXPECTED: &str = "a decimal number or numeric string below 10^18 in magnitude, with at most 18 significant digits and 18 decimal places";

/// Longest symbol text read, in bytes (decoded): the longest that can
/// normalize, a 32-byte exchange prefix and its `:`, `BASE/QUOTE` of
/// 16 + 1 + 16 bytes, and `.P`. Longer texts are refused with
/// [`SYMBOL_EXPECTED`], which states it.
const SYMBOL_TEXT_CAP: usize = symbol::MAX_EXCHANGE_LEN + 1 + symbol::SYMBOL_CAP + 2;
/// What the symbol field takes when it is not a string of at most
/// [`SYMBOL_TEXT_CAP`] bytes.
const SYMBOL_EXPECTED: &str =
    "a symbol string of at most 68 bytes, like BTC/USDT, BTCUSDT or BINANCE:BTCUSDT.P";
/// What the timestamp field takes.
const TIMESTAMP_EXPECTED: &str = "Unix ms, Unix seconds or RFC 3339 (2019-08-27T09:56:00Z; second 60 only at 23:59:60 UTC on a month's last day), 1970..9999";
/// Room for a timestamp string with escapes once decoded, less what cannot
/// change its value (see [`timestamp_escaped`]): every valid timestamp
/// then fits (at most 29 bytes: `YYYY-MM-DDTHH:MM:SS.mmm+HH:MM`).
const TIMESTAMP_TEXT_CAP: usize = 32;
/// Longest numeric string with escapes read, in bytes (decoded).
const DECIMAL_TEXT_CAP: usize = 64;

/// The text of a string value as UTF-8 bytes: borrowed from the body when
/// it has no escapes, else decoded into `buf`. `None` if the value is not a
/// string or its text is longer than `buf`.
///
/// Bytes, not `&str`: the scanner validated the UTF-8, and the readers
/// below work on bytes, so nothing checks it again. One function for every
/// field's bound: a function generic over the capacity was compiled once
/// per bound.
fn text<'b>(value: &RawValue<'b>, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let RawValue::String(s) = value else {
        return None;
    };
    if s.has_escapes() {
        s.decode_bytes_to(buf).ok()
    } else {
        let plain = s.raw();
        (plain.len() <= buf.len()).then_some(plain)
    }
}

/// The event id of the text `raw` (UTF-8, as the scanner validated it):
/// `None` if it is empty, longer than [`EVENT_ID_CAP`] bytes or not UTF-8.
///
/// The one UTF-8 check of the conversion: a `heapless::String` is only
/// built from `&str`s or `char`s (and the text is valid by construction).
#[cfg(not(target_os = "none"))]
fn event_id(raw: &[u8]) -> Option<EventId> {
    // Short ASCII ids (the usual kind) are copied a byte at a time: cheaper
    // than the call to the UTF-8 check.
    if raw.len() <= 32 && raw.is_ascii() {
        let mut id = EventId::new();
        for &b in raw {
            // ASCII: the `& 0x7f` changes nothing and spares a UTF-8 encoder.
            id.push(char::from(b & 0x7f)).ok()?;
        }
        return (!raw.is_empty()).then_some(id);
    }
    let text = core::str::from_utf8(raw).ok()?;
    let mut id = EventId::new();
    (!text.is_empty() && id.push_str(text).is_ok()).then_some(id)
}

/// [`event_id`] on bare-metal targets: the text is decoded and pushed a
/// `char` at a time, so that `core::str::from_utf8` (about 600 bytes of
/// flash with its table) is not linked for the few bytes of an id.
#[cfg(target_os = "none")]
fn event_id(raw: &[u8]) -> Option<EventId> {
    event_id_by_char(raw)
}

/// The decoder behind the bare-metal [`event_id`] (also built for tests,
/// which check it against `core::str::from_utf8`). It refuses exactly what
/// `from_utf8` refuses: a bad lead or continuation byte, a truncated
/// sequence, and (through the re-encoded length and `char::from_u32`)
/// overlong forms, surrogates and code points above U+10FFFF.
#[cfg(any(target_os = "none", test))]
#[inline(never)]
fn event_id_by_char(raw: &[u8]) -> Option<EventId> {
    if raw.is_empty() {
        return None;
    }
    let mut id = EventId::new();
    let mut rest = raw;
    while let Some((&lead, tail)) = rest.split_first() {
        // Continuation bytes, and the code point bits of the lead byte.
        let (more, bits) = match lead {
            0x00..=0x7f => (0, lead),
            0xc0..=0xdf => (1, lead & 0x1f),
            0xe0..=0xef => (2, lead & 0x0f),
            0xf0..=0xf7 => (3, lead & 0x07),
            _ => return None,
        };
        let (continuation, after) = tail.split_at_checked(more)?;
        let mut code = u32::from(bits);
        for &b in continuation {
            if b & 0xc0 != 0x80 {
                return None;
            }
            code = (code << 6) | u32::from(b & 0x3f);
        }
        let c = char::from_u32(code)?;
        if c.len_utf8() != more + 1 {
            return None;
        }
        id.push(c).ok()?;
        rest = after;
    }
    Some(id)
}

/// A decimal from a JSON number or a numeric string, in register form.
#[cfg_attr(not(target_os = "none"), inline(always))]
fn decimal(value: &RawValue<'_>) -> Option<Parsed> {
    match value {
        #[cfg(not(target_os = "none"))]
        RawValue::Number(text, pre) => match pre.get() {
            // Read by the fast path already.
            Some(parsed) => Some(parsed),
            None => decimal_text(text),
        },
        #[cfg(target_os = "none")]
        RawValue::Number(text, _) => decimal_text(text),
        RawValue::String(s) if !s.has_escapes() => decimal_text(s.raw()),
        RawValue::String(s) => decimal_escaped(s),
        _ => None,
    }
}

/// [`Decimal::parse_parts`], with the host's fast path for short texts.
#[cfg_attr(not(target_os = "none"), inline(always))]
fn decimal_text(text: &[u8]) -> Option<Parsed> {
    #[cfg(not(target_os = "none"))]
    if let Some(parsed) = short_decimal(text) {
        return Some(parsed);
    }
    Decimal::parse_parts(text)
}

/// The host's fast path of [`Decimal::parse_parts`]: a text of at most 18
/// bytes without an exponent, `-?(0|[1-9][0-9]*)(\.[0-9]+)?`. Its digits,
/// 18 at most, are read into one integer (below 10^18, so within every
/// bound of `parse_parts`), then trailing fractional zeros are dropped: the
/// same shortest form `parse_parts` gives, in a simpler loop. `None` for
/// any other text, which `parse_parts` then reads (and judges).
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn short_decimal(text: &[u8]) -> Option<Parsed> {
    if text.len() > 18 {
        return None;
    }
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let mut m: u64 = 0;
    let mut dot = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => m = m * 10 + u64::from(b - b'0'),
            b'.' if dot.is_none() => dot = Some(i),
            _ => return None,
        }
    }
    let int_len = dot.unwrap_or(digits.len());
    // An integer part, without a leading zero (`0` alone is fine) ...
    if int_len == 0 || (int_len > 1 && digits.first() == Some(&b'0')) {
        return None;
    }
    // ... and, after a `.`, at least one digit.
    let mut scale = match dot {
        Some(at) if at + 1 == digits.len() => return None,
        Some(at) => digits.len() - at - 1,
        None => 0,
    };
    while scale > 0 && m.is_multiple_of(10) {
        m /= 10;
        scale -= 1;
    }
    // At most 18 digits: below 10^18 < 2^63, so the cast cannot wrap; a
    // zero has no sign and no places left.
    let m = m as i64;
    Some(Parsed {
        mantissa: if negative { -m } else { m },
        // scale < 18.
        scale: scale as u8,
    })
}

/// [`time::from_integer_bytes`] of a text whose digits the host's fast
/// path has read already, giving `v` (at most 18 digits: no overflow).
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn timestamp_of_integer(v: i64) -> Option<i64> {
    if v > time::MAX_MS {
        None
    } else if v < time::SECONDS_BELOW {
        // At most (10^11 - 1) * 1000 < MAX_MS.
        Some(v * 1000)
    } else {
        Some(v)
    }
}

/// [`decimal`] of a string with escapes (rare): decoded first.
#[inline(never)]
fn decimal_escaped(s: &JsonStr<'_>) -> Option<Parsed> {
    s.decode_bytes_to(&mut [0; DECIMAL_TEXT_CAP])
        .ok()
        .and_then(Decimal::parse_parts)
}

/// [`time::parse_timestamp_bytes`] of a string with escapes (rare): its
/// decoded text, less what cannot change the value, is read from a buffer
/// of [`TIMESTAMP_TEXT_CAP`] bytes. Left out are:
///
/// - the digits of a fraction after its third (milliseconds are truncated);
/// - zeros after a leading zero (`"0007"` reads as `"07"`: an integer with
///   leading zeros keeps its value, and RFC 3339 text cannot start with `0`
///   in the years 1970 to 9999, so `"00..."` is refused either way).
///
/// So the result is the one the whole decoded text would give, and a text
/// that still overflows the buffer is no timestamp.
#[inline(never)]
fn timestamp_escaped(s: &JsonStr<'_>) -> Option<i64> {
    let mut buf = [0; TIMESTAMP_TEXT_CAP];
    let mut len = 0;
    // In a fraction: 1 + its digits so far (saturating); else 0.
    let mut fraction = 0u8;
    for b in s.decoded_bytes() {
        let skip = if b.is_ascii_digit() {
            if fraction > 0 {
                fraction = fraction.saturating_add(1);
                fraction > 4
            } else {
                b == b'0' && buf[..len] == *b"0"
            }
        } else {
            fraction = u8::from(b == b'.');
            false
        };
        if !skip {
            *buf.get_mut(len)? = b;
            len += 1;
        }
    }
    time::parse_timestamp_bytes(&buf[..len])
}

#[cfg_attr(not(target_os = "none"), inline(always))]
fn positive(field: Field, value: &RawValue<'_>) -> Result<Parsed, Problem> {
    let d = decimal(value).ok_or(Problem::Invalid(field, DECIMAL_EXPECTED))?;
    if d.mantissa > 0 {
        Ok(d)
    } else {
        Err(Problem::Invalid(field, "a number greater than 0"))
    }
}

/// Length of the longest keyword (`take_profit`), in bytes: the buffer an
/// escaped keyword is decoded into.
const KEYWORD_CAP: usize = 11;

/// Case-insensitive match of the decoded text of a string value against a
/// short keyword list (none longer than [`KEYWORD_CAP`]); returns the index.
/// Escapes are decoded first (`"b\u0075y"` is `buy`); a text longer than
/// every keyword matches none.
#[cfg_attr(not(target_os = "none"), inline(always))]
fn keyword(value: &RawValue<'_>, words: &[&str]) -> Option<usize> {
    let mut buf = [0; KEYWORD_CAP];
    let text = text(value, &mut buf)?;
    words
        .iter()
        .position(|w| w.as_bytes().eq_ignore_ascii_case(text))
}

/// The values of the known fields, converted and checked for shape (not yet
/// for policy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    /// Normalized `BASE/QUOTE`.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Order type (default market).
    pub order_type: OrderType,
    /// Quantity in base units, > 0.
    pub quantity: Decimal,
    /// Limit price (> 0), if given.
    pub price: Option<Decimal>,
    /// Trigger price for stop/take-profit orders (> 0), if given.
    pub stop_price: Option<Decimal>,
    /// Signal confidence in [0, 1], if given.
    pub confidence: Option<Decimal>,
    /// Protective stop price (> 0), if given.
    pub stop_loss: Option<Decimal>,
    /// Take-profit price (> 0), if given.
    pub take_profit: Option<Decimal>,
    /// Alert time, Unix ms, if given.
    pub timestamp_ms: Option<i64>,
    /// The body's event id, if given.
    pub event_id: Option<EventId>,
    /// Place an order, or (a `cancel` alert) cancel working ones: then
    /// `side`, `order_type` and `quantity` carry no order (buy, market,
    /// 0) and the prices and bracket are absent.
    pub action: Action,
}

impl<'a> RawAlert<'a> {
    /// Scans the body once, keeping the value of each known field.
    ///
    /// Errors: `invalid_json`, `not_an_object`, `duplicate_field` (a key twice,
    /// or two aliases of one field).
    pub fn scan(body: &'a [u8]) -> Result<RawAlert<'a>, Rejection> {
        let mut raw = RawAlert::empty();
        raw.scan_in_place(body)?;
        Ok(raw)
    }

    /// No field seen yet, on bare-metal targets (see [`RawAlert::empty`]).
    #[cfg(target_os = "none")]
    const EMPTY: RawAlert<'a> = RawAlert {
        values: [RawValue::Null; FIELDS.len()],
    };

    /// No field seen yet, built where it is used. On the host a `Null`'s
    /// tag is not a zero byte (it lives in the niche of the fast path's
    /// [`Pre`](crate::decimal::Pre) flag), so the constant was copied in
    /// from read-only data (a 416-byte `memcpy` per alert); an array
    /// built at run time is one tag store per field. Bare-metal targets
    /// keep the constant (their firmware is sized with it).
    #[inline(always)]
    pub(crate) fn empty() -> RawAlert<'a> {
        #[cfg(not(target_os = "none"))]
        return RawAlert {
            values: [RawValue::Null; FIELDS.len()],
        };
        #[cfg(target_os = "none")]
        return RawAlert::EMPTY;
    }

    /// [`RawAlert::scan`] into `self` (which must be [`RawAlert::empty`]):
    /// the values are written where the caller keeps them, not returned
    /// (and copied) inside a `Result`. Out of line on bare-metal targets:
    /// inlined into the gate, it came out about 300 bytes larger on a
    /// Cortex-M.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline(never))]
    pub(crate) fn scan_in_place(&mut self, body: &'a [u8]) -> Result<(), Rejection> {
        // The host's fast path for the common shape (see
        // `json::scan_simple`); anything else is read again from the start
        // by the general scanner, which gives the result and the error.
        #[cfg(not(target_os = "none"))]
        {
            let mut collector = Collector {
                values: &mut self.values,
                spelling: [u8::MAX; FIELDS.len()],
                current: None,
                alias_repeat: false,
            };
            if json::scan_simple(body, &mut collector) {
                return Ok(());
            }
            *self = RawAlert::empty();
        }
        self.scan_general(body)
    }

    /// [`RawAlert::scan_in_place`] by the general scanner alone (the tests
    /// and the fuzz target compare the two). Inlined everywhere: on
    /// bare-metal targets it is the whole of `scan_in_place`.
    #[inline(always)]
    pub(crate) fn scan_general(&mut self, body: &'a [u8]) -> Result<(), Rejection> {
        let mut collector = Collector {
            values: &mut self.values,
            spelling: [u8::MAX; FIELDS.len()],
            current: None,
            alias_repeat: false,
        };
        json::scan_members(body, &mut collector).map_err(Rejection::from)
    }

    /// Whether the host's fast path and the general scanner read `body`
    /// alike: the same result (error included) and the same value, as the
    /// same span of the body, for every field. For the tests and the fuzz
    /// target.
    #[cfg(all(not(target_os = "none"), any(test, feature = "fuzzing")))]
    pub(crate) fn fast_path_agrees(body: &[u8]) -> bool {
        /// Same variant, same spans (address and length) of the body.
        fn same(a: &RawValue<'_>, b: &RawValue<'_>) -> bool {
            match (a, b) {
                (RawValue::Null, RawValue::Null) => true,
                (RawValue::Bool(x), RawValue::Bool(y)) => x == y,
                (RawValue::String(x), RawValue::String(y)) => {
                    core::ptr::eq(x.raw(), y.raw()) && x.decoded_len() == y.decoded_len()
                }
                // The general scanner reads no value in advance; what the
                // fast path read must be what the fields would read.
                (RawValue::Number(x, pre), RawValue::Number(y, _)) => {
                    let read = match pre.get() {
                        None => pre.integer().is_none(),
                        Some(d) => {
                            x.len() <= 18
                                && Some(d) == short_decimal(x)
                                && pre.integer().is_some() == x.iter().all(u8::is_ascii_digit)
                                && pre.integer().map(timestamp_of_integer)
                                    == pre.integer().map(|_| time::from_integer_bytes(x))
                        }
                    };
                    core::ptr::eq(*x, *y) && read
                }
                (RawValue::Object(x), RawValue::Object(y))
                | (RawValue::Array(x), RawValue::Array(y)) => core::ptr::eq(*x, *y),
                _ => false,
            }
        }
        let mut both = RawAlert::empty();
        let mut general = RawAlert::empty();
        both.scan_in_place(body) == general.scan_general(body)
            && both
                .values
                .iter()
                .zip(&general.values)
                .all(|(a, b)| same(a, b))
    }

    fn get(&self, field: Field) -> Option<&RawValue<'a>> {
        match &self.values[field as usize] {
            RawValue::Null => None,
            v => Some(v),
        }
    }

    fn required(&self, field: Field) -> Result<&RawValue<'a>, Problem> {
        self.get(field).ok_or(Problem::Missing(field))
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn optional_positive(&self, field: Field) -> Result<Option<Parsed>, Problem> {
        self.get(field).map(|v| positive(field, v)).transpose()
    }

    /// The body's `passphrase`, if present: a string (escapes undecoded)
    /// or, for a number, its text as written.
    ///
    /// [`Verifier::check_passphrase`](crate::auth::Verifier::check_passphrase)
    /// compares its decoded text with the secrets: `"pa\/ss"` and
    /// `"pa/ss"` are the same passphrase.
    pub fn passphrase(&self) -> Option<JsonStr<'a>> {
        match self.get(Field::Passphrase) {
            Some(RawValue::String(s)) => Some(*s),
            Some(RawValue::Number(text, _)) => Some(JsonStr::plain(text)),
            _ => None,
        }
    }

    /// Converts the known fields, in [`FIELDS`] order; `quotes` is the list of
    /// quote currencies used to split unseparated symbols.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    pub fn fields(&self, quotes: &[&str]) -> Result<Fields, Rejection> {
        self.convert(quotes)
            .map_err(|problem| self.rejection(problem))
    }

    /// A snippet of `field`'s value (`null` when absent), for a rejection.
    #[cold]
    #[inline(never)]
    fn value_of(&self, field: Field) -> Snippet {
        value_snippet(self.get(field).unwrap_or(&RawValue::Null))
    }

    /// The rejection for `problem` (see [`Problem`] for why it is built here).
    #[cold]
    #[inline(never)]
    fn rejection(&self, problem: Problem) -> Rejection {
        match problem {
            Problem::Missing(field) => Rejection::MissingField {
                field: field.name(),
            },
            Problem::Invalid(field, expected) => Rejection::InvalidField {
                field: field.name(),
                value: self.value_of(field),
                expected,
            },
            Problem::Symbol(expected) => {
                // The text `convert` read (and could not normalize).
                let mut buf = [0; SYMBOL_TEXT_CAP];
                let raw = self
                    .get(Field::Symbol)
                    .and_then(|v| text(v, &mut buf))
                    .unwrap_or_default();
                symbol::rejection_bytes(raw, expected)
            }
            Problem::MissingPrice(order_type, expected) => Rejection::MissingPrice {
                order_type: order_type.name(),
                expected,
            },
            Problem::OrderField(field) => Rejection::CancelWithOrderField {
                field: field.name(),
                value: self.value_of(field),
            },
            Problem::CancelOnOrder => Rejection::CancelOnOrder {
                value: self.value_of(Field::Cancel),
            },
        }
    }

    /// [`RawAlert::fields`], failing with a [`Problem`]. Out of line on
    /// bare-metal targets (about 300 bytes less flash on a Cortex-M than
    /// inlined into the gate).
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline(never))]
    fn convert(&self, quotes: &[&str]) -> Result<Fields, Problem> {
        let mut symbol_buf = [0; SYMBOL_TEXT_CAP];
        let raw_symbol = text(self.required(Field::Symbol)?, &mut symbol_buf)
            .ok_or(Problem::Invalid(Field::Symbol, SYMBOL_EXPECTED))?;
        let symbol = symbol::normalize_bytes(raw_symbol, quotes).map_err(Problem::Symbol)?;

        // A cancel alert (`"action": "cancel"`) takes the same path, so that
        // the firmware holds one conversion: it must carry no field of an
        // order (a template that mixes the two is refused, not half
        // obeyed), and its side, order type and quantity carry no order.
        let (side, cancel) = match keyword(self.required(Field::Side)?, &["buy", "sell", "cancel"])
        {
            Some(0) => (Side::Buy, false),
            Some(1) => (Side::Sell, false),
            Some(_) => (Side::Buy, true),
            None => return Err(Problem::Invalid(Field::Side, "buy, sell or cancel")),
        };
        if cancel {
            // One loop over a table: less flash than a check per field.
            const ORDER_FIELDS: [Field; 6] = [
                Field::OrderType,
                Field::Quantity,
                Field::Price,
                Field::StopPrice,
                Field::StopLoss,
                Field::TakeProfit,
            ];
            if let Some(&field) = ORDER_FIELDS.iter().find(|&&f| self.get(f).is_some()) {
                return Err(Problem::OrderField(field));
            }
        }

        let order_type = match self.get(Field::OrderType) {
            None => OrderType::Market,
            Some(v) => {
                // Two constant tables: the words are not copied out of
                // (word, type) pairs at run time.
                const WORDS: [&str; 5] = ["market", "limit", "stop_loss", "stop", "take_profit"];
                const TYPES: [OrderType; 5] = [
                    OrderType::Market,
                    OrderType::Limit,
                    OrderType::StopLoss,
                    OrderType::StopLoss,
                    OrderType::TakeProfit,
                ];
                match keyword(v, &WORDS).and_then(|i| TYPES.get(i)) {
                    Some(&order_type) => order_type,
                    None => {
                        return Err(Problem::Invalid(
                            Field::OrderType,
                            "market, limit, stop_loss (or stop) or take_profit",
                        ))
                    }
                }
            }
        };

        let quantity = match self.get(Field::Quantity) {
            Some(v) => positive(Field::Quantity, v)?,
            None if cancel => Parsed {
                mantissa: 0,
                scale: 0,
            },
            None => return Err(Problem::Missing(Field::Quantity)),
        };
        let price = self.optional_positive(Field::Price)?;
        let stop_price = self.optional_positive(Field::StopPrice)?;

        // Read on a cancel too, for its shape only: a cancel is never held
        // back for want of confidence (it only reduces risk). The order's
        // fields are absent on a cancel (checked above).
        let confidence = self.confidence()?;

        let stop_loss = self.optional_positive(Field::StopLoss)?;
        let take_profit = self.optional_positive(Field::TakeProfit)?;

        let timestamp_ms = self.timestamp()?;
        let event_id = self.event_id(Field::EventId)?;
        let action = if cancel {
            Action::Cancel(match self.event_id(Field::Cancel)? {
                Some(id) => CancelTarget::Event(id),
                None => CancelTarget::Symbol,
            })
        } else if self.get(Field::Cancel).is_some() {
            return Err(Problem::CancelOnOrder);
        } else {
            Action::Place
        };

        match order_type {
            OrderType::Limit if price.is_none() => {
                return Err(Problem::MissingPrice(order_type, "price"))
            }
            OrderType::StopLoss | OrderType::TakeProfit
                if stop_price.is_none() && price.is_none() =>
            {
                return Err(Problem::MissingPrice(order_type, "stop_price or price"))
            }
            _ => {}
        }

        Ok(Fields {
            symbol,
            side,
            order_type,
            // The decimals are kept in register form until here, and so
            // stored once, straight into the result: built earlier and moved
            // in, their unaligned 17 bytes were read back while still being
            // written (a store-forwarding stall per decimal on the host).
            quantity: quantity.decimal(),
            price: price.map(Parsed::decimal),
            stop_price: stop_price.map(Parsed::decimal),
            confidence: confidence.map(Parsed::decimal),
            stop_loss: stop_loss.map(Parsed::decimal),
            take_profit: take_profit.map(Parsed::decimal),
            timestamp_ms,
            event_id,
            action,
        })
    }

    /// The `confidence`, if present: a number from 0 to 1.
    // One call site: inlined on every target (out of line it cost
    // about 100 bytes more flash on a Cortex-M).
    #[inline(always)]
    fn confidence(&self) -> Result<Option<Parsed>, Problem> {
        let Some(v) = self.get(Field::Confidence) else {
            return Ok(None);
        };
        let c = decimal(v).ok_or(Problem::Invalid(Field::Confidence, DECIMAL_EXPECTED))?;
        if c.mantissa < 0 || c.above_one() {
            return Err(Problem::Invalid(Field::Confidence, "a number from 0 to 1"));
        }
        Ok(Some(c))
    }

    /// The `timestamp`, if present, in Unix ms.
    // One call site: inlined on every target (out of line it cost
    // about 100 bytes more flash on a Cortex-M).
    #[inline(always)]
    fn timestamp(&self) -> Result<Option<i64>, Problem> {
        let Some(v) = self.get(Field::Timestamp) else {
            return Ok(None);
        };
        let parsed = match v {
            #[cfg(not(target_os = "none"))]
            RawValue::Number(text, pre) => match pre.integer() {
                // Read by the fast path already.
                Some(v) => timestamp_of_integer(v),
                None => time::from_integer_bytes(text),
            },
            #[cfg(target_os = "none")]
            RawValue::Number(text, _) => time::from_integer_bytes(text),
            // Read in place, however long (any number of fraction
            // digits; the body's bound bounds the work).
            RawValue::String(s) if !s.has_escapes() => time::parse_timestamp_bytes(s.raw()),
            RawValue::String(s) => timestamp_escaped(s),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or(Problem::Invalid(Field::Timestamp, TIMESTAMP_EXPECTED))
    }

    /// An event id field (`event_id`, or `cancel`, which names one), if
    /// present: a non-empty string or a digits-only integer, of at most
    /// [`EVENT_ID_CAP`] bytes.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline(never))]
    fn event_id(&self, field: Field) -> Result<Option<EventId>, Problem> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let mut buf = [0; EVENT_ID_CAP];
        let raw = match v {
            // An integer as written: digits only (no sign, fraction or
            // exponent; JSON has no leading zeros), so that one number is
            // one id.
            RawValue::Number(text, _) if text.iter().all(u8::is_ascii_digit) => Some(*text),
            RawValue::Number(..) => None,
            _ => text(v, &mut buf),
        };
        match raw.and_then(event_id) {
            Some(id) => Ok(Some(id)),
            None => Err(Problem::Invalid(field, EVENT_ID_EXPECTED)),
        }
    }
}

/// What an event id field (`event_id`, `cancel`) takes.
const EVENT_ID_EXPECTED: &str = "a non-empty string or a digits-only integer, of at most 64 bytes";

/// Parses `body` into [`Fields`] in one call (no passphrase check, default
/// quote list). Exposed for tests, benches and fuzzing.
///
/// ```
/// use alertgate_validator::alert::{parse, Side};
/// let f = parse(br#"{"ticker":"BINANCE:BTCUSDT","action":"BUY","qty":"0.5","time":"2019-08-27T09:56:00Z"}"#).unwrap();
/// assert_eq!(f.symbol.as_str(), "BTC/USDT");
/// assert_eq!(f.side, Side::Buy);
/// assert_eq!(f.timestamp_ms, Some(1_566_899_760_000));
/// ```
pub fn parse(body: &[u8]) -> Result<Fields, Rejection> {
    let mut raw = RawAlert::empty();
    raw.scan_in_place(body)?;
    raw.fields(symbol::DEFAULT_QUOTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{literal, text_char};
    use proptest::prelude::*;

    fn code(body: &str) -> &'static str {
        match parse(body.as_bytes()) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn sides_and_order_types_serialize_as_their_names_and_read_back() {
        for side in [Side::Buy, Side::Sell] {
            let json = serde_json::to_string(&side).unwrap();
            assert_eq!(json, format!("\"{}\"", side.name()));
            assert_eq!(serde_json::from_str::<Side>(&json).unwrap(), side);
        }
        for t in [
            OrderType::Market,
            OrderType::Limit,
            OrderType::StopLoss,
            OrderType::TakeProfit,
        ] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
            assert_eq!(serde_json::from_str::<OrderType>(&json).unwrap(), t);
        }
        // Exactly the names: aliases and other spellings are the gate's.
        for bad in ["\"BUY\"", "\"long\"", "0"] {
            assert!(serde_json::from_str::<Side>(bad).is_err(), "{bad}");
        }
        for bad in ["\"stop\"", "\"Limit\"", "\"iceberg\""] {
            assert!(serde_json::from_str::<OrderType>(bad).is_err(), "{bad}");
        }
    }

    const BASE: &str = r#""symbol":"BTCUSDT","side":"buy","quantity":0.1"#;

    fn with(extra: &str) -> heapless::String<512> {
        let mut s = heapless::String::new();
        s.push('{').unwrap();
        s.push_str(BASE).unwrap();
        if !extra.is_empty() {
            s.push(',').unwrap();
            s.push_str(extra).unwrap();
        }
        s.push('}').unwrap();
        s
    }

    #[test]
    fn reads_the_sample_alert() {
        let body = br#"{"symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":0.1,"confidence":0.85,"stop_loss":66000.0,"take_profit":69000.0,"timestamp":1699113600000}"#;
        let f = parse(body).unwrap();
        assert_eq!(f.symbol.as_str(), "BTC/USDT");
        assert_eq!(f.side, Side::Buy);
        assert_eq!(f.order_type, OrderType::Market);
        assert_eq!(f.quantity, Decimal::parse("0.1").unwrap());
        assert_eq!(f.confidence, Decimal::parse("0.85"));
        assert_eq!(f.stop_loss, Decimal::parse("66000"));
        assert_eq!(f.take_profit, Decimal::parse("69000"));
        assert_eq!(f.timestamp_ms, Some(1_699_113_600_000));
        assert_eq!(f.price, None);
        assert_eq!(f.event_id, None);
    }

    #[test]
    fn aliases_and_strings() {
        let f = parse(
            br#"{"ticker":"btc-usdt","action":"Sell","type":"LIMIT","contracts":"2","price":"100.5","time":1566899760,"id":42}"#,
        )
        .unwrap();
        assert_eq!(f.side, Side::Sell);
        assert_eq!(f.order_type, OrderType::Limit);
        assert_eq!(f.quantity, Decimal::parse("2").unwrap());
        assert_eq!(f.price, Decimal::parse("100.5"));
        assert_eq!(f.timestamp_ms, Some(1_566_899_760_000));
        assert_eq!(f.event_id.as_deref(), Some("42"));
    }

    #[test]
    fn escaped_keys_and_values_are_decoded() {
        let f = parse(br#"{"sym\u0062ol":"ETH\u002fUSDT","side":"buy","quantity":1}"#).unwrap();
        assert_eq!(f.symbol.as_str(), "ETH/USDT");
    }

    #[test]
    fn duplicate_aliases_are_rejected() {
        assert_eq!(code(&with(r#""ticker":"ETHUSDT""#)), "duplicate_field");
        assert_eq!(code(&with(r#""qty":1"#)), "duplicate_field");
        let e = parse(with(r#""contracts":1"#).as_bytes()).unwrap_err();
        assert_eq!(
            e,
            Rejection::DuplicateField {
                field: snippet(b"contracts")
            }
        );
    }

    #[test]
    fn missing_and_invalid_fields_name_the_field() {
        assert_eq!(
            parse(br#"{"side":"buy","quantity":1}"#).unwrap_err(),
            Rejection::MissingField { field: "symbol" }
        );
        assert_eq!(
            parse(br#"{"symbol":"BTCUSDT","quantity":1}"#).unwrap_err(),
            Rejection::MissingField { field: "side" }
        );
        assert_eq!(
            parse(br#"{"symbol":"BTCUSDT","side":"buy"}"#).unwrap_err(),
            Rejection::MissingField { field: "quantity" }
        );
        let e = parse(br#"{"symbol":"BTCUSDT","side":"hold","quantity":1}"#).unwrap_err();
        assert_eq!(
            e,
            Rejection::InvalidField {
                field: "side",
                value: snippet(b"\"hold\""),
                expected: "buy, sell or cancel"
            }
        );
        for (extra, field) in [
            (r#""quantity":-1"#, "quantity"),
            (r#""quantity":0"#, "quantity"),
            (r#""quantity":"abc""#, "quantity"),
            (r#""quantity":true"#, "quantity"),
            (r#""quantity":"+1""#, "quantity"),
            (r#""quantity":1e30"#, "quantity"),
            (r#""price":0"#, "price"),
            (r#""confidence":1.01"#, "confidence"),
            (r#""confidence":-0.1"#, "confidence"),
            (r#""timestamp":"yesterday""#, "timestamp"),
            (r#""timestamp":-5"#, "timestamp"),
            (r#""order_type":"iceberg""#, "order_type"),
            (r#""event_id":"""#, "event_id"),
            (r#""event_id":{"a":1}"#, "event_id"),
        ] {
            let body = if field == "quantity" {
                let mut s = heapless::String::<512>::new();
                s.push_str(r#"{"symbol":"BTCUSDT","side":"buy","#).unwrap();
                s.push_str(extra).unwrap();
                s.push('}').unwrap();
                s
            } else {
                with(extra)
            };
            match parse(body.as_bytes()) {
                Err(Rejection::InvalidField { field: f, .. }) => assert_eq!(f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn over_long_strings_are_field_errors() {
        let long = [b'A'; 100];
        let mut body = heapless::String::<512>::new();
        body.push_str(r#"{"symbol":""#).unwrap();
        body.push_str(core::str::from_utf8(&long).unwrap()).unwrap();
        body.push_str(r#"","side":"buy","quantity":1}"#).unwrap();
        assert!(matches!(
            parse(body.as_bytes()),
            Err(Rejection::InvalidField {
                field: "symbol",
                ..
            })
        ));
        let mut body = with("");
        body.pop();
        body.push_str(r#","event_id":""#).unwrap();
        body.push_str(core::str::from_utf8(&long[..65]).unwrap())
            .unwrap();
        body.push_str(r#""}"#).unwrap();
        assert!(matches!(
            parse(body.as_bytes()),
            Err(Rejection::InvalidField {
                field: "event_id",
                ..
            })
        ));
    }

    /// The `expected` text of the rejection of `body`, which must be an
    /// `invalid_field` for `field`.
    fn expected_for(body: &str, field: &str) -> &'static str {
        match parse(body.as_bytes()) {
            Err(Rejection::InvalidField {
                field: f, expected, ..
            }) if f == field => expected,
            other => panic!("{body}: {other:?}"),
        }
    }

    /// `"timestamp":` and `text` as a JSON string, with every `.`, `0` and
    /// `Z` escaped when `escape`.
    fn timestamp_member(text: &str, escape: bool) -> std::string::String {
        let text: std::string::String = text
            .chars()
            .map(|c| match c {
                '.' | '0' | 'Z' if escape => format!("\\u{:04x}", u32::from(c)),
                c => c.to_string(),
            })
            .collect();
        format!(r#""timestamp":"{text}""#)
    }

    #[test]
    fn timestamp_strings_of_any_length() {
        for escape in [false, true] {
            let ts = |text: &str| parse(with(&timestamp_member(text, escape)).as_bytes());
            // Any number of fraction digits, truncated to the millisecond.
            for text in [
                "2023-11-04T16:00:00.12345678901234567890Z",
                "2023-11-04T16:00:00.1239999999999999999999999999999999999999999999999999Z",
                "2023-11-04T17:00:00.123999999999999999999999999999999999999999999+01:00",
            ] {
                assert_eq!(
                    ts(text).unwrap().timestamp_ms,
                    Some(1_699_113_600_123),
                    "{text}"
                );
            }
            // Leading zeros of an integer string.
            let zeros = format!("{}1699113600", "0".repeat(60));
            assert_eq!(ts(&zeros).unwrap().timestamp_ms, Some(1_699_113_600_000));
            assert_eq!(ts("00").unwrap().timestamp_ms, Some(0));
            // Still refused: what no length makes valid, and a leap second
            // anywhere but at the end of a month.
            for bad in [
                "2023-11-04T16:00:60Z",
                "02023-11-04T16:00:00Z",
                "002023-11-04T16:00:00Z",
                "2023-11-04T16:00:00.1234567890123456789012345678901234567890",
                "2023-11-04T16:00:00.123.4567890123456789012345678901234567890Z",
                "2023-11-04T16:00:00.1234567890123456789012345678901234567890Z0",
            ] {
                assert_eq!(
                    expected_for(&with(&timestamp_member(bad, escape)), "timestamp"),
                    TIMESTAMP_EXPECTED,
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn symbols_up_to_the_documented_bounds() {
        let symbol = |text: &str| format!(r#"{{"symbol":"{text}","side":"buy","quantity":1}}"#);
        let prefix = "A".repeat(symbol::MAX_EXCHANGE_LEN);
        let part = "B".repeat(symbol::MAX_PART_LEN);
        // A 32-character exchange prefix (the issue's example).
        let f = parse(symbol(&format!("{prefix}:BTCUSDT")).as_bytes()).unwrap();
        assert_eq!(f.symbol.as_str(), "BTC/USDT");
        // The longest text the rules allow: 68 bytes, read also with escapes.
        let longest = format!("{prefix}:{part}/{part}.P");
        assert_eq!(longest.len(), SYMBOL_TEXT_CAP);
        assert_eq!(SYMBOL_TEXT_CAP, 68, "SYMBOL_EXPECTED states it");
        let want = format!("{part}/{part}");
        for text in [
            longest.clone(),
            longest.replace('/', r"\/"),
            longest.replace('B', r"\u0042"),
        ] {
            let f = parse(symbol(&text).as_bytes()).unwrap();
            assert_eq!(f.symbol.as_str(), want, "{text}");
        }
        // One byte more, escaped or not: refused, saying the bound.
        let over = format!("{prefix}X:{part}/{part}.P");
        for text in [over.clone(), over.replace('/', r"\/")] {
            assert_eq!(expected_for(&symbol(&text), "symbol"), SYMBOL_EXPECTED);
            assert!(SYMBOL_EXPECTED.contains("at most 68 bytes"));
        }
        // Within 68 bytes, a 33-byte prefix is refused by the prefix rule.
        let e = expected_for(&symbol(&format!("{prefix}X:BTCUSDT")), "symbol");
        assert!(e.contains("1-32"), "{e}");
    }

    #[test]
    fn decimal_message_states_the_real_bounds() {
        assert!(DECIMAL_EXPECTED.ends_with(crate::decimal::BOUNDS));
        let quantity = |q: &str| format!(r#"{{"symbol":"BTCUSDT","side":"buy","quantity":{q}}}"#);
        for q in [
            "1e18",
            "\"1000000000000000000\"",
            "1234567890123456789",
            "1e-19",
            "\"1.0000000000000000001\"",
        ] {
            let e = expected_for(&quantity(q), "quantity");
            assert_eq!(e, DECIMAL_EXPECTED, "{q}");
            assert!(e.contains("below 10^18 in magnitude"));
        }
        for q in [
            "999999999999999999",
            "\"9.99999999999999999e17\"",
            "1e17",
            "0.000000000000000001",
        ] {
            assert!(parse(quantity(q).as_bytes()).is_ok(), "{q}");
        }
        assert_eq!(
            expected_for(&with(r#""confidence":1e18"#), "confidence"),
            DECIMAL_EXPECTED
        );
    }

    #[test]
    fn event_ids_are_strings_or_plain_non_negative_integers() {
        let id = |v: &str| parse(with(&format!(r#""event_id":{v}"#)).as_bytes());
        for (v, want) in [
            ("42", "42"),
            ("0", "0"),
            ("\"-5\"", "-5"),
            ("\"1e2\"", "1e2"),
            (
                "12345678901234567890123456789",
                "12345678901234567890123456789",
            ),
        ] {
            assert_eq!(id(v).unwrap().event_id.as_deref(), Some(want), "{v}");
        }
        let digits64 = "9".repeat(EVENT_ID_CAP);
        assert_eq!(
            id(&digits64).unwrap().event_id.as_deref(),
            Some(digits64.as_str())
        );
        for v in [
            "1e2",
            "1E2",
            "0.5",
            "-5",
            "-0",
            "1.0",
            "10e-1",
            &"9".repeat(EVENT_ID_CAP + 1),
        ] {
            let e = expected_for(&with(&format!(r#""event_id":{v}"#)), "event_id");
            assert_eq!(
                e, "a non-empty string or a digits-only integer, of at most 64 bytes",
                "{v}"
            );
        }
    }

    #[test]
    fn order_types_need_their_prices() {
        assert_eq!(code(&with(r#""order_type":"limit""#)), "missing_price");
        assert_eq!(code(&with(r#""order_type":"stop""#)), "missing_price");
        assert_eq!(
            code(&with(r#""order_type":"take_profit""#)),
            "missing_price"
        );
        assert_eq!(code(&with(r#""order_type":"limit","price":5"#)), "ok");
        assert_eq!(code(&with(r#""order_type":"stop","stop_price":5"#)), "ok");
        assert_eq!(code(&with(r#""order_type":"take_profit","price":5"#)), "ok");
    }

    #[test]
    fn nulls_are_absent_and_unknown_fields_skipped() {
        let f = parse(
            with(r#""price":null,"strategy":{"name":"x","nested":[1,2,{"a":null}]},"extra":"y""#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(f.price, None);
        assert_eq!(
            code(r#"{"symbol":null,"side":"buy","quantity":1}"#),
            "missing_field"
        );
    }

    #[test]
    fn run_time_signatures_match_const_ones() {
        let text = b"abcdefghijklmnopqrstu";
        for start in 0..4 {
            for n in 0..=17 {
                let b = &text[start..start + n];
                assert_eq!(sig_of(b), sig(b), "{n}");
            }
        }
    }

    #[test]
    fn packed_table_matches_fields() {
        for (i, (name, aliases)) in FIELDS.iter().enumerate() {
            assert_eq!(ORDER[i] as usize, i);
            assert_eq!(aliases[0], *name);
            assert_eq!(ORDER[i].packed_name(), *name);
            assert_eq!(ORDER[i].name(), *name);
        }
        let mut expected = std::string::String::new();
        for (_, aliases) in FIELDS {
            for alias in *aliases {
                expected.push(char::from(alias.len() as u8));
                expected.push_str(alias);
            }
            expected.push('\0');
        }
        assert_eq!(PACKED, expected);
    }

    #[test]
    fn key_table_matches_fields() {
        let mut spellings = std::collections::BTreeSet::new();
        for (i, (_, aliases)) in FIELDS.iter().enumerate() {
            for alias in *aliases {
                let (field, spelling) = Field::of_name(alias.as_bytes()).unwrap();
                assert_eq!(field as usize, i, "{alias}");
                assert!(spellings.insert(spelling), "{alias}");
                assert!(alias.len() <= LONGEST_ALIAS && spelling != u8::MAX);
            }
        }
        for near in [
            "",
            "i",
            "d",
            "di",
            "ids",
            "qt",
            "qtx",
            "Qty",
            "symbo",
            "symbols",
            "Symbol",
            "tickex",
            "side ",
            "timenox",
            "take_profix",
            "take_profit_",
            "xake_profit",
            "passphrasE",
            r"order_typ\u0065",
            "quantity\0",
        ] {
            assert_eq!(Field::of_name(near.as_bytes()), None, "{near}");
            assert_eq!(Field::search(near.as_bytes()), None, "{near}");
        }
        for (_, aliases) in FIELDS {
            for alias in *aliases {
                let name = alias.as_bytes();
                assert_eq!(Field::search(name), Field::of_name(name), "{alias}");
            }
        }
    }

    #[test]
    fn repeated_keys_keep_their_error_order() {
        // The same key twice is refused before its value is read ...
        assert_eq!(code(r#"{"side":"buy","side":01}"#), "duplicate_field");
        assert_eq!(
            parse(br#"{"side":"buy","\u0073ide":"sell"}"#).unwrap_err(),
            Rejection::DuplicateField {
                field: snippet(br"\u0073ide")
            }
        );
        assert_eq!(
            code(r#"{"sym\u0062ol":"X","symbol":"Y"}"#),
            "duplicate_field"
        );
        // ... another spelling of a field once its value has been read.
        assert_eq!(code(r#"{"side":"buy","action":01}"#), "invalid_json");
        assert_eq!(code(r#"{"side":"buy","action":"buy"}"#), "duplicate_field");
        // Unknown keys are still checked by the scanner.
        assert_eq!(code(&with(r#""x":1,"x":2"#)), "duplicate_field");
        assert_eq!(code(&with(r#""x":1,"\u0078":01"#)), "duplicate_field");
    }

    #[test]
    fn known_keys_count_towards_the_member_limit() {
        let mut body = std::string::String::from("{");
        for i in 0..json::MAX_MEMBERS - 3 {
            body.push_str(&format!("\"k{i}\":1,"));
        }
        body.push_str(BASE);
        assert_eq!(code(&format!("{body}}}")), "ok");
        assert_eq!(
            parse(format!(r#"{body},"price":1}}"#).as_bytes()).unwrap_err(),
            Rejection::InvalidJson {
                offset: body.len() + 1,
                reason: "more than 64 top-level members"
            }
        );
        // A repeat is reported before the bound.
        assert_eq!(code(&format!(r#"{body},"side":1}}"#)), "duplicate_field");
    }

    #[test]
    fn escaped_values_are_decoded_before_conversion() {
        let f = parse(
            br#"{"symbol":"BINANCE:btc\u0075sdt.P","side":"buy","quantity":"0\u002e5","timestamp":"2019-08-27T09:56:00\u005a","event_id":"caf\u00e9"}"#,
        )
        .unwrap();
        assert_eq!(f.symbol.as_str(), "BTC/USDT");
        assert_eq!(f.quantity, Decimal::parse("0.5").unwrap());
        assert_eq!(f.timestamp_ms, Some(1_566_899_760_000));
        assert_eq!(f.event_id.as_deref(), Some("caf\u{e9}"));
        // Non-ASCII text reaches the readers as validated UTF-8.
        assert_eq!(
            code("{\"symbol\":\"BTC\u{e9}USDT\",\"side\":\"buy\",\"quantity\":1}"),
            "invalid_field"
        );
        let f = parse(
            "{\"symbol\":\"BTCUSDT\",\"side\":\"buy\",\"quantity\":1,\"id\":\"\u{e9}t\u{e9}\"}"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(f.event_id.as_deref(), Some("\u{e9}t\u{e9}"));
    }

    #[test]
    fn escaped_keywords_are_decoded() {
        let parsed = |side: &str, order_type: &str| {
            let body = format!(
                r#"{{"symbol":"BTCUSDT","side":{side},"order_type":{order_type},"quantity":1,"price":2}}"#
            );
            parse(body.as_bytes()).map(|f| (f.side, f.order_type))
        };
        use OrderType::*;
        for (side, order_type, want) in [
            (r#""b\u0075y""#, r#""market""#, (Side::Buy, Market)),
            (r#""S\u0045LL""#, r#""\u004CIMIT""#, (Side::Sell, Limit)),
            (
                r#""\u0062\u0055\u0079""#,
                r#""st\u006fp""#,
                (Side::Buy, StopLoss),
            ),
            (
                r#""sel\u006C""#,
                r#""stop\u005floss""#,
                (Side::Sell, StopLoss),
            ),
            // The longest keyword, every character escaped.
            (
                r#""buy""#,
                r#""\u0074\u0061\u006b\u0065\u005f\u0070\u0072\u006f\u0066\u0069\u0074""#,
                (Side::Buy, TakeProfit),
            ),
        ] {
            assert_eq!(parsed(side, order_type), Ok(want), "{side} {order_type}");
        }
        // `"action"` and `"type"` are the same fields.
        let f = parse(
            br#"{"symbol":"BTCUSDT","action":"S\u0045LL","type":"m\u0061rket","quantity":1}"#,
        )
        .unwrap();
        assert_eq!((f.side, f.order_type), (Side::Sell, Market));
        // A decoded text that is no keyword is refused, the value shown as
        // sent.
        for (side, order_type, field) in [
            (r#""b\u0075yy""#, r#""market""#, "side"),
            (r#""b\u0075""#, r#""market""#, "side"),
            (r#""b\\u0075y""#, r#""market""#, "side"),
            (r#""\u0062uy\u0000""#, r#""market""#, "side"),
            (r#""buy""#, r#""take_profit\u0020""#, "order_type"),
            (r#""buy""#, r#""\u006darketmarket""#, "order_type"),
        ] {
            let value = if field == "side" { side } else { order_type };
            let expected = if field == "side" {
                "buy, sell or cancel"
            } else {
                "market, limit, stop_loss (or stop) or take_profit"
            };
            assert_eq!(
                parsed(side, order_type),
                Err(Rejection::InvalidField {
                    field,
                    value: snippet(value.as_bytes()),
                    expected,
                })
            );
        }
    }

    #[test]
    fn json_level_errors_come_first() {
        assert_eq!(code("[]"), "not_an_object");
        assert_eq!(code("{"), "invalid_json");
        assert_eq!(code(r#"{"side":"x","side":"y"}"#), "duplicate_field");
        assert_eq!(code(&with(r#""price":01"#)), "invalid_json");
    }

    /// The host's [`event_id`] (`from_utf8`), as the reference.
    fn event_id_reference(raw: &[u8]) -> Option<EventId> {
        let text = core::str::from_utf8(raw).ok()?;
        let mut id = EventId::new();
        (!text.is_empty() && id.push_str(text).is_ok()).then_some(id)
    }

    #[test]
    fn event_id_by_char_edge_cases() {
        for raw in [
            &b""[..],
            b"a",
            "é€😀".as_bytes(),
            &[b'x'; 32],
            &[b'x'; 33],
            &[b'x'; 64],
            &[b'x'; 65],
            b"\x7f\x00",
            b"\x80",
            b"\xc0\x80",         // overlong NUL
            b"\xe0\x80\x80",     // overlong
            b"\xed\xa0\x80",     // surrogate
            b"\xf4\x90\x80\x80", // above U+10FFFF
            b"\xf8\x88\x80\x80\x80",
            b"\xe2\x82",  // truncated
            b"\xe2\x82a", // bad continuation
        ] {
            assert_eq!(event_id_by_char(raw), event_id_reference(raw), "{raw:?}");
            assert_eq!(event_id(raw), event_id_reference(raw), "{raw:?}");
        }
        // 64 bytes fit exactly, also when the last character is multi-byte.
        let mut fits = [b'x'; 64];
        fits[60..].copy_from_slice("😀".as_bytes());
        assert_eq!(event_id_by_char(&fits).unwrap().len(), 64);
        let mut over = [b'x'; 65];
        over[61..].copy_from_slice("😀".as_bytes());
        assert_eq!(event_id_by_char(&over), None);
    }

    /// Whether the fast path alone reads `body` (into a collector like
    /// `scan_in_place`'s).
    fn fast_path_takes(body: &[u8]) -> bool {
        let mut raw = RawAlert::empty();
        let mut collector = Collector {
            values: &mut raw.values,
            spelling: [u8::MAX; FIELDS.len()],
            current: None,
            alias_repeat: false,
        };
        json::scan_simple(body, &mut collector)
    }

    #[test]
    fn fast_path_takes_the_common_shape_only() {
        let sample = br#"{"symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":0.1,"price":67500.0,"confidence":0.85,"stop_loss":66000.0,"take_profit":69000.0,"timestamp":1699113600000,"event_id":"sma-x:1699113600"}"#;
        for body in [
            &sample[..],
            b"{}",
            b" \t\r\n{ } \n",
            br#" { "symbol" : "BTCUSDT" , "side":"buy","quantity" : -0 , "x":true,"y":false,"z":null } "#,
            br#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"symbol":"X"}"#,
            br#"{"n":0,"m":-1.25,"k":"","id":10}"#,
        ] {
            assert!(fast_path_takes(body), "{}", String::from_utf8_lossy(body));
            assert!(RawAlert::fast_path_agrees(body));
        }
        for body in [
            &b""[..],
            b"[]",
            b"{",
            b"{} x",
            br#"{"a":1,}"#,
            br#"{"a\u0062":1}"#,
            br#"{"a":"\n"}"#,
            "{\"a\":\"\u{e9}\"}".as_bytes(),
            b"{\"a\":\"\x7f\x01\"}",
            br#"{"a":{}}"#,
            br#"{"a":[]}"#,
            br#"{"a":1e5}"#,
            br#"{"a":01}"#,
            br#"{"a":1.}"#,
            br#"{"a":-}"#,
            br#"{"a":tru}"#,
            br#"{"a":1,"a":2}"#,
            br#"{"side":"buy","side":"sell"}"#,
            br#"{"qty":1,"quantity":2}"#,
            br#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}"#,
            br#"{"a" 1}"#,
            br#"{"a":1 "b":2}"#,
        ] {
            assert!(!fast_path_takes(body), "{}", String::from_utf8_lossy(body));
            assert!(RawAlert::fast_path_agrees(body));
        }
        // Not taken, and the general scanner's verdict stands.
        assert_eq!(code(r#"{"side":"buy","side":"sell"}"#), "duplicate_field");
        assert_eq!(
            code(
                r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"symbol":"BTCUSDT","side":"buy","quantity":1}"#
            ),
            "ok"
        );
    }

    /// A key: mostly known spellings, some unknown ones (few, so they
    /// repeat), now and then escaped or non-ASCII.
    fn near_key() -> impl Strategy<Value = String> {
        let known: Vec<String> = FIELDS
            .iter()
            .flat_map(|(_, aliases)| aliases.iter().map(|a| format!("\"{a}\"")))
            .collect();
        prop_oneof![
            6 => prop::sample::select(known),
            3 => "\"[a-d]{1,2}\"",
            1 => Just("\"s\\u0079mbol\"".to_string()),
            1 => Just("\"caf\u{e9}\"".to_string()),
        ]
    }

    /// A value: mostly what the fast path takes, sometimes what it leaves.
    fn near_value() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "\"[A-Za-z0-9:/._ -]{0,12}\"",
            4 => "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,20})?",
            1 => "-?[0-9]{1,3}([eE][+-]?[0-9]{1,3})?",
            1 => prop::sample::select(vec!["true", "false", "null", "tru", "nul", "1.", "-", "01"])
                .prop_map(str::to_string),
            1 => prop::sample::select(vec![
                "{}", "[]", "{\"a\":[1,{\"b\":null}]}", "[\"x\",2]", "\"a\\nb\"",
                "\"\\u00e9\"", "\"\u{e9}\u{20ac}\"", "\"\x7f\"",
            ])
            .prop_map(str::to_string),
        ]
    }

    /// Optional whitespace, mostly none.
    fn near_ws() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => Just(String::new()),
            1 => prop::sample::select(vec![" ", "\t", "\n", "\r", " \r\n  "]).prop_map(str::to_string),
        ]
    }

    /// An alert-like object, as text.
    fn near_alert() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(
                (
                    near_ws(),
                    near_key(),
                    near_ws(),
                    near_ws(),
                    near_value(),
                    near_ws(),
                ),
                0..14,
            ),
            near_ws(),
            near_ws(),
        )
            .prop_map(|(members, before, after)| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(a, k, b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"))
                    .collect();
                format!("{before}{{{}}}{after}", members.join(","))
            })
    }

    /// An alert that mostly converts: the required fields (any spelling),
    /// then a few other members, whitespace here and there.
    fn good_alert() -> impl Strategy<Value = String> {
        let pick = |v: &[&'static str]| prop::sample::select(v.to_vec());
        (
            (
                pick(&["symbol", "ticker"]),
                pick(&[
                    "BTC/USDT",
                    "BTC/USDT",
                    "btcusdt",
                    "BINANCE:ETHUSDT.P",
                    "ETH-BTC",
                    "BTC/",
                    "A/B/C",
                ]),
                pick(&["side", "action"]),
                pick(&["buy", "buy", "SELL", "hold"]),
                pick(&["quantity", "qty", "contracts"]),
                pick(&[
                    "0.1",
                    "0.1",
                    "\"2\"",
                    "0",
                    "-1",
                    "1234567890123456789",
                    "1.5e2",
                ]),
            ),
            prop::collection::vec((near_ws(), near_key(), near_ws(), near_value()), 0..3),
            near_ws(),
        )
            .prop_map(|((sk, sv, dk, dv, qk, qv), extra, ws)| {
                let mut members = vec![
                    format!("{ws}\"{sk}\":{ws}\"{sv}\""),
                    format!("\"{dk}\":\"{dv}\"{ws}"),
                    format!("\"{qk}\":{qv}"),
                ];
                members.extend(
                    extra
                        .into_iter()
                        .map(|(a, k, b, v)| format!("{a}{k}{b}:{v}")),
                );
                format!("{{{}}}{ws}", members.join(","))
            })
    }

    /// A keyword in any case, now and then with one character more, or
    /// any text.
    fn near_keyword() -> impl Strategy<Value = String> {
        let word = (
            prop::sample::select(vec![
                "buy",
                "sell",
                "market",
                "limit",
                "stop_loss",
                "stop",
                "take_profit",
            ]),
            any::<u16>(),
            prop::sample::select(vec!["", "", "", "s", " ", "\u{e9}", "\0"]),
        )
            .prop_map(|(word, upper, extra)| {
                let mut s: String = word
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if (upper >> i) & 1 == 1 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect();
                s.push_str(extra);
                s
            });
        prop_oneof![
            3 => word,
            1 => proptest::collection::vec(text_char(), 0..14).prop_map(String::from_iter),
        ]
    }

    /// Whether `text` is `-?(0|[1-9][0-9]*)(\.[0-9]+)?`.
    fn regex_lite_plain(text: &str) -> bool {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (digits, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        all_digits(int) && (int == "0" || !int.starts_with('0')) && frac.is_none_or(all_digits)
    }

    #[test]
    fn short_decimal_examples() {
        for text in [
            "0",
            "-0",
            "0.0",
            "-0.000",
            "0.1",
            "67500.0",
            "66000",
            "0.85",
            "-12.340",
            "999999999999999999",
            "0.0000000000000001",
            "-999999999999999.9",
        ] {
            let fast = short_decimal(text.as_bytes());
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, Decimal::parse_parts(text.as_bytes()), "{text}");
        }
        for text in [
            "",
            "-",
            "01",
            "-01",
            "00",
            "1.",
            ".5",
            "+1",
            "1e5",
            "1.2.3",
            "1-",
            "--1",
            " 1",
            "0x1",
            "1999999999999999999",
            "0.000000000000000001",
        ] {
            assert_eq!(short_decimal(text.as_bytes()), None, "{text}");
        }
    }

    /// What the fast path reads of a number in advance does not make a
    /// value (or `RawAlert`) any larger.
    #[test]
    fn raw_values_stay_four_words() {
        assert_eq!(
            core::mem::size_of::<RawValue<'_>>(),
            4 * core::mem::size_of::<usize>()
        );
    }

    /// The fast path reads `doc` as the general scanner does, and so does
    /// the whole conversion.
    fn fast_path_agrees_whole(doc: &str) -> Result<(), TestCaseError> {
        prop_assert!(RawAlert::fast_path_agrees(doc.as_bytes()), "{}", doc);
        let mut raw = RawAlert::empty();
        let general = raw
            .scan_general(doc.as_bytes())
            .and_then(|()| raw.fields(symbol::DEFAULT_QUOTES));
        prop_assert_eq!(parse(doc.as_bytes()), general);
        Ok(())
    }

    proptest! {
        /// Whatever the fast path reads, `parse_parts` reads alike.
        #[test]
        fn short_decimal_agrees_with_parse_parts(
            text in prop_oneof![
                "-?(0|[1-9][0-9]{0,19})(\\.[0-9]{1,19})?",
                "-?[0-9.]{0,20}",
                "[-+0-9.eE ]{0,12}",
            ]
        ) {
            if let Some(fast) = short_decimal(text.as_bytes()) {
                prop_assert_eq!(Some(fast), Decimal::parse_parts(text.as_bytes()), "{}", text);
            } else if text.len() <= 18 {
                // Short texts it leaves are not plain decimals.
                let plain = regex_lite_plain(&text);
                prop_assert!(!plain, "{}", text);
            }
        }

        #[test]
        fn fast_path_agrees_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert!(RawAlert::fast_path_agrees(&bytes));
        }

        #[test]
        fn fast_path_agrees_on_near_alerts(doc in near_alert()) {
            fast_path_agrees_whole(&doc)?;
        }

        #[test]
        fn fast_path_agrees_on_good_alerts(doc in good_alert()) {
            fast_path_agrees_whole(&doc)?;
        }

        #[test]
        fn fast_path_agrees_on_edited_alerts(
            doc in near_alert(),
            at in any::<usize>(),
            op in any::<u8>(),
            byte in prop::sample::select(b"{}[]\",:0-+.eE \t\x01\\u/xtn\x7f\x80\xc3\xff".to_vec()),
        ) {
            prop_assert!(RawAlert::fast_path_agrees(&crate::json::tests::mutate(&doc, at, op, byte)));
        }

        /// What the fast path reads of a number while scanning it is what
        /// the fields would read of its text.
        #[test]
        fn pre_read_numbers_agree_with_their_text(
            text in prop_oneof![
                "-?(0|[1-9][0-9]{0,19})(\\.[0-9]{1,19})?",
                "-?(0|[1-9][0-9]{0,2})(\\.[0-9]{0,3}0{1,4})?",
                "[1-9][0-9]{8,17}",
            ]
        ) {
            let doc = format!("{{\"price\":{text},\"timestamp\":{text}}}");
            let mut raw = RawAlert::empty();
            let mut collector = Collector {
                values: &mut raw.values,
                spelling: [u8::MAX; FIELDS.len()],
                current: None,
                alias_repeat: false,
            };
            let simple = json::scan_simple(doc.as_bytes(), &mut collector);
            prop_assert!(simple);
            let Some(RawValue::Number(x, pre)) = raw.get(Field::Price) else {
                return Err(TestCaseError::fail("not a number"));
            };
            prop_assert_eq!(*x, text.as_bytes());
            if text.len() <= 18 {
                prop_assert_eq!(pre.get(), short_decimal(x));
                prop_assert_eq!(pre.get(), Decimal::parse_parts(x));
            } else {
                prop_assert_eq!(pre.get(), None);
            }
            if let Some(v) = pre.integer() {
                prop_assert_eq!(timestamp_of_integer(v), time::from_integer_bytes(x));
            } else if text.len() <= 18 {
                prop_assert!(!x.iter().all(u8::is_ascii_digit));
            }
            prop_assert!(RawAlert::fast_path_agrees(doc.as_bytes()));
        }

        /// However a keyword is escaped, the alert reads as it does with
        /// the keyword written plainly, and that reading is the keyword's.
        #[test]
        fn escaping_keywords_changes_nothing(
            side in near_keyword(),
            order_type in near_keyword(),
            hows in proptest::collection::vec(0u8..4, 32),
        ) {
            let read = |side: &str, order_type: &str| {
                let body = format!(
                    r#"{{"symbol":"BTCUSDT","side":{side},"type":{order_type},"quantity":1,"price":2}}"#
                );
                parse(body.as_bytes()).map_err(|e| e.code())
            };
            let plain = read(
                &serde_json::to_string(&side).unwrap(),
                &serde_json::to_string(&order_type).unwrap(),
            );
            let escaped = read(&literal(&side, &hows), &literal(&order_type, &hows[16..]));
            prop_assert_eq!(&plain, &escaped);
            let side = side.to_ascii_lowercase();
            let want_side = ["buy", "sell"].iter().position(|w| *w == side);
            match (&plain, want_side) {
                (Ok(f), Some(i)) => prop_assert_eq!(f.side, [Side::Buy, Side::Sell][i]),
                (Err(e), None) => prop_assert_eq!(*e, "invalid_field"),
                (Ok(_), None) => prop_assert!(false, "accepted side {:?}", side),
                (Err(_), Some(_)) => {}
            }
            if let Ok(f) = &plain {
                let word = order_type.to_ascii_lowercase();
                prop_assert!(
                    word == f.order_type.name() || (word == "stop" && f.order_type == OrderType::StopLoss),
                    "{} read as {:?}", word, f.order_type
                );
            }
        }

        /// A timestamp string reads as its text does, however long and
        /// however escaped.
        #[test]
        fn timestamp_strings_read_as_their_text(
            text in prop_oneof![
                "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,60})?(Z|[+-][0-9]{2}:[0-9]{2})",
                "(20[0-9]{2}-(0[1-9]|1[0-2])-[0-2][1-9]T[01][0-9]:[0-5][0-9]:[0-5][0-9])(\\.[0-9]{0,60})?(Z|\\+0[0-9]:[0-5][0-9])",
                "0{0,60}[0-9]{0,16}",
                "[0-9.:TZ+-]{0,60}",
                "0{0,3}[.0-9]{0,5}(20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]{0,12}Z?)?",
            ],
            escaped in proptest::collection::vec(any::<bool>(), 0..80),
        ) {
            // Escape some characters, as `\u00XX`.
            let mut json = std::string::String::new();
            for (i, c) in text.chars().enumerate() {
                if escaped.get(i).copied().unwrap_or(false) {
                    json.push_str(&format!("\\u{:04x}", u32::from(c)));
                } else {
                    json.push(c);
                }
            }
            let body = with(&format!(r#""timestamp":"{json}""#));
            match (parse(body.as_bytes()), time::parse_timestamp(&text)) {
                (Ok(f), Some(ms)) => prop_assert_eq!(f.timestamp_ms, Some(ms)),
                (Err(Rejection::InvalidField { field: "timestamp", .. }), None) => {}
                (got, want) => prop_assert!(false, "{}: {:?} vs {:?}", text, got, want),
            }
        }

        #[test]
        fn event_id_by_char_agrees_with_from_utf8(
            raw in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..80),
                "\\PC{0,40}".prop_map(String::into_bytes),
            ]
        ) {
            prop_assert_eq!(event_id_by_char(&raw), event_id_reference(&raw));
            prop_assert_eq!(event_id(&raw), event_id_reference(&raw));
        }
    }

    const CANCEL: &str = r#""symbol":"BTCUSDT","action":"cancel""#;

    fn cancel_with(extra: &str) -> std::string::String {
        if extra.is_empty() {
            format!("{{{CANCEL}}}")
        } else {
            format!("{{{CANCEL},{extra}}}")
        }
    }

    #[test]
    fn a_cancel_names_its_target_or_the_symbol_and_places_nothing() {
        for (extra, target) in [
            (
                r#""cancel":"e-17""#,
                CancelTarget::Event(EventId::try_from("e-17").unwrap()),
            ),
            (
                r#""cancel_id":42"#,
                CancelTarget::Event(EventId::try_from("42").unwrap()),
            ),
            (
                r#""c\u0061ncel":"x""#,
                CancelTarget::Event(EventId::try_from("x").unwrap()),
            ),
            ("", CancelTarget::Symbol),
            (r#""cancel":null"#, CancelTarget::Symbol),
        ] {
            let f = parse(cancel_with(extra).as_bytes()).unwrap();
            assert_eq!(f.action, Action::Cancel(target), "{extra}");
            assert_eq!(f.symbol.as_str(), "BTC/USDT");
            assert_eq!((f.side, f.order_type), (Side::Buy, OrderType::Market));
            assert_eq!(f.quantity, Decimal::ZERO, "{extra}");
        }
        // `side` spells it too, in any case; a timestamp and an event id
        // of its own are read as for any alert.
        let f = parse(
            br#"{"ticker":"ETHUSDT","side":"CANCEL","cancel":"a","time":1566899760,"id":"c1","confidence":0.1}"#,
        )
        .unwrap();
        assert!(!f.action.is_place());
        assert_eq!(f.timestamp_ms, Some(1_566_899_760_000));
        assert_eq!(f.event_id.as_deref(), Some("c1"));
        // Orders are unchanged.
        assert_eq!(parse(with("").as_bytes()).unwrap().action, Action::Place);
    }

    #[test]
    fn a_malformed_cancel_target_is_an_invalid_field_naming_it() {
        for value in [
            "\"\"",
            "-1",
            "1.5",
            "1e3",
            "true",
            "[1]",
            &format!("\"{}\"", "a".repeat(65)),
        ] {
            let e = parse(cancel_with(&format!(r#""cancel":{value}"#)).as_bytes()).unwrap_err();
            let Rejection::InvalidField {
                field, expected, ..
            } = &e
            else {
                panic!("{value}: {e:?}");
            };
            assert_eq!(
                (*field, *expected),
                ("cancel", EVENT_ID_EXPECTED),
                "{value}"
            );
            assert_eq!(e.code(), "invalid_field");
            assert!(e.to_string().contains("\"cancel\""), "{e}");
        }
        // Both spellings at once are one field twice.
        assert_eq!(
            code(&cancel_with(r#""cancel":"a","cancel_id":"b""#)),
            "duplicate_field"
        );
    }

    #[test]
    fn a_cancel_with_a_field_of_an_order_is_refused_naming_it() {
        for (extra, field, value) in [
            (r#""quantity":1"#, "quantity", "1"),
            (r#""qty":"0.5""#, "quantity", "\"0.5\""),
            (r#""price":100"#, "price", "100"),
            (r#""stop_price":99"#, "stop_price", "99"),
            (r#""type":"limit""#, "order_type", "\"limit\""),
            (r#""stop_loss":90"#, "stop_loss", "90"),
            (r#""take_profit":110"#, "take_profit", "110"),
            // Even a value the field would refuse: the mix is the error.
            (r#""quantity":-1"#, "quantity", "-1"),
        ] {
            let e = parse(cancel_with(extra).as_bytes()).unwrap_err();
            assert_eq!(
                e,
                Rejection::CancelWithOrderField {
                    field,
                    value: snippet(value.as_bytes())
                },
                "{extra}"
            );
            assert_eq!((e.code(), e.status()), ("cancel_with_order_field", 422));
            let message = e.to_string();
            assert!(
                message.contains(field) && message.contains(value),
                "{message}"
            );
        }
    }

    #[test]
    fn a_cancel_field_on_a_buy_or_sell_is_refused_naming_it() {
        let e = parse(with(r#""cancel":"e1""#).as_bytes()).unwrap_err();
        assert_eq!(
            e,
            Rejection::CancelOnOrder {
                value: snippet(b"\"e1\"")
            }
        );
        assert_eq!((e.code(), e.status()), ("cancel_on_order", 422));
        assert!(e.to_string().contains("\"cancel\" has value \"e1\""), "{e}");
        assert_eq!(code(&with(r#""cancel_id":7"#)), "cancel_on_order");
        // Whatever its value: on a buy or sell the field itself is wrong.
        assert_eq!(code(&with(r#""cancel":"""#)), "cancel_on_order");
        assert_eq!(code(&with(r#""cancel":null"#)), "ok");
        // An order's own field errors come first (check order).
        assert_eq!(code(&with(r#""cancel":"e1","price":0"#)), "invalid_field");
    }

    #[test]
    fn actions_serialize_and_read_back() {
        for (action, json) in [
            (Action::Place, r#""place""#),
            (
                Action::Cancel(CancelTarget::Symbol),
                r#"{"cancel":"symbol"}"#,
            ),
            (
                Action::Cancel(CancelTarget::Event(EventId::try_from("e 1").unwrap())),
                r#"{"cancel":{"event":"e 1"}}"#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&action).unwrap(), json);
            assert_eq!(serde_json::from_str::<Action>(json).unwrap(), action);
        }
        assert!(serde_json::from_str::<Action>(r#"{"cancel":{"event":""}}"#).is_ok());
        assert!(serde_json::from_str::<Action>(r#""cancel""#).is_err());
    }

    /// A member of a cancel alert: any known field, with a value that may
    /// or may not be valid.
    fn cancel_member() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "quantity",
            "qty",
            "price",
            "stop_price",
            "type",
            "order_type",
            "stop_loss",
            "take_profit",
            "confidence",
            "timestamp",
            "event_id",
            "cancel",
            "cancel_id",
            "extra",
        ]);
        let value = prop::sample::select(vec![
            "1",
            "0",
            "-2",
            "0.5",
            "\"3\"",
            "\"e1\"",
            "null",
            "true",
            "1700000000000",
            "\"\"",
        ]);
        (key, value).prop_map(|(k, v)| format!(r#""{k}":{v}"#))
    }

    proptest! {
        #[test]
        fn a_cancel_never_yields_a_placeable_order(
            side in prop::sample::select(vec!["cancel", "Cancel", "CANCEL"]),
            members in proptest::collection::vec(cancel_member(), 0..5),
        ) {
            let mut body = format!(r#"{{"symbol":"BTCUSDT","side":"{side}""#);
            for m in &members {
                body.push(',');
                body.push_str(m);
            }
            body.push('}');
            if let Ok(f) = parse(body.as_bytes()) {
                prop_assert!(matches!(f.action, Action::Cancel(_)), "{}", body);
                prop_assert_eq!(f.quantity, Decimal::ZERO, "{}", body);
                prop_assert!(f.price.is_none() && f.stop_price.is_none(), "{}", body);
                prop_assert!(f.stop_loss.is_none() && f.take_profit.is_none(), "{}", body);
            }
        }
    }
}
