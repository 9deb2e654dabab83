#!/usr/bin/env python3
"""Differential test: `alertgate replay` with `conventions = "backtesting.py"`
against backtesting.py 0.6.6 itself.

Each strategy below runs in backtesting.py on its bundled data (GOOG daily,
EURUSD hourly). Every order it places is recorded as the alert that would
place it; the bars are written as a market CSV; `alertgate replay --json`
replays the alerts; the two runs must agree: the same closed trades (side,
size, entry and exit times and prices), the same open position, and equity
at every point of the replay's curve within 1e-9 relative.

Timing: backtesting.py runs a bar's orders, then `Strategy.next` at its close;
what `next` places works from the next bar. The alert is therefore received
at the next bar's start: with zero latency it reaches the exchange then, and
"the first bar starting at or after arrival" is that bar. A market alert
carries `price` = backtesting.py's reference (the last close, spread-adjusted)
so the gate checks its bracket against the same price.

Usage: diff.py ALERTGATE_BINARY [--keep DIR]. Exit 0 when every strategy
agrees, 1 with the differences on stderr, 2 when backtesting.py is not 0.6.6.
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path

import backtesting
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import EURUSD, GOOG, SMA

VERSION = "0.6.6"
PRICE_RTOL = 1e-10  # the JSON report keeps 12 significant digits
EQUITY_RTOL = 1e-9


class Recorded(Strategy):
    """Records each order as (bar index, long, size, limit, stop, sl, tp, reference)."""

    def init(self):
        self.placed = []
        self.setup()

    def setup(self):
        pass

    def place(self, is_long, size, limit=None, stop=None, sl=None, tp=None):
        close = self.data.Close[-1]
        spread = self._broker._spread
        reference = close * (1 + math.copysign(spread, 1 if is_long else -1))
        self.placed.append((len(self.data) - 1, is_long, size, limit, stop, sl, tp, reference))
        place = Strategy.buy if is_long else Strategy.sell
        return place(self, size=size, limit=limit, stop=stop, sl=sl, tp=tp)


class GoogMarketBrackets(Recorded):
    """SMA 10/30 crossovers: market reversals with a stop-loss and a take-profit."""

    def setup(self):
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 30)

    def next(self):
        c, pos = self.data.Close[-1], self.position.size
        if crossover(self.fast, self.slow):
            self.place(True, 10 + max(0, -pos), sl=round(c * 0.93, 2), tp=round(c * 1.15, 2))
        elif crossover(self.slow, self.fast):
            self.place(False, 10 + max(0, pos), sl=round(c * 1.07, 2), tp=round(c * 0.85, 2))


class GoogLimitEntries(Recorded):
    """Resting limits that are never cancelled: fractional buys with brackets,
    whole-unit sells without; reductions, reversals, margin refusals."""

    def next(self):
        i, c = len(self.data), self.data.Close[-1]
        if i % 7 == 0:
            self.place(True, 0.3, limit=round(c * 0.98, 2), sl=round(c * 0.9, 2), tp=round(c * 1.06, 2))
        if i % 11 == 0:
            self.place(False, 5, limit=round(c * 1.02, 2))


class GoogStopBreakouts(Recorded):
    """Breakout stops both ways with brackets (gaps through the stop, the
    take-profit reached in the entry bar), left working when one fills."""

    def next(self):
        if len(self.data) % 3 or len(self.orders) >= 12:
            return
        c = self.data.Close[-1]
        up = round(max(self.data.High[-3:]), 2) + 0.01
        down = round(min(self.data.Low[-3:]), 2) - 0.01
        self.place(True, 10, stop=up, sl=round(c * 0.95, 2), tp=round(up * 1.04, 2))
        self.place(False, 10, stop=down, sl=round(c * 1.05, 2), tp=round(down * 0.96, 2))


class EurusdMixed(Recorded):
    """SMA 12/48 market reversals with brackets, plus limit buys and stop
    sells with a take-profit every day; a spread."""

    def setup(self):
        self.fast = self.I(SMA, self.data.Close, 12)
        self.slow = self.I(SMA, self.data.Close, 48)

    def next(self):
        c, pos, i = self.data.Close[-1], self.position.size, len(self.data)
        if crossover(self.fast, self.slow):
            self.place(True, 10000 + max(0, -pos), sl=round(c * 0.996, 5), tp=round(c * 1.008, 5))
        elif crossover(self.slow, self.fast):
            self.place(False, 10000 + max(0, pos), sl=round(c * 1.004, 5), tp=round(c * 0.992, 5))
        if i % 24 == 0:
            self.place(True, 5000, limit=round(c - 0.0015, 5))
            stop = round(c - 0.0025, 5)
            self.place(False, 5000, stop=stop, tp=round(stop - 0.003, 5))


class EurusdFractions(Recorded):
    """Fractions of the available margin: market buys with brackets, stop
    sells with brackets under the last lows."""

    def next(self):
        i, c = len(self.data), self.data.Close[-1]
        if i % 10 == 0:
            self.place(True, 0.5, sl=round(c * 0.997, 5), tp=round(c * 1.004, 5))
        if i % 10 == 5:
            stop = round(min(self.data.Low[-3:]), 5)
            self.place(False, 0.25, stop=stop, sl=round(c * 1.003, 5), tp=round(stop * 0.996, 5))


# (name, strategy, data, symbol, decimals, cash, commission bps, spread bps)
CASES = [
    ("goog-market-brackets", GoogMarketBrackets, GOOG, "GOOG/USD", 10_000, 10, 0),
    ("goog-limit-entries", GoogLimitEntries, GOOG, "GOOG/USD", 10_000, 0, 0),
    ("goog-stop-breakouts", GoogStopBreakouts, GOOG, "GOOG/USD", 10_000, 20, 0),
    ("eurusd-mixed", EurusdMixed, EURUSD, "EUR/USD", 100_000, 2, 1),
    ("eurusd-fractions", EurusdFractions, EURUSD, "EUR/USD", 10_000, 5, 0),
]


def ms(ts):
    ts = pd.Timestamp(ts)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(round(ts.timestamp() * 1000))


def iso(t_ms):
    return datetime.fromtimestamp(t_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def write_market(data, path):
    rows = ["time,open,high,low,close,volume"]
    for t, r in data.iterrows():
        prices = ",".join(repr(float(x)) for x in (r.Open, r.High, r.Low, r.Close, r.Volume))
        rows.append(f"{ms(t)},{prices}")
    path.write_text("\n".join(rows) + "\n")


def alert_lines(placed, data, symbol):
    """One recorded webhook per order, received at the next bar's start."""
    ticker = symbol.replace("/", "")
    for seq, (i, is_long, size, limit, stop, sl, tp, reference) in enumerate(placed):
        if i + 1 >= len(data):
            continue  # placed at the last bar: backtesting.py never runs it
        at = ms(data.index[i + 1])
        body = {"ticker": ticker, "action": "buy" if is_long else "sell", "qty": repr(float(size))}
        if limit is not None:
            body.update(type="limit", price=repr(float(limit)))
        elif stop is not None:
            body.update(type="stop_loss", stop_price=repr(float(stop)))
        else:
            body.update(type="market", price=repr(float(reference)))
        if sl is not None:
            body["stop_loss"] = repr(float(sl))
        if tp is not None:
            body["take_profit"] = repr(float(tp))
        body.update(time=iso(at), seq=seq)
        yield json.dumps({"received_at": at, "body": json.dumps(body)})


def config(cash, commission_bps, spread_bps, conventions):
    return f"""[policy]
min_confidence = 0
[rate]
per_second = 0
[simulation]
conventions = "{conventions}"
initial_cash = {cash}
taker_fee_bps = {commission_bps}
maker_fee_bps = {commission_bps}
slippage_bps = {spread_bps}
"""


def close(a, b, rtol):
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300)


def run_case(binary, work, case, conventions):
    name, strategy, data, symbol, cash, commission_bps, spread_bps = case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bt = Backtest(data, strategy, cash=cash, commission=commission_bps / 10_000,
                      spread=spread_bps / 10_000, margin=1.0, trade_on_close=False,
                      hedging=False, exclusive_orders=False, finalize_trades=False)
        stats = bt.run()
    notes = [str(w.message) for w in caught]
    coverage = {"margin refusals": sum("insufficient margin" in n for n in notes),
                "legs left to the next bar": sum("same bar its parent" in n for n in notes)}
    placed = stats._strategy.placed
    write_market(data, work / f"{name}.csv")
    (work / f"{name}.jsonl").write_text("\n".join(alert_lines(placed, data, symbol)) + "\n")
    (work / f"{name}.toml").write_text(config(cash, commission_bps, spread_bps, conventions))
    out = work / f"{name}.json"
    run = subprocess.run([binary, "replay", "--config", str(work / f"{name}.toml"),
                          "--stream", str(work / f"{name}.jsonl"),
                          "--market", f"{symbol}={work / f'{name}.csv'}",
                          "--json", str(out)], capture_output=True, text=True)
    if run.returncode != 0:
        return [f"alertgate replay failed ({run.returncode}): {run.stderr.strip()}"], coverage
    report = json.loads(out.read_text())
    return compare(stats, report), coverage


def compare(stats, report):
    problems = []
    summary = report["summary"]
    if summary["alerts"]["rejected"]:
        problems.append(f"the gate refused {summary['alerts']['rejected_by_code']}")
    ours = sorted((t["exit_time"], t["entry_time"], t["side"], t["quantity"], t["entry_price"],
                   t["exit_price"]) for t in report["trades"])
    theirs = sorted((iso(ms(t.ExitTime)), iso(ms(t.EntryTime)), "long" if t.Size > 0 else "short",
                     float(abs(t.Size)), float(t.EntryPrice), float(t.ExitPrice))
                    for t in stats._trades.itertuples())
    if len(ours) != len(theirs):
        problems.append(f"{len(ours)} trades, backtesting.py {len(theirs)}")
    for a, b in zip(ours, theirs):
        same = a[:3] == b[:3] and a[3] == b[3] and close(a[4], b[4], PRICE_RTOL) \
            and close(a[5], b[5], PRICE_RTOL)
        if not same:
            problems.append(f"first different trade: ours {a}, backtesting.py {b}")
            break
    open_theirs = sum(t.size for t in stats._strategy.trades)
    open_ours = sum(p["quantity"] for p in summary["open_positions"])
    if open_ours != open_theirs:
        problems.append(f"open position {open_ours}, backtesting.py {open_theirs}")
    equity = stats._equity_curve["Equity"]
    by_time = {iso(ms(t)): e for t, e in equity.items()}
    for p in report["equity_curve"]:
        if not close(p["equity"], by_time[p["time"]], EQUITY_RTOL):
            problems.append(f"equity at {p['time']}: {p['equity']}, backtesting.py {by_time[p['time']]}")
            break
    if not close(summary["final_equity"], float(equity.iloc[-1]), EQUITY_RTOL):
        problems.append(f"final equity {summary['final_equity']}, backtesting.py {equity.iloc[-1]}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("alertgate", help="the alertgate binary")
    parser.add_argument("--keep", help="write the inputs and reports here (default: a temporary directory)")
    parser.add_argument("--conventions", default="backtesting.py",
                        help="replay under these conventions (alertgate: to see the differences)")
    args = parser.parse_args()
    if backtesting.__version__ != VERSION:
        print(f"backtesting.py {backtesting.__version__} is installed; this test is for {VERSION}",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        failed = 0
        for case in CASES:
            problems, coverage = run_case(args.alertgate, work, case, args.conventions)
            report = work / f"{case[0]}.json"
            trades = json.loads(report.read_text())["summary"]["trades"] if report.exists() else "?"
            status = "ok" if not problems else "DIFFERS"
            covered = ", ".join(f"{k} {v}" for k, v in coverage.items())
            print(f"{case[0]:22} {status:7} trades {trades:>4}; {covered}", flush=True)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
