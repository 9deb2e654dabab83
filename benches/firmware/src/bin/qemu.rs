//! The gate run on an emulated Cortex-M4 (QEMU `mps2-an386`, see
//! `../../run-qemu.sh`): a fixed script of requests through one
//! `Gate<[Slot; 64]>`, one decision line each over semihosting, and a
//! semihosting exit status of failure when any decision differs from the
//! one expected (or on a panic).
//!
//! It also counts the instructions of the first request, an accepted
//! check on a fresh gate: QEMU models no cycles, but with `-icount
//! shift=0` every instruction advances the virtual clock by 1 ns, and
//! SysTick counts that clock at the board's core clock rate (QEMU 7.2:
//! one tick per 20 instructions, not one). The ratio is not assumed: it is
//! calibrated in the same run against `cortex_m::asm::delay`, a loop of a
//! known instruction count, so the count is within one tick's worth.
//!
//! The gate lives in a `static`, behind a critical-section `Mutex`, as the
//! crate docs of `alertgate-validator` show a firmware keeping it.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::cell::RefCell;

use alertgate_validator::auth::{sign, AuthConfig, Scheme};
use alertgate_validator::replay::Slot;
use alertgate_validator::{Config, Decimal, Gate, Policy, Request};
use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use critical_section::Mutex;
use panic_semihosting as _;

/// The HMAC key of every signed request.
const SECRET: &[u8] = b"firmware-secret";
/// The gate's secrets (a `static`: the gate borrows them for its lifetime).
static SECRETS: [&[u8]; 1] = [SECRET];
/// The gate's clock for the whole script: 2023-11-04T16:00:00Z, the
/// sample's own time.
const NOW_MS: i64 = 1_699_113_600_000;
/// The signature timestamp of every fresh request, Unix seconds.
const NOW_S: i64 = NOW_MS / 1000;

/// The benches' 203-byte sample alert (benches/src/lib.rs), so the count is
/// of the body every `*/203B` host figure is stated against.
const SAMPLE: &[u8] = br#"{"symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":0.1,"price":67500.0,"confidence":0.85,"stop_loss":66000.0,"take_profit":69000.0,"timestamp":1699113600000,"event_id":"sma-x:1699113600"}"#;
/// [`SAMPLE`]'s signature, computed off the device by an independent HMAC:
/// `python3 -c 'import hmac,hashlib; print(hmac.new(b"firmware-secret",
/// b"1699113600." + SAMPLE, hashlib.sha256).hexdigest())'`.
const SAMPLE_SIGNATURE: &str =
    "t=1699113600,s=ce19520d5abbafb07a28b91611bad517456ab49edb5f311484bcc8e767869728";
/// [`SAMPLE`] with its quantity changed after signing (0.1 → 9.1).
const TAMPERED: &[u8] = br#"{"symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":9.1,"price":67500.0,"confidence":0.85,"stop_loss":66000.0,"take_profit":69000.0,"timestamp":1699113600000,"event_id":"sma-x:1699113600"}"#;
/// A fresh alert, signed too late: 301 s before the clock, past the
/// default 300 s tolerance.
const EXPIRED: &[u8] = br#"{"symbol":"ETH/USDT","side":"sell","quantity":1,"timestamp":1699113299000,"event_id":"e-expired"}"#;
/// Cut off mid-object (a signed body: the JSON check comes after the signature's).
const MALFORMED: &[u8] = br#"{"symbol":"ETH/USDT","side":"sell","quantity":1,"#;
/// Above the policy's `max_quantity` of 2.
const OVER_LIMIT: &[u8] = br#"{"symbol":"ETH/USDT","side":"buy","quantity":2.5,"timestamp":1699113600000,"event_id":"e-over-limit"}"#;

/// How a step's signature header is made.
#[derive(Clone, Copy)]
enum Signature {
    /// This exact header value.
    Given(&'static str),
    /// Signed on the device (`auth::sign`) over the step's body at this
    /// Unix time.
    Sign(i64),
}

/// One scripted request and the decision it must get.
struct Step {
    /// What the step is, for its line.
    name: &'static str,
    /// The body sent.
    body: &'static [u8],
    /// Its signature header.
    signature: Signature,
    /// `accepted`, or the rejection's stable code.
    expected: &'static str,
}

/// The script, in order (the second step replays the first).
const SCRIPT: [Step; 6] = [
    Step {
        name: "signed alert",
        body: SAMPLE,
        signature: Signature::Given(SAMPLE_SIGNATURE),
        expected: "accepted",
    },
    Step {
        name: "same again",
        body: SAMPLE,
        signature: Signature::Given(SAMPLE_SIGNATURE),
        expected: "replayed",
    },
    Step {
        name: "tampered body",
        body: TAMPERED,
        signature: Signature::Given(SAMPLE_SIGNATURE),
        expected: "bad_signature",
    },
    Step {
        name: "expired signature",
        body: EXPIRED,
        signature: Signature::Sign(NOW_S - 301),
        expected: "signature_expired",
    },
    Step {
        name: "malformed JSON",
        body: MALFORMED,
        signature: Signature::Sign(NOW_S),
        expected: "invalid_json",
    },
    Step {
        name: "over-limit quantity",
        body: OVER_LIMIT,
        signature: Signature::Sign(NOW_S),
        expected: "quantity_too_large",
    },
];

/// The gate, built once at start-up (`Gate::new` is not `const`).
static GATE: Mutex<RefCell<Option<Gate<'static, [Slot; 64]>>>> = Mutex::new(RefCell::new(None));

/// Iterations-worth of `cortex_m::asm::delay` the tick rate is calibrated
/// on: `delay(n)` runs `n / 2 + 1` iterations of a two-instruction loop.
const CALIBRATION_DELAY: u32 = 2_000_000;

#[entry]
fn main() -> ! {
    let Some(mut peripherals) = cortex_m::Peripherals::take() else {
        fail("the core peripherals were already taken")
    };
    start_systick(&mut peripherals.SYST);
    install_gate();
    let mut mismatches = 0;
    let mut accepted_ticks = None;
    for (n, step) in SCRIPT.iter().enumerate() {
        let (decision, ticks) = run(step);
        let ok = decision == step.expected;
        mismatches += usize::from(!ok);
        if n == 0 {
            accepted_ticks = Some(ticks);
        }
        let verdict = if ok { "ok" } else { "MISMATCH, expected" };
        hprintln!(
            "decision {}: {}: {} ({} {})",
            n + 1,
            step.name,
            decision,
            verdict,
            step.expected
        );
    }
    report_instructions(accepted_ticks.unwrap_or(0));
    if mismatches > 0 {
        fail("a decision differs from the expected one");
    }
    hprintln!("all {} decisions as expected", SCRIPT.len());
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

/// Builds the gate into [`GATE`]: the timestamped scheme, at most 2 units
/// per order, everything else default.
fn install_gate() {
    let config = Config {
        auth: AuthConfig {
            scheme: Scheme::Timestamped,
            secrets: &SECRETS,
            ..AuthConfig::default()
        },
        policy: Policy {
            max_quantity: Decimal::new(2, 0),
            ..Policy::default()
        },
        ..Config::default()
    };
    match Gate::new(config) {
        Ok(gate) => critical_section::with(|cs| *GATE.borrow_ref_mut(cs) = Some(gate)),
        Err(_) => fail("the gate's configuration was refused"),
    }
}

/// Sends `step` through the gate: its decision and the SysTick ticks the
/// check alone took (signing and header building are outside).
fn run(step: &Step) -> (&'static str, u32) {
    let signed;
    let signature = match step.signature {
        Signature::Given(value) => value,
        Signature::Sign(t) => {
            signed = match sign(Scheme::Timestamped, SECRET, step.body, t, "") {
                Ok(headers) => headers,
                Err(_) => fail("auth::sign refused the script's request"),
            };
            signed[0].1.as_str()
        }
    };
    let headers = [("X-Tradeeon-Signature", signature)];
    let request = Request {
        body: step.body,
        headers: &headers,
        source_ip: None,
        mark_price: None,
    };
    critical_section::with(|cs| {
        let mut gate = GATE.borrow_ref_mut(cs);
        let Some(gate) = gate.as_mut() else {
            fail("the gate is not installed")
        };
        let start = SYST::get_current();
        let decision = gate.check(&request, NOW_MS);
        let ticks = elapsed(start, SYST::get_current());
        (decision.map_or_else(|r| r.code(), |_| "accepted"), ticks)
    })
}

/// Prints the instructions of the accepted check, from its ticks and the
/// calibrated instructions per tick.
fn report_instructions(ticks: u32) {
    let start = SYST::get_current();
    cortex_m::asm::delay(CALIBRATION_DELAY);
    let calibration_ticks = elapsed(start, SYST::get_current());
    // Two instructions per iteration (`subs`, `bne`), the call's own few ignored.
    let calibration_instructions = u64::from(CALIBRATION_DELAY / 2 + 1) * 2;
    if calibration_ticks == 0 {
        fail("SysTick did not advance: is QEMU run with -icount shift=0?");
    }
    let instructions = u64::from(ticks) * calibration_instructions / u64::from(calibration_ticks);
    let tenths_per_tick = calibration_instructions * 10 / u64::from(calibration_ticks);
    hprintln!(
        "calibration: {} instructions in {} SysTick ticks ({}.{} per tick)",
        calibration_instructions,
        calibration_ticks,
        tenths_per_tick / 10,
        tenths_per_tick % 10
    );
    hprintln!(
        "instructions of one accepted check ({} B body, fresh gate): {} ({} ticks)",
        SAMPLE.len(),
        instructions,
        ticks
    );
}

/// SysTick free-running from its largest reload on the core clock.
fn start_systick(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYST_MAX);
    syst.clear_current();
    syst.enable_counter();
}

/// SysTick's largest reload value (a 24-bit down-counter).
const SYST_MAX: u32 = 0x00FF_FFFF;

/// Ticks from `start` to `end` of the down-counter, across one wrap.
fn elapsed(start: u32, end: u32) -> u32 {
    start.wrapping_sub(end) & SYST_MAX
}

/// Reports `why` and exits QEMU with a failure status.
fn fail(why: &str) -> ! {
    hprintln!("FAILED: {}", why);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
