"""Reports at a province's size (issue 20 §3): the read model filled with 300,000 items (half information
requests, half policy documents, over three years) of 4,000 departments in a generated province of 120 nodes
(1 province, 14 cities, 105 counties; jurisdictions.toml and departments.toml written into the benchmark's
config dir), then timed on SQLite and (with --pg URL or DATABASE_URL_TEST) on PostgreSQL: the board page, the
board and the scores of the province node (every department: no filter), of a city node (its own and its
counties' departments) and of a county node, the overdue list, a year's scores, and the annual report of a
city government. Goal: each < 1 s on the 2-core reference machine. Baseline, measured in the same run: reading
every clock's scoring columns once, the floor of any report that touches every clock. Clocks carry real
explanations (~4 KB of JSON each, as the workflows store them). Best of 3 after a warm-up.

Usage: .venv/bin/python benchmarks/bench_reports.py [--items 300000] [--departments 4000] [--pg URL]
       [--no-sqlite] [--keep DIR]   (--keep: fill once into DIR, later runs with the same shape reuse it)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUTCOMES = ["granted"] * 5 + [
    "partially_granted",
    "unavailable.not_held",
    "withheld.third_party_rights",
    "not_processed.duplicate",
    "other.other",
]


PROVINCE, CITIES, COUNTIES = 1, 14, 105  # 120 nodes in three levels, as a large province


def province_nodes() -> list[tuple[str, str, str, str | None, str | None]]:
    """(id, name, level, parent, calendar) of 1 province, 14 cities and 105 counties (7 or 8 per city); every
    third city works on the guangxi overlay (壮族三月三), the rest on the national arrangement."""
    nodes: list[tuple[str, str, str, str | None, str | None]] = [("p", "基准自治区", "province", None, None)]
    cities = [f"c{c:02d}" for c in range(CITIES)]
    for c, cid in enumerate(cities):
        nodes.append((cid, f"基准{c:02d}市", "city", "p", "guangxi" if c % 3 == 0 else None))
    for k in range(COUNTIES):
        parent = cities[k * CITIES // COUNTIES]
        nodes.append((f"{parent}k{k:03d}", f"基准{k:03d}县", "county", parent, None))
    return nodes


def make_config(target: Path, departments: int) -> dict[str, list[str]]:
    """A province-shaped jurisdictions.toml and departments.toml (`departments` spread over the 120 nodes, each
    node's first one its government office); returns node id -> its own department ids, in file order."""
    shutil.copytree(ROOT / "config", target)
    nodes = province_nodes()
    per = [departments // len(nodes)] * len(nodes)
    for k in range(departments - sum(per)):
        per[k] += 1
    jl = ["# benchmark: a generated province (benchmarks/bench_reports.py)\n"]
    for n, (nid, name, level, parent, cal) in enumerate(nodes):
        code = f"{45 + n // 100:02d}{n % 100:02d}00" if level != "county" else f"45{n % 100:02d}{n // 100 + 21:02d}"
        jl.append(f'[[node]]\nid = "{nid}"\nname = "{name}"\nlevel = "{level}"\ncode = "{code}"\n')
        if parent:
            jl.append(f'parent = "{parent}"\n')
        if cal:
            jl.append(f'calendar = "{cal}"\n')
        jl.append("\n")
    (target / "jurisdictions.toml").write_text("".join(jl), encoding="utf-8")
    lines = ["# benchmark: generated departments\n"]
    own: dict[str, list[str]] = {}
    i = 0
    for (nid, name, _, _, _), count in zip(nodes, per, strict=True):
        for k in range(count):
            d = f"d{i:04d}"
            own.setdefault(nid, []).append(d)
            lines.append(f'[[department]]\nid = "{d}"\nname = "{name}测试部门{k:02d}"\nnode = "{nid}"\n')
            if k == 0:
                lines.append('annual_reports = ["department", "government"]\n')
            lines.append("\n")
            i += 1
    (target / "departments.toml").write_text("".join(lines), encoding="utf-8")
    return own


def fill(url: str, n_items: int, depts: list[str], seed: int = 11) -> None:
    from sqlalchemy import insert

    from domain.clocks import compute, parse_start
    from domain.engine import engine as clock_engine
    from domain.flags import flag_bits
    from domain.shanghai import SHANGHAI
    from store.db import get_engine, init_db
    from store.events import event_record_from
    from store.models import Clock, EventRecord, Item

    rng = random.Random(seed)
    lag_rng = random.Random(seed + 1)  # its own stream: the items stay those of earlier runs
    eng = init_db(get_engine(url))
    ce = clock_engine()
    rules = ce.rules
    now = dt.datetime.now(dt.UTC)
    today = dt.date(2026, 11, 20)
    first = dt.date(2024, 1, 2).toordinal()
    items, clocks, events = [], [], []
    regions = {d: ce.directory.region_of(d) for d in depts}  # the node's calendar

    def flush(force=False):
        if len(items) >= 5000 or (force and items):
            with eng.begin() as c:
                c.execute(insert(Item.__table__), items)
                c.execute(insert(Clock.__table__), clocks)
                c.execute(insert(EventRecord.__table__), events)
            items.clear()
            clocks.clear()
            events.clear()

    cache: dict = {}

    def explained(rule: str, start: dt.date, region: str):
        # the real explanation (~4 KB of JSON per clock, as the workflow stores it), once per distinct start
        key = (rule, start, region)
        if key not in cache:
            cache[key] = compute(rules[rule], parse_start(start.isoformat()), ce.calendar, region, explain=True)
        return cache[key]

    columns = [c.name for c in EventRecord.__table__.columns]

    def log(ev: dict, dept: str) -> None:
        # the row the store's own writer builds (content hash, report columns, occurred_on); starts registered by
        # the department with a registration lag (0-10 working days, 登记滞后 past 3), as save_item writes them
        extra = {}
        if ev.get("type") in ("request.received", "document.signed"):
            lag = lag_rng.choice((0, 0, 0, 1, 1, 2, 3, 5, 10))
            extra = {"recorded_role": "liaison", "lag_working_days": lag, "registration_late": lag > 3}
        rec = event_record_from(ev, department=dept, ingested_at=now, **extra)
        events.append({c: getattr(rec, c) for c in columns})

    for i in range(n_items):
        dept = depts[i % len(depts)]
        region = regions[dept]
        start = dt.date.fromordinal(rng.randint(first, today.toordinal() - 1))
        if i % 2 == 0:
            iid, typ, rule = f"YSQ-{i:06d}", "request", "request_reply"
        else:
            iid, typ, rule = f"WJ-{i:06d}", "document", "policy_publication"
        due = explained(rule, start, region)
        due_day = dt.date.fromisoformat(due.due_iso()[:10])
        r = rng.random()
        if due_day < today and r < 0.97 or r < 0.6:  # mostly met: 7 % of those late, the rest open
            late = rng.random() < 0.07
            met = (
                ce.calendar.add_working_days(due_day, rng.randint(1, 15), region)
                if late
                else ce.calendar.subtract_working_days(due_day, rng.randint(0, 10), region)
            )
            met = max(met, start + dt.timedelta(days=1))
            if met > today:
                met = None
        else:
            met = None
        state = "closed" if met else "open"
        items.append(
            dict(
                id=iid,
                type=typ,
                department=dept,
                title=f"事项 {iid}",
                state=state,
                version=2 if met else 1,
                data={"region": region},
                flags=flag_bits(typ, {"region": region}),  # as store.items.save_snapshot writes it
                created_at=now,
                updated_at=now,
            )
        )
        lateness = None
        if met:
            lateness = ce.calendar.working_days_between(due_day, met, region) if met > due_day else 0
        clocks.append(
            dict(
                item_id=iid,
                rule=rule,
                region=region,
                start=start.isoformat(),
                due=due_day.isoformat(),
                due_instant=dt.datetime.combine(due_day, dt.time(23, 59, 59), SHANGHAI),
                state="met" if met else "open",
                met_on=met.isoformat() if met else None,
                lateness_working_days=lateness,
                provisional=due.provisional,
                paused_days=0,
                ladder_step=None,
                explanation=due.explanation,
                summary=due.explanation.get("summary"),
                updated_at=now,
            )
        )
        if typ == "request":
            ev = {
                "event_id": f"{iid}-r",
                "type": "request.received",
                "request_id": iid,
                "department": dept,
                "channel": "online",
                "received_on": start.isoformat(),
                "applicant_type": "natural_person",
                "subject": "基准",
            }
            log(ev, dept)
            if met:
                ev = {
                    "event_id": f"{iid}-a",
                    "type": "request.replied",
                    "request_id": iid,
                    "on": met.isoformat(),
                    "outcome": rng.choice(OUTCOMES),
                }
                log(ev, dept)
        else:
            ev = {
                "event_id": f"{iid}-s",
                "type": "document.signed",
                "document_id": iid,
                "department": dept,
                "title": f"文件 {iid}",
                "kind": "policy",
                "signed_on": start.isoformat(),
                "disclosure": "public",
                "needs_interpretation": False,
            }
            log(ev, dept)
            if met:
                ev = {
                    "event_id": f"{iid}-p",
                    "type": "document.published",
                    "document_id": iid,
                    "published_on": met.isoformat(),
                    "url": f"https://example.gov.cn/{iid}",
                    "channel": "website",
                }
                log(ev, dept)
        flush()
    flush(force=True)


def timed(label: str, fn, runs: int = 3) -> float:
    fn()  # warm: first-use imports, template compilation, calendar index
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(
    url: str, label: str, n_items: int, depts: list[str], own: dict[str, list[str]], *, refill: bool = True, filled=None
) -> list[tuple[str, float]]:
    from sqlalchemy import text
    from starlette.testclient import TestClient

    from app.web.server import create_app
    from services import views as A
    from services.scores import period_scores
    from store.db import get_engine

    os.environ["DATABASE_URL"] = url
    get_engine.cache_clear()
    eng = get_engine(url)
    if refill:
        t0 = time.perf_counter()
        fill(url, n_items, depts)
        print(f"[{label}] filled {n_items:,} items in {time.perf_counter() - t0:.0f} s", flush=True)
        if filled is not None:
            filled()
    else:
        from store.db import init_db

        init_db(eng)  # a kept database: bring its schema (indexes) up to date
    if eng.dialect.name == "postgresql":
        # What autovacuum does after a bulk load within a minute or so (or not, while the benchmark runs): the
        # visibility map lets the reports' covering indexes answer without visiting the table. Autovacuum's own
        # analyze of the fresh rows can hold back what a VACUUM may mark visible: vacuum again until it is done.
        visible = text(
            "select coalesce(sum(relallvisible)::float / nullif(sum(relpages), 0), 1) from pg_class"
            " where relname in ('event_record', 'clock', 'item')"
        )
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for _ in range(10):
                c.execute(text("VACUUM ANALYZE"))
                if c.execute(visible).scalar_one() > 0.99:
                    break
                time.sleep(1)
    else:
        with eng.connect() as c:
            c.execute(text("ANALYZE"))
            c.commit()
    as_of = dt.date(2026, 11, 20)
    from domain.scoring import parse_period

    year = parse_period("2025")
    client = TestClient(create_app(None, open_pages=True))

    def baseline():
        # every clock's scoring columns, once: the floor of any report that looks at every clock (not
        # SELECT *: the ~4 KB explanations would make the floor, and so the ratios, meaningless)
        with eng.connect() as c:
            c.execute(text("SELECT item_id, rule, due, state, met_on FROM clock")).fetchall()

    def registration(period):
        # the registration-lag figures and the 明细's start / 代录 columns of a year (what the xlsx export adds)
        from services.scores import annotate_registration, fresh_scores
        from store.db import session

        with session() as s:
            res = fresh_scores(s, period, as_of)
            t0 = time.perf_counter()
            annotate_registration(s, res, period, recordings=True)
            return time.perf_counter() - t0

    def checks(period):
        # #17 §4's request checks of a year (the scores page and the API/xlsx add them)
        from services.scores import request_checks
        from store.db import session

        with session() as s:
            request_checks(s, period)

    def board(node: str | None = None):
        def get():
            params = {"as_of": as_of.isoformat(), **({"node": node} if node else {})}
            r = client.get("/", params=params)
            assert r.status_code == 200, r.text[:500]

        return get

    # Node scoping: a node's board and scores are the board and scores over its subtree's departments; the
    # province (the root) is every department, so no filter at all.
    from domain.engine import engine as clock_engine

    directory = clock_engine().directory
    city = "c01"
    county = next(n for n in own if n.startswith(city + "k"))
    scopes = {
        "province": None,
        "city": frozenset(directory.departments_in(city)),
        "county": frozenset(directory.departments_in(county)),
    }
    sizes = {k: len(v) if v is not None else len(depts) for k, v in scopes.items()}
    print(
        f"[{label}] departments: province {sizes['province']}, city {city} {sizes['city']}, county"
        f" {county} {sizes['county']}",
        flush=True,
    )

    def node_board(deps, node):  # the board with the node's roll-up per child node and own department
        return lambda: A.board_view(as_of, deps, node=node)

    quarter = parse_period("2026-Q4")

    def quarter_scores():
        return period_scores(quarter, as_of, None)

    def node_scores(deps, details="all"):  # "all": the API and the xlsx; "deducted": the scores page's rows
        return lambda: period_scores(year, as_of, deps, details=details)

    results = [
        ("baseline: read every clock row", timed("baseline", baseline)),
        ("board page (GET /, the province)", timed("board", board())),
        (f"board page (GET /?node={city}, a city)", timed("board", board(city))),
        ("board of the province node", timed("board", node_board(scopes["province"], None))),
        (f"board of a city node ({sizes['city']} depts)", timed("board", node_board(scopes["city"], city))),
        (
            f"board of a county node ({sizes['county']} depts)",
            timed("board", node_board(scopes["county"], county)),
        ),
        ("overdue list (all rows)", timed("overdue", lambda: A.overdue_views(as_of, None))),
        ("overdue list of the city node", timed("overdue", lambda: A.overdue_views(as_of, scopes["city"]))),
        ("scores 2026-Q4 (the page's default), province", timed("scores", quarter_scores)),
        ("scores 2025, province node (page)", timed("scores", node_scores(scopes["province"], "deducted"))),
        ("scores 2025, city node (page)", timed("scores", node_scores(scopes["city"], "deducted"))),
        ("scores 2025, county node (page)", timed("scores", node_scores(scopes["county"], "deducted"))),
        ("scores 2025, province (API: every 明细 row)", timed("scores", node_scores(scopes["province"]))),
        ("scores 2025, city node (API)", timed("scores", node_scores(scopes["city"]))),
        ("registration lag + 明细 columns (xlsx)", min(registration(year) for _ in range(3))),
        ("request checks of a year (§4 counts)", timed("checks", lambda: checks(year))),
        ("annual report 2025, all (tables 二/三/四)", timed("report", lambda: A.annual_report_data(2025, None))),
        (
            f"annual report 2025 of city {city}'s government",
            timed("report", lambda: A.annual_report_data(2025, own[city][0], government=True)),
        ),
    ]
    base = results[0][1]
    for name, secs in results:
        goal = "" if name.startswith("baseline") else ("  ok (< 1 s)" if secs < 1 else "  OVER the 1 s goal")
        print(f"[{label}] {name:<44} {secs * 1000:8.0f} ms  {secs / base:6.1f}x baseline{goal}", flush=True)
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=300_000)
    ap.add_argument("--departments", type=int, default=4_000)
    ap.add_argument("--pg", default=os.environ.get("DATABASE_URL_TEST"), help="PostgreSQL URL (an empty database)")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument(
        "--keep",
        type=Path,
        help="a directory to keep the filled SQLite database (and reuse the PostgreSQL one) in between runs",
    )
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="shixian-bench-reports-"))
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ["SHIXIAN_DATA_DIR"] = str(tmp / "data")
    os.environ["SHIXIAN_CONFIG_DIR"] = str(tmp / "config")
    shutil.rmtree(tmp / "config", ignore_errors=True)
    own = make_config(tmp / "config", args.departments)
    depts = [d for ids in own.values() for d in ids]
    # items go round the departments in an order mixing the nodes, as a province's intake does
    depts = depts[::2] + depts[1::2]
    stamp = f"{args.items} items, {args.departments} departments"

    def kept(kind: str) -> bool:  # the database of an earlier --keep run with the same shape
        marker = tmp / f"filled-{kind}"
        return bool(args.keep) and marker.exists() and marker.read_text() == stamp

    def mark(kind: str) -> None:
        if args.keep:
            (tmp / f"filled-{kind}").write_text(stamp)

    try:
        if not args.no_sqlite:
            db = tmp / "reports.db"
            refill = not (kept("sqlite") and db.exists())
            if refill:
                db.unlink(missing_ok=True)
            measure(f"sqlite:///{db}", "sqlite", args.items, depts, own, refill=refill, filled=lambda: mark("sqlite"))
        if args.pg:
            from sqlalchemy import create_engine, text

            refill = not kept("pg")
            if refill:
                e = create_engine(args.pg)
                with e.begin() as c:  # a clean schema: the benchmark owns this database
                    c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
                e.dispose()
            measure(args.pg, "postgresql", args.items, depts, own, refill=refill, filled=lambda: mark("pg"))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
