//! The replay's hot loop does not allocate per bar: ten times the bars, the
//! same alerts, the same number of allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use alertgate_simulator::config::Settings;
use alertgate_simulator::engine;
use alertgate_simulator::market::{Bar, MarketData, MarketKind, MarketSeries};
use alertgate_simulator::stream::{AlertStream, RecordedRequest};

/// Counts allocations made by the thread under test (the test harness's
/// own threads allocate too, so counting is switched on around the run).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// SAFETY: forwards every call to the system allocator unchanged; the counter
// is a side effect only.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const T0: i64 = 1_700_000_040_000;
const MIN: i64 = 60_000;

fn market(bars: i64) -> MarketData {
    let bars = (0..bars)
        .map(|i| {
            let open = 100.0 + (i % 7) as f64;
            Bar {
                time_ms: T0 + i * MIN,
                open,
                high: open + 2.0,
                low: open - 2.0,
                close: open + 1.0,
                volume: 1.0,
            }
        })
        .collect();
    MarketData {
        series: vec![MarketSeries {
            symbol: "BTC/USDT".into(),
            source: "btc.csv".into(),
            kind: MarketKind::Bars,
            bars,
        }],
        gaps: Vec::new(),
    }
}

fn stream() -> AlertStream {
    let requests = (0..20)
        .map(|i| {
            let t = T0 + i * 7 * MIN + 1_000;
            let side = if i % 2 == 0 { "buy" } else { "sell" };
            RecordedRequest {
                line: i as u64 + 1,
                received_at_ms: t,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: format!(
                    r#"{{"symbol":"BTCUSDT","side":"{side}","quantity":"1","timestamp":{t},"event_id":"e{i}"}}"#
                ),
                source_ip: None,
            }
        })
        .collect();
    AlertStream { requests }
}

fn allocations_of_a_run(bars: i64) -> (u64, usize) {
    let market = market(bars);
    let stream = stream();
    let settings = Settings::from_toml(
        "[simulation.latency]\ndelivery_ms = { model = \"uniform\", min_ms = 10, max_ms = 900 }\norder_ms = 30",
        "t.toml",
        |_| None,
    )
    .unwrap();
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let result = engine::run(
        &stream,
        "s.jsonl",
        &market,
        &settings.gate,
        &settings.simulation,
        Path::new("."),
        None,
    )
    .unwrap();
    COUNTING.with(|c| c.set(false));
    (
        ALLOCATIONS.load(Ordering::Relaxed),
        result.exchange.fills.len(),
    )
}

#[test]
fn bars_do_not_allocate() {
    let (few, fills_few) = allocations_of_a_run(2_000);
    let (many, fills_many) = allocations_of_a_run(20_000);
    assert_eq!(fills_few, 20);
    assert_eq!(fills_many, 20);
    assert_eq!(few, many, "18,000 more bars must not add allocations");
}
