//! Risk policy: the limits an alert must respect to become an order.
//!
//! [`Policy::check`] is a pure function of the alert's fields, the caller's
//! mark price and the clock. It runs these checks, in this order, and stops at
//! the first failure:
//!
//! 1. confidence ≥ `min_confidence` (absent confidence fails only with
//!    `require_confidence`) → `below_confidence`
//! 2. quantity ≤ `max_quantity` → `quantity_too_large`
//! 3. symbol in `symbols` (canonical `BASE/QUOTE`; empty list allows all) →
//!    `symbol_not_allowed`
//! 4. price × quantity ≤ `max_order_value`, at the highest price the order
//!    can execute at as far as the gate can tell (see
//!    [`Policy::valuation_price`]) → `order_value_too_large`; no such price
//!    → `unpriced_order`
//! 5. bracket sanity: for a buy `stop_loss < reference < take_profit`, for a
//!    sell `take_profit < reference < stop_loss` → `inverted_bracket`
//! 6. alert age ≤ `max_age_ms` → `stale`; not more than
//!    `max_future_skew_ms` ahead → `from_future`
//!
//! A cancel alert (see [`crate::alert::Action`]) meets only 3 and 6: it
//! places nothing, so the confidence, quantity, value and bracket limits
//! have nothing to hold back (its quantity is 0, it has no bracket).

use crate::alert::{Fields, OrderType, Side};
use crate::decimal::Decimal;
use crate::error::{snippet, Rejection};
use crate::symbol::DEFAULT_QUOTES;

/// Risk limits. Every field has a default (see [`Policy::default`]).
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// Lowest accepted `confidence`, inclusive. Default `0.6`.
    pub min_confidence: Decimal,
    /// Reject alerts without a `confidence` field. Default `false`: alerts
    /// that carry no confidence skip the confidence check.
    pub require_confidence: bool,
    /// Largest accepted quantity (base units), inclusive. Default: no limit.
    pub max_quantity: Option<Decimal>,
    /// Allowed symbols in canonical `BASE/QUOTE` form. Default empty: any
    /// symbol.
    pub symbols: &'a [&'a str],
    /// Quote currencies used to split unseparated symbols like `BTCUSDT`,
    /// longest match first. Default [`DEFAULT_QUOTES`].
    pub quotes: &'a [&'a str],
    /// Largest accepted order value (price × quantity, quote units),
    /// inclusive, at the price of [`Policy::valuation_price`]. Default: no
    /// limit.
    pub max_order_value: Option<Decimal>,
    /// Value an order at the alert's own `price` / `stop_price` when the
    /// caller knows no mark price. Default `false`: an alert's price is
    /// whatever its sender wrote, so without a mark only a buy limit (which
    /// never executes above its limit) can be valued, and any other order
    /// is `unpriced_order`. Turn it on only where whoever can send an alert
    /// may also decide its size.
    pub trust_alert_prices: bool,
    /// Oldest accepted alert, in ms before the gate's clock. Default
    /// 300 000 (5 minutes).
    pub max_age_ms: i64,
    /// Furthest accepted alert time ahead of the gate's clock, in ms.
    /// Default 60 000 (1 minute).
    pub max_future_skew_ms: i64,
    /// Reject alerts that carry no timestamp (in the body or, for
    /// timestamped signature schemes, in the signature). Default `true`;
    /// with `false` such alerts are stamped with the gate's clock.
    pub require_timestamp: bool,
}

impl Default for Policy<'_> {
    fn default() -> Self {
        Policy {
            // 0.6 exactly: mantissa 6, one decimal place.
            min_confidence: match Decimal::new(6, 1) {
                Some(d) => d,
                None => Decimal::ZERO,
            },
            require_confidence: false,
            max_quantity: None,
            symbols: &[],
            quotes: DEFAULT_QUOTES,
            max_order_value: None,
            trust_alert_prices: false,
            max_age_ms: 300_000,
            max_future_skew_ms: 60_000,
            require_timestamp: true,
        }
    }
}

impl Policy<'_> {
    /// The price a bracket is checked against (the expected entry): the
    /// alert's `price`, else its `stop_price`, else the caller's mark price.
    pub fn reference_price(fields: &Fields, mark_price: Option<Decimal>) -> Option<Decimal> {
        fields.price.or(fields.stop_price).or(mark_price)
    }

    /// The price `max_order_value` values an order at: the highest price it
    /// can execute at, as far as the gate can tell.
    ///
    /// - A buy limit never executes above its `price`: that price.
    /// - Any other order executes at the market (a market order at once, a
    ///   sell limit below the market and a buy stop above it at once too,
    ///   a triggered stop or take-profit at the market of that moment): the
    ///   largest of the mark price and the alert's own `price` and
    ///   `stop_price`.
    /// - Without a mark, such an order has no price to value it at (`None`,
    ///   `unpriced_order`), unless [`Policy::trust_alert_prices`]: then the
    ///   larger of the alert's own prices.
    ///
    /// ```
    /// use alertgate_validator::{alert::parse, Decimal, Policy};
    /// let d = |s| Decimal::parse(s).unwrap();
    /// let market = parse(br#"{"symbol":"BTCUSDT","side":"buy","quantity":5,"price":"0.01"}"#).unwrap();
    /// let policy = Policy::default();
    /// // The alert's price of a market order does not lower its value...
    /// assert_eq!(policy.valuation_price(&market, Some(d("67000"))), Some(d("67000")));
    /// // ...and without a mark it has no value the gate can trust.
    /// assert_eq!(policy.valuation_price(&market, None), None);
    /// let limit = parse(br#"{"symbol":"BTCUSDT","side":"buy","quantity":5,"order_type":"limit","price":"60000"}"#).unwrap();
    /// assert_eq!(policy.valuation_price(&limit, None), Some(d("60000")));
    /// ```
    pub fn valuation_price(&self, fields: &Fields, mark_price: Option<Decimal>) -> Option<Decimal> {
        valuation_price(fields, mark_price.as_ref(), self.trust_alert_prices).copied()
    }

    /// Runs the policy checks (see the module doc for the order).
    ///
    /// `timestamp_ms` is the alert's time as the gate settled it (body, else
    /// signature, else clock); `now_ms` the gate's clock.
    pub fn check(
        &self,
        fields: &Fields,
        mark_price: Option<Decimal>,
        timestamp_ms: i64,
        now_ms: i64,
    ) -> Result<(), Rejection> {
        // A cancel places nothing: of the limits, only the symbol
        // allowlist and the alert's age apply (cancelling only reduces
        // risk, and carries no quantity, price or bracket to check).
        let places = fields.action.is_place();
        // Decimals are compared by reference: each is 17 bytes, and a copy
        // is a `memcpy` call on an MCU.
        match &fields.confidence {
            _ if !places => {}
            Some(c) if *c < self.min_confidence => {
                return Err(Rejection::BelowConfidence {
                    confidence: Some(*c),
                    min: self.min_confidence,
                })
            }
            None if self.require_confidence => {
                return Err(Rejection::BelowConfidence {
                    confidence: None,
                    min: self.min_confidence,
                })
            }
            _ => {}
        }

        if let Some(max) = &self.max_quantity {
            if fields.quantity > *max {
                return Err(Rejection::QuantityTooLarge {
                    quantity: fields.quantity,
                    max: *max,
                });
            }
        }

        if !self.symbols.is_empty() && !self.symbols.contains(&fields.symbol.as_str()) {
            return Err(Rejection::SymbolNotAllowed {
                symbol: snippet(fields.symbol.as_str().as_bytes()),
            });
        }

        if let (true, Some(max)) = (places, &self.max_order_value) {
            let valuation = valuation_price(fields, mark_price.as_ref(), self.trust_alert_prices);
            let Some(price) = valuation else {
                return Err(Rejection::UnpricedOrder { max: *max });
            };
            match price.checked_mul(fields.quantity) {
                Some(value) if value <= *max => {}
                // Unrepresentable products are far beyond any configured limit.
                Some(value) => return Err(Rejection::OrderValueTooLarge { value, max: *max }),
                None => {
                    return Err(Rejection::OrderValueTooLarge {
                        value: *price,
                        max: *max,
                    })
                }
            }
        }

        let reference = fields
            .price
            .as_ref()
            .or(fields.stop_price.as_ref())
            .or(mark_price.as_ref());
        check_bracket(fields, reference)?;

        let age = now_ms.saturating_sub(timestamp_ms);
        if age > self.max_age_ms {
            return Err(Rejection::Stale {
                age_ms: age,
                max_age_ms: self.max_age_ms,
            });
        }
        let ahead = timestamp_ms.saturating_sub(now_ms);
        if ahead > self.max_future_skew_ms {
            return Err(Rejection::FromFuture {
                ahead_ms: ahead,
                max_skew_ms: self.max_future_skew_ms,
            });
        }
        Ok(())
    }
}

/// See [`Policy::valuation_price`]; by reference, as decimals are 17 bytes.
// Out of line on bare-metal targets: each inlined decimal comparison is
// long on a Cortex-M.
#[cfg_attr(target_os = "none", inline(never))]
fn valuation_price<'d>(
    fields: &'d Fields,
    mark: Option<&'d Decimal>,
    trust_alert_prices: bool,
) -> Option<&'d Decimal> {
    if let (Side::Buy, OrderType::Limit, Some(limit)) =
        (fields.side, fields.order_type, &fields.price)
    {
        return Some(limit);
    }
    if mark.is_none() && !trust_alert_prices {
        return None;
    }
    let mut highest = mark;
    for own in [&fields.price, &fields.stop_price].into_iter().flatten() {
        if highest.is_none_or(|h| own > h) {
            highest = Some(own);
        }
    }
    highest
}

/// Stop-loss and take-profit must sit on the losing and winning side of the
/// entry. Without a reference price only their relative order is checked.
fn check_bracket(fields: &Fields, reference: Option<&Decimal>) -> Result<(), Rejection> {
    let (sl, tp) = (fields.stop_loss.as_ref(), fields.take_profit.as_ref());
    if sl.is_none() && tp.is_none() {
        return Ok(());
    }
    // For a buy the ascending chain is sl < ref < tp; a sell mirrors it.
    let (low, high) = match fields.side {
        Side::Buy => (sl, tp),
        Side::Sell => (tp, sl),
    };
    let below = |a: Option<&Decimal>, b: Option<&Decimal>| match (a, b) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    let ok = below(low, reference) && below(reference, high) && below(low, high);
    if ok {
        Ok(())
    } else {
        Err(Rejection::InvertedBracket {
            side: fields.side.name(),
            stop_loss: fields.stop_loss,
            // Without a reference, report the other bound so the message
            // still shows the inverted pair.
            reference: reference.or(tp).or(sl).copied().unwrap_or(Decimal::ZERO),
            take_profit: fields.take_profit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::parse;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    const NOW: i64 = 1_700_000_000_000;

    fn fields(extra: &str) -> Fields {
        let mut body = heapless::String::<512>::new();
        body.push_str(r#"{"symbol":"BTCUSDT","side":"buy","quantity":"0.5""#)
            .unwrap();
        if !extra.is_empty() {
            body.push(',').unwrap();
            body.push_str(extra).unwrap();
        }
        body.push('}').unwrap();
        parse(body.as_bytes()).unwrap()
    }

    fn code(p: &Policy<'_>, extra: &str, mark: Option<Decimal>, ts: i64) -> &'static str {
        match p.check(&fields(extra), mark, ts, NOW) {
            Ok(()) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn confidence() {
        let p = Policy::default();
        assert_eq!(code(&p, r#""confidence":0.6"#, None, NOW), "ok");
        assert_eq!(
            code(&p, r#""confidence":0.59"#, None, NOW),
            "below_confidence"
        );
        assert_eq!(code(&p, "", None, NOW), "ok");
        let strict = Policy {
            require_confidence: true,
            ..Policy::default()
        };
        assert_eq!(code(&strict, "", None, NOW), "below_confidence");
    }

    #[test]
    fn quantity_symbol_and_value_limits() {
        let p = Policy {
            max_quantity: Some(d("0.5")),
            symbols: &["BTC/USDT", "ETH/USDT"],
            max_order_value: Some(d("10000")),
            ..Policy::default()
        };
        let limit = r#""order_type":"limit","price":20000"#;
        assert_eq!(code(&p, limit, None, NOW), "ok");
        assert_eq!(
            code(&p, r#""order_type":"limit","price":20000.01"#, None, NOW),
            "order_value_too_large"
        );
        assert_eq!(code(&p, "", Some(d("20000")), NOW), "ok");
        assert_eq!(code(&p, "", Some(d("20001")), NOW), "order_value_too_large");
        assert_eq!(code(&p, "", None, NOW), "unpriced_order");
        let tight = Policy {
            max_quantity: Some(d("0.49")),
            ..p
        };
        assert_eq!(code(&tight, "", None, NOW), "quantity_too_large");
        let other = Policy {
            symbols: &["ETH/USDT"],
            ..p
        };
        assert_eq!(
            code(&other, r#""price":1"#, None, NOW),
            "symbol_not_allowed"
        );
        // Unlimited value needs no price.
        assert_eq!(code(&Policy::default(), "", None, NOW), "ok");
    }

    /// The issue's reproduction: an alert's own price must not lower the
    /// value of an order that executes at the market.
    #[test]
    fn an_alert_price_does_not_lower_the_value_of_a_market_order() {
        let p = Policy {
            max_order_value: Some(d("1000")),
            max_quantity: Some(d("10")),
            ..Policy::default()
        };
        let mark = Some(d("67000"));
        let five = |extra: &str, side: Side, mark: Option<Decimal>| {
            let mut f = fields(extra);
            f.quantity = d("5");
            f.side = side;
            match p.check(&f, mark, NOW, NOW) {
                Ok(()) => "ok",
                Err(e) => e.code(),
            }
        };
        let too_large = "order_value_too_large";
        assert_eq!(five("", Side::Buy, mark), too_large);
        assert_eq!(five(r#""price":"0.01""#, Side::Buy, mark), too_large);
        assert_eq!(five(r#""stop_price":"0.01""#, Side::Buy, mark), too_large);
        assert_eq!(five(r#""price":"0.01""#, Side::Sell, mark), too_large);
        // A sell limit far below the market and a buy stop far below it
        // both execute at once, at the market.
        let sell_limit = r#""order_type":"limit","price":"0.01""#;
        assert_eq!(five(sell_limit, Side::Sell, mark), too_large);
        let buy_stop = r#""order_type":"stop_loss","stop_price":"0.01""#;
        assert_eq!(five(buy_stop, Side::Buy, mark), too_large);
        let buy_tp = r#""order_type":"take_profit","stop_price":"0.01""#;
        assert_eq!(five(buy_tp, Side::Buy, mark), too_large);
        // A buy limit never executes above its limit: 5 × 0.01.
        let buy_limit = r#""order_type":"limit","price":"0.01""#;
        assert_eq!(five(buy_limit, Side::Buy, mark), "ok");
        assert_eq!(five(buy_limit, Side::Buy, None), "ok");
        // Without a mark nothing else can be valued...
        for extra in [r#""price":"0.01""#, buy_stop, buy_tp] {
            assert_eq!(five(extra, Side::Buy, None), "unpriced_order", "{extra}");
            assert_eq!(five(extra, Side::Sell, None), "unpriced_order", "{extra}");
        }
        assert_eq!(five(sell_limit, Side::Sell, None), "unpriced_order");
        // ...unless the configuration trusts alert prices.
        let trusting = Policy {
            trust_alert_prices: true,
            ..p
        };
        let f = fields(r#""price":"100","stop_price":"300""#);
        assert_eq!(trusting.check(&f, None, NOW, NOW), Ok(()));
        let f = fields(r#""price":"100","stop_price":"3000""#);
        assert_eq!(
            trusting.check(&f, None, NOW, NOW).unwrap_err().code(),
            too_large
        );
        // A mark above the alert's prices still wins when trusted.
        let f = fields(r#""price":"100""#);
        assert_eq!(
            trusting.check(&f, mark, NOW, NOW).unwrap_err().code(),
            too_large
        );
    }

    #[test]
    fn brackets() {
        let p = Policy::default();
        assert_eq!(
            code(
                &p,
                r#""price":100,"stop_loss":90,"take_profit":110"#,
                None,
                NOW
            ),
            "ok"
        );
        assert_eq!(
            code(
                &p,
                r#""price":100,"stop_loss":110,"take_profit":90"#,
                None,
                NOW
            ),
            "inverted_bracket"
        );
        assert_eq!(
            code(&p, r#""price":100,"stop_loss":100"#, None, NOW),
            "inverted_bracket"
        );
        assert_eq!(code(&p, r#""stop_loss":90"#, Some(d("100")), NOW), "ok");
        assert_eq!(
            code(&p, r#""take_profit":90"#, Some(d("100")), NOW),
            "inverted_bracket"
        );
        // No reference: only the pair is compared.
        assert_eq!(
            code(&p, r#""stop_loss":90,"take_profit":110"#, None, NOW),
            "ok"
        );
        assert_eq!(
            code(&p, r#""stop_loss":110,"take_profit":90"#, None, NOW),
            "inverted_bracket"
        );
        let sell = |extra: &str| {
            let mut f = fields(extra);
            f.side = Side::Sell;
            match p.check(&f, None, NOW, NOW) {
                Ok(()) => "ok",
                Err(e) => e.code(),
            }
        };
        assert_eq!(
            sell(r#""price":100,"stop_loss":110,"take_profit":90"#),
            "ok"
        );
        assert_eq!(
            sell(r#""price":100,"stop_loss":90,"take_profit":110"#),
            "inverted_bracket"
        );
    }

    proptest::proptest! {
        /// Whatever prices an alert writes, an order that may execute at
        /// the market is never valued below the mark: adding them never
        /// turns a refusal into an acceptance. A buy limit is valued at its
        /// limit, which bounds what it can cost.
        #[test]
        fn alert_prices_never_lower_the_value_below_the_mark(
            qty in 1i64..10_000,
            mark in 1i64..1_000_000,
            price in proptest::option::of(1i64..1_000_000),
            stop in proptest::option::of(1i64..1_000_000),
            sell in proptest::bool::ANY,
            order_type in 0usize..4,
            max in 1i64..1_000_000_000,
            trust in proptest::bool::ANY,
        ) {
            let dec = |v: i64| Decimal::new(v.into(), 2).unwrap();
            let p = Policy {
                max_order_value: Some(dec(max)),
                trust_alert_prices: trust,
                ..Policy::default()
            };
            let mut f = fields("");
            f.quantity = dec(qty);
            f.side = if sell { Side::Sell } else { Side::Buy };
            f.order_type = [OrderType::Market, OrderType::Limit, OrderType::StopLoss, OrderType::TakeProfit][order_type];
            f.price = price.map(dec);
            f.stop_price = stop.map(dec);
            let value = p.valuation_price(&f, Some(dec(mark)));
            if f.side == Side::Buy && f.order_type == OrderType::Limit && f.price.is_some() {
                proptest::prop_assert_eq!(value, f.price);
            } else {
                proptest::prop_assert!(value.unwrap() >= dec(mark));
                let mut bare = f.clone();
                bare.order_type = OrderType::Market;
                bare.price = None;
                bare.stop_price = None;
                if p.check(&f, Some(dec(mark)), NOW, NOW).is_ok() {
                    proptest::prop_assert_eq!(p.check(&bare, Some(dec(mark)), NOW, NOW), Ok(()));
                }
                if !trust {
                    proptest::prop_assert_eq!(p.valuation_price(&f, None), None);
                }
            }
        }
    }

    #[test]
    fn freshness_bounds_are_inclusive() {
        let p = Policy::default();
        assert_eq!(code(&p, "", None, NOW - 300_000), "ok");
        assert_eq!(code(&p, "", None, NOW - 300_001), "stale");
        assert_eq!(code(&p, "", None, NOW + 60_000), "ok");
        assert_eq!(code(&p, "", None, NOW + 60_001), "from_future");
        assert_eq!(code(&p, "", None, i64::MIN), "stale");
        assert_eq!(code(&p, "", None, i64::MAX), "from_future");
    }
}
