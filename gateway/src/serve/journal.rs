//! The decision journal: append-only JSON Lines, one line per request in
//! the alert-stream format ([`alertgate_simulator::stream`]) plus a `decision` object, so
//! `alertgate replay journal.jsonl` reads it as it is.
//!
//! A request is answered only after its line is on disk (write + fsync).
//! One writer thread does every write: it takes whatever lines are queued,
//! writes them at once and fsyncs once (group commit), so concurrent
//! requests share one fsync.
//!
//! A crash can leave a last line half written; it was never acknowledged,
//! so [`Journal::open`] cuts it off.
//!
//! # Failures
//!
//! If a group commit's write or fsync fails, every request of the batch is
//! refused (`journal_unavailable`), and the writer does not give up: the
//! next batch is tried again, and while the journal is failing and idle
//! the writer probes it every [`RETRY_EVERY`] (see [`Health`]), so it
//! recovers by itself once the disk does.
//!
//! A refused request's line must never count at recovery: its sender was
//! told it failed and will retry. Yet a failed write may have left part of
//! the batch, or all of it, in the file, and after a failed fsync Linux may
//! have dropped the dirty pages and reports the error once only, so what
//! the page cache shows past the last successful fsync proves nothing.
//! So the writer keeps the file's durable length (the end of the last
//! batch whose fsync succeeded) and, after a failure, cuts the file back to
//! it (`ftruncate` + fsync) before anything else is written; if that fails
//! too, nothing is written until it succeeds. New lines are then written
//! from the durable end, never after bytes of unknown fate. The durable
//! prefix is safe either way: it was fsynced, and a page it shares with the
//! cut-off bytes is written back from the cache's copy or re-read from
//! disk. What remains is a crash after a failed write and before the cut
//! succeeds: a whole refused line may then survive. Its event is then
//! executed once (client order ids are idempotent and the replay guard
//! refuses the retry), not twice.
//!
//! [`Health`]: super::readiness::Health

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alertgate_validator::{Decimal, OrderType, Side};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::jsonl;
use super::metrics::Metrics;
use super::readiness::Health;
use super::snapshot::{AcceptedFeed, AcceptedLine};

/// Most lines written by one group commit.
const MAX_BATCH: usize = 4096;

/// While the journal is failing and no line is queued, how often the
/// writer cuts the file back and probes it.
pub const RETRY_EVERY: Duration = Duration::from_millis(500);

/// What a probe writes past the durable end, then cuts off: NUL bytes, no
/// line (were it left by a crash, recovery cuts it as a torn tail). Two
/// pages, so that at least one new block is allocated: a full disk fails.
const PROBE_BYTES: usize = 8192;

/// What a journal line's `decision` says about an accepted request: enough
/// to rebuild the replay guard and to execute the order again.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AcceptedEntry {
    /// The strategy (`""` for `POST /webhook`).
    #[serde(default)]
    pub strategy: String,
    /// What the replay guard remembers the order by.
    pub replay_key: String,
    /// Gate clock at acceptance, Unix ms.
    pub accepted_ms: i64,
    /// The alert's time as the gate settled it, Unix ms: with
    /// `accepted_ms`, how long the replay guard remembers the event.
    /// Absent in journals written before it was recorded.
    #[serde(default)]
    pub timestamp_ms: Option<i64>,
    /// The order as executed.
    pub order: ExecOrder,
}

/// An order as the execution stage needs it: the gate's [`Order`] with
/// its client order id and the market-data mark.
///
/// Written into the journal (and, inline, into the exchange log's submit
/// lines) as JSON: the side and order type as their names (`"buy"`,
/// `"stop_loss"`), decimals as strings (`"0.1"`), optional fields left out.
///
/// [`Order`]: alertgate_validator::Order
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct ExecOrder {
    /// Client order id, derived from the strategy and the event's identity.
    pub client_order_id: String,
    /// The event's identity: its replay key, what the signature covers
    /// (never an unsigned id header).
    pub event_id: String,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit, stop-loss or take-profit.
    pub order_type: OrderType,
    /// Base units.
    pub quantity: Decimal,
    /// Limit price, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// Trigger price, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Decimal>,
    /// The price from `[serve] market`: the open of the symbol's latest
    /// bar started at or before the alert's time. The mock exchange
    /// observes it with the order (a market order fills there; see
    /// [`super::mock`]). Absent without market data and when the data has
    /// no bar for the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_price: Option<Decimal>,
    /// Stop-loss leg of the bracket the order attaches, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<Decimal>,
    /// Take-profit leg of the bracket the order attaches, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Decimal>,
    /// With `[sizing] mode = "target"`: where the alert says the
    /// strategy's position now is (signed base units, 0 flat), read from
    /// its `position_size` / `market_position`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_position: Option<Decimal>,
    /// Place this order, or (a cancel alert) cancel working ones: then
    /// `side`, `order_type` and `quantity` carry no order (buy, market, 0)
    /// and nothing may be placed for it; every stage matches `action`
    /// first. Left out when placing: journals and logs written before
    /// cancels existed read back unchanged.
    #[serde(default, skip_serializing_if = "ExecAction::is_place")]
    pub action: ExecAction,
}

/// What execution is to do with an accepted alert: the gate's
/// [`Action`](alertgate_validator::Action) with the target's client order
/// id, which derives from the strategy (known here, not to the stages).
/// Written `{"cancel":{"event_id":..,"client_order_id":..}}`, or
/// `{"cancel":{}}` for every working entry of the symbol.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecAction {
    /// Place the order.
    #[default]
    Place,
    /// Cancel working entry orders (never a position's protective legs).
    Cancel(CancelOf),
}

impl ExecAction {
    /// Whether the order is placed (serde's `skip_serializing_if`).
    pub fn is_place(&self) -> bool {
        matches!(self, ExecAction::Place)
    }

    /// The execution action of the gate's `action` for `strategy`'s
    /// alert: a target's client order id derived as its own order's was
    /// ([`super::execution::client_order_id`]).
    pub fn of(strategy: &str, action: &alertgate_validator::Action) -> ExecAction {
        use alertgate_validator::{Action, CancelTarget};
        match action {
            Action::Place => ExecAction::Place,
            Action::Cancel(CancelTarget::Symbol) => ExecAction::Cancel(CancelOf::default()),
            Action::Cancel(CancelTarget::Event(id)) => ExecAction::Cancel(CancelOf {
                event_id: Some(id.to_string()),
                client_order_id: Some(super::execution::client_order_id(strategy, id)),
            }),
        }
    }
}

/// The target of a cancel: one alert's order, or (both `None`) every
/// working entry order of the cancel's symbol.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct CancelOf {
    /// The target alert's identity, as the cancel named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The client order id of the target's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
}

impl ExecOrder {
    /// An order with no prices, marks, bracket or target (set the fields
    /// that apply after).
    pub fn new(
        client_order_id: &str,
        event_id: &str,
        symbol: &str,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
    ) -> ExecOrder {
        ExecOrder {
            client_order_id: client_order_id.to_string(),
            event_id: event_id.to_string(),
            symbol: symbol.to_string(),
            side,
            order_type,
            quantity,
            price: None,
            stop_price: None,
            mark_price: None,
            stop_loss: None,
            take_profit: None,
            target_position: None,
            action: ExecAction::Place,
        }
    }

    /// Whether this is a cancel alert's (nothing to place).
    pub fn is_cancel(&self) -> bool {
        !self.action.is_place()
    }
}

#[derive(Deserialize)]
struct Line {
    decision: Option<serde_json::Value>,
}

/// Reads the accepted entries of an existing journal, in file order, and
/// cuts off a trailing partial line. A missing file is an empty journal.
pub fn recover(path: &Path) -> io::Result<Vec<AcceptedEntry>> {
    Ok(recover_from(path, 0)?
        .into_iter()
        .map(|(_, entry)| entry)
        .collect())
}

/// [`recover`] from byte `from` on (the start of a line, e.g. a
/// snapshot's checkpoint): each accepted entry with the offset its line
/// starts at.
pub fn recover_from(path: &Path, from: u64) -> io::Result<Vec<(u64, AcceptedEntry)>> {
    let mut entries = Vec::new();
    let mut offset = from;
    let read = jsonl::read_complete_lines_from(path, from, |number, bytes| {
        let start = offset;
        offset += bytes.len() as u64;
        if let Some(entry) = accepted_entry(bytes).map_err(|e| jsonl::invalid(path, number, e))? {
            entries.push((start, entry));
        }
        Ok(())
    })?;
    if let Some(read) = read.filter(|r| r.torn > 0) {
        tracing::warn!(
            path = %path.display(),
            "journal ends in a partial line (a crash mid-write); cutting it off"
        );
        read.file.set_len(read.complete)?;
        read.file.sync_all()?;
    }
    Ok(entries)
}

/// The accepted entry of one journal line, `None` for any other decision.
pub(crate) fn accepted_entry(bytes: &[u8]) -> Result<Option<AcceptedEntry>, String> {
    let v = match decision_of(bytes) {
        Some(decision) => serde_json::from_slice(decision).map_err(|e| e.to_string())?,
        None => {
            let line: Line = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
            let Some(v) = line.decision else {
                return Ok(None);
            };
            v
        }
    };
    if v.get("accepted") != Some(&serde_json::Value::Bool(true)) {
        return Ok(None);
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(|e| format!("decision: {e}"))
}

/// The `decision` object of a line as the gateway writes it (the last key,
/// see [`alertgate_simulator::stream::write_line`]), without parsing the
/// rest: `,"decision":` cannot occur inside a JSON string (its quotes would
/// be escaped), so its last occurrence is the key. `None` when the line is
/// not so shaped (it is then parsed whole).
fn decision_of(bytes: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b",\"decision\":";
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let line = line.strip_suffix(b"}")?;
    let at = line.windows(KEY.len()).rposition(|w| w == KEY)?;
    let decision = &line[at + KEY.len()..];
    decision.starts_with(b"{").then_some(decision)
}

/// Why a journal line is not durable: the request it records must be
/// refused (`journal_unavailable`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// Writing or fsyncing failed (the text of the I/O error). The batch's
    /// bytes are cut off before anything else is written; later lines are
    /// tried again.
    #[error("journal write failed: {0}")]
    Write(String),
    /// The writer thread is gone.
    #[error("journal writer stopped")]
    WriterStopped,
}

struct Pending {
    line: Vec<u8>,
    /// An accepted line's (client order id, accepted at), reported to the
    /// feed once durable.
    accepted: Option<(String, i64)>,
    done: oneshot::Sender<Result<(), JournalError>>,
}

/// The journal's handle: queue lines, await their fsync.
#[derive(Clone)]
pub struct Journal {
    queue: mpsc::Sender<Pending>,
    health: Arc<Health>,
    durable: Arc<AtomicU64>,
}

/// Waits for one line to be durable.
pub struct Durable(oneshot::Receiver<Result<(), JournalError>>);

impl Durable {
    /// `Ok` once the line is written and fsynced.
    pub async fn wait(self) -> Result<(), JournalError> {
        self.0.await.unwrap_or(Err(JournalError::WriterStopped))
    }
}

impl Journal {
    /// Opens (creating) the journal for appending and starts its writer
    /// thread; the thread ends once every `Journal` clone is dropped and
    /// the queue is drained.
    ///
    /// With `feed`, every accepted line ([`Journal::append_accepted`]) is
    /// reported to it once durable, before its durable length is published
    /// (see [`AcceptedFeed`]).
    pub fn open(
        path: &Path,
        metrics: Arc<Metrics>,
        feed: Option<AcceptedFeed>,
    ) -> io::Result<(Journal, std::thread::JoinHandle<()>)> {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        let durable = file.seek(io::SeekFrom::End(0))?;
        let (queue, rx) = mpsc::channel();
        let health = Arc::new(Health::default());
        let mut tail = Tail::new(file, durable);
        // Probed before the first request, so that a journal that cannot
        // take a line is not reported ready until it can.
        if let Err(e) = tail.probe() {
            tracing::error!("journal cannot be written: {e}");
            health.set_failing(format!("probe failed: {e}"));
        }
        let state = health.clone();
        let published = Arc::new(AtomicU64::new(durable));
        let len = published.clone();
        let writer = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_loop(tail, rx, &metrics, &state, &len, feed))?;
        Ok((
            Journal {
                queue,
                health,
                durable: published,
            },
            writer,
        ))
    }

    /// The writer's state: failing from a failed group commit until a
    /// commit or a probe succeeds (`/readyz`'s `journal`).
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// The journal's durable length, bytes: the end of the last group
    /// commit whose fsync succeeded. Updated before the commit's requests
    /// are told, so every line whose request has been answered (and whose
    /// order was handed to execution) lies before it; nothing before it is
    /// ever cut back.
    pub fn durable_len(&self) -> Arc<AtomicU64> {
        self.durable.clone()
    }

    /// Queues one line (without its newline). Lines reach the file in the
    /// order `append` is called.
    pub fn append(&self, line: Vec<u8>) -> Durable {
        self.queue(line, None)
    }

    /// [`Journal::append`] for the line of an accepted order: once durable,
    /// it is reported to the feed (if any) with `client_order_id` and
    /// `accepted_ms`.
    pub fn append_accepted(
        &self,
        line: Vec<u8>,
        client_order_id: &str,
        accepted_ms: i64,
    ) -> Durable {
        self.queue(line, Some((client_order_id.to_string(), accepted_ms)))
    }

    fn queue(&self, mut line: Vec<u8>, accepted: Option<(String, i64)>) -> Durable {
        line.push(b'\n');
        let (done, rx) = oneshot::channel();
        // A send error drops `done`, which `wait` reports.
        let _ = self.queue.send(Pending {
            line,
            accepted,
            done,
        });
        Durable(rx)
    }
}

/// What the writer needs of the file (a trait so that tests can make it
/// fail).
trait Sink {
    /// Appends `bytes` at the end.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes what was appended durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes, durably.
    fn cut(&mut self, len: u64) -> io::Result<()>;
}

impl Sink for File {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn cut(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.sync_all()
    }
}

/// The journal file as its writer knows it: how much of it is durable, and
/// whether bytes of unknown fate may follow (see the module doc).
struct Tail<S> {
    sink: S,
    /// End of the last batch whose fsync succeeded.
    durable: u64,
    /// A failed write or fsync may have left bytes past `durable`.
    dirty: bool,
}

impl<S: Sink> Tail<S> {
    fn new(sink: S, durable: u64) -> Self {
        Tail {
            sink,
            durable,
            dirty: false,
        }
    }

    /// Writes and fsyncs one batch from the durable end. On error none of
    /// it counts: it is cut off at once, or before the next write.
    fn commit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.repair()?;
        self.dirty = true;
        let written = self.sink.append(bytes).and_then(|()| self.sink.sync());
        match written {
            Ok(()) => {
                self.durable += bytes.len() as u64;
                self.dirty = false;
                Ok(())
            }
            Err(e) => {
                // Cut now, so that refused lines are gone before their
                // requests are answered (if this fails, before the next
                // write).
                if let Err(cut) = self.repair() {
                    tracing::error!("journal: cannot cut back a failed write yet: {cut}");
                }
                Err(e)
            }
        }
    }

    /// Cuts off what a failed write may have left.
    fn repair(&mut self) -> io::Result<()> {
        if self.dirty {
            self.sink.cut(self.durable)?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Whether the journal can take lines again, without writing one: NUL
    /// bytes past the durable end, fsynced, then cut off.
    fn probe(&mut self) -> io::Result<()> {
        self.repair()?;
        self.dirty = true;
        let written = self
            .sink
            .append(&[0; PROBE_BYTES])
            .and_then(|()| self.sink.sync());
        // Cut off whatever it left, failed or not.
        let cut = self.repair();
        written.and(cut)
    }
}

fn write_loop(
    mut tail: Tail<impl Sink>,
    rx: mpsc::Receiver<Pending>,
    metrics: &Metrics,
    health: &Health,
    durable: &AtomicU64,
    feed: Option<AcceptedFeed>,
) {
    let mut batch: Vec<Pending> = Vec::new();
    let mut bytes = Vec::new();
    let mut failing = health.failure().is_some();
    loop {
        let first = if failing {
            match rx.recv_timeout(RETRY_EVERY) {
                Ok(p) => p,
                Err(RecvTimeoutError::Timeout) => {
                    match tail.probe() {
                        Ok(()) => {
                            failing = false;
                            health.set_ok();
                            tracing::info!("journal writable again");
                        }
                        Err(e) => health.set_failing(format!("probe failed: {e}")),
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(p) => p,
                Err(_) => break,
            }
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        bytes.clear();
        for p in &batch {
            bytes.extend_from_slice(&p.line);
        }
        let started = Instant::now();
        let batch_start = tail.durable;
        let result = tail.commit(&bytes).map_err(|e| {
            let e = JournalError::Write(e.to_string());
            tracing::error!("{e}");
            e
        });
        metrics.journal_fsync.observe(started.elapsed());
        if let (Ok(()), Some(feed)) = (&result, &feed) {
            report_accepted(feed, batch_start, &mut batch);
        }
        durable.store(tail.durable, Ordering::Release);
        match &result {
            Ok(()) if failing => {
                failing = false;
                health.set_ok();
                tracing::info!("journal writable again");
            }
            Ok(()) => {}
            Err(e) => {
                failing = true;
                health.set_failing(e);
            }
        }
        for p in batch.drain(..) {
            let _ = p.done.send(result.clone());
        }
    }
    // Stopping: nothing may follow a failed write's bytes.
    if let Err(e) = tail.repair() {
        tracing::error!("journal: a failed write's bytes could not be cut off: {e}");
    }
}

/// Reports the accepted lines of a durable batch that starts at `start`.
fn report_accepted(feed: &AcceptedFeed, mut start: u64, batch: &mut [Pending]) {
    let mut feed = feed.lock().unwrap_or_else(|e| e.into_inner());
    for p in batch {
        if let Some((client_order_id, accepted_ms)) = p.accepted.take() {
            feed.push_back(AcceptedLine {
                start,
                client_order_id,
                accepted_ms,
            });
        }
        start += p.line.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recover_reads_accepted_entries_and_cuts_a_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let accepted = r#"{"received_at":1699113600000,"body":"{}","decision":{"accepted":true,"code":"accepted","strategy":"s","replay_key":"k","accepted_ms":5,"order":{"client_order_id":"c","event_id":"e","symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":"1","price":"2"}}}"#;
        let rejected = r#"{"received_at":1699113600001,"body":"x","decision":{"accepted":false,"code":"invalid_json"}}"#;
        std::fs::write(
            &path,
            format!("{accepted}\n{rejected}\n{{\"received_at\":3,\"bo"),
        )
        .unwrap();
        let entries = recover(&path).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].strategy, "s");
        assert_eq!(entries[0].order.price, Decimal::parse("2"));
        assert_eq!(
            (entries[0].order.side, entries[0].order.order_type),
            (Side::Buy, OrderType::Market)
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("invalid_json\"}}\n"), "{text}");
        // The journal reads as an alert stream.
        let stream = alertgate_simulator::stream::AlertStream::read(&path).unwrap();
        assert_eq!(stream.requests.len(), 2);
        assert!(recover(&dir.path().join("none.jsonl")).unwrap().is_empty());
    }

    #[test]
    fn group_commit_writes_every_line_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let metrics = Arc::new(Metrics::default());
        let (journal, writer) = Journal::open(&path, metrics.clone(), None).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let waits: Vec<_> = (0..100)
                .map(|i| journal.append(format!("{{\"n\":{i}}}").into_bytes()))
                .collect();
            for w in waits {
                w.wait().await.unwrap();
            }
        });
        drop(journal);
        writer.join().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 100);
        assert_eq!(lines[99], "{\"n\":99}");
        // Grouped: fewer fsyncs than lines.
        assert!(metrics.journal_fsync.count() <= 100);
    }

    /// A file in memory that fails on demand: an append fails after
    /// writing its first half, as a short write on a full disk does.
    #[derive(Default)]
    struct Flaky {
        data: Vec<u8>,
        fail_append: bool,
        fail_sync: bool,
        fail_cut: bool,
        appends: usize,
    }

    impl Sink for &mut Flaky {
        fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.appends += 1;
            if self.fail_append {
                self.data.extend_from_slice(&bytes[..bytes.len() / 2]);
                return Err(io::Error::other("no space left"));
            }
            self.data.extend_from_slice(bytes);
            Ok(())
        }

        fn sync(&mut self) -> io::Result<()> {
            if self.fail_sync {
                return Err(io::Error::other("EIO"));
            }
            Ok(())
        }

        fn cut(&mut self, len: u64) -> io::Result<()> {
            if self.fail_cut {
                return Err(io::Error::other("EIO"));
            }
            self.data.truncate(len as usize);
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_cut_off_and_the_next_batch_is_written_from_the_durable_end() {
        let mut f = Flaky::default();
        let mut tail = Tail::new(&mut f, 0);
        tail.commit(b"a\n").unwrap();
        tail.sink.fail_append = true;
        assert!(tail.commit(b"bbbb\n").is_err());
        // Cut at once: the refused line's half is gone before its answer.
        assert_eq!(tail.sink.data, b"a\n");
        tail.sink.fail_append = false;
        tail.commit(b"c\n").unwrap();
        assert_eq!(tail.sink.data, b"a\nc\n");
        assert_eq!(tail.durable, 4);
    }

    #[test]
    fn a_failed_fsync_discards_the_whole_batch_even_if_it_reached_the_page_cache() {
        let mut f = Flaky::default();
        let mut tail = Tail::new(&mut f, 0);
        tail.commit(b"a\n").unwrap();
        tail.sink.fail_sync = true;
        assert!(tail.commit(b"b\n").is_err());
        assert_eq!(tail.sink.data, b"a\n");
        tail.sink.fail_sync = false;
        tail.commit(b"c\n").unwrap();
        assert_eq!(tail.sink.data, b"a\nc\n");
    }

    #[test]
    fn nothing_is_written_until_a_failed_write_is_cut_off() {
        let mut f = Flaky::default();
        let mut tail = Tail::new(&mut f, 0);
        tail.commit(b"a\n").unwrap();
        tail.sink.fail_append = true;
        tail.sink.fail_cut = true;
        assert!(tail.commit(b"bbbb\n").is_err());
        assert_eq!(tail.sink.data, b"a\nbb");
        // The disk takes writes again, but the cut still fails: the next
        // batch is refused without being written behind the torn bytes.
        tail.sink.fail_append = false;
        let appends = tail.sink.appends;
        assert!(tail.commit(b"c\n").is_err());
        assert!(tail.probe().is_err());
        assert_eq!(tail.sink.appends, appends);
        assert_eq!(tail.sink.data, b"a\nbb");
        tail.sink.fail_cut = false;
        tail.commit(b"d\n").unwrap();
        assert_eq!(tail.sink.data, b"a\nd\n");
    }

    /// Runs the writer over `lines` (queued at once, then the queue
    /// closed) on `sink`, from `durable`; returns what the feed got.
    fn feed_after(
        sink: &mut Flaky,
        durable: u64,
        lines: &[(&str, Option<&str>)],
    ) -> Vec<AcceptedLine> {
        let (tx, rx) = mpsc::channel();
        for (line, id) in lines {
            let (done, _) = oneshot::channel();
            tx.send(Pending {
                line: format!("{line}\n").into_bytes(),
                accepted: id.map(|id| (id.to_string(), 7)),
                done,
            })
            .unwrap();
        }
        drop(tx);
        let feed = AcceptedFeed::default();
        let published = AtomicU64::new(durable);
        let tail = Tail::new(sink, durable);
        write_loop(
            tail,
            rx,
            &Metrics::default(),
            &Health::default(),
            &published,
            Some(feed.clone()),
        );
        let lines = feed.lock().unwrap().drain(..).collect();
        lines
    }

    #[test]
    fn accepted_lines_reach_the_feed_with_their_offsets_once_durable() {
        let lines = [("aaa", Some("A")), ("refused", None), ("bb", Some("B"))];
        let mut ok = Flaky::default();
        let fed = feed_after(&mut ok, 10, &lines);
        let starts: Vec<_> = fed
            .iter()
            .map(|l| (l.start, l.client_order_id.as_str()))
            .collect();
        // From the durable end: "aaa\n" at 10, "refused\n" at 14, "bb\n" at 22.
        assert_eq!(starts, [(10, "A"), (22, "B")]);
        assert_eq!(ok.data, b"aaa\nrefused\nbb\n");
        // A batch whose fsync failed was cut off: nothing is reported.
        let mut failing = Flaky {
            fail_sync: true,
            ..Flaky::default()
        };
        assert!(feed_after(&mut failing, 0, &lines).is_empty());
        assert!(failing.data.is_empty());
    }

    #[test]
    fn a_probe_leaves_the_file_as_it_was() {
        let mut f = Flaky::default();
        let mut tail = Tail::new(&mut f, 0);
        tail.commit(b"a\n").unwrap();
        tail.sink.fail_sync = true;
        assert!(tail.probe().is_err());
        assert_eq!(tail.sink.data, b"a\n");
        tail.sink.fail_sync = false;
        tail.probe().unwrap();
        assert_eq!(tail.sink.data, b"a\n");
        assert!(!tail.dirty);
    }

    #[test]
    fn a_real_file_recovers_after_a_failed_group_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let metrics = Arc::new(Metrics::default());
        let (journal, writer) = Journal::open(&path, metrics, None).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            journal.append(b"{\"n\":1}".to_vec()).wait().await.unwrap();
        });
        assert!(journal.health().failure().is_none());
        drop(journal);
        writer.join().unwrap();
        // A read-only handle fails every write (EBADF), then a writable one
        // takes over the same durable length.
        let ro = File::open(&path).unwrap();
        let mut tail = Tail::new(ro, 8);
        assert!(tail.commit(b"{\"n\":2}\n").is_err());
        assert!(tail.probe().is_err());
        tail.sink = OpenOptions::new().append(true).open(&path).unwrap();
        tail.probe().unwrap();
        tail.commit(b"{\"n\":3}\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"n\":1}\n{\"n\":3}\n"
        );
    }
}
