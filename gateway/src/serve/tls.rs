//! HTTPS without a proxy (`[serve] tls_cert`, `tls_key`), reloaded on
//! SIGHUP, and TradingView's client certificate (`[serve] client_auth =
//! "tradingview"`).
//!
//! **Listening.** With `tls_cert` and `tls_key` every accepted connection
//! is a TLS connection (rustls on `ring`; TLS 1.2 and 1.3; HTTP/1.1 by
//! ALPN). The handshake runs on the connection's own task, bounded by
//! `header_timeout_ms`, so a slow client never holds up the accept loop.
//!
//! **Reload.** On SIGHUP the certificate chain, the key and `client_ca` are
//! read again and a new configuration is built; a connection takes the
//! configuration current when it is accepted and keeps it, so open
//! (keep-alive) connections carry on and new handshakes present the new
//! certificate. A file that cannot be read or does not fit (a key that is
//! not the certificate's) keeps the previous configuration and logs an
//! error.
//!
//! **Client certificates.** TradingView presents a client certificate when
//! it delivers over HTTPS (support article "Webhook authentication"):
//! subject `C=US, ST=Ohio, L=Westerville, O=TradingView, Inc., CN=TradingView
//! Webhooks`, subject alternative name `email:webhook-server@tradingview.com`.
//! It cannot sign requests, so this is the only cryptographic proof of the
//! sender it offers. With `client_auth = "tradingview"` the handshake
//! *requests* a certificate but lets the connection proceed without one,
//! and without checking its chain (`ProofOfKey`: rustls still checks the
//! handshake signature, so the peer holds the certificate's key). Right
//! after the handshake the chain is verified against the CA bundle
//! (`client_ca`, default Mozilla's roots from `webpki-roots`) at the current
//! time, and the subject and the e-mail address are compared with the
//! published ones (`check_client`). The outcome ([`ClientCert`]) travels
//! with each request of the connection, and the webhook routes refuse a
//! connection without a verified certificate with 403
//! `client_certificate_required` or `client_certificate_rejected` before
//! the gate runs: an HTTP answer with a stable code rather than a TLS alert
//! the sender cannot read. The allowlist and the scheme's secret stay as
//! further checks.
//!
//! No certificate authority hints are sent in the certificate request: an
//! empty list tells a client that any certificate it has is acceptable,
//! whereas a client that picks its certificate by the hinted authorities
//! (as Go's and Java's do) would send none if its chain ended elsewhere.
//!
//! Key material never appears in a log, an error or a `Debug` output: the
//! configuration holds paths; the loaded key lives only inside rustls.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore};
use rustls::{ServerConfig, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{self, Oid};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::refusal::Refusal;
use super::settings::{ClientAuth, ServeSection};
use super::AppState;

/// TradingView's client certificate subject, as published: (attribute,
/// its OID, the value). Each must appear exactly once with exactly this
/// value; other attributes are not looked at.
const TRADINGVIEW_SUBJECT: [(&str, Oid<'static>, &str); 5] = [
    ("C", oid_registry::OID_X509_COUNTRY_NAME, "US"),
    ("ST", oid_registry::OID_X509_STATE_OR_PROVINCE_NAME, "Ohio"),
    ("L", oid_registry::OID_X509_LOCALITY_NAME, "Westerville"),
    (
        "O",
        oid_registry::OID_X509_ORGANIZATION_NAME,
        "TradingView, Inc.",
    ),
    (
        "CN",
        oid_registry::OID_X509_COMMON_NAME,
        "TradingView Webhooks",
    ),
];

/// TradingView's client certificate's subject alternative name, as
/// published (the domain compared without regard to ASCII case).
const TRADINGVIEW_EMAIL: (&str, &str) = ("webhook-server", "tradingview.com");

/// Why the TLS configuration could not be loaded (at start: exit 2; on
/// SIGHUP: logged, the previous configuration kept). Each names the
/// setting and the file.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("serve.{setting}: cannot read {}: {source}", .path.display())]
    Read {
        /// `tls_cert`, `tls_key` or `client_ca`.
        setting: &'static str,
        /// The file, resolved against the configuration file's directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file is not PEM, or holds nothing of what is expected.
    #[error("serve.{setting}: {}: no readable PEM {what}: {source}", .path.display())]
    Pem {
        /// As in [`TlsError::Read`].
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// `certificate` or `private key`.
        what: &'static str,
        /// What the PEM reader found wrong.
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the certificate chain and key (a key that is not the
    /// certificate's, an unsupported key type).
    #[error("serve.tls_cert, serve.tls_key: {0}")]
    Certificate(#[source] rustls::Error),
    /// `client_ca` holds a certificate that is not a usable trust anchor.
    #[error("serve.client_ca: {}: {source}", .path.display())]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// Why the certificate was refused.
        source: rustls::Error,
    },
    /// The client certificate verifier could not be built (no trust
    /// anchors).
    #[error("serve.client_ca: {0}")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
}

/// Why a client certificate was rejected: the chain, or the subject.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertProblem {
    /// Past its (or a chain certificate's) validity.
    #[error("it has expired")]
    Expired,
    /// Before its (or a chain certificate's) validity.
    #[error("it is not valid yet")]
    NotYetValid,
    /// It does not chain to a certificate of the CA bundle (`client_ca`,
    /// default Mozilla's roots).
    #[error("it is not issued by a trusted certificate authority")]
    UnknownIssuer,
    /// Its chain does not verify for another reason (a bad signature, a
    /// certificate not for client authentication, a bad encoding).
    #[error("its chain does not verify")]
    Chain,
    /// A subject attribute is missing, repeated or not the published value.
    #[error("its subject {0} is not TradingView's")]
    Subject(&'static str),
    /// No subject alternative name `email:webhook-server@tradingview.com`.
    #[error("it has no subject alternative name email:webhook-server@tradingview.com")]
    Email,
}

/// A connection's client certificate, as checked after the handshake; every
/// request of the connection carries it (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCert {
    /// No certificate is asked for (plain HTTP, or `client_auth = "none"`).
    NotRequested,
    /// TradingView's certificate, its chain verified.
    Verified,
    /// Asked for, none presented.
    Missing,
    /// Presented and rejected.
    Rejected(CertProblem),
}

/// The files `[serve]` names, resolved against the configuration file's
/// directory. Paths only: no key material.
#[derive(Debug, Clone)]
struct Files {
    cert: PathBuf,
    key: PathBuf,
    client_auth: ClientAuth,
    /// `None`: Mozilla's roots.
    client_ca: Option<PathBuf>,
}

/// One loaded configuration: what a handshake uses, and how the client
/// certificate is then checked.
struct Loaded {
    acceptor: TlsAcceptor,
    /// With `client_auth = "tradingview"`: the chain's verifier.
    client: Option<Arc<dyn ClientCertVerifier>>,
}

/// The listener's TLS configuration, replaced whole on reload.
pub(super) struct Tls {
    files: Files,
    current: RwLock<Arc<Loaded>>,
}

impl Tls {
    /// `[serve]`'s TLS settings loaded, paths resolved against `base`;
    /// `None` without `tls_cert` (plain HTTP).
    pub(super) fn load(serve: &ServeSection, base: &Path) -> Result<Option<Arc<Tls>>, TlsError> {
        let (Some(cert), Some(key)) = (&serve.tls_cert, &serve.tls_key) else {
            return Ok(None);
        };
        let files = Files {
            cert: base.join(cert),
            key: base.join(key),
            client_auth: serve.client_auth,
            client_ca: serve.client_ca.as_ref().map(|p| base.join(p)),
        };
        let loaded = files.load()?;
        Ok(Some(Arc::new(Tls {
            files,
            current: RwLock::new(Arc::new(loaded)),
        })))
    }

    fn current(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the files again; on success new handshakes use them, on
    /// failure nothing changes.
    fn reload(&self) -> Result<(), TlsError> {
        let loaded = Arc::new(self.files.load()?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(())
    }
}

/// Reloads `tls` on every SIGHUP, from now on (the handler is installed
/// before this returns, so a SIGHUP no longer stops the process). Must run
/// inside the runtime.
pub(super) fn reload_on_sighup(tls: Arc<Tls>) -> io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match tls.reload() {
                    Ok(()) => tracing::info!(
                        cert = %tls.files.cert.display(),
                        "TLS configuration reloaded"
                    ),
                    Err(e) => {
                        tracing::error!(
                            "TLS reload failed, keeping the previous configuration: {e}"
                        )
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = tls;
    Ok(())
}

impl Files {
    fn load(&self) -> Result<Loaded, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = read_certificates("tls_cert", &self.cert)?;
        let key = read_key(&self.key)?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Certificate)?;
        let (builder, client) = match self.client_auth {
            ClientAuth::None => (builder.with_no_client_auth(), None),
            ClientAuth::TradingView => {
                let roots = match &self.client_ca {
                    Some(path) => ca_bundle(path)?,
                    None => RootCertStore {
                        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                    },
                };
                let chain_verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(TlsError::Verifier)?;
                let handshake = Arc::new(ProofOfKey(chain_verifier.clone()));
                (
                    builder.with_client_cert_verifier(handshake),
                    Some(chain_verifier),
                )
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(TlsError::Certificate)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Loaded {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            client,
        })
    }
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        setting,
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate of a PEM file, in order; at least one.
fn read_certificates(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |source| TlsError::Pem {
        setting,
        path: path.to_path_buf(),
        what: "certificate",
        source,
    };
    let certs = CertificateDer::pem_slice_iter(&read(setting, path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err(pem_error(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read("tls_key", path)?).map_err(|source| TlsError::Pem {
        setting: "tls_key",
        path: path.to_path_buf(),
        what: "private key",
        source,
    })
}

/// `client_ca`: every certificate of the file, each a trust anchor.
fn ca_bundle(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certificates("client_ca", path)? {
        roots.add(cert).map_err(|source| TlsError::ClientCa {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(roots)
}

/// The handshake's client certificate verifier: asks for a certificate,
/// lets the handshake go on without one, sends no authority hints, and
/// checks only the handshake signature (that the peer holds the
/// certificate's key), by the chain verifier's rules. The chain and the
/// subject are checked right after the handshake ([`check_client`]), so
/// that a rejection can be answered in HTTP, with a code.
#[derive(Debug)]
struct ProofOfKey(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for ProofOfKey {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Deferred to `check_client`, which every request waits for.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The client's certificates (end entity first) checked at `now`: the
/// chain by `verifier` (trust anchors, validity, client-authentication
/// use), then TradingView's published subject and e-mail address.
fn check_client(
    verifier: &dyn ClientCertVerifier,
    certs: Option<&[CertificateDer<'static>]>,
    now: UnixTime,
) -> ClientCert {
    let Some((end_entity, intermediates)) = certs.and_then(<[_]>::split_first) else {
        return ClientCert::Missing;
    };
    let checked = verifier
        .verify_client_cert(end_entity, intermediates, now)
        .map_err(chain_problem)
        .and_then(|_| check_tradingview(end_entity));
    match checked {
        Ok(()) => ClientCert::Verified,
        Err(problem) => ClientCert::Rejected(problem),
    }
}

fn chain_problem(e: rustls::Error) -> CertProblem {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                CertProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                CertProblem::NotYetValid
            }
            CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
            _ => CertProblem::Chain,
        },
        _ => CertProblem::Chain,
    }
}

/// The subject and the subject alternative name, as TradingView publishes
/// them.
fn check_tradingview(der: &CertificateDer<'_>) -> Result<(), CertProblem> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| CertProblem::Chain)?;
    let subject = cert.subject();
    for (name, oid, want) in &TRADINGVIEW_SUBJECT {
        let mut values = subject.iter_by_oid(oid).map(|a| a.as_str());
        match (values.next(), values.next()) {
            (Some(Ok(value)), None) if value == *want => {}
            _ => return Err(CertProblem::Subject(name)),
        }
    }
    let names = cert
        .subject_alternative_name()
        .map_err(|_| CertProblem::Chain)?;
    let (local, domain) = TRADINGVIEW_EMAIL;
    let is_tradingview = |email: &str| {
        email
            .rsplit_once('@')
            .is_some_and(|(l, d)| l == local && d.eq_ignore_ascii_case(domain))
    };
    let found = names.is_some_and(|san| {
        san.value
            .general_names
            .iter()
            .any(|n| matches!(n, GeneralName::RFC822Name(e) if is_tradingview(e)))
    });
    if found {
        Ok(())
    } else {
        Err(CertProblem::Email)
    }
}

/// The stream a connection is served on: TCP, or TLS over it.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The connection as served, after the TLS handshake (with `tls`, within
/// `timeout`) and the client certificate's check; `None` if the handshake
/// failed (logged). Takes the configuration current now: a reload does not
/// change it.
pub(super) fn accept(
    tls: Option<&Tls>,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    timeout: Duration,
) -> impl Future<Output = Option<(Box<dyn Io>, ClientCert)>> + Send + 'static {
    let loaded = tls.map(Tls::current);
    async move {
        let Some(loaded) = loaded else {
            return Some((Box::new(stream) as Box<dyn Io>, ClientCert::NotRequested));
        };
        let stream = match tokio::time::timeout(timeout, loaded.acceptor.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "TLS handshake: {e}");
                return None;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return None;
            }
        };
        let client = match &loaded.client {
            None => ClientCert::NotRequested,
            Some(verifier) => {
                let certs = stream.get_ref().1.peer_certificates();
                check_client(verifier.as_ref(), certs, UnixTime::now())
            }
        };
        if let ClientCert::Rejected(problem) = client {
            tracing::info!(%peer, "client certificate rejected: {problem}");
        }
        Some((Box::new(stream) as Box<dyn Io>, client))
    }
}

/// The webhook routes' first check: a connection that was asked for a
/// client certificate and has no verified one is refused (403, counted in
/// the metrics, not journaled: the body is not read). A request that did
/// not come through the accept loop carries no [`ClientCert`] and is
/// refused too.
pub(super) async fn require_client_certificate(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let refusal = match request.extensions().get::<ClientCert>() {
        Some(ClientCert::NotRequested | ClientCert::Verified) => return next.run(request).await,
        Some(ClientCert::Rejected(problem)) => Refusal::ClientCertificateRejected(*problem),
        Some(ClientCert::Missing) | None => Refusal::ClientCertificateRequired,
    };
    state.metrics.request(refusal.status(), refusal.code());
    refusal.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate with `subject` (attribute, value) pairs and e-mail
    /// addresses, self-signed (the subject check does not look at the
    /// chain).
    fn certificate(subject: &[(rcgen::DnType, &str)], emails: &[&str]) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (t, v) in subject {
            params.distinguished_name.push(t.clone(), *v);
        }
        params.subject_alt_names = emails
            .iter()
            .map(|e| rcgen::SanType::Rfc822Name((*e).try_into().unwrap()))
            .collect();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn tradingview() -> Vec<(rcgen::DnType, &'static str)> {
        use rcgen::DnType::*;
        vec![
            (CountryName, "US"),
            (StateOrProvinceName, "Ohio"),
            (LocalityName, "Westerville"),
            (OrganizationName, "TradingView, Inc."),
            (CommonName, "TradingView Webhooks"),
        ]
    }

    #[test]
    fn only_the_published_subject_and_email_pass() {
        let email = "webhook-server@tradingview.com";
        assert_eq!(
            check_tradingview(&certificate(&tradingview(), &[email])),
            Ok(())
        );
        assert_eq!(
            check_tradingview(&certificate(
                &tradingview(),
                &["x@example.com", "webhook-server@TradingView.com"]
            )),
            Ok(())
        );
        for (i, field) in ["C", "ST", "L", "O", "CN"].iter().enumerate() {
            let mut wrong = tradingview();
            wrong[i].1 = "TradingView";
            let got = check_tradingview(&certificate(&wrong, &[email]));
            assert_eq!(got, Err(CertProblem::Subject(field)));
            let mut missing = tradingview();
            missing.remove(i);
            let got = check_tradingview(&certificate(&missing, &[email]));
            assert_eq!(got, Err(CertProblem::Subject(field)));
        }
        for emails in [
            &[][..],
            &["webhook-server@tradingview.com.evil"],
            &["Webhook-Server@tradingview.com"],
            &["other@tradingview.com"],
        ] {
            let got = check_tradingview(&certificate(&tradingview(), emails));
            assert_eq!(got, Err(CertProblem::Email), "{emails:?}");
        }
    }

    #[test]
    fn no_certificate_is_missing() {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        let now = UnixTime::now();
        assert_eq!(
            check_client(verifier.as_ref(), None, now),
            ClientCert::Missing
        );
        assert_eq!(
            check_client(verifier.as_ref(), Some(&[]), now),
            ClientCert::Missing
        );
        // Self-signed: not under Mozilla's roots.
        let cert = certificate(&tradingview(), &["webhook-server@tradingview.com"]);
        assert_eq!(
            check_client(verifier.as_ref(), Some(&[cert]), now),
            ClientCert::Rejected(CertProblem::UnknownIssuer)
        );
    }
}
