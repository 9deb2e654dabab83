//! The venues `serve` trades on through the live stage: one execution
//! stage per `[venue]` section that is not `paper` (the top level's, shared
//! by every strategy without its own, and each `[strategies.NAME.venue]`),
//! each with its own order log and its own order channel.
//!
//! A `paper` section gets a stage too when a strategy on it sizes its
//! orders (`[sizing] mode` other than `alert`): its orders go to a
//! [`PaperVenue`] through the same stage as a real venue's, so sizing, the
//! order log, exactly-once and the fill log behave on paper as they will on
//! the venue. With `alert` sizing, paper keeps the batched paper stage
//! (`serve`'s throughput path): such strategies get no stage here.
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
use super::jsonl::FileLock;
use super::live::{self, sizing_refusal, Admission, Admissions, Fit, Live, LiveOrder, SizeCheck};
use super::metrics::Metrics;
use super::mock::MockSettings;
use super::readiness::{Health, Part};
use crate::clock::wall_clock_ms;
use crate::error::Error;
use crate::venue::ban_file::BanFile;
use crate::venue::binance::{BinanceSettings, BinanceVenue, Credentials, Market};
use crate::venue::clock::VenueClock;
use crate::venue::exactly_once::{ChangeHook, Executor, ResolveHook};
use crate::venue::fill_log::FillLog;
use crate::venue::order_log::{KnownIds, OrderLog, State};
use crate::venue::rules::{RuleViolation, ANY_SYMBOL};
use crate::venue::settings::{VenueSettings, Venues};
use crate::venue::sizing::{OrderLimits, SizingError, SizingMode, SizingSection, Sizings, Target};
use crate::venue::{Account, OrderReport, PaperVenue, TradingRules, Venue, VenueOrder};
use crate::venue::{ErrorCounts, VenueError, VenueKind};
use alertgate_validator::Decimal;

/// A venue's trading rules by `BASE/QUOTE`, shared by its stage (which
/// reads them from the venue) and the decisions (which refuse what the
/// venue would).
pub type SharedRules = Arc<RwLock<RulesBook>>;

/// Trading rules by `BASE/QUOTE`, and the rules of any other symbol when
/// the venue restricts none (the paper venue lists its rules under
/// [`ANY_SYMBOL`]: a symbol it has never seen is accepted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesBook {
    by_symbol: HashMap<String, TradingRules>,
    any: Option<TradingRules>,
}

impl RulesBook {
    /// The rules of `symbol`: its own, else those of any symbol, else
    /// `None` (the venue does not list it).
    pub fn get(&self, symbol: &str) -> Option<&TradingRules> {
        self.by_symbol.get(symbol).or(self.any.as_ref())
    }

    /// Whether no rules have been read yet.
    pub fn is_empty(&self) -> bool {
        self.by_symbol.is_empty() && self.any.is_none()
    }
}

impl FromIterator<(String, TradingRules)> for RulesBook {
    fn from_iter<I: IntoIterator<Item = (String, TradingRules)>>(iter: I) -> Self {
        let mut book = RulesBook::default();
        for (symbol, rules) in iter {
            if symbol == ANY_SYMBOL {
                book.any = Some(rules);
            } else {
                book.by_symbol.insert(symbol, rules);
            }
        }
        book
    }
}

/// The venue a live stage drives. An enum rather than making the stages
/// generic: [`LiveVenues`] keeps venues of different kinds in one list and
/// its stages are one boxed future type, so one concrete `Live<AnyVenue>`
/// keeps that simple; the dispatch is one `match` per request, nothing
/// beside a network round trip or an fsync.
#[derive(Debug)]
pub enum AnyVenue {
    /// Binance Spot or USDⓈ-M.
    Binance(BinanceVenue),
    /// The paper exchange (boxed: its state is far larger than a client).
    Paper(Box<PaperVenue>),
}

/// Calls `$call` on whichever venue `$self` holds.
macro_rules! dispatch {
    ($self:ident, $v:ident => $call:expr) => {
        match $self {
            AnyVenue::Binance($v) => $call,
            AnyVenue::Paper($v) => $call,
        }
    };
}

impl Venue for AnyVenue {
    fn kind(&self) -> VenueKind {
        dispatch!(self, v => v.kind())
    }

    async fn server_time(&self) -> Result<i64, VenueError> {
        dispatch!(self, v => v.server_time().await)
    }

    async fn trading_rules(
        &self,
        quotes: &[&str],
    ) -> Result<Vec<(String, TradingRules)>, VenueError> {
        dispatch!(self, v => v.trading_rules(quotes).await)
    }

    async fn submit(
        &self,
        order: &VenueOrder,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        dispatch!(self, v => v.submit(order, timestamp_ms).await)
    }

    async fn query(
        &self,
        symbol: &str,
        client_order_id: &str,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        dispatch!(self, v => v.query(symbol, client_order_id, timestamp_ms).await)
    }

    async fn cancel(
        &self,
        symbol: &str,
        client_order_id: &str,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        dispatch!(self, v => v.cancel(symbol, client_order_id, timestamp_ms).await)
    }

    async fn account(&self, timestamp_ms: i64) -> Result<Account, VenueError> {
        dispatch!(self, v => v.account(timestamp_ms).await)
    }

    async fn mark_price(&self, symbol: &str) -> Result<Decimal, VenueError> {
        dispatch!(self, v => v.mark_price(symbol).await)
    }

    async fn base_commission(
        &self,
        symbol: &str,
        report: &OrderReport,
        timestamp_ms: i64,
    ) -> Result<Decimal, VenueError> {
        dispatch!(self, v => v.base_commission(symbol, report, timestamp_ms).await)
    }

    fn observe_price(&self, symbol: &str, price: Decimal) {
        dispatch!(self, v => v.observe_price(symbol, price))
    }
}

/// Where a strategy trading on a real venue sends its accepted orders:
/// its venue's stage, with the strategy's sizing.
#[derive(Debug, Clone)]
pub struct LiveRoute {
    sender: mpsc::UnboundedSender<LiveOrder>,
    /// The strategy's `[sizing]`.
    pub sizing: Arc<SizingSection>,
    /// The strategy's `[policy]` limits, for what its sizing computes.
    pub limits: OrderLimits,
    rules: SharedRules,
    venue: &'static str,
    /// The client ids its venue's order log knows.
    known: KnownIds,
    /// Its stage's checks before the answer ([`LiveRoute::size_check`]).
    checks: mpsc::Sender<SizeCheck>,
    /// Its stage's accepted orders not yet handed over.
    admissions: Admissions,
    /// `[venue] size_check_ms`.
    size_check_ms: u64,
    /// The venue keeps positions (USDⓈ-M): an order may only reduce one.
    has_positions: bool,
}

/// What [`LiveRoute::check`] knows of an order before its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Nothing the venue would refuse, as far as the answer path can tell.
    Fits,
    /// Only the account tells: its stage sizes it ([`LiveRoute::size_check`]).
    AskStage,
}

impl LiveRoute {
    /// Refuses, before it is accepted, an order the venue would refuse: a
    /// symbol it does not list, a bracket it cannot place, and, where the
    /// quantity is known without the account (`alert` sizing: the
    /// alert's; `fixed`: the configured one), a quantity or a notional its
    /// rules forbid. What only the account tells is left to the stage
    /// ([`Checked::AskStage`]): the quantity of `equity_pct` and `target`
    /// orders, and, on a venue with positions, whether an order below the
    /// minimum notional only reduces the position (sent reduce-only, the
    /// minimum does not bind it). Nothing is checked until the rules have
    /// been read (the stage checks every order). A cancel alert's order
    /// places nothing: no rule applies to it.
    ///
    /// The strategy's `[policy]` limits are held against what its sizing
    /// will order where that is known now: a `fixed` quantity, a `target`
    /// position (valued at the `[serve] market` mark, when there is one);
    /// the stage checks every sized order again, at the venue's mark.
    pub fn check(&self, order: &ExecOrder) -> Result<Checked, VenueError> {
        if order.is_cancel() {
            return Ok(Checked::Fits);
        }
        self.within_limits(order)?;
        let from_account = matches!(self.sizing.mode, SizingMode::EquityPct | SizingMode::Target);
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
        if rules.is_empty() {
            return Ok(if from_account {
                Checked::AskStage
            } else {
                Checked::Fits
            });
        }
        let symbol_rules = rules
            .get(&order.symbol)
            .ok_or_else(|| VenueError::UnknownSymbol {
                venue: self.venue,
                symbol: order.symbol.clone(),
            })?;
        let quantity = match self.sizing.mode {
            SizingMode::Alert => order.quantity,
            SizingMode::Fixed => match self.sizing.quantity.get(&order.symbol) {
                Some(&q) => q,
                None => return Err(no_fixed_quantity(self.venue, &order.symbol)),
            },
            SizingMode::EquityPct | SizingMode::Target => {
                live::brackets_allowed(order, self.venue)?;
                return Ok(Checked::AskStage);
            }
        };
        let sized = ExecOrder {
            quantity,
            ..order.clone()
        };
        match live::venue_order(&sized, symbol_rules, self.venue) {
            Ok(_) => Ok(Checked::Fits),
            Err(VenueError::Rule(RuleViolation::BelowMinNotional { .. })) if self.has_positions => {
                Ok(Checked::AskStage)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the venue's order log knows `client_order_id`: an order
    /// with it was placed, or refused, before.
    pub fn knows_client_id(&self, client_order_id: &str) -> bool {
        self.known.contains(client_order_id)
    }

    /// Hands `order`, accepted at `accepted_ms`, to the venue's stage
    /// (`false`: the stage has stopped; a restart resumes the order from
    /// the journal).
    pub fn send(&self, order: ExecOrder, accepted_ms: i64) -> bool {
        self.sender
            .send(LiveOrder {
                order,
                sizing: self.sizing.clone(),
                limits: self.limits,
                accepted_ms,
            })
            .is_ok()
    }

    /// Counts an order accepted for this venue until it is handed over
    /// ([`Self::send`]) or refused after all: the guard's life.
    pub fn admit(&self) -> Admission {
        self.admissions.admit()
    }

    /// Whether an order its [`Self::check`] leaves to the stage is sized
    /// before its answer ([`Self::size_check`]): unless `size_check_ms` is
    /// 0.
    pub fn sizes_before_answer(&self) -> bool {
        self.size_check_ms > 0
    }

    /// Asks the stage to size `order` now, as its execution would, and
    /// waits at most `size_check_ms` for the answer: [`Fit::Unsure`] when
    /// the stage is busy, cannot be sure, or does not answer in time.
    /// The caller holds `order`'s [`Admission`].
    pub async fn size_check(&self, order: &ExecOrder) -> Fit {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let wait = std::time::Duration::from_millis(self.size_check_ms);
        let deadline = tokio::time::Instant::now() + wait;
        let check = SizeCheck {
            order: order.clone(),
            sizing: self.sizing.clone(),
            limits: self.limits,
            admissions: self.admissions.clone(),
            deadline,
            reply,
        };
        if self.checks.try_send(check).is_err() {
            return Fit::Unsure("the stage has checks waiting");
        }
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(fit)) => fit,
            Ok(Err(_)) => Fit::Unsure("the stage has stopped"),
            Err(_) => Fit::Unsure("the stage did not size it within size_check_ms"),
        }
    }
}

impl LiveRoute {
    /// [`OrderLimits::check`] of what the sizing orders, when known
    /// before the account is read: a `fixed` quantity, a `target`
    /// position; an `equity_pct` quantity is known only when executed.
    fn within_limits(&self, order: &ExecOrder) -> Result<(), VenueError> {
        let quantity = match self.sizing.mode {
            SizingMode::Fixed => match self.sizing.quantity.get(&order.symbol) {
                Some(&q) => q,
                None => return Ok(()),
            },
            SizingMode::Target => order.quantity,
            SizingMode::Alert | SizingMode::EquityPct => return Ok(()),
        };
        let target = order.target_position.map(Target::from_position_size);
        let Some((what, quantity)) = OrderLimits::bounded(&self.sizing, target, quantity) else {
            return Ok(());
        };
        self.limits
            .check(&order.symbol, what, quantity, order.mark_price)
            .map_err(|e| sizing_refusal(self.venue, &e))
    }
}

/// `fixed` sizing without a quantity for `symbol`: the sizing's own code.
fn no_fixed_quantity(venue: &'static str, symbol: &str) -> VenueError {
    let e = SizingError::NoFixedQuantity {
        symbol: symbol.to_string(),
    };
    sizing_refusal(venue, &e)
}

/// Checks before the answer a stage holds waiting; more are not sized
/// ([`Fit::Unsure`]): a burst is accepted and sized when executed.
const SIZE_CHECKS_WAITING: usize = 16;

/// A real venue's execution stage, ready to spawn.
pub type Stage = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One venue, connected (paper: its exchange rebuilt), its order log
/// read.
struct Opened {
    /// `venue` or `strategies.NAME.venue`.
    setting: String,
    settings: VenueSettings,
    venue: AnyVenue,
    log: OrderLog,
    sender: mpsc::UnboundedSender<LiveOrder>,
    receiver: mpsc::UnboundedReceiver<LiveOrder>,
    /// The checks before the answer, and the accepted orders counted for
    /// them.
    checks: (mpsc::Sender<SizeCheck>, mpsc::Receiver<SizeCheck>),
    admissions: Admissions,
    rules: SharedRules,
    /// A real venue's request counters (paper sends no request).
    limits: Option<Arc<crate::venue::RateLimits>>,
    /// The venue's failed calls, counted where they are made.
    errors: Arc<ErrorCounts>,
    fills: FillLog,
    /// What `/readyz` asks of a real venue (paper: nothing).
    probe: Option<VenueProbe>,
    /// The order log's lock, held by the stage.
    lock: FileLock,
}

/// What `/readyz` asks of a real venue: that its stage has not stopped
/// placing orders (a failed set-up blocks it until a restart), and that
/// it answers its server-time endpoint within the probe's timeout, on a
/// connection of its own (a probe never waits behind an order).
#[derive(Clone)]
struct VenueProbe {
    venue: Arc<BinanceVenue>,
    blocked: Arc<Health>,
    /// Failing while the stage cannot query the venue to resolve an
    /// unknown order (it places nothing meanwhile).
    stalled: Arc<Health>,
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
    /// trades on, and opens the paper venue for the strategies that size
    /// their orders on paper (with `mock`'s cash and costs); reads each
    /// one's order log (paths resolved against `base`).
    pub fn open<'a>(
        venues: &Venues,
        sizings: &Sizings,
        strategies: impl Iterator<Item = &'a str>,
        base: &Path,
        mock: MockSettings,
    ) -> Result<LiveVenues, Error> {
        let mut live = LiveVenues {
            opened: Vec::new(),
            by_strategy: BTreeMap::new(),
        };
        let mut default = None;
        let mut files = HashMap::new();
        for name in strategies {
            let own = venues.strategies.get(name);
            let settings = own.unwrap_or(&venues.default);
            // `alert` sizing on paper: the batched paper stage.
            if settings.is_paper() && sizings.of(name).mode == SizingMode::Alert {
                continue;
            }
            let index = match (own, default) {
                (None, Some(i)) => i,
                _ => {
                    let setting = match own {
                        Some(_) => format!("strategies.{name}.venue"),
                        None => "venue".to_string(),
                    };
                    claim_files(&mut files, &setting, settings, base)?;
                    live.opened.push(open_one(&setting, settings, base, mock)?);
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

    /// Where `strategy`'s accepted orders go, if to a real venue, held to
    /// its `[policy]` `limits`.
    pub fn sender(&self, strategy: &str, limits: OrderLimits) -> Option<LiveRoute> {
        let (i, sizing) = self.by_strategy.get(strategy)?;
        let opened = &self.opened[*i];
        Some(LiveRoute {
            sender: opened.sender.clone(),
            sizing: sizing.clone(),
            limits,
            known: opened.log.known_ids(),
            rules: opened.rules.clone(),
            venue: opened.settings.kind.name(),
            checks: opened.checks.0.clone(),
            admissions: opened.admissions.clone(),
            size_check_ms: opened.settings.size_check_ms,
            has_positions: opened.settings.kind.has_positions(),
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
        if order.stop_loss.is_none() && order.take_profit.is_none() {
            return Some(true);
        }
        // Legs are owed for what the entry filled or may still fill: not
        // for an entry refused, given up, or ended with nothing filled.
        let never_fills = matches!(entry.state, State::Rejected | State::Abandoned)
            || entry
                .report
                .as_ref()
                .is_some_and(|r| r.status.is_final() && !r.executed_quantity.is_positive());
        let known = |leg: &str| log.get(&leg_client_order_id(id, leg)).is_some();
        let legs = [("sl", order.stop_loss), ("tp", order.take_profit)];
        let legs_known = legs
            .iter()
            .all(|(leg, price)| price.is_none() || known(leg));
        // Spot protects with one order list instead.
        Some(never_fills || legs_known || known("oc"))
    }

    /// `/readyz`'s part for each real venue, named by its setting
    /// (`venue`, `strategies.NAME.venue`): see [`VenueProbe`].
    pub fn readiness_parts(&self) -> Vec<Part> {
        let mut parts = Vec::new();
        for o in &self.opened {
            let Some(probe) = o.probe.clone() else {
                continue;
            };
            parts.push(Part::probe(o.setting.clone(), move || {
                let probe = probe.clone();
                Box::pin(async move {
                    if let Some(why) = probe.blocked.failure().or(probe.stalled.failure()) {
                        return Err(why);
                    }
                    probe
                        .venue
                        .server_time()
                        .await
                        .map(drop)
                        .map_err(|e| format!("{}: {e}", e.code()))
                })
            }));
        }
        parts
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
                let mut executor = Executor::new(
                    o.venue,
                    o.log,
                    clock.clone(),
                    o.settings.policy,
                    wall_clock_ms,
                );
                executor.on_change(state_hook(metrics.clone(), o.settings.kind.name()));
                if let Some(probe) = &o.probe {
                    executor.on_resolve(resolve_hook(probe.stalled.clone(), breaker.clone()));
                }
                tracing::info!(setting = %o.setting, venue = o.settings.kind.name(), testnet = o.settings.testnet, "trading on a venue through the live stage");
                if let Some(limits) = o.limits {
                    metrics.watch_venue(o.settings.kind.name(), limits);
                }
                metrics.watch_venue_errors(o.errors);
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
                let (checks_sender, checks) = o.checks;
                drop(checks_sender);
                let settings = o.settings;
                let mut stage = stage;
                stage.follow_every = std::time::Duration::from_millis(settings.follow_brackets_ms);
                let blocked = o.probe.map(|p| p.blocked);
                let lock = o.lock;
                Box::pin(async move {
                    let _lock = lock;
                    if let Err(e) = set_up(&stage, &settings).await {
                        tracing::error!(code = e.code(), "venue set-up failed; every order is refused until a restart: {e}");
                        if let Some(blocked) = &blocked {
                            blocked.set_failing(format!("set-up failed, every order refused until a restart: {e}"));
                        }
                        stage.block(e);
                    }
                    live::run(o.receiver, checks, stage).await
                }) as Stage
            })
            .collect()
    }
}

/// While the stage cannot query the venue to resolve an unknown order, it
/// places nothing: `/readyz` says so (`stalled`), and each failed query
/// feeds the circuit breaker, so new alerts are refused (`circuit_open`)
/// rather than accepted to wait behind it.
fn resolve_hook(stalled: Arc<Health>, breaker: Arc<CircuitBreaker>) -> ResolveHook {
    Arc::new(move |error: Option<&VenueError>| match error {
        Some(e) => {
            stalled.set_failing(format!(
                "resolving an unknown order: the venue does not answer its queries ({}: {e})",
                e.code()
            ));
            breaker.failure(wall_clock_ms());
        }
        None => stalled.set_ok(),
    })
}

/// Counts each state change the stage's order log records
/// (`alertgate_venue_order_states_total`).
fn state_hook(metrics: Arc<Metrics>, venue: &'static str) -> ChangeHook {
    Arc::new(move |state: State| metrics.venue_order_state(venue, state.name()))
}

/// [`set_up_futures`], asked again (orders wait) while the venue does not
/// answer; a refusal (hedge mode, a leverage the venue refuses) is final.
async fn set_up(stage: &Live<AnyVenue>, settings: &VenueSettings) -> Result<(), VenueError> {
    let mut pause = std::time::Duration::from_millis(500);
    loop {
        match set_up_futures(stage, settings).await {
            Err(e)
                if !matches!(
                    e,
                    VenueError::Rejected { .. } | VenueError::UnknownSymbol { .. }
                ) =>
            {
                let wait = live::retry_wait(&e, pause, wall_clock_ms());
                tracing::warn!(
                    code = e.code(),
                    retry_in_ms = wait.as_millis() as u64,
                    "venue set-up: no answer yet: {e}"
                );
                tokio::time::sleep(wait).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

/// USDⓈ-M: checks one-way position mode (the only one the gateway
/// trades) and sets each configured symbol's leverage and margin type.
async fn set_up_futures(
    stage: &Live<AnyVenue>,
    settings: &VenueSettings,
) -> Result<(), VenueError> {
    let AnyVenue::Binance(venue) = stage.venue() else {
        return Ok(());
    };
    if settings.kind != VenueKind::BinanceUsdm {
        return Ok(());
    }
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
    // Each symbol's margin type, then the leverages, each answer checked.
    for (symbol, &isolated) in &settings.isolated_margin {
        venue.set_margin_type(symbol, isolated, now()).await?;
        tracing::info!(%symbol, isolated, "margin type set");
    }
    for (symbol, leverage) in &settings.leverage {
        venue.set_leverage(symbol, *leverage, now()).await?;
        tracing::info!(%symbol, leverage, "leverage set and checked");
    }
    Ok(())
}

/// Refuses a file that another venue section (or another of its own
/// settings) already writes: two stages appending to one order log would
/// each reconcile the other's unsettled orders against their own venue at
/// the next start, find them absent there, and place them.
fn claim_files(
    files: &mut HashMap<std::path::PathBuf, String>,
    setting: &str,
    settings: &VenueSettings,
    base: &Path,
) -> Result<(), Error> {
    let mut own = vec![&settings.orders, &settings.fills];
    if settings.is_paper() {
        own.push(&settings.exchange_log);
    }
    for file in own {
        let path = base.join(file);
        if let Some(other) = files.insert(path.clone(), setting.to_string()) {
            return Err(Error::Venue {
                setting: setting.to_string(),
                message: format!(
                    "{} is also written by {other}; each venue section needs its own \
                     orders, fills and exchange_log files",
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// Connects the venue of `settings` (named `setting` in errors; paper: its
/// exchange rebuilt from its log) and opens its order and fill logs.
fn open_one(
    setting: &str,
    settings: &VenueSettings,
    base: &Path,
    mock: MockSettings,
) -> Result<Opened, Error> {
    let path = base.join(&settings.orders);
    let lock = FileLock::take(&path)?;
    // A ban or back-off from before a restart holds the first request too.
    let hold = BanFile::beside(&path);
    let (venue, limits, errors) = match settings.kind {
        VenueKind::Paper => {
            let venue = open_paper(settings, base, mock)?;
            let errors = venue.errors().clone();
            (AnyVenue::Paper(Box::new(venue)), None, errors)
        }
        _ => {
            let venue = connect(setting, settings)?;
            let limits = venue.limits().clone();
            limits.persist_to(hold.clone(), wall_clock_ms());
            let errors = venue.errors().clone();
            (AnyVenue::Binance(venue), Some(limits), errors)
        }
    };
    let probe = match settings.kind {
        VenueKind::Paper => None,
        _ => {
            let venue = connect(setting, settings)?;
            venue.limits().restore_from(&hold, wall_clock_ms());
            Some(VenueProbe {
                venue: Arc::new(venue),
                blocked: Arc::default(),
                stalled: Arc::default(),
            })
        }
    };
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
        checks: mpsc::channel(SIZE_CHECKS_WAITING),
        admissions: Admissions::default(),
        fills,
        limits,
        errors,
        probe,
        lock,
        rules: SharedRules::default(),
        setting: setting.to_string(),
        settings: settings.clone(),
        venue,
        log,
        sender,
        receiver,
    })
}

/// The paper venue of `settings`, rebuilt from its exchange log.
fn open_paper(
    settings: &VenueSettings,
    base: &Path,
    mock: MockSettings,
) -> Result<PaperVenue, Error> {
    let path = base.join(&settings.exchange_log);
    PaperVenue::open(&path, mock).map_err(|source| Error::Fills { path, source })
}

/// Connects the Binance venue of `settings` (keys from the environment).
fn connect(setting: &str, settings: &VenueSettings) -> Result<BinanceVenue, Error> {
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
    BinanceVenue::new(binance, credentials).map_err(|e| venue_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alertgate_validator::{OrderType, Side};

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn a_rules_book_falls_back_to_any_symbols_rules_only_when_listed() {
        let btc = TradingRules {
            step: d("0.001"),
            ..TradingRules::default()
        };
        let listed: RulesBook = [("BTC/USDT".to_string(), btc)].into_iter().collect();
        assert_eq!(listed.get("BTC/USDT"), Some(&btc));
        assert_eq!(listed.get("ETH/USDT"), None);
        let paper: RulesBook = [(ANY_SYMBOL.to_string(), TradingRules::unrestricted())]
            .into_iter()
            .collect();
        assert!(!paper.is_empty());
        assert_eq!(paper.get("NEVER/SEEN"), Some(&TradingRules::unrestricted()));
        assert!(RulesBook::default().is_empty());
    }

    #[test]
    fn a_stalled_resolution_fails_readiness_and_opens_the_breaker_until_the_venue_answers() {
        let stalled = Arc::new(Health::default());
        let breaker = Arc::new(CircuitBreaker::new(3, std::time::Duration::from_secs(30)));
        let hook = resolve_hook(stalled.clone(), breaker.clone());
        let revoked = VenueError::Rejected {
            venue: "binance-usdm",
            code: "venue_invalid_key",
            venue_code: -2015,
            message: "Invalid API-key, IP, or permissions for action.".into(),
        };
        for _ in 0..3 {
            hook(Some(&revoked));
        }
        let why = stalled.failure().expect("failing while queries fail");
        assert!(why.contains("venue_invalid_key"), "{why}");
        assert!(
            breaker.is_open(wall_clock_ms()),
            "new alerts refused meanwhile"
        );
        hook(None);
        assert_eq!(stalled.failure(), None);
    }

    #[test]
    fn a_paper_route_accepts_a_symbol_it_has_never_seen() {
        let (sender, _receiver) = mpsc::unbounded_channel();
        let route = LiveRoute {
            sender,
            checks: mpsc::channel(1).0,
            admissions: Admissions::default(),
            size_check_ms: 0,
            has_positions: false,
            sizing: Arc::new(SizingSection::default()),
            limits: OrderLimits::default(),
            known: KnownIds::default(),
            rules: Arc::new(RwLock::new(
                [(ANY_SYMBOL.to_string(), TradingRules::unrestricted())]
                    .into_iter()
                    .collect(),
            )),
            venue: VenueKind::Paper.name(),
        };
        let order = ExecOrder {
            price: Some(d("0.00001234")),
            ..ExecOrder::new(
                "ag1",
                "e",
                "PEPE/USDT",
                Side::Buy,
                OrderType::Market,
                d("12345678.9"),
            )
        };
        assert_eq!(route.check(&order), Ok(Checked::Fits));
    }
}
