//! `alertgate replay` as a user runs it: the bundled sample, the report
//! files, determinism, sweeps and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .arg("replay")
        // The market cache goes under target/, not the user's ~/.cache.
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn path_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn bundled_sample_replays_without_arguments() {
    let out = replay(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    for row in [
        "alerts",
        "accepted",
        "rejected",
        "stale",
        "replayed",
        "bad_signature",
        "ip_not_allowed",
        "symbol_not_allowed",
        "below_confidence",
        "final equity",
        "max drawdown",
        "Sharpe",
        "Sortino",
        "win rate",
        "profit factor",
        "exposure",
        "fees paid",
        "delivery",
        "order",
        "response",
    ] {
        assert!(table.contains(row), "no {row:?} in\n{table}");
    }
    // stderr is not a terminal here: no progress bar.
    assert_eq!(stderr(&out), "");
    // `--timings` says how long each phase took, on stderr only.
    let timed = replay(&["--timings"]);
    assert!(timed.status.success(), "{}", stderr(&timed));
    assert_eq!(stdout(&timed), table);
    let said = stderr(&timed);
    let phases: Vec<f64> = said
        .trim_end()
        .strip_prefix("timings: ")
        .unwrap_or_else(|| panic!("{said:?}"))
        .split(", ")
        .zip(["load ", "run ", "report "])
        .map(|(part, name)| {
            let ms = part.strip_prefix(name).and_then(|p| p.strip_suffix(" ms"));
            ms.and_then(|m| m.parse().ok())
                .unwrap_or_else(|| panic!("{said:?}"))
        })
        .collect();
    assert_eq!(phases.len(), 3, "{said:?}");
    assert!(
        phases.iter().all(|&ms| ms >= 0.0) && phases[1] > 0.0,
        "{said:?}"
    );
}

#[test]
fn report_files_are_consistent_and_byte_identical_for_one_seed() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name);
    let run = |json: &Path, seed: &str| {
        let out = replay(&[
            "--json",
            path_arg(json),
            "--seed",
            seed,
            "--trades",
            path_arg(&file("trades.csv")),
            "--html",
            path_arg(&file("report.html")),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read(json).unwrap()
    };
    let a = run(&file("a.json"), "7");
    let b = run(&file("b.json"), "7");
    let c = run(&file("c.json"), "8");
    assert_eq!(a, b, "same inputs and seed, same bytes");
    assert_ne!(a, c, "another seed draws other latencies");

    let report: serde_json::Value = serde_json::from_slice(&a).unwrap();
    let s = &report["summary"];
    let n = |v: &serde_json::Value| v.as_u64().unwrap();
    assert_eq!(n(&s["seed"]), 7);
    assert_eq!(
        n(&s["alerts"]["accepted"]) + n(&s["alerts"]["rejected"]),
        n(&s["alerts"]["total"])
    );
    let by_code: u64 = s["alerts"]["rejected_by_code"]
        .as_object()
        .unwrap()
        .values()
        .map(n)
        .sum();
    assert_eq!(by_code, n(&s["alerts"]["rejected"]));
    assert_eq!(
        report["rejections"].as_array().unwrap().len() as u64,
        by_code
    );
    let trades = report["trades"].as_array().unwrap();
    assert_eq!(trades.len() as u64, n(&s["trades"]));
    assert!(!trades.is_empty());
    for key in [
        "symbol",
        "side",
        "quantity",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "pnl",
        "fees",
    ] {
        assert!(trades[0].get(key).is_some(), "trade has no {key}");
    }
    for key in ["received_at", "code", "message", "line", "status"] {
        assert!(
            report["rejections"][0].get(key).is_some(),
            "rejection has no {key}"
        );
    }
    let curve = report["equity_curve"].as_array().unwrap();
    assert!(curve.len() > 100 && curve.len() <= 1001, "{}", curve.len());
    // Return % agrees with final equity.
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    let expected = (f(&s["final_equity"]) / f(&s["initial_cash"]) - 1.0) * 100.0;
    assert!((f(&s["return_pct"]) - expected).abs() < 1e-9);
    // Realized trade PnL and fees are within what the equity change allows:
    // equity − initial = Σ pnl + unrealized − fees of still-open lots.
    let latency = &s["latency_ms"];
    for stage in ["delivery", "order", "response"] {
        let l = &latency[stage];
        assert!(
            n(&l["p50"]) <= n(&l["p90"])
                && n(&l["p90"]) <= n(&l["p99"])
                && n(&l["p99"]) <= n(&l["max"])
        );
    }

    let csv = std::fs::read_to_string(file("trades.csv")).unwrap();
    assert!(csv.starts_with(
        "symbol,side,quantity,entry_time,entry_price,exit_time,exit_price,pnl,fees\n"
    ));
    assert_eq!(csv.lines().count(), trades.len() + 1);
    let html = std::fs::read_to_string(file("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("aria-label=\"equity\"") && html.contains("aria-label=\"drawdown percent\"")
    );
    // A price chart per symbol, and a lane for the rejected alert whose
    // symbol has no market data; a marker per fill and per rejection.
    assert_eq!(html.matches("<section class=\"pc\">").count(), 3);
    assert!(html.contains("<h3>BTC/USDT</h3>") && html.contains("<h3>ETH/USDT</h3>"));
    let fill_marks = html.matches("<g class=\"mk buy\">").count()
        + html.matches("<g class=\"mk sell\">").count();
    assert_eq!(fill_marks as u64, n(&s["fills"]));
    assert_eq!(html.matches("<g class=\"mk rej\">").count() as u64, by_code);
    for r in report["rejections"].as_array().unwrap() {
        let code = r["code"].as_str().unwrap();
        assert!(
            html.contains(&format!("<title>rejected: {code} ")),
            "{code}"
        );
    }
    for outside in ["<script", "http://", "https://", "src="] {
        assert!(!html.contains(outside), "{outside}");
    }
}

#[test]
fn sweep_prints_one_row_per_combination() {
    let out = replay(&[
        "--sweep",
        "latency.order_ms=0,5000",
        "--sweep",
        "policy.min_confidence=0.6,0.7,0.8",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 6, "{text}");
    assert!(lines[0].contains("latency.order_ms") && lines[0].contains("policy.min_confidence"));
    // Grid order: first axis slowest.
    assert!(
        lines[1].starts_with("0 ") && lines[4].starts_with("5000 "),
        "{text}"
    );
    // A stricter confidence floor accepts fewer alerts.
    let accepted = |line: &str| {
        line.split_whitespace()
            .nth(2)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(accepted(lines[1]) > accepted(lines[3]), "{text}");

    let bad = replay(&["--sweep", "policy.min_confidence=2"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("policy.min_confidence"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn bad_input_stops_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("examples/replay");
    let stream = sample.join("alerts.jsonl");
    let btc = sample.join("market/BTC-USDT.csv");
    let eth = sample.join("market/ETH-USDT.csv");
    let market = |p: &Path, s: &str| format!("{s}={}", p.display());

    // high < low on line 3.
    let broken = dir.path().join("BTC-USDT.csv");
    let mut text: Vec<String> = std::fs::read_to_string(&btc)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let time = text[2].split(',').next().unwrap().to_string();
    text[2] = format!("{time},100,90,110,100,1");
    std::fs::write(&broken, text.join("\n")).unwrap();
    let out = replay(&[
        "--config",
        "examples/replay/alertgate.toml",
        "--stream",
        path_arg(&stream),
        "--market",
        &market(&broken, "BTC/USDT"),
        "--market",
        &market(&eth, "ETH/USDT"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("BTC-USDT.csv:3: field \"high\""), "{err}");

    // An accepted ETH alert without ETH data.
    let out = replay(&[
        "--config",
        "examples/replay/alertgate.toml",
        "--market",
        &market(&btc, "BTC/USDT"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("alerts.jsonl:")
            && err.contains("field \"symbol\": no market data for ETH/USDT"),
        "{err}"
    );

    // A malformed stream line.
    let bad_stream = dir.path().join("s.jsonl");
    std::fs::write(
        &bad_stream,
        "{\"received_at\": 1704067200000, \"body\": 5}\n",
    )
    .unwrap();
    let out = replay(&[
        "--stream",
        path_arg(&bad_stream),
        "--market",
        &market(&btc, "BTC/USDT"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("s.jsonl:1: field \"body\""),
        "{}",
        stderr(&out)
    );

    // Usage errors.
    let out = replay(&["--market", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    let out = replay(&["--sweep", "seed=1", "--html", "x.html"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--sweep"));
}

/// `dir/s.jsonl`: one BTC/USDT market buy of 2024-01-01 00:00:30 (unsigned:
/// the default gate has no secret), with `extra` body fields.
fn btc_buy_stream(dir: &Path, extra: &str) -> PathBuf {
    let stream = dir.join("s.jsonl");
    let body = format!(
        r#"{{"ticker":"BTCUSDT","action":"buy","type":"market","qty":"0.01","price":"42290",{extra}"confidence":"0.80","time":"2024-01-01T00:00:30.000Z"}}"#
    );
    let line = serde_json::json!({
        "received_at": 1_704_067_230_000i64,
        "headers": {"Content-Type": "application/json"},
        "body": body,
        "source_ip": "52.89.214.238",
    });
    std::fs::write(&stream, format!("{line}\n")).unwrap();
    stream
}

#[test]
fn binance_klines_replay_detected_and_forced() {
    let dir = tempfile::tempdir().unwrap();
    let stream = btc_buy_stream(dir.path(), r#""stop_loss":"42000","take_profit":"42600","#);
    let klines = "BTC/USDT=tests/fixtures/formats/market/BTCUSDT-1m-2024-01.csv";
    let base = ["--stream", path_arg(&stream), "--market", klines];
    for format in [None, Some("binance-klines")] {
        let mut args = base.to_vec();
        args.extend(format.map(|f| ["--market-format", f]).into_iter().flatten());
        let out = replay(&args);
        assert_eq!(out.status.code(), Some(0), "{format:?}: {}", stderr(&out));
        let table = stdout(&out);
        assert!(table.contains("open position BTC/USDT"), "{table}");
        let fills = table.lines().find(|l| l.starts_with("fills")).unwrap();
        assert!(fills.ends_with(" 1"), "{table}");
    }

    // Forced to another format, the file is refused at its first line.
    let mut args = base.to_vec();
    args.extend(["--market-format", "tradingview"]);
    let out = replay(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("BTCUSDT-1m-2024-01.csv:1: no header row; the tradingview format needs one"),
        "{}",
        stderr(&out)
    );
    let out = replay(&["--market-format", "csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a market format"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_market_dir_of_monthly_binance_files_is_joined_and_its_gap_reported() {
    let dir = tempfile::tempdir().unwrap();
    let stream = btc_buy_stream(dir.path(), "");
    let market = dir.path().join("market");
    std::fs::create_dir(&market).unwrap();
    let january =
        std::fs::read_to_string("tests/fixtures/formats/market/BTCUSDT-1m-2024-01.csv").unwrap();
    std::fs::write(market.join("BTCUSDT-1m-2024-01.csv"), january).unwrap();
    // February 1st, two bars: a gap of a month less the fixture's minutes.
    std::fs::write(
        market.join("BTCUSDT-1m-2024-02.csv"),
        "1706745600000,42500,42600,42400,42550,3,1706745659999,0,1,0,0,0\n\
         1706745660000,42550,42650,42500,42600,3,1706745719999,0,1,0,0,0\n",
    )
    .unwrap();
    let out = replay(&[
        "--stream",
        path_arg(&stream),
        "--market-dir",
        path_arg(&market),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("open position BTC/USDT"), "{table}");
    assert!(
        table.contains("market data gaps between files")
            && table.contains("BTCUSDT-1m-2024-01.csv")
            && table.contains("BTCUSDT-1m-2024-02.csv"),
        "{table}"
    );
}
