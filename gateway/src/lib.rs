//! # alertgate-gateway
//!
//! alertgate's live path, around the no_std gate ([`alertgate_validator`]):
//!
//! - [`serve`]: the webhook gateway: HTTP → gate → fsynced journal →
//!   response → execution on the paper exchange (the simulator's
//!   [`alertgate_simulator::exchange`] on the wall clock) or on a real
//!   venue, with a shared replay store and metrics.
//! - [`send`]: plays a recorded stream (or a `serve` journal) at a gateway,
//!   re-signed.
//! - [`venue`]: the venue layer for real exchanges: the `Venue` trait,
//!   Binance Spot and USDⓈ-M, trading rules, sizing, and exactly-once
//!   placement against a venue that can lose answers.
//!
//! Both take plain option structs ([`serve::ServeConfig`],
//! [`send::SendOptions`]) and fail with one [`Error`]. The command line
//! (`alertgate serve`, `alertgate send`: arguments, reading the
//! configuration file) is the root `alertgate` package; nothing in the
//! simulator depends on this crate.
#![forbid(unsafe_code)]

pub mod clock;
pub mod emulator;
pub mod error;
pub mod send;
pub mod serve;
mod shutdown;
pub mod venue;

pub use error::Error;
