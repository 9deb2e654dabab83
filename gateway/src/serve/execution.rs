//! Execution: client order ids, the loop that feeds the paper-trading
//! exchange ([`super::mock`]), and the circuit breaker in front of it.
//!
//! Orders reach execution only after their journal line is durable, and
//! carry a client order id derived from the strategy and event id. The
//! exchange logs each client order id it is submitted, fsynced, and answers
//! a repeated id with the state it already has, submitting nothing, as real
//! venues do: re-executing an order after a crash, or twice, cannot
//! double-fill.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::journal::ExecOrder;
use super::metrics::Metrics;
use super::mock::{Execution, ExecutionError, MockExchange};
use crate::clock::wall_clock_ms;

/// `ag-` and 32 hex digits of SHA-256(strategy, NUL, event id): stable
/// across retries and restarts, short enough for any venue's limit (36).
pub fn client_order_id(strategy: &str, event_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(strategy.as_bytes())
        .chain_update([0])
        .chain_update(event_id.as_bytes())
        .finalize();
    let mut id = String::from("ag-");
    for b in &digest[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
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

/// Attempts per order before it is left unexecuted (logged; a restart
/// resumes it).
const ATTEMPTS: u32 = 3;

/// Most orders executed with one fill-log fsync.
const MAX_BATCH: usize = 1024;

/// Runs orders in arrival order until the channel closes, batching what is
/// queued into one fill-log fsync.
pub async fn run(
    mut orders: mpsc::UnboundedReceiver<ExecOrder>,
    mut exchange: MockExchange,
    breaker: Arc<CircuitBreaker>,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::new();
    while orders.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = exchange.execute_batch(&batch, wall_clock_ms());
        for (order, result) in batch.drain(..).zip(results) {
            let result = match result {
                Ok(done) => Ok(done),
                Err(e) => retry(&mut exchange, &order, e, &breaker, &metrics).await,
            };
            match result {
                Ok(done) => {
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
                Err(e) => tracing::error!(
                    client_order_id = %order.client_order_id,
                    "not executed after {ATTEMPTS} attempts (a restart resumes it): {e}"
                ),
            }
        }
        metrics.set_exchange(exchange.open_orders(), exchange.realized_pnl());
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
        assert_eq!(client_order_id("", "x").len(), 35);
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
