//! Binance's public market data (data.binance.vision), spot and futures:
//!
//! - klines: `open_time,open,high,low,close,volume,close_time,quote_volume,
//!   count,taker_buy_volume,taker_buy_quote_volume,ignore`, 12 columns; the
//!   bar starts at `open_time`;
//! - aggTrades: `agg_trade_id,price,quantity,first_trade_id,last_trade_id,
//!   transact_time,is_buyer_maker[,is_best_match]`, 7 (futures) or 8 (spot)
//!   columns.
//!
//! Both come without a header (newer files may carry one, matched by name,
//! any case), with times in Unix ms (futures, spot before 2025) or µs (spot
//! from 2025 on). Their file names carry the symbol:
//! `BTCUSDT-1m-2024-01.zip`, `BTCUSDT-aggTrades-2024-01-01.zip`.

use super::detect::{required, BarColumns, Columns, Field, TradeColumns};
use crate::input::InputError;

/// Columns of a klines file.
pub(super) const KLINES_COLUMNS: usize = 12;
/// The time column of a headerless klines file.
pub(super) const KLINES_TIME: Field = Field {
    index: 0,
    name: "open_time",
};
/// The time column of a headerless aggTrades file.
pub(super) const AGGTRADES_TIME: Field = Field {
    index: 5,
    name: "transact_time",
};

const KLINES_HEADER: &str = "Binance klines: open_time,open,high,low,close,volume,close_time,...";
const AGGTRADES_HEADER: &str =
    "Binance aggTrades: agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,...";

/// The columns of a headerless klines file (its first row at `line`).
pub(super) fn klines_headerless(
    first: &csv::StringRecord,
    line: u64,
    source: &str,
) -> Result<Columns, InputError> {
    if first.len() != KLINES_COLUMNS {
        return Err(column_count(
            first.len(),
            "12 (Binance klines)",
            line,
            source,
        ));
    }
    let field = |index, name| Field { index, name };
    Ok(Columns::Bars(BarColumns {
        time: KLINES_TIME,
        open: field(1, "open"),
        high: field(2, "high"),
        low: field(3, "low"),
        close: field(4, "close"),
        volume: Some(field(5, "volume")),
    }))
}

/// The columns of a headerless aggTrades file (its first row at `line`).
pub(super) fn aggtrades_headerless(
    first: &csv::StringRecord,
    line: u64,
    source: &str,
) -> Result<Columns, InputError> {
    if !(7..=8).contains(&first.len()) {
        return Err(column_count(
            first.len(),
            "7 or 8 (Binance aggTrades)",
            line,
            source,
        ));
    }
    Ok(Columns::Trades(TradeColumns {
        time: AGGTRADES_TIME,
        price: Field {
            index: 1,
            name: "price",
        },
        qty: Field {
            index: 2,
            name: "quantity",
        },
    }))
}

fn column_count(n: usize, expected: &str, line: u64, source: &str) -> InputError {
    InputError::line(
        source,
        line,
        format!("no header and {n} columns; expected {expected}"),
    )
}

/// The columns of a klines file with a header.
pub(super) fn klines_header(
    names: &[&str],
    line: u64,
    source: &str,
) -> Result<Columns, InputError> {
    let find = |name| required(names, name, false, (line, source), KLINES_HEADER);
    Ok(Columns::Bars(BarColumns {
        time: find("open_time")?,
        open: find("open")?,
        high: find("high")?,
        low: find("low")?,
        close: find("close")?,
        volume: Some(find("volume")?),
    }))
}

/// The columns of an aggTrades file with a header.
pub(super) fn aggtrades_header(
    names: &[&str],
    line: u64,
    source: &str,
) -> Result<Columns, InputError> {
    let find = |name| required(names, name, false, (line, source), AGGTRADES_HEADER);
    Ok(Columns::Trades(TradeColumns {
        time: find("transact_time")?,
        price: find("price")?,
        qty: find("quantity")?,
    }))
}

/// The symbol in a market file's stem: `BTCUSDT` for Binance's
/// `BTCUSDT-1m-2024-01` or `BTCUSDT-aggTrades-2024-01-01`, else the stem as
/// it is (`BTC-USDT`).
pub(super) fn symbol_of_stem(stem: &str) -> &str {
    let parts: Vec<&str> = stem.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let binance = matches!(parts.len(), 4 | 5)
        && !parts[0].is_empty()
        && is_binance_kind(parts[1])
        && digits(parts[2], 4)
        && parts[3..].iter().all(|p| digits(p, 2));
    if binance {
        parts[0]
    } else {
        stem
    }
}

/// `aggTrades`, `trades`, or a kline interval (`1s`, `15m`, `4h`, `1d`,
/// `1w`, `1mo`).
fn is_binance_kind(part: &str) -> bool {
    if part == "aggTrades" || part == "trades" {
        return true;
    }
    let unit_at = part.bytes().take_while(u8::is_ascii_digit).count();
    unit_at > 0 && matches!(&part[unit_at..], "s" | "m" | "h" | "d" | "w" | "mo")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_of_file_stems() {
        for (stem, symbol) in [
            ("BTCUSDT-1m-2024-01", "BTCUSDT"),
            ("BTCUSDT-aggTrades-2024-01-01", "BTCUSDT"),
            ("ETHUSDT-1mo-2024-01", "ETHUSDT"),
            ("SOLUSDT-trades-2024-01", "SOLUSDT"),
            ("BTC-USDT", "BTC-USDT"),
            ("btc_usdt", "btc_usdt"),
            ("BTCUSDT-1x-2024-01", "BTCUSDT-1x-2024-01"),
            ("BTCUSDT-1m-24-01", "BTCUSDT-1m-24-01"),
            ("-1m-2024-01", "-1m-2024-01"),
            ("BTCUSDT-m-2024-01", "BTCUSDT-m-2024-01"),
        ] {
            assert_eq!(symbol_of_stem(stem), symbol, "{stem}");
        }
    }
}
