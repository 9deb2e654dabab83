//! The events a strategy's gate remembers, with the order each became, so
//! a `409 replayed` answer can tell a sender that lost the first answer
//! which order its event is and when it was accepted.
//!
//! The gate reports a replay by a [`snippet`] of the replay key (at most
//! 45 bytes of it, escaped), not the key itself: the index is kept by that
//! snippet. Every key the gate remembers is in the index (entries are
//! added and dropped in step with the gate, under its lock), so a snippet
//! that names one live entry names the replayed event; when two live keys
//! share a truncated snippet, the answer leaves the order out rather than
//! guess.
//!
//! Snippets and keys are held as 64-bit hashes, randomly seeded per
//! process: a bucket shared by two snippets names no order (as a shared
//! snippet does), and two live keys with one snippet and one fingerprint
//! (odds about 2^-64) would be taken for one event.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};

use alertgate_validator::error::snippet;

/// The order an accepted event became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    /// Its client order id.
    pub order_id: String,
    /// When it was accepted, Unix ms (unknown when another replica
    /// accepted it and did not say).
    pub accepted_ms: Option<i64>,
    /// Its acceptance waits for something that may still refuse it (its
    /// shared claim, its sizing by the venue's stage), then for its
    /// journal line: a duplicate meanwhile is told to retry, not that the
    /// event was accepted.
    pub pending: bool,
}

/// One remembered event. No allocation besides the order id: at tens of
/// thousands of accepted alerts a second the index holds millions of
/// entries (one per live event), so each byte counts: 206 bytes per entry
/// measured (RSS over 2 M inserts, release build, system allocator),
/// against 586 when entries held their keys as strings.
#[derive(Debug)]
struct Entry {
    /// Fingerprint of the full replay key: tells apart keys whose snippets
    /// are the same truncation.
    key: u64,
    order_id: Box<str>,
    accepted_ms: Option<i64>,
    /// See [`Original::pending`].
    pending: bool,
    /// Last instant the gate remembers the key, Unix ms.
    until_ms: i64,
}

impl Entry {
    fn original(&self) -> Original {
        Original {
            order_id: self.order_id.to_string(),
            accepted_ms: self.accepted_ms,
            pending: self.pending,
        }
    }
}

/// Shards of the index: growing one rehashes 1/64 of the entries, so no
/// insert (made under the gate's lock, while requests wait) stalls for
/// the whole index. One map of 2 million entries stalled for hundreds of
/// ms when it doubled (p99 382 ms in `benches/gateway-sustained.sh`).
const SHARDS: usize = 64;

/// Expired entries dropped per insert, at most: expiry is spread over
/// inserts (never a sweep of the whole index) and outpaces them.
const EXPIRE_PER_INSERT: usize = 4;

/// Entries by the hash of their snippet. Two snippets with one hash share
/// a bucket, which then names no order (as two keys with one snippet do):
/// a collision can only leave an order out, never name the wrong one.
type Shard = HashMap<u64, Vec<Entry>>;

/// The live accepted events of one strategy, by the snippet of their replay
/// key.
#[derive(Debug)]
pub struct AcceptedIndex {
    shards: Vec<Shard>,
    /// Hashes snippets (buckets) and, seeded apart, whole keys
    /// (fingerprints): randomly seeded, so no sender can aim at either.
    snippets: RandomState,
    keys: RandomState,
    /// `(until_ms, snippet hash, key fingerprint)` in insertion order:
    /// expiry's queue. An entry's lifetime barely depends on its arrival,
    /// so the queue is nearly sorted; one behind a longer-lived one waits
    /// for it.
    expiry: VecDeque<(i64, u64, u64)>,
    entries: usize,
}

impl Default for AcceptedIndex {
    fn default() -> Self {
        AcceptedIndex {
            shards: (0..SHARDS).map(|_| Shard::new()).collect(),
            snippets: RandomState::new(),
            keys: RandomState::new(),
            expiry: VecDeque::new(),
            entries: 0,
        }
    }
}

impl AcceptedIndex {
    /// Records that `replay_key` became `original` and is remembered until
    /// `until_ms` inclusive.
    pub fn insert(&mut self, replay_key: &str, original: Original, until_ms: i64, now_ms: i64) {
        self.expire(now_ms, EXPIRE_PER_INSERT);
        let (bucket, key) = self.locate(replay_key);
        let entry = Entry {
            key,
            order_id: original.order_id.into_boxed_str(),
            accepted_ms: original.accepted_ms,
            pending: original.pending,
            until_ms,
        };
        let shard = &mut self.shards[shard_of(bucket)];
        match shard.get_mut(&bucket) {
            Some(entries) => {
                let before = entries.len();
                entries.retain(|e| e.until_ms >= now_ms && e.key != key);
                entries.push(entry);
                self.entries = self.entries + entries.len() - before;
            }
            None => {
                // Exactly one slot: `Vec::push` on an empty vector would
                // reserve four.
                shard.insert(bucket, vec![entry]);
                self.entries += 1;
            }
        }
        self.expiry.push_back((until_ms, bucket, key));
    }

    /// The original order of the live event the gate reported as
    /// `replayed` under `snippet`, if exactly one live event has it.
    pub fn find(&self, snippet: &str, now_ms: i64) -> Option<Original> {
        let bucket = self.snippets.hash_one(snippet);
        let mut live = self.shards[shard_of(bucket)]
            .get(&bucket)?
            .iter()
            .filter(|e| e.until_ms >= now_ms);
        match (live.next(), live.next()) {
            (Some(one), None) => Some(one.original()),
            _ => None,
        }
    }

    /// Sets when `replay_key` was accepted (another replica accepted it
    /// first, at `accepted_ms` if it said): recorded there.
    pub fn set_accepted_ms(&mut self, replay_key: &str, accepted_ms: Option<i64>) {
        self.update(replay_key, |e| {
            e.accepted_ms = accepted_ms;
            e.pending = false;
        });
    }

    /// `replay_key`'s acceptance is recorded (durable): a duplicate is a
    /// replay from now on.
    pub fn settle(&mut self, replay_key: &str) {
        self.update(replay_key, |e| e.pending = false);
    }

    fn update(&mut self, replay_key: &str, change: impl Fn(&mut Entry)) {
        let (bucket, key) = self.locate(replay_key);
        let entries = self.shards[shard_of(bucket)].get_mut(&bucket);
        for e in entries.into_iter().flatten() {
            if e.key == key {
                change(e);
            }
        }
    }

    /// Drops `replay_key` (the gate forgot it).
    pub fn remove(&mut self, replay_key: &str) {
        let (bucket, key) = self.locate(replay_key);
        self.drop_entry(bucket, key, |_| true);
    }

    /// Live and not yet expired entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// `replay_key`'s bucket (the hash of its snippet, as the gate reports
    /// a replay) and fingerprint.
    fn locate(&self, replay_key: &str) -> (u64, u64) {
        let name = snippet(replay_key.as_bytes());
        (
            self.snippets.hash_one(name.as_str()),
            self.keys.hash_one(replay_key),
        )
    }

    /// Drops up to `limit` entries expired at `now_ms`, oldest first.
    fn expire(&mut self, now_ms: i64, limit: usize) {
        for _ in 0..limit {
            match self.expiry.front() {
                Some(&(until, bucket, key)) if until < now_ms => {
                    self.expiry.pop_front();
                    // A key inserted again since lives on in its new entry.
                    self.drop_entry(bucket, key, |e| e.until_ms < now_ms);
                }
                _ => return,
            }
        }
    }

    /// Drops the entry `key` of `bucket` if `which` holds for it.
    fn drop_entry(&mut self, bucket: u64, key: u64, which: impl Fn(&Entry) -> bool) {
        let shard = &mut self.shards[shard_of(bucket)];
        if let Some(entries) = shard.get_mut(&bucket) {
            let before = entries.len();
            entries.retain(|e| e.key != key || !which(e));
            self.entries -= before - entries.len();
            if entries.is_empty() {
                shard.remove(&bucket);
            }
        }
    }
}

fn shard_of(bucket: u64) -> usize {
    (bucket % SHARDS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original(id: &str, at: i64) -> Original {
        Original {
            pending: false,
            order_id: id.into(),
            accepted_ms: Some(at),
        }
    }

    #[test]
    fn an_acceptance_is_pending_until_settled() {
        let mut index = AcceptedIndex::default();
        let first = Original {
            pending: true,
            ..original("ag1", 1_000)
        };
        index.insert("evt-1", first, 10_000, 1_000);
        let name = snippet(b"evt-1");
        assert!(index.find(name.as_str(), 1_001).unwrap().pending);
        index.settle("evt-1");
        let found = index.find(name.as_str(), 1_002).unwrap();
        assert_eq!(found, original("ag1", 1_000));
        // Accepted by another replica: recorded there.
        let second = Original {
            pending: true,
            ..original("ag2", 1_000)
        };
        index.insert("evt-2", second, 10_000, 1_000);
        index.set_accepted_ms("evt-2", Some(900));
        let name = snippet(b"evt-2");
        let found = index.find(name.as_str(), 1_001).unwrap();
        assert_eq!((found.pending, found.accepted_ms), (false, Some(900)));
    }

    #[test]
    fn finds_the_live_event_by_its_snippet() {
        let mut index = AcceptedIndex::default();
        index.insert("e-1", original("ag-1", 10), 100, 10);
        assert_eq!(index.find("e-1", 100), Some(original("ag-1", 10)));
        assert_eq!(index.find("e-1", 101), None, "expired");
        assert_eq!(index.find("e-2", 50), None);
        index.set_accepted_ms("e-1", None);
        assert_eq!(index.find("e-1", 50).unwrap().accepted_ms, None);
        index.remove("e-1");
        assert_eq!(index.find("e-1", 50), None);
        assert!(index.is_empty());
    }

    #[test]
    fn a_shared_truncated_snippet_names_no_order() {
        let long = "x".repeat(60);
        let (a, b) = (format!("{long}a"), format!("{long}b"));
        let name = snippet(a.as_bytes());
        assert_eq!(name, snippet(b.as_bytes()), "both truncated alike");
        let mut index = AcceptedIndex::default();
        index.insert(&a, original("ag-a", 1), 100, 1);
        assert_eq!(index.find(&name, 2).unwrap().order_id, "ag-a");
        index.insert(&b, original("ag-b", 2), 100, 2);
        assert_eq!(index.find(&name, 3), None, "ambiguous: no guess");
    }

    #[test]
    fn expired_entries_are_dropped_as_new_ones_arrive() {
        let mut index = AcceptedIndex::default();
        for i in 0..10_000i64 {
            // Each lives 100 ms; one arrives per ms.
            index.insert(&format!("e-{i}"), original("o", i), i + 100, i);
        }
        // 101 live at any time; expiry keeps up, never sweeping the whole.
        assert!(index.len() <= 101, "{}", index.len());
        assert_eq!(index.expiry.len(), index.len());
        assert_eq!(
            index.find("e-9999", 9_999).unwrap().accepted_ms,
            Some(9_999)
        );
    }

    #[test]
    fn an_event_remembered_again_outlives_its_first_expiry() {
        let mut index = AcceptedIndex::default();
        index.insert("e-1", original("ag-1", 0), 10, 0);
        // Remembered again (recovery, or a withdrawn then re-accepted event).
        index.insert("e-1", original("ag-1", 5), 500, 5);
        for i in 0..100i64 {
            index.insert(&format!("x-{i}"), original("o", 20 + i), 1_000, 20 + i);
        }
        assert_eq!(index.find("e-1", 200).unwrap().accepted_ms, Some(5));
        assert_eq!(index.len(), 101);
    }
}
