#!/usr/bin/env bash
# Restart time of `alertgate serve` after N logged orders: writes a journal
# and a mock exchange log of N accepted orders in the on-disk formats
# (benches/examples/restart_fixture.rs, through the real exchange), then
# times the real binary from spawn to its "listening on" line (recovery is
# done before it binds), three times reading both logs whole (no
# snapshot), three times from a snapshot. Prints each run and the medians.
# Not run in CI (10 M orders: ~5 GB of journal, minutes).
#
#   benches/restart.sh [-n ORDERS] [-d DIR] [-k]
#   -n: orders (default 10000000); -d: where the files go (default
#   target/restart-bench, real disk, not tmpfs); -k: keep the files.
set -euo pipefail

ORDERS=10000000
DIR=""
KEEP=0
while getopts "n:d:kh" opt; do
    case "$opt" in
        n) ORDERS="$OPTARG" ;;
        d) DIR="$OPTARG" ;;
        k) KEEP=1 ;;
        *) sed -n '2,12p' "$0"; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v python3 >/dev/null || { echo "restart: python3 is required" >&2; exit 2; }
DIR="${DIR:-$ROOT/target/restart-bench}"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ "$KEEP" == 1 ]] || rm -rf "$DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cargo build --release -q -p alertgate
cargo build --release -q -p alertgate-benches --example restart_fixture
BIN="$ROOT/target/release/alertgate"
mkdir -p "$DIR"
echo "writing $ORDERS orders into $DIR"
"$ROOT/target/release/examples/restart_fixture" "$DIR" "$ORDERS"

cat > "$DIR/alertgate.toml" <<TOML
[auth]
scheme = "timestamped"
secrets_env = ["RESTART_BENCH_SECRET"]
[serve]
journal = "journal.jsonl"
fills = "fills.jsonl"
TOML

# One start: seconds from spawn to "listening on" (it answers /healthz
# right after), then SIGTERM (a stop with nothing new submitted writes no
# snapshot) and wait.
export BIN DIR
time_start() {
    python3 - <<'PY'
import os, signal, subprocess, time
d = os.environ["DIR"]
env = dict(os.environ, RESTART_BENCH_SECRET="bench-secret", RUST_LOG="info")
t0 = time.monotonic()
p = subprocess.Popen([os.environ["BIN"], "serve", "--listen", "127.0.0.1:0", "--config", d + "/alertgate.toml"],
                     stdout=subprocess.PIPE, stderr=open(d + "/serve.log", "a"), env=env)
line = p.stdout.readline().decode()
t = time.monotonic() - t0
assert line.startswith("listening on"), line
# Stopped once it answers /healthz (its SIGTERM handler is in place by then).
import urllib.request
url = "http://" + line.split()[-1] + "/healthz"
for _ in range(500):
    try:
        if urllib.request.urlopen(url, timeout=1).status == 200:
            break
    except OSError:
        time.sleep(0.01)
p.send_signal(signal.SIGTERM)
p.wait(timeout=600)
print(f"{t:.3f}")
PY
}
median() { printf '%s\n' "$@" | sort -n | sed -n '2p'; }

SNAPSHOT="$DIR/fills.jsonl.snapshot"
without=()
for run in 1 2 3; do
    rm -f "$SNAPSHOT"
    # Dropping the page cache needs root; the files were just written, so
    # every run reads them from the cache alike.
    t=$(time_start)
    echo "without a snapshot, run $run: ${t} s"
    without+=("$t")
done
# The last start replayed the whole log and wrote a snapshot right after
# it; wait for it (the stop waits for a snapshot being written).
[[ -s "$SNAPSHOT" ]] || { echo "restart: no snapshot was written" >&2; exit 1; }
with=()
for run in 1 2 3; do
    t=$(time_start)
    echo "with a snapshot, run $run: ${t} s"
    with+=("$t")
done
grep -h "recovered" "$DIR/serve.log" | tail -1 || true
echo "orders=$ORDERS snapshot_bytes=$(stat -c %s "$SNAPSHOT") journal_bytes=$(stat -c %s "$DIR/journal.jsonl") log_bytes=$(stat -c %s "$DIR/fills.jsonl")"
echo "median without a snapshot: $(median "${without[@]}") s"
echo "median with a snapshot:    $(median "${with[@]}") s (target ≤ 1 s)"
