//! `alertgate replay`: parses the arguments into the simulator's
//! [`ReplayOptions`] and runs [`replay::replay`], which prints the report
//! table (or a sweep's comparison) and writes the files asked for.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use alertgate_simulator::market::MarketFormat;
use alertgate_simulator::replay::{self, ReplayOptions, SweepAxis};
use alertgate_simulator::ReplayError;

/// Arguments of `alertgate replay`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReplayArgs {
    /// Configuration file with a `[simulation]` section (default: the bundled
    /// sample, examples/replay/alertgate.toml, when no inputs are given;
    /// built-in defaults otherwise).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Recorded alert stream, JSON Lines (default: simulation.stream).
    #[arg(long, value_name = "FILE")]
    pub stream: Option<PathBuf>,
    /// Market data of one symbol, bars or trades: CSV, .gz or .zip
    /// (repeatable).
    #[arg(long, value_name = "SYMBOL=FILE", value_parser = parse_market)]
    pub market: Vec<(String, PathBuf)>,
    /// Directory of market files named by symbol, e.g. BTC-USDT.csv or
    /// BTCUSDT-1m-2024-01.zip (repeatable).
    #[arg(long, value_name = "DIR")]
    pub market_dir: Vec<PathBuf>,
    /// Format of the market files: auto (detected per file), ours,
    /// tradingview, binance-klines or binance-aggtrades (default:
    /// simulation.market_format, else auto).
    #[arg(long, value_name = "FORMAT")]
    pub market_format: Option<MarketFormat>,
    /// Directory of the market cache: each market file's bars, written on
    /// its first read, read instead of parsing while the file is unchanged
    /// (default: simulation.cache_dir, else $XDG_CACHE_HOME/alertgate/market
    /// or ~/.cache/alertgate/market).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the market cache: parse every file.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Seed of every random draw (default: simulation.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the report as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the report as a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write every closed trade as CSV.
    #[arg(long, value_name = "FILE")]
    pub trades: Option<PathBuf>,
    /// Replay a grid in parallel, one row per combination: KEY=V1,V2,..
    /// (repeatable). KEY is a setting of the configuration file; keys
    /// outside auth, policy, replay, rate and network are under simulation:
    /// latency.order_ms=0,50,250 or policy.min_confidence=0.6,0.7.
    #[arg(long, value_name = "KEY=V1,V2", value_parser = replay::parse_sweep)]
    pub sweep: Vec<SweepAxis>,
    /// TradingView's "List of trades" export the stream was imported from
    /// (`alertgate import tradingview-trades`): the report shows its net
    /// P&L beside the replay's (default: simulation.tradingview_trades).
    #[arg(long, value_name = "FILE.csv")]
    pub tradingview_trades: Option<PathBuf>,
    /// The export's chart time zone (default: simulation.tradingview_tz,
    /// else UTC).
    #[arg(long, value_name = "TZ")]
    pub tradingview_tz: Option<String>,
    /// Say on stderr how long each phase took: load (the stream, the
    /// market data parsed or its cache checked), run (the gate, the bars,
    /// the exchange), report.
    #[arg(long)]
    pub timings: bool,
}

impl ReplayArgs {
    /// The simulator's options, field for field.
    pub fn options(self) -> ReplayOptions {
        ReplayOptions {
            config: self.config,
            stream: self.stream,
            market: self.market,
            market_dir: self.market_dir,
            market_format: self.market_format,
            cache_dir: self.cache_dir,
            no_cache: self.no_cache,
            seed: self.seed,
            json: self.json,
            html: self.html,
            trades: self.trades,
            sweep: self.sweep,
            tradingview_trades: self.tradingview_trades,
            tradingview_tz: self.tradingview_tz,
            timings: self.timings,
        }
    }
}

/// A `--market` value that is not `SYMBOL=FILE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not SYMBOL=FILE (BTC/USDT=btc.csv)")]
pub struct MarketArgError {
    /// The value, as given.
    pub text: String,
}

/// Parses `--market SYMBOL=FILE`.
fn parse_market(text: &str) -> Result<(String, PathBuf), MarketArgError> {
    match text.split_once('=') {
        Some((symbol, path)) if !symbol.is_empty() && !path.is_empty() => {
            Ok((symbol.to_string(), PathBuf::from(path)))
        }
        _ => Err(MarketArgError { text: text.into() }),
    }
}

/// Runs `replay`: the report on stdout (exit 0), or the problem on stderr
/// (exit 2).
pub fn run(args: ReplayArgs) -> ExitCode {
    match report(args) {
        Ok(table) => {
            if std::io::stdout()
                .lock()
                .write_all(table.as_bytes())
                .is_err()
            {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("alertgate replay: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs `replay`; returns what to print on stdout.
pub fn report(args: ReplayArgs) -> Result<String, ReplayError> {
    replay::replay(&args.options())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_is_symbol_equals_file() {
        assert_eq!(
            parse_market("BTC/USDT=btc.csv").unwrap(),
            ("BTC/USDT".to_string(), PathBuf::from("btc.csv"))
        );
        for bad in ["btc.csv", "=btc.csv", "BTC/USDT="] {
            assert_eq!(
                parse_market(bad).unwrap_err().to_string(),
                format!("{bad:?} is not SYMBOL=FILE (BTC/USDT=btc.csv)")
            );
        }
    }
}
