//! `alertgate serve` and `alertgate send` as real processes over loopback:
//! the bundled sample end to end, a kill -9 mid-stream with exactly-once
//! execution after the restart, a matrix of bad requests, and the mock
//! exchange's resting orders and log.
//!
//! Every wait is bounded; nothing leaves 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alertgate_gateway::serve::mock::{MockExchange, MockSettings};

mod common;
use common::{
    alert, exchange_records, gate_config, http, json_lines, now_s, post_signed, root,
    sample_config, signed, start, stop, wait_exit, wait_until, SECRET_VAR,
};

const SAMPLE_SECRET: &str = "replay-sample-secret-do-not-use";

fn send(port: u16, stream: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .arg("send")
        .arg(stream)
        .args(["--url", &format!("http://127.0.0.1:{port}/webhook")])
        .args(["--scheme", "timestamped", "--secret-env", SECRET_VAR])
        .args(extra)
        .env(SECRET_VAR, SAMPLE_SECRET)
        .output()
        .unwrap()
}

fn summary_value(out: &Output, key: &str) -> u64 {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix(key)
                .filter(|rest| rest.starts_with(' '))
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no {key:?} in {text}"))
}

/// The mock exchange's log: (submit lines, fill lines), each line's object.
fn text<'v>(v: &'v serde_json::Value, key: &str) -> &'v str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key:?} in {v}"))
}

/// Checks the exchange's log against the journal: every accepted order
/// submitted exactly once, no other; every market order filled exactly
/// once and no order more than once (bracket legs aside; a cancel alert's
/// fills nothing); and replaying
/// the log rebuilds a state whose fills match the logged ones.
fn check_exchange_log(dir: &Path, settings: MockSettings) {
    let journal = json_lines(&dir.join("journal.jsonl"));
    let accepted: BTreeMap<String, String> = journal
        .iter()
        .filter(|l| l["decision"]["accepted"] == true)
        .map(|l| {
            let order = &l["decision"]["order"];
            // A cancel alert's order is submitted, and fills nothing.
            let kind = match order.get("action") {
                Some(_) => "cancel",
                None => text(order, "order_type"),
            };
            (text(order, "client_order_id").to_string(), kind.to_string())
        })
        .collect();
    let path = dir.join("fills.jsonl");
    let (submits, fills) = exchange_records(&path);
    let mut submitted: BTreeMap<&str, u32> = BTreeMap::new();
    for s in &submits {
        *submitted.entry(text(s, "client_order_id")).or_default() += 1;
    }
    assert!(
        submitted.values().all(|&n| n == 1),
        "a client id with two submit lines: {submitted:?}"
    );
    let ids: BTreeSet<&str> = submitted.keys().copied().collect();
    let want: BTreeSet<&str> = accepted.keys().map(String::as_str).collect();
    assert_eq!(ids, want, "submitted ≠ accepted");
    let mut own_fills: BTreeMap<&str, u32> = BTreeMap::new();
    for f in &fills {
        if !text(f, "reason").starts_with("bracket_") {
            *own_fills.entry(text(f, "client_order_id")).or_default() += 1;
        }
    }
    assert!(
        own_fills.values().all(|&n| n == 1),
        "an order filled twice: {own_fills:?}"
    );
    for (id, order_type) in &accepted {
        if order_type == "market" {
            assert_eq!(own_fills.get(id.as_str()), Some(&1), "market order {id}");
        }
    }
    let rebuilt = MockExchange::open(&path, settings).unwrap();
    let r = rebuilt.recovery();
    assert_eq!(r.submits as usize, submits.len());
    assert_eq!(r.mismatches, 0, "{r:?}");
    assert_eq!(r.fills as usize, fills.len());
}

/// Accepted in the sample under `sample_config`: 59 alerts less 7 below
/// confidence, 2 from outside TradingView, 1 over the value limit, 1
/// symbol not allowed and 1 replay.
const SAMPLE_ACCEPTED: u64 = 47;

#[test]
fn serve_and_send_the_bundled_sample() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), "");
    let gw = start(&config, SAMPLE_SECRET);
    let stream = root().join("examples/replay/alerts.jsonl");
    let out = send(gw.port, &stream, &["--rate", "500/s"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(summary_value(&out, "sent"), 59);
    assert_eq!(summary_value(&out, "accepted"), SAMPLE_ACCEPTED);
    assert_eq!(summary_value(&out, "failures"), 0);
    assert_eq!(summary_value(&out, "below_confidence"), 7);
    assert_eq!(summary_value(&out, "replayed"), 1);

    let (status, metrics) = http(gw.port, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains(&format!(
        "alertgate_requests_total{{status=\"200\",code=\"accepted\"}} {SAMPLE_ACCEPTED}"
    )));
    assert!(metrics.contains("alertgate_journal_fsync_seconds_count"));
    // Graceful stop (SIGTERM) flushes everything.
    let mut gw = gw;
    stop(&mut gw.child);

    // Every request is journaled, and the journal replays as a stream.
    let journal = dir.path().join("journal.jsonl");
    assert_eq!(json_lines(&journal).len(), 59);
    let replay = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .arg("replay")
        .arg("--stream")
        .arg(&journal)
        .arg("--market-dir")
        .arg(root().join("examples/replay/market"))
        .output()
        .unwrap();
    assert!(replay.status.success(), "{replay:?}");
    let (submits, _) = exchange_records(&dir.path().join("fills.jsonl"));
    assert_eq!(submits.len() as u64, SAMPLE_ACCEPTED);
    check_exchange_log(dir.path(), MockSettings::default());
}

#[test]
fn kill_9_mid_stream_then_resend_executes_each_accepted_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), "");
    let stream = root().join("examples/replay/alerts.jsonl");

    let mut gw = start(&config, SAMPLE_SECRET);
    // ~1.2 s of sending; the gateway dies a third of the way in.
    let mut sender = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .arg("send")
        .arg(&stream)
        .args(["--url", &format!("http://127.0.0.1:{}/webhook", gw.port)])
        .args(["--scheme", "timestamped", "--secret-env", SECRET_VAR])
        .args(["--rate", "50", "--retries", "0", "--timeout-ms", "2000"])
        .env(SECRET_VAR, SAMPLE_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some (not all) requests are journaled.
    let journal_path = dir.path().join("journal.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines_so_far(&journal_path) < 5 {
        assert!(Instant::now() < deadline, "nothing journaled in 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    gw.child.kill().unwrap(); // SIGKILL
    gw.child.wait().unwrap();
    let _ = sender.wait();
    let journaled_before = json_lines(&dir.path().join("journal.jsonl")).len();
    assert!(
        journaled_before > 0 && journaled_before < 59,
        "killed mid-stream: {journaled_before} lines"
    );

    // Restart and send everything again.
    let gw = start(&config, SAMPLE_SECRET);
    let out = send(gw.port, &stream, &["--rate", "500"]);
    assert!(out.status.success(), "{out:?}");
    let mut gw = gw;
    stop(&mut gw.child);

    let accepted = common::accepted_order_ids(&dir.path().join("journal.jsonl"));
    let distinct: BTreeSet<&String> = accepted.iter().collect();
    assert_eq!(accepted.len(), distinct.len(), "an event accepted twice");
    assert_eq!(accepted.len() as u64, SAMPLE_ACCEPTED, "an event lost");
    // Every accepted event submitted exactly once, market orders filled
    // once, and the log replays to the fills it holds.
    check_exchange_log(dir.path(), MockSettings::default());
}

/// Complete lines in a file being written.
fn lines_so_far(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

#[test]
fn bad_requests_get_the_right_status_and_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = gate_config(
        dir.path(),
        r#"
[policy]
max_order_value = 1000
[network]
allowlist = ["tradingview"]
max_body_bytes = 1024
[serve]
trusted_proxies = ["127.0.0.1"]
per_ip_burst = 20
per_ip_per_second = 1
[strategies.tight.rate]
burst = 1
per_second = 1
"#,
    );
    let secret = "matrix-secret";
    let gw = start(&config, secret);
    let tv = "52.89.214.238";
    let now = now_s();
    let post = |path: &str, headers: &[(&str, String)], body: &[u8]| {
        let (status, text) = http(gw.port, "POST", path, headers, body).expect("answered");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
        (
            status,
            v["code"].as_str().unwrap_or_default().to_string(),
            v,
        )
    };

    let ok = alert("m-1");
    let (status, code, v) = post("/webhook", &signed(secret, &ok, now, tv), &ok);
    assert_eq!((status, code.as_str()), (200, "accepted"), "{v}");
    assert_eq!(v["accepted"], true);
    assert!(v["order_id"].as_str().unwrap().starts_with("ag"));

    let big = vec![b' '; 4096];
    let oversized = {
        let mut b = alert("m-big");
        b.extend_from_slice(&big);
        b
    };
    let bad = alert("m-2");
    // (name, path, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, String)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "oversized",
            "/webhook",
            signed(secret, &oversized, now, tv),
            oversized.clone(),
            413,
            "body_too_large",
        ),
        (
            "wrong signature",
            "/webhook",
            signed("other", &bad, now, tv),
            bad.clone(),
            401,
            "bad_signature",
        ),
        (
            "stale",
            "/webhook",
            signed(secret, &bad, now - 3600, tv),
            bad.clone(),
            401,
            "signature_expired",
        ),
        (
            "replayed",
            "/webhook",
            signed(secret, &ok, now, tv),
            ok.clone(),
            409,
            "replayed",
        ),
        (
            "wrong ip",
            "/webhook",
            signed(secret, &bad, now, "8.8.8.8"),
            bad.clone(),
            403,
            "ip_not_allowed",
        ),
        (
            "malformed json",
            "/webhook",
            signed(secret, b"{\"symbol\":", now, tv),
            b"{\"symbol\":".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "unknown strategy",
            "/webhook/nope",
            signed(secret, &bad, now, tv),
            bad.clone(),
            404,
            "unknown_strategy",
        ),
    ];
    for (name, path, headers, body, want_status, want_code) in cases {
        let (status, code, v) = post(path, &headers, &body);
        assert_eq!(
            (status, code.as_str()),
            (want_status, want_code),
            "{name}: {v}"
        );
        assert_eq!(v["accepted"], false, "{name}");
    }

    // Without market data there is no mark: a market order cannot be
    // valued, whatever alerts came before (the accepted buy limit's price
    // is no mark).
    let unpriced = |symbol: &str, event: &str| {
        format!(
            r#"{{"symbol":"{symbol}","side":"sell","quantity":"0.1","confidence":"0.9","timestamp":{},"event_id":"{event}"}}"#,
            now * 1000
        )
        .into_bytes()
    };
    let btc = unpriced("BTCUSDT", "u-1");
    let (status, code, v) = post("/webhook", &signed(secret, &btc, now, tv), &btc);
    assert_eq!((status, code.as_str()), (422, "unpriced_order"), "{v}");
    let eth = unpriced("ETHUSDT", "u-2");
    let (status, code, v) = post("/webhook", &signed(secret, &eth, now, tv), &eth);
    assert_eq!((status, code.as_str()), (422, "unpriced_order"), "{v}");

    // The tight strategy allows one alert a second: the second at once is
    // rate limited.
    let (a, b) = (alert("t-1"), alert("t-2"));
    let (s1, c1, _) = post("/webhook/tight", &signed(secret, &a, now, tv), &a);
    let (s2, c2, _) = post("/webhook/tight", &signed(secret, &b, now, tv), &b);
    assert_eq!((s1, c1.as_str()), (200, "accepted"));
    assert_eq!((s2, c2.as_str()), (429, "rate_limited"));

    // Per source address: a flood from one address is cut off before the
    // gate, whatever the requests hold.
    let other_tv = "34.212.75.30";
    let codes: Vec<(u16, String)> = (0..40)
        .map(|_| {
            let (status, code, _) = post("/webhook", &signed("wrong", &bad, now, other_tv), &bad);
            (status, code)
        })
        .collect();
    let limited = codes
        .iter()
        .filter(|(s, c)| *s == 429 && c == "rate_limited")
        .count();
    assert!(limited >= 10, "{codes:?}");
    assert_eq!(codes[39], (429, "rate_limited".to_string()));
    assert_eq!(codes[0], (401, "bad_signature".to_string()));

    // The secret never reaches the journal.
    let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    assert!(!journal.contains(secret));
}

/// `(time, open)` of every row of a bars CSV, read here independently of
/// the simulator's loader.
fn csv_opens(path: &Path) -> Vec<(i64, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| h.trim() == name).unwrap();
    let (time, open) = (col("time"), col("open"));
    rows.filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[time].trim().parse().unwrap(),
                f[open].trim().parse().unwrap(),
            )
        })
        .collect()
}

/// The open of the last row that started at or before `t`.
fn open_at(rows: &[(i64, f64)], t: i64) -> f64 {
    rows.iter().rev().find(|r| r.0 <= t).unwrap().1
}

#[test]
fn serve_prices_market_orders_from_market_data_without_look_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let market = root().join("examples/replay/market");
    let config = gate_config(
        dir.path(),
        &format!(
            r#"
[policy]
symbols = ["BTC/USDT"]
max_order_value = 100000
max_age_s = 1000000000
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
market = '{}'
"#,
            market.display()
        ),
    );
    let rows = csv_opens(&market.join("BTC-USDT.csv"));
    // A bar whose open differs from the next one's, and a time inside it:
    // a look-ahead would price at the next open.
    let i = (100..rows.len() - 1)
        .find(|&i| rows[i].1 != rows[i + 1].1 && rows[i + 1].0 - rows[i].0 > 1)
        .unwrap();
    let inside = rows[i].0 + (rows[i + 1].0 - rows[i].0) / 2;
    assert!(rows[i].0 < inside && inside < rows[i + 1].0);
    let at_start = rows[i + 5].0;
    let after_end = rows.last().unwrap().0 + 86_400_000;
    let before = rows[0].0 - 86_400_000;

    let secret = "market-secret";
    let gw = start(&config, secret);
    let tv = "52.89.214.238";
    let now = now_s();
    let post = |body: &str| {
        let (status, text) = http(
            gw.port,
            "POST",
            "/webhook",
            &signed(secret, body.as_bytes(), now, tv),
            body.as_bytes(),
        )
        .expect("answered");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        (status, v["code"].as_str().unwrap_or_default().to_string())
    };
    let order = |event: &str, at: i64, extra: &str| {
        format!(
            r#"{{"symbol":"BTCUSDT","side":"buy","quantity":"0.1","confidence":"0.9","timestamp":{at},"event_id":"{event}"{extra}}}"#
        )
    };
    // Before the data, with no accepted price to fall back on: unpriced.
    let early = order("early", before, "");
    assert_eq!(post(&early), (422, "unpriced_order".to_string()));
    // Unpriced: valued (max_order_value) and filled at the mark.
    assert_eq!(post(&order("inside", inside, "")).0, 200);
    // Priced market order: filled at the mark, not at its own price.
    assert_eq!(post(&order("start", at_start, r#","price":"1""#)).0, 200);
    assert_eq!(post(&order("late", after_end, "")).0, 200);
    // A limit order keeps its own price.
    let limit = order("limit", inside, r#","type":"limit","price":"12345.5""#);
    assert_eq!(post(&limit).0, 200);
    // Before the data, after accepted prices: the last one (the limit's).
    assert_eq!(post(&order("early2", before, "")).0, 200);
    let (_, metrics) = http(gw.port, "GET", "/metrics", &[], b"").unwrap();
    assert!(
        metrics.contains("alertgate_mark_fallbacks_total{reason=\"before_data\"} 2"),
        "{metrics}"
    );
    wait_until("the limit resting, four fills", || {
        let (_, m) = http(gw.port, "GET", "/metrics", &[], b"").unwrap();
        m.contains("alertgate_open_orders 1\n") && m.contains("alertgate_fills_total 4\n")
    });
    let mut gw = gw;
    stop(&mut gw.child);

    let (submits, fills) = exchange_records(&dir.path().join("fills.jsonl"));
    // The price observed with each order is its mark, whatever its type.
    let marks: BTreeMap<&str, f64> = submits
        .iter()
        .map(|s| (text(s, "event_id"), text(s, "mark").parse().unwrap()))
        .collect();
    let fills: BTreeMap<&str, f64> = fills
        .iter()
        .map(|f| {
            assert_eq!(text(f, "reason"), "market", "{f}");
            (text(f, "event_id"), f["price"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(marks.len(), 5, "{marks:?}");
    assert_eq!(fills.len(), 4, "{fills:?}");
    assert_eq!(fills["inside"], open_at(&rows, inside));
    assert_eq!(fills["inside"], rows[i].1);
    assert_eq!(fills["start"], open_at(&rows, at_start));
    assert_eq!(fills["start"], rows[i + 5].1);
    assert_eq!(fills["late"], rows.last().unwrap().1);
    // The limit buy at 12345.5 was observed at the market (far above it):
    // it rests, unfilled.
    assert_eq!(marks["limit"], rows[i].1);
    assert!(rows[i].1 > 12345.5);
    assert!(!fills.contains_key("limit"));
    // Before the data: no mark, so the gate valued it at the last accepted
    // price (the limit's), and the exchange filled it at the last price it
    // observed (the market's, with the limit).
    assert_eq!(fills["early2"], rows[i].1);
    check_exchange_log(dir.path(), MockSettings::default());
}

#[test]
fn bad_market_data_stops_the_start_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("BTC-USDT.csv");
    std::fs::write(
        &csv,
        "time,open,high,low,close,volume\n\
         1704067200000,100,110,90,105,1\n\
         1704070800000,100,90,110,105,1\n",
    )
    .unwrap();
    let config = dir.path().join("gate.toml");
    std::fs::write(&config, "[serve]\nmarket = \"BTC-USDT.csv\"\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, stderr) = wait_exit(child);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("serve.market:") && stderr.contains("BTC-USDT.csv:3: field \"high\""),
        "{stderr}"
    );
}

#[test]
fn secrets_in_file_are_refused_by_serve() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, section) in [
        (
            "[auth]\nscheme = \"github\"\nsecrets = [\"written-down-secret\"]\n",
            "auth.secrets:",
        ),
        (
            "[strategies.s1.auth]\nscheme = \"github\"\nsecrets = [\"written-down-secret\"]\n",
            "strategies.s1.auth.secrets:",
        ),
    ] {
        let config = dir.path().join("gate.toml");
        std::fs::write(&config, toml).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_alertgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (status, stderr) = wait_exit(child);
        assert_eq!(status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(section) && stderr.contains("secrets_env"),
            "{stderr}"
        );
        assert!(!stderr.contains("written-down-secret"), "{stderr}");
    }
}

/// A gate for hand-made alerts with the mock exchange's costs set.
fn costed_config(dir: &Path) -> PathBuf {
    gate_config(
        dir,
        r#"
[policy]
symbols = ["BTC/USDT"]
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
[simulation]
maker_fee_bps = 2
taker_fee_bps = 10
slippage_bps = 50
"#,
    )
}

fn costs() -> MockSettings {
    MockSettings {
        initial_cash: 100_000.0,
        costs: alertgate_simulator::exchange::Costs {
            maker_fee_bps: 2.0,
            taker_fee_bps: 10.0,
            slippage_bps: 50.0,
        },
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn a_limit_order_rests_until_a_later_alert_moves_the_price_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = costed_config(dir.path());
    let secret = "resting-secret";
    let log = dir.path().join("fills.jsonl");
    let tv = "52.89.214.238";
    let body = |event: &str, side: &str, extra: &str, price: &str| {
        format!(
            r#"{{"symbol":"BTCUSDT","side":"{side}","quantity":"0.1","price":"{price}","confidence":"0.9","timestamp":{},"event_id":"{event}"{extra}}}"#,
            now_s() * 1000
        )
    };
    let post = |port: u16, body: &str| {
        let (status, text) = http(
            port,
            "POST",
            "/webhook",
            &signed(secret, body.as_bytes(), now_s(), tv),
            body.as_bytes(),
        )
        .expect("answered");
        assert_eq!(status, 200, "{text}");
    };
    let metric = |port: u16, line: &str| {
        let (_, m) = http(port, "GET", "/metrics", &[], b"").unwrap();
        m.lines().any(|l| l == line)
    };
    let fills_of = |event: &str| -> Vec<serde_json::Value> {
        exchange_records(&log)
            .1
            .into_iter()
            .filter(|f| f["event_id"] == event)
            .collect()
    };
    let submitted = |event: &str| {
        exchange_records(&log)
            .0
            .iter()
            .any(|s| s["event_id"] == event)
    };

    let gw = start(&config, secret);
    // A market buy at 100: filled at 100 plus 50 bps, taker fee.
    post(gw.port, &body("r-1", "buy", "", "100"));
    // A limit buy at 95, observed at the last price (100): it rests.
    post(gw.port, &body("r-2", "buy", r#","type":"limit""#, "95"));
    wait_until("r-2 submitted", || submitted("r-2"));
    assert!(fills_of("r-2").is_empty());
    wait_until("one resting order", || {
        metric(gw.port, "alertgate_open_orders 1")
    });
    // A later alert at 96 does not reach it. (A buy: a sell would flatten
    // the position, which cancels the orders that arrived before it.)
    post(gw.port, &body("r-3", "buy", "", "96"));
    wait_until("r-3 filled", || !fills_of("r-3").is_empty());
    assert!(fills_of("r-2").is_empty());
    // One at 94 moves the price through it: it fills at 94 (maker fee, no
    // slippage), before the order that brought the price.
    post(gw.port, &body("r-4", "sell", "", "94"));
    wait_until("r-2 filled", || !fills_of("r-2").is_empty());
    let f = &fills_of("r-2")[0];
    assert_eq!((text(f, "reason"), text(f, "side")), ("limit", "buy"));
    assert_eq!(f["price"].as_f64(), Some(94.0));
    assert_eq!(f["quantity"].as_f64(), Some(0.1));
    assert!(
        close(f["fee"].as_f64().unwrap(), 9.4 * 2.0 / 10_000.0),
        "{f}"
    );
    let m = &fills_of("r-1")[0];
    assert!(close(m["price"].as_f64().unwrap(), 100.5), "{m}");
    assert!(
        close(m["fee"].as_f64().unwrap(), 10.05 * 10.0 / 10_000.0),
        "{m}"
    );
    let (_, fills) = exchange_records(&log);
    let order: Vec<&str> = fills.iter().map(|f| text(f, "event_id")).collect();
    assert_eq!(order, ["r-1", "r-3", "r-2", "r-4"]);
    wait_until("nothing resting", || {
        metric(gw.port, "alertgate_open_orders 0")
    });
    assert!(metric(gw.port, "alertgate_fills_total 4"));
    let mut gw = gw;
    stop(&mut gw.child);

    // After a restart the exchange is rebuilt from its log: the last price
    // (94) is known, so a limit buy at 90 rests; its state is the log's.
    let gw = start(&config, secret);
    assert!(metric(gw.port, "alertgate_open_orders 0"));
    post(gw.port, &body("r-5", "buy", r#","type":"limit""#, "90"));
    wait_until("r-5 resting", || metric(gw.port, "alertgate_open_orders 1"));
    let mut gw = gw;
    stop(&mut gw.child);
    let (submits, _) = exchange_records(&log);
    assert_eq!(text(&submits[4], "mark"), "94");
    assert!(fills_of("r-5").is_empty());
    let rebuilt = MockExchange::open(&log, costs()).unwrap();
    assert!(rebuilt.is_working(text(&submits[4], "client_order_id")));
    // Bought 0.1 three times, sold 0.1 once.
    assert!(close(rebuilt.position("BTC/USDT"), 0.2));
    check_exchange_log(dir.path(), costs());
}

/// Issue 14, point 3: a cancel alert withdraws the paper exchange's
/// resting order before a later price reaches it; the journal records the
/// cancel as an accepted order with its action, the exchange log as a
/// submit line, and a restart rebuilds the same book.
#[test]
fn a_cancel_alert_withdraws_a_resting_order_on_paper_and_a_restart_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let config = costed_config(dir.path());
    let secret = "cancel-secret";
    let log = dir.path().join("fills.jsonl");
    let body = |event: &str, side: &str, extra: &str| {
        format!(
            r#"{{"symbol":"BTCUSDT","side":"{side}","timestamp":{},"event_id":"{event}"{extra}}}"#,
            now_s() * 1000
        )
    };
    let metric = |port: u16, line: &str| {
        let (_, m) = http(port, "GET", "/metrics", &[], b"").unwrap();
        m.lines().any(|l| l == line)
    };
    let gw = start(&config, secret);
    let order = r#","quantity":"0.1","price":"100""#;
    assert_eq!(
        post_signed(gw.port, secret, &body("p-1", "buy", order)).0,
        200
    );
    let limit = r#","quantity":"0.1","price":"95","type":"limit""#;
    assert_eq!(
        post_signed(gw.port, secret, &body("p-2", "buy", limit)).0,
        200
    );
    wait_until("p-2 resting", || metric(gw.port, "alertgate_open_orders 1"));
    // A cancel naming p-2; one mixing in an order's field is refused.
    let mixed = body("c-0", "cancel", r#","cancel":"p-2","price":"95""#);
    assert_eq!(
        post_signed(gw.port, secret, &mixed),
        (422, "cancel_with_order_field".to_string())
    );
    let cancel = body("c-1", "cancel", r#","cancel":"p-2""#);
    assert_eq!(post_signed(gw.port, secret, &cancel).0, 200);
    wait_until("p-2 withdrawn", || {
        metric(gw.port, "alertgate_open_orders 0")
    });
    // 94 would have filled it.
    assert_eq!(
        post_signed(
            gw.port,
            secret,
            &body("p-3", "buy", r#","quantity":"0.1","price":"94""#)
        )
        .0,
        200
    );
    wait_until("p-3 filled", || {
        exchange_records(&log)
            .1
            .iter()
            .any(|f| f["event_id"] == "p-3")
    });
    let mut gw = gw;
    stop(&mut gw.child);
    let (submits, fills) = exchange_records(&log);
    assert!(fills.iter().all(|f| f["event_id"] != "p-2"), "{fills:?}");
    let c1 = submits.iter().find(|s| s["event_id"] == "c-1").unwrap();
    assert_eq!(c1["action"]["cancel"]["event_id"], "p-2", "{c1}");
    let journal = json_lines(&dir.path().join("journal.jsonl"));
    let accepted = journal
        .iter()
        .find(|l| l["decision"]["order"]["event_id"] == "c-1")
        .unwrap();
    assert_eq!(accepted["decision"]["accepted"], true);
    assert_eq!(
        accepted["decision"]["order"]["action"]["cancel"]["client_order_id"],
        submits[1]["client_order_id"]
    );
    let rebuilt = MockExchange::open(&log, costs()).unwrap();
    assert!(!rebuilt.is_working(text(&submits[1], "client_order_id")));
    assert_eq!(rebuilt.exchange().counts().cancelled_by_alerts, 1);
    check_exchange_log(dir.path(), costs());
}

/// Issue 9: without market data no alert sets a mark. One alert's own
/// price (a market order's `"price":"0.01"`, or a limit's) must never value
/// a later alert, before or after a restart.
#[test]
fn an_alert_price_never_becomes_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let config = gate_config(
        dir.path(),
        r#"
[policy]
max_order_value = 1000
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
"#,
    );
    let secret = "mark-secret";
    let body = |event: &str, extra: &str| {
        format!(
            r#"{{"symbol":"BTCUSDT","timestamp":{},"event_id":"{event}"{extra}}}"#,
            now_s() * 1000
        )
    };
    let post = |port: u16, body: &str| post_signed(port, secret, body);
    let ok = (200, "accepted".to_string());
    let unpriced = (422, "unpriced_order".to_string());
    let too_large = (422, "order_value_too_large".to_string());
    let market_buy = r#","side":"buy","quantity":"5""#;

    let gw = start(&config, secret);
    assert_eq!(post(gw.port, &body("m-0", market_buy)), unpriced);
    // A market order's own price is not trusted...
    let cheap = r#","side":"buy","quantity":"5","price":"0.01""#;
    assert_eq!(post(gw.port, &body("m-1", cheap)), unpriced);
    let cheap_stop = r#","side":"buy","quantity":"5","stop_price":"0.01""#;
    assert_eq!(post(gw.port, &body("m-2", cheap_stop)), unpriced);
    // ...nor a sell limit's, which executes at the market.
    let sell_limit = r#","side":"sell","type":"limit","price":"0.01","quantity":"5""#;
    assert_eq!(post(gw.port, &body("m-3", sell_limit)), unpriced);
    // A buy limit is valued at its limit, the most it can cost: accepted
    // at 0.01 × 5, and executed by the paper exchange at its price...
    let buy_limit = r#","side":"buy","type":"limit","price":"0.01","quantity":"5""#;
    assert_eq!(post(gw.port, &body("m-4", buy_limit)), ok);
    let big_limit = r#","side":"buy","type":"limit","price":"300","quantity":"4""#;
    assert_eq!(post(gw.port, &body("m-5", big_limit)), too_large);
    let log = dir.path().join("fills.jsonl");
    wait_until("m-4 filled", || {
        exchange_records(&log)
            .1
            .iter()
            .any(|f| f["event_id"] == "m-4")
    });
    // ...but that price is no mark for the next market order.
    assert_eq!(post(gw.port, &body("m-6", market_buy)), unpriced);
    let mut gw = gw;
    stop(&mut gw.child);

    // Nor after a restart, when the exchange rebuilds from its log.
    let gw = start(&config, secret);
    assert_eq!(post(gw.port, &body("m-7", market_buy)), unpriced);
    drop(gw);
}

/// Issue 9: with market data, an order whose alert has no bar (no body
/// time) is valued at the symbol's last mark from the data, never at a
/// price an alert wrote in between.
#[test]
fn without_a_bar_the_last_market_mark_values_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = (now_s() - 3600) * 1000;
    let csv = dir.path().join("BTC-USDT.csv");
    std::fs::write(
        &csv,
        format!("time,open,high,low,close,volume\n{t0},100,100,100,100,1\n"),
    )
    .unwrap();
    let config = gate_config(
        dir.path(),
        &format!(
            r#"
[policy]
max_order_value = 1000
require_timestamp = false
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
market = "{}"
"#,
            csv.display()
        ),
    );
    let secret = "mark-secret";
    let post = |port: u16, body: &str| post_signed(port, secret, body);
    let timed = |event: &str, qty: &str| {
        format!(
            r#"{{"symbol":"BTCUSDT","side":"buy","quantity":"{qty}","timestamp":{},"event_id":"{event}"}}"#,
            now_s() * 1000
        )
    };
    let untimed = |event: &str, qty: &str, extra: &str| {
        format!(
            r#"{{"symbol":"BTCUSDT","side":"buy","quantity":"{qty}","event_id":"{event}"{extra}}}"#
        )
    };
    let ok = (200, "accepted".to_string());
    let unpriced = (422, "unpriced_order".to_string());
    let too_large = (422, "order_value_too_large".to_string());

    let gw = start(&config, secret);
    // No time, nothing seen from the data yet: no mark.
    assert_eq!(post(gw.port, &untimed("u-0", "1", "")), unpriced);
    // A timed alert is valued at the bar's open (100) and carries it.
    assert_eq!(post(gw.port, &timed("t-1", "10")), ok);
    assert_eq!(post(gw.port, &timed("t-2", "11")), too_large);
    // A cheap limit in between moves nothing.
    let cheap = r#","type":"limit","price":"0.01""#;
    assert_eq!(post(gw.port, &untimed("u-1", "5", cheap)), ok);
    // Untimed: the last mark from the data, 100.
    assert_eq!(post(gw.port, &untimed("u-2", "10", "")), ok);
    assert_eq!(post(gw.port, &untimed("u-3", "11", "")), too_large);
    let log = dir.path().join("fills.jsonl");
    wait_until("u-2 submitted", || {
        exchange_records(&log)
            .0
            .iter()
            .any(|s| s["event_id"] == "u-2")
    });
    let mut gw = gw;
    stop(&mut gw.child);
    // The last data mark survives a restart (rebuilt from the exchange log).
    let gw = start(&config, secret);
    assert_eq!(post(gw.port, &untimed("u-4", "10", "")), ok);
    assert_eq!(post(gw.port, &untimed("u-5", "11", "")), too_large);
    drop(gw);
}

/// Issue 9: an empty id header is no event id. Two different signed
/// alerts sent with `X-Tradeeon-EventId: ` (empty) are both refused naming
/// the header, and nothing executes, instead of sharing one order id.
#[test]
fn an_empty_id_header_is_refused_and_nothing_executes() {
    let dir = tempfile::tempdir().unwrap();
    let config = gate_config(
        dir.path(),
        r#"
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
"#,
    );
    let secret = "id-secret";
    let gw = start(&config, secret);
    for (qty, event) in [("0.1", "e-1"), ("0.2", "e-2")] {
        let body = format!(
            r#"{{"symbol":"BTCUSDT","side":"buy","type":"limit","price":"100","quantity":"{qty}","timestamp":{},"event_id":"{event}"}}"#,
            now_s() * 1000
        );
        let mut headers = signed(secret, body.as_bytes(), now_s(), "52.89.214.238");
        headers.push(("X-Tradeeon-EventId", String::new()));
        let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (status, v["code"].as_str()),
            (422, Some("invalid_field")),
            "{v}"
        );
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("X-Tradeeon-EventId"),
            "{v}"
        );
    }
    let mut gw = gw;
    stop(&mut gw.child);
    let (submits, _) = exchange_records(&dir.path().join("fills.jsonl"));
    assert!(submits.is_empty(), "{submits:?}");
}

/// Issue 9: an alert stamped ahead of the clock stays fresh past the
/// replay window counted from its acceptance. A copy is refused as a
/// replay while fresh, by the running gateway and by one restarted from
/// its journal (which records the alert's time).
#[test]
fn a_copy_ahead_of_the_clock_is_a_replay_while_fresh_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = gate_config(
        dir.path(),
        r#"
[policy]
max_age_s = 1
max_future_skew_s = 60
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
"#,
    );
    let secret = "skew-secret";
    let ahead_ms = (now_s() + 30) * 1000;
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","type":"limit","price":"100","quantity":"0.1","timestamp":{ahead_ms},"event_id":"ahead-1"}}"#
    );
    let headers = signed(secret, body.as_bytes(), now_s(), "52.89.214.238");
    let post = |port: u16| -> (u16, String) {
        let (status, text) = http(port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        (status, v["code"].as_str().unwrap_or_default().to_string())
    };
    let gw = start(&config, secret);
    assert_eq!(post(gw.port), (200, "accepted".to_string()));
    // Past max_age (the window) after acceptance; the alert is still fresh.
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(post(gw.port), (409, "replayed".to_string()));
    let mut gw = gw;
    stop(&mut gw.child);
    let gw = start(&config, secret);
    assert_eq!(post(gw.port), (409, "replayed".to_string()));
    drop(gw);
    let (submits, _) = exchange_records(&dir.path().join("fills.jsonl"));
    assert_eq!(submits.len(), 1, "{submits:?}");
}
