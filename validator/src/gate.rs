//! The gate: composes every check into one call that turns a request into an
//! [`Order`] or a [`Rejection`].
//!
//! Checks run in this order; the first failure decides:
//!
//! | # | check | rejections |
//! |---|---|---|
//! | 1 | source address allowlist | `ip_not_allowed` |
//! | 2 | body size limit | `body_too_large` |
//! | 3 | signature and its timestamp | `missing_signature`, `malformed_signature`, `bad_signature`, `signature_expired` |
//! | 4 | JSON syntax, top-level object, duplicate keys | `invalid_json`, `not_an_object`, `duplicate_field` |
//! | 4b | passphrase (passphrase scheme only) | `missing_signature`, `bad_signature` |
//! | 5 | fields | `missing_field`, `invalid_field`, `missing_price`, `cancel_with_order_field`, `cancel_on_order` |
//! | 6 | policy (see [`crate::policy`]) | `below_confidence` … `from_future` |
//! | 7 | rate limit | `rate_limited` |
//! | 8 | replay guard | `replayed`, `replay_cache_full` |
//!
//! Only a request that passes every check consumes a rate-limit token and is
//! recorded in the replay guard, so rejected traffic cannot crowd out good
//! alerts in either. The gate owns no clock: `now_ms` is a parameter.
//!
//! # How long an accepted alert is remembered
//!
//! An alert passes the staleness check while `now ≤ alert time + max_age`,
//! and its time may lie up to `max_future_skew` ahead of the clock that
//! accepted it. The replay guard therefore remembers an accepted event
//! until `max(accepted at, alert time) + window` inclusive, with `window ≥
//! max_age` (default `max_age`; a shorter one is refused by [`Gate::new`]):
//! every later copy that is still fresh enough to pass the staleness check
//! is refused as `replayed`. The alert time is the one the gate settled
//! (body, else signature, else — only with `require_timestamp = false` —
//! the clock, which makes every copy fresh: then the window alone protects,
//! from acceptance). Sized for the peak rate of accepted alerts ×
//! `(window + max_future_skew)`, the guard never fills (see
//! [`Gate::with_replay_storage`]).

use core::net::IpAddr;

use crate::alert::{Action, EventId, OrderType, RawAlert, Side};
use crate::auth::{AuthConfig, Headers, Verifier};
use crate::decimal::Decimal;
use crate::error::{ConfigError, Rejection};
use crate::net::{self, Cidr};
use crate::policy::Policy;
use crate::rate::{RateConfig, TokenBucket};
use crate::replay::{ReplayGuard, Slot, Storage};
use crate::symbol::Symbol;

/// Who may send and how much.
#[derive(Clone, Copy, Debug)]
pub struct Network<'a> {
    /// Allowed source networks. Default empty: any source. Use
    /// [`net::TRADINGVIEW`] to accept only TradingView's webhook senders.
    pub allowlist: &'a [Cidr],
    /// Largest accepted body, in bytes. Default 8192.
    pub max_body_bytes: usize,
}

impl Default for Network<'_> {
    fn default() -> Self {
        Network {
            allowlist: &[],
            max_body_bytes: 8192,
        }
    }
}

/// Replay guard settings (its capacity is the gate's: `N` for
/// [`Gate::new`], the storage's length for [`Gate::with_replay_storage`]).
#[derive(Clone, Copy, Default)]
pub struct Replay {
    /// How long an accepted event id is remembered, in ms, counted from
    /// the later of its acceptance and the alert's own time (see the
    /// [module docs](self)). Default `None`: the policy's `max_age_ms`, so
    /// any copy fresh enough to pass the staleness check is still
    /// remembered. A window shorter than `max_age_ms` would let such a copy
    /// through, and [`Gate::new`] refuses it.
    pub window_ms: Option<i64>,
    /// Key of the guard's id fingerprints (see [`crate::replay`]). Default
    /// `None`: derived from the first secret (SHA-256 of a label and the
    /// secret), or [`crate::replay::DEFAULT_HASH_KEY`] without secrets. A
    /// host with a random source may pass 16 random bytes instead.
    pub hash_key: Option<[u8; 16]>,
}

impl core::fmt::Debug for Replay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Replay")
            .field("window_ms", &self.window_ms)
            .field("hash_key", &self.hash_key.map(|_| "<redacted>"))
            .finish()
    }
}

/// The replay guard's hash key when none is configured.
fn derive_hash_key(secrets: &[&[u8]]) -> [u8; 16] {
    let Some(secret) = secrets.first() else {
        return crate::replay::DEFAULT_HASH_KEY;
    };
    let digest = crate::hash::sha256(&[b"alertgate replay guard hash key\0", secret]);
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Everything a [`Gate`] needs, as plain data. `Config::default()` accepts
/// any unsigned, well-formed, fresh alert.
#[derive(Clone, Copy, Debug, Default)]
pub struct Config<'a> {
    /// Signature scheme, secrets and tolerance.
    pub auth: AuthConfig<'a>,
    /// Risk limits.
    pub policy: Policy<'a>,
    /// Source allowlist and body size limit.
    pub network: Network<'a>,
    /// Replay window.
    pub replay: Replay,
    /// Token-bucket rate limit over accepted alerts.
    pub rate: RateConfig,
}

/// One webhook request as received.
#[derive(Clone, Copy, Debug)]
pub struct Request<'r> {
    /// The raw body, exactly as received (signatures cover these bytes).
    pub body: &'r [u8],
    /// Header `(name, value)` pairs; names are matched case-insensitively.
    pub headers: &'r Headers<'r>,
    /// The peer's address, if known.
    pub source_ip: Option<IpAddr>,
    /// The current market price of the alert's symbol, if the caller has
    /// one: used to value market orders that carry no price.
    pub mark_price: Option<Decimal>,
}

/// An accepted alert: everything needed to place the order, owned in
/// fixed-capacity fields so it outlives the request.
///
/// A cancel alert is accepted as an `Order` too, with [`Order::action`]
/// [`Action::Cancel`]: then `side`, `order_type` and `quantity` carry no
/// order (buy, market, 0), the prices and bracket are absent, and nothing
/// may be placed for it. Every consumer matches `action` first.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Order {
    /// The idempotency key: the scheme's id header, else the body's
    /// `event_id`, else `sha256:<first 16 bytes of the body's digest, hex>`.
    pub event_id: EventId,
    /// Normalized `BASE/QUOTE`.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit, stop-loss or take-profit.
    pub order_type: OrderType,
    /// Quantity in base units.
    pub quantity: Decimal,
    /// Limit price, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// Trigger price, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Decimal>,
    /// Signal confidence, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Decimal>,
    /// Protective stop for the position this order opens, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<Decimal>,
    /// Take-profit for the position this order opens, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Decimal>,
    /// Alert time, Unix ms.
    pub timestamp_ms: i64,
    /// Gate clock at acceptance, Unix ms.
    pub accepted_ms: i64,
    /// Place this order, or cancel working ones (left out of the JSON
    /// when placing, so orders read the same as before cancels existed).
    #[serde(skip_serializing_if = "Action::is_place")]
    pub action: Action,
    /// What the replay guard remembers the order by: `event_id`, or, when
    /// that came from an id header the signature does not cover, the body's
    /// event id or digest. Pass it to [`Gate::remember`] when rebuilding.
    #[serde(skip)]
    pub replay_key: EventId,
}

/// The gate: verifies, parses and risk-checks requests, and remembers the
/// event ids it accepted.
///
/// `S` is the replay guard's [`Storage`]; its length is the guard's
/// capacity: how many accepted events can be live inside one window.
/// [`Gate::new`] holds `N` slots inline, `S = [Slot; N]` (on a
/// microcontroller, or wherever the gate is small);
/// [`Gate::with_replay_storage`] takes storage from the caller, such as a
/// boxed slice on a host.
///
/// ```
/// use alertgate_validator::replay::Slot;
/// use alertgate_validator::{Config, Gate, Request};
/// let mut gate: Gate<'_, [Slot; 64]> = Gate::new(Config::default()).unwrap();
/// let body = br#"{"symbol":"BTCUSDT","side":"buy","quantity":0.1,"timestamp":1700000000000}"#;
/// let req = Request { body, headers: &[], source_ip: None, mark_price: None };
/// let order = gate.check(&req, 1_700_000_000_500).unwrap();
/// assert_eq!(order.symbol.as_str(), "BTC/USDT");
/// // The same alert again is a replay.
/// assert_eq!(gate.check(&req, 1_700_000_001_000).unwrap_err().code(), "replayed");
/// ```
///
/// On a host, a guard of any size is built on the heap, never on a stack
/// (`Gate` is then a few hundred bytes):
///
/// ```
/// use alertgate_validator::replay::Slot;
/// use alertgate_validator::{Config, Gate};
/// let slots = vec![Slot::EMPTY; 1 << 20].into_boxed_slice();
/// let gate = Gate::with_replay_storage(Config::default(), slots).unwrap();
/// assert_eq!(gate.replay_capacity(), 1 << 20);
/// ```
pub struct Gate<'a, S> {
    verifier: Verifier,
    policy: Policy<'a>,
    network: Network<'a>,
    replay_window_ms: i64,
    bucket: TokenBucket,
    guard: ReplayGuard<S>,
}

impl<'a, const N: usize> Gate<'a, [Slot; N]> {
    /// Builds a gate, pre-keying one HMAC per secret, whose replay guard
    /// holds `N` slots inline (built in place: nothing is copied). `N` is
    /// the guard's capacity (see [`Gate::with_replay_storage`]); `N = 0` is
    /// refused.
    pub fn new(config: Config<'a>) -> Result<Self, ConfigError> {
        Self::build(config, N, ReplayGuard::with_hash_key)
    }
}

impl<'a, S: Storage> Gate<'a, S> {
    /// Builds a gate, pre-keying one HMAC per secret, with `replay_storage`
    /// as its replay guard's table (emptied first): a boxed slice on a
    /// host (`vec![Slot::EMPTY; n].into_boxed_slice()`), a `&mut [Slot]`, or
    /// an array. Its length is the guard's capacity: how many accepted
    /// events can be live inside one window. Size it at about twice the peak
    /// rate of accepted alerts × `(window + max_future_skew)`; a full guard
    /// fails closed with `replay_cache_full`. Empty storage is refused.
    pub fn with_replay_storage(config: Config<'a>, replay_storage: S) -> Result<Self, ConfigError> {
        let capacity = replay_storage.as_ref().len();
        Self::build(config, capacity, |hash_key| {
            ReplayGuard::with_storage(replay_storage, hash_key)
        })
    }

    /// Checks `config`, then builds the gate with `guard(hash key)`, a guard
    /// of `capacity` empty slots.
    #[inline]
    fn build(
        config: Config<'a>,
        capacity: usize,
        guard: impl FnOnce([u8; 16]) -> ReplayGuard<S>,
    ) -> Result<Self, ConfigError> {
        let verifier = Verifier::new(&config.auth)?;
        if config.policy.max_age_ms < 0 || config.policy.max_future_skew_ms < 0 {
            return Err(ConfigError::InvalidValue {
                setting: "policy.max_age / policy.max_future_skew",
                expected: "a duration of 0 or more",
            });
        }
        let replay_window_ms = config.replay.window_ms.unwrap_or(config.policy.max_age_ms);
        if replay_window_ms < config.policy.max_age_ms {
            return Err(ConfigError::InvalidValue {
                setting: "replay.window",
                expected: "a duration of at least policy.max_age (a shorter window forgets alerts that are still fresh)",
            });
        }
        if capacity == 0 {
            return Err(ConfigError::InvalidValue {
                setting: "replay capacity",
                expected: "at least 1",
            });
        }
        Ok(Gate {
            verifier,
            policy: config.policy,
            network: config.network,
            replay_window_ms,
            bucket: TokenBucket::new(config.rate, 0),
            guard: guard(
                config
                    .replay
                    .hash_key
                    .unwrap_or_else(|| derive_hash_key(config.auth.secrets)),
            ),
        })
    }

    /// Decides one request at time `now_ms` (Unix ms). On success the event
    /// id is recorded and a rate-limit token spent; on rejection nothing
    /// changes.
    pub fn check(&mut self, request: &Request<'_>, now_ms: i64) -> Result<Order, Rejection> {
        net::is_allowed(self.network.allowlist, request.source_ip)?;
        let body = request.body;
        if body.len() > self.network.max_body_bytes {
            return Err(Rejection::BodyTooLarge {
                len: body.len(),
                limit: self.network.max_body_bytes,
            });
        }
        let verified = self.verifier.verify(body, request.headers, now_ms)?;

        let mut raw = RawAlert::empty();
        raw.scan_in_place(body)?;
        self.verifier.check_passphrase(raw.passphrase())?;
        let mut fields = raw.fields(self.policy.quotes)?;

        let timestamp_ms = match (fields.timestamp_ms, verified.signed_at_s) {
            (Some(ms), _) => ms,
            (None, Some(s)) => s.saturating_mul(1000),
            (None, None) if self.policy.require_timestamp => {
                return Err(Rejection::MissingField { field: "timestamp" })
            }
            (None, None) => now_ms,
        };
        self.policy
            .check(&fields, request.mark_price, timestamp_ms, now_ms)?;

        // An id header the signature does not cover (github, timestamped)
        // could be changed by whoever captured a request, turning a replay
        // into a "new" event. Such alerts are remembered by what the
        // signature does cover: the body's event id, else the body's
        // digest. The order still carries the sender's id.
        let (event_id, replay_key) = match verified.event_id {
            Some(header) => {
                let id = header_event_id(header, self.verifier.scheme())?;
                let key = match fields.event_id.take() {
                    _ if verified.event_id_signed => copy_id(&id),
                    Some(body_id) => body_id,
                    None => body_digest_id(body),
                };
                (id, key)
            }
            None => {
                let id = fields
                    .event_id
                    .take()
                    .unwrap_or_else(|| body_digest_id(body));
                (copy_id(&id), id)
            }
        };

        // Rate limit, then replay guard. The bucket is only peeked here and
        // charged once the guard has recorded the event, so neither a replay
        // nor a rate-limited alert spends a token or leaves a record.
        let level = self.bucket.peek(now_ms)?;
        self.guard.try_insert(
            replay_key.as_bytes(),
            now_ms,
            self.replay_lifetime_ms(now_ms, timestamp_ms),
        )?;
        // `peek` just saw a token at this same instant.
        self.bucket.spend(level, now_ms);

        Ok(Order {
            event_id,
            symbol: fields.symbol,
            side: fields.side,
            order_type: fields.order_type,
            quantity: fields.quantity,
            price: fields.price,
            stop_price: fields.stop_price,
            confidence: fields.confidence,
            stop_loss: fields.stop_loss,
            take_profit: fields.take_profit,
            timestamp_ms,
            accepted_ms: now_ms,
            action: fields.action,
            replay_key,
        })
    }

    /// Records an order's [`Order::replay_key`] as accepted at
    /// `accepted_ms` for an alert of time `timestamp_ms` (its
    /// [`Order::timestamp_ms`]) without checking a request: used to rebuild
    /// the guard from a journal after a restart.
    pub fn remember(
        &mut self,
        replay_key: &str,
        accepted_ms: i64,
        timestamp_ms: i64,
    ) -> Result<(), Rejection> {
        self.guard.try_insert(
            replay_key.as_bytes(),
            accepted_ms,
            self.replay_lifetime_ms(accepted_ms, timestamp_ms),
        )
    }

    /// How long after `accepted_ms` the event of an alert of time
    /// `timestamp_ms` is remembered, in ms: through `max(accepted_ms,
    /// timestamp_ms) + window` inclusive (see the [module docs](self)).
    /// Always above 0.
    pub fn replay_lifetime_ms(&self, accepted_ms: i64, timestamp_ms: i64) -> i64 {
        // The guard forgets an entry once its clock reaches the expiry, so
        // the last instant it must still be remembered at is one before.
        let ahead = timestamp_ms.saturating_sub(accepted_ms).max(0);
        ahead
            .saturating_add(self.replay_window_ms)
            .saturating_add(1)
    }

    /// The last instant (Unix ms) at which the event of an order accepted
    /// at `accepted_ms` with alert time `timestamp_ms` is remembered.
    pub fn remembered_until_ms(&self, accepted_ms: i64, timestamp_ms: i64) -> i64 {
        accepted_ms
            .saturating_add(self.replay_lifetime_ms(accepted_ms, timestamp_ms))
            .saturating_sub(1)
    }

    /// Gives back the rate-limit token of an acceptance that did not take
    /// effect after all (a shared replay store found the event already
    /// accepted elsewhere, or could not confirm it), so that it costs no
    /// more than a rejection: neither a replay nor a refused alert spends a
    /// token.
    pub fn refund(&mut self, now_ms: i64) {
        self.bucket.refund(now_ms);
    }

    /// Withdraws an accepted order from the replay guard (by its
    /// [`Order::replay_key`]) when it did not take effect after all, e.g. a
    /// shared replay store failed to confirm it: a retry is then decided
    /// afresh instead of being refused as a replay. Returns whether the key
    /// was remembered.
    pub fn forget(&mut self, replay_key: &str) -> bool {
        self.guard.forget(replay_key.as_bytes())
    }

    /// The risk policy in use.
    pub fn policy(&self) -> &Policy<'a> {
        &self.policy
    }

    /// The signature scheme in use.
    pub fn scheme(&self) -> crate::auth::Scheme {
        self.verifier.scheme()
    }

    /// The replay window, in ms (counted from the later of acceptance and
    /// the alert's time; see [`Gate::replay_lifetime_ms`]).
    pub fn replay_window_ms(&self) -> i64 {
        self.replay_window_ms
    }

    /// Live entries in the replay guard at `now_ms`.
    pub fn replay_live(&self, now_ms: i64) -> usize {
        self.guard.live(now_ms)
    }

    /// The replay guard's capacity: the length of its storage.
    pub fn replay_capacity(&self) -> usize {
        self.guard.capacity()
    }
}

/// The event id of an id header: refused when empty (it would make every
/// such alert one event: the second would be dropped as a replay of the
/// first) or longer than [`crate::alert::EVENT_ID_CAP`] bytes, like a
/// body's `event_id`.
fn header_event_id(value: &str, scheme: crate::auth::Scheme) -> Result<EventId, Rejection> {
    let mut id = EventId::new();
    if value.is_empty() || id.push_str(value).is_err() {
        return Err(Rejection::InvalidField {
            field: scheme.event_id_header().unwrap_or("event_id"),
            value: crate::error::snippet(value.as_bytes()),
            expected: "a non-empty event id of at most 64 bytes",
        });
    }
    Ok(id)
}

/// A copy of `id`: its bytes in one copy (`heapless`'s `clone` copies a
/// byte at a time).
#[inline]
fn copy_id(id: &EventId) -> EventId {
    let mut copy = EventId::new();
    // Same capacity: cannot fail.
    let _ = copy.push_str(id);
    copy
}

/// `sha256:` and the first 16 bytes of the body's SHA-256, in hex: the event
/// id of an alert that carries none.
pub fn body_digest_id(body: &[u8]) -> EventId {
    const HEX: &str = "0123456789abcdef";
    let digest = crate::hash::sha256(&[body]);
    let mut id = EventId::new();
    // 39 ASCII bytes fit the capacity: no push can fail. Each digit is a
    // one-byte slice of `HEX`, already a `str`: pushing `char`s would inline
    // a UTF-8 encoder per push on a Cortex-M, and bytes would need a UTF-8
    // check (and its code) to become a `str`.
    let _ = id.push_str("sha256:");
    for b in &digest[..16] {
        for nibble in [b >> 4, b & 0xf] {
            let at = usize::from(nibble);
            let _ = id.push_str(HEX.get(at..at + 1).unwrap_or_default());
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gate(policy: Policy<'static>, window_ms: Option<i64>) -> Gate<'static, [Slot; 8]> {
        Gate::new(Config {
            policy,
            replay: Replay {
                window_ms,
                hash_key: None,
            },
            ..Config::default()
        })
        .unwrap()
    }

    fn body(time: Option<i64>) -> std::string::String {
        let time = time.map_or(std::string::String::new(), |t| format!(r#","time":{t}"#));
        format!(r#"{{"ticker":"BTCUSDT","action":"buy","qty":"0.1","id":"evt-1"{time}}}"#)
    }

    #[test]
    fn a_cancel_meets_the_symbol_age_rate_and_replay_checks_but_no_order_limit() {
        let d = |s| Decimal::parse(s).unwrap();
        let policy = Policy {
            symbols: &["BTC/USDT"],
            max_quantity: Some(d("0.001")),
            max_order_value: Some(d("1")),
            require_confidence: true,
            max_age_ms: 10_000,
            ..Policy::default()
        };
        let mut gate = gate(policy, None);
        let now = 1_700_000_000_000;
        let cancel = |symbol: &str, id: &str, time: i64| {
            format!(
                r#"{{"ticker":"{symbol}","action":"cancel","cancel":"e1","id":"{id}","time":{time}}}"#
            )
        };
        let mut request = |body: &str| {
            let req = Request {
                body: body.as_bytes(),
                headers: &[],
                source_ip: None,
                mark_price: None,
            };
            gate.check(&req, now)
        };
        let order = request(&cancel("BTCUSDT", "c1", now)).unwrap();
        assert_eq!(
            order.action,
            Action::Cancel(crate::alert::CancelTarget::Event(
                EventId::try_from("e1").unwrap()
            ))
        );
        assert_eq!(
            (order.event_id.as_str(), order.quantity),
            ("c1", Decimal::ZERO)
        );
        let codes: std::vec::Vec<_> = [
            cancel("BTCUSDT", "c1", now),
            cancel("ETHUSDT", "c2", now),
            cancel("BTCUSDT", "c3", now - 20_000),
        ]
        .iter()
        .map(|b| request(b).map(|_| ()).map_err(|e| e.code()))
        .collect();
        assert_eq!(
            codes,
            [Err("replayed"), Err("symbol_not_allowed"), Err("stale")]
        );
        // The same limits refuse an order.
        let buy = r#"{"ticker":"BTCUSDT","action":"buy","qty":"1","id":"b1","time":1700000000000}"#;
        assert_eq!(request(buy).unwrap_err().code(), "below_confidence");
    }

    #[test]
    fn a_cancel_is_written_with_its_action_and_an_order_without_one() {
        let mut gate = gate(Policy::default(), None);
        let mut write = |body: &str| {
            let req = Request {
                body: body.as_bytes(),
                headers: &[],
                source_ip: None,
                mark_price: None,
            };
            let order = gate.check(&req, 1_700_000_000_000).unwrap();
            let mut buf = [0u8; 512];
            let n = crate::encode::write_order(&order, &mut buf).unwrap();
            std::string::String::from_utf8(buf[..n].to_vec()).unwrap()
        };
        let text = write(r#"{"symbol":"BTCUSDT","side":"cancel","id":"c","time":1700000000000}"#);
        assert!(text.contains(r#""quantity":"0""#), "{text}");
        assert!(text.ends_with(r#""action":{"cancel":"symbol"}}"#), "{text}");
        let text =
            write(r#"{"symbol":"BTCUSDT","side":"buy","qty":1,"id":"b","time":1700000000000}"#);
        assert!(!text.contains("action"), "{text}");
    }

    fn decide<S: Storage>(gate: &mut Gate<'_, S>, body: &str, now_ms: i64) -> &'static str {
        let request = Request {
            body: body.as_bytes(),
            headers: &[],
            source_ip: None,
            mark_price: None,
        };
        match gate.check(&request, now_ms) {
            Ok(_) => "accepted",
            Err(e) => e.code(),
        }
    }

    /// The issue's reproduction: an alert stamped 59 s ahead, copied 300.5 s
    /// after its acceptance, is still fresh and must be a replay.
    #[test]
    fn a_copy_is_remembered_while_it_is_fresh() {
        let mut gate = gate(Policy::default(), None);
        let alert = body(Some(1_704_070_859_000));
        assert_eq!(decide(&mut gate, &alert, 1_704_070_800_000), "accepted");
        assert_eq!(decide(&mut gate, &alert, 1_704_071_100_500), "replayed");
        // Fresh through its last instant (age = max_age exactly)...
        assert_eq!(decide(&mut gate, &alert, 1_704_071_159_000), "replayed");
        // ...and stale after it: forgotten only then.
        assert_eq!(decide(&mut gate, &alert, 1_704_071_159_001), "stale");
        assert_eq!(gate.replay_live(1_704_071_159_001), 0);
    }

    #[test]
    fn a_window_shorter_than_max_age_is_refused() {
        let policy = Policy::default();
        let short = Gate::<[Slot; 8]>::new(Config {
            policy,
            replay: Replay {
                window_ms: Some(policy.max_age_ms - 1),
                hash_key: None,
            },
            ..Config::default()
        });
        assert!(matches!(
            short.err(),
            Some(ConfigError::InvalidValue {
                setting: "replay.window",
                ..
            })
        ));
        assert_eq!(
            gate(policy, Some(policy.max_age_ms)).replay_window_ms(),
            300_000
        );
        // max_age 0: an alert is fresh for one instant, and remembered then.
        let zero = Policy {
            max_age_ms: 0,
            max_future_skew_ms: 0,
            ..Policy::default()
        };
        let mut g = gate(zero, None);
        let t = 1_704_070_800_000;
        assert_eq!(decide(&mut g, &body(Some(t)), t), "accepted");
        assert_eq!(decide(&mut g, &body(Some(t)), t), "replayed");
        assert_eq!(decide(&mut g, &body(Some(t)), t + 1), "stale");
    }

    #[test]
    fn remember_keeps_what_check_kept() {
        let policy = Policy::default();
        let mut live = gate(policy, None);
        let alert = body(Some(1_704_070_860_000));
        let accepted_ms = 1_704_070_800_000;
        let request = Request {
            body: alert.as_bytes(),
            headers: &[],
            source_ip: None,
            mark_price: None,
        };
        let order = live.check(&request, accepted_ms).unwrap();
        let until = live.remembered_until_ms(accepted_ms, order.timestamp_ms);
        assert_eq!(until, 1_704_070_860_000 + 300_000);
        let mut rebuilt = gate(policy, None);
        rebuilt
            .remember(order.replay_key.as_str(), accepted_ms, order.timestamp_ms)
            .unwrap();
        assert_eq!(decide(&mut rebuilt, &alert, until), "replayed");
        assert_eq!(decide(&mut rebuilt, &alert, until + 1), "stale");
    }

    #[cfg(feature = "scheme-github")]
    #[test]
    fn an_empty_or_over_long_id_header_is_refused_naming_it() {
        let secrets: [&[u8]; 1] = [b"s3cret"];
        let mut gate: Gate<'_, [Slot; 8]> = Gate::new(Config {
            auth: AuthConfig {
                scheme: crate::auth::Scheme::Github,
                secrets: &secrets,
                ..AuthConfig::default()
            },
            ..Config::default()
        })
        .unwrap();
        let now = 1_704_070_800_000;
        let alert = body(Some(now));
        let signed = crate::auth::sign(
            crate::auth::Scheme::Github,
            b"s3cret",
            alert.as_bytes(),
            0,
            "",
        )
        .unwrap();
        let long = "x".repeat(65);
        for id in ["", long.as_str()] {
            let headers = [
                (signed[0].0, signed[0].1.as_str()),
                ("X-GitHub-Delivery", id),
            ];
            let request = Request {
                body: alert.as_bytes(),
                headers: &headers,
                source_ip: None,
                mark_price: None,
            };
            let err = gate.check(&request, now).unwrap_err();
            assert_eq!(err.code(), "invalid_field");
            let message = std::format!("{err}");
            assert!(message.contains("X-GitHub-Delivery"), "{message}");
        }
        assert_eq!(gate.replay_live(now), 0);
    }

    proptest! {
        /// For any freshness settings, window and arrival times, an alert
        /// accepted once is refused as a replay whenever a copy would still
        /// pass the staleness check.
        #[test]
        fn an_accepted_alert_is_never_accepted_again_while_fresh(
            max_age_s in 0i64..1_000,
            skew_s in 0i64..1_000,
            extra_window_ms in proptest::option::of(0i64..2_000_000),
            alert_offset_ms in -1_100_000i64..1_100_000,
            first_ms in 0i64..1_000_000,
            later_ms in proptest::collection::vec(0i64..2_500_000, 1..6),
            others in proptest::collection::vec(0i64..2_000_000, 0..6),
        ) {
            let policy = Policy {
                max_age_ms: max_age_s * 1000,
                max_future_skew_ms: skew_s * 1000,
                ..Policy::default()
            };
            let window = extra_window_ms.map(|w| policy.max_age_ms + w);
            let mut g = gate(policy, window);
            let t0 = 1_700_000_000_000i64;
            let accepted_at = t0 + first_ms;
            let alert_ms = accepted_at + alert_offset_ms;
            let alert = body(Some(alert_ms));
            let first = decide(&mut g, &alert, accepted_at);
            let fresh = |now: i64| {
                now - alert_ms <= policy.max_age_ms && alert_ms - now <= policy.max_future_skew_ms
            };
            prop_assert_eq!(first == "accepted", fresh(accepted_at));
            prop_assume!(first == "accepted");
            // Later copies at non-decreasing times, other alerts between.
            let mut now = accepted_at;
            let mut times: std::vec::Vec<i64> = later_ms.iter().map(|d| accepted_at + d).collect();
            times.sort_unstable();
            for (i, t) in times.into_iter().enumerate() {
                if let Some(o) = others.get(i) {
                    let other = format!(r#"{{"ticker":"BTCUSDT","action":"buy","qty":"0.1","id":"o{i}","time":{}}}"#, t0 + o);
                    decide(&mut g, &other, now.max(t));
                }
                now = now.max(t);
                let again = decide(&mut g, &alert, now);
                prop_assert_ne!(again, "accepted", "accepted again at +{} ms", now - accepted_at);
                if fresh(now) {
                    prop_assert_eq!(again, "replayed");
                }
            }
        }

        /// Without a timestamp every copy is fresh: the window alone
        /// protects, counted from acceptance.
        #[test]
        fn untimed_alerts_are_remembered_for_the_window(
            window_s in 0i64..1_000,
            delay_ms in 0i64..2_000_000,
        ) {
            let policy = Policy { require_timestamp: false, ..Policy::default() };
            let window_ms = policy.max_age_ms + window_s * 1000;
            let mut g = gate(policy, Some(window_ms));
            let alert = body(None);
            let t = 1_700_000_000_000i64;
            prop_assert_eq!(decide(&mut g, &alert, t), "accepted");
            let again = decide(&mut g, &alert, t + delay_ms);
            let expected = if delay_ms <= window_ms { "replayed" } else { "accepted" };
            prop_assert_eq!(again, expected);
        }
    }
}

/// How escapes in the body change decisions (they must not).
#[cfg(all(test, feature = "scheme-passphrase"))]
mod escaping_tests {
    use proptest::prelude::*;

    use super::*;
    use crate::auth::Scheme;
    use crate::json::tests::{literal, text_char};

    const NOW: i64 = 1_700_000_000_000;

    /// Some text, biased towards the characters that need care in JSON.
    fn text(len: core::ops::Range<usize>) -> impl Strategy<Value = String> {
        prop::collection::vec(text_char(), len).prop_map(String::from_iter)
    }

    proptest! {
        /// However the sender escapes the passphrase and the side, the
        /// gate decides as for the same text written plainly, and that
        /// decision is the text's.
        #[test]
        fn escaping_changes_no_decision(
            secret in text(1..16),
            guess in proptest::option::of(text(0..16)),
            side in prop_oneof![
                prop::sample::select(vec!["buy", "Sell", "SELL", "bUy"]).prop_map(String::from),
                text(0..6),
            ],
            hows in prop::collection::vec(0u8..4, 32),
        ) {
            let passphrase = guess.unwrap_or_else(|| secret.clone());
            let secrets = [secret.as_bytes()];
            let decide = |passphrase: &str, side: &str| {
                let config = Config {
                    auth: AuthConfig {
                        scheme: Scheme::Passphrase,
                        secrets: &secrets,
                        ..AuthConfig::default()
                    },
                    ..Config::default()
                };
                let mut gate: Gate<'_, [Slot; 4]> = Gate::new(config).unwrap();
                let body = format!(
                    r#"{{"passphrase":{passphrase},"symbol":"BTCUSDT","side":{side},"quantity":1,"timestamp":{NOW},"id":"e1"}}"#
                );
                let request = Request {
                    body: body.as_bytes(),
                    headers: &[],
                    source_ip: None,
                    mark_price: None,
                };
                gate.check(&request, NOW).map_err(|e| e.code())
            };
            let plain = decide(
                &serde_json::to_string(&passphrase).unwrap(),
                &serde_json::to_string(&side).unwrap(),
            );
            let escaped = decide(&literal(&passphrase, &hows), &literal(&side, &hows[16..]));
            prop_assert_eq!(&plain, &escaped);
            let side = side.to_ascii_lowercase();
            let want = if passphrase != secret {
                Err("bad_signature")
            } else if side != "buy" && side != "sell" {
                Err("invalid_field")
            } else {
                Ok(side.as_str())
            };
            prop_assert_eq!(plain.map(|order| order.side.name()), want);
        }
    }
}
