//! Issue 11: one identity per event. The replay key, the journal's
//! identity, the client order id and the shared claim all come from what
//! the signature covers; an unsigned id header never decides which order
//! executes. A `409 replayed` answer names the order the event became.
//!
//! Real processes over loopback; every wait is bounded.

use std::collections::BTreeSet;

mod common;
use common::{exchange_records, gate_config, http, now_s, signed, start, stop, wait_until};

const CONFIG: &str = r#"
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
"#;

/// A signed `side` limit order with body `event_id`, sent with
/// `X-Tradeeon-EventId: header` (not covered by the `timestamped`
/// signature): (status, answer).
fn post(
    port: u16,
    secret: &str,
    side: &str,
    event: &str,
    header: &str,
) -> (u16, serde_json::Value) {
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"{side}","type":"limit","price":"100","quantity":"0.1","timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    );
    let mut headers = signed(secret, body.as_bytes(), now_s(), "52.89.214.238");
    headers.push(("X-Tradeeon-EventId", header.to_string()));
    let (status, text) = http(port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

#[test]
fn an_unsigned_id_header_never_decides_which_order_executes() {
    let dir = tempfile::tempdir().unwrap();
    let config = gate_config(dir.path(), CONFIG);
    let secret = "identity-secret";
    let gw = start(&config, secret);
    // Two different signed alerts under one id header: two orders.
    let (s1, buy) = post(gw.port, secret, "buy", "evt-x", "same-delivery");
    let (s2, sell) = post(gw.port, secret, "sell", "evt-y", "same-delivery");
    assert_eq!((s1, s2), (200, 200), "{buy} {sell}");
    let (buy_id, sell_id) = (buy["order_id"].clone(), sell["order_id"].clone());
    assert_ne!(buy_id, sell_id, "one order id for two signed orders");
    // The first alert again under a fresh header: still the same event.
    let (s3, copy) = post(gw.port, secret, "buy", "evt-x", "fresh-delivery");
    assert_eq!(
        (s3, copy["code"].as_str()),
        (409, Some("replayed")),
        "{copy}"
    );
    assert_eq!(
        copy["order_id"], buy_id,
        "a replay names the original order"
    );
    assert!(copy["accepted_ms"].as_i64().is_some(), "{copy}");

    let fills = dir.path().join("fills.jsonl");
    wait_until("both orders submitted", || {
        exchange_records(&fills).0.len() >= 2
    });
    let mut gw = gw;
    stop(&mut gw.child);
    let (submits, _) = exchange_records(&fills);
    let sides: BTreeSet<(&str, &str)> = submits
        .iter()
        .map(|s| {
            (
                s["side"].as_str().unwrap(),
                s["client_order_id"].as_str().unwrap(),
            )
        })
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        ("buy", buy_id.as_str().unwrap()),
        ("sell", sell_id.as_str().unwrap()),
    ]
    .into();
    assert_eq!(sides, expected, "{submits:?}");

    // After a restart (the gate rebuilt from the journal) a replay still
    // names its order.
    let gw = start(&config, secret);
    let (s4, again) = post(gw.port, secret, "sell", "evt-y", "other-delivery");
    assert_eq!((s4, again["order_id"].clone()), (409, sell_id), "{again}");
    drop(gw);
}

/// [`post`] with a stop-loss at 90: the order holds a bracket while its
/// position is open.
fn post_with_stop(port: u16, secret: &str, side: &str, event: &str) -> (u16, serde_json::Value) {
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"{side}","type":"limit","price":"100","quantity":"0.1","stop_loss":"90","timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    );
    let headers = signed(secret, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

#[test]
fn an_event_id_reused_after_the_replay_window_on_paper_is_answered_as_the_replay_it_is() {
    // The batched paper stage (the default venue, `alert` sizing), with
    // TradingView's `{{strategy.order.id}}` alone ("Long") as the event
    // id: the gate forgets it after its window (3 s here) and takes it
    // again, but the paper exchange still holds its order (its bracket
    // protects the open position, so no snapshot compacts it away) and
    // would submit nothing for it. The answer is 409 `replayed` naming
    // that order, never 200 for an order that is then dropped; and the
    // same after a restart, which rebuilds what the exchange knows.
    let dir = tempfile::tempdir().unwrap();
    let config = gate_config(
        dir.path(),
        &format!("{CONFIG}[policy]\nmax_age_s = 3\nmax_future_skew_s = 1\n"),
    );
    let secret = "identity-secret";
    let gw = start(&config, secret);
    let (s1, first) = post_with_stop(gw.port, secret, "buy", "Long");
    assert_eq!(s1, 200, "{first}");
    let fills = dir.path().join("fills.jsonl");
    wait_until("the first Long submitted", || {
        !exchange_records(&fills).0.is_empty()
    });
    std::thread::sleep(std::time::Duration::from_millis(5_500));
    let (s2, again) = post(gw.port, secret, "sell", "Long", "delivery-2");
    assert_eq!(
        (s2, again["code"].as_str()),
        (409, Some("replayed")),
        "{again}"
    );
    assert_eq!(again["order_id"], first["order_id"], "{again}");
    // A new event id is accepted and submitted: the stage still runs.
    let (s3, fresh) = post(gw.port, secret, "buy", "Long-2", "delivery-3");
    assert_eq!(s3, 200, "{fresh}");
    wait_until("Long-2 submitted", || exchange_records(&fills).0.len() >= 2);
    let mut gw = gw;
    stop(&mut gw.child);
    // One submit per accepted alert; the reuse none, and journaled as the
    // replay it was answered as.
    let (submits, _) = exchange_records(&fills);
    let ids: Vec<_> = submits
        .iter()
        .map(|s| s["client_order_id"].clone())
        .collect();
    assert_eq!(ids, [first["order_id"].clone(), fresh["order_id"].clone()]);
    let decisions: Vec<_> = common::json_lines(&dir.path().join("journal.jsonl"))
        .into_iter()
        .filter_map(|l| l.get("decision").cloned())
        .collect();
    assert_eq!(
        decisions.iter().filter(|d| d["code"] == "replayed").count(),
        1,
        "{decisions:?}"
    );
    // After a restart (from the snapshot taken at shutdown, and the log),
    // the reuse is still the replay it is, and still places nothing.
    assert!(dir.path().join("fills.jsonl.snapshot").exists());
    let gw = start(&config, secret);
    let (s4, after) = post(gw.port, secret, "sell", "Long", "delivery-4");
    assert_eq!(
        (s4, &after["order_id"]),
        (409, &first["order_id"]),
        "{after}"
    );
    let mut gw = gw;
    stop(&mut gw.child);
    assert_eq!(exchange_records(&fills).0.len(), 2);
}
