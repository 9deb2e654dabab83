//! `alertgate import`: turns another tool's file into an alert stream on
//! standard output. `import tradingview-trades` reads TradingView's
//! Strategy Tester "List of trades" export ([`tradingview_trades`]) and
//! writes one alert per entry and exit ([`alert_lines`]).

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use alertgate_simulator::import::{
    alert_lines, alert_symbol, tradingview_trades, AlertAuth, AlertOptions, ChartZone,
};
use alertgate_validator::{Decimal, Scheme};

use crate::error::{usage, CliError};

/// Arguments of `alertgate import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// What to import.
    #[command(subcommand)]
    pub source: ImportSource,
}

/// The files `import` reads.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ImportSource {
    /// TradingView's Strategy Tester "List of trades" export (CSV): one
    /// alert per entry and exit, as JSON Lines on stdout.
    TradingviewTrades(TradingViewTradesArgs),
}

/// Arguments of `alertgate import tradingview-trades`.
#[derive(Debug, Clone, clap::Args)]
pub struct TradingViewTradesArgs {
    /// The exported CSV file.
    pub file: PathBuf,
    /// The chart's symbol, e.g. BINANCE:BTCUSDT (the exchange prefix is
    /// dropped, as alerts write {{ticker}}).
    #[arg(long)]
    pub symbol: String,
    /// The chart's time zone, an IANA name (Europe/Berlin, UTC): the
    /// export's times are on its clock.
    #[arg(long)]
    pub tz: String,
    /// The replay configuration's [auth] scheme: none (default), passphrase
    /// (the body holds a placeholder replay fills with the configured
    /// secret), or a signing scheme (hex-body, github, timestamped, stripe,
    /// standard-webhooks) with --secret-env.
    #[arg(long, default_value = "none")]
    pub scheme: String,
    /// Environment variable holding the signing secret (signing schemes).
    #[arg(long, value_name = "NAME")]
    pub secret_env: Option<String>,
    /// A confidence for every alert, a decimal in [0, 1] (default: none).
    #[arg(long)]
    pub confidence: Option<String>,
    /// The recorded sender address (needed when [network] allowlist is set;
    /// one of TradingView's, e.g. 52.89.214.238, for "tradingview").
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<IpAddr>,
}

/// Runs `import`: the stream on stdout and a summary on stderr (exit 0), or
/// the problem on stderr (exit 2).
pub fn run(args: &ImportArgs) -> ExitCode {
    let ImportSource::TradingviewTrades(args) = &args.source;
    match tradingview(args, |k| std::env::var(k).ok()) {
        Ok((stream, summary)) => {
            if std::io::stdout()
                .lock()
                .write_all(stream.as_bytes())
                .is_err()
            {
                return ExitCode::from(2);
            }
            eprintln!("alertgate import: {summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("alertgate import: {e}");
            ExitCode::from(2)
        }
    }
}

/// The stream's text and a one-line summary; the secret read with `env`.
fn tradingview(
    args: &TradingViewTradesArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(String, String), CliError> {
    let options = alert_options(args, env)?;
    let zone = ChartZone::new(&args.tz)?;
    let list = tradingview_trades::read(&args.file, &zone)?;
    let file = args.file.display().to_string();
    let lines = alert_lines(&list, &options, &file)?;
    let mut stream = lines.join("\n");
    stream.push('\n');
    let pnl = list.net_pnl.map_or("no P&L column".to_string(), |p| {
        format!("TradingView net P&L {p:.2}")
    });
    let summary = format!(
        "{} alerts from {} closed and {} open trades; {pnl}",
        lines.len(),
        list.closed_trades,
        list.open_trades
    );
    Ok((stream, summary))
}

/// The alerts' symbol, authentication, confidence and source.
fn alert_options(
    args: &TradingViewTradesArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<AlertOptions, CliError> {
    let symbol = alert_symbol(&args.symbol).ok_or_else(|| {
        usage(format!(
            "--symbol {:?}: expected the chart's symbol, EXCHANGE:TICKER or TICKER (BINANCE:BTCUSDT)",
            args.symbol
        ))
    })?;
    let confidence = match &args.confidence {
        None => None,
        Some(text) => {
            let unit = Decimal::parse(text).filter(|d| !d.is_negative() && *d <= Decimal::ONE);
            unit.ok_or_else(|| {
                usage(format!(
                    "--confidence {text:?}: expected a decimal from 0 to 1"
                ))
            })?;
            Some(text.clone())
        }
    };
    Ok(AlertOptions {
        symbol,
        auth: auth(args, env)?,
        confidence,
        source_ip: args.source_ip,
    })
}

/// `--scheme`, and for a signing scheme the secret in `--secret-env`.
fn auth(
    args: &TradingViewTradesArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<AlertAuth, CliError> {
    let scheme = Scheme::from_name(&args.scheme)
        .ok_or_else(|| usage(format!("--scheme {:?} is not a scheme", args.scheme)))?;
    match (scheme, &args.secret_env) {
        (Scheme::None, None) => Ok(AlertAuth::None),
        (Scheme::Passphrase, None) => Ok(AlertAuth::Passphrase),
        (Scheme::None | Scheme::Passphrase, Some(_)) => Err(usage(format!(
            "--secret-env is for signing schemes; with --scheme {} no secret is written (replay fills in a passphrase from the configuration)",
            scheme.name()
        ))),
        (_, None) => Err(usage(format!(
            "--scheme {} signs: give --secret-env NAME, the environment variable holding the secret",
            scheme.name()
        ))),
        (_, Some(var)) => Ok(AlertAuth::Signed {
            scheme,
            secret: crate::error::secret_from_env(var, env)?,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        import: TradingViewTradesArgs,
    }

    fn options_of(argv: &[&str]) -> Result<AlertOptions, String> {
        let base = [
            "import",
            "t.csv",
            "--symbol",
            "BINANCE:BTCUSDT",
            "--tz",
            "UTC",
        ];
        let args = Cli::try_parse_from(base.iter().chain(argv)).unwrap().import;
        alert_options(&args, |k| (k == "SECRET").then(|| "s3cret".to_string()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn arguments_become_alert_options() {
        let o = options_of(&["--confidence", "0.8", "--source-ip", "52.89.214.238"]).unwrap();
        assert_eq!(o.symbol, "BTCUSDT");
        assert!(matches!(o.auth, AlertAuth::None));
        assert_eq!(o.confidence.as_deref(), Some("0.8"));
        assert!(o.source_ip.is_some());
        let o = options_of(&["--scheme", "passphrase"]).unwrap();
        assert!(matches!(o.auth, AlertAuth::Passphrase));
        let o = options_of(&["--scheme", "github", "--secret-env", "SECRET"]).unwrap();
        match o.auth {
            AlertAuth::Signed { scheme, secret } => {
                assert_eq!(scheme, Scheme::Github);
                assert_eq!(secret.0, b"s3cret");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_arguments_say_what_is_allowed() {
        let err = |argv: &[&str]| options_of(argv).unwrap_err();
        assert!(err(&["--confidence", "1.5"]).contains("expected a decimal from 0 to 1"));
        assert!(err(&["--confidence=-0.1"]).contains("--confidence"));
        assert!(err(&["--scheme", "rot13"]).contains("is not a scheme"));
        assert!(err(&["--scheme", "stripe"]).contains("give --secret-env NAME"));
        assert!(err(&["--scheme", "passphrase", "--secret-env", "SECRET"])
            .contains("--secret-env is for signing schemes"));
        assert!(err(&["--scheme", "github", "--secret-env", "NONE"])
            .contains("environment variable NONE is not set or empty"));
    }
}
