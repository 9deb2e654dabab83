//! Measures replay throughput on the issue's benchmark shape: one year of
//! 1-minute bars for 10 symbols plus 100,000 alerts, built in memory
//! ([`alertgate_simulator::synthetic`]), one thread. (The criterion bench
//! `replay/*` in `benches/` is the reference; this is a quick check.)
//!
//! ```sh
//! cargo run --release -p alertgate-simulator --features synthetic --example replay_throughput
//! ```

use std::path::Path;
use std::time::Instant;

use alertgate_simulator::engine;
use alertgate_simulator::synthetic::Workload;

fn main() {
    let built = Instant::now();
    let w = Workload::year_of_minutes();
    eprintln!(
        "built {} bars and {} alerts in {:.2?}",
        w.market.bar_count(),
        w.stream.requests.len(),
        built.elapsed()
    );

    for run in 1..=3 {
        let started = Instant::now();
        let result = engine::run(
            &w.stream,
            "bench",
            &w.market,
            &w.gate,
            &w.simulation,
            Path::new("."),
            None,
        )
        .expect("runs");
        let elapsed = started.elapsed();
        let events = result.bars + result.alerts;
        println!(
            "run {run}: {:.3} s, {events} events ({} bars + {} alerts, {} accepted, {} fills), {:.1} M events/s",
            elapsed.as_secs_f64(),
            result.bars,
            result.alerts,
            result.accepted,
            result.exchange.fills.len(),
            events as f64 / elapsed.as_secs_f64() / 1e6
        );
    }
}
