//! The wall clock: the only place the live path reads the time. Everything
//! below it takes the time as a parameter.

/// The wall clock, Unix ms (0 before 1970, saturating far in the future).
pub fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
