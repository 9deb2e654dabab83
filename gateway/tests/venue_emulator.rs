//! The venue emulator over HTTP, with a real client (reqwest): signed
//! requests as Binance documents them, trading rules, duplicate client
//! ids, every fault, the query-not-found window, fills and positions.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alertgate_gateway::emulator::{spawn, EmulatorConfig, EmulatorHandle, SymbolSpec};
use alertgate_gateway::venue::binance::{signature, signed_query, ExchangeInfo, Market};
use alertgate_gateway::venue::TradingRules;
use alertgate_validator::Decimal;
use serde_json::Value;

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

fn d(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A client of one emulator, signing with the test key.
struct Venue {
    base: String,
    http: reqwest::Client,
    _handle: EmulatorHandle,
    orders_path: &'static str,
}

impl Venue {
    async fn start(market: Market, price: &str) -> Venue {
        let mut config = EmulatorConfig::new(market, KEY, SECRET);
        config.prices = vec![("BTCUSDT".into(), d(price))];
        Venue::with(config).await
    }

    async fn with(config: EmulatorConfig) -> Venue {
        let orders_path = match config.market {
            Market::Spot => "/api/v3/order",
            Market::UsdM => "/fapi/v1/order",
        };
        let (addr, handle): (SocketAddr, _) = spawn(config).await.unwrap();
        Venue {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            _handle: handle,
            orders_path,
        }
    }

    /// A signed request at `timestamp`, parameters in the query string.
    async fn signed_at(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
        ts: i64,
    ) -> reqwest::Result<reqwest::Response> {
        let query = signed_query(params, 5000, ts, SECRET.as_bytes());
        self.http
            .request(method, format!("{}{path}?{query}", self.base))
            .header("X-MBX-APIKEY", KEY)
            .send()
            .await
    }

    /// A signed request now.
    async fn signed_now(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        self.signed_at(method, path, params, now_ms()).await
    }

    /// A signed request now: its status and body.
    async fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> (u16, Value) {
        answer(self.signed_now(method, path, params).await.unwrap()).await
    }

    /// The body of a signed GET.
    async fn signed_get(&self, path: &str, params: &[(&str, &str)]) -> Value {
        self.signed(reqwest::Method::GET, path, params).await.1
    }

    /// USDⓈ-M positionRisk for BTCUSDT.
    async fn position_risk(&self) -> Value {
        let params = [("symbol", "BTCUSDT")];
        self.signed_get("/fapi/v2/positionRisk", &params).await
    }

    async fn order(&self, params: &[(&str, &str)]) -> (u16, Value) {
        self.signed(reqwest::Method::POST, self.orders_path, params)
            .await
    }

    async fn query(&self, client_id: &str) -> (u16, Value) {
        let params = [("symbol", "BTCUSDT"), ("origClientOrderId", client_id)];
        self.signed(reqwest::Method::GET, self.orders_path, &params)
            .await
    }

    async fn control(&self, path: &str, body: &str) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} {body}");
        r.json().await.unwrap()
    }

    async fn fault(&self, json: &str) {
        self.control("/emulator/faults", json).await;
    }

    /// An unsigned GET.
    async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.http.get(url).send().await.unwrap()
    }

    /// The body of an unsigned GET.
    async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    /// The first symbol's rules in the exchangeInfo at `path`.
    async fn first_rules(&self, path: &str) -> TradingRules {
        let info: ExchangeInfo = self.get(path).await.json().await.unwrap();
        info.symbols[0].rules().unwrap()
    }

    async fn emulator(&self, what: &str) -> Value {
        self.get_json(&format!("/emulator/{what}")).await
    }

    async fn set_price(&self, price: &str) {
        let body = format!(r#"{{"symbol":"BTCUSDT","price":"{price}"}}"#);
        self.control("/emulator/price", &body).await;
    }

    async fn post_algo(&self, params: &[(&str, &str)]) -> Value {
        let path = "/fapi/v1/algoOrder";
        self.signed(reqwest::Method::POST, path, params).await.1
    }

    async fn placed(&self) -> usize {
        self.emulator("orders").await.as_array().unwrap().len()
    }
}

async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A refusal's code and message.
fn code_msg(body: &Value) -> (Option<i64>, Option<&str>) {
    (body["code"].as_i64(), body["msg"].as_str())
}

/// A throttled answer's status and Retry-After.
fn status_retry_after(r: &reqwest::Response) -> (u16, &str) {
    let retry_after = r.headers()["retry-after"].to_str().unwrap();
    (r.status().as_u16(), retry_after)
}

fn limit_buy<'a>(qty: &'a str, id: &'a str) -> [(&'a str, &'a str); 7] {
    [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", qty),
        ("price", "40000"),
        ("newClientOrderId", id),
    ]
}

fn market_buy<'a>(qty: &'a str, id: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "MARKET"),
        ("quantity", qty),
        ("newClientOrderId", id),
    ]
}

#[tokio::test]
async fn binances_documented_request_is_accepted_and_tampering_refused() {
    // The emulator's clock set to the example's time, LTCBTC listed.
    let mut config = EmulatorConfig::new(Market::Spot, KEY, SECRET);
    config.clock_offset_ms = 1_499_827_319_559 + 1000 - now_ms();
    config.symbols.push(SymbolSpec {
        symbol: "LTCBTC".into(),
        base: "LTC".into(),
        quote: "BTC".into(),
        rules: TradingRules {
            step: d("0.01"),
            min_quantity: d("0.01"),
            tick: d("0.000001"),
            ..TradingRules::default()
        },
    });
    let venue = Venue::with(config).await;
    let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    let sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
    assert_eq!(signature(SECRET.as_bytes(), query), sig);
    let send = |q: String, key: Option<&str>| {
        let mut r = venue.http.post(format!("{}/api/v3/order?{q}", venue.base));
        if let Some(key) = key {
            r = r.header("X-MBX-APIKEY", key);
        }
        async move { answer(r.send().await.unwrap()).await }
    };
    let (status, body) = send(format!("{query}&signature={sig}"), Some(KEY)).await;
    // Signature and timestamp accepted; the account holds no BTC to pay.
    assert_eq!(
        (status, body["code"].as_i64()),
        (400, Some(-2010)),
        "{body}"
    );
    assert_eq!(
        body["msg"],
        "Account has insufficient balance for requested action."
    );
    let tampered = format!(
        "{}&signature={sig}",
        query.replace("price=0.1", "price=0.2")
    );
    assert_eq!(send(tampered, Some(KEY)).await.1["code"], -1022);
    assert_eq!(
        send(format!("{query}&signature={sig}"), None).await,
        (
            401,
            serde_json::json!({"code": -2014, "msg": "API-key format invalid."})
        )
    );
    let (status, body) = send(format!("{query}&signature={sig}"), Some("someoneelse")).await;
    assert_eq!((status, body["code"].as_i64()), (401, Some(-2015)));
}

#[tokio::test]
async fn timestamps_outside_the_window_are_refused() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    let path = "/fapi/v2/account";
    let at = |ts| venue.signed_at(reqwest::Method::GET, path, &[], ts);
    let (status, body) = answer(at(now_ms() - 6000).await.unwrap()).await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(-1021)));
    assert_eq!(
        body["msg"],
        "Timestamp for this request is outside of the recvWindow."
    );
    let body = answer(at(now_ms() + 3000).await.unwrap()).await.1;
    assert_eq!(
        body["msg"],
        "Timestamp for this request was 1000ms ahead of the server's time."
    );
    let (status, body) = answer(at(now_ms() - 2000).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalWalletBalance"], "10000");
}

#[tokio::test]
async fn rules_and_duplicate_client_ids_are_refused_with_binances_codes() {
    let spot = Venue::start(Market::Spot, "50000").await;
    let (status, body) = spot.order(&market_buy("0.0002", "a1")).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = spot.order(&market_buy("0.000015", "a2")).await;
    assert_eq!(
        code_msg(&body),
        (Some(-1013), Some("Filter failure: MARKET_LOT_SIZE"))
    );
    assert_eq!(spot.order(&limit_buy("0.001", "dup")).await.0, 200);
    let (_, body) = spot.order(&limit_buy("0.001", "dup")).await;
    assert_eq!(
        code_msg(&body),
        (Some(-2010), Some("Duplicate order sent."))
    );

    let futures = Venue::start(Market::UsdM, "50000").await;
    let (_, body) = futures.order(&market_buy("0.001", "b1")).await;
    assert_eq!(body["code"], -4164, "{body}");
    assert_eq!(
        body["msg"],
        "Order's notional must be no smaller than 100 (unless you choose reduce only)."
    );
    let (_, body) = futures.order(&market_buy("0.0101", "b2")).await;
    assert_eq!(body["code"], -1111);
    assert_eq!(futures.order(&limit_buy("0.01", "dup")).await.0, 200);
    let (_, body) = futures.order(&limit_buy("0.01", "dup")).await;
    assert_eq!(
        code_msg(&body),
        (Some(-4116), Some("clientOrderId is duplicated"))
    );
    assert_eq!(futures.placed().await, 1);
}

#[tokio::test]
async fn usdm_conditional_orders_on_the_order_endpoint_are_sent_to_the_algo_api() {
    let futures = Venue::start(Market::UsdM, "50000").await;
    for kind in [
        "STOP_MARKET",
        "TAKE_PROFIT_MARKET",
        "STOP",
        "TAKE_PROFIT",
        "TRAILING_STOP_MARKET",
    ] {
        let params = [
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", kind),
            ("quantity", "0.01"),
            ("stopPrice", "45000"),
            ("price", "45000"),
            ("newClientOrderId", "cond1"),
        ];
        let (status, body) = futures.order(&params).await;
        assert_eq!(status, 400, "{kind}: {body}");
        assert_eq!(
            code_msg(&body),
            (
                Some(-4120),
                Some("Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
            ),
            "{kind}"
        );
    }
    // An unknown type is still -1116, and Spot knows no -4120.
    let params = [
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "NOPE"),
        ("quantity", "0.01"),
    ];
    assert_eq!(futures.order(&params).await.1["code"], -1116);
    let spot = Venue::start(Market::Spot, "50000").await;
    let params = [
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "STOP_MARKET"),
        ("quantity", "0.01"),
    ];
    assert_eq!(spot.order(&params).await.1["code"], -1116);
    assert_eq!(futures.placed().await + spot.placed().await, 0);
}

#[tokio::test]
async fn futures_fills_and_positions() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    let (status, body) = venue.order(&market_buy("0.010", "open1")).await;
    // Binance's default ACK: the order as accepted, before matching.
    assert_eq!(
        (
            status,
            body["status"].as_str(),
            body["executedQty"].as_str()
        ),
        (200, Some("NEW"), Some("0")),
        "{body}"
    );
    let (_, body) = venue.query("open1").await;
    assert_eq!(
        (
            body["status"].as_str(),
            body["executedQty"].as_str(),
            body["avgPrice"].as_str()
        ),
        (Some("FILLED"), Some("0.01"), Some("50000")),
        "{body}"
    );
    let sell = [
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "0.010"),
        ("price", "51000"),
        ("reduceOnly", "true"),
        ("newClientOrderId", "tp1"),
        ("newOrderRespType", "RESULT"),
    ];
    let (_, body) = venue.order(&sell).await;
    assert_eq!(body["status"], "NEW", "{body}");
    venue.set_price("51500").await;
    let (_, body) = venue.query("tp1").await;
    assert_eq!(
        (body["status"].as_str(), body["avgPrice"].as_str()),
        (Some("FILLED"), Some("51000")),
        "{body}"
    );
    let risk = venue.position_risk().await;
    assert_eq!(risk[0]["positionAmt"], "0", "{risk}");
    let account = venue.signed_get("/fapi/v2/account", &[]).await;
    assert_eq!(account["totalWalletBalance"], "10010", "{account}");
}

#[tokio::test]
async fn spot_balances_follow_fills() {
    let venue = Venue::start(Market::Spot, "50000").await;
    let (status, body) = venue.order(&market_buy("0.1", "s1")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("FILLED")),
        "{body}"
    );
    assert_eq!(body["fills"][0]["price"], "50000.00000000");
    let account = venue.signed_get("/api/v3/account", &[]).await;
    let free = |asset: &str| {
        account["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["asset"] == asset)
            .unwrap()["free"]
            .clone()
    };
    assert_eq!(
        (free("USDT"), free("BTC")),
        ("5000.00000000".into(), "0.10000000".into())
    );
}

#[tokio::test]
async fn lose_answer_places_the_order_and_drops_the_connection() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    venue
        .fault(r#"{"method":"POST","path":"/fapi/v1/order","fault":"lose_answer"}"#)
        .await;
    let params = market_buy("0.01", "lost1");
    let sent = venue
        .signed_now(reqwest::Method::POST, "/fapi/v1/order", &params)
        .await;
    let e = sent.expect_err("a transport error, not a status");
    assert!(!e.is_status() && !e.is_timeout(), "{e:?}");
    assert_eq!(venue.query("lost1").await.1["status"], "FILLED");
    // Only the next one: the retry with the same id answers normally.
    assert_eq!(venue.order(&market_buy("0.01", "lost2")).await.0, 200);
}

#[tokio::test]
async fn errors_before_and_after() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    venue
        .fault(r#"{"method":"POST","path":"/fapi/v1/order","fault":"error_before"}"#)
        .await;
    assert_eq!(venue.order(&market_buy("0.01", "e1")).await.0, 503);
    assert_eq!(venue.placed().await, 0);
    venue
        .fault(r#"{"method":"POST","path":"/fapi/v1/order","fault":"error_after","status":502}"#)
        .await;
    assert_eq!(venue.order(&market_buy("0.01", "e2")).await.0, 502);
    assert_eq!(venue.placed().await, 1);
    for placed in [false, true] {
        let id = format!("u{placed}");
        venue
            .fault(&format!(
                r#"{{"method":"POST","path":"/fapi/v1/order","fault":"unknown","placed":{placed}}}"#
            ))
            .await;
        let (status, body) = venue.order(&market_buy("0.01", &id)).await;
        assert_eq!((status, body["code"].as_i64()), (503, Some(-1007)));
        assert_eq!(body["msg"], "Timeout waiting for response from backend server. Send status unknown; execution status unknown.");
        assert_eq!(venue.query(&id).await.0 == 200, placed);
    }
}

#[tokio::test]
async fn rate_limits_and_bans_place_nothing() {
    let venue = Venue::start(Market::Spot, "50000").await;
    venue
        .fault(r#"{"method":"POST","path":"/api/v3/order","fault":"rate_limit","retry_after_s":7}"#)
        .await;
    venue
        .fault(r#"{"method":"GET","path":"/api/v3/account","fault":"ban","count":2}"#)
        .await;
    let params = market_buy("0.001", "r1");
    let r = venue
        .signed_now(reqwest::Method::POST, "/api/v3/order", &params)
        .await
        .unwrap();
    assert_eq!(status_retry_after(&r), (429, "7"));
    assert_eq!(answer(r).await.1["code"], -1003);
    for _ in 0..2 {
        let r = venue
            .signed_now(reqwest::Method::GET, "/api/v3/account", &[])
            .await
            .unwrap();
        assert_eq!(status_retry_after(&r), (418, "60"));
    }
    assert_eq!(
        venue
            .signed(reqwest::Method::GET, "/api/v3/account", &[])
            .await
            .0,
        200
    );
    assert_eq!(venue.placed().await, 0);
    let counts = venue.emulator("requests").await;
    assert_eq!(
        (
            counts["POST /api/v3/order"].as_u64(),
            counts["GET /api/v3/account"].as_u64()
        ),
        (Some(1), Some(3)),
        "{counts}"
    );
}

#[tokio::test]
async fn slow_answers_come_late_with_the_order_already_placed() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    venue
        .fault(r#"{"method":"POST","path":"/fapi/v1/order","fault":"slow","delay_ms":700}"#)
        .await;
    let started = Instant::now();
    let params = market_buy("0.01", "slow1");
    let (placed_during, (status, _)) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            venue.placed().await
        },
        venue.order(&params)
    );
    assert_eq!((placed_during, status), (1, 200));
    assert!(started.elapsed() >= Duration::from_millis(700));
}

#[tokio::test]
async fn a_new_order_is_invisible_to_queries_for_a_while() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    venue.fault(r#"{"query_not_found_ms":400}"#).await;
    assert_eq!(venue.order(&market_buy("0.01", "q1")).await.0, 200);
    let (status, body) = venue.query("q1").await;
    assert_eq!(
        (status, code_msg(&body)),
        (400, (Some(-2013), Some("Order does not exist.")))
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(venue.query("q1").await.0, 200);
}

#[tokio::test]
async fn headers_orders_listing_and_reset() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    let params = market_buy("0.01", "h1");
    let r = venue
        .signed_now(reqwest::Method::POST, "/fapi/v1/order", &params)
        .await
        .unwrap();
    assert!(r.headers().contains_key("x-mbx-used-weight-1m"));
    assert_eq!(r.headers()["x-mbx-order-count-10s"], "1");
    let orders = venue.emulator("orders").await;
    let o = &orders[0];
    assert_eq!(
        (
            o["client_order_id"].as_str(),
            o["side"].as_str(),
            o["type"].as_str(),
            o["status"].as_str(),
            o["executed_qty"].as_str(),
            o["reduce_only"].as_bool()
        ),
        (
            Some("h1"),
            Some("BUY"),
            Some("MARKET"),
            Some("FILLED"),
            Some("0.01"),
            Some(false)
        ),
        "{orders}"
    );
    venue.control("/emulator/reset", "").await;
    assert_eq!(venue.placed().await, 0);
    let rules = venue.first_rules("/fapi/v1/exchangeInfo").await;
    assert_eq!(
        (rules.step, rules.min_notional, rules.tick),
        (d("0.001"), d("100"), d("0.1"))
    );
}

#[tokio::test]
async fn conditional_orders_trigger_when_the_price_crosses() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    assert_eq!(venue.order(&market_buy("0.02", "long1")).await.0, 200);
    let stop = |trigger, id| close_all("STOP_MARKET", trigger, id);
    let body = venue.post_algo(&stop("50100", "sl0")).await;
    assert_eq!(body["code"], -2021);
    assert_eq!(body["msg"], "Order would immediately trigger.");
    let body = venue.post_algo(&stop("49000", "sl1")).await;
    let shown = (body["algoStatus"].as_str(), body["triggerPrice"].as_str());
    assert_eq!(shown, (Some("NEW"), Some("49000")), "{body}");
    venue.set_price("49500").await;
    let get = |id: &'static str| algo_order(&venue, id);
    assert_eq!(get("sl1").await["algoStatus"], "NEW");
    venue.set_price("48900").await;
    let sl = get("sl1").await;
    assert_eq!(
        (sl["algoStatus"].as_str(), sl["actualPrice"].as_str()),
        (Some("FINISHED"), Some("48900")),
        "{sl}"
    );
    let (_, order) = venue.query("sl1").await;
    assert_eq!(
        (
            order["orderId"].to_string(),
            order["executedQty"].as_str(),
            order["reduceOnly"].as_bool()
        ),
        (
            sl["actualOrderId"].as_str().unwrap().to_string(),
            Some("0.02"),
            Some(true)
        )
    );
    let risk = venue.position_risk().await;
    assert_eq!(risk[0]["positionAmt"], "0");
}

async fn algo_order(venue: &Venue, id: &str) -> Value {
    let params = [("clientAlgoId", id)];
    let path = "/fapi/v1/algoOrder";
    venue.signed_get(path, &params).await
}

#[tokio::test]
async fn reduce_only_on_a_flat_position_one_way_mode_and_mark_price() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    // Flat now: a reduce-only order would open a position.
    let again = [
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "MARKET"),
        ("quantity", "0.010"),
        ("reduceOnly", "true"),
    ];
    let (_, body) = venue.order(&again).await;
    assert_eq!(
        code_msg(&body),
        (Some(-2022), Some("ReduceOnly Order is rejected."))
    );
    let mode = venue.signed_get("/fapi/v1/positionSide/dual", &[]).await;
    assert_eq!(mode["dualSidePosition"], false);
    let mark = venue.get_json("/fapi/v1/premiumIndex?symbol=BTCUSDT").await;
    assert_eq!(mark["markPrice"], "50000");
}

#[tokio::test]
async fn conditional_orders_are_cancelled_once() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    let get = |id: &'static str| algo_order(&venue, id);
    let algo = |kind: &'static str, trigger: &'static str, id: &'static str| {
        [
            ("algoType", "CONDITIONAL"),
            ("symbol", "BTCUSDT"),
            ("side", "SELL"),
            ("type", kind),
            ("triggerPrice", trigger),
            ("quantity", "0.01"),
            ("reduceOnly", "true"),
            ("clientAlgoId", id),
        ]
    };
    let post = reqwest::Method::POST;
    let (_, tp) = venue
        .signed(
            post,
            "/fapi/v1/algoOrder",
            &algo("TAKE_PROFIT_MARKET", "52000", "tp1"),
        )
        .await;
    let tp_id = tp["algoId"].to_string();
    let delete = reqwest::Method::DELETE;
    let (_, cancelled) = venue
        .signed(delete.clone(), "/fapi/v1/algoOrder", &[("algoId", &tp_id)])
        .await;
    assert_eq!(
        (
            cancelled["code"].as_str(),
            cancelled["clientAlgoId"].as_str()
        ),
        (Some("200"), Some("tp1")),
        "{cancelled}"
    );
    let (_, again) = venue
        .signed(delete, "/fapi/v1/algoOrder", &[("algoId", &tp_id)])
        .await;
    assert_eq!(again["code"], -2011);
    assert_eq!(get("tp1").await["algoStatus"], "CANCELED");
    assert_eq!(get("none").await["code"], -2013);
}

/// A conditional sell closing the whole position.
fn close_all<'a>(kind: &'a str, trigger: &'a str, id: &'a str) -> [(&'a str, &'a str); 7] {
    [
        ("algoType", "CONDITIONAL"),
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", kind),
        ("triggerPrice", trigger),
        ("closePosition", "true"),
        ("clientAlgoId", id),
    ]
}

#[tokio::test]
async fn spot_ack_answers_ticker_and_exchange_info() {
    let venue = Venue::start(Market::Spot, "50000").await;
    let mut ack = market_buy("0.001", "ack1").to_vec();
    ack.push(("newOrderRespType", "ACK"));
    let (status, body) = venue.order(&ack).await;
    assert_eq!(
        (status, body["clientOrderId"].as_str()),
        (200, Some("ack1"))
    );
    assert!(
        body.get("status").is_none() && body["transactTime"].is_i64(),
        "{body}"
    );
    let ticker = venue.get_json("/api/v3/ticker/price?symbol=BTCUSDT").await;
    assert_eq!(ticker["price"], "50000.00000000");
    let r = venue.get("/api/v3/ticker/price?symbol=NOPE").await;
    assert_eq!(
        answer(r).await,
        (
            400,
            serde_json::json!({"code": -1121, "msg": "Invalid symbol."})
        )
    );
    let rules = venue.first_rules("/api/v3/exchangeInfo").await;
    assert_eq!(
        (rules.step, rules.tick, rules.min_notional),
        (d("0.00001"), d("0.01"), d("5"))
    );
}

#[tokio::test]
async fn leverage_and_margin_type_settings() {
    let venue = Venue::start(Market::UsdM, "50000").await;
    let post = |params: &'static [(&'static str, &'static str)], path: &'static str| {
        venue.signed(reqwest::Method::POST, path, params)
    };
    let (_, body) = post(
        &[("symbol", "BTCUSDT"), ("leverage", "5")],
        "/fapi/v1/leverage",
    )
    .await;
    assert_eq!(
        (body["leverage"].as_u64(), body["symbol"].as_str()),
        (Some(5), Some("BTCUSDT"))
    );
    let (_, body) = post(
        &[("symbol", "BTCUSDT"), ("leverage", "126")],
        "/fapi/v1/leverage",
    )
    .await;
    assert_eq!(body["code"], -4028);
    let isolated = &[("symbol", "BTCUSDT"), ("marginType", "ISOLATED")];
    assert_eq!(
        post(isolated, "/fapi/v1/marginType").await.1["msg"],
        "success"
    );
    let (_, again) = post(isolated, "/fapi/v1/marginType").await;
    assert_eq!(
        code_msg(&again),
        (Some(-4046), Some("No need to change margin type."))
    );
    let risk = venue.position_risk().await;
    assert_eq!(
        (risk[0]["leverage"].as_str(), risk[0]["marginType"].as_str()),
        (Some("5"), Some("isolated"))
    );
}

#[tokio::test]
async fn new_orders_past_the_announced_limit_are_refused_until_the_window_ends() {
    let mut config = EmulatorConfig::new(Market::UsdM, KEY, SECRET);
    config.prices = vec![("BTCUSDT".into(), d("50000"))];
    config.orders_per_10s = 2;
    let venue = Venue::with(config).await;
    // Start at the beginning of a 10 s window, so that the three orders
    // share it.
    let into_window = now_ms().rem_euclid(10_000);
    if into_window > 5_000 {
        tokio::time::sleep(Duration::from_millis((10_050 - into_window) as u64)).await;
    }
    let info: ExchangeInfo = reqwest::get(format!("{}/fapi/v1/exchangeInfo", venue.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        info.caps()
            .iter()
            .any(|c| c.interval == "10s" && c.limit == 2),
        "announced"
    );
    for id in ["w1", "w2"] {
        let sent = venue
            .signed_now(
                reqwest::Method::POST,
                "/fapi/v1/order",
                &market_buy("0.01", id),
            )
            .await
            .unwrap();
        assert_eq!(
            sent.headers()["x-mbx-order-count-10s"],
            id[1..].to_string().as_str()
        );
        assert_eq!(sent.status().as_u16(), 200);
    }
    let third = venue
        .signed_now(
            reqwest::Method::POST,
            "/fapi/v1/order",
            &market_buy("0.01", "w3"),
        )
        .await
        .unwrap();
    let (status, retry_after) = status_retry_after(&third);
    assert_eq!(status, 429);
    assert!(
        (1..=10).contains(&retry_after.parse::<i64>().unwrap()),
        "{retry_after}"
    );
    let (_, body) = answer(third).await;
    assert_eq!(code_msg(&body).0, Some(-1015));
    assert_eq!(venue.placed().await, 2, "refused before placing");
    // Queries are not orders: still answered.
    assert_eq!(venue.query("w1").await.0, 200);
}
