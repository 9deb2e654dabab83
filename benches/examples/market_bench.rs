//! The market-data workload of issue 13 (point 3) and its measurements:
//!
//! ```sh
//! cargo build --release -p alertgate-benches --example market_bench
//! B=target/release/examples/market_bench
//! $B year DIR            # DIR/market/BTC-USDT.csv: a year of 1-minute bars (525,600),
//!                        # DIR/alerts.jsonl: 20,000 signed alerts of an SMA crossover,
//!                        # DIR/signals.csv (bar, side) for backtesting.py, DIR/alertgate.toml
//! $B parse FILE [RUNS]   # the CSV parsed in memory RUNS times (default 5): median MB/s, rows/s
//! $B scale DIR [SYMBOLS] [YEARS]  # 100 symbols × 5 years of 1-minute bars, written
//!                        # straight into the market cache (DIR/cache) for stub source
//!                        # files DIR/market/*.csv, 20,000 alerts, DIR/alertgate.toml
//! ```
//!
//! `benches/replay-vs-backtesting.sh` runs them all. The scale data is
//! written in the cache's format because its CSV would take ~14 GB: a
//! replay of it streams the cache exactly as it streams any cached file, but
//! never parses (the parse is measured on the year's file).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use alertgate_simulator::market::{
    parse_bytes_as, Bar, CacheKey, MarketCache, MarketFormat, MarketKind,
};
use alertgate_simulator::stream;
use alertgate_validator::time::Rfc3339;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// 2024-01-01T00:00:00Z.
const START_MS: i64 = 1_704_067_200_000;
const MINUTE_MS: i64 = 60_000;
const YEAR: usize = 365 * 24 * 60;
const ALERTS: usize = 20_000;
const SECRET: &str = "bench-secret-do-not-use";
/// One of TradingView's webhook addresses.
const TRADINGVIEW_IP: &str = "52.89.214.238";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let number =
        |i: usize, default: usize| arg(i).map_or(default, |s| s.parse().expect("a number"));
    match (arg(0), arg(1)) {
        (Some("year"), Some(dir)) => year(Path::new(dir)),
        (Some("parse"), Some(file)) => parse(Path::new(file), number(2, 5)),
        (Some("scale"), Some(dir)) => scale(Path::new(dir), number(2, 100), number(3, 5)),
        _ => {
            eprintln!(
                "usage: market_bench year DIR | parse FILE [RUNS] | scale DIR [SYMBOLS] [YEARS]"
            );
            std::process::exit(2);
        }
    }
}

/// SplitMix64: the same data on every run.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `n` 1-minute bars from `start_ms`, a random walk in integer cents (so
/// the CSV's text is exact), from 100.00.
fn bars(mix: &mut Mix, start_ms: i64, n: usize) -> Vec<Bar> {
    let mut close: i64 = 10_000; // cents
    (0..n)
        .map(|i| {
            let open = close;
            let step = (mix.next() % 41) as i64 - 20;
            close = (open + step * open / 10_000).max(100);
            let high = open.max(close) + (mix.next() % 8) as i64;
            let low = (open.min(close) - (mix.next() % 8) as i64).max(1);
            let c = |x: i64| x as f64 / 100.0;
            Bar {
                time_ms: start_ms + i as i64 * MINUTE_MS,
                open: c(open),
                high: c(high),
                low: c(low),
                close: c(close),
                volume: (1 + mix.next() % 5000) as f64 / 1000.0,
            }
        })
        .collect()
}

/// Prices as the cents they were made from: `12345` → `123.45`.
fn cents(x: f64) -> String {
    let c = (x * 100.0).round() as i64;
    format!("{}.{:02}", c / 100, c % 100)
}

fn write_csv(bars: &[Bar]) -> String {
    let mut csv = String::with_capacity(bars.len() * 56);
    csv.push_str("time,open,high,low,close,volume\n");
    for b in bars {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{}",
            b.time_ms,
            cents(b.open),
            cents(b.high),
            cents(b.low),
            cents(b.close),
            b.volume
        );
    }
    csv
}

/// The bars where a `fast`/`slow` SMA crossover fires, with its side: buy
/// when the fast average crosses above, sell when it crosses below; the
/// first is a buy, and at most `limit`.
fn sma_signals(bars: &[Bar], fast: usize, slow: usize, limit: usize) -> Vec<(usize, &'static str)> {
    let (mut sum_fast, mut sum_slow) = (0.0, 0.0);
    let mut above: Option<bool> = None;
    let mut out = Vec::new();
    for (i, b) in bars.iter().enumerate() {
        sum_fast += b.close;
        sum_slow += b.close;
        if i >= fast {
            sum_fast -= bars[i - fast].close;
        }
        if i >= slow {
            sum_slow -= bars[i - slow].close;
        }
        if i + 1 < slow {
            continue;
        }
        let now = sum_fast / fast as f64 > sum_slow / slow as f64;
        if above.is_some_and(|a| a != now) && (now || !out.is_empty()) {
            out.push((i, if now { "buy" } else { "sell" }));
            if out.len() == limit {
                break;
            }
        }
        above = Some(now);
    }
    out
}

fn sign(t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    let tag: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},s={tag}")
}

/// One signed alert line, fired at the close of bar `i`.
fn alert_line(ticker: &str, bar: &Bar, side: &str, id: &str) -> String {
    let fired = bar.time_ms + MINUTE_MS;
    let body = format!(
        "{{\"ticker\":\"{ticker}\",\"action\":\"{side}\",\"type\":\"market\",\"qty\":\"1\",\"price\":\"{}\",\"confidence\":\"0.80\",\"time\":\"{}\"}}",
        cents(bar.close),
        Rfc3339(fired)
    );
    let signature = sign(fired / 1000, &body);
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Tradeeon-EventId", id),
        ("X-Tradeeon-Signature", signature.as_str()),
    ];
    let received = fired + 250;
    let ip = TRADINGVIEW_IP.parse().expect("an address");
    stream::write_line(&received.to_string(), &headers, &body, Some(ip), None) + "\n"
}

/// The replay's configuration; `symbols`: the policy's allowlist, if any.
fn config(symbols: Option<&[String]>) -> String {
    let listed = symbols.map_or(String::new(), |s| {
        let names: Vec<String> = s.iter().map(|s| format!("\"{s}\"")).collect();
        format!("symbols = [{}]\n", names.join(", "))
    });
    format!(
        "# Written by benches/examples/market_bench.rs.\n\
         [auth]\nscheme = \"timestamped\"\nsecrets = [\"{SECRET}\"]\ntolerance_s = 300\n\
         [policy]\nmax_quantity = 10\n{listed}max_order_value = 100000000\nmax_age_s = 300\n\
         [replay]\nwindow_s = 600\n\
         [network]\nallowlist = [\"tradingview\"]\n\
         [simulation]\nstream = \"alerts.jsonl\"\nmarket_dir = \"market\"\ninitial_cash = 1000000\n\
         taker_fee_bps = 5\nseed = 1\n\
         [simulation.latency]\ndelivery_ms = {{ model = \"lognormal\", median_ms = 180, sigma = 0.5 }}\norder_ms = 40\n"
    )
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create the directory");
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The year's workload: one symbol, 525,600 bars, 20,000 alerts.
fn year(dir: &Path) {
    let bars = bars(&mut Mix(7), START_MS, YEAR);
    write(&dir.join("market/BTC-USDT.csv"), &write_csv(&bars));
    // The crossover whose signals over the year come closest above 20,000.
    let signals = [(3, 8), (4, 10), (5, 12), (5, 20), (10, 30)]
        .iter()
        .map(|&(f, s)| sma_signals(&bars, f, s, ALERTS))
        .find(|s| s.len() == ALERTS)
        .expect("one of the crossovers fires 20,000 times");
    let mut alerts = String::new();
    let mut table = String::from("bar,side\n");
    for (n, &(i, side)) in signals.iter().enumerate() {
        alerts.push_str(&alert_line(
            "BINANCE:BTCUSDT",
            &bars[i],
            side,
            &format!("sma-{n}"),
        ));
        let _ = writeln!(table, "{i},{side}");
    }
    write(&dir.join("alerts.jsonl"), &alerts);
    write(&dir.join("signals.csv"), &table);
    write(
        &dir.join("alertgate.toml"),
        &config(Some(&["BTC/USDT".into()])),
    );
    println!(
        "{}: {} bars, {} alerts",
        dir.display(),
        bars.len(),
        signals.len()
    );
}

/// The CSV parsed in memory `runs` times: the median's MB/s and rows/s.
fn parse(file: &Path, runs: usize) {
    let bytes = std::fs::read(file).expect("read the CSV");
    let mut seconds = Vec::new();
    let mut rows = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let series =
            parse_bytes_as(&bytes, "bench.csv", "BTC/USDT", MarketFormat::Auto).expect("parses");
        seconds.push(t.elapsed().as_secs_f64());
        rows = series.bars.len();
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    println!(
        "parse {}: {} bytes, {rows} rows, median of {} runs {:.1} ms: {:.0} MB/s, {:.1} M rows/s (one core)",
        file.display(),
        bytes.len(),
        seconds.len(),
        median * 1e3,
        bytes.len() as f64 / median / 1e6,
        rows as f64 / median / 1e6
    );
}

/// `symbols` × `years` of 1-minute bars, written straight into the cache of
/// stub source files, and 20,000 alerts spread over the symbols and time.
fn scale(dir: &Path, symbols: usize, years: usize) {
    let cache = MarketCache::new(dir.join("cache"));
    let n = years * YEAR;
    let names: Vec<String> = (0..symbols).map(|i| format!("S{i:03}/USDT")).collect();
    let mut mix = Mix(11);
    let mut alerts: Vec<(i64, String)> = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let stub = dir.join(format!("market/{}.csv", name.replace('/', "-")));
        let bars = bars(&mut mix, START_MS, n);
        // The stub names the symbol and keys the cache; its one row is a
        // real bar, so the file itself is valid market data too.
        write(&stub, &write_csv(&bars[..1]));
        let key = CacheKey::of(&stub, MarketFormat::Auto).expect("stat the stub");
        cache
            .store(&key, MarketKind::Bars, &bars)
            .expect("write the cache");
        let per_symbol = ALERTS / symbols + usize::from(k < ALERTS % symbols);
        let ticker = name.replace('/', "");
        for (j, (i, side)) in sma_signals(&bars, 10, 30, usize::MAX)
            .into_iter()
            .step_by(1.max(n / 20 / per_symbol.max(1)))
            .take(per_symbol)
            .enumerate()
        {
            let line = alert_line(&ticker, &bars[i], side, &format!("{ticker}-{j}"));
            alerts.push((bars[i].time_ms, line));
        }
    }
    alerts.sort();
    let stream: String = alerts.into_iter().map(|(_, l)| l).collect();
    write(&dir.join("alerts.jsonl"), &stream);
    write(&dir.join("alertgate.toml"), &config(None));
    println!(
        "{}: {symbols} symbols × {n} bars = {} bars",
        dir.display(),
        symbols * n
    );
}
