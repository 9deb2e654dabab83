//! # alertgate-simulator
//!
//! What would my alerts have done? A library with no network and no async
//! runtime: it runs a recorded alert stream through the no_std gate
//! ([`alertgate_validator`]) on a virtual clock, against an exchange that
//! fills orders on historical bars, and reports the result. The live path
//! (`serve`, `send`) is `alertgate-gateway`; the command line is the root
//! `alertgate` package. The configuration file is read by [`config`].
//!
//! Data flows one way: read → check → route → fill → report; each stage is
//! its own module:
//!
//! - [`stream`], [`market`]: the recorded alert stream (JSON Lines) and the
//!   market data (CSV bars or trades); [`input`] holds what they share;
//!   [`redact`]: secrets kept out of recorded streams (a `serve` journal)
//!   and put back for a replay.
//! - [`latency`]: seeded latency models, one per stage (delivery, order,
//!   response).
//! - [`exchange`]: working orders, fill rules, brackets, positions and FIFO
//!   PnL.
//! - [`engine`]: the discrete-event loop on a virtual clock.
//! - [`report`]: statistics, the terminal table, JSON and CSV; [`html`]: the
//!   self-contained HTML page; [`chart`]: each symbol's bars reduced to a
//!   bounded number of candles as they pass, and the page's price charts.
//! - [`import`]: files of other tools (TradingView's list of trades) turned
//!   into an alert stream.
//! - [`replay`]: the `replay` command (inputs, sweeps, outputs), given a
//!   [`replay::ReplayOptions`]; [`error`]: [`ReplayError`], why it failed.
//!
//! Besides, behind features for the tools that need them: `synthetic`
//! builds the benchmark's in-memory workload, and `fuzzing` holds the entry
//! points of the fuzz targets in `fuzz/`.
#![forbid(unsafe_code)]

pub mod chart;
pub mod config;
pub mod engine;
pub mod error;
pub mod exchange;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod html;
pub mod import;
pub mod input;
pub mod latency;
pub mod market;
pub mod redact;
pub mod replay;
pub mod report;
pub mod stream;
#[cfg(any(test, feature = "synthetic"))]
pub mod synthetic;

pub use error::ReplayError;
