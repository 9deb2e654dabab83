//! The `mock` execution venue: `alertgate replay`'s [`Exchange`] (fill
//! rules, costs, OCO brackets, FIFO PnL) run on the wall clock — paper
//! trading.
//!
//! # Prices: one observation per order
//!
//! The exchange fills orders against bars. Here a bar is one observed
//! price: each order submitted brings its symbol's price at that moment,
//! and right after [`Exchange::submit`] the exchange runs
//! [`Exchange::on_bar`] on a bar of that one price (open = high = low =
//! close), starting at the submission time. The order reached the exchange
//! at that time too, so the bar is the first whose start ≥ its arrival
//! (`replay`'s no-look-ahead rule) and the order works in it.
//!
//! An order's observed price is the first of:
//!
//! 1. its `mark_price`: the `[serve] market` mark at the alert's time (see
//!    [`super::marks`]);
//! 2. for a market order, its own `price`, else its `stop_price` (the price
//!    the alert saw);
//! 3. the symbol's last observed price (the previous order's observation);
//! 4. for a limit, stop-loss or take-profit order, its own limit or trigger
//!    price: with nothing known about the market, it executes at once at
//!    its price.
//!
//! A market order with none of these cannot be priced: that is an execution
//! failure, and nothing is submitted.
//!
//! # The execution rule
//!
//! At an observation `P` of a symbol, the bar order of replay runs
//! (docs/replay.md, "Within one bar": working brackets' stop-losses, then
//! working orders in arrival order, then brackets), or the former one for
//! a log written before it ([`RulesLine`]). Since the bar has one price,
//! everything that executes does so at `P`:
//!
//! - market: always, at `P` moved by the slippage against the trader,
//!   taker fee;
//! - limit (and `take_profit` orders): a buy when `P ≤ limit`, a sell when
//!   `P ≥ limit`, at `P` (never worse than the limit), maker fee;
//! - stop (`stop_loss` orders): a buy when `P ≥ stop`, a sell when
//!   `P ≤ stop`, at `P` moved by the slippage, taker fee;
//! - an order's `stop_loss` / `take_profit` attach a reduce-only OCO
//!   bracket to what it opened; the legs follow the stop and limit rules at
//!   later observations (and at the entry's own, which cannot reach them
//!   unless they are on the wrong side of it).
//!
//! An order that does not execute rests, good till cancelled, until an
//! observation reaches it; a fill that flattens or reverses a position
//! cancels the symbol's brackets and the orders that arrived before it
//! (`replay`'s rules, see [`alertgate_simulator::exchange`]). Fees, slippage and starting
//! cash are `[simulation]`'s.
//!
//! # The log
//!
//! The exchange is deterministic given its inputs, so the log (`[serve]
//! fills`, JSON Lines, append-only) holds its inputs and, for people and
//! tests, its outputs:
//!
//! - `{"rules":"stops_first"}`: a new log's first line ([`RulesLine`]).
//! - `{"submit":{...}}`: an order submitted ([`Submit`]), with `mark`, the
//!   price observed with it, and `at_ms`, the wall clock. One line is one
//!   input, written whole or cut off on recovery, so an order is never
//!   left submitted without its observation. A cancel alert's order
//!   (`"action":{"cancel":{...}}`, see [`ExecAction`]) is a submit line
//!   too: at its place among the inputs it withdraws its target's working
//!   order, or every working order of its symbol (never a bracket: a
//!   position keeps its protection), and observes no price (its `mark`
//!   is the last one observed, for the record). A replay of the log
//!   therefore cancels exactly what the live run did.
//! - `{"fill":{...}}`: a fill ([`FillRecord`]), after the submit line whose
//!   observation caused it.
//! - `{"cancel":{...}}`: a working order withdrawn ([`CancelLine`],
//!   [`MockExchange::cancel`]; the paper venue's only, the paper stage
//!   never cancels). The exchange cannot take an order back out of its
//!   book, so the state is rebuilt from the log with that order's submit
//!   line applied without the order: its observation still runs, and since
//!   a working order never changed anything else, every other fill is the
//!   same.
//!
//! Each batch of orders is written with one write and one fsync; an order
//! counts as submitted only once its line is durable. If the write or the
//! fsync fails, the batch is undone: the log is cut back to its durable
//! length (what a failed write left, or a failed fsync may have lost, is
//! never built on) and the state rebuilt from it, so memory never holds
//! what the log does not. If the cut fails too, nothing executes until it
//! succeeds: it is tried again before each later batch, so the log
//! recovers by itself once its disk does.
//!
//! [`MockExchange::open`] replays the submit lines through a fresh exchange
//! and gets back exactly the state the log describes: positions, working
//! orders, brackets, cash. The fills it recomputes are checked against the
//! logged ones; fill lines lost to a crash mid-write are written again. A
//! trailing partial line is cut off. A client order id with a submit line
//! is never submitted again: submitting it returns the existing state.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use alertgate_validator::{Decimal, OrderType, Side};
use serde::{Deserialize, Serialize};

use super::journal::{CancelOf, ExecAction, ExecOrder};
use super::jsonl;
use super::snapshot::{self, JournalMarks};
use crate::venue::order_log::KnownIds;
use alertgate_simulator::config::SimulationSection;
use alertgate_simulator::exchange::{
    decimal_to_f64, Costs, Exchange, ExchangeOrder, Fill, FillReason, IntraBar, OrderKind,
};
use alertgate_simulator::market::Bar;

/// Starting cash and costs of the mock exchange (`[simulation]`'s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MockSettings {
    /// Starting cash, quote units.
    pub initial_cash: f64,
    /// Fees and slippage.
    pub costs: Costs,
}

impl MockSettings {
    /// `[simulation]`'s `initial_cash`, fees and slippage.
    pub fn from_simulation(sim: &SimulationSection) -> MockSettings {
        MockSettings {
            initial_cash: sim.initial_cash,
            costs: sim.costs(),
        }
    }
}

impl Default for MockSettings {
    fn default() -> Self {
        MockSettings::from_simulation(&SimulationSection::default())
    }
}

/// A `submit` line: one order as it reached the exchange (the journal's
/// [`ExecOrder`], its fields inline), and the price observed with it.
/// Prices and quantities are the alert's decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submit {
    /// The order.
    #[serde(flatten)]
    pub order: ExecOrder,
    /// The symbol's price observed with the order (see the module doc).
    pub mark: Decimal,
    /// Wall clock at submission, Unix ms: the order's arrival and the
    /// observation's bar start.
    pub at_ms: i64,
}

/// The price the exchange observes with an order of `order_type` (see the
/// module doc): the market-data mark, else a market order's own price (or
/// trigger price), else the symbol's `last` observation, else, for any
/// other order, its own limit or trigger price ([`OrderKind::price_of`]).
pub fn observed_price(
    order_type: OrderType,
    price: Option<Decimal>,
    stop_price: Option<Decimal>,
    mark_price: Option<Decimal>,
    last: Option<Decimal>,
) -> Option<Decimal> {
    match order_type {
        OrderType::Market => mark_price.or(price).or(stop_price).or(last),
        _ => mark_price
            .or(last)
            .or(OrderKind::price_of(order_type, price, stop_price)),
    }
}

/// A `fill` line: one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FillRecord {
    /// The order's client id (a bracket leg's: the order that opened it).
    pub client_order_id: String,
    /// That order's event id.
    pub event_id: String,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// What executed.
    pub reason: FillKind,
    /// Execution price, slippage included.
    pub price: f64,
    /// Base units.
    pub quantity: f64,
    /// Fee, quote units.
    pub fee: f64,
    /// The observation's time, Unix ms.
    pub at_ms: i64,
}

/// What a fill executed: an order, by how it executed, or a bracket's
/// leg. Written as its [`FillKind::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillKind {
    /// An order executed at the market.
    Market,
    /// An order executed as a limit (`limit` and `take_profit` orders).
    Limit,
    /// An order executed as a triggered stop (`stop_loss` orders).
    Stop,
    /// The stop-loss leg of an order's bracket.
    BracketStopLoss,
    /// The take-profit leg of an order's bracket.
    BracketTakeProfit,
}

impl FillKind {
    /// `market`, `limit`, `stop`, `bracket_stop_loss` or
    /// `bracket_take_profit`.
    pub const fn name(self) -> &'static str {
        match self {
            FillKind::Market => "market",
            FillKind::Limit => "limit",
            FillKind::Stop => "stop",
            FillKind::BracketStopLoss => "bracket_stop_loss",
            FillKind::BracketTakeProfit => "bracket_take_profit",
        }
    }

    /// Whether a bracket's leg executed (not the order itself).
    pub const fn is_bracket(self) -> bool {
        matches!(
            self,
            FillKind::BracketStopLoss | FillKind::BracketTakeProfit
        )
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLine {
    /// An input: an order and its observation.
    Submit(Submit),
    /// An output.
    Fill(FillRecord),
}

/// The log's first line since the bar order changed: the
/// [`IntraBar`] its orders execute by (`{"rules":"stops_first"}`). A log
/// that starts otherwise was written before, under
/// [`IntraBar::OrdersFirst`], and is replayed by that rule. Not a
/// [`LogLine`] variant, so readers of submit and fill lines need no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesLine {
    /// The bar order.
    pub rules: IntraBar,
}

/// The bar order the log at `path` was written under (see [`RulesLine`]):
/// its first line's, else the former rule for a log that has lines, else
/// (a new log) the current one.
fn log_rules(path: &Path) -> io::Result<IntraBar> {
    use std::io::BufRead as _;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(IntraBar::StopsFirst),
        Err(e) => return Err(e),
    };
    let mut first = Vec::new();
    io::BufReader::new(file).read_until(b'\n', &mut first)?;
    if first.is_empty() {
        return Ok(IntraBar::StopsFirst);
    }
    Ok(serde_json::from_slice::<RulesLine>(&first).map_or(IntraBar::OrdersFirst, |r| r.rules))
}

/// A `cancel` line: a working order withdrawn (see the module doc). Not a
/// [`LogLine`] variant, so readers of submit and fill lines need no change;
/// [`MockExchange::open`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelLine {
    /// The withdrawn order.
    pub cancel: CancelRecord,
}

/// What a `cancel` line says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRecord {
    /// The order's client id.
    pub client_order_id: String,
    /// Wall clock at the cancel, Unix ms.
    pub at_ms: i64,
}

/// A replay met a `cancel` line for an order it had put in the book: it
/// starts again with that order left out (see [`load`]).
#[derive(Debug)]
struct ReplayWithout(String);

impl std::fmt::Display for ReplayWithout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order {} was cancelled: replaying without it", self.0)
    }
}

impl std::error::Error for ReplayWithout {}

/// The id a replay must leave out, if `e` says so.
fn replay_without(e: &io::Error) -> Option<String> {
    let inner = e.get_ref()?.downcast_ref::<ReplayWithout>()?;
    Some(inner.0.clone())
}

/// A line of the former instant-fill paper exchange's log: its order was
/// executed, so it is never submitted again (it has no effect on the
/// exchange's state).
#[derive(Deserialize)]
struct LegacyFill {
    client_order_id: String,
    #[allow(dead_code)]
    filled_at: i64,
}

/// What [`MockExchange::open`] found in the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Submit lines replayed.
    pub submits: u64,
    /// Fill lines read.
    pub fills: u64,
    /// Fills recomputed that differ from the logged ones, or are missing
    /// between two submit lines, plus logged fills that were not
    /// recomputed. Non-zero when `[simulation]` costs changed since the
    /// log was written (the state follows the current settings).
    pub mismatches: u64,
    /// Line of the first mismatch.
    pub first_mismatch: Option<u64>,
    /// Recomputed fills of the last submit line missing from the log's end
    /// (a crash mid-write), written back.
    pub appended: u64,
    /// Lines of the former paper exchange's log, read as submitted orders.
    pub legacy: u64,
    /// Bytes of a partial last line cut off.
    pub cut_bytes: u64,
    /// The log's offset a snapshot covered: only the lines after it were
    /// replayed (and counted above). `None`: the whole log was.
    pub snapshot_offset: Option<u64>,
}

/// What submitting one order did.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The order's client id.
    pub client_order_id: String,
    /// `false`: the id had been submitted before, and nothing happened now.
    pub fresh: bool,
    /// The price observed with the order (`None` for a repeat).
    pub mark: Option<Decimal>,
    /// Whether the order is working (resting) at the exchange now.
    pub working: bool,
    /// The fills its observation caused: its own, and older orders' and
    /// brackets' of the symbol. Empty for a repeat.
    pub fills: Vec<FillRecord>,
    /// A cancel alert's: how many working orders it withdrew (0: it found
    /// nothing, or a repeat).
    pub cancelled: u64,
}

/// An order the exchange knows, by exchange id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderRef {
    client_order_id: String,
    event_id: String,
    symbol: usize,
    kind: OrderKind,
}

/// Everything the log's inputs determine (and, from a snapshot, what it
/// kept of it: see [`State::compact`]). Serialized whole into snapshots,
/// `symbols` rebuilt from `names`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    exchange: Exchange,
    /// Symbol name → exchange index.
    #[serde(skip)]
    symbols: HashMap<String, usize>,
    /// By exchange index: name, last observed price.
    names: Vec<String>,
    last: Vec<Decimal>,
    /// By exchange index: the last price observed from market data (an
    /// order's `mark_price`), never from an alert.
    market: Vec<Option<Decimal>>,
    /// Client id → exchange id.
    submitted: HashMap<String, u32>,
    /// Client ids of the former paper exchange's log.
    legacy: HashSet<String>,
    /// By exchange id: every order, or after a compaction those still
    /// working or holding a bracket (the only ones a fill or
    /// `is_working` can name).
    orders: HashMap<u32, OrderRef>,
    /// The next exchange id.
    next_id: u32,
    /// Closed trades' PnL, net of their fees.
    realized_pnl: f64,
    /// Client ids cancelled while working: their submit line is applied
    /// without the order (see the module doc).
    #[serde(default)]
    cancelled: HashSet<String>,
}

/// Why the paper exchange did not execute an order. The first four come
/// only from a hand-edited log line (the gate refuses such orders) or a
/// symbol never priced; the last two from the log's disk.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecutionError {
    /// No price is known for the symbol: a market order with no mark, no
    /// alert price and no earlier observation.
    #[error("no price known for {symbol}")]
    NoPrice {
        /// `BASE/QUOTE`.
        symbol: String,
    },
    /// A quantity or price that is not above 0.
    #[error("{field} \"{value}\" is not a positive number")]
    NotPositive {
        /// The order's field.
        field: &'static str,
        /// Its value.
        value: Decimal,
    },
    /// A limit, stop or take-profit order without its price.
    #[error("a {} order without a price", order_type.name())]
    MissingPrice {
        /// The order's type.
        order_type: OrderType,
    },
    /// Order ids are `u32`.
    #[error("more than 2^32 orders in one log")]
    TooManyOrders,
    /// A log line could not be serialized (nothing is written).
    #[error("log line: {0}")]
    Encode(String),
    /// Writing or fsyncing the log failed; nothing of the batch happened
    /// (a retry submits it once).
    #[error("fill log {path}: {reason}")]
    LogWrite {
        /// The log's path.
        path: String,
        /// The I/O error's text.
        reason: String,
    },
    /// A failed write could not be undone yet (the log could not be cut
    /// back, or read back): nothing executes until it is, which is tried
    /// again before each batch.
    #[error("fill log {path}: a failed write is not undone yet ({reason})")]
    Broken {
        /// The log's path.
        path: String,
        /// The I/O error's text.
        reason: String,
    },
}

/// A positive decimal of a submit line as the exchange's `f64`. The gate
/// accepts only positive quantities and prices; the log is a file, and a
/// hand-edited line may hold anything.
fn positive(d: Decimal, what: &'static str) -> Result<f64, ExecutionError> {
    if d.is_positive() {
        Ok(decimal_to_f64(d))
    } else {
        Err(ExecutionError::NotPositive {
            field: what,
            value: d,
        })
    }
}

impl ExecutionError {
    /// Whether the log's disk failed (the order did not happen and a retry
    /// may succeed), not the order.
    pub fn is_log_failure(&self) -> bool {
        matches!(
            self,
            ExecutionError::LogWrite { .. } | ExecutionError::Broken { .. }
        )
    }
}

fn positive_opt(d: Option<Decimal>, what: &'static str) -> Result<Option<f64>, ExecutionError> {
    d.map(|d| positive(d, what)).transpose()
}

impl State {
    fn new(settings: MockSettings) -> State {
        State {
            exchange: Exchange::new(0, settings.initial_cash, settings.costs),
            symbols: HashMap::new(),
            names: Vec::new(),
            last: Vec::new(),
            market: Vec::new(),
            submitted: HashMap::new(),
            legacy: HashSet::new(),
            orders: HashMap::new(),
            next_id: 0,
            realized_pnl: 0.0,
            cancelled: HashSet::new(),
        }
    }

    /// Forgets what no later input or question can need: orders neither
    /// working nor holding a bracket, and the client ids of the orders
    /// whose journal lines lie before the checkpoint, i.e. every id except
    /// those in `after` (the accepted lines after it) and those of live
    /// orders (see [`super::snapshot`]).
    fn compact(&mut self, after: &HashSet<String>) {
        let mut live = HashSet::new();
        for i in 0..self.exchange.symbols() {
            live.extend(self.exchange.working(i).iter().map(|o| o.id));
            live.extend(self.exchange.brackets(i).iter().map(|b| b.order_id));
        }
        self.orders.retain(|id, _| live.contains(id));
        self.submitted
            .retain(|client_id, id| live.contains(id) || after.contains(client_id));
    }

    fn has_submitted(&self, client_order_id: &str) -> bool {
        self.submitted.contains_key(client_order_id) || self.legacy.contains(client_order_id)
    }

    /// Every client id [`State::has_submitted`] knows.
    fn client_ids(&self) -> impl Iterator<Item = &str> {
        self.submitted
            .keys()
            .chain(&self.legacy)
            .map(String::as_str)
    }

    fn is_working(&self, client_order_id: &str) -> bool {
        let Some(&id) = self.submitted.get(client_order_id) else {
            return false;
        };
        let Some(order) = self.orders.get(&id) else {
            return false;
        };
        self.exchange
            .working(order.symbol)
            .iter()
            .any(|o| o.id == id)
    }

    fn last_price(&self, symbol: &str) -> Option<Decimal> {
        self.symbols.get(symbol).map(|&i| self.last[i])
    }

    /// The submit line of `order` at `at_ms`: its observed price chosen by
    /// the module doc's rule.
    fn prepare(&self, order: &ExecOrder, at_ms: i64) -> Result<Submit, ExecutionError> {
        if order.is_cancel() {
            // A cancel observes no price: its line records the last one
            // observed (0 before any), which it does not use.
            return Ok(Submit {
                order: order.clone(),
                mark: self.last_price(&order.symbol).unwrap_or(Decimal::ZERO),
                at_ms,
            });
        }
        let mark = observed_price(
            order.order_type,
            order.price,
            order.stop_price,
            order.mark_price,
            self.last_price(&order.symbol),
        )
        .ok_or_else(|| ExecutionError::NoPrice {
            symbol: order.symbol.clone(),
        })?;
        Ok(Submit {
            order: order.clone(),
            mark,
            at_ms,
        })
    }

    /// Submits the order and runs its observation; the fills it caused.
    /// Checks everything first: an error changes nothing.
    fn apply(&mut self, s: &Submit) -> Result<Vec<FillRecord>, ExecutionError> {
        let o = &s.order;
        if let ExecAction::Cancel(of) = &o.action {
            return self.apply_cancel(o, of).map(|()| Vec::new());
        }
        let quantity = positive(o.quantity, "quantity")?;
        positive_opt(o.price, "price")?;
        positive_opt(o.stop_price, "stop_price")?;
        // Only from a hand-edited line: the gate refuses it (missing_price).
        let kind = OrderKind::for_order(o.order_type, o.price, o.stop_price).ok_or(
            ExecutionError::MissingPrice {
                order_type: o.order_type,
            },
        )?;
        let stop_loss = positive_opt(o.stop_loss, "stop_loss")?;
        let take_profit = positive_opt(o.take_profit, "take_profit")?;
        let mark = positive(s.mark, "mark")?;
        let id = self.next_id;
        let next_id = id.checked_add(1).ok_or(ExecutionError::TooManyOrders)?;

        let symbol = match self.symbols.get(&s.order.symbol) {
            Some(&i) => i,
            None => {
                let i = self.exchange.add_symbol();
                self.symbols.insert(s.order.symbol.clone(), i);
                self.names.push(s.order.symbol.clone());
                self.last.push(s.mark);
                self.market.push(None);
                i
            }
        };
        // `is_empty` first: the paper stage never cancels, and its hot path
        // should not hash every id for nothing.
        if self.cancelled.is_empty() || !self.cancelled.contains(&o.client_order_id) {
            self.exchange.submit(ExchangeOrder {
                id,
                symbol,
                side: o.side,
                quantity,
                kind,
                stop_loss,
                take_profit,
                arrival_ms: s.at_ms,
            });
        }
        self.next_id = next_id;
        self.orders.insert(
            id,
            OrderRef {
                client_order_id: s.order.client_order_id.clone(),
                event_id: s.order.event_id.clone(),
                symbol,
                kind,
            },
        );
        self.submitted
            .entry(s.order.client_order_id.clone())
            .or_insert(id);
        self.last[symbol] = s.mark;
        if let Some(market) = o.mark_price {
            self.market[symbol] = Some(market);
        }
        self.exchange.on_bar(
            symbol,
            &Bar {
                time_ms: s.at_ms,
                open: mark,
                high: mark,
                low: mark,
                close: mark,
                volume: 0.0,
            },
        );
        // The state is what the log's inputs determine; the history is in
        // the log, so the exchange's own lists are emptied.
        for t in self.exchange.trades.drain(..) {
            self.realized_pnl += t.pnl();
        }
        let fills: Vec<Fill> = self.exchange.fills.drain(..).collect();
        Ok(fills.iter().map(|f| self.record(f)).collect())
    }

    /// A cancel alert's submit line: withdraws the working order of the
    /// target's client id, or every working order of the symbol
    /// ([`Exchange::cancel`]: brackets stay), and runs no observation. It
    /// takes an exchange id, so that its client id counts as submitted
    /// (a repeat does nothing), though nothing enters the book.
    fn apply_cancel(&mut self, o: &ExecOrder, of: &CancelOf) -> Result<(), ExecutionError> {
        let id = self.next_id;
        self.next_id = id.checked_add(1).ok_or(ExecutionError::TooManyOrders)?;
        self.submitted
            .entry(o.client_order_id.clone())
            .or_insert(id);
        // Exchange ids stay below u32::MAX (see `TooManyOrders`), so an
        // unknown target is an id no order has: the cancel finds nothing,
        // as it does for a symbol never traded.
        let target = of
            .client_order_id
            .as_ref()
            .map(|target| self.submitted.get(target).copied().unwrap_or(u32::MAX));
        let symbol = self.symbols.get(&o.symbol).copied().unwrap_or(usize::MAX);
        self.exchange.cancel(symbol, target);
        Ok(())
    }

    fn record(&self, f: &Fill) -> FillRecord {
        // Only working or bracketed orders fill, and compaction keeps them.
        let order = &self.orders[&f.order_id];
        let reason = match (f.reason, order.kind) {
            (FillReason::Order, OrderKind::Market) => FillKind::Market,
            (FillReason::Order, OrderKind::Limit(_)) => FillKind::Limit,
            (FillReason::Order, OrderKind::Stop(_)) => FillKind::Stop,
            (FillReason::StopLoss, _) => FillKind::BracketStopLoss,
            (FillReason::TakeProfit, _) => FillKind::BracketTakeProfit,
        };
        FillRecord {
            client_order_id: order.client_order_id.clone(),
            event_id: order.event_id.clone(),
            symbol: self.names[f.symbol].clone(),
            side: f.side,
            reason,
            price: f.price,
            quantity: f.quantity,
            fee: f.fee,
            at_ms: f.time_ms,
        }
    }
}

fn encode(line: &LogLine) -> Result<Vec<u8>, ExecutionError> {
    let mut bytes = serde_json::to_vec(line).map_err(|e| ExecutionError::Encode(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A snapshot's body (see [`super::snapshot`]).
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    /// `[simulation]`'s, which the state was computed with.
    initial_cash: f64,
    costs: Costs,
    /// The log's length the state covers.
    log_offset: u64,
    /// [`snapshot::check_bytes`] of the log before `log_offset`.
    log_check: String,
    journal: JournalMarks,
    /// [`snapshot::check_bytes`] of the journal before
    /// [`JournalMarks::read_from`].
    journal_check: String,
    state: State,
}

/// The snapshot of the log at `path`, if there is one that is whole, was
/// computed with `settings` and matches the log and `journal`; else
/// `None`, with a warning saying why (`None` at once without a journal).
fn read_snapshot(
    path: &Path,
    settings: MockSettings,
    journal: Option<&Path>,
) -> Option<SnapshotBody> {
    let journal = journal?;
    let file = snapshot::path_for(path);
    let ignored = |why: &dyn std::fmt::Display| {
        tracing::warn!(
            snapshot = %file.display(),
            "snapshot ignored ({why}): reading the logs whole"
        );
    };
    let body = match snapshot::read(&file) {
        Ok(Some(body)) => body,
        Ok(None) => return None,
        Err(e) => {
            ignored(&e);
            return None;
        }
    };
    let mut snap: SnapshotBody = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            ignored(&e);
            return None;
        }
    };
    if snap.initial_cash != settings.initial_cash || snap.costs != settings.costs {
        ignored(&"[simulation] costs or cash changed since it was taken");
        return None;
    }
    let log = snapshot::check_bytes(path, snap.log_offset);
    if !matches!(log, Ok(Some(ref c)) if *c == snap.log_check) {
        ignored(&"it does not match the exchange log");
        return None;
    }
    let check = snapshot::check_bytes(journal, snap.journal.read_from());
    if !matches!(check, Ok(Some(ref c)) if *c == snap.journal_check) {
        ignored(&"it does not match the journal");
        return None;
    }
    snap.state.symbols = (snap.state.names.iter().cloned()).zip(0..).collect();
    Some(snap)
}

/// The state of the log at `path`: its snapshot (if usable, see
/// [`read_snapshot`]) and the log's tail after it, else the whole log
/// (see [`load_from`]). Also the snapshot's journal marks.
fn load(
    path: &Path,
    settings: MockSettings,
    journal: Option<&Path>,
) -> io::Result<(State, Recovery, u64, Option<JournalMarks>)> {
    if let Some(snap) = read_snapshot(path, settings, journal) {
        match load_from(path, snap.state, snap.log_offset) {
            Ok((state, mut rec, len)) => {
                rec.snapshot_offset = Some(snap.log_offset);
                return Ok((state, rec, len, Some(snap.journal)));
            }
            Err(e) => tracing::warn!(
                path = %path.display(),
                "the log's tail after the snapshot could not be replayed ({e}); reading it whole"
            ),
        }
    }
    // Each cancel line met for an order in the book adds it to the orders
    // left out and starts again: one more pass per cancel (paper venue
    // only; a log without cancels is read once).
    let mut cancelled = HashSet::new();
    let rules = log_rules(path)?;
    loop {
        let mut state = State::new(settings);
        state.exchange.set_intra_bar(rules);
        state.cancelled.clone_from(&cancelled);
        match load_from(path, state, 0) {
            Ok((state, rec, len)) => return Ok((state, rec, len, None)),
            Err(e) => match replay_without(&e) {
                Some(id) if !cancelled.contains(&id) => {
                    cancelled.insert(id);
                }
                _ => return Err(e),
            },
        }
    }
}

/// Replays the log at `path` (missing: empty) from byte `offset` (a
/// batch's end) into `state`; cuts a partial last line off and writes back
/// fills lost at the end. Returns the state, what was found, and the log's
/// length. Line numbers in errors count from `offset`.
fn load_from(path: &Path, mut state: State, offset: u64) -> io::Result<(State, Recovery, u64)> {
    let mut rec = Recovery::default();
    // Recomputed fill lines not yet matched against logged ones.
    let mut expected: VecDeque<Vec<u8>> = VecDeque::new();
    fn mismatch(rec: &mut Recovery, n: u64, number: u64) {
        if n > 0 {
            rec.mismatches += n;
            rec.first_mismatch.get_or_insert(number);
        }
    }
    let read = jsonl::read_complete_lines_from(path, offset, |number, line| {
        match serde_json::from_slice::<LogLine>(line) {
            Ok(LogLine::Submit(s)) => {
                mismatch(&mut rec, expected.len() as u64, number);
                expected.clear();
                let fills = state
                    .apply(&s)
                    .map_err(|e| jsonl::invalid(path, number, format!("submit: {e}")))?;
                rec.submits += 1;
                for f in fills {
                    expected.push_back(encode(&LogLine::Fill(f)).map_err(io::Error::other)?);
                }
            }
            Ok(LogLine::Fill(_)) => {
                rec.fills += 1;
                if expected.pop_front().as_deref() != Some(line) {
                    mismatch(&mut rec, 1, number);
                }
            }
            Err(e) => {
                if serde_json::from_slice::<RulesLine>(line).is_ok() {
                    return Ok(());
                }
                if let Ok(c) = serde_json::from_slice::<CancelLine>(line) {
                    mismatch(&mut rec, expected.len() as u64, number);
                    expected.clear();
                    let id = c.cancel.client_order_id;
                    if !state.cancelled.contains(&id) {
                        return Err(io::Error::other(ReplayWithout(id)));
                    }
                    return Ok(());
                }
                match serde_json::from_slice::<LegacyFill>(line) {
                    Ok(legacy) => {
                        state.legacy.insert(legacy.client_order_id);
                        rec.legacy += 1;
                    }
                    Err(_) => return Err(jsonl::invalid(path, number, e)),
                }
            }
        }
        Ok(())
    })?;
    let Some(jsonl::ReadBack {
        mut file,
        complete,
        torn,
    }) = read
    else {
        return Ok((state, rec, 0));
    };

    let mut len = complete;
    let mut changed = false;
    if torn > 0 {
        rec.cut_bytes = torn;
        tracing::warn!(
            path = %path.display(),
            "fill log ends in a partial line (a crash mid-write); cutting it off"
        );
        file.set_len(complete)?;
        changed = true;
    }
    if !expected.is_empty() {
        file.seek(io::SeekFrom::Start(complete))?;
        for line in &expected {
            file.write_all(line)?;
            len += line.len() as u64;
        }
        rec.appended = expected.len() as u64;
        changed = true;
    }
    if changed {
        file.sync_all()?;
    }
    if rec.mismatches > 0 {
        tracing::warn!(
            path = %path.display(),
            mismatches = rec.mismatches,
            first_line = rec.first_mismatch,
            "fills recomputed from the log differ from the logged ones (were [simulation] fees or slippage changed?); the state follows the current settings"
        );
    }
    Ok((state, rec, len))
}

/// The mock exchange and its log.
#[derive(Debug)]
pub struct MockExchange {
    path: PathBuf,
    log: File,
    /// Bytes of the log that are durable.
    len: u64,
    settings: MockSettings,
    state: State,
    recovery: Recovery,
    /// A failed write is not undone yet: the log may hold bytes past `len`
    /// and the state orders the log does not. Undone before anything else.
    dirty: bool,
    /// The journal a snapshot's marks refer to (checked when one is read).
    journal: Option<PathBuf>,
    /// The journal marks of the snapshot the exchange was opened from.
    marks: Option<JournalMarks>,
    /// Orders submitted since the last snapshot (or the start).
    since_snapshot: u64,
    /// The client ids [`MockExchange::has_submitted`] knows, once durable,
    /// shared with the answer path: an accepted alert whose id the
    /// exchange knows (its event id reused after the gate's window) would
    /// submit nothing, so it is answered as the replay it is.
    known: KnownIds,
}

impl MockExchange {
    /// Opens (creating) the log at `path` and rebuilds the exchange from
    /// it (see the module doc). A line that is neither a submit nor a fill
    /// (nor the former paper exchange's) is an error naming it.
    /// The whole log is replayed (a snapshot is ignored).
    pub fn open(path: &Path, settings: MockSettings) -> io::Result<MockExchange> {
        MockExchange::open_with_journal(path, settings, None)
    }

    /// [`MockExchange::open`], from the snapshot next to the log (see
    /// [`super::snapshot`]) if it matches the log and the `journal` its
    /// marks refer to: the snapshot's state is read and only the log's
    /// lines after it are replayed. Without a `journal`, the whole log.
    pub fn open_with_journal(
        path: &Path,
        settings: MockSettings,
        journal: Option<&Path>,
    ) -> io::Result<MockExchange> {
        let (state, recovery, mut len, marks) = load(path, settings, journal)?;
        let mut log = OpenOptions::new().create(true).append(true).open(path)?;
        if len == 0 {
            // A new log says which bar order it is written under.
            let mut line = serde_json::to_vec(&RulesLine {
                rules: state.exchange.intra_bar(),
            })
            .map_err(io::Error::other)?;
            line.push(b'\n');
            log.write_all(&line)?;
            log.sync_data()?;
            len = line.len() as u64;
        }
        let known = KnownIds::default();
        known.extend(state.client_ids());
        Ok(MockExchange {
            path: path.to_path_buf(),
            log,
            len,
            settings,
            state,
            recovery,
            dirty: false,
            journal: journal.map(Path::to_path_buf),
            marks,
            since_snapshot: 0,
            known,
        })
    }

    /// The client ids the exchange has submitted, as they change (see
    /// [`KnownIds`]): taken when their submit is durable, forgotten when
    /// a snapshot compacts the exchange.
    pub fn known_ids(&self) -> KnownIds {
        self.known.clone()
    }

    /// The journal marks of the snapshot the exchange was opened from
    /// (`None`: it replayed its whole log, and the journal must be read
    /// whole).
    pub fn journal_marks(&self) -> Option<JournalMarks> {
        self.marks
    }

    /// Orders submitted since the last snapshot was taken (or the start).
    pub fn since_snapshot(&self) -> u64 {
        self.since_snapshot
    }

    /// The snapshot's body for the state now (see [`super::snapshot`]),
    /// to be written with [`snapshot::write`] at
    /// [`snapshot::path_for`] the log. First forgets what the snapshot
    /// need not hold ([`State::compact`]: `after` holds the client ids of
    /// the journal's accepted lines after `marks.checkpoint`).
    /// `journal_check` is [`snapshot::check_bytes`] of the journal before
    /// [`JournalMarks::read_from`]. `None` while a failed write is not
    /// undone.
    pub fn snapshot(
        &mut self,
        marks: JournalMarks,
        journal_check: String,
        after: &HashSet<String>,
    ) -> io::Result<Option<Vec<u8>>> {
        if self.dirty {
            return Ok(None);
        }
        let log_check = snapshot::check_bytes(&self.path, self.len)?
            .ok_or_else(|| io::Error::other("the log is shorter than its durable length"))?;
        self.state.compact(after);
        self.known.retain(|id| self.state.has_submitted(id));
        let body = SnapshotBody {
            initial_cash: self.settings.initial_cash,
            costs: self.settings.costs,
            log_offset: self.len,
            log_check,
            journal: marks,
            journal_check,
            state: self.state.clone(),
        };
        let bytes = serde_json::to_vec(&body).map_err(io::Error::other)?;
        self.since_snapshot = 0;
        Ok(Some(bytes))
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening found in the log.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// Whether this client order id has been submitted (it never will be
    /// again).
    pub fn has_submitted(&self, client_order_id: &str) -> bool {
        self.state.has_submitted(client_order_id)
    }

    /// Whether this client order id is working (resting) at the exchange.
    pub fn is_working(&self, client_order_id: &str) -> bool {
        self.state.is_working(client_order_id)
    }

    /// The exchange: positions, working orders, brackets, cash.
    pub fn exchange(&self) -> &Exchange {
        &self.state.exchange
    }

    /// The exchange index of `symbol`, once an order has named it.
    pub fn symbol_index(&self, symbol: &str) -> Option<usize> {
        self.state.symbols.get(symbol).copied()
    }

    /// The last price observed for `symbol` (from market data or an
    /// order), once an order has named it: what the next market order with
    /// no price of its own fills at.
    pub fn last_price(&self, symbol: &str) -> Option<Decimal> {
        self.state.last_price(symbol)
    }

    /// The symbols orders have named, in the order they first did
    /// (`BASE/QUOTE`).
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.state.names.iter().map(String::as_str)
    }

    /// Net position of `symbol`, base units (0 for one never traded).
    pub fn position(&self, symbol: &str) -> f64 {
        self.symbol_index(symbol)
            .map_or(0.0, |i| self.state.exchange.position(i))
    }

    /// The last price observed per symbol from market data (`BASE/QUOTE`,
    /// price): the mark the gateway values orders at when the data has none
    /// for an alert. Prices that came from alerts are left out: an alert
    /// must never set the price later alerts are valued at.
    pub fn last_market_prices(&self) -> impl Iterator<Item = (&str, Decimal)> {
        self.state
            .names
            .iter()
            .zip(&self.state.market)
            .filter_map(|(n, p)| Some((n.as_str(), (*p)?)))
    }

    /// Orders working at the exchange.
    pub fn open_orders(&self) -> u64 {
        self.state.exchange.counts().open_orders
    }

    /// PnL of the closed trades, net of their fees, quote units.
    pub fn realized_pnl(&self) -> f64 {
        self.state.realized_pnl
    }

    /// Withdraws the working order `client_order_id` at `at_ms`: a cancel
    /// line, written and fsynced, then the state rebuilt from the log
    /// without it (see the module doc; the whole log is read again, which
    /// only the paper venue's short logs do). `false`: it was not working
    /// (unknown, filled or already cancelled), nothing was written.
    pub fn cancel(&mut self, client_order_id: &str, at_ms: i64) -> Result<bool, ExecutionError> {
        if self.dirty {
            self.rollback()?;
        }
        if !self.state.is_working(client_order_id) {
            return Ok(false);
        }
        let line = serde_json::to_vec(&CancelLine {
            cancel: CancelRecord {
                client_order_id: client_order_id.to_string(),
                at_ms,
            },
        })
        .map_err(|e| ExecutionError::Encode(e.to_string()))?;
        let written = (self.log.write_all(&line))
            .and_then(|()| self.log.write_all(b"\n"))
            .and_then(|()| self.log.sync_data());
        if let Err(e) = written {
            let _ = self.rollback();
            return Err(ExecutionError::LogWrite {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            });
        }
        self.len += line.len() as u64 + 1;
        // The cancel is durable: rebuilding from the log (cut back to
        // `len`, which holds it) is what `rollback` does.
        self.rollback()?;
        Ok(true)
    }

    /// Submits an order once (see [`MockExchange::execute_batch`]).
    pub fn execute(&mut self, order: &ExecOrder, at_ms: i64) -> Result<Execution, ExecutionError> {
        match self.execute_batch(std::slice::from_ref(order), at_ms).pop() {
            Some(result) => result,
            None => unreachable!("execute_batch answers once per order"),
        }
    }

    /// Submits orders in order at `at_ms` (the wall clock), each followed by
    /// its observation, with one write and one fsync of the log for all of
    /// them; one result per order. A client id submitted before (earlier in
    /// the batch too) submits nothing and answers `fresh: false`. An order
    /// that cannot be priced, or whose write fails, is an error; after a
    /// failed write nothing of the batch happened, so a retry submits it
    /// once.
    pub fn execute_batch(
        &mut self,
        orders: &[ExecOrder],
        at_ms: i64,
    ) -> Vec<Result<Execution, ExecutionError>> {
        if self.dirty {
            if let Err(e) = self.rollback() {
                return orders.iter().map(|_| Err(e.clone())).collect();
            }
        }
        let mut bytes = Vec::new();
        let mut results: Vec<Result<Execution, ExecutionError>> = orders
            .iter()
            .map(|order| self.stage(order, at_ms, &mut bytes))
            .collect();
        if bytes.is_empty() {
            return results;
        }
        if let Err(e) = self
            .log
            .write_all(&bytes)
            .and_then(|()| self.log.sync_data())
        {
            let e = ExecutionError::LogWrite {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            };
            for r in &mut results {
                if matches!(r, Ok(x) if x.fresh) {
                    *r = Err(e.clone());
                }
            }
            // If this fails, the next batch tries again first.
            let _ = self.rollback();
            return results;
        }
        self.len += bytes.len() as u64;
        self.known.extend(results.iter().filter_map(|r| match r {
            Ok(x) if x.fresh => Some(x.client_order_id.as_str()),
            _ => None,
        }));
        self.since_snapshot += results
            .iter()
            .filter(|r| matches!(r, Ok(x) if x.fresh))
            .count() as u64;
        results
    }

    /// Submits one order in memory and queues its lines in `bytes`.
    fn stage(
        &mut self,
        order: &ExecOrder,
        at_ms: i64,
        bytes: &mut Vec<u8>,
    ) -> Result<Execution, ExecutionError> {
        let id = &order.client_order_id;
        if self.state.has_submitted(id) {
            return Ok(Execution {
                client_order_id: id.clone(),
                fresh: false,
                mark: None,
                working: self.state.is_working(id),
                fills: Vec::new(),
                cancelled: 0,
            });
        }
        let submit = self.state.prepare(order, at_ms)?;
        let line = encode(&LogLine::Submit(submit.clone()))?;
        let withdrawn = self.state.exchange.counts().cancelled_by_alerts;
        let fills = self.state.apply(&submit)?;
        let cancelled = self.state.exchange.counts().cancelled_by_alerts - withdrawn;
        bytes.extend_from_slice(&line);
        for f in &fills {
            match encode(&LogLine::Fill(f.clone())) {
                Ok(l) => bytes.extend_from_slice(&l),
                // An output only: recovery recomputes it.
                Err(e) => tracing::error!("fill line: {e}"),
            }
        }
        // Its own observation cannot cancel it: it rests unless it filled.
        let filled = fills
            .iter()
            .any(|f| f.client_order_id == *id && !f.reason.is_bracket());
        Ok(Execution {
            client_order_id: id.clone(),
            fresh: true,
            mark: Some(submit.mark).filter(|_| !order.is_cancel()),
            working: !filled && !order.is_cancel(),
            fills,
            cancelled,
        })
    }

    /// Undoes a batch whose write failed: cuts the log back to its durable
    /// length and rebuilds the state from it (through a new handle: after a
    /// failed fsync, the old one proves nothing). If that fails too, the
    /// exchange stays dirty and the next batch tries again.
    fn rollback(&mut self) -> Result<(), ExecutionError> {
        self.dirty = true;
        let undone = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .and_then(|f| {
                f.set_len(self.len)?;
                f.sync_all()
            })
            .and_then(|()| load(&self.path, self.settings, self.journal.as_deref()))
            .and_then(|(state, _, len, _)| {
                let log = OpenOptions::new().append(true).open(&self.path)?;
                Ok((state, len, log))
            });
        match undone {
            Ok((state, len, log)) => {
                self.state = state;
                self.len = len;
                self.log = log;
                self.dirty = false;
                // What the log holds again is what the answer path knows
                // (read whole, the log may name ids a compaction forgot).
                self.known.retain(|id| self.state.has_submitted(id));
                self.known.extend(self.state.client_ids());
                Ok(())
            }
            Err(e) => {
                let e = ExecutionError::Broken {
                    path: self.path.display().to_string(),
                    reason: e.to_string(),
                };
                tracing::error!("{e}");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::execution::client_order_id;
    use OrderType::{Limit, Market, StopLoss};
    use Side::{Buy, Sell};

    const T0: i64 = 1_700_000_000_000;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    fn order(id: &str, side: Side, order_type: OrderType, price: Option<&str>) -> ExecOrder {
        let id_ = client_order_id("", id);
        ExecOrder {
            price: price.map(d),
            ..ExecOrder::new(&id_, id, "BTC/USDT", side, order_type, Decimal::ONE)
        }
    }

    fn market(id: &str, side: Side, price: &str) -> ExecOrder {
        order(id, side, Market, Some(price))
    }

    fn costs() -> MockSettings {
        MockSettings {
            initial_cash: 10_000.0,
            costs: Costs {
                maker_fee_bps: 2.0,
                taker_fee_bps: 10.0,
                slippage_bps: 50.0,
            },
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    fn log_lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A cancel alert's order: of `target`'s order, else of the symbol's.
    fn cancel(id: &str, target: Option<&str>) -> ExecOrder {
        use alertgate_validator::alert::EventId;
        use alertgate_validator::{Action, CancelTarget};
        let action = match target {
            Some(t) => Action::Cancel(CancelTarget::Event(EventId::try_from(t).unwrap())),
            None => Action::Cancel(CancelTarget::Symbol),
        };
        ExecOrder {
            action: ExecAction::of("", &action),
            ..ExecOrder::new(
                &client_order_id("", id),
                id,
                "BTC/USDT",
                Buy,
                Market,
                Decimal::ZERO,
            )
        }
    }

    #[test]
    fn a_cancel_alert_withdraws_its_target_and_a_reopened_log_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fills.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        ex.execute(&market("m1", Buy, "100"), T0).unwrap();
        let l1 = order("l1", Sell, Limit, Some("110"));
        let l2 = order("l2", Sell, Limit, Some("120"));
        ex.execute(&l1, T0 + 1).unwrap();
        ex.execute(&l2, T0 + 2).unwrap();
        let done = ex.execute(&cancel("c1", Some("l1")), T0 + 3).unwrap();
        assert_eq!(
            (done.cancelled, done.working, done.fills.len()),
            (1, false, 0)
        );
        assert!(!ex.is_working(&l1.client_order_id));
        assert!(ex.is_working(&l2.client_order_id));
        // A repeat does nothing; a cancel of a filled order finds nothing.
        let again = ex.execute(&cancel("c1", Some("l1")), T0 + 4).unwrap();
        assert!(!again.fresh);
        let late = ex.execute(&cancel("c2", Some("m1")), T0 + 5).unwrap();
        assert_eq!(late.cancelled, 0);
        // 115 would have filled l1.
        let m2 = ex.execute(&market("m2", Buy, "115"), T0 + 6).unwrap();
        assert_eq!(m2.fills.len(), 1, "{:?}", m2.fills);
        let counts = ex.exchange().counts();
        assert_eq!(
            (counts.cancelled_by_alerts, counts.cancels_unmatched),
            (1, 1)
        );
        // The cancel is a submit line with its action, and the log replays
        // to the same state.
        let lines = log_lines(&path);
        let line = lines
            .iter()
            .find(|l| l["submit"]["event_id"] == "c1")
            .unwrap();
        assert_eq!(line["submit"]["action"]["cancel"]["event_id"], "l1");
        let reopened = MockExchange::open(&path, costs()).unwrap();
        assert_eq!(reopened.exchange(), ex.exchange());
        assert_eq!(reopened.recovery().mismatches, 0);
    }

    #[test]
    fn a_symbol_cancel_alert_keeps_the_positions_bracket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fills.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        let entry = ExecOrder {
            stop_loss: Some(d("90")),
            ..market("m1", Buy, "100")
        };
        ex.execute(&entry, T0).unwrap();
        ex.execute(&order("l1", Buy, Limit, Some("95")), T0 + 1)
            .unwrap();
        let done = ex.execute(&cancel("all", None), T0 + 2).unwrap();
        assert_eq!(done.cancelled, 1);
        assert_eq!(ex.exchange().brackets(0).len(), 1);
        // The stop-loss still fires.
        let m2 = ex.execute(&market("m2", Sell, "89"), T0 + 3).unwrap();
        assert!(m2
            .fills
            .iter()
            .any(|f| f.reason == FillKind::BracketStopLoss));
    }

    #[test]
    fn fill_kinds_are_written_as_their_names() {
        use FillKind::*;
        for k in [Market, Limit, Stop, BracketStopLoss, BracketTakeProfit] {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.name()));
            assert_eq!(serde_json::from_str::<FillKind>(&json).unwrap(), k);
            assert_eq!(k.is_bracket(), k.name().starts_with("bracket_"));
        }
    }

    #[test]
    fn a_market_order_fills_at_its_observation_with_slippage_and_the_taker_fee() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fills.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        let done = ex.execute(&market("m1", Buy, "100"), T0).unwrap();
        assert!(done.fresh && !done.working);
        assert_eq!(done.mark, Some(d("100")));
        assert_eq!(done.fills.len(), 1);
        let f = &done.fills[0];
        assert_eq!((f.reason, f.side), (FillKind::Market, Buy));
        assert!(close(f.price, 100.5), "{f:?}");
        assert!(close(f.fee, 100.5 * 10.0 / 10_000.0), "{f:?}");
        assert_eq!((f.quantity, f.at_ms), (1.0, T0));
        assert_eq!(ex.position("BTC/USDT"), 1.0);
        assert!(close(ex.exchange().cash(), 10_000.0 - 100.5 - 0.1005));
        // With a market-data mark, that is the observation, not the price.
        let mut o = market("m2", Sell, "100");
        o.mark_price = Some(d("110"));
        let f = &ex.execute(&o, T0 + 1).unwrap().fills[0];
        assert!(close(f.price, 110.0 * (1.0 - 0.005)), "{f:?}");
        assert_eq!(ex.position("BTC/USDT"), 0.0);
        assert!(close(
            ex.realized_pnl(),
            109.45 - 100.5 - 0.1005 - 109.45 * 0.001
        ));
        // The log: its rules, then submit, fill, submit, fill.
        let lines = log_lines(&path);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["rules"], "stops_first");
        let lines = &lines[1..];
        assert_eq!(lines[0]["submit"]["mark"], "100");
        assert_eq!(lines[0]["submit"]["at_ms"], T0);
        assert_eq!(lines[1]["fill"]["event_id"], "m1");
        assert_eq!(lines[2]["submit"]["mark"], "110");
        assert_eq!(lines[3]["fill"]["reason"], "market");
    }

    #[test]
    fn a_limit_below_the_observation_rests_then_fills_when_a_later_one_crosses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fills.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        ex.execute(&market("m1", Buy, "100"), T0).unwrap();
        // Observed at the last price, 100: a buy limit at 95 rests.
        let limit = order("l1", Buy, Limit, Some("95"));
        let done = ex.execute(&limit, T0 + 1).unwrap();
        assert_eq!(done.mark, Some(d("100")));
        assert!(done.fills.is_empty() && done.working);
        assert_eq!(ex.open_orders(), 1);
        // A later observation above it leaves it resting.
        let done = ex.execute(&market("m2", Buy, "96"), T0 + 2).unwrap();
        assert_eq!(done.fills.len(), 1);
        assert!(ex.is_working(&limit.client_order_id));
        // One at 94 crosses it: it fills at 94 (at the observation, never
        // worse than its limit), maker fee, no slippage; before the market
        // order that brought the observation (arrival order).
        let done = ex.execute(&market("m3", Sell, "94"), T0 + 3).unwrap();
        let got: Vec<(&str, FillKind, f64)> = done
            .fills
            .iter()
            .map(|f| (f.event_id.as_str(), f.reason, f.price))
            .collect();
        assert_eq!(got[0], ("l1", FillKind::Limit, 94.0));
        assert!(close(done.fills[0].fee, 94.0 * 2.0 / 10_000.0));
        assert_eq!((got[1].0, got[1].1), ("m3", FillKind::Market));
        assert!(!ex.is_working(&limit.client_order_id));
        assert_eq!(ex.open_orders(), 0);
        assert_eq!(ex.position("BTC/USDT"), 2.0);
    }

    #[test]
    fn limit_and_stop_orders_with_nothing_observed_execute_at_their_own_price() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = MockExchange::open(&dir.path().join("f.jsonl"), costs()).unwrap();
        let f = &ex
            .execute(&order("l1", Buy, Limit, Some("95")), T0)
            .unwrap()
            .fills[0];
        assert_eq!((f.reason, f.price), (FillKind::Limit, 95.0));
        let mut stop = order("s1", Buy, StopLoss, None);
        stop.symbol = "ETH/USDT".into();
        stop.stop_price = Some(d("2000"));
        let f = &ex.execute(&stop, T0).unwrap().fills[0];
        assert_eq!(f.reason, FillKind::Stop);
        assert!(close(f.price, 2010.0));
        // A market order with no price and nothing observed cannot execute,
        // and leaves nothing behind.
        let mut unpriced = order("u1", Buy, Market, None);
        unpriced.symbol = "SOL/USDT".into();
        let e = ex.execute(&unpriced, T0).unwrap_err();
        assert_eq!(
            e,
            ExecutionError::NoPrice {
                symbol: "SOL/USDT".into()
            }
        );
        assert_eq!(e.to_string(), "no price known for SOL/USDT");
        assert!(!ex.has_submitted(&unpriced.client_order_id));
        // Orders the gate never accepts are errors, never panics (a
        // hand-edited log line can hold them).
        let mut bad = market("b1", Buy, "100");
        bad.quantity = d("-1");
        let e = ex.execute(&bad, T0).unwrap_err();
        assert_eq!(e.to_string(), "quantity \"-1\" is not a positive number");
        let bad = order("b4", Buy, Limit, None);
        let e = ex.execute(&bad, T0).unwrap_err();
        assert_eq!(e.to_string(), "a limit order without a price");
        let mut bad = market("b5", Buy, "100");
        bad.mark_price = Some(Decimal::ZERO);
        assert!(ex.execute(&bad, T0).is_err());
        assert_eq!(ex.exchange().counts().orders, 2);
    }

    #[test]
    fn a_bracket_stop_loss_fires_on_a_later_observation() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = MockExchange::open(&dir.path().join("f.jsonl"), costs()).unwrap();
        let mut entry = market("e1", Buy, "100");
        entry.stop_loss = Some(d("95"));
        entry.take_profit = Some(d("120"));
        let done = ex.execute(&entry, T0).unwrap();
        assert_eq!(done.fills.len(), 1);
        let symbol = ex.symbol_index("BTC/USDT").unwrap();
        assert_eq!(ex.exchange().brackets(symbol).len(), 1);
        // Observed at the last price, 100: neither leg.
        let other = order("x1", Buy, Limit, Some("50"));
        assert!(ex.execute(&other, T0 + 1).unwrap().fills.is_empty());
        // 93 (a later alert's price): the stop-loss sells at 93 less
        // slippage, taker fee.
        let done = ex.execute(&market("x2", Buy, "93"), T0 + 2).unwrap();
        let legs: Vec<&FillRecord> = done
            .fills
            .iter()
            .filter(|f| f.reason == FillKind::BracketStopLoss)
            .collect();
        assert_eq!(legs.len(), 1, "{:?}", done.fills);
        assert_eq!(legs[0].client_order_id, entry.client_order_id);
        assert_eq!((legs[0].side, legs[0].quantity), (Sell, 1.0));
        assert!(close(legs[0].price, 93.0 * 0.995));
        assert!(ex.exchange().brackets(symbol).is_empty());
    }

    #[test]
    fn a_cancelled_order_never_fills_and_a_reopened_log_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fills.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        ex.execute(&market("m1", Buy, "100"), T0).unwrap();
        let l1 = order("l1", Buy, Limit, Some("95"));
        ex.execute(&l1, T0 + 1).unwrap();
        // l2's observation (94) fills l1; l2 itself rests.
        let l2 = ExecOrder {
            mark_price: Some(d("94")),
            ..order("l2", Buy, Limit, Some("90"))
        };
        ex.execute(&l2, T0 + 2).unwrap();
        assert!(ex.is_working(&l2.client_order_id));
        assert!(!ex.is_working(&l1.client_order_id));
        assert_eq!(ex.cancel(&l2.client_order_id, T0 + 3), Ok(true));
        assert!(!ex.is_working(&l2.client_order_id));
        assert!(ex.has_submitted(&l2.client_order_id));
        // Filled or unknown: nothing to cancel, nothing written.
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(ex.cancel(&l1.client_order_id, T0 + 4), Ok(false));
        assert_eq!(ex.cancel("nope", T0 + 4), Ok(false));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        // 89 would have reached l2.
        let m2 = market("m2", Sell, "89");
        let fills = ex.execute(&m2, T0 + 5).unwrap().fills;
        assert_eq!(fills.len(), 1, "{fills:?}");
        assert!(close(ex.position("BTC/USDT"), 1.0));
        let pnl = ex.realized_pnl();
        let cash = ex.exchange().cash();
        drop(ex);
        let ex = MockExchange::open(&path, costs()).unwrap();
        assert_eq!(ex.recovery().mismatches, 0, "{:?}", ex.recovery());
        assert!(close(ex.position("BTC/USDT"), 1.0));
        assert_eq!((ex.realized_pnl(), ex.exchange().cash()), (pnl, cash));
        assert!(!ex.is_working(&l2.client_order_id));
        assert_eq!(ex.open_orders(), 0);
        let cancels = log_lines(&path)
            .into_iter()
            .filter(|l| l.get("cancel").is_some())
            .count();
        assert_eq!(cancels, 1);
    }

    #[test]
    fn a_repeated_client_id_submits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        let limit = order("l1", Buy, Limit, Some("90"));
        ex.execute(&market("m1", Buy, "100"), T0).unwrap();
        assert!(ex.execute(&limit, T0).unwrap().fresh);
        let before = ex.state.clone();
        let again = ex.execute(&limit, T0 + 5).unwrap();
        assert!(!again.fresh && again.working && again.fills.is_empty());
        assert_eq!(again.mark, None);
        // Not even as an observation.
        let mut repeat = market("m1", Buy, "1");
        repeat.mark_price = Some(d("1"));
        assert!(!ex.execute(&repeat, T0 + 6).unwrap().fresh);
        assert_eq!(ex.state, before);
        // Twice in one batch: once.
        let r = ex.execute_batch(
            &[market("m2", Sell, "100"), market("m2", Sell, "100")],
            T0 + 7,
        );
        assert!(r[0].as_ref().unwrap().fresh && !r[1].as_ref().unwrap().fresh);
        let submits = log_lines(&path)
            .iter()
            .filter(|l| l.get("submit").is_some())
            .count();
        assert_eq!(submits, 3);
    }

    /// A mixed history: brackets, resting orders, reversals, two symbols.
    fn history() -> Vec<ExecOrder> {
        let mut v = Vec::new();
        let mut e1 = market("h1", Buy, "100");
        e1.stop_loss = Some(d("90"));
        e1.take_profit = Some(d("115"));
        v.push(e1);
        v.push(order("h2", Buy, Limit, Some("97")));
        v.push(order("h3", Sell, Limit, Some("110")));
        let mut s = order("h4", Sell, StopLoss, None);
        s.stop_price = Some(d("92"));
        v.push(s);
        let mut eth = market("h5", Sell, "2000");
        eth.symbol = "ETH/USDT".into();
        eth.quantity = d("0.5");
        eth.stop_loss = Some(d("2100"));
        v.push(eth);
        v.push(market("h6", Buy, "96"));
        let mut eth = market("h7", Buy, "2150");
        eth.symbol = "ETH/USDT".into();
        eth.quantity = d("2");
        v.push(eth);
        v.push(market("h8", Sell, "112"));
        // Observed at 116: h1's take-profit (115) sells 1 of the 1.5.
        let mut h9 = market("h9", Buy, "116");
        h9.quantity = d("0.5");
        v.push(h9);
        v.push(order("h10", Buy, Limit, Some("80")));
        v
    }

    #[test]
    fn replaying_the_log_rebuilds_the_same_state_and_fills() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        let mut reasons = Vec::new();
        for (i, o) in history().iter().enumerate() {
            let done = ex.execute(o, T0 + i as i64 * 1000).unwrap();
            reasons.extend(done.fills.into_iter().map(|f| f.reason.name()));
        }
        let fills = reasons.len() as u64;
        reasons.sort();
        reasons.dedup();
        assert_eq!(
            reasons,
            [
                "bracket_stop_loss",
                "bracket_take_profit",
                "limit",
                "market"
            ]
        );
        // h4's stop (92) and h10's limit (80) rest; at h7's observation
        // (2150) h5's stop-loss (2100) closed the ETH short first
        // (protective stops first), then h7 bought.
        assert_eq!(ex.open_orders(), 2);
        assert!(ex.realized_pnl() != 0.0);
        // So h5's bracket filled rather than being cancelled by a reversal.
        let counts = ex.exchange().counts();
        assert_eq!(counts.cancelled_brackets, 0, "{counts:?}");
        let again = MockExchange::open(&path, costs()).unwrap();
        assert_eq!(again.state, ex.state);
        assert_eq!(
            *again.recovery(),
            Recovery {
                submits: 10,
                fills,
                ..Recovery::default()
            }
        );
        // Other costs: the same positions, differently priced fills.
        let cheap = MockExchange::open(&path, MockSettings::default()).unwrap();
        assert!(cheap.recovery().mismatches > 0);
        assert_eq!(
            cheap.recovery().first_mismatch,
            Some(3),
            "line 1 is the rules"
        );
        assert_eq!(cheap.position("BTC/USDT"), ex.position("BTC/USDT"));
    }

    #[test]
    fn a_snapshot_and_the_logs_tail_rebuild_the_state_a_bad_snapshot_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let snap = snapshot::path_for(&path);
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        let h = history();
        for (i, o) in h.iter().enumerate().take(6) {
            ex.execute(o, T0 + i as i64 * 1000).unwrap();
        }
        let offset = ex.len;
        // Keep the ids of h6 (as if its journal line were after the
        // checkpoint); forget the others but those of live orders.
        let after = HashSet::from([h[5].client_order_id.clone()]);
        let marks = JournalMarks {
            checkpoint: 7,
            replay_from: 3,
        };
        let journal = dir.path().join("j.jsonl");
        std::fs::write(&journal, "0123456789\n").unwrap();
        let check = snapshot::check_bytes(&journal, 3).unwrap().unwrap();
        let body = ex.snapshot(marks, check, &after).unwrap().unwrap();
        let open = |path: &Path, settings| {
            MockExchange::open_with_journal(path, settings, Some(&journal)).unwrap()
        };
        snapshot::write(&snap, &body).unwrap();
        assert_eq!(ex.since_snapshot(), 0);
        assert!(ex.has_submitted(&h[5].client_order_id));
        assert!(ex.has_submitted(&h[3].client_order_id), "h4's stop rests");
        assert!(
            ex.has_submitted(&h[0].client_order_id),
            "h1 holds a bracket"
        );
        assert!(
            !ex.has_submitted(&h[1].client_order_id),
            "h2 filled: forgotten"
        );
        // The answer path forgets with the exchange, no more and no less.
        let known = ex.known_ids();
        for o in &h[..6] {
            let id = &o.client_order_id;
            assert_eq!(known.contains(id), ex.has_submitted(id), "{id}");
        }
        for (i, o) in h.iter().enumerate().skip(6) {
            ex.execute(o, T0 + i as i64 * 1000).unwrap();
        }
        let again = open(&path, costs());
        assert_eq!(again.recovery().snapshot_offset, Some(offset));
        assert_eq!(again.recovery().submits, 4);
        assert_eq!(again.recovery().mismatches, 0);
        assert_eq!(again.journal_marks(), Some(marks));
        assert_eq!(again.state, ex.state);
        for o in &h {
            let id = &o.client_order_id;
            assert_eq!(again.known_ids().contains(id), ex.has_submitted(id), "{id}");
        }
        // The whole log gives the same exchange: positions, lots, working
        // orders, brackets, cash, PnL.
        let whole = |ex: &MockExchange| {
            (
                ex.state.exchange.clone(),
                ex.state.realized_pnl,
                ex.state.last.clone(),
                ex.state.names.clone(),
                ex.open_orders(),
            )
        };
        let full = MockExchange::open(&path, costs()).unwrap();
        assert_eq!(full.recovery().snapshot_offset, None);
        assert_eq!(whole(&full), whole(&ex));
        // A snapshot cut short, of other costs, or of another log is
        // ignored: the whole log is read.
        let kept = std::fs::read(&snap).unwrap();
        std::fs::write(&snap, &kept[..kept.len() - 1]).unwrap();
        let cut = open(&path, costs());
        assert_eq!(cut.recovery().snapshot_offset, None);
        assert_eq!(whole(&cut), whole(&ex));
        std::fs::write(&snap, &kept).unwrap();
        let other = open(&path, MockSettings::default());
        assert_eq!(other.recovery().snapshot_offset, None);
        let elsewhere = dir.path().join("g.jsonl");
        let mut other_log = vec![b'x'; offset as usize];
        *other_log.last_mut().unwrap() = b'\n';
        std::fs::write(&elsewhere, other_log).unwrap();
        std::fs::copy(&snap, snapshot::path_for(&elsewhere)).unwrap();
        let e = MockExchange::open_with_journal(&elsewhere, costs(), Some(&journal));
        assert!(e.is_err(), "read whole: x is no line");
        // And one that does not match its journal.
        std::fs::write(&journal, "x123456789\n").unwrap();
        assert_eq!(open(&path, costs()).recovery().snapshot_offset, None);
    }

    #[test]
    fn a_crash_mid_write_cuts_the_partial_line_and_writes_lost_fills_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        for (i, o) in history().iter().enumerate() {
            ex.execute(o, T0 + i as i64 * 1000).unwrap();
        }
        drop(ex);
        let full = std::fs::read(&path).unwrap();
        let text = String::from_utf8(full.clone()).unwrap();
        // The last submit line whose observation filled something; the log
        // torn a few bytes into its first fill line.
        let lines: Vec<&str> = text.lines().collect();
        let k = (0..lines.len() - 1)
            .rev()
            .find(|&k| lines[k].starts_with("{\"submit\"") && lines[k + 1].starts_with("{\"fill\""))
            .unwrap();
        let keep: usize = lines[..=k].iter().map(|l| l.len() + 1).sum::<usize>() + 10;
        std::fs::write(&path, &full[..keep]).unwrap();
        let ex = MockExchange::open(&path, costs()).unwrap();
        assert_eq!(ex.recovery().cut_bytes, 10);
        assert!(ex.recovery().appended >= 1);
        assert_eq!(ex.recovery().mismatches, 0);
        // What was lost is back, byte for byte, up to the torn batch's end.
        let back = std::fs::read_to_string(&path).unwrap();
        let fills_after_k = lines[k + 1..]
            .iter()
            .take_while(|l| l.starts_with("{\"fill\""))
            .count();
        assert_eq!(ex.recovery().appended as usize, fills_after_k);
        assert_eq!(
            back.lines().collect::<Vec<_>>(),
            lines[..=k + fills_after_k]
        );
        // Partial submit line: that order was never submitted.
        drop(ex);
        let upto: usize = lines[..k].iter().map(|l| l.len() + 1).sum();
        std::fs::write(&path, &full[..upto + 5]).unwrap();
        let ex = MockExchange::open(&path, costs()).unwrap();
        let torn: Submit = match serde_json::from_str(lines[k]).unwrap() {
            LogLine::Submit(s) => s,
            LogLine::Fill(_) => unreachable!(),
        };
        assert!(!ex.has_submitted(&torn.order.client_order_id));
    }

    #[test]
    fn a_bad_line_is_an_error_naming_it_and_legacy_fills_count_as_submitted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        std::fs::write(&path, "{\"submit\":{\"client_order_id\":\"x\"}}\n").unwrap();
        let e = MockExchange::open(&path, costs()).unwrap_err().to_string();
        assert!(e.contains("f.jsonl:1:"), "{e}");
        // So is a side, order type or decimal that is not one.
        let good = r#"{"submit":{"client_order_id":"c","event_id":"e","symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":"1","mark":"1","at_ms":1}}"#;
        assert!(serde_json::from_str::<LogLine>(good).is_ok());
        for (from, to) in [
            ("\"buy\"", "\"hold\""),
            ("\"market\"", "\"iceberg\""),
            ("\"quantity\":\"1\"", "\"quantity\":\"NaN\""),
            ("\"mark\":\"1\"", "\"mark\":1"),
        ] {
            std::fs::write(&path, format!("{}\n", good.replace(from, to))).unwrap();
            let e = MockExchange::open(&path, costs()).unwrap_err().to_string();
            assert!(e.contains("f.jsonl:1:"), "{to}: {e}");
        }
        let legacy = r#"{"client_order_id":"ag-1","event_id":"e1","symbol":"BTC/USDT","side":"buy","quantity":"0.1","price":"100","filled_at":1}"#;
        std::fs::write(&path, format!("{legacy}\n")).unwrap();
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        assert_eq!(ex.recovery().legacy, 1);
        assert!(ex.has_submitted("ag-1"));
        let mut o = market("e1", Buy, "100");
        o.client_order_id = "ag-1".into();
        assert!(!ex.execute(&o, T0).unwrap().fresh);
        // A submit whose values are bad (hand-edited) is an error too.
        let bad = r#"{"submit":{"client_order_id":"c","event_id":"e","symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":"0","mark":"1","at_ms":1}}"#;
        std::fs::write(&path, format!("{bad}\n")).unwrap();
        let e = MockExchange::open(&path, costs()).unwrap_err().to_string();
        assert!(e.contains(":1: submit: quantity"), "{e}");
    }

    #[test]
    fn a_failed_write_undoes_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        ex.execute(&market("m1", Buy, "100"), T0).unwrap();
        let before = ex.state.clone();
        // A handle that cannot write.
        ex.log = File::open(&path).unwrap();
        let r = ex.execute_batch(
            &[
                market("m2", Buy, "101"),
                order("l1", Buy, Limit, Some("50")),
            ],
            T0 + 1,
        );
        assert!(r
            .iter()
            .all(|r| matches!(r, Err(ExecutionError::LogWrite { .. }))));
        assert_eq!(ex.state, before);
        let m2 = client_order_id("", "m2");
        assert!(!ex.has_submitted(&m2));
        // The answer path never learns of a submit that is not durable.
        let known = ex.known_ids();
        assert!(known.contains(&client_order_id("", "m1")) && !known.contains(&m2));
        // The retry submits once.
        assert!(ex.execute(&market("m2", Buy, "101"), T0 + 2).unwrap().fresh);
        assert!(known.contains(&m2));
        assert_eq!(ex.position("BTC/USDT"), 2.0);
        let again = MockExchange::open(&path, costs()).unwrap();
        assert_eq!(again.state, ex.state);
        assert!(again.known_ids().contains(&m2), "rebuilt from the log");
    }

    #[test]
    fn a_failed_write_that_cannot_be_undone_yet_is_undone_before_the_next_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        ex.execute(&market("m1", Buy, "100"), T0).unwrap();
        let before = ex.state.clone();
        ex.log = File::open(&path).unwrap();
        // Nor can the log be reopened to cut it back.
        ex.path = dir.path().join("gone/f.jsonl");
        let r = ex.execute(&market("m2", Buy, "101"), T0 + 1);
        assert!(matches!(r, Err(ExecutionError::LogWrite { .. })), "{r:?}");
        // Still dirty: every batch fails before staging anything (the
        // state would say m2 was submitted).
        let r = ex.execute(&market("m2", Buy, "101"), T0 + 2);
        assert!(matches!(r, Err(ExecutionError::Broken { .. })), "{r:?}");
        assert!(r.unwrap_err().is_log_failure());
        // The disk is back: the next batch undoes, then submits m2 once.
        ex.path = path.clone();
        let done = ex.execute(&market("m2", Buy, "101"), T0 + 3).unwrap();
        assert!(done.fresh);
        assert_eq!(ex.position("BTC/USDT"), 2.0);
        assert!(!ex.execute(&market("m2", Buy, "101"), T0 + 4).unwrap().fresh);
        let again = MockExchange::open(&path, costs()).unwrap();
        assert_eq!(again.state, ex.state);
        assert_ne!(again.state, before);
    }

    #[test]
    fn an_undone_write_leaves_the_answer_path_knowing_what_the_reloaded_exchange_knows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let mut ex = MockExchange::open(&path, costs()).unwrap();
        let m1 = client_order_id("", "m1");
        ex.execute(&market("m1", Buy, "100"), T0).unwrap();
        // A snapshot's compaction forgets m1 (filled, no bracket, before
        // the checkpoint), here and on the answer path.
        ex.snapshot(JournalMarks::default(), String::new(), &HashSet::new())
            .unwrap()
            .unwrap();
        assert!(!ex.has_submitted(&m1) && !ex.known_ids().contains(&m1));
        // A failed write is undone by reading the log whole (no journal:
        // no snapshot is used), which names m1 again: so must the answer
        // path, or a reuse of m1 would be answered 200 and submit nothing.
        ex.log = File::open(&path).unwrap();
        let r = ex.execute(&market("m2", Buy, "101"), T0 + 1);
        assert!(matches!(r, Err(ExecutionError::LogWrite { .. })), "{r:?}");
        assert!(ex.has_submitted(&m1));
        assert!(ex.known_ids().contains(&m1));
        assert!(!ex.known_ids().contains(&client_order_id("", "m2")));
    }
}
