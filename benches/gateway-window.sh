#!/usr/bin/env bash
# Sustained load on `alertgate serve` PAST its replay window, several times:
# the replay guard and the accepted-event index fill for one window, then
# expire as fast as they fill. benches/gateway-sustained.sh cannot show this
# (its alerts are signed before the run and go stale after max_age_s); here
# benches/src/bin/signing_load.rs signs each alert as it sends it (timestamped
# scheme, distinct price and event id, each symbol alternating buy and sell),
# closed loop over CONNECTIONS keep-alive connections and 2 threads.
#
# Only the gateway runs: open policy, no rate limits, journal fsynced under
# the target dir, every accepted order executed by the paper venue, and a
# short window: max_age_s = window_s = WINDOW (30 s), max_future_skew_s = 5,
# the guard sized by [replay] peak_per_second = 80000 (5.6 M slots, 128 MiB).
# The gateway's RSS (/proc/PID/status VmRSS) is sampled every 10 s.
#
# After the run (once the paper venue has caught up: /metrics
# alertgate_orders_total = submits in the exchange log) it prints a table per
# 10 s interval (accepted/s, p99, errors, RSS) and MET / NOT MET for:
#   rate         >= 20,000 accepted/s in every interval after the first
#   p99          <= 10 ms over the run
#   errors       0 (socket errors and non-200 answers)
#   exactly once journal accepted lines = 200 answers (+ at most CONNECTIONS
#                in flight), exchange-log submits = journal accepted lines,
#                no client_order_id twice
#   memory       RSS after 3 windows within 10 % of RSS after 1 window
#                (bounded once expiry runs; a run shorter than 3 windows
#                cannot meet it)
# Exit 0 only when all are met. Loopback only, bounded in time, cleans up.
# Not run in CI.
#
#   benches/gateway-window.sh [-d SECONDS] [-c CONNECTIONS] [-w WINDOW_S]
#   (or DURATION= (150), CONNECTIONS= (64), WINDOW= (30); GATEWAY_LOG=info
#   shows the gateway's log, KEEP=1 keeps the files, ALERTGATE_BIN= another
#   build of the gateway). WINDOW above 99 s is refused by the gateway at
#   load: the guard would need more than 2^24 slots at 80,000/s.
set -euo pipefail

DURATION="${DURATION:-150}"
CONNECTIONS="${CONNECTIONS:-64}"
WINDOW="${WINDOW:-30}"
THREADS=2
EVERY=10
while getopts "d:c:w:h" opt; do
    case "$opt" in
        d) DURATION="$OPTARG" ;;
        c) CONNECTIONS="$OPTARG" ;;
        w) WINDOW="$OPTARG" ;;
        *) sed -n '2,35p' "$0"; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
for tool in python3 curl; do
    command -v "$tool" >/dev/null || { echo "gateway-window: $tool is required" >&2; exit 2; }
done

NAME=gateway-window
# shellcheck source=load/lib.sh
source benches/load/lib.sh

echo "== building (release: alertgate, signing_load)" >&2
cargo build --release -p alertgate -p alertgate-benches --bins >&2
TARGET_DIR="$(target_dir)"
BIN="${ALERTGATE_BIN:-$TARGET_DIR/release/alertgate}"
LOAD="$TARGET_DIR/release/signing_load"
# Under the target dir, not /tmp (often tmpfs), so the journal's fsync is real.
mkdir -p "$TARGET_DIR/tmp"
WORK="$(mktemp -d "$TARGET_DIR/tmp/gateway-window.XXXXXX")"
export ALERTGATE_LOAD_SECRET
ALERTGATE_LOAD_SECRET="load-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# Appends "<seconds since $2 (ns epoch)> <VmRSS kB>" of pid $1 to $WORK/rss.txt.
rss_sample() {
    local now_ns rss
    now_ns="$(date +%s%N)"
    rss="$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status" 2>/dev/null)" || true
    [[ -z "$rss" ]] || echo "$(( (now_ns - $2) / 1000000 ))e-3 $rss" >>"$WORK/rss.txt"
}

# rss_sample of pid $1 every $EVERY s from $2 (ns epoch) until the pid is gone or killed.
sample_rss() {
    local pid=$1 start_ns=$2 next=0
    while kill -0 "$pid" 2>/dev/null; do
        if (( $(date +%s%N) >= start_ns + next * 1000000000 )); then
            rss_sample "$pid" "$start_ns"
            next=$(( next + EVERY ))
        fi
        sleep 0.2
    done
}

mkdir -p "$WORK/gw"
cat >"$WORK/gw/alertgate.toml" <<TOML
[auth]
scheme = "timestamped"
secrets_env = ["ALERTGATE_LOAD_SECRET"]

[policy]
max_age_s = $WINDOW
max_future_skew_s = 5

[rate]
per_second = 0

[replay]
window_s = $WINDOW
# 2 x 80,000 x (window_s + skew) slots: the guard cannot fill below 80,000/s.
peak_per_second = 80000

[serve]
journal = "journal.jsonl"
fills = "fills.jsonl"
per_ip_burst = 0
per_ip_per_second = 0
TOML
RUST_LOG="${GATEWAY_LOG:-warn}" "$BIN" serve --config "$WORK/gw/alertgate.toml" --listen 127.0.0.1:0 \
    >"$WORK/gateway.out" 2>"$WORK/gateway.err" &
GW=$!; PIDS+=("$GW")
ADDR="$(listening "$WORK/gateway.out" "$GW")" || { cat "$WORK/gateway.err" >&2; exit 1; }

echo "== gateway: window ${WINDOW} s; signing_load -c$CONNECTIONS -t$THREADS -d${DURATION}s (load: $(uptime | sed 's/.*load/load/'))" >&2
LOAD_START_NS="$(date +%s%N)"
sample_rss "$GW" "$LOAD_START_NS" &
SAMPLER=$!; PIDS+=("$SAMPLER")
"$LOAD" --url "http://$ADDR/webhook" --connections "$CONNECTIONS" --threads "$THREADS" \
    --duration-s "$DURATION" --report-every-s "$EVERY" --secret-env ALERTGATE_LOAD_SECRET \
    | tee "$WORK/load.txt" >&2

# Execution runs after the answer: let the paper venue catch up.
orders=-1 submits=0
for _ in $(seq 120); do
    curl -s -m 5 "http://$ADDR/metrics" >"$WORK/metrics.txt" || true
    orders="$(sed -n 's/^alertgate_orders_total \(.*\)$/\1/p' "$WORK/metrics.txt")"
    submits="$(grep -c '^{"submit"' "$WORK/gw/fills.jsonl" || true)"
    [[ "$orders" == "$submits" ]] && break
    sleep 1
done
# One more sample once execution caught up (the index and the guard hold
# what is still inside the window; the venue's queues are empty).
stop "$SAMPLER"
rss_sample "$GW" "$LOAD_START_NS"
stop "$GW"

python3 - "$WORK" "$DURATION" "$CONNECTIONS" "$WINDOW" "$EVERY" <<'PY'
import json, os, re, sys
work, duration, conns, window, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
load = json.loads(open(f"{work}/load.txt").read().strip().splitlines()[-1])
rss = []
if os.path.exists(f"{work}/rss.txt"):
    rss = [tuple(map(float, l.split())) for l in open(f"{work}/rss.txt")]

def rss_at(t):
    """(time, RSS MiB) of the first sample at or after t seconds, (None, None) if none."""
    later = [(s, kb / 1024) for s, kb in rss if s >= t - 0.5]
    return later[0] if later else (None, None)

print(f"== result: gateway, window {window} s, signing_load -c{conns} -t2 -d{duration}s, "
      f"each alert signed at send time, same machine")
print(f"{'interval':>10}{'accepted/s':>12}{'p99 ms':>9}{'errors':>8}{'RSS MiB':>9}")
end, rates = 0.0, []
for i, iv in enumerate(load["intervals"]):
    end += iv["secs"]
    errors = iv["error_total"] + sum(iv["other"].values())
    r = rss_at(min(end, (i + 1) * every))[1]
    print(f"{end:>9.0f}s{iv['ok_per_s']:>12.0f}{iv['p99_ms']:>9.2f}{errors:>8}"
          f"{r if r is not None else float('nan'):>9.1f}")
    rates.append(iv["ok_per_s"])
errors = load["error_total"] + sum(load["other"].values())
print(f"{'run':>10}{load['ok_per_s']:>12.0f}{load['p99_ms']:>9.2f}{errors:>8}")

journal_accepted = 0
with open(f"{work}/gw/journal.jsonl") as f:
    for line in f:
        d = json.loads(line).get("decision")
        if isinstance(d, str):
            d = json.loads(d)
        journal_accepted += bool(d and d.get("accepted"))
submits = dupes = 0
order_ids = set()
with open(f"{work}/gw/fills.jsonl") as f:
    for line in f:
        if line.startswith('{"submit"'):
            submits += 1
            oid = json.loads(line)["submit"]["client_order_id"]
            dupes += oid in order_ids
            order_ids.add(oid)
metrics = open(f"{work}/metrics.txt").read()
def metric(name):
    m = re.search(r"^%s (\S+)$" % name, metrics, re.M)
    return m.group(1) if m else "?"
answered = load["ok"]
in_flight = journal_accepted - answered
print(f"gateway: 200 answers {answered}, journal accepted lines {journal_accepted} ({in_flight} in flight), "
      f"exchange-log submits {submits} (duplicate order ids {dupes}), "
      f"orders_total {metric('alertgate_orders_total')}, shed {metric('alertgate_shed_total')}")
(t1, one), (t3, three) = rss_at(window), rss_at(3 * window)
if one and three:
    print(f"gateway: RSS after 1 window (sample at {t1:.0f} s) {one:.1f} MiB, "
          f"after 3 windows (at {t3:.0f} s) {three:.1f} MiB "
          f"({(three / one - 1) * 100:+.1f} %), after execution caught up ({rss[-1][0]:.0f} s) "
          f"{rss[-1][1] / 1024:.1f} MiB")

checks = [
    ("rate: >= 20,000 accepted/s in every interval after the first", len(rates) > 1 and min(rates[1:]) >= 20000),
    ("p99 <= 10 ms over the run", load["p99_ms"] <= 10),
    ("0 errors", errors == 0),
    ("exactly once: journal = answers (+ in flight) = executed, each id once",
     0 <= in_flight <= conns and journal_accepted == submits and dupes == 0),
    ("memory: RSS after 3 windows within 10 % of after 1 window",
     bool(one and three and abs(three / one - 1) <= 0.10)),
]
for name, ok in checks:
    print(f"{name}: {'MET' if ok else 'NOT MET'}")
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
