//! A closed-loop HTTP/1.1 load generator for `benches/gateway-window.sh`:
//! N keep-alive connections, each sending its next alert as soon as the
//! last one is answered, every alert FRESH (distinct price and event id,
//! stamped and signed with the timestamped scheme at send time), so that a
//! run can outlast the gateway's replay window (pre-signed alerts go stale).
//!
//! Prints one line per interval (200/s, other statuses, errors, p50/p99/max)
//! and a summary, then the summary and every interval as one JSON line
//! (the last line). A bad answer or a dropped connection is counted, never
//! fatal: the connection is made again.
//!
//!     ALERTGATE_LOAD_SECRET=... signing_load --url http://127.0.0.1:8080/webhook \
//!         --secret-env ALERTGATE_LOAD_SECRET [--connections 64] [--threads 2] \
//!         [--duration-s 60] [--report-every-s 10] [--timeout-ms 5000]
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alertgate_validator::auth::{sign, Scheme};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(about = "Closed-loop load of freshly signed alerts (timestamped scheme)")]
struct Args {
    /// Target, e.g. http://127.0.0.1:8080/webhook (plain HTTP only).
    #[arg(long)]
    url: hyper::Uri,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// How long to send new requests (in-flight ones are then awaited).
    #[arg(long, default_value_t = 60)]
    duration_s: u64,
    /// Length of each reported interval.
    #[arg(long, default_value_t = 10)]
    report_every_s: u64,
    /// Name of the environment variable holding the signing secret.
    #[arg(long)]
    secret_env: String,
    /// A request unanswered this long is an error (the connection is made again).
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

/// What one interval (or the whole run) saw.
struct Stats {
    /// Latency of answered requests, microseconds.
    latency: Histogram<u64>,
    /// Answers by HTTP status.
    statuses: BTreeMap<u16, u64>,
    /// Failures without an answer, by kind (`connect`, `io`, `timeout`).
    errors: BTreeMap<&'static str, u64>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }

    fn add(&mut self, other: &Stats) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    fn ok(&self) -> u64 {
        self.statuses.get(&200).copied().unwrap_or(0)
    }

    /// The figures of `secs` seconds of this, as JSON.
    fn json(&self, secs: f64) -> serde_json::Value {
        let other: BTreeMap<String, u64> = (self.statuses.iter())
            .filter(|(k, _)| **k != 200)
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        serde_json::json!({
            "secs": secs, "ok": self.ok(), "ok_per_s": self.ok() as f64 / secs.max(1e-9),
            "other": other, "errors": self.errors, "error_total": self.errors.values().sum::<u64>(),
            "p50_ms": self.ms(0.5), "p99_ms": self.ms(0.99), "max_ms": self.latency.max() as f64 / 1000.0,
        })
    }
}

/// What every connection shares.
struct Shared {
    addr: std::net::SocketAddr,
    authority: String,
    path: String,
    secret: Vec<u8>,
    run_tag: String,
    next: AtomicU64,
    stop: AtomicBool,
    timeout: Duration,
    stats: Mutex<Stats>,
}

impl Shared {
    fn record(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// `(days since 1970-01-01)` → `(year, month, day)` (proleptic Gregorian;
/// H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let (d, m) = (
        doy - (153 * mp + 2) / 5 + 1,
        if mp < 10 { mp + 3 } else { mp - 9 },
    );
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Now as Unix seconds and as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn now_stamp() -> (i64, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let ms = now.subsec_millis();
    let stamp = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    (secs, stamp)
}

/// Alert number `i`, as `benches/gateway-sustained.sh` shapes them (each
/// symbol alternating buy and sell, the price carrying the index), signed now.
fn request(sh: &Shared, i: u64) -> Result<hyper::Request<Full<Bytes>>, String> {
    const SYMBOLS: [&str; 4] = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
    let (t, stamp) = now_stamp();
    let (symbol, action) = (
        SYMBOLS[(i % 4) as usize],
        ["buy", "sell"][(i / 4 % 2) as usize],
    );
    let body = format!(
        r#"{{"ticker":"{symbol}","action":"{action}","type":"market","qty":"0.01","price":"{}.{:02}","time":"{stamp}"}}"#,
        100 + i / 100,
        i % 100
    );
    let signed = sign(Scheme::Timestamped, &sh.secret, body.as_bytes(), t, "")
        .map_err(|e| format!("{e:?}"))?;
    let sig = signed
        .iter()
        .find(|(k, _)| *k == "X-Tradeeon-Signature")
        .ok_or("no signature header")?;
    hyper::Request::post(sh.path.as_str())
        .header(hyper::header::HOST, sh.authority.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header("X-Tradeeon-Signature", sig.1.as_str())
        .header("X-Tradeeon-EventId", format!("{}-{i}", sh.run_tag))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())
}

/// Sends one request and reads its whole answer (keeping the connection usable).
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> hyper::Result<u16> {
    sender.ready().await?;
    let answer = sender.send_request(req).await?;
    let status = answer.status().as_u16();
    answer.into_body().collect().await?;
    Ok(status)
}

async fn connect(sh: &Shared) -> Result<SendRequest<Full<Bytes>>, Box<dyn std::error::Error>> {
    let stream = tokio::net::TcpStream::connect(sh.addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection's driver; its end (error or close) shows in `sender`.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One closed-loop connection: send, await the answer, repeat until told to
/// stop; made again after any failure (counted) or a close by the server.
async fn connection(sh: Arc<Shared>) {
    while !sh.stop.load(Ordering::Relaxed) {
        let Ok(mut sender) = connect(&sh).await else {
            sh.record(|s| *s.errors.entry("connect").or_default() += 1);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        while !sh.stop.load(Ordering::Relaxed) && !sender.is_closed() {
            let req = match request(&sh, sh.next.fetch_add(1, Ordering::Relaxed)) {
                Ok(req) => req,
                Err(e) => return eprintln!("signing_load: cannot build a request: {e}"),
            };
            let start = Instant::now();
            let failed = match tokio::time::timeout(sh.timeout, exchange(&mut sender, req)).await {
                Ok(Ok(status)) => {
                    let us = start.elapsed().as_micros().try_into().unwrap_or(u64::MAX);
                    sh.record(|s| {
                        s.latency.saturating_record(us);
                        *s.statuses.entry(status).or_default() += 1;
                    });
                    continue;
                }
                Ok(Err(_)) => "io",
                Err(_) => "timeout",
            };
            sh.record(|s| *s.errors.entry(failed).or_default() += 1);
            break;
        }
    }
}

/// `k=v k=v` of a JSON object of counts, `-` if empty.
fn counts(j: &serde_json::Value) -> String {
    let kv = j
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v} "));
    let kv: String = kv.collect();
    if kv.is_empty() { "-" } else { kv.trim_end() }.to_string()
}

/// One line of figures: 200/s, other statuses, errors, latency.
fn describe(j: &serde_json::Value) -> String {
    let f = |k: &str| j[k].as_f64().unwrap_or(f64::NAN);
    format!(
        "200/s {:>7.0} | other: {} | errors: {} | p50 {:.2} p99 {:.2} max {:.2} ms",
        f("ok_per_s"),
        counts(&j["other"]),
        counts(&j["errors"]),
        f("p50_ms"),
        f("p99_ms"),
        f("max_ms"),
    )
}

/// Drives the run: reports each interval, stops sending at the end of the
/// duration and awaits what is in flight (it counts in the last interval).
async fn run(args: &Args, sh: Arc<Shared>) -> serde_json::Value {
    let mut tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(connection(sh.clone())))
        .collect();
    let (start, end) = (Instant::now(), Duration::from_secs(args.duration_s));
    let every = Duration::from_secs(args.report_every_s.max(1));
    let (mut total, mut intervals, mut mark) = (Stats::new(), Vec::new(), Duration::ZERO);
    let mut elapsed = 0.0;
    while mark < end {
        mark = (mark + every).min(end);
        tokio::time::sleep_until((start + mark).into()).await;
        if mark == end {
            sh.stop.store(true, Ordering::Relaxed);
            for task in std::mem::take(&mut tasks) {
                // A task's end is all that matters here (it cannot panic on an answer).
                let _ = task.await;
            }
        }
        let last = std::mem::replace(&mut elapsed, start.elapsed().as_secs_f64());
        let s = std::mem::replace(
            &mut *sh.stats.lock().unwrap_or_else(PoisonError::into_inner),
            Stats::new(),
        );
        let j = s.json(elapsed - last);
        println!("[{elapsed:>6.1}s] {}", describe(&j));
        total.add(&s);
        intervals.push(j);
    }
    let mut summary = total.json(start.elapsed().as_secs_f64());
    summary["intervals"] = intervals.into();
    summary
}

/// The shared state of a run, or why the arguments cannot make one.
fn setup(args: &Args) -> Result<Shared, String> {
    let secret = std::env::var(&args.secret_env)
        .map_err(|_| format!("environment variable {} is not set", args.secret_env))?;
    // Refuse an unusable secret (e.g. empty) now, not once per request.
    sign(Scheme::Timestamped, secret.as_bytes(), b"", 0, "").map_err(|e| format!("{e:?}"))?;
    let authority = match (args.url.authority(), args.url.scheme_str()) {
        (Some(authority), Some("http")) => authority.to_string(),
        _ => return Err("--url must be http://HOST:PORT/PATH".to_string()),
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&authority)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(format!("cannot resolve {authority} (give a port)"))?;
    let path = args.url.path_and_query().map_or("/", |p| p.as_str());
    Ok(Shared {
        addr,
        authority,
        path: path.to_string(),
        secret: secret.into_bytes(),
        // Event ids unique across runs against the same gateway too.
        run_tag: format!("w{}-{}", now_stamp().0, std::process::id()),
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        timeout: Duration::from_millis(args.timeout_ms),
        stats: Mutex::new(Stats::new()),
    })
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string());
    let (shared, runtime) = match setup(&args).and_then(|sh| Ok((sh, runtime?))) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("signing_load: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let summary = runtime.block_on(run(&args, Arc::new(shared)));
    let secs = summary["secs"].as_f64().unwrap_or(0.0);
    let (ok, errors) = (&summary["ok"], &summary["error_total"]);
    println!(
        "summary: {ok} answers 200 in {secs:.1} s, socket errors {errors}: {}",
        describe(&summary)
    );
    println!("{summary}");
    std::process::ExitCode::SUCCESS
}
