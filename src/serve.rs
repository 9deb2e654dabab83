//! `alertgate serve`: reads the configuration file once, has each crate
//! check its sections (the simulator's gates and `[simulation]`, the
//! gateway's `[serve]`), and runs the gateway on them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alertgate_gateway::serve::mock::MockSettings;
use alertgate_gateway::serve::settings::ServeSection;
use alertgate_gateway::serve::{self, ServeConfig};
use alertgate_gateway::venue::settings::Venues;
use alertgate_gateway::venue::sizing::Sizings;
use alertgate_simulator::config::{ConfigFileError, Settings};

use crate::error::CliError;

/// Arguments of `alertgate serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Configuration file (`[serve]` and `[strategies.NAME]` sections).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Listen address (default: `[serve] listen`, else 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// Runs the gateway until SIGTERM or Ctrl-C: exit 0, or 2 with the problem
/// on stderr. Logs go to stderr (`RUST_LOG`, default `info`).
pub fn run(args: &ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let served = serve_config(args)
        .map_err(CliError::from)
        .and_then(|config| Ok(serve::serve(config, args.listen)?));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alertgate serve: {e}");
            ExitCode::from(2)
        }
    }
}

/// `serve`'s configuration: the file `args` names, read once, the
/// simulator's sections (gates, `[simulation]`) and the gateway's
/// (`[serve]`) each checked by their crate.
pub fn serve_config(args: &ServeArgs) -> Result<ServeConfig, ConfigFileError> {
    let origin = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config).map_err(|source| ConfigFileError::Read {
        path: origin.clone(),
        source,
    })?;
    let settings = Settings::from_toml(&text, &origin, |k| std::env::var(k).ok())?;
    let serve = ServeSection::from_toml(&text, &origin)?;
    let venues = Venues::from_toml(&text, &origin)?;
    let sizings = Sizings::from_toml(&text, &origin)?;
    Ok(ServeConfig {
        base_dir: args
            .config
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .to_path_buf(),
        mock: MockSettings::from_simulation(&settings.simulation),
        gate: settings.gate,
        strategies: settings.strategies,
        serve,
        venues,
        sizings,
    })
}
