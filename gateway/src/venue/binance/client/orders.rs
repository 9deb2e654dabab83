//! The calls: the [`Venue`] trait and the USDⓈ-M extras, each one request
//! (two for a USDⓈ-M query or cancel of an id the order book does not
//! know: conditional orders live at `algoOrder`).

use super::*;

impl BinanceVenue {
    pub(super) fn signed<'a>(
        &self,
        method: Method,
        endpoint: &'static str,
        params: Vec<(&'static str, String)>,
        call: Call<'a>,
    ) -> Request<'a> {
        Request {
            method,
            endpoint,
            path: self.settings.market.path(endpoint),
            params,
            signed: true,
            call,
        }
    }

    /// The request placing `order` (the path and parameters, in the order
    /// sent), or why it cannot be sent.
    pub(super) fn order_request<'a>(
        &self,
        order: &'a VenueOrder,
    ) -> Result<Request<'a>, VenueError> {
        let usdm = self.settings.market == Market::UsdM;
        let Some((endpoint, kind, trigger)) = order_shape(order.kind, usdm) else {
            return self.oco_request(order);
        };
        self.check_id(&order.client_order_id)?;
        let decimal = |d, what| positive(d, what).map_err(|m| self.invalid(m));
        let mut params: Vec<(&'static str, String)> = Vec::with_capacity(10);
        if endpoint == "algoOrder" {
            params.push(("algoType", "CONDITIONAL".into()));
        }
        params.push(("symbol", self.symbol(&order.symbol)?));
        params.push(("side", side(order.side).into()));
        params.push(("type", kind.into()));
        if let VenueOrderKind::Limit { .. } = order.kind {
            params.push(("timeInForce", "GTC".into()));
        }
        params.push(("quantity", decimal(order.quantity, "quantity")?));
        if let VenueOrderKind::Limit { price } = order.kind {
            params.push(("price", decimal(price, "price")?));
        }
        if let Some((name, value)) = trigger {
            params.push((name, decimal(value, "trigger")?));
        }
        if usdm && order.reduce_only {
            params.push(("reduceOnly", "true".into()));
        }
        let id = order.client_order_id.clone();
        if endpoint == "algoOrder" {
            params.push(("clientAlgoId", id));
        } else {
            params.push(("newClientOrderId", id));
            let resp = if usdm { "RESULT" } else { "FULL" };
            params.push(("newOrderRespType", resp.into()));
        }
        let call = self.call(endpoint, Effect::Changes, Some(&order.client_order_id));
        Ok(self.signed(Method::POST, endpoint, params, call))
    }

    /// A report from an order answer of this market (`algo`: of
    /// `algoOrder`).
    fn report(&self, body: &str, call: &Call<'_>, algo: bool) -> Result<OrderReport, VenueError> {
        match (self.settings.market, algo) {
            (Market::Spot, _) => call.parse::<SpotOrder>(body)?.report(call),
            (Market::UsdM, false) => call.parse::<FuturesOrder>(body)?.report(call),
            (Market::UsdM, true) => call.parse::<AlgoOrder>(body)?.report(call),
        }
    }

    /// `GET`/`DELETE order` by client id; on USDⓈ-M, an id the order book
    /// does not know is looked up among conditional orders.
    async fn by_client_id(
        &self,
        method: Method,
        symbol: &str,
        id: &str,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        let endpoint = format!("{} order", method.as_str());
        let result = self
            .by_client_id_once(method, symbol, id, timestamp_ms)
            .await;
        self.errors.note(&endpoint, result)
    }

    async fn by_client_id_once(
        &self,
        method: Method,
        symbol: &str,
        id: &str,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        self.check_id(id)?;
        let venue_symbol = self.symbol(symbol)?;
        let effect = if method == Method::GET {
            Effect::ReadOnly
        } else {
            Effect::Changes
        };
        let params = vec![
            ("symbol", venue_symbol),
            ("origClientOrderId", id.to_string()),
        ];
        let call = self.call("order", effect, Some(id));
        let request = self.signed(method.clone(), "order", params, call);
        match self.send(&request, timestamp_ms).await {
            Ok(body) => self.report(&body, &call, false),
            // An id the order book does not know may be an order list's.
            Err(VenueError::NotFound { .. }) if self.settings.market == Market::Spot => {
                if method == Method::GET {
                    self.query_list(symbol, id, timestamp_ms).await
                } else {
                    self.cancel_list(symbol, id, timestamp_ms).await
                }
            }
            Err(VenueError::NotFound { .. }) if self.settings.market == Market::UsdM => {
                // Documented parameters: algoId or clientAlgoId, no symbol.
                let params = vec![("clientAlgoId", id.to_string())];
                let call = self.call("algoOrder", effect, Some(id));
                let request = self.signed(method, "algoOrder", params, call);
                let body = self.send(&request, timestamp_ms).await?;
                self.algo_report(&body, &call, request.method == Method::DELETE)
            }
            Err(e) => Err(e),
        }
    }

    /// An `algoOrder` answer; a cancel's answer holds the ids only, so a
    /// successful one is reported cancelled.
    fn algo_report(
        &self,
        body: &str,
        call: &Call<'_>,
        cancel: bool,
    ) -> Result<OrderReport, VenueError> {
        if !cancel {
            return self.report(body, call, true);
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cancelled {
            algo_id: i64,
            client_algo_id: String,
        }
        let c: Cancelled = call.parse(body)?;
        Ok(OrderReport {
            client_order_id: c.client_algo_id,
            venue_order_id: format!("algo-{}", c.algo_id),
            status: crate::venue::OrderStatus::Canceled,
            executed_quantity: Decimal::ZERO,
            average_price: None,
            updated_ms: 0,
        })
    }

    /// Sets `symbol`'s leverage (USDⓈ-M, `POST /fapi/v1/leverage`) and
    /// checks that the venue's answer names it (`venue_leverage_not_set`
    /// otherwise).
    pub async fn set_leverage(
        &self,
        symbol: &str,
        leverage: u32,
        timestamp_ms: i64,
    ) -> Result<(), VenueError> {
        let result = async {
            self.usdm_only("leverage")?;
            let params = vec![
                ("symbol", self.symbol(symbol)?),
                ("leverage", leverage.to_string()),
            ];
            let call = self.call("leverage", Effect::Changes, None);
            let body = self
                .send(
                    &self.signed(Method::POST, "leverage", params, call),
                    timestamp_ms,
                )
                .await?;
            self.leverage_set(symbol, leverage, &body)
        }
        .await;
        self.errors.note("POST leverage", result)
    }

    /// Checks, not assumes, that the answer to `POST leverage` names the
    /// leverage asked for (`venue_leverage_not_set` otherwise).
    fn leverage_set(&self, symbol: &str, leverage: u32, body: &str) -> Result<(), VenueError> {
        #[derive(serde::Deserialize)]
        struct Set {
            leverage: u32,
        }
        let set: Set = serde_json::from_str(body).map_err(|e| VenueError::Malformed {
            venue: self.name(),
            endpoint: "leverage",
            reason: e.to_string(),
        })?;
        if set.leverage != leverage {
            return Err(VenueError::Rejected {
                venue: self.name(),
                code: "venue_leverage_not_set",
                venue_code: 0,
                message: format!(
                    "{symbol}: asked for leverage {leverage}, the venue set {}",
                    set.leverage
                ),
            });
        }
        Ok(())
    }

    /// Sets `symbol`'s margin type, isolated or crossed (USDⓈ-M, `POST
    /// /fapi/v1/marginType`); "No need to change margin type" (-4046) is
    /// success.
    pub async fn set_margin_type(
        &self,
        symbol: &str,
        isolated: bool,
        timestamp_ms: i64,
    ) -> Result<(), VenueError> {
        let result = self.margin_type(symbol, isolated, timestamp_ms).await;
        self.errors.note("POST marginType", result)
    }

    async fn margin_type(
        &self,
        symbol: &str,
        isolated: bool,
        timestamp_ms: i64,
    ) -> Result<(), VenueError> {
        self.usdm_only("margin type")?;
        let kind = if isolated { "ISOLATED" } else { "CROSSED" };
        let params = vec![
            ("symbol", self.symbol(symbol)?),
            ("marginType", kind.to_string()),
        ];
        let call = self.call("marginType", Effect::Changes, None);
        match self
            .send(
                &self.signed(Method::POST, "marginType", params, call),
                timestamp_ms,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(VenueError::Rejected {
                venue_code: -4046, ..
            }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether the account is in one-way position mode (USDⓈ-M, `GET
    /// /fapi/v1/positionSide/dual`).
    pub async fn is_one_way_mode(&self, timestamp_ms: i64) -> Result<bool, VenueError> {
        let result = async {
            self.usdm_only("position mode")?;
            let call = self.call("positionSide/dual", Effect::ReadOnly, None);
            let request = self.signed(Method::GET, "positionSide/dual", Vec::new(), call);
            let mode: PositionMode = self.get(request, timestamp_ms).await?;
            Ok(!mode.dual_side_position)
        }
        .await;
        self.errors.note("GET positionSide/dual", result)
    }

    /// `symbol`'s mark price (USDⓈ-M `GET /fapi/v1/premiumIndex`), or its
    /// last price on Spot (`GET /api/v3/ticker/price`).
    pub async fn mark_price(&self, symbol: &str) -> Result<Decimal, VenueError> {
        let (endpoint, result) = match self.settings.market {
            Market::UsdM => ("GET premiumIndex", self.premium_index(symbol).await),
            Market::Spot => ("GET ticker/price", self.ticker_price(symbol).await),
        };
        self.errors.note(endpoint, result)
    }

    async fn premium_index(&self, symbol: &str) -> Result<Decimal, VenueError> {
        let params = vec![("symbol", self.symbol(symbol)?)];
        let p: PremiumIndex = self.get(self.public("premiumIndex", params), 0).await?;
        Ok(p.mark_price)
    }

    async fn ticker_price(&self, symbol: &str) -> Result<Decimal, VenueError> {
        let params = vec![("symbol", self.symbol(symbol)?)];
        let t: TickerPrice = self.get(self.public("ticker/price", params), 0).await?;
        Ok(t.price)
    }

    /// Reads `exchangeInfo` into rules by `BASE/QUOTE`, remembering the
    /// names for positions.
    fn rules_of(&self, info: ExchangeInfo, quotes: &[&str]) -> Vec<(String, TradingRules)> {
        let mut out = Vec::new();
        let mut names = HashMap::new();
        for s in info.symbols.iter().filter(|s| s.status == "TRADING") {
            let name = match (&s.base_asset, &s.quote_asset) {
                (Some(b), Some(q)) if !b.is_empty() && !q.is_empty() => format!("{b}/{q}"),
                _ => split_symbol(&s.symbol, quotes).unwrap_or_else(|| s.symbol.clone()),
            };
            match s.rules() {
                Ok(rules) => {
                    names.insert(s.symbol.clone(), name.clone());
                    out.push((name, rules));
                }
                // One unreadable symbol is left out (orders on it are then
                // refused as an unknown symbol), not every symbol.
                Err(e) => tracing::warn!(venue = self.name(), "{e}; symbol left out"),
            }
        }
        if let Ok(mut map) = self.names.lock() {
            *map = names;
        }
        out
    }
}

/// The endpoint, `type` and trigger parameter of an order kind (none for
/// an OCO: a list, see [`super::lists`]). Since 2025-12-09 USDⓈ-M
/// conditional orders go to the algo service (the order endpoint answers
/// -4120); Spot's stop and take-profit market orders are `STOP_LOSS` and
/// `TAKE_PROFIT` with `stopPrice`.
type Shape = (&'static str, &'static str, Option<(&'static str, Decimal)>);

fn order_shape(kind: VenueOrderKind, usdm: bool) -> Option<Shape> {
    use VenueOrderKind::{Limit, Market as AtMarket, Oco, StopMarket, TakeProfitMarket};
    Some(match (kind, usdm) {
        (Oco { .. }, _) => return None,
        (AtMarket, _) => ("order", "MARKET", None),
        (Limit { .. }, _) => ("order", "LIMIT", None),
        (StopMarket { trigger }, true) => {
            ("algoOrder", "STOP_MARKET", Some(("triggerPrice", trigger)))
        }
        (StopMarket { trigger }, false) => ("order", "STOP_LOSS", Some(("stopPrice", trigger))),
        (TakeProfitMarket { trigger }, true) => (
            "algoOrder",
            "TAKE_PROFIT_MARKET",
            Some(("triggerPrice", trigger)),
        ),
        (TakeProfitMarket { trigger }, false) => {
            ("order", "TAKE_PROFIT", Some(("stopPrice", trigger)))
        }
    })
}

impl Venue for BinanceVenue {
    fn kind(&self) -> VenueKind {
        Self::kind_of(self.settings.market)
    }

    async fn server_time(&self) -> Result<i64, VenueError> {
        let result = self.get(self.public("time", Vec::new()), 0).await;
        let t: ServerTime = self.errors.note("GET time", result)?;
        Ok(t.server_time)
    }

    async fn trading_rules(
        &self,
        quotes: &[&str],
    ) -> Result<Vec<(String, TradingRules)>, VenueError> {
        // Spot lists thousands of symbols: ask for the trading ones only
        // (a documented filter; USDⓈ-M has none, the status is checked
        // again for both).
        let params = match self.settings.market {
            Market::Spot => vec![("symbolStatus", "TRADING".to_string())],
            Market::UsdM => Vec::new(),
        };
        let result = self.get(self.public("exchangeInfo", params), 0).await;
        let info: ExchangeInfo = self.errors.note("GET exchangeInfo", result)?;
        self.http.limits().set_caps(info.caps());
        Ok(self.rules_of(info, quotes))
    }

    async fn submit(
        &self,
        order: &VenueOrder,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        let request = self.order_request(order);
        let endpoint = match &request {
            Ok(r) => format!("POST {}", r.endpoint),
            Err(_) => "POST order".to_string(),
        };
        let result = async {
            let request = request?;
            let body = self.send(&request, timestamp_ms).await?;
            if request.endpoint == super::lists::NEW_OCO {
                return self.list_answer(&body, &request.call);
            }
            self.report(&body, &request.call, request.endpoint == "algoOrder")
        }
        .await;
        self.errors.note(&endpoint, result)
    }

    async fn query(
        &self,
        symbol: &str,
        client_order_id: &str,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        self.by_client_id(Method::GET, symbol, client_order_id, timestamp_ms)
            .await
    }

    async fn cancel(
        &self,
        symbol: &str,
        client_order_id: &str,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        self.by_client_id(Method::DELETE, symbol, client_order_id, timestamp_ms)
            .await
    }

    async fn account(&self, timestamp_ms: i64) -> Result<Account, VenueError> {
        let result = self.read_account(timestamp_ms).await;
        self.errors.note("GET account", result)
    }

    async fn mark_price(&self, symbol: &str) -> Result<Decimal, VenueError> {
        BinanceVenue::mark_price(self, symbol).await
    }

    async fn base_commission(
        &self,
        symbol: &str,
        report: &OrderReport,
        timestamp_ms: i64,
    ) -> Result<Decimal, VenueError> {
        let result = self
            .spot_base_commission(symbol, report, timestamp_ms)
            .await;
        self.errors.note("GET myTrades", result)
    }
}

impl BinanceVenue {
    async fn read_account(&self, timestamp_ms: i64) -> Result<Account, VenueError> {
        let call = self.call("account", Effect::ReadOnly, None);
        match self.settings.market {
            Market::Spot => {
                let params = vec![("omitZeroBalances", "true".to_string())];
                let request = self.signed(Method::GET, "account", params, call);
                let a: SpotAccount = self.get(request, timestamp_ms).await?;
                Ok(a.account())
            }
            Market::UsdM => {
                let mut request = self.signed(Method::GET, "account", Vec::new(), call);
                // The current version of the account endpoint.
                request.path = "/fapi/v3/account".into();
                let a: FuturesAccount = self.get(request, timestamp_ms).await?;
                a.account(&call, |s| self.gate_symbol(s))
            }
        }
    }
}
