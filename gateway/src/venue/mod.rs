//! The venue layer (issue 12, in progress): what the execution stage
//! needs to place an accepted order on a real exchange.
//!
//! Built so far, as pure functions with their tests: [`rules`] (a symbol's
//! trading rules applied with exact decimals, stable `venue_*` codes) and
//! [`binance`] (endpoints, symbols, request signing checked against the
//! venue's documented examples, `exchangeInfo` filters). The `Venue`
//! trait, its paper implementation and the signed REST clients come next;
//! until then `serve` executes on the paper exchange only.

pub mod binance;
pub mod rules;
