//! `alertgate check`: decide one request and print the decision as one JSON
//! line.
//!
//! The decision comes from the same [`Gate`] the gateway embeds, and is
//! written by the validator's own encoder, so what `check` prints is exactly
//! what the gateway would answer.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use alertgate_validator::replay::Slot;
use alertgate_validator::{encode, Decimal, Gate, Request};

use alertgate_gateway::clock::wall_clock_ms;
use alertgate_simulator::config::Settings;

use crate::error::{usage, CliError};

/// Arguments of `alertgate check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Configuration file (default: built-in defaults, scheme `none`).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Read the body from this file instead of standard input.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// The gate's clock: Unix seconds or RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// The request's source address.
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<IpAddr>,
    /// Current market price of the symbol, to value unpriced orders.
    #[arg(long, value_name = "PRICE")]
    pub mark_price: Option<String>,
}

/// Decides the request and prints the decision: exit 0 accepted, 1
/// rejected, 2 on a usage or configuration error (on stderr).
pub fn run(args: &CheckArgs) -> ExitCode {
    match read_body(args).and_then(|body| check(args, &body)) {
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

/// Splits `Name: value` at the first colon; the value's surrounding spaces
/// are dropped.
pub fn parse_header(text: &str) -> Result<(String, String), CliError> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() && !name.contains(char::is_whitespace) => {
            Ok((name.to_string(), value.trim().to_string()))
        }
        _ => Err(usage(format!(
            "header {text:?} is not of the form 'Name: value'"
        ))),
    }
}

/// `--now`: Unix seconds or RFC 3339, to Unix ms.
pub fn parse_now(text: &str) -> Result<i64, CliError> {
    let ms = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>().ok().and_then(|s| s.checked_mul(1000))
    } else {
        alertgate_validator::time::parse_rfc3339(text)
    };
    ms.ok_or_else(|| {
        usage(format!(
            "--now {text:?} is neither Unix seconds nor RFC 3339 (2019-08-27T09:56:00Z)"
        ))
    })
}

/// The outcome of `check`: the JSON line and whether the request was accepted.
pub struct Checked {
    /// One JSON object, no newline.
    pub line: String,
    /// Accepted or rejected.
    pub accepted: bool,
}

/// Runs `check` with the body already read.
pub fn check(args: &CheckArgs, body: &[u8]) -> Result<Checked, CliError> {
    let settings = match &args.config {
        Some(path) => Settings::load(path, |k| std::env::var(k).ok())?,
        None => Settings::defaults(),
    };
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let now_ms = match &args.now {
        Some(t) => parse_now(t)?,
        None => wall_clock_ms(),
    };
    let mark_price = args
        .mark_price
        .as_deref()
        .map(|p| {
            Decimal::parse(p)
                .filter(Decimal::is_positive)
                .ok_or_else(|| usage(format!("--mark-price {p:?} is not a positive decimal")))
        })
        .transpose()?;

    let lent = settings.lend();
    // One request: a replay guard of one slot is all `check` needs, whatever
    // `[replay] capacity` says.
    let mut gate: Gate<'_, [Slot; 1]> = Gate::new(lent.config())?;
    let decision = gate.check(
        &Request {
            body,
            headers: &header_refs,
            source_ip: args.source_ip,
            mark_price,
        },
        now_ms,
    );
    let mut buf = vec![0u8; 4096];
    let n = encode::write_decision(&decision, &mut buf)?;
    buf.truncate(n);
    Ok(Checked {
        line: String::from_utf8(buf)?,
        accepted: decision.is_ok(),
    })
}

/// Reads the body from `--body-file` or standard input.
pub fn read_body(args: &CheckArgs) -> Result<Vec<u8>, CliError> {
    match &args.body_file {
        Some(path) => std::fs::read(path).map_err(|source| CliError::Read {
            what: path.display().to_string(),
            source,
        }),
        None => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|source| CliError::Read {
                    what: "standard input".into(),
                    source,
                })?;
            Ok(body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_clock_parse() {
        assert_eq!(
            parse_header("X-Sig:  t=1,s=ab ").unwrap(),
            ("X-Sig".to_string(), "t=1,s=ab".to_string())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": empty").is_err());
        assert_eq!(parse_now("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_now("2019-08-27T09:56:00Z").unwrap(),
            1_566_899_760_000
        );
        assert!(parse_now("yesterday").is_err());
        assert!(parse_now("99999999999999999999").is_err());
    }
}
