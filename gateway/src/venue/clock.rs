//! The venue's clock as the gateway knows it: the local clock plus an
//! offset measured from the venue's `time` endpoint at start and every
//! minute. Every signed `timestamp` is on the venue's clock, so a local
//! clock that drifts does not get requests refused (Binance -1021) or,
//! worse, make an expired request look valid when resolving an unknown
//! order.

use std::sync::atomic::{AtomicI64, Ordering};

use super::{Venue, VenueError};

/// How often the offset is measured again.
pub const RESYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The venue clock's offset from the local one, shared by the executor and
/// the task that measures it.
#[derive(Debug, Default)]
pub struct VenueClock {
    offset_ms: AtomicI64,
}

impl VenueClock {
    /// The venue's time when the local clock reads `local_ms`.
    pub fn venue_ms(&self, local_ms: i64) -> i64 {
        local_ms.saturating_add(self.offset_ms.load(Ordering::Acquire))
    }

    /// The current offset, ms (venue minus local).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Acquire)
    }

    /// Sets the offset from one measurement: the venue said `server_ms`
    /// between local readings `before_ms` and `after_ms` (the answer is
    /// taken to be from the middle of the round trip).
    pub fn set_from(&self, before_ms: i64, server_ms: i64, after_ms: i64) -> i64 {
        let middle = before_ms.saturating_add(after_ms.saturating_sub(before_ms) / 2);
        // Saturating: `server_ms` is the venue's number, read as it came.
        let offset = server_ms.saturating_sub(middle);
        self.offset_ms.store(offset, Ordering::Release);
        offset
    }
}

/// Measures the offset once against `venue`, reading the local clock with
/// `local_ms`; returns it.
pub async fn sync<V: Venue>(
    venue: &V,
    clock: &VenueClock,
    local_ms: impl Fn() -> i64,
) -> Result<i64, VenueError> {
    let before = local_ms();
    let server = venue.server_time().await?;
    let after = local_ms();
    Ok(clock.set_from(before, server, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_taken_from_the_middle_of_the_round_trip() {
        let clock = VenueClock::default();
        assert_eq!(clock.venue_ms(1_000), 1_000);
        // Asked at 1000, answered at 1100 (local); the venue said 2050.
        assert_eq!(clock.set_from(1_000, 2_050, 1_100), 1_000);
        assert_eq!(clock.venue_ms(5_000), 6_000);
        // A venue behind the local clock.
        assert_eq!(clock.set_from(10_000, 9_000, 10_000), -1_000);
        assert_eq!(clock.venue_ms(10_000), 9_000);
    }

    #[test]
    fn an_absurd_server_time_is_no_panic() {
        let clock = VenueClock::default();
        // `{"serverTime":-9223372036854775808}` read as it came.
        assert_eq!(clock.set_from(1_000, i64::MIN, 1_100), i64::MIN);
        assert_eq!(clock.set_from(-1_000, i64::MAX, -900), i64::MAX);
        assert_eq!(clock.venue_ms(5), i64::MAX);
    }
}
