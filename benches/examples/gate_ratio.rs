//! `gate_check/203B` ÷ `hmac_floor/203B` measured so that a shared
//! machine's load cancels out: the two workloads of the criterion benches
//! (1,000 distinct sample-sized alerts, each through the floor's HMAC, then
//! each through a fresh gate) alternate, a few milliseconds apart, and the
//! ratio is taken per round, then its median over the rounds. Criterion
//! measures the two benches seconds apart, so a change of load between them
//! moves the ratio (0.9× to 2.6× in one session of issue 15).
//!
//! ```sh
//! cargo run --release -p alertgate-benches --example gate_ratio --features sha2/force-soft -- 500
//! ```
//!
//! Argument: the number of rounds (default 500).

use std::hint::black_box;
use std::time::{Duration, Instant};

use alertgate_benches::{
    distinct_alerts, gate_config, timestamped_signature, SAMPLE_TIME_MS, SECRET,
};
use alertgate_validator::auth::Scheme;
use alertgate_validator::replay::Slot;
use alertgate_validator::{Gate, Request};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Alerts per round (the criterion bench's chunk).
const CHUNK: usize = 1000;

fn main() {
    let rounds: usize = match std::env::args().nth(1) {
        None => 500,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("gate_ratio: ROUNDS must be a count, got {a:?}");
            std::process::exit(2)
        }),
    };
    let bodies = distinct_alerts(CHUNK);
    let signatures: Vec<String> = bodies
        .iter()
        .map(|b| timestamped_signature(b.as_bytes()))
        .collect();
    let headers: Vec<[(&str, &str); 1]> = signatures
        .iter()
        .map(|s| [("X-Tradeeon-Signature", s.as_str())])
        .collect();
    let (mut floors, mut gates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let floor = floor_round(&bodies);
        let gate = gate_round(&bodies, &headers);
        ratios.push(gate.as_secs_f64() / floor.as_secs_f64());
        floors.push(floor.as_secs_f64() * 1e9 / CHUNK as f64);
        gates.push(gate.as_secs_f64() * 1e9 / CHUNK as f64);
    }
    println!(
        "{rounds} rounds of {CHUNK}: hmac_floor median {:.0} ns, gate_check median {:.0} ns, \
         per-round ratio median {:.3} (quartiles {:.3}..{:.3})",
        quantile(&mut floors, 0.5),
        quantile(&mut gates, 0.5),
        quantile(&mut ratios, 0.5),
        quantile(&mut ratios, 0.25),
        quantile(&mut ratios, 0.75),
    );
}

/// The `hmac_floor` bench's work on every body: the `hmac` crate's
/// HMAC-SHA256 of `"<t>.<body>"`, pre-keyed.
fn floor_round(bodies: &[String]) -> Duration {
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    let t = (SAMPLE_TIME_MS / 1000).to_string();
    let start = Instant::now();
    for body in bodies {
        let mut mac = keyed.clone();
        mac.update(black_box(t.as_bytes()));
        mac.update(b".");
        mac.update(black_box(body.as_bytes()));
        black_box(mac.finalize().into_bytes());
    }
    start.elapsed()
}

/// The `gate_check` bench's work on every body: a full accept by a fresh
/// gate (built outside the timed part, its slots on the heap).
fn gate_round(bodies: &[String], headers: &[[(&str, &str); 1]]) -> Duration {
    let slots = vec![Slot::EMPTY; 2048].into_boxed_slice();
    let mut gate = Gate::with_replay_storage(gate_config(Scheme::Timestamped), slots).unwrap();
    let mut accepted = 0usize;
    let start = Instant::now();
    for (body, h) in bodies.iter().zip(headers) {
        let request = Request {
            body: body.as_bytes(),
            headers: h,
            source_ip: None,
            mark_price: None,
        };
        let order = gate.check(black_box(&request), SAMPLE_TIME_MS + 500);
        accepted += usize::from(order.is_ok());
        black_box(order).ok();
    }
    let elapsed = start.elapsed();
    assert_eq!(accepted, bodies.len(), "every alert must be accepted");
    elapsed
}

/// The `q` quantile of `values` (sorted in place), nearest rank.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 - 1.0) * q).round() as usize;
    values[rank.min(values.len() - 1)]
}
