//! # alertgate-gateway
//!
//! alertgate's live path, around the no_std gate ([`alertgate_validator`]):
//!
//! - [`serve`]: the webhook gateway: HTTP → gate → fsynced journal →
//!   response → execution on the paper exchange (the simulator's
//!   [`alertgate_simulator::exchange`] on the wall clock), with a shared
//!   replay store and metrics.
//! - [`send`]: plays a recorded stream (or a `serve` journal) at a gateway,
//!   re-signed.
//!
//! The command line (`alertgate serve`, `alertgate send`) is the root
//! `alertgate` package; nothing in the simulator depends on this crate.
#![forbid(unsafe_code)]

pub mod clock;
pub mod send;
pub mod serve;

/// A usage or configuration problem (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
