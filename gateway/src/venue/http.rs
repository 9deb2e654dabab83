//! The venue-independent part of talking to an exchange over HTTP: one
//! reqwest client (rustls, timeouts), the rate-limit state shared by every
//! call (a 429 or 418 holds every later request back until its time has
//! passed), and the classification of transport failures into what the
//! execution stage must know: was the request sent or not?
//!
//! - nothing could have reached the venue (no connection could be opened,
//!   the request could not be built, the gateway itself held it back):
//!   [`VenueError::NotSent`];
//! - anything else that went wrong after the request may have left (a
//!   timeout, a connection reset, a body that could not be read):
//!   [`VenueError::Unknown`], resolved later by querying the order.
//!
//! Reasons never hold the URL: a signed GET carries its signature there
//! (reqwest's errors print the URL, so it is stripped with
//! [`reqwest::Error::without_url`]).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::ban_file::{BanFile, Hold};
use super::VenueError;

/// How long to back off after a 429 without a readable `Retry-After`:
/// Binance's request-weight window is one minute, but it always sends the
/// header; a short default keeps a missing header from stalling trading.
const DEFAULT_429_BACKOFF_MS: i64 = 10_000;
/// How long to hold back after a 418 without a readable `Retry-After`:
/// Binance's bans start at two minutes.
const DEFAULT_418_BAN_MS: i64 = 120_000;

/// Timeouts of a venue's HTTP client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// The whole request, connection to last body byte.
    pub timeout: Duration,
    /// Opening the connection (TCP and TLS); never above `timeout`.
    pub connect_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Response headers that report a venue's usage counters, by the prefix
/// of their names; the rest of a name is the counter's interval (Binance:
/// `X-MBX-USED-WEIGHT-1M`; `X-MBX-ORDER-COUNT-10S`, `-1M`, `-1D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageHeaders {
    /// Prefix of the request weight used per interval.
    pub used_weight_prefix: Option<&'static str>,
    /// Prefix of the orders placed per interval.
    pub order_count_prefix: Option<&'static str>,
}

/// Which usage counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Usage {
    /// Request weight used (`X-MBX-USED-WEIGHT-*`; Binance's
    /// `REQUEST_WEIGHT` limit).
    UsedWeight,
    /// Orders placed (`X-MBX-ORDER-COUNT-*`; Binance's `ORDERS` limit).
    OrderCount,
}

/// One limit a venue announces (Binance: `exchangeInfo.rateLimits`): at
/// most `limit` of `usage` per `interval` (`1m`, `10s`, `1d`: a count and
/// `s`, `m`, `h` or `d`, as the usage headers name it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCap {
    /// What is counted.
    pub usage: Usage,
    /// The interval, lower case (`1m`).
    pub interval: String,
    /// The most allowed per interval.
    pub limit: u64,
}

/// Past this share of a limit (percent) the gateway stops sending what
/// counts against it until the interval ends, rather than run into a 429
/// (and, repeated, a 418 ban): the usage headers count every client of the
/// account or address, not only this gateway.
const CAP_PERCENT: u64 = 95;

/// The rate-limit state of one venue connection, shared by every call:
/// when requests are held back, and the last usage counters seen (for
/// `/metrics`).
#[derive(Debug)]
pub struct RateLimits {
    blocked_until_ms: AtomicI64,
    banned: AtomicBool,
    /// The last value of each usage counter, by (counter, interval).
    usage: std::sync::Mutex<std::collections::BTreeMap<(Usage, String), u64>>,
    /// Requests by (`METHOD endpoint`, HTTP status or error code).
    requests: std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>>,
    /// Where each new hold is kept, to outlive a restart.
    file: std::sync::OnceLock<BanFile>,
    /// The limits the venue announced.
    caps: std::sync::Mutex<Vec<RateCap>>,
    /// Until when (Unix ms) orders are held back: an order-count limit is
    /// near (other requests still go).
    orders_blocked_until_ms: AtomicI64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            blocked_until_ms: AtomicI64::new(0),
            banned: AtomicBool::new(false),
            usage: std::sync::Mutex::default(),
            requests: std::sync::Mutex::default(),
            file: std::sync::OnceLock::new(),
            caps: std::sync::Mutex::default(),
            orders_blocked_until_ms: AtomicI64::new(0),
        }
    }
}

impl RateLimits {
    /// Counts one request to `endpoint` (`POST order`) that ended with
    /// `status` (an HTTP status, or a `venue_*` code when there was none).
    pub fn count(&self, endpoint: String, status: String) {
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((endpoint, status)).or_default() += 1;
    }

    /// Requests so far by (`METHOD endpoint`, status or code).
    pub fn requests(&self) -> Vec<((String, String), u64)> {
        let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// The last used-weight counters the venue reported: (interval in
    /// lower case, e.g. `1m`, value).
    pub fn used_weight(&self) -> Vec<(String, u64)> {
        self.usage_of(Usage::UsedWeight)
    }

    /// The last order counters the venue reported: (interval, e.g. `10s`,
    /// value).
    pub fn order_count(&self) -> Vec<(String, u64)> {
        self.usage_of(Usage::OrderCount)
    }

    fn usage_of(&self, which: Usage) -> Vec<(String, u64)> {
        let map = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|((kind, _), _)| *kind == which)
            .map(|((_, interval), v)| (interval.clone(), *v))
            .collect()
    }

    /// Until when (Unix ms) requests are held back, if they are at `now_ms`.
    pub fn blocked_until(&self, now_ms: i64) -> Option<i64> {
        let until = self.blocked_until_ms.load(Ordering::Acquire);
        (until > now_ms).then_some(until)
    }

    /// The refusal of a request at `now_ms`, if requests are held back:
    /// [`VenueError::Banned`] or [`VenueError::RateLimited`] as the hold
    /// is, so that every caller waits the hold out rather than retrying
    /// into it (nothing was sent either way).
    fn refusal(&self, venue: &'static str, now_ms: i64, places: bool) -> Option<VenueError> {
        let orders_until = self.orders_blocked_until_ms.load(Ordering::Acquire);
        if places && orders_until > now_ms && self.blocked_until(now_ms).is_none() {
            return Some(VenueError::RateLimited {
                venue,
                retry_after_ms: u64::try_from(orders_until - now_ms).unwrap_or(0),
            });
        }
        let until_ms = self.blocked_until(now_ms)?;
        Some(if self.banned.load(Ordering::Acquire) {
            VenueError::Banned { venue, until_ms }
        } else {
            VenueError::RateLimited {
                venue,
                retry_after_ms: u64::try_from(until_ms - now_ms).unwrap_or(0),
            }
        })
    }

    /// Takes up the hold `file` keeps (a ban or back-off from before a
    /// restart) unless it has ended by `now_ms`, and keeps every new hold
    /// there from now on. A file that cannot be read is reported and
    /// ignored (see [`super::ban_file`]).
    pub fn persist_to(&self, file: BanFile, now_ms: i64) {
        self.restore_from(&file, now_ms);
        if self.file.set(file).is_err() {
            tracing::warn!("the venue's hold file was set twice; the first one is kept");
        }
    }

    /// Takes up the hold `file` keeps, unless it has ended by `now_ms`;
    /// later holds are not written there (a second connection to the same
    /// venue, whose hold the first one keeps).
    pub fn restore_from(&self, file: &BanFile, now_ms: i64) {
        match file.read() {
            Ok(Some(hold)) if hold.until_ms > now_ms => {
                tracing::warn!(
                    until_ms = hold.until_ms,
                    banned = hold.banned,
                    file = %file.path().display(),
                    "the venue held requests back before the restart: nothing is sent until then"
                );
                self.hold(hold.until_ms, hold.banned);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("venue hold file ignored: {e}"),
        }
    }

    /// The limits the venue announces (read with its trading rules):
    /// from now on, a usage counter past [`CAP_PERCENT`] % of its limit
    /// holds back what counts against it until the interval ends.
    pub fn set_caps(&self, caps: Vec<RateCap>) {
        *self.caps.lock().unwrap_or_else(|e| e.into_inner()) = caps;
    }

    /// Holds back what counts against a limit whose counter, `value` of
    /// `usage` per `interval`, is past [`CAP_PERCENT`] % of it, until the
    /// interval's end at `now_ms` (the venue's windows are aligned to its
    /// clock; a second more covers the offset between the two clocks).
    fn near_cap(&self, usage: Usage, interval: &str, value: u64, now_ms: i64) {
        let caps = self.caps.lock().unwrap_or_else(|e| e.into_inner());
        let Some(cap) = caps
            .iter()
            .find(|c| c.usage == usage && c.interval == interval)
        else {
            return;
        };
        if value.saturating_mul(100) < cap.limit.saturating_mul(CAP_PERCENT) {
            return;
        }
        let Some(length) = interval_ms(interval) else {
            return;
        };
        let until_ms = (now_ms.div_euclid(length) + 1) * length + 1_000;
        tracing::warn!(usage = ?usage, interval, value, limit = cap.limit, until_ms, "near the venue's rate limit: holding back until the interval ends");
        drop(caps);
        match usage {
            Usage::UsedWeight => self.block(until_ms, false),
            Usage::OrderCount => {
                self.orders_blocked_until_ms
                    .fetch_max(until_ms, Ordering::AcqRel);
            }
        }
    }

    /// Holds requests back until `until_ms` (never shortens a longer
    /// hold), and keeps the hold on disk when it is new.
    fn block(&self, until_ms: i64, banned: bool) {
        if !self.hold(until_ms, banned) {
            return;
        }
        let Some(file) = self.file.get() else {
            return;
        };
        // A few hundred bytes and two fsyncs, on a 418 or 429 only: rare
        // enough to do on the calling task.
        if let Err(e) = file.write(Hold { until_ms, banned }) {
            tracing::warn!(
                file = %file.path().display(),
                "the venue's hold is not kept on disk ({e}): a restart before {until_ms} (Unix ms) would forget it"
            );
        }
    }

    /// [`Self::block`] in memory only; whether the hold was extended.
    fn hold(&self, until_ms: i64, banned: bool) -> bool {
        let previous = self.blocked_until_ms.fetch_max(until_ms, Ordering::AcqRel);
        if until_ms >= previous {
            self.banned.store(banned, Ordering::Release);
        }
        until_ms > previous
    }

    fn record(&self, headers: &reqwest::header::HeaderMap, names: UsageHeaders) {
        let kinds = [
            (Usage::UsedWeight, names.used_weight_prefix),
            (Usage::OrderCount, names.order_count_prefix),
        ];
        let mut seen = Vec::new();
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        for (name, value) in headers {
            // Header names arrive in lower case.
            let name = name.as_str();
            for (kind, prefix) in kinds {
                let Some(prefix) = prefix else { continue };
                let Some(interval) = strip_prefix_ignore_case(name, prefix) else {
                    continue;
                };
                let value = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok());
                // Only short, plain interval names: a venue's headers are
                // untrusted input and become metric labels.
                let plain = (1..=8).contains(&interval.len())
                    && interval.bytes().all(|b| b.is_ascii_alphanumeric());
                if let (Some(v), true) = (value, plain) {
                    let interval = interval.to_ascii_lowercase();
                    seen.push((kind, interval.clone(), v));
                    usage.insert((kind, interval), v);
                }
            }
        }
        drop(usage);
        let now = now_ms();
        for (kind, interval, value) in seen {
            self.near_cap(kind, &interval, value, now);
        }
    }
}

/// An interval as the usage headers name it (`10s`, `1m`, `1h`, `1d`),
/// in ms.
fn interval_ms(interval: &str) -> Option<i64> {
    let unit = match interval.as_bytes().last()? {
        b's' => 1_000,
        b'm' => 60_000,
        b'h' => 3_600_000,
        b'd' => 86_400_000,
        _ => return None,
    };
    let count: i64 = interval.get(..interval.len() - 1)?.parse().ok()?;
    (count > 0).then(|| count.saturating_mul(unit))
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// A venue's answer: its status and body (any status but 418 and 429,
/// which [`VenueHttp::execute`] turns into errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
}

/// One venue's HTTP client and rate-limit state.
#[derive(Debug, Clone)]
pub struct VenueHttp {
    venue: &'static str,
    client: reqwest::Client,
    limits: Arc<RateLimits>,
    usage: UsageHeaders,
}

impl VenueHttp {
    /// A client for `venue` (its name, for errors) with `settings`.
    pub fn new(
        venue: &'static str,
        settings: HttpSettings,
        usage: UsageHeaders,
    ) -> Result<VenueHttp, reqwest::Error> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout.min(settings.timeout))
            .user_agent(concat!("alertgate/", env!("CARGO_PKG_VERSION")))
            // A redirected order POST could be replayed elsewhere (or turned
            // into a GET): a 3xx is returned as is, and read as unknown.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(VenueHttp {
            venue,
            client,
            limits: Arc::new(RateLimits::default()),
            usage,
        })
    }

    /// The reqwest client, to build requests with.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The shared rate-limit state.
    pub fn limits(&self) -> &Arc<RateLimits> {
        &self.limits
    }

    /// Sends `request` (`places`: a new order, which order-count limits
    /// hold back too) unless requests are held back, and classifies what
    /// happened: 429 → [`VenueError::RateLimited`], 418 →
    /// [`VenueError::Banned`] (both hold later requests back), transport
    /// failures as the module says; any other status is an answer.
    pub async fn execute(
        &self,
        request: reqwest::RequestBuilder,
        places: bool,
    ) -> Result<HttpAnswer, VenueError> {
        if let Some(refusal) = self.limits.refusal(self.venue, now_ms(), places) {
            return Err(refusal);
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        self.limits.record(response.headers(), self.usage);
        let status = response.status().as_u16();
        if status == 429 || status == 418 {
            return Err(self.limited(status, response.headers()));
        }
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        Ok(HttpAnswer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// A 429 or 418: holds requests back and says until when.
    fn limited(&self, status: u16, headers: &reqwest::header::HeaderMap) -> VenueError {
        let retry_after_ms = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|s| *s >= 0)
            .map(|s| s.saturating_mul(1000));
        let now = now_ms();
        if status == 418 {
            let until_ms = now.saturating_add(retry_after_ms.unwrap_or(DEFAULT_418_BAN_MS));
            self.limits.block(until_ms, true);
            VenueError::Banned {
                venue: self.venue,
                until_ms,
            }
        } else {
            let wait = retry_after_ms.unwrap_or(DEFAULT_429_BACKOFF_MS);
            self.limits.block(now.saturating_add(wait), false);
            VenueError::RateLimited {
                venue: self.venue,
                retry_after_ms: u64::try_from(wait).unwrap_or(0),
            }
        }
    }

    fn transport(&self, error: reqwest::Error) -> VenueError {
        classify_transport(self.venue, error)
    }
}

/// A transport failure as the execution stage must see it: nothing sent
/// when no connection was opened (or the request could not even be built),
/// else unknown.
pub fn classify_transport(venue: &'static str, error: reqwest::Error) -> VenueError {
    let nothing_sent = error.is_connect() || error.is_builder();
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "answer cut off"
    } else {
        "transport failure"
    };
    let reason = format!("{what}: {}", error_chain(&error.without_url()));
    if nothing_sent {
        VenueError::NotSent { venue, reason }
    } else {
        VenueError::Unknown { venue, reason }
    }
}

/// `error` and its sources, `: `-separated (hyper's and the OS's words,
/// none of which hold the request).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The local clock, Unix ms (0 if it is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_longer_hold_is_never_shortened() {
        let limits = RateLimits::default();
        assert_eq!(limits.blocked_until(0), None);
        limits.block(5_000, true);
        limits.block(2_000, false);
        assert_eq!(limits.blocked_until(1_000), Some(5_000));
        let refusal = limits.refusal("v", 1_000, false).unwrap();
        assert_eq!(
            refusal,
            VenueError::Banned {
                venue: "v",
                until_ms: 5_000
            }
        );
        assert_eq!(limits.blocked_until(5_000), None);
        assert!(limits.refusal("v", 5_000, false).is_none());
    }

    #[test]
    fn a_hold_outlives_a_restart_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = BanFile::beside(&dir.path().join("orders.jsonl"));
        let before = RateLimits::default();
        before.persist_to(file.clone(), 0);
        before.block(9_000, true);
        before.block(4_000, false);
        assert_eq!(
            file.read(),
            Ok(Some(Hold {
                until_ms: 9_000,
                banned: true
            })),
            "a shorter hold never replaces the kept one"
        );
        // Restarted: held back at once, before any request.
        let after = RateLimits::default();
        after.persist_to(file.clone(), 1_000);
        assert_eq!(
            after.refusal("v", 1_000, false),
            Some(VenueError::Banned {
                venue: "v",
                until_ms: 9_000
            })
        );
        // A hold that has ended by the restart holds nothing.
        let later = RateLimits::default();
        later.persist_to(file, 9_000);
        assert_eq!(later.refusal("v", 9_000, false), None);
    }

    #[test]
    fn a_corrupt_hold_file_is_ignored_and_then_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = BanFile::beside(&dir.path().join("orders.jsonl"));
        std::fs::write(file.path(), "{\"until_ms\":99").unwrap();
        let limits = RateLimits::default();
        limits.persist_to(file.clone(), 0);
        assert_eq!(
            limits.refusal("v", 0, false),
            None,
            "ignored: it can only delay"
        );
        limits.block(3_000, false);
        assert_eq!(
            limits.refusal("v", 1_000, false),
            Some(VenueError::RateLimited {
                venue: "v",
                retry_after_ms: 2_000
            })
        );
        assert_eq!(
            file.read(),
            Ok(Some(Hold {
                until_ms: 3_000,
                banned: false
            }))
        );
    }

    #[test]
    fn past_95_percent_of_a_limit_what_counts_against_it_waits_for_the_interval_to_end() {
        let limits = RateLimits::default();
        let cap = |usage, interval: &str, limit| RateCap {
            usage,
            interval: interval.into(),
            limit,
        };
        limits.set_caps(vec![
            cap(Usage::UsedWeight, "1m", 1000),
            cap(Usage::OrderCount, "10s", 100),
        ]);
        let limited = |r: Option<VenueError>| match r {
            Some(VenueError::RateLimited { retry_after_ms, .. }) => Some(retry_after_ms),
            _ => None,
        };
        // 949 of 1000: nothing held.
        limits.near_cap(Usage::UsedWeight, "1m", 949, 61_000);
        assert_eq!(limits.refusal("v", 61_000, false), None);
        // 950: every request until the minute ends, and a second more.
        limits.near_cap(Usage::UsedWeight, "1m", 950, 61_000);
        assert_eq!(limited(limits.refusal("v", 61_000, false)), Some(60_000));
        assert_eq!(limits.refusal("v", 121_000, false), None);
        // 95 orders of 100 per 10 s: new orders only, to the 10 s's end.
        limits.near_cap(Usage::OrderCount, "10s", 95, 125_500);
        assert_eq!(limited(limits.refusal("v", 125_500, true)), Some(5_500));
        assert_eq!(limits.refusal("v", 125_500, false), None);
        assert_eq!(limits.refusal("v", 131_000, true), None);
        // A counter whose limit was not announced holds nothing.
        limits.near_cap(Usage::OrderCount, "1d", 1_000_000, 131_000);
        assert_eq!(limits.refusal("v", 131_000, true), None);
        // Read from the headers of an answer, against the real clock.
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-mbx-used-weight-1m", "990".parse().unwrap());
        let names = UsageHeaders {
            used_weight_prefix: Some("X-MBX-USED-WEIGHT-"),
            order_count_prefix: Some("X-MBX-ORDER-COUNT-"),
        };
        limits.record(&headers, names);
        assert!(limits.blocked_until(now_ms()).is_some());
    }

    #[test]
    fn intervals_are_read_as_the_headers_name_them() {
        assert_eq!(interval_ms("10s"), Some(10_000));
        assert_eq!(interval_ms("1m"), Some(60_000));
        assert_eq!(interval_ms("1h"), Some(3_600_000));
        assert_eq!(interval_ms("1d"), Some(86_400_000));
        for bad in ["", "m", "0m", "1w", "-1m", "x1m"] {
            assert_eq!(interval_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn usage_counters_are_read_from_the_named_headers() {
        let limits = RateLimits::default();
        assert!(limits.used_weight().is_empty() && limits.order_count().is_empty());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-mbx-used-weight-1m", "42".parse().unwrap());
        headers.insert("x-mbx-order-count-10s", "junk".parse().unwrap());
        headers.insert("x-mbx-order-count-1d", "7".parse().unwrap());
        headers.insert("x-mbx-order-count-a-b", "1".parse().unwrap());
        headers.insert("x-other", "9".parse().unwrap());
        let names = UsageHeaders {
            used_weight_prefix: Some("X-MBX-USED-WEIGHT-"),
            order_count_prefix: Some("X-MBX-ORDER-COUNT-"),
        };
        limits.record(&headers, names);
        assert_eq!(limits.used_weight(), [("1m".to_string(), 42)]);
        // Junk values and odd interval names are skipped.
        assert_eq!(limits.order_count(), [("1d".to_string(), 7)]);
    }
}
