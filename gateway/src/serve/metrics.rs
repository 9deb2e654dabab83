//! The gateway's counters, exported as Prometheus text on `GET /metrics`.
//!
//! Plain atomics and one small map: recording never waits on a scrape.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::marks::MarkMiss;
use crate::venue::{ErrorCounts, RateLimits};
use alertgate_validator::Decimal;

/// Upper bounds of the latency buckets, seconds.
const BOUNDS_S: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A cumulative latency histogram (seconds).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS_S.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BOUNDS_S.iter().position(|&b| s <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BOUNDS_S.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count();
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Everything `/metrics` reports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Responses by (HTTP status, code).
    requests: Mutex<BTreeMap<(u16, &'static str), u64>>,
    /// Time from the body being read to the gate's decision.
    pub decision: Histogram,
    /// One group commit's write + fsync.
    pub journal_fsync: Histogram,
    /// Orders handed to execution.
    pub orders: AtomicU64,
    /// Fills of the mock exchange: orders' own and bracket legs'.
    pub fills: AtomicU64,
    /// Orders working (resting) at the mock exchange; a gauge.
    pub open_orders: AtomicU64,
    /// PnL of the mock exchange's closed trades, net of their fees, as
    /// `f64` bits; a gauge.
    realized_pnl_bits: AtomicU64,
    /// Execution attempts that failed.
    pub execution_failures: AtomicU64,
    /// Requests shed (503 `overloaded`): past `[serve] max_wait_ms` before
    /// their decision could start.
    pub shed: AtomicU64,
    /// Requests whose sender closed the connection before their decision
    /// started: never decided, nobody answered.
    pub abandoned: AtomicU64,
    /// With `[serve] market`: orders priced as without it (the alert's
    /// price, else the exchange's last observed one) because the market data had no
    /// mark for them, by
    /// [`MarkMiss::index`](super::marks::MarkMiss::index).
    pub mark_fallbacks: [AtomicU64; MarkMiss::ALL.len()],
    /// Real venues' orders by (venue, state reached).
    venue_orders: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Real venues' orders by (venue, order-log state), one per recorded
    /// change.
    venue_order_states: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// The stages' own refusals by (venue, stable code); the venues'
    /// failed calls are in `venue_call_errors`.
    venue_errors: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Each venue's failed calls, counted by its client.
    venue_call_errors: Mutex<Vec<Arc<ErrorCounts>>>,
    /// Real venues' positions as last read, by (venue, symbol).
    venue_positions: Mutex<BTreeMap<(&'static str, String), String>>,
    /// Realized PnL of each venue's logged fills, quote units.
    venue_pnl: Mutex<BTreeMap<&'static str, f64>>,
    /// Real venues' request counters and usage, by venue.
    venue_limits: Mutex<Vec<(&'static str, Arc<RateLimits>)>>,
}

impl Metrics {
    /// Counts one response.
    pub fn request(&self, status: u16, code: &'static str) {
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((status, code)).or_default() += 1;
    }

    /// Counts an order of `venue` that reached `state` (`filled`, `new`, …).
    pub fn venue_order(&self, venue: &'static str, state: &'static str) {
        let mut map = self.venue_orders.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((venue, state)).or_default() += 1;
    }

    /// Counts an order of `venue` whose order-log entry changed to `state`
    /// (`intent`, `unknown`, `resolved`, …).
    pub fn venue_order_state(&self, venue: &'static str, state: &'static str) {
        let mut map = self
            .venue_order_states
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *map.entry((venue, state)).or_default() += 1;
    }

    /// Exports the failed calls a venue's client counts, into
    /// `alertgate_venue_errors_total` beside [`Self::venue_error`]'s.
    pub fn watch_venue_errors(&self, errors: Arc<ErrorCounts>) {
        let mut list = self
            .venue_call_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        list.push(errors);
    }

    /// Counts a refusal of `venue`'s stage with stable `code` that no
    /// venue call answered (sizing, rules, the order log…): a failed call
    /// is counted by the venue's client ([`Self::watch_venue_errors`]).
    pub fn venue_error(&self, venue: &'static str, code: &str) {
        let mut map = self.venue_errors.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((venue, code.to_string())).or_default() += 1;
    }

    /// Records `venue`'s position in `symbol` as the venue just reported it.
    pub fn venue_position(&self, venue: &'static str, symbol: &str, position: Decimal) {
        let mut map = self
            .venue_positions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.insert((venue, symbol.to_string()), position.to_string());
    }

    /// Records the realized PnL of `venue`'s fills (see
    /// [`crate::venue::fill_log::FillLog::realized_pnl`]).
    pub fn venue_realized_pnl(&self, venue: &'static str, pnl: f64) {
        let mut map = self.venue_pnl.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(venue, pnl);
    }

    /// Exports `venue`'s request counters and usage headers.
    pub fn watch_venue(&self, venue: &'static str, limits: Arc<RateLimits>) {
        let mut list = self.venue_limits.lock().unwrap_or_else(|e| e.into_inner());
        list.push((venue, limits));
    }

    fn render_venue_requests(&self, out: &mut String) {
        let name = "alertgate_venue_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests to real venues by endpoint and HTTP status (or error code when none).\n# TYPE {name} counter"
        );
        let list = self.venue_limits.lock().unwrap_or_else(|e| e.into_inner());
        for (venue, limits) in list.iter() {
            for ((endpoint, status), n) in limits.requests() {
                let _ = writeln!(
                    out,
                    "{name}{{venue=\"{venue}\",endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let name = "alertgate_venue_used_weight";
        let _ = writeln!(
            out,
            "# HELP {name} The last request weight a venue reported used, per interval (X-MBX-USED-WEIGHT-*).\n# TYPE {name} gauge"
        );
        for (venue, limits) in list.iter() {
            for (interval, w) in limits.used_weight() {
                let _ = writeln!(
                    out,
                    "{name}{{venue=\"{venue}\",interval=\"{interval}\"}} {w}"
                );
            }
        }
        let name = "alertgate_venue_order_count";
        let _ = writeln!(
            out,
            "# HELP {name} The last order count a venue reported, per interval (X-MBX-ORDER-COUNT-*).\n# TYPE {name} gauge"
        );
        for (venue, limits) in list.iter() {
            for (interval, c) in limits.order_count() {
                let _ = writeln!(
                    out,
                    "{name}{{venue=\"{venue}\",interval=\"{interval}\"}} {c}"
                );
            }
        }
    }

    fn render_venues(&self, out: &mut String) {
        self.render_venue_requests(out);
        let name = "alertgate_venue_position";
        let _ = writeln!(
            out,
            "# HELP {name} A real venue's position (base units, signed), as last read from the venue.\n# TYPE {name} gauge"
        );
        let positions = self
            .venue_positions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ((venue, symbol), position) in positions.iter() {
            let _ = writeln!(
                out,
                "{name}{{venue=\"{venue}\",symbol=\"{symbol}\"}} {position}"
            );
        }
        drop(positions);
        let name = "alertgate_venue_realized_pnl";
        let _ = writeln!(
            out,
            "# HELP {name} Realized PnL of a real venue's fills by the paper exchange's rules (FIFO lots), quote units, without fees.\n# TYPE {name} gauge"
        );
        let pnl = self.venue_pnl.lock().unwrap_or_else(|e| e.into_inner());
        for (venue, pnl) in pnl.iter() {
            let _ = writeln!(out, "{name}{{venue=\"{venue}\"}} {pnl}");
        }
        drop(pnl);
        let name = "alertgate_venue_orders_total";
        let _ = writeln!(
            out,
            "# HELP {name} Orders placed on real venues, by the state they reached.\n# TYPE {name} counter"
        );
        let orders = self.venue_orders.lock().unwrap_or_else(|e| e.into_inner());
        for ((venue, state), n) in orders.iter() {
            let _ = writeln!(out, "{name}{{venue=\"{venue}\",state=\"{state}\"}} {n}");
        }
        drop(orders);
        let name = "alertgate_venue_order_states_total";
        let _ = writeln!(
            out,
            "# HELP {name} Order-log state changes of real venues' orders, by the state recorded.\n# TYPE {name} counter"
        );
        let states = self
            .venue_order_states
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ((venue, state), n) in states.iter() {
            let _ = writeln!(out, "{name}{{venue=\"{venue}\",state=\"{state}\"}} {n}");
        }
        drop(states);
        let name = "alertgate_venue_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Real venues' failed calls and the stages' refusals, by stable code.\n# TYPE {name} counter"
        );
        for ((venue, code), n) in self.all_venue_errors() {
            let _ = writeln!(out, "{name}{{venue=\"{venue}\",code=\"{code}\"}} {n}");
        }
    }

    /// The stages' refusals and the venues' failed calls, summed by
    /// (venue, code): one series per pair.
    fn all_venue_errors(&self) -> BTreeMap<(&'static str, String), u64> {
        let mut all = self
            .venue_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let calls = self
            .venue_call_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for errors in calls.iter() {
            for (code, n) in errors.counts() {
                *all.entry((errors.venue(), code.to_string())).or_default() += n;
            }
        }
        all
    }

    /// Sets the mock exchange's gauges.
    pub fn set_exchange(&self, open_orders: u64, realized_pnl: f64) {
        self.open_orders.store(open_orders, Ordering::Relaxed);
        self.realized_pnl_bits
            .store(realized_pnl.to_bits(), Ordering::Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP alertgate_requests_total Webhook responses by status and code.\n");
        out.push_str("# TYPE alertgate_requests_total counter\n");
        let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((status, code), n) in map.iter() {
            let _ = writeln!(
                out,
                "alertgate_requests_total{{status=\"{status}\",code=\"{code}\"}} {n}"
            );
        }
        drop(map);
        self.decision.render(
            &mut out,
            "alertgate_decision_seconds",
            "Time from a complete body to the gate's decision.",
        );
        self.journal_fsync.render(
            &mut out,
            "alertgate_journal_fsync_seconds",
            "Write and fsync of one journal group commit.",
        );
        for (name, help, value) in [
            (
                "alertgate_orders_total",
                "Orders sent to execution.",
                &self.orders,
            ),
            (
                "alertgate_fills_total",
                "Fills of the mock exchange (orders' and bracket legs').",
                &self.fills,
            ),
            (
                "alertgate_execution_failures_total",
                "Failed execution attempts.",
                &self.execution_failures,
            ),
            (
                "alertgate_shed_total",
                "Requests answered 503 overloaded: waited past [serve] max_wait_ms before their decision.",
                &self.shed,
            ),
            (
                "alertgate_abandoned_total",
                "Requests whose sender left before their decision started: not decided.",
                &self.abandoned,
            ),
        ] {
            let v = value.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        let open = self.open_orders.load(Ordering::Relaxed);
        let pnl = f64::from_bits(self.realized_pnl_bits.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP alertgate_open_orders Orders resting at the mock exchange.\n# TYPE alertgate_open_orders gauge\nalertgate_open_orders {open}\n# HELP alertgate_realized_pnl Realized PnL of the mock exchange's closed trades, net of their fees, quote units.\n# TYPE alertgate_realized_pnl gauge\nalertgate_realized_pnl {pnl}"
        );
        let name = "alertgate_mark_fallbacks_total";
        let _ = writeln!(
            out,
            "# HELP {name} Orders priced as without [serve] market (the alert's price, else the exchange's last observed one) because the market data had no mark for them.\n# TYPE {name} counter"
        );
        for miss in MarkMiss::ALL {
            let v = self.mark_fallbacks[miss.index()].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{reason=\"{}\"}} {v}", miss.reason());
        }
        self.render_venues(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request(200, "accepted");
        m.request(200, "accepted");
        m.request(409, "replayed");
        m.decision.observe(Duration::from_micros(50));
        m.decision.observe(Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("alertgate_requests_total{status=\"200\",code=\"accepted\"} 2"));
        assert!(text.contains("alertgate_requests_total{status=\"409\",code=\"replayed\"} 1"));
        assert!(text.contains("alertgate_decision_seconds_bucket{le=\"0.0001\"} 1"));
        assert!(text.contains("alertgate_decision_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("alertgate_decision_seconds_count 2"));
        assert!(text.contains("alertgate_fills_total 0"));
        assert!(text.contains("alertgate_shed_total 0\n"));
        assert!(text.contains("alertgate_abandoned_total 0\n"));
        assert!(text.contains("alertgate_open_orders 0\n"));
        assert!(text.contains("alertgate_realized_pnl 0\n"));
        m.set_exchange(3, -1.5);
        let text = m.render();
        assert!(text.contains("alertgate_open_orders 3\n"));
        assert!(text.contains("alertgate_realized_pnl -1.5\n"));
        m.mark_fallbacks[MarkMiss::BeforeData.index()].fetch_add(1, Ordering::Relaxed);
        let text = m.render();
        assert!(text.contains("alertgate_mark_fallbacks_total{reason=\"before_data\"} 1"));
        assert!(text.contains("alertgate_mark_fallbacks_total{reason=\"no_timestamp\"} 0"));
    }

    #[test]
    fn venue_errors_sum_the_stages_refusals_and_the_venues_failed_calls() {
        let m = Metrics::default();
        let calls = Arc::new(ErrorCounts::new("binance-usdm"));
        m.watch_venue_errors(calls.clone());
        let limited = crate::venue::VenueError::RateLimited {
            venue: "binance-usdm",
            retry_after_ms: 1,
        };
        let _ = calls.note::<()>("POST order", Err(limited.clone()));
        let _ = calls.note::<()>("GET account", Err(limited));
        m.venue_error("binance-usdm", "sizing_below_min");
        m.venue_error("binance-usdm", "venue_rate_limited");
        let text = m.render();
        let series = "alertgate_venue_errors_total";
        assert!(text.contains(&format!(
            "{series}{{venue=\"binance-usdm\",code=\"venue_rate_limited\"}} 3\n"
        )));
        assert!(text.contains(&format!(
            "{series}{{venue=\"binance-usdm\",code=\"sizing_below_min\"}} 1\n"
        )));
        assert_eq!(text.matches("code=\"venue_rate_limited\"").count(), 1);
    }

    #[test]
    fn order_states_are_counted_by_venue_and_state() {
        let m = Metrics::default();
        m.venue_order_state("binance-usdm", "unknown");
        m.venue_order_state("binance-usdm", "resolved");
        m.venue_order_state("binance-usdm", "unknown");
        let text = m.render();
        assert!(text.contains(
            "alertgate_venue_order_states_total{venue=\"binance-usdm\",state=\"unknown\"} 2\n"
        ));
        assert!(text.contains(
            "alertgate_venue_order_states_total{venue=\"binance-usdm\",state=\"resolved\"} 1\n"
        ));
    }
}
