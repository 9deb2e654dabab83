//! Execution on a real venue: the accepted orders of the strategies that
//! trade there, placed one at a time, exactly once (see
//! [`crate::venue::exactly_once`]).
//!
//! Data flow: the journal's [`ExecOrder`] → the venue's trading rules
//! (symbol listed, quantity on the step, prices on the tick, notional) →
//! a [`VenueOrder`] → [`Executor::place`] → the order log and `/metrics`.
//! At start, before any new order, every order the log left unsettled is
//! reconciled with the venue; the venue's clock offset and trading rules
//! are read at start and again every minute.
//!
//! Orders run one at a time, in acceptance order: an order whose outcome
//! is unknown holds the ones behind it until it is resolved, so they never
//! overtake it (they may depend on the position it leaves).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alertgate_validator::{Decimal, OrderType, Side};
use tokio::sync::{mpsc, oneshot};

use super::brackets;
use super::execution::CircuitBreaker;
use super::journal::{CancelOf, ExecAction, ExecOrder};
use super::metrics::Metrics;
use super::venues::SharedRules;
use crate::clock::wall_clock_ms;
use crate::venue::binance::answers::add;
use crate::venue::clock::{self, VenueClock, RESYNC_EVERY};
use crate::venue::exactly_once::{Executor, Outcome};
use crate::venue::fill_log::FillLog;
use crate::venue::order_log::{Change, State};
use crate::venue::sizing::{
    size, OrderLimits, SizingError, SizingMode, SizingRequest, SizingSection, Target,
};
use crate::venue::{
    base_asset, Account, OrderReport, TradingRules, Venue, VenueError, VenueKind, VenueOrder,
    VenueOrderKind,
};

/// Orders with a protective bracket the venue layer cannot place (a limit
/// entry, a spot sell) are refused: an entry must never go out without the
/// stop-loss its alert asked for (see [`super::brackets`]).
const BRACKETS_UNSUPPORTED: &str = "venue_brackets_unsupported";

/// An accepted order on its way to a real venue, with its strategy's
/// sizing.
#[derive(Debug, Clone)]
pub struct LiveOrder {
    /// The order as journaled.
    pub order: ExecOrder,
    /// Its strategy's `[sizing]`.
    pub sizing: Arc<SizingSection>,
    /// Its strategy's `[policy]` limits, held against what sizing computes.
    pub limits: OrderLimits,
    /// When it was accepted (journaled), Unix ms: an order that has not
    /// reached the order log within `give_up_after_ms` of it (resumed by a
    /// restart long after, or queued behind a long resolution) is
    /// abandoned, never sent late.
    pub accepted_ms: i64,
}

/// An order ready to send, and whether it flattens or reverses the
/// position (the symbol's bracket legs are then cancelled first).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prepared {
    order: VenueOrder,
    closes: bool,
}

/// What sizing an order reads from the venue.
#[derive(Debug, Clone)]
struct SizingInputs {
    /// The account (on spot, what the symbol's legs lock counted free).
    account: Account,
    /// The price the order is sized and valued at, when one is needed.
    mark: Option<Decimal>,
}

/// Why the venue would refuse a sized order: its sizing or its rules.
#[derive(Debug, Clone)]
enum Unfit {
    Sizing(SizingError),
    Rules(VenueError),
}

impl From<Unfit> for NotSent {
    fn from(e: Unfit) -> Self {
        match e {
            Unfit::Sizing(e) => e.into(),
            // The stage's own refusal: no venue call answered it.
            Unfit::Rules(e) => NotSent {
                counted: false,
                ..e.into()
            },
        }
    }
}

impl Unfit {
    /// The refusal as the answer gives it, on venue `name`.
    fn into_venue_error(self, name: &'static str) -> VenueError {
        match self {
            Unfit::Sizing(e) => sizing_refusal(name, &e),
            Unfit::Rules(e) => e,
        }
    }
}

/// A sizing refusal in the answer: the sizing's own code and message.
pub(super) fn sizing_refusal(venue: &'static str, e: &SizingError) -> VenueError {
    VenueError::Rejected {
        venue,
        code: e.code(),
        venue_code: 0,
        message: e.to_string(),
    }
}

/// An accepted alert's order, sized by its stage before it is answered
/// ([`Live::size_check`]).
#[derive(Debug)]
pub struct SizeCheck {
    /// The order as it would be journaled.
    pub order: ExecOrder,
    /// Its strategy's `[sizing]`.
    pub sizing: Arc<SizingSection>,
    /// Its strategy's `[policy]` limits.
    pub limits: OrderLimits,
    /// The stage's accepted orders not yet handed over (this one's too).
    pub admissions: Admissions,
    /// When its answer stops waiting: the stage gives the check up then
    /// (reads dropped mid-way are harmless), so a slow venue never holds
    /// the orders behind a check longer than that.
    pub deadline: tokio::time::Instant,
    /// Where the stage answers.
    pub reply: oneshot::Sender<Fit>,
}

/// What a stage says of an order before its answer.
#[derive(Debug, Clone)]
pub enum Fit {
    /// Sized now, the venue would take it (or it orders nothing).
    Fits,
    /// Sized now, the venue would refuse it: refused in the answer.
    Unfit(VenueError),
    /// Not sized now, for the reason given: accepted, and its execution
    /// decides.
    Unsure(&'static str),
}

/// The orders accepted for a stage and not yet in its channel: counted
/// from the acceptance (under the gate's lock) until the order is handed
/// over or refused after all, by an [`Admission`] each.
#[derive(Debug, Clone, Default)]
pub struct Admissions(Arc<AtomicUsize>);

impl Admissions {
    /// One more order, counted until the returned guard is dropped.
    pub fn admit(&self) -> Admission {
        self.0.fetch_add(1, Ordering::SeqCst);
        Admission(self.0.clone())
    }

    /// How many are counted now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// One accepted order not yet handed over (see [`Admissions`]).
#[derive(Debug)]
pub struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether an order of `side` and `quantity` takes a `position` to zero
/// or past it.
fn flattens_or_reverses(position: Decimal, side: Side, quantity: Decimal) -> bool {
    let reduces = match side {
        Side::Buy => position.is_negative(),
        Side::Sell => position.is_positive(),
    };
    let size = Decimal::new(position.mantissa().abs(), position.scale());
    reduces && size.is_some_and(|size| quantity >= size)
}

/// Why an order was not sent: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NotSent {
    code: String,
    message: String,
    /// A read that may succeed if asked again (the venue unreachable,
    /// rate limits): retried until `give_up_after_ms`.
    retryable: bool,
    /// A venue call's error, already counted in
    /// `alertgate_venue_errors_total` (and logged) by the venue's client:
    /// not counted again when the order is refused for it.
    counted: bool,
}

impl From<VenueError> for NotSent {
    fn from(e: VenueError) -> Self {
        let retryable = matches!(
            e,
            VenueError::NotSent { .. }
                | VenueError::RateLimited { .. }
                | VenueError::Banned { .. }
                | VenueError::Unknown { .. }
                | VenueError::Malformed { .. }
        );
        NotSent {
            code: e.code().to_string(),
            message: e.to_string(),
            retryable,
            counted: true,
        }
    }
}

impl From<SizingError> for NotSent {
    fn from(e: SizingError) -> Self {
        NotSent {
            code: e.code().to_string(),
            message: e.to_string(),
            retryable: false,
            counted: false,
        }
    }
}

/// One real venue's execution stage.
pub struct Live<V> {
    executor: Executor<V>,
    clock: Arc<VenueClock>,
    /// Trading rules by `BASE/QUOTE`, shared with the decisions.
    rules: SharedRules,
    /// The venue's fills, in the paper exchange's line format.
    fills: FillLog,
    quotes: Vec<String>,
    breaker: Arc<CircuitBreaker>,
    metrics: Arc<Metrics>,
    /// Set when the venue could not be set up: every order is refused.
    blocked: Option<NotSent>,
    /// How often working entries and bracket legs are queried.
    pub follow_every: Duration,
    /// Bracketed entries still working (limit orders): their bracket is
    /// placed once following finds them done. Lost at a restart, where the
    /// journal resumes them (their legs are missing) and they wait here
    /// again.
    awaiting: HashMap<String, ExecOrder>,
}

impl<V: Venue> Live<V> {
    /// The venue.
    pub fn venue(&self) -> &V {
        self.executor.venue()
    }

    /// The venue's clock.
    pub fn clock(&self) -> &VenueClock {
        &self.clock
    }

    /// The venue's time now, ms.
    pub fn venue_now(&self) -> i64 {
        self.clock.venue_ms(wall_clock_ms())
    }

    /// Refuses every order from now on with `e` (a failed set-up). Each
    /// order refused for it is a refusal of the stage's own, counted.
    pub fn block(&mut self, e: VenueError) {
        self.blocked = Some(NotSent {
            counted: false,
            ..e.into()
        });
    }

    /// A stage on `executor`'s venue; `quotes` split the venue's symbols.
    pub fn new(
        executor: Executor<V>,
        clock: Arc<VenueClock>,
        quotes: Vec<String>,
        rules: SharedRules,
        fills: FillLog,
        breaker: Arc<CircuitBreaker>,
        metrics: Arc<Metrics>,
    ) -> Self {
        metrics.venue_realized_pnl(executor.venue().kind().name(), fills.realized_pnl());
        Live {
            executor,
            clock,
            rules,
            fills,
            quotes,
            breaker,
            metrics,
            blocked: None,
            follow_every: Duration::from_secs(5),
            awaiting: HashMap::new(),
        }
    }

    /// Reads the venue's clock offset and trading rules (at start, then
    /// every minute; a failure keeps the previous ones).
    pub async fn refresh(&mut self) -> Result<(), VenueError> {
        let offset = clock::sync(self.executor.venue(), &self.clock, wall_clock_ms).await?;
        let quotes: Vec<&str> = self.quotes.iter().map(String::as_str).collect();
        let rules = self.executor.venue().trading_rules(&quotes).await?;
        let symbols = rules.len();
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = rules.into_iter().collect();
        // Once a minute: the clock offset is worth seeing drift.
        tracing::info!(offset_ms = offset, symbols, "venue clock and rules read");
        Ok(())
    }

    /// Places one accepted order; refusals are recorded, never raised.
    pub async fn execute(&mut self, live: &LiveOrder) {
        let order = &live.order;
        if let Some(blocked) = self.blocked.clone() {
            // An order the log knows keeps what the log says: a filled
            // entry resumed for its legs, recorded `rejected` here, would
            // never get them once the set-up is fixed.
            if self.executor.log().get(&order.client_order_id).is_some() {
                tracing::warn!(client_order_id = %order.client_order_id, code = %blocked.code, "not resumed: {}", blocked.message);
                return self.failure(&blocked.code);
            }
            return self.refuse(order, &blocked);
        }
        if let ExecAction::Cancel(of) = &order.action {
            return self.cancel_alert(order, of).await;
        }
        // The paper venue fills market orders at the last price it was
        // told; a limit's or a stop's own price is where the trader wants to
        // trade, not where the market is, so it is not told.
        let market = order.order_type == OrderType::Market;
        let observed = (order.mark_price).or(market.then_some(order.price).flatten());
        if let Some(price) = observed {
            self.executor.venue().observe_price(&order.symbol, price);
        }
        if self.executor.log().get(&order.client_order_id).is_none() {
            let age_ms = wall_clock_ms().saturating_sub(live.accepted_ms);
            let give_up_ms =
                i64::try_from(self.executor.policy().give_up_after_ms).unwrap_or(i64::MAX);
            if age_ms > give_up_ms {
                return self.abandon(order, age_ms);
            }
            if live.sizing.mode == SizingMode::Target {
                if let Err(e) = self.supersede_working_entries(&order.symbol).await {
                    return self.refuse(order, &e);
                }
            }
            // Sized and checked only when first sent: a known order is
            // placed (or reconciled) as its log says.
            let mut prepared = match self
                .prepare_in_time(order, &live.sizing, &live.limits)
                .await
            {
                Ok(Some(p)) => p,
                Ok(None) => return self.nothing_to_do(order),
                Err(e) => return self.refuse(order, &e),
            };
            let mut cancelled = Vec::new();
            if prepared.closes {
                let c = self.cancel_brackets(&order.symbol).await;
                if c.working > 0 {
                    cancelled = c.legs;
                    // A leg may have executed just before its cancel
                    // reached the venue: sized again from the position as
                    // it now is, or a reversal would go past the target.
                    prepared = match self
                        .prepare_in_time(order, &live.sizing, &live.limits)
                        .await
                    {
                        Ok(Some(p)) => p,
                        // At the target (zero or past it): the cancelled
                        // legs protected a position that is gone.
                        Ok(None) => return self.nothing_to_do(order),
                        Err(e) => {
                            self.refuse(order, &e);
                            return self.restore_legs(order, &cancelled).await;
                        }
                    };
                }
            }
            match self.place(order, &prepared.order).await {
                Some(report)
                    if !(report.status.is_final() && report.executed_quantity.mantissa() == 0) =>
                {
                    self.protect_when_done(order, &report).await
                }
                _ => self.restore_legs(order, &cancelled).await,
            }
            return;
        }
        let known = self.executor.log().get(&order.client_order_id).cloned();
        if let Some(known) = known {
            if let Some(report) = self.place(order, &known.order).await {
                self.protect_when_done(order, &report).await;
            }
        }
    }

    /// A cancel alert: cancels its target's entry order, or every working
    /// entry order of its symbol, as the order log knows them (a
    /// position's bracket legs never: it keeps its protection). A bracket
    /// entry's awaiting bracket goes with it, or, if the entry filled in
    /// part, is placed on that part. What it did goes to the order log
    /// under the cancel's own client id (settled, code `cancel_alert`), so
    /// a restart that resumes the journal does not do it again.
    async fn cancel_alert(&mut self, order: &ExecOrder, of: &CancelOf) {
        if self.executor.log().get(&order.client_order_id).is_some() {
            return;
        }
        let working: Vec<String> = brackets::working_entries(self.executor.log())
            .into_iter()
            .filter(|(id, symbol)| {
                *symbol == order.symbol && of.client_order_id.as_ref().is_none_or(|t| t == id)
            })
            .map(|(id, _)| id)
            .collect();
        let mut cancelled = Vec::new();
        let mut unresolved = Vec::new();
        for id in &working {
            match self.cancel_entry(&order.symbol, id).await {
                Some(report) if report.status != crate::venue::OrderStatus::Filled => {
                    cancelled.push(id.as_str());
                    self.entry_ended(id, &report).await;
                }
                Some(report) => self.entry_ended(id, &report).await,
                None => unresolved.push(id.as_str()),
            }
        }
        let reason = match (&cancelled[..], &unresolved[..]) {
            ([], []) => "nothing to cancel: no working entry order matched".to_string(),
            (done, []) => format!("cancelled {}", done.join(", ")),
            (done, left) => format!(
                "cancelled [{}]; still unresolved (followed): [{}]",
                done.join(", "),
                left.join(", ")
            ),
        };
        tracing::info!(client_order_id = %order.client_order_id, symbol = %order.symbol, cancelled = cancelled.len(), "cancel alert: {reason}");
        let venue = self.executor.venue().kind().name();
        self.metrics.venue_order(venue, "cancel_alert");
        let change = Change {
            order: Some(unsent(order)),
            event_id: Some(order.event_id.clone()),
            code: Some("cancel_alert".into()),
            reason: Some(reason),
            ..Change::new(State::Rejected, &order.client_order_id, wall_clock_ms())
        };
        if let Err(e) = self.executor.record(change) {
            tracing::error!("{e}");
        }
    }

    /// `target` sizing: the alert says where the position must be, so the
    /// symbol's entry orders still working (earlier targets' resting
    /// limits) are cancelled before the difference is ordered: counted as
    /// not there, they could fill on top of it and overshoot the target.
    /// What they filled meanwhile is in the position the order is sized
    /// from. One whose cancel cannot be resolved refuses the order (fail
    /// closed: it may still fill); the next target alert tries again.
    async fn supersede_working_entries(&mut self, symbol: &str) -> Result<(), NotSent> {
        let working: Vec<String> = brackets::working_entries(self.executor.log())
            .into_iter()
            .filter(|(_, s)| s == symbol)
            .map(|(id, _)| id)
            .collect();
        for id in &working {
            match self.cancel_entry(symbol, id).await {
                Some(report) => self.entry_ended(id, &report).await,
                None => {
                    return Err(NotSent {
                        code: "sizing_working_order_unresolved".into(),
                        message: format!(
                            "the working order {id} of {symbol} could not be cancelled before a new target; nothing sent"
                        ),
                        retryable: false,
                        counted: false,
                    })
                }
            }
        }
        Ok(())
    }

    /// Cancels the working entry `id` of `symbol`; the venue's report of
    /// how it ended (cancelled, or filled before the cancel reached it),
    /// recorded in the order log. An answer that proves nothing (lost,
    /// refused: the order may have filled meanwhile) is resolved by a
    /// query, never by sending the cancel again blindly: it is sent again
    /// only while a query shows the order still working. `None` when no
    /// answer came (the order stays followed).
    async fn cancel_entry(&mut self, symbol: &str, id: &str) -> Option<OrderReport> {
        for attempt in 0..3 {
            let now = self.venue_now();
            match self.executor.venue().cancel(symbol, id, now).await {
                Ok(report) => {
                    let change = Change {
                        report: Some(report.clone()),
                        ..Change::new(State::Cancelled, id, wall_clock_ms())
                    };
                    if let Err(e) = self.executor.record(change) {
                        tracing::error!("{e}");
                    }
                    return Some(report);
                }
                Err(e) => {
                    tracing::warn!(client_order_id = %id, code = e.code(), attempt, "cancel answer unknown or refused; asking where the order stands: {e}");
                }
            }
            match self.executor.follow(symbol, id).await {
                Ok(Some(report)) if report.status.is_final() => return Some(report),
                // Still working: the cancel did not take; sent again.
                Ok(Some(_)) => {}
                Ok(None) => tokio::time::sleep(Duration::from_millis(300 << attempt)).await,
                Err(e) => {
                    tracing::error!("{e}");
                    return None;
                }
            }
        }
        None
    }

    /// An entry ended (cancelled, or filled first): logs what it newly
    /// filled, and settles the bracket it awaited: placed on what it
    /// filled, dropped if nothing.
    async fn entry_ended(&mut self, id: &str, report: &OrderReport) {
        if let Some(known) = self.executor.log().get(id).cloned() {
            let event_id = known.event_id.as_deref().unwrap_or_default();
            self.record_fill(&known.order, event_id, report);
        }
        if let Some(order) = self.awaiting.remove(id) {
            self.protect(&order, report).await;
        }
    }

    /// Places the bracket `order` asked for now if its entry is done (filled,
    /// or ended with part of it filled), else once following finds it done
    /// (a working limit entry: a bracket on a part fill would have to grow
    /// with every later fill).
    async fn protect_when_done(&mut self, order: &ExecOrder, entry: &OrderReport) {
        let bracketed = order.stop_loss.is_some() || order.take_profit.is_some();
        if bracketed && !entry.status.is_final() {
            tracing::info!(client_order_id = %order.client_order_id, "the entry is working: its bracket is placed once it is done");
            self.awaiting
                .insert(order.client_order_id.clone(), order.clone());
            return;
        }
        self.protect(order, entry).await;
    }

    /// Places the bracket `order` asked for on what its entry filled.
    async fn protect(&mut self, order: &ExecOrder, entry: &OrderReport) {
        if order.stop_loss.is_none() && order.take_profit.is_none() {
            return;
        }
        if !entry.executed_quantity.is_positive() {
            return;
        }
        let spot = self.executor.venue().kind() == VenueKind::BinanceSpot;
        let held = if spot {
            match self.held_after_commission(order, entry).await {
                Ok(held) => held,
                Err(e) => return self.bracket_failed(order, &e.to_string()),
            }
        } else {
            self.protected_quantity(order, entry).await
        };
        let legs = {
            let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
            rules.get(&order.symbol).map(|r| match spot {
                true => brackets::spot_legs(order, held, r),
                false => brackets::legs(order, held, r),
            })
        };
        let outcome = match legs {
            Some(Ok(legs)) => brackets::place(&mut self.executor, &legs, &order.event_id).await,
            Some(Err(e)) => return self.bracket_failed(order, &e.to_string()),
            None => return self.bracket_failed(order, "the symbol's rules are unknown"),
        };
        match outcome {
            Ok(outcomes) => {
                for o in outcomes {
                    if let Outcome::Refused { code, reason } = o {
                        self.bracket_failed(order, &format!("{code}: {reason}"));
                    }
                }
            }
            Err(e) => self.bracket_failed(order, &e.to_string()),
        }
    }

    /// Futures: what a bracket protects of what its entry filled, at most
    /// the position now open in the entry's direction. After a reversal
    /// (long 1, sell 2) the fill closed the old position first: legs on
    /// all of it would be twice the new one. Unread (the venue not
    /// answering), or no position that way: what it filled (the legs are
    /// reduce-only either way).
    async fn protected_quantity(&self, order: &ExecOrder, entry: &OrderReport) -> Decimal {
        let executed = entry.executed_quantity;
        let now = self.clock.venue_ms(wall_clock_ms());
        let position = match self.executor.venue().account(now).await {
            Ok(account) => account.position(&order.symbol),
            Err(e) => {
                tracing::warn!(client_order_id = %order.client_order_id, code = e.code(), "position not read; legs on what the entry filled: {e}");
                return executed;
            }
        };
        let same_way = match order.side {
            Side::Buy => position.is_positive(),
            Side::Sell => position.is_negative(),
        };
        match Decimal::new(position.mantissa().abs(), position.scale()) {
            Some(open) if same_way && open < executed => open,
            _ => executed,
        }
    }

    /// What a spot buy holds of what it filled once the venue took its
    /// base-asset commission (`myTrades`; a read, asked up to three times).
    async fn held_after_commission(
        &self,
        order: &ExecOrder,
        entry: &OrderReport,
    ) -> Result<Decimal, VenueError> {
        let mut attempt = 0;
        loop {
            let now = self.venue_now();
            let asked = self
                .executor
                .venue()
                .base_commission(&order.symbol, entry, now)
                .await;
            match asked {
                Ok(commission) => {
                    let held = brackets::held_after_commission(entry.executed_quantity, commission);
                    return Ok(held);
                }
                // A refusal will not change when asked again; anything
                // else (unreachable, rate limited, unreadable) may.
                Err(e) if attempt < 2 && !matches!(e, VenueError::Rejected { .. }) => {
                    tracing::warn!(client_order_id = %order.client_order_id, "commission unread; asking again: {e}");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A leg that could not be placed: the position is unprotected, said as
    /// loudly as the gateway can (error log, metrics, circuit breaker).
    fn bracket_failed(&self, order: &ExecOrder, why: &str) {
        self.failure("venue_bracket_failed");
        tracing::error!(client_order_id = %order.client_order_id, "the position is NOT protected: a bracket leg was not placed: {why}");
    }

    /// Follows what works on the venue: entries, then bracket legs.
    pub async fn follow(&mut self) {
        self.follow_entries().await;
        self.follow_brackets().await;
    }

    /// Follows the working entries (limit orders): logs what they newly
    /// filled, and places the bracket of one that asked for it once it is
    /// done.
    pub async fn follow_entries(&mut self) {
        for (id, symbol) in brackets::working_entries(self.executor.log()) {
            let report = match self.executor.follow(&symbol, &id).await {
                Ok(Some(report)) => report,
                Ok(None) => continue,
                Err(e) => return tracing::error!("{e}"),
            };
            if let Some(known) = self.executor.log().get(&id).cloned() {
                let event_id = known.event_id.as_deref().unwrap_or_default();
                self.record_fill(&known.order, event_id, &report);
            }
            if report.status.is_final() {
                if let Some(order) = self.awaiting.remove(&id) {
                    self.protect(&order, &report).await;
                }
            }
        }
    }

    /// Follows the working bracket legs: a leg that filled is logged as a
    /// fill and its sibling cancelled (the venue has no OCO for these, so
    /// the gateway keeps the pair one-cancels-the-other).
    pub async fn follow_brackets(&mut self) {
        for (id, symbol) in brackets::working(self.executor.log()) {
            let report = match self.executor.follow(&symbol, &id).await {
                Ok(Some(report)) => report,
                Ok(None) => continue,
                Err(e) => return tracing::error!("{e}"),
            };
            if report.status != crate::venue::OrderStatus::Filled {
                continue;
            }
            tracing::info!(client_order_id = %id, %symbol, "bracket leg filled");
            let known = self.executor.log().get(&id).map(|k| k.order.clone());
            // An OCO list is logged as the leg that executed.
            if let Some(leg) = known.map(|o| brackets::executed_leg(&o, &report)) {
                let entry =
                    ExecOrder::new(&id, &id, &symbol, leg.side, OrderType::Market, leg.quantity);
                self.log_fill(&entry, &leg, &report);
            }
            let sibling = brackets::sibling(self.executor.log(), &id);
            if let Some(sibling) = sibling {
                if let Err(e) = self.executor.cancel(&symbol, &sibling).await.map(drop) {
                    tracing::error!("{e}");
                }
            }
        }
    }

    /// Cancels the working bracket legs of `symbol` (its position is being
    /// flattened or reversed); how many there were.
    async fn cancel_brackets(&mut self, symbol: &str) -> brackets::Cancelled {
        match brackets::cancel(&mut self.executor, symbol).await {
            Ok(c) => {
                if c.working > 0 {
                    tracing::info!(%symbol, legs = c.working, "bracket legs cancelled");
                }
                c
            }
            Err(e) => {
                tracing::error!(%symbol, "bracket legs not cancelled: {e}");
                brackets::Cancelled {
                    working: 1,
                    legs: Vec::new(),
                }
            }
        }
    }

    /// The order `order` closed the position for did not happen (refused,
    /// or ended with nothing executed): the legs cancelled for it are
    /// placed again ([`brackets::restored`]), so the position that is
    /// still open keeps its protection.
    async fn restore_legs(&mut self, order: &ExecOrder, cancelled: &[VenueOrder]) {
        if cancelled.is_empty() {
            return;
        }
        let legs = brackets::restored(&order.client_order_id, cancelled);
        tracing::warn!(client_order_id = %order.client_order_id, legs = legs.len(), "the order its bracket legs were cancelled for did not happen: placing them again");
        match brackets::place(&mut self.executor, &legs, &order.event_id).await {
            Ok(outcomes) => {
                for o in outcomes {
                    if let Outcome::Refused { code, reason } = o {
                        self.bracket_failed(order, &format!("{code}: {reason}"));
                    }
                }
            }
            Err(e) => self.bracket_failed(order, &e.to_string()),
        }
    }

    /// [`Self::prepare`], asked again while it fails for want of an answer
    /// (reads are safe to repeat), until `give_up_after_ms`.
    async fn prepare_in_time(
        &self,
        order: &ExecOrder,
        sizing: &SizingSection,
        limits: &OrderLimits,
    ) -> Result<Option<Prepared>, NotSent> {
        let give_up = self.executor.policy().give_up_after_ms;
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            match self.prepare(order, sizing, limits).await {
                Err(e)
                    if e.retryable
                        && started.elapsed() + pause < Duration::from_millis(give_up) =>
                {
                    tracing::warn!(client_order_id = %order.client_order_id, code = %e.code, "venue not answering; asking again: {}", e.message);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// Sizes `order` (reading the account when the sizing or the venue
    /// needs it) and applies the symbol's rules: the order to send, or
    /// `None` when the position is already where the alert wants it.
    async fn prepare(
        &self,
        order: &ExecOrder,
        sizing: &SizingSection,
        limits: &OrderLimits,
    ) -> Result<Option<Prepared>, NotSent> {
        let kind = self.executor.venue().kind();
        let needs_account = sizing.mode != SizingMode::Alert || kind.has_positions();
        let inputs = match needs_account {
            true => Some(self.sizing_inputs(order, sizing, limits).await?),
            false => None,
        };
        if let Some(inputs) = &inputs {
            let before = inputs.account.position(&order.symbol);
            self.metrics
                .venue_position(kind.name(), &order.symbol, before);
        }
        Ok(self.fit(order, sizing, limits, inputs.as_ref())?)
    }

    /// What sizing `order` reads from the venue: the account (on spot,
    /// with what the symbol's bracket legs lock counted free) and the mark.
    async fn sizing_inputs(
        &self,
        order: &ExecOrder,
        sizing: &SizingSection,
        limits: &OrderLimits,
    ) -> Result<SizingInputs, NotSent> {
        let kind = self.executor.venue().kind();
        let mut account = self
            .executor
            .venue()
            .account(self.clock.venue_ms(wall_clock_ms()))
            .await?;
        if kind == VenueKind::BinanceSpot {
            // A spot sell cancels the symbol's legs before it is sent:
            // what they lock is the sell's (else a long protected by
            // its OCO could never be closed by a sized alert).
            let held = brackets::held_by_legs(self.executor.log(), &order.symbol);
            unlock(&mut account, base_asset(&order.symbol), held);
        }
        let mark = self.mark_for(order, sizing, limits).await?;
        Ok(SizingInputs { account, mark })
    }

    /// `order` sized from `inputs` (none: the alert's own quantity, on a
    /// venue without positions), held to `limits` and the symbol's rules:
    /// the order to send, `None` when the position is already where the
    /// alert wants it, or why the venue would refuse it. Reads nothing
    /// from the venue: the execution and the check before the answer
    /// ([`Self::size_check`]) decide alike on the same inputs.
    fn fit(
        &self,
        order: &ExecOrder,
        sizing: &SizingSection,
        limits: &OrderLimits,
        inputs: Option<&SizingInputs>,
    ) -> Result<Option<Prepared>, Unfit> {
        let kind = self.executor.venue().kind();
        let mut closes = false;
        let sized = match inputs {
            Some(inputs) => {
                let request = SizingRequest {
                    side: order.side,
                    quantity: order.quantity,
                    target: order.target_position.map(Target::from_position_size),
                    symbol: &order.symbol,
                    quote: quote_of(&order.symbol),
                    has_positions: kind.has_positions(),
                    account: &inputs.account,
                    mark_price: inputs.mark,
                };
                let sized = size(&request, sizing).map_err(Unfit::Sizing)?;
                if !sized.nothing_to_do {
                    limits
                        .check_sized(&request, sizing, &sized)
                        .map_err(Unfit::Sizing)?;
                }
                let before = inputs.account.position(&order.symbol);
                closes = flattens_or_reverses(before, sized.side, sized.quantity);
                Some(sized)
            }
            None => None,
        };
        if sized.is_some_and(|s| s.nothing_to_do) {
            return Ok(None);
        }
        let mut sized_order = order.clone();
        if let Some(s) = sized {
            sized_order.side = s.side;
            sized_order.quantity = s.quantity;
            if s.market_close {
                sized_order.order_type = OrderType::Market;
            }
        }
        let reduce_only = sized.is_some_and(|s| s.reduce_only);
        let mut venue_order = self
            .rules_of(&sized_order, reduce_only)
            .map_err(Unfit::Rules)?;
        venue_order.reduce_only = reduce_only;
        // A spot bracket holds the base asset it would sell: a later sell
        // of the symbol closes the long it protects, so it goes first.
        let spot_sell = kind == VenueKind::BinanceSpot && venue_order.side == Side::Sell;
        Ok(Some(Prepared {
            order: venue_order,
            closes: closes || spot_sell,
        }))
    }

    /// Sizes `check`'s order as its execution would if it ran now, before
    /// the alert is answered, so that an order the venue would refuse is
    /// refused in the answer. Sure only when nothing is ahead of it:
    /// `queued` orders in the stage's channel, another accepted order not
    /// yet handed over ([`Admissions`]), or (`target`) a working entry of
    /// the symbol that its execution would cancel first; and only from a
    /// fresh read of the account and the mark. Anything else is
    /// [`Fit::Unsure`]: the order is accepted and its execution decides,
    /// as without the check. Places and cancels nothing.
    pub async fn size_check(&self, check: &SizeCheck, queued: impl Fn() -> usize) -> Fit {
        let order = &check.order;
        if let Some(why) = self.unsure_of(check, queued) {
            return Fit::Unsure(why);
        }
        // The paper venue values at the last price it was told, as the
        // execution tells it first (a venue's mark is its own).
        let market = order.order_type == OrderType::Market;
        if let Some(price) = order.mark_price.or(market.then_some(order.price).flatten()) {
            self.executor.venue().observe_price(&order.symbol, price);
        }
        let inputs = match self
            .sizing_inputs(order, &check.sizing, &check.limits)
            .await
        {
            Ok(inputs) => inputs,
            Err(_) => return Fit::Unsure("the venue's account or mark was not read"),
        };
        match self.fit(order, &check.sizing, &check.limits, Some(&inputs)) {
            Ok(_) => Fit::Fits,
            Err(unfit) => Fit::Unfit(unfit.into_venue_error(self.executor.venue().kind().name())),
        }
    }

    /// Why [`Self::size_check`] cannot be sure of `check` now, if so.
    fn unsure_of(&self, check: &SizeCheck, queued: impl Fn() -> usize) -> Option<&'static str> {
        let order = &check.order;
        if self.blocked.is_some() {
            return Some("the venue's set-up failed");
        }
        // Admissions first: an order ahead leaves them only once in the
        // channel, so read in this order one of the two always shows it.
        if check.admissions.count() > 1 || queued() > 0 {
            return Some("orders accepted before it are not executed yet");
        }
        if self.executor.log().get(&order.client_order_id).is_some() {
            return Some("its client order id is known");
        }
        if self
            .rules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
        {
            return Some("the venue's rules are not read yet");
        }
        let superseded = check.sizing.mode == SizingMode::Target
            && brackets::working_entries(self.executor.log())
                .iter()
                .any(|(_, symbol)| *symbol == order.symbol);
        superseded.then_some("a working entry of the symbol would be cancelled first")
    }

    /// Places `venue_order` (for the accepted `order`): the venue's report
    /// when it is on the venue.
    async fn place(&mut self, order: &ExecOrder, venue_order: &VenueOrder) -> Option<OrderReport> {
        let mut pause = Duration::from_millis(250);
        loop {
            match self.executor.place(venue_order, &order.event_id).await {
                Err(e) => {
                    // The log cannot take a state change: nothing more is
                    // done for this order until it can (what the log holds
                    // says where to resume; the breaker refuses new alerts
                    // meanwhile), and the orders behind it wait.
                    self.failure("venue_order_log");
                    tracing::error!(client_order_id = %order.client_order_id, retry_in_ms = pause.as_millis() as u64, "{e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
                Ok(outcome) => return self.placed(order, venue_order, outcome),
            }
        }
    }

    /// Records how `venue_order` ended: the venue's report when it is on
    /// the venue.
    fn placed(
        &mut self,
        order: &ExecOrder,
        venue_order: &VenueOrder,
        outcome: Outcome,
    ) -> Option<OrderReport> {
        match outcome {
            Outcome::Placed(report) => {
                self.breaker.success();
                let venue = self.executor.venue().kind().name();
                self.metrics.venue_order(venue, report.status.name());
                tracing::info!(
                    client_order_id = %report.client_order_id,
                    venue_order_id = %report.venue_order_id,
                    status = report.status.name(),
                    executed = %report.executed_quantity,
                    "placed"
                );
                self.log_fill(order, venue_order, &report);
                Some(report)
            }
            Outcome::Refused { code, reason } => {
                // The venue's refusal was counted by its client; an order
                // given up (abandoned) is the stage's own decision.
                let state = self.executor.log().get(&venue_order.client_order_id);
                match state.map(|k| k.state) {
                    Some(State::Abandoned) => self.failure(&code),
                    _ => self.venue_failure(),
                }
                tracing::warn!(client_order_id = %order.client_order_id, code = %code, "venue refused the order: {reason}");
                None
            }
        }
    }

    /// Logs what `report` shows newly executed of `venue_order`.
    fn log_fill(&mut self, order: &ExecOrder, venue_order: &VenueOrder, report: &OrderReport) {
        self.record_fill(venue_order, &order.event_id, report);
    }

    /// Logs what `report` shows newly executed of `venue_order` (for alert
    /// `event_id`), counted in the metrics.
    fn record_fill(&mut self, venue_order: &VenueOrder, event_id: &str, report: &OrderReport) {
        match self.fills.record(venue_order, event_id, report) {
            Ok(Some(_)) => {
                self.metrics.fills.fetch_add(1, Ordering::Relaxed);
                let venue = self.executor.venue().kind().name();
                self.metrics
                    .venue_realized_pnl(venue, self.fills.realized_pnl());
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(client_order_id = %venue_order.client_order_id, "fill not logged: {e}")
            }
        }
    }

    /// Logs the fill of an order reconciled at start (resolved after a
    /// crash, or sent then): the fill log adds only what it lacks.
    fn log_reconciled(&mut self, id: &str, outcome: &Outcome) {
        let Outcome::Placed(report) = outcome else {
            return;
        };
        let Some(known) = self.executor.log().get(id) else {
            return;
        };
        let (order, event_id) = (known.order.clone(), known.event_id.clone());
        self.record_fill(&order, event_id.as_deref().unwrap_or_default(), report);
    }

    /// The price `equity_pct` sizes `order` at, and a sized order is
    /// held to `max_order_value` at: the venue's mark price (its last
    /// price on spot), not the alert's own price, which is whatever its
    /// sender wrote. `alert` sizing, and other modes without a value
    /// limit, need none beyond the alert's.
    async fn mark_for(
        &self,
        order: &ExecOrder,
        sizing: &SizingSection,
        limits: &OrderLimits,
    ) -> Result<Option<Decimal>, NotSent> {
        let valued = sizing.mode != SizingMode::Alert && limits.max_order_value.is_some();
        if sizing.mode != SizingMode::EquityPct && !valued {
            return Ok(order.mark_price.or(order.price));
        }
        Ok(Some(self.executor.venue().mark_price(&order.symbol).await?))
    }

    /// The order as the venue takes it (sent `reduce_only` or not), or why
    /// the venue would refuse it (never sent to learn that).
    fn rules_of(&self, order: &ExecOrder, reduce_only: bool) -> Result<VenueOrder, VenueError> {
        let name = self.executor.venue().kind().name();
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
        let symbol_rules = rules
            .get(&order.symbol)
            .ok_or_else(|| VenueError::UnknownSymbol {
                venue: name,
                symbol: order.symbol.clone(),
            })?;
        let rules = match reduce_only {
            true => symbol_rules.for_reduce_only(),
            false => *symbol_rules,
        };
        venue_order(order, &rules, name)
    }

    fn nothing_to_do(&mut self, order: &ExecOrder) {
        let venue = self.executor.venue().kind().name();
        self.metrics.venue_order(venue, "nothing_to_do");
        tracing::info!(client_order_id = %order.client_order_id, "the position is already where the alert wants it: nothing sent");
        // Settled in the order log, or a restart would resume it from the
        // journal and size it again against a position that has moved on
        // since (a stale target re-executed).
        let change = Change {
            order: Some(unsent(order)),
            code: Some("nothing_to_do".into()),
            reason: Some("the position was already where the alert wanted it".into()),
            ..Change::new(State::Rejected, &order.client_order_id, wall_clock_ms())
        };
        if let Err(e) = self.executor.record(change) {
            tracing::error!("{e}");
        }
    }

    fn refuse(&mut self, order: &ExecOrder, e: &NotSent) {
        match e.counted {
            true => self.venue_failure(),
            false => self.failure(&e.code),
        }
        tracing::warn!(client_order_id = %order.client_order_id, code = %e.code, "not sent: {}", e.message);
        let change = Change {
            order: Some(unsent(order)),
            code: Some(e.code.clone()),
            reason: Some(e.message.clone()),
            ..Change::new(State::Rejected, &order.client_order_id, wall_clock_ms())
        };
        if let Err(e) = self.executor.record(change) {
            tracing::error!("{e}");
        }
    }

    /// Gives up `order`, accepted `age_ms` ago and never sent: past
    /// `give_up_after_ms` the market it was meant for is gone
    /// (`abandoned`, as the executor gives up an order it could not place).
    fn abandon(&mut self, order: &ExecOrder, age_ms: i64) {
        let e = VenueError::NotSent {
            venue: self.executor.venue().kind().name(),
            reason: format!(
                "accepted {age_ms} ms ago and not sent: past give_up_after_ms ({} ms)",
                self.executor.policy().give_up_after_ms
            ),
        };
        self.failure(e.code());
        tracing::warn!(client_order_id = %order.client_order_id, code = e.code(), "abandoned: {e}");
        let change = Change {
            order: Some(unsent(order)),
            event_id: Some(order.event_id.clone()),
            code: Some(e.code().to_string()),
            reason: Some(e.to_string()),
            ..Change::new(State::Abandoned, &order.client_order_id, wall_clock_ms())
        };
        if let Err(e) = self.executor.record(change) {
            tracing::error!("{e}");
        }
    }

    /// A failure of the stage's own (no venue call answered it): counted
    /// in `alertgate_venue_errors_total` with `code`.
    fn failure(&self, code: &str) {
        let venue = self.executor.venue().kind().name();
        self.metrics.venue_error(venue, code);
        self.venue_failure();
    }

    /// A failure a venue call ended with: its client counted and logged
    /// the error; here it feeds the failures and the breaker.
    fn venue_failure(&self) {
        self.metrics
            .execution_failures
            .fetch_add(1, Ordering::Relaxed);
        self.breaker.failure(wall_clock_ms());
    }
}

/// Runs `live` on the orders from `orders` until the channel closes:
/// reconciles first, then places each order in turn, refreshing the clock
/// and rules every minute; between orders, sizes the orders `checks`
/// brings before their answer ([`Live::size_check`]).
pub async fn run<V: Venue>(
    mut orders: mpsc::UnboundedReceiver<LiveOrder>,
    mut checks: mpsc::Receiver<SizeCheck>,
    mut live: Live<V>,
) {
    // Without the rules no order can be checked, and without the clock no
    // request can be signed: wait for both (orders queue meanwhile).
    let mut pause = Duration::from_millis(500);
    while let Err(e) = live.refresh().await {
        let wait = retry_wait(&e, pause, wall_clock_ms());
        tracing::error!(
            code = e.code(),
            retry_in_ms = wait.as_millis() as u64,
            "venue clock and rules unreadable: {e}"
        );
        live.venue_failure();
        tokio::time::sleep(wait).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
    // Nothing new is sent before every unsettled order is reconciled; a
    // log that cannot take a change holds it all until it can.
    let mut pause = Duration::from_millis(250);
    loop {
        match live.executor.reconcile().await {
            Ok(done) => {
                for (id, outcome) in done {
                    tracing::info!(client_order_id = %id, ?outcome, "reconciled");
                    live.log_reconciled(&id, &outcome);
                }
                break;
            }
            Err(e) => {
                live.failure("venue_order_log");
                tracing::error!(
                    retry_in_ms = pause.as_millis() as u64,
                    "reconciliation stopped: {e}; no order is sent"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
        }
    }
    let mut refresh = tokio::time::interval(RESYNC_EVERY);
    refresh.tick().await;
    let mut follow = tokio::time::interval(live.follow_every);
    follow.tick().await;
    loop {
        tokio::select! {
            order = orders.recv() => match order {
                Some(order) => live.execute(&order).await,
                None => break,
            },
            Some(check) = checks.recv() => {
                let sized = live.size_check(&check, || orders.len());
                if let Ok(fit) = tokio::time::timeout_at(check.deadline, sized).await {
                    // Its answer may have gone without it meanwhile.
                    let _ = check.reply.send(fit);
                }
            }
            _ = follow.tick() => live.follow().await,
            _ = refresh.tick() => {
                if let Err(e) = live.refresh().await {
                    tracing::warn!(code = e.code(), "venue clock and rules not refreshed: {e}");
                }
            }
        }
    }
}

/// How long a start-up read that failed with `e` at `now_ms` waits before
/// it is asked again: `pause`, or until a ban or back-off ends (asking
/// sooner is refused by the gateway itself, and only fills the log).
pub fn retry_wait(e: &VenueError, pause: Duration, now_ms: i64) -> Duration {
    let held_ms = match e {
        VenueError::Banned { until_ms, .. } => u64::try_from(until_ms - now_ms).unwrap_or(0),
        VenueError::RateLimited { retry_after_ms, .. } => *retry_after_ms,
        _ => 0,
    };
    pause.max(Duration::from_millis(held_ms))
}

/// `order` under `rules` on venue `name`: the quantity rounded down to the
/// step, prices to the tick in the trader's favour, the notional checked.
pub fn venue_order(
    order: &ExecOrder,
    rules: &TradingRules,
    name: &'static str,
) -> Result<VenueOrder, VenueError> {
    brackets_allowed(order, name)?;
    let market = order.order_type == OrderType::Market;
    let mark = order.mark_price.or(order.price);
    let rounded = rules.apply(
        order.side,
        market,
        order.quantity,
        if market { None } else { order.price },
        order.stop_price,
        mark,
    )?;
    let kind = match (order.order_type, rounded.price, rounded.stop_price) {
        (OrderType::Market, _, _) => VenueOrderKind::Market,
        (OrderType::Limit, Some(price), _) => VenueOrderKind::Limit { price },
        (OrderType::StopLoss, _, Some(trigger)) => VenueOrderKind::StopMarket { trigger },
        (OrderType::TakeProfit, _, Some(trigger))
        | (OrderType::TakeProfit, Some(trigger), None) => {
            VenueOrderKind::TakeProfitMarket { trigger }
        }
        (t, _, _) => {
            return Err(VenueError::Rejected {
                venue: name,
                code: "venue_order_incomplete",
                venue_code: 0,
                message: format!("a {t:?} order without its price"),
            })
        }
    };
    Ok(VenueOrder {
        client_order_id: order.client_order_id.clone(),
        symbol: order.symbol.clone(),
        side: order.side,
        kind,
        quantity: rounded.quantity,
        reduce_only: false,
        leg: Some(false),
    })
}

/// Refuses (`venue_brackets_unsupported`) an order whose bracket venue
/// `name` cannot place (see `brackets_refused`).
pub fn brackets_allowed(order: &ExecOrder, name: &'static str) -> Result<(), VenueError> {
    match brackets_refused(order, name) {
        None => Ok(()),
        Some(message) => Err(VenueError::Rejected {
            venue: name,
            code: BRACKETS_UNSUPPORTED,
            venue_code: 0,
            message: message.into(),
        }),
    }
}

/// Why the bracket `order` asks for cannot be placed on venue `name`, if
/// it cannot: brackets follow market and limit entries on binance-usdm,
/// and market and limit buys on binance-spot (spot has no short for a sell
/// to open); a stop or take-profit entry, or the paper venue's sized
/// orders, take none.
fn brackets_refused(order: &ExecOrder, name: &str) -> Option<&'static str> {
    let bracketed = order.stop_loss.is_some() || order.take_profit.is_some();
    if !bracketed {
        return None;
    }
    let entry = matches!(order.order_type, OrderType::Market | OrderType::Limit);
    let spot = name == VenueKind::BinanceSpot.name();
    let usdm = name == VenueKind::BinanceUsdm.name();
    match (entry, spot, usdm) {
        (true, false, true) => None,
        (true, true, _) if order.side == Side::Buy => None,
        (true, true, _) => Some("stop_loss / take_profit protect a long on binance-spot: a spot sell opens no position to protect (spot has no short); this sell is not sent with a bracket it cannot have"),
        (false, _, _) => Some("stop_loss / take_profit are placed for market and limit entries only; this stop or take-profit entry is not sent without them"),
        _ => Some("stop_loss / take_profit are placed on binance-usdm and binance-spot only; this order is not sent without them"),
    }
}

/// `account` with up to `held` of `asset`'s locked balance counted free.
fn unlock(account: &mut Account, asset: &str, held: Option<Decimal>) {
    let Some(held) = held.filter(Decimal::is_positive) else {
        return;
    };
    for b in account.balances.iter_mut().filter(|b| b.asset == asset) {
        let moved = if held < b.locked { held } else { b.locked };
        let negated = Decimal::new(-moved.mantissa(), moved.scale());
        if let (Some(free), Some(locked)) =
            (add(b.free, moved), negated.and_then(|n| add(b.locked, n)))
        {
            (b.free, b.locked) = (free, locked);
        }
    }
}

/// The quote asset of `BASE/QUOTE` (the whole name if it has no `/`).
fn quote_of(symbol: &str) -> &str {
    symbol.rsplit_once('/').map_or(symbol, |(_, quote)| quote)
}

/// The order as accepted, unrounded (for the log of an order refused
/// before sending).
fn unsent(order: &ExecOrder) -> VenueOrder {
    VenueOrder::market(
        &order.client_order_id,
        &order.symbol,
        order.side,
        order.quantity,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use alertgate_validator::{Decimal, Side};

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn order(order_type: OrderType, qty: &str, price: Option<&str>) -> ExecOrder {
        ExecOrder {
            price: price.map(d),
            ..ExecOrder::new("ag1", "e", "BTC/USDT", Side::Buy, order_type, d(qty))
        }
    }

    fn rules() -> TradingRules {
        TradingRules {
            step: d("0.001"),
            min_quantity: d("0.001"),
            tick: d("0.1"),
            min_notional: d("100"),
            ..TradingRules::default()
        }
    }

    #[test]
    fn orders_are_rounded_to_the_rules_or_refused_with_a_code() {
        let v = venue_order(
            &order(OrderType::Limit, "0.0129", Some("50000.07")),
            &rules(),
            "t",
        )
        .unwrap();
        assert_eq!(v.quantity, d("0.012"));
        assert_eq!(
            v.kind,
            VenueOrderKind::Limit {
                price: d("50000.0")
            }
        );
        let e = venue_order(
            &order(OrderType::Market, "0.0009", Some("50000")),
            &rules(),
            "t",
        )
        .unwrap_err();
        assert_eq!(e.code(), "venue_quantity_below_step");
        let e = venue_order(
            &order(OrderType::Market, "0.001", Some("50000")),
            &rules(),
            "t",
        )
        .unwrap_err();
        assert_eq!(e.code(), "venue_below_min_notional");
    }

    #[test]
    fn only_an_order_reaching_zero_or_past_it_flattens_or_reverses() {
        for (position, side, qty, expected) in [
            ("0.03", Side::Sell, "0.03", true),
            ("0.03", Side::Sell, "0.05", true),
            ("0.03", Side::Sell, "0.02", false),
            ("0.03", Side::Buy, "0.03", false),
            ("-0.02", Side::Buy, "0.02", true),
            ("-0.02", Side::Sell, "0.02", false),
            ("0", Side::Sell, "1", false),
        ] {
            assert_eq!(
                flattens_or_reverses(d(position), side, d(qty)),
                expected,
                "{position} {side:?} {qty}"
            );
        }
    }

    #[test]
    fn an_entry_with_a_bracket_is_not_sent_without_it() {
        let mut o = order(OrderType::Market, "0.01", Some("50000"));
        o.stop_loss = Some(d("49000"));
        // USDⓈ-M places them for a market entry, spot for a market buy.
        assert!(venue_order(&o, &rules(), "binance-usdm").is_ok());
        assert!(venue_order(&o, &rules(), "binance-spot").is_ok());
        // Spot has no short: a sell with a bracket is refused, and says so.
        o.side = Side::Sell;
        let e = venue_order(&o, &rules(), "binance-spot").unwrap_err();
        assert_eq!(e.code(), BRACKETS_UNSUPPORTED);
        assert!(e.to_string().contains("no short"), "{e}");
        assert!(venue_order(&o, &rules(), "binance-usdm").is_ok());
        // A limit entry takes its bracket once done; a stop entry none.
        let mut limit = order(OrderType::Limit, "0.01", Some("50000"));
        limit.stop_loss = Some(d("49000"));
        assert!(venue_order(&limit, &rules(), "binance-usdm").is_ok());
        assert!(venue_order(&limit, &rules(), "binance-spot").is_ok());
        let mut stop = limit.clone();
        (stop.order_type, stop.price, stop.stop_price) =
            (OrderType::StopLoss, None, Some(d("51000")));
        let e = venue_order(&stop, &rules(), "binance-usdm").unwrap_err();
        assert_eq!(e.code(), BRACKETS_UNSUPPORTED);
        // The paper venue's sized orders take none.
        let e = venue_order(&limit, &rules(), "paper").unwrap_err();
        assert_eq!(e.code(), BRACKETS_UNSUPPORTED);
    }
}

#[cfg(test)]
mod stage_tests;
