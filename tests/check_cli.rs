//! `alertgate check` as a user runs it: exit codes, one JSON line, messages.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .arg("check")
        .args(args)
        .current_dir(root())
        .env_remove("ALERTGATE_TEST_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    serde_json::from_str(&text).unwrap()
}

fn signature() -> String {
    std::fs::read_to_string(root().join("examples/alert.sig"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn bundled_example_is_accepted() {
    let header = format!("X-Tradeeon-Signature: {}", signature());
    let out = run(
        &[
            "--config",
            "examples/alertgate.toml",
            "--body-file",
            "examples/alert.json",
            "-H",
            &header,
            "--now",
            "2023-11-04T16:00:05Z",
            "--mark-price",
            "67450",
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["accepted"], true);
    assert_eq!(v["order"]["symbol"], "BTC/USDT");
    assert_eq!(v["order"]["quantity"], "0.1");
    assert_eq!(v["order"]["event_id"], "sma-x:1699113600");
    assert_eq!(v["order"]["timestamp_ms"], 1_699_113_600_000i64);
}

#[test]
fn rejections_exit_1_with_code_status_and_message() {
    let body = std::fs::read(root().join("examples/alert.json")).unwrap();
    // No signature header.
    let out = run(
        &["--config", "examples/alertgate.toml", "--now", "1699113605"],
        &body,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["accepted"], false);
    assert_eq!(v["code"], "missing_signature");
    assert_eq!(v["status"], 401);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("X-Tradeeon-Signature"));

    // Signed, but checked an hour later: the signature has expired.
    let header = format!("X-Tradeeon-Signature: {}", signature());
    let out = run(
        &[
            "--config",
            "examples/alertgate.toml",
            "-H",
            &header,
            "--now",
            "1699117200",
        ],
        &body,
    );
    assert_eq!(json(&out)["code"], "signature_expired");

    // Defaults (scheme none) on stdin: the alert is stale by the clock given.
    let out = run(&["--now", "2023-11-04T17:00:00Z"], &body);
    let v = json(&out);
    assert_eq!(v["code"], "stale");
    assert_eq!(v["status"], 422);
}

#[test]
fn defaults_accept_a_fresh_unsigned_alert() {
    let body = br#"{"ticker":"NASDAQ:AAPL","action":"sell","contracts":"3","time":"2023-11-04T16:00:00Z"}"#;
    // AAPL has no known quote: the symbol cannot be split.
    let out = run(&["--now", "2023-11-04T16:00:01Z"], body);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["code"], "invalid_field");
    assert!(v["message"].as_str().unwrap().contains("symbol"));

    let body = br#"{"ticker":"BINANCE:ETHUSDT.P","action":"sell","contracts":"3","time":"2023-11-04T16:00:00Z"}"#;
    let out = run(
        &["--now", "2023-11-04T16:00:01Z", "--mark-price", "1800"],
        body,
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["order"]["symbol"], "ETH/USDT");
    assert_eq!(v["order"]["side"], "sell");
}

#[test]
fn usage_and_config_errors_exit_2() {
    let out = run(&["--config", "does/not/exist.toml"], b"{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does/not/exist.toml"));
    assert!(out.stdout.is_empty());

    let out = run(&["-H", "no-colon-here"], b"{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-colon-here"));

    let out = run(&["--now", "soon"], b"{}");
    assert_eq!(out.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[auth]\nscheme = \"timestamped\"\n").unwrap();
    let out = run(&["--config", cfg.to_str().unwrap()], b"{}");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret"), "{err}");

    std::fs::write(
        &cfg,
        "[auth]\nscheme = \"github\"\nsecrets = [\"s3cr3t-value\"]\n[policy]\nmax_age_s = \"x\"\n",
    )
    .unwrap();
    let out = run(&["--config", cfg.to_str().unwrap()], b"{}");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_age_s"), "{err}");
    assert!(
        !err.contains("s3cr3t-value"),
        "secrets never printed: {err}"
    );
}

/// Issue 9's reproduction: with a mark of 67000, 5 BTC is over a value
/// limit of 1000, and writing a low `price` or `stop_price` into the alert
/// (or making it a sell limit or a buy stop, which execute at the market)
/// does not change that.
#[test]
fn an_alert_price_does_not_defeat_max_order_value() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("value.toml");
    std::fs::write(
        &config,
        "[policy]\nmax_order_value = 1000\nmax_quantity = 10\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let decide = |extra: &str, mark: Option<&str>| {
        let body =
            format!(r#"{{"symbol":"BTCUSDT","quantity":"5","timestamp":1699113600000{extra}}}"#);
        let mut args = vec!["--config", config, "--now", "1699113601"];
        if let Some(mark) = mark {
            args.extend(["--mark-price", mark]);
        }
        let v = json(&run(&args, body.as_bytes()));
        v["code"].as_str().unwrap_or("accepted").to_string()
    };
    let mark = Some("67000");
    for extra in [
        r#","side":"buy""#,
        r#","side":"buy","price":"0.01""#,
        r#","side":"buy","stop_price":"0.01""#,
        r#","side":"sell","type":"limit","price":"0.01""#,
        r#","side":"buy","type":"stop","stop_price":"0.01""#,
    ] {
        assert_eq!(decide(extra, mark), "order_value_too_large", "{extra}");
        assert_eq!(decide(extra, None), "unpriced_order", "{extra}");
    }
    // A buy limit never costs more than its limit: 5 × 0.01.
    let buy_limit = r#","side":"buy","type":"limit","price":"0.01""#;
    assert_eq!(decide(buy_limit, mark), "accepted");
    assert_eq!(decide(buy_limit, None), "accepted");
    // Trusting alert prices is a setting, off by default.
    let trusting = dir.path().join("trusting.toml");
    std::fs::write(
        &trusting,
        "[policy]\nmax_order_value = 1000\ntrust_alert_prices = true\n",
    )
    .unwrap();
    let body = br#"{"symbol":"BTCUSDT","side":"buy","quantity":"5","price":"0.01","timestamp":1699113600000}"#;
    let out = run(
        &[
            "--config",
            trusting.to_str().unwrap(),
            "--now",
            "1699113601",
        ],
        body,
    );
    assert_eq!(json(&out)["accepted"], true);
}
