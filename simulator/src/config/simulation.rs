//! `[simulation]`: what `replay` needs beyond the gate (inputs, cash, fees,
//! slippage, seed) and the latency of each stage.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, ConfigFileError};
use crate::exchange::Conventions;
use crate::latency::{LatencySetting, Stage};
use crate::market::MarketFormat;

/// `[simulation]`: what `alertgate replay` needs beyond the gate's settings.
/// Paths are relative to the configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulationSection {
    /// The recorded alert stream (JSON Lines), used when `--stream` is not
    /// given.
    pub stream: Option<PathBuf>,
    /// Market data files by symbol (`"BTC/USDT" = "btc.csv"`), used with
    /// `market_dir` when no `--market` / `--market-dir` is given.
    pub market: BTreeMap<String, PathBuf>,
    /// A directory of `SYMBOL.csv` files (`BTC-USDT.csv`).
    pub market_dir: Option<PathBuf>,
    /// The format of every market file, when `--market-format` is not
    /// given: `auto` (detected per file, the default), `ours`,
    /// `tradingview`, `binance-klines` or `binance-aggtrades`.
    pub market_format: MarketFormat,
    /// Where market files are cached when `--cache-dir` is not given
    /// (default: `$XDG_CACHE_HOME/alertgate/market`, else
    /// `~/.cache/alertgate/market`).
    pub cache_dir: Option<PathBuf>,
    /// Starting cash, quote units. Default 100000.
    pub initial_cash: f64,
    /// Fee on limit and take-profit fills, basis points of notional.
    /// Default 0.
    pub maker_fee_bps: f64,
    /// Fee on market and stop fills, basis points of notional. Default 0.
    pub taker_fee_bps: f64,
    /// Price moved against market and stop fills, basis points. Default 0.
    pub slippage_bps: f64,
    /// Seed of every random draw (latencies). Default 0.
    pub seed: u64,
    /// Whose fill rules the exchange follows: `"alertgate"` (the default)
    /// or `"backtesting.py"` (0.6.6's, exactly; its commission is the one
    /// fee, so `maker_fee_bps` must equal `taker_fee_bps`, and
    /// `slippage_bps` is its `spread`). `replay` only: `serve`'s paper
    /// venue follows alertgate's.
    pub conventions: Conventions,
    /// Latency per stage.
    pub latency: LatencySection,
    /// TradingView's "List of trades" export the stream was imported from:
    /// the report shows its net P&L beside the replay's. Used when
    /// `--tradingview-trades` is not given.
    pub tradingview_trades: Option<PathBuf>,
    /// That export's chart time zone (IANA name); default UTC.
    pub tradingview_tz: Option<String>,
}

impl Default for SimulationSection {
    fn default() -> Self {
        SimulationSection {
            stream: None,
            market: BTreeMap::new(),
            market_dir: None,
            market_format: MarketFormat::Auto,
            cache_dir: None,
            initial_cash: 100_000.0,
            maker_fee_bps: 0.0,
            taker_fee_bps: 0.0,
            slippage_bps: 0.0,
            seed: 0,
            conventions: Conventions::Alertgate,
            latency: LatencySection::default(),
            tradingview_trades: None,
            tradingview_tz: None,
        }
    }
}

/// `[simulation.latency]`: each stage is milliseconds (constant) or a model
/// table (see [`crate::latency`]). Default 0 ms everywhere.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencySection {
    /// Sender → gateway: the gate checks an alert at `received_at` plus this.
    pub delivery_ms: LatencySetting,
    /// Gateway → exchange.
    pub order_ms: LatencySetting,
    /// Exchange → gateway (reported only).
    pub response_ms: LatencySetting,
}

impl LatencySection {
    /// The setting of `stage`.
    pub fn stage(&self, stage: Stage) -> &LatencySetting {
        match stage {
            Stage::Delivery => &self.delivery_ms,
            Stage::Order => &self.order_ms,
            Stage::Response => &self.response_ms,
        }
    }
}

impl SimulationSection {
    /// The fee and slippage settings, as the exchange takes them (`replay`'s
    /// exchange and `serve`'s `mock`).
    pub fn costs(&self) -> crate::exchange::Costs {
        crate::exchange::Costs {
            maker_fee_bps: self.maker_fee_bps,
            taker_fee_bps: self.taker_fee_bps,
            slippage_bps: self.slippage_bps,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigFileError> {
        if !(self.initial_cash.is_finite() && self.initial_cash > 0.0) {
            return Err(invalid(
                "simulation.initial_cash",
                format!("{}: expected a finite amount above 0", self.initial_cash),
            ));
        }
        for (name, bps) in [
            ("simulation.maker_fee_bps", self.maker_fee_bps),
            ("simulation.taker_fee_bps", self.taker_fee_bps),
            ("simulation.slippage_bps", self.slippage_bps),
        ] {
            if !(bps.is_finite() && (0.0..10_000.0).contains(&bps)) {
                return Err(invalid(
                    name,
                    format!("{bps}: expected basis points from 0 to below 10000"),
                ));
            }
        }
        if self.conventions == Conventions::BacktestingPy
            && self.maker_fee_bps != self.taker_fee_bps
        {
            return Err(invalid(
                "simulation.maker_fee_bps",
                format!(
                    "{} differs from taker_fee_bps {}: backtesting.py's conventions charge one \
                     commission on every fill; set both to it",
                    self.maker_fee_bps, self.taker_fee_bps
                ),
            ));
        }
        Ok(())
    }
}
