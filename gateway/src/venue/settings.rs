//! `[venue]` and `[strategies.NAME.venue]`: where accepted orders are
//! placed. `paper` (the built-in paper exchange) is the default, so a
//! configuration without the section needs no key.
//!
//! ```toml
//! [venue]
//! kind = "binance-usdm"          # paper | binance-spot | binance-usdm
//! testnet = true                 # the venue's test endpoints (start here)
//! key_env = "BINANCE_API_KEY"    # names of environment variables, never
//! secret_env = "BINANCE_SECRET"  # the key itself
//! ```
//!
//! A strategy on `paper` whose `[sizing]` mode is not `alert` trades on the
//! paper venue ([`super::paper`]) through the same execution stage as a
//! real venue: its exchange state is in `exchange_log`, its orders in
//! `orders`, its fills in `fills`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use alertgate_simulator::config::ConfigFileError;
use serde::Deserialize;

use super::exactly_once::ResolvePolicy;
use super::VenueKind;

/// Most `size_check_ms` takes: with the default shedding budget (1 s) an
/// answer still reaches TradingView within its 3 s.
pub const MAX_SIZE_CHECK_MS: u64 = 2_500;

/// One `[venue]` section, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VenueSection {
    /// `paper` (default), `binance-spot` or `binance-usdm`.
    pub kind: String,
    /// Use the venue's test endpoints: Binance Spot testnet
    /// (`https://testnet.binance.vision`), USDⓈ-M demo trading
    /// (`https://demo-fapi.binance.com`).
    pub testnet: bool,
    /// Overrides the venue's base URL (tests, an emulator, a proxy).
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key.
    pub key_env: Option<String>,
    /// Name of the environment variable holding the API secret.
    pub secret_env: Option<String>,
    /// Refused: a key written in the file (see `key_env`). Its value is
    /// not even kept (so no `Debug` can show it).
    pub key: Option<serde::de::IgnoredAny>,
    /// Refused: a secret written in the file (see `secret_env`).
    pub secret: Option<serde::de::IgnoredAny>,
    /// `recvWindow` of signed requests, ms: how long after its timestamp
    /// the venue may still accept a request (1..=60000, default 5000).
    pub recv_window_ms: u64,
    /// How long one request may take before its outcome is unknown, ms
    /// (default 10000).
    pub request_timeout_ms: u64,
    /// An order that certainly was not placed (the venue unreachable, rate
    /// limits) is given up after this long, ms (default 60000); an order
    /// whose outcome is unknown is always resolved first.
    pub give_up_after_ms: u64,
    /// Least time between two "does not exist" answers that count toward
    /// sending an unknown order again, ms (default 2000).
    pub not_found_spacing_ms: u64,
    /// The order log (every state change of every order), relative to the
    /// configuration file. Default `orders.jsonl`, or `orders-NAME.jsonl`
    /// for `[strategies.NAME.venue]`.
    pub orders: Option<PathBuf>,
    /// The venue's fills in the paper exchange's line format, relative to
    /// the configuration file. Default `venue-fills.jsonl`, or
    /// `venue-fills-NAME.jsonl` for `[strategies.NAME.venue]`.
    pub fills: Option<PathBuf>,
    /// How often working entries (limit orders) and bracket legs are
    /// queried, ms (default 5000): an entry done has its bracket placed, a
    /// leg that filled has its sibling cancelled.
    pub follow_brackets_ms: u64,
    /// How long the answer to an `equity_pct` or `target` alert may wait
    /// for its stage to size it from a fresh read of the account, ms
    /// (default 1000; 0: not sized before the answer). Sized in time, an
    /// order the venue would refuse is refused in the answer; otherwise
    /// it is accepted and its execution decides. At most 2500, so that
    /// with the shedding budget the answer stays within TradingView's 3 s.
    pub size_check_ms: u64,
    /// Paper only: the paper venue's exchange log (its orders and fills,
    /// from which it rebuilds its positions at start), relative to the
    /// configuration file. Default `paper-venue.jsonl`, or
    /// `paper-venue-NAME.jsonl` for `[strategies.NAME.venue]`. Not `[serve]
    /// fills`, the log of the paper stage (strategies with `alert` sizing).
    pub exchange_log: Option<PathBuf>,
    /// USDⓈ-M: leverage per symbol (`BTC/USDT = 5`), set at start.
    pub leverage: BTreeMap<String, u32>,
    /// USDⓈ-M: `isolated` or `cross` margin, set at start: one value for
    /// every symbol of `leverage`, or a table per symbol
    /// (`{ "BTC/USDT" = "isolated" }`). Default: left as the account has
    /// it.
    pub margin_type: Option<MarginTypeSection>,
}

/// `margin_type` as written: one for the symbols of `leverage`, or one per
/// symbol.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum MarginTypeSection {
    /// `margin_type = "isolated"`: every symbol of `leverage`.
    All(String),
    /// `margin_type = { "BTC/USDT" = "isolated" }`.
    PerSymbol(BTreeMap<String, String>),
}

impl Default for VenueSection {
    fn default() -> Self {
        let policy = ResolvePolicy::default();
        VenueSection {
            kind: VenueKind::Paper.name().into(),
            testnet: false,
            base_url: None,
            key_env: None,
            secret_env: None,
            key: None,
            secret: None,
            recv_window_ms: policy.recv_window_ms,
            request_timeout_ms: 10_000,
            give_up_after_ms: policy.give_up_after_ms,
            not_found_spacing_ms: policy.not_found_spacing_ms,
            orders: None,
            fills: None,
            follow_brackets_ms: 5_000,
            size_check_ms: 1_000,
            exchange_log: None,
            leverage: BTreeMap::new(),
            margin_type: None,
        }
    }
}

/// A checked `[venue]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueSettings {
    /// Which venue.
    pub kind: VenueKind,
    /// Test endpoints.
    pub testnet: bool,
    /// Base URL override.
    pub base_url: Option<String>,
    /// Environment variable names of the key and the secret (`None` for
    /// paper).
    pub credentials_env: Option<(String, String)>,
    /// How orders are resolved and retried.
    pub policy: ResolvePolicy,
    /// Request timeout, ms.
    pub request_timeout_ms: u64,
    /// The order log, relative to the configuration file.
    pub orders: PathBuf,
    /// The fill log, relative to the configuration file.
    pub fills: PathBuf,
    /// How often working entries and bracket legs are queried, ms.
    pub follow_brackets_ms: u64,
    /// How long an answer may wait for its order to be sized, ms (0: not
    /// sized before the answer).
    pub size_check_ms: u64,
    /// The paper venue's exchange log, relative to the configuration file
    /// (paper only).
    pub exchange_log: PathBuf,
    /// Leverage per `BASE/QUOTE` (USDⓈ-M).
    pub leverage: BTreeMap<String, u32>,
    /// Margin type per `BASE/QUOTE` (USDⓈ-M): `true` isolated, `false`
    /// cross; a symbol left out keeps the account's.
    pub isolated_margin: BTreeMap<String, bool>,
}

impl VenueSettings {
    /// Whether orders go to the paper exchange.
    pub fn is_paper(&self) -> bool {
        self.kind == VenueKind::Paper
    }
}

/// The file's `[venue]` and each strategy's `[strategies.NAME.venue]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venues {
    /// `[venue]` (paper when absent).
    pub default: VenueSettings,
    /// Strategies with their own venue.
    pub strategies: BTreeMap<String, VenueSettings>,
}

impl Venues {
    /// The venue sections of the configuration file `text` (from `origin`,
    /// named in errors).
    pub fn from_toml(text: &str, origin: &str) -> Result<Venues, ConfigFileError> {
        #[derive(Deserialize)]
        struct Strategy {
            venue: Option<VenueSection>,
        }
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            venue: VenueSection,
            #[serde(default)]
            strategies: BTreeMap<String, toml::Table>,
        }
        let parse = |e: toml::de::Error| ConfigFileError::parse(origin, text, &e);
        let file: File = toml::from_str(text).map_err(parse)?;
        let default = file.venue.check("venue", "")?;
        let mut strategies = BTreeMap::new();
        for (name, table) in file.strategies {
            let strategy: Strategy = toml::Value::Table(table).try_into().map_err(parse)?;
            if let Some(section) = strategy.venue {
                let setting = format!("strategies.{name}.venue");
                let suffix = format!("-{name}");
                strategies.insert(name, section.check(&setting, &suffix)?);
            }
        }
        Ok(Venues {
            default,
            strategies,
        })
    }

    /// The venue of `strategy` (`""`: the top level).
    pub fn of(&self, strategy: &str) -> &VenueSettings {
        self.strategies.get(strategy).unwrap_or(&self.default)
    }
}

fn invalid(setting: &str, key: &str, message: String) -> ConfigFileError {
    ConfigFileError::Invalid {
        setting: format!("{setting}.{key}"),
        message,
    }
}

impl VenueSection {
    /// Checks the section named `setting`; its logs' default names end
    /// with `suffix` (`-NAME` for a strategy's).
    fn check(self, setting: &str, suffix: &str) -> Result<VenueSettings, ConfigFileError> {
        let kind = VenueKind::parse(&self.kind).ok_or_else(|| {
            invalid(
                setting,
                "kind",
                format!(
                    "{:?} is not a venue; expected \"paper\", \"binance-spot\" or \"binance-usdm\"",
                    self.kind
                ),
            )
        })?;
        self.refuse_keys(setting)?;
        let credentials_env = self.credentials(setting, kind)?;
        self.check_times(setting)?;
        let isolated_margin = self.futures(setting, kind)?;
        if kind != VenueKind::Paper && self.exchange_log.is_some() {
            return Err(invalid(
                setting,
                "exchange_log",
                format!(
                    "{} has its own exchange; only paper has an exchange log",
                    kind.name()
                ),
            ));
        }
        let policy = ResolvePolicy {
            recv_window_ms: self.recv_window_ms,
            not_found_spacing_ms: self.not_found_spacing_ms,
            give_up_after_ms: self.give_up_after_ms,
            ..ResolvePolicy::default()
        };
        Ok(VenueSettings {
            kind,
            testnet: self.testnet,
            base_url: self.base_url,
            credentials_env,
            policy,
            request_timeout_ms: self.request_timeout_ms,
            orders: self
                .orders
                .unwrap_or_else(|| format!("orders{suffix}.jsonl").into()),
            follow_brackets_ms: self.follow_brackets_ms,
            size_check_ms: self.size_check_ms,
            fills: self
                .fills
                .unwrap_or_else(|| format!("venue-fills{suffix}.jsonl").into()),
            exchange_log: self
                .exchange_log
                .unwrap_or_else(|| format!("paper-venue{suffix}.jsonl").into()),
            leverage: self.leverage,
            isolated_margin,
        })
    }

    /// A key or a secret written in the file is refused (never echoed).
    fn refuse_keys(&self, setting: &str) -> Result<(), ConfigFileError> {
        for (key, value) in [("key", &self.key), ("secret", &self.secret)] {
            if value.is_some() {
                return Err(invalid(
                    setting,
                    key,
                    format!(
                        "an API {key} in the file is refused; name an environment variable with {key}_env"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `recv_window_ms` within Binance's limit, every other time positive.
    fn check_times(&self, setting: &str) -> Result<(), ConfigFileError> {
        if !(1..=60_000).contains(&self.recv_window_ms) {
            return Err(invalid(
                setting,
                "recv_window_ms",
                format!(
                    "{} is out of range; expected 1..=60000 (Binance's limit)",
                    self.recv_window_ms
                ),
            ));
        }
        if self.size_check_ms > MAX_SIZE_CHECK_MS {
            return Err(invalid(
                setting,
                "size_check_ms",
                format!(
                    "{} is out of range; expected 0..={MAX_SIZE_CHECK_MS} (an answer must reach TradingView within 3 s)",
                    self.size_check_ms
                ),
            ));
        }
        for (key, value) in [
            ("request_timeout_ms", self.request_timeout_ms),
            ("give_up_after_ms", self.give_up_after_ms),
            ("not_found_spacing_ms", self.not_found_spacing_ms),
            ("follow_brackets_ms", self.follow_brackets_ms),
        ] {
            if value == 0 {
                return Err(invalid(
                    setting,
                    key,
                    "0; expected a positive number of ms".into(),
                ));
            }
        }
        Ok(())
    }

    /// `leverage` and `margin_type`: USDⓈ-M only, leverage 1..=125; the
    /// margin type per symbol (`true`: isolated).
    fn futures(
        &self,
        setting: &str,
        kind: VenueKind,
    ) -> Result<BTreeMap<String, bool>, ConfigFileError> {
        let margin = self.margin_types(setting)?;
        if kind != VenueKind::BinanceUsdm && (!self.leverage.is_empty() || !margin.is_empty()) {
            return Err(invalid(
                setting,
                "leverage",
                format!(
                    "{} has no leverage or margin type; only binance-usdm does",
                    kind.name()
                ),
            ));
        }
        if let Some((symbol, lev)) = self.leverage.iter().find(|(_, l)| !(1..=125).contains(*l)) {
            return Err(invalid(
                setting,
                "leverage",
                format!("{symbol} = {lev}; expected 1..=125"),
            ));
        }
        Ok(margin)
    }

    /// `margin_type` per symbol: one value applies to the symbols of
    /// `leverage` (refused without any: it would set nothing).
    fn margin_types(&self, setting: &str) -> Result<BTreeMap<String, bool>, ConfigFileError> {
        let isolated = |symbol: &str, text: &str| match text {
            "isolated" => Ok(true),
            "cross" => Ok(false),
            other => Err(invalid(
                setting,
                "margin_type",
                format!("{symbol}{other:?}; expected \"isolated\" or \"cross\""),
            )),
        };
        match &self.margin_type {
            None => Ok(BTreeMap::new()),
            Some(MarginTypeSection::All(text)) => {
                let value = isolated("", text)?;
                if self.leverage.is_empty() {
                    return Err(invalid(
                        setting,
                        "margin_type",
                        format!(
                            "{text:?} for the symbols of leverage, which names none; \
                             name them there, or give margin_type per symbol \
                             ({{ \"BTC/USDT\" = \"isolated\" }})"
                        ),
                    ));
                }
                Ok(self.leverage.keys().map(|s| (s.clone(), value)).collect())
            }
            Some(MarginTypeSection::PerSymbol(table)) => table
                .iter()
                .map(|(symbol, text)| {
                    Ok((symbol.clone(), isolated(&format!("{symbol} = "), text)?))
                })
                .collect(),
        }
    }

    /// A real venue needs both variable names; paper needs none.
    fn credentials(
        &self,
        setting: &str,
        kind: VenueKind,
    ) -> Result<Option<(String, String)>, ConfigFileError> {
        fn named(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        match (kind, named(&self.key_env), named(&self.secret_env)) {
            (VenueKind::Paper, None, None) => Ok(None),
            (VenueKind::Paper, _, _) => Err(invalid(
                setting,
                "key_env",
                "the paper venue takes no key; remove key_env and secret_env".into(),
            )),
            (_, Some(key), Some(secret)) => Ok(Some((key.into(), secret.into()))),
            (_, None, _) => Err(invalid(
                setting,
                "key_env",
                format!(
                    "missing; {} needs the name of the environment variable holding its API key",
                    kind.name()
                ),
            )),
            (_, _, None) => Err(invalid(
                setting,
                "secret_env",
                format!(
                    "missing; {} needs the name of the environment variable holding its API secret",
                    kind.name()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venues(text: &str) -> Result<Venues, String> {
        Venues::from_toml(text, "t.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn paper_is_the_default_and_needs_no_key() {
        let v = venues("").unwrap();
        assert!(v.default.is_paper());
        assert_eq!(v.default.credentials_env, None);
        assert_eq!(v.default.orders, PathBuf::from("orders.jsonl"));
        assert_eq!(v.default.exchange_log, PathBuf::from("paper-venue.jsonl"));
    }

    #[test]
    fn the_paper_venues_exchange_log_is_its_own_and_paper_only() {
        let v = venues(
            "[venue]\nexchange_log = \"state/paper.jsonl\"\n[strategies.s.venue]\nkind = \"paper\"\n",
        )
        .unwrap();
        assert_eq!(v.of("").exchange_log, PathBuf::from("state/paper.jsonl"));
        assert_eq!(v.of("s").exchange_log, PathBuf::from("paper-venue-s.jsonl"));
        let e = venues(
            "[venue]\nkind = \"binance-spot\"\nkey_env = \"K\"\nsecret_env = \"S\"\nexchange_log = \"x.jsonl\"\n",
        )
        .unwrap_err();
        assert!(
            e.contains("venue.exchange_log") && e.contains("only paper"),
            "{e}"
        );
    }

    #[test]
    fn a_strategy_may_trade_another_venue() {
        let v = venues(
            "[venue]\nkind = \"binance-spot\"\ntestnet = true\nkey_env = \"K\"\nsecret_env = \"S\"\n\
             [strategies.fut.venue]\nkind = \"binance-usdm\"\nkey_env = \"K2\"\nsecret_env = \"S2\"\n\
             leverage = { \"BTC/USDT\" = 5 }\nmargin_type = \"isolated\"\n\
             [strategies.other.auth]\nscheme = \"timestamped\"\n",
        )
        .unwrap();
        assert_eq!(v.of("").kind, VenueKind::BinanceSpot);
        assert!(v.of("").testnet);
        assert_eq!(v.of("other").kind, VenueKind::BinanceSpot);
        let fut = v.of("fut");
        assert_eq!(fut.kind, VenueKind::BinanceUsdm);
        assert_eq!(fut.credentials_env, Some(("K2".into(), "S2".into())));
        assert_eq!(fut.leverage.get("BTC/USDT"), Some(&5));
        assert_eq!(fut.isolated_margin.get("BTC/USDT"), Some(&true));
        // Per symbol, with or without a leverage.
        let v = venues(
            "[venue]\nkind = \"binance-usdm\"\nkey_env = \"K\"\nsecret_env = \"S\"\n\
             leverage = { \"BTC/USDT\" = 5 }\n\
             margin_type = { \"BTC/USDT\" = \"cross\", \"ETH/USDT\" = \"isolated\" }\n",
        )
        .unwrap();
        let margin: Vec<(&str, bool)> = v
            .of("")
            .isolated_margin
            .iter()
            .map(|(s, &i)| (s.as_str(), i))
            .collect();
        assert_eq!(margin, [("BTC/USDT", false), ("ETH/USDT", true)]);
        assert_eq!(fut.orders, PathBuf::from("orders-fut.jsonl"));
    }

    #[test]
    fn keys_in_the_file_are_refused_without_echoing_them() {
        let e =
            venues("[venue]\nkind = \"binance-spot\"\nkey = \"AKIA-not-echoed\"\n").unwrap_err();
        assert!(e.contains("venue.key") && e.contains("key_env"), "{e}");
        assert!(!e.contains("AKIA-not-echoed"), "{e}");
        let e = venues(
            "[strategies.s.venue]\nkind = \"binance-usdm\"\nkey_env = \"K\"\nsecret = \"x\"\n",
        )
        .unwrap_err();
        assert!(e.contains("strategies.s.venue.secret"), "{e}");
    }

    #[test]
    fn bad_settings_name_the_setting_the_value_and_what_is_allowed() {
        for (text, needle) in [
            ("[venue]\nkind = \"binance\"\n", "venue.kind: \"binance\" is not a venue"),
            ("[venue]\nkind = \"binance-spot\"\nsecret_env = \"S\"\n", "venue.key_env: missing"),
            ("[venue]\nkind = \"binance-spot\"\nkey_env = \"K\"\n", "venue.secret_env: missing"),
            ("[venue]\nkey_env = \"K\"\n", "paper venue takes no key"),
            (
                "[venue]\nkind = \"binance-spot\"\nkey_env = \"K\"\nsecret_env = \"S\"\nrecv_window_ms = 90000\n",
                "90000 is out of range; expected 1..=60000",
            ),
            (
                "[venue]\nkind = \"binance-usdm\"\nkey_env = \"K\"\nsecret_env = \"S\"\nmargin_type = \"isolated\"\n",
                "margin_type: \"isolated\" for the symbols of leverage, which names none",
            ),
            (
                "[venue]\nkind = \"binance-usdm\"\nkey_env = \"K\"\nsecret_env = \"S\"\nmargin_type = { \"ETH/USDT\" = \"isolate\" }\n",
                "ETH/USDT = \"isolate\"; expected \"isolated\" or \"cross\"",
            ),
            (
                "[venue]\nsize_check_ms = 2501\n",
                "size_check_ms: 2501 is out of range; expected 0..=2500",
            ),
            (
                "[venue]\nkind = \"binance-spot\"\nkey_env = \"K\"\nsecret_env = \"S\"\nleverage = { \"BTC/USDT\" = 3 }\n",
                "only binance-usdm",
            ),
            (
                "[venue]\nkind = \"binance-usdm\"\nkey_env = \"K\"\nsecret_env = \"S\"\nleverage = { \"BTC/USDT\" = 300 }\n",
                "BTC/USDT = 300; expected 1..=125",
            ),
            ("[venue]\nkinds = \"paper\"\n", "unknown field `kinds`"),
        ] {
            let e = venues(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
