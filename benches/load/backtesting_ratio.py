"""alertgate replay against backtesting.py on the same signals (issue 13).

Usage: backtesting_ratio.py DIR ALERTGATE [RUNS]

DIR holds `market_bench year DIR`'s workload. Times `alertgate replay`
as a whole process, cold (`--no-cache`: read and parse the CSV) and from
the market cache (written by one run first), and backtesting.py's `bt.run()`
alone, its data already in memory; prints the medians and the ratios.
Also the replay's own `--timings` run phase (the gate on every alert, the
bars, the exchange: what is left once the inputs are loaded).
Needs `pip install backtesting==0.6.6`.
"""

import shutil
import statistics
import subprocess
import sys
import time

import pandas as pd
from backtesting import Backtest, Strategy


RUN_PHASES = []


def replay(alertgate, config, extra):
    start = time.perf_counter()
    done = subprocess.run([alertgate, "replay", "--config", config, "--timings", *extra],
                          check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    # "timings: load L ms, run R ms, report P ms"
    run = done.stderr.split("run ")[1].split(" ms")[0]
    RUN_PHASES.append(float(run) / 1e3)
    return elapsed


def backtesting_runs(directory, runs):
    df = pd.read_csv(f"{directory}/market/BTC-USDT.csv")
    df.index = pd.to_datetime(df["time"], unit="ms")
    df = df.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]
    signals = pd.read_csv(f"{directory}/signals.csv")
    side = dict(zip(signals["bar"], signals["side"]))

    class Signals(Strategy):
        """Buys 1 on the crossover's buy bars, closes on its sell bars."""

        def init(self):
            pass

        def next(self):
            s = side.get(len(self.data) - 1)
            if s == "buy":
                self.buy(size=1)
            elif s == "sell":
                self.position.close()

    bt = Backtest(df, Signals, cash=1_000_000, commission=0.0005)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        stats = bt.run()
        times.append(time.perf_counter() - start)
    return times, stats


def main():
    directory, alertgate = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    config = f"{directory}/alertgate.toml"
    cache = f"{directory}/cache"
    cold = [replay(alertgate, config, ["--no-cache"]) for _ in range(runs)]
    shutil.rmtree(cache, ignore_errors=True)
    first = replay(alertgate, config, ["--cache-dir", cache])
    cached = [replay(alertgate, config, ["--cache-dir", cache]) for _ in range(runs)]
    bt, stats = backtesting_runs(directory, max(3, runs // 2))
    med = statistics.median
    print(f"alertgate replay, cold (--no-cache), median of {runs}: {med(cold) * 1e3:.0f} ms  {sorted(cold)}")
    print(f"alertgate replay, first run writing the cache: {first * 1e3:.0f} ms")
    print(f"alertgate replay, from the cache, median of {runs}: {med(cached) * 1e3:.0f} ms  {sorted(cached)}")
    print(f"backtesting.py bt.run(), median of {len(bt)}: {med(bt) * 1e3:.0f} ms  {sorted(bt)}"
          f"  ({stats['# Trades']} trades)")
    print(f"alertgate replay's run phase (--timings), median of {len(RUN_PHASES)}: "
          f"{med(RUN_PHASES) * 1e3:.0f} ms  ({med(bt) / med(RUN_PHASES):.1f}x bt.run())")
    print(f"ratio cold:   {med(bt) / med(cold):.1f}x  (target >= 100x)")
    print(f"ratio cached: {med(bt) / med(cached):.1f}x  (target >= 300x)")


if __name__ == "__main__":
    main()
