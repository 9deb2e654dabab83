//! JSON output without allocation: an accepted [`Order`] or a whole decision,
//! written into a caller's buffer with `serde-json-core`.
//!
//! The decision format is the one `alertgate check` prints and the gateway
//! answers with:
//!
//! ```text
//! {"accepted":true,"order":{...}}
//! {"accepted":false,"code":"stale","status":422,"message":"..."}
//! ```
//!
//! Decimals are written as JSON strings (`"0.1"`) so no reader rounds them.

use core::fmt::Write as _;

use serde::Serialize;

use crate::error::Rejection;
use crate::gate::Order;

/// The buffer was too small for the JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall;

impl core::fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("output buffer too small for the JSON text")
    }
}

impl core::error::Error for BufferTooSmall {}

/// Longest rejection message, in bytes; longer ones are cut.
pub const MESSAGE_CAP: usize = 320;

#[derive(Serialize)]
struct Accepted<'o> {
    accepted: bool,
    order: &'o Order,
}

#[derive(Serialize)]
struct Rejected<'m> {
    accepted: bool,
    code: &'static str,
    status: u16,
    message: &'m str,
}

/// A bounded sink for `Display` output that keeps what fits.
struct Truncating(heapless::String<MESSAGE_CAP>);

impl core::fmt::Write for Truncating {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// The rejection's `Display` text, cut to [`MESSAGE_CAP`] bytes.
pub fn message(rejection: &Rejection) -> heapless::String<MESSAGE_CAP> {
    let mut sink = Truncating(heapless::String::new());
    let _ = write!(sink, "{rejection}");
    sink.0
}

/// Writes the order as a JSON object; returns the number of bytes written.
///
/// ```
/// use alertgate_validator::{encode, replay::Slot, Config, Gate, Request};
/// let mut gate: Gate<'_, [Slot; 4]> = Gate::new(Config::default()).unwrap();
/// let body = br#"{"symbol":"ETHUSDT","side":"sell","qty":"2","time":1700000000}"#;
/// let req = Request { body, headers: &[], source_ip: None, mark_price: None };
/// let order = gate.check(&req, 1_700_000_000_000).unwrap();
/// let mut buf = [0u8; 512];
/// let n = encode::write_order(&order, &mut buf).unwrap();
/// let text = core::str::from_utf8(&buf[..n]).unwrap();
/// assert!(text.starts_with(r#"{"event_id":"sha256:"#));
/// assert!(text.contains(r#""symbol":"ETH/USDT","side":"sell","order_type":"market","quantity":"2""#));
/// ```
pub fn write_order(order: &Order, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
    serde_json_core::to_slice(order, buf).map_err(|_| BufferTooSmall)
}

/// Writes a decision: `{"accepted":true,"order":{..}}` or
/// `{"accepted":false,"code":..,"status":..,"message":..}`.
///
/// ```
/// use alertgate_validator::{encode, Rejection};
/// let mut buf = [0u8; 256];
/// let n = encode::write_decision(&Err(Rejection::NotAnObject), &mut buf).unwrap();
/// assert_eq!(
///     core::str::from_utf8(&buf[..n]).unwrap(),
///     r#"{"accepted":false,"code":"not_an_object","status":400,"message":"body must be a JSON object"}"#
/// );
/// ```
pub fn write_decision(
    decision: &Result<Order, Rejection>,
    buf: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let written = match decision {
        Ok(order) => serde_json_core::to_slice(
            &Accepted {
                accepted: true,
                order,
            },
            buf,
        ),
        Err(rejection) => {
            let text = message(rejection);
            serde_json_core::to_slice(
                &Rejected {
                    accepted: false,
                    code: rejection.code(),
                    status: rejection.status(),
                    message: &text,
                },
                buf,
            )
        }
    };
    written.map_err(|_| BufferTooSmall)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::snippet;

    #[test]
    fn small_buffers_fail_cleanly() {
        let mut buf = [0u8; 10];
        assert_eq!(
            write_decision(&Err(Rejection::NotAnObject), &mut buf),
            Err(BufferTooSmall)
        );
    }

    #[test]
    fn messages_are_escaped_json() {
        let mut buf = [0u8; 512];
        let r = Rejection::InvalidField {
            field: "side",
            value: snippet(b"\"ho\"ld\""),
            expected: "buy or sell",
        };
        let n = write_decision(&Err(r), &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(v["code"], "invalid_field");
        assert_eq!(v["status"], 422);
        assert_eq!(
            v["message"],
            "field \"side\" has value \"ho\"ld\"; expected buy or sell"
        );
    }
}
