//! Generates the bundled replay sample in `examples/replay/`: two symbols of
//! hourly bars from a seeded random walk, the alert stream a moving-average
//! crossover strategy would have sent for them (signed, as a gateway records
//! it), and a file of measured-looking response latencies.
//!
//! ```sh
//! cargo run -p alertgate-simulator --example make_replay_sample            # (re)write
//! cargo run -p alertgate-simulator --example make_replay_sample -- --check # compare
//! ```
//!
//! Prices are integer cents and every draw is an integer from a seeded
//! ChaCha8 stream, so the output is the same bytes on every platform.
//! `examples/replay/alertgate.toml` is written by hand, not by this script.
//!
//! The stream also carries the faults a real one does, one of each kind, so
//! the report shows what the gate refuses: a retried delivery (`replayed`),
//! a tampered body (`bad_signature`), an alert delivered minutes late
//! (`stale`), a symbol outside the allowlist (`symbol_not_allowed`), a sender
//! outside TradingView's addresses (`ip_not_allowed`), and low-confidence
//! signals (`below_confidence`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alertgate_simulator::stream;
use alertgate_validator::time::Rfc3339;
use hmac::{Hmac, Mac};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::Sha256;

const SEED: u64 = 20_240_101;
/// 2024-01-01T00:00:00Z.
const START_MS: i64 = 1_704_067_200_000;
const HOUR_MS: i64 = 3_600_000;
const BARS: usize = 24 * 60;
const FAST: usize = 12;
const SLOW: usize = 48;
/// Must match `[auth] secrets` in examples/replay/alertgate.toml.
const SECRET: &[u8] = b"replay-sample-secret-do-not-use";
/// One of TradingView's webhook addresses (validator `net::TRADINGVIEW`).
const TRADINGVIEW_IP: &str = "52.89.214.238";

struct Symbol {
    /// File stem and alert ticker.
    file: &'static str,
    ticker: &'static str,
    start_cents: i64,
    /// Position unit, as the alert's quantity text, and its value in
    /// thousandths.
    unit: &'static str,
    unit_milli: i64,
    /// Write times as RFC 3339 (else Unix ms), to exercise both.
    rfc3339: bool,
}

const SYMBOLS: [Symbol; 2] = [
    Symbol {
        file: "BTC-USDT",
        ticker: "BINANCE:BTCUSDT",
        start_cents: 4_200_000,
        unit: "0.05",
        unit_milli: 50,
        rfc3339: false,
    },
    Symbol {
        file: "ETH-USDT",
        ticker: "ETHUSDT",
        start_cents: 230_000,
        unit: "1",
        unit_milli: 1000,
        rfc3339: true,
    },
];

struct Bar {
    time_ms: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume_tenths: i64,
}

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// `price × (10000 + bp) / 10000`, in cents.
fn moved(price: i64, bp: i64) -> i64 {
    price * (10_000 + bp) / 10_000
}

fn bars(rng: &mut ChaCha8Rng, start: i64) -> Vec<Bar> {
    let mut out = Vec::with_capacity(BARS);
    let mut close = start;
    let mut trend = 0;
    for i in 0..BARS {
        if i % 96 == 0 {
            // A new regime every four days: drift of −8..8 bp an hour.
            trend = rng.gen_range(-8..=8);
        }
        // Now and then the market gaps between bars.
        let gap = if rng.gen_range(0..40) == 0 {
            rng.gen_range(-150..=150)
        } else {
            0
        };
        let open = moved(close, gap);
        close = moved(open, trend + rng.gen_range(-70..=70));
        out.push(Bar {
            time_ms: START_MS + i as i64 * HOUR_MS,
            open,
            high: moved(open.max(close), rng.gen_range(0..=45)),
            low: moved(open.min(close), -rng.gen_range(0..=45)),
            close,
            volume_tenths: rng.gen_range(10..5_000),
        });
    }
    out
}

fn market_csv(symbol: &Symbol, bars: &[Bar]) -> String {
    let mut csv = String::from("time,open,high,low,close,volume\n");
    for b in bars {
        let time = if symbol.rfc3339 {
            Rfc3339(b.time_ms).to_string()
        } else {
            b.time_ms.to_string()
        };
        csv.push_str(&format!(
            "{time},{},{},{},{},{}.{}\n",
            cents(b.open),
            cents(b.high),
            cents(b.low),
            cents(b.close),
            b.volume_tenths / 10,
            b.volume_tenths % 10
        ));
    }
    csv
}

/// One recorded request.
struct Line {
    received_at_ms: i64,
    text: String,
}

fn sign(t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("HMAC takes any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    let tag: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},s={tag}")
}

fn line(received_at_ms: i64, signed_at_ms: i64, event_id: &str, body: &str, ip: &str) -> Line {
    let signature = sign(signed_at_ms / 1000, body);
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Tradeeon-EventId", event_id),
        ("X-Tradeeon-Signature", signature.as_str()),
    ];
    let ip = ip.parse().expect("the sample's addresses are addresses");
    Line {
        received_at_ms,
        text: stream::write_line(&received_at_ms.to_string(), &headers, body, Some(ip), None),
    }
}

#[allow(clippy::too_many_arguments)]
fn body(
    ticker: &str,
    side: &str,
    order_type: &str,
    qty: &str,
    price: i64,
    sl: i64,
    tp: i64,
    confidence: u32,
    time_ms: i64,
) -> String {
    format!(
        "{{\"ticker\":\"{ticker}\",\"action\":\"{side}\",\"type\":\"{order_type}\",\"qty\":\"{qty}\",\"price\":\"{}\",\"stop_loss\":\"{}\",\"take_profit\":\"{}\",\"confidence\":\"0.{confidence:02}\",\"time\":\"{}\"}}",
        cents(price),
        cents(sl),
        cents(tp),
        Rfc3339(time_ms)
    )
}

/// Thousandths as decimal text: 100 → "0.1", 2000 → "2".
fn milli_text(milli: i64) -> String {
    let fraction = format!("{:03}", milli % 1000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        (milli / 1000).to_string()
    } else {
        format!("{}.{fraction}", milli / 1000)
    }
}

fn sma(bars: &[Bar], end: usize, n: usize) -> i64 {
    bars[end + 1 - n..=end].iter().map(|b| b.close).sum::<i64>() / n as i64
}

fn alerts(rng: &mut ChaCha8Rng, symbol: &Symbol, bars: &[Bar], out: &mut Vec<Line>) {
    // +1 long, −1 short, 0 flat, as the strategy believes.
    let mut state = 0i64;
    let mut signals = 0u32;
    for i in SLOW..bars.len() - 1 {
        let (fast, slow) = (sma(bars, i, FAST), sma(bars, i, SLOW));
        let (pfast, pslow) = (sma(bars, i - 1, FAST), sma(bars, i - 1, SLOW));
        let want = if pfast <= pslow && fast > slow {
            1
        } else if pfast >= pslow && fast < slow {
            -1
        } else {
            continue;
        };
        if want == state {
            continue;
        }
        signals += 1;
        // A reversal sends twice the unit: close, then open the other way.
        let qty = if state == 0 {
            symbol.unit.to_string()
        } else {
            milli_text(2 * symbol.unit_milli)
        };
        state = want;
        let close = bars[i].close;
        let (side, sl, tp) = if want > 0 {
            ("buy", moved(close, -300), moved(close, 600))
        } else {
            ("sell", moved(close, 300), moved(close, -600))
        };
        // Every fifth signal rests a limit order a little inside the close.
        let (order_type, price) = if signals.is_multiple_of(5) {
            ("limit", moved(close, -20 * want))
        } else {
            ("market", close)
        };
        // The alert fires when the bar closes, i.e. when the next one opens.
        let fired = bars[i + 1].time_ms;
        let confidence = if rng.gen_range(0..10) == 0 {
            rng.gen_range(40..60)
        } else {
            rng.gen_range(60..96)
        };
        let b = body(
            symbol.ticker,
            side,
            order_type,
            &qty,
            price,
            sl,
            tp,
            confidence,
            fired,
        );
        let id = format!("sma-{}-{}", symbol.file, fired / 1000);
        let sent = fired + rng.gen_range(20..400);
        let received = sent + rng.gen_range(30..250);
        out.push(line(received, sent, &id, &b, TRADINGVIEW_IP));

        out.extend(adversarial_copies(signals, received, sent, &id, &b, &qty));
    }
    out.push(late_alert(symbol, bars));
}

/// The copies of the `signals`-th signal's alert (`b`, sent as `id`) that
/// test the gate: a retry, a tampered body, an unknown address.
fn adversarial_copies(
    signals: u32,
    received: i64,
    sent: i64,
    id: &str,
    b: &str,
    qty: &str,
) -> Option<Line> {
    match signals {
        // A retry of the same delivery two seconds later.
        3 => Some(line(received + 2_000, sent, id, b, TRADINGVIEW_IP)),
        // A body altered after signing.
        7 => {
            let tampered = b.replace(&format!("\"qty\":\"{qty}\""), "\"qty\":\"0.9\"");
            let mut l = line(
                received + 1_000,
                sent,
                &format!("{id}-x"),
                b,
                TRADINGVIEW_IP,
            );
            l.text = l.text.replace(&escape_json(b), &escape_json(&tampered));
            Some(l)
        }
        // The same signal from an unknown address.
        11 => Some(line(
            received + 500,
            sent,
            &format!("{id}-y"),
            b,
            "203.0.113.9",
        )),
        _ => None,
    }
}

/// A signal TradingView delivered eight minutes late (freshly signed by
/// the relay, but the alert's own time is stale).
fn late_alert(symbol: &Symbol, bars: &[Bar]) -> Line {
    let late = &bars[bars.len() / 2];
    let b = body(
        symbol.ticker,
        "buy",
        "market",
        symbol.unit,
        late.close,
        moved(late.close, -300),
        moved(late.close, 600),
        80,
        late.time_ms,
    );
    let received = late.time_ms + 8 * 60_000;
    let id = format!("late-{}", symbol.file);
    line(received, received - 100, &id, &b, TRADINGVIEW_IP)
}

fn escape_json(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn generate() -> BTreeMap<PathBuf, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut files = BTreeMap::new();
    let mut lines = Vec::new();
    for symbol in &SYMBOLS {
        let bars = bars(&mut rng, symbol.start_cents);
        files.insert(
            PathBuf::from(format!("market/{}.csv", symbol.file)),
            market_csv(symbol, &bars),
        );
        alerts(&mut rng, symbol, &bars, &mut lines);
    }
    // A symbol the policy does not allow.
    let b = body(
        "SOLUSDT",
        "buy",
        "market",
        "1",
        10_000,
        9_700,
        10_600,
        90,
        START_MS + 100 * HOUR_MS,
    );
    lines.push(line(
        START_MS + 100 * HOUR_MS + 300,
        START_MS + 100 * HOUR_MS + 100,
        "sma-SOL-USDT",
        &b,
        TRADINGVIEW_IP,
    ));

    // Recorded in arrival order, as the gateway writes them.
    lines.sort_by_key(|l| l.received_at_ms);
    let stream: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
    files.insert(PathBuf::from("alerts.jsonl"), stream);

    let mut latency =
        String::from("# exchange → gateway response latency, ms (one sample per line)\n");
    for _ in 0..200 {
        let ms = if rng.gen_range(0..25) == 0 {
            rng.gen_range(150..900)
        } else {
            rng.gen_range(8..60)
        };
        latency.push_str(&format!("{ms}\n"));
    }
    files.insert(PathBuf::from("response-latency.txt"), latency);
    files
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/replay");
    let check = std::env::args().any(|a| a == "--check");
    let mut stale = Vec::new();
    for (path, text) in generate() {
        let full = dir.join(&path);
        if check {
            if std::fs::read_to_string(&full).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).expect("create examples/replay");
            }
            std::fs::write(&full, text).expect("write the sample");
            println!("wrote {}", full.display());
        }
    }
    if !stale.is_empty() {
        eprintln!(
            "examples/replay is not what make_replay_sample generates: {}",
            stale.join(", ")
        );
        std::process::exit(1);
    }
}
