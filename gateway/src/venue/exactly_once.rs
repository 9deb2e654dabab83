//! Placing an order on a venue exactly once, against a venue that can lose
//! answers.
//!
//! # The rule
//!
//! An order POST is never retried blindly. Before it is sent, its intent
//! (the order, its client id, the signed request's `timestamp`) is durable
//! in the [`OrderLog`]. Then:
//!
//! - the venue answers with the order: settled;
//! - the venue refuses it ([`VenueError::Rejected`], a rule, an unknown
//!   symbol): it does not exist; settled as rejected;
//! - the request certainly never took effect (not sent, 429, 418): it is
//!   sent again once allowed, with a fresh timestamp and the same client
//!   id, until [`ResolvePolicy::give_up_after_ms`] has passed (then it is
//!   `abandoned`: it does not exist);
//! - anything else (a timeout, a 5xx, a connection lost after sending,
//!   Binance's -1007, an unreadable answer) leaves it UNKNOWN, and only a
//!   query by client id resolves it: found → settled with the venue's
//!   report; "duplicate order" answers resolve the same way. It is sent
//!   again only when the venue can no longer accept the original request
//!   (its `timestamp + recvWindow` has passed on the venue's clock) *and*
//!   the venue has answered "does not exist" at least
//!   [`ResolvePolicy::not_found_answers`] times, each after that deadline
//!   and [`ResolvePolicy::not_found_spacing_ms`] apart (a venue's order
//!   store may lag its matching engine).
//!
//! An order already settled in the log is never sent again: placing it
//! returns what the log knows. On restart, [`Executor::reconcile`] resolves
//! every order the log left unsettled before anything new is sent.

use std::sync::Arc;
use std::time::Duration;

use super::clock::VenueClock;
use super::order_log::{Change, Known, OrderLog, State};
use super::{OrderReport, OrderStatus, Venue, VenueError, VenueOrder};

/// How unknown outcomes are resolved and refused requests retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvePolicy {
    /// `recvWindow` of order requests, ms (`[venue] recv_window_ms`).
    pub recv_window_ms: u64,
    /// "Does not exist" answers needed after the request's deadline
    /// before an unknown order is sent again (at least 2).
    pub not_found_answers: u32,
    /// Least time between two such answers that count, ms.
    pub not_found_spacing_ms: u64,
    /// Pause between two queries of an unknown order, ms.
    pub query_pause_ms: u64,
    /// Longest wait before sending again an order that certainly was not
    /// placed (not sent, 429), ms, unless the venue says how long.
    pub retry_pause_ms: u64,
    /// An order not placed this long after its first intent is given up
    /// (`abandoned`), ms, counted across restarts (a gateway down for an
    /// hour does not send an hour-old signal). Never applies to an order
    /// whose outcome is unknown: that one is resolved first, however long
    /// it takes, and given up then if proved never placed this late.
    pub give_up_after_ms: u64,
}

impl Default for ResolvePolicy {
    fn default() -> Self {
        ResolvePolicy {
            recv_window_ms: 5_000,
            not_found_answers: 2,
            not_found_spacing_ms: 2_000,
            query_pause_ms: 500,
            retry_pause_ms: 1_000,
            give_up_after_ms: 60_000,
        }
    }
}

/// What became of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// On the venue: its report (a repeat: what the log knew).
    Placed(OrderReport),
    /// The venue refused it, or it was given up: it does not exist.
    Refused {
        /// Stable `venue_*` code.
        code: String,
        /// Why.
        reason: String,
    },
}

/// Why the executor could not go on: only the log's disk (an order whose
/// state change cannot be recorded is not acted on).
#[derive(Debug, thiserror::Error)]
#[error("order log {path}: {source}")]
pub struct LogError {
    /// The log.
    pub path: String,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Told how each query made to resolve an unknown order went: `Some`
/// with the error when the venue did not answer it (a network failure, a
/// revoked key, a ban), `None` when it did. While it fails the stage can
/// place nothing: whoever listens (the gateway's circuit breaker and
/// readiness) should know.
pub type ResolveHook = Arc<dyn Fn(Option<&VenueError>) + Send + Sync>;

/// Told each state change the log records, once it is recorded (for
/// `/metrics`: orders by the log's states).
pub type ChangeHook = Arc<dyn Fn(State) + Send + Sync>;

/// Places orders on one venue, exactly once (see the module doc).
pub struct Executor<V> {
    venue: V,
    log: OrderLog,
    clock: Arc<VenueClock>,
    policy: ResolvePolicy,
    local_ms: Box<dyn Fn() -> i64 + Send + Sync>,
    on_resolve: Option<ResolveHook>,
    on_change: Option<ChangeHook>,
}

/// Where resolving an unknown order ended.
enum Resolution {
    Found(OrderReport),
    NotPlaced,
}

impl<V: Venue> Executor<V> {
    /// An executor on `venue`, recording in `log`, signing on `clock`
    /// (the local clock read with `local_ms`, plus the venue's offset).
    pub fn new(
        venue: V,
        log: OrderLog,
        clock: Arc<VenueClock>,
        policy: ResolvePolicy,
        local_ms: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Self {
        Executor {
            venue,
            log,
            clock,
            policy,
            local_ms: Box::new(local_ms),
            on_resolve: None,
            on_change: None,
        }
    }

    /// Tells `hook` how each query resolving an unknown order went.
    pub fn on_resolve(&mut self, hook: ResolveHook) {
        self.on_resolve = Some(hook);
    }

    /// Tells `hook` each state change recorded from now on, whoever asks
    /// for it (the executor, or the stage through [`Self::record`]).
    pub fn on_change(&mut self, hook: ChangeHook) {
        self.on_change = Some(hook);
    }

    fn changed(&self, state: State) {
        if let Some(hook) = &self.on_change {
            hook(state);
        }
    }

    fn resolve_went(&self, error: Option<&VenueError>) {
        if let Some(hook) = &self.on_resolve {
            hook(error);
        }
    }

    /// The venue.
    pub fn venue(&self) -> &V {
        &self.venue
    }

    /// How orders are resolved and retried.
    pub fn policy(&self) -> ResolvePolicy {
        self.policy
    }

    /// The log.
    pub fn log(&self) -> &OrderLog {
        &self.log
    }

    fn now(&self) -> i64 {
        (self.local_ms)()
    }

    fn venue_now(&self) -> i64 {
        self.clock.venue_ms(self.now())
    }

    /// Places `order` (carrying out the alert `event_id`) exactly once: a
    /// client id the log has settled is not sent again; one it left
    /// unsettled is resolved first.
    pub async fn place(&mut self, order: &VenueOrder, event_id: &str) -> Result<Outcome, LogError> {
        let id = order.client_order_id.as_str();
        match self.log.get(id).cloned() {
            Some(known) if known.state.is_settled() => return Ok(settled(&known)),
            Some(known) => {
                if let Some(outcome) = self.reconcile_one(id, &known).await? {
                    return Ok(outcome);
                }
            }
            None => {}
        }
        self.send(order, event_id).await
    }

    /// Cancels the working order `client_order_id` of `symbol` and records
    /// it; one the venue no longer knows is recorded as cancelled too. Any
    /// other failure leaves it as it was (logged). The venue's report when
    /// it answered the cancel (`None` too for one that had filled or ended
    /// before it: recorded as the query then shows it).
    pub async fn cancel(
        &mut self,
        symbol: &str,
        client_order_id: &str,
    ) -> Result<Option<OrderReport>, LogError> {
        let answer = self
            .venue
            .cancel(symbol, client_order_id, self.venue_now())
            .await;
        let (change, report) = match answer {
            Ok(report) => (
                Change {
                    report: Some(report.clone()),
                    ..Change::new(State::Cancelled, client_order_id, self.now())
                },
                Some(report),
            ),
            Err(e @ VenueError::NotFound { .. }) => {
                // Nothing working by that id: it may have filled just
                // before the cancel arrived. Asked how it ended, so a fill
                // is recorded as a fill; unanswered, it is no longer
                // working either way.
                if let Some(report) = self.follow(symbol, client_order_id).await? {
                    if report.status.is_final() {
                        return Ok(None);
                    }
                }
                (
                    failure(State::Cancelled, client_order_id, self.now(), &e),
                    None,
                )
            }
            Err(e) => {
                tracing::warn!(%client_order_id, code = e.code(), "cancel failed: {e}");
                return Ok(None);
            }
        };
        self.record(change)?;
        Ok(report)
    }

    /// Asks the venue where the working order `client_order_id` of
    /// `symbol` stands and records a change: its report when the venue
    /// answers (`None` when it did not: logged, nothing recorded).
    pub async fn follow(
        &mut self,
        symbol: &str,
        client_order_id: &str,
    ) -> Result<Option<OrderReport>, LogError> {
        let report = match self
            .venue
            .query(symbol, client_order_id, self.venue_now())
            .await
        {
            Ok(report) => report,
            Err(e) => {
                tracing::warn!(%client_order_id, code = e.code(), "query failed: {e}");
                return Ok(None);
            }
        };
        let state = match report.status {
            OrderStatus::Filled => State::Filled,
            s if s.is_final() => State::Cancelled,
            _ => return Ok(Some(report)),
        };
        self.record(Change {
            report: Some(report.clone()),
            ..Change::new(state, client_order_id, self.now())
        })?;
        Ok(Some(report))
    }

    /// Resolves every order the log left unsettled (a restart), before
    /// anything new is sent; returns how each ended.
    pub async fn reconcile(&mut self) -> Result<Vec<(String, Outcome)>, LogError> {
        let mut done = Vec::new();
        for (id, known) in self.log.unsettled() {
            let outcome = match self.reconcile_one(&id, &known).await? {
                Some(outcome) => outcome,
                None => {
                    let event_id = known.event_id.clone().unwrap_or_default();
                    self.send(&known.order, &event_id).await?
                }
            };
            done.push((id, outcome));
        }
        Ok(done)
    }

    /// An order the log left unsettled: one that may have reached the venue
    /// is resolved (`None`: proved never placed, send it); one that
    /// certainly did not is sent.
    async fn reconcile_one(
        &mut self,
        id: &str,
        known: &Known,
    ) -> Result<Option<Outcome>, LogError> {
        match known.state {
            State::NotSent | State::NotPlaced => Ok(None),
            _ => match self.resolve(known).await? {
                Resolution::Found(report) => Ok(Some(Outcome::Placed(report))),
                Resolution::NotPlaced => {
                    tracing::info!(client_order_id = %id, "unknown order proved never placed");
                    Ok(None)
                }
            },
        }
    }

    /// Sends `order` until it is placed, refused, resolved or given up.
    async fn send(&mut self, order: &VenueOrder, event_id: &str) -> Result<Outcome, LogError> {
        let id = order.client_order_id.as_str();
        let now = self.now();
        let started = self.log.get(id).map_or(now, |k| k.first_intent_ms.min(now));
        loop {
            // Saturating: a venue's `Retry-After` may be absurd.
            let waited = |now: i64, pause: u64| {
                now.saturating_sub(started)
                    .saturating_add(i64::try_from(pause).unwrap_or(i64::MAX))
            };
            if waited(self.now(), 0) > self.policy.give_up_after_ms as i64 {
                return self.give_up(id);
            }
            let timestamp = self.venue_now();
            self.record(Change {
                order: Some(order.clone()),
                event_id: Some(event_id.to_string()),
                timestamp_ms: Some(timestamp),
                recv_window_ms: Some(self.policy.recv_window_ms),
                ..Change::new(State::Intent, id, self.now())
            })?;
            self.note(Change::new(State::Sent, id, self.now()))?;
            let answer = self.venue.submit(order, timestamp).await;
            let pause = match answer {
                Ok(report) => return self.placed(id, report, false),
                Err(e) if is_duplicate(&e) || !e.had_no_effect() => {
                    self.record(failure(State::Unknown, id, self.now(), &e))?;
                    let known = Known {
                        order: order.clone(),
                        event_id: Some(event_id.to_string()),
                        state: State::Unknown,
                        timestamp_ms: timestamp,
                        recv_window_ms: self.policy.recv_window_ms,
                        first_intent_ms: started,
                        report: None,
                    };
                    match self.resolve(&known).await? {
                        Resolution::Found(report) => return Ok(Outcome::Placed(report)),
                        Resolution::NotPlaced => continue,
                    }
                }
                Err(e) if is_clock_refusal(&e) => {
                    // Certainly not placed (the venue refused the request
                    // for its timestamp): sent again on the clock measured
                    // anew, until given up.
                    self.record(failure(State::NotSent, id, self.now(), &e))?;
                    self.resync().await;
                    self.policy.query_pause_ms
                }
                Err(e) => match retry_pause(&e, self.policy, self.now()) {
                    None => return self.refused(State::Rejected, id, &e),
                    Some(pause) => {
                        self.record(failure(State::NotSent, id, self.now(), &e))?;
                        pause
                    }
                },
            };
            if waited(self.now(), pause) > self.policy.give_up_after_ms as i64 {
                return self.give_up(id);
            }
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    /// Measures the venue's clock offset again (the venue refused a
    /// request's timestamp: the local clock stepped, or drifted since the
    /// last measure). A more accurate clock only makes the deadline test
    /// of [`Self::resolve`] more exact.
    async fn resync(&self) {
        let local = || (self.local_ms)();
        match super::clock::sync(&self.venue, &self.clock, local).await {
            Ok(offset) => tracing::warn!(offset_ms = offset, "venue clock measured again"),
            Err(e) => tracing::warn!(code = e.code(), "venue clock not measured: {e}"),
        }
    }

    /// Gives up an order not placed within `give_up_after_ms` of its first
    /// intent: it does not exist (`abandoned`).
    fn give_up(&mut self, id: &str) -> Result<Outcome, LogError> {
        let e = VenueError::NotSent {
            venue: self.venue.kind().name(),
            reason: format!("not placed within {} ms", self.policy.give_up_after_ms),
        };
        self.refused(State::Abandoned, id, &e)
    }

    /// Queries an order that may have reached the venue until it is found
    /// or proved never placed (see the module doc).
    async fn resolve(&mut self, known: &Known) -> Result<Resolution, LogError> {
        let id = known.order.client_order_id.clone();
        let deadline = known
            .timestamp_ms
            .saturating_add(known.recv_window_ms as i64);
        let mut not_found: Vec<i64> = Vec::new();
        loop {
            let now = self.venue_now();
            let answer = self.venue.query(&known.order.symbol, &id, now).await;
            self.resolve_went(match &answer {
                Ok(_) | Err(VenueError::NotFound { .. }) => None,
                Err(e) => Some(e),
            });
            match answer {
                Ok(report) => return self.placed(&id, report, true).map(found),
                Err(VenueError::NotFound { .. }) => {
                    let spaced = not_found
                        .last()
                        .is_none_or(|last| now - last >= self.policy.not_found_spacing_ms as i64);
                    if now > deadline && spaced {
                        not_found.push(now);
                    }
                    if not_found.len() >= self.policy.not_found_answers.max(2) as usize {
                        self.record(Change {
                            reason: Some(format!(
                                "the venue answered \"does not exist\" {} times after the request's deadline",
                                not_found.len()
                            )),
                            ..Change::new(State::NotPlaced, &id, self.now())
                        })?;
                        return Ok(Resolution::NotPlaced);
                    }
                    let wait = (deadline - now).clamp(0, self.policy.query_pause_ms as i64);
                    let wait = wait.max(self.policy.query_pause_ms as i64 / 4).max(1);
                    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                }
                Err(e) => {
                    tracing::warn!(client_order_id = %id, code = e.code(), "query failed: {e}");
                    if is_clock_refusal(&e) {
                        self.resync().await;
                    }
                    let pause = retry_pause(&e, self.policy, self.now())
                        .unwrap_or(self.policy.query_pause_ms);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }
    }

    fn placed(
        &mut self,
        id: &str,
        report: OrderReport,
        resolved: bool,
    ) -> Result<Outcome, LogError> {
        let state = match (resolved, report.status) {
            (true, _) => State::Resolved,
            (false, OrderStatus::Filled) => State::Filled,
            (false, s) if s.is_final() => State::Cancelled,
            (false, _) => State::Acknowledged,
        };
        self.record(Change {
            report: Some(report.clone()),
            ..Change::new(state, id, self.now())
        })?;
        Ok(Outcome::Placed(report))
    }

    fn refused(&mut self, state: State, id: &str, e: &VenueError) -> Result<Outcome, LogError> {
        self.record(failure(state, id, self.now(), e))?;
        Ok(Outcome::Refused {
            code: e.code().to_string(),
            reason: e.to_string(),
        })
    }

    /// Records `change` in the log, durably.
    pub fn record(&mut self, change: Change) -> Result<(), LogError> {
        let state = change.state;
        self.log.record(change).map_err(|source| LogError {
            path: self.log.path().display().to_string(),
            source,
        })?;
        self.changed(state);
        Ok(())
    }

    fn note(&mut self, change: Change) -> Result<(), LogError> {
        let state = change.state;
        self.log.note(change).map_err(|source| LogError {
            path: self.log.path().display().to_string(),
            source,
        })?;
        self.changed(state);
        Ok(())
    }
}

fn found(outcome: Outcome) -> Resolution {
    match outcome {
        Outcome::Placed(report) => Resolution::Found(report),
        Outcome::Refused { .. } => Resolution::NotPlaced,
    }
}

/// What the log says of a settled order.
fn settled(known: &Known) -> Outcome {
    match &known.report {
        Some(report) => Outcome::Placed(report.clone()),
        None => Outcome::Refused {
            code: "venue_order_refused_earlier".into(),
            reason: format!("refused earlier ({:?})", known.state),
        },
    }
}

/// A failure's state change, with its code and message.
fn failure(state: State, id: &str, at_ms: i64, e: &VenueError) -> Change {
    Change {
        code: Some(e.code().to_string()),
        reason: Some(e.to_string()),
        ..Change::new(state, id, at_ms)
    }
}

/// Whether the venue refused a request for its `timestamp` (Binance
/// -1021): it had no effect.
fn is_clock_refusal(e: &VenueError) -> bool {
    e.code() == "venue_timestamp_outside_window"
}

/// Whether the venue says an order with this client id exists already.
fn is_duplicate(e: &VenueError) -> bool {
    e.code() == "venue_duplicate_order"
}

/// How long to wait before sending again a request that certainly had no
/// effect: `None` when sending it again cannot help (the venue refused it).
fn retry_pause(e: &VenueError, policy: ResolvePolicy, now_ms: i64) -> Option<u64> {
    match e {
        VenueError::NotSent { .. } => Some(policy.retry_pause_ms),
        VenueError::RateLimited { retry_after_ms, .. } => Some((*retry_after_ms).max(1)),
        VenueError::Banned { until_ms, .. } => Some((until_ms - now_ms).max(1) as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::{Account, TradingRules, VenueKind};
    use alertgate_validator::{Decimal, Side};
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// What the scripted venue does with the next order POST.
    #[derive(Debug, Clone, Copy)]
    enum Post {
        Answer,
        /// Placed, then the answer is lost.
        LoseAnswer,
        /// Never placed, and the answer lost.
        LoseRequest,
        Reject,
        RateLimit(u64),
        NotSent,
        /// Refused for its timestamp (-1021): nothing placed.
        Reject1021,
    }

    #[derive(Default)]
    struct Script {
        posts: VecDeque<Post>,
        /// Queries answer "does not exist" this long after creation.
        lag_ms: i64,
        /// (client id, created at, timestamps of each POST).
        orders: Vec<(String, i64)>,
        post_timestamps: Vec<i64>,
        queries: u32,
        /// Signed requests more than 5 s from the venue's clock are
        /// refused (-1021), as Binance does.
        check_timestamps: bool,
        /// The next queries refused so (a revoked key).
        failing_queries: u32,
    }

    struct Scripted {
        script: Arc<Mutex<Script>>,
        now: Arc<dyn Fn() -> i64 + Send + Sync>,
    }

    const NAME: &str = "scripted";

    fn report(id: &str) -> OrderReport {
        OrderReport {
            client_order_id: id.into(),
            venue_order_id: "1".into(),
            status: OrderStatus::Filled,
            executed_quantity: Decimal::ONE,
            average_price: None,
            updated_ms: 0,
        }
    }

    impl Venue for Scripted {
        fn kind(&self) -> VenueKind {
            VenueKind::BinanceSpot
        }
        async fn server_time(&self) -> Result<i64, VenueError> {
            Ok((self.now)())
        }
        async fn trading_rules(
            &self,
            _quotes: &[&str],
        ) -> Result<Vec<(String, TradingRules)>, VenueError> {
            Ok(Vec::new())
        }
        async fn submit(
            &self,
            order: &VenueOrder,
            timestamp_ms: i64,
        ) -> Result<OrderReport, VenueError> {
            let now = (self.now)();
            let mut s = self.script.lock().unwrap();
            s.post_timestamps.push(timestamp_ms);
            let post = s.posts.pop_front().unwrap_or(Post::Answer);
            let id = order.client_order_id.clone();
            let unknown = || VenueError::Unknown {
                venue: NAME,
                reason: "answer lost".into(),
            };
            if s.orders.iter().any(|(o, _)| *o == id) {
                return Err(VenueError::Rejected {
                    venue: NAME,
                    code: "venue_duplicate_order",
                    venue_code: -2010,
                    message: "Duplicate order sent.".into(),
                });
            }
            match post {
                Post::Answer => {
                    s.orders.push((id.clone(), now));
                    Ok(report(&id))
                }
                Post::LoseAnswer => {
                    s.orders.push((id, now));
                    Err(unknown())
                }
                Post::LoseRequest => Err(unknown()),
                Post::Reject => Err(VenueError::Rejected {
                    venue: NAME,
                    code: "venue_insufficient_balance",
                    venue_code: -2010,
                    message: "Account has insufficient balance.".into(),
                }),
                Post::RateLimit(ms) => Err(VenueError::RateLimited {
                    venue: NAME,
                    retry_after_ms: ms,
                }),
                Post::Reject1021 => Err(VenueError::Rejected {
                    venue: NAME,
                    code: "venue_timestamp_outside_window",
                    venue_code: -1021,
                    message: "Timestamp for this request is outside of the recvWindow.".into(),
                }),
                Post::NotSent => Err(VenueError::NotSent {
                    venue: NAME,
                    reason: "connection refused".into(),
                }),
            }
        }
        async fn query(
            &self,
            _symbol: &str,
            id: &str,
            _ts: i64,
        ) -> Result<OrderReport, VenueError> {
            let now = (self.now)();
            let mut s = self.script.lock().unwrap();
            s.queries += 1;
            if s.failing_queries > 0 {
                s.failing_queries -= 1;
                return Err(VenueError::Rejected {
                    venue: NAME,
                    code: "venue_invalid_key",
                    venue_code: -2015,
                    message: "Invalid API-key, IP, or permissions for action.".into(),
                });
            }
            if s.check_timestamps && (_ts - now).abs() > 5_000 {
                return Err(VenueError::Rejected {
                    venue: NAME,
                    code: "venue_timestamp_outside_window",
                    venue_code: -1021,
                    message: "Timestamp for this request is outside of the recvWindow.".into(),
                });
            }
            let lag = s.lag_ms;
            match s.orders.iter().find(|(o, at)| o == id && now - at >= lag) {
                Some(_) => Ok(report(id)),
                None => Err(VenueError::NotFound {
                    venue: NAME,
                    client_order_id: id.into(),
                }),
            }
        }
        async fn cancel(&self, symbol: &str, id: &str, ts: i64) -> Result<OrderReport, VenueError> {
            self.query(symbol, id, ts).await
        }
        async fn account(&self, _ts: i64) -> Result<Account, VenueError> {
            Ok(Account::default())
        }
        async fn mark_price(&self, _symbol: &str) -> Result<Decimal, VenueError> {
            Ok(Decimal::ONE)
        }
    }

    fn order(id: &str) -> VenueOrder {
        VenueOrder::market(id, "BTC/USDT", Side::Buy, Decimal::ONE)
    }

    /// An executor on a scripted venue, on tokio's (paused) clock.
    fn executor(dir: &std::path::Path, script: &Arc<Mutex<Script>>) -> Executor<Scripted> {
        let start = tokio::time::Instant::now();
        let now = move || 1_000_000 + start.elapsed().as_millis() as i64;
        let venue = Scripted {
            script: script.clone(),
            now: Arc::new(now),
        };
        let log = OrderLog::open(&dir.join("orders.jsonl")).unwrap();
        let policy = ResolvePolicy::default();
        Executor::new(venue, log, Arc::default(), policy, now)
    }

    fn scripted(posts: &[Post], lag_ms: i64) -> Arc<Mutex<Script>> {
        Arc::new(Mutex::new(Script {
            posts: posts.iter().copied().collect(),
            lag_ms,
            ..Script::default()
        }))
    }

    fn placed(outcome: &Outcome) -> bool {
        matches!(outcome, Outcome::Placed(r) if r.client_order_id == "a")
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_is_resolved_by_query_not_by_sending_again() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[Post::LoseAnswer], 3_000);
        let mut ex = executor(dir.path(), &script);
        let changes = Arc::new(Mutex::new(Vec::new()));
        let seen = changes.clone();
        ex.on_change(Arc::new(move |state: State| {
            seen.lock().unwrap().push(state.name());
        }));
        assert!(placed(&ex.place(&order("a"), "ev-a").await.unwrap()));
        let s = script.lock().unwrap();
        assert_eq!((s.orders.len(), s.post_timestamps.len()), (1, 1));
        assert!(s.queries >= 2, "the venue lagged: queried until found");
        assert_eq!(ex.log().get("a").unwrap().state, State::Resolved);
        // Every change the log recorded, each once, in order.
        assert_eq!(
            *changes.lock().unwrap(),
            ["intent", "sent", "unknown", "resolved"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_order_never_placed_is_sent_again_only_after_its_deadline_and_two_answers() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[Post::LoseRequest], 0);
        let mut ex = executor(dir.path(), &script);
        let t0 = tokio::time::Instant::now();
        assert!(placed(&ex.place(&order("a"), "ev-a").await.unwrap()));
        let waited = t0.elapsed().as_millis() as u64;
        let s = script.lock().unwrap();
        assert_eq!(s.orders.len(), 1);
        assert_eq!(s.post_timestamps.len(), 2);
        let p = ResolvePolicy::default();
        // Past the first request's deadline, then a second answer spaced.
        assert!(
            waited >= p.recv_window_ms + p.not_found_spacing_ms,
            "{waited}"
        );
        assert!(s.post_timestamps[1] > s.post_timestamps[0] + p.recv_window_ms as i64);
    }

    #[tokio::test(start_paused = true)]
    async fn a_settled_order_is_never_sent_again_even_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[], 0);
        let mut ex = executor(dir.path(), &script);
        assert!(placed(&ex.place(&order("a"), "ev-a").await.unwrap()));
        drop(ex);
        let mut ex = executor(dir.path(), &script);
        assert!(ex.reconcile().await.unwrap().is_empty());
        assert!(placed(&ex.place(&order("a"), "ev-a").await.unwrap()));
        assert_eq!(script.lock().unwrap().post_timestamps.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_reconciles_an_intent_without_an_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[], 0);
        // The gateway died between the POST and its answer: the venue has
        // "a"; it never received "b".
        let mut log = OrderLog::open(&dir.path().join("orders.jsonl")).unwrap();
        for id in ["a", "b"] {
            log.record(Change {
                order: Some(order(id)),
                event_id: Some(format!("ev-{id}")),
                timestamp_ms: Some(1_000_000),
                recv_window_ms: Some(5_000),
                ..Change::new(State::Intent, id, 1_000_000)
            })
            .unwrap();
        }
        drop(log);
        script.lock().unwrap().orders.push(("a".into(), 0));
        let mut ex = executor(dir.path(), &script);
        let done = ex.reconcile().await.unwrap();
        assert_eq!(done.len(), 2);
        let s = script.lock().unwrap();
        assert_eq!(s.orders.len(), 2, "b sent once it was proved absent");
        assert_eq!(s.post_timestamps.len(), 1, "a never sent again");
        assert_eq!(ex.log().get("a").unwrap().state, State::Resolved);
        assert_eq!(ex.log().get("b").unwrap().state, State::Filled);
        // b's new intent carries its event id on, read back from the log.
        drop(s);
        let reopened = OrderLog::open(&dir.path().join("orders.jsonl")).unwrap();
        assert_eq!(reopened.get("b").unwrap().event_id.as_deref(), Some("ev-b"));
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_that_had_no_effect_are_retried_and_real_refusals_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[Post::RateLimit(1_500), Post::NotSent, Post::Answer], 0);
        let mut ex = executor(dir.path(), &script);
        assert!(placed(&ex.place(&order("a"), "ev-a").await.unwrap()));
        assert_eq!(script.lock().unwrap().post_timestamps.len(), 3);

        let script = scripted(&[Post::Reject], 0);
        let mut ex = executor(dir.path(), &script);
        let mut b = order("a");
        b.client_order_id = "b".into();
        let refused = ex.place(&b, "ev-b").await.unwrap();
        assert!(
            matches!(refused, Outcome::Refused { ref code, .. } if code == "venue_insufficient_balance")
        );
        assert_eq!(script.lock().unwrap().post_timestamps.len(), 1);
        assert_eq!(ex.log().get("b").unwrap().state, State::Rejected);
        // Refused is settled: not sent again.
        ex.place(&b, "ev-b").await.unwrap();
        assert_eq!(script.lock().unwrap().post_timestamps.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_order_that_can_never_be_sent_is_abandoned() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[Post::NotSent; 1000], 0);
        let mut ex = executor(dir.path(), &script);
        let outcome = ex.place(&order("a"), "ev-a").await.unwrap();
        assert!(matches!(outcome, Outcome::Refused { ref code, .. } if code == "venue_not_sent"));
        assert_eq!(ex.log().get("a").unwrap().state, State::Abandoned);
        let tries = script.lock().unwrap().post_timestamps.len();
        assert!((50..=61).contains(&tries), "{tries}");
    }

    /// An order the log left an hour ago (the gateway died, then stayed
    /// down), in `state`: the log's lines for it.
    fn left_an_hour_ago(dir: &std::path::Path, state: State) -> i64 {
        let hour_ago = 1_000_000 - 3_600_000;
        let mut log = OrderLog::open(&dir.join("orders.jsonl")).unwrap();
        log.record(Change {
            order: Some(order("a")),
            event_id: Some("ev-a".into()),
            timestamp_ms: Some(hour_ago),
            recv_window_ms: Some(5_000),
            ..Change::new(State::Intent, "a", hour_ago)
        })
        .unwrap();
        log.record(Change::new(state, "a", hour_ago)).unwrap();
        hour_ago
    }

    #[tokio::test(start_paused = true)]
    async fn an_order_held_back_an_hour_ago_is_abandoned_at_restart_not_sent_late() {
        let dir = tempfile::tempdir().unwrap();
        // Backing off a 429 when the gateway died; restarted an hour later.
        left_an_hour_ago(dir.path(), State::NotSent);
        let script = scripted(&[], 0);
        let mut ex = executor(dir.path(), &script);
        let done = ex.reconcile().await.unwrap();
        assert!(matches!(done[0].1, Outcome::Refused { .. }), "{done:?}");
        assert!(script.lock().unwrap().post_timestamps.is_empty());
        assert_eq!(ex.log().get("a").unwrap().state, State::Abandoned);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_order_proved_never_placed_an_hour_late_is_abandoned_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        left_an_hour_ago(dir.path(), State::Unknown);
        let script = scripted(&[], 0);
        let mut ex = executor(dir.path(), &script);
        let done = ex.reconcile().await.unwrap();
        assert!(matches!(done[0].1, Outcome::Refused { .. }), "{done:?}");
        let s = script.lock().unwrap();
        assert!(s.queries >= 2, "resolved first");
        assert!(s.post_timestamps.is_empty(), "never sent an hour late");
        assert_eq!(ex.log().get("a").unwrap().state, State::Abandoned);
    }

    #[tokio::test(start_paused = true)]
    async fn a_clock_gone_wrong_while_resolving_is_measured_again_not_queried_forever() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[Post::LoseAnswer], 0);
        script.lock().unwrap().check_timestamps = true;
        let mut ex = executor(dir.path(), &script);
        // The POST went out; then the local clock stepped 10 s ahead (a
        // VM resumed, NTP): every signed query is now refused -1021.
        ex.clock.set_from(0, 10_000, 0);
        let placed =
            tokio::time::timeout(Duration::from_secs(600), ex.place(&order("a"), "ev-a")).await;
        assert!(
            matches!(placed, Ok(Ok(Outcome::Placed(_)))),
            "still resolving after 10 minutes of -1021 answers"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_order_refused_for_its_timestamp_is_sent_again_on_the_clock_measured_anew() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[Post::Reject1021], 0);
        let mut ex = executor(dir.path(), &script);
        ex.clock.set_from(0, 10_000, 0);
        assert!(placed(&ex.place(&order("a"), "ev-a").await.unwrap()));
        let s = script.lock().unwrap();
        assert_eq!((s.orders.len(), s.post_timestamps.len()), (1, 2));
        assert_eq!(ex.clock.offset_ms(), 0, "measured again");
    }

    #[tokio::test(start_paused = true)]
    async fn an_absurd_retry_after_gives_the_order_up_instead_of_overflowing() {
        let dir = tempfile::tempdir().unwrap();
        // `Retry-After: 9223372036854775807` (seconds) saturates to
        // i64::MAX ms in the HTTP layer; on a second attempt (time has
        // passed since the first) the give-up sum overflowed.
        let script = scripted(&[Post::NotSent, Post::RateLimit(i64::MAX as u64)], 0);
        let mut ex = executor(dir.path(), &script);
        let outcome = ex.place(&order("a"), "ev-a").await.unwrap();
        assert!(matches!(outcome, Outcome::Refused { ref code, .. } if code == "venue_not_sent"));
        assert_eq!(script.lock().unwrap().post_timestamps.len(), 2);
        assert_eq!(ex.log().get("a").unwrap().state, State::Abandoned);
    }

    #[tokio::test(start_paused = true)]
    async fn a_resolution_that_cannot_query_says_so_until_the_venue_answers() {
        let dir = tempfile::tempdir().unwrap();
        let script = scripted(&[Post::LoseAnswer], 0);
        script.lock().unwrap().failing_queries = 3;
        let mut ex = executor(dir.path(), &script);
        let heard = Arc::new(Mutex::new(Vec::new()));
        let seen = heard.clone();
        ex.on_resolve(Arc::new(move |e: Option<&VenueError>| {
            seen.lock().unwrap().push(e.map(|e| e.code()));
        }));
        assert!(placed(&ex.place(&order("a"), "ev-a").await.unwrap()));
        let heard = heard.lock().unwrap().clone();
        assert_eq!(
            heard,
            [
                Some("venue_invalid_key"),
                Some("venue_invalid_key"),
                Some("venue_invalid_key"),
                None
            ]
        );
    }
}
