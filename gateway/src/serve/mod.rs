//! `alertgate serve`: the webhook gateway over HTTP.
//!
//! Each request flows one way: read (body limit and timeouts) → source
//! address (`X-Forwarded-For` only from `trusted_proxies`) → circuit
//! breaker → [`Gate::check`] → [`journal`] (written and fsynced, group
//! commit) → response → [`execution`]. Execution runs after the answer, so
//! a slow venue never delays the sender; it runs only after the decision is
//! durable, so a crash never executes an order the journal does not hold.
//!
//! Each gate's replay guard has `[replay] capacity` slots (default 65,536),
//! or as many as `[replay] peak_per_second` needs, allocated on the heap
//! when the gate is built.
//!
//! Load shedding: a request that waited longer than `[serve] max_wait_ms`
//! between its body being read and its decision starting is answered 503
//! `overloaded` with `Retry-After`, before any gate or journal work; one
//! whose sender has left is not decided at all.
//!
//! On start the journal is read back: accepted entries re-enter their
//! gate's replay guard, and accepted orders the exchange has never been
//! submitted are submitted; client order ids make that idempotent. The
//! exchange rebuilds its own state (positions, resting orders, brackets)
//! from its log ([`mock`]). With a [`snapshot`], only the logs' tails are
//! read: the exchange log after the snapshot's offset, the journal after
//! its checkpoint and replay mark.
//!
//! Routes: `POST /webhook` (the top-level gate), `POST /webhook/{strategy}`
//! (a `[strategies.NAME]` gate), `GET /healthz` (liveness), `GET /readyz`
//! (each part an alert needs, see [`readiness`]), `GET /metrics`.
//!
//! Mark prices (what values an order for `max_order_value`, see
//! [`alertgate_validator::Policy::valuation_price`]) come from `[serve]
//! market` only (see [`marks`]): the mark at the alert's time, else the
//! symbol's last mark from the data that an accepted order carried. Never
//! from an alert: without market data a market order is `unpriced_order`
//! under `max_order_value` (unless `policy.trust_alert_prices`). The mock
//! exchange observes the market-data mark with each order, else the
//! alert's or the last observed price (see [`mock`]): that is how paper
//! trading fills without data, not a price the gate trusts.
//!
//! The [`mock`] venue is `replay`'s exchange on the wall clock, with
//! `[simulation]`'s starting cash, fees and slippage.
//!
//! [`serve`] runs on a [`ServeConfig`] (the configuration file's sections,
//! read and checked by the command line) and fails with a
//! [`crate::Error`].

pub mod accepted;
pub mod brackets;
pub mod execution;
pub mod journal;
pub(crate) mod jsonl;
pub mod live;
pub mod marks;
pub mod metrics;
pub mod mock;
pub mod readiness;
pub mod refusal;
pub mod replay_store;
pub mod settings;
pub mod snapshot;
pub mod tls;
pub mod venues;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alertgate_validator::alert::RawAlert;
use alertgate_validator::net::Cidr;
use alertgate_validator::rate::TokenBucket;
use alertgate_validator::replay::Slot;
use alertgate_validator::{Decimal, Gate, Order, RateConfig, Rejection, Request};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, Limited};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::clock::wall_clock_ms;
use crate::venue::order_log::KnownIds;
use crate::venue::settings::Venues;
use crate::venue::sizing::{OrderLimits, SizingMode, Sizings, Target};
use crate::venue::VenueError;
use crate::Error;
use accepted::{AcceptedIndex, Original};
use alertgate_simulator::config::GateSettings;
use alertgate_simulator::market::MarketData;
use alertgate_simulator::redact::Redactor;
use execution::CircuitBreaker;
use journal::{Durable, ExecAction, ExecOrder, Journal};
use live::{Admission, Fit};
use marks::{Lookup, MarketMarks};
use metrics::Metrics;
use mock::{MockExchange, MockSettings};
use readiness::{Health, Part, Readiness};
use refusal::Refusal;
use replay_store::{Claim, Held, ReplayStore, StoreOptions};
use settings::ServeSection;
use snapshot::Snapshots;
use tls::Tls;
use venues::{Checked, LiveRoute, LiveVenues};

/// A gate whose replay guard has `[replay] capacity` slots on the heap.
type SharedGate = Mutex<Gate<'static, Box<[Slot]>>>;

struct Strategy {
    gate: SharedGate,
    max_body_bytes: usize,
    /// Quote currencies, to find an unpriced alert's symbol.
    quotes: Vec<&'static str>,
    /// `[replay] store`: replay keys shared with other replicas.
    store: Option<ReplayStore>,
    /// The orders of the events the gate remembers, for `409 replayed`
    /// answers. Locked only while holding `gate`'s lock (in that order).
    accepted: Mutex<AcceptedIndex>,
    /// Keeps every configured secret (this gate's first) out of the
    /// journal.
    redactor: Redactor,
    /// Where accepted orders go when the strategy trades on a real venue
    /// (`None`: the paper exchange).
    live: Option<LiveRoute>,
}

impl Strategy {
    /// The accepted-event index (take the gate's lock first).
    fn index(&self) -> std::sync::MutexGuard<'_, AcceptedIndex> {
        self.accepted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct AppState {
    /// `""` is `POST /webhook`.
    strategies: BTreeMap<String, Strategy>,
    trusted_proxies: Vec<Cidr>,
    body_timeout: Duration,
    /// `[serve] max_wait_ms`: the load-shedding budget (none at 0).
    max_wait: Option<Duration>,
    per_ip: Option<PerIpLimit>,
    journal: Journal,
    orders: mpsc::UnboundedSender<ExecOrder>,
    /// The mock exchange's last observed price per symbol (see
    /// `mock`): the mark that values unpriced orders when `market` has
    /// none. Kept in step with the exchange at decision time, seeded from
    /// its log at start.
    marks: Mutex<HashMap<String, Decimal>>,
    /// `[serve] market`, loaded at start.
    market: Option<MarketMarks>,
    breaker: Arc<CircuitBreaker>,
    metrics: Arc<Metrics>,
    /// What `/readyz` checks.
    readiness: Readiness,
    /// The client ids the paper exchange knows (see
    /// [`MockExchange::known_ids`]).
    paper_known: KnownIds,
}

/// A token bucket per source address, checked before the gate so a flood
/// from one address costs neither a decision nor a journal fsync. The map
/// is bounded: past `MAX_TRACKED` addresses, full (idle) buckets are
/// dropped.
struct PerIpLimit {
    config: RateConfig,
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
}

impl PerIpLimit {
    const MAX_TRACKED: usize = 100_000;

    /// `[serve] per_ip_burst` and `per_ip_per_second`, if both are set.
    fn of(serve: &ServeSection) -> Option<PerIpLimit> {
        (serve.per_ip_per_second > 0 && serve.per_ip_burst > 0).then(|| PerIpLimit {
            config: RateConfig {
                burst: serve.per_ip_burst,
                per_second: serve.per_ip_per_second,
            },
            buckets: Mutex::new(HashMap::new()),
        })
    }

    fn try_take(&self, ip: IpAddr, now_ms: i64) -> Result<(), Rejection> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= Self::MAX_TRACKED && !buckets.contains_key(&ip) {
            let burst = self.config.burst;
            buckets.retain(|_, b| b.available(now_ms) < burst);
        }
        buckets
            .entry(ip)
            .or_insert_with(|| TokenBucket::new(self.config, now_ms))
            .try_take(now_ms)
    }
}

/// Builds the gate of `strategy`'s `settings`, its replay guard's
/// `[replay] capacity` slots allocated on the heap.
fn build_gate(
    strategy: &str,
    settings: &'static GateSettings,
) -> Result<Gate<'static, Box<[Slot]>>, Error> {
    let lent: &'static _ = Box::leak(Box::new(settings.lend()));
    lent.gate().map_err(|source| Error::Gate {
        strategy: strategy.to_string(),
        source,
    })
}

/// The strategy's shared replay store, keys under
/// `alertgate:replay:<strategy>` (`default` for `POST /webhook`), its
/// persistence checked if it answers now.
fn open_store(
    settings: &GateSettings,
    strategy: &str,
    options: &StoreOptions,
) -> Result<Option<ReplayStore>, Error> {
    let Some(url) = &settings.replay_store else {
        return Ok(None);
    };
    let name = if strategy.is_empty() {
        "default"
    } else {
        strategy
    };
    ReplayStore::open(url.as_str(), format!("alertgate:replay:{name}"), options)
        .and_then(|store| store.check_at_start().map(|()| Some(store)))
        .map_err(|source| Error::Store {
            strategy: strategy.to_string(),
            source,
        })
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Each gate by strategy name, `""` being the top level (`POST /webhook`).
type Gates = BTreeMap<String, &'static GateSettings>;

/// What `serve` runs on: the configuration file's sections, which the
/// command line reads and checks, and where the file is.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The configuration file's directory: `[serve]`'s relative paths
    /// (`journal`, `fills`, `market`) are resolved against it.
    pub base_dir: PathBuf,
    /// The top-level gate (`POST /webhook`); its quotes also read
    /// `[serve] market`'s symbols.
    pub gate: GateSettings,
    /// `[strategies.NAME]`: the gates of `POST /webhook/NAME`.
    pub strategies: BTreeMap<String, GateSettings>,
    /// `[serve]`.
    pub serve: ServeSection,
    /// The mock exchange's costs and starting cash (`[simulation]`).
    pub mock: MockSettings,
    /// `[venue]` and `[strategies.NAME.venue]`: where orders are placed.
    pub venues: Venues,
    /// `[sizing]` and `[strategies.NAME.sizing]`: how real venues' orders
    /// are sized.
    pub sizings: Sizings,
}

/// A long-running gateway keeps its secrets out of files (which get
/// copied, committed and backed up): only `secrets_env`.
fn refuse_literal_secrets(gates: &Gates) -> Result<(), Error> {
    let Some(name) = gates
        .iter()
        .find(|(_, s)| s.secrets_in_file > 0)
        .map(|(name, _)| name)
    else {
        return Ok(());
    };
    let section = if name.is_empty() {
        "auth.secrets".to_string()
    } else {
        format!("strategies.{name}.auth.secrets")
    };
    Err(Error::LiteralSecrets { section })
}

/// `[serve] market` loaded, its symbols read with `quotes`; `None` without
/// it.
fn load_market(
    serve: &ServeSection,
    base: &Path,
    quotes: &[String],
) -> Result<Option<MarketMarks>, Error> {
    let Some(source) = serve.market_source(base) else {
        return Ok(None);
    };
    let (pairs, dirs) = source.inputs();
    let quotes: Vec<&str> = quotes.iter().map(String::as_str).collect();
    let data =
        MarketData::load_as(&pairs, &dirs, &quotes, serve.market_format).map_err(Error::Market)?;
    for gap in &data.gaps {
        tracing::warn!("market data gap between files (kept as a gap): {gap}");
    }
    tracing::info!(
        symbols = data.series.len(),
        bars = data.bar_count(),
        "market data loaded"
    );
    Ok(Some(MarketMarks::new(data)))
}

/// One strategy's gate and replay store.
fn build_strategy(
    name: &str,
    settings: &'static GateSettings,
    gates: &Gates,
    options: &StoreOptions,
) -> Result<Strategy, Error> {
    // This gate's secrets first (a journal's placeholders index them), then
    // every other strategy's.
    let own = settings.secrets.iter();
    let others = gates.values().flat_map(|g| g.secrets.iter());
    let redactor = Redactor::new(
        own.chain(others).map(|s| s.0.as_slice()),
        settings.scheme == alertgate_validator::Scheme::Passphrase,
    );
    Ok(Strategy {
        gate: Mutex::new(build_gate(name, settings)?),
        max_body_bytes: settings.max_body_bytes,
        quotes: settings.quotes.iter().map(String::as_str).collect(),
        store: open_store(settings, name, options)?,
        accepted: Mutex::new(AcceptedIndex::default()),
        redactor,
        live: None,
    })
}

/// Every strategy's gate and replay store.
fn build_strategies(
    gates: &Gates,
    options: &StoreOptions,
) -> Result<BTreeMap<String, Strategy>, Error> {
    gates
        .iter()
        .map(|(name, settings)| {
            let strategy = build_strategy(name, settings, gates, options)?;
            Ok((name.clone(), strategy))
        })
        .collect()
}

/// The journal and the mock exchange's log, resolved against the
/// configuration file's directory.
struct Paths {
    journal: PathBuf,
    fills: PathBuf,
}

/// Lets `strategy`'s gate remember an accepted journal entry still within
/// its replay window at `now`.
fn remember(strategy: &Strategy, entry: &journal::AcceptedEntry, now: i64) {
    let mut gate = strategy.gate.lock().unwrap_or_else(|e| e.into_inner());
    // A journal written before alert times were recorded: assume the latest
    // time the gate could have accepted.
    let timestamp_ms = entry.timestamp_ms.unwrap_or_else(|| {
        entry
            .accepted_ms
            .saturating_add(gate.policy().max_future_skew_ms)
    });
    let until = gate.remembered_until_ms(entry.accepted_ms, timestamp_ms);
    if until >= now {
        match gate.remember(&entry.replay_key, entry.accepted_ms, timestamp_ms) {
            Ok(()) => strategy.index().insert(
                &entry.replay_key,
                Original {
                    order_id: entry.order.client_order_id.clone(),
                    accepted_ms: Some(entry.accepted_ms),
                    pending: false,
                },
                until,
                now,
            ),
            Err(e) => tracing::warn!(event = %entry.replay_key, "not remembered: {e}"),
        }
    }
}

/// Where the journal's checkpoint stands after recovery (see
/// [`snapshot::Checkpointer`]): the start of the first accepted line whose
/// order is resumed (else the journal's end), and the accepted lines
/// before it that may still be within their replay window.
struct Resumed {
    checkpoint: u64,
    /// The accepted lines from the checkpoint on.
    pending: VecDeque<snapshot::AcceptedLine>,
    live: VecDeque<(u64, i64)>,
}

/// Recovery: the mock exchange is rebuilt from its snapshot and its log's
/// tail (or its whole log), the journal's accepted entries after the
/// snapshot's marks (or all of them) are remembered by their gates; returns
/// the exchange, the accepted orders it never received (to resume), and
/// the journal's checkpoint.
fn recover(
    paths: &Paths,
    costs: MockSettings,
    strategies: &BTreeMap<String, Strategy>,
    live: &LiveVenues,
) -> Result<(MockExchange, Resume, Resumed), Error> {
    let started = Instant::now();
    let exchange = MockExchange::open_with_journal(&paths.fills, costs, Some(&paths.journal))
        .map_err(|source| Error::Fills {
            path: paths.fills.clone(),
            source,
        })?;
    let recovered = exchange.recovery();
    if recovered.submits > 0 || recovered.legacy > 0 || recovered.snapshot_offset.is_some() {
        tracing::info!(
            orders = recovered.submits,
            fills = recovered.fills,
            legacy = recovered.legacy,
            snapshot_offset = recovered.snapshot_offset,
            open_orders = exchange.open_orders(),
            "mock exchange rebuilt from its log"
        );
    }
    // With a snapshot, the journal before its marks holds neither an order
    // to resume nor an event still in its replay window.
    let marks = exchange.journal_marks().unwrap_or_default();
    let accepted = journal::recover_from(&paths.journal, marks.read_from()).map_err(|source| {
        Error::Journal {
            path: paths.journal.clone(),
            source,
        }
    })?;
    let journal_len = std::fs::metadata(&paths.journal).map_or(0, |m| m.len());
    let now = wall_clock_ms();
    let mut resume = Vec::new();
    let mut resumed = Resumed {
        checkpoint: journal_len,
        pending: VecDeque::new(),
        live: VecDeque::new(),
    };
    for (start, entry) in accepted {
        if let Some(s) = strategies.get(&entry.strategy) {
            remember(s, &entry, now);
        }
        let id = &entry.order.client_order_id;
        // A real venue's order: resumed unless its order log knows it and
        // the bracket legs it owes (then its stage reconciles it), or the
        // paper exchange executed it (the strategy paper-traded before its
        // venue was configured: never placed on the venue now).
        let submitted = live
            .knows(&entry.strategy, &entry.order)
            .is_some_and(|known| known)
            || exchange.has_submitted(id);
        if start >= marks.checkpoint && !submitted {
            if resume.is_empty() {
                resumed.checkpoint = start;
            }
            resume.push((
                entry.strategy.clone(),
                entry.order.clone(),
                entry.accepted_ms,
            ));
        }
        if resume.is_empty() {
            resumed.live.push_back((start, entry.accepted_ms));
        } else {
            resumed.pending.push_back(snapshot::AcceptedLine {
                start,
                client_order_id: entry.order.client_order_id,
                accepted_ms: entry.accepted_ms,
            });
        }
    }
    tracing::info!(
        journal_from = marks.read_from(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "recovered"
    );
    Ok((exchange, resume, resumed))
}

/// Accepted orders to resume, with their strategy's name and when they
/// were accepted (Unix ms).
type Resume = Vec<(String, ExecOrder, i64)>;

/// What `serve` checked and built before opening the journal.
struct Prepared {
    strategies: BTreeMap<String, Strategy>,
    trusted_proxies: Vec<Cidr>,
    market: Option<MarketMarks>,
    exchange: MockExchange,
    resume: Resume,
    resumed: Resumed,
    live: LiveVenues,
    /// Quote currencies, to read the venues' symbols.
    quotes: Vec<String>,
}

/// The running gateway's parts: the handlers' state and what runs beside
/// them.
struct Started {
    state: Arc<AppState>,
    exchange: MockExchange,
    order_rx: mpsc::UnboundedReceiver<ExecOrder>,
    breaker: Arc<CircuitBreaker>,
    metrics: Arc<Metrics>,
    /// The exchange log's state, kept by execution.
    exchange_log: Arc<Health>,
    /// The journal's writer thread.
    writer: std::thread::JoinHandle<()>,
    /// When execution takes snapshots (`None`: never).
    snapshots: Option<Snapshots>,
    /// The real venues' execution stages.
    live_stages: Vec<venues::Stage>,
}

/// `/readyz`'s parts: the journal, the exchange log, the circuit breaker
/// and each strategy's replay store (`replay_store`, `replay_store:NAME`);
/// each real venue's are added by [`LiveVenues::readiness_parts`].
fn readiness(
    journal: &Journal,
    exchange_log: &Arc<Health>,
    breaker: &Arc<CircuitBreaker>,
    strategies: &BTreeMap<String, Strategy>,
) -> Readiness {
    let mut parts = Readiness::default();
    parts.push(Part::recorded("journal", journal.health()));
    parts.push(Part::recorded("exchange_log", exchange_log.clone()));
    parts.push(Part::circuit(breaker.clone()));
    for (name, strategy) in strategies {
        let Some(store) = &strategy.store else {
            continue;
        };
        let part = if name.is_empty() {
            "replay_store".to_string()
        } else {
            format!("replay_store:{name}")
        };
        // Its own connection: a probe never waits behind a claim.
        let store = Arc::new(store.another());
        parts.push(Part::probe(part, move || {
            let store = store.clone();
            Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
        }));
    }
    parts
}

/// Opens the journal, queues the orders to resume and assembles the
/// handlers' state.
fn start(serve: &ServeSection, journal_path: &Path, p: Prepared) -> Result<Started, Error> {
    let metrics = Arc::new(Metrics::default());
    metrics.set_exchange(p.exchange.open_orders(), p.exchange.realized_pnl());
    let seed_marks: HashMap<String, Decimal> = p
        .exchange
        .last_market_prices()
        .map(|(symbol, price)| (symbol.to_string(), price))
        .collect();
    // With a real venue, the journal is never skipped by a snapshot's
    // marks: they promise only that the paper exchange has every order
    // before them, and a real venue's order may not be in its log yet.
    let live_venues = !p.live.is_empty();
    let snapshots_on =
        !live_venues && (serve.snapshot_every_orders > 0 || serve.snapshot_every_s > 0);
    let checkpointer = snapshot::Checkpointer::new(
        journal_path.to_path_buf(),
        p.resumed.checkpoint,
        p.resumed.pending,
        p.resumed.live,
        longest_lifetime_ms(&p.strategies),
    );
    let feed = snapshots_on.then(|| checkpointer.feed());
    let (journal, writer) =
        Journal::open(journal_path, metrics.clone(), feed).map_err(|source| Error::Journal {
            path: journal_path.to_path_buf(),
            source,
        })?;
    let breaker = Arc::new(CircuitBreaker::new(
        serve.circuit_failures,
        Duration::from_secs(serve.circuit_cooldown_s),
    ));
    let (orders, order_rx) = mpsc::unbounded_channel();
    resume(p.resume, &p.strategies, &orders, &metrics);
    let venue_parts = p.live.readiness_parts();
    let live_stages = p.live.stages(&p.quotes, &breaker, &metrics);
    let exchange_log = Arc::new(Health::default());
    let mut readiness = readiness(&journal, &exchange_log, &breaker, &p.strategies);
    venue_parts
        .into_iter()
        .for_each(|part| readiness.push(part));
    let snapshots = Snapshots::new(
        serve.snapshot_every_orders,
        serve.snapshot_every_s,
        checkpointer,
        journal.durable_len(),
    )
    .filter(|_| snapshots_on);
    let state = Arc::new(AppState {
        strategies: p.strategies,
        trusted_proxies: p.trusted_proxies,
        body_timeout: Duration::from_millis(serve.body_timeout_ms),
        max_wait: (serve.max_wait_ms > 0).then(|| Duration::from_millis(serve.max_wait_ms)),
        per_ip: PerIpLimit::of(serve),
        journal,
        orders,
        marks: Mutex::new(seed_marks),
        market: p.market,
        breaker: breaker.clone(),
        metrics: metrics.clone(),
        readiness,
        paper_known: p.exchange.known_ids(),
    });
    Ok(Started {
        state,
        exchange: p.exchange,
        order_rx,
        breaker,
        metrics,
        exchange_log,
        writer,
        snapshots,
        live_stages,
    })
}

/// Hands the accepted orders recovery found unexecuted to their
/// execution (the paper exchange's `orders`, or their strategy's venue).
fn resume(
    resume: Resume,
    strategies: &BTreeMap<String, Strategy>,
    orders: &mpsc::UnboundedSender<ExecOrder>,
    metrics: &Metrics,
) {
    if !resume.is_empty() {
        tracing::info!(
            orders = resume.len(),
            "resuming accepted orders never submitted"
        );
    }
    for (strategy, order, accepted_ms) in resume {
        metrics.orders.fetch_add(1, Ordering::Relaxed);
        let _ = match strategies.get(&strategy).and_then(|s| s.live.as_ref()) {
            Some(live) => live.send(order, accepted_ms),
            None => orders.send(order).is_ok(),
        };
    }
}

/// The longest any gate remembers an event after accepting it, ms.
fn longest_lifetime_ms(strategies: &BTreeMap<String, Strategy>) -> i64 {
    strategies
        .values()
        .map(|s| {
            let gate = s.gate.lock().unwrap_or_else(|e| e.into_inner());
            gate.replay_lifetime_ms(0, gate.policy().max_future_skew_ms)
        })
        .max()
        .unwrap_or(0)
}

/// Serves on `listen` until a shutdown signal, then lets the executor
/// drain and the journal's writer stop.
fn run(
    started: Started,
    listen: SocketAddr,
    header_timeout: Duration,
    journal_path: &Path,
    tls: Option<Arc<Tls>>,
) -> Result<(), Error> {
    let Started {
        state,
        exchange,
        order_rx,
        breaker,
        metrics,
        exchange_log,
        writer,
        snapshots,
        live_stages,
    } = started;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async move {
        let executor = spawn_execution(execution::run(
            order_rx,
            exchange,
            breaker,
            metrics,
            exchange_log,
            snapshots,
        ))
        .map_err(Error::Runtime)?;
        let live: Vec<_> = live_stages.into_iter().map(tokio::spawn).collect();
        let cannot_listen = |source| Error::Listen {
            address: listen,
            source,
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(cannot_listen)?;
        let local = listener.local_addr().map_err(cannot_listen)?;
        if let Some(tls) = &tls {
            tls::reload_on_sighup(tls.clone()).map_err(Error::Runtime)?;
        }
        let https = tls.is_some();
        tracing::info!(%local, https, journal = %journal_path.display(), "listening");
        // The address line on stdout is for scripts and tests (port 0).
        println!("listening on {local}");
        let app = router(state);
        accept_loop(listener, app, header_timeout, tls).await;
        // `app` (and with it the journal's and executor's senders) is gone:
        // both drain what they hold and stop.
        // Bounded: a connection still open past the shutdown grace keeps
        // the order channel alive.
        let _ = tokio::time::timeout(Duration::from_secs(30), executor).await;
        // A real venue's order being resolved may take longer: what is left
        // unsettled is reconciled at the next start.
        for stage in live {
            let _ = tokio::time::timeout(Duration::from_secs(30), stage).await;
        }
        Ok::<(), Error>(())
    })?;
    let _ = writer.join();
    tracing::info!("stopped");
    Ok(())
}

/// Runs the paper exchange's execution stage on a thread of its own, with
/// a single-threaded runtime; the receiver hears when it ends.
///
/// Why not a task on the request runtime: the stage's work is blocking
/// (the exchange log's write and fsync, executing a batch, a snapshot), and
/// run on a worker (even through `block_in_place`, which hands the
/// worker's other tasks over at each batch) it held up the requests queued
/// there; on its own thread the OS shares the cores between it and the
/// request workers.
fn spawn_execution(
    stage: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    let (done, ended) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("execution".into())
        .spawn(move || {
            runtime.block_on(stage);
            let _ = done.send(());
        })?;
    Ok(ended)
}

/// Runs the gateway until SIGTERM or Ctrl-C: validates the configuration,
/// builds the strategies' gates, recovers from the journal and the
/// exchange's log, then serves on `listen` (`None`: `[serve] listen`).
pub fn serve(config: ServeConfig, listen: Option<SocketAddr>) -> Result<(), Error> {
    // The gates borrow their settings for the life of the process.
    let settings: &'static ServeConfig = Box::leak(Box::new(config));
    let gates: Gates = std::iter::once((String::new(), &settings.gate))
        .chain(settings.strategies.iter().map(|(n, s)| (n.clone(), s)))
        .collect();
    refuse_literal_secrets(&gates)?;
    let serve = &settings.serve;
    let base = settings.base_dir.as_path();
    let paths = Paths {
        journal: resolve(base, &serve.journal),
        fills: resolve(base, &serve.fills),
    };
    // Before anything is read: a second gateway on these files stops here
    // (each venue's order log is locked as it is opened).
    let _locks = [
        jsonl::FileLock::take(&paths.journal)?,
        jsonl::FileLock::take(&paths.fills)?,
    ];
    let market = load_market(serve, base, &settings.gate.quotes)?;
    let listen = listen.unwrap_or(serve.listen);
    let tls = Tls::load(serve, base)?;
    let mut strategies = build_strategies(&gates, &StoreOptions::of(serve))?;
    let live = LiveVenues::open(
        &settings.venues,
        &settings.sizings,
        gates.keys().map(String::as_str),
        base,
        settings.mock,
    )?;
    for (name, strategy) in strategies.iter_mut() {
        let policy = gates.get(name).map(|g| &g.policy);
        let limits = OrderLimits {
            max_quantity: policy.and_then(|p| p.max_quantity),
            max_order_value: policy.and_then(|p| p.max_order_value),
        };
        strategy.live = live.sender(name, limits);
    }
    let (exchange, resume, resumed) = recover(&paths, settings.mock, &strategies, &live)?;
    let prepared = Prepared {
        strategies,
        trusted_proxies: serve.trusted_proxies.clone(),
        market,
        exchange,
        resume,
        resumed,
        live,
        quotes: settings.gate.quotes.clone(),
    };
    let started = start(serve, &paths.journal, prepared)?;
    let header_timeout = Duration::from_millis(serve.header_timeout_ms);
    run(started, listen, header_timeout, &paths.journal, tls)
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/webhook", post(webhook_default))
        .route("/webhook/{strategy}", post(webhook_strategy))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            tls::require_client_certificate,
        ))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// Accepts connections (over TLS with `tls`) until a shutdown signal, then
/// lets in-flight requests finish.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    tls: Option<Arc<Tls>>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let shutdown = crate::shutdown::signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        // The handshake (with TLS) runs on the connection's task.
        let handshake = tls::accept(tls.as_deref(), stream, peer, header_timeout);
        tokio::spawn(async move {
            let Some((stream, client)) = handshake.await else {
                return;
            };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(client);
                tower::ServiceExt::oneshot(app.clone(), req.map(Body::new))
            });
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, "connection: {e}");
            }
        });
    }
    drop(listener);
    drop(app);
    tracing::info!("shutting down: finishing in-flight requests");
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests still running after 30 s; stopping");
    }
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    state.readiness.render_gauges(&mut text);
    ([("content-type", "text/plain; version=0.0.4")], text)
}

/// `GET /readyz`: 200 `{"ready":true}`, or 503 naming each failing part
/// and why (see [`readiness`]).
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let report = state.readiness.check().await;
    let status = if report.is_ready() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report.to_json())).into_response()
}

async fn webhook_default(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    webhook(state, String::new(), peer, headers, body).await
}

async fn webhook_strategy(
    State(state): State<Arc<AppState>>,
    UrlPath(strategy): UrlPath<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    webhook(state, strategy, peer, headers, body).await
}

/// The sender's address: the peer, or — when the peer is a trusted proxy —
/// the right-most `X-Forwarded-For` entry that is not itself trusted.
pub fn source_ip(peer: IpAddr, forwarded: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    // An empty allowlist allows everyone; an empty proxy list trusts no one.
    let is_trusted = |ip: IpAddr| {
        !trusted.is_empty() && alertgate_validator::net::is_allowed(trusted, Some(ip)).is_ok()
    };
    if !is_trusted(peer) {
        return peer;
    }
    let Some(list) = forwarded else { return peer };
    let mut last = peer;
    for entry in list.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => last = ip,
            Ok(ip) => return ip,
            // An unparsable hop ends what can be believed.
            Err(_) => return last,
        }
    }
    last
}

async fn webhook(
    state: Arc<AppState>,
    strategy: String,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let outcome = handle(state.clone(), strategy, peer, headers, body).await;
    let metrics = &state.metrics;
    match outcome {
        Ok(order_id) => {
            metrics.request(200, "accepted");
            refusal::accepted(&order_id)
        }
        Err(refusal) => {
            metrics.request(refusal.status(), refusal.code());
            refusal.into_response()
        }
    }
}

/// One request's path: read the body → (on its own task) shed or admit
/// (per-address limit, circuit breaker) → decide (the gate, under its
/// lock) → settle (the shared claim, the journal's fsync) → hand the order
/// to execution. The order's client id, or why it was refused.
///
/// Once the body is read, the rest runs on a spawned task: if the sender
/// leaves (hyper drops this future), a decision already started still
/// completes (an accepted order is journaled, then executed), and one not
/// started yet is never started.
async fn handle(
    state: Arc<AppState>,
    strategy: String,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<String, Refusal> {
    let target = state
        .strategies
        .get(&strategy)
        .ok_or(Refusal::UnknownStrategy)?;
    let bytes = read_body(&state, target.max_body_bytes, &headers, body).await?;
    let read = Instant::now();
    // Dropped with this future when the sender leaves: the task sees it.
    let (_present, sender) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let request = Read {
            strategy: &strategy,
            peer,
            headers: &headers,
            bytes: &bytes,
            read,
            sender,
        };
        decide_request(&state, request).await
    });
    match task.await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down.
        Err(_) => Err(Refusal::Overloaded),
    }
}

/// A request whose body is read, waiting for its decision.
struct Read<'r> {
    strategy: &'r str,
    peer: SocketAddr,
    headers: &'r HeaderMap,
    bytes: &'r Bytes,
    /// When the body was complete: the wait `[serve] max_wait_ms` bounds
    /// starts here.
    read: Instant,
    /// Closed once the sender has left.
    sender: tokio::sync::oneshot::Receiver<()>,
}

/// Load shedding, before any gate or journal work: a request whose sender
/// has left is not decided (nobody would hear the answer), one that waited
/// past `[serve] max_wait_ms` is refused as `overloaded`.
fn shed(state: &AppState, request: &mut Read<'_>) -> Result<(), Refusal> {
    use tokio::sync::oneshot::error::TryRecvError;
    if let Err(TryRecvError::Closed) = request.sender.try_recv() {
        state.metrics.abandoned.fetch_add(1, Ordering::Relaxed);
        return Err(Refusal::Overloaded);
    }
    if state
        .max_wait
        .is_some_and(|budget| request.read.elapsed() > budget)
    {
        state.metrics.shed.fetch_add(1, Ordering::Relaxed);
        return Err(Refusal::Overloaded);
    }
    Ok(())
}

/// [`handle`] once the body is read: shed, admit, decide, settle, execute.
async fn decide_request(state: &AppState, mut request: Read<'_>) -> Result<String, Refusal> {
    shed(state, &mut request)?;
    let Read {
        strategy,
        peer,
        headers,
        bytes,
        read: started,
        ..
    } = request;
    let target = state
        .strategies
        .get(strategy)
        .ok_or(Refusal::UnknownStrategy)?;
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    let now = wall_clock_ms();
    let source = source_ip(peer.ip(), forwarded, &state.trusted_proxies);
    admit(state, source, now)?;
    // With market data, the alert's mark at its own time (read-only data:
    // looked up outside the gate's lock). It values the order and is the
    // price the exchange observes with it.
    let lookup = state
        .market
        .as_ref()
        .and_then(|m| m.lookup(bytes, &target.quotes));
    let incoming = Incoming {
        strategy,
        now,
        headers: &pairs,
        body: bytes,
        source,
        market_mark: lookup.and_then(|l| l.mark.ok()),
        target_position: target
            .live
            .as_ref()
            .filter(|l| l.sizing.mode == SizingMode::Target)
            .and_then(|_| target_position(bytes)),
        redactor: &target.redactor,
    };
    let mut decided = decide(state, target, &incoming);
    // Held until the order is handed over (or refused after all).
    let _admission = decided.admission.take();
    // An acceptance journaled after its claim or sizing: pending till then.
    let pending = decided.decision.is_ok() && decided.durable.is_none();
    let (decision, durable, held) = settle(state, target, &incoming, decided).await;
    state.metrics.decision.observe(started.elapsed());
    recorded(target, &incoming, &decision, durable, held).await?;
    if let (Ok(order), true) = (&decision, pending) {
        // Recorded: a duplicate is a replay from now on.
        target.index().settle(order.replay_key.as_str());
    }
    // Orders that needed a mark (accepted, or refused for want of one).
    if matches!(
        decision,
        Ok(_) | Err(Refusal::Gate(Rejection::UnpricedOrder { .. }))
    ) {
        count_fallback(state, strategy, lookup);
    }
    let order = decision.inspect_err(|r| {
        // The message never holds a secret: the gate does not echo them.
        tracing::info!(strategy = %strategy, %source, code = r.code(), "rejected");
    })?;
    Ok(hand_over(state, target, &incoming, &order))
}

/// Waits for the decision's journal line; if it could not be recorded,
/// the decision did not happen: an acceptance is withdrawn from the gate
/// and its shared claim released, and the request refused.
async fn recorded(
    target: &Strategy,
    incoming: &Incoming<'_>,
    decision: &Result<Order, Refusal>,
    durable: Durable,
    held: Option<Held>,
) -> Result<(), Refusal> {
    let Err(e) = durable.wait().await else {
        return Ok(());
    };
    tracing::error!("{e}");
    if let Ok(order) = decision {
        // Not recorded, so not accepted: a retry must be decided afresh,
        // not refused as a replay of an order that never existed.
        withdraw(target, order.replay_key.as_str(), incoming.now);
    }
    // And from the shared store: the claim is this request's.
    if let (Some(store), Some(held)) = (&target.store, held) {
        store.release(held);
    }
    Err(Refusal::JournalUnavailable)
}

/// Hands an accepted, journaled `order` to its execution (the paper
/// exchange or the strategy's venue); its client order id.
fn hand_over(
    state: &AppState,
    target: &Strategy,
    incoming: &Incoming<'_>,
    order: &Order,
) -> String {
    let exec = exec_order(
        incoming.strategy,
        order,
        incoming.market_mark,
        incoming.target_position,
    );
    let id = exec.client_order_id.clone();
    state.metrics.orders.fetch_add(1, Ordering::Relaxed);
    let _ = match &target.live {
        Some(live) => live.send(exec, incoming.now),
        None => state.orders.send(exec).is_ok(),
    };
    tracing::info!(strategy = %incoming.strategy, event = %order.replay_key.as_str(), order_id = %id, "accepted");
    id
}

/// Reads the whole body within `body_timeout` and `limit` bytes, refusing
/// by the declared length before reading anything.
async fn read_body(
    state: &AppState,
    limit: usize,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Refusal> {
    let too_large = |len: usize| Refusal::Gate(Rejection::BodyTooLarge { len, limit });
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared.filter(|&len| len > limit) {
        return Err(too_large(len));
    }
    match tokio::time::timeout(state.body_timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(Refusal::BodyTimeout),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit + 1)),
        Ok(Err(_)) => Err(Refusal::BodyUnreadable),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

/// Before the gate: the per-address token bucket (a flood from one address
/// costs neither a decision nor a journal fsync), then the circuit breaker.
fn admit(state: &AppState, source: IpAddr, now: i64) -> Result<(), Refusal> {
    if let Some(limit) = &state.per_ip {
        limit.try_take(source, now)?;
    }
    if state.breaker.is_open(now) {
        return Err(Refusal::CircuitOpen);
    }
    Ok(())
}

/// A request as read: what the gate decides and the journal records.
struct Incoming<'r> {
    strategy: &'r str,
    now: i64,
    headers: &'r [(&'r str, &'r str)],
    body: &'r [u8],
    source: IpAddr,
    /// The `[serve] market` mark at the alert's time, if any.
    market_mark: Option<Decimal>,
    /// The alert's target position, for a strategy sized by `target`.
    target_position: Option<Decimal>,
    /// What keeps secrets out of the journal line.
    redactor: &'r Redactor,
}

impl Incoming<'_> {
    /// The journal line of `decision`: the request as an alert-stream
    /// record plus the decision.
    fn journal_line(&self, decision: &Result<Order, Rejection>) -> Vec<u8> {
        let strategy = self.strategy;
        let decision = match decision {
            Ok(order) => json!({
                "strategy": strategy,
                "accepted": true,
                "status": 200,
                "code": "accepted",
                "replay_key": order.replay_key.as_str(),
                "accepted_ms": order.accepted_ms,
                "timestamp_ms": order.timestamp_ms,
                "order": exec_order(strategy, order, self.market_mark, self.target_position),
            }),
            Err(r) => json!({
                "strategy": strategy,
                "accepted": false,
                "status": r.status(),
                "code": r.code(),
            }),
        };
        self.record(&decision)
    }

    /// The journal line of a request the gateway refused after the gate
    /// (for want of the replay store, or because the venue would refuse
    /// it): a rejection (recovery neither remembers nor executes it).
    fn refusal_line(&self, refusal: &Refusal) -> Vec<u8> {
        self.record(&json!({
            "strategy": self.strategy,
            "accepted": false,
            "status": refusal.status(),
            "code": refusal.code(),
        }))
    }

    /// The request as an alert-stream record plus `decision`, every
    /// secret redacted (see [`Redactor`]).
    fn record(&self, decision: &Value) -> Vec<u8> {
        // A body that is not UTF-8 is not JSON either: the gate refused it.
        let body = String::from_utf8_lossy(self.body);
        let headers: Vec<(&str, std::borrow::Cow<'_, str>)> = self
            .headers
            .iter()
            .map(|&(name, value)| (name, self.redactor.header(name, value)))
            .collect();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_ref())).collect();
        alertgate_simulator::stream::write_line(
            &self.now.to_string(),
            &headers,
            &self.redactor.body(&body),
            Some(self.source),
            Some(&decision.to_string()),
        )
        .into_bytes()
    }
}

/// The gate's decision, the journal line already queued for it (none while
/// an acceptance still has to be sized by its venue's stage or win the
/// shared claim), and how long the event is remembered.
struct Decided {
    decision: Result<Order, Rejection>,
    durable: Option<Durable>,
    lifetime_ms: i64,
    /// For a replay, the order the event became, if known.
    original: Option<Original>,
    /// The gate accepted it, but the strategy's venue would refuse it:
    /// refused (and forgotten by the gate), nothing sent.
    venue: Option<VenueError>,
    /// An acceptance for a real venue's stage, counted until handed over.
    admission: Option<Admission>,
    /// The acceptance is sized by its stage before it is journaled and
    /// answered ([`LiveRoute::size_check`]).
    size_check: bool,
}

/// Decides under the gate's lock and, unless a shared claim or the
/// stage's sizing ([`LiveRoute::size_check`]) comes first, queues the
/// journal line in the same critical section, so the journal's order is
/// the gate's order. (Meanwhile the event is remembered: a duplicate of
/// it is answered as a replay, even if the first is then refused.)
fn decide(state: &AppState, target: &Strategy, incoming: &Incoming<'_>) -> Decided {
    let mut gate = target.gate.lock().unwrap_or_else(|e| e.into_inner());
    let mut request = Request {
        body: incoming.body,
        headers: incoming.headers,
        source_ip: Some(incoming.source),
        mark_price: incoming.market_mark,
    };
    let now = incoming.now;
    let mut decision = gate.check(&request, now);
    // Without a mark at the alert's time, the order is valued at the
    // symbol's last mark from the data. Only then is the symbol looked up (a
    // second scan): priced alerts, the common case, pay nothing. A
    // rejection changes nothing in the gate, so deciding again is safe.
    if let Err(Rejection::UnpricedOrder { .. }) = decision {
        request.mark_price = mark_of(state, incoming.body, &target.quotes);
        if request.mark_price.is_some() {
            decision = gate.check(&request, now);
        }
    }
    // The fallback mark is the symbol's last price from market data, which
    // travels with each accepted order to the exchange: never an alert's
    // own price, or one alert could set the price every later alert of the
    // symbol is valued at.
    if let (Ok(order), Some(price)) = (&decision, incoming.market_mark) {
        let mut marks = state.marks.lock().unwrap_or_else(|e| e.into_inner());
        marks.insert(order.symbol.as_str().to_string(), price);
    }
    // The client order id an acceptance becomes, digested once.
    let order_id = decision
        .as_ref()
        .ok()
        .map(|o| execution::client_order_id(incoming.strategy, o.replay_key.as_str()));
    if let Some(original) = decided_before(state, target, order_id.as_deref()) {
        // Accepted by the gate, which forgot the event after its window,
        // but its order was placed (or refused) before: a venue takes a
        // client id once, and the paper exchange answers a known one with
        // the order it has, so it is answered as the replay it is, with
        // the order it became, never accepted and then dropped.
        if let Ok(order) = &decision {
            gate.forget(order.replay_key.as_str());
            gate.refund(now);
            decision = Err(Rejection::Replayed {
                event_id: alertgate_validator::error::snippet(order.replay_key.as_str().as_bytes()),
            });
        }
        return Decided {
            durable: Some(append_decision(state, incoming, &decision)),
            decision,
            lifetime_ms: 0,
            original: Some(original),
            venue: None,
            admission: None,
            size_check: false,
        };
    }
    let checked = venue_check(target, incoming, &decision);
    if let Err(refused) = checked {
        // Not accepted after all: a retry is decided afresh.
        if let Ok(order) = &decision {
            gate.forget(order.replay_key.as_str());
            gate.refund(now);
        }
        let line = incoming.refusal_line(&Refusal::Venue(refused.clone()));
        return Decided {
            decision,
            durable: Some(state.journal.append(line)),
            lifetime_ms: 0,
            original: None,
            venue: Some(refused),
            admission: None,
            size_check: false,
        };
    }
    // Counted from here (under the gate's lock, so in the gate's order)
    // until handed over: an order sized before its answer is sized only
    // when none accepted before it is still on its way to the stage.
    let admission = target
        .live
        .as_ref()
        .filter(|_| decision.is_ok())
        .map(LiveRoute::admit);
    let size_check = checked == Ok(Checked::AskStage)
        && target
            .live
            .as_ref()
            .is_some_and(LiveRoute::sizes_before_answer);
    // An acceptance journaled only after its shared claim or its sizing,
    // either of which may still refuse it, is pending until recorded
    // (`settle`). One journaled here is not: its line is already queued,
    // and only a failing disk (a few ms of fsync) could still withdraw it.
    let deferred = decision.is_ok() && (target.store.is_some() || size_check);
    let (lifetime_ms, original) = match &decision {
        Ok(order) => {
            let key = order.replay_key.as_str();
            let original = Original {
                order_id: order_id.unwrap_or_default(),
                accepted_ms: Some(now),
                pending: deferred,
            };
            let until = gate.remembered_until_ms(now, order.timestamp_ms);
            target.index().insert(key, original, until, now);
            (gate.replay_lifetime_ms(now, order.timestamp_ms), None)
        }
        Err(Rejection::Replayed { event_id }) => (0, target.index().find(event_id, now)),
        Err(_) => (0, None),
    };
    let pending = original.as_ref().is_some_and(|o| o.pending);
    let durable = match (&decision, &target.store) {
        (Ok(_), Some(_)) => None,
        (Ok(_), None) if size_check => None,
        _ if pending => Some(
            state
                .journal
                .append(incoming.refusal_line(&Refusal::DecisionPending)),
        ),
        _ => Some(append_decision(state, incoming, &decision)),
    };
    Decided {
        decision,
        durable,
        lifetime_ms,
        original,
        venue: None,
        admission,
        size_check,
    }
}

/// What the strategy's venue would say of an accepted `decision`, as far
/// as the answer path can tell (see [`LiveRoute::check`]): why it would
/// refuse it, or whether only its stage can tell.
fn venue_check(
    target: &Strategy,
    incoming: &Incoming<'_>,
    decision: &Result<Order, Rejection>,
) -> Result<Checked, VenueError> {
    let (Ok(order), Some(live)) = (decision, &target.live) else {
        return Ok(Checked::Fits);
    };
    let exec = exec_order(
        incoming.strategy,
        order,
        incoming.market_mark,
        incoming.target_position,
    );
    live.check(&exec)
}

/// The order an accepted decision (client id `order_id`) became before,
/// if the exchange its strategy trades on knows that id: a real venue's
/// order log, or the paper exchange for the batched paper stage (see
/// [`KnownIds`]).
fn decided_before(state: &AppState, target: &Strategy, order_id: Option<&str>) -> Option<Original> {
    let order_id = order_id?;
    let known = match &target.live {
        Some(live) => live.knows_client_id(order_id),
        None => state.paper_known.contains(order_id),
    };
    known.then(|| Original {
        order_id: order_id.to_string(),
        accepted_ms: None,
        pending: false,
    })
}

/// With a shared store, an acceptance still has to win the claim: claimed,
/// it is journaled as accepted; claimed elsewhere, it is a replay; with no
/// answer from the store, it is refused (fail closed) and withdrawn from
/// the local guard. Either way the journal line is queued here.
async fn settle(
    state: &AppState,
    target: &Strategy,
    incoming: &Incoming<'_>,
    decided: Decided,
) -> (Result<Order, Refusal>, Durable, Option<Held>) {
    let original = decided.original;
    let durable = match (decided.venue, decided.durable) {
        (Some(e), Some(durable)) => return (Err(Refusal::Venue(e)), durable, None),
        (_, durable) => durable,
    };
    let durable = match durable {
        Some(durable) if original.as_ref().is_some_and(|o| o.pending) => {
            return (Err(Refusal::DecisionPending), durable, None)
        }
        durable => durable,
    };
    if let (true, Ok(order)) = (decided.size_check, &decided.decision) {
        if let Some(refused) = sized_unfit(target, incoming, order).await {
            return refused_after_sizing(state, target, incoming, order, refused);
        }
    }
    let refused = |r: Rejection| refusal_of(r, original.clone());
    let (order, store) = match (durable, decided.decision, &target.store) {
        (Some(durable), decision, _) => return (decision.map_err(refused), durable, None),
        (None, Ok(order), Some(store)) => (order, store),
        // Only an acceptance with a store is journaled after its claim.
        (None, decision, _) => {
            let durable = append_decision(state, incoming, &decision);
            return (decision.map_err(refused), durable, None);
        }
    };
    let gate = || target.gate.lock().unwrap_or_else(|e| e.into_inner());
    let held = match store
        .claim(order.replay_key.as_str(), decided.lifetime_ms, incoming.now)
        .await
    {
        Ok(Claim::Claimed(held)) => held,
        Ok(Claim::Replayed { accepted_ms }) => {
            // Another replica accepted it, at `accepted_ms` if it said: a
            // replay, which spends no rate token. The local guard keeps it
            // (it is one), and so does the index: the order id is the same
            // on every replica.
            let key = order.replay_key.as_str();
            {
                let mut gate = gate();
                gate.refund(incoming.now);
                target.index().set_accepted_ms(key, accepted_ms);
            }
            let line = incoming.journal_line(&Err(replayed(key)));
            let original = Original {
                order_id: execution::client_order_id(incoming.strategy, key),
                accepted_ms,
                pending: false,
            };
            let refusal = refusal_of(replayed(key), Some(original));
            return (Err(refusal), state.journal.append(line), None);
        }
        Err(e) => {
            tracing::error!(strategy = %incoming.strategy, "replay store unavailable: {e}");
            // Refused after all (a claim that may have landed is released
            // by the store): withdraw it from the local guard so a retry is
            // decided afresh, not refused as a replay of nothing, and give
            // its rate token back.
            withdraw(target, order.replay_key.as_str(), incoming.now);
            let line = incoming.refusal_line(&Refusal::ReplayStoreUnavailable);
            return (
                Err(Refusal::ReplayStoreUnavailable),
                state.journal.append(line),
                None,
            );
        }
    };
    let decision = Ok(order);
    let durable = append_decision(state, incoming, &decision);
    (decision.map_err(Refusal::Gate), durable, Some(held))
}

/// Sizes the accepted `order` by its venue's stage (see
/// [`LiveRoute::size_check`]): why the venue would refuse it, if the stage
/// could tell in time.
async fn sized_unfit(
    target: &Strategy,
    incoming: &Incoming<'_>,
    order: &Order,
) -> Option<VenueError> {
    let live = target.live.as_ref()?;
    let exec = exec_order(
        incoming.strategy,
        order,
        incoming.market_mark,
        incoming.target_position,
    );
    match live.size_check(&exec).await {
        Fit::Unfit(e) => Some(e),
        Fit::Fits => None,
        Fit::Unsure(why) => {
            tracing::debug!(order_id = %exec.client_order_id, "not sized before the answer: {why}");
            None
        }
    }
}

/// An acceptance its venue would refuse once sized: withdrawn from the
/// gate (a corrected retry is decided afresh), journaled refused, nothing
/// sent; no shared claim was made.
fn refused_after_sizing(
    state: &AppState,
    target: &Strategy,
    incoming: &Incoming<'_>,
    order: &Order,
    e: VenueError,
) -> (Result<Order, Refusal>, Durable, Option<Held>) {
    withdraw(target, order.replay_key.as_str(), incoming.now);
    let refusal = Refusal::Venue(e);
    let line = incoming.refusal_line(&refusal);
    (Err(refusal), state.journal.append(line), None)
}

/// Queues `decision`'s journal line; an acceptance is reported to the
/// snapshots' checkpoint once durable ([`Journal::append_accepted`]).
fn append_decision(
    state: &AppState,
    incoming: &Incoming<'_>,
    decision: &Result<Order, Rejection>,
) -> Durable {
    let line = incoming.journal_line(decision);
    match decision {
        Ok(order) => state.journal.append_accepted(
            line,
            &execution::client_order_id(incoming.strategy, order.replay_key.as_str()),
            order.accepted_ms,
        ),
        Err(_) => state.journal.append(line),
    }
}

/// Withdraws an acceptance that did not take effect from `target`'s gate
/// (and its index), and gives its rate token back.
fn withdraw(target: &Strategy, replay_key: &str, now: i64) {
    let mut gate = target.gate.lock().unwrap_or_else(|e| e.into_inner());
    gate.forget(replay_key);
    target.index().remove(replay_key);
    gate.refund(now);
}

/// The gate's `replayed` for `replay_key`.
fn replayed(replay_key: &str) -> Rejection {
    Rejection::Replayed {
        event_id: alertgate_validator::error::snippet(replay_key.as_bytes()),
    }
}

/// The refusal of `rejection`: a replay carries its `original` order.
fn refusal_of(rejection: Rejection, original: Option<Original>) -> Refusal {
    match rejection {
        Rejection::Replayed { .. } => Refusal::Replayed {
            rejection,
            original: original.map(Box::new),
        },
        rejection => Refusal::Gate(rejection),
    }
}

/// The last market-data price of the alert's symbol (see
/// [`MockExchange::last_market_prices`]), if the body names one.
fn mark_of(state: &AppState, body: &[u8], quotes: &[&str]) -> Option<Decimal> {
    let fields = RawAlert::scan(body).ok()?.fields(quotes).ok()?;
    let marks = state.marks.lock().unwrap_or_else(|e| e.into_inner());
    marks.get(fields.symbol.as_str()).copied()
}

/// Counts (metric, and a debug log) an order of a decided request that
/// needed a mark the market data did not have: it was priced as without
/// `[serve] market` (its own price, else the last observed one).
fn count_fallback(state: &AppState, strategy: &str, lookup: Option<Lookup>) {
    if let Some(Lookup {
        mark: Err(miss),
        needs_mark: true,
    }) = lookup
    {
        state.metrics.mark_fallbacks[miss.index()].fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            strategy = %strategy,
            reason = miss.reason(),
            "no market-data mark; priced as without [serve] market"
        );
    }
}

/// The order as execution takes it, with `market_mark` (from `[serve]
/// market`), the price the exchange observes with it.
fn exec_order(
    strategy: &str,
    order: &Order,
    market_mark: Option<Decimal>,
    target_position: Option<Decimal>,
) -> ExecOrder {
    ExecOrder {
        client_order_id: execution::client_order_id(strategy, order.replay_key.as_str()),
        event_id: order.replay_key.as_str().to_string(),
        symbol: order.symbol.as_str().to_string(),
        side: order.side,
        order_type: order.order_type,
        quantity: order.quantity,
        price: order.price,
        stop_price: order.stop_price,
        mark_price: market_mark,
        stop_loss: order.stop_loss,
        take_profit: order.take_profit,
        target_position,
        action: ExecAction::of(strategy, &order.action),
    }
}

/// The position an alert says its strategy now holds (`[sizing] mode =
/// "target"`): its `position_size` (signed), or `market_position` (`long`,
/// `short`, `flat`) with `position_size` unsigned. `None` when it says
/// nothing readable (execution then refuses the order, `sizing_no_target`).
fn target_position(body: &[u8]) -> Option<Decimal> {
    let alert: Value = serde_json::from_slice(body).ok()?;
    let decimal = |v: &Value| match v {
        Value::String(s) => Decimal::parse(s),
        Value::Number(n) => Decimal::parse(&n.to_string()),
        _ => None,
    };
    let size = alert.get("position_size").and_then(decimal);
    let target = match alert.get("market_position").and_then(Value::as_str) {
        Some(side) => Target::from_market_position(side, size.unwrap_or(Decimal::ZERO)).ok()?,
        None => Target::from_position_size(size?),
    };
    Some(target.signed())
}

#[cfg(test)]
mod recovery_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_position_is_read_signed_or_with_its_side() {
        let t = |body: &str| target_position(body.as_bytes()).map(|d| d.to_string());
        assert_eq!(t(r#"{"position_size":"-0.5"}"#).as_deref(), Some("-0.5"));
        assert_eq!(t(r#"{"position_size":2}"#).as_deref(), Some("2"));
        assert_eq!(
            t(r#"{"market_position":"short","position_size":"0.5"}"#).as_deref(),
            Some("-0.5")
        );
        assert_eq!(t(r#"{"market_position":"flat"}"#).as_deref(), Some("0"));
        assert_eq!(
            t(r#"{"market_position":"sideways","position_size":"1"}"#),
            None
        );
        assert_eq!(t(r#"{"qty":"1"}"#), None);
    }

    #[test]
    fn a_journal_line_is_an_alert_stream_record() {
        let headers = [("x-b", "2"), ("x-a", "1\"q"), ("x-b", "3")];
        let rejected: Result<Order, Rejection> = Err(Rejection::BodyTooLarge { len: 9, limit: 8 });
        let ip: IpAddr = "52.89.214.238".parse().unwrap();
        let redactor = Redactor::new([], false);
        let incoming = Incoming {
            strategy: "sma",
            now: 1_699_113_600_250,
            headers: &headers,
            body: b"{\"a\":1}",
            source: ip,
            market_mark: None,
            target_position: None,
            redactor: &redactor,
        };
        let line = String::from_utf8(incoming.journal_line(&rejected)).unwrap();
        let r = alertgate_simulator::stream::parse_line(&line, "j", 1).unwrap();
        assert_eq!(r.received_at_ms, 1_699_113_600_250);
        assert_eq!(r.body, "{\"a\":1}");
        assert_eq!(r.source_ip, Some(ip));
        let names: Vec<(&str, &str)> = r
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(names, headers);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["decision"]["code"], "body_too_large");
        assert_eq!(v["decision"]["strategy"], "sma");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [
            Cidr::parse("127.0.0.1").unwrap(),
            Cidr::parse("10.0.0.0/8").unwrap(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff = Some("6.6.6.6, 52.89.214.238, 10.1.2.3");
        assert_eq!(
            source_ip(ip("127.0.0.1"), xff, &trusted),
            ip("52.89.214.238")
        );
        assert_eq!(source_ip(ip("8.8.8.8"), xff, &trusted), ip("8.8.8.8"));
        assert_eq!(source_ip(ip("127.0.0.1"), None, &trusted), ip("127.0.0.1"));
        assert_eq!(
            source_ip(ip("127.0.0.1"), Some("junk"), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            source_ip(ip("127.0.0.1"), Some("10.0.0.1"), &[]),
            ip("127.0.0.1")
        );
    }
}
