//! `alertgate`: check, replay, serve and send trading-alert webhooks.

use std::io::Write;
use std::process::ExitCode;

use alertgate_simulator::check::{self, CheckArgs};
use clap::{Parser, Subcommand};

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
    }
}
