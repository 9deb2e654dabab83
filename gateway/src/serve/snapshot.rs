//! Snapshots: how a restart avoids reading the exchange log and the
//! journal whole.
//!
//! Both logs are append-only and grow without bound; a restart used to
//! replay the whole exchange log (to rebuild the exchange) and read the
//! whole journal (to re-remember replay keys and to find accepted orders
//! never submitted). A snapshot, `<fills>.snapshot` next to the exchange
//! log, holds:
//!
//! - the mock exchange's state ([`super::mock`]): positions, lots, working
//!   orders, brackets, cash, last prices, and the client order ids it must
//!   still answer for;
//! - `log_offset`: the exchange log's length it covers (a batch boundary);
//!   a restart replays only the log's lines past it;
//! - the journal's [`JournalMarks`]: `checkpoint`, a line start before
//!   which every accepted order has been submitted (so a restart looks for
//!   orders to resume only after it), and `replay_from`, a line start
//!   before which every accepted event's replay window had passed when the
//!   snapshot was taken (so a restart re-remembers replay keys only after
//!   it);
//! - the `[simulation]` settings it was computed with, and a few bytes of
//!   each log just before its offset, to check that the snapshot belongs
//!   to these files.
//!
//! # Exactly once across snapshot and tail
//!
//! The checkpoint is advanced by [`Checkpointer`], in the execution stage
//! (which owns the exchange, so no order is submitted meanwhile): it takes
//! the accepted lines the journal's writer reported durable
//! ([`AcceptedFeed`]: offset, client order id, time; never read back from
//! the file), and moves past each whose client order id the exchange has
//! submitted, stopping at the first one it has not (still queued, waiting
//! for the log's disk, or dropped by a failed execution), else at the
//! journal's durable length, which nothing ever cuts back.
//! The exchange then forgets the ids of the lines the checkpoint passed
//! (ids after it are kept), so the snapshot stays small: a restart asks
//! [`super::mock::MockExchange::has_submitted`] only about lines after the
//! checkpoint, which the snapshot's ids and the log's tail answer. An id
//! before the checkpoint is submitted by definition. The replay guard
//! refuses a copy of such an event while it is fresh, as before; past its
//! window an event is a new one to the gate.
//!
//! # On disk
//!
//! One header line, `alertgate-snapshot 1 <length> <sha256 hex>`, then
//! `length` bytes of JSON whose SHA-256 is that. Written to
//! `<snapshot>.tmp`, fsynced, renamed over the snapshot, and the directory
//! fsynced: a crash leaves the previous snapshot or the new one, whole. One
//! that is cut short, corrupt, of another version, of other `[simulation]`
//! settings, or whose logs do not match is ignored (with a warning): the
//! restart then reads both logs whole, as without one. Floats are written
//! in shortest round-trip form and read back exactly (`serde_json`'s
//! `float_roundtrip`), so a state read back is the one written, bit for
//! bit.

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::mock::MockExchange;

/// The format's version, in the header line.
const VERSION: u32 = 1;

/// How many bytes of a log before an offset a snapshot keeps, to check
/// that it describes this file.
const CHECK_BYTES: u64 = 64;

/// Where the journal stood when a snapshot was taken (byte offsets, each
/// the start of a line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalMarks {
    /// Every accepted order whose line starts before this was submitted.
    pub checkpoint: u64,
    /// Every accepted event whose line starts before this was past its
    /// replay window when the snapshot was taken.
    pub replay_from: u64,
}

impl JournalMarks {
    /// Where a restart starts reading the journal.
    pub fn read_from(&self) -> u64 {
        self.checkpoint.min(self.replay_from)
    }
}

/// The snapshot of the log at `fills`: `fills.jsonl.snapshot`.
pub fn path_for(fills: &Path) -> PathBuf {
    let mut name = fills.as_os_str().to_owned();
    name.push(".snapshot");
    PathBuf::from(name)
}

/// Up to [`CHECK_BYTES`] bytes of `path` before `offset`, hex; `None` if
/// the file is shorter than `offset` (or missing, unless `offset` is 0).
pub fn check_bytes(path: &Path, offset: u64) -> io::Result<Option<String>> {
    if offset == 0 {
        return Ok(Some(String::new()));
    }
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() < offset {
        return Ok(None);
    }
    let from = offset.saturating_sub(CHECK_BYTES);
    file.seek(io::SeekFrom::Start(from))?;
    let mut buf = vec![0; (offset - from) as usize];
    file.read_exact(&mut buf)?;
    Ok(Some(hex(&buf)))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Writes `body` as the snapshot at `path`, atomically and durably (see
/// the module doc).
pub fn write(path: &Path, body: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let header = format!(
        "alertgate-snapshot {VERSION} {} {}\n",
        body.len(),
        hex(&Sha256::digest(body))
    );
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(header.as_bytes())?;
        file.write_all(body)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// The body of the snapshot at `path`: `Ok(None)` if there is none, `Err`
/// (a reason to ignore it) if it is not whole.
pub fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header line"))?;
    let header = std::str::from_utf8(&bytes[..end]).map_err(|_| bad("header not UTF-8"))?;
    let mut words = header.split(' ');
    if words.next() != Some("alertgate-snapshot") {
        return Err(bad("not a snapshot"));
    }
    if words.next() != Some(&VERSION.to_string()) {
        return Err(bad("another version"));
    }
    let len: usize = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| bad("no length"))?;
    let digest = words.next().ok_or_else(|| bad("no checksum"))?;
    let body = &bytes[end + 1..];
    if body.len() != len {
        return Err(bad("cut short (length differs)"));
    }
    if hex(&Sha256::digest(body)) != digest {
        return Err(bad("checksum differs"));
    }
    Ok(Some(body.to_vec()))
}

/// What a checkpoint advance found (see [`Checkpointer::advance`]).
#[derive(Debug, Default)]
pub struct Advance {
    /// The marks for the snapshot.
    pub marks: JournalMarks,
    /// Client order ids of the accepted lines the checkpoint moved past:
    /// the exchange may forget them.
    pub passed: Vec<String>,
    /// Client order ids of accepted lines after the new checkpoint: kept,
    /// even if an earlier line had the same id.
    pub after: HashSet<String>,
}

/// One accepted journal line, as the journal's writer reports it once the
/// line is durable (see [`AcceptedFeed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedLine {
    /// Where the line starts in the journal.
    pub start: u64,
    /// Its order's client order id.
    pub client_order_id: String,
    /// When it was accepted, Unix ms.
    pub accepted_ms: i64,
}

/// The accepted lines the journal's writer made durable, in file order,
/// not yet taken by the [`Checkpointer`]. The writer pushes a batch's lines
/// before it publishes the batch's durable length, so a reader that loads
/// that length first and then drains the feed has every accepted line
/// before it.
///
/// Why a feed and not the file: the checkpointer used to read the journal
/// back from its checkpoint and parse each line (~100 k lines, ~85 MB per
/// snapshot under sustained load), pausing execution ~300 ms and taking a
/// core from the requests on a 2-core machine; the writer already knows
/// every line's offset.
pub type AcceptedFeed = Arc<Mutex<VecDeque<AcceptedLine>>>;

/// Advances the journal's checkpoint (see the module doc); kept by the
/// execution stage.
#[derive(Debug)]
pub struct Checkpointer {
    journal: PathBuf,
    checkpoint: u64,
    /// Accepted lines from the checkpoint on, in file order (the first one
    /// is the line the checkpoint is stuck at, if any).
    pending: VecDeque<AcceptedLine>,
    /// Where the journal's writer reports new accepted lines.
    feed: AcceptedFeed,
    /// Accepted lines before the checkpoint that may still be within their
    /// replay window: (line start, accepted at), in file order.
    live: VecDeque<(u64, i64)>,
    /// The longest any gate remembers an event after accepting it, ms
    /// (replay window plus future skew).
    lifetime_ms: i64,
}

impl Checkpointer {
    /// Starts at `checkpoint` with `pending` the accepted lines from it on
    /// (recovery read them) and `live` the accepted lines before it that
    /// may still be within their window; new lines come from `feed`.
    pub fn new(
        journal: PathBuf,
        checkpoint: u64,
        pending: VecDeque<AcceptedLine>,
        live: VecDeque<(u64, i64)>,
        lifetime_ms: i64,
    ) -> Checkpointer {
        Checkpointer {
            journal,
            checkpoint,
            pending,
            feed: AcceptedFeed::default(),
            live,
            lifetime_ms,
        }
    }

    /// The feed the journal's writer must report accepted lines to.
    pub fn feed(&self) -> AcceptedFeed {
        self.feed.clone()
    }

    /// Moves the checkpoint past every accepted line before `durable` (the
    /// journal's durable length, loaded before this call) whose order
    /// `submitted` says was submitted, up to the first that was not, and
    /// otherwise to `durable`. `now` (Unix ms) drops lines whose window has
    /// passed from `replay_from`.
    pub fn advance(&mut self, durable: u64, now: i64, submitted: impl Fn(&str) -> bool) -> Advance {
        let mut advance = Advance::default();
        self.pending.extend(
            self.feed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..),
        );
        while self
            .pending
            .front()
            .is_some_and(|l| l.start < durable && submitted(&l.client_order_id))
        {
            let Some(line) = self.pending.pop_front() else {
                break;
            };
            self.live.push_back((line.start, line.accepted_ms));
            advance.passed.push(line.client_order_id);
        }
        let reached = self
            .pending
            .front()
            .map_or(durable, |l| l.start.min(durable));
        self.checkpoint = self.checkpoint.max(reached);
        advance.after = self
            .pending
            .iter()
            .map(|l| l.client_order_id.clone())
            .collect();
        while let Some(&(_, at)) = self.live.front() {
            if at.saturating_add(self.lifetime_ms) < now {
                self.live.pop_front();
            } else {
                break;
            }
        }
        let replay_from = self
            .live
            .front()
            .map_or(self.checkpoint, |&(start, _)| start);
        advance.marks = JournalMarks {
            checkpoint: self.checkpoint,
            replay_from: replay_from.min(self.checkpoint),
        };
        advance
    }
}

/// When the execution stage takes snapshots, and the one being written.
#[derive(Debug)]
pub struct Snapshots {
    /// `[serve] snapshot_every_orders` (0: not by count).
    every_orders: u64,
    /// `[serve] snapshot_every_s` (`None`: not by time).
    every: Option<Duration>,
    last: Instant,
    checkpointer: Checkpointer,
    /// The journal's durable length ([`super::journal::Journal::durable_len`]).
    journal_durable: Arc<AtomicU64>,
    journal: PathBuf,
    /// The snapshot being written, off the execution task.
    writing: Option<std::thread::JoinHandle<()>>,
}

impl Snapshots {
    /// Snapshots every `every_orders` orders or `every_s` seconds (`None`
    /// if both are 0: never).
    pub fn new(
        every_orders: u64,
        every_s: u64,
        checkpointer: Checkpointer,
        journal_durable: Arc<AtomicU64>,
    ) -> Option<Snapshots> {
        if every_orders == 0 && every_s == 0 {
            return None;
        }
        Some(Snapshots {
            every_orders,
            every: (every_s > 0).then(|| Duration::from_secs(every_s)),
            last: Instant::now(),
            journal: checkpointer.journal.clone(),
            checkpointer,
            journal_durable,
            writing: None,
        })
    }

    /// Whether a snapshot is due now: orders were submitted since the last
    /// one, `every_orders` of them or `every_s` ago.
    pub fn due(&self, exchange: &MockExchange) -> bool {
        let n = exchange.since_snapshot();
        n > 0
            && ((self.every_orders > 0 && n >= self.every_orders)
                || self.every.is_some_and(|e| self.last.elapsed() >= e))
    }

    /// How long until a snapshot is due by time (`None`: nothing to
    /// snapshot, or not by time).
    pub fn due_in(&self, exchange: &MockExchange) -> Option<Duration> {
        let every = self.every?;
        (exchange.since_snapshot() > 0).then(|| every.saturating_sub(self.last.elapsed()))
    }

    /// Advances the journal's checkpoint, compacts the exchange and hands
    /// the snapshot to a thread that writes it (first waiting for the
    /// previous one, if it is still being written: snapshots are written
    /// in order, one at a time). Failures are logged: a snapshot only saves
    /// time at the next start.
    pub fn take(&mut self, exchange: &mut MockExchange, now_ms: i64) {
        self.finish();
        self.last = Instant::now();
        let started = Instant::now();
        let durable = self.journal_durable.load(Ordering::Acquire);
        let advance = self
            .checkpointer
            .advance(durable, now_ms, |id| exchange.has_submitted(id));
        let check = match check_bytes(&self.journal, advance.marks.read_from()) {
            Ok(Some(c)) => c,
            Ok(None) => {
                tracing::warn!("snapshot skipped: the journal is shorter than its checkpoint");
                return;
            }
            Err(e) => {
                tracing::warn!("snapshot skipped: the journal could not be read: {e}");
                return;
            }
        };
        let body = match exchange.snapshot(advance.marks, check, &advance.after) {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("snapshot skipped: {e}");
                return;
            }
        };
        let paused = started.elapsed();
        let path = path_for(exchange.path());
        let marks = advance.marks;
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let started = Instant::now();
                match write(&path, &body) {
                    Ok(()) => tracing::info!(
                        bytes = body.len(),
                        checkpoint = marks.checkpoint,
                        replay_from = marks.replay_from,
                        paused_ms = paused.as_millis() as u64,
                        write_ms = started.elapsed().as_millis() as u64,
                        "snapshot written"
                    ),
                    Err(e) => tracing::warn!(path = %path.display(), "snapshot not written: {e}"),
                }
            });
        match spawned {
            Ok(w) => self.writing = Some(w),
            Err(e) => tracing::warn!("snapshot not written: {e}"),
        }
    }

    /// Waits for the snapshot being written, if any.
    pub fn finish(&mut self) {
        if let Some(w) = self.writing.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_reads_back_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl.snapshot");
        assert!(read(&path).unwrap().is_none());
        write(&path, b"{\"a\":1}").unwrap();
        assert_eq!(read(&path).unwrap().unwrap(), b"{\"a\":1}");
        let whole = std::fs::read(&path).unwrap();
        for cut in [1, 10, whole.len() - 1] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert!(read(&path).is_err(), "cut at {cut}");
        }
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() = b'2';
        std::fs::write(&path, &flipped).unwrap();
        assert!(read(&path).is_err());
        assert!(!dir.path().join("f.jsonl.snapshot.tmp").exists());
    }

    #[test]
    fn check_bytes_name_the_bytes_before_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"abc\ndef\n").unwrap();
        assert_eq!(check_bytes(&path, 4).unwrap().unwrap(), "6162630a");
        assert_eq!(check_bytes(&path, 0).unwrap().unwrap(), "");
        assert_eq!(check_bytes(&path, 9).unwrap(), None);
    }

    fn line(start: u64, id: &str, at: i64) -> AcceptedLine {
        AcceptedLine {
            start,
            client_order_id: id.into(),
            accepted_ms: at,
        }
    }

    #[test]
    fn the_checkpoint_stops_at_the_first_order_not_submitted() {
        // a at 0, a rejection at 100, b at 150, c at 200, d at 300; the
        // journal is durable to 400. a came from recovery, the rest from
        // the writer.
        let mut cp = Checkpointer::new(
            PathBuf::from("j.jsonl"),
            0,
            VecDeque::from([line(0, "a", 1000)]),
            VecDeque::new(),
            1500,
        );
        cp.feed().lock().unwrap().extend([
            line(150, "b", 2000),
            line(200, "c", 3000),
            line(300, "d", 4000),
        ]);
        let submitted = ["a", "b", "d"];
        let a = cp.advance(400, 2600, |id| submitted.contains(&id));
        // Past a, the rejection and b; stuck at c; d is kept.
        assert_eq!(a.marks.checkpoint, 200);
        assert_eq!(a.passed, ["a", "b"]);
        assert_eq!(a.after, HashSet::from(["c".to_string(), "d".to_string()]));
        // a (1000 + 1500 < 2600) is past its window; b is not.
        assert_eq!(a.marks.replay_from, 150);
        // Only up to the durable length; then on; never back.
        let a = cp.advance(300, 10_000, |_| true);
        assert_eq!(a.marks.checkpoint, 300);
        assert_eq!(a.passed, ["c"]);
        assert_eq!(a.marks.replay_from, 300);
        let a = cp.advance(450, 10_000, |_| true);
        assert_eq!((a.marks.checkpoint, a.passed.len()), (450, 1));
        assert!(a.after.is_empty());
        let a = cp.advance(450, 10_000, |_| true);
        assert_eq!(a.marks.checkpoint, 450);
    }

    #[test]
    fn with_nothing_pending_the_checkpoint_follows_the_durable_length() {
        let mut cp = Checkpointer::new(PathBuf::new(), 40, VecDeque::new(), VecDeque::new(), 1);
        assert_eq!(cp.advance(90, 0, |_| false).marks.checkpoint, 90);
        // A line reported past the durable length loaded before: not yet.
        cp.feed().lock().unwrap().push_back(line(120, "x", 0));
        let a = cp.advance(120, 0, |_| true);
        assert_eq!(a.marks.checkpoint, 120);
        assert!(a.passed.is_empty());
        assert_eq!(a.after, HashSet::from(["x".to_string()]));
    }
}
