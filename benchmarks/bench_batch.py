"""`shixian deadline --batch` of 100,000 rows, whole process (start-up, CSV in and out), against
chinese_calendar.find_workday on the same cases in this process; prints the per-case ratio. Goal: >= 50x.

The rows are request_reply clocks received on random days of 2019-06..2025-10 (the 2019 rules: 20 working days) (inside chinese-calendar's data),
national calendar; find_workday(20, start) is the same question (the 20th working day after the start).
Usage: .venv/bin/python benchmarks/bench_batch.py [--rows 100000] [--baseline-cases 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--baseline-cases", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    lo, hi = dt.date(2019, 6, 1).toordinal(), dt.date(2025, 10, 31).toordinal()  # one edition: 20 working days
    starts = [dt.date.fromordinal(rng.randint(lo, hi)) for _ in range(args.rows)]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        fh.write("rule,start,region\n")
        fh.writelines(f"request_reply,{s.isoformat()},national\n" for s in starts)
        path = fh.name
    shixian = Path(sys.executable).parent / "shixian"
    t0 = time.perf_counter()
    r = subprocess.run([str(shixian), "deadline", "--batch", path], capture_output=True, text=True, cwd=ROOT)
    batch = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()[1:]
    assert len(out) == args.rows

    import chinese_calendar

    sample = starts[: args.baseline_cases]
    t0 = time.perf_counter()
    theirs = [chinese_calendar.find_workday(20, s) for s in sample]
    base = (time.perf_counter() - t0) / len(sample)
    # find_workday treats a rest-day start as "day 0 = the next working day"; on working-day starts the two agree.
    mismatches = sum(
        o.split(",")[3] != t.isoformat()
        for o, t, s in zip(out, theirs, sample, strict=True)
        if chinese_calendar.is_workday(s)
    )
    per_case = batch / args.rows
    print(
        f"shixian deadline --batch: {args.rows:,} rows in {batch:.2f} s (whole process) = {per_case * 1e6:.1f} µs/case"
    )
    print(f"chinese_calendar.find_workday: {base * 1e6:.1f} µs/case ({len(sample):,} cases)")
    distinct = len(set(starts))
    print(
        f"ratio: {base / per_case:.0f}x per case (goal >= 50x); {distinct:,} distinct start days; "
        f"mismatches on working-day starts of the sample: {mismatches}"
    )
    Path(path).unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
