//! Measures replay throughput on the issue's benchmark shape: one year of
//! 1-minute bars for 10 symbols plus 100,000 alerts, built in memory, one
//! thread. (The criterion bench `replay/*` in `benches/` is the reference;
//! this is a quick check.)
//!
//! ```sh
//! cargo run --release -p alertgate-simulator --example replay_throughput
//! ```

use std::path::Path;
use std::time::Instant;

use alertgate_simulator::config::Settings;
use alertgate_simulator::engine;
use alertgate_simulator::market::{Bar, MarketData, MarketKind, MarketSeries};
use alertgate_simulator::stream::{AlertStream, RecordedRequest};

const SYMBOLS: [&str; 10] = [
    "ADA", "BNB", "BTC", "DOGE", "DOT", "ETH", "LTC", "SOL", "TRX", "XRP",
];
const START_MS: i64 = 1_704_067_200_000; // 2024-01-01
const MINUTE_MS: i64 = 60_000;
const BARS: i64 = 365 * 24 * 60;
const ALERTS: i64 = 100_000;

/// A small deterministic generator (SplitMix64): the data only has to look
/// like a market, and be the same every run.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn market(mix: &mut Mix) -> MarketData {
    let series = SYMBOLS
        .iter()
        .map(|base| {
            let mut close = 100.0;
            let bars = (0..BARS)
                .map(|i| {
                    let open = close;
                    close = (open * (1.0 + 0.002 * mix.unit())).max(1.0);
                    let high = open.max(close) * (1.0 + 0.001 * mix.unit().abs());
                    let low = open.min(close) * (1.0 - 0.001 * mix.unit().abs());
                    Bar {
                        time_ms: START_MS + i * MINUTE_MS,
                        open,
                        high,
                        low,
                        close,
                        volume: 1.0,
                    }
                })
                .collect();
            MarketSeries {
                symbol: format!("{base}/USDT"),
                source: format!("{base}-USDT.csv"),
                kind: MarketKind::Bars,
                bars,
            }
        })
        .collect();
    MarketData { series }
}

fn stream(mix: &mut Mix) -> AlertStream {
    let span = BARS * MINUTE_MS;
    let mut requests: Vec<RecordedRequest> = (0..ALERTS)
        .map(|i| {
            let t = START_MS + (span / ALERTS) * i + (mix.next() % 30_000) as i64;
            let symbol = SYMBOLS[(mix.next() % 10) as usize];
            let side = if mix.next() % 2 == 0 { "buy" } else { "sell" };
            let body = if i % 4 == 0 {
                // A resting limit with a bracket, priced off nothing in
                // particular: some fill, some stay working.
                format!(
                    r#"{{"symbol":"{symbol}USDT","side":"{side}","type":"limit","quantity":"0.5","price":"100","timestamp":{t},"event_id":"e{i}"}}"#
                )
            } else {
                format!(
                    r#"{{"symbol":"{symbol}USDT","side":"{side}","quantity":"1","confidence":"0.8","timestamp":{t},"event_id":"e{i}"}}"#
                )
            };
            RecordedRequest {
                line: i as u64 + 1,
                received_at_ms: t + 150,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body,
                source_ip: None,
            }
        })
        .collect();
    requests.sort_by_key(|r| r.received_at_ms);
    AlertStream { requests }
}

fn main() {
    let mut mix = Mix(7);
    let built = Instant::now();
    let market = market(&mut mix);
    let stream = stream(&mut mix);
    let settings = Settings::from_toml(
        "[simulation.latency]\ndelivery_ms = { model = \"lognormal\", median_ms = 150, sigma = 0.5 }\norder_ms = 30\nresponse_ms = 20\n",
        "bench",
        |_| None,
    )
    .expect("valid settings");
    eprintln!(
        "built {} bars and {} alerts in {:.2?}",
        market.bar_count(),
        stream.requests.len(),
        built.elapsed()
    );

    for run in 1..=3 {
        let started = Instant::now();
        let result =
            engine::run(&stream, "bench", &market, &settings, Path::new("."), None).expect("runs");
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
