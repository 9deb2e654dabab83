//! Footprint firmware: a gate that checks one timestamped-signed alert per
//! loop and encodes the decision. `black_box` keeps the inputs opaque so the
//! whole check path (HMAC, scanner, policy, guard, encoder) is linked.
#![no_std]
#![no_main]

use core::hint::black_box;

use alertgate_validator::auth::{AuthConfig, Scheme};
use alertgate_validator::{Config, Gate, Request};
use cortex_m_rt::entry;
use panic_halt as _;

/// The issue's RAM target for the gate itself.
const _: () = assert!(core::mem::size_of::<Gate<'static, 64>>() <= 4096);

const BODY: &[u8] = br#"{"symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":0.1,"price":67500.0,"confidence":0.85,"stop_loss":66000.0,"take_profit":69000.0,"timestamp":1699113600000,"event_id":"sma-x:1699113600"}"#;

#[entry]
fn main() -> ! {
    let secrets: [&[u8]; 1] = [b"firmware-secret"];
    let config = Config {
        auth: AuthConfig {
            scheme: Scheme::Timestamped,
            secrets: &secrets,
            ..AuthConfig::default()
        },
        ..Config::default()
    };
    let Ok(mut gate) = Gate::<'_, 64>::new(black_box(config)) else {
        loop {}
    };
    let mut now_ms: i64 = 1_699_113_600_000;
    loop {
        let headers = [
            ("X-Tradeeon-Signature", black_box("t=1699113600,s=00")),
            ("X-Tradeeon-EventId", black_box("sma-x:1699113600")),
        ];
        let request = Request {
            body: black_box(BODY),
            headers: &headers,
            source_ip: None,
            mark_price: None,
        };
        now_ms = black_box(now_ms + 1);
        // A gateway answers with the status and the stable code; the
        // human-readable message (core::fmt) is left to the host side.
        let answer = match gate.check(&request, now_ms) {
            Ok(order) => (200, order.event_id.len()),
            Err(rejection) => (rejection.status(), rejection.code().len()),
        };
        black_box(answer);
    }
}
