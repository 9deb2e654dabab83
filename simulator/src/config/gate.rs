//! The gate's sections (`[auth]`, `[policy]`, `[replay]`, `[rate]`,
//! `[network]`, also under `[strategies.NAME]`): one resolver per section,
//! composed into a [`GateSettings`] that owns what the validator's
//! [`Config`] borrows ([`Lent`]).

use alertgate_validator::net::{Cidr, TRADINGVIEW};
use alertgate_validator::replay::Slot;
use alertgate_validator::symbol::DEFAULT_QUOTES;
use alertgate_validator::{
    AuthConfig, Config, Decimal, Gate, Network, Policy, RateConfig, Replay, Scheme,
};
use serde::Deserialize;

use super::{
    invalid, ConfigFileError, DecimalSetting, FileConfig, Secret, Settings, StrategySection,
};

/// `[auth]`: how requests are authenticated.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// Scheme name: none, passphrase, hex-body, github, timestamped, stripe,
    /// standard-webhooks. Default none.
    pub scheme: String,
    /// Literal secrets (first is current, others are accepted during
    /// rotation). Prefer `secrets_env`.
    pub secrets: Vec<String>,
    /// Names of environment variables holding secrets.
    pub secrets_env: Vec<String>,
    /// Signature header name for `hex-body` (default `X-Webhook-Signature`).
    pub header: Option<String>,
    /// Allowed distance between a signed timestamp and the clock, in seconds,
    /// either direction. Default 300.
    pub tolerance_s: u32,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            scheme: "none".into(),
            secrets: Vec::new(),
            secrets_env: Vec::new(),
            header: None,
            tolerance_s: 300,
        }
    }
}

/// `[policy]`: risk limits. Defaults as in [`Policy::default`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySection {
    /// Lowest accepted confidence (default 0.6).
    pub min_confidence: Option<DecimalSetting>,
    /// Reject alerts without confidence (default false).
    pub require_confidence: Option<bool>,
    /// Largest quantity (default unlimited).
    pub max_quantity: Option<DecimalSetting>,
    /// Allowed symbols, any spelling (normalized on load); empty = all.
    pub symbols: Vec<String>,
    /// Quote currencies for splitting `BTCUSDT`-style symbols.
    pub quotes: Option<Vec<String>>,
    /// Largest order value, quote units (default unlimited).
    pub max_order_value: Option<DecimalSetting>,
    /// Value orders at the alert's own price when no mark price is known
    /// (default false: without a mark only a buy limit can be valued; see
    /// [`Policy::trust_alert_prices`]).
    pub trust_alert_prices: Option<bool>,
    /// Oldest accepted alert, seconds (default 300).
    pub max_age_s: Option<u32>,
    /// Furthest accepted alert time in the future, seconds (default 60).
    pub max_future_skew_s: Option<u32>,
    /// Reject alerts without a timestamp (default true).
    pub require_timestamp: Option<bool>,
}

impl PolicySection {
    /// The [decimal setting](DECIMAL_SETTINGS) called `key`.
    pub(super) fn decimal_mut(&mut self, key: &str) -> Option<&mut Option<DecimalSetting>> {
        match key {
            "min_confidence" => Some(&mut self.min_confidence),
            "max_quantity" => Some(&mut self.max_quantity),
            "max_order_value" => Some(&mut self.max_order_value),
            _ => None,
        }
    }
}

/// `[replay] capacity` when the file sets none: 65,536 slots, 1.5 MiB per
/// gate (24 bytes a slot). With the default five-minute window and one
/// minute of future skew, it is sized (at twice the live ids, where the
/// guard works best) for a peak of about 90 accepted alerts a second:
/// 65,536 / 2 / 360 s.
pub const DEFAULT_REPLAY_CAPACITY: usize = 65_536;

/// The largest `[replay] capacity`: 2^24 slots, 384 MiB per gate. A larger
/// value is far more than any alert rate needs, and more likely a typo
/// than a plan.
pub const MAX_REPLAY_CAPACITY: usize = 1 << 24;

/// Bytes of one replay-guard slot (a 128-bit fingerprint and an expiry).
pub const REPLAY_SLOT_BYTES: usize = core::mem::size_of::<Slot>();

/// `[replay] max_memory_mb` when the file sets none: the most one gate's
/// replay guard may take, MiB (2^24 slots would be 384 MiB).
pub const DEFAULT_REPLAY_MAX_MEMORY_MB: u32 = 512;

/// `[replay]`: the replay guard.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplaySection {
    /// How long accepted event ids are remembered, seconds (default: the
    /// policy's max_age_s).
    pub window_s: Option<u32>,
    /// Slots of the replay guard of each gate (`replay` and `serve`): how
    /// many accepted events can be live within one window, that is
    /// remembered at once (default [`DEFAULT_REPLAY_CAPACITY`]). Size it at
    /// about 2 × peak accepted rate × (`window_s` + `max_future_skew_s`):
    /// a guard with every slot live refuses new alerts as
    /// `replay_cache_full`. Allocated on the heap when the gate is built,
    /// 24 bytes a slot. Set this or `peak_per_second`, not both.
    pub capacity: Option<usize>,
    /// Expected peak accepted alerts a second: sizes the guard at
    /// 2 × `peak_per_second` × (window + `max_future_skew_s`) slots, the
    /// most ids live at once with the headroom where probes stay short.
    /// Bounded by `max_memory_mb` (checked at load, with the numbers).
    pub peak_per_second: Option<u32>,
    /// The most one gate's replay guard may take, MiB (default
    /// [`DEFAULT_REPLAY_MAX_MEMORY_MB`]); a capacity needing more is
    /// refused at load.
    pub max_memory_mb: Option<u32>,
    /// Shared replay store for several replicas, `redis://HOST:PORT[/DB]`
    /// or `rediss://` (TLS) (`serve` only). Absent: the embedded in-memory
    /// guard alone. A password in the URL is refused: `serve` takes it
    /// from the environment (`[serve] store_password_env`).
    pub store: Option<String>,
}

/// `[rate]`: token bucket over accepted alerts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateSection {
    /// Bucket size: alerts accepted back to back.
    pub burst: Option<u32>,
    /// Refill rate, alerts per second (0 = no limit).
    pub per_second: Option<u32>,
}

/// `[network]`: who may send and how much.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSection {
    /// Allowed source networks (CIDR or address), or the preset
    /// `tradingview`. Empty = any.
    pub allowlist: Vec<String>,
    /// Largest body, bytes (default 8192).
    pub max_body_bytes: Option<usize>,
}

/// The resolved settings of one gate: the sections a strategy may override
/// (`[auth]`, `[policy]`, `[replay]`, `[rate]`, `[network]`), with secrets
/// read from the environment, symbols normalized and decimals exact. It
/// owns everything the gate borrows ([`GateSettings::lend`]).
#[derive(Debug, Clone)]
pub struct GateSettings {
    /// The scheme.
    pub scheme: Scheme,
    /// Secrets, resolved from the file and the environment.
    pub secrets: Vec<Secret>,
    /// How many of `secrets` are written in the file (`auth.secrets`)
    /// rather than read from the environment: `serve` refuses them.
    pub secrets_in_file: usize,
    /// Signature header override.
    pub header: Option<String>,
    /// Signature tolerance, seconds.
    pub tolerance_s: u32,
    /// Risk limits with the borrowed lists left empty (see `symbols`, `quotes`).
    pub policy: Policy<'static>,
    /// Allowed symbols, canonical form.
    pub symbols: Vec<String>,
    /// Quote currencies.
    pub quotes: Vec<String>,
    /// Source allowlist.
    pub allowlist: Vec<Cidr>,
    /// Body limit, bytes.
    pub max_body_bytes: usize,
    /// Replay window.
    pub replay: Replay,
    /// `[replay] capacity`: the replay guard's slots, 1 to
    /// [`MAX_REPLAY_CAPACITY`].
    pub replay_capacity: usize,
    /// `[replay] store`: the shared replay store, if any.
    pub replay_store: Option<StoreUrl>,
    /// Rate limit.
    pub rate: RateConfig,
}

/// A shared replay store's URL, `redis://` or `rediss://` (TLS)
/// `[USER@]HOST:PORT[/DB]`, checked at load. It never holds a password, so
/// it can be shown (`Debug`, errors) as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// `url` if it is a `redis://` or `rediss://` URL without a password;
    /// `replay.store`'s message otherwise.
    pub fn parse(url: &str) -> Result<StoreUrl, ConfigFileError> {
        let Some(rest) = url
            .strip_prefix("redis://")
            .or_else(|| url.strip_prefix("rediss://"))
        else {
            return Err(invalid(
                "replay.store",
                "the replay store is a redis://HOST:PORT or rediss://HOST:PORT URL",
            ));
        };
        // The authority ends at the path, query or fragment; its user
        // information at the last `@`. `USER:PASSWORD@` (or `:PASSWORD@`)
        // writes a secret into a file that gets copied and committed. The
        // message never repeats the URL.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let user_has_password = authority
            .rsplit_once('@')
            .is_some_and(|(user, _)| user.contains(':'));
        let query_has_password = rest
            .split_once('?')
            .is_some_and(|(_, q)| q.to_ascii_lowercase().contains("password"));
        if user_has_password || query_has_password {
            return Err(invalid(
                "replay.store",
                "the URL holds a password; remove it and name the environment variable \
                 that holds it in [serve] store_password_env",
            ));
        }
        Ok(StoreUrl(url.to_string()))
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The borrowed views the validator's `Config` points into.
pub struct Lent<'s> {
    secrets: Vec<&'s [u8]>,
    symbols: Vec<&'s str>,
    quotes: Vec<&'s str>,
    settings: &'s GateSettings,
}

impl<'s> Lent<'s> {
    /// The validator configuration.
    pub fn config(&'s self) -> Config<'s> {
        let s = self.settings;
        Config {
            auth: AuthConfig {
                scheme: s.scheme,
                secrets: &self.secrets,
                header: s.header.as_deref(),
                tolerance_s: s.tolerance_s,
            },
            policy: Policy {
                symbols: &self.symbols,
                quotes: &self.quotes,
                ..s.policy
            },
            network: Network {
                allowlist: &s.allowlist,
                max_body_bytes: s.max_body_bytes,
            },
            replay: s.replay,
            rate: s.rate,
        }
    }

    /// The gate of these settings, its replay guard's `[replay] capacity`
    /// slots in a boxed slice: allocated on the heap, never built on a
    /// stack, whatever the capacity.
    pub fn gate(&'s self) -> Result<Gate<'s, Box<[Slot]>>, alertgate_validator::ConfigError> {
        let slots = vec![Slot::EMPTY; self.settings.replay_capacity].into_boxed_slice();
        Gate::with_replay_storage(self.config(), slots)
    }
}

/// The gate's sections of a file (top level, or a strategy's with the top
/// level's for those it leaves out).
#[derive(Debug, Clone, Copy)]
pub struct GateSections<'f> {
    /// `[auth]`
    pub auth: &'f AuthSection,
    /// `[policy]`
    pub policy: &'f PolicySection,
    /// `[replay]`
    pub replay: &'f ReplaySection,
    /// `[rate]`
    pub rate: &'f RateSection,
    /// `[network]`
    pub network: &'f NetworkSection,
}

impl<'f> GateSections<'f> {
    /// The top-level sections of `file`.
    pub fn top_level(file: &'f FileConfig) -> GateSections<'f> {
        GateSections {
            auth: &file.auth,
            policy: &file.policy,
            replay: &file.replay,
            rate: &file.rate,
            network: &file.network,
        }
    }

    /// `strategy`'s sections, each replacing the one of `self` whole.
    pub fn overridden_by(self, strategy: &'f StrategySection) -> GateSections<'f> {
        GateSections {
            auth: strategy.auth.as_ref().unwrap_or(self.auth),
            policy: strategy.policy.as_ref().unwrap_or(self.policy),
            replay: strategy.replay.as_ref().unwrap_or(self.replay),
            rate: strategy.rate.as_ref().unwrap_or(self.rate),
            network: strategy.network.as_ref().unwrap_or(self.network),
        }
    }
}

impl AuthSection {
    /// `scheme`, by name.
    fn resolve_scheme(&self) -> Result<Scheme, ConfigFileError> {
        Scheme::from_name(&self.scheme).ok_or_else(|| {
            invalid(
                "auth.scheme",
                format!(
                    "{:?} is not a scheme; expected one of {}",
                    self.scheme,
                    Scheme::ALL.map(|s| s.name()).join(", ")
                ),
            )
        })
    }

    /// `secrets`, then the values of the variables `secrets_env` names
    /// (each must be set and non-empty).
    fn resolve_secrets(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Secret>, ConfigFileError> {
        let mut secrets: Vec<Secret> = self
            .secrets
            .iter()
            .map(|s| Secret(s.as_bytes().to_vec()))
            .collect();
        for name in &self.secrets_env {
            match env(name) {
                Some(v) if !v.is_empty() => secrets.push(Secret(v.into_bytes())),
                _ => {
                    return Err(invalid(
                        "auth.secrets_env",
                        format!("environment variable {name} is not set or empty"),
                    ))
                }
            }
        }
        Ok(secrets)
    }
}

impl PolicySection {
    /// `quotes` upper-cased, or the default quotes.
    fn resolve_quotes(&self) -> Vec<String> {
        match &self.quotes {
            Some(q) => q.iter().map(|s| s.to_ascii_uppercase()).collect(),
            None => DEFAULT_QUOTES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `symbols` in canonical form, split with `quotes`.
    fn resolve_symbols(&self, quotes: &[String]) -> Result<Vec<String>, ConfigFileError> {
        let quote_refs: Vec<&str> = quotes.iter().map(String::as_str).collect();
        let mut symbols = Vec::new();
        for raw in &self.symbols {
            let symbol = alertgate_validator::symbol::normalize(raw, &quote_refs)
                .map_err(|e| invalid("policy.symbols", e.to_string()))?;
            symbols.push(symbol.as_str().to_string());
        }
        Ok(symbols)
    }

    /// The risk limits, with the borrowed lists left empty.
    fn resolve(&self) -> Result<Policy<'static>, ConfigFileError> {
        let defaults = Policy::default();
        let policy = Policy {
            min_confidence: exact("min_confidence", self.min_confidence)?
                .unwrap_or(defaults.min_confidence),
            require_confidence: self
                .require_confidence
                .unwrap_or(defaults.require_confidence),
            max_quantity: exact("max_quantity", self.max_quantity)?,
            symbols: &[],
            quotes: &[],
            max_order_value: exact("max_order_value", self.max_order_value)?,
            trust_alert_prices: self
                .trust_alert_prices
                .unwrap_or(defaults.trust_alert_prices),
            max_age_ms: self
                .max_age_s
                .map_or(defaults.max_age_ms, |s| i64::from(s) * 1000),
            max_future_skew_ms: self
                .max_future_skew_s
                .map_or(defaults.max_future_skew_ms, |s| i64::from(s) * 1000),
            require_timestamp: self.require_timestamp.unwrap_or(defaults.require_timestamp),
        };
        if policy.min_confidence.is_negative() || policy.min_confidence > Decimal::ONE {
            return Err(invalid(
                "policy.min_confidence",
                "expected a number from 0 to 1",
            ));
        }
        Ok(policy)
    }
}

/// The decimal setting `policy.KEY`; a float still unread (no text to read
/// it from) is refused.
fn exact(key: &str, setting: Option<DecimalSetting>) -> Result<Option<Decimal>, ConfigFileError> {
    match setting {
        None => Ok(None),
        Some(DecimalSetting::Exact(d)) => Ok(Some(d)),
        Some(DecimalSetting::Float(x)) => Err(invalid(
            &format!("policy.{key}"),
            format!(
                "{x} is a float without its text, which may not be what was written; \
                 expected the decimal as a string (\"{x}\")"
            ),
        )),
    }
}

impl NetworkSection {
    /// `allowlist` as networks, `tradingview` expanded.
    fn resolve_allowlist(&self) -> Result<Vec<Cidr>, ConfigFileError> {
        let mut allowlist = Vec::new();
        for entry in &self.allowlist {
            if entry.eq_ignore_ascii_case("tradingview") {
                allowlist.extend_from_slice(&TRADINGVIEW);
                continue;
            }
            allowlist.push(Cidr::parse(entry).ok_or_else(|| {
                invalid(
                    "network.allowlist",
                    format!("{entry:?} is not an address, a CIDR (10.0.0.0/8) or \"tradingview\""),
                )
            })?);
        }
        Ok(allowlist)
    }
}

impl ReplaySection {
    /// `capacity` (1 to [`MAX_REPLAY_CAPACITY`]), or sized from
    /// `peak_per_second` and the replay lifetime (`policy`'s window and
    /// future skew), bounded by `max_memory_mb` (default
    /// [`DEFAULT_REPLAY_CAPACITY`]).
    fn resolve_capacity(&self, policy: &Policy) -> Result<usize, ConfigFileError> {
        let capacity = match (self.capacity, self.peak_per_second) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "replay.peak_per_second",
                    "set replay.capacity (slots) or replay.peak_per_second (sized from it), \
                     not both"
                        .to_string(),
                ))
            }
            (None, None) => return Ok(DEFAULT_REPLAY_CAPACITY),
            (Some(n @ 1..=MAX_REPLAY_CAPACITY), None) => n,
            (Some(n), None) => {
                return Err(invalid(
                    "replay.capacity",
                    format!(
                        "{n}: expected 1 to {MAX_REPLAY_CAPACITY} slots, how many accepted \
                         events can be live within one window (default \
                         {DEFAULT_REPLAY_CAPACITY}); size it at about 2 × peak accepted \
                         rate × (window_s + max_future_skew_s), or set peak_per_second"
                    ),
                ))
            }
            (None, Some(0)) => {
                return Err(invalid(
                    "replay.peak_per_second",
                    "0: expected the peak accepted alerts a second (at least 1)".to_string(),
                ))
            }
            (None, Some(peak)) => {
                let lifetime_s = self.lifetime_s(policy);
                let slots = 2 * u64::from(peak) * lifetime_s;
                let slots = usize::try_from(slots).unwrap_or(usize::MAX);
                if slots > MAX_REPLAY_CAPACITY {
                    return Err(invalid(
                        "replay.peak_per_second",
                        format!(
                            "{peak}/s over a {lifetime_s} s lifetime (window + future skew) \
                             needs 2 × {peak} × {lifetime_s} = {slots} slots, more than the \
                             largest guard ({MAX_REPLAY_CAPACITY}); shorten the window or \
                             lower the peak"
                        ),
                    ));
                }
                slots
            }
        };
        let limit_mb = self.max_memory_mb.unwrap_or(DEFAULT_REPLAY_MAX_MEMORY_MB);
        let bytes = capacity as u64 * REPLAY_SLOT_BYTES as u64;
        if bytes > u64::from(limit_mb) << 20 {
            let setting = if self.capacity.is_some() {
                "replay.capacity"
            } else {
                "replay.peak_per_second"
            };
            return Err(invalid(
                setting,
                format!(
                    "{capacity} slots × {REPLAY_SLOT_BYTES} B = {} MiB per gate, more than \
                     replay.max_memory_mb = {limit_mb}; raise max_memory_mb, lower the peak \
                     or shorten the window",
                    bytes.div_ceil(1 << 20)
                ),
            ));
        }
        Ok(capacity)
    }

    /// Seconds an accepted id can stay live: the window (default the
    /// policy's `max_age_s`) plus the future skew an alert may claim.
    fn lifetime_s(&self, policy: &Policy) -> u64 {
        let window_ms = self
            .window_s
            .map_or(policy.max_age_ms, |s| i64::from(s) * 1000);
        let ms = window_ms.max(0) + policy.max_future_skew_ms.max(0);
        (ms as u64).div_ceil(1000)
    }

    /// The guard's window (its hash key is derived from the first secret by
    /// the gate).
    fn resolve_window(&self) -> Replay {
        Replay {
            window_ms: self.window_s.map(|s| i64::from(s) * 1000),
            hash_key: None,
        }
    }
}

impl RateSection {
    /// The token bucket, defaults as in [`RateConfig::default`].
    fn resolve(&self) -> RateConfig {
        let defaults = RateConfig::default();
        RateConfig {
            burst: self.burst.unwrap_or(defaults.burst),
            per_second: self.per_second.unwrap_or(defaults.per_second),
        }
    }
}

impl GateSettings {
    /// Resolves a gate's sections; `env` looks up environment variables.
    /// Errors name the setting as in the top level (`auth.scheme`).
    pub fn resolve(
        sections: GateSections<'_>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<GateSettings, ConfigFileError> {
        let GateSections {
            auth,
            policy,
            replay,
            rate,
            network,
        } = sections;
        let quotes = policy.resolve_quotes();
        let resolved_policy = policy.resolve()?;
        Ok(GateSettings {
            scheme: auth.resolve_scheme()?,
            secrets: auth.resolve_secrets(env)?,
            secrets_in_file: auth.secrets.len(),
            header: auth.header.clone(),
            tolerance_s: auth.tolerance_s,
            symbols: policy.resolve_symbols(&quotes)?,
            replay_capacity: replay.resolve_capacity(&resolved_policy)?,
            policy: resolved_policy,
            quotes,
            allowlist: network.resolve_allowlist()?,
            max_body_bytes: network
                .max_body_bytes
                .unwrap_or(Network::default().max_body_bytes),
            replay: replay.resolve_window(),
            replay_store: replay.store.as_deref().map(StoreUrl::parse).transpose()?,
            rate: rate.resolve(),
        })
    }

    /// The defaults: scheme `none`, default policy, no limits beyond them.
    pub fn defaults() -> GateSettings {
        Settings::defaults().gate
    }

    /// Borrowed views for [`Lent::config`].
    pub fn lend(&self) -> Lent<'_> {
        Lent {
            secrets: self.secrets.iter().map(|s| s.0.as_slice()).collect(),
            symbols: self.symbols.iter().map(String::as_str).collect(),
            quotes: self.quotes.iter().map(String::as_str).collect(),
            settings: self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DECIMAL_SETTINGS;

    fn env(k: &str) -> Option<String> {
        (k == "GATE_SECRET").then(|| "from-env".to_string())
    }

    #[test]
    fn replay_capacity_is_a_setting() {
        let d = Settings::defaults();
        assert_eq!(d.gate.replay_capacity, DEFAULT_REPLAY_CAPACITY);
        assert_eq!(DEFAULT_REPLAY_CAPACITY, 65_536);
        let s = Settings::from_toml(
            "[replay]\ncapacity = 1000\n[strategies.a.replay]\ncapacity = 3\n[strategies.b]\n",
            "t",
            env,
        )
        .unwrap();
        assert_eq!(s.gate.replay_capacity, 1000);
        assert_eq!(s.strategies["a"].replay_capacity, 3);
        // A strategy without its own [replay] takes the top level's whole.
        assert_eq!(s.strategies["b"].replay_capacity, 1000);
        // The gate's guard is that many slots, on the heap.
        let lent = s.lend();
        let gate = lent.gate().unwrap();
        assert_eq!(gate.replay_capacity(), 1000);
        let lent = d.lend();
        assert_eq!(lent.gate().unwrap().replay_capacity(), 65_536);
        let lent = s.strategies["a"].lend();
        assert_eq!(lent.gate().unwrap().replay_capacity(), 3);

        // 0 cannot remember anything (every alert would be refused) and is
        // refused at load time, saying what the setting means.
        for (text, setting) in [
            ("[replay]\ncapacity = 0\n", "replay.capacity"),
            (
                "[strategies.a.replay]\ncapacity = 0\n",
                "strategies.a.replay.capacity",
            ),
            ("[replay]\ncapacity = 16777217\n", "replay.capacity"),
        ] {
            let err = Settings::from_toml(text, "t", env).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(&err, ConfigFileError::Invalid { setting: s, .. } if s == setting),
                "{message}"
            );
            assert!(
                message.contains("expected 1 to 16777216 slots"),
                "{message}"
            );
            assert!(
                message.contains("how many accepted events can be live within one window"),
                "{message}"
            );
        }
        assert_eq!(
            Settings::from_toml("[replay]\ncapacity = 16777216\n", "t", env)
                .unwrap()
                .gate
                .replay_capacity,
            MAX_REPLAY_CAPACITY
        );
        // Not a count: a parse error naming the setting.
        let err = Settings::from_toml("[replay]\ncapacity = -1\n", "t", env).unwrap_err();
        assert!(
            err.to_string().contains("(setting replay.capacity)"),
            "{err}"
        );
    }

    #[test]
    fn replay_capacity_follows_the_expected_peak_within_a_memory_bound() {
        assert_eq!(REPLAY_SLOT_BYTES, 24);
        // Default window = max_age_s (300), future skew 60 s: 2 × 1000 × 360.
        let s = Settings::from_toml("[replay]\npeak_per_second = 1000\n", "t", env).unwrap();
        let lifetime_s =
            u64::try_from((s.gate.policy.max_age_ms + s.gate.policy.max_future_skew_ms) / 1000)
                .unwrap();
        assert_eq!(s.gate.replay_capacity as u64, 2 * 1000 * lifetime_s);
        let s = Settings::from_toml(
            "[policy]\nmax_future_skew_s = 0\n[replay]\nwindow_s = 400\npeak_per_second = 10\n",
            "t",
            env,
        )
        .unwrap();
        assert_eq!(s.gate.replay_capacity, 2 * 10 * 400);
        // 20,000/s for 360 s: 14.4 M slots, 330 MiB: past a 256 MiB bound,
        // refused with the numbers; within the default 512 MiB.
        let text = "[replay]\npeak_per_second = 20000\nmax_memory_mb = 256\n";
        let err = Settings::from_toml(text, "t", env).unwrap_err().to_string();
        assert!(err.contains("replay.peak_per_second"), "{err}");
        assert!(err.contains("14400000 slots × 24 B = 330 MiB"), "{err}");
        assert!(err.contains("max_memory_mb = 256"), "{err}");
        let text = "[replay]\npeak_per_second = 20000\n";
        assert_eq!(
            Settings::from_toml(text, "t", env)
                .unwrap()
                .gate
                .replay_capacity,
            14_400_000
        );
        // Past the largest guard, or both ways at once, or a zero peak.
        for (text, needle) in [
            (
                "[replay]\npeak_per_second = 30000\n",
                "more than the largest guard",
            ),
            ("[replay]\npeak_per_second = 5\ncapacity = 9\n", "not both"),
            ("[replay]\npeak_per_second = 0\n", "at least 1"),
            (
                "[replay]\ncapacity = 1000000\nmax_memory_mb = 10\n",
                "23 MiB per gate",
            ),
        ] {
            let err = Settings::from_toml(text, "t", env).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn replay_store_is_a_redis_url() {
        let s = Settings::from_toml("[replay]\nstore = \"redis://127.0.0.1:6379\"\n", "t", env)
            .unwrap();
        assert_eq!(
            s.gate.replay_store.as_ref().map(StoreUrl::as_str),
            Some("redis://127.0.0.1:6379")
        );
        assert_eq!(Settings::defaults().gate.replay_store, None);
        assert!(Settings::from_toml("[replay]\nstore = \"memcached://x\"\n", "t", env).is_err());
        assert!(StoreUrl::parse("rediss://redis.internal:6380/2").is_ok());
        assert!(StoreUrl::parse("redis://gateway@127.0.0.1:6379").is_ok());
        for url in [
            "redis://:hunter2@127.0.0.1:6379",
            "rediss://gateway:hunter2@redis.internal:6380/0",
            "redis://127.0.0.1:6379/0?password=hunter2",
        ] {
            let err = StoreUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains("replay.store"), "{err}");
            assert!(err.contains("store_password_env"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn every_decimal_setting_is_reachable_by_key() {
        let mut policy = PolicySection::default();
        for key in DECIMAL_SETTINGS {
            assert!(policy.decimal_mut(key).is_some(), "{key}");
        }
        assert!(policy.decimal_mut("max_age_s").is_none());
    }
}
