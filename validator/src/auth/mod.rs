//! Authentication: who may send an alert.
//!
//! A gate uses exactly one [`Scheme`]. All signing schemes are HMAC-SHA256
//! over the raw body (plus, for the timestamped ones, the timestamp and id),
//! and differ only in header layout and encoding:
//!
//! | scheme | header(s) | signed bytes | encoding |
//! |---|---|---|---|
//! | `none` | — | — | — |
//! | `passphrase` | body field `passphrase` | — (constant-time equality) | — |
//! | `hex-body` | `X-Webhook-Signature` (configurable) | `body` | hex, optional `sha256=` |
//! | `github` | `X-Hub-Signature-256`, id `X-GitHub-Delivery` | `body` | `sha256=<hex>` |
//! | `timestamped` | `X-Tradeeon-Signature: t=<s>,s=<hex>`, id `X-Tradeeon-EventId` | `t.body` | hex |
//! | `stripe` | `Stripe-Signature: t=<s>,v1=<hex>[,v1=..]` | `t.body` | hex |
//! | `standard-webhooks` | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> ..` | `id.t.body` | base64 |
//!
//! Design choices, and why:
//!
//! - **Pre-keyed MACs.** [`Verifier::new`] keys one HMAC-SHA256 per secret
//!   (up to [`MAX_SECRETS`], for rotation) once, keeping only the inner and
//!   outer chaining values; each request starts from a copy of them, so the
//!   key schedule (two compression calls) is never repeated and the secret
//!   bytes are not kept. The HMAC is a small one of our own on `sha2`'s
//!   compression function (see `hmac_sha256.rs`: the generic `hmac` crate
//!   costs ~2 KiB of flash on a Cortex-M).
//! - **Exact bytes.** The MAC is fed the timestamp and id *as received* and
//!   the body as separate `update` calls: nothing is re-formatted and nothing
//!   is concatenated into a buffer, so there is no allocation and no size
//!   limit besides the body's own.
//! - **Constant time.** Hex is decoded and encoded without branches or
//!   table lookups on the digits (a one-digit-at-a-time decoder on bare
//!   metal, eight at a time elsewhere), base64 with `base64ct`, and tags
//!   are compared with `subtle`; passphrases are compared (decoded from
//!   their JSON escapes) as SHA-256 digests, so neither their length nor
//!   their content shows in the timing.
//!   With several secrets the loop stops at the first secret that matches:
//!   that reveals only which secret a *valid* sender used.
//! - **Strict parsing.** A header that is present twice, empty, or cannot be
//!   parsed is [`Rejection::MalformedSignature`], never "try the other one".
//!   The signature lists of `stripe` and `standard-webhooks` are read as
//!   their reference libraries read them: entries that are not readable
//!   signatures (no `=` or comma, another version or key, another length, a
//!   character that is not hex or base64) are skipped, and the header is
//!   malformed only if no entry is readable, past the bounds
//!   [`MAX_SIGNATURES`] readable signatures and [`MAX_LIST_ENTRIES`] entries
//!   (nothing past them is read), or, for `stripe`, if `t=` is missing,
//!   repeated or not digits.
//! - **Freshness.** Timestamped schemes accept `|now_s − t| ≤ tolerance_s`
//!   with `now_s = ⌊now_ms / 1000⌋`, in both directions, checked *after* the
//!   MAC: [`Rejection::SignatureExpired`] therefore always means "genuine but
//!   too old (or clock skew)", never "forged".
//!
//! ```
//! # #[cfg(feature = "scheme-timestamped")] {
//! use alertgate_validator::auth::{sign, AuthConfig, Scheme, Verifier};
//!
//! let secrets: [&[u8]; 1] = [b"s3cret"];
//! let cfg = AuthConfig { scheme: Scheme::Timestamped, secrets: &secrets, ..AuthConfig::default() };
//! let verifier = Verifier::new(&cfg).unwrap();
//!
//! let body = br#"{"ticker":"BTCUSDT","action":"buy"}"#;
//! let signed = sign(Scheme::Timestamped, b"s3cret", body, 1_700_000_000, "evt-1").unwrap();
//! let headers: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
//!
//! let ok = verifier.verify(body, &headers, 1_700_000_000_000).unwrap();
//! assert_eq!(ok.event_id, Some("evt-1"));
//! assert_eq!(ok.signed_at_s, Some(1_700_000_000));
//! // Ten minutes later the same request is refused.
//! let late = verifier.verify(body, &headers, 1_700_000_600_000).unwrap_err();
//! assert_eq!(late.code(), "signature_expired");
//! // A changed body is refused.
//! let forged = verifier.verify(b"{}", &headers, 1_700_000_000_000).unwrap_err();
//! assert_eq!(forged.code(), "bad_signature");
//! # }
//! ```

use core::fmt;

#[cfg(feature = "_hmac")]
use subtle::{Choice, ConstantTimeEq};

#[cfg(feature = "_hmac")]
use crate::error::snippet;
use crate::error::{ConfigError, Rejection};
use crate::json::JsonStr;

// One module per scheme, each behind its cargo feature (see Cargo.toml).
#[cfg(feature = "scheme-github")]
mod github;
mod headers;
#[cfg(feature = "scheme-hex-body")]
mod hex_body;
#[cfg(feature = "_hmac")]
mod hmac_sha256;
#[cfg(feature = "scheme-passphrase")]
mod passphrase;
#[cfg(feature = "scheme-standard-webhooks")]
mod standard_webhooks;
#[cfg(feature = "scheme-stripe")]
mod stripe;
#[cfg(feature = "scheme-timestamped")]
mod timestamped;

// Default header names live here rather than in the scheme modules so that
// `Scheme::default_header` answers for every scheme, compiled in or not.
/// `hex-body`'s default signature header.
const HEX_BODY_HEADER: &str = "X-Webhook-Signature";
/// `github`'s signature header.
const GITHUB_HEADER: &str = "X-Hub-Signature-256";
/// `timestamped`'s signature header.
const TIMESTAMPED_HEADER: &str = "X-Tradeeon-Signature";
/// `stripe`'s signature header.
const STRIPE_HEADER: &str = "Stripe-Signature";
/// `standard-webhooks`' signature header.
const STANDARD_WEBHOOKS_HEADER: &str = "webhook-signature";

pub use headers::{header, Headers};

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts` under `key`: the
/// gate's own implementation, for callers that sign requests of their own
/// (a gateway signing a venue's REST requests).
///
/// ```
/// # #[cfg(feature = "_hmac")] {
/// // RFC 4231, test case 2.
/// let tag = alertgate_validator::auth::hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
/// assert_eq!(tag[..4], [0x5b, 0xdc, 0xc1, 0x46]);
/// # }
/// ```
#[cfg(feature = "_hmac")]
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    hmac_sha256::HmacSha256::new(key).tag(parts)
}

/// Most secrets a gate holds at once (current plus those being rotated out).
pub const MAX_SECRETS: usize = 4;

/// Default freshness tolerance of the timestamped schemes, in seconds.
pub const DEFAULT_TOLERANCE_S: u32 = 300;

/// Longest signature header name [`AuthConfig::header`] may set, in bytes.
pub const MAX_HEADER_NAME: usize = 64;

/// Most readable signatures one `stripe` or `standard-webhooks` header may
/// carry (senders add one per active secret). Entries that are skipped as
/// unreadable do not count; a ninth readable signature makes the header
/// malformed, and nothing after it is read.
pub const MAX_SIGNATURES: usize = 8;

/// Most entries one `stripe` or `standard-webhooks` header may carry, readable
/// or not: comma-separated parts of `Stripe-Signature` (`t=` included),
/// space-separated pieces of `webhook-signature` (empty ones, from repeated
/// spaces, included). A header with more is malformed, and nothing after the
/// limit is read. Per entry the work is a search for its end, a length check
/// and, only at a signature's exact length, one constant-time decode; the
/// MACs are computed once per secret, not per entry. (A header's length is
/// the HTTP layer's to bound: the gateway's hyper server refuses request
/// heads over 408 KiB.)
pub const MAX_LIST_ENTRIES: usize = 32;

/// Longest accepted timestamp, in decimal digits. Twelve digits reach the
/// year 5138 and keep every time difference far from `i64` overflow.
pub const MAX_TIMESTAMP_DIGITS: usize = 12;

/// Capacity of one value in [`SignedHeaders`], in bytes.
pub const SIGNED_VALUE_CAP: usize = 160;

#[cfg(feature = "_hmac")]
use hmac_sha256::HmacSha256;

/// A SHA-256 output / HMAC-SHA256 tag.
#[cfg(any(feature = "scheme-passphrase", feature = "_hmac"))]
type Tag = [u8; 32];

/// How a gate authenticates requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scheme {
    /// No authentication (only for use behind another authenticating layer).
    #[default]
    None,
    /// A shared passphrase in the body's `passphrase` field (TradingView's
    /// direct webhooks cannot sign or set headers).
    Passphrase,
    /// Hex HMAC-SHA256 of the body in one header (`X-Webhook-Signature` by
    /// default), optionally prefixed `sha256=`.
    HexBody,
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body.
    Github,
    /// `X-Tradeeon-Signature: t=<unix s>,s=<hex>` over `"<t>.<body>"`.
    Timestamped,
    /// Stripe: `Stripe-Signature: t=<unix s>,v1=<hex>[,v1=<hex>..]` over
    /// `"<t>.<body>"`.
    Stripe,
    /// Standard Webhooks (Svix): `webhook-signature: v1,<base64> ..` over
    /// `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with the base64
    /// secret after its `whsec_` prefix.
    StandardWebhooks,
}

impl Scheme {
    /// Every scheme, in declaration order.
    pub const ALL: [Scheme; 7] = [
        Scheme::None,
        Scheme::Passphrase,
        Scheme::HexBody,
        Scheme::Github,
        Scheme::Timestamped,
        Scheme::Stripe,
        Scheme::StandardWebhooks,
    ];

    /// The scheme's configuration name.
    ///
    /// ```
    /// use alertgate_validator::auth::Scheme;
    /// for s in Scheme::ALL {
    ///     assert_eq!(Scheme::from_name(s.name()), Some(s));
    /// }
    /// assert_eq!(Scheme::StandardWebhooks.name(), "standard-webhooks");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Scheme::None => "none",
            Scheme::Passphrase => "passphrase",
            Scheme::HexBody => "hex-body",
            Scheme::Github => "github",
            Scheme::Timestamped => "timestamped",
            Scheme::Stripe => "stripe",
            Scheme::StandardWebhooks => "standard-webhooks",
        }
    }

    /// The scheme called `name` (exact, lowercase), if any.
    pub fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Default name of the header carrying the signature; `None` for `none`
    /// and `passphrase`.
    pub fn default_header(self) -> Option<&'static str> {
        match self {
            Scheme::None | Scheme::Passphrase => None,
            Scheme::HexBody => Some(HEX_BODY_HEADER),
            Scheme::Github => Some(GITHUB_HEADER),
            Scheme::Timestamped => Some(TIMESTAMPED_HEADER),
            Scheme::Stripe => Some(STRIPE_HEADER),
            Scheme::StandardWebhooks => Some(STANDARD_WEBHOOKS_HEADER),
        }
    }

    /// Name of the header carrying the sender's event id, for the schemes
    /// that have one (`github`, `timestamped`, `standard-webhooks`) and are
    /// compiled in.
    pub fn event_id_header(self) -> Option<&'static str> {
        match self {
            #[cfg(feature = "scheme-github")]
            Scheme::Github => Some(github::ID_HEADER),
            #[cfg(feature = "scheme-timestamped")]
            Scheme::Timestamped => Some(timestamped::ID_HEADER),
            #[cfg(feature = "scheme-standard-webhooks")]
            Scheme::StandardWebhooks => Some(standard_webhooks::ID_HEADER),
            _ => None,
        }
    }

    /// Whether this build can verify the scheme: each scheme but `none` is
    /// behind a cargo feature (`scheme-passphrase`, `scheme-hex-body`,
    /// `scheme-github`, `scheme-timestamped`, `scheme-stripe`,
    /// `scheme-standard-webhooks`; all on by default).
    ///
    /// ```
    /// use alertgate_validator::auth::Scheme;
    /// assert!(Scheme::None.is_compiled_in());
    /// ```
    pub const fn is_compiled_in(self) -> bool {
        match self {
            Scheme::None => true,
            Scheme::Passphrase => cfg!(feature = "scheme-passphrase"),
            Scheme::HexBody => cfg!(feature = "scheme-hex-body"),
            Scheme::Github => cfg!(feature = "scheme-github"),
            Scheme::Timestamped => cfg!(feature = "scheme-timestamped"),
            Scheme::Stripe => cfg!(feature = "scheme-stripe"),
            Scheme::StandardWebhooks => cfg!(feature = "scheme-standard-webhooks"),
        }
    }

    /// Whether the scheme signs a timestamp (and so enforces a tolerance).
    pub fn is_timestamped(self) -> bool {
        matches!(
            self,
            Scheme::Timestamped | Scheme::Stripe | Scheme::StandardWebhooks
        )
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Authentication settings of one gate.
///
/// Borrowed, so a configuration can live in flash (`static`) or in the
/// caller's parsed config; [`Verifier::new`] copies what it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthConfig<'a> {
    /// Scheme. Default: [`Scheme::None`].
    pub scheme: Scheme,
    /// Secrets, raw bytes, 1 to [`MAX_SECRETS`] (none for `none`). A request
    /// signed with any of them is accepted, which allows rotation without
    /// downtime. For `standard-webhooks` each is the `whsec_<base64>` string
    /// (prefix optional); for every other scheme the bytes are the HMAC key
    /// or passphrase as given. Default: empty.
    pub secrets: &'a [&'a [u8]],
    /// Overrides the name of the signature header (HTTP token, 1 to
    /// [`MAX_HEADER_NAME`] bytes); timestamp and event-id header names are
    /// fixed. Not allowed for `none` and `passphrase`. Default: `None` (the
    /// scheme's [`Scheme::default_header`]).
    pub header: Option<&'a str>,
    /// Largest accepted distance between the signed timestamp and the gate
    /// clock, either direction, in seconds. Used by `timestamped`, `stripe`
    /// and `standard-webhooks`. Default: [`DEFAULT_TOLERANCE_S`] (300 s).
    pub tolerance_s: u32,
}

impl Default for AuthConfig<'_> {
    fn default() -> Self {
        AuthConfig {
            scheme: Scheme::None,
            secrets: &[],
            header: None,
            tolerance_s: DEFAULT_TOLERANCE_S,
        }
    }
}

/// What a successful [`Verifier::verify`] learned from the headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Verified<'r> {
    /// The sender's event id from the scheme's id header (`X-GitHub-Delivery`,
    /// `X-Tradeeon-EventId`, `webhook-id`), as received; `None` if the scheme
    /// has none or the header is absent.
    pub event_id: Option<&'r str>,
    /// Whether `event_id` is covered by the signature (only
    /// `standard-webhooks`). An unsigned id can be changed by whoever replays
    /// a captured request, so a replay guard should not rely on it alone.
    pub event_id_signed: bool,
    /// The signed timestamp, Unix seconds, for the timestamped schemes.
    pub signed_at_s: Option<i64>,
}

/// Header(s) produced by [`sign`]: `(name, value)` pairs, at most three.
pub type SignedHeaders = heapless::Vec<(&'static str, heapless::String<SIGNED_VALUE_CAP>), 3>;

/// Pre-keyed secrets of one gate.
// The MAC variant is the large one (4 × 64 bytes) and the one every signing
// gate uses; boxing is not an option without an allocator.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Keys {
    /// `none`.
    None,
    /// `passphrase`: SHA-256 of each secret.
    #[cfg(feature = "scheme-passphrase")]
    Digests(heapless::Vec<Tag, MAX_SECRETS>),
    /// Every HMAC scheme: one pre-keyed MAC per secret.
    #[cfg(feature = "_hmac")]
    Macs(heapless::Vec<HmacSha256, MAX_SECRETS>),
}

/// Checks requests against one gate's [`AuthConfig`].
///
/// Holds no secret bytes: only pre-keyed HMAC states (or passphrase
/// digests). `Debug` prints the scheme, header, tolerance and number of
/// secrets, never key material.
#[derive(Clone)]
pub struct Verifier {
    scheme: Scheme,
    header: heapless::String<MAX_HEADER_NAME>,
    tolerance_s: u32,
    keys: Keys,
}

// A whole gate must fit in 4 KiB; the verifier is the largest part of it.
const _: () = assert!(core::mem::size_of::<Verifier>() <= 1024);

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets = match &self.keys {
            Keys::None => 0,
            #[cfg(feature = "scheme-passphrase")]
            Keys::Digests(d) => d.len(),
            #[cfg(feature = "_hmac")]
            Keys::Macs(m) => m.len(),
        };
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme)
            .field("header", &self.header.as_str())
            .field("tolerance_s", &self.tolerance_s)
            .field("secrets", &secrets)
            .finish()
    }
}

impl Verifier {
    /// Validates `cfg` and pre-keys its secrets.
    ///
    /// Errors: [`ConfigError::TooManySecrets`] above [`MAX_SECRETS`];
    /// [`ConfigError::NoSecret`] for a signing scheme without secrets;
    /// [`ConfigError::BadSecret`] for an empty secret or a
    /// `standard-webhooks` secret that is not base64;
    /// [`ConfigError::InvalidValue`] for a scheme not compiled into this
    /// build (see [`Scheme::is_compiled_in`]), secrets given to `none`, a
    /// header override on `none`/`passphrase`, or a header name that is
    /// empty, too long or not an HTTP token.
    ///
    /// ```
    /// # #[cfg(feature = "scheme-github")] {
    /// use alertgate_validator::auth::{AuthConfig, Scheme, Verifier};
    /// let cfg = AuthConfig { scheme: Scheme::Github, ..AuthConfig::default() };
    /// assert_eq!(Verifier::new(&cfg).unwrap_err().code(), "no_secret");
    /// # }
    /// ```
    pub fn new(cfg: &AuthConfig<'_>) -> Result<Self, ConfigError> {
        let scheme = cfg.scheme;
        if !scheme.is_compiled_in() {
            return Err(NOT_COMPILED_IN);
        }
        if cfg.secrets.len() > MAX_SECRETS {
            return Err(ConfigError::TooManySecrets {
                given: cfg.secrets.len(),
                max: MAX_SECRETS,
            });
        }
        if scheme == Scheme::None {
            if !cfg.secrets.is_empty() {
                // Most likely the operator forgot to pick a scheme.
                return Err(ConfigError::InvalidValue {
                    setting: "auth.secrets",
                    expected: "no secrets with scheme none (choose a signing scheme)",
                });
            }
        } else if cfg.secrets.is_empty() {
            return Err(ConfigError::NoSecret {
                scheme: scheme.name(),
            });
        }
        if let Some(index) = cfg.secrets.iter().position(|s| s.is_empty()) {
            return Err(ConfigError::BadSecret {
                index,
                reason: "secret is empty",
            });
        }

        // Only a build without any scheme but `none` never writes `keys`.
        #[allow(unused_mut)]
        let mut verifier = Verifier {
            scheme,
            header: header_name(scheme, cfg.header)?,
            tolerance_s: cfg.tolerance_s,
            keys: Keys::None,
        };
        // The keys are written in place: a `Verifier` is ~340 bytes, and
        // every copy of it is code on a Cortex-M.
        match scheme {
            Scheme::None => {}
            #[cfg(feature = "scheme-passphrase")]
            Scheme::Passphrase => {
                verifier.keys = Keys::Digests(heapless::Vec::new());
                if let Keys::Digests(digests) = &mut verifier.keys {
                    for secret in cfg.secrets {
                        // Cannot fail: at most MAX_SECRETS secrets (checked above).
                        let _ = digests.push(passphrase::digest(secret));
                    }
                }
            }
            #[cfg(feature = "_hmac")]
            _ => {
                verifier.keys = Keys::Macs(heapless::Vec::new());
                if let Keys::Macs(macs) = &mut verifier.keys {
                    for (index, secret) in cfg.secrets.iter().enumerate() {
                        // Cannot fail: at most MAX_SECRETS secrets (checked above).
                        let _ = macs.push(mac_key(scheme, secret, index)?);
                    }
                }
            }
            // Every scheme that reaches here is compiled in (checked above).
            #[cfg(not(feature = "_hmac"))]
            _ => return Err(NOT_COMPILED_IN),
        }
        Ok(verifier)
    }

    /// The configured scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Name of the header that carries the signature (the override if one
    /// was configured); `None` for `none` and `passphrase`.
    pub fn signature_header(&self) -> Option<&str> {
        if self.header.is_empty() {
            None
        } else {
            Some(self.header.as_str())
        }
    }

    /// Checks the signature header(s) against the raw `body`.
    ///
    /// `now_ms` is the gate clock, Unix milliseconds; it only matters for
    /// the timestamped schemes. For `none` and `passphrase` this always
    /// succeeds (the passphrase is checked after parsing, with
    /// [`Verifier::check_passphrase`]).
    ///
    /// Rejections: [`Rejection::MissingSignature`] naming the absent header;
    /// [`Rejection::MalformedSignature`] for a header that is empty,
    /// duplicated or unparseable, or whose signature list holds no readable
    /// signature, more than [`MAX_SIGNATURES`] readable ones or more than
    /// [`MAX_LIST_ENTRIES`] entries; [`Rejection::BadSignature`] when no
    /// configured secret produces any readable signature presented;
    /// [`Rejection::SignatureExpired`] for a genuine signature whose
    /// timestamp is more than `tolerance_s` away from `now_ms`.
    ///
    /// ```
    /// # #[cfg(feature = "scheme-github")] {
    /// use alertgate_validator::auth::{AuthConfig, Scheme, Verifier};
    /// // GitHub's published example.
    /// let secrets: [&[u8]; 1] = [b"It's a Secret to Everybody"];
    /// let cfg = AuthConfig { scheme: Scheme::Github, secrets: &secrets, ..AuthConfig::default() };
    /// let v = Verifier::new(&cfg).unwrap();
    /// let headers = [
    ///     ("x-hub-signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
    ///     ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    /// ];
    /// let ok = v.verify(b"Hello, World!", &headers, 0).unwrap();
    /// assert_eq!(ok.event_id, Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
    /// assert_eq!(v.verify(b"Hello, World?", &headers, 0).unwrap_err().code(), "bad_signature");
    /// # }
    /// ```
    pub fn verify<'r>(
        &self,
        body: &[u8],
        headers: &Headers<'r>,
        now_ms: i64,
    ) -> Result<Verified<'r>, Rejection> {
        #[cfg(feature = "_hmac")]
        if let Keys::Macs(macs) = &self.keys {
            let ctx = Ctx {
                macs,
                header: self.header.as_str(),
                tolerance_s: self.tolerance_s,
            };
            let verified = match self.scheme {
                #[cfg(feature = "scheme-hex-body")]
                Scheme::HexBody => hex_body::verify(&ctx, body, headers),
                #[cfg(feature = "scheme-github")]
                Scheme::Github => github::verify(&ctx, body, headers),
                #[cfg(feature = "scheme-timestamped")]
                Scheme::Timestamped => timestamped::verify(&ctx, body, headers, now_ms),
                #[cfg(feature = "scheme-stripe")]
                Scheme::Stripe => stripe::verify(&ctx, body, headers, now_ms),
                #[cfg(feature = "scheme-standard-webhooks")]
                Scheme::StandardWebhooks => standard_webhooks::verify(&ctx, body, headers, now_ms),
                // MACs are only keyed for the signing schemes above.
                _ => Ok(Verified::default()),
            };
            return verified.map_err(Rejection::from);
        }
        // `none` and `passphrase` (checked later, on the parsed body).
        let _ = (body, headers, now_ms);
        Ok(Verified::default())
    }

    /// For the `passphrase` scheme, checks the body's `passphrase` field
    /// (`None` if the field is absent; see [`RawAlert::passphrase`]);
    /// succeeds for every other scheme.
    ///
    /// The field's decoded text is what must equal a secret: `"pa\/ss"`
    /// matches `pa/ss` (RFC 8259 §7). Both sides are hashed with SHA-256
    /// (the field as it is decoded, without a buffer) and the digests
    /// compared in constant time against every configured secret, so the
    /// timing shows neither the secret's length nor how much of it matched.
    /// A passphrase of any length is hashed: one longer than every secret
    /// is a [`Rejection::BadSignature`] like any other wrong one.
    ///
    /// [`RawAlert::passphrase`]: crate::alert::RawAlert::passphrase
    ///
    /// ```
    /// # #[cfg(feature = "scheme-passphrase")] {
    /// use alertgate_validator::alert::RawAlert;
    /// use alertgate_validator::auth::{AuthConfig, Scheme, Verifier};
    /// let secrets: [&[u8]; 2] = [b"old-pass", b"new/pass"];
    /// let cfg = AuthConfig { scheme: Scheme::Passphrase, secrets: &secrets, ..AuthConfig::default() };
    /// let v = Verifier::new(&cfg).unwrap();
    /// let check = |body: &[u8]| v.check_passphrase(RawAlert::scan(body).unwrap().passphrase());
    /// assert!(check(br#"{"passphrase":"new/pass"}"#).is_ok());
    /// assert!(check(br#"{"passphrase":"new\/p\u0061ss"}"#).is_ok());
    /// assert_eq!(check(br#"{"passphrase":"guess"}"#).unwrap_err().code(), "bad_signature");
    /// assert_eq!(check(br#"{"side":"buy"}"#).unwrap_err().code(), "missing_signature");
    /// # }
    /// ```
    pub fn check_passphrase(&self, passphrase: Option<JsonStr<'_>>) -> Result<(), Rejection> {
        match &self.keys {
            #[cfg(feature = "scheme-passphrase")]
            Keys::Digests(digests) => passphrase::check(digests, passphrase),
            _ => {
                let _ = passphrase;
                Ok(())
            }
        }
    }
}

/// Produces the header(s) `scheme` expects for `body`, as a sender would.
///
/// `secret` is one configured secret (for `standard-webhooks` the
/// `whsec_<base64>` string), `timestamp_s` the Unix time to sign (ignored by
/// the untimestamped schemes), `event_id` the id header's value (left out
/// when empty; required by `standard-webhooks`, which signs it). Header
/// names are the scheme defaults. `none` and `passphrase` produce no
/// headers (a passphrase travels in the body) and never fail.
///
/// Errors (signing schemes): [`ConfigError::BadSecret`] for an empty or
/// undecodable secret; [`ConfigError::InvalidValue`] for a scheme not
/// compiled into this build, a timestamp outside
/// `0..10^MAX_TIMESTAMP_DIGITS` or an event id that is empty (for
/// `standard-webhooks`) or longer than [`SIGNED_VALUE_CAP`].
///
/// ```
/// # #[cfg(feature = "scheme-standard-webhooks")] {
/// use alertgate_validator::auth::{sign, Scheme};
/// // Standard Webhooks' published test vector.
/// let h = sign(
///     Scheme::StandardWebhooks,
///     b"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
///     br#"{"email":"test@example.com","username":"test_user"}"#,
///     1649367553,
///     "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
/// )
/// .unwrap();
/// assert_eq!(h[2], ("webhook-signature", "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".try_into().unwrap()));
/// # }
/// ```
pub fn sign(
    scheme: Scheme,
    secret: &[u8],
    body: &[u8],
    timestamp_s: i64,
    event_id: &str,
) -> Result<SignedHeaders, ConfigError> {
    if matches!(scheme, Scheme::None | Scheme::Passphrase) {
        return Ok(SignedHeaders::new());
    }
    if !scheme.is_compiled_in() {
        return Err(NOT_COMPILED_IN);
    }
    if secret.is_empty() {
        return Err(ConfigError::BadSecret {
            index: 0,
            reason: "secret is empty",
        });
    }
    if event_id.len() > SIGNED_VALUE_CAP {
        return Err(ConfigError::InvalidValue {
            setting: "event_id",
            expected: "at most 160 bytes",
        });
    }
    if scheme == Scheme::StandardWebhooks && event_id.is_empty() {
        return Err(ConfigError::InvalidValue {
            setting: "event_id",
            expected: "a non-empty webhook-id (it is signed)",
        });
    }
    if scheme.is_timestamped() && !(0..MAX_TIMESTAMP).contains(&timestamp_s) {
        return Err(ConfigError::InvalidValue {
            setting: "timestamp_s",
            expected: "0 to 999999999999 (Unix seconds, at most 12 digits)",
        });
    }
    #[cfg(feature = "_hmac")]
    {
        let mac = mac_key(scheme, secret, 0)?;
        Ok(match scheme {
            #[cfg(feature = "scheme-hex-body")]
            Scheme::HexBody => hex_body::sign(&mac, body),
            #[cfg(feature = "scheme-github")]
            Scheme::Github => github::sign(&mac, body, event_id),
            #[cfg(feature = "scheme-timestamped")]
            Scheme::Timestamped => timestamped::sign(&mac, body, timestamp_s, event_id),
            #[cfg(feature = "scheme-stripe")]
            Scheme::Stripe => stripe::sign(&mac, body, timestamp_s),
            #[cfg(feature = "scheme-standard-webhooks")]
            Scheme::StandardWebhooks => standard_webhooks::sign(&mac, body, timestamp_s, event_id),
            // Ruled out above (unsigned or not compiled in).
            _ => SignedHeaders::new(),
        })
    }
    // Without any signing scheme, every scheme that signs was refused above.
    #[cfg(not(feature = "_hmac"))]
    {
        let _ = (body, timestamp_s);
        Err(NOT_COMPILED_IN)
    }
}

/// What [`Verifier::new`] and [`sign`] answer for a scheme whose cargo
/// feature is off.
const NOT_COMPILED_IN: ConfigError = ConfigError::InvalidValue {
    setting: "auth.scheme",
    expected: "a scheme compiled into this build",
};

// ---------------------------------------------------------------------------
// Shared by the scheme modules.

/// `10^MAX_TIMESTAMP_DIGITS`: every accepted timestamp is below it.
const MAX_TIMESTAMP: i64 = 1_000_000_000_000;

/// What a scheme's `verify` needs from the [`Verifier`].
#[cfg(feature = "_hmac")]
struct Ctx<'v> {
    /// One pre-keyed MAC per secret.
    macs: &'v [HmacSha256],
    /// Signature header name (default or override).
    header: &'v str,
    /// Freshness tolerance, seconds (read by the timestamped schemes only).
    #[cfg_attr(not(feature = "_timestamp"), allow(dead_code))]
    tolerance_s: u32,
}

#[cfg(feature = "_hmac")]
impl Ctx<'_> {
    /// Whether any secret's tag over the concatenation of `signed` equals
    /// any of `candidates`.
    ///
    /// Each secret's tag is computed once and compared with every candidate
    /// in constant time; the loop stops after the first secret that matches
    /// (which only tells a valid sender which of the secrets it used).
    fn any_matches(&self, signed: &[&[u8]], candidates: &[Tag]) -> bool {
        self.macs.iter().any(|keyed| {
            let tag = tag_of(keyed, signed);
            let hit = candidates
                .iter()
                .fold(Choice::from(0), |hit, c| hit | tags_equal(&tag, c));
            bool::from(hit)
        })
    }

    /// [`Fail::Expired`] unless `|⌊now_ms/1000⌋ − t| ≤ tolerance`.
    #[cfg(feature = "_timestamp")]
    fn check_fresh(&self, timestamp_s: i64, now_ms: i64) -> Result<(), Fail<'static>> {
        // |⌊now_ms/1000⌋ − t| ≤ tol  ⟺  (t − tol)·1000 ≤ now_ms < (t + tol + 1)·1000,
        // since ⌊x/1000⌋ ≥ k ⟺ x ≥ 1000k. Checked in milliseconds, the
        // accepting path needs no 64-bit division (a library routine on
        // 32-bit targets). `t` has at most 12 digits (`parse_timestamp`) and
        // the tolerance fits a u32, so both bounds lie within ±1.1·10^15:
        // no overflow.
        debug_assert!((0..MAX_TIMESTAMP).contains(&timestamp_s));
        let tol = i64::from(self.tolerance_s);
        let earliest = (timestamp_s - tol) * 1000;
        let end = (timestamp_s + tol + 1) * 1000;
        if (earliest..end).contains(&now_ms) {
            Ok(())
        } else {
            Err(Fail::Expired {
                timestamp_s,
                now_ms,
                tolerance_s: self.tolerance_s,
            })
        }
    }
}

/// The pre-keyed MAC of `scheme` for `secret` (the `index`-th configured
/// one): base64-decoded for `standard-webhooks`, as given otherwise.
#[cfg(feature = "_hmac")]
fn mac_key(scheme: Scheme, secret: &[u8], index: usize) -> Result<HmacSha256, ConfigError> {
    #[cfg(feature = "scheme-standard-webhooks")]
    if scheme == Scheme::StandardWebhooks {
        return standard_webhooks::key(secret, index);
    }
    let _ = (scheme, index);
    Ok(HmacSha256::new(secret))
}

/// Checks and copies the signature header name.
fn header_name(
    scheme: Scheme,
    over: Option<&str>,
) -> Result<heapless::String<MAX_HEADER_NAME>, ConfigError> {
    let mut out = heapless::String::new();
    // Only compiled-in schemes get here (`Verifier::new` checked): the
    // filter lets the other schemes' header names drop out of the build.
    let default = scheme.default_header().filter(|_| scheme.is_compiled_in());
    let name = match (default, over) {
        (None, None) => return Ok(out),
        (None, Some(_)) => {
            return Err(ConfigError::InvalidValue {
                setting: "auth.header",
                expected: "no header override with schemes none and passphrase",
            })
        }
        (Some(default), None) => default,
        (Some(_), Some(name)) => name,
    };
    // RFC 9110 `tchar`. A `matches!` rather than a search of the 15
    // symbols: `<[u8]>::contains` links a word-at-a-time `memchr`.
    let is_token = !name.is_empty()
        && name.bytes().all(|b| {
            matches!(b,
                b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'
                | b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
        });
    if !is_token || out.push_str(name).is_err() {
        return Err(ConfigError::InvalidValue {
            setting: "auth.header",
            expected: "an HTTP header name (token characters), 1 to 64 bytes",
        });
    }
    Ok(out)
}

/// Parses a Unix timestamp in seconds: 1 to [`MAX_TIMESTAMP_DIGITS`] ASCII
/// digits, nothing else (no sign, no spaces).
#[cfg(feature = "_timestamp")]
fn parse_timestamp(s: &[u8]) -> Result<i64, &'static str> {
    const NOT_DIGITS: &str = "timestamp is not 1 to 12 decimal digits";
    if s.is_empty() || s.len() > MAX_TIMESTAMP_DIGITS {
        return Err(NOT_DIGITS);
    }
    let mut value: i64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(NOT_DIGITS);
        }
        // At most 12 digits: stays below 10^12, no overflow.
        value = value * 10 + i64::from(b - b'0');
    }
    Ok(value)
}

/// Index of the first `needle` in `hay`, on bare-metal targets: a plain
/// search (small code).
#[cfg(all(feature = "_hmac", target_os = "none"))]
#[cfg_attr(not(feature = "scheme-timestamped"), allow(dead_code))]
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Index of the first `needle` in `hay`, eight bytes at a time (a
/// signature header's 64 hex digits are otherwise compared one by one).
#[cfg(all(feature = "_hmac", not(target_os = "none")))]
#[cfg_attr(not(feature = "scheme-timestamped"), allow(dead_code))]
#[inline]
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let mut chunks = hay.chunks_exact(8);
    let mut n = 0;
    for chunk in &mut chunks {
        let x =
            u64::from_le_bytes(chunk.try_into().unwrap_or_default()) ^ (ONES * u64::from(needle));
        // The high bit of the lowest zero byte of `x` is exact (a borrow
        // only runs upwards from it).
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(n + (zero.trailing_zeros() / 8) as usize);
        }
        n += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| n + i)
}

/// Whether two tags are equal, in constant time: the words' differences
/// are OR-ed together without branching and only the result goes through
/// `subtle` (one optimization barrier, not one per byte as with the slice
/// comparison).
#[cfg(feature = "_hmac")]
#[inline]
fn tags_equal(a: &Tag, b: &Tag) -> Choice {
    let mut diff = 0u64;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or_default());
        diff |= word(x) ^ word(y);
    }
    diff.ct_eq(&0)
}

/// Decodes a 64-digit hex signature (either case) in constant time, for
/// the schemes that carry exactly one (`stripe` skips unreadable entries
/// of its list and calls [`decode_hex_64`] itself).
#[cfg(any(
    feature = "scheme-hex-body",
    feature = "scheme-github",
    feature = "scheme-timestamped"
))]
fn decode_hex_tag(s: &[u8]) -> Result<Tag, &'static str> {
    // One message for "empty", "wrong length" and "not hex": it says what
    // is allowed, and one string is less flash than three.
    decode_hex_64(s).ok_or("signature is not 64 hex digits")
}

/// The 32 bytes of 64 hex digits (either case), one digit at a time and
/// in constant time (no branch or table lookup depends on a digit, only
/// the final verdict): the bare-metal decoder, a quarter of the code of
/// `base16ct`'s, which also handles every length and error case.
#[cfg(all(feature = "_hmac-hex", any(target_os = "none", test)))]
fn decode_hex_64_small(s: &[u8]) -> Option<Tag> {
    /// The digit's value, or -1 (all bits set) if `c` is not a hex digit.
    #[inline(always)]
    fn nibble(c: u8) -> i32 {
        let c = i32::from(c);
        let digit = c - 0x30;
        // `| 0x20` maps only `A`..=`F` and `a`..=`f` onto `a`..=`f`.
        let letter = (c | 0x20) - 0x61;
        // All ones where `0 <= x <= max`, from the sign bits.
        let is_digit = !((digit | (9 - digit)) >> 31);
        let is_letter = !((letter | (5 - letter)) >> 31);
        (digit & is_digit) | ((letter + 10) & is_letter) | !(is_digit | is_letter)
    }
    if s.len() != 64 {
        return None;
    }
    let mut tag = [0u8; 32];
    let mut bad = 0i32;
    for (out, pair) in tag.iter_mut().zip(s.chunks_exact(2)) {
        let (high, low) = (nibble(pair[0]), nibble(pair[1]));
        bad |= high | low;
        *out = ((high << 4) | low) as u8;
    }
    // Valid digits are 0..=15: any other bit set means a bad digit.
    bool::from((bad >> 4).ct_eq(&0)).then_some(tag)
}

#[cfg(all(feature = "_hmac-hex", target_os = "none"))]
fn decode_hex_64(s: &[u8]) -> Option<Tag> {
    decode_hex_64_small(s)
}

/// The 32 bytes of 64 hex digits (either case), eight digits at a time
/// (SWAR) and in constant time: no branch or index depends on the digits,
/// only the final verdict. `None` if `s` is not 64 hex digits.
#[cfg(all(feature = "_hmac-hex", not(target_os = "none")))]
fn decode_hex_64(s: &[u8]) -> Option<Tag> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    /// High bit of each byte set where `lo <= byte <= hi`, for bytes below
    /// 0x80 (no sum below carries into the next byte).
    #[inline(always)]
    fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
        x.wrapping_add(ONES * u64::from(0x80 - lo)) & !x.wrapping_add(ONES * u64::from(0x7f - hi))
    }
    /// Eight hex digits (little-endian) as four bytes, and the high bit
    /// of each byte of `bad` set where the digit is not hex.
    #[inline(always)]
    fn four(x: u64, bad: &mut u64) -> u64 {
        let ascii = !x & HIGH;
        let folded = x | (ONES * 0x20);
        let digit = in_range(x, b'0', b'9') & ascii;
        // `| 0x20` maps only `A`..=`F` and `a`..=`f` onto `a`..=`f`.
        let letter = in_range(folded, b'a', b'f') & ascii;
        *bad |= !(digit | letter) & HIGH;
        // A digit's value is its low nibble; a letter's its low nibble + 9
        // (`a` is 0x61). Nothing carries across bytes (at most 6 + 9).
        let letter_mask = (letter >> 7) * 0xff;
        let v = (x & (ONES * 0x0f)) + ((ONES * 9) & letter_mask);
        // Per 16-bit lane: the first digit is the high nibble.
        let p = ((v << 4) | (v >> 8)) & 0x00ff_00ff_00ff_00ff;
        let p = (p | (p >> 8)) & 0x0000_ffff_0000_ffff;
        (p | (p >> 16)) & 0xffff_ffff
    }
    if s.len() != 64 {
        return None;
    }
    let mut tag = [0u8; 32];
    let mut bad = 0u64;
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or_default());
    for (digits, out) in s.chunks_exact(16).zip(tag.chunks_exact_mut(8)) {
        let low = four(word(&digits[..8]), &mut bad);
        let high = four(word(&digits[8..]), &mut bad);
        out.copy_from_slice(&(low | (high << 32)).to_le_bytes());
    }
    bool::from(bad.ct_eq(&0)).then_some(tag)
}

/// Lowercase hex of `tag` (at most 32 bytes), without branches or table
/// lookups on its bytes.
#[cfg(feature = "_hmac-hex")]
fn encode_hex_tag(tag: &[u8]) -> heapless::String<64> {
    let mut out = heapless::String::new();
    for &b in tag {
        for n in [i32::from(b >> 4), i32::from(b & 0xf)] {
            // '0' + n, plus 'a' - '0' - 10 = 39 where n > 9.
            let c = 0x30 + n + (((9 - n) >> 31) & 39);
            let _ = out.push(char::from(c as u8));
        }
    }
    out
}

/// The tag of `mac` over the concatenation of `signed`.
#[cfg(feature = "_hmac")]
fn tag_of(mac: &HmacSha256, signed: &[&[u8]]) -> Tag {
    mac.tag(signed)
}

/// Decimal digits of a timestamp in `0..MAX_TIMESTAMP` (what `sign`
/// accepts), written by hand: `write!` would link `core::fmt`'s integer
/// formatting (about a KiB on a Cortex-M) into a firmware that signs.
#[cfg(feature = "_timestamp")]
fn timestamp_digits(timestamp_s: i64) -> heapless::String<20> {
    let mut digits = [b'0'; 20];
    let mut n = timestamp_s.unsigned_abs();
    let mut start = digits.len();
    // Least significant first; a u64 has at most 20 digits.
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut out = heapless::String::new();
    let text = digits.get(start..).unwrap_or_default();
    // ASCII digits: the conversion cannot fail.
    let _ = out.push_str(core::str::from_utf8(text).unwrap_or_default());
    out
}

/// A [`SignedHeaders`] value from string pieces (truncated if too long,
/// which the callers' bounds rule out).
#[cfg(feature = "_hmac")]
fn value(parts: &[&str]) -> heapless::String<SIGNED_VALUE_CAP> {
    let mut out = heapless::String::new();
    for p in parts {
        let _ = out.push_str(p);
    }
    out
}

/// Why a scheme refused a request, before it becomes a [`Rejection`].
///
/// A few words that borrow the header name, where a `Rejection` carries a
/// 48-byte [`crate::error::Snippet`] inline: the scheme code passes this
/// through its `?`s and the one `Rejection` is built at the end, in
/// [`Verifier::verify`] (on a Cortex-M every `Rejection` moved through a
/// `?` is a ~70-byte copy).
#[cfg(feature = "_hmac")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail<'h> {
    /// [`Rejection::MissingSignature`] naming the header.
    Missing(&'h str),
    /// [`Rejection::MalformedSignature`]: header and reason.
    Malformed(&'h str, &'static str),
    /// [`Rejection::BadSignature`] naming the header.
    Bad(&'h str),
    /// [`Rejection::SignatureExpired`], with the clock in milliseconds.
    #[cfg(feature = "_timestamp")]
    Expired {
        /// Signed timestamp, Unix seconds.
        timestamp_s: i64,
        /// Gate clock, Unix milliseconds.
        now_ms: i64,
        /// Configured tolerance, seconds.
        tolerance_s: u32,
    },
}

#[cfg(feature = "_hmac")]
impl From<Fail<'_>> for Rejection {
    fn from(fail: Fail<'_>) -> Rejection {
        match fail {
            Fail::Missing(header) => Rejection::MissingSignature {
                header: snippet(header.as_bytes()),
            },
            Fail::Malformed(header, reason) => Rejection::MalformedSignature {
                header: snippet(header.as_bytes()),
                reason,
            },
            Fail::Bad(header) => Rejection::BadSignature {
                header: snippet(header.as_bytes()),
            },
            #[cfg(feature = "_timestamp")]
            Fail::Expired {
                timestamp_s,
                now_ms,
                tolerance_s,
            } => Rejection::SignatureExpired {
                timestamp_s,
                now_s: crate::time::floor_seconds(now_ms),
                tolerance_s,
            },
        }
    }
}

#[cfg(feature = "_hmac")]
fn malformed<'h>(header: &'h str, reason: &'static str) -> Fail<'h> {
    Fail::Malformed(header, reason)
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "_hmac")]
    mod find {
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn find_byte_is_position(
                hay in proptest::collection::vec(
                    prop_oneof![4 => 0x20..0x7fu8, 1 => any::<u8>()],
                    0..40,
                ),
                needle in prop_oneof![Just(b','), Just(b'='), any::<u8>()],
            ) {
                prop_assert_eq!(
                    super::super::find_byte(&hay, needle),
                    hay.iter().position(|&b| b == needle)
                );
            }
        }
    }

    #[cfg(feature = "_hmac-hex")]
    mod hex {
        use super::super::{decode_hex_64, decode_hex_64_small, encode_hex_tag, tags_equal, Tag};
        use proptest::prelude::*;

        /// `base16ct`'s constant-time decoder, the reference.
        fn decode_hex_64_base16ct(s: &[u8]) -> Option<Tag> {
            let mut tag = [0u8; 32];
            match base16ct::mixed::decode(s, &mut tag) {
                Ok(decoded) if decoded.len() == 32 => Some(tag),
                _ => None,
            }
        }

        #[test]
        fn decodes_like_base16ct() {
            let lower = "00112233445566778899aabbccddeeff0123456789abcdefABCDEF9876543210";
            let tag = decode_hex_64(lower.as_bytes()).unwrap();
            assert_eq!(Some(tag), decode_hex_64_base16ct(lower.as_bytes()));
            assert_eq!(Some(tag), decode_hex_64_small(lower.as_bytes()));
            assert_eq!(tag[..4], [0x00, 0x11, 0x22, 0x33]);
            assert_eq!(tag[24..], [0xab, 0xcd, 0xef, 0x98, 0x76, 0x54, 0x32, 0x10]);
            // Every byte value in every position of each 8-byte word.
            for pos in 0..64 {
                for b in 0..=255u8 {
                    let mut s =
                        *b"0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef0123";
                    s[pos] = b;
                    let reference = decode_hex_64_base16ct(&s);
                    assert_eq!(decode_hex_64(&s), reference, "{pos} {b}");
                    assert_eq!(decode_hex_64_small(&s), reference, "{pos} {b}");
                }
            }
            for len in [0, 2, 62, 63, 65, 66] {
                assert_eq!(decode_hex_64(&vec![b'0'; len]), None);
                assert_eq!(decode_hex_64_small(&vec![b'0'; len]), None);
            }
        }

        #[test]
        fn encodes_like_base16ct() {
            let bytes: Vec<u8> = (0..=255u8).collect();
            for tag in bytes.chunks(32) {
                let mut buf = [0u8; 64];
                let reference = base16ct::lower::encode_str(tag, &mut buf).unwrap();
                assert_eq!(encode_hex_tag(tag).as_str(), reference);
                let tag: Tag = tag.try_into().unwrap();
                assert_eq!(decode_hex_64(encode_hex_tag(&tag).as_bytes()), Some(tag));
            }
        }

        proptest! {
            #[test]
            fn swar_decoder_matches(
                s in proptest::collection::vec(
                    prop_oneof![
                        4 => proptest::sample::select(b"0123456789abcdefABCDEF".to_vec()),
                        1 => any::<u8>(),
                    ],
                    64,
                )
            ) {
                let reference = decode_hex_64_base16ct(&s);
                prop_assert_eq!(decode_hex_64(&s), reference);
                prop_assert_eq!(decode_hex_64_small(&s), reference);
            }

            #[test]
            fn tag_equality(a in any::<[u8; 32]>(), flip in 0..=256usize) {
                let mut b = a;
                if flip < 256 {
                    b[flip / 8] ^= 1 << (flip % 8);
                }
                prop_assert_eq!(bool::from(tags_equal(&a, &b)), a == b);
            }
        }
    }

    /// The cross-scheme tests: they sign and verify with every scheme, so
    /// they need every scheme built (the default features). Each scheme's
    /// own tests live in its file and run with its feature alone.
    #[cfg(all(
        feature = "scheme-passphrase",
        feature = "scheme-hex-body",
        feature = "scheme-github",
        feature = "scheme-timestamped",
        feature = "scheme-stripe",
        feature = "scheme-standard-webhooks"
    ))]
    mod every_scheme {
        use base64ct::{Base64, Encoding};
        use proptest::prelude::*;

        use super::super::*;

        /// Schemes that sign requests.
        const SIGNING: [Scheme; 5] = [
            Scheme::HexBody,
            Scheme::Github,
            Scheme::Timestamped,
            Scheme::Stripe,
            Scheme::StandardWebhooks,
        ];
        const TIMESTAMPED: [Scheme; 3] = [
            Scheme::Timestamped,
            Scheme::Stripe,
            Scheme::StandardWebhooks,
        ];

        /// The configured form of a raw key (`whsec_<base64>` for Standard Webhooks).
        fn cfg_secret(scheme: Scheme, raw: &[u8]) -> Vec<u8> {
            if scheme == Scheme::StandardWebhooks {
                let mut buf = vec![0u8; raw.len() * 2 + 8];
                let b64 = Base64::encode(raw, &mut buf).unwrap();
                format!("whsec_{b64}").into_bytes()
            } else {
                raw.to_vec()
            }
        }

        fn verifier(scheme: Scheme, secrets: &[Vec<u8>], tolerance_s: u32) -> Verifier {
            let refs: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
            Verifier::new(&AuthConfig {
                scheme,
                secrets: &refs,
                header: None,
                tolerance_s,
            })
            .unwrap()
        }

        fn pairs(h: &SignedHeaders) -> Vec<(&str, &str)> {
            h.iter().map(|(n, v)| (*n, v.as_str())).collect()
        }

        /// Indices of the headers whose every byte is covered by the signature.
        fn signed_header_indices(scheme: Scheme, h: &SignedHeaders) -> Vec<usize> {
            (0..h.len())
                .filter(|&i| {
                    scheme == Scheme::StandardWebhooks
                        || !matches!(h[i].0, "X-GitHub-Delivery" | "X-Tradeeon-EventId")
                })
                .collect()
        }

        fn is_hex_scheme(scheme: Scheme) -> bool {
            matches!(
                scheme,
                Scheme::HexBody | Scheme::Github | Scheme::Timestamped | Scheme::Stripe
            )
        }

        #[test]
        fn scheme_names() {
            for s in Scheme::ALL {
                assert_eq!(Scheme::from_name(s.name()), Some(s));
                assert_eq!(format!("{s}"), s.name());
                assert_eq!(s.default_header().is_some(), SIGNING.contains(&s));
                assert_eq!(s.is_timestamped(), TIMESTAMPED.contains(&s));
            }
            for bad in [
                "",
                "None",
                "HEX-BODY",
                "hex_body",
                "standard_webhooks",
                "github ",
            ] {
                assert_eq!(Scheme::from_name(bad), None, "{bad}");
            }
            assert_eq!(Scheme::default(), Scheme::None);
        }

        #[test]
        fn config_defaults() {
            let cfg = AuthConfig::default();
            assert_eq!(cfg.scheme, Scheme::None);
            assert!(cfg.secrets.is_empty());
            assert_eq!(cfg.header, None);
            assert_eq!(cfg.tolerance_s, 300);
            let v = Verifier::new(&cfg).unwrap();
            assert_eq!(v.scheme(), Scheme::None);
            assert_eq!(v.signature_header(), None);
            assert_eq!(
                v.verify(b"anything", &[], i64::MIN),
                Ok(Verified::default())
            );
        }

        #[test]
        fn config_errors() {
            let one: [&[u8]; 1] = [b"k"];
            let five: [&[u8]; 5] = [b"a", b"b", b"c", b"d", b"e"];
            let with = |scheme, secrets, header| {
                Verifier::new(&AuthConfig {
                    scheme,
                    secrets,
                    header,
                    tolerance_s: 300,
                })
            };
            for s in Scheme::ALL {
                assert_eq!(
                    with(s, &five[..], None).unwrap_err(),
                    ConfigError::TooManySecrets { given: 5, max: 4 }
                );
                assert!(
                    with(s, &five[..4], None).is_ok()
                        || s == Scheme::None
                        || s == Scheme::StandardWebhooks
                );
            }
            for s in SIGNING.into_iter().chain([Scheme::Passphrase]) {
                assert_eq!(
                    with(s, &[], None).unwrap_err(),
                    ConfigError::NoSecret { scheme: s.name() }
                );
                let err = with(s, &[b"ok", b""], None).unwrap_err();
                assert!(
                    matches!(err, ConfigError::BadSecret { index: 1, .. }),
                    "{err:?}"
                );
            }
            // Secrets with scheme none: most likely a forgotten scheme.
            assert_eq!(
                with(Scheme::None, &one, None).unwrap_err().code(),
                "invalid_value"
            );
            // No header to override.
            assert_eq!(
                with(Scheme::None, &[], Some("X-A")).unwrap_err().code(),
                "invalid_value"
            );
            assert_eq!(
                with(Scheme::Passphrase, &one, Some("X-A"))
                    .unwrap_err()
                    .code(),
                "invalid_value"
            );
            // Header names must be HTTP tokens of 1..=64 bytes.
            let max = "X".repeat(MAX_HEADER_NAME);
            let too_long = "X".repeat(MAX_HEADER_NAME + 1);
            for bad in [
                "",
                "X Sig",
                "X-Sig:",
                "X-Sig\r\n",
                "é",
                too_long.as_str(),
                "(x)",
            ] {
                let err = with(Scheme::HexBody, &one, Some(bad)).unwrap_err();
                assert_eq!(err.code(), "invalid_value", "{bad:?}");
            }
            for good in [max.as_str(), "x", "X-Signature_2", "a!#$%&'*+-.^_`|~z"] {
                let v = with(Scheme::Stripe, &one, Some(good)).unwrap();
                assert_eq!(v.signature_header(), Some(good));
            }
        }

        #[test]
        fn debug_does_not_show_secrets() {
            let secret: [&[u8]; 1] = [b"super-secret-value"];
            for scheme in [Scheme::Passphrase, Scheme::HexBody] {
                let v = Verifier::new(&AuthConfig {
                    scheme,
                    secrets: &secret,
                    ..AuthConfig::default()
                })
                .unwrap();
                let dbg = format!("{v:?}");
                assert!(!dbg.contains("super-secret"), "{dbg}");
                assert!(dbg.contains("secrets: 1"), "{dbg}");
            }
        }

        #[test]
        fn sizes() {
            let verifier = core::mem::size_of::<Verifier>();
            let mac = core::mem::size_of::<HmacSha256>();
            println!("size_of::<Verifier>() = {verifier}, size_of::<HmacSha256>() = {mac}");
            assert!(verifier <= 1024);
        }

        #[test]
        fn sign_errors() {
            let body = b"{}";
            for s in TIMESTAMPED {
                let secret = cfg_secret(s, b"key");
                for ts in [-1, MAX_TIMESTAMP, i64::MAX, i64::MIN] {
                    let err = sign(s, &secret, body, ts, "id").unwrap_err();
                    assert_eq!(err.code(), "invalid_value", "{s} {ts}");
                }
                assert!(sign(s, &secret, body, MAX_TIMESTAMP - 1, "id").is_ok());
                assert!(sign(s, &secret, body, 0, "id").is_ok());
            }
            // Untimestamped schemes ignore the timestamp.
            assert!(sign(Scheme::HexBody, b"k", body, i64::MIN, "").is_ok());
            let long_id = "i".repeat(SIGNED_VALUE_CAP + 1);
            let max_id = "i".repeat(SIGNED_VALUE_CAP);
            for s in SIGNING {
                let secret = cfg_secret(s, b"key");
                assert_eq!(
                    sign(s, &secret, body, 1, &long_id).unwrap_err().code(),
                    "invalid_value"
                );
                let h = sign(s, &secret, body, 1, &max_id).unwrap();
                let v = verifier(s, core::slice::from_ref(&secret), 300);
                let ok = v.verify(body, &pairs(&h), 1000).unwrap();
                if s != Scheme::Stripe && s != Scheme::HexBody {
                    assert_eq!(ok.event_id, Some(max_id.as_str()));
                }
                assert_eq!(
                    sign(s, b"", body, 1, "id").unwrap_err().code(),
                    "bad_secret"
                );
            }
            assert!(sign(Scheme::None, b"", body, 1, "").unwrap().is_empty());
        }

        #[test]
        fn timestamp_digits_match_display() {
            for t in [0, 1, 9, 10, 99, 1_700_000_000, MAX_TIMESTAMP - 1, i64::MAX] {
                assert_eq!(timestamp_digits(t).as_str(), t.to_string());
            }
        }

        #[test]
        fn timestamp_parsing() {
            assert_eq!(parse_timestamp(b"0"), Ok(0));
            assert_eq!(parse_timestamp(b"000000000000"), Ok(0));
            assert_eq!(parse_timestamp(b"999999999999"), Ok(MAX_TIMESTAMP - 1));
            for bad in [
                "",
                "1000000000000",
                "-1",
                "+1",
                "1 ",
                " 1",
                "1.5",
                "1e9",
                "١٢",
            ] {
                assert!(parse_timestamp(bad.as_bytes()).is_err(), "{bad:?}");
            }
        }

        #[test]
        fn freshness_at_clock_extremes() {
            let ctx = Ctx {
                macs: &[],
                header: "h",
                tolerance_s: u32::MAX,
            };
            for now_ms in [i64::MIN, -1, 0, 999, i64::MAX] {
                for t in [0, MAX_TIMESTAMP - 1] {
                    if let Err(e) = ctx.check_fresh(t, now_ms) {
                        let _ = format!("{}", Rejection::from(e));
                    }
                }
            }
            let ctx = Ctx {
                macs: &[],
                header: "h",
                tolerance_s: 0,
            };
            assert!(ctx.check_fresh(5, 5_000).is_ok());
            assert!(ctx.check_fresh(5, 5_999).is_ok());
            assert!(ctx.check_fresh(5, 6_000).is_err());
            assert!(ctx.check_fresh(5, 4_999).is_err());
            // Floor, not truncation toward zero, for times before 1970.
            assert!(ctx.check_fresh(0, -1).is_err());
        }

        #[test]
        fn tolerance_boundary_every_timestamped_scheme() {
            let body = br#"{"a":1}"#;
            let t = 1_700_000_000;
            for s in TIMESTAMPED {
                let secret = cfg_secret(s, b"boundary-key");
                let v = verifier(s, core::slice::from_ref(&secret), 300);
                let h = sign(s, &secret, body, t, "evt").unwrap();
                let h = pairs(&h);
                let at = |now_ms: i64| v.verify(body, &h, now_ms).map(|_| ()).map_err(|e| e.code());
                assert_eq!(at((t + 300) * 1000 + 999), Ok(()), "{s}");
                assert_eq!(at((t + 301) * 1000), Err("signature_expired"), "{s}");
                assert_eq!(at((t - 300) * 1000), Ok(()), "{s}");
                assert_eq!(at((t - 301) * 1000 + 999), Err("signature_expired"), "{s}");
            }
        }

        #[test]
        fn every_single_byte_header_change_fails() {
            // Exhaustive over positions and ASCII flips for one request per scheme
            // (complements the random property below; catches e.g. non-canonical
            // base64 whose unused bits an attacker could flip).
            let body = br#"{"ticker":"BTCUSDT"}"#;
            let t = 1_700_000_000;
            for scheme in SIGNING {
                let secret = cfg_secret(scheme, b"exhaustive-key");
                let v = verifier(scheme, core::slice::from_ref(&secret), 300);
                let h = sign(scheme, &secret, body, t, "msg_1").unwrap();
                for hi in signed_header_indices(scheme, &h) {
                    let original = h[hi].1.as_bytes();
                    for i in 0..original.len() {
                        for flip in 1u8..128 {
                            let mut bytes = original.to_vec();
                            bytes[i] ^= flip;
                            if is_hex_scheme(scheme)
                                && original[i].is_ascii_hexdigit()
                                && original[i].is_ascii_alphabetic()
                                && original[i].eq_ignore_ascii_case(&bytes[i])
                            {
                                continue;
                            }
                            let mutated = String::from_utf8(bytes).unwrap();
                            let mut hs = pairs(&h);
                            hs[hi].1 = &mutated;
                            let res = v.verify(body, &hs, t * 1000);
                            assert!(res.is_err(), "{scheme}: {:?} accepted", mutated);
                        }
                    }
                }
            }
        }

        #[test]
        fn non_canonical_base64_is_refused() {
            // "Kkw=" encodes two bytes; 'x', 'y', 'z' differ from 'w' only in the
            // two unused low bits.
            let secret: [&[u8]; 1] = [b"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"];
            let v = Verifier::new(&AuthConfig {
                scheme: Scheme::StandardWebhooks,
                secrets: &secret,
                ..AuthConfig::default()
            })
            .unwrap();
            let body = br#"{"email":"test@example.com","username":"test_user"}"#;
            for (last, expect) in [
                ('w', "ok"),
                ('x', "malformed_signature"),
                ('z', "malformed_signature"),
            ] {
                let sig = format!("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kk{last}=");
                let h = [
                    ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
                    ("webhook-timestamp", "1649367553"),
                    ("webhook-signature", sig.as_str()),
                ];
                let got = v
                    .verify(body, &h, 1_649_367_553_000)
                    .map(|_| "ok")
                    .map_err(|e| e.code());
                assert_eq!(got.unwrap_or_else(|e| e), expect, "{sig}");
            }
        }

        /// Header values that look like signatures, to reach deep into parsers.
        fn sig_like() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[tsv01a-fA-F2-9=, +/_.x-]{0,140}",
                "(t=[0-9]{0,14},)?(s|v1|v0)=[0-9a-fA-F]{0,66}(,v1=[0-9a-f]{64}){0,9}",
                "(v1,[A-Za-z0-9+/=]{40,46} ?){0,10}",
                proptest::collection::vec(any::<u8>(), 0..100)
                    .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            ]
        }

        fn header_name() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("X-Webhook-Signature".into()),
                Just("x-hub-signature-256".into()),
                Just("X-GitHub-Delivery".into()),
                Just("X-Tradeeon-Signature".into()),
                Just("x-tradeeon-eventid".into()),
                Just("Stripe-Signature".into()),
                Just("webhook-id".into()),
                Just("WEBHOOK-TIMESTAMP".into()),
                Just("webhook-signature".into()),
                any::<String>(),
            ]
        }

        proptest! {
            #[test]
            fn sign_then_verify(
                scheme in proptest::sample::select(SIGNING.to_vec()),
                body in proptest::collection::vec(any::<u8>(), 0..600),
                raw in proptest::collection::vec(any::<u8>(), 1..100),
                ts in 0..MAX_TIMESTAMP,
                skew_ms in -300_999i64..=300_999,
                id in "[A-Za-z0-9_-]{1,40}",
            ) {
                let secret = cfg_secret(scheme, &raw);
                let v = verifier(scheme, core::slice::from_ref(&secret), 300);
                let h = sign(scheme, &secret, &body, ts, &id).unwrap();
                // Header names arrive in any case.
                let lower: Vec<(String, &str)> =
                    pairs(&h).into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
                let lower: Vec<(&str, &str)> = lower.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                let now_ms = ts * 1000 + skew_ms.clamp(-300_000, 300_999);
                for hs in [pairs(&h), lower] {
                    let ok = v.verify(&body, &hs, now_ms).unwrap();
                    if scheme.is_timestamped() {
                        prop_assert_eq!(ok.signed_at_s, Some(ts));
                    } else {
                        prop_assert_eq!(ok.signed_at_s, None);
                    }
                    let expect_id = match scheme {
                        Scheme::Github | Scheme::Timestamped | Scheme::StandardWebhooks => Some(id.as_str()),
                        _ => None,
                    };
                    prop_assert_eq!(ok.event_id, expect_id);
                    prop_assert_eq!(ok.event_id_signed, scheme == Scheme::StandardWebhooks);
                }
            }

            #[test]
            fn changed_body_fails(
                scheme in proptest::sample::select(SIGNING.to_vec()),
                body in proptest::collection::vec(any::<u8>(), 1..300),
                raw in proptest::collection::vec(any::<u8>(), 1..64),
                ts in 0..MAX_TIMESTAMP,
                pos in any::<usize>(),
                flip in 1u8..=255,
            ) {
                let secret = cfg_secret(scheme, &raw);
                let v = verifier(scheme, core::slice::from_ref(&secret), 300);
                let h = sign(scheme, &secret, &body, ts, "evt").unwrap();
                let mut changed = body.clone();
                let i = pos % changed.len();
                changed[i] ^= flip;
                let err = v.verify(&changed, &pairs(&h), ts * 1000).unwrap_err();
                prop_assert_eq!(err.code(), "bad_signature");
            }

            #[test]
            fn changed_signed_header_fails(
                scheme in proptest::sample::select(SIGNING.to_vec()),
                body in proptest::collection::vec(any::<u8>(), 0..200),
                raw in proptest::collection::vec(any::<u8>(), 1..64),
                ts in 0..MAX_TIMESTAMP,
                which in any::<usize>(),
                pos in any::<usize>(),
                flip in 1u8..128,
            ) {
                let secret = cfg_secret(scheme, &raw);
                let v = verifier(scheme, core::slice::from_ref(&secret), 300);
                let h = sign(scheme, &secret, &body, ts, "msg_2Kx9").unwrap();
                let idx = signed_header_indices(scheme, &h);
                let hi = idx[which % idx.len()];
                let original = h[hi].1.as_bytes();
                let mut bytes = original.to_vec();
                let i = pos % bytes.len();
                bytes[i] ^= flip;
                // Hex is case-insensitive: flipping the case of a hex letter is no change.
                prop_assume!(!(is_hex_scheme(scheme)
                    && original[i].is_ascii_hexdigit()
                    && original[i].is_ascii_alphabetic()
                    && original[i].eq_ignore_ascii_case(&bytes[i])));
                let mutated = String::from_utf8(bytes).unwrap();
                let mut hs = pairs(&h);
                hs[hi].1 = &mutated;
                let err = v.verify(&body, &hs, ts * 1000).unwrap_err();
                prop_assert!(
                    matches!(err.code(), "bad_signature" | "malformed_signature"),
                    "{} {:?} -> {:?}: {}", scheme, h[hi].1, mutated, err
                );
            }

            #[test]
            fn changed_timestamp_digit_fails(
                scheme in proptest::sample::select(TIMESTAMPED.to_vec()),
                body in proptest::collection::vec(any::<u8>(), 0..200),
                ts in 0..MAX_TIMESTAMP,
                pos in any::<usize>(),
                add in 1u8..10,
            ) {
                let secret = cfg_secret(scheme, b"ts-key");
                let v = verifier(scheme, core::slice::from_ref(&secret), 300);
                let h = sign(scheme, &secret, &body, ts, "evt").unwrap();
                let (hi, start) = if scheme == Scheme::StandardWebhooks { (1, 0) } else { (0, 2) };
                let digits = h[hi].1.as_str()[start..].split(',').next().unwrap().len();
                let mut bytes = h[hi].1.as_bytes().to_vec();
                let i = start + pos % digits;
                bytes[i] = b'0' + (bytes[i] - b'0' + add) % 10;
                let mutated = String::from_utf8(bytes).unwrap();
                let mut hs = pairs(&h);
                hs[hi].1 = &mutated;
                // The MAC is checked before freshness, so this is "bad", never "expired".
                let err = v.verify(&body, &hs, ts * 1000).unwrap_err();
                prop_assert_eq!(err.code(), "bad_signature");
            }

            #[test]
            fn rotation(
                scheme in proptest::sample::select(SIGNING.to_vec()),
                raws in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..48), 1..=MAX_SECRETS),
                stranger in proptest::collection::vec(any::<u8>(), 1..48),
                body in proptest::collection::vec(any::<u8>(), 0..200),
                ts in 0..MAX_TIMESTAMP,
            ) {
                prop_assume!(!raws.contains(&stranger));
                let secrets: Vec<Vec<u8>> = raws.iter().map(|r| cfg_secret(scheme, r)).collect();
                let v = verifier(scheme, &secrets, 300);
                for s in &secrets {
                    let h = sign(scheme, s, &body, ts, "evt").unwrap();
                    prop_assert!(v.verify(&body, &pairs(&h), ts * 1000).is_ok());
                }
                let h = sign(scheme, &cfg_secret(scheme, &stranger), &body, ts, "evt").unwrap();
                let err = v.verify(&body, &pairs(&h), ts * 1000).unwrap_err();
                prop_assert_eq!(err.code(), "bad_signature");
            }

            #[test]
            fn tolerance_boundary(
                scheme in proptest::sample::select(TIMESTAMPED.to_vec()),
                ts in 0..MAX_TIMESTAMP,
                tol in prop_oneof![Just(0u32), Just(1u32), 0u32..100_000, Just(u32::MAX)],
                sub_ms in 0i64..1000,
            ) {
                let secret = cfg_secret(scheme, b"tol-key");
                let v = verifier(scheme, core::slice::from_ref(&secret), tol);
                let h = sign(scheme, &secret, b"{}", ts, "evt").unwrap();
                let hs = pairs(&h);
                let tol = i64::from(tol);
                let at = |s: i64| v.verify(b"{}", &hs, s * 1000 + sub_ms).map(|_| ());
                prop_assert!(at(ts + tol).is_ok());
                prop_assert!(at(ts - tol).is_ok());
                let late = at(ts + tol + 1).unwrap_err();
                prop_assert_eq!(
                    late,
                    Rejection::SignatureExpired { timestamp_s: ts, now_s: ts + tol + 1, tolerance_s: tol as u32 }
                );
                prop_assert_eq!(at(ts - tol - 1).unwrap_err().code(), "signature_expired");
            }

            #[test]
            fn verify_never_panics(
                scheme in proptest::sample::select(Scheme::ALL.to_vec()),
                headers in proptest::collection::vec((header_name(), sig_like()), 0..6),
                body in proptest::collection::vec(any::<u8>(), 0..64),
                now_ms in any::<i64>(),
                tol in any::<u32>(),
                passphrase in proptest::option::of(proptest::collection::vec(
                    proptest::sample::select(b"a/\"\\bu0dD8e\x01\xc3\xa9\xff".to_vec()),
                    0..40,
                )),
            ) {
                let secret = cfg_secret(scheme, b"fuzz-key");
                let secrets = if scheme == Scheme::None { vec![] } else { vec![secret] };
                let v = verifier(scheme, &secrets, tol);
                let hs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                if let Err(e) = v.verify(&body, &hs, now_ms) {
                    let _ = format!("{e}");
                }
                // The field as sent: not always a valid JSON string.
                let body = passphrase.map(|p| [&br#"{"passphrase":""#[..], &p, b"\"}"].concat());
                if let Ok(raw) = body.as_deref().map(crate::alert::RawAlert::scan).transpose() {
                    if let Err(e) = v.check_passphrase(raw.and_then(|r| r.passphrase())) {
                        let _ = format!("{e}");
                    }
                }
            }

            #[test]
            fn genuine_headers_with_fuzzed_extras_never_panic(
                scheme in proptest::sample::select(SIGNING.to_vec()),
                extra in proptest::collection::vec((header_name(), sig_like()), 0..3),
                now_ms in any::<i64>(),
            ) {
                let secret = cfg_secret(scheme, b"fuzz-key");
                let v = verifier(scheme, core::slice::from_ref(&secret), 300);
                let h = sign(scheme, &secret, b"{}", 1_700_000_000, "evt").unwrap();
                let mut hs = pairs(&h);
                hs.extend(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                if let Err(e) = v.verify(b"{}", &hs, now_ms) {
                    let _ = format!("{e}");
                }
            }
        }
    }
}
