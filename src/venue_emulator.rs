//! `alertgate venue-emulator`: a Binance Spot or USDⓈ-M emulator with
//! fault injection (see `alertgate_gateway::emulator`), for testing a
//! gateway's venue configuration without the network or money.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use alertgate_gateway::emulator::{self, EmulatorConfig};
use alertgate_gateway::venue::binance::Market;
use alertgate_validator::Decimal;

use crate::error::{usage, CliError};

/// Arguments of `alertgate venue-emulator`.
#[derive(Debug, Clone, clap::Args)]
pub struct VenueEmulatorArgs {
    /// `binance-spot` or `binance-usdm`.
    #[arg(long)]
    pub kind: String,
    /// Listen address (port 0: the system picks; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Environment variable holding the accepted API key.
    #[arg(long, default_value = "BINANCE_API_KEY")]
    pub key_env: String,
    /// Environment variable holding the API secret.
    #[arg(long, default_value = "BINANCE_API_SECRET")]
    pub secret_env: String,
    /// A starting price, `SYMBOL=PRICE` (e.g. `BTCUSDT=50000`); repeatable.
    #[arg(long = "price")]
    pub prices: Vec<String>,
    /// Starting USDT (spot balance, futures wallet).
    #[arg(long, default_value = "10000")]
    pub balance: String,
    /// Added to the system clock, ms (to test a client's clock offset).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub clock_offset_ms: i64,
    /// New orders allowed per 10 s (announced in `exchangeInfo`; one more
    /// is refused 429 `-1015`).
    #[arg(long, default_value_t = 100)]
    pub orders_per_10s: u64,
}

/// Serves until SIGTERM or Ctrl-C, after printing `listening on ADDR` on
/// stdout: exit 0, or 2 with the problem on stderr.
pub fn run(args: &VenueEmulatorArgs) -> ExitCode {
    let served = config(args, |k| std::env::var(k).ok()).and_then(|config| {
        emulator::run(config, args.listen, |addr| {
            println!("listening on {addr}");
            let _ = std::io::stdout().flush();
        })
        .map_err(|e| usage(format!("cannot serve on {}: {e}", args.listen)))
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alertgate venue-emulator: {e}");
            ExitCode::from(2)
        }
    }
}

/// The emulator's configuration from `args`, reading variables with `env`.
pub fn config(
    args: &VenueEmulatorArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<EmulatorConfig, CliError> {
    let market = match args.kind.as_str() {
        "binance-spot" => Market::Spot,
        "binance-usdm" => Market::UsdM,
        other => {
            return Err(usage(format!(
                "--kind {other}: expected binance-spot or binance-usdm"
            )))
        }
    };
    let read = |name: &str| {
        env(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| usage(format!("environment variable {name} is not set")))
    };
    let (key, secret) = (read(&args.key_env)?, read(&args.secret_env)?);
    let mut config = EmulatorConfig::new(market, &key, &secret);
    config.quote_balance = Decimal::parse(&args.balance)
        .filter(|b| !b.is_negative())
        .ok_or_else(|| usage(format!("--balance {}: expected a decimal", args.balance)))?;
    config.clock_offset_ms = args.clock_offset_ms;
    config.orders_per_10s = args.orders_per_10s;
    for price in &args.prices {
        let parsed = price
            .split_once('=')
            .and_then(|(s, p)| {
                Some((
                    s.to_string(),
                    Decimal::parse(p).filter(Decimal::is_positive)?,
                ))
            })
            .filter(|(s, _)| config.symbols.iter().any(|spec| &spec.symbol == s));
        let pair = parsed.ok_or_else(|| {
            usage(format!(
                "--price {price}: expected SYMBOL=PRICE of a listed symbol"
            ))
        })?;
        config.prices.push(pair);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: VenueEmulatorArgs,
    }

    fn parse(line: &[&str]) -> VenueEmulatorArgs {
        Cli::parse_from(std::iter::once("x").chain(line.iter().copied())).args
    }

    fn env(name: &str) -> Option<String> {
        matches!(name, "K" | "S").then(|| format!("{name}value"))
    }

    #[test]
    fn arguments_make_the_configuration() {
        let args = parse(&[
            "--kind",
            "binance-usdm",
            "--key-env",
            "K",
            "--secret-env",
            "S",
            "--price",
            "BTCUSDT=50000",
            "--clock-offset-ms",
            "-2500",
        ]);
        let c = config(&args, env).unwrap();
        assert_eq!(c.market, Market::UsdM);
        assert_eq!(
            c.prices,
            vec![("BTCUSDT".to_string(), Decimal::parse("50000").unwrap())]
        );
        assert_eq!(c.clock_offset_ms, -2500);
        assert_eq!(c.secret.expose(), "Svalue");
    }

    #[test]
    fn bad_arguments_are_usage_errors_without_the_secret() {
        let bad = |line: &[&str]| config(&parse(line), env).unwrap_err().to_string();
        assert!(
            bad(&["--kind", "bybit", "--key-env", "K", "--secret-env", "S"])
                .contains("--kind bybit")
        );
        assert!(bad(&[
            "--kind",
            "binance-spot",
            "--key-env",
            "NOPE",
            "--secret-env",
            "S"
        ])
        .contains("NOPE is not set"));
        let e = bad(&[
            "--kind",
            "binance-spot",
            "--key-env",
            "K",
            "--secret-env",
            "S",
            "--price",
            "DOGEUSDT=1",
        ]);
        assert!(e.contains("DOGEUSDT") && !e.contains("Svalue"), "{e}");
    }
}
