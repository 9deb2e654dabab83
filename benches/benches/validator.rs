//! Validator benches. Targets (issue 2), compared within one run:
//! - `gate_check/203B` ≤ 1.5 × `hmac_floor/203B` (the pre-keyed HMAC alone:
//!   no gate can verify a signature faster than computing it);
//! - `parse/203B` ≤ 150 ns; `serde_json_baseline/203B` is the reference
//!   parser on the same bytes.
//!
//! `gate_unsigned/203B` (no target) is `gate_check` with scheme `none`:
//! the gate's cost besides the signature.
// criterion_group! and criterion_main! generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use alertgate_benches::{
    distinct_alerts, gate_config, timestamped_signature, SAMPLE_ALERT, SAMPLE_TIME_MS, SECRET,
};
use alertgate_validator::auth::Scheme;
use alertgate_validator::replay::Slot;
use alertgate_validator::{Gate, Request};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac_floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("hmac_floor");
    g.throughput(Throughput::Bytes(SAMPLE_ALERT.len() as u64));
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    let t = (SAMPLE_TIME_MS / 1000).to_string();
    g.bench_function("203B", |b| {
        b.iter(|| {
            // Exactly what the timestamped scheme signs: "<t>.<body>".
            let mut mac = keyed.clone();
            mac.update(black_box(t.as_bytes()));
            mac.update(b".");
            mac.update(black_box(SAMPLE_ALERT));
            black_box(mac.finalize().into_bytes())
        })
    });
    g.finish();
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(SAMPLE_ALERT.len() as u64));
    g.bench_function("203B", |b| {
        b.iter(|| black_box(alertgate_validator::alert::parse(black_box(SAMPLE_ALERT))))
    });
    g.finish();
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct SerdeAlert {
    symbol: String,
    side: String,
    order_type: String,
    quantity: f64,
    price: Option<f64>,
    confidence: Option<f64>,
    stop_loss: Option<f64>,
    take_profit: Option<f64>,
    timestamp: i64,
    event_id: Option<String>,
}

fn serde_json_baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("serde_json_baseline");
    g.throughput(Throughput::Bytes(SAMPLE_ALERT.len() as u64));
    g.bench_function("203B", |b| {
        b.iter(|| black_box(serde_json::from_slice::<SerdeAlert>(black_box(SAMPLE_ALERT)).unwrap()))
    });
    g.finish();
}

fn gate_check(c: &mut Criterion) {
    gate(c, "gate_check", Scheme::Timestamped);
}

/// The same alerts through a gate with scheme `none`: what the gate costs
/// besides the signature (parse, fields, policy, replay guard, order), so
/// that `gate_check` − `gate_unsigned` is the signature check's share.
fn gate_unsigned(c: &mut Criterion) {
    gate(c, "gate_unsigned", Scheme::None);
}

/// Full accepts of distinct sample-sized alerts, signed with the
/// timestamped scheme (the signature header is sent with `none` too).
fn gate(c: &mut Criterion, name: &str, scheme: Scheme) {
    const CHUNK: usize = 1000;
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(SAMPLE_ALERT.len() as u64));
    // Distinct alerts of the sample's exact size, each signed: every check
    // is a full accept and the replay guard does real work.
    let bodies = distinct_alerts(CHUNK);
    let signatures: Vec<String> = bodies
        .iter()
        .map(|b| timestamped_signature(b.as_bytes()))
        .collect();
    let config = gate_config(scheme);
    g.bench_function("203B", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                // A fresh gate per chunk (built outside the timed region)
                // keeps the guard from filling over millions of iterations.
                // Its slots are on the heap, as `serve` has them.
                let slots = vec![Slot::EMPTY; 2048].into_boxed_slice();
                let mut gate = Gate::with_replay_storage(config, slots).unwrap();
                let n = (iters - done).min(CHUNK as u64) as usize;
                let headers: Vec<[(&str, &str); 1]> = signatures[..n]
                    .iter()
                    .map(|s| [("X-Tradeeon-Signature", s.as_str())])
                    .collect();
                let mut accepted = 0usize;
                let start = Instant::now();
                for (body, h) in bodies[..n].iter().zip(&headers) {
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
                total += start.elapsed();
                assert_eq!(accepted, n, "every bench request must be accepted");
                done += n as u64;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    hmac_floor,
    gate_check,
    gate_unsigned,
    parse,
    serde_json_baseline
);
criterion_main!(benches);
