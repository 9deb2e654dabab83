//! `alertgate.toml`: the gateway's configuration file, loaded into plain
//! owned structs and lent to the validator as an [`alertgate_validator::Config`].
//!
//! Every section and key is optional; unknown keys are errors (a typo in a
//! risk limit must not silently disable it). Decimal settings accept a TOML
//! number or a string (`max_quantity = "0.5"`), read exactly: a float is
//! read from its text in the file, not through an `f64`, so
//! `max_quantity = 0.99999999999999999` is that number, not 1 (see
//! [`DecimalSetting`]).
//!
//! Secrets come from `secrets` (literal strings, for tests) or `secrets_env`
//! (names of environment variables, for everything else). They are never
//! printed: [`Secret`]'s `Debug` is redacted.
//!
//! This module reads the gate's sections (resolved per gate into a
//! [`GateSettings`], one resolver per section; a strategy's gate is the top
//! level's with the sections it gives replaced whole) and `[simulation]`.
//! `[serve]` is the gateway's to read; the command line reads the file once
//! and composes both.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use alertgate_validator::net::{Cidr, TRADINGVIEW};
use alertgate_validator::replay::Slot;
use alertgate_validator::symbol::DEFAULT_QUOTES;
use alertgate_validator::{
    decimal, AuthConfig, Config, Decimal, Gate, Network, Policy, RateConfig, Replay, Scheme,
};
use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::latency::{LatencySetting, Stage};

/// A configuration problem, with the setting it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or mistyped keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What toml reported (line, column, key).
        message: String,
    },
    /// A value is well-typed but not allowed.
    #[error("{setting}: {message}")]
    Invalid {
        /// Dotted setting name, e.g. `auth.scheme`.
        setting: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The validator refused the assembled configuration.
    #[error("{0}")]
    Gate(#[from] alertgate_validator::ConfigError),
}

impl ConfigFileError {
    /// The [`ConfigFileError::Parse`] of `e`, met reading `text` (from
    /// `origin`): line, column and setting, never the line's text (it may
    /// hold a secret).
    pub fn parse(origin: &str, text: &str, e: &toml::de::Error) -> ConfigFileError {
        ConfigFileError::Parse {
            path: origin.into(),
            message: describe_toml_error(text, e),
        }
    }
}

/// A secret's bytes; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// A decimal setting: a TOML integer, string or float, read exactly.
///
/// TOML floats reach serde as `f64`s, which may not be what was written
/// (`0.99999999999999999` is the `f64` 1). So a float is kept as
/// [`DecimalSetting::Float`] while the file is deserialized, and
/// [`Settings::from_toml`] then reads it again from its text in the file
/// ([`decimal_of_float_literal`]); one left unread (a table built in code
/// and given to [`Settings::from_table`]) is refused, not rounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DecimalSetting {
    /// Read exactly: from an integer, a string, or a float's text.
    Exact(Decimal),
    /// A TOML float, still to be read from its text.
    Float(f64),
}

impl<'de> Deserialize<'de> for DecimalSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
            Text(String),
        }
        // The text to read, and the value as the message shows it.
        let (text, shown) = match Raw::deserialize(deserializer)? {
            Raw::Int(i) => (i.to_string(), i.to_string()),
            Raw::Float(x) => return Ok(DecimalSetting::Float(x)),
            Raw::Text(s) => {
                let shown = format!("{s:?}");
                (s, shown)
            }
        };
        Decimal::parse(&text)
            .map(DecimalSetting::Exact)
            .ok_or_else(|| de::Error::custom(not_a_decimal(&shown)))
    }
}

/// `VALUE is not a decimal below 10^18 ...`: the message for a decimal
/// setting the gate cannot hold exactly.
fn not_a_decimal(value: &str) -> String {
    format!("{value} is not a decimal {}", decimal::BOUNDS)
}

/// The keys of `[policy]` that are [`DecimalSetting`]s (also under
/// `[strategies.NAME.policy]`).
pub const DECIMAL_SETTINGS: [&str; 3] = ["min_confidence", "max_quantity", "max_order_value"];

/// The exact value of a TOML float literal (`0.99999999999999999`,
/// `+1_000.5`, `1e-3`) as written, if a [`Decimal`] holds it: the text is
/// read, without `_` separators and a leading `+`, by [`Decimal::parse`]
/// (TOML's float syntax is otherwise RFC 8259's, which it reads). `None`
/// for `inf`, `nan` and values beyond [`decimal::BOUNDS`].
pub fn decimal_of_float_literal(literal: &str) -> Option<Decimal> {
    Decimal::parse(&float_literal_as_decimal_text(literal))
}

/// A TOML float literal as decimal text: without `_` and a leading `+`.
fn float_literal_as_decimal_text(literal: &str) -> String {
    let unsigned = literal.strip_prefix('+').unwrap_or(literal);
    unsigned.replace('_', "")
}

/// The `[policy]` values of a file (top level and per strategy) with their
/// places in its text: what holds the decimal settings. Everything else is
/// ignored, having been checked when the file was read as a [`FileConfig`].
#[derive(Default, Deserialize)]
#[serde(default)]
struct DecimalLiterals {
    policy: BTreeMap<String, toml::Spanned<toml::Value>>,
    strategies: BTreeMap<String, StrategyLiterals>,
}

/// [`DecimalLiterals`] of a `[strategies.NAME]`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct StrategyLiterals {
    policy: BTreeMap<String, toml::Spanned<toml::Value>>,
}

/// A decimal setting written as a float: where, and its text.
struct FloatLiteral<'t> {
    /// The `[strategies.NAME]` it is under, if any.
    strategy: Option<String>,
    /// Its key in `[policy]`, one of [`DECIMAL_SETTINGS`].
    key: &'static str,
    /// The float as written.
    literal: &'t str,
}

impl FloatLiteral<'_> {
    /// The dotted setting (`policy.max_quantity`,
    /// `strategies.NAME.policy.max_quantity`).
    fn setting(&self) -> String {
        match &self.strategy {
            Some(name) => format!("strategies.{name}.policy.{}", self.key),
            None => format!("policy.{}", self.key),
        }
    }
}

impl DecimalLiterals {
    /// Every decimal setting `text` writes as a float (`text` being a
    /// document that deserialized as a [`FileConfig`]).
    fn floats(text: &str) -> Result<Vec<FloatLiteral<'_>>, toml::de::Error> {
        let literals: DecimalLiterals = toml::from_str(text)?;
        let tables = std::iter::once((None, literals.policy)).chain(
            literals
                .strategies
                .into_iter()
                .map(|(name, s)| (Some(name), s.policy)),
        );
        let mut floats = Vec::new();
        for (strategy, mut policy) in tables {
            for key in DECIMAL_SETTINGS {
                if let Some(value) = policy.remove(key).filter(|v| v.get_ref().is_float()) {
                    floats.push(FloatLiteral {
                        strategy: strategy.clone(),
                        key,
                        literal: text.get(value.span()).unwrap_or_default(),
                    });
                }
            }
        }
        Ok(floats)
    }
}

/// Replaces every decimal setting of `table` written as a float in `text`
/// (which `table` was parsed from) by a string holding its literal (less
/// `_` and a leading `+`), so that the setting is read exactly when the
/// table is checked ([`Settings::from_table`]); `replay --sweep` edits
/// such a table.
pub fn keep_decimal_literals(table: &mut toml::Table, text: &str) -> Result<(), toml::de::Error> {
    for float in DecimalLiterals::floats(text)? {
        let mut section = Some(&mut *table);
        if let Some(name) = &float.strategy {
            section = section
                .and_then(|t| t.get_mut("strategies")?.as_table_mut())
                .and_then(|t| t.get_mut(name)?.as_table_mut());
        }
        let slot = section
            .and_then(|t| t.get_mut("policy")?.as_table_mut())
            .and_then(|t| t.get_mut(float.key));
        if let Some(value) = slot {
            *value = toml::Value::String(float_literal_as_decimal_text(float.literal));
        }
    }
    Ok(())
}

/// A `--sweep` value for the setting at `path`: `value` (parsed TOML) as
/// is, but a float for a [decimal setting](DECIMAL_SETTINGS) becomes a
/// string of its literal `text`, to be read exactly.
pub fn sweep_value(path: &[String], text: &str, value: toml::Value) -> toml::Value {
    match (path, value) {
        ([section, key], toml::Value::Float(_))
            if section == "policy" && DECIMAL_SETTINGS.contains(&key.as_str()) =>
        {
            toml::Value::String(float_literal_as_decimal_text(text))
        }
        (_, value) => value,
    }
}

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
    fn decimal_mut(&mut self, key: &str) -> Option<&mut Option<DecimalSetting>> {
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
    /// 24 bytes a slot.
    pub capacity: Option<usize>,
    /// Shared replay store for several replicas, `redis://HOST:PORT[/DB]`
    /// (`serve` only). Absent: the embedded in-memory guard alone.
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

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// `[auth]`
    pub auth: AuthSection,
    /// `[policy]`
    pub policy: PolicySection,
    /// `[replay]`
    pub replay: ReplaySection,
    /// `[rate]`
    pub rate: RateSection,
    /// `[network]`
    pub network: NetworkSection,
    /// `[simulation]`, read by `replay` (and by `serve`'s mock exchange:
    /// cash, fees and slippage).
    pub simulation: SimulationSection,
    /// `[serve]`, read by the gateway (`alertgate_gateway::serve::settings`);
    /// here only its being a table is checked.
    pub serve: toml::Table,
    /// `[strategies.NAME]`: gates selected by `POST /webhook/NAME`.
    pub strategies: BTreeMap<String, StrategySection>,
}

/// `[strategies.NAME]`: one strategy's gate. Each section given here
/// replaces the top-level section of the same name whole (no key-by-key
/// merge, so a strategy's limits read in one place); sections left out are
/// the top level's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StrategySection {
    /// `[strategies.NAME.auth]`
    pub auth: Option<AuthSection>,
    /// `[strategies.NAME.policy]`
    pub policy: Option<PolicySection>,
    /// `[strategies.NAME.replay]`
    pub replay: Option<ReplaySection>,
    /// `[strategies.NAME.rate]`
    pub rate: Option<RateSection>,
    /// `[strategies.NAME.network]`
    pub network: Option<NetworkSection>,
}

/// `[simulation]`: what `alertgate replay` needs beyond the gate's settings.
/// Paths are relative to the configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulationSection {
    /// The recorded alert stream (JSON Lines), used when `--stream` is not
    /// given.
    pub stream: Option<PathBuf>,
    /// Market data files by symbol (`"BTC/USDT" = "btc.csv"`), used with
    /// `market_dir` when no `--market` / `--market-dir` is given.
    pub market: BTreeMap<String, PathBuf>,
    /// A directory of `SYMBOL.csv` files (`BTC-USDT.csv`).
    pub market_dir: Option<PathBuf>,
    /// Starting cash, quote units. Default 100000.
    pub initial_cash: f64,
    /// Fee on limit and take-profit fills, basis points of notional.
    /// Default 0.
    pub maker_fee_bps: f64,
    /// Fee on market and stop fills, basis points of notional. Default 0.
    pub taker_fee_bps: f64,
    /// Price moved against market and stop fills, basis points. Default 0.
    pub slippage_bps: f64,
    /// Seed of every random draw (latencies). Default 0.
    pub seed: u64,
    /// Latency per stage.
    pub latency: LatencySection,
}

impl Default for SimulationSection {
    fn default() -> Self {
        SimulationSection {
            stream: None,
            market: BTreeMap::new(),
            market_dir: None,
            initial_cash: 100_000.0,
            maker_fee_bps: 0.0,
            taker_fee_bps: 0.0,
            slippage_bps: 0.0,
            seed: 0,
            latency: LatencySection::default(),
        }
    }
}

/// `[simulation.latency]`: each stage is milliseconds (constant) or a model
/// table (see [`crate::latency`]). Default 0 ms everywhere.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencySection {
    /// Sender → gateway: the gate checks an alert at `received_at` plus this.
    pub delivery_ms: LatencySetting,
    /// Gateway → exchange.
    pub order_ms: LatencySetting,
    /// Exchange → gateway (reported only).
    pub response_ms: LatencySetting,
}

impl LatencySection {
    /// The setting of `stage`.
    pub fn stage(&self, stage: Stage) -> &LatencySetting {
        match stage {
            Stage::Delivery => &self.delivery_ms,
            Stage::Order => &self.order_ms,
            Stage::Response => &self.response_ms,
        }
    }
}

impl SimulationSection {
    /// The fee and slippage settings, as the exchange takes them (`replay`'s
    /// exchange and `serve`'s `mock`).
    pub fn costs(&self) -> crate::exchange::Costs {
        crate::exchange::Costs {
            maker_fee_bps: self.maker_fee_bps,
            taker_fee_bps: self.taker_fee_bps,
            slippage_bps: self.slippage_bps,
        }
    }

    fn validate(&self) -> Result<(), ConfigFileError> {
        if !(self.initial_cash.is_finite() && self.initial_cash > 0.0) {
            return Err(invalid(
                "simulation.initial_cash",
                format!("{}: expected a finite amount above 0", self.initial_cash),
            ));
        }
        for (name, bps) in [
            ("simulation.maker_fee_bps", self.maker_fee_bps),
            ("simulation.taker_fee_bps", self.taker_fee_bps),
            ("simulation.slippage_bps", self.slippage_bps),
        ] {
            if !(bps.is_finite() && (0.0..10_000.0).contains(&bps)) {
                return Err(invalid(
                    name,
                    format!("{bps}: expected basis points from 0 to below 10000"),
                ));
            }
        }
        Ok(())
    }
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

/// A shared replay store's URL, `redis://HOST:PORT[/DB]`, checked at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// `url` if it is a `redis://` URL; `replay.store`'s message otherwise.
    pub fn parse(url: &str) -> Result<StoreUrl, ConfigFileError> {
        if url.starts_with("redis://") {
            Ok(StoreUrl(url.to_string()))
        } else {
            Err(invalid(
                "replay.store",
                "the replay store is a redis://HOST:PORT URL",
            ))
        }
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The simulator's sections of a checked configuration file: the
/// top-level gate, `[simulation]` and each strategy's gate (`[serve]` is the
/// gateway's, `alertgate_gateway::serve::settings`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The top-level gate (`POST /webhook`, `check`, `replay`).
    pub gate: GateSettings,
    /// `[simulation]`, read by `replay`.
    pub simulation: SimulationSection,
    /// `[strategies.NAME]`, each the top-level gate with the sections the
    /// strategy gives replaced whole.
    pub strategies: BTreeMap<String, GateSettings>,
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

/// `line L, column C (setting section.key): message`, without the source
/// excerpt toml's `Display` adds, since that line may hold a secret.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_string();
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.len() - line_start + 1;
    // The key is what precedes `=` on the error's line; the section is the
    // last `[header]` above it. Neither can hold a secret value.
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.contains(['"', '\'', '[']));
    let section = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(['[', ']']).trim());
    let setting = match (section, key) {
        (Some(s), Some(k)) => format!(" (setting {s}.{k})"),
        (None, Some(k)) => format!(" (setting {k})"),
        _ => String::new(),
    };
    format!("line {line}, column {column}{setting}: {}", e.message())
}

fn invalid(setting: &str, message: impl Into<String>) -> ConfigFileError {
    ConfigFileError::Invalid {
        setting: setting.into(),
        message: message.into(),
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
    /// `capacity`, 1 to [`MAX_REPLAY_CAPACITY`] (default
    /// [`DEFAULT_REPLAY_CAPACITY`]).
    fn resolve_capacity(&self) -> Result<usize, ConfigFileError> {
        match self.capacity {
            None => Ok(DEFAULT_REPLAY_CAPACITY),
            Some(n @ 1..=MAX_REPLAY_CAPACITY) => Ok(n),
            Some(n) => Err(invalid(
                "replay.capacity",
                format!(
                    "{n}: expected 1 to {MAX_REPLAY_CAPACITY} slots, how many accepted \
                     events can be live within one window (default \
                     {DEFAULT_REPLAY_CAPACITY}); size it at about 2 × peak accepted \
                     rate × (window_s + max_future_skew_s)"
                ),
            )),
        }
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
        Ok(GateSettings {
            scheme: auth.resolve_scheme()?,
            secrets: auth.resolve_secrets(env)?,
            secrets_in_file: auth.secrets.len(),
            header: auth.header.clone(),
            tolerance_s: auth.tolerance_s,
            symbols: policy.resolve_symbols(&quotes)?,
            policy: policy.resolve()?,
            quotes,
            allowlist: network.resolve_allowlist()?,
            max_body_bytes: network
                .max_body_bytes
                .unwrap_or(Network::default().max_body_bytes),
            replay: replay.resolve_window(),
            replay_capacity: replay.resolve_capacity()?,
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

/// Refuses a strategy name other than letters, digits, `-` and `_`.
fn check_strategy_name(name: &str) -> Result<(), ConfigFileError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if name.is_empty() || !name.bytes().all(allowed) {
        return Err(invalid(
            "strategies",
            format!("{name:?}: a strategy name is letters, digits, - and _"),
        ));
    }
    Ok(())
}

/// Each `[strategies.NAME]` of `file` resolved over the top level's
/// sections; errors name `strategies.NAME.SETTING`.
fn resolve_strategies(
    file: &FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, GateSettings>, ConfigFileError> {
    let top = GateSections::top_level(file);
    let mut strategies = BTreeMap::new();
    for (name, section) in &file.strategies {
        check_strategy_name(name)?;
        let gate = GateSettings::resolve(top.overridden_by(section), env).map_err(|e| match e {
            ConfigFileError::Invalid { setting, message } => ConfigFileError::Invalid {
                setting: format!("strategies.{name}.{setting}"),
                message,
            },
            other => other,
        })?;
        strategies.insert(name.clone(), gate);
    }
    Ok(strategies)
}

impl Settings {
    /// Reads and checks a file; `env` looks up environment variables (pass
    /// `|k| std::env::var(k).ok()`).
    pub fn load(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Settings::from_toml(&text, &path.display().to_string(), env)
    }

    /// Parses and checks TOML text; `origin` names it in errors.
    pub fn from_toml(
        text: &str,
        origin: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigFileError> {
        let parse_error = |e: toml::de::Error| ConfigFileError::Parse {
            path: origin.into(),
            message: describe_toml_error(text, &e),
        };
        let mut file: FileConfig = toml::from_str(text).map_err(parse_error)?;
        // Floats in decimal settings: read again, exactly, from their text.
        for float in DecimalLiterals::floats(text).map_err(parse_error)? {
            let policy = match &float.strategy {
                None => Some(&mut file.policy),
                Some(name) => file
                    .strategies
                    .get_mut(name)
                    .and_then(|s| s.policy.as_mut()),
            };
            if let Some(slot) = policy.and_then(|p| p.decimal_mut(float.key)) {
                let exact = decimal_of_float_literal(float.literal)
                    .ok_or_else(|| invalid(&float.setting(), not_a_decimal(float.literal)))?;
                *slot = Some(DecimalSetting::Exact(exact));
            }
        }
        Settings::from_file(file, env)
    }

    /// Checks an already parsed TOML document (e.g. one a `--sweep` has
    /// edited); `origin` names it in errors.
    pub fn from_table(
        table: toml::Table,
        origin: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigFileError> {
        let file: FileConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigFileError::Parse {
                    path: origin.into(),
                    message: e.message().to_string(),
                })?;
        Settings::from_file(file, env)
    }

    /// Checks a parsed file.
    pub fn from_file(
        file: FileConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigFileError> {
        Settings::from_file_with(file, &env)
    }

    /// Resolves each section of `file` in turn.
    fn from_file_with(
        file: FileConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigFileError> {
        let gate = GateSettings::resolve(GateSections::top_level(&file), env)?;
        file.simulation.validate()?;
        let strategies = resolve_strategies(&file, env)?;
        Ok(Settings {
            gate,
            simulation: file.simulation,
            strategies,
        })
    }

    /// The defaults: scheme `none`, default policy, no limits beyond them.
    pub fn defaults() -> Settings {
        Settings::from_file(FileConfig::default(), |_| None)
            .expect("the default configuration is valid")
    }

    /// Borrowed views of the top-level gate, for [`Lent::config`].
    pub fn lend(&self) -> Lent<'_> {
        self.gate.lend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn replay_store_is_a_redis_url() {
        let s = Settings::from_toml("[replay]\nstore = \"redis://127.0.0.1:6379\"\n", "t", env)
            .unwrap();
        assert_eq!(
            s.gate.replay_store.as_ref().map(StoreUrl::as_str),
            Some("redis://127.0.0.1:6379")
        );
        assert_eq!(Settings::defaults().gate.replay_store, None);
        assert!(Settings::from_toml("[replay]\nstore = \"memcached://x\"\n", "t", env).is_err());
    }

    #[test]
    fn full_file_loads() {
        let s = Settings::from_toml(
            r#"
            [auth]
            scheme = "timestamped"
            secrets = ["literal"]
            secrets_env = ["GATE_SECRET"]
            tolerance_s = 120
            [policy]
            min_confidence = 0.7
            max_quantity = "0.5"
            symbols = ["BINANCE:BTCUSDT", "eth-usdt"]
            max_order_value = 10000
            max_age_s = 60
            [replay]
            window_s = 600
            [rate]
            burst = 3
            per_second = 1
            [network]
            allowlist = ["tradingview", "10.0.0.0/8"]
            max_body_bytes = 2048
            [simulation]
            seed = 7
            "#,
            "test.toml",
            env,
        )
        .unwrap();
        assert_eq!(s.gate.scheme, Scheme::Timestamped);
        assert_eq!(
            s.gate.secrets,
            vec![Secret(b"literal".to_vec()), Secret(b"from-env".to_vec())]
        );
        assert_eq!(s.gate.policy.min_confidence, Decimal::parse("0.7").unwrap());
        assert_eq!(s.gate.policy.max_quantity, Decimal::parse("0.5"));
        assert_eq!(s.gate.symbols, vec!["BTC/USDT", "ETH/USDT"]);
        assert_eq!(s.gate.policy.max_age_ms, 60_000);
        assert_eq!(s.gate.replay.window_ms, Some(600_000));
        assert_eq!(s.gate.allowlist.len(), 5);
        assert_eq!(s.gate.max_body_bytes, 2048);
        assert_eq!(s.simulation.seed, 7);
        assert_eq!(s.simulation.initial_cash, 100_000.0);
        let lent = s.lend();
        let cfg = lent.config();
        assert_eq!(cfg.policy.symbols, &["BTC/USDT", "ETH/USDT"]);
        assert_eq!(cfg.auth.secrets.len(), 2);
        // Secrets never show in Debug output.
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("literal") && !debug.contains("from-env"),
            "{debug}"
        );
    }

    #[test]
    fn errors_name_the_setting() {
        let err = |text: &str| {
            Settings::from_toml(text, "t.toml", env)
                .unwrap_err()
                .to_string()
        };
        assert!(err("[auth]\nscheme = \"rot13\"").contains("auth.scheme"));
        assert!(err("[policy]\nmax_quantity = \"lots\"").contains("max_quantity"));
        assert!(err("[policy]\nmin_confidence = 2").contains("policy.min_confidence"));
        assert!(err("[policy]\nmax_qty = 1").contains("max_qty"));
        assert!(err("[network]\nallowlist = [\"nowhere\"]").contains("network.allowlist"));
        assert!(err("[auth]\nsecrets_env = [\"NOPE\"]").contains("NOPE"));
        assert!(err("[policy]\nsymbols = [\"??\"]").contains("policy.symbols"));
        assert!(err("[simulation]\nsede = 1").contains("simulation.sede"));
        assert!(err("[simulation]\ninitial_cash = 0").contains("simulation.initial_cash"));
        assert!(err("[simulation]\ntaker_fee_bps = -1").contains("simulation.taker_fee_bps"));
        assert!(err("[simulation.latency]\norder_ms = -5").contains("order_ms"));
    }

    /// Floats in decimal settings are read from their text, never through
    /// an `f64` (which makes `0.99999999999999999` the float 1).
    #[test]
    fn float_decimal_settings_are_read_exactly_from_the_text() {
        let d = |text: &str| Decimal::parse(text).unwrap();
        let s = Settings::from_toml(
            r#"
            [policy]
            max_quantity = 0.99999999999999999   # not 1
            min_confidence = 0.60000000000000001
            max_order_value = +1_000.000_5
            [strategies.a.policy]
            max_quantity = 1.5e-3
            max_order_value = 2E+3
            [strategies.b]
            policy = { max_quantity = 0.30000000000000004, min_confidence = 0.5 }
            [strategies.c]
            policy.max_order_value = 123456789012345678e-9
            "#,
            "t.toml",
            env,
        )
        .unwrap();
        assert_eq!(s.gate.policy.max_quantity, Some(d("0.99999999999999999")));
        assert_ne!(s.gate.policy.max_quantity, Some(Decimal::ONE));
        assert_eq!(s.gate.policy.min_confidence, d("0.60000000000000001"));
        assert_eq!(s.gate.policy.max_order_value, Some(d("1000.0005")));
        let a = &s.strategies["a"].policy;
        assert_eq!(a.max_quantity, Some(d("0.0015")));
        assert_eq!(a.max_order_value, Some(d("2000")));
        let b = &s.strategies["b"].policy;
        assert_eq!(b.max_quantity, Some(d("0.30000000000000004")));
        assert_eq!(b.min_confidence, d("0.5"));
        assert_eq!(
            s.strategies["c"].policy.max_order_value,
            Some(d("123456789.012345678"))
        );

        // So quantity 1 is over the limit.
        let lent = s.lend();
        let mut gate: Gate<'_, [Slot; 4]> = Gate::new(lent.config()).unwrap();
        let request = |body: &'static [u8]| alertgate_validator::Request {
            body,
            headers: &[],
            source_ip: None,
            mark_price: None,
        };
        let now = 1_700_000_000_000;
        let one = br#"{"symbol":"BTCUSDT","side":"buy","type":"limit","quantity":1,"price":1,"confidence":1,"timestamp":1700000000000}"#;
        assert_eq!(
            gate.check(&request(one), now).unwrap_err().code(),
            "quantity_too_large"
        );
        let under = br#"{"symbol":"BTCUSDT","side":"buy","type":"limit","quantity":0.99999999999999999,"price":1,"confidence":1,"timestamp":1700000000000}"#;
        assert!(gate.check(&request(under), now).is_ok());
    }

    #[test]
    fn float_decimal_settings_beyond_the_bounds_are_refused() {
        let err = |text: &str| {
            Settings::from_toml(text, "t.toml", env)
                .unwrap_err()
                .to_string()
        };
        let bounds =
            "below 10^18 in magnitude, with at most 18 significant digits and 18 decimal places";
        for (text, message) in [
            (
                "[policy]\nmax_quantity = 0.9999999999999999999",
                "policy.max_quantity: 0.9999999999999999999 is not a decimal",
            ),
            (
                "[policy]\nmax_order_value = 1e18",
                "policy.max_order_value: 1e18 is not a decimal",
            ),
            (
                "[policy]\nmin_confidence = 1e-19",
                "policy.min_confidence: 1e-19 is not a decimal",
            ),
            (
                "[policy]\nmax_quantity = inf",
                "policy.max_quantity: inf is not a decimal",
            ),
            (
                "[policy]\nmax_quantity = nan",
                "policy.max_quantity: nan is not a decimal",
            ),
            (
                "[strategies.x.policy]\nmax_order_value = 1.0e30",
                "strategies.x.policy.max_order_value: 1.0e30 is not a decimal",
            ),
            (
                "[policy]\nmax_quantity = \"1e18\"",
                "\"1e18\" is not a decimal",
            ),
            (
                "[policy]\nmax_quantity = 1000000000000000000",
                "(setting policy.max_quantity): 1000000000000000000 is not a decimal",
            ),
        ] {
            let e = err(text);
            assert!(e.contains(message) && e.ends_with(bounds), "{text}: {e}");
        }
    }

    #[test]
    fn tables_keep_decimal_literals_for_sweeps() {
        let text = "[policy]\nmax_quantity = 0.99999999999999999\nmin_confidence = 0.5\nsymbols = [\"BTC/USDT\"]\n[strategies.x.policy]\nmax_order_value = 1_000.5\n[simulation]\ntaker_fee_bps = 0.5\n";
        let mut table: toml::Table = toml::from_str(text).unwrap();
        keep_decimal_literals(&mut table, text).unwrap();
        assert_eq!(
            table["policy"]["max_quantity"].as_str(),
            Some("0.99999999999999999")
        );
        assert_eq!(
            table["strategies"]["x"]["policy"]["max_order_value"].as_str(),
            Some("1000.5")
        );
        assert_eq!(table["simulation"]["taker_fee_bps"].as_float(), Some(0.5));
        let s = Settings::from_table(table, "t.toml", env).unwrap();
        assert_eq!(
            s.gate.policy.max_quantity,
            Decimal::parse("0.99999999999999999")
        );
        assert_eq!(s.gate.policy.min_confidence, Decimal::parse("0.5").unwrap());
        assert_eq!(
            s.strategies["x"].policy.max_order_value,
            Decimal::parse("1000.5")
        );
        // A float without its text is refused, not rounded.
        let table: toml::Table = toml::from_str("[policy]\nmax_quantity = 0.5").unwrap();
        let e = Settings::from_table(table, "t.toml", env).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("policy.max_quantity: 0.5 is a float without its text"),
            "{e}"
        );
    }

    #[test]
    fn every_decimal_setting_is_reachable_by_key() {
        let mut policy = PolicySection::default();
        for key in DECIMAL_SETTINGS {
            assert!(policy.decimal_mut(key).is_some(), "{key}");
        }
        assert!(policy.decimal_mut("max_age_s").is_none());
    }

    #[test]
    fn float_literals_read_as_written() {
        for (literal, want) in [
            ("0.99999999999999999", Some("0.99999999999999999")),
            ("+1_000.000_5", Some("1000.0005")),
            ("-0.0", Some("0")),
            ("1e0_3", Some("1000")),
            ("6.02E+2", Some("602")),
            ("1e-18", Some("0.000000000000000001")),
            ("1e-19", None),
            ("1e18", None),
            ("inf", None),
            ("-nan", None),
        ] {
            assert_eq!(
                decimal_of_float_literal(literal),
                want.map(|w| Decimal::parse(w).unwrap()),
                "{literal}"
            );
        }
    }

    #[test]
    fn strategies_replace_whole_sections() {
        let s = Settings::from_toml(
            r#"
            [auth]
            scheme = "timestamped"
            secrets_env = ["GATE_SECRET"]
            [policy]
            min_confidence = 0.7
            [serve]
            trusted_proxies = ["127.0.0.1"]
            [strategies.sma.policy]
            max_quantity = 1
            [strategies.open]
            "#,
            "t.toml",
            env,
        )
        .unwrap();
        let sma = &s.strategies["sma"];
        assert_eq!(sma.scheme, Scheme::Timestamped);
        assert_eq!(sma.secrets, vec![Secret(b"from-env".to_vec())]);
        // The whole [policy] is the strategy's: min_confidence is back to
        // its default.
        assert_eq!(sma.policy.min_confidence, Policy::default().min_confidence);
        assert_eq!(sma.policy.max_quantity, Decimal::parse("1"));
        assert_eq!(
            s.strategies["open"].policy.min_confidence,
            Decimal::parse("0.7").unwrap()
        );
        let err = Settings::from_toml("[strategies.\"a b\"]", "t.toml", env).unwrap_err();
        assert!(err.to_string().contains("strategies"), "{err}");
        let err = Settings::from_toml("[strategies.x.auth]\nscheme = \"rot13\"", "t.toml", env)
            .unwrap_err();
        assert!(
            err.to_string().contains("strategies.x.auth.scheme"),
            "{err}"
        );
    }

    #[test]
    fn defaults_are_open() {
        let s = Settings::defaults();
        assert_eq!(s.gate.scheme, Scheme::None);
        assert!(s.gate.allowlist.is_empty() && s.gate.symbols.is_empty());
    }
}
