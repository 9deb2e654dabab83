//! `conventions = "backtesting.py"` against backtesting.py 0.6.6 itself:
//! `tests/backtesting_py/diff.py` runs its strategies in backtesting.py and
//! replays what they placed (the script says how). Without python3 and
//! backtesting 0.6.6 the test prints a note and passes — unless
//! `ALERTGATE_REQUIRE_BACKTESTING` is set (CI sets it): then it fails.

use std::path::PathBuf;
use std::process::Command;

/// Whether `python3` imports backtesting 0.6.6.
fn backtesting_installed() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import backtesting, sys; sys.exit(backtesting.__version__ != '0.6.6')",
        ])
        .output()
        .is_ok_and(|out| out.status.success())
}

#[test]
fn replays_under_backtesting_py_conventions_match_backtesting_py() {
    if !backtesting_installed() {
        assert!(
            std::env::var_os("ALERTGATE_REQUIRE_BACKTESTING").is_none(),
            "ALERTGATE_REQUIRE_BACKTESTING is set but python3 cannot import backtesting 0.6.6 \
             (pip install backtesting==0.6.6)"
        );
        eprintln!("note: python3 cannot import backtesting 0.6.6; skipping the differential test");
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/backtesting_py/diff.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_alertgate"))
        // The market cache goes under target/, not the user's ~/.cache.
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "diff.py exited {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    // Every strategy ran and agreed, each with trades to compare.
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows.len(), 5, "{stdout}");
    for row in rows {
        assert!(row.split_whitespace().nth(1) == Some("ok"), "{row}");
        let trades: u64 = row
            .split("trades")
            .nth(1)
            .and_then(|t| t.split(';').next())
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        assert!(trades > 5, "too few trades to compare: {row}");
    }
}
