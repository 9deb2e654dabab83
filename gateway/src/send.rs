//! `alertgate send`: replays a recorded alert stream at a live gateway.
//!
//! Requests leave at the stream's inter-arrival times divided by `--speed`
//! (or at a fixed `--rate`), each on its own task so a slow answer does not
//! delay the next. With `--scheme` each attempt is re-signed with a fresh
//! timestamp, keeping the recorded event id, so a retry is the same event.
//! Network errors and 5xx answers are retried with exponential backoff.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alertgate_validator::auth::{sign, Scheme};

use crate::UsageError;
use alertgate_simulator::stream::{AlertStream, RecordedRequest};

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

/// What happened to the whole stream.
#[derive(Debug, Default)]
pub struct Summary {
    /// Requests answered (any status).
    pub sent: u64,
    /// Answered 200.
    pub accepted: u64,
    /// Answered otherwise, by code.
    pub rejected: BTreeMap<String, u64>,
    /// Of `rejected["replayed"]`: refused as a replay on a retry after an
    /// attempt that got no answer (or a 5xx). The lost attempt most likely
    /// reached the gateway and was accepted there: the gateway keeps the
    /// event id, so the retry cannot be accepted a second time.
    pub replayed_after_lost_answer: u64,
    /// Retries made.
    pub retries: u64,
    /// Requests never answered, or answered 5xx after the last retry.
    pub failures: u64,
    /// Latency of each answered attempt, ms.
    pub latencies_ms: Vec<f64>,
}

impl Summary {
    /// The table printed at the end.
    pub fn render(&self) -> String {
        let mut lat = self.latencies_ms.clone();
        lat.sort_by(f64::total_cmp);
        let q = |p: f64| {
            if lat.is_empty() {
                0.0
            } else {
                lat[((lat.len() - 1) as f64 * p).round() as usize]
            }
        };
        let rejected: u64 = self.rejected.values().sum();
        let mut out = format!(
            "{:<28}{:>10}\n{:<28}{:>10}\n{:<28}{:>10}\n",
            "sent", self.sent, "  accepted", self.accepted, "  rejected", rejected
        );
        for (code, n) in &self.rejected {
            out.push_str(&format!("    {code:<24}{n:>10}\n"));
            if code == "replayed" && self.replayed_after_lost_answer > 0 {
                out.push_str(&format!(
                    "      {:<22}{:>10}\n",
                    "after a lost answer", self.replayed_after_lost_answer
                ));
            }
        }
        out.push_str(&format!(
            "{:<28}{:>10}\n{:<28}{:>10}\n{:<28}{:>10.2}\n{:<28}{:>10.2}\n",
            "retries",
            self.retries,
            "failures",
            self.failures,
            "latency p50 ms",
            q(0.5),
            "latency p99 ms",
            q(0.99)
        ));
        out
    }
}

fn parse_rate(text: &str) -> Result<f64, UsageError> {
    let n = text.trim_end_matches("/s");
    n.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| {
            UsageError(format!(
                "--rate {text:?}: expected requests per second, e.g. 500/s"
            ))
        })
}

struct Signer {
    scheme: Scheme,
    secret: Vec<u8>,
    /// The scheme's id header, learned by signing a probe.
    id_header: Option<&'static str>,
}

impl Signer {
    /// Headers for one attempt: the recorded ones minus the scheme's, then
    /// a fresh signature over the same body and event id.
    fn headers(&self, r: &RecordedRequest) -> Result<Vec<(String, String)>, String> {
        let event_id = self
            .id_header
            .and_then(|h| r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(h)))
            .map_or("", |(_, v)| v.as_str());
        let now_s = crate::clock::wall_clock_ms() / 1000;
        let signed = sign(
            self.scheme,
            &self.secret,
            r.body.as_bytes(),
            now_s,
            event_id,
        )
        .map_err(|e| format!("signing: {e}"))?;
        let mut out: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(n, _)| !signed.iter().any(|(s, _)| n.eq_ignore_ascii_case(s)))
            .cloned()
            .collect();
        out.extend(
            signed
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_str().to_string())),
        );
        Ok(out)
    }
}

enum Outcome {
    /// The last attempt's answer; `after_lost` when an earlier attempt got
    /// no answer or a 5xx.
    Answered {
        status: u16,
        code: String,
        after_lost: bool,
    },
    Failed,
}

/// Runs `send` and returns the summary.
pub fn send(args: &SendArgs) -> Result<Summary, UsageError> {
    let stream = AlertStream::read(&args.stream).map_err(|e| UsageError(e.to_string()))?;
    let signer = match &args.scheme {
        None => None,
        Some(name) => {
            let scheme = Scheme::from_name(name)
                .ok_or_else(|| UsageError(format!("--scheme {name:?} is not a scheme")))?;
            let var = args.secret_env.as_deref().unwrap_or_default();
            let secret = std::env::var(var)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    UsageError(format!("environment variable {var} is not set or empty"))
                })?
                .into_bytes();
            const PROBE: &str = "alertgate-probe-id";
            let id_header = sign(scheme, &secret, b"{}", 1, PROBE)
                .map_err(|e| UsageError(format!("--scheme {name}: {e}")))?
                .iter()
                .find(|(_, v)| v.as_str() == PROBE)
                .map(|(n, _)| *n);
            Some(Signer {
                scheme,
                secret,
                id_header,
            })
        }
    };
    let interval = args.rate.as_deref().map(parse_rate).transpose()?;
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(UsageError("--speed: expected a number above 0".into()));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(args.timeout_ms))
        .build()
        .map_err(|e| UsageError(format!("HTTP client: {e}")))?;
    // One thread: pacing and HTTP I/O need far less than a core at 10k/s,
    // and a sender sharing a small machine with the gateway under test
    // should not compete with it for CPUs (its own scheduling delays would
    // also show up as gateway latency).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("runtime: {e}")))?;
    let signer = Arc::new(signer);
    let args = Arc::new(args.clone());
    runtime.block_on(async move {
        let first = stream.requests.first().map_or(0, |r| r.received_at_ms);
        let start = tokio::time::Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (i, r) in stream.requests.into_iter().enumerate() {
            let offset = match interval {
                Some(rate) => Duration::from_secs_f64(i as f64 / rate),
                None => Duration::from_secs_f64(
                    ((r.received_at_ms - first).max(0) as f64 / 1000.0) / args.speed,
                ),
            };
            tokio::time::sleep_until(start + offset).await;
            let (client, signer, args, tx) =
                (client.clone(), signer.clone(), args.clone(), tx.clone());
            tokio::spawn(async move {
                let _ = tx.send(deliver(&client, signer.as_ref().as_ref(), &args, &r).await);
            });
        }
        drop(tx);
        let mut summary = Summary::default();
        while let Some((outcome, retries, latencies)) = rx.recv().await {
            summary.retries += retries;
            summary.latencies_ms.extend(latencies);
            match outcome {
                Outcome::Answered {
                    status,
                    code,
                    after_lost,
                } => {
                    summary.sent += 1;
                    if status == 200 {
                        summary.accepted += 1;
                    } else {
                        if status >= 500 {
                            summary.failures += 1;
                        }
                        if after_lost && status == 409 && code == "replayed" {
                            summary.replayed_after_lost_answer += 1;
                        }
                        *summary.rejected.entry(code).or_default() += 1;
                    }
                }
                Outcome::Failed => summary.failures += 1,
            }
        }
        Ok(summary)
    })
}

/// One request with its retries: the outcome, the retries made and each
/// answered attempt's latency.
async fn deliver(
    client: &reqwest::Client,
    signer: Option<&Signer>,
    args: &SendArgs,
    r: &RecordedRequest,
) -> (Outcome, u64, Vec<f64>) {
    let mut latencies = Vec::new();
    let mut outcome = Outcome::Failed;
    // Whether an earlier attempt went unanswered or got a 5xx: it may have
    // been accepted all the same.
    let mut lost = false;
    for attempt in 0..=args.retries {
        if attempt > 0 {
            let backoff = args.backoff_ms.saturating_mul(1 << (attempt - 1).min(20));
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
        let headers = match signer {
            Some(s) => match s.headers(r) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("alertgate send: line {}: {e}", r.line);
                    return (Outcome::Failed, u64::from(attempt), latencies);
                }
            },
            None => r.headers.clone(),
        };
        let mut req = client.post(&args.url).body(r.body.clone());
        for (n, v) in &headers {
            req = req.header(n.as_str(), v.as_str());
        }
        if let (Some(ip), false) = (r.source_ip, args.no_forwarded_for) {
            req = req.header("X-Forwarded-For", ip.to_string());
        }
        let started = Instant::now();
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let code = resp
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v.get("code")?.as_str().map(String::from))
                    .unwrap_or_else(|| format!("http_{status}"));
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                outcome = Outcome::Answered {
                    status,
                    code,
                    after_lost: lost,
                };
                if status < 500 {
                    return (outcome, u64::from(attempt), latencies);
                }
                lost = true;
            }
            Err(e) => {
                lost = true;
                outcome = Outcome::Failed;
                tracing::debug!("line {}: {e}", r.line);
            }
        }
    }
    (outcome, u64::from(args.retries), latencies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// A one-request-per-connection HTTP server on loopback: reads each
    /// request whole, then answers it with the next entry of `answers`
    /// (`None`: close the connection without answering). Returns its URL.
    fn fake_gateway(answers: Vec<Option<(u16, &'static str)>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for answer in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                reader.read_exact(&mut vec![0; length]).unwrap();
                let mut stream = reader.into_inner();
                if let Some((status, code)) = answer {
                    let body = format!(r#"{{"accepted":false,"code":"{code}"}}"#);
                    write!(
                        stream,
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .unwrap();
                }
            }
        });
        url
    }

    fn send_one(url: String) -> Summary {
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("alerts.jsonl");
        std::fs::write(
            &stream,
            r#"{"received_at":1700000000000,"headers":{},"body":"{\"symbol\":\"BTCUSDT\",\"side\":\"buy\",\"qty\":1}"}"#,
        )
        .unwrap();
        send(&SendArgs {
            stream,
            url,
            speed: 1.0,
            rate: None,
            scheme: None,
            secret_env: None,
            retries: 3,
            backoff_ms: 10,
            timeout_ms: 5_000,
            no_forwarded_for: true,
        })
        .unwrap()
    }

    #[test]
    fn a_replay_refusal_after_a_lost_answer_is_told_apart() {
        let summary = send_one(fake_gateway(vec![None, Some((409, "replayed"))]));
        assert_eq!(summary.sent, 1);
        assert_eq!(summary.retries, 1);
        assert_eq!(summary.failures, 0);
        assert_eq!(summary.rejected.get("replayed"), Some(&1));
        assert_eq!(summary.replayed_after_lost_answer, 1);
        assert!(summary.render().contains("after a lost answer"));

        // The same after a 5xx.
        let summary = send_one(fake_gateway(vec![
            Some((503, "replay_store_unavailable")),
            Some((409, "replayed")),
        ]));
        assert_eq!(summary.replayed_after_lost_answer, 1);
        assert_eq!(summary.failures, 0);
    }

    #[test]
    fn a_first_answer_replay_refusal_is_a_plain_duplicate() {
        let summary = send_one(fake_gateway(vec![Some((409, "replayed"))]));
        assert_eq!(summary.retries, 0);
        assert_eq!(summary.rejected.get("replayed"), Some(&1));
        assert_eq!(summary.replayed_after_lost_answer, 0);
        assert!(!summary.render().contains("after a lost answer"));
    }
}
