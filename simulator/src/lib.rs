//! # alertgate-simulator
//!
//! The `alertgate` command line around the no_std gate
//! ([`alertgate_validator`]): `check` decides one request; the configuration
//! file is read by [`config`].
//!
//! Data flows one way: read → check → route → fill → report; each stage is
//! its own module.

pub mod check;
pub mod config;
