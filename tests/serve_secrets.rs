//! Issue 11: no secret on disk. A `passphrase` gateway is sent the secret
//! every way a sender might (the passphrase itself, escaped, a wrong one,
//! inside another field, in a body that is not JSON, in an
//! `Authorization` header); then every file it wrote, and its log, is
//! searched for the secret. Replaying its journal still decides as it did.
//!
//! Real processes over loopback; every wait is bounded.

use std::path::Path;
use std::process::Command;

mod common;
use common::{http, json_lines, now_s, start_logged, stop, wait_until, SECRET_VAR};

/// Has a `-`, so it can be written escaped (`\u002d`).
const SECRET: &str = "tv-Pass-phrase-2026";

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("gate.toml");
    let text = format!(
        r#"[auth]
scheme = "passphrase"
secrets_env = ["{SECRET_VAR}"]
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
journal = "journal.jsonl"
fills = "fills.jsonl"
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn body(event: &str, passphrase_json: &str, extra: &str) -> String {
    format!(
        r#"{{"passphrase":{passphrase_json},"symbol":"BTCUSDT","side":"buy","type":"limit","price":"100","quantity":"0.1","timestamp":{},"event_id":"{event}"{extra}}}"#,
        now_s() * 1000
    )
}

/// Every file under `dir` (and the log) holds neither the secret nor its
/// escaped form.
fn assert_no_secret_under(dir: &Path) {
    let escaped = SECRET.replace('-', "\\u002d");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET),
            "{} holds the secret",
            path.display()
        );
        assert!(
            !text.contains(&escaped),
            "{} holds it escaped",
            path.display()
        );
    }
}

#[test]
fn no_secret_reaches_the_disk_and_the_journal_still_replays() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let gw = start_logged(&config, SECRET, "debug", &dir.path().join("serve.log"));
    let secret = serde_json::to_string(SECRET).unwrap();
    // (extra headers, body, expected status)
    type Case = (Vec<(&'static str, String)>, String, u16);
    let cases: Vec<Case> = vec![
        (vec![], body("ok-1", &secret, ""), 200),
        (
            vec![],
            body(
                "escaped-2",
                &format!("\"{}\"", SECRET.replace('-', "\\u002d")),
                "",
            ),
            200,
        ),
        (vec![], body("wrong-3", "\"tv-Pass-phrase-2025\"", ""), 401),
        (
            vec![],
            body(
                "comment-4",
                &secret,
                &format!(r#","comment":"pass {SECRET}""#),
            ),
            200,
        ),
        (vec![], format!(r#"{{"passphrase":{secret}, oops"#), 400),
        (
            vec![("Authorization", format!("Bearer {SECRET}"))],
            body("auth-6", &secret, ""),
            200,
        ),
    ];
    for (extra, body, status) in &cases {
        let mut headers = extra.clone();
        headers.push(("X-Forwarded-For", "52.89.214.238".into()));
        headers.push(("Content-Type", "application/json".into()));
        let (got, answer) = http(gw.port, "POST", "/webhook", &headers, body.as_bytes()).unwrap();
        assert_eq!(got, *status, "{body}: {answer}");
        assert!(
            !answer.contains(SECRET),
            "the answer echoes the secret: {answer}"
        );
    }
    let fills = dir.path().join("fills.jsonl");
    wait_until("four orders submitted", || {
        json_lines(&fills)
            .iter()
            .filter(|l| l.get("submit").is_some())
            .count()
            == 4
    });
    let mut gw = gw;
    stop(&mut gw.child);
    assert_no_secret_under(dir.path());

    // The journal replays to the same decisions: the placeholders of the
    // matching passphrases are filled from the configuration's secret.
    let journal = json_lines(&dir.path().join("journal.jsonl"));
    let codes: Vec<&str> = journal
        .iter()
        .map(|l| l["decision"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "accepted").count(),
        4,
        "{codes:?}"
    );
    let t0 = (now_s() - 600) * 1000;
    let bars: String = (0..30)
        .map(|i| format!("{},100,101,99,100,1\n", t0 + i * 60_000))
        .collect();
    std::fs::write(
        dir.path().join("btc.csv"),
        format!("time,open,high,low,close,volume\n{bars}"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(["replay", "--config"])
        .arg(&config)
        .arg("--stream")
        .arg(dir.path().join("journal.jsonl"))
        .arg("--market")
        .arg(format!("BTC/USDT={}", dir.path().join("btc.csv").display()))
        .arg("--json")
        .arg(dir.path().join("report.json"))
        .env(SECRET_VAR, SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let alerts = &report["summary"]["alerts"];
    assert_eq!(alerts["accepted"], 4, "{alerts}");
    assert_eq!(alerts["rejected_by_code"]["bad_signature"], 1, "{alerts}");
    assert_eq!(alerts["rejected_by_code"]["invalid_json"], 1, "{alerts}");
}
