//! Issue 11: `alertgate serve` while its disk fails and comes back, as a
//! real process. The journal, or the mock exchange's log, lives on a small
//! tmpfs that the test fills (writes fail with ENOSPC, part of a line may
//! be written) and empties again, without restarting the gateway: alerts
//! are refused while it is full and `/readyz` names the failing part; once
//! it has room the gateway recovers by itself, and every alert answered
//! 200 is executed exactly once, none answered 503, also after a restart.
//!
//! Mounting needs root (CAP_SYS_ADMIN): elsewhere the tests are skipped
//! with a message on stderr, unless `ALERTGATE_REQUIRE_DISK_FAULTS` is set
//! (as `.ci/run` does), which makes a failed mount an error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alertgate_gateway::serve::mock::{MockExchange, MockSettings};

mod common;
use common::disk::SmallDisk;
use common::{alert, gate_config, http, json_lines, post_signed, start, wait_until, Gateway};

const SECRET: &str = "faults-secret";

fn config(dir: &Path, serve: &str) -> PathBuf {
    gate_config(
        dir,
        &format!(
            r#"
[policy]
max_order_value = 1000
[rate]
burst = 1000
per_second = 1000
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
{serve}
"#
        ),
    )
}

fn post(gw: &Gateway, event: &str) -> (u16, String) {
    post_signed(gw.port, SECRET, &String::from_utf8(alert(event)).unwrap())
}

/// Posts `full-000`, `full-001`, … (at most `n`): each answered 200 joins
/// `accepted`, until the first refusal, which must be 503 `code`; that
/// event, or `None` if none was refused.
fn accept_until_refused(
    gw: &Gateway,
    n: usize,
    code: &str,
    accepted: &mut BTreeSet<String>,
) -> Option<String> {
    for i in 0..n {
        let event = format!("full-{i:03}");
        match post(gw, &event) {
            (200, _) => {
                accepted.insert(event);
            }
            (status, got) => {
                assert_eq!((status, got.as_str()), (503, code));
                return Some(event);
            }
        }
    }
    None
}

/// `/readyz`: (status, body as JSON).
fn readyz(gw: &Gateway) -> (u16, serde_json::Value) {
    let (status, text) = http(gw.port, "GET", "/readyz", &[], b"").expect("answered");
    (status, serde_json::from_str(&text).unwrap())
}

fn failing(v: &serde_json::Value) -> Vec<String> {
    v["failing"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Polls `/readyz` until it answers 200; how long that took.
fn wait_ready(gw: &Gateway) -> Duration {
    let started = Instant::now();
    wait_until("/readyz 200", || readyz(gw).0 == 200);
    started.elapsed()
}

/// Event id → how many submit lines the exchange log holds for it.
fn submits(fills: &Path) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for l in json_lines(fills) {
        if let Some(s) = l.get("submit") {
            *n.entry(s["event_id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    n
}

/// Event ids the journal holds as accepted.
fn accepted_in_journal(journal: &Path) -> Vec<String> {
    json_lines(journal)
        .iter()
        .filter(|l| l["decision"]["accepted"] == true)
        .map(|l| {
            l["decision"]["order"]["event_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Every event of `accepted` is accepted once in the journal and submitted
/// exactly once; nothing else is either.
fn assert_exactly_once(journal: &Path, fills: &Path, accepted: &BTreeSet<String>) {
    let in_journal = accepted_in_journal(journal);
    let distinct: BTreeSet<String> = in_journal.iter().cloned().collect();
    assert_eq!(in_journal.len(), distinct.len(), "accepted twice");
    assert_eq!(&distinct, accepted, "journal ≠ the alerts answered 200");
    let submitted = submits(fills);
    assert!(
        submitted.values().all(|&n| n == 1),
        "submitted twice: {submitted:?}"
    );
    let ids: BTreeSet<String> = submitted.keys().cloned().collect();
    assert_eq!(&ids, accepted, "submitted ≠ the alerts answered 200");
}

/// Stops the gateway with SIGTERM and waits for it.
fn terminate(gw: &mut Gateway) {
    let _ = Command::new("kill")
        .args(["-TERM", &gw.child.id().to_string()])
        .status();
    wait_until("serve stops on SIGTERM", || {
        gw.child.try_wait().unwrap().is_some()
    });
}

#[test]
fn a_full_journal_disk_refuses_alerts_then_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(
        &dir.path().join("j"),
        "256k",
        "a_full_journal_disk_refuses_alerts_then_recovers_without_a_restart",
    ) else {
        return;
    };
    let journal = dir.path().join("j/journal.jsonl");
    let fills = dir.path().join("fills.jsonl");
    let config = config(dir.path(), "journal = \"j/journal.jsonl\"");
    let mut gw = start(&config, SECRET);
    let mut accepted = BTreeSet::new();
    assert_eq!(post(&gw, "ok-000"), (200, "accepted".into()));
    accepted.insert("ok-000".to_string());
    assert_eq!(readyz(&gw), (200, serde_json::json!({"ready": true})));

    disk.fill();
    // The journal's last page may still take a line or two.
    let mut refused: Vec<String> =
        accept_until_refused(&gw, 100, "journal_unavailable", &mut accepted)
            .into_iter()
            .collect();
    assert_eq!(refused.len(), 1, "never refused on a full disk");
    for i in 100..103 {
        let event = format!("full-{i:03}");
        assert_eq!(post(&gw, &event), (503, "journal_unavailable".into()));
        refused.push(event);
    }
    let (status, v) = readyz(&gw);
    assert_eq!(status, 503, "{v}");
    assert!(failing(&v).contains(&"journal".to_string()), "{v}");
    assert!(
        v["reasons"]["journal"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{v}"
    );
    assert_eq!(http(gw.port, "GET", "/healthz", &[], b"").unwrap().0, 200);
    let (_, metrics) = http(gw.port, "GET", "/metrics", &[], b"").unwrap();
    assert!(
        metrics.contains("alertgate_ready{part=\"journal\"} 0"),
        "{metrics}"
    );
    // A refused line is cut off, whole or in part: the journal ends with a
    // complete line and holds none of the refused events.
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'), "a partial line is left");
    for event in &refused {
        assert!(!text.contains(event.as_str()), "{event} is in the journal");
    }

    // Killed while failing: the restart recovers from what is there and
    // knows at once that the journal cannot be written.
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    let gw = start(&config, SECRET);
    let (status, v) = readyz(&gw);
    assert_eq!(status, 503, "{v}");
    assert!(failing(&v).contains(&"journal".to_string()), "{v}");
    assert_eq!(post(&gw, "full-200"), (503, "journal_unavailable".into()));
    refused.push("full-200".to_string());

    disk.empty();
    let took = wait_ready(&gw);
    eprintln!(
        "journal: ready {} ms after the disk had room",
        took.as_millis()
    );
    for i in 0..5 {
        let event = format!("after-{i:03}");
        assert_eq!(post(&gw, &event), (200, "accepted".into()));
        accepted.insert(event);
    }
    // A refused alert was not remembered, by this process (full-200) or
    // the one before: its retry is accepted, once.
    for retried in ["full-200".to_string(), refused[0].clone()] {
        assert_eq!(post(&gw, &retried), (200, "accepted".into()), "{retried}");
        assert_eq!(post(&gw, &retried), (409, "replayed".into()), "{retried}");
        accepted.insert(retried);
    }
    wait_until("every accepted alert submitted", || {
        submits(&fills).len() == accepted.len()
    });
    assert_exactly_once(&journal, &fills, &accepted);

    // After a restart, recovery executes nothing more.
    let mut gw = gw;
    terminate(&mut gw);
    let mut gw = start(&config, SECRET);
    assert_eq!(readyz(&gw).0, 200);
    std::thread::sleep(Duration::from_millis(300));
    terminate(&mut gw);
    assert_exactly_once(&journal, &fills, &accepted);
}

#[test]
fn a_full_exchange_log_disk_opens_the_circuit_then_every_accepted_order_executes_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(
        &dir.path().join("x"),
        "256k",
        "a_full_exchange_log_disk_opens_the_circuit_then_every_accepted_order_executes_once",
    ) else {
        return;
    };
    let journal = dir.path().join("journal.jsonl");
    let fills = dir.path().join("x/fills.jsonl");
    let config = config(
        dir.path(),
        "fills = \"x/fills.jsonl\"\ncircuit_failures = 2\ncircuit_cooldown_s = 1",
    );
    let gw = start(&config, SECRET);
    let mut accepted = BTreeSet::new();
    assert_eq!(post(&gw, "ok-000"), (200, "accepted".into()));
    accepted.insert("ok-000".to_string());
    wait_until("ok-000 submitted", || submits(&fills).len() == 1);

    disk.fill();
    // Accepted (journaled, answered 200) until the circuit opens: those
    // orders wait for the log.
    let mut refused = Vec::new();
    for i in 0..200 {
        let event = format!("full-{i:03}");
        match post(&gw, &event) {
            (200, _) => {
                accepted.insert(event);
            }
            (status, code) => {
                assert_eq!((status, code.as_str()), (503, "circuit_open"));
                refused.push(event);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(refused.len(), 1, "the circuit never opened");
    let (status, v) = readyz(&gw);
    assert_eq!(status, 503, "{v}");
    let parts = failing(&v);
    assert!(parts.contains(&"exchange_log".to_string()), "{v}");
    assert!(
        v["reasons"]["exchange_log"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{v}"
    );
    // Longer than the cool-down: the log is still full, so the orders'
    // retries keep the circuit open (or re-open it) and nothing executes.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, v) = readyz(&gw);
    assert_eq!(status, 503, "{v}");
    assert!(failing(&v).contains(&"exchange_log".to_string()), "{v}");
    // The log's last page may have taken an order or two before the
    // first failure; the rest wait, and a failed write left nothing.
    let text = std::fs::read_to_string(&fills).unwrap();
    assert!(text.ends_with('\n'), "a partial line is left");
    let done = submits(&fills);
    let waiting: Vec<&String> = accepted.iter().filter(|e| !done.contains_key(*e)).collect();
    assert!(!waiting.is_empty(), "no order waits for the log");
    for event in &waiting {
        assert!(!text.contains(event.as_str()), "{event} partly in the log");
    }

    disk.empty();
    let took = wait_ready(&gw);
    eprintln!(
        "exchange log: ready {} ms after the disk had room (cool-down 1 s)",
        took.as_millis()
    );
    // The orders accepted while the log was full are executed, once,
    // without a restart.
    wait_until("the waiting orders submitted", || {
        submits(&fills).len() == accepted.len()
    });
    // The issue's 16 alerts after the recovery: all accepted.
    for i in 0..16 {
        let event = format!("after-{i:03}");
        assert_eq!(post(&gw, &event), (200, "accepted".into()), "{event}");
        accepted.insert(event);
    }
    wait_until("every accepted alert submitted", || {
        submits(&fills).len() == accepted.len()
    });
    assert_exactly_once(&journal, &fills, &accepted);

    let mut gw = gw;
    terminate(&mut gw);
    let mut gw = start(&config, SECRET);
    std::thread::sleep(Duration::from_millis(300));
    terminate(&mut gw);
    assert_exactly_once(&journal, &fills, &accepted);
    let rebuilt = MockExchange::open(&fills, MockSettings::default()).unwrap();
    assert_eq!(rebuilt.recovery().submits as usize, accepted.len());
    assert_eq!(rebuilt.recovery().mismatches, 0);
}

#[test]
fn readyz_names_an_unreachable_replay_store_while_healthz_stays_ok() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the store cannot be reached.
    let config = config(dir.path(), "").to_string_lossy().into_owned();
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "[rate]",
        "[replay]\nstore = \"redis://127.0.0.1:1\"\n[rate]",
    );
    std::fs::write(&config, text).unwrap();
    let gw = start(Path::new(&config), SECRET);
    let (status, v) = readyz(&gw);
    assert_eq!(status, 503, "{v}");
    assert_eq!(failing(&v), ["replay_store"], "{v}");
    assert!(v["reasons"]["replay_store"].is_string(), "{v}");
    assert_eq!(http(gw.port, "GET", "/healthz", &[], b"").unwrap().0, 200);
    assert_eq!(post(&gw, "e-1"), (503, "replay_store_unavailable".into()));
    let (_, metrics) = http(gw.port, "GET", "/metrics", &[], b"").unwrap();
    assert!(
        metrics.contains("alertgate_ready{part=\"replay_store\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alertgate_ready{part=\"journal\"} 1"),
        "{metrics}"
    );
}

/// With a shared replay store, a claim won by a request whose journal line
/// could not be written is released: the sender's retry, once the disk has
/// room, is accepted and executed once (not refused as a replay by Redis).
#[test]
fn a_claim_whose_journal_line_failed_is_released_for_the_retry() {
    const TEST: &str = "a_claim_whose_journal_line_failed_is_released_for_the_retry";
    let Some(redis) = common::redis::redis_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("j"), "256k", TEST) else {
        return;
    };
    let journal = dir.path().join("j/journal.jsonl");
    let fills = dir.path().join("fills.jsonl");
    let config = config(dir.path(), "journal = \"j/journal.jsonl\"");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[rate]",
        &format!("[replay]\nstore = \"{}\"\n[rate]", redis.url()),
    );
    std::fs::write(&config, text).unwrap();
    let gw = start(&config, SECRET);
    let mut accepted = BTreeSet::from(["ok-0".to_string()]);
    assert_eq!(post(&gw, "ok-0"), (200, "accepted".into()));
    disk.fill();
    let refused = accept_until_refused(&gw, 100, "journal_unavailable", &mut accepted);
    let refused = refused.expect("never refused on a full disk");
    disk.empty();
    wait_ready(&gw);
    // The release ran in the background when the 503 went out, long
    // before the disk had room again.
    assert_eq!(post(&gw, &refused), (200, "accepted".into()), "{refused}");
    assert_eq!(post(&gw, &refused), (409, "replayed".into()));
    accepted.insert(refused);
    wait_until("every accepted alert submitted", || {
        submits(&fills).len() == accepted.len()
    });
    let mut gw = gw;
    terminate(&mut gw);
    assert_exactly_once(&journal, &fills, &accepted);
}
