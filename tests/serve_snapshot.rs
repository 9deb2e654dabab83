//! Snapshots of the mock exchange and the journal's checkpoint, under
//! kill -9: taken after every order (so kills land while one is being
//! written), a truncated one planted, and restarts in between. Every
//! accepted order executes exactly once, and the exchange a restart
//! rebuilds from a snapshot and its log's tail holds the positions, cash
//! and PnL of a replay of the whole log.
//!
//! Every wait is bounded; nothing leaves 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alertgate_gateway::serve::mock::{MockExchange, MockSettings};
use alertgate_gateway::serve::snapshot;

mod common;
use common::{exchange_records, gate_config, root, sample_config, start, stop, SECRET_VAR};

const SAMPLE_SECRET: &str = "replay-sample-secret-do-not-use";

/// Accepted in the bundled sample (see tests/serve_cli.rs).
const SAMPLE_ACCEPTED: usize = 47;

/// The sample's gate, a snapshot after every order.
fn config(dir: &Path) -> PathBuf {
    sample_config(dir, "snapshot_every_orders = 1\nsnapshot_every_s = 1\n")
}

fn sender(port: u16, rate: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alertgate"));
    c.arg("send")
        .arg(root().join("examples/replay/alerts.jsonl"))
        .args(["--url", &format!("http://127.0.0.1:{port}/webhook")])
        .args(["--scheme", "timestamped", "--secret-env", SECRET_VAR])
        .args(["--rate", rate, "--retries", "0", "--timeout-ms", "2000"])
        .env(SECRET_VAR, SAMPLE_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn lines_so_far(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

/// Positions, cash, open orders and PnL: what a restart must get back.
fn book(ex: &MockExchange) -> (Vec<(String, f64)>, f64, u64, f64) {
    let positions = ["BTC/USDT", "ETH/USDT"]
        .iter()
        .map(|s| (s.to_string(), ex.position(s)))
        .collect();
    (
        positions,
        ex.exchange().cash(),
        ex.open_orders(),
        ex.realized_pnl(),
    )
}

/// Every accepted order submitted exactly once (and nothing else), and the
/// exchange rebuilt from the snapshot and the tail equal to the whole log's.
fn check_exactly_once(dir: &Path) {
    let accepted = common::accepted_order_ids(&dir.join("journal.jsonl"));
    let distinct: BTreeSet<&String> = accepted.iter().collect();
    assert_eq!(accepted.len(), distinct.len(), "an event accepted twice");
    assert_eq!(accepted.len(), SAMPLE_ACCEPTED, "an event lost");
    let fills = dir.join("fills.jsonl");
    let (submits, _) = exchange_records(&fills);
    let mut count: BTreeMap<String, u32> = BTreeMap::new();
    for s in &submits {
        *count
            .entry(s["client_order_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(
        count.values().all(|&n| n == 1),
        "an order submitted twice: {count:?}"
    );
    let submitted: BTreeSet<&String> = count.keys().collect();
    assert_eq!(submitted, distinct, "submitted ≠ accepted");

    let journal_path = dir.join("journal.jsonl");
    let from_snapshot =
        MockExchange::open_with_journal(&fills, MockSettings::default(), Some(&journal_path))
            .unwrap();
    assert!(
        from_snapshot.recovery().snapshot_offset.is_some(),
        "no usable snapshot"
    );
    assert_eq!(from_snapshot.recovery().mismatches, 0);
    let snap = snapshot::path_for(&fills);
    let aside = dir.join("snapshot.aside");
    std::fs::rename(&snap, &aside).unwrap();
    let whole = MockExchange::open(&fills, MockSettings::default()).unwrap();
    std::fs::rename(&aside, &snap).unwrap();
    assert_eq!(whole.recovery().snapshot_offset, None);
    assert_eq!(whole.recovery().mismatches, 0);
    assert_eq!(book(&from_snapshot), book(&whole));
}

#[test]
fn kill_9_while_snapshots_are_written_then_restart_executes_each_accepted_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let journal = dir.path().join("journal.jsonl");
    // Three kills at growing points of the stream, each restart resuming
    // from the snapshot written last (one per order: a kill most likely
    // lands while one is written).
    for round in 1..=3 {
        let mut gw = start(&config, SAMPLE_SECRET);
        let mut send = sender(gw.port, "60").spawn().unwrap();
        let target = lines_so_far(&journal) + 6;
        let deadline = Instant::now() + Duration::from_secs(15);
        while lines_so_far(&journal) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        gw.child.kill().unwrap(); // SIGKILL
        gw.child.wait().unwrap();
        let _ = send.kill();
        let _ = send.wait();
        assert!(
            snapshot::path_for(&dir.path().join("fills.jsonl")).exists() || round == 1,
            "round {round}: no snapshot written"
        );
    }
    // Everything again, to the end.
    let mut gw = start(&config, SAMPLE_SECRET);
    let out = sender(gw.port, "500").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    stop(&mut gw.child);
    check_exactly_once(dir.path());
}

#[test]
fn a_truncated_snapshot_is_ignored_and_nothing_executes_twice() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let mut gw = start(&config, SAMPLE_SECRET);
    let out = sender(gw.port, "500").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // Execution trails the answers: once every accepted order is
    // submitted, killed, not stopped: the snapshot is whatever was
    // written last.
    let fills = dir.path().join("fills.jsonl");
    common::wait_until("every accepted order submitted", || {
        exchange_records(&fills).0.len() == SAMPLE_ACCEPTED
    });
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    drop(gw);
    let snap = snapshot::path_for(&fills);
    let whole = std::fs::read(&snap).unwrap();
    let (submits_before, _) = exchange_records(&fills);
    // Cut short, as a crash mid-write without the rename would leave it,
    // and a stray temporary file.
    std::fs::write(&snap, &whole[..whole.len() / 2]).unwrap();
    let mut tmp = snap.clone().into_os_string();
    tmp.push(".tmp");
    std::fs::write(&tmp, b"alertgate-snapshot 1 99").unwrap();
    let mut gw = start(&config, SAMPLE_SECRET);
    // Everything again: every copy is a replay, nothing is submitted.
    let out = sender(gw.port, "500").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    stop(&mut gw.child);
    let (submits_after, _) = exchange_records(&fills);
    assert_eq!(submits_after.len(), submits_before.len());
    assert_eq!(submits_after.len(), SAMPLE_ACCEPTED);
    // The stop wrote a whole snapshot again.
    check_exactly_once(dir.path());
}

#[test]
fn an_order_that_never_executes_holds_the_checkpoint_and_no_later_order_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    let config = gate_config(
        dir.path(),
        r#"
[serve]
trusted_proxies = ["127.0.0.1"]
snapshot_every_orders = 1
snapshot_every_s = 1
"#,
    );
    let fills = dir.path().join("fills.jsonl");
    let submits = |id: &str| {
        exchange_records(&fills)
            .0
            .iter()
            .filter(|s| s["event_id"] == id)
            .count()
    };
    let mut gw = start(&config, SAMPLE_SECRET);
    // A market order on a symbol never priced: accepted (no
    // max_order_value), never executable. The checkpoint stays before it.
    let unpriced = format!(
        r#"{{"symbol":"SOLUSDT","side":"buy","order_type":"market","quantity":"1","confidence":"0.9","timestamp":{},"event_id":"u1"}}"#,
        common::now_s() * 1000
    );
    assert_eq!(
        common::post_signed(gw.port, SAMPLE_SECRET, &unpriced),
        (200, "accepted".to_string())
    );
    let events = ["e1", "e2", "e3", "e4", "e5"];
    for e in events {
        let body = String::from_utf8(common::alert(e)).unwrap();
        assert_eq!(
            common::post_signed(gw.port, SAMPLE_SECRET, &body),
            (200, "accepted".to_string())
        );
    }
    common::wait_until("five orders submitted", || {
        events.iter().all(|e| submits(e) == 1)
    });
    // Snapshots after them (one per order, and by time).
    std::thread::sleep(Duration::from_millis(1500));
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    drop(gw);
    // The restart resumes u1 (which fails again) and nothing else.
    let mut gw = start(&config, SAMPLE_SECRET);
    std::thread::sleep(Duration::from_millis(1500));
    stop(&mut gw.child);
    for e in events {
        assert_eq!(submits(e), 1, "{e} submitted again after the restart");
    }
    assert_eq!(submits("u1"), 0);
    let journal = dir.path().join("journal.jsonl");
    let ex =
        MockExchange::open_with_journal(&fills, MockSettings::default(), Some(&journal)).unwrap();
    assert!(ex.recovery().snapshot_offset.is_some());
    assert!(ex.journal_marks().unwrap().checkpoint < std::fs::metadata(&journal).unwrap().len());
}
