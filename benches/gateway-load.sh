#!/usr/bin/env bash
# Load test for `alertgate serve`: N distinct signed alerts (timestamped
# scheme) sent from a second process (`alertgate send`) at a fixed rate,
# with the journal fsynced in a real temp directory. Prints throughput,
# latency p50/p99, errors and journal fsync statistics. Loopback only,
# bounded in time, cleans up after itself. Not run in CI.
#
#   benches/gateway-load.sh [-n ALERTS] [-r RATE_PER_S] [-t TIMEOUT_S]
#   (or ALERTS=, RATE=, TIMEOUT_S= in the environment)
set -euo pipefail

ALERTS="${ALERTS:-20000}"
# Offered a little above the 10k/s target: a sender paced at exactly 10k/s
# can never show the gateway keeping up with more.
RATE="${RATE:-11000}"
TIMEOUT_S="${TIMEOUT_S:-300}"
while getopts "n:r:t:h" opt; do
    case "$opt" in
        n) ALERTS="$OPTARG" ;;
        r) RATE="$OPTARG" ;;
        t) TIMEOUT_S="$OPTARG" ;;
        *) sed -n '2,9p' "$0"; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v python3 >/dev/null || { echo "gateway-load: python3 is required" >&2; exit 2; }
command -v curl >/dev/null || { echo "gateway-load: curl is required" >&2; exit 2; }

WORK=""
GW_PID=""
SEND_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$SEND_PID" ]]; then
        kill -TERM "$SEND_PID" 2>/dev/null || true
        wait "$SEND_PID" 2>/dev/null || true
    fi
    if [[ -n "$GW_PID" ]] && kill -0 "$GW_PID" 2>/dev/null; then
        kill -TERM "$GW_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$GW_PID" 2>/dev/null || true
        wait "$GW_PID" 2>/dev/null || true
    fi
    [[ -n "$WORK" ]] && rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Overall deadline: every wait below is bounded by it.
START_S=$SECONDS
remaining() { echo $(( TIMEOUT_S - (SECONDS - START_S) )); }
need_time() {
    if (( $(remaining) <= 0 )); then
        echo "gateway-load: overall timeout (${TIMEOUT_S}s) reached $1" >&2
        exit 124
    fi
}

echo "== building (cargo build --release -p alertgate)" >&2
timeout "$(remaining)" cargo build --release -p alertgate >&2
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/release/alertgate"
[[ -x "$BIN" ]] || { echo "gateway-load: no binary at $BIN" >&2; exit 2; }

# Under the target dir, not /tmp (often tmpfs), so the journal's fsync is real.
mkdir -p "$TARGET_DIR/tmp"
WORK="$(mktemp -d "$TARGET_DIR/tmp/gateway-load.XXXXXX")"
export ALERTGATE_LOAD_SECRET
ALERTGATE_LOAD_SECRET="load-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

echo "== generating $ALERTS signed alerts into $WORK/alerts.jsonl" >&2
python3 - "$WORK/alerts.jsonl" "$ALERTS" <<'PY'
import hashlib, hmac, json, os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
secret = os.environ["ALERTGATE_LOAD_SECRET"].encode()
now_ms = int(time.time() * 1000)
stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now_ms / 1000))
symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
with open(path, "w") as f:
    for i in range(n):
        body = json.dumps({
            "ticker": symbols[i % len(symbols)],
            "action": "buy" if i % 2 == 0 else "sell",
            "type": "market",
            "qty": "0.01",
            # distinct bodies: the replay guard may key on the body too
            "price": "%.2f" % (100 + i / 100),
            "time": stamp,
        }, separators=(",", ":"))
        t = now_ms // 1000
        sig = hmac.new(secret, f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
        f.write(json.dumps({
            "received_at": now_ms + i,
            "headers": {
                "Content-Type": "application/json",
                "X-Tradeeon-EventId": f"load-{now_ms}-{i}",
                "X-Tradeeon-Signature": f"t={t},s={sig}",
            },
            "body": body,
            "source_ip": "127.0.0.1",
        }, separators=(",", ":")) + "\n")
PY

# Open policy, no rate limits, no allowlist; the journal and the fill log
# live in $WORK (paths are relative to the config file).
cat >"$WORK/alertgate.toml" <<'TOML'
[auth]
scheme = "timestamped"
secrets_env = ["ALERTGATE_LOAD_SECRET"]

[rate]
per_second = 0

[serve]
journal = "journal.jsonl"
fills = "fills.jsonl"
per_ip_burst = 0
per_ip_per_second = 0
TOML

echo "== starting alertgate serve" >&2
RUST_LOG=warn "$BIN" serve --config "$WORK/alertgate.toml" --listen 127.0.0.1:0 \
    >"$WORK/serve.out" 2>"$WORK/serve.err" &
GW_PID=$!
ADDR=""
deadline=$(( SECONDS + 20 ))
while [[ -z "$ADDR" ]]; do
    need_time "waiting for the listening line"
    if ! kill -0 "$GW_PID" 2>/dev/null || (( SECONDS > deadline )); then
        echo "gateway-load: gateway did not start:" >&2
        cat "$WORK/serve.err" >&2
        exit 1
    fi
    ADDR="$(sed -n 's/^listening on \(.*\)$/\1/p' "$WORK/serve.out" | head -n 1)"
    [[ -n "$ADDR" ]] || sleep 0.05
done
until [[ "$(curl -s -m 2 "http://$ADDR/healthz" || true)" == ok* ]]; do
    need_time "waiting for /healthz"
    (( SECONDS <= deadline )) || { echo "gateway-load: /healthz never answered" >&2; exit 1; }
    sleep 0.05
done
echo "== gateway on $ADDR; sending $ALERTS alerts at $RATE/s" >&2

need_time "before sending"
send_rc=0
t0=$(date +%s.%N)
# In the background so that a signal to this script is handled at once.
timeout "$(remaining)" "$BIN" send "$WORK/alerts.jsonl" \
    --url "http://$ADDR/webhook" --rate "$RATE/s" \
    --scheme timestamped --secret-env ALERTGATE_LOAD_SECRET \
    --no-forwarded-for --timeout-ms 5000 >"$WORK/send.out" 2>"$WORK/send.err" &
SEND_PID=$!
wait "$SEND_PID" || send_rc=$?
SEND_PID=""
t1=$(date +%s.%N)
curl -s -m 5 "http://$ADDR/metrics" >"$WORK/metrics.txt" || true

# Graceful stop: SIGTERM, bounded wait for the journal flush.
kill -TERM "$GW_PID"
for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
gw_rc=0
if kill -0 "$GW_PID" 2>/dev/null; then
    echo "gateway-load: gateway still running 10 s after SIGTERM; killing it" >&2
    kill -KILL "$GW_PID" 2>/dev/null || true
    gw_rc=137
fi
wait "$GW_PID" 2>/dev/null || gw_rc=$?
GW_PID=""
journal_lines=$(wc -l <"$WORK/journal.jsonl" 2>/dev/null || echo 0)

echo "== alertgate send summary (exit $send_rc)"
cat "$WORK/send.out"
if [[ -s "$WORK/send.err" ]]; then
    echo "-- send stderr (first 5 lines)"
    head -n 5 "$WORK/send.err"
fi
python3 - "$WORK/send.out" "$WORK/metrics.txt" "$t0" "$t1" "$ALERTS" "$RATE" \
    "$journal_lines" "$gw_rc" "$WORK/journal.jsonl" <<'PY'
import json, re, sys
send_out, metrics_path, t0, t1, n, rate, journal, gw_rc, journal_path = sys.argv[1:]
elapsed = float(t1) - float(t0)
# The gateway's own arrival times: first to last journaled request.
stamps = []
try:
    with open(journal_path) as jf:
        for line in jf:
            stamps.append(json.loads(line)["received_at"])
except (OSError, ValueError, KeyError):
    pass
span_s = (max(stamps) - min(stamps)) / 1000 if len(stamps) > 1 else 0
vals = {}
for line in open(send_out):
    m = re.match(r"\s*(\S.*?)\s{2,}([\d.]+)\s*$", line)
    if m:
        vals[m.group(1).strip()] = float(m.group(2))
sent = vals.get("sent", 0)
accepted = vals.get("accepted", 0)
errors = (sent - accepted) + vals.get("failures", 0)
print("== result")
print(f"alerts                      {n} (offered at {rate}/s)")
print(f"wall time (send process)    {elapsed:.3f} s")
print(f"throughput achieved         {sent / elapsed:.0f} req/s answered, {accepted / elapsed:.0f} accepted/s")
if span_s > 0:
    print(f"gateway-side rate           {len(stamps) / span_s:.0f} req/s ({len(stamps)} journaled over {span_s:.3f} s, first to last arrival)")
print(f"latency p50 / p99           {vals.get('latency p50 ms', float('nan')):.2f} / {vals.get('latency p99 ms', float('nan')):.2f} ms")
print(f"errors                      {errors:.0f} (not accepted + failures; retries {vals.get('retries', 0):.0f})")
print(f"journal lines               {journal}")
print(f"gateway exit after SIGTERM  {gw_rc}")

try:
    text = open(metrics_path).read()
except OSError:
    text = ""
name = "alertgate_journal_fsync_seconds"
buckets, count, total = [], None, None
for line in text.splitlines():
    m = re.match(name + r'_bucket\{.*le="([^"]+)".*\}\s+(\S+)', line)
    if m:
        buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2))))
    elif line.startswith(name + "_count"):
        count = float(line.split()[-1])
    elif line.startswith(name + "_sum"):
        total = float(line.split()[-1])
if count:
    buckets.sort()
    def q(p):
        for le, c in buckets:
            if c >= p * count:
                return "> %g ms" % (buckets[-2][0] * 1000) if le == float("inf") else "<= %g ms" % (le * 1000)
        return "n/a"
    print(f"fsyncs (group commits)      {count:.0f} ({accepted / count:.1f} accepted per fsync)")
    print(f"fsync mean                  {total / count * 1000:.3f} ms")
    print(f"fsync p50 / p99 (buckets)   {q(0.5)} / {q(0.99)}")
else:
    print("fsyncs                      (no alertgate_journal_fsync_seconds in /metrics)")
def metric(metric_name):
    for line in text.splitlines():
        if line.startswith(metric_name + " "):
            return line.split()[-1]
    return "?"
print(f"orders / fills (mock)       {metric('alertgate_orders_total')} / {metric('alertgate_fills_total')} at the /metrics scrape after the last answer")
gw_rate = len(stamps) / span_s if span_s > 0 else 0
ok = errors == 0 and gw_rate >= 10000 and vals.get("latency p99 ms", 1e9) <= 10
print(f"target (gateway-side >=10k/s, p99<=10ms, 0 errors): {'MET' if ok else 'NOT MET'}")
PY
