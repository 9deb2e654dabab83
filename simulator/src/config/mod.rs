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
//!
//! One module per concept, their items re-exported here:
//!
//! - this module: the file as written ([`FileConfig`]), its errors
//!   ([`ConfigFileError`]) and the composition of the top-level gate,
//!   `[simulation]` and the strategies' gates into [`Settings`];
//! - `gate`: the gate's sections (`[auth]`, `[policy]`, `[replay]`,
//!   `[rate]`, `[network]`), each resolved into a [`GateSettings`], lent to
//!   the validator through [`Lent`];
//! - `simulation`: `[simulation]` and its latency settings;
//! - `decimal`: decimal settings read exactly from the file's text;
//! - `secret`: [`Secret`], redacted in `Debug`.

use std::collections::BTreeMap;
use std::path::Path;

mod decimal;
mod gate;
mod secret;
mod simulation;

pub use decimal::{
    decimal_of_float_literal, keep_decimal_literals, sweep_value, DecimalSetting, DECIMAL_SETTINGS,
};
pub use gate::{
    AuthSection, GateSections, GateSettings, Lent, NetworkSection, PolicySection, RateSection,
    ReplaySection, StoreUrl, DEFAULT_REPLAY_CAPACITY, MAX_REPLAY_CAPACITY,
};
pub use secret::Secret;
pub use simulation::{LatencySection, SimulationSection};

use decimal::{not_a_decimal, DecimalLiterals};
use serde::Deserialize;

/// A configuration problem, with the setting it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// A stable snake_case code: `config_read`, `config_parse`,
    /// `config_invalid` or `config_gate`.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigFileError::Read { .. } => "config_read",
            ConfigFileError::Parse { .. } => "config_parse",
            ConfigFileError::Invalid { .. } => "config_invalid",
            ConfigFileError::Gate(_) => "config_gate",
        }
    }

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
    /// `[venue]`, read by the gateway (`alertgate_gateway::venue::settings`):
    /// where accepted orders are placed.
    pub venue: toml::Table,
    /// `[sizing]`, read by the gateway: how an order's quantity is chosen.
    pub sizing: toml::Table,
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
    /// `[strategies.NAME.venue]`, read by the gateway: another venue or
    /// account for this strategy.
    pub venue: Option<toml::Table>,
    /// `[strategies.NAME.sizing]`, read by the gateway.
    pub sizing: Option<toml::Table>,
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
    use alertgate_validator::{Decimal, Policy, Scheme};

    fn env(k: &str) -> Option<String> {
        (k == "GATE_SECRET").then(|| "from-env".to_string())
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
            market_format = "TradingView"
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
        assert_eq!(
            s.simulation.market_format,
            crate::market::MarketFormat::TradingView
        );
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
    fn an_unknown_market_format_is_refused_with_the_names_allowed() {
        let err = Settings::from_toml("[simulation]\nmarket_format = \"csv\"\n", "t.toml", env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("market_format")
                && err.contains("\"csv\"")
                && err.contains("binance-klines"),
            "{err}"
        );
    }

    #[test]
    fn conventions_are_read_and_backtesting_py_takes_one_commission() {
        use crate::exchange::Conventions;
        let read = |text: &str| Settings::from_toml(text, "t.toml", env);
        let s = read("").unwrap();
        assert_eq!(s.simulation.conventions, Conventions::Alertgate);
        let s = read("[simulation]\nconventions = \"backtesting.py\"\ntaker_fee_bps = 10\nmaker_fee_bps = 10\n")
            .unwrap();
        assert_eq!(s.simulation.conventions, Conventions::BacktestingPy);
        let err = read("[simulation]\nconventions = \"backtrader\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("conventions") && err.contains("backtesting.py"),
            "{err}"
        );
        let err = read("[simulation]\nconventions = \"backtesting.py\"\ntaker_fee_bps = 10\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("simulation.maker_fee_bps") && err.contains("one"),
            "{err}"
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
