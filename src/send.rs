//! `alertgate send`: parses the arguments (the rate, the scheme, the
//! secret's environment variable) into [`SendOptions`] and plays the
//! stream at the gateway.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use alertgate_gateway::send::{self, Pace, SendOptions, Signing};
use alertgate_validator::Scheme;

use crate::error::{usage, CliError};

/// Arguments of `alertgate send`.
#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    /// The alert stream (JSON Lines; a `serve` journal works too).
    pub stream: PathBuf,
    /// The webhook URL, e.g. http://127.0.0.1:8080/webhook.
    #[arg(long)]
    pub url: String,
    /// Divide the recorded inter-arrival times by this.
    #[arg(long, default_value_t = 1.0, conflicts_with = "rate")]
    pub speed: f64,
    /// Send at a fixed rate instead, requests per second (`500` or `500/s`).
    #[arg(long)]
    pub rate: Option<String>,
    /// Re-sign each attempt with this scheme and a fresh timestamp.
    #[arg(long, requires = "secret_env")]
    pub scheme: Option<String>,
    /// Environment variable holding the signing secret.
    #[arg(long)]
    pub secret_env: Option<String>,
    /// Retries after the first attempt.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// First backoff, ms; doubled per retry.
    #[arg(long, default_value_t = 1000)]
    pub backoff_ms: u64,
    /// Per-attempt timeout, ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Do not send the recorded source address as `X-Forwarded-For`.
    #[arg(long)]
    pub no_forwarded_for: bool,
}

/// Sends the stream and prints the summary: exit 0, 1 if any request
/// failed, 2 on a usage error (on stderr).
pub fn run(args: &SendArgs) -> ExitCode {
    match options(args, |k| std::env::var(k).ok()).and_then(|o| Ok(send::send(&o)?)) {
        Ok(summary) => {
            print!("{}", summary.render());
            ExitCode::from(if summary.failures > 0 { 1 } else { 0 })
        }
        Err(e) => {
            eprintln!("alertgate send: {e}");
            ExitCode::from(2)
        }
    }
}

/// The gateway's options from `args`, the secret read with `env`.
fn options(args: &SendArgs, env: impl Fn(&str) -> Option<String>) -> Result<SendOptions, CliError> {
    let url = args
        .url
        .parse()
        .map_err(|e| usage(format!("--url {:?}: {e}", args.url)))?;
    let pace = match &args.rate {
        Some(text) => parse_rate(text)?,
        None => {
            Pace::recorded(args.speed).ok_or_else(|| usage("--speed: expected a number above 0"))?
        }
    };
    let signing = match &args.scheme {
        None => None,
        Some(name) => Some(signing(
            name,
            args.secret_env.as_deref().unwrap_or_default(),
            env,
        )?),
    };
    Ok(SendOptions {
        stream: args.stream.clone(),
        url,
        pace,
        signing,
        retries: args.retries,
        backoff: Duration::from_millis(args.backoff_ms),
        timeout: Duration::from_millis(args.timeout_ms),
        forwarded_for: !args.no_forwarded_for,
    })
}

/// `--rate`: requests per second, `500` or `500/s`.
fn parse_rate(text: &str) -> Result<Pace, CliError> {
    text.trim_end_matches("/s")
        .parse::<f64>()
        .ok()
        .and_then(Pace::per_second)
        .ok_or_else(|| {
            usage(format!(
                "--rate {text:?}: expected requests per second, e.g. 500/s"
            ))
        })
}

/// `--scheme` and the secret in the environment variable `var`.
fn signing(
    name: &str,
    var: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Signing, CliError> {
    let scheme = Scheme::from_name(name)
        .ok_or_else(|| usage(format!("--scheme {name:?} is not a scheme")))?;
    Ok(Signing {
        scheme,
        secret: crate::error::secret_from_env(var, env)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        send: SendArgs,
    }

    fn options_of(argv: &[&str]) -> Result<SendOptions, String> {
        let args = Cli::try_parse_from(
            [
                "send",
                "alerts.jsonl",
                "--url",
                "http://127.0.0.1:8080/webhook",
            ]
            .iter()
            .chain(argv),
        )
        .unwrap()
        .send;
        options(&args, |k| (k == "SECRET").then(|| "s3cret".to_string())).map_err(|e| e.to_string())
    }

    #[test]
    fn arguments_become_typed_options() {
        let o = options_of(&[
            "--rate",
            "500/s",
            "--scheme",
            "github",
            "--secret-env",
            "SECRET",
        ])
        .unwrap();
        assert_eq!(o.pace, Pace::per_second(500.0).unwrap());
        let signing = o.signing.unwrap();
        assert_eq!(signing.scheme, Scheme::Github);
        assert_eq!(signing.secret.0, b"s3cret");
        assert!(o.forwarded_for);
        assert_eq!(
            options_of(&["--speed", "2"]).unwrap().pace,
            Pace::recorded(2.0).unwrap()
        );
    }

    #[test]
    fn bad_arguments_say_what_is_allowed() {
        let err = |argv: &[&str]| options_of(argv).unwrap_err();
        assert!(err(&["--rate", "fast"]).contains("expected requests per second"));
        assert!(err(&["--rate", "0"]).contains("--rate"));
        assert!(err(&["--speed", "0"]).contains("--speed"));
        assert!(err(&["--scheme", "rot13", "--secret-env", "SECRET"]).contains("is not a scheme"));
        assert!(err(&["--scheme", "github", "--secret-env", "NONE"])
            .contains("environment variable NONE is not set or empty"));
    }
}
