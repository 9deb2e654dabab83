//! Why a subcommand stops with exit status 2.

use std::io;
use std::string::FromUtf8Error;

use alertgate_simulator::config::ConfigFileError;

/// A usage or configuration problem (exit status 2): an argument the
/// command cannot use, in words, or a library's error, wrapped as it is.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An argument the command cannot use: what was given and what is
    /// allowed.
    #[error("{0}")]
    Usage(String),
    /// A file (or standard input) the command was pointed at could not be
    /// read.
    #[error("cannot read {what}: {source}")]
    Read {
        /// The file, or `standard input`.
        what: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The configuration file: unreadable, malformed, or a setting not
    /// allowed.
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    /// The validator refused the gate's configuration (`check`).
    #[error("configuration: {0}")]
    Gate(#[from] alertgate_validator::ConfigError),
    /// The decision did not fit the encoder's buffer (a bug).
    #[error("internal: {0}")]
    Encode(#[from] alertgate_validator::encode::BufferTooSmall),
    /// The encoder wrote something that is not UTF-8 (a bug).
    #[error("internal: {0}")]
    Utf8(#[from] FromUtf8Error),
    /// `import` could not read its file or write an alert.
    #[error(transparent)]
    Import(#[from] alertgate_simulator::import::ImportError),
    /// `serve` or `send` could not run.
    #[error(transparent)]
    Gateway(#[from] alertgate_gateway::Error),
}

/// A [`CliError::Usage`].
pub fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// The secret in the environment variable `var` (read through `env`, so
/// tests need not touch the process's environment); a usage error naming the
/// variable, never its value, when it is unset or empty.
pub fn secret_from_env(
    var: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<alertgate_simulator::config::Secret, CliError> {
    let secret = env(var)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| usage(format!("environment variable {var} is not set or empty")))?;
    Ok(alertgate_simulator::config::Secret(secret.into_bytes()))
}
