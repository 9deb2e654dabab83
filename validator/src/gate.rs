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
//! | 5 | fields | `missing_field`, `invalid_field`, `missing_price` |
//! | 6 | policy (see [`crate::policy`]) | `below_confidence` … `from_future` |
//! | 7 | rate limit | `rate_limited` |
//! | 8 | replay guard | `replayed`, `replay_cache_full` |
//!
//! Only a request that passes every check consumes a rate-limit token and is
//! recorded in the replay guard, so rejected traffic cannot crowd out good
//! alerts in either. The gate owns no clock: `now_ms` is a parameter.

use core::net::IpAddr;

use crate::alert::{EventId, OrderType, RawAlert, Side};
use crate::auth::{AuthConfig, Headers, Verifier};
use crate::decimal::Decimal;
use crate::error::{ConfigError, Rejection};
use crate::net::{self, Cidr};
use crate::policy::Policy;
use crate::rate::{RateConfig, TokenBucket};
use crate::replay::ReplayGuard;
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

/// Replay guard settings (its capacity is the gate's `REPLAY` parameter).
#[derive(Clone, Copy, Default)]
pub struct Replay {
    /// How long an accepted event id is remembered, in ms. Default `None`:
    /// the policy's `max_age_ms`, so any alert fresh enough to pass the
    /// staleness check is still remembered when it is replayed.
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
    /// What the replay guard remembers the order by: `event_id`, or, when
    /// that came from an id header the signature does not cover, the body's
    /// event id or digest. Pass it to [`Gate::remember`] when rebuilding.
    #[serde(skip)]
    pub replay_key: EventId,
}

/// The gate: verifies, parses and risk-checks requests, and remembers the
/// event ids it accepted.
///
/// `REPLAY` is the replay guard's capacity: how many accepted events can be
/// live inside one window. Sized for the peak alert rate × window; when full
/// the gate fails closed with `replay_cache_full`.
///
/// ```
/// use alertgate_validator::{Config, Gate, Request};
/// let mut gate: Gate<'_, 64> = Gate::new(Config::default()).unwrap();
/// let body = br#"{"symbol":"BTCUSDT","side":"buy","quantity":0.1,"timestamp":1700000000000}"#;
/// let req = Request { body, headers: &[], source_ip: None, mark_price: None };
/// let order = gate.check(&req, 1_700_000_000_500).unwrap();
/// assert_eq!(order.symbol.as_str(), "BTC/USDT");
/// // The same alert again is a replay.
/// assert_eq!(gate.check(&req, 1_700_000_001_000).unwrap_err().code(), "replayed");
/// ```
pub struct Gate<'a, const REPLAY: usize> {
    verifier: Verifier,
    policy: Policy<'a>,
    network: Network<'a>,
    replay_window_ms: i64,
    bucket: TokenBucket,
    guard: ReplayGuard<REPLAY>,
}

impl<'a, const REPLAY: usize> Gate<'a, REPLAY> {
    /// Builds a gate, pre-keying one HMAC per secret.
    pub fn new(config: Config<'a>) -> Result<Self, ConfigError> {
        let verifier = Verifier::new(&config.auth)?;
        if config.policy.max_age_ms < 0 || config.policy.max_future_skew_ms < 0 {
            return Err(ConfigError::InvalidValue {
                setting: "policy.max_age / policy.max_future_skew",
                expected: "a duration of 0 or more",
            });
        }
        let replay_window_ms = config.replay.window_ms.unwrap_or(config.policy.max_age_ms);
        if replay_window_ms <= 0 {
            return Err(ConfigError::InvalidValue {
                setting: "replay.window",
                expected: "a duration above 0",
            });
        }
        if REPLAY == 0 {
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
            guard: ReplayGuard::with_hash_key(
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

        let mut raw = RawAlert::EMPTY;
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
                let mut id = EventId::new();
                id.push_str(header).map_err(|_| Rejection::InvalidField {
                    field: "event_id",
                    value: crate::error::snippet(header.as_bytes()),
                    expected: "an event id header of at most 64 bytes",
                })?;
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
        self.guard
            .try_insert(replay_key.as_bytes(), now_ms, self.replay_window_ms)?;
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
            replay_key,
        })
    }

    /// Records an order's [`Order::replay_key`] as accepted at
    /// `accepted_ms` without checking a request: used to rebuild the guard
    /// from a journal after a restart.
    pub fn remember(&mut self, replay_key: &str, accepted_ms: i64) -> Result<(), Rejection> {
        self.guard
            .try_insert(replay_key.as_bytes(), accepted_ms, self.replay_window_ms)
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

    /// The signature scheme in use.
    pub fn scheme(&self) -> crate::auth::Scheme {
        self.verifier.scheme()
    }

    /// The replay window, in ms.
    pub fn replay_window_ms(&self) -> i64 {
        self.replay_window_ms
    }

    /// Live entries in the replay guard at `now_ms`.
    pub fn replay_live(&self, now_ms: i64) -> usize {
        self.guard.live(now_ms)
    }
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

#[cfg(all(test, feature = "scheme-passphrase"))]
mod tests {
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
                let mut gate: Gate<'_, 4> = Gate::new(config).unwrap();
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
