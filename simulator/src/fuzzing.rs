//! Entry points for the fuzz targets in `fuzz/` (one line each there).
//!
//! Each function feeds arbitrary bytes to the real replay readers and checks
//! what must hold for any input: no panic, errors that name this file and
//! the right line, and whatever reads satisfies the reader's documented
//! guarantees and reads back the same when written out again. A violated
//! invariant panics so the fuzzer reports it. Nothing here is needed in
//! production.

use alertgate_validator::time::{Rfc3339, MAX_MS, SECONDS_BELOW};

use crate::input::InputError;
use crate::market::times::MICROS_FROM;
use crate::market::{
    detect_format, parse_bytes_as, parse_series, parse_series_as, Bar, MarketFormat, MarketKind,
    MarketSeries,
};
use crate::stream::{parse_line, AlertStream, RecordedRequest};

const STREAM: &str = "fuzz.jsonl";
const MARKET: &str = "fuzz.csv";
const SYMBOL: &str = "FUZZ/USDT";

/// The alert-stream reader, line by line and whole.
///
/// Every line goes through [`parse_line`]: a request that reads has a time
/// in `0..=MAX_MS`, non-empty header names, and reads back equal when
/// written out again (time as RFC 3339, and as Unix ms in both JSON forms
/// when it is at least [`SECONDS_BELOW`]). [`AlertStream::from_reader`] on
/// the whole input must agree: the same requests, or the first bad line's
/// error.
pub fn stream_line(data: &[u8]) {
    // What `from_reader` should return, worked out line by line the way
    // `BufRead::lines` splits: at `\n`, dropping a `\r` before it.
    let mut expected: Result<Vec<RecordedRequest>, InputError> = Ok(Vec::new());
    let pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for (index, &piece) in pieces.iter().enumerate() {
        let number = index as u64 + 1;
        let piece = if index + 1 < pieces.len() {
            piece.strip_suffix(b"\r").unwrap_or(piece)
        } else {
            piece
        };
        let Ok(line) = std::str::from_utf8(piece) else {
            expected = Err(InputError::line(STREAM, number, "not UTF-8"));
            break;
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line, STREAM, number) {
            Ok(request) => {
                check_request(&request, number);
                if let Ok(requests) = &mut expected {
                    requests.push(request);
                }
            }
            Err(e) => {
                check_error(&e, STREAM, number);
                expected = Err(e);
                break;
            }
        }
    }

    match (AlertStream::from_reader(data, STREAM), expected) {
        (Ok(stream), Ok(requests)) => assert_eq!(stream.requests, requests),
        (Err(got), Err(want)) if want.message == "not UTF-8" => {
            check_error(&got, STREAM, want.line);
        }
        (Err(got), Err(want)) => assert_eq!(got, want),
        (got, want) => panic!("the stream reader and parse_line disagree: {got:?} vs {want:?}"),
    }
}

/// The market-data reader on one CSV file (header and rows).
///
/// A series that reads is non-empty; every bar has finite prices above 0, a
/// finite volume of 0 or more, `low <= open, close <= high` (a trade's four
/// prices are equal) and a time in `0..=MAX_MS`; times strictly increase
/// (bars) or never decrease (trades), and `last_started` finds the bar a
/// time falls in. Written out again — canonical columns and Unix ms, or
/// reversed columns and RFC 3339 — it reads back equal; with its rows
/// reversed it is refused at the first row out of order, and only there.
pub fn market_csv(data: &[u8]) {
    let series = match parse_series(data, MARKET, SYMBOL) {
        Ok(series) => series,
        Err(e) => {
            assert_eq!(e.file, MARKET);
            assert!(!e.message.is_empty(), "an error without a message");
            assert!(e.to_string().starts_with(MARKET));
            return;
        }
    };
    check_series(&series);
    let bars = &series.bars;

    for (columns_reversed, times) in [(false, Times::Ms), (true, Times::Rfc3339)] {
        let text = write_csv(series.kind, bars.iter(), columns_reversed, times);
        let again = parse_series(text.as_bytes(), MARKET, SYMBOL)
            .unwrap_or_else(|e| panic!("a series written out does not read back: {e}\n{text}"));
        assert_eq!(again.kind, series.kind);
        assert_eq!(&again.bars, bars, "{text}");
    }

    // Rows in reverse: the first row (1-based line, after the header) whose
    // time goes back, or for bars does not go forward, must be refused.
    let reversed: Vec<&Bar> = bars.iter().rev().collect();
    let out_of_order = reversed.windows(2).position(|w| match series.kind {
        MarketKind::Bars => w[1].time_ms <= w[0].time_ms,
        MarketKind::Trades => w[1].time_ms < w[0].time_ms,
    });
    let text = write_csv(series.kind, reversed.into_iter(), false, Times::Ms);
    match (parse_series(text.as_bytes(), MARKET, SYMBOL), out_of_order) {
        (Ok(again), None) => {
            // Only trades that all share one time read in either order.
            assert_eq!(again.bars.len(), bars.len());
            assert!(bars.iter().all(|b| b.time_ms == bars[0].time_ms));
        }
        (Err(e), Some(i)) => {
            assert_eq!(e.field.as_deref(), Some("time"), "{e}");
            assert_eq!(e.line, i as u64 + 3, "{e}");
        }
        (got, want) => panic!("reversed rows: {got:?}, first out of order: {want:?}\n{text}"),
    }
}

/// The market-data reader in every format: the first byte picks the format
/// forced (`auto`, `ours`, `tradingview`, `binance-klines`,
/// `binance-aggtrades`), the rest is the file.
///
/// Whatever reads holds [`market_csv`]'s guarantees and, written out in
/// ours, reads back the same both detected and forced `ours`; detection
/// agrees with the reader (a file that reads detected has a format); an
/// error names this file.
pub fn market_formats(data: &[u8]) {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let format = MarketFormat::ALL[usize::from(pick) % MarketFormat::ALL.len()];
    let series = match parse_series_as(text, MARKET, SYMBOL, format) {
        Ok(series) => series,
        Err(e) => {
            assert_eq!(e.file, MARKET);
            assert!(!e.message.is_empty(), "an error without a message");
            return;
        }
    };
    check_series(&series);
    if format == MarketFormat::Auto {
        let detected = detect_format(text, MARKET).expect("a file that reads has a format");
        assert_ne!(detected, MarketFormat::Auto);
        let again = parse_series_as(text, MARKET, SYMBOL, detected).expect("its format reads it");
        assert_eq!(again, series);
    }
    let written = write_csv(series.kind, series.bars.iter(), false, Times::Ms);
    for format in [MarketFormat::Auto, MarketFormat::Ours] {
        let again =
            parse_series_as(written.as_bytes(), MARKET, SYMBOL, format).unwrap_or_else(|e| {
                panic!("a series written in ours does not read back: {e}\n{written}")
            });
        assert_eq!(again.bars, series.bars, "{written}");
    }
}

/// The fast market loader against the reference reader, in every format:
/// the first byte picks the format forced, the rest is the file.
///
/// The reader's result is exactly the reference's (the same series, or the
/// same error: file, line, field and message), and whatever the fast path
/// accepts the reference accepts, with the same kind and bars.
pub fn market_fast(data: &[u8]) {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let format = MarketFormat::ALL[usize::from(pick) % MarketFormat::ALL.len()];
    let (fast, reference) = crate::market::fast_and_reference(text, MARKET, format);
    let read = parse_bytes_as(text, MARKET, SYMBOL, format);
    assert_eq!(read, reference);
    if let Some((kind, bars)) = fast {
        let reference = reference.expect("the fast loader accepted what the reference refuses");
        assert_eq!(kind, reference.kind);
        assert_eq!(bars, reference.bars);
    }
}

/// What [`parse_line`] guarantees of a request it returns.
fn check_request(r: &RecordedRequest, number: u64) {
    assert_eq!(r.line, number);
    assert!(
        (0..=MAX_MS).contains(&r.received_at_ms),
        "received_at {} out of range",
        r.received_at_ms
    );
    assert!(r.headers.iter().all(|(name, _)| !name.is_empty()));

    let mut forms = vec![json(&Rfc3339(r.received_at_ms).to_string())];
    if r.received_at_ms >= SECONDS_BELOW {
        forms.push(r.received_at_ms.to_string());
        forms.push(json(&r.received_at_ms.to_string()));
    }
    for time in forms {
        let line = write_line(r, &time);
        let again = parse_line(&line, STREAM, number)
            .unwrap_or_else(|e| panic!("a request written out does not read back: {e}\n{line}"));
        assert_eq!(&again, r, "{line}");
    }
}

/// An error names the file, the line, and says something.
fn check_error(e: &InputError, file: &str, number: u64) {
    assert_eq!(e.file, file);
    assert_eq!(e.line, number, "{e}");
    assert!(!e.message.is_empty(), "an error without a message");
    assert!(e.to_string().starts_with(&format!("{file}:{number}")));
}

/// `request` as one stream line with `received_at` set to `time` (JSON).
fn write_line(r: &RecordedRequest, time: &str) -> String {
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    crate::stream::write_line(time, &headers, &r.body, r.source_ip, None)
}

/// A JSON string literal.
fn json(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// What [`parse_series`] guarantees of a series it returns.
fn check_series(s: &MarketSeries) {
    assert_eq!(s.symbol, SYMBOL);
    assert_eq!(s.source, MARKET);
    assert!(!s.bars.is_empty(), "a series without bars");
    for b in &s.bars {
        assert!((0..=MAX_MS).contains(&b.time_ms), "time {}", b.time_ms);
        for p in [b.open, b.high, b.low, b.close] {
            assert!(p.is_finite() && p > 0.0, "price {p} in {b:?}");
        }
        assert!(b.volume.is_finite() && b.volume >= 0.0, "{b:?}");
        assert!(b.low <= b.high, "high below low: {b:?}");
        assert!(b.low <= b.open && b.open <= b.high, "{b:?}");
        assert!(b.low <= b.close && b.close <= b.high, "{b:?}");
        if s.kind == MarketKind::Trades {
            assert!(b.open == b.high && b.high == b.low && b.low == b.close);
        }
    }
    for w in s.bars.windows(2) {
        match s.kind {
            MarketKind::Bars => assert!(w[0].time_ms < w[1].time_ms, "{w:?}"),
            MarketKind::Trades => assert!(w[0].time_ms <= w[1].time_ms, "{w:?}"),
        }
    }
    for b in &s.bars {
        let j = s
            .last_started(b.time_ms)
            .expect("a bar has started at its own time");
        assert!(s.bars[j].time_ms == b.time_ms);
        assert!(s
            .bars
            .get(j + 1)
            .is_none_or(|next| next.time_ms > b.time_ms));
        if let Some(k) = s.last_started(b.time_ms - 1) {
            assert!(s.bars[k].time_ms < b.time_ms);
        }
    }
}

#[derive(Clone, Copy)]
enum Times {
    /// Unix ms where the reader reads ms (1973 to 5138), else RFC 3339.
    Ms,
    Rfc3339,
}

/// Bars (or trades) as a CSV file with a header.
fn write_csv<'b>(
    kind: MarketKind,
    bars: impl Iterator<Item = &'b Bar>,
    columns_reversed: bool,
    times: Times,
) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let header: &[&str] = match kind {
        MarketKind::Bars => &["time", "open", "high", "low", "close", "volume"],
        MarketKind::Trades => &["time", "price", "qty"],
    };
    rows.push(header.iter().map(|h| h.to_string()).collect());
    for b in bars {
        let time = match times {
            Times::Ms if (SECONDS_BELOW..MICROS_FROM).contains(&b.time_ms) => b.time_ms.to_string(),
            _ => Rfc3339(b.time_ms).to_string(),
        };
        // `f64`'s Display is the shortest text that reads back exactly.
        rows.push(match kind {
            MarketKind::Bars => vec![
                time,
                b.open.to_string(),
                b.high.to_string(),
                b.low.to_string(),
                b.close.to_string(),
                b.volume.to_string(),
            ],
            MarketKind::Trades => vec![time, b.open.to_string(), b.volume.to_string()],
        });
    }
    let mut text = String::new();
    for mut row in rows {
        if columns_reversed {
            row.reverse();
        }
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}

/// TradingView's list-of-trades import, on one chart time zone with
/// daylight saving time (Europe/Berlin).
///
/// An export that reads has its events in time order, each trade's entry
/// before its exits, one entry per trade and no `Open` exit, and as many
/// trades as its counts say; every event writes an alert line that the
/// stream reader reads back with the event's time and id. An export that
/// does not read is refused with an error naming this file, on a line the
/// input has.
pub fn tradingview_trades(data: &[u8]) {
    use crate::import::{
        alert_lines, alerts, tradingview_trades, Action, AlertAuth, AlertOptions, ChartZone,
    };
    const FILE: &str = "fuzz-trades.csv";
    let Ok(zone) = ChartZone::new("Europe/Berlin") else {
        panic!("the bundled time-zone database has no Europe/Berlin");
    };
    let list = match tradingview_trades::parse(data, FILE, &zone) {
        Ok(list) => list,
        Err(e) => {
            assert!(e.to_string().starts_with(FILE), "{e}");
            let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            assert!(e.line() <= lines, "{e}: line {} of {lines}", e.line());
            return;
        }
    };
    let events = &list.events;
    assert!(events.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
    let entries = events.iter().filter(|e| e.action == Action::Entry).count() as u64;
    assert_eq!(entries, list.closed_trades + list.open_trades);
    for (i, e) in events.iter().enumerate() {
        assert!(!(e.action == Action::Exit && e.signal.eq_ignore_ascii_case("open")));
        let entry = events
            .iter()
            .position(|x| x.trade == e.trade && x.action == Action::Entry);
        assert!(
            entry.is_some_and(|at| at <= i),
            "trade {} exits before its entry",
            e.trade
        );
    }
    let options = AlertOptions {
        symbol: "BTCUSDT".into(),
        auth: AlertAuth::Passphrase,
        confidence: None,
        source_ip: None,
    };
    // Times before 1973 are refused by the writer, by design.
    let Ok(lines) = alert_lines(&list, &options, FILE) else {
        return;
    };
    for (line, e) in lines.iter().zip(events) {
        let request = parse_line(line, STREAM, 1).unwrap_or_else(|err| panic!("{err}: {line}"));
        assert_eq!(request.received_at_ms, e.time_ms);
        assert!(request
            .body
            .contains(&format!("\"event_id\":\"{}\"", alerts::event_id(e))));
        assert!(serde_json::from_str::<serde_json::Value>(&request.body).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed corpora in `fuzz/corpus/` pass, and read as named: seeds
    /// called `bad_*` are refused, the others read.
    #[test]
    fn seed_corpora_pass() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        // (corpus, fuzz entry point, whether the reader takes the input)
        type Target = (&'static str, fn(&[u8]), fn(&[u8]) -> bool);
        let targets: [Target; 5] = [
            ("tradingview_trades", tradingview_trades, |data| {
                let zone = crate::import::ChartZone::new("Europe/Berlin").unwrap();
                crate::import::tradingview_trades::parse(data, "f.csv", &zone).is_ok()
            }),
            ("stream_line", stream_line, |data| {
                AlertStream::from_reader(data, STREAM).is_ok()
            }),
            ("market_csv", market_csv, |data| {
                parse_series(data, MARKET, SYMBOL).is_ok()
            }),
            ("market_formats", market_formats, |data| {
                data.split_first().is_some_and(|(&pick, text)| {
                    let format = MarketFormat::ALL[usize::from(pick) % MarketFormat::ALL.len()];
                    parse_series_as(text, MARKET, SYMBOL, format).is_ok()
                })
            }),
            ("market_fast", market_fast, |data| {
                data.split_first().is_some_and(|(&pick, text)| {
                    let format = MarketFormat::ALL[usize::from(pick) % MarketFormat::ALL.len()];
                    parse_bytes_as(text, MARKET, SYMBOL, format).is_ok()
                })
            }),
        ];
        for (target, run, reads) in targets {
            let dir = root.join(target);
            let (mut good, mut bad) = (0, 0);
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                run(&data);
                let is_bad = path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("bad_");
                assert_eq!(reads(&data), !is_bad, "{}", path.display());
                if is_bad {
                    bad += 1;
                } else {
                    good += 1;
                }
            }
            assert!(
                good >= 3 && bad >= 3,
                "{}: {good} good, {bad} bad seeds",
                dir.display()
            );
        }
    }

    #[test]
    fn invariants_hold_on_hand_picked_inputs() {
        stream_line(b"{\"received_at\":1699113600250,\"headers\":{\"B\":\"2\",\"B\":\"1\"},\"body\":\"{}\",\"source_ip\":\"::1\"}\r\n\n{\"received_at\":\"1970-01-01T00:00:00Z\",\"body\":\"\"}");
        stream_line(b"{\"received_at\":1699113600250,\"body\":\"x\"}\n\xff\n");
        stream_line(b"{\"received_at\":1699113600250,\"body\":\"x\"}\n{}");
        market_csv(b"time,open,high,low,close,volume\n1699113600000,100,110,90,105,3\n1699113660000,1e-300,1e300,1e-300,1e-300,-0\n");
        market_csv(b"qty,price,time\n1,2,1970-01-01T00:00:00Z\n1,3,1970-01-01T00:00:00Z\n");
        market_csv(b"time,price,qty\n1699113600000,1,1\n1699113600000,1,1\n1699113600001,1,1\n");
        market_csv(b"time,open,high,low,close\n5138-11-16T09:46:40Z,1,1,1,1\n");
        market_formats(b"\x00time,Open,HIGH,low,close,x,x\n1704067200,1,2,1,2,,\n");
        market_formats(b"\x03170406720000000,1,2,1,2,3,1,4,5,6,7,0\n");
        market_formats(b"\x00agg_trade_id,price,quantity,transact_time\n1,2,3,1704067200000\n");
        market_formats(b"\x01time,price,qty\n1,1,1\n");
        market_formats(b"");
        tradingview_trades(b"Trade #,Type,Signal,Date/Time,Price,Contracts\n1,Entry long,L,2024-10-27 02:30,1,1\n1,Exit long,X,2024-10-27 02:15,1,1\n");
        tradingview_trades(b"Trade #,Type,Signal,Date/Time,Price,Contracts\n1,Entry long,L,1970-01-01 00:00,1,1\n1,Exit long,Open,1970-01-01 00:00,1,1\n");
        tradingview_trades(b"Trade #,Type,Signal,Date/Time,Price,Contracts\n\n\n1,Entry long,L,2024-03-31 02:30,1,1\n");
    }
}
