//! Which format a file is in, from its first record: a header (its first
//! field does not start with a digit) and its column names, or, without
//! one, the column count and the magnitude of the time column.

use alertgate_validator::time::SECONDS_BELOW;

use super::{binance, ours, tradingview, MarketFormat, MarketKind};
use crate::input::{snippet, InputError};

/// A column the reader uses: its position and the name errors give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Field {
    pub index: usize,
    pub name: &'static str,
}

/// The columns of a bars file; a missing volume reads as 0.
#[derive(Debug, Clone, Copy)]
pub(super) struct BarColumns {
    pub time: Field,
    pub open: Field,
    pub high: Field,
    pub low: Field,
    pub close: Field,
    pub volume: Option<Field>,
}

/// The columns of a trades file.
#[derive(Debug, Clone, Copy)]
pub(super) struct TradeColumns {
    pub time: Field,
    pub price: Field,
    pub qty: Field,
}

/// Bars or trades, and where their values are.
#[derive(Debug, Clone, Copy)]
pub(super) enum Columns {
    Bars(BarColumns),
    Trades(TradeColumns),
}

impl Columns {
    pub fn kind(&self) -> MarketKind {
        match self {
            Columns::Bars(_) => MarketKind::Bars,
            Columns::Trades(_) => MarketKind::Trades,
        }
    }
}

/// What detection found: the format, its columns, and whether the first
/// record was a header (else it is the first data row).
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub format: MarketFormat,
    pub columns: Columns,
    pub header: bool,
}

/// What an empty file or a failed detection is told to look like.
pub(super) const EXPECTED: &str =
    "a header row (time,open,high,low,close,volume or time,price,qty; \
     TradingView's time,open,high,low,close,...) or a headerless Binance file \
     (klines: 12 columns; aggTrades: 7 or 8)";

/// Finds the layout of a file from its first record, found at `line`;
/// `format` other than [`MarketFormat::Auto`] is taken as given.
pub(super) fn layout(
    first: &csv::StringRecord,
    line: u64,
    source: &str,
    format: MarketFormat,
) -> Result<Layout, InputError> {
    if first.iter().all(str::is_empty) {
        return Err(InputError::file(
            source,
            format!("empty; expected {EXPECTED}"),
        ));
    }
    let header = !first
        .get(0)
        .is_some_and(|f| f.starts_with(|c: char| c.is_ascii_digit()));
    if !header {
        let format = match format {
            MarketFormat::Auto => by_shape(first, line, source)?,
            forced => forced,
        };
        let columns = match format {
            MarketFormat::BinanceKlines => binance::klines_headerless(first, line, source)?,
            MarketFormat::BinanceAggTrades => binance::aggtrades_headerless(first, line, source)?,
            other => {
                return Err(InputError::line(
                    source,
                    line,
                    format!("no header row; the {other} format needs one"),
                ))
            }
        };
        return Ok(Layout {
            format,
            columns,
            header,
        });
    }
    let names: Vec<&str> = first.iter().collect();
    let (format, columns) = match format {
        MarketFormat::Auto => by_header(&names, line, source)?,
        MarketFormat::Ours => (format, ours::layout(&names, line, source)?),
        MarketFormat::TradingView => (format, tradingview::layout(&names, line, source)?),
        MarketFormat::BinanceKlines => (format, binance::klines_header(&names, line, source)?),
        MarketFormat::BinanceAggTrades => {
            (format, binance::aggtrades_header(&names, line, source)?)
        }
    };
    Ok(Layout {
        format,
        columns,
        header,
    })
}

/// A header's format: Binance's by their column names, else ours when it
/// reads as ours, else TradingView's (whose error is given when neither
/// reads, unless the header looks like ours: [`ours::claims`]).
fn by_header(
    names: &[&str],
    line: u64,
    source: &str,
) -> Result<(MarketFormat, Columns), InputError> {
    let has = |wanted: &str| names.iter().any(|n| n.eq_ignore_ascii_case(wanted));
    if has("open_time") {
        let columns = binance::klines_header(names, line, source)?;
        return Ok((MarketFormat::BinanceKlines, columns));
    }
    if has("agg_trade_id") || has("transact_time") {
        let columns = binance::aggtrades_header(names, line, source)?;
        return Ok((MarketFormat::BinanceAggTrades, columns));
    }
    let ours = ours::layout(names, line, source);
    if let Ok(columns) = ours {
        return Ok((MarketFormat::Ours, columns));
    }
    match tradingview::layout(names, line, source) {
        Ok(columns) => Ok((MarketFormat::TradingView, columns)),
        Err(_) if ours::claims(names) => ours.map(|c| (MarketFormat::Ours, c)),
        Err(e) => Err(e),
    }
}

/// A headerless file's format, from its column count and the magnitude of
/// its time column (Binance's times are Unix ms or µs).
fn by_shape(
    first: &csv::StringRecord,
    line: u64,
    source: &str,
) -> Result<MarketFormat, InputError> {
    let (format, time) = match first.len() {
        binance::KLINES_COLUMNS => (MarketFormat::BinanceKlines, binance::KLINES_TIME),
        7 | 8 => (MarketFormat::BinanceAggTrades, binance::AGGTRADES_TIME),
        n => {
            return Err(InputError::line(
                source,
                line,
                format!("no header and {n} columns; expected {EXPECTED}"),
            ))
        }
    };
    let text = first.get(time.index).unwrap_or("");
    let is_time = text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<i64>().is_ok_and(|v| v >= SECONDS_BELOW);
    if !is_time {
        return Err(InputError::at(
            source,
            line,
            time.name,
            format!(
                "{:?} is not a Unix time in ms or µs, as a headerless {format} file has \
                 in column {}; expected {EXPECTED}",
                snippet(text),
                time.index + 1
            ),
        ));
    }
    Ok(format)
}

/// The column called `name` (ASCII case ignored unless `exact`), if the
/// header has it; twice is an error.
pub(super) fn position(
    names: &[&str],
    name: &'static str,
    exact: bool,
    line: u64,
    source: &str,
) -> Result<Option<Field>, InputError> {
    let mut found = None;
    for (index, n) in names.iter().enumerate() {
        if *n == name || (!exact && n.eq_ignore_ascii_case(name)) {
            if found.is_some() {
                return Err(InputError::at(source, line, n, "column appears twice"));
            }
            found = Some(Field { index, name });
        }
    }
    Ok(found)
}

/// [`position`] of a column the format needs; `expected` is its header.
pub(super) fn required(
    names: &[&str],
    name: &'static str,
    exact: bool,
    (line, source): (u64, &str),
    expected: &str,
) -> Result<Field, InputError> {
    position(names, name, exact, line, source)?.ok_or_else(|| {
        InputError::at(
            source,
            line,
            name,
            format!("missing from the header; expected {expected}"),
        )
    })
}
