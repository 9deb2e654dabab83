//! The order log of a real venue: every state change of every order, one
//! JSON line each, appended and fsynced before the gateway acts on it.
//!
//! An order's life: `intent` (durable before its POST is sent: the order,
//! its client id and the signed request's `timestamp_ms`) → `sent` → one
//! of `acknowledged` / `filled` / `cancelled` (the venue's report),
//! `rejected` (the venue refused: nothing happened), `not_sent` (held back
//! or refused before reaching the venue: nothing happened, it may be sent
//! again), `unknown` (it may have reached the venue) → `resolved` (a query
//! found it, with its report) or `not_placed` (the venue has proved it
//! never took it; the next `intent` sends it again with the same client
//! id), and `abandoned` (never placed within `[venue] give_up_after_ms`).
//!
//! [`OrderLog::open`] reads the log back: the last state of each client id
//! tells the executor which orders are settled and which must be
//! reconciled with the venue before anything new is sent. A torn last line
//! (a crash mid-write) is cut off: the state change it described was not
//! acted on (each is fsynced before the next step).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use super::{OrderReport, VenueOrder};
use crate::serve::jsonl::{self, LineAppender};

/// An order's state, as the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// About to be sent (durable before the POST).
    Intent,
    /// The POST is being sent.
    Sent,
    /// The venue took it; it is working (or partly filled).
    Acknowledged,
    /// Executed in full.
    Filled,
    /// Cancelled, expired or refused after acceptance, perhaps after partial
    /// fills.
    Cancelled,
    /// The venue refused it: it does not exist.
    Rejected,
    /// Held back or refused before reaching the venue: it does not exist.
    NotSent,
    /// It may have reached the venue: to be resolved by a query.
    Unknown,
    /// A query found it: its report says where it stands.
    Resolved,
    /// The venue has proved it never took it (see the executor).
    NotPlaced,
    /// Never placed in time: given up, it does not exist.
    Abandoned,
}

impl State {
    /// The state's name as the log writes it (`intent`, `not_sent`, …).
    pub const fn name(self) -> &'static str {
        match self {
            State::Intent => "intent",
            State::Sent => "sent",
            State::Acknowledged => "acknowledged",
            State::Filled => "filled",
            State::Cancelled => "cancelled",
            State::Rejected => "rejected",
            State::NotSent => "not_sent",
            State::Unknown => "unknown",
            State::Resolved => "resolved",
            State::NotPlaced => "not_placed",
            State::Abandoned => "abandoned",
        }
    }

    /// Whether the order's fate is known and nothing more will be sent for
    /// it (its report may still change on the venue for a working order).
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            State::Acknowledged
                | State::Filled
                | State::Cancelled
                | State::Rejected
                | State::Resolved
                | State::Abandoned
        )
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The new state.
    pub state: State,
    /// The order's client id.
    pub client_order_id: String,
    /// Local wall clock, Unix ms.
    pub at_ms: i64,
    /// The order (on `intent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<VenueOrder>,
    /// The alert's event id the order carries out (on `intent`), so that
    /// an order resolved after a restart is logged with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The signed request's `timestamp`, venue clock (on `intent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
    /// Its `recvWindow` (on `intent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recv_window_ms: Option<u64>,
    /// The venue's report (acknowledged, filled, cancelled, resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<OrderReport>,
    /// Stable `venue_*` code (rejected, not_sent, unknown, abandoned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What happened, for people (never a key or a signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Change {
    /// A change to `state` of `client_order_id` at `at_ms`, nothing else
    /// set.
    pub fn new(state: State, client_order_id: &str, at_ms: i64) -> Change {
        Change {
            state,
            client_order_id: client_order_id.to_string(),
            at_ms,
            order: None,
            event_id: None,
            timestamp_ms: None,
            recv_window_ms: None,
            report: None,
            code: None,
            reason: None,
        }
    }
}

/// What the log knows of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The order, from its last `intent`.
    pub order: VenueOrder,
    /// The alert's event id, if the log has it (logs written before it
    /// was recorded have none).
    pub event_id: Option<String>,
    /// Its last state.
    pub state: State,
    /// The last `intent`'s signed timestamp (venue clock).
    pub timestamp_ms: i64,
    /// The last `intent`'s `recvWindow`.
    pub recv_window_ms: u64,
    /// When the first `intent` was recorded (local clock, Unix ms): an
    /// order's give-up time counts from it, across restarts.
    pub first_intent_ms: i64,
    /// The last report, if any.
    pub report: Option<OrderReport>,
}

impl Known {
    /// Whether the order is working on the venue as the log last heard:
    /// acknowledged (or found by a query) and its last report not final.
    pub fn is_working(&self) -> bool {
        matches!(self.state, State::Acknowledged | State::Resolved)
            && self.report.as_ref().is_some_and(|r| !r.status.is_final())
    }
}

/// The order log: the file and what it says of each client id.
#[derive(Debug)]
pub struct OrderLog {
    path: PathBuf,
    /// Never leaves part of a line: a broken line in the middle would make
    /// the log refuse to open.
    file: LineAppender,
    orders: HashMap<String, Known>,
    ids: KnownIds,
    /// The client ids of the orders working on the venue (see
    /// [`Known::is_working`]): what every follow tick and bracket question
    /// reads, kept here so that none walks every order the log ever knew.
    working: BTreeSet<String>,
}

/// The client ids an order log knows, shared with the answer path: an
/// accepted alert whose client id a venue's log already knows was decided
/// before (its event id reused after the gate's window) and can never be
/// placed again (a venue takes a client id once), so it is answered as
/// the replay it is rather than accepted and dropped.
#[derive(Debug, Clone, Default)]
pub struct KnownIds(Arc<RwLock<HashSet<String>>>);

impl KnownIds {
    /// Whether the log knows `client_order_id`.
    pub fn contains(&self, client_order_id: &str) -> bool {
        let ids = self.0.read().unwrap_or_else(|e| e.into_inner());
        ids.contains(client_order_id)
    }

    fn insert(&self, client_order_id: &str) {
        let mut ids = self.0.write().unwrap_or_else(|e| e.into_inner());
        ids.insert(client_order_id.to_string());
    }

    /// Adds `client_order_ids`, under one lock.
    pub(crate) fn extend<'a>(&self, client_order_ids: impl IntoIterator<Item = &'a str>) {
        let mut ids = self.0.write().unwrap_or_else(|e| e.into_inner());
        ids.extend(client_order_ids.into_iter().map(str::to_string));
    }

    /// Keeps only the ids `keep` answers `true` for, under one lock.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        let mut ids = self.0.write().unwrap_or_else(|e| e.into_inner());
        ids.retain(|id| keep(id));
    }
}

impl OrderLog {
    /// Opens (creating) the log at `path`, reads it back and cuts a torn
    /// last line off. A line that is whole but unreadable is an error
    /// naming the file and line: the log is never guessed at.
    pub fn open(path: &Path) -> io::Result<OrderLog> {
        let mut orders = HashMap::new();
        let read = jsonl::read_complete_lines_from(path, 0, |number, line| {
            let change: Change =
                serde_json::from_slice(line).map_err(|e| jsonl::invalid(path, number, e))?;
            apply(&mut orders, change).map_err(|e| jsonl::invalid(path, number, e))
        })?;
        let file = match read {
            Some(back) => {
                if back.torn > 0 {
                    back.file.set_len(back.complete)?;
                    back.file.sync_all()?;
                }
                back.file
            }
            None => File::create(path)?,
        };
        let ids = KnownIds::default();
        ids.extend(orders.keys().map(String::as_str));
        let working = orders
            .iter()
            .filter(|(_, k)| k.is_working())
            .map(|(id, _)| id.clone())
            .collect();
        Ok(OrderLog {
            path: path.to_path_buf(),
            file: LineAppender::new(file)?,
            orders,
            ids,
            working,
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `change` and makes it durable before returning.
    /// A failed write or fsync leaves the log as it was (the line is cut
    /// off) and changes nothing the log knows.
    pub fn record(&mut self, change: Change) -> io::Result<()> {
        self.write(&change, true)?;
        self.apply(change)
    }

    /// Appends `change` without waiting for the disk: for `sent`, which
    /// nothing relies on (an `intent` without an outcome is reconciled
    /// whether or not `sent` follows it).
    pub fn note(&mut self, change: Change) -> io::Result<()> {
        self.write(&change, false)?;
        self.apply(change)
    }

    fn apply(&mut self, change: Change) -> io::Result<()> {
        let id = change.client_order_id.clone();
        apply(&mut self.orders, change)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if self.orders.get(&id).is_some_and(Known::is_working) {
            self.working.insert(id.clone());
        } else {
            self.working.remove(&id);
        }
        if !self.ids.contains(&id) {
            self.ids.insert(&id);
        }
        Ok(())
    }

    /// The client ids the log knows, as they grow (see [`KnownIds`]).
    pub fn known_ids(&self) -> KnownIds {
        self.ids.clone()
    }

    fn write(&mut self, change: &Change, sync: bool) -> io::Result<()> {
        let mut line = serde_json::to_vec(change)?;
        line.push(b'\n');
        self.file.append(&line, sync)
    }

    /// Every order the log knows, by client id.
    pub fn orders(&self) -> impl Iterator<Item = (&String, &Known)> {
        self.orders.iter()
    }

    /// The orders working on the venue (see [`Known::is_working`]), by
    /// client id in order: as many as are working, however many the log
    /// knows.
    pub fn working(&self) -> impl Iterator<Item = (&String, &Known)> {
        self.working
            .iter()
            .filter_map(|id| self.orders.get_key_value(id))
    }

    /// What the log knows of `client_order_id`.
    pub fn get(&self, client_order_id: &str) -> Option<&Known> {
        self.orders.get(client_order_id)
    }

    /// Every order whose fate is not settled (see [`State::is_settled`]),
    /// and every acknowledged order still working: what a restart
    /// reconciles with the venue.
    pub fn unsettled(&self) -> Vec<(String, Known)> {
        let mut open: Vec<_> = self
            .orders
            .iter()
            .filter(|(_, k)| !k.state.is_settled())
            .map(|(id, k)| (id.clone(), k.clone()))
            .collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        open
    }
}

/// Folds `change` into `orders`: an `intent` starts (or restarts) an
/// order; any other change needs an earlier intent, except a refusal
/// before sending, which carries its order.
fn apply(orders: &mut HashMap<String, Known>, change: Change) -> Result<(), String> {
    if change.state == State::Intent {
        let (Some(order), Some(timestamp_ms)) = (change.order, change.timestamp_ms) else {
            return Err("an intent without its order or timestamp".into());
        };
        let before = orders.get(&change.client_order_id);
        let report = before.and_then(|k| k.report.clone());
        let event_id = change
            .event_id
            .or_else(|| before.and_then(|k| k.event_id.clone()));
        let first_intent_ms = before.map_or(change.at_ms, |k| k.first_intent_ms);
        orders.insert(
            change.client_order_id,
            Known {
                order,
                event_id,
                state: State::Intent,
                timestamp_ms,
                recv_window_ms: change.recv_window_ms.unwrap_or(5_000),
                first_intent_ms,
                report,
            },
        );
        return Ok(());
    }
    if let (None, Some(order)) = (orders.get(&change.client_order_id), &change.order) {
        // Refused before any intent (the venue's rules): the order as
        // accepted, never sent.
        orders.insert(
            change.client_order_id.clone(),
            Known {
                order: order.clone(),
                event_id: change.event_id.clone(),
                state: change.state,
                timestamp_ms: change.at_ms,
                recv_window_ms: 0,
                first_intent_ms: change.at_ms,
                report: None,
            },
        );
        return Ok(());
    }
    let Some(known) = orders.get_mut(&change.client_order_id) else {
        return Err(format!(
            "{:?} for client id {} without an intent",
            change.state, change.client_order_id
        ));
    };
    known.state = change.state;
    if change.report.is_some() {
        known.report = change.report;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_the_logs() {
        let all = [
            State::Intent,
            State::Sent,
            State::Acknowledged,
            State::Filled,
            State::Cancelled,
            State::Rejected,
            State::NotSent,
            State::Unknown,
            State::Resolved,
            State::NotPlaced,
            State::Abandoned,
        ];
        for state in all {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.name()));
        }
    }
    use crate::venue::OrderStatus;
    use alertgate_validator::{Decimal, Side};

    fn order(id: &str) -> VenueOrder {
        VenueOrder::market(id, "BTC/USDT", Side::Buy, Decimal::parse("0.01").unwrap())
    }

    fn intent(id: &str, ts: i64) -> Change {
        Change {
            order: Some(order(id)),
            timestamp_ms: Some(ts),
            recv_window_ms: Some(5_000),
            ..Change::new(State::Intent, id, ts)
        }
    }

    fn report(id: &str) -> OrderReport {
        OrderReport {
            client_order_id: id.into(),
            venue_order_id: "42".into(),
            status: OrderStatus::Filled,
            executed_quantity: Decimal::parse("0.01").unwrap(),
            average_price: Decimal::parse("50000"),
            updated_ms: 7,
        }
    }

    #[test]
    fn a_restart_knows_each_orders_last_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.jsonl");
        let mut log = OrderLog::open(&path).unwrap();
        log.record(intent("a", 1)).unwrap();
        log.note(Change::new(State::Sent, "a", 1)).unwrap();
        log.record(Change {
            report: Some(report("a")),
            ..Change::new(State::Filled, "a", 2)
        })
        .unwrap();
        log.record(intent("b", 3)).unwrap();
        log.note(Change::new(State::Sent, "b", 3)).unwrap();
        drop(log);
        let log = OrderLog::open(&path).unwrap();
        assert_eq!(log.get("a").unwrap().state, State::Filled);
        assert_eq!(log.get("a").unwrap().report, Some(report("a")));
        let open = log.unsettled();
        assert_eq!(open.len(), 1);
        assert_eq!((open[0].0.as_str(), open[0].1.timestamp_ms), ("b", 3));
    }

    #[test]
    fn a_torn_last_line_is_cut_and_a_bad_whole_line_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.jsonl");
        let mut log = OrderLog::open(&path).unwrap();
        log.record(intent("a", 1)).unwrap();
        drop(log);
        let whole = std::fs::read(&path).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(b"{\"state\":\"fil");
        std::fs::write(&path, &torn).unwrap();
        let log = OrderLog::open(&path).unwrap();
        assert_eq!(log.get("a").unwrap().state, State::Intent);
        assert_eq!(std::fs::read(&path).unwrap(), whole);
        drop(log);
        std::fs::write(
            &path,
            b"{\"state\":\"filled\",\"client_order_id\":\"z\",\"at_ms\":1}\n",
        )
        .unwrap();
        let e = OrderLog::open(&path).unwrap_err();
        assert!(e.to_string().contains("orders.jsonl:1"), "{e}");
    }

    /// The working index is what a walk over every order would find,
    /// after each change and after a restart.
    #[test]
    fn the_working_orders_are_those_acknowledged_or_resolved_and_not_final() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.jsonl");
        let mut log = OrderLog::open(&path).unwrap();
        let with = |state, id: &str, status, at| Change {
            report: Some(OrderReport {
                status,
                ..report(id)
            }),
            ..Change::new(state, id, at)
        };
        let walk = |log: &OrderLog| {
            let mut ids: Vec<String> = log
                .orders()
                .filter(|(_, k)| k.is_working())
                .map(|(id, _)| id.clone())
                .collect();
            ids.sort();
            ids
        };
        let working = |log: &OrderLog| log.working().map(|(id, _)| id.clone()).collect::<Vec<_>>();
        let steps = [
            (intent("a", 1), vec![]),
            (
                with(State::Acknowledged, "a", OrderStatus::New, 2),
                vec!["a"],
            ),
            (intent("b", 3), vec!["a"]),
            (Change::new(State::Unknown, "b", 4), vec!["a"]),
            (
                with(State::Resolved, "b", OrderStatus::PartiallyFilled, 5),
                vec!["a", "b"],
            ),
            (with(State::Filled, "a", OrderStatus::Filled, 6), vec!["b"]),
            (with(State::Resolved, "b", OrderStatus::Canceled, 7), vec![]),
            (intent("c", 8), vec![]),
            (
                with(State::Acknowledged, "c", OrderStatus::New, 9),
                vec!["c"],
            ),
        ];
        for (change, want) in steps {
            log.record(change).unwrap();
            assert_eq!(working(&log), want);
            assert_eq!(walk(&log), want);
        }
        drop(log);
        let log = OrderLog::open(&path).unwrap();
        assert_eq!(
            (working(&log), walk(&log)),
            (vec!["c".to_string()], vec!["c".to_string()])
        );
    }

    #[test]
    fn a_change_not_written_is_not_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.jsonl");
        let mut log = OrderLog::open(&path).unwrap();
        log.record(intent("a", 1)).unwrap();
        // The disk refuses writes (a read-only handle).
        let writable = std::mem::replace(
            &mut log.file,
            LineAppender::new(File::open(&path).unwrap()).unwrap(),
        );
        assert!(log.record(intent("b", 2)).is_err());
        assert!(log.note(Change::new(State::Sent, "a", 3)).is_err());
        assert!(log.get("b").is_none());
        assert_eq!(log.get("a").unwrap().state, State::Intent);
        log.file = writable;
        log.record(intent("c", 4)).unwrap();
        drop(log);
        let log = OrderLog::open(&path).unwrap();
        assert!(log.get("a").is_some() && log.get("c").is_some() && log.get("b").is_none());
    }
}
