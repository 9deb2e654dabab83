#!/usr/bin/env bash
# Sustained load test for `alertgate serve` against two baselines, all
# driven by the same tool (wrk, -t2 -c64) in the same run:
#   bare     an axum handler that only reads the body and answers (the HTTP
#            stack's own limit: benches/src/bin/bare_axum.rs)
#   python   FastAPI + uvicorn (2 workers) doing what the original design
#            does before execution: verify the HMAC, parse, validate
#            (benches/load/webhook.py)
#   gateway  alertgate serve: journal fsynced under the target dir, every
#            accepted order executed by the paper venue
# Each target gets distinct signed alerts (timestamped scheme) generated
# just before its run (benches/load/alerts.lua cycles through them). After
# the gateway's run: journal accepted lines = 200 answers, exchange-log
# submits = 200 answers, each order id once. Prints a table and the ratios.
# Loopback only, bounded in time, cleans up. Not run in CI.
#
#   benches/gateway-sustained.sh [-d SECONDS] [-c CONNECTIONS] [-n ALERTS] [-o TARGETS]
#   (or DURATION=, CONNECTIONS=, ALERTS=, TARGETS="bare python gateway";
#   GATEWAY_LOG=info shows the gateway's snapshot lines, KEEP=1 keeps the files,
#   SERVE_EXTRA='snapshot_every_orders = 0\nsnapshot_every_s = 0' adds [serve] lines)
set -euo pipefail

DURATION="${DURATION:-60}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS=2
# Enough for ~90k/s over the run (wrk's two threads rarely split evenly): a thread that runs out starts over, and
# its copies are (rightly) refused as replays.
ALERTS="${ALERTS:-}"
TARGETS="${TARGETS:-bare python gateway}"
while getopts "d:c:n:o:h" opt; do
    case "$opt" in
        d) DURATION="$OPTARG" ;;
        c) CONNECTIONS="$OPTARG" ;;
        n) ALERTS="$OPTARG" ;;
        o) TARGETS="$OPTARG" ;;
        *) sed -n '2,18p' "$0"; exit 2 ;;
    esac
done
ALERTS="${ALERTS:-$(( DURATION * 90000 + 50000 ))}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
for tool in python3 curl; do
    command -v "$tool" >/dev/null || { echo "gateway-sustained: $tool is required" >&2; exit 2; }
done
if ! command -v wrk >/dev/null; then
    echo "== installing wrk" >&2
    { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } >&2 \
        || { echo "gateway-sustained: wrk is required (apt-get install wrk)" >&2; exit 2; }
fi

NAME=gateway-sustained
# shellcheck source=load/lib.sh
source benches/load/lib.sh

echo "== building (release: alertgate, bare_axum)" >&2
cargo build --release -p alertgate -p alertgate-benches --bins >&2
TARGET_DIR="$(target_dir)"
# ALERTGATE_BIN: another build of the gateway (an A/B in the same run).
BIN="${ALERTGATE_BIN:-$TARGET_DIR/release/alertgate}"
BARE="$TARGET_DIR/release/bare_axum"
# Under the target dir, not /tmp (often tmpfs), so the journal's fsync is real.
mkdir -p "$TARGET_DIR/tmp"
WORK="$(mktemp -d "$TARGET_DIR/tmp/gateway-sustained.XXXXXX")"
export ALERTGATE_LOAD_SECRET
ALERTGATE_LOAD_SECRET="load-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# Distinct signed alerts, fresh (signed and stamped now): one line each,
# "<signature header>\t<event id>\t<body>".
generate() {
    python3 - "$WORK/alerts.tsv" "$ALERTS" "$1" <<'PY'
import hashlib, hmac, json, os, sys, time
path, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
secret = os.environ["ALERTGATE_LOAD_SECRET"].encode()
now = time.time()
t = str(int(now)).encode()
stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now))
symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
actions = ["buy", "sell"]
mac = hmac.new(secret, digestmod=hashlib.sha256)
with open(path, "w") as f:
    out = []
    for i in range(n):
        # Distinct bodies: the price carries the index. Each symbol
        # alternates buy and sell, as a strategy's entries and exits do, so
        # positions open and close (one-sided flow would pile up open lots,
        # which the paper venue keeps, FIFO, in its state and snapshots).
        body = ('{"ticker":"%s","action":"%s","type":"market","qty":"0.01",'
                '"price":"%d.%02d","time":"%s"}' % (
                    symbols[i % 4], actions[(i // 4) % 2], 100 + i // 100, i % 100, stamp)).encode()
        m = mac.copy()
        m.update(t + b"." + body)
        out.append("t=%s,s=%s\t%s-%d\t%s\n" % (t.decode(), m.hexdigest(), tag, i, body.decode()))
        if len(out) >= 100000:
            f.writelines(out)
            out = []
    f.writelines(out)
PY
}

# Runs wrk at http://$2/webhook; its report into $WORK/wrk-$1.txt.
drive() {
    local name=$1 addr=$2
    echo "== $name: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency" >&2
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency --timeout 5s \
        -s benches/load/alerts.lua "http://$addr/webhook" -- "$WORK/alerts.tsv" "$THREADS" \
        >"$WORK/wrk-$name.txt" 2>&1
    cat "$WORK/wrk-$name.txt" >&2
}

declare -A EXTRA
run_bare() {
    "$BARE" 127.0.0.1:0 >"$WORK/bare.out" 2>"$WORK/bare.err" &
    local pid=$!; PIDS+=("$pid")
    local addr; addr="$(listening "$WORK/bare.out" "$pid")" || { cat "$WORK/bare.err" >&2; exit 1; }
    generate bare
    drive bare "$addr"
    stop "$pid"
}

run_python() {
    local venv="$TARGET_DIR/tmp/pyvenv"
    if ! "$venv/bin/python" -c 'import fastapi, uvicorn' 2>/dev/null; then
        echo "== installing fastapi + uvicorn into $venv" >&2
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q fastapi uvicorn >&2
    fi
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    "$venv/bin/uvicorn" --app-dir benches/load webhook:app --host 127.0.0.1 --port "$port" \
        --workers 2 --log-level warning --no-access-log >"$WORK/python.out" 2>"$WORK/python.err" &
    local pid=$!; PIDS+=("$pid")
    local deadline=$(( SECONDS + 60 ))
    until curl -s -o /dev/null -m 2 -X POST "http://127.0.0.1:$port/webhook"; do
        kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )) || { cat "$WORK/python.err" >&2; exit 1; }
        sleep 0.2
    done
    generate python
    drive python "127.0.0.1:$port"
    stop "$pid"
}

run_gateway() {
    # Open policy, no rate limits; the guard sized for 20,000 accepted/s
    # over the default 300 s window + 60 s skew (14.4 M slots, 330 MiB).
    mkdir -p "$WORK/gw"
    cat >"$WORK/gw/alertgate.toml" <<'TOML'
[auth]
scheme = "timestamped"
secrets_env = ["ALERTGATE_LOAD_SECRET"]

[rate]
per_second = 0

[replay]
peak_per_second = 20000

[serve]
journal = "journal.jsonl"
fills = "fills.jsonl"
per_ip_burst = 0
per_ip_per_second = 0
TOML
    # SERVE_EXTRA: more [serve] lines (an A/B of a setting in the same run).
    [[ -n "${SERVE_EXTRA:-}" ]] && printf '%b\n' "$SERVE_EXTRA" >>"$WORK/gw/alertgate.toml"
    RUST_LOG="${GATEWAY_LOG:-warn}" "$BIN" serve --config "$WORK/gw/alertgate.toml" --listen 127.0.0.1:0 \
        >"$WORK/gateway.out" 2>"$WORK/gateway.err" &
    local pid=$!; PIDS+=("$pid")
    local addr; addr="$(listening "$WORK/gateway.out" "$pid")" || { cat "$WORK/gateway.err" >&2; exit 1; }
    generate gateway
    drive gateway "$addr"
    # Execution runs after the answer: let the paper venue catch up.
    local orders=-1 submits=0
    for _ in $(seq 120); do
        curl -s -m 5 "http://$addr/metrics" >"$WORK/metrics.txt" || true
        orders="$(sed -n 's/^alertgate_orders_total \(.*\)$/\1/p' "$WORK/metrics.txt")"
        submits="$(grep -c '^{"submit"' "$WORK/gw/fills.jsonl" || true)"
        [[ "$orders" == "$submits" ]] && break
        sleep 1
    done
    stop "$pid"
}

for target in $TARGETS; do
    "run_$target"
done

python3 - "$WORK" "$DURATION" "$CONNECTIONS" $TARGETS <<'PY'
import json, re, sys
work, duration, conns, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

def wrk(name):
    text = open(f"{work}/wrk-{name}.txt").read()
    r = {"p50": float("nan"), "p99": float("nan"), "non2xx": 0, "socket": 0}
    m = re.search(r"(\d+) requests in ([\d.]+)(s|m)", text)
    r["requests"] = int(m.group(1)); r["secs"] = float(m.group(2)) * (60 if m.group(3) == "m" else 1)
    for p in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, text, re.M)
        if m:
            r["p" + p] = ms(m.group(1), m.group(2))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["socket"] = sum(int(x) for x in m.groups())
    r["ok"] = r["requests"] - r["non2xx"]
    r["rate"] = r["ok"] / r["secs"]
    r["errors"] = r["non2xx"] + r["socket"]
    return r

rows = {t: wrk(t) for t in targets}
print(f"== result: wrk -t2 -c{conns} -d{duration}s, distinct signed alerts, same machine")
print(f"{'target':<10}{'answered 200/s':>16}{'p50 ms':>9}{'p99 ms':>9}{'errors':>9}")
for t, r in rows.items():
    print(f"{t:<10}{r['rate']:>16.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['errors']:>9}")
ok = True
if "gateway" in rows:
    g = rows["gateway"]
    accepted = answered_ok = g["ok"]
    journal_accepted, order_ids = 0, set()
    with open(f"{work}/gw/journal.jsonl") as f:
        for line in f:
            d = json.loads(line).get("decision")
            if isinstance(d, str):
                d = json.loads(d)
            if d and d.get("accepted"):
                journal_accepted += 1
    submits = dupes = 0
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
    def hist(name):
        c = re.search(r"^%s_count (\S+)$" % name, metrics, re.M)
        s = re.search(r"^%s_sum (\S+)$" % name, metrics, re.M)
        return (float(c.group(1)), float(s.group(1))) if c and s else (0, 0)
    fs_n, fs_sum = hist("alertgate_journal_fsync_seconds")
    de_n, de_sum = hist("alertgate_decision_seconds")
    print(f"gateway: 200 answers {accepted}, journal accepted lines {journal_accepted}, "
          f"exchange-log submits {submits} (duplicate order ids {dupes}), "
          f"orders_total {metric('alertgate_orders_total')}, shed {metric('alertgate_shed_total')}")
    if fs_n:
        print(f"gateway: {fs_n:.0f} fsyncs ({accepted / fs_n:.1f} accepted per fsync, mean {fs_sum / fs_n * 1000:.2f} ms); "
              f"decision mean {de_sum / max(de_n, 1) * 1e6:.0f} us")
    target_ok = g["rate"] >= 20000 and g["p99"] <= 10 and g["errors"] == 0
    # wrk closes its connections at the end with requests in flight: those
    # were decided (and executed) but never counted, at most one per
    # connection.
    in_flight = journal_accepted - accepted
    exec_ok = 0 <= in_flight <= int(conns) and journal_accepted == submits and dupes == 0
    print(f"gateway: {in_flight} accepted in flight when wrk stopped (journaled and executed, unanswered)")
    print(f"target >= 20,000 accepted/s, p99 <= 10 ms, 0 errors: {'MET' if target_ok else 'NOT MET'}")
    print(f"journal = answers (+ in flight) = executed, once each: {'MET' if exec_ok else 'NOT MET'}")
    ok = target_ok and exec_ok
    if "python" in rows:
        x = g["rate"] / rows["python"]["rate"]
        print(f"gateway / python: {x:.2f}x (target >= 2x: {'MET' if x >= 2 else 'NOT MET'})")
        ok &= x >= 2
    if "bare" in rows:
        x = g["rate"] / rows["bare"]["rate"]
        print(f"gateway / bare axum: {x:.0%} (target >= 50%: {'MET' if x >= 0.5 else 'NOT MET'})")
        ok &= x >= 0.5
sys.exit(0 if ok else 1)
PY
