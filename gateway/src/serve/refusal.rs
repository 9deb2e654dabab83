//! Why the gateway refused a request: the gate's own [`Rejection`]s plus
//! the gateway's, one enum with stable codes and HTTP statuses, as
//! `Rejection` is for the gate.

use alertgate_validator::Rejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::accepted::Original;
use super::tls::CertProblem;
use crate::venue::VenueError;

/// A refused webhook request. Every refusal is answered with
/// `{"accepted":false,"code","message","order_id":null}` and its
/// [`Refusal::status`]; a replay of an event whose order is known names it
/// (`"order_id"`, and `"accepted_ms"` when known).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The gate refused it (signature, body, policy, rate, replay…), or the
    /// gateway did for one of the gate's reasons (`body_too_large` before
    /// reading the body, `rate_limited` per source address).
    #[error("{0}")]
    Gate(Rejection),
    /// An event already accepted, by this gate or (through the shared
    /// store) by another replica: the gate's `replayed`, with the order the
    /// event became when it is known.
    #[error("{rejection}")]
    Replayed {
        /// The gate's [`Rejection::Replayed`].
        rejection: Rejection,
        /// The order the first acceptance became (boxed: it is rare, and
        /// keeps every other refusal small).
        original: Option<Box<Original>>,
    },
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
    /// Load shedding: the request waited longer than `[serve] max_wait_ms`
    /// before its decision could start, so it was not decided (nothing
    /// journaled): retry after `Retry-After` seconds.
    #[error("the gateway is overloaded; retry later")]
    Overloaded,
    /// A duplicate of an event whose first acceptance waits for its shared
    /// claim or its sizing, either of which may still refuse it: not
    /// decided; retry after `Retry-After` seconds, when
    /// the first has settled into an acceptance (then `replayed`) or a
    /// refusal (then decided afresh).
    #[error("this event's first request is still being decided; retry later")]
    DecisionPending,
    /// The strategy's venue would refuse the order (its trading rules, a
    /// symbol it does not list, a bracket it cannot place yet): refused
    /// before anything is sent, with the venue layer's stable `venue_*`
    /// code (422).
    #[error("{0}")]
    Venue(VenueError),
}

impl Refusal {
    /// Stable snake_case code (the answer's and the journal's `code`, the
    /// metrics' `code` label).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Gate(r) | Refusal::Replayed { rejection: r, .. } => r.code(),
            Refusal::UnknownStrategy => "unknown_strategy",
            Refusal::ClientCertificateRequired => "client_certificate_required",
            Refusal::ClientCertificateRejected(_) => "client_certificate_rejected",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::BodyUnreadable => "body_unreadable",
            Refusal::CircuitOpen => "circuit_open",
            Refusal::JournalUnavailable => "journal_unavailable",
            Refusal::ReplayStoreUnavailable => "replay_store_unavailable",
            Refusal::Overloaded => "overloaded",
            Refusal::DecisionPending => "decision_pending",
            Refusal::Venue(e) => e.code(),
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Gate(r) | Refusal::Replayed { rejection: r, .. } => r.status(),
            Refusal::UnknownStrategy => 404,
            Refusal::ClientCertificateRequired | Refusal::ClientCertificateRejected(_) => 403,
            Refusal::BodyTimeout => 408,
            Refusal::BodyUnreadable => 400,
            Refusal::CircuitOpen
            | Refusal::JournalUnavailable
            | Refusal::ReplayStoreUnavailable
            | Refusal::Overloaded
            | Refusal::DecisionPending => 503,
            Refusal::Venue(_) => 422,
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
        let mut body = json!({
            "accepted": false,
            "code": self.code(),
            "message": self.to_string(),
            "order_id": null,
        });
        if let Refusal::Replayed {
            original: Some(original),
            ..
        } = &self
        {
            body["order_id"] = json!(original.order_id);
            if let Some(at) = original.accepted_ms {
                body["accepted_ms"] = json!(at);
            }
        }
        if matches!(self, Refusal::Overloaded | Refusal::DecisionPending) {
            let retry = [("retry-after", OVERLOADED_RETRY_AFTER_S)];
            return (status, retry, axum::Json(body)).into_response();
        }
        (status, axum::Json(body)).into_response()
    }
}

/// `Retry-After` of a request shed as `overloaded`, or of a duplicate
/// whose first request is still being decided, seconds.
const OVERLOADED_RETRY_AFTER_S: &str = "1";

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
            (Refusal::DecisionPending, "decision_pending", 503),
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
            (Refusal::Overloaded, "overloaded", 503),
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

    #[test]
    fn an_overloaded_refusal_says_when_to_retry() {
        let response = Refusal::Overloaded.into_response();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        let other = Refusal::CircuitOpen.into_response();
        assert!(other.headers().get("retry-after").is_none());
    }

    async fn answer(refusal: Refusal) -> (u16, serde_json::Value) {
        let response = refusal.into_response();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_replay_names_its_original_order() {
        let rejection = Rejection::Replayed {
            event_id: alertgate_validator::error::snippet(b"e-1"),
        };
        let known = Refusal::Replayed {
            rejection: rejection.clone(),
            original: Some(Box::new(Original {
                pending: false,
                order_id: "ag-1".into(),
                accepted_ms: Some(5),
            })),
        };
        let (status, v) = answer(known).await;
        assert_eq!(status, 409);
        assert_eq!(
            (
                v["code"].as_str(),
                v["order_id"].as_str(),
                v["accepted_ms"].as_i64()
            ),
            (Some("replayed"), Some("ag-1"), Some(5))
        );
        let unknown = Refusal::Replayed {
            rejection,
            original: None,
        };
        let (_, v) = answer(unknown).await;
        assert!(
            v["order_id"].is_null() && v.get("accepted_ms").is_none(),
            "{v}"
        );
    }
}
