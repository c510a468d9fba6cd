"""Re-projecting finished clocks after a calendar change (activities.store.reproject_closed, page by page).

Stores N finished requests with a met or missed reply clock in a fresh SQLite store, then times two passes:
one where nothing changed (the usual reload: each clock checked without building its explanation) and one
where every clock changed (its stored provisional mark flipped: full explanation, new snapshot, a record).
Usage: .venv/bin/python benchmarks/bench_reproject.py [--items N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _store(n: int, flip: bool) -> None:
    from activities.clocks import ClockSpec, calc
    from domain.model import ClockSnapshot, ItemSnapshot
    from store.db import session
    from store.items import save_snapshot

    start = dt.date(2025, 3, 3)
    with session() as s:
        for i in range(n):
            day = start + dt.timedelta(days=i % 200)
            spec = ClockSpec(
                rule="request_reply",
                start=day.isoformat(),
                region="guangxi",
                met_on=(day + dt.timedelta(days=25)).isoformat(),
            )
            c = calc(spec)
            clock = ClockSnapshot(
                rule=spec.rule,
                start=spec.start,
                due=c.due,
                due_instant=c.due_instant,
                state="missed" if c.late else "met",
                met_on=spec.met_on,
                lateness_working_days=c.lateness_working_days,
                provisional=c.provisional != flip,
                region=spec.region,
                explanation=c.explanation,
            )
            snap = ItemSnapshot(id=f"R{i:06d}", type="request", department="qz-fgw", state="closed", version=1)
            save_snapshot(s, snap.model_copy(update={"clocks": [clock]}), commit=False)
        s.commit()


def _pass() -> tuple[int, int, float]:
    from activities.clocks import ReprojectRequest
    from activities.store import reproject_closed

    t, after, items, changed = time.perf_counter(), None, 0, 0
    while True:
        page = reproject_closed(ReprojectRequest(reason="bench", after=after))
        items, changed = items + page.items, changed + page.changed
        if page.next_after is None:
            return items, changed, time.perf_counter() - t
        after = page.next_after


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=20_000)
    args = ap.parse_args()
    for flip, label in ((False, "nothing changed"), (True, "every clock changed")):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["SHIXIAN_DATA_DIR"] = tmp
            os.environ.pop("DATABASE_URL", None)
            from store.db import get_engine

            get_engine.cache_clear()
            n = args.items if not flip else max(1, args.items // 10)
            _store(n, flip)
            items, changed, secs = _pass()
            print(
                f"{label}: {items} items, {changed} changed, {secs:.2f} s ({1000 * secs / max(items, 1):.2f} ms/item)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
