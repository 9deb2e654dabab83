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
