//! Binance's answers: which ones are errors and which error each is (the
//! classification exactly-once rests on), and the documented bodies read
//! into the venue layer's types. Every body is untrusted input: a shape
//! that does not match is an error, never a panic.
//!
//! # Classification
//!
//! | Answer                                              | Result                                          |
//! |-----------------------------------------------------|-------------------------------------------------|
//! | 2xx, documented body                                | `Ok`                                            |
//! | 2xx, unreadable body, order-changing call           | `Unknown` (it may have taken effect)            |
//! | 2xx, unreadable body, read-only call                | `Malformed`                                     |
//! | code -1006 or -1007, any status                     | `Unknown` ("execution status unknown")          |
//! | 5xx (Binance: "execution status is UNKNOWN")        | `Unknown`                                       |
//! | 429 / 418 (in [`crate::venue::http`])               | `RateLimited` / `Banned`, later calls held back |
//! | -1013, -1111, -4002..-4005, -4013, -4014, -4016, -4023, -4024, -4131, -4164, -4183, -4184 | `Rejected venue_filter_failure` |
//! | -2021, -4142 (a stop that would trigger at once)    | `Rejected venue_would_trigger_immediately`      |
//! | -4015 (client order id not valid)                   | `Rejected venue_invalid_order`                  |
//! | -2010 "Duplicate order sent.", -4116                | `Duplicate` (`venue_duplicate_order`)           |
//! | -2010 "…insufficient balance…"                      | `Rejected venue_insufficient_balance`           |
//! | -2010 otherwise                                     | `Rejected venue_order_rejected`                 |
//! | -1021                                               | `Rejected venue_timestamp_outside_window`       |
//! | -1022                                               | `Rejected venue_bad_signature`                  |
//! | -1002, -2014, -2015                                 | `Rejected venue_bad_api_key`                    |
//! | -2013; -2011 "Unknown order sent."                  | `NotFound`                                      |
//! | -2011 otherwise                                     | `Rejected venue_cancel_rejected`                |
//! | -2018, -2019                                        | `Rejected venue_insufficient_margin`            |
//! | -2022, -4118                                        | `Rejected venue_reduce_only_rejected`           |
//! | -1121                                               | `Rejected venue_unknown_symbol`                 |
//! | -1003, -1015 (outside a 429)                        | `Rejected venue_rate_limited`                   |
//! | -4061                                               | `Rejected venue_position_side_mismatch`         |
//! | -4120 (conditional order on the old endpoint; from the 2025 algo-order migration notice, not in the error list) | `Rejected venue_order_type_unsupported` |
//! | any other code, 4xx                                 | `Rejected venue_error`                          |
//! | 4xx without a `{"code","msg"}` body (e.g. a WAF 403) | `Rejected venue_error`, venue code 0           |
//! | 1xx / 3xx                                           | `Unknown`                                       |

use alertgate_validator::Decimal;
use serde::Deserialize;

use crate::venue::http::HttpAnswer;
use crate::venue::{Account, Balance, OrderReport, OrderStatus, Position, VenueError};

/// Binance's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: i64,
    #[serde(default)]
    msg: String,
}

/// Whether an unreadable 2xx answer may hide an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only: an unreadable answer is [`VenueError::Malformed`].
    ReadOnly,
    /// Places, cancels or changes something: an unreadable answer is
    /// [`VenueError::Unknown`].
    Changes,
}

/// What a call was about, for the errors it may turn into.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The venue's name.
    pub venue: &'static str,
    /// The endpoint, for [`VenueError::Malformed`].
    pub endpoint: &'static str,
    /// Read-only or not.
    pub effect: Effect,
    /// The client order id concerned, if any.
    pub client_order_id: Option<&'a str>,
}

impl Call<'_> {
    /// `answer` if it is a success, else the error it means (see the
    /// module's table).
    pub fn check<'b>(&self, answer: &'b HttpAnswer) -> Result<&'b str, VenueError> {
        let error = serde_json::from_str::<ErrorBody>(&answer.body).ok();
        let status = answer.status;
        match error {
            Some(e) if e.code == -1006 || e.code == -1007 => {
                Err(self.unknown(format!("HTTP {status}, venue code {}: {}", e.code, e.msg)))
            }
            _ if status >= 500 => {
                Err(self.unknown(format!("HTTP {status}: {}", excerpt(&answer.body))))
            }
            // Some endpoints answer 200 with `{"code":200,"msg":"success"}`:
            // only a negative code is an error.
            Some(e) if e.code < 0 && (200..500).contains(&status) => {
                Err(self.refused(e.code, e.msg))
            }
            _ if (200..300).contains(&status) => Ok(&answer.body),
            _ if (400..500).contains(&status) => Err(self.rejected(
                "venue_error",
                0,
                format!("HTTP {status}: {}", excerpt(&answer.body)),
            )),
            _ => Err(self.unknown(format!("unexpected HTTP {status}"))),
        }
    }

    /// The error a Binance error code means (the module's table).
    pub fn refused(&self, code: i64, msg: String) -> VenueError {
        let id = || self.client_order_id.unwrap_or_default().to_string();
        let stable = match code {
            -2010 if msg.contains("Duplicate order") => {
                return VenueError::Duplicate {
                    venue: self.venue,
                    client_order_id: id(),
                }
            }
            -4116 => {
                return VenueError::Duplicate {
                    venue: self.venue,
                    client_order_id: id(),
                }
            }
            -2013 => return self.not_found(),
            -2011 if msg.is_empty() || msg.contains("Unknown order") => return self.not_found(),
            -1006 | -1007 => return self.unknown(format!("venue code {code}: {msg}")),
            -2010 if msg.contains("insufficient balance") => "venue_insufficient_balance",
            -2010 => "venue_order_rejected",
            -2011 => "venue_cancel_rejected",
            -1013 | -1111 | -4002 | -4003 | -4004 | -4005 | -4013 | -4014 | -4016 | -4023
            | -4024 | -4131 | -4164 | -4183 | -4184 => "venue_filter_failure",
            -2021 | -4142 => "venue_would_trigger_immediately",
            -4015 => "venue_invalid_order",
            -1021 => "venue_timestamp_outside_window",
            -1022 => "venue_bad_signature",
            -1002 | -2014 | -2015 => "venue_bad_api_key",
            -2018 | -2019 => "venue_insufficient_margin",
            -2022 | -4118 => "venue_reduce_only_rejected",
            -1121 => "venue_unknown_symbol",
            -1003 | -1015 => "venue_rate_limited",
            -4061 => "venue_position_side_mismatch",
            -4120 => "venue_order_type_unsupported",
            _ => "venue_error",
        };
        self.rejected(stable, code, msg)
    }

    /// The body of a 2xx answer read as `T`, or the error an unreadable
    /// one means for this call.
    pub fn parse<T: serde::de::DeserializeOwned>(&self, body: &str) -> Result<T, VenueError> {
        serde_json::from_str(body).map_err(|e| self.unreadable(e.to_string()))
    }

    /// An answer that is not the documented shape.
    pub fn unreadable(&self, reason: String) -> VenueError {
        match self.effect {
            Effect::Changes => self.unknown(format!(
                "unreadable answer from {}: {reason}",
                self.endpoint
            )),
            Effect::ReadOnly => VenueError::Malformed {
                venue: self.venue,
                endpoint: self.endpoint,
                reason,
            },
        }
    }

    fn rejected(&self, code: &'static str, venue_code: i64, message: String) -> VenueError {
        VenueError::Rejected {
            venue: self.venue,
            code,
            venue_code,
            message,
        }
    }

    fn unknown(&self, reason: String) -> VenueError {
        VenueError::Unknown {
            venue: self.venue,
            reason,
        }
    }

    fn not_found(&self) -> VenueError {
        VenueError::NotFound {
            venue: self.venue,
            client_order_id: self.client_order_id.unwrap_or_default().to_string(),
        }
    }
}

/// The first 200 characters of a body, for an error message (a body is
/// the venue's answer: it never holds the request's signature).
fn excerpt(body: &str) -> String {
    body.chars().take(200).collect()
}

/// `GET time`.
#[derive(Debug, Deserialize)]
pub struct ServerTime {
    /// Unix ms.
    #[serde(rename = "serverTime")]
    pub server_time: i64,
}

/// A Spot order (`POST order` with `FULL`, `GET order`, `DELETE order`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotOrder {
    order_id: i64,
    client_order_id: String,
    /// On a cancel, the id of the order cancelled (`clientOrderId` is then
    /// the cancel's own).
    #[serde(default)]
    orig_client_order_id: Option<String>,
    status: String,
    executed_qty: Decimal,
    #[serde(default)]
    cummulative_quote_qty: Option<Decimal>,
    #[serde(default)]
    update_time: Option<i64>,
    #[serde(default)]
    transact_time: Option<i64>,
}

impl SpotOrder {
    /// As an [`OrderReport`]; the average price is the quote amount over
    /// the quantity executed.
    pub fn report(self, call: &Call<'_>) -> Result<OrderReport, VenueError> {
        let status = order_status(&self.status)
            .ok_or_else(|| call.unreadable(format!("status {:?}", self.status)))?;
        let average_price = match self.cummulative_quote_qty {
            Some(quote) if self.executed_qty.is_positive() => divide(quote, self.executed_qty),
            _ => None,
        };
        Ok(OrderReport {
            client_order_id: self.orig_client_order_id.unwrap_or(self.client_order_id),
            venue_order_id: self.order_id.to_string(),
            status,
            executed_quantity: self.executed_qty,
            average_price,
            updated_ms: self.update_time.or(self.transact_time).unwrap_or(0),
        })
    }
}

/// A USDⓈ-M order (`POST`, `GET`, `DELETE /fapi/v1/order`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesOrder {
    order_id: i64,
    client_order_id: String,
    status: String,
    executed_qty: Decimal,
    #[serde(default)]
    avg_price: Option<Decimal>,
    #[serde(default)]
    update_time: Option<i64>,
}

impl FuturesOrder {
    /// As an [`OrderReport`] (`avgPrice` is "0" until something executes).
    pub fn report(self, call: &Call<'_>) -> Result<OrderReport, VenueError> {
        let status = order_status(&self.status)
            .ok_or_else(|| call.unreadable(format!("status {:?}", self.status)))?;
        let average_price = self.avg_price.filter(|_| self.executed_qty.is_positive());
        Ok(OrderReport {
            client_order_id: self.client_order_id,
            venue_order_id: self.order_id.to_string(),
            status,
            executed_quantity: self.executed_qty,
            average_price,
            updated_ms: self.update_time.unwrap_or(0),
        })
    }
}

/// A USDⓈ-M conditional order (`/fapi/v1/algoOrder`, as documented for
/// "Query Algo Order": `algoStatus`, `quantity`, `actualPrice`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgoOrder {
    algo_id: i64,
    client_algo_id: String,
    #[serde(default)]
    algo_status: Option<String>,
    #[serde(default)]
    quantity: Option<Decimal>,
    #[serde(default)]
    actual_price: Option<Decimal>,
    #[serde(default)]
    update_time: Option<i64>,
    #[serde(default)]
    create_time: Option<i64>,
}

impl AlgoOrder {
    /// As an [`OrderReport`]. The documented answer says nothing of
    /// partial execution: until `FINISHED` (the order it placed is done)
    /// the conditional order is reported working (`TRIGGERING`,
    /// `TRIGGERED`), then filled with its quantity at `actualPrice`.
    pub fn report(self, call: &Call<'_>) -> Result<OrderReport, VenueError> {
        let status = match self.algo_status.as_deref().unwrap_or("NEW") {
            "NEW" | "TRIGGERING" | "TRIGGERED" => OrderStatus::New,
            "FINISHED" => OrderStatus::Filled,
            "CANCELED" | "CANCELLED" => OrderStatus::Canceled,
            "REJECTED" | "FAILED" => OrderStatus::Rejected,
            "EXPIRED" => OrderStatus::Expired,
            other => return Err(call.unreadable(format!("algoStatus {other:?}"))),
        };
        let filled = status == OrderStatus::Filled;
        let executed_quantity = match self.quantity {
            Some(q) if filled => q,
            _ => Decimal::ZERO,
        };
        Ok(OrderReport {
            client_order_id: self.client_algo_id,
            venue_order_id: format!("algo-{}", self.algo_id),
            status,
            executed_quantity,
            average_price: self.actual_price.filter(|p| filled && p.is_positive()),
            updated_ms: self.update_time.or(self.create_time).unwrap_or(0),
        })
    }
}

/// Binance's order status (Spot and USDⓈ-M) as the venue layer's.
pub fn order_status(status: &str) -> Option<OrderStatus> {
    Some(match status {
        // PENDING_NEW: accepted by the engine, not yet working; PENDING_CANCEL
        // is documented as unused: both are still open.
        "NEW" | "PENDING_NEW" | "PENDING_CANCEL" => OrderStatus::New,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" => OrderStatus::Canceled,
        "REJECTED" => OrderStatus::Rejected,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderStatus::Expired,
        _ => return None,
    })
}

/// `GET /api/v3/account` (the part read).
#[derive(Debug, Deserialize)]
pub struct SpotAccount {
    balances: Vec<SpotBalance>,
}

#[derive(Debug, Deserialize)]
struct SpotBalance {
    asset: String,
    free: Decimal,
    locked: Decimal,
}

impl SpotAccount {
    /// As an [`Account`]: balances only (zero ones left out).
    pub fn account(self) -> Account {
        let balances = self
            .balances
            .into_iter()
            .filter(|b| b.free.is_positive() || b.locked.is_positive())
            .map(|b| Balance {
                asset: b.asset,
                free: b.free,
                locked: b.locked,
            })
            .collect();
        Account {
            equity: None,
            balances,
            positions: Vec::new(),
        }
    }
}

/// `GET /fapi/v3/account` (the part read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesAccount {
    total_wallet_balance: Decimal,
    total_unrealized_profit: Decimal,
    #[serde(default)]
    assets: Vec<FuturesAsset>,
    #[serde(default)]
    positions: Vec<FuturesPosition>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FuturesAsset {
    asset: String,
    wallet_balance: Decimal,
    available_balance: Decimal,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FuturesPosition {
    symbol: String,
    position_amt: Decimal,
    #[serde(default)]
    notional: Option<Decimal>,
}

impl FuturesAccount {
    /// As an [`Account`]: equity = wallet balance + unrealized PnL; free =
    /// `availableBalance`, locked = the rest of the wallet balance (zero
    /// when unrealized profit makes more available than the wallet
    /// holds); non-zero positions, named by `name` (venue symbol →
    /// `BASE/QUOTE`), with the mark price `notional / positionAmt`.
    pub fn account(
        self,
        call: &Call<'_>,
        name: impl Fn(&str) -> String,
    ) -> Result<Account, VenueError> {
        let equity = add(self.total_wallet_balance, self.total_unrealized_profit)
            .ok_or_else(|| call.unreadable("equity out of range".into()))?;
        let balances = self
            .assets
            .into_iter()
            .filter(|a| a.wallet_balance.is_positive() || a.available_balance.is_positive())
            .map(|a| Balance {
                locked: add(a.wallet_balance, negate(a.available_balance))
                    .filter(Decimal::is_positive)
                    .unwrap_or(Decimal::ZERO),
                asset: a.asset,
                free: a.available_balance,
            })
            .collect();
        let positions = self
            .positions
            .into_iter()
            .filter(|p| p.position_amt != Decimal::ZERO)
            .map(|p| Position {
                symbol: name(&p.symbol),
                quantity: p.position_amt,
                mark_price: p.notional.and_then(|n| divide(abs(n), abs(p.position_amt))),
            })
            .collect();
        Ok(Account {
            equity: Some(equity),
            balances,
            positions,
        })
    }
}

/// `GET /fapi/v1/premiumIndex?symbol=` (the part read).
#[derive(Debug, Deserialize)]
pub struct PremiumIndex {
    /// The mark price.
    #[serde(rename = "markPrice")]
    pub mark_price: Decimal,
}

/// `GET /api/v3/ticker/price?symbol=` (the part read).
#[derive(Debug, Deserialize)]
pub struct TickerPrice {
    /// The last price.
    pub price: Decimal,
}

/// `GET /fapi/v1/positionSide/dual`.
#[derive(Debug, Deserialize)]
pub struct PositionMode {
    /// `true`: hedge mode; `false`: one-way mode.
    #[serde(rename = "dualSidePosition")]
    pub dual_side_position: bool,
}

fn negate(d: Decimal) -> Decimal {
    Decimal::new(-d.mantissa(), d.scale()).unwrap_or(d)
}

fn abs(d: Decimal) -> Decimal {
    if d.is_negative() {
        negate(d)
    } else {
        d
    }
}

/// `d` if it is within the bounds [`Decimal::parse`] accepts, so it reads
/// back from what it serializes to (reports are journaled).
fn bounded(d: Decimal) -> Option<Decimal> {
    Decimal::parse(&d.to_string())
}

/// `a + b`, exact, if within [`Decimal::parse`]'s bounds.
pub fn add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    let widen = |d: Decimal| -> Option<i128> {
        10i128
            .checked_pow(u32::from(scale - d.scale()))?
            .checked_mul(d.mantissa())
    };
    let sum = widen(a)?.checked_add(widen(b)?)?;
    bounded(Decimal::new(sum, scale)?)
}

/// `a / b` for positive `a` and `b`, truncated to what [`Decimal::parse`]
/// accepts (18 significant digits, 18 places): an average price, where the
/// 18th digit does not matter. `None` if not representable.
pub fn divide(a: Decimal, b: Decimal) -> Option<Decimal> {
    if !a.is_positive() || !b.is_positive() {
        return None;
    }
    let (n, d) = (a.mantissa(), b.mantissa());
    // a / b = (n / d) × 10^(b.scale - a.scale): long division of n by d,
    // one decimal digit at a time, while the quotient has room.
    let (mut q, mut r, mut places) = (n / d, n % d, 0i32);
    while r != 0 && q < 100_000_000_000_000_000 && places < 36 {
        let r10 = r.checked_mul(10)?;
        q = q * 10 + r10 / d;
        r = r10 % d;
        places += 1;
    }
    let mut scale = places + i32::from(a.scale()) - i32::from(b.scale());
    while scale < 0 {
        q = q.checked_mul(10)?;
        scale += 1;
    }
    // Past 18 places or digits: truncate.
    while scale > 18 || q >= 1_000_000_000_000_000_000 {
        if scale == 0 {
            return None;
        }
        q /= 10;
        scale -= 1;
    }
    bounded(Decimal::new(q, u8::try_from(scale).ok()?)?)
}

mod lists;
pub use lists::{commission_in, ListState, MyTrade, OrderList};

#[cfg(test)]
mod tests;
