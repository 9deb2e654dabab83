//! The export's times: wall-clock times in the chart's time zone, without
//! an offset, turned into instants.
//!
//! The zone is an IANA name looked up in the time-zone database bundled
//! into the binary (`jiff`'s `tzdb-bundle-always`), never the system's
//! zoneinfo, so an import reads the same on a machine without one (CI
//! containers often have none).
//!
//! A wall-clock time that falls in a spring-forward gap never happened: it
//! is an error. One in a fall-back fold happened twice; the caller resolves
//! it with [`ChartZone::resolve`]'s `not_before`: the earlier instant,
//! unless that is before `not_before`, then the later one.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::ImportError;

/// The chart's time zone.
#[derive(Debug, Clone)]
pub struct ChartZone {
    tz: TimeZone,
    name: String,
}

/// A wall-clock time in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolved {
    /// The instant, Unix ms.
    At(i64),
    /// Skipped by the clocks (a spring-forward gap).
    Skipped,
}

impl ChartZone {
    /// The zone named `name` (`Europe/Berlin`, `America/New_York`, `UTC`).
    ///
    /// ```
    /// use alertgate_simulator::import::ChartZone;
    /// assert_eq!(ChartZone::new("Europe/Berlin").unwrap().name(), "Europe/Berlin");
    /// assert_eq!(ChartZone::new("Mars/Olympus").unwrap_err().code(), "import_unknown_time_zone");
    /// ```
    pub fn new(name: &str) -> Result<ChartZone, ImportError> {
        let tz = TimeZone::get(name).map_err(|_| ImportError::UnknownTimeZone {
            name: name.to_string(),
        })?;
        Ok(ChartZone {
            tz,
            name: name.to_string(),
        })
    }

    /// The name it was made from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instant of wall-clock time `dt`; in a fold, the earlier one unless
    /// it is before `not_before` (Unix ms), then the later one.
    pub(super) fn resolve(&self, dt: DateTime, not_before: Option<i64>) -> Resolved {
        let at =
            |offset: jiff::tz::Offset| offset.to_timestamp(dt).ok().map(|t| t.as_millisecond());
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                at(offset).map_or(Resolved::Skipped, Resolved::At)
            }
            AmbiguousOffset::Gap { .. } => Resolved::Skipped,
            AmbiguousOffset::Fold { before, after } => {
                let (Some(early), Some(late)) = (at(before), at(after)) else {
                    return Resolved::Skipped;
                };
                match not_before {
                    Some(floor) if early < floor => Resolved::At(late),
                    _ => Resolved::At(early),
                }
            }
        }
    }
}

/// Reads `2024-01-05 09:00`, `2024-01-05 09:00:30`, the same with `T`, or a
/// date alone (`2024-01-05`, a daily chart's bar: midnight).
pub(super) fn parse_local(text: &str) -> Option<DateTime> {
    let text = text.trim();
    let (date, time) = match text.get(10..11) {
        None if text.len() == 10 => (text, "00:00"),
        Some(" " | "T") => (&text[..10], &text[11..]),
        _ => return None,
    };
    let date = parse_date(date)?;
    let (h, m, s) = parse_clock(time)?;
    DateTime::new(date.year(), date.month(), date.day(), h, m, s, 0).ok()
}

/// `YYYY-MM-DD`, a real calendar day.
fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&text[0..4])?;
    let m = digits(&text[5..7])?;
    let d = digits(&text[8..10])?;
    Date::new(y, m as i8, d as i8).ok()
}

/// `HH:MM` or `HH:MM:SS`, in range.
fn parse_clock(text: &str) -> Option<(i8, i8, i8)> {
    let b = text.as_bytes();
    let (h, m, s) = match b.len() {
        5 if b[2] == b':' => (&text[0..2], &text[3..5], "00"),
        8 if b[2] == b':' && b[5] == b':' => (&text[0..2], &text[3..5], &text[6..8]),
        _ => return None,
    };
    let (h, m, s) = (digits(h)?, digits(m)?, digits(s)?);
    (h < 24 && m < 60 && s < 60).then_some((h as i8, m as i8, s as i8))
}

/// ASCII digits only (no sign), as a number.
fn digits(text: &str) -> Option<i16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        alertgate_validator::time::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn local_times_read_in_every_written_form() {
        let dt = |t| parse_local(t).map(|d| d.to_string());
        assert_eq!(
            dt("2024-01-05 09:00").as_deref(),
            Some("2024-01-05T09:00:00")
        );
        assert_eq!(
            dt("2024-01-05T09:00:30").as_deref(),
            Some("2024-01-05T09:00:30")
        );
        assert_eq!(dt(" 2024-01-05 ").as_deref(), Some("2024-01-05T00:00:00"));
        for bad in [
            "",
            "2024-02-30 09:00",
            "2024-01-05 24:00",
            "2024-01-05 09:60",
            "2024-1-5 09:00",
            "05.01.2024 09:00",
            "2024-01-05 9:00",
            "2024-01-05 09:00:00Z",
            "+024-01-05 09:00",
            "2024-01-05 09:00:0",
            "2024-01-05é09:00",
        ] {
            assert_eq!(parse_local(bad), None, "{bad}");
        }
    }

    #[test]
    fn gaps_are_skipped_and_folds_take_the_earlier_instant_unless_too_early() {
        let berlin = ChartZone::new("Europe/Berlin").unwrap();
        let at = |t: &str, floor| berlin.resolve(parse_local(t).unwrap(), floor);
        assert_eq!(
            at("2024-01-05 09:00", None),
            Resolved::At(ms("2024-01-05T08:00:00Z"))
        );
        assert_eq!(
            at("2024-07-05 09:00", None),
            Resolved::At(ms("2024-07-05T07:00:00Z"))
        );
        // 2024-03-31: 02:00 → 03:00.
        assert_eq!(at("2024-03-31 02:30", None), Resolved::Skipped);
        // 2024-10-27: 03:00 → 02:00; 02:30 happened at 00:30Z and 01:30Z.
        assert_eq!(
            at("2024-10-27 02:30", None),
            Resolved::At(ms("2024-10-27T00:30:00Z"))
        );
        let floor = Some(ms("2024-10-27T00:45:00Z"));
        assert_eq!(
            at("2024-10-27 02:30", floor),
            Resolved::At(ms("2024-10-27T01:30:00Z"))
        );
        // A floor at the earlier instant itself keeps it.
        let floor = Some(ms("2024-10-27T00:30:00Z"));
        assert_eq!(
            at("2024-10-27 02:30", floor),
            Resolved::At(ms("2024-10-27T00:30:00Z"))
        );
        assert_eq!(
            ChartZone::new("UTC")
                .unwrap()
                .resolve(parse_local("2024-10-27 02:30").unwrap(), None),
            Resolved::At(ms("2024-10-27T02:30:00Z"))
        );
    }
}
