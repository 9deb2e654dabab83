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

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use alertgate_validator::{Decimal, OrderType, Side};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::jsonl;
use super::metrics::Metrics;

/// Most lines written by one group commit.
const MAX_BATCH: usize = 4096;

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
    /// Client order id, derived from the strategy and the event id.
    pub client_order_id: String,
    /// The alert's event id.
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
}

#[derive(Deserialize)]
struct Line {
    decision: Option<serde_json::Value>,
}

/// Reads the accepted entries of an existing journal, in file order, and
/// cuts off a trailing partial line. A missing file is an empty journal.
pub fn recover(path: &Path) -> io::Result<Vec<AcceptedEntry>> {
    let mut entries = Vec::new();
    let read = jsonl::read_complete_lines(path, |number, bytes| {
        let line: Line =
            serde_json::from_slice(bytes).map_err(|e| jsonl::invalid(path, number, e))?;
        let Some(v) = line.decision else {
            return Ok(());
        };
        if v.get("accepted") == Some(&serde_json::Value::Bool(true)) {
            let entry: AcceptedEntry = serde_json::from_value(v)
                .map_err(|e| jsonl::invalid(path, number, format!("decision: {e}")))?;
            entries.push(entry);
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

/// Why a journal line is not durable: the request it records must be
/// refused (`journal_unavailable`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// Writing or fsyncing failed (the text of the I/O error). After one
    /// failure every later line is refused too: the file's tail is unknown.
    #[error("journal write failed: {0}")]
    Write(String),
    /// The writer thread is gone.
    #[error("journal writer stopped")]
    WriterStopped,
}

struct Pending {
    line: Vec<u8>,
    done: oneshot::Sender<Result<(), JournalError>>,
}

/// The journal's handle: queue lines, await their fsync.
#[derive(Clone)]
pub struct Journal {
    queue: mpsc::UnboundedSender<Pending>,
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
    pub fn open(
        path: &Path,
        metrics: Arc<Metrics>,
    ) -> io::Result<(Journal, std::thread::JoinHandle<()>)> {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.seek(io::SeekFrom::End(0))?;
        let (queue, rx) = mpsc::unbounded_channel();
        let writer = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_loop(file, rx, &metrics))?;
        Ok((Journal { queue }, writer))
    }

    /// Queues one line (without its newline). Lines reach the file in the
    /// order `append` is called.
    pub fn append(&self, mut line: Vec<u8>) -> Durable {
        line.push(b'\n');
        let (done, rx) = oneshot::channel();
        // A send error drops `done`, which `wait` reports.
        let _ = self.queue.send(Pending { line, done });
        Durable(rx)
    }
}

fn write_loop(mut file: File, mut rx: mpsc::UnboundedReceiver<Pending>, metrics: &Metrics) {
    let mut batch: Vec<Pending> = Vec::new();
    let mut bytes = Vec::new();
    let mut failed: Option<JournalError> = None;
    while let Some(first) = rx.blocking_recv() {
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
        // After one failed write the file's tail is unknown: refuse the
        // rest rather than acknowledge lines behind a hole.
        let result = match &failed {
            Some(e) => Err(e.clone()),
            None => {
                let started = Instant::now();
                let r = file.write_all(&bytes).and_then(|()| file.sync_data());
                metrics.journal_fsync.observe(started.elapsed());
                r.map_err(|e| {
                    let e = JournalError::Write(e.to_string());
                    tracing::error!("{e}");
                    failed = Some(e.clone());
                    e
                })
            }
        };
        for p in batch.drain(..) {
            let _ = p.done.send(result.clone());
        }
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
        let (journal, writer) = Journal::open(&path, metrics.clone()).unwrap();
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
}
