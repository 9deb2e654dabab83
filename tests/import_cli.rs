//! `alertgate import tradingview-trades` then `alertgate replay`, as a user
//! runs them: each scheme a replay configuration may have, TradingView's
//! net P&L in the report, and the exit codes of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const OLD: &str = "simulator/tests/fixtures/tradingview/old-btc-berlin.csv";
const NEW: &str = "simulator/tests/fixtures/tradingview/new-eth-newyork.csv";
const BTC: &str = "examples/replay/market/BTC-USDT.csv";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(args)
        // The market cache goes under target/, not the user's ~/.cache.
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn import(file: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "import",
        "tradingview-trades",
        file,
        "--symbol",
        "BINANCE:BTCUSDT",
    ];
    args.extend(["--tz", "Europe/Berlin"]);
    args.extend(extra);
    run(&args, env)
}

/// Imports the older fixture with `extra` arguments, replays it with
/// `auth` as the configuration's `[auth]` section, and returns the JSON
/// report.
fn import_and_replay(
    dir: &Path,
    extra: &[&str],
    auth: &str,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let out = import(OLD, extra, env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "alertgate import: 6 alerts from 3 closed and 0 open trades; TradingView net P&L -54.85\n"
    );
    let stream = dir.join("alerts.jsonl");
    std::fs::write(&stream, &out.stdout).unwrap();
    let config = dir.join("alertgate.toml");
    let market = root().join(BTC);
    std::fs::write(
        &config,
        format!(
            "{auth}\n[simulation]\nstream = \"alerts.jsonl\"\nmarket = {{ \"BTC/USDT\" = {:?} }}\n\
             tradingview_trades = {:?}\ntradingview_tz = \"Europe/Berlin\"\n\
             [simulation.latency]\ndelivery_ms = 200\n",
            market.display().to_string(),
            root().join(OLD).display().to_string(),
        ),
    )
    .unwrap();
    let json = dir.join("report.json");
    let html = dir.join("report.html");
    let out = run(
        &[
            "replay",
            "--config",
            config.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let tradingview = table
        .lines()
        .find_map(|line| line.strip_prefix("TradingView net P&L"))
        .map(str::trim);
    assert_eq!(tradingview, Some("-54.85"), "{table}");
    let page = std::fs::read_to_string(html).unwrap();
    assert!(page.contains("<tr><td>TradingView net P&amp;L</td><td>-54.85</td></tr>"));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn an_imported_backtest_replays_through_each_kind_of_gate() {
    let secret = [("TV_SECRET", "import-test-secret")];
    let cases: &[(&[&str], &str)] = &[
        (&[], "[auth]\nscheme = \"none\""),
        (
            &["--scheme", "passphrase"],
            "[auth]\nscheme = \"passphrase\"\nsecrets = [\"pw\"]",
        ),
        (
            &["--scheme", "timestamped", "--secret-env", "TV_SECRET"],
            "[auth]\nscheme = \"timestamped\"\nsecrets_env = [\"TV_SECRET\"]",
        ),
        (
            &["--scheme", "standard-webhooks", "--secret-env", "TV_SECRET"],
            "[auth]\nscheme = \"standard-webhooks\"\nsecrets_env = [\"TV_SECRET\"]",
        ),
    ];
    for (extra, auth) in cases {
        let dir = tempfile::tempdir().unwrap();
        let env: &[(&str, &str)] = if auth.contains("standard") {
            &[("TV_SECRET", "whsec_aW1wb3J0LXRlc3Qtc2VjcmV0")]
        } else {
            &secret
        };
        let report = import_and_replay(dir.path(), extra, auth, env);
        let s = &report["summary"];
        assert_eq!(s["alerts"]["accepted"], 6, "{auth}: {s}");
        assert_eq!(s["trades"], 3, "{auth}");
        let tv = &s["tradingview"];
        assert_eq!(tv["net_pnl"], -54.85, "{auth}");
        assert_eq!(
            (tv["closed_trades"].as_u64(), tv["open_trades"].as_u64()),
            (Some(3), Some(0))
        );
        let replayed: f64 = report["trades"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["pnl"].as_f64().unwrap())
            .sum();
        assert!((tv["replay_net_pnl"].as_f64().unwrap() - replayed).abs() < 1e-6);
        let stream = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
        assert!(!stream.contains("import-test-secret") && !stream.contains("\"pw\""));
    }
}

#[test]
fn alerts_signed_with_another_secret_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = import(
        OLD,
        &["--scheme", "github", "--secret-env", "S"],
        &[("S", "mine")],
    );
    assert!(out.status.success());
    std::fs::write(dir.path().join("a.jsonl"), &out.stdout).unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[auth]\nscheme = \"github\"\nsecrets = [\"theirs\"]\n",
    )
    .unwrap();
    let out = run(
        &[
            "replay",
            "--config",
            dir.path().join("c.toml").to_str().unwrap(),
            "--stream",
            dir.path().join("a.jsonl").to_str().unwrap(),
            "--market",
            &format!("BTC/USDT={BTC}"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let row = |name: &str| {
        let line = table.lines().find(|l| l.trim_start().starts_with(name));
        line.and_then(|l| l.split_whitespace().last())
            .map(str::to_string)
    };
    assert_eq!(row("bad_signature").as_deref(), Some("6"), "{table}");
    assert_eq!(row("accepted").as_deref(), Some("0"), "{table}");
}

#[test]
fn an_open_trade_gives_its_entry_and_no_exit() {
    let out = run(
        &[
            "import",
            "tradingview-trades",
            NEW,
            "--symbol",
            "ETHUSDT",
            "--tz",
            "America/New_York",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stream = text(&out.stdout);
    let ids: Vec<&str> = ["tv-1-entry", "tv-1-exit", "tv-2-entry", "tv-2-exit"]
        .into_iter()
        .filter(|id| stream.contains(&format!("\\\"event_id\\\":\\\"{id}\\\"")))
        .collect();
    assert_eq!(ids, ["tv-1-entry", "tv-1-exit", "tv-2-entry"]);
    assert!(text(&out.stderr).contains("1 closed and 1 open trades; TradingView net P&L 99.50"));
}

#[test]
fn bad_input_exits_2_naming_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Trade #,Type,Signal,Date/Time,Price USDT,Contracts\n1,Entry long,L,2024-01-03 15:00,abc,1\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap().to_string();
    let market = format!("BTC/USDT={BTC}");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec![
                "import",
                "tradingview-trades",
                &bad,
                "--symbol",
                "BTCUSDT",
                "--tz",
                "UTC",
            ],
            format!("alertgate import: {bad}:2: column \"Price USDT\": \"abc\" is not a price"),
        ),
        (
            vec![
                "import",
                "tradingview-trades",
                OLD,
                "--symbol",
                "BTCUSDT",
                "--tz",
                "Berlin",
            ],
            "alertgate import: time zone \"Berlin\" is not an IANA time zone name".into(),
        ),
        (
            vec![
                "import",
                "tradingview-trades",
                OLD,
                "--symbol",
                "BTC USDT",
                "--tz",
                "UTC",
            ],
            "alertgate import: --symbol \"BTC USDT\"".into(),
        ),
        (
            vec![
                "import",
                "tradingview-trades",
                OLD,
                "--symbol",
                "BTCUSDT",
                "--tz",
                "UTC",
                "--scheme",
                "hex-body",
            ],
            "alertgate import: --scheme hex-body signs: give --secret-env NAME".into(),
        ),
        (
            vec![
                "replay",
                "--stream",
                "examples/replay/alerts.jsonl",
                "--market",
                &market,
                "--tradingview-trades",
                &bad,
            ],
            format!("alertgate replay: {bad}:2: column \"Price USDT\""),
        ),
    ];
    for (args, message) in cases {
        let out = run(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with(&message), "{args:?}: {err}");
    }
}
