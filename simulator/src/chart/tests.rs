use proptest::prelude::*;

use super::*;

/// The reference: every bar kept, grouped by `width_ms` buckets aligned to
/// the epoch, merged the obvious way.
fn grouped(bars: &[Candle], width_ms: i64) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for b in bars {
        match out.last_mut() {
            Some(c) if c.time_ms.div_euclid(width_ms) == b.time_ms.div_euclid(width_ms) => {
                c.high = c.high.max(b.high);
                c.low = c.low.min(b.low);
                c.close = b.close;
            }
            _ => out.push(*b),
        }
    }
    out
}

/// The width before `width_ms` on the ladder (None for the finest).
fn previous_width(width_ms: i64) -> Option<i64> {
    let mut w = WIDTHS_MS[0];
    if width_ms == w {
        return None;
    }
    loop {
        let n = next_width(w);
        if n == width_ms {
            return Some(w);
        }
        assert!(n < width_ms, "{width_ms} is not on the ladder");
        w = n;
    }
}

/// Bars in time order: each step is a gap (0 allowed: trades sharing a
/// millisecond) and prices around a walk.
fn bars() -> impl Strategy<Value = Vec<Candle>> {
    let step = (
        prop_oneof![
            Just(0i64),
            1i64..100,
            1_000i64..100_000,
            60_000i64..50_000_000
        ],
        -5.0..5.0f64,
        0.0..3.0f64,
        0.0..3.0f64,
        0.0..1.0f64,
    );
    (
        -1_000_000_000_000i64..2_000_000_000_000,
        prop::collection::vec(step, 1..600),
    )
        .prop_map(|(start, steps)| {
            let (mut t, mut price) = (start, 1000.0);
            steps
                .into_iter()
                .map(|(gap, drift, up, down, close_at)| {
                    t += gap;
                    let open = price;
                    let close = (open + drift).max(1.0);
                    let high = open.max(close) + up;
                    let low = (open.min(close) - down).max(0.5);
                    price = low + (high - low) * close_at;
                    Candle {
                        time_ms: t,
                        open,
                        high,
                        low,
                        close,
                    }
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the capacity: bounded, in order, exactly the buckets of
    /// every bar at the final width (high = the highest high of the bucket,
    /// low the lowest, first open, last close), and no coarser than needed.
    #[test]
    fn candles_are_the_exact_buckets_bounded_and_ordered(
        bars in bars(),
        capacity in 2usize..40,
    ) {
        let mut chart = ChartSeries::new(capacity);
        for b in &bars {
            chart.push(b.time_ms, b.open, b.high, b.low, b.close).unwrap();
        }
        let candles = chart.candles();
        prop_assert!(candles.len() <= capacity);
        prop_assert!(!candles.is_empty());
        prop_assert_eq!(chart.bars(), bars.len() as u64);
        let w = chart.bucket_ms();
        for pair in candles.windows(2) {
            prop_assert!(pair[0].time_ms.div_euclid(w) < pair[1].time_ms.div_euclid(w));
        }
        let expected = grouped(&bars, w);
        prop_assert_eq!(candles, expected.as_slice());
        if let Some(finer) = previous_width(w) {
            prop_assert!(grouped(&bars, finer).len() > capacity, "width {} was not needed", w);
        }
    }

    /// A bar earlier than the last is refused and changes nothing.
    #[test]
    fn a_bar_out_of_order_is_refused_and_ignored(bars in bars(), back in 1i64..1_000_000) {
        let mut chart = ChartSeries::new(5);
        for b in &bars {
            chart.push(b.time_ms, b.open, b.high, b.low, b.close).unwrap();
        }
        let before = chart.clone();
        let last = bars[bars.len() - 1].time_ms;
        let err = chart.push(last - back, 1.0, 1.0, 1.0, 1.0).unwrap_err();
        prop_assert_eq!(err, ChartError::OutOfOrder { time_ms: last - back, previous_ms: last });
        prop_assert_eq!(chart, before);
    }
}

#[test]
fn a_year_of_minute_bars_stays_bounded_in_wall_clock_candles() {
    let mut chart = ChartSeries::new(DEFAULT_CANDLES);
    let start = 1_704_067_200_000; // 2024-01-01T00:00:00Z
    let (mut high, mut low) = (f64::MIN, f64::MAX);
    for i in 0..525_600i64 {
        let p = 100.0 + (i % 1000) as f64 / 10.0;
        chart
            .push(start + i * 60_000, p, p + 0.5, p - 0.5, p)
            .unwrap();
        (high, low) = (high.max(p + 0.5), low.min(p - 0.5));
    }
    // 6-hour candles: 1,460 of them (365 days); 3-hour ones would be 2,920.
    assert_eq!(chart.bucket_ms(), 6 * 3_600_000);
    assert_eq!(chart.candles().len(), 1460);
    assert_eq!(chart.candles()[1].time_ms, start + 6 * 3_600_000);
    let c = chart.candles();
    assert_eq!(c.iter().map(|c| c.high).fold(f64::MIN, f64::max), high);
    assert_eq!(c.iter().map(|c| c.low).fold(f64::MAX, f64::min), low);
}

#[test]
fn bad_bars_are_refused_with_their_code() {
    let mut chart = ChartSeries::new(10);
    for (o, h, l, c) in [
        (f64::NAN, 1.0, 1.0, 1.0),
        (1.0, f64::INFINITY, 1.0, 1.0),
        (2.0, 1.5, 1.0, 1.2),
        (1.2, 1.5, 1.0, 0.9),
    ] {
        let e = chart.push(0, o, h, l, c).unwrap_err();
        assert_eq!(e.code(), "chart_bad_prices");
        assert!(e.to_string().contains("low <= open, close <= high"), "{e}");
    }
    assert!(chart.candles().is_empty() && chart.bars() == 0);
    chart.push(5, 1.0, 1.0, 1.0, 1.0).unwrap();
    let e = chart.push(4, 1.0, 1.0, 1.0, 1.0).unwrap_err();
    assert_eq!(e.code(), "chart_out_of_order");
    assert_eq!(
        e.to_string(),
        "chart bar at 4 ms is earlier than the bar before it at 5 ms; bars must come in time order"
    );
}

#[test]
fn extreme_times_and_tiny_capacities_do_not_overflow() {
    let mut chart = ChartSeries::new(0);
    assert_eq!(chart.capacity(), 2);
    for t in [i64::MIN, -1, 0, 1, i64::MAX] {
        chart.push(t, 1.0, 2.0, 0.5, 1.5).unwrap();
    }
    assert!(chart.candles().len() <= 2);
    assert_eq!(chart.candles()[0].time_ms, i64::MIN);
    assert_eq!(chart.last_ms(), Some(i64::MAX));
}

#[test]
fn the_ladder_divides_each_next_width() {
    for w in WIDTHS_MS.windows(2) {
        assert_eq!(w[1] % w[0], 0, "{w:?}");
    }
    assert_eq!(next_width(86_400_000), 2 * 86_400_000);
    assert_eq!(next_width(2 * 86_400_000), 4 * 86_400_000);
    assert_eq!(next_width(i64::MAX), i64::MAX);
}
