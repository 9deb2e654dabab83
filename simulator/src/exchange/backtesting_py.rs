//! backtesting.py 0.6.6's rules, exactly (`[simulation] conventions =
//! "backtesting.py"`): its `_Broker._process_orders`, `_open_trade`,
//! `_close_trade` and `_reduce_trade`, with `trade_on_close`, `hedging` and
//! `exclusive_orders` off (its defaults), `margin = 1`, and
//! `commission` = the taker fee as a fraction, `spread` = the slippage as a
//! fraction. Where it differs from alertgate's conventions (`docs/replay.md`
//! has the table):
//!
//! - **One queue.** A bar runs one list in its order: stop-loss legs at the
//!   head (the newest first), then working orders and take-profit legs in the
//!   order they were created (a take-profit joins the tail when its trade
//!   opens). A leg created while the bar runs waits for the next bar — except
//!   after a market entry, and after a stop entry whose take-profit the bar
//!   reaches while its stop-loss lies below the bar (above, for a short):
//!   backtesting.py then runs the whole queue again on the same bar, with the
//!   bar's real open.
//! - **Trades, not a net lot book.** A fill that flattens or reverses leaves
//!   the older working orders alone; only the legs of the trades it closed go.
//!   A leg closes its own trade, not the oldest one.
//! - **Margin.** A quantity below 1 is a fraction of the available margin
//!   (whole units, rounded down, at the fill's price plus commission); an
//!   order whose opening part the available margin cannot pay is cancelled
//!   (after its closing part has executed). Available margin uses the bar's
//!   close, as backtesting.py does (which runs one instrument: here every
//!   symbol's trades count, the others at their last close).
//! - **Costs.** The commission is charged on each trade's value at entry and
//!   at exit; the spread raises a long's (lowers a short's) entry price, and
//!   never touches an exit.
//!
//! Not reproduced: backtesting.py's stop-limit orders (an alert cannot
//! express one), its end of the run when equity reaches 0, and its refusal of
//! a non-whole quantity of 1 or more (traded as given here).

use alertgate_validator::Side;
use serde::{Deserialize, Serialize};

use super::{
    execution_price, opposite, sign, Bracket, ClosedTrade, Exchange, ExchangeOrder, Fill,
    FillReason, Lot, OrderKind,
};
use crate::market::Bar;

/// Whose rules the replay's exchange follows (`[simulation] conventions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Conventions {
    /// alertgate's (the default): brackets live from the entry bar, a
    /// flattening or reversing fill cancels the symbol's older orders, one
    /// net position matched FIFO.
    #[default]
    #[serde(rename = "alertgate")]
    Alertgate,
    /// backtesting.py 0.6.6's, exactly (this module).
    #[serde(rename = "backtesting.py")]
    BacktestingPy,
}

impl Conventions {
    /// `alertgate` or `backtesting.py`, as configured.
    pub fn name(self) -> &'static str {
        match self {
            Conventions::Alertgate => "alertgate",
            Conventions::BacktestingPy => "backtesting.py",
        }
    }
}

/// Where a bracket's legs sit in backtesting.py's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSlot {
    /// Creation rank among the exchange's brackets: the newest stop-loss
    /// runs first.
    pub seq: u64,
    /// The last order the exchange had received when the bracket was
    /// created: the take-profit runs after it and before any later order.
    pub after_order: Option<u32>,
}

/// backtesting.py's own bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(super) struct BacktestingPy {
    /// Its `_cash`: initial cash plus realized PnL less commissions, summed
    /// in its order, so margin sizing rounds as it does.
    cash: f64,
    /// The id of the last order received.
    pub(super) last_order: Option<u32>,
    /// The next bracket's [`QueueSlot::seq`].
    next_seq: u64,
}

impl BacktestingPy {
    pub(super) fn new(cash: f64) -> BacktestingPy {
        BacktestingPy {
            cash,
            last_order: None,
            next_seq: 0,
        }
    }
}

/// One entry of the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    /// A working order, by id.
    Order(u32),
    /// A bracket's stop-loss, by its opening order's id.
    StopLoss(u32),
    /// A bracket's take-profit, by its opening order's id.
    TakeProfit(u32),
}

/// Python's `x // y` on floats (CPython's `float_floor_div`), which is not
/// always `(x / y).floor()`: the fraction sizes backtesting.py computes must
/// round down exactly as it does.
pub fn py_floor_div(x: f64, y: f64) -> f64 {
    let m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 && ((y < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0_f64.copysign(x / y);
    }
    let mut floor = div.floor();
    if div - floor > 0.5 {
        floor += 1.0;
    }
    floor
}

impl Exchange {
    /// One bar of `symbol` by backtesting.py's `_process_orders`: the queue
    /// once, and again while a fill asks for it.
    pub(super) fn on_bar_backtesting_py(&mut self, symbol: usize, bar: &Bar) {
        loop {
            let mut again = false;
            for item in self.queue(symbol) {
                again |= match item {
                    Item::Order(id) => self.bt_order(symbol, id, bar),
                    Item::StopLoss(id) | Item::TakeProfit(id) => {
                        self.bt_leg(symbol, item, id, bar);
                        false
                    }
                };
            }
            if !again {
                break;
            }
        }
        let book = &mut self.books[symbol];
        book.reach = super::Reach::NONE;
        for order in &book.working {
            book.reach.add(order);
        }
    }

    /// `symbol`'s queue as it stands: stop-losses newest first, then orders
    /// and take-profits by creation.
    fn queue(&self, symbol: usize) -> Vec<Item> {
        let book = &self.books[symbol];
        let mut keyed: Vec<((u8, i64, u64), Item)> = Vec::new();
        for b in &book.brackets {
            let slot = b.queue_slot.unwrap_or(QueueSlot {
                seq: 0,
                after_order: None,
            });
            if b.stop_loss.is_some() {
                keyed.push(((0, -(slot.seq as i64), 0), Item::StopLoss(b.order_id)));
            }
            if b.take_profit.is_some() {
                let after = slot.after_order.map_or(-1, i64::from);
                keyed.push(((1, after, 1 + slot.seq), Item::TakeProfit(b.order_id)));
            }
        }
        for o in &book.working {
            keyed.push(((1, i64::from(o.id), 0), Item::Order(o.id)));
        }
        keyed.sort_by_key(|(k, _)| *k);
        keyed.into_iter().map(|(_, item)| item).collect()
    }

    fn bt(&self) -> BacktestingPy {
        self.backtesting_py
            .unwrap_or_else(|| BacktestingPy::new(self.cash))
    }

    fn commission_rate(&self) -> f64 {
        self.costs.taker_fee_bps / 10_000.0
    }

    /// Runs working order `id` if the bar fills it; true if its fill asks
    /// for the queue to run again on this bar.
    fn bt_order(&mut self, symbol: usize, id: u32, bar: &Bar) -> bool {
        let book = &self.books[symbol];
        let Some(at) = book.working.iter().position(|o| o.id == id) else {
            return false;
        };
        let order = book.working[at];
        let Some(price) = execution_price(order.kind, order.side, bar) else {
            return false;
        };
        self.books[symbol].working.remove(at);
        let spread = self.costs.slippage_bps / 10_000.0;
        let adjusted = price * (1.0 + sign(order.side) * spread);
        let q = order.quantity;
        let per_unit = adjusted + q * price * self.commission_rate() / q;
        let units = if q < 1.0 {
            let size = py_floor_div(self.margin_available(symbol, bar.close) * q, per_unit);
            if size < 1.0 {
                self.counts.cancelled_orders += 1;
                return false;
            }
            size
        } else {
            q
        };
        let rest = self.bt_close_fifo(symbol, &order, units, price, bar);
        if rest * per_unit > self.margin_available(symbol, bar.close) {
            self.counts.cancelled_orders += 1;
            return false;
        }
        if rest <= 0.0 {
            return false;
        }
        self.bt_open(symbol, &order, rest, adjusted, price, bar.time_ms);
        (order.stop_loss.is_some() || order.take_profit.is_some()) && reruns(&order, bar)
    }

    /// Closes `order`'s `units` FIFO against `symbol`'s opposite trades at
    /// `price`; returns the units left to open.
    fn bt_close_fifo(
        &mut self,
        symbol: usize,
        order: &ExchangeOrder,
        units: f64,
        price: f64,
        bar: &Bar,
    ) -> f64 {
        let mut need = units;
        let (mut closed, mut fees) = (0.0, 0.0);
        while need > 0.0 {
            let Some(lot) = self.books[symbol].lots.front() else {
                break;
            };
            if lot.quantity.signum() == sign(order.side) {
                break;
            }
            let q = need.min(lot.quantity.abs());
            fees += self.bt_close(symbol, 0, q, price, bar.time_ms);
            closed += q;
            need -= q;
        }
        if closed > 0.0 {
            self.fills.push(Fill {
                order_id: order.id,
                symbol,
                side: order.side,
                quantity: closed,
                price,
                reference_price: price,
                fee: fees,
                time_ms: bar.time_ms,
                reason: FillReason::Order,
            });
            let before = self.books[symbol].brackets.len();
            self.sync_brackets(symbol);
            self.counts.cancelled_brackets += (before - self.books[symbol].brackets.len()) as u64;
        }
        need
    }

    /// Closes `quantity` of lot `index` at `price` (backtesting.py's
    /// `_close_trade`, or `_reduce_trade` for a part); returns the exit
    /// commission.
    fn bt_close(
        &mut self,
        symbol: usize,
        index: usize,
        quantity: f64,
        price: f64,
        time_ms: i64,
    ) -> f64 {
        let rate = self.commission_rate();
        let book = &mut self.books[symbol];
        let lot = book.lots[index];
        let size = quantity * lot.quantity.signum();
        let pl = size * (price - lot.price);
        let commission = quantity * price * rate;
        if let Some(bt) = &mut self.backtesting_py {
            bt.cash += pl - commission;
        }
        self.cash += size * price - commission;
        self.fees_paid += commission;
        self.realized_gross += pl;
        let direction = if lot.quantity > 0.0 {
            Side::Buy
        } else {
            Side::Sell
        };
        self.trades.push(ClosedTrade {
            symbol,
            direction,
            quantity,
            entry_ms: lot.time_ms,
            entry_price: lot.price,
            exit_ms: time_ms,
            exit_price: price,
            gross_pnl: pl,
            fees: lot.fee_per_unit * quantity + commission,
        });
        if quantity >= lot.quantity.abs() {
            book.lots.remove(index);
        } else {
            book.lots[index].quantity -= size;
        }
        book.position = net(&book.lots);
        commission
    }

    /// Opens a trade of `units` at the spread-adjusted price (backtesting.py's
    /// `_open_trade`) and queues its legs.
    fn bt_open(
        &mut self,
        symbol: usize,
        order: &ExchangeOrder,
        units: f64,
        adjusted: f64,
        reference: f64,
        time_ms: i64,
    ) {
        let commission = units * adjusted * self.commission_rate();
        let mut bt = self.bt();
        bt.cash -= commission;
        self.cash -= sign(order.side) * units * adjusted + commission;
        self.fees_paid += commission;
        self.fills.push(Fill {
            order_id: order.id,
            symbol,
            side: order.side,
            quantity: units,
            price: adjusted,
            reference_price: reference,
            fee: commission,
            time_ms,
            reason: FillReason::Order,
        });
        let book = &mut self.books[symbol];
        book.lots.push_back(Lot {
            quantity: sign(order.side) * units,
            price: adjusted,
            time_ms,
            fee_per_unit: commission / units,
            order_id: Some(order.id),
        });
        book.position = net(&book.lots);
        if order.stop_loss.is_some() || order.take_profit.is_some() {
            book.brackets.push(Bracket {
                order_id: order.id,
                closes_with: opposite(order.side),
                quantity: units,
                stop_loss: order.stop_loss,
                take_profit: order.take_profit,
                attached: Some((time_ms, reference)),
                queue_slot: Some(QueueSlot {
                    seq: bt.next_seq,
                    after_order: bt.last_order,
                }),
            });
            bt.next_seq += 1;
        }
        self.backtesting_py = Some(bt);
    }

    /// Runs one leg of the bracket of order `id`: at its own trigger, with
    /// the bar's real open (a gap fills there), closing its own trade.
    fn bt_leg(&mut self, symbol: usize, leg: Item, id: u32, bar: &Bar) {
        let book = &self.books[symbol];
        let Some(b) = book.brackets.iter().find(|b| b.order_id == id).copied() else {
            return;
        };
        let hit = match leg {
            Item::StopLoss(_) => b
                .stop_loss
                .and_then(|p| execution_price(OrderKind::Stop(p), b.closes_with, bar))
                .map(|price| (price, FillReason::StopLoss)),
            _ => b
                .take_profit
                .and_then(|p| execution_price(OrderKind::Limit(p), b.closes_with, bar))
                .map(|price| (price, FillReason::TakeProfit)),
        };
        let Some((price, reason)) = hit else {
            return;
        };
        let Some(index) = book.lots.iter().position(|l| l.order_id == Some(id)) else {
            return;
        };
        let quantity = book.lots[index].quantity.abs();
        let fee = self.bt_close(symbol, index, quantity, price, bar.time_ms);
        self.fills.push(Fill {
            order_id: id,
            symbol,
            side: b.closes_with,
            quantity,
            price,
            reference_price: price,
            fee,
            time_ms: bar.time_ms,
            reason,
        });
        self.sync_brackets(symbol);
    }

    /// Drops the brackets whose trade is closed and sizes the others to
    /// what is left of their trade (backtesting.py resizes a reduced
    /// trade's legs).
    fn sync_brackets(&mut self, symbol: usize) {
        let book = &mut self.books[symbol];
        let lots = &book.lots;
        book.brackets.retain_mut(
            |b| match lots.iter().find(|l| l.order_id == Some(b.order_id)) {
                Some(l) => {
                    b.quantity = l.quantity.abs();
                    true
                }
                None => false,
            },
        );
    }

    /// backtesting.py's `margin_available` with `margin = 1`, `symbol`
    /// valued at `close` (the bar being run) and every other symbol at its
    /// last close: equity less the value of the open trades, at least 0.
    fn margin_available(&self, symbol: usize, close: f64) -> f64 {
        let mut unrealized = 0.0;
        let mut used = 0.0;
        for (i, book) in self.books.iter().enumerate() {
            let price = if i == symbol { close } else { book.mark };
            let size: f64 = book.lots.iter().map(|l| l.quantity).sum();
            let cost: f64 = book.lots.iter().map(|l| l.quantity * l.price).sum();
            unrealized += price * size - cost;
            used += book
                .lots
                .iter()
                .map(|l| l.quantity.abs() * price)
                .sum::<f64>();
        }
        (self.bt().cash + unrealized - used).max(0.0)
    }
}

/// Whether backtesting.py runs its queue again after `order` opened a
/// bracketed trade in `bar`: always after a market entry; after a stop
/// entry when the bar reaches the take-profit and not the stop-loss.
fn reruns(order: &ExchangeOrder, bar: &Bar) -> bool {
    match order.kind {
        OrderKind::Market => true,
        OrderKind::Stop(_) => match (order.take_profit, order.side) {
            (Some(tp), Side::Buy) => {
                tp <= bar.high && order.stop_loss.unwrap_or(f64::NEG_INFINITY) < bar.low
            }
            (Some(tp), Side::Sell) => {
                tp >= bar.low && order.stop_loss.unwrap_or(f64::INFINITY) > bar.high
            }
            (None, _) => false,
        },
        OrderKind::Limit(_) => false,
    }
}

/// The net position of `lots`: exactly 0 without any.
fn net(lots: &std::collections::VecDeque<Lot>) -> f64 {
    lots.iter().map(|l| l.quantity).fold(0.0, |a, q| a + q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Costs;
    use OrderKind::{Limit, Market, Stop};
    use Side::{Buy, Sell};

    use crate::exchange::test_support::{bar, bracketed, feed as run, fills, MIN, T0};

    /// Order `id`, reaching the exchange at bar `at`'s start.
    fn order(id: u32, at: i64, side: Side, quantity: f64, kind: OrderKind) -> ExchangeOrder {
        crate::exchange::test_support::order(id, T0 + at * MIN, side, quantity, kind)
    }

    fn both(bars: &[Bar], orders: &[ExchangeOrder], costs: Costs) -> (Exchange, Exchange) {
        (
            run(Conventions::Alertgate, bars, orders, costs),
            run(Conventions::BacktestingPy, bars, orders, costs),
        )
    }

    use FillReason::{Order as O, StopLoss as SL, TakeProfit as TP};

    #[test]
    fn a_limit_or_stop_entrys_bracket_waits_for_the_next_bar() {
        // The limit buy fills at 99 in bar 0, which also reaches the
        // stop-loss at 97; bar 1 reaches it again.
        let bars = [
            bar(0, 100.0, 100.5, 96.0, 98.0),
            bar(1, 98.0, 99.0, 96.5, 97.5),
        ];
        let orders = [bracketed(
            order(0, 0, Buy, 1.0, Limit(99.0)),
            Some(97.0),
            None,
        )];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        assert_eq!(fills(&ours)[1], (0, Sell, 1.0, 97.0, SL));
        assert_eq!(fills(&bt)[1], (1, Sell, 1.0, 97.0, SL));
        // A stop entry whose stop-loss lies inside the bar: the same.
        let bars = [
            bar(0, 100.0, 104.0, 99.0, 100.0),
            bar(1, 100.0, 100.0, 99.0, 99.5),
        ];
        let orders = [bracketed(
            order(0, 0, Buy, 1.0, Stop(101.0)),
            Some(99.5),
            Some(103.0),
        )];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        assert_eq!(fills(&ours)[1], (0, Sell, 1.0, 99.5, SL));
        assert_eq!(fills(&bt)[1], (1, Sell, 1.0, 99.5, SL));
    }

    #[test]
    fn market_entries_and_clean_stop_breakouts_exit_in_the_entry_bar_in_both() {
        // Market: the queue runs again on the bar, from its real open.
        let bars = [bar(0, 100.0, 101.0, 95.0, 96.0)];
        let orders = [bracketed(order(0, 0, Buy, 1.0, Market), Some(97.0), None)];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        assert_eq!(fills(&ours), fills(&bt));
        assert_eq!(fills(&bt)[1], (0, Sell, 1.0, 97.0, SL));
        // A stop entry whose take-profit the bar reaches, its stop-loss
        // below the bar: backtesting.py runs the take-profit in the bar.
        let bars = [bar(0, 100.0, 104.0, 99.0, 100.0)];
        let orders = [bracketed(
            order(0, 0, Buy, 1.0, Stop(101.0)),
            Some(98.0),
            Some(103.0),
        )];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        assert_eq!(fills(&ours), fills(&bt));
        assert_eq!(fills(&bt)[1], (0, Sell, 1.0, 103.0, TP));
    }

    #[test]
    fn a_reversal_leaves_older_orders_working_under_backtesting_py() {
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 100.0, 100.0, 100.0, 100.0),
            bar(2, 105.0, 111.0, 105.0, 110.0),
        ];
        let orders = [
            order(0, 0, Buy, 1.0, Market),
            order(1, 1, Sell, 1.0, Limit(110.0)),
            order(2, 1, Sell, 2.0, Market),
        ];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        // alertgate: the reversal cancels the older sell limit.
        assert_eq!(ours.position(0), -1.0);
        assert_eq!(ours.counts().cancelled_orders, 1);
        // backtesting.py: it stays and fills in bar 2.
        assert_eq!(bt.position(0), -2.0);
        assert_eq!(fills(&bt).last(), Some(&(2, Sell, 1.0, 110.0, O)));
        assert_eq!(bt.counts().cancelled_orders, 0);
    }

    #[test]
    fn take_profits_queue_by_creation_and_stop_losses_newest_first() {
        // Long 1 with a take-profit at 105, opened in bar 0; a sell limit
        // of 2 at 104 arrives after; bar 1 reaches both.
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 100.0, 106.0, 100.0, 105.0),
        ];
        let orders = [
            bracketed(order(0, 0, Buy, 1.0, Market), None, Some(105.0)),
            order(1, 1, Sell, 2.0, Limit(104.0)),
        ];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        // alertgate: working orders before brackets; the sell reverses to
        // short 1 and cancels the bracket.
        assert_eq!(fills(&ours)[1], (1, Sell, 2.0, 104.0, O));
        assert_eq!(ours.position(0), -1.0);
        // backtesting.py: the take-profit came first in its queue.
        assert_eq!(
            fills(&bt)[1..],
            [(1, Sell, 1.0, 105.0, TP), (1, Sell, 2.0, 104.0, O)]
        );
        assert_eq!(bt.position(0), -2.0);

        // Two longs with stop-losses; one bar falls through both: the
        // newer one's stop-loss runs first.
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 99.0, 99.0, 90.0, 90.0),
        ];
        let orders = [
            bracketed(order(0, 0, Buy, 1.0, Market), Some(95.0), None),
            bracketed(order(1, 0, Buy, 2.0, Market), Some(96.0), None),
        ];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        assert_eq!(
            fills(&ours)[2..],
            [(1, Sell, 1.0, 95.0, SL), (1, Sell, 2.0, 96.0, SL)]
        );
        assert_eq!(
            fills(&bt)[2..],
            [(1, Sell, 2.0, 96.0, SL), (1, Sell, 1.0, 95.0, SL)]
        );
    }

    #[test]
    fn a_leg_closes_its_own_trade_not_the_oldest() {
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 110.0, 110.0, 110.0, 110.0),
            bar(2, 112.0, 116.0, 112.0, 115.0),
        ];
        let orders = [
            order(0, 0, Buy, 1.0, Market),
            bracketed(order(1, 1, Buy, 1.0, Market), None, Some(115.0)),
        ];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        assert_eq!(ours.trades[0].entry_price, 100.0);
        assert_eq!(bt.trades[0].entry_price, 110.0);
        assert_eq!((ours.position(0), bt.position(0)), (1.0, 1.0));
    }

    #[test]
    fn fractions_size_by_margin_and_orders_margin_cannot_pay_are_cancelled() {
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 100.0, 100.0, 100.0, 100.0),
            bar(2, 100.0, 100.0, 100.0, 100.0),
        ];
        let orders = [
            order(0, 0, Buy, 0.5, Market),
            order(1, 1, Buy, 60.0, Market),
            order(2, 2, Sell, 250.0, Market),
        ];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        // alertgate: units as given, cash may go negative.
        assert_eq!(ours.position(0), 0.5 + 60.0 - 250.0);
        // backtesting.py: half of 10000 at 100 is 50 units; 60 more need
        // 6000 of the 5000 left: cancelled; selling 250 closes the 50, and
        // the 200 short (20000) is cancelled.
        assert_eq!(
            fills(&bt),
            [(0, Buy, 50.0, 100.0, O), (2, Sell, 50.0, 100.0, O)]
        );
        assert_eq!(bt.position(0), 0.0);
        assert_eq!(bt.counts().cancelled_orders, 2);
    }

    #[test]
    fn commission_on_entry_and_exit_values_and_the_spread_on_entries_only() {
        let costs = Costs {
            maker_fee_bps: 10.0,
            taker_fee_bps: 10.0,
            slippage_bps: 50.0,
        };
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 110.0, 110.0, 110.0, 110.0),
        ];
        let orders = [
            order(0, 0, Buy, 10.0, Market),
            order(1, 1, Sell, 10.0, Market),
        ];
        let (ours, bt) = both(&bars, &orders, costs);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // backtesting.py: entry at 100 × 1.005; exit at 110, no spread.
        let t = bt.trades[0];
        assert!(
            close(t.entry_price, 100.5) && t.exit_price == 110.0,
            "{t:?}"
        );
        assert!(
            close(t.fees, 10.0 * 100.5 * 0.001 + 10.0 * 110.0 * 0.001),
            "{t:?}"
        );
        assert!(close(bt.equity(), 10_000.0 + 95.0 - 1.005 - 1.1));
        // alertgate: slippage on both market fills.
        let t = ours.trades[0];
        assert!(close(t.exit_price, 110.0 * 0.995), "{t:?}");
    }

    #[test]
    fn floor_division_is_pythons() {
        // Python: 1.0 // 0.1 == 9.0, while 1.0 / 0.1 == 10.0.
        assert_eq!(py_floor_div(1.0, 0.1), 9.0);
        assert_eq!((1.0f64 / 0.1).floor(), 10.0);
        assert_eq!(py_floor_div(5000.0, 100.0), 50.0);
        assert_eq!(py_floor_div(7.0, -2.0), -4.0);
        assert_eq!(py_floor_div(0.0, 3.0), 0.0);
    }

    #[test]
    fn the_state_round_trips_and_alertgates_snapshots_are_unchanged() {
        let bars = [bar(0, 100.0, 100.0, 100.0, 100.0)];
        let orders = [
            bracketed(order(0, 0, Buy, 1.0, Market), Some(90.0), Some(120.0)),
            order(1, 0, Sell, 1.0, Limit(130.0)),
        ];
        let (ours, bt) = both(&bars, &orders, Costs::default());
        let text = serde_json::to_string(&bt).unwrap();
        let back: Exchange = serde_json::from_str(&text).unwrap();
        assert_eq!(back.conventions(), Conventions::BacktestingPy);
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        let text = serde_json::to_string(&ours).unwrap();
        assert!(
            !text.contains("backtesting_py")
                && !text.contains("queue_slot")
                && !text.contains("order_id\":null")
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        use crate::exchange::test_support::any_bar;

        type Raw = (i64, bool, f64, u8, f64, Option<f64>, Option<f64>);

        fn orders(raw: &[Raw]) -> Vec<ExchangeOrder> {
            let mut orders: Vec<ExchangeOrder> = raw
                .iter()
                .map(|&(at, buy, qty, kind, price, sl, tp)| {
                    let kind = match kind {
                        0 => Market,
                        1 => Limit(price),
                        _ => Stop(price),
                    };
                    bracketed(
                        order(0, at, if buy { Buy } else { Sell }, qty, kind),
                        sl,
                        tp,
                    )
                })
                .collect();
            orders.sort_by_key(|o| o.arrival_ms);
            for (i, o) in orders.iter_mut().enumerate() {
                o.id = i as u32;
            }
            orders
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Under backtesting.py's conventions too, cash and positions
            /// reconcile with PnL and fees, every fill's bar price lies in
            /// its bar, and equity is initial cash + realized + unrealized
            /// − fees.
            #[test]
            fn accounting_balances_and_fills_stay_in_the_bar(
                bars in (0..20i64).map(any_bar).collect::<Vec<_>>(),
                raw in proptest::collection::vec(
                    (0..20i64, any::<bool>(), prop_oneof![0.01..1.0f64, 1.0..80.0f64], 0..3u8,
                     40.0..160.0f64, proptest::option::of(40.0..160.0f64),
                     proptest::option::of(40.0..160.0f64)),
                    0..24),
                fee in 0.0..50.0f64,
                spread in 0.0..50.0f64,
            ) {
                let costs = Costs { maker_fee_bps: fee, taker_fee_bps: fee, slippage_bps: spread };
                let ex = run(Conventions::BacktestingPy, &bars, &orders(&raw), costs);
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
                let pnl = ex.realized_gross() + ex.unrealized() - ex.fees_paid();
                prop_assert!((ex.equity() - 10_000.0 - pnl).abs() <= scale);
                let net: f64 = ex.fills.iter().map(|f| sign(f.side) * f.quantity).sum();
                prop_assert!((ex.position(0) - net).abs() <= 1e-9 * (1.0 + net.abs()));
                // Legs exist only for open trades.
                for b in ex.brackets(0) {
                    prop_assert!(ex.books[0].lots.iter().any(|l| l.order_id == Some(b.order_id)));
                }
            }
        }
    }
}
