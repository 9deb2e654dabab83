//! One pass over a well-formed stream line, straight into a
//! [`RecordedRequest`]: the common case, read without building a
//! `serde_json::Value` map and without reading the headers a second time
//! (the full path in [`super::parse_line`] does both, ~2× the work).
//!
//! It takes only what the full path would accept, with the same result;
//! any line it does not take (malformed, a key escaped or repeated, a value
//! of another type, a time or address refused) goes back to the full path,
//! which says what is wrong, so the errors are unchanged too.

use std::fmt;
use std::net::IpAddr;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::RecordedRequest;
use crate::input::{check_ms, parse_recorded_time};

/// The request on `line`, or `None` when the full path must read it.
pub(super) fn parse(line: &str, number: u64) -> Option<RecordedRequest> {
    let mut de = serde_json::Deserializer::from_str(line);
    let fields = de.deserialize_map(LineVisitor).ok()?;
    de.end().ok()?;
    let (received_at_ms, headers, body, source_ip) = fields;
    Some(RecordedRequest {
        line: number,
        received_at_ms,
        headers,
        body,
        source_ip,
    })
}

/// A line's fields: time, headers, body, address.
type Fields = (i64, Vec<(String, String)>, String, Option<IpAddr>);

/// Any refusal: the full path says why.
fn refuse<E: de::Error>() -> E {
    E::custom("left to the full path")
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stream line")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let (mut at, mut headers, mut body, mut ip, mut decision) = (None, None, None, None, false);
        // A borrowed key: an escaped one is refused, left to the full path.
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "received_at" if at.is_none() => at = Some(map.next_value::<ReceivedAt>()?.0),
                "headers" if headers.is_none() => {
                    headers = Some(map.next_value::<Option<Headers>>()?)
                }
                "body" if body.is_none() => body = Some(map.next_value::<String>()?),
                "source_ip" if ip.is_none() => ip = Some(map.next_value::<Option<String>>()?),
                "decision" if !decision => {
                    map.next_value::<IgnoredAny>()?;
                    decision = true;
                }
                _ => return Err(refuse()),
            }
        }
        let source_ip = match ip.flatten() {
            Some(text) => Some(text.parse::<IpAddr>().map_err(|_| refuse::<A::Error>())?),
            None => None,
        };
        let headers = headers.flatten().map_or_else(Vec::new, |h| h.0);
        Ok((
            at.ok_or_else(refuse)?,
            headers,
            body.ok_or_else(refuse)?,
            source_ip,
        ))
    }
}

/// `received_at`, checked as the full path checks it.
struct ReceivedAt(i64);

impl<'de> de::Deserialize<'de> for ReceivedAt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReceivedAtVisitor)
    }
}

struct ReceivedAtVisitor;

impl Visitor<'_> for ReceivedAtVisitor {
    type Value = ReceivedAt;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Unix ms or RFC 3339 text")
    }

    fn visit_i64<E: de::Error>(self, ms: i64) -> Result<ReceivedAt, E> {
        check_ms(ms).map(ReceivedAt).map_err(|_| refuse())
    }

    fn visit_u64<E: de::Error>(self, ms: u64) -> Result<ReceivedAt, E> {
        self.visit_i64(i64::try_from(ms).map_err(|_| refuse::<E>())?)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ReceivedAt, E> {
        parse_recorded_time(text)
            .map(ReceivedAt)
            .map_err(|_| refuse())
    }
}

/// The headers in file order, repeats kept, every value a string and no
/// name empty.
struct Headers(Vec<(String, String)>);

impl<'de> de::Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = Headers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of header name → value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
        let mut headers = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some((name, value)) = map.next_entry::<String, String>()? {
            if name.is_empty() {
                return Err(refuse());
            }
            headers.push((name, value));
        }
        Ok(Headers(headers))
    }
}

#[cfg(test)]
mod tests;
