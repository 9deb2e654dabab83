#!/usr/bin/env bash
# Issue 13, point 3: market-data speed and scale. Generates the workloads
# (benches/examples/market_bench.rs) under WORK (default
# ${TMPDIR:-/tmp}/alertgate-market-bench, deleted at the end), then measures:
#   1. CSV parsing in memory, one core: MB/s and rows/s (median of 7);
#   2. `alertgate replay` on a year of 1-minute bars + 20,000 alerts, cold
#      (--no-cache) and from the cache, against backtesting.py's bt.run() on
#      the same signals (benches/load/backtesting_ratio.py; needs
#      `pip install backtesting==0.6.6`);
#   3. the scale run (SCALE=0 skips it): 100 symbols x 5 years of 1-minute
#      bars (262.8 M bars, ~12.6 GB of cache, written straight into the
#      cache's format), replayed RUNS times under /usr/bin/time -v: elapsed,
#      bars/s, peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${WORK:-${TMPDIR:-/tmp}/alertgate-market-bench}
runs=${RUNS:-3}
trap 'rm -rf "$work"' EXIT
cargo build --release -p alertgate --bin alertgate
cargo build --release -p alertgate-benches --example market_bench
bench=target/release/examples/market_bench
alertgate=target/release/alertgate

$bench year "$work/year"
$bench parse "$work/year/market/BTC-USDT.csv" 7
python3 benches/load/backtesting_ratio.py "$work/year" "$alertgate" 5
rm -rf "$work/year"

if [ "${SCALE:-1}" = 1 ]; then
  $bench scale "$work/scale" "${SYMBOLS:-100}" "${YEARS:-5}"
  bars=$(( ${SYMBOLS:-100} * ${YEARS:-5} * 525600 ))
  for i in $(seq "$runs"); do
    /usr/bin/time -v "$alertgate" replay --config "$work/scale/alertgate.toml" \
      --cache-dir "$work/scale/cache" > /dev/null 2> "$work/time.txt"
    elapsed=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
    seconds=$(echo "$elapsed" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    echo "scale run $i: $bars bars in $elapsed ($(awk "BEGIN { printf \"%.1f\", $bars / $seconds / 1e6 }") M bars/s), peak RSS $(( rss / 1024 )) MiB"
  done
fi
