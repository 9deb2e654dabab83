//! Replay bench. Target (issue 3): `replay/1y_1m_10sym_100k_alerts` ≤ 0.5 s
//! single-threaded: one year of 1-minute bars for 10 symbols (5,256,000
//! bars) plus 100,000 alerts, through the gate, the latency models and the
//! exchange. Throughput is in events (bars + alerts) per second.
//!
//! The workload ([`alertgate_simulator::synthetic`]) is built once, outside
//! the timed region; each iteration is one whole `engine::run`.
// criterion_group! and criterion_main! generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use alertgate_simulator::engine;
use alertgate_simulator::synthetic::Workload;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

fn replay(c: &mut Criterion) {
    let w = Workload::year_of_minutes();
    let mut g = c.benchmark_group("replay");
    // Each run takes a good fraction of a second: a few flat samples.
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements(w.events()));
    g.bench_function("1y_1m_10sym_100k_alerts", |b| {
        b.iter(|| {
            let result = engine::run(
                black_box(&w.stream),
                "bench",
                black_box(&w.market),
                &w.gate,
                &w.simulation,
                Path::new("."),
                None,
            )
            .expect("the synthetic workload replays");
            black_box(result.exchange.fills.len())
        })
    });
    g.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
