//! The JSON answers, field by field as Binance documents them (Spot
//! amounts with 8 decimals, as Spot prints them; futures amounts as they
//! are).

use alertgate_validator::Decimal;
use serde_json::{json, Value};

use super::num::{fixed, mul, sub};
use super::state::{EmuOrder, EmuStatus, State};
use super::SymbolSpec;
use crate::venue::binance::Market;

/// A Spot amount: 8 decimals.
fn s(d: Decimal) -> String {
    fixed(d, 8)
}

/// How much of a Spot order answer to give (`newOrderRespType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespType {
    /// Ids and time only.
    Ack,
    /// The order's state.
    Result,
    /// The state and its fills.
    Full,
}

/// `POST /api/v3/order`'s answer.
pub fn spot_new(o: &EmuOrder, resp: RespType, now_ms: i64) -> Value {
    let mut v = json!({
        "symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
        "clientOrderId": o.client_order_id, "transactTime": now_ms,
    });
    if resp == RespType::Ack {
        return v;
    }
    let extra = json!({
        "price": s(o.price.unwrap_or(Decimal::ZERO)), "origQty": s(o.quantity),
        "executedQty": s(o.executed_qty), "origQuoteOrderQty": s(Decimal::ZERO),
        "cummulativeQuoteQty": s(o.cum_quote), "status": o.status.as_str(),
        "timeInForce": "GTC", "type": o.order_type, "side": o.side.as_str(),
        "workingTime": o.time_ms, "selfTradePreventionMode": "EXPIRE_MAKER",
    });
    merge(&mut v, extra);
    if resp == RespType::Full {
        let fills: Vec<Value> = if o.executed_qty.is_positive() {
            vec![json!({
                "price": s(o.avg_price()), "qty": s(o.executed_qty),
                "commission": s(o.commission), "commissionAsset": o.commission_asset,
                "tradeId": o.order_id,
            })]
        } else {
            Vec::new()
        };
        merge(&mut v, json!({ "fills": fills }));
    }
    v
}

/// `GET /api/v3/order`'s answer.
pub fn spot_query(o: &EmuOrder) -> Value {
    json!({
        "symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
        "clientOrderId": o.client_order_id, "price": s(o.price.unwrap_or(Decimal::ZERO)),
        "origQty": s(o.quantity), "executedQty": s(o.executed_qty),
        "cummulativeQuoteQty": s(o.cum_quote), "status": o.status.as_str(),
        "timeInForce": "GTC", "type": o.order_type, "side": o.side.as_str(),
        "stopPrice": s(Decimal::ZERO), "icebergQty": s(Decimal::ZERO),
        "time": o.time_ms, "updateTime": o.update_ms,
        "isWorking": o.status == EmuStatus::New, "workingTime": o.time_ms,
        "origQuoteOrderQty": s(Decimal::ZERO), "selfTradePreventionMode": "EXPIRE_MAKER",
    })
}

/// `DELETE /api/v3/order`'s answer.
pub fn spot_cancel(o: &EmuOrder, now_ms: i64) -> Value {
    json!({
        "symbol": o.symbol, "origClientOrderId": o.client_order_id,
        "orderId": o.order_id, "orderListId": -1,
        "clientOrderId": format!("emucancel{}", o.order_id), "transactTime": now_ms,
        "price": s(o.price.unwrap_or(Decimal::ZERO)), "origQty": s(o.quantity),
        "executedQty": s(o.executed_qty), "origQuoteOrderQty": s(Decimal::ZERO),
        "cummulativeQuoteQty": s(o.cum_quote), "status": o.status.as_str(),
        "timeInForce": "GTC", "type": o.order_type, "side": o.side.as_str(),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    })
}

/// A futures order (`POST`, `GET` and `DELETE /fapi/v1/order`). With
/// `ack` (the default `newOrderRespType=ACK`), the order as accepted:
/// `NEW`, nothing executed yet, as Binance answers before matching.
pub fn futures_order(o: &EmuOrder, ack: bool) -> Value {
    let (status, executed, quote, avg) = if ack {
        ("NEW", Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
    } else {
        (
            o.status.as_str(),
            o.executed_qty,
            o.cum_quote,
            o.avg_price(),
        )
    };
    json!({
        "avgPrice": avg.to_string(), "clientOrderId": o.client_order_id,
        "cumQty": executed.to_string(), "cumQuote": quote.to_string(),
        "executedQty": executed.to_string(), "orderId": o.order_id,
        "origQty": o.quantity.to_string(), "origType": o.order_type,
        "price": o.price.unwrap_or(Decimal::ZERO).to_string(),
        "reduceOnly": o.reduce_only, "side": o.side.as_str(), "positionSide": "BOTH",
        "status": status, "stopPrice": "0", "closePosition": false,
        "symbol": o.symbol, "time": o.time_ms, "timeInForce": "GTC",
        "type": o.order_type, "updateTime": o.update_ms,
        "workingType": "CONTRACT_PRICE", "priceProtect": false,
        "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
    })
}

/// `GET /api/v3/account`'s answer.
pub fn spot_account(state: &State, now_ms: i64) -> Value {
    let balances: Vec<Value> = state
        .balances
        .iter()
        .map(|(asset, f)| json!({"asset": asset, "free": s(f.free), "locked": s(f.locked)}))
        .collect();
    let zero = s(Decimal::ZERO);
    json!({
        "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "canTrade": true, "canWithdraw": true, "canDeposit": true, "brokered": false,
        "requireSelfTradePrevention": false, "preventSor": false,
        "updateTime": now_ms, "accountType": "SPOT", "balances": balances,
        "permissions": ["SPOT"], "uid": 1,
    })
}

/// One position's figures: (symbol, amount, entry, mark, unrealized, notional).
type Figures = (String, Decimal, Decimal, Decimal, Decimal, Decimal);

/// Every listed symbol's position figures at the scripted prices.
fn figures(state: &State) -> Vec<Figures> {
    state
        .symbols()
        .iter()
        .map(|spec| {
            let h = state.position(&spec.symbol);
            let mark = state.prices.get(&spec.symbol).copied().unwrap_or(h.entry);
            let unrealized = sub(mark, h.entry)
                .and_then(|d| mul(d, h.amount))
                .unwrap_or(Decimal::ZERO);
            let notional = mul(h.amount, mark).unwrap_or(Decimal::ZERO);
            (
                spec.symbol.clone(),
                h.amount,
                h.entry,
                mark,
                unrealized,
                notional,
            )
        })
        .collect()
}

/// `GET /fapi/v2/account` / `v3`'s answer (positions: non-zero only).
pub fn futures_account(state: &State, now_ms: i64) -> Value {
    let all = figures(state);
    let unrealized = all
        .iter()
        .try_fold(Decimal::ZERO, |acc, f| super::num::add(acc, f.4))
        .unwrap_or(Decimal::ZERO);
    let wallet = state.wallet;
    let margin = super::num::add(wallet, unrealized).unwrap_or(wallet);
    let positions: Vec<Value> = all
        .iter()
        .filter(|f| f.1.mantissa() != 0)
        .map(|(symbol, amount, entry, _, upnl, notional)| {
            json!({
                "symbol": symbol, "positionSide": "BOTH", "positionAmt": amount.to_string(),
                "entryPrice": entry.to_string(), "unrealizedProfit": upnl.to_string(),
                "isolatedMargin": "0", "notional": notional.to_string(), "isolatedWallet": "0",
                "initialMargin": "0", "maintMargin": "0",
                "leverage": state.leverage.get(symbol).copied().unwrap_or(20).to_string(),
                "isolated": false, "updateTime": now_ms,
            })
        })
        .collect();
    let (w, u, m) = (
        wallet.to_string(),
        unrealized.to_string(),
        margin.to_string(),
    );
    json!({
        "totalInitialMargin": "0", "totalMaintMargin": "0", "totalWalletBalance": w,
        "totalUnrealizedProfit": u, "totalMarginBalance": m,
        "totalPositionInitialMargin": "0", "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": w, "totalCrossUnPnl": u, "availableBalance": m,
        "maxWithdrawAmount": m, "canTrade": true, "canDeposit": true,
        "canWithdraw": true, "updateTime": now_ms,
        "assets": [{
            "asset": "USDT", "walletBalance": w, "unrealizedProfit": u,
            "marginBalance": m, "maintMargin": "0", "initialMargin": "0",
            "positionInitialMargin": "0", "openOrderInitialMargin": "0",
            "crossWalletBalance": w, "crossUnPnl": u, "availableBalance": m,
            "maxWithdrawAmount": m, "updateTime": now_ms,
        }],
        "positions": positions,
    })
}

/// `GET /fapi/v2/positionRisk` (every symbol) or `v3` (non-zero only),
/// optionally for one symbol.
pub fn position_risk(state: &State, symbol: Option<&str>, all: bool, now_ms: i64) -> Value {
    let rows: Vec<Value> = figures(state)
        .into_iter()
        .filter(|f| symbol.is_none_or(|s| s == f.0) && (all || f.1.mantissa() != 0))
        .map(|(sym, amount, entry, mark, upnl, notional)| {
            json!({
                "symbol": sym, "positionSide": "BOTH", "positionAmt": amount.to_string(),
                "entryPrice": entry.to_string(), "breakEvenPrice": entry.to_string(),
                "markPrice": mark.to_string(), "unRealizedProfit": upnl.to_string(),
                "liquidationPrice": "0", "isolatedMargin": "0", "notional": notional.to_string(),
                "isolatedWallet": "0", "marginType": margin_type(state, &sym),
                "isAutoAddMargin": "false",
                "leverage": state.leverage.get(&sym).copied().unwrap_or(20).to_string(),
                "maxNotionalValue": "1000000", "updateTime": now_ms,
            })
        })
        .collect();
    Value::Array(rows)
}

fn margin_type(state: &State, symbol: &str) -> &'static str {
    match state.margin_type.get(symbol).map(String::as_str) {
        Some("ISOLATED") => "isolated",
        _ => "cross",
    }
}

/// One `premiumIndex` row.
pub fn premium_index(symbol: &str, mark: Decimal, now_ms: i64) -> Value {
    json!({
        "symbol": symbol, "markPrice": mark.to_string(), "indexPrice": mark.to_string(),
        "estimatedSettlePrice": mark.to_string(), "lastFundingRate": "0.00010000",
        "interestRate": "0.00010000", "nextFundingTime": (now_ms / 28_800_000 + 1) * 28_800_000,
        "time": now_ms,
    })
}

/// `exchangeInfo`'s answer.
pub fn exchange_info(
    market: Market,
    symbols: &[SymbolSpec],
    orders_per_10s: u64,
    now_ms: i64,
) -> Value {
    let rows: Vec<Value> = symbols
        .iter()
        .map(|spec| symbol_info(market, spec))
        .collect();
    json!({
        "timezone": "UTC", "serverTime": now_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": orders_per_10s},
        ],
        "exchangeFilters": [], "symbols": rows,
    })
}

fn symbol_info(market: Market, spec: &SymbolSpec) -> Value {
    let r = &spec.rules;
    let text = |d: Decimal| match market {
        Market::Spot => s(d),
        Market::UsdM => d.to_string(),
    };
    let lot = |kind: &str, step: Decimal, max: Decimal| json!({"filterType": kind, "minQty": text(r.min_quantity), "maxQty": text(max), "stepSize": text(step)});
    let price = json!({"filterType": "PRICE_FILTER", "minPrice": text(r.tick), "maxPrice": text(super::state::max_price()), "tickSize": text(r.tick)});
    let notional = match market {
        Market::Spot => {
            json!({"filterType": "NOTIONAL", "minNotional": text(r.min_notional), "applyMinToMarket": true, "maxNotional": text(Decimal::new(9_000_000, 0).unwrap_or(r.min_notional)), "applyMaxToMarket": false, "avgPriceMins": 5})
        }
        Market::UsdM => json!({"filterType": "MIN_NOTIONAL", "notional": text(r.min_notional)}),
    };
    let filters = [
        price,
        lot("LOT_SIZE", r.step, r.max_quantity),
        lot("MARKET_LOT_SIZE", r.market_step, r.max_market_quantity),
        notional,
    ];
    let mut v = json!({
        "symbol": spec.symbol, "status": "TRADING", "baseAsset": spec.base,
        "quoteAsset": spec.quote, "orderTypes": ["LIMIT", "MARKET"], "filters": filters,
    });
    let extra = match market {
        Market::Spot => {
            json!({"baseAssetPrecision": 8, "quotePrecision": 8, "quoteAssetPrecision": 8})
        }
        Market::UsdM => json!({
            "pair": spec.symbol, "contractType": "PERPETUAL", "marginAsset": spec.quote,
            "pricePrecision": r.tick.scale(), "quantityPrecision": r.step.scale(),
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }),
    };
    merge(&mut v, extra);
    v
}

/// `into`'s fields plus `from`'s (both objects).
fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}
