use super::*;

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode, Uri};
use tokio::io::AsyncReadExt;

use crate::venue::binance::signature;
use crate::venue::OrderStatus;

const SPOT_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

fn d(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}

fn credentials() -> Credentials {
    Credentials {
        api_key: Secret::new(API_KEY.into()),
        secret: Secret::new(SPOT_SECRET.into()),
    }
}

fn venue(market: Market, base_url: &str) -> BinanceVenue {
    let mut settings = BinanceSettings::new(market, true);
    settings.base_url = base_url.to_string();
    settings.timeout = Duration::from_millis(500);
    BinanceVenue::new(settings, credentials()).unwrap()
}

fn order(kind: VenueOrderKind, reduce_only: bool) -> VenueOrder {
    VenueOrder {
        client_order_id: "ag42".into(),
        symbol: "BTC/USDT".into(),
        side: Side::Buy,
        kind,
        quantity: d("0.001"),
        reduce_only,
        leg: None,
    }
}

/// The path and unsigned part of the request placing `order`.
fn built(market: Market, order: &VenueOrder) -> (String, String) {
    let v = venue(market, "http://127.0.0.1:1");
    let request = v.order_request(order).unwrap();
    let encoded = v.encode(&request, 1_499_827_319_559);
    let (unsigned, sig) = encoded.rsplit_once("&signature=").unwrap();
    assert_eq!(sig, signature(SPOT_SECRET.as_bytes(), unsigned));
    (request.path, unsigned.to_string())
}

#[test]
fn spot_orders_are_built_as_documented() {
    let limit = VenueOrderKind::Limit {
        price: d("67000.5"),
    };
    assert_eq!(
        built(Market::Spot, &order(limit, true)),
        (
            "/api/v3/order".into(),
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=67000.5\
             &newClientOrderId=ag42&newOrderRespType=FULL&recvWindow=5000&timestamp=1499827319559"
                .into()
        )
    );
    let (_, market) = built(Market::Spot, &order(VenueOrderKind::Market, false));
    assert!(market.starts_with("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=ag42&newOrderRespType=FULL&"), "{market}");
    let stop = VenueOrderKind::StopMarket {
        trigger: d("60000"),
    };
    let (_, q) = built(Market::Spot, &order(stop, false));
    assert!(q.starts_with("symbol=BTCUSDT&side=BUY&type=STOP_LOSS&quantity=0.001&stopPrice=60000&newClientOrderId=ag42&"), "{q}");
    let tp = VenueOrderKind::TakeProfitMarket {
        trigger: d("70000"),
    };
    let (_, q) = built(Market::Spot, &order(tp, false));
    assert!(
        q.contains("&type=TAKE_PROFIT&quantity=0.001&stopPrice=70000&"),
        "{q}"
    );
}

#[test]
fn futures_orders_are_built_as_documented() {
    let (path, q) = built(Market::UsdM, &order(VenueOrderKind::Market, true));
    assert_eq!(path, "/fapi/v1/order");
    assert_eq!(
        q,
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&reduceOnly=true&newClientOrderId=ag42\
         &newOrderRespType=RESULT&recvWindow=5000&timestamp=1499827319559"
    );
    let (_, q) = built(Market::UsdM, &order(VenueOrderKind::Market, false));
    assert!(!q.contains("reduceOnly"), "{q}");
    let stop = VenueOrderKind::StopMarket {
        trigger: d("60000.1"),
    };
    let (path, q) = built(Market::UsdM, &order(stop, true));
    assert_eq!(path, "/fapi/v1/algoOrder");
    assert_eq!(
        q,
        "algoType=CONDITIONAL&symbol=BTCUSDT&side=BUY&type=STOP_MARKET&quantity=0.001\
         &triggerPrice=60000.1&reduceOnly=true&clientAlgoId=ag42&recvWindow=5000&timestamp=1499827319559"
    );
    let tp = VenueOrderKind::TakeProfitMarket {
        trigger: d("70000"),
    };
    let (_, q) = built(Market::UsdM, &order(tp, false));
    assert!(
        q.contains("&type=TAKE_PROFIT_MARKET&quantity=0.001&triggerPrice=70000&clientAlgoId=ag42&"),
        "{q}"
    );
}

#[test]
fn decimals_are_written_plainly_and_bad_orders_never_leave() {
    // Display never writes an exponent or a `+`, whatever was parsed.
    for (text, shown) in [
        ("1e-8", "0.00000001"),
        ("1.5e3", "1500"),
        ("0.10", "0.1"),
        ("1E2", "100"),
    ] {
        assert_eq!(d(text).to_string(), shown);
    }
    let v = venue(Market::Spot, "http://127.0.0.1:1");
    let mut bad = order(VenueOrderKind::Market, false);
    bad.quantity = Decimal::ZERO;
    assert_eq!(
        v.order_request(&bad).err().unwrap().code(),
        "venue_invalid_order"
    );
    let mut bad = order(VenueOrderKind::Limit { price: d("-1") }, false);
    bad.client_order_id = "ag42".into();
    assert_eq!(
        v.order_request(&bad).err().unwrap().code(),
        "venue_invalid_order"
    );
    let mut bad = order(VenueOrderKind::Market, false);
    bad.client_order_id = "ag-42&x=1".into();
    assert_eq!(
        v.order_request(&bad).err().unwrap().code(),
        "venue_invalid_order"
    );
    let mut bad = order(VenueOrderKind::Market, false);
    bad.symbol = "btc/usdt&x".into();
    assert_eq!(
        v.order_request(&bad).err().unwrap().code(),
        "venue_unknown_symbol"
    );
}

#[test]
fn secrets_never_show() {
    let v = venue(Market::Spot, "http://127.0.0.1:1");
    let shown = format!("{v:?} {:?} {:?}", credentials(), credentials().secret);
    assert!(
        !shown.contains(SPOT_SECRET) && !shown.contains(API_KEY),
        "{shown}"
    );
    assert!(shown.contains("<redacted>"));
}

#[test]
fn credentials_name_the_missing_variable() {
    let e = Credentials::from_env("AG_TEST_SURELY_UNSET_KEY", "AG_TEST_SURELY_UNSET_SECRET")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment variable AG_TEST_SURELY_UNSET_KEY is not set"
    );
}

#[test]
fn symbols_split_on_quotes() {
    assert_eq!(
        split_symbol("BTCUSDT", &["USDC", "USDT"]),
        Some("BTC/USDT".into())
    );
    assert_eq!(split_symbol("USDT", &["USDT"]), None);
    assert_eq!(split_symbol("BTCEUR", &["USDT"]), None);
}

/// What the canned server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    api_key: Option<String>,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A server answering every request with `status`, `headers` and `body`.
async fn canned(
    status: u16,
    headers: &[(&'static str, &'static str)],
    body: &'static str,
) -> (String, Log) {
    let log: Log = Arc::default();
    let seen = log.clone();
    let headers: Vec<_> = headers.to_vec();
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method, uri: Uri, h: HeaderMap, text: String| {
            let seen = seen.clone();
            let headers = headers.clone();
            async move {
                seen.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    uri: uri.to_string(),
                    api_key: h
                        .get("x-mbx-apikey")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                    body: text,
                });
                let mut response = axum::response::Response::new(axum::body::Body::from(body));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                for (k, v) in headers {
                    response.headers_mut().insert(k, v.parse().unwrap());
                }
                response
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), log)
}

/// A server that reads the request and then `then` (never answers, or
/// closes the connection).
async fn raw(answer_never: bool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            if answer_never {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            drop(socket);
        }
    });
    addr
}

const SPOT_FILLED: &str = r#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"ag42",
    "transactTime":1507725176595,"price":"0.00000000","origQty":"0.00100000",
    "executedQty":"0.00100000","cummulativeQuoteQty":"67.00050000","status":"FILLED",
    "timeInForce":"GTC","type":"MARKET","side":"BUY","fills":[]}"#;

#[tokio::test]
async fn a_spot_order_is_posted_signed_in_the_body() {
    let (url, log) = canned(
        200,
        &[
            ("X-MBX-USED-WEIGHT-1M", "7"),
            ("X-MBX-ORDER-COUNT-10S", "3"),
        ],
        SPOT_FILLED,
    )
    .await;
    let v = venue(Market::Spot, &url);
    let r = v
        .submit(&order(VenueOrderKind::Market, false), 1_499_827_319_559)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.average_price),
        (OrderStatus::Filled, Some(d("67000.5")))
    );
    assert_eq!(
        (v.used_weight_1m(), v.order_count_10s()),
        (Some(7), Some(3))
    );
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(
        (seen.method.as_str(), seen.uri.as_str()),
        ("POST", "/api/v3/order")
    );
    assert_eq!(seen.api_key.as_deref(), Some(API_KEY));
    let (unsigned, sig) = seen.body.rsplit_once("&signature=").unwrap();
    assert_eq!(sig, signature(SPOT_SECRET.as_bytes(), unsigned));
}

#[tokio::test]
async fn queries_and_cancels_go_by_client_id() {
    let (url, log) = canned(400, &[], r#"{"code":-2013,"msg":"Order does not exist."}"#).await;
    let v = venue(Market::Spot, &url);
    let e = v.query("BTC/USDT", "ag42", 1).await.unwrap_err();
    assert_eq!(
        e,
        VenueError::NotFound {
            venue: "binance-spot",
            client_order_id: "ag42".into()
        }
    );
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "GET");
    assert!(seen.uri.starts_with("/api/v3/order?symbol=BTCUSDT&origClientOrderId=ag42&recvWindow=5000&timestamp=1&signature="), "{}", seen.uri);
    // Spot: an id the order book does not know is looked for among the
    // order lists (documented: by `origClientOrderId`, no symbol).
    let listed = log.lock().unwrap()[1].clone();
    assert!(
        listed.uri.starts_with(
            "/api/v3/orderList?origClientOrderId=ag42&recvWindow=5000&timestamp=1&signature="
        ),
        "{}",
        listed.uri
    );
    let e = v.cancel("BTC/USDT", "ag42", 1).await.unwrap_err();
    assert_eq!(e.code(), "venue_order_not_found");
    // One count per call, not per request (each asked two endpoints).
    assert_eq!(v.errors().counts(), [("venue_order_not_found", 2)]);
    let cancelled = log.lock().unwrap()[3].clone();
    assert_eq!(cancelled.method, "DELETE");
    assert!(
        cancelled
            .uri
            .starts_with("/api/v3/orderList?symbol=BTCUSDT&listClientOrderId=ag42&"),
        "{}",
        cancelled.uri
    );
    log.lock().unwrap().clear();
    // USDⓈ-M: an id the order book does not know is looked for among the
    // conditional orders.
    let v = venue(Market::UsdM, &url);
    let e = v.cancel("BTC/USDT", "ag42", 1).await.unwrap_err();
    assert_eq!(e.code(), "venue_order_not_found");
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "DELETE");
    assert!(
        seen[0]
            .uri
            .starts_with("/fapi/v1/order?symbol=BTCUSDT&origClientOrderId=ag42&"),
        "{}",
        seen[0].uri
    );
    assert!(
        seen[1]
            .uri
            .starts_with("/fapi/v1/algoOrder?clientAlgoId=ag42&recvWindow=5000&"),
        "{}",
        seen[1].uri
    );
}

#[tokio::test]
async fn a_5xx_leaves_the_outcome_unknown() {
    let (url, _) = canned(503, &[], "Service Unavailable").await;
    let v = venue(Market::Spot, &url);
    let e = v
        .submit(&order(VenueOrderKind::Market, false), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
    assert_eq!(v.errors().counts(), [("venue_outcome_unknown", 1)]);
}

#[tokio::test]
async fn an_unreadable_order_answer_is_unknown() {
    let (url, _) = canned(200, &[], r#"{"orderId":"#).await;
    let v = venue(Market::UsdM, &url);
    let e = v
        .submit(&order(VenueOrderKind::Market, false), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
    // An answer misread after a 200 is counted too, once.
    assert_eq!(v.errors().counts(), [("venue_outcome_unknown", 1)]);
}

#[tokio::test]
async fn a_silent_server_times_out_into_unknown() {
    let addr = raw(true).await;
    let e = venue(Market::Spot, &format!("http://{addr}"))
        .submit(&order(VenueOrderKind::Market, false), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
    assert!(e.to_string().contains("timed out"), "{e}");
}

#[tokio::test]
async fn a_closed_connection_is_unknown() {
    let addr = raw(false).await;
    let e = venue(Market::Spot, &format!("http://{addr}"))
        .submit(&order(VenueOrderKind::Market, false), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
}

#[tokio::test]
async fn a_closed_port_is_not_sent_and_says_nothing_secret() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let v = venue(Market::Spot, &format!("http://{addr}"));
    // A signed GET: the signature is in the URL.
    let e = v.query("BTC/USDT", "ag42", 1).await.unwrap_err();
    assert!(matches!(e, VenueError::NotSent { .. }), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains("signature") && !shown.contains("ag42") && !shown.contains(API_KEY),
        "{shown}"
    );
}

#[tokio::test]
async fn a_429_holds_every_request_back_until_retry_after() {
    let (url, log) = canned(
        429,
        &[("Retry-After", "1")],
        r#"{"code":-1003,"msg":"Too many requests."}"#,
    )
    .await;
    let v = venue(Market::Spot, &url);
    let e = v.server_time().await.unwrap_err();
    assert_eq!(
        e,
        VenueError::RateLimited {
            venue: "binance-spot",
            retry_after_ms: 1000
        }
    );
    let e = v
        .submit(&order(VenueOrderKind::Market, false), 1)
        .await
        .unwrap_err();
    // Held back by the gateway itself, for what is left of the hold.
    assert!(
        matches!(&e, VenueError::RateLimited { retry_after_ms, .. } if (1..=1000).contains(retry_after_ms)),
        "{e:?}"
    );
    assert_eq!(log.lock().unwrap().len(), 1);
    // Each failed call counted once, by its code: the 429, then the
    // submit held back (refused as rate-limited for what is left).
    assert_eq!(v.errors().counts(), [("venue_rate_limited", 2)]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(v.server_time().await.is_err());
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(v.errors().counts(), [("venue_rate_limited", 3)]);
}

#[tokio::test]
async fn a_418_bans_until_retry_after() {
    let (url, log) = canned(418, &[("Retry-After", "120")], "").await;
    let v = venue(Market::UsdM, &url);
    let before = crate::venue::http::now_ms();
    let until = match v.account(1).await.unwrap_err() {
        VenueError::Banned { until_ms, .. } => until_ms,
        e => panic!("{e:?}"),
    };
    assert!(
        (before + 120_000..before + 125_000).contains(&until),
        "{until}"
    );
    let e = v.server_time().await.unwrap_err();
    assert_eq!(
        e,
        VenueError::Banned {
            venue: "binance-usdm",
            until_ms: until
        }
    );
    assert_eq!(log.lock().unwrap().len(), 1);
    // The 418, then the call held back by the ban.
    assert_eq!(v.errors().counts(), [("venue_banned", 2)]);
}

#[tokio::test]
async fn exchange_info_is_keyed_by_base_and_quote() {
    let body = r#"{"symbols":[
        {"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT","filters":[
            {"filterType":"LOT_SIZE","minQty":"0.001","maxQty":"1000","stepSize":"0.001"}]},
        {"symbol":"ETHBTC","status":"BREAK","baseAsset":"ETH","quoteAsset":"BTC","filters":[]},
        {"symbol":"XRPUSDC","status":"TRADING","filters":[]}]}"#;
    let (url, _) = canned(200, &[], body).await;
    let v = venue(Market::UsdM, &url);
    let rules = v.trading_rules(&["USDC"]).await.unwrap();
    let names: Vec<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["BTC/USDT", "XRP/USDC"]);
    assert_eq!(rules[0].1.step, d("0.001"));
    assert_eq!(v.gate_symbol("BTCUSDT"), "BTC/USDT");
    let (url, log) = canned(200, &[], r#"{"symbols":[]}"#).await;
    assert!(venue(Market::Spot, &url)
        .trading_rules(&[])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        log.lock().unwrap()[0].uri,
        "/api/v3/exchangeInfo?symbolStatus=TRADING"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_leaves_the_outcome_unknown() {
    let (url, log) = canned(302, &[("Location", "/elsewhere")], "").await;
    let e = venue(Market::Spot, &url)
        .submit(&order(VenueOrderKind::Market, false), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn margin_type_already_set_is_success() {
    let (url, _) = canned(
        400,
        &[],
        r#"{"code":-4046,"msg":"No need to change margin type."}"#,
    )
    .await;
    let v = venue(Market::UsdM, &url);
    assert_eq!(v.set_margin_type("BTC/USDT", true, 1).await, Ok(()));
    assert_eq!(
        venue(Market::Spot, &url)
            .set_leverage("BTC/USDT", 5, 1)
            .await
            .unwrap_err()
            .code(),
        "venue_unsupported"
    );
    let (url, _) = canned(200, &[], r#"{"dualSidePosition":false}"#).await;
    assert_eq!(venue(Market::UsdM, &url).is_one_way_mode(1).await, Ok(true));
    let (url, log) = canned(
        200,
        &[],
        r#"{"symbol":"BTCUSDT","markPrice":"11793.63104562","indexPrice":"11781.80495970"}"#,
    )
    .await;
    assert_eq!(
        venue(Market::UsdM, &url).mark_price("BTC/USDT").await,
        Ok(d("11793.63104562"))
    );
    assert_eq!(
        log.lock().unwrap()[0].uri,
        "/fapi/v1/premiumIndex?symbol=BTCUSDT"
    );
}

#[tokio::test]
async fn a_leverage_is_checked_against_the_venues_answer() {
    let (url, log) = canned(
        200,
        &[],
        r#"{"leverage":5,"maxNotionalValue":"1000000","symbol":"BTCUSDT"}"#,
    )
    .await;
    assert_eq!(
        venue(Market::UsdM, &url)
            .set_leverage("BTC/USDT", 5, 1)
            .await,
        Ok(())
    );
    assert!(log.lock().unwrap()[0].uri.starts_with("/fapi/v1/leverage"));
    // The venue set another leverage than asked (capped by its brackets).
    let (url, _) = canned(
        200,
        &[],
        r#"{"leverage":20,"maxNotionalValue":"1000000","symbol":"BTCUSDT"}"#,
    )
    .await;
    let e = venue(Market::UsdM, &url)
        .set_leverage("BTC/USDT", 50, 1)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "venue_leverage_not_set");
    assert!(
        e.to_string()
            .contains("asked for leverage 50, the venue set 20"),
        "{e}"
    );
    let (url, _) = canned(200, &[], r#"{"symbol":"BTCUSDT"}"#).await;
    let e = venue(Market::UsdM, &url)
        .set_leverage("BTC/USDT", 5, 1)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "venue_malformed_answer");
}

#[test]
fn every_call_is_a_send_future() {
    fn send<T: Send>(_: T) {}
    let v = venue(Market::UsdM, "http://127.0.0.1:1");
    let o = order(VenueOrderKind::Market, false);
    send(v.submit(&o, 1));
    send(v.query("BTC/USDT", "ag42", 1));
    send(v.cancel("BTC/USDT", "ag42", 1));
    send(v.account(1));
    send(v.set_leverage("BTC/USDT", 3, 1));
}

#[tokio::test]
async fn accounts_are_read_from_the_documented_endpoints() {
    let spot = r#"{"makerCommission":15,"balances":[{"asset":"BTC","free":"0.5","locked":"0.1"}]}"#;
    let (url, log) = canned(200, &[], spot).await;
    let a = venue(Market::Spot, &url).account(7).await.unwrap();
    assert_eq!((a.free("BTC"), a.balances[0].locked), (d("0.5"), d("0.1")));
    let uri = log.lock().unwrap()[0].uri.clone();
    assert!(
        uri.starts_with(
            "/api/v3/account?omitZeroBalances=true&recvWindow=5000&timestamp=7&signature="
        ),
        "{uri}"
    );
    let futures = r#"{"totalWalletBalance":"100","totalUnrealizedProfit":"2.5","assets":[],
        "positions":[{"symbol":"ETHUSDT","positionSide":"BOTH","positionAmt":"2","notional":"6000"}]}"#;
    let (url, log) = canned(200, &[], futures).await;
    let a = venue(Market::UsdM, &url).account(7).await.unwrap();
    assert_eq!(a.equity, Some(d("102.5")));
    assert_eq!(a.position("ETH/USDT"), d("2"));
    assert_eq!(a.positions[0].mark_price, Some(d("3000")));
    let uri = log.lock().unwrap()[0].uri.clone();
    assert!(
        uri.starts_with("/fapi/v3/account?recvWindow=5000&timestamp=7&signature="),
        "{uri}"
    );
    // A documented field missing: unreadable, not a panic, not a guess.
    let (url, _) = canned(200, &[], r#"{"totalWalletBalance":"100"}"#).await;
    let e = venue(Market::UsdM, &url).account(7).await.unwrap_err();
    assert!(
        matches!(
            e,
            VenueError::Malformed {
                endpoint: "account",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_spot_oco_is_built_as_documented() {
    let oco = VenueOrderKind::Oco {
        stop: d("49000.1"),
        take_profit: d("52000.1"),
    };
    let mut sell = order(oco, true);
    sell.side = Side::Sell;
    let (path, q) = built(Market::Spot, &sell);
    assert_eq!(path, "/api/v3/orderList/oco");
    assert_eq!(
        q,
        "symbol=BTCUSDT&listClientOrderId=ag42&side=SELL&quantity=0.001\
         &aboveType=TAKE_PROFIT&aboveStopPrice=52000.1&belowType=STOP_LOSS&belowStopPrice=49000.1\
         &newOrderRespType=RESULT&recvWindow=5000&timestamp=1499827319559"
    );
    // A buy OCO (closing a short) has its stop above.
    let (_, q) = built(Market::Spot, &order(oco, false));
    assert!(
        q.contains("&aboveType=STOP_LOSS&aboveStopPrice=49000.1&belowType=TAKE_PROFIT&belowStopPrice=52000.1&"),
        "{q}"
    );
    // Order lists are a Spot feature; a bad id or price never leaves.
    let usdm = venue(Market::UsdM, "http://127.0.0.1:1");
    let e = usdm.order_request(&sell).err().unwrap();
    assert_eq!(e.code(), "venue_invalid_order");
    let spot = venue(Market::Spot, "http://127.0.0.1:1");
    let mut bad = sell.clone();
    bad.client_order_id = "ag-42".into();
    assert_eq!(
        spot.order_request(&bad).err().unwrap().code(),
        "venue_invalid_order"
    );
    bad = sell.clone();
    bad.kind = VenueOrderKind::Oco {
        stop: d("0"),
        take_profit: d("52000"),
    };
    assert_eq!(
        spot.order_request(&bad).err().unwrap().code(),
        "venue_invalid_order"
    );
}
