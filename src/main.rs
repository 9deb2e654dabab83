//! `alertgate`: check, replay, serve and send trading-alert webhooks.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use alertgate_gateway::send::{self, SendArgs};
use alertgate_gateway::serve::mock::MockSettings;
use alertgate_gateway::serve::settings::ServeSection;
use alertgate_gateway::serve::{self, ServeArgs, ServeConfig};
use alertgate_gateway::UsageError;
use alertgate_simulator::config::{ConfigFileError, Settings};
use clap::{Parser, Subcommand};

mod check;
use check::CheckArgs;
mod replay;
use replay::ReplayArgs;

/// Stands between trading alerts and an exchange.
#[derive(Debug, Parser)]
#[command(name = "alertgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide one request and print the decision as one JSON line
    /// (exit 0 accepted, 1 rejected, 2 usage or configuration error).
    Check(CheckArgs),
    /// Replay a recorded alert stream through the gate against a mock
    /// exchange with latency, fills and a report (exit 0, or 2 with the
    /// problem on stderr). Without arguments, replays the bundled sample.
    Replay(ReplayArgs),
    /// Run the webhook gateway: decide, journal (fsynced) and execute on a
    /// mock exchange, until SIGTERM or Ctrl-C (exit 0, or 2 with the
    /// problem on stderr).
    Serve(ServeArgs),
    /// Send a recorded alert stream to a gateway, re-signing it if asked,
    /// and print a summary (exit 0, 1 if any request failed, 2 on a usage
    /// error).
    Send(SendArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => {
            let result = check::read_body(&args).and_then(|body| check::check(&args, &body));
            match result {
                Ok(checked) => {
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "{}", checked.line).is_err() {
                        return ExitCode::from(2);
                    }
                    ExitCode::from(if checked.accepted { 0 } else { 1 })
                }
                Err(e) => {
                    eprintln!("alertgate check: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            match serve_config(&args).and_then(|config| serve::serve(&args, config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("alertgate serve: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Send(args) => match send::send(&args) {
            Ok(summary) => {
                print!("{}", summary.render());
                ExitCode::from(if summary.failures > 0 { 1 } else { 0 })
            }
            Err(e) => {
                eprintln!("alertgate send: {e}");
                ExitCode::from(2)
            }
        },
        Command::Replay(args) => match replay::run(args) {
            Ok(table) => {
                let mut out = std::io::stdout().lock();
                if out.write_all(table.as_bytes()).is_err() {
                    return ExitCode::from(2);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("alertgate replay: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// `serve`'s configuration: the file `args` names, read once, the
/// simulator's sections (gates, `[simulation]`) and the gateway's
/// (`[serve]`) each checked by their crate.
fn serve_config(args: &ServeArgs) -> Result<ServeConfig, UsageError> {
    let usage = |e: ConfigFileError| UsageError(e.to_string());
    let origin = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config).map_err(|source| {
        usage(ConfigFileError::Read {
            path: origin.clone(),
            source,
        })
    })?;
    let settings = Settings::from_toml(&text, &origin, |k| std::env::var(k).ok()).map_err(usage)?;
    let serve = ServeSection::from_toml(&text, &origin).map_err(usage)?;
    Ok(ServeConfig {
        mock: MockSettings::from_simulation(&settings.simulation),
        gate: settings.gate,
        strategies: settings.strategies,
        serve,
    })
}
