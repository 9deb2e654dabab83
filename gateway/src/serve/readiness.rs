//! Readiness (`GET /readyz`): whether this gateway can take an alert to
//! the end now, part by part. `GET /healthz` is liveness only (the process
//! serves HTTP); a load balancer or an orchestrator routes by `/readyz`.
//!
//! The parts:
//!
//! - `journal`: the last group commit (or, while failing, the writer's
//!   background probe) wrote and fsynced ([`super::journal`]);
//! - `exchange_log`: the paper venue's last write of its log succeeded, and
//!   no accepted order waits for it ([`super::execution`]);
//! - `circuit`: the circuit breaker is closed (open, every alert is refused
//!   with `circuit_open`);
//! - `replay_store` (`replay_store:NAME` for `[strategies.NAME]`): with
//!   `[replay] store`, Redis answers a `PING` within [`PROBE_TIMEOUT`];
//! - a venue that is reached over a network adds its own [`Part::probe`].
//!
//! The journal and the exchange log are not probed by `/readyz` itself:
//! their owners record each outcome in a [`Health`] cell (a probe must not
//! write lines). After a failure they retry by themselves, so a part turns
//! ready again without a restart and without traffic.

use std::fmt::{Display, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::execution::CircuitBreaker;
use crate::clock::wall_clock_ms;

/// How long a network part (the replay store, a venue) may take to answer
/// its probe before it counts as failing.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(250);

/// One part's last known state, written by the part's owner: `None` when
/// its last operation succeeded, else why it failed.
#[derive(Debug, Default)]
pub struct Health {
    failure: Mutex<Option<String>>,
}

impl Health {
    /// The last operation succeeded.
    pub fn set_ok(&self) {
        *self.lock() = None;
    }

    /// The last operation failed because of `reason`.
    pub fn set_failing(&self, reason: impl Display) {
        *self.lock() = Some(reason.to_string());
    }

    /// Why the part is failing, if it is.
    pub fn failure(&self) -> Option<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.failure.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A probe of a part reached over the network: `Err` says why it failed.
pub type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

type Probe = Arc<dyn Fn() -> ProbeFuture + Send + Sync>;

enum Check {
    /// State recorded by the part's owner.
    Recorded(Arc<Health>),
    /// Closed, or not ready until the cool-down has passed.
    Circuit(Arc<CircuitBreaker>),
    /// Asked on each `/readyz`, within [`PROBE_TIMEOUT`]; the outcome is
    /// kept in `last` for `/metrics`.
    Probe { probe: Probe, last: Arc<Health> },
}

/// One part of the gateway that must work for an alert to be accepted and
/// executed.
pub struct Part {
    name: String,
    check: Check,
}

impl Part {
    /// A part whose owner records its state in `health`.
    pub fn recorded(name: impl Into<String>, health: Arc<Health>) -> Part {
        Part {
            name: name.into(),
            check: Check::Recorded(health),
        }
    }

    /// The circuit breaker: failing while open.
    pub fn circuit(breaker: Arc<CircuitBreaker>) -> Part {
        Part {
            name: "circuit".into(),
            check: Check::Circuit(breaker),
        }
    }

    /// A part asked on each `/readyz` (a replay store, a venue over the
    /// network): `probe` is awaited for at most [`PROBE_TIMEOUT`].
    pub fn probe(
        name: impl Into<String>,
        probe: impl Fn() -> ProbeFuture + Send + Sync + 'static,
    ) -> Part {
        Part {
            name: name.into(),
            check: Check::Probe {
                probe: Arc::new(probe),
                last: Arc::default(),
            },
        }
    }

    /// The part's state as last known, without probing.
    fn known(&self, now_ms: i64) -> Option<String> {
        match &self.check {
            Check::Recorded(health) | Check::Probe { last: health, .. } => health.failure(),
            Check::Circuit(breaker) => circuit_failure(breaker, now_ms),
        }
    }
}

fn circuit_failure(breaker: &CircuitBreaker, now_ms: i64) -> Option<String> {
    let left_ms = breaker.open_for_ms(now_ms);
    (left_ms > 0).then(|| {
        format!(
            "open after consecutive execution failures; closes in {} s",
            (left_ms + 999) / 1000
        )
    })
}

/// The outcome of a readiness check: each failing part and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `(part, reason)`, in the parts' order.
    pub failing: Vec<(String, String)>,
}

impl Report {
    /// Every part is ready.
    pub fn is_ready(&self) -> bool {
        self.failing.is_empty()
    }

    /// `{"ready":true}`, or `{"ready":false,"failing":[part…],
    /// "reasons":{part:reason…}}`.
    pub fn to_json(&self) -> Value {
        if self.is_ready() {
            return json!({"ready": true});
        }
        let names: Vec<&str> = self.failing.iter().map(|(n, _)| n.as_str()).collect();
        let reasons: Map<String, Value> = self
            .failing
            .iter()
            .map(|(n, r)| (n.clone(), Value::String(r.clone())))
            .collect();
        json!({"ready": false, "failing": names, "reasons": reasons})
    }
}

/// The parts `/readyz` checks.
#[derive(Default)]
pub struct Readiness {
    parts: Vec<Part>,
}

impl Readiness {
    /// Adds a part.
    pub fn push(&mut self, part: Part) {
        self.parts.push(part);
    }

    /// Checks every part, the probes concurrently (each within
    /// [`PROBE_TIMEOUT`]).
    pub async fn check(&self) -> Report {
        let mut probes = tokio::task::JoinSet::new();
        for (i, part) in self.parts.iter().enumerate() {
            if let Check::Probe { probe, last } = &part.check {
                let (probe, last) = (probe.clone(), last.clone());
                probes.spawn(async move {
                    match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
                        Ok(Ok(())) => last.set_ok(),
                        Ok(Err(e)) => last.set_failing(e),
                        Err(_) => last
                            .set_failing(format!("no answer in {} ms", PROBE_TIMEOUT.as_millis())),
                    }
                    i
                });
            }
        }
        while probes.join_next().await.is_some() {}
        let now = wall_clock_ms();
        Report {
            failing: self
                .parts
                .iter()
                .filter_map(|p| Some((p.name.clone(), p.known(now)?)))
                .collect(),
        }
    }

    /// `alertgate_ready{part}` gauges (1 ready, 0 failing) as last known
    /// (a probed part: as of the last `/readyz`), Prometheus text.
    pub fn render_gauges(&self, out: &mut String) {
        let name = "alertgate_ready";
        let _ = writeln!(
            out,
            "# HELP {name} Whether a part is ready (1) or failing (0), as /readyz reports it.\n# TYPE {name} gauge"
        );
        let now = wall_clock_ms();
        for part in &self.parts {
            let up = u8::from(part.known(now).is_none());
            let _ = writeln!(out, "{name}{{part=\"{}\"}} {up}", part.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_each_failing_part_with_its_reason() {
        let journal = Arc::new(Health::default());
        let breaker = Arc::new(CircuitBreaker::new(1, Duration::from_secs(60)));
        let mut r = Readiness::default();
        r.push(Part::recorded("journal", journal.clone()));
        r.push(Part::circuit(breaker.clone()));
        r.push(Part::probe("replay_store", || {
            Box::pin(async { Err("connection refused".to_string()) })
        }));
        r.push(Part::probe("venue", || {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
        }));
        r.push(Part::probe("fine", || Box::pin(async { Ok(()) })));
        journal.set_failing("disk full");
        breaker.failure(wall_clock_ms());
        let report = r.check().await;
        let names: Vec<&str> = report.failing.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["journal", "circuit", "replay_store", "venue"]);
        let v = report.to_json();
        assert_eq!(v["ready"], false);
        assert_eq!(v["reasons"]["journal"], "disk full");
        assert!(v["reasons"]["venue"].as_str().unwrap().contains("250 ms"));
        let mut text = String::new();
        r.render_gauges(&mut text);
        assert!(
            text.contains("alertgate_ready{part=\"journal\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("alertgate_ready{part=\"fine\"} 1\n"),
            "{text}"
        );

        journal.set_ok();
        let mut r2 = Readiness::default();
        r2.push(Part::recorded("journal", journal));
        let report = r2.check().await;
        assert!(report.is_ready());
        assert_eq!(report.to_json(), json!({"ready": true}));
    }
}
