//! `[replay] store = "redis://…"`: two `alertgate serve` processes sharing a
//! real `redis-server` accept one event once; a store that is down fails
//! closed (503); a store paused mid-claim answers 503 in time and keeps no
//! claim of a refused request; a store that would forget its claims on a
//! restart is refused (or warned about); the password comes from the
//! environment.
//!
//! The Redis test needs `redis-server` on PATH. Without it the test prints a
//! note and passes — unless `ALERTGATE_REQUIRE_REDIS` is set (CI sets it),
//! in which case it fails. Everything stays on 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::redis::{free_port, on_path, redis_server, redis_server_on, redis_server_with, Killed};
use common::{alert, gate_config, http, json_lines, now_s, wait_until, Gateway, SECRET_VAR};

const SECRET: &str = "redis-e2e-secret";
const TRADINGVIEW: &str = "52.89.214.238";

fn config(dir: &Path, store: &str) -> PathBuf {
    config_with_rate(dir, store, 1000, 1000)
}

fn config_with_rate(dir: &Path, store: &str, burst: u32, per_second: u32) -> PathBuf {
    gate_config(
        dir,
        &format!(
            r#"
[policy]
max_order_value = 1000
[replay]
store = "{store}"
[rate]
burst = {burst}
per_second = {per_second}
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
"#
        ),
    )
}

fn start(config: &Path) -> Gateway {
    common::start(config, SECRET)
}

fn signed(body: &[u8]) -> Vec<(&'static str, String)> {
    common::signed(SECRET, body, now_s(), TRADINGVIEW)
}

/// (status, code) of one signed POST /webhook.
fn post(port: u16, body: &[u8]) -> (u16, String) {
    let (status, text) = http(port, "POST", "/webhook", &signed(body), body).expect("answered");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    (status, v["code"].as_str().unwrap_or_default().to_string())
}

fn journal(dir: &Path) -> Vec<serde_json::Value> {
    json_lines(&dir.join("journal.jsonl"))
}

/// Issue 9 on the shared store: an alert stamped ahead of the clock stays
/// fresh past `max_age` after its acceptance, so its claim must outlive that
/// too. A copy sent to the other replica 1.5 s later (max_age 1 s) is a
/// replay, and only one order exists.
#[test]
fn a_claim_lives_while_the_alert_is_fresh() {
    let Some(redis) = redis_server() else {
        return;
    };
    let store = redis.url();
    let rest = format!(
        r#"
[policy]
max_age_s = 1
max_future_skew_s = 60
[replay]
store = "{store}"
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
"#
    );
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&gate_config(a_dir.path(), &rest));
    let b = start(&gate_config(b_dir.path(), &rest));
    let body = format!(
        r#"{{"symbol":"BTCUSDT","side":"buy","type":"limit","price":"100","quantity":"0.1","timestamp":{},"event_id":"ahead-1"}}"#,
        (now_s() + 30) * 1000
    );
    assert_eq!(post(a.port, body.as_bytes()), (200, "accepted".to_string()));
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    assert_eq!(post(b.port, body.as_bytes()), (409, "replayed".to_string()));
    drop((a, b));
    let accepted = [journal(a_dir.path()), journal(b_dir.path())]
        .iter()
        .flatten()
        .filter(|l| l["decision"]["accepted"] == true)
        .count();
    assert_eq!(accepted, 1);
}

#[test]
fn two_gateways_sharing_redis_accept_an_event_once() {
    let Some(redis) = redis_server() else {
        return;
    };
    let store = redis.url();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&config(a_dir.path(), &store));
    let b = start(&config(b_dir.path(), &store));

    let mut accepted = 0;
    for i in 0..20 {
        let body = alert(&format!("shared-{i}"));
        // Alternate which replica sees the event first.
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let one = post(first.port, &body);
        let two = post(second.port, &body);
        let mut got = [one, two];
        got.sort();
        assert_eq!(
            got,
            [(200, "accepted".to_string()), (409, "replayed".to_string())],
            "event {i}"
        );
        accepted += 1;
    }
    // Concurrently: the same event at both replicas at once.
    for i in 0..10 {
        let body = alert(&format!("race-{i}"));
        let (pa, pb) = (a.port, b.port);
        let (ba, bb) = (body.clone(), body.clone());
        let ta = std::thread::spawn(move || post(pa, &ba));
        let tb = std::thread::spawn(move || post(pb, &bb));
        let mut got = [ta.join().unwrap(), tb.join().unwrap()];
        got.sort();
        assert_eq!(
            got,
            [(200, "accepted".to_string()), (409, "replayed".to_string())],
            "race {i}"
        );
        accepted += 1;
    }
    // The journals agree: each event accepted in exactly one of them, the
    // other holding a `replayed` rejection.
    drop((a, b));
    let entries: Vec<_> = journal(a_dir.path())
        .into_iter()
        .chain(journal(b_dir.path()))
        .collect();
    assert_eq!(entries.len(), 2 * accepted);
    let oks = entries
        .iter()
        .filter(|e| e["decision"]["accepted"] == true)
        .count();
    assert_eq!(oks, accepted);
    assert!(entries
        .iter()
        .filter(|e| e["decision"]["accepted"] == false)
        .all(|e| e["decision"]["code"] == "replayed" && e["decision"]["status"] == 409));
}

#[test]
fn a_replay_found_in_the_store_spends_no_rate_token() {
    let Some(redis) = redis_server() else {
        return;
    };
    let store = redis.url();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Two tokens each, refilled at one per second: the whole test runs in
    // far less than the second a token takes.
    let a = start(&config_with_rate(a_dir.path(), &store, 2, 1));
    let b = start(&config_with_rate(b_dir.path(), &store, 2, 1));
    let ok = (200, "accepted".to_string());
    let replayed = (409, "replayed".to_string());
    let (e1, e2) = (alert("tok-1"), alert("tok-2"));
    assert_eq!(post(a.port, &e1), ok);
    assert_eq!(post(a.port, &e2), ok);
    // B's gate accepts both (its guard has not seen them), then the store
    // says replay: B gives the tokens back.
    assert_eq!(post(b.port, &e1), replayed);
    assert_eq!(post(b.port, &e2), replayed);
    // Had they been spent, B's bucket would be empty: 429 before its guard.
    assert_eq!(post(b.port, &e1), replayed);
    assert_eq!(post(b.port, &alert("tok-3")), ok);
    assert_eq!(post(b.port, &alert("tok-4")), ok);
    assert_eq!(post(b.port, &alert("tok-5")).0, 429);
}

#[test]
fn redis_down_fails_closed_with_503() {
    // A free port nothing listens on.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let gw = start(&config(dir.path(), &format!("redis://127.0.0.1:{port}")));
    let body = alert("down-1");
    assert_eq!(
        post(gw.port, &body),
        (503, "replay_store_unavailable".to_string())
    );
    // The refused event was withdrawn from the local guard: a retry is
    // decided afresh (503 again while Redis is down), not refused as a
    // replay of an order that never took effect.
    assert_eq!(
        post(gw.port, &body),
        (503, "replay_store_unavailable".to_string())
    );
    drop(gw);
    // Journaled as refusals: a restart neither remembers nor executes them.
    let entries = journal(dir.path());
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["decision"]["accepted"], false);
    assert_eq!(entries[0]["decision"]["status"], 503);
    assert_eq!(entries[0]["decision"]["code"], "replay_store_unavailable");
    let (submits, fills) = common::exchange_records(&dir.path().join("fills.jsonl"));
    assert!(submits.is_empty() && fills.is_empty(), "nothing executed");
}

/// `alertgate serve` on `config` with `envs`, its stderr (the log) in
/// `log`: the running gateway once `/healthz` answers, or how it exited
/// (status, the log) when it does not start.
fn spawn_logged(
    config: &Path,
    envs: &[(&str, &str)],
    log: &Path,
) -> Result<Gateway, (std::process::ExitStatus, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env(SECRET_VAR, SECRET)
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    // The first stdout line names the bound address; none when it stops.
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let Some(port) = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()) else {
        let status = child.wait().unwrap();
        return Err((status, std::fs::read_to_string(log).unwrap()));
    };
    let gateway = Gateway { child, port };
    wait_until("gateway healthy", || {
        http(port, "GET", "/healthz", &[], b"").map(|r| r.0) == Some(200)
    });
    Ok(gateway)
}

/// The events submitted to the exchange (the `submit` lines of the mock
/// exchange's log).
fn submitted(dir: &Path) -> Vec<String> {
    json_lines(&dir.join("fills.jsonl"))
        .iter()
        .filter_map(|l| l["submit"]["event_id"].as_str().map(String::from))
        .collect()
}

/// Redis paused while an alert's claim is in flight: the same alert sent
/// again meanwhile must not be told it was accepted (`409 replayed`), for
/// the first is then refused (`replay_store_unavailable`) and never
/// executed; it is told to retry, and the retry once Redis is back is
/// accepted and executed once.
#[test]
fn a_duplicate_of_an_alert_whose_claim_is_pending_is_told_to_retry() {
    let Some(redis) = redis_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = start(&config(dir.path(), &redis.url()));
    let ok = (200, "accepted".to_string());
    assert_eq!(post(gw.port, &alert("warm")), ok);
    redis.signal("STOP");
    let body = alert("pending");
    let first = {
        let body = body.clone();
        let port = gw.port;
        std::thread::spawn(move || post(port, &body))
    };
    std::thread::sleep(Duration::from_millis(150));
    let duplicate = post(gw.port, &body);
    let first = first.join().unwrap();
    redis.signal("CONT");
    assert_eq!(first, (503, "replay_store_unavailable".to_string()));
    assert_eq!(duplicate, (503, "decision_pending".to_string()));
    // Once the late claim is released, the retry is accepted, once.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(post(gw.port, &body), ok);
    assert_eq!(post(gw.port, &body).1, "replayed");
}

/// Issue 11: Redis paused (SIGSTOP) for 1.5 s under two replicas. Every
/// alert sent meanwhile is answered 503 within the deadline; the claims
/// Redis runs late, once resumed, are released, so resending each alert
/// (to both replicas) is accepted once and executed once.
#[test]
fn claims_sent_to_a_paused_redis_are_released_and_the_resends_execute_once() {
    let Some(redis) = redis_server() else {
        return;
    };
    let store = redis.url();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(&config(a_dir.path(), &store));
    let b = start(&config(b_dir.path(), &store));
    let ok = (200, "accepted".to_string());
    // Both replicas hold a connection before the pause.
    assert_eq!(post(a.port, &alert("warm-a")), ok);
    assert_eq!(post(b.port, &alert("warm-b")), ok);

    redis.signal("STOP");
    let paused = Instant::now();
    // Two waves of ten (five per replica), all in flight while paused.
    let mut answers = Vec::new();
    for wave in 0..2 {
        let threads: Vec<_> = (0..10)
            .map(|i| {
                let n = wave * 10 + i;
                let port = if n % 2 == 0 { a.port } else { b.port };
                std::thread::spawn(move || {
                    let body = alert(&format!("paused-{n}"));
                    let sent = Instant::now();
                    let got = post(port, &body);
                    (n, got, sent.elapsed())
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        answers.extend(threads.into_iter().map(|t| t.join().unwrap()));
    }
    std::thread::sleep(Duration::from_millis(1_500).saturating_sub(paused.elapsed()));
    let paused_for = paused.elapsed();
    redis.signal("CONT");

    let times: Vec<u128> = answers.iter().map(|(_, _, t)| t.as_millis()).collect();
    eprintln!(
        "paused {} ms; answer times while paused (ms): max {}, all {times:?}",
        paused_for.as_millis(),
        times.iter().max().unwrap()
    );
    for (n, got, took) in &answers {
        assert_eq!(
            *got,
            (503, "replay_store_unavailable".to_string()),
            "paused-{n}"
        );
        // The deadline is 500 ms; the margin is for a loaded test machine.
        assert!(*took < Duration::from_millis(1_000), "paused-{n}: {took:?}");
    }

    // Redis runs each late claim, then its release, in order.
    std::thread::sleep(Duration::from_millis(300));
    for n in 0..20 {
        let body = alert(&format!("paused-{n}"));
        let (first, second) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let mut got = [post(first.port, &body), post(second.port, &body)];
        got.sort();
        assert_eq!(
            got,
            [ok.clone(), (409, "replayed".to_string())],
            "resending paused-{n}"
        );
    }
    // Executed once each, across both exchanges.
    let all = || [submitted(a_dir.path()), submitted(b_dir.path())].concat();
    wait_until("22 orders submitted", || all().len() >= 22);
    std::thread::sleep(Duration::from_millis(200));
    drop((a, b));
    let mut events = all();
    events.sort();
    let mut expected: Vec<String> = (0..20).map(|n| format!("paused-{n}")).collect();
    expected.extend(["warm-a".to_string(), "warm-b".to_string()]);
    expected.sort();
    assert_eq!(events, expected);
}

/// A Redis without the append-only file or snapshots forgets every claim
/// on a restart: `store_persistence = "require"` (the default) refuses to
/// start on it, naming the setting; `"warn"` starts with an error in the
/// log.
#[test]
fn a_redis_that_forgets_its_claims_on_a_restart_is_refused_or_warned_about() {
    let Some(redis) = redis_server_with(&["--appendonly", "no"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let refused = spawn_logged(&config(dir.path(), &redis.url()), &[], &log);
    let Err((status, stderr)) = refused else {
        panic!("started on a Redis without persistence");
    };
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("serve.store_persistence"), "{stderr}");
    assert!(stderr.contains("appendonly no"), "{stderr}");

    let warned = gate_config(
        dir.path(),
        &format!(
            r#"
[replay]
store = "{}"
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
store_persistence = "warn"
"#,
            redis.url()
        ),
    );
    let gw = spawn_logged(&warned, &[], &log).unwrap_or_else(|(_, e)| panic!("{e}"));
    assert_eq!(post(gw.port, &alert("warned-1")), (200, "accepted".into()));
    drop(gw);
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("ERROR") && stderr.contains("in memory only"),
        "{stderr}"
    );
    drop(redis);

    // Down at start, such a Redis is refused on first connect instead:
    // the start goes on, every claim fails closed.
    let port = free_port();
    let later = tempfile::tempdir().unwrap();
    let cfg = config(later.path(), &format!("redis://127.0.0.1:{port}"));
    let gw = spawn_logged(&cfg, &[], &log).unwrap_or_else(|(_, e)| panic!("{e}"));
    let _redis = redis_server_on(port, &["--appendonly", "no"]).unwrap();
    for _ in 0..2 {
        assert_eq!(
            post(gw.port, &alert("later-1")),
            (503, "replay_store_unavailable".into())
        );
    }
    drop(gw);
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("serve.store_persistence"), "{stderr}");
}

/// `[serve] store_password_env`: the password of a `--requirepass` Redis
/// comes from the environment, and appears in no file the gateway writes
/// nor in its log. Unset, the start is refused naming the variable, as is
/// a wrong password; a password in the URL is refused at load without being
/// repeated.
#[test]
fn the_store_password_comes_from_the_environment_only() {
    const PASSWORD: &str = "pw-e2e-7d1c0ffee";
    const VAR: &str = "ALERTGATE_E2E_REDIS_PASSWORD";
    let Some(redis) = redis_server_with(&["--appendonly", "yes", "--requirepass", PASSWORD]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let with_password = |store: &str| {
        gate_config(
            dir.path(),
            &format!(
                r#"
[replay]
store = "{store}"
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
store_password_env = "{VAR}"
"#
            ),
        )
    };
    let cfg = with_password(&redis.url());
    let gw = spawn_logged(&cfg, &[(VAR, PASSWORD)], &log).unwrap_or_else(|(_, e)| panic!("{e}"));
    assert_eq!(post(gw.port, &alert("auth-1")), (200, "accepted".into()));
    assert_eq!(post(gw.port, &alert("auth-1")).0, 409);
    wait_until("the order submitted", || !submitted(dir.path()).is_empty());
    drop(gw);
    let mut logs = std::fs::read_to_string(&log).unwrap();

    // Without the variable: refused at start, naming it.
    let Err((status, stderr)) = spawn_logged(&cfg, &[], &log) else {
        panic!("started without the password");
    };
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(VAR), "{stderr}");
    logs.push_str(&stderr);

    // A wrong one: refused at start (waiting would not help).
    let Err((status, stderr)) = spawn_logged(&cfg, &[(VAR, "not-the-password")], &log) else {
        panic!("started with a wrong password");
    };
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("authentication refused"), "{stderr}");

    // In the URL: refused at load, the password not repeated.
    let in_url = with_password(&format!("redis://:{PASSWORD}@127.0.0.1:{}", redis.port));
    let Err((status, stderr)) = spawn_logged(&in_url, &[(VAR, PASSWORD)], &log) else {
        panic!("started with a password in the URL");
    };
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("replay.store"), "{stderr}");
    assert!(stderr.contains("store_password_env"), "{stderr}");
    logs.push_str(&stderr);

    assert!(!logs.contains(PASSWORD), "{logs}");
    for file in ["journal.jsonl", "fills.jsonl"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(!text.is_empty() && !text.contains(PASSWORD), "{file}");
    }
}

/// Runs `openssl` with `args` (split at spaces) in `dir`.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a certificate it signed for 127.0.0.1
/// (`server.pem`, `server.key`) in `dir`.
fn tls_files(dir: &Path) {
    openssl(
        dir,
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=alertgate-test-CA \
         -keyout ca.key -out ca.pem",
    );
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr",
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
         -extfile san.ext -out server.pem",
    );
}

/// `rediss://`: claims over TLS to a `redis-server --tls-port`, the
/// server's certificate verified against the trust store (`SSL_CERT_FILE`
/// here): trusted, an event is accepted once; untrusted, the store is
/// unavailable (503). Skipped with a note without `openssl` or a Redis
/// built with TLS.
#[test]
fn a_rediss_store_claims_over_verified_tls() {
    if !on_path("redis-server") {
        assert!(
            std::env::var_os("ALERTGATE_REQUIRE_REDIS").is_none(),
            "ALERTGATE_REQUIRE_REDIS is set but redis-server is not on PATH"
        );
        eprintln!("note: redis-server is not on PATH; skipping the rediss:// test");
        return;
    }
    if !on_path("openssl") {
        eprintln!("note: openssl is not on PATH; skipping the rediss:// test");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    tls_files(certs.path());
    let file = |name: &str| certs.path().join(name).to_string_lossy().into_owned();
    let port = free_port();
    let mut child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
        .args(["--dir", &certs.path().to_string_lossy()])
        .args(["--tls-cert-file", &file("server.pem")])
        .args(["--tls-key-file", &file("server.key")])
        .args(["--tls-ca-cert-file", &file("ca.pem")])
        .args(["--tls-auth-clients", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    // Listening once a TCP connection succeeds; gone if built without TLS.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if child.try_wait().unwrap().is_some() {
            eprintln!("note: redis-server has no TLS support; skipping the rediss:// test");
            return;
        }
        assert!(Instant::now() < deadline, "redis-server not ready in 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _server = Killed(child);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let cfg = config(dir.path(), &format!("rediss://127.0.0.1:{port}"));
    let ca = file("ca.pem");
    let gw = spawn_logged(&cfg, &[("SSL_CERT_FILE", ca.as_str())], &log)
        .unwrap_or_else(|(_, e)| panic!("{e}"));
    assert_eq!(post(gw.port, &alert("tls-1")), (200, "accepted".into()));
    assert_eq!(post(gw.port, &alert("tls-1")), (409, "replayed".into()));
    drop(gw);
    // A CA the gateway does not trust: no claim, fail closed.
    let other = tempfile::tempdir().unwrap();
    tls_files(other.path());
    let untrusted = other.path().join("ca.pem").to_string_lossy().into_owned();
    let gw = spawn_logged(&cfg, &[("SSL_CERT_FILE", untrusted.as_str())], &log)
        .unwrap_or_else(|(_, e)| panic!("{e}"));
    assert_eq!(
        post(gw.port, &alert("tls-2")),
        (503, "replay_store_unavailable".into())
    );
}
