//! The gateway's one error type: why [`serve`](crate::serve::serve) could
//! not start (or stopped), or why [`send`](crate::send::send) could not run.
//!
//! Each variant carries its typed source and the setting, path or address
//! it concerns, and has a stable snake_case [`Error::code`]. What goes wrong
//! while requests are served stays with the component that meets it: the
//! [`Refusal`](crate::serve::refusal::Refusal) a sender is answered, the
//! [`JournalError`](crate::serve::journal::JournalError), the
//! [`StoreError`] of a claim, the
//! [`ExecutionError`](crate::serve::mock::ExecutionError) of an order.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use alertgate_simulator::config::ConfigFileError;
use alertgate_simulator::input::InputError;
use alertgate_validator::ConfigError;

use crate::serve::replay_store::StoreError;
use crate::serve::tls::TlsError;

/// Why `serve` or `send` stopped before (or instead of) running.
///
/// ```
/// use alertgate_gateway::Error;
/// let e = Error::LiteralSecrets { section: "auth.secrets".into() };
/// assert_eq!(e.code(), "literal_secrets");
/// assert!(e.to_string().starts_with("auth.secrets: serve takes secrets only from the environment"));
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read, is malformed, or holds a
    /// setting that is not allowed (the setting is named).
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    /// The validator refused a gate's settings.
    #[error("{}configuration: {source}", strategy_prefix(.strategy))]
    Gate {
        /// The `[strategies.NAME]` the gate is built from; `""` for the top
        /// level (`POST /webhook`).
        strategy: String,
        /// What the validator refused.
        source: ConfigError,
    },
    /// A gate's `[replay] store` could not be opened, or was refused at
    /// start: claims that would not survive a Redis restart under
    /// `store_persistence = "require"`, a password variable unset, a
    /// password refused (neither the URL nor the password is repeated).
    #[error("{}{source}", strategy_prefix(.strategy))]
    Store {
        /// As in [`Error::Gate`]; `""` for the top level.
        strategy: String,
        /// Why the store could not be opened.
        source: StoreError,
    },
    /// A gate's secrets are written in the file: a long-running gateway
    /// takes them only from the environment (`secrets_env`).
    #[error(
        "{section}: serve takes secrets only from the environment; \
         name the variables in secrets_env (literal secrets are for check and replay)"
    )]
    LiteralSecrets {
        /// The setting holding them: `auth.secrets` or
        /// `strategies.NAME.auth.secrets`.
        section: String,
    },
    /// `[serve] market` could not be loaded (file, line and field named).
    #[error("serve.market: {0}")]
    Market(#[source] InputError),
    /// The decision journal could not be read back or opened.
    #[error("journal {}: {source}", .path.display())]
    Journal {
        /// The journal, resolved against the configuration file's
        /// directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The mock exchange's log could not be read back or opened.
    #[error("fills {}: {source}", .path.display())]
    Fills {
        /// The log, resolved against the configuration file's directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file this gateway writes (its journal, the paper exchange's log, a
    /// venue's order log) is locked by another process: two gateways
    /// writing one file would decide or place orders twice.
    #[error("{} is in use by another process (another alertgate serve on the same files?): {reason}", .path.display())]
    FileInUse {
        /// The file.
        path: PathBuf,
        /// The lock's error.
        reason: String,
    },
    /// A real venue could not be set up (its keys' variables, its client).
    #[error("{setting}: {message}")]
    Venue {
        /// `venue` or `strategies.NAME.venue`.
        setting: String,
        /// What went wrong (never a key).
        message: String,
    },
    /// A real venue's order log could not be read back or opened.
    #[error("order log {}: {source}", .path.display())]
    OrderLog {
        /// The log, resolved against the configuration file's directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// `--listen`, else `[serve] listen`.
        address: SocketAddr,
        /// The I/O error.
        source: io::Error,
    },
    /// `[serve] tls_cert`, `tls_key` or `client_ca` could not be loaded
    /// (the setting and the file named).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The async runtime could not be started.
    #[error("runtime: {0}")]
    Runtime(#[source] io::Error),
    /// `send`'s alert stream could not be read (file and line named).
    #[error("{0}")]
    Stream(#[source] InputError),
    /// `send` cannot sign with the scheme and secret it was given.
    #[error("cannot sign with {scheme}: {source}")]
    Signing {
        /// The scheme's name.
        scheme: &'static str,
        /// Why (a scheme not compiled in, an empty secret).
        source: ConfigError,
    },
    /// `send`'s HTTP client could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

impl Error {
    /// Stable snake_case identifier, for scripts and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Gate { .. } => "gate_config",
            Error::Store { .. } => "replay_store",
            Error::LiteralSecrets { .. } => "literal_secrets",
            Error::Market(_) => "market_data",
            Error::Journal { .. } => "journal",
            Error::Fills { .. } => "fills",
            Error::Venue { .. } => "venue",
            Error::OrderLog { .. } => "order_log",
            Error::FileInUse { .. } => "file_in_use",
            Error::Listen { .. } => "listen",
            Error::Tls(_) => "tls",
            Error::Runtime(_) => "runtime",
            Error::Stream(_) => "stream",
            Error::Signing { .. } => "signing",
            Error::HttpClient(_) => "http_client",
        }
    }
}

/// `strategies.NAME: ` for a strategy's gate, nothing for the top level's.
fn strategy_prefix(strategy: &str) -> String {
    if strategy.is_empty() {
        String::new()
    } else {
        format!("strategies.{strategy}: ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strategys_errors_name_its_section() {
        let refused = ConfigError::NoSecret { scheme: "github" };
        let top = Error::Gate {
            strategy: String::new(),
            source: refused.clone(),
        };
        let sma = Error::Gate {
            strategy: "sma".into(),
            source: refused.clone(),
        };
        assert_eq!(top.to_string(), format!("configuration: {refused}"));
        assert_eq!(
            sma.to_string(),
            format!("strategies.sma: configuration: {refused}")
        );
        assert_eq!(sma.code(), "gate_config");
        let e = Error::Listen {
            address: "127.0.0.1:1".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert!(e.to_string().starts_with("cannot listen on 127.0.0.1:1: "));
        assert_eq!(e.code(), "listen");
    }
}
