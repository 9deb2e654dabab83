//! Market data: one file per symbol, OHLCV bars or trades, in one of four
//! formats detected from the file (or forced, [`MarketFormat`]):
//!
//! - **ours**: header `time,open,high,low,close,volume` (bars) or
//!   `time,price,qty` (trades), columns in any order, names exact;
//! - **TradingView**'s chart export: `time,open,high,
//!   low,close[,Volume]` in any case, plus indicator columns (ignored);
//! - **Binance** klines and aggTrades, with or without their header.
//!
//! Detection reads the first record: a header (its first field
//! does not start with a digit) is matched by its names; without one, the
//! column count (12: klines; 7 or 8: aggTrades) and the magnitude of the time
//! column decide. Files may be gzip (`.gz`) or a zip of one CSV (`.zip`).
//!
//! Bars' `time` is the bar's **start**, strictly increasing; trades' `time`
//! never decreases (several trades may share a millisecond). Times are Unix
//! seconds, milliseconds or microseconds — the unit decided per column by
//! magnitude, the same for all its values ([`times`]) — or RFC 3339 with a
//! UTC offset. Prices must be finite and above zero, volumes finite and not
//! negative (TradingView's may be absent: 0), and a bar must hold its open
//! and close within `[low, high]`.
//!
//! A trade is stored as a bar whose open, high, low and close are its price:
//! every fill rule then reads the same on both kinds of data, and "the first
//! trade with time ≥ a" is exactly "the first bar whose start ≥ a".
//!
//! Prices are `f64` here: the simulator values positions and computes
//! statistics; the exact decimals stay in the validator, which makes the
//! accept/reject decision.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use alertgate_validator::symbol::normalize;

use crate::input::InputError;

mod binance;
pub mod cache;
pub mod concat;
mod detect;
mod fast;
mod files;
mod ours;
mod parallel;
mod reference;
mod rows;
pub mod source;
pub mod times;
mod tradingview;

pub use cache::{CacheKey, CachedFile, MarketCache};
pub use concat::MarketGap;
pub use files::{read_series_as, symbol_of_file};
pub use source::{MarketSource, SeriesReader};

/// One bar (or one trade, with open = high = low = close = its price).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Start of the bar (the trade's time), Unix ms.
    pub time_ms: i64,
    /// First price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Traded quantity, base units.
    pub volume: f64,
}

/// Which layout a file had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketKind {
    /// `time,open,high,low,close,volume`.
    Bars,
    /// `time,price,qty`.
    Trades,
}

/// The format of a market file: detected (`Auto`) or forced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MarketFormat {
    /// Detected from the file's header, or its column count and values.
    #[default]
    Auto,
    /// `time,open,high,low,close,volume` or `time,price,qty`.
    Ours,
    /// TradingView's chart export.
    TradingView,
    /// Binance klines (bars).
    BinanceKlines,
    /// Binance aggTrades (trades).
    BinanceAggTrades,
}

impl MarketFormat {
    /// Every format, as [`FromStr`] reads them.
    pub const ALL: [MarketFormat; 5] = [
        MarketFormat::Auto,
        MarketFormat::Ours,
        MarketFormat::TradingView,
        MarketFormat::BinanceKlines,
        MarketFormat::BinanceAggTrades,
    ];

    /// The name the command line and messages use.
    pub fn name(self) -> &'static str {
        match self {
            MarketFormat::Auto => "auto",
            MarketFormat::Ours => "ours",
            MarketFormat::TradingView => "tradingview",
            MarketFormat::BinanceKlines => "binance-klines",
            MarketFormat::BinanceAggTrades => "binance-aggtrades",
        }
    }
}

impl fmt::Display for MarketFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A market format name that is none of [`MarketFormat::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a market format; expected auto, ours, tradingview, binance-klines or binance-aggtrades")]
pub struct MarketFormatError(pub String);

/// Read from a configuration file by name (`market_format = "tradingview"`).
impl<'de> serde::Deserialize<'de> for MarketFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for MarketFormat {
    type Err = MarketFormatError;

    fn from_str(s: &str) -> Result<MarketFormat, MarketFormatError> {
        MarketFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| MarketFormatError(s.to_string()))
    }
}

/// The data for one symbol, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketSeries {
    /// Canonical `BASE/QUOTE`.
    pub symbol: String,
    /// The file it came from, for messages.
    pub source: String,
    /// Bars or trades.
    pub kind: MarketKind,
    /// Never empty.
    pub bars: Vec<Bar>,
}

impl MarketSeries {
    /// Index of the last bar (trade) that has started at `t_ms`, if any:
    /// the latest price known at `t_ms` without looking ahead is its open.
    pub fn last_started(&self, t_ms: i64) -> Option<usize> {
        self.bars
            .partition_point(|b| b.time_ms <= t_ms)
            .checked_sub(1)
    }
}

/// Every symbol's series, ordered by symbol so runs are deterministic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MarketData {
    /// Sorted by `symbol`, one per symbol.
    pub series: Vec<MarketSeries>,
    /// Time missing between the files of one symbol (see [`concat`]).
    pub gaps: Vec<MarketGap>,
}

impl MarketData {
    /// Index of a canonical symbol's series.
    pub fn index_of(&self, symbol: &str) -> Option<usize> {
        self.series
            .binary_search_by(|s| s.symbol.as_str().cmp(symbol))
            .ok()
    }

    /// Total bars across symbols.
    pub fn bar_count(&self) -> usize {
        self.series.iter().map(|s| s.bars.len()).sum()
    }

    /// [`MarketData::load_as`] with every format detected.
    pub fn load(
        pairs: &[(String, PathBuf)],
        dirs: &[PathBuf],
        quotes: &[&str],
    ) -> Result<MarketData, InputError> {
        MarketData::load_as(pairs, dirs, quotes, MarketFormat::Auto)
    }

    /// Loads `SYMBOL=path` pairs and every `*.csv`, `*.csv.gz` and `*.zip`
    /// in `dirs`, in `format`. A directory's file names give the symbols
    /// ([`symbol_of_file`]: `BTC-USDT.csv`, `BTCUSDT-1m-2024-01.zip`).
    /// Symbols are normalized with `quotes`; several files of one symbol
    /// (Binance's monthly files) are joined in time order ([`concat`]:
    /// overlaps refused, gaps reported in [`MarketData::gaps`]).
    pub fn load_as(
        pairs: &[(String, PathBuf)],
        dirs: &[PathBuf],
        quotes: &[&str],
        format: MarketFormat,
    ) -> Result<MarketData, InputError> {
        let files = market_files(pairs, dirs)?;
        // Files are read on all cores; results (and the first error) come
        // back in the files' order.
        let read = parallel::map_in_order(&files, |(raw_symbol, path)| {
            let source = path.display().to_string();
            let symbol = normalize(raw_symbol, quotes)
                .map_err(|e| InputError::file(&source, format!("symbol {raw_symbol:?}: {e}")))?
                .as_str()
                .to_string();
            read_series_as(path, &symbol, format)
        });
        let mut by_symbol: BTreeMap<String, Vec<MarketSeries>> = BTreeMap::new();
        for series in read {
            let series = series?;
            by_symbol
                .entry(series.symbol.clone())
                .or_default()
                .push(series);
        }
        let mut data = MarketData::default();
        for parts in by_symbol.into_values() {
            let (series, gaps) = concat::join(parts)?;
            data.series.push(series);
            data.gaps.extend(gaps);
        }
        Ok(data)
    }
}

/// The `SYMBOL=path` pairs, then each directory's market files.
fn market_files(
    pairs: &[(String, PathBuf)],
    dirs: &[PathBuf],
) -> Result<Vec<(String, PathBuf)>, InputError> {
    let mut files: Vec<(String, PathBuf)> = pairs.to_vec();
    for dir in dirs {
        files.extend(list_dir(dir)?);
    }
    Ok(files)
}

/// A directory's market files, `(symbol as named, path)`, sorted by path.
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, InputError> {
    let name = dir.display().to_string();
    let cannot = |e: std::io::Error| InputError::file(&name, format!("cannot list directory: {e}"));
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let path = entry.map_err(cannot)?.path();
        if let Some(symbol) = symbol_of_file(&path) {
            found.push((symbol.to_string(), path));
        }
    }
    if found.is_empty() {
        return Err(InputError::file(
            &name,
            "no .csv, .csv.gz or .zip files (expected e.g. BTC-USDT.csv or BTCUSDT-1m-2024-01.zip)",
        ));
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(found)
}

/// Reads one file, its format detected ([`read_series_as`]).
pub fn read_series(path: &Path, symbol: &str) -> Result<MarketSeries, InputError> {
    read_series_as(path, symbol, MarketFormat::Auto)
}

/// Parses one file's text, its format detected; `source` names it in
/// errors.
pub fn parse_series(
    reader: impl std::io::Read,
    source: &str,
    symbol: &str,
) -> Result<MarketSeries, InputError> {
    parse_series_as(reader, source, symbol, MarketFormat::Auto)
}

/// Parses one file's text (CSV, already decompressed) in `format`;
/// `source` names it in errors. The text is read whole, then
/// [`parse_bytes_as`].
pub fn parse_series_as(
    mut reader: impl std::io::Read,
    source: &str,
    symbol: &str,
    format: MarketFormat,
) -> Result<MarketSeries, InputError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::file(source, format!("cannot read: {e}")))?;
    parse_bytes_as(&bytes, source, symbol, format)
}

/// Parses one file's bytes (CSV, already decompressed) in `format`;
/// `source` names it in errors. The fast loader reads what it can; the
/// reference reader decides the rest and words every error.
pub fn parse_bytes_as(
    bytes: &[u8],
    source: &str,
    symbol: &str,
    format: MarketFormat,
) -> Result<MarketSeries, InputError> {
    match fast::parse(bytes, format) {
        Some((kind, bars)) => Ok(MarketSeries {
            symbol: symbol.to_string(),
            source: source.to_string(),
            kind,
            bars,
        }),
        None => reference::parse(bytes, source, symbol, format),
    }
}

/// The fast loader's answer (`None`: handed over) and the reference
/// reader's result on `bytes` in `format`, for the fuzz target that checks
/// they agree.
#[cfg(any(test, feature = "fuzzing"))]
#[allow(clippy::type_complexity)] // the two answers, side by side
pub(crate) fn fast_and_reference(
    bytes: &[u8],
    source: &str,
    format: MarketFormat,
) -> (
    Option<(MarketKind, Vec<Bar>)>,
    Result<MarketSeries, InputError>,
) {
    (
        fast::parse(bytes, format),
        reference::parse(bytes, source, "FUZZ/USDT", format),
    )
}

/// The format [`MarketFormat::Auto`] finds in a file's text (its first
/// record), or why none fits; `source` names it in errors.
pub fn detect_format(reader: impl std::io::Read, source: &str) -> Result<MarketFormat, InputError> {
    let (_, record, line) = reference::first_record(reader, source)?;
    Ok(detect::layout(&record, line, source, MarketFormat::Auto)?.format)
}

#[cfg(test)]
mod tests;
