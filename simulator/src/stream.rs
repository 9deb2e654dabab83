//! The recorded alert stream: JSON Lines, one webhook request per line, in
//! the format the gateway records.
//!
//! ```text
//! {"received_at": 1699113600250, "headers": {"X-Tradeeon-Signature": "t=..,s=.."}, "body": "{...}", "source_ip": "1.2.3.4"}
//! ```
//!
//! - `received_at` (required): when the gateway received the request, Unix
//!   milliseconds (a JSON integer or a digit string) or RFC 3339.
//! - `headers` (optional, default none): an object of header name → value,
//!   kept in file order.
//! - `body` (required): the raw body as a string, byte for byte what was
//!   signed.
//! - `source_ip` (optional): the peer address.
//! - `decision` (optional, ignored): what `alertgate serve` decided, so its
//!   journal replays as it is.
//!
//! Unknown keys are errors (a typo must not silently drop a field). Blank
//! lines are skipped. Lines need not be in time order: the engine orders
//! requests by arrival.

use std::io::BufRead;
use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

use crate::input::{check_ms, parse_recorded_time, snippet, InputError, TimeError};

mod fast;

/// One recorded webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// 1-based line in the stream file, to point back at it in reports.
    pub line: u64,
    /// When the gateway received it, Unix ms.
    pub received_at_ms: i64,
    /// Header `(name, value)` pairs in file order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: String,
    /// The peer's address, if recorded.
    pub source_ip: Option<IpAddr>,
}

/// A whole stream, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertStream {
    /// The requests.
    pub requests: Vec<RecordedRequest>,
}

impl AlertStream {
    /// Reads a stream file.
    pub fn read(path: &Path) -> Result<AlertStream, InputError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|e| InputError::file(&name, format!("cannot read: {e}")))?;
        AlertStream::from_reader(std::io::BufReader::new(file), &name)
    }

    /// Reads a stream from any reader; `name` stands for it in errors.
    pub fn from_reader(reader: impl BufRead, name: &str) -> Result<AlertStream, InputError> {
        let mut requests = Vec::new();
        for (index, line) in reader.lines().enumerate() {
            let number = index as u64 + 1;
            let line =
                line.map_err(|e| InputError::line(name, number, format!("cannot read: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            requests.push(parse_line(&line, name, number)?);
        }
        Ok(AlertStream { requests })
    }

    /// The most headers any one request carries (sizes a reusable buffer).
    pub fn max_headers(&self) -> usize {
        self.requests
            .iter()
            .map(|r| r.headers.len())
            .max()
            .unwrap_or(0)
    }
}

/// Writes one line of the format [`parse_line`] reads, the only writer of
/// it (the gateway's journal, the sample generator and the fuzz target use
/// it): `{"received_at":…,"headers":{…},"body":"…","source_ip":"…","decision":…}`.
/// `received_at` and `decision` are JSON texts written as given (a number
/// or a string literal; an object); headers keep their order and repeats,
/// as the gate saw them; `source_ip` and `decision` are left out when
/// `None`.
///
/// ```
/// use alertgate_simulator::stream::{parse_line, write_line};
/// let line = write_line("1699113600250", &[("X-Id", "1")], "{}", None, None);
/// assert_eq!(line, r#"{"received_at":1699113600250,"headers":{"X-Id":"1"},"body":"{}"}"#);
/// assert_eq!(parse_line(&line, "f", 1).unwrap().headers[0].1, "1");
/// ```
pub fn write_line(
    received_at: &str,
    headers: &[(&str, &str)],
    body: &str,
    source_ip: Option<IpAddr>,
    decision: Option<&str>,
) -> String {
    // Written by hand: a JSON map would sort and merge the headers.
    let text = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut line = format!("{{\"received_at\":{received_at},\"headers\":{{");
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&text(name));
        line.push(':');
        line.push_str(&text(value));
    }
    line.push_str("},\"body\":");
    line.push_str(&text(body));
    if let Some(ip) = source_ip {
        line.push_str(",\"source_ip\":");
        line.push_str(&text(&ip.to_string()));
    }
    if let Some(decision) = decision {
        line.push_str(",\"decision\":");
        line.push_str(decision);
    }
    line.push('}');
    line
}

/// Parses one line (`number` is its 1-based line number in `file`).
pub fn parse_line(line: &str, file: &str, number: u64) -> Result<RecordedRequest, InputError> {
    match fast::parse(line, number) {
        Some(request) => Ok(request),
        None => parse_line_fully(line, file, number),
    }
}

/// [`parse_line`] through a `serde_json::Value`: every line the one-pass
/// reader leaves, and the one place that words a line's errors.
fn parse_line_fully(line: &str, file: &str, number: u64) -> Result<RecordedRequest, InputError> {
    let at = |field: &str, e: FieldError| InputError::at(file, number, field, e.to_string());
    let map = line_object(line, file, number)?;
    let received_at_ms = received_at(map.get("received_at")).map_err(|m| at("received_at", m))?;
    let body = match map.get("body") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(at("body", FieldError::Missing)),
        Some(other) => {
            return Err(at(
                "body",
                FieldError::wrong_type("the raw body as a string", other),
            ))
        }
    };
    let headers = match map.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(h)) if h.is_empty() => Vec::new(),
        Some(Value::Object(_)) => ordered_headers(line).map_err(|m| at("headers", m))?,
        Some(other) => {
            return Err(at(
                "headers",
                FieldError::wrong_type("an object of name → value", other),
            ))
        }
    };
    let source_ip = source_ip(map.get("source_ip")).map_err(|m| at("source_ip", m))?;
    Ok(RecordedRequest {
        line: number,
        received_at_ms,
        headers,
        body,
        source_ip,
    })
}

/// The line as a JSON object with only the record's members.
fn line_object(
    line: &str,
    file: &str,
    number: u64,
) -> Result<serde_json::Map<String, Value>, InputError> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| InputError::line(file, number, format!("not a JSON object: {e}")))?;
    let Value::Object(map) = value else {
        return Err(InputError::line(
            file,
            number,
            "expected a JSON object {\"received_at\", \"headers\", \"body\", \"source_ip\"}",
        ));
    };
    let known = |k: &String| {
        matches!(
            k.as_str(),
            "received_at" | "headers" | "body" | "source_ip" | "decision"
        )
    };
    if let Some(key) = map.keys().find(|k| !known(k)) {
        return Err(InputError::at(
            file,
            number,
            key,
            "unknown field; expected received_at, headers, body, source_ip, decision",
        ));
    }
    Ok(map)
}

/// `received_at`: Unix ms, or RFC 3339 text.
fn received_at(value: Option<&Value>) -> Result<i64, FieldError> {
    match value {
        None | Some(Value::Null) => Err(FieldError::Missing),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(ms) => Ok(check_ms(ms)?),
            None => Err(FieldError::NotIntegerMs { number: n.clone() }),
        },
        Some(Value::String(s)) => Ok(parse_recorded_time(s)?),
        Some(other) => Err(FieldError::wrong_type("Unix ms or RFC 3339 text", other)),
    }
}

/// The `headers` members in the line's order, repeats included: serde_json's
/// map is sorted by key and keeps one of two equal names, so the object is
/// read again for what the gate sees.
fn ordered_headers(line: &str) -> Result<Vec<(String, String)>, FieldError> {
    let ordered = serde_json::from_str::<HeadersOnly>(line)?.headers.0;
    let mut headers = Vec::with_capacity(ordered.len());
    for (name, value) in ordered {
        let Value::String(v) = value else {
            return Err(FieldError::HeaderNotString {
                name,
                got: kind(&value),
            });
        };
        if name.is_empty() {
            return Err(FieldError::EmptyHeaderName);
        }
        headers.push((name, v));
    }
    Ok(headers)
}

/// `source_ip`: absent, or an IPv4 or IPv6 address as a string.
fn source_ip(value: Option<&Value>) -> Result<Option<IpAddr>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            s.parse::<IpAddr>()
                .map(Some)
                .map_err(|_| FieldError::NotAnAddress {
                    text: s.to_string(),
                })
        }
        Some(other) => Err(FieldError::wrong_type("an address as a string", other)),
    }
}

/// What is wrong with one field of a line; [`InputError`] adds the file,
/// the line and the field's name.
#[derive(Debug, thiserror::Error)]
enum FieldError {
    /// A required field is absent or null.
    #[error("missing")]
    Missing,
    /// A JSON value of the wrong kind.
    #[error("expected {expected}, got {got}")]
    WrongType {
        expected: &'static str,
        got: &'static str,
    },
    /// A JSON number that is not an `i64`.
    #[error("{number} is not an integer number of Unix milliseconds")]
    NotIntegerMs { number: serde_json::Number },
    /// A time that is no recorded time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// `headers` could not be read again in order.
    #[error(transparent)]
    Headers(#[from] serde_json::Error),
    /// A header's value is not a string.
    #[error("header {:?}: expected a string, got {got}", snippet(.name))]
    HeaderNotString { name: String, got: &'static str },
    /// A header's name is empty.
    #[error("a header name is empty")]
    EmptyHeaderName,
    /// `source_ip` is not an address.
    #[error("{:?} is not an IPv4 or IPv6 address", snippet(.text))]
    NotAnAddress { text: String },
}

impl FieldError {
    /// [`FieldError::WrongType`], `got` being the kind of `value`.
    fn wrong_type(expected: &'static str, value: &Value) -> FieldError {
        FieldError::WrongType {
            expected,
            got: kind(value),
        }
    }
}

/// The `headers` object of a line, in file order.
#[derive(serde::Deserialize)]
struct HeadersOnly {
    headers: HeaderPairs,
}

/// A JSON object's members in document order.
struct HeaderPairs(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for HeaderPairs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = HeaderPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of header name → value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<HeaderPairs, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(HeaderPairs(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<AlertStream, InputError> {
        AlertStream::from_reader(text.as_bytes(), "s.jsonl")
    }

    #[test]
    fn reads_both_time_forms_and_keeps_header_order() {
        let s = read(concat!(
            r#"{"received_at":1699113600250,"headers":{"B":"2","A":"1"},"body":"{}","source_ip":"10.0.0.1"}"#,
            "\n\n",
            r#"{"received_at":"2023-11-04T16:00:01Z","body":"x"}"#,
            "\n"
        ))
        .unwrap();
        assert_eq!(s.requests.len(), 2);
        let r = &s.requests[0];
        assert_eq!(r.received_at_ms, 1_699_113_600_250);
        assert_eq!(
            r.headers,
            vec![("B".into(), "2".into()), ("A".into(), "1".into())]
        );
        assert_eq!(r.source_ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(s.requests[1].received_at_ms, 1_699_113_601_000);
        assert_eq!(s.requests[1].line, 3);
        assert_eq!(s.max_headers(), 2);
    }

    #[test]
    fn a_journal_line_reads_with_its_decision_ignored() {
        let s = read(
            r#"{"received_at":1699113600250,"body":"{}","decision":{"accepted":false,"code":"invalid_json"}}"#,
        )
        .unwrap();
        assert_eq!(s.requests[0].body, "{}");
    }

    #[test]
    fn bad_lines_name_line_and_field() {
        let cases: &[(&str, &str)] = &[
            ("{", "not a JSON object"),
            ("[1]", "expected a JSON object"),
            (r#"{"body":"x"}"#, "field \"received_at\": missing"),
            (r#"{"received_at":1699113600,"body":"x"}"#, "Unix seconds"),
            (r#"{"received_at":1.5e12,"body":"x"}"#, "not an integer"),
            (r#"{"received_at":"soon","body":"x"}"#, "RFC 3339"),
            (
                r#"{"received_at":1699113600000}"#,
                "field \"body\": missing",
            ),
            (
                r#"{"received_at":1699113600000,"body":{}}"#,
                "expected the raw body as a string",
            ),
            (
                r#"{"received_at":1699113600000,"body":"","headers":{"A":1}}"#,
                "header \"A\"",
            ),
            (
                r#"{"received_at":1699113600000,"body":"","headers":[]}"#,
                "field \"headers\"",
            ),
            (
                r#"{"received_at":1699113600000,"body":"","source_ip":"1.2.3"}"#,
                "field \"source_ip\"",
            ),
            (
                r#"{"received_at":1699113600000,"body":"","sourceip":"1.2.3.4"}"#,
                "field \"sourceip\": unknown field",
            ),
        ];
        for (line, expected) in cases {
            let text = format!("\n{line}\n");
            let err = read(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{line}: {err}");
            assert!(err.starts_with("s.jsonl:2"), "{line}: {err}");
        }
    }
}
