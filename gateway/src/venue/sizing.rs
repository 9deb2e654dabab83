//! `[sizing]`: how an accepted alert becomes an order's side, quantity and
//! reduce-only flag, as pure functions of the alert, the configuration and
//! the account the venue reported.
//!
//! # Modes (`[sizing] mode =`)
//!
//! - `"alert"` (default): the alert's own quantity.
//! - `"fixed"`: `[sizing] quantity."BASE/QUOTE"`, per symbol; a symbol
//!   without one is refused per alert ([`SizingError::NoFixedQuantity`]).
//! - `"equity_pct"`: `[sizing] equity_pct` percent of the account's equity
//!   (futures) or of the free quote balance (a spot buy), valued at the
//!   mark price; a spot sell sells that percent of the free base balance.
//!   The percent is of the order's *notional*: leverage is not applied (5 %
//!   at 10× leverage is still an order worth 5 % of equity).
//! - `"target"`: the alert says where the strategy's position now is, and
//!   the order is the difference between that and the venue's actual
//!   position. A missed or refused alert heals on the next one; a repeated
//!   alert orders nothing ([`Sized::nothing_to_do`]).
//!
//! # The alert fields `target` reads
//!
//! The integrator builds a [`Target`] from the alert body:
//!
//! - `position_size`: a signed decimal (TradingView's
//!   `{{strategy.position_size}}`: positive long, negative short, `0`
//!   flat) → [`Target::from_position_size`]; or
//! - `market_position` = `long` | `short` | `flat` (TradingView's
//!   `{{strategy.market_position}}`) together with `position_size`
//!   unsigned → [`Target::from_market_position`].
//!
//! # Futures: one-way mode, reduce-only
//!
//! Positions are read in one-way mode (one signed position per symbol; two
//! entries for a symbol, as hedge mode reports, are refused). In every
//! mode, an order opposite to the position whose quantity is at most the
//! position's size is sent reduce-only, so that it can never open a
//! position the other way (a stale position read, a fill in between). An
//! order that crosses zero is not reduce-only (see [`size`]). Spot has no
//! reduce-only; a spot sell above the free base balance is refused, never
//! silently shrunk.
//!
//! Quantities are exact decimals, not rounded to the symbol's step here:
//! [`TradingRules::apply`](super::TradingRules::apply) rounds them down
//! afterwards.

use std::collections::BTreeMap;

use alertgate_simulator::config::ConfigFileError;
use alertgate_validator::{Decimal, Side};
use serde::Deserialize;

use super::Account;

/// Decimal places of a computed quantity (`equity_pct`): finer than any
/// venue's step, so the truncation here never decides the order; the
/// rules round down to the step afterwards.
pub const QUANTITY_SCALE: u8 = 18;

/// `[sizing] mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizingMode {
    /// `alert`: the alert's quantity (the default).
    #[default]
    Alert,
    /// `fixed`: a configured quantity per symbol.
    Fixed,
    /// `equity_pct`: a share of the equity or balance, at the mark price.
    EquityPct,
    /// `target`: the difference between the alert's target position and
    /// the venue's.
    Target,
}

impl SizingMode {
    /// The name used in the configuration.
    pub const fn name(self) -> &'static str {
        match self {
            SizingMode::Alert => "alert",
            SizingMode::Fixed => "fixed",
            SizingMode::EquityPct => "equity_pct",
            SizingMode::Target => "target",
        }
    }
}

/// `[sizing]`: how orders are sized. Checked at load with
/// [`SizingSection::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SizingSection {
    /// `alert` (default), `fixed`, `equity_pct` or `target`.
    pub mode: SizingMode,
    /// For `fixed`: the quantity per symbol, `"BASE/QUOTE" = "0.01"` (a
    /// decimal string above zero, base units). A symbol left out is refused
    /// per alert, not at load. Default none.
    pub quantity: BTreeMap<String, Decimal>,
    /// For `equity_pct`: the percent of equity (or balance) each order is
    /// worth, a decimal string above 0 and at most 100 (`"5"` = 5 %).
    /// Required with `mode = "equity_pct"`. Default none.
    pub equity_pct: Option<Decimal>,
}

/// The file's `[sizing]` and each `[strategies.NAME.sizing]` (a section
/// given replaces the top level's whole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sizings {
    /// `[sizing]`.
    pub default: SizingSection,
    /// Strategies with their own.
    pub strategies: BTreeMap<String, SizingSection>,
}

impl Sizings {
    /// The sizing sections of the configuration file `text` (from
    /// `origin`), each validated.
    pub fn from_toml(text: &str, origin: &str) -> Result<Sizings, ConfigFileError> {
        #[derive(Deserialize)]
        struct Strategy {
            sizing: Option<SizingSection>,
        }
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            strategies: BTreeMap<String, toml::Table>,
        }
        let parse = |e: toml::de::Error| ConfigFileError::parse(origin, text, &e);
        let default = SizingSection::from_toml(text, origin)?;
        let file: File = toml::from_str(text).map_err(parse)?;
        let mut strategies = BTreeMap::new();
        for (name, table) in file.strategies {
            let strategy: Strategy = toml::Value::Table(table).try_into().map_err(parse)?;
            if let Some(section) = strategy.sizing {
                section.validate()?;
                strategies.insert(name, section);
            }
        }
        Ok(Sizings {
            default,
            strategies,
        })
    }

    /// The sizing of `strategy` (`""`: the top level).
    pub fn of(&self, strategy: &str) -> &SizingSection {
        self.strategies.get(strategy).unwrap_or(&self.default)
    }
}

impl SizingSection {
    /// `[sizing]` of the configuration file `text` (from `origin`, named in
    /// errors), validated; the default when the file has none.
    pub fn from_toml(text: &str, origin: &str) -> Result<SizingSection, ConfigFileError> {
        /// The file, as far as sizing reads it.
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            sizing: SizingSection,
        }
        let file: File =
            toml::from_str(text).map_err(|e| ConfigFileError::parse(origin, text, &e))?;
        file.sizing.validate()?;
        Ok(file.sizing)
    }

    /// Refuses what can be known wrong at load: a symbol that is not
    /// `BASE/QUOTE`, a fixed quantity not above zero, an `equity_pct` out
    /// of (0, 100] or missing with `mode = "equity_pct"`.
    pub fn validate(&self) -> Result<(), ConfigFileError> {
        for (symbol, quantity) in &self.quantity {
            let setting = || format!("sizing.quantity.{symbol:?}");
            if split_symbol(symbol).is_none() {
                return Err(ConfigFileError::Invalid {
                    setting: setting(),
                    message: format!(
                        "{symbol:?} is not a symbol; expected BASE/QUOTE, e.g. \"BTC/USDT\""
                    ),
                });
            }
            if !quantity.is_positive() {
                return Err(ConfigFileError::Invalid {
                    setting: setting(),
                    message: format!(
                        "{quantity} is not allowed; expected a quantity above zero (base units)"
                    ),
                });
            }
        }
        self.validate_equity_pct()
    }

    /// `equity_pct` in (0, 100], and present with `mode = "equity_pct"`.
    fn validate_equity_pct(&self) -> Result<(), ConfigFileError> {
        let invalid = |message: String| ConfigFileError::Invalid {
            setting: "sizing.equity_pct".into(),
            message,
        };
        match self.equity_pct {
            None if self.mode == SizingMode::EquityPct => Err(invalid(
                "missing; mode = \"equity_pct\" needs a percent above 0 and at most 100, e.g. \"5\""
                    .into(),
            )),
            Some(p) if !p.is_positive() || p > HUNDRED => Err(invalid(format!(
                "{p} is out of range; expected a percent above 0 and at most 100, e.g. \"5\" for 5 %"
            ))),
            _ => Ok(()),
        }
    }
}

/// Where the alert says the strategy's position now is (`target` mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A signed size, base units: positive long, negative short, zero flat.
    Signed(Decimal),
    /// No position: closed with a reduce-only market order.
    Flat,
}

impl Target {
    /// The target as a signed size (`Flat` is zero).
    pub fn signed(self) -> Decimal {
        match self {
            Target::Signed(q) => q,
            Target::Flat => Decimal::ZERO,
        }
    }

    /// From the alert's `position_size` alone (signed).
    pub fn from_position_size(position_size: Decimal) -> Target {
        if position_size.mantissa() == 0 {
            Target::Flat
        } else {
            Target::Signed(position_size)
        }
    }

    /// From the alert's `market_position` (`long`, `short` or `flat`) and
    /// its unsigned `position_size`. A size that contradicts the direction
    /// (long or short with zero, flat with a size, a negative size) is
    /// refused: which of the two fields is wrong cannot be known.
    pub fn from_market_position(
        market_position: &str,
        size: Decimal,
    ) -> Result<Target, SizingError> {
        let bad = |reason: &str| SizingError::BadTarget {
            reason: format!(
                "market_position {market_position:?} with position_size {size}: {reason}"
            ),
        };
        if size.is_negative() {
            return Err(bad("expected an unsigned size with a market_position"));
        }
        match market_position {
            "flat" if size.mantissa() == 0 => Ok(Target::Flat),
            "flat" => Err(bad("flat has no size")),
            "long" | "short" if size.mantissa() == 0 => Err(bad("a position needs a size")),
            "long" => Ok(Target::Signed(size)),
            "short" => Ok(Target::Signed(neg(size).ok_or(bad("unrepresentable"))?)),
            _ => Err(bad("expected long, short or flat")),
        }
    }
}

/// What sizing needs to know of one accepted alert and of the venue.
#[derive(Debug, Clone, Copy)]
pub struct SizingRequest<'a> {
    /// The alert's side (ignored by `target`, which orders the difference
    /// whichever way it goes: after a missed alert it may be the other
    /// way).
    pub side: Side,
    /// The alert's quantity, base units (`alert` mode).
    pub quantity: Decimal,
    /// The alert's target position, if it gives one (`target` mode).
    pub target: Option<Target>,
    /// `BASE/QUOTE`.
    pub symbol: &'a str,
    /// The quote asset whose free balance a spot buy spends (`USDT`).
    pub quote: &'a str,
    /// Whether the venue trades positions (futures:
    /// [`VenueKind::has_positions`](super::VenueKind::has_positions)).
    pub has_positions: bool,
    /// The account as the venue last reported it.
    pub account: &'a Account,
    /// The symbol's mark price (last price on spot), if known; needed by
    /// `equity_pct` only.
    pub mark_price: Option<Decimal>,
}

/// A sized order (or nothing to do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sized {
    /// Buy or sell.
    pub side: Side,
    /// Base units, above zero (zero when `nothing_to_do`), not yet rounded
    /// to the step.
    pub quantity: Decimal,
    /// Send reduce-only (futures only: the order only reduces the
    /// position).
    pub reduce_only: bool,
    /// `target` mode with the venue already at the target: no order is
    /// sent (a repeated alert).
    pub nothing_to_do: bool,
    /// `target` mode going flat: the order closes the position and is sent
    /// at the market whatever the alert's order type (a resting limit
    /// would leave the position open).
    pub market_close: bool,
}

/// Why an alert could not be sized: nothing is sent. Each has a stable
/// code ([`SizingError::code`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizingError {
    /// `fixed` mode, and `[sizing] quantity` names no quantity for the
    /// symbol.
    #[error("no fixed quantity for {symbol}; expected [sizing] quantity.\"{symbol}\"")]
    NoFixedQuantity {
        /// `BASE/QUOTE`.
        symbol: String,
    },
    /// `equity_pct` mode without `[sizing] equity_pct` (a section built
    /// without [`SizingSection::validate`]).
    #[error("mode = \"equity_pct\" without [sizing] equity_pct")]
    NoEquityPct,
    /// No mark price, or one not above zero, to value the order with.
    #[error("no usable mark price for {symbol} (none, or not above zero)")]
    NoMarkPrice {
        /// `BASE/QUOTE`.
        symbol: String,
    },
    /// A futures account reported without equity.
    #[error("the venue reported no account equity")]
    NoEquity,
    /// Equity at or below zero: nothing to size from.
    #[error("account equity {equity} is not above zero")]
    ZeroEquity {
        /// The reported equity.
        equity: Decimal,
    },
    /// A spot balance at zero: nothing to size from.
    #[error("no free {asset} balance to size from")]
    ZeroBalance {
        /// The asset.
        asset: String,
    },
    /// A spot sell above the free base balance.
    #[error("spot sell of {quantity} {asset} is above the free balance {free}")]
    SpotSellAboveBalance {
        /// The order's quantity.
        quantity: Decimal,
        /// The base asset.
        asset: String,
        /// Its free balance.
        free: Decimal,
    },
    /// A short target on spot, which holds no short positions.
    #[error("target position {target} is short; spot cannot hold a short position")]
    ShortOnSpot {
        /// The alert's target.
        target: Decimal,
    },
    /// `target` mode and the alert gives no target position.
    #[error(
        "mode = \"target\" needs the alert's position_size (or market_position and position_size)"
    )]
    NoTarget,
    /// The alert's target fields contradict each other.
    #[error("target position unreadable: {reason}")]
    BadTarget {
        /// What is wrong.
        reason: String,
    },
    /// More than one position for the symbol (hedge mode): which one the
    /// strategy means cannot be known.
    #[error("{count} positions for {symbol}; expected one-way mode (one position per symbol)")]
    AmbiguousPosition {
        /// `BASE/QUOTE`.
        symbol: String,
        /// How many.
        count: usize,
    },
    /// The quantity to send is not above zero (the alert's, or the
    /// computed one truncated to nothing).
    #[error("quantity {quantity} is not above zero")]
    QuantityNotPositive {
        /// The quantity.
        quantity: Decimal,
    },
    /// The symbol is not `BASE/QUOTE`.
    #[error("{symbol:?} is not a BASE/QUOTE symbol")]
    BadSymbol {
        /// The symbol.
        symbol: String,
    },
    /// What sizing computed is above `[policy] max_quantity`.
    #[error("{what} {quantity} of {symbol} is above [policy] max_quantity {max}")]
    AboveMaxQuantity {
        /// `BASE/QUOTE`.
        symbol: String,
        /// `sized quantity`, or `target position` (`target` mode).
        what: &'static str,
        /// The quantity, base units (a target's size, unsigned).
        quantity: Decimal,
        /// The limit.
        max: Decimal,
    },
    /// What sizing computed, valued at the mark price, is above
    /// `[policy] max_order_value`.
    #[error("{what} of {symbol} is worth {value} at the mark price {mark}, above [policy] max_order_value {max}")]
    AboveMaxOrderValue {
        /// `BASE/QUOTE`.
        symbol: String,
        /// `sized quantity`, or `target position` (`target` mode).
        what: &'static str,
        /// Its value, quote units.
        value: Decimal,
        /// The mark price it was valued at.
        mark: Decimal,
        /// The limit.
        max: Decimal,
    },
    /// A value beyond the decimals' range.
    #[error("{what} cannot be computed exactly (beyond the decimals' range)")]
    Overflow {
        /// Which value.
        what: &'static str,
    },
}

impl SizingError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            SizingError::NoFixedQuantity { .. } => "sizing_no_fixed_quantity",
            SizingError::NoEquityPct => "sizing_no_equity_pct",
            SizingError::NoMarkPrice { .. } => "sizing_no_mark_price",
            SizingError::NoEquity => "sizing_no_equity",
            SizingError::ZeroEquity { .. } => "sizing_zero_equity",
            SizingError::ZeroBalance { .. } => "sizing_zero_balance",
            SizingError::SpotSellAboveBalance { .. } => "sizing_spot_sell_above_balance",
            SizingError::ShortOnSpot { .. } => "sizing_short_on_spot",
            SizingError::NoTarget => "sizing_no_target",
            SizingError::BadTarget { .. } => "sizing_bad_target",
            SizingError::AmbiguousPosition { .. } => "sizing_ambiguous_position",
            SizingError::QuantityNotPositive { .. } => "sizing_quantity_not_positive",
            SizingError::BadSymbol { .. } => "sizing_bad_symbol",
            SizingError::AboveMaxQuantity { .. } => "sizing_quantity_too_large",
            SizingError::AboveMaxOrderValue { .. } => "sizing_order_value_too_large",
            SizingError::Overflow { .. } => "sizing_overflow",
        }
    }
}

/// Sizes one order.
///
/// On futures, in every mode, the order is reduce-only when it is opposite
/// to the position and at most its size. A reversal (long 1 → short 1) is
/// one order of the full difference (sell 2), not reduce-only, rather than
/// a close and an open: one order has one client id, so it is sent exactly
/// once and either happens or not; two orders could leave the position
/// closed but not reversed, with a second id to track and heal.
///
/// On spot the position in `target` mode is the base asset's total
/// balance (free and locked); a sell above the free balance is refused.
pub fn size(req: &SizingRequest<'_>, section: &SizingSection) -> Result<Sized, SizingError> {
    let (base, _) = split_symbol(req.symbol).ok_or_else(|| SizingError::BadSymbol {
        symbol: req.symbol.into(),
    })?;
    let position = position(req, base)?;
    let (side, quantity, market_close) = match section.mode {
        SizingMode::Alert => (req.side, req.quantity, false),
        SizingMode::Fixed => (req.side, fixed_quantity(req, section)?, false),
        SizingMode::EquityPct => (req.side, equity_quantity(req, section, base)?, false),
        SizingMode::Target => match difference(req, position)? {
            Some(order) => order,
            None => return Ok(nothing_to_do(req.side)),
        },
    };
    finish(req, base, position, side, quantity, market_close)
}

/// The gate's risk limits, `[policy] max_quantity` and `max_order_value`,
/// held against what sizing computes. The gate checks the alert's own
/// `quantity`, which `fixed`, `equity_pct` and `target` replace: without
/// this, an alert within the limits could order any size its sizing
/// computes (a `target` alert's `position_size` is not the gate's
/// `quantity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderLimits {
    /// `[policy] max_quantity`, base units. Default: none.
    pub max_quantity: Option<Decimal>,
    /// `[policy] max_order_value`, quote units. Default: none.
    pub max_order_value: Option<Decimal>,
}

impl OrderLimits {
    /// Holds `quantity` base units of `symbol` (`what` names it in the
    /// message) to the limits, valued at `mark` when one is given.
    pub fn check(
        &self,
        symbol: &str,
        what: &'static str,
        quantity: Decimal,
        mark: Option<Decimal>,
    ) -> Result<(), SizingError> {
        if let Some(max) = self.max_quantity.filter(|max| quantity > *max) {
            return Err(SizingError::AboveMaxQuantity {
                symbol: symbol.into(),
                what,
                quantity,
                max,
            });
        }
        let (Some(max), Some(mark)) = (self.max_order_value, mark) else {
            return Ok(());
        };
        let value = quantity.checked_mul(mark).ok_or(SizingError::Overflow {
            what: "order value",
        })?;
        if value > max {
            return Err(SizingError::AboveMaxOrderValue {
                symbol: symbol.into(),
                what,
                value,
                mark,
                max,
            });
        }
        Ok(())
    }

    /// What the limits bound in an order `section` sizes: in `target`
    /// mode the position the alert asks for (its size, unsigned), so a
    /// reversal may order up to twice it and an order that only reduces is
    /// never refused; in `fixed` and `equity_pct` the order's quantity;
    /// nothing in `alert` mode (the gate checked the alert's quantity).
    /// `None` when nothing is bounded.
    pub fn bounded(
        section: &SizingSection,
        target: Option<Target>,
        quantity: Decimal,
    ) -> Option<(&'static str, Decimal)> {
        match section.mode {
            SizingMode::Alert => None,
            SizingMode::Target => {
                let target = target?.signed();
                Some(("target position", abs(target).unwrap_or(target)))
            }
            SizingMode::Fixed | SizingMode::EquityPct => Some(("sized quantity", quantity)),
        }
    }

    /// [`OrderLimits::check`] of the order `sized` from `req` when it is
    /// sent: with a `max_order_value`, an order that cannot be valued (no
    /// mark price above zero) is refused (fail closed).
    pub fn check_sized(
        &self,
        req: &SizingRequest<'_>,
        section: &SizingSection,
        sized: &Sized,
    ) -> Result<(), SizingError> {
        let Some((what, quantity)) = Self::bounded(section, req.target, sized.quantity) else {
            return Ok(());
        };
        let mark = req.mark_price.filter(Decimal::is_positive);
        if self.max_order_value.is_some() && mark.is_none() {
            return Err(SizingError::NoMarkPrice {
                symbol: req.symbol.into(),
            });
        }
        self.check(req.symbol, what, quantity, mark)
    }
}

/// The position sizing starts from: futures, the symbol's signed position
/// (one-way mode); spot, the base asset's total balance.
fn position(req: &SizingRequest<'_>, base: &str) -> Result<Decimal, SizingError> {
    if !req.has_positions {
        let mut total = Decimal::ZERO;
        for b in req.account.balances.iter().filter(|b| b.asset == base) {
            total = add(total, b.free).ok_or(SizingError::Overflow { what: "balance" })?;
            total = add(total, b.locked).ok_or(SizingError::Overflow { what: "balance" })?;
        }
        return Ok(total);
    }
    let count = req
        .account
        .positions
        .iter()
        .filter(|p| p.symbol == req.symbol)
        .count();
    if count > 1 {
        return Err(SizingError::AmbiguousPosition {
            symbol: req.symbol.into(),
            count,
        });
    }
    Ok(req.account.position(req.symbol))
}

/// `fixed`: the configured quantity of the symbol.
fn fixed_quantity(
    req: &SizingRequest<'_>,
    section: &SizingSection,
) -> Result<Decimal, SizingError> {
    section
        .quantity
        .get(req.symbol)
        .copied()
        .ok_or_else(|| SizingError::NoFixedQuantity {
            symbol: req.symbol.into(),
        })
}

/// `equity_pct`: `funds × pct / 100 / mark`, truncated toward zero at
/// [`QUANTITY_SCALE`] places; a spot sell: `free base × pct / 100`.
fn equity_quantity(
    req: &SizingRequest<'_>,
    section: &SizingSection,
    base: &str,
) -> Result<Decimal, SizingError> {
    let pct = section.equity_pct.ok_or(SizingError::NoEquityPct)?;
    let overflow = SizingError::Overflow {
        what: "equity_pct quantity",
    };
    if !req.has_positions && req.side == Side::Sell {
        let free = positive_balance(req.account, base)?;
        let share = free.checked_mul(pct).ok_or(overflow.clone())?;
        return div_to_scale(share, HUNDRED, QUANTITY_SCALE).ok_or(overflow);
    }
    let mark =
        req.mark_price
            .filter(Decimal::is_positive)
            .ok_or_else(|| SizingError::NoMarkPrice {
                symbol: req.symbol.into(),
            })?;
    let funds = if req.has_positions {
        let equity = req.account.equity.ok_or(SizingError::NoEquity)?;
        if !equity.is_positive() {
            return Err(SizingError::ZeroEquity { equity });
        }
        equity
    } else {
        positive_balance(req.account, req.quote)?
    };
    // One division of exact products: a single truncation, at the end.
    let numerator = funds.checked_mul(pct).ok_or(overflow.clone())?;
    let denominator = mark.checked_mul(HUNDRED).ok_or(overflow.clone())?;
    div_to_scale(numerator, denominator, QUANTITY_SCALE).ok_or(overflow)
}

/// The free balance of `asset`, refused when not above zero.
fn positive_balance(account: &Account, asset: &str) -> Result<Decimal, SizingError> {
    let free = account.free(asset);
    if free.is_positive() {
        Ok(free)
    } else {
        Err(SizingError::ZeroBalance {
            asset: asset.into(),
        })
    }
}

/// `target`: the order from `position` to the alert's target (side,
/// quantity, going flat), or `None` when already there.
fn difference(
    req: &SizingRequest<'_>,
    position: Decimal,
) -> Result<Option<(Side, Decimal, bool)>, SizingError> {
    let target = req.target.ok_or(SizingError::NoTarget)?.signed();
    if !req.has_positions && target.is_negative() {
        return Err(SizingError::ShortOnSpot { target });
    }
    let overflow = SizingError::Overflow {
        what: "target difference",
    };
    let diff = sub(target, position).ok_or(overflow.clone())?;
    if diff.mantissa() == 0 {
        return Ok(None);
    }
    let side = if diff.is_positive() {
        Side::Buy
    } else {
        Side::Sell
    };
    let quantity = abs(diff).ok_or(overflow)?;
    Ok(Some((side, quantity, target.mantissa() == 0)))
}

/// The order sent nowhere: the venue is already at the target.
fn nothing_to_do(side: Side) -> Sized {
    Sized {
        side,
        quantity: Decimal::ZERO,
        reduce_only: false,
        nothing_to_do: true,
        market_close: false,
    }
}

/// Checks the quantity and the spot balance, and sets reduce-only.
fn finish(
    req: &SizingRequest<'_>,
    base: &str,
    position: Decimal,
    side: Side,
    quantity: Decimal,
    market_close: bool,
) -> Result<Sized, SizingError> {
    if !quantity.is_positive() {
        return Err(SizingError::QuantityNotPositive { quantity });
    }
    if !req.has_positions && side == Side::Sell {
        let free = req.account.free(base);
        if quantity > free {
            return Err(SizingError::SpotSellAboveBalance {
                quantity,
                asset: base.into(),
                free,
            });
        }
    }
    Ok(Sized {
        side,
        quantity,
        reduce_only: req.has_positions && only_reduces(position, side, quantity),
        nothing_to_do: false,
        market_close,
    })
}

/// Whether an order of `side` and `quantity` (above zero) only reduces
/// `position`: opposite to it, and no larger (a larger one reverses it).
pub fn only_reduces(position: Decimal, side: Side, quantity: Decimal) -> bool {
    let opposite = match side {
        Side::Buy => position.is_negative(),
        Side::Sell => position.is_positive(),
    };
    // |position| exists for every mantissa a Decimal holds.
    opposite && abs(position).is_some_and(|size| quantity <= size)
}

/// `BASE/QUOTE` split in two non-empty parts without spaces.
fn split_symbol(symbol: &str) -> Option<(&str, &str)> {
    let (base, quote) = symbol.split_once('/')?;
    let part_ok = |p: &str| !p.is_empty() && !p.contains(['/', ' ', '\t']);
    (part_ok(base) && part_ok(quote)).then_some((base, quote))
}

/// `a / b` truncated toward zero to `scale` decimal places, exactly:
/// integer long division on the `i128` mantissas, never floats. `None`
/// when `b` is zero, `scale` is above 36, or the quotient (or a step of
/// the division, for divisors of 38 digits) leaves the decimals' range.
pub fn div_to_scale(a: Decimal, b: Decimal, scale: u8) -> Option<Decimal> {
    let (ma, mb) = (a.mantissa(), b.mantissa());
    if mb == 0 {
        return None;
    }
    // a / b × 10^scale = ma / mb × 10^(scale + sb − sa).
    let exponent = i32::from(scale) + i32::from(b.scale()) - i32::from(a.scale());
    let (num, den) = (ma.unsigned_abs(), mb.unsigned_abs());
    let magnitude = if exponent >= 0 {
        long_division(num, den, exponent.unsigned_abs())?
    } else {
        // ⌊⌊n / d⌋ / 10^k⌋ = ⌊n / (d × 10^k)⌋ for non-negative integers,
        // and dividing step by step cannot overflow.
        (0..exponent.unsigned_abs()).fold(num / den, |q, _| q / 10)
    };
    let magnitude = i128::try_from(magnitude).ok()?;
    let signed = if (ma < 0) != (mb < 0) {
        -magnitude
    } else {
        magnitude
    };
    Decimal::new(signed, scale)
}

/// `⌊n × 10^digits / d⌋`, one decimal digit at a time so that no
/// intermediate is larger than `10 × d` or the quotient; `None` on
/// overflow.
fn long_division(n: u128, d: u128, digits: u32) -> Option<u128> {
    let (mut q, mut r) = (n / d, n % d);
    for _ in 0..digits {
        r = r.checked_mul(10)?;
        q = q.checked_mul(10)?.checked_add(r / d)?;
        r %= d;
    }
    Some(q)
}

/// One hundred (percent).
const HUNDRED: Decimal = match Decimal::new(100, 0) {
    Some(h) => h,
    None => Decimal::ZERO,
};

/// `a + b`, exactly; `None` beyond the decimals' range.
fn add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    let widen = |d: Decimal| {
        d.mantissa()
            .checked_mul(10i128.checked_pow(u32::from(scale - d.scale()))?)
    };
    Decimal::new(widen(a)?.checked_add(widen(b)?)?, scale)
}

/// `-a` (always representable; `Option` for the type's constructor).
fn neg(a: Decimal) -> Option<Decimal> {
    Decimal::new(-a.mantissa(), a.scale())
}

/// `a − b`, exactly.
fn sub(a: Decimal, b: Decimal) -> Option<Decimal> {
    add(a, neg(b)?)
}

/// `|a|`.
fn abs(a: Decimal) -> Option<Decimal> {
    if a.is_negative() {
        neg(a)
    } else {
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::{Balance, Position};

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn futures(equity: Option<&str>, position: &str) -> Account {
        let positions = if d(position).mantissa() == 0 {
            Vec::new()
        } else {
            vec![Position {
                symbol: "BTC/USDT".into(),
                quantity: d(position),
                mark_price: None,
            }]
        };
        Account {
            equity: equity.map(d),
            balances: Vec::new(),
            positions,
        }
    }

    fn spot(balances: &[(&str, &str, &str)]) -> Account {
        Account {
            equity: None,
            balances: balances
                .iter()
                .map(|(asset, free, locked)| Balance {
                    asset: (*asset).into(),
                    free: d(free),
                    locked: d(locked),
                })
                .collect(),
            positions: Vec::new(),
        }
    }

    fn request(account: &Account, has_positions: bool) -> SizingRequest<'_> {
        SizingRequest {
            side: Side::Buy,
            quantity: d("1"),
            target: None,
            symbol: "BTC/USDT",
            quote: "USDT",
            has_positions,
            account,
            mark_price: Some(d("67000.5")),
        }
    }

    fn section(mode: SizingMode) -> SizingSection {
        SizingSection {
            mode,
            quantity: [("BTC/USDT".to_string(), d("0.01"))].into_iter().collect(),
            equity_pct: Some(d("5")),
        }
    }

    fn order(side: Side, quantity: &str, reduce_only: bool, market_close: bool) -> Sized {
        Sized {
            side,
            quantity: d(quantity),
            reduce_only,
            nothing_to_do: false,
            market_close,
        }
    }

    #[test]
    fn target_on_futures_orders_the_difference_for_every_position_case() {
        use Side::{Buy, Sell};
        // (position, target, (side, quantity, reduce-only, market close));
        // `None`: nothing to do. A target of "flat" is `Target::Flat`.
        let cases = [
            // flat → long, long → longer: opening, not reduce-only.
            ("0", "1", Some((Buy, "1", false, false))),
            ("1", "2", Some((Buy, "1", false, false))),
            // long → smaller long: reduce-only.
            ("2", "0.5", Some((Sell, "1.5", true, false))),
            // long → short and back: one order of the full difference.
            ("1", "-1", Some((Sell, "2", false, false))),
            ("-1", "1", Some((Buy, "2", false, false))),
            ("0.003", "-0.0015", Some((Sell, "0.0045", false, false))),
            // short → flat, long → flat: reduce-only, at the market.
            ("-1", "flat", Some((Buy, "1", true, true))),
            ("1", "0", Some((Sell, "1", true, true))),
            // short → shorter.
            ("-2", "-3", Some((Sell, "1", false, false))),
            // Repeated alerts: nothing to do.
            ("0", "flat", None),
            ("1", "1", None),
            ("-0.5", "-0.50", None),
        ];
        for (position, target, want) in cases {
            let account = futures(Some("10000"), position);
            let target = match target {
                "flat" => Target::Flat,
                signed => Target::Signed(d(signed)),
            };
            // The alert's side is not what decides.
            let req = SizingRequest {
                target: Some(target),
                side: Side::Sell,
                ..request(&account, true)
            };
            let got = size(&req, &section(SizingMode::Target)).unwrap();
            let want = want.map_or(nothing_to_do(Side::Sell), |(side, q, ro, close)| {
                order(side, q, ro, close)
            });
            assert_eq!(got, want, "{position} → {target:?}");
        }
    }

    #[test]
    fn target_on_spot_starts_from_the_whole_base_balance() {
        let account = spot(&[("BTC", "0.5", "0.5"), ("USDT", "1000", "0")]);
        let at = |target: Target| {
            let req = SizingRequest {
                target: Some(target),
                ..request(&account, false)
            };
            size(&req, &section(SizingMode::Target))
        };
        assert!(at(Target::Signed(d("1"))).unwrap().nothing_to_do);
        assert_eq!(
            at(Target::Signed(d("1.25"))).unwrap(),
            order(Side::Buy, "0.25", false, false)
        );
        assert_eq!(
            at(Target::Signed(d("0.6"))).unwrap(),
            order(Side::Sell, "0.4", false, false)
        );
        // 0.8 to sell, 0.5 free: refused, not shrunk.
        let e = at(Target::Signed(d("0.2"))).unwrap_err();
        assert_eq!(e.code(), "sizing_spot_sell_above_balance");
        assert!(
            e.to_string().contains("0.8") && e.to_string().contains("0.5"),
            "{e}"
        );
        assert_eq!(
            at(Target::Signed(d("-1"))).unwrap_err().code(),
            "sizing_short_on_spot"
        );
        let free_only = spot(&[("BTC", "1", "0")]);
        let req = SizingRequest {
            target: Some(Target::Flat),
            ..request(&free_only, false)
        };
        let flat = size(&req, &section(SizingMode::Target)).unwrap();
        assert_eq!(flat, order(Side::Sell, "1", false, true));
    }

    #[test]
    fn target_mode_needs_a_target_and_one_way_positions() {
        let account = futures(Some("1"), "1");
        let e = size(&request(&account, true), &section(SizingMode::Target)).unwrap_err();
        assert_eq!(e.code(), "sizing_no_target");
        let mut hedged = futures(Some("1"), "1");
        hedged.positions.push(Position {
            symbol: "BTC/USDT".into(),
            quantity: d("-2"),
            mark_price: None,
        });
        let req = SizingRequest {
            target: Some(Target::Flat),
            ..request(&hedged, true)
        };
        let e = size(&req, &section(SizingMode::Target)).unwrap_err();
        assert_eq!(e.code(), "sizing_ambiguous_position");
    }

    #[test]
    fn alert_and_fixed_modes_are_reduce_only_exactly_when_they_only_reduce() {
        use Side::{Buy, Sell};
        // (mode, position, side, quantity, reduce-only)
        let cases = [
            (SizingMode::Alert, "1", Sell, "0.5", true),
            (SizingMode::Alert, "1", Sell, "1", true),
            (SizingMode::Alert, "1", Sell, "1.5", false),
            (SizingMode::Alert, "1", Buy, "0.5", false),
            (SizingMode::Alert, "-1", Buy, "1", true),
            (SizingMode::Alert, "-1", Sell, "1", false),
            (SizingMode::Alert, "0", Sell, "1", false),
            (SizingMode::Fixed, "0.02", Sell, "0.01", true),
            (SizingMode::Fixed, "0.005", Sell, "0.01", false),
            (SizingMode::Fixed, "-0.01", Buy, "0.01", true),
        ];
        for (mode, position, side, quantity, reduce_only) in cases {
            let account = futures(Some("1000"), position);
            let req = SizingRequest {
                side,
                // Fixed mode ignores the alert's quantity.
                quantity: if mode == SizingMode::Fixed {
                    d("7")
                } else {
                    d(quantity)
                },
                ..request(&account, true)
            };
            let got = size(&req, &section(mode)).unwrap();
            assert_eq!(
                got,
                order(side, quantity, reduce_only, false),
                "{mode:?} position {position} {side:?} {quantity}"
            );
        }
    }

    #[test]
    fn spot_orders_are_never_reduce_only_and_never_sell_more_than_is_free() {
        let account = spot(&[("BTC", "1", "2"), ("USDT", "5", "0")]);
        let with = |side, quantity: &str| SizingRequest {
            side,
            quantity: d(quantity),
            ..request(&account, false)
        };
        let alert = section(SizingMode::Alert);
        assert_eq!(
            size(&with(Side::Sell, "1"), &alert).unwrap(),
            order(Side::Sell, "1", false, false)
        );
        assert_eq!(
            size(&with(Side::Buy, "3"), &alert).unwrap(),
            order(Side::Buy, "3", false, false)
        );
        let e = size(&with(Side::Sell, "1.0001"), &alert).unwrap_err();
        assert_eq!(e.code(), "sizing_spot_sell_above_balance");
        let e = size(&with(Side::Buy, "0"), &alert).unwrap_err();
        assert_eq!(e.code(), "sizing_quantity_not_positive");
    }

    #[test]
    fn fixed_mode_refuses_a_symbol_without_a_quantity() {
        let account = futures(Some("1"), "0");
        let req = SizingRequest {
            symbol: "ETH/USDT",
            ..request(&account, true)
        };
        let e = size(&req, &section(SizingMode::Fixed)).unwrap_err();
        assert_eq!(e.code(), "sizing_no_fixed_quantity");
        assert!(e.to_string().contains("quantity.\"ETH/USDT\""), "{e}");
        let req = SizingRequest {
            symbol: "BTCUSDT",
            ..request(&account, true)
        };
        assert_eq!(
            size(&req, &section(SizingMode::Alert)).unwrap_err().code(),
            "sizing_bad_symbol"
        );
    }

    #[test]
    fn equity_pct_is_exact_to_the_last_digit() {
        let pct = |p: &str| SizingSection {
            equity_pct: Some(d(p)),
            ..section(SizingMode::EquityPct)
        };
        // Futures: 10000 × 5 % / 67000.5, truncated at 18 places.
        let account = futures(Some("10000"), "0");
        let got = size(&request(&account, true), &pct("5")).unwrap();
        assert_eq!(got, order(Side::Buy, "0.007462630875888985", false, false));
        let account = futures(Some("12345.6789"), "0.5");
        let req = SizingRequest {
            side: Side::Sell,
            ..request(&account, true)
        };
        let got = size(&req, &pct("7.5")).unwrap();
        assert_eq!(got, order(Side::Sell, "0.013819686681442675", true, false));
        // Spot buy: the free quote balance, exact when it divides.
        let account = spot(&[("USDT", "1234.56", "100")]);
        let req = SizingRequest {
            mark_price: Some(d("3000")),
            ..request(&account, false)
        };
        assert_eq!(size(&req, &pct("2.5")).unwrap().quantity, d("0.010288"));
        // Spot sell: a share of the free base balance.
        let account = spot(&[("BTC", "0.123", "9")]);
        let req = SizingRequest {
            side: Side::Sell,
            mark_price: None,
            ..request(&account, false)
        };
        assert_eq!(
            size(&req, &pct("50")).unwrap(),
            order(Side::Sell, "0.0615", false, false)
        );
        assert_eq!(size(&req, &pct("100")).unwrap().quantity, d("0.123"));
    }

    #[test]
    fn equity_pct_refuses_what_it_cannot_value() {
        let s = section(SizingMode::EquityPct);
        let code = |account: &Account, has_positions: bool, mark: Option<&str>| {
            let req = SizingRequest {
                mark_price: mark.map(d),
                ..request(account, has_positions)
            };
            size(&req, &s).unwrap_err().code()
        };
        let fut = futures(Some("1000"), "0");
        assert_eq!(code(&fut, true, None), "sizing_no_mark_price");
        assert_eq!(code(&fut, true, Some("0")), "sizing_no_mark_price");
        assert_eq!(code(&fut, true, Some("-1")), "sizing_no_mark_price");
        assert_eq!(
            code(&futures(None, "0"), true, Some("1")),
            "sizing_no_equity"
        );
        assert_eq!(
            code(&futures(Some("0"), "0"), true, Some("1")),
            "sizing_zero_equity"
        );
        assert_eq!(
            code(&futures(Some("-5"), "0"), true, Some("1")),
            "sizing_zero_equity"
        );
        assert_eq!(
            code(&spot(&[("USDT", "0", "5")]), false, Some("1")),
            "sizing_zero_balance"
        );
        // So small a share that nothing is left at 18 places.
        assert_eq!(
            code(
                &futures(Some("0.000000000000000001"), "0"),
                true,
                Some("67000")
            ),
            "sizing_quantity_not_positive"
        );
        let unchecked = SizingSection {
            equity_pct: None,
            ..s.clone()
        };
        let req = request(&fut, true);
        assert_eq!(
            size(&req, &unchecked).unwrap_err().code(),
            "sizing_no_equity_pct"
        );
    }

    #[test]
    fn division_truncates_toward_zero_exactly() {
        let cases = [
            ("1", "3", 18, Some("0.333333333333333333")),
            ("2", "3", 18, Some("0.666666666666666666")),
            ("-2", "3", 4, Some("-0.6666")),
            ("2", "-3", 4, Some("-0.6666")),
            ("-2", "-3", 0, Some("0")),
            ("123.456", "1", 1, Some("123.4")),
            ("500", "67000.5", 18, Some("0.007462630875888985")),
            ("1", "0.000000000000000003", 0, Some("333333333333333333")),
            ("0", "7", 18, Some("0")),
            ("1", "0", 18, None),
            ("1", "1", 37, None),
            // 10^17 / 10^-18 = 10^35, at 18 places: 53 digits.
            ("100000000000000000", "0.000000000000000001", 18, None),
        ];
        for (a, b, scale, want) in cases {
            assert_eq!(
                div_to_scale(d(a), d(b), scale),
                want.map(d),
                "{a} / {b} at {scale}"
            );
        }
        // Quotients beyond a parsed value's 18 digits are exact too.
        assert_eq!(
            div_to_scale(d("1"), d("0.000000000000000003"), 2),
            Decimal::new(33_333_333_333_333_333_333, 2)
        );
        assert_eq!(div_to_scale(d("-1"), d("0.000000000000000003"), 36), None);
    }

    #[test]
    fn market_position_fields_make_a_target_or_a_precise_refusal() {
        assert_eq!(
            Target::from_market_position("long", d("2")),
            Ok(Target::Signed(d("2")))
        );
        assert_eq!(
            Target::from_market_position("short", d("2")),
            Ok(Target::Signed(d("-2")))
        );
        assert_eq!(
            Target::from_market_position("flat", d("0")),
            Ok(Target::Flat)
        );
        for (kind, size) in [
            ("flat", "1"),
            ("long", "0"),
            ("short", "-1"),
            ("Long", "1"),
            ("", "1"),
        ] {
            let e = Target::from_market_position(kind, d(size)).unwrap_err();
            assert_eq!(e.code(), "sizing_bad_target", "{kind} {size}");
        }
        assert_eq!(
            Target::from_position_size(d("-0.5")),
            Target::Signed(d("-0.5"))
        );
        assert_eq!(Target::from_position_size(d("0.000")), Target::Flat);
    }

    #[test]
    fn the_section_reads_with_defaults() {
        let s = SizingSection::from_toml(
            "[sizing]\nmode = \"fixed\"\nquantity = { \"BTC/USDT\" = \"0.01\" }\n",
            "test.toml",
        )
        .unwrap();
        assert_eq!(s.mode, SizingMode::Fixed);
        assert_eq!(s.quantity.get("BTC/USDT"), Some(&d("0.01")));
        assert_eq!(
            SizingSection::from_toml("", "t").unwrap(),
            SizingSection::default()
        );
        // Fixed without any quantity loads (refused per alert).
        assert!(SizingSection::from_toml("[sizing]\nmode = \"fixed\"\n", "t").is_ok());
        assert!(SizingSection::from_toml("[sizing]\nequity_pct = \"100\"\n", "t").is_ok());
        for bad in ["mode = \"percent\"", "size = 1", "equity_pct = 5"] {
            let e = SizingSection::from_toml(&format!("[sizing]\n{bad}\n"), "t").unwrap_err();
            assert_eq!(e.code(), "config_parse", "{bad}");
        }
    }

    #[test]
    fn the_section_refuses_at_load_with_the_setting_named() {
        let refused = [
            ("mode = \"equity_pct\"", "sizing.equity_pct", "missing"),
            (
                "equity_pct = \"0\"",
                "sizing.equity_pct",
                "above 0 and at most 100",
            ),
            (
                "equity_pct = \"100.01\"",
                "sizing.equity_pct",
                "100.01 is out of range",
            ),
            ("equity_pct = \"-5\"", "sizing.equity_pct", "out of range"),
            (
                "quantity = { \"BTCUSDT\" = \"1\" }",
                "sizing.quantity.\"BTCUSDT\"",
                "BASE/QUOTE",
            ),
            (
                "quantity = { \"BTC/USDT\" = \"0\" }",
                "sizing.quantity.\"BTC/USDT\"",
                "above zero",
            ),
        ];
        for (body, setting, message) in refused {
            let e = SizingSection::from_toml(&format!("[sizing]\n{body}\n"), "t").unwrap_err();
            match &e {
                ConfigFileError::Invalid {
                    setting: s,
                    message: m,
                } => {
                    assert_eq!(s, setting, "{body}");
                    assert!(m.contains(message), "{body}: {m}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    /// A decimal with up to 12 digits and 0 to 8 places, either sign.
    fn any_quantity() -> impl proptest::strategy::Strategy<Value = Decimal> {
        use proptest::strategy::Strategy;
        (-999_999_999_999i64..=999_999_999_999, 0u8..=8)
            .prop_map(|(m, s)| Decimal::new(i128::from(m), s).unwrap())
    }

    proptest::proptest! {
        /// On futures, the sized order always lands exactly on the target,
        /// and a reduce-only order never crosses zero nor grows the
        /// position.
        #[test]
        fn target_lands_on_the_target(position in any_quantity(), target in any_quantity()) {
            let account = Account {
                equity: Some(d("1")),
                balances: Vec::new(),
                positions: vec![Position { symbol: "BTC/USDT".into(), quantity: position, mark_price: None }],
            };
            let req = SizingRequest { target: Some(Target::Signed(target)), ..request(&account, true) };
            let got = size(&req, &section(SizingMode::Target)).unwrap();
            let after = apply(position, &got);
            proptest::prop_assert_eq!(after, target);
            if got.reduce_only {
                proptest::prop_assert!(abs(after).unwrap() < abs(position).unwrap());
                proptest::prop_assert!(!after.is_negative() || position.is_negative());
                proptest::prop_assert!(!after.is_positive() || position.is_positive());
            } else if !got.nothing_to_do {
                // Not reduce-only: it opens, grows or reverses.
                proptest::prop_assert!(abs(after).unwrap() > abs(position).unwrap()
                    || after.is_negative() != position.is_negative() && after.mantissa() != 0);
            }
        }

        /// On spot, the order lands on the target unless it would sell more
        /// than is free (refused, never shrunk).
        #[test]
        fn spot_target_lands_or_is_refused(free in any_quantity(), locked in any_quantity(), target in any_quantity()) {
            let (free, locked, target) = (abs(free).unwrap(), abs(locked).unwrap(), abs(target).unwrap());
            let account = Account {
                equity: None,
                balances: vec![Balance { asset: "BTC".into(), free, locked }],
                positions: Vec::new(),
            };
            let req = SizingRequest { target: Some(Target::Signed(target)), ..request(&account, false) };
            let held = add(free, locked).unwrap();
            match size(&req, &section(SizingMode::Target)) {
                Ok(got) => {
                    proptest::prop_assert!(!got.reduce_only);
                    proptest::prop_assert_eq!(apply(held, &got), target);
                    proptest::prop_assert!(got.side == Side::Buy || got.quantity <= free);
                }
                Err(e) => {
                    proptest::prop_assert_eq!(e.code(), "sizing_spot_sell_above_balance");
                    proptest::prop_assert!(sub(held, target).unwrap() > free);
                }
            }
        }

        /// `q = a / b` truncated at `s` places: `q × b ≤ a < (q + 10^-s) × b`
        /// for positive operands, checked with exact products.
        #[test]
        fn division_brackets_the_quotient(a in any_quantity(), b in any_quantity(), s in 0u8..=16) {
            let (a, b) = (abs(a).unwrap(), abs(b).unwrap());
            proptest::prop_assume!(b.is_positive());
            let q = div_to_scale(a, b, s).unwrap();
            let ulp = Decimal::new(1, s).unwrap();
            proptest::prop_assert!(q.checked_mul(b).unwrap() <= a);
            proptest::prop_assert!(add(q, ulp).unwrap().checked_mul(b).unwrap() > a);
        }
    }

    /// The position after `order` fills in full.
    fn apply(position: Decimal, order: &Sized) -> Decimal {
        if order.nothing_to_do {
            return position;
        }
        match order.side {
            Side::Buy => add(position, order.quantity).unwrap(),
            Side::Sell => sub(position, order.quantity).unwrap(),
        }
    }

    #[test]
    fn limits_bound_what_each_mode_orders_inclusively() {
        let section = |mode| SizingSection {
            mode,
            ..SizingSection::default()
        };
        let long = Some(Target::Signed(d("3")));
        let short = Some(Target::Signed(d("-3")));
        // (mode, target, order quantity) → what is bounded.
        let table = [
            (SizingMode::Alert, None, "9", None),
            (SizingMode::Fixed, None, "9", Some(("sized quantity", "9"))),
            (
                SizingMode::EquityPct,
                None,
                "9",
                Some(("sized quantity", "9")),
            ),
            (
                SizingMode::Target,
                long,
                "6",
                Some(("target position", "3")),
            ),
            (
                SizingMode::Target,
                short,
                "6",
                Some(("target position", "3")),
            ),
            (
                SizingMode::Target,
                Some(Target::Flat),
                "6",
                Some(("target position", "0")),
            ),
            (SizingMode::Target, None, "6", None),
        ];
        for (mode, target, quantity, want) in table {
            let got = OrderLimits::bounded(&section(mode), target, d(quantity));
            assert_eq!(got, want.map(|(w, q)| (w, d(q))), "{mode:?} {target:?}");
        }
        let limits = OrderLimits {
            max_quantity: Some(d("3")),
            max_order_value: Some(d("300")),
        };
        let check = |q: &str, mark: Option<&str>| {
            limits
                .check("BTC/USDT", "sized quantity", d(q), mark.map(d))
                .map_err(|e| e.code())
        };
        assert_eq!(check("3", Some("100")), Ok(()), "at the limits: within");
        assert_eq!(check("3.0001", None), Err("sizing_quantity_too_large"));
        assert_eq!(
            check("3", Some("100.01")),
            Err("sizing_order_value_too_large")
        );
        assert_eq!(check("3", None), Ok(()), "no mark: the quantity alone");
        let e = limits
            .check("BTC/USDT", "target position", d("1000"), None)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "target position 1000 of BTC/USDT is above [policy] max_quantity 3"
        );
    }
}
