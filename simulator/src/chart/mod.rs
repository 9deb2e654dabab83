//! The price chart's data: [`ChartSeries`], a per-symbol accumulator fed one
//! bar at a time in time order that keeps at most a fixed number of candles,
//! and [`PriceChart`], a symbol's candles with its fills, which the report
//! carries and [`svg`] draws into the HTML page.
//!
//! Replay may stream its bars, so the chart cannot keep every bar: a year of
//! 1-minute bars would be 525,600 of them per symbol. Instead, bars fall
//! into time buckets aligned to the Unix epoch (a bucket of 1 h starts on
//! the hour); when a new bucket would exceed the capacity, the bucket width
//! steps up the [`WIDTHS_MS`] ladder and neighbouring candles merge. Each
//! width divides the next, so a coarse bucket is exactly a union of finer
//! ones and every candle's open, high, low and close stay exact for its
//! bucket (first open, highest high, lowest low, last close). Widths are
//! wall-clock units (1 min, 15 min, 6 h, 1 d) rather than powers of two,
//! so a reader of the chart sees candles of a period they know.
//!
//! Written by hand: it is a few dozen lines, and the merge rule (exact
//! OHLC, epoch-aligned, bounded) is the product's to define.

use alertgate_validator::Side;

pub mod svg;
#[cfg(test)]
mod tests;

/// Candles kept per symbol by the replay: enough for a wide zoomed chart,
/// ~80 KB per symbol.
pub const DEFAULT_CANDLES: usize = 2000;

/// Bucket widths, ms, finest first; each divides the next. Past the last,
/// the width doubles.
pub const WIDTHS_MS: [i64; 17] = [
    1,
    10,
    100,
    1_000,
    5_000,
    15_000,
    30_000,
    60_000,
    5 * 60_000,
    15 * 60_000,
    30 * 60_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    86_400_000,
    2 * 86_400_000,
];

/// The width that follows `width_ms`: the next rung of [`WIDTHS_MS`], or
/// twice it past the ladder (saturating).
pub fn next_width(width_ms: i64) -> i64 {
    WIDTHS_MS
        .iter()
        .copied()
        .find(|&w| w > width_ms)
        .unwrap_or_else(|| width_ms.saturating_mul(2))
}

/// One candle: the bars of one time bucket, merged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    /// Start of its first bar, Unix ms (not the bucket's start: the chart
    /// shows when trading data begins).
    pub time_ms: i64,
    /// First bar's open.
    pub open: f64,
    /// Highest high.
    pub high: f64,
    /// Lowest low.
    pub low: f64,
    /// Last bar's close.
    pub close: f64,
}

impl Candle {
    /// Folds a later candle (or bar) of the same bucket into this one.
    fn absorb(&mut self, later: &Candle) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
    }
}

/// A bar [`ChartSeries::push`] refused; the series is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// Earlier than the bar before it: bars come in time order.
    #[error("chart bar at {time_ms} ms is earlier than the bar before it at {previous_ms} ms; bars must come in time order")]
    OutOfOrder {
        /// The refused bar's time.
        time_ms: i64,
        /// The latest time pushed.
        previous_ms: i64,
    },
    /// A price that is not finite, or open or close outside `[low, high]`.
    #[error("chart bar at {time_ms} ms has open {open}, high {high}, low {low}, close {close}; prices must be finite with low <= open, close <= high")]
    BadPrices {
        /// The bar's time.
        time_ms: i64,
        /// As given.
        open: f64,
        /// As given.
        high: f64,
        /// As given.
        low: f64,
        /// As given.
        close: f64,
    },
}

impl ChartError {
    /// Stable code: `chart_out_of_order` or `chart_bad_prices`.
    pub fn code(&self) -> &'static str {
        match self {
            ChartError::OutOfOrder { .. } => "chart_out_of_order",
            ChartError::BadPrices { .. } => "chart_bad_prices",
        }
    }
}

/// A symbol's candles, at most `capacity` of them, built from bars pushed
/// in time order.
///
/// ```
/// use alertgate_simulator::chart::ChartSeries;
///
/// let mut chart = ChartSeries::new(3);
/// for minute in 0..4 {
///     let t = minute * 60_000;
///     let p = 100.0 + minute as f64;
///     chart.push(t, p, p + 1.0, p - 1.0, p).unwrap();
/// }
/// // Four 1-minute bars do not fit in three candles: they are merged into
/// // 5-minute candles, here one.
/// assert_eq!(chart.bucket_ms(), 300_000);
/// let c = chart.candles()[0];
/// assert_eq!((c.open, c.high, c.low, c.close), (100.0, 104.0, 99.0, 103.0));
/// assert!(chart.push(0, 1.0, 1.0, 1.0, 1.0).is_err(), "out of time order");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    capacity: usize,
    bucket_ms: i64,
    candles: Vec<Candle>,
    bars: u64,
    last_ms: Option<i64>,
    /// End (exclusive) of the last candle's bucket.
    open_until: i128,
}

impl ChartSeries {
    /// An empty series keeping at most `capacity` candles (at least 2, so
    /// that merging neighbours always makes room). Up to 65,536 candles
    /// are reserved at once, so that pushing bars allocates nothing (the
    /// replay's loop does not allocate per bar).
    pub fn new(capacity: usize) -> ChartSeries {
        let capacity = capacity.max(2);
        ChartSeries {
            capacity,
            bucket_ms: WIDTHS_MS[0],
            candles: Vec::with_capacity(capacity.min(1 << 16)),
            bars: 0,
            last_ms: None,
            open_until: i128::MIN,
        }
    }

    /// Adds a bar (a trade: all four prices equal) starting at `time_ms`,
    /// which must not be earlier than the previous bar's. Amortized O(1):
    /// a merge pass halves the candles at least, and happens only when
    /// they are full.
    pub fn push(
        &mut self,
        time_ms: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
    ) -> Result<(), ChartError> {
        let bar = Candle {
            time_ms,
            open,
            high,
            low,
            close,
        };
        self.check(&bar)?;
        self.last_ms = Some(time_ms);
        self.bars += 1;
        loop {
            // Within the last candle's bucket: one comparison, the common
            // case (many bars per candle).
            if let Some(last) = self.candles.last_mut() {
                if i128::from(time_ms) < self.open_until {
                    last.absorb(&bar);
                    return Ok(());
                }
            }
            if self.candles.len() < self.capacity {
                self.open_until = self.bucket_end(time_ms);
                self.candles.push(bar);
                return Ok(());
            }
            if next_width(self.bucket_ms) == self.bucket_ms {
                // Only times more than 2^63 ms apart stop the width from
                // growing: then the last candle takes the bar, so this ends.
                if let Some(last) = self.candles.last_mut() {
                    last.absorb(&bar);
                }
                return Ok(());
            }
            self.coarsen();
        }
    }

    /// The end (exclusive) of the bucket holding `time_ms`; i128 because
    /// the last bucket may end past `i64::MAX`.
    fn bucket_end(&self, time_ms: i64) -> i128 {
        (i128::from(time_ms.div_euclid(self.bucket_ms)) + 1) * i128::from(self.bucket_ms)
    }

    /// Refuses a bar out of time order or with impossible prices.
    fn check(&self, b: &Candle) -> Result<(), ChartError> {
        if let Some(previous_ms) = self.last_ms.filter(|&p| b.time_ms < p) {
            return Err(ChartError::OutOfOrder {
                time_ms: b.time_ms,
                previous_ms,
            });
        }
        let finite = [b.open, b.high, b.low, b.close]
            .iter()
            .all(|v| v.is_finite());
        let inside = |v: f64| b.low <= v && v <= b.high;
        if !finite || !inside(b.open) || !inside(b.close) {
            return Err(ChartError::BadPrices {
                time_ms: b.time_ms,
                open: b.open,
                high: b.high,
                low: b.low,
                close: b.close,
            });
        }
        Ok(())
    }

    fn key(&self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.bucket_ms)
    }

    /// Steps the bucket width up and merges the candles that now share a
    /// bucket, in place. A candle's first bar lies in its bucket, so its
    /// time gives its key at any width.
    fn coarsen(&mut self) {
        self.bucket_ms = next_width(self.bucket_ms);
        let mut kept = 0;
        for i in 0..self.candles.len() {
            let c = self.candles[i];
            if kept > 0 && self.key(self.candles[kept - 1].time_ms) == self.key(c.time_ms) {
                self.candles[kept - 1].absorb(&c);
            } else {
                self.candles[kept] = c;
                kept += 1;
            }
        }
        self.candles.truncate(kept);
        if let Some(last) = self.candles.last() {
            self.open_until = self.bucket_end(last.time_ms);
        }
    }

    /// The candles, in time order, one per non-empty bucket.
    pub fn candles(&self) -> &[Candle] {
        &self.candles
    }

    /// Width of every candle's bucket, ms: 1 until the first merge.
    pub fn bucket_ms(&self) -> i64 {
        self.bucket_ms
    }

    /// Most candles kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bars pushed.
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// The latest time pushed, if any.
    pub fn last_ms(&self) -> Option<i64> {
        self.last_ms
    }
}

/// One fill, as the price chart marks it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillMark {
    /// Start of the bar it filled in, Unix ms.
    pub time_ms: i64,
    /// Buy or sell.
    pub side: Side,
    /// Base units.
    pub quantity: f64,
    /// Execution price, slippage included.
    pub price: f64,
    /// `order`, `stop_loss` or `take_profit`.
    pub reason: &'static str,
}

/// A symbol's chart: its candles and its fills in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceChart {
    /// Canonical `BASE/QUOTE`.
    pub symbol: String,
    /// The symbol's bars, reduced.
    pub series: ChartSeries,
    /// Every fill of the symbol.
    pub fills: Vec<FillMark>,
}
