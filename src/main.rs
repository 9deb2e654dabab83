//! `alertgate`: check, replay, serve and send trading-alert webhooks.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// mimalloc: glibc's allocator was a fifth of the gateway's CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

mod check;
mod error;
mod import;
mod replay;
mod send;
mod serve;
mod venue_emulator;

use check::CheckArgs;
use import::ImportArgs;
use replay::ReplayArgs;
use send::SendArgs;
use serve::ServeArgs;
use venue_emulator::VenueEmulatorArgs;

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
    /// Turn another tool's file into an alert stream on stdout:
    /// `import tradingview-trades FILE.csv --symbol BINANCE:BTCUSDT --tz
    /// Europe/Berlin > alerts.jsonl` (exit 0, or 2 with the problem on
    /// stderr).
    Import(ImportArgs),
    /// Run the webhook gateway: decide, journal (fsynced) and execute on
    /// the paper exchange or the `[venue]` (Binance), until SIGTERM or
    /// Ctrl-C (exit 0, or 2 with the problem on stderr).
    Serve(ServeArgs),
    /// Send a recorded alert stream to a gateway, re-signing it if asked,
    /// and print a summary (exit 0, 1 if any request failed, 2 on a usage
    /// error).
    Send(SendArgs),
    /// Run a Binance Spot or USDⓈ-M emulator with fault injection, printing
    /// `listening on ADDR`, until SIGTERM or Ctrl-C (exit 0, or 2 with the
    /// problem on stderr).
    VenueEmulator(VenueEmulatorArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Replay(args) => replay::run(args),
        Command::Import(args) => import::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Send(args) => send::run(&args),
        Command::VenueEmulator(args) => venue_emulator::run(&args),
    }
}
