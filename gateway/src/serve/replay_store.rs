//! `[replay] store = "redis://…"`: replay keys shared by several replicas.
//!
//! After a gate accepts an event, its replay key is claimed with
//! `SET <prefix>:<replay_key> 1 NX PX <window_ms>`: the first replica to
//! claim it executes the event, every other one answers `replayed`. A store
//! that cannot be reached (or answers with an error, or too slowly) fails
//! closed: the request is refused with 503 `replay_store_unavailable`.

use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// How long one claim (connecting included) may take before the store is
/// deemed unavailable.
const CLAIM_TIMEOUT: Duration = Duration::from_millis(500);

/// The outcome of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This replica holds the key: go on.
    Claimed,
    /// Another request (on any replica) already holds it.
    Replayed,
}

/// Why the store could not answer a claim, or be opened. Never holds a
/// secret: the URL is not repeated.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `[replay] store` is not a URL the Redis client accepts.
    #[error("replay store: {0}")]
    Url(redis::RedisError),
    /// Redis could not be reached or answered with an error.
    #[error("{0}")]
    Redis(redis::RedisError),
    /// No answer within the claim's deadline.
    #[error("timed out after {} ms", CLAIM_TIMEOUT.as_millis())]
    TimedOut,
}

/// A Redis replay store: one lazily (re)connected multiplexed connection.
pub struct ReplayStore {
    client: redis::Client,
    prefix: String,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl ReplayStore {
    /// Parses the URL; connects on first use, so a store down at start-up
    /// refuses requests (503) rather than the start.
    pub fn open(url: &str, prefix: String) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::Url)?;
        Ok(Self {
            client,
            prefix,
            conn: tokio::sync::Mutex::new(None),
        })
    }

    /// Claims `replay_key` for `window_ms`. `Err` says why the store is
    /// unavailable.
    pub async fn claim(&self, replay_key: &str, window_ms: i64) -> Result<Claim, StoreError> {
        let key = format!("{}:{replay_key}", self.prefix);
        let window_ms = window_ms.max(1);
        match tokio::time::timeout(CLAIM_TIMEOUT, self.try_claim(&key, window_ms)).await {
            Ok(Ok(claim)) => Ok(claim),
            Ok(Err(e)) => {
                self.conn.lock().await.take();
                Err(StoreError::Redis(e))
            }
            Err(_) => {
                self.conn.lock().await.take();
                Err(StoreError::TimedOut)
            }
        }
    }

    async fn try_claim(&self, key: &str, window_ms: i64) -> redis::RedisResult<Claim> {
        let mut conn = {
            let mut slot = self.conn.lock().await;
            match slot.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let c = self.client.get_multiplexed_async_connection().await?;
                    *slot = Some(c.clone());
                    c
                }
            }
        };
        // `SET key 1 NX PX window`: OK when set, nil when the key existed.
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(window_ms)
            .query_async(&mut conn)
            .await?;
        Ok(if set.is_some() {
            Claim::Claimed
        } else {
            Claim::Replayed
        })
    }

    /// Another handle to the same store, with its own connection.
    pub fn another(&self) -> ReplayStore {
        ReplayStore {
            client: self.client.clone(),
            prefix: self.prefix.clone(),
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// `PING`, for `/readyz`: `Err` says why the store is unreachable. The
    /// caller bounds the wait.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self.try_ping().await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.conn.lock().await.take();
                Err(StoreError::Redis(e))
            }
        }
    }

    async fn try_ping(&self) -> redis::RedisResult<()> {
        let mut conn = {
            let mut slot = self.conn.lock().await;
            match slot.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let c = self.client.get_multiplexed_async_connection().await?;
                    *slot = Some(c.clone());
                    c
                }
            }
        };
        redis::cmd("PING").query_async::<()>(&mut conn).await
    }
}
