//! A real venue's fills, in the paper exchange's line format (`{"fill":
//! {...}}`, [`FillRecord`]), so that the two read the same: one line per
//! quantity newly executed, as the venue's reports (order answers and
//! queries) show it.
//!
//! Read back at start, the file says how much of each order is already
//! logged, so a report seen again (a restart, a resolved order) adds only
//! what is new. Fees are not in every report (USDⓈ-M's order answer has
//! none), so they are logged as 0: the venue's account is the reference
//! for costs.
//!
//! Realized PnL ([`FillLog::realized_pnl`]) is the paper exchange's own
//! accounting applied to these fills (see `Ledger`), so a venue's
//! `alertgate_venue_realized_pnl` means what the paper venue's
//! `alertgate_realized_pnl` does (without fees, which these lines lack).

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io;
use std::path::Path;

use alertgate_simulator::exchange::{decimal_to_f64, Costs, Exchange, ExchangeOrder, OrderKind};
use alertgate_simulator::market::Bar;

use super::{OrderReport, VenueOrder, VenueOrderKind};
use crate::serve::jsonl::{self, LineAppender};
use crate::serve::mock::{FillKind, FillRecord, LogLine};

/// The fill log and how much of each order it holds.
#[derive(Debug)]
pub struct FillLog {
    /// Never leaves part of a line (a failed write is cut off; the fill is
    /// logged again from the next report).
    file: LineAppender,
    /// Client id → base units logged as executed.
    logged: HashMap<String, f64>,
    ledger: Ledger,
}

/// The realized PnL of a stream of fills by the paper exchange's rules
/// (FIFO lots, [`Exchange`]): each fill is run as a market order through
/// a one-price bar at its price. Reusing the simulator's exchange rather
/// than a second FIFO here keeps the two PnLs one definition.
#[derive(Debug)]
struct Ledger {
    exchange: Exchange,
    symbols: HashMap<String, usize>,
    next_id: u32,
}

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            exchange: Exchange::new(0, 0.0, Costs::default()),
            symbols: HashMap::new(),
            next_id: 0,
        }
    }

    fn apply(&mut self, fill: &FillRecord) {
        if !(fill.price.is_finite() && fill.price > 0.0 && fill.quantity > 0.0) {
            return;
        }
        let symbol = match self.symbols.get(&fill.symbol) {
            Some(&i) => i,
            None => {
                let i = self.exchange.add_symbol();
                self.symbols.insert(fill.symbol.clone(), i);
                i
            }
        };
        self.next_id = self.next_id.wrapping_add(1);
        self.exchange.submit(ExchangeOrder {
            id: self.next_id,
            symbol,
            side: fill.side,
            quantity: fill.quantity,
            kind: OrderKind::Market,
            stop_loss: None,
            take_profit: None,
            arrival_ms: fill.at_ms,
        });
        let p = fill.price;
        let bar = Bar {
            time_ms: fill.at_ms,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: 0.0,
        };
        self.exchange.on_bar(symbol, &bar);
        // Only the totals are read: the history would grow without bound.
        self.exchange.fills.clear();
        self.exchange.trades.clear();
    }
}

impl FillLog {
    /// Opens (creating) the log at `path` and reads what it holds; a torn
    /// last line is cut off.
    pub fn open(path: &Path) -> io::Result<FillLog> {
        let mut logged: HashMap<String, f64> = HashMap::new();
        let mut ledger = Ledger::new();
        let read = jsonl::read_complete_lines_from(path, 0, |number, line| {
            match serde_json::from_slice::<LogLine>(line) {
                Ok(LogLine::Fill(f)) => {
                    ledger.apply(&f);
                    *logged.entry(f.client_order_id).or_default() += f.quantity;
                }
                Ok(LogLine::Submit(_)) => {}
                Err(e) => return Err(jsonl::invalid(path, number, e)),
            }
            Ok(())
        })?;
        if let Some(back) = &read {
            if back.torn > 0 {
                back.file.set_len(back.complete)?;
            }
        }
        let file = LineAppender::new(OpenOptions::new().create(true).append(true).open(path)?)?;
        Ok(FillLog {
            file,
            logged,
            ledger,
        })
    }

    /// The realized PnL of every fill logged, quote units, by the paper
    /// exchange's FIFO accounting.
    pub fn realized_pnl(&self) -> f64 {
        self.ledger.exchange.realized_gross()
    }

    /// Logs what `report` shows executed of `order` beyond what is already
    /// logged (for the order of event `event_id`); returns the new line,
    /// if any.
    pub fn record(
        &mut self,
        order: &VenueOrder,
        event_id: &str,
        report: &OrderReport,
    ) -> io::Result<Option<FillRecord>> {
        let executed = decimal_to_f64(report.executed_quantity);
        let before = self
            .logged
            .get(&order.client_order_id)
            .copied()
            .unwrap_or(0.0);
        // Quantities are exact decimals; compared as floats only to find
        // what is new (a tolerance of a billionth of a unit).
        if executed - before <= 1e-9 {
            return Ok(None);
        }
        let fill = FillRecord {
            client_order_id: order.client_order_id.clone(),
            event_id: event_id.to_string(),
            symbol: order.symbol.clone(),
            side: order.side,
            reason: kind_of(order),
            price: report.average_price.map_or(f64::NAN, decimal_to_f64),
            quantity: executed - before,
            fee: 0.0,
            at_ms: report.updated_ms,
        };
        let mut line = serde_json::to_vec(&LogLine::Fill(fill.clone()))?;
        line.push(b'\n');
        self.file.append(&line, true)?;
        self.logged.insert(order.client_order_id.clone(), executed);
        self.ledger.apply(&fill);
        Ok(Some(fill))
    }
}

/// How `order` executes, as the paper venue names it.
fn kind_of(order: &VenueOrder) -> FillKind {
    match (order.kind, order.reduce_only) {
        (VenueOrderKind::StopMarket { .. }, true) => FillKind::BracketStopLoss,
        (VenueOrderKind::TakeProfitMarket { .. }, true) => FillKind::BracketTakeProfit,
        (VenueOrderKind::StopMarket { .. }, false) => FillKind::Stop,
        (VenueOrderKind::Limit { .. } | VenueOrderKind::TakeProfitMarket { .. }, _) => {
            FillKind::Limit
        }
        (VenueOrderKind::Market, _) => FillKind::Market,
        // The list as a whole: the live stage logs the leg that executed
        // (a stop-loss or take-profit order) rather than the list.
        (VenueOrderKind::Oco { .. }, _) => FillKind::BracketStopLoss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::OrderStatus;
    use alertgate_validator::{Decimal, Side};

    fn report(executed: &str) -> OrderReport {
        OrderReport {
            client_order_id: "ag1".into(),
            venue_order_id: "7".into(),
            status: OrderStatus::PartiallyFilled,
            executed_quantity: Decimal::parse(executed).unwrap(),
            average_price: Decimal::parse("50000"),
            updated_ms: 1,
        }
    }

    #[test]
    fn only_newly_executed_quantity_is_logged_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fills.jsonl");
        let order = VenueOrder::market(
            "ag1",
            "BTC/USDT",
            Side::Buy,
            Decimal::parse("0.03").unwrap(),
        );
        let mut log = FillLog::open(&path).unwrap();
        let first = log.record(&order, "e", &report("0.01")).unwrap().unwrap();
        assert_eq!((first.quantity, first.reason), (0.01, FillKind::Market));
        assert!(log.record(&order, "e", &report("0.01")).unwrap().is_none());
        drop(log);
        let mut log = FillLog::open(&path).unwrap();
        let more = log.record(&order, "e", &report("0.03")).unwrap().unwrap();
        assert!((more.quantity - 0.02).abs() < 1e-12, "{}", more.quantity);
        let lines = std::fs::read_to_string(&path).unwrap();
        assert_eq!(lines.lines().count(), 2);
        assert!(lines.lines().all(|l| l.starts_with("{\"fill\":")));
    }

    #[test]
    fn realized_pnl_is_fifo_over_the_logged_fills_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fills.jsonl");
        let at = |id: &str, side, qty: &str, price: &str| {
            let order = VenueOrder::market(id, "BTC/USDT", side, Decimal::parse(qty).unwrap());
            let report = OrderReport {
                client_order_id: id.into(),
                status: OrderStatus::Filled,
                executed_quantity: Decimal::parse(qty).unwrap(),
                average_price: Decimal::parse(price),
                ..report(qty)
            };
            (order, report)
        };
        let mut log = FillLog::open(&path).unwrap();
        let (o, r) = at("b1", Side::Buy, "0.01", "50000");
        log.record(&o, "e1", &r).unwrap();
        let (o, r) = at("b2", Side::Buy, "0.01", "52000");
        log.record(&o, "e2", &r).unwrap();
        assert_eq!(log.realized_pnl(), 0.0);
        // Sells the first lot (FIFO, bought at 50000) at 51000: +10.
        let (o, r) = at("s1", Side::Sell, "0.01", "51000");
        log.record(&o, "e3", &r).unwrap();
        assert!(
            (log.realized_pnl() - 10.0).abs() < 1e-9,
            "{}",
            log.realized_pnl()
        );
        drop(log);
        let mut log = FillLog::open(&path).unwrap();
        assert!((log.realized_pnl() - 10.0).abs() < 1e-9);
        // Then the second (52000) at 51000: -10, and a short opens.
        let (o, r) = at("s2", Side::Sell, "0.02", "51000");
        log.record(&o, "e4", &r).unwrap();
        assert!(log.realized_pnl().abs() < 1e-9, "{}", log.realized_pnl());
    }
}
