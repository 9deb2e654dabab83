//! # alertgate-simulator
//!
//! The `alertgate` command line around the no_std gate
//! ([`alertgate_validator`]): `check` decides one request; `replay` runs a
//! recorded alert stream through the gate against a mock exchange; `serve`
//! runs the gate as a webhook gateway; `send` plays a stream at one. The
//! configuration file is read by [`config`].
//!
//! Data flows one way: read → check → route → fill → report; each stage is
//! its own module:
//!
//! - [`stream`], [`market`]: the recorded alert stream (JSON Lines) and the
//!   market data (CSV bars or trades); [`input`] holds what they share.
//! - [`latency`]: seeded latency models, one per stage (delivery, order,
//!   response).
//! - [`exchange`]: working orders, fill rules, brackets, positions and FIFO
//!   PnL.
//! - [`engine`]: the discrete-event loop on a virtual clock.
//! - [`report`]: statistics, the terminal table, JSON and CSV; [`html`]: the
//!   self-contained HTML page.
//! - [`replay`]: the `replay` command (inputs, sweeps, outputs).
//! - [`gateway`]: the `serve` command, the live path: HTTP → gate →
//!   fsynced journal → paper execution, with metrics.
//! - [`sender`]: the `send` command, which plays a stream (or a journal) at
//!   a gateway, re-signed.
//!
//! Besides: [`synthetic`] builds the benchmark's in-memory workload, and
//! [`fuzzing`] holds the entry points of the fuzz targets in `fuzz/`.

pub mod check;
pub mod config;
pub mod engine;
pub mod exchange;
pub mod fuzzing;
pub mod gateway;
pub mod html;
pub mod input;
pub mod latency;
pub mod market;
pub mod replay;
pub mod report;
pub mod sender;
pub mod stream;
pub mod synthetic;
