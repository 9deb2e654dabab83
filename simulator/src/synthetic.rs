//! Synthetic replay workloads, built in memory: the issue's benchmark shape
//! (one year of 1-minute bars for 10 symbols plus 100,000 alerts) for the
//! criterion bench `replay/*` in `benches/` and the quick
//! `replay_throughput` example.
//!
//! The data only has to look like a market and be the same on every run: a
//! seeded random walk per symbol and alerts spread evenly over the year.
//! Three in four alerts are market orders with a confidence; one in four is a
//! resting limit priced off nothing in particular, so some fill and some stay
//! working.

use crate::config::{GateSettings, Settings, SimulationSection};
use crate::market::{Bar, MarketData, MarketKind, MarketSeries};
use crate::stream::{AlertStream, RecordedRequest};

/// The benchmark's symbols (all quoted in USDT).
pub const SYMBOLS: [&str; 10] = [
    "ADA", "BNB", "BTC", "DOGE", "DOT", "ETH", "LTC", "SOL", "TRX", "XRP",
];
/// 2024-01-01T00:00:00Z.
pub const START_MS: i64 = 1_704_067_200_000;
/// One bar.
pub const MINUTE_MS: i64 = 60_000;
/// One year of 1-minute bars, per symbol.
pub const YEAR_OF_MINUTES: i64 = 365 * 24 * 60;
/// Alerts in the benchmark stream.
pub const BENCH_ALERTS: i64 = 100_000;
/// The benchmark's generator seed.
pub const BENCH_SEED: u64 = 7;

/// The `alertgate.toml` the workload replays with: default gate, lognormal
/// delivery latency, constant order and response latency.
pub const SETTINGS_TOML: &str = "[simulation.latency]\n\
     delivery_ms = { model = \"lognormal\", median_ms = 150, sigma = 0.5 }\n\
     order_ms = 30\n\
     response_ms = 20\n";

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Mix(pub u64);

impl Mix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Everything one replay needs.
#[derive(Debug, Clone)]
pub struct Workload {
    /// One series of 1-minute bars per symbol in [`SYMBOLS`].
    pub market: MarketData,
    /// The alerts, in arrival order.
    pub stream: AlertStream,
    /// [`SETTINGS_TOML`]'s gate.
    pub gate: GateSettings,
    /// [`SETTINGS_TOML`]'s `[simulation]`.
    pub simulation: SimulationSection,
}

impl Workload {
    /// The issue's benchmark: [`YEAR_OF_MINUTES`] bars for each of the 10
    /// [`SYMBOLS`] plus [`BENCH_ALERTS`] alerts, seed [`BENCH_SEED`].
    pub fn year_of_minutes() -> Workload {
        Workload::generate(YEAR_OF_MINUTES, BENCH_ALERTS, BENCH_SEED)
    }

    /// `bars` 1-minute bars per symbol from [`START_MS`] and `alerts` alerts
    /// spread evenly over them; the same arguments give the same workload.
    pub fn generate(bars: i64, alerts: i64, seed: u64) -> Workload {
        let mut mix = Mix(seed);
        let market = market(&mut mix, bars);
        let stream = stream(&mut mix, bars, alerts);
        let settings = Settings::from_toml(SETTINGS_TOML, "synthetic", |_| None)
            .expect("SETTINGS_TOML is a valid configuration");
        Workload {
            market,
            stream,
            gate: settings.gate,
            simulation: settings.simulation,
        }
    }

    /// Bars plus alerts: what a replay of this workload processes.
    pub fn events(&self) -> u64 {
        (self.market.bar_count() + self.stream.requests.len()) as u64
    }
}

/// A random walk of `bars` 1-minute bars from 100 for every symbol.
pub fn market(mix: &mut Mix, bars: i64) -> MarketData {
    let series = SYMBOLS
        .iter()
        .map(|base| {
            let mut close = 100.0;
            let bars = (0..bars)
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
    MarketData {
        series,
        gaps: Vec::new(),
    }
}

/// `alerts` unsigned alerts spread evenly over `bars` minutes, each
/// delivered 150 ms after its timestamp, sorted by arrival.
pub fn stream(mix: &mut Mix, bars: i64, alerts: i64) -> AlertStream {
    let span = bars * MINUTE_MS;
    let step = if alerts > 0 { span / alerts } else { 0 };
    let mut requests: Vec<RecordedRequest> = (0..alerts)
        .map(|i| {
            let t = START_MS + step * i + (mix.next_u64() % 30_000) as i64;
            let symbol = SYMBOLS[(mix.next_u64() % SYMBOLS.len() as u64) as usize];
            let side = if mix.next_u64().is_multiple_of(2) { "buy" } else { "sell" };
            let body = if i % 4 == 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_workload_is_deterministic_and_replays() {
        let a = Workload::generate(2_000, 200, 3);
        let b = Workload::generate(2_000, 200, 3);
        assert_eq!(a.market, b.market);
        assert_eq!(a.stream, b.stream);
        assert_eq!(a.events(), 10 * 2_000 + 200);
        for s in &a.market.series {
            assert!(s.bars.iter().all(|b| b.low <= b.open.min(b.close)
                && b.high >= b.open.max(b.close)
                && b.low > 0.0));
        }
        let result = crate::engine::run(
            &a.stream,
            "synthetic",
            &a.market,
            &a.gate,
            &a.simulation,
            std::path::Path::new("."),
            None,
        )
        .unwrap();
        assert_eq!(result.alerts, 200);
        assert_eq!(result.bars, 20_000);
        assert!(result.accepted > 0, "{:?}", result.rejected_by_code);
    }
}
