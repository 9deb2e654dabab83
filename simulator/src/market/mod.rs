//! Market data: one CSV file per symbol, either OHLCV bars or trades.
//!
//! - Bars: header `time,open,high,low,close,volume`; `time` is the bar's
//!   **start**, strictly increasing.
//! - Trades: header `time,price,qty`; `time` non-decreasing (several trades
//!   may share a millisecond).
//!
//! Columns may come in any order; the header row is required, and a missing,
//! unknown or repeated column is an error. Times are Unix milliseconds or
//! RFC 3339. Prices must be finite and above zero, volumes finite and not
//! negative, and a bar must hold its open and close within `[low, high]`.
//!
//! A trade is stored as a bar whose open, high, low and close are its price:
//! every fill rule then reads the same on both kinds of data, and "the first
//! trade with time ≥ a" is exactly "the first bar whose start ≥ a".
//!
//! Prices are `f64` here: the simulator values positions and computes
//! statistics; the exact decimals stay in the validator, which makes the
//! accept/reject decision.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alertgate_validator::symbol::normalize;

use crate::input::{parse_recorded_time, snippet, InputError};

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

    /// Loads `SYMBOL=path` pairs and every `*.csv` in `dirs` (the file stem is
    /// the symbol: `BTC-USDT.csv`). Symbols are normalized with `quotes`; a
    /// symbol given twice is an error.
    pub fn load(
        pairs: &[(String, PathBuf)],
        dirs: &[PathBuf],
        quotes: &[&str],
    ) -> Result<MarketData, InputError> {
        let mut files: Vec<(String, PathBuf)> = pairs.to_vec();
        for dir in dirs {
            let name = dir.display().to_string();
            let entries = std::fs::read_dir(dir)
                .map_err(|e| InputError::file(&name, format!("cannot list directory: {e}")))?;
            let mut found = Vec::new();
            for entry in entries {
                let path = entry
                    .map_err(|e| InputError::file(&name, format!("cannot list directory: {e}")))?
                    .path();
                if path
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("csv"))
                {
                    let stem = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string();
                    found.push((stem, path));
                }
            }
            if found.is_empty() {
                return Err(InputError::file(
                    &name,
                    "no .csv files (expected e.g. BTC-USDT.csv)",
                ));
            }
            files.extend(found);
        }

        let mut by_symbol: BTreeMap<String, MarketSeries> = BTreeMap::new();
        for (raw_symbol, path) in files {
            let source = path.display().to_string();
            let symbol = normalize(&raw_symbol, quotes)
                .map_err(|e| InputError::file(&source, format!("symbol {raw_symbol:?}: {e}")))?
                .as_str()
                .to_string();
            let series = read_series(&path, &symbol)?;
            if let Some(previous) = by_symbol.insert(symbol.clone(), series) {
                return Err(InputError::file(
                    &source,
                    format!("{symbol} already has market data from {}", previous.source),
                ));
            }
        }
        Ok(MarketData {
            series: by_symbol.into_values().collect(),
        })
    }
}

/// Reads one file.
pub fn read_series(path: &Path, symbol: &str) -> Result<MarketSeries, InputError> {
    let source = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| InputError::file(&source, format!("cannot read: {e}")))?;
    parse_series(std::io::BufReader::new(file), &source, symbol)
}

/// Column positions of a bars file.
struct BarColumns {
    time: usize,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: usize,
}

/// Column positions of a trades file.
struct TradeColumns {
    time: usize,
    price: usize,
    qty: usize,
}

enum Layout {
    Bars(BarColumns),
    Trades(TradeColumns),
}

const BAR_COLUMNS: [&str; 6] = ["time", "open", "high", "low", "close", "volume"];
const TRADE_COLUMNS: [&str; 3] = ["time", "price", "qty"];

fn layout(header: &csv::StringRecord, source: &str) -> Result<Layout, InputError> {
    let names: Vec<&str> = header.iter().collect();
    let bad = |m: String| InputError::line(source, 1, m);
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(InputError::at(source, 1, name, "column appears twice"));
        }
    }
    let expected: &[&str] = if names.contains(&"price") || names.contains(&"qty") {
        &TRADE_COLUMNS
    } else {
        &BAR_COLUMNS
    };
    if let Some(unknown) = names.iter().find(|n| !expected.contains(n)) {
        return Err(InputError::at(
            source,
            1,
            unknown,
            format!(
                "unknown column; expected the header {} or {}",
                BAR_COLUMNS.join(","),
                TRADE_COLUMNS.join(",")
            ),
        ));
    }
    let find = |name: &str| {
        names.iter().position(|n| *n == name).ok_or_else(|| {
            bad(format!(
                "header has no column {name:?}; expected {}",
                expected.join(",")
            ))
        })
    };
    Ok(if expected == TRADE_COLUMNS {
        Layout::Trades(TradeColumns {
            time: find("time")?,
            price: find("price")?,
            qty: find("qty")?,
        })
    } else {
        Layout::Bars(BarColumns {
            time: find("time")?,
            open: find("open")?,
            high: find("high")?,
            low: find("low")?,
            close: find("close")?,
            volume: find("volume")?,
        })
    })
}

/// Parses one CSV file's text; `source` names it in errors.
pub fn parse_series(
    reader: impl std::io::Read,
    source: &str,
    symbol: &str,
) -> Result<MarketSeries, InputError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let layout = read_layout(&mut csv, source)?;
    let kind = match layout {
        Layout::Bars(_) => MarketKind::Bars,
        Layout::Trades(_) => MarketKind::Trades,
    };
    let mut bars: Vec<Bar> = Vec::new();
    let mut record = csv::StringRecord::new();
    while read_record(&mut csv, &mut record, source)? {
        let row = Row {
            source,
            line: record.position().map_or(0, |p| p.line()),
            record: &record,
        };
        let bar = match &layout {
            Layout::Bars(c) => row.bar(c)?,
            Layout::Trades(c) => row.trade(c)?,
        };
        if let Some(prev) = bars.last() {
            row.check_order(kind, prev, &bar)?;
        }
        bars.push(bar);
    }
    if bars.is_empty() {
        return Err(InputError::file(source, "has a header but no rows"));
    }
    Ok(MarketSeries {
        symbol: symbol.to_string(),
        source: source.to_string(),
        kind,
        bars,
    })
}

/// Reads the header row and finds the file's columns.
fn read_layout<R: std::io::Read>(
    csv: &mut csv::Reader<R>,
    source: &str,
) -> Result<Layout, InputError> {
    let header = csv
        .headers()
        .map_err(|e| InputError::line(source, 1, format!("cannot read the header: {e}")))?;
    if header.is_empty() || header.iter().all(str::is_empty) {
        return Err(InputError::file(
            source,
            format!(
                "empty; expected a header row {} or {}",
                BAR_COLUMNS.join(","),
                TRADE_COLUMNS.join(",")
            ),
        ));
    }
    layout(header, source)
}

/// Reads the next row into `record`; `false` at the end of the file.
fn read_record<R: std::io::Read>(
    csv: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    source: &str,
) -> Result<bool, InputError> {
    csv.read_record(record).map_err(|e| {
        let line = e.position().map_or(0, |p| p.line());
        InputError::line(source, line, format!("malformed CSV row: {e}"))
    })
}

/// One data row, with what its errors name: the file and the line.
struct Row<'r> {
    source: &'r str,
    line: u64,
    record: &'r csv::StringRecord,
}

impl Row<'_> {
    fn field(&self, i: usize) -> &str {
        self.record.get(i).unwrap_or("")
    }

    fn error(&self, field: &str, message: impl Into<String>) -> InputError {
        InputError::at(self.source, self.line, field, message)
    }

    fn time(&self, i: usize) -> Result<i64, InputError> {
        parse_recorded_time(self.field(i)).map_err(|e| self.error("time", e.to_string()))
    }

    /// A finite number ≥ 0, and above 0 unless `zero_ok`.
    fn number(&self, i: usize, name: &str, zero_ok: bool) -> Result<f64, InputError> {
        let text = self.field(i);
        let v: f64 = text
            .parse()
            .map_err(|_| self.error(name, format!("{:?} is not a number", snippet(text))))?;
        if !v.is_finite() || v < 0.0 || (!zero_ok && v == 0.0) {
            let allowed = if zero_ok { "0 or more" } else { "above 0" };
            return Err(self.error(
                name,
                format!("{:?} is not a finite number {allowed}", snippet(text)),
            ));
        }
        Ok(v)
    }

    /// A bar, with open and close inside its `[low, high]` range.
    fn bar(&self, c: &BarColumns) -> Result<Bar, InputError> {
        let bar = Bar {
            time_ms: self.time(c.time)?,
            open: self.number(c.open, "open", false)?,
            high: self.number(c.high, "high", false)?,
            low: self.number(c.low, "low", false)?,
            close: self.number(c.close, "close", false)?,
            volume: self.number(c.volume, "volume", true)?,
        };
        if bar.high < bar.low {
            return Err(self.error(
                "high",
                format!("high {} is below low {}", bar.high, bar.low),
            ));
        }
        for (name, v) in [("open", bar.open), ("close", bar.close)] {
            if v < bar.low || v > bar.high {
                return Err(self.error(
                    name,
                    format!("{v} is outside the bar's range [{}, {}]", bar.low, bar.high),
                ));
            }
        }
        Ok(bar)
    }

    /// A trade, as a bar of one price.
    fn trade(&self, c: &TradeColumns) -> Result<Bar, InputError> {
        let price = self.number(c.price, "price", false)?;
        Ok(Bar {
            time_ms: self.time(c.time)?,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: self.number(c.qty, "qty", true)?,
        })
    }

    /// Bars' times increase strictly; trades' never decrease.
    fn check_order(&self, kind: MarketKind, prev: &Bar, bar: &Bar) -> Result<(), InputError> {
        let ordered = match kind {
            MarketKind::Bars => bar.time_ms > prev.time_ms,
            MarketKind::Trades => bar.time_ms >= prev.time_ms,
        };
        if ordered {
            return Ok(());
        }
        Err(self.error(
            "time",
            format!(
                "{} is not after the previous row's {} (times must increase)",
                bar.time_ms, prev.time_ms
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MarketSeries, InputError> {
        parse_series(text.as_bytes(), "m.csv", "BTC/USDT")
    }

    #[test]
    fn reads_bars_in_any_column_order_and_trades() {
        let s = parse(
            "time,open,high,low,close,volume\n\
             1699113600000,100,110,90,105,3\n\
             2023-11-04T16:01:00Z,105,106,104,104.5,0\n",
        )
        .unwrap();
        assert_eq!(s.kind, MarketKind::Bars);
        assert_eq!(s.bars.len(), 2);
        assert_eq!(s.bars[1].time_ms, 1_699_113_660_000);
        assert_eq!(s.bars[1].close, 104.5);
        assert_eq!(s.last_started(1_699_113_600_000), Some(0));
        assert_eq!(s.last_started(1_699_113_599_999), None);
        assert_eq!(s.last_started(i64::MAX), Some(1));

        let s = parse("qty, price ,time\n0.5,100,1699113600000\n1,101,1699113600000\n").unwrap();
        assert_eq!(s.kind, MarketKind::Trades);
        assert_eq!(
            s.bars[1],
            Bar {
                time_ms: 1_699_113_600_000,
                open: 101.0,
                high: 101.0,
                low: 101.0,
                close: 101.0,
                volume: 1.0
            }
        );
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        const H: &str = "time,open,high,low,close,volume\n";
        const ROW: &str = "1699113600000,100,110,90,105,3\n";
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "m.csv: empty"),
            (H.to_string(), "m.csv: has a header but no rows"),
            ("time,open,high,low,close\n".into(), "no column \"volume\""),
            (
                "time,open,high,low,close,volume,vwap\n".into(),
                "field \"vwap\": unknown column",
            ),
            (
                "time,open,open,low,close,volume\n".into(),
                "field \"open\": column appears twice",
            ),
            (
                format!("{H}{ROW}1699113600000,100,110,90,105,3\n"),
                "m.csv:3: field \"time\"",
            ),
            (
                format!("{H}{ROW}1699113500000,100,110,90,105,3\n"),
                "m.csv:3: field \"time\"",
            ),
            (
                format!("{H}1699113600,100,110,90,105,3\n"),
                "m.csv:2: field \"time\"",
            ),
            (
                format!("{H}1699113600000,100,90,110,105,3\n"),
                "m.csv:2: field \"high\": high 90 is below low 110",
            ),
            (
                format!("{H}1699113600000,NaN,110,90,105,3\n"),
                "m.csv:2: field \"open\"",
            ),
            (
                format!("{H}1699113600000,100,inf,90,105,3\n"),
                "m.csv:2: field \"high\"",
            ),
            (
                format!("{H}1699113600000,100,110,90,105,-1\n"),
                "m.csv:2: field \"volume\"",
            ),
            (
                format!("{H}1699113600000,100,110,0,105,1\n"),
                "m.csv:2: field \"low\"",
            ),
            (
                format!("{H}1699113600000,120,110,90,105,1\n"),
                "m.csv:2: field \"open\": 120 is outside",
            ),
            (
                format!("{H}1699113600000,100,110,90,abc,1\n"),
                "m.csv:2: field \"close\"",
            ),
            (
                format!("{H}1699113600000,100,110\n"),
                "m.csv:2: malformed CSV row",
            ),
            (
                "time,price,qty\n1699113600000,0,1\n".into(),
                "m.csv:2: field \"price\"",
            ),
            (
                "time,price,qty\n1699113600001,1,1\n1699113600000,1,1\n".into(),
                "m.csv:3: field \"time\"",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn loads_a_directory_by_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("ETH-USDT.csv", "time,price,qty\n1699113600000,1800,1\n");
        write(
            "btc_usdt.csv",
            "time,open,high,low,close,volume\n1699113600000,1,1,1,1,1\n",
        );
        write("notes.txt", "ignored");
        let quotes = ["USDT"];
        let data = MarketData::load(&[], &[dir.path().to_path_buf()], &quotes).unwrap();
        let symbols: Vec<&str> = data.series.iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(symbols, ["BTC/USDT", "ETH/USDT"]);
        assert_eq!(data.index_of("ETH/USDT"), Some(1));
        assert_eq!(data.index_of("SOL/USDT"), None);
        assert_eq!(data.bar_count(), 2);

        // The same symbol twice is refused.
        let again = [("BTCUSDT".to_string(), dir.path().join("btc_usdt.csv"))];
        let err = MarketData::load(&again, &[dir.path().to_path_buf()], &quotes).unwrap_err();
        assert!(err.to_string().contains("already has market data"), "{err}");
    }
}
