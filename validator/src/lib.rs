//! # alertgate-validator
//!
//! The gate between trading alerts and an exchange: it decides whether one
//! webhook request (a TradingView alert, or a signed relay's) may become an
//! order. `#![no_std]`, no heap, no floating point, no `unsafe`: it runs the
//! same on a Cortex-M gateway (`thumbv7em-none-eabihf`) as on a server, and
//! the caller passes the clock.
//!
//! ## A firmware's gate
//!
//! A gateway on a microcontroller takes one signature scheme, so only that
//! scheme is linked (its `Cargo.toml`):
//!
//! ```toml
//! [dependencies]
//! alertgate-validator = { version = "0.1", default-features = false, features = ["scheme-timestamped"] }
//! # The `Mutex` below; on a single-core Cortex-M its implementation comes with
//! # cortex-m = { version = "0.7", features = ["critical-section-single-core"] }.
//! critical-section = "1"
//! ```
//!
//! The gate lives in a `static`, built once at start-up (`Gate::new` is not
//! `const`) and reached through a critical section; its 64 replay slots are
//! inline, so it needs no heap and no `unsafe`. The clock is a timer's tick
//! counter turned into Unix milliseconds. (This example is a doc test: it
//! runs on the host, with `critical-section`'s `std` implementation.)
//!
//! ```
//! # #[cfg(feature = "scheme-timestamped")] mod firmware {
//! use core::cell::RefCell;
//!
//! use alertgate_validator::auth::{AuthConfig, Scheme};
//! use alertgate_validator::replay::Slot;
//! use alertgate_validator::{Config, ConfigError, Gate, Request};
//! use critical_section::Mutex;
//!
//! /// The webhook secret (provisioned with the device, in practice).
//! static SECRETS: [&[u8]; 1] = [b"tradeeon-key"];
//!
//! /// The gate, with 64 replay slots inline (about 2 KiB of RAM).
//! static GATE: Mutex<RefCell<Option<Gate<'static, [Slot; 64]>>>> =
//!     Mutex::new(RefCell::new(None));
//!
//! /// The clock: Unix ms from a free-running counter of `ticks` at `hz`
//! /// since boot (a timer peripheral, or SysTick counted in its interrupt),
//! /// and the Unix time of boot, learnt once (SNTP, an RTC).
//! pub fn unix_ms(boot_unix_ms: i64, ticks: u64, hz: u64) -> i64 {
//!     let hz = hz.max(1);
//!     // Whole seconds, then the rest: exact, and no u64 overflow.
//!     let since_boot_ms = ticks / hz * 1000 + ticks % hz * 1000 / hz;
//!     boot_unix_ms.saturating_add(i64::try_from(since_boot_ms).unwrap_or(i64::MAX))
//! }
//!
//! /// At start-up: the gate of the `timestamped` scheme, default policy.
//! pub fn init() -> Result<(), ConfigError> {
//!     let config = Config {
//!         auth: AuthConfig { scheme: Scheme::Timestamped, secrets: &SECRETS, ..AuthConfig::default() },
//!         ..Config::default()
//!     };
//!     let gate = Gate::new(config)?;
//!     critical_section::with(|cs| GATE.borrow_ref_mut(cs).replace(gate));
//!     Ok(())
//! }
//!
//! /// Per webhook, from the network stack: the HTTP status to answer. The
//! /// check runs inside the critical section (about 18,000 instructions
//! /// for a 203-byte alert on a Cortex-M4, see benches/firmware); a
//! /// firmware that cannot mask interrupts that long keeps the gate in its
//! /// network task instead.
//! pub fn on_webhook(body: &[u8], headers: &[(&str, &str)], now_ms: i64) -> u16 {
//!     critical_section::with(|cs| {
//!         let mut gate = GATE.borrow_ref_mut(cs);
//!         let Some(gate) = gate.as_mut() else { return 503 };
//!         let request = Request { body, headers, source_ip: None, mark_price: None };
//!         match gate.check(&request, now_ms) {
//!             Ok(_order) => 200, // queue the order for the exchange
//!             Err(rejection) => rejection.status(),
//!         }
//!     })
//! }
//! # }
//! # #[cfg(feature = "scheme-timestamped")] {
//! # use alertgate_validator::auth::{sign, Scheme};
//! # firmware::init().unwrap();
//! // 2023-11-14T22:13:20Z: booted then, 5 s ago by a 32.768 kHz timer.
//! let now = firmware::unix_ms(1_699_999_995_000, 5 * 32_768, 32_768);
//! assert_eq!(now, 1_700_000_000_000);
//! let body = br#"{"ticker":"BINANCE:BTCUSDT.P","action":"buy","qty":"0.1","time":"2023-11-14T22:13:20Z"}"#;
//! let signed = sign(Scheme::Timestamped, b"tradeeon-key", body, now / 1000, "").unwrap();
//! let headers = [(signed[0].0, signed[0].1.as_str())];
//! assert_eq!(firmware::on_webhook(body, &headers, now), 200);
//! assert_eq!(firmware::on_webhook(body, &headers, now + 1), 409); // replayed
//! # }
//! ```
//!
//! On a host the same gate is a local variable, or takes its replay slots
//! from the heap ([`Gate::with_replay_storage`]):
//!
//! ```
//! use alertgate_validator::{replay::Slot, Config, Gate, Request};
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

/// The crate README's Rust example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;

/// The README's Rust examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The Rust examples of `docs/validator.md` are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/validator.md")]
struct DocsValidatorDoctests;
