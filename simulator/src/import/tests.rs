//! The TradingView import on hand-written exports of both header versions
//! (`simulator/tests/fixtures/tradingview/`), on bad rows, and on generated
//! exports (proptest).

use proptest::prelude::*;

use super::*;
use crate::stream::parse_line;
use alertgate_validator::time::parse_rfc3339;

const OLD: &str = include_str!("../../tests/fixtures/tradingview/old-btc-berlin.csv");
const NEW: &str = include_str!("../../tests/fixtures/tradingview/new-eth-newyork.csv");
const FOLD: &str = include_str!("../../tests/fixtures/tradingview/fold-btc-berlin.csv");

fn parse(text: &str, tz: &str) -> Result<TradeList, ImportError> {
    tradingview_trades::parse(text.as_bytes(), "t.csv", &ChartZone::new(tz).unwrap())
}

fn ms(text: &str) -> i64 {
    parse_rfc3339(text).unwrap()
}

/// `(time, id, side)` of each event.
fn summary(list: &TradeList) -> Vec<(String, String, &'static str)> {
    list.events
        .iter()
        .map(|e| {
            (
                alertgate_validator::time::Rfc3339(e.time_ms).to_string(),
                alerts::event_id(e),
                alerts::side(e),
            )
        })
        .collect()
}

#[test]
fn the_older_export_reads_in_time_order_with_a_reversal_and_a_one_bar_trade() {
    let list = parse(OLD, "Europe/Berlin").unwrap();
    let s = |t: &str, id: &str, side| (t.to_string(), id.to_string(), side);
    assert_eq!(
        summary(&list),
        [
            s("2024-01-03T14:00:00.000Z", "tv-1-entry", "sell"),
            // The reversal's bar: trade 1 closes before trade 2 opens.
            s("2024-01-05T08:00:00.000Z", "tv-1-exit", "buy"),
            s("2024-01-05T08:00:00.000Z", "tv-2-entry", "buy"),
            s("2024-01-08T20:00:00.000Z", "tv-2-exit", "sell"),
            // Entered and exited on one bar: entry first.
            s("2024-01-10T11:00:00.000Z", "tv-3-entry", "buy"),
            s("2024-01-10T11:00:00.000Z", "tv-3-exit", "sell"),
        ]
    );
    let first = &list.events[0];
    assert_eq!(
        (first.price.as_str(), first.quantity.as_str()),
        ("42150.5", "0.5")
    );
    assert_eq!((first.signal.as_str(), first.line), ("Short", 7));
    assert_eq!((list.closed_trades, list.open_trades), (3, 0));
    // Each closed trade's P&L once, though both of its rows repeat it.
    let net = list.net_pnl.unwrap();
    assert!((net - (85.2 - 240.05 + 100.0)).abs() < 1e-9, "{net}");
}

#[test]
fn the_newer_export_drops_an_open_trades_exit_and_its_pnl() {
    let list = parse(NEW, "America/New_York").unwrap();
    let ids: Vec<String> = list.events.iter().map(alerts::event_id).collect();
    assert_eq!(ids, ["tv-1-entry", "tv-1-exit", "tv-2-entry"]);
    assert_eq!(list.events[0].time_ms, ms("2024-07-01T14:00:00Z"));
    assert_eq!(list.events[2].quantity, "1.5");
    assert_eq!((list.closed_trades, list.open_trades), (1, 1));
    assert_eq!(list.net_pnl, Some(99.5));
}

#[test]
fn fold_times_keep_each_trade_after_the_previous_event() {
    let list = parse(FOLD, "Europe/Berlin").unwrap();
    let times: Vec<i64> = list.events.iter().map(|e| e.time_ms).collect();
    assert_eq!(
        times,
        [
            ms("2024-10-27T00:30:00Z"), // 02:30, first time round
            ms("2024-10-27T01:15:00Z"), // 02:15 after it: second time round
            ms("2024-10-27T01:45:00Z"), // 02:45 after that exit
            ms("2024-10-27T02:30:00Z"), // 03:30, once
        ]
    );
}

/// `(rows after the old header, code, text in the message, line)`.
const BAD: &[(&str, &str, &str, u64)] = &[
    (
        "x,Entry long,L,2024-01-03 15:00,1,1,",
        "import_bad_value",
        "column \"Trade #\": \"x\" is not a trade number",
        2,
    ),
    (
        "0,Entry long,L,2024-01-03 15:00,1,1,",
        "import_bad_value",
        "\"0\" is not a trade number",
        2,
    ),
    (
        "1,Buy,L,2024-01-03 15:00,1,1,",
        "import_bad_value",
        "column \"Type\": \"Buy\" is not a row type; expected Entry long",
        2,
    ),
    (
        "1,Entry long,L,03.01.2024 15:00,1,1,",
        "import_bad_value",
        "column \"Date/Time\": \"03.01.2024 15:00\" is not a chart time",
        2,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,0,1,",
        "import_bad_value",
        "column \"Price USDT\": \"0\" is not a price",
        2,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,\"1,5\",1,",
        "import_bad_value",
        "\"1,5\" is not a price",
        2,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,1,-1,",
        "import_bad_value",
        "column \"Contracts\": \"-1\" is not a quantity",
        2,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,1,1,\n1,Exit long,X,2024-01-04 15:00,1,1,",
        "import_bad_value",
        "column \"Profit USDT\": \"\" is empty; an exit row needs the trade's P&L",
        3,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,1,1,\n1,Exit long,X,2024-01-04 15:00,1,1,1e400",
        "import_bad_value",
        "\"1e400\" is not a P&L",
        3,
    ),
    (
        "1,Entry long,L,2024-03-31 02:30,1,1,\n1,Exit long,X,2024-04-04 15:00,1,1,3",
        "import_skipped_time",
        "\"2024-03-31 02:30\" does not exist in Europe/Berlin",
        2,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,1,1,\n1,Entry long,L,2024-01-03 16:00,1,1,",
        "import_duplicate_entry",
        "trade 1 has a second entry row (the first is line 2)",
        3,
    ),
    (
        "1,Exit long,X,2024-01-04 15:00,1,1,3",
        "import_exit_without_entry",
        "trade 1 has an exit row but no entry row",
        2,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,1,1,",
        "import_entry_without_exit",
        "trade 1 has an entry row but no exit row",
        2,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,1,1,\n1,Exit short,X,2024-01-04 15:00,1,1,3",
        "import_direction_mismatch",
        "trade 1 is entered long (line 2) but this row exits short",
        3,
    ),
    (
        "1,Entry long,L,2024-01-03 15:00,1,1,\n1,Exit long,X,2024-01-02 15:00,1,1,3",
        "import_exit_before_entry",
        "exits at 2024-01-02 15:00 before its entry at 2024-01-03 15:00",
        3,
    ),
    ("", "import_no_trades", "t.csv: no trades", 0),
];

#[test]
fn bad_rows_are_refused_with_a_code_line_column_and_value() {
    let header = "Trade #,Type,Signal,Date/Time,Price USDT,Contracts,Profit USDT\n";
    for &(rows, code, text, line) in BAD {
        let e = parse(&format!("{header}{rows}\n"), "Europe/Berlin").unwrap_err();
        let message = e.to_string();
        assert_eq!(e.code(), code, "{rows}: {message}");
        assert!(message.contains(text), "{rows}: {message}");
        if line > 0 {
            assert_eq!(e.line(), line, "{rows}: {message}");
            assert!(message.starts_with(&format!("t.csv:{line}: ")), "{message}");
        }
    }
    let e = parse("\n \n", "UTC").unwrap_err();
    assert_eq!(e.code(), "import_no_trades");
    let utc = ChartZone::new("UTC").unwrap();
    let e = tradingview_trades::parse(b"Trade #,Type\n\xff\n", "t.csv", &utc).unwrap_err();
    assert_eq!(e.code(), "import_missing_column");
    let bytes =
        b"Trade #,Type,Signal,Date/Time,Price,Contracts\n1,Entry long,\xff,2024-01-03 15:00,1,1\n";
    let e = tradingview_trades::parse(bytes, "t.csv", &utc).unwrap_err();
    assert_eq!(e.code(), "import_not_csv");
    assert_eq!(e.to_string(), "t.csv:2: not a CSV record: not UTF-8 text");
}

#[test]
fn a_unicode_minus_and_a_dash_read_as_in_the_export() {
    let csv = "Trade #,Type,Signal,Date and time,Price,Size (qty),Net P&L USD\n\
               1,Entry short,S,2024-01-03 15:00,10,1,\u{2014}\n\
               1,Exit short,X,2024-01-04,11,1,\u{2212}1.5\n";
    let list = parse(csv, "UTC").unwrap();
    assert_eq!(list.net_pnl, Some(-1.5));
    assert_eq!(list.events[1].time_ms, ms("2024-01-04T00:00:00Z"));
}

#[test]
fn a_trade_exiting_in_parts_has_one_alert_per_part() {
    let csv = "Trade #,Type,Signal,Date,Time,Price,Quantity,Profit\n\
               1,Exit long,TP2,2024-01-05,10:00,12,1,2\n\
               1,Exit long,TP1,2024-01-04,10:00,11,1,1\n\
               1,Entry long,L,2024-01-03,10:00,10,2,\n";
    let list = parse(csv, "UTC").unwrap();
    let ids: Vec<String> = list.events.iter().map(alerts::event_id).collect();
    assert_eq!(ids, ["tv-1-entry", "tv-1-exit", "tv-1-exit-2"]);
    assert_eq!(list.net_pnl, Some(3.0));
    assert_eq!(list.closed_trades, 1);
    // Only an open trade: nothing closed, a net P&L of 0 (not unknown).
    let csv = "Trade #,Type,Signal,Date/Time,Price,Quantity,Profit\n\
               1,Exit long,Open,2024-01-05 10:00,12,1,\n\
               1,Entry long,L,2024-01-03 10:00,10,1,\n";
    let list = parse(csv, "UTC").unwrap();
    assert_eq!(
        (list.events.len(), list.open_trades, list.net_pnl),
        (1, 1, Some(0.0))
    );
}

fn options(auth: AlertAuth) -> AlertOptions {
    AlertOptions {
        symbol: alert_symbol("BINANCE:BTCUSDT").unwrap(),
        auth,
        confidence: Some("0.9".into()),
        source_ip: Some("52.89.214.238".parse().unwrap()),
    }
}

#[test]
fn alerts_are_stream_lines_a_gate_reads() {
    let list = parse(OLD, "Europe/Berlin").unwrap();
    let lines = alert_lines(&list, &options(AlertAuth::Passphrase), "t.csv").unwrap();
    assert_eq!(lines.len(), 6);
    let request = parse_line(&lines[0], "a.jsonl", 1).unwrap();
    assert_eq!(request.received_at_ms, ms("2024-01-03T14:00:00Z"));
    assert_eq!(request.source_ip, Some("52.89.214.238".parse().unwrap()));
    assert_eq!(
        request.body,
        r#"{"symbol":"BTCUSDT","side":"sell","order_type":"market","quantity":"0.5","price":"42150.5","time":"2024-01-03T14:00:00.000Z","event_id":"tv-1-entry","confidence":"0.9","passphrase":"<redacted secret 0>"}"#
    );
    // Signed: the scheme's headers, with the event id, at the trade's time.
    let secret = crate::config::Secret(b"s3cret".to_vec());
    let auth = AlertAuth::Signed {
        scheme: alertgate_validator::Scheme::Timestamped,
        secret,
    };
    let lines = alert_lines(&list, &options(auth), "t.csv").unwrap();
    let request = parse_line(&lines[1], "a.jsonl", 2).unwrap();
    let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Content-Type", "X-Tradeeon-Signature", "X-Tradeeon-EventId"]
    );
    assert!(request.headers[1].1.starts_with("t=1704441600,s="));
    assert!(!lines.concat().contains("s3cret"));
    assert!(!request.body.contains("passphrase"));
}

#[test]
fn symbols_and_unwritable_times() {
    assert_eq!(
        alert_symbol("BINANCE:BTCUSDT.P").as_deref(),
        Some("BTCUSDT.P")
    );
    assert_eq!(alert_symbol(""), None);
    let csv = "Trade #,Type,Signal,Date/Time,Price,Contracts\n\
               1,Entry long,L,1970-01-01 00:00,1,1\n1,Exit long,X,1970-01-02 00:00,1,1\n";
    let list = parse(csv, "UTC").unwrap();
    assert_eq!(list.net_pnl, None);
    let e = alert_lines(&list, &options(AlertAuth::None), "t.csv").unwrap_err();
    assert_eq!(e.code(), "import_unwritable_alert");
    assert!(
        e.to_string()
            .starts_with("t.csv:2: cannot write the alert: 1970-01-01T00:00:00.000Z"),
        "{e}"
    );
}

/// A generated trade: direction, entry and exit minute offsets, price and
/// quantity in hundredths, P&L in hundredths, open or not.
type GenTrade = (bool, u32, u32, u32, u32, i32);

fn export(trades: &[GenTrade], newer: bool, open_last: bool, reverse: bool) -> (String, i64) {
    let base = ms("2024-01-01T00:00:00Z");
    let mut rows = Vec::new();
    let mut start = 0i64;
    let mut net = 0i64;
    for (i, &(long, wait, hold, price, qty, pnl)) in trades.iter().enumerate() {
        let entry = start + i64::from(wait);
        let exit = entry + i64::from(hold);
        start = exit;
        let n = i + 1;
        let open = open_last && n == trades.len();
        if !open {
            net += i64::from(pnl);
        }
        let dir = if long { "long" } else { "short" };
        let time = |m: i64| {
            let t = alertgate_validator::time::Rfc3339(base + m * 60_000).to_string();
            format!("{} {}", &t[..10], &t[11..16])
        };
        let (p, q, l) = (
            format!("{}.{:02}", price / 100 + 1, price % 100),
            format!("{}.{:02}", qty / 100, qty % 100 + 1),
            format!(
                "{}{}.{:02}",
                if pnl < 0 { "-" } else { "" },
                pnl.abs() / 100,
                pnl.abs() % 100
            ),
        );
        let signal = if open { "Open" } else { "Close" };
        let row = |kind: &str, sig: &str, t: String| {
            if newer {
                format!("{n},{kind} {dir},{t},{sig},{p},{q},1,{l},0.1")
            } else {
                format!("{n},{kind} {dir},{sig},{t},{p},{q},{l},0.1")
            }
        };
        rows.push(row("Exit", signal, time(exit)));
        rows.push(row("Entry", "Go", time(entry)));
    }
    if reverse {
        rows.reverse();
    }
    let header = if newer {
        "Trade #,Type,Date and time,Signal,Price USDT,Position size (qty),Position size (value),Net P&L USDT,Net P&L %"
    } else {
        "Trade #,Type,Signal,Date/Time,Price USDT,Contracts,Profit USDT,Profit %"
    };
    (format!("{header}\n{}\n", rows.join("\n")), net)
}

proptest! {
    #[test]
    fn the_parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let zone = ChartZone::new("Europe/Berlin").unwrap();
        if let Err(e) = tradingview_trades::parse(&data, "f.csv", &zone) {
            prop_assert!(e.to_string().starts_with("f.csv"));
        }
    }

    #[test]
    fn the_parser_never_panics_on_near_exports(
        rows in proptest::collection::vec(
            ("[0-9]{1,2}", "(Entry|Exit) (long|short|x)", "(Open|Go)?", "2024-(0[0-9]|1[0-3])-[0-3][0-9] [0-2][0-9]:[0-6][0-9]", "-?[0-9]{0,3}(\\.[0-9])?"),
            0..8,
        )
    ) {
        let mut csv = String::from("Trade #,Type,Signal,Date/Time,Price,Contracts,Profit\n");
        for (n, kind, signal, time, number) in rows {
            csv.push_str(&format!("{n},{kind},{signal},{time},{number},{number},{number}\n"));
        }
        let zone = ChartZone::new("Europe/Berlin").unwrap();
        match tradingview_trades::parse(csv.as_bytes(), "f.csv", &zone) {
            Ok(list) => {
                prop_assert!(list.events.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
                let options = options(AlertAuth::None);
                if let Ok(lines) = alert_lines(&list, &options, "f.csv") {
                    for (i, line) in lines.iter().enumerate() {
                        prop_assert!(parse_line(line, "a", i as u64 + 1).is_ok());
                    }
                }
            }
            Err(e) => prop_assert!(e.to_string().starts_with("f.csv")),
        }
    }

    #[test]
    fn generated_exports_round_trip(
        trades in proptest::collection::vec(
            (any::<bool>(), 0u32..600, 0u32..600, 0u32..10_000_000, 0u32..10_000, -100_000i32..100_000),
            1..12,
        ),
        newer in any::<bool>(),
        open_last in any::<bool>(),
        reverse in any::<bool>(),
    ) {
        let (csv, net) = export(&trades, newer, open_last, reverse);
        let list = parse(&csv, "UTC").unwrap();
        let n = trades.len();
        prop_assert_eq!(list.events.len(), 2 * n - usize::from(open_last));
        prop_assert_eq!(list.open_trades, u64::from(open_last));
        prop_assert_eq!(list.closed_trades as usize, n - usize::from(open_last));
        prop_assert!((list.net_pnl.unwrap() * 100.0 - net as f64).abs() < 1e-6);
        // In time order, and each trade's entry before its exit.
        prop_assert!(list.events.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
        for e in &list.events {
            let (long, ..) = trades[e.trade as usize - 1];
            prop_assert_eq!(e.direction == Direction::Long, long);
            let entry = list.events.iter().position(|x| x.trade == e.trade && x.action == Action::Entry);
            let me = list.events.iter().position(|x| x == e);
            prop_assert!(entry <= me);
        }
    }
}
