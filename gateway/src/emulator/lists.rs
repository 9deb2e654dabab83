//! Spot conditional orders: `STOP_LOSS` and `TAKE_PROFIT` (market when
//! triggered, with a `stopPrice`), alone (`POST /api/v3/order`) or as the
//! two legs of an OCO order list (`POST /api/v3/orderList/oco`, `GET` and
//! `DELETE /api/v3/orderList`), and the account's trades (`GET
//! /api/v3/myTrades`).
//!
//! Checked as the venue documents: the symbol's filters (the stop price on
//! the tick, the quantity on the step, the notional at the stop price),
//! the balance (a working sell holds its base asset), client ids unique
//! among open orders and open lists (-2010 "Duplicate order sent."), and a
//! list's price relation (`SELL`: above `stopPrice` > last price > below
//! `stopPrice`; `BUY` the other way round; else -2010 "The relationship
//! of the prices for the orders is not correct."). When the scripted price
//! crosses a stop it triggers: a market order is placed under its client
//! id and the stop takes its execution; the other leg of its list is then
//! cancelled (one cancels the other), and the list is `ALL_DONE`.

use alertgate_validator::Decimal;
use serde::Serialize;
use serde_json::{json, Value};

use super::auth::Params;
use super::num::{add, fixed, is_multiple, mul, sub};
use super::state::{max_price, EmuStatus, NewOrder, OrderSide, State};
use super::ApiError;

/// Conditional orders' ids start here, apart from the book's.
const FIRST_STOP_ID: u64 = 1_000_000;

/// A spot stop-loss or take-profit order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpotStop {
    /// `orderId`.
    pub order_id: u64,
    /// `clientOrderId`.
    pub client_order_id: String,
    /// The `orderListId` of its list, if any.
    pub list_id: Option<u64>,
    /// `BTCUSDT`.
    pub symbol: String,
    /// Buy or sell.
    pub side: OrderSide,
    /// `STOP_LOSS` or `TAKE_PROFIT`.
    #[serde(rename = "type")]
    pub order_type: &'static str,
    /// `origQty`.
    pub quantity: Decimal,
    /// `stopPrice`.
    pub stop: Decimal,
    /// Its state.
    pub status: EmuStatus,
    /// `executedQty` (once triggered).
    pub executed_qty: Decimal,
    /// `cummulativeQuoteQty`.
    pub cum_quote: Decimal,
    /// What it holds while it works (asset, amount); a list's first leg
    /// holds for both.
    #[serde(skip)]
    pub held: Option<(String, Decimal)>,
    /// Creation and last change, Unix ms.
    pub times: (i64, i64),
}

/// An OCO order list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmuList {
    /// `orderListId`.
    pub list_id: u64,
    /// `listClientOrderId`.
    pub list_client_order_id: String,
    /// `BTCUSDT`.
    pub symbol: String,
    /// Its legs: indexes into [`State::stops`] (above, below).
    pub legs: [usize; 2],
    /// `ALL_DONE` once a leg executed or both were cancelled.
    pub done: bool,
    /// Creation and last change, Unix ms.
    pub times: (i64, i64),
}

impl SpotStop {
    /// Whether `price` crosses the stop: a stop-loss sells at or below it
    /// and buys at or above it, a take-profit the other way round.
    fn triggered_by(&self, price: Decimal) -> bool {
        let stop_loss = self.order_type == "STOP_LOSS";
        match (stop_loss, self.side) {
            (true, OrderSide::Sell) | (false, OrderSide::Buy) => price <= self.stop,
            (true, OrderSide::Buy) | (false, OrderSide::Sell) => price >= self.stop,
        }
    }

    /// The order as `GET /api/v3/order` shows it.
    pub fn answer(&self) -> Value {
        let s = |d: Decimal| fixed(d, 8);
        json!({
            "symbol": self.symbol, "orderId": self.order_id,
            "orderListId": self.list_id.map_or(-1, |id| i64::try_from(id).unwrap_or(-1)),
            "clientOrderId": self.client_order_id, "price": s(Decimal::ZERO),
            "origQty": s(self.quantity), "executedQty": s(self.executed_qty),
            "cummulativeQuoteQty": s(self.cum_quote), "status": self.status.as_str(),
            "timeInForce": "GTC", "type": self.order_type, "side": self.side.as_str(),
            "stopPrice": s(self.stop), "icebergQty": s(Decimal::ZERO),
            "time": self.times.0, "updateTime": self.times.1, "transactTime": self.times.1,
            "isWorking": false, "workingTime": -1,
            "origQuoteOrderQty": s(Decimal::ZERO), "selfTradePreventionMode": "EXPIRE_MAKER",
        })
    }
}

/// A conditional order's parameters.
struct Leg {
    client_order_id: Option<String>,
    order_type: &'static str,
    stop: Decimal,
}

/// `STOP_LOSS` / `TAKE_PROFIT` (-1158 for any other type in a list,
/// -1116 alone).
fn stop_type(text: &str, code: i64) -> Result<&'static str, ApiError> {
    match text {
        "STOP_LOSS" => Ok("STOP_LOSS"),
        "TAKE_PROFIT" => Ok("TAKE_PROFIT"),
        _ if code == -1158 => Err(ApiError::bad(-1158, "Order type not supported in OCO.")),
        _ => Err(ApiError::bad(-1116, "Invalid orderType.")),
    }
}

/// `POST /api/v3/order` of type `STOP_LOSS` or `TAKE_PROFIT`.
pub fn new_stop(st: &mut State, params: &Params, now: i64) -> Result<Value, ApiError> {
    let symbol = params.required("symbol")?.to_string();
    let side = OrderSide::parse(params.required("side")?)?;
    let quantity = required(params, "quantity")?;
    let leg = Leg {
        client_order_id: client_id(params, "newClientOrderId")?,
        order_type: stop_type(params.required("type")?, -1116)?,
        stop: required(params, "stopPrice")?,
    };
    let price = st.prices.get(&symbol).copied();
    if price.is_some_and(|p| stop_of(&symbol, side, &leg, quantity).triggered_by(p)) {
        return Err(ApiError::bad(
            -2010,
            "Stop price would trigger immediately.",
        ));
    }
    let index = place_leg(st, &symbol, side, quantity, &leg, None, now)?;
    let stop = &st.stops[index];
    Ok(json!({
        "symbol": stop.symbol, "orderId": stop.order_id, "orderListId": -1,
        "clientOrderId": stop.client_order_id, "transactTime": now,
        "price": fixed(Decimal::ZERO, 8), "origQty": fixed(quantity, 8),
        "executedQty": fixed(Decimal::ZERO, 8), "cummulativeQuoteQty": fixed(Decimal::ZERO, 8),
        "status": "NEW", "timeInForce": "GTC", "type": stop.order_type,
        "side": side.as_str(), "stopPrice": fixed(stop.stop, 8), "workingTime": -1,
        "origQuoteOrderQty": fixed(Decimal::ZERO, 8), "selfTradePreventionMode": "EXPIRE_MAKER",
    }))
}

/// `POST /api/v3/orderList/oco`.
pub fn new_oco(st: &mut State, params: &Params, now: i64) -> Result<Value, ApiError> {
    let symbol = params.required("symbol")?.to_string();
    let side = OrderSide::parse(params.required("side")?)?;
    let quantity = required(params, "quantity")?;
    let leg = |prefix: &str| -> Result<Leg, ApiError> {
        Ok(Leg {
            client_order_id: client_id(params, &format!("{prefix}ClientOrderId"))?,
            order_type: stop_type(params.required(&format!("{prefix}Type"))?, -1158)?,
            stop: required(params, &format!("{prefix}StopPrice"))?,
        })
    };
    let (above, below) = (leg("above")?, leg("below")?);
    check_relation(st.prices.get(&symbol).copied(), side, &above, &below)?;
    let list_client_order_id = match client_id(params, "listClientOrderId")? {
        Some(id) => id,
        None => format!("emulist{}", st.lists.len() + 1),
    };
    let open = |l: &EmuList| l.symbol == symbol && !l.done;
    if st
        .lists
        .iter()
        .any(|l| open(l) && l.list_client_order_id == list_client_order_id)
    {
        return Err(ApiError::bad(-2010, "Duplicate order sent."));
    }
    let list_id = st.lists.len() as u64 + 1;
    let a = place_leg(st, &symbol, side, quantity, &above, Some(list_id), now)?;
    let b = match place_leg(st, &symbol, side, quantity, &below, Some(list_id), now) {
        Ok(b) => b,
        Err(e) => {
            // Both legs or neither: the first one is withdrawn.
            release(st, a);
            st.stops.pop();
            return Err(e);
        }
    };
    st.lists.push(EmuList {
        list_id,
        list_client_order_id,
        symbol,
        legs: [a, b],
        done: false,
        times: (now, now),
    });
    let list = st.lists.len() - 1;
    let with_reports = params.get("newOrderRespType") != Some("ACK");
    Ok(list_answer(st, list, with_reports, false))
}

/// Docs: `SELL`: above (take profit) > last > below (stop loss); `BUY`:
/// above (stop loss) > last > below (take profit).
fn check_relation(
    last: Option<Decimal>,
    side: OrderSide,
    above: &Leg,
    below: &Leg,
) -> Result<(), ApiError> {
    let (above_ok, below_ok) = match side {
        OrderSide::Sell => (
            (
                above.order_type == "TAKE_PROFIT",
                -1199,
                "A take profit order in a sell OCO must be above.",
            ),
            (
                below.order_type == "STOP_LOSS",
                -1197,
                "A stop loss order in a sell OCO must be below.",
            ),
        ),
        OrderSide::Buy => (
            (
                above.order_type == "STOP_LOSS",
                -1196,
                "A stop loss order in a buy OCO must be above.",
            ),
            (
                below.order_type == "TAKE_PROFIT",
                -1198,
                "A take profit order in a buy OCO must be below.",
            ),
        ),
    };
    for (ok, code, msg) in [above_ok, below_ok] {
        if !ok {
            return Err(ApiError::bad(code, msg));
        }
    }
    let between = last.map_or(above.stop > below.stop, |p| {
        above.stop > p && p > below.stop
    });
    if !between {
        return Err(ApiError::bad(
            -2010,
            "The relationship of the prices for the orders is not correct.",
        ));
    }
    Ok(())
}

/// Checks and places one conditional order (a list's leg if `list_id`):
/// its index in [`State::stops`]. A list's second leg holds nothing more.
fn place_leg(
    st: &mut State,
    symbol: &str,
    side: OrderSide,
    quantity: Decimal,
    leg: &Leg,
    list_id: Option<u64>,
    now: i64,
) -> Result<usize, ApiError> {
    let spec = st.spec(symbol)?.clone();
    let r = &spec.rules;
    let filter = |name: &str| ApiError::bad(-1013, format!("Filter failure: {name}"));
    if !leg.stop.is_positive() || leg.stop > max_price() || !is_multiple(leg.stop, r.tick) {
        return Err(filter("PRICE_FILTER"));
    }
    let q = quantity;
    let bad_lot = !q.is_positive()
        || !is_multiple(q, r.step)
        || q < r.min_quantity
        || (r.max_quantity.is_positive() && q > r.max_quantity);
    if bad_lot {
        return Err(filter("LOT_SIZE"));
    }
    let value = mul(q, leg.stop).ok_or_else(|| filter("NOTIONAL"))?;
    if value < r.min_notional || (r.max_notional.is_positive() && value > r.max_notional) {
        return Err(filter("NOTIONAL"));
    }
    let order_id = FIRST_STOP_ID + st.stops.len() as u64 + 1;
    let client_order_id = leg
        .client_order_id
        .clone()
        .unwrap_or_else(|| format!("emustop{order_id}"));
    check_unique(st, symbol, &client_order_id)?;
    let first_of_list = list_id.is_some_and(|id| st.stops.iter().all(|s| s.list_id != Some(id)));
    let held = if list_id.is_none() || first_of_list {
        let (asset, amount) = match side {
            OrderSide::Sell => (spec.base.clone(), q),
            OrderSide::Buy => (spec.quote.clone(), value),
        };
        hold(st, &asset, amount)?;
        Some((asset, amount))
    } else {
        None
    };
    st.stops.push(SpotStop {
        order_id,
        client_order_id,
        list_id,
        held,
        times: (now, now),
        ..stop_of(symbol, side, leg, quantity)
    });
    Ok(st.stops.len() - 1)
}

/// -2010 "Duplicate order sent." when `id` names an open order.
fn check_unique(st: &State, symbol: &str, id: &str) -> Result<(), ApiError> {
    let in_book = st
        .orders()
        .iter()
        .any(|o| o.symbol == symbol && o.client_order_id == id && o.status == EmuStatus::New);
    let stopped = st
        .stops
        .iter()
        .any(|s| s.symbol == symbol && s.client_order_id == id && s.status == EmuStatus::New);
    if in_book || stopped {
        return Err(ApiError::bad(-2010, "Duplicate order sent."));
    }
    Ok(())
}

/// Moves `amount` of `asset` from free to locked (-2010 when short).
fn hold(st: &mut State, asset: &str, amount: Decimal) -> Result<(), ApiError> {
    let short = || {
        ApiError::bad(
            -2010,
            "Account has insufficient balance for requested action.",
        )
    };
    let funds = st.balances.entry(asset.to_string()).or_default();
    if funds.free < amount {
        return Err(short());
    }
    let free = sub(funds.free, amount).ok_or_else(short)?;
    let locked = add(funds.locked, amount).ok_or_else(short)?;
    (funds.free, funds.locked) = (free, locked);
    Ok(())
}

/// Gives back what the stop at `index` holds, if anything.
fn release(st: &mut State, index: usize) {
    let Some((asset, amount)) = st.stops.get_mut(index).and_then(|s| s.held.take()) else {
        return;
    };
    let funds = st.balances.entry(asset).or_default();
    if let (Some(locked), Some(free)) = (sub(funds.locked, amount), add(funds.free, amount)) {
        (funds.locked, funds.free) = (locked, free);
    }
}

/// The stop `leg` would be (to test its trigger before placing it).
fn stop_of(symbol: &str, side: OrderSide, leg: &Leg, quantity: Decimal) -> SpotStop {
    SpotStop {
        order_id: 0,
        client_order_id: String::new(),
        list_id: None,
        symbol: symbol.to_string(),
        side,
        order_type: leg.order_type,
        quantity,
        stop: leg.stop,
        status: EmuStatus::New,
        executed_qty: Decimal::ZERO,
        cum_quote: Decimal::ZERO,
        held: None,
        times: (0, 0),
    }
}

fn required(params: &Params, name: &str) -> Result<Decimal, ApiError> {
    params
        .decimal(name)?
        .ok_or_else(|| ApiError::mandatory(name))
}

/// An optional client id parameter, checked (`^[\.A-Z\:/a-z0-9_-]{1,36}$`).
fn client_id(params: &Params, name: &str) -> Result<Option<String>, ApiError> {
    let Some(id) = params.get(name) else {
        return Ok(None);
    };
    let legal = |b: u8| b.is_ascii_alphanumeric() || b".:/_-".contains(&b);
    if (1..=36).contains(&id.len()) && id.bytes().all(legal) {
        return Ok(Some(id.to_string()));
    }
    Err(ApiError::bad(
        -1100,
        format!("Illegal characters found in parameter '{name}'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{{1,36}}$'."),
    ))
}

/// The list at `list` as the venue answers it (`orderReports` for a new
/// list and a cancel; `cancel`: its legs' reports as cancels).
fn list_answer(st: &State, list: usize, with_reports: bool, cancel: bool) -> Value {
    let l = &st.lists[list];
    let legs: Vec<&SpotStop> = l.legs.iter().filter_map(|&i| st.stops.get(i)).collect();
    let status = if l.done { "ALL_DONE" } else { "EXECUTING" };
    let listed = if l.done { "ALL_DONE" } else { "EXEC_STARTED" };
    let mut v = json!({
        "orderListId": l.list_id, "contingencyType": "OCO", "listStatusType": listed,
        "listOrderStatus": status, "listClientOrderId": l.list_client_order_id,
        "transactionTime": l.times.1, "symbol": l.symbol,
        "orders": legs.iter().map(|s| json!({
            "symbol": s.symbol, "orderId": s.order_id, "clientOrderId": s.client_order_id,
        })).collect::<Vec<_>>(),
    });
    if with_reports {
        let reports: Vec<Value> = legs
            .iter()
            .map(|s| {
                let mut r = s.answer();
                if cancel {
                    r["origClientOrderId"] = json!(s.client_order_id);
                    r["clientOrderId"] = json!(format!("emucancel{}", s.order_id));
                }
                r
            })
            .collect();
        v["orderReports"] = json!(reports);
    }
    v
}

/// The list a query or cancel names: `orderListId`, else the client id
/// parameter `by` (the latest list with it).
fn named_list(st: &State, params: &Params, by: &str) -> Result<Option<usize>, ApiError> {
    if let Some(id) = params.get("orderListId") {
        let id: u64 = id.parse().map_err(|_| ApiError::mandatory("orderListId"))?;
        return Ok(st.lists.iter().position(|l| l.list_id == id));
    }
    let Some(client) = params.get(by) else {
        return Err(ApiError::bad(
            -1102,
            format!("Param '{by}' or 'orderListId' must be sent, but both were empty/null!"),
        ));
    };
    Ok(st
        .lists
        .iter()
        .rposition(|l| l.list_client_order_id == client))
}

/// `GET /api/v3/orderList` (by `orderListId` or `origClientOrderId`).
pub fn query_list(st: &State, params: &Params) -> Result<Value, ApiError> {
    let list = named_list(st, params, "origClientOrderId")?
        .ok_or_else(|| ApiError::bad(-2013, "Order list does not exist."))?;
    Ok(list_answer(st, list, false, false))
}

/// `DELETE /api/v3/orderList` (by `orderListId` or `listClientOrderId`).
pub fn cancel_list(st: &mut State, params: &Params, now: i64) -> Result<Value, ApiError> {
    let symbol = params.required("symbol")?;
    st.spec(symbol)?;
    let unknown = || ApiError::bad(-2011, "Unknown order sent.");
    let list = named_list(st, params, "listClientOrderId")?.ok_or_else(unknown)?;
    if st.lists[list].done || st.lists[list].symbol != symbol {
        return Err(unknown());
    }
    end_list(st, list, None, now);
    Ok(list_answer(st, list, true, true))
}

/// Ends the list at `list`: every leg still working but `except` is
/// cancelled, what they held given back.
fn end_list(st: &mut State, list: usize, except: Option<usize>, now: i64) {
    let legs = st.lists[list].legs;
    for i in legs {
        release(st, i);
        if Some(i) != except && st.stops[i].status == EmuStatus::New {
            st.stops[i].status = EmuStatus::Canceled;
            st.stops[i].times.1 = now;
        }
    }
    st.lists[list].done = true;
    st.lists[list].times.1 = now;
}

/// The conditional order `order_id` or, else, the latest with
/// `client_id` on `symbol`.
pub fn find_stop(
    st: &State,
    symbol: &str,
    order_id: Option<u64>,
    client_id: Option<&str>,
) -> Option<usize> {
    st.stops.iter().rposition(|s| {
        s.symbol == symbol
            && match (order_id, client_id) {
                (Some(id), _) => s.order_id == id,
                (None, Some(c)) => s.client_order_id == c,
                (None, None) => false,
            }
    })
}

/// `DELETE /api/v3/order` of a conditional order: cancelling a list's leg
/// cancels the list (as documented).
pub fn cancel_stop(st: &mut State, index: usize, now: i64) -> Result<Value, ApiError> {
    let stop = st.stops[index].clone();
    if stop.status != EmuStatus::New {
        return Err(ApiError::bad(-2011, "Unknown order sent."));
    }
    match stop
        .list_id
        .and_then(|id| st.lists.iter().position(|l| l.list_id == id))
    {
        Some(list) => end_list(st, list, None, now),
        None => {
            release(st, index);
            st.stops[index].status = EmuStatus::Canceled;
            st.stops[index].times.1 = now;
        }
    }
    let mut answer = st.stops[index].answer();
    answer["origClientOrderId"] = json!(stop.client_order_id);
    answer["clientOrderId"] = json!(format!("emucancel{}", stop.order_id));
    Ok(answer)
}

/// `GET /api/v3/myTrades` (`symbol`, optional `orderId`): one trade per
/// executed order of the book, with the commission it was charged in the
/// asset received.
pub fn my_trades(st: &State, params: &Params) -> Result<Value, ApiError> {
    let symbol = params.required("symbol")?;
    let spec = st.spec(symbol)?.clone();
    let order_id = match params.get("orderId") {
        Some(id) => Some(
            id.parse::<u64>()
                .map_err(|_| ApiError::mandatory("orderId"))?,
        ),
        None => None,
    };
    let s = |d: Decimal| fixed(d, 8);
    let trades: Vec<Value> = st
        .orders()
        .iter()
        .filter(|o| o.symbol == symbol && o.executed_qty.is_positive())
        .filter(|o| order_id.is_none_or(|id| o.order_id == id))
        .map(|o| {
            let buyer = o.side == OrderSide::Buy;
            let received = if buyer { &spec.base } else { &spec.quote };
            let asset = if o.commission_asset.is_empty() {
                received
            } else {
                &o.commission_asset
            };
            json!({
                "symbol": o.symbol, "id": o.order_id, "orderId": o.order_id,
                "orderListId": -1, "price": s(o.avg_price()), "qty": s(o.executed_qty),
                "quoteQty": s(o.cum_quote), "commission": s(o.commission),
                "commissionAsset": asset, "time": o.update_ms, "isBuyer": buyer,
                "isMaker": o.price.is_some(), "isBestMatch": true,
            })
        })
        .collect();
    Ok(json!(trades))
}

impl State {
    /// Triggers the working conditional orders on `symbol` that `price`
    /// crosses.
    pub(crate) fn trigger_stops(&mut self, symbol: &str, price: Decimal, now: i64) {
        for i in 0..self.stops.len() {
            let s = &self.stops[i];
            if s.symbol == symbol && s.status == EmuStatus::New && s.triggered_by(price) {
                self.trigger_stop(i, now);
            }
        }
    }

    /// The stop at `index` triggered: its list (if any) ends, what it held
    /// is given back, and a market order executes it (or it expires when
    /// the market order is refused).
    fn trigger_stop(&mut self, index: usize, now: i64) {
        let stop = self.stops[index].clone();
        let list = stop
            .list_id
            .and_then(|id| self.lists.iter().position(|l| l.list_id == id));
        match list {
            Some(list) => end_list(self, list, Some(index), now),
            None => release(self, index),
        }
        let order = NewOrder {
            symbol: stop.symbol.clone(),
            side: stop.side,
            limit: None,
            quantity: stop.quantity,
            client_order_id: Some(stop.client_order_id.clone()),
            reduce_only: false,
        };
        let executed = self
            .place(order, now)
            .ok()
            .and_then(|i| self.order(i).cloned());
        let s = &mut self.stops[index];
        s.times.1 = now;
        match executed {
            Some(o) if o.status == EmuStatus::Filled => {
                (s.status, s.executed_qty, s.cum_quote) =
                    (EmuStatus::Filled, o.executed_qty, o.cum_quote);
            }
            _ => s.status = EmuStatus::Expired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::EmulatorConfig;
    use crate::venue::binance::Market;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    /// A spot account holding 0.02 BTC bought at 50000.
    fn state() -> State {
        let mut st = State::new(&EmulatorConfig::new(Market::Spot, "k", "s"));
        st.set_price("BTCUSDT", d("50000"), 1);
        let buy = NewOrder {
            symbol: "BTCUSDT".into(),
            side: OrderSide::Buy,
            limit: None,
            quantity: d("0.02"),
            client_order_id: Some("entry".into()),
            reduce_only: false,
        };
        st.place(buy, 1).unwrap();
        st
    }

    fn oco(above: &str, below: &str, id: &str) -> Params {
        Params::parse(&format!("symbol=BTCUSDT&side=SELL&quantity=0.02&listClientOrderId={id}&aboveType=TAKE_PROFIT&aboveStopPrice={above}&belowType=STOP_LOSS&belowStopPrice={below}"), "")
    }

    #[test]
    fn a_sell_oco_holds_the_base_and_one_leg_cancels_the_other() {
        let mut st = state();
        let answer = new_oco(&mut st, &oco("52000", "49000", "l1"), 2).unwrap();
        assert_eq!(answer["listOrderStatus"], "EXECUTING");
        assert_eq!(answer["orderReports"].as_array().unwrap().len(), 2);
        assert_eq!(st.balances["BTC"].locked, d("0.02"));
        // Same list id while it works: a duplicate.
        let e = new_oco(&mut st, &oco("52000", "49000", "l1"), 2).unwrap_err();
        assert_eq!((e.code, e.msg.as_str()), (-2010, "Duplicate order sent."));
        st.set_price("BTCUSDT", d("51000"), 3);
        assert!(!st.lists[0].done);
        st.set_price("BTCUSDT", d("52000"), 4);
        let l = &st.lists[0];
        assert!(l.done);
        let (tp, sl) = (&st.stops[l.legs[0]], &st.stops[l.legs[1]]);
        assert_eq!((tp.status, tp.executed_qty), (EmuStatus::Filled, d("0.02")));
        assert_eq!(sl.status, EmuStatus::Canceled);
        assert_eq!(st.balances["BTC"].free, d("0"));
        assert_eq!(st.balances["BTC"].locked, d("0"));
        let q = query_list(&st, &Params::parse("origClientOrderId=l1", "")).unwrap();
        assert_eq!(q["listOrderStatus"], "ALL_DONE");
        assert!(q.get("orderReports").is_none());
        // The price falling later triggers nothing more.
        st.set_price("BTCUSDT", d("48000"), 5);
        assert_eq!(st.stops[st.lists[0].legs[1]].status, EmuStatus::Canceled);
    }

    #[test]
    fn prices_on_the_wrong_side_and_broken_rules_are_refused() {
        let mut st = state();
        // Take profit below the last price.
        let e = new_oco(&mut st, &oco("49500", "49000", "l1"), 2).unwrap_err();
        assert_eq!(e.code, -2010);
        assert!(e.msg.contains("relationship of the prices"), "{}", e.msg);
        // Stop above it.
        assert_eq!(
            new_oco(&mut st, &oco("52000", "50500", "l1"), 2)
                .unwrap_err()
                .code,
            -2010
        );
        // Off the tick.
        assert_eq!(
            new_oco(&mut st, &oco("52000.001", "49000", "l1"), 2)
                .unwrap_err()
                .code,
            -1013
        );
        // More than the account holds.
        let q = "symbol=BTCUSDT&side=SELL&quantity=0.03&aboveType=TAKE_PROFIT&aboveStopPrice=52000&belowType=STOP_LOSS&belowStopPrice=49000";
        assert_eq!(
            new_oco(&mut st, &Params::parse(q, ""), 2).unwrap_err().code,
            -2010
        );
        // Legs swapped.
        let q = "symbol=BTCUSDT&side=SELL&quantity=0.02&aboveType=STOP_LOSS&aboveStopPrice=52000&belowType=TAKE_PROFIT&belowStopPrice=49000";
        assert_eq!(
            new_oco(&mut st, &Params::parse(q, ""), 2).unwrap_err().code,
            -1199
        );
        assert!(st.stops.is_empty() && st.lists.is_empty());
        assert_eq!(st.balances["BTC"].free, d("0.02"));
    }

    #[test]
    fn a_cancelled_list_gives_back_what_it_held() {
        let mut st = state();
        new_oco(&mut st, &oco("52000", "49000", "l1"), 2).unwrap();
        let p = Params::parse("symbol=BTCUSDT&listClientOrderId=l1", "");
        let answer = cancel_list(&mut st, &p, 3).unwrap();
        assert_eq!(answer["listOrderStatus"], "ALL_DONE");
        assert_eq!(answer["orderReports"][0]["status"], "CANCELED");
        assert_eq!(st.balances["BTC"].free, d("0.02"));
        assert_eq!(cancel_list(&mut st, &p, 3).unwrap_err().code, -2011);
        // The same id may be used again once the list is done.
        new_oco(&mut st, &oco("52000", "49000", "l1"), 4).unwrap();
        // Cancelling a leg cancels the list.
        let leg = st.lists[1].legs[1];
        cancel_stop(&mut st, leg, 5).unwrap();
        assert!(st.lists[1].done);
        assert_eq!(st.stops[st.lists[1].legs[0]].status, EmuStatus::Canceled);
    }

    #[test]
    fn a_fee_is_taken_from_what_a_buy_receives_and_shown_in_my_trades() {
        let mut st = State::new(&EmulatorConfig::new(Market::Spot, "k", "s"));
        st.set_price("BTCUSDT", d("50000"), 1);
        st.spot_fee_rate = d("0.001");
        let buy = NewOrder {
            symbol: "BTCUSDT".into(),
            side: OrderSide::Buy,
            limit: None,
            quantity: d("0.02"),
            client_order_id: None,
            reduce_only: false,
        };
        st.place(buy, 1).unwrap();
        assert_eq!(st.balances["BTC"].free, d("0.01998"));
        let trades = my_trades(&st, &Params::parse("symbol=BTCUSDT&orderId=1", "")).unwrap();
        assert_eq!(trades[0]["commission"], "0.00002000");
        assert_eq!(trades[0]["commissionAsset"], "BTC");
        let none = my_trades(&st, &Params::parse("symbol=BTCUSDT&orderId=2", "")).unwrap();
        assert_eq!(none.as_array().map(Vec::len), Some(0));
    }

    #[test]
    fn a_single_stop_loss_triggers_on_its_side() {
        let mut st = state();
        let q = "symbol=BTCUSDT&side=SELL&type=STOP_LOSS&quantity=0.02&stopPrice=49000&newClientOrderId=sl1";
        new_stop(&mut st, &Params::parse(q, ""), 2).unwrap();
        let above = q.replace("49000", "50500").replace("sl1", "sl2");
        assert_eq!(
            new_stop(&mut st, &Params::parse(&above, ""), 2)
                .unwrap_err()
                .code,
            -2010
        );
        st.set_price("BTCUSDT", d("49500"), 3);
        assert_eq!(st.stops[0].status, EmuStatus::New);
        st.set_price("BTCUSDT", d("48900"), 4);
        assert_eq!(
            (st.stops[0].status, st.stops[0].executed_qty),
            (EmuStatus::Filled, d("0.02"))
        );
        let trades = my_trades(&st, &Params::parse("symbol=BTCUSDT", "")).unwrap();
        assert_eq!(trades.as_array().unwrap().len(), 2);
    }
}
