//! `[replay] store = "redis://…"` (or `rediss://…`: TLS with rustls,
//! verified against the system's trust store):
//! replay keys shared by several replicas.
//!
//! After a gate accepts an event, its replay key is claimed with
//! `SET <prefix>:<replay_key> <token> NX PX <window_ms>`, where `<token>` is
//! unique to this attempt: `<accepted_ms>:<128 random bits in hex>`. The
//! first replica to claim it executes the event; every other one answers
//! `replayed` and can say when the holder accepted it (the token's
//! `accepted_ms`, read back in the same round trip). A store that cannot be
//! reached, answers with an error or answers too slowly fails closed: the
//! request is refused with 503 `replay_store_unavailable` within
//! [`CLAIM_BUDGET`], which leaves the rest of the 500 ms answer deadline to
//! the journal.
//!
//! # A claim whose outcome is unknown
//!
//! A `SET` that timed out may still run: a paused or slow Redis reads it
//! from its socket later (a connection is never closed while it has
//! requests in flight). Had it stayed, the key would be claimed by a
//! request that was refused and executed nothing, and the sender's every
//! retry would be answered `replayed`: a lost event. The 503 is already
//! sent, so proceeding is no longer possible; the claim is *released*
//! instead, in the background, with a compare-and-delete script (`DEL` only
//! if the value is still this attempt's token, so another attempt's claim
//! is never touched). The release is first sent on the connection that
//! carried the `SET`: Redis runs one connection's commands in order, so any
//! answer to it (deleted, not ours, even an error) comes after the `SET`
//! ran or was dropped with the connection, and is final; it is waited for
//! (logged), not sent again. Only when that connection has failed (closed:
//! nothing more sent on it will run) does it go on with fresh connections,
//! retried with backoff (logged). Either way it stops once answered or
//! once the claim's window has passed: by then the claim has expired, or
//! the event is too old for any gate to accept again. The request's key is
//! also withdrawn from the local guard (by the caller), so a retry after
//! Redis is back is decided afresh, claimed once and executed once.
//!
//! # Persistence
//!
//! Claims must survive a Redis restart, or every event accepted before it
//! could be accepted again by another replica. Each new connection (and the
//! start, when Redis answers then) reads `CONFIG GET appendonly`, `save` and
//! `appendfsync`: with neither the append-only file nor snapshots, or when
//! `CONFIG` is refused, `[serve] store_persistence = "require"` (the
//! default) refuses the store — the start, or the connection (503 until a
//! connection passes) — and `"warn"` logs an error and goes on. A store
//! down at start does not stop the start: requests are refused (503) until
//! it answers and passes the check.
//!
//! # Secrets
//!
//! The password comes from the environment (`[serve] store_password_env`);
//! a URL holding one is refused at load. Nothing here repeats the URL or the
//! password: not the errors, not `Debug`, not the logs.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::IntoConnectionInfo;

use super::settings::{ServeSection, StorePersistence};

/// How long one claim may take, connecting (and checking a new
/// connection's persistence) included, before the store is deemed
/// unavailable. The answer is promised within 500 ms: the other 100 ms are
/// the journal's (its fsync) and the request's own path.
pub const CLAIM_BUDGET: Duration = Duration::from_millis(400);

/// How long the check at start waits for Redis (a Redis that does not
/// answer by then is checked on first use instead).
const START_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// One release attempt's deadline (on the claim's own connection: how
/// often the wait is logged); then the delay before the next attempt on a
/// new connection, doubling up to [`RELEASE_MAX_BACKOFF`].
const RELEASE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
const RELEASE_FIRST_BACKOFF: Duration = Duration::from_millis(100);
const RELEASE_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Compare-and-delete: removes `KEYS[1]` only while it holds `ARGV[1]`
/// (this attempt's token). 1 when deleted, 0 when absent or another's.
const RELEASE_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                              return redis.call('DEL', KEYS[1]) else return 0 end";

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This replica holds the key: go on (or, if the event cannot be
    /// recorded after all, [`ReplayStore::release`] it).
    Claimed(Held),
    /// Another request (on any replica) already holds it.
    Replayed {
        /// When the holder accepted the event (Unix ms, its clock), read
        /// from its token; `None` for a claim written without one (an older
        /// gateway's `1`) or one that expired in between.
        accepted_ms: Option<i64>,
    },
}

/// A claim this replica holds: the key and this attempt's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    key: String,
    token: String,
    window_ms: i64,
}

/// What Redis keeps of its claims across a restart, from `CONFIG GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durability {
    /// `appendonly yes`: every write is logged; `appendfsync` says how much
    /// a crash of the machine can lose (`always`: nothing, `everysec`: up to
    /// a second, `no`: what the OS had not flushed, some 30 s).
    AppendOnly {
        /// `appendfsync`.
        fsync: String,
    },
    /// `appendonly no` with `save` points: snapshots only. A clean restart
    /// keeps the claims (Redis saves on shutdown); a crash loses those since
    /// the last snapshot.
    Snapshots {
        /// `save`, as Redis reports it.
        save: String,
    },
    /// `appendonly no` and `save ""`: the claims live in memory only.
    Memory,
    /// The settings could not be read (`CONFIG` renamed, refused by an
    /// ACL, or unanswered).
    Unknown {
        /// Why (Redis's error; never a secret).
        reason: String,
    },
}

impl Durability {
    /// From the values of `CONFIG GET appendonly`, `save` and `appendfsync`
    /// (`None`: not reported).
    pub fn of(appendonly: Option<&str>, save: Option<&str>, fsync: Option<&str>) -> Durability {
        match (appendonly, save) {
            (Some(a), _) if a.eq_ignore_ascii_case("yes") => Durability::AppendOnly {
                fsync: fsync.unwrap_or("everysec").to_string(),
            },
            (Some(_), Some(save)) if !save.trim().is_empty() => Durability::Snapshots {
                save: save.to_string(),
            },
            (Some(_), Some(_)) => Durability::Memory,
            _ => Durability::Unknown {
                reason: "CONFIG GET reported no appendonly or save".into(),
            },
        }
    }

    /// Whether claims survive a restart of Redis (at least a clean one).
    fn survives_restart(&self) -> bool {
        matches!(
            self,
            Durability::AppendOnly { .. } | Durability::Snapshots { .. }
        )
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Durability::AppendOnly { fsync } => {
                write!(f, "appendonly yes, appendfsync {fsync}")
            }
            Durability::Snapshots { save } => write!(f, "appendonly no, save {save:?}"),
            Durability::Memory => write!(
                f,
                "Redis keeps the replay claims in memory only (appendonly no, save \"\"): \
                 after a Redis restart, every event already executed could be accepted \
                 and executed again; run Redis with appendonly yes (see docs/gateway.md), \
                 or set serve.store_persistence = \"warn\" to accept that"
            ),
            Durability::Unknown { reason } => write!(
                f,
                "cannot read Redis's persistence settings ({reason}), so the replay \
                 claims may not survive a Redis restart; allow CONFIG GET, or, for a Redis \
                 known to run with appendonly yes, set serve.store_persistence = \"warn\""
            ),
        }
    }
}

/// How the gateway opens its stores: `[serve] store_persistence` and
/// `store_password_env`.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// What a store that would lose its claims on a restart does.
    pub persistence: StorePersistence,
    /// The variable holding the password (its name, never its value).
    pub password_env: Option<String>,
}

impl StoreOptions {
    /// The options of `[serve]`.
    pub fn of(serve: &ServeSection) -> StoreOptions {
        StoreOptions {
            persistence: serve.store_persistence,
            password_env: serve.store_password_env.clone(),
        }
    }
}

/// Why the store could not answer a claim, or be opened. Never holds a
/// secret: the URL and the password are not repeated.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `[replay] store` is not a URL the Redis client accepts.
    #[error("replay store: {0}")]
    Url(redis::RedisError),
    /// `[serve] store_password_env` names a variable that is unset or
    /// empty.
    #[error(
        "replay store: serve.store_password_env names {var}, which is unset or empty \
         (it must hold the Redis password)"
    )]
    PasswordEnv {
        /// The variable's name.
        var: String,
    },
    /// The store's claims would not survive a Redis restart, or that could
    /// not be checked, and `[serve] store_persistence` is `require`.
    #[error("replay store: {0}")]
    NotDurable(Durability),
    /// Redis refused the password (or the user) at start.
    #[error("replay store: authentication refused: {0}")]
    Auth(redis::RedisError),
    /// No random bytes for a claim's token.
    #[error("no random bytes for a claim token: {0}")]
    Entropy(getrandom::Error),
    /// Redis could not be reached or answered with an error.
    #[error("{0}")]
    Redis(redis::RedisError),
    /// No answer within the claim's deadline.
    #[error("timed out after {} ms", CLAIM_BUDGET.as_millis())]
    TimedOut,
}

/// A Redis replay store: one lazily (re)connected multiplexed connection.
pub struct ReplayStore {
    client: redis::Client,
    prefix: String,
    persistence: StorePersistence,
    /// The connection in use and its generation (to drop only the one that
    /// failed, not a newer one). A plain mutex, never held across an
    /// `await`: a claim never waits on another's connect.
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    generations: AtomicU64,
}

/// Without the client: its connection details hold the password.
impl fmt::Debug for ReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayStore")
            .field("prefix", &self.prefix)
            .field("persistence", &self.persistence)
            .finish_non_exhaustive()
    }
}

impl ReplayStore {
    /// Parses the URL and takes the password from the environment;
    /// connects on first use (see [`ReplayStore::check_at_start`]).
    pub fn open(url: &str, prefix: String, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut info = url.into_connection_info().map_err(StoreError::Url)?;
        if let Some(var) = &options.password_env {
            let password = std::env::var(var)
                .ok()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| StoreError::PasswordEnv { var: var.clone() })?;
            info.redis.password = Some(password);
        }
        let client = redis::Client::open(info).map_err(StoreError::Url)?;
        Ok(Self {
            client,
            prefix,
            persistence: options.persistence,
            conn: Mutex::new(None),
            generations: AtomicU64::new(0),
        })
    }

    /// At start, outside the server's runtime: when Redis answers within
    /// a few seconds, its persistence is checked (`Err` refuses the start
    /// under `require`, as does a refused password); when it does not, the
    /// start goes on with a warning and the check happens on first connect
    /// (requests fail closed until then).
    pub fn check_at_start(&self) -> Result<(), StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Redis(e.into()))?;
        runtime.block_on(async {
            let connected = tokio::time::timeout(
                START_CHECK_TIMEOUT,
                self.client.get_multiplexed_async_connection(),
            )
            .await;
            let why = match connected {
                Ok(Ok(mut conn)) => {
                    let durability =
                        tokio::time::timeout(START_CHECK_TIMEOUT, durability(&mut conn))
                            .await
                            .unwrap_or_else(|_| Durability::Unknown {
                                reason: "CONFIG GET unanswered in 3 s".into(),
                            });
                    return self.judge(durability);
                }
                // A wrong password is the configuration's fault, not the
                // network's: waiting will not fix it.
                Ok(Err(e)) if e.kind() == redis::ErrorKind::AuthenticationFailed => {
                    return Err(StoreError::Auth(e));
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer in 3 s".to_string(),
            };
            tracing::warn!(
                store = %self.prefix,
                "replay store unreachable at start ({why}); requests are refused with 503 \
                 until it answers and its persistence is checked"
            );
            Ok(())
        })
    }

    /// Whether a connection whose Redis reports `durability` may be used.
    fn judge(&self, durability: Durability) -> Result<(), StoreError> {
        match (&durability, self.persistence) {
            (Durability::AppendOnly { fsync }, _) if fsync == "no" => {
                tracing::warn!(
                    store = %self.prefix,
                    "replay store: appendonly yes but appendfsync no: a crash of the machine \
                     can lose the last seconds of claims; prefer appendfsync everysec"
                );
            }
            (Durability::Snapshots { save }, _) => {
                tracing::warn!(
                    store = %self.prefix,
                    "replay store: snapshots only (appendonly no, save {save:?}): a Redis crash \
                     loses the claims since the last snapshot; prefer appendonly yes"
                );
            }
            (d, _) if d.survives_restart() => {
                tracing::debug!(store = %self.prefix, "replay store persistence: {d}");
            }
            (_, StorePersistence::Require) => return Err(StoreError::NotDurable(durability)),
            (d, StorePersistence::Warn) => {
                tracing::error!(
                    store = %self.prefix,
                    "replay store: {d} (going on: serve.store_persistence = \"warn\")"
                );
            }
        }
        Ok(())
    }

    /// Claims `replay_key` for `window_ms` with a token stamped
    /// `accepted_ms`. `Err` says why the store is unavailable; a claim
    /// that may have been written is then released in the background (see
    /// the module's docs).
    pub async fn claim(
        &self,
        replay_key: &str,
        window_ms: i64,
        accepted_ms: i64,
    ) -> Result<Claim, StoreError> {
        let key = format!("{}:{replay_key}", self.prefix);
        let window_ms = window_ms.max(1);
        let token = claim_token(accepted_ms)?;
        let mut sent = None;
        let claimed = tokio::time::timeout(
            CLAIM_BUDGET,
            self.try_claim(&key, &token, window_ms, &mut sent),
        )
        .await;
        let error = match claimed {
            Ok(Ok(claim)) => return Ok(claim),
            Ok(Err(e)) => e,
            Err(_) => StoreError::TimedOut,
        };
        if let Some((generation, conn)) = sent {
            self.drop_connection(generation);
            let client = self.client.clone();
            tokio::spawn(release(client, Some(conn), key, token, window_ms));
        }
        Err(error)
    }

    /// Gives up a claim this replica won but could not act on (its journal
    /// line could not be written, so the request was refused), so that the
    /// sender's retry can claim the event again: deleted if it still holds
    /// this attempt's token, in the background, retried as a late claim's
    /// release is.
    pub fn release(&self, held: Held) {
        let conn = self.slot().as_ref().map(|(_, c)| c.clone());
        let client = self.client.clone();
        tokio::spawn(release(client, conn, held.key, held.token, held.window_ms));
    }

    /// `SET NX` then `GET` in one round trip; `sent` is the connection the
    /// claim was handed to, as soon as it is.
    async fn try_claim(
        &self,
        key: &str,
        token: &str,
        window_ms: i64,
        sent: &mut Option<(u64, MultiplexedConnection)>,
    ) -> Result<Claim, StoreError> {
        let (generation, mut conn) = self.connection().await?;
        *sent = Some((generation, conn.clone()));
        // `SET` answers OK when it set the key, nil when it existed; `GET`
        // then reads the holder's token.
        let (set, holder): (Option<String>, Option<String>) = redis::pipe()
            .cmd("SET")
            .arg(key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(window_ms)
            .cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::Redis)?;
        Ok(if set.is_some() {
            Claim::Claimed(Held {
                key: key.to_string(),
                token: token.to_string(),
                window_ms,
            })
        } else {
            Claim::Replayed {
                accepted_ms: holder.as_deref().and_then(token_accepted_ms),
            }
        })
    }

    /// The connection in use, or a new one once its Redis passed the
    /// persistence check.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), StoreError> {
        if let Some(current) = self.slot().as_ref() {
            return Ok(current.clone());
        }
        let mut conn = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(StoreError::Redis)?;
        self.judge(durability(&mut conn).await)?;
        let mut slot = self.slot();
        // Another claim connected meanwhile: share its connection.
        if let Some(current) = slot.as_ref() {
            return Ok(current.clone());
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *slot = Some((generation, conn.clone()));
        Ok((generation, conn))
    }

    /// Forgets the connection of `generation` (a newer one stays), so the
    /// next claim reconnects. Requests still in flight keep it open.
    fn drop_connection(&self, generation: u64) {
        let mut slot = self.slot();
        if slot.as_ref().is_some_and(|(g, _)| *g == generation) {
            slot.take();
        }
    }

    /// Another handle to the same store, with its own connection (for
    /// `/readyz`, so a probe never waits behind claims or delays them).
    pub fn another(&self) -> ReplayStore {
        ReplayStore {
            client: self.client.clone(),
            prefix: self.prefix.clone(),
            persistence: self.persistence,
            conn: Mutex::new(None),
            generations: AtomicU64::new(0),
        }
    }

    /// `PING`, for `/readyz` (on a connection that passed the persistence
    /// check): `Err` says why the store is unreachable. The caller bounds
    /// the wait.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let (generation, mut conn) = self.connection().await?;
        let pinged = redis::cmd("PING").query_async::<()>(&mut conn).await;
        pinged.map_err(|e| {
            self.drop_connection(generation);
            StoreError::Redis(e)
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(u64, MultiplexedConnection)>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `<accepted_ms>:<32 hex digits>`: unique to one attempt, and tells
/// another replica when the event was accepted.
fn claim_token(accepted_ms: i64) -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(StoreError::Entropy)?;
    let mut token = format!("{accepted_ms}:");
    for b in bytes {
        let _ = write!(token, "{b:02x}");
    }
    Ok(token)
}

/// The acceptance time in a claim's token; `None` for anything else.
fn token_accepted_ms(token: &str) -> Option<i64> {
    token.split_once(':')?.0.parse().ok()
}

/// `CONFIG GET appendonly`, `save` and `appendfsync` on `conn`.
async fn durability(conn: &mut MultiplexedConnection) -> Durability {
    let got: redis::RedisResult<(Vec<String>, Vec<String>, Vec<String>)> = redis::pipe()
        .cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .cmd("CONFIG")
        .arg("GET")
        .arg("appendfsync")
        .query_async(conn)
        .await;
    match got {
        // Each answer is `[name, value]`.
        Ok((appendonly, save, fsync)) => Durability::of(
            appendonly.get(1).map(String::as_str),
            save.get(1).map(String::as_str),
            fsync.get(1).map(String::as_str),
        ),
        Err(e) => Durability::Unknown {
            reason: format!("CONFIG GET: {e}"),
        },
    }
}

/// Runs [`RELEASE_SCRIPT`]: whether this attempt's claim was deleted.
async fn compare_and_delete(
    conn: &mut MultiplexedConnection,
    key: &str,
    token: &str,
) -> redis::RedisResult<bool> {
    let deleted: i64 = redis::cmd("EVAL")
        .arg(RELEASE_SCRIPT)
        .arg(1)
        .arg(key)
        .arg(token)
        .query_async(conn)
        .await?;
    Ok(deleted == 1)
}

/// Releases the claim `token` of `key` whose `SET` went out on `conn` and
/// got no answer in time, until Redis answers or `window_ms` has passed
/// (see the module's docs).
async fn release(
    client: redis::Client,
    conn: Option<MultiplexedConnection>,
    key: String,
    token: String,
    window_ms: i64,
) {
    let give_up = Instant::now() + Duration::from_millis(window_ms.unsigned_abs());
    let left = || give_up.saturating_duration_since(Instant::now());
    let Some(mut conn) = conn else {
        return release_anywhere(&client, &key, &token, left).await;
    };
    // The `SET`'s own connection first: one request, sent right behind the
    // `SET` and waited for (a paused Redis answers both once resumed).
    let on_same = compare_and_delete(&mut conn, &key, &token);
    tokio::pin!(on_same);
    let mut waited = 0u32;
    let first = loop {
        match tokio::time::timeout(RELEASE_ATTEMPT_TIMEOUT.min(left()), &mut on_same).await {
            Ok(answer) => break answer,
            Err(_) if left().is_zero() => {
                tracing::error!(
                    %key,
                    "gave up releasing a claim after its window: it has expired, or the \
                     event is too old to be accepted again"
                );
                return;
            }
            Err(_) => {
                waited += 1;
                if waited.is_power_of_two() {
                    tracing::warn!(%key, "releasing a claim: no answer for {waited} s; waiting");
                }
            }
        }
    };
    let e = match first {
        Ok(deleted) => return released(&key, deleted, 1),
        Err(e) => e,
    };
    // Answered with an error (so the `SET` has run), or the connection is
    // closed (so it never will): from now on any connection will do.
    tracing::warn!(%key, "releasing a claim: {e}; retrying on a new connection");
    release_anywhere(&client, &key, &token, left).await
}

/// [`RELEASE_SCRIPT`] on fresh connections, with backoff, until Redis
/// answers or `left()` is zero.
async fn release_anywhere(
    client: &redis::Client,
    key: &str,
    token: &str,
    left: impl Fn() -> Duration,
) {
    let key = key.to_string();
    let mut backoff = RELEASE_FIRST_BACKOFF;
    for attempt in 2u32.. {
        tokio::time::sleep(backoff.min(left())).await;
        backoff = (backoff * 2).min(RELEASE_MAX_BACKOFF);
        let outcome = tokio::time::timeout(RELEASE_ATTEMPT_TIMEOUT, async {
            let mut fresh = client.get_multiplexed_async_connection().await?;
            compare_and_delete(&mut fresh, &key, token).await
        })
        .await;
        match outcome {
            Ok(Ok(deleted)) => return released(&key, deleted, attempt),
            Ok(Err(e)) => tracing::warn!(%key, attempt, "releasing a claim: {e}; retrying"),
            Err(_) => {
                tracing::warn!(%key, attempt, "releasing a claim: no answer in 1 s; retrying")
            }
        }
        if left().is_zero() {
            tracing::error!(
                %key, attempt,
                "gave up releasing a claim after its window: it has expired, or the event \
                 is too old to be accepted again"
            );
            return;
        }
    }
}

/// Logs a release's outcome.
fn released(key: &str, deleted: bool, attempt: u32) {
    if deleted {
        tracing::warn!(
            %key, attempt,
            "released the claim of a refused request (replay_store_unavailable or journal_unavailable)"
        );
    } else {
        tracing::info!(%key, attempt, "a refused request held no claim: nothing to release");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durability_is_read_from_config_get() {
        let d = Durability::of(Some("yes"), Some(""), Some("everysec"));
        assert_eq!(
            d,
            Durability::AppendOnly {
                fsync: "everysec".into()
            }
        );
        assert!(d.survives_restart());
        let d = Durability::of(Some("no"), Some("3600 1 300 100"), Some("everysec"));
        assert!(matches!(d, Durability::Snapshots { .. }) && d.survives_restart());
        let d = Durability::of(Some("no"), Some(""), None);
        assert_eq!(d, Durability::Memory);
        assert!(!d.survives_restart());
        assert!(d.to_string().contains("serve.store_persistence"), "{d}");
        let d = Durability::of(None, None, None);
        assert!(matches!(d, Durability::Unknown { .. }) && !d.survives_restart());
    }

    #[test]
    fn tokens_are_unique_and_carry_the_acceptance_time() {
        let a = claim_token(1_700_000_000_123).unwrap();
        let b = claim_token(1_700_000_000_123).unwrap();
        assert_ne!(a, b);
        let (ms, hex) = a.split_once(':').unwrap();
        assert_eq!(ms, "1700000000123");
        assert!(hex.len() == 32 && hex.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(token_accepted_ms(&a), Some(1_700_000_000_123));
        // An older gateway's claim.
        assert_eq!(token_accepted_ms("1"), None);
    }

    #[test]
    fn the_password_comes_from_the_environment_and_is_never_shown() {
        const VAR: &str = "ALERTGATE_UNIT_REDIS_PASSWORD";
        let options = StoreOptions {
            persistence: StorePersistence::Require,
            password_env: Some(VAR.into()),
        };
        let err = ReplayStore::open("redis://127.0.0.1:1", "p".into(), &options).unwrap_err();
        assert!(err.to_string().contains(VAR), "{err}");
        std::env::set_var(VAR, "pw-s3cr3t-unit");
        let store = ReplayStore::open("redis://127.0.0.1:1", "p".into(), &options).unwrap();
        assert_eq!(
            store.client.get_connection_info().redis.password.as_deref(),
            Some("pw-s3cr3t-unit")
        );
        assert!(!format!("{store:?}").contains("pw-s3cr3t-unit"));
    }

    /// `rediss://` is compiled in (rustls), and a TLS connection fails as
    /// an error, not a panic (a crypto provider is available).
    #[test]
    fn rediss_urls_connect_with_rustls() {
        let options = StoreOptions::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // A server that accepts and hangs up: the TLS handshake fails.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    drop(socket);
                }
            });
            let url = format!("rediss://127.0.0.1:{port}/0");
            let store = ReplayStore::open(&url, "p".into(), &options).unwrap();
            let err = store.claim("k", 1000, 1).await.unwrap_err();
            assert!(matches!(err, StoreError::Redis(_)), "{err}");
        });
        // A `redis://` or `rediss://` URL only.
        assert!(ReplayStore::open("memcached://x", "p".into(), &options).is_err());
    }
}
