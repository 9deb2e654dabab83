//! What the replay readers share: the error that names file, line and field,
//! and the timestamp forms recorded data comes in.
//!
//! Recorded data is untrusted input like any webhook body: every reader
//! returns an [`InputError`] for anything it cannot use, and never panics.

use std::fmt;

use alertgate_validator::time::{parse_rfc3339, SECONDS_BELOW};

/// Bad replay input: which file, which line, which field, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file, as given.
    pub file: String,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: u64,
    /// The field or column, if the problem is in one.
    pub field: Option<String>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl InputError {
    /// An error at `file:line`, in `field`.
    pub fn at(file: &str, line: u64, field: &str, message: impl Into<String>) -> InputError {
        InputError {
            file: file.to_string(),
            line,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// An error at `file:line` not tied to one field.
    pub fn line(file: &str, line: u64, message: impl Into<String>) -> InputError {
        InputError {
            file: file.to_string(),
            line,
            field: None,
            message: message.into(),
        }
    }

    /// An error about a whole file (unreadable, empty, missing).
    pub fn file(file: &str, message: impl Into<String>) -> InputError {
        InputError::line(file, 0, message)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for InputError {}

/// A recorded time that cannot be used (see [`parse_recorded_time`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Digits beyond `i64`.
    #[error("{text:?} is too large for Unix milliseconds")]
    TooLarge {
        /// The digits, trimmed.
        text: String,
    },
    /// Neither digits nor RFC 3339.
    #[error("{:?} is neither Unix milliseconds nor RFC 3339 (2019-08-27T09:56:00Z)", snippet(.text))]
    NotATime {
        /// The text, trimmed.
        text: String,
    },
    /// Below 10^11 ms (1973-03-03): most likely Unix seconds.
    #[error(
        "{ms} is before 1973 as Unix milliseconds; Unix seconds are not accepted, multiply by 1000"
    )]
    BeforeMs {
        /// The value.
        ms: i64,
    },
    /// After the year 9999, which RFC 3339 cannot write.
    #[error("{ms} is after the year 9999 as Unix milliseconds")]
    AfterYear9999 {
        /// The value.
        ms: i64,
    },
}

/// Parses a recorded time: Unix milliseconds (ASCII digits) or RFC 3339.
///
/// Unlike alert timestamps, recorded times are never read as Unix seconds: a
/// value below 10^11 (1973-03-03 in ms) is refused with a hint, because a
/// file of seconds read as milliseconds would silently replay in January
/// 1970.
pub fn parse_recorded_time(text: &str) -> Result<i64, TimeError> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = text.parse().map_err(|_| TimeError::TooLarge {
            text: text.to_string(),
        })?;
        return check_ms(ms);
    }
    parse_rfc3339(text).ok_or_else(|| TimeError::NotATime {
        text: text.to_string(),
    })
}

/// Checks an integer recorded time (see [`parse_recorded_time`]).
pub fn check_ms(ms: i64) -> Result<i64, TimeError> {
    if ms < SECONDS_BELOW {
        Err(TimeError::BeforeMs { ms })
    } else if ms > alertgate_validator::time::MAX_MS {
        Err(TimeError::AfterYear9999 { ms })
    } else {
        Ok(ms)
    }
}

/// At most 40 characters of `text`, for error messages.
pub fn snippet(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_times() {
        assert_eq!(parse_recorded_time("1699113600000"), Ok(1_699_113_600_000));
        assert_eq!(
            parse_recorded_time("2023-11-04T16:00:00Z"),
            Ok(1_699_113_600_000)
        );
        let seconds = parse_recorded_time("1699113600").unwrap_err();
        assert_eq!(seconds, TimeError::BeforeMs { ms: 1_699_113_600 });
        assert!(seconds.to_string().contains("Unix seconds"));
        assert!(parse_recorded_time("99999999999999999999").is_err());
        assert!(parse_recorded_time("").is_err());
        assert!(parse_recorded_time("-5").is_err());
        assert!(parse_recorded_time("yesterday")
            .unwrap_err()
            .to_string()
            .contains("RFC 3339"));
        assert_eq!(
            parse_recorded_time(&"9".repeat(40))
                .unwrap_err()
                .to_string(),
            format!("{:?} is too large for Unix milliseconds", "9".repeat(40))
        );
    }

    #[test]
    fn display_names_file_line_field() {
        let e = InputError::at("a.csv", 3, "high", "below low");
        assert_eq!(e.to_string(), "a.csv:3: field \"high\": below low");
        assert_eq!(
            InputError::file("a.csv", "empty").to_string(),
            "a.csv: empty"
        );
    }
}
