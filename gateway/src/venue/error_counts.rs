//! Every error a venue call ends with, counted and logged once, where the
//! call is made: by each venue's client ([`crate::venue::BinanceVenue`],
//! [`crate::venue::PaperVenue`]), which alone sees every call (submits,
//! queries, cancels, account, mark, rules and time reads; from the stage,
//! reconciliation and following alike). The stage above only counts its
//! own refusals, so one answer is never counted twice. `/metrics` reads
//! the counts (`alertgate_venue_errors_total`).
//!
//! A call is counted once however many requests it took: a USDⓈ-M query
//! whose `GET order` finds nothing and whose `GET algoOrder` finds the
//! order is one successful call, not an error.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::VenueError;

/// One venue's failed calls, by stable `venue_*` code.
#[derive(Debug)]
pub struct ErrorCounts {
    venue: &'static str,
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl ErrorCounts {
    /// No errors yet, of `venue` (its name).
    pub fn new(venue: &'static str) -> ErrorCounts {
        ErrorCounts {
            venue,
            counts: Mutex::default(),
        }
    }

    /// The venue's name.
    pub fn venue(&self) -> &'static str {
        self.venue
    }

    /// Counts and logs `result` of a call to `endpoint` (`POST order`,
    /// `submit`, …) if it is an error; returns it unchanged. The log line
    /// holds the error's message, which never holds a key, a secret or a
    /// signature ([`VenueError`]).
    pub fn note<T>(&self, endpoint: &str, result: Result<T, VenueError>) -> Result<T, VenueError> {
        if let Err(e) = &result {
            let code = e.code();
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            *counts.entry(code).or_default() += 1;
            drop(counts);
            tracing::warn!(venue = self.venue, endpoint, code, "venue call failed: {e}");
        }
        result
    }

    /// The counts so far, by code.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_by_code_and_successes_not() {
        let counts = ErrorCounts::new("v");
        let limited = || VenueError::RateLimited {
            venue: "v",
            retry_after_ms: 5,
        };
        assert_eq!(counts.note("GET account", Ok::<_, VenueError>(1)), Ok(1));
        assert!(counts.note::<()>("POST order", Err(limited())).is_err());
        assert!(counts.note::<()>("GET account", Err(limited())).is_err());
        let unknown = VenueError::Unknown {
            venue: "v",
            reason: "timed out".into(),
        };
        assert_eq!(
            counts.note::<()>("POST order", Err(unknown.clone())),
            Err(unknown)
        );
        assert_eq!(
            counts.counts(),
            [("venue_outcome_unknown", 1), ("venue_rate_limited", 2)]
        );
        assert_eq!(counts.venue(), "v");
    }
}
