//! [`BinanceVenue`]: the [`Venue`] trait over Binance's REST API, Spot or
//! USDⓈ-M futures. One call is one request: nothing is retried here (an
//! order POST must never be retried blindly; the caller resolves an
//! unknown outcome by querying).
//!
//! Signed parameters go in the query string of `GET` and `DELETE`, and in
//! the form body of `POST` (so a signed order never sits in a URL a proxy
//! might log). Values are symbols, decimals, enum names and client ids of
//! `[A-Za-z0-9]` (checked before sending), none needing escapes.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alertgate_validator::{Decimal, Side};
use reqwest::Method;

use super::answers::{
    AlgoOrder, Call, Effect, FuturesAccount, FuturesOrder, PositionMode, PremiumIndex, ServerTime,
    SpotAccount, SpotOrder, TickerPrice,
};
use super::{signed_query, venue_symbol, ExchangeInfo, Market};
use crate::venue::http::{HttpSettings, RateLimits, UsageHeaders, VenueHttp};
use crate::venue::{
    client_order_id_is_portable, Account, ErrorCounts, OrderReport, TradingRules, Venue,
    VenueError, VenueKind, VenueOrder, VenueOrderKind,
};

/// Quote assets tried, in order, to name a position's symbol when
/// `exchangeInfo` has not been read yet.
const FALLBACK_QUOTES: [&str; 6] = ["USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB"];

/// A secret string: its `Debug` prints `<redacted>` (and it has no
/// `Display`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for signing and headers only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An API key and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The API key (`X-MBX-APIKEY`).
    pub api_key: Secret,
    /// The HMAC secret.
    pub secret: Secret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// Why a [`BinanceVenue`] could not be set up. Never holds a key's value.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// An environment variable is missing, empty or not UTF-8.
    #[error("environment variable {name} {problem}")]
    Env {
        /// The variable's name.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The API key cannot be an HTTP header value.
    #[error("the API key is not a valid HTTP header value")]
    BadApiKey,
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

impl Credentials {
    /// The key and secret read from the environment variables named
    /// `key_env` and `secret_env`.
    pub fn from_env(key_env: &str, secret_env: &str) -> Result<Credentials, SetupError> {
        let read = |name: &str| -> Result<Secret, SetupError> {
            let problem = match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => return Ok(Secret(v.trim().to_string())),
                Ok(_) => "is empty",
                Err(std::env::VarError::NotPresent) => "is not set",
                Err(std::env::VarError::NotUnicode(_)) => "is not UTF-8",
            };
            Err(SetupError::Env {
                name: name.to_string(),
                problem,
            })
        };
        Ok(Credentials {
            api_key: read(key_env)?,
            secret: read(secret_env)?,
        })
    }
}

/// How to reach Binance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinanceSettings {
    /// Spot or USDⓈ-M.
    pub market: Market,
    /// The REST base URL (default [`Market::base_url`]; a local server in
    /// tests).
    pub base_url: String,
    /// `recvWindow`, ms (default 5000).
    pub recv_window_ms: u64,
    /// The whole request's timeout (default 10 s).
    pub timeout: Duration,
}

impl BinanceSettings {
    /// The defaults for `market`, production or test endpoints.
    pub fn new(market: Market, testnet: bool) -> BinanceSettings {
        BinanceSettings {
            market,
            base_url: market.base_url(testnet).to_string(),
            recv_window_ms: 5000,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Binance Spot or USDⓈ-M futures as a [`Venue`].
#[derive(Debug, Clone)]
pub struct BinanceVenue {
    settings: BinanceSettings,
    credentials: Credentials,
    http: VenueHttp,
    /// Venue symbol → `BASE/QUOTE`, from the last `exchangeInfo`.
    names: Arc<Mutex<HashMap<String, String>>>,
    /// Every call that ended in an error, counted once.
    errors: Arc<ErrorCounts>,
}

/// One request to send.
struct Request<'a> {
    method: Method,
    endpoint: &'static str,
    path: String,
    params: Vec<(&'static str, String)>,
    signed: bool,
    call: Call<'a>,
}

impl BinanceVenue {
    /// A venue with `settings`, signing with `credentials`.
    pub fn new(
        settings: BinanceSettings,
        credentials: Credentials,
    ) -> Result<BinanceVenue, SetupError> {
        reqwest::header::HeaderValue::from_str(credentials.api_key.expose())
            .map_err(|_| SetupError::BadApiKey)?;
        let http_settings = HttpSettings {
            timeout: settings.timeout,
            ..HttpSettings::default()
        };
        let usage = UsageHeaders {
            used_weight_prefix: Some("X-MBX-USED-WEIGHT-"),
            // Both markets count orders per 10 s, and per day (spot) or
            // minute (futures).
            order_count_prefix: Some("X-MBX-ORDER-COUNT-"),
        };
        let kind = Self::kind_of(settings.market);
        let http = VenueHttp::new(kind.name(), http_settings, usage).map_err(SetupError::Http)?;
        Ok(BinanceVenue {
            settings,
            credentials,
            http,
            names: Arc::default(),
            errors: Arc::new(ErrorCounts::new(kind.name())),
        })
    }

    fn kind_of(market: Market) -> VenueKind {
        match market {
            Market::Spot => VenueKind::BinanceSpot,
            Market::UsdM => VenueKind::BinanceUsdm,
        }
    }

    fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The rate-limit state: the last `X-MBX-USED-WEIGHT-1M` and order
    /// count seen, and whether requests are held back.
    pub fn limits(&self) -> &Arc<RateLimits> {
        self.http.limits()
    }

    /// The calls that ended in an error, by code (each call once, however
    /// many requests it took).
    pub fn errors(&self) -> &Arc<ErrorCounts> {
        &self.errors
    }

    /// The last `X-MBX-USED-WEIGHT-1M` seen.
    pub fn used_weight_1m(&self) -> Option<u64> {
        interval(self.limits().used_weight(), "1m")
    }

    /// The last `X-MBX-ORDER-COUNT-10S` seen.
    pub fn order_count_10s(&self) -> Option<u64> {
        interval(self.limits().order_count(), "10s")
    }

    fn call<'a>(&self, endpoint: &'static str, effect: Effect, id: Option<&'a str>) -> Call<'a> {
        Call {
            venue: self.name(),
            endpoint,
            effect,
            client_order_id: id,
        }
    }

    /// The body (signed POST) or query (anything else) of `request`.
    fn encode(&self, request: &Request<'_>, timestamp_ms: i64) -> String {
        let params: Vec<(&str, &str)> = request
            .params
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        if request.signed {
            let secret = self.credentials.secret.expose().as_bytes();
            signed_query(&params, self.settings.recv_window_ms, timestamp_ms, secret)
        } else {
            let pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.join("&")
        }
    }

    /// Sends `request` and returns the body of a success.
    async fn send(&self, request: &Request<'_>, timestamp_ms: i64) -> Result<String, VenueError> {
        let url = format!(
            "{}{}",
            self.settings.base_url.trim_end_matches('/'),
            request.path
        );
        let encoded = self.encode(request, timestamp_ms);
        let client = self.http.client();
        let mut builder = if request.method == Method::POST {
            client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(encoded)
        } else if encoded.is_empty() {
            client.request(request.method.clone(), url)
        } else {
            client.request(request.method.clone(), format!("{url}?{encoded}"))
        };
        if request.signed {
            builder = builder.header("X-MBX-APIKEY", self.credentials.api_key.expose());
        }
        // What Binance counts against its `ORDERS` limits: new orders.
        let places = request.method == Method::POST
            && matches!(request.endpoint, "order" | "algoOrder" | lists::NEW_OCO);
        let answer = self.http.execute(builder, places).await;
        let status = match &answer {
            Ok(a) => a.status.to_string(),
            Err(e) => e.code().to_string(),
        };
        let endpoint = format!("{} {}", request.method.as_str(), request.endpoint);
        self.http.limits().count(endpoint, status);
        request.call.check(&answer?).map(str::to_string)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        request: Request<'_>,
        timestamp_ms: i64,
    ) -> Result<T, VenueError> {
        let body = self.send(&request, timestamp_ms).await?;
        request.call.parse(&body)
    }

    fn public(
        &self,
        endpoint: &'static str,
        params: Vec<(&'static str, String)>,
    ) -> Request<'static> {
        Request {
            method: Method::GET,
            endpoint,
            path: self.settings.market.path(endpoint),
            params,
            signed: false,
            call: self.call(endpoint, Effect::ReadOnly, None),
        }
    }

    fn usdm_only(&self, what: &str) -> Result<(), VenueError> {
        match self.settings.market {
            Market::UsdM => Ok(()),
            Market::Spot => Err(VenueError::Rejected {
                venue: self.name(),
                code: "venue_unsupported",
                venue_code: 0,
                message: format!("{what} exists on USDⓈ-M futures only"),
            }),
        }
    }

    /// The venue's name of `symbol`, refused unless `[A-Z0-9]+`.
    fn symbol(&self, symbol: &str) -> Result<String, VenueError> {
        let venue = venue_symbol(symbol);
        if venue.is_empty()
            || !venue
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(VenueError::UnknownSymbol {
                venue: self.name(),
                symbol: symbol.to_string(),
            });
        }
        Ok(venue)
    }

    fn check_id(&self, id: &str) -> Result<(), VenueError> {
        if client_order_id_is_portable(id) {
            Ok(())
        } else {
            Err(self.invalid(format!("client order id {id:?} is not [A-Za-z0-9]{{1,32}}")))
        }
    }

    fn invalid(&self, message: String) -> VenueError {
        VenueError::Rejected {
            venue: self.name(),
            code: "venue_invalid_order",
            venue_code: 0,
            message,
        }
    }

    /// `BASE/QUOTE` of a venue symbol: from `exchangeInfo` if read, else by
    /// a common quote suffix, else the venue's name.
    fn gate_symbol(&self, venue: &str) -> String {
        if let Some(name) = self.names.lock().ok().and_then(|n| n.get(venue).cloned()) {
            return name;
        }
        split_symbol(venue, &FALLBACK_QUOTES).unwrap_or_else(|| venue.to_string())
    }
}

/// `BASE/QUOTE` when `venue` ends with one of `quotes` after a non-empty
/// base.
pub fn split_symbol(venue: &str, quotes: &[&str]) -> Option<String> {
    quotes.iter().find_map(|q| {
        let base = venue.strip_suffix(q)?;
        (!base.is_empty()).then(|| format!("{base}/{q}"))
    })
}

/// A decimal as Binance takes it: [`Decimal`]'s `Display` writes plain
/// digits (never an exponent, never a `+`); only a positive value is sent.
fn positive(d: Decimal, what: &str) -> Result<String, String> {
    if d.is_positive() {
        Ok(d.to_string())
    } else {
        Err(format!("{what} {d} is not positive"))
    }
}

fn side(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

mod lists;
mod orders;

#[cfg(test)]
mod tests;

/// The counter of `interval` among `counters`.
fn interval(counters: Vec<(String, u64)>, interval: &str) -> Option<u64> {
    counters
        .into_iter()
        .find_map(|(i, v)| (i == interval).then_some(v))
}
