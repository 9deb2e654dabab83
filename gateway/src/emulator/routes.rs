//! The HTTP surface: Binance's endpoints (each request counted, weighed,
//! faulted if a fault waits for it, verified, then handled under the one
//! mutex) and the `/emulator/*` control endpoints.

use std::sync::Arc;
use std::time::Duration;

use alertgate_validator::Decimal;
use axum::body::Bytes;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::answers::{self, RespType};
use super::auth::{self, Params};
use super::faults::{Fault, FaultCommand, FaultKind};
use super::lists;
use super::state::{NewOrder, OrderSide, State};
use super::{ApiError, App, Dropper};
use crate::venue::binance::Market;

/// The emulator's routes.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/emulator/price", post(set_price))
        .route("/emulator/faults", post(add_fault))
        .route("/emulator/orders", get(orders))
        .route("/emulator/algo-orders", get(algo_orders))
        .route("/emulator/order-lists", get(order_lists))
        .route("/emulator/fees", post(set_fees))
        .route("/emulator/requests", get(requests))
        .route("/emulator/account-settings", get(account_settings))
        .route("/emulator/reset", post(reset))
        .fallback(venue)
        .with_state(app)
}

/// A Binance endpoint the emulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Ping,
    Time,
    ExchangeInfo,
    NewOrder,
    QueryOrder,
    CancelOrder,
    Account,
    TickerPrice,
    PositionRisk { all: bool },
    PremiumIndex,
    Leverage,
    MarginType,
    PositionMode,
    NewAlgo,
    QueryAlgo,
    CancelAlgo,
    NewOco,
    QueryList,
    CancelList,
    MyTrades,
}

impl Endpoint {
    /// The endpoint at `method` `path` of `market`.
    fn of(market: Market, method: &str, path: &str) -> Option<Endpoint> {
        let prefix = match market {
            Market::Spot => "/api/v3/",
            Market::UsdM => "/fapi/",
        };
        let rest = path.strip_prefix(prefix)?;
        let e = match (market, method, rest) {
            (_, "GET", "ping" | "v1/ping") => Endpoint::Ping,
            (_, "GET", "time" | "v1/time") => Endpoint::Time,
            (_, "GET", "exchangeInfo" | "v1/exchangeInfo") => Endpoint::ExchangeInfo,
            (_, "POST", "order" | "v1/order") => Endpoint::NewOrder,
            (_, "GET", "order" | "v1/order") => Endpoint::QueryOrder,
            (_, "DELETE", "order" | "v1/order") => Endpoint::CancelOrder,
            (_, "GET", "ticker/price" | "v1/ticker/price") => Endpoint::TickerPrice,
            (Market::Spot, "GET", "account") => Endpoint::Account,
            (Market::UsdM, "GET", "v2/account" | "v3/account") => Endpoint::Account,
            (Market::UsdM, "GET", "v2/positionRisk") => Endpoint::PositionRisk { all: true },
            (Market::UsdM, "GET", "v3/positionRisk") => Endpoint::PositionRisk { all: false },
            (Market::UsdM, "GET", "v1/premiumIndex") => Endpoint::PremiumIndex,
            (Market::UsdM, "POST", "v1/leverage") => Endpoint::Leverage,
            (Market::UsdM, "POST", "v1/marginType") => Endpoint::MarginType,
            (Market::UsdM, "GET", "v1/positionSide/dual") => Endpoint::PositionMode,
            (Market::UsdM, "POST", "v1/algoOrder") => Endpoint::NewAlgo,
            (Market::UsdM, "GET", "v1/algoOrder") => Endpoint::QueryAlgo,
            (Market::UsdM, "DELETE", "v1/algoOrder") => Endpoint::CancelAlgo,
            (Market::Spot, "POST", "orderList/oco") => Endpoint::NewOco,
            (Market::Spot, "GET", "orderList") => Endpoint::QueryList,
            (Market::Spot, "DELETE", "orderList") => Endpoint::CancelList,
            (Market::Spot, "GET", "myTrades") => Endpoint::MyTrades,
            _ => return None,
        };
        // Spot paths carry no version segment of their own.
        let spot_shaped = !rest.starts_with('v');
        (spot_shaped == (market == Market::Spot)).then_some(e)
    }

    /// Whether it needs a signature (else at most an API key).
    fn signed(self) -> bool {
        !matches!(
            self,
            Endpoint::Ping
                | Endpoint::Time
                | Endpoint::ExchangeInfo
                | Endpoint::TickerPrice
                | Endpoint::PremiumIndex
        )
    }

    /// Its request weight (roughly Binance's).
    fn weight(self, market: Market) -> u64 {
        match (self, market) {
            (Endpoint::ExchangeInfo, Market::Spot) | (Endpoint::Account, Market::Spot) => 20,
            (Endpoint::Account | Endpoint::PositionRisk { .. }, Market::UsdM) => 5,
            (Endpoint::QueryOrder | Endpoint::QueryList, Market::Spot) => 4,
            (Endpoint::MyTrades, Market::Spot) => 5,
            _ => 1,
        }
    }
}

/// Every Binance request: counted, faulted, verified, handled.
async fn venue(AxState(app): AxState<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let dropper = parts.extensions.get::<Dropper>().cloned();
    let body = axum::body::to_bytes(body, 1 << 16)
        .await
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    let query = parts.uri.query().unwrap_or_default();
    let market = app.config.market;
    let now = app.config.now_ms();
    let endpoint = Endpoint::of(market, method, path);
    let (used, fault) = {
        let mut st = app.state();
        let weight = endpoint.map_or(1, |e| e.weight(market));
        (
            st.count(format!("{method} {path}"), weight, now),
            st.faults.take(method, path),
        )
    };
    if let Some(fault) = fault.filter(Fault::acts_before) {
        return weighed(fault_answer(fault, market, now), used);
    }
    let Some(endpoint) = endpoint else {
        let e = ApiError {
            http: 404,
            code: -1099,
            msg: "Not found, unauthenticated, or unauthorized.".into(),
        };
        return weighed(refusal(&e), used);
    };
    let key = parts
        .headers
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok());
    let places = matches!(
        endpoint,
        Endpoint::NewOrder | Endpoint::NewAlgo | Endpoint::NewOco
    );
    if places {
        if let Some(refused) = too_many_orders(&app, now) {
            return weighed(refused, used);
        }
    }
    let handled = handle(&app, endpoint, key, query, &body, now);
    let mut response = match &handled {
        Ok(value) => (StatusCode::OK, axum::Json(value.clone())).into_response(),
        Err(e) => refusal(e),
    };
    if places && handled.is_ok() {
        order_counts(&app, response.headers_mut(), now);
    }
    let response = weighed(response, used);
    match fault {
        Some(fault) => weighed(after(fault, response, dropper, market, now).await, used),
        None => response,
    }
}

/// What a fault that acts after handling makes of the answer.
async fn after(
    fault: Fault,
    response: Response,
    dropper: Option<Dropper>,
    market: Market,
    now: i64,
) -> Response {
    match fault.kind {
        FaultKind::LoseAnswer => {
            if let Some(dropper) = dropper {
                dropper.0.notify_one();
            }
            // The connection is being dropped: never answer.
            std::future::pending().await
        }
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
            response
        }
        _ => fault_answer(fault, market, now),
    }
}

/// The answer of an answering fault.
fn fault_answer(fault: Fault, market: Market, now: i64) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = |code: i64, msg: String| axum::Json(json!({"code": code, "msg": msg}));
    match fault.kind {
        FaultKind::RateLimit => {
            let msg = match market {
                Market::Spot => "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
                Market::UsdM => "Too many requests; current limit is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API.",
            };
            let retry = [("retry-after", fault.retry_after_s.to_string())];
            (
                StatusCode::TOO_MANY_REQUESTS,
                retry,
                body(-1003, msg.into()),
            )
                .into_response()
        }
        FaultKind::Ban => {
            let until = now.saturating_add(
                i64::try_from(fault.retry_after_s)
                    .unwrap_or(0)
                    .saturating_mul(1000),
            );
            let msg = format!("Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live updates to avoid bans.");
            let retry = [("retry-after", fault.retry_after_s.to_string())];
            (StatusCode::IM_A_TEAPOT, retry, body(-1003, msg)).into_response()
        }
        FaultKind::Unknown => {
            let msg = "Timeout waiting for response from backend server. Send status unknown; execution status unknown.";
            (status, body(-1007, msg.into())).into_response()
        }
        _ => {
            let msg = "Internal error; unable to process your request. Please try again.";
            (status, body(-1001, msg.into())).into_response()
        }
    }
}

/// Binance's refusal: the status and `{"code","msg"}`.
fn refusal(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.http).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(json!({"code": e.code, "msg": e.msg}))).into_response()
}

/// `response` with the weight used this minute.
fn weighed(mut response: Response, used: u64) -> Response {
    response
        .headers_mut()
        .insert("x-mbx-used-weight-1m", HeaderValue::from(used));
    response
}

/// A new order past the `ORDERS` limit of the 10 s window of `now`: 429
/// `-1015` with `Retry-After` to the window's end, as Binance answers.
fn too_many_orders(app: &App, now: i64) -> Option<Response> {
    let limit = app.config.orders_per_10s;
    if app.state().orders_in_window(now) < limit {
        return None;
    }
    let retry_s = (10_000 - now.rem_euclid(10_000) + 999) / 1000;
    let msg = format!("Too many new orders; current limit is {limit} orders per TEN_SECONDS.");
    let body = axum::Json(json!({"code": -1015, "msg": msg}));
    let retry = [("retry-after", retry_s.to_string())];
    Some((StatusCode::TOO_MANY_REQUESTS, retry, body).into_response())
}

/// The order-count headers of an order placed at `now`.
fn order_counts(app: &App, headers: &mut HeaderMap, now: i64) {
    let mut st = app.state();
    let ten_s = st.count_order(now);
    headers.insert("x-mbx-order-count-10s", HeaderValue::from(ten_s));
    let (name, since) = match app.config.market {
        Market::Spot => ("x-mbx-order-count-1d", now - 86_400_000),
        Market::UsdM => ("x-mbx-order-count-1m", now - 60_000),
    };
    let n = st.orders().iter().filter(|o| o.time_ms > since).count();
    headers.insert(name, HeaderValue::from(n));
}

/// Verifies (signed endpoints) and handles one request.
fn handle(
    app: &App,
    endpoint: Endpoint,
    key: Option<&str>,
    query: &str,
    body: &str,
    now: i64,
) -> Result<Value, ApiError> {
    let params = Params::parse(query, body);
    if params.has_duplicates() {
        return Err(ApiError::bad(
            -1101,
            "Duplicate values for a parameter detected.",
        ));
    }
    if endpoint.signed() {
        auth::verify(&app.config, key, query, body, &params, now)?;
    }
    let market = app.config.market;
    let mut st = app.state();
    match endpoint {
        Endpoint::Ping => Ok(json!({})),
        Endpoint::Time => Ok(json!({"serverTime": now})),
        Endpoint::ExchangeInfo => Ok(answers::exchange_info(
            market,
            st.symbols(),
            app.config.orders_per_10s,
            now,
        )),
        Endpoint::NewOrder => new_order(&mut st, market, &params, now),
        Endpoint::QueryOrder => query_order(&st, market, &params, now),
        Endpoint::CancelOrder => cancel_order(&mut st, market, &params, now),
        Endpoint::Account if market == Market::Spot => Ok(answers::spot_account(&st, now)),
        Endpoint::Account => Ok(answers::futures_account(&st, now)),
        Endpoint::TickerPrice => ticker(&st, market, &params, now),
        Endpoint::PositionRisk { all } => {
            Ok(answers::position_risk(&st, params.get("symbol"), all, now))
        }
        Endpoint::PremiumIndex => premium(&st, &params, now),
        Endpoint::Leverage => leverage(&mut st, &params),
        Endpoint::MarginType => margin_type(&mut st, &params),
        Endpoint::PositionMode => Ok(json!({"dualSidePosition": false})),
        Endpoint::NewAlgo => super::algo::place(&mut st, &params, now),
        Endpoint::QueryAlgo => super::algo::query(&st, &params),
        Endpoint::CancelAlgo => super::algo::cancel(&mut st, &params, now),
        Endpoint::NewOco => lists::new_oco(&mut st, &params, now),
        Endpoint::QueryList => lists::query_list(&st, &params),
        Endpoint::CancelList => lists::cancel_list(&mut st, &params, now),
        Endpoint::MyTrades => lists::my_trades(&st, &params),
    }
}

/// `POST order`.
fn new_order(st: &mut State, market: Market, params: &Params, now: i64) -> Result<Value, ApiError> {
    let conditional = matches!(params.get("type"), Some("STOP_LOSS" | "TAKE_PROFIT"));
    if market == Market::Spot && conditional {
        return lists::new_stop(st, params, now);
    }
    let (order, resp) = read_new_order(market, params)?;
    let index = st.place(order, now)?;
    let placed = st.order(index).ok_or_else(|| {
        ApiError::bad(
            -1000,
            "An unknown error occured while processing the request.",
        )
    })?;
    Ok(match market {
        Market::Spot => answers::spot_new(placed, resp, now),
        Market::UsdM => answers::futures_order(placed, resp == RespType::Ack),
    })
}

/// USDⓈ-M's answer to a conditional order sent to `POST /fapi/v1/order`
/// (the algo-order migration of 2025-12-09), word for word.
const ALGO_ONLY: &str =
    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.";

/// A new order's parameters, checked for shape.
fn read_new_order(market: Market, params: &Params) -> Result<(NewOrder, RespType), ApiError> {
    let symbol = params.required("symbol")?.to_string();
    let side = OrderSide::parse(params.required("side")?)?;
    let limit = match params.required("type")? {
        "MARKET" => None,
        "LIMIT" => {
            if params.required("timeInForce")? != "GTC" {
                return Err(ApiError::bad(-1115, "Invalid timeInForce."));
            }
            Some(required_decimal(params, "price")?)
        }
        // USDⓈ-M since 2025-12-09: conditional orders only through
        // `POST /fapi/v1/algoOrder`.
        "STOP_MARKET" | "TAKE_PROFIT_MARKET" | "STOP" | "TAKE_PROFIT" | "TRAILING_STOP_MARKET"
            if market == Market::UsdM =>
        {
            return Err(ApiError::bad(-4120, ALGO_ONLY));
        }
        _ => return Err(ApiError::bad(-1116, "Invalid orderType.")),
    };
    let quantity = required_decimal(params, "quantity")?;
    let client_order_id = params.get("newClientOrderId").map(str::to_string);
    if let Some(id) = &client_order_id {
        check_client_id(market, id)?;
    }
    let reduce_only = match (market, params.get("reduceOnly")) {
        (Market::UsdM, Some("true")) => true,
        (Market::UsdM, None | Some("false")) | (Market::Spot, _) => false,
        (Market::UsdM, Some(_)) => {
            return Err(ApiError::bad(
                -4062,
                "Invalid or improper reduceOnly value.",
            ))
        }
    };
    let resp = response_type(market, params.get("newOrderRespType"))?;
    let order = NewOrder {
        symbol,
        side,
        limit,
        quantity,
        client_order_id,
        reduce_only,
    };
    Ok((order, resp))
}

fn required_decimal(params: &Params, name: &str) -> Result<Decimal, ApiError> {
    params
        .decimal(name)?
        .ok_or_else(|| ApiError::mandatory(name))
}

/// `newClientOrderId` must match `^[\.A-Z\:/a-z0-9_-]{1,36}$`.
fn check_client_id(market: Market, id: &str) -> Result<(), ApiError> {
    let legal = |b: u8| b.is_ascii_alphanumeric() || b".:/_-".contains(&b);
    if (1..=36).contains(&id.len()) && id.bytes().all(legal) {
        return Ok(());
    }
    Err(match market {
        Market::Spot => ApiError::bad(-1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'."),
        Market::UsdM => ApiError::bad(-4015, "Client order id is not valid."),
    })
}

/// `newOrderRespType`: Spot ACK/RESULT/FULL (default FULL for MARKET and
/// LIMIT); futures ACK/RESULT (default ACK).
fn response_type(market: Market, asked: Option<&str>) -> Result<RespType, ApiError> {
    match (market, asked) {
        (Market::Spot, None) => Ok(RespType::Full),
        (Market::UsdM, None) | (_, Some("ACK")) => Ok(RespType::Ack),
        (_, Some("RESULT")) => Ok(RespType::Result),
        (Market::Spot, Some("FULL")) => Ok(RespType::Full),
        _ => Err(ApiError::bad(-1136, "Invalid newOrderRespType.")),
    }
}

/// The order a query or cancel names: (index or `None`).
fn named(st: &State, params: &Params) -> Result<Option<usize>, ApiError> {
    let symbol = params.required("symbol")?;
    st.spec(symbol)?;
    let order_id = match params.get("orderId") {
        Some(id) => Some(
            id.parse::<u64>()
                .map_err(|_| ApiError::mandatory("orderId"))?,
        ),
        None => None,
    };
    let client = params.get("origClientOrderId");
    if order_id.is_none() && client.is_none() {
        return Err(ApiError::bad(
            -1102,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
        ));
    }
    Ok(st.find(symbol, order_id, client))
}

/// The spot conditional order a query or cancel names, if any.
fn stop_named(st: &State, market: Market, params: &Params) -> Option<usize> {
    if market != Market::Spot {
        return None;
    }
    let symbol = params.get("symbol")?;
    let order_id = params.get("orderId").and_then(|id| id.parse().ok());
    lists::find_stop(st, symbol, order_id, params.get("origClientOrderId"))
}

/// `GET order`: -2013 for an unknown order, or one created less than
/// `query_not_found_ms` ago.
fn query_order(st: &State, market: Market, params: &Params, now: i64) -> Result<Value, ApiError> {
    let missing = || ApiError::bad(-2013, "Order does not exist.");
    let Some(order) = named(st, params)?.and_then(|i| st.order(i)) else {
        return match stop_named(st, market, params) {
            Some(i) => Ok(st.stops[i].answer()),
            None => Err(missing()),
        };
    };
    let window = i64::try_from(st.faults.query_not_found_ms).unwrap_or(i64::MAX);
    if now.saturating_sub(order.time_ms) < window {
        return Err(missing());
    }
    Ok(match market {
        Market::Spot => answers::spot_query(order),
        Market::UsdM => answers::futures_order(order, false),
    })
}

/// `DELETE order`.
fn cancel_order(
    st: &mut State,
    market: Market,
    params: &Params,
    now: i64,
) -> Result<Value, ApiError> {
    let Some(index) = named(st, params)? else {
        return match stop_named(st, market, params) {
            Some(i) => lists::cancel_stop(st, i, now),
            None => Err(ApiError::bad(-2011, "Unknown order sent.")),
        };
    };
    st.cancel(index, now)?;
    let order = st
        .order(index)
        .ok_or_else(|| ApiError::bad(-2011, "Unknown order sent."))?;
    Ok(match market {
        Market::Spot => answers::spot_cancel(order, now),
        Market::UsdM => answers::futures_order(order, false),
    })
}

/// `GET ticker/price`: one symbol, or every priced one.
fn ticker(st: &State, market: Market, params: &Params, now: i64) -> Result<Value, ApiError> {
    let row = |symbol: &str, price: Decimal| match market {
        Market::Spot => json!({"symbol": symbol, "price": super::num::fixed(price, 8)}),
        Market::UsdM => json!({"symbol": symbol, "price": price.to_string(), "time": now}),
    };
    if let Some(symbol) = params.get("symbol") {
        st.spec(symbol)?;
        let price = st.prices.get(symbol).copied().unwrap_or(Decimal::ZERO);
        return Ok(row(symbol, price));
    }
    Ok(Value::Array(
        st.prices.iter().map(|(s, p)| row(s, *p)).collect(),
    ))
}

/// `GET premiumIndex`: the scripted price is the mark.
fn premium(st: &State, params: &Params, now: i64) -> Result<Value, ApiError> {
    let mark = |s: &str| st.prices.get(s).copied().unwrap_or(Decimal::ZERO);
    if let Some(symbol) = params.get("symbol") {
        st.spec(symbol)?;
        return Ok(answers::premium_index(symbol, mark(symbol), now));
    }
    let rows = st
        .symbols()
        .iter()
        .map(|s| answers::premium_index(&s.symbol, mark(&s.symbol), now));
    Ok(Value::Array(rows.collect()))
}

/// `POST leverage` (1 to 125).
fn leverage(st: &mut State, params: &Params) -> Result<Value, ApiError> {
    let symbol = params.required("symbol")?.to_string();
    st.spec(&symbol)?;
    let text = params.required("leverage")?;
    let leverage: u32 = text
        .parse()
        .ok()
        .filter(|l| (1..=125).contains(l))
        .ok_or_else(|| ApiError::bad(-4028, format!("Leverage {text} is not valid")))?;
    st.leverage.insert(symbol.clone(), leverage);
    Ok(json!({"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}))
}

/// `POST marginType` (`ISOLATED` / `CROSSED`).
fn margin_type(st: &mut State, params: &Params) -> Result<Value, ApiError> {
    let symbol = params.required("symbol")?.to_string();
    st.spec(&symbol)?;
    let wanted = params.required("marginType")?;
    if !matches!(wanted, "ISOLATED" | "CROSSED") {
        return Err(ApiError::mandatory("marginType"));
    }
    let current = st
        .margin_type
        .get(&symbol)
        .map_or("CROSSED", String::as_str);
    if current == wanted {
        return Err(ApiError::bad(-4046, "No need to change margin type."));
    }
    if st.position(&symbol).amount.mantissa() != 0 {
        return Err(ApiError::bad(
            -4048,
            "Margin type cannot be changed if there exists position.",
        ));
    }
    st.margin_type.insert(symbol, wanted.to_string());
    Ok(json!({"code": 200, "msg": "success"}))
}

/// `POST /emulator/price` `{"symbol":"BTCUSDT","price":"50000"}`.
async fn set_price(AxState(app): AxState<Arc<App>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Script {
        symbol: String,
        price: Decimal,
    }
    let script: Script = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return control_error(&format!("expected {{\"symbol\":…,\"price\":\"…\"}}: {e}")),
    };
    let mut st = app.state();
    if st.spec(&script.symbol).is_err() || !script.price.is_positive() {
        return control_error("unknown symbol or a price not above zero");
    }
    st.set_price(&script.symbol, script.price, app.config.now_ms());
    axum::Json(json!({"symbol": script.symbol, "price": script.price})).into_response()
}

/// `POST /emulator/fees` `{"spot_fee_rate":"0.001"}`: the share of what a
/// spot execution receives taken as commission, from now on.
async fn set_fees(AxState(app): AxState<Arc<App>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Fees {
        spot_fee_rate: Decimal,
    }
    let fees: Fees = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return control_error(&format!("expected {{\"spot_fee_rate\":\"…\"}}: {e}")),
    };
    if fees.spot_fee_rate.is_negative() || fees.spot_fee_rate >= Decimal::ONE {
        return control_error("a fee rate from 0 to below 1");
    }
    app.state().spot_fee_rate = fees.spot_fee_rate;
    axum::Json(json!({"spot_fee_rate": fees.spot_fee_rate})).into_response()
}

/// `POST /emulator/faults` (a [`FaultCommand`]).
async fn add_fault(AxState(app): AxState<Arc<App>>, body: Bytes) -> Response {
    let added = serde_json::from_slice::<FaultCommand>(&body)
        .map_err(|e| e.to_string())
        .and_then(|c| app.state().faults.add(c));
    match added {
        Ok(()) => axum::Json(json!({"ok": true})).into_response(),
        Err(e) => control_error(&e),
    }
}

/// `GET /emulator/orders`.
async fn orders(AxState(app): AxState<Arc<App>>) -> Response {
    axum::Json(app.state().orders().to_vec()).into_response()
}

/// `GET /emulator/algo-orders`: every conditional order ever placed.
async fn algo_orders(AxState(app): AxState<Arc<App>>) -> Response {
    axum::Json(app.state().algos.clone()).into_response()
}

/// `GET /emulator/order-lists`: the spot order lists and conditional
/// orders.
async fn order_lists(AxState(app): AxState<Arc<App>>) -> Response {
    let st = app.state();
    axum::Json(json!({"lists": st.lists, "stops": st.stops})).into_response()
}

/// `GET /emulator/requests`.
async fn requests(AxState(app): AxState<Arc<App>>) -> Response {
    axum::Json(app.state().requests.clone()).into_response()
}

/// `GET /emulator/account-settings`: the futures leverage and margin
/// type set per symbol (`{"leverage":{"BTCUSDT":5},"margin_type":{...}}`).
async fn account_settings(AxState(app): AxState<Arc<App>>) -> Response {
    let st = app.state();
    axum::Json(json!({"leverage": st.leverage, "margin_type": st.margin_type})).into_response()
}

/// `POST /emulator/reset`: the starting state again, no faults.
async fn reset(AxState(app): AxState<Arc<App>>) -> Response {
    *app.state() = State::new(&app.config);
    axum::Json(json!({"ok": true})).into_response()
}

fn control_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}
