//! Execution: the paper-trading exchange (`mock`) and the circuit breaker
//! in front of it.
//!
//! Orders reach execution only after their journal line is durable, and
//! carry a client order id derived from the strategy and event id. The
//! exchange keeps one fill per client order id in its own fsynced log and
//! answers a repeated id with the fill it already has, as real venues do:
//! re-executing an order after a crash, or twice, cannot double-fill.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::journal::ExecOrder;
use super::metrics::Metrics;
use crate::check::wall_clock_ms;

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

/// One paper fill, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperFill {
    /// The order's client id.
    pub client_order_id: String,
    /// The alert's event id.
    pub event_id: String,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Base units.
    pub quantity: String,
    /// Execution price.
    pub price: String,
    /// Wall clock at the fill, Unix ms.
    pub filled_at: i64,
}

/// Paper trading on the wall clock: an order fills at once. A market order
/// that carries a mark from `[serve] market` ([`ExecOrder::mark_price`])
/// fills there; any other order at its limit or trigger price, else at the
/// last price seen for its symbol (an alert's price).
#[derive(Debug)]
pub struct PaperExchange {
    log: File,
    filled: HashMap<String, PaperFill>,
    marks: HashMap<String, String>,
}

impl PaperExchange {
    /// Opens (creating) the fill log and loads the fills already in it; a
    /// trailing partial line (a crash mid-write, never acknowledged) is
    /// cut off.
    pub fn open(path: &Path) -> io::Result<PaperExchange> {
        let mut filled = HashMap::new();
        let mut complete = 0u64;
        if let Ok(file) = File::open(path) {
            let mut reader = io::BufReader::new(file);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf)?;
                if n == 0 || buf.last() != Some(&b'\n') {
                    break;
                }
                complete += n as u64;
                let fill: PaperFill = serde_json::from_slice(&buf).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                filled.insert(fill.client_order_id.clone(), fill);
            }
        }
        let log = OpenOptions::new().create(true).append(true).open(path)?;
        if log.metadata()?.len() != complete {
            log.set_len(complete)?;
            log.sync_all()?;
        }
        Ok(PaperExchange {
            log,
            filled,
            marks: HashMap::new(),
        })
    }

    /// Whether this client order id has filled.
    pub fn has_filled(&self, client_order_id: &str) -> bool {
        self.filled.contains_key(client_order_id)
    }

    /// Remembers a price seen for a symbol (an alert's price).
    pub fn mark(&mut self, symbol: &str, price: &str) {
        self.marks.insert(symbol.to_string(), price.to_string());
    }

    /// Executes an order once: a client id that already filled returns
    /// that fill and `false` (nothing new happened).
    pub fn execute(&mut self, order: &ExecOrder) -> Result<(PaperFill, bool), String> {
        self.execute_batch(std::slice::from_ref(order))
            .pop()
            .unwrap_or_else(|| Err("no result".into()))
    }

    /// Executes orders in order, with one write and one fsync of the fill
    /// log for all of them; one result per order. A fill counts only once
    /// it is durable, so a crash before the fsync leaves the order to be
    /// executed again (and filled once).
    pub fn execute_batch(
        &mut self,
        orders: &[ExecOrder],
    ) -> Vec<Result<(PaperFill, bool), String>> {
        let mut results = Vec::with_capacity(orders.len());
        let mut fresh: Vec<PaperFill> = Vec::new();
        let mut bytes = Vec::new();
        for order in orders {
            let known = self.filled.get(&order.client_order_id).or_else(|| {
                fresh
                    .iter()
                    .find(|f| f.client_order_id == order.client_order_id)
            });
            if let Some(fill) = known {
                results.push(Ok((fill.clone(), false)));
                continue;
            }
            let Some(price) = order
                .mark_price
                .clone()
                .or_else(|| order.price.clone())
                .or_else(|| order.stop_price.clone())
                .or_else(|| self.marks.get(&order.symbol).cloned())
            else {
                results.push(Err(format!("no price known for {}", order.symbol)));
                continue;
            };
            let fill = PaperFill {
                client_order_id: order.client_order_id.clone(),
                event_id: order.event_id.clone(),
                symbol: order.symbol.clone(),
                side: order.side.clone(),
                quantity: order.quantity.clone(),
                price,
                filled_at: wall_clock_ms(),
            };
            match serde_json::to_vec(&fill) {
                Ok(line) => {
                    bytes.extend_from_slice(&line);
                    bytes.push(b'\n');
                    results.push(Ok((fill.clone(), true)));
                    fresh.push(fill);
                }
                Err(e) => results.push(Err(e.to_string())),
            }
        }
        if fresh.is_empty() {
            return results;
        }
        if let Err(e) = self
            .log
            .write_all(&bytes)
            .and_then(|()| self.log.sync_data())
        {
            let e = format!("fill log: {e}");
            for r in &mut results {
                if matches!(r, Ok((_, true))) {
                    *r = Err(e.clone());
                }
            }
            return results;
        }
        for fill in fresh {
            self.filled.insert(fill.client_order_id.clone(), fill);
        }
        results
    }
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
    mut exchange: PaperExchange,
    breaker: Arc<CircuitBreaker>,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::new();
    while orders.recv_many(&mut batch, MAX_BATCH).await > 0 {
        for order in &batch {
            if let Some(p) = &order.price {
                exchange.mark(&order.symbol, p);
            }
        }
        let results = exchange.execute_batch(&batch);
        for (order, result) in batch.drain(..).zip(results) {
            let result = match result {
                Ok(done) => Ok(done),
                Err(e) => retry(&mut exchange, &order, e, &breaker, &metrics).await,
            };
            match result {
                Ok((fill, fresh)) => {
                    breaker.success();
                    if fresh {
                        metrics.fills.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::debug!(
                        client_order_id = %fill.client_order_id,
                        event_id = %fill.event_id,
                        price = %fill.price,
                        duplicate = !fresh,
                        "filled"
                    );
                }
                Err(e) => tracing::error!(
                    client_order_id = %order.client_order_id,
                    "not executed after {ATTEMPTS} attempts (a restart resumes it): {e}"
                ),
            }
        }
    }
}

/// Attempts 2..=ATTEMPTS of an order whose first attempt failed with `e`.
async fn retry(
    exchange: &mut PaperExchange,
    order: &ExecOrder,
    mut e: String,
    breaker: &CircuitBreaker,
    metrics: &Metrics,
) -> Result<(PaperFill, bool), String> {
    for attempt in 2..=ATTEMPTS {
        metrics.execution_failures.fetch_add(1, Ordering::Relaxed);
        breaker.failure(wall_clock_ms());
        tracing::warn!(client_order_id = %order.client_order_id, attempt = attempt - 1, "execution failed: {e}");
        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        match exchange.execute(order) {
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

    fn order(id: &str, price: Option<&str>) -> ExecOrder {
        ExecOrder {
            client_order_id: client_order_id("", id),
            event_id: id.into(),
            symbol: "BTC/USDT".into(),
            side: "buy".into(),
            order_type: "market".into(),
            quantity: "0.1".into(),
            price: price.map(String::from),
            stop_price: None,
            mark_price: None,
        }
    }

    #[test]
    fn client_ids_are_stable_and_distinct() {
        assert_eq!(client_order_id("a", "e1"), client_order_id("a", "e1"));
        assert_ne!(client_order_id("a", "e1"), client_order_id("b", "e1"));
        assert_ne!(client_order_id("ae", "1"), client_order_id("a", "e1"));
        assert_eq!(client_order_id("", "x").len(), 35);
    }

    #[test]
    fn an_order_fills_once_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fills.jsonl");
        let mut ex = PaperExchange::open(&path).unwrap();
        let (_, fresh) = ex.execute(&order("e1", Some("100"))).unwrap();
        assert!(fresh);
        let (fill, fresh) = ex.execute(&order("e1", Some("100"))).unwrap();
        assert!(!fresh);
        assert_eq!(fill.price, "100");
        // Unpriced, no mark yet: a failure.
        assert!(ex.execute(&order("e2", None)).is_err());
        ex.mark("BTC/USDT", "101");
        assert_eq!(ex.execute(&order("e2", None)).unwrap().0.price, "101");
        drop(ex);
        // A crash mid-write leaves a partial line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"client_order_id\":\"ag-").unwrap();
        drop(f);
        let mut ex = PaperExchange::open(&path).unwrap();
        assert!(ex.has_filled(&client_order_id("", "e1")));
        assert!(!ex.execute(&order("e1", Some("100"))).unwrap().1);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        // A batch with the same id twice fills it once.
        let r = ex.execute_batch(&[order("e3", Some("1")), order("e3", Some("1"))]);
        assert!(r[0].as_ref().unwrap().1 && !r[1].as_ref().unwrap().1);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    #[test]
    fn a_market_data_mark_wins_over_the_alert_price() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = PaperExchange::open(&dir.path().join("fills.jsonl")).unwrap();
        ex.mark("BTC/USDT", "101");
        let mut o = order("m1", Some("100"));
        o.mark_price = Some("99.5".into());
        assert_eq!(ex.execute(&o).unwrap().0.price, "99.5");
        let mut o = order("m2", None);
        o.mark_price = Some("98".into());
        assert_eq!(ex.execute(&o).unwrap().0.price, "98");
        // Without one: the alert's price, else the last price seen.
        assert_eq!(
            ex.execute(&order("m3", Some("100"))).unwrap().0.price,
            "100"
        );
        assert_eq!(ex.execute(&order("m4", None)).unwrap().0.price, "101");
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
