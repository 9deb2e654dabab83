//! Properties of whole replays on the bundled sample.

use std::path::PathBuf;

use alertgate_simulator::latency::{Distribution, LatencySetting, Spikes};
use alertgate_simulator::replay::{Inputs, ReplayOptions};
use proptest::prelude::*;

fn sample() -> Inputs {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    Inputs::load(&ReplayOptions {
        config: Some(root.join("examples/replay/alertgate.toml")),
        // The market cache goes under target/, not the user's ~/.cache.
        cache_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("market-cache")),
        ..ReplayOptions::default()
    })
    .unwrap()
}

fn any_latency() -> impl Strategy<Value = LatencySetting> {
    let distribution = prop_oneof![
        (0.0..5_000.0f64).prop_map(|ms| Distribution::Constant { ms }),
        (0.0..100.0f64, 0.0..10_000.0f64).prop_map(|(a, w)| Distribution::Uniform {
            min_ms: a,
            max_ms: a + w
        }),
        (0.0..500.0f64, 0.0..500.0f64)
            .prop_map(|(mean_ms, std_ms)| Distribution::Normal { mean_ms, std_ms }),
        (1.0..1_000.0f64, 0.0..2.0f64)
            .prop_map(|(median_ms, sigma)| Distribution::Lognormal { median_ms, sigma }),
    ];
    let spikes = proptest::option::of(
        (0.0..0.01f64, 0.0..120_000.0f64, 0.0..400_000.0f64).prop_map(
            |(per_second, duration_ms, extra_ms)| Spikes {
                per_second,
                duration_ms,
                extra_ms,
            },
        ),
    );
    (distribution, spikes).prop_map(|(distribution, spikes)| LatencySetting {
        distribution,
        spikes,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Equal inputs and seed give byte-identical reports, whatever the
    /// latency models; and the report's counts add up.
    #[test]
    fn equal_seeds_give_identical_reports(
        seed in any::<u64>(),
        delivery in any_latency(),
        order in any_latency(),
    ) {
        let inputs = sample();
        let mut settings = inputs.settings.clone();
        settings.simulation.seed = seed;
        settings.simulation.latency.delivery_ms = delivery;
        settings.simulation.latency.order_ms = order;
        let a = inputs.run(&settings, None).unwrap();
        let b = inputs.run(&settings, None).unwrap();
        prop_assert_eq!(a.to_json(), b.to_json());

        let s = &a.summary;
        prop_assert_eq!(s.alerts.accepted + s.alerts.rejected, s.alerts.total);
        prop_assert_eq!(s.alerts.rejected_by_code.values().sum::<u64>(), s.alerts.rejected);
        prop_assert_eq!(s.orders, s.alerts.accepted);
        prop_assert!(s.max_drawdown_pct >= 0.0 && s.max_drawdown_pct <= 100.0);
        prop_assert!(s.exposure_pct >= 0.0 && s.exposure_pct <= 100.0 + 1e-9);
    }
}
