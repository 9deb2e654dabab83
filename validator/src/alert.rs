//! The alert: which body fields the gate reads, their aliases, and how each
//! one is turned into a typed value.
//!
//! Reading happens in two steps so that the checks keep their documented
//! order:
//! 1. [`RawAlert::scan`] runs the JSON scanner once over the body and keeps a
//!    borrowed [`Value`] per known field (JSON errors, `not_an_object`,
//!    duplicate keys and duplicate aliases are found here);
//! 2. [`RawAlert::fields`] converts those values into [`Fields`] (missing and
//!    invalid fields, in the order of [`FIELDS`]).
//!
//! In between, the gate checks the body's `passphrase` for the passphrase
//! scheme, so an unauthenticated sender learns nothing about field rules.
//!
//! Keys are case-sensitive. Unknown keys are skipped (TradingView messages
//! carry extras). `null` counts as absent for optional fields.

use crate::decimal::Decimal;
use crate::error::{snippet, Rejection, Snippet, SNIPPET_CAP};
use crate::json::{self, JsonStr, Value};
use crate::symbol::{self, Symbol};
use crate::time;

/// Capacity in bytes of an event id. Longer ids are rejected, not truncated:
/// two long ids sharing a prefix must never collide.
pub const EVENT_ID_CAP: usize = 64;

/// An event id: the idempotency key of an alert.
pub type EventId = heapless::String<EVENT_ID_CAP>;

/// Which way the order goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
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

/// How the order is to be executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
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
    ("passphrase", &["passphrase"]),
];

const FIELD_ORDER: [Field; 12] = [
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
    Field::Passphrase,
];

impl Field {
    fn name(self) -> &'static str {
        FIELDS[self as usize].0
    }

    /// Maps a key (decoded) to the field it names, if any.
    fn of_key(key: &JsonStr<'_>) -> Option<Field> {
        // `eq_str` compares raw bytes when the key has no escapes.
        FIELDS
            .iter()
            .position(|(_, aliases)| aliases.iter().any(|a| key.eq_str(a)))
            .map(|i| FIELD_ORDER[i])
    }
}

/// Per-field values borrowed from the body, before conversion.
pub struct RawAlert<'a> {
    values: [Option<Value<'a>>; FIELDS.len()],
}

/// `"text"` for strings (quotes included when they fit), raw text otherwise.
fn value_snippet(value: &Value<'_>) -> Snippet {
    match value {
        Value::Null => snippet(b"null"),
        Value::Bool(true) => snippet(b"true"),
        Value::Bool(false) => snippet(b"false"),
        Value::Number(text) => snippet(text.as_bytes()),
        Value::String(s) => {
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
        Value::Object(raw) | Value::Array(raw) => snippet(raw),
    }
}

/// The rejection of a field whose value is not acceptable.
#[cold]
#[inline(never)]
fn invalid(field: Field, value: &Value<'_>, expected: &'static str) -> Rejection {
    Rejection::InvalidField {
        field: field.name(),
        value: value_snippet(value),
        expected,
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
}

const DECIMAL_EXPECTED: &str =
    "a decimal number or numeric string (at most 18 significant digits and 18 decimal places)";

/// Longest symbol text read, in bytes (as written, decoded).
const SYMBOL_TEXT_CAP: usize = 32;
/// Longest timestamp string read, in bytes (decoded).
const TIMESTAMP_TEXT_CAP: usize = 40;
/// Longest numeric string with escapes read, in bytes (decoded).
const DECIMAL_TEXT_CAP: usize = 64;

/// The text of a string value: borrowed from the body when it has no
/// escapes, else decoded into `buf`. `None` if the value is not a string or
/// its text is longer than `buf`.
///
/// One function for every field's bound: a function generic over the
/// capacity was compiled once per bound.
fn text<'b>(value: &Value<'b>, buf: &'b mut [u8]) -> Option<&'b str> {
    let Value::String(s) = value else {
        return None;
    };
    match s.as_str() {
        Some(plain) => (plain.len() <= buf.len()).then_some(plain),
        None => s.decode_to(buf).ok(),
    }
}

/// A decimal from a JSON number or a numeric string.
fn decimal(value: &Value<'_>) -> Option<Decimal> {
    match value {
        Value::Number(text) => Decimal::parse(text),
        Value::String(s) => match s.as_str() {
            Some(plain) => Decimal::parse(plain),
            None => s
                .decode_to(&mut [0; DECIMAL_TEXT_CAP])
                .ok()
                .and_then(Decimal::parse),
        },
        _ => None,
    }
}

fn positive(field: Field, value: &Value<'_>) -> Result<Decimal, Problem> {
    let d = decimal(value).ok_or(Problem::Invalid(field, DECIMAL_EXPECTED))?;
    if d.is_positive() {
        Ok(d)
    } else {
        Err(Problem::Invalid(field, "a number greater than 0"))
    }
}

/// Case-insensitive match of a short keyword list; returns the index.
fn keyword(value: &Value<'_>, words: &[&str]) -> Option<usize> {
    let Value::String(s) = value else {
        return None;
    };
    let raw = s.as_str()?;
    words.iter().position(|w| w.eq_ignore_ascii_case(raw))
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
}

impl<'a> RawAlert<'a> {
    /// Scans the body once, keeping the value of each known field.
    ///
    /// Errors: `invalid_json`, `not_an_object`, `duplicate_field` (a key twice,
    /// or two aliases of one field).
    pub fn scan(body: &'a [u8]) -> Result<RawAlert<'a>, Rejection> {
        let mut values: [Option<Value<'a>>; FIELDS.len()] = Default::default();
        json::for_each_member(body, |key, value| {
            if let Some(field) = Field::of_key(&key) {
                let slot = &mut values[field as usize];
                if slot.is_some() {
                    return Err(Rejection::DuplicateField {
                        field: snippet(key.raw()),
                    });
                }
                *slot = Some(value);
            }
            Ok(())
        })?;
        Ok(RawAlert { values })
    }

    fn get(&self, field: Field) -> Option<&Value<'a>> {
        match &self.values[field as usize] {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }

    fn required(&self, field: Field) -> Result<&Value<'a>, Problem> {
        self.get(field).ok_or(Problem::Missing(field))
    }

    fn optional_positive(&self, field: Field) -> Result<Option<Decimal>, Problem> {
        self.get(field).map(|v| positive(field, v)).transpose()
    }

    /// The body's `passphrase` as raw bytes (escapes undecoded), if present.
    ///
    /// Passphrases with JSON escapes are compared as written: the configured
    /// secret must then be written the same way.
    pub fn passphrase(&self) -> Option<&'a [u8]> {
        match self.get(Field::Passphrase) {
            Some(Value::String(s)) => Some(s.raw()),
            Some(Value::Number(text)) => Some(text.as_bytes()),
            _ => None,
        }
    }

    /// Converts the known fields, in [`FIELDS`] order; `quotes` is the list of
    /// quote currencies used to split unseparated symbols.
    pub fn fields(&self, quotes: &[&str]) -> Result<Fields, Rejection> {
        self.convert(quotes)
            .map_err(|problem| self.rejection(problem))
    }

    /// The rejection for `problem` (see [`Problem`] for why it is built here).
    #[cold]
    #[inline(never)]
    fn rejection(&self, problem: Problem) -> Rejection {
        match problem {
            Problem::Missing(field) => Rejection::MissingField {
                field: field.name(),
            },
            Problem::Invalid(field, expected) => {
                invalid(field, self.get(field).unwrap_or(&Value::Null), expected)
            }
            Problem::Symbol(expected) => {
                // The text `convert` read (and could not normalize).
                let mut buf = [0; SYMBOL_TEXT_CAP];
                let raw = self
                    .get(Field::Symbol)
                    .and_then(|v| text(v, &mut buf))
                    .unwrap_or_default();
                symbol::rejection(raw, expected)
            }
            Problem::MissingPrice(order_type, expected) => Rejection::MissingPrice {
                order_type: order_type.name(),
                expected,
            },
        }
    }

    /// [`RawAlert::fields`], failing with a [`Problem`].
    fn convert(&self, quotes: &[&str]) -> Result<Fields, Problem> {
        let mut symbol_buf = [0; SYMBOL_TEXT_CAP];
        let raw_symbol =
            text(self.required(Field::Symbol)?, &mut symbol_buf).ok_or(Problem::Invalid(
                Field::Symbol,
                "a symbol string like BTC/USDT, BTCUSDT or BINANCE:BTCUSDT.P",
            ))?;
        let symbol = symbol::normalize_or_expected(raw_symbol, quotes).map_err(Problem::Symbol)?;

        let side = match keyword(self.required(Field::Side)?, &["buy", "sell"]) {
            Some(0) => Side::Buy,
            Some(_) => Side::Sell,
            None => return Err(Problem::Invalid(Field::Side, "buy or sell")),
        };

        let order_type = match self.get(Field::OrderType) {
            None => OrderType::Market,
            Some(v) => {
                const TYPES: [(&str, OrderType); 5] = [
                    ("market", OrderType::Market),
                    ("limit", OrderType::Limit),
                    ("stop_loss", OrderType::StopLoss),
                    ("stop", OrderType::StopLoss),
                    ("take_profit", OrderType::TakeProfit),
                ];
                let words = TYPES.map(|(w, _)| w);
                match keyword(v, &words) {
                    Some(i) => TYPES[i].1,
                    None => {
                        return Err(Problem::Invalid(
                            Field::OrderType,
                            "market, limit, stop_loss (or stop) or take_profit",
                        ))
                    }
                }
            }
        };

        let quantity = positive(Field::Quantity, self.required(Field::Quantity)?)?;
        let price = self.optional_positive(Field::Price)?;
        let stop_price = self.optional_positive(Field::StopPrice)?;

        let confidence = match self.get(Field::Confidence) {
            None => None,
            Some(v) => {
                let c = decimal(v).ok_or(Problem::Invalid(Field::Confidence, DECIMAL_EXPECTED))?;
                if c.is_negative() || c > Decimal::ONE {
                    return Err(Problem::Invalid(Field::Confidence, "a number from 0 to 1"));
                }
                Some(c)
            }
        };

        let stop_loss = self.optional_positive(Field::StopLoss)?;
        let take_profit = self.optional_positive(Field::TakeProfit)?;

        let timestamp_ms = match self.get(Field::Timestamp) {
            None => None,
            Some(v) => {
                const EXPECTED: &str =
                    "Unix ms, Unix seconds or RFC 3339 UTC (2019-08-27T09:56:00Z), 1970..9999";
                let parsed = match v {
                    Value::Number(text) => time::from_integer_text(text),
                    _ => text(v, &mut [0; TIMESTAMP_TEXT_CAP]).and_then(time::parse_timestamp),
                };
                Some(parsed.ok_or(Problem::Invalid(Field::Timestamp, EXPECTED))?)
            }
        };

        let event_id = match self.get(Field::EventId) {
            None => None,
            Some(v) => {
                let mut buf = [0; EVENT_ID_CAP];
                let raw = match v {
                    Value::Number(text) => Some(*text),
                    _ => text(v, &mut buf),
                };
                let mut id = EventId::new();
                match raw {
                    Some(raw) if !raw.is_empty() && id.push_str(raw).is_ok() => Some(id),
                    _ => {
                        return Err(Problem::Invalid(
                            Field::EventId,
                            "a non-empty string or integer of at most 64 bytes",
                        ))
                    }
                }
            }
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
            quantity,
            price,
            stop_price,
            confidence,
            stop_loss,
            take_profit,
            timestamp_ms,
            event_id,
        })
    }
}

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
    RawAlert::scan(body)?.fields(symbol::DEFAULT_QUOTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> &'static str {
        match parse(body.as_bytes()) {
            Ok(_) => "ok",
            Err(e) => e.code(),
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
                expected: "buy or sell"
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
    fn json_level_errors_come_first() {
        assert_eq!(code("[]"), "not_an_object");
        assert_eq!(code("{"), "invalid_json");
        assert_eq!(code(r#"{"side":"x","side":"y"}"#), "duplicate_field");
        assert_eq!(code(&with(r#""price":01"#)), "invalid_json");
    }
}
