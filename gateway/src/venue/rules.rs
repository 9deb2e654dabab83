//! A venue's trading rules for one symbol, applied with exact decimals
//! before anything is sent: the quantity rounded down to the step, prices
//! rounded to the tick (never to a worse price for the trader), and an
//! order the venue would refuse refused here, with a stable code.

use alertgate_validator::{Decimal, Side};

/// One symbol's trading rules (Binance's `LOT_SIZE`, `MARKET_LOT_SIZE`,
/// `PRICE_FILTER`, `MIN_NOTIONAL` / `NOTIONAL`; other venues map theirs to
/// the same fields). A zero step, tick or bound means "no rule".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TradingRules {
    /// Quantity increment of limit orders (`LOT_SIZE.stepSize`).
    pub step: Decimal,
    /// Smallest quantity (`LOT_SIZE.minQty`).
    pub min_quantity: Decimal,
    /// Largest quantity (`LOT_SIZE.maxQty`).
    pub max_quantity: Decimal,
    /// Quantity increment of market orders (`MARKET_LOT_SIZE.stepSize`;
    /// zero: `step`).
    pub market_step: Decimal,
    /// Largest market-order quantity (`MARKET_LOT_SIZE.maxQty`; zero:
    /// `max_quantity`).
    pub max_market_quantity: Decimal,
    /// Price increment (`PRICE_FILTER.tickSize`).
    pub tick: Decimal,
    /// Smallest order value, quote units (`MIN_NOTIONAL` / `NOTIONAL`).
    pub min_notional: Decimal,
    /// Largest order value, quote units (`NOTIONAL.maxNotional`).
    pub max_notional: Decimal,
    /// Market orders are not held to `min_notional` (Spot's
    /// `NOTIONAL.applyMinToMarket` or `MIN_NOTIONAL.applyToMarket` false).
    pub market_exempt_min_notional: bool,
    /// Market orders are not held to `max_notional` (Spot's
    /// `NOTIONAL.applyMaxToMarket` false, as Binance ships it).
    pub market_exempt_max_notional: bool,
}

/// The key under which a venue that restricts no symbol (the paper venue)
/// lists its rules: they apply to any symbol, including one it has never
/// seen (see [`crate::serve::venues::RulesBook`]).
pub const ANY_SYMBOL: &str = "*";

impl TradingRules {
    /// The rules of an order sent reduce-only: USDⓈ-M waives the minimum
    /// notional for it (its error -4164 reads "Order's notional must be no
    /// smaller than 5 (unless you choose reduce only)"), so a position
    /// worth less than the minimum can still be closed. Every other rule
    /// stays.
    pub fn for_reduce_only(self) -> TradingRules {
        TradingRules {
            min_notional: Decimal::ZERO,
            ..self
        }
    }

    /// No step, no tick, no bound: any positive quantity at any price (the
    /// paper venue's rules, for every symbol).
    pub fn unrestricted() -> TradingRules {
        TradingRules::default()
    }
}

/// Why an order breaks a symbol's rules: each has a stable code, given in
/// the answer, the journal and the metrics.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    /// Rounded down to the step, nothing is left.
    #[error("quantity {quantity} is below the step {step}")]
    QuantityBelowStep {
        /// The order's quantity.
        quantity: Decimal,
        /// The symbol's step.
        step: Decimal,
    },
    /// Below the smallest quantity.
    #[error("quantity {quantity} is below the minimum {min}")]
    QuantityBelowMin {
        /// The rounded quantity.
        quantity: Decimal,
        /// The symbol's minimum.
        min: Decimal,
    },
    /// Above the largest quantity.
    #[error("quantity {quantity} is above the maximum {max}")]
    QuantityAboveMax {
        /// The rounded quantity.
        quantity: Decimal,
        /// The symbol's maximum.
        max: Decimal,
    },
    /// The order's value is below the smallest.
    #[error("order value {value} is below the minimum notional {min}")]
    BelowMinNotional {
        /// Quantity × price.
        value: Decimal,
        /// The symbol's minimum.
        min: Decimal,
    },
    /// The order's value is above the largest.
    #[error("order value {value} is above the maximum notional {max}")]
    AboveMaxNotional {
        /// Quantity × price.
        value: Decimal,
        /// The symbol's maximum.
        max: Decimal,
    },
    /// A value the rounding cannot represent (beyond the decimals' bounds).
    #[error("{0} cannot be rounded exactly")]
    Unrepresentable(Decimal),
}

impl RuleViolation {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            RuleViolation::QuantityBelowStep { .. } => "venue_quantity_below_step",
            RuleViolation::QuantityBelowMin { .. } => "venue_quantity_below_min",
            RuleViolation::QuantityAboveMax { .. } => "venue_quantity_above_max",
            RuleViolation::BelowMinNotional { .. } => "venue_below_min_notional",
            RuleViolation::AboveMaxNotional { .. } => "venue_above_max_notional",
            RuleViolation::Unrepresentable(_) => "venue_unrepresentable",
        }
    }
}

/// Which way a value may be rounded to its increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Toward zero.
    Down,
    /// Away from zero.
    Up,
}

/// `value` rounded to a multiple of `increment` (a zero increment leaves
/// it as it is), exactly; `None` if the result leaves the decimals' range.
pub fn round_to(value: Decimal, increment: Decimal, rounding: Rounding) -> Option<Decimal> {
    if increment.mantissa() == 0 {
        return Some(value);
    }
    let scale = value.scale().max(increment.scale());
    let v = rescale(value, scale)?;
    let inc = rescale(increment, scale)?.abs();
    let (q, r) = (v / inc, v % inc);
    let q = match rounding {
        Rounding::Up if r != 0 => q.checked_add(v.signum())?,
        _ => q,
    };
    Decimal::new(q.checked_mul(inc)?, scale)
}

/// The mantissa of `d` at `scale` (≥ its own).
fn rescale(d: Decimal, scale: u8) -> Option<i128> {
    let shift = u32::from(scale.checked_sub(d.scale())?);
    d.mantissa().checked_mul(10i128.checked_pow(shift)?)
}

/// An order after the rules: what may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rounded {
    /// Rounded down to the step.
    pub quantity: Decimal,
    /// A limit price rounded to the tick, for the trader's benefit.
    pub price: Option<Decimal>,
    /// A trigger price rounded to the tick, for the trader's benefit.
    pub stop_price: Option<Decimal>,
}

impl TradingRules {
    /// Applies the rules to an order of `side`: `quantity`, a limit
    /// `price` and a trigger `stop_price` if any, valued at `mark` (its
    /// limit price if it has one, else the mark) for the notional checks.
    /// A buy's prices round down and a sell's up: never a worse price for
    /// the trader.
    pub fn apply(
        &self,
        side: Side,
        market: bool,
        quantity: Decimal,
        price: Option<Decimal>,
        stop_price: Option<Decimal>,
        mark: Option<Decimal>,
    ) -> Result<Rounded, RuleViolation> {
        let quantity = self.quantity(market, quantity)?;
        let rounding = match side {
            Side::Buy => Rounding::Down,
            Side::Sell => Rounding::Up,
        };
        let tick =
            |p: Decimal| round_to(p, self.tick, rounding).ok_or(RuleViolation::Unrepresentable(p));
        let price = price.map(tick).transpose()?;
        let stop_price = stop_price.map(tick).transpose()?;
        if let Some(reference) = price.or(mark) {
            self.notional(quantity, reference, market)?;
        }
        Ok(Rounded {
            quantity,
            price,
            stop_price,
        })
    }

    /// The quantity step and maximum of a market order (`market`: the
    /// `MARKET_LOT_SIZE` values where set, else `LOT_SIZE`'s) or of any
    /// other order.
    pub fn step_and_max(&self, market: bool) -> (Decimal, Decimal) {
        if market {
            (
                or(self.market_step, self.step),
                or(self.max_market_quantity, self.max_quantity),
            )
        } else {
            (self.step, self.max_quantity)
        }
    }

    /// `quantity` rounded down to the step, within the bounds.
    fn quantity(&self, market: bool, quantity: Decimal) -> Result<Decimal, RuleViolation> {
        let (step, max) = self.step_and_max(market);
        let rounded = round_to(quantity, step, Rounding::Down)
            .ok_or(RuleViolation::Unrepresentable(quantity))?;
        if !rounded.is_positive() {
            return Err(RuleViolation::QuantityBelowStep { quantity, step });
        }
        if rounded < self.min_quantity {
            return Err(RuleViolation::QuantityBelowMin {
                quantity: rounded,
                min: self.min_quantity,
            });
        }
        if max.is_positive() && rounded > max {
            return Err(RuleViolation::QuantityAboveMax {
                quantity: rounded,
                max,
            });
        }
        Ok(rounded)
    }

    /// The value `quantity × price` within the notional bounds that bind
    /// the order (a `market` one may be exempt from either).
    fn notional(
        &self,
        quantity: Decimal,
        price: Decimal,
        market: bool,
    ) -> Result<(), RuleViolation> {
        let value = quantity
            .checked_mul(price)
            .ok_or(RuleViolation::Unrepresentable(quantity))?;
        if value < self.min_notional && !(market && self.market_exempt_min_notional) {
            return Err(RuleViolation::BelowMinNotional {
                value,
                min: self.min_notional,
            });
        }
        let max_binds = !(market && self.market_exempt_max_notional);
        if max_binds && self.max_notional.is_positive() && value > self.max_notional {
            return Err(RuleViolation::AboveMaxNotional {
                value,
                max: self.max_notional,
            });
        }
        Ok(())
    }
}

/// `a`, or `b` when `a` is zero (no rule).
fn or(a: Decimal, b: Decimal) -> Decimal {
    if a.mantissa() == 0 {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn unrestricted_rules_keep_any_quantity_and_price_as_they_are() {
        let r = TradingRules::unrestricted();
        let rounded = r
            .apply(
                Side::Sell,
                false,
                d("0.000000123"),
                Some(d("12345.6789")),
                None,
                Some(d("0.0001")),
            )
            .unwrap();
        assert_eq!(rounded.quantity, d("0.000000123"));
        assert_eq!(rounded.price, Some(d("12345.6789")));
        let market = r
            .apply(Side::Buy, true, d("1000000"), None, None, Some(d("99999")))
            .unwrap();
        assert_eq!(market.quantity, d("1000000"));
    }

    #[test]
    fn rounding_to_an_increment_is_exact() {
        let cases = [
            ("0.123456", "0.001", Rounding::Down, "0.123"),
            ("0.123456", "0.001", Rounding::Up, "0.124"),
            ("0.123", "0.001", Rounding::Up, "0.123"),
            ("67000.57", "0.1", Rounding::Down, "67000.5"),
            ("67000.57", "0.1", Rounding::Up, "67000.6"),
            ("1", "0.00000001", Rounding::Down, "1"),
            ("12.5", "5", Rounding::Down, "10"),
            ("12.5", "5", Rounding::Up, "15"),
            ("0.0004", "0.001", Rounding::Down, "0"),
            ("7", "0", Rounding::Down, "7"),
            // A step that is not a power of ten.
            ("0.37", "0.25", Rounding::Down, "0.25"),
            ("0.37", "0.25", Rounding::Up, "0.5"),
        ];
        for (value, inc, rounding, want) in cases {
            assert_eq!(
                round_to(d(value), d(inc), rounding),
                Some(d(want)),
                "{value} to {inc} {rounding:?}"
            );
        }
    }

    fn btc() -> TradingRules {
        TradingRules {
            step: d("0.001"),
            min_quantity: d("0.001"),
            max_quantity: d("1000"),
            market_step: d("0.001"),
            max_market_quantity: d("120"),
            tick: d("0.1"),
            min_notional: d("100"),
            max_notional: Decimal::default(),
            ..TradingRules::default()
        }
    }

    #[test]
    fn orders_are_rounded_for_the_trader_or_refused_with_a_code() {
        let r = btc();
        let buy = r
            .apply(
                Side::Buy,
                false,
                d("0.0129"),
                Some(d("67000.57")),
                None,
                None,
            )
            .unwrap();
        assert_eq!((buy.quantity, buy.price), (d("0.012"), Some(d("67000.5"))));
        let sell = r
            .apply(
                Side::Sell,
                false,
                d("0.0129"),
                Some(d("67000.51")),
                Some(d("66000.01")),
                None,
            )
            .unwrap();
        assert_eq!(
            (sell.price, sell.stop_price),
            (Some(d("67000.6")), Some(d("66000.1")))
        );
        let code = |q: &str, price: Option<&str>, mark: Option<&str>, market: bool| {
            r.apply(Side::Buy, market, d(q), price.map(d), None, mark.map(d))
                .unwrap_err()
                .code()
        };
        assert_eq!(
            code("0.0009", Some("67000"), None, false),
            "venue_quantity_below_step"
        );
        assert_eq!(
            code("1000.5", Some("67000"), None, false),
            "venue_quantity_above_max"
        );
        assert_eq!(
            code("121", None, Some("67000"), true),
            "venue_quantity_above_max"
        );
        assert_eq!(
            code("0.001", Some("67000"), None, false),
            "venue_below_min_notional"
        );
        assert_eq!(
            code("0.001", None, Some("67000"), true),
            "venue_below_min_notional"
        );
        // Without a price or a mark, the notional cannot be checked here.
        assert!(r
            .apply(Side::Buy, true, d("0.001"), None, None, None)
            .is_ok());
        let with_min = TradingRules {
            min_quantity: d("0.01"),
            ..r
        };
        let e = with_min
            .apply(Side::Buy, false, d("0.005"), Some(d("67000")), None, None)
            .unwrap_err();
        assert_eq!(e.code(), "venue_quantity_below_min");
        let capped = TradingRules {
            max_notional: d("1000"),
            ..r
        };
        let e = capped
            .apply(Side::Buy, false, d("0.1"), Some(d("67000")), None, None)
            .unwrap_err();
        assert_eq!(e.code(), "venue_above_max_notional");
        assert!(e.to_string().contains("6700"), "{e}");
    }

    proptest::proptest! {
        /// Rounding down never exceeds the value, rounding up never falls
        /// below it, both land on the increment, and they are one
        /// increment apart at most.
        #[test]
        fn rounding_brackets_the_value(m in 1i64..10_000_000_000, s in 0u8..10, inc_m in 1i64..1_000_000, inc_s in 0u8..10) {
            let v = Decimal::new(i128::from(m), s).unwrap();
            let inc = Decimal::new(i128::from(inc_m), inc_s).unwrap();
            let down = round_to(v, inc, Rounding::Down).unwrap();
            let up = round_to(v, inc, Rounding::Up).unwrap();
            proptest::prop_assert!(down <= v && v <= up);
            proptest::prop_assert_eq!(round_to(down, inc, Rounding::Up), Some(down));
            proptest::prop_assert_eq!(round_to(up, inc, Rounding::Down), Some(up));
            let gap = rescale(up, 20).unwrap() - rescale(down, 20).unwrap();
            proptest::prop_assert!(gap == 0 || gap == rescale(inc, 20).unwrap());
        }
    }
}
