//! Ours: `time,open,high,low,close,volume` (bars) or `time,price,qty`
//! (trades), in any column order, names exact; a missing, unknown or
//! repeated column is an error.

use super::detect::{required, BarColumns, Columns, TradeColumns};
use crate::input::InputError;

/// The bars header.
pub(super) const BAR_COLUMNS: [&str; 6] = ["time", "open", "high", "low", "close", "volume"];
/// The trades header.
pub(super) const TRADE_COLUMNS: [&str; 3] = ["time", "price", "qty"];

/// Whether a header that reads in no format is best told ours' error:
/// every name is one of ours, or it has a trades column (`price`, `qty`),
/// which TradingView's never has.
pub(super) fn claims(names: &[&str]) -> bool {
    let ours = |n: &&str| BAR_COLUMNS.contains(n) || TRADE_COLUMNS.contains(n);
    names.iter().all(ours) || names.iter().any(|n| *n == "price" || *n == "qty")
}

/// The columns of a header in our format, found at `line`.
pub(super) fn layout(names: &[&str], line: u64, source: &str) -> Result<Columns, InputError> {
    let trades = names.contains(&"price") || names.contains(&"qty");
    let expected: &[&str] = if trades { &TRADE_COLUMNS } else { &BAR_COLUMNS };
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(InputError::at(source, line, name, "column appears twice"));
        }
    }
    if let Some(unknown) = names.iter().find(|n| !expected.contains(n)) {
        return Err(InputError::at(
            source,
            line,
            unknown,
            format!(
                "unknown column; expected the header {} or {}",
                BAR_COLUMNS.join(","),
                TRADE_COLUMNS.join(",")
            ),
        ));
    }
    let want = expected.join(",");
    let find = |name| required(names, name, true, (line, source), &want);
    Ok(if trades {
        Columns::Trades(TradeColumns {
            time: find("time")?,
            price: find("price")?,
            qty: find("qty")?,
        })
    } else {
        Columns::Bars(BarColumns {
            time: find("time")?,
            open: find("open")?,
            high: find("high")?,
            low: find("low")?,
            close: find("close")?,
            volume: Some(find("volume")?),
        })
    })
}
