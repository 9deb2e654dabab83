//! Time columns: Unix seconds, milliseconds or microseconds, decided per
//! column, or RFC 3339 / ISO 8601 with a UTC offset.
//!
//! The unit of an integer time is read from its magnitude with the
//! validator's rule ([`SECONDS_BELOW`]: below 10^11 is seconds) extended by
//! one step: from 10^11 to below 10^14 is milliseconds, from 10^14 on
//! microseconds (each unit then covers 1970 to the year 5138). Every integer
//! of a column must be in the same unit: a file whose times switch units is
//! refused at the first row that does, never read row by row. Text times
//! (RFC 3339) carry their own unit and may sit among integers.

use alertgate_validator::time::{parse_rfc3339, MAX_MS, SECONDS_BELOW};

use crate::input::snippet;

/// Integer times from here on are microseconds (10^14 µs is 1973; 10^14 ms
/// would be the year 5138).
pub const MICROS_FROM: i64 = 100_000_000_000_000;

/// The unit of an integer time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Below 10^11.
    Seconds,
    /// From 10^11 to below 10^14.
    Millis,
    /// From 10^14 on.
    Micros,
}

impl TimeUnit {
    /// The unit an integer time of this magnitude is in.
    pub fn of(value: i64) -> TimeUnit {
        if value < SECONDS_BELOW {
            TimeUnit::Seconds
        } else if value < MICROS_FROM {
            TimeUnit::Millis
        } else {
            TimeUnit::Micros
        }
    }

    /// `value`, in this unit, as Unix ms (µs rounded down).
    pub(super) fn to_ms(self, value: i64) -> Option<i64> {
        let ms = match self {
            TimeUnit::Seconds => value.checked_mul(1000)?,
            TimeUnit::Millis => value,
            TimeUnit::Micros => value / 1000,
        };
        (0..=MAX_MS).contains(&ms).then_some(ms)
    }

    fn name(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "Unix seconds",
            TimeUnit::Millis => "Unix milliseconds",
            TimeUnit::Micros => "Unix microseconds",
        }
    }
}

/// One time column being read: the unit its first integer set, and where.
#[derive(Debug, Default)]
pub struct TimeColumn {
    unit: Option<(TimeUnit, u64)>,
}

impl TimeColumn {
    /// The unit the column's integers are in, once one has been read.
    pub fn unit(&self) -> Option<TimeUnit> {
        self.unit.map(|(unit, _)| unit)
    }

    /// Reads `text`, found at `line`, as Unix ms; the error says what was
    /// wrong (the caller names the file, line and field).
    pub fn read(&mut self, text: &str, line: u64) -> Result<i64, String> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return parse_rfc3339(text).ok_or_else(|| {
                format!(
                    "{:?} is neither a Unix time (seconds, ms or µs) nor RFC 3339 \
                     (2019-08-27T09:56:00Z or 2019-08-27T11:56:00+02:00)",
                    snippet(text)
                )
            });
        }
        let value: i64 = text
            .parse()
            .map_err(|_| format!("{:?} is too large for a Unix time", snippet(text)))?;
        let unit = TimeUnit::of(value);
        match self.unit {
            None => self.unit = Some((unit, line)),
            Some((first, first_line)) if first != unit => {
                return Err(format!(
                    "{value} is in {} but line {first_line} is in {}; \
                     a column's times must all be in one unit",
                    unit.name(),
                    first.name()
                ));
            }
            Some(_) => {}
        }
        unit.to_ms(value)
            .ok_or_else(|| format!("{value} ({}) is after the year 9999", unit.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_by_magnitude() {
        assert_eq!(TimeUnit::of(0), TimeUnit::Seconds);
        assert_eq!(TimeUnit::of(SECONDS_BELOW - 1), TimeUnit::Seconds);
        assert_eq!(TimeUnit::of(SECONDS_BELOW), TimeUnit::Millis);
        assert_eq!(TimeUnit::of(MICROS_FROM - 1), TimeUnit::Millis);
        assert_eq!(TimeUnit::of(MICROS_FROM), TimeUnit::Micros);
    }

    #[test]
    fn a_column_keeps_one_unit() {
        let mut c = TimeColumn::default();
        assert_eq!(c.read("1704067200", 2), Ok(1_704_067_200_000));
        assert_eq!(
            c.read("2024-01-01T01:00:00+01:00", 3),
            Ok(1_704_067_200_000)
        );
        assert_eq!(c.read("1704067260", 4), Ok(1_704_067_260_000));
        assert_eq!(c.unit(), Some(TimeUnit::Seconds));
        let e = c.read("1704067320000", 5).unwrap_err();
        assert!(
            e.contains("Unix milliseconds but line 2 is in Unix seconds"),
            "{e}"
        );

        let mut c = TimeColumn::default();
        assert_eq!(c.read("1735689600123456", 2), Ok(1_735_689_600_123));
        assert!(c.read("1735689600123", 3).is_err());
        assert!(TimeColumn::default()
            .read("9".repeat(30).as_str(), 2)
            .is_err());
        assert!(TimeColumn::default().read("99999999999999999", 2).is_ok());
        assert!(TimeColumn::default().read("999999999999999999", 2).is_err());
        assert!(TimeColumn::default().read("", 2).is_err());
        assert!(TimeColumn::default().read("-5", 2).is_err());
        assert!(TimeColumn::default()
            .read("2024-01-01 00:00:00", 2)
            .is_err());
    }
}
