//! Validator benches. Targets (issue 2), compared within one run:
//! - `gate_check/203B` ≤ 1.5 × `hmac_floor/203B` (the pre-keyed HMAC alone:
//!   no gate can verify a signature faster than computing it);
//! - `parse/203B` ≤ 150 ns; `serde_json_baseline/203B` is the reference
//!   parser on the same bytes.
//!
//! `gate_unsigned/203B` (no target) is `gate_check` with scheme `none`:
//! the gate's cost besides the signature.
//!
//! `replay_guard/*` (issue 11, no target): one `try_insert` into a 65,536
//! slot guard in steady state at a quarter full (`accept_25pct`: each
//! insertion also expires one entry), and into the same guard once every
//! slot is live (`refuse_full`: `replay_cache_full`), the refusal path a
//! gateway took past its guard's capacity.
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

fn replay_guard(c: &mut Criterion) {
    use alertgate_validator::replay::{ReplayGuard, DEFAULT_HASH_KEY};
    const N: usize = 1 << 16;
    let guard =
        || ReplayGuard::with_storage(vec![Slot::EMPTY; N].into_boxed_slice(), DEFAULT_HASH_KEY);
    let mut g = c.benchmark_group("replay_guard");
    g.throughput(Throughput::Elements(1));
    // One id a millisecond, remembered for N/4 ms: N/4 live at once.
    let window = (N / 4) as i64;
    let mut accepting = guard();
    let mut now = 0i64;
    for _ in 0..2 * N {
        now += 1;
        accepting
            .try_insert(&now.to_le_bytes(), now, window)
            .unwrap();
    }
    g.bench_function("accept_25pct/65536", |b| {
        b.iter(|| {
            now += 1;
            black_box(accepting.try_insert(black_box(&now.to_le_bytes()), now, window))
        })
    });
    // Every slot live (remembered for an hour), then fresh ids.
    let mut full = guard();
    let hour = 3_600_000;
    let mut id = 0u64;
    while full.try_insert(&id.to_le_bytes(), 1, hour).is_ok() {
        id += 1;
    }
    g.bench_function("refuse_full/65536", |b| {
        b.iter(|| {
            id += 1;
            black_box(full.try_insert(black_box(&id.to_le_bytes()), 2, hour))
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    replay_guard,
    hmac_floor,
    gate_check,
    gate_unsigned,
    parse,
    serde_json_baseline
);
criterion_main!(benches);
