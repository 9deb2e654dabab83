//! `alertgate send`: replays a recorded alert stream at a live gateway.
//!
//! Requests leave at the stream's inter-arrival times divided by a speed
//! (or at a fixed rate, see [`Pace`]), each on its own task so a slow
//! answer does not delay the next. With [`Signing`] each attempt is
//! re-signed with a fresh timestamp, keeping the recorded event id, so a
//! retry is the same event. Network errors and 5xx answers are retried
//! with exponential backoff.
//!
//! The command line (`alertgate send`'s arguments, the secret's
//! environment variable) is the root package's; this module takes
//! [`SendOptions`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alertgate_simulator::config::Secret;
use std::borrow::Cow;

use alertgate_simulator::redact::restore_any;
use alertgate_simulator::stream::{AlertStream, RecordedRequest};
use alertgate_validator::auth::{sign, Scheme};
use alertgate_validator::ConfigError;

use crate::Error;

/// A webhook URL, parsed.
pub use reqwest::Url;

/// What `send` does. Built by `alertgate send` from its arguments.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The alert stream (JSON Lines; a `serve` journal works too).
    pub stream: PathBuf,
    /// The webhook URL, e.g. `http://127.0.0.1:8080/webhook`.
    pub url: Url,
    /// When each request leaves.
    pub pace: Pace,
    /// Re-sign each attempt; `None` sends the recorded headers as they are.
    pub signing: Option<Signing>,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff; doubled per retry.
    pub backoff: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Send the recorded source address as `X-Forwarded-For`.
    pub forwarded_for: bool,
}

/// When requests leave: the recorded inter-arrival times divided by a
/// speed, or a fixed rate. Both are finite and above 0.
///
/// ```
/// use alertgate_gateway::send::Pace;
/// assert!(Pace::recorded(2.0).is_some());
/// assert!(Pace::per_second(500.0).is_some());
/// assert!(Pace::recorded(0.0).is_none());
/// assert!(Pace::per_second(f64::NAN).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace(PaceKind);

#[derive(Debug, Clone, Copy, PartialEq)]
enum PaceKind {
    Recorded { speed: f64 },
    Fixed { per_second: f64 },
}

impl Pace {
    /// The recorded inter-arrival times divided by `speed` (1: real time);
    /// `None` unless `speed` is finite and above 0.
    pub fn recorded(speed: f64) -> Option<Pace> {
        (speed.is_finite() && speed > 0.0).then_some(Pace(PaceKind::Recorded { speed }))
    }

    /// A fixed rate, requests per second; `None` unless finite and above 0.
    pub fn per_second(rate: f64) -> Option<Pace> {
        (rate.is_finite() && rate > 0.0).then_some(Pace(PaceKind::Fixed { per_second: rate }))
    }

    /// When the `index`th request leaves after the first, which was
    /// recorded `since_first_ms` before it.
    fn offset(self, index: usize, since_first_ms: i64) -> Duration {
        match self.0 {
            PaceKind::Fixed { per_second } => Duration::from_secs_f64(index as f64 / per_second),
            PaceKind::Recorded { speed } => {
                Duration::from_secs_f64((since_first_ms.max(0) as f64 / 1000.0) / speed)
            }
        }
    }
}

impl Default for Pace {
    /// Real time: the recorded inter-arrival times.
    fn default() -> Self {
        Pace(PaceKind::Recorded { speed: 1.0 })
    }
}

/// Re-signing: each attempt gets a fresh signature with this scheme and
/// secret over the recorded body and event id.
#[derive(Debug, Clone)]
pub struct Signing {
    /// The scheme.
    pub scheme: Scheme,
    /// The secret (`Debug` never shows it).
    pub secret: Secret,
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

struct Signer {
    scheme: Scheme,
    secret: Vec<u8>,
    /// The scheme's id header, learned by signing a probe.
    id_header: Option<&'static str>,
}

impl Signer {
    /// Checks that `signing` can sign (a probe) and learns the scheme's id
    /// header.
    fn new(signing: &Signing) -> Result<Signer, Error> {
        const PROBE: &str = "alertgate-probe-id";
        let scheme = signing.scheme;
        let secret = signing.secret.0.clone();
        let id_header = sign(scheme, &secret, b"{}", 1, PROBE)
            .map_err(|source| Error::Signing {
                scheme: scheme.name(),
                source,
            })?
            .iter()
            .find(|(_, v)| v.as_str() == PROBE)
            .map(|(n, _)| *n);
        Ok(Signer {
            scheme,
            secret,
            id_header,
        })
    }

    /// Headers for one attempt: the recorded ones minus the scheme's, then
    /// a fresh signature over the same body and event id.
    fn headers(&self, r: &RecordedRequest) -> Result<Vec<(String, String)>, ConfigError> {
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
        )?;
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

/// One request's fate: the outcome, the retries made and each answered
/// attempt's latency.
struct Delivered {
    outcome: Outcome,
    retries: u64,
    latencies_ms: Vec<f64>,
}

impl Summary {
    /// Counts one request's fate.
    fn record(&mut self, delivered: Delivered) {
        self.retries += delivered.retries;
        self.latencies_ms.extend(delivered.latencies_ms);
        match delivered.outcome {
            Outcome::Answered {
                status,
                code,
                after_lost,
            } => {
                self.sent += 1;
                if status == 200 {
                    self.accepted += 1;
                    return;
                }
                if status >= 500 {
                    self.failures += 1;
                }
                if after_lost && status == 409 && code == "replayed" {
                    self.replayed_after_lost_answer += 1;
                }
                *self.rejected.entry(code).or_default() += 1;
            }
            Outcome::Failed => self.failures += 1,
        }
    }
}

/// Runs `send` and returns the summary.
pub fn send(options: &SendOptions) -> Result<Summary, Error> {
    let mut stream = AlertStream::read(&options.stream).map_err(Error::Stream)?;
    let signer = options.signing.as_ref().map(Signer::new).transpose()?;
    if let Some(signing) = &options.signing {
        // A journal's redacted passphrases: the signing secret is the one
        // to send (a sender knows one secret, whichever it stood for).
        for r in &mut stream.requests {
            if let Cow::Owned(body) = restore_any(&r.body, &signing.secret.0) {
                r.body = body;
            }
        }
    }
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .build()
        .map_err(Error::HttpClient)?;
    // One thread: pacing and HTTP I/O need far less than a core at 10k/s,
    // and a sender sharing a small machine with the gateway under test
    // should not compete with it for CPUs (its own scheduling delays would
    // also show up as gateway latency).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let sender = Arc::new(Sender {
        client,
        signer,
        options: options.clone(),
    });
    Ok(runtime.block_on(play(sender, stream.requests)))
}

/// What every request's task shares.
struct Sender {
    client: reqwest::Client,
    signer: Option<Signer>,
    options: SendOptions,
}

/// Sends each request at its time, on its own task, and sums up their
/// fates.
async fn play(sender: Arc<Sender>, requests: Vec<RecordedRequest>) -> Summary {
    let first = requests.first().map_or(0, |r| r.received_at_ms);
    let start = tokio::time::Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, r) in requests.into_iter().enumerate() {
        let offset = sender.options.pace.offset(i, r.received_at_ms - first);
        tokio::time::sleep_until(start + offset).await;
        let (sender, tx) = (sender.clone(), tx.clone());
        tokio::spawn(async move {
            let _ = tx.send(sender.deliver(&r).await);
        });
    }
    drop(tx);
    let mut summary = Summary::default();
    while let Some(delivered) = rx.recv().await {
        summary.record(delivered);
    }
    summary
}

impl Sender {
    /// One request with its retries.
    async fn deliver(&self, r: &RecordedRequest) -> Delivered {
        let retries = self.options.retries;
        let mut latencies_ms = Vec::new();
        let mut outcome = Outcome::Failed;
        // Whether an earlier attempt went unanswered or got a 5xx: it may
        // have been accepted all the same.
        let mut lost = false;
        for attempt in 0..=retries {
            if attempt > 0 {
                let backoff = self
                    .options
                    .backoff
                    .saturating_mul(1 << (attempt - 1).min(20));
                tokio::time::sleep(backoff).await;
            }
            let headers = match &self.signer {
                Some(s) => match s.headers(r) {
                    Ok(h) => h,
                    Err(e) => {
                        eprintln!("alertgate send: line {}: signing: {e}", r.line);
                        return Delivered {
                            outcome: Outcome::Failed,
                            retries: u64::from(attempt),
                            latencies_ms,
                        };
                    }
                },
                None => r.headers.clone(),
            };
            let started = Instant::now();
            match self.attempt(r, &headers).await {
                Ok((status, code)) => {
                    latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                    outcome = Outcome::Answered {
                        status,
                        code,
                        after_lost: lost,
                    };
                    if status < 500 {
                        return Delivered {
                            outcome,
                            retries: u64::from(attempt),
                            latencies_ms,
                        };
                    }
                }
                Err(e) => {
                    outcome = Outcome::Failed;
                    tracing::debug!("line {}: {e}", r.line);
                }
            }
            lost = true;
        }
        Delivered {
            outcome,
            retries: u64::from(retries),
            latencies_ms,
        }
    }

    /// One attempt: the answer's status and code (the body's `code`, else
    /// `http_STATUS`).
    async fn attempt(
        &self,
        r: &RecordedRequest,
        headers: &[(String, String)],
    ) -> Result<(u16, String), reqwest::Error> {
        let mut req = self
            .client
            .post(self.options.url.clone())
            .body(r.body.clone());
        for (n, v) in headers {
            req = req.header(n.as_str(), v.as_str());
        }
        if let (Some(ip), true) = (r.source_ip, self.options.forwarded_for) {
            req = req.header("X-Forwarded-For", ip.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let code = resp
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v.get("code")?.as_str().map(String::from))
            .unwrap_or_else(|| format!("http_{status}"));
        Ok((status, code))
    }
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
        send(&SendOptions {
            stream,
            url: url.parse().unwrap(),
            pace: Pace::default(),
            signing: None,
            retries: 3,
            backoff: Duration::from_millis(10),
            timeout: Duration::from_millis(5_000),
            forwarded_for: false,
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
