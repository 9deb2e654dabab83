//! `[serve]`: the gateway's section of the configuration file, read by the
//! gateway itself; the other sections are the simulator's
//! ([`alertgate_simulator::config`]), and the command line composes the two.

use alertgate_simulator::market::MarketFormat;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use alertgate_simulator::config::ConfigFileError;
use alertgate_validator::net::Cidr;
use serde::de::{self, Deserializer};
use serde::Deserialize;

/// `[serve]`: the HTTP gateway (`alertgate serve`). Paths are relative to
/// the configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeSection {
    /// Listen address when `--listen` is not given. Default `127.0.0.1:8080`.
    #[serde(deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// The certificate chain to serve HTTPS with (PEM, end entity first);
    /// with `tls_key`, or neither (plain HTTP). Reloaded on SIGHUP (see
    /// [`super::tls`]). Default none.
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM: PKCS#8, PKCS#1 or SEC1). Default
    /// none.
    pub tls_key: Option<PathBuf>,
    /// Which client certificate a webhook connection must present:
    /// `"none"`, or `"tradingview"` (TradingView's, its chain verified
    /// against `client_ca`; needs `tls_cert`). Default `"none"`.
    pub client_auth: ClientAuth,
    /// With `client_auth`: the CA bundle (PEM) client certificates are
    /// verified against. Default: Mozilla's roots (`webpki-roots`).
    pub client_ca: Option<PathBuf>,
    /// The decision journal (JSON Lines, append-only). Default
    /// `journal.jsonl`.
    pub journal: PathBuf,
    /// The mock exchange's log (JSON Lines): every order submitted, with
    /// the price observed at submission, and every fill (see
    /// [`super::mock`]). Default `fills.jsonl`.
    pub fills: PathBuf,
    /// Proxies whose `X-Forwarded-For` is believed, each an address or a
    /// CIDR block, parsed at load. Default none: the peer address is the
    /// source.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<Cidr>,
    /// Time allowed for a request's headers, ms. Default 5000.
    pub header_timeout_ms: u64,
    /// Time allowed for a request's body, ms. Default 5000.
    pub body_timeout_ms: u64,
    /// Load shedding: the longest a complete request may wait before its
    /// decision starts, ms. Past it, the request is answered 503
    /// `overloaded` with `Retry-After` at once, before any gate or journal
    /// work (well under TradingView's 3 s timeout, so a sender hears a
    /// refusal rather than timing out). 0 = no budget. Default 1000.
    pub max_wait_ms: u64,
    /// Per source address: requests back to back (0 = no per-address
    /// limit). Counts every request, accepted or not, before the gate.
    /// Default 0.
    pub per_ip_burst: u32,
    /// Per source address: refill, requests per second. Default 0.
    pub per_ip_per_second: u32,
    /// Execution venue: only `mock`, paper trading on `replay`'s exchange
    /// (fill rules, brackets, FIFO PnL) on the wall clock, with prices
    /// observed from `market` or the alerts, and the fees, slippage and
    /// starting cash of `[simulation]` (see [`super::mock`]).
    pub exchange: ExchangeKind,
    /// Market data for the mock exchange's prices, in `alertgate replay`'s
    /// formats (CSV bars or trades, see [`alertgate_simulator::market`]); read once at
    /// start, and a bad file stops the start (exit 2, naming file and
    /// line). One of:
    ///
    /// - a directory, as `--market-dir`: every `*.csv` in it, the file name
    ///   being the symbol (`market/BTC-USDT.csv`);
    /// - a file, the file name being the symbol (`market/BTC-USDT.csv`);
    /// - `SYMBOL=FILE`, as `--market`, for a file whose name is not its
    ///   symbol (`"BTC/USDT=btc.csv"`). An existing path is always read as a
    ///   path, even if it holds a `=`.
    ///
    /// Symbols are read with the top-level `[policy] quotes`.
    ///
    /// How the marks are taken (`replay`'s rule, at the alert's own time),
    /// what they value and what happens without one: `docs/gateway.md`,
    /// *Mark prices* (the code: [`super::marks`]). Default: none (no
    /// marks).
    pub market: Option<String>,
    /// The format of `market`'s files: `auto` (detected per file, the
    /// default), `ours`, `tradingview`, `binance-klines` or
    /// `binance-aggtrades`, as `replay --market-format`.
    pub market_format: MarketFormat,
    /// Consecutive execution failures that open the circuit breaker.
    /// Default 5.
    pub circuit_failures: u32,
    /// How long an open circuit rejects requests (`circuit_open`, 503), s.
    /// Default 30.
    pub circuit_cooldown_s: u64,
    /// A snapshot of the mock exchange (and the journal's checkpoint) is
    /// written after this many orders were submitted since the last one, so
    /// that a restart replays only the logs' tails (see [`super::snapshot`]).
    /// 0: not by count. Default 100,000.
    pub snapshot_every_orders: u64,
    /// ... or after this many seconds with at least one order submitted
    /// since the last one. 0: not by time. Both 0: no snapshots (a restart
    /// reads both logs whole). Default 300.
    pub snapshot_every_s: u64,
    /// What a `[replay] store` whose claims would not survive a Redis
    /// restart (`appendonly no` and no `save` points), or whose persistence
    /// settings cannot be read (`CONFIG` refused), does to the gateway:
    /// `require` refuses to start (and to use a connection to it), `warn`
    /// logs an error and goes on. Default `require`.
    pub store_persistence: StorePersistence,
    /// The environment variable holding the `[replay] store`'s password
    /// (Redis `AUTH`; the user, if any, is the URL's). Default none: no
    /// password. A password in the URL itself is refused at load.
    pub store_password_env: Option<String>,
}

impl Default for ServeSection {
    fn default() -> Self {
        ServeSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: None,
            tls_key: None,
            client_auth: ClientAuth::None,
            client_ca: None,
            journal: "journal.jsonl".into(),
            fills: "fills.jsonl".into(),
            trusted_proxies: Vec::new(),
            header_timeout_ms: 5000,
            body_timeout_ms: 5000,
            max_wait_ms: 1000,
            per_ip_burst: 0,
            per_ip_per_second: 0,
            exchange: ExchangeKind::Mock,
            market: None,
            market_format: MarketFormat::Auto,
            circuit_failures: 5,
            circuit_cooldown_s: 30,
            snapshot_every_orders: 100_000,
            snapshot_every_s: 300,
            store_persistence: StorePersistence::Require,
            store_password_env: None,
        }
    }
}

/// `[serve] exchange`: the execution venue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExchangeKind {
    /// `mock`: paper trading on `replay`'s exchange (see
    /// [`super::mock`]).
    #[default]
    Mock,
}

impl<'de> Deserialize<'de> for ExchangeKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "mock" => Ok(ExchangeKind::Mock),
            _ => Err(de::Error::custom(format!(
                "{name:?} is not an exchange; expected mock"
            ))),
        }
    }
}

/// `[serve] client_auth`: the client certificate a webhook connection must
/// present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `none`: none is asked for.
    #[default]
    None,
    /// `tradingview`: TradingView's (see [`super::tls`]).
    TradingView,
}

impl<'de> Deserialize<'de> for ClientAuth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "none" => Ok(ClientAuth::None),
            "tradingview" => Ok(ClientAuth::TradingView),
            _ => Err(de::Error::custom(format!(
                "{name:?} is not a client authentication; expected none or tradingview"
            ))),
        }
    }
}

/// `[serve] store_persistence`: whether the shared replay store must keep
/// its claims across a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StorePersistence {
    /// `require`: a store that would forget its claims on a restart, or
    /// whose settings cannot be read, is refused: at start, and on every
    /// new connection to it (fail closed, 503).
    #[default]
    Require,
    /// `warn`: logged at error level, then used anyway (for a Redis whose
    /// `CONFIG` is disabled but known to persist, or a test bench).
    Warn,
}

impl<'de> Deserialize<'de> for StorePersistence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "require" => Ok(StorePersistence::Require),
            "warn" => Ok(StorePersistence::Warn),
            _ => Err(de::Error::custom(format!(
                "{name:?} is not a persistence requirement; expected require or warn"
            ))),
        }
    }
}

/// `[serve] listen`: an `ADDRESS:PORT`, parsed at load.
fn listen_address<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse()
        .map_err(|_| de::Error::custom(format!("{text:?} is not an address:port")))
}

/// `[serve] trusted_proxies`: addresses and CIDR blocks, parsed at load.
fn networks<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Cidr>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| {
            Cidr::parse(text).ok_or_else(|| {
                de::Error::custom(format!(
                    "{text:?} is not an address or a CIDR; expected e.g. 10.0.0.1, \
                     10.0.0.0/8 or 2001:db8::/32 (no host bits set)"
                ))
            })
        })
        .collect()
}

/// Where `[serve] market` points, resolved against the configuration
/// file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketSource {
    /// A directory of `SYMBOL.csv` files (`--market-dir`).
    Dir(PathBuf),
    /// One file and its symbol, as written (normalized on load).
    File {
        /// The symbol: the file name's stem, or `SYMBOL` of `SYMBOL=FILE`.
        symbol: String,
        /// The file.
        path: PathBuf,
    },
}

impl MarketSource {
    /// The `(SYMBOL, FILE)` pairs and directories that
    /// [`MarketData::load`](alertgate_simulator::market::MarketData::load) takes.
    pub fn inputs(&self) -> (Vec<(String, PathBuf)>, Vec<PathBuf>) {
        match self {
            MarketSource::Dir(dir) => (Vec::new(), vec![dir.clone()]),
            MarketSource::File { symbol, path } => {
                (vec![(symbol.clone(), path.clone())], Vec::new())
            }
        }
    }
}

impl ServeSection {
    /// `market` resolved against `base` (the configuration file's
    /// directory): an existing directory or file as such, else `SYMBOL=FILE`
    /// when it has that form, else a file (which loading then reports as
    /// missing). `None` without `market`.
    pub fn market_source(&self, base: &Path) -> Option<MarketSource> {
        let text = self.market.as_deref()?;
        let path = base.join(text);
        // The symbol a file's name gives, as the replay's loader reads it
        // (`BTC-USDT.csv`, Binance's `BTCUSDT-1m-2024-01.zip`).
        let by_name = |path: PathBuf| MarketSource::File {
            symbol: alertgate_simulator::market::symbol_of_file(&path)
                .map(str::to_string)
                .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_default(),
            path,
        };
        if path.is_dir() {
            return Some(MarketSource::Dir(path));
        }
        if path.is_file() {
            return Some(by_name(path));
        }
        Some(match text.split_once('=') {
            Some((symbol, file)) if !symbol.is_empty() && !file.is_empty() => MarketSource::File {
                symbol: symbol.to_string(),
                path: base.join(file),
            },
            _ => by_name(path),
        })
    }

    /// `[serve]` of the configuration file `text` (from `origin`, named in
    /// errors); the file's other sections are the simulator's to read
    /// ([`alertgate_simulator::config`]).
    pub fn from_toml(text: &str, origin: &str) -> Result<ServeSection, ConfigFileError> {
        /// The file, as far as the gateway reads it.
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            serve: ServeSection,
        }
        let file: File =
            toml::from_str(text).map_err(|e| ConfigFileError::parse(origin, text, &e))?;
        file.serve.validate()?;
        Ok(file.serve)
    }

    fn validate(&self) -> Result<(), ConfigFileError> {
        if self.market.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(ConfigFileError::Invalid {
                setting: "serve.market".into(),
                message: "empty; expected a directory, a CSV file or SYMBOL=FILE.csv".into(),
            });
        }
        if self
            .store_password_env
            .as_deref()
            .is_some_and(|v| v.trim().is_empty())
        {
            return Err(ConfigFileError::Invalid {
                setting: "serve.store_password_env".into(),
                message: "empty; expected the name of an environment variable".into(),
            });
        }
        self.validate_tls()
    }

    /// `tls_cert` and `tls_key` together; `client_auth` only over TLS;
    /// `client_ca` only with `client_auth`.
    fn validate_tls(&self) -> Result<(), ConfigFileError> {
        let invalid = |setting: &str, message: &str| {
            Err(ConfigFileError::Invalid {
                setting: format!("serve.{setting}"),
                message: message.into(),
            })
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(_), Some(_)) => true,
            (None, None) => false,
            (Some(_), None) => return invalid("tls_key", "missing; tls_cert needs its key"),
            (None, Some(_)) => {
                return invalid("tls_cert", "missing; tls_key needs its certificate")
            }
        };
        let client_auth = self.client_auth != ClientAuth::None;
        if client_auth && !tls {
            return invalid(
                "client_auth",
                "needs TLS: set tls_cert and tls_key (client certificates come with HTTPS)",
            );
        }
        if self.client_ca.is_some() && !client_auth {
            return invalid("client_ca", "only used with client_auth = \"tradingview\"");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_market_is_a_directory_a_file_or_symbol_equals_file() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir(base.join("market")).unwrap();
        std::fs::write(base.join("market/BTC-USDT.csv"), "").unwrap();
        std::fs::write(base.join("a=b.csv"), "").unwrap();
        let source = |value: &str| {
            let text = format!("[serve]\nmarket = {value:?}\n");
            ServeSection::from_toml(&text, "t.toml")
                .unwrap()
                .market_source(base)
                .unwrap()
        };
        assert_eq!(source("market"), MarketSource::Dir(base.join("market")));
        assert_eq!(
            source("market/BTC-USDT.csv"),
            MarketSource::File {
                symbol: "BTC-USDT".into(),
                path: base.join("market/BTC-USDT.csv")
            }
        );
        assert_eq!(
            source("BTC/USDT=btc.csv"),
            MarketSource::File {
                symbol: "BTC/USDT".into(),
                path: base.join("btc.csv")
            }
        );
        // An existing path is a path, `=` or not.
        assert_eq!(
            source("a=b.csv"),
            MarketSource::File {
                symbol: "a=b".into(),
                path: base.join("a=b.csv")
            }
        );
        // Binance's public file names give their symbol.
        std::fs::write(base.join("BTCUSDT-1m-2024-01.zip"), "").unwrap();
        assert_eq!(
            source("BTCUSDT-1m-2024-01.zip"),
            MarketSource::File {
                symbol: "BTCUSDT".into(),
                path: base.join("BTCUSDT-1m-2024-01.zip")
            }
        );
        let format = |text: &str| ServeSection::from_toml(text, "t.toml").map(|s| s.market_format);
        assert_eq!(format("[serve]\n").unwrap(), MarketFormat::Auto);
        assert_eq!(
            format("[serve]\nmarket_format = \"binance-klines\"\n").unwrap(),
            MarketFormat::BinanceKlines
        );
        let err = format("[serve]\nmarket_format = \"csv\"\n").unwrap_err();
        assert!(err.to_string().contains("not a market format"), "{err}");
        let (pairs, dirs) = source("market").inputs();
        assert!(pairs.is_empty() && dirs == [base.join("market")]);
        assert_eq!(ServeSection::default().market_source(base), None);
        let err = ServeSection::from_toml("[serve]\nmarket = \" \"\n", "t.toml").unwrap_err();
        assert!(err.to_string().contains("serve.market"), "{err}");
        let err = ServeSection::from_toml("[serve]\nmarket_dir = \"m\"\n", "t.toml").unwrap_err();
        assert!(err.to_string().contains("market_dir"), "{err}");
    }

    #[test]
    fn serve_listen_and_exchange_are_parsed_at_load() {
        let s = ServeSection::default();
        assert_eq!(s.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(s.exchange, ExchangeKind::Mock);
        let s = ServeSection::from_toml(
            "[policy]\nmax_quantity = 1\n[serve]\nlisten = \"[::1]:0\"\nexchange = \"mock\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(s.listen, "[::1]:0".parse().unwrap());
        let err = |text: &str| {
            ServeSection::from_toml(text, "t.toml")
                .unwrap_err()
                .to_string()
        };
        let e = err("[serve]\nlisten = \"nowhere\"\n");
        assert!(e.contains("serve.listen"), "{e}");
        assert!(e.contains("\"nowhere\" is not an address:port"), "{e}");
        let e = err("[serve]\nexchange = \"binance\"\n");
        assert!(e.contains("serve.exchange"), "{e}");
        assert!(
            e.contains("\"binance\" is not an exchange; expected mock"),
            "{e}"
        );
    }

    #[test]
    fn serve_store_settings_are_parsed_at_load() {
        let s = ServeSection::default();
        assert_eq!(s.store_persistence, StorePersistence::Require);
        assert_eq!(s.store_password_env, None);
        let s = ServeSection::from_toml(
            "[serve]\nstore_persistence = \"warn\"\nstore_password_env = \"REDIS_PASSWORD\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(s.store_persistence, StorePersistence::Warn);
        assert_eq!(s.store_password_env.as_deref(), Some("REDIS_PASSWORD"));
        let err = |text: &str| {
            ServeSection::from_toml(text, "t.toml")
                .unwrap_err()
                .to_string()
        };
        let e = err("[serve]\nstore_persistence = \"maybe\"\n");
        assert!(e.contains("serve.store_persistence"), "{e}");
        assert!(e.contains("expected require or warn"), "{e}");
        let e = err("[serve]\nstore_password_env = \"\"\n");
        assert!(e.contains("serve.store_password_env"), "{e}");
    }

    #[test]
    fn serve_trusted_proxies_are_parsed_at_load() {
        let s = ServeSection::from_toml(
            "[serve]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\n",
            "t",
        )
        .unwrap();
        let expected: Vec<Cidr> = ["127.0.0.1", "10.0.0.0/8", "::1"]
            .iter()
            .map(|p| Cidr::parse(p).unwrap())
            .collect();
        assert_eq!(s.trusted_proxies, expected);
        for text in [
            "[serve]\ntrusted_proxies = [\"127.0.0.1\", \"10.1.2.3/8\"]\n",
            "[serve]\ntrusted_proxies = [\n  \"127.0.0.1\",\n  \"10.1.2.3/8\",\n]\n",
        ] {
            let e = ServeSection::from_toml(text, "t.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains("serve.trusted_proxies"), "{e}");
            assert!(
                e.contains("\"10.1.2.3/8\" is not an address or a CIDR"),
                "{e}"
            );
            assert!(e.contains("no host bits set"), "{e}");
        }
    }

    #[test]
    fn serve_tls_settings_go_together() {
        let s = ServeSection::from_toml(
            "[serve]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n\
             client_auth = \"tradingview\"\nclient_ca = \"ca.pem\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(s.tls_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(s.client_auth, ClientAuth::TradingView);
        assert_eq!(ServeSection::default().client_auth, ClientAuth::None);
        let err = |text: &str| {
            ServeSection::from_toml(text, "t.toml")
                .unwrap_err()
                .to_string()
        };
        for (text, setting, message) in [
            (
                "tls_cert = \"c.pem\"",
                "serve.tls_key",
                "tls_cert needs its key",
            ),
            (
                "tls_key = \"k.pem\"",
                "serve.tls_cert",
                "tls_key needs its certificate",
            ),
            (
                "client_auth = \"tradingview\"",
                "serve.client_auth",
                "needs TLS",
            ),
            (
                "client_auth = \"mtls\"",
                "serve.client_auth",
                "expected none or tradingview",
            ),
            (
                "tls_cert = \"c\"\ntls_key = \"k\"\nclient_ca = \"ca.pem\"",
                "serve.client_ca",
                "only used with client_auth",
            ),
        ] {
            let e = err(&format!("[serve]\n{text}\n"));
            assert!(e.contains(setting) && e.contains(message), "{text}: {e}");
        }
    }
}
