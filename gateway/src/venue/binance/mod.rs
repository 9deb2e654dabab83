//! Binance Spot and USDⓈ-M futures: what the venue layer needs to speak
//! to them: endpoints, symbols, request signing and the trading rules of
//! `exchangeInfo` (here), the [`BinanceVenue`] client ([`client`]) and
//! the reading of its answers, with the error classification table
//! ([`answers`]).
//!
//! A `NotFound` from a cancel is not proof that an order never existed
//! (Binance answers "Unknown order sent." for an order already filled):
//! an unknown outcome is resolved with a query, which itself forgets
//! cancelled or expired orders without fills after a few days (USDⓈ-M:
//! three days; conditional orders likewise).
//!
//! No exchange SDK crate: the few endpoints used are plain signed REST
//! calls, and an SDK would bring its own HTTP stack, retry behaviour (an
//! order POST must never be retried blindly here) and float amounts
//! (orders are exact decimals end to end). Signing is the validator's own
//! HMAC-SHA256 ([`alertgate_validator::auth::hmac_sha256`]).

use std::collections::BTreeMap;

use alertgate_validator::auth::hmac_sha256;
use alertgate_validator::Decimal;
use serde::Deserialize;

use super::http::{RateCap, Usage};
use super::rules::TradingRules;

pub mod answers;
pub mod client;

pub use answers::{add, divide, order_status, Call, Effect};
pub use client::{split_symbol, BinanceSettings, BinanceVenue, Credentials, Secret, SetupError};

/// Which Binance market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Market {
    /// Spot (`/api/v3`).
    Spot,
    /// USDⓈ-M futures (`/fapi/v1`).
    UsdM,
}

impl Market {
    /// The REST base URL: production, or the test endpoints with
    /// `testnet` (Spot testnet, USDⓈ-M demo trading).
    pub fn base_url(self, testnet: bool) -> &'static str {
        match (self, testnet) {
            (Market::Spot, false) => "https://api.binance.com",
            (Market::Spot, true) => "https://testnet.binance.vision",
            (Market::UsdM, false) => "https://fapi.binance.com",
            (Market::UsdM, true) => "https://demo-fapi.binance.com",
        }
    }

    /// The path of `endpoint` (`order`, `exchangeInfo`, `time`, …).
    pub fn path(self, endpoint: &str) -> String {
        match self {
            Market::Spot => format!("/api/v3/{endpoint}"),
            Market::UsdM => format!("/fapi/v1/{endpoint}"),
        }
    }
}

/// The venue's name of `symbol` (`BTC/USDT` → `BTCUSDT`).
pub fn venue_symbol(symbol: &str) -> String {
    symbol.chars().filter(|c| *c != '/').collect()
}

/// The lowercase hex HMAC-SHA256 of `payload` (the query string, then the
/// body, as sent) under `secret`: Binance's `signature` parameter.
pub fn signature(secret: &[u8], payload: &str) -> String {
    let tag = hmac_sha256(secret, &[payload.as_bytes()]);
    let mut hex = String::with_capacity(64);
    for b in tag {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    hex
}

/// `params` as a query string with `recvWindow`, `timestamp` (the
/// venue's clock: the local one plus the measured offset) and, last, its
/// `signature`. Values are sent as they are: they are symbols, decimals,
/// enum names and client ids of `[A-Za-z0-9]`, none needing escapes.
pub fn signed_query(
    params: &[(&str, &str)],
    recv_window_ms: u64,
    timestamp_ms: i64,
    secret: &[u8],
) -> String {
    let mut query = String::new();
    let window = recv_window_ms.to_string();
    let timestamp = timestamp_ms.to_string();
    let all = params.iter().copied().chain([
        ("recvWindow", window.as_str()),
        ("timestamp", timestamp.as_str()),
    ]);
    for (i, (name, value)) in all.enumerate() {
        if i > 0 {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(value);
    }
    let signature = signature(secret, &query);
    query.push_str("&signature=");
    query.push_str(&signature);
    query
}

/// The part of `GET exchangeInfo` the gateway reads.
#[derive(Debug, Deserialize)]
pub struct ExchangeInfo {
    /// Every symbol the market lists.
    pub symbols: Vec<SymbolInfo>,
    /// The request and order limits.
    #[serde(default, rename = "rateLimits")]
    pub rate_limits: Vec<RateLimitInfo>,
}

/// One of `exchangeInfo.rateLimits`:
/// `{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000}`.
#[derive(Debug, Deserialize)]
pub struct RateLimitInfo {
    /// `REQUEST_WEIGHT`, `ORDERS` or `RAW_REQUESTS`.
    #[serde(rename = "rateLimitType")]
    pub kind: String,
    /// `SECOND`, `MINUTE`, `HOUR` or `DAY`.
    pub interval: String,
    /// How many of them.
    #[serde(rename = "intervalNum")]
    pub count: u32,
    /// The most allowed per interval.
    pub limit: u64,
}

impl ExchangeInfo {
    /// The limits the usage headers report on (`REQUEST_WEIGHT` as
    /// `X-MBX-USED-WEIGHT-*`, `ORDERS` as `X-MBX-ORDER-COUNT-*`), named by
    /// their headers' interval (`1m`, `10s`, `1d`); others are left out.
    pub fn caps(&self) -> Vec<RateCap> {
        self.rate_limits
            .iter()
            .filter_map(|r| {
                let usage = match r.kind.as_str() {
                    "REQUEST_WEIGHT" => Usage::UsedWeight,
                    "ORDERS" => Usage::OrderCount,
                    _ => return None,
                };
                let unit = match r.interval.as_str() {
                    "SECOND" => 's',
                    "MINUTE" => 'm',
                    "HOUR" => 'h',
                    "DAY" => 'd',
                    _ => return None,
                };
                Some(RateCap {
                    usage,
                    interval: format!("{}{unit}", r.count),
                    limit: r.limit,
                })
            })
            .collect()
    }
}

/// One listed symbol.
#[derive(Debug, Deserialize)]
pub struct SymbolInfo {
    /// `BTCUSDT`.
    pub symbol: String,
    /// `TRADING` when orders are taken.
    pub status: String,
    /// `BTC` (absent from older answers and test bodies).
    #[serde(default, rename = "baseAsset")]
    pub base_asset: Option<String>,
    /// `USDT`.
    #[serde(default, rename = "quoteAsset")]
    pub quote_asset: Option<String>,
    /// Its filters, as listed.
    #[serde(default)]
    pub filters: Vec<BTreeMap<String, serde_json::Value>>,
}

/// Why `exchangeInfo` could not be read.
#[derive(Debug, thiserror::Error)]
#[error("exchangeInfo: symbol {symbol}, filter {filter}: {field} {problem}")]
pub struct FilterError {
    /// The symbol.
    pub symbol: String,
    /// The filter type.
    pub filter: String,
    /// The field.
    pub field: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Whether a notional filter's flag `field` (`applyMinToMarket`, ...)
/// holds market orders to it: only an explicit `false` exempts them (a
/// rule misread as absent would let through what the venue refuses).
fn applies(filter: &BTreeMap<String, serde_json::Value>, field: &str) -> bool {
    filter.get(field).and_then(serde_json::Value::as_bool) != Some(false)
}

impl SymbolInfo {
    /// Its trading rules. Unknown filters are ignored; a known one with an
    /// unreadable number is an error (a rule misread would let orders
    /// through that the venue refuses, or refuse good ones).
    pub fn rules(&self) -> Result<TradingRules, FilterError> {
        let mut rules = TradingRules::default();
        for filter in &self.filters {
            let kind = filter
                .get("filterType")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let num = |field: &str| self.number(kind, filter, field);
            match kind {
                "LOT_SIZE" => {
                    rules.step = num("stepSize")?;
                    rules.min_quantity = num("minQty")?;
                    rules.max_quantity = num("maxQty")?;
                }
                "MARKET_LOT_SIZE" => {
                    rules.market_step = num("stepSize")?;
                    rules.max_market_quantity = num("maxQty")?;
                }
                "PRICE_FILTER" => rules.tick = num("tickSize")?,
                // Spot's `NOTIONAL` (and its older `MIN_NOTIONAL`).
                "NOTIONAL" => {
                    rules.min_notional = num("minNotional")?;
                    if filter.contains_key("maxNotional") {
                        rules.max_notional = num("maxNotional")?;
                    }
                    rules.market_exempt_min_notional = !applies(filter, "applyMinToMarket");
                    rules.market_exempt_max_notional = !applies(filter, "applyMaxToMarket");
                }
                // Spot: `minNotional`; USDⓈ-M: `notional`.
                "MIN_NOTIONAL" if filter.contains_key("notional") => {
                    rules.min_notional = num("notional")?;
                }
                "MIN_NOTIONAL" => {
                    rules.min_notional = num("minNotional")?;
                    rules.market_exempt_min_notional = !applies(filter, "applyToMarket");
                }
                _ => {}
            }
        }
        Ok(rules)
    }

    fn number(
        &self,
        kind: &str,
        filter: &BTreeMap<String, serde_json::Value>,
        field: &str,
    ) -> Result<Decimal, FilterError> {
        let error = |problem| FilterError {
            symbol: self.symbol.clone(),
            filter: kind.to_string(),
            field: field.to_string(),
            problem,
        };
        let text = filter
            .get(field)
            .ok_or_else(|| error("is missing"))?
            .as_str()
            .ok_or_else(|| error("is not a decimal string"))?;
        Decimal::parse(text).ok_or_else(|| error("is not a decimal string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's documented example: Spot, `POST /api/v3/order`
    /// ("SIGNED Endpoint Examples for POST /api/v3/order - HMAC Keys").
    #[test]
    fn spot_documented_signature() {
        let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            signature(secret, query),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        let params = [
            ("symbol", "LTCBTC"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
        ];
        assert_eq!(
            signed_query(&params, 5000, 1_499_827_319_559, secret),
            format!("{query}&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")
        );
    }

    /// Binance's documented example: USDⓈ-M futures, `POST /fapi/v1/order`.
    #[test]
    fn usdm_documented_signature() {
        let secret = b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
        let params = [
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("quantity", "1"),
            ("price", "9000"),
            ("timeInForce", "GTC"),
        ];
        let query = signed_query(&params, 5000, 1_591_702_613_943, secret);
        assert!(
            query.ends_with(
                "&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
            ),
            "{query}"
        );
    }

    #[test]
    fn symbols_and_endpoints() {
        assert_eq!(venue_symbol("BTC/USDT"), "BTCUSDT");
        assert_eq!(
            Market::Spot.base_url(true),
            "https://testnet.binance.vision"
        );
        assert_eq!(Market::UsdM.base_url(true), "https://demo-fapi.binance.com");
        assert_eq!(Market::UsdM.path("order"), "/fapi/v1/order");
        assert_eq!(Market::Spot.path("exchangeInfo"), "/api/v3/exchangeInfo");
    }

    #[test]
    fn rate_limits_are_read_as_the_usage_headers_name_them() {
        // As Binance Spot documents `exchangeInfo.rateLimits`.
        let text = r#"{"symbols":[],"rateLimits":[
            {"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000},
            {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":100},
            {"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":200000},
            {"rateLimitType":"RAW_REQUESTS","interval":"MINUTE","intervalNum":5,"limit":61000}]}"#;
        let info: ExchangeInfo = serde_json::from_str(text).unwrap();
        let caps: Vec<(Usage, String, u64)> = info
            .caps()
            .into_iter()
            .map(|c| (c.usage, c.interval, c.limit))
            .collect();
        assert_eq!(
            caps,
            [
                (Usage::UsedWeight, "1m".to_string(), 6000),
                (Usage::OrderCount, "10s".to_string(), 100),
                (Usage::OrderCount, "1d".to_string(), 200000),
            ]
        );
    }

    #[test]
    fn rules_are_read_from_exchange_info() {
        // Shaped as the venues document `exchangeInfo` (trimmed).
        let spot = r#"{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","filters":[
            {"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},
            {"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"},
            {"filterType":"ICEBERG_PARTS","limit":10},
            {"filterType":"MARKET_LOT_SIZE","minQty":"0.00000000","maxQty":"112.5","stepSize":"0.00000000"},
            {"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5}]}]}"#;
        let info: ExchangeInfo = serde_json::from_str(spot).unwrap();
        assert!(info.caps().is_empty(), "no rateLimits, no caps");
        let r = info.symbols[0].rules().unwrap();
        let d = |s| Decimal::parse(s).unwrap();
        assert_eq!(
            (r.tick, r.step, r.min_quantity, r.max_quantity),
            (d("0.01"), d("0.00001"), d("0.00001"), d("9000"))
        );
        assert_eq!((r.market_step, r.max_market_quantity), (d("0"), d("112.5")));
        assert_eq!((r.min_notional, r.max_notional), (d("5"), d("9000000")));
        // Binance holds market orders to the minimum, not to the maximum.
        assert_eq!(
            (r.market_exempt_min_notional, r.market_exempt_max_notional),
            (false, true)
        );
        use alertgate_validator::Side;
        let big = r.apply(Side::Buy, true, d("100"), None, None, Some(d("100000")));
        assert_eq!(
            big.map(|r| r.quantity),
            Ok(d("100")),
            "10,000,000 at the market"
        );
        let big_limit = r.apply(Side::Buy, false, d("100"), Some(d("100000")), None, None);
        assert_eq!(
            big_limit.map_err(|e| e.code()),
            Err("venue_above_max_notional")
        );
        let small = r.apply(Side::Buy, true, d("0.00001"), None, None, Some(d("50000")));
        assert_eq!(small.map_err(|e| e.code()), Err("venue_below_min_notional"));
        let usdm = r#"{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","filters":[
            {"filterType":"MIN_NOTIONAL","notional":"100"}]}]}"#;
        let info: ExchangeInfo = serde_json::from_str(usdm).unwrap();
        assert_eq!(info.symbols[0].rules().unwrap().min_notional, d("100"));
        let bad = r#"{"symbols":[{"symbol":"X","status":"TRADING","filters":[
            {"filterType":"LOT_SIZE","minQty":0.1,"maxQty":"1","stepSize":"0.1"}]}]}"#;
        let info: ExchangeInfo = serde_json::from_str(bad).unwrap();
        let e = info.symbols[0].rules().unwrap_err().to_string();
        assert!(e.contains("LOT_SIZE") && e.contains("minQty"), "{e}");
    }
}
