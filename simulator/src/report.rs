//! The replay report: figures computed from a [`RunResult`], printed as a
//! terminal table, written as JSON (`--json`) and CSV (`--trades`); the HTML
//! page is [`crate::html`].
//!
//! Definitions:
//!
//! - **return %**: final equity over initial cash, minus one. Equity is cash
//!   plus every open position at its symbol's last close; open positions are
//!   not closed at the end, so they count in equity but not in the trades.
//! - **max drawdown %**: largest fall of equity from a running peak, bar by
//!   bar.
//! - **Sharpe, Sortino**: from daily returns (equity at the last bar of each
//!   UTC day, the first day against the initial cash), annualized with √365
//!   (crypto markets trade every day), risk-free rate 0. Sharpe divides the
//!   mean by the sample standard deviation; Sortino by the downside
//!   deviation √(Σ min(r, 0)² / n). Absent (null) with fewer than two days
//!   or no variation.
//! - **trades**: FIFO round trips; a trade's `pnl` is net of its share of
//!   the opening and closing fees (`fees`). **win rate**: trades with
//!   `pnl` > 0; **profit factor**: sum of winning `pnl` over the absolute sum
//!   of losing `pnl` (absent without losing trades).
//! - **exposure %**: share of the time between the first and the last bar
//!   with any position open.
//! - **latency**: nearest-rank percentiles of every draw of each stage, ms.
//!
//! The JSON holds only values derived from the inputs and the seed (no wall
//! clock, no hash order), so equal runs give byte-identical files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use alertgate_validator::time::Rfc3339;
use alertgate_validator::Side;
use serde::Serialize;

use crate::chart::{FillMark, PriceChart};
use crate::engine::{EquityPoint, RejectionEvent, RunResult};
use crate::exchange::{ClosedTrade, Fill};
use crate::latency::Stage;

/// Nearest-rank percentiles of one stage, ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    /// Draws.
    pub count: u64,
    /// Median.
    pub p50: i64,
    /// 90th percentile.
    pub p90: i64,
    /// 99th percentile.
    pub p99: i64,
    /// Largest.
    pub max: i64,
}

impl LatencySummary {
    /// From sorted draws; all zero without any.
    pub fn of(sorted: &[i64]) -> LatencySummary {
        let rank = |p: f64| -> i64 {
            if sorted.is_empty() {
                return 0;
            }
            let k = (p / 100.0 * sorted.len() as f64).ceil() as usize;
            sorted[k.clamp(1, sorted.len()) - 1]
        };
        LatencySummary {
            count: sorted.len() as u64,
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: sorted.last().copied().unwrap_or(0),
        }
    }
}

/// Alert counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertCounts {
    /// Requests in the stream.
    pub total: u64,
    /// Accepted by the gate.
    pub accepted: u64,
    /// Rejected by the gate.
    pub rejected: u64,
    /// Rejections by code.
    pub rejected_by_code: BTreeMap<String, u64>,
}

/// Writes an `f64` rounded to 12 significant digits: the report's prices
/// and amounts are `f64` sums and products (`2259.0580980000004`), and
/// their last digits are arithmetic residue, not information. Twelve
/// digits keep a cent on a balance of ten billion.
fn sig12<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_sig12(*v))
}

/// [`sig12`] for an optional figure.
fn sig12_opt<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&round_sig12(*v)),
        None => s.serialize_none(),
    }
}

/// `v` rounded to 12 significant digits (non-finite values unchanged).
fn round_sig12(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    // Formatting rounds the decimal expansion correctly; parsing it back
    // gives the double whose shortest form is that rounded text.
    format!("{v:.11e}").parse().unwrap_or(v)
}

/// A position still open at the end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenPosition {
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Base units, negative for a short.
    #[serde(serialize_with = "sig12")]
    pub quantity: f64,
}

/// The headline figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Seed of the run.
    pub seed: u64,
    /// Alert counts.
    pub alerts: AlertCounts,
    /// Orders that reached the exchange.
    pub orders: u64,
    /// Orders cancelled by a flattening or reversing fill.
    pub cancelled_orders: u64,
    /// Orders cancelled by cancel alerts.
    pub cancelled_by_alerts: u64,
    /// Cancel alerts that found nothing to cancel (their target filled,
    /// cancelled, not arrived yet or unknown; no working order of the
    /// symbol).
    pub cancels_unmatched: u64,
    /// Orders still working at the end.
    pub open_orders: u64,
    /// Fills (orders and bracket legs).
    pub fills: u64,
    /// Closed round trips.
    pub trades: u64,
    /// Bars (or trades) replayed.
    pub bars: u64,
    /// Starting cash.
    #[serde(serialize_with = "sig12")]
    pub initial_cash: f64,
    /// Cash plus open positions at their last close.
    #[serde(serialize_with = "sig12")]
    pub final_equity: f64,
    /// Percent.
    #[serde(serialize_with = "sig12")]
    pub return_pct: f64,
    /// Percent.
    #[serde(serialize_with = "sig12")]
    pub max_drawdown_pct: f64,
    /// Annualized, daily returns, rf = 0.
    #[serde(serialize_with = "sig12_opt")]
    pub sharpe: Option<f64>,
    /// Annualized, daily returns, rf = 0.
    #[serde(serialize_with = "sig12_opt")]
    pub sortino: Option<f64>,
    /// Percent of trades with pnl > 0.
    #[serde(serialize_with = "sig12_opt")]
    pub win_rate_pct: Option<f64>,
    /// Gross profit over gross loss (net of fees).
    #[serde(serialize_with = "sig12_opt")]
    pub profit_factor: Option<f64>,
    /// Percent of time with a position open.
    #[serde(serialize_with = "sig12")]
    pub exposure_pct: f64,
    /// Fees paid, quote units.
    #[serde(serialize_with = "sig12")]
    pub fees_paid: f64,
    /// Positions open at the end.
    pub open_positions: Vec<OpenPosition>,
    /// Latency per stage.
    pub latency_ms: BTreeMap<&'static str, LatencySummary>,
    /// TradingView's own result for the backtest the stream was imported
    /// from (`replay --tradingview-trades`); absent (and not in the JSON)
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tradingview: Option<TradingViewComparison>,
}

/// The replay's P&L beside TradingView's for the same backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradingViewComparison {
    /// TradingView's net P&L: the sum of each closed trade's P&L, once.
    #[serde(serialize_with = "sig12")]
    pub net_pnl: f64,
    /// Trades TradingView closed.
    pub closed_trades: u64,
    /// Trades still open at the end of TradingView's backtest (not in
    /// `net_pnl`).
    pub open_trades: u64,
    /// The replay's own net P&L of its closed trades (net of fees), the
    /// figure to hold against `net_pnl`.
    #[serde(serialize_with = "sig12")]
    pub replay_net_pnl: f64,
}

impl TradingViewComparison {
    /// TradingView's figures (`net_pnl`, closed and open trades) beside the
    /// closed trades of `report`.
    pub fn new(net_pnl: f64, closed_trades: u64, open_trades: u64, report: &Report) -> Self {
        TradingViewComparison {
            net_pnl,
            closed_trades,
            open_trades,
            replay_net_pnl: report.trades.iter().map(|t| t.pnl).sum(),
        }
    }
}

/// A trade as written to JSON and CSV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeRow {
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// `long` or `short`.
    pub side: &'static str,
    /// Base units.
    #[serde(serialize_with = "sig12")]
    pub quantity: f64,
    /// RFC 3339.
    pub entry_time: String,
    /// Opening fill's price.
    #[serde(serialize_with = "sig12")]
    pub entry_price: f64,
    /// RFC 3339.
    pub exit_time: String,
    /// Closing fill's price.
    #[serde(serialize_with = "sig12")]
    pub exit_price: f64,
    /// Net of fees.
    #[serde(serialize_with = "sig12")]
    pub pnl: f64,
    /// Opening and closing fees of this quantity.
    #[serde(serialize_with = "sig12")]
    pub fees: f64,
}

/// A rejection as written to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectionRow {
    /// Line in the stream file.
    pub line: u64,
    /// RFC 3339.
    pub received_at: String,
    /// Stable code (`stale`, `bad_signature`, ...).
    pub code: &'static str,
    /// HTTP status the gateway would answer.
    pub status: u16,
    /// What was wrong.
    pub message: String,
    /// The symbol its body names (`BASE/QUOTE`, as written, whether or not
    /// the alert was genuine), when the body could be read that far and the
    /// symbol has market data: the chart it is marked on. Not in the JSON,
    /// like `checked_at_ms`: the JSON stays as it was, byte for byte.
    #[serde(skip)]
    pub symbol: Option<String>,
    /// When the gate checked it, Unix ms (where the price chart marks it).
    #[serde(skip)]
    pub checked_at_ms: i64,
}

/// A point of the equity curve as written to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveRow {
    /// Unix ms (the JSON has `time`).
    #[serde(skip)]
    pub time_ms: i64,
    /// RFC 3339.
    pub time: String,
    /// Cash plus positions.
    #[serde(serialize_with = "sig12")]
    pub equity: f64,
    /// Below the running peak, percent.
    #[serde(serialize_with = "sig12")]
    pub drawdown_pct: f64,
}

/// The whole report (the `--json` document).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Headline figures.
    pub summary: Summary,
    /// Every closed trade, in exit order.
    pub trades: Vec<TradeRow>,
    /// Every rejection, in the order the gate saw them.
    pub rejections: Vec<RejectionRow>,
    /// At most ~1000 points, the last of each equal time bucket.
    pub equity_curve: Vec<CurveRow>,
    /// One price chart per market series, in symbol order, for the HTML
    /// page. Not in the JSON: its candles are a reduced copy of the market
    /// data the user already has, and the JSON's trades and summary already
    /// count its fills.
    #[serde(skip)]
    pub charts: Vec<PriceChart>,
}

fn time(ms: i64) -> String {
    Rfc3339(ms).to_string()
}

/// Annualized Sharpe and Sortino of daily returns.
pub fn sharpe_sortino(initial: f64, daily: &[(i64, f64)]) -> (Option<f64>, Option<f64>) {
    let mut previous = initial;
    let returns: Vec<f64> = daily
        .iter()
        .map(|&(_, e)| {
            let r = e / previous - 1.0;
            previous = e;
            r
        })
        .collect();
    let n = returns.len() as f64;
    if returns.len() < 2 {
        return (None, None);
    }
    let mean = returns.iter().sum::<f64>() / n;
    let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let down = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    let annual = 365f64.sqrt();
    let ratio = |d: f64| (d > 0.0 && d.is_finite()).then(|| mean / d * annual);
    (ratio(var.sqrt()), ratio(down))
}

/// The name of market series `i` of `run` (empty if there is none).
fn symbol_name(run: &RunResult, i: usize) -> String {
    run.symbols.get(i).cloned().unwrap_or_default()
}

/// Win rate (percent of trades with pnl > 0) and profit factor of `trades`.
fn win_rate_and_profit_factor(trades: &[ClosedTrade]) -> (Option<f64>, Option<f64>) {
    let wins = trades.iter().filter(|t| t.pnl() > 0.0).count();
    let gross_win: f64 = trades
        .iter()
        .map(ClosedTrade::pnl)
        .filter(|p| *p > 0.0)
        .sum();
    let gross_loss: f64 = -trades
        .iter()
        .map(ClosedTrade::pnl)
        .filter(|p| *p < 0.0)
        .sum::<f64>();
    (
        (!trades.is_empty()).then(|| wins as f64 / trades.len() as f64 * 100.0),
        (gross_loss > 0.0).then(|| gross_win / gross_loss),
    )
}

impl AlertCounts {
    /// The alert counts of `run`.
    fn of(run: &RunResult) -> AlertCounts {
        AlertCounts {
            total: run.alerts,
            accepted: run.accepted,
            rejected: run.alerts - run.accepted,
            rejected_by_code: run
                .rejected_by_code
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        }
    }
}

impl Summary {
    /// The headline figures of `run`.
    fn of(run: &RunResult, seed: u64) -> Summary {
        let ex = &run.exchange;
        let final_equity = ex.equity();
        let (sharpe, sortino) = sharpe_sortino(run.initial_cash, &run.equity.daily);
        let (win_rate_pct, profit_factor) = win_rate_and_profit_factor(&ex.trades);
        let (first, last) = run.equity.span_ms;
        let counts = ex.counts();
        Summary {
            seed,
            alerts: AlertCounts::of(run),
            orders: counts.orders,
            cancelled_orders: counts.cancelled_orders,
            cancelled_by_alerts: counts.cancelled_by_alerts,
            cancels_unmatched: counts.cancels_unmatched,
            open_orders: counts.open_orders,
            fills: ex.fills.len() as u64,
            trades: ex.trades.len() as u64,
            bars: run.bars,
            initial_cash: run.initial_cash,
            final_equity,
            return_pct: (final_equity / run.initial_cash - 1.0) * 100.0,
            max_drawdown_pct: run.equity.max_drawdown * 100.0,
            sharpe,
            sortino,
            win_rate_pct,
            profit_factor,
            exposure_pct: if last > first {
                run.equity.exposed_ms as f64 / (last - first) as f64 * 100.0
            } else {
                0.0
            },
            fees_paid: ex.fees_paid(),
            open_positions: (0..run.symbols.len())
                .filter(|&i| ex.position(i) != 0.0)
                .map(|i| OpenPosition {
                    symbol: symbol_name(run, i),
                    quantity: ex.position(i),
                })
                .collect(),
            latency_ms: Stage::ALL
                .iter()
                .zip(&run.latency)
                .map(|(s, l)| (s.name(), LatencySummary::of(l)))
                .collect(),
            tradingview: None,
        }
    }
}

impl TradeRow {
    /// Closed trade `t` of `run` as a row.
    fn of(run: &RunResult, t: &ClosedTrade) -> TradeRow {
        TradeRow {
            symbol: symbol_name(run, t.symbol),
            side: match t.direction {
                Side::Buy => "long",
                Side::Sell => "short",
            },
            quantity: t.quantity,
            entry_time: time(t.entry_ms),
            entry_price: t.entry_price,
            exit_time: time(t.exit_ms),
            exit_price: t.exit_price,
            pnl: t.pnl(),
            fees: t.fees,
        }
    }
}

impl RejectionRow {
    /// Rejection `r` of `run` as a row.
    fn of(run: &RunResult, r: &RejectionEvent) -> RejectionRow {
        RejectionRow {
            line: r.line,
            received_at: time(r.received_at_ms),
            code: r.rejection.code(),
            status: r.rejection.status(),
            message: r.rejection.to_string(),
            symbol: r.symbol.map(|i| symbol_name(run, i)),
            checked_at_ms: r.checked_at_ms,
        }
    }
}

impl FillMark {
    /// Fill `f` as the chart marks it.
    fn of(f: &Fill) -> FillMark {
        FillMark {
            time_ms: f.time_ms,
            side: f.side,
            quantity: f.quantity,
            price: f.price,
            reason: f.reason.name(),
        }
    }
}

/// One chart per market series of `run`: its candles and its fills.
fn price_charts(run: &RunResult) -> Vec<PriceChart> {
    let mut fills: Vec<Vec<FillMark>> = vec![Vec::new(); run.charts.len()];
    for f in &run.exchange.fills {
        if let Some(marks) = fills.get_mut(f.symbol) {
            marks.push(FillMark::of(f));
        }
    }
    run.charts
        .iter()
        .zip(fills)
        .enumerate()
        .map(|(i, (series, fills))| PriceChart {
            symbol: symbol_name(run, i),
            series: series.clone(),
            fills,
        })
        .collect()
}

impl CurveRow {
    /// Equity point `p` as a row, drawdown in percent.
    fn of(p: &EquityPoint) -> CurveRow {
        CurveRow {
            time_ms: p.time_ms,
            time: time(p.time_ms),
            equity: p.equity,
            drawdown_pct: p.drawdown * 100.0,
        }
    }
}

impl Report {
    /// Computes every figure of a run.
    pub fn new(run: &RunResult, seed: u64) -> Report {
        Report {
            summary: Summary::of(run, seed),
            trades: run
                .exchange
                .trades
                .iter()
                .map(|t| TradeRow::of(run, t))
                .collect(),
            rejections: run
                .rejections
                .iter()
                .map(|r| RejectionRow::of(run, r))
                .collect(),
            equity_curve: run.equity.curve.iter().map(CurveRow::of).collect(),
            charts: price_charts(run),
        }
    }

    /// The `--json` document, pretty-printed, with a final newline.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of numbers and strings cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The `--trades` CSV.
    pub fn trades_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        if self.trades.is_empty() {
            // serde writes the header with the first row; write it anyway.
            w.write_record([
                "symbol",
                "side",
                "quantity",
                "entry_time",
                "entry_price",
                "exit_time",
                "exit_price",
                "pnl",
                "fees",
            ])?;
        }
        for t in &self.trades {
            w.serialize(t)?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The terminal summary.
    pub fn table(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let opt = |v: Option<f64>, digits: usize| match v {
            Some(v) => format!("{v:.digits$}"),
            None => "—".to_string(),
        };
        let mut rows: Vec<(String, String)> = vec![
            ("alerts".into(), s.alerts.total.to_string()),
            ("  accepted".into(), s.alerts.accepted.to_string()),
            ("  rejected".into(), s.alerts.rejected.to_string()),
        ];
        for (code, n) in &s.alerts.rejected_by_code {
            rows.push((format!("    {code}"), n.to_string()));
        }
        rows.extend([
            ("orders".into(), s.orders.to_string()),
            (
                "  cancelled by reversals".into(),
                s.cancelled_orders.to_string(),
            ),
            (
                "  cancelled by alerts".into(),
                s.cancelled_by_alerts.to_string(),
            ),
            (
                "  cancels that found nothing".into(),
                s.cancels_unmatched.to_string(),
            ),
            ("  still working".into(), s.open_orders.to_string()),
            ("fills".into(), s.fills.to_string()),
            ("trades".into(), s.trades.to_string()),
            ("initial cash".into(), format!("{:.2}", s.initial_cash)),
            ("final equity".into(), format!("{:.2}", s.final_equity)),
            ("return".into(), format!("{:.2} %", s.return_pct)),
            (
                "max drawdown".into(),
                format!("{:.2} %", s.max_drawdown_pct),
            ),
            ("Sharpe (daily, annualized)".into(), opt(s.sharpe, 2)),
            ("Sortino (daily, annualized)".into(), opt(s.sortino, 2)),
            (
                "win rate".into(),
                s.win_rate_pct.map_or("—".into(), |w| format!("{w:.1} %")),
            ),
            ("profit factor".into(), opt(s.profit_factor, 2)),
            ("exposure".into(), format!("{:.1} %", s.exposure_pct)),
            ("fees paid".into(), format!("{:.2}", s.fees_paid)),
        ]);
        if let Some(tv) = &s.tradingview {
            rows.extend([
                (
                    "net P&L (closed trades)".into(),
                    format!("{:.2}", tv.replay_net_pnl),
                ),
                ("TradingView net P&L".into(), format!("{:.2}", tv.net_pnl)),
                (
                    "  TradingView trades".into(),
                    format!("{} closed, {} open", tv.closed_trades, tv.open_trades),
                ),
            ]);
        }
        for p in &s.open_positions {
            rows.push((
                format!("open position {}", p.symbol),
                format!("{}", p.quantity),
            ));
        }
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in &rows {
            let _ = writeln!(out, "{k:<width$}  {v:>14}");
        }
        let _ = writeln!(
            out,
            "\n{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "latency ms", "count", "p50", "p90", "p99", "max"
        );
        for stage in Stage::ALL {
            if let Some(l) = s.latency_ms.get(stage.name()) {
                let _ = writeln!(
                    out,
                    "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}",
                    stage.name(),
                    l.count,
                    l.p50,
                    l.p90,
                    l.p99,
                    l.max
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_figures_drop_float_residue() {
        assert_eq!(round_sig12(2259.0580980000004), 2259.058098);
        assert_eq!(round_sig12(-50.456400725999586), -50.456400726);
        assert_eq!(round_sig12(0.1 + 0.2), 0.3);
        assert_eq!(round_sig12(100632.42475356687), 100632.424754);
        assert_eq!(round_sig12(1e-12 / 3.0), 3.33333333333e-13);
        assert_eq!(round_sig12(0.0), 0.0);
        assert!(round_sig12(f64::NAN).is_nan());
        let row = TradeRow {
            symbol: "ETH/USDT".into(),
            side: "short",
            quantity: 0.30000000000000004,
            entry_time: String::new(),
            entry_price: 2259.0580980000004,
            exit_time: String::new(),
            exit_price: 2307.231354,
            pnl: -50.456400725999586,
            fees: 2.283144726,
        };
        let json = serde_json::to_string(&row).unwrap();
        assert!(json.contains(r#""quantity":0.3,"#), "{json}");
        assert!(json.contains(r#""entry_price":2259.058098,"#), "{json}");
        assert!(json.contains(r#""pnl":-50.456400726,"#), "{json}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        let l = LatencySummary::of(&v);
        assert_eq!(
            (l.p50, l.p90, l.p99, l.max, l.count),
            (50, 90, 99, 100, 100)
        );
        let l = LatencySummary::of(&[7]);
        assert_eq!((l.p50, l.p99, l.max), (7, 7, 7));
        assert_eq!(LatencySummary::of(&[]).max, 0);
    }

    #[test]
    fn sharpe_and_sortino_by_hand() {
        // Returns +10 %, −10 %, +10 %: mean 1/30; Sharpe over the sample
        // standard deviation, Sortino over √(0.1² / 3) (one losing day).
        let daily = [(0, 110.0), (1, 99.0), (2, 108.9)];
        let (sharpe, sortino) = sharpe_sortino(100.0, &daily);
        let r = [0.1, -0.1, 0.1];
        let mean = (0.1 - 0.1 + 0.1) / 3.0;
        let sd = (r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 2.0).sqrt();
        let down = (0.01f64 / 3.0).sqrt();
        assert!((sharpe.unwrap() - mean / sd * 365f64.sqrt()).abs() < 1e-9);
        assert!((sortino.unwrap() - mean / down * 365f64.sqrt()).abs() < 1e-9);
        // Too short, or flat.
        assert_eq!(sharpe_sortino(100.0, &[(0, 110.0)]), (None, None));
        assert_eq!(
            sharpe_sortino(100.0, &[(0, 100.0), (1, 100.0)]),
            (None, None)
        );
    }
}
