#![no_std]
#![forbid(unsafe_code)]
pub mod decimal;
pub mod error;
pub use decimal::Decimal;
pub use error::{ConfigError, Rejection};
