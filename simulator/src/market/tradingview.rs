//! TradingView's chart export ("Export chart data…"):
//! `time,open,high,low,close` (names in any case), an optional `Volume`,
//! then one column per indicator plot, whose names are arbitrary and may
//! repeat: those are ignored. `time` is Unix seconds or ISO 8601 with a UTC
//! offset.

use super::detect::{position, required, BarColumns, Columns};
use crate::input::InputError;

/// What a TradingView header must have.
const EXPECTED: &str = "TradingView's time,open,high,low,close[,Volume][,plots...]";

/// The columns of a TradingView header found at `line`: `time`, `open`,
/// `high`, `low` and `close` once each, `volume` at most once (absent: 0).
pub(super) fn layout(names: &[&str], line: u64, source: &str) -> Result<Columns, InputError> {
    let find = |name| required(names, name, false, (line, source), EXPECTED);
    Ok(Columns::Bars(BarColumns {
        time: find("time")?,
        open: find("open")?,
        high: find("high")?,
        low: find("low")?,
        close: find("close")?,
        volume: position(names, "volume", false, line, source)?,
    }))
}
