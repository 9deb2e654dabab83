//! The venue layer: what the execution stage needs to place an accepted
//! order on an exchange, exactly once.
//!
//! # Map
//!
//! - this module: the [`Venue`] trait every venue implements, and the
//!   types it speaks ([`VenueOrder`], [`OrderReport`], [`Account`],
//!   [`VenueError`] with stable `venue_*` codes);
//! - [`rules`]: a symbol's trading rules applied with exact decimals before
//!   anything is sent;
//! - [`binance`]: Binance Spot and USDⓈ-M futures (endpoints, signing,
//!   `exchangeInfo`).
//! - [`error_counts`]: each failed call counted and logged once, by the
//!   venue's client (`alertgate_venue_errors_total`).
//!
//! Data flows one way: the gateway's execution stage turns an accepted
//! [`ExecOrder`](crate::serve::journal::ExecOrder) into a [`VenueOrder`]
//! (sizing, rules), logs the intent durably, then calls
//! [`Venue::submit`]; an answer it cannot trust ([`VenueError::Unknown`])
//! is resolved with [`Venue::query`], never by sending the order again
//! blindly.
//!
//! # Designed for the venues to come
//!
//! Every venue planned (Binance, Bybit v5, OKX v5, Alpaca) identifies an
//! order by a client id the gateway chooses; `[A-Za-z0-9]{1,32}` is valid
//! on all of them ([`client_order_id_is_portable`]). Bybit's and Alpaca's
//! ids are unique forever; OKX reuses a `clOrdId` once its order is
//! finished and Binance once it is no longer open, so exactly-once rests on
//! the gateway's own log, not on the venue's memory. Signing differs per
//! venue (Binance: hex HMAC of the query and body; Bybit: of `timestamp +
//! key + recvWindow + body` in headers; OKX: base64 HMAC of `timestamp +
//! METHOD + path + body` with a passphrase; Alpaca: no signature), so it
//! lives in each venue's module, behind this trait.

use std::future::Future;

use alertgate_validator::{Decimal, Side};

pub mod ban_file;
pub mod binance;
pub mod clock;
pub mod error_counts;
pub mod exactly_once;
pub mod fill_log;
pub mod http;
pub mod order_log;
pub mod paper;
pub mod rules;
pub mod settings;
pub mod sizing;

pub use binance::{BinanceSettings, BinanceVenue, Credentials};
pub use error_counts::ErrorCounts;
pub use http::{HttpSettings, RateLimits};
pub use paper::PaperVenue;
pub use rules::{RuleViolation, TradingRules};

/// Which venue a `[venue]` section names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VenueKind {
    /// The built-in paper exchange (the default; no key).
    Paper,
    /// Binance Spot.
    BinanceSpot,
    /// Binance USDⓈ-M futures.
    BinanceUsdm,
}

impl VenueKind {
    /// The name used in the configuration, logs and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            VenueKind::Paper => "paper",
            VenueKind::BinanceSpot => "binance-spot",
            VenueKind::BinanceUsdm => "binance-usdm",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<VenueKind> {
        [
            VenueKind::Paper,
            VenueKind::BinanceSpot,
            VenueKind::BinanceUsdm,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// Whether the venue trades derivatives with positions (reduce-only,
    /// leverage), rather than balances. The paper venue does: it allows
    /// shorts, so sizing treats it like a futures venue (signed positions,
    /// equity, reduce-only for what an order closes).
    pub const fn has_positions(self) -> bool {
        matches!(self, VenueKind::BinanceUsdm | VenueKind::Paper)
    }
}

/// How an order executes on the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VenueOrderKind {
    /// At the market.
    Market,
    /// A limit order, good till cancelled.
    Limit {
        /// The limit price, already on the symbol's tick.
        price: Decimal,
    },
    /// A stop-market order (a stop-loss).
    StopMarket {
        /// The trigger price, on the tick.
        trigger: Decimal,
    },
    /// A take-profit market order.
    TakeProfitMarket {
        /// The trigger price, on the tick.
        trigger: Decimal,
    },
    /// A one-cancels-the-other exit pair on the order's whole quantity: a
    /// stop-loss and a take-profit, each market when triggered; when one
    /// executes the venue cancels the other. Binance Spot's order list
    /// (`POST /api/v3/orderList/oco`); its report is the list's (see
    /// [`binance`]).
    Oco {
        /// The stop-loss trigger, on the tick.
        stop: Decimal,
        /// The take-profit trigger, on the tick.
        take_profit: Decimal,
    },
}

/// One order as a venue takes it: sized, rounded to the symbol's rules,
/// with the client id that makes it exactly-once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VenueOrder {
    /// `[A-Za-z0-9]{1,32}`, a function of (strategy, event id).
    pub client_order_id: String,
    /// `BASE/QUOTE`, as the gate knows it; each venue maps it
    /// ([`binance::venue_symbol`]).
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit, stop or take-profit.
    pub kind: VenueOrderKind,
    /// Base units (contracts where a venue counts in them), on the step.
    pub quantity: Decimal,
    /// Only reduces a position (derivatives); ignored by spot venues.
    pub reduce_only: bool,
    /// Whether it is a bracket leg (placed by the gateway to protect a
    /// position) rather than an alert's own order: `None` in order logs
    /// written before the gateway recorded it, where the shape tells (see
    /// [`VenueOrder::is_leg`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leg: Option<bool>,
}

impl VenueOrder {
    /// Whether it is a bracket leg: as recorded, else (older logs) by its
    /// shape, a reduce-only conditional order or OCO list. An alert's own
    /// reduce-only stop has that shape too: recorded, it is never taken
    /// for a leg (a cancel alert cancels it, a flatten leaves it).
    pub fn is_leg(&self) -> bool {
        let shaped = self.reduce_only
            && matches!(
                self.kind,
                VenueOrderKind::StopMarket { .. }
                    | VenueOrderKind::TakeProfitMarket { .. }
                    | VenueOrderKind::Oco { .. }
            );
        self.leg.unwrap_or(shaped)
    }

    /// A market order of `quantity` `symbol` (`BASE/QUOTE`), not
    /// reduce-only.
    pub fn market(client_order_id: &str, symbol: &str, side: Side, quantity: Decimal) -> Self {
        VenueOrder {
            client_order_id: client_order_id.to_string(),
            symbol: symbol.to_string(),
            side,
            kind: VenueOrderKind::Market,
            quantity,
            reduce_only: false,
            leg: Some(false),
        }
    }
}

/// Where an order stands on the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, working, nothing executed.
    New,
    /// Working, partly executed.
    PartiallyFilled,
    /// Executed in full.
    Filled,
    /// Cancelled (by the gateway, the venue or a self-trade rule), perhaps
    /// after partial fills.
    Canceled,
    /// Refused after acceptance (e.g. a post-only that would take).
    Rejected,
    /// Expired (time in force, a market order with no liquidity).
    Expired,
}

impl OrderStatus {
    /// `new`, `partially_filled`, `filled`, `canceled`, `rejected` or
    /// `expired`.
    pub const fn name(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }

    /// Whether nothing more can happen to the order.
    pub const fn is_final(self) -> bool {
        !matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }
}

/// What the venue says of one order (the answer to a submit, a query or a
/// cancel).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderReport {
    /// The gateway's client id.
    pub client_order_id: String,
    /// The venue's own id.
    pub venue_order_id: String,
    /// Its state.
    pub status: OrderStatus,
    /// Quantity executed so far, base units.
    pub executed_quantity: Decimal,
    /// Average execution price, if anything executed and the venue says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_price: Option<Decimal>,
    /// The venue's time of its last change, Unix ms.
    pub updated_ms: i64,
}

/// One open position of a derivatives account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Signed size: positive long, negative short, base units.
    pub quantity: Decimal,
    /// The venue's mark price, if it says.
    pub mark_price: Option<Decimal>,
}

/// One asset balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// `USDT`, `BTC`, ….
    pub asset: String,
    /// Available to trade.
    pub free: Decimal,
    /// Held by open orders.
    pub locked: Decimal,
}

/// An account as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Account {
    /// Total equity in the quote asset (futures: wallet balance plus
    /// unrealized PnL); spot venues leave it `None`.
    pub equity: Option<Decimal>,
    /// Balances by asset.
    pub balances: Vec<Balance>,
    /// Open positions (derivatives), non-zero only.
    pub positions: Vec<Position>,
}

impl Account {
    /// The signed position in `symbol` (zero when none).
    pub fn position(&self, symbol: &str) -> Decimal {
        self.positions
            .iter()
            .find(|p| p.symbol == symbol)
            .map_or(Decimal::ZERO, |p| p.quantity)
    }

    /// The free balance of `asset` (zero when none).
    pub fn free(&self, asset: &str) -> Decimal {
        self.balances
            .iter()
            .find(|b| b.asset == asset)
            .map_or(Decimal::ZERO, |b| b.free)
    }
}

/// Why a venue call did not give an answer the gateway can act on. Each
/// has a stable code ([`VenueError::code`]) for the journal, the logs and
/// `/metrics`. Messages never hold a key or a signature.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The venue answered and refused the request: nothing happened. `code`
    /// is the stable `venue_*` code, `venue_code` the venue's own number.
    #[error("{venue} refused the request ({code}, venue code {venue_code}): {message}")]
    Rejected {
        /// The venue's name.
        venue: &'static str,
        /// Stable `venue_*` code.
        code: &'static str,
        /// The venue's own error number.
        venue_code: i64,
        /// The venue's message.
        message: String,
    },
    /// The request may or may not have taken effect: a timeout, a 5xx, a
    /// connection lost after sending, or the venue saying so itself
    /// (Binance -1007). An order in this state is resolved by querying.
    #[error("{venue}: outcome unknown: {reason}")]
    Unknown {
        /// The venue's name.
        venue: &'static str,
        /// What happened.
        reason: String,
    },
    /// The request was never sent (the connection could not be opened, or
    /// the gateway itself held it back): nothing happened.
    #[error("{venue}: not sent: {reason}")]
    NotSent {
        /// The venue's name.
        venue: &'static str,
        /// Why.
        reason: String,
    },
    /// Too many requests (HTTP 429): nothing happened; wait `retry_after_ms`.
    #[error("{venue}: rate limited, retry after {retry_after_ms} ms")]
    RateLimited {
        /// The venue's name.
        venue: &'static str,
        /// How long to wait, ms (the `Retry-After` header).
        retry_after_ms: u64,
    },
    /// The address is banned (HTTP 418) until `until_ms` (Unix ms): nothing
    /// is sent before then.
    #[error("{venue}: banned until {until_ms} (Unix ms)")]
    Banned {
        /// The venue's name.
        venue: &'static str,
        /// When the ban ends, Unix ms.
        until_ms: i64,
    },
    /// The venue does not know the order (query or cancel).
    #[error("{venue}: no order with client id {client_order_id}")]
    NotFound {
        /// The venue's name.
        venue: &'static str,
        /// The id asked about.
        client_order_id: String,
    },
    /// The venue refused the order because its client id is already in
    /// use (Binance -2010 "Duplicate order sent.", USDⓈ-M -4116): this
    /// request had no effect, but an order with this id exists (perhaps
    /// the one an earlier, unanswered attempt placed): query it.
    #[error("{venue}: client order id {client_order_id} is already in use")]
    Duplicate {
        /// The venue's name.
        venue: &'static str,
        /// The id sent.
        client_order_id: String,
    },
    /// The venue does not list the symbol (or does not trade it now).
    #[error("{venue}: unknown symbol {symbol}")]
    UnknownSymbol {
        /// The venue's name.
        venue: &'static str,
        /// `BASE/QUOTE`.
        symbol: String,
    },
    /// The order breaks the symbol's trading rules: refused before sending.
    #[error("{0}")]
    Rule(#[from] RuleViolation),
    /// An answer that could not be read (not the documented shape).
    #[error("{venue}: unreadable answer from {endpoint}: {reason}")]
    Malformed {
        /// The venue's name.
        venue: &'static str,
        /// The endpoint.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl VenueError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            VenueError::Rejected { code, .. } => code,
            VenueError::Unknown { .. } => "venue_outcome_unknown",
            VenueError::NotSent { .. } => "venue_not_sent",
            VenueError::RateLimited { .. } => "venue_rate_limited",
            VenueError::Banned { .. } => "venue_banned",
            VenueError::NotFound { .. } => "venue_order_not_found",
            VenueError::Duplicate { .. } => "venue_duplicate_order",
            VenueError::UnknownSymbol { .. } => "venue_unknown_symbol",
            VenueError::Rule(v) => v.code(),
            VenueError::Malformed { .. } => "venue_malformed_answer",
        }
    }

    /// Whether the request certainly had no effect (so the same order may
    /// be sent again, with the same client id).
    pub fn had_no_effect(&self) -> bool {
        !matches!(self, VenueError::Unknown { .. })
    }
}

/// A trading venue. Every call is one request (no retries inside: the
/// caller decides, since an order POST must never be retried blindly).
/// `timestamp_ms` is the venue's clock (local clock plus the measured
/// offset); a signed request is valid there until `timestamp_ms +
/// recv_window`.
pub trait Venue: Send + Sync {
    /// Which venue.
    fn kind(&self) -> VenueKind;

    /// The venue's clock, Unix ms.
    fn server_time(&self) -> impl Future<Output = Result<i64, VenueError>> + Send;

    /// The trading rules of every symbol the venue lists and trades now,
    /// by `BASE/QUOTE` where the venue's symbol can be split with
    /// `quotes` (the configured quote assets), else by the venue's name.
    fn trading_rules(
        &self,
        quotes: &[&str],
    ) -> impl Future<Output = Result<Vec<(String, TradingRules)>, VenueError>> + Send;

    /// Places `order`, signed at `timestamp_ms`.
    fn submit(
        &self,
        order: &VenueOrder,
        timestamp_ms: i64,
    ) -> impl Future<Output = Result<OrderReport, VenueError>> + Send;

    /// The order with `client_order_id` on `symbol`
    /// ([`VenueError::NotFound`] when the venue does not know it).
    fn query(
        &self,
        symbol: &str,
        client_order_id: &str,
        timestamp_ms: i64,
    ) -> impl Future<Output = Result<OrderReport, VenueError>> + Send;

    /// Cancels the order with `client_order_id` on `symbol`.
    fn cancel(
        &self,
        symbol: &str,
        client_order_id: &str,
        timestamp_ms: i64,
    ) -> impl Future<Output = Result<OrderReport, VenueError>> + Send;

    /// Balances, equity and positions.
    fn account(
        &self,
        timestamp_ms: i64,
    ) -> impl Future<Output = Result<Account, VenueError>> + Send;

    /// The symbol's mark price (futures) or last price (spot): what
    /// `equity_pct` sizing values an order at.
    fn mark_price(&self, symbol: &str) -> impl Future<Output = Result<Decimal, VenueError>> + Send;

    /// The commission charged in `symbol`'s base asset on the executions
    /// of the order `report` describes: a spot buy may pay its fee out of
    /// what it bought, so less than `executed_quantity` is held (and can
    /// be sold by a bracket). Zero by default: venues whose fees are never
    /// taken from the base asset need not ask.
    fn base_commission(
        &self,
        symbol: &str,
        report: &OrderReport,
        timestamp_ms: i64,
    ) -> impl Future<Output = Result<Decimal, VenueError>> + Send {
        let _ = (symbol, report, timestamp_ms);
        async { Ok(Decimal::ZERO) }
    }

    /// A price the gateway observed for `symbol` (`BASE/QUOTE`), from
    /// market data or the accepted alert, told before the order it came
    /// with is sized and sent. The paper venue has no market of its own:
    /// it fills market orders at the last price it was told. Real venues
    /// have their own market and ignore it (the default).
    fn observe_price(&self, symbol: &str, price: Decimal) {
        let _ = (symbol, price);
    }
}

/// The base asset of `BASE/QUOTE` (the whole name if it has no `/`).
pub fn base_asset(symbol: &str) -> &str {
    symbol.split_once('/').map_or(symbol, |(base, _)| base)
}

/// Whether `id` is a client order id every planned venue accepts:
/// `[A-Za-z0-9]{1,32}`.
pub fn client_order_id_is_portable(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in [
            VenueKind::Paper,
            VenueKind::BinanceSpot,
            VenueKind::BinanceUsdm,
        ] {
            assert_eq!(VenueKind::parse(k.name()), Some(k));
        }
        assert_eq!(VenueKind::parse("binance"), None);
    }

    #[test]
    fn only_a_timeout_like_error_may_have_had_an_effect() {
        let unknown = VenueError::Unknown {
            venue: "binance-spot",
            reason: "timeout".into(),
        };
        assert!(!unknown.had_no_effect());
        assert_eq!(unknown.code(), "venue_outcome_unknown");
        let limited = VenueError::RateLimited {
            venue: "binance-spot",
            retry_after_ms: 1000,
        };
        assert!(limited.had_no_effect());
    }

    #[test]
    fn portable_ids_are_short_and_alphanumeric() {
        assert!(client_order_id_is_portable(
            "ag0123456789abcdef0123456789abcd"
        ));
        assert!(!client_order_id_is_portable("ag-0123"));
        assert!(!client_order_id_is_portable(""));
        assert!(!client_order_id_is_portable(&"a".repeat(33)));
    }
}
