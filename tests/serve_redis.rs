//! `[replay] store = "redis://…"`: two `alertgate serve` processes sharing a
//! real `redis-server` accept one event once; a store that is down fails
//! closed (503).
//!
//! The Redis test needs `redis-server` on PATH. Without it the test prints a
//! note and passes — unless `ALERTGATE_REQUIRE_REDIS` is set (CI sets it),
//! in which case it fails. Everything stays on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{alert, gate_config, http, json_lines, now_s, Gateway};

const SECRET: &str = "redis-e2e-secret";
const TRADINGVIEW: &str = "52.89.214.238";

/// A child process, killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A throwaway `redis-server` on a free loopback port, or None (after a
/// printed note) when it is not installed and not required.
fn redis_server() -> Option<(Killed, u16)> {
    if !on_path("redis-server") {
        assert!(
            std::env::var_os("ALERTGATE_REQUIRE_REDIS").is_none(),
            "ALERTGATE_REQUIRE_REDIS is set but redis-server is not on PATH"
        );
        eprintln!("note: redis-server is not on PATH; skipping the shared replay store test");
        return None;
    }
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let server = Killed(child);
    // Ready when it answers PING.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 7];
            if s.write_all(b"PING\r\n").is_ok()
                && s.read_exact(&mut buf).is_ok()
                && &buf == b"+PONG\r\n"
            {
                return Some((server, port));
            }
        }
        assert!(Instant::now() < deadline, "redis-server not ready in 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn config(dir: &Path, store: &str) -> PathBuf {
    config_with_rate(dir, store, 1000, 1000)
}

fn config_with_rate(dir: &Path, store: &str, burst: u32, per_second: u32) -> PathBuf {
    gate_config(
        dir,
        &format!(
            r#"
[policy]
max_order_value = 1000
[replay]
store = "{store}"
[rate]
burst = {burst}
per_second = {per_second}
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
"#
        ),
    )
}

fn start(config: &Path) -> Gateway {
    common::start(config, SECRET)
}

fn signed(body: &[u8]) -> Vec<(&'static str, String)> {
    common::signed(SECRET, body, now_s(), TRADINGVIEW)
}

/// (status, code) of one signed POST /webhook.
fn post(port: u16, body: &[u8]) -> (u16, String) {
    let (status, text) = http(port, "POST", "/webhook", &signed(body), body).expect("answered");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    (status, v["code"].as_str().unwrap_or_default().to_string())
}

fn journal(dir: &Path) -> Vec<serde_json::Value> {
    json_lines(&dir.join("journal.jsonl"))
}

/// Issue 9 on the shared store: an alert stamped ahead of the clock stays
/// fresh past `max_age` after its acceptance, so its claim must outlive that
/// too. A copy sent to the other replica 1.5 s later (max_age 1 s) is a
/// replay, and only one order exists.
#[test]
fn a_claim_lives_while_the_alert_is_fresh() {
    let Some((_redis, redis_port)) = redis_server() else {
        return;
    };
    let store = format!("redis://127.0.0.1:{redis_port}");
    let rest = format!(
        r#"
[policy]
max_age_s = 1
max_future_skew_s = 60
[replay]
store = "{store}"
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
"#
    );
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&gate_config(a_dir.path(), &rest));
    let b = start(&gate_config(b_dir.path(), &rest));
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","type":"limit","price":"100","quantity":"0.1","timestamp":{},"event_id":"ahead-1"}}"#,
        (now_s() + 30) * 1000
    );
    assert_eq!(post(a.port, body.as_bytes()), (200, "accepted".to_string()));
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    assert_eq!(post(b.port, body.as_bytes()), (409, "replayed".to_string()));
    drop((a, b));
    let accepted = [journal(a_dir.path()), journal(b_dir.path())]
        .iter()
        .flatten()
        .filter(|l| l["decision"]["accepted"] == true)
        .count();
    assert_eq!(accepted, 1);
}

#[test]
fn two_gateways_sharing_redis_accept_an_event_once() {
    let Some((_redis, redis_port)) = redis_server() else {
        return;
    };
    let store = format!("redis://127.0.0.1:{redis_port}");
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&config(a_dir.path(), &store));
    let b = start(&config(b_dir.path(), &store));

    let mut accepted = 0;
    for i in 0..20 {
        let body = alert(&format!("shared-{i}"));
        // Alternate which replica sees the event first.
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let one = post(first.port, &body);
        let two = post(second.port, &body);
        let mut got = [one, two];
        got.sort();
        assert_eq!(
            got,
            [(200, "accepted".to_string()), (409, "replayed".to_string())],
            "event {i}"
        );
        accepted += 1;
    }
    // Concurrently: the same event at both replicas at once.
    for i in 0..10 {
        let body = alert(&format!("race-{i}"));
        let (pa, pb) = (a.port, b.port);
        let (ba, bb) = (body.clone(), body.clone());
        let ta = std::thread::spawn(move || post(pa, &ba));
        let tb = std::thread::spawn(move || post(pb, &bb));
        let mut got = [ta.join().unwrap(), tb.join().unwrap()];
        got.sort();
        assert_eq!(
            got,
            [(200, "accepted".to_string()), (409, "replayed".to_string())],
            "race {i}"
        );
        accepted += 1;
    }
    // The journals agree: each event accepted in exactly one of them, the
    // other holding a `replayed` rejection.
    drop((a, b));
    let entries: Vec<_> = journal(a_dir.path())
        .into_iter()
        .chain(journal(b_dir.path()))
        .collect();
    assert_eq!(entries.len(), 2 * accepted);
    let oks = entries
        .iter()
        .filter(|e| e["decision"]["accepted"] == true)
        .count();
    assert_eq!(oks, accepted);
    assert!(entries
        .iter()
        .filter(|e| e["decision"]["accepted"] == false)
        .all(|e| e["decision"]["code"] == "replayed" && e["decision"]["status"] == 409));
}

#[test]
fn a_replay_found_in_the_store_spends_no_rate_token() {
    let Some((_redis, redis_port)) = redis_server() else {
        return;
    };
    let store = format!("redis://127.0.0.1:{redis_port}");
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Two tokens each, refilled at one per second: the whole test runs in
    // far less than the second a token takes.
    let a = start(&config_with_rate(a_dir.path(), &store, 2, 1));
    let b = start(&config_with_rate(b_dir.path(), &store, 2, 1));
    let ok = (200, "accepted".to_string());
    let replayed = (409, "replayed".to_string());
    let (e1, e2) = (alert("tok-1"), alert("tok-2"));
    assert_eq!(post(a.port, &e1), ok);
    assert_eq!(post(a.port, &e2), ok);
    // B's gate accepts both (its guard has not seen them), then the store
    // says replay: B gives the tokens back.
    assert_eq!(post(b.port, &e1), replayed);
    assert_eq!(post(b.port, &e2), replayed);
    // Had they been spent, B's bucket would be empty: 429 before its guard.
    assert_eq!(post(b.port, &e1), replayed);
    assert_eq!(post(b.port, &alert("tok-3")), ok);
    assert_eq!(post(b.port, &alert("tok-4")), ok);
    assert_eq!(post(b.port, &alert("tok-5")).0, 429);
}

#[test]
fn redis_down_fails_closed_with_503() {
    // A free port nothing listens on.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(&config(dir.path(), &format!("redis://127.0.0.1:{port}")));
    let body = alert("down-1");
    assert_eq!(
        post(gw.port, &body),
        (503, "replay_store_unavailable".to_string())
    );
    // The refused event was withdrawn from the local guard: a retry is
    // decided afresh (503 again while Redis is down), not refused as a
    // replay of an order that never took effect.
    assert_eq!(
        post(gw.port, &body),
        (503, "replay_store_unavailable".to_string())
    );
    drop(gw);
    // Journaled as refusals: a restart neither remembers nor executes them.
    let entries = journal(dir.path());
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["decision"]["accepted"], false);
    assert_eq!(entries[0]["decision"]["status"], 503);
    assert_eq!(entries[0]["decision"]["code"], "replay_store_unavailable");
    assert!(
        !dir.path().join("fills.jsonl").exists() || {
            std::fs::read_to_string(dir.path().join("fills.jsonl"))
                .unwrap()
                .is_empty()
        }
    );
}
