//! The paper exchange as a [`Venue`]: the [`MockExchange`] of `serve`'s
//! paper stage (same fill rules, costs, log and recovery), on its own log
//! (`[venue] exchange_log`), behind the same trait as a real venue. A
//! strategy on `paper` whose `[sizing]` is not `alert` trades here through
//! the live stage, so sizing, the order log, exactly-once and the fill log
//! work on paper as they will on the venue.
//!
//! # How it answers
//!
//! - prices: the venue has no market of its own. The gateway tells it
//!   each order's price ([`Venue::observe_price`]: market data, else the
//!   alert's); a market order fills at the last one (after a restart, at
//!   the last one its log holds). A market order with no price known is
//!   refused (`venue_no_price`).
//! - positions: signed (shorts allowed), so sizing treats paper like a
//!   futures venue ([`VenueKind::has_positions`]). Equity is `[simulation]
//!   initial_cash` plus realized and unrealized PnL, net of fees.
//! - rules: none ([`TradingRules::unrestricted`] under [`ANY_SYMBOL`]):
//!   any symbol, any positive quantity, any price.
//! - reduce-only: checked when the order is submitted (opposite the
//!   position, not beyond it; else `venue_reduce_only_rejected`). A market
//!   order executes then, so that is exact. A resting one (limit, stop) is
//!   not checked again when it executes: the exchange cancels it if a later
//!   fill flattens or reverses the position first, but after a partial
//!   reduction in between it could cross zero (a real venue would shrink
//!   it).
//! - a client id already submitted is never executed again
//!   ([`VenueError::Duplicate`]: query it).
//! - cancel: a working order is withdrawn ([`MockExchange::cancel`]: a
//!   cancel line in the log); a finished one cannot be cancelled
//!   (`venue_cancel_rejected`), as on Binance.
//!
//! Calls are synchronous under a mutex: the live stage sends one order at
//! a time, so nothing waits on the lock. Those that write (submit, cancel:
//! one fsync each) run off the runtime's workers (`off_the_workers`).

use std::collections::{BTreeSet, HashMap};
use std::io::{self, BufRead};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use alertgate_simulator::exchange::f64_to_decimal;
use alertgate_validator::{Decimal, OrderType, Side};

use super::rules::ANY_SYMBOL;
use super::{
    Account, Balance, ErrorCounts, OrderReport, OrderStatus, Position, TradingRules, Venue,
    VenueError, VenueKind, VenueOrder, VenueOrderKind,
};
use crate::clock::wall_clock_ms;
use crate::serve::execution::off_the_workers;
use crate::serve::journal::ExecOrder;
use crate::serve::mock::{
    CancelLine, ExecutionError, FillRecord, LogLine, MockExchange, MockSettings,
};

const NAME: &str = "paper";

/// Significant digits the exchange's `f64` quantities and prices are
/// reported with, and at most [`REPORT_DECIMALS`] decimal places: enough
/// for any order, few enough that float residue (`0.03 - 0.02`, a sum of
/// many fills; `f64` holds about 15.9 digits) never shows up as a position
/// `target` sizing would then order a crumb of.
const REPORT_DIGITS: i32 = 14;

/// See [`REPORT_DIGITS`].
const REPORT_DECIMALS: i32 = 12;

/// What executed of one order, from its fills.
#[derive(Debug, Clone, Default, PartialEq)]
struct Executed {
    symbol: String,
    quantity: f64,
    /// Σ price × quantity, for the average price.
    notional: f64,
    /// When it was submitted, then when it last filled, Unix ms.
    updated_ms: i64,
}

/// The exchange and what the venue keeps beside it.
#[derive(Debug)]
struct Inner {
    exchange: MockExchange,
    /// The last price the gateway observed per symbol.
    observed: HashMap<String, Decimal>,
    /// Per client id: what executed of it (bracket legs' fills excluded:
    /// the paper venue places none).
    orders: HashMap<String, Executed>,
}

/// The paper exchange as a venue (see the module doc).
#[derive(Debug)]
pub struct PaperVenue {
    inner: Mutex<Inner>,
    /// Every call that ended in an error, counted once.
    errors: Arc<ErrorCounts>,
}

/// `x` as a decimal of at most [`REPORT_DIGITS`] significant digits and
/// [`REPORT_DECIMALS`] places (`None` if not finite or too large).
fn reported(x: f64) -> Option<Decimal> {
    if !x.is_finite() {
        return None;
    }
    let whole_digits = if x.abs() >= 1.0 {
        x.abs().log10().floor() as i32 + 1
    } else {
        0
    };
    let places = (REPORT_DIGITS - whole_digits).clamp(0, REPORT_DECIMALS) as usize;
    let text = format!("{x:.places$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let d = Decimal::parse(text).or_else(|| f64_to_decimal(x))?;
    Some(if d.mantissa() == 0 { Decimal::ZERO } else { d })
}

fn rejected(code: &'static str, message: String) -> VenueError {
    VenueError::Rejected {
        venue: NAME,
        code,
        venue_code: 0,
        message,
    }
}

fn malformed(reason: String) -> VenueError {
    VenueError::Malformed {
        venue: NAME,
        endpoint: "exchange",
        reason,
    }
}

impl Inner {
    /// Records what `fills` executed (an order's own fills, not its
    /// bracket's).
    fn record(&mut self, fills: &[FillRecord]) {
        for f in fills.iter().filter(|f| !f.reason.is_bracket()) {
            let e = self.orders.entry(f.client_order_id.clone()).or_default();
            e.symbol.clone_from(&f.symbol);
            e.quantity += f.quantity;
            e.notional += f.price * f.quantity;
            e.updated_ms = f.at_ms;
        }
    }

    /// Reads the exchange's log (already recovered by
    /// [`MockExchange::open`]) for what each order executed.
    fn read_log(&mut self, path: &Path) -> io::Result<()> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for line in io::BufReader::new(file).lines() {
            let line = line?;
            match serde_json::from_str::<LogLine>(&line) {
                Ok(LogLine::Submit(s)) => {
                    let e = self.orders.entry(s.order.client_order_id).or_default();
                    e.symbol = s.order.symbol;
                    e.updated_ms = s.at_ms;
                }
                Ok(LogLine::Fill(f)) => self.record(&[f]),
                Err(_) => {
                    if let Ok(c) = serde_json::from_str::<CancelLine>(&line) {
                        if let Some(e) = self.orders.get_mut(&c.cancel.client_order_id) {
                            e.updated_ms = c.cancel.at_ms;
                        }
                    }
                    // Else a former log's line, which the mock accepted.
                }
            }
        }
        Ok(())
    }

    /// The price a market order of `symbol` fills at now.
    fn price_of(&self, symbol: &str) -> Option<Decimal> {
        (self.observed.get(symbol).copied()).or_else(|| self.exchange.last_price(symbol))
    }

    fn position(&self, symbol: &str) -> Result<Decimal, VenueError> {
        reported(self.exchange.position(symbol))
            .ok_or_else(|| malformed(format!("the position of {symbol} is not a number")))
    }

    /// Where the order `id` stands, if the exchange has it.
    fn report(&self, symbol: &str, id: &str) -> Result<OrderReport, VenueError> {
        let not_found = || VenueError::NotFound {
            venue: NAME,
            client_order_id: id.to_string(),
        };
        let e = self.orders.get(id).ok_or_else(not_found)?;
        if e.symbol != symbol || !self.exchange.has_submitted(id) {
            return Err(not_found());
        }
        let executed_quantity = reported(e.quantity)
            .ok_or_else(|| malformed(format!("the executed quantity of {id} is not a number")))?;
        let status = if self.exchange.is_working(id) {
            OrderStatus::New
        } else if executed_quantity.is_positive() {
            OrderStatus::Filled
        } else {
            // A reversal cancelled it before it executed (the exchange's
            // rule: it cancels the orders that arrived before it).
            OrderStatus::Canceled
        };
        let average_price = (e.quantity > 0.0)
            .then(|| reported(e.notional / e.quantity))
            .flatten();
        Ok(OrderReport {
            client_order_id: id.to_string(),
            venue_order_id: id.to_string(),
            status,
            executed_quantity,
            average_price,
            updated_ms: e.updated_ms,
        })
    }

    /// Refuses a reduce-only order the exchange cannot honour.
    fn check_reduce_only(&self, order: &VenueOrder) -> Result<(), VenueError> {
        if !order.reduce_only {
            return Ok(());
        }
        let position = self.position(&order.symbol)?;
        let reduces = match order.side {
            Side::Buy => position.is_negative(),
            Side::Sell => position.is_positive(),
        };
        let size = Decimal::new(position.mantissa().abs(), position.scale());
        if !reduces || size.is_some_and(|size| order.quantity > size) {
            return Err(rejected(
                "venue_reduce_only_rejected",
                format!(
                    "a reduce-only {:?} of {} {} would not only reduce the position {position}",
                    order.side, order.quantity, order.symbol
                ),
            ));
        }
        Ok(())
    }

    /// The exchange's order for `order`: a market order is priced at the
    /// last observed price (refused when there is none).
    fn exec_order(&self, order: &VenueOrder) -> Result<ExecOrder, VenueError> {
        let last = self.price_of(&order.symbol);
        let (order_type, price, stop_price) = match order.kind {
            VenueOrderKind::Market => (OrderType::Market, None, None),
            VenueOrderKind::Limit { price } => (OrderType::Limit, Some(price), None),
            VenueOrderKind::StopMarket { trigger } => (OrderType::StopLoss, None, Some(trigger)),
            VenueOrderKind::TakeProfitMarket { trigger } => {
                (OrderType::TakeProfit, None, Some(trigger))
            }
            // Spot's one-cancels-other list: the paper venue has none (its
            // brackets are refused before anything is sized).
            VenueOrderKind::Oco { .. } => {
                return Err(rejected(
                    "venue_brackets_unsupported",
                    "the paper venue takes no OCO order list".into(),
                ))
            }
        };
        if order_type == OrderType::Market && last.is_none() {
            return Err(no_price(&order.symbol));
        }
        let id = &order.client_order_id;
        Ok(ExecOrder {
            price,
            stop_price,
            mark_price: last,
            ..ExecOrder::new(
                id,
                id,
                &order.symbol,
                order.side,
                order_type,
                order.quantity,
            )
        })
    }

    fn submit(&mut self, order: &VenueOrder) -> Result<OrderReport, VenueError> {
        let id = &order.client_order_id;
        if self.exchange.has_submitted(id) {
            return Err(VenueError::Duplicate {
                venue: NAME,
                client_order_id: id.clone(),
            });
        }
        if !order.quantity.is_positive() {
            return Err(rejected(
                "venue_paper_invalid_order",
                format!("quantity {} is not above 0", order.quantity),
            ));
        }
        self.check_reduce_only(order)?;
        let exec = self.exec_order(order)?;
        let at_ms = wall_clock_ms();
        let execution = self
            .exchange
            .execute(&exec, at_ms)
            .map_err(|e| execution_error(&order.symbol, e))?;
        let e = self.orders.entry(id.clone()).or_default();
        e.symbol.clone_from(&order.symbol);
        e.updated_ms = at_ms;
        self.record(&execution.fills);
        self.report(&order.symbol, id)
    }

    fn account(&self) -> Result<Account, VenueError> {
        let ex = self.exchange.exchange();
        let equity =
            reported(ex.equity()).ok_or_else(|| malformed("equity is not a number".into()))?;
        // Futures-like: the wallet is the equity without unrealized PnL.
        let wallet = reported(ex.equity() - ex.unrealized())
            .ok_or_else(|| malformed("cash is not a number".into()))?;
        let mut positions = Vec::new();
        let mut quotes = BTreeSet::new();
        for symbol in self.exchange.symbols() {
            if let Some((_, quote)) = symbol.rsplit_once('/') {
                quotes.insert(quote.to_string());
            }
            let quantity = self.position(symbol)?;
            if quantity.mantissa() != 0 {
                positions.push(Position {
                    symbol: symbol.to_string(),
                    quantity,
                    mark_price: self.exchange.last_price(symbol),
                });
            }
        }
        // One cash pot, shown under each quote asset traded.
        let balances = quotes
            .into_iter()
            .map(|asset| Balance {
                asset,
                free: wallet,
                locked: Decimal::ZERO,
            })
            .collect();
        Ok(Account {
            equity: Some(equity),
            balances,
            positions,
        })
    }
}

fn no_price(symbol: &str) -> VenueError {
    rejected(
        "venue_no_price",
        format!("no price known for {symbol}: a market order on paper needs the alert's price or market data"),
    )
}

/// An exchange failure as a venue error: a log that could not be written
/// means nothing happened (the order may be sent again).
fn execution_error(symbol: &str, e: ExecutionError) -> VenueError {
    match e {
        ExecutionError::NoPrice { .. } => no_price(symbol),
        e if e.is_log_failure() => VenueError::NotSent {
            venue: NAME,
            reason: e.to_string(),
        },
        e => rejected("venue_paper_invalid_order", e.to_string()),
    }
}

impl PaperVenue {
    /// Opens (creating) the exchange log at `path` and rebuilds the
    /// exchange from it, with `settings`' cash and costs.
    pub fn open(path: &Path, settings: MockSettings) -> io::Result<PaperVenue> {
        let exchange = MockExchange::open(path, settings)?;
        let mut inner = Inner {
            exchange,
            observed: HashMap::new(),
            orders: HashMap::new(),
        };
        inner.read_log(path)?;
        Ok(PaperVenue {
            inner: Mutex::new(inner),
            errors: Arc::new(ErrorCounts::new(NAME)),
        })
    }

    /// The calls that ended in an error, by code.
    pub fn errors(&self) -> &Arc<ErrorCounts> {
        &self.errors
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the exchange half-updated: its
        // changes are made whole or not at all.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cancels the working order `id` of `symbol` (see the module doc).
    fn cancel_now(&self, symbol: &str, id: &str) -> Result<OrderReport, VenueError> {
        let mut inner = self.lock();
        let report = inner.report(symbol, id)?;
        if report.status.is_final() {
            return Err(rejected(
                "venue_cancel_rejected",
                format!("order {id} is {}: nothing to cancel", report.status.name()),
            ));
        }
        let at_ms = wall_clock_ms();
        match inner.exchange.cancel(id, at_ms) {
            Ok(_) => {}
            // Not written: nothing happened.
            Err(e @ ExecutionError::LogWrite { .. }) => {
                return Err(VenueError::NotSent {
                    venue: NAME,
                    reason: e.to_string(),
                })
            }
            // Written, but the state could not be rebuilt yet: it is, before
            // anything else, once the disk lets it.
            Err(e) => {
                return Err(VenueError::Unknown {
                    venue: NAME,
                    reason: e.to_string(),
                })
            }
        }
        if let Some(e) = inner.orders.get_mut(id) {
            e.updated_ms = at_ms;
        }
        inner.report(symbol, id)
    }
}

impl Venue for PaperVenue {
    fn kind(&self) -> VenueKind {
        VenueKind::Paper
    }

    async fn server_time(&self) -> Result<i64, VenueError> {
        Ok(wall_clock_ms())
    }

    async fn trading_rules(
        &self,
        _quotes: &[&str],
    ) -> Result<Vec<(String, TradingRules)>, VenueError> {
        Ok(vec![(ANY_SYMBOL.to_string(), TradingRules::unrestricted())])
    }

    async fn submit(
        &self,
        order: &VenueOrder,
        _timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        let result = off_the_workers(|| self.lock().submit(order));
        self.errors.note("submit", result)
    }

    async fn query(
        &self,
        symbol: &str,
        client_order_id: &str,
        _timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        let result = self.lock().report(symbol, client_order_id);
        self.errors.note("query", result)
    }

    async fn cancel(
        &self,
        symbol: &str,
        client_order_id: &str,
        _timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        let result = off_the_workers(|| self.cancel_now(symbol, client_order_id));
        self.errors.note("cancel", result)
    }

    async fn account(&self, _timestamp_ms: i64) -> Result<Account, VenueError> {
        let result = self.lock().account();
        self.errors.note("account", result)
    }

    async fn mark_price(&self, symbol: &str) -> Result<Decimal, VenueError> {
        let result = self.lock().price_of(symbol).ok_or_else(|| no_price(symbol));
        self.errors.note("mark_price", result)
    }

    fn observe_price(&self, symbol: &str, price: Decimal) {
        if price.is_positive() {
            self.lock().observed.insert(symbol.to_string(), price);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alertgate_simulator::exchange::Costs;
    use Side::{Buy, Sell};

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    /// No fees or slippage: fills at exactly the observed price.
    fn free() -> MockSettings {
        MockSettings {
            initial_cash: 10_000.0,
            costs: Costs {
                maker_fee_bps: 0.0,
                taker_fee_bps: 0.0,
                slippage_bps: 0.0,
            },
        }
    }

    fn market(id: &str, side: Side, qty: &str) -> VenueOrder {
        VenueOrder::market(id, "BTC/USDT", side, d(qty))
    }

    fn open(dir: &tempfile::TempDir) -> PaperVenue {
        PaperVenue::open(&dir.path().join("paper.jsonl"), free()).unwrap()
    }

    #[tokio::test]
    async fn a_market_order_fills_at_the_last_observed_price_and_shows_in_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let v = open(&dir);
        v.observe_price("BTC/USDT", d("100"));
        let r = v.submit(&market("a1", Buy, "1.5"), 0).await.unwrap();
        assert_eq!(r.status, OrderStatus::Filled);
        assert_eq!(r.executed_quantity, d("1.5"));
        assert_eq!(r.average_price, Some(d("100")));
        assert_eq!(v.query("BTC/USDT", "a1", 0).await.unwrap(), r);
        // A later order at 110 marks the position there.
        v.observe_price("BTC/USDT", d("110"));
        v.submit(&market("a2", Sell, "0.5"), 0).await.unwrap();
        let account = v.account(0).await.unwrap();
        assert_eq!(account.position("BTC/USDT"), d("1"));
        // 0.5 sold with a gain of 10 each, 1 held 10 above its price.
        assert_eq!(account.equity, Some(d("10015")));
        assert_eq!(account.free("USDT"), d("10005"));
        assert_eq!(v.mark_price("BTC/USDT").await.unwrap(), d("110"));
    }

    #[tokio::test]
    async fn shorts_are_allowed_and_reported_signed() {
        let dir = tempfile::tempdir().unwrap();
        let v = open(&dir);
        v.observe_price("ETH/USDT", d("2000"));
        let order = VenueOrder::market("s1", "ETH/USDT", Sell, d("0.5"));
        v.submit(&order, 0).await.unwrap();
        assert_eq!(v.account(0).await.unwrap().position("ETH/USDT"), d("-0.5"));
        assert_eq!(v.kind(), VenueKind::Paper);
        assert!(v.kind().has_positions());
    }

    #[tokio::test]
    async fn a_market_order_with_no_price_known_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let v = open(&dir);
        let e = v.submit(&market("n1", Buy, "1"), 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_no_price");
        assert!(e.had_no_effect());
        assert_eq!(
            v.mark_price("BTC/USDT").await.unwrap_err().code(),
            "venue_no_price"
        );
        let e = v.query("BTC/USDT", "n1", 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_order_not_found");
        // Nothing but the new log's rules line.
        let log = std::fs::read_to_string(dir.path().join("paper.jsonl")).unwrap();
        assert_eq!(log, "{\"rules\":\"stops_first\"}\n");
    }

    // Multi-thread: the fsync runs through `block_in_place`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_id_submitted_twice_executes_once() {
        let dir = tempfile::tempdir().unwrap();
        let v = open(&dir);
        v.observe_price("BTC/USDT", d("100"));
        v.submit(&market("dup", Buy, "1"), 0).await.unwrap();
        let e = v.submit(&market("dup", Buy, "1"), 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_duplicate_order");
        assert_eq!(v.account(0).await.unwrap().position("BTC/USDT"), d("1"));
        let r = v.query("BTC/USDT", "dup", 0).await.unwrap();
        assert_eq!(r.executed_quantity, d("1"));
    }

    #[tokio::test]
    async fn a_limit_rests_until_a_later_price_reaches_it_and_cancel_says_what_it_can() {
        let dir = tempfile::tempdir().unwrap();
        let v = open(&dir);
        v.observe_price("BTC/USDT", d("100"));
        let limit = VenueOrder {
            kind: VenueOrderKind::Limit { price: d("95") },
            ..market("l1", Buy, "2")
        };
        let r = v.submit(&limit, 0).await.unwrap();
        assert_eq!(
            (r.status, r.executed_quantity),
            (OrderStatus::New, Decimal::ZERO)
        );
        // Another order's price at 94 reaches the limit: it fills at 94.
        v.observe_price("BTC/USDT", d("94"));
        v.submit(&market("m1", Buy, "1"), 0).await.unwrap();
        let r = v.query("BTC/USDT", "l1", 0).await.unwrap();
        assert_eq!(r.status, OrderStatus::Filled);
        assert_eq!(r.executed_quantity, d("2"));
        assert_eq!(r.average_price, Some(d("94")));
        let e = v.cancel("BTC/USDT", "l1", 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_cancel_rejected");
        let e = v.cancel("BTC/USDT", "nope", 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_order_not_found");
        // Known, but not on this symbol.
        let e = v.query("ETH/USDT", "l1", 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_order_not_found");
    }

    #[tokio::test]
    async fn a_cancelled_limit_never_fills_even_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let v = open(&dir);
        v.observe_price("BTC/USDT", d("100"));
        let limit = VenueOrder {
            kind: VenueOrderKind::Limit { price: d("95") },
            ..market("c1", Buy, "2")
        };
        v.submit(&limit, 0).await.unwrap();
        let r = v.cancel("BTC/USDT", "c1", 0).await.unwrap();
        assert_eq!(
            (r.status, r.executed_quantity),
            (OrderStatus::Canceled, Decimal::ZERO)
        );
        let e = v.cancel("BTC/USDT", "c1", 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_cancel_rejected");
        // 90 would have reached it.
        v.observe_price("BTC/USDT", d("90"));
        v.submit(&market("c2", Buy, "1"), 0).await.unwrap();
        assert_eq!(v.account(0).await.unwrap().position("BTC/USDT"), d("1"));
        let account = v.account(0).await.unwrap();
        drop(v);
        let v = open(&dir);
        assert_eq!(v.account(0).await.unwrap(), account);
        let after = v.query("BTC/USDT", "c1", 0).await.unwrap();
        assert_eq!(after, r);
        // Its id is spent.
        let e = v.submit(&limit, 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_duplicate_order");
    }

    #[tokio::test]
    async fn reduce_only_is_honoured_at_once_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let v = open(&dir);
        v.observe_price("BTC/USDT", d("100"));
        let reduce = |id: &str, side, qty| VenueOrder {
            reduce_only: true,
            ..market(id, side, qty)
        };
        // Flat: nothing to reduce.
        let e = v.submit(&reduce("r0", Sell, "1"), 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_reduce_only_rejected");
        v.submit(&market("r1", Buy, "1"), 0).await.unwrap();
        let e = v.submit(&reduce("r2", Sell, "1.5"), 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_reduce_only_rejected");
        let e = v.submit(&reduce("r3", Buy, "0.5"), 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_reduce_only_rejected");
        // A resting reduce-only stop within the position is taken.
        let stop = |id: &str, qty| VenueOrder {
            kind: VenueOrderKind::StopMarket { trigger: d("90") },
            ..reduce(id, Sell, qty)
        };
        let e = v.submit(&stop("r4", "2"), 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_reduce_only_rejected");
        let r = v.submit(&stop("r4b", "0.5"), 0).await.unwrap();
        assert_eq!(r.status, OrderStatus::New);
        v.submit(&reduce("r5", Sell, "1"), 0).await.unwrap();
        // The flattening fill cancelled the older resting stop.
        let r = v.query("BTC/USDT", "r4b", 0).await.unwrap();
        assert_eq!(r.status, OrderStatus::Canceled);
        assert_eq!(
            v.account(0).await.unwrap().position("BTC/USDT"),
            Decimal::ZERO
        );
        assert!(v.account(0).await.unwrap().positions.is_empty());
    }

    #[tokio::test]
    async fn reopening_the_log_gives_back_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let (account, reports) = {
            let v = open(&dir);
            v.observe_price("BTC/USDT", d("100"));
            v.submit(&market("p1", Buy, "0.03"), 0).await.unwrap();
            v.observe_price("BTC/USDT", d("101"));
            v.submit(&market("p2", Sell, "0.02"), 0).await.unwrap();
            let limit = VenueOrder {
                kind: VenueOrderKind::Limit { price: d("90") },
                ..market("p3", Buy, "1")
            };
            v.submit(&limit, 0).await.unwrap();
            let mut reports = Vec::new();
            for id in ["p1", "p2", "p3"] {
                reports.push(v.query("BTC/USDT", id, 0).await.unwrap());
            }
            (v.account(0).await.unwrap(), reports)
        };
        let v = open(&dir);
        assert_eq!(v.account(0).await.unwrap(), account);
        // No float residue: 0.03 - 0.02 is 0.01.
        assert_eq!(account.position("BTC/USDT"), d("0.01"));
        for r in &reports {
            let id = &r.client_order_id;
            assert_eq!(&v.query("BTC/USDT", id, 0).await.unwrap(), r);
        }
        assert_eq!(reports[2].status, OrderStatus::New);
        // The last price is in the log: a market order needs no new one.
        let e = v.submit(&market("p2", Buy, "1"), 0).await.unwrap_err();
        assert_eq!(e.code(), "venue_duplicate_order");
        let r = v.submit(&market("p4", Buy, "1"), 0).await.unwrap();
        assert_eq!(r.average_price, Some(d("101")));
    }

    #[tokio::test]
    async fn any_symbol_trades_without_rules() {
        let dir = tempfile::tempdir().unwrap();
        let rules = open(&dir).trading_rules(&["USDT"]).await.unwrap();
        assert_eq!(
            rules,
            vec![(ANY_SYMBOL.to_string(), TradingRules::unrestricted())]
        );
    }

    #[test]
    fn reported_numbers_drop_float_residue() {
        assert_eq!(reported(0.03 - 0.02), Some(d("0.01")));
        assert_eq!(reported(50_000.0 * 1.0005), Some(d("50025")));
        assert_eq!(reported(1_234_567.1 + 0.2), Some(d("1234567.3")));
        assert_eq!(reported(0.000_000_012_3), Some(d("0.0000000123")));
        assert_eq!(reported(1e30), None);
        assert_eq!(reported(-1e-18), Some(Decimal::ZERO));
        assert_eq!(reported(-0.5), Some(d("-0.5")));
        assert_eq!(reported(f64::NAN), None);
    }
}
