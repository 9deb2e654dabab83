//! Mark prices from market data (`[serve] market`).
//!
//! With market data loaded, an alert's mark price follows the rule
//! `alertgate replay` gives its gate, taken at the alert's own time (the
//! body's `timestamp`, any alias): the **open** of the latest bar (or
//! trade) of the alert's symbol that started at or before that time, never
//! a bar that starts later (no look-ahead). Past the end of the data the
//! last bar has started, so its open is the mark.
//!
//! Without a mark from the data at the alert's time ([`MarkMiss`]), the
//! gateway values the order at the symbol's last mark from the data that an
//! accepted order carried, if any; never at a price an alert wrote (see
//! [`alertgate_validator::Policy::valuation_price`]).
//!
//! The mark also travels with the accepted order (`mark_price`, whatever
//! the order's type) as the price the mock exchange observes with it (see
//! [`super::mock`]).

use alertgate_validator::alert::RawAlert;
use alertgate_validator::{Decimal, OrderType, Side};

use alertgate_simulator::exchange::f64_to_decimal;
use alertgate_simulator::market::MarketData;

/// Why the market data gave no mark price for an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkMiss {
    /// The body has no `timestamp`.
    NoTimestamp,
    /// The data has no series for the symbol.
    UnknownSymbol,
    /// The alert is older than the symbol's first bar.
    BeforeData,
    /// The bar's open does not fit a decimal (more than 18 decimal places).
    Unrepresentable,
}

impl MarkMiss {
    /// Every reason, in [`MarkMiss::index`] order.
    pub const ALL: [MarkMiss; 4] = [
        MarkMiss::NoTimestamp,
        MarkMiss::UnknownSymbol,
        MarkMiss::BeforeData,
        MarkMiss::Unrepresentable,
    ];

    /// The `reason` label of `alertgate_mark_fallbacks_total`.
    pub const fn reason(self) -> &'static str {
        match self {
            MarkMiss::NoTimestamp => "no_timestamp",
            MarkMiss::UnknownSymbol => "unknown_symbol",
            MarkMiss::BeforeData => "before_data",
            MarkMiss::Unrepresentable => "unrepresentable",
        }
    }

    /// Position in [`MarkMiss::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What the market data says about one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// The mark at the alert's time, or why there is none.
    pub mark: Result<Decimal, MarkMiss>,
    /// Whether the alert needs a mark: every order but a buy limit is valued
    /// at it (see [`alertgate_validator::Policy::valuation_price`]), and a
    /// market order fills at it.
    pub needs_mark: bool,
}

/// Market data loaded once at start, read by every request.
#[derive(Debug, Clone, Default)]
pub struct MarketMarks {
    data: MarketData,
}

impl MarketMarks {
    /// Wraps loaded data.
    pub fn new(data: MarketData) -> MarketMarks {
        MarketMarks { data }
    }

    /// The mark of canonical `symbol` (`BTC/USDT`) at `at_ms` (Unix ms):
    /// the open of the latest bar that started at or before `at_ms`.
    pub fn mark(&self, symbol: &str, at_ms: Option<i64>) -> Result<Decimal, MarkMiss> {
        let series =
            &self.data.series[self.data.index_of(symbol).ok_or(MarkMiss::UnknownSymbol)?];
        let at_ms = at_ms.ok_or(MarkMiss::NoTimestamp)?;
        let bar = series.last_started(at_ms).ok_or(MarkMiss::BeforeData)?;
        f64_to_decimal(series.bars[bar].open).ok_or(MarkMiss::Unrepresentable)
    }

    /// Reads the body's symbol (split with `quotes`, as the gate does),
    /// order type, prices and time, and looks the mark up; `None` if the
    /// body is not an alert (the gate refuses it anyway).
    pub fn lookup(&self, body: &[u8], quotes: &[&str]) -> Option<Lookup> {
        let fields = RawAlert::scan(body).ok()?.fields(quotes).ok()?;
        Some(Lookup {
            mark: self.mark(fields.symbol.as_str(), fields.timestamp_ms),
            // A cancel places nothing: it needs no mark.
            needs_mark: fields.action.is_place()
                && !(fields.side == Side::Buy
                    && fields.order_type == OrderType::Limit
                    && fields.price.is_some()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alertgate_simulator::market::parse_series;

    const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
    const HOUR: i64 = 3_600_000;

    fn marks() -> MarketMarks {
        let csv = format!(
            "time,open,high,low,close,volume\n\
             {T0},100,110,90,105,1\n\
             {},105.5,106,104,104.25,1\n\
             {},104.25,120,100,119,1\n",
            T0 + HOUR,
            T0 + 3 * HOUR, // a gap: no bar at T0 + 2h
        );
        let series = parse_series(csv.as_bytes(), "BTC-USDT.csv", "BTC/USDT").unwrap();
        MarketMarks::new(MarketData {
            series: vec![series],
            gaps: Vec::new(),
        })
    }

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn before_the_first_bar_there_is_no_mark() {
        assert_eq!(
            marks().mark("BTC/USDT", Some(T0 - 1)),
            Err(MarkMiss::BeforeData)
        );
    }

    #[test]
    fn exactly_at_a_bar_start_that_bar_open_is_the_mark() {
        let m = marks();
        assert_eq!(m.mark("BTC/USDT", Some(T0)), Ok(d("100")));
        assert_eq!(m.mark("BTC/USDT", Some(T0 + HOUR)), Ok(d("105.5")));
        assert_eq!(m.mark("BTC/USDT", Some(T0 + 3 * HOUR)), Ok(d("104.25")));
    }

    #[test]
    fn inside_a_bar_its_open_is_the_mark_never_the_next() {
        let m = marks();
        assert_eq!(m.mark("BTC/USDT", Some(T0 + 1)), Ok(d("100")));
        assert_eq!(m.mark("BTC/USDT", Some(T0 + HOUR - 1)), Ok(d("100")));
        // In the gap the last started bar is still the 1h bar.
        assert_eq!(m.mark("BTC/USDT", Some(T0 + 2 * HOUR + 5)), Ok(d("105.5")));
    }

    #[test]
    fn after_the_end_the_last_bar_open_is_the_mark() {
        let m = marks();
        assert_eq!(m.mark("BTC/USDT", Some(T0 + 30 * HOUR)), Ok(d("104.25")));
        assert_eq!(m.mark("BTC/USDT", Some(i64::MAX)), Ok(d("104.25")));
    }

    #[test]
    fn an_unknown_symbol_or_a_missing_time_has_no_mark() {
        let m = marks();
        assert_eq!(m.mark("ETH/USDT", Some(T0)), Err(MarkMiss::UnknownSymbol));
        assert_eq!(m.mark("BTC/USDT", None), Err(MarkMiss::NoTimestamp));
        assert_eq!(
            MarketMarks::default().mark("BTC/USDT", Some(T0)),
            Err(MarkMiss::UnknownSymbol)
        );
    }

    #[test]
    fn lookup_reads_symbol_time_and_type_from_the_body() {
        let m = marks();
        let quotes = ["USDT"];
        let market = br#"{"symbol":"BINANCE:BTCUSDT","side":"buy","quantity":"1","price":"1","time":"2024-01-01T01:30:00Z"}"#;
        assert_eq!(
            m.lookup(market, &quotes),
            Some(Lookup {
                mark: Ok(d("105.5")),
                needs_mark: true
            })
        );
        let limit = br#"{"symbol":"BTCUSDT","side":"buy","quantity":"1","order_type":"limit","price":"99","timestamp":1704067200000}"#;
        assert_eq!(
            m.lookup(limit, &quotes),
            Some(Lookup {
                mark: Ok(d("100")),
                needs_mark: false
            })
        );
        // A sell limit below the market executes at the market: valued there.
        let sell_limit = br#"{"symbol":"BTCUSDT","side":"sell","quantity":"1","order_type":"limit","price":"0.01","timestamp":1704067200000}"#;
        assert_eq!(
            m.lookup(sell_limit, &quotes).map(|l| l.needs_mark),
            Some(true)
        );
        let untimed = br#"{"symbol":"BTCUSDT","side":"sell","quantity":"1"}"#;
        assert_eq!(
            m.lookup(untimed, &quotes).map(|l| l.mark),
            Some(Err(MarkMiss::NoTimestamp))
        );
        assert_eq!(m.lookup(b"{\"symbol\":", &quotes), None);
        assert_eq!(m.lookup(b"\xff\xfe", &quotes), None);
    }

    #[test]
    fn reasons_are_indexed_in_order() {
        for (i, m) in MarkMiss::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
        }
    }
}
