//! Why the gateway refused a request: the gate's own [`Rejection`]s plus
//! the gateway's, one enum with stable codes and HTTP statuses, as
//! `Rejection` is for the gate.

use alertgate_validator::Rejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::tls::CertProblem;

/// A refused webhook request. Every refusal is answered with
/// `{"accepted":false,"code","message","order_id":null}` and its
/// [`Refusal::status`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The gate refused it (signature, body, policy, rate, replay…), or the
    /// gateway did for one of the gate's reasons (`body_too_large` before
    /// reading the body, `rate_limited` per source address).
    #[error("{0}")]
    Gate(Rejection),
    /// `POST /webhook/NAME` for a strategy that has no section.
    #[error("no such strategy")]
    UnknownStrategy,
    /// `client_auth = "tradingview"`: the connection presented no client
    /// certificate (refused before the gate, see [`super::tls`]).
    #[error("a client certificate is required: TradingView's")]
    ClientCertificateRequired,
    /// `client_auth = "tradingview"`: the connection's client certificate
    /// is not TradingView's or its chain does not verify.
    #[error("the client certificate was rejected: {0}")]
    ClientCertificateRejected(CertProblem),
    /// The body did not arrive within `body_timeout_ms`.
    #[error("the body did not arrive in time")]
    BodyTimeout,
    /// The body could not be read (the connection failed mid-body).
    #[error("the body could not be read")]
    BodyUnreadable,
    /// Execution has failed `circuit_failures` times in a row: refused
    /// until the cool-down has passed.
    #[error("execution is failing; retry after the cool-down")]
    CircuitOpen,
    /// The decision could not be written to the journal (and fsynced), so
    /// it did not happen.
    #[error("the decision could not be recorded")]
    JournalUnavailable,
    /// The shared replay store could not confirm the event's claim: fail
    /// closed.
    #[error("the shared replay store is unavailable; retry later")]
    ReplayStoreUnavailable,
}

impl Refusal {
    /// Stable snake_case code (the answer's and the journal's `code`, the
    /// metrics' `code` label).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Gate(r) => r.code(),
            Refusal::UnknownStrategy => "unknown_strategy",
            Refusal::ClientCertificateRequired => "client_certificate_required",
            Refusal::ClientCertificateRejected(_) => "client_certificate_rejected",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::BodyUnreadable => "body_unreadable",
            Refusal::CircuitOpen => "circuit_open",
            Refusal::JournalUnavailable => "journal_unavailable",
            Refusal::ReplayStoreUnavailable => "replay_store_unavailable",
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Gate(r) => r.status(),
            Refusal::UnknownStrategy => 404,
            Refusal::ClientCertificateRequired | Refusal::ClientCertificateRejected(_) => 403,
            Refusal::BodyTimeout => 408,
            Refusal::BodyUnreadable => 400,
            Refusal::CircuitOpen
            | Refusal::JournalUnavailable
            | Refusal::ReplayStoreUnavailable => 503,
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Refusal {
        Refusal::Gate(r)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let body = json!({
            "accepted": false,
            "code": self.code(),
            "message": self.to_string(),
            "order_id": null,
        });
        (status, axum::Json(body)).into_response()
    }
}

/// The answer to an accepted request: `{"accepted":true,"code":"accepted",
/// "message":"accepted","order_id"}`, 200.
pub fn accepted(order_id: &str) -> Response {
    let body = json!({
        "accepted": true,
        "code": "accepted",
        "message": "accepted",
        "order_id": order_id,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_stable() {
        let all = [
            (Refusal::UnknownStrategy, "unknown_strategy", 404),
            (
                Refusal::ClientCertificateRequired,
                "client_certificate_required",
                403,
            ),
            (
                Refusal::ClientCertificateRejected(CertProblem::Expired),
                "client_certificate_rejected",
                403,
            ),
            (Refusal::BodyTimeout, "body_timeout", 408),
            (Refusal::BodyUnreadable, "body_unreadable", 400),
            (Refusal::CircuitOpen, "circuit_open", 503),
            (Refusal::JournalUnavailable, "journal_unavailable", 503),
            (
                Refusal::ReplayStoreUnavailable,
                "replay_store_unavailable",
                503,
            ),
            (
                Refusal::Gate(Rejection::BodyTooLarge { len: 9, limit: 8 }),
                "body_too_large",
                413,
            ),
        ];
        for (refusal, code, status) in all {
            assert_eq!((refusal.code(), refusal.status()), (code, status));
            let response = refusal.into_response();
            assert_eq!(response.status().as_u16(), status);
        }
    }
}
