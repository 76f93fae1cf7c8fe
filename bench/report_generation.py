"""Benchmark: how long the STAR status report takes with 1 000, 10 000 and 100 000 activities.

Run from the project root::

    .venv/bin/python -m bench.report_generation            # SQLite (a temporary file)
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python -m bench.report_generation        # an EMPTY PostgreSQL database

Each size gets a fresh database (``create_app`` + ``create_all``), the 5 regions and 98
municipalities, a stage history for every municipality and N activities spread evenly over
2024–2027 (8 half years, so about N/8 fall in the measured H1 2025), bulk-inserted with Core
statements so setup is quick. Timed, best of 3 after one warm-up: counting the figures
(``status_report``), the CSV, the XLSX (with its record sheets), and all three together; plus the
figures alone for the whole 2024–2027 range, where every activity is in the period. Prints a
table and writes it to ``bench/results/report_generation.txt`` (``..._postgresql.txt`` for PostgreSQL).
"""
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text

from config import TestingConfig
from crm import create_app
from crm.extensions import db
from crm.formatting import half_year_period
from crm.models import (ACTIVITY_TYPE_CODES, STAGE_CODES, Activity, FidelityReview, Municipality, Region,
                        StageChange, activity_municipality)
from crm.services.instruments import seed_ips25
from crm.services.reference import read_csv
from crm.services.report import report_to_csv, report_to_xlsx, status_report

SIZES = (1_000, 10_000, 100_000)
SPAN_START, SPAN_DAYS = date(2024, 1, 1), (date(2027, 12, 31) - date(2024, 1, 1)).days
RESULTS = Path(__file__).resolve().parent / "results" / "report_generation.txt"
REPEATS = 3
CHUNK = 10_000


def _app(url: str):
    """An app on ``url`` with the test settings (fast hashing, no CSRF)."""
    config = type("BenchConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url})
    return create_app(config)


def _load(n: int, rng: random.Random) -> None:
    """Reference data, stage histories, N activities (a third linked to 1–2 municipalities), reviews."""
    db.session.execute(insert(Region), [{"code": int(r["code"]), "name": r["name"]} for r in read_csv("regions.csv")])
    municipalities = [(int(r["code"]), int(r["region_code"])) for r in read_csv("municipalities.csv")]
    db.session.execute(insert(Municipality), [{"code": c, "name": f"Kommune {c}", "region_code": r, "version": 1}
                                              for c, r in municipalities])
    changes = []
    for code, _region in municipalities:
        on = SPAN_START + timedelta(days=rng.randrange(200))
        for stage in rng.sample(STAGE_CODES, k=rng.randint(1, 5)):
            changes.append({"municipality_code": code, "stage": stage, "effective_date": on})
            on += timedelta(days=rng.randint(20, 300))
    db.session.execute(insert(StageChange), changes)
    regions = [None, 1081, 1082, 1083, 1084, 1085]
    for first in range(0, n, CHUNK):
        rows, links = [], []
        for i in range(first, min(n, first + CHUNK)):
            kind = rng.choice(ACTIVITY_TYPE_CODES)
            rows.append({
                "id": i + 1, "type": kind, "title": f"Aktivitet {i + 1}", "version": 1,
                "start_date": SPAN_START + timedelta(days=rng.randrange(SPAN_DAYS + 1)),
                "region_code": rng.choice(regions),
                "participants": rng.randint(3, 120) if kind in ("course", "conference", "webinar") else None,
                "hours": Decimal(rng.randint(2, 8)) / 2 if kind == "supervision" else None,
            })
            if i % 3 == 0:
                for code, _region in rng.sample(municipalities, k=rng.randint(1, 2)):
                    links.append({"activity_id": i + 1, "municipality_code": code})
        db.session.execute(insert(Activity), rows)
        if links:
            db.session.execute(insert(activity_municipality), links)
    scale = seed_ips25()  # every review is scored on an instrument version (IPS-25 v1, as migrated)
    reviews = [{"municipality_code": rng.choice(municipalities)[0], "version": 1, "instrument_version_id": scale,
                "review_date": SPAN_START + timedelta(days=rng.randrange(SPAN_DAYS + 1)),
                "total": rng.choice([None, rng.randint(25, 125)])} for _ in range(max(50, n // 100))]
    db.session.execute(insert(FidelityReview), reviews)
    db.session.commit()
    db.session.execute(text("ANALYZE"))  # planner statistics, as a live database would have
    db.session.commit()


def _best(func, clock=time.perf_counter) -> float:
    """Best seconds of REPEATS runs after one warm-up run: wall-clock, or with
    ``clock=time.process_time`` this process's CPU time (steady on a machine busy with other work)."""
    func()
    times = []
    for _ in range(REPEATS):
        started = clock()
        func()
        times.append(clock() - started)
    return min(times)


def _everything(period) -> tuple[bytes, bytes]:
    """What a download of both files costs: count, then write CSV and XLSX."""
    report = status_report(*period)
    return report_to_csv(report), report_to_xlsx(report)


def _measure(n: int, url: str) -> dict:
    """Build a database with ``n`` activities on ``url`` and time the report on it."""
    app = _app(url)
    with app.app_context(), app.test_request_context():
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        _load(n, random.Random(n))
        setup = time.perf_counter() - started
        h1 = half_year_period(2025, 1)
        report = status_report(*h1)
        in_period = sum(report.value(k, "total") for k in (
            "dialogue_meetings", "workshops", "courses", "supervision_sessions", "professional_network_meetings",
            "management_network_meetings", "conferences", "webinars", "materials"))
        result = {
            "n": n, "setup": setup, "in_period": in_period,
            "figures": _best(lambda: status_report(*h1)),
            "csv": _best(lambda: report_to_csv(report)),
            "xlsx": _best(lambda: report_to_xlsx(report)),
            "all": _best(lambda: _everything(h1)),
            "all_cpu": _best(lambda: _everything(h1), time.process_time),
            "figures_all_years": _best(lambda: status_report(SPAN_START, date(2027, 12, 31))),
        }
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    return result


def main() -> int:
    """Measure every size, print the table and write it to bench/results/."""
    url_template = os.environ.get("BENCH_DATABASE_URL")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            url = url_template or f"sqlite:///{Path(tmp) / f'bench-{n}.sqlite'}"
            rows.append(_measure(n, url))
            print(f"  measured {n} activities", file=sys.stderr)
    dialect = "PostgreSQL" if url_template else "SQLite"
    lines = [
        f"STAR status report generation ({dialect}; best of {REPEATS}; H1 2025; activities spread over 2024-2027)",
        f"{'activities':>10} {'in H1':>7} {'setup s':>8} {'figures s':>10} {'csv s':>7} {'xlsx s':>7} "
        f"{'all s':>7} {'all cpu s':>10} {'figures 2024-27 s':>18}",
    ]
    for r in rows:
        lines.append(f"{r['n']:>10} {r['in_period']:>7} {r['setup']:>8.2f} {r['figures']:>10.4f} {r['csv']:>7.4f} "
                     f"{r['xlsx']:>7.4f} {r['all']:>7.4f} {r['all_cpu']:>10.4f} {r['figures_all_years']:>18.4f}")
    lines.append("'all' = figures + CSV + XLSX (the XLSX lists every counted record per region), wall-clock and "
                 "CPU time of this process; 'figures 2024-27' = counting with all N activities inside the period. "
                 f"Target: under 1 s. Load average when finished: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    output = "\n".join(lines)
    print(output)
    results = RESULTS if not url_template else RESULTS.with_name("report_generation_postgresql.txt")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(output + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
