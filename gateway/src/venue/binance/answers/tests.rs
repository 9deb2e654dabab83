use super::*;

fn d(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}

fn call(effect: Effect) -> Call<'static> {
    Call {
        venue: "binance-spot",
        endpoint: "order",
        effect,
        client_order_id: Some("ag1"),
    }
}

fn answer(status: u16, body: &str) -> HttpAnswer {
    HttpAnswer {
        status,
        body: body.to_string(),
    }
}

/// The classification of `status` + `{"code":code,"msg":msg}` for an order.
fn classify(status: u16, code: i64, msg: &str) -> VenueError {
    let body = serde_json::json!({ "code": code, "msg": msg }).to_string();
    call(Effect::Changes)
        .check(&answer(status, &body))
        .unwrap_err()
}

fn rejected_code(status: u16, code: i64, msg: &str) -> &'static str {
    match classify(status, code, msg) {
        VenueError::Rejected {
            code: stable,
            venue_code,
            ..
        } => {
            assert_eq!(venue_code, code);
            stable
        }
        other => panic!("{code} {msg}: {other:?}"),
    }
}

#[test]
fn every_rejection_row_of_the_table() {
    let rows: [(i64, &str, &str); 36] = [
        (-4002, "Price greater than max price.", "venue_filter_failure"),
        (-4016, "Price is higher than mark price multiplier cap.", "venue_filter_failure"),
        (-4024, "Price is lower than mark price multiplier floor.", "venue_filter_failure"),
        (-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit", "venue_filter_failure"),
        (-4183, "Price is higher than stop price multiplier cap.", "venue_filter_failure"),
        (-4184, "Price is lower than stop price multiplier floor.", "venue_filter_failure"),
        (-1003, "Too many requests queued.", "venue_rate_limited"),
        (-1015, "Too many new orders.", "venue_rate_limited"),
        (-2021, "Order would immediately trigger.", "venue_would_trigger_immediately"),
        (-4142, "REJECT: take profit or stop order will be triggered immediately", "venue_would_trigger_immediately"),
        (-4118, "ReduceOnly Order Failed.", "venue_reduce_only_rejected"),
        (-4015, "Client order id is not valid.", "venue_invalid_order"),
        (-1013, "Filter failure: LOT_SIZE", "venue_filter_failure"),
        (-1111, "Precision is over the maximum defined for this asset.", "venue_filter_failure"),
        (-4003, "Quantity less than or equal to zero.", "venue_filter_failure"),
        (-4004, "Quantity less than min quantity.", "venue_filter_failure"),
        (-4005, "Quantity greater than max quantity.", "venue_filter_failure"),
        (-4013, "Price less than min price.", "venue_filter_failure"),
        (-4014, "Price not increased by tick size.", "venue_filter_failure"),
        (-4023, "Quantity not increased by step size.", "venue_filter_failure"),
        (-4164, "Order's notional must be no smaller than 100", "venue_filter_failure"),
        (-2010, "Account has insufficient balance for requested action.", "venue_insufficient_balance"),
        (-2010, "Market is closed.", "venue_order_rejected"),
        (-2011, "Order was not canceled due to cancel restrictions.", "venue_cancel_rejected"),
        (-1021, "Timestamp for this request is outside of the recvWindow.", "venue_timestamp_outside_window"),
        (-1022, "Signature for this request is not valid.", "venue_bad_signature"),
        (-2014, "API-key format invalid.", "venue_bad_api_key"),
        (-2015, "Invalid API-key, IP, or permissions for action.", "venue_bad_api_key"),
        (-1002, "You are not authorized to execute this request.", "venue_bad_api_key"),
        (-2019, "Margin is insufficient.", "venue_insufficient_margin"),
        (-2018, "Balance is insufficient.", "venue_insufficient_margin"),
        (-2022, "ReduceOnly Order is rejected.", "venue_reduce_only_rejected"),
        (-1121, "Invalid symbol.", "venue_unknown_symbol"),
        (-4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.", "venue_order_type_unsupported"),
        (-4061, "Order's position side does not match user's setting.", "venue_position_side_mismatch"),
        (-9999, "Something new.", "venue_error"),
    ];
    for (code, msg, stable) in rows {
        assert_eq!(rejected_code(400, code, msg), stable, "{code} {msg}");
    }
}

#[test]
fn duplicates_are_told_apart() {
    let dup = VenueError::Duplicate {
        venue: "binance-spot",
        client_order_id: "ag1".into(),
    };
    assert_eq!(classify(400, -2010, "Duplicate order sent."), dup);
    assert_eq!(classify(400, -4116, "ClientOrderId is duplicated."), dup);
    assert_eq!(dup.code(), "venue_duplicate_order");
    assert!(dup.had_no_effect());
}

#[test]
fn unknown_orders_are_not_found() {
    let missing = VenueError::NotFound {
        venue: "binance-spot",
        client_order_id: "ag1".into(),
    };
    assert_eq!(classify(400, -2013, "Order does not exist."), missing);
    assert_eq!(classify(400, -2011, "Unknown order sent."), missing);
}

#[test]
fn execution_status_unknown_whatever_the_status() {
    for status in [200, 400, 408, 500, 503] {
        let e = classify(
            status,
            -1007,
            "Timeout waiting for response from backend server.",
        );
        assert!(matches!(e, VenueError::Unknown { .. }), "{status}: {e:?}");
    }
    assert!(matches!(
        classify(400, -1006, "x"),
        VenueError::Unknown { .. }
    ));
    // A 5xx is unknown even with a rejection code or no body at all.
    for status in [500, 502, 599] {
        let e = classify(status, -2010, "x");
        assert!(matches!(e, VenueError::Unknown { .. }), "{status}: {e:?}");
    }
    assert!(matches!(
        classify(499, -2010, "x"),
        VenueError::Rejected { .. }
    ));
    let e = call(Effect::ReadOnly)
        .check(&answer(503, "<html>busy</html>"))
        .unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
    let e = call(Effect::Changes).check(&answer(302, "")).unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
}

#[test]
fn a_4xx_without_an_error_body_is_a_rejection() {
    let e = call(Effect::Changes)
        .check(&answer(403, "<html>WAF</html>"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            VenueError::Rejected {
                code: "venue_error",
                venue_code: 0,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_2xx_is_ok_unless_it_carries_a_negative_code() {
    assert_eq!(
        call(Effect::Changes).check(&answer(200, "{\"a\":1}")),
        Ok("{\"a\":1}")
    );
    // `POST /fapi/v1/marginType` answers so on success.
    let ok = r#"{"code":200,"msg":"success"}"#;
    assert_eq!(call(Effect::Changes).check(&answer(200, ok)), Ok(ok));
    assert_eq!(
        rejected_code(200, -4046, "No need to change margin type."),
        "venue_error"
    );
}

#[test]
fn an_unreadable_2xx_is_unknown_only_if_it_may_have_changed_something() {
    let e = call(Effect::Changes)
        .parse::<SpotOrder>("{\"orderId\":")
        .unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
    let e = call(Effect::ReadOnly).parse::<SpotOrder>("[]").unwrap_err();
    assert!(
        matches!(
            e,
            VenueError::Malformed {
                endpoint: "order",
                ..
            }
        ),
        "{e:?}"
    );
    // A number where a decimal string is documented, an absurd decimal.
    let e = call(Effect::ReadOnly)
        .parse::<ServerTime>(r#"{"serverTime":"soon"}"#)
        .unwrap_err();
    assert!(matches!(e, VenueError::Malformed { .. }), "{e:?}");
    let body = r#"{"orderId":1,"clientOrderId":"a","status":"NEW","executedQty":1e400}"#;
    assert!(call(Effect::Changes).parse::<SpotOrder>(body).is_err());
}

/// `POST /api/v3/order`, `newOrderRespType=FULL`, as documented.
const SPOT_FULL: &str = r#"{
    "symbol": "BTCUSDT", "orderId": 28, "orderListId": -1,
    "clientOrderId": "6gCrw2kRUAF9CvJDGP16IP", "transactTime": 1507725176595,
    "price": "0.00000000", "origQty": "10.00000000", "executedQty": "10.00000000",
    "origQuoteOrderQty": "0.000000", "cummulativeQuoteQty": "10.00000000",
    "status": "FILLED", "timeInForce": "GTC", "type": "MARKET", "side": "SELL",
    "workingTime": 1507725176595, "selfTradePreventionMode": "NONE",
    "fills": [
        {"price": "4000.00000000", "qty": "1.00000000", "commission": "4.00000000", "commissionAsset": "USDT", "tradeId": 56},
        {"price": "3999.00000000", "qty": "5.00000000", "commission": "19.99500000", "commissionAsset": "USDT", "tradeId": 57}
    ]
}"#;

#[test]
fn spot_order_answers_are_read() {
    let c = call(Effect::Changes);
    let r = c.parse::<SpotOrder>(SPOT_FULL).unwrap().report(&c).unwrap();
    assert_eq!(r.client_order_id, "6gCrw2kRUAF9CvJDGP16IP");
    assert_eq!(r.venue_order_id, "28");
    assert_eq!(r.status, OrderStatus::Filled);
    assert_eq!(r.executed_quantity, d("10"));
    // cummulativeQuoteQty / executedQty (the documented example's numbers).
    assert_eq!(r.average_price, Some(d("1")));
    assert_eq!(r.updated_ms, 1_507_725_176_595);
    // `GET /api/v3/order`, as documented.
    let query = r#"{"symbol":"LTCBTC","orderId":1,"orderListId":-1,"clientOrderId":"myOrder1",
        "price":"0.1","origQty":"1.0","executedQty":"0.0","cummulativeQuoteQty":"0.0",
        "status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY","stopPrice":"0.0",
        "icebergQty":"0.0","time":1499827319559,"updateTime":1499827319559,"isWorking":true,
        "workingTime":1499827319559,"origQuoteOrderQty":"0.000000","selfTradePreventionMode":"NONE"}"#;
    let r = c.parse::<SpotOrder>(query).unwrap().report(&c).unwrap();
    assert_eq!((r.status, r.average_price), (OrderStatus::New, None));
    // `DELETE /api/v3/order`: the cancelled order's id is origClientOrderId.
    let cancel = r#"{"symbol":"LTCBTC","origClientOrderId":"myOrder1","orderId":4,"orderListId":-1,
        "clientOrderId":"cancelMyOrder1","transactTime":1684804350068,"price":"2.00000000",
        "origQty":"1.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000",
        "cummulativeQuoteQty":"0.00000000","status":"CANCELED","timeInForce":"GTC",
        "type":"LIMIT","side":"BUY","selfTradePreventionMode":"NONE"}"#;
    let r = c.parse::<SpotOrder>(cancel).unwrap().report(&c).unwrap();
    assert_eq!(r.client_order_id, "myOrder1");
    assert_eq!(
        (r.status, r.updated_ms),
        (OrderStatus::Canceled, 1_684_804_350_068)
    );
    // An undocumented status is an unknown outcome for an order call.
    let odd = SPOT_FULL.replace("\"FILLED\"", "\"HALF_DONE\"");
    let e = c.parse::<SpotOrder>(&odd).unwrap().report(&c).unwrap_err();
    assert!(matches!(e, VenueError::Unknown { .. }), "{e:?}");
}

/// `POST /fapi/v1/order`, as documented (`RESULT`, trimmed of unread fields).
const FUTURES_ORDER: &str = r#"{"clientOrderId":"testOrder","cumQty":"0","cumQuote":"0",
    "executedQty":"0","orderId":22542179,"avgPrice":"0.00000","origQty":"10","price":"0",
    "reduceOnly":false,"side":"BUY","positionSide":"SHORT","status":"NEW","stopPrice":"9300",
    "closePosition":false,"symbol":"BTCUSDT","timeInForce":"GTD","type":"TRAILING_STOP_MARKET",
    "origType":"TRAILING_STOP_MARKET","activatePrice":"9020","priceRate":"0.3",
    "updateTime":1566818724722,"workingType":"CONTRACT_PRICE","priceProtect":false,
    "priceMatch":"NONE","selfTradePreventionMode":"NONE","goodTillDate":1693207680000}"#;

#[test]
fn futures_order_answers_are_read() {
    let c = call(Effect::Changes);
    let r = c
        .parse::<FuturesOrder>(FUTURES_ORDER)
        .unwrap()
        .report(&c)
        .unwrap();
    assert_eq!(r.venue_order_id, "22542179");
    assert_eq!((r.status, r.average_price), (OrderStatus::New, None));
    assert_eq!(r.updated_ms, 1_566_818_724_722);
    let filled = FUTURES_ORDER
        .replace("\"executedQty\":\"0\"", "\"executedQty\":\"10\"")
        .replace("\"avgPrice\":\"0.00000\"", "\"avgPrice\":\"9000.5\"")
        .replace("\"NEW\"", "\"FILLED\"");
    let r = c
        .parse::<FuturesOrder>(&filled)
        .unwrap()
        .report(&c)
        .unwrap();
    assert_eq!(
        (r.status, r.average_price),
        (OrderStatus::Filled, Some(d("9000.5")))
    );
}

#[test]
fn algo_order_answers_are_read() {
    let c = call(Effect::Changes);
    let body = r#"{"algoId":2146760,"clientAlgoId":"6B2I9XVcJpCjqPAJ4YoFX7","algoType":"CONDITIONAL",
        "orderType":"TAKE_PROFIT_MARKET","symbol":"BNBUSDT","side":"SELL","positionSide":"BOTH",
        "timeInForce":"GTC","quantity":"0.01","algoStatus":"NEW","triggerPrice":"750.000",
        "price":"0.000","reduceOnly":true,"createTime":1750485492076,"updateTime":1750485492076,
        "triggerTime":0}"#;
    let r = c.parse::<AlgoOrder>(body).unwrap().report(&c).unwrap();
    assert_eq!(r.venue_order_id, "algo-2146760");
    assert_eq!(r.client_order_id, "6B2I9XVcJpCjqPAJ4YoFX7");
    assert_eq!(
        (r.status, r.executed_quantity),
        (OrderStatus::New, Decimal::ZERO)
    );
    let done = body
        .replace("\"NEW\"", "\"FINISHED\"")
        .replace("\"price\":\"0.000\"", "\"actualPrice\":\"751.5\"");
    let r = c.parse::<AlgoOrder>(&done).unwrap().report(&c).unwrap();
    assert_eq!(
        (r.status, r.executed_quantity, r.average_price),
        (OrderStatus::Filled, d("0.01"), Some(d("751.5")))
    );
    let triggered = body.replace("\"NEW\"", "\"TRIGGERED\"");
    let r = c
        .parse::<AlgoOrder>(&triggered)
        .unwrap()
        .report(&c)
        .unwrap();
    assert_eq!((r.status, r.average_price), (OrderStatus::New, None));
    let odd = body.replace("\"NEW\"", "\"LIMBO\"");
    assert!(c.parse::<AlgoOrder>(&odd).unwrap().report(&c).is_err());
}

#[test]
fn accounts_are_read() {
    let spot = r#"{"makerCommission":15,"canTrade":true,"updateTime":123456789,"accountType":"SPOT",
        "balances":[{"asset":"BTC","free":"4723846.89208129","locked":"0.00000000"},
                    {"asset":"LTC","free":"0.00000000","locked":"0.00000000"}],
        "permissions":["SPOT"],"uid":354937868}"#;
    let a = call(Effect::ReadOnly)
        .parse::<SpotAccount>(spot)
        .unwrap()
        .account();
    assert_eq!(a.balances.len(), 1);
    assert_eq!(a.free("BTC"), d("4723846.89208129"));
    assert_eq!(a.equity, None);
    let futures = r#"{"totalInitialMargin":"0.00000000","totalWalletBalance":"103.12345678",
        "totalUnrealizedProfit":"-3.12345678","totalMarginBalance":"100.00000000",
        "availableBalance":"90.00000000",
        "assets":[{"asset":"USDT","walletBalance":"103.12345678","unrealizedProfit":"-3.12345678",
                   "availableBalance":"90.00000000","updateTime":1625474304765}],
        "positions":[{"symbol":"BTCUSDT","positionSide":"BOTH","positionAmt":"-0.500",
                      "unrealizedProfit":"-3.12345678","notional":"-30000.25","updateTime":0},
                     {"symbol":"ETHUSDT","positionSide":"BOTH","positionAmt":"0.000",
                      "notional":"0","updateTime":0}]}"#;
    let c = call(Effect::ReadOnly);
    let a = c
        .parse::<FuturesAccount>(futures)
        .unwrap()
        .account(&c, |s| format!("{}/USDT", s.trim_end_matches("USDT")))
        .unwrap();
    assert_eq!(a.equity, Some(d("100")));
    assert_eq!(a.balances[0].free, d("90"));
    assert_eq!(a.balances[0].locked, d("13.12345678"));
    assert_eq!(a.positions.len(), 1);
    assert_eq!(a.position("BTC/USDT"), d("-0.5"));
    assert_eq!(a.positions[0].mark_price, Some(d("60000.5")));
}

#[test]
fn exact_sums_and_truncated_quotients() {
    assert_eq!(add(d("103.12345678"), d("-3.12345678")), Some(d("100")));
    assert_eq!(add(d("0.1"), d("0.2")), Some(d("0.3")));
    assert_eq!(add(d("999999999999999999"), d("1")), None);
    assert_eq!(divide(d("10"), d("4")), Some(d("2.5")));
    assert_eq!(divide(d("30000.25"), d("0.5")), Some(d("60000.5")));
    assert_eq!(divide(d("1"), d("3")), Some(d("0.333333333333333333")));
    assert_eq!(divide(d("200"), d("3")), Some(d("66.6666666666666666")));
    assert_eq!(divide(d("5"), d("0.00000001")), Some(d("500000000")));
    assert_eq!(divide(d("1"), d("0")), None);
    assert_eq!(divide(d("-1"), d("2")), None);
    assert_eq!(divide(d("900000000000000000"), d("0.1")), None);
}

#[test]
fn statuses_map_onto_the_venue_layers() {
    assert_eq!(order_status("EXPIRED_IN_MATCH"), Some(OrderStatus::Expired));
    assert_eq!(
        order_status("PARTIALLY_FILLED"),
        Some(OrderStatus::PartiallyFilled)
    );
    assert_eq!(order_status("PENDING_NEW"), Some(OrderStatus::New));
    assert_eq!(order_status("filled"), None);
}
