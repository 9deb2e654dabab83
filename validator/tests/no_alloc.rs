//! `Gate::check` makes no heap allocation, for every scheme, on accepted and
//! rejected requests alike. A counting global allocator watches the calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use alertgate_validator::auth::{sign, AuthConfig, Scheme};
use alertgate_validator::replay::Slot;
use alertgate_validator::{encode, Config, Decimal, Gate, Policy, Request};

/// Counts the allocations of the thread under test only: the test harness's
/// own threads allocate at any moment (a busy CI machine once showed 4 calls
/// during a check that made none), so counting is switched on around the
/// checks, on their thread.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: forwards to the system allocator; only counts calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const NOW_S: i64 = 1_700_000_000;
const SECRET: &[u8] = b"whsec_c2VjcmV0LWZvci1hbGxvYy10ZXN0";

fn body(id: u32) -> String {
    format!(
        r#"{{"symbol":"BINANCE:BTCUSDT.P","side":"buy","quantity":"0.1","price":67500,"confidence":0.9,"stop_loss":66000,"take_profit":69000,"timestamp":{},"event_id":"e{id}","passphrase":"whsec_c2VjcmV0LWZvci1hbGxvYy10ZXN0"}}"#,
        NOW_S * 1000
    )
}

#[test]
fn check_never_allocates() {
    let mut checked = 0;
    // Every scheme this build has (all of them with the default features).
    for scheme in Scheme::ALL.into_iter().filter(|s| s.is_compiled_in()) {
        let secrets: &[&[u8]] = if scheme == Scheme::None {
            &[]
        } else {
            &[SECRET]
        };
        let config = Config {
            auth: AuthConfig {
                scheme,
                secrets,
                ..AuthConfig::default()
            },
            policy: Policy {
                max_order_value: Decimal::parse("100000"),
                symbols: &["BTC/USDT"],
                ..Policy::default()
            },
            ..Config::default()
        };
        // The guard's slots on the heap, as on a host: `check` still
        // allocates nothing.
        let slots = vec![Slot::EMPTY; 16].into_boxed_slice();
        let mut gate = Gate::with_replay_storage(config, slots).unwrap();
        // Inputs are built before counting starts.
        let bodies: Vec<String> = (0..3).map(body).collect();
        let signed: Vec<Vec<(String, String)>> = bodies
            .iter()
            .map(|b| {
                sign(scheme, SECRET, b.as_bytes(), NOW_S, "evt-1")
                    .unwrap()
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect()
            })
            .collect();
        let headers: Vec<Vec<(&str, &str)>> = signed
            .iter()
            .map(|h| h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
            .collect();
        let garbage = b"{\"symbol\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec();
        let mut out = [0u8; 1024];
        let mark = Decimal::parse("67000");

        COUNTING.with(|c| c.set(true));
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        let accepted = gate.check(
            &Request {
                body: bodies[0].as_bytes(),
                headers: &headers[0],
                source_ip: None,
                mark_price: mark,
            },
            NOW_S * 1000,
        );
        let replayed = gate.check(
            &Request {
                body: bodies[0].as_bytes(),
                headers: &headers[0],
                source_ip: None,
                mark_price: mark,
            },
            NOW_S * 1000,
        );
        let rejected = gate.check(
            &Request {
                body: &garbage,
                headers: &headers[1],
                source_ip: None,
                mark_price: mark,
            },
            NOW_S * 1000,
        );
        let n = encode::write_decision(&accepted, &mut out).unwrap();
        let m = encode::write_decision(&rejected, &mut out[n..]).unwrap();
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        COUNTING.with(|c| c.set(false));

        assert!(accepted.is_ok(), "{}: {:?}", scheme.name(), accepted);
        assert!(replayed.is_err() && rejected.is_err());
        assert!(n > 0 && m > 0);
        assert_eq!(after - before, 0, "{} allocated", scheme.name());
        checked += 1;
    }
    assert_eq!(
        checked,
        Scheme::ALL.iter().filter(|s| s.is_compiled_in()).count()
    );
}
