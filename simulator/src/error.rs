//! [`ReplayError`]: why a replay could not run, one variant per cause, each
//! with a stable [`code`](ReplayError::code).
//!
//! Messages say what was wrong and what to do; sources are kept typed
//! ([`InputError`], [`ConfigFileError`], [`LatencyError`], I/O), so a caller
//! can tell them apart without reading text.

use std::path::PathBuf;

use crate::config::ConfigFileError;
use crate::import::ImportError;
use crate::input::InputError;
use crate::latency::LatencyError;
use crate::replay::SettingPathError;

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Bad input data: the stream or the market data (file, line, field).
    #[error("{0}")]
    Input(#[from] InputError),
    /// The TradingView export to compare with cannot be read.
    #[error("{0}")]
    Import(#[from] ImportError),
    /// The configuration file cannot be read, or a setting cannot be used.
    #[error("{0}")]
    Config(#[from] ConfigFileError),
    /// The validator refused the gate assembled from the configuration.
    #[error("configuration: {0}")]
    Gate(#[source] alertgate_validator::ConfigError),
    /// A stage's latency model cannot be built.
    #[error("{0}")]
    Latency(#[from] LatencyError),
    /// More alerts than the engine numbers (2^32).
    #[error("more than 2^32 alerts in one stream")]
    TooManyAlerts {
        /// How many the stream holds.
        count: usize,
    },
    /// The market data loaded has no bar at all.
    #[error("no market data")]
    NoBars,
    /// No input given, and the bundled sample is not where it is looked for.
    #[error("nothing to replay: give --config (or --stream and --market), or run from the repository root to replay the bundled sample {sample}")]
    NothingToReplay {
        /// The sample's configuration, relative to the working directory.
        sample: &'static str,
    },
    /// Neither `--stream` nor `simulation.stream`.
    #[error("no alert stream: give --stream FILE.jsonl or simulation.stream")]
    NoStream,
    /// Neither `--market`/`--market-dir` nor `simulation.market`/`market_dir`.
    #[error("no market data: give --market SYMBOL=FILE.csv or --market-dir DIR, or simulation.market / simulation.market_dir")]
    NoMarketData,
    /// A `--sweep` key that cannot be set in the configuration.
    #[error("--sweep {key}: {source}")]
    SweepSetting {
        /// The axis' key, as written.
        key: String,
        /// Why it cannot be set.
        #[source]
        source: SettingPathError,
    },
    /// A combination of `--sweep` values that makes the configuration invalid.
    #[error("--sweep {combination}: {source}")]
    SweepConfig {
        /// `KEY=VALUE` of each axis, space-separated.
        combination: String,
        /// What is wrong with it.
        #[source]
        source: ConfigFileError,
    },
    /// `--html` or `--trades` (one run's outputs) with `--sweep`.
    #[error("--html and --trades describe one run; with --sweep use --json for every row")]
    OneRunOutputWithSweep,
    /// A sweep's worker thread panicked.
    #[error("a sweep worker panicked")]
    SweepWorkerPanicked,
    /// A sweep's run was never done (its worker stopped early).
    #[error("a sweep run did not finish")]
    SweepRunUnfinished,
    /// An output file could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The report could not be encoded as JSON (a bug).
    #[error("internal: {0}")]
    Json(#[source] serde_json::Error),
    /// The trades could not be encoded as CSV (a bug).
    #[error("internal: {0}")]
    Csv(#[source] csv::Error),
}

impl ReplayError {
    /// A stable snake_case code for the cause; a configuration error has its
    /// [`ConfigFileError::code`], an import error its [`ImportError::code`].
    pub fn code(&self) -> &'static str {
        match self {
            ReplayError::Input(_) => "bad_input",
            ReplayError::Config(e) => e.code(),
            ReplayError::Import(e) => e.code(),
            ReplayError::Gate(_) => "config_gate",
            ReplayError::Latency(_) => "bad_latency",
            ReplayError::TooManyAlerts { .. } => "too_many_alerts",
            ReplayError::NoBars => "no_bars",
            ReplayError::NothingToReplay { .. } => "nothing_to_replay",
            ReplayError::NoStream => "no_stream",
            ReplayError::NoMarketData => "no_market_data",
            ReplayError::SweepSetting { .. } => "sweep_setting",
            ReplayError::SweepConfig { .. } => "sweep_config",
            ReplayError::OneRunOutputWithSweep => "one_run_output_with_sweep",
            ReplayError::SweepWorkerPanicked => "sweep_worker_panicked",
            ReplayError::SweepRunUnfinished => "sweep_run_unfinished",
            ReplayError::Write { .. } => "write_failed",
            ReplayError::Json(_) => "internal_json",
            ReplayError::Csv(_) => "internal_csv",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_messages_say_what_to_do() {
        let cases = [
            (ReplayError::NoBars, "no_bars", "no market data"),
            (
                ReplayError::TooManyAlerts { count: 1 << 33 },
                "too_many_alerts",
                "more than 2^32 alerts in one stream",
            ),
            (
                ReplayError::OneRunOutputWithSweep,
                "one_run_output_with_sweep",
                "--html and --trades describe one run; with --sweep use --json for every row",
            ),
            (
                ReplayError::SweepSetting {
                    key: "seed.x".into(),
                    source: SettingPathError::NotATable {
                        path: "simulation.seed".into(),
                    },
                },
                "sweep_setting",
                "--sweep seed.x: simulation.seed is not a table",
            ),
            (
                ReplayError::Write {
                    path: "out/r.json".into(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
                },
                "write_failed",
                "cannot write out/r.json: gone",
            ),
            (
                ReplayError::Input(InputError::at("a.csv", 3, "high", "below low")),
                "bad_input",
                "a.csv:3: field \"high\": below low",
            ),
        ];
        for (e, code, message) in cases {
            assert_eq!(e.code(), code);
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert_eq!(e.to_string(), message);
        }
        let e = ReplayError::NothingToReplay {
            sample: crate::replay::SAMPLE_CONFIG,
        };
        assert!(e
            .to_string()
            .ends_with("the bundled sample examples/replay/alertgate.toml"));
        // Sources stay typed.
        let e = ReplayError::SweepSetting {
            key: "k".into(),
            source: SettingPathError::Empty,
        };
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(
            source.downcast_ref::<SettingPathError>(),
            Some(&SettingPathError::Empty)
        );
    }
}
