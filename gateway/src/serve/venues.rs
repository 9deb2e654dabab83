//! The real venues `serve` trades on: one execution stage per `[venue]`
//! section that is not `paper` (the top level's, shared by every strategy
//! without its own, and each `[strategies.NAME.venue]`), each with its own
//! order log and its own order channel.
//!
//! Built in two steps, because recovery needs the order logs before the
//! gateway's metrics and circuit breaker exist: [`LiveVenues::open`]
//! connects (keys from the environment) and reads the logs;
//! [`LiveVenues::stages`] turns them into running stages.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::RwLock;

use tokio::sync::mpsc;

use super::execution::leg_client_order_id;
use super::execution::CircuitBreaker;
use super::journal::ExecOrder;
use super::live::{self, Live, LiveOrder};
use super::metrics::Metrics;
use crate::clock::wall_clock_ms;
use crate::error::Error;
use crate::venue::binance::{BinanceSettings, BinanceVenue, Credentials, Market};
use crate::venue::clock::VenueClock;
use crate::venue::exactly_once::Executor;
use crate::venue::fill_log::FillLog;
use crate::venue::order_log::OrderLog;
use crate::venue::settings::{VenueSettings, Venues};
use crate::venue::sizing::{SizingMode, SizingSection, Sizings};
use crate::venue::TradingRules;
use crate::venue::{VenueError, VenueKind};

/// A venue's trading rules by `BASE/QUOTE`, shared by its stage (which
/// reads them from the venue) and the decisions (which refuse what the
/// venue would).
pub type SharedRules = Arc<RwLock<HashMap<String, TradingRules>>>;

/// Where a strategy trading on a real venue sends its accepted orders:
/// its venue's stage, with the strategy's sizing.
#[derive(Debug, Clone)]
pub struct LiveRoute {
    sender: mpsc::UnboundedSender<LiveOrder>,
    /// The strategy's `[sizing]`.
    pub sizing: Arc<SizingSection>,
    rules: SharedRules,
    venue: &'static str,
}

impl LiveRoute {
    /// Refuses, before it is accepted, an order the venue would refuse:
    /// a symbol it does not list, a quantity or a notional its rules
    /// forbid, a bracket it cannot place yet. Only with `alert` sizing (the
    /// quantity is the alert's; other modes are checked once sized) and
    /// once the rules have been read (until then the stage checks).
    pub fn check(&self, order: &ExecOrder) -> Result<(), VenueError> {
        if self.sizing.mode != SizingMode::Alert {
            return Ok(());
        }
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
        if rules.is_empty() {
            return Ok(());
        }
        let symbol_rules = rules
            .get(&order.symbol)
            .ok_or_else(|| VenueError::UnknownSymbol {
                venue: self.venue,
                symbol: order.symbol.clone(),
            })?;
        live::venue_order(order, symbol_rules, self.venue).map(drop)
    }

    /// Hands `order` to the venue's stage (`false`: the stage has
    /// stopped; a restart resumes the order from the journal).
    pub fn send(&self, order: ExecOrder) -> bool {
        self.sender
            .send(LiveOrder {
                order,
                sizing: self.sizing.clone(),
            })
            .is_ok()
    }
}

/// A real venue's execution stage, ready to spawn.
pub type Stage = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One real venue, connected, its order log read.
struct Opened {
    /// `venue` or `strategies.NAME.venue`.
    setting: String,
    settings: VenueSettings,
    venue: BinanceVenue,
    log: OrderLog,
    sender: mpsc::UnboundedSender<LiveOrder>,
    receiver: mpsc::UnboundedReceiver<LiveOrder>,
    rules: SharedRules,
    limits: Arc<crate::venue::RateLimits>,
    fills: FillLog,
}

/// The real venues of a configuration, before they run.
pub struct LiveVenues {
    opened: Vec<Opened>,
    /// Strategy name (`""`: the top level) → index in `opened`, and its
    /// sizing.
    by_strategy: BTreeMap<String, (usize, Arc<SizingSection>)>,
}

impl LiveVenues {
    /// Connects every real venue of `venues` that one of `strategies`
    /// trades on, and reads its order log (resolved against `base`).
    pub fn open<'a>(
        venues: &Venues,
        sizings: &Sizings,
        strategies: impl Iterator<Item = &'a str>,
        base: &Path,
    ) -> Result<LiveVenues, Error> {
        let mut live = LiveVenues {
            opened: Vec::new(),
            by_strategy: BTreeMap::new(),
        };
        let mut default = None;
        for name in strategies {
            let own = venues.strategies.get(name);
            let settings = own.unwrap_or(&venues.default);
            if settings.is_paper() {
                continue;
            }
            let index = match (own, default) {
                (None, Some(i)) => i,
                _ => {
                    let setting = match own {
                        Some(_) => format!("strategies.{name}.venue"),
                        None => "venue".to_string(),
                    };
                    live.opened.push(open_one(&setting, settings, base)?);
                    let i = live.opened.len() - 1;
                    if own.is_none() {
                        default = Some(i);
                    }
                    i
                }
            };
            let sizing = Arc::new(sizings.of(name).clone());
            live.by_strategy.insert(name.to_string(), (index, sizing));
        }
        Ok(live)
    }

    /// Whether no strategy trades on a real venue.
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty()
    }

    /// Where `strategy`'s accepted orders go, if to a real venue.
    pub fn sender(&self, strategy: &str) -> Option<LiveRoute> {
        let (i, sizing) = self.by_strategy.get(strategy)?;
        let opened = &self.opened[*i];
        Some(LiveRoute {
            sender: opened.sender.clone(),
            sizing: sizing.clone(),
            rules: opened.rules.clone(),
            venue: opened.settings.kind.name(),
        })
    }

    /// Whether `strategy` trades on a real venue, and if so whether that
    /// venue's order log knows all of `order`: the order and, when it asks
    /// for a bracket, its legs. An order it knows whole is never resumed
    /// from the journal (the stage reconciles it); one whose legs are
    /// missing (a crash after the entry, before its legs) is, and the stage
    /// places only what is missing.
    pub fn knows(&self, strategy: &str, order: &ExecOrder) -> Option<bool> {
        let (i, _) = self.by_strategy.get(strategy)?;
        let log = &self.opened[*i].log;
        let id = order.client_order_id.as_str();
        let Some(entry) = log.get(id) else {
            return Some(false);
        };
        // Legs are owed only for what the entry filled.
        let filled = entry
            .report
            .as_ref()
            .is_some_and(|r| r.executed_quantity.is_positive());
        let legs = [("sl", order.stop_loss), ("tp", order.take_profit)];
        let legs_known = legs.iter().all(|(leg, price)| {
            price.is_none() || log.get(&leg_client_order_id(id, leg)).is_some()
        });
        Some(!filled || legs_known)
    }

    /// The stages, ready to spawn: each reconciles its log, then places
    /// the orders its channel brings until every sender is dropped.
    pub fn stages(
        self,
        quotes: &[String],
        breaker: &Arc<CircuitBreaker>,
        metrics: &Arc<Metrics>,
    ) -> Vec<Stage> {
        self.opened
            .into_iter()
            .map(|o| {
                let clock = Arc::new(VenueClock::default());
                let executor = Executor::new(
                    o.venue,
                    o.log,
                    clock.clone(),
                    o.settings.policy,
                    wall_clock_ms,
                );
                tracing::info!(setting = %o.setting, venue = o.settings.kind.name(), testnet = o.settings.testnet, "trading on a real venue");
                metrics.watch_venue(o.settings.kind.name(), o.limits);
                let stage = Live::new(
                    executor,
                    clock,
                    quotes.to_vec(),
                    o.rules,
                    o.fills,
                    breaker.clone(),
                    metrics.clone(),
                );
                drop(o.sender);
                let settings = o.settings;
                let mut stage = stage;
                stage.follow_every = std::time::Duration::from_millis(settings.follow_brackets_ms);
                Box::pin(async move {
                    if let Err(e) = set_up(&stage, &settings).await {
                        tracing::error!(code = e.code(), "venue set-up failed; every order is refused until a restart: {e}");
                        stage.block(e);
                    }
                    live::run(o.receiver, stage).await
                }) as Stage
            })
            .collect()
    }
}

/// [`set_up_futures`], asked again (orders wait) while the venue does not
/// answer; a refusal (hedge mode, a leverage the venue refuses) is final.
async fn set_up(stage: &Live<BinanceVenue>, settings: &VenueSettings) -> Result<(), VenueError> {
    let mut pause = std::time::Duration::from_millis(500);
    loop {
        match set_up_futures(stage, settings).await {
            Err(e)
                if !matches!(
                    e,
                    VenueError::Rejected { .. } | VenueError::UnknownSymbol { .. }
                ) =>
            {
                tracing::warn!(
                    code = e.code(),
                    retry_in_ms = pause.as_millis() as u64,
                    "venue set-up: no answer yet: {e}"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

/// USDⓈ-M: checks one-way position mode (the only one the gateway
/// trades) and sets each configured symbol's leverage and margin type.
async fn set_up_futures(
    stage: &Live<BinanceVenue>,
    settings: &VenueSettings,
) -> Result<(), VenueError> {
    if settings.kind != VenueKind::BinanceUsdm {
        return Ok(());
    }
    let venue = stage.venue();
    let now = || stage.venue_now();
    crate::venue::clock::sync(venue, stage.clock(), wall_clock_ms).await?;
    if !venue.is_one_way_mode(now()).await? {
        return Err(VenueError::Rejected {
            venue: VenueKind::BinanceUsdm.name(),
            code: "venue_hedge_mode",
            venue_code: 0,
            message: "the account is in hedge mode; alertgate trades one-way mode only (switch it in the venue's settings)".into(),
        });
    }
    for (symbol, leverage) in &settings.leverage {
        if let Some(isolated) = settings.isolated_margin {
            venue.set_margin_type(symbol, isolated, now()).await?;
        }
        venue.set_leverage(symbol, *leverage, now()).await?;
        tracing::info!(%symbol, leverage, isolated = settings.isolated_margin, "leverage set");
    }
    Ok(())
}

/// Connects the venue of `settings` (named `setting` in errors) and opens
/// its order log.
fn open_one(setting: &str, settings: &VenueSettings, base: &Path) -> Result<Opened, Error> {
    let venue_error = |message: String| Error::Venue {
        setting: setting.to_string(),
        message,
    };
    let market = match settings.kind {
        VenueKind::BinanceSpot => Market::Spot,
        VenueKind::BinanceUsdm => Market::UsdM,
        VenueKind::Paper => return Err(venue_error("paper has no connection".into())),
    };
    let (key_env, secret_env) = settings
        .credentials_env
        .as_ref()
        .ok_or_else(|| venue_error("key_env and secret_env are required".into()))?;
    let credentials =
        Credentials::from_env(key_env, secret_env).map_err(|e| venue_error(e.to_string()))?;
    let mut binance = BinanceSettings::new(market, settings.testnet);
    if let Some(url) = &settings.base_url {
        binance.base_url = url.trim_end_matches('/').to_string();
    }
    binance.recv_window_ms = settings.policy.recv_window_ms;
    binance.timeout = std::time::Duration::from_millis(settings.request_timeout_ms);
    let venue = BinanceVenue::new(binance, credentials).map_err(|e| venue_error(e.to_string()))?;
    let path = base.join(&settings.orders);
    let log = OrderLog::open(&path).map_err(|source| Error::OrderLog {
        path: path.clone(),
        source,
    })?;
    let fills_path = base.join(&settings.fills);
    let fills = FillLog::open(&fills_path).map_err(|source| Error::OrderLog {
        path: fills_path,
        source,
    })?;
    let (sender, receiver) = mpsc::unbounded_channel();
    Ok(Opened {
        fills,
        limits: venue.limits().clone(),
        rules: SharedRules::default(),
        setting: setting.to_string(),
        settings: settings.clone(),
        venue,
        log,
        sender,
        receiver,
    })
}
