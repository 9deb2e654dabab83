//! Footprint firmware: a gate that checks one timestamped-signed alert per
//! loop and encodes the decision. `black_box` keeps the inputs opaque so the
//! whole check path (HMAC, scanner, policy, guard, encoder) is linked.
//!
//! The body is received into a RAM buffer, as on a real gateway (a network
//! driver writes it there): `black_box` on the buffer stands for that
//! driver, so the compiler must assume any bytes of any length up to the
//! buffer's. No sample body is kept in flash: the footprint (`size.sh`,
//! .text + .rodata) is the validator's code and constants only, not test
//! data. (A typical alert, such as
//! `{"symbol":"BTC/USDT","side":"buy","quantity":0.1,"price":67500.0,
//! "timestamp":1699113600000,"event_id":"sma-x:1699113600"}`, is about
//! 200 bytes.)
#![no_std]
#![no_main]

use core::hint::black_box;

use alertgate_validator::auth::{AuthConfig, Scheme};
use alertgate_validator::replay::Slot;
use alertgate_validator::{Config, Gate, Request};
use cortex_m_rt::entry;
use panic_halt as _;

/// The RAM target for the gate itself.
const _: () = assert!(core::mem::size_of::<Gate<'static, [Slot; 64]>>() <= 4096);

/// Size of the receive buffer the body is read into, in bytes.
const RX_CAP: usize = 512;

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
    // The replay guard's 64 slots live inline, in this frame.
    let Ok(mut gate) = Gate::<'_, [Slot; 64]>::new(black_box(config)) else {
        loop {}
    };
    let mut now_ms: i64 = 1_699_113_600_000;
    let mut rx = [0u8; RX_CAP];
    loop {
        // The network driver fills `rx` and hands over the received part
        // (opaque to the compiler: any bytes, any length up to `RX_CAP`).
        let body: &[u8] = black_box(&black_box(&mut rx)[..]);
        let headers = [
            ("X-Tradeeon-Signature", black_box("t=1699113600,s=00")),
            ("X-Tradeeon-EventId", black_box("sma-x:1699113600")),
        ];
        let request = Request {
            body,
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
