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

use std::collections::HashMap;

use alertgate_validator::error::snippet;

/// The order an accepted event became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    /// Its client order id.
    pub order_id: String,
    /// When it was accepted, Unix ms (unknown when another replica
    /// accepted it and did not say).
    pub accepted_ms: Option<i64>,
}

#[derive(Debug)]
struct Entry {
    replay_key: String,
    original: Original,
    /// Last instant the gate remembers the key, Unix ms.
    until_ms: i64,
}

/// The live accepted events of one strategy, by the snippet of their replay
/// key.
#[derive(Debug, Default)]
pub struct AcceptedIndex {
    by_snippet: HashMap<String, Vec<Entry>>,
    entries: usize,
    /// `entries` after the last sweep: the next sweep comes when the index
    /// has doubled, so sweeping costs O(1) per insert.
    swept_at: usize,
}

impl AcceptedIndex {
    /// Records that `replay_key` became `original` and is remembered until
    /// `until_ms` inclusive.
    pub fn insert(&mut self, replay_key: &str, original: Original, until_ms: i64, now_ms: i64) {
        if self.entries >= 2 * self.swept_at.max(1024) {
            self.sweep(now_ms);
        }
        let bucket = self
            .by_snippet
            .entry(snippet(replay_key.as_bytes()).as_str().to_string())
            .or_default();
        let before = bucket.len();
        bucket.retain(|e| e.until_ms >= now_ms && e.replay_key != replay_key);
        bucket.push(Entry {
            replay_key: replay_key.to_string(),
            original,
            until_ms,
        });
        self.entries = self.entries + bucket.len() - before;
    }

    /// The original order of the live event the gate reported as
    /// `replayed` under `snippet`, if exactly one live event has it.
    pub fn find(&self, snippet: &str, now_ms: i64) -> Option<Original> {
        let mut live = self
            .by_snippet
            .get(snippet)?
            .iter()
            .filter(|e| e.until_ms >= now_ms);
        match (live.next(), live.next()) {
            (Some(one), None) => Some(one.original.clone()),
            _ => None,
        }
    }

    /// Sets when `replay_key` was accepted (another replica accepted it
    /// first, at `accepted_ms` if it said).
    pub fn set_accepted_ms(&mut self, replay_key: &str, accepted_ms: Option<i64>) {
        let name = snippet(replay_key.as_bytes());
        let bucket = self.by_snippet.get_mut(name.as_str());
        for e in bucket.into_iter().flatten() {
            if e.replay_key == replay_key {
                e.original.accepted_ms = accepted_ms;
            }
        }
    }

    /// Drops `replay_key` (the gate forgot it).
    pub fn remove(&mut self, replay_key: &str) {
        let name = snippet(replay_key.as_bytes());
        if let Some(bucket) = self.by_snippet.get_mut(name.as_str()) {
            let before = bucket.len();
            bucket.retain(|e| e.replay_key != replay_key);
            self.entries -= before - bucket.len();
            if bucket.is_empty() {
                self.by_snippet.remove(name.as_str());
            }
        }
    }

    /// Live and not yet swept entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    fn sweep(&mut self, now_ms: i64) {
        self.by_snippet.retain(|_, bucket| {
            bucket.retain(|e| e.until_ms >= now_ms);
            !bucket.is_empty()
        });
        self.entries = self.by_snippet.values().map(Vec::len).sum();
        self.swept_at = self.entries;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original(id: &str, at: i64) -> Original {
        Original {
            order_id: id.into(),
            accepted_ms: Some(at),
        }
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
    fn expired_entries_are_swept_as_the_index_grows() {
        let mut index = AcceptedIndex::default();
        for i in 0..10_000i64 {
            // Each lives 100 ms; one arrives per ms.
            index.insert(&format!("e-{i}"), original("o", i), i + 100, i);
        }
        assert!(index.len() <= 2 * 1024 + 101, "{}", index.len());
        assert_eq!(
            index.find("e-9999", 9_999).unwrap().accepted_ms,
            Some(9_999)
        );
    }
}
