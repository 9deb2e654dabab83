//! The one error type of the gate: why a request was not turned into an order.
//!
//! Every variant has a stable snake_case [`Rejection::code`] (part of the public
//! contract: logs, metrics, the HTTP response and the simulator's reports key on
//! it), an HTTP [`Rejection::status`], and a `Display` that names the field, the
//! offending value and what is allowed. Values taken from the request are kept
//! as short [`Snippet`]s so a rejection stays small, `Copy`-free but cheap to
//! move, and never needs the heap.

use core::fmt;
use core::net::IpAddr;

use crate::decimal::Decimal;

/// Capacity in bytes of a [`Snippet`].
pub const SNIPPET_CAP: usize = 48;

/// A bounded, printable copy of (the start of) a value taken from the request.
///
/// Non-printable and non-ASCII bytes are written as `\xNN`; a value longer than
/// the capacity ends with `...`.
pub type Snippet = heapless::String<SNIPPET_CAP>;

/// Copies `bytes` into a [`Snippet`], escaping what is not printable ASCII and
/// marking truncation with `...`.
///
/// ```
/// use alertgate_validator::error::snippet;
/// assert_eq!(snippet(b"BTC/USDT").as_str(), "BTC/USDT");
/// assert_eq!(snippet(b"a\nb").as_str(), "a\\x0ab");
/// assert!(snippet(&[b'x'; 100]).ends_with("..."));
/// ```
pub fn snippet(bytes: &[u8]) -> Snippet {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Snippet::new();
    // Leave room for the "..." marker.
    let budget = SNIPPET_CAP - 3;
    for &b in bytes {
        let needed = if (0x20..0x7f).contains(&b) && b != b'\\' {
            1
        } else {
            4
        };
        if out.len() + needed > budget {
            // Byte `i` and everything after it are left out.
            let _ = out.push_str("...");
            return out;
        }
        if needed == 1 {
            let _ = out.push(b as char);
        } else if b == b'\\' {
            let _ = out.push_str("\\\\");
        } else {
            let _ = out.push_str("\\x");
            let _ = out.push(HEX[(b >> 4) as usize] as char);
            let _ = out.push(HEX[(b & 0xf) as usize] as char);
        }
    }
    out
}

/// Why the gate refused a request.
///
/// Checks run in a fixed order (see [`crate::gate`]); the first failing check
/// decides the rejection. Match on [`Rejection::code`] rather than on the
/// variants if you only need a stable identifier: new variants may be added.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The source address is not in the configured allowlist.
    IpNotAllowed {
        /// The request's source address.
        ip: IpAddr,
    },
    /// The body is longer than the configured limit.
    BodyTooLarge {
        /// Body length in bytes.
        len: usize,
        /// Configured maximum in bytes.
        limit: usize,
    },
    /// The scheme needs a signature (header or body field) and there is none.
    MissingSignature {
        /// Where the signature was expected (a header name or `passphrase`).
        header: Snippet,
    },
    /// A signature header is present but cannot be read.
    MalformedSignature {
        /// The header that could not be read.
        header: Snippet,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No configured secret produces the presented signature.
    BadSignature {
        /// The header (or `passphrase` field) that carried it.
        header: Snippet,
    },
    /// The signed timestamp is outside the allowed tolerance.
    SignatureExpired {
        /// Signed timestamp, Unix seconds.
        timestamp_s: i64,
        /// Gate clock, Unix seconds.
        now_s: i64,
        /// Allowed distance in seconds, either direction.
        tolerance_s: u32,
    },
    /// The body is not RFC 8259 JSON (or exceeds the scanner's bounds).
    InvalidJson {
        /// Byte offset of the first offending byte.
        offset: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// The body is JSON but its top level is not an object.
    NotAnObject,
    /// A key appears twice, or two aliases of one field are both present.
    DuplicateField {
        /// The repeated key (as written in the body).
        field: Snippet,
    },
    /// A required field is absent.
    MissingField {
        /// Canonical field name.
        field: &'static str,
    },
    /// A field is present but its value is not allowed.
    InvalidField {
        /// Canonical field name.
        field: &'static str,
        /// The value received.
        value: Snippet,
        /// What the field accepts.
        expected: &'static str,
    },
    /// The order type needs a price (`limit`) or a trigger price and has none.
    MissingPrice {
        /// The order type as normalized (`limit`, `stop_loss`, `take_profit`).
        order_type: &'static str,
        /// The field(s) that would satisfy it.
        expected: &'static str,
    },
    /// A cancel alert (`"action": "cancel"`) carries a field of an order
    /// (`order_type`, `quantity`, `price`, `stop_price`, `stop_loss`,
    /// `take_profit`): a template that mixes the two is refused rather than
    /// half obeyed.
    CancelWithOrderField {
        /// Canonical name of the order's field.
        field: &'static str,
        /// Its value.
        value: Snippet,
    },
    /// A buy or sell alert carries `cancel`, which only a cancel alert
    /// takes.
    CancelOnOrder {
        /// The `cancel` field's value.
        value: Snippet,
    },
    /// The alert's confidence is below the configured minimum (or absent when
    /// one is required).
    BelowConfidence {
        /// The alert's confidence, `None` if the field is absent.
        confidence: Option<Decimal>,
        /// Configured minimum.
        min: Decimal,
    },
    /// Quantity above `max_quantity`.
    QuantityTooLarge {
        /// The alert's quantity.
        quantity: Decimal,
        /// Configured maximum.
        max: Decimal,
    },
    /// The normalized symbol is not in the configured allowlist.
    SymbolNotAllowed {
        /// Normalized symbol (`BASE/QUOTE`).
        symbol: Snippet,
    },
    /// price × quantity above `max_order_value`.
    OrderValueTooLarge {
        /// Computed order value.
        value: Decimal,
        /// Configured maximum.
        max: Decimal,
    },
    /// `max_order_value` is set but the order has no price to be valued at:
    /// no mark price is known and the alert's own price does not bound what
    /// it can cost (see [`crate::Policy::valuation_price`]).
    UnpricedOrder {
        /// Configured maximum that could not be checked.
        max: Decimal,
    },
    /// Stop-loss and take-profit are on the wrong sides of the reference price.
    InvertedBracket {
        /// `buy` or `sell`.
        side: &'static str,
        /// The alert's stop-loss, if any.
        stop_loss: Option<Decimal>,
        /// Reference (entry) price the bracket was checked against.
        reference: Decimal,
        /// The alert's take-profit, if any.
        take_profit: Option<Decimal>,
    },
    /// The alert's timestamp is older than `max_age`.
    Stale {
        /// Age of the alert in milliseconds.
        age_ms: i64,
        /// Configured maximum age in milliseconds.
        max_age_ms: i64,
    },
    /// The alert's timestamp is further in the future than `max_future_skew`.
    FromFuture {
        /// How far ahead of the gate clock, in milliseconds.
        ahead_ms: i64,
        /// Configured maximum skew in milliseconds.
        max_skew_ms: i64,
    },
    /// The token bucket is empty.
    RateLimited {
        /// Milliseconds until the next token is available.
        retry_after_ms: u64,
    },
    /// The event id was already accepted inside the replay window.
    Replayed {
        /// The event id (or `sha256:<digest>` when derived from the body).
        event_id: Snippet,
    },
    /// The replay guard is full of live entries: fail closed.
    ReplayCacheFull {
        /// Capacity of the guard.
        capacity: usize,
    },
}

impl Rejection {
    /// Stable snake_case identifier of the rejection.
    ///
    /// ```
    /// use alertgate_validator::Rejection;
    /// assert_eq!(Rejection::NotAnObject.code(), "not_an_object");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::IpNotAllowed { .. } => "ip_not_allowed",
            Rejection::BodyTooLarge { .. } => "body_too_large",
            Rejection::MissingSignature { .. } => "missing_signature",
            Rejection::MalformedSignature { .. } => "malformed_signature",
            Rejection::BadSignature { .. } => "bad_signature",
            Rejection::SignatureExpired { .. } => "signature_expired",
            Rejection::InvalidJson { .. } => "invalid_json",
            Rejection::NotAnObject => "not_an_object",
            Rejection::DuplicateField { .. } => "duplicate_field",
            Rejection::MissingField { .. } => "missing_field",
            Rejection::InvalidField { .. } => "invalid_field",
            Rejection::MissingPrice { .. } => "missing_price",
            Rejection::CancelWithOrderField { .. } => "cancel_with_order_field",
            Rejection::CancelOnOrder { .. } => "cancel_on_order",
            Rejection::BelowConfidence { .. } => "below_confidence",
            Rejection::QuantityTooLarge { .. } => "quantity_too_large",
            Rejection::SymbolNotAllowed { .. } => "symbol_not_allowed",
            Rejection::OrderValueTooLarge { .. } => "order_value_too_large",
            Rejection::UnpricedOrder { .. } => "unpriced_order",
            Rejection::InvertedBracket { .. } => "inverted_bracket",
            Rejection::Stale { .. } => "stale",
            Rejection::FromFuture { .. } => "from_future",
            Rejection::RateLimited { .. } => "rate_limited",
            Rejection::Replayed { .. } => "replayed",
            Rejection::ReplayCacheFull { .. } => "replay_cache_full",
        }
    }

    /// HTTP status a gateway should answer with.
    ///
    /// 403 for who-may-send (address, symbol), 401 for authentication, 413
    /// for size, 400 for unreadable bodies, 422 for readable but unacceptable
    /// alerts, 409 for replays, 429 for rate limits, 503 when the gate fails
    /// closed.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::IpNotAllowed { .. } | Rejection::SymbolNotAllowed { .. } => 403,
            Rejection::BodyTooLarge { .. } => 413,
            Rejection::MissingSignature { .. }
            | Rejection::MalformedSignature { .. }
            | Rejection::BadSignature { .. }
            | Rejection::SignatureExpired { .. } => 401,
            Rejection::InvalidJson { .. }
            | Rejection::NotAnObject
            | Rejection::DuplicateField { .. } => 400,
            Rejection::MissingField { .. }
            | Rejection::InvalidField { .. }
            | Rejection::MissingPrice { .. }
            | Rejection::CancelWithOrderField { .. }
            | Rejection::CancelOnOrder { .. }
            | Rejection::BelowConfidence { .. }
            | Rejection::QuantityTooLarge { .. }
            | Rejection::OrderValueTooLarge { .. }
            | Rejection::UnpricedOrder { .. }
            | Rejection::InvertedBracket { .. }
            | Rejection::Stale { .. }
            | Rejection::FromFuture { .. } => 422,
            Rejection::RateLimited { .. } => 429,
            Rejection::Replayed { .. } => 409,
            Rejection::ReplayCacheFull { .. } => 503,
        }
    }

    /// Every code, in check order. Useful for metrics and reports.
    pub const CODES: &'static [&'static str] = &[
        "ip_not_allowed",
        "body_too_large",
        "missing_signature",
        "malformed_signature",
        "bad_signature",
        "signature_expired",
        "invalid_json",
        "not_an_object",
        "duplicate_field",
        "missing_field",
        "invalid_field",
        "missing_price",
        "cancel_with_order_field",
        "cancel_on_order",
        "below_confidence",
        "quantity_too_large",
        "symbol_not_allowed",
        "order_value_too_large",
        "unpriced_order",
        "inverted_bracket",
        "stale",
        "from_future",
        "rate_limited",
        "replayed",
        "replay_cache_full",
    ];
}

struct OptDecimal<'a>(&'a Option<Decimal>);

impl fmt::Display for OptDecimal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, "{d}"),
            None => f.write_str("none"),
        }
    }
}

/// Why an order without a mark is refused ([`Rejection::UnpricedOrder`]).
const UNPRICED: &str = "no mark price is known and the alert's own price does not bound what this order can cost (only a buy limit's does; policy.trust_alert_prices values orders at the alert's price)";

/// [`Rejection::InvertedBracket`]'s message.
fn write_inverted_bracket(
    f: &mut fmt::Formatter<'_>,
    side: &str,
    stop_loss: &Option<Decimal>,
    reference: &Decimal,
    take_profit: &Option<Decimal>,
) -> fmt::Result {
    let rule = if side == "buy" {
        "stop_loss < reference < take_profit"
    } else {
        "take_profit < reference < stop_loss"
    };
    write!(
        f,
        "{side} bracket must satisfy {rule}; got stop_loss {} reference {reference} take_profit {}",
        OptDecimal(stop_loss),
        OptDecimal(take_profit)
    )
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::IpNotAllowed { ip } => {
                write!(f, "source address {ip} is not in the allowlist")
            }
            Rejection::BodyTooLarge { len, limit } => {
                write!(f, "body is {len} bytes; at most {limit} bytes are allowed")
            }
            Rejection::MissingSignature { header } => {
                write!(f, "{header} is missing; this gate requires a signature")
            }
            Rejection::MalformedSignature { header, reason } => {
                write!(f, "{header} cannot be read: {reason}")
            }
            Rejection::BadSignature { header } => {
                write!(f, "{header} does not match any configured secret")
            }
            Rejection::SignatureExpired {
                timestamp_s,
                now_s,
                tolerance_s,
            } => write!(
                f,
                "signed timestamp {timestamp_s} is {}s from now ({now_s}); at most {tolerance_s}s is allowed",
                (now_s - timestamp_s).unsigned_abs()
            ),
            Rejection::InvalidJson { offset, reason } => {
                write!(f, "body is not valid JSON at byte {offset}: {reason}")
            }
            Rejection::NotAnObject => f.write_str("body must be a JSON object"),
            Rejection::DuplicateField { field } => write!(
                f,
                "field \"{field}\" appears more than once (directly or as an alias); each field may appear once"
            ),
            Rejection::MissingField { field } => write!(f, "field \"{field}\" is required"),
            Rejection::InvalidField {
                field,
                value,
                expected,
            } => write!(f, "field \"{field}\" has value {value}; expected {expected}"),
            Rejection::MissingPrice {
                order_type,
                expected,
            } => write!(f, "a {order_type} order requires {expected}"),
            Rejection::CancelWithOrderField { field, value } => write!(
                f,
                "field \"{field}\" has value {value}, but a cancel alert (\"action\": \"cancel\") places no order; remove the field, or send a buy or sell alert"
            ),
            Rejection::CancelOnOrder { value } => write!(
                f,
                "field \"cancel\" has value {value}, but only a cancel alert (\"action\": \"cancel\") takes it; this alert is a buy or sell"
            ),
            Rejection::BelowConfidence { confidence, min } => write!(
                f,
                "confidence {} is below the minimum {min}",
                OptDecimal(confidence)
            ),
            Rejection::QuantityTooLarge { quantity, max } => {
                write!(f, "quantity {quantity} is above max_quantity {max}")
            }
            Rejection::SymbolNotAllowed { symbol } => {
                write!(f, "symbol {symbol} is not in the symbol allowlist")
            }
            Rejection::OrderValueTooLarge { value, max } => {
                write!(f, "order value {value} is above max_order_value {max}")
            }
            Rejection::UnpricedOrder { max } => {
                write!(f, "{UNPRICED}: cannot check max_order_value {max}")
            }
            Rejection::InvertedBracket {
                side,
                stop_loss,
                reference,
                take_profit,
            } => write_inverted_bracket(f, side, stop_loss, reference, take_profit),
            Rejection::Stale { age_ms, max_age_ms } => write!(
                f,
                "alert timestamp is {age_ms} ms old; at most {max_age_ms} ms is allowed"
            ),
            Rejection::FromFuture {
                ahead_ms,
                max_skew_ms,
            } => write!(
                f,
                "alert timestamp is {ahead_ms} ms in the future; at most {max_skew_ms} ms is allowed"
            ),
            Rejection::RateLimited { retry_after_ms } => {
                write!(f, "rate limit exceeded; retry in {retry_after_ms} ms")
            }
            Rejection::Replayed { event_id } => write!(
                f,
                "event id {event_id} was already accepted inside the replay window"
            ),
            Rejection::ReplayCacheFull { capacity } => write!(
                f,
                "replay guard is full ({capacity} live entries); refusing rather than forgetting an event"
            ),
        }
    }
}

impl core::error::Error for Rejection {}

/// Why a [`crate::Config`] could not be turned into a [`crate::Gate`].
///
/// Configuration mistakes are the operator's, found once at start-up; they are
/// kept apart from [`Rejection`], which describes requests.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The scheme signs requests but no secret was configured.
    NoSecret {
        /// The scheme's name.
        scheme: &'static str,
    },
    /// More secrets than the gate can hold.
    TooManySecrets {
        /// Number given.
        given: usize,
        /// Maximum supported.
        max: usize,
    },
    /// A secret cannot be decoded (e.g. `whsec_` secret that is not base64).
    BadSecret {
        /// Index of the secret in the configured list.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A configuration value is out of range.
    InvalidValue {
        /// The setting's name.
        setting: &'static str,
        /// What is allowed.
        expected: &'static str,
    },
}

impl ConfigError {
    /// Stable snake_case identifier.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::NoSecret { .. } => "no_secret",
            ConfigError::TooManySecrets { .. } => "too_many_secrets",
            ConfigError::BadSecret { .. } => "bad_secret",
            ConfigError::InvalidValue { .. } => "invalid_value",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoSecret { scheme } => {
                write!(f, "auth scheme {scheme} needs at least one secret")
            }
            ConfigError::TooManySecrets { given, max } => {
                write!(f, "{given} secrets given; at most {max} are supported")
            }
            // Never print the secret itself.
            ConfigError::BadSecret { index, reason } => write!(f, "secret #{index}: {reason}"),
            ConfigError::InvalidValue { setting, expected } => {
                write!(f, "{setting}: expected {expected}")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_listed() {
        for (i, a) in Rejection::CODES.iter().enumerate() {
            for b in &Rejection::CODES[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(Rejection::CODES.len(), 25);
    }

    #[test]
    fn snippet_escapes_and_truncates() {
        assert_eq!(snippet(b"").as_str(), "");
        assert_eq!(snippet(b"\\").as_str(), "\\\\");
        assert_eq!(snippet("é".as_bytes()).as_str(), "\\xc3\\xa9");
        let long = snippet(&[b'a'; 200]);
        assert_eq!(long.len(), SNIPPET_CAP);
        assert!(long.ends_with("..."));
        // Exactly at the budget: nothing cut, no marker.
        let fits = snippet(&[b'a'; SNIPPET_CAP - 3]);
        assert!(!fits.ends_with("..."));
    }
}
