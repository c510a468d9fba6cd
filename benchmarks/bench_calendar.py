"""Working-day arithmetic: Shixian's indexed calendar vs chinese_calendar.find_workday.

Runs the same 20,000 random (start, n) cases through both in one process and prints the per-case
speed ratio. Target: >= 200x. Usage: .venv/bin/python benchmarks/bench_calendar.py [--cases N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import chinese_calendar

from domain.calendar import load_calendar
from domain.clocks import compute
from domain.rules import load_rules


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    # Both engines must stay inside chinese-calendar's data (it raises beyond 2026).
    lo, hi = dt.date(2005, 1, 1).toordinal(), dt.date(2025, 10, 31).toordinal()
    cases = [(dt.date.fromordinal(rng.randint(lo, hi)), rng.randint(1, 40)) for _ in range(args.cases)]

    t0 = time.perf_counter()
    cal = load_calendar()
    cal.add_working_days(dt.date(2010, 1, 1), 1)  # build the national index
    build = time.perf_counter() - t0

    t0 = time.perf_counter()
    ours = [cal.add_working_days(s, n) for s, n in cases]
    t_ours = time.perf_counter() - t0

    rules = load_rules()
    rule = rules["policy_publication"]  # 20 wd, no editions that change length
    t0 = time.perf_counter()
    for s, _ in cases:
        compute(rule, s, cal, explain=False)
    t_full = time.perf_counter() - t0

    t0 = time.perf_counter()
    # find_workday(delta, date): the delta-th working day after date (date itself excluded).
    theirs = [chinese_calendar.find_workday(n, s) for s, n in cases]
    t_theirs = time.perf_counter() - t0

    # find_workday treats a rest-day start as "day 0 = the next working day" (the deemed-receipt
    # option of §4), so compare against that semantics there; on working-day starts they must agree.
    mismatches = 0
    for (s, n), a, b in zip(cases, ours, theirs, strict=True):
        expected = a if cal.is_workday(s) else cal.add_working_days(cal.next_working_day(s), n)
        mismatches += expected != b
    per = lambda t: t / len(cases) * 1e6  # noqa: E731
    print(f"cases: {len(cases)}  index build: {build * 1000:.1f} ms  mismatches: {mismatches}")
    print(f"chinese_calendar.find_workday: {per(t_theirs):8.2f} µs/case (baseline)")
    print(f"shixian add_working_days:      {per(t_ours):8.2f} µs/case  ratio {t_theirs / t_ours:7.1f}x")
    print(f"shixian compute (no explain):  {per(t_full):8.2f} µs/case  ratio {t_theirs / t_full:7.1f}x")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
