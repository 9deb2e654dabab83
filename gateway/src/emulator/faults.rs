//! Faults on command: each applies to the next `count` requests with its
//! method and path, then is gone. Faults that act before the request is
//! handled ([`Fault::acts_before`]) leave nothing placed; the others act on
//! the answer of a request that was handled (an order placed).

use serde::Deserialize;

/// How a request misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Handled (an order placed), then the connection is closed without an
    /// answer.
    LoseAnswer,
    /// Answered 503 (or `status`) without being handled.
    ErrorBefore,
    /// Handled, then answered 503 (or `status`).
    ErrorAfter,
    /// Answered -1007 "Timeout waiting for response from backend server";
    /// handled only if `placed`.
    Unknown,
    /// Answered 429 with `Retry-After`, not handled.
    RateLimit,
    /// Answered 418 with `Retry-After`, not handled.
    Ban,
    /// Handled at once, answered after `delay_ms`.
    Slow,
}

/// The body of `POST /emulator/faults`: a fault for a method and path,
/// and/or the `query_not_found_ms` setting.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultCommand {
    /// `POST`, `GET`, `DELETE`.
    pub method: Option<String>,
    /// The endpoint's path (`/fapi/v1/order`).
    pub path: Option<String>,
    /// What happens.
    pub fault: Option<FaultKind>,
    /// How many matching requests it applies to (default 1).
    pub count: Option<u32>,
    /// The HTTP status of `error_before` / `error_after` / `unknown`
    /// (default 503).
    pub status: Option<u16>,
    /// `unknown`: whether the order is placed (default false).
    pub placed: Option<bool>,
    /// `rate_limit` / `ban`: the `Retry-After` seconds (default 1 / 60).
    pub retry_after_s: Option<u64>,
    /// `slow`: the delay before answering, ms (default 1000).
    pub delay_ms: Option<u64>,
    /// For this many ms after an order is created, `GET order` answers
    /// -2013 "Order does not exist." (0: off).
    pub query_not_found_ms: Option<u64>,
}

/// One fault, as it applies to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// HTTP status for the error faults.
    pub status: u16,
    /// `unknown`: whether the order is placed.
    pub placed: bool,
    /// `Retry-After`, seconds.
    pub retry_after_s: u64,
    /// `slow`: delay, ms.
    pub delay_ms: u64,
}

impl Fault {
    /// Whether it answers before the request is handled (nothing placed).
    pub fn acts_before(&self) -> bool {
        match self.kind {
            FaultKind::ErrorBefore | FaultKind::RateLimit | FaultKind::Ban => true,
            FaultKind::Unknown => !self.placed,
            FaultKind::LoseAnswer | FaultKind::ErrorAfter | FaultKind::Slow => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    method: String,
    path: String,
    fault: Fault,
    remaining: u32,
}

/// The faults waiting for their requests, and the settings.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Vec<Rule>,
    /// See [`FaultCommand::query_not_found_ms`].
    pub query_not_found_ms: u64,
}

impl Faults {
    /// Adds what `command` asks; an error says what is wrong with it.
    pub fn add(&mut self, command: FaultCommand) -> Result<(), String> {
        if let Some(ms) = command.query_not_found_ms {
            self.query_not_found_ms = ms;
        }
        let Some(kind) = command.fault else {
            return match command.query_not_found_ms {
                Some(_) => Ok(()),
                None => {
                    Err("give `fault` (with `method` and `path`) or `query_not_found_ms`".into())
                }
            };
        };
        let (Some(method), Some(path)) = (command.method, command.path) else {
            return Err("a fault needs `method` and `path`".into());
        };
        let fault = Fault {
            kind,
            status: command.status.unwrap_or(503),
            placed: command.placed.unwrap_or(false),
            retry_after_s: command.retry_after_s.unwrap_or(if kind == FaultKind::Ban {
                60
            } else {
                1
            }),
            delay_ms: command.delay_ms.unwrap_or(1000),
        };
        if !(100..=599).contains(&fault.status) {
            return Err(format!("status {} is not an HTTP status", fault.status));
        }
        self.rules.push(Rule {
            method: method.to_ascii_uppercase(),
            path,
            fault,
            remaining: command.count.unwrap_or(1),
        });
        Ok(())
    }

    /// The first fault for `method` `path`, counted as used.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        let at = self
            .rules
            .iter()
            .position(|r| r.remaining > 0 && r.method == method && r.path == path)?;
        let rule = &mut self.rules[at];
        rule.remaining -= 1;
        let fault = rule.fault;
        if rule.remaining == 0 {
            self.rules.remove(at);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(json: &str) -> FaultCommand {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_fault_applies_to_its_next_n_matching_requests() {
        let mut faults = Faults::default();
        faults
            .add(command(
                r#"{"method":"post","path":"/fapi/v1/order","fault":"rate_limit","count":2}"#,
            ))
            .unwrap();
        assert_eq!(faults.take("GET", "/fapi/v1/order"), None);
        let f = faults.take("POST", "/fapi/v1/order").unwrap();
        assert_eq!((f.kind, f.retry_after_s), (FaultKind::RateLimit, 1));
        assert!(f.acts_before());
        assert!(faults.take("POST", "/fapi/v1/order").is_some());
        assert_eq!(faults.take("POST", "/fapi/v1/order"), None);
    }

    #[test]
    fn settings_and_bad_commands() {
        let mut faults = Faults::default();
        faults
            .add(command(r#"{"query_not_found_ms":300}"#))
            .unwrap();
        assert_eq!(faults.query_not_found_ms, 300);
        assert!(faults.add(command(r#"{"fault":"ban"}"#)).is_err());
        assert!(faults.add(FaultCommand::default()).is_err());
        assert!(serde_json::from_str::<FaultCommand>(r#"{"fault":"explode"}"#).is_err());
        let unknown = r#"{"method":"POST","path":"/x","fault":"unknown","placed":true}"#;
        faults.add(command(unknown)).unwrap();
        assert!(!faults.take("POST", "/x").unwrap().acts_before());
    }
}
