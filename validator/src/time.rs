//! Alert timestamps to Unix milliseconds, and back to RFC 3339 text.
//!
//! TradingView renders `{{time}}` and `{{timenow}}` as RFC 3339 UTC
//! (`2019-08-27T09:56:00Z`); other senders put a Unix time in seconds or
//! milliseconds, as a JSON number or a numeric string. [`parse_timestamp`]
//! accepts all of these and returns Unix milliseconds.
//!
//! Calendar arithmetic is done by hand with Howard Hinnant's
//! `days_from_civil` / `civil_from_days` algorithms: a few integer divisions,
//! no tables, no time-zone database, no floating point, and exact for every
//! proleptic Gregorian date. Every parser returns a value in
//! `0..=`[`MAX_MS`] (1970-01-01 to 9999-12-31, the range RFC 3339's four-digit
//! year can express), so callers can add windows and subtract clocks without
//! overflow worries.

use core::fmt;

/// Milliseconds per day.
const MS_PER_DAY: i64 = 86_400_000;

/// Largest timestamp any parser returns: `9999-12-31T23:59:59.999Z`.
pub const MAX_MS: i64 = 253_402_300_799_999;

/// Integers below this are Unix seconds, from it on Unix milliseconds.
///
/// 10^11 s is the year 5138; 10^11 ms is 1973-03-03. No alert in seconds
/// reaches the former and none in milliseconds predates the latter.
pub const SECONDS_BELOW: i64 = 100_000_000_000;

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d`
/// (`y` 1..=9999, `m` 1..=12, `d` 1..=31), the years an RFC 3339 date can
/// have.
///
/// Unsigned 32-bit arithmetic throughout: divisions by constants then
/// compile to multiplies, where 64-bit ones would call a 64-bit division
/// routine on 32-bit targets.
const fn days_from_civil(y: u32, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400; // [0, 399]
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    (era * 146_097 + doe) as i64 - 719_468
}

/// Inverse of [`days_from_civil`]: `(year, month, day)`. Exact for every
/// `i64` day count that comes from an `i64` millisecond count.
const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = (if z >= 0 { z } else { z - 146_096 }) / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const fn is_leap(y: u32) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

const fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses a non-negative decimal integer: Unix seconds below
/// [`SECONDS_BELOW`], Unix milliseconds from it on.
///
/// Accepts the text of a JSON integer or a numeric string: ASCII digits only
/// (leading zeros allowed). A sign, a fraction, an exponent, spaces, or a
/// result above [`MAX_MS`] give `None`.
///
/// ```
/// use alertgate_validator::time::from_integer_text;
/// assert_eq!(from_integer_text("1699113600"), Some(1_699_113_600_000)); // seconds
/// assert_eq!(from_integer_text("1699113600000"), Some(1_699_113_600_000)); // ms
/// assert_eq!(from_integer_text("-1"), None);
/// assert_eq!(from_integer_text("1.5"), None);
/// assert_eq!(from_integer_text("99999999999999999999999"), None);
/// ```
pub fn from_integer_text(text: &str) -> Option<i64> {
    from_integer_bytes(text.as_bytes())
}

/// [`from_integer_text`] on bytes.
pub(crate) fn from_integer_bytes(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        // v <= MAX_MS < 10^15 before this step, so this stays far below
        // i64::MAX: plain arithmetic (64-bit overflow checks are long
        // sequences on a 32-bit MCU).
        v = v * 10 + i64::from(b - b'0');
        if v > MAX_MS {
            return None;
        }
    }
    if v < SECONDS_BELOW {
        // At most (10^11 - 1) * 1000 < MAX_MS.
        Some(v * 1000)
    } else {
        Some(v)
    }
}

/// `⌊ms / 1000⌋`: Unix milliseconds to Unix seconds, rounding towards
/// minus infinity like `ms.div_euclid(1000)`.
///
/// Long division over 16-bit limbs, each step a 32-bit division by the
/// constant 1000 (a multiply): `i64::div_euclid` would link a 64-bit
/// division routine (about 1 KiB) on 32-bit targets.
///
/// ```
/// use alertgate_validator::time::floor_seconds;
/// assert_eq!(floor_seconds(1_699_113_600_999), 1_699_113_600);
/// assert_eq!(floor_seconds(-1), -1);
/// assert_eq!(floor_seconds(i64::MIN), i64::MIN.div_euclid(1000));
/// ```
pub const fn floor_seconds(ms: i64) -> i64 {
    const fn div_1000(n: u64) -> u64 {
        let mut words = [(n >> 32) as u32, n as u32];
        let mut r: u32 = 0;
        let mut i = 0;
        while i < 2 {
            let w = words[i];
            // r < 1000, so each step stays below 1000 · 2^16 < 2^32.
            let high = (r << 16) | (w >> 16);
            r = high % 1000;
            let low = (r << 16) | (w & 0xffff);
            r = low % 1000;
            words[i] = ((high / 1000) << 16) | (low / 1000);
            i += 1;
        }
        ((words[0] as u64) << 32) | words[1] as u64
    }
    if ms >= 0 {
        div_1000(ms as u64) as i64
    } else {
        // ⌊-x / 1000⌋ = -⌈x / 1000⌉; x ≤ 2^63, so x + 999 does not wrap
        // and the quotient fits an i64.
        -(div_1000(ms.unsigned_abs() + 999) as i64)
    }
}

/// Parses an RFC 3339 date-time to Unix milliseconds (UTC).
///
/// Grammar: `YYYY-MM-DD` `T` `HH:MM:SS` [`.` fraction] (`Z` | `+HH:MM` |
/// `-HH:MM`), with `t`/`z` accepted for `T`/`Z` as RFC 3339 allows. The
/// fraction may have any number of digits and is truncated to milliseconds.
/// Offsets are subtracted to give UTC; `-00:00` is UTC.
///
/// Every field is range-checked (month 1-12, day within the month with leap
/// years, hour 0-23, minute 0-59, second 0-60, offset hour 0-23 and minute
/// 0-59) and the year must be 1970-9999. A leap second (`:60`) is accepted
/// only where RFC 3339 §5.7 allows one: at 23:59:60 UTC (once the offset is
/// applied) on the last day of a month, as in `1990-12-31T15:59:60-08:00`.
/// It is read as the last millisecond of its minute (`23:59:59.999` UTC,
/// whatever its fraction), so ordering is kept and the result never spills
/// into the next day. The UTC result must lie in `0..=`[`MAX_MS`], so
/// `1970-01-01T00:30:00+01:00` (before the epoch) is `None`.
///
/// ```
/// use alertgate_validator::time::parse_rfc3339;
/// assert_eq!(parse_rfc3339("2019-08-27T09:56:00Z"), Some(1_566_899_760_000));
/// assert_eq!(parse_rfc3339("2019-08-27t11:56:00.123456+02:00"), Some(1_566_899_760_123));
/// assert_eq!(parse_rfc3339("2019-02-29T00:00:00Z"), None); // not a leap year
/// assert_eq!(parse_rfc3339("2019-08-27 09:56:00Z"), None);
/// // Leap seconds: at the end of a month (UTC) only.
/// assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), parse_rfc3339("2016-12-31T23:59:59.999Z"));
/// assert_eq!(parse_rfc3339("2023-11-04T16:00:60Z"), None);
/// ```
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    parse_rfc3339_bytes(text.as_bytes())
}

/// [`parse_rfc3339`] on bytes.
fn parse_rfc3339_bytes(s: &[u8]) -> Option<i64> {
    // The fixed-width head `YYYY-MM-DDTHH:MM:SS` is checked against a
    // layout and its six numbers read in the same loop (`#` = an ASCII
    // digit): a byte cursor with a call per field inlined into a dozen
    // copies of its loop, which costs flash on an MCU.
    const LAYOUT: &[u8; 19] = b"####-##-##T##:##:##";
    let mut numbers = [0u32; 6];
    let mut field = 0;
    for (&b, &want) in s.get(..LAYOUT.len())?.iter().zip(LAYOUT) {
        if want == b'#' {
            if !b.is_ascii_digit() {
                return None;
            }
            numbers[field] = numbers[field] * 10 + u32::from(b - b'0');
        } else if b == want || (want == b'T' && b == b't') {
            field += 1;
        } else {
            return None;
        }
    }
    let [year, month, day, hour, minute, mut second] = numbers;
    let mut rest = &s[LAYOUT.len()..];
    let mut milli = 0;
    if let [b'.', fraction @ ..] = rest {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let mut scale = 100;
        for &d in &fraction[..digits] {
            milli += u32::from(d - b'0') * scale;
            scale /= 10;
        }
        rest = &fraction[digits..];
    }
    let offset_min: i64 = match *rest {
        [b'Z' | b'z'] => 0,
        // The sign is looked at last: matched in the pattern, it made the
        // compiler emit the rest once per sign.
        [sign, h1, h2, b':', m1, m2] => {
            let (oh, om) = (two_digits(h1, h2)?, two_digits(m1, m2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let v = i64::from(oh * 60 + om);
            match sign {
                b'+' => v,
                b'-' => -v,
                _ => return None,
            }
        }
        _ => return None,
    };
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    if second == 60 {
        // 23:59 UTC is local minute 1439 + offset: on the local day itself,
        // or (minute -1) on the day before it. (The next local day is out of
        // reach: offsets stay below 24 hours.)
        let month_end = match i64::from(hour * 60 + minute) - offset_min {
            1439 => day == days_in_month(year, month),
            -1 => day == 1,
            _ => false,
        };
        if !month_end {
            return None;
        }
        second = 59;
        milli = 999;
    }
    let seconds = i64::from(hour * 3600 + minute * 60 + second) - offset_min * 60;
    let ms = days_from_civil(year, month, day) * MS_PER_DAY + seconds * 1000 + i64::from(milli);
    (0..=MAX_MS).contains(&ms).then_some(ms)
}

/// The number written by two ASCII digits.
fn two_digits(tens: u8, ones: u8) -> Option<u32> {
    let (tens, ones) = (tens.wrapping_sub(b'0'), ones.wrapping_sub(b'0'));
    (tens < 10 && ones < 10).then(|| u32::from(tens) * 10 + u32::from(ones))
}

/// Parses either form an alert timestamp comes in: integer text (see
/// [`from_integer_text`]) or RFC 3339 (see [`parse_rfc3339`]).
///
/// ```
/// use alertgate_validator::time::parse_timestamp;
/// assert_eq!(parse_timestamp("1566899760"), Some(1_566_899_760_000));
/// assert_eq!(parse_timestamp("2019-08-27T09:56:00Z"), Some(1_566_899_760_000));
/// assert_eq!(parse_timestamp("yesterday"), None);
/// ```
pub fn parse_timestamp(text: &str) -> Option<i64> {
    parse_timestamp_bytes(text.as_bytes())
}

/// [`parse_timestamp`] on bytes (the JSON scanner's text, already known to
/// be UTF-8).
pub(crate) fn parse_timestamp_bytes(text: &[u8]) -> Option<i64> {
    from_integer_bytes(text).or_else(|| parse_rfc3339_bytes(text))
}

/// Displays Unix milliseconds as RFC 3339 UTC with milliseconds:
/// `2019-08-27T09:56:00.000Z`.
///
/// Output for `0..=`[`MAX_MS`] is valid RFC 3339 and parses back to the same
/// value. Any other `i64` still prints (never panics), with a signed,
/// expanded year as in ISO 8601 (`-0001-...`, `+10000-...`). At most 30
/// bytes, so a `heapless::String<32>` always holds it.
///
/// ```
/// use alertgate_validator::time::Rfc3339;
/// use core::fmt::Write;
/// let mut s = heapless::String::<32>::new();
/// write!(s, "{}", Rfc3339(1_566_899_760_000)).unwrap();
/// assert_eq!(s, "2019-08-27T09:56:00.000Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rfc3339(pub i64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        if (0..=9999).contains(&y) {
            write!(f, "{y:04}")?;
        } else {
            write!(f, "{y:+05}")?;
        }
        write!(
            f,
            "-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            ms_of_day / 3_600_000,
            ms_of_day / 60_000 % 60,
            ms_of_day / 1000 % 60,
            ms_of_day % 1000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Byte cursor for the fixed RFC 3339 layout.
    struct Cursor<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Cursor<'_> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }

        fn eat(&mut self, accept: &[u8]) -> Option<u8> {
            let b = self.peek().filter(|b| accept.contains(b))?;
            self.i += 1;
            Some(b)
        }

        /// Exactly `n` digits (n <= 4).
        fn digits(&mut self, n: usize) -> Option<u32> {
            let mut v = 0;
            for _ in 0..n {
                let b = self.peek().filter(u8::is_ascii_digit)?;
                v = v * 10 + u32::from(b - b'0');
                self.i += 1;
            }
            Some(v)
        }
    }

    /// The byte-cursor parser `parse_rfc3339` replaced: the reference it must
    /// agree with.
    fn reference_rfc3339(text: &str) -> Option<i64> {
        let mut c = Cursor {
            s: text.as_bytes(),
            i: 0,
        };
        let year = c.digits(4)?;
        c.eat(b"-")?;
        let month = c.digits(2)?;
        c.eat(b"-")?;
        let day = c.digits(2)?;
        c.eat(b"Tt")?;
        let hour = c.digits(2)?;
        c.eat(b":")?;
        let minute = c.digits(2)?;
        c.eat(b":")?;
        let mut second = c.digits(2)?;
        let mut milli = 0;
        if c.eat(b".").is_some() {
            let start = c.i;
            let mut scale = 100;
            while let Some(b) = c.eat(b"0123456789") {
                milli += u32::from(b - b'0') * scale;
                scale /= 10;
            }
            if c.i == start {
                return None;
            }
        }
        let offset_min: i64 = match c.eat(b"Zz+-")? {
            b'Z' | b'z' => 0,
            sign => {
                let oh = c.digits(2)?;
                c.eat(b":")?;
                let om = c.digits(2)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let v = i64::from(oh * 60 + om);
                if sign == b'-' {
                    -v
                } else {
                    v
                }
            }
        };
        if c.i != c.s.len()
            || !(1970..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let leap = second == 60;
        if leap {
            second = 59;
            milli = 999;
        }
        let seconds = i64::from(hour * 3600 + minute * 60 + second) - offset_min * 60;
        let ms = days_from_civil(year, month, day) * MS_PER_DAY + seconds * 1000 + i64::from(milli);
        // A leap second must be followed by the first instant of a month,
        // UTC (checked on the printed form, not by the parser's arithmetic).
        if leap && !Rfc3339(ms + 1).to_string().ends_with("-01T00:00:00.000Z") {
            return None;
        }
        (0..=MAX_MS).contains(&ms).then_some(ms)
    }
    use std::string::{String, ToString};

    const KNOWN: &[(&str, i64)] = &[
        ("1970-01-01T00:00:00Z", 0),
        ("2019-08-27T09:56:00Z", 1_566_899_760_000),
        ("2023-11-04T16:00:00Z", 1_699_113_600_000),
        ("2024-02-29T12:00:00Z", 1_709_208_000_000),
        ("2000-02-29T23:59:59.999Z", 951_868_799_999),
        ("2100-03-01T00:00:00Z", 4_107_542_400_000),
        ("9999-12-31T23:59:59.999Z", MAX_MS),
    ];

    #[test]
    fn known_values() {
        for &(text, ms) in KNOWN {
            assert_eq!(parse_rfc3339(text), Some(ms), "{text}");
            assert_eq!(parse_timestamp(text), Some(ms), "{text}");
            let shown = Rfc3339(ms).to_string();
            assert_eq!(parse_rfc3339(&shown), Some(ms));
        }
        assert_eq!(Rfc3339(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Rfc3339(MAX_MS).to_string(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn rfc3339_variants() {
        let base = Some(1_566_899_760_000);
        assert_eq!(parse_rfc3339("2019-08-27t09:56:00z"), base);
        assert_eq!(parse_rfc3339("2019-08-27T09:56:00+00:00"), base);
        assert_eq!(parse_rfc3339("2019-08-27T09:56:00-00:00"), base);
        assert_eq!(parse_rfc3339("2019-08-27T15:26:00+05:30"), base);
        assert_eq!(parse_rfc3339("2019-08-26T23:56:00-10:00"), base);
        assert_eq!(parse_rfc3339("2019-08-27T09:56:00.0Z"), base);
        assert_eq!(
            parse_rfc3339("2019-08-27T09:56:00.9999999999999999999Z"),
            Some(1_566_899_760_999)
        );
        assert_eq!(
            parse_rfc3339("2019-08-27T09:56:00.5Z"),
            Some(1_566_899_760_500)
        );
        assert_eq!(
            parse_rfc3339("2019-08-27T09:56:00.05Z"),
            Some(1_566_899_760_050)
        );
        // Leap second: last millisecond of the minute, fraction ignored.
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            parse_rfc3339("2016-12-31T23:59:59.999Z")
        );
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60.5Z"),
            parse_rfc3339("2016-12-31T23:59:59.999Z")
        );
        // Edges of the range.
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:59:59.999+01:00"), None);
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59.999-00:01"), None);
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59.999+00:01"),
            Some(MAX_MS - 60_000)
        );
    }

    /// RFC 3339 §5.7: a leap second only at 23:59:60 UTC on the last day
    /// of a month (any month: the RFC leaves the schedule to the IERS).
    #[test]
    fn leap_seconds_only_at_the_end_of_a_month_utc() {
        for (leap, same) in [
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999Z"),
            ("2015-06-30T23:59:60Z", "2015-06-30T23:59:59.999Z"),
            ("2023-02-28T23:59:60.25Z", "2023-02-28T23:59:59.999Z"),
            ("2024-02-29T23:59:60Z", "2024-02-29T23:59:59.999Z"),
            ("2023-04-30T23:59:60Z", "2023-04-30T23:59:59.999Z"),
            // RFC 3339's own example: 23:59:60 UTC, written at -08:00.
            ("1990-12-31T15:59:60-08:00", "1990-12-31T23:59:59.999Z"),
            // The UTC day before the local one.
            ("2017-01-01T00:59:60+01:00", "2016-12-31T23:59:59.999Z"),
            ("2015-07-01T05:29:60+05:30", "2015-06-30T23:59:59.999Z"),
            ("2015-07-01T23:58:60+23:59", "2015-06-30T23:59:59.999Z"),
            ("2015-06-30T00:00:60-23:59", "2015-06-30T23:59:59.999Z"),
        ] {
            let want = parse_rfc3339(same);
            assert!(want.is_some(), "{same}");
            assert_eq!(parse_rfc3339(leap), want, "{leap}");
            assert_eq!(reference_rfc3339(leap), want, "{leap}");
        }
        for bad in [
            "2023-11-04T16:00:60Z",
            "2016-12-31T23:58:60Z",
            "2016-12-31T22:59:60Z",
            "2016-12-30T23:59:60Z",
            "2024-02-28T23:59:60Z",
            "2016-12-31T23:59:60+01:00",
            "2016-12-31T23:59:60-01:00",
            "2017-01-01T00:59:60+00:59",
            "2017-01-01T00:00:60Z",
            // Before the epoch once in UTC.
            "1970-01-01T00:00:60+00:01",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
            assert_eq!(reference_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_rejects() {
        for bad in [
            "",
            "2019-08-27",
            "2019-08-27T09:56Z",
            "2019-08-27T09:56:00",
            "2019-08-27T09:56:00ZZ",
            "2019-08-27T09:56:00Z ",
            " 2019-08-27T09:56:00Z",
            "2019-08-27 09:56:00Z",
            "2019-08-27_09:56:00Z",
            "2019-8-27T09:56:00Z",
            "19-08-27T09:56:00Z",
            "+2019-08-27T09:56:00Z",
            "2019-08-27T09:56:00.Z",
            "2019-08-27T09:56:00,5Z",
            "2019-08-27T09:56:00+0100",
            "2019-08-27T09:56:00+01",
            "2019-08-27T09:56:00+24:00",
            "2019-08-27T09:56:00+01:60",
            "2019-00-27T09:56:00Z",
            "2019-13-27T09:56:00Z",
            "2019-08-00T09:56:00Z",
            "2019-08-32T09:56:00Z",
            "2019-04-31T09:56:00Z",
            "2019-02-29T09:56:00Z",
            "1900-02-29T09:56:00Z",
            "2019-08-27T24:00:00Z",
            "2019-08-27T09:60:00Z",
            "2019-08-27T09:56:61Z",
            "1969-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "2019-08-27T09:56:00\u{0}Z",
            "２019-08-27T09:56:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        assert!(parse_rfc3339("2000-02-29T00:00:00Z").is_some());
        assert!(parse_rfc3339("2400-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn integer_text() {
        assert_eq!(from_integer_text("0"), Some(0));
        assert_eq!(from_integer_text("007"), Some(7000));
        assert_eq!(from_integer_text("99999999999"), Some(99_999_999_999_000));
        assert_eq!(from_integer_text("100000000000"), Some(100_000_000_000));
        assert_eq!(from_integer_text("253402300799999"), Some(MAX_MS));
        assert_eq!(from_integer_text("253402300800000"), None);
        assert_eq!(from_integer_text("9223372036854775807"), None);
        assert_eq!(from_integer_text("9223372036854775808"), None);
        for bad in [
            "", "-0", "-1", "+1", "1.0", "1e3", " 1", "1 ", "0x10", "1_000", "١",
        ] {
            assert_eq!(from_integer_text(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn floor_seconds_is_div_euclid(ms in prop_oneof![any::<i64>(), -5_000i64..5_000]) {
            prop_assert_eq!(floor_seconds(ms), ms.div_euclid(1000));
        }
    }

    #[test]
    fn floor_seconds_extremes() {
        for ms in [
            i64::MIN,
            i64::MIN + 1,
            -1001,
            -1000,
            -999,
            -1,
            0,
            999,
            1000,
            i64::MAX,
        ] {
            assert_eq!(floor_seconds(ms), ms.div_euclid(1000), "{ms}");
        }
    }

    #[test]
    fn every_day_is_consecutive() {
        // Walk every date 1970..=9999 and check both conversions.
        let mut expect = 0;
        for y in 1970..=9999 {
            for m in 1..=12 {
                for d in 1..=days_in_month(y, m) {
                    assert_eq!(days_from_civil(y, m, d), expect);
                    assert_eq!(civil_from_days(expect), (i64::from(y), m, d));
                    expect += 1;
                }
            }
        }
        assert_eq!(expect * MS_PER_DAY - 1, MAX_MS);
    }

    #[test]
    fn display_never_panics_on_extremes() {
        for ms in [i64::MIN, i64::MIN + 1, -1, MAX_MS + 1, i64::MAX] {
            let s = Rfc3339(ms).to_string();
            assert!(s.len() <= 30, "{s}");
            let mut h = heapless::String::<32>::new();
            core::fmt::write(&mut h, format_args!("{}", Rfc3339(ms))).unwrap();
        }
        assert_eq!(Rfc3339(-1).to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            Rfc3339(MAX_MS + 1).to_string(),
            "+10000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Rfc3339(-62_167_219_200_001).to_string(),
            "-0001-12-31T23:59:59.999Z"
        );
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(ms in 0..=MAX_MS) {
            let s = Rfc3339(ms).to_string();
            prop_assert_eq!(s.len(), 24);
            prop_assert_eq!(parse_rfc3339(&s), Some(ms));
            prop_assert_eq!(parse_timestamp(&s), Some(ms));
            // The same instant with a numeric offset.
            let z = s.replace('Z', "+00:00");
            prop_assert_eq!(parse_rfc3339(&z), Some(ms));
            // Integer forms.
            prop_assert_eq!(parse_timestamp(&ms.to_string()), Some(if ms < SECONDS_BELOW { ms * 1000 } else { ms }));
            prop_assert_eq!(from_integer_text(&(ms / 1000 % SECONDS_BELOW).to_string()), Some(ms / 1000 % SECONDS_BELOW * 1000));
        }

        #[test]
        fn offsets_shift_the_instant(ms in 86_400_000..=MAX_MS - 86_400_000, sign in any::<bool>(), oh in 0u32..24, om in 0u32..60) {
            let off_ms = i64::from(oh * 60 + om) * 60_000;
            // Local wall clock = UTC + offset.
            let local = if sign { ms + off_ms } else { ms - off_ms };
            let wall: String = Rfc3339(local).to_string();
            let text = std::format!("{}{}{:02}:{:02}", &wall[..23], if sign { '+' } else { '-' }, oh, om);
            prop_assert_eq!(parse_rfc3339(&text), Some(ms));
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            if let Some(ms) = parse_timestamp(&text) {
                prop_assert!((0..=MAX_MS).contains(&ms));
            }
        }

        #[test]
        fn agrees_with_the_reference_parser(text in prop_oneof![
            "\\PC{0,40}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})?",
            "[0-9]{4}[-:.]?[0-9]{2}-[0-9]{2}[Tt ]?[0-9]{2}:[0-9]{2}:[0-9]{2}[.0-9a-z]{0,3}[Zz+-]?[0-9]{0,2}:?[0-9]{0,3}",
            (0..=MAX_MS + 100_000_000, -1440i64..=1440).prop_map(|(ms, off)| {
                let mut t = Rfc3339(ms).to_string();
                if off != 0 {
                    t.pop();
                    let sign = if off < 0 { '-' } else { '+' };
                    t.push_str(&std::format!("{sign}{:02}:{:02}", off.abs() / 60, off.abs() % 60));
                }
                t
            }),
        ]) {
            prop_assert_eq!(parse_rfc3339(&text), reference_rfc3339(&text), "{:?}", text);
        }

        /// Any number of fraction digits: read to the millisecond,
        /// truncated (the digits after the third do not count).
        #[test]
        fn any_fraction_is_truncated_to_the_millisecond(
            second in 0..=MAX_MS / 1000,
            fraction in "[0-9]{1,80}",
            zone in prop_oneof![Just("Z"), Just("+00:00"), Just("-00:00")],
        ) {
            let head = Rfc3339(second * 1000).to_string();
            let text = std::format!("{}.{fraction}{zone}", &head[..19]);
            let first3: String = fraction.chars().chain("00".chars()).take(3).collect();
            let milli: i64 = first3.parse().unwrap();
            prop_assert_eq!(parse_rfc3339(&text), Some(second * 1000 + milli), "{}", text);
        }

        /// `:60` is read (as `:59.999`) exactly when its minute is the last
        /// of a month in UTC, whatever the offset it is written at.
        #[test]
        fn leap_seconds_follow_the_month_end_rule(
            minute in prop_oneof![
                3 => (1970u32..=9999, 1u32..=12, -2i64..=2).prop_map(|(y, m, near)| {
                    (days_from_civil(y, m, days_in_month(y, m)) + 1) * MS_PER_DAY + (near - 1) * 60_000
                }),
                1 => (0..=MAX_MS).prop_map(|ms| ms - ms % 60_000),
            ],
            offset in prop_oneof![Just(0i64), -1439i64..=1439],
            fraction in prop_oneof![Just(String::new()), "\\.[0-9]{1,6}"],
        ) {
            let sign = if offset < 0 { '-' } else { '+' };
            let zone = std::format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60);
            let wall = Rfc3339(minute + offset * 60_000).to_string();
            let text = std::format!("{}60{fraction}{zone}", &wall[..17]);
            let plain = std::format!("{}59.999{zone}", &wall[..17]);
            let month_end = Rfc3339(minute + 60_000).to_string().ends_with("-01T00:00:00.000Z");
            let want = if month_end { parse_rfc3339(&plain) } else { None };
            if let Some(ms) = want {
                prop_assert_eq!(ms, minute + 59_999);
            }
            prop_assert_eq!(parse_rfc3339(&text), want, "{}", text);
            prop_assert_eq!(reference_rfc3339(&text), want, "{}", text);
        }

        #[test]
        fn never_panics_on_near_misses(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})") {
            if let Some(ms) = parse_rfc3339(&text) {
                prop_assert!((0..=MAX_MS).contains(&ms));
            }
        }
    }
}
