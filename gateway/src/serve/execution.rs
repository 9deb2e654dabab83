//! Execution: client order ids, the loop that feeds the paper-trading
//! exchange ([`super::mock`]), and the circuit breaker in front of it.
//!
//! Orders reach execution only after their journal line is durable, and
//! carry a client order id derived from the strategy and event id. The
//! exchange logs each client order id it is submitted, fsynced, and answers
//! a repeated id with the state it already has, submitting nothing, as real
//! venues do: re-executing an order after a crash, or twice, cannot
//! double-fill.
//!
//! An accepted order is never dropped for a failing log: its sender was
//! told 200. When the exchange's log cannot be written (nothing of the
//! batch happened, see [`super::mock`]), the batch's orders go back to the
//! head of the queue, in arrival order, and are tried again after a pause
//! (doubling from [`RETRY_FIRST`] to [`RETRY_MAX`]) until the log takes
//! them; every failed attempt counts for the circuit breaker, which refuses
//! new alerts meanwhile. The log's state is `/readyz`'s `exchange_log`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::journal::ExecOrder;
use super::metrics::Metrics;
use super::mock::{Execution, ExecutionError, MockExchange};
use super::readiness::Health;
use super::snapshot::Snapshots;
use crate::clock::wall_clock_ms;

/// `ag` and 30 hex digits of SHA-256(strategy, NUL, event id): stable
/// across retries and restarts, and a valid client order id on every
/// venue (`[A-Za-z0-9]{1,32}`, see [`crate::venue`]).
pub fn client_order_id(strategy: &str, event_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(strategy.as_bytes())
        .chain_update([0])
        .chain_update(event_id.as_bytes())
        .finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // `[A-Za-z0-9]{1,32}`: valid on every venue planned (OKX's `clOrdId`
    // is the strictest); 120 bits of the digest.
    let mut id = String::with_capacity(32);
    id.push_str("ag");
    for b in &digest[..15] {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    id
}

/// The client order id of leg `leg` (`"sl"`, `"tp"`) of the bracket the
/// order `entry` attaches: like [`client_order_id`], a digest, so every
/// attempt and restart names the same leg.
pub fn leg_client_order_id(entry: &str, leg: &str) -> String {
    client_order_id(entry, leg)
}

/// After `threshold` consecutive execution failures the circuit opens for
/// `cooldown_ms`: the gateway then answers `circuit_open` (503) before
/// deciding, so senders retry later instead of piling up orders.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown_ms: i64,
    failures: AtomicU32,
    open_until_ms: AtomicI64,
}

impl CircuitBreaker {
    /// A closed breaker (`threshold` 0 never opens).
    pub fn new(threshold: u32, cooldown: Duration) -> CircuitBreaker {
        CircuitBreaker {
            threshold,
            cooldown_ms: i64::try_from(cooldown.as_millis()).unwrap_or(i64::MAX),
            failures: AtomicU32::new(0),
            open_until_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether requests are refused at `now_ms`.
    pub fn is_open(&self, now_ms: i64) -> bool {
        now_ms < self.open_until_ms.load(Ordering::Acquire)
    }

    /// How long the circuit stays open after `now_ms` (0: closed).
    pub fn open_for_ms(&self, now_ms: i64) -> i64 {
        self.open_until_ms
            .load(Ordering::Acquire)
            .saturating_sub(now_ms)
            .max(0)
    }

    /// Records a success: the failure streak ends.
    pub fn success(&self) {
        self.failures.store(0, Ordering::Release);
    }

    /// Records a failure at `now_ms`; opens the circuit on the
    /// `threshold`-th in a row.
    pub fn failure(&self, now_ms: i64) {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if self.threshold > 0 && n >= self.threshold {
            self.open_until_ms
                .store(now_ms.saturating_add(self.cooldown_ms), Ordering::Release);
            self.failures.store(0, Ordering::Release);
        }
    }
}

/// Attempts per order that fails for a reason other than the log's disk
/// (it is then left unexecuted, logged).
const ATTEMPTS: u32 = 3;

/// Most orders executed with one fill-log fsync.
const MAX_BATCH: usize = 1024;

/// First pause before orders whose log write failed are tried again.
pub const RETRY_FIRST: Duration = Duration::from_millis(100);

/// Longest pause between two tries of orders waiting for the log.
pub const RETRY_MAX: Duration = Duration::from_secs(1);

/// Runs orders in arrival order until the channel closes, batching what is
/// queued into one fill-log fsync. Orders the log could not take are tried
/// again until it does (see the module doc); `log` is the log's state.
/// With `snapshots`, a snapshot is taken between batches when one is due,
/// at start after replaying a log tail, and when stopping (see
/// [`super::snapshot`]).
pub async fn run(
    mut orders: mpsc::UnboundedReceiver<ExecOrder>,
    exchange: MockExchange,
    breaker: Arc<CircuitBreaker>,
    metrics: Arc<Metrics>,
    log: Arc<Health>,
    snapshots: Option<Snapshots>,
) {
    let mut stage = Stage {
        exchange,
        breaker,
        metrics,
        log,
        snapshots,
        queue: VecDeque::new(),
        pause: RETRY_FIRST,
        closed: false,
    };
    // A restart that replayed a log tail saves the next one the work.
    if stage.exchange.recovery().submits > 0 {
        stage.snapshot();
    }
    while stage.refill(&mut orders).await {
        stage.execute_batch().await;
    }
    stage.finish();
}

/// The execution stage's state between batches.
struct Stage {
    exchange: MockExchange,
    breaker: Arc<CircuitBreaker>,
    metrics: Arc<Metrics>,
    log: Arc<Health>,
    snapshots: Option<Snapshots>,
    /// Orders received and not yet executed, in arrival order.
    queue: VecDeque<ExecOrder>,
    /// The wait before orders the log refused are tried again.
    pause: Duration,
    /// The gateway is stopping: no more orders will come.
    closed: bool,
}

impl Stage {
    /// Waits for orders (taking due snapshots meanwhile), or, with orders
    /// waiting for the log, pauses and adds what arrived. `false`: stop.
    async fn refill(&mut self, orders: &mut mpsc::UnboundedReceiver<ExecOrder>) -> bool {
        if self.queue.is_empty() {
            return self.receive(orders).await;
        }
        if self.closed {
            tracing::error!(
                orders = self.queue.len(),
                "stopping with accepted orders the exchange log did not take (a restart resumes them)"
            );
            return false;
        }
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(RETRY_MAX);
        loop {
            match orders.try_recv() {
                Ok(order) => self.queue.push_back(order),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                // One last try.
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.closed = true;
                    return true;
                }
            }
        }
    }

    /// Waits for the next orders; a snapshot is taken when one falls due
    /// first. `false` once the channel is closed.
    async fn receive(&mut self, orders: &mut mpsc::UnboundedReceiver<ExecOrder>) -> bool {
        let mut batch = Vec::new();
        loop {
            let due_in = self
                .snapshots
                .as_ref()
                .and_then(|s| s.due_in(&self.exchange));
            let received = orders.recv_many(&mut batch, MAX_BATCH);
            let received = match due_in {
                None => received.await,
                Some(wait) => match tokio::time::timeout(wait, received).await {
                    Ok(n) => n,
                    Err(_) => {
                        self.snapshot();
                        continue;
                    }
                },
            };
            self.queue.extend(batch.drain(..));
            return received > 0;
        }
    }

    /// Executes up to [`MAX_BATCH`] queued orders with one log fsync.
    async fn execute_batch(&mut self) {
        let n = self.queue.len().min(MAX_BATCH);
        let batch: Vec<ExecOrder> = self.queue.drain(..n).collect();
        // The exchange log's write and fsync block: off the runtime's
        // workers, which keep answering requests meanwhile.
        let exchange = &mut self.exchange;
        let results = off_the_workers(|| exchange.execute_batch(&batch, wall_clock_ms()));
        let log_failure = results
            .iter()
            .find_map(|r| r.as_ref().err().filter(|e| e.is_log_failure()))
            .cloned();
        match log_failure {
            Some(e) => self.wait_for_log(batch, results, &e),
            None => {
                self.settle(batch, results).await;
                if self
                    .snapshots
                    .as_ref()
                    .is_some_and(|s| s.due(&self.exchange))
                {
                    self.snapshot();
                }
            }
        }
    }

    /// The log refused the batch: nothing of it happened. Every order that
    /// failed waits, in order (one that could not be priced too: an order
    /// ahead of it may price it), and counts as a failed attempt.
    fn wait_for_log(
        &mut self,
        batch: Vec<ExecOrder>,
        results: Vec<Result<Execution, ExecutionError>>,
        e: &ExecutionError,
    ) {
        self.log.set_failing(e);
        tracing::warn!(
            orders = batch.len(),
            retry_in_ms = self.pause.as_millis() as u64,
            "exchange log write failed; orders wait for it: {e}"
        );
        let mut waiting = Vec::new();
        for (order, result) in batch.into_iter().zip(results) {
            match result {
                Ok(done) => executed(&done, &order, &self.breaker, &self.metrics),
                Err(_) => {
                    self.metrics
                        .execution_failures
                        .fetch_add(1, Ordering::Relaxed);
                    self.breaker.failure(wall_clock_ms());
                    waiting.push(order);
                }
            }
        }
        for order in waiting.into_iter().rev() {
            self.queue.push_front(order);
        }
    }

    /// The log took the batch: records each order, retrying those that
    /// failed for their own reasons.
    async fn settle(
        &mut self,
        batch: Vec<ExecOrder>,
        results: Vec<Result<Execution, ExecutionError>>,
    ) {
        if self.log.failure().is_some() {
            self.log.set_ok();
            tracing::info!("exchange log writable again");
        }
        self.pause = RETRY_FIRST;
        for (order, result) in batch.into_iter().zip(results) {
            let result = match result {
                Ok(done) => Ok(done),
                Err(e) => retry(&mut self.exchange, &order, e, &self.breaker, &self.metrics).await,
            };
            match result {
                Ok(done) => executed(&done, &order, &self.breaker, &self.metrics),
                Err(e) if e.is_log_failure() => {
                    self.log.set_failing(&e);
                    self.queue.push_back(order);
                }
                Err(e) => tracing::error!(
                    client_order_id = %order.client_order_id,
                    "not executed after {ATTEMPTS} attempts: {e}"
                ),
            }
        }
        let (open, pnl) = (self.exchange.open_orders(), self.exchange.realized_pnl());
        self.metrics.set_exchange(open, pnl);
    }

    fn snapshot(&mut self) {
        let Some(s) = &mut self.snapshots else {
            return;
        };
        let exchange = &mut self.exchange;
        // Serializing the exchange's state takes tens of ms at millions of
        // orders: off the runtime's workers, like the log's fsync (on the
        // worker it stalled every request queued there: p99 15 ms with
        // snapshots, 9 ms without, `benches/gateway-sustained.sh`).
        off_the_workers(|| s.take(exchange, wall_clock_ms()));
    }

    /// Stopping: a snapshot of where it stopped makes the next start quick.
    fn finish(mut self) {
        if let Some(s) = &mut self.snapshots {
            if self.exchange.since_snapshot() > 0 {
                s.finish();
                s.take(&mut self.exchange, wall_clock_ms());
            }
            s.finish();
        }
    }
}

/// Runs blocking `work` (a write and fsync, a snapshot) without holding up
/// the runtime: on a multi-thread runtime its worker hands its other tasks
/// to another one first.
pub(crate) fn off_the_workers<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Records an order the exchange took (or had already taken).
fn executed(done: &Execution, order: &ExecOrder, breaker: &CircuitBreaker, metrics: &Metrics) {
    breaker.success();
    metrics
        .fills
        .fetch_add(done.fills.len() as u64, Ordering::Relaxed);
    tracing::debug!(
        client_order_id = %done.client_order_id,
        event_id = %order.event_id,
        mark = done.mark.map(tracing::field::display),
        working = done.working,
        duplicate = !done.fresh,
        cancelled = done.cancelled,
        "submitted"
    );
    for f in &done.fills {
        tracing::debug!(
            client_order_id = %f.client_order_id,
            reason = f.reason.name(),
            price = f.price,
            quantity = f.quantity,
            "filled"
        );
    }
}

/// Attempts 2..=ATTEMPTS of an order whose first attempt failed with `e`.
async fn retry(
    exchange: &mut MockExchange,
    order: &ExecOrder,
    mut e: ExecutionError,
    breaker: &CircuitBreaker,
    metrics: &Metrics,
) -> Result<Execution, ExecutionError> {
    for attempt in 2..=ATTEMPTS {
        metrics.execution_failures.fetch_add(1, Ordering::Relaxed);
        breaker.failure(wall_clock_ms());
        tracing::warn!(client_order_id = %order.client_order_id, attempt = attempt - 1, "execution failed: {e}");
        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        match exchange.execute(order, wall_clock_ms()) {
            Ok(done) => return Ok(done),
            // The caller queues it until the log takes it.
            Err(next) if next.is_log_failure() => return Err(next),
            Err(next) => e = next,
        }
    }
    metrics.execution_failures.fetch_add(1, Ordering::Relaxed);
    breaker.failure(wall_clock_ms());
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_stable_and_distinct() {
        assert_eq!(client_order_id("a", "e1"), client_order_id("a", "e1"));
        assert_ne!(client_order_id("a", "e1"), client_order_id("b", "e1"));
        assert_ne!(client_order_id("ae", "1"), client_order_id("a", "e1"));
        assert!(crate::venue::client_order_id_is_portable(&client_order_id(
            "", "x"
        )));
        assert_eq!(client_order_id("s", "e").len(), 32);
    }

    #[test]
    fn breaker_opens_after_consecutive_failures_and_cools_down() {
        let b = CircuitBreaker::new(3, Duration::from_secs(10));
        b.failure(0);
        b.failure(0);
        b.success();
        b.failure(0);
        b.failure(0);
        assert!(!b.is_open(0));
        b.failure(1000);
        assert!(b.is_open(1000) && b.is_open(10_999));
        assert!(!b.is_open(11_000));
    }
}
