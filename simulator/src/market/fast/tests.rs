//! The fast loader against the reference reader: on well-formed files the
//! fast path reads (it does not hand them over) and gives the reference's
//! bars; on any file, mutated at random, the public reader gives exactly
//! the reference's result (the same bars, or the same error: file, line,
//! field and message), and whatever the fast path accepts the reference
//! accepts equally.

use proptest::prelude::*;

use super::super::{parse_bytes_as, reference, Bar, MarketFormat};

/// One of the layouts a generated file is written in.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Ours, columns in the order given by the permutation's index.
    Ours(usize),
    /// Ours, trades.
    OursTrades,
    /// TradingView, Unix seconds, with a volume and a plot column.
    TvSeconds,
    /// TradingView, RFC 3339 with an offset, no volume.
    TvIso,
    /// Binance klines, no header, ms (`false`) or µs (`true`).
    Klines(bool),
    /// Binance aggTrades, no header.
    AggTrades,
}

const ORDERS: [[usize; 6]; 3] = [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 4, 3]];
const NAMES: [&str; 6] = ["time", "open", "high", "low", "close", "volume"];

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (0..ORDERS.len()).prop_map(Shape::Ours),
        Just(Shape::OursTrades),
        Just(Shape::TvSeconds),
        Just(Shape::TvIso),
        any::<bool>().prop_map(Shape::Klines),
        Just(Shape::AggTrades),
    ]
}

/// Bars one second or more apart (so that seconds are exact), prices
/// written with few or many digits.
fn bars() -> impl Strategy<Value = Vec<Bar>> {
    prop::collection::vec(
        (
            1u32..100_000,
            0.01f64..1e6,
            0.0f64..1.0,
            0.0f64..1.0,
            0.0f64..1e4,
            0u8..3,
        ),
        1..12,
    )
    .prop_map(|rows| {
        let mut t = 1_600_000_000_000i64;
        rows.into_iter()
            .map(|(step, low, a, b, volume, digits)| {
                t += i64::from(step) * 1000;
                let round = |x: f64| match digits {
                    0 => (x * 100.0).round() / 100.0 + 0.01,
                    1 => x.round() + 1.0,
                    _ => x,
                };
                let low = round(low);
                let high = low * (1.0 + a);
                let open = (low + (high - low) * b).clamp(low, high);
                Bar {
                    time_ms: t,
                    open,
                    high,
                    low,
                    close: high,
                    volume: round(volume) - if digits == 1 { 1.0 } else { 0.0 },
                }
            })
            .collect()
    })
}

/// `bars` written in `shape`, one row per line, before any mutation.
fn write(shape: Shape, bars: &[Bar]) -> Vec<String> {
    let mut lines = Vec::new();
    match shape {
        Shape::Ours(o) => {
            let order = ORDERS[o];
            lines.push(order.map(|i| NAMES[i]).join(","));
            for b in bars {
                let v = [
                    b.time_ms.to_string(),
                    b.open.to_string(),
                    b.high.to_string(),
                    b.low.to_string(),
                    b.close.to_string(),
                    b.volume.to_string(),
                ];
                lines.push(order.map(|i| v[i].clone()).join(","));
            }
        }
        Shape::OursTrades => {
            lines.push("qty,price,time".into());
            for b in bars {
                lines.push(format!("{},{},{}", b.volume, b.close, b.time_ms));
            }
        }
        Shape::TvSeconds => {
            lines.push("time,open,high,low,close,Volume,Plot".into());
            for b in bars {
                lines.push(format!(
                    "{},{},{},{},{},{},NaN",
                    b.time_ms / 1000,
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume
                ));
            }
        }
        Shape::TvIso => {
            lines.push("Time,Open,High,Low,Close".into());
            for b in bars {
                let t = b.time_ms / 1000 + 7200;
                let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
                let (y, m, d) = civil(days);
                lines.push(format!(
                    "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+02:00,{},{},{},{}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60,
                    b.open,
                    b.high,
                    b.low,
                    b.close
                ));
            }
        }
        Shape::Klines(micros) => {
            for b in bars {
                let t = if micros {
                    b.time_ms * 1000 + 7
                } else {
                    b.time_ms
                };
                lines.push(format!(
                    "{t},{},{},{},{},{},{},0,1,0,0,0",
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume,
                    t + 59_999
                ));
            }
        }
        Shape::AggTrades => {
            for (i, b) in bars.iter().enumerate() {
                lines.push(format!(
                    "{i},{},{},1,1,{},True,True",
                    b.close, b.volume, b.time_ms
                ));
            }
        }
    }
    lines
}

/// Days since 1970-01-01 as a proleptic Gregorian date.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// How lines are joined: `\n`, `\r\n` or `\r`, with or without a final
/// one, blank lines, blanks around fields, a byte order mark.
#[derive(Debug, Clone)]
struct Dress {
    end: &'static str,
    final_end: bool,
    blank_after: Option<usize>,
    spaces: bool,
    bom: bool,
}

fn dress() -> impl Strategy<Value = Dress> {
    (
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        any::<bool>(),
        prop::option::of(0usize..40),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(end, final_end, blank_after, spaces, bom)| Dress {
            end,
            final_end,
            blank_after,
            spaces,
            bom,
        })
}

fn join(lines: &[String], d: &Dress) -> String {
    let mut text = String::from(if d.bom { "\u{feff}" } else { "" });
    for (i, line) in lines.iter().enumerate() {
        let line = if d.spaces {
            line.replace(',', " ,\t")
        } else {
            line.clone()
        };
        text.push_str(&line);
        if i + 1 < lines.len() || d.final_end {
            text.push_str(d.end);
        }
        if d.blank_after == Some(i) {
            text.push_str(d.end);
        }
    }
    text
}

/// Values that are wrong, or right in a form the fast path hands over.
const ODD: [&str; 24] = [
    "",
    " ",
    "-1",
    "-0",
    "0",
    "+1",
    "1.",
    ".5",
    "1e5",
    "1E-3",
    "1e",
    "1e999",
    "inf",
    "NaN",
    "\"1\"",
    "1\"",
    "é",
    "1 2",
    "99999999999999999999",
    "1704067200",
    "1704067200000",
    "1704067200000000",
    "2024-01-01T00:00:00Z",
    "0x10",
];

/// One change to a file's lines.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cell `cell` of line `line` becomes `ODD[value]`.
    Cell {
        line: usize,
        cell: usize,
        value: usize,
    },
    /// The byte at `at` (of the joined text) is removed.
    Delete { at: usize },
    /// `byte` is inserted at `at`.
    Insert { at: usize, byte: u8 },
    /// Lines `a` and `b` trade places.
    Swap { a: usize, b: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (0usize..12, 0usize..13, prop_oneof![3 => 2..12usize, 1 => 0..ODD.len()]).prop_map(|(line, cell, value)| Mutation::Cell { line, cell, value }),
        1 => (0usize..2000).prop_map(|at| Mutation::Delete { at }),
        1 => (0usize..2000, prop::sample::select(b",\"\r\n .e-+0\xC3\x80:T".to_vec()))
            .prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        1 => (0usize..40, 0usize..40).prop_map(|(a, b)| Mutation::Swap { a, b }),
    ]
}

fn mutate(lines: &mut [String], bytes: &mut Vec<u8>, m: &Mutation) {
    match *m {
        Mutation::Cell { line, cell, value } => {
            if let Some(l) = lines.get_mut(line) {
                let mut cells: Vec<String> = l.split(',').map(String::from).collect();
                let at = cell % cells.len();
                cells[at] = ODD[value].to_string();
                *l = cells.join(",");
            }
        }
        Mutation::Swap { a, b } if a < lines.len() && b < lines.len() => lines.swap(a, b),
        Mutation::Delete { at } if at < bytes.len() => {
            bytes.remove(at);
        }
        Mutation::Insert { at, byte } => bytes.insert(at.min(bytes.len()), byte),
        _ => {}
    }
}

const FORMATS: [MarketFormat; 5] = MarketFormat::ALL;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Well-formed files are read by the fast path, equal to the reference.
    #[test]
    fn well_formed_files_read_fast_and_equal(shape in shape(), bars in bars(), d in dress(), auto in any::<bool>()) {
        let text = join(&write(shape, &bars), &d);
        let reference = reference::parse(text.as_bytes(), "m.csv", "BTC/USDT", MarketFormat::Auto)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let format = if auto { MarketFormat::Auto } else { super::super::detect_format(text.as_bytes(), "m.csv").unwrap() };
        let fast = super::parse(text.as_bytes(), format);
        prop_assert!(fast.is_some(), "the fast path handed over a well-formed file:\n{}", text);
        let (kind, fast) = fast.unwrap();
        prop_assert_eq!(kind, reference.kind);
        prop_assert_eq!(&fast, &reference.bars);
    }

    /// Any file, mutated: the reader gives the reference's result, and the
    /// fast path never accepts what the reference refuses or reads it
    /// differently.
    #[test]
    fn any_file_reads_as_the_reference_reads_it(
        shape in shape(), bars in bars(), d in dress(),
        mutations in prop::collection::vec(mutation(), 0..4),
        f in prop_oneof![3 => Just(0usize), 2 => 0..FORMATS.len()],
    ) {
        let mut lines = write(shape, &bars);
        let mut bytes = Vec::new();
        for m in mutations.iter().filter(|m| matches!(m, Mutation::Cell { .. } | Mutation::Swap { .. })) {
            mutate(&mut lines, &mut bytes, m);
        }
        bytes = join(&lines, &d).into_bytes();
        for m in mutations.iter().filter(|m| matches!(m, Mutation::Delete { .. } | Mutation::Insert { .. })) {
            mutate(&mut lines, &mut bytes, m);
        }
        let format = FORMATS[f];
        let reference = reference::parse(&bytes[..], "m.csv", "BTC/USDT", format);
        prop_assert_eq!(&parse_bytes_as(&bytes, "m.csv", "BTC/USDT", format), &reference);
        if let Some((kind, fast)) = super::parse(&bytes, format) {
            let reference = reference.map_err(|e| e.to_string());
            prop_assert!(reference.is_ok(), "fast accepted, the reference refused: {:?}\n{}", reference, String::from_utf8_lossy(&bytes));
            let reference = reference.unwrap();
            prop_assert_eq!(kind, reference.kind);
            prop_assert_eq!(&fast, &reference.bars);
        }
    }
}

#[test]
fn the_strict_number_form() {
    for ok in ["0", "12", "1.5", "1.", "1e5", "2.5E-3", "3e+2"] {
        assert!(super::plain_decimal(ok.as_bytes()), "{ok}");
    }
    for bad in [
        "", ".5", "+1", "-1", "1e", "1e+", "inf", "NaN", "1.2.3", "1 ", "0x1", "1_0",
    ] {
        assert!(!super::plain_decimal(bad.as_bytes()), "{bad}");
    }
    assert_eq!(super::integer(b"1704067200000"), Some(1_704_067_200_000));
    assert_eq!(super::integer(&[b'9'; 19]), None);
    assert_eq!(super::trim(b" \t1\x0B "), b"1");
    assert_eq!(super::trim(b"  "), b"");
}

#[test]
fn mixed_units_and_text_times_are_decided_per_column() {
    // Seconds with an RFC 3339 row among them read; a millisecond row among
    // seconds is handed over, and the reference refuses it at its line.
    let ok = "time,open,high,low,close\n1704067200,1,1,1,1\n2024-01-01T01:01:00+01:00,1,1,1,1\n1704067320,1,1,1,1\n";
    let (_, bars) = super::parse(ok.as_bytes(), MarketFormat::Auto).unwrap();
    let times: Vec<i64> = bars.iter().map(|b| b.time_ms).collect();
    assert_eq!(
        times,
        [1_704_067_200_000, 1_704_067_260_000, 1_704_067_320_000]
    );
    let mixed = "time,open,high,low,close\n1704067200,1,1,1,1\n1704067260000,1,1,1,1\n";
    assert!(super::parse(mixed.as_bytes(), MarketFormat::Auto).is_none());
    let err = parse_bytes_as(mixed.as_bytes(), "m.csv", "X/Y", MarketFormat::Auto).unwrap_err();
    assert_eq!((err.line, err.field.as_deref()), (3, Some("time")));
}
#[test]
fn short_decimals_equal_from_str() {
    for text in [
        "0",
        "1",
        "100.04",
        "0.000001",
        "123456789012345",
        "1234567.89012345",
        "99.999999999999",
        "5",
    ] {
        assert_eq!(
            super::short_decimal(text.as_bytes()),
            Some(text.parse::<f64>().unwrap()),
            "{text}"
        );
    }
    for text in [
        "",
        ".5",
        "1.",
        "1.2.3",
        "1234567890123456",
        "1e5",
        "+1",
        "1,2",
    ] {
        assert_eq!(super::short_decimal(text.as_bytes()), None, "{text}");
    }
}

proptest! {
    /// Every short decimal reads as `f64::from_str` reads it.
    #[test]
    fn short_decimals_are_exact(int in 0u64..1_000_000_000, frac in 0u64..1_000_000, width in 0usize..7) {
        let text = if width == 0 { int.to_string() } else { format!("{int}.{:0width$}", frac % 10u64.pow(width as u32)) };
        let want: f64 = text.parse().unwrap();
        prop_assert_eq!(super::short_decimal(text.as_bytes()).or_else(|| super::number(text.as_bytes())), Some(want));
    }
}

/// A number's text: 1 to 17 digits (leading zeros among them), then maybe
/// a point and 0 to 17 more, then maybe an exponent: every length at which
/// the 16-byte reader changes its arithmetic or hands over.
fn number_text() -> impl Strategy<Value = String> {
    (
        "[0-9]{1,17}",
        prop::option::of("[0-9]{0,17}"),
        prop::option::of("[eE][+-]?[0-9]{1,3}"),
    )
        .prop_map(|(int, fraction, exponent)| {
            let mut text = int;
            if let Some(f) = fraction {
                text = format!("{text}.{f}");
            }
            text + exponent.as_deref().unwrap_or("")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Bars whose prices and volumes are numbers of any length, times in
    /// ms or µs: the loader reads them as the reference does, and reads
    /// every file the reference accepts without handing it over.
    #[test]
    fn numbers_of_any_length_read_as_the_reference_reads_them(
        rows in prop::collection::vec((number_text(), number_text()), 1..8),
        micros in any::<bool>(),
        end in prop_oneof![Just("\n"), Just("\r\n")],
    ) {
        let mut text = format!("time,open,high,low,close,volume{end}");
        for (i, (price, volume)) in rows.iter().enumerate() {
            let t = 1_704_067_200_000i64 + 60_000 * i as i64;
            let t = if micros { t * 1000 + 7 } else { t };
            text += &format!("{t},{price},{price},{price},{price},{volume}{end}");
        }
        let reference = reference::parse(text.as_bytes(), "m.csv", "BTC/USDT", MarketFormat::Auto);
        prop_assert_eq!(&parse_bytes_as(text.as_bytes(), "m.csv", "BTC/USDT", MarketFormat::Auto), &reference);
        let fast = super::parse(text.as_bytes(), MarketFormat::Auto);
        match (fast, reference) {
            (Some((_, bars)), Ok(series)) => prop_assert_eq!(bars, series.bars),
            (None, Err(_)) => {}
            (fast, reference) => prop_assert!(false, "fast {:?}, reference {:?}\n{}", fast, reference, text),
        }
    }
}

#[test]
fn rows_of_another_shape_then_plain_ones_read_as_the_reference_reads_them() {
    // 20 rows with blanks (read the general way, after which plain rows are
    // tried only every 128th line), then 300 plain ones.
    let mut text = String::from("time,open,high,low,close,volume\n");
    for i in 0..320 {
        let t = 1_704_067_200_000i64 + 60_000 * i;
        let sep = if i < 20 { ", " } else { "," };
        text += &format!("{t}{sep}1.5{sep}2.25{sep}1{sep}2{sep}0.001\n");
    }
    let (_, fast) = super::parse(text.as_bytes(), MarketFormat::Auto).unwrap();
    let reference =
        reference::parse(text.as_bytes(), "m.csv", "BTC/USDT", MarketFormat::Auto).unwrap();
    assert_eq!(fast.len(), 320);
    assert_eq!(fast, reference.bars);
}
