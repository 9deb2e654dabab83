//! # alertgate-validator
//!
//! The gate between trading alerts and an exchange: it decides whether one
//! webhook request (a TradingView alert, or a signed relay's) may become an
//! order. `#![no_std]`, no heap, no floating point, no `unsafe`: it runs the
//! same on a Cortex-M gateway (`thumbv7em-none-eabihf`) as on a server, and
//! the caller passes the clock.
//!
//! ```
//! use alertgate_validator::{replay::Slot, Config, Gate, Request};
//! // A replay guard of 64 slots, inline (a host passes a boxed slice to
//! // `Gate::with_replay_storage`).
//! let mut gate: Gate<'_, [Slot; 64]> = Gate::new(Config::default()).unwrap();
//! let body = br#"{"ticker":"BINANCE:BTCUSDT.P","action":"buy","qty":"0.1","time":"2023-11-14T22:13:20Z"}"#;
//! let request = Request { body, headers: &[], source_ip: None, mark_price: None };
//! let order = gate.check(&request, 1_700_000_000_000).unwrap();
//! assert_eq!(order.symbol.as_str(), "BTC/USDT");
//! ```
//!
//! ## Layers
//!
//! - [`json`]: a strict, single-pass, zero-copy RFC 8259 scanner with a fixed
//!   nesting bound (no recursion proportional to input).
//! - [`decimal`]: exact decimals for prices and quantities; products in `i128`.
//! - [`symbol`], [`time`]: normalization of symbols (`BASE/QUOTE`) and
//!   timestamps (Unix ms).
//! - [`alert`]: which fields are read, their aliases, and their conversion.
//! - [`auth`]: the signature schemes (HMAC-SHA256, pre-keyed per secret,
//!   constant-time comparison).
//! - [`net`], [`rate`], [`replay`]: source allowlist, token bucket, and the
//!   fixed-capacity replay guard over storage the caller provides.
//! - [`policy`]: risk limits as a pure function of fields and clock.
//! - [`gate`]: the composition, in a fixed documented order.
//! - [`encode`]: orders and decisions as JSON into a caller's buffer.
//! - [`error`]: the one [`Rejection`] enum with stable codes.
//!
//! ## Cargo features
//!
//! Each signature scheme but `none` is a feature, all on by default:
//! `scheme-passphrase`, `scheme-hex-body`, `scheme-github`,
//! `scheme-timestamped`, `scheme-stripe`, `scheme-standard-webhooks`. A
//! firmware that needs one scheme builds with `default-features = false`
//! and that scheme's feature; the others are then not linked, and
//! configuring one is [`ConfigError::InvalidValue`] (see
//! [`Scheme::is_compiled_in`]). `compact-sha256` trades hashing speed for
//! flash on MCUs. Cargo.toml lists what each costs.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

pub mod alert;
pub mod auth;
pub mod decimal;
pub mod encode;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod gate;
mod hash;
pub mod json;
pub mod net;
pub mod policy;
pub mod rate;
pub mod replay;
pub mod symbol;
pub mod time;

pub use alert::{Action, CancelTarget, OrderType, Side};
pub use auth::{AuthConfig, Scheme};
pub use decimal::Decimal;
pub use error::{ConfigError, Rejection};
pub use gate::{Config, Gate, Network, Order, Replay, Request};
pub use policy::Policy;
pub use rate::RateConfig;

/// The README's Rust examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The Rust examples of `docs/validator.md` are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/validator.md")]
struct DocsValidatorDoctests;
