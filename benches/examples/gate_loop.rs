//! Runs `Gate::check` over the `gate_check` bench's alerts (distinct,
//! sample-sized, signed with the timestamped scheme), once each: a driver
//! for instruction-level profilers, whose counts do not suffer from a shared
//! machine's noise.
//!
//! ```sh
//! cargo build --release -p alertgate-benches --example gate_loop
//! valgrind --tool=callgrind target/release/examples/gate_loop 2000 none
//! ```
//!
//! Arguments: the number of alerts (default 1000) and `none` to check them
//! with scheme `none` (default: `timestamped`), `parse` to run only
//! `alert::parse` on them, or `hmac` to run only the `hmac_floor` bench's
//! work on them (the `hmac` crate's HMAC-SHA256 of `"<t>.<body>"`). Valgrind's CPU has no SHA
//! extensions, so under it SHA-256 runs in software: profile the signature
//! check with `perf record` instead, and the rest of the gate with `none`.
//! Per-check counts: the difference between two runs of different lengths
//! (the set-up is counted too).

use alertgate_benches::{distinct_alerts, gate_config, timestamped_signature, SAMPLE_TIME_MS};
use alertgate_validator::auth::Scheme;
use alertgate_validator::replay::Slot;
use alertgate_validator::{Gate, Request};
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        None => 1000,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("gate_loop: N must be a count, got {a:?}");
            std::process::exit(2)
        }),
    };
    let mode = args.next();
    let bodies = distinct_alerts(n);
    if mode.as_deref() == Some("hmac") {
        hmac_floor(&bodies);
        return;
    }
    if mode.as_deref() == Some("parse") {
        let parsed = bodies
            .iter()
            .filter(|b| alertgate_validator::alert::parse(black_box(b.as_bytes())).is_ok())
            .count();
        assert_eq!(parsed, n, "every alert must parse");
        return;
    }
    let scheme = match mode.as_deref() {
        Some("none") => Scheme::None,
        _ => Scheme::Timestamped,
    };
    // No signing work in a profile of the unsigned gate.
    let signatures: Vec<String> = match scheme {
        Scheme::None => vec![String::new(); n],
        _ => bodies
            .iter()
            .map(|b| timestamped_signature(b.as_bytes()))
            .collect(),
    };
    // The replay guard's slots on the heap, as `serve` and `replay` have them.
    let slots = vec![Slot::EMPTY; 4096].into_boxed_slice();
    let mut gate =
        Gate::with_replay_storage(gate_config(scheme), slots).expect("the bench config is valid");
    let mut accepted = 0;
    for (body, signature) in bodies.iter().zip(&signatures) {
        let headers = [("X-Tradeeon-Signature", signature.as_str())];
        let request = Request {
            body: body.as_bytes(),
            headers: &headers,
            source_ip: None,
            mark_price: None,
        };
        let order = gate.check(black_box(&request), SAMPLE_TIME_MS + 500);
        accepted += usize::from(black_box(order).is_ok());
    }
    assert_eq!(accepted, n, "every alert must be accepted");
}

/// What the `hmac_floor` bench times, once per body: the floor the gate's
/// signature check is compared with.
fn hmac_floor(bodies: &[String]) {
    use hmac::{Hmac, Mac};
    let keyed = Hmac::<sha2::Sha256>::new_from_slice(alertgate_benches::SECRET).unwrap();
    let t = (SAMPLE_TIME_MS / 1000).to_string();
    for body in bodies {
        let mut mac = keyed.clone();
        mac.update(black_box(t.as_bytes()));
        mac.update(b".");
        mac.update(black_box(body.as_bytes()));
        black_box(mac.finalize().into_bytes());
    }
}
