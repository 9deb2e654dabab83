//! The mock exchange: working orders, fills against bars, positions, cash and
//! realized PnL.
//!
//! The rules, close to backtesting.py's and backtrader's on bar data (the
//! differences from backtesting.py: `docs/replay.md`, "backtesting.py
//! conventions"):
//!
//! - **One net position per symbol** (one-way mode), cash in the quote
//!   currency, realized PnL matched **FIFO** against the open lots, fees
//!   charged on every fill's notional. There is no margin model: cash may go
//!   negative (order size limits are the gate's `max_quantity` and
//!   `max_order_value`).
//! - Bars are stamped with their start. An order that reaches the exchange
//!   at `a` works from the **first bar whose start ≥ `a`** on: a bar that had
//!   already started is never used, since its high and low may have happened
//!   before the order existed (no look-ahead). On trade data each trade is a
//!   bar of one price, so that bar is the first trade with time ≥ `a`.
//! - Market: fills at that bar's open.
//! - Limit (and `take_profit` orders): a buy fills when low ≤ limit, at
//!   min(open, limit); a sell when high ≥ limit, at max(open, limit).
//! - Stop (`stop_loss` orders): a buy triggers when high ≥ stop and fills at
//!   max(open, stop); a sell when low ≤ stop, at min(open, stop). A gap
//!   through the price therefore fills at the open, for every kind.
//! - An order's `stop_loss` / `take_profit` attach a reduce-only OCO
//!   [`Bracket`] for the quantity that order opened. Brackets are checked
//!   after the bar's orders, so they are live from the entry bar on; when
//!   both legs are touched in one bar **the stop-loss fills** (the
//!   pessimistic choice: a bar does not tell which came first).
//! - A fill that flattens or reverses a position cancels that symbol's
//!   brackets and the orders that reached the exchange before it: they were
//!   about the position that just ended. Other orders are good till
//!   cancelled.
//! - Costs: slippage (bps, against the trader) on market and stop fills,
//!   including a bracket's stop-loss; limit prices are guaranteed, so limit
//!   and take-profit fills have none. Market and stop fills pay the taker
//!   fee, limit and take-profit fills the maker fee.
//!
//! These are alertgate's conventions, the default. [`Conventions::BacktestingPy`]
//! (`[simulation] conventions = "backtesting.py"`) swaps them for
//! backtesting.py 0.6.6's own, exactly ([`backtesting_py`]), so a replay can be
//! checked against a backtest one trusts.
//!
//! Quantities and prices are `f64`: exact decimals decided what was
//! accepted; here they only value positions. Decimals become `f64` in
//! [`decimal_to_f64`] (an order's kind: [`OrderKind::for_order`]). A position closer to zero than
//! a billionth of the fill that closed it is flat (float residue of e.g.
//! `0.1 + 0.2 - 0.3`).

use std::collections::VecDeque;
use std::fmt::Write as _;

use alertgate_validator::{Decimal, OrderType, Side};
use serde::{Deserialize, Serialize};

use crate::market::Bar;

pub mod backtesting_py;
#[cfg(test)]
mod test_support;
use backtesting_py::BacktestingPy;
pub use backtesting_py::Conventions;

/// Fees and slippage, in basis points of a fill's notional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    /// Fee of limit and take-profit fills.
    pub maker_fee_bps: f64,
    /// Fee of market and stop fills.
    pub taker_fee_bps: f64,
    /// Price moved against market and stop fills.
    pub slippage_bps: f64,
}

/// How an order executes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OrderKind {
    /// At the open of the first bar it works in.
    Market,
    /// At this price or better (limit and take-profit orders).
    Limit(f64),
    /// Becomes a market order when the price reaches this trigger
    /// (stop-loss orders).
    Stop(f64),
}

impl OrderKind {
    /// How an order of `order_type` executes: the one mapping, for
    /// `replay`'s engine and the gateway's paper exchange alike. A market
    /// order at the market; a limit as a limit, a take-profit order as a
    /// limit, a stop-loss order as a stop, each at its
    /// [`OrderKind::price_of`].
    ///
    /// `None` for a limit without `price`, or a stop-loss or take-profit
    /// order with neither price: the gate refuses those (`missing_price`),
    /// so an order it accepted always has a kind. The `Option` stays
    /// because the types do not tie a price to an order type (an
    /// [`Order`](alertgate_validator::Order)'s prices are optional fields),
    /// and the gateway also reads orders back from a file, its exchange
    /// log.
    ///
    /// ```
    /// use alertgate_simulator::exchange::OrderKind;
    /// use alertgate_validator::{Decimal, OrderType};
    /// let p = Decimal::parse("95.5");
    /// assert_eq!(OrderKind::for_order(OrderType::Limit, p, None), Some(OrderKind::Limit(95.5)));
    /// assert_eq!(OrderKind::for_order(OrderType::StopLoss, None, p), Some(OrderKind::Stop(95.5)));
    /// assert_eq!(OrderKind::for_order(OrderType::Limit, None, p), None);
    /// ```
    pub fn for_order(
        order_type: OrderType,
        price: Option<Decimal>,
        stop_price: Option<Decimal>,
    ) -> Option<OrderKind> {
        let own = || OrderKind::price_of(order_type, price, stop_price).map(decimal_to_f64);
        Some(match order_type {
            OrderType::Market => OrderKind::Market,
            OrderType::Limit | OrderType::TakeProfit => OrderKind::Limit(own()?),
            OrderType::StopLoss => OrderKind::Stop(own()?),
        })
    }

    /// The price an order of `order_type` works at: a limit's `price`; a
    /// stop-loss or take-profit order's trigger, `stop_price`, else
    /// `price`. `None` for a market order, and where
    /// [`OrderKind::for_order`] has no kind.
    pub fn price_of(
        order_type: OrderType,
        price: Option<Decimal>,
        stop_price: Option<Decimal>,
    ) -> Option<Decimal> {
        match order_type {
            OrderType::Market => None,
            OrderType::Limit => price,
            OrderType::StopLoss | OrderType::TakeProfit => stop_price.or(price),
        }
    }
}

/// Writes `value`'s `Display` into a stack buffer; `None` if it does not fit.
struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    fn of(value: impl std::fmt::Display) -> Option<StackText<N>> {
        let mut t = StackText {
            buf: [0; N],
            len: 0,
        };
        write!(t, "{value}").ok()?;
        Some(t)
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> std::fmt::Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// An exact decimal as the nearest `f64`, through its text (correctly
/// rounded, unlike `mantissa / 10^scale`, which rounds twice).
pub fn decimal_to_f64(d: Decimal) -> f64 {
    StackText::<80>::of(d)
        .and_then(|t| t.as_str().parse().ok())
        .unwrap_or(f64::NAN)
}

/// A bar price as a decimal for the gate's mark price, through its shortest
/// text; `None` if it has more digits than a decimal holds.
pub fn f64_to_decimal(x: f64) -> Option<Decimal> {
    StackText::<64>::of(x).and_then(|t| Decimal::parse(t.as_str()))
}

/// An order as it reaches the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExchangeOrder {
    /// Caller's id (the alert's index); ids must increase with arrival.
    pub id: u32,
    /// Index of the symbol's market series.
    pub symbol: usize,
    /// Buy or sell.
    pub side: Side,
    /// Base units, above zero.
    pub quantity: f64,
    /// Market, limit or stop.
    pub kind: OrderKind,
    /// Stop-loss leg of the bracket this order attaches to what it opens.
    pub stop_loss: Option<f64>,
    /// Take-profit leg of that bracket.
    pub take_profit: Option<f64>,
    /// When it reached the exchange, Unix ms.
    pub arrival_ms: i64,
}

/// What made a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillReason {
    /// An order from an alert.
    Order,
    /// A bracket's stop-loss leg.
    StopLoss,
    /// A bracket's take-profit leg.
    TakeProfit,
}

impl FillReason {
    /// `order`, `stop_loss` or `take_profit`.
    pub fn name(self) -> &'static str {
        match self {
            FillReason::Order => "order",
            FillReason::StopLoss => "stop_loss",
            FillReason::TakeProfit => "take_profit",
        }
    }
}

/// One execution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    /// The alert's order id (for a bracket leg: the order that opened it).
    pub order_id: u32,
    /// Index of the symbol's market series.
    pub symbol: usize,
    /// Buy or sell.
    pub side: Side,
    /// Base units.
    pub quantity: f64,
    /// Execution price, slippage included.
    pub price: f64,
    /// The bar price the rule picked, before slippage: always within the
    /// bar's [low, high].
    pub reference_price: f64,
    /// Fee charged, quote units.
    pub fee: f64,
    /// Start of the bar it filled in, Unix ms.
    pub time_ms: i64,
    /// Why.
    pub reason: FillReason,
}

/// A round trip: one FIFO lot (or the part of it) opened and then closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedTrade {
    /// Index of the symbol's market series.
    pub symbol: usize,
    /// `Buy` for a long position, `Sell` for a short.
    pub direction: Side,
    /// Base units.
    pub quantity: f64,
    /// Opening fill's time, Unix ms.
    pub entry_ms: i64,
    /// Opening fill's price.
    pub entry_price: f64,
    /// Closing fill's time, Unix ms.
    pub exit_ms: i64,
    /// Closing fill's price.
    pub exit_price: f64,
    /// Price difference times quantity, before fees.
    pub gross_pnl: f64,
    /// This quantity's share of the opening and closing fees.
    pub fees: f64,
}

impl ClosedTrade {
    /// `gross_pnl − fees`.
    pub fn pnl(&self) -> f64 {
        self.gross_pnl - self.fees
    }
}

/// A reduce-only OCO pair protecting what one order opened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bracket {
    /// The order that opened the position.
    pub order_id: u32,
    /// Side of the closing fills (`Sell` protects a long).
    pub closes_with: Side,
    /// Most it may close, base units.
    pub quantity: f64,
    /// Stop-loss trigger.
    pub stop_loss: Option<f64>,
    /// Take-profit limit.
    pub take_profit: Option<f64>,
    /// The bar (its start, Unix ms) in which the opening fill happened and
    /// that fill's price: in that bar the legs can only fill at prices
    /// reachable after it, at their own levels, never at the bar's open
    /// (a price traded before the position existed). `None` in snapshots
    /// written before it was kept.
    #[serde(default)]
    pub attached: Option<(i64, f64)>,
    /// Where the legs sit in backtesting.py's order queue; only under
    /// [`Conventions::BacktestingPy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_slot: Option<backtesting_py::QueueSlot>,
}

/// An open FIFO lot; its sign is the position's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Lot {
    quantity: f64,
    price: f64,
    time_ms: i64,
    fee_per_unit: f64,
    /// The order that opened it: backtesting.py's bracket legs close their
    /// own trade, not the oldest (only under [`Conventions::BacktestingPy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order_id: Option<u32>,
}

/// The prices at which any working order of a book could execute: a bar
/// outside them skips the orders in O(1). Most bars touch no order, and a
/// book may hold many resting limits.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reach {
    market: bool,
    /// Highest buy limit: a bar with low ≤ it may fill one.
    buy_limit: f64,
    /// Lowest sell limit: a bar with high ≥ it may fill one.
    sell_limit: f64,
    /// Lowest buy stop: a bar with high ≥ it may trigger one.
    buy_stop: f64,
    /// Highest sell stop: a bar with low ≤ it may trigger one.
    sell_stop: f64,
}

impl Reach {
    const NONE: Reach = Reach {
        market: false,
        buy_limit: f64::NEG_INFINITY,
        sell_limit: f64::INFINITY,
        buy_stop: f64::INFINITY,
        sell_stop: f64::NEG_INFINITY,
    };

    fn add(&mut self, order: &ExchangeOrder) {
        match (order.kind, order.side) {
            (OrderKind::Market, _) => self.market = true,
            (OrderKind::Limit(p), Side::Buy) => self.buy_limit = self.buy_limit.max(p),
            (OrderKind::Limit(p), Side::Sell) => self.sell_limit = self.sell_limit.min(p),
            (OrderKind::Stop(p), Side::Buy) => self.buy_stop = self.buy_stop.min(p),
            (OrderKind::Stop(p), Side::Sell) => self.sell_stop = self.sell_stop.max(p),
        }
    }

    /// Exactly the union of [`execution_price`]'s conditions.
    fn touches(&self, bar: &Bar) -> bool {
        self.market
            || bar.low <= self.buy_limit
            || bar.high >= self.sell_limit
            || bar.high >= self.buy_stop
            || bar.low <= self.sell_stop
    }
}

impl Default for Reach {
    fn default() -> Self {
        Reach::NONE
    }
}

/// One symbol's state. Serialized without `reach`, which is rebuilt from
/// `working` when read back (see [`Exchange`]'s `Deserialize`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Book {
    /// Net position, base units: positive long, negative short.
    position: f64,
    lots: VecDeque<Lot>,
    /// Working orders in arrival order.
    working: Vec<ExchangeOrder>,
    /// Where `working` could execute.
    #[serde(skip)]
    reach: Reach,
    brackets: Vec<Bracket>,
    /// Last close seen, to value the position.
    mark: f64,
}

impl Book {
    /// Attaches `order`'s bracket, if it has one, to the `opened` quantity
    /// its fill on `side` opened.
    fn attach_bracket(&mut self, order: &ExchangeOrder, side: Side, opened: f64, at: (i64, f64)) {
        if opened > 0.0 && (order.stop_loss.is_some() || order.take_profit.is_some()) {
            self.brackets.push(Bracket {
                order_id: order.id,
                closes_with: opposite(side),
                quantity: opened,
                stop_loss: order.stop_loss,
                take_profit: order.take_profit,
                attached: Some(at),
                queue_slot: None,
            });
        }
    }
}

/// Counters the report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeCounts {
    /// Orders received.
    pub orders: u64,
    /// Orders cancelled by a flattening or reversing fill.
    pub cancelled_orders: u64,
    /// Brackets cancelled by a flattening or reversing fill.
    pub cancelled_brackets: u64,
    /// Orders cancelled by cancel alerts ([`Exchange::cancel`]).
    #[serde(default)]
    pub cancelled_by_alerts: u64,
    /// Cancel alerts that found nothing to cancel: their target had
    /// filled, been cancelled, not yet arrived or never existed, or the
    /// symbol had no working order.
    #[serde(default)]
    pub cancels_unmatched: u64,
    /// Orders still working when the run ended.
    pub open_orders: u64,
}

/// The exchange: every symbol's book, one cash balance. Two exchanges are
/// equal when they hold the same state, bit for bit (the same inputs give
/// equal exchanges).
///
/// It serializes (serde) to its state — books, cash, counters — without
/// the history lists `fills` and `trades`, which read back empty: what a
/// snapshot needs to go on from where it was taken. Read back, it is equal
/// to the one written once those lists are empty. (Write it with an exact
/// float format: `serde_json` with `float_roundtrip`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ExchangeState")]
pub struct Exchange {
    costs: Costs,
    books: Vec<Book>,
    cash: f64,
    fees_paid: f64,
    realized_gross: f64,
    counts: ExchangeCounts,
    /// Every fill, in time order.
    #[serde(skip)]
    pub fills: Vec<Fill>,
    /// Every closed round trip, in time order.
    #[serde(skip)]
    pub trades: Vec<ClosedTrade>,
    /// Reused by `on_bar` so a bar allocates nothing once warmed up.
    #[serde(skip)]
    scratch: Vec<ExchangeOrder>,
    /// The order of a bar's parts.
    intra_bar: IntraBar,
    /// backtesting.py's bookkeeping, present exactly when its conventions
    /// are in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backtesting_py: Option<BacktestingPy>,
}

/// The order in which a bar meets the working orders and the brackets
/// (see [`Exchange::on_bar`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntraBar {
    /// Working orders, then brackets: the rule until 2026-12-07, by which
    /// the paper exchange's logs written before then executed (and so are
    /// replayed). The default of a snapshot that names none.
    #[default]
    OrdersFirst,
    /// The stop-loss legs of the brackets already working first, then the
    /// working orders, then the brackets: protective stops first, the
    /// conservative order (backtesting.py's queue puts stop-losses at its
    /// head too). What [`Exchange::new`] runs.
    StopsFirst,
}

/// An [`Exchange`] as serialized: its books' `reach` is rebuilt from their
/// working orders.
#[derive(Deserialize)]
struct ExchangeState {
    costs: Costs,
    books: Vec<Book>,
    cash: f64,
    fees_paid: f64,
    realized_gross: f64,
    counts: ExchangeCounts,
    #[serde(default)]
    intra_bar: IntraBar,
    #[serde(default)]
    backtesting_py: Option<BacktestingPy>,
}

impl From<ExchangeState> for Exchange {
    fn from(s: ExchangeState) -> Exchange {
        let mut books = s.books;
        for book in &mut books {
            book.reach = Reach::NONE;
            for order in &book.working {
                book.reach.add(order);
            }
        }
        Exchange {
            costs: s.costs,
            books,
            cash: s.cash,
            fees_paid: s.fees_paid,
            realized_gross: s.realized_gross,
            counts: s.counts,
            fills: Vec::new(),
            trades: Vec::new(),
            scratch: Vec::new(),
            intra_bar: s.intra_bar,
            backtesting_py: s.backtesting_py,
        }
    }
}

fn sign(side: Side) -> f64 {
    match side {
        Side::Buy => 1.0,
        Side::Sell => -1.0,
    }
}

fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

/// Which legs of the brackets a pass over them may fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Legs {
    /// Only stop-losses (before the bar's working orders).
    StopLoss,
    /// Stop-losses, then take-profits.
    Both,
}

/// The part of `bar` a bracket's legs can trade in: all of it, or, in the
/// bar whose fill attached the bracket, what follows that fill (as if the
/// bar opened at the fill's price: the bar's real open and anything before
/// the fill traded before the position existed).
fn after_attachment(bracket: &Bracket, bar: &Bar) -> Bar {
    match bracket.attached {
        Some((time_ms, price)) if time_ms == bar.time_ms => Bar {
            open: price,
            ..*bar
        },
        _ => *bar,
    }
}

/// The price at which `kind` executes in `bar` for `side`, if it does.
pub fn execution_price(kind: OrderKind, side: Side, bar: &Bar) -> Option<f64> {
    match (kind, side) {
        (OrderKind::Market, _) => Some(bar.open),
        (OrderKind::Limit(limit), Side::Buy) => (bar.low <= limit).then(|| bar.open.min(limit)),
        (OrderKind::Limit(limit), Side::Sell) => (bar.high >= limit).then(|| bar.open.max(limit)),
        (OrderKind::Stop(stop), Side::Buy) => (bar.high >= stop).then(|| bar.open.max(stop)),
        (OrderKind::Stop(stop), Side::Sell) => (bar.low <= stop).then(|| bar.open.min(stop)),
    }
}

impl Exchange {
    /// An exchange for `symbols` series, holding `initial_cash`.
    pub fn new(symbols: usize, initial_cash: f64, costs: Costs) -> Exchange {
        Exchange {
            costs,
            books: vec![Book::default(); symbols],
            cash: initial_cash,
            fees_paid: 0.0,
            realized_gross: 0.0,
            counts: ExchangeCounts::default(),
            fills: Vec::new(),
            trades: Vec::new(),
            scratch: Vec::new(),
            intra_bar: IntraBar::StopsFirst,
            backtesting_py: None,
        }
    }

    /// Whose rules this exchange follows.
    pub fn conventions(&self) -> Conventions {
        match self.backtesting_py {
            Some(_) => Conventions::BacktestingPy,
            None => Conventions::Alertgate,
        }
    }

    /// Follows `conventions` from now on: set it before the first order
    /// (backtesting.py's books start from the cash held then).
    pub fn set_conventions(&mut self, conventions: Conventions) {
        self.backtesting_py = match conventions {
            Conventions::Alertgate => None,
            Conventions::BacktestingPy => Some(BacktestingPy::new(self.cash)),
        };
    }

    /// The order of a bar's parts this exchange runs.
    pub fn intra_bar(&self) -> IntraBar {
        self.intra_bar
    }

    /// Runs bars in `order` from now on (the paper exchange replaying a
    /// log written under the former rule).
    pub fn set_intra_bar(&mut self, order: IntraBar) {
        self.intra_bar = order;
    }

    /// Adds an empty book for one more symbol and returns its index (the
    /// symbol count before the call).
    pub fn add_symbol(&mut self) -> usize {
        self.books.push(Book::default());
        self.books.len() - 1
    }

    /// How many symbols the exchange has books for.
    pub fn symbols(&self) -> usize {
        self.books.len()
    }

    /// Accepts an order; it works from the next bar that starts at or after
    /// its arrival. The caller delivers orders and bars in time order, an
    /// order before a bar that starts at the same millisecond.
    pub fn submit(&mut self, order: ExchangeOrder) {
        self.counts.orders += 1;
        if let Some(bt) = &mut self.backtesting_py {
            bt.last_order = Some(order.id);
        }
        if let Some(book) = self.books.get_mut(order.symbol) {
            book.reach.add(&order);
            book.working.push(order);
        }
    }

    /// Runs one bar of `symbol`, in this order ([`IntraBar::StopsFirst`],
    /// protective stops first):
    ///
    /// 1. the stop-loss legs of the brackets already working;
    /// 2. the working orders, in arrival order (a fill that flattens or
    ///    reverses cancels the symbol's brackets and older orders);
    /// 3. the brackets, stop-loss before take-profit: those working before
    ///    the bar and those its fills attached (which trade only in what
    ///    follows their fill);
    ///
    /// then marks the position at the close. [`IntraBar::OrdersFirst`]
    /// leaves out step 1. Under [`Conventions::BacktestingPy`] the bar runs
    /// backtesting.py's queue instead (see [`backtesting_py`]).
    pub fn on_bar(&mut self, symbol: usize, bar: &Bar) {
        if symbol >= self.books.len() {
            return;
        }
        if self.backtesting_py.is_some() {
            self.on_bar_backtesting_py(symbol, bar);
            self.books[symbol].mark = bar.close;
            return;
        }
        if self.intra_bar == IntraBar::StopsFirst && !self.books[symbol].brackets.is_empty() {
            self.run_brackets(symbol, bar, Legs::StopLoss);
        }
        if self.books[symbol].reach.touches(bar) {
            self.run_orders(symbol, bar);
        }
        if !self.books[symbol].brackets.is_empty() {
            self.run_brackets(symbol, bar, Legs::Both);
        }
        self.books[symbol].mark = bar.close;
    }

    /// Checks each working order of `symbol` against `bar`, in arrival order.
    fn run_orders(&mut self, symbol: usize, bar: &Bar) {
        let mut orders = std::mem::take(&mut self.scratch);
        orders.clear();
        orders.append(&mut self.books[symbol].working);
        let mut cancel_before: Option<u32> = None;
        for order in orders.drain(..) {
            // A reversal earlier in this bar cancels the orders that had
            // reached the exchange before it.
            if cancel_before.is_some_and(|id| order.id < id) {
                self.counts.cancelled_orders += 1;
                continue;
            }
            match execution_price(order.kind, order.side, bar) {
                Some(reference) => {
                    let liquidity = match order.kind {
                        OrderKind::Market | OrderKind::Stop(_) => Liquidity::Taker,
                        OrderKind::Limit(_) => Liquidity::Maker,
                    };
                    let ended = self.execute(
                        symbol,
                        order.side,
                        order.quantity,
                        reference,
                        liquidity,
                        bar.time_ms,
                        order.id,
                        FillReason::Order,
                        Some(&order),
                    );
                    if ended {
                        cancel_before = Some(order.id);
                        let book = &mut self.books[symbol];
                        let before = book.working.len();
                        book.working.retain(|o| o.id > order.id);
                        self.counts.cancelled_orders += (before - book.working.len()) as u64;
                    }
                }
                None => self.books[symbol].working.push(order),
            }
        }
        self.scratch = orders;
        let book = &mut self.books[symbol];
        book.reach = Reach::NONE;
        for order in &book.working {
            book.reach.add(order);
        }
    }

    /// Checks each bracket of `symbol` against `bar`, stop-loss first.
    fn run_brackets(&mut self, symbol: usize, bar: &Bar, legs: Legs) {
        let mut i = 0;
        while i < self.books[symbol].brackets.len() {
            let b = self.books[symbol].brackets[i];
            let position = self.books[symbol].position;
            let protects = match b.closes_with {
                Side::Sell => position > 0.0,
                Side::Buy => position < 0.0,
            };
            if !protects {
                // Reduce-only with nothing left to reduce.
                self.books[symbol].brackets.remove(i);
                continue;
            }
            let bar = &after_attachment(&b, bar);
            let stop = b
                .stop_loss
                .and_then(|p| execution_price(OrderKind::Stop(p), b.closes_with, bar))
                .map(|price| (price, Liquidity::Taker, FillReason::StopLoss));
            let take = || {
                b.take_profit
                    .filter(|_| legs == Legs::Both)
                    .and_then(|p| execution_price(OrderKind::Limit(p), b.closes_with, bar))
                    .map(|price| (price, Liquidity::Maker, FillReason::TakeProfit))
            };
            match stop.or_else(take) {
                Some((reference, liquidity, reason)) => {
                    let quantity = b.quantity.min(position.abs());
                    self.books[symbol].brackets.remove(i);
                    self.execute(
                        symbol,
                        b.closes_with,
                        quantity,
                        reference,
                        liquidity,
                        bar.time_ms,
                        b.order_id,
                        reason,
                        None,
                    );
                    if self.books[symbol].position == 0.0 {
                        self.books[symbol].brackets.clear();
                    }
                }
                None => i += 1,
            }
        }
    }

    /// Books one fill; returns true if it flattened or reversed a position
    /// (the caller then cancels older orders). `opening` is the order whose
    /// bracket attaches to what this fill opens.
    #[allow(clippy::too_many_arguments)]
    fn execute(
        &mut self,
        symbol: usize,
        side: Side,
        quantity: f64,
        reference: f64,
        liquidity: Liquidity,
        time_ms: i64,
        order_id: u32,
        reason: FillReason,
        opening: Option<&ExchangeOrder>,
    ) -> bool {
        let (fee_bps, slippage_bps) = match liquidity {
            Liquidity::Maker => (self.costs.maker_fee_bps, 0.0),
            Liquidity::Taker => (self.costs.taker_fee_bps, self.costs.slippage_bps),
        };
        let price = reference * (1.0 + sign(side) * slippage_bps / 10_000.0);
        let fee = quantity * price * fee_bps / 10_000.0;
        self.cash -= sign(side) * quantity * price + fee;
        self.fees_paid += fee;
        let fill = Fill {
            order_id,
            symbol,
            side,
            quantity,
            price,
            reference_price: reference,
            fee,
            time_ms,
            reason,
        };
        self.fills.push(fill);

        let before = self.books[symbol].position;
        let remaining = self.match_lots(&fill);
        let book = &mut self.books[symbol];
        let ended =
            before != 0.0 && (book.position == 0.0 || book.position.signum() != before.signum());
        if ended && reason == FillReason::Order {
            self.counts.cancelled_brackets += book.brackets.len() as u64;
            book.brackets.clear();
        }
        if let Some(order) = opening {
            book.attach_bracket(order, side, remaining, (time_ms, reference));
        }
        ended
    }

    /// Closes `fill` FIFO against its symbol's lots of the other direction
    /// (recording the round trips), opens a lot with the rest and updates
    /// the position; returns the quantity opened.
    fn match_lots(&mut self, fill: &Fill) -> f64 {
        let Fill {
            symbol,
            side,
            quantity,
            price,
            fee,
            time_ms,
            ..
        } = *fill;
        let book = &mut self.books[symbol];
        let before = book.position;
        let mut remaining = quantity;
        // Close FIFO against lots of the other direction.
        while remaining > 0.0 {
            let Some(lot) = book.lots.front_mut() else {
                break;
            };
            if lot.quantity.signum() == sign(side) {
                break;
            }
            let closed = remaining.min(lot.quantity.abs());
            let direction = if lot.quantity > 0.0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let gross = (price - lot.price) * closed * sign(direction);
            self.realized_gross += gross;
            self.trades.push(ClosedTrade {
                symbol,
                direction,
                quantity: closed,
                entry_ms: lot.time_ms,
                entry_price: lot.price,
                exit_ms: time_ms,
                exit_price: price,
                gross_pnl: gross,
                fees: lot.fee_per_unit * closed + fee * closed / quantity,
            });
            remaining -= closed;
            lot.quantity -= closed * lot.quantity.signum();
            if lot.quantity.abs() <= quantity * 1e-9 {
                book.lots.pop_front();
            }
            if remaining <= quantity * 1e-9 {
                remaining = 0.0;
            }
        }
        if remaining > 0.0 {
            book.lots.push_back(Lot {
                quantity: sign(side) * remaining,
                price,
                time_ms,
                fee_per_unit: fee / quantity,
                order_id: None,
            });
        }
        // Flat exactly when no lot is left, so float residue never leaves a
        // phantom position behind.
        book.position = if book.lots.is_empty() {
            0.0
        } else {
            before + sign(side) * quantity
        };
        remaining
    }

    /// Cash, quote units.
    pub fn cash(&self) -> f64 {
        self.cash
    }

    /// Cash plus every position at its last close.
    pub fn equity(&self) -> f64 {
        self.cash + self.books.iter().map(|b| b.position * b.mark).sum::<f64>()
    }

    /// Net position of `symbol`, base units.
    pub fn position(&self, symbol: usize) -> f64 {
        self.books.get(symbol).map_or(0.0, |b| b.position)
    }

    /// True if any symbol has a position.
    pub fn has_exposure(&self) -> bool {
        self.books.iter().any(|b| b.position != 0.0)
    }

    /// Unrealized PnL of every position at its last close, before fees.
    pub fn unrealized(&self) -> f64 {
        self.books
            .iter()
            .flat_map(|b| b.lots.iter().map(move |l| (b.mark - l.price) * l.quantity))
            .sum()
    }

    /// The live brackets of `symbol`.
    pub fn brackets(&self, symbol: usize) -> &[Bracket] {
        self.books.get(symbol).map_or(&[], |b| &b.brackets)
    }

    /// The working orders of `symbol`.
    pub fn working(&self, symbol: usize) -> &[ExchangeOrder] {
        self.books.get(symbol).map_or(&[], |b| &b.working)
    }

    /// Fees paid so far.
    pub fn fees_paid(&self) -> f64 {
        self.fees_paid
    }

    /// Realized PnL before fees.
    pub fn realized_gross(&self) -> f64 {
        self.realized_gross
    }

    /// Counters, with `open_orders` counted now.
    pub fn counts(&self) -> ExchangeCounts {
        ExchangeCounts {
            open_orders: self.books.iter().map(|b| b.working.len() as u64).sum(),
            ..self.counts
        }
    }
}

/// Cancel alerts: a separate block, as they touch nothing of the fill
/// rules above.
impl Exchange {
    /// A cancel alert reaches the exchange: withdraws the working order
    /// `target` of `symbol` (an [`ExchangeOrder::id`]), or, with `None`,
    /// every working order of `symbol`; returns how many it withdrew.
    /// Brackets are never touched: a position keeps the protection its
    /// order asked for (to drop it, close the position). A cancel that
    /// finds nothing (the target filled, was cancelled or is another
    /// symbol's) is counted as such, not an error.
    pub fn cancel(&mut self, symbol: usize, target: Option<u32>) -> u64 {
        let Some(book) = self.books.get_mut(symbol) else {
            self.counts.cancels_unmatched += 1;
            return 0;
        };
        let before = book.working.len();
        book.working.retain(|o| target.is_some_and(|id| o.id != id));
        let withdrawn = (before - book.working.len()) as u64;
        if withdrawn > 0 {
            book.reach = Reach::NONE;
            for order in &book.working {
                book.reach.add(order);
            }
        }
        self.counts.cancelled_by_alerts += withdrawn;
        if withdrawn == 0 {
            self.counts.cancels_unmatched += 1;
        }
        withdrawn
    }
}

#[cfg(test)]
mod cancel_tests {
    use super::*;

    fn bar(time_ms: i64, open: f64, high: f64, low: f64) -> Bar {
        Bar {
            time_ms,
            open,
            high,
            low,
            close: open,
            volume: 1.0,
        }
    }

    fn limit(id: u32, side: Side, price: f64) -> ExchangeOrder {
        ExchangeOrder {
            id,
            symbol: 0,
            side,
            quantity: 1.0,
            kind: OrderKind::Limit(price),
            stop_loss: None,
            take_profit: None,
            arrival_ms: 0,
        }
    }

    #[test]
    fn a_cancelled_limit_never_fills_and_the_others_still_do() {
        // The issue's case: a sell limit the strategy cancelled must not
        // fill on a later bar that reaches it.
        let mut ex = Exchange::new(1, 10_000.0, Costs::default());
        ex.submit(limit(0, Side::Sell, 603.04));
        ex.submit(limit(1, Side::Buy, 590.0));
        ex.on_bar(0, &bar(1, 600.0, 602.0, 595.0));
        assert_eq!(ex.cancel(0, Some(0)), 1);
        ex.on_bar(0, &bar(2, 600.0, 604.72, 589.0));
        assert_eq!(ex.fills.len(), 1);
        assert_eq!((ex.fills[0].order_id, ex.fills[0].price), (1, 590.0));
        let counts = ex.counts();
        assert_eq!(
            (counts.cancelled_by_alerts, counts.cancels_unmatched),
            (1, 0)
        );
        assert_eq!(counts.cancelled_orders, 0, "reversals count apart");
    }

    #[test]
    fn a_cancel_that_finds_nothing_is_counted_and_changes_nothing() {
        let mut ex = Exchange::new(2, 10_000.0, Costs::default());
        ex.submit(limit(0, Side::Buy, 100.0));
        ex.on_bar(0, &bar(1, 101.0, 101.0, 99.0)); // fills
        let before = ex.clone();
        // Filled already, never submitted, another symbol's, an unknown
        // symbol, a symbol with nothing working.
        for (symbol, target) in [
            (0, Some(0)),
            (0, Some(7)),
            (1, Some(0)),
            (5, None),
            (1, None),
        ] {
            assert_eq!(ex.cancel(symbol, target), 0, "{symbol} {target:?}");
        }
        assert_eq!(ex.counts().cancels_unmatched, 5);
        assert_eq!(ex.counts().cancelled_by_alerts, 0);
        assert_eq!(ex.working(0), before.working(0));
        assert_eq!(ex.position(0), before.position(0));
    }

    #[test]
    fn a_symbol_cancel_withdraws_every_working_entry_but_never_a_bracket() {
        let mut ex = Exchange::new(1, 10_000.0, Costs::default());
        let mut entry = limit(0, Side::Buy, 100.0);
        entry.stop_loss = Some(90.0);
        entry.take_profit = Some(120.0);
        ex.submit(entry);
        ex.on_bar(0, &bar(1, 100.0, 101.0, 99.0)); // the entry fills
        ex.submit(limit(1, Side::Buy, 95.0));
        ex.submit(limit(2, Side::Sell, 130.0));
        assert_eq!(ex.cancel(0, None), 2);
        assert!(ex.working(0).is_empty());
        assert_eq!(ex.brackets(0).len(), 1, "the position keeps its protection");
        // The stop-loss still protects the long; the withdrawn orders do
        // not fill on a bar that would have reached them.
        ex.on_bar(0, &bar(2, 100.0, 131.0, 89.0));
        let reasons: Vec<_> = ex.fills.iter().map(|f| f.reason).collect();
        assert_eq!(reasons, [FillReason::Order, FillReason::StopLoss]);
        assert_eq!(ex.position(0), 0.0);
        assert_eq!(ex.counts().cancelled_by_alerts, 2);
    }

    #[test]
    fn cancel_counts_read_back_and_older_snapshots_have_none() {
        let mut ex = Exchange::new(1, 10_000.0, Costs::default());
        ex.submit(limit(0, Side::Buy, 100.0));
        ex.cancel(0, None);
        ex.cancel(0, None);
        let back: Exchange = serde_json::from_str(&serde_json::to_string(&ex).unwrap()).unwrap();
        assert_eq!(back, ex);
        let old = r#"{"orders":3,"cancelled_orders":1,"cancelled_brackets":0,"open_orders":0}"#;
        let counts: ExchangeCounts = serde_json::from_str(old).unwrap();
        assert_eq!(
            (counts.cancelled_by_alerts, counts.cancels_unmatched),
            (0, 0)
        );
    }
}

/// Which fee a fill pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liquidity {
    Maker,
    Taker,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_conversions_go_through_text() {
        let d = |s: &str| Decimal::parse(s).unwrap();
        assert_eq!(decimal_to_f64(d("0.1")), 0.1);
        assert_eq!(decimal_to_f64(d("67000.5")), 67_000.5);
        // 17 significant digits: mantissa / 10^scale would round twice.
        assert_eq!(
            decimal_to_f64(d("0.12345678901234567")),
            0.123_456_789_012_345_67
        );
        assert_eq!(f64_to_decimal(0.1), Some(d("0.1")));
        assert_eq!(f64_to_decimal(67_000.5), Some(d("67000.5")));
        assert_eq!(f64_to_decimal(f64::NAN), None);
        assert_eq!(f64_to_decimal(1e300), None);
    }

    #[test]
    fn order_types_map_to_kinds_at_their_price_or_trigger() {
        let d = |s: &str| Decimal::parse(s);
        let kind = |t, price, stop| OrderKind::for_order(t, d(price), d(stop));
        use OrderType::{Limit as L, Market as M, StopLoss as S, TakeProfit as T};
        assert_eq!(kind(M, "1", "2"), Some(OrderKind::Market));
        assert_eq!(OrderKind::for_order(M, None, None), Some(OrderKind::Market));
        assert_eq!(kind(L, "1", "2"), Some(OrderKind::Limit(1.0)));
        // The trigger: `stop_price`, else `price`.
        assert_eq!(kind(S, "1", "2"), Some(OrderKind::Stop(2.0)));
        assert_eq!(kind(T, "1", "2"), Some(OrderKind::Limit(2.0)));
        assert_eq!(
            OrderKind::for_order(S, d("1"), None),
            Some(OrderKind::Stop(1.0))
        );
        assert_eq!(
            OrderKind::for_order(T, d("1"), None),
            Some(OrderKind::Limit(1.0))
        );
        assert_eq!(OrderKind::price_of(M, d("1"), d("2")), None);
        assert_eq!(OrderKind::price_of(L, d("1"), d("2")), d("1"));
        assert_eq!(OrderKind::price_of(T, d("1"), None), d("1"));
        // What the gate refuses as missing_price.
        assert_eq!(OrderKind::for_order(L, None, d("2")), None);
        assert_eq!(OrderKind::for_order(S, None, None), None);
        assert_eq!(OrderKind::for_order(T, None, None), None);
    }

    use super::test_support::{bar, bracketed, fills, order, MIN, T0};

    /// Feeds orders sorted by arrival (then id) and bars, as the engine
    /// does, under alertgate's conventions.
    fn run(bars: &[Bar], orders: &[ExchangeOrder], costs: Costs) -> Exchange {
        let mut pending = orders.to_vec();
        pending.sort_by_key(|o| (o.arrival_ms, o.id));
        super::test_support::feed(Conventions::Alertgate, bars, &pending, costs)
    }

    use FillReason::{Order as O, StopLoss as SL, TakeProfit as TP};
    use OrderKind::{Limit, Market, Stop};
    use Side::{Buy, Sell};

    struct Case {
        name: &'static str,
        bars: Vec<Bar>,
        orders: Vec<ExchangeOrder>,
        expected: Vec<(i64, Side, f64, f64, FillReason)>,
    }

    fn cases() -> Vec<Case> {
        // A quiet market: every bar 100..110, opens 105, closes 105.
        let flat = |n: i64| {
            (0..n)
                .map(|i| bar(i, 105.0, 110.0, 100.0, 105.0))
                .collect::<Vec<_>>()
        };
        vec![
            Case {
                name: "market fills at the open of the first bar starting at or after arrival",
                bars: vec![bar(0, 105.0, 110.0, 100.0, 106.0), bar(1, 107.0, 111.0, 101.0, 108.0)],
                // Arrives 1 ms after bar 0 started: bar 0 is never used.
                orders: vec![order(1, T0 + 1, Buy, 1.0, Market)],
                expected: vec![(1, Buy, 1.0, 107.0, O)],
            },
            Case {
                name: "market arriving exactly at a bar's start fills at that bar's open",
                bars: vec![bar(0, 105.0, 110.0, 100.0, 106.0), bar(1, 107.0, 111.0, 101.0, 108.0)],
                orders: vec![order(1, T0, Sell, 2.0, Market)],
                expected: vec![(0, Sell, 2.0, 105.0, O)],
            },
            Case {
                name: "limit buy fills at the limit when the low reaches it",
                bars: vec![bar(0, 105.0, 110.0, 101.0, 105.0), bar(1, 105.0, 110.0, 99.0, 105.0)],
                orders: vec![order(1, T0, Buy, 1.0, Limit(100.0))],
                expected: vec![(1, Buy, 1.0, 100.0, O)],
            },
            Case {
                name: "limit buy when the bar opens below the limit fills at the open",
                bars: vec![bar(0, 95.0, 97.0, 94.0, 96.0)],
                orders: vec![order(1, T0, Buy, 1.0, Limit(100.0))],
                expected: vec![(0, Buy, 1.0, 95.0, O)],
            },
            Case {
                name: "limit sell fills at max(open, limit)",
                bars: vec![bar(0, 105.0, 109.0, 100.0, 105.0), bar(1, 112.0, 115.0, 111.0, 113.0)],
                orders: vec![order(1, T0, Sell, 1.0, Limit(110.0))],
                // Bar 0's high 109 misses; bar 1 gaps up over the limit.
                expected: vec![(1, Sell, 1.0, 112.0, O)],
            },
            Case {
                name: "limit touched exactly fills (low == limit)",
                bars: vec![bar(0, 105.0, 110.0, 100.0, 105.0)],
                orders: vec![order(1, T0, Buy, 1.0, Limit(100.0))],
                expected: vec![(0, Buy, 1.0, 100.0, O)],
            },
            Case {
                name: "stop buy triggers at high >= stop, fills at max(open, stop); gap fills at open",
                bars: vec![
                    bar(0, 105.0, 109.0, 100.0, 105.0),
                    bar(1, 105.0, 111.0, 100.0, 105.0),
                    bar(2, 120.0, 125.0, 118.0, 121.0),
                ],
                orders: vec![order(1, T0, Buy, 1.0, Stop(110.0)), order(2, T0 + MIN + 1, Buy, 1.0, Stop(115.0))],
                expected: vec![(1, Buy, 1.0, 110.0, O), (2, Buy, 1.0, 120.0, O)],
            },
            Case {
                name: "stop sell triggers at low <= stop, fills at min(open, stop); gap fills at open",
                bars: vec![bar(0, 105.0, 110.0, 99.0, 101.0), bar(1, 90.0, 92.0, 85.0, 91.0)],
                orders: vec![order(1, T0, Sell, 1.0, Stop(100.0)), order(2, T0 + 1, Sell, 1.0, Stop(95.0))],
                expected: vec![(0, Sell, 1.0, 100.0, O), (1, Sell, 1.0, 90.0, O)],
            },
            Case {
                name: "unfilled orders keep working (GTC)",
                bars: flat(5).into_iter().chain([bar(5, 105.0, 110.0, 90.0, 95.0)]).collect(),
                orders: vec![order(1, T0, Buy, 1.0, Limit(95.0))],
                expected: vec![(5, Buy, 1.0, 95.0, O)],
            },
            Case {
                name: "market entry at the open can be stopped out in the same bar",
                bars: vec![bar(0, 105.0, 106.0, 94.0, 95.0)],
                orders: vec![bracketed(order(1, T0, Buy, 1.0, Market), Some(96.0), Some(120.0))],
                expected: vec![(0, Buy, 1.0, 105.0, O), (0, Sell, 1.0, 96.0, SL)],
            },
            Case {
                name: "stop-loss and take-profit touched in one bar: the stop-loss fills",
                bars: vec![bar(0, 105.0, 106.0, 104.0, 105.0), bar(1, 105.0, 125.0, 85.0, 105.0)],
                orders: vec![bracketed(order(1, T0, Buy, 1.0, Market), Some(90.0), Some(120.0))],
                expected: vec![(0, Buy, 1.0, 105.0, O), (1, Sell, 1.0, 90.0, SL)],
            },
            Case {
                name: "take-profit fills at max(open, tp); the OCO stop leg is gone",
                bars: vec![
                    bar(0, 105.0, 106.0, 104.0, 105.0),
                    bar(1, 125.0, 130.0, 124.0, 126.0),
                    bar(2, 80.0, 81.0, 70.0, 75.0),
                ],
                orders: vec![bracketed(order(1, T0, Buy, 1.0, Market), Some(90.0), Some(120.0))],
                expected: vec![(0, Buy, 1.0, 105.0, O), (1, Sell, 1.0, 125.0, TP)],
            },
            Case {
                name: "short bracket: stop above, take-profit below, stop gap fills at open",
                bars: vec![bar(0, 100.0, 101.0, 99.0, 100.0), bar(1, 112.0, 113.0, 111.0, 112.0)],
                orders: vec![bracketed(order(1, T0, Sell, 2.0, Market), Some(110.0), Some(90.0))],
                expected: vec![(0, Sell, 2.0, 100.0, O), (1, Buy, 2.0, 112.0, SL)],
            },
            Case {
                name: "a reversal cancels the old brackets; the new order's bracket protects only what it opened",
                bars: vec![
                    bar(0, 100.0, 101.0, 99.0, 100.0),
                    bar(1, 100.0, 101.0, 99.0, 100.0),
                    // Would hit the long's stop (95) if it were still live;
                    // hits the short's take-profit (96) instead.
                    bar(2, 97.0, 98.0, 94.0, 95.0),
                ],
                orders: vec![
                    bracketed(order(1, T0, Buy, 1.0, Market), Some(95.0), Some(130.0)),
                    bracketed(order(2, T0 + MIN, Sell, 3.0, Market), Some(104.0), Some(96.0)),
                ],
                expected: vec![
                    (0, Buy, 1.0, 100.0, O),
                    (1, Sell, 3.0, 100.0, O),
                    (2, Buy, 2.0, 96.0, TP),
                ],
            },
            Case {
                name: "a reversal cancels orders that reached the exchange before it, not after",
                bars: vec![bar(0, 100.0, 101.0, 99.0, 100.0), bar(1, 100.0, 101.0, 99.0, 100.0), bar(2, 90.0, 91.0, 80.0, 85.0)],
                orders: vec![
                    order(1, T0, Buy, 1.0, Market),
                    order(2, T0, Buy, 1.0, Limit(85.0)),
                    order(3, T0 + 1, Sell, 1.0, Market),
                    order(4, T0 + 2, Buy, 1.0, Limit(82.0)),
                ],
                // Order 3 flattens at bar 1: order 2 (older) is cancelled,
                // order 4 (newer) still fills in bar 2.
                expected: vec![(0, Buy, 1.0, 100.0, O), (1, Sell, 1.0, 100.0, O), (2, Buy, 1.0, 82.0, O)],
            },
            Case {
                name: "a bracket is reduce-only: after a partial close it closes only what is left",
                bars: vec![
                    bar(0, 100.0, 101.0, 99.0, 100.0),
                    bar(1, 100.0, 101.0, 99.0, 100.0),
                    bar(2, 96.0, 97.0, 94.0, 95.0),
                ],
                orders: vec![
                    bracketed(order(1, T0, Buy, 2.0, Market), Some(95.0), None),
                    order(2, T0 + 1, Sell, 1.5, Market),
                ],
                expected: vec![
                    (0, Buy, 2.0, 100.0, O),
                    (1, Sell, 1.5, 100.0, O),
                    (2, Sell, 0.5, 95.0, SL),
                ],
            },
            Case {
                name: "adding to a position without a bracket leaves the first bracket at its own size",
                bars: vec![bar(0, 100.0, 101.0, 99.0, 100.0), bar(1, 100.0, 101.0, 99.0, 100.0), bar(2, 96.0, 97.0, 94.0, 95.0)],
                orders: vec![
                    bracketed(order(1, T0, Buy, 1.0, Market), Some(95.0), None),
                    order(2, T0 + 1, Buy, 3.0, Market),
                ],
                expected: vec![(0, Buy, 1.0, 100.0, O), (1, Buy, 3.0, 100.0, O), (2, Sell, 1.0, 95.0, SL)],
            },
            Case {
                name: "trade data: a market order fills at the first trade at or after arrival",
                bars: vec![
                    bar(0, 100.0, 100.0, 100.0, 100.0),
                    Bar { time_ms: T0 + 10, ..bar(0, 101.0, 101.0, 101.0, 101.0) },
                    Bar { time_ms: T0 + 10, ..bar(0, 102.0, 102.0, 102.0, 102.0) },
                    Bar { time_ms: T0 + 25, ..bar(0, 99.0, 99.0, 99.0, 99.0) },
                ],
                orders: vec![order(1, T0 + 5, Buy, 1.0, Market), order(2, T0 + 11, Buy, 1.0, Limit(99.5))],
                expected: vec![(0, Buy, 1.0, 101.0, O), (0, Buy, 1.0, 99.0, O)],
            },
        ]
    }

    #[test]
    fn fill_rules() {
        for case in cases() {
            let ex = run(&case.bars, &case.orders, Costs::default());
            assert_eq!(fills(&ex), case.expected, "{}", case.name);
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn fees_and_slippage() {
        // Taker 10 bps, maker 2 bps, slippage 50 bps.
        let costs = Costs {
            maker_fee_bps: 2.0,
            taker_fee_bps: 10.0,
            slippage_bps: 50.0,
        };
        let bars = [
            bar(0, 100.0, 101.0, 99.0, 100.0),
            bar(1, 100.0, 121.0, 99.0, 120.0),
        ];
        let orders = [
            order(1, T0, Buy, 2.0, Market),
            order(2, T0, Sell, 1.0, Limit(120.0)),
            order(3, T0 + 1, Sell, 1.0, Stop(99.0)),
        ];
        let ex = run(&bars, &orders, costs);
        // (reference price, price, fee) of each fill:
        // 1. market buy 2 at open 100, slipped up to 100.5, fee 2 × 100.5 × 10 bps;
        // 2. limit sell 1 at 120 in bar 1 (bar 0's high 101 missed), no
        //    slippage, maker fee 120 × 2 bps;
        // 3. stop sell 1 triggered by bar 1's low 99, at min(open 100, 99),
        //    slipped down to 98.505, fee 98.505 × 10 bps.
        let expected = [
            (100.0, 100.5, 0.201),
            (120.0, 120.0, 0.024),
            (99.0, 98.505, 0.098_505),
        ];
        assert_eq!(ex.fills.len(), 3);
        for (f, (reference, price, fee)) in ex.fills.iter().zip(expected) {
            assert_eq!(f.reference_price, reference);
            assert!(close(f.price, price) && close(f.fee, fee), "{f:?}");
        }
        let cash = 10_000.0 - 201.0 - 0.201 + 120.0 - 0.024 + 98.505 - 0.098_505;
        assert!(close(ex.cash(), cash), "{}", ex.cash());
        assert!(close(ex.fees_paid(), 0.201 + 0.024 + 0.098_505));
        // FIFO: two round trips against the one lot bought at 100.5, each
        // carrying half the entry fee and its own exit fee.
        let t = &ex.trades;
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].direction, t[0].quantity), (Buy, 1.0));
        assert!(close(t[0].entry_price, 100.5) && t[0].exit_price == 120.0);
        assert!(close(t[0].gross_pnl, 19.5));
        assert!(close(t[0].fees, 0.1005 + 0.024));
        assert!(close(t[1].gross_pnl, 98.505 - 100.5));
        assert!(close(t[1].pnl(), 98.505 - 100.5 - 0.1005 - 0.098_505));
        assert_eq!(ex.position(0), 0.0);
    }

    #[test]
    fn fifo_across_lots_and_a_reversal() {
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 110.0, 110.0, 110.0, 110.0),
            bar(2, 120.0, 120.0, 120.0, 120.0),
            bar(3, 90.0, 90.0, 90.0, 90.0),
        ];
        let orders = [
            order(1, T0, Buy, 1.0, Market),
            order(2, T0 + MIN, Buy, 2.0, Market),
            // Sells 3 to close both lots and 1 more: short 1 at 120.
            order(3, T0 + 2 * MIN, Sell, 4.0, Market),
        ];
        let ex = run(&bars, &orders, Costs::default());
        let t: Vec<(Side, f64, f64, f64, f64)> = ex
            .trades
            .iter()
            .map(|t| {
                (
                    t.direction,
                    t.quantity,
                    t.entry_price,
                    t.exit_price,
                    t.gross_pnl,
                )
            })
            .collect();
        assert_eq!(
            t,
            [
                (Buy, 1.0, 100.0, 120.0, 20.0),
                (Buy, 2.0, 110.0, 120.0, 20.0)
            ]
        );
        assert_eq!(ex.position(0), -1.0);
        // Short 1 from 120, marked at 90: +30 unrealized.
        assert_eq!(ex.unrealized(), 30.0);
        assert_eq!(ex.equity(), 10_000.0 + 40.0 + 30.0);
        assert_eq!(
            ex.equity() - 10_000.0,
            ex.realized_gross() + ex.unrealized() - ex.fees_paid()
        );
    }

    #[test]
    fn symbols_added_later_get_their_own_book() {
        let mut ex = Exchange::new(1, 10_000.0, Costs::default());
        assert_eq!((ex.add_symbol(), ex.symbols()), (1, 2));
        ex.submit(ExchangeOrder {
            symbol: 1,
            ..order(1, T0, Buy, 2.0, Market)
        });
        ex.on_bar(0, &bar(0, 50.0, 50.0, 50.0, 50.0));
        assert!(ex.fills.is_empty());
        ex.on_bar(1, &bar(0, 7.0, 7.0, 7.0, 7.0));
        assert_eq!((ex.position(0), ex.position(1)), (0.0, 2.0));
        // Equal inputs, equal exchanges.
        let mut again = Exchange::new(1, 10_000.0, Costs::default());
        again.add_symbol();
        again.submit(ExchangeOrder {
            symbol: 1,
            ..order(1, T0, Buy, 2.0, Market)
        });
        again.on_bar(0, &bar(0, 50.0, 50.0, 50.0, 50.0));
        again.on_bar(1, &bar(0, 7.0, 7.0, 7.0, 7.0));
        assert_eq!(again, ex);
    }

    #[test]
    fn float_residue_counts_as_flat() {
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 100.0, 100.0, 100.0, 100.0),
        ];
        let orders = [
            order(1, T0, Buy, 0.1, Market),
            order(2, T0, Buy, 0.2, Market),
            order(3, T0 + 1, Sell, 0.3, Market),
        ];
        let ex = run(&bars, &orders, Costs::default());
        assert_eq!(ex.position(0), 0.0);
        assert!(!ex.has_exposure());
    }

    #[test]
    fn a_bracket_attached_inside_a_bar_never_fills_at_that_bars_open() {
        // The bar opens at 90.74, below the stop-loss to come (91.00); the
        // buy stop at 92.39 fills later in the bar; the stop-loss can then
        // only fill at its own level (the bar comes back down to 90.50),
        // not at the 90.74 that traded before the position existed.
        let bars = [bar(0, 90.74, 93.0, 90.5, 92.0)];
        let entry = bracketed(order(1, T0, Buy, 1.0, Stop(92.39)), Some(91.0), Some(95.0));
        let ex = run(&bars, &[entry], Costs::default());
        assert_eq!(
            fills(&ex),
            [
                (0, Buy, 1.0, 92.39, FillReason::Order),
                (0, Sell, 1.0, 91.0, FillReason::StopLoss)
            ]
        );
        // Attached in an earlier bar, a gap through the stop still fills
        // at the open (it traded while the position existed).
        let bars = [
            bar(0, 92.0, 93.0, 91.5, 92.5),
            bar(1, 90.74, 91.2, 90.5, 91.0),
        ];
        let entry = bracketed(order(1, T0, Buy, 1.0, Market), Some(91.0), None);
        let ex = run(&bars, &[entry], Costs::default());
        assert_eq!(fills(&ex)[1], (1, Sell, 1.0, 90.74, FillReason::StopLoss));
    }

    #[test]
    fn protective_stops_run_before_the_bars_working_orders() {
        // Long 1 with a stop-loss at 1.08762; a sell stop of 2 at 1.08761
        // works; the next bar falls through both.
        let bars = [
            bar(0, 1.0880, 1.0885, 1.0878, 1.0880),
            bar(1, 1.0879, 1.0880, 1.0870, 1.0872),
        ];
        let orders = [
            bracketed(order(1, T0, Buy, 1.0, Market), Some(1.08762), None),
            order(2, T0 + 1, Sell, 2.0, Stop(1.08761)),
        ];
        // Stops first: the stop-loss closes the long, then the sell stop
        // opens a short of 2.
        let ex = run(&bars, &orders, Costs::default());
        let f = fills(&ex);
        assert_eq!(f[1], (1, Sell, 1.0, 1.08762, FillReason::StopLoss));
        assert_eq!(f[2], (1, Sell, 2.0, 1.08761, FillReason::Order));
        assert_eq!(ex.position(0), -2.0);
        // The former order (a log written under it replays so): the sell
        // stop reverses first and cancels the bracket.
        let mut old = Exchange::new(1, 10_000.0, Costs::default());
        old.set_intra_bar(IntraBar::OrdersFirst);
        old.submit(orders[0]);
        old.on_bar(0, &bars[0]);
        old.submit(orders[1]);
        old.on_bar(0, &bars[1]);
        assert_eq!(old.position(0), -1.0);
        assert_eq!(old.fills.len(), 2);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        use crate::exchange::test_support::any_bar;

        fn any_order() -> impl Strategy<Value = (i64, bool, f64, u8, f64, Option<f64>, Option<f64>)>
        {
            (
                0..20i64 * MIN,
                any::<bool>(),
                0.01..5.0f64,
                0..3u8,
                40.0..160.0f64,
                proptest::option::of(40.0..160.0f64),
                proptest::option::of(40.0..160.0f64),
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// A bracket leg attached by a fill inside a bar never fills in
            /// that bar at a price the bar had passed before the fill: only
            /// at its own level (and so never at the bar's open, unless
            /// that is its level).
            #[test]
            fn a_leg_attached_inside_a_bar_fills_only_at_its_own_level(
                b in any_bar(0),
                buy in any::<bool>(),
                at in 0.0..1.0f64,
                sl_at in 0.0..1.0f64,
                tp_at in 0.0..1.0f64,
            ) {
                // The entry's stop lies between the open and the extreme
                // the bar reaches on its side, so it fills after the open.
                let (side, trigger, sl, tp) = if buy {
                    let t = b.open + at * (b.high - b.open);
                    (Buy, t, b.low - 1.0 + sl_at * (t - b.low + 1.0), t + tp_at * 10.0)
                } else {
                    let t = b.open - at * (b.open - b.low);
                    (Sell, t, t + sl_at * (b.high - t + 1.0), t - tp_at * 10.0)
                };
                prop_assume!(trigger != b.open && sl != trigger && tp != trigger);
                let entry = bracketed(order(1, T0, side, 1.0, Stop(trigger)), Some(sl), Some(tp));
                let ex = run(&[b], &[entry], Costs::default());
                for f in ex.fills.iter().filter(|f| f.reason != FillReason::Order) {
                    let level = match f.reason {
                        FillReason::StopLoss => sl,
                        _ => tp,
                    };
                    prop_assert_eq!(f.reference_price, level, "{:?} in {:?}", f, b);
                }
            }

            /// Cash and positions always reconcile with PnL and fees, and
            /// every fill's bar price lies within its bar.
            #[test]
            fn accounting_balances_and_fills_stay_in_the_bar(
                bars in (0..20i64).map(any_bar).collect::<Vec<_>>(),
                raw in proptest::collection::vec(any_order(), 0..24),
                fee in 0.0..50.0f64,
                slippage in 0.0..50.0f64,
            ) {
                let orders: Vec<ExchangeOrder> = raw
                    .iter()
                    .enumerate()
                    .map(|(i, &(at, buy, qty, kind, price, sl, tp))| ExchangeOrder {
                        id: i as u32,
                        symbol: 0,
                        side: if buy { Buy } else { Sell },
                        quantity: qty,
                        kind: match kind {
                            0 => Market,
                            1 => Limit(price),
                            _ => Stop(price),
                        },
                        stop_loss: sl,
                        take_profit: tp,
                        arrival_ms: T0 + at,
                    })
                    .collect();
                // Ids must increase with arrival, as the engine numbers them.
                let mut orders = orders;
                orders.sort_by_key(|o| o.arrival_ms);
                for (i, o) in orders.iter_mut().enumerate() {
                    o.id = i as u32;
                }
                let costs = Costs { maker_fee_bps: fee / 2.0, taker_fee_bps: fee, slippage_bps: slippage };
                let ex = run(&bars, &orders, costs);

                for f in &ex.fills {
                    let b = bars.iter().find(|b| b.time_ms == f.time_ms).unwrap();
                    prop_assert!(b.low <= f.reference_price && f.reference_price <= b.high, "{f:?} outside {b:?}");
                    prop_assert!(f.quantity > 0.0 && f.fee >= 0.0);
                }
                let flows: f64 = ex.fills.iter().map(|f| -sign(f.side) * f.quantity * f.price - f.fee).sum();
                let scale = 1e-9 * (1.0 + ex.fills.iter().map(|f| f.quantity * f.price).sum::<f64>());
                prop_assert!((ex.cash() - (10_000.0 + flows)).abs() <= scale);
                let fees: f64 = ex.fills.iter().map(|f| f.fee).sum();
                prop_assert!((ex.fees_paid() - fees).abs() <= scale);
                let gross: f64 = ex.trades.iter().map(|t| t.gross_pnl).sum();
                prop_assert!((ex.realized_gross() - gross).abs() <= scale);
                // Equity = initial + realized + unrealized − fees.
                let pnl = ex.realized_gross() + ex.unrealized() - ex.fees_paid();
                prop_assert!((ex.equity() - 10_000.0 - pnl).abs() <= scale, "{} vs {}", ex.equity() - 10_000.0, pnl);
                // The position is what the fills add up to.
                let net: f64 = ex.fills.iter().map(|f| sign(f.side) * f.quantity).sum();
                prop_assert!((ex.position(0) - net).abs() <= 1e-9 * (1.0 + ex.fills.len() as f64 * 5.0));
                // Trade fees are the fills' fees, minus what open lots still carry.
                let trade_fees: f64 = ex.trades.iter().map(|t| t.fees).sum();
                prop_assert!(trade_fees <= fees + scale);
            }
        }
    }
}
