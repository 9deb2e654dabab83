//! `[sizing]` on paper: a strategy on the default `paper` venue whose
//! sizing mode is not `alert` trades on the paper venue through the live
//! stage (sizing, the order log, exactly-once, the fill log), with real
//! processes over loopback and a `kill -9` in the middle.
//!
//! What each test tries to break: the order is the sized one, not the
//! alert's quantity; a repeated target orders nothing; reduce-only only
//! for what closes; no order placed twice across a crash; nothing of it
//! reaches the batched paper stage's log.

use std::path::Path;

mod common;
use common::Gateway;
use common::{gate_config, healthy, http, json_lines, now_s, signed, spawn_with, wait_until};

const WEBHOOK: &str = "paper-venue-e2e-webhook-secret";

fn gateway(config: &Path, dir: &Path) -> Gateway {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("gw.log"))
        .unwrap();
    healthy(spawn_with(config, WEBHOOK, "info", log.into(), &[]))
}

/// Posts a signed market alert for BTCUSDT at 50000 (quantity 0.01),
/// stamped now, with `extra` fields: its answer's status and body.
fn post_alert(gw: &Gateway, event: &str, side: &str, extra: &str) -> (u16, serde_json::Value) {
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"{side}","order_type":"market","quantity":"0.01","price":"50000",{extra}"timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    );
    let headers = signed(WEBHOOK, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// [`post_alert`], which must be accepted: the order's client id.
fn alert(gw: &Gateway, event: &str, side: &str, extra: &str) -> String {
    let (status, answer) = post_alert(gw, event, side, extra);
    assert_eq!(status, 200, "{event}: {answer}");
    answer["order_id"].as_str().unwrap().to_string()
}

fn target(gw: &Gateway, event: &str, side: &str, position: &str) -> String {
    alert(
        gw,
        event,
        side,
        &format!(r#""position_size":"{position}","#),
    )
}

/// The order log's lines for `id`.
fn order_lines(dir: &Path, id: &str) -> Vec<serde_json::Value> {
    json_lines(&dir.join("orders.jsonl"))
        .into_iter()
        .filter(|l| l["client_order_id"] == id)
        .collect()
}

/// The paper venue's submit lines for `id`.
fn submits(dir: &Path, id: &str) -> Vec<serde_json::Value> {
    json_lines(&dir.join("paper-venue.jsonl"))
        .into_iter()
        .filter_map(|l| l.get("submit").cloned())
        .filter(|s| s["client_order_id"] == id)
        .collect()
}

fn filled(dir: &Path, id: &str) -> bool {
    order_lines(dir, id)
        .last()
        .is_some_and(|l| l["state"] == "filled")
}

fn nothing_sent(dir: &Path, id: &str) -> bool {
    std::fs::read_to_string(dir.join("gw.log"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(id) && l.contains("nothing sent"))
}

/// The sent order of `id`: (side, quantity, reduce_only).
fn sent(dir: &Path, id: &str) -> (String, String, bool) {
    let line = order_lines(dir, id)
        .into_iter()
        .find(|l| l.get("order").is_some())
        .unwrap_or_else(|| panic!("{id} not in the order log"));
    let o = &line["order"];
    (
        o["side"].as_str().unwrap().to_lowercase(),
        o["quantity"].as_str().unwrap().to_string(),
        o["reduce_only"].as_bool().unwrap(),
    )
}

/// `alertgate_venue_position{venue="paper",symbol="BTC/USDT"}`.
fn metric_position(gw: &Gateway) -> Option<String> {
    let (_, text) = http(gw.port, "GET", "/metrics", &[], b"").unwrap();
    text.lines()
        .find(|l| l.starts_with("alertgate_venue_position{venue=\"paper\",symbol=\"BTC/USDT\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .map(str::to_string)
}

#[test]
fn target_sizing_on_paper_orders_the_difference_once_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = gate_config(d, "[sizing]\nmode = \"target\"\n");
    let mut gw = gateway(&config, d);

    // Flat → long 1: a buy of 1 (the alert's 0.01 is not what is sent).
    let t1 = target(&gw, "t1", "buy", "1");
    wait_until("t1 filled", || filled(d, &t1));
    assert_eq!(sent(d, &t1), ("buy".into(), "1".into(), false));

    // Long 1 again: nothing to order.
    let t2 = target(&gw, "t2", "buy", "1");
    wait_until("t2 nothing sent", || nothing_sent(d, &t2));
    assert!(submits(d, &t2).is_empty());
    assert_eq!(metric_position(&gw).as_deref(), Some("1"));

    // Long 1 → 0.4: a reduce-only sell of 0.6.
    let t3 = target(&gw, "t3", "sell", "0.4");
    wait_until("t3 filled", || filled(d, &t3));
    assert_eq!(sent(d, &t3), ("sell".into(), "0.6".into(), true));

    // Long 0.4 → short 0.5, with a kill -9 right after it is accepted:
    // one sell of 0.9 (it crosses zero: not reduce-only), placed once.
    let t4 = target(&gw, "t4", "sell", "-0.5");
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    drop(gw);
    let gw = gateway(&config, d);
    wait_until("t4 filled after the restart", || filled(d, &t4));
    assert_eq!(sent(d, &t4), ("sell".into(), "0.9".into(), false));
    for id in [&t1, &t3, &t4] {
        assert_eq!(submits(d, id).len(), 1, "{id} submitted once");
    }
    // The alert that ordered nothing is settled: not resumed (and sized
    // again against the new position) by the restart.
    assert!(submits(d, &t2).is_empty());

    // The same target again reads the paper venue's position: -0.5.
    let t5 = target(&gw, "t5", "sell", "-0.5");
    wait_until("t5 nothing sent", || nothing_sent(d, &t5));
    assert_eq!(metric_position(&gw).as_deref(), Some("-0.5"));
    // Sized orders never reach the batched paper stage.
    let (submits, fills) = common::exchange_records(&d.join("fills.jsonl"));
    assert!(
        submits.is_empty() && fills.is_empty(),
        "{submits:?} {fills:?}"
    );
    // The venue fill log holds each fill once, at the alert's price: t4's
    // too, whether the kill came before its answer (then logged when the
    // restart reconciled it) or after.
    let fills = json_lines(&d.join("venue-fills.jsonl"));
    let of = |id: &str| {
        let f: Vec<_> = fills
            .iter()
            .filter(|f| f["fill"]["client_order_id"] == id)
            .collect();
        assert!(f.iter().all(|f| f["fill"]["price"] == 50000.0), "{f:?}");
        f.len()
    };
    assert_eq!((of(&t1), of(&t3)), (1, 1), "{fills:?}");
    assert_eq!(of(&t4), 1, "{fills:?}");
    assert!(
        fills.iter().all(|f| f["fill"]["event_id"]
            .as_str()
            .is_some_and(|e| !e.is_empty())),
        "every fill names its alert: {fills:?}"
    );
}

#[test]
fn fixed_sizing_on_paper_sends_the_configured_quantity() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = gate_config(
        d,
        "[sizing]\nmode = \"fixed\"\nquantity = { \"BTC/USDT\" = \"0.25\" }\n",
    );
    let gw = gateway(&config, d);
    let f1 = alert(&gw, "f1", "buy", "");
    wait_until("f1 filled", || filled(d, &f1));
    assert_eq!(sent(d, &f1), ("buy".into(), "0.25".into(), false));
    let f2 = alert(&gw, "f2", "buy", "");
    wait_until("f2 filled", || filled(d, &f2));
    // A sell within the position only reduces it: reduce-only.
    let f3 = alert(&gw, "f3", "sell", "");
    wait_until("f3 filled", || filled(d, &f3));
    assert_eq!(sent(d, &f3), ("sell".into(), "0.25".into(), true));
    let report = order_lines(d, &f3).last().unwrap()["report"].clone();
    assert_eq!(report["executed_quantity"], "0.25", "{report}");
    assert_eq!(submits(d, &f1).len(), 1);
    // The position the paper venue holds: 0.25 (read when f4 is sized).
    let f4 = alert(&gw, "f4", "buy", "");
    wait_until("f4 filled", || filled(d, &f4));
    assert_eq!(metric_position(&gw).as_deref(), Some("0.25"));
}

#[test]
fn equity_pct_sizing_on_paper_values_the_order_at_the_observed_price() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // `[simulation] initial_cash` 100000: 5 % is 5000, 0.1 BTC at 50000.
    let config = gate_config(d, "[sizing]\nmode = \"equity_pct\"\nequity_pct = \"5\"\n");
    let gw = gateway(&config, d);
    let e1 = alert(&gw, "e1", "buy", "");
    wait_until("e1 filled", || filled(d, &e1));
    assert_eq!(sent(d, &e1), ("buy".into(), "0.1".into(), false));
    assert_eq!(submits(d, &e1).len(), 1);
}

/// Sends a signed target alert; its answer's status and body.
fn target_answer(gw: &Gateway, event: &str, position: &str) -> (u16, serde_json::Value) {
    post_alert(
        gw,
        event,
        "buy",
        &format!(r#""position_size":"{position}","#),
    )
}

#[test]
fn the_policys_limits_bound_what_sizing_orders_not_only_the_alerts_quantity() {
    // The gate checks the alert's quantity (0.01, within max_quantity 2);
    // target and fixed sizing order something else, held to it too.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = gate_config(
        d,
        "[policy]\nmax_quantity = 2\n[sizing]\nmode = \"target\"\n",
    );
    let gw = gateway(&config, d);
    let (status, answer) = target_answer(&gw, "big", "1000");
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], "sizing_quantity_too_large", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("target position 1000") && message.contains("max_quantity 2"),
        "{message}"
    );
    let (status, answer) = target_answer(&gw, "short", "-1000");
    assert_eq!(
        (status, &answer["code"]),
        (422, &"sizing_quantity_too_large".into()),
        "{answer}"
    );
    // Within it: sent.
    let (status, answer) = target_answer(&gw, "ok", "2");
    assert_eq!(status, 200, "{answer}");
    let id = answer["order_id"].as_str().unwrap().to_string();
    wait_until("the target within the limit filled", || filled(d, &id));
    assert_eq!(sent(d, &id), ("buy".into(), "2".into(), false));
    let journal = std::fs::read_to_string(d.join("journal.jsonl")).unwrap();
    assert!(
        journal.contains("sizing_quantity_too_large"),
        "refusals are journaled"
    );
    drop(gw);

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = gate_config(
        d,
        "[policy]\nmax_quantity = 2\n[sizing]\nmode = \"fixed\"\nquantity = { \"BTC/USDT\" = \"3\" }\n",
    );
    let gw = gateway(&config, d);
    let (status, answer) = target_answer(&gw, "fixed", "0");
    assert_eq!(
        (status, &answer["code"]),
        (422, &"sizing_quantity_too_large".into()),
        "{answer}"
    );
    assert!(
        json_lines(&d.join("orders.jsonl")).is_empty(),
        "nothing sent"
    );
}

#[test]
fn an_event_id_reused_after_the_replay_window_is_answered_as_the_replay_it_is() {
    // TradingView's `{{strategy.order.id}}` alone ("Long") as the event id:
    // the gate forgets it after its window (3 s here: alerts carry whole seconds) and would accept it
    // again, but its client order id is taken (a venue takes one once):
    // the answer is 409 `replayed` with the order the event became, never
    // 200 for an order that is then dropped.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = gate_config(
        d,
        "[policy]\nmax_age_s = 3\nmax_future_skew_s = 1\n\
         [sizing]\nmode = \"fixed\"\nquantity = { \"BTC/USDT\" = \"0.25\" }\n",
    );
    let gw = gateway(&config, d);
    let first = alert(&gw, "Long", "buy", "");
    wait_until("the first Long filled", || filled(d, &first));
    std::thread::sleep(std::time::Duration::from_millis(5_500));
    let (status, answer) = post_alert(&gw, "Long", "sell", "");
    assert_eq!(
        (status, &answer["code"]),
        (409, &"replayed".into()),
        "{answer}"
    );
    assert_eq!(answer["order_id"], first.as_str(), "{answer}");
    // Journaled as a replay; one order placed, once.
    let decisions: Vec<_> = json_lines(&d.join("journal.jsonl"))
        .into_iter()
        .filter_map(|l| l.get("decision").cloned())
        .collect();
    let codes: Vec<_> = decisions.iter().map(|x| x["code"].clone()).collect();
    assert!(codes.iter().any(|c| c == "replayed"), "{decisions:?}");
    assert_eq!(submits(d, &first).len(), 1);
    // A new event id is accepted and placed.
    let fresh = alert(&gw, "Long-2", "sell", "");
    wait_until("Long-2 filled", || filled(d, &fresh));
}
