//! Issue 11: load shedding in `alertgate serve`, as a real process. With a
//! tiny `[serve] max_wait_ms`, bursts of concurrent alerts overload it: a
//! request that waited past the budget before its decision is answered 503
//! `overloaded` with `Retry-After` at once, counted in `/metrics`, and never
//! journaled; every alert answered 200 is journaled and executed exactly
//! once.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

mod common;
use common::{alert, gate_config, http, json_lines, now_s, signed, start, wait_until};

const SECRET: &str = "load-secret";

/// One signed alert posted on its own connection: (status, `Retry-After`,
/// the answer's `code`).
fn post(port: u16, event: &str) -> (u16, Option<String>, String) {
    let body = alert(event);
    let mut head = format!(
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in signed(SECRET, &body, now_s(), "52.89.214.238") {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Head and body in one write: the request is complete at once.
    s.write_all(&[head.as_bytes(), &body].concat()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let retry = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .map(str::to_string);
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{out}"));
    (status, retry, v["code"].as_str().unwrap().to_string())
}

fn metric(port: u16, name: &str) -> u64 {
    let (_, text) = http(port, "GET", "/metrics", &[], b"").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[test]
fn overloaded_requests_are_shed_at_once_and_every_accepted_alert_executes_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = gate_config(
        dir.path(),
        r#"
[policy]
max_order_value = 1000
[rate]
per_second = 0
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
max_wait_ms = 1
"#,
    );
    let gw = start(&config, SECRET);
    let port = gw.port;
    let mut answers: BTreeMap<(u16, Option<String>, String), usize> = BTreeMap::new();
    let mut accepted = Vec::new();
    // Bursts of concurrent alerts until some are shed (the first burst
    // nearly always is: 1 ms is a few decisions' worth of queue).
    for round in 0..20 {
        let burst: Vec<_> = (0..128)
            .map(|i| {
                let event = format!("burst-{round}-{i}");
                std::thread::spawn(move || (post(port, &event), event))
            })
            .collect();
        for t in burst {
            let (answer, event) = t.join().unwrap();
            if answer.0 == 200 {
                accepted.push(event);
            }
            *answers.entry(answer).or_default() += 1;
        }
        if answers.keys().any(|(s, _, _)| *s == 503) && !accepted.is_empty() {
            break;
        }
    }
    let shed = answers
        .get(&(503, Some("1".into()), "overloaded".into()))
        .copied()
        .unwrap_or(0);
    let ok = answers
        .get(&(200, None, "accepted".into()))
        .copied()
        .unwrap_or(0);
    // Only acceptances and sheds; each shed says when to retry.
    assert_eq!(shed + ok, answers.values().sum::<usize>(), "{answers:?}");
    assert!(shed > 0 && ok > 0, "{answers:?}");
    assert_eq!(metric(port, "alertgate_shed_total"), shed as u64);
    assert_eq!(metric(port, "alertgate_abandoned_total"), 0);

    // Every 200 is journaled and executed exactly once; nothing shed is
    // journaled.
    let journal = json_lines(&dir.path().join("journal.jsonl"));
    assert_eq!(journal.len(), ok, "a shed request reached the journal");
    let fills = dir.path().join("fills.jsonl");
    wait_until("every accepted order executed", || {
        common::exchange_records(&fills).0.len() >= ok
    });
    let (submits, _) = common::exchange_records(&fills);
    let mut executed: Vec<String> = submits
        .iter()
        .map(|s| s["event_id"].as_str().unwrap().to_string())
        .collect();
    executed.sort();
    accepted.sort();
    assert_eq!(executed, accepted);

    // The budget is a ceiling, not a constant refusal: one alert alone is
    // decided.
    let (status, _, code) = post(port, "alone");
    assert_eq!((status, code.as_str()), (200, "accepted"));
}
