//! The market readers: formats, detection, errors, files.

use super::*;

fn parse(text: &str) -> Result<MarketSeries, InputError> {
    parse_series(text.as_bytes(), "m.csv", "BTC/USDT")
}

fn parse_as(text: &str, format: MarketFormat) -> Result<MarketSeries, InputError> {
    parse_series_as(text.as_bytes(), "m.csv", "BTC/USDT", format)
}

#[test]
fn reads_bars_in_any_column_order_and_trades() {
    let s = parse(
        "time,open,high,low,close,volume\n\
         1699113600000,100,110,90,105,3\n\
         2023-11-04T16:01:00Z,105,106,104,104.5,0\n",
    )
    .unwrap();
    assert_eq!(s.kind, MarketKind::Bars);
    assert_eq!(s.bars.len(), 2);
    assert_eq!(s.bars[1].time_ms, 1_699_113_660_000);
    assert_eq!(s.bars[1].close, 104.5);
    assert_eq!(s.last_started(1_699_113_600_000), Some(0));
    assert_eq!(s.last_started(1_699_113_599_999), None);
    assert_eq!(s.last_started(i64::MAX), Some(1));

    let s = parse("qty, price ,time\n0.5,100,1699113600000\n1,101,1699113600000\n").unwrap();
    assert_eq!(s.kind, MarketKind::Trades);
    assert_eq!(
        s.bars[1],
        Bar {
            time_ms: 1_699_113_600_000,
            open: 101.0,
            high: 101.0,
            low: 101.0,
            close: 101.0,
            volume: 1.0
        }
    );
}

#[test]
fn bad_rows_name_line_and_field() {
    const H: &str = "time,open,high,low,close,volume\n";
    const ROW: &str = "1699113600000,100,110,90,105,3\n";
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "m.csv: empty"),
        (H.to_string(), "m.csv: has a header but no rows"),
        (
            "time,open,open,low,close,volume\n".into(),
            "field \"open\": column appears twice",
        ),
        (
            format!("{H}{ROW}1699113600000,100,110,90,105,3\n"),
            "m.csv:3: field \"time\"",
        ),
        (
            format!("{H}{ROW}1699113500000,100,110,90,105,3\n"),
            "m.csv:3: field \"time\"",
        ),
        (
            format!("{H}1699113600,100,110,90,105,3\n1699113660000,100,110,90,105,3\n"),
            "m.csv:3: field \"time\": 1699113660000 is in Unix milliseconds but line 2 is in Unix seconds",
        ),
        (
            format!("{H}1699113600000,100,90,110,105,3\n"),
            "m.csv:2: field \"high\": high 90 is below low 110",
        ),
        (
            format!("{H}1699113600000,NaN,110,90,105,3\n"),
            "m.csv:2: field \"open\"",
        ),
        (
            format!("{H}1699113600000,100,inf,90,105,3\n"),
            "m.csv:2: field \"high\"",
        ),
        (
            format!("{H}1699113600000,100,110,90,105,-1\n"),
            "m.csv:2: field \"volume\"",
        ),
        (
            format!("{H}1699113600000,100,110,0,105,1\n"),
            "m.csv:2: field \"low\"",
        ),
        (
            format!("{H}1699113600000,120,110,90,105,1\n"),
            "m.csv:2: field \"open\": 120 is outside",
        ),
        (
            format!("{H}1699113600000,100,110,90,abc,1\n"),
            "m.csv:2: field \"close\"",
        ),
        (
            format!("{H}1699113600000,100,110\n"),
            "m.csv:2: malformed CSV row",
        ),
        (
            "time,price,qty\n1699113600000,0,1\n".into(),
            "m.csv:2: field \"price\"",
        ),
        (
            "time,price,qty\n1699113600001,1,1\n1699113600000,1,1\n".into(),
            "m.csv:3: field \"time\"",
        ),
    ];
    for (text, expected) in cases {
        for format in [MarketFormat::Auto, MarketFormat::Ours] {
            let err = parse_as(&text, format).unwrap_err().to_string();
            assert!(err.contains(expected), "{format} {text:?}: {err}");
        }
    }
    // A header short of ours' or with more: ours refuses it, detection takes
    // it for TradingView's (whose volume is optional, extra columns ignored).
    for (text, expected) in [
        (
            "time,open,high,low,close\n1699113600000,100,110,90,105\n",
            "field \"volume\": missing from the header",
        ),
        (
            "time,open,high,low,close,volume,vwap\n1699113600000,100,110,90,105,3,101\n",
            "field \"vwap\": unknown column",
        ),
    ] {
        let err = parse_as(text, MarketFormat::Ours).unwrap_err();
        assert!(err.to_string().starts_with("m.csv:1: "), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        let s = parse(text).unwrap();
        assert_eq!((s.bars[0].close, s.kind), (105.0, MarketKind::Bars));
    }
}

#[test]
fn loads_a_directory_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("ETH-USDT.csv", "time,price,qty\n1699113600000,1800,1\n");
    write(
        "btc_usdt.csv",
        "time,open,high,low,close,volume\n1699113600000,1,1,1,1,1\n",
    );
    write("notes.txt", "ignored");
    let quotes = ["USDT"];
    let data = MarketData::load(&[], &[dir.path().to_path_buf()], &quotes).unwrap();
    let symbols: Vec<&str> = data.series.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(symbols, ["BTC/USDT", "ETH/USDT"]);
    assert_eq!(data.index_of("ETH/USDT"), Some(1));
    assert_eq!(data.index_of("SOL/USDT"), None);
    assert_eq!(data.bar_count(), 2);

    // The same data twice is refused (files of one symbol are joined, and
    // these overlap), naming both.
    let again = [("BTCUSDT".to_string(), dir.path().join("btc_usdt.csv"))];
    let err = MarketData::load(&again, &[dir.path().to_path_buf()], &quotes).unwrap_err();
    assert!(err.to_string().contains("overlaps"), "{err}");
    assert_eq!(err.to_string().matches("btc_usdt.csv").count(), 2, "{err}");
}

#[test]
fn a_directory_of_monthly_files_is_joined_in_time_order_and_its_gaps_reported() {
    let dir = tempfile::tempdir().unwrap();
    let klines = |rows: &[i64]| {
        rows.iter()
            .map(|t| format!("{t},1,2,0.5,1.5,3,{},0,1,0,0,0\n", t + 59_999))
            .collect::<String>()
    };
    let m = 60_000;
    // January's last minutes, February's first (no gap), then March after
    // a missing day; named so that directory order is not time order.
    let jan = klines(&[1_706_745_480_000, 1_706_745_540_000]);
    let feb = klines(&[1_706_745_600_000, 1_706_745_600_000 + m]);
    let mar = klines(&[
        1_706_745_600_000 + 86_400_000,
        1_706_745_600_000 + 86_400_000 + m,
    ]);
    std::fs::write(dir.path().join("BTCUSDT-1m-2024-02.csv"), feb).unwrap();
    std::fs::write(dir.path().join("BTCUSDT-1m-2024-01.csv"), jan).unwrap();
    std::fs::write(dir.path().join("BTCUSDT-1m-2024-03.csv"), mar).unwrap();
    let data = MarketData::load(&[], &[dir.path().to_path_buf()], &["USDT"]).unwrap();
    assert_eq!(data.series.len(), 1);
    let times: Vec<i64> = data.series[0].bars.iter().map(|b| b.time_ms).collect();
    assert_eq!(times.len(), 6);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert_eq!(data.gaps.len(), 1, "{:?}", data.gaps);
    let gap = &data.gaps[0];
    assert!(gap.before.ends_with("BTCUSDT-1m-2024-02.csv"), "{gap}");
    assert!(gap.after.ends_with("BTCUSDT-1m-2024-03.csv"), "{gap}");
    assert_eq!(gap.to_ms - gap.from_ms, 86_400_000 - m);
    assert!(data.series[0].source.contains("(3 files)"));
    // A file of trades among bars is refused.
    std::fs::write(
        dir.path().join("BTCUSDT-aggTrades-2024-04-01.csv"),
        "1,1.5,2,1,1,1712000000000,true,true\n",
    )
    .unwrap();
    let err = MarketData::load(&[], &[dir.path().to_path_buf()], &["USDT"]).unwrap_err();
    assert!(err.to_string().contains("all bars or all trades"), "{err}");
}

/// A fixture of `tests/fixtures/formats/market/`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/formats/market")
        .join(name)
}

#[test]
fn fixtures_read_in_their_formats() {
    // (file, format, kind, rows, first time, first close, first volume)
    let cases = [
        (
            "tradingview-seconds.csv",
            MarketFormat::TradingView,
            MarketKind::Bars,
            3,
            1_704_067_200_000,
            42475.23,
            1271.68,
        ),
        (
            "tradingview-iso-offset.csv",
            MarketFormat::TradingView,
            MarketKind::Bars,
            3,
            1_704_067_200_000,
            42475.23,
            1271.68,
        ),
        (
            "BTCUSDT-1m-2024-01.csv",
            MarketFormat::BinanceKlines,
            MarketKind::Bars,
            3,
            1_704_067_200_000,
            42298.61,
            35.92724,
        ),
        (
            "BTCUSDT-1m-2025-01-spot-us.csv",
            MarketFormat::BinanceKlines,
            MarketKind::Bars,
            2,
            1_735_689_600_000,
            93610.93,
            8.21827,
        ),
        (
            "BTCUSDT-1m-2024-01-futures-header.csv",
            MarketFormat::BinanceKlines,
            MarketKind::Bars,
            2,
            1_704_067_200_000,
            42300.0,
            318.659,
        ),
        (
            "BTCUSDT-aggTrades-2024-01-01.csv",
            MarketFormat::BinanceAggTrades,
            MarketKind::Trades,
            3,
            1_704_067_200_012,
            42283.58,
            0.00069,
        ),
    ];
    for (name, format, kind, rows, time, close, volume) in cases {
        let path = fixture(name);
        let text = std::fs::read(&path).unwrap();
        assert_eq!(detect_format(&text[..], name), Ok(format), "{name}");
        for forced in [MarketFormat::Auto, format] {
            let s = read_series_as(&path, "BTC/USDT", forced).unwrap();
            assert_eq!((s.kind, s.bars.len()), (kind, rows), "{name}");
            let b = s.bars[0];
            assert_eq!(
                (b.time_ms, b.close, b.volume),
                (time, close, volume),
                "{name}"
            );
        }
        // Another format forced on it is refused, not misread.
        let other = if format == MarketFormat::Ours {
            MarketFormat::TradingView
        } else {
            MarketFormat::Ours
        };
        assert!(read_series_as(&path, "BTC/USDT", other).is_err(), "{name}");
    }
    // The trades of one millisecond keep their order; hours step by 3600 s.
    let tv = read_series(&fixture("tradingview-seconds.csv"), "BTC/USDT").unwrap();
    assert_eq!(tv.bars[1].time_ms - tv.bars[0].time_ms, 3_600_000);
    let iso = read_series(&fixture("tradingview-iso-offset.csv"), "BTC/USDT").unwrap();
    assert_eq!(iso.bars, tv.bars);
    let spot = read_series(&fixture("BTCUSDT-1m-2025-01-spot-us.csv"), "BTC/USDT").unwrap();
    assert_eq!(spot.bars[1].time_ms, 1_735_689_660_000);
}

#[test]
fn detection_table() {
    use MarketFormat::*;
    const KLINE: &str = "1704067200000,1,2,1,2,3,1704067259999,4,5,6,7,0";
    const AGG: &str = "1,42283.58,0.5,1,1,1704067200012,True,True";
    let cases: Vec<(String, Result<MarketFormat, &str>)> = vec![
        ("time,open,high,low,close,volume\n".into(), Ok(Ours)),
        ("qty,price,time\n".into(), Ok(Ours)),
        ("TIME,Open,High,Low,Close\n".into(), Ok(TradingView)),
        ("time,open,high,low,close,Volume,Plot,Plot\n".into(), Ok(TradingView)),
        ("time,open,high,low,close,volume,vwap\n".into(), Ok(TradingView)),
        (format!("{KLINE}\n"), Ok(BinanceKlines)),
        ("Open_Time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n".into(), Ok(BinanceKlines)),
        (format!("{AGG}\n"), Ok(BinanceAggTrades)),
        ("1,42283.58,0.5,1,1,1704067200012,true\n".into(), Ok(BinanceAggTrades)),
        ("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n".into(), Ok(BinanceAggTrades)),
        ("".into(), Err("m.csv: empty; expected a header row")),
        (",,\n".into(), Err("m.csv: empty")),
        ("1704067200000,1,2,1,2,3\n".into(), Err("m.csv:1: no header and 6 columns")),
        ("1,1,2,1,2,3,1704067259999,4,5,6,7,0\n".into(), Err("m.csv:1: field \"open_time\": \"1\" is not a Unix time in ms or µs, as a headerless binance-klines file has in column 1")),
        ("1,2,3,4,5,x,7,8\n".into(), Err("m.csv:1: field \"transact_time\"")),
        ("time,open,high,close,volume\n".into(), Err("m.csv:1: field \"low\": missing from the header")),
        ("date,price\n".into(), Err("m.csv:1: field \"date\": unknown column")),
        ("time,open,high,low,close,close\n".into(), Err("m.csv:1: field \"close\": column appears twice")),
        ("Time,Open,High,Low,Close,TIME\n".into(), Err("m.csv:1: field \"TIME\": column appears twice")),
        ("open_time,open,high,low\n".into(), Err("m.csv:1: field \"close\": missing from the header; expected Binance klines")),
        ("agg_trade_id,price,qty,transact_time\n".into(), Err("m.csv:1: field \"quantity\"")),
    ];
    for (text, expected) in cases {
        let got = detect_format(text.as_bytes(), "m.csv").map_err(|e| e.to_string());
        match (&got, expected) {
            (Ok(f), Ok(want)) => assert_eq!(*f, want, "{text:?}"),
            (Err(e), Err(want)) => assert!(e.starts_with(want), "{text:?}: {e}"),
            _ => panic!("{text:?}: {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn forced_formats_and_their_errors() {
    use MarketFormat::*;
    const KLINE: &str = "1704067200000,1,2,1,2,3,1704067259999,4,5,6,7,0\n";
    let cases: Vec<(&str, MarketFormat, &str)> = vec![
        (KLINE, Ours, "m.csv:1: no header row; the ours format needs one"),
        (KLINE, TradingView, "m.csv:1: no header row; the tradingview format needs one"),
        (KLINE, BinanceAggTrades, "m.csv:1: no header and 12 columns; expected 7 or 8"),
        ("1,42283.58,0.5,1,1,1704067200012,True,True\n", BinanceKlines, "m.csv:1: no header and 8 columns; expected 12"),
        ("time,open,high,low,close,volume\n1704067200000,1,1,1,1,1\n", BinanceKlines, "m.csv:1: field \"open_time\": missing"),
        ("1704067200000,1,2,1,2,3,1704067259999,4,5,6,7,0\n1704067200,1,2,1,2,3,1704067259999,4,5,6,7,0\n", Auto, "m.csv:2: field \"open_time\": 1704067200 is in Unix seconds but line 1 is in Unix milliseconds"),
        ("1704067200000000,1,2,1,2,3,1,4,5,6,7,0\n1704067200000500,1,2,1,2,3,1,4,5,6,7,0\n", Auto, "m.csv:2: field \"open_time\": 1704067200000 is not after the previous row's 1704067200000"),
        ("1704067200000,1,2,1,2,x,1,4,5,6,7,0\n", Auto, "m.csv:1: field \"volume\": \"x\" is not a number"),
        ("1704067200000,1,2,1,3,1,1,4,5,6,7,0\n", Auto, "m.csv:1: field \"close\": 3 is outside the bar's range [1, 2]"),
        ("1704067200000,1,2,1,2,3,1704067259999,4,5,6,7\n", BinanceKlines, "m.csv:1: no header and 11 columns; expected 12"),
        ("1704067200000,1,2,1,2,3,1,4,5,6,7,0\n1704067260000,1,2\n", Auto, "m.csv:2: malformed CSV row"),
        ("1,42283.58,0.5,1,1,1704067200012,True,True\n2,42283.58,0.5,1,1,1704067200011,True,True\n", Auto, "m.csv:2: field \"transact_time\": 1704067200011 is not after"),
        ("1,0,0.5,1,1,1704067200012,True,True\n", Auto, "m.csv:1: field \"price\": \"0\" is not a finite number above 0"),
        ("time,open,high,low,close\nyesterday,1,1,1,1\n", TradingView, "m.csv:2: field \"time\": \"yesterday\" is neither a Unix time"),
        ("time,open,high,low,close\n2024-01-01 00:00:00,1,1,1,1\n", Auto, "m.csv:2: field \"time\""),
        ("time,open,high,low,close\n", TradingView, "m.csv: has a header but no rows"),
    ];
    for (text, format, expected) in cases {
        let err = parse_as(text, format).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{format} {text:?}: {err}");
    }
}

/// `text` gzipped.
fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

/// A zip archive of `(name, text)` entries, deflated.
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in entries {
        if name.ends_with('/') {
            zip.add_directory(*name, options).unwrap();
        } else {
            zip.start_file(*name, options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn gzip_and_zip_files_read_directly() {
    let klines = std::fs::read_to_string(fixture("BTCUSDT-1m-2024-01.csv")).unwrap();
    let plain = read_series(&fixture("BTCUSDT-1m-2024-01.csv"), "BTC/USDT").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    for path in [
        write("BTCUSDT-1m-2024-01.csv.gz", &gzip(&klines)),
        write(
            "BTCUSDT-1m-2024-01.zip",
            &zip_of(&[("d/", ""), ("BTCUSDT-1m-2024-01.csv", &klines)]),
        ),
    ] {
        let s = read_series(&path, "BTC/USDT").unwrap();
        assert_eq!(s.bars, plain.bars, "{}", path.display());
        assert_eq!(s.source, path.display().to_string());
    }

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "none.zip",
            zip_of(&[]),
            "none.zip: a zip archive must hold exactly one CSV file; this one holds 0",
        ),
        (
            "two.zip",
            zip_of(&[("a.csv", &klines), ("b.csv", &klines)]),
            "two.zip: a zip archive must hold exactly one CSV file; this one holds 2: a.csv, b.csv",
        ),
        (
            "junk.zip",
            b"PK not a zip".to_vec(),
            "junk.zip: cannot read the zip archive",
        ),
        ("junk.csv.gz", b"not gzip".to_vec(), "junk.csv.gz"),
        ("cut.csv.gz", gzip(&klines)[..40].to_vec(), "cut.csv.gz"),
        (
            "bad.zip",
            zip_of(&[("x.csv", "1704067200000,1\n")]),
            "bad.zip:1: no header and 2 columns",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = write(name, &bytes);
        let err = read_series(&path, "BTC/USDT").unwrap_err().to_string();
        let shown = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(shown.starts_with(expected), "{name}: {shown}");
    }
}

#[test]
fn a_directory_of_binance_and_compressed_files() {
    let dir = tempfile::tempdir().unwrap();
    let klines = std::fs::read_to_string(fixture("BTCUSDT-1m-2024-01.csv")).unwrap();
    let agg = std::fs::read_to_string(fixture("BTCUSDT-aggTrades-2024-01-01.csv")).unwrap();
    std::fs::write(
        dir.path().join("BTCUSDT-1m-2024-01.zip"),
        zip_of(&[("BTCUSDT-1m-2024-01.csv", &klines)]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ETHUSDT-aggTrades-2024-01-01.csv.gz"),
        gzip(&agg),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("SOL-USDT.csv"),
        "time,price,qty\n1704067200000,100,1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "ignored").unwrap();
    let data = MarketData::load(&[], &[dir.path().to_path_buf()], &["USDT"]).unwrap();
    let got: Vec<(&str, MarketKind, usize)> = data
        .series
        .iter()
        .map(|s| (s.symbol.as_str(), s.kind, s.bars.len()))
        .collect();
    assert_eq!(
        got,
        [
            ("BTC/USDT", MarketKind::Bars, 3),
            ("ETH/USDT", MarketKind::Trades, 3),
            ("SOL/USDT", MarketKind::Trades, 1)
        ]
    );
    // Forced, every file must be in that format.
    let err = MarketData::load_as(
        &[],
        &[dir.path().to_path_buf()],
        &["USDT"],
        MarketFormat::BinanceKlines,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("ETHUSDT-aggTrades-2024-01-01.csv.gz:1: no header and 8 columns"),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    let err = MarketData::load(&[], &[empty.path().to_path_buf()], &["USDT"]).unwrap_err();
    assert!(
        err.to_string().contains("no .csv, .csv.gz or .zip files"),
        "{err}"
    );
}

#[test]
fn format_names() {
    for format in MarketFormat::ALL {
        assert_eq!(format.to_string().parse::<MarketFormat>(), Ok(format));
    }
    assert_eq!(
        "TradingView".parse::<MarketFormat>(),
        Ok(MarketFormat::TradingView)
    );
    assert_eq!(MarketFormat::default(), MarketFormat::Auto);
    let err = "csv".parse::<MarketFormat>().unwrap_err().to_string();
    assert!(err.contains("expected auto, ours, tradingview, binance-klines or binance-aggtrades"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_bars() -> impl Strategy<Value = Vec<Bar>> {
        prop::collection::vec(
            (
                1u32..100_000,
                0.01f64..1e6,
                0.0f64..1.0,
                0.0f64..1.0,
                0.0f64..1e4,
            ),
            1..20,
        )
        .prop_map(|rows| {
            let mut t = 1_600_000_000_000i64;
            rows.into_iter()
                .map(|(step, low, a, b, volume)| {
                    t += i64::from(step);
                    let high = low * (1.0 + a);
                    let open = low + (high - low) * b;
                    Bar {
                        time_ms: t,
                        open,
                        high,
                        low,
                        close: high,
                        volume,
                    }
                })
                .collect()
        })
    }

    proptest! {
        /// Any bytes, any format: a series or an error naming the file,
        /// never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400), f in 0..5usize) {
            let format = MarketFormat::ALL[f];
            if let Err(e) = parse_series_as(&data[..], "m.csv", "BTC/USDT", format) {
                prop_assert_eq!(e.file, "m.csv");
                prop_assert!(!e.message.is_empty());
            }
            let _ = detect_format(&data[..], "m.csv");
        }

        /// Text made of the formats' own pieces reaches deeper: still no
        /// panic.
        #[test]
        fn csv_like_text_never_panics(
            cells in prop::collection::vec(prop::collection::vec(
                prop_oneof![
                    Just("time".to_string()), Just("open_time".to_string()), Just("Volume".to_string()),
                    Just("1704067200000".to_string()), Just("1704067200".to_string()),
                    Just("1704067200000000".to_string()), Just("2024-01-01T00:00:00+01:00".to_string()),
                    "[0-9.]{0,6}", "[a-z_]{0,6}",
                ], 0..13), 0..6),
            f in 0..5usize,
        ) {
            let text: String = cells.iter().map(|r| r.join(",") + "\n").collect();
            let _ = parse_series_as(text.as_bytes(), "m.csv", "BTC/USDT", MarketFormat::ALL[f]);
        }

        /// Bars written in ours read back the same, detected or forced.
        #[test]
        fn ours_round_trips(bars in any_bars()) {
            let mut text = String::from("time,open,high,low,close,volume\n");
            for b in &bars {
                text.push_str(&format!("{},{},{},{},{},{}\n", b.time_ms, b.open, b.high, b.low, b.close, b.volume));
            }
            for format in [MarketFormat::Auto, MarketFormat::Ours] {
                let s = parse_as(&text, format).unwrap();
                prop_assert_eq!(s.kind, MarketKind::Bars);
                prop_assert_eq!(&s.bars, &bars);
            }
            prop_assert_eq!(detect_format(text.as_bytes(), "m.csv"), Ok(MarketFormat::Ours));
        }
    }
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let s = parse("\u{feff}time,open,high,low,close,Volume\n1704067200,1,2,1,2,3\n").unwrap();
    assert_eq!(s.bars[0].time_ms, 1_704_067_200_000);
    let s = parse("\u{feff}1704067200000,1,2,1,2,3,1704067259999,4,5,6,7,0\n").unwrap();
    assert_eq!(s.bars[0].volume, 3.0);
}
