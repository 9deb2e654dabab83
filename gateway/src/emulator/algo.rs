//! USDⓈ-M conditional orders (`/fapi/v1/algoOrder`, `algoType=CONDITIONAL`):
//! `STOP_MARKET` and `TAKE_PROFIT_MARKET` with a `triggerPrice`, a
//! `quantity` or `closePosition`, triggered when the scripted price (the
//! contract price) crosses the trigger: a market order is then placed with
//! the `clientAlgoId` as its client id, and the algo order is `FINISHED`
//! (or `EXPIRED` when there is nothing to close, `REJECTED` when the
//! market order is refused).

use alertgate_validator::Decimal;
use serde::Serialize;
use serde_json::{json, Value};

use super::auth::Params;
use super::num::{abs, is_multiple};
use super::state::{NewOrder, OrderSide, State};
use super::ApiError;

/// A conditional order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlgoOrder {
    /// `algoId`.
    pub algo_id: u64,
    /// `clientAlgoId`.
    pub client_algo_id: String,
    /// `BTCUSDT`.
    pub symbol: String,
    /// Buy or sell.
    pub side: OrderSide,
    /// `STOP_MARKET` or `TAKE_PROFIT_MARKET`.
    pub order_type: &'static str,
    /// `quantity` (none with `closePosition`).
    pub quantity: Option<Decimal>,
    /// `triggerPrice`.
    pub trigger: Decimal,
    /// `reduceOnly`.
    pub reduce_only: bool,
    /// `closePosition`.
    pub close_position: bool,
    /// `algoStatus`: `NEW`, `CANCELED`, `FINISHED`, `EXPIRED`, `REJECTED`.
    pub status: &'static str,
    /// The market order placed when triggered.
    pub actual_order_id: Option<u64>,
    /// Its average price.
    pub actual_price: Decimal,
    /// Creation, last change and trigger times, Unix ms.
    pub times: (i64, i64, i64),
}

impl AlgoOrder {
    /// Whether `price` crosses the trigger: a stop buys above and sells
    /// below it, a take-profit the other way round.
    fn triggered_by(&self, price: Decimal) -> bool {
        let stop = self.order_type == "STOP_MARKET";
        match (stop, self.side) {
            (true, OrderSide::Buy) | (false, OrderSide::Sell) => price >= self.trigger,
            (true, OrderSide::Sell) | (false, OrderSide::Buy) => price <= self.trigger,
        }
    }

    /// The documented answer of `POST`/`GET /fapi/v1/algoOrder`.
    pub fn answer(&self) -> Value {
        let zero = || "0".to_string();
        json!({
            "algoId": self.algo_id, "clientAlgoId": self.client_algo_id,
            "algoType": "CONDITIONAL", "orderType": self.order_type,
            "symbol": self.symbol, "side": self.side.as_str(), "positionSide": "BOTH",
            "timeInForce": "GTC",
            "quantity": self.quantity.map_or_else(zero, |q| q.to_string()),
            "algoStatus": self.status,
            "actualOrderId": self.actual_order_id.map_or_else(String::new, |id| id.to_string()),
            "actualPrice": self.actual_price.to_string(),
            "triggerPrice": self.trigger.to_string(), "price": "0",
            "icebergQuantity": null, "tpTriggerPrice": "0", "tpPrice": "0",
            "slTriggerPrice": "0", "slPrice": "0", "tpOrderType": "",
            "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": "CONTRACT_PRICE",
            "priceMatch": "NONE", "closePosition": self.close_position,
            "priceProtect": false, "reduceOnly": self.reduce_only,
            "createTime": self.times.0, "updateTime": self.times.1,
            "triggerTime": self.times.2, "goodTillDate": 0,
        })
    }
}

/// `POST /fapi/v1/algoOrder`.
pub fn place(st: &mut State, params: &Params, now: i64) -> Result<Value, ApiError> {
    let order = read(st, params, now)?;
    let price = st.prices.get(&order.symbol).copied();
    if price.is_some_and(|p| order.triggered_by(p)) {
        return Err(ApiError::bad(-2021, "Order would immediately trigger."));
    }
    let duplicate = st
        .algos
        .iter()
        .any(|a| a.status == "NEW" && a.client_algo_id == order.client_algo_id);
    if duplicate {
        return Err(ApiError::bad(-4116, "clientOrderId is duplicated"));
    }
    let answer = order.answer();
    st.algos.push(order);
    Ok(answer)
}

/// A new conditional order's parameters, checked.
fn read(st: &State, params: &Params, now: i64) -> Result<AlgoOrder, ApiError> {
    if params.required("algoType")? != "CONDITIONAL" {
        return Err(ApiError::mandatory("algoType"));
    }
    let symbol = params.required("symbol")?.to_string();
    let rules = st.spec(&symbol)?.rules;
    let side = OrderSide::parse(params.required("side")?)?;
    let order_type = match params.required("type")? {
        "STOP_MARKET" => "STOP_MARKET",
        "TAKE_PROFIT_MARKET" => "TAKE_PROFIT_MARKET",
        _ => return Err(ApiError::bad(-1116, "Invalid orderType.")),
    };
    let trigger = params
        .decimal("triggerPrice")?
        .filter(Decimal::is_positive)
        .ok_or_else(|| ApiError::mandatory("triggerPrice"))?;
    if trigger.scale() > rules.tick.scale() {
        return Err(ApiError::bad(
            -1111,
            "Precision is over the maximum defined for this asset.",
        ));
    }
    if !is_multiple(trigger, rules.tick) {
        return Err(ApiError::bad(-4014, "Price not increased by tick size."));
    }
    let close_position = params.get("closePosition") == Some("true");
    let reduce_only = params.get("reduceOnly") == Some("true");
    let quantity = read_quantity(params, close_position, reduce_only)?;
    let algo_id = st.algos.len() as u64 + 1;
    Ok(AlgoOrder {
        algo_id,
        client_algo_id: params
            .get("clientAlgoId")
            .map_or_else(|| format!("emualgo{algo_id}"), str::to_string),
        symbol,
        side,
        order_type,
        quantity,
        trigger,
        reduce_only,
        close_position,
        status: "NEW",
        actual_order_id: None,
        actual_price: Decimal::ZERO,
        times: (now, now, 0),
    })
}

/// `quantity`, which `closePosition=true` excludes (as it does
/// `reduceOnly`).
fn read_quantity(
    params: &Params,
    close_position: bool,
    reduce_only: bool,
) -> Result<Option<Decimal>, ApiError> {
    let not_required =
        |name: &str| ApiError::bad(-1106, format!("Parameter '{name}' sent when not required."));
    match (close_position, params.decimal("quantity")?, reduce_only) {
        (true, Some(_), _) => Err(not_required("quantity")),
        (true, None, true) => Err(not_required("reduceOnly")),
        (true, None, false) => Ok(None),
        (false, None, _) => Err(ApiError::mandatory("quantity")),
        (false, Some(q), _) => Ok(Some(q)),
    }
}

/// The conditional order `algoId` or `clientAlgoId` names.
fn named(st: &State, params: &Params) -> Result<usize, ApiError> {
    let id = match params.get("algoId") {
        Some(id) => Some(
            id.parse::<u64>()
                .map_err(|_| ApiError::mandatory("algoId"))?,
        ),
        None => None,
    };
    let client = params.get("clientAlgoId");
    if id.is_none() && client.is_none() {
        return Err(ApiError::bad(
            -1102,
            "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!",
        ));
    }
    st.algos
        .iter()
        .rposition(|a| {
            id.is_none_or(|i| a.algo_id == i) && client.is_none_or(|c| a.client_algo_id == c)
        })
        .ok_or_else(|| ApiError::bad(-2013, "Order does not exist."))
}

/// `GET /fapi/v1/algoOrder`.
pub fn query(st: &State, params: &Params) -> Result<Value, ApiError> {
    Ok(st.algos[named(st, params)?].answer())
}

/// `DELETE /fapi/v1/algoOrder` (-2011 when no longer working).
pub fn cancel(st: &mut State, params: &Params, now: i64) -> Result<Value, ApiError> {
    let index = named(st, params).map_err(|_| ApiError::bad(-2011, "Unknown order sent."))?;
    let algo = &mut st.algos[index];
    if algo.status != "NEW" {
        return Err(ApiError::bad(-2011, "Unknown order sent."));
    }
    algo.status = "CANCELED";
    algo.times.1 = now;
    Ok(
        json!({"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "code": "200", "msg": "success"}),
    )
}

impl State {
    /// Triggers the working conditional orders on `symbol` that `price`
    /// crosses.
    pub(crate) fn trigger_algos(&mut self, symbol: &str, price: Decimal, now: i64) {
        let due: Vec<usize> = (0..self.algos.len())
            .filter(|&i| {
                let a = &self.algos[i];
                a.symbol == symbol && a.status == "NEW" && a.triggered_by(price)
            })
            .collect();
        for i in due {
            self.trigger_one(i, now);
        }
    }

    fn trigger_one(&mut self, index: usize, now: i64) {
        let algo = self.algos[index].clone();
        let held = abs(self.position(&algo.symbol).amount);
        let quantity = if algo.close_position {
            held
        } else {
            algo.quantity.unwrap_or(held)
        };
        let (status, actual) = if quantity.mantissa() == 0 {
            ("EXPIRED", None)
        } else {
            let order = NewOrder {
                symbol: algo.symbol.clone(),
                side: algo.side,
                limit: None,
                quantity,
                client_order_id: Some(algo.client_algo_id.clone()),
                reduce_only: algo.reduce_only || algo.close_position,
            };
            match self.place(order, now) {
                Ok(i) => (
                    "FINISHED",
                    self.order(i).map(|o| (o.order_id, o.avg_price())),
                ),
                Err(_) => ("REJECTED", None),
            }
        };
        let algo = &mut self.algos[index];
        algo.status = status;
        algo.times = (algo.times.0, now, now);
        if let Some((id, price)) = actual {
            algo.actual_order_id = Some(id);
            algo.actual_price = price;
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

    #[test]
    fn stops_and_take_profits_trigger_on_their_side() {
        let mut st = State::new(&EmulatorConfig::new(Market::UsdM, "k", "s"));
        let cases = [
            ("STOP_MARKET", "SELL", "49000", "49001", "49000"),
            ("STOP_MARKET", "BUY", "51000", "50999", "51000"),
            ("TAKE_PROFIT_MARKET", "SELL", "51000", "50999", "51000"),
            ("TAKE_PROFIT_MARKET", "BUY", "49000", "49001", "49000"),
        ];
        for (kind, side, trigger, not_yet, crossed) in cases {
            let q = format!("algoType=CONDITIONAL&symbol=BTCUSDT&side={side}&type={kind}&triggerPrice={trigger}&quantity=0.01");
            let algo = read(&st, &Params::parse(&q, ""), 1).unwrap();
            assert!(!algo.triggered_by(d(not_yet)), "{kind} {side}");
            assert!(algo.triggered_by(d(crossed)), "{kind} {side}");
        }
        // Nothing to close when triggered: expired, no order placed.
        let q = "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&triggerPrice=49000&closePosition=true";
        place(&mut st, &Params::parse(q, ""), 1).unwrap();
        st.set_price("BTCUSDT", d("48000"), 2);
        assert_eq!((st.algos[0].status, st.orders().len()), ("EXPIRED", 0));
        let bad =
            "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP&triggerPrice=49000&quantity=1";
        assert_eq!(
            read(&st, &Params::parse(bad, ""), 1).unwrap_err().code,
            -1116
        );
    }
}
