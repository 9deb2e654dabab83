//! Helpers shared by the gateway end-to-end tests: start `alertgate serve`
//! on a free loopback port and talk HTTP/1.1 to it, with bounded waits.
#![allow(dead_code)] // each test binary uses its own subset

pub mod disk;
pub mod emulator;
pub mod redis;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alertgate_validator::auth::{sign, Scheme};

/// The environment variable the test configurations read their secret from.
pub const SECRET_VAR: &str = "ALERTGATE_E2E_SECRET";

/// A running gateway, killed when dropped.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `alertgate serve --listen 127.0.0.1:0` with `secret` in
/// [`SECRET_VAR`] and waits (at most 20 s) until `/healthz` answers.
pub fn start(config: &Path, secret: &str) -> Gateway {
    healthy(spawn(config, secret, "warn", Stdio::null()))
}

/// As [`start`], with the log at `level` written to `log`.
pub fn start_logged(config: &Path, secret: &str, level: &str, log: &Path) -> Gateway {
    let log = std::fs::File::create(log).unwrap();
    healthy(spawn(config, secret, level, log.into()))
}

/// Spawns `alertgate serve --listen 127.0.0.1:0 --config config`, `secret`
/// in [`SECRET_VAR`], `RUST_LOG=level`, its log to `stderr`; returns once
/// it has printed the address it listens on (not yet known healthy).
pub fn spawn(config: &Path, secret: &str, level: &str, stderr: Stdio) -> Gateway {
    spawn_with(config, secret, level, stderr, &[])
}

/// As [`spawn`], with `env` set too (a venue's keys).
pub fn spawn_with(
    config: &Path,
    secret: &str,
    level: &str,
    stderr: Stdio,
    env: &[(&str, &str)],
) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env(SECRET_VAR, secret)
        .env("RUST_LOG", level)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let port = listening_port(&mut child);
    Gateway { child, port }
}

/// The port `child` (spawned with its stdout piped) says it listens on:
/// its first stdout line is `listening on ADDRESS:PORT`.
pub fn listening_port(child: &mut Child) -> u16 {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// `gateway` once `/healthz` answers 200 (at most 20 s).
pub fn healthy(gateway: Gateway) -> Gateway {
    let deadline = Instant::now() + Duration::from_secs(20);
    while http(gateway.port, "GET", "/healthz", &[], b"").map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "gateway not healthy in 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    gateway
}

/// One HTTP/1.1 request: (status, body), or None if the connection failed.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    // A refused oversized body may close the socket early: ignore that.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}

/// Wall clock, Unix seconds.
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A fresh, valid alert body with event id `event`: a buy limit at 100,
/// which `max_order_value` can value without a mark price.
pub fn alert(event: &str) -> Vec<u8> {
    format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","order_type":"limit","quantity":"0.1","price":"100","confidence":"0.9","timestamp":{},"event_id":"{event}"}}"#,
        now_s() * 1000
    )
    .into_bytes()
}

/// Timestamped-scheme signature headers for `body` at `at_s`, forwarded
/// for `from`, as JSON.
pub fn signed(secret: &str, body: &[u8], at_s: i64, from: &str) -> Vec<(&'static str, String)> {
    let mut h: Vec<(&'static str, String)> =
        sign(Scheme::Timestamped, secret.as_bytes(), body, at_s, "")
            .unwrap()
            .iter()
            .map(|(n, v)| (*n, v.as_str().to_string()))
            .collect();
    h.push(("X-Forwarded-For", from.to_string()));
    h.push(("Content-Type", "application/json".to_string()));
    h
}

/// Posts `body` to `/webhook`, signed now with `secret` and forwarded for
/// a TradingView address: (status, the answer's `code`).
pub fn post_signed(port: u16, secret: &str, body: &str) -> (u16, String) {
    let headers = signed(secret, body.as_bytes(), now_s(), "52.89.214.238");
    let (status, text) =
        http(port, "POST", "/webhook", &headers, body.as_bytes()).expect("answered");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    (status, v["code"].as_str().unwrap_or_default().to_string())
}

/// Polls `done` every 20 ms until it holds; panics naming `what` after 20 s.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "not in 20 s: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `dir/gate.toml`: the `timestamped` scheme with its secret from
/// [`SECRET_VAR`], then `rest` (the test's own sections).
pub fn gate_config(dir: &Path, rest: &str) -> std::path::PathBuf {
    let path = dir.join("gate.toml");
    let auth = format!("[auth]\nscheme = \"timestamped\"\nsecrets_env = [\"{SECRET_VAR}\"]\n");
    std::fs::write(&path, auth + rest).unwrap();
    path
}

/// Each complete line of a JSON-lines file (missing: none), parsed. A
/// last line without its newline is being written (the file is read while
/// a gateway appends to it): left out.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// The exchange log's `submit` and `fill` records, in order (after its
/// first line, which says the rules it is written under).
pub fn exchange_records(path: &Path) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let (mut submits, mut fills) = (Vec::new(), Vec::new());
    for (i, l) in json_lines(path).into_iter().enumerate() {
        match (l.get("submit"), l.get("fill"), l.get("rules")) {
            (Some(s), None, None) => submits.push(s.clone()),
            (None, Some(f), None) => fills.push(f.clone()),
            (None, None, Some(_)) if i == 0 => {}
            _ => panic!("not a submit or a fill line: {l}"),
        }
    }
    (submits, fills)
}

/// Sends SIGTERM and waits (at most 20 s) for a clean exit.
pub fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exited {status}");
            return;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The repository's root (the `alertgate` package's directory).
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled sample's gate, with the alerts' old timestamps allowed
/// (max_age is ~31 years) and a loose rate limit, priced from the sample's
/// market data (as `replay` prices it: an alert's own price is never a
/// mark); `serve` is added to its `[serve]` section. A sender re-signs with
/// fresh timestamps and forwards the recorded source address through the
/// trusted loopback proxy.
pub fn sample_config(dir: &Path, serve: &str) -> std::path::PathBuf {
    let market = root().join("examples/replay/market");
    gate_config(
        dir,
        &format!(
            r#"
[policy]
min_confidence = 0.6
max_quantity = 2
symbols = ["BTC/USDT", "ETH/USDT"]
max_order_value = 20000
max_age_s = 1000000000
[rate]
burst = 1000
per_second = 1000
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
market = "{}"
{serve}"#,
            market.display()
        ),
    )
}

/// The client order ids of the journal's accepted decisions, in order.
pub fn accepted_order_ids(journal: &Path) -> Vec<String> {
    json_lines(journal)
        .iter()
        .filter(|l| l["decision"]["accepted"] == true)
        .map(|l| {
            l["decision"]["order"]["client_order_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Waits (at most 20 s) for a process to exit on its own; kills it after.
pub fn wait_exit(mut child: Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not exit in 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
