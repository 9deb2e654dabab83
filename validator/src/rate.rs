//! Token-bucket rate limiting.
//!
//! A bucket holds up to `burst` tokens and gains `per_second` tokens per
//! second; each accepted alert takes one. That allows short bursts (a
//! strategy closing and reopening a position fires several alerts at once)
//! while capping the sustained rate, which bounds the damage of a leaked
//! secret and the load on the executor behind the gate.
//!
//! The level is kept in integer **milli-tokens**: `per_second` tokens per
//! second is exactly `per_second` milli-tokens per millisecond, so refilling
//! is exact integer arithmetic (no floating point, no drift, no rounding) and
//! [`Rejection::RateLimited::retry_after_ms`](Rejection::RateLimited) is the
//! exact wait for the next whole token. All arithmetic saturates, so any
//! `now_ms` is safe.
//!
//! Only a successful take changes the bucket (a refused take or a
//! [`TokenBucket::check`] changes nothing), and the level refills from the
//! latest time it was changed. If the clock goes backwards nothing refills
//! (and nothing panics) until it catches up, tokens already in the bucket
//! stay usable, and `retry_after_ms` includes the time to catch up.
//! Concurrent callers whose clocks are a few milliseconds out of order
//! therefore never earn extra tokens.

use crate::error::Rejection;

/// Milli-tokens per token.
const MILLI: u64 = 1000;

/// Token-bucket settings.
///
/// `per_second == 0` disables the limit (every take succeeds). A `burst` of 0
/// with a non-zero rate is treated as 1: a bucket that can never hold a whole
/// token would refuse everything forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateConfig {
    /// Most tokens the bucket holds (and starts with): the largest burst.
    pub burst: u32,
    /// Tokens added per second: the sustained rate. 0 = unlimited.
    pub per_second: u32,
}

impl RateConfig {
    /// Burst 10, one alert per second sustained.
    ///
    /// TradingView itself stops an alert that fires more than 15 times in 3
    /// minutes, so a legitimate sender stays well below 1/s on average; 10
    /// covers a strategy that fires a handful of alerts on one bar.
    pub const DEFAULT: RateConfig = RateConfig {
        burst: 10,
        per_second: 1,
    };

    /// No limit.
    pub const UNLIMITED: RateConfig = RateConfig {
        burst: 0,
        per_second: 0,
    };

    /// Whether a limit applies (`per_second > 0`).
    pub const fn is_enabled(&self) -> bool {
        self.per_second > 0
    }

    /// Capacity in milli-tokens (burst clamped to at least 1).
    const fn capacity(&self) -> u64 {
        let burst = if self.burst == 0 { 1 } else { self.burst };
        burst as u64 * MILLI
    }
}

/// Same as [`RateConfig::DEFAULT`].
impl Default for RateConfig {
    fn default() -> Self {
        RateConfig::DEFAULT
    }
}

/// A token bucket; the clock is a parameter of every call.
///
/// ```
/// use alertgate_validator::rate::{RateConfig, TokenBucket};
/// use alertgate_validator::Rejection;
/// let mut b = TokenBucket::new(RateConfig { burst: 2, per_second: 4 }, 0);
/// assert!(b.try_take(0).is_ok());
/// assert!(b.try_take(0).is_ok());
/// // Empty: one token takes 250 ms at 4 per second.
/// assert_eq!(b.try_take(0), Err(Rejection::RateLimited { retry_after_ms: 250 }));
/// assert_eq!(b.try_take(100), Err(Rejection::RateLimited { retry_after_ms: 150 }));
/// assert!(b.try_take(250).is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    cfg: RateConfig,
    /// Current level in milli-tokens, at most `cfg.capacity()`.
    level: u64,
    /// Latest time the bucket changed (or was created); the level is as of
    /// this time.
    last_ms: i64,
}

impl TokenBucket {
    /// A full bucket (burst tokens available) as of `now_ms`.
    pub const fn new(cfg: RateConfig, now_ms: i64) -> TokenBucket {
        TokenBucket {
            cfg,
            level: cfg.capacity(),
            last_ms: now_ms,
        }
    }

    /// The configuration.
    pub const fn config(&self) -> RateConfig {
        self.cfg
    }

    /// Level in milli-tokens at `now_ms`, without changing the bucket.
    fn level_at(&self, now_ms: i64) -> u64 {
        if now_ms <= self.last_ms {
            return self.level;
        }
        let elapsed = now_ms.abs_diff(self.last_ms);
        let gained = elapsed.saturating_mul(u64::from(self.cfg.per_second));
        self.level.saturating_add(gained).min(self.cfg.capacity())
    }

    /// Whole tokens available at `now_ms` (`u32::MAX` when unlimited).
    pub fn available(&self, now_ms: i64) -> u32 {
        if !self.cfg.is_enabled() {
            return u32::MAX;
        }
        // level <= burst * 1000, so the quotient fits a u32.
        u32::try_from(self.level_at(now_ms) / MILLI).unwrap_or(u32::MAX)
    }

    /// Whether [`TokenBucket::try_take`] would succeed at `now_ms`, without
    /// taking anything: `Ok`, or the same [`Rejection::RateLimited`] it
    /// would return. Lets a caller run later checks first and spend the
    /// token only once the request is accepted.
    pub fn check(&self, now_ms: i64) -> Result<(), Rejection> {
        self.peek(now_ms).map(|_| ())
    }

    /// [`TokenBucket::check`], returning on success the level at `now_ms`
    /// for [`TokenBucket::spend`]: a caller that checks, runs later checks,
    /// then spends computes the level (64-bit arithmetic, long on an MCU)
    /// once.
    pub(crate) fn peek(&self, now_ms: i64) -> Result<u64, Rejection> {
        if !self.cfg.is_enabled() {
            return Ok(0);
        }
        let level = self.level_at(now_ms);
        if level >= MILLI {
            return Ok(level);
        }
        // The bucket refills from the latest time it has seen: a clock that
        // is behind must first catch up.
        let behind = if now_ms < self.last_ms {
            self.last_ms.abs_diff(now_ms)
        } else {
            0
        };
        // level < MILLI, so the shortfall fits a u32: a 32-bit division
        // (one instruction on a Cortex-M4, where a 64-bit one is a library
        // call).
        let shortfall = (MILLI - level) as u32;
        let refill = u64::from(shortfall.div_ceil(self.cfg.per_second));
        Err(Rejection::RateLimited {
            retry_after_ms: behind.saturating_add(refill),
        })
    }

    /// Takes one token, or says exactly how long until one is available.
    ///
    /// On [`Rejection::RateLimited`], `retry_after_ms` is the least wait
    /// after which a take succeeds (if nothing else takes in between); a
    /// refused take costs nothing. Always succeeds when the limit is disabled.
    pub fn try_take(&mut self, now_ms: i64) -> Result<(), Rejection> {
        let level = self.peek(now_ms)?;
        self.spend(level, now_ms);
        Ok(())
    }

    /// Gives back one token taken at or before `now_ms`, for an acceptance
    /// that did not take effect after all (e.g. a shared replay store found
    /// the event already accepted elsewhere): such a request must cost no
    /// more than a refused one. The level never exceeds the burst.
    ///
    /// ```
    /// use alertgate_validator::rate::{RateConfig, TokenBucket};
    /// let mut b = TokenBucket::new(RateConfig { burst: 1, per_second: 1 }, 0);
    /// assert!(b.try_take(0).is_ok());
    /// assert!(b.try_take(0).is_err());
    /// b.refund(0);
    /// assert!(b.try_take(0).is_ok());
    /// ```
    pub fn refund(&mut self, now_ms: i64) {
        if self.cfg.is_enabled() {
            self.level = self
                .level_at(now_ms)
                .saturating_add(MILLI)
                .min(self.cfg.capacity());
            self.last_ms = self.last_ms.max(now_ms);
        }
    }

    /// Spends one token without checking first: for a caller that has just
    /// seen [`TokenBucket::peek`] succeed at the same `now_ms` (with the
    /// bucket unchanged since), passing the level it returned. So the check
    /// and its rejection are not compiled in twice, nor the level computed
    /// twice.
    pub(crate) fn spend(&mut self, level: u64, now_ms: i64) {
        if self.cfg.is_enabled() {
            self.level = level.saturating_sub(MILLI);
            self.last_ms = self.last_ms.max(now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn retry(r: Result<(), Rejection>) -> u64 {
        match r {
            Err(Rejection::RateLimited { retry_after_ms }) => retry_after_ms,
            other => panic!("expected rate_limited, got {other:?}"),
        }
    }

    #[test]
    fn default_and_disabled() {
        assert_eq!(
            RateConfig::default(),
            RateConfig {
                burst: 10,
                per_second: 1
            }
        );
        let mut b = TokenBucket::new(RateConfig::default(), 0);
        assert_eq!(b.available(0), 10);
        for _ in 0..10 {
            assert!(b.try_take(0).is_ok());
        }
        assert_eq!(retry(b.try_take(0)), 1000);
        assert_eq!(retry(b.try_take(999)), 1);
        assert!(b.try_take(1000).is_ok());
        assert_eq!(b.available(1000), 0);
        assert_eq!(b.available(1_000_000), 10);

        let mut off = TokenBucket::new(RateConfig::UNLIMITED, 0);
        for t in 0..10_000 {
            assert!(off.try_take(t % 7).is_ok());
        }
        assert_eq!(off.available(0), u32::MAX);
        let mut off = TokenBucket::new(
            RateConfig {
                burst: 5,
                per_second: 0,
            },
            0,
        );
        assert!((0..100).all(|_| off.try_take(0).is_ok()));
    }

    #[test]
    fn refund_returns_one_token_up_to_the_burst() {
        let cfg = RateConfig {
            burst: 2,
            per_second: 1,
        };
        let mut b = TokenBucket::new(cfg, 0);
        // Full: a refund cannot raise the level above the burst.
        b.refund(0);
        assert_eq!(b.available(0), 2);
        b.try_take(0).unwrap();
        b.try_take(0).unwrap();
        assert_eq!(b.available(0), 0);
        b.refund(0);
        assert_eq!(b.available(0), 1);
        // Half a second later the refill adds half a token to the refund.
        b.try_take(0).unwrap();
        b.refund(500);
        assert_eq!(b.level, 1500);
        // A refund with a clock that went back keeps the later time.
        b.refund(100);
        assert_eq!((b.level, b.last_ms), (2000, 500));
        // Disabled: nothing to give back.
        let mut off = TokenBucket::new(RateConfig::UNLIMITED, 0);
        off.refund(0);
        assert_eq!(off.available(0), u32::MAX);
    }

    #[test]
    fn zero_burst_means_one() {
        let mut b = TokenBucket::new(
            RateConfig {
                burst: 0,
                per_second: 2,
            },
            0,
        );
        assert!(b.try_take(0).is_ok());
        assert_eq!(retry(b.try_take(0)), 500);
        // No accumulation beyond one token.
        assert!(b.try_take(1_000_000).is_ok());
        assert!(b.try_take(1_000_000).is_err());
    }

    #[test]
    fn clock_going_backwards() {
        let mut b = TokenBucket::new(
            RateConfig {
                burst: 1,
                per_second: 1,
            },
            10_000,
        );
        assert!(b.try_take(10_000).is_ok());
        // An hour back: no refill, no panic; the wait includes catching up.
        assert_eq!(retry(b.try_take(10_000 - 3_600_000)), 3_600_000 + 1000);
        assert_eq!(retry(b.try_take(10_500)), 500);
        assert_eq!(retry(b.try_take(i64::MIN)), (1 << 63) + 10_000 + 1000);
        assert!(b.try_take(11_000).is_ok());
        // Tokens left in the bucket are still usable while the clock is behind.
        let mut b = TokenBucket::new(
            RateConfig {
                burst: 3,
                per_second: 1,
            },
            10_000,
        );
        assert!(b.try_take(5_000).is_ok());
        assert!(b.try_take(5_000).is_ok());
        assert!(b.try_take(5_000).is_ok());
        assert_eq!(retry(b.try_take(5_000)), 6_000);
    }

    #[test]
    fn extremes_do_not_overflow() {
        let big = RateConfig {
            burst: u32::MAX,
            per_second: u32::MAX,
        };
        for start in [i64::MIN, -1, 0, i64::MAX] {
            for cfg in [
                big,
                RateConfig {
                    burst: 1,
                    per_second: 1,
                },
                RateConfig::DEFAULT,
            ] {
                let mut b = TokenBucket::new(cfg, start);
                for now in [i64::MIN, 0, start, i64::MAX, i64::MIN, i64::MAX] {
                    let _ = b.try_take(now);
                    let _ = b.available(now);
                }
            }
        }
        let mut b = TokenBucket::new(big, i64::MIN);
        assert_eq!(b.available(i64::MIN), u32::MAX);
        for _ in 0..1000 {
            b.try_take(i64::MIN).unwrap();
        }
        assert_eq!(b.available(i64::MAX), u32::MAX);
        let mut slow = TokenBucket::new(
            RateConfig {
                burst: 1,
                per_second: 1,
            },
            i64::MIN,
        );
        assert!(slow.try_take(i64::MIN).is_ok());
        assert!(slow.try_take(i64::MAX).is_ok());
    }

    fn config() -> impl Strategy<Value = RateConfig> {
        (0u32..20, 1u32..3000).prop_map(|(burst, per_second)| RateConfig { burst, per_second })
    }

    proptest! {
        #[test]
        fn grants_within_budget(cfg in config(), start in -1_000_000i64..1_000_000, steps in proptest::collection::vec(0i64..1500, 1..120)) {
            let mut b = TokenBucket::new(cfg, start);
            let mut times = Vec::new();
            let mut granted = Vec::new();
            let mut t = start;
            for dt in steps {
                t += dt;
                times.push(t);
                granted.push(b.try_take(t).is_ok());
            }
            let burst = u64::from(cfg.burst.max(1));
            for i in 0..times.len() {
                let mut count = 0u64;
                for j in i..times.len() {
                    count += u64::from(granted[j]);
                    let span = (times[j] - times[i]) as u64;
                    prop_assert!(count <= burst + u64::from(cfg.per_second) * span / 1000,
                        "{} granted in {} ms", count, span);
                }
            }
        }

        #[test]
        fn retry_after_is_exact(cfg in config(), start in -1_000_000i64..1_000_000, steps in proptest::collection::vec(-300i64..300, 1..60)) {
            let mut b = TokenBucket::new(cfg, start);
            let mut t = start;
            for dt in steps {
                t += dt;
                let before = b.clone();
                let peek = b.check(t);
                prop_assert_eq!(&b, &before, "check changes nothing");
                let took = b.try_take(t);
                prop_assert_eq!(&peek, &took);
                match took {
                    Ok(()) => {}
                    Err(Rejection::RateLimited { retry_after_ms }) => {
                        prop_assert!(retry_after_ms >= 1);
                        // A refusal changes nothing.
                        prop_assert_eq!(&b, &before);
                        let r = retry_after_ms as i64;
                        let mut early = b.clone();
                        prop_assert!(early.try_take(t + r - 1).is_err());
                        prop_assert!(early.try_take(t + r).is_ok());
                        let mut on_time = b.clone();
                        prop_assert!(on_time.try_take(t + r).is_ok());
                    }
                    Err(other) => prop_assert!(false, "unexpected {:?}", other),
                }
            }
        }

        #[test]
        fn matches_exact_model(cfg in config(), times in proptest::collection::vec(-5_000i64..50_000, 1..80)) {
            // Model: level in milli-tokens as of `last`, changed only by a take.
            let (ps, cap) = (u64::from(cfg.per_second), u64::from(cfg.burst.max(1)) * 1000);
            let (mut level, mut last) = (cap, times[0]);
            let mut b = TokenBucket::new(cfg, times[0]);
            for &t in &times {
                let now_level = if t > last { (level + (t - last) as u64 * ps).min(cap) } else { level };
                let want = if now_level >= 1000 {
                    level = now_level - 1000;
                    last = last.max(t);
                    Ok(())
                } else {
                    let behind = if t < last { (last - t) as u64 } else { 0 };
                    Err(Rejection::RateLimited { retry_after_ms: behind + (1000 - now_level).div_ceil(ps) })
                };
                prop_assert_eq!(b.check(t), want.clone());
                prop_assert_eq!(b.try_take(t), want);
            }
        }
    }
}
