//! Files from other tools turned into an alert stream, so `replay` can run
//! them through the gate.
//!
//! - [`tradingview_trades`]: TradingView's Strategy Tester "List of trades"
//!   export (CSV) read into the entries and exits that happened, in time
//!   order ([`TradeList`]), with TradingView's own net P&L;
//!   [`chart_time`]: its times, on the chart's clock, as instants;
//! - [`alerts`]: those events as recorded webhook requests (JSON Lines),
//!   one per entry and exit;
//! - [`ImportError`]: why a file could not be read, with a stable code.
//!
//! Pure functions of their input: no clock, no environment (a signing
//! secret is passed in).

pub mod alerts;
pub mod chart_time;
mod columns;
mod error;
pub mod tradingview_trades;

#[cfg(test)]
mod tests;

pub use alerts::{alert_lines, alert_symbol, AlertAuth, AlertOptions};
pub use chart_time::ChartZone;
pub use error::ImportError;
pub use tradingview_trades::{Action, Direction, TradeEvent, TradeList};
