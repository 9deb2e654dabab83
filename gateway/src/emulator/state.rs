//! The emulated account: orders, fills, spot balances, futures positions,
//! scripted prices, and the bookkeeping of requests and faults. Everything
//! here runs under the emulator's one mutex.

use std::collections::BTreeMap;

use alertgate_validator::Decimal;
use serde::Serialize;

use super::faults::Faults;
use super::num::{abs, add, div, is_multiple, mul, neg, sub};
use super::{ApiError, EmulatorConfig, SymbolSpec};
use crate::venue::binance::Market;
use crate::venue::rules::{round_to, Rounding};

/// Buy or sell, as Binance spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderSide {
    /// `BUY`.
    Buy,
    /// `SELL`.
    Sell,
}

impl OrderSide {
    /// `BUY` / `SELL`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderSide::Buy => "BUY",
            OrderSide::Sell => "SELL",
        }
    }

    /// `BUY` / `SELL` (-1117 otherwise).
    pub fn parse(text: &str) -> Result<OrderSide, ApiError> {
        match text {
            "BUY" => Ok(OrderSide::Buy),
            "SELL" => Ok(OrderSide::Sell),
            _ => Err(ApiError::bad(-1117, "Invalid side.")),
        }
    }
}

/// Where an order stands, as Binance spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmuStatus {
    /// Working.
    New,
    /// Executed in full.
    Filled,
    /// Cancelled.
    Canceled,
    /// Ended unfilled or partly filled (no price to fill a market order
    /// at; the rest of a reduce-only order larger than its position).
    Expired,
}

impl EmuStatus {
    /// `NEW`, `FILLED`, `CANCELED`, `EXPIRED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EmuStatus::New => "NEW",
            EmuStatus::Filled => "FILLED",
            EmuStatus::Canceled => "CANCELED",
            EmuStatus::Expired => "EXPIRED",
        }
    }
}

/// One order the emulator took (what `GET /emulator/orders` lists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmuOrder {
    /// `newClientOrderId` (or the one generated).
    pub client_order_id: String,
    /// `orderId`.
    pub order_id: u64,
    /// `BTCUSDT`.
    pub symbol: String,
    /// Buy or sell.
    pub side: OrderSide,
    /// `MARKET` or `LIMIT`.
    #[serde(rename = "type")]
    pub order_type: &'static str,
    /// `origQty`.
    pub quantity: Decimal,
    /// The limit price (none for market orders).
    pub price: Option<Decimal>,
    /// Its state.
    pub status: EmuStatus,
    /// `executedQty`.
    pub executed_qty: Decimal,
    /// `cummulativeQuoteQty` / `cumQuote`.
    pub cum_quote: Decimal,
    /// Spot: the commission charged on its execution (see
    /// [`State::spot_fee_rate`]), in `commission_asset`.
    pub commission: Decimal,
    /// The asset received, in which the commission is charged.
    pub commission_asset: String,
    /// Futures `reduceOnly`.
    pub reduce_only: bool,
    /// Creation time, emulator clock, Unix ms.
    pub time_ms: i64,
    /// Last change, Unix ms.
    pub update_ms: i64,
}

impl EmuOrder {
    /// The average execution price (zero when nothing executed).
    pub fn avg_price(&self) -> Decimal {
        div(self.cum_quote, self.executed_qty).unwrap_or(Decimal::ZERO)
    }
}

/// A new order's parameters, read and checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// `symbol`.
    pub symbol: String,
    /// `side`.
    pub side: OrderSide,
    /// `price` of a `LIMIT`, `None` for a `MARKET`.
    pub limit: Option<Decimal>,
    /// `quantity`.
    pub quantity: Decimal,
    /// `newClientOrderId`.
    pub client_order_id: Option<String>,
    /// Futures `reduceOnly`.
    pub reduce_only: bool,
}

/// A spot balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Funds {
    /// Available.
    pub free: Decimal,
    /// Held by open orders.
    pub locked: Decimal,
}

/// A one-way futures position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Holding {
    /// Signed size (`positionAmt`).
    pub amount: Decimal,
    /// `entryPrice`.
    pub entry: Decimal,
}

/// Everything that changes.
#[derive(Debug, Clone)]
pub struct State {
    market: Market,
    symbols: Vec<SymbolSpec>,
    orders: Vec<EmuOrder>,
    /// Scripted prices by symbol.
    pub prices: BTreeMap<String, Decimal>,
    /// Spot balances by asset.
    pub balances: BTreeMap<String, Funds>,
    /// Futures wallet balance (USDT), realized PnL included.
    pub wallet: Decimal,
    /// Futures positions by symbol.
    pub positions: BTreeMap<String, Holding>,
    /// Futures leverage by symbol (default 20).
    pub leverage: BTreeMap<String, u32>,
    /// Futures margin type by symbol (`CROSSED` unless set).
    pub margin_type: BTreeMap<String, String>,
    /// Requests seen per `METHOD path`.
    pub requests: BTreeMap<String, u64>,
    /// Faults waiting and settings.
    pub faults: Faults,
    /// Futures conditional orders, oldest first.
    pub algos: Vec<super::algo::AlgoOrder>,
    /// Spot stop-loss and take-profit orders, oldest first.
    pub stops: Vec<super::lists::SpotStop>,
    /// Spot OCO order lists, oldest first.
    pub lists: Vec<super::lists::EmuList>,
    /// Spot: the share of what an execution receives taken as commission,
    /// in the asset received (`POST /emulator/fees`; 0 by default).
    pub spot_fee_rate: Decimal,
    weight: (i64, u64),
    /// Orders placed in the current 10 s window: (its start, ms; count).
    /// Binance's windows are aligned to its clock, as the weight's minute.
    orders_10s: (i64, u64),
}

impl State {
    /// The starting state of `config`.
    pub fn new(config: &EmulatorConfig) -> State {
        let mut balances = BTreeMap::new();
        let mut wallet = Decimal::ZERO;
        match config.market {
            Market::Spot => {
                for spec in &config.symbols {
                    balances
                        .entry(spec.base.clone())
                        .or_insert_with(Funds::default);
                    balances
                        .entry(spec.quote.clone())
                        .or_insert_with(Funds::default);
                }
                balances.insert(
                    "USDT".into(),
                    Funds {
                        free: config.quote_balance,
                        locked: Decimal::ZERO,
                    },
                );
            }
            Market::UsdM => wallet = config.quote_balance,
        }
        State {
            market: config.market,
            symbols: config.symbols.clone(),
            orders: Vec::new(),
            prices: config.prices.iter().cloned().collect(),
            balances,
            wallet,
            positions: BTreeMap::new(),
            leverage: BTreeMap::new(),
            margin_type: BTreeMap::new(),
            requests: BTreeMap::new(),
            faults: Faults::default(),
            algos: Vec::new(),
            stops: Vec::new(),
            lists: Vec::new(),
            spot_fee_rate: Decimal::ZERO,
            weight: (0, 0),
            orders_10s: (0, 0),
        }
    }

    /// Every order ever placed, oldest first.
    pub fn orders(&self) -> &[EmuOrder] {
        &self.orders
    }

    /// The symbols listed.
    pub fn symbols(&self) -> &[SymbolSpec] {
        &self.symbols
    }

    /// The listed symbol `symbol` (-1121 otherwise).
    pub fn spec(&self, symbol: &str) -> Result<&SymbolSpec, ApiError> {
        self.symbols
            .iter()
            .find(|s| s.symbol == symbol)
            .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))
    }

    /// Counts a request and its weight; the weight used this minute.
    pub fn count(&mut self, key: String, weight: u64, now_ms: i64) -> u64 {
        *self.requests.entry(key).or_insert(0) += 1;
        let minute = now_ms.div_euclid(60_000);
        if self.weight.0 != minute {
            self.weight = (minute, 0);
        }
        self.weight.1 += weight;
        self.weight.1
    }

    /// Orders placed in the 10 s window of `now_ms` (after counting one
    /// there).
    pub fn count_order(&mut self, now_ms: i64) -> u64 {
        let count = self.orders_in_window(now_ms) + 1;
        self.orders_10s = (now_ms - now_ms.rem_euclid(10_000), count);
        count
    }

    /// Orders placed so far in the 10 s window of `now_ms`.
    pub fn orders_in_window(&self, now_ms: i64) -> u64 {
        let start = now_ms - now_ms.rem_euclid(10_000);
        if self.orders_10s.0 == start {
            self.orders_10s.1
        } else {
            0
        }
    }

    /// The order `order_id` or, else, the latest with `client_id` on
    /// `symbol`.
    pub fn find(
        &self,
        symbol: &str,
        order_id: Option<u64>,
        client_id: Option<&str>,
    ) -> Option<usize> {
        let matches = |o: &EmuOrder| {
            o.symbol == symbol
                && match (order_id, client_id) {
                    (Some(id), _) => o.order_id == id,
                    (None, Some(c)) => o.client_order_id == c,
                    (None, None) => false,
                }
        };
        self.orders.iter().rposition(matches)
    }

    /// The order at `index`.
    pub fn order(&self, index: usize) -> Option<&EmuOrder> {
        self.orders.get(index)
    }

    /// Scripts `symbol`'s price and fills the limit orders it reaches, at
    /// their limit.
    pub fn set_price(&mut self, symbol: &str, price: Decimal, now_ms: i64) {
        self.prices.insert(symbol.to_string(), price);
        let reached: Vec<usize> = (0..self.orders.len())
            .filter(|&i| {
                let o = &self.orders[i];
                o.symbol == symbol && o.status == EmuStatus::New && limit_reached(o, price)
            })
            .collect();
        for i in reached {
            let limit = self.orders[i].price.unwrap_or(price);
            // A fill that cannot be applied (an overflow) leaves the order
            // working: never a panic on a scripted price.
            let _ = self.fill(i, limit, now_ms);
        }
        self.trigger_algos(symbol, price, now_ms);
        self.trigger_stops(symbol, price, now_ms);
    }

    /// Checks and places `new` at `now_ms`: its index.
    pub fn place(&mut self, new: NewOrder, now_ms: i64) -> Result<usize, ApiError> {
        let spec = self.spec(&new.symbol)?.clone();
        let reference = new.limit.or_else(|| self.prices.get(&new.symbol).copied());
        match self.market {
            Market::Spot => check_spot(&spec, &new, reference)?,
            Market::UsdM => check_futures(&spec, &new, reference)?,
        }
        self.check_duplicate(&new)?;
        if self.market == Market::UsdM && new.reduce_only {
            self.check_reduce_only(&new)?;
        }
        let order_id = self.orders.len() as u64 + 1;
        let order = EmuOrder {
            client_order_id: new
                .client_order_id
                .clone()
                .unwrap_or_else(|| format!("emu{order_id}")),
            order_id,
            symbol: new.symbol.clone(),
            side: new.side,
            order_type: if new.limit.is_some() {
                "LIMIT"
            } else {
                "MARKET"
            },
            quantity: new.quantity,
            price: new.limit,
            status: EmuStatus::New,
            executed_qty: Decimal::ZERO,
            cum_quote: Decimal::ZERO,
            commission: Decimal::ZERO,
            commission_asset: String::new(),
            reduce_only: new.reduce_only,
            time_ms: now_ms,
            update_ms: now_ms,
        };
        if self.market == Market::Spot {
            self.reserve(&spec, &order, reference)?;
        }
        self.orders.push(order);
        let index = self.orders.len() - 1;
        self.execute_new(index, now_ms);
        Ok(index)
    }

    /// A new order's first execution: a market order at the price (or
    /// expired without one), a limit order if the price already reached it.
    fn execute_new(&mut self, index: usize, now_ms: i64) {
        let order = &self.orders[index];
        let price = self.prices.get(&order.symbol).copied();
        let at = match (order.price, price) {
            (None, Some(p)) => Some(p),
            (Some(limit), Some(p)) if limit_reached(order, p) => Some(limit),
            (None, None) => {
                self.orders[index].status = EmuStatus::Expired;
                return;
            }
            _ => None,
        };
        if let Some(at) = at {
            if self.fill(index, at, now_ms).is_err() {
                self.orders[index].status = EmuStatus::Expired;
            }
        }
    }

    /// Refuses a client id in use by an open order on the same symbol
    /// (Binance: unique among open orders only).
    fn check_duplicate(&self, new: &NewOrder) -> Result<(), ApiError> {
        let Some(id) = new.client_order_id.as_deref() else {
            return Ok(());
        };
        let open = self.orders.iter().any(|o| {
            o.symbol == new.symbol && o.client_order_id == id && o.status == EmuStatus::New
        });
        match (open, self.market) {
            (false, _) => Ok(()),
            (true, Market::Spot) => Err(ApiError::bad(-2010, "Duplicate order sent.")),
            (true, Market::UsdM) => Err(ApiError::bad(-4116, "clientOrderId is duplicated")),
        }
    }

    /// Refuses a reduce-only order that would open or increase a position.
    fn check_reduce_only(&self, new: &NewOrder) -> Result<(), ApiError> {
        let amount = self.position(&new.symbol).amount;
        let reduces = match new.side {
            OrderSide::Buy => amount.is_negative(),
            OrderSide::Sell => amount.is_positive(),
        };
        if reduces {
            Ok(())
        } else {
            Err(ApiError::bad(-2022, "ReduceOnly Order is rejected."))
        }
    }

    /// The position in `symbol` (flat when none).
    pub fn position(&self, symbol: &str) -> Holding {
        self.positions.get(symbol).copied().unwrap_or_default()
    }

    /// Spot: checks and holds what the order needs (a limit order's funds
    /// are locked until it fills or is cancelled).
    fn reserve(
        &mut self,
        spec: &SymbolSpec,
        order: &EmuOrder,
        reference: Option<Decimal>,
    ) -> Result<(), ApiError> {
        let insufficient = || {
            ApiError::bad(
                -2010,
                "Account has insufficient balance for requested action.",
            )
        };
        let (asset, need) = match order.side {
            OrderSide::Buy => {
                let price = reference.unwrap_or(Decimal::ZERO);
                (
                    &spec.quote,
                    mul(order.quantity, price).ok_or_else(insufficient)?,
                )
            }
            OrderSide::Sell => (&spec.base, order.quantity),
        };
        let funds = self.balances.entry(asset.clone()).or_default();
        if funds.free < need {
            return Err(insufficient());
        }
        if order.price.is_some() {
            funds.free = sub(funds.free, need).ok_or_else(insufficient)?;
            funds.locked = add(funds.locked, need).ok_or_else(insufficient)?;
        }
        Ok(())
    }

    /// Cancels the open order at `index` (-2011 "Unknown order sent." if it
    /// is no longer open).
    pub fn cancel(&mut self, index: usize, now_ms: i64) -> Result<(), ApiError> {
        let unknown = || ApiError::bad(-2011, "Unknown order sent.");
        let order = self.orders.get(index).ok_or_else(unknown)?.clone();
        if order.status != EmuStatus::New {
            return Err(unknown());
        }
        if self.market == Market::Spot {
            self.release(&order).ok_or_else(unknown)?;
        }
        let order = &mut self.orders[index];
        order.status = EmuStatus::Canceled;
        order.update_ms = now_ms;
        Ok(())
    }

    /// Spot: gives back what an open limit order locked.
    fn release(&mut self, order: &EmuOrder) -> Option<()> {
        let spec = self.spec(&order.symbol).ok()?.clone();
        let (asset, held) = match order.side {
            OrderSide::Buy => (spec.quote, mul(order.quantity, order.price?)?),
            OrderSide::Sell => (spec.base, order.quantity),
        };
        let funds = self.balances.entry(asset).or_default();
        funds.locked = sub(funds.locked, held)?;
        funds.free = add(funds.free, held)?;
        Some(())
    }

    /// Executes the order at `index` at `price`: in full, or (a reduce-only
    /// order larger than its position) the position's size, the rest
    /// expired.
    fn fill(&mut self, index: usize, price: Decimal, now_ms: i64) -> Result<(), ()> {
        let order = self.orders[index].clone();
        let mut commission = (Decimal::ZERO, String::new());
        let quantity = match self.market {
            Market::Spot => {
                if order.price.is_some() {
                    self.release(&order).ok_or(())?;
                }
                commission = self.settle_spot(&order, price).ok_or(())?;
                order.quantity
            }
            Market::UsdM => self.settle_futures(&order, price).ok_or(())?,
        };
        let done = &mut self.orders[index];
        (done.commission, done.commission_asset) = commission;
        done.executed_qty = quantity;
        done.cum_quote = mul(quantity, price).ok_or(())?;
        done.status = if quantity == order.quantity {
            EmuStatus::Filled
        } else {
            EmuStatus::Expired
        };
        done.update_ms = now_ms;
        Ok(())
    }

    /// Spot balances after a fill: the commission charged (8 places,
    /// rounded down) and its asset, the one received.
    fn settle_spot(&mut self, order: &EmuOrder, price: Decimal) -> Option<(Decimal, String)> {
        let spec = self.spec(&order.symbol).ok()?.clone();
        let value = mul(order.quantity, price)?;
        let (gain, gained, pay, paid) = match order.side {
            OrderSide::Buy => (spec.base, order.quantity, spec.quote, value),
            OrderSide::Sell => (spec.quote, value, spec.base, order.quantity),
        };
        let eighth = Decimal::new(1, 8)?;
        let fee = round_to(mul(gained, self.spot_fee_rate)?, eighth, Rounding::Down)?;
        let payer = self.balances.entry(pay).or_default();
        payer.free = sub(payer.free, paid)?;
        let gainer = self.balances.entry(gain.clone()).or_default();
        gainer.free = add(gainer.free, sub(gained, fee)?)?;
        Some((fee, gain))
    }

    /// The futures position and wallet after a fill: the quantity executed.
    fn settle_futures(&mut self, order: &EmuOrder, price: Decimal) -> Option<Decimal> {
        let held = self.position(&order.symbol);
        let mut quantity = order.quantity;
        let opposite = match order.side {
            OrderSide::Buy => held.amount.is_negative(),
            OrderSide::Sell => held.amount.is_positive(),
        };
        if order.reduce_only {
            // Never past flat: a reduce-only order executes at most the
            // position (nothing if it no longer reduces).
            quantity = if opposite {
                quantity.min(abs(held.amount))
            } else {
                Decimal::ZERO
            };
        }
        let signed = if order.side == OrderSide::Buy {
            quantity
        } else {
            neg(quantity)
        };
        let next = apply_fill(held, signed, price)?;
        let realized = next.1;
        self.wallet = add(self.wallet, realized)?;
        self.positions.insert(order.symbol.clone(), next.0);
        Some(quantity)
    }
}

/// Whether `price` reached the limit of the working `order`.
fn limit_reached(order: &EmuOrder, price: Decimal) -> bool {
    match (order.price, order.side) {
        (Some(limit), OrderSide::Buy) => price <= limit,
        (Some(limit), OrderSide::Sell) => price >= limit,
        (None, _) => false,
    }
}

/// A one-way position after `signed` base units at `price`: the new
/// position and the PnL realized by the part that reduced it.
fn apply_fill(held: Holding, signed: Decimal, price: Decimal) -> Option<(Holding, Decimal)> {
    let amount = add(held.amount, signed)?;
    let same_way = held.amount.mantissa() == 0 || held.amount.is_negative() == signed.is_negative();
    if same_way {
        // Weighted average entry.
        let cost = add(mul(abs(held.amount), held.entry)?, mul(abs(signed), price)?)?;
        let entry = div(cost, abs(amount)).unwrap_or(Decimal::ZERO);
        return Some((Holding { amount, entry }, Decimal::ZERO));
    }
    let closed = abs(signed).min(abs(held.amount));
    let per_unit = if held.amount.is_positive() {
        sub(price, held.entry)?
    } else {
        sub(held.entry, price)?
    };
    let realized = mul(closed, per_unit)?;
    let entry = if amount.mantissa() == 0 {
        Decimal::ZERO
    } else if amount.is_negative() == held.amount.is_negative() {
        held.entry
    } else {
        // Crossed flat: the rest opened at this price.
        price
    };
    Some((Holding { amount, entry }, realized))
}

/// Spot filters, with Spot's messages (-1013 "Filter failure: …").
fn check_spot(
    spec: &SymbolSpec,
    new: &NewOrder,
    reference: Option<Decimal>,
) -> Result<(), ApiError> {
    let filter = |name: &str| ApiError::bad(-1013, format!("Filter failure: {name}"));
    let r = &spec.rules;
    if let Some(price) = new.limit {
        if !price.is_positive() || price > max_price() || !is_multiple(price, r.tick) {
            return Err(filter("PRICE_FILTER"));
        }
    }
    let name = match new.limit {
        Some(_) => "LOT_SIZE",
        None => "MARKET_LOT_SIZE",
    };
    let (step, max) = r.step_and_max(new.limit.is_none());
    let q = new.quantity;
    if !q.is_positive()
        || !is_multiple(q, step)
        || q < r.min_quantity
        || (max.is_positive() && q > max)
    {
        return Err(filter(name));
    }
    if let Some(value) = reference.and_then(|p| mul(q, p)) {
        if value < r.min_notional || (r.max_notional.is_positive() && value > r.max_notional) {
            return Err(filter("NOTIONAL"));
        }
    }
    Ok(())
}

/// USDⓈ-M filters, with the futures codes.
fn check_futures(
    spec: &SymbolSpec,
    new: &NewOrder,
    reference: Option<Decimal>,
) -> Result<(), ApiError> {
    let r = &spec.rules;
    let precision = || {
        ApiError::bad(
            -1111,
            "Precision is over the maximum defined for this asset.",
        )
    };
    let (step, max) = r.step_and_max(new.limit.is_none());
    let q = new.quantity;
    if !q.is_positive() {
        return Err(ApiError::bad(-4003, "Quantity less than or equal to zero."));
    }
    if q.scale() > step.scale() {
        return Err(precision());
    }
    if !is_multiple(q, step) {
        return Err(ApiError::bad(-4023, "Qty not increased by step size."));
    }
    if q < r.min_quantity {
        return Err(ApiError::bad(-4004, "Quantity less than min quantity."));
    }
    if max.is_positive() && q > max {
        return Err(ApiError::bad(-4005, "Quantity greater than max quantity."));
    }
    if let Some(price) = new.limit {
        if !price.is_positive() {
            return Err(ApiError::bad(-4001, "Price less than 0."));
        }
        if price > max_price() {
            return Err(ApiError::bad(-4002, "Price greater than max price."));
        }
        if price.scale() > r.tick.scale() {
            return Err(precision());
        }
        if !is_multiple(price, r.tick) {
            return Err(ApiError::bad(-4014, "Price not increased by tick size."));
        }
    }
    let value = reference.and_then(|p| mul(q, p));
    if !new.reduce_only && value.is_some_and(|v| v < r.min_notional) {
        return Err(ApiError::bad(
            -4164,
            format!(
                "Order's notional must be no smaller than {} (unless you choose reduce only).",
                r.min_notional
            ),
        ));
    }
    Ok(())
}

/// `PRICE_FILTER.maxPrice` of every symbol.
pub fn max_price() -> Decimal {
    Decimal::new(1_000_000, 0).unwrap_or(Decimal::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn state(market: Market) -> State {
        let mut config = EmulatorConfig::new(market, "k", "s");
        config.prices = vec![("BTCUSDT".into(), d("50000"))];
        State::new(&config)
    }

    fn order(side: OrderSide, qty: &str, limit: Option<&str>, id: &str) -> NewOrder {
        NewOrder {
            symbol: "BTCUSDT".into(),
            side,
            limit: limit.map(d),
            quantity: d(qty),
            client_order_id: Some(id.into()),
            reduce_only: false,
        }
    }

    #[test]
    fn spot_market_and_limit_orders_move_balances() {
        let mut s = state(Market::Spot);
        let i = s.place(order(OrderSide::Buy, "0.1", None, "a"), 1).unwrap();
        assert_eq!(s.orders()[i].status, EmuStatus::Filled);
        assert_eq!(s.balances["USDT"].free, d("5000"));
        assert_eq!(s.balances["BTC"].free, d("0.1"));
        let i = s
            .place(order(OrderSide::Sell, "0.05", Some("51000"), "b"), 2)
            .unwrap();
        assert_eq!(s.orders()[i].status, EmuStatus::New);
        assert_eq!(
            (s.balances["BTC"].free, s.balances["BTC"].locked),
            (d("0.05"), d("0.05"))
        );
        s.set_price("BTCUSDT", d("50999.99"), 3);
        assert_eq!(s.orders()[i].status, EmuStatus::New);
        s.set_price("BTCUSDT", d("52000"), 4);
        let o = &s.orders()[i];
        assert_eq!(
            (o.status, o.executed_qty, o.cum_quote),
            (EmuStatus::Filled, d("0.05"), d("2550"))
        );
        assert_eq!(s.balances["USDT"].free, d("7550"));
        assert_eq!(s.balances["BTC"].locked, Decimal::ZERO);
        let e = s
            .place(order(OrderSide::Buy, "1", None, "c"), 5)
            .unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (
                -2010,
                "Account has insufficient balance for requested action."
            )
        );
    }

    #[test]
    fn spot_filters_and_duplicates() {
        let mut s = state(Market::Spot);
        let code = |s: &mut State, o| s.place(o, 1).unwrap_err().msg;
        assert_eq!(
            code(&mut s, order(OrderSide::Buy, "0.000015", None, "a")),
            "Filter failure: MARKET_LOT_SIZE"
        );
        assert_eq!(
            code(
                &mut s,
                order(OrderSide::Buy, "0.001", Some("40000.001"), "a")
            ),
            "Filter failure: PRICE_FILTER"
        );
        let above = order(OrderSide::Sell, "0.001", Some("2000000"), "a");
        assert_eq!(code(&mut s, above), "Filter failure: PRICE_FILTER");
        assert_eq!(
            code(&mut s, order(OrderSide::Buy, "0.00001", Some("40000"), "a")),
            "Filter failure: NOTIONAL"
        );
        s.place(order(OrderSide::Buy, "0.001", Some("40000"), "a"), 1)
            .unwrap();
        let e = s
            .place(order(OrderSide::Buy, "0.001", Some("40000"), "a"), 1)
            .unwrap_err();
        assert_eq!((e.code, e.msg.as_str()), (-2010, "Duplicate order sent."));
        let open = s.find("BTCUSDT", None, Some("a")).unwrap();
        s.cancel(open, 2).unwrap();
        assert_eq!(s.balances["USDT"].free, d("10000"));
        assert_eq!(s.cancel(open, 3).unwrap_err().code, -2011);
        // Once no longer open, the id may be used again.
        assert!(s
            .place(order(OrderSide::Buy, "0.001", Some("40000"), "a"), 4)
            .is_ok());
    }

    #[test]
    fn futures_positions_reduce_only_and_pnl() {
        let mut s = state(Market::UsdM);
        s.place(order(OrderSide::Buy, "0.010", None, "a"), 1)
            .unwrap();
        s.set_price("BTCUSDT", d("52000"), 2);
        s.place(order(OrderSide::Buy, "0.010", None, "b"), 3)
            .unwrap();
        assert_eq!(
            s.position("BTCUSDT"),
            Holding {
                amount: d("0.02"),
                entry: d("51000")
            }
        );
        let mut buy_ro = order(OrderSide::Buy, "0.01", None, "c");
        buy_ro.reduce_only = true;
        let e = s.place(buy_ro, 4).unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (-2022, "ReduceOnly Order is rejected.")
        );
        let mut close = order(OrderSide::Sell, "0.03", None, "d");
        close.reduce_only = true;
        let i = s.place(close, 5).unwrap();
        let o = &s.orders()[i];
        assert_eq!((o.status, o.executed_qty), (EmuStatus::Expired, d("0.02")));
        assert_eq!(s.position("BTCUSDT").amount, Decimal::ZERO);
        // 0.02 × (52000 − 51000) realized.
        assert_eq!(s.wallet, d("10020"));
    }

    #[test]
    fn futures_filters_and_duplicates() {
        let mut config = EmulatorConfig::new(Market::UsdM, "k", "s");
        config.prices = vec![("BTCUSDT".into(), d("50000"))];
        // A tick that is not a power of ten: off-tick and too precise differ.
        config.symbols[0].rules.tick = d("0.5");
        let mut s = State::new(&config);
        let code = |s: &mut State, o| s.place(o, 1).unwrap_err().code;
        assert_eq!(
            code(&mut s, order(OrderSide::Buy, "0.0015", None, "a")),
            -1111
        );
        assert_eq!(code(&mut s, order(OrderSide::Buy, "0", None, "a")), -4003);
        assert_eq!(code(&mut s, order(OrderSide::Buy, "121", None, "a")), -4005);
        assert_eq!(
            code(&mut s, order(OrderSide::Buy, "0.001", None, "a")),
            -4164
        );
        assert_eq!(
            code(&mut s, order(OrderSide::Buy, "0.01", Some("40000.05"), "a")),
            -1111
        );
        assert_eq!(
            code(&mut s, order(OrderSide::Buy, "0.01", Some("40000.3"), "a")),
            -4014
        );
        let above = order(OrderSide::Sell, "0.01", Some("1000000.5"), "a");
        assert_eq!(code(&mut s, above), -4002);
        let mut other = order(OrderSide::Buy, "0.01", None, "a");
        other.symbol = "XRPUSDT".into();
        assert_eq!(code(&mut s, other), -1121);
        s.place(order(OrderSide::Buy, "0.01", Some("40000"), "a"), 1)
            .unwrap();
        assert_eq!(
            code(&mut s, order(OrderSide::Buy, "0.01", Some("40000"), "a")),
            -4116
        );
    }

    #[test]
    fn a_market_order_without_a_price_expires() {
        let mut s = State::new(&EmulatorConfig::new(Market::UsdM, "k", "s"));
        let i = s
            .place(order(OrderSide::Buy, "0.01", None, "a"), 1)
            .unwrap();
        assert_eq!(s.orders()[i].status, EmuStatus::Expired);
        assert_eq!(s.position("BTCUSDT").amount, Decimal::ZERO);
    }
}
