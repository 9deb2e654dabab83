//! Latency models: how long a message takes on each stage of the path.
//!
//! Three stages are modelled, each with its own [`StageLatency`]:
//! `delivery` (sender → gateway: the gate checks the alert at
//! `received_at + delivery`), `order` (gateway → exchange) and `response`
//! (exchange → gateway, reported only: the replayed strategy is recorded, so
//! nothing waits on it).
//!
//! A stage is a [`LatencyModel`] (constant, uniform, normal truncated at 0,
//! lognormal, or empirical samples from a file) plus optional spike
//! episodes: a Poisson process starting, with a given probability per second,
//! episodes of a fixed duration during which every message takes `extra_ms`
//! more.
//!
//! Everything is seeded: each stage draws from its own ChaCha8 stream
//! (`seed`, stream = stage), and its spikes from another, so changing one
//! stage's model leaves the other stages' draws unchanged. The virtual clock
//! ticks in milliseconds, the gate's resolution: draws are rounded to the
//! nearest millisecond.
//!
//! In `alertgate.toml`, each stage is either a number of milliseconds
//! (constant) or a table:
//!
//! ```toml
//! [simulation.latency]
//! delivery_ms = { model = "lognormal", median_ms = 120, sigma = 0.6,
//!                 spikes = { per_second = 0.0005, duration_ms = 30000, extra_ms = 2000 } }
//! order_ms = 25
//! response_ms = { model = "uniform", min_ms = 5, max_ms = 40 }
//! ```

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, Exp, LogNormal, Normal, Uniform};
use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::input::InputError;

/// The random source of every model: ChaCha8, whose output is specified, so
/// a seed gives the same draws on every platform.
pub type SimRng = ChaCha8Rng;

/// One latency distribution.
pub trait LatencyModel: Send {
    /// One draw, in milliseconds, never negative.
    fn sample_ms(&self, rng: &mut SimRng) -> f64;
}

/// Always the same latency.
#[derive(Debug, Clone, Copy)]
pub struct ConstantLatency(pub f64);

impl LatencyModel for ConstantLatency {
    fn sample_ms(&self, _: &mut SimRng) -> f64 {
        self.0
    }
}

/// Uniform on `[min, max]`.
#[derive(Debug, Clone, Copy)]
pub struct UniformLatency(Uniform<f64>);

impl LatencyModel for UniformLatency {
    fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        self.0.sample(rng)
    }
}

/// Normal, truncated at 0: negative draws are redrawn, so the shape above 0
/// is kept (clamping would pile mass on exactly 0 ms).
#[derive(Debug, Clone, Copy)]
pub struct TruncatedNormalLatency(Normal<f64>);

impl LatencyModel for TruncatedNormalLatency {
    fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        // The mean is ≥ 0 (checked on load), so each draw is kept with
        // probability ≥ 1/2 and 64 tries all failing has odds < 2^-64.
        for _ in 0..64 {
            let x = self.0.sample(rng);
            if x >= 0.0 {
                return x;
            }
        }
        0.0
    }
}

/// Lognormal: `exp(N(ln median, sigma))`, the usual shape of network
/// latency (a floor, a long right tail).
#[derive(Debug, Clone, Copy)]
pub struct LognormalLatency(LogNormal<f64>);

impl LatencyModel for LognormalLatency {
    fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        self.0.sample(rng)
    }
}

/// Uniform draws, with replacement, from measured samples.
#[derive(Debug, Clone)]
pub struct EmpiricalLatency(Vec<f64>);

impl EmpiricalLatency {
    /// From samples in ms; `None` if empty.
    pub fn new(samples: Vec<f64>) -> Option<EmpiricalLatency> {
        (!samples.is_empty()).then_some(EmpiricalLatency(samples))
    }

    /// Reads one latency in ms per line; blank lines and `#` comments are
    /// skipped.
    pub fn read(path: &Path) -> Result<EmpiricalLatency, InputError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::file(&name, format!("cannot read: {e}")))?;
        let mut samples = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            match line.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => samples.push(v),
                _ => {
                    return Err(InputError::at(
                        &name,
                        i as u64 + 1,
                        "latency_ms",
                        format!("{line:?} is not a finite number of milliseconds ≥ 0"),
                    ))
                }
            }
        }
        EmpiricalLatency::new(samples)
            .ok_or_else(|| InputError::file(&name, "no samples (one latency in ms per line)"))
    }
}

impl LatencyModel for EmpiricalLatency {
    fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        self.0[rng.gen_range(0..self.0.len())]
    }
}

/// A distribution as configured (`model = "..."`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// `{ model = "constant", ms = 20 }`.
    Constant {
        /// Milliseconds.
        ms: f64,
    },
    /// `{ model = "uniform", min_ms = 5, max_ms = 40 }`.
    Uniform {
        /// Lowest, ms.
        min_ms: f64,
        /// Highest, ms.
        max_ms: f64,
    },
    /// `{ model = "normal", mean_ms = 50, std_ms = 10 }`, truncated at 0.
    Normal {
        /// Mean before truncation, ms (≥ 0).
        mean_ms: f64,
        /// Standard deviation, ms.
        std_ms: f64,
    },
    /// `{ model = "lognormal", median_ms = 120, sigma = 0.6 }`.
    Lognormal {
        /// Median, ms (> 0).
        median_ms: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// `{ model = "empirical", file = "latency.txt" }`: one sample in ms per
    /// line, relative to the configuration file.
    Empirical {
        /// The samples' file.
        file: PathBuf,
    },
}

/// Spike episodes: `{ per_second = 0.001, duration_ms = 5000, extra_ms = 2000 }`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spikes {
    /// Probability that an episode starts within any one second, in [0, 1).
    pub per_second: f64,
    /// How long an episode lasts, ms.
    pub duration_ms: f64,
    /// Latency added to every message during an episode, ms.
    pub extra_ms: f64,
}

/// One stage's latency setting.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySetting {
    /// The base distribution.
    pub distribution: Distribution,
    /// Optional spike episodes on top.
    pub spikes: Option<Spikes>,
}

impl LatencySetting {
    /// A constant latency without spikes.
    pub fn constant(ms: f64) -> LatencySetting {
        LatencySetting {
            distribution: Distribution::Constant { ms },
            spikes: None,
        }
    }

    /// Checks every parameter; the error says which and what is allowed.
    pub fn validate(&self) -> Result<(), LatencySettingError> {
        let ms = |name: &'static str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(LatencySettingError::NotMs { name, value })
            }
        };
        match &self.distribution {
            Distribution::Constant { ms: v } => ms("ms", *v)?,
            Distribution::Uniform { min_ms, max_ms } => {
                ms("min_ms", *min_ms)?;
                ms("max_ms", *max_ms)?;
                if min_ms > max_ms {
                    return Err(LatencySettingError::MinAboveMax {
                        min_ms: *min_ms,
                        max_ms: *max_ms,
                    });
                }
            }
            Distribution::Normal { mean_ms, std_ms } => {
                ms("mean_ms", *mean_ms)?;
                ms("std_ms", *std_ms)?;
            }
            Distribution::Lognormal { median_ms, sigma } => {
                ms("median_ms", *median_ms)?;
                if *median_ms == 0.0 {
                    return Err(LatencySettingError::ZeroMedian);
                }
                if !(sigma.is_finite() && *sigma >= 0.0 && *sigma <= 10.0) {
                    return Err(LatencySettingError::Sigma { sigma: *sigma });
                }
            }
            Distribution::Empirical { .. } => {}
        }
        if let Some(s) = &self.spikes {
            if !(s.per_second.is_finite() && (0.0..1.0).contains(&s.per_second)) {
                return Err(LatencySettingError::SpikeProbability {
                    per_second: s.per_second,
                });
            }
            ms("spikes.duration_ms", s.duration_ms)?;
            ms("spikes.extra_ms", s.extra_ms)?;
        }
        Ok(())
    }
}

/// A latency setting's parameter out of its range: which, its value, and
/// what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LatencySettingError {
    /// A duration that is not a finite number of ms ≥ 0.
    #[error("{name} = {value}: expected a finite number of ms ≥ 0")]
    NotMs {
        /// The parameter (`ms`, `min_ms`, `spikes.extra_ms`, …).
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// A uniform model's bounds in the wrong order.
    #[error("min_ms {min_ms} is above max_ms {max_ms}")]
    MinAboveMax {
        /// The lower bound.
        min_ms: f64,
        /// The upper bound.
        max_ms: f64,
    },
    /// A lognormal model's median of 0 (its log is −∞).
    #[error("median_ms = 0: expected above 0")]
    ZeroMedian,
    /// A lognormal model's `sigma` outside 0 to 10.
    #[error("sigma = {sigma}: expected 0 to 10")]
    Sigma {
        /// The value.
        sigma: f64,
    },
    /// A spike probability outside [0, 1).
    #[error("spikes.per_second = {per_second}: expected a probability in [0, 1)")]
    SpikeProbability {
        /// The value.
        per_second: f64,
    },
}

/// Why a stage's model could not be built ([`StageLatency::new`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LatencyError {
    /// The setting is out of range.
    #[error("simulation.latency.{stage}_ms: {source}", stage = .stage.name())]
    Setting {
        /// The stage whose setting it is.
        stage: Stage,
        /// Which parameter, and what is allowed.
        #[source]
        source: LatencySettingError,
    },
    /// The normal or lognormal distribution refused its parameters.
    #[error(transparent)]
    Distribution(#[from] rand_distr::NormalError),
    /// An empirical model's samples could not be read.
    #[error(transparent)]
    Samples(#[from] InputError),
}

impl Default for LatencySetting {
    fn default() -> Self {
        LatencySetting::constant(0.0)
    }
}

impl<'de> Deserialize<'de> for LatencySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let setting = match toml::Value::deserialize(deserializer)? {
            toml::Value::Integer(ms) => LatencySetting::constant(ms as f64),
            toml::Value::Float(ms) => LatencySetting::constant(ms),
            toml::Value::Table(mut table) => {
                let spikes = table
                    .remove("spikes")
                    .map(|s| s.try_into::<Spikes>())
                    .transpose()
                    .map_err(|e| de::Error::custom(format!("spikes: {}", e.message())))?;
                let distribution = toml::Value::Table(table)
                    .try_into::<Distribution>()
                    .map_err(|e| de::Error::custom(e.message()))?;
                LatencySetting {
                    distribution,
                    spikes,
                }
            }
            other => {
                return Err(de::Error::custom(format!(
                    "expected milliseconds or a table {{ model = \"constant\" | \"uniform\" | \"normal\" | \"lognormal\" | \"empirical\", ... }}, got {}",
                    other.type_str()
                )))
            }
        };
        setting.validate().map_err(de::Error::custom)?;
        Ok(setting)
    }
}

/// A path stage, for seeding and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Sender → gateway.
    Delivery,
    /// Gateway → exchange.
    Order,
    /// Exchange → gateway.
    Response,
}

impl Stage {
    /// All stages, in path order.
    pub const ALL: [Stage; 3] = [Stage::Delivery, Stage::Order, Stage::Response];

    /// `delivery`, `order` or `response`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Delivery => "delivery",
            Stage::Order => "order",
            Stage::Response => "response",
        }
    }

    fn stream(self) -> u64 {
        match self {
            Stage::Delivery => 0,
            Stage::Order => 2,
            Stage::Response => 4,
        }
    }
}

/// Spike episodes as a Poisson process over the virtual clock.
struct SpikeProcess {
    rng: SimRng,
    /// Episode starts per ms.
    gaps: Exp<f64>,
    duration_ms: f64,
    extra_ms: f64,
    /// Start of the next episode not yet reached; `None` before the first
    /// query.
    next_start: Option<f64>,
    /// End of the latest episode reached.
    active_until: f64,
}

impl SpikeProcess {
    fn new(spikes: &Spikes, rng: SimRng) -> Option<SpikeProcess> {
        // P(at least one start in a second) = p  ⇔  rate λ = −ln(1 − p) per s.
        let per_ms = -(1.0 - spikes.per_second).ln() / 1000.0;
        if per_ms <= 0.0 || spikes.extra_ms == 0.0 || spikes.duration_ms == 0.0 {
            return None;
        }
        Some(SpikeProcess {
            rng,
            gaps: Exp::new(per_ms).ok()?,
            duration_ms: spikes.duration_ms,
            extra_ms: spikes.extra_ms,
            next_start: None,
            active_until: f64::NEG_INFINITY,
        })
    }

    /// Extra latency at `t_ms`. Queries are expected in time order; an
    /// earlier query is judged against the episodes already drawn.
    fn extra_at(&mut self, t_ms: i64) -> f64 {
        let t = t_ms as f64;
        let mut next = match self.next_start {
            Some(n) => n,
            None => t + self.gaps.sample(&mut self.rng),
        };
        // Only starts within one duration before `t` can cover it; the
        // process is memoryless, so restarting it there skips a long quiet
        // gap in O(1) without changing its law.
        if next < t - self.duration_ms {
            next = t - self.duration_ms + self.gaps.sample(&mut self.rng);
        }
        while next <= t {
            self.active_until = self.active_until.max(next + self.duration_ms);
            next += self.gaps.sample(&mut self.rng);
        }
        self.next_start = Some(next);
        if t < self.active_until {
            self.extra_ms
        } else {
            0.0
        }
    }
}

/// One stage's model, spikes and random stream.
pub struct StageLatency {
    model: Box<dyn LatencyModel>,
    spikes: Option<SpikeProcess>,
    rng: SimRng,
}

impl StageLatency {
    /// Builds `stage`'s model from its setting; an empirical model's file is
    /// read relative to `base_dir`.
    pub fn new(
        setting: &LatencySetting,
        stage: Stage,
        seed: u64,
        base_dir: &Path,
    ) -> Result<StageLatency, LatencyError> {
        setting
            .validate()
            .map_err(|source| LatencyError::Setting { stage, source })?;
        let model: Box<dyn LatencyModel> = match &setting.distribution {
            Distribution::Constant { ms } => Box::new(ConstantLatency(*ms)),
            Distribution::Uniform { min_ms, max_ms } => {
                Box::new(UniformLatency(Uniform::new_inclusive(*min_ms, *max_ms)))
            }
            Distribution::Normal { mean_ms, std_ms } => {
                Box::new(TruncatedNormalLatency(Normal::new(*mean_ms, *std_ms)?))
            }
            Distribution::Lognormal { median_ms, sigma } => {
                Box::new(LognormalLatency(LogNormal::new(median_ms.ln(), *sigma)?))
            }
            Distribution::Empirical { file } => {
                Box::new(EmpiricalLatency::read(&base_dir.join(file))?)
            }
        };
        let stream = |n: u64| {
            let mut rng = SimRng::seed_from_u64(seed);
            rng.set_stream(n);
            rng
        };
        Ok(StageLatency {
            model,
            spikes: setting
                .spikes
                .as_ref()
                .and_then(|s| SpikeProcess::new(s, stream(stage.stream() + 1))),
            rng: stream(stage.stream()),
        })
    }

    /// The latency of a message sent at `at_ms`, whole ms.
    pub fn sample(&mut self, at_ms: i64) -> i64 {
        let base = self.model.sample_ms(&mut self.rng);
        let extra = self.spikes.as_mut().map_or(0.0, |s| s.extra_at(at_ms));
        // Validated parameters keep this finite and ≥ 0; the clamp keeps a
        // pathological draw from moving the clock backwards or overflowing.
        (base + extra).round().clamp(0.0, 1e12) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        stage: LatencySetting,
    }

    fn parse(text: &str) -> Result<LatencySetting, toml::de::Error> {
        toml::from_str::<Doc>(text).map(|d| d.stage)
    }

    fn draws(setting: &LatencySetting, seed: u64, n: usize) -> Vec<i64> {
        let mut s = StageLatency::new(setting, Stage::Order, seed, Path::new(".")).unwrap();
        (0..n).map(|i| s.sample(i as i64 * 1000)).collect()
    }

    #[test]
    fn settings_parse() {
        assert_eq!(parse("stage = 25").unwrap(), LatencySetting::constant(25.0));
        assert_eq!(parse("stage = 2.5").unwrap(), LatencySetting::constant(2.5));
        let s = parse(
            "stage = { model = \"lognormal\", median_ms = 100, sigma = 0.5, spikes = { per_second = 0.01, duration_ms = 1000, extra_ms = 500 } }",
        )
        .unwrap();
        assert_eq!(
            s.distribution,
            Distribution::Lognormal {
                median_ms: 100.0,
                sigma: 0.5
            }
        );
        assert_eq!(s.spikes.unwrap().extra_ms, 500.0);
        for (bad, expected) in [
            ("stage = -1", "ms = -1"),
            ("stage = \"fast\"", "expected milliseconds or a table"),
            ("stage = { model = \"gamma\" }", "gamma"),
            ("stage = { model = \"uniform\", min_ms = 5, max_ms = 1 }", "above max_ms"),
            ("stage = { model = \"constant\", ms = 1, typo = 2 }", "typo"),
            ("stage = { model = \"normal\", mean_ms = 1 }", "std_ms"),
            ("stage = { model = \"lognormal\", median_ms = 0, sigma = 1 }", "median_ms"),
            ("stage = { model = \"constant\", ms = 1, spikes = { per_second = 1, duration_ms = 1, extra_ms = 1 } }", "per_second"),
            ("stage = { model = \"constant\", ms = 1, spikes = { per_second = 0.1 } }", "spikes"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.message().contains(expected), "{bad}: {err}");
        }
    }

    #[test]
    fn a_stage_error_names_the_setting_and_keeps_the_parameter() {
        let setting = LatencySetting {
            distribution: Distribution::Uniform {
                min_ms: 5.0,
                max_ms: 1.0,
            },
            spikes: None,
        };
        let err = StageLatency::new(&setting, Stage::Order, 0, Path::new("."))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "simulation.latency.order_ms: min_ms 5 is above max_ms 1"
        );
        assert!(matches!(
            err,
            LatencyError::Setting {
                stage: Stage::Order,
                source: LatencySettingError::MinAboveMax { .. }
            }
        ));
        assert_eq!(
            LatencySetting::constant(-1.0).validate(),
            Err(LatencySettingError::NotMs {
                name: "ms",
                value: -1.0
            })
        );
    }

    #[test]
    fn models_are_seeded_and_in_range() {
        let settings = [
            parse("stage = { model = \"uniform\", min_ms = 10, max_ms = 20 }").unwrap(),
            parse("stage = { model = \"normal\", mean_ms = 5, std_ms = 50 }").unwrap(),
            parse("stage = { model = \"lognormal\", median_ms = 100, sigma = 1 }").unwrap(),
        ];
        for s in &settings {
            let a = draws(s, 7, 2000);
            assert_eq!(a, draws(s, 7, 2000), "same seed, same draws");
            assert_ne!(a, draws(s, 8, 2000), "another seed, other draws");
            assert!(a.iter().all(|&x| x >= 0));
        }
        let uniform = draws(&settings[0], 1, 2000);
        assert!(uniform.iter().all(|x| (10..=20).contains(x)));
        // Lognormal: about half the draws below the median.
        let below = draws(&settings[2], 1, 4000)
            .iter()
            .filter(|&&x| x < 100)
            .count();
        assert!((1700..2300).contains(&below), "{below}");
        assert_eq!(draws(&LatencySetting::constant(3.4), 1, 3), [3, 3, 3]);
    }

    #[test]
    fn empirical_samples_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("l.txt"),
            "# measured\n12\n\n40.4 # slow one\n",
        )
        .unwrap();
        let setting = parse("stage = { model = \"empirical\", file = \"l.txt\" }").unwrap();
        let mut s = StageLatency::new(&setting, Stage::Delivery, 3, dir.path()).unwrap();
        let seen: std::collections::BTreeSet<i64> = (0..200).map(|t| s.sample(t)).collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [12, 40]);

        std::fs::write(dir.path().join("l.txt"), "12\nfast\n").unwrap();
        let err = StageLatency::new(&setting, Stage::Delivery, 3, dir.path())
            .err()
            .unwrap();
        assert!(matches!(err, LatencyError::Samples(_)), "{err}");
        let err = err.to_string();
        assert!(err.contains("l.txt:2") && err.contains("fast"), "{err}");
        std::fs::write(dir.path().join("l.txt"), "# nothing\n").unwrap();
        assert!(StageLatency::new(&setting, Stage::Delivery, 3, dir.path()).is_err());
    }

    #[test]
    fn spikes_cover_about_their_share_of_time() {
        // Starts with probability 1% a second, 10 s long: covered ≈
        // 1 − e^(−λ·10 s) with λ = −ln 0.99 ≈ 9.6% of the time.
        let setting = parse(
            "stage = { model = \"constant\", ms = 1, spikes = { per_second = 0.01, duration_ms = 10000, extra_ms = 1000 } }",
        )
        .unwrap();
        let a = draws(&setting, 11, 100_000);
        assert!(a.iter().all(|&x| x == 1 || x == 1001));
        let spiked = a.iter().filter(|&&x| x == 1001).count();
        assert!((8_000..11_500).contains(&spiked), "{spiked}");
        // Spikes come in episodes: consecutive seconds, ~10 per episode.
        let episodes = a.windows(2).filter(|w| w[0] == 1 && w[1] == 1001).count();
        assert!((600..1_300).contains(&episodes), "{episodes}");
        // A long gap is skipped in O(1) and stays well-defined.
        let mut s = StageLatency::new(&setting, Stage::Order, 1, Path::new(".")).unwrap();
        s.sample(0);
        assert!(s.sample(1_000_000_000_000) >= 1);
    }
}
