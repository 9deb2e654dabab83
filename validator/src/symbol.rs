//! Trading-pair normalization: every spelling of a pair becomes `BASE/QUOTE`.
//!
//! Alerts name the same market in many ways: TradingView's `{{ticker}}`
//! renders `BTCUSDT` (or `BTCUSDT.P` for a perpetual), `{{exchange}}:{{ticker}}`
//! adds `BINANCE:`, and hand-written alerts use `BTC-USDT`, `BTC_USDT` or
//! `btc/usdt`. The gate compares symbols against an allowlist and passes them
//! on to an executor, so it needs one canonical form: uppercase `BASE/QUOTE`.
//!
//! Rules, in order:
//!
//! 1. An `EXCHANGE:` prefix (1 to [`MAX_EXCHANGE_LEN`] ASCII letters, digits or
//!    `_`, e.g. `FX_IDC:`) is dropped.
//! 2. A `.P` suffix (any case) is dropped.
//! 3. What is left must be ASCII letters and digits with at most one separator
//!    (`/`, `-` or `_`). With a separator, the pair splits there. Without one,
//!    it splits before the **longest** configured quote currency that is a
//!    suffix and leaves a non-empty base (`BTCUSDT` → `BTC/USDT`, not
//!    `BTCUSD/T`; `ETHBTC` → `ETH/BTC`).
//! 4. Base and quote are 1 to [`MAX_PART_LEN`] characters each, uppercased.
//!
//! Normalization is idempotent, and a separated spelling always splits where
//! it says. An unseparated spelling is ambiguous only when a longer quote also
//! matches: `ATUSD` is read as `A/TUSD`; write `AT/USD` if you mean that.
//!
//! The result is a fixed-capacity [`Symbol`]: no allocation, cheap to copy
//! into an order.

use core::fmt;

use crate::error::{snippet, Rejection};

/// Longest base or quote accepted, in characters.
///
/// 16 rather than a tighter bound because some venues list multiplied
/// contracts such as `1000000BABYDOGE` (15 characters).
pub const MAX_PART_LEN: usize = 16;

/// Longest exchange prefix accepted (without the `:`).
pub const MAX_EXCHANGE_LEN: usize = 32;

/// Capacity of a [`Symbol`]: base, `/`, quote.
pub const SYMBOL_CAP: usize = 2 * MAX_PART_LEN + 1;

/// Quote currencies used to split a symbol written without a separator.
///
/// Pass your own list to [`normalize`] to support other quotes; matching is
/// case-insensitive and the longest matching suffix wins, so the order of the
/// list does not matter.
pub const DEFAULT_QUOTES: &[&str] = &[
    "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI", "USD", "EUR", "GBP", "JPY", "TRY", "BRL",
    "BTC", "ETH", "BNB",
];

const EXPECT_NON_EMPTY: &str = "a trading pair such as BTC/USDT";
const EXPECT_EXCHANGE: &str =
    "an exchange prefix of 1-32 ASCII letters, digits or '_' before ':' (e.g. BINANCE:BTCUSDT)";
const EXPECT_CHARS: &str =
    "ASCII letters and digits with one optional separator, e.g. BTC/USDT, BTC-USDT, BTC_USDT or BTCUSDT";
const EXPECT_ONE_SEPARATOR: &str = "exactly one separator ('/', '-' or '_') between base and quote";
const EXPECT_KNOWN_QUOTE: &str =
    "BASE/QUOTE, or BASEQUOTE ending in a configured quote currency (USDT, USDC, USD, EUR, BTC, ...)";
const EXPECT_PART_LEN: &str = "a base and a quote of 1-16 ASCII letters or digits each";

/// A normalized trading pair, `BASE/QUOTE` in uppercase ASCII.
///
/// Only [`normalize`] creates one, so base and quote are always 1 to
/// [`MAX_PART_LEN`] ASCII letters or digits. Serializes as its string form.
///
/// ```
/// use alertgate_validator::symbol::{normalize, DEFAULT_QUOTES};
/// let s = normalize("BINANCE:btcusdt.P", DEFAULT_QUOTES).unwrap();
/// assert_eq!(s.as_str(), "BTC/USDT");
/// assert_eq!((s.base(), s.quote()), ("BTC", "USDT"));
/// assert_eq!(s.to_string(), "BTC/USDT");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Symbol {
    text: heapless::String<SYMBOL_CAP>,
    /// Byte index of the `/`.
    split: u8,
}

impl Symbol {
    /// The canonical form, `BASE/QUOTE`.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// The base currency (before the `/`).
    pub fn base(&self) -> &str {
        self.text.get(..usize::from(self.split)).unwrap_or("")
    }

    /// The quote currency (after the `/`).
    pub fn quote(&self) -> &str {
        self.text.get(usize::from(self.split) + 1..).unwrap_or("")
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as a string (`"BTC/USDT"`).
impl serde::Serialize for Symbol {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'/' | b'-' | b'_')
}

/// Normalizes `raw` to `BASE/QUOTE`, splitting unseparated spellings on the
/// longest suffix found in `quotes` (see the [module docs](self) for the rules).
///
/// Any failure is [`Rejection::InvalidField`] for field `symbol`, carrying the
/// raw value and what would have been accepted.
///
/// ```
/// use alertgate_validator::symbol::{normalize, DEFAULT_QUOTES};
/// let n = |s| normalize(s, DEFAULT_QUOTES).map(|s| s.to_string());
/// assert_eq!(n("BTC-USDT").unwrap(), "BTC/USDT");
/// assert_eq!(n("eth_btc").unwrap(), "ETH/BTC");
/// assert_eq!(n("COINBASE:SOLUSD").unwrap(), "SOL/USD");
/// assert_eq!(n("1000PEPEUSDT.P").unwrap(), "1000PEPE/USDT");
/// assert_eq!(n("XAUXAG").unwrap_err().code(), "invalid_field"); // no known quote
/// assert_eq!(n("BTC/USDT/X").unwrap_err().code(), "invalid_field");
/// // Custom quote list.
/// assert_eq!(normalize("XAUXAG", &["XAG"]).unwrap().as_str(), "XAU/XAG");
/// ```
pub fn normalize(raw: &str, quotes: &[&str]) -> Result<Symbol, Rejection> {
    normalize_bytes(raw.as_bytes(), quotes)
        .map_err(|expected| rejection_bytes(raw.as_bytes(), expected))
}

/// The rejection of a symbol that does not normalize.
#[cold]
#[inline(never)]
pub(crate) fn rejection_bytes(raw: &[u8], expected: &'static str) -> Rejection {
    Rejection::InvalidField {
        field: "symbol",
        value: snippet(raw),
        expected,
    }
}

/// [`normalize`] on the text's bytes, failing with what would have been
/// accepted: a word instead of a whole [`Rejection`], which callers build
/// only when needed. Bytes, so a caller holding text known to be UTF-8 (the
/// JSON scanner's) need not check it again; every byte the result keeps is
/// checked to be ASCII here.
pub(crate) fn normalize_bytes(raw: &[u8], quotes: &[&str]) -> Result<Symbol, &'static str> {
    #[cfg(not(target_os = "none"))]
    if let Some(symbol) = canonical(raw) {
        return Ok(symbol);
    }
    normalize_general(raw, quotes)
}

/// [`normalize_bytes`] without the host's fast path (the tests compare the
/// two).
#[inline(always)]
fn normalize_general(raw: &[u8], quotes: &[&str]) -> Result<Symbol, &'static str> {
    let mut s = raw;
    // 1. Exchange prefix.
    if let Some(colon) = s.iter().position(|&b| b == b':') {
        let exchange = &s[..colon];
        if exchange.is_empty()
            || exchange.len() > MAX_EXCHANGE_LEN
            || !exchange
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(EXPECT_EXCHANGE);
        }
        s = &s[colon + 1..];
    }
    // 2. Perpetual suffix.
    if let [rest @ .., b'.', b'P' | b'p'] = s {
        s = rest;
    }
    if s.is_empty() {
        return Err(EXPECT_NON_EMPTY);
    }
    // 3. Character set (every byte is looked at, so a bad character is
    // reported before a second separator) and split.
    let mut separators = 0;
    let mut split_at = 0;
    for (i, &b) in s.iter().enumerate() {
        if is_separator(b) {
            separators += 1;
            split_at = i;
        } else if !b.is_ascii_alphanumeric() {
            return Err(EXPECT_CHARS);
        }
    }
    let (base, quote) = match separators {
        0 => {
            // The longest configured quote that is a proper suffix.
            let mut quote_len = 0;
            for q in quotes.iter().map(|q| q.as_bytes()) {
                if q.len() > quote_len
                    && q.len() < s.len()
                    && s[s.len() - q.len()..].eq_ignore_ascii_case(q)
                {
                    quote_len = q.len();
                }
            }
            if quote_len == 0 {
                return Err(EXPECT_KNOWN_QUOTE);
            }
            s.split_at(s.len() - quote_len)
        }
        1 => (&s[..split_at], &s[split_at + 1..]),
        _ => return Err(EXPECT_ONE_SEPARATOR),
    };
    // 4. Part bounds. Both parts are ASCII letters and digits: checked
    // above for the text, and a quote from the list equals the text's
    // tail up to case.
    let part_ok = |p: &[u8]| (1..=MAX_PART_LEN).contains(&p.len());
    if !part_ok(base) || !part_ok(quote) {
        return Err(EXPECT_PART_LEN);
    }

    // Copied a character at a time, uppercased: the parts are ASCII letters
    // and digits (so each is one byte, and no UTF-8 check is needed), and
    // base, '/' and quote fit the capacity (2 * MAX_PART_LEN + 1). The
    // `& 0x7f` changes no ASCII byte; it tells the compiler every `char`
    // is one byte, so no UTF-8 encoder is compiled in.
    let mut text = heapless::String::<SYMBOL_CAP>::new();
    for &b in base.iter().chain(b"/").chain(quote) {
        text.push(char::from(b.to_ascii_uppercase() & 0x7f))
            .map_err(|()| EXPECT_PART_LEN)?;
    }
    Ok(Symbol {
        text,
        // base.len() <= MAX_PART_LEN < 256.
        split: base.len() as u8,
    })
}

/// The host's fast path of [`normalize_bytes`]: text that is already
/// canonical (`BASE/QUOTE`, uppercase ASCII letters and digits, parts of 1
/// to [`MAX_PART_LEN`]) is checked and copied in one loop. It is its own
/// normal form under the rules, so the result is the one the general path
/// would give; `None` for anything else, which the general path then reads.
#[cfg(not(target_os = "none"))]
#[inline(always)]
fn canonical(raw: &[u8]) -> Option<Symbol> {
    let mut text = heapless::String::<SYMBOL_CAP>::new();
    let mut split = None;
    for (i, &b) in raw.iter().enumerate() {
        if b == b'/' {
            if split.is_some() {
                return None;
            }
            split = Some(i);
        } else if !(b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return None;
        }
        // ASCII: the `& 0x7f` changes nothing and spares a UTF-8 encoder.
        text.push(char::from(b & 0x7f)).ok()?;
    }
    let split = split?;
    let quote_len = raw.len() - split - 1;
    let part_ok = |n: usize| (1..=MAX_PART_LEN).contains(&n);
    if !part_ok(split) || !part_ok(quote_len) {
        return None;
    }
    Some(Symbol {
        text,
        // split <= MAX_PART_LEN < 256.
        split: split as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn n(raw: &str) -> Result<String, Rejection> {
        normalize(raw, DEFAULT_QUOTES).map(|s| s.to_string())
    }

    fn expected_of(raw: &str) -> &'static str {
        match n(raw) {
            Err(Rejection::InvalidField {
                field: "symbol",
                expected,
                value,
            }) => {
                assert_eq!(value, snippet(raw.as_bytes()));
                expected
            }
            other => panic!("{raw:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn accepts_common_spellings() {
        for raw in [
            "BTC/USDT",
            "btc/usdt",
            "BTC-USDT",
            "BTC_USDT",
            "BTCUSDT",
            "btcusdt",
            "BTCUSDT.P",
            "BTCUSDT.p",
            "BINANCE:BTCUSDT",
            "BINANCE:BTCUSDT.P",
            "binance:btc-usdt.P",
            "FX_IDC:BTC/USDT",
        ] {
            assert_eq!(n(raw).unwrap(), "BTC/USDT", "{raw}");
        }
        assert_eq!(n("ETHBTC").unwrap(), "ETH/BTC");
        assert_eq!(n("BNBFDUSD").unwrap(), "BNB/FDUSD");
        assert_eq!(n("SOLUSD").unwrap(), "SOL/USD");
        assert_eq!(n("OANDA:EURUSD").unwrap(), "EUR/USD");
        assert_eq!(n("USDTTRY").unwrap(), "USDT/TRY");
        // Longest suffix: TUSD beats USD when the base stays non-empty...
        assert_eq!(n("ATUSD").unwrap(), "A/TUSD");
        // ...and USD is used when TUSD would leave nothing.
        assert_eq!(n("TUSD").unwrap(), "T/USD");
        assert_eq!(n("1000000BABYDOGE/USDT").unwrap(), "1000000BABYDOGE/USDT");
        assert_eq!(n("A/B").unwrap(), "A/B");
    }

    #[test]
    fn parts_and_serialization() {
        let s = normalize("kraken:xbt-eur", DEFAULT_QUOTES).unwrap();
        assert_eq!(s.base(), "XBT");
        assert_eq!(s.quote(), "EUR");
        assert_eq!(s.as_str(), "XBT/EUR");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"XBT/EUR\"");
        let mut buf = [0u8; 32];
        let len = serde_json_core::to_slice(&s, &mut buf).unwrap();
        assert_eq!(&buf[..len], b"\"XBT/EUR\"");
    }

    #[test]
    fn rejects_with_helpful_expectations() {
        assert_eq!(expected_of(""), EXPECT_NON_EMPTY);
        assert_eq!(expected_of(".P"), EXPECT_NON_EMPTY);
        assert_eq!(expected_of("BINANCE:"), EXPECT_NON_EMPTY);
        assert_eq!(expected_of(":BTCUSDT"), EXPECT_EXCHANGE);
        assert_eq!(expected_of("BIN ANCE:BTCUSDT"), EXPECT_EXCHANGE);
        assert_eq!(
            expected_of(&(["X"; 33].concat() + ":BTCUSDT")),
            EXPECT_EXCHANGE
        );
        assert_eq!(expected_of("A:B:BTCUSDT"), EXPECT_CHARS);
        assert_eq!(expected_of("BTC USDT"), EXPECT_CHARS);
        assert_eq!(expected_of(" BTCUSDT"), EXPECT_CHARS);
        assert_eq!(expected_of("BTCUSDT "), EXPECT_CHARS);
        assert_eq!(expected_of("BTC/USDТ"), EXPECT_CHARS); // Cyrillic Т
        assert_eq!(expected_of("BTC.USDT"), EXPECT_CHARS);
        assert_eq!(expected_of("BTCUSDT.P.P"), EXPECT_CHARS);
        assert_eq!(expected_of("BTC/-USDT"), EXPECT_ONE_SEPARATOR);
        assert_eq!(expected_of("BTC/USDT/ETH"), EXPECT_ONE_SEPARATOR);
        assert_eq!(expected_of("XAUXAG"), EXPECT_KNOWN_QUOTE);
        assert_eq!(expected_of("USDT"), EXPECT_KNOWN_QUOTE);
        assert_eq!(expected_of("/USDT"), EXPECT_PART_LEN);
        assert_eq!(expected_of("BTC/"), EXPECT_PART_LEN);
        assert_eq!(expected_of("/"), EXPECT_PART_LEN);
        assert_eq!(expected_of("ABCDEFGHIJKLMNOPQ/USDT"), EXPECT_PART_LEN);
        assert_eq!(expected_of("ABCDEFGHIJKLMNOPQUSDT"), EXPECT_PART_LEN);
        assert_eq!(expected_of("BTC/ABCDEFGHIJKLMNOPQ"), EXPECT_PART_LEN);
        // A bad entry in a custom quote list is caught too.
        assert!(normalize("BTC U", &[" U"]).is_err());
        assert!(normalize("BTCUSDT", &[]).is_err());
        assert!(normalize("BTCUSDT", &[""]).is_err());
        // Display of the rejection names the field and the expectation.
        let msg = n("BTC USDT").unwrap_err().to_string();
        assert!(msg.contains("symbol") && msg.contains("BTC USDT") && msg.contains("e.g."));
    }

    fn part() -> impl Strategy<Value = String> {
        "[A-Za-z0-9]{1,16}"
    }

    #[test]
    fn canonical_fast_path() {
        for raw in [
            "BTC/USDT",
            "A/B",
            "1000PEPE/USDT",
            "ABCDEFGHIJKLMNOP/ABCDEFGHIJKLMNOP",
        ] {
            let fast = canonical(raw.as_bytes()).expect(raw);
            assert_eq!(Ok(fast), normalize_general(raw.as_bytes(), DEFAULT_QUOTES));
        }
        for raw in [
            "",
            "/",
            "BTC/",
            "/USDT",
            "btc/usdt",
            "BTC-USDT",
            "BTCUSDT",
            "BTC/USDT/X",
            "X:BTC/USDT",
            "BTC/USDT.P",
            "ABCDEFGHIJKLMNOPQ/USDT",
            "BTC/ABCDEFGHIJKLMNOPQ",
            "BTC /USDT",
        ] {
            assert_eq!(canonical(raw.as_bytes()), None, "{raw}");
        }
    }

    proptest! {
        /// Whatever the fast path reads, the general path reads alike.
        #[test]
        fn canonical_agrees_with_the_general_path(
            raw in prop_oneof![
                "[A-Z0-9]{0,18}/[A-Z0-9]{0,18}",
                "[A-Za-z0-9/:._-]{0,20}",
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(|v| String::from_utf8_lossy(&v).into_owned()),
            ]
        ) {
            if let Some(fast) = canonical(raw.as_bytes()) {
                prop_assert_eq!(Ok(fast), normalize_general(raw.as_bytes(), DEFAULT_QUOTES));
            }
        }

        #[test]
        fn never_panics_and_is_idempotent(raw in "\\PC{0,40}") {
            if let Ok(s) = normalize(&raw, DEFAULT_QUOTES) {
                prop_assert_eq!(normalize(s.as_str(), DEFAULT_QUOTES), Ok(s.clone()));
                prop_assert!(s.as_str().len() <= SYMBOL_CAP);
                prop_assert_eq!(std::format!("{}/{}", s.base(), s.quote()), s.as_str());
            }
        }

        #[test]
        fn never_panics_on_symbol_like_text(raw in "[A-Za-z0-9/_:.P -]{0,40}") {
            if let Ok(s) = normalize(&raw, DEFAULT_QUOTES) {
                prop_assert_eq!(normalize(s.as_str(), DEFAULT_QUOTES), Ok(s));
            }
        }

        #[test]
        fn all_spellings_agree(
            base in part(),
            quote_idx in 0..DEFAULT_QUOTES.len(),
            exchange in proptest::option::of("[A-Z_]{1,10}"),
            perp in any::<bool>(),
            lower in any::<bool>(),
        ) {
            let quote = DEFAULT_QUOTES[quote_idx];
            let want = std::format!("{}/{}", base.to_ascii_uppercase(), quote);
            let mut spellings: Vec<String> = ["/", "-", "_"]
                .iter()
                .map(|sep| std::format!("{base}{sep}{quote}"))
                .collect();
            // Unseparated: unambiguous unless a longer quote also matches.
            let joined = std::format!("{base}{quote}");
            let ambiguous = DEFAULT_QUOTES.iter().any(|q| {
                q.len() > quote.len()
                    && q.len() < joined.len()
                    && joined.to_ascii_uppercase().ends_with(q)
            });
            if !ambiguous {
                spellings.push(joined);
            }
            for mut raw in spellings {
                if lower {
                    raw = raw.to_ascii_lowercase();
                }
                if let Some(ex) = &exchange {
                    raw = std::format!("{ex}:{raw}");
                }
                if perp {
                    raw.push_str(".P");
                }
                let got = normalize(&raw, DEFAULT_QUOTES);
                prop_assert_eq!(got.as_ref().map(Symbol::as_str), Ok(want.as_str()), "{}", raw);
            }
        }
    }
}
