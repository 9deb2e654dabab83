//! Issue 12: `alertgate serve` trading on a real venue, exactly once,
//! against `alertgate venue-emulator` (Binance USDⓈ-M / Spot as
//! documented, with faults injected on command). Real processes over
//! loopback: the gateway, the emulator, and `kill -9` where it hurts most.
//!
//! What each test tries to break: one venue order per accepted alert and
//! none for refused ones, whatever answers are lost, delayed or refused,
//! and across a crash between an order's POST and its answer; no key or
//! secret in anything the gateway writes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::disk::SmallDisk;
use common::emulator::{self, Emulator};
use common::{healthy, http, json_lines, now_s, signed, spawn_with, stop, Gateway};

const KEY: &str = "venueE2eApiKey7f3a9c";
const SECRET: &str = "venue-e2e-api-secret-5b1d";
const WEBHOOK: &str = "venue-e2e-webhook-secret";

fn emulator(kind: &str) -> Emulator {
    emulator_on(kind, 0)
}

fn emulator_on(kind: &str, port: u16) -> Emulator {
    emulator_with(kind, port, &[])
}

/// An emulator of `kind` on `port` (0: any), with `extra` arguments.
fn emulator_with(kind: &str, port: u16, extra: &[&str]) -> Emulator {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--kind",
        kind,
        "--listen",
        &listen,
        "--key-env",
        "EMU_KEY",
        "--secret-env",
        "EMU_SECRET",
        "--price",
        "BTCUSDT=50000",
        "--price",
        "ETHUSDT=3000",
    ];
    args.extend_from_slice(extra);
    emulator::start(&args, &[("EMU_KEY", KEY), ("EMU_SECRET", SECRET)])
}

/// `dir/gate.toml`: the webhook's gate, `[venue]` on the emulator (short
/// windows so that resolving an unknown order takes about a second), then
/// `rest`.
fn config(dir: &Path, kind: &str, emu: &Emulator, rest: &str) -> std::path::PathBuf {
    let path = dir.join("gate.toml");
    let text = format!(
        "[auth]\nscheme = \"timestamped\"\nsecrets_env = [\"{}\"]\n\
         [venue]\nkind = \"{kind}\"\nbase_url = \"http://127.0.0.1:{}\"\n\
         key_env = \"E2E_VENUE_KEY\"\nsecret_env = \"E2E_VENUE_SECRET\"\n\
         recv_window_ms = 1000\nnot_found_spacing_ms = 300\nrequest_timeout_ms = 1500\n{rest}",
        common::SECRET_VAR,
        emu.port
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn gateway(config: &Path, log: &Path) -> Gateway {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    healthy(spawn_with(
        config,
        WEBHOOK,
        "info",
        log.into(),
        &[("E2E_VENUE_KEY", KEY), ("E2E_VENUE_SECRET", SECRET)],
    ))
}

/// A signed alert: `side` `quantity` BTCUSDT at the market, event `event`.
fn post(gw: &Gateway, event: &str, side: &str, quantity: &str) -> (u16, serde_json::Value) {
    post_body(gw, event, "BTCUSDT", side, quantity)
}

/// A signed market buy of `quantity` `symbol` at 50000.
fn post_symbol(
    gw: &Gateway,
    event: &str,
    symbol: &str,
    quantity: &str,
) -> (u16, serde_json::Value) {
    post_body(gw, event, symbol, "buy", quantity)
}

fn post_body(
    gw: &Gateway,
    event: &str,
    symbol: &str,
    side: &str,
    quantity: &str,
) -> (u16, serde_json::Value) {
    let body = format!(
        r#"{{"symbol":"{symbol}","side":"{side}","order_type":"market","quantity":"{quantity}","price":"50000","timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// Posts a market alert that must be accepted; its order id.
fn accepted(gw: &Gateway, event: &str, side: &str, quantity: &str) -> String {
    let (status, answer) = post(gw, event, side, quantity);
    assert_eq!(status, 200, "{event}: {answer}");
    answer["order_id"].as_str().unwrap().to_string()
}

/// An emulator of `kind`, and a gateway trading on it with `rest` after its
/// `[venue]` keys.
struct Setup {
    emu: Emulator,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    gw: Gateway,
}

fn setup(kind: &str, rest: &str) -> Setup {
    let emu = emulator(kind);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), kind, &emu, rest);
    let gw = gateway(&config, &dir.path().join("gw.log"));
    Setup {
        emu,
        dir,
        config,
        gw,
    }
}

impl Setup {
    /// `kill -9` of the gateway, then a new one on the same files.
    fn crash_and_restart(&mut self) {
        self.gw.child.kill().unwrap();
        self.gw.child.wait().unwrap();
        self.gw = gateway(&self.config, &self.dir.path().join("gw.log"));
    }
}

fn control(emu: &Emulator, method: &str, path: &str, body: &str) -> serde_json::Value {
    let headers = [("Content-Type", "application/json".to_string())];
    let (status, text) = http(emu.port, method, path, &headers, body.as_bytes()).unwrap();
    assert!(status < 300, "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_default()
}

fn fault(emu: &Emulator, json: &str) {
    control(emu, "POST", "/emulator/faults", json);
}

/// The emulator's orders with client id `id`.
fn orders_with(emu: &Emulator, id: &str) -> Vec<serde_json::Value> {
    let all = control(emu, "GET", "/emulator/orders", "");
    let list = all
        .as_array()
        .cloned()
        .or_else(|| all["orders"].as_array().cloned());
    list.unwrap_or_default()
        .into_iter()
        .filter(|o| o["client_order_id"] == id || o["clientOrderId"] == id)
        .collect()
}

fn all_orders(emu: &Emulator) -> usize {
    let all = control(emu, "GET", "/emulator/orders", "");
    all.as_array()
        .or_else(|| all["orders"].as_array())
        .map_or(0, Vec::len)
}

/// POST /fapi/v1/order requests the emulator received (faulted ones too).
fn order_posts(emu: &Emulator, path: &str) -> u64 {
    let counts = control(emu, "GET", "/emulator/requests", "");
    counts[format!("POST {path}")].as_u64().unwrap_or(0)
}

/// The order log's states for `id`, in order.
fn states(dir: &Path, id: &str) -> Vec<String> {
    json_lines(&dir.join("orders.jsonl"))
        .into_iter()
        .filter(|l| l["client_order_id"] == id)
        .map(|l| l["state"].as_str().unwrap().to_string())
        .collect()
}

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "not in {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn settled(dir: &Path, id: &str) -> bool {
    states(dir, id).last().is_some_and(|s| {
        [
            "filled",
            "resolved",
            "acknowledged",
            "rejected",
            "cancelled",
        ]
        .contains(&s.as_str())
    })
}

/// Every file under `dir` holds neither the venue's key nor its secret nor
/// the webhook secret.
fn assert_no_secret_written(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_string();
        for secret in [KEY, SECRET, WEBHOOK] {
            assert!(!text.contains(secret), "{} holds a secret", path.display());
        }
    }
}

const USDM_ORDER: &str = "/fapi/v1/order";

#[test]
fn an_accepted_alert_becomes_one_venue_order_and_no_key_is_written() {
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "");
    let id = accepted(&gw, "e2e-1", "buy", "0.01");
    wait_for("the order filled", 20, || settled(dir.path(), &id));
    assert_eq!(states(dir.path(), &id), ["intent", "sent", "filled"]);
    let placed = orders_with(&emu, &id);
    assert_eq!(placed.len(), 1, "{placed:?}");
    // The same alert again: refused as a replay, nothing sent.
    let (status, again) = post(&gw, "e2e-1", "buy", "0.01");
    assert_eq!(
        (status, again["order_id"].as_str()),
        (409, Some(id.as_str())),
        "{again}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(order_posts(&emu, USDM_ORDER), 1);
    let metrics = http(gw.port, "GET", "/metrics", &[], b"").unwrap().1;
    for line in [
        "alertgate_venue_orders_total{venue=\"binance-usdm\",state=\"filled\"} 1",
        "alertgate_venue_requests_total{venue=\"binance-usdm\",endpoint=\"POST order\",status=\"200\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(
        metrics.contains("alertgate_venue_order_count{venue=\"binance-usdm\",interval=\"10s\"}")
            && metrics
                .contains("alertgate_venue_order_count{venue=\"binance-usdm\",interval=\"1m\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alertgate_venue_used_weight{venue=\"binance-usdm\",interval=\"1m\"}"),
        "{metrics}"
    );
    drop(gw);
    assert_no_secret_written(dir.path());
}

#[test]
fn answers_lost_after_the_order_was_placed_are_resolved_by_query_never_resent() {
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "");
    // Each fault in turn: the order is placed, its answer never arrives
    // (connection dropped, 5xx after placing, -1007, slower than the
    // client's timeout), and the venue's order store lags its engine.
    fault(&emu, r#"{"query_not_found_ms":400}"#);
    let faults = [
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"lose_answer","count":1}"#,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"error_after","count":1}"#,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"unknown","placed":true,"count":1}"#,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"slow","delay_ms":2500,"count":1}"#,
    ];
    for (i, f) in faults.iter().enumerate() {
        fault(&emu, f);
        let posts = order_posts(&emu, USDM_ORDER);
        let id = accepted(&gw, &format!("lost-{i}"), "buy", "0.01");
        wait_for(f, 20, || settled(dir.path(), &id));
        let s = states(dir.path(), &id);
        assert_eq!(s.first().map(String::as_str), Some("intent"), "{f}: {s:?}");
        assert!(
            s.contains(&"unknown".to_string()) && s.last().unwrap() == "resolved",
            "{f}: {s:?}"
        );
        assert_eq!(orders_with(&emu, &id).len(), 1, "{f}");
        assert_eq!(
            order_posts(&emu, USDM_ORDER),
            posts + 1,
            "{f}: the POST was sent again"
        );
    }
    // Each lost answer counted once as an unknown outcome, logged with its
    // code; each order's changes counted by the log's states.
    let states = "alertgate_venue_order_states_total{venue=\"binance-usdm\"";
    wait_for_metrics(
        &gw,
        &[
            "alertgate_venue_errors_total{venue=\"binance-usdm\",code=\"venue_outcome_unknown\"} 4",
            &format!("{states},state=\"unknown\"}} 4"),
            &format!("{states},state=\"resolved\"}} 4"),
        ],
    );
    assert!(
        gw_log_has(
            dir.path(),
            &["venue_outcome_unknown", "binance-usdm", "POST order"]
        ),
        "the lost answers are logged with their code"
    );
    drop(gw);
    assert_no_secret_written(dir.path());
}

#[test]
fn an_order_the_venue_never_took_is_sent_again_after_its_deadline_with_the_same_id() {
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "");
    for (i, f) in [
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"unknown","placed":false,"count":1}"#,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"error_before","count":1}"#,
    ]
    .iter()
    .enumerate()
    {
        fault(&emu, f);
        let posts = order_posts(&emu, USDM_ORDER);
        let started = Instant::now();
        let id = accepted(&gw, &format!("never-{i}"), "buy", "0.01");
        wait_for(f, 20, || settled(dir.path(), &id));
        let s = states(dir.path(), &id);
        assert!(s.contains(&"not_placed".to_string()), "{f}: {s:?}");
        assert_eq!(orders_with(&emu, &id).len(), 1, "{f}");
        assert_eq!(order_posts(&emu, USDM_ORDER), posts + 2, "{f}");
        // Not before the first request's recvWindow (1 s) and two
        // "does not exist" answers 300 ms apart.
        assert!(
            started.elapsed() >= Duration::from_millis(1300),
            "{f}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn rate_limits_and_bans_delay_an_order_but_never_duplicate_it() {
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "");
    fault(
        &emu,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"rate_limit","retry_after_s":1,"count":1}"#,
    );
    let started = Instant::now();
    let (_, answer) = post(&gw, "limited", "buy", "0.01");
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("placed after the 429", 20, || settled(dir.path(), &id));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(orders_with(&emu, &id).len(), 1);
    assert_eq!(order_posts(&emu, USDM_ORDER), 2);
    let s = states(dir.path(), &id);
    assert_eq!(
        s,
        ["intent", "sent", "not_sent", "intent", "sent", "filled"]
    );
    // The 429 counted once, by its stable code, and logged with it.
    let (errors, states) = (
        "alertgate_venue_errors_total{venue=\"binance-usdm\"",
        "alertgate_venue_order_states_total{venue=\"binance-usdm\"",
    );
    wait_for_metrics(
        &gw,
        &[
            &format!("{errors},code=\"venue_rate_limited\"}} 1"),
            &format!("{states},state=\"intent\"}} 2"),
            &format!("{states},state=\"sent\"}} 2"),
            &format!("{states},state=\"not_sent\"}} 1"),
            &format!("{states},state=\"filled\"}} 1"),
        ],
    );
    assert!(
        gw_log_has(
            dir.path(),
            &["WARN", "venue_rate_limited", "binance-usdm", "POST order"]
        ),
        "the 429 is logged with its code"
    );
    drop(gw);
    assert_no_secret_written(dir.path());
}

#[test]
fn kill_9_between_an_orders_post_and_its_answer_then_restart_places_it_once() {
    let mut s = setup("binance-usdm", "");
    // The venue places the order, then takes 5 s to answer: the gateway is
    // killed while it waits.
    fault(
        &s.emu,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"slow","delay_ms":5000,"count":1}"#,
    );
    let id = accepted(&s.gw, "crash-1", "buy", "0.01");
    wait_for("the order on the venue", 20, || {
        orders_with(&s.emu, &id).len() == 1
    });
    assert_eq!(states(s.dir.path(), &id), ["intent", "sent"]);
    s.crash_and_restart();
    // Restarted: the unsettled intent is reconciled (found by query), and
    // the sender's retry of the alert is a replay.
    wait_for("reconciled", 20, || settled(s.dir.path(), &id));
    assert_eq!(
        states(s.dir.path(), &id).last().map(String::as_str),
        Some("resolved")
    );
    let (status, again) = post(&s.gw, "crash-1", "buy", "0.01");
    assert_eq!(status, 409, "{again}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(orders_with(&s.emu, &id).len(), 1);
    assert_eq!(order_posts(&s.emu, USDM_ORDER), 1, "never sent again");
    // Its fill, logged when the restart resolved it, with its alert.
    let intent_event = json_lines(&s.dir.path().join("orders.jsonl"))
        .into_iter()
        .find(|l| l["client_order_id"] == id.as_str() && l["state"] == "intent")
        .and_then(|l| l["event_id"].as_str().map(String::from))
        .expect("the intent names its alert");
    let fills: Vec<_> = json_lines(&s.dir.path().join("venue-fills.jsonl"))
        .into_iter()
        .filter(|f| f["fill"]["client_order_id"] == id.as_str())
        .collect();
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(fills[0]["fill"]["quantity"].as_f64(), Some(0.01));
    assert_eq!(
        fills[0]["fill"]["event_id"].as_str(),
        Some(intent_event.as_str())
    );
    stop(&mut s.gw.child);
    assert_no_secret_written(s.dir.path());
}

/// Every request the emulator received on a venue endpoint, faulted ones
/// too (its control endpoints are not counted).
fn venue_requests(emu: &Emulator) -> u64 {
    let counts = control(emu, "GET", "/emulator/requests", "");
    counts
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn kill_9_before_an_accepted_order_reached_the_venue_then_restart_sends_it_once() {
    let mut s = setup("binance-usdm", "");
    // Banned for 5 s (within `give_up_after_ms`): the accepted order waits
    // (not sent), then the gateway dies.
    fault(
        &s.emu,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"ban","retry_after_s":5,"count":1}"#,
    );
    let id = accepted(&s.gw, "crash-2", "buy", "0.01");
    wait_for("refused by the ban", 20, || {
        states(s.dir.path(), &id).contains(&"not_sent".to_string())
    });
    // Waiting out the ban: nothing on the venue yet.
    assert!(orders_with(&s.emu, &id).is_empty());
    assert_eq!(states(s.dir.path(), &id), ["intent", "sent", "not_sent"]);
    // The ban is kept beside the order log, to outlive the crash.
    let ban: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.dir.path().join("orders.jsonl.ban")).unwrap(),
    )
    .unwrap();
    assert_eq!(ban["banned"], true, "{ban}");
    let until = ban["until_ms"].as_i64().unwrap();
    assert!(until > now_ms() + 1_000, "{ban}");
    let before = venue_requests(&s.emu);
    s.crash_and_restart();
    // Restarted within the ban: nothing reaches the venue before it ends,
    // not the start-up clock and rules reads, not the order left not sent
    // (Binance lengthens the bans of those who keep knocking).
    assert!(now_ms() < until - 1_000, "restarted within the ban");
    while now_ms() < until - 200 {
        assert_eq!(venue_requests(&s.emu), before, "a request during the ban");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for("sent after the ban", 20, || settled(s.dir.path(), &id));
    assert!(now_ms() >= until);
    assert_eq!(orders_with(&s.emu, &id).len(), 1);
    assert_eq!(
        order_posts(&s.emu, USDM_ORDER),
        2,
        "the banned try and the one after the ban"
    );
}

/// A signed `GET /fapi/v2/account` with `timestamp` (local clock, ms)
/// and `recvWindow=1000`: (status, body).
fn account_at(emu: &Emulator, timestamp: i64) -> (u16, serde_json::Value) {
    let query =
        alertgate_gateway::venue::binance::signed_query(&[], 1000, timestamp, SECRET.as_bytes());
    let headers = [("X-MBX-APIKEY", KEY.to_string())];
    let path = format!("/fapi/v2/account?{query}");
    let (status, text) = http(emu.port, "GET", &path, &headers, b"").unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

#[test]
fn a_venue_clock_30_s_ahead_or_behind_is_measured_and_every_signed_request_carries_it() {
    for offset in [30_000_i64, -30_000] {
        let emu = emulator_with(
            "binance-usdm",
            0,
            &["--clock-offset-ms", &offset.to_string()],
        );
        // Signed on the local clock, a request is refused: far outside
        // `recv_window_ms = 1000` of the venue's clock. Only the measured
        // offset lets the gateway place anything.
        let (status, body) = account_at(&emu, now_ms());
        assert_eq!(
            (status, body["code"].as_i64()),
            (400, Some(-1021)),
            "{offset}: {body}"
        );
        assert_eq!(account_at(&emu, now_ms() + offset).0, 200, "{offset}");
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), "binance-usdm", &emu, "");
        let mut gw = gateway(&config, &dir.path().join("gw.log"));
        let id = accepted(&gw, &format!("skewed{offset}"), "buy", "0.01");
        wait_for("placed", 20, || settled(dir.path(), &id));
        assert_eq!(
            states(dir.path(), &id),
            ["intent", "sent", "filled"],
            "{offset}: placed at the first try"
        );
        assert_eq!(orders_with(&emu, &id).len(), 1);
        assert_eq!(order_posts(&emu, USDM_ORDER), 1);
        // The intent's signed timestamp is on the venue's clock.
        let intent = json_lines(&dir.path().join("orders.jsonl"))
            .into_iter()
            .find(|l| l["client_order_id"] == id.as_str() && l["state"] == "intent")
            .unwrap();
        let skew = intent["timestamp_ms"].as_i64().unwrap() - intent["at_ms"].as_i64().unwrap();
        assert!((skew - offset).abs() < 1_000, "{offset}: {intent}");
        stop(&mut gw.child);
    }
}

#[test]
fn a_venue_down_at_start_holds_orders_until_it_answers() {
    // A port with nothing behind it yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let placeholder = Emulator {
        child: Command::new("true").spawn().unwrap(),
        port,
    };
    let config = config(dir.path(), "binance-usdm", &placeholder, "");
    let gw = gateway(&config, &dir.path().join("gw.log"));
    let id = accepted(&gw, "early", "buy", "0.01");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        states(dir.path(), &id).is_empty(),
        "nothing sent without rules"
    );
    let emu = emulator_on("binance-usdm", port);
    wait_for("placed once the venue answers", 30, || {
        settled(dir.path(), &id)
    });
    let log = json_lines(&dir.path().join("orders.jsonl"));
    assert_eq!(orders_with(&emu, &id).len(), 1, "{log:?}");
    assert_eq!(states(dir.path(), &id), ["intent", "sent", "filled"]);
}

#[test]
fn an_order_that_cannot_be_placed_in_time_is_abandoned_not_sent_late() {
    let emu = emulator("binance-usdm");
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        &config(
            dir.path(),
            "binance-usdm",
            &emu,
            "give_up_after_ms = 3000\n",
        ),
        &dir.path().join("gw.log"),
    );
    // Banned past the give-up time: given up at once, never sent late.
    fault(
        &emu,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"ban","retry_after_s":30,"count":1}"#,
    );
    let (_, answer) = post(&gw, "late", "buy", "0.01");
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("abandoned", 20, || {
        states(dir.path(), &id)
            .last()
            .is_some_and(|s| s == "abandoned")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(orders_with(&emu, &id).is_empty());
    assert_eq!(order_posts(&emu, USDM_ORDER), 1);
    // The 418 counted by the venue's client, the giving up by the stage.
    let errors = "alertgate_venue_errors_total{venue=\"binance-usdm\"";
    wait_for_metrics(
        &gw,
        &[
            &format!("{errors},code=\"venue_banned\"}} 1"),
            &format!("{errors},code=\"venue_not_sent\"}} 1"),
            "alertgate_venue_order_states_total{venue=\"binance-usdm\",state=\"abandoned\"} 1",
        ],
    );
    assert!(gw_log_has(dir.path(), &["venue_banned", "POST order"]));
}

#[test]
fn orders_the_venue_would_refuse_are_refused_in_the_answer_and_never_sent() {
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "");
    // Once an order has been placed, the venue's rules are known.
    let (_, first) = post(&gw, "good", "buy", "0.01");
    let first = first["order_id"].as_str().unwrap().to_string();
    wait_for("the first order", 20, || settled(dir.path(), &first));
    // Below the 0.001 step; 0.001 BTC = 50 USDT, below the 100 USDT
    // minimum notional; a symbol the venue does not list.
    for (event, symbol, quantity, code) in [
        ("tiny", "BTCUSDT", "0.0004", "venue_quantity_below_step"),
        ("small", "BTCUSDT", "0.001", "venue_below_min_notional"),
        ("unlisted", "SOLUSDT", "1", "venue_unknown_symbol"),
    ] {
        for attempt in 0..2 {
            // Refused, not remembered: the retry is decided afresh (not a
            // replay of an order that never existed).
            let (status, answer) = post_symbol(&gw, event, symbol, quantity);
            assert_eq!(
                (status, answer["code"].as_str()),
                (422, Some(code)),
                "{event} attempt {attempt}: {answer}"
            );
        }
    }
    let journal = json_lines(&dir.path().join("journal.jsonl"));
    let refused = journal
        .iter()
        .map(|l| l["decision"].to_string())
        .filter(|d| d.contains("venue_") && d.contains("422"))
        .count();
    assert_eq!(refused, 6, "every refusal journaled with its code");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        order_posts(&emu, USDM_ORDER),
        1,
        "only the good order was sent"
    );
    assert_eq!(all_orders(&emu), 1);
}

#[test]
fn an_order_sized_by_the_gateway_that_breaks_the_rules_is_refused_in_the_answer() {
    let emu = emulator("binance-usdm");
    let dir = tempfile::tempdir().unwrap();
    // `equity_pct` sizing: the quantity is the gateway's, from the
    // account: 0.001 % of 10,000 USDT at 50,000 is 0.000002 BTC, below
    // the 0.001 step. The stage sizes it before the answer.
    let rest = "[sizing]\nmode = \"equity_pct\"\nequity_pct = \"0.001\"\n";
    let gw = gateway(
        &config(dir.path(), "binance-usdm", &emu, rest),
        &dir.path().join("gw.log"),
    );
    wait_for_rules(dir.path());
    for attempt in 0..2 {
        // Refused, not remembered: the retry is decided afresh.
        let (status, answer) = post(&gw, "tiny", "buy", "0.01");
        assert_eq!(
            (status, answer["code"].as_str()),
            (422, Some("venue_quantity_below_step")),
            "attempt {attempt}: {answer}"
        );
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains("0.001"), "names the step: {answer}");
    }
    let journal = json_lines(&dir.path().join("journal.jsonl"));
    let decisions: Vec<String> = journal.iter().map(|l| l["decision"].to_string()).collect();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert!(
        decisions
            .iter()
            .all(|d| d.contains("venue_quantity_below_step")),
        "journaled refused, never accepted: {decisions:?}"
    );
    let orders = dir.path().join("orders.jsonl");
    assert!(
        json_lines(&orders).is_empty(),
        "nothing reached the order log"
    );
    // A venue too slow to size it in time (its account answered after
    // 3 s): accepted within the check's second, then refused by its
    // execution, before sending, as without the check.
    fault(
        &emu,
        r#"{"method":"GET","path":"/fapi/v3/account","fault":"slow","delay_ms":3000,"count":1}"#,
    );
    let started = Instant::now();
    let (status, answer) = post(&gw, "slow", "buy", "0.01");
    let took = started.elapsed();
    assert_eq!(status, 200, "{answer}");
    assert!(took < Duration::from_millis(2_000), "answered in {took:?}");
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("refused", 20, || settled(dir.path(), &id));
    let line = json_lines(&orders)
        .into_iter()
        .find(|l| l["client_order_id"] == id)
        .unwrap();
    assert_eq!(
        (line["state"].as_str(), line["code"].as_str()),
        (Some("rejected"), Some("venue_quantity_below_step"))
    );
    assert_eq!(order_posts(&emu, USDM_ORDER), 0);
    let metrics = http(gw.port, "GET", "/metrics", &[], b"").unwrap().1;
    assert!(
        metrics.contains("code=\"venue_quantity_below_step\"} 1"),
        "{metrics}"
    );
}

#[test]
fn a_duplicate_sent_while_its_first_request_is_decided_is_told_to_retry_not_that_it_was_accepted() {
    // `equity_pct` sizing too small for the step: the first request is
    // refused once its stage has sized it, which takes ~600 ms here (the
    // venue's account answered slowly). A duplicate sent meanwhile must not
    // be answered `409 replayed` with an order that will never exist.
    let emu = emulator("binance-usdm");
    let dir = tempfile::tempdir().unwrap();
    let rest = "[sizing]\nmode = \"equity_pct\"\nequity_pct = \"0.001\"\n";
    let gw = gateway(
        &config(dir.path(), "binance-usdm", &emu, rest),
        &dir.path().join("gw.log"),
    );
    wait_for_rules(dir.path());
    fault(
        &emu,
        r#"{"method":"GET","path":"/fapi/v3/account","fault":"slow","delay_ms":600,"count":1}"#,
    );
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","order_type":"market","quantity":"0.01","price":"50000","timestamp":{},"event_id":"dup"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let send = |headers: Vec<(&'static str, String)>, body: String, port: u16| {
        std::thread::spawn(move || {
            let (status, text) = http(port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
            (
                status,
                serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            )
        })
    };
    let first = send(headers.clone(), body.clone(), gw.port);
    std::thread::sleep(Duration::from_millis(200));
    let duplicate = send(headers.clone(), body.clone(), gw.port).join().unwrap();
    let first = first.join().unwrap();
    assert_eq!(
        (first.0, first.1["code"].as_str()),
        (422, Some("venue_quantity_below_step")),
        "{first:?}"
    );
    assert_eq!(
        (duplicate.0, duplicate.1["code"].as_str()),
        (503, Some("decision_pending")),
        "{duplicate:?}"
    );
    // Retried once the first has settled: decided afresh, not a replay.
    let again = send(headers, body, gw.port).join().unwrap();
    assert_eq!(
        again.1["code"].as_str(),
        Some("venue_quantity_below_step"),
        "{again:?}"
    );
    let journal = json_lines(&dir.path().join("journal.jsonl"));
    let codes: Vec<String> = journal.iter().map(|l| l["decision"].to_string()).collect();
    assert!(
        codes.iter().any(|c| c.contains("decision_pending")),
        "{codes:?}"
    );
    assert!(!codes.iter().any(|c| c.contains("replayed")), "{codes:?}");
    assert_eq!(order_posts(&emu, USDM_ORDER), 0);
}

#[test]
fn target_sizing_orders_the_difference_and_reduces_only_what_it_closes() {
    let emu = emulator("binance-usdm");
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        &config(
            dir.path(),
            "binance-usdm",
            &emu,
            "[sizing]\nmode = \"target\"\n",
        ),
        &dir.path().join("gw.log"),
    );
    let target = |event: &str, side: &str, position: &str| {
        let body = format!(
            r#"{{"symbol":"BTCUSDT","side":"{side}","order_type":"market","quantity":"0.01","price":"50000","position_size":"{position}","timestamp":{},"event_id":"{event}"}}"#,
            now_s() * 1000
        );
        let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
        let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
        assert_eq!(status, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let id = v["order_id"].as_str().unwrap().to_string();
        wait_for(event, 20, || {
            settled(dir.path(), &id) || gw_log_says(dir.path(), &id, "nothing sent")
        });
        orders_with(&emu, &id)
    };
    // Flat → long 0.03: one buy of 0.03.
    let o = target("t1", "buy", "0.03");
    assert_eq!(
        (
            o.len(),
            o[0]["quantity"].as_str(),
            o[0]["reduce_only"].as_bool()
        ),
        (1, Some("0.03"), Some(false)),
        "{o:?}"
    );
    // The same position again: nothing to order.
    let o = target("t2", "buy", "0.03");
    assert!(o.is_empty(), "{o:?}");
    // Long 0.03 → 0.0304: 0.0004 to buy, below the 0.001 step: refused in
    // the answer, sized by the stage from the venue's position.
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","order_type":"market","quantity":"0.01","price":"50000","position_size":"0.0304","timestamp":{},"event_id":"t2b"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("venue_quantity_below_step"), "{text}");
    // Long 0.03 → 0.01: a reduce-only sell of 0.02.
    let o = target("t3", "sell", "0.01");
    assert_eq!(
        (
            o[0]["side"].as_str(),
            o[0]["quantity"].as_str(),
            o[0]["reduce_only"].as_bool()
        ),
        (Some("SELL"), Some("0.02"), Some(true)),
        "{o:?}"
    );
    // Long 0.01 → short 0.02: one sell of 0.03, not reduce-only.
    let o = target("t4", "sell", "-0.02");
    assert_eq!(
        (o[0]["quantity"].as_str(), o[0]["reduce_only"].as_bool()),
        (Some("0.03"), Some(false)),
        "{o:?}"
    );
    assert_eq!(order_posts(&emu, USDM_ORDER), 3);
}

#[test]
fn a_position_worth_less_than_the_minimum_notional_is_closed_reduce_only() {
    // USDⓈ-M waives its minimum notional (100 USDT here; 0.001 BTC at
    // 50,000 is worth 50) for a reduce-only order: a small remainder of a
    // position can always be closed.
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "");
    let long = accepted(&gw, "long", "buy", "0.003");
    wait_for("the long", 20, || settled(dir.path(), &long));
    let trim = accepted(&gw, "trim", "sell", "0.002");
    wait_for("the trim", 20, || settled(dir.path(), &trim));
    // Long 0.001: a buy of 0.001 adds to it, and is refused in the
    // answer (sized by the stage, which knows the position).
    let (status, answer) = post(&gw, "add", "buy", "0.001");
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("venue_below_min_notional")),
        "{answer}"
    );
    // A sell of 0.001 closes it, reduce-only.
    let close = accepted(&gw, "close", "sell", "0.001");
    wait_for("the close", 20, || settled(dir.path(), &close));
    let o = orders_with(&emu, &close);
    assert_eq!(
        (
            o.len(),
            o[0]["quantity"].as_str(),
            o[0]["reduce_only"].as_bool()
        ),
        (1, Some("0.001"), Some(true)),
        "{o:?}"
    );
    assert_eq!(order_posts(&emu, USDM_ORDER), 3);
}

#[test]
fn leverage_and_margin_types_are_set_at_start_and_checked() {
    let rest = "leverage = { \"BTC/USDT\" = 5 }\n\
                margin_type = { \"BTC/USDT\" = \"isolated\", \"ETH/USDT\" = \"isolated\" }\n";
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", rest);
    // Set before the first order goes out.
    let id = accepted(&gw, "lev-1", "buy", "0.01");
    wait_for("filled", 20, || settled(dir.path(), &id));
    let set = control(&emu, "GET", "/emulator/account-settings", "");
    assert_eq!(set["leverage"]["BTCUSDT"], 5, "{set}");
    assert_eq!(set["margin_type"]["BTCUSDT"], "ISOLATED", "{set}");
    assert_eq!(set["margin_type"]["ETHUSDT"], "ISOLATED", "{set}");
    assert_eq!(order_posts_with(&emu, "POST", "/fapi/v1/marginType"), 2);
    drop(gw);
    // A margin type the venue cannot change while a position is open
    // (-4048): the set-up fails, every order is refused, `/readyz` says so.
    let config = config(
        dir.path(),
        "binance-usdm",
        &emu,
        "margin_type = { \"BTC/USDT\" = \"cross\" }\n",
    );
    let gw = gateway(&config, &dir.path().join("gw2.log"));
    let (status, answer) = (0..50)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            http(gw.port, "GET", "/readyz", &[], b"").unwrap()
        })
        .find(|(status, _)| *status == 503)
        .expect("readyz names the failed set-up");
    assert_eq!(status, 503);
    assert!(answer.contains("set-up failed"), "{answer}");
    let set = control(&emu, "GET", "/emulator/account-settings", "");
    assert_eq!(
        set["margin_type"]["BTCUSDT"], "ISOLATED",
        "unchanged: {set}"
    );
}

#[test]
fn near_the_venues_order_limit_new_orders_wait_for_the_next_window_and_never_meet_a_429() {
    // The venue allows 4 new orders per 10 s window (announced in
    // exchangeInfo; a fifth is refused 429 -1015). Six alerts at once: the
    // gateway sends four, sees the order count reach its limit in the
    // answers' X-MBX-ORDER-COUNT-10S, and holds the rest until the next
    // window: every order placed once, none refused by the venue.
    let emu = emulator::start(
        &[
            "--kind",
            "binance-usdm",
            "--listen",
            "127.0.0.1:0",
            "--key-env",
            "EMU_KEY",
            "--secret-env",
            "EMU_SECRET",
            "--price",
            "BTCUSDT=50000",
            "--orders-per-10s",
            "4",
        ],
        &[("EMU_KEY", KEY), ("EMU_SECRET", SECRET)],
    );
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        &config(dir.path(), "binance-usdm", &emu, ""),
        &dir.path().join("gw.log"),
    );
    let ids: Vec<String> = (0..6)
        .map(|i| accepted(&gw, &format!("burst-{i}"), "buy", "0.01"))
        .collect();
    wait_for("all six placed", 40, || {
        ids.iter().all(|id| settled(dir.path(), id))
    });
    let mut times = Vec::new();
    for id in &ids {
        let o = orders_with(&emu, id);
        assert_eq!(o.len(), 1, "{id} placed once: {o:?}");
        times.push(o[0]["time_ms"].as_i64().unwrap());
    }
    assert_eq!(
        order_posts(&emu, USDM_ORDER),
        6,
        "no POST refused or repeated"
    );
    let windows: std::collections::BTreeSet<i64> = times.iter().map(|t| t / 10_000).collect();
    assert!(windows.len() >= 2, "held to the next window: {times:?}");
    let metrics = http(gw.port, "GET", "/metrics", &[], b"").unwrap().1;
    assert!(
        !metrics.lines().any(
            |l| l.starts_with("alertgate_venue_requests_total") && l.contains("status=\"429\"")
        ),
        "the venue never had to refuse: {metrics}"
    );
}

/// Waits until the gateway logging to `dir/gw.log` has read its venue's
/// clock and rules: its stage sizes orders from then on.
fn wait_for_rules(dir: &Path) {
    wait_for("the venue's rules", 20, || {
        std::fs::read_to_string(dir.join("gw.log"))
            .unwrap_or_default()
            .contains("venue clock and rules read")
    });
}

/// A signed market alert for BTCUSDT with the target position `position`:
/// the answer's status, its body and how long it took.
fn post_target(gw: &Gateway, event: &str, position: &str) -> (u16, serde_json::Value, Duration) {
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","order_type":"market","quantity":"0.01","price":"50000","position_size":"{position}","timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let started = Instant::now();
    let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    let took = started.elapsed();
    (
        status,
        serde_json::from_str(&text).unwrap_or_default(),
        took,
    )
}

#[test]
fn a_target_alert_is_never_refused_on_a_guess_behind_an_order_in_flight_or_a_paused_venue() {
    let emu = emulator("binance-usdm");
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        &config(
            dir.path(),
            "binance-usdm",
            &emu,
            "[sizing]\nmode = \"target\"\n",
        ),
        &dir.path().join("gw.log"),
    );
    wait_for_rules(dir.path());
    // Flat → long 0.03, whose POST the venue answers after 2 s. A target
    // of 0.0004 right behind it is, from flat, below the step; from 0.03 it
    // is a sell of 0.0296. Sized before the first order is done it would be
    // refused on a guess: it must be accepted, and sized when it executes.
    fault(
        &emu,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"slow","delay_ms":2000,"count":1}"#,
    );
    let (status, first, _) = post_target(&gw, "t1", "0.03");
    assert_eq!(status, 200, "{first}");
    let (status, second, took) = post_target(&gw, "t2", "0.0004");
    assert_eq!(status, 200, "not refused on a guess: {second}");
    assert!(took < Duration::from_millis(2_000), "answered in {took:?}");
    let first = first["order_id"].as_str().unwrap().to_string();
    let second = second["order_id"].as_str().unwrap().to_string();
    wait_for("both placed", 20, || {
        settled(dir.path(), &first) && settled(dir.path(), &second)
    });
    let o = orders_with(&emu, &second);
    assert_eq!(
        (o[0]["side"].as_str(), o[0]["quantity"].as_str()),
        (Some("SELL"), Some("0.029")),
        "{o:?}"
    );
    // Long 0.001 (0.0296 rounded down to the step: 0.029 sold). The venue
    // paused (SIGSTOP): a target of 0.0014 (0.0004 more, below the step)
    // cannot be sized in time: accepted within size_check_ms, then refused
    // by its execution once the venue is back.
    emu.signal("STOP");
    let (status, third, took) = post_target(&gw, "t3", "0.0014");
    emu.signal("CONT");
    assert_eq!(status, 200, "{third}");
    assert!(took < Duration::from_millis(2_000), "answered in {took:?}");
    let third = third["order_id"].as_str().unwrap().to_string();
    wait_for("refused when executed", 30, || settled(dir.path(), &third));
    let line = json_lines(&dir.path().join("orders.jsonl"))
        .into_iter()
        .rfind(|l| l["client_order_id"] == third)
        .unwrap();
    assert_eq!(
        (line["state"].as_str(), line["code"].as_str()),
        (Some("rejected"), Some("venue_quantity_below_step"))
    );
    // With nothing ahead and the venue answering, the same alert is
    // refused in the answer.
    let (status, fourth, _) = post_target(&gw, "t4", "0.0014");
    assert_eq!(
        (status, fourth["code"].as_str()),
        (422, Some("venue_quantity_below_step")),
        "{fourth}"
    );
    assert_eq!(order_posts(&emu, USDM_ORDER), 2);
}

/// Whether the gateway's log says `what` about `id`.
/// Waits until `/metrics` shows every one of `lines` (a counter is
/// bumped just after the change it counts is written).
fn wait_for_metrics(gw: &Gateway, lines: &[&str]) {
    let mut metrics = String::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        metrics = http(gw.port, "GET", "/metrics", &[], b"").unwrap().1;
        if lines.iter().all(|l| metrics.contains(&format!("{l}\n"))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{lines:?} not all in {metrics}");
}

/// Whether the gateway's log has a line holding every one of `words`.
fn gw_log_has(dir: &Path, words: &[&str]) -> bool {
    std::fs::read_to_string(dir.join("gw.log"))
        .unwrap_or_default()
        .lines()
        .any(|l| words.iter().all(|w| l.contains(w)))
}

fn gw_log_says(dir: &Path, id: &str, what: &str) -> bool {
    std::fs::read_to_string(dir.join("gw.log"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(id) && l.contains(what))
}

#[test]
fn spot_orders_are_placed_with_their_fills() {
    let emu = emulator("binance-spot");
    let dir = tempfile::tempdir().unwrap();
    let mut gw = gateway(
        &config(dir.path(), "binance-spot", &emu, ""),
        &dir.path().join("gw.log"),
    );
    let id = accepted(&gw, "spot-1", "buy", "0.01");
    wait_for("filled", 20, || settled(dir.path(), &id));
    let filled = json_lines(&dir.path().join("orders.jsonl"))
        .into_iter()
        .rfind(|l| l["client_order_id"] == id)
        .unwrap();
    assert_eq!(filled["state"], "filled", "{filled}");
    assert_eq!(filled["report"]["executed_quantity"], "0.01", "{filled}");
    assert_eq!(order_posts(&emu, "/api/v3/order"), 1);
    stop(&mut gw.child);
    assert_no_secret_written(dir.path());
}

/// A signed alert with a bracket: (status, answer).
fn post_bracketed(
    gw: &Gateway,
    event: &str,
    order_type: &str,
    stop_loss: &str,
    take_profit: &str,
) -> (u16, serde_json::Value) {
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","order_type":"{order_type}","quantity":"0.01","price":"50000","stop_loss":"{stop_loss}","take_profit":"{take_profit}","timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

fn algo_orders(emu: &Emulator) -> Vec<serde_json::Value> {
    control(emu, "GET", "/emulator/algo-orders", "")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_bracket_becomes_reduce_only_venue_orders_cancelled_when_the_position_closes() {
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "");
    let (status, answer) = post_bracketed(&gw, "br-1", "market", "49000", "52000");
    assert_eq!(status, 200, "{answer}");
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("both legs", 20, || algo_orders(&emu).len() == 2);
    let legs = algo_orders(&emu);
    for leg in &legs {
        assert_eq!(
            (
                leg["side"].as_str(),
                leg["quantity"].as_str(),
                leg["reduce_only"].as_bool(),
                leg["status"].as_str()
            ),
            (Some("SELL"), Some("0.01"), Some(true), Some("NEW")),
            "{leg}"
        );
    }
    let mut kinds: Vec<&str> = legs
        .iter()
        .map(|l| l["order_type"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["STOP_MARKET", "TAKE_PROFIT_MARKET"]);
    assert_eq!(orders_with(&emu, &id).len(), 1);
    // Flattened: the legs are cancelled before the closing order.
    let (status, close) = post(&gw, "br-close", "sell", "0.01");
    assert_eq!(status, 200, "{close}");
    let close = close["order_id"].as_str().unwrap().to_string();
    wait_for("closed", 20, || settled(dir.path(), &close));
    let statuses: Vec<String> = algo_orders(&emu)
        .iter()
        .map(|l| l["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["CANCELED", "CANCELED"]);
    assert_eq!(algo_orders(&emu).len(), 2, "no leg placed twice");
}

/// The emulator's spot order lists and their stop-loss / take-profit legs.
fn order_lists(emu: &Emulator) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let all = control(emu, "GET", "/emulator/order-lists", "");
    let of = |k: &str| all[k].as_array().cloned().unwrap_or_default();
    (of("lists"), of("stops"))
}

/// A spot gateway whose first bracketed market buy of 0.01 BTC (with a
/// fee of `fee_rate` taken in BTC) is protected by its OCO list: the
/// setup and the entry's id.
fn spot_protected(rest: &str, fee_rate: &str) -> (Setup, String) {
    let s = setup("binance-spot", rest);
    let fees = format!(r#"{{"spot_fee_rate":"{fee_rate}"}}"#);
    control(&s.emu, "POST", "/emulator/fees", &fees);
    let (status, answer) = post_bracketed(&s.gw, "spot-br", "market", "49000", "52000");
    assert_eq!(status, 200, "{answer}");
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("the OCO list", 20, || order_lists(&s.emu).0.len() == 1);
    (s, id)
}

#[test]
fn a_spot_buy_with_a_bracket_is_protected_by_one_oco_on_what_it_filled() {
    // 0.1 % of the 0.01 BTC bought is taken as commission: 0.00999 held.
    let (Setup { emu, dir, gw, .. }, id) = spot_protected("follow_brackets_ms = 200\n", "0.001");
    let (lists, stops) = order_lists(&emu);
    assert_eq!(lists[0]["done"], false, "{lists:?}");
    let mut legs: Vec<(String, String, String, String)> = stops
        .iter()
        .map(|l| {
            let f = |k: &str| l[k].as_str().unwrap_or_default().to_string();
            (f("type"), f("side"), f("quantity"), f("stop"))
        })
        .collect();
    legs.sort();
    let leg = |t: &str, stop: &str| (t.into(), "SELL".into(), "0.00999".into(), stop.into());
    assert_eq!(
        legs,
        [leg("STOP_LOSS", "49000"), leg("TAKE_PROFIT", "52000")]
    );
    assert_eq!(orders_with(&emu, &id).len(), 1, "the entry once");
    assert_eq!(order_posts(&emu, "/api/v3/orderList/oco"), 1);
    // Spot has no short: a sell with a bracket is refused, said plainly.
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"sell","order_type":"market","quantity":"0.01","price":"50000","stop_loss":"52000","timestamp":{},"event_id":"spot-short"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("venue_brackets_unsupported") && text.contains("no short"),
        "{text}"
    );
    // The price reaches the take-profit: the venue executes that leg and
    // cancels the other; the gateway logs the fill, nothing stays working.
    control(
        &emu,
        "POST",
        "/emulator/price",
        r#"{"symbol":"BTCUSDT","price":"52000"}"#,
    );
    let fills_file = dir.path().join("venue-fills.jsonl");
    wait_for("the take-profit fill logged", 20, || {
        json_lines(&fills_file).len() == 2
    });
    let fills = json_lines(&fills_file);
    assert_eq!(
        fills[1]["fill"]["reason"], "bracket_take_profit",
        "{fills:?}"
    );
    assert_eq!(
        fills[1]["fill"]["quantity"].as_f64(),
        Some(0.00999),
        "{fills:?}"
    );
    let (lists, stops) = order_lists(&emu);
    assert_eq!(lists[0]["done"], true, "{lists:?}");
    let mut statuses: Vec<&str> = stops
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["CANCELED", "FILLED"]);
    let list_id = lists[0]["list_client_order_id"].as_str().unwrap();
    assert_eq!(
        states(dir.path(), list_id).last().map(String::as_str),
        Some("filled")
    );
}

#[test]
fn a_spot_sell_closing_the_long_cancels_its_working_list_first() {
    let (Setup { emu, dir, gw, .. }, _) = spot_protected("", "0");
    // The list holds the BTC: the sell could not execute beside it.
    let close = accepted(&gw, "spot-close", "sell", "0.01");
    wait_for("closed", 20, || settled(dir.path(), &close));
    let closed = states(dir.path(), &close);
    assert_eq!(
        closed.last().map(String::as_str),
        Some("filled"),
        "{closed:?}"
    );
    let (lists, stops) = order_lists(&emu);
    assert_eq!(lists[0]["done"], true, "{lists:?}");
    assert!(stops.iter().all(|l| l["status"] == "CANCELED"), "{stops:?}");
    let list_id = lists[0]["list_client_order_id"].as_str().unwrap();
    assert_eq!(
        states(dir.path(), list_id).last().map(String::as_str),
        Some("cancelled")
    );
}

#[test]
fn a_lost_oco_answer_is_resolved_by_query_and_the_list_placed_once() {
    let s = setup("binance-spot", "");
    fault(
        &s.emu,
        r#"{"method":"POST","path":"/api/v3/orderList/oco","fault":"lose_answer","count":1}"#,
    );
    let (status, answer) = post_bracketed(&s.gw, "spot-lost", "market", "49000", "52000");
    assert_eq!(status, 200, "{answer}");
    wait_for("the OCO list", 20, || order_lists(&s.emu).0.len() == 1);
    let list_id = order_lists(&s.emu).0[0]["list_client_order_id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("the list resolved", 20, || settled(s.dir.path(), &list_id));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        order_posts(&s.emu, "/api/v3/orderList/oco"),
        1,
        "never resent"
    );
    assert_eq!(order_lists(&s.emu).0.len(), 1);
    let seen = states(s.dir.path(), &list_id);
    assert_eq!(
        seen.last().map(String::as_str),
        Some("resolved"),
        "{seen:?}"
    );
}

#[test]
fn equity_pct_sizing_orders_a_share_of_the_accounts_equity() {
    // 5 % of the emulator's 10,000 USDT wallet at the venue's mark of
    // 40,000 (the alert says 50,000): 0.0125 BTC, 0.012 on the 0.001 step,
    // whatever the alert's own quantity.
    let Setup { emu, dir, gw, .. } = setup(
        "binance-usdm",
        "[sizing]\nmode = \"equity_pct\"\nequity_pct = \"5\"\n",
    );
    control(
        &emu,
        "POST",
        "/emulator/price",
        r#"{"symbol":"BTCUSDT","price":"40000"}"#,
    );
    let id = accepted(&gw, "pct", "buy", "3");
    wait_for("placed", 20, || settled(dir.path(), &id));
    let placed = orders_with(&emu, &id);
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0]["quantity"].as_str(), Some("0.012"), "{placed:?}");
    // Its fill, in the paper venue's line format.
    let fills = json_lines(&dir.path().join("venue-fills.jsonl"));
    assert_eq!(fills.len(), 1, "{fills:?}");
    let fill = &fills[0]["fill"];
    assert_eq!(
        (
            fill["client_order_id"].as_str(),
            fill["quantity"].as_f64(),
            fill["price"].as_f64(),
            fill["reason"].as_str()
        ),
        (
            Some(id.as_str()),
            Some(0.012),
            Some(40000.0),
            Some("market")
        ),
        "{fill}"
    );
    // A second order: the position read before it is exported.
    let second = accepted(&gw, "pct-2", "buy", "3");
    wait_for("placed", 20, || settled(dir.path(), &second));
    let metrics = http(gw.port, "GET", "/metrics", &[], b"").unwrap().1;
    assert!(
        metrics
            .contains("alertgate_venue_position{venue=\"binance-usdm\",symbol=\"BTC/USDT\"} 0.012"),
        "{metrics}"
    );
    assert!(metrics.contains("alertgate_fills_total 2"), "{metrics}");
}

#[test]
fn a_reversal_cancels_the_old_bracket_and_protects_the_new_position() {
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "");
    let (status, long) = post_bracketed(&gw, "rev-long", "market", "49000", "52000");
    assert_eq!(status, 200, "{long}");
    wait_for("long legs", 20, || algo_orders(&emu).len() == 2);
    // Sell 0.02 from long 0.01: short 0.01, with its own bracket (a buy
    // stop above, a buy take-profit below).
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"sell","order_type":"market","quantity":"0.02","price":"50000","stop_loss":"51000","take_profit":"48000","timestamp":{},"event_id":"rev-short"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    assert_eq!(status, 200, "{text}");
    let short: serde_json::Value = serde_json::from_str(&text).unwrap();
    let short = short["order_id"].as_str().unwrap().to_string();
    wait_for("short legs", 20, || algo_orders(&emu).len() == 4);
    assert!(settled(dir.path(), &short));
    let legs = algo_orders(&emu);
    let view: Vec<(&str, &str, &str)> = legs
        .iter()
        .map(|l| {
            (
                l["side"].as_str().unwrap(),
                l["status"].as_str().unwrap(),
                l["quantity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            ("SELL", "CANCELED", "0.01"),
            ("SELL", "CANCELED", "0.01"),
            ("BUY", "NEW", "0.01"),
            ("BUY", "NEW", "0.01"),
        ],
        "the new legs cover the new position (0.01), not all the reversal sold (0.02)"
    );
}

#[test]
fn a_strategy_trades_its_own_venue_while_the_others_paper_trade() {
    let emu = emulator("binance-usdm");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.toml");
    let text = format!(
        "[auth]\nscheme = \"timestamped\"\nsecrets_env = [\"{}\"]\n\
         [strategies.fut.venue]\nkind = \"binance-usdm\"\nbase_url = \"http://127.0.0.1:{}\"\n\
         key_env = \"E2E_VENUE_KEY\"\nsecret_env = \"E2E_VENUE_SECRET\"\n",
        common::SECRET_VAR,
        emu.port
    );
    std::fs::write(&path, text).unwrap();
    let gw = gateway(&path, &dir.path().join("gw.log"));
    let send = |route: &str, event: &str| {
        let body = format!(
            r#"{{"symbol":"BTCUSDT","side":"buy","order_type":"market","quantity":"0.01","price":"50000","timestamp":{},"event_id":"{event}"}}"#,
            now_s() * 1000
        );
        let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
        let (status, text) = http(gw.port, "POST", route, &headers, body.as_bytes()).unwrap();
        assert_eq!(status, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["order_id"].as_str().unwrap().to_string()
    };
    let live = send("/webhook/fut", "s-1");
    let paper = send("/webhook", "s-2");
    wait_for("the live order", 20, || {
        json_lines(&dir.path().join("orders-fut.jsonl"))
            .iter()
            .any(|l| l["client_order_id"] == live.as_str() && l["state"] == "filled")
    });
    wait_for("the paper order", 20, || {
        common::exchange_records(&dir.path().join("fills.jsonl"))
            .0
            .iter()
            .any(|s| s["client_order_id"] == paper.as_str())
    });
    assert_eq!(orders_with(&emu, &live).len(), 1);
    assert!(
        orders_with(&emu, &paper).is_empty(),
        "the paper order stayed on paper"
    );
    assert_eq!(all_orders(&emu), 1);
}

#[test]
fn when_one_leg_of_a_bracket_fills_the_other_is_cancelled() {
    let Setup { emu, dir, gw, .. } = setup("binance-usdm", "follow_brackets_ms = 200\n");
    let (status, answer) = post_bracketed(&gw, "oco", "market", "49000", "52000");
    assert_eq!(status, 200, "{answer}");
    wait_for("both legs", 20, || algo_orders(&emu).len() == 2);
    // The price falls through the stop: the venue triggers the stop-loss
    // leg; the gateway sees it filled and cancels the take-profit.
    control(
        &emu,
        "POST",
        "/emulator/price",
        r#"{"symbol":"BTCUSDT","price":"48000"}"#,
    );
    wait_for("the take-profit cancelled", 20, || {
        algo_orders(&emu)
            .iter()
            .any(|l| l["order_type"] == "TAKE_PROFIT_MARKET" && l["status"] == "CANCELED")
    });
    let legs = algo_orders(&emu);
    let stop = legs
        .iter()
        .find(|l| l["order_type"] == "STOP_MARKET")
        .unwrap();
    assert_eq!(stop["status"], "FINISHED", "{stop}");
    let fills = json_lines(&dir.path().join("venue-fills.jsonl"));
    let reasons: Vec<&str> = fills
        .iter()
        .map(|f| f["fill"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["market", "bracket_stop_loss"], "{fills:?}");
    // Bought at 50000, stopped out at 48000: -20, by the paper exchange's
    // accounting of these fills.
    let metrics = http(gw.port, "GET", "/metrics", &[], b"").unwrap().1;
    let pnl: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("alertgate_venue_realized_pnl{venue=\"binance-usdm\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!((pnl + 20.0).abs() < 1e-6, "{pnl}");
}

#[test]
fn kill_9_after_the_entry_before_its_bracket_then_restart_protects_it_once() {
    let mut s = setup("binance-usdm", "");
    // The entry fills; the first leg is placed but its answer takes 5 s:
    // the gateway dies in between, the second leg never sent.
    fault(
        &s.emu,
        r#"{"method":"POST","path":"/fapi/v1/algoOrder","fault":"slow","delay_ms":5000,"count":1}"#,
    );
    let (status, answer) = post_bracketed(&s.gw, "crash-br", "market", "49000", "52000");
    assert_eq!(status, 200, "{answer}");
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("the first leg on the venue", 20, || {
        algo_orders(&s.emu).len() == 1
    });
    s.crash_and_restart();
    // Restarted: the first leg is found, the second placed; none twice.
    wait_for("both legs", 20, || algo_orders(&s.emu).len() == 2);
    std::thread::sleep(Duration::from_millis(500));
    let legs = algo_orders(&s.emu);
    assert_eq!(legs.len(), 2, "{legs:?}");
    assert!(legs.iter().all(|l| l["status"] == "NEW"), "{legs:?}");
    assert_eq!(order_posts(&s.emu, "/fapi/v1/algoOrder"), 2);
    assert_eq!(orders_with(&s.emu, &id).len(), 1, "the entry once");
    assert_eq!(order_posts(&s.emu, USDM_ORDER), 1);
}

#[test]
fn fixed_sizing_orders_the_configured_quantity_whatever_the_alert_says() {
    let Setup { emu, dir, gw, .. } = setup(
        "binance-usdm",
        "[sizing]\nmode = \"fixed\"\nquantity = { \"BTC/USDT\" = \"0.005\" }\n",
    );
    // A buy of "3": the configured 0.005 is sent, not reduce-only.
    let buy = accepted(&gw, "fx-1", "buy", "3");
    wait_for("placed", 20, || settled(dir.path(), &buy));
    let o = orders_with(&emu, &buy);
    assert_eq!(
        (
            o.len(),
            o[0]["quantity"].as_str(),
            o[0]["reduce_only"].as_bool()
        ),
        (1, Some("0.005"), Some(false)),
        "{o:?}"
    );
    // A sell of "7" against that long: 0.005 again, and it only reduces.
    let sell = accepted(&gw, "fx-2", "sell", "7");
    wait_for("placed", 20, || settled(dir.path(), &sell));
    let o = orders_with(&emu, &sell);
    assert_eq!(
        (
            o.len(),
            o[0]["side"].as_str(),
            o[0]["quantity"].as_str(),
            o[0]["reduce_only"].as_bool()
        ),
        (1, Some("SELL"), Some("0.005"), Some(true)),
        "{o:?}"
    );
    // The quantity is known without the account, so it is checked in the
    // decision: a symbol with no configured quantity is refused in the
    // answer (and journaled), never sent.
    let (status, v) = post_symbol(&gw, "fx-3", "ETHUSDT", "1");
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("sizing_no_fixed_quantity")),
        "{v}"
    );
    let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    assert!(journal.contains("sizing_no_fixed_quantity"), "{journal}");
    assert_eq!(order_posts(&emu, USDM_ORDER), 2);
}

#[test]
fn a_fixed_quantity_the_rules_forbid_is_refused_in_the_answer() {
    let Setup { emu, dir, gw, .. } = setup(
        "binance-usdm",
        "[sizing]\nmode = \"fixed\"\nquantity = { \"BTC/USDT\" = \"0.0004\" }\n",
    );
    // Once the stage has read the venue's rules (until then it checks
    // each order itself), whatever the alert's quantity: the configured
    // 0.0004 is below the 0.001 step.
    wait_for("the rules read", 20, || {
        std::fs::read_to_string(dir.path().join("gw.log"))
            .is_ok_and(|log| log.contains("venue clock and rules read"))
    });
    let (status, v) = post(&gw, "fx-small", "buy", "5");
    assert_eq!(
        (status, v["code"].as_str()),
        (422, Some("venue_quantity_below_step")),
        "{v}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(order_posts(&emu, USDM_ORDER), 0);
}

#[test]
fn a_limit_entry_is_protected_once_it_fills_even_across_a_restart() {
    let mut s = setup("binance-usdm", "follow_brackets_ms = 200\n");
    // A limit buy below the market (50000), with its bracket.
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","order_type":"limit","quantity":"0.01","price":"49500","stop_loss":"48000","take_profit":"52000","timestamp":{},"event_id":"lim-1"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(s.gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("the entry working", 20, || {
        orders_with(&s.emu, &id).len() == 1
    });
    // Followed a few times while it works: no leg yet.
    std::thread::sleep(Duration::from_millis(700));
    assert!(algo_orders(&s.emu).is_empty(), "{:?}", algo_orders(&s.emu));
    assert_eq!(orders_with(&s.emu, &id)[0]["status"].as_str(), Some("NEW"));
    // The gateway dies while the entry works; the market reaches the limit
    // while it is down.
    s.crash_and_restart();
    control(
        &s.emu,
        "POST",
        "/emulator/price",
        r#"{"symbol":"BTCUSDT","price":"49400"}"#,
    );
    wait_for("both legs", 20, || algo_orders(&s.emu).len() == 2);
    std::thread::sleep(Duration::from_millis(700));
    let legs = algo_orders(&s.emu);
    assert_eq!(legs.len(), 2, "each leg placed once: {legs:?}");
    for leg in &legs {
        assert_eq!(
            (
                leg["side"].as_str(),
                leg["quantity"].as_str(),
                leg["reduce_only"].as_bool()
            ),
            (Some("SELL"), Some("0.01"), Some(true)),
            "{leg}"
        );
    }
    // The entry's fill, logged once at its limit.
    let fills: Vec<_> = json_lines(&s.dir.path().join("venue-fills.jsonl"))
        .into_iter()
        .filter(|f| f["fill"]["client_order_id"] == id.as_str())
        .collect();
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(
        (
            fills[0]["fill"]["price"].as_f64(),
            fills[0]["fill"]["quantity"].as_f64(),
            fills[0]["fill"]["reason"].as_str()
        ),
        (Some(49500.0), Some(0.01), Some("limit"))
    );
    assert_eq!(order_posts(&s.emu, USDM_ORDER), 1, "the entry sent once");
}

#[test]
fn a_full_order_log_disk_holds_orders_until_it_has_room_then_places_each_once() {
    let test = "a_full_order_log_disk_holds_orders_until_it_has_room_then_places_each_once";
    let emu = emulator("binance-usdm");
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    let Some(disk) = SmallDisk::mount(&small, "256k", test) else {
        return;
    };
    // The order log on the small disk; the journal and the rest elsewhere.
    let rest = "orders = \"small/orders.jsonl\"\n";
    let gw = gateway(
        &config(dir.path(), "binance-usdm", &emu, rest),
        &dir.path().join("gw.log"),
    );
    let first = accepted(&gw, "disk-0", "buy", "0.01");
    wait_for("the first order", 20, || settled(&small, &first));
    // Full (but for the slack in the log's last page: orders go on until
    // one of its changes cannot be written). The stage holds that order,
    // trying again; it never sends one whose intent is not on disk.
    disk.fill();
    let log_says_retry = |id: &str| {
        std::fs::read_to_string(dir.path().join("gw.log")).is_ok_and(|log| {
            log.lines()
                .any(|l| l.contains(id) && l.contains("retry_in_ms"))
        })
    };
    let mut held = None;
    for i in 1..=40 {
        let id = accepted(&gw, &format!("disk-{i}"), "buy", "0.01");
        wait_for("placed or held", 20, || {
            settled(&small, &id) || log_says_retry(&id)
        });
        if log_says_retry(&id) {
            held = Some(id);
            break;
        }
    }
    let held = held.expect("the order log's disk filled up");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(orders_with(&emu, &held).len() <= 1);
    let before = order_posts(&emu, USDM_ORDER);
    // Room again: it is placed, once, without a restart, and the log
    // reads back whole.
    disk.empty();
    wait_for("placed after the disk came back", 30, || {
        settled(&small, &held)
    });
    assert_eq!(orders_with(&emu, &held).len(), 1, "placed once");
    assert!(order_posts(&emu, USDM_ORDER) <= before + 1);
    // The log reads back whole (no broken line from the failed writes),
    // every placed order in it once.
    let lines = json_lines(&small.join("orders.jsonl"));
    let placed: std::collections::BTreeSet<_> = lines
        .iter()
        .filter(|l| l["state"] == "intent")
        .map(|l| l["client_order_id"].as_str().unwrap())
        .collect();
    assert_eq!(placed.len(), all_orders(&emu), "{lines:?}");
    let metrics = http(gw.port, "GET", "/metrics", &[], b"").unwrap().1;
    assert!(metrics.contains("code=\"venue_order_log\"}"), "{metrics}");
}

/// A signed cancel alert: `{"action":"cancel"}` for BTCUSDT, of event
/// `target`'s order (every working entry of the symbol without one).
fn post_cancel(gw: &Gateway, event: &str, target: Option<&str>) -> (u16, serde_json::Value) {
    let target = target.map_or(String::new(), |t| format!(r#","cancel":"{t}""#));
    let body = format!(
        r#"{{"symbol":"BTCUSDT","action":"cancel"{target},"timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// Posts a limit buy of 0.01 BTCUSDT at 49500 (below the market, 50000),
/// with a bracket: its order id once the venue has it working.
fn working_limit(s: &Setup, event: &str) -> String {
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","order_type":"limit","quantity":"0.01","price":"49500","stop_loss":"48000","take_profit":"52000","timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(s.gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("the entry working", 20, || {
        orders_with(&s.emu, &id).len() == 1
    });
    id
}

/// Issue 14, point 3: a cancel alert cancels the working limit entry it
/// names on the venue, once, even when the cancel's answer is lost (a query
/// resolves it); its awaiting bracket is dropped with it; the outcome is in
/// the order log; a restart does not cancel again.
#[test]
fn a_cancel_alert_cancels_its_working_entry_once_and_its_bracket_is_never_placed() {
    let mut s = setup("binance-usdm", "follow_brackets_ms = 200\n");
    let id = working_limit(&s, "lim-c");
    // The cancel is handled by the venue but its answer is lost.
    fault(
        &s.emu,
        r#"{"method":"DELETE","path":"/fapi/v1/order","fault":"lose_answer","count":1}"#,
    );
    let (status, answer) = post_cancel(&s.gw, "cancel-1", Some("lim-c"));
    assert_eq!(status, 200, "{answer}");
    let cancel_id = answer["order_id"].as_str().unwrap().to_string();
    wait_for("the cancel settled", 20, || {
        settled(s.dir.path(), &cancel_id)
    });
    assert_eq!(
        orders_with(&s.emu, &id)[0]["status"].as_str(),
        Some("CANCELED")
    );
    assert_eq!(
        states(s.dir.path(), &id).last().map(String::as_str),
        Some("cancelled")
    );
    assert!(
        gw_log_says(s.dir.path(), &id, "asking where the order stands"),
        "the lost answer was resolved by a query"
    );
    assert_eq!(
        order_posts_with(&s.emu, "DELETE", USDM_ORDER),
        1,
        "not resent"
    );
    let log = json_lines(&s.dir.path().join("orders.jsonl"));
    let outcome = log
        .iter()
        .find(|l| l["client_order_id"] == cancel_id.as_str())
        .unwrap();
    assert_eq!(outcome["code"], "cancel_alert", "{outcome}");
    assert!(
        outcome["reason"].as_str().unwrap().contains(&id),
        "{outcome}"
    );
    assert_eq!(
        order_posts(&s.emu, USDM_ORDER),
        1,
        "the cancel placed nothing"
    );
    // The market passes the limit: nothing fills, no leg is placed.
    control(
        &s.emu,
        "POST",
        "/emulator/price",
        r#"{"symbol":"BTCUSDT","price":"49400"}"#,
    );
    std::thread::sleep(Duration::from_millis(800));
    assert!(algo_orders(&s.emu).is_empty(), "{:?}", algo_orders(&s.emu));
    // After a crash the journal is read again: the cancel is not redone.
    let deletes = order_posts_with(&s.emu, "DELETE", USDM_ORDER);
    s.crash_and_restart();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(order_posts_with(&s.emu, "DELETE", USDM_ORDER), deletes);
    // A cancel that finds nothing is recorded so, and a replayed one is 409.
    let (status, answer) = post_cancel(&s.gw, "cancel-2", None);
    assert_eq!(status, 200, "{answer}");
    let nothing = answer["order_id"].as_str().unwrap().to_string();
    wait_for("the second cancel settled", 20, || {
        settled(s.dir.path(), &nothing)
    });
    let log = json_lines(&s.dir.path().join("orders.jsonl"));
    let outcome = log
        .iter()
        .find(|l| l["client_order_id"] == nothing.as_str())
        .unwrap();
    assert!(outcome["reason"]
        .as_str()
        .unwrap()
        .starts_with("nothing to cancel"));
    assert_eq!(post_cancel(&s.gw, "cancel-2", None).0, 409);
}

/// Requests the emulator received for `method` `path`.
fn order_posts_with(emu: &Emulator, method: &str, path: &str) -> u64 {
    let counts = control(emu, "GET", "/emulator/requests", "");
    counts[format!("{method} {path}")].as_u64().unwrap_or(0)
}

/// A cancel alert that also carries a field of an order is refused before
/// anything reaches the venue, with its own code.
#[test]
fn a_cancel_alert_with_an_order_field_is_refused_naming_it() {
    let s = setup("binance-usdm", "");
    let body = format!(
        r#"{{"symbol":"BTCUSDT","action":"cancel","quantity":"0.01","timestamp":{},"event_id":"mixed"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(s.gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    assert_eq!(status, 422, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["code"], "cancel_with_order_field");
    assert!(
        answer["message"].as_str().unwrap().contains("quantity"),
        "{answer}"
    );
    assert_eq!(all_orders(&s.emu), 0);
}

/// `/readyz`: (status, body as JSON).
fn readyz(gw: &Gateway) -> (u16, serde_json::Value) {
    let (status, text) = http(gw.port, "GET", "/readyz", &[], b"").expect("answered");
    (status, serde_json::from_str(&text).unwrap_or_default())
}

fn signal(child: &std::process::Child, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

#[test]
fn readyz_names_the_venue_while_it_does_not_answer_and_recovers_without_a_restart() {
    let s = setup("binance-usdm", "");
    wait_for("ready with the venue answering", 10, || {
        readyz(&s.gw).0 == 200
    });
    // The venue paused (SIGSTOP): its connections open, nothing answers.
    signal(&s.emu.child, "STOP");
    let started = std::time::Instant::now();
    let (status, body) = readyz(&s.gw);
    let took = started.elapsed();
    signal(&s.emu.child, "CONT");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["failing"], serde_json::json!(["venue"]), "{body}");
    assert!(body["reasons"]["venue"].as_str().is_some(), "{body}");
    assert!(
        took < std::time::Duration::from_secs(2),
        "answered in {took:?}: the probe is bounded"
    );
    // Resumed: ready again, with no restart and no traffic.
    wait_for("ready again", 10, || readyz(&s.gw).0 == 200);
    let metrics = http(s.gw.port, "GET", "/metrics", &[], b"").unwrap().1;
    assert!(
        metrics.contains("alertgate_ready{part=\"venue\"} 1"),
        "{metrics}"
    );
}

/// `alertgate serve` on `config`, expected to refuse to start: its exit
/// code and stderr (a gateway that starts is killed after 20 s, and the
/// test fails).
fn refused_start(config: &Path) -> (Option<i32>, String) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env(common::SECRET_VAR, WEBHOOK)
        .env("E2E_VENUE_KEY", KEY)
        .env("E2E_VENUE_SECRET", SECRET)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (status, err) = common::wait_exit(child);
    (status.code(), err)
}

#[test]
fn a_second_gateway_on_the_same_journal_or_order_log_refuses_to_start() {
    let s = setup("binance-usdm", "");
    let first = accepted(&s.gw, "lock-1", "buy", "0.01");
    wait_for("placed", 20, || settled(s.dir.path(), &first));
    // The same configuration again: its journal is locked.
    let (code, err) = refused_start(&s.config);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("journal.jsonl") && err.contains("in use"),
        "{err}"
    );
    // Another journal, the same venue order log: refused too, before it
    // read (and reconciled, and resumed) anything.
    let other = s.dir.path().join("other.toml");
    let text = std::fs::read_to_string(&s.config).unwrap()
        + "[serve]\njournal = \"other-journal.jsonl\"\nfills = \"other-fills.jsonl\"\n";
    std::fs::write(&other, text).unwrap();
    let (code, err) = refused_start(&other);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("orders.jsonl") && err.contains("in use"),
        "{err}"
    );
    // The first gateway is unaffected; its order was placed once.
    let second = accepted(&s.gw, "lock-2", "buy", "0.01");
    wait_for("placed", 20, || settled(s.dir.path(), &second));
    assert_eq!(orders_with(&s.emu, &first).len(), 1);
}

#[test]
fn while_an_unknown_order_cannot_be_queried_the_gateway_says_so_and_refuses_new_alerts() {
    // A short cool-down: the breaker closes again 3 s after its last failure.
    let s = setup("binance-usdm", "[serve]\ncircuit_cooldown_s = 3\n");
    // The order's answer is lost after it was placed; then every query
    // about it fails (5xx) for a while: the stage can place nothing.
    fault(
        &s.emu,
        r#"{"method":"POST","path":"/fapi/v1/order","fault":"lose_answer","count":1}"#,
    );
    fault(
        &s.emu,
        r#"{"method":"GET","path":"/fapi/v1/order","fault":"error_before","count":8}"#,
    );
    let first = accepted(&s.gw, "stall-1", "buy", "0.01");
    wait_for("readyz names the venue", 20, || {
        let (status, body) = readyz(&s.gw);
        status == 503 && body["failing"] == serde_json::json!(["venue"])
    });
    let (_, body) = readyz(&s.gw);
    let why = body["reasons"]["venue"].as_str().unwrap_or_default();
    assert!(why.contains("resolving an unknown order"), "{body}");
    // After five failed queries the breaker is open: a new alert is
    // refused, not accepted to wait behind the stalled one.
    wait_for("circuit open", 20, || {
        post(&s.gw, &format!("stall-new-{}", now_s()), "buy", "0.01").0 == 503
    });
    // The venue answers again: the order is found (never sent twice), and
    // the gateway is ready without a restart.
    wait_for("resolved", 30, || settled(s.dir.path(), &first));
    assert_eq!(orders_with(&s.emu, &first).len(), 1);
    wait_for("ready again", 20, || readyz(&s.gw).0 == 200);
    // Alerts accepted before the breaker opened were placed after it, each
    // once: one POST per order on the venue.
    assert_eq!(
        order_posts(&s.emu, USDM_ORDER) as usize,
        all_orders(&s.emu),
        "no order sent twice"
    );
}
