//! `alertgate serve` over HTTPS as a real process: certificates made in the
//! test (rcgen), a real TLS client (reqwest on rustls) trusting the test's
//! CA. A signed alert accepted over TLS; the certificate reloaded on SIGHUP
//! while an open connection carries on; `client_auth = "tradingview"`
//! accepting TradingView's certificate only (wrong subject, wrong e-mail,
//! wrong CA, expired, none: refused with 403 before the gate).
//!
//! Every wait is bounded; nothing leaves 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

mod common;
use common::{alert, gate_config, json_lines, now_s, signed, wait_until, Gateway, SECRET_VAR};

const SECRET: &str = "tls-e2e-secret";

/// A test certificate authority.
struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `params` signed by this CA: (certificate PEM, key
    /// PEM, certificate DER).
    fn issue(&self, params: CertificateParams) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    /// A server certificate for 127.0.0.1 and localhost, with `name` as its
    /// common name.
    fn server(&self, name: &str) -> (String, String, Vec<u8>) {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate with `subject` and the e-mail address `email`.
    fn client(&self, subject: &[(DnType, &str)], email: &str) -> (String, String, Vec<u8>) {
        self.issue(client_params(subject, email))
    }
}

fn client_params(subject: &[(DnType, &str)], email: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (t, v) in subject {
        params.distinguished_name.push(t.clone(), *v);
    }
    params.subject_alt_names = vec![SanType::Rfc822Name(email.try_into().unwrap())];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// TradingView's client certificate subject, as its support article
/// "Webhook authentication" publishes it.
fn tradingview() -> Vec<(DnType, &'static str)> {
    vec![
        (DnType::CountryName, "US"),
        (DnType::StateOrProvinceName, "Ohio"),
        (DnType::LocalityName, "Westerville"),
        (DnType::OrganizationName, "TradingView, Inc."),
        (DnType::CommonName, "TradingView Webhooks"),
    ]
}

const TRADINGVIEW_EMAIL: &str = "webhook-server@tradingview.com";

/// Writes `dir/NAME` and returns its path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A real TLS client trusting `ca_pem` only, presenting `identity` (a
/// certificate and its key, PEM), reporting the server's certificate.
fn client(ca_pem: &str, identity: Option<(&str, &str)>) -> reqwest::blocking::Client {
    let mut builder = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    if let Some((cert, key)) = identity {
        let pem = format!("{cert}{key}");
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// An answer: status, the body's `code` (empty if not JSON), the server's
/// certificate (DER).
struct Answer {
    status: u16,
    code: String,
    server_cert: Vec<u8>,
}

fn get(client: &reqwest::blocking::Client, port: u16, path: &str) -> reqwest::Result<Answer> {
    answer(
        client
            .get(format!("https://127.0.0.1:{port}{path}"))
            .send()?,
    )
}

/// Posts a fresh alert `event` signed with `secret`, forwarded for a
/// TradingView address.
fn post(
    client: &reqwest::blocking::Client,
    port: u16,
    secret: &str,
    event: &str,
) -> reqwest::Result<Answer> {
    let body = alert(event);
    let mut request = client.post(format!("https://127.0.0.1:{port}/webhook"));
    for (name, value) in signed(secret, &body, now_s(), "52.89.214.238") {
        request = request.header(name, value);
    }
    answer(request.body(body).send()?)
}

fn answer(response: reqwest::blocking::Response) -> reqwest::Result<Answer> {
    let server_cert = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("a TLS connection")
        .to_vec();
    let status = response.status().as_u16();
    let text = response.text()?;
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(Answer {
        status,
        code,
        server_cert,
    })
}

/// Starts `alertgate serve` on a free loopback port, its log (info) in
/// `log`, and waits (at most 20 s) until `/healthz` answers over HTTPS.
fn start_tls(config: &Path, log: &Path, ca_pem: &str) -> Gateway {
    let log = std::fs::File::create(log).unwrap();
    let gateway = common::spawn(config, SECRET, "info", log.into());
    let probe = client(ca_pem, None);
    wait_until("healthy over HTTPS", || {
        get(&probe, gateway.port, "/healthz").map(|a| a.status).ok() == Some(200)
    });
    gateway
}

fn hangup(gateway: &Gateway) {
    let status = Command::new("kill")
        .args(["-HUP", &gateway.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn config(dir: &Path, serve: &str) -> PathBuf {
    gate_config(
        dir,
        &format!(
            r#"
[policy]
max_order_value = 1000
[network]
allowlist = ["tradingview"]
[serve]
trusted_proxies = ["127.0.0.1"]
header_timeout_ms = 20000
tls_cert = "server.pem"
tls_key = "server.key"
{serve}
"#
        ),
    )
}

#[test]
fn https_accepts_a_signed_alert_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("alertgate test CA");
    let (cert, key, first) = ca.server("first");
    write(dir.path(), "server.pem", &cert);
    write(dir.path(), "server.key", &key);
    let config = config(dir.path(), "");
    let log = dir.path().join("serve.log");
    let mut gw = start_tls(&config, &log, &ca.pem());

    // An alert over TLS, signature checked as over plain HTTP.
    let kept = client(&ca.pem(), None);
    let a = post(&kept, gw.port, SECRET, "tls-1").unwrap();
    assert_eq!((a.status, a.code.as_str()), (200, "accepted"));
    assert_eq!(a.server_cert, first);
    let a = post(&kept, gw.port, "not-the-secret", "tls-2").unwrap();
    assert_eq!(a.status, 401, "{}", a.code);
    // Plain HTTP on the TLS port gets no answer.
    assert_eq!(common::http(gw.port, "GET", "/healthz", &[], b""), None);

    // New files, SIGHUP: new connections present the new certificate.
    let (cert, key, second) = ca.server("second");
    write(dir.path(), "server.pem", &cert);
    write(dir.path(), "server.key", &key);
    hangup(&gw);
    wait_until("new connections see the new certificate", || {
        get(&client(&ca.pem(), None), gw.port, "/healthz").is_ok_and(|a| a.server_cert == second)
    });
    // The connection opened before the reload carries on, on the old one.
    let a = post(&kept, gw.port, SECRET, "tls-3").unwrap();
    assert_eq!((a.status, a.code.as_str()), (200, "accepted"));
    assert_eq!(a.server_cert, first, "the kept-alive connection");

    // A bad file keeps the configuration in use; the process lives on.
    write(dir.path(), "server.pem", "not a certificate\n");
    hangup(&gw);
    wait_until("the failed reload is logged", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("TLS reload failed"))
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("serve.tls_cert"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let a = post(&client(&ca.pem(), None), gw.port, SECRET, "tls-4").unwrap();
    assert_eq!((a.status, a.code.as_str()), (200, "accepted"));
    assert_eq!(a.server_cert, second);
    // A key that is not the certificate's is refused too.
    let (cert, _, _) = ca.server("third");
    write(dir.path(), "server.pem", &cert);
    hangup(&gw);
    wait_until("the second failed reload is logged", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.matches("TLS reload failed").count() == 2)
    });
    let a = get(&client(&ca.pem(), None), gw.port, "/healthz").unwrap();
    assert_eq!(a.server_cert, second);
    assert!(gw.child.try_wait().unwrap().is_none(), "serve stopped");
    let accepted = json_lines(&dir.path().join("journal.jsonl"))
        .iter()
        .filter(|l| l["decision"]["accepted"] == true)
        .count();
    assert_eq!(accepted, 3);
}

#[test]
fn client_auth_tradingview_accepts_only_tradingviews_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("alertgate test CA");
    let (cert, key, _) = ca.server("gateway");
    write(dir.path(), "server.pem", &cert);
    write(dir.path(), "server.key", &key);
    write(dir.path(), "clients.pem", &ca.pem());
    let config = config(
        dir.path(),
        "client_auth = \"tradingview\"\nclient_ca = \"clients.pem\"",
    );
    let log = dir.path().join("serve.log");
    let gw = start_tls(&config, &log, &ca.pem());
    let port = gw.port;
    let with = |(cert, key, _): &(String, String, Vec<u8>)| client(&ca.pem(), Some((cert, key)));

    // TradingView's certificate: the gate still checks the signature.
    let right = with(&ca.client(&tradingview(), TRADINGVIEW_EMAIL));
    let a = post(&right, port, SECRET, "cert-1").unwrap();
    assert_eq!((a.status, a.code.as_str()), (200, "accepted"));
    let a = post(&right, port, "not-the-secret", "cert-2").unwrap();
    assert_eq!(a.status, 401, "{}", a.code);

    let refused = |client: reqwest::blocking::Client, event: &str| {
        let a = post(&client, port, SECRET, event).unwrap();
        (a.status, a.code)
    };
    let rejected = (403, "client_certificate_rejected".to_string());
    // A subject that is not TradingView's.
    let mut subject = tradingview();
    subject[4].1 = "TradingView Webhooks Test";
    let wrong_subject = with(&ca.client(&subject, TRADINGVIEW_EMAIL));
    assert_eq!(refused(wrong_subject, "cert-3"), rejected);
    let mut subject = tradingview();
    subject.remove(2);
    let no_locality = with(&ca.client(&subject, TRADINGVIEW_EMAIL));
    assert_eq!(refused(no_locality, "cert-4"), rejected);
    // Not TradingView's e-mail address.
    let wrong_email = with(&ca.client(&tradingview(), "webhook-server@example.com"));
    assert_eq!(refused(wrong_email, "cert-5"), rejected);
    // The right subject from another CA.
    let other = Ca::new("another CA");
    let wrong_ca = with(&other.client(&tradingview(), TRADINGVIEW_EMAIL));
    assert_eq!(refused(wrong_ca, "cert-6"), rejected);
    // Expired.
    let mut params = client_params(&tradingview(), TRADINGVIEW_EMAIL);
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = with(&ca.issue(params));
    assert_eq!(refused(expired, "cert-7"), rejected);
    // None at all.
    assert_eq!(
        refused(client(&ca.pem(), None), "cert-8"),
        (403, "client_certificate_required".to_string())
    );
    // The strategy route too; health needs no certificate.
    let none = client(&ca.pem(), None);
    let a = answer(
        none.post(format!("https://127.0.0.1:{port}/webhook/any"))
            .body("{}")
            .send()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (a.status, a.code.as_str()),
        (403, "client_certificate_required")
    );
    assert_eq!(get(&none, port, "/healthz").unwrap().status, 200);

    // Refused before the gate: neither decided nor journaled; counted.
    let journal = json_lines(&dir.path().join("journal.jsonl"));
    let codes: Vec<&str> = journal
        .iter()
        .map(|l| l["decision"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert_eq!(codes[0], "accepted");
    let metrics = none
        .get(format!("https://127.0.0.1:{port}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "alertgate_requests_total{status=\"403\",code=\"client_certificate_rejected\"} 5",
        "alertgate_requests_total{status=\"403\",code=\"client_certificate_required\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    for why in [
        "its subject CN is not TradingView's",
        "its subject L is not TradingView's",
        "no subject alternative name",
        "not issued by a trusted certificate authority",
        "it has expired",
    ] {
        assert!(text.contains(why), "{why} in {text}");
    }
}

#[test]
fn bad_tls_files_stop_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("alertgate test CA");
    let (cert, _, _) = ca.server("gateway");
    write(dir.path(), "server.pem", &cert);
    write(dir.path(), "server.key", "-----BEGIN PRIVATE KEY-----\n");
    let run = |config: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_alertgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env(SECRET_VAR, SECRET)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&config(dir.path(), ""));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("serve.tls_key"), "{err}");
    let config = config(dir.path(), "").to_path_buf();
    std::fs::remove_file(dir.path().join("server.key")).unwrap();
    let (code, err) = run(&config);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("serve.tls_key: cannot read"), "{err}");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("tls_key = \"server.key\"\n", "")).unwrap();
    let (code, err) = run(&config);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("serve.tls_key: missing"), "{err}");
}
