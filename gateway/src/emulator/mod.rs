//! A Binance venue emulator (Spot and USDⓈ-M futures) with fault
//! injection: the gateway's venue layer is tested against it without a
//! network, and users run it (`alertgate venue-emulator`) to try a
//! configuration before risking money.
//!
//! It speaks the documented REST endpoints (paths, parameter names, answer
//! fields and error codes as Binance documents them), verifies every signed
//! request as Binance does ([`auth`]), keeps accounts, orders and positions
//! ([`state`]), and misbehaves on command ([`faults`]): answers lost after
//! the order is placed, 5xx before or after, -1007 "unknown", 429/418 with
//! `Retry-After`, slow answers, and orders a query cannot see yet.
//!
//! Control endpoints (not Binance's): `POST /emulator/price`
//! `{"symbol":"BTCUSDT","price":"50000"}`, `POST /emulator/faults`,
//! `POST /emulator/fees` `{"spot_fee_rate":"0.001"}`, `GET
//! /emulator/orders`, `GET /emulator/algo-orders`, `GET
//! /emulator/order-lists`, `GET /emulator/requests`, `POST
//! /emulator/reset`.
//!
//! # From a test
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use alertgate_gateway::emulator::{spawn, EmulatorConfig, FaultCommand, FaultKind};
//! use alertgate_gateway::venue::binance::Market;
//! use alertgate_validator::Decimal;
//!
//! let mut config = EmulatorConfig::new(Market::UsdM, "testkey", "testsecret");
//! config.prices = vec![("BTCUSDT".into(), Decimal::parse("50000").unwrap())];
//! let (addr, emulator) = spawn(config).await?;
//! // Point the venue client at `http://{addr}`; lose the next order's answer:
//! emulator
//!     .add_fault(FaultCommand {
//!         method: Some("POST".into()),
//!         path: Some("/fapi/v1/order".into()),
//!         fault: Some(FaultKind::LoseAnswer),
//!         ..FaultCommand::default()
//!     })
//!     .expect("a valid fault");
//! // … run the gateway, then assert on what the venue holds:
//! assert!(emulator.orders().len() <= 1);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Over HTTP, the same with `POST /emulator/faults`
//! `{"method":"POST","path":"/fapi/v1/order","fault":"lose_answer","count":1}`
//! (other fields: `status`, `placed`, `retry_after_s`, `delay_ms`, or the
//! setting `{"query_not_found_ms":N}`).
//!
//! Verification order: API key (-2014, -2015), signature (-1022), then
//! timestamp (-1021). HTTP statuses: 401 for key refusals, 400 for other
//! refusals, 404 (-1099) for an unknown path; the faults' own statuses.
//!
//! Prices are scripted, never random: a market order fills at once at its
//! symbol's price and a limit order when the price reaches its limit, at
//! the limit. There are no fees unless set (spot only, in the asset
//! received), no margin checks on futures and no partial fills (except a
//! reduce-only order larger than its position). USDⓈ-M conditional orders
//! (`/fapi/v1/algoOrder`) and Spot `STOP_LOSS` / `TAKE_PROFIT` orders and
//! OCO order lists trigger on the scripted price ([`algo`], [`lists`]).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use alertgate_validator::Decimal;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::venue::binance::Market;
use crate::venue::TradingRules;

pub mod algo;
mod answers;
pub mod auth;
pub mod faults;
pub mod lists;
pub mod num;
mod routes;
pub mod state;

pub use faults::{FaultCommand, FaultKind};
pub use state::{EmuOrder, State};

/// A value that must never be shown (an API key or secret): its `Debug`
/// prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for comparing and signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One symbol the emulator lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSpec {
    /// `BTCUSDT`.
    pub symbol: String,
    /// `BTC`.
    pub base: String,
    /// `USDT`.
    pub quote: String,
    /// Its filters (what `exchangeInfo` lists and orders are checked
    /// against).
    pub rules: TradingRules,
}

/// What an emulator runs with.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Spot or USDⓈ-M futures.
    pub market: Market,
    /// The only API key accepted (`X-MBX-APIKEY`).
    pub api_key: Secret,
    /// Its secret (HMAC-SHA256 signatures).
    pub secret: Secret,
    /// Symbols listed, with their rules.
    pub symbols: Vec<SymbolSpec>,
    /// Starting prices by venue symbol (`BTCUSDT`).
    pub prices: Vec<(String, Decimal)>,
    /// Starting balance of the quote asset (spot: USDT free; futures: the
    /// USDT wallet).
    pub quote_balance: Decimal,
    /// Added to the system clock: the emulator's clock (what `time`
    /// answers and timestamps are checked against).
    pub clock_offset_ms: i64,
    /// New orders allowed per 10 s window (`exchangeInfo.rateLimits`'
    /// `ORDERS`; one more is refused 429 `-1015`, as Binance does).
    /// Default 100, Binance Spot's.
    pub orders_per_10s: u64,
}

impl EmulatorConfig {
    /// A `market` emulator with `api_key` and `secret`, the default
    /// symbols ([`default_symbols`]), no prices and 10,000 USDT.
    pub fn new(market: Market, api_key: &str, secret: &str) -> EmulatorConfig {
        EmulatorConfig {
            market,
            api_key: Secret::new(api_key),
            secret: Secret::new(secret),
            symbols: default_symbols(market),
            prices: Vec::new(),
            quote_balance: Decimal::new(10_000, 0).unwrap_or(Decimal::ZERO),
            clock_offset_ms: 0,
            orders_per_10s: 100,
        }
    }

    /// The emulator's clock, Unix ms.
    pub fn now_ms(&self) -> i64 {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        system.saturating_add(self.clock_offset_ms)
    }
}

/// BTCUSDT and ETHUSDT with rules like Binance's own (spot: tick 0.01,
/// step 0.00001 BTC / 0.0001 ETH, minimum notional 5; futures: tick 0.10 /
/// 0.01, step 0.001, minimum notional 100 / 20).
pub fn default_symbols(market: Market) -> Vec<SymbolSpec> {
    let d = |s: &str| Decimal::parse(s).unwrap_or(Decimal::ZERO);
    let spec = |symbol: &str, base: &str, rules| SymbolSpec {
        symbol: symbol.into(),
        base: base.into(),
        quote: "USDT".into(),
        rules,
    };
    let rules = |tick, step, min_qty, max_qty, market_max, notional| TradingRules {
        step: d(step),
        min_quantity: d(min_qty),
        max_quantity: d(max_qty),
        market_step: d(step),
        max_market_quantity: d(market_max),
        tick: d(tick),
        min_notional: d(notional),
        max_notional: Decimal::ZERO,
        ..TradingRules::default()
    };
    // The same two symbols on both markets; only their rules differ.
    let (btc, eth) = match market {
        Market::Spot => (
            rules("0.01", "0.00001", "0.00001", "9000", "100", "5"),
            rules("0.01", "0.0001", "0.0001", "9000", "1000", "5"),
        ),
        Market::UsdM => (
            rules("0.10", "0.001", "0.001", "1000", "120", "100"),
            rules("0.01", "0.001", "0.001", "10000", "2000", "20"),
        ),
    };
    vec![spec("BTCUSDT", "BTC", btc), spec("ETHUSDT", "ETH", eth)]
}

/// A refusal in Binance's shape: the HTTP status and `{"code","msg"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub http: u16,
    /// Binance's error code (negative).
    pub code: i64,
    /// Binance's message.
    pub msg: String,
}

impl ApiError {
    /// A 400 with `code` and `msg`.
    pub fn bad(code: i64, msg: impl Into<String>) -> ApiError {
        ApiError {
            http: 400,
            code,
            msg: msg.into(),
        }
    }

    /// -1102 for the mandatory parameter `name`.
    pub fn mandatory(name: &str) -> ApiError {
        ApiError::bad(
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }
}

/// The state shared by every connection: the configuration and one mutex
/// over everything that changes (it need not be fast).
pub(crate) struct App {
    pub(crate) config: EmulatorConfig,
    pub(crate) state: Mutex<State>,
}

impl App {
    /// The state, even if a handler panicked while holding it (the state is
    /// updated in whole steps, so it is still consistent).
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running emulator: inspect it in-process, or stop it.
pub struct EmulatorHandle {
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorHandle").finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// Every order ever placed, oldest first.
    pub fn orders(&self) -> Vec<EmuOrder> {
        self.app.state().orders().to_vec()
    }

    /// Scripts `symbol`'s price (fills the limit orders it reaches).
    pub fn set_price(&self, symbol: &str, price: Decimal) {
        self.app
            .state()
            .set_price(symbol, price, self.app.config.now_ms());
    }

    /// Adds a fault or the `query_not_found_ms` setting, as `POST
    /// /emulator/faults` does.
    pub fn add_fault(&self, command: FaultCommand) -> Result<(), String> {
        self.app.state().faults.add(command)
    }

    /// Requests seen per `METHOD path`.
    pub fn requests(&self) -> std::collections::BTreeMap<String, u64> {
        self.app.state().requests.clone()
    }

    /// Stops accepting connections and waits for the accept loop to end.
    /// Connections already open are served until their clients close them
    /// (or the runtime ends).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts an emulator on 127.0.0.1, on a port the system picks.
pub async fn spawn(config: EmulatorConfig) -> io::Result<(SocketAddr, EmulatorHandle)> {
    spawn_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts an emulator on `listen`.
pub async fn spawn_on(
    config: EmulatorConfig,
    listen: SocketAddr,
) -> io::Result<(SocketAddr, EmulatorHandle)> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let state = State::new(&config);
    let app = Arc::new(App {
        config,
        state: Mutex::new(state),
    });
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, Arc::clone(&app), stopped));
    let handle = EmulatorHandle {
        app,
        stop: Some(stop),
        task,
    };
    Ok((addr, handle))
}

/// Closes the connection it was handed to without an answer (the
/// `lose_answer` fault): the connection's task drops the connection when
/// notified.
#[derive(Clone)]
pub(crate) struct Dropper(pub(crate) Arc<Notify>);

async fn accept_loop(listener: TcpListener, app: Arc<App>, mut stopped: oneshot::Receiver<()>) {
    use hyper_util::rt::TokioIo;
    let router = routes::router(app);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("emulator accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let router = router.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let dropper = Dropper(Arc::clone(&kill));
            let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut().insert(dropper.clone());
                tower::ServiceExt::oneshot(router.clone(), req.map(axum::body::Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Dropping the connection closes the socket with nothing
            // written: the client sees a transport error, not a status.
            tokio::select! {
                _ = conn => {}
                () = kill.notified() => {}
            }
        });
    }
}

/// Runs an emulator on `listen` until SIGTERM or Ctrl-C, on its own
/// runtime (the command line's entry point); `ready` is told the address
/// once it accepts connections.
pub fn run(
    config: EmulatorConfig,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let (addr, handle) = spawn_on(config, listen).await?;
        // Listening for SIGTERM before saying ready: one sent at once stops
        // it cleanly.
        let stop = crate::shutdown::signal();
        ready(addr);
        stop.await;
        handle.shutdown().await;
        Ok(())
    })
}
